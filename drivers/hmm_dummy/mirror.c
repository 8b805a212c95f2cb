// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_dummy mirror: the device's own page table for one process, kept
 * coherent with the CPU page table through an mmu_interval_notifier, and
 * the device accesses (read, write, snapshot, atomics) that go through it.
 *
 * The device page table (mirror->pt) maps a user page index to what the
 * device accesses there, with the access it may make: the DMA address of a
 * system page, mapped for the device's struct device (hdev->dma_dev), or
 * one of the device's own pages, which it reaches without the DMA API (see
 * "DMA mapping" below).  An entry
 * is only created under mirror->lock after mmu_interval_read_retry() said
 * the hmm_range_fault() result is still current, and every invalidation
 * removes entries under the same lock before the CPU side changes.  So
 * while mirror->lock is held, every page found in pt is mapped in the
 * process and cannot be freed: that is what makes reading a device page's
 * backing or a system page under the lock safe without page references.
 *
 * Nothing under mirror->lock may allocate with reclaim, fault on user
 * memory or take mmap_lock: the notifier is called from reclaim and from
 * page faults.  Data therefore goes through a kernel bounce buffer.
 *
 * The device's accesses are copy engine jobs (engine.c), submitted under
 * mirror->lock with the pages found in the device page table and waited
 * for after it is dropped.  The job holds no page reference: what keeps
 * its pages alive is that every invalidation, after it has removed the
 * entries, waits for the mirror's last access job (mirror->access_fence)
 * before it returns, as a real driver waits for its TLB flush.  The last
 * one covers all earlier ones: the mirror's jobs are submitted under
 * mirror->lock, queued jobs complete in order, and a job the engine runs
 * in the submitter (engine.c) only does so when nothing is queued and is
 * done when submit returns.
 *
 * DMA mapping: a real device reaches system memory only through DMA
 * addresses, so each system page the device page table holds is mapped for
 * hdev->dma_dev when its entry is made (under mirror->lock, with calls that
 * neither sleep nor allocate with reclaim: compat.h), and the entry holds
 * the DMA address, which is what the copy engine is given.  The mappings
 * of a notifier region live in the region's map (struct mirror_notifier),
 * one slot per page, so that an invalidation finds them by index.  The
 * rule every invalidation follows, and every driver must:
 *   1. remove the entries (under mirror->lock: no new job can use them);
 *   2. wait for the device (the access fence: a job in flight may still
 *      use the addresses just removed);
 *   3. unmap (under mirror->lock again, which a concurrent device fault
 *      holds while it maps other pages of the region);
 *   4. return, after which the core may free or reuse the pages.
 * Unmapping before 2 would pull the address from under a running job (with
 * an IOMMU, a DMA fault); returning before 3 would leave the device an
 * address of a page the kernel reuses.  Nothing can map the removed range
 * again meanwhile: a fault's sequence check fails until the invalidation
 * ends.  Closing the file unmaps whatever is left (hmm_dummy_mirror_fini()).
 *
 * Peer pages: with peer_group every device has the same pgmap owner, so
 * hmm_range_fault() also returns the device-private pages of the other
 * hmm_dummy devices, and the device page table holds them as it holds its
 * own, accessed in place through their backings.  The same rule keeps
 * them alive: a peer that migrates, evicts or unloads such a page unmaps
 * it first (MMU_NOTIFY_MIGRATE, or CLEAR for a zap), and this notifier
 * skips none of those, whatever their owner, so it removes the entry and
 * waits for this device's last access before the page can go.  Only this
 * device's own MMU_NOTIFY_EXCLUSIVE is skipped, and its owner is the
 * device itself (hdev), never the shared pgmap owner.
 */
#include <linux/dma-mapping.h>
#include <linux/highmem.h>
#include <linux/hmm.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "compat.h"
#include "hmm_dummy.h"
#include "trace.h"

/*
 * Access rights recorded with each device page table entry, as xarray
 * pointer tags (which may only be 0, 1 or 3: 2 marks internal entries).
 */
enum {
	PT_READ = 0,
	PT_WRITE = 1,
	PT_ATOMIC = 3,	/* exclusive (device atomics); implies write */
};

/*
 * An entry is either a device page of this device, a struct page pointer
 * tagged with the access (xa_tag_pointer()), or a system page's DMA
 * address, page-aligned, with the access in the same two low bits and
 * PT_DMA set.  A struct page pointer is at least 8-byte aligned, so never
 * has PT_DMA, and neither kind looks like an xarray internal entry (low
 * bits 10: the access is never 2).
 */
#define PT_ACCESS_MASK	3UL
#define PT_DMA		4UL

static void *pt_mk_dma(dma_addr_t dma, unsigned int access)
{
	BUILD_BUG_ON(sizeof(dma_addr_t) > sizeof(unsigned long));
	return (void *)(unsigned long)(dma | PT_DMA | access);
}

static bool pt_is_dma(const void *entry)
{
	return (unsigned long)entry & PT_DMA;
}

static dma_addr_t pt_dma(const void *entry)
{
	return (unsigned long)entry & PAGE_MASK;
}

static unsigned int pt_rights(const void *entry)
{
	return (unsigned long)entry & PT_ACCESS_MASK;
}

static unsigned int dma_fail_maps;
module_param(dma_fail_maps, uint, 0644);
MODULE_PARM_DESC(dma_fail_maps, "Test hook: the next N DMA mappings of system pages for the device fail, as an exhausted IOMMU would make them (default 0)");

/*
 * How long one chunk of a device access may keep retrying while
 * invalidations of its range keep coming, in the driver and (unlocked) in
 * the core.  A driver picks this for its users (amdgpu scales it with the
 * range); a test shortens it to see -EBUSY come back in bounded time.
 */
static unsigned int fault_timeout_ms = HMM_RANGE_DEFAULT_TIMEOUT;
module_param(fault_timeout_ms, uint, 0644);
MODULE_PARM_DESC(fault_timeout_ms, "Retry budget of a device fault under invalidations, in ms, after which it gives -EBUSY (default 1000; 0 counts as 1)");

/* Pages per hmm_range_fault() call and per bounce buffer fill. */
#define MIRROR_CHUNK	512UL

/*
 * The mirror watches the address space through one interval notifier per
 * naturally aligned MIRROR_SPAN_SHIFT region that the device has touched,
 * created on first use, rather than one notifier over the whole address
 * space: an invalidation elsewhere in the process then neither makes the
 * device's faults retry nor walks this device page table, and each
 * invalidation erases at most one region's entries.  The regions live until
 * the file is closed.
 */
#define MIRROR_SPAN_SHIFT	26	/* 64 MiB */
#define MIRROR_SPAN		BIT(MIRROR_SPAN_SHIFT)
#define MIRROR_SPAN_PAGES	(MIRROR_SPAN >> PAGE_SHIFT)

/**
 * struct mirror_notifier - one notifier region of a mirror
 * @mni:    the interval notifier watching the region
 * @mirror: the mirror
 * @map:    the DMA mappings of the region's system pages, one slot per page
 *          (mirror_slot()); slots change under mirror->lock
 * @mapped: slots of @map mapped now, under mirror->lock
 * @no_dma: the device cannot map system pages for long (its DMA mask needs
 *          bounce buffers, see dma_dev.c): @map was refused and is unused;
 *          the device reaches device memory only
 *
 * @map is the record of what is mapped, not the device page table: an
 * entry that could not be stored (no memory under the lock) leaves its
 * mapping in @map, where the next invalidation or the teardown finds it.
 */
