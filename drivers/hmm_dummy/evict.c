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
 * finalize, the anon_vma is freed and the walk reads freed memory: a
 * use-after-free that any driver evicting by pfn while its processes exit
 * is open to (Documentation/hmm_dummy.rst, "Eviction and process exit",
 * has the sequence and a reproducer).
 *
 * So every device folio remembers the address space it was migrated into
 * (hmm_dummy_dpage.owner; the device's hmm_dummy_owner record of that
 * address space holds an mmgrab() reference that keeps the mm_struct, not
 * the memory) and the address.  To evict it, hmm_dummy takes
 * mmget_not_zero() on the owner, its mmap_lock for read, and migrates the
 * folio's range with migrate_vma_*(): the same protocol as MIGRATE_TO_SYS,
 * whose locking the core guarantees.
 *
 * Folios the owner no longer maps
 * -------------------------------
 * After fork() the child maps the parent's device folios too.  If the
 * owner then exits (mmget_not_zero() fails: exit_mmap() gives back only
 * what no one else maps) or unmaps its copy (the migration at the
 * recorded address, and the search for an mremap()ed copy, move nothing),
 * the folio is "stranded": only other processes map it, and nothing in the
 * owner can reach it.  It would pin the dead mm_struct and the device
 * memory for as long as the child lives.  So eviction looks for another
 * address space that maps it: it walks the processes (for_each_process()
 * under RCU, a reference on each distinct mm taken under task_lock(),
 * kernel threads and the owner skipped) and, in each, runs the same
 * migrate_vma protocol under that mm's mmap_lock, at the recorded address
 * and then at the folio's linear index (a fork child has the parent's
 * layout).  The victim filter (struct hmm_dummy_victim_set) makes a wrong
 * guess harmless: only the victims' own pages move, whatever else is
 * mapped there is put back as it was.  Safe for the same reason as the
 * owner path: the live mapper's VMA links the folio's anon_vma (rmap
 * keeps every anon_vma a VMA was forked from on its chain, and
 * unlink_anon_vmas() frees one only when no VMA links it any more), and
 * its mmap_lock keeps that VMA; try_to_migrate() and
 * remove_migration_ptes() then deal with every other mapper, exiting or
 * not.  The walk costs O(processes), so it only runs for victims the
 * owner could not reach, once per owner per eviction round, and stops as
 * soon as they are all gone.  The folio is not handed over to the mapper
 * found (dp->owner stays): finding it there moves it back to system memory
 * at once, so there is nothing left to own.
 *
 * Alternatives, and why not:
 * - migration by pfn (above) for stranded folios: exactly the folios
 *   whose mappers come and go (a fork child exits whenever it likes), so
 *   exactly the race; it stays the unload-only last resort.
 * - finding the mapper through the rmap: rmap_walk(), folio_get_anon_vma()
 *   and the anon_vma lock are not exported to modules, and a VMA found
 *   that way gives an mm without a reference or its mmap_lock.
 * - an mmu_notifier release hook on the owner: exit_mmap() calls it before
 *   unmapping, but it covers exit only (not munmap) and it would run in
 *   the exiting process, under its exit; it cannot hand a folio to the
 *   child either (no hook tells a driver about fork()).
 *
 * Locking: hmm_dummy_evict() runs under evict_lock, inside an allocation
 * that may hold the mmap_lock of the allocating process (and the page
 * locks of its migration sources).  Pages of that process are evicted
 * under the lock it already holds; another process's mmap_lock is only
 * try-locked, since blocking on it there could deadlock: two allocating
 * processes, each holding its own mmap_lock for read and waiting for the
 * other's behind a queued writer.  Page locks taken by migrate_vma_setup()
 * are try-locks.
 *
 * A process whose threads map and unmap all the time has a writer queued
 * on its mmap_lock nearly always, so the trylock nearly always fails.
 * Such an eviction puts those victims back at the head of the LRU (they
 * are still the oldest, and at the tail they would be passed over for
 * the folios the same migration has just brought in), stops and reports
 * itself busy instead of waiting; the migration
 * (hmm_dummy_migrate_to_dev()) finishes its batch, drops its own
 * mmap_lock, and calls hmm_dummy_evict_wait(), which holds nothing while
 * it waits for another mmap_lock (killable), and without evict_lock: an
 * inline evictor holds its own mmap_lock while it waits for evict_lock, so
 * waiting for an mmap_lock under evict_lock could close the same cycle.
 * Then the migration takes its mmap_lock back and retries the batch.  The
 * unload path holds nothing either and may block the same way.
 */
