#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`: `hmm_test bench` on the fast kernel with hmm_dummy.ko and the
# kernel's test_hmm.ko loaded side by side (the tool measures both, and
# memcpy).  The CSV goes to the host, into results/bench-DATE/bench.csv.
set -eu -o pipefail
. /hmm/vm/lib.sh

BENCH_ARGS=${BENCH_ARGS:-}

step "insmod hmm_dummy.ko test_hmm.ko"
insmod $MODDIR/hmm_dummy.ko
insmod $MODDIR/test_hmm.ko
step "hmm_test bench $BENCH_ARGS"
rc=0
# shellcheck disable=SC2086
run_logged /tmp/bench.txt hmm_test bench --csv /tmp/bench.csv $BENCH_ARGS || rc=$?
# The measurement behind fault_window's default.
run_logged /tmp/bench-windows.txt hmm_test bench --windows 1,2,4,8,16,32 || rc=$?
cat /tmp/bench-windows.txt >>/tmp/bench.txt
send_file bench.txt /tmp/bench.txt
if [ $rc = 0 ] && [ -s /tmp/bench.csv ]; then
	send_file bench.csv /tmp/bench.csv
	result pass bench
else
	result fail bench "hmm_test bench exit status $rc"
fi
rmmod test_hmm
rmmod hmm_dummy
[ $n_fail = 0 ]
