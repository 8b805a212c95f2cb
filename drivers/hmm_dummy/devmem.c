// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_dummy device memory: a fixed-size ZONE_DEVICE region per device,
 * device-private (the default) or device-coherent (over special-purpose
 * memory given by spm_addr_dev0/1), and the allocator that hands its pages
 * out.  Both kinds share the allocator and the life below; a coherent page
 * is mapped into the process as a present PTE rather than a device-private
 * swap entry, so the CPU reads and writes it without a fault, and it holds
 * its data itself where a device-private page has a backing page.
 *
 * The life of a device page:
 *   free (in its run, refcount 0)
 *     -> hmm_dummy_alloc_pages(): moved to the LRU, zone_device_page_init()
 *        gives it refcount 1 and the page lock; the migration copies data
 *        into its backing and maps it into the process
 *     -> in use: mapped by one or more processes (fork shares it), found by
 *        CPU faults (migrate_to_ram), evictions and the device mirror
 *     -> the last reference goes away (unmap, exit, migration back)
 *     -> the core calls hmm_dummy_folio_free() (dev_pagemap_ops.folio_free,
 *        page_free before 6.19): back into its run.
 *
 * The life of a large device folio (device-private THP, kernels with
 * MIGRATE_VMA_SELECT_COMPOUND):
 *   a wholly free, naturally aligned run of HMM_DUMMY_RUN_PAGES pages
 *     -> hmm_dummy_alloc_large(): the run leaves free_runs, every page is
 *        in use, the first one on the LRU; zone_device_folio_init() makes
 *        it one locked PMD-sized folio, which a migration fills and maps
 *        with one PMD entry
 *     -> in use as one folio, until a partial munmap/mprotect/mremap or a
 *        partial migration makes the core split it:
 *        hmm_dummy_folio_split() puts each piece's first page on the LRU
 *     -> hmm_dummy_folio_free() for the whole folio, or once per piece,
 *        each giving back exactly the pages of its folio; the run becomes
 *        wholly free again when its last page is back.
 * Nothing else frees a device page: the free callback is the only way back
 * into the allocator.
 */
#include <linux/highmem.h>
#include <linux/ioport.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "compat.h"
#include "hmm_dummy.h"

static inline struct hmm_dummy_dpage *
page_to_dpage(struct hmm_dummy_device *hdev, struct page *page)
{
	return &hdev->dpages[page_to_pfn(page) - hdev->pfn_first];
}

static inline struct page *dpage_to_page(struct hmm_dummy_device *hdev,
					 struct hmm_dummy_dpage *dp)
{
	return pfn_to_page(hdev->pfn_first + (dp - hdev->dpages));
}

/**
 * hmm_dummy_page_device() - the hmm_dummy device owning a device page
 * @page: a device-private page of some hmm_dummy device
 *
 * Return: the device whose dev_pagemap @page belongs to.
 */
struct hmm_dummy_device *hmm_dummy_page_device(struct page *page)
{
	return container_of(hmm_dummy_pgmap(page), struct hmm_dummy_device,
			    pgmap);
}

/*
 * The pgmap owner every device shares with peer_group: any unique
 * address does, the core only compares it.
 */
static char hmm_dummy_group;

/**
 * hmm_dummy_is_own_page() - is @page one of @hdev's device pages?
 * @hdev: the device
 * @page: any page
 *
 * Compares the page's dev_pagemap, not its owner, which with peer_group
 * all devices share.
 *
 * Return: true if @page is in @hdev's device memory (private or coherent).
 */
bool hmm_dummy_is_own_page(struct hmm_dummy_device *hdev, struct page *page)
{
	return is_zone_device_page(page) &&
	       hmm_dummy_pgmap(page) == &hdev->pgmap;
}

/**
 * hmm_dummy_is_device_page() - is @page device memory of an hmm_dummy device?
 * @page: any page, or NULL
 *
 * Private or coherent, this device's or a peer's: what a copy job reaches
 * through the backing (hmm_dummy_page_backing()) and holds.
 *
 * Return: true for a device page of any hmm_dummy device.
 */
bool hmm_dummy_is_device_page(struct page *page)
{
	return page && is_zone_device_page(page) &&
	       hmm_dummy_pgmap(page)->ops == &hmm_dummy_pagemap_ops;
}

/**
 * hmm_dummy_page_backing() - the system page holding a device page's data
 * @page: an in-use or held device page of an hmm_dummy device
 *
 * A coherent page is its own backing.  The backing page lives as long as
 * the device; what it holds belongs to @page only while @page is in use or
 * held (hmm_dummy_page_hold()).
 *
 * Context: any context.  Takes no lock.
 *
 * Return: the backing page.
 */
struct page *hmm_dummy_page_backing(struct page *page)
{
	struct hmm_dummy_device *hdev = hmm_dummy_page_device(page);

	return page_to_dpage(hdev, page)->backing;
}

/* The run a device page belongs to. */
static inline struct hmm_dummy_run *dpage_run(struct hmm_dummy_device *hdev,
					      struct hmm_dummy_dpage *dp)
{
	unsigned long pfn = hdev->pfn_first + (dp - hdev->dpages);

	return &hdev->runs[(pfn >> HMM_DUMMY_LARGE_ORDER) -
			   (hdev->pfn_first >> HMM_DUMMY_LARGE_ORDER)];
}

static inline bool run_complete(struct hmm_dummy_run *run)
{
	return run->nr == HMM_DUMMY_RUN_PAGES;
}

