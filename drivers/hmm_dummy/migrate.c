// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_dummy migration: system memory <-> device memory.
 *
 * All migrations follow the migrate_vma (or migrate_device) protocol:
 * setup collects, locks and unmaps the source pages; the driver allocates
 * locked destination pages and copies; migrate_*_pages() moves the struct
 * page state; finalize maps the destinations (or restores the sources) and
 * unlocks and drops everything.  Between setup and finalize the sources are
 * locked and unmapped, so their contents are stable while we copy.
 *
 * Device pages keep their data in a system "backing" page.  The copies are
 * the device's: each batch's pages go to the copy engine as one job
 * (engine.c), and the batch waits on the job's fence between allocation and
 * migrate_vma_pages(), with sources and destinations locked.  A job that
 * fails aborts the batch: its destinations are freed before
 * migrate_vma_pages(), so finalize puts every source back as it was.
 */
#include <linux/highmem.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "compat.h"
#include "hmm_dummy.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

/* Can the core migrate the pages of @vma at all? */
bool hmm_dummy_vma_migratable(struct vm_area_struct *vma)
{
	return !is_vm_hugetlb_page(vma) && !(vma->vm_flags & VM_SPECIAL) &&
	       !vma_is_dax(vma);
}

/*
 * Every address of [start, end) must be in a readable VMA: the same rule
 * test_hmm applies, checked before anything moves so that a bad range has
 * no side effect.  Called with mmap_lock held.
 */
static int check_range(struct mm_struct *mm, unsigned long start,
		       unsigned long end)
{
	struct vm_area_struct *vma;
	unsigned long addr;

	mmap_assert_locked(mm);
	for (addr = start; addr < end; addr = vma->vm_end) {
		vma = vma_lookup(mm, addr);
		if (!vma || !(vma->vm_flags & VM_READ))
			return -EINVAL;
	}
	return 0;
}

/*
 * Source page of a migration into @hdev's memory: which ones are worth it.
 * With peer_group the core also hands over @hdev's own pages (one owner
 * for all devices): they stay where they are.
 */
static bool wants_device_page(struct hmm_dummy_device *hdev,
			      struct vm_area_struct *vma, unsigned long mpfn)
{
	struct page *page = migrate_pfn_to_page(mpfn);

	if (!(mpfn & MIGRATE_PFN_MIGRATE))
		return false;
	/*
	 * The core only moves anonymous memory into device pages; do not
	 * allocate (and maybe evict) for a page it will refuse.
	 */
	if (!page)
		return vma_is_anonymous(vma);
	if (is_zone_device_page(page))
		return !hmm_dummy_is_own_page(hdev, page);
	return PageAnon(page);
}

/*
 * Pages a migrate entry (source or destination) stands for: a whole folio
 * (or a PMD-sized hole) when compound, else one.
 */
static unsigned long entry_pages(unsigned long mpfn)
{
	struct page *page = migrate_pfn_to_page(mpfn);

	if (!(mpfn & HMM_DUMMY_PFN_COMPOUND))
		return 1;
	return page ? folio_nr_pages(page_folio(page)) : HMM_DUMMY_RUN_PAGES;
}

/* Page @j of the source of a (possibly compound) entry, NULL for a hole. */
static struct page *entry_page(unsigned long mpfn, unsigned long j)
{
	struct page *page = migrate_pfn_to_page(mpfn);

	return page ? folio_page(page_folio(page), j) : NULL;
}

/*
 * The destination of a compound entry (a PMD-mapped THP or a PMD-sized
 * hole): a large device folio, or 0 when none can be had.
 */
static unsigned long large_dst(struct hmm_dummy_device *hdev,
			       unsigned long src)
{
	struct page *dpage = hmm_dummy_alloc_large(hdev);

	if (!dpage)
		return 0;
	return migrate_pfn(page_to_pfn(dpage)) | HMM_DUMMY_PFN_COMPOUND |
	       (src & MIGRATE_PFN_WRITE);
}

/* Queue the copy into the large device folio of compound entry @i. */
static void fill_large(struct migrate_vma *args, unsigned long i,
		       struct hmm_dummy_job *job)
{
	struct folio *dfolio = page_folio(migrate_pfn_to_page(args->dst[i]));
	unsigned long j, nr = folio_nr_pages(dfolio);

	for (j = 0; j < nr; j++) {
		struct page *spage = entry_page(args->src[i], j);

		hmm_dummy_job_add(job, folio_page(dfolio, j), spage);
	}
}

/**
 * hmm_dummy_drop_dst() - give up a migration's destinations
 * @dst: migrate destination array
 * @n:   entries
 *
 * Before migrate_vma_pages() or migrate_device_pages(): each destination
 * page (or folio) is unlocked and freed (a device folio through
 * folio_free), its entry cleared, so that finalize restores the source.
 *
 * Context: the caller locked the destinations and holds their only
 * reference.
 */
void hmm_dummy_drop_dst(unsigned long *dst, unsigned long n)
{
	unsigned long j;

	for (j = 0; j < n; j++) {
		struct page *page = migrate_pfn_to_page(dst[j]);

		dst[j] = 0;
		if (page) {
			unlock_page(page);
			put_page(page);
		}
	}
}

