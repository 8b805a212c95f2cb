// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_dummy eviction: making room in device memory by migrating the least
 * recently used device folios back to system memory, and emptying device
 * memory when the device goes away.
 *
 * Eviction goes through the process, not through the pfn
 * -------------------------------------------------------
 * The core offers migrate_device_range() (and, in 7.3,
 * migrate_device_pfns()): migrate device pages by pfn, wherever they are
 * mapped, without a VMA.  It unmaps them with try_to_migrate(), and
 * migrate_device_finalize() maps the new pages with remove_migration_ptes(),
 * an rmap walk that starts from the folio's anon_vma.  migrate_pages() pins
 * that anon_vma across the migration (folio_get_anon_vma()); the
 * migrate_vma_*() caller's mmap_lock keeps the VMA, and with it the
 * anon_vma, alive.  The by-pfn calls do neither: if the last process
 * mapping the page exits (or munmaps it) between the unmap and the
 * finalize, the anon_vma is freed and the walk reads freed memory.
 * test_hmm evicts this way and hit it under KASAN in our runs
 * (Documentation/hmm_dummy.rst, "Eviction and process exit").
 *
 * So every device folio remembers the address space it was migrated into
 * (hmm_dummy_dpage.owner, an mmgrab() reference that keeps the mm_struct,
 * not the memory) and the address.  To evict it, hmm_dummy takes
 * mmget_not_zero() on the owner (a process already exiting gives its pages
 * back through folio_free, nothing to do), its mmap_lock for read, and
 * migrates the folio's range with migrate_vma_*(): the same protocol as
 * MIGRATE_TO_SYS, whose locking the core guarantees.
 *
 * Locking: hmm_dummy_evict() runs under evict_lock, inside an allocation
 * that may hold the mmap_lock of the allocating process (and the page
 * locks of its migration sources).  Pages of that process are evicted
 * under the lock it already holds; another process's mmap_lock is only
 * try-locked, since blocking on it there could deadlock against that
 * process doing the same to us.  Page locks taken by migrate_vma_setup()
 * are try-locks.  The unload path holds nothing and may block.
 *
 * What cannot be reached this way: a folio its owner no longer maps (after
 * fork() and the parent's munmap(), only the child maps it).  It stays on
 * the device until the child touches it or exits; at unload, the last
 * resort is migration by pfn (hmm_dummy_evict_pfns()), with the hazard
 * above.
 */
#include <linux/delay.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/sort.h>

#include "compat.h"
#include "hmm_dummy.h"
#include "trace.h"

/**
 * struct hmm_dummy_victim - a device folio picked for eviction
 * @mm:    its owner, with an mmgrab() reference held by the evictor
 * @start: the user address it was migrated to
 * @end:   @start plus its size
 * @idx:   index of its first page in hdev->dpages
 */
struct hmm_dummy_victim {
	struct mm_struct *mm;
	unsigned long start;
	unsigned long end;
	unsigned long idx;
};

static int cmp_victim(const void *a, const void *b)
{
	const struct hmm_dummy_victim *x = a, *y = b;

	if (x->mm != y->mm)
		return x->mm < y->mm ? -1 : 1;
	return x->start < y->start ? -1 : x->start > y->start;
}

/*
 * Take device folios that have an owner off the head of the LRU, up to @max
 * of them or @want pages, rotating them to the tail (so that one that
 * cannot be evicted now is not picked first again), sorted by owner and
 * address.  Folios without an owner are being migrated in right now; they
 * are rotated too.
 */
static unsigned long pick_victims(struct hmm_dummy_device *hdev,
				  struct hmm_dummy_victim *v,
				  unsigned long max, unsigned long want)
{
	struct hmm_dummy_dpage *dp, *first = NULL;
	unsigned long n = 0, seen, pages = 0;

	hmm_dummy_lock(hdev);
	for (seen = 0; n < max && pages < want && seen < 4 * max; seen++) {
		dp = list_first_entry_or_null(&hdev->lru,
					      struct hmm_dummy_dpage, link);
		/* Empty, or all the way round. */
		if (!dp || dp == first)
			break;
		if (!first)
			first = dp;
		list_move_tail(&dp->link, &hdev->lru);
		if (!dp->owner)
			continue;
		mmgrab(dp->owner);
		v[n].mm = dp->owner;
		v[n].start = dp->addr;
		v[n].end = dp->addr + (PAGE_SIZE << dp->order);
		v[n].idx = dp - hdev->dpages;
		pages += 1UL << dp->order;
		n++;
	}
	hmm_dummy_unlock(hdev);
	sort(v, n, sizeof(*v), cmp_victim, NULL);
	return n;
}

/**
 * struct hmm_dummy_victim_set - the victims of one owner, as a migration
 * filter: only their pages move
 * @sel: what hmm_dummy_range_to_sys() calls
 * @hdev: their device
 * @v:   the victims
 * @n:   how many
 *
 * The address a victim was recorded at may hold another of the device's
 * folios by now: after fork() and munmap() in the owner (the victim is
 * only mapped by the child now) a new mapping there gets the owner's
 * newest device pages.  Those must not be evicted in its place.
 */
struct hmm_dummy_victim_set {
	struct hmm_dummy_select sel;
	struct hmm_dummy_device *hdev;
	const struct hmm_dummy_victim *v;
	unsigned long n;
};

/* A page of a victim's folio (or of a piece of it split off since). */
static bool is_victim_page(const struct hmm_dummy_select *sel,
			   struct page *page)
{
	const struct hmm_dummy_victim_set *set =
		container_of(sel, struct hmm_dummy_victim_set, sel);
	unsigned long idx = page_to_pfn(page) - set->hdev->pfn_first, i;

	for (i = 0; i < set->n; i++)
		if (idx >= set->v[i].idx &&
		    idx < set->v[i].idx +
			  ((set->v[i].end - set->v[i].start) >> PAGE_SHIFT))
			return true;
	return false;
}

/* Is the victim still on the device, where it was recorded? */
static bool victim_stayed(struct hmm_dummy_device *hdev,
			  const struct hmm_dummy_victim *v)
{
	struct hmm_dummy_dpage *dp = &hdev->dpages[v->idx];
	bool stayed;

	hmm_dummy_lock(hdev);
	stayed = dp->in_use && dp->owner == v->mm && dp->addr == v->start;
	hmm_dummy_unlock(hdev);
	return stayed;
}

/*
 * The linear page index of the victim's folio (what rmap locates an
 * anonymous folio by), or false if it is gone or no longer starts there.
 * The reference is dropped before anything migrates, since migration
 * refuses a folio with unexpected references.
 */
static bool victim_pgoff(struct hmm_dummy_device *hdev,
			 const struct hmm_dummy_victim *v, pgoff_t *pgoff)
{
	struct page *page = pfn_to_page(hdev->pfn_first + v->idx);
	struct folio *folio = page_folio(page);
	bool ok;

	if (!folio_try_get(folio))
		return false;
	ok = &folio->page == page && folio_test_anon(folio);
	if (ok)
		*pgoff = folio->index;
	folio_put(folio);
	return ok;
}

/*
 * A victim that was not at its recorded address has usually been moved by
 * mremap(), which keeps an anonymous folio's linear index and shifts the
 * VMA's vm_pgoff with it: look for it in the owner's anonymous VMAs.
 * mmap_lock of @mm held for read.
 */
static unsigned long evict_moved(struct hmm_dummy_device *hdev,
				 struct mm_struct *mm,
				 const struct hmm_dummy_victim *v,
				 const struct hmm_dummy_victim_set *set,
				 unsigned long *src)
{
	unsigned long size = v->end - v->start, addr, moved = 0;
	struct vm_area_struct *vma;
	struct vma_iterator vmi;
	pgoff_t pgoff;
	long ret;

	if (!victim_pgoff(hdev, v, &pgoff))
		return 0;
	vma_iter_init(&vmi, mm, 0);
	for_each_vma(vmi, vma) {
		if (!vma->anon_vma || pgoff < vma->vm_pgoff ||
		    pgoff >= vma->vm_pgoff + vma_pages(vma))
			continue;
		addr = vma->vm_start + ((pgoff - vma->vm_pgoff) << PAGE_SHIFT);
		if (addr == v->start)
			continue;
		ret = hmm_dummy_range_to_sys(NULL, hdev, mm, addr, addr + size,
					     src, HMM_DUMMY_CNT_TO_SYS_EVICT,
					     &set->sel);
		if (ret < 0)
			break;
		moved += ret;
		if (!victim_stayed(hdev, v))
			break;
	}
	return moved;
}

/*
 * Evict the @n victims of one owner (sorted by address; ranges that touch
 * are merged into one migration).  @locked_mm is the address space whose
 * mmap_lock the caller already holds for read; another's is try-locked
 * when @trylock, else taken.  Returns the pages moved.
 */
static unsigned long evict_owner(struct hmm_dummy_device *hdev,
				 const struct hmm_dummy_victim *v,
				 unsigned long n, struct mm_struct *locked_mm,
				 bool trylock, unsigned long *src)
{
	struct hmm_dummy_victim_set set = {
		.sel.fn = is_victim_page, .hdev = hdev, .v = v, .n = n,
	};
	struct mm_struct *mm = v->mm;
	unsigned long i, j, start, end, moved = 0;
	long ret;

	/* Exiting: exit_mmap() frees its pages, and folio_free takes them. */
	if (!mmget_not_zero(mm))
		return 0;
	if (mm != locked_mm) {
		if (trylock ? !mmap_read_trylock(mm) :
			      mmap_read_lock_killable(mm)) {
			mmput_async(mm);
			return 0;
		}
	}
	for (i = 0; i < n; i = j) {
		start = v[i].start;
		end = v[i].end;
		for (j = i + 1; j < n && v[j].start <= end; j++)
			end = max(end, v[j].end);
		ret = hmm_dummy_range_to_sys(NULL, hdev, mm, start, end, src,
					     HMM_DUMMY_CNT_TO_SYS_EVICT,
					     &set.sel);
		trace_hmm_dummy_evict(hdev->index, start, end, ret);
		if (ret < 0)
			break;
		moved += ret;
		for (; i < j; i++)
			if (victim_stayed(hdev, &v[i]))
				moved += evict_moved(hdev, mm, &v[i], &set,
						     src);
	}
	if (mm != locked_mm)
		mmap_read_unlock(mm);
	/*
	 * If the process exited meanwhile, ours is the last user reference:
	 * do not tear its address space down here, under the caller's locks.
	 */
	mmput_async(mm);
	return moved;
}

/* Evict @n sorted victims, owner by owner, and drop their references. */
static unsigned long evict_victims(struct hmm_dummy_device *hdev,
				   struct hmm_dummy_victim *v, unsigned long n,
				   struct mm_struct *locked_mm, bool trylock,
				   unsigned long *src)
{
	unsigned long i, j, moved = 0;

	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && v[j].mm == v[i].mm; j++)
			;
		moved += evict_owner(hdev, &v[i], j - i, locked_mm, trylock,
				     src);
	}
	for (i = 0; i < n; i++)
		mmdrop(v[i].mm);
	return moved;
}