/**
 * take_page() - take one free page for a small allocation
 * @hdev: the device
 *
 * Runs that are already broken come first: hdev->partial_runs holds exactly
 * the runs that have free pages but are not wholly free, so its first entry
 * is a page that costs no whole run.  Only when it is empty is a wholly
 * free run broken (taken off free_runs and put on partial_runs).  Within a
 * run the pages given back are reused first, then the untouched pages from
 * the run's @fresh upwards, so a run broken from whole hands out ascending
 * pfns.  O(1).
 *
 * Context: hdev->lock held; does not sleep.
 *
 * Return: the page's record, not yet marked in use, or NULL if none is free.
 */
static struct hmm_dummy_dpage *take_page(struct hmm_dummy_device *hdev)
{
	struct hmm_dummy_dpage *dp;
	struct hmm_dummy_run *run;

	lockdep_assert_held(&hdev->lock);
	if (!list_empty(&hdev->partial_runs)) {
		run = list_first_entry(&hdev->partial_runs,
				       struct hmm_dummy_run, link);
	} else if (!list_empty(&hdev->free_runs)) {
		/* The last run: leave the first ones whole for large folios. */
		run = list_last_entry(&hdev->free_runs, struct hmm_dummy_run,
				      link);
		list_move(&run->link, &hdev->partial_runs);
	} else {
		return NULL;
	}
	if (!list_empty(&run->free)) {
		dp = list_first_entry(&run->free, struct hmm_dummy_dpage, link);
		list_del(&dp->link);
	} else {
		dp = &hdev->dpages[run->first + run->fresh++];
	}
	if (!--run->nr_free)
		list_del_init(&run->link);
	hdev->nr_free--;
	return dp;
}

/**
 * give_page() - give a free page back to its run
 * @hdev: the device
 * @dp:   the page; the caller has cleared its @in_use and taken it off the
 *        LRU
 *
 * The inverse of take_page().  A run whose last page comes back is reset to
 * wholly free in O(1) (empty list, @fresh = 0: the links of its pages are
 * stale from then on) and, if it is a complete run, becomes available for
 * large folios again.
 *
 * Context: hdev->lock held; does not sleep.
 */
static void give_page(struct hmm_dummy_device *hdev, struct hmm_dummy_dpage *dp)
{
	struct hmm_dummy_run *run = dpage_run(hdev, dp);

	lockdep_assert_held(&hdev->lock);
	hdev->nr_free++;
	if (++run->nr_free == run->nr) {
		run->fresh = 0;
		INIT_LIST_HEAD(&run->free);
		list_move(&run->link, run_complete(run) ? &hdev->free_runs :
							  &hdev->partial_runs);
		return;
	}
	list_add(&dp->link, &run->free);
	/* It was full and on no list: it has a free page again. */
	if (run->nr_free == 1)
		list_move_tail(&run->link, &hdev->partial_runs);
}

/**
 * mark_in_use() - mark the pages of a new device folio in use
 * @hdev:  the device
 * @dp:    the folio's first page, which goes on the LRU
 * @order: the folio's order
 *
 * Context: hdev->lock held; does not sleep.
 */
static void mark_in_use(struct hmm_dummy_device *hdev,
			struct hmm_dummy_dpage *dp, unsigned int order)
{
	unsigned long i, in_use;

	lockdep_assert_held(&hdev->lock);
	for (i = 0; i < (1UL << order); i++) {
		WARN_ON_ONCE(dp[i].in_use);
		dp[i].in_use = true;
		refcount_set(&dp[i].users, 1);
		INIT_LIST_HEAD(&dp[i].link);
	}
	dp->order = order;
	list_add_tail(&dp->link, &hdev->lru);
	in_use = hdev->npages - hdev->nr_free;
	if (in_use > hdev->peak_in_use)
		hdev->peak_in_use = in_use;
}

/**
 * owner_find() - the record of an address space among a device's owners
 * @hdev: the device
 * @mm:   the address space
 *
 * Context: hdev->lock held; does not sleep.
 *
 * Return: @mm's record, or NULL.
 */
static struct hmm_dummy_owner *owner_find(struct hmm_dummy_device *hdev,
					  struct mm_struct *mm)
{
	struct hmm_dummy_owner *o;

	lockdep_assert_held(&hdev->lock);
	hash_for_each_possible(hdev->owners, o, node, (unsigned long)mm)
		if (o->mm == mm)
			return o;
	return NULL;
}

/**
 * owner_add_folio() - record the owner of a device folio
 * @hdev: the device
 * @dp:   the first page of the folio, which records @mm as its owner
 * @mm:   the owner; its record (which must exist) counts one folio more
 *
 * Context: hdev->lock held; does not sleep.
 */
static void owner_add_folio(struct hmm_dummy_device *hdev,
			    struct hmm_dummy_dpage *dp, struct mm_struct *mm)
{
	struct hmm_dummy_owner *o;

	lockdep_assert_held(&hdev->lock);
	o = owner_find(hdev, mm);
	if (WARN_ON_ONCE(!o))
		return;
	o->folios++;
	dp->owner = mm;
}

/**
 * owner_del_folio() - a device folio leaves its owner, if it has one
 * @hdev: the device
 * @dp:   the first page of the folio
 *
 * A record no folio counts any more moves to hdev->dead_owners.  Never
 * drops an mm reference itself: see struct hmm_dummy_owner.
 *
 * Context: hdev->lock held; does not sleep.
 *
 * Return: true when the caller must schedule hdev->owner_work (after
 * unlocking).
 */
static bool owner_del_folio(struct hmm_dummy_device *hdev,
			    struct hmm_dummy_dpage *dp)
{
	struct hmm_dummy_owner *o;

