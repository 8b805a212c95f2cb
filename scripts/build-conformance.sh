#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# build-conformance.sh OUT
#
# Builds the kernel's HMM selftest, hmm-tests.c, unmodified and statically
# linked, from the source of the test kernel (scripts/kernel-tree.sh: $KSRC,
# or Debian's source of $KVER, 7.3 by default).  6.1 keeps it in
# tools/testing/selftests/vm, later kernels in selftests/mm.  7.3's needs
# vm_util.c and hugepage_settings.c beside it and UAPI headers newer than
# Debian 12's (struct procmap_query, struct pm_scan_arg), so it is built
# against the tree's own `make headers_install` output (made with O= into
# the cache; in the build directory of a tree configured in place or of
# KOBJ; with KIMAGE, where nothing is built, the usr/include that directory
# already has).
# Prints OUT on stdout.
set -euo pipefail
out=${1:?usage: build-conformance.sh OUT}
top=$(cd "$(dirname "$0")/.." && pwd)
cache=${HMM_DUMMY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hmm_dummy}
src=$("$top/scripts/kernel-tree.sh" | tail -n 1)
st=$src/tools/testing/selftests
dir=$st/mm
[ -f "$dir/hmm-tests.c" ] || dir=$st/vm
c=$dir/hmm-tests.c
[ -f "$c" ] || { echo "!! no hmm-tests.c in $st" >&2; exit 1; }
srcs=("$c")
flags=(-static -O2 -Wall -I "$src" -I "$st" -I "$dir")
if grep -q '"hugepage_settings.h"\|vm_util.h' "$c"; then
	# The newer selftest: its helpers and the tree's own UAPI headers.
	for f in vm_util.c hugepage_settings.c thp_settings.c; do
		if grep -q "${f%.c}.h" "$c" "$dir/vm_util.h" 2>/dev/null && [ -f "$dir/$f" ]; then
			srcs+=("$dir/$f")
		fi
	done
	# Keyed by what makes the UAPI headers: for a tree of one's own not
	# by its whole content, so that an edit under mm/ does not install
	# them again.
	if [ -n "${KSRC:-}${KOBJ:-}" ]; then
		ukey=ksrc-$(cd "$src" && find include/uapi arch/x86/include/uapi \
			arch/x86/entry/syscalls scripts/headers_install.sh -type f -print0 |
			LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)
	else
		ukey=$("$top/scripts/kernel-tree.sh" --key)
	fi
	hdr=$cache/uapi/$ukey
	if [ ! -f "$hdr/.done" ]; then
		echo ">> make headers_install for $src (selftest UAPI headers)" >&2
		rm -rf "$hdr"
		. "$top/scripts/lib-progress.sh"
		progress_start "make headers_install"
		obj=${KOBJ:-}
		[ -n "$obj" ] || [ ! -f "$src/.config" ] || obj=$src
		if [ -z "$obj" ]; then
			make -s -C "$src" O="$hdr/build" INSTALL_HDR_PATH="$hdr" headers_install >&2
		elif [ -z "${KIMAGE:-}" ]; then
			make -s -C "$src" O="$obj" INSTALL_HDR_PATH="$hdr" headers_install >&2
		elif [ -d "$obj/usr/include/linux" ]; then
			mkdir -p "$hdr" && cp -a "$obj/usr/include" "$hdr/"
		else
			progress_stop
			echo "!! KIMAGE: $obj has no usr/include ('make headers' there) for hmm-tests" >&2
			exit 1
		fi
		progress_stop
		rm -rf "$hdr/build"
		touch "$hdr/.done"
	fi
	flags=(-isystem "$hdr/include" "${flags[@]}")
fi
key=$( (echo "${flags[*]} ${srcs[*]}"; cat "${srcs[@]}" "$st/kselftest_harness.h" "$st/kselftest.h" \
	"$src/lib/test_hmm_uapi.h") | sha256sum | cut -c1-16)
if [ -x "$out" ] && [ "$(cat "$out.key" 2>/dev/null)" = "$key" ]; then
	echo "$out"
	exit 0
fi
mkdir -p "$(dirname "$out")"
echo ">> building hmm-tests (kernel selftest, static) from $dir" >&2
gcc "${flags[@]}" -o "$out" "${srcs[@]}" -lpthread -lrt -lm
echo "$key" >"$out.key"
echo "$out"
