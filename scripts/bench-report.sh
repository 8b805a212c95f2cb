#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# bench-report.sh DIR [BASELINE]
#
# The host side of `make bench`: from DIR/bench.csv (vm/bench.sh) writes
#   DIR/bench-report.txt  ratio tables with their spread, the load, the
#                         hmm-tests benchmark_thp_migration figures and
#                         the comparison with BASELINE
#   DIR/bench.png, DIR/bench.svg  MiB/s against size (gnuplot)
# and prints the report.  BASELINE (default: the last committed run on the
# same kernel version, results/bench-baseline.csv for 7.3 and
# results/bench-baseline-KVER.csv for the others): each hmm_dummy figure,
# taken relative to
# memcpy in its own run (absolute times mean nothing under emulation), is
# compared with the baseline's, and a drop of more than 20% is flagged
# REGRESSION.  A report, never a failure: exit status 0 unless the input
# is missing.  To make a run the new baseline:
#   cp results/bench-latest/bench.csv results/bench-baseline.csv   (7.3)
# HOST_LOAD_START (set by `make bench` before the VM starts) is the host's
# load average at the start; without it the report shows the load now.
set -euo pipefail
dir=${1:?usage: bench-report.sh DIR [BASELINE]}
top=$(cd "$(dirname "$0")/.." && pwd)
# "hmm_dummy VM: 6.12.117, flavour fast, ..." on the console: 6.12
kver=$(tr -d '\r' <"$dir/console.log" 2>/dev/null |
	sed -n 's/^hmm_dummy VM: \([0-9]*\.[0-9]*\).*/\1/p' | head -n 1)
if [ -z "${kver:-}" ] || [ "$kver" = 7.3 ]; then
	base=${2:-$top/results/bench-baseline.csv}
else
	base=${2:-$top/results/bench-baseline-$kver.csv}
fi
csv=$dir/bench.csv
[ -s "$csv" ] || { echo "!! bench-report: no $csv" >&2; exit 1; }
out=$dir/bench-report.txt

# Normalised figure of a row: its ratio to memcpy; rows without one (P4,
# P5) are taken relative to the mean memcpy MiB/s of their THP mode.
norm_awk='
	BEGIN { FS = "," }
	FNR == 1 { next }
	$2 == "memcpy" && $4 == "hmm_dummy" { cs[$1] += $5; cn[$1]++ }
	{ row[++n] = $0 }
	END {
		for (i = 1; i <= n; i++) {
			split(row[i], f, ",")
			if (f[4] != "hmm_dummy" || f[2] == "memcpy")
				continue
			v = f[8] != "" ? f[8] : (cn[f[1]] ? f[5] / (cs[f[1]] / cn[f[1]]) : 0)
			print f[1] "," f[2] "," f[3] "," v
		}
	}'

