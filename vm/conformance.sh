#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs the kernel's own HMM selftest (tools/testing/selftests/mm/hmm-tests.c,
# built unmodified by scripts/build-conformance.sh) in this VM, once against
# the kernel's test_hmm.ko and once against hmm_dummy.ko, for each THP mode in
# $CONF_THP (default "always never").  The TAP output of every run goes to the
# host, where scripts/conformance-report.sh compares them test by test.
#
# hmm_dummy is loaded with peer_migration=0: hmm-tests' migrate_mixed expects
# that a page on device 1 does not migrate to device 0 (-ENOENT), which is
# how test_hmm behaves.  Its nodes are reached through the symlinks
# /dev/hmm_dmirrorN -> /dev/hmm_dummyN: 0 and 1 private; 2 and 3 coherent,
# over the special-purpose memory the VM was booted with (vm/lib.sh,
# spm_params), so that hmm-tests' device coherent variants run too.
#
# test_hmm's coherent mode (the same spm_addr_dev0/1 parameters) is run
# last and on its own (conf-MODE-test_hmm-coherent.tap, whose coherent
# results scripts/conformance-report.sh puts in place of the skips of the
# reference's own run): on 6.1 to 7.3 it maps its one range again for a
# second chunk (WARN "Conflicting mapping in same section") and then
# dereferences the NULL page it got (Oops in dmirror_migrate_to_device), which
# ends the boot; everything else has been reported by then.
#
# CONF_SKIP: names of hmm-tests' tests to leave out (hmm-tests -T NAME).
# CONF_REFERENCE=0 (`make quick`) leaves test_hmm out: hmm_dummy's runs only,
# and the host counts a test that fails on hmm_dummy as failed (there is no
# reference to tell a bug of the kernel's own from one of hmm_dummy's).
set -eu -o pipefail
. /hmm/vm/lib.sh

CONF_THP=${CONF_THP:-always never}
CONF_REFERENCE=${CONF_REFERENCE:-1}
# CONF_COHERENT_REFERENCE=0 leaves test_hmm's coherent run out (make
# upstream-check: it ends the boot with a WARN the series does not touch).
CONF_COHERENT_REFERENCE=${CONF_COHERENT_REFERENCE:-1}
thp=/sys/kernel/mm/transparent_hugepage/enabled
# make upstream-check runs the hmm-tests of the patch series instead, and
# leaves out its reproducers (run on their own), with CONF_EXTRA_ARGS.
bin=${HMM_TESTS_BIN:-/hmm/bin/hmm-tests}

if [ ! -x $bin ]; then
	result fail conformance "hmm-tests binary missing from the initramfs"
	exit 1
fi

unload() { ! loaded "$1" || rmmod "$1"; }

# What run_suite leaves out in THP mode $1: on the debug kernel with THP
# never, benchmark_thp_migration (7.3), a benchmark of 2 to 256 MiB whose
# own limit is 120 s: under KASAN and emulation it takes about that long on
# either driver (2026-12-05: 16 MiB to the device in 287 ms on hmm_dummy,
# 292 ms on test_hmm; each timed out in one of two runs, alone or not), so
# whether it "passes" is chance, not behaviour.  It runs in every other
# mode here, and against both drivers on the fast kernel in `make bench`.
excluded_tests() # MODE
{
	local list t

	for t in ${CONF_SKIP:-}; do
		echo "-T $t"
	done
	[ "$1" = never ] && [ "$(cat /hmm/flavour 2>/dev/null)" = debug ] ||
		return 0
	# Not `$bin -l | grep -q`: under pipefail, grep -q leaving early
	# makes the lister die of SIGPIPE and the test false.  The harness
	# prints the list on stderr.
	list=$($bin -l 2>&1 || true)
	case $list in
	*benchmark_thp_migration*) echo "-T benchmark_thp_migration" ;;
	esac
}

run_suite() # TAG [HMM-TESTS OPTIONS...]
{
	local tag=$1 rc=0
	shift
	step "hmm-tests: $tag${*:+ ($*)}"
	# stdout carries the TAP stream the host parses: it is shown live and
	# kept in a file; the assertion messages on stderr are kept apart (and
	# shown after the run), so that they cannot tear a result line.
	#
	# stderr goes through `awk 'NR <= 2000'`: 6.1's kselftest harness
	# runs a fixture's teardown again when an assertion in it fails, so a
	# failing test whose teardown then fails (test_hmm's exclusive with THP
	# always) prints the same line until the 30 s timeout, millions of
	# lines, which filled /tmp and took the serial console an hour.  awk
	# keeps reading, so nothing gets SIGPIPE.
	rm -f /tmp/$tag.rc /tmp/$tag.retry /tmp/$tag.retry.err
	{ { (cd /tmp && $bin "$@" 2>&1 >&3 3>&- || echo $? >/tmp/$tag.rc) |
		awk 'NR <= 2000' >/tmp/$tag.err; } 3>&1; } | tee /tmp/$tag
	[ ! -f /tmp/$tag.rc ] || rc=$(cat /tmp/$tag.rc)
	cat /tmp/$tag.err
	echo "hmm-tests exit status $rc"
	# kselftest kills a test after 30 s, which the debug kernel under
	# emulation can exceed.  A test that timed out (and failed no
	# assertion first) is run once more on its own; the report shows the
	# retry's result as "pass*".
	for full in $(sed -n 's/^not ok [0-9]* \([^ ]*\).*/\1/p' /tmp/$tag); do
		grep -q "^# ${full##*.}: Test terminated by timeout" /tmp/$tag.err || continue
		! grep -q ":${full##*.}:Expected" /tmp/$tag.err || continue
		echo "retrying $full on its own (it timed out)"
		{ { (cd /tmp && $bin -r "$full" 2>&1 >&3 3>&-) |
			awk 'NR <= 2000' >>/tmp/$tag.retry.err; } 3>&1; } |
			tee -a /tmp/$tag.retry || true
	done
	[ ! -f /tmp/$tag.retry ] || send_file "$tag.retry" /tmp/$tag.retry
	send_file "$tag" /tmp/$tag
	grep "^# Totals" /tmp/$tag || true
}

