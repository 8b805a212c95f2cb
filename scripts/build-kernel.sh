#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the test kernel of one flavour (debug|fast) of kernel $KVER (7.3, the
# default, 6.12 or 6.1) out of tree into the cache.  Prints the build
# directory on stdout (last line).  Rebuilds only when the source package's
# version or the config fragments change.
set -euo pipefail
flavour=${1:?usage: build-kernel.sh debug|fast}
top=$(cd "$(dirname "$0")/.." && pwd)
cache=${HMM_DUMMY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hmm_dummy}
kver=${KVER:-7.3}
tarball=$("$top/scripts/kernel-source.sh" "$kver" | tail -n 1)
srcname=$(basename "$tarball" .tar.xz)
src=$cache/src/$srcname
frags=("$top/kernel/base.config" "$top/kernel/$flavour.config")
[ -f "${frags[1]}" ] || { echo "no such flavour: $flavour" >&2; exit 2; }

# Builds of one cache, from any checkout, take turns (a second one waits and
# then finds the kernel built).
mkdir -p "$cache"
exec {lockfd}>"$cache/.lock-$kver-$flavour"
if ! flock -n "$lockfd"; then
	echo ">> waiting for another build of the $flavour kernel to finish" >&2
	flock "$lockfd"
fi
exec {srclock}>"$cache/.lock-src"
flock "$srclock"
if [ ! -f "$src/.extracted" ]; then
	echo ">> extracting $tarball into $cache/src" >&2
	mkdir -p "$cache/src"
	rm -rf "$src"
	mkdir -p "$src"
	tar -C "$src" --strip-components=1 -xf "$tarball"
	touch "$src/.extracted"
fi
flock -u "$srclock"
ver=$(make -s -C "$src" kernelversion)
key=$( (echo "$ver"; cat "${frags[@]}") | sha256sum | cut -c1-12)
out=$cache/build/$flavour-$ver-$key
if [ -f "$out/.done" ]; then
	echo "$out"
	exit 0
fi
mkdir -p "$out"
log=$out/build.log
echo ">> building the $flavour test kernel $ver in $out (log: $log)" >&2
start=$(date +%s)
{
	make -C "$src" O="$out" tinyconfig
	"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "${frags[@]}"
	make -C "$src" O="$out" olddefconfig
} >"$log" 2>&1 || { tail -30 "$log" >&2; exit 1; }
# Every option of the fragments must have survived olddefconfig.
missing=0
for f in "${frags[@]}"; do
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=n) opt=${line%%=*}
			grep -q "^$opt=" "$out/.config" && { echo "!! $opt is set, fragment wants n" >&2; missing=1; } ;;
		CONFIG_*) grep -qx "$line" "$out/.config" || { echo "!! $line did not survive olddefconfig" >&2; missing=1; } ;;
		esac
	done <"$f"
done
[ $missing = 0 ] || echo "!! (continuing; see above)" >&2
jobs=$(( $(nproc) + 1 ))
make -C "$src" O="$out" -j"$jobs" bzImage modules >>"$log" 2>&1 &
pid=$!
while kill -0 $pid 2>/dev/null; do
	sleep 15
	n=$(grep -c '^  CC' "$log" || true)
	printf '>> %s kernel: %d files compiled, %ds\n' "$flavour" "$n" $(( $(date +%s) - start )) >&2
done
if ! wait $pid; then
	tail -40 "$log" >&2
	echo "!! kernel build failed; full log: $log" >&2
	exit 1
fi
make -C "$src" O="$out" modules_prepare >>"$log" 2>&1
touch "$src/.extracted"
secs=$(( $(date +%s) - start ))
echo ">> $flavour kernel built in ${secs}s" >&2
echo "built in ${secs}s with -j$jobs on $(nproc) CPUs, $(date -u +%FT%TZ)" >"$out/.done"
echo "$out"