/*
 * Buffers of an eviction: the migration arrays (2 * HMM_DUMMY_RUN_PAGES,
 * enough for hmm_dummy_range_to_sys() and hmm_dummy_evict_pfns()) and
 * HMM_DUMMY_EVICT_BATCH victims.
 */
static unsigned long *alloc_evict_buffers(struct hmm_dummy_victim **v)
{
	unsigned long *src;

	BUILD_BUG_ON(HMM_DUMMY_RUN_PAGES < HMM_DUMMY_MIGRATE_BATCH);
	src = kmalloc_array(2 * HMM_DUMMY_RUN_PAGES, sizeof(*src), GFP_KERNEL);
	*v = kmalloc_array(HMM_DUMMY_EVICT_BATCH, sizeof(**v), GFP_KERNEL);
	if (!src || !*v) {
		kfree(src);
		kfree(*v);
		return NULL;
	}
	return src;
}

/**
 * hmm_dummy_evict() - make room in device memory
 * @hdev:      the device
 * @want:      pages the caller is short of
 * @locked_mm: the address space whose mmap_lock the caller holds, or NULL
 *
 * Evicts the least recently used device folios, HMM_DUMMY_EVICT_BATCH at a
 * time, through their owners (see the top of this file).  May be called
 * with the caller's migration sources locked and unmapped: they are not
 * device pages of @hdev, and every page lock taken here is a try-lock.
 *
 * Return: true if free pages may now be available.
 */