rc=0
# hmm_dummy first, in every THP mode; then the reference.  The kernel's
# test_hmm has known bugs that splat on the debug kernel (on 7.3 a KASAN
# use-after-free in its release path when two processes exit): once
# reference_phase_begin has run, the host attributes any splat, crash or
# leak to test_hmm and reports it as a note, while hmm_dummy's results
# (all reported before) stand.
if have_module hmm_dummy; then
	for mode in $CONF_THP; do
		echo $mode >$thp
		echo "transparent_hugepage: $(cat $thp)"
		unload hmm_dummy
		# shellcheck disable=SC2046 # a list of parameters
		if insmod $MODDIR/hmm_dummy.ko peer_migration=0 $(spm_params); then
			for i in 0 1 2 3; do
				[ ! -e /dev/hmm_dummy$i ] ||
					ln -sf /dev/hmm_dummy$i /dev/hmm_dmirror$i
			done
			run_suite conf-$mode-hmm_dummy.tap $(excluded_tests $mode) ${CONF_EXTRA_ARGS:-}
			rm -f /dev/hmm_dmirror0 /dev/hmm_dmirror1 /dev/hmm_dmirror2 /dev/hmm_dmirror3
			rmmod hmm_dummy || { result fail "conformance.$mode.rmmod-hmm_dummy"; rc=1; }
		else
			result fail "conformance.$mode.insmod-hmm_dummy"
			rc=1
		fi
	done
else
	echo "hmm_dummy.ko is not in the initramfs: no hmm_dummy run"
fi
unload hmm_dummy

[ $rc = 0 ] || n_fail=$((n_fail + 1))
if [ "$CONF_REFERENCE" = 0 ]; then
	echo "CONF_REFERENCE=0: no test_hmm run" >/tmp/conf-no-reference
	send_file conf-no-reference /tmp/conf-no-reference
	echo always >$thp
	exit $rc
fi
reference_phase_begin "the hmm_dummy conformance runs"
for mode in $CONF_THP; do
	echo $mode >$thp
	echo "transparent_hugepage: $(cat $thp)"
	if insmod_test_hmm; then
		run_suite conf-$mode-test_hmm.tap $(excluded_tests $mode) ${CONF_EXTRA_ARGS:-}
		rmmod test_hmm || note "rmmod test_hmm failed (THP $mode)"
	else
		note "insmod test_hmm failed (THP $mode): no reference results"
	fi
done
# test_hmm's coherent devices, last (see the top), in the first THP mode.
# Where the harness takes options (6.12 on), test by test with -r, the
# coherent variants hmm_dummy ran: each test's line is sent to the host
# before it runs as "not ok ... ended the boot" and replaced by its result
# after, so the test that crashes the boot is named and the ones before it
# are kept.  6.1's runs everything at once (the report takes the coherent
# results only).
coherent_reference() # MODE
{
	local tap=/tmp/conf-$1-test_hmm-coherent.tap name=conf-$1-test_hmm-coherent.tap
	local t line

	: >$tap
	if ! grep -aq 'F:f:V:v:t:T:r:' $bin; then
		# shellcheck disable=SC2046 # a list of options
		run_suite $name $(excluded_tests $1) ${CONF_EXTRA_ARGS:-}
		return
	fi
	step "hmm-tests: $name (test by test)"
	for t in $(sed -n 's/^\(not \)\{0,1\}ok [0-9]* \([^ ]*_device_coherent\.[^ ]*\).*/\2/p' \
			/tmp/conf-$1-hmm_dummy.tap); do
		echo "not ok 0 $t # test_hmm ended the boot during it" >>$tap
		send_file $name $tap
		line=$(cd /tmp && $bin -r "$t" 2>&1 | tee -a /tmp/$name.log |
			grep -a "^\(not \)\{0,1\}ok [0-9]* $t\( \|$\)" | tail -n 1) || true
		sed -i '$d' $tap
		echo "${line:-not ok 0 $t # no result line}" | tee -a $tap
	done
	send_file $name $tap
	send_file $name.log /tmp/$name.log
}

spm=$(spm_params)
[ "$CONF_COHERENT_REFERENCE" = 1 ] || spm=
# shellcheck disable=SC2086 # the modes
set -- $CONF_THP
if [ -n "$spm" ] && [ $# -gt 0 ] && [ -f /tmp/conf-$1-hmm_dummy.tap ]; then
	echo "$1" >$thp
	# shellcheck disable=SC2086 # a list of parameters
	if insmod_test_hmm $spm; then
		coherent_reference "$1"
		rmmod test_hmm || note "rmmod test_hmm failed (coherent)"
	else
		note "insmod test_hmm $spm failed: no coherent reference results"
	fi
fi
echo always >$thp
exit $rc
