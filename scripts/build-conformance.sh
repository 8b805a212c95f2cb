#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# build-conformance.sh OUT
#
# Builds the kernel's HMM selftest, tools/testing/selftests/mm/hmm-tests.c,
# unmodified and statically linked, from the same kernel source the test
# kernel is built from (extracted into the cache by build-kernel.sh).  It needs
# only the headers beside it in that tree: selftests/kselftest_harness.h,
# selftests/kselftest.h, lib/test_hmm_uapi.h and mm/gup_test.h.
# Prints OUT on stdout.
set -euo pipefail
out=${1:?usage: build-conformance.sh OUT}
top=$(cd "$(dirname "$0")/.." && pwd)
cache=${HMM_DUMMY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hmm_dummy}
tarball=${KERNEL_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
src=$cache/src/$(basename "$tarball" .tar.xz)
[ -f "$src/.extracted" ] || {
	echo "!! kernel source not extracted in $src (run scripts/build-kernel.sh first)" >&2
	exit 1
}
st=$src/tools/testing/selftests
c=$st/mm/hmm-tests.c
flags=(-static -O2 -Wall -I "$src" -I "$st")
key=$( (echo "${flags[*]}"; cat "$c" "$st/kselftest_harness.h" "$st/kselftest.h" \
	"$src/lib/test_hmm_uapi.h" "$src/mm/gup_test.h") | sha256sum | cut -c1-16)
if [ -x "$out" ] && [ "$(cat "$out.key" 2>/dev/null)" = "$key" ]; then
	echo "$out"
	exit 0
fi
mkdir -p "$(dirname "$out")"
echo ">> building hmm-tests (kernel selftest, static) from $src" >&2
gcc "${flags[@]}" -o "$out" "$c" -lpthread -lrt
echo "$key" >"$out.key"
echo "$out"
