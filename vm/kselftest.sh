#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# hmm_test as a kselftest, in the VM: the kernel's own runner.sh
# (/hmm/ksft/kselftest, from the test kernel's source) runs the installed
# hmm_dummy collection (/hmm/ksft/hmm_dummy, scripts/build-kselftest.sh)
# on the cases $KSFT_CASES.  hmm_dummy must be loaded.  One result,
# hmm_dummy.kselftest: the runner's "ok 1 selftests: hmm_dummy:
# hmm_test.sh" and, nested in it, hmm_test's own "# Totals:" with passes
# and no failure.  The TAP goes to the host as kselftest.tap (the host runs
# the kernel's KTAP parser on it).
# The runner uses /usr/bin/timeout with GNU options busybox lacks, so that
# is out of its way for this step (the host's time limit still holds).
set -eu
. /hmm/vm/lib.sh

KSFT_CASES=${KSFT_CASES:-"mirror_ anon_ snapshot fork_ thp_to_dev"}
out=/tmp/kselftest.tap
krc=0
mv /usr/bin/timeout /usr/bin/timeout.busybox 2>/dev/null || true
# The runner writes the tests' output to /dev/stdout, which devtmpfs alone
# does not have (a plain file of that name would swallow it).
[ -e /dev/stdout ] || ln -s /proc/self/fd/1 /dev/stdout
# runner.sh appends the tests' output to /dev/stdout: append here too.
: >$out
(
	# runner.sh is not written for set -eu.
	set +eu
	cd /hmm/ksft/hmm_dummy
	# shellcheck disable=SC2034 # read by runner.sh
	BASE_DIR=/hmm/ksft
	export KSELFTEST_HMM_TEST_SH_ARGS="$KSFT_CASES"
	. /hmm/ksft/kselftest/runner.sh
	if grep -q 'TAP version' /hmm/ksft/kselftest/runner.sh; then
		# 6.1, 6.12: run_many prints the header and the plan itself.
		run_many ./hmm_test.sh
	else
		# 7.3: the caller does, with ktap_helpers.sh.
		ktap_print_header
		ktap_set_plan 1
		run_many ./hmm_test.sh
		ktap_finished
	fi
) >>$out 2>&1 || krc=$?
mv /usr/bin/timeout.busybox /usr/bin/timeout 2>/dev/null || true
cat $out
send_file kselftest.tap $out
tot=$(grep -m1 '^# # Totals: ' $out | sed 's/^# # //' || true)
if [ $krc = 0 ] && grep -q '^ok 1 selftests: hmm_dummy: hmm_test.sh$' $out &&
	echo "$tot" | grep -Eq 'pass:[1-9][0-9]* fail:0 '; then
	result pass hmm_dummy.kselftest "$tot"
else
	result fail hmm_dummy.kselftest "runner exit status $krc; ${tot:-no Totals line}"
fi
# shellcheck disable=SC2154 # n_fail: vm/lib.sh
[ $n_fail = 0 ]
