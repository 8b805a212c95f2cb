#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# mutation.sh [-t SECONDS] [-o DIR] [-p PATTERN] [-I] [SABOTAGE...]
#
# Does the suite catch a broken driver?  For each SABOTAGE (default: no-free
# no-copy) a copy of drivers/hmm_dummy gets one small, named breakage, is
# built against the cached test kernel ($KVER, default 7.3; $FLAVOUR,
# default fast) and `hmm_test run --count-checks` runs in the VM with it.
# Prints, per sabotage, how many and which cases fail; a case never reported
# (the guest crashed or the VM timed out) counts as failing, and the line
# says so.  `none` is the unbroken driver (the baseline, and the per-case
# check counts).  Not part of `make check` (each run is a full suite run).
#
#   no-free  the dev_pagemap free callback (folio_free, page_free before
#            6.19) does not give the pages back to the driver's allocator
#   no-copy  migration to and from the device skips the data copy (the
#            copy engine runs the migrations' jobs without copying)
#   no-inval-wait  the mmu notifier does not wait for the device accesses
#            in flight (their fence) before it returns
#   no-dma-unmap  the mmu notifier leaves the DMA mappings of the entries
#            it removes (the next mapping of the slot meets the old one)
#   dma-unmap-early  the mmu notifier unmaps before it waits for the
#            device accesses in flight: with -I, a job then meets an IOVA
#            the IOMMU no longer translates (a DMA fault); without an
#            IOMMU it writes into a page the kernel may already reuse
#   no-fault-budget  a device fault retries for as long as invalidations
#            of its range go on: the driver ignores fault_timeout_ms and
#            gives the core no deadline either
#   coherent-backing  a coherent device keeps its data in separate backing
#            pages, as a private one does, instead of in the coherent page
#            the CPU maps (the CPU and the device then see different data)
#   no-split-record  folio_split leaves a new piece's zone_device_data as
#            it was, not pointing at the piece's record (folio_free WARNs
#            and falls back: caught as a splat, not by a case)
#   free-under-job  folio_free gives every page of the folio back at once,
#            even one a copy job still holds (hmm_dummy_page_hold()).  The
#            driver's waits keep jobs from outliving a free, so only
#            together with no-inval-wait does a case see it:
#            no-inval-wait+free-under-job
#
#   A SABOTAGE of several names joined by + applies all of them.
#
#   -t  VM timeout per sabotage in seconds (default 1800)
#   -p  run only the cases matching PATTERN (as `hmm_test run PATTERN`)
#   -I  boot with the IOMMU (vm-run.sh -I)
#   -o  where the outputs go (default build/mutation): NAME.ktap (the run's
#       output), NAME.failed (failing cases), NAME.checks ("case N" lines)
# A sabotage whose run showed a kernel splat (vm-run.sh's status 2: a
# WARNING, BUG, KASAN or lockdep report, a crash or a hang) counts as caught
# too, since make check fails on one; the summary line says so.
# Exit status: 0 when every sabotage was caught (and `none` failed no case
# and made no splat), 1 otherwise, 2 when a sabotage no longer applies or
# does not build.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export KVER=${KVER:-7.3}
flavour=${FLAVOUR:-fast}
timeout=1800
pattern=
iommu=()
out=$top/build/mutation
while getopts 't:o:p:I' o; do
	case $o in
	t) timeout=$OPTARG ;;
	p) pattern=$OPTARG ;;
	I) iommu=(-I) ;;
	o) out=$OPTARG ;;
	*) sed -n '4,54s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || set -- no-free no-copy
mkdir -p "$out"
die() { echo "!! mutation: $*" >&2; exit 2; }

# subst FILE OLD NEW: replace the one line of FILE that contains the fixed
# string OLD by NEW; dies when OLD is not there exactly once.
subst()
{
	local n
	n=$(grep -cF -- "$2" "$1" || true)
	[ "$n" = 1 ] || die "sabotage no longer applies: '$2' is in $(basename "$1") $n times, not once"
	OLD=$2 NEW=$3 perl -i -pe 'if (index($_, $ENV{OLD}) >= 0) { $_ = "$ENV{NEW}\n" }' "$1"
}

