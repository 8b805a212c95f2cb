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

note() # TEXT: a remark for the host's report (not a result)
{
	echo "NOTE $*" >>"$HMM_RESULTS"
	echo "### NOTE $*"
}

# kmemleak_check OWNER WHAT: on kernels with kmemleak, scan now and clear,
# so that leaks are blamed on the phase that made them.  OWNER hmm_dummy:
# leaks are reported as failures (LEAKS line, kernel message on the console).
# OWNER test_hmm: the reference driver's leaks (6.12's test_hmm never drops
# its device references at unload) only become a note; the console log
# level is lowered during that scan so that the kernel's own leak message,
# which the host treats as a splat, stays in dmesg.
kmemleak_check()
{
	local owner=$1 what=$2 f=/sys/kernel/debug/kmemleak n lvl
	[ -w $f ] || return 0
	lvl=$(cut -f1 /proc/sys/kernel/printk)
	[ "$owner" = hmm_dummy ] || dmesg -n 1
	# Reported only when older than 5 s and unchanged between two scans.
	sleep 5
	echo scan >$f
	echo scan >$f
	n=$(grep -c '^unreferenced object' $f || true)
	[ "$owner" = hmm_dummy ] || dmesg -n "$lvl"
	if [ "$n" -gt 0 ]; then
		if [ "$owner" = hmm_dummy ]; then
			echo "LEAKS $n $what" >>"$HMM_RESULTS"
			echo "kmemleak: $n new suspected memory leaks after: $what"
		else
			note "test_hmm.ko (the reference) left $n unreferenced objects after: $what (not counted)"
		fi
		cat $f
	fi
	echo clear >$f
}
