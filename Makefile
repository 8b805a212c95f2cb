# SPDX-License-Identifier: GPL-2.0
#
# hmm_dummy: top-level Makefile.  Every target does its own set-up (Debian
# packages, test kernel, module, tool, initramfs), so on a fresh machine
# `make demo` and `make check` are all it takes.  See README.md.

SHELL := /bin/bash
.DEFAULT_GOAL := all

# The kernel to build the module against for `make`/`make all`: by default the
# harness's own debug test kernel (built into the cache on first use).  Set
# KDIR=/lib/modules/$(uname -r)/build to use a kernel of your own.
KDIR ?=
# The test kernel: 7.3 (default), 6.12 or 6.1, built from Debian's
# linux-source package (scripts/kernel-source.sh, scripts/build-kernel.sh).
KVER ?= 7.3
# A kernel source tree of your own (git checkout or plain tree) instead of
# Debian's: built out of tree into the cache (scripts/kernel-tree.sh), its
# version replaces KVER, and `make check` runs on it alone (fast kernel, or
# FLAVOUR=debug).
KSRC ?=
# Or an O= build directory of such a tree (KOBJ; its `source` link names the
# tree), built there; with KIMAGE, a prebuilt bzImage is booted as it is and
# the modules are built against KOBJ or the configured KSRC.  A .config of
# yours must have the options of kernel/base.config and kernel/FLAVOUR.config
# the harness needs; KSRC_MERGE=1 merges them into it.  See
# Documentation/harness.rst, "Your own kernel tree (KSRC)".
KOBJ ?=
KIMAGE ?=
KSRC_MERGE ?=
export KOBJ KIMAGE KSRC_MERGE
ifeq ($(KSRC),)
ifneq ($(KOBJ),)
KSRC := $(realpath $(KOBJ)/source)
ifeq ($(KSRC),)
$(error KOBJ=$(KOBJ) has no `source` link to its tree: set KSRC too)
endif
endif
endif
ifneq ($(KSRC),)
export KSRC
override KVER := $(shell MAKEFLAGS= make -s -C '$(KSRC)' kernelversion 2>/dev/null | cut -d. -f1,2)
ifeq ($(KVER),)
$(error KSRC=$(KSRC): `make kernelversion` failed there; is it a kernel source tree?)
endif
endif
export KVER
# Kernels, flavours and copy engine modes `make check` runs the suite on, in
# this order (KVER:FLAVOUR:ENGINE[:iommu]; the in-tree module's whole-suite
# run, on 7.3, takes the other engine mode, so 7.3 runs the suite in both).
# The 7.3 leg's VM has an IOMMU: the hmm_dma_map_*() helpers exist only
# there (6.16+), and with it they take their IOVA path; the 6.12 leg's has
# one too, for compat.h's dma_map_page() path (lazy IOTLB flushing, the x86
# default), at no measurable cost (68 s for hmm_test run either way).
CHECK_KERNELS ?= 7.3:debug:async:iommu 6.12:fast:sync:iommu 6.1:fast:async
ifneq ($(KSRC),)
override CHECK_KERNELS := $(KVER):$(or $(FLAVOUR),fast)
endif
# Kernel flavour for vm-run, vm-shell and conformance (fast|debug).
FLAVOUR ?=
# Seconds of `hmm_test stress`: in `make check` and in `make stress`.
CHECK_STRESS_SECONDS ?= 30
# Calls of `hmm_test fuzz` in `make check` (empty: 100000).
CHECK_FUZZ_CALLS ?=
STRESS_SECONDS ?= 600
# Seconds of `hmm_test stress` in `make coverage`.
COVERAGE_STRESS_SECONDS ?= 30
# `make quick`: the hmm_test cases (run patterns) it runs, whether it runs
# the kernel's hmm-tests against hmm_dummy too (1), in which THP modes and
# without which of its tests (benchmark_thp_migration: a benchmark of up to
# 256 MiB, about 100 s under emulation);
# QUICK_COVERAGE=1 only prints how to get the coverage (make coverage).
QUICK_CASES ?= migrate_ paths_ thp_
QUICK_HMM_TESTS ?= 1
QUICK_THP ?= always
QUICK_HMM_TESTS_SKIP ?= benchmark_thp_migration
QUICK_COVERAGE ?=
# Host-side time limits of the VM runs, in seconds.
CHECK_TIMEOUT ?= 3600
VM_TIMEOUT ?= 900
BENCH_TIMEOUT ?= 3600
# Size of the buffer `make demo` migrates.
DEMO_SIZE ?= 4M
export CMD