# sabotage NAME DIR: break the driver sources in DIR/drivers/hmm_dummy.
sabotage()
{
	local d=$2/drivers/hmm_dummy
	case $1 in
	none) ;;
	no-free)
		subst "$d/devmem.c" 'reap = release_folio_pages(hdev, dp, order);' \
			'	reap = 0 ? release_folio_pages(hdev, dp, order) : false; /* sabotage no-free */'
		;;
	no-copy)
		# The engine runs every copy; only the migrations' jobs skip.
		subst "$d/engine.c" 'for (i = 0; i < job->n; i++) {' \
			'		for (i = 0; job->kind == HMM_DUMMY_JOB_ACCESS && i < job->n; i++) { /* sabotage no-copy */'
		;;
	no-inval-wait)
		subst "$d/mirror.c" 'dma_fence_wait(fence, false);' \
			'		(void)fence; /* sabotage no-inval-wait */'
		;;
	no-dma-unmap)
		subst "$d/mirror.c" 'mirror_unmap(mirror, mn, mirror_slot(start), mirror_slot(last),' \
			'	if (0) mirror_unmap(mirror, mn, mirror_slot(start), mirror_slot(last), /* sabotage no-dma-unmap */'
		;;
	dma-unmap-early)
		subst "$d/mirror.c" 'if (fence && !dma_fence_is_signaled(fence)) {' \
			'	mirror_unmap(mirror, mn, mirror_slot(start), mirror_slot(last), blockable); /* sabotage dma-unmap-early */ if (fence && !dma_fence_is_signaled(fence)) {'
		;;
	no-fault-budget)
		subst "$d/mirror.c" 'if (time_after(jiffies, timeout))' \
			'		if (0 && time_after(jiffies, timeout)) /* sabotage no-fault-budget */'
		subst "$d/mirror.c" 'ret = hmm_dummy_range_fault_unlocked(range, budget);' \
			'			ret = hmm_dummy_range_fault_unlocked(range, 0);'
		;;
	coherent-backing)
		subst "$d/devmem.c" 'if (spm_addr)' \
			'	if (0 && spm_addr) /* sabotage coherent-backing */'
		;;
	no-split-record)
		subst "$d/devmem.c" 'tail->page.zone_device_data = tdp;' \
			'	/* sabotage no-split-record */'
		;;
	free-under-job)
		# The page is given back with the job's reference still on it.
		subst "$d/devmem.c" 'if (refcount_dec_and_test(&dp[i].users))' \
			'		if (1) /* sabotage free-under-job */'
		;;
	*) die "unknown sabotage '$1' (none, no-free, no-copy, no-inval-wait, no-dma-unmap, dma-unmap-early, no-fault-budget, coherent-backing, no-split-record, free-under-job)" ;;
	esac
	[ "$1" = none ] || grep -q "sabotage $1" "$d"/*.c || die "sabotage $1 did not apply"
}

kb=$("$top/scripts/build-kernel.sh" "$flavour" | tail -n 1)
make -s -C "$top/tools/hmm_test"
mapfile -t cases < <("$top/tools/hmm_test/hmm_test" run --list ${pattern:+"$pattern"} |
	awk '{ print $1 }')
[ ${#cases[@]} -gt 0 ] || die "hmm_test run --list lists no case"
qpattern=
[ -z "$pattern" ] || qpattern=$(printf '%q' "$pattern")

summary=()
rc=0
for s in "$@"; do
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/hmm_dummy-mutation.XXXXXX")
	mkdir -p "$tmp/drivers" "$tmp/scripts"
	cp -r "$top/drivers/hmm_dummy" "$tmp/drivers/"
	cp -r "$top/include" "$tmp/"
	cp "$top/scripts/build-module.sh" "$top/scripts/lib-progress.sh" "$tmp/scripts/"
	IFS=+ read -ra parts <<<"$s"
	for part in "${parts[@]}"; do
		sabotage "$part" "$tmp"
	done
	ko=$("$tmp/scripts/build-module.sh" "$kb" "$tmp/out") ||
		die "the driver with sabotage $s did not build"
	echo ">> mutation $s: running the suite on $KVER $flavour" >&2
	vrc=0
	"$top/scripts/vm-run.sh" "${iommu[@]}" -f "$flavour" -t "$timeout" -n "mutation-$KVER-$flavour-$s" \
		-a "hmm/sab/hmm_dummy.ko=$ko" -- \
		". /hmm/vm/lib.sh; insmod /hmm/sab/hmm_dummy.ko \$(spm_params); /hmm/bin/hmm_test run --count-checks $qpattern 2>&1 | tee -a \"\$HMM_RESULTS\"" \
		>/dev/null 2>"$out/$s.vm.log" || vrc=$?
	rm -rf "$tmp"
	res=$top/build/logs/mutation-$KVER-$flavour-$s.results
	tr -d '\r' <"$res" >"$out/$s.ktap"
	awk '$1 == "#" && $2 == "checks" { print $3, $4 }' "$out/$s.ktap" >"$out/$s.checks"
	: >"$out/$s.failed"
	missing=0
	for c in "${cases[@]}"; do
		if grep -qE "^ok [0-9]+ $c( |\$)" "$out/$s.ktap"; then
			continue
		elif grep -qE "^not ok [0-9]+ $c( |\$)" "$out/$s.ktap"; then
			echo "$c" >>"$out/$s.failed"
		else
			echo "$c (not reported)" >>"$out/$s.failed"
			missing=$((missing + 1))
		fi
	done
	nf=$(wc -l <"$out/$s.failed")
	line="$s: $nf of ${#cases[@]} cases fail"
	[ $missing = 0 ] || line+=" ($missing not reported: the VM crashed or timed out, vm-run status $vrc)"
	splat=0
	if [ $missing = 0 ] && [ $vrc = 2 ]; then
		splat=1
		line+=" (and a kernel splat:$(grep -m1 '^!!   ' "$out/$s.vm.log" | cut -c4-120 || true))"
	fi
	summary+=("$line")
	echo "== $line"
	sed 's/^/   /' "$out/$s.failed"
	if [ "$s" = none ]; then
		[ "$nf" = 0 ] && [ $splat = 0 ] || rc=1
	else
		[ "$nf" -gt 0 ] || [ $splat = 1 ] || rc=1
	fi
done
echo "== mutation summary ($KVER $flavour)"
printf '%s\n' "${summary[@]}"
exit $rc