{
	echo "make bench: $(date -u '+%Y-%m-%d %H:%M UTC'), $(tr -d '\r' <"$dir/console.log" 2>/dev/null |
		sed -n 's/^hmm_dummy VM: \([^,]*\), flavour \([a-z]*\).*/kernel \1 (\2)/p' | head -n 1)"
	if [ -n "${HOST_LOAD_START:-}" ]; then
		echo "host load at the start: ${HOST_LOAD_START##*load average: }"
	else
		echo "host load now: $(uptime | sed 's/.*load average/load average/')"
	fi
	echo "host load at the end: $(uptime | sed 's/.*load average: //')"
	[ ! -f "$dir/bench-load.txt" ] || sed 's/^/guest: /' "$dir/bench-load.txt"
	echo
	echo "P1-P3: hmm_dummy median [min-max] MiB/s; ratios of medians"
	awk -F, '
		NR == 1 { next }
		{ key = $1 SUBSEP $2 SUBSEP $3; v[key, $4] = $5 " [" $6 "-" $7 "]"; m[key, $4] = $5 }
		$2 ~ /^(to_dev|to_sys|fault)$/ && $4 == "hmm_dummy" { k[++n] = key; r[key] = $8; t[key] = $9 }
		END {
			printf "%-4s %-7s %8s  %-26s %-26s %8s %8s\n", "mode", "path", "MiB", "hmm_dummy", "test_hmm", "x th", "x cpy"
			for (i = 1; i <= n; i++) {
				split(k[i], a, SUBSEP)
				printf "%-4s %-7s %8d  %-26s %-26s %8s %8.3f\n", a[1], a[2], a[3] / 1048576,
					v[k[i], "hmm_dummy"], v[k[i], "test_hmm"], t[k[i]] == "" ? "-" : sprintf("%.2f", t[k[i]]), r[k[i]]
			}
		}' "$csv"
	echo
	echo "P4: aggregate MIGRATE_TO_DEV MiB/s, median [min-max]; ratio to one process"
	awk -F, '
		$2 ~ /^p4_/ { v[$1, $4, $2] = $5; s[$1, $4, $2] = $5 " [" $6 "-" $7 "]"; if (!(($1, $4) in seen)) { seen[$1, $4] = 1; k[++n] = $1 SUBSEP $4 } }
		END {
			for (i = 1; i <= n; i++) {
				split(k[i], a, SUBSEP)
				one = v[a[1], a[2], "p4_one"]
				printf "%-4s %-10s one %-22s same %-22s (x%.2f) two %-22s (x%.2f)\n", a[1], a[2],
					s[a[1], a[2], "p4_one"], s[a[1], a[2], "p4_same"], one ? v[a[1], a[2], "p4_same"] / one : 0,
					s[a[1], a[2], "p4_two"], one ? v[a[1], a[2], "p4_two"] / one : 0
			}
		}' "$csv"
	if grep -q '^P4 lock' "$dir/bench.txt" 2>/dev/null; then
		echo "P4: hmm_dummy's allocator lock over each mode (taken, found held, time waited as a share of the processes' time)"
		grep '^P4 lock' "$dir/bench.txt"
	fi
	echo
	echo "P5: hmm_dummy pages/s, working set 2x vram, median [min-max]"
	awk -F, '
		$2 ~ /^p5_/ { v[$1, $2] = $5; s[$1, $2] = $5 " [" $6 "-" $7 "]"; modes[$1] = 1 }
		END {
			for (m in modes) {
				p = v[m, "p5_pressure"]; f = v[m, "p5_nopressure"]
				printf "%-4s pressure %-26s no pressure %-26s cost x%.2f, eviction share %.0f%%\n", m,
					s[m, "p5_pressure"], s[m, "p5_nopressure"], p ? f / p : 0, f ? 100 * (1 - p / f) : 0
			}
		}' "$csv"
	if [ -s "$dir/hmm-tests-bench.txt" ]; then
		echo
		echo "hmm-tests benchmark_thp_migration (kernel selftest; GB/s as it prints them)"
		grep -aE '^== |Buffer|Size|Throughput|Latency|^(not )?ok|exit status' "$dir/hmm-tests-bench.txt" | grep -v '^#  *RUN' || true
	fi
	echo
	if [ -s "$base" ]; then
		echo "Against $(basename "$base") (hmm_dummy, each relative to memcpy in its own run; >20% lower: REGRESSION)"
		join -t, -j1 <(awk "$norm_awk" "$base" | awk -F, '{ print $1 ":" $2 ":" $3 "," $4 }' | sort) \
			<(awk "$norm_awk" "$csv" | awk -F, '{ print $1 ":" $2 ":" $3 "," $4 }' | sort) |
			awk -F, '{
				split($1, a, ":"); r = $2 > 0 ? $3 / $2 : 0
				flag = r < 0.8 ? "REGRESSION" : (r > 1.2 ? "faster" : "")
				printf "%-4s %-14s %8d MiB  x%.2f %s\n", a[1], a[2], a[3] / 1048576, r, flag
				if (flag == "REGRESSION") nreg++
			}
			END { printf "%d regression(s) beyond 20%%\n", nreg }'
	else
		echo "no baseline (${base#"$top"/}): nothing to compare with"
	fi
} >"$out"

# The plot: one panel per path, MiB/s against size, memcpy as the ceiling.
if command -v gnuplot >/dev/null; then
	d=$(mktemp -d "${TMPDIR:-/tmp}/hmm_dummy-plot.XXXXXX")
	for mode in thp 4k; do
		for dev in hmm_dummy test_hmm; do
			for path in to_dev to_sys fault memcpy; do
				awk -F, -v m=$mode -v d=$dev -v p=$path \
					'$1 == m && $4 == d && $2 == p { print $3 / 1048576, $5, $6, $7 }' \
					"$csv" >"$d/$mode-$dev-$path.dat"
			done
		done
	done
	for term in png svg; do
		case $term in
		png) t="pngcairo size 1500,500 font ',10'" ;;
		*) t="svg size 1500,500 dynamic font ',10'" ;;
		esac
		# Only series that have data (test_hmm may not be loaded).
		plots() # PATH
		{
			local s= f
			for f in thp-hmm_dummy thp-test_hmm 4k-hmm_dummy 4k-test_hmm; do
				[ -s "$d/$f-$1.dat" ] || continue
				s+="${s:+, }'$d/$f-$1.dat' using 1:2:3:4 with yerrorlines title '${f/-/ }'"
			done
			[ -s "$d/thp-hmm_dummy-memcpy.dat" ] &&
				s+=", '$d/thp-hmm_dummy-memcpy.dat' using 1:2 with lines dt 2 lw 2 lc rgb 'black' title 'memcpy (thp)'"
			echo "$s"
		}
		gnuplot <<-GP
			set terminal $t
			set output '$dir/bench.$term'
			set termoption noenhanced
			set datafile separator ' '
			set logscale xy 2
			set xlabel 'buffer size (MiB)'
			set ylabel 'MiB/s (median, bars: min-max)'
			set key top left font ',8'
			set grid
			set multiplot layout 1,3 title 'hmm_dummy vs test_hmm, $(sed -n 's/^make bench: \(.*\)/\1/p' "$out" | head -n 1)'
			set title 'P1 MIGRATE_TO_DEV'
			plot $(plots to_dev)
			set title 'P2 MIGRATE_TO_SYS'
			plot $(plots to_sys)
			set title 'P3 CPU fault-back'
			plot $(plots fault)
			unset multiplot
		GP
	done
	rm -rf "$d"
	echo "plot: ${dir#"$top"/}/bench.png ${dir#"$top"/}/bench.svg" >>"$out"
else
	echo "no gnuplot: no plot" >>"$out"
fi
cat "$out"