	lockdep_assert_held(&hdev->lock);
	if (!dp->owner)
		return false;
	o = owner_find(hdev, dp->owner);
	dp->owner = NULL;
	if (WARN_ON_ONCE(!o) || --o->folios)
		return false;
	hash_del(&o->node);
	hlist_add_head(&o->node, &hdev->dead_owners);
	return true;
}

/**
 * hmm_dummy_owner_reap() - drop the records no device folio uses any more
 * @work: hdev->owner_work
 *
 * Context: process context (a work item), no lock held: mmdrop() may free
 * the mm_struct and its page directory here.
 */
static void hmm_dummy_owner_reap(struct work_struct *work)
{
	struct hmm_dummy_device *hdev =
		container_of(work, struct hmm_dummy_device, owner_work);
	struct hmm_dummy_owner *o;
	struct hlist_node *tmp;
	HLIST_HEAD(dead);

	spin_lock(&hdev->lock);
	hlist_move_list(&hdev->dead_owners, &dead);
	spin_unlock(&hdev->lock);
	hlist_for_each_entry_safe(o, tmp, &dead, node) {
		mmdrop(o->mm);
		kfree(o);
	}
}

/**
 * release_folio_pages() - give the pages of a device folio back
 * @hdev:  the device
 * @dp:    the folio's first page
 * @order: the folio's order
 *
 * Off the LRU, out of its owner's record, not in use, and each page that
 * no copy job holds back into its run; one that a job still holds goes
 * back when the job lets go of it (hmm_dummy_page_unhold()).
 *
 * Context: hdev->lock held; does not sleep.
 *
 * Return: true when hdev->owner_work must be scheduled (after unlocking).
 */
static bool release_folio_pages(struct hmm_dummy_device *hdev,
				struct hmm_dummy_dpage *dp, unsigned int order)
{
	unsigned long i;
	bool reap;

	lockdep_assert_held(&hdev->lock);
	reap = owner_del_folio(hdev, dp);
	list_del_init(&dp->link);
	for (i = 0; i < (1UL << order); i++) {
		WARN_ON_ONCE(!dp[i].in_use);
		dp[i].in_use = false;
		/* The folio's reference; a job's may still be there. */
		if (refcount_dec_and_test(&dp[i].users))
			give_page(hdev, &dp[i]);
	}
	return reap;
}

/**
 * hmm_dummy_page_hold() - keep a device page from the allocator for a job
 * @page: an in-use device page of an hmm_dummy device, kept in use by the
 *        caller (its lock, a reference, or a mirror->lock under which it
 *        is mapped) for the duration of the call
 *
 * From here until hmm_dummy_page_unhold(), @page is not given back to its
 * run even if its folio is freed meanwhile: hmm_dummy_folio_free() then
 * leaves it to the unhold.  That is what a copy job needs, since it reads
 * or writes the page's backing after the caller may have let the page go.
 * This is the device-side lifetime rule every driver with an asynchronous
 * engine needs (drm_pagemap's zdd references, TTM's fenced frees): device
 * memory is reused only after the last job that touches it is done.
 *
 * Context: any context.  Takes no lock.
 */
void hmm_dummy_page_hold(struct page *page)
{
	struct hmm_dummy_device *hdev = hmm_dummy_page_device(page);

	/* From 0 it would be a page already free: refcount_inc() WARNs. */
	refcount_inc(&page_to_dpage(hdev, page)->users);
}

/**
 * hmm_dummy_page_unhold() - a job is done with a device page
 * @page: a page from hmm_dummy_page_hold()
 *
 * The last user of a page whose folio was already freed gives it back to
 * its run.
 *
 * Context: any context that may take a spinlock (the engine calls it in
 * its fence signalling section).  Takes hdev->lock when it may be the
 * page's last user.
 */
void hmm_dummy_page_unhold(struct page *page)
{
	struct hmm_dummy_device *hdev = hmm_dummy_page_device(page);
	struct hmm_dummy_dpage *dp = page_to_dpage(hdev, page);
	bool last;

	if (refcount_dec_not_one(&dp->users))
		return;
	/* Decided under hdev->lock, as folio_free decides its drop. */
	hmm_dummy_lock(hdev);
	last = refcount_dec_and_test(&dp->users);
	if (last) {
		WARN_ON_ONCE(dp->in_use);
		give_page(hdev, dp);
	}
	hmm_dummy_unlock(hdev);
	if (last)
		hmm_dummy_count(hdev, HMM_DUMMY_CNT_PAGE_FREES_HELD, 1);
}

/**
 * hmm_dummy_folio_free() - dev_pagemap_ops free callback
 * @folio: a device folio whose last reference just went away
 *
 * The only way a device page gets back into the allocator.  @folio is
 * whatever the device folio is by now: a large folio allocated whole, or a
 * piece of one that the core split (hmm_dummy_folio_split() kept @order and
 * the LRU in step), so each page comes back exactly once.
 *
 * The folio's record is its zone_device_data.  A page of it that a copy
 * job still holds (hmm_dummy_page_hold()) stays out of the allocator until
 * the job is done, so the free never waits for the job, and the job never
 * writes into memory handed out again.
 *
 * Context: any context a folio's last reference can go in, often under a
 * page table lock (a zap): only the leaf hdev->lock is taken, and the
 * owner's mm_struct, which ours may be the last reference to, is dropped
 * later by hmm_dummy_owner_reap().
 */
