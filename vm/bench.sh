#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`: `hmm_test bench` on the fast kernel, against hmm_dummy.ko and
# against the kernel's test_hmm.ko (through the same test_hmm compatible
# commands).  The CSV of each goes to the host, into results/bench-DATE/.
set -eu -o pipefail
. /hmm/vm/lib.sh

BENCH_ARGS=${BENCH_ARGS:-}

bench() # NAME MODULE [hmm_test options]
{
	local name=$1 mod=$2 rc=0
	shift 2
	step "bench: $name"
	insmod $MODDIR/$mod.ko
	# shellcheck disable=SC2086
	run_logged /tmp/bench-$name.txt hmm_test "$@" bench --csv /tmp/bench-$name.csv $BENCH_ARGS || rc=$?
	rmmod $mod
	if [ $rc = 0 ] && [ -s /tmp/bench-$name.csv ]; then
		send_file bench-$name.csv /tmp/bench-$name.csv
		result pass bench.$name
	else
		result fail bench.$name "hmm_test bench exit status $rc"
	fi
}

bench hmm_dummy hmm_dummy
bench test_hmm test_hmm --dev /dev/hmm_dmirror
[ $n_fail = 0 ]