/**
 * struct batch - one migrate_vma batch, to the device or back, in flight
 * @args:  the migrate_vma of the batch (its own src and dst arrays)
 * @fence: the batch's copy job, NULL when the batch has nothing to copy
 *         (nothing collected, or setup failed)
 * @op:    HMM_DUMMY_OP_TO_DEV, _TO_SYS or _FAULT (tracing, ownership)
 * @large: the batch holds a large folio locked (a compound entry)
 * @oom:   back to system memory: the faulting page got no system memory
 * @alone: set by the caller: nothing overlaps the batch's copy, no batch
 *         in flight before it and none after it (batch_waited_at_once())
 */
struct batch {
	struct migrate_vma args;
	struct dma_fence *fence;
	unsigned int op;
	bool large;
	bool oom;
	bool alone;
};

/*
 * Is @b finished right after its copy is started, with nothing to overlap?
 * A batch holding a large folio is (pipeline_step()), and so is one its
 * caller marked @alone: no batch in flight before it and none after it (a
 * range of one batch, a CPU fault, a pass that does not pipeline).  The
 * engine may then run the copy in the submitter (wait_at_once, engine.c).
 */
static bool batch_waited_at_once(const struct batch *b)
{
	return b->large || b->alone;
}

/*
 * Slot @k (0 or 1) of a two-batch pipeline whose src and dst arrays are in
 * @pfns (HMM_DUMMY_RANGE_TO_SYS_PFNS entries), made ready for a batch of
 * [@start, @end) of @vma; @alone as struct batch has it.
 */
static struct batch *batch_slot(struct batch *b, unsigned int k,
				unsigned long *pfns, struct vm_area_struct *vma,
				unsigned long start, unsigned long end,
				void *owner, unsigned long flags, bool alone)
{
	b[k].args = (struct migrate_vma) {
		.vma = vma,
		.src = pfns + 2 * k * HMM_DUMMY_MIGRATE_BATCH,
		.dst = pfns + (2 * k + 1) * HMM_DUMMY_MIGRATE_BATCH,
		.start = start, .end = end, .pgmap_owner = owner,
		.flags = flags,
	};
	b[k].alone = alone;
	return &b[k];
}

/*
 * Start one batch into @hdev's memory: set-up, allocation, and the copy
 * handed to the engine; hmm_dummy_migrate_to_dev() finishes it with
 * batch_finish(), after starting the next one.  @b->args has vma,
 * start, end, src, dst, pgmap_owner and flags set; with SELECT_COMPOUND and
 * a PMD-aligned batch the core may hand over a PMD-mapped THP or a
 * PMD-sized hole as one compound entry (followed by empty ones), which gets
 * one large device folio, or, when none can be had, single pages for each
 * of its pages: the core then splits the THP (or fills the hole with PTEs).
 * Returns 0 (@b->fence set if there is anything to finish) or a negative
 * errno; *@full is set when device memory ran out, and *@busy too when
 * eviction could have done more by waiting for another process
 * (hmm_dummy_alloc_pages()).
 */
static int batch_to_dev_start(struct hmm_dummy_device *hdev,
			      struct batch *b, struct page **dpages,
			      bool *full, bool *busy)
{
	const unsigned int op = HMM_DUMMY_OP_TO_DEV;
	struct migrate_vma *args = &b->args;
	unsigned long i, j, nr, want = 0, got, used = 0;
	struct hmm_dummy_job *job;
	int ret;

	mmap_assert_locked(args->vma->vm_mm);
	b->fence = NULL;
	b->op = op;
	b->large = false;
	b->oom = false;
	trace_hmm_dummy_phase(hdev->index, op, HMM_DUMMY_PHASE_BEGIN,
			      (args->end - args->start) >> PAGE_SHIFT);
	/* Before setup: the allocation must not wait with pages locked. */
	job = hmm_dummy_job_alloc(HMM_DUMMY_JOB_TO_DEV,
				  (args->end - args->start) >> PAGE_SHIFT);
	if (!job)
		return -ENOMEM;
	ret = migrate_vma_setup(args);
	trace_hmm_dummy_phase(hdev->index, op, HMM_DUMMY_PHASE_SETUP,
			      args->npages);
	if (ret || !args->cpages) {
		hmm_dummy_job_free(job);
		return ret;
	}

	/* Large device folios first; count the single pages still needed. */
	for (i = 0; i < args->npages; i++)
		args->dst[i] = 0;
	for (i = 0; i < args->npages; i += nr) {
		nr = entry_pages(args->src[i]);
		if (migrate_pfn_to_page(args->src[i]) &&
		    (args->src[i] & HMM_DUMMY_PFN_COMPOUND))
			b->large = true;
		if (!wants_device_page(hdev, args->vma, args->src[i]))
			continue;
		if (args->src[i] & HMM_DUMMY_PFN_COMPOUND)
			args->dst[i] = large_dst(hdev, args->src[i]);
		if (!args->dst[i])
			want += nr;
	}
	got = want ? hmm_dummy_alloc_pages(hdev, dpages, want,
					   args->vma->vm_mm, busy) : 0;
	if (got < want)
		*full = true;
	trace_hmm_dummy_phase(hdev->index, op, HMM_DUMMY_PHASE_ALLOC,
			      args->npages);

	for (i = 0; i < args->npages; i += nr) {
		unsigned long mpfn = args->src[i];

		nr = entry_pages(mpfn);
		if (!wants_device_page(hdev, args->vma, mpfn))
			continue;
		if (args->dst[i]) {
			fill_large(args, i, job);
			continue;
		}
		/* A fallback takes all of its pages or none. */
		if (got - used < nr)
			continue;
		for (j = 0; j < nr; j++) {
			struct page *dpage = dpages[used++];

			hmm_dummy_job_add(job, dpage, entry_page(mpfn, j));
			args->dst[i + j] = migrate_pfn(page_to_pfn(dpage)) |
					   (mpfn & MIGRATE_PFN_WRITE);
		}
	}
	/* Pages a fallback could not use: never mapped, freed at once. */
	while (used < got) {
		unlock_page(dpages[used]);
		put_page(dpages[used++]);
	}
	job->wait_at_once = batch_waited_at_once(b);
	b->fence = hmm_dummy_engine_submit(hdev, job);
	return 0;
}