bool hmm_dummy_evict(struct hmm_dummy_device *hdev, unsigned long want,
		     struct mm_struct *locked_mm)
{
	unsigned long done = 0, *src, n;
	struct hmm_dummy_victim *v;
	unsigned int rounds;

	src = alloc_evict_buffers(&v);
	if (!src)
		return false;
	want = max_t(unsigned long, want, HMM_DUMMY_EVICT_BATCH);
	mutex_lock(&hdev->evict_lock);
	/* Someone evicted while we waited: let the caller retry first. */
	if (READ_ONCE(hdev->nr_free))
		goto out;
	for (rounds = 0; done < want && rounds < 64; rounds++) {
		n = pick_victims(hdev, v, HMM_DUMMY_EVICT_BATCH, want - done);
		if (!n)
			break;
		done += evict_victims(hdev, v, n, locked_mm, true, src);
		if (fatal_signal_pending(current))
			break;
	}
	if (done)
		hmm_dummy_count(hdev, HMM_DUMMY_CNT_EVICTIONS, 1);
out:
	mutex_unlock(&hdev->evict_lock);
	kfree(v);
	kfree(src);
	return done || READ_ONCE(hdev->nr_free);
}

/*
 * The last resort at unload, for folios no owner could be found for: by
 * pfn, run by run (a run is the most a large folio covers and never cuts
 * one).
 */
