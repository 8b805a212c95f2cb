#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The test suite of `make check`, run inside the VM on the debug kernel:
#   1. load hmm_dummy.ko
#   2. `hmm_test run` (KTAP; its last line is "N passed, N failed, N skipped")
#   3. the unload test: memory still on the device when the module goes away
#   4. a short stress run, the ioctl fuzzer, fault injection (debug kernel:
#      each allocation of each command fails once) and a stress run on two
#      tiny devices (eviction on nearly every allocation)
#   5. unload
#   6. conformance: the kernel's hmm-tests on test_hmm.ko and on hmm_dummy.ko
# Every step reports through vm/lib.sh; the host adds them all up.
set -eu -o pipefail
. /hmm/vm/lib.sh

STRESS_SECONDS=${STRESS_SECONDS:-30}
FUZZ_CALLS=${FUZZ_CALLS:-100000}
tool=/hmm/bin/hmm_test

step "load hmm_dummy"
if ! have_module hmm_dummy; then
	result fail hmm_dummy.load "hmm_dummy.ko is not in the initramfs (not built?)"
elif insmod $MODDIR/hmm_dummy.ko; then
	result pass hmm_dummy.load
	ls -l /dev/hmm_dummy* || true
else
	result fail hmm_dummy.load "insmod failed"
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
		# The holder migrates memory to the device, creates the ready
		# file, waits until the module is gone and then checks that its
		# data came back intact.
		rm -f /tmp/holder.ready
		$tool unload-holder --ready-file /tmp/holder.ready --timeout 120 \
			>/tmp/holder.txt 2>&1 &
		holder=$!
		i=0
		while [ ! -e /tmp/holder.ready ] && kill -0 $holder 2>/dev/null &&
			[ $i -lt 1200 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		if [ ! -e /tmp/holder.ready ]; then
			kill $holder 2>/dev/null || true
			wait $holder || true
			cat /tmp/holder.txt
			result fail hmm_dummy.unload-with-memory-in-use "holder never got ready"
		elif rmmod hmm_dummy; then
			hrc=0
			wait $holder || hrc=$?
			cat /tmp/holder.txt
			if [ $hrc = 0 ]; then
				result pass hmm_dummy.unload-with-memory-in-use
			else
				result fail hmm_dummy.unload-with-memory-in-use "holder exit status $hrc"
			fi
		else
			kill $holder 2>/dev/null || true
			wait $holder || true
			cat /tmp/holder.txt
			result fail hmm_dummy.unload-with-memory-in-use "rmmod failed while memory was on the device"
		fi
	else
		# TODO: needs `hmm_test unload-holder` from tools/hmm_test.
		result skip hmm_dummy.unload-with-memory-in-use "TODO: hmm_test has no unload-holder yet"
	fi

	step "stress ($STRESS_SECONDS s)"
	loaded hmm_dummy || insmod $MODDIR/hmm_dummy.ko
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

	# Eviction on nearly every allocation: two 4 MiB devices, peer
	# migration on, processes forking and exiting mid-call.
	step "eviction stress ($STRESS_SECONDS s, vram_mb=4)"
	erc=0
	if rmmod hmm_dummy && insmod $MODDIR/hmm_dummy.ko vram_mb=4; then
		run_logged /tmp/stress-evict.txt $tool stress --seconds "$STRESS_SECONDS" || erc=$?
		rmmod hmm_dummy || erc=$?
		insmod $MODDIR/hmm_dummy.ko || erc=$?
	else
		erc=1
	fi
	if [ $erc = 0 ]; then
		result pass hmm_dummy.stress-evict
	else
		result fail hmm_dummy.stress-evict "exit status $erc"
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
