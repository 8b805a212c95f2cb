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