struct mirror_notifier {
	struct mmu_interval_notifier mni;
	struct hmm_dummy_mirror *mirror;
	struct hmm_dummy_dma_map map;
	unsigned long mapped;
	bool no_dma;
};

/* The slot of @addr in its region's DMA map. */
static size_t mirror_slot(unsigned long addr)
{
	return (addr >> PAGE_SHIFT) & (MIRROR_SPAN_PAGES - 1);
}

/*
 * Unmap the slots [@first, @last] of @mn's map, under mirror->lock, once
 * no job can use their addresses any more: step 3 of the rule in the file
 * comment.
 */
static void mirror_unmap(struct hmm_dummy_mirror *mirror,
			 struct mirror_notifier *mn, size_t first, size_t last,
			 bool blockable)
{
	struct hmm_dummy_device *hdev = mirror->hdev;
	unsigned long n = 0;
	size_t slot;

	lockdep_assert_held(&mirror->lock);
	for (slot = first; slot <= last && mn->mapped; slot++) {
		if (hmm_dummy_dma_unmap_page(hdev->dma_dev, &mn->map, slot)) {
			mn->mapped--;
			n++;
		}
		if (blockable && !(slot % MIRROR_CHUNK))
			cond_resched();
	}
	hmm_dummy_count(hdev, HMM_DUMMY_CNT_DMA_MAPPED, -(long)n);
}

static bool mirror_invalidate(struct mmu_interval_notifier *mni,
			      const struct mmu_notifier_range *range,
			      unsigned long cur_seq)
{
	struct mirror_notifier *mn = container_of(mni, struct mirror_notifier,
						  mni);
	struct hmm_dummy_mirror *mirror = mn->mirror;
	unsigned long start = max(range->start, mni->interval_tree.start);
	unsigned long last = min(range->end - 1, mni->interval_tree.last);
	XA_STATE(xas, &mirror->pt, start >> PAGE_SHIFT);
	bool blockable = mmu_notifier_range_blockable(range);
	struct dma_fence *fence;
	unsigned int batch = 0;
	void *entry;

	/*
	 * Our own make_device_exclusive*(): the page stays the same and the
	 * caller maps it as atomic right after, under the sequence check.
	 */
	if (range->event == MMU_NOTIFY_EXCLUSIVE &&
	    range->owner == mirror->hdev)
		return true;

	if (blockable) {
		mutex_lock(&mirror->lock);
	} else if (!mutex_trylock(&mirror->lock)) {
		return false;
	} else if (mirror->access_fence &&
		   !dma_fence_is_signaled(mirror->access_fence)) {
		/* The device still uses pages and we may not wait. */
		mutex_unlock(&mirror->lock);
		return false;
	}
	mmu_interval_set_seq(mni, cur_seq);
	/*
	 * A region holds up to MIRROR_SPAN / PAGE_SIZE entries: where the
	 * caller may sleep, let the CPU go between batches.  mirror->lock
	 * stays held, so the device sees none of them meanwhile.  Each batch
	 * starts a fresh walk after the last index it erased: xas_pause()
	 * right after an xas_store(NULL) that freed the node (6.1, 6.12)
	 * steps the index too far and the walk skips entries, which the
	 * device would then read after their pages were freed.
	 */
	for (;;) {
		xas_lock(&xas);
		xas_for_each(&xas, entry, last >> PAGE_SHIFT) {
			xas_store(&xas, NULL);
			if (blockable && ++batch == MIRROR_CHUNK)
				break;
		}
		xas_unlock(&xas);
		if (batch < MIRROR_CHUNK || xas.xa_index >= last >> PAGE_SHIFT)
			break;
		batch = 0;
		cond_resched();
		xas_set(&xas, xas.xa_index + 1);
	}
	/*
	 * New jobs can only use the entries left; one in flight may still
	 * use those just removed, and their pages may be freed once we
	 * return.  So wait for it, then unmap (the file comment's rule).
	 * Where we may not block, the fence was found signalled above and
	 * no job was submitted since (jobs are submitted under mirror->lock):
	 * no wait, the unmap follows at once.
	 */
	fence = dma_fence_get(mirror->access_fence);
	if (fence && !dma_fence_is_signaled(fence)) {
		mutex_unlock(&mirror->lock);
		dma_fence_wait(fence, false);
		mutex_lock(&mirror->lock);
	}
	dma_fence_put(fence);
	mirror_unmap(mirror, mn, mirror_slot(start), mirror_slot(last),
		     blockable);
	mutex_unlock(&mirror->lock);
	return true;
}

static const struct mmu_interval_notifier_ops mirror_notifier_ops = {
	.invalidate = mirror_invalidate,
};

/*
 * Free a region no notifier watches any more (removed, or never inserted):
 * unmap what is left in its map (teardown: every access has waited for its
 * job), then the map.
 */
static void mirror_notifier_free(struct hmm_dummy_mirror *mirror,
				 struct mirror_notifier *mn)
{
	mutex_lock(&mirror->lock);
	mirror_unmap(mirror, mn, 0, MIRROR_SPAN_PAGES - 1, true);
	mutex_unlock(&mirror->lock);
	if (!mn->no_dma)
		hmm_dummy_dma_map_free(mirror->hdev->dma_dev, &mn->map);
	kfree(mn);
}

/* Pages from @addr to the end of its notifier region, at most @max. */
static unsigned long mirror_span_pages(unsigned long addr, unsigned long max)
{
	return min(max, (ALIGN(addr + 1, MIRROR_SPAN) - addr) >> PAGE_SHIFT);
}

/**
 * mirror_notifier() - the interval notifier covering @addr
 * @mirror: the mirror
 * @addr:   a user address
 *
 * Creates the notifier of @addr's region on first use.  Must not be called
 * with mmap_lock held (inserting a notifier may take it); the caller holds
 * a reference on mirror->mm's users.
 *
 * Return: the notifier, or an ERR_PTR.
 */
static struct mmu_interval_notifier *
mirror_notifier(struct hmm_dummy_mirror *mirror, unsigned long addr)
{
	unsigned long index = addr >> MIRROR_SPAN_SHIFT;
	struct mirror_notifier *mn, *old;
	int ret;

	mn = xa_load(&mirror->notifiers, index);
	if (mn)
		return &mn->mni;
	mn = kzalloc_obj(*mn, GFP_KERNEL_ACCOUNT);
	if (!mn)
		return ERR_PTR(-ENOMEM);
	mn->mirror = mirror;
	/* Here, not under mirror->lock: the map's arrays are large. */
	ret = hmm_dummy_dma_map_alloc(mirror->hdev->dma_dev, &mn->map,
				      MIRROR_SPAN_PAGES);
	/* Refused for the device, not for want of memory: see @no_dma. */
	mn->no_dma = ret == -EOPNOTSUPP;
	if (ret && !mn->no_dma) {
		kfree(mn);
		return ERR_PTR(ret);
	}
	ret = mmu_interval_notifier_insert(&mn->mni, mirror->mm,
					   index << MIRROR_SPAN_SHIFT,
					   MIRROR_SPAN, &mirror_notifier_ops);
	if (ret) {
		mirror_notifier_free(mirror, mn);
		return ERR_PTR(ret);
	}
	old = xa_cmpxchg(&mirror->notifiers, index, NULL, mn,
			 GFP_KERNEL_ACCOUNT);
	if (old) {
		/* Another thread of the process was first (or no memory). */
		mmu_interval_notifier_remove(&mn->mni);
		mirror_notifier_free(mirror, mn);
		if (xa_is_err(old))
			return ERR_PTR(xa_err(old));
		return &old->mni;
	}
	return &mn->mni;
}