S := $(CURDIR)/scripts
kdir = $$(if [ -n "$(KDIR)" ]; then echo "$(KDIR)"; else $(S)/build-kernel.sh debug | tail -n 1; fi)

# `make install`: hmm_test, its man page and the uAPI header.
PREFIX ?= /usr/local
DESTDIR ?=
# `make in-tree-patch KSRC=...`: the kernel tree to write the patch for.
KSRC ?=
# `make dkms-source`: where the DKMS source tree goes.
DKMS_SRCDIR ?= /usr/src

.PHONY: all module tool sparse deps kernel kernel-debug kernel-fast demo check \
	quick conformance bench profile stress coverage upstream-check vm-shell vm-run \
	mutation clean distclean clean-cache help install uninstall in-tree-patch \
	dkms-source

all: module tool

# Command-line variables such as W=1 or C=1 reach kbuild through MAKEFLAGS.
module: $(if $(KDIR),,deps)
	@k=$(kdir); $(MAKE) -C "$$k" M=$(CURDIR)/drivers/hmm_dummy modules

tool:
	$(MAKE) -C tools/hmm_test

# Run sparse on every file of the module (kbuild's C=2).
sparse: $(if $(KDIR),,deps)
	@k=$(kdir); $(MAKE) -C "$$k" M=$(CURDIR)/drivers/hmm_dummy C=2 modules

deps:
	@$(S)/deps.sh

install uninstall:
	$(MAKE) -C tools/hmm_test $@ PREFIX="$(PREFIX)" DESTDIR="$(DESTDIR)"

# A git-format patch adding the driver to the kernel tree KSRC (drivers/misc/).
in-tree-patch:
	@[ -n "$(KSRC)" ] || { echo "usage: make in-tree-patch KSRC=/path/to/linux [OUT=file.patch]" >&2; exit 2; }
	@$(S)/in-tree-patch.sh "$(KSRC)" $(OUT)

# DKMS_SRCDIR/hmm_dummy-VERSION for `dkms add hmm_dummy/VERSION`.
dkms-source:
	@$(S)/dkms-source.sh "$(DKMS_SRCDIR)"

kernel: kernel-debug kernel-fast
kernel-debug kernel-fast: deps
	@$(S)/build-kernel.sh $(@:kernel-%=%)

demo: deps
	@$(S)/vm-run.sh -f fast -t $(VM_TIMEOUT) -n demo -e DEMO_SIZE=$(DEMO_SIZE) -- sh /hmm/vm/demo.sh

check: deps
	@$(S)/check-all.sh $(CHECK_TIMEOUT) $(CHECK_KERNELS) -- \
		-e STRESS_SECONDS=$(CHECK_STRESS_SECONDS) \
		$(if $(CHECK_FUZZ_CALLS),-e FUZZ_CALLS=$(CHECK_FUZZ_CALLS))

# One boot of the fast kernel (FLAVOUR=debug: the debug one) with only what
# a patch to the kernel's migration code needs: vm/quick.sh.  Results in
# results/quick-KVER-latest (quick-ksrc-KVER-latest for KSRC).
quick: deps
	@$(if $(QUICK_COVERAGE),echo ">> coverage of mm/: make coverage$(if $(KSRC), KSRC=$(KSRC)) (its own gcov kernel; not run by quick)";) \
	$(S)/suite.sh quick-$(if $(KSRC),ksrc-)$(KVER) $(or $(FLAVOUR),fast) $(VM_TIMEOUT) 'sh /hmm/vm/quick.sh' \
		-e QUICK_CASES='$(QUICK_CASES)' -e QUICK_HMM_TESTS=$(QUICK_HMM_TESTS) -e QUICK_THP='$(QUICK_THP)' \
		-e QUICK_HMM_TESTS_SKIP='$(QUICK_HMM_TESTS_SKIP)'

conformance: deps
	@$(S)/suite.sh conformance $(or $(FLAVOUR),debug) $(CHECK_TIMEOUT) 'sh /hmm/vm/conformance.sh'

