#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the test kernel of one flavour (debug|fast|gcov) out of tree into the
# cache.  The source is Debian's package of kernel $KVER (7.3, the default,
# 6.12 or 6.1) or, with KSRC set, the given tree (scripts/kernel-tree.sh).
# Prints the build directory on stdout (last line).  Rebuilds only when the
# source (package version; KSRC: its git describe and diff, or the hash of
# its mm/ and include/) or the config fragments change.
# The gcov flavour profiles only the files of $GCOV_OBJS (kernel objects,
# default the HMM core), through kbuild's GCOV_PROFILE_<obj> variables given
# on the make command line, so nothing in the tree is patched.
set -euo pipefail
flavour=${1:?usage: build-kernel.sh debug|fast|gcov}
top=$(cd "$(dirname "$0")/.." && pwd)
cache=${HMM_DUMMY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hmm_dummy}
kver=${KVER:-7.3}
src=$("$top/scripts/kernel-tree.sh" | tail -n 1)
frags=("$top/kernel/base.config" "$top/kernel/$flavour.config")
[ -f "${frags[1]}" ] || { echo "no such flavour: $flavour" >&2; exit 2; }

# Builds of one cache, from any checkout, take turns (a second one waits and
# then finds the kernel built).
mkdir -p "$cache"
exec {lockfd}>"$cache/.lock-${KSRC:+ksrc-}$kver-$flavour"
if ! flock -n "$lockfd"; then
	echo ">> waiting for another build of the $flavour kernel to finish" >&2
	flock "$lockfd"
fi
ver=$(make -s -C "$src" kernelversion)
# kbuild variables for the build itself (gcov: the objects to profile).
kargs=()
if [ "$flavour" = gcov ]; then
	for o in ${GCOV_OBJS:-mm/migrate_device.o mm/hmm.o mm/memremap.o mm/huge_memory.o}; do
		kargs+=("GCOV_PROFILE_$(basename "$o")=y")
	done
fi
if [ -n "${KSRC:-}" ]; then
	id=$("$top/scripts/kernel-tree.sh" --key)
	key=$( (echo "$ver $id ${kargs[*]}"; cat "${frags[@]}") | sha256sum | cut -c1-12)
	out=$cache/build/ksrc-$flavour-$ver-$id-$key
else
	key=$( (echo "$ver"; [ ${#kargs[@]} = 0 ] || echo "${kargs[*]}"; cat "${frags[@]}") |
		sha256sum | cut -c1-12)
	out=$cache/build/$flavour-$ver-$key
fi
if [ -f "$out/.done" ]; then
	echo "$out"
	exit 0
fi
mkdir -p "$out"
log=$out/build.log
echo ">> building the $flavour test kernel $ver${KSRC:+ from $src} in $out (log: $log)" >&2
start=$(date +%s)
. "$top/scripts/lib-progress.sh"
progress_start "configuring the $flavour kernel"
{
	make -C "$src" O="$out" tinyconfig
	"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "${frags[@]}"
	make -C "$src" O="$out" olddefconfig
} >"$log" 2>&1 || { progress_stop; tail -30 "$log" >&2; exit 1; }
progress_stop
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
make -C "$src" O="$out" -j"$jobs" "${kargs[@]}" bzImage modules >>"$log" 2>&1 &
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
progress_start "$flavour kernel: modules_prepare"
make -C "$src" O="$out" "${kargs[@]}" modules_prepare >>"$log" 2>&1
progress_stop
secs=$(( $(date +%s) - start ))
echo ">> $flavour kernel built in ${secs}s" >&2
echo "built in ${secs}s with -j$jobs on $(nproc) CPUs, $(date -u +%FT%TZ)" >"$out/.done"
echo "$out"
