# SPDX-License-Identifier: GPL-2.0
#
# Helpers for the scripts that run inside the VM (sourced, not executed).
# Results go to $HMM_RESULTS (the second serial port, see vm/init) as lines
#   RESULT pass|fail|skip NAME [# reason]
#   FILE NAME ... ENDFILE NAME
# which scripts/summarize.sh turns into the final summary on the host.

HMM_RESULTS=${HMM_RESULTS:-/tmp/results.txt}
MODDIR=${MODDIR:-/hmm/modules}
n_fail=0

result() # pass|fail|skip NAME [reason]
{
	local st=$1 name=$2
	shift 2
	local why=${*:+ # $*}
	echo "RESULT $st $name$why" >>"$HMM_RESULTS"
	case $st in
	pass) echo "### PASS $name$why" ;;
	skip) echo "### SKIP $name$why" ;;
	*) echo "### FAIL $name$why"; n_fail=$((n_fail + 1)) ;;
	esac
}

send_file() # NAME FILE: copy a file to the host through the results channel
{
	{
		echo "FILE $1"
		tr -d '\r' <"$2"
		echo
		echo "ENDFILE $1"
	} >>"$HMM_RESULTS"
}

step() # TITLE: a visible separator on the console
{
	echo
	echo "===== $* ====="
}

have_module() { [ -f "$MODDIR/$1.ko" ]; }