/**
 * hmm_dummy_mirror_init() - start mirroring @mm for device @hdev
 * @mirror: zeroed mirror to set up
 * @hdev:   the device
 * @mm:     the address space (the opener's)
 *
 * Return: 0 or a negative errno.
 */
int hmm_dummy_mirror_init(struct hmm_dummy_mirror *mirror,
			  struct hmm_dummy_device *hdev, struct mm_struct *mm)
{
	mirror->hdev = hdev;
	/* Keeps the mm_struct (not the address space) for mmget_not_zero(). */
	mmgrab(mm);
	mirror->mm = mm;
	mutex_init(&mirror->lock);
	/* Grows with what the process maps: charge it to the process. */
	xa_init_flags(&mirror->pt, XA_FLAGS_ACCOUNT);
	xa_init(&mirror->notifiers);
	return 0;
}

void hmm_dummy_mirror_fini(struct hmm_dummy_mirror *mirror)
{
	struct mirror_notifier *mn;
	unsigned long index;

	/*
	 * Each removal waits for its invalidations in progress; then the
	 * region's mappings go.
	 */
	xa_for_each(&mirror->notifiers, index, mn) {
		mmu_interval_notifier_remove(&mn->mni);
		mirror_notifier_free(mirror, mn);
	}
	xa_destroy(&mirror->notifiers);
	xa_destroy(&mirror->pt);
	/* Every access waited for its job: the fence is signalled. */
	dma_fence_put(mirror->access_fence);
	mmdrop(mirror->mm);
}

/*
 * Record a page the device may access at @addr (in @mn's region), a system
 * page DMA-mapped first, and return the entry for the caller's job to use.
 * Failing to store the entry only costs a later fault (the mapping stays
 * in @mn's map, see struct mirror_notifier).
 *
 * Return: the entry, or NULL if the DMA mapping failed (pt_store_errno()).
 */
static void *pt_store(struct hmm_dummy_mirror *mirror,
		      struct mirror_notifier *mn, unsigned long addr,
		      struct page *page, unsigned int access)
{
	struct hmm_dummy_device *hdev = mirror->hdev;
	size_t slot = mirror_slot(addr);
	void *entry;

	lockdep_assert_held(&mirror->lock);
	if (hmm_dummy_device_memory(hdev, page)) {
		/*
		 * Device memory, ours or (peer_group) a peer's private
		 * memory: reached through its backing, without the DMA API.
		 */
		entry = xa_tag_pointer(page, access);
	} else {
		bool fresh;
		dma_addr_t dma;

		if (mn->no_dma)
			return NULL;
		fresh = !hmm_dummy_dma_mapped_page(&mn->map, slot);
		if (fresh && hmm_dummy_take_failure(&dma_fail_maps))
			return NULL;
		dma = hmm_dummy_dma_map_page(hdev->dma_dev, &mn->map, slot,
					     page);
		if (dma == DMA_MAPPING_ERROR)
			return NULL;
		if (fresh) {
			mn->mapped++;
			hmm_dummy_count(hdev, HMM_DUMMY_CNT_DMA_MAPS, 1);
			hmm_dummy_count(hdev, HMM_DUMMY_CNT_DMA_MAPPED, 1);
		}
		entry = pt_mk_dma(dma, access);
	}
	xa_store(&mirror->pt, addr >> PAGE_SHIFT, entry,
		 GFP_NOWAIT | __GFP_NOWARN);
	return entry;
}

/* Why pt_store() gave no entry: the device cannot map, or a mapping failed. */
static int pt_store_errno(const struct mirror_notifier *mn)
{
	return mn->no_dma ? -EOPNOTSUPP : -ENOMEM;
}

/*
 * The page behind a device page table entry at @addr, for the driver's
 * own bookkeeping (dirtying, references): a device page is the entry
 * itself, a system page is found in its region's DMA map.  Under
 * mirror->lock.
 */
static struct page *pt_page(struct hmm_dummy_mirror *mirror,
			    unsigned long addr, void *entry)
{
	struct mirror_notifier *mn;

	lockdep_assert_held(&mirror->lock);
	if (!pt_is_dma(entry))
		return xa_untag_pointer(entry);
	mn = xa_load(&mirror->notifiers, addr >> MIRROR_SPAN_SHIFT);
	return mn ? hmm_dummy_dma_mapped_page(&mn->map, mirror_slot(addr)) :
		    NULL;
}

/*
 * The page the engine copies to or from for the bounce buffer's page at
 * @offset (vmalloc memory: its own pages).
 */
static struct page *buf_page(void *buf, unsigned long offset)
{
	return vmalloc_to_page(buf + offset);
}

/*
 * Queue the copy of one page between @buf_pg and what the device sees at a
 * device page table entry: a system page through its DMA address, a device
 * page through its backing.
 */
static void device_copy(struct hmm_dummy_job *job, void *entry,
			struct page *buf_pg, bool write)
{
	struct page *page;

	if (pt_is_dma(entry)) {
		hmm_dummy_job_add_dma(job, buf_pg, pt_dma(entry), write);
		return;
	}
	page = xa_untag_pointer(entry);
	if (write)
		hmm_dummy_job_add(job, page, buf_pg);
	else
		hmm_dummy_job_add(job, buf_pg, page);
}

/*
 * Submit @job as the mirror's latest access and return its fence for the
 * caller to wait on once mirror->lock is dropped.
 */
static struct dma_fence *submit_access(struct hmm_dummy_mirror *mirror,
				       struct hmm_dummy_job *job)
{
	struct dma_fence *fence;

	lockdep_assert_held(&mirror->lock);
	/* Waited for as soon as mirror->lock is dropped. */
	job->wait_at_once = true;
	fence = hmm_dummy_engine_submit(mirror->hdev, job);
	dma_fence_put(mirror->access_fence);
	mirror->access_fence = dma_fence_get(fence);
	return fence;
}

/*
 * A device READ or WRITE of one page, under mirror->lock: the copy queued
 * on @job, and
 * for a page in device memory an LRU refresh so that eviction takes pages
 * the device is not using.  Migration read-backs and atomics only copy.
 *
 * A device write goes through a kernel mapping, which no CPU page table
 * entry sees, so the page must be marked dirty or reclaim may throw the
 * data away: a clean anonymous page that was lazily freed (MADV_FREE) is
 * discarded, a clean swap cache page is dropped in favour of its stale
 * copy on swap.  hmm_range_fault() does not dirty a page it finds mapped
 * writable.  A device page is marked at once: it has no mapping to call
 * into, only its flag changes, and migration carries the flag to the
 * system page it goes back to.  A system page is marked by
 * device_writes_done() after mirror->lock is dropped, because marking a
 * file folio dirty can allocate (with reclaim, which may need mirror->lock
 * in an invalidation); here it only gets a reference.  The reference keeps
 * reclaim from discarding or dropping the page before it is marked (both
 * need the page's references to be only its mappings'), and mirror->lock,
 * under which every page in the device page table is mapped, is what makes
 * taking it safe.
 */