void hmm_dummy_folio_free(struct folio *folio)
{
	struct page *page = &folio->page;
	struct hmm_dummy_device *hdev = hmm_dummy_page_device(page);
	struct hmm_dummy_dpage *dp = page->zone_device_data;
	unsigned int order = folio_order(folio);
	bool reap;

	/*
	 * The record is always the first page's: a stale zone_device_data
	 * (a split that did not set it) would give back the wrong pages.
	 */
	if (WARN_ON_ONCE(dp != page_to_dpage(hdev, page)))
		dp = page_to_dpage(hdev, page);
	/*
	 * Refcount is zero: nobody can reach these pages any more, so their
	 * state is ours alone until they are handed out again.
	 */
	hmm_dummy_lock(hdev);
	WARN_ON_ONCE(dp->order != order);
	reap = release_folio_pages(hdev, dp, order);
	hmm_dummy_unlock(hdev);
	if (reap)
		schedule_work(&hdev->owner_work);
	hmm_dummy_count(hdev, HMM_DUMMY_CNT_PAGE_FREES, 1L << order);
}

/**
 * hmm_dummy_folio_split() - dev_pagemap_ops.folio_split callback
 * @head: the device folio being split; after the split, its first piece
 * @tail: a new folio split off @head, or NULL once all are done
 *
 * Called by the core (__folio_freeze_and_split_unmapped()) with every
 * piece locked, possibly under its spinlocks: so only hdev->lock (a leaf)
 * is taken here.  Each @tail is frozen (refcount 0) during its own call and
 * unfrozen right after it, @head stays frozen until after the last call
 * (@tail NULL).  So nobody can reach a piece before its bookkeeping below
 * is done, which makes it atomic as far as folio_free and the evictor are
 * concerned; and a tail the evictor reaches early (folio_try_get() for its
 * index) already has its own order and owner.
 *
 * With this callback the core leaves copying pgmap, mapping and
 * zone_device_data to the driver.  The per-page state needs nothing else:
 * every page keeps its own backing page, stays in use and keeps its
 * @users; what changes is which pages are the first page of a folio, the
 * folio's record.  Each new piece's first page becomes its record
 * (zone_device_data), gets the piece's order and joins the LRU next to
 * @head (same age), so that eviction finds it and its own folio_free later
 * gives back exactly its pages; it also gets @head's owner (counted in the
 * owner's record) and its own address.
 *
 * Context: the pieces locked and frozen, possibly under the core's
 * spinlocks: must not sleep.  Takes hdev->lock.
 */
void hmm_dummy_folio_split(struct folio *head, struct folio *tail)
{
	struct hmm_dummy_device *hdev = hmm_dummy_page_device(&head->page);
	struct hmm_dummy_dpage *hdp = page_to_dpage(hdev, &head->page);
	struct hmm_dummy_dpage *tdp;

	if (!tail) {
		hmm_dummy_lock(hdev);
		hdp->order = folio_order(head);
		hmm_dummy_unlock(hdev);
		hmm_dummy_count(hdev, HMM_DUMMY_CNT_LARGE_SPLITS, 1);
		return;
	}
	hmm_dummy_split_copy_pgmap(head, tail);
	tdp = page_to_dpage(hdev, &tail->page);
	tail->page.zone_device_data = tdp;
	hmm_dummy_lock(hdev);
	WARN_ON_ONCE(!tdp->in_use || !list_empty(&tdp->link));
	tdp->order = folio_order(tail);
	list_add(&tdp->link, &hdp->link);
	WARN_ON_ONCE(tdp->owner);
	if (hdp->owner) {
		owner_add_folio(hdev, tdp, hdp->owner);
		tdp->addr = hdp->addr + ((tdp - hdp) << PAGE_SHIFT);
	}
	hmm_dummy_unlock(hdev);
}

/**
 * hmm_dummy_set_owner() - record where new device folios are being mapped
 * @hdev:  the device the folios belong to
 * @mm:    the address space a migration is moving them into
 * @start: user address of entry 0 of @dst
 * @dst:   a migrate_vma destination array; each set entry is the first (or
 *         only) page of one of @hdev's new device folios
 * @n:     entries in @dst
 *
 * Called between allocation and migrate_vma_pages(), with the folios
 * locked and not yet mapped.  Each folio is counted in @mm's record (made
 * here on the first folio, with an mmgrab() reference on @mm) until its
 * folio_free (a destination the core refuses is freed by
 * migrate_vma_finalize(), so that covers it too).  That reference is what
 * lets eviction reach the folio through its process, safely, long after
 * the migration (evict.c).  If no record can be allocated the folios get
 * no owner: they work, but only the unload can evict them.
 *
 * Context: process context, may sleep (allocates).
 */
void hmm_dummy_set_owner(struct hmm_dummy_device *hdev, struct mm_struct *mm,
			 unsigned long start, const unsigned long *dst,
			 unsigned long n)
{
	struct hmm_dummy_owner *new;
	unsigned long i;

	/* A record is only made for a folio to count: none, no record. */
	for (i = 0; i < n && !dst[i]; i++)
		;
	if (i == n)
		return;
	new = kzalloc_obj(*new, GFP_KERNEL);
	hmm_dummy_lock(hdev);
	if (!owner_find(hdev, mm)) {
		if (!new) {
			hmm_dummy_unlock(hdev);
			return;
		}
		mmgrab(mm);
		new->mm = mm;
		new->folios = 0;
		hash_add(hdev->owners, &new->node, (unsigned long)mm);
		new = NULL;
	}
	for (i = 0; i < n; i++) {
		struct hmm_dummy_dpage *dp;

		if (!dst[i])
			continue;
		dp = page_to_dpage(hdev, migrate_pfn_to_page(dst[i]));
		WARN_ON_ONCE(!dp->in_use || dp->owner);
		owner_add_folio(hdev, dp, mm);
		dp->addr = start + (i << PAGE_SHIFT);
	}
	hmm_dummy_unlock(hdev);
	kfree(new);
}

