#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# check-docs.sh [FILE.rst...]
#
# Host-side check that the reStructuredText documents build: each file
# (default: Documentation/*.rst) through docutils (python3-docutils, from
# scripts/deps.sh) to HTML that is thrown away; a warning or an error (an
# unknown link target such as `devm_`, a broken table, a title underline too
# short, an unknown role or directive) fails.  Plain docutils, not the
# kernel's Sphinx: the files are read as they are (on the web, in an
# editor), so Sphinx-only roles and directives (:c:func:, kernel-doc::) are
# not used in them and count as errors here.  Also checks that
# Documentation/ABI/testing/sysfs-class-hmm_dummy documents every field of
# struct hmm_dummy_stats, in order.  Prints the messages; exit status 1 if
# anything is wrong.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -eq 0 ]; then
	set -- "$top"/Documentation/*.rst
fi
if python3 -m docutils --version >/dev/null 2>&1; then
	rst=(python3 -m docutils)	# docutils 0.19 on
elif command -v rst2html >/dev/null; then
	rst=(rst2html)
else
	echo "!! check-docs.sh: no docutils (apt-get install python3-docutils; scripts/deps.sh)" >&2
	exit 1
fi
bad=0
for f in "$@"; do
	if ! msg=$("${rst[@]}" --report=warning --exit-status=warning \
			--no-file-insertion --no-raw "$f" /dev/null 2>&1) ||
		[ -n "$msg" ]; then
		echo "${msg:-!! $f: docutils failed}" >&2
		bad=1
	fi
done
names=("${@#"$top"/}")
# The sysfs ABI file against the struct it documents: one What: per field
# of struct hmm_dummy_stats after @version, in the struct's order.
abi=$top/Documentation/ABI/testing/sysfs-class-hmm_dummy
want=$(sed -n '/^struct hmm_dummy_stats {/,/^};/s/^[[:space:]]*__u64[[:space:]]*\([a-z0-9_]*\);.*/\1/p' \
	"$top/include/uapi/linux/hmm_dummy.h")
have=$(sed -n 's|^What:[[:space:]]*/sys/class/hmm_dummy/hmm_dummy<N>/stats/||p' "$abi")
if [ -z "$want" ] || [ "$want" != "$have" ]; then
	echo "!! ${abi#"$top"/} does not list the fields of struct hmm_dummy_stats in order:" >&2
	diff <(echo "$want") <(echo "$have") | sed 's/^/!!   /' >&2
	bad=1
fi
[ $bad = 0 ] && echo "docutils: ${names[*]}: no warning; the sysfs ABI file lists the $(echo "$want" | wc -l) stats fields"
exit $bad