static void device_access(struct hmm_dummy_mirror *mirror, struct page *page,
			  void *entry, struct hmm_dummy_job *job,
			  struct page *buf_pg, bool write)
{
	lockdep_assert_held(&mirror->lock);
	if (hmm_dummy_device_memory(mirror->hdev, page)) {
		/* A peer's page (peer_group) is on the peer's LRU. */
		hmm_dummy_lru_touch(hmm_dummy_page_device(page), page);
		if (write)
			folio_mark_dirty(page_folio(page));
	} else if (write) {
		get_page(page);
	}
	device_copy(job, entry, buf_pg, write);
}

/* Drop the references device_access() took for a job never submitted. */
static void device_access_abort(struct hmm_dummy_mirror *mirror,
				struct page **pages, unsigned long n,
				bool write)
{
	unsigned long i;

	for (i = 0; write && i < n; i++)
		if (!hmm_dummy_device_memory(mirror->hdev, pages[i]))
			put_page(pages[i]);
}

/*
 * After a device WRITE of @pages[0..@n) through device_access(), with
 * mirror->lock dropped: mark the system pages dirty and drop the
 * references device_access() took.  set_page_dirty_lock() takes the folio
 * lock, which keeps a file folio from being truncated meanwhile.
 */
static void device_writes_done(struct hmm_dummy_mirror *mirror,
			       struct page **pages, unsigned long n)
{
	unsigned long i;

	lockdep_assert_not_held(&mirror->lock);
	for (i = 0; i < n; i++) {
		if (hmm_dummy_device_memory(mirror->hdev, pages[i]))
			continue;
		set_page_dirty_lock(pages[i]);
		put_page(pages[i]);
	}
}

/*
 * The end of a device access of @pages[0..@n): wait for its job (@fence,
 * from submit_access()) with mirror->lock dropped, then finish the writes.
 * Returns 0 or the job's error.
 */
static int device_access_wait(struct hmm_dummy_mirror *mirror,
			      struct dma_fence *fence, struct page **pages,
			      unsigned long n, bool write)
{
	int ret;

	lockdep_assert_not_held(&mirror->lock);
	ret = hmm_dummy_engine_wait(fence);
	if (write)
		device_writes_done(mirror, pages, n);
	return ret;
}

/*
 * Fault [range->start, range->end), which must lie in one notifier region,
 * with hmm_range_fault() and return with mirror->lock held and
 * range->hmm_pfns current (no invalidation since).
 * With @unlocked, mmap_lock is left to the core, which may drop it while
 * faulting (userfaultfd).  The caller holds a reference on mirror->mm and
 * not its mmap_lock: mmu_interval_read_begin() may wait for invalidations
 * that need it.
 */
static int mirror_range_fault_lock(struct hmm_dummy_mirror *mirror,
				   struct hmm_range *range, bool unlocked)
{
	unsigned long budget =
		msecs_to_jiffies(max(READ_ONCE(fault_timeout_ms), 1U));
	unsigned long timeout = jiffies + budget;
	int ret;

	range->notifier = mirror_notifier(mirror, range->start);
	if (IS_ERR(range->notifier))
		return PTR_ERR(range->notifier);
	hmm_dummy_range_clear(range);
	for (;;) {
		if (fatal_signal_pending(current))
			return -EINTR;
		if (time_after(jiffies, timeout))
			return -EBUSY;
		/* mmu_interval_read_begin() may wait for invalidations. */
		lockdep_assert_not_held(&mirror->mm->mmap_lock);
		lockdep_assert_not_held(&mirror->lock);
		if (unlocked) {
			ret = hmm_dummy_range_fault_unlocked(range, budget);
		} else {
			range->notifier_seq =
				mmu_interval_read_begin(range->notifier);
			mmap_read_lock(mirror->mm);
			ret = hmm_range_fault(range);
			mmap_read_unlock(mirror->mm);
		}
		if (ret == -EBUSY)
			continue;
		if (ret)
			return ret;
		mutex_lock(&mirror->lock);
		if (!mmu_interval_read_retry(range->notifier,
					     range->notifier_seq))
			return 0;
		mutex_unlock(&mirror->lock);
	}
}

/*
 * Device access through the device page table alone.  Returns false
 * (touching nothing) unless every page of the chunk is mapped with the
 * needed access.
 */
static bool pt_access(struct hmm_dummy_mirror *mirror, unsigned long start,
		      unsigned long npages, void *buf, bool write,
		      struct page **pages, struct hmm_dummy_job *job)
{
	unsigned long i;

	lockdep_assert_held(&mirror->lock);
	for (i = 0; i < npages; i++) {
		unsigned long addr = start + (i << PAGE_SHIFT);
		void *entry = xa_load(&mirror->pt, addr >> PAGE_SHIFT);

		if (!entry || (write && pt_rights(entry) == PT_READ))
			return false;
		/* An entry is removed before its mapping: never NULL. */
		pages[i] = pt_page(mirror, addr, entry);
		if (WARN_ON_ONCE(!pages[i]))
			return false;
	}
	for (i = 0; i < npages; i++) {
		unsigned long addr = start + (i << PAGE_SHIFT);

		device_access(mirror, pages[i],
			      xa_load(&mirror->pt, addr >> PAGE_SHIFT), job,
			      buf_page(buf, i * PAGE_SIZE), write);
	}
	return true;
}

/*
 * Resources of one command that walks its range chunk by chunk: a reference
 * on the mirrored mm, the hmm_range_fault() output (or, on the device page
 * table fast path, the pages found there) and a bounce buffer.
 */
struct mirror_walk {
	union {
		unsigned long *pfns;
		struct page **pages;
	};
	void *buf;
};

static int walk_begin(struct hmm_dummy_mirror *mirror, struct mirror_walk *w,
		      unsigned long npages, size_t bytes_per_page)
{
	unsigned long n = min(npages, MIRROR_CHUNK);

	BUILD_BUG_ON(sizeof(*w->pfns) != sizeof(*w->pages));
	w->pfns = kvmalloc_array(n, sizeof(*w->pfns), GFP_KERNEL);
	/*
	 * vmalloc(), not kvmalloc(), which maps a 2 MiB buffer with a huge
	 * page: test_hmm's bounce buffer is a vmalloc() area, and the
	 * benchmarks compare like with like (Documentation/hmm_dummy.rst,
	 * "Performance notes").
	 */
	w->buf = vmalloc(array_size(n, bytes_per_page));
	if (!w->pfns || !w->buf)
		goto err;
	if (!mmget_not_zero(mirror->mm))
		goto err;
	return 0;
err:
	kvfree(w->pfns);
	vfree(w->buf);
	return w->pfns && w->buf ? -ESRCH : -ENOMEM;
}

static void walk_end(struct hmm_dummy_mirror *mirror, struct mirror_walk *w)
{
	mmput(mirror->mm);
	kvfree(w->pfns);
	vfree(w->buf);
}

static bool all_writable(const unsigned long *pfns, unsigned long npages)
{
	unsigned long i;

	for (i = 0; i < npages; i++)
		if (!(pfns[i] & HMM_PFN_WRITE))
			return false;
	return true;
}

