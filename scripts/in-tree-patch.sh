#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# in-tree-patch.sh KSRC [OUT.patch]
#
# Writes a git-format patch (default: build/in-tree/0001-hmm_dummy.patch)
# that adds hmm_dummy to the kernel tree KSRC the way a driver is carried in
# tree, and prints its path:
#   drivers/misc/hmm_dummy/            the driver, Kconfig (HMM_DUMMY), Makefile
#   drivers/misc/{Kconfig,Makefile}    hooked in
#   include/uapi/linux/hmm_dummy.h     the uAPI header
#   Documentation/misc-devices/hmm_dummy.rst, in that directory's index
#   MAINTAINERS                        an entry for the files above
# The patch is for that one kernel: the kernel features the out-of-tree
# Kbuild probes for (compat.h) are probed once here, in KSRC, and the
# results are written into the driver's Makefile.  KSRC is only read; the
# patch is made in a scratch git repository holding copies of the files it
# changes.  Apply it with `git am` or `patch -p1`.
set -euo pipefail
ksrc=${1:?usage: in-tree-patch.sh KSRC [OUT.patch]}
top=$(cd "$(dirname "$0")/.." && pwd)
out=${2:-$top/build/in-tree/0001-hmm_dummy.patch}
[ -f "$ksrc/drivers/misc/Kconfig" ] && [ -f "$ksrc/MAINTAINERS" ] ||
	{ echo "!! $ksrc is not a kernel source tree" >&2; exit 1; }
kver=$(make -s -C "$ksrc" kernelversion)

work=$(mktemp -d "${TMPDIR:-/tmp}/hmm_dummy-intree.XXXXXX")
trap 'rm -rf "$work"' EXIT
changed=(drivers/misc/Kconfig drivers/misc/Makefile
	 Documentation/misc-devices/index.rst MAINTAINERS)
g() { git -C "$work" "$@"; }
g init -q
for f in "${changed[@]}"; do
	mkdir -p "$work/$(dirname "$f")"
	cp "$ksrc/$f" "$work/$f"
done
g add -A
g -c user.name=base -c user.email=base@localhost commit -q -m base

