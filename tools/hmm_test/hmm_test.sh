#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# kselftest entry of hmm_test: loads hmm_dummy if no device node is there
# yet (skip when it cannot be loaded), then runs the suite in kselftest mode
# (KTAP; exit 0 pass, 1 fail, 4 skip).  Arguments are case patterns for
# `hmm_test run` (kselftest: KSELFTEST_HMM_TEST_SH_ARGS).
ksft_skip=4
dir=$(dirname "$0")

if [ ! -e /dev/hmm_dummy0 ] && ! modprobe -q hmm_dummy 2>/dev/null; then
	echo "1..0 # SKIP hmm_dummy is not loaded and modprobe hmm_dummy failed"
	exit $ksft_skip
fi
exec "$dir/hmm_test" run --ksft "$@"
