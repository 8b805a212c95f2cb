#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# busybox sh has local; insmod_test_hmm takes module parameters, none here.
# shellcheck disable=SC3043,SC2119
#
# upstream.sh TEST [RUNS]: one reproducer of the patch series in patches/
# (`make upstream-check`, scripts/upstream-check.sh), run in this VM with
# the series' hmm-tests (/hmm/bin/hmm-tests-series, TEST as FIXTURE.VARIANT.
# NAME for its -r), first against hmm_dummy.ko (peer_migration=0, the
# /dev/hmm_dmirror links, as vm/conformance.sh does), then against the
# kernel's test_hmm.ko, whose bugs some reproducers trigger and which may
# therefore crash the boot: it runs last.
#
# Each driver's part is framed on the console by
#   UPSTREAM_CHECK_BEGIN DRIVER / UPSTREAM_CHECK_END DRIVER
# (the host looks for splats between them; a missing END is a crash), and
# its TAP output goes to the host as the file repro-DRIVER.tap.  The test
# runs up to RUNS times (default 1) and stops at its first failure: a race
# that needs a few tries on the stock kernel must pass every time patched.
set -u
# shellcheck source=vm/lib.sh
. /hmm/vm/lib.sh

test=${1:?usage: upstream.sh FIXTURE.VARIANT.TEST [RUNS]}
runs=${2:-1}
bin=/hmm/bin/hmm-tests-series

run_one() # DRIVER
{
	local i=1 out="/tmp/repro-$1.tap"

	: >"$out"
	echo "UPSTREAM_CHECK_BEGIN $1"
	while [ "$i" -le "$runs" ]; do
		step "$test against $1, run $i of $runs"
		(cd /tmp && "$bin" -r "$test" >"$out.run" 2>"/tmp/repro-$1.err") || true
		cat "$out.run" "/tmp/repro-$1.err"
		cat "$out.run" >>"$out"
		grep -q '^not ok ' "$out.run" && break
		grep -q '^ok ' "$out.run" || break
		i=$((i + 1))
	done
}

if [ ! -x "$bin" ]; then
	echo "UPSTREAM_CHECK_ERROR $bin missing from the initramfs"
	exit 1
fi

if insmod "$MODDIR/hmm_dummy.ko" peer_migration=0; then
	ln -sf /dev/hmm_dummy0 /dev/hmm_dmirror0
	ln -sf /dev/hmm_dummy1 /dev/hmm_dmirror1
	run_one hmm_dummy
	rm -f /dev/hmm_dmirror0 /dev/hmm_dmirror1
	send_file repro-hmm_dummy.tap /tmp/repro-hmm_dummy.tap
	rmmod hmm_dummy || echo "rmmod hmm_dummy failed"
	echo "UPSTREAM_CHECK_END hmm_dummy"
else
	echo "UPSTREAM_CHECK_ERROR insmod hmm_dummy failed"
fi

if insmod_test_hmm; then
	run_one test_hmm
	send_file repro-test_hmm.tap /tmp/repro-test_hmm.tap
	rmmod test_hmm || echo "rmmod test_hmm failed"
	echo "UPSTREAM_CHECK_END test_hmm"
else
	echo "UPSTREAM_CHECK_ERROR insmod test_hmm failed"
fi
exit 0
