#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The test suite of `make check`, run inside the VM on the debug kernel:
#   1. load hmm_dummy.ko
#   2. `hmm_test run` (KTAP; its last line is "N passed, N failed, N skipped")
#   3. the unload tests: memory still on the device when the module goes
#      away (private memory, pages only a fork child maps, coherent memory)
#   4. a short stress run, the ioctl fuzzer, fault injection (debug kernel:
#      each allocation of each command fails once, on device 0 and on the
#      first coherent device), each step of module init failing once, a
#      stress run on two tiny devices and one on the two tiny coherent
#      devices (eviction on nearly every allocation) and, on those,
#      evictions racing process exit and the eviction cases that fill the
#      whole device (coherent_evict included)
# Every load has the coherent devices when the VM has special-purpose
# memory (vm/lib.sh, spm_params).
#   5. the peer owner group: a stress on two tiny devices and the peer
#      cases, on hmm_dummy reloaded with peer_group=1; on the IOMMU legs,
#      a device with a 30-bit DMA mask (dma_bits=30: case dma_limited);
#      the other ways in: the suite through the kernel's
#      kselftest runner (runner.sh), a smoke subset on the module dkms
#      built, the whole suite
#      on the module built in tree (when the host put them in the initramfs)
#   6. unload
#   7. conformance: the kernel's hmm-tests on test_hmm.ko and on hmm_dummy.ko
# Every step reports through vm/lib.sh; the host adds them all up.
set -eu -o pipefail
. /hmm/vm/lib.sh

STRESS_SECONDS=${STRESS_SECONDS:-30}
FUZZ_CALLS=${FUZZ_CALLS:-100000}
tool=/hmm/bin/hmm_test
# Module parameters of this leg (the copy engine's mode), and those of the
# in-tree module's whole-suite run (the other mode, so that one kernel runs
# the suite in both).
# Every load has the two coherent devices when the VM has special-purpose
# memory (vm/lib.sh, spm_params): /dev/hmm_dummy2 and 3.
DUMMY_PARAMS="${HMM_DUMMY_PARAMS:-} $(spm_params)"
INTREE_PARAMS="${HMM_DUMMY_INTREE_PARAMS:-${HMM_DUMMY_PARAMS:-}} $(spm_params)"
# Cases of the kselftest run and of the DKMS smoke run (hmm_test run patterns).
KSFT_CASES=${KSFT_CASES:-"mirror_ anon_ snapshot fork_ thp_to_dev"}
DKMS_CASES=${DKMS_CASES:-"open_close info_stats anon_write migrate_fault_read migrate_back eviction_one_call exclusive"}
# Cases of the peer owner group run (hmm_dummy reloaded with peer_group=1,
# a read-only parameter): the peer_* cases and the two-device ones.
PEER_CASES=${PEER_CASES:-"peer_ snapshot migrate_peer read_peer_pages migrate_back_other_dev thp_peer paths_peer_thp"}
# Seconds of the stress on one owner group (two 4 MiB devices).
PEER_STRESS_SECONDS=${PEER_STRESS_SECONDS:-15}
# Seconds of the stress on the two coherent devices (4 MiB each).
COHERENT_STRESS_SECONDS=${COHERENT_STRESS_SECONDS:-15}

