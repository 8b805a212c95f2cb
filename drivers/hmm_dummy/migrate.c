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
 * Device pages keep their data in a system "backing" page, so a copy to or
 * from the device is a copy_highpage() against that backing page.
 */
#include <linux/highmem.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/sort.h>

#include "hmm_dummy.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

static bool hmm_dummy_vma_migratable(struct vm_area_struct *vma)
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

	for (addr = start; addr < end; addr = vma->vm_end) {
		vma = vma_lookup(mm, addr);
		if (!vma || !(vma->vm_flags & VM_READ))
			return -EINVAL;
	}
	return 0;
}

/* Source page of a migration into device memory: which ones are worth it. */
static bool wants_device_page(struct vm_area_struct *vma, unsigned long mpfn)
{
	struct page *page = migrate_pfn_to_page(mpfn);

	if (!(mpfn & MIGRATE_PFN_MIGRATE))
		return false;
	/*
	 * The core only moves anonymous memory into device-private pages;
	 * do not allocate (and maybe evict) for a page it will refuse.
	 */
	if (!page)
		return vma_is_anonymous(vma);
	return is_device_private_page(page) || PageAnon(page);
}

static void fill_backing(struct page *backing, struct page *spage)
{
	if (!spage)
		clear_highpage(backing);	/* pte_none or the zero page */
	else if (is_device_private_page(spage))
		copy_highpage(backing, hmm_dummy_page_backing(spage));
	else
		copy_highpage(backing, spage);
}

/**
 * hmm_dummy_take_fail_alloc() - consume a pending HMM_DMIRROR_FLAG_FAIL_ALLOC
 * @mirror: the file a migration works for, or NULL (CPU fault, eviction)
 *
 * Return: true if the caller must fail its next allocation once.
 */
bool hmm_dummy_take_fail_alloc(struct hmm_dummy_mirror *mirror)
{
	return mirror && test_and_clear_bit(HMM_DUMMY_MIRROR_FAIL_ALLOC,
					    &mirror->flags);
}

/*
 * One migrate_vma batch into @hdev's memory for @mirror.  @args has vma,
 * start, end, src, dst, pgmap_owner and flags set.  Returns the number of
 * pages moved or a negative errno; *@full is set when device memory ran
 * out.
 */
