/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmm_dummy tracepoints: one event per migration batch, CPU fault, device
 * fault and eviction run (events/hmm_dummy/ in tracefs).
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM hmm_dummy

#if !defined(_HMM_DUMMY_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _HMM_DUMMY_TRACE_H

#include <linux/tracepoint.h>

DECLARE_EVENT_CLASS(hmm_dummy_range,
		    TP_PROTO(unsigned int dev, unsigned long start,
			     unsigned long end, long n),
		    TP_ARGS(dev, start, end, n),
		    TP_STRUCT__entry(__field(unsigned int, dev)
				     __field(unsigned long, start)
				     __field(unsigned long, end)
				     __field(long, n)),
		    TP_fast_assign(__entry->dev = dev;
				   __entry->start = start;
				   __entry->end = end;
				   __entry->n = n;),
		    TP_printk("dev=%u range=%#lx-%#lx n=%ld", __entry->dev,
			      __entry->start, __entry->end, __entry->n)
);

/* A migrate_vma batch into device memory; n = pages moved. */
DEFINE_EVENT(hmm_dummy_range, hmm_dummy_migrate_to_dev,
	     TP_PROTO(unsigned int dev, unsigned long start, unsigned long end,
		      long n),
	     TP_ARGS(dev, start, end, n));

/* A migrate_vma batch back to system memory; n = pages moved or -errno. */
DEFINE_EVENT(hmm_dummy_range, hmm_dummy_migrate_to_sys,
	     TP_PROTO(unsigned int dev, unsigned long start, unsigned long end,
		      long n),
	     TP_ARGS(dev, start, end, n));

/* A device fault: hmm_range_fault() on a chunk; n = 1 for a write. */
DEFINE_EVENT(hmm_dummy_range, hmm_dummy_device_fault,
	     TP_PROTO(unsigned int dev, unsigned long start, unsigned long end,
		      long n),
	     TP_ARGS(dev, start, end, n));

/* migrate_to_ram; moved = pages brought back or -errno. */
TRACE_EVENT(hmm_dummy_cpu_fault,
	    TP_PROTO(unsigned int dev, unsigned long addr, long moved),
	    TP_ARGS(dev, addr, moved),
	    TP_STRUCT__entry(__field(unsigned int, dev)
			     __field(unsigned long, addr)
			     __field(long, moved)),
	    TP_fast_assign(__entry->dev = dev;
			   __entry->addr = addr;
			   __entry->moved = moved;),
	    TP_printk("dev=%u addr=%#lx moved=%ld", __entry->dev,
		      __entry->addr, __entry->moved)
);

/*
 * An eviction through the owning process: its range [start, end) that held
 * LRU victims; n = pages moved back.
 */
DEFINE_EVENT(hmm_dummy_range, hmm_dummy_evict,
	     TP_PROTO(unsigned int dev, unsigned long start, unsigned long end,
		      long n),
	     TP_ARGS(dev, start, end, n));

/*
 * A run of device pfns migrated back by pfn (unload, for folios no owner
 * maps any more).
 */
TRACE_EVENT(hmm_dummy_evict_pfns,
	    TP_PROTO(unsigned int dev, unsigned long pfn, unsigned long npages,
		     unsigned long moved),
	    TP_ARGS(dev, pfn, npages, moved),
	    TP_STRUCT__entry(__field(unsigned int, dev)
			     __field(unsigned long, pfn)
			     __field(unsigned long, npages)
			     __field(unsigned long, moved)),
	    TP_fast_assign(__entry->dev = dev;
			   __entry->pfn = pfn;
			   __entry->npages = npages;
			   __entry->moved = moved;),
	    TP_printk("dev=%u pfn=%#lx npages=%lu moved=%lu", __entry->dev,
		      __entry->pfn, __entry->npages, __entry->moved)
);

/*
 * Where the time of one migrate_vma batch went, in ns (only measured while
 * this event is enabled): migrate_vma_setup(), device or system page
 * allocation, the data copy, migrate_vma_pages(), migrate_vma_finalize().
 * dir: 0 MIGRATE_TO_DEV, 1 MIGRATE_TO_SYS, 2 CPU fault.  On the way back
 * allocation and copy alternate page by page and are counted as one (copy).
 */
TRACE_EVENT(hmm_dummy_phases,
	    TP_PROTO(unsigned int dev, unsigned int dir, unsigned long npages,
		     const u64 *ns),
	    TP_ARGS(dev, dir, npages, ns),
	    TP_STRUCT__entry(__field(unsigned int, dev)
			     __field(unsigned int, dir)
			     __field(unsigned long, npages)
			     __array(u64, ns, 5)),
	    TP_fast_assign(__entry->dev = dev;
			   __entry->dir = dir;
			   __entry->npages = npages;
			   memcpy(__entry->ns, ns, sizeof(__entry->ns));),
	    TP_printk("dev=%u dir=%u npages=%lu setup=%llu alloc=%llu copy=%llu pages=%llu finalize=%llu",
		      __entry->dev, __entry->dir, __entry->npages,
		      __entry->ns[0], __entry->ns[1], __entry->ns[2],
		      __entry->ns[3], __entry->ns[4])
);

/* The read-back after MIGRATE_TO_DEV: pages read and the time it took. */
TRACE_EVENT(hmm_dummy_readback,
	    TP_PROTO(unsigned int dev, unsigned long npages, u64 ns),
	    TP_ARGS(dev, npages, ns),
	    TP_STRUCT__entry(__field(unsigned int, dev)
			     __field(unsigned long, npages)
			     __field(u64, ns)),
	    TP_fast_assign(__entry->dev = dev;
			   __entry->npages = npages;
			   __entry->ns = ns;),
	    TP_printk("dev=%u npages=%lu ns=%llu", __entry->dev,
		      __entry->npages, __entry->ns)
);

#endif /* _HMM_DUMMY_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
