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

#include "hmm_dummy.h"

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

TRACE_DEFINE_ENUM(HMM_DUMMY_OP_TO_DEV);
TRACE_DEFINE_ENUM(HMM_DUMMY_OP_TO_SYS);
TRACE_DEFINE_ENUM(HMM_DUMMY_OP_FAULT);
TRACE_DEFINE_ENUM(HMM_DUMMY_OP_READBACK);
TRACE_DEFINE_ENUM(HMM_DUMMY_PHASE_BEGIN);
TRACE_DEFINE_ENUM(HMM_DUMMY_PHASE_SETUP);
TRACE_DEFINE_ENUM(HMM_DUMMY_PHASE_ALLOC);
TRACE_DEFINE_ENUM(HMM_DUMMY_PHASE_COPY);
TRACE_DEFINE_ENUM(HMM_DUMMY_PHASE_PAGES);
TRACE_DEFINE_ENUM(HMM_DUMMY_PHASE_FINALIZE);

/*
 * A phase boundary of one migrate_vma batch (op to_dev, to_sys, fault) or
 * of the read-back after MIGRATE_TO_DEV: the end of @phase, or with phase
 * begin the start; a phase lasts from the previous event of the same task
 * (make profile: vm/profile.sh).  A batch is begin, setup, alloc, copy,
 * pages, finalize, and ends at setup when nothing was collected; on the way
 * back allocation and copy alternate page by page and count as copy.  An
 * eviction inside a migration to the device is a batch of its own (to_sys)
 * nested in that migration's alloc phase.  npages: the pages the batch
 * spans (the read-back: the pages read).
 */
TRACE_EVENT(hmm_dummy_phase,
	    TP_PROTO(unsigned int dev, unsigned int op, unsigned int phase,
		     unsigned long npages),
	    TP_ARGS(dev, op, phase, npages),
	    TP_STRUCT__entry(__field(unsigned int, dev)
			     __field(unsigned int, op)
			     __field(unsigned int, phase)
			     __field(unsigned long, npages)),
	    TP_fast_assign(__entry->dev = dev;
			   __entry->op = op;
			   __entry->phase = phase;
			   __entry->npages = npages;),
	    TP_printk("dev=%u op=%s phase=%s npages=%lu", __entry->dev,
		      __print_symbolic(__entry->op,
				       { HMM_DUMMY_OP_TO_DEV, "to_dev" },
				       { HMM_DUMMY_OP_TO_SYS, "to_sys" },
				       { HMM_DUMMY_OP_FAULT, "fault" },
				       { HMM_DUMMY_OP_READBACK, "readback" }),
		      __print_symbolic(__entry->phase,
				       { HMM_DUMMY_PHASE_BEGIN, "begin" },
				       { HMM_DUMMY_PHASE_SETUP, "setup" },
				       { HMM_DUMMY_PHASE_ALLOC, "alloc" },
				       { HMM_DUMMY_PHASE_COPY, "copy" },
				       { HMM_DUMMY_PHASE_PAGES, "pages" },
				       { HMM_DUMMY_PHASE_FINALIZE, "finalize" }),
		      __entry->npages)
);

#endif /* _HMM_DUMMY_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
