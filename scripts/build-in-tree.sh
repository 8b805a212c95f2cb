#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# build-in-tree.sh FLAVOUR OUTDIR
#
# The in-tree build of hmm_dummy for the harness kernel $KVER/FLAVOUR:
#   1. scripts/in-tree-patch.sh writes the patch for that kernel's source;
#      the kernel's checkpatch.pl --strict must find nothing in it
#      (OUTDIR/checkpatch.txt);
#   2. the patch is applied to a copy of the source (hard links, with the
#      files the patch changes copied for real: the cached source is never
#      modified);
#   3. a new object directory gets the harness kernel's .config plus
#      CONFIG_HMM_DUMMY=m (olddefconfig; nothing else may change), runs
#      `make modules_prepare` and builds drivers/misc/hmm_dummy/hmm_dummy.ko
#      as a single target, modpost reading the harness kernel's
#      vmlinux.o.  The vmlinux of that configuration is the harness
#      kernel's (CONFIG_HMM_DUMMY is used by nothing else), so the module is
#      loaded into the harness's own bzImage instead of a second kernel build.
# Prints the path of the module.
set -euo pipefail
flavour=${1:?usage: build-in-tree.sh FLAVOUR OUTDIR}
out=${2:?usage: build-in-tree.sh FLAVOUR OUTDIR}
top=$(cd "$(dirname "$0")/.." && pwd)
kb=$("$top/scripts/build-kernel.sh" "$flavour" | tail -n 1)
src=$(readlink -f "$kb/source")
[ -f "$src/Makefile" ] || { echo "!! no kernel source behind $kb/source" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out"
out=$(cd "$out" && pwd)
mkdir -p "$out"
log=$out/build.log
fail() { progress_stop; echo "!! in-tree build: $* (log: $log)" >&2; exit 1; }
. "$top/scripts/lib-progress.sh"
progress_start "in-tree build (patch, checkpatch --strict, CONFIG_HMM_DUMMY=m)"

patch=$("$top/scripts/in-tree-patch.sh" "$src" "$out/0001-hmm_dummy.patch")
"$src/scripts/checkpatch.pl" --strict "$patch" >"$out/checkpatch.txt" 2>"$out/checkpatch.err" || true
grep -q '^total: 0 errors, 0 warnings, 0 checks' "$out/checkpatch.txt" ||
	{ cat "$out/checkpatch.txt" >&2; fail "checkpatch.pl --strict is not clean on $patch"; }

tree=$out/src
cp -al "$src" "$tree"
rm -f "$tree/.extracted"
for f in $(sed -n 's|^diff --git a/\([^ ]*\) b/.*|\1|p' "$patch"); do
	if [ -e "$tree/$f" ]; then
		cp "$tree/$f" "$tree/$f.copy"
		mv -f "$tree/$f.copy" "$tree/$f"
	fi
done
patch -d "$tree" -p1 -s --no-backup-if-mismatch <"$patch" >>"$log" 2>&1 || fail "the patch does not apply"

obj=$out/obj
mkdir -p "$obj"
cp "$kb/.config" "$obj/.config"
"$tree/scripts/config" --file "$obj/.config" -m HMM_DUMMY
jobs=$(( $(nproc) + 1 ))
{
	make -C "$tree" O="$obj" olddefconfig
} >>"$log" 2>&1 || fail "olddefconfig failed"
grep -qx 'CONFIG_HMM_DUMMY=m' "$obj/.config" || fail "CONFIG_HMM_DUMMY=m did not survive olddefconfig"
d=$(diff <(grep '^CONFIG_' "$kb/.config") <(grep '^CONFIG_' "$obj/.config") | grep '^[<>]' || true)
[ "$d" = "> CONFIG_HMM_DUMMY=m" ] ||
	fail "the configuration differs from the harness kernel's by more than CONFIG_HMM_DUMMY: $d"
# modpost of an in-tree module reads the exports of vmlinux.o: the harness
# kernel's, read-only through a symbolic link.
ln -s "$kb/vmlinux.o" "$obj/vmlinux.o"
{
	make -C "$tree" O="$obj" -j"$jobs" modules_prepare &&
	make -C "$tree" O="$obj" -j"$jobs" W=1 drivers/misc/hmm_dummy/hmm_dummy.ko
} >>"$log" 2>&1 || { tail -n 30 "$log" >&2; fail "the build failed"; }
grep -E 'warning:|error:' "$log" >&2 || true
ko=$obj/drivers/misc/hmm_dummy/hmm_dummy.ko
[ -f "$ko" ] || fail "no $ko"
# The module is built; the patched copy of the source is not needed any more.
rm -rf "$tree"
progress_stop
echo "$ko"