const struct dev_pagemap_ops hmm_dummy_pagemap_ops = {
	HMM_DUMMY_PAGEMAP_FREE_OP,
	HMM_DUMMY_PAGEMAP_SPLIT_OP
	.migrate_to_ram	= hmm_dummy_migrate_to_ram,
};

/**
 * take_free() - take free single pages, without evicting
 * @hdev: the device
 * @dps:  filled with the pages' records, marked in use and on the LRU
 * @n:    pages wanted
 *
 * Context: takes hdev->lock; does not sleep.
 *
 * Return: how many were taken.
 */
static unsigned long take_free(struct hmm_dummy_device *hdev,
			       struct hmm_dummy_dpage **dps, unsigned long n)
{
	unsigned long i;

	hmm_dummy_lock(hdev);
	for (i = 0; i < n; i++) {
		dps[i] = take_page(hdev);
		if (!dps[i])
			break;
		mark_in_use(hdev, dps[i], 0);
	}
	hmm_dummy_unlock(hdev);
	return i;
}

/**
 * untake() - give back a folio's pages that were taken but never used
 * @hdev:  the device
 * @dp:    the first page, from take_free() or hmm_dummy_alloc_large(), not
 *         yet initialised as a device folio and with no owner
 * @order: its order
 *
 * Context: takes hdev->lock; does not sleep.
 */
static void untake(struct hmm_dummy_device *hdev, struct hmm_dummy_dpage *dp,
		   unsigned int order)
{
	hmm_dummy_lock(hdev);
	/* Never mapped, so no owner yet. */
	WARN_ON_ONCE(release_folio_pages(hdev, dp, order));
	hmm_dummy_unlock(hdev);
}

/**
 * get_backing() - backing pages for device pages that have none yet
 * @hdev: the device
 * @dp:   the first device page
 * @n:    device pages from @dp on
 *
 * Context: process context, may sleep (GFP_KERNEL_ACCOUNT); no spinlock
 * held.
 *
 * Return: false if out of memory.
 */
static bool get_backing(struct hmm_dummy_device *hdev,
			struct hmm_dummy_dpage *dp, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++) {
		if (likely(dp[i].backing))
			continue;
		/*
		 * Charged to the memory cgroup of the process whose migration
		 * needs it; kept (and charged) until the device goes away,
		 * like a cache.
		 */
		dp[i].backing = alloc_page(GFP_KERNEL_ACCOUNT);
		if (!dp[i].backing)
			return false;
		hmm_dummy_count(hdev, HMM_DUMMY_CNT_BACKING_PAGES, 1);
	}
	return true;
}

/**
 * hmm_dummy_alloc_pages() - allocate single device pages, evicting if needed
 * @hdev:  the device
 * @pages: filled with the allocated pages
 * @n:     number of pages wanted
 * @locked_mm: the address space whose mmap_lock the caller holds for read
 *         (its pages can be evicted under that lock), or NULL
 * @busy:  set when eviction left folios behind because their process's
 *         mmap_lock was busy (see hmm_dummy_evict_wait()); never cleared
 *
 * Each returned page is an order-0 device folio with refcount 1, locked
 * (zone_device_page_init) and on the LRU; its backing holds stale data that
 * the caller overwrites.  When no page is free the least recently used
 * device folios are evicted to system memory and the allocation retried.
 * A pending FAIL_ALLOC of the migration (hmm_dummy_should_fail_alloc())
 * fails one page, as if device memory had run out after @n - 1: the count
 * returned is one short.
 *
 * Context: process context, may sleep.  The caller may hold @locked_mm's
 * mmap_lock for read and the page locks of its migration sources, and
 * must not hold evict_lock or hdev->lock.  Takes hdev->lock and
 * evict_lock, and evicts (hmm_dummy_evict()).
 *
 * Return: the number of pages allocated, which is less than @n only when
 * nothing more could be evicted without waiting for another process (or
 * backing memory could not be allocated).
 */
unsigned long hmm_dummy_alloc_pages(struct hmm_dummy_device *hdev,
				    struct page **pages, unsigned long n,
				    struct mm_struct *locked_mm, bool *busy)
{
	struct hmm_dummy_dpage *dps[HMM_DUMMY_EVICT_BATCH];
	unsigned long got = 0, i, nr;
	bool oom = false;
	int stalls = 0;

	if (locked_mm)
		mmap_assert_locked(locked_mm);
	lockdep_assert_not_held(&hdev->evict_lock);
	if (n && hmm_dummy_should_fail_alloc(HMM_DUMMY_ALLOC_DEVICE)) {
		hmm_dummy_count(hdev, HMM_DUMMY_CNT_ALLOC_FAILURES, 1);
		n--;
	}
	while (got < n && !oom) {
		nr = take_free(hdev, dps, min_t(unsigned long, n - got,
						ARRAY_SIZE(dps)));
		if (!nr) {
			/*
			 * Pages freed by an eviction may be taken by another
			 * allocator first: retry a bounded number of times,
			 * and stop at once when nothing could be evicted.
			 */
			if (++stalls > 16 ||
			    !hmm_dummy_evict(hdev, n - got, locked_mm, busy))
				break;
			continue;
		}
		for (i = 0; i < nr; i++) {
			if (!get_backing(hdev, dps[i], 1)) {
				oom = true;
				while (nr > i)
					untake(hdev, dps[--nr], 0);
				break;
			}
		}
		/*
		 * zone_device_page_init() raises the refcount to 1 before it
		 * takes the page lock.  An eviction by pfn (the unload path's
		 * last resort) that found the page in that window would take
		 * a reference and the lock of a page that is not mapped yet;
		 * it holds evict_lock, so initialise under it and it only
		 * ever sees free pages (refcount 0, skipped) or locked ones
		 * (trylock fails).  Eviction through owners cannot meet these
		 * pages at all: they are in no page table yet.
		 */
		mutex_lock(&hdev->evict_lock);
		for (i = 0; i < nr; i++) {
			pages[got] = dpage_to_page(hdev, dps[i]);
			hmm_dummy_device_page_init(pages[got], &hdev->pgmap);
			pages[got]->zone_device_data = dps[i];
			got++;
		}
		mutex_unlock(&hdev->evict_lock);
	}
	hmm_dummy_count(hdev, HMM_DUMMY_CNT_ALLOCATIONS, got);
	if (got < n)
		hmm_dummy_count(hdev, HMM_DUMMY_CNT_ALLOC_FAILURES, n - got);
	return got;
}

