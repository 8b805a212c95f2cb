#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the test kernel of one flavour (debug|fast|gcov).  Prints the kernel
# build directory (the objtree: bzImage, lib/test_hmm.ko, what modules are
# built against) on stdout (last line).
#
# Debian's source of kernel $KVER (7.3, the default, 6.12 or 6.1): built out
# of tree into the cache, in a directory keyed by the package version and
# the config fragments; a directory once built is never built again.
#
# A tree of one's own (KSRC, or KOBJ alone: its `source` link), in one of
# four ways (Documentation/harness.rst, "Your own kernel tree (KSRC)"):
#   KSRC, not configured   built with O= into the cache, in one directory
#                          per tree (its real path) and flavour, configured
#                          from kernel/base.config + kernel/FLAVOUR.config
#                          (again, in the same directory, when those
#                          change); an edit makes an incremental build
#   KSRC configured in     built in place (no O=), with its own .config
#     place (.config)
#   KOBJ=DIR               built in that O= directory of the tree, with its
#                          .config
#   KIMAGE=bzImage         not built at all: the image is booted, and the
#                          modules are built against KOBJ, or the configured
#                          KSRC, which must have been built (modules_prepare)
# A .config of the user's must have the options of the fragments that the
# harness needs: the missing ones are listed and the build fails, unless
# KSRC_MERGE=1, which merges the fragments into that .config (olddefconfig).
# The tree's content key (scripts/kernel-tree.sh --key) and the .config's
# hash are recorded after each build, so that an unchanged tree skips even
# kbuild's no-op `make`.  Nothing is written into a tree or KOBJ the harness
# was not asked to build in (KIMAGE: nothing at all).
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
. "$top/scripts/lib-progress.sh"
die() { echo "!! $*" >&2; exit 1; }
own=${KSRC:-}${KOBJ:-}

# Builds of one cache, from any checkout, take turns (a second one waits and
# then finds the kernel built).
mkdir -p "$cache"
lock() # FILE
{
	exec {lockfd}>"$1"
	if ! flock -n "$lockfd"; then
		echo ">> waiting for another build of the $flavour kernel to finish" >&2
		flock "$lockfd"
	fi
}
[ -n "$own" ] || lock "$cache/.lock-$kver-$flavour"
ver=$(make -s -C "$src" kernelversion)
# kbuild variables for the build itself (gcov: the objects to profile).
kargs=()
if [ "$flavour" = gcov ]; then
	for o in ${GCOV_OBJS:-mm/migrate_device.o mm/hmm.o mm/memremap.o mm/huge_memory.o}; do
		kargs+=("GCOV_PROFILE_$(basename "$o")=y")
	done
fi

# configure OUT: tinyconfig plus the fragments, into O=OUT.
configure()
{
	make -C "$src" O="$1" tinyconfig
	"$src/scripts/kconfig/merge_config.sh" -m -O "$1" "$1/.config" "${frags[@]}"
	make -C "$src" O="$1" olddefconfig
}

# fragment_missing CONFIG [needed]: the fragments' lines CONFIG does not
# satisfy, one a line.  With "needed" (a .config of the user's), only what
# the harness cannot do without: every =y and =m option (=m also satisfied
# by =y) but a few that change nothing it tests; =n and numbers are the
# harness's own choices.
fragment_missing()
{
	local f line opt
	for f in "${frags[@]}"; do
		while IFS= read -r line; do
			opt=${line%%=*}
			if [ -n "${2:-}" ]; then
				case "$line" in
				CONFIG_TEST_HMM=*|CONFIG_DEBUG_INFO_NONE=*|CONFIG_PRINTK_TIME=*) ;;
				CONFIG_*=m) grep -qE "^$opt=[ym]$" "$1" || echo "$line" ;;
				CONFIG_*=y) grep -qx "$line" "$1" || echo "$line" ;;
				esac
				continue
			fi
			case "$line" in
			CONFIG_*=n) ! grep -q "^$opt=" "$1" || echo "$opt=n (it is set)" ;;
			CONFIG_*) grep -qx "$line" "$1" || echo "$line" ;;
			esac
		done <"$f"
	done
}

