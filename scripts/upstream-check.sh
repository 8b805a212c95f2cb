#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# upstream-check.sh [TIMEOUT]
#
# `make upstream-check`: proves the patch series in patches/ (fixes to the
# kernel's device migration and test_hmm, and hmm-tests cases that reproduce
# each bug; Documentation/harness.rst, "The upstream series").  Not part of
# `make check`: it builds two debug kernels.
#
#   1. Copies Debian's Linux 7.3 source (scripts/kernel-tree.sh, the tree
#      every other target uses) into the cache and applies the series
#      there with patch -p1 --fuzz=0, once per content of patches/.
#   2. Builds the debug kernel of the stock tree (the one `make check`
#      uses) and of the patched copy (as KSRC=, scripts/build-kernel.sh),
#      and the series' hmm-tests (scripts/build-conformance.sh with KSRC=),
#      which both kernels run.
#   3. For each reproducer (the TEST_F cases the series adds to
#      hmm-tests.c) and each kernel, one boot (vm/upstream.sh): the case
#      against hmm_dummy, then against the kernel's test_hmm, up to
#      $UPSTREAM_REPRO_RUNS times (default 3) each, stopping at the first
#      failure.  A run fails when the case fails, when the console shows a
#      splat (KASAN, Oops, ...; scripts/splats.sh) during it, or when the
#      boot ends before it does.
#   4. For each kernel, one boot of vm/conformance.sh with the series'
#      hmm-tests minus the reproducers: all of hmm-tests, THP always and
#      never, against hmm_dummy and then test_hmm.
#
# Prints a table (reproducer, driver, stock result, patched result) and the
# hmm-tests comparison, and exits 1 when
#   - a reproducer does not fail on the stock kernel against test_hmm (the
#     kernel's own driver: the bugs are the core's or test_hmm's; hmm_dummy
#     works around the core's, so its stock result is shown, not judged);
#   - a reproducer does not pass on the patched kernel against either driver;
#   - a test of hmm-tests that passes on the stock kernel does not pass on
#     the patched one (per driver and THP mode), or the patched kernel's
#     console shows any splat, or the patched runs did not complete.
# Everything is kept in results/upstream-check-DATE/ (-latest).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cache=${HMM_DUMMY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hmm_dummy}
timeout=${1:-3600}
runs=${UPSTREAM_REPRO_RUNS:-3}
flavour=debug
# shellcheck source=scripts/splats.sh
. "$top/scripts/splats.sh"

say() { echo ">> $*" >&2; }
die() { echo "!! $*" >&2; exit 2; }

[ -z "${KSRC:-}" ] ||
	die "upstream-check applies the series to Debian's 7.3 source itself; unset KSRC"
export KVER=7.3

series=()
for p in "$top"/patches/[0-9][0-9][0-9][0-9]-*.patch; do
	[ -f "$p" ] || continue
	case $(basename "$p") in 0000-*) continue ;; esac
	series+=("$p")
