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
# struct hmm_dummy_stats, in order, and that README.md's links and paths
# exist and its module parameter table matches the driver's source.
# Prints the messages; exit status 1 if anything is wrong.
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
# README.md: every relative link and every repository path it names exists,
# and its table of module parameters is the driver's module_param*()s with
# their modes and MODULE_PARM_DESC() texts, in any order.
if ! rd=$(python3 - "$top" <<'PY'
import os, re, sys
top = sys.argv[1]
text = open(os.path.join(top, 'README.md')).read()
bad = []
paths = set(m for m in re.findall(r'\]\(([^)\s]+)\)', text)
            if not re.match(r'[a-z]+:', m) and not m.startswith('#'))
paths |= set(re.findall(r'(?<![\w/.$~-])((?:Documentation|drivers|include|tools|'
                         r'scripts|vm|kernel|results|\.ci)/[\w./+-]*)', text))
for p in sorted(paths):
    # Placeholders (results/check-KVER-DATE/) and globs are not files, nor
    # are what a build or a run makes (.ko, results/*-latest), nor paths in
    # a kernel tree (the in-tree patch's, the selftests').
    if re.search(r'KVER|DATE|VERSION|FLAVOUR|\*|-latest|\.ko$', p) or \
       re.match(r'(drivers/misc|Documentation/misc-devices|tools/testing)/', p):
        continue
    if not os.path.exists(os.path.join(top, p.rstrip('.'))):
        bad.append('README.md names %s, which does not exist' % p)
src = ''
drv = os.path.join(top, 'drivers', 'hmm_dummy')
for f in sorted(os.listdir(drv)):
    if f.endswith('.c'):
        src += open(os.path.join(drv, f)).read()
params = {}
for m in re.finditer(r'module_param(_named|_cb)?\(\s*(\w+)\s*,([^;]*?),\s*(0[0-7]{3})\s*\)\s*;', src):
    params[m.group(2)] = m.group(4)
descs = {m.group(1): ''.join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(2)))
         for m in re.finditer(r'MODULE_PARM_DESC\(\s*(\w+)\s*,((?:\s*"(?:[^"\\]|\\.)*")+)\s*\)', src)}
rows = {m.group(1): (m.group(2), m.group(3).strip())
        for m in re.finditer(r'^\| `(\w+)` \| (0[0-7]{3}) \| [^|]+ \| (.+) \|$', text, re.M)}
for name, mode in sorted(params.items()):
    if name not in rows:
        bad.append('README.md: module parameter %s is not in the table' % name)
    elif rows[name] != (mode, descs.get(name)):
        bad.append('README.md: module parameter %s: the table says %s "%s", the source %s "%s"'
                   % (name, rows[name][0], rows[name][1], mode, descs.get(name)))
for name in sorted(set(rows) - set(params)):
    bad.append('README.md: %s in the parameter table is no module parameter' % name)
for b in bad:
    print('!! ' + b)
if bad:
    sys.exit(1)
print('README.md: %d paths and links exist, %d module parameters match the source'
      % (len(paths), len(params)))
PY
); then
	echo "$rd" >&2
	bad=1
fi
[ $bad = 0 ] && echo "docutils: ${names[*]}: no warning; the sysfs ABI file lists the $(echo "$want" | wc -l) stats fields; $rd"
exit $bad