# build LOG MAKE-ARGS...: bzImage and modules, then modules_prepare.
build()
{
	local log=$1 pid n
	shift
	make "$@" -j"$(( $(nproc) + 1 ))" "${kargs[@]}" bzImage modules >>"$log" 2>&1 &
	pid=$!
	while kill -0 $pid 2>/dev/null; do
		sleep 15
		n=$(grep -c '^  CC' "$log" || true)
		printf '>> %s kernel: %d files compiled, %ds\n' "$flavour" "$n" $(( $(date +%s) - start )) >&2
	done
	if ! wait $pid; then
		tail -40 "$log" >&2
		die "kernel build failed; full log: $log"
	fi
	progress_start "$flavour kernel: modules_prepare"
	make "$@" "${kargs[@]}" modules_prepare >>"$log" 2>&1
	progress_stop
}

if [ -z "$own" ]; then
	key=$( (echo "$ver"; [ ${#kargs[@]} = 0 ] || echo "${kargs[*]}"; cat "${frags[@]}") |
		sha256sum | cut -c1-12)
	out=$cache/build/$flavour-$ver-$key
	if [ -f "$out/.done" ]; then
		echo "$out"
		exit 0
	fi
	mkdir -p "$out"
	log=$out/build.log
	echo ">> building the $flavour test kernel $ver in $out (log: $log)" >&2
	start=$(date +%s)
	progress_start "configuring the $flavour kernel"
	configure "$out" >"$log" 2>&1 || { progress_stop; tail -30 "$log" >&2; exit 1; }
	progress_stop
	# Every option of the fragments must have survived olddefconfig.
	missing=$(fragment_missing "$out/.config")
	if [ -n "$missing" ]; then
		echo "$missing" | sed 's/^/!! /; s/$/: not as the fragment has it after olddefconfig/' >&2
		echo "!! (continuing; see above)" >&2
	fi
	build "$log" -C "$src" O="$out"
	secs=$(( $(date +%s) - start ))
	echo ">> $flavour kernel built in ${secs}s" >&2
	echo "built in ${secs}s with -j$(( $(nproc) + 1 )) on $(nproc) CPUs, $(date -u +%FT%TZ)" >"$out/.done"
	echo "$out"
	exit 0
fi

# A tree of one's own.  mk: the make arguments of its build; obj: its
# objtree; st: the harness's record of it, in the cache, one per objtree
# (the harness's own objtree is st itself).
pathkey() { echo "ksrc-$flavour-$(basename "$1")-$(echo "$1" | sha256sum | cut -c1-12)"; }
if [ -n "${KOBJ:-}" ]; then
	obj=$(cd "$KOBJ" 2>/dev/null && pwd) || die "KOBJ=$KOBJ: no such directory"
	[ -f "$obj/.config" ] || die "KOBJ=$obj has no .config (make O=$obj ...config in $src first)"
	[ ! -f "$src/.config" ] || die "$src is configured in place (.config): it cannot also build into KOBJ=$obj"
	mk=(-C "$src" O="$obj")
	st=$cache/build/$(pathkey "$obj")
	mode=kobj
elif [ -f "$src/.config" ]; then
	obj=$src
	mk=(-C "$src")
	st=$cache/build/$(pathkey "$obj")
	mode=inplace
else
	st=$cache/build/$(pathkey "$src")
	obj=$st
	mk=(-C "$src" O="$obj")
	mode=own
fi
mkdir -p "$st"
lock "$st/.lock"
log=$st/build.log
# kbuild goes by timestamps: a tree replaced by a copy at the same path
# (cp -a, tar x: older timestamps than the objects here) would not be seen
# as changed.  The tree's directory is a new one then (its inode, or
# its birth time where the inode number is reused): start afresh.
if [ "$mode" = own ]; then
	ident=$(stat -c '%d:%i:%.9W' "$src")
	if [ -f "$st/.tree-ident" ] && [ "$(cat "$st/.tree-ident")" != "$ident" ]; then
		echo ">> $src is not the tree last built in $st (replaced?): building it afresh" >&2
		find "$st" -mindepth 1 -maxdepth 1 ! -name .lock -exec rm -rf {} +
	fi
	echo "$ident" >"$st/.tree-ident"
fi

if [ "$mode" != own ]; then
	missing=$(fragment_missing "$obj/.config" needed)
	if [ -n "$missing" ] && [ "${KSRC_MERGE:-0}" = 1 ] && [ -z "${KIMAGE:-}" ]; then
		echo ">> KSRC_MERGE=1: merging kernel/base.config and kernel/$flavour.config into $obj/.config" >&2
		{
			"$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "${frags[@]}"
			make "${mk[@]}" olddefconfig
		} >"$st/merge.log" 2>&1 ||
			{ tail -30 "$st/merge.log" >&2; die "merging the fragments failed (log: $st/merge.log)"; }
		missing=$(fragment_missing "$obj/.config" needed)
	fi
	if [ -n "$missing" ]; then
		echo "!! $obj/.config lacks what the harness needs (kernel/base.config, kernel/$flavour.config):" >&2
		# shellcheck disable=SC2086 # one option a word
		printf '!!   %s\n' $missing >&2
		if [ -n "${KIMAGE:-}" ]; then
			die "KIMAGE=$KIMAGE was built from a .config without them"
		fi
		die "set them (make ${mk[*]} menuconfig), or run again with KSRC_MERGE=1 to merge the fragments into that .config"
	fi
fi

if [ -n "${KIMAGE:-}" ]; then
	[ -f "$KIMAGE" ] || die "KIMAGE=$KIMAGE: no such file"
	if [ ! -f "$obj/Module.symvers" ] || [ ! -x "$obj/scripts/mod/modpost" ]; then
		die "$obj has not been built (no Module.symvers, scripts/mod/modpost): the modules cannot be built against it; give KOBJ= or a configured, built KSRC"
	fi
	rel=$(cat "$obj/include/config/kernel.release" 2>/dev/null || true)
	img=$(file -bL "$KIMAGE" | sed -n 's/.*, version \([^ ]*\) .*/\1/p')
	[ -z "$img" ] || [ "$img" = "$rel" ] ||
		die "KIMAGE=$KIMAGE is Linux $img, but $obj is built for $rel: its modules would not load"
	echo ">> KIMAGE: booting $KIMAGE, modules built against $obj" >&2
	echo "$obj"
	exit 0
fi

# The record: the tree's content and what configured it.  An unchanged
# record skips kbuild altogether.  The content key is taken before the
# build: an edit made while it runs is seen by the next run.
ckey=$(for f in "${frags[@]}"; do cat "$f"; done | sha256sum | cut -c1-12)
treekey=$("$top/scripts/kernel-tree.sh" --key)
record() { echo "$treekey ${kargs[*]} $(sha256sum <"$obj/.config" | cut -c1-12)"; }
if [ -f "$st/.done" ] && [ -f "$obj/arch/x86/boot/bzImage" ] &&
   { [ "$mode" != own ] || [ "$(cat "$st/.config-key" 2>/dev/null)" = "$ckey" ]; } &&
   [ "$(cat "$st/.tree-key" 2>/dev/null)" = "$(record)" ]; then
	echo ">> $flavour kernel of $src: tree unchanged since the last build, not running make" >&2
	echo "$obj"
	exit 0
fi
start=$(date +%s)
: >"$log"
if [ "$mode" = own ] && [ "$(cat "$st/.config-key" 2>/dev/null)" != "$ckey" ]; then
	progress_start "configuring the $flavour kernel"
	rm -f "$st/.config-key"
	configure "$obj" >>"$log" 2>&1 || { progress_stop; tail -30 "$log" >&2; exit 1; }
	progress_stop
	missing=$(fragment_missing "$obj/.config")
	if [ -n "$missing" ]; then
		echo "$missing" | sed 's/^/!! /; s/$/: not as the fragment has it after olddefconfig/' >&2
		echo "!! (continuing; see above)" >&2
	fi
	echo "$ckey" >"$st/.config-key"
fi
how=incrementally
[ -f "$st/.done" ] || how="(no earlier build recorded)"
rm -f "$st/.done"
echo ">> building the $flavour kernel $ver of $src $how in $obj (log: $log)" >&2
build "$log" "${mk[@]}"
record >"$st/.tree-key"
secs=$(( $(date +%s) - start ))
echo ">> $flavour kernel built in ${secs}s" >&2
echo "built in ${secs}s with -j$(( $(nproc) + 1 )) on $(nproc) CPUs, $(date -u +%FT%TZ)" >"$st/.done"
echo "$obj"
