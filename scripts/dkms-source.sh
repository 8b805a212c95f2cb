#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# dkms-source.sh DIR
#
# Writes the DKMS source tree of hmm_dummy into DIR/hmm_dummy-VERSION (what
# `dkms add` expects under /usr/src): dkms.conf, drivers/hmm_dummy and the
# uAPI header, nothing else of the repository.  Prints that directory.
set -euo pipefail
dir=${1:?usage: dkms-source.sh DIR}
top=$(cd "$(dirname "$0")/.." && pwd)
ver=$(sed -n 's/^#define HMM_DUMMY_VERSION[[:space:]]*"\(.*\)"$/\1/p' \
	"$top/drivers/hmm_dummy/hmm_dummy.h")
[ -n "$ver" ] || { echo "!! no HMM_DUMMY_VERSION in drivers/hmm_dummy/hmm_dummy.h" >&2; exit 1; }
src=$dir/hmm_dummy-$ver
mkdir -p "$src/drivers/hmm_dummy" "$src/include/uapi/linux"
rsync -a --delete --exclude='*.o' --exclude='*.ko' --exclude='*.mod' \
	--exclude='*.mod.c' --exclude='.*.cmd' --exclude='modules.order' \
	--exclude='Module.symvers' --exclude='.*.d' --exclude='*.a' \
	"$top/drivers/hmm_dummy/" "$src/drivers/hmm_dummy/"
cp "$top/include/uapi/linux/hmm_dummy.h" "$src/include/uapi/linux/"
cp "$top/dkms.conf" "$src/"
echo "$src"