# swap_run NAME KO OUT PARAMS [PATTERN...]: `hmm_test run` on KO loaded
# (with PARAMS) in place of the harness's hmm_dummy.ko (OUT: its output),
# which is loaded back after.
# Leaves the summary line or what went wrong in $swap_why and the module's
# taint flags in /tmp/NAME.taint; returns non-zero unless the run had
# passes and no failure.
swap_run()
{
	local name=$1 ko=$2 out=$3 params=$4 rc=0
	shift 4
	swap_why=
	if loaded hmm_dummy && ! rmmod hmm_dummy; then
		swap_why="rmmod of hmm_dummy failed"
		return 1
	fi
	# shellcheck disable=SC2086 # a list of parameters
	if ! insmod "$ko" $params; then
		insmod $MODDIR/hmm_dummy.ko $DUMMY_PARAMS || true
		swap_why="insmod of the $name module failed"
		return 1
	fi
	cat /sys/module/hmm_dummy/taint >/tmp/$name.taint 2>/dev/null || true
	run_logged "$out" $tool run "$@" || true
	swap_why=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1 || true)
	case $swap_why in
	*" passed, 0 failed"*) [ "${swap_why%% *}" -gt 0 ] || rc=1 ;;
	*) rc=1; swap_why="hmm_test run: ${swap_why:-no summary line}" ;;
	esac
	if ! rmmod hmm_dummy; then
		swap_why="rmmod of the $name module failed"
		return 1
	fi
	if ! insmod $MODDIR/hmm_dummy.ko $DUMMY_PARAMS; then
		swap_why="insmod of hmm_dummy.ko after the $name module failed"
		return 1
	fi
	return $rc
}

# UNLOAD_HOOK of the slow-failing-engine unload: every copy job of
# hmm_dummy takes 20 ms, and the next three to system memory (kind 2, by
# owner) or of the unload by pfn (kind 8) fail.
slow_failing_engine()
{
	local p=/sys/module/hmm_dummy/parameters

	echo 20000 >$p/engine_latency_us && echo 10 >$p/engine_fail_kinds &&
		echo 3 >$p/engine_fail_jobs
}

step "load hmm_dummy"
if ! have_module hmm_dummy; then
	result fail hmm_dummy.load "hmm_dummy.ko is not in the initramfs (not built?)"
elif insmod $MODDIR/hmm_dummy.ko $DUMMY_PARAMS; then
	result pass hmm_dummy.load
	ls -l /dev/hmm_dummy* || true
else
	result fail hmm_dummy.load "insmod failed"
fi
# A leg booted with the IOMMU (vm-run.sh -I) is worth its time only if
# hmm_dummy0's DMA device is really translated: without it a stale DMA
# address goes unnoticed (Documentation/harness.rst, "Runner").
if [ "${HMM_DUMMY_IOMMU:-0}" = 1 ] && loaded hmm_dummy; then
	if dmesg | grep -q 'DMA device of hmm_dummy0, behind a translating IOMMU'; then
		result pass hmm_dummy.iommu "$(dmesg | grep -m1 'DMA device of hmm_dummy0' | sed 's/^\[[^]]*\] //')"
	else
		result fail hmm_dummy.iommu "vm-run.sh -I, but hmm_dummy0's DMA device is not behind a translating IOMMU"
	fi
fi

if [ ! -x $tool ]; then
	result fail hmm_test "hmm_test is not in the initramfs (not built?)"
