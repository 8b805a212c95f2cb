#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# build-module.sh KDIR OUTDIR [make args...]
#
# Builds hmm_dummy.ko against the kernel build KDIR.  Linux 6.12's kbuild puts
# the objects of an external module next to its sources, so to keep one build
# per kernel (debug and fast) the sources (drivers/hmm_dummy and include) are
# copied to OUTDIR first.  Prints the path of the .ko on stdout.
# Exit status 3: there is no driver source (drivers/hmm_dummy/Kbuild) yet.
set -euo pipefail
kdir=${1:?usage: build-module.sh KDIR OUTDIR}
out=${2:?usage: build-module.sh KDIR OUTDIR}
shift 2
top=$(cd "$(dirname "$0")/.." && pwd)

if [ ! -f "$top/drivers/hmm_dummy/Kbuild" ] && [ ! -f "$top/drivers/hmm_dummy/Makefile" ]; then
	echo "!! no drivers/hmm_dummy/Kbuild: hmm_dummy.ko not built" >&2
	exit 3
fi
mkdir -p "$out/drivers/hmm_dummy" "$out/include"
excl=(--exclude='*.o' --exclude='*.ko' --exclude='*.mod' --exclude='*.mod.c'
      --exclude='.*.cmd' --exclude='modules.order' --exclude='Module.symvers'
      --exclude='.*.d' --exclude='*.a')
rsync -a --delete "${excl[@]}" "$top/drivers/hmm_dummy/" "$out/drivers/hmm_dummy/"
rsync -a --delete "$top/include/" "$out/include/"
log=$out/build.log
. "$top/scripts/lib-progress.sh"
progress_start "building hmm_dummy.ko against $kdir"
if ! make -C "$kdir" M="$out/drivers/hmm_dummy" "$@" modules >"$log" 2>&1; then
	progress_stop
	cat "$log" >&2
	echo "!! hmm_dummy.ko failed to build against $kdir (log: $log)" >&2
	exit 1
fi
progress_stop
# Show compiler warnings, if any, but not kbuild's progress lines.
grep -E 'warning:|error:' "$log" >&2 || true
echo "$out/drivers/hmm_dummy/hmm_dummy.ko"
