/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * hmm_dummy: user-space interface of the dummy HMM device driver.
 *
 * Commands 0x00..0x09 keep the ioctl numbers, the command structure and the
 * snapshot encoding of the kernel's own HMM test driver (lib/test_hmm_uapi.h,
 * as of Linux 7.3) so that tools/testing/selftests/mm/hmm-tests runs
 * unmodified against /dev/hmm_dummyN.  hmm_dummy's own commands start at
 * 0x40.
 */
#ifndef _UAPI_LINUX_HMM_DUMMY_H
#define _UAPI_LINUX_HMM_DUMMY_H

#include <linux/types.h>
#include <linux/ioctl.h>

/**
 * struct hmm_dmirror_cmd - argument of the test_hmm compatible commands
 * @addr:   start of the range in the calling process (page aligned)
 * @ptr:    user buffer: the data for READ/WRITE, the device's view of the
 *          migrated data for MIGRATE_TO_DEV, one byte per page for SNAPSHOT
 * @npages: number of pages in the range
 * @cpages: out: number of pages handled (read, written, migrated, ...)
 * @faults: out: number of device faults needed to complete the command
 */
struct hmm_dmirror_cmd {
	__u64		addr;
	__u64		ptr;
	__u64		npages;
	__u64		cpages;
	__u64		faults;
};

#define HMM_DMIRROR_READ		_IOWR('H', 0x00, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_WRITE		_IOWR('H', 0x01, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_MIGRATE_TO_DEV	_IOWR('H', 0x02, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_MIGRATE_TO_SYS	_IOWR('H', 0x03, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_SNAPSHOT		_IOWR('H', 0x04, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_EXCLUSIVE		_IOWR('H', 0x05, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_CHECK_EXCLUSIVE	_IOWR('H', 0x06, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_RELEASE		_IOWR('H', 0x07, struct hmm_dmirror_cmd)
/*
 * FLAGS: @npages carries HMM_DMIRROR_FLAG_* bits (others: -EINVAL), which
 * replace the file's current flags.  FAIL_ALLOC makes the next allocation
 * of a migration through this file fail once: for MIGRATE_TO_DEV a device
 * allocation, for MIGRATE_TO_SYS (and RELEASE) a system one; that page (or,
 * for a large folio, the large allocation, which then falls back to small
 * pages) is not migrated.  A device allocation of single pages comes back
 * one page short, as when device memory runs out, and the migration ends
 * after that batch.  CPU faults do not consume it.
 */
#define HMM_DMIRROR_FLAGS		_IOWR('H', 0x08, struct hmm_dmirror_cmd)
/*
 * READ_UNLOCKED: READ whose faults may drop mmap_lock (userfaultfd memory can
 * be read); -EOPNOTSUPP on kernels without hmm_range_fault_unlocked_timeout().
 */
#define HMM_DMIRROR_READ_UNLOCKED	_IOWR('H', 0x09, struct hmm_dmirror_cmd)

#define HMM_DMIRROR_FLAG_FAIL_ALLOC	(1ULL << 0)

/* Per-page values written by HMM_DMIRROR_SNAPSHOT (one byte per page). */
enum {
	HMM_DMIRROR_PROT_ERROR			= 0xFF,
	HMM_DMIRROR_PROT_NONE			= 0x00,
	HMM_DMIRROR_PROT_READ			= 0x01,
	HMM_DMIRROR_PROT_WRITE			= 0x02,
	HMM_DMIRROR_PROT_PMD			= 0x04,
	HMM_DMIRROR_PROT_PUD			= 0x08,
	HMM_DMIRROR_PROT_ZERO			= 0x10,
	HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL	= 0x20,
	HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE	= 0x30,
	HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL	= 0x40,
	HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE	= 0x50,
};

enum {
	/* 0 is reserved to catch uninitialized type fields */
	HMM_DMIRROR_MEMORY_DEVICE_PRIVATE = 1,
	HMM_DMIRROR_MEMORY_DEVICE_COHERENT,
};

/*
 * hmm_dummy's own commands.  Every structure starts with @size (in: the
 * size of the structure the caller knows, out: the size the kernel filled)
 * and @version, so that fields can be appended later: the kernel copies out
 * min(caller's size, its own size) bytes, leaves the caller's bytes past
 * that alone, and rejects a size smaller than the first version of the
 * structure (HMM_DUMMY_*_SIZE_V1) with -EINVAL.  A caller built against a
 * newer header checks @size to see which fields the kernel filled; one
 * built against an older header keeps working when fields are appended.
 * Fields are only ever appended, never moved or resized.
 */

#define HMM_DUMMY_STATS_VERSION	6
/* Size of version 1: up to and including @backing_pages. */
#define HMM_DUMMY_STATS_SIZE_V1	128