# unload_with_holder NAME [unload-holder options]: `hmm_test unload-holder`
# migrates memory to the device, creates the ready file, waits until the
# module is gone and then checks that its data came back intact; this
# rmmods hmm_dummy meanwhile.  One result NAME.  hmm_dummy is unloaded
# afterwards (unless the rmmod failed).  $UNLOAD_HOOK, if set, is a command
# run once the holder is ready, right before the rmmod.
unload_with_holder()
{
	local name=$1 holder hrc i=0
	shift
	rm -f /tmp/holder.ready
	/hmm/bin/hmm_test unload-holder --ready-file /tmp/holder.ready \
		--timeout 120 "$@" >/tmp/holder.txt 2>&1 &
	holder=$!
	while [ ! -e /tmp/holder.ready ] && kill -0 $holder 2>/dev/null &&
		[ $i -lt 1200 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if [ ! -e /tmp/holder.ready ]; then
		kill $holder 2>/dev/null || true
		wait $holder || true
		cat /tmp/holder.txt
		result fail "$name" "holder never got ready"
	elif [ -n "${UNLOAD_HOOK:-}" ] && ! $UNLOAD_HOOK; then
		kill $holder 2>/dev/null || true
		wait $holder || true
		result fail "$name" "$UNLOAD_HOOK failed"
	elif rmmod hmm_dummy; then
		hrc=0
		wait $holder || hrc=$?
		cat /tmp/holder.txt
		if [ $hrc = 0 ]; then
			result pass "$name"
		else
			result fail "$name" "holder exit status $hrc"
		fi
	else
		kill $holder 2>/dev/null || true
		wait $holder || true
		cat /tmp/holder.txt
		result fail "$name" "rmmod failed while memory was on the device"
	fi
}
loaded() { grep -q "^$1 " /proc/modules; }

# run_logged NAME FILE CMD...: run CMD, output to the console and to FILE;
# returns CMD's exit status.
run_logged()
{
	local out=$1
	shift
	local rcf=/tmp/.rc.$$
	{ "$@" 2>&1; echo $? >$rcf; } | tee "$out"
	local rc
	rc=$(cat $rcf)
	rm -f $rcf
	return "$rc"
}

# run_result NAME FILE CMD...: run_logged, then one result NAME: pass
# when CMD exits 0, else fail with its exit status.
run_result()
{
	local name=$1 rc=0
	shift
	run_logged "$@" || rc=$?
	if [ $rc = 0 ]; then
		result pass "$name"
	else
		result fail "$name" "$(basename "$2") exit status $rc"
	fi
	return $rc
}

note() # TEXT: a remark for the host's report (not a result)
{
	echo "NOTE $*" >>"$HMM_RESULTS"
	echo "### NOTE $*"
}

# kmemleak_check WHAT: on kernels with kmemleak, scan now, report, clear.
# Called at every change between hmm_dummy and test_hmm and at shutdown, so
# that a leak is reported after the phase that made it.  Leaked objects
# allocated by an `insmod test_hmm.ko` (pids in $TEST_HMM_PIDS, see
# insmod_test_hmm) are the reference driver's: on 6.12 test_hmm never drops
# its device references at unload.  They only become a note.  All others
# count as hmm_dummy's: a LEAKS line for the host and the message
# "kmemleak: N new suspected memory leaks" on the console, a splat there.
# The kernel's own message of that kind is kept off the console (log level
# lowered during the scan), since it cannot tell the two apart.
TEST_HMM_PIDS=/tmp/test_hmm.insmod.pids
kmemleak_check()
{
	local what=$1 f=/sys/kernel/debug/kmemleak lvl n prev i counts mine ref
	[ -w $f ] || return 0
	lvl=$(cut -f1 /proc/sys/kernel/printk)
	dmesg -n 1
	# An object is reported when older than 5 s and unchanged between two
	# scans; objects that referenced each other can take one scan more.
	sleep 5
	echo scan >$f
	echo scan >$f
	n=$(grep -c '^unreferenced object' $f || true)
	i=0
	while [ $i -lt 3 ]; do
		prev=$n
		echo scan >$f
		n=$(grep -c '^unreferenced object' $f || true)
		[ "$n" != "$prev" ] || break
		i=$((i + 1))
	done
	dmesg -n "$lvl"
	counts=$(awk -v pids=" $(cat $TEST_HMM_PIDS 2>/dev/null | tr '\n' ' ') " '
		/^unreferenced object/ { n++ }
		/^  comm "insmod", pid [0-9]+,/ {
			p = $4; sub(/,/, "", p)
			if (index(pids, " " p " ")) ref[n] = 1
		}
		END { for (i = 1; i <= n; i++) if (i in ref) r++; else d++
		      print d + 0, r + 0 }' $f)
	mine=${counts% *}
	ref=${counts#* }
	if [ "$mine" -gt 0 ] && [ -e /tmp/reference-phase ]; then
		note "kmemleak: $mine unreferenced objects in the reference phase (test_hmm; not counted): $what"
	elif [ "$mine" -gt 0 ]; then
		echo "LEAKS $mine $what" >>"$HMM_RESULTS"
		echo "kmemleak: $mine new suspected memory leaks after: $what"
	fi
	[ "$ref" = 0 ] ||
		note "test_hmm.ko (the reference) left $ref unreferenced objects, allocated at its load (not counted; found after: $what)"
	[ "$n" = 0 ] || cat $f
	echo clear >$f
}

# reference_phase_begin WHAT: hmm_dummy's part of the run is over.  Scans
# for its leaks one last time, reports how many of its results failed
# ("OURS_DONE N" on the results channel) and marks the console; from here
# on only the reference driver test_hmm runs, and the host reports its
# splats, leaks or a crash as notes (scripts/vm-run.sh).  panic_on_warn is
# lifted so that a reference bug does not end the boot at once.
reference_phase_begin()
{
	kmemleak_check "$1"
	echo "OURS_DONE $n_fail" >>"$HMM_RESULTS"
	touch /tmp/reference-phase
	echo 0 >/proc/sys/kernel/panic_on_warn 2>/dev/null || true
	echo "HMM_DUMMY_REFERENCE_PHASE: only test_hmm runs from here"
}

insmod_test_hmm() # [module parameters]: insmod test_hmm.ko, keeping its pid
{
	local pid rc=0
	insmod $MODDIR/test_hmm.ko "$@" &
	pid=$!
	echo $pid >>$TEST_HMM_PIDS
	wait $pid || rc=$?
	return $rc
}

# spm_params: the module parameters that give hmm_dummy (or test_hmm, whose
# names they are) two coherent devices over the special-purpose memory
# scripts/vm-run.sh reserves with memmap=512M!0x80000000, 256 MiB each
# (test_hmm's chunk size); nothing when the VM was booted without it.
SPM_MEMMAP='memmap=512M!0x80000000'
spm_params()
{
	case " $(cat /proc/cmdline) " in
	*" $SPM_MEMMAP "*) echo "spm_addr_dev0=0x80000000 spm_addr_dev1=0x90000000" ;;
	esac
}

# coherent_device: N of the first /dev/hmm_dummyN with coherent memory, or
# nothing.
coherent_device()
{
	local d

	for d in /sys/class/hmm_dummy/hmm_dummy*; do
		[ "$(cat "$d/memory_type" 2>/dev/null)" = coherent ] || continue
		echo "${d##*/hmm_dummy}"
		return
	done
}
