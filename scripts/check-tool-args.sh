#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# check-tool-args.sh [HMM_TEST]
#
# Host-side check that hmm_test refuses bad input and still takes every
# command line the harness and the documents use.  No device is needed:
# every run points --dev at a prefix under a temporary directory where no
# device node exists, and the tool checks its arguments before it looks for
# devices.
#  - each bad input: the expected exit status (2 for a usage error, 1 for
#    a device that is not there) and a message on stderr, nothing on stdout;
#  - --help, globally and after each command: status 0, the usage on
#    stdout, nothing on stderr;
#  - the command lines of vm/, scripts/, the man page and the READMEs (and
#    the case patterns vm/check.sh runs): not a usage error (without a
#    device they end with status 1 or, for `run --ksft`, 4), no usage
#    message; `run --list PATTERN...` of those patterns lists cases.
# Prints what went wrong; exit status 1 if anything did.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tool=${1:-$top/tools/hmm_test/hmm_test}
[ -x "$tool" ] || { echo "check-tool-args.sh: no $tool (make -C tools/hmm_test)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hmm_test-args.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dev=$tmp/none
unset HMM_TEST_DEV
bad=0 nbad=0 ngood=0

fail() { echo "!! hmm_test $1: $2" >&2; bad=1; }

# run ARGS...: the tool with --dev $dev first; status in $st, output in
# $tmp/out and $tmp/err.
run()
{
	timeout 30 "$tool" --dev "$dev" "$@" >"$tmp/out" 2>"$tmp/err"
	st=$?
}

# expect STATUS OUT ARGS...: exit status STATUS, text matching the regular
# expression OUT on stdout (OUT empty: stdout empty) and nothing on stderr
# (OUT empty: a message there).
expect()
{
	local want=$1 re=$2
	shift 2
	run "$@"
	if [ $st != "$want" ]; then
		fail "$*" "exit status $st, want $want ($(head -n 1 "$tmp/err"))"
	elif [ -n "$re" ] && ! grep -q "$re" "$tmp/out"; then
		fail "$*" "no '$re' on stdout"
	elif [ -z "$re" ] && [ -s "$tmp/out" ]; then
		fail "$*" "output on stdout: $(head -n 1 "$tmp/out")"
	elif [ -n "$re" ] && [ -s "$tmp/err" ]; then
		fail "$*" "output on stderr: $(head -n 1 "$tmp/err")"
	elif [ -z "$re" ] && [ ! -s "$tmp/err" ]; then
		fail "$*" "no message on stderr"
	fi
}

# refused STATUS ARGS...: a bad input.
refused()
{
	nbad=$((nbad + 1))
	expect "$1" '' "${@:2}"
}

# help ARGS...: --help somewhere in ARGS.
help()
{
	ngood=$((ngood + 1))
	expect 0 '^usage: hmm_test' "$@"
}

# accepted ARGS...: a valid command line, run without a device.
accepted()
{
	ngood=$((ngood + 1))
	run "$@"
	if [ $st = 2 ] || [ $st -ge 124 ]; then
		fail "$*" "exit status $st: $(head -n 2 "$tmp/err" | tr '\n' ' ')"
	elif grep -q 'usage:' "$tmp/err"; then
		fail "$*" "a usage message: $(head -n 1 "$tmp/err")"
	fi
}

# listed ARGS...: `run --list ARGS...` lists at least one case.
listed()
{
	ngood=$((ngood + 1))
	run run --list "$@"
	if [ $st != 0 ] || [ ! -s "$tmp/out" ]; then
		fail "run --list $*" "exit status $st, $(wc -l <"$tmp/out") cases: $(head -n 1 "$tmp/err")"
	fi
}

# The issue's bad inputs (#24) and their kin.
refused 2 run no_such_case_typo
refused 2 run open_close no_such_case_typo
refused 2 run --exclude no_such_case_typo
refused 2 run --list=yes
refused 2 run --timeout 0
refused 2 run --timeout five
refused 2 bench --reps 0
refused 2 bench --reps 16
refused 2 bench --reps=x
refused 2 bench --modes thp,5k
refused 2 bench --windows 1,x
refused 2 bench --min-size 64M --max-size 2M
refused 2 bench --p5 extra
refused 2 cycle --size 4X
refused 2 cycle --size 4KB
refused 2 cycle --size 0
refused 2 cycle --size=
refused 2 cycle --pattern zigzag
refused 2 cycle --device 8
refused 2 stress --seconds -1
refused 2 stress --seconds 1.5
refused 2 stress --seconds ''
refused 2 stress --seconds
refused 2 stress --procs 0
refused 2 fuzz --calls 0
refused 2 fuzz --seed 0x
refused 2 fuzz --seed 99999999999999999999
refused 2 exit-race --procs 0
refused 2 exit-race --pages 10x
refused 2 faultinject --max 0
refused 2 faultinject --params vram_mb=4
refused 2 stats --device 8
refused 2 stats --device -1
refused 2 stats extra
refused 2 unload-holder --device x
refused 2 unload-holder --timeout 0
refused 2 --no-such-option run
refused 2 -x run
refused 2 no-such-command
refused 2
# A device that is not there (here: none at all) is an error, not silence.
refused 1 stats --device 7
refused 1 stats
refused 2 --dev

help --help
help -h
help run --list --help
for c in run cycle fuzz faultinject exit-race stress stats bench unload-holder; do
	help "$c" --help
done

# The case patterns vm/check.sh runs (defaults of KSFT_CASES, DKMS_CASES).
for v in KSFT_CASES DKMS_CASES; do
	pats=$(sed -n "s/^$v=\${$v:-\"\(.*\)\"}\$/\1/p" "$top/vm/check.sh")
	[ -n "$pats" ] || fail "$v" "not found in vm/check.sh"
	# shellcheck disable=SC2086 # a list of patterns
	listed $pats
done
listed
listed eviction_
listed paths_
listed --exclude paths_
listed --timeout=5 open_close
listed --timeout 5 migrate
accepted -v run --list migrate
accepted run
accepted run --ksft mirror_ anon_
accepted run --count-checks open_close
accepted run --exclude paths_
accepted run eviction_
accepted run kill_long_range pageout_device_write
accepted --device-path="$tmp/hmm_dmirror" run
accepted cycle --size 4M
accepted cycle --size=64m --cycles 2 --threads 2 --device 1 --pattern seq
accepted stats
accepted stats --device=0
accepted stress --seconds 30
accepted stress --seconds=600 --procs 4 --seed 0x1234
accepted fuzz --calls 100000
accepted fuzz --calls=1000 --seed 42
accepted faultinject
accepted faultinject --max 100 --load "$tmp/none.ko" --params "vram_mb=4 copy_engine=async"
accepted exit-race --seconds 30 --procs 6 --pages 256
accepted unload-holder --ready-file "$tmp/ready" --timeout 120
accepted unload-holder --ready-file "$tmp/ready" --timeout 120 --orphan
accepted unload-holder --size 16M --module hmm_dummy --device 0
# bench also measures test_hmm when /dev/hmm_dmirror0 exists: not here.
if [ -e /dev/hmm_dmirror0 ]; then
	echo "check-tool-args.sh: /dev/hmm_dmirror0 exists: bench command lines not run" >&2
else
	accepted bench --csv "$tmp/bench.csv"
	accepted bench --windows 1,4,16,32 --reps 3
	accepted bench --p5 --csv "$tmp/bench-p5.csv"
	accepted bench --no-p4 --max-size 32M --csv "$tmp/bench-engine.csv"
	accepted bench --modes thp --min-size 64M --max-size 64M --reps 3 --no-p4
	accepted bench --modes 4k --min-size 64M --max-size 64M --reps 3 --p4-size 32M
fi

[ $bad = 0 ] && echo "hmm_test: $nbad bad inputs refused with a message, $ngood good command lines taken"
exit $bad
