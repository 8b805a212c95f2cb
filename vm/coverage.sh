#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# `make coverage`, inside the VM on the gcov kernel (scripts/coverage.sh):
# which lines of the kernel's HMM core each test run reaches.  Three runs
# in one boot, the gcov counters sent to the host after each:
#   base         counters reset; `hmm_test run` without the paths_* cases
#                (tools/hmm_test/tests_paths.c) and $STRESS_SECONDS s of
#                `hmm_test stress` on hmm_dummy
#   suite        no reset: the paths_* cases, the fault injection and the
#                unload with orphan pages (as vm/check.sh does them) added
#                (the whole suite)
#   suite+conf   no reset: the kernel's hmm-tests on hmm_dummy added (THP
#                always and never)
#   test_hmm     counters reset; hmm-tests on the kernel's test_hmm (THP
#                always and never), the reference, run last so that its
#                known bugs are reported as notes (vm/lib.sh)
# The counters (.gcda, binary) travel base64-encoded as FILE blocks named
# gcda.RUN.PATH.b64, PATH being the file's absolute path in the kernel
# build tree (as the gcov file system shows it) with '/' as '%'.
set -eu -o pipefail
. /hmm/vm/lib.sh

STRESS_SECONDS=${STRESS_SECONDS:-30}
gcov=/sys/kernel/debug/gcov
thp=/sys/kernel/mm/transparent_hugepage/enabled
tool=/hmm/bin/hmm_test
bin=/hmm/bin/hmm-tests

if [ ! -d $gcov ]; then
	result fail coverage "no $gcov: this kernel has no CONFIG_GCOV_KERNEL"
	exit 1
fi

collect() # RUN
{
	local f rel n=0
	for f in $(find $gcov -name '*.gcda'); do
		rel=${f#$gcov}
		base64 "$f" >/tmp/gcda.b64
		send_file "gcda.$1.$(echo "$rel" | tr / %).b64" /tmp/gcda.b64
		n=$((n + 1))
	done
	rm -f /tmp/gcda.b64
	echo "coverage: $n counter files of run $1 sent"
	[ $n -gt 0 ]
}

hmm_tests() # TAG: the kernel's hmm-tests against /dev/hmm_dmirror[0-3]
{
	local rc=0
	step "hmm-tests: $1 (THP $(cat $thp))"
	# As in vm/conformance.sh: stderr capped, a teardown that fails in a
	# loop (6.1) must not flood the console.
	(cd /tmp && $bin 2>&1 || echo "hmm-tests exit status $?") |
		awk 'NR <= 4000' | tee /tmp/$1.tap >/dev/null
	grep -E '^(ok|not ok) |^# Totals' /tmp/$1.tap || true
	send_file "$1.tap" /tmp/$1.tap
	grep -q '^# Totals' /tmp/$1.tap || rc=1
	return $rc
}

step "coverage run 1: hmm_test run (but paths_*) + ${STRESS_SECONDS} s stress on hmm_dummy"
echo 0 >$gcov/reset
# With the coherent devices when the VM has special-purpose memory, as in
# vm/check.sh: their paths of mm/migrate_device.c and mm/memremap.c count.
# shellcheck disable=SC2046 # a list of parameters
insmod $MODDIR/hmm_dummy.ko $(spm_params)
run_result coverage.hmm_test-run.base /tmp/cov-run-base.txt $tool run --exclude paths_ || true
send_file cov-run-base.txt /tmp/cov-run-base.txt
run_result coverage.stress /tmp/stress.txt $tool stress --seconds "$STRESS_SECONDS" || true
rmmod hmm_dummy
if [ -n "$(spm_params)" ]; then
	# shellcheck disable=SC2046 # a list of parameters
	insmod $MODDIR/hmm_dummy.ko vram_mb=4 spm_mb=4 $(spm_params)
	run_result coverage.stress-coherent /tmp/stress-coherent.txt \
		$tool stress --coherent --seconds "$STRESS_SECONDS" || true
	run_result coverage.coherent-evict /tmp/coherent-evict.txt \
		$tool run coherent_evict || true
	rmmod hmm_dummy
fi
if collect base; then result pass coverage.collect.base; else result fail coverage.collect.base; fi

step "coverage run 2: + the paths_* cases"
# shellcheck disable=SC2046 # a list of parameters
insmod $MODDIR/hmm_dummy.ko $(spm_params)
run_result coverage.hmm_test-run.paths /tmp/cov-run-paths.txt $tool run paths_ || true
send_file cov-run-paths.txt /tmp/cov-run-paths.txt
# Each allocation of each command failing once, as on check's debug
# kernel: the core's own allocation-failure paths (hmm_dma_map_alloc()'s
# address list with the DMA API checker's dma_need_unmap(), the IOVA
# links' page tables under the IOMMU).
# On every device: 0 maps through the IOMMU (IOVA), 1 through the direct
# mapping with a DMA address list, the coherent ones have their own paths.
for d in 0 1 $(coherent_device); do
	[ -e /dev/hmm_dummy$d ] || continue
	firc=0
	run_logged /tmp/cov-faultinject-$d.txt $tool faultinject --device "$d" || firc=$?
	send_file cov-faultinject-$d.txt /tmp/cov-faultinject-$d.txt
	case $firc in
	0) result pass coverage.faultinject.$d ;;
	4) result skip coverage.faultinject.$d "no fault injection in this kernel" ;;
	*) result fail coverage.faultinject.$d "hmm_test faultinject exit status $firc" ;;
	esac
