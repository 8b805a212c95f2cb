#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# build-dkms.sh KBUILD OUTDIR
#
# `dkms add` + `dkms build` of hmm_dummy against the kernel build directory
# KBUILD (a harness kernel, scripts/build-kernel.sh), with dkms's own trees
# kept in OUTDIR (--dkmstree, --sourcetree, --installtree) so that nothing
# under /var/lib/dkms or /usr/src is touched.  Writes `dkms status` to
# OUTDIR/status.txt and prints the path of the module dkms built.
set -euo pipefail
kb=${1:?usage: build-dkms.sh KBUILD OUTDIR}
out=${2:?usage: build-dkms.sh KBUILD OUTDIR}
top=$(cd "$(dirname "$0")/.." && pwd)
command -v dkms >/dev/null || { echo "!! dkms is not installed (scripts/deps.sh)" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out"
out=$(cd "$out" && pwd)
mkdir -p "$out/tree" "$out/src" "$out/install"
src=$("$top/scripts/dkms-source.sh" "$out/src")
ver=${src##*/hmm_dummy-}
krel=$(cat "$kb/include/config/kernel.release")
trees=(--dkmstree "$out/tree" --sourcetree "$out/src" --installtree "$out/install")
log=$out/dkms.log
. "$top/scripts/lib-progress.sh"
progress_start "dkms build of hmm_dummy $ver for $krel"
{
	dkms add "${trees[@]}" "$src" &&
	dkms build "${trees[@]}" -m hmm_dummy -v "$ver" -k "$krel" \
		--kernelsourcedir "$kb"
} >"$log" 2>&1 || {
	progress_stop
	cat "$log" "$out/tree/hmm_dummy/$ver/build/make.log" >&2 2>/dev/null || true
	echo "!! dkms build of hmm_dummy $ver for $krel failed (log: $log)" >&2
	exit 1
}
progress_stop
dkms status "${trees[@]}" -k "$krel" hmm_dummy/"$ver" >"$out/status.txt"
ko=$out/tree/hmm_dummy/$ver/$krel/$(uname -m)/module/hmm_dummy.ko
[ -f "$ko" ] || ko=$(find "$out/tree/hmm_dummy/$ver/$krel" -name 'hmm_dummy.ko*' | head -n 1)
[ -n "$ko" ] && [ -f "$ko" ] || { echo "!! dkms built no hmm_dummy.ko (log: $log)" >&2; exit 1; }
echo "$ko"
