#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# `make quick`: only what a patch to the kernel's migration code needs, in
# one boot (no DKMS, in-tree, kselftest, stress or fuzz legs, no test_hmm):
#   1. `hmm_test run $QUICK_CASES` on hmm_dummy.ko (hmm_test's patterns)
#   2. with QUICK_HMM_TESTS=1, the kernel's own hmm-tests against hmm_dummy
#      in THP mode(s) $QUICK_THP, without the tests of $QUICK_HMM_TESTS_SKIP:
#      vm/conformance.sh with CONF_REFERENCE=0
# Every step reports through vm/lib.sh; the host adds them all up.
# shellcheck disable=SC3040 # busybox ash has pipefail
set -eu -o pipefail
# shellcheck source=vm/lib.sh
. /hmm/vm/lib.sh

QUICK_CASES=${QUICK_CASES:-}
QUICK_HMM_TESTS=${QUICK_HMM_TESTS:-1}
QUICK_THP=${QUICK_THP:-always}
QUICK_HMM_TESTS_SKIP=${QUICK_HMM_TESTS_SKIP:-}
tool=/hmm/bin/hmm_test
# The guest's uptime, for the time each part takes.
up() { echo "uptime $(cut -d' ' -f1 /proc/uptime) s"; }

if [ -n "$QUICK_CASES" ]; then
	step "load hmm_dummy"
	if ! have_module hmm_dummy; then
		result fail hmm_dummy.load "hmm_dummy.ko is not in the initramfs (not built?)"
	elif insmod "$MODDIR/hmm_dummy.ko"; then
		step "hmm_test run $QUICK_CASES ($(up))"
		# shellcheck disable=SC2086 # a list of patterns
		run_logged /tmp/hmm_test-run.txt $tool run $QUICK_CASES || true
		send_file hmm_test-run.txt /tmp/hmm_test-run.txt
		rmmod hmm_dummy || result fail hmm_dummy.unload "rmmod failed"
	else
		result fail hmm_dummy.load "insmod failed"
	fi
fi

if [ "$QUICK_HMM_TESTS" = 1 ]; then
	step "hmm-tests (THP $QUICK_THP; $(up))"
	CONF_THP=$QUICK_THP CONF_SKIP=$QUICK_HMM_TESTS_SKIP CONF_REFERENCE=0 sh /hmm/vm/conformance.sh || n_fail=$((n_fail + 1))
fi
step "done ($(up))"
dmesg | grep -i 'ksrc\|hmm_dummy' | tail -n 5 || true
[ "$n_fail" = 0 ]