/*
 * Finish a batch batch_to_dev_start() or batch_to_sys_start() started:
 * wait for its copy, then migrate_vma_pages() and finalize; what moved is
 * added to *@m.  If the copy failed nothing of the batch moves: its
 * destinations are freed and finalize maps the sources back, which still
 * hold the data.  Returns 0, -EIO when the job failed, or -ENOMEM when a
 * CPU fault's page got no system memory.
 */
static int batch_finish(struct hmm_dummy_device *hdev, struct batch *b,
			struct hmm_dummy_moved *m)
{
	struct migrate_vma *args = &b->args;
	unsigned long before = m->pages;
	int ret;

	mmap_assert_locked(args->vma->vm_mm);
	ret = hmm_dummy_engine_wait(b->fence);
	b->fence = NULL;
	trace_hmm_dummy_phase(hdev->index, b->op, HMM_DUMMY_PHASE_COPY,
			      args->npages);
	if (ret) {
		hmm_dummy_drop_dst(args->dst, args->npages);
		migrate_vma_finalize(args);
		return ret;
	}

	/* New device folios: where they go, for eviction (devmem.c). */
	if (b->op == HMM_DUMMY_OP_TO_DEV)
		hmm_dummy_set_owner(hdev, args->vma->vm_mm, args->start,
				    args->dst, args->npages);
	migrate_vma_pages(args);
	trace_hmm_dummy_phase(hdev->index, b->op, HMM_DUMMY_PHASE_PAGES,
			      args->npages);
	hmm_dummy_add_moved(m, args->src, args->dst, args->npages);
	/* Destinations the core refused are unlocked and freed here. */
	migrate_vma_finalize(args);
	trace_hmm_dummy_phase(hdev->index, b->op, HMM_DUMMY_PHASE_FINALIZE,
			      args->npages);
	if (b->op == HMM_DUMMY_OP_TO_DEV)
		trace_hmm_dummy_migrate_to_dev(hdev->index, args->start,
					       args->end, m->pages - before);
	else
		trace_hmm_dummy_migrate_to_sys(hdev->index, args->start,
					       args->end, m->pages - before);
	return b->oom ? -ENOMEM : 0;
}

/* One batch, started and finished: for the passes that do not pipeline. */
static int batch_to_dev(struct hmm_dummy_device *hdev, struct batch *b,
			struct page **dpages, bool *full, bool *busy,
			struct hmm_dummy_moved *m)
{
	int ret;

	b->alone = true;
	ret = batch_to_dev_start(hdev, b, dpages, full, busy);
	if (ret || !b->fence)
		return ret;
	return batch_finish(hdev, b, m);
}

/*
 * Finish the batch in flight, if there is one; what it moved is added to
 * *@m.  Returns 0 or its error.
 */
static int finish_pending(struct hmm_dummy_device *hdev,
			  struct batch **pending, struct hmm_dummy_moved *m)
{
	struct batch *b = *pending;

	if (!b)
		return 0;
	*pending = NULL;
	return batch_finish(hdev, b, m);
}

/*
 * The step of a two-batch pipeline after batch @cur (slot *@k) was started
 * with result @ret: finish the batch before it, and leave @cur in flight
 * (*@pending) unless it has nothing to finish or holds a large folio (see
 * hmm_dummy_migrate_to_dev() for why).  Returns @ret or the first error.
 */
static int pipeline_step(struct hmm_dummy_device *hdev, struct batch *cur,
			 int ret, struct batch **pending, unsigned int *k,
			 struct hmm_dummy_moved *m)
{
	int err = finish_pending(hdev, pending, m);

	if (!ret && cur->fence) {
		*pending = cur;
		*k ^= 1;
	}
	ret = ret ?: err;
	if (!ret && cur->large)
		ret = finish_pending(hdev, pending, m);
	return ret;
}

/*
 * Consecutive waits for room (wait_for_room()) one migration may make
 * without getting any page for them.
 */
#define HMM_DUMMY_EVICT_WAITS	8

/*
 * Device memory ran out and eviction left folios behind because it would
 * have had to wait for another process's mmap_lock, which it must not do
 * under ours (evict.c).  Drop ours, let hmm_dummy_evict_wait() wait for
 * theirs, take ours back.  Returns 1 if the caller may retry [@start, @end)
 * (checked again: the VMAs may have changed meanwhile), 0 if nothing could
 * be evicted, or a negative errno.  Called with mmap_lock of @mm held for
 * read and a reference on @mm; returns with the same.
 */
static int wait_for_room(struct hmm_dummy_device *hdev, struct mm_struct *mm,
			 unsigned long start, unsigned long end)
{
	unsigned long want = min_t(unsigned long, (end - start) >> PAGE_SHIFT,
				   HMM_DUMMY_MIGRATE_BATCH);
	bool room;

	mmap_assert_locked(mm);
	mmap_read_unlock(mm);
	room = hmm_dummy_evict_wait(hdev, want);
	mmap_read_lock(mm);
	if (fatal_signal_pending(current))
		return -EINTR;
	if (!room)
		return 0;
	return check_range(mm, start, end) ?: 1;
}