/*
 * One chunk of a device READ or WRITE.  *@in_fault is true while the
 * previous chunk had to fault: a run of faulting chunks is one device fault,
 * the way a device faults once and the handler faults ahead.
 */
static int mirror_rw_chunk(struct hmm_dummy_mirror *mirror,
			   struct hmm_dmirror_cmd *cmd, unsigned long start,
			   unsigned long npages, bool write, bool unlocked,
			   struct mirror_walk *w, bool *in_fault)
{
	unsigned long *pfns = w->pfns;
	void *buf = w->buf;
	struct hmm_range range = {
		.start = start,
		.end = start + (npages << PAGE_SHIFT),
		.hmm_pfns = pfns,
		.default_flags = HMM_PFN_REQ_FAULT |
				 (write ? HMM_PFN_REQ_WRITE : 0),
		.dev_private_owner = hmm_dummy_owner(mirror->hdev),
	};
	struct mirror_notifier *mn;
	struct hmm_dummy_job *job;
	struct dma_fence *fence;
	unsigned long i;
	int ret;

	/* Before mirror->lock, under which nothing may reclaim. */
	job = hmm_dummy_job_alloc(HMM_DUMMY_JOB_ACCESS, npages);
	if (!job)
		return -ENOMEM;
	mutex_lock(&mirror->lock);
	if (pt_access(mirror, start, npages, buf, write, w->pages, job)) {
		fence = submit_access(mirror, job);
		mutex_unlock(&mirror->lock);
		*in_fault = false;
		return device_access_wait(mirror, fence, w->pages, npages,
					  write);
	}
	mutex_unlock(&mirror->lock);

	if (!*in_fault) {
		cmd->faults++;
		hmm_dummy_count(mirror->hdev, HMM_DUMMY_CNT_DEVICE_FAULTS, 1);
	}
	trace_hmm_dummy_device_fault(mirror->hdev->index, range.start,
				     range.end, write);
	*in_fault = true;
	ret = mirror_range_fault_lock(mirror, &range, unlocked);
	if (ret)
		goto out_free;
	if (write && !all_writable(pfns, npages)) {
		/*
		 * hmm_range_fault() returns our own device pages (and with
		 * peer_group the peers') as they are, without honouring
		 * HMM_PFN_REQ_WRITE: a read-only one is
		 * either shared copy-on-write (after fork) or in a read-only
		 * VMA.  Fault again treating them as foreign: they come back
		 * to system memory and the write fault then breaks the COW,
		 * or fails with -EPERM.
		 */
		mutex_unlock(&mirror->lock);
		range.dev_private_owner = NULL;
		ret = mirror_range_fault_lock(mirror, &range, unlocked);
		if (ret)
			goto out_free;
		if (!all_writable(pfns, npages)) {
			mutex_unlock(&mirror->lock);
			ret = -EPERM;
			goto out_free;
		}
	}
	mn = container_of(range.notifier, struct mirror_notifier, mni);
	for (i = 0; i < npages; i++) {
		unsigned long addr = start + (i << PAGE_SHIFT);
		struct page *page = hmm_dummy_range_page(pfns[i], addr);
		void *entry;

		entry = pt_store(mirror, mn, addr, page,
				 pfns[i] & HMM_PFN_WRITE ? PT_WRITE : PT_READ);
		if (!entry) {
			/* No DMA mapping: nothing was submitted. */
			mutex_unlock(&mirror->lock);
			device_access_abort(mirror, w->pages, i, write);
			ret = pt_store_errno(mn);
			goto out_free;
		}
		device_access(mirror, page, entry, job,
			      buf_page(buf, i * PAGE_SIZE), write);
		/* pfns[i] is read: its slot keeps the page from here on. */
		w->pages[i] = page;
	}
	fence = submit_access(mirror, job);
	mutex_unlock(&mirror->lock);
	return device_access_wait(mirror, fence, w->pages, npages, write);

out_free:
	hmm_dummy_job_free(job);
	return ret;
}

/**
 * hmm_dummy_mirror_rw() - device READ or WRITE of the mirrored range
 * @mirror:   the mirror
 * @cmd:      validated command; cpages and faults are filled in
 * @write:    true for WRITE (cmd->ptr -> process), false for READ
 * @unlocked: fault without holding mmap_lock, letting the fault handler
 *            drop it (READ_UNLOCKED: userfaultfd ranges can be read)
 *
 * Return: 0, or -EFAULT (unmapped or no access; bad user buffer), -EPERM
 * (write to read-only memory), -EINTR, -ENOMEM, -EBUSY, -EOPNOTSUPP
 * (@unlocked on a kernel without hmm_range_fault_unlocked_timeout()).
 */
int hmm_dummy_mirror_rw(struct hmm_dummy_mirror *mirror,
			struct hmm_dmirror_cmd *cmd, bool write, bool unlocked)
{
	void __user *uptr = u64_to_user_ptr(cmd->ptr);
	unsigned long done, n, start;
	struct mirror_walk w;
	bool in_fault = false;
	int ret;

	ret = walk_begin(mirror, &w, cmd->npages, PAGE_SIZE);
	if (ret)
		return ret;
	for (done = 0; done < cmd->npages; done += n) {
		start = cmd->addr + (done << PAGE_SHIFT);
		n = mirror_span_pages(start, min(cmd->npages - done,
						 MIRROR_CHUNK));
		if (write && copy_from_user(w.buf, uptr, n << PAGE_SHIFT)) {
			ret = -EFAULT;
			break;
		}
		ret = mirror_rw_chunk(mirror, cmd, start, n, write, unlocked,
				      &w, &in_fault);
		if (ret)
			break;
		if (!write && copy_to_user(uptr, w.buf, n << PAGE_SHIFT)) {
			ret = -EFAULT;
			break;
		}
		uptr += n << PAGE_SHIFT;
		cmd->cpages += n;
		cond_resched();
	}
	walk_end(mirror, &w);
	return ret;
}

/**
 * hmm_dummy_mirror_read_local() - read back a range from device memory
 * @mirror: the mirror
 * @cmd:    validated command; cpages is set to the pages of the range that
 *          are in this device's memory; cmd->ptr (may be 0) gets their data
 *
 * Used after MIGRATE_TO_DEV: without faulting anything, maps the pages that
 * are now in this device's memory into the device page table and copies
 * what the device holds.  Pages elsewhere read as zero.
 *
 * The copy is most of the read-back's cost.  When the user's buffer is
 * page-aligned and apart from the range, each chunk of it is pinned before
 * mirror->lock is taken (pinning may fault, which must not happen under the
 * lock) and every page is copied once, page to page, by the engine,
 * instead of twice through the bounce buffer (Documentation/hmm_dummy.rst,
 * "Performance notes").  Pages that could not be pinned go through the
 * bounce buffer.  With cmd->ptr 0 nothing is copied.
 *
 * Return: 0 when the whole range is in this device's memory, -ENOENT when
 * some page is not, or another negative errno.
 */
int hmm_dummy_mirror_read_local(struct hmm_dummy_mirror *mirror,
				struct hmm_dmirror_cmd *cmd)
{
	void __user *uptr = u64_to_user_ptr(cmd->ptr);
	unsigned long bytes = cmd->npages << PAGE_SHIFT;
	struct hmm_dummy_device *hdev = mirror->hdev;
	unsigned long done, n, i;
	struct page **upages = NULL;
	struct mirror_notifier *mn;
	struct hmm_dummy_job *job;
	struct dma_fence *fence;
	struct mirror_walk w;
	bool missing = false;
	int ret, npin;

