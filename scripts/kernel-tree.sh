#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# kernel-tree.sh [--key]
#
# Prints the source tree of the test kernel (absolute path):
#   KSRC set   that tree (a git checkout or a plain source tree), used as
#              it is; scripts/build-kernel.sh builds it out of tree into
#              the cache, or in place if it has a .config
#   KOBJ set   (and no KSRC) the tree of that O= build directory, which
#              its `source` link names
#   otherwise  Debian's source package of $KVER (scripts/kernel-source.sh),
#              extracted once into the cache.
# With --key, prints instead a short identifier of the tree's content for
# cache keys: the Debian tarball's name; for KSRC, `git describe --dirty`
# plus a hash of `git diff HEAD` in a git checkout, else a hash of the
# files under mm/, include/ and lib/test_hmm*.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cache=${HMM_DUMMY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hmm_dummy}
key=0
[ "${1:-}" != --key ] || key=1

if [ -z "${KSRC:-}" ] && [ -n "${KOBJ:-}" ]; then
	[ -e "$KOBJ/source" ] || { echo "!! KOBJ=$KOBJ has no 'source' link to its tree: set KSRC too" >&2; exit 1; }
	KSRC=$KOBJ/source
fi
if [ -n "${KSRC:-}" ]; then
	src=$(cd "$KSRC" 2>/dev/null && pwd -P) || { echo "!! KSRC=$KSRC: no such directory" >&2; exit 1; }
	if [ ! -f "$src/Makefile" ] || [ ! -f "$src/mm/migrate_device.c" ]; then
		echo "!! KSRC=$src is not a kernel source tree with mm/migrate_device.c" >&2
		exit 1
	fi
	if [ ! -f "$src/.config" ] && [ -d "$src/include/config" ]; then
		echo "!! KSRC=$src has include/config but no .config: 'make mrproper' there" \
			"(or configure it again)" >&2
		exit 1
	fi
	if [ $key = 0 ]; then
		echo "$src"
	elif [ "$(git -C "$src" rev-parse --show-toplevel 2>/dev/null)" = "$src" ]; then
		d=$(git -C "$src" describe --tags --always --dirty --abbrev=12 | tr '/ ' '__')
		h=$(git -C "$src" diff HEAD | sha256sum | cut -c1-8)
		echo "git-$d-$h"
	else
		dirs=()
		for d in mm include lib; do
			[ ! -d "$src/$d" ] || dirs+=("$d")
		done
		h=$(cd "$src" && find "${dirs[@]}" -path 'lib/*' ! -name 'test_hmm*' -prune -o \
			-type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum | sha256sum | cut -c1-12)
		echo "tree-$h"
	fi
	exit 0
fi

kver=${KVER:-7.3}
tarball=$("$top/scripts/kernel-source.sh" "$kver" | tail -n 1)
name=$(basename "$tarball" .tar.xz)
if [ $key = 1 ]; then
	echo "$name"
	exit 0
fi
src=$cache/src/$name
mkdir -p "$cache/src"
exec {srclock}>"$cache/.lock-src"
flock "$srclock"
if [ ! -f "$src/.extracted" ]; then
	echo ">> extracting $tarball into $cache/src" >&2
	rm -rf "$src"
	mkdir -p "$src"
	. "$top/scripts/lib-progress.sh"
	progress_start "extracting $(basename "$tarball")"
	tar -C "$src" --strip-components=1 -xf "$tarball"
	progress_stop
	touch "$src/.extracted"
fi
echo "$src"