/* Has any other device pages in use, which a batch could meet? */
static bool peers_in_use(struct hmm_dummy_device *hdev)
{
	unsigned int p;

	for (p = 0; p < hmm_dummy_num_devices; p++) {
		struct hmm_dummy_device *peer = hmm_dummy_devices[p];

		if (peer && peer != hdev && hmm_dummy_in_use(peer))
			return true;
	}
	return false;
}

/*
 * The peer pass of [@addr, @next) with peer_group: every device has the
 * same owner, so one batch collects the pages of all of them, @hdev's own
 * included; wants_device_page() leaves those where they are (finalize
 * maps them back), and the peers' pages are copied from their backings.
 * SELECT_COMPOUND where the VMA may have THPs, so that a PMD-mapped large
 * folio, ours or a peer's, is handed over whole and not split by the
 * collection: ours stays whole, a peer's gets a large device folio (or
 * single pages, and the core splits it).  A PTE-mapped piece of a large
 * folio is split by the core whoever's it is.
 */
static int group_batch(struct hmm_dummy_device *hdev, struct batch *cur,
		       unsigned long addr, unsigned long next,
		       struct page **dpages, bool *full, bool *busy,
		       struct hmm_dummy_moved *m)
{
	cur->args.start = addr;
	cur->args.end = next;
	cur->args.pgmap_owner = hmm_dummy_owner(hdev);
	cur->args.flags = MIGRATE_VMA_SELECT_DEVICE_PRIVATE |
			  MIGRATE_VMA_SELECT_DEVICE_COHERENT;
	if (hmm_dummy_vma_thp_allowed(cur->args.vma))
		cur->args.flags |= HMM_DUMMY_SELECT_COMPOUND;
	return batch_to_dev(hdev, cur, dpages, full, busy, m);
}

/**
 * hmm_dummy_migrate_to_dev() - migrate a range of the mirrored process
 * @mirror: the mirror whose process and device are used
 * @start:  page-aligned start
 * @end:    page-aligned end, > @start
 *
 * System pages, pte_none and zero-page entries of anonymous memory move to
 * the device; with peer migration, so do pages on other hmm_dummy devices.
 * Pages the core refuses (shared or file pages, hugetlbfs, pinned pages)
 * stay where they are.  When device memory is full and nothing more can be
 * evicted the migration stops early.  When what is left could only be
 * evicted by waiting for another process's mmap_lock, the migration drops
 * its own for that while (wait_for_room()) and goes on where it stopped.
 *
 * The batches of system memory are pipelined: each is set up and its pages
 * allocated while the engine copies the previous one, whose
 * migrate_vma_pages() and finalize come after that.  So the setup of one
 * batch runs while the batch in flight holds its pages locked, as the
 * core's own collection holds the pages it already collected while it
 * sleeps on a PTE-mapped large folio's lock to split it (7.3): that is why
 * only a batch of small folios stays in flight.  One holding a large folio
 * is finished at once, or two processes each holding a THP the other maps
 * with PTEs could wait for each other.  The new device pages of the batch
 * in flight are neither mapped nor owned yet, so no eviction the next
 * batch's allocation makes can reach (and wait for) them.  Nothing is in
 * flight when mmap_lock is dropped, nor during a peer pass.
 *
 * Context: process context, no lock held; takes mmap_lock for read, the
 * page locks of the pages it migrates and, to evict, hdev->evict_lock.
 *
 * Return: pages moved, or a negative errno (-EINVAL for a range not fully
 * covered by readable VMAs).
 */