done
[ ${#series[@]} -gt 0 ] || die "no patches in $top/patches"

# The reproducers: FIXTURE.FIXTURE_device_private.NAME of every TEST_F the
# series adds (the private-memory variant: test_hmm has no coherent device
# without special-purpose memory).
repros=()
while read -r fx name; do
	repros+=("$fx.${fx}_device_private.$name")
done < <(sed -n 's/^+TEST_F\(_TIMEOUT\)\{0,1\}(\([a-z0-9_]*\), *\([a-z0-9_]*\).*/\2 \3/p' "${series[@]}")
[ ${#repros[@]} -gt 0 ] || die "the series adds no TEST_F to hmm-tests.c"

# 1. The patched tree.
src=$("$top/scripts/kernel-tree.sh" | tail -n 1)
ver=$(make -s -C "$src" kernelversion)
h=$(cat "${series[@]}" | sha256sum | cut -c1-12)
ptree=$cache/upstream/linux-$ver-series-$h
if [ ! -f "$ptree/.series-applied" ]; then
	say "copying $src to $ptree and applying ${#series[@]} patches"
	mkdir -p "$cache/upstream"
	rm -rf "$ptree" "$ptree.tmp"
	cp -a "$src" "$ptree.tmp"
	for p in "${series[@]}"; do
		patch -d "$ptree.tmp" -p1 --batch --forward --fuzz=0 --quiet \
			--no-backup-if-mismatch <"$p" ||
			die "$(basename "$p") does not apply to $src"
	done
	touch "$ptree.tmp/.series-applied"
	mv "$ptree.tmp" "$ptree"
fi

# 2. The kernels and the series' selftest.
say "stock $ver $flavour kernel"
KSRC='' "$top/scripts/build-kernel.sh" "$flavour" | tail -n 1
say "patched $ver $flavour kernel (KSRC=$ptree)"
KSRC=$ptree "$top/scripts/build-kernel.sh" "$flavour" | tail -n 1
mkdir -p "$top/build/upstream"
bin=$(KSRC=$ptree "$top/scripts/build-conformance.sh" "$top/build/upstream/hmm-tests-series" | tail -n 1)

dir=$top/results/upstream-check-$(date +%Y%m%d-%H%M%S)
mkdir -p "$dir"
ln -sfn "$(basename "$dir")" "$top/results/upstream-check-latest"

# vmrun KERNEL(stock|patched) NAME COMMAND [vm-run options]: one boot; its
# console, results and files in $dir/NAME/.  The verdict is ours, not
# vm-run.sh's (a splat is the expected result of some stock runs).
vmrun()
{
	local k=$1 name=$2 cmd=$3 ks='' d=$dir/$2
	shift 3
	[ "$k" = stock ] || ks=$ptree
	mkdir -p "$d"
	say "$name: $cmd"
	KSRC=$ks "$top/scripts/vm-run.sh" -f "$flavour" -t "$timeout" -n "$name" \
		-a "hmm/bin/hmm-tests-series=$bin" "$@" -- "$cmd" >"$d/vm-run.out" 2>&1 || true
	cp "$top/build/logs/$name.console.log" "$d/console.log" 2>/dev/null || : >"$d/console.log"
	cp "$top/build/logs/$name.results" "$d/results.raw" 2>/dev/null || : >"$d/results.raw"
	"$top/scripts/summarize.sh" "$d/results.raw" "$d" >"$d/summary.out" 2>&1 || true
}

# classify DIR DRIVER: the result of a reproducer boot for DRIVER:
# pass, skip, fail, splat, crash, missing (no TAP line) or error (never ran).
classify()
{
	local d=$1 drv=$2 log=$1/console.log tap=$1/repro-$2.tap sect

	grep -aq "UPSTREAM_CHECK_BEGIN $drv" "$log" || { echo error; return; }
	sect=$(sed -n "/UPSTREAM_CHECK_BEGIN $drv/,/UPSTREAM_CHECK_END $drv/p" "$log" | tr -d '\r')
	if grep -aEq "$splats" <<<"$sect"; then
		echo splat
	elif ! grep -aq "UPSTREAM_CHECK_END $drv" "$log"; then
		echo crash
	elif [ ! -s "$tap" ]; then
		echo missing
	elif grep -q '^not ok ' "$tap"; then
		echo fail
	elif grep -q '^ok .*# SKIP' "$tap"; then
		echo skip
	elif grep -q '^ok ' "$tap"; then
		echo pass
	else
		echo missing
	fi
}

# 3. The reproducers.
excl=()
for t in "${repros[@]}"; do
	excl+=("-T ${t##*.}")
	for k in stock patched; do
		vmrun "$k" "upstream-$k-${t##*.}" "sh /hmm/vm/upstream.sh $t $runs"
	done
done

# 4. All of hmm-tests (the reproducers left out: they ran above), the
# coherent variants included on hmm_dummy; not test_hmm's coherent mode,
# whose WARN ("Conflicting mapping in same section") ends the boot on both
# kernels and has nothing to do with the series (vm/conformance.sh).
for k in stock patched; do
	vmrun "$k" "upstream-$k-hmm-tests" 'sh /hmm/vm/conformance.sh' \
		-e HMM_TESTS_BIN=/hmm/bin/hmm-tests-series -e "CONF_EXTRA_ARGS=${excl[*]}" \
		-e CONF_COHERENT_REFERENCE=0
done

# The report.
fail=0
bad() { echo "FAIL $*"; fail=1; }
{
	echo "Series: ${#series[@]} patches (patches/), Linux $ver, $flavour kernels"
	echo "stock:   $src"
	echo "patched: $ptree"
	echo
	printf '%-34s %-10s %-8s %-8s %s\n' reproducer driver stock patched verdict
	for t in "${repros[@]}"; do
		n=${t##*.}
		for drv in test_hmm hmm_dummy; do
			s=$(classify "$dir/upstream-stock-$n" "$drv")
			p=$(classify "$dir/upstream-patched-$n" "$drv")
			v=ok
			if [ "$p" != pass ]; then
				v="FAILS PATCHED"
			elif [ "$drv" = test_hmm ]; then
				case $s in
				fail | splat | crash) ;;
				*) v="DOES NOT FAIL ON STOCK" ;;
				esac
			fi
			printf '%-34s %-10s %-8s %-8s %s\n' "$n" "$drv" "$s" "$p" "$v"
		done
	done
} | tee "$dir/table.txt"
grep -q 'FAILS PATCHED\|DOES NOT FAIL ON STOCK' "$dir/table.txt" && fail=1

# tapres FILE [RETRY-FILE]: "NAME pass|skip|fail" per test; a test that
# timed out and passed on its own in the retry counts as passed.
tapres()
{
	{
		awk '/^ok [0-9]+ / { print $3, (/# SKIP/ ? "skip" : "pass"); next }
		     /^not ok [0-9]+ / { print $4, "fail" }' "$1"
		[ ! -f "${2:-}" ] || awk '/^ok [0-9]+ / && !/# SKIP/ { print $3, "pass" }' "$2"
	} | awk '{ r[$1] = $2 } END { for (t in r) print t, r[t] }' | sort
}

echo
echo "hmm-tests (the series' hmm-tests without the reproducers), stock -> patched:"
sd=$dir/upstream-stock-hmm-tests
pd=$dir/upstream-patched-hmm-tests
regress=0
for mode in always never; do
	for drv in hmm_dummy test_hmm; do
		f=conf-$mode-$drv.tap
		if [ ! -s "$pd/$f" ]; then
			bad "patched: no hmm-tests results for $drv, THP $mode"
			continue
		fi
		if [ ! -s "$sd/$f" ]; then
			echo "note: stock: no hmm-tests results for $drv, THP $mode (nothing to compare)"
			continue
		fi
		tapres "$sd/$f" "$sd/$f.retry" >"$dir/$f.stock"
		tapres "$pd/$f" "$pd/$f.retry" >"$dir/$f.patched"
		sp=$(grep -c ' pass$' "$dir/$f.stock" || true)
		pp=$(grep -c ' pass$' "$dir/$f.patched" || true)
		r=0
		while read -r name st; do
			[ "$st" = pass ] || continue
			pst=$(awk -v n="$name" '$1 == n { print $2 }' "$dir/$f.patched")
			[ "$pst" = pass ] || { bad "REGRESSION $drv THP $mode: $name: stock pass, patched ${pst:-missing}"; r=$((r + 1)); }
		done <"$dir/$f.stock"
		regress=$((regress + r))
		printf '  %-9s THP %-6s passed: stock %3d, patched %3d; regressions: %d\n' "$drv" "$mode" "$sp" "$pp" "$r"
	done
done
if grep -aEq "$splats" "$pd/console.log"; then
	bad "patched kernel: splat in the hmm-tests boot:"
	grep -aE "$splats" "$pd/console.log" | head -n 5 | tr -d '\r' | sed 's/^/    /'
fi
if ! grep -q '^DONE' "$pd/results.txt" 2>/dev/null; then
	bad "patched kernel: the hmm-tests boot did not complete (see $pd/vm-run.out)"
fi
echo "regressions: $regress"
echo "(results: $dir)"
if [ $fail = 0 ]; then
	echo "upstream-check: PASS"
else
	echo "upstream-check: FAIL"
fi
[ $fail = 0 ]
