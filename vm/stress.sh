#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# `make stress`: a long `hmm_test stress` run on the debug kernel, then an
# unload of the module (kmemleak scans at power-off, see vm/init).
set -eu -o pipefail
. /hmm/vm/lib.sh

STRESS_SECONDS=${STRESS_SECONDS:-600}

step "insmod hmm_dummy.ko"
insmod $MODDIR/hmm_dummy.ko
step "hmm_test stress --seconds $STRESS_SECONDS"
rc=0
run_logged /tmp/stress.txt hmm_test stress --seconds "$STRESS_SECONDS" || rc=$?
send_file stress.txt /tmp/stress.txt
if [ $rc = 0 ]; then
	result pass hmm_dummy.stress
else
	result fail hmm_dummy.stress "exit status $rc"
fi
step "hmm_test stats"
hmm_test stats || true
step "rmmod hmm_dummy"
if rmmod hmm_dummy; then
	result pass hmm_dummy.unload
else
	result fail hmm_dummy.unload
fi
[ $n_fail = 0 ]