# The driver, with the paths it names in comments moved to the in-tree ones.
d=$work/drivers/misc/hmm_dummy
mkdir -p "$d" "$work/include/uapi/linux"
cp "$top"/drivers/hmm_dummy/*.[ch] "$d/"
cp "$top/include/uapi/linux/hmm_dummy.h" "$work/include/uapi/linux/"
cp "$top/Documentation/hmm_dummy.rst" "$work/Documentation/misc-devices/"
sed -i -e 's|Documentation/hmm_dummy\.rst|Documentation/misc-devices/hmm_dummy.rst|g' \
	-e 's|drivers/hmm_dummy/|drivers/misc/hmm_dummy/|g' \
	"$d"/*.[ch] "$work/Documentation/misc-devices/hmm_dummy.rst"

# The probes of the out-of-tree Kbuild, run against KSRC.
defs=()
while IFS='|' read -r pat file macro; do
	if grep -qsE "$pat" "$ksrc/$file"; then
		defs+=("$macro")
	fi
done < <(sed -n 's/^ccflags-y += $(call hmm_dummy_has,\([^,]*\),\([^,]*\),\([^)]*\))$/\1|\2|\3/p' \
	"$top/drivers/hmm_dummy/Kbuild")
{
	echo "# SPDX-License-Identifier: GPL-2.0"
	echo "obj-\$(CONFIG_HMM_DUMMY) += hmm_dummy.o"
	sed -n 's/^hmm_dummy-y.*/&/p' "$top/drivers/hmm_dummy/Kbuild"
	echo
	echo "# define_trace.h includes trace.h from this directory"
	echo "CFLAGS_migrate.o += -I\$(src)"
	if [ ${#defs[@]} -gt 0 ]; then
		echo
		echo "# Features of this kernel that compat.h selects code by"
		for m in "${defs[@]}"; do
			echo "ccflags-y += -D$m"
		done
	fi
} >"$d/Makefile"

cat >"$d/Kconfig" <<'KCONFIG'
# SPDX-License-Identifier: GPL-2.0-only
config HMM_DUMMY
	tristate "Dummy HMM device with device-private memory"
	depends on DEVICE_PRIVATE && MIGRATION && MMU
	select HMM_MIRROR
	select MMU_NOTIFIER
	select DMA_SHARED_BUFFER
	help
	  A pretend device whose memory is ordinary RAM handed to the kernel
	  as MEMORY_DEVICE_PRIVATE pages.  It migrates process memory to the
	  device and back, takes CPU faults on device pages and mirrors the
	  process page table through HMM, through /dev/hmm_dummyN.  Its ioctl
	  ABI is that of lib/test_hmm.c, so the HMM selftests run against it.
	  Meant for testing the HMM and migrate_device code and as an example
	  for device driver writers; it is of no use on a production system.

	  To compile this driver as a module, choose M here: the module will
	  be called hmm_dummy.

	  If unsure, say N.
KCONFIG

# Hook the new files in.
awk '$0 == "endmenu" && !done { print "source \"drivers/misc/hmm_dummy/Kconfig\""; done = 1 } 1' \
	"$work/drivers/misc/Kconfig" >"$work/k" && mv "$work/k" "$work/drivers/misc/Kconfig"
echo 'obj-$(CONFIG_HMM_DUMMY)		+= hmm_dummy/' >>"$work/drivers/misc/Makefile"
awk '/^   [a-z0-9]/ && !done && $1 > "hmm_dummy" { print "   hmm_dummy"; done = 1 } 1' \
	"$work/Documentation/misc-devices/index.rst" >"$work/k" &&
	mv "$work/k" "$work/Documentation/misc-devices/index.rst"
# MAINTAINERS: the entry in alphabetical order among the entries.
awk '
	/^[A-Z0-9][A-Z0-9 ()\/,._-]*$/ && prev == "" && !done && seen && $0 > "HMM DUMMY DEVICE DRIVER" {
		print "HMM DUMMY DEVICE DRIVER"
		print "L:\tlinux-mm@kvack.org"
		print "S:\tMaintained"
		print "F:\tDocumentation/misc-devices/hmm_dummy.rst"
		print "F:\tdrivers/misc/hmm_dummy/"
		print "F:\tinclude/uapi/linux/hmm_dummy.h"
		print ""
		done = 1
	}
	/^3C59X NETWORK DRIVER/ { seen = 1 }
	{ print; prev = $0 }' "$work/MAINTAINERS" >"$work/k" && mv "$work/k" "$work/MAINTAINERS"

name=$(git config user.name || echo hmm_dummy)
email=$(git config user.email || echo hmm_dummy@localhost)
g add -A
g -c user.name="$name" -c user.email="$email" commit -q -F - <<MSG
misc: add hmm_dummy, a dummy HMM device with device-private memory

hmm_dummy is a device without hardware whose "device memory" is ordinary
RAM handed to the kernel as MEMORY_DEVICE_PRIVATE pages.  It migrates
process memory to the device and back (ioctl, CPU fault with a window,
eviction when the device is full, module unload), mirrors the process
page table through hmm_range_fault() and mmu interval notifiers, gives
the device exclusive access with make_device_exclusive(), and moves
PMD-sized device folios where the core supports them.

Its ioctl ABI is that of lib/test_hmm.c, so selftests/mm/hmm-tests runs
against it unmodified; the extra commands (STATS, INFO, RELEASE) are in
include/uapi/linux/hmm_dummy.h.  Documentation/misc-devices/hmm_dummy.rst
describes the life of a device page and the locking rules.

Generated for Linux $kver by scripts/in-tree-patch.sh of the hmm_dummy
repository.

Signed-off-by: $name <$email>
MSG
mkdir -p "$(dirname "$out")"
g format-patch -q -1 --stdout >"$out"
echo "$out"
