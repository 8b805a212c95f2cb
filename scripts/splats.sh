# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Sourced by scripts/vm-run.sh and scripts/upstream-check.sh: the extended
# regular expression (grep -E) of the console lines that are a kernel splat.
# shellcheck disable=SC2034
splats='WARNING:|BUG:|Oops|KASAN:|UBSAN:|possible circular locking|possible recursive locking|kmemleak: .*new suspected memory leaks|Kernel panic|kernel BUG at|general protection fault|INFO: task .* blocked for more than|DMAR: \[DMA (Read|Write)|DMAR: DRHD: handling fault|copy engine: DMA fault'
