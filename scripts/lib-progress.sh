# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Sourced by the harness's scripts (bash).
#
# progress_start LABEL: until progress_stop, a line ">> LABEL: still
# running, Ns" on stderr every HMM_DUMMY_PROGRESS_SEC (15) seconds, so that
# a step whose output goes to a log (a module, dkms or in-tree build, an
# extraction) does not leave the terminal silent for more than 30 s.
# The ticker is a background subshell; it also ends within a second of the
# script that started it.
progress_start()
{
	local label=$1 every=${HMM_DUMMY_PROGRESS_SEC:-15} parent=$BASHPID t0

	progress_stop
	t0=$(date +%s)
	(
		n=0
		while kill -0 "$parent" 2>/dev/null; do
			sleep 1 >/dev/null 2>&1 || exit 0
			n=$((n + 1))
			if [ $((n % every)) = 0 ]; then
				echo ">> $label: still running, $(( $(date +%s) - t0 ))s"
			fi
		done
	) >&2 &
	progress_pid=$!
}

progress_stop()
{
	[ -n "${progress_pid:-}" ] || return 0
	kill "$progress_pid" 2>/dev/null || true
	wait "$progress_pid" 2>/dev/null || true
	progress_pid=
}