long hmm_dummy_migrate_to_dev(struct hmm_dummy_mirror *mirror,
			      unsigned long start, unsigned long end)
{
	const unsigned long batch =
		(unsigned long)HMM_DUMMY_MIGRATE_BATCH << PAGE_SHIFT;
	struct hmm_dummy_device *hdev = mirror->hdev;
	struct batch b[2], *cur, *pending = NULL;
	struct mm_struct *mm = mirror->mm;
	struct hmm_dummy_moved m = {};
	unsigned long addr, next, *pfns, moved_at_wait = 0;
	bool full = false, busy = false;
	unsigned int p, k = 0, waits = 0;
	struct page **dpages;
	int ret, err;

	/* The src and dst arrays of two batches: one copies, one sets up. */
	pfns = kmalloc_array(HMM_DUMMY_RANGE_TO_SYS_PFNS, sizeof(*pfns),
			     GFP_KERNEL);
	dpages = kmalloc_array(HMM_DUMMY_MIGRATE_BATCH, sizeof(*dpages),
			       GFP_KERNEL);
	if (!pfns || !dpages) {
		ret = -ENOMEM;
		goto out_free;
	}
	if (!mmget_not_zero(mm)) {
		ret = -ESRCH;
		goto out_free;
	}
	mmap_read_lock(mm);
	ret = check_range(mm, start, end);
	for (addr = start; !ret && !full && addr < end; addr = next) {
		struct vm_area_struct *vma = vma_lookup(mm, addr);

		/* Before any continue: a range of skipped pages is long too. */
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		cond_resched();
		/*
		 * Batches end on PMD boundaries (one batch is one PMD), so
		 * a PMD-aligned range gets PMD-aligned batches: the core
		 * only hands a THP or a hole over as one folio when the
		 * batch covers all of its PMD.
		 */
		next = min3(end, vma->vm_end, ALIGN(addr + 1, batch));
		if (!hmm_dummy_vma_migratable(vma))
			continue;
		cur = batch_slot(b, k, pfns, vma, addr, next,
				 hmm_dummy_owner(hdev), MIGRATE_VMA_SELECT_SYSTEM,
				 !pending && next >= end);
		/*
		 * Large device folios only where the VMA may have THPs: the
		 * core would otherwise make a PMD-sized hole one device THP,
		 * and a CPU fault would map it back as a system THP.  Without
		 * SELECT_COMPOUND a THP that is already there is split.
		 */
		if (hmm_dummy_vma_thp_allowed(vma))
			cur->args.flags |= HMM_DUMMY_SELECT_COMPOUND;
		/*
		 * The pipeline: this batch is set up and its copy started
		 * while the engine still copies the previous one, which is
		 * finished only then.  Both stay under our mmap_lock.
		 */
		ret = batch_to_dev_start(hdev, cur, dpages, &full, &busy);
		ret = pipeline_step(hdev, cur, ret, &pending, &k, &m);
		if (ret)
			break;
		/* The rest of this batch again, once there may be room. */
		if (full && busy) {
			/* wait_for_room() drops mmap_lock: nothing in flight. */
			ret = finish_pending(hdev, &pending, &m);
			if (ret)
				break;
			if (m.pages > moved_at_wait)
				waits = 0;
			if (waits++ < HMM_DUMMY_EVICT_WAITS) {
				moved_at_wait = m.pages;
				ret = wait_for_room(hdev, mm, addr, end);
				if (ret > 0) {
					full = false;
					busy = false;
					next = addr;
					ret = 0;
				}
				continue;
			}
		}
		/* Everything collected already: no peer page in this batch. */
		if (!hmm_dummy_peer_migration ||
		    cur->args.cpages == (next - addr) >> PAGE_SHIFT)
			continue;
		/* Peer batches run one at a time, after the system pass. */
		ret = finish_pending(hdev, &pending, &m);
		if (hmm_dummy_peer_group) {
			if (!ret && !full && peers_in_use(hdev))
				ret = group_batch(hdev, cur, addr, next, dpages,
						  &full, &busy, &m);
			continue;
		}
		for (p = 0; !ret && p < hmm_dummy_num_devices && !full; p++) {
			struct hmm_dummy_device *peer = hmm_dummy_devices[p];

			if (!peer || peer == hdev || !hmm_dummy_in_use(peer))
				continue;
			cur->args.start = addr;
			cur->args.end = next;
			cur->args.pgmap_owner = peer;
			/*
			 * No SELECT_COMPOUND: a peer's large folio is split
			 * by the core and moves page by page.
			 */
			cur->args.flags = hmm_dummy_select_device(peer);
			ret = batch_to_dev(hdev, cur, dpages, &full, &busy, &m);
		}
	}
	err = finish_pending(hdev, &pending, &m);
	mmap_read_unlock(mm);
	mmput(mm);
	ret = ret ?: err;
	hmm_dummy_count(hdev, HMM_DUMMY_CNT_TO_DEV, m.pages);
	hmm_dummy_count(hdev, HMM_DUMMY_CNT_LARGE_TO_DEV, m.large);
out_free:
	kfree(dpages);
	kfree(pfns);
	return ret ? ret : m.pages;
}

/*
 * The system side's allocators, where FAIL_ALLOC of a MIGRATE_TO_SYS or
 * RELEASE fails one allocation.  A system page for @addr of @vma:
 */
static struct page *sys_page_alloc(struct vm_area_struct *vma,
				   unsigned long addr, gfp_t gfp)
{
	if (hmm_dummy_should_fail_alloc(HMM_DUMMY_ALLOC_SYSTEM))
		return NULL;
	return alloc_page_vma(gfp, vma, addr);
}

/*
 * A system folio of 2^@order pages for @addr of @vma, to bring a large
 * device folio of @hdev back whole; on failure the caller falls back to
 * single pages, and that is counted here.
 */
static struct folio *sys_folio_alloc(struct hmm_dummy_device *hdev,
				     struct vm_area_struct *vma,
				     unsigned long addr, unsigned int order)
{
	struct folio *folio = NULL;

	if (!hmm_dummy_should_fail_alloc(HMM_DUMMY_ALLOC_SYSTEM))
		folio = hmm_dummy_sys_folio_alloc(vma, addr, order);
	if (!folio)
		hmm_dummy_count(hdev, HMM_DUMMY_CNT_LARGE_FALLBACKS, 1);
	return folio;
}

/*
 * System destination for the large device folio of compound entry *@src:
 * one THP when the VMA's policy allows one and the system has one,
 * otherwise single pages for each of its pages; the core then splits the
 * device folio.  The copies are added to @job.  Returns false when even
 * single pages ran out (nothing set, nothing added).
 */
static bool alloc_sys_large(struct hmm_dummy_device *hdev,
			    struct vm_area_struct *vma, unsigned long addr,
			    unsigned long *src, unsigned long *dst,
			    struct hmm_dummy_job *job)
{
	struct folio *sfolio = page_folio(migrate_pfn_to_page(*src));
	unsigned long j, nr = folio_nr_pages(sfolio);
	unsigned long write = *src & MIGRATE_PFN_WRITE;
	unsigned long queued = job->n;
	struct folio *folio = NULL;

