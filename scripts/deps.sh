#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Install the Debian packages the harness needs, only those that are missing.
# Idempotent: a second run prints one line and changes nothing.
set -euo pipefail

pkgs=(
	make gcc libc6-dev			# module, tool, selftest
	flex bison bc libelf-dev libssl-dev	# kernel build
	dwarves kmod xz-utils cpio rsync	# kernel build, initramfs
	linux-source-6.12 linux-source-6.1	# test kernels (7.3: scripts/kernel-source.sh)
	debian-archive-keyring			# verifies the 7.3 source package
	busybox-static				# the guest's userland
	qemu-system-x86				# the VM
	sparse					# `make sparse`
	libhugetlbfs-dev			# hugetlbfs tests (headers)
	dkms					# the DKMS build of make check
	git patch				# the in-tree patch (scripts/in-tree-patch.sh)
	python3					# the kernel's KTAP parser (kunit.py parse)
	gnuplot-nox				# `make bench`: the plot
	lcov					# `make coverage` (lcov, genhtml)
	python3-docutils			# make check: Documentation/*.rst build
)

missing=()
for p in "${pkgs[@]}"; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo ">> deps: all ${#pkgs[@]} required packages are installed" >&2
	exit 0
fi

echo ">> deps: installing missing packages: ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
	sudo=sudo
	command -v sudo >/dev/null || {
		echo "!! deps: not root and no sudo; install as root: apt-get install ${missing[*]}" >&2
		exit 1
	}
else
	sudo=
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has empty (or old) package lists: refresh them first.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -1)" ]; then
	echo ">> deps: apt-get update (package lists missing or older than a day)" >&2
	$sudo apt-get update >&2
fi
if ! $sudo apt-get install -y --no-install-recommends "${missing[@]}" >&2; then
	echo ">> deps: apt-get update" >&2
	$sudo apt-get update >&2
	$sudo apt-get install -y --no-install-recommends "${missing[@]}" >&2
fi
echo ">> deps: done" >&2