/**
 * struct hmm_dummy_stats - counters of one device (all in pages or events)
 * @size:                  in/out, see above
 * @version:               out: HMM_DUMMY_STATS_VERSION
 * @capacity:              device pages the device owns
 * @free:                  device pages in the allocator
 * @in_use:                device pages handed out and not yet freed
 * @peak_in_use:           highest @in_use seen since load
 * @allocations:           device pages handed out by the allocator
 * @page_free_calls:       pages given back through dev_pagemap_ops.page_free
 * @alloc_failures:        allocations that found no free page even after
 *                         eviction
 * @migrated_to_dev:       pages migrated into this device's memory
 * @migrated_to_sys_ioctl: pages migrated back by MIGRATE_TO_SYS / RELEASE
 * @migrated_to_sys_fault: pages migrated back by CPU faults (migrate_to_ram)
 * @migrated_to_sys_evict: pages migrated back to make room (eviction) or
 *                         at module unload
 * @cpu_faults:            migrate_to_ram calls
 * @device_faults:         mirror faults (hmm_range_fault calls that fault)
 * @evictions:             eviction rounds
 * @backing_pages:         system pages allocated as the device's VRAM backing
 *
 * Since version 2 (device-private THP; these stay 0 on kernels without it,
 * where every device folio is a single page):
 * @large_allocated:       large (PMD-sized) device folios handed out; their
 *                         pages are also counted in @allocations
 * @large_to_dev:          large device folios filled by a migration to the
 *                         device (a THP or a PMD-sized hole moved as one)
 * @large_to_sys:          large device folios migrated back to system
 *                         memory as one THP (ioctl, CPU fault or eviction)
 * @large_splits:          large device folios split by the core (partial
 *                         munmap/mprotect/mremap, partial migration)
 * @large_fallbacks:       large allocations that failed (no free run of
 *                         device memory, no system THP, injected failure)
 *                         and fell back to single pages
 *
 * Since version 3 (contention of the device-memory allocator's lock, which
 * every allocation and every page free of the device takes):
 * @alloc_lock_acquired:   times the lock was taken
 * @alloc_lock_contended:  times a taker found it held and waited
 * @alloc_lock_wait_ns:    total nanoseconds takers waited for it
 *
 * Since version 4 (the copy engine, which makes every copy of the device):
 * @engine_jobs:           copy jobs the engine completed
 * @engine_failures:       copy jobs that failed (the test hook
 *                         engine_fail_jobs); their pages did not move
 * @engine_in_flight:      copy jobs submitted and not yet completed,
 *                         now (a gauge)
 *
 * Since version 5 (device page tables hold DMA addresses of system pages):
 * @dma_maps:              system pages DMA-mapped for the device (each
 *                         mapping counts once, however often it is used)
 * @dma_mapped:            DMA mappings live now (a gauge: every
 *                         invalidation and every close unmaps, so it is 0
 *                         once no file of the device is open)
 *
 * Since version 6 (copy jobs hold the device pages they copy):
 * @page_frees_after_job:  device pages whose folio was freed while a copy
 *                         job still used them, given back to the allocator
 *                         only when the job was done (0 as long as every
 *                         invalidation and migration waits for its jobs)
 */
struct hmm_dummy_stats {
	__u32	size;
	__u32	version;
	__u64	capacity;
	__u64	free;
	__u64	in_use;
	__u64	peak_in_use;
	__u64	allocations;
	__u64	page_free_calls;
	__u64	alloc_failures;
	__u64	migrated_to_dev;
	__u64	migrated_to_sys_ioctl;
	__u64	migrated_to_sys_fault;
	__u64	migrated_to_sys_evict;
	__u64	cpu_faults;
	__u64	device_faults;
	__u64	evictions;
	__u64	backing_pages;
	__u64	large_allocated;
	__u64	large_to_dev;
	__u64	large_to_sys;
	__u64	large_splits;
	__u64	large_fallbacks;
	__u64	alloc_lock_acquired;
	__u64	alloc_lock_contended;
	__u64	alloc_lock_wait_ns;
	__u64	engine_jobs;
	__u64	engine_failures;
	__u64	engine_in_flight;
	__u64	dma_maps;
	__u64	dma_mapped;
	__u64	page_frees_after_job;
};

#define HMM_DUMMY_INFO_VERSION	3
/* Size of version 1: up to and including @large_order (then reserved). */
#define HMM_DUMMY_INFO_SIZE_V1	40

/**
 * struct hmm_dummy_info - static facts about one device
 * @size:           in/out, see above
 * @version:        out: HMM_DUMMY_INFO_VERSION
 * @device_index:   N of /dev/hmm_dummyN
 * @num_devices:    devices created by the module
 * @capacity_pages: device pages the device owns
 * @page_size:      bytes per page
 * @fault_window:   pages migrated back per CPU fault at most
 * @peer_migration: 1 if MIGRATE_TO_DEV also takes pages from peer devices
 * @large_order:    since version 2 (was reserved, 0): order of the large
 *                  (PMD-sized) device folios a THP or a PMD-aligned hole
 *                  migrates into; 0 when the kernel has no device-private
 *                  THP and every device folio is a single page (and for
 *                  a coherent device, whose folios are single pages)
 * @memory_type:    since version 3: HMM_DUMMY_MEMORY_PRIVATE (device-private
 *                  memory the CPU faults back on access) or
 *                  HMM_DUMMY_MEMORY_COHERENT (memory the CPU maps directly,
 *                  created by the spm_addr_dev0/1 module parameters)
 * @reserved:       0
 */
struct hmm_dummy_info {
	__u32	size;
	__u32	version;
	__u32	device_index;
	__u32	num_devices;
	__u64	capacity_pages;
	__u32	page_size;
	__u32	fault_window;
	__u32	peer_migration;
	__u32	large_order;
	__u32	memory_type;
	__u32	reserved;
};

/* Values of hmm_dummy_info.memory_type. */
#define HMM_DUMMY_MEMORY_PRIVATE	0
#define HMM_DUMMY_MEMORY_COHERENT	1

#define HMM_DUMMY_STATS		_IOWR('H', 0x40, struct hmm_dummy_stats)
#define HMM_DUMMY_INFO		_IOWR('H', 0x41, struct hmm_dummy_info)

#endif /* _UAPI_LINUX_HMM_DUMMY_H */