	if (hmm_dummy_vma_thp_allowed(vma))
		folio = sys_folio_alloc(hdev, vma, addr, folio_order(sfolio));
	if (folio) {
		folio_lock(folio);
		for (j = 0; j < nr; j++)
			hmm_dummy_job_add(job, folio_page(folio, j),
					  folio_page(sfolio, j));
		*dst = migrate_pfn(folio_pfn(folio)) | HMM_DUMMY_PFN_COMPOUND |
		       write;
		return true;
	}
	for (j = 0; j < nr; j++) {
		struct page *dpage;

		dpage = sys_page_alloc(vma, addr + (j << PAGE_SHIFT),
				       GFP_HIGHUSER_MOVABLE);
		if (!dpage) {
			/* Not submitted yet: forget the pages about to go. */
			hmm_dummy_job_truncate(job, queued);
			hmm_dummy_drop_dst(dst, j);
			return false;
		}
		lock_page(dpage);
		hmm_dummy_job_add(job, dpage, folio_page(sfolio, j));
		dst[j] = migrate_pfn(page_to_pfn(dpage)) | write;
	}
	return true;
}

/*
 * System destination for the single device page @spage of entry *@src,
 * its copy added to @job; @gfp for the allocation.  Returns false when no
 * system page could be had (nothing set).
 */
static bool alloc_sys_page(struct vm_area_struct *vma, unsigned long addr,
			   struct page *spage, const unsigned long *src,
			   unsigned long *dst, gfp_t gfp,
			   struct hmm_dummy_job *job)
{
	struct page *dpage = sys_page_alloc(vma, addr, gfp);

	if (!dpage)
		return false;
	lock_page(dpage);
	hmm_dummy_job_add(job, dpage, spage);
	*dst = migrate_pfn(page_to_pfn(dpage)) | (*src & MIGRATE_PFN_WRITE);
	return true;
}

/**
 * hmm_dummy_add_moved() - add up what a migration batch moved
 * @m:   the totals to add to
 * @src: the batch's source array
 * @dst: its destination array, after migrate_*_pages() and before
 *       finalize (which may free refused destinations)
 * @n:   entries
 *
 * For the counters, which the migrations' entry points charge: pages moved
 * (a large destination counts its pages) and large folios moved whole.
 */
