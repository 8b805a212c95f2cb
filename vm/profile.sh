#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Where migration time goes (issue 11): `hmm_test bench` on hmm_dummy alone
# with the hmm_dummy_phases and hmm_dummy_readback events enabled, then the
# per-phase totals (ms and share) for each direction, per THP mode.
# PROFILE_SIZE (default 64M), PROFILE_REPS (default 3), PROFILE_MODES
# (default "thp 4k") and PROFILE_ARGS (default --no-p4; "--p4-size 32M"
# profiles P4 too) set the run.
set -eu -o pipefail
. /hmm/vm/lib.sh

size=${PROFILE_SIZE:-64M}
reps=${PROFILE_REPS:-3}
tr=/sys/kernel/debug/tracing
[ -d $tr/events ] || tr=/sys/kernel/tracing

insmod $MODDIR/hmm_dummy.ko
echo 16384 >$tr/buffer_size_kb
: >/tmp/profile.txt
for mode in ${PROFILE_MODES:-thp 4k}; do
	echo 0 >$tr/tracing_on
	: >$tr/trace
	echo 1 >$tr/events/hmm_dummy/hmm_dummy_phases/enable
	echo 1 >$tr/events/hmm_dummy/hmm_dummy_readback/enable
	echo 1 >$tr/tracing_on
	hmm_test bench --modes $mode --min-size $size --max-size $size \
		--reps "$reps" ${PROFILE_ARGS:---no-p4} | tee -a /tmp/profile.txt
	echo 0 >$tr/tracing_on
	{
		echo "[$mode] per-phase totals over $reps reps of $size (ms, share of the phases' sum)"
		awk '
		/hmm_dummy_phases:/ {
			for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
			d = v["dir"]; n[d]++; pg[d] += v["npages"]
			s[d, 0] += v["setup"]; s[d, 1] += v["alloc"]; s[d, 2] += v["copy"]
			s[d, 3] += v["pages"]; s[d, 4] += v["finalize"]
		}
		/hmm_dummy_readback:/ {
			for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
			rb += v["ns"]; rbn++
		}
		/LOST/ { lost = 1 }
		END {
			name[0] = "to_dev"; name[1] = "to_sys"; name[2] = "fault"
			split("setup alloc copy pages finalize", ph, " ")
			for (d = 0; d < 3; d++) {
				if (!n[d]) continue
				t = 0
				for (k = 0; k < 5; k++) t += s[d, k]
				if (d == 0) t += rb
				printf "%-7s %6d batches %8d pages:", name[d], n[d], pg[d]
				for (k = 0; k < 5; k++)
					printf " %s %.1f (%.0f%%)", ph[k + 1], s[d, k] / 1e6, t ? 100 * s[d, k] / t : 0
				if (d == 0)
					printf " readback %.1f (%.0f%%)", rb / 1e6, t ? 100 * rb / t : 0
				printf "\n"
			}
			if (lost) print "(trace buffer overflowed: events lost)"
		}' $tr/trace
	} | tee -a /tmp/profile.txt
done
echo 0 >$tr/events/hmm_dummy/enable
rmmod hmm_dummy
send_file profile.txt /tmp/profile.txt
result pass profile
