#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# suite.sh NAME FLAVOUR TIMEOUT GUEST-COMMAND [vm-run options...]
#
# Runs a test suite in the VM (scripts/vm-run.sh) and adds its results up on
# the host (scripts/summarize.sh).  Keeps everything in results/NAME-DATE/
# (results/NAME-latest points at it) and prints, last, the single line
#   N passed, N failed, N skipped
# A kernel splat, a crash or a timeout in the VM counts as one more failure.
# Exit status 1 if anything failed.
set -euo pipefail
name=${1:?usage: suite.sh NAME FLAVOUR TIMEOUT GUEST-COMMAND [vm-run options]}
flavour=${2:?}
timeout=${3:?}
cmd=${4:?}
shift 4
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$top/results/$name-$(date +%Y%m%d-%H%M%S)
mkdir -p "$dir"
ln -sfn "$(basename "$dir")" "$top/results/$name-latest"

t0=$(date +%s)
vrc=0
"$top/scripts/vm-run.sh" -f "$flavour" -t "$timeout" -n "$name" "$@" -- "$cmd" || vrc=$?
t1=$(date +%s)
cp "$top/build/logs/$name.console.log" "$dir/console.log" 2>/dev/null || true
cp "$top/build/logs/$name.results" "$dir/results.raw" 2>/dev/null || true

echo
echo "===== $name: results ($flavour kernel, $((t1 - t0))s) ====="
"$top/scripts/summarize.sh" "$dir/results.raw" "$dir" | tee "$dir/report.txt" || true
read -r p _ f _ s _ <"$dir/summary.txt"
p=${p%,} f=${f%,} s=${s%,}
msg=
if [ "$vrc" -ge 2 ]; then
	f=$((f + 1))
	msg="FAIL vm: kernel splat, crash, timeout or set-up error, see the messages above (console: $dir/console.log)"
elif [ "$vrc" = 1 ] && [ "$f" = 0 ]; then
	f=1
	msg="FAIL the guest command exited non-zero (console: $dir/console.log)"
fi
[ -z "$msg" ] || echo "$msg" | tee -a "$dir/report.txt"
line="$p passed, $f failed, $s skipped"
echo "$line" >"$dir/summary.txt"
echo "(results: $dir)"
echo "$line"
[ "$f" = 0 ]