	ret = walk_begin(mirror, &w, cmd->npages, PAGE_SIZE);
	if (ret)
		return ret;
	if (uptr && PAGE_ALIGNED(cmd->ptr) &&
	    (cmd->ptr + bytes <= cmd->addr || cmd->addr + bytes <= cmd->ptr))
		upages = kvmalloc_array(min(cmd->npages, MIRROR_CHUNK),
					sizeof(*upages), GFP_KERNEL);
	cmd->cpages = 0;
	for (done = 0; done < cmd->npages; done += n) {
		struct hmm_range range = {
				.start = cmd->addr + (done << PAGE_SHIFT),
			.hmm_pfns = w.pfns,
			.dev_private_owner = hmm_dummy_owner(hdev),
		};

		n = mirror_span_pages(range.start, min(cmd->npages - done,
						       MIRROR_CHUNK));
		range.end = range.start + (n << PAGE_SHIFT);
		npin = upages ? pin_user_pages_fast((unsigned long)uptr, n,
						    FOLL_WRITE, upages) : 0;
		npin = max(npin, 0);
		/* Before mirror->lock, under which nothing may reclaim. */
		job = hmm_dummy_job_alloc(HMM_DUMMY_JOB_ACCESS, n);
		ret = job ? mirror_range_fault_lock(mirror, &range, false) :
			    -ENOMEM;
		if (ret) {
			if (job)
				hmm_dummy_job_free(job);
			if (npin)
				unpin_user_pages(upages, npin);
			break;
		}
		mn = container_of(range.notifier, struct mirror_notifier, mni);
		for (i = 0; i < n; i++) {
			unsigned long hpfn = w.pfns[i];
			struct page *page, *dst;
			void *entry;

			page = !(hpfn & HMM_PFN_VALID) ? NULL :
			       hmm_dummy_range_page(hpfn, range.start +
							  (i << PAGE_SHIFT));
			if (!page || !hmm_dummy_is_own_page(hdev, page)) {
				missing = true;
				if (i < npin)
					clear_highpage(upages[i]);
				else
					memset(w.buf + i * PAGE_SIZE, 0,
					       PAGE_SIZE);
				continue;
			}
			/* A device page: no DMA mapping, cannot fail. */
			entry = pt_store(mirror, mn, range.start +
					 (i << PAGE_SHIFT), page,
					 hpfn & HMM_PFN_WRITE ? PT_WRITE :
								PT_READ);
			if (i < npin)
				dst = upages[i];
			else if (uptr)
				dst = buf_page(w.buf, i * PAGE_SIZE);
			else
				dst = NULL;
			if (dst)
				device_copy(job, entry, dst, false);
			cmd->cpages++;
		}
		fence = submit_access(mirror, job);
		mutex_unlock(&mirror->lock);
		ret = hmm_dummy_engine_wait(fence);
		if (npin)
			unpin_user_pages_dirty_lock(upages, npin, true);
		if (ret)
			break;
		if (uptr && npin < n &&
		    copy_to_user(uptr + npin * PAGE_SIZE,
				 w.buf + npin * PAGE_SIZE,
				 (n - npin) << PAGE_SHIFT)) {
			ret = -EFAULT;
			break;
		}
		if (uptr)
			uptr += n << PAGE_SHIFT;
	}
	walk_end(mirror, &w);
	kvfree(upages);
	if (!ret && missing)
		ret = -ENOENT;
	return ret;
}

/* Snapshot encoding of one hmm_range_fault() result. */
static u8 snapshot_entry(struct hmm_dummy_device *hdev, unsigned long hpfn)
{
	unsigned int shift;
	struct page *page;
	u8 perm;

	if (hpfn & HMM_PFN_ERROR)
		return HMM_DMIRROR_PROT_ERROR;
	if (!(hpfn & HMM_PFN_VALID))
		return HMM_DMIRROR_PROT_NONE;
	page = hmm_pfn_to_page(hpfn);
	if (is_device_private_page(page))
		perm = hmm_dummy_pgmap(page) == &hdev->pgmap ?
			HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL :
			HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE;
	else if (is_device_coherent_page(page))
		perm = hmm_dummy_pgmap(page) == &hdev->pgmap ?
			HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL :
			HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE;
	else if (is_zero_pfn(page_to_pfn(page)))
		perm = HMM_DMIRROR_PROT_ZERO;
	else
		perm = HMM_DMIRROR_PROT_NONE;
	perm |= hpfn & HMM_PFN_WRITE ? HMM_DMIRROR_PROT_WRITE :
				       HMM_DMIRROR_PROT_READ;
	shift = hmm_pfn_to_map_order(hpfn) + PAGE_SHIFT;
	if (shift == PMD_SHIFT)
		perm |= HMM_DMIRROR_PROT_PMD;
	else if (shift == PUD_SHIFT)
		perm |= HMM_DMIRROR_PROT_PUD;
	return perm;
}

/*
 * An entry a later pass with a peer's pages visible may still decide.
 * ERROR is one: hmm_range_fault() reports a PMD-mapped device-private
 * folio of another owner as an error where it reports the same pages
 * PTE-mapped as none (7.3: hmm_vma_handle_absent_pmd()).
 */
static bool snapshot_undecided(u8 perm)
{
	return perm == HMM_DMIRROR_PROT_NONE || perm == HMM_DMIRROR_PROT_ERROR;
}

/*
 * Snapshot one chunk as seen with @owner's device-private pages visible;
 * entries already decided in @perm are kept, and an ERROR is only replaced
 * by something better than NONE.
 */
static int snapshot_chunk(struct hmm_dummy_mirror *mirror,
			  void *owner, unsigned long start,
			  unsigned long npages, unsigned long *pfns, u8 *perm)
{
	struct hmm_range range = {
		.start = start,
		.end = start + (npages << PAGE_SHIFT),
		.hmm_pfns = pfns,
		.dev_private_owner = owner,
	};
	unsigned long i;
	int ret;

	ret = mirror_range_fault_lock(mirror, &range, false);
	if (ret)
		return ret;
	mutex_unlock(&mirror->lock);
	for (i = 0; i < npages; i++) {
		u8 e;

		if (!snapshot_undecided(perm[i]))
			continue;
		e = snapshot_entry(mirror->hdev, pfns[i]);
		if (perm[i] == HMM_DMIRROR_PROT_NONE || !snapshot_undecided(e))
			perm[i] = e;
	}
	return 0;
}

/**
 * hmm_dummy_mirror_snapshot() - the device's view of a range, one byte per
 * page (HMM_DMIRROR_PROT_*), without faulting anything
 * @mirror: the mirror
 * @cmd:    validated command; cpages is set to npages on success
 *
 * Pages on a peer hmm_dummy device show as DEV_PRIVATE_REMOTE with
 * peer_group (the first pass, with the owner all devices share, sees them)
 * or when peer migration is on (a pass per peer); otherwise, as
 * with test_hmm, another device's private memory is invisible: NONE, or
 * ERROR for a PMD-mapped large folio (what hmm_range_fault() says then).
 *
 * Return: 0 or a negative errno.
 */