static unsigned long evict_unreachable(struct hmm_dummy_device *hdev,
				       unsigned long *src)
{
	unsigned long r, done = 0;

	mutex_lock(&hdev->evict_lock);
	for (r = 0; r < hdev->nr_runs; r++) {
		struct hmm_dummy_run *run = &hdev->runs[r];
		unsigned long i;
		bool any = false;

		/* Unlocked peek: hmm_dummy_evict_pfns() rechecks each page. */
		for (i = 0; i < run->nr && !any; i++)
			any = READ_ONCE(hdev->dpages[run->first + i].in_use);
		if (any)
			done += hmm_dummy_evict_pfns(hdev,
						     hdev->pfn_first + run->first,
						     run->nr, src);
		cond_resched();
	}
	mutex_unlock(&hdev->evict_lock);
	return done;
}

/**
 * hmm_dummy_evict_all() - migrate every in-use device page back, at unload
 * @hdev: the device; no file of it is open any more, so nothing allocates
 *
 * Owner by owner first, as hmm_dummy_evict() does but taking the mmap_lock.
 * Pages of exiting processes come back by themselves; the loop waits for
 * them.  What stays unreachable through its owner for a while (see the top
 * of this file) goes by pfn.  Pages locked by a racing CPU fault are
 * retried.
 *
 * Return: the pages still in use at the end (0 unless something held on
 * to device pages for seconds).
 */
unsigned long hmm_dummy_evict_all(struct hmm_dummy_device *hdev)
{
	unsigned long moved, left, k, n, *src;
	struct hmm_dummy_victim *v;
	unsigned int round, idle = 0;

	src = alloc_evict_buffers(&v);
	if (!src)
		return hmm_dummy_in_use(hdev);
	for (round = 0; round < 1000; round++) {
		moved = 0;
		/* About one pass over the LRU. */
		for (k = 0; k <= hdev->npages / HMM_DUMMY_EVICT_BATCH; k++) {
			n = pick_victims(hdev, v, HMM_DUMMY_EVICT_BATCH,
					 ULONG_MAX);
			if (!n)
				break;
			moved += evict_victims(hdev, v, n, NULL, false, src);
			cond_resched();
		}
		left = hmm_dummy_in_use(hdev);
		if (!left)
			break;
		idle = moved ? 0 : idle + 1;
		if (idle >= 10) {
			moved = evict_unreachable(hdev, src);
			idle = moved ? 0 : idle;
		}
		if (!moved)
			msleep(20);
	}
	kfree(v);
	kfree(src);
	return hmm_dummy_in_use(hdev);
}
