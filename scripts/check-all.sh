#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# check-all.sh TIMEOUT KVER:FLAVOUR[:ENGINE[:iommu]]... [-- vm-run options]
#
# `make check`: vm/check.sh (hmm_test run, unload tests, stress, the
# kernel's hmm-tests on test_hmm and hmm_dummy) on each kernel in turn, each
# in its own VM through scripts/suite.sh (results in results/check-KVER-*).
# A kernel that cannot be built or booted counts as a failure and the next
# one still runs.  Before each kernel's VM the host builds hmm_dummy with
# dkms (scripts/build-dkms.sh) and tools/hmm_test the kselftest way
# (scripts/build-kselftest.sh), and for the first kernel of version
# $IN_TREE_KVER (default 7.3) the in-tree module (scripts/build-in-tree.sh):
# vm/check.sh runs them.  The host's own checks (the man page against the
# tool, the tool's refusal of bad arguments, Documentation/*.rst through
# docutils, kernel-doc -Wall on the driver, the kernel's KTAP parser on
# each kselftest run, the patch series of patches/ against the 7.3 source)
# make a row "host".  Prints a table of the kernels and
# last the single line
#   N passed, N failed, N skipped
# adding all of them up.  Exit status 1 if anything failed.
set -uo pipefail
timeout=${1:?usage: check-all.sh TIMEOUT KVER:FLAVOUR[:ENGINE]... [-- vm-run options]}
shift
kernels=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	kernels+=("$1")
	shift
