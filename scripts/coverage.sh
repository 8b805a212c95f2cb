#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# coverage.sh TIMEOUT STRESS_SECONDS
#
# `make coverage`: boots the gcov flavour of the test kernel ($KVER, or the
# tree $KSRC) and runs vm/coverage.sh there, which sends the gcov counters
# of the HMM core after each of its runs (hmm_dummy's suite without, then
# with the paths_* cases; that plus the kernel's hmm-tests on hmm_dummy;
# hmm-tests on the kernel's test_hmm: see vm/coverage.sh).
# On the host the counters go next to the kernel build's .gcno files, lcov
# and genhtml make one HTML report per run, and a table of the line coverage
# of each file in each run is written and printed last.  Everything is in
# results/coverage-KVER-DATE/ (coverage.txt, unreached.txt: the lines the
# suite left, with the reasons of scripts/coverage-reasons.txt; html-RUN/).
# Exit status 1 if the VM run failed or a run sent no counters.
# coverage.sh --report DIR KBUILD STRESS_SECONDS: only the host part, on the
# results DIR of a run of the kernel built in KBUILD.
set -euo pipefail
usage="usage: coverage.sh TIMEOUT STRESS_SECONDS | --report DIR KBUILD STRESS_SECONDS"
timeout=${1:?$usage}
top=$(cd "$(dirname "$0")/.." && pwd)
if [ "$timeout" = --report ]; then
	dir=${2:?$usage}
	kb=${3:?$usage}
	stress=${4:?$usage}
else
	stress=${2:?$usage}
fi
kver=${KVER:-7.3}
files=(mm/migrate_device.c mm/hmm.c mm/memremap.c mm/huge_memory.c)
runs=(test_hmm base suite suite+conf)
declare -A title=(
	[test_hmm]="test_hmm + hmm-tests (THP always + never)"
	[base]="hmm_dummy: hmm_test run without paths_* + ${stress} s stress"
	[suite]="+ paths_* (whole hmm_test run)"
	[suite+conf]="+ hmm-tests on hmm_dummy"
)

name=coverage-${KSRC:+ksrc-}$kver
rc=0
t0=$(date +%s) t1=$t0 t2=$t0
if [ "$timeout" != --report ]; then
	kb=$("$top/scripts/build-kernel.sh" gcov | tail -n 1)
	t1=$(date +%s)
	# With the IOMMU: hmm_dummy0's DMA mapping takes the IOVA path of
	# the hmm_dma_map_*() helpers, hmm_dummy1's the direct one.
	"$top/scripts/suite.sh" "$name" gcov "$timeout" 'sh /hmm/vm/coverage.sh' \
		-I -e STRESS_SECONDS="$stress" || rc=$?
	t2=$(date +%s)
	dir=$(readlink -f "$top/results/$name-latest")
fi

echo
echo "===== coverage: lcov on the host ====="
pats=()
for f in "${files[@]}"; do
	pats+=("*/$f")