done
# The unload with pages only a fork child maps (as in vm/check.sh): the
# core's migrate_device_range() path.
unload_with_holder coverage.unload-orphan-pages --orphan
# A DMA mask narrower than memory (hmm_dummy0's PCI function behind the
# IOMMU): hmm_dma_map_alloc() refuses the device (vm/check.sh does the same).
if insmod $MODDIR/hmm_dummy.ko num_devices=1 dma_bits=30; then
	run_result coverage.dma-limited /tmp/cov-dma-limited.txt $tool run dma_limited || true
	rmmod hmm_dummy
else
	result fail coverage.dma-limited "insmod dma_bits=30 failed"
fi
if collect suite; then result pass coverage.collect.suite; else result fail coverage.collect.suite; fi

step "coverage run 3: + hmm-tests on hmm_dummy"
for mode in always never; do
	echo $mode >$thp
	# shellcheck disable=SC2046 # a list of parameters
	insmod $MODDIR/hmm_dummy.ko peer_migration=0 $(spm_params)
	for i in 0 1 2 3; do
		[ ! -e /dev/hmm_dummy$i ] || ln -sf /dev/hmm_dummy$i /dev/hmm_dmirror$i
	done
	if hmm_tests cov-$mode-hmm_dummy; then
		result pass coverage.hmm-tests.$mode.hmm_dummy
	else
		result fail coverage.hmm-tests.$mode.hmm_dummy "no totals line"
	fi
	rm -f /dev/hmm_dmirror0 /dev/hmm_dmirror1 /dev/hmm_dmirror2 /dev/hmm_dmirror3
	rmmod hmm_dummy
done
if collect suite+conf; then result pass coverage.collect.suite+conf; else result fail coverage.collect.suite+conf; fi

reference_phase_begin "the hmm_dummy coverage runs"
step "coverage run 4: hmm-tests on test_hmm"
echo 0 >$gcov/reset
for mode in always never; do
	echo $mode >$thp
	if insmod_test_hmm; then
		hmm_tests cov-$mode-test_hmm || note "hmm-tests on test_hmm (THP $mode) gave no totals"
		rmmod test_hmm || note "rmmod test_hmm failed (THP $mode)"
	else
		note "insmod test_hmm failed (THP $mode)"
	fi
done
echo always >$thp
collect test_hmm || note "no counters for the test_hmm run"
