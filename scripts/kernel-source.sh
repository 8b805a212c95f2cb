#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# kernel-source.sh KVER
#
# Prints the path of the source tarball of the test kernel KVER (7.3, 6.12 or
# 6.1), fetching it first if needed:
#   6.12, 6.1  Debian bookworm's linux-source-KVER, installed with apt-get
#              by scripts/deps.sh (/usr/src/linux-source-KVER.tar.xz).
#   7.3        linux-source-7.3 from Debian's trixie-backports suite, fetched
#              with a private apt configuration in the cache (the system's
#              sources are not touched): the same mirror URI as the system's
#              own sources, signatures checked against bookworm's
#              debian-archive-keyring.  The package's current revision is
#              taken and the tarball is kept under a name carrying it, so a
#              new revision is a new cache entry.
# KERNEL_TARBALL overrides all of this.
set -euo pipefail
kver=${1:?usage: kernel-source.sh 7.3|6.12|6.1}
if [ -n "${KERNEL_TARBALL:-}" ]; then
	echo "$KERNEL_TARBALL"
	exit 0
fi
cache=${HMM_DUMMY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hmm_dummy}
say() { echo ">> $*" >&2; }
die() { echo "!! $*" >&2; exit 1; }

case $kver in
6.1|6.12)
	t=/usr/src/linux-source-$kver.tar.xz
	[ -f "$t" ] || die "$t missing: run scripts/deps.sh (it installs linux-source-$kver)"
	echo "$t"
	exit 0 ;;
7.3) suite=trixie-backports ;;
*) die "unknown kernel '$kver' (known: 7.3 6.12 6.1)" ;;
esac

pkg=linux-source-$kver
apt=$cache/apt-$suite
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$cache/src"
exec {lockfd}>"$cache/.lock-fetch-$kver"
flock "$lockfd"

# The system's own Debian mirror (deb822 or one-line format).
mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)\/\{0,1\}$/\1/p' \
	/etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
[ -n "$mirror" ] || mirror=$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\{0,1\}\([^[:space:]]*\/debian\)\/\{0,1\}[[:space:]].*/\2/p' \
	/etc/apt/sources.list 2>/dev/null | head -n 1)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$keyring" ] || die "$keyring missing (package debian-archive-keyring)"
echo "deb [signed-by=$keyring] $mirror $suite main" >"$apt/sources.list"
opts=(-o "Dir::Etc::sourcelist=$apt/sources.list" -o Dir::Etc::sourceparts=-
      -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache"
      -o APT::Get::List-Cleanup=0 -o Debug::NoLocking=1)
# The download goes to a private directory of the cache, which apt's _apt
# sandbox user cannot write to: as root, download as root (apt would do so
# anyway, with a warning).
[ "$(id -u)" != 0 ] || opts+=(-o APT::Sandbox::User=root)

# Refresh the private lists at most once a day.
if [ -z "$(find "$apt/lists" -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -n 1)" ]; then
	say "apt-get update ($suite, private lists in $apt)"
	apt-get "${opts[@]}" update >&2 || {
		# Offline, or the mirror is down: a tarball fetched earlier still serves.
		old=$(ls -t "$cache"/src/linux-source-"$kver"_*.tar.xz 2>/dev/null | head -n 1)
		[ -n "$old" ] || die "apt-get update for $suite failed"
		say "update failed; using $old"
		echo "$old"
		exit 0
	}
fi
ver=$(apt-cache "${opts[@]}" policy "$pkg" | sed -n 's/^[[:space:]]*Candidate:[[:space:]]*//p')
[ -n "$ver" ] && [ "$ver" != "(none)" ] || die "$pkg not found in $suite"
tarball=$cache/src/${pkg}_$(echo "$ver" | tr '~:+' '___').tar.xz
if [ -f "$tarball" ]; then
	echo "$tarball"
	exit 0
fi
say "downloading $pkg $ver from $mirror $suite"
tmp=$(mktemp -d "$cache/src/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# apt-get download verifies the package against the signed Release file.
(cd "$tmp" && apt-get "${opts[@]}" download "$pkg=$ver" >&2)
dpkg-deb -x "$tmp"/"$pkg"_*.deb "$tmp/x"
t=$(ls "$tmp"/x/usr/src/"$pkg".tar.xz) || die "no tarball in $pkg"
mv "$t" "$tarball"
say "$pkg $ver: $tarball"
echo "$tarball"