done
for run in "${runs[@]}"; do
	w=$dir/gcov/$run
	rm -rf "$w"
	n=0
	for b in "$dir"/gcda."$run".*.b64; do
		[ -f "$b" ] || continue
		rel=${b#"$dir/gcda.$run."}
		rel=${rel%.b64}
		rel=${rel//%//}
		case $rel in
		"$kb"/*) rel=${rel#"$kb"/} ;;
		*) echo "!! $rel: not a file of the build $kb" >&2; rc=1; continue ;;
		esac
		mkdir -p "$w/$(dirname "$rel")"
		base64 -d <"$b" >"$w/$rel"
		cp "$kb/${rel%.gcda}.gcno" "$w/${rel%.gcda}.gcno"
		n=$((n + 1))
	done
	if [ $n = 0 ]; then
		echo "!! run $run: no counters came back" >&2
		rc=1
		continue
	fi
	lcov --quiet --capture --directory "$w" --output-file "$w/all.info" >"$w/lcov.log" 2>&1 ||
		{ cat "$w/lcov.log" >&2; rc=1; continue; }
	lcov --quiet --extract "$w/all.info" "${pats[@]}" --output-file "$dir/$run.info" \
		>>"$w/lcov.log" 2>&1 || { cat "$w/lcov.log" >&2; rc=1; continue; }
	genhtml --quiet --title "$name: ${title[$run]}" --output-directory "$dir/html-$run" \
		"$dir/$run.info" >>"$w/lcov.log" 2>&1 || { cat "$w/lcov.log" >&2; rc=1; }
done

# The table: per file, lines hit / lines found (LH/LF of the tracefiles).
pct() # RUN FILE: "NN.N% (hit/found)" or "-"
{
	[ -f "$dir/$1.info" ] || { echo -; return; }
	awk -v f="$2" '
		/^SF:/ { on = (substr($0, length($0) - length(f) + 1) == f) }
		on && /^LF:/ { lf = substr($0, 4) }
		on && /^LH:/ { lh = substr($0, 4) }
		END { if (lf) printf "%.1f%% (%d/%d)\n", 100 * lh / lf, lh, lf; else print "-" }
	' "$dir/$1.info"
}
lh() # RUN FILE: lines hit (0 without data)
{
	[ -f "$dir/$1.info" ] || { echo 0; return; }
	awk -v f="$2" '
		/^SF:/ { on = (substr($0, length($0) - length(f) + 1) == f) }
		on && /^LH:/ { lh = substr($0, 4) }
		END { print lh + 0 }
	' "$dir/$1.info"
}

# The lines the suite did not reach, with their reasons (unreached.txt),
# and the counts per class (unreached.counts, for the table).
: >"$dir/unreached.counts"
if [ -f "$dir/suite.info" ]; then
	{
		echo "Lines of the HMM core that hmm_dummy's own suite (run \"suite\") did"
		echo "not reach, by function; class and reason from"
		echo "scripts/coverage-reasons.txt (user: reachable from user space with"
		echo "hmm_dummy as it is; driver: needs a driver feature; no: not reachable"
		echo "with a device-private driver).  [test_hmm: hit]: test_hmm +"
		echo "hmm-tests reached it."
	} >"$dir/unreached.txt"
	awk -f "$top/scripts/coverage-unreached.awk" -v run="$dir/suite.info" \
		-v ref="$([ -f "$dir/test_hmm.info" ] && echo "$dir/test_hmm.info")" \
		-v reasons="$top/scripts/coverage-reasons.txt" \
		-v out="$dir/unreached.body" "${files[@]}" >"$dir/unreached.counts" || rc=1
	cat "$dir/unreached.body" >>"$dir/unreached.txt"
	rm -f "$dir/unreached.body"
fi
{
	echo "Line coverage of the HMM core, Linux $(sed -n 's/^# Linux\/x86 \([^ ]*\) Kernel Configuration/\1/p' "$kb/.config")${KSRC:+ (KSRC=$KSRC)}, $(date -u +%F)"
	echo "(mm/huge_memory.c: whole file; only its device-private parts are HMM's)"
	echo
	printf '| %-22s |' "kernel file"
	for run in "${runs[@]}"; do printf ' %s |' "${title[$run]}"; done
	echo
	printf '| --- |'
	for run in "${runs[@]}"; do printf ' --- |'; done
	echo
	for f in "${files[@]}"; do
		printf '| %-22s |' "$f"
		for run in "${runs[@]}"; do printf ' %s |' "$(pct "$run" "$f")"; done
		echo
	done
	echo
	echo "Which run reaches more lines: hmm_dummy's own suite (suite) or test_hmm"
	echo "+ hmm-tests (whole files).  Then the lines the suite left (unreached.txt,"
	echo "classes from scripts/coverage-reasons.txt): reachable, from user space"
	echo "(user) or with a driver feature hmm_dummy lacks (driver); not reachable"
	echo "by a device-private driver; not classified yet.  mm/huge_memory.c: its"
	echo "functions that handle device-private folios only."
	echo
	echo "| kernel file            | ahead | left: reachable (user + driver) | left: not reachable | left: unclassified |"
	echo "| --- | --- | --- | --- | --- |"
	for f in "${files[@]}"; do
		hs=$(lh suite "$f") ht=$(lh test_hmm "$f")
		if [ "$hs" -gt "$ht" ]; then
			ahead="suite, +$((hs - ht))"
		elif [ "$hs" -lt "$ht" ]; then
			ahead="test_hmm, +$((ht - hs))"
		else
			ahead="even"
		fi
		read -r _ _ user drv no uncl < <(grep "^$f	" "$dir/unreached.counts" ||
			echo "$f 0 0 0 0 0")
		printf '| %-22s | %s | %d (%d + %d) | %d | %d |\n' "$f" "$ahead" \
			$((user + drv)) "$user" "$drv" "$no" "$uncl"
	done
	echo
	# Paths relative to the repository or the cache: the report is
	# committed as a baseline.
	rdir=${dir#"$top"/}
	cache=${HMM_DUMMY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hmm_dummy}
	rkb=$kb
	[ "${kb#"$cache"/}" = "$kb" ] || rkb="\$HMM_DUMMY_CACHE/${kb#"$cache"/}"
	echo "Unreached lines, with reasons: $rdir/unreached.txt"
	echo "gcov kernel ($rkb): $(cat "$kb/.done" 2>/dev/null)"
	[ "$timeout" = --report ] || echo "this call: kernel $((t1 - t0)) s, VM $((t2 - t1)) s"
	for run in "${runs[@]}"; do
		[ ! -d "$dir/html-$run" ] || echo "HTML ($run): $rdir/html-$run/index.html"
	done
} >"$dir/coverage.txt"
cat "$dir/coverage.txt"
exit $rc