int hmm_dummy_mirror_snapshot(struct hmm_dummy_mirror *mirror,
			      struct hmm_dmirror_cmd *cmd)
{
	void __user *uptr = u64_to_user_ptr(cmd->ptr);
	unsigned long done, n, start, i;
	struct mirror_walk w;
	unsigned int p;
	int ret;

	ret = walk_begin(mirror, &w, cmd->npages, 1);
	if (ret)
		return ret;
	for (done = 0; done < cmd->npages; done += n) {
		u8 *perm = w.buf;
		bool none = false;

		start = cmd->addr + (done << PAGE_SHIFT);
		n = mirror_span_pages(start, min(cmd->npages - done,
						 MIRROR_CHUNK));
		memset(perm, HMM_DMIRROR_PROT_NONE, n);
		ret = snapshot_chunk(mirror, hmm_dummy_owner(mirror->hdev),
				     start, n, w.pfns, perm);
		for (i = 0; !ret && i < n && !none; i++)
			none = snapshot_undecided(perm[i]);
		/* With peer_group the first pass saw the peers already. */
		for (p = 0; !ret && none && hmm_dummy_peer_migration &&
		     !hmm_dummy_peer_group && p < hmm_dummy_num_devices; p++) {
			struct hmm_dummy_device *peer = hmm_dummy_devices[p];

			if (peer && peer != mirror->hdev &&
			    hmm_dummy_in_use(peer))
				ret = snapshot_chunk(mirror,
						     hmm_dummy_owner(peer),
						     start, n, w.pfns, perm);
		}
		if (ret)
			break;
		if (copy_to_user(uptr, perm, n)) {
			ret = -EFAULT;
			break;
		}
		uptr += n;
		cmd->cpages += n;
	}
	walk_end(mirror, &w);
	return ret;
}

/*
 * Copy a page the device already holds for atomics into @buf, with @job
 * (which it submits; *@ret gets its result).  Returns false, touching
 * nothing, unless @addr is mapped PT_ATOMIC: the entry is
 * current while mirror->lock is held (every invalidation erases it under
 * the same lock first), so the page is still device-exclusive and nobody
 * else can have changed it.
 */
static bool exclusive_already(struct hmm_dummy_mirror *mirror,
			      unsigned long addr, void *buf,
			      struct hmm_dummy_job *job, int *ret)
{
	struct dma_fence *fence = NULL;
	void *entry;

	mutex_lock(&mirror->lock);
	entry = xa_load(&mirror->pt, addr >> PAGE_SHIFT);
	if (entry && pt_rights(entry) == PT_ATOMIC) {
		device_copy(job, entry, buf_page(buf, 0), false);
		fence = submit_access(mirror, job);
	}
	mutex_unlock(&mirror->lock);
	if (!fence)
		return false;
	*ret = hmm_dummy_engine_wait(fence);
	return true;
}

/*
 * Fault @addr in present and writable for the CPU, with nothing of the
 * device's held.  make_device_exclusive*() does the same fault first, but
 * the fault's side effects invalidate with no owner (replacing the zero
 * page, breaking COW, bringing a device page back, restoring an exclusive
 * entry an earlier try left behind), and inside exclusive_page()'s
 * sequence window each of those would fail the retry check, every time:
 * the conversion would never stick.  Done here, before the window opens,
 * they leave a PTE that the conversion only has to replace.
 */
static int exclusive_settle(struct mm_struct *mm, unsigned long addr)
{
	int ret;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	ret = fixup_user_fault(mm, addr, FAULT_FLAG_WRITE, NULL);
	mmap_read_unlock(mm);
	return ret;
}

/*
 * EXCLUSIVE takes system pages.  The core brings a device-private page
 * back by itself (make_device_exclusive*() faults it in), but it makes a
 * page in coherent memory exclusive where it is, and then no migration
 * could reach it until the CPU touched it again: migrate_vma_*() skips
 * device-exclusive entries, so MIGRATE_TO_SYS and eviction would leave it.
 * So when the conversion finds the page at @addr in coherent memory,
 * exclusive_page() ends the exclusivity at once (its settling fault) and
 * calls this to migrate the page back before it tries again.
 * @src: room for HMM_DUMMY_RANGE_TO_SYS_PFNS entries.
 *
 * Context: no lock held; takes mmap_lock for read.
 */
static int exclusive_leave_coherent(struct hmm_dummy_mirror *mirror,
				    unsigned long addr, unsigned long *src)
{
	unsigned int d;
	long ret = 0;

	if (mmap_read_lock_killable(mirror->mm))
		return -EINTR;
	for (d = 0; ret >= 0 && d < hmm_dummy_num_devices; d++) {
		struct hmm_dummy_device *hdev = hmm_dummy_devices[d];

		if (hdev && hmm_dummy_coherent(hdev))
			ret = hmm_dummy_range_to_sys(NULL, hdev, mirror->mm, addr,
						     addr + PAGE_SIZE, src,
						     HMM_DUMMY_CNT_TO_SYS_IOCTL,
						     NULL);
	}
	mmap_read_unlock(mirror->mm);
	return ret < 0 ? ret : 0;
}

/*
 * Make one page exclusive to the device and map it as atomic in the device
 * page table, copying its contents to @buf.  Called with no lock held.
 *
 * The notifier sequence is sampled before the conversion, with neither
 * mmap_lock nor the folio lock held, as for any other device mapping:
 * mmu_interval_read_begin() waits for invalidations in progress, and one of
 * them may be waiting for this very folio's lock (7.3's
 * migrate_vma_collect() locks a PTE-mapped large folio to split it inside
 * its invalidation) or for mmap_lock.  Sampled after the conversion, it
 * would also miss a zap: MADV_DONTNEED, munmap and exit take no folio
 * lock, so a zap that began before the sample could remove the
 * device-exclusive entry (and drop the page) after the conversion while
 * read_begin() returned its sequence as the current one; the device would
 * then keep an atomic mapping of a freed page.
 *
 * Our own conversion is not an invalidation (mirror_invalidate() skips
 * MMU_NOTIFY_EXCLUSIVE events we own); what the fault inside it would
 * invalidate is done before the window by exclusive_settle().  So a retry
 * only fails when something else really changed the page, and the loop
 * ends; a page under constant attack gives -EBUSY.
 *
 * Lock order: folio lock (from make_device_exclusive*()) -> mirror->lock,
 * the same order as an invalidation that runs under a folio lock
 * (try_to_migrate(), say) taking mirror->lock in mirror_invalidate().
 */
