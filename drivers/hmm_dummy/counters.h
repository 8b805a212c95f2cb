/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmm_dummy's event counters, one line each:
 *
 *   HMM_DUMMY_COUNTER(NAME, field)
 *
 * NAME gives the constant HMM_DUMMY_CNT_NAME that hmm_dummy_count() takes,
 * field the member of struct hmm_dummy_stats (uAPI, which documents it)
 * that HMM_DUMMY_STATS and the sysfs file stats/field report.  The enum
 * (hmm_dummy.h), the STATS fill (hmm_dummy_fill_stats()), the sysfs
 * attributes (sysfs.c) and the fields `hmm_test stats` lists (dev.c of the
 * tool) are generated from this table: each includes it with
 * HMM_DUMMY_COUNTER() defined.  A new counter is a line here, a member
 * appended to struct hmm_dummy_stats with its documentation (and the
 * structure's version raised), and the hmm_dummy_count() calls that feed it;
 * `hmm_test stats` then lists it, after the other counters and before the
 * allocator lock's fields, with no edit to the tool.
 *
 * No include guard: included once per use.
 */
HMM_DUMMY_COUNTER(ALLOCATIONS,		allocations)
HMM_DUMMY_COUNTER(PAGE_FREES,		page_free_calls)
HMM_DUMMY_COUNTER(ALLOC_FAILURES,	alloc_failures)
HMM_DUMMY_COUNTER(TO_DEV,		migrated_to_dev)
HMM_DUMMY_COUNTER(TO_SYS_IOCTL,		migrated_to_sys_ioctl)
HMM_DUMMY_COUNTER(TO_SYS_FAULT,		migrated_to_sys_fault)
HMM_DUMMY_COUNTER(TO_SYS_EVICT,		migrated_to_sys_evict)
HMM_DUMMY_COUNTER(CPU_FAULTS,		cpu_faults)
HMM_DUMMY_COUNTER(DEVICE_FAULTS,	device_faults)
HMM_DUMMY_COUNTER(EVICTIONS,		evictions)
HMM_DUMMY_COUNTER(BACKING_PAGES,	backing_pages)
HMM_DUMMY_COUNTER(LARGE_ALLOCATED,	large_allocated)
HMM_DUMMY_COUNTER(LARGE_TO_DEV,		large_to_dev)
HMM_DUMMY_COUNTER(LARGE_TO_SYS,		large_to_sys)
HMM_DUMMY_COUNTER(LARGE_SPLITS,		large_splits)
HMM_DUMMY_COUNTER(LARGE_FALLBACKS,	large_fallbacks)
HMM_DUMMY_COUNTER(ENGINE_JOBS,		engine_jobs)
HMM_DUMMY_COUNTER(ENGINE_FAILURES,	engine_failures)
HMM_DUMMY_COUNTER(DMA_MAPS,		dma_maps)
/* A gauge, not an event count: unmaps count it down. */
HMM_DUMMY_COUNTER(DMA_MAPPED,		dma_mapped)
HMM_DUMMY_COUNTER(PAGE_FREES_HELD,	page_frees_after_job)
