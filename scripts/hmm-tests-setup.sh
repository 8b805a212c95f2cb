#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# hmm-tests-setup.sh [--undo] [HMM_TESTS [ARGS...]]
#
# For a real machine (as root): the set-up under which the kernel's own HMM
# selftest, hmm-tests (tools/testing/selftests/mm/hmm-tests.c of the running
# kernel, built unmodified), runs against hmm_dummy, as make check's
# conformance run sets it up in the VM (vm/conformance.sh):
#  - hmm_dummy loaded with peer_migration=0: hmm-tests' migrate_mixed
#    expects a page of device 1 migrated to device 0 to fail with -ENOENT,
#    as test_hmm does; hmm_dummy by default migrates it.  A hmm_dummy
#    loaded with peer migration on is unloaded first (which fails while its
#    devices are in use).  num_devices must be at least 2 (the default).
#  - /dev/hmm_dmirror0 and /dev/hmm_dmirror1, the nodes hmm-tests opens,
#    as symbolic links to /dev/hmm_dummy0 and /dev/hmm_dummy1.  Refused
#    when they exist and are not such links (test_hmm is loaded).
# With HMM_TESTS (the hmm-tests binary) it runs it with ARGS and removes the
# links afterwards; its exit status is this script's.  Without, it leaves
# the set-up in place; --undo removes the links (hmm_dummy stays loaded).
# HMM_DUMMY_KO=path/to/hmm_dummy.ko loads that file with insmod instead of
# `modprobe hmm_dummy` (for a module built but not installed).
set -euo pipefail
mod=/sys/module/hmm_dummy
die() { echo "!! hmm-tests-setup.sh: $*" >&2; exit 1; }
say() { echo ">> $*" >&2; }

# ours N: /dev/hmm_dmirrorN is our link to /dev/hmm_dummyN.
ours() { [ -L "/dev/hmm_dmirror$1" ] && [ "$(readlink "/dev/hmm_dmirror$1")" = "/dev/hmm_dummy$1" ]; }

unlink_nodes()
{
	local i
	for i in 0 1; do
		if ours $i; then
			rm -f /dev/hmm_dmirror$i
		fi
	done
}

case ${1:-} in
-h|--help)
	sed -n '3,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
	exit 0 ;;
--undo)
	[ $# = 1 ] || die "--undo takes no other argument"
	unlink_nodes
	exit 0 ;;
-*)
	die "unknown option $1 (--undo, --help)" ;;
esac
[ "$(id -u)" = 0 ] || die "needs root (loads a module, creates /dev/hmm_dmirror0 and 1)"
if [ $# -gt 0 ] && ! command -v "$1" >/dev/null; then
	die "$1: not an executable (the hmm-tests binary of the running kernel)"
fi

if [ -d $mod ] && [ "$(cat $mod/parameters/peer_migration)" != N ]; then
	say "hmm_dummy is loaded with peer_migration=1: unloading it"
	rmmod hmm_dummy || die "cannot unload hmm_dummy (in use?)"
fi
if [ ! -d $mod ]; then
	if [ -n "${HMM_DUMMY_KO:-}" ]; then
		say "insmod $HMM_DUMMY_KO peer_migration=0"
		insmod "$HMM_DUMMY_KO" peer_migration=0
	else
		say "modprobe hmm_dummy peer_migration=0"
		modprobe hmm_dummy peer_migration=0
	fi
	# udev creates the nodes.
	for _ in $(seq 50); do
		[ ! -e /dev/hmm_dummy1 ] || break
		sleep 0.1
	done
fi
[ "$(cat $mod/parameters/num_devices)" -ge 2 ] ||
	die "hmm_dummy has fewer than 2 devices (num_devices); hmm-tests needs two"
for i in 0 1; do
	[ -c /dev/hmm_dummy$i ] || die "no /dev/hmm_dummy$i"
	if ours $i; then
		continue
	elif [ -e /dev/hmm_dmirror$i ] || [ -L /dev/hmm_dmirror$i ]; then
		die "/dev/hmm_dmirror$i exists and is not a link to /dev/hmm_dummy$i (test_hmm loaded? rmmod test_hmm)"
	fi
	ln -s /dev/hmm_dummy$i /dev/hmm_dmirror$i
done
say "hmm_dummy (peer_migration=0) behind /dev/hmm_dmirror0 and 1"
[ $# -gt 0 ] || exit 0

rc=0
"$@" || rc=$?
unlink_nodes
exit $rc