/**
 * hmm_dummy_alloc_large() - allocate one PMD-sized device folio
 * @hdev: the device
 *
 * Takes a wholly free, complete run off hdev->free_runs (O(1)).  Nothing is
 * evicted for it: LRU eviction frees device folios in age order, which
 * rarely empties a whole run, so a caller that gets NULL falls back to
 * single pages (hmm_dummy_alloc_pages(), which does evict).
 *
 * A pending FAIL_ALLOC of the migration (hmm_dummy_should_fail_alloc())
 * fails it.  Every failure is counted as a fallback (large_fallbacks).
 *
 * Context: process context, may sleep (backing pages).  Takes hdev->lock
 * and evict_lock, so neither may be held.
 *
 * Return: the head page of a locked large device folio with refcount 1,
 * on the LRU, whose pages' backings hold stale data; or NULL (no free run,
 * no backing memory, an injected failure, a coherent device, or no device
 * THP in this kernel).
 */
struct page *hmm_dummy_alloc_large(struct hmm_dummy_device *hdev)
{
	struct hmm_dummy_dpage *dp = NULL;
	struct hmm_dummy_run *run;
	struct page *page;

	if (!hmm_dummy_device_thp())
		return NULL;
	/*
	 * A coherent device has no large folios: the core collects a
	 * PMD-mapped coherent folio only with SELECT_SYSTEM, and a long-term
	 * pin migrates a coherent folio out with
	 * migrate_device_coherent_folio(), which handles order 0 only (it
	 * WARNs on a large one).  A THP source is split and moves page by
	 * page, as after any failed large allocation; an injected failure is
	 * spent here first on both kinds of device, so FAIL_ALLOC means the
	 * same for both.
	 */
	if (hmm_dummy_should_fail_alloc(HMM_DUMMY_ALLOC_DEVICE) ||
	    hmm_dummy_coherent(hdev))
		goto fallback;
	hmm_dummy_lock(hdev);
	run = list_first_entry_or_null(&hdev->free_runs, struct hmm_dummy_run,
				       link);
	if (run) {
		list_del_init(&run->link);
		run->nr_free = 0;
		hdev->nr_free -= run->nr;
		dp = &hdev->dpages[run->first];
		mark_in_use(hdev, dp, HMM_DUMMY_LARGE_ORDER);
	}
	hmm_dummy_unlock(hdev);
	if (!dp)
		goto fallback;
	if (!get_backing(hdev, dp, HMM_DUMMY_RUN_PAGES)) {
		untake(hdev, dp, HMM_DUMMY_LARGE_ORDER);
		goto fallback;
	}
	page = dpage_to_page(hdev, dp);
	/* See hmm_dummy_alloc_pages() for why under evict_lock. */
	mutex_lock(&hdev->evict_lock);
	hmm_dummy_device_folio_init(page, &hdev->pgmap, HMM_DUMMY_LARGE_ORDER);
	page->zone_device_data = dp;
	mutex_unlock(&hdev->evict_lock);
	hmm_dummy_count(hdev, HMM_DUMMY_CNT_ALLOCATIONS, HMM_DUMMY_RUN_PAGES);
	hmm_dummy_count(hdev, HMM_DUMMY_CNT_LARGE_ALLOCATED, 1);
	return page;

fallback:
	hmm_dummy_count(hdev, HMM_DUMMY_CNT_LARGE_FALLBACKS, 1);
	return NULL;
}

/**
 * hmm_dummy_lru_touch() - mark a device page as just used by the device
 * @hdev: the device owning @page
 * @page: an in-use device page (the caller keeps it mapped, which also
 *        keeps its folio from being split under us: a split unmaps first)
 *
 * The LRU holds folios, by their first page.
 *
 * Context: any context that may take a spinlock (called under
 * mirror->lock).  Takes hdev->lock.
 */
void hmm_dummy_lru_touch(struct hmm_dummy_device *hdev, struct page *page)
{
	struct hmm_dummy_dpage *dp =
		page_to_dpage(hdev, folio_page(page_folio(page), 0));

	hmm_dummy_lock(hdev);
	if (dp->in_use && !list_empty(&dp->link))
		list_move_tail(&dp->link, &hdev->lru);
	hmm_dummy_unlock(hdev);
}

/**
 * hmm_dummy_in_use() - how many device pages are in use
 * @hdev: the device
 *
 * Context: any context that may take a spinlock.  Takes hdev->lock.
 *
 * Return: the pages of @hdev in use at the time of the call.
 */
unsigned long hmm_dummy_in_use(struct hmm_dummy_device *hdev)
{
	unsigned long in_use;

	hmm_dummy_lock(hdev);
	in_use = hdev->npages - hdev->nr_free;
	hmm_dummy_unlock(hdev);
	return in_use;
}

