#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# conformance-report.sh DIR
#
# Side-by-side report of the kernel's hmm-tests run against test_hmm.ko and
# hmm_dummy.ko in one boot.  DIR holds conf-MODE-test_hmm.tap and
# conf-MODE-hmm_dummy.tap (MODE = THP mode) as written by vm/conformance.sh,
# and maybe conf-MODE-test_hmm-coherent.tap, test_hmm's run with coherent
# devices, whose results for the device coherent variants replace those of
# conf-MODE-test_hmm.tap (where they skipped).
# Prints one line per test (name, result on test_hmm, result on hmm_dummy)
# and the totals for each, and last the line
#   CONFORMANCE <passed> <failed> <skipped>
# counting, for every THP mode and test: passed = passes on hmm_dummy;
# failed = fails (or is missing) on hmm_dummy but passes on test_hmm;
# skipped = skipped on hmm_dummy, or fails on both (marked "fails on
# reference too").  Exit status 1 if anything failed in that sense.
# A test named for kernel $KVER in scripts/conformance-expected.txt (lines
# "KVER TEST REASON") that passes on test_hmm and fails on hmm_dummy is
# counted as skipped and marked "expected", with the reason: for gaps that
# are known and tracked, never to hide a regression.
# When DIR holds conf-no-reference (vm/conformance.sh with CONF_REFERENCE=0,
# `make quick`), there is no test_hmm run: a test that fails on hmm_dummy
# counts as failed, unless it is expected.
set -euo pipefail
dir=${1:?usage: conformance-report.sh DIR}
shopt -s nullglob
top=$(cd "$(dirname "$0")/.." && pwd)
expected=$(awk -v k="${KVER:-7.3}" '$1 == k { printf "%s ", $2 }' \
	"$top/scripts/conformance-expected.txt" 2>/dev/null || true)

modes=$(for f in "$dir"/conf-*-test_hmm.tap "$dir"/conf-*-hmm_dummy.tap; do
	b=${f##*/conf-}; echo "${b%-*.tap}"; done | sort -u)
[ -n "$modes" ] || { echo "!! no conformance results in $dir" >&2; echo "CONFORMANCE 0 1 0"; exit 1; }

tp=0 tf=0 ts=0
for mode in $modes; do
	ref=$dir/conf-$mode-test_hmm.tap
	dut=$dir/conf-$mode-hmm_dummy.tap
	[ -f "$ref" ] || ref=/dev/null
	[ -f "$dut" ] || dut=/dev/null
	refr=$ref.retry dutr=$dut.retry refc=$dir/conf-$mode-test_hmm-coherent.tap
	[ -f "$refr" ] || refr=/dev/null
	[ -f "$refc" ] || refc=/dev/null
	[ -f "$dutr" ] || dutr=/dev/null
	noref=0
	[ ! -f "$dir/conf-no-reference" ] || noref=1
	out=$(awk -v mode="$mode" -v refname="$ref" -v dutname="$dut" -v noref=$noref \
		-v refretry="$refr" -v dutretry="$dutr" -v refcoh="$refc" \
		-v expected=" $expected" '
	# KTAP result lines of the kselftest harness:
	#   ok N name | ok N name # SKIP why | not ok N name [#  why]
	function parse(line,   st, name) {
		sub(/\r$/, "", line)
		if (line ~ /^not ok [0-9]+ /) { st = "FAIL"; sub(/^not ok [0-9]+ /, "", line) }
		else if (line ~ /^ok [0-9]+ /) { st = "pass"; sub(/^ok [0-9]+ /, "", line) }
		else return ""
		if (line ~ / # (SKIP|skip)/) st = "skip"
		else if (line ~ / # XFAIL/) st = "xfail"
		name = line; sub(/ #.*/, "", name); sub(/[ \t]+$/, "", name)
		if (name == "" || name ~ /^#/) return ""
		return st "\t" name
	}
	{
		file = FILENAME == refname ? 1 : FILENAME == dutname ? 2 : \
		       FILENAME == refretry ? 3 : FILENAME == refcoh ? 5 : 4
		r = parse($0); if (r == "") next
		split(r, a, "\t")
		# The coherent reference run counts for coherent variants only.
		if (file == 5) {
			if (a[2] ~ /_device_coherent\./) res[1, a[2]] = a[1]
			next
		}
		if (file <= 2 && !(a[2] in seen)) { seen[a[2]] = 1; order[++n] = a[2] }
		res[file, a[2]] = a[1]
	}
	END {
		printf "THP %s\n", mode
		printf "%-58s %-10s %s\n", "test", "test_hmm", "hmm_dummy"
		for (i = 1; i <= n; i++) {
			t = order[i]
			r = ((1, t) in res) ? res[1, t] : "missing"
			d = ((2, t) in res) ? res[2, t] : "missing"
			# A test that timed out and passed when run again alone.
			if (r == "FAIL" && res[3, t] == "pass") { r = "pass*"; retried++ }
			if (d == "FAIL" && res[4, t] == "pass") { d = "pass*"; retried++ }
			rp = r; sub(/\*$/, "", rp)
			note = ""
			if (d ~ /^pass/) p++
			else if (d == "skip" || d == "xfail") s++
			else if ((rp == "pass" || noref) && index(expected, " " t " ")) { s++; note = "  (expected on this kernel, see scripts/conformance-expected.txt)" }
			else if (noref) { f++; note = "  <-- FAILS (no test_hmm run to compare with)" }
			else if (rp == "pass") { f++; note = "  <-- REGRESSION: passes on test_hmm" }
			else if (r == "skip") { s++; note = "  (skipped on test_hmm)" }
			else { s++; note = "  (fails on test_hmm too)" }
			if (noref) r = "-"
			else if (note == "" && rp != d && rp "*" != d) note = "  <-- differs"
			printf "%-58s %-10s %s%s\n", t, r, d, note
			sub(/\*$/, "", d)
			cnt[1, rp]++; cnt[2, d]++
		}
		if (noref)
			printf "totals THP %s: test_hmm not run; hmm_dummy %d passed, %d failed, %d skipped%s\n",
				mode, cnt[2, "pass"], cnt[2, "FAIL"] + cnt[2, "missing"], cnt[2, "skip"] + cnt[2, "xfail"],
				(dutname == "/dev/null" ? " (no hmm_dummy run)" : "")
		else printf "totals THP %s: test_hmm %d passed, %d failed, %d skipped; hmm_dummy %d passed, %d failed, %d skipped%s\n",
			mode, cnt[1, "pass"], cnt[1, "FAIL"] + cnt[1, "missing"], cnt[1, "skip"] + cnt[1, "xfail"],
			cnt[2, "pass"], cnt[2, "FAIL"] + cnt[2, "missing"], cnt[2, "skip"] + cnt[2, "xfail"],
			(dutname == "/dev/null" ? " (no hmm_dummy run)" : "")
		if (retried)
			printf "(pass* = killed by kselftest\x27s 30 s timeout, passed when run again on its own)\n"
		printf "COUNTS %d %d %d\n", p, f, s
	}' "$ref" "$dut" "$refr" "$dutr" "$refc")
	echo "$out" | grep -v '^COUNTS'
	echo
	read -r _ p f s < <(echo "$out" | grep '^COUNTS')
	tp=$((tp + p)) tf=$((tf + f)) ts=$((ts + s))
done
echo "CONFORMANCE $tp $tf $ts"
[ "$tf" = 0 ]
