#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Where migration time goes (issue 11): `hmm_test bench` on hmm_dummy alone
# with the hmm_dummy_phase event enabled, then the per-phase totals (ms and
# share) for each direction, per THP mode.  Each event marks a phase
# boundary of one migrate_vma batch (or of the read-back after
# MIGRATE_TO_DEV); a phase lasts from the task's previous event, by the
# trace timestamps (microseconds).  An eviction inside a migration to the device is a
# to_sys batch nested in that batch's alloc phase: its time counts as
# to_sys, not twice.
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
	echo 1 >$tr/events/hmm_dummy/hmm_dummy_phase/enable
	echo 1 >$tr/tracing_on
	hmm_test bench --modes $mode --min-size $size --max-size $size \
		--reps "$reps" ${PROFILE_ARGS:---no-p4} | tee -a /tmp/profile.txt
	echo 0 >$tr/tracing_on
	{
		echo "[$mode] per-phase totals over $reps reps of $size (ms, share of the phases' sum)"
		awk '
		# Per task a stack of open batches: op, time of its last event,
		# time it had run before a nested batch began, pages.  A batch
		# that ended early (nothing collected) is left open and dropped
		# when its task goes on with something else.
		/hmm_dummy_phase:/ {
			match($0, /-[0-9]+ +\[/)
			pid = substr($0, RSTART + 1, RLENGTH - 1)
			sub(/ +\[/, "", pid)
			match($0, /[0-9]+\.[0-9]+: hmm_dummy_phase:/)
			t = substr($0, RSTART, RLENGTH)
			sub(/:.*/, "", t)
			t *= 1e9
			for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
			op = v["op"]; ph = v["phase"]; d = depth[pid] + 0
			if (ph == "begin") {
				while (d > 0 && !(op == "to_sys" && top[pid, d] == "to_dev"))
					d--
				if (d > 0)
					run[pid, d] += t - last[pid, d]
				d++
				top[pid, d] = op; last[pid, d] = t; run[pid, d] = 0
				np[pid, d] = v["npages"]
				depth[pid] = d
				next
			}
			while (d > 0 && top[pid, d] != op) {
				d--
				if (d > 0)
					last[pid, d] = last[pid, d + 1]
			}
			if (d == 0) { depth[pid] = 0; next }
			s[op, ph] += run[pid, d] + t - last[pid, d]
			run[pid, d] = 0; last[pid, d] = t
			if (ph == "finalize" || op == "readback") {
				n[op]++; pg[op] += np[pid, d]
				d--
				if (d > 0)
					last[pid, d] = t
			}
			depth[pid] = d
		}
		/LOST/ { lost = 1 }
		END {
			split("to_dev to_sys fault", name, " ")
			split("setup alloc copy pages finalize", pn, " ")
			for (k = 1; k <= 3; k++) {
				o = name[k]
				if (!n[o]) continue
				tot = 0
				for (j = 1; j <= 5; j++) tot += s[o, pn[j]]
				rb = o == "to_dev" ? s["readback", "copy"] : 0
				tot += rb
				printf "%-7s %6d batches %8d pages:", o, n[o], pg[o]
				for (j = 1; j <= 5; j++)
					printf " %s %.1f (%.0f%%)", pn[j], s[o, pn[j]] / 1e6, tot ? 100 * s[o, pn[j]] / tot : 0
				if (o == "to_dev")
					printf " readback %.1f (%.0f%%)", rb / 1e6, tot ? 100 * rb / tot : 0
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