# Ends with the report (scripts/bench-report.sh); timings are noisy here, so
# a regression against the committed baseline of the same kernel version
# (results/bench-baseline.csv for 7.3) is flagged, never failed.
bench: deps
	@load=$$(uptime); \
	$(S)/suite.sh bench fast $(BENCH_TIMEOUT) 'sh /hmm/vm/bench.sh' \
		$(if $(BENCH_ARGS),-e BENCH_ARGS='$(BENCH_ARGS)'); rc=$$?; \
	echo; HOST_LOAD_START="$$load" $(S)/bench-report.sh $(CURDIR)/results/bench-latest; \
	exit $$rc

# Where migration time goes: per-phase totals from the timestamps of the
# hmm_dummy_phase event (vm/profile.sh).
profile: deps
	@$(S)/suite.sh profile fast $(VM_TIMEOUT) 'sh /hmm/vm/profile.sh'

stress: deps
	@$(S)/suite.sh stress debug $$(( $(STRESS_SECONDS) + $(CHECK_TIMEOUT) )) 'sh /hmm/vm/stress.sh' \
		-e STRESS_SECONDS=$(STRESS_SECONDS)

# Line coverage of the kernel's HMM core by each test run (gcov kernel;
# not part of `make check`).  Report in results/coverage-KVER-latest/.
coverage: deps
	@$(S)/coverage.sh $(CHECK_TIMEOUT) $(COVERAGE_STRESS_SECONDS)

# The patch series in patches/ against stock Linux 7.3: builds the stock and
# the patched debug kernel, runs each reproducer and hmm-tests on both, on
# test_hmm and hmm_dummy (not part of `make check`; Documentation/harness.rst).
upstream-check: deps
	@$(S)/upstream-check.sh $(CHECK_TIMEOUT)

vm-shell: deps
	@$(S)/vm-run.sh -i -f $(or $(FLAVOUR),fast) -n shell -- 'setsid cttyhack sh -l'

vm-run: deps
	@[ -n "$$CMD" ] || { echo "usage: make vm-run CMD='command' [FLAVOUR=fast|debug]" >&2; exit 2; }
	@$(S)/vm-run.sh -f $(or $(FLAVOUR),fast) -t $(VM_TIMEOUT) -n vm-run -- "$$CMD"

# Not part of check: the suite against deliberately broken drivers.
# SABOTAGE='none no-free no-copy no-inval-wait no-dma-unmap dma-unmap-early'
# picks them (default: no-free no-copy); MUTATION_FLAGS=-I boots with the
# IOMMU, MUTATION_FLAGS='-p PATTERN' runs only some cases.
mutation: deps
	@$(S)/mutation.sh $(MUTATION_FLAGS) $(SABOTAGE)

clean:
	@k="$(KDIR)"; [ -n "$$k" ] || k=$$(ls -d $${XDG_CACHE_HOME:-$$HOME/.cache}/hmm_dummy/build/debug-$(KVER).* 2>/dev/null | head -n 1); \
	if [ -n "$$k" ] && [ -f drivers/hmm_dummy/Kbuild ]; then $(MAKE) -s -C "$$k" M=$(CURDIR)/drivers/hmm_dummy clean; fi
	@[ ! -f tools/hmm_test/Makefile ] || $(MAKE) -s -C tools/hmm_test clean
	rm -rf build

distclean: clean
	rm -rf results/*-20* results/*-latest

# The test kernels and the extracted source (several GB).
clean-cache:
	rm -rf $${HMM_DUMMY_CACHE:-$${XDG_CACHE_HOME:-$$HOME/.cache}/hmm_dummy}

help:
	@sed -n 's/^## //p' README.md 2>/dev/null || true
	@echo "targets: all module tool sparse demo check quick conformance bench profile stress coverage upstream-check vm-shell vm-run CMD=... mutation kernel clean distclean clean-cache"
	@echo "         install uninstall (PREFIX, DESTDIR) in-tree-patch KSRC=... dkms-source (DKMS_SRCDIR)"
	@echo "variables: KVER=7.3|6.12|6.1 (default 7.3), KSRC=/path/to/linux, KOBJ=/path/to/O, KIMAGE=bzImage, KSRC_MERGE=1, CHECK_KERNELS='$(CHECK_KERNELS)', FLAVOUR=fast|debug|gcov"
	@echo "           make quick: QUICK_CASES='$(QUICK_CASES)' QUICK_HMM_TESTS=$(QUICK_HMM_TESTS) QUICK_THP='$(QUICK_THP)' QUICK_HMM_TESTS_SKIP='$(QUICK_HMM_TESTS_SKIP)' QUICK_COVERAGE=1"
