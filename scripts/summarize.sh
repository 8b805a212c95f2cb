#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# summarize.sh RESULTS OUTDIR
#
# Turns the results channel of a VM run (see vm/lib.sh) into the summary:
# writes every FILE block to OUTDIR/NAME, prints each result, the output of
# `hmm_test run` counted by its own last line "N passed, N failed, N skipped",
# the conformance report (scripts/conformance-report.sh) if there are
# conformance results, and last the line "N passed, N failed, N skipped".
# Exit status 1 if anything failed.
set -euo pipefail
res=${1:?usage: summarize.sh RESULTS OUTDIR}
out=${2:?usage: summarize.sh RESULTS OUTDIR}
top=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
[ -f "$res" ] || : >"$res"

# Split the FILE ... ENDFILE blocks out.
tr -d '\r' <"$res" | awk -v out="$out" '
	/^FILE / && !f { f = out "/" $2; printf "" >f; next }
	f && $0 == "ENDFILE " substr(f, length(out) + 2) { close(f); f = ""; next }
	f { print >>f; next }
	/^(RESULT|EXIT|LEAKS|NOTE|DONE)/ { print >>(out "/results.txt") }
'
touch "$out/results.txt"

p=0 f=0 s=0
while read -r _ st name rest; do
	case $st in
	pass) p=$((p + 1)); echo "PASS $name${rest:+ $rest}" ;;
	skip) s=$((s + 1)); echo "SKIP $name${rest:+ $rest}" ;;
	*) f=$((f + 1)); echo "FAIL $name${rest:+ $rest}" ;;
	esac
done < <(grep '^RESULT ' "$out/results.txt" || true)

if [ -f "$out/hmm_test-run.txt" ]; then
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$out/hmm_test-run.txt" | tail -n 1 || true)
	if [ -n "$line" ]; then
		read -r rp _ rf _ rs _ <<<"${line//,/}"
		p=$((p + rp)) f=$((f + rf)) s=$((s + ${rs:-0}))
		grep -E '^ *not ok ' "$out/hmm_test-run.txt" | sed 's/^ */FAIL hmm_test run: /' || true
		echo "hmm_test run: $line"
	else
		f=$((f + 1))
		echo "FAIL hmm_test run: no summary line (crashed?); output in $out/hmm_test-run.txt"
	fi
fi

if compgen -G "$out/conf-*.tap" >/dev/null; then
	echo
	echo "Conformance: the kernel's hmm-tests, test_hmm.ko against hmm_dummy.ko in the same boot"
	"$top/scripts/conformance-report.sh" "$out" >"$out/conformance.txt" || true
	grep -v '^CONFORMANCE' "$out/conformance.txt"
	read -r _ cp cf cs < <(grep '^CONFORMANCE' "$out/conformance.txt")
	p=$((p + cp)) f=$((f + cf)) s=$((s + cs))
	echo "conformance: $cp passed, $cf failed, $cs skipped (report: $out/conformance.txt)"
fi

while read -r _ n what; do
	[ "$n" != 0 ] || continue
	f=$((f + 1))
	echo "FAIL kmemleak: $n suspected leaks${what:+ after: $what}"
done < <(grep '^LEAKS ' "$out/results.txt" || true)
grep '^NOTE ' "$out/results.txt" | sed 's/^NOTE /note: /' || true
echo "$p passed, $f failed, $s skipped" >"$out/summary.txt"
[ "$f" = 0 ]
