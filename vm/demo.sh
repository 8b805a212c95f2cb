#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# `make demo`: load hmm_dummy, migrate a small buffer to the device and fault
# it back with hmm_test, and show the device's counters.
set -eu -o pipefail
. /hmm/vm/lib.sh

DEMO_SIZE=${DEMO_SIZE:-4M}

step "insmod hmm_dummy.ko"
insmod $MODDIR/hmm_dummy.ko
ls -l /dev/hmm_dummy*
step "hmm_test cycle --size $DEMO_SIZE"
hmm_test cycle --size "$DEMO_SIZE"
step "hmm_test stats"
hmm_test stats
step "rmmod hmm_dummy"
rmmod hmm_dummy
dmesg | grep -i hmm_dummy | tail -n 20 || true
