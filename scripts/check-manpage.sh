#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# check-manpage.sh [HMM_TEST]
#
# Host-side check that tools/hmm_test/hmm_test.1 documents the tool as it
# is: the same commands as `hmm_test --help`, and for each command the same
# options in three places (the man page's COMMANDS entry, its line in
# `hmm_test --help`, and the usage message the command itself prints for an
# unknown option); the global options and each exit status of the man page
# are there; groff reads the page without a warning.  Prints what differs;
# exit status 1 if anything does.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tool=${1:-$top/tools/hmm_test/hmm_test}
man=$top/tools/hmm_test/hmm_test.1
bad=0
err() { echo "!! hmm_test.1: $*" >&2; bad=1; }
opts() { grep -oE -- '--[a-z][a-z-]*' | sort -u | tr '\n' ' '; }

help=$("$tool" --help 2>&1) || err "hmm_test --help exited non-zero"
# "  NAME  [--opt ...] description" lines after "commands:".
help_cmds=$(sed -n '/^commands:/,$s/^  \([a-z][a-z-]*\) .*/\1/p' <<<"$help" | sort)
# The man page: in COMMANDS, ".TP" then ".B name" starts an entry, its
# synopsis runs to ".br".
mandoc=$(sed 's/\\-/-/g' "$man")
man_cmds=$(awk '/^\.SH COMMANDS/ { c = 1; next } /^\.SH/ { c = 0 }
	c && prev == ".TP" && /^\.B [a-z]/ { print $2 } { prev = $0 }' <<<"$mandoc" | sort)
[ -n "$help_cmds" ] || err "no commands in hmm_test --help"
[ "$help_cmds" = "$man_cmds" ] ||
	err "commands differ: --help has [$(echo $help_cmds)], the man page [$(echo $man_cmds)]"

for c in $help_cmds; do
	h=$(sed -n "/^commands:/,\$s/^  $c  *//p" <<<"$help" | opts)
	m=$(awk -v c="$c" '/^\.SH COMMANDS/ { s = 1; next } /^\.SH/ { s = 0 }
		s && prev == ".TP" && $0 == ".B " c { on = 1; prev = $0; next }
		on && /^\.br/ { on = 0 } on { print } { prev = $0 }' <<<"$mandoc" | opts)
	u=$(timeout 10 "$tool" "$c" --hmm-test-no-such-option 2>&1 | grep -v -- '--hmm-test-no-such-option' | opts || true)
	[ "$h" = "$m" ] || err "$c: --help lists [$h], the man page [$m]"
	[ "$u" = "$m" ] || err "$c: its usage message lists [$u], the man page [$m]"
done
for o in --dev --device-path --help -v HMM_TEST_DEV; do
	grep -q -- "$o" <<<"$mandoc" || err "the global option $o is not documented"
done
for st in 0 1 2 4; do
	awk '/^\.SH EXIT STATUS/ { s = 1; next } /^\.SH/ { s = 0 } s' <<<"$mandoc" |
		grep -qx "\.B $st" || err "exit status $st is not documented"
done
for s in NAME SYNOPSIS DESCRIPTION OPTIONS COMMANDS "EXIT STATUS" EXAMPLES; do
	grep -qx "\.SH $s" "$man" || err "no section $s"
done
w=$(groff -man -ww -z "$man" 2>&1) || true
[ -z "$w" ] || err "groff: $w"
[ $bad = 0 ] && echo "hmm_test.1: $(wc -w <<<"$help_cmds") commands, their options and exit statuses match hmm_test"
exit $bad
