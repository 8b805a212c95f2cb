#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# mkinitramfs.sh OUT.cpio FLAVOUR KBUILD [NAME=FILE...]
#
# Builds the VM's base initramfs (an uncompressed newc cpio archive):
#   /init                  vm/init
#   /bin/busybox           busybox-static
#   /hmm/vm/*              vm/*.sh
#   /hmm/modules/*.ko      test_hmm.ko from KBUILD (if it has one: a .config
#                          of one's own may not have CONFIG_TEST_HMM=m), and
#                          hmm_dummy.ko if given
#   /hmm/bin/*             hmm_test and hmm-tests if given
#   /hmm/flavour           FLAVOUR
# Extra files are given as NAME=FILE, NAME being the path in the archive
# (e.g. hmm/bin/hmm_test=tools/hmm_test/hmm_test).  The archive is rebuilt only
# when the hash of its inputs changes.  scripts/vm-run.sh appends a second
# archive with the command to run (/hmm/cmd.sh).
set -euo pipefail
out=${1:?usage: mkinitramfs.sh OUT FLAVOUR KBUILD [NAME=FILE...]}
flavour=${2:?}
kbuild=${3:?}
shift 3
top=$(cd "$(dirname "$0")/.." && pwd)
busybox=${BUSYBOX:-/bin/busybox}

file "$busybox" 2>/dev/null | grep -q 'statically linked' ||
	{ echo "!! $busybox is not a static busybox (apt-get install busybox-static)" >&2; exit 1; }

declare -A files=(
	[init]=$top/vm/init
	[bin/busybox]=$busybox
)
[ ! -f "$kbuild/lib/test_hmm.ko" ] || files[hmm/modules/test_hmm.ko]=$kbuild/lib/test_hmm.ko
for f in "$top"/vm/*.sh; do
	files[hmm/vm/$(basename "$f")]=$f
done
for arg in "$@"; do
	files[${arg%%=*}]=${arg#*=}
done

key=$( {
	echo "$flavour"
	for name in $(printf '%s\n' "${!files[@]}" | sort); do
		[ -f "${files[$name]}" ] || { echo "!! missing input ${files[$name]}" >&2; exit 1; }
		echo "$name $(sha256sum <"${files[$name]}")"
	done
} | sha256sum | cut -c1-16)
if [ -f "$out" ] && [ "$(cat "$out.key" 2>/dev/null)" = "$key" ]; then
	exit 0
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/hmm_dummy-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,mnt/huge,hmm/bin}
for name in "${!files[@]}"; do
	mkdir -p "$stage/$(dirname "$name")"
	cp "${files[$name]}" "$stage/$name"
done
chmod 755 "$stage/init" "$stage/bin/busybox" "$stage"/hmm/vm/*.sh
echo "$flavour" >"$stage/hmm/flavour"
mkdir -p "$(dirname "$out")"
tmp=$(mktemp "$out.XXXXXX")
(cd "$stage" && find . -print0 | LC_ALL=C sort -z | cpio -o -0 -H newc -R 0:0 --quiet) >"$tmp"
mv "$tmp" "$out"
echo "$key" >"$out.key"
echo ">> initramfs $out ($(du -h "$out" | cut -f1)): ${!files[*]}" >&2