#include <linux/delay.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/rcupdate.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
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

/**
 * pick_victims() - pick the least recently used device folios
 * @hdev: the device
 * @v:    filled with the victims, sorted by owner and address, each with an
 *        mmgrab() reference on its owner
 * @max:  room in @v
 * @want: pages wanted
 *
 * Takes device folios that have an owner off the head of the LRU, up to
 * @max of them or @want pages, rotating them to the tail (so that one that
 * cannot be evicted now is not picked first again).  Folios without an
 * owner are being migrated in right now; they are rotated too.
 *
 * Context: takes hdev->lock; does not sleep.
 *
 * Return: how many victims are in @v.
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

/**
 * victim_stayed() - is a victim still on the device, where it was recorded?
 * @hdev: the device
 * @v:    the victim
 *
 * Context: takes hdev->lock; does not sleep.
 *
 * Return: true if its folio is in use, with the same owner and address.
 */
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

/**
 * unpick_victims() - put busy victims back at the head of the LRU
 * @hdev: the device
 * @v:    the victims
 * @n:    how many
 *
 * Those still where pick_victims() found them go back to the head: they
 * could not be evicted only because a process's mmap_lock was busy, and
 * they are still the oldest.  Left at the tail, they would be passed over
 * for younger folios, such as those the waiting allocation has just
 * migrated in itself.
 *
 * Context: takes hdev->lock; does not sleep.
 */
