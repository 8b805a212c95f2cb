#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`: migration throughput on the fast kernel (issue 11, paths
# P1-P5).  hmm_dummy.ko and the kernel's test_hmm.ko are loaded side by
# side and `hmm_test bench` measures both, and memcpy, with THP buffers and
# with 4 KiB pages (P1-P4).  Then the kernel's own hmm-tests
# benchmark_thp_migration runs against test_hmm and against hmm_dummy
# (peer_migration=0, reached through /dev/hmm_dmirror0, as in
# vm/conformance.sh), and P5 (eviction-bound) with hmm_dummy reloaded with
# vram_mb=$BENCH_P5_VRAM_MB, and last hmm_dummy's paths with the copy engine
# in each mode (copy_engine=sync, then async).  Everything goes to the host, into
# results/bench-DATE/ (scripts/bench-report.sh turns it into the report,
# the plot and the comparison with results/bench-baseline.csv).
set -eu -o pipefail
. /hmm/vm/lib.sh

BENCH_ARGS=${BENCH_ARGS:-}
BENCH_P5_VRAM_MB=${BENCH_P5_VRAM_MB:-32}
BENCH_HMM_TESTS=${BENCH_HMM_TESTS:-1}
bin=/hmm/bin/hmm-tests
rc=0

uptime >/tmp/bench-load.txt
echo "THP: $(cat /sys/kernel/mm/transparent_hugepage/enabled)" >>/tmp/bench-load.txt
step "insmod hmm_dummy.ko test_hmm.ko"
insmod $MODDIR/hmm_dummy.ko
insmod $MODDIR/test_hmm.ko
step "hmm_test bench $BENCH_ARGS"
# shellcheck disable=SC2086
run_logged /tmp/bench.txt hmm_test bench --csv /tmp/bench.csv $BENCH_ARGS || rc=$?
# The measurement behind fault_window's default.
run_logged /tmp/bench-windows.txt hmm_test bench --windows 1,4,16,32 --reps 3 || rc=$?
cat /tmp/bench-windows.txt >>/tmp/bench.txt

# hmm-tests' own benchmark, test_hmm first (it is loaded), then hmm_dummy.
hmm_tests_bench() # TAG
{
	step "hmm-tests benchmark_thp_migration: $1"
	(cd /tmp && $bin -r hmm.hmm_device_private.benchmark_thp_migration) >/tmp/hmm-tests-$1.txt 2>&1 ||
		echo "hmm-tests exit status $?" >>/tmp/hmm-tests-$1.txt
	cat /tmp/hmm-tests-$1.txt
	{ echo "== $1"; cat /tmp/hmm-tests-$1.txt; } >>/tmp/hmm-tests-bench.txt
}
: >/tmp/hmm-tests-bench.txt
if [ "$BENCH_HMM_TESTS" = 1 ] && [ -x $bin ]; then
	hmm_tests_bench test_hmm
fi
rmmod test_hmm
rmmod hmm_dummy
if [ "$BENCH_HMM_TESTS" = 1 ] && [ -x $bin ]; then
	insmod $MODDIR/hmm_dummy.ko peer_migration=0
	ln -sf /dev/hmm_dummy0 /dev/hmm_dmirror0
	ln -sf /dev/hmm_dummy1 /dev/hmm_dmirror1
	hmm_tests_bench hmm_dummy
	rm -f /dev/hmm_dmirror0 /dev/hmm_dmirror1
	rmmod hmm_dummy
fi

step "P5: hmm_dummy vram_mb=$BENCH_P5_VRAM_MB, working set twice that"
insmod $MODDIR/hmm_dummy.ko vram_mb="$BENCH_P5_VRAM_MB"
run_logged /tmp/bench-p5.txt hmm_test bench --p5 --csv /tmp/bench-p5.csv || rc=$?
cat /tmp/bench-p5.txt >>/tmp/bench.txt
rmmod hmm_dummy

# The copy engine: the same hmm_dummy paths with copy_engine=sync and
# =async in this VM (hmm_dummy alone), in the order sync, async, async,
# sync: a drift over the run (the VM's memory fragmenting, the host's load)
# then weighs on both modes alike.  Paths where both modes run the same
# code (THP migrations, CPU faults: their jobs run in the submitter either
# way) measured 0.88-0.93 at 32 MiB with one run of each, sync first.
step "copy engine: async against sync"
run=0
for mode in sync async async sync; do
	run=$((run + 1))
	insmod $MODDIR/hmm_dummy.ko copy_engine=$mode
	run_logged /tmp/bench-engine-$run.txt hmm_test bench --no-p4 \
		--max-size "${BENCH_ENGINE_MAX_SIZE:-32M}" \
		--csv /tmp/bench-engine-$mode-$run.csv || rc=$?
	rmmod hmm_dummy
done
{
	echo
	echo "copy engine: hmm_dummy MiB/s, runs sync, async, async, sync; per mode the mean of its two medians [lowest-highest of its 10 reps], async / sync"
	awk -F, 'FNR == 1 { next }
		{ k = $1 " " $2 " " $3; mk = ((FILENAME ~ /-async-/) ? "a " : "s ") k
		  sum[mk] += $5; n[mk]++
		  if (!(mk in lo) || $6 < lo[mk]) lo[mk] = $6
		  if (!(mk in hi) || $7 > hi[mk]) hi[mk] = $7
		  if (!(k in seen)) { seen[k] = 1; order[++nk] = k; f1[k] = $1; f2[k] = $2; f3[k] = $3 } }
		END { for (i = 1; i <= nk; i++) { k = order[i]; sk = "s " k; ak = "a " k
			if (!n[sk] || !n[ak]) continue
			s = sum[sk] / n[sk]; a = sum[ak] / n[ak]
			printf "%-4s %-7s %4d MiB  sync %8.1f [%8.1f-%8.1f]  async %8.1f [%8.1f-%8.1f]  x%.2f\n", f1[k], f2[k], f3[k] / 1048576, s, lo[sk], hi[sk], a, lo[ak], hi[ak], a / s } }' \
		/tmp/bench-engine-sync-1.csv /tmp/bench-engine-async-2.csv \
		/tmp/bench-engine-async-3.csv /tmp/bench-engine-sync-4.csv
} >/tmp/bench-engine.txt
cat /tmp/bench-engine.txt
cat /tmp/bench-engine.txt >>/tmp/bench.txt
uptime >>/tmp/bench-load.txt

send_file bench.txt /tmp/bench.txt
send_file bench-load.txt /tmp/bench-load.txt
send_file hmm-tests-bench.txt /tmp/hmm-tests-bench.txt
if [ $rc = 0 ] && [ -s /tmp/bench.csv ] && [ -s /tmp/bench-p5.csv ]; then
	tail -n +2 /tmp/bench-p5.csv >>/tmp/bench.csv
	send_file bench.csv /tmp/bench.csv
	result pass bench
else
	[ ! -s /tmp/bench.csv ] || send_file bench.csv /tmp/bench.csv
	result fail bench "hmm_test bench exit status $rc"
fi
[ $n_fail = 0 ]
