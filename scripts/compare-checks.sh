#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# compare-checks.sh BEFORE AFTER
#
# Side by side, the checks each case ran in two runs of `hmm_test run
# --count-checks` (files of "case N" lines, as scripts/mutation.sh writes
# them to build/mutation/none.checks, or the KTAP output itself).  A case
# whose count dropped is marked LOWER; exit status 1 if any did, or if a
# case of BEFORE is missing from AFTER.
set -euo pipefail
[ $# = 2 ] || { sed -n '4,10s/^# \{0,1\}//p' "$0" >&2; exit 2; }
counts() # FILE: "case N" lines from either form
{
	awk '$1 == "#" && $2 == "checks" { print $3, $4; next }
	     NF == 2 && $2 ~ /^[0-9]+$/ { print $1, $2 }' "$1"
}
awk '
	FNR == NR { before[$1] = $2; order[++n] = $1; next }
	{ after[$1] = $2 }
	END {
		printf "%-36s %8s %8s\n", "case", "before", "after"
		for (i = 1; i <= n; i++) {
			c = order[i]
			a = c in after ? after[c] : "-"
			mark = ""
			if (!(c in after) || a + 0 < before[c] + 0) {
				mark = "  LOWER"
				bad++
			}
			printf "%-36s %8d %8s%s\n", c, before[c], a, mark
			tb += before[c]
			ta += a
		}
		printf "%-36s %8d %8d\n", "total", tb, ta
		printf "%d cases, %d with fewer checks after\n", n, bad
		exit bad > 0
	}' <(counts "$1") <(counts "$2")