static long migrate_batch_to_dev(struct hmm_dummy_mirror *mirror,
				 struct hmm_dummy_device *hdev,
				 struct migrate_vma *args, struct page **dpages,
				 bool *full)
{
	unsigned long i, want = 0, got, used = 0, moved = 0, skip = 0;
	int ret;

	ret = migrate_vma_setup(args);
	if (ret)
		return ret;
	if (!args->cpages)
		return 0;

	for (i = 0; i < args->npages; i++)
		want += wants_device_page(args->vma, args->src[i]);
	/* An injected failure: the first page wanted stays where it is. */
	if (want && hmm_dummy_take_fail_alloc(mirror)) {
		skip = 1;
		want--;
		hmm_dummy_count(hdev, HMM_DUMMY_CNT_ALLOC_FAILURES, 1);
	}
	got = want ? hmm_dummy_alloc_pages(hdev, dpages, want) : 0;
	if (got < want)
		*full = true;

	for (i = 0; i < args->npages; i++) {
		unsigned long mpfn = args->src[i];
		struct page *dpage;

		args->dst[i] = 0;
		if (used == got || !wants_device_page(args->vma, mpfn))
			continue;
		if (skip) {
			skip--;
			continue;
		}
		dpage = dpages[used++];
		fill_backing(hmm_dummy_page_backing(dpage),
			     migrate_pfn_to_page(mpfn));
		args->dst[i] = migrate_pfn(page_to_pfn(dpage)) |
			       (mpfn & MIGRATE_PFN_WRITE);
	}

	migrate_vma_pages(args);
	for (i = 0; i < args->npages; i++)
		if (args->dst[i] && (args->src[i] & MIGRATE_PFN_MIGRATE))
			moved++;
	/* Destinations the core refused are unlocked and freed here. */
	migrate_vma_finalize(args);
	hmm_dummy_count(hdev, HMM_DUMMY_CNT_TO_DEV, moved);
	trace_hmm_dummy_migrate_to_dev(hdev->index, args->start, args->end,
				       moved);
	return moved;
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
 * evicted the migration stops early.
 *
 * Return: pages moved, or a negative errno (-EINVAL for a range not fully
 * covered by readable VMAs).
 */
long hmm_dummy_migrate_to_dev(struct hmm_dummy_mirror *mirror,
			      unsigned long start, unsigned long end)
{
	struct hmm_dummy_device *hdev = mirror->hdev;
	struct mm_struct *mm = mirror->mm;
	unsigned long addr, next, batch, *src, *dst;
	struct page **dpages;
	long moved = 0, ret = 0;
	bool full = false;
	unsigned int p;

	src = kmalloc_array(HMM_DUMMY_MIGRATE_BATCH, sizeof(*src), GFP_KERNEL);
	dst = kmalloc_array(HMM_DUMMY_MIGRATE_BATCH, sizeof(*dst), GFP_KERNEL);
	dpages = kmalloc_array(HMM_DUMMY_MIGRATE_BATCH, sizeof(*dpages),
			       GFP_KERNEL);
	if (!src || !dst || !dpages) {
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
		struct migrate_vma args = {
			.vma = vma, .src = src, .dst = dst,
			.start = addr, .pgmap_owner = hdev,
			.flags = MIGRATE_VMA_SELECT_SYSTEM,
		};

		/* Before any continue: a range of skipped pages is long too. */
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		cond_resched();
		batch = (unsigned long)HMM_DUMMY_MIGRATE_BATCH << PAGE_SHIFT;
		next = min3(end, vma->vm_end, ALIGN(addr + 1, batch));
		if (!hmm_dummy_vma_migratable(vma))
			continue;
		args.end = next;
		ret = migrate_batch_to_dev(mirror, hdev, &args, dpages, &full);
		if (ret < 0)
			break;
		moved += ret;
		ret = 0;
		/* Everything collected already: no peer page in this batch. */
		if (!hmm_dummy_peer_migration ||
		    args.cpages == (next - addr) >> PAGE_SHIFT)
			continue;
		for (p = 0; p < hmm_dummy_num_devices && !full; p++) {
			struct hmm_dummy_device *peer = hmm_dummy_devices[p];

			if (!peer || peer == hdev || !hmm_dummy_in_use(peer))
				continue;
			args.start = addr;
			args.end = next;
			args.pgmap_owner = peer;
			args.flags = MIGRATE_VMA_SELECT_DEVICE_PRIVATE;
			ret = migrate_batch_to_dev(mirror, hdev, &args,
						   dpages, &full);
			if (ret < 0)
				break;
			moved += ret;
			ret = 0;
		}
	}
	mmap_read_unlock(mm);
	mmput(mm);
out_free:
	kfree(dpages);
	kfree(dst);
	kfree(src);
	return ret ? ret : moved;
}

/*
 * One migrate_vma batch of @hdev's pages in [start, end) of @vma back to
 * system memory; the caller's @src and @dst hold (end - start) >> PAGE_SHIFT
 * entries.  @mirror is the file the ioctl came through (NULL for a CPU
 * fault).  Returns the pages moved, or -ENOMEM when @fault_page could not
 * get a system page.
 */
static long migrate_batch_to_sys(struct hmm_dummy_mirror *mirror,
				 struct hmm_dummy_device *hdev,
				 struct vm_area_struct *vma,
				 unsigned long start, unsigned long end,
				 unsigned long *src, unsigned long *dst,
				 struct page *fault_page)
{
	struct migrate_vma args = {
		.vma = vma, .src = src, .dst = dst,
		.start = start, .end = end,
		.pgmap_owner = hdev,
		.flags = MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
		.fault_page = fault_page,
	};
	unsigned long i, moved = 0;
	bool oom = false;
	int ret;

	ret = migrate_vma_setup(&args);
	if (ret)
		return ret;
	if (!args.cpages)
		return 0;

	for (i = 0; i < args.npages; i++) {
		struct page *spage = migrate_pfn_to_page(src[i]);
		struct page *dpage;

		dst[i] = 0;
		if (!spage || !(src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		if (hmm_dummy_take_fail_alloc(mirror))
			continue;
		/*
		 * The neighbours a CPU fault takes along are speculative: no
		 * OOM kill or allocation warning for them, they can stay.
		 */
		dpage = alloc_page_vma(fault_page && spage != fault_page ?
				       GFP_HIGHUSER_MOVABLE | __GFP_NORETRY |
				       __GFP_NOWARN : GFP_HIGHUSER_MOVABLE,
				       vma, start + (i << PAGE_SHIFT));
		if (!dpage) {
			oom |= spage == fault_page;
			continue;
		}
		lock_page(dpage);
		copy_highpage(dpage, hmm_dummy_page_backing(spage));
		dst[i] = migrate_pfn(page_to_pfn(dpage)) |
			 (src[i] & MIGRATE_PFN_WRITE);
	}
	migrate_vma_pages(&args);
	for (i = 0; i < args.npages; i++)
		if (dst[i] && (src[i] & MIGRATE_PFN_MIGRATE))
			moved++;
	migrate_vma_finalize(&args);
	trace_hmm_dummy_migrate_to_sys(hdev->index, start, end, moved);
	return oom ? -ENOMEM : moved;
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
 * Return: pages moved, or a negative errno.
 */
long hmm_dummy_migrate_to_sys(struct hmm_dummy_mirror *mirror,
			      unsigned long start, unsigned long end,
			      bool holes)
{
	const unsigned long batch =
		(unsigned long)HMM_DUMMY_MIGRATE_BATCH << PAGE_SHIFT;
	struct hmm_dummy_device *hdev = mirror->hdev;
	struct mm_struct *mm = mirror->mm;
	unsigned long addr, next, *src;
	long moved = 0, ret;

	src = kmalloc_array(2 * HMM_DUMMY_MIGRATE_BATCH, sizeof(*src),
			    GFP_KERNEL);
	if (!src)
		return -ENOMEM;
	if (!mmget_not_zero(mm)) {
		kfree(src);
		return -ESRCH;
	}
	mmap_read_lock(mm);
	ret = holes ? 0 : check_range(mm, start, end);
	for (addr = start; !ret && addr < end; addr = next) {
		/* With check_range() passed, the VMA containing addr. */
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
		ret = migrate_batch_to_sys(mirror, hdev, vma, addr, next, src,
					   src + HMM_DUMMY_MIGRATE_BATCH, NULL);
		if (ret >= 0) {
			moved += ret;
			ret = 0;
		}
	}
	mmap_read_unlock(mm);
	mmput(mm);
	kfree(src);
	hmm_dummy_count(hdev, HMM_DUMMY_CNT_TO_SYS_IOCTL, moved);
	return ret ? ret : moved;
}

/**
 * hmm_dummy_migrate_to_ram() - dev_pagemap_ops.migrate_to_ram
 * @vmf: the CPU fault on one of our device pages
 *
 * Called by the fault handler with mmap_lock held for read and a reference
 * on vmf->page; in 7.3 the handler also holds the page lock (in 6.1 and
 * 6.12 migrate_vma_setup() takes it), and either way the core, not the
 * driver, unlocks it.  Migrates the faulting page and the
 * device pages of the surrounding fault_window, clipped to the VMA, so a
 * sequential CPU walk takes one fault per window instead of one per page.
 */
vm_fault_t hmm_dummy_migrate_to_ram(struct vm_fault *vmf)
{
	unsigned long src[HMM_DUMMY_MAX_FAULT_WINDOW];
	unsigned long dst[HMM_DUMMY_MAX_FAULT_WINDOW];
	struct hmm_dummy_device *hdev = hmm_dummy_page_device(vmf->page);
	struct vm_area_struct *vma = vmf->vma;
	unsigned long win, start, end;
	long ret;

	win = (unsigned long)READ_ONCE(hmm_dummy_fault_window) << PAGE_SHIFT;
	start = rounddown(vmf->address, win);
	end = min(start + win, vma->vm_end);
	start = max(start, vma->vm_start);

	hmm_dummy_count(hdev, HMM_DUMMY_CNT_CPU_FAULTS, 1);
	ret = migrate_batch_to_sys(NULL, hdev, vma, start, end, src, dst,
				   vmf->page);
	trace_hmm_dummy_cpu_fault(hdev->index, vmf->address, ret);
	if (ret == -ENOMEM)
		return VM_FAULT_OOM;
	if (ret < 0)
		return VM_FAULT_SIGBUS;
	hmm_dummy_count(hdev, HMM_DUMMY_CNT_TO_SYS_FAULT, ret);
	/* Not migrated (raced with another migration): the fault retries. */
	return 0;
}

/*
 * Migrate the in-use pages among the @n device pfns from @pfn back to system
 * memory, wherever they are mapped.  Busy pages (locked by a migration or a
 * fault in progress) are skipped.  Returns the pages moved.
 */
static unsigned long evict_pfn_run(struct hmm_dummy_device *hdev,
				   unsigned long pfn, unsigned long n,
				   unsigned long *src,
				   enum hmm_dummy_counter reason)
{
	unsigned long *dst = src + HMM_DUMMY_EVICT_BATCH;
	unsigned long i, moved = 0;

	migrate_device_range(src, pfn, n);
	for (i = 0; i < n; i++) {
		struct page *spage = migrate_pfn_to_page(src[i]);
		struct page *dpage;

		dst[i] = 0;
		if (!spage || !(src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		dpage = alloc_page(GFP_HIGHUSER_MOVABLE);
		if (!dpage)
			continue;
		lock_page(dpage);
		copy_highpage(dpage, hmm_dummy_page_backing(spage));
		dst[i] = migrate_pfn(page_to_pfn(dpage));
	}
	migrate_device_pages(src, dst, n);
	for (i = 0; i < n; i++)
		if (dst[i] && (src[i] & MIGRATE_PFN_MIGRATE))
			moved++;
	migrate_device_finalize(src, dst, n);
	hmm_dummy_count(hdev, reason, moved);
	trace_hmm_dummy_evict(hdev->index, pfn, n, moved);
	return moved;
}

static int cmp_ulong(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a;
	unsigned long y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

/*
 * Take the @max least recently used pages off the head of the LRU (moving
 * them to the tail, so that a busy page is not picked first again) and
 * return their indexes, sorted.
 */
static unsigned long pick_lru_victims(struct hmm_dummy_device *hdev,
				      unsigned long *idx, unsigned long max)
{
	unsigned long n;

	spin_lock(&hdev->lock);
	for (n = 0; n < max && !list_empty(&hdev->lru); n++) {
		struct hmm_dummy_dpage *dp;

		dp = list_first_entry(&hdev->lru, struct hmm_dummy_dpage, link);
		list_move_tail(&dp->link, &hdev->lru);
		idx[n] = dp - hdev->dpages;
	}
	spin_unlock(&hdev->lock);
	sort(idx, n, sizeof(*idx), cmp_ulong, NULL);
	return n;
}

/**
 * hmm_dummy_evict() - make room in device memory
 * @hdev: the device
 * @want: pages the caller is short of
 *
 * Evicts the least recently used pages, a batch of HMM_DUMMY_EVICT_BATCH
 * at a time; each batch is sorted so that pages contiguous in device memory
 * go in one migrate_device_range() call (fresh allocations are contiguous,
 * so that is the common case).  May be called with the caller's migration
 * sources locked: every page lock taken here is a trylock.
 *
 * Return: true if free pages may now be available.
 */
bool hmm_dummy_evict(struct hmm_dummy_device *hdev, unsigned long want)
{
	unsigned long done = 0, *pfns, *idx, n, i, run;
	unsigned int rounds;

	pfns = kmalloc_array(3 * HMM_DUMMY_EVICT_BATCH, sizeof(*pfns),
			     GFP_KERNEL);
	if (!pfns)
		return false;
	idx = pfns + 2 * HMM_DUMMY_EVICT_BATCH;
	want = max_t(unsigned long, want, HMM_DUMMY_EVICT_BATCH);
	mutex_lock(&hdev->evict_lock);
	/* Someone evicted while we waited: let the caller retry first. */
	if (READ_ONCE(hdev->nr_free))
		goto out;
	for (rounds = 0; done < want && rounds < 64; rounds++) {
		n = pick_lru_victims(hdev, idx, HMM_DUMMY_EVICT_BATCH);
		if (!n)
			break;
		for (i = 0; i < n; i += run) {
			for (run = 1; i + run < n &&
			     idx[i + run] == idx[i] + run; run++)
				;
			done += evict_pfn_run(hdev, hdev->pfn_first + idx[i],
					      run, pfns,
					      HMM_DUMMY_CNT_TO_SYS_EVICT);
		}
	}
	if (done)
		hmm_dummy_count(hdev, HMM_DUMMY_CNT_EVICTIONS, 1);
out:
	mutex_unlock(&hdev->evict_lock);
	kfree(pfns);
	return done || READ_ONCE(hdev->nr_free);
}

/**
 * hmm_dummy_evict_all() - migrate every in-use page of a device to system
 * @hdev:   the device
 * @reason: the counter to charge (unload)
 *
 * Return: the pages moved; busy pages are skipped.
 */
unsigned long hmm_dummy_evict_all(struct hmm_dummy_device *hdev,
				  enum hmm_dummy_counter reason)
{
	unsigned long idx, n, done = 0, *pfns;

	pfns = kmalloc_array(2 * HMM_DUMMY_EVICT_BATCH, sizeof(*pfns),
			     GFP_KERNEL);
	if (!pfns)
		return 0;
	mutex_lock(&hdev->evict_lock);
	for (idx = 0; idx < hdev->npages; idx += n) {
		unsigned long i;
		bool any = false;

		n = min_t(unsigned long, HMM_DUMMY_EVICT_BATCH,
			  hdev->npages - idx);
		/* Unlocked peek: evict_pfn_run() rechecks every page. */
		for (i = 0; i < n && !any; i++)
			any = READ_ONCE(hdev->dpages[idx + i].in_use);
		if (any)
			done += evict_pfn_run(hdev, hdev->pfn_first + idx, n,
					      pfns, reason);
		cond_resched();
	}
	mutex_unlock(&hdev->evict_lock);
	kfree(pfns);
	return done;
}

/**
 * hmm_dummy_split_thp() - split the transparent huge pages of a range
 * @hdev:  the device (used as the notifier owner)
 * @vma:   the VMA containing [@start, @end)
 * @start: page-aligned start
 * @end:   page-aligned end, at most HMM_DUMMY_STACK_BATCH pages further
 *
 * Before 6.15, make_device_exclusive_range() gives up on pages of a large
 * folio.  migrate_vma_setup() splits PMD-mapped THPs while collecting; a
 * finalize with no destination then puts every page back where it was, so
 * the only lasting effect is the split.  Called with mmap_lock held.
 */
int hmm_dummy_split_thp(struct hmm_dummy_device *hdev,
			struct vm_area_struct *vma,
			unsigned long start, unsigned long end)
{
	unsigned long src[HMM_DUMMY_STACK_BATCH];
	unsigned long dst[HMM_DUMMY_STACK_BATCH] = { 0 };
	struct migrate_vma args = {
		.vma = vma, .src = src, .dst = dst,
		.start = start, .end = end,
		.pgmap_owner = hdev,
		.flags = MIGRATE_VMA_SELECT_SYSTEM,
	};
	int ret;

	if (!hmm_dummy_vma_migratable(vma))
		return -EINVAL;
	ret = migrate_vma_setup(&args);
	if (ret)
		return ret;
	migrate_vma_finalize(&args);
	return 0;
}