void hmm_dummy_add_moved(struct hmm_dummy_moved *m, const unsigned long *src,
			 const unsigned long *dst, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++) {
		if (!dst[i] || !(src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		if (dst[i] & HMM_DUMMY_PFN_COMPOUND) {
			m->pages += entry_pages(dst[i]);
			m->large++;
		} else {
			m->pages++;
		}
	}
}

/*
 * Start one batch of @hdev's pages back to system memory: set-up,
 * allocation, and the copy handed to the engine; batch_finish() finishes
 * it.  @b->args has vma, start, end, src, dst, pgmap_owner, flags
 * (SELECT_COMPOUND, with a PMD-aligned batch, brings a PMD-mapped large
 * device folio as one entry, which goes back as one THP if one can be had)
 * and fault_page (a CPU fault's page, or NULL) set.  With @select, only
 * the collected pages it accepts move; finalize puts the others back.
 * Returns 0 (@b->fence set if there is anything to finish) or a negative
 * errno.
 */
static int batch_to_sys_start(struct hmm_dummy_device *hdev,
			      struct batch *b,
			      const struct hmm_dummy_select *select)
{
	struct migrate_vma *args = &b->args;
	struct page *fault_page = args->fault_page;
	unsigned long i, nr, *src = args->src, *dst = args->dst;
	struct hmm_dummy_job *job;
	int ret;

	mmap_assert_locked(args->vma->vm_mm);
	b->fence = NULL;
	b->op = fault_page ? HMM_DUMMY_OP_FAULT : HMM_DUMMY_OP_TO_SYS;
	b->large = false;
	b->oom = false;
	trace_hmm_dummy_phase(hdev->index, b->op, HMM_DUMMY_PHASE_BEGIN,
			      (args->end - args->start) >> PAGE_SHIFT);
	/* Before setup: the allocation must not wait with pages locked. */
	job = hmm_dummy_job_alloc(HMM_DUMMY_JOB_TO_SYS,
				  (args->end - args->start) >> PAGE_SHIFT);
	if (!job)
		return -ENOMEM;
	ret = migrate_vma_setup(args);
	trace_hmm_dummy_phase(hdev->index, b->op, HMM_DUMMY_PHASE_SETUP,
			      args->npages);
	if (ret || !args->cpages) {
		hmm_dummy_job_free(job);
		return ret;
	}

	for (i = 0; i < args->npages; i++)
		dst[i] = 0;
	for (i = 0; i < args->npages; i += nr) {
		struct page *spage = migrate_pfn_to_page(src[i]);
		unsigned long addr = args->start + (i << PAGE_SHIFT);
		bool faulting, ok;

		nr = entry_pages(src[i]);
		if (spage && (src[i] & HMM_DUMMY_PFN_COMPOUND))
			b->large = true;
		if (!spage || !(src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		/* With peer_group the core collects the peers' pages too. */
		if (!hmm_dummy_is_own_page(hdev, spage))
			continue;
		if (select && !select->fn(select, spage))
			continue;
		faulting = fault_page && page_folio(spage) ==
					 page_folio(fault_page);
		/*
		 * The neighbours a CPU fault takes along are speculative: no
		 * OOM kill or allocation warning for them, they can stay.
		 */
		if (src[i] & HMM_DUMMY_PFN_COMPOUND)
			ok = alloc_sys_large(hdev, args->vma, addr, &src[i],
					     &dst[i], job);
		else
			ok = alloc_sys_page(args->vma, addr, spage, &src[i],
					    &dst[i], fault_page && !faulting ?
					    GFP_HIGHUSER_MOVABLE |
					    __GFP_NORETRY | __GFP_NOWARN :
					    GFP_HIGHUSER_MOVABLE, job);
		b->oom |= !ok && faulting;
	}
	job->wait_at_once = batch_waited_at_once(b);
	b->fence = hmm_dummy_engine_submit(hdev, job);
	return 0;
}

/*
 * The migrate_vma batches of hmm_dummy_range_to_sys(): VMA by VMA, in
 * PMD-aligned batches, pipelined as MIGRATE_TO_DEV's are (each batch is
 * set up while the engine copies the previous one; only a batch without a
 * large folio stays in flight, see hmm_dummy_migrate_to_dev()).  @pfns
 * holds HMM_DUMMY_RANGE_TO_SYS_PFNS entries.  Adds what moved to *@m;
 * returns 0 or a negative errno.
 */
static int range_to_sys(struct hmm_dummy_device *hdev, struct mm_struct *mm,
			unsigned long start, unsigned long end,
			unsigned long *pfns,
			const struct hmm_dummy_select *select,
			struct hmm_dummy_moved *m)
{
	const unsigned long batch =
		(unsigned long)HMM_DUMMY_MIGRATE_BATCH << PAGE_SHIFT;
	struct batch b[2], *cur, *pending = NULL;
	unsigned long addr, next;
	unsigned int k = 0;
	int ret = 0, err;

	for (addr = start; addr < end; addr = next) {
		struct vm_area_struct *vma = find_vma(mm, addr);

		if (!vma || vma->vm_start >= end)
			break;
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		cond_resched();
		addr = max(addr, vma->vm_start);
		next = min3(end, vma->vm_end, ALIGN(addr + 1, batch));
		if (!hmm_dummy_vma_migratable(vma))
			continue;
		cur = batch_slot(b, k, pfns, vma, addr, next,
				 hmm_dummy_owner(hdev),
				 hmm_dummy_select_device(hdev) |
				 HMM_DUMMY_SELECT_COMPOUND,
				 !pending && next >= end);
		ret = batch_to_sys_start(hdev, cur, select);
		ret = pipeline_step(hdev, cur, ret, &pending, &k, m);
		if (ret)
			break;
	}
	err = finish_pending(hdev, &pending, m);
	return ret ?: err;
}

/**
 * hmm_dummy_range_to_sys() - migrate @hdev's pages mapped in a range back
 * @mirror: the file an ioctl came through (its FAIL_ALLOC applies), or NULL
 * @hdev:   the device whose pages move
 * @mm:     the address space; the caller holds its mmap_lock for read and
 *          a reference (mmget), which keeps every VMA found here, and the
 *          anon_vma the core's rmap walks need, alive until we return
 * @start:  page-aligned start
 * @end:    page-aligned end
 * @src:    room for HMM_DUMMY_RANGE_TO_SYS_PFNS entries
 * @reason: the counter to charge the moved pages to
 * @select: which of the pages found may move (NULL: all)
 *
 * Goes VMA by VMA, skipping holes and VMAs the core cannot migrate, in
 * PMD-aligned batches, so that a PMD-mapped large device folio comes back
 * as a THP when one can be had.  Only @hdev's pages in @mm move.
 *
 * Context: process context, mmap_lock of @mm held for read (lockdep
 * checks it); takes the page locks of the pages it migrates.
 *
 * Return: pages moved, or a negative errno (-EINTR on a fatal signal).
 * On an error the pages moved before it are still charged to @reason.
 */
long hmm_dummy_range_to_sys(struct hmm_dummy_mirror *mirror,
			    struct hmm_dummy_device *hdev,
			    struct mm_struct *mm, unsigned long start,
			    unsigned long end, unsigned long *src,
			    enum hmm_dummy_counter reason,
			    const struct hmm_dummy_select *select)
{
	struct hmm_dummy_fail_scope scope = {};
	struct hmm_dummy_moved m = {};
	int ret;

	mmap_assert_locked(mm);
	if (mirror)
		hmm_dummy_fail_scope_enter(&scope, mirror,
					   HMM_DUMMY_ALLOC_SYSTEM);
	ret = range_to_sys(hdev, mm, start, end, src, select, &m);
	hmm_dummy_fail_scope_exit(&scope);
	hmm_dummy_count(hdev, reason, m.pages);
	hmm_dummy_count(hdev, HMM_DUMMY_CNT_LARGE_TO_SYS, m.large);
	return ret ?: m.pages;
}

/**
 * hmm_dummy_migrate_to_sys() - migrate this device's pages of a range back
 * @mirror: the mirror whose process and device are used
 * @start:  page-aligned start
 * @end:    page-aligned end, > @start
 * @holes:  false: every address must be in a readable VMA (MIGRATE_TO_SYS),
 *          else -EINVAL; true: whatever is mapped in the range (RELEASE)
 *
 * Only the mirrored process's pages move: another process's pages, even of
 * this device, are none of its business.
 *
 * Context: process context, no lock held; takes mmap_lock for read and the
 * page locks of the pages it migrates.
 *
 * Return: pages moved, or a negative errno.
 */
long hmm_dummy_migrate_to_sys(struct hmm_dummy_mirror *mirror,
			      unsigned long start, unsigned long end,
			      bool holes)
{
	struct mm_struct *mm = mirror->mm;
	unsigned long *src;
	long ret;

	src = kmalloc_array(HMM_DUMMY_RANGE_TO_SYS_PFNS, sizeof(*src),
			    GFP_KERNEL);
	if (!src)
		return -ENOMEM;
	if (!mmget_not_zero(mm)) {
		kfree(src);
		return -ESRCH;
	}
	mmap_read_lock(mm);
	ret = holes ? 0 : check_range(mm, start, end);
	if (!ret)
		ret = hmm_dummy_range_to_sys(mirror, mirror->hdev, mm, start,
					     end, src,
					     HMM_DUMMY_CNT_TO_SYS_IOCTL, NULL);
	mmap_read_unlock(mm);
	mmput(mm);
	kfree(src);
	return ret;
}

/**
 * hmm_dummy_migrate_to_ram() - dev_pagemap_ops.migrate_to_ram
 * @vmf: the CPU fault on one of our device pages
 *
 * Called by the fault handler with mmap_lock held for read and a reference
 * on vmf->page; in 7.3 the handler also holds the page (folio) lock (in 6.1
 * and 6.12 migrate_vma_setup() takes it), and either way the core, not the
 * driver, unlocks it.
 *
 * A fault on a PMD device entry (7.3's do_huge_pmd_device_private(): no
 * vmf->pte) migrates the whole large folio, as one THP when the system has
 * one.  A fault on a PTE migrates the faulting page and the device pages
 * of the surrounding fault_window, clipped to the VMA and to the PMD the
 * fault is in, so a sequential CPU walk takes one fault per window instead
 * of one per page.  The PMD clip keeps the window from cutting into a
 * neighbouring PMD-mapped large folio: a PTE fault means this PMD is a page
 * table, so nothing in the window is PMD-mapped.  PTE-mapped pieces of a
 * large folio in the window are split by the core (migrate_vma_setup()),
 * which is why the folio order is only trusted without vmf->pte; a fault
 * on such a piece moves that page alone (see the lock order in
 * hmm_dummy.h).
 *
 * Context: mmap_lock held for read, vmf->page referenced (and on 7.3
 * locked); may sleep.
 *
 * Return: 0 (migrated, or not and the fault is retried), VM_FAULT_OOM when
 * the faulting page got no system memory, VM_FAULT_SIGBUS on another error
 * (a failed copy: the page stays in device memory, its data intact).
 */
vm_fault_t hmm_dummy_migrate_to_ram(struct vm_fault *vmf)
{
	unsigned long src_stack[HMM_DUMMY_MAX_FAULT_WINDOW];
	unsigned long dst_stack[HMM_DUMMY_MAX_FAULT_WINDOW];
	struct hmm_dummy_device *hdev = hmm_dummy_page_device(vmf->page);
	struct vm_area_struct *vma = vmf->vma;
	struct hmm_dummy_moved m = {};
	struct batch b;
	unsigned long *src = src_stack, *dst = dst_stack;
	unsigned long win, start, end, size;
	unsigned int order = 0;
	long ret;

	mmap_assert_locked(vma->vm_mm);
	if (!vmf->pte)
		order = folio_order(page_folio(vmf->page));
	if (order) {
		size = PAGE_SIZE << order;
		start = ALIGN_DOWN(vmf->address, size);
		end = start + size;
		src = kmalloc_array(2UL << order, sizeof(*src), GFP_KERNEL);
		if (!src)
			return VM_FAULT_OOM;
		dst = src + (1UL << order);
	} else {
		win = (unsigned long)READ_ONCE(hmm_dummy_fault_window) <<
		      PAGE_SHIFT;
		start = rounddown(vmf->address, win);
		end = min3(start + win, vma->vm_end,
			   ALIGN(vmf->address + 1, PMD_SIZE));
		start = max3(start, vma->vm_start,
			     ALIGN_DOWN(vmf->address, PMD_SIZE));
		/*
		 * A PTE-mapped piece of a large folio, which we hold locked:
		 * the core splits any other large folio the window reaches
		 * under a sleeping folio_lock() (migrate_vma_split_folio()),
		 * and a CPU faulting on that one, with ours in its window,
		 * would wait for ours.  Moving this page alone keeps every
		 * holder of a large folio's lock from waiting for another.
		 */
		if (folio_test_large(page_folio(vmf->page))) {
			start = ALIGN_DOWN(vmf->address, PAGE_SIZE);
			end = start + PAGE_SIZE;
		}
	}

	b.args = (struct migrate_vma) {
		.vma = vma, .src = src, .dst = dst,
		.start = start, .end = end,
		.pgmap_owner = hmm_dummy_owner(hdev),
		.flags = MIGRATE_VMA_SELECT_DEVICE_PRIVATE |
			 (order ? HMM_DUMMY_SELECT_COMPOUND : 0),
		.fault_page = vmf->page,
	};
	b.alone = true;
	ret = batch_to_sys_start(hdev, &b, NULL);
	if (!ret && b.fence)
		ret = batch_finish(hdev, &b, &m);
	if (order)
		kfree(src);
	hmm_dummy_count(hdev, HMM_DUMMY_CNT_CPU_FAULTS, 1);
	hmm_dummy_count(hdev, HMM_DUMMY_CNT_TO_SYS_FAULT, m.pages);
	hmm_dummy_count(hdev, HMM_DUMMY_CNT_LARGE_TO_SYS, m.large);
	trace_hmm_dummy_cpu_fault(hdev->index, vmf->address, ret ?: m.pages);
	if (ret == -ENOMEM)
		return VM_FAULT_OOM;
	if (ret < 0)
		return VM_FAULT_SIGBUS;
	/* Not migrated (raced with another migration): the fault retries. */
	return 0;
}