elif loaded hmm_dummy; then
	step "hmm_test run"
	run_logged /tmp/hmm_test-run.txt $tool run || true
	send_file hmm_test-run.txt /tmp/hmm_test-run.txt

	step "unload test"
	usage=$($tool 2>&1 || true)
	if echo "$usage" | grep -q unload-holder; then
		unload_with_holder hmm_dummy.unload-with-memory-in-use
		# Pages only a fork child maps: taken back through the child.
		loaded hmm_dummy || insmod $MODDIR/hmm_dummy.ko $DUMMY_PARAMS
		unload_with_holder hmm_dummy.unload-orphan-pages --orphan
		# The same through a slow engine (20 ms a job) whose first
		# three unload copies fail: the unload waits for each job,
		# tries the failed pages again, and the holder still finds
		# every byte; the unload's message must count the 3 failures.
		loaded hmm_dummy || insmod $MODDIR/hmm_dummy.ko $DUMMY_PARAMS
		if [ -w /sys/module/hmm_dummy/parameters/engine_fail_jobs ]; then
			UNLOAD_HOOK=slow_failing_engine unload_with_holder \
				hmm_dummy.unload-slow-failing-engine --orphan
			dmesg | grep 'hmm_dummy0: all ' | tail -n 1 |
				grep -q ', 3 copy jobs failed)' ||
				result fail hmm_dummy.unload-slow-failing-engine-spent \
					"the unload did not meet the 3 injected failures"
		fi
		# The same with the pages in coherent memory (mapped by the
		# CPU as they are, taken back by eviction all the same).
		loaded hmm_dummy || insmod $MODDIR/hmm_dummy.ko $DUMMY_PARAMS
		cdev=$(coherent_device)
		[ -z "$cdev" ] ||
			unload_with_holder hmm_dummy.unload-coherent --device "$cdev"
	else
		# TODO: needs `hmm_test unload-holder` from tools/hmm_test.
		result skip hmm_dummy.unload-with-memory-in-use "TODO: hmm_test has no unload-holder yet"
	fi

	step "stress ($STRESS_SECONDS s)"
	loaded hmm_dummy || insmod $MODDIR/hmm_dummy.ko $DUMMY_PARAMS
	run_result hmm_dummy.stress /tmp/stress.txt $tool stress --seconds "$STRESS_SECONDS" || true

	step "fuzz ($FUZZ_CALLS calls)"
	frc=0
	run_logged /tmp/fuzz.txt $tool fuzz --calls "$FUZZ_CALLS" || frc=$?
	send_file fuzz.txt /tmp/fuzz.txt
	if [ $frc = 0 ]; then
		result pass hmm_dummy.fuzz "$(grep -m1 ' calls in ' /tmp/fuzz.txt | cut -c1-60)"
	else
		result fail hmm_dummy.fuzz "hmm_test fuzz exit status $frc"
	fi

	step "fault injection"
	firc=0
	run_logged /tmp/faultinject.txt $tool faultinject || firc=$?
	send_file faultinject.txt /tmp/faultinject.txt
	case $firc in
	0) result pass hmm_dummy.faultinject "$(tail -n 1 /tmp/faultinject.txt | cut -c14-60)" ;;
	4) result skip hmm_dummy.faultinject "no fault injection in this kernel (fast flavour)" ;;
	*) result fail hmm_dummy.faultinject "hmm_test faultinject exit status $firc" ;;
	esac
	# The same on the first coherent device, where the kernel has fault
	# injection (the debug flavour).
	cdev=$(coherent_device)
	if [ $firc = 0 ] && [ -n "$cdev" ]; then
		step "fault injection (coherent device $cdev)"
		firc=0
		run_logged /tmp/faultinject-coherent.txt $tool faultinject \
			--device "$cdev" || firc=$?
		send_file faultinject-coherent.txt /tmp/faultinject-coherent.txt
		if [ $firc = 0 ]; then
			result pass hmm_dummy.faultinject-coherent "$(tail -n 1 /tmp/faultinject-coherent.txt | cut -c14-60)"
		else
			result fail hmm_dummy.faultinject-coherent "hmm_test faultinject exit status $firc"
		fi
	fi

	# The init error paths: each fallible step of module init fails
	# once (the driver's inject_init_failure).  Small devices keep each
	# load short.
	step "init error paths"
	lrc=0
	if rmmod hmm_dummy; then
		run_logged /tmp/faultinject-load.txt $tool faultinject --max 100 \
			--load $MODDIR/hmm_dummy.ko --params "vram_mb=4 spm_mb=4 $DUMMY_PARAMS" || lrc=$?
		send_file faultinject-load.txt /tmp/faultinject-load.txt
		insmod $MODDIR/hmm_dummy.ko $DUMMY_PARAMS || lrc=1
	else
		lrc=1
	fi
	case $lrc in
	0) result pass hmm_dummy.init-errors "$(tail -n 1 /tmp/faultinject-load.txt | cut -c14-80)" ;;
	*) result fail hmm_dummy.init-errors "exit status $lrc" ;;
	esac

	# Eviction on nearly every allocation: two 4 MiB devices, peer
	# migration on, processes forking and exiting mid-call.
	step "eviction stress ($STRESS_SECONDS s, vram_mb=4)"
	erc=0
	xrc=0
	if rmmod hmm_dummy && insmod $MODDIR/hmm_dummy.ko vram_mb=4 spm_mb=4 $DUMMY_PARAMS; then
		run_logged /tmp/stress-evict.txt $tool stress --seconds "$STRESS_SECONDS" || erc=$?
		# The same on the two coherent devices, when there are.
		if [ -n "$(spm_params)" ]; then
			step "coherent eviction stress ($COHERENT_STRESS_SECONDS s, spm_mb=4)"
			run_logged /tmp/stress-coherent.txt $tool stress --coherent \
				--seconds "$COHERENT_STRESS_SECONDS" || erc=$?
			send_file stress-coherent.txt /tmp/stress-coherent.txt
		fi
		# Evictions racing process exit: short-lived children, six
		# times a quarter of the tiny device, so that migrations evict
		# pages of processes that are exiting (evict.c explains the
		# hazard).
		step "eviction racing exit ($STRESS_SECONDS s, vram_mb=4)"
		run_logged /tmp/exit-race.txt $tool exit-race --seconds "$STRESS_SECONDS" \
			--procs 6 --pages 256 || xrc=$?
		send_file exit-race.txt /tmp/exit-race.txt
		# The eviction cases on a device small enough for the ones
		# that fill all of it twice over (they skip on the default
		# one): owners that exited, unmapped or keep their mmap_lock
		# busy.
		step "eviction cases (vram_mb=4)"
		run_result hmm_dummy.eviction-small /tmp/eviction-small.txt \
			$tool run eviction_ coherent_evict || true
		send_file eviction-small.txt /tmp/eviction-small.txt
		rmmod hmm_dummy || erc=$?
		insmod $MODDIR/hmm_dummy.ko $DUMMY_PARAMS || erc=$?
	else
		erc=1
		xrc=1
	fi
	if [ $erc = 0 ]; then
		result pass hmm_dummy.stress-evict
	else
		result fail hmm_dummy.stress-evict "exit status $erc"
	fi
	if [ $xrc = 0 ]; then
		result pass hmm_dummy.exit-race "$(grep -m1 'children,' /tmp/exit-race.txt | cut -c12-80)"
	else
		result fail hmm_dummy.exit-race "exit status $xrc"
	fi

	# The same on one owner group: every migration to a device takes
	# the peer's pages device to device, device accesses reach them in
	# place, and evictions of one device meet pages the other device's
	# accesses use.
	step "peer owner group stress ($PEER_STRESS_SECONDS s, vram_mb=4, peer_group=1)"
	prc=0
	if rmmod hmm_dummy && insmod $MODDIR/hmm_dummy.ko vram_mb=4 spm_mb=4 peer_group=1 $DUMMY_PARAMS; then
		run_logged /tmp/stress-peer.txt $tool stress --seconds "$PEER_STRESS_SECONDS" || prc=$?
		send_file stress-peer.txt /tmp/stress-peer.txt
		rmmod hmm_dummy || prc=$?
		insmod $MODDIR/hmm_dummy.ko $DUMMY_PARAMS || prc=$?
	else
		prc=1
	fi
	if [ $prc = 0 ]; then
		result pass hmm_dummy.stress-peer-group
	else
		result fail hmm_dummy.stress-peer-group "exit status $prc"
	fi

	# A device whose DMA mask is narrower than memory must refuse to
	# access system pages (their mappings would need bounce buffers) and
	# still migrate and reach its own memory.
	# Only hmm_dummy0's PCI function behind the IOMMU can have such a
	# mask here: without ZONE_DMA the direct mapping refuses masks below
	# 32 bits, and the VM's memory ends below 4 GiB.
	if [ "${HMM_DUMMY_IOMMU:-0}" = 1 ]; then
		step "narrow DMA mask (dma_bits=30, num_devices=1)"
		drc=0
		if rmmod hmm_dummy && insmod $MODDIR/hmm_dummy.ko num_devices=1 dma_bits=30 ${HMM_DUMMY_PARAMS:-}; then
			run_logged /tmp/dma-limited.txt $tool run dma_limited || drc=$?
			send_file dma-limited.txt /tmp/dma-limited.txt
			rmmod hmm_dummy || drc=$?
			insmod $MODDIR/hmm_dummy.ko $DUMMY_PARAMS || drc=$?
		else
			drc=1
		fi
		if [ $drc != 0 ]; then
			result fail hmm_dummy.dma-limited "exit status $drc"
		elif grep -q '^ok 1 dma_limited$' /tmp/dma-limited.txt; then
			result pass hmm_dummy.dma-limited "READ, WRITE, EXCLUSIVE of system pages -EOPNOTSUPP; device memory works"
		else
			result fail hmm_dummy.dma-limited "dma_limited did not run: $(grep -m1 '^ok 1' /tmp/dma-limited.txt)"
		fi
	fi

	# The suite as a kselftest, through the kernel's own runner.sh.
	if [ -f /hmm/ksft/kselftest/runner.sh ]; then
		step "kselftest runner ($KSFT_CASES)"
		KSFT_CASES=$KSFT_CASES sh /hmm/vm/kselftest.sh || n_fail=$((n_fail + 1))
	fi

	# All devices in one pgmap owner group: peer_group is read only (the
	# owner is fixed when the device memory is registered), so a reload.
	step "peer owner group (peer_group=1): $PEER_CASES"
	# shellcheck disable=SC2086 # a list of patterns
	if swap_run peer-group $MODDIR/hmm_dummy.ko /tmp/peer-group-run.txt "$DUMMY_PARAMS peer_group=1" $PEER_CASES; then
		result pass hmm_dummy.peer-group "$swap_why"
	else
		result fail hmm_dummy.peer-group "$swap_why"
	fi
	send_file peer-group-run.txt /tmp/peer-group-run.txt

	# The module dkms built on the host (scripts/build-dkms.sh).
	if [ -n "${DKMS_ERROR:-}" ]; then
		result fail hmm_dummy.dkms "$DKMS_ERROR"
	elif have_module hmm_dummy-dkms; then
		step "DKMS-built module ($DKMS_CASES)"
		# shellcheck disable=SC2086 # a list of patterns
		if swap_run dkms $MODDIR/hmm_dummy-dkms.ko /tmp/dkms-run.txt "$DUMMY_PARAMS" $DKMS_CASES; then
			result pass hmm_dummy.dkms "${DKMS_STATUS:-}; run: $swap_why"
		else
			result fail hmm_dummy.dkms "$swap_why"
		fi
		send_file dkms-run.txt /tmp/dkms-run.txt
	fi

	# The module built in the patched kernel tree: the whole suite once.
	# An in-tree module does not taint the kernel with O (out of tree).
	if [ -n "${INTREE_ERROR:-}" ]; then
		result fail hmm_dummy.in-tree "$INTREE_ERROR"
	elif have_module hmm_dummy-intree; then
		step "in-tree module (CONFIG_HMM_DUMMY=m, ${INTREE_PARAMS:-default parameters}): hmm_test run"
		rc=0
		swap_run in-tree $MODDIR/hmm_dummy-intree.ko /tmp/intree-run.txt "$INTREE_PARAMS" || rc=$?
		send_file intree-run.txt /tmp/intree-run.txt
		if [ $rc != 0 ]; then
			result fail hmm_dummy.in-tree "$swap_why"
		elif grep -q O /tmp/in-tree.taint; then
			result fail hmm_dummy.in-tree "the module taints the kernel as out of tree ($(cat /tmp/in-tree.taint))"
		else
			result pass hmm_dummy.in-tree "${INTREE_INFO:-}; ${INTREE_PARAMS:+$INTREE_PARAMS }run: $swap_why"
		fi
	fi
fi

step "unload hmm_dummy"
if loaded hmm_dummy; then
	if rmmod hmm_dummy; then
		result pass hmm_dummy.unload
	else
		result fail hmm_dummy.unload "rmmod failed"
	fi
fi

step "conformance"
sh /hmm/vm/conformance.sh || true

[ $n_fail = 0 ]
