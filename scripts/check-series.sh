#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# check-series.sh [PATCH-DIR]
#
# `make check`'s quick guard of the patch series (patches/, see
# `make upstream-check`): every patch applies, in order and without fuzz,
# to Debian's Linux 7.3 source the harness uses (scripts/kernel-tree.sh
# with KVER=7.3, whatever KSRC says), and scripts/checkpatch.pl --strict of
# that tree finds nothing in any of them.  The patches are applied to a
# scratch copy of only the files they touch; the source tree is only read.
# Prints one line; exit status 1, with the reasons, if a patch fails.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
pdir=$(cd "${1:-$top/patches}" && pwd)
src=$(KSRC='' KVER=7.3 "$top/scripts/kernel-tree.sh" | tail -n 1)

series=()
for p in "$pdir"/[0-9][0-9][0-9][0-9]-*.patch; do
	[ -f "$p" ] || continue
	case $(basename "$p") in 0000-*) continue ;; esac
	series+=("$p")
done
[ ${#series[@]} -gt 0 ] || { echo "!! no patches in $pdir" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hmm_dummy-series.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
bad=0
indent() { while IFS= read -r l; do echo "!!   $l"; done; }
# The files the series touches, as they are in the tree (new ones absent).
while read -r f; do
	[ ! -f "$src/$f" ] || install -D -m 644 "$src/$f" "$tmp/$f"
done < <(sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "${series[@]}" | sort -u)
for p in "${series[@]}"; do
	if ! out=$(patch -d "$tmp" -p1 --batch --forward --fuzz=0 --no-backup-if-mismatch <"$p" 2>&1); then
		echo "!! $(basename "$p") does not apply to $src after the patches before it:" >&2
		indent <<<"$out" >&2
		bad=1
		break
	fi
done
n=0
for p in "${series[@]}"; do
	if ! out=$(cd "$src" && ./scripts/checkpatch.pl --strict -q "$p" 2>&1); then
		echo "!! checkpatch --strict: $(basename "$p"):" >&2
		indent <<<"$out" >&2
		bad=1
	else
		n=$((n + 1))
	fi
done
[ $bad = 0 ] || exit 1
echo "${#series[@]} patches apply in order to $(basename "$src") (fuzz 0); checkpatch --strict clean: $n"