done
[ "${1:-}" != -- ] || shift
top=$(cd "$(dirname "$0")/.." && pwd)
[ ${#kernels[@]} -gt 0 ] || { echo "usage: check-all.sh TIMEOUT KVER:FLAVOUR[:ENGINE]..." >&2; exit 2; }

tp=0 tf=0 ts=0
table=()
hp=0 hf=0 ht0=$(date +%s)
host_result() # pass|fail NAME [reason]
{
	local st=$1 name=$2
	shift 2
	if [ "$st" = pass ]; then
		hp=$((hp + 1))
		echo "PASS host: $name${*:+ # $*}"
	else
		hf=$((hf + 1))
		echo "FAIL host: $name${*:+ # $*}"
	fi
}

echo "===== make check: host checks ====="
if make -s -C "$top/tools/hmm_test" >/dev/null 2>&1 &&
	mp=$("$top/scripts/check-manpage.sh" 2>&1); then
	host_result pass hmm_test.manpage "$mp"
else
	echo "$mp"
	host_result fail hmm_test.manpage "scripts/check-manpage.sh failed"
fi
# host_script NAME WHY SCRIPT: a host row from one check script, its
# output as the reason when it passes, WHY when it fails.
host_script()
{
	local name=$1 why=$2 out
	if out=$("$3" 2>&1); then
		host_result pass "$name" "$out"
	else
		echo "$out"
		host_result fail "$name" "$why"
	fi
}
# Bad input refused, every documented command line taken (host, no device).
host_script hmm_test.args "scripts/check-tool-args.sh failed" \
	"$top/scripts/check-tool-args.sh"
# The .rst documents build with docutils without a warning.
host_script docs.rst "scripts/check-docs.sh: docutils warnings or errors in Documentation/*.rst" \
	"$top/scripts/check-docs.sh"
# The upstream series (patches/) still applies to the cached 7.3 source and
# is checkpatch --strict clean; `make upstream-check` runs it.
host_script upstream.series "scripts/check-series.sh: patches/ no longer applies to Linux 7.3 or checkpatch complains" \
	"$top/scripts/check-series.sh"
inst=$(mktemp -d "${TMPDIR:-/tmp}/hmm_dummy-install.XXXXXX")
if make -s -C "$top/tools/hmm_test" install DESTDIR="$inst" PREFIX=/usr >/dev/null 2>&1 &&
	[ -x "$inst/usr/bin/hmm_test" ] && [ -f "$inst/usr/share/man/man1/hmm_test.1" ] &&
	[ -f "$inst/usr/include/linux/hmm_dummy.h" ]; then
	host_result pass hmm_test.install "make install DESTDIR PREFIX=/usr: tool, man page, uAPI header"
else
	host_result fail hmm_test.install "make install did not install the tool, the man page and the uAPI header"
fi
rm -rf "$inst"
ht=$(( $(date +%s) - ht0 ))

in_tree_kver=${IN_TREE_KVER:-7.3}
in_tree_done=0
for kf in "${kernels[@]}"; do
	# KVER[:FLAVOUR[:ENGINE[:iommu]]]: ENGINE is the copy engine's mode
	# for the leg (async|sync); the in-tree module's run on the leg uses
	# the other.  iommu: the leg's VM has an IOMMU (vm-run.sh -I).
	IFS=: read -r kver flavour engine iommu <<<"$kf"
	flavour=${flavour:-debug}
	echo
	echo "===== make check: Linux $kver, $flavour kernel${engine:+, copy_engine=$engine}${iommu:+, IOMMU}${KSRC:+ from $KSRC} ====="
	t0=$(date +%s)
	# The other ways in, built on the host for this kernel.
	extra=()
	case $engine in
	'') ;;
	async|sync)
		other=async
		[ "$engine" = sync ] || other=sync
		extra+=(-e "HMM_DUMMY_PARAMS=copy_engine=$engine"
			-e "HMM_DUMMY_INTREE_PARAMS=copy_engine=$other") ;;
	*) echo "check-all.sh: $kf: the engine is async or sync" >&2; exit 2 ;;
	esac
	case $iommu in
	'') ;;
	iommu) extra+=(-I) ;;
	*) echo "check-all.sh: $kf: the fourth field is iommu or nothing" >&2; exit 2 ;;
	esac
	fdir=$top/build/$kver-$flavour
	kb=$(KVER=$kver "$top/scripts/build-kernel.sh" "$flavour" | tail -n 1) || kb=
	# The kernel's source: kbuild's link in an O= build; a KSRC tree built
	# in place is its own.
	ksrc=$kb/source
	[ -e "$ksrc" ] || ksrc=$kb
	if [ -z "$kb" ]; then
		: # suite.sh reports the kernel that does not build
	else
		echo ">> dkms build of hmm_dummy for Linux $kver ($flavour)" >&2
		if ko=$("$top/scripts/build-dkms.sh" "$kb" "$fdir/dkms"); then
			extra+=(-a "hmm/modules/hmm_dummy-dkms.ko=$ko"
				-e "DKMS_STATUS=dkms status: $(cat "$fdir/dkms/status.txt")")
		else
			extra+=(-e "DKMS_ERROR=dkms build failed (log: $fdir/dkms/dkms.log)")
		fi
		echo ">> tools/hmm_test as a kselftest (lib.mk of Linux $kver)" >&2
		if ks=$("$top/scripts/build-kselftest.sh" "$ksrc" "$fdir/kselftest"); then
			for f in "$ks"/kselftest/*.sh "$ks"/hmm_dummy/*; do
				extra+=(-a "hmm/ksft/${f#"$ks"/}=$f")
			done
		fi
		if [ "$kver" = "$in_tree_kver" ] && [ $in_tree_done = 0 ]; then
			in_tree_done=1
			echo ">> in-tree build: the patch applied to a copy of Linux $kver, CONFIG_HMM_DUMMY=m" >&2
			it0=$(date +%s)
			if ko=$(KVER=$kver "$top/scripts/build-in-tree.sh" "$flavour" "$fdir/in-tree"); then
				p=$fdir/in-tree/0001-hmm_dummy.patch
				extra+=(-a "hmm/modules/hmm_dummy-intree.ko=$ko"
					-e "INTREE_INFO=$(grep -E '^ [0-9]+ files? changed' "$p" | sed 's/^ //'); checkpatch --strict: $(grep '^total:' "$fdir/in-tree/checkpatch.txt" | cut -d' ' -f2-7 | tr -d ,); built in $(( $(date +%s) - it0 ))s")
			else
				extra+=(-e "INTREE_ERROR=in-tree build failed (scripts/build-in-tree.sh, logs in $fdir/in-tree)")
			fi
		fi
	fi
	# kernel-doc of the driver and its uAPI header, with the first
	# kernel's script (-Wall: a function documented without its Return: or
	# parameters is a warning, and so is a STATS field without its line).
	if [ -n "$kb" ] && [ "${kdoc_done:-0}" = 0 ] && [ -x "$ksrc/scripts/kernel-doc" ]; then
		kdoc_done=1
		h0=$(date +%s)
		kd=$("$ksrc/scripts/kernel-doc" -Wall -none \
			"$top"/drivers/hmm_dummy/*.[ch] \
			"$top"/include/uapi/linux/hmm_dummy.h 2>&1 | sort -u)
		if [ -z "$kd" ]; then
			host_result pass "kernel-doc ($kver)" "scripts/kernel-doc -Wall -none drivers/hmm_dummy/*.[ch] include/uapi/linux/hmm_dummy.h: 0 warnings"
		else
			echo "$kd"
			host_result fail "kernel-doc ($kver)" "$(echo "$kd" | wc -l) kernel-doc warnings in drivers/hmm_dummy or the uAPI header"
		fi
		ht=$((ht + $(date +%s) - h0))
	fi
	name=check-${KSRC:+ksrc-}$kver
	KVER=$kver "$top/scripts/suite.sh" "$name" "$flavour" "$timeout" \
		'sh /hmm/vm/check.sh' "$@" "${extra[@]}"
	t1=$(date +%s)
	rdir=$top/results/$name-latest
	cp "$fdir/dkms/status.txt" "$rdir/dkms-status.txt" 2>/dev/null || true
	cp "$fdir/in-tree/0001-hmm_dummy.patch" "$fdir/in-tree/checkpatch.txt" "$rdir/" 2>/dev/null || true
	# The kselftest run's output through the kernel's own KTAP parser.
	h0=$(date +%s)
	if [ -f "$rdir/kselftest.tap" ] && [ -n "$kb" ]; then
		kunit=$ksrc/tools/testing/kunit/kunit.py
		# The runner's TAP, then hmm_test's own KTAP nested in it ("# ").
		sed -n 's/^# //p' "$rdir/kselftest.tap" >"$rdir/kselftest-inner.ktap"
		ok=1 got=
		for t in kselftest.tap kselftest-inner.ktap; do
			if python3 "$kunit" parse "$rdir/$t" >"$rdir/$t.parse" 2>&1 &&
				grep -q 'Testing complete\. Ran [0-9]* tests: passed: [1-9]' "$rdir/$t.parse"; then
				got+="${got:+; }$t: $(grep -o 'Ran [0-9]* tests.*' "$rdir/$t.parse")"
			else
				tail -n 20 "$rdir/$t.parse"
				ok=0
			fi
		done
		if [ $ok = 1 ]; then
			host_result pass "kselftest.ktap-parse ($kver)" "kunit.py parse: $got"
		else
			host_result fail "kselftest.ktap-parse ($kver)" "kunit.py parse did not accept $rdir/kselftest.tap"
		fi
	fi
	ht=$((ht + $(date +%s) - h0))
	sum=$rdir/summary.txt
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
	table+=("$(printf '%-6s %-18s %6d %6d %6d %6ds' "$kver" "$flavour${engine:+/$engine}${iommu:+/$iommu}" "$p" "$f" "$s" $((t1 - t0)))")
done
tp=$((tp + hp)) tf=$((tf + hf))
table+=("$(printf '%-6s %-18s %6d %6d %6d %6ds' host - "$hp" "$hf" 0 "$ht")")
echo
echo "===== make check: all kernels ====="
printf '%-6s %-18s %6s %6s %6s %7s\n' kernel kind passed failed skipped time
printf '%s\n' "${table[@]}"
echo "$tp passed, $tf failed, $ts skipped"
[ "$tf" = 0 ]
