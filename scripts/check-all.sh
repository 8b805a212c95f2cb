#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# check-all.sh TIMEOUT KVER:FLAVOUR... [-- vm-run options]
#
# `make check`: vm/check.sh (hmm_test run, unload tests, stress, the
# kernel's hmm-tests on test_hmm and hmm_dummy) on each kernel in turn, each
# in its own VM through scripts/suite.sh (results in results/check-KVER-*).
# A kernel that cannot be built or booted counts as a failure and the next
# one still runs.  Prints a table of the kernels and last the single line
#   N passed, N failed, N skipped
# adding all of them up.  Exit status 1 if anything failed.
set -uo pipefail
timeout=${1:?usage: check-all.sh TIMEOUT KVER:FLAVOUR... [-- vm-run options]}
shift
kernels=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	kernels+=("$1")
	shift
done
[ "${1:-}" != -- ] || shift
top=$(cd "$(dirname "$0")/.." && pwd)
[ ${#kernels[@]} -gt 0 ] || { echo "usage: check-all.sh TIMEOUT KVER:FLAVOUR..." >&2; exit 2; }

tp=0 tf=0 ts=0
table=()
for kf in "${kernels[@]}"; do
	kver=${kf%%:*} flavour=${kf#*:}
	[ "$flavour" != "$kf" ] || flavour=debug
	echo
	echo "===== make check: Linux $kver, $flavour kernel${KSRC:+ from $KSRC} ====="
	t0=$(date +%s)
	name=check-${KSRC:+ksrc-}$kver
	KVER=$kver "$top/scripts/suite.sh" "$name" "$flavour" "$timeout" \
		'sh /hmm/vm/check.sh' "$@"
	t1=$(date +%s)
	sum=$top/results/$name-latest/summary.txt
	line=
	# A summary older than this run means the run never got that far.
	if [ -f "$sum" ] && [ "$(stat -c %Y "$sum")" -ge "$t0" ]; then
		line=$(tail -n 1 "$sum")
	fi
	if [[ ! "$line" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped$ ]]; then
		line="0 passed, 1 failed, 0 skipped"
		echo "FAIL Linux $kver ($flavour): no summary (kernel, module or VM set-up failed, see above)"
	fi
	read -r p _ f _ s _ <<<"${line//,/}"
	tp=$((tp + p)) tf=$((tf + f)) ts=$((ts + s))
	table+=("$(printf '%-6s %-6s %6d %6d %6d %6ds' "$kver" "$flavour" "$p" "$f" "$s" $((t1 - t0)))")
done
echo
echo "===== make check: all kernels ====="
printf '%-6s %-6s %6s %6s %6s %7s\n' kernel kind passed failed skipped time
printf '%s\n' "${table[@]}"
echo "$tp passed, $tf failed, $ts skipped"
[ "$tf" = 0 ]