static void unpick_victims(struct hmm_dummy_device *hdev,
			   const struct hmm_dummy_victim *v, unsigned long n)
{
	struct hmm_dummy_dpage *dp;
	unsigned long i;

	hmm_dummy_lock(hdev);
	for (i = n; i-- > 0;) {
		dp = &hdev->dpages[v[i].idx];
		if (dp->in_use && dp->owner == v[i].mm &&
		    dp->addr == v[i].start && !list_empty(&dp->link))
			list_move(&dp->link, &hdev->lru);
	}
	hmm_dummy_unlock(hdev);
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

/**
 * evict_moved() - evict a victim found by its linear index
 * @hdev:  the device
 * @mm:    the address space to look in
 * @v:     the victim
 * @set:   the migration filter of @v's owner's victims
 * @tried: an address already tried (the recorded one), skipped
 * @src:   migration arrays, see alloc_evict_buffers()
 *
 * Looks for @v by its linear index in the anonymous VMAs of @mm: mremap()
 * keeps an anonymous folio's linear index and shifts the VMA's vm_pgoff
 * with it, and fork() copies both, so this finds the folio after either.
 *
 * Context: process context, may sleep; @mm's mmap_lock held for read.
 * Page locks are only try-locked (migrate_vma_setup()).
 *
 * Return: the pages moved.
 */
static unsigned long evict_moved(struct hmm_dummy_device *hdev,
				 struct mm_struct *mm,
				 const struct hmm_dummy_victim *v,
				 const struct hmm_dummy_victim_set *set,
				 unsigned long tried, unsigned long *src)
{
	unsigned long size = v->end - v->start, addr, moved = 0;
	struct vm_area_struct *vma;
	struct vma_iterator vmi;
	pgoff_t pgoff;
	long ret;

	mmap_assert_locked(mm);
	if (!victim_pgoff(hdev, v, &pgoff))
		return 0;
	vma_iter_init(&vmi, mm, 0);
	for_each_vma(vmi, vma) {
		if (!vma->anon_vma || pgoff < vma->vm_pgoff ||
		    pgoff >= vma->vm_pgoff + vma_pages(vma))
			continue;
		addr = vma->vm_start + ((pgoff - vma->vm_pgoff) << PAGE_SHIFT);
		if (addr == tried)
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

/**
 * struct hmm_dummy_evict_ctx - one eviction pass and what it may wait for
 * @hdev:      the device
 * @locked_mm: the address space whose mmap_lock the caller holds for read
 *             (its victims are evicted under it), or NULL
 * @trylock:   another address space's mmap_lock is only try-locked: the
 *             caller is an allocation, under evict_lock (see the top of
 *             this file); else it is waited for, and the caller holds no
 *             mmap_lock, page lock or evict_lock
 * @busy:      set when a trylock failed: a pass that may wait could evict
 *             what this one could not
 * @src:       migration arrays, see alloc_evict_buffers()
 */
struct hmm_dummy_evict_ctx {
	struct hmm_dummy_device *hdev;
	struct mm_struct *locked_mm;
	bool trylock;
	bool busy;
	unsigned long *src;
};

/**
 * evict_lock_mm() - take an address space's mmap_lock for an eviction in it
 * @ctx: the eviction
 * @mm:  the address space, a reference held
 *
 * The lock order is checked here: only a try-lock under evict_lock, and no
 * waiting for one while holding it.
 *
 * Context: process context.  With @ctx->trylock, evict_lock held and
 * nothing waited for; else evict_lock not held, and this may sleep
 * (killable).  @ctx->locked_mm's mmap_lock, if any, is held already.
 *
 * Return: true with @mm's mmap_lock held for read (or already held), false
 * if it cannot be had now.
 */
static bool evict_lock_mm(struct hmm_dummy_evict_ctx *ctx,
			  struct mm_struct *mm)
{
	if (mm == ctx->locked_mm) {
		mmap_assert_locked(mm);
		return true;
	}
	if (ctx->trylock) {
		lockdep_assert_held(&ctx->hdev->evict_lock);
		if (mmap_read_trylock(mm))
			return true;
		ctx->busy = true;
		return false;
	}
	lockdep_assert_not_held(&ctx->hdev->evict_lock);
	return !mmap_read_lock_killable(mm);
}

/**
 * evict_unlock_mm() - undo evict_lock_mm()
 * @ctx: the eviction
 * @mm:  the address space
 *
 * Context: @mm's mmap_lock held for read; released unless it is the
 * caller's own (@ctx->locked_mm).
 */
static void evict_unlock_mm(struct hmm_dummy_evict_ctx *ctx,
			    struct mm_struct *mm)
{
	if (mm != ctx->locked_mm)
		mmap_read_unlock(mm);
}

/**
 * evict_in_mm() - evict the victims of one owner where one process maps them
 * @ctx: the eviction
 * @mm:  their owner, or another process that maps them; a reference held
 * @v:   the victims, sorted by address
 * @n:   how many
 *
 * Ranges that touch are merged into one migration; a victim that stays is
 * looked for by its linear index.
 *
 * Context: process context, may sleep; @mm's mmap_lock held for read.
 * Page locks are only try-locked.
 *
 * Return: the pages moved.
 */
static unsigned long evict_in_mm(struct hmm_dummy_evict_ctx *ctx,
				 struct mm_struct *mm,
				 const struct hmm_dummy_victim *v,
				 unsigned long n)
{
	struct hmm_dummy_device *hdev = ctx->hdev;
	struct hmm_dummy_victim_set set = {
		.sel.fn = is_victim_page, .hdev = hdev, .v = v, .n = n,
	};
	unsigned long i, j, start, end, moved = 0;
	long ret;

	mmap_assert_locked(mm);
	for (i = 0; i < n; i = j) {
		start = v[i].start;
		end = v[i].end;
		for (j = i + 1; j < n && v[j].start <= end; j++)
			end = max(end, v[j].end);
		ret = hmm_dummy_range_to_sys(NULL, hdev, mm, start, end,
					     ctx->src,
					     HMM_DUMMY_CNT_TO_SYS_EVICT,
					     &set.sel);
		trace_hmm_dummy_evict(hdev->index, start, end, ret);
		if (ret < 0)
			break;
		moved += ret;
		for (; i < j; i++)
			if (victim_stayed(hdev, &v[i]))
				moved += evict_moved(hdev, mm, &v[i], &set,
						     v[i].start, ctx->src);
	}
	return moved;
}

/*
 * Is the victim's folio mapped by anyone?  A stranded folio nobody maps is
 * on its way out (its last mapper is exiting, or it is being migrated):
 * no process walk for it.  Only a hint; the reference is dropped before
 * anything migrates, as in victim_pgoff().
 */
static bool victim_mapped(struct hmm_dummy_device *hdev,
			  const struct hmm_dummy_victim *v)
{
	struct folio *folio = page_folio(pfn_to_page(hdev->pfn_first +
						     v->idx));
	bool mapped;

	if (!folio_try_get(folio))
		return false;
	mapped = folio_mapped(folio);
	folio_put(folio);
	return mapped;
}

/**
 * keep_stranded() - keep the victims still on the device and mapped
 * @hdev: the device
 * @v:    the victims
 * @n:    how many
 *
 * Moves the victims still on the device, where they were recorded, and
 * mapped by someone, to the front of @v (order kept).  The entries past
 * them keep their owner, so every entry still holds one reference on it.
 *
 * Context: takes hdev->lock; does not sleep.
 *
 * Return: how many were kept.
 */
static unsigned long keep_stranded(struct hmm_dummy_device *hdev,
				   struct hmm_dummy_victim *v, unsigned long n)
{
	unsigned long i, k = 0;

	for (i = 0; i < n; i++)
		if (victim_stayed(hdev, &v[i]) && victim_mapped(hdev, &v[i]))
			v[k++] = v[i];
	return k;
}

/* Address spaces one step of the process walk collects. */
#define HMM_DUMMY_WALK_MMS	32

/**
 * collect_mms() - collect address spaces for the process walk
 * @owner: the victims' owner, skipped
 * @mms:   filled with up to HMM_DUMMY_WALK_MMS distinct user address
 *         spaces, with a reference (mmget) each
 * @pos:   the process to start from, advanced past the processes looked at
 * @more:  set if there are processes left
 *
 * The list of processes may change between two calls: a process then seen
 * twice or not at all costs one try more or less, nothing else.
 *
 * Context: process context; takes rcu_read_lock() and each task's
 * task_lock(); does not sleep.
 *
 * Return: how many address spaces are in @mms.
 */
static unsigned int collect_mms(struct mm_struct *owner,
				struct mm_struct **mms, unsigned long *pos,
				bool *more)
{
	struct task_struct *p;
	struct mm_struct *mm;
	unsigned long i = 0;
	unsigned int nr = 0, k;

	*more = false;
	rcu_read_lock();
	for_each_process(p) {
		if (i++ < *pos)
			continue;
		if (nr == HMM_DUMMY_WALK_MMS) {
			*more = true;
			break;
		}
		(*pos)++;
		/* task->mm is stable under task_lock() (a spinlock). */
		task_lock(p);
		mm = p->mm;
		if (!mm || (p->flags & PF_KTHREAD) || mm == owner)
			mm = NULL;
		for (k = 0; mm && k < nr; k++)
			if (mms[k] == mm)
				mm = NULL;
		if (mm && mmget_not_zero(mm))
			mms[nr++] = mm;
		task_unlock(p);
	}
	rcu_read_unlock();
	return nr;
}

/**
 * evict_stranded() - evict victims their owner did not reach
 * @ctx: the eviction
 * @v:   the victims of one owner, sorted by address
 * @n:   how many
 *
 * Their owner exited, or no longer maps them: look for them in every other
 * process, under that process's mmap_lock (see the top of this file).
 *
 * Context: process context, may sleep.  Takes each process's mmap_lock as
 * evict_lock_mm() does (try-locked under evict_lock).
 *
 * Return: the pages moved.
 */
static unsigned long evict_stranded(struct hmm_dummy_evict_ctx *ctx,
				    struct hmm_dummy_victim *v,
				    unsigned long n)
{
	struct mm_struct *mms[HMM_DUMMY_WALK_MMS];
	unsigned long pos = 0, moved = 0;
	unsigned int nr, k;
	bool more;

	do {
		nr = collect_mms(v->mm, mms, &pos, &more);
		for (k = 0; k < nr; k++) {
			if (n && !fatal_signal_pending(current) &&
			    evict_lock_mm(ctx, mms[k])) {
				moved += evict_in_mm(ctx, mms[k], v, n);
				evict_unlock_mm(ctx, mms[k]);
				n = keep_stranded(ctx->hdev, v, n);
			}
			/* Not exit_mmap() here, under the caller's locks. */
			mmput_async(mms[k]);
		}
		cond_resched();
	} while (more && n && !fatal_signal_pending(current));
	return moved;
}

/**
 * evict_owner() - evict the victims of one owner
 * @ctx: the eviction
 * @v:   the victims, sorted by address
 * @n:   how many
 *
 * Through the owner, and those it does not map any more through whoever
 * does.
 *
 * Context: process context, may sleep.  Takes mmap_locks as
 * evict_lock_mm() does, and hdev->lock.
 *
 * Return: the pages moved.
 */
static unsigned long evict_owner(struct hmm_dummy_evict_ctx *ctx,
				 struct hmm_dummy_victim *v, unsigned long n)
{
	struct mm_struct *mm = v->mm;
	bool was_busy = ctx->busy;
	unsigned long moved = 0;

	ctx->busy = false;
	/*
	 * An owner that is exiting has no address space to search, but its
	 * exit only frees what nobody else maps: a fork child may keep the
	 * rest, so those are stranded too.
	 */
	if (mmget_not_zero(mm)) {
		if (!evict_lock_mm(ctx, mm)) {
			/* Busy: its victims are for a pass that may wait. */
			mmput_async(mm);
			goto out;
		}
		moved = evict_in_mm(ctx, mm, v, n);
		evict_unlock_mm(ctx, mm);
		/*
		 * If the process exited meanwhile, ours is the last user
		 * reference: do not tear its address space down here, under
		 * the caller's locks.
		 */
		mmput_async(mm);
	}
	n = keep_stranded(ctx->hdev, v, n);
	if (n)
		moved += evict_stranded(ctx, v, n);
out:
	if (ctx->busy)
		unpick_victims(ctx->hdev, v, n);
	ctx->busy |= was_busy;
	return moved;
}

/**
 * evict_victims() - evict victims owner by owner and drop their references
 * @ctx: the eviction
 * @v:   the victims, from pick_victims()
 * @n:   how many
 *
 * Context: process context, may sleep; as evict_owner().
 *
 * Return: the pages moved.
 */
static unsigned long evict_victims(struct hmm_dummy_evict_ctx *ctx,
				   struct hmm_dummy_victim *v, unsigned long n)
{
	unsigned long i, j, moved = 0;

	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && v[j].mm == v[i].mm; j++)
			;
		moved += evict_owner(ctx, &v[i], j - i);
	}
	for (i = 0; i < n; i++)
		mmdrop(v[i].mm);
	return moved;
}

/**
 * alloc_evict_buffers() - the buffers of an eviction
 * @v: set to room for HMM_DUMMY_EVICT_BATCH victims
 *
 * Context: process context, may sleep (GFP_KERNEL).
 *
 * Return: the migration arrays (HMM_DUMMY_RANGE_TO_SYS_PFNS entries, enough
 * for hmm_dummy_range_to_sys() and hmm_dummy_evict_pfns()), or NULL (and
 * nothing allocated).
 */
static unsigned long *alloc_evict_buffers(struct hmm_dummy_victim **v)
{
	unsigned long *src;

	BUILD_BUG_ON(HMM_DUMMY_RANGE_TO_SYS_PFNS < 2 * HMM_DUMMY_RUN_PAGES);
	src = kmalloc_array(HMM_DUMMY_RANGE_TO_SYS_PFNS, sizeof(*src),
			    GFP_KERNEL);
	*v = kmalloc_array(HMM_DUMMY_EVICT_BATCH, sizeof(**v), GFP_KERNEL);
	if (!src || !*v) {
		kfree(src);
		kfree(*v);
		return NULL;
	}
	return src;
}

/**
 * evict_rounds() - evict least recently used folios
 * @ctx:  the eviction
 * @v:    room for HMM_DUMMY_EVICT_BATCH victims
 * @want: pages wanted
 *
 * HMM_DUMMY_EVICT_BATCH folios at a time, until @want pages have gone (at
 * most 64 rounds), there is nothing to pick, or a victim's process was
 * busy.
 *
 * Context: process context, may sleep; as evict_owner().
 *
 * Return: the pages moved.
 */
static unsigned long evict_rounds(struct hmm_dummy_evict_ctx *ctx,
				  struct hmm_dummy_victim *v,
				  unsigned long want)
{
	unsigned long done = 0, n;
	unsigned int rounds;

	for (rounds = 0; done < want && rounds < 64; rounds++) {
		n = pick_victims(ctx->hdev, v, HMM_DUMMY_EVICT_BATCH,
				 want - done);
		if (!n)
			break;
		done += evict_victims(ctx, v, n);
		/*
		 * Busy victims are back at the head, so the next round would
		 * find them again: leave them to a pass that may wait.
		 */
		if (ctx->busy || fatal_signal_pending(current))
			break;
	}
	if (done)
		hmm_dummy_count(ctx->hdev, HMM_DUMMY_CNT_EVICTIONS, 1);
	return done;
}

/**
 * hmm_dummy_evict() - make room in device memory, from inside an allocation
 * @hdev:      the device
 * @want:      pages the caller is short of
 * @locked_mm: the address space whose mmap_lock the caller holds, or NULL
 * @busy:      set (never cleared) when folios could not be evicted because
 *             another process's mmap_lock was not free:
 *             hmm_dummy_evict_wait() may get them once the caller has
 *             dropped its own locks
 *
 * Evicts the least recently used device folios, HMM_DUMMY_EVICT_BATCH at a
 * time, through their owners or whoever maps them (see the top of this
 * file), without waiting for any other process's mmap_lock.  May be
 * called with the caller's migration sources locked and unmapped: they are
 * not device pages of @hdev, and every page lock taken here is a try-lock.
 *
 * Context: process context, may sleep.  The caller may hold @locked_mm's
 * mmap_lock for read and page locks, not evict_lock.  Takes evict_lock,
 * then other processes' mmap_locks (try-locked only) and hdev->lock.
 *
 * Return: true if free pages may now be available.
 */
bool hmm_dummy_evict(struct hmm_dummy_device *hdev, unsigned long want,
		     struct mm_struct *locked_mm, bool *busy)
{
	struct hmm_dummy_evict_ctx ctx = {
		.hdev = hdev, .locked_mm = locked_mm, .trylock = true,
	};
	unsigned long done = 0;
	struct hmm_dummy_victim *v;

	if (locked_mm)
		mmap_assert_locked(locked_mm);
	lockdep_assert_not_held(&hdev->evict_lock);
	ctx.src = alloc_evict_buffers(&v);
	if (!ctx.src)
		return false;
	want = max_t(unsigned long, want, HMM_DUMMY_EVICT_BATCH);
	mutex_lock(&hdev->evict_lock);
	/* Someone evicted while we waited: let the caller retry first. */
	if (!READ_ONCE(hdev->nr_free))
		done = evict_rounds(&ctx, v, want);
	mutex_unlock(&hdev->evict_lock);
	kfree(v);
	kfree(ctx.src);
	if (ctx.busy)
		*busy = true;
	return done || READ_ONCE(hdev->nr_free);
}

/**
 * hmm_dummy_evict_wait() - make room in device memory, waiting if need be
 * @hdev: the device
 * @want: pages wanted
 *
 * What hmm_dummy_evict() does, but waiting (killable) for the mmap_lock of
 * each process it evicts from, one at a time.  The caller holds no
 * mmap_lock, no page lock and not evict_lock, and this takes no evict_lock
 * either: nothing it holds can be what the holder of the lock it waits for
 * is waiting for.  For a migration whose inline eviction found the owners
 * busy (see the top of this file).
 *
 * Context: process context, may sleep (killable); no mmap_lock, page lock
 * or evict_lock held.  Takes other processes' mmap_locks and hdev->lock.
 *
 * Return: true if free pages may now be available.
 */
bool hmm_dummy_evict_wait(struct hmm_dummy_device *hdev, unsigned long want)
{
	struct hmm_dummy_evict_ctx ctx = { .hdev = hdev };
	unsigned long done = 0, free;
	struct hmm_dummy_victim *v;

	might_sleep();
	lockdep_assert_not_held(&hdev->evict_lock);
	free = READ_ONCE(hdev->nr_free);
	if (free >= want)
		return true;
	ctx.src = alloc_evict_buffers(&v);
	if (!ctx.src)
		return false;
	done = evict_rounds(&ctx, v, want - free);
	kfree(v);
	kfree(ctx.src);
	return done || READ_ONCE(hdev->nr_free);
}

/**
 * hmm_dummy_evict_pfns() - migrate device folios back by pfn
 * @hdev: the device
 * @pfn:  first device pfn
 * @n:    pfns, at most HMM_DUMMY_RUN_PAGES
 * @src:  room for 2 * HMM_DUMMY_RUN_PAGES entries
 *
 * Migrates the in-use folios among the @n device pfns from @pfn back to
 * system memory, wherever they are mapped, with migrate_device_pfns()
 * (only the pages in use; 7.3 has it, 6.12 does not) or else
 * migrate_device_range().  Only for unload, and only for folios that
 * eviction through their owner could not reach: neither pins an anon_vma,
 * so neither is safe against the mapping process exiting (see evict.c).
 * Caller holds evict_lock.
 *
 * The window must not cut a large device folio (the core drops one that
 * runs past its end), and since the core cannot split without a VMA, a
 * large folio needs a large system folio: when none can be had it stays on
 * the device, data intact, for a later try.  Busy pages
 * (locked by a migration or a fault in progress) are skipped.
 *
 * Context: process context, hdev->evict_lock held; no mmap_lock needed.
 *
 * Return: the pages moved.
 */
static unsigned long hmm_dummy_evict_pfns(struct hmm_dummy_device *hdev,
					  unsigned long pfn, unsigned long n,
					  unsigned long *src)
{
	unsigned long *dst = src + HMM_DUMMY_RUN_PAGES;
	unsigned long i, j, k = 0, nr, win = n;
	struct hmm_dummy_moved m = {};
	struct hmm_dummy_job *job;

	lockdep_assert_held(&hdev->evict_lock);
	/* Before the core locks the pages: allocating may wait. */
	job = hmm_dummy_job_alloc(HMM_DUMMY_JOB_UNLOAD, n);
	if (!job)
		return 0;
	/*
	 * The pages in use, in pfn order; under the lock, so that a large
	 * folio is listed with all its pages or not at all.  Any of them may
	 * be freed before the core gets to it: it then finds no reference to
	 * take and skips the page.
	 */
	hmm_dummy_lock(hdev);
	for (i = 0; i < n; i++)
		if (hdev->dpages[pfn - hdev->pfn_first + i].in_use)
			src[k++] = pfn + i;
	hmm_dummy_unlock(hdev);
	n = hmm_dummy_migrate_device_pfns(src, k, pfn, n);
	for (i = 0; i < n; i++) {
		struct page *spage = migrate_pfn_to_page(src[i]);
		struct folio *sfolio, *folio;
		struct page *dpage;

		dst[i] = 0;
		if (!spage || !(src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		if (!(src[i] & HMM_DUMMY_PFN_COMPOUND)) {
			dpage = alloc_page(GFP_HIGHUSER_MOVABLE);
			if (!dpage)
				continue;
			lock_page(dpage);
			hmm_dummy_job_add(job, dpage, spage);
			dst[i] = migrate_pfn(page_to_pfn(dpage));
			continue;
		}
		sfolio = page_folio(spage);
		folio = hmm_dummy_sys_folio_alloc(NULL, 0, folio_order(sfolio));
		if (!folio)
			continue;
		folio_lock(folio);
		nr = folio_nr_pages(sfolio);
		for (j = 0; j < nr; j++)
			hmm_dummy_job_add(job, folio_page(folio, j),
					  folio_page(sfolio, j));
		dst[i] = migrate_pfn(folio_pfn(folio)) | HMM_DUMMY_PFN_COMPOUND;
	}
	/* A failed copy leaves every page on the device for a later try. */
	job->wait_at_once = true;
	if (hmm_dummy_engine_wait(hmm_dummy_engine_submit(hdev, job)))
		hmm_dummy_drop_dst(dst, n);
	migrate_device_pages(src, dst, n);
	hmm_dummy_add_moved(&m, src, dst, n);
	migrate_device_finalize(src, dst, n);
	hmm_dummy_count(hdev, HMM_DUMMY_CNT_TO_SYS_EVICT, m.pages);
	hmm_dummy_count(hdev, HMM_DUMMY_CNT_LARGE_TO_SYS, m.large);
	trace_hmm_dummy_evict_pfns(hdev->index, pfn, win, m.pages);
	return m.pages;
}

/**
 * evict_unreachable() - evict by pfn the folios no owner was found for
 * @hdev: the device
 * @src:  migration arrays, see alloc_evict_buffers()
 *
 * The last resort at unload: run by run (a run is the most a large folio
 * covers and never cuts one).
 *
 * Context: process context (unload), may sleep; evict_lock not held (taken
 * here), nor any mmap_lock.
 *
 * Return: the pages moved.
 */
static unsigned long evict_unreachable(struct hmm_dummy_device *hdev,
				       unsigned long *src)
{
	unsigned long r, done = 0;

	lockdep_assert_not_held(&hdev->evict_lock);
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
 * Context: process context (unload), may sleep for seconds; no lock held.
 * Waits for mmap_locks; takes evict_lock and hdev->lock.
 *
 * Return: the pages still in use at the end (0 unless something held on
 * to device pages for seconds).
 */
unsigned long hmm_dummy_evict_all(struct hmm_dummy_device *hdev)
{
	struct hmm_dummy_evict_ctx ctx = { .hdev = hdev };
	unsigned long moved, left, k, n;
	struct hmm_dummy_victim *v;
	unsigned int round, idle = 0;

	ctx.src = alloc_evict_buffers(&v);
	if (!ctx.src)
		return hmm_dummy_in_use(hdev);
	for (round = 0; round < 1000; round++) {
		moved = 0;
		/* About one pass over the LRU. */
		for (k = 0; k <= hdev->npages / HMM_DUMMY_EVICT_BATCH; k++) {
			n = pick_victims(hdev, v, HMM_DUMMY_EVICT_BATCH,
					 ULONG_MAX);
			if (!n)
				break;
			moved += evict_victims(&ctx, v, n);
			cond_resched();
		}
		left = hmm_dummy_in_use(hdev);
		if (!left)
			break;
		idle = moved ? 0 : idle + 1;
		if (idle >= 10) {
			moved = evict_unreachable(hdev, ctx.src);
			idle = moved ? 0 : idle;
		}
		if (!moved)
			msleep(20);
	}
	kfree(v);
	kfree(ctx.src);
	return hmm_dummy_in_use(hdev);
}