/* Where each counter goes in struct hmm_dummy_stats. */
#define HMM_DUMMY_COUNTER(name, field)					\
	[HMM_DUMMY_CNT_##name] = offsetof(struct hmm_dummy_stats, field),
static const size_t counter_offset[HMM_DUMMY_NR_COUNTERS] = {
#include "counters.h"
};

#undef HMM_DUMMY_COUNTER

/**
 * hmm_dummy_fill_stats() - a snapshot of a device's counters
 * @hdev: the device
 * @st:   filled from @version on (the caller sets @size)
 *
 * What HMM_DUMMY_STATS returns and the sysfs files show.
 *
 * Context: any context that may take a spinlock.
 */
void hmm_dummy_fill_stats(struct hmm_dummy_device *hdev,
			  struct hmm_dummy_stats *st)
{
	unsigned int i;

	st->version = HMM_DUMMY_STATS_VERSION;
	/* Not hmm_dummy_lock(): reading the counters must not change them. */
	spin_lock(&hdev->lock);
	st->capacity = hdev->npages;
	st->free = hdev->nr_free;
	st->in_use = hdev->npages - hdev->nr_free;
	st->peak_in_use = hdev->peak_in_use;
	st->alloc_lock_acquired = hdev->lock_acquired;
	st->alloc_lock_contended = hdev->lock_contended;
	st->alloc_lock_wait_ns = hdev->lock_wait_ns;
	spin_unlock(&hdev->lock);
	st->engine_in_flight = hmm_dummy_engine_in_flight(hdev);
	for (i = 0; i < HMM_DUMMY_NR_COUNTERS; i++)
		*(__u64 *)((char *)st + counter_offset[i]) =
			atomic64_read(&hdev->counters[i]);
}

/*
 * The fallible steps of hmm_dummy_devmem_init().  Each is first a point
 * where the test hook inject_init_failure can fail module init
 * (hmm_dummy_init_fault()), so that every error path of init is tried.
 */
static struct resource *reserve_region(unsigned long size)
{
	if (hmm_dummy_init_fault())
		return ERR_PTR(-ENOMEM);
	return request_free_mem_region(&iomem_resource, size, "hmm_dummy");
}

/*
 * Special-purpose memory for a coherent device: a range the firmware (or
 * memmap=SIZE!ADDR) set aside as neither System RAM nor anybody's, which
 * the device then claims for itself.  Refused with a reason rather than
 * left to memremap_pages(), which WARNs on a range that is System RAM.
 */
static struct resource *reserve_spm(phys_addr_t start, unsigned long size)
{
	struct resource *res;

	if (hmm_dummy_init_fault())
		return ERR_PTR(-ENOMEM);
	if (!IS_ALIGNED(start, HMM_DUMMY_SPM_ALIGN) ||
	    !IS_ALIGNED(size, HMM_DUMMY_SPM_ALIGN)) {
		pr_err("hmm_dummy: special-purpose memory at %pa: address and size must be multiples of 2 MiB\n",
		       &start);
		return ERR_PTR(-EINVAL);
	}
	if (region_intersects(start, size, IORESOURCE_SYSTEM_RAM,
			      IORES_DESC_NONE) != REGION_DISJOINT ||
	    (region_intersects(start, size, IORESOURCE_MEM,
			       IORES_DESC_PERSISTENT_MEMORY_LEGACY) !=
	     REGION_INTERSECTS &&
	     region_intersects(start, size, IORESOURCE_MEM,
			       IORES_DESC_SOFT_RESERVED) != REGION_INTERSECTS)) {
		pr_err("hmm_dummy: %lu MiB at %pa are not special-purpose memory (boot with memmap=%luM!%pa)\n",
		       size >> 20, &start, size >> 20, &start);
		return ERR_PTR(-EINVAL);
	}
	res = request_mem_region(start, size, "hmm_dummy");
	if (!res) {
		pr_err("hmm_dummy: special-purpose memory at %pa is in use\n",
		       &start);
		return ERR_PTR(-EBUSY);
	}
	return res;
}

static struct hmm_dummy_dpage *alloc_dpages(unsigned long npages)
{
	if (hmm_dummy_init_fault())
		return NULL;
	return kvcalloc(npages, sizeof(struct hmm_dummy_dpage), GFP_KERNEL);
}

static void *map_pages(struct dev_pagemap *pgmap)
{
	if (hmm_dummy_init_fault())
		return ERR_PTR(-ENOMEM);
	return memremap_pages(pgmap, numa_node_id());
}

/**
 * init_runs() - cut the device memory into runs
 * @hdev: the device, its memory mapped
 *
 * Naturally aligned runs of HMM_DUMMY_RUN_PAGES pfns (the first and last
 * may be shorter if the memory is not aligned; those never hold a large
 * folio), all wholly free.
 *
 * Context: process context (module init), may sleep; nothing else can
 * reach @hdev yet, so no lock is taken.
 *
 * Return: 0 or -ENOMEM.
 */
static int init_runs(struct hmm_dummy_device *hdev)
{
	unsigned long base = hdev->pfn_first >> HMM_DUMMY_LARGE_ORDER;
	unsigned long last = hdev->pfn_first + hdev->npages - 1;
	unsigned long r, start, end;

	if (hmm_dummy_init_fault())
		return -ENOMEM;
	hdev->nr_runs = (last >> HMM_DUMMY_LARGE_ORDER) - base + 1;
	hdev->runs = kvcalloc(hdev->nr_runs, sizeof(*hdev->runs), GFP_KERNEL);
	if (!hdev->runs)
		return -ENOMEM;
	for (r = 0; r < hdev->nr_runs; r++) {
		struct hmm_dummy_run *run = &hdev->runs[r];

		start = max(hdev->pfn_first, (base + r) << HMM_DUMMY_LARGE_ORDER);
		end = min(last + 1, (base + r + 1) << HMM_DUMMY_LARGE_ORDER);
		run->first = start - hdev->pfn_first;
		run->nr = end - start;
		run->nr_free = run->nr;
		INIT_LIST_HEAD(&run->free);
		/* Ascending pfns, so that fresh allocations are contiguous. */
		list_add_tail(&run->link, run_complete(run) ?
			      &hdev->free_runs : &hdev->partial_runs);
	}
	hdev->nr_free = hdev->npages;
	return 0;
}

/**
 * hmm_dummy_devmem_init() - reserve and map the device memory of a device
 * @hdev: the device, with @index set
 * @size: bytes of device memory
 * @spm_addr: 0 for device-private memory in a free physical range; else
 *        the start of the special-purpose memory the device's coherent
 *        memory is
 *
 * Context: process context (module init), may sleep; nothing else can
 * reach @hdev yet.
 *
 * Return: 0 or a negative errno.
 */
int hmm_dummy_devmem_init(struct hmm_dummy_device *hdev, unsigned long size,
			  phys_addr_t spm_addr)
{
	unsigned long i;
	void *ptr;
	int ret;

	spin_lock_init(&hdev->lock);
	mutex_init(&hdev->evict_lock);
	hash_init(hdev->owners);
	INIT_HLIST_HEAD(&hdev->dead_owners);
	INIT_WORK(&hdev->owner_work, hmm_dummy_owner_reap);
	INIT_LIST_HEAD(&hdev->free_runs);
	INIT_LIST_HEAD(&hdev->partial_runs);
	INIT_LIST_HEAD(&hdev->lru);

	hdev->res = spm_addr ? reserve_spm(spm_addr, size) :
			       reserve_region(size);
	if (IS_ERR(hdev->res))
		return PTR_ERR(hdev->res);

	hdev->npages = size >> PAGE_SHIFT;
	hdev->dpages = alloc_dpages(hdev->npages);
	if (!hdev->dpages) {
		ret = -ENOMEM;
		goto err_region;
	}

	hdev->pgmap.type = spm_addr ? MEMORY_DEVICE_COHERENT :
				      MEMORY_DEVICE_PRIVATE;
	hdev->pgmap.range.start = hdev->res->start;
	hdev->pgmap.range.end = hdev->res->end;
	hdev->pgmap.nr_range = 1;
	hdev->pgmap.ops = &hmm_dummy_pagemap_ops;
	/*
	 * Distinct per device, so peers' pages count as foreign; with
	 * peer_group one owner for all, as a multi-GPU driver's owner list.
	 */
	hdev->pgmap.owner = hmm_dummy_peer_group ? (void *)&hmm_dummy_group :
						     (void *)hdev;
	ptr = map_pages(&hdev->pgmap);
	if (IS_ERR(ptr)) {
		ret = PTR_ERR(ptr);
		goto err_dpages;
	}
	hdev->pfn_first = PHYS_PFN(hdev->res->start);
	/* A coherent page holds its data: it is its own backing. */
	if (spm_addr)
		for (i = 0; i < hdev->npages; i++)
			hdev->dpages[i].backing =
				pfn_to_page(hdev->pfn_first + i);
	ret = init_runs(hdev);
	if (ret)
		goto err_unmap;
	return 0;

err_unmap:
	memunmap_pages(&hdev->pgmap);
err_dpages:
	kvfree(hdev->dpages);
err_region:
	release_mem_region(hdev->res->start, resource_size(hdev->res));
	return ret;
}

/**
 * hmm_dummy_devmem_fini() - give the device memory back
 * @hdev: the device; no file of it may be open any more
 *
 * Pages still mapped by processes are migrated back to system memory first,
 * since memunmap_pages() waits for every device page to be freed.
 *
 * Context: process context (module unload or failed init), may sleep for
 * long; no lock held.  Takes mmap_locks (hmm_dummy_evict_all()), evict_lock
 * and hdev->lock.
 */
void hmm_dummy_devmem_fini(struct hmm_dummy_device *hdev)
{
	struct hmm_dummy_stats st = {};
	unsigned long i, left;

	left = hmm_dummy_evict_all(hdev);
	if (left)
		dev_err(hdev->dev, "%lu device pages still in use at unload; waiting for them\n",
			left);

	memunmap_pages(&hdev->pgmap);
	/* Every folio_free has run: the last records are on dead_owners. */
	flush_work(&hdev->owner_work);
	WARN_ON_ONCE(!hash_empty(hdev->owners) ||
		     !hlist_empty(&hdev->dead_owners));

	hmm_dummy_fill_stats(hdev, &st);
	if (st.free != st.capacity || st.allocations != st.page_free_calls)
		dev_err(hdev->dev, "device pages leaked: %llu of %llu free, %llu allocations, %llu page_free calls\n",
			st.free, st.capacity, st.allocations,
			st.page_free_calls);
	else
		dev_info(hdev->dev, "all %llu device pages back in the allocator (%llu allocations, %llu pages evicted in total, %llu copy jobs failed)\n",
			 st.capacity, st.allocations,
			 st.migrated_to_sys_evict, st.engine_failures);

	/* A coherent page is its own backing: nothing was allocated. */
	if (!hmm_dummy_coherent(hdev))
		for (i = 0; i < hdev->npages; i++)
			if (hdev->dpages[i].backing)
				__free_page(hdev->dpages[i].backing);
	kvfree(hdev->runs);
	kvfree(hdev->dpages);
	release_mem_region(hdev->res->start, resource_size(hdev->res));
}
