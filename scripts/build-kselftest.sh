#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# build-kselftest.sh KSRC OUTDIR
#
# Builds tools/hmm_test the kselftest way, with the kselftest lib.mk of the
# kernel source KSRC: a scratch tools/testing/selftests holding KSRC's
# lib.mk and kselftest/ with a copy of tools/hmm_test as hmm_dummy/, then
# lib.mk's `install` into OUTDIR/install/hmm_dummy and `emit_tests` into
# OUTDIR/install/kselftest-list.txt; the kselftest runner of KSRC goes to
# OUTDIR/install/kselftest.  Prints OUTDIR/install.
set -euo pipefail
ksrc=${1:?usage: build-kselftest.sh KSRC OUTDIR}
out=${2:?usage: build-kselftest.sh KSRC OUTDIR}
top=$(cd "$(dirname "$0")/.." && pwd)
ks=$ksrc/tools/testing/selftests
[ -f "$ks/lib.mk" ] && [ -f "$ks/kselftest/runner.sh" ] ||
	{ echo "!! no kselftest lib.mk/runner.sh in $ksrc" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out"
out=$(cd "$out" && pwd)
sd=$out/tree/tools/testing/selftests
mkdir -p "$sd" "$out/install"
cp "$ks/lib.mk" "$sd/"
cp -r "$ks/kselftest" "$sd/"
rsync -a --exclude='*.o' --exclude='*.d' --exclude=hmm_test \
	"$top/tools/hmm_test/" "$sd/hmm_dummy/"
log=$out/build.log
# The copy finds neither the uAPI header nor the driver's counters.h
# (dev.c includes it) of the repository by itself.
mk=(make -C "$sd/hmm_dummy" HMM_DUMMY_UAPI="$top/include/uapi"
    HMM_DUMMY_DRIVER="$top/drivers/hmm_dummy")
. "$top/scripts/lib-progress.sh"
progress_start "kselftest build of tools/hmm_test"
{
	"${mk[@]}" &&
	"${mk[@]}" INSTALL_PATH="$out/install/hmm_dummy" install &&
	make -s -C "$sd/hmm_dummy" COLLECTION=hmm_dummy emit_tests \
		>"$out/install/kselftest-list.txt"
} >"$log" 2>&1 || { progress_stop; cat "$log" >&2; echo "!! kselftest build failed (log: $log)" >&2; exit 1; }
progress_stop
cp -r "$ks/kselftest" "$out/install/"
echo "$out/install"