static int exclusive_page(struct hmm_dummy_mirror *mirror,
			  struct mmu_interval_notifier *mni, unsigned long addr,
			  void *buf, unsigned long *src)
{
	struct mirror_notifier *mn = container_of(mni, struct mirror_notifier,
						  mni);
	struct mm_struct *mm = mirror->mm;
	struct dma_fence *fence = NULL;
	struct hmm_dummy_job *job;
	struct page *page;
	bool coherent = false;
	unsigned long seq;
	void *entry;
	int tries, ret;

	/* The device's read of the page; allocated while nothing is held. */
	job = hmm_dummy_job_alloc(HMM_DUMMY_JOB_ACCESS, 1);
	if (!job)
		return -ENOMEM;
	if (exclusive_already(mirror, addr, buf, job, &ret))
		return ret;
	for (tries = 0; tries < 16; tries++) {
		ret = exclusive_settle(mm, addr);
		if (!ret && coherent)
			ret = exclusive_leave_coherent(mirror, addr, src);
		if (ret)
			break;
		lockdep_assert_not_held(&mm->mmap_lock);
		lockdep_assert_not_held(&mirror->lock);
		seq = mmu_interval_read_begin(mni);
		ret = -EINTR;
		if (mmap_read_lock_killable(mm))
			break;
		page = hmm_dummy_make_page_exclusive(mm, addr, mirror->hdev);
		mmap_read_unlock(mm);
		ret = PTR_ERR_OR_ZERO(page);
		if (ret)
			break;
		mutex_lock(&mirror->lock);
		ret = -EBUSY;
		/*
		 * A page in coherent memory is not kept: the next try's
		 * settling fault ends its exclusivity, and it moves back.
		 */
		coherent = is_zone_device_page(page);
		if (!coherent && !mmu_interval_read_retry(mni, seq)) {
			entry = pt_store(mirror, mn, addr, page, PT_ATOMIC);
			if (entry) {
				device_copy(job, entry, buf_page(buf, 0), false);
				fence = submit_access(mirror, job);
			} else {
				ret = pt_store_errno(mn);
			}
		}
		mutex_unlock(&mirror->lock);
		/* The page stays locked until the device has read it. */
		if (fence)
			ret = hmm_dummy_engine_wait(fence);
		unlock_page(page);
		put_page(page);
		if (fence)
			return ret;	/* the job went with its fence */
		if (ret != -EBUSY)
			break;		/* the DMA mapping failed */
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
	}
	/* Never leave a page in coherent memory device-exclusive. */
	if (coherent)
		exclusive_settle(mm, addr);
	hmm_dummy_job_free(job);
	return ret;
}

/*
 * Make one chunk (at most HMM_DUMMY_STACK_BATCH pages, within one VMA)
 * exclusive to the device.  Called with no lock held.
 */
static int exclusive_chunk(struct hmm_dummy_mirror *mirror,
			   struct mmu_interval_notifier *mni,
			   unsigned long start, unsigned long npages, void *buf,
			   unsigned long *src)
{
	unsigned long i;
	int ret;

	/*
	 * Every page ends up a system page the device maps for DMA: refuse
	 * before converting any, rather than once per page after it.
	 */
	if (container_of(mni, struct mirror_notifier, mni)->no_dma)
		return -EOPNOTSUPP;
	for (i = 0; i < npages; i++) {
		ret = exclusive_page(mirror, mni, start + (i << PAGE_SHIFT),
				     buf + i * PAGE_SIZE, src);
		if (ret)
			return ret;
	}
	return 0;
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
 * the only lasting effect is the split.
 *
 * Context: mmap_lock of @vma's mm held for read.
 *
 * Return: 0, or the error of migrate_vma_setup() (-EINVAL for a VMA the
 * core cannot migrate).
 */
static int hmm_dummy_split_thp(struct hmm_dummy_device *hdev,
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

	mmap_assert_locked(vma->vm_mm);
	if (!hmm_dummy_vma_migratable(vma))
		return -EINVAL;
	ret = migrate_vma_setup(&args);
	if (ret)
		return ret;
	migrate_vma_finalize(&args);
	return 0;
}

/**
 * hmm_dummy_mirror_exclusive() - take a range for device atomics
 * @mirror: the mirror
 * @cmd:    validated command; cmd->ptr (may be 0) gets the data, cpages the
 *          number of pages taken
 *
 * The CPU loses access to the pages until it touches them, which revokes
 * the device's exclusive mapping through the notifier.
 *
 * Return: 0, -EBUSY if some page could not be made exclusive, -EFAULT or
 * -EINVAL for a range that is not mapped writable anonymous memory.
 */
int hmm_dummy_mirror_exclusive(struct hmm_dummy_mirror *mirror,
			       struct hmm_dmirror_cmd *cmd)
{
	const unsigned long chunk = HMM_DUMMY_STACK_BATCH;
	void __user *uptr = u64_to_user_ptr(cmd->ptr);
	struct mm_struct *mm = mirror->mm;
	unsigned long addr, end, n, *src;
	void *buf;
	int ret = 0;

	buf = vmalloc(chunk << PAGE_SHIFT);	/* see walk_begin() */
	src = kmalloc_array(HMM_DUMMY_RANGE_TO_SYS_PFNS, sizeof(*src),
			    GFP_KERNEL);
	if (!buf || !src) {
		ret = -ENOMEM;
		goto out_free;
	}
	if (!mmget_not_zero(mm)) {
		ret = -ESRCH;
		goto out_free;
	}
	end = cmd->addr + (cmd->npages << PAGE_SHIFT);
	for (addr = cmd->addr; addr < end; addr += n << PAGE_SHIFT) {
		struct mmu_interval_notifier *mni;
		struct vm_area_struct *vma;

		/* Chunks are aligned, so a chunk never crosses a region. */
		mni = mirror_notifier(mirror, addr);
		if (IS_ERR(mni)) {
			ret = PTR_ERR(mni);
			break;
		}
		if (mmap_read_lock_killable(mm)) {
			ret = -EINTR;
			break;
		}
		vma = vma_lookup(mm, addr);
		if (!vma) {
			mmap_read_unlock(mm);
			ret = -EFAULT;
			break;
		}
		n = (min3(end, vma->vm_end, ALIGN(addr + 1, chunk << PAGE_SHIFT))
		     - addr) >> PAGE_SHIFT;
		/*
		 * make_device_exclusive_range() (before 6.15) cannot take a
		 * page of a large folio and only splits the PMD mapping, not
		 * the folio: split PMD-mapped THPs first.  A large folio that
		 * is already PTE-mapped cannot be split this way and fails
		 * with -EBUSY.
		 */
		if (!hmm_dummy_exclusive_takes_large())
			hmm_dummy_split_thp(mirror->hdev, vma, addr,
					    addr + (n << PAGE_SHIFT));
		mmap_read_unlock(mm);
		ret = exclusive_chunk(mirror, mni, addr, n, buf, src);
		if (ret)
			break;
		if (uptr) {
			if (copy_to_user(uptr, buf, n << PAGE_SHIFT)) {
				ret = -EFAULT;
				break;
			}
			uptr += n << PAGE_SHIFT;
		}
		cmd->cpages += n;
	}
	mmput(mm);
out_free:
	kfree(src);
	vfree(buf);
	return ret;
}

/**
 * hmm_dummy_mirror_check_exclusive() - is some page still device-exclusive?
 * @mirror: the mirror
 * @cmd:    validated command
 *
 * Return: -EPERM while some page of the range is still mapped for device
 * atomics, 0 once the CPU has taken all of them back.
 */
int hmm_dummy_mirror_check_exclusive(struct hmm_dummy_mirror *mirror,
				     struct hmm_dmirror_cmd *cmd)
{
	unsigned long first = cmd->addr >> PAGE_SHIFT;
	XA_STATE(xas, &mirror->pt, first);
	int ret = 0;
	void *entry;

	mutex_lock(&mirror->lock);
	rcu_read_lock();
	xas_for_each(&xas, entry, first + cmd->npages - 1) {
		if (xas_retry(&xas, entry))
			continue;
		if (pt_rights(entry) == PT_ATOMIC) {
			ret = -EPERM;
			break;
		}
	}
	rcu_read_unlock();
	mutex_unlock(&mirror->lock);
	return ret;
}
