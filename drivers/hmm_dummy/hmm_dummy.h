/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmm_dummy: internal interfaces shared by the driver's files.
 *
 * Lock order (outer to inner):
 *   mmap_lock (read) -> page locks (migration) -> hdev->evict_lock
 *     -> [another process's mmap_lock, try-locked only]
 *     -> locks of large device folios (7.3's migrate_vma_setup() splits a
 *        PTE-mapped one under a sleeping folio_lock()), anon_vma locks
 *   page locks -> mirror->lock -> hdev->lock
 * Nobody waits for an mmap_lock while holding evict_lock, nor for a second
 * mmap_lock while holding one: hmm_dummy_evict_wait() and the unload path,
 * which do wait, hold neither (lockdep_assert_not_held() and
 * mmap_assert_locked() in evict.c check what each function needs).
 * Why no cycle forms through the sleeping folio locks: the only folios an
 * eviction waits for are mapped large device folios of its own device, and
 * whoever holds one of those (a CPU fault, the core splitting it, a
 * migration back that collected it whole) never waits for evict_lock, since
 * none of them allocates device memory, nor for another large folio: a CPU
 * fault on a PTE-mapped piece of a large folio migrates that page alone
 * (migrate.c).  A migration to the device that allocates for its next batch
 * while the previous one's copy is in flight holds that batch's new device
 * folios, which are neither mapped nor owned yet: no eviction reaches them.
 * Fences may be waited for under any of these locks: a copy job takes no
 * lock and allocates nothing (engine.c).
 * Documentation/hmm_dummy.rst, "Locking rules", has the full argument.
 * mirror->lock is taken from the mmu notifier, so nothing that can sleep on
 * memory reclaim, fault on user memory or take mmap_lock may run under it,
 * and nothing may wait for an invalidation to end under it or under a page
 * lock (mmu_interval_read_begin() is called with no lock held).
 * hdev->lock is a leaf spinlock protecting the allocator lists.
 */
#ifndef _HMM_DUMMY_H
#define _HMM_DUMMY_H

#include <linux/device.h>
#include <linux/dma-fence.h>
#include <linux/hashtable.h>
#include <linux/list.h>
#include <linux/memremap.h>
#include <linux/migrate.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/sched/clock.h>
#include <linux/sizes.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <linux/hmm_dummy.h>

/*
 * The driver's version: MODULE_VERSION, dkms.conf and `make install` all
 * read it from this line.
 */
#define HMM_DUMMY_VERSION		"1.0.0"

#define HMM_DUMMY_MAX_DEVICES		8
/* Pages per migrate_vma batch for ioctl-driven migrations (one PMD). */
#define HMM_DUMMY_MIGRATE_BATCH		512
/* The src and dst arrays of two such batches: one copying, one set up. */
#define HMM_DUMMY_RANGE_TO_SYS_PFNS	(4 * HMM_DUMMY_MIGRATE_BATCH)
/*
 * Pages per batch whose arrays live on the stack: the CPU fault path
 * (hence the bound of the fault_window parameter) and device atomics.
 */
#define HMM_DUMMY_STACK_BATCH		32
#define HMM_DUMMY_MAX_FAULT_WINDOW	HMM_DUMMY_STACK_BATCH
/* Device folios one eviction round takes off the LRU. */
#define HMM_DUMMY_EVICT_BATCH		64
/*
 * A large device folio is PMD-sized (the only size the core moves as one),
 * carved from a naturally aligned run of that many device pages.
 */
#define HMM_DUMMY_LARGE_ORDER		(PMD_SHIFT - PAGE_SHIFT)
#define HMM_DUMMY_RUN_PAGES		BIT(HMM_DUMMY_LARGE_ORDER)
/*
 * Special-purpose memory (coherent devices) is mapped by memremap_pages(),
 * which works in memory-hotplug subsections: 2 MiB on x86-64.
 */
#define HMM_DUMMY_SPM_ALIGN		SZ_2M

/*
 * Event counters (the table is counters.h); the allocator's gauges live
 * under hdev->lock.
 */
#define HMM_DUMMY_COUNTER(name, ...)	HMM_DUMMY_CNT_##name,
enum hmm_dummy_counter {
#include "counters.h"
	HMM_DUMMY_NR_COUNTERS
};

#undef HMM_DUMMY_COUNTER

/**
 * struct hmm_dummy_dpage - driver state of one device page
 *
 * The entry of a device folio's first page is also the folio's record, the
 * driver's per-folio data: the folio's zone_device_data points to it, and
 * it holds the folio's @order, @owner, @addr and place on the LRU.  The
 * entries live in an array as long as the device (hdev->dpages), so
 * folio_free and folio_split, which may run under spinlocks, never
 * allocate or free one; what a real driver's refcounted per-folio data
 * (drm_pagemap's zdd) protects, the device memory a job still uses, is
 * kept here by @users.
 *
 * @link:    while free: on its run's @free list, or on no list at all when
 *           the page is in the run's untouched tail (see hmm_dummy_run);
 *           while in use: on hdev->lru if the page is the first page of its
 *           device folio, on no list (empty) if it is a later page of a
 *           large one
 * @backing: system page holding the contents ("VRAM backing"); allocated the
 *           first time the device page is handed out, kept until the device
 *           goes away.  A large device folio has one backing page per page,
 *           so a split needs no copy.  A coherent device page is its own
 *           backing (set at init: the CPU maps it and reads it directly).
 * @in_use:  true between allocation and the folio_free of the folio the
 *           page belongs to by then
 * @users:   why the page is not free: 1 for its folio while @in_use, and
 *           1 for each copy job that reads or writes its backing
 *           (hmm_dummy_page_hold()).  The page goes back to its run when
 *           the count drops to 0, by folio_free or by the last job,
 *           whichever is later: so no job ever copies into a page that
 *           has been handed out again.  Counted per page, not per folio,
 *           so that a split (which reshapes folios, never pages) moves no
 *           reference.
 * @order:   for the first page of an in-use device folio, the folio's order
 *           as the driver last saw it (allocation or folio_split)
 * @owner:   for the first page of an in-use device folio that a migration
 *           has filled: the address space it was migrated into, kept
 *           alive by its hmm_dummy_owner record, which counts the folio
 *           until its folio_free; NULL otherwise.  Eviction finds the folio
 *           again through it.
 * @addr:    with @owner: the user address the folio was migrated to
 *           (stale after an mremap; eviction copes, see evict.c)
 */
struct hmm_dummy_dpage {
	struct list_head link;
	struct page *backing;
	bool in_use;
	refcount_t users;
	u8 order;
	struct mm_struct *owner;
	unsigned long addr;
};

/**
 * struct hmm_dummy_run - a naturally aligned run of HMM_DUMMY_RUN_PAGES
 * device pages (fewer at the ends of the device memory if it is not
 * aligned), the unit large device folios are carved from
 * @link:    on hdev->free_runs while wholly free and complete, on
 *           hdev->partial_runs while some of its pages are free and it is
 *           not (a broken or incomplete run), on no list while full or
 *           handed out as one large folio
 * @free:    free pages of the run below @fresh, given back one by one
 * @first:   index (in hdev->dpages) of the run's first page
 * @nr:      pages in the run
 * @fresh:   pages [@fresh, @nr) of the run are free and on no list: a run
 *           that becomes wholly free is reset to @fresh = 0 with an empty
 *           @free list in O(1), and pages are handed out from @free first,
 *           then from @fresh upwards
 * @nr_free: free pages of the run (@nr - @fresh + length of @free)
 */
struct hmm_dummy_run {
	struct list_head link;
	struct list_head free;
	unsigned long first;
	unsigned int nr;
	unsigned int fresh;
	unsigned int nr_free;
};

/**
 * struct hmm_dummy_owner - an address space device folios were migrated
 * into, as the device remembers it
 * @node:   in hdev->owners while @folios > 0, then on hdev->dead_owners
 *          until hmm_dummy_owner_reap() drops it
 * @mm:     the address space, with one mmgrab() reference for the record
 *          (the mm_struct and its pgd stay, not the memory)
 * @folios: device folios whose hmm_dummy_dpage.owner is @mm
 *
 * One reference per address space rather than one per folio, so that
 * folio_free, which the core often calls under a page table lock, only
 * ever decrements a count: dropping the last reference to an exited
 * process's mm_struct (__mmdrop() frees its pgd, taking pgd_lock on x86)
 * is left to a work item.
 */
struct hmm_dummy_owner {
	struct hlist_node node;
	struct mm_struct *mm;
	unsigned long folios;
};

#define HMM_DUMMY_OWNER_HASH_BITS	6

/* What a copy job is for: failure injection picks jobs by kind. */
enum hmm_dummy_job_kind {
	HMM_DUMMY_JOB_TO_DEV,		/* migration into device memory */
	HMM_DUMMY_JOB_TO_SYS,		/* migration back: ioctl, fault, eviction */
	HMM_DUMMY_JOB_ACCESS,		/* device READ/WRITE, read-back */
	HMM_DUMMY_JOB_UNLOAD,		/* emptying device memory at unload */
	HMM_DUMMY_NR_JOB_KINDS
};

#define HMM_DUMMY_JOB_KINDS_ALL		(BIT(HMM_DUMMY_NR_JOB_KINDS) - 1)

/*
 * Bits of hmm_dummy_copy.flags: which side of the copy is a DMA address
 * (the engine reaches it as the device would, see engine.c) rather than a
 * struct page.
 */
#define HMM_DUMMY_COPY_DST_DMA		BIT(0)
#define HMM_DUMMY_COPY_SRC_DMA		BIT(1)
/*
 * ...or a device page of an hmm_dummy device, held for the job
 * (hmm_dummy_page_hold()), whose backing the engine copies.
 */
#define HMM_DUMMY_COPY_DST_DEV		BIT(2)
#define HMM_DUMMY_COPY_SRC_DEV		BIT(3)

/**
 * struct hmm_dummy_copy - one page a copy job copies
 * @dst:     the page written
 * @dst_dma: with HMM_DUMMY_COPY_DST_DMA, the DMA address written instead
 * @src:     the page read; NULL (and no HMM_DUMMY_COPY_SRC_DMA): @dst is
 *           cleared
 * @src_dma: with HMM_DUMMY_COPY_SRC_DMA, the DMA address read instead
 * @flags:   HMM_DUMMY_COPY_*
 *
 * A side is a struct page where the device reaches memory without the DMA
 * API: device memory (a device page, HMM_DUMMY_COPY_*_DEV: the engine
 * copies its backing, and the job holds the page until it is done) and, in
 * this emulation,
 * the driver's kernel buffers and pinned user pages, which a real driver
 * would map as well.  It is a DMA address for the system pages a mirror
 * maps (mirror.c): that address is all a real device gets.
 */
struct hmm_dummy_copy {
	union {
		struct page *dst;
		dma_addr_t dst_dma;
	};
	union {
		struct page *src;
		dma_addr_t src_dma;
	};
	unsigned int flags;
};

/**
 * struct hmm_dummy_job - a list of pages for the copy engine (engine.c)
 * @fence:  completes the job; first member, its default release frees
 *          the job
 * @work:   the job on the engine's queue
 * @hdev:   the device whose engine runs it
 * @kind:   what it is for
 * @wait_at_once: the submitter waits for the job right after submitting
 *          it, with nothing to do meanwhile (a device access, a CPU
 *          fault, a batch holding a large folio, which the pipeline
 *          finishes at once, an unload copy): the engine may run it in
 *          the submitter when it is idle (engine.c)
 * @n:      pairs in @copies
 * @max:    room in @copies
 * @copies: the pages
 */
struct hmm_dummy_job {
	struct dma_fence fence;
	struct work_struct work;
	struct hmm_dummy_device *hdev;
	enum hmm_dummy_job_kind kind;
	bool wait_at_once;
	unsigned long n;
	unsigned long max;
	struct hmm_dummy_copy copies[];
};

/**
 * struct hmm_dummy_engine - a device's copy engine
 * @lock:    the lock of its fences (dma_fence_init()); also protects
 *           @seqno, @queued and @in_flight
 * @context: the fence context of the queued jobs: they signal in order
 * @seqno:   the last queued job's sequence number
 * @queued:  jobs on @wq not yet completed
 * @in_flight: jobs submitted and not yet completed, wherever they run
 * @wq:      the ordered workqueue the jobs run on (copy_engine=async)
 */
struct hmm_dummy_engine {
	spinlock_t lock;		/* fences, see above */
	u64 context;
	u64 seqno;
	unsigned long queued;
	unsigned long in_flight;
	struct workqueue_struct *wq;
};

/**
 * struct hmm_dummy_device - one dummy device and its device memory
 * @index:       N of /dev/hmm_dummyN (its minor number, relative)
 * @dev:         the class device (sysfs stats live under it); NULL only
 *               while a failed device is taken down
 * @dma_dev:     the device the DMA API maps system pages for (a PCI
 *               function or a faux/platform device, see dma_dev.c), the
 *               class device's parent
 * @pgmap:       the ZONE_DEVICE mapping of the device memory: device-private,
 *               or device-coherent over special-purpose memory
 *               (spm_addr_dev0/1, hmm_dummy_coherent()); pgmap.owner is
 *               this device, or with peer_group the owner all devices
 *               share (hmm_dummy_owner()): the page's pgmap, never the
 *               owner, tells whose page it is (hmm_dummy_is_own_page())
 * @res:         the physical address range reserved for @pgmap (a free
 *               range for device-private memory, the special-purpose
 *               memory itself for coherent memory)
 * @pfn_first:   first pfn of the device memory
 * @npages:      capacity in pages
 * @dpages:      per-page driver state, indexed by pfn - @pfn_first
 * @runs:        the runs of device memory, see hmm_dummy_run
 * @nr_runs:     entries in @runs
 * @lock:        protects @runs, @free_runs, @partial_runs, @lru, @nr_free,
 *               @peak_in_use, @owners, @dead_owners and the @link,
 *               @in_use, @order, @owner and @addr fields of @dpages
 * @free_runs:   complete runs that are wholly free (large allocations)
 * @partial_runs: runs with free pages that are broken (some pages in use)
 *               or incomplete: small allocations take from these first
 * @lru:         in-use device folios (their first pages), least recently
 *               used first
 * @nr_free:     free device pages
 * @peak_in_use: highest number of in-use pages seen
 * @lock_acquired:  times @lock was taken (hmm_dummy_lock())
 * @lock_contended: times a taker found @lock held and had to wait
 * @lock_wait_ns:   total time takers waited for @lock
 * @owners:      the hmm_dummy_owner records of the address spaces that
 *               device folios are in, hashed by mm
 * @dead_owners: records no folio counts any more, for @owner_work
 * @owner_work:  drops the records on @dead_owners (hmm_dummy_owner_reap())
 * @evict_lock:  serialises evictions so concurrent allocators do not all
 *               evict for the same shortage, and keeps new device folios
 *               from being initialised under the unload-time evictor
 * @engine:      the copy engine
 * @counters:    event counters, see enum hmm_dummy_counter
 */
struct hmm_dummy_device {
	unsigned int index;
	struct device *dev;
	struct device *dma_dev;
	struct dev_pagemap pgmap;
	struct resource *res;
	unsigned long pfn_first;
	unsigned long npages;
	struct hmm_dummy_dpage *dpages;
	struct hmm_dummy_run *runs;
	unsigned long nr_runs;

	spinlock_t lock;		/* allocator state, see above */
	struct list_head free_runs;
	struct list_head partial_runs;
	struct list_head lru;
	unsigned long nr_free;
	unsigned long peak_in_use;
	u64 lock_acquired;		/* the three under @lock */
	u64 lock_contended;
	u64 lock_wait_ns;
	DECLARE_HASHTABLE(owners, HMM_DUMMY_OWNER_HASH_BITS);
	struct hlist_head dead_owners;
	struct work_struct owner_work;
	struct mutex evict_lock;	/* one eviction at a time */
	struct hmm_dummy_engine engine;

	atomic64_t counters[HMM_DUMMY_NR_COUNTERS];
};

/*
 * The allocator lock is taken for every allocation and every folio_free,
 * from every process migrating to the device, so it is the first place a
 * scaling problem would show.  Its takers count themselves: how often it
 * was taken, how often it was already held, and how long they waited
 * (HMM_DUMMY_STATS version 3).  The counters are written with the lock
 * held, so they need no atomics, and the clock is read only when a taker
 * has to wait: the uncontended path costs one trylock and an increment.
 */
static inline void hmm_dummy_lock(struct hmm_dummy_device *hdev)
	__acquires(&hdev->lock)
{
	u64 t;

	if (likely(spin_trylock(&hdev->lock))) {
		hdev->lock_acquired++;
		return;
	}
	t = local_clock();
	spin_lock(&hdev->lock);
	hdev->lock_acquired++;
	hdev->lock_contended++;
	hdev->lock_wait_ns += local_clock() - t;
}

static inline void hmm_dummy_unlock(struct hmm_dummy_device *hdev)
	__releases(&hdev->lock)
{
	spin_unlock(&hdev->lock);
}

/**
 * struct hmm_dummy_mirror - the device's view of one process (one open file)
 * @hdev:     the device
 * @mm:       the process address space the file was opened in (mmgrab'ed)
 * @notifiers: the interval notifiers watching @mm, one per region of the
 *            address space the device has touched (mirror.c)
 * @lock:     protects @pt; held across every access the device makes
 *            through @pt so that an invalidation waits for it
 * @pt:       the device page table: user pfn index -> the DMA address of
 *            a system page or a device page's struct page, tagged with
 *            the access (mirror.c)
 * @flags:    HMM_DUMMY_MIRROR_* bits (HMM_DMIRROR_FLAGS)
 * @access_fence: the fence of the last device access job, under @lock;
 *            an invalidation waits for it (mirror.c)
 */
struct hmm_dummy_mirror {
	struct hmm_dummy_device *hdev;
	struct mm_struct *mm;
	struct xarray notifiers;
	struct mutex lock;		/* device page table, see above */
	struct xarray pt;
	unsigned long flags;
	struct dma_fence *access_fence;
};

/*
 * Bits of hmm_dummy_mirror.flags.  FAIL_ALLOC (HMM_DMIRROR_FLAG_FAIL_ALLOC):
 * the next allocation a migration of this file makes fails once (see
 * struct hmm_dummy_fail_scope).
 */
#define HMM_DUMMY_MIRROR_FAIL_ALLOC	0

/* The allocations FAIL_ALLOC applies to, one kind per migration direction. */
enum hmm_dummy_alloc_kind {
	HMM_DUMMY_ALLOC_DEVICE,		/* MIGRATE_TO_DEV */
	HMM_DUMMY_ALLOC_SYSTEM,		/* MIGRATE_TO_SYS, RELEASE */
};

/**
 * struct hmm_dummy_fail_scope - a migration one file asked for, as the
 * allocators see it
 * @node:   on the list hmm_dummy_should_fail_alloc() looks in
 * @task:   the task running the migration; NULL: no failure is pending
 *          and the scope is on no list
 * @mirror: the file, whose FAIL_ALLOC the allocations of @kind consume
 * @kind:   the allocations the failure is for
 *
 * FAIL_ALLOC is a test hook of the ioctl ABI: the next allocation that a
 * migration through this file makes fails once.  The migration says which
 * file it works for once, at its entry point, and the allocators find out
 * for themselves (as the kernel's should_fail() does for a task), so that
 * nothing between them carries the file.  An allocation of the other kind
 * made meanwhile (an eviction's, inside a migration to the device) and CPU
 * faults, which run in no scope, never consume it.
 */
struct hmm_dummy_fail_scope {
	struct list_head node;
	struct task_struct *task;
	struct hmm_dummy_mirror *mirror;
	enum hmm_dummy_alloc_kind kind;
};

/* main.c: test hooks (FAIL_ALLOC, inject_init_failure) */
bool hmm_dummy_fail_scope_enter(struct hmm_dummy_fail_scope *scope,
				struct hmm_dummy_mirror *mirror,
				enum hmm_dummy_alloc_kind kind);
void hmm_dummy_fail_scope_exit(struct hmm_dummy_fail_scope *scope);
bool hmm_dummy_should_fail_alloc(enum hmm_dummy_alloc_kind kind);
int hmm_dummy_init_fault(void);

/* Module parameters (main.c). */
extern unsigned int hmm_dummy_fault_window;
extern bool hmm_dummy_peer_migration;
extern bool hmm_dummy_peer_group;
extern unsigned int hmm_dummy_num_devices;
extern struct hmm_dummy_device *hmm_dummy_devices[HMM_DUMMY_MAX_DEVICES];

static inline void hmm_dummy_count(struct hmm_dummy_device *hdev,
				   enum hmm_dummy_counter c, long n)
{
	atomic64_add(n, &hdev->counters[c]);
}

/*
 * Test hooks that fail the next N operations of a kind (engine_fail_jobs,
 * dma_fail_maps): consume one of the failures *@pending holds, if any.
 * The module parameter may be written at any time, hence the cmpxchg.
 */
static inline bool hmm_dummy_take_failure(unsigned int *pending)
{
	unsigned int n = READ_ONCE(*pending);

	do {
		if (!n)
			return false;
	} while (!try_cmpxchg(pending, &n, n - 1));
	return true;
}

/**
 * hmm_dummy_owner() - the owner @hdev gives hmm_range_fault() and migrate_vma
 * @hdev: the device
 *
 * Its pgmap.owner: @hdev itself, or with peer_group the cookie every
 * device shares, so that the core hands over the pages of all of them.
 * Code that needs to know whether a page is @hdev's own must ask
 * hmm_dummy_is_own_page(), which compares the page's pgmap.
 *
 * Return: the owner.
 */
static inline void *hmm_dummy_owner(struct hmm_dummy_device *hdev)
{
	return hdev->pgmap.owner;
}

/**
 * hmm_dummy_coherent() - is @hdev's memory device-coherent?
 * @hdev: the device
 *
 * Coherent device memory is memory the CPU reaches directly (a CPU-coherent
 * accelerator's, an APU's carve-out): the core maps its pages in the CPU
 * page tables like system pages, so the CPU never faults on them and they
 * are their own backing.  Device-private memory is not addressable by the
 * CPU: its pages are mapped as special swap entries and a CPU access
 * faults them back (migrate_to_ram).
 *
 * Return: true for coherent memory.
 */
static inline bool hmm_dummy_coherent(struct hmm_dummy_device *hdev)
{
	return hdev->pgmap.type == MEMORY_DEVICE_COHERENT;
}

/**
 * hmm_dummy_select_device() - the migrate_vma flag that collects @hdev's
 * pages
 * @hdev: the device
 *
 * Return: MIGRATE_VMA_SELECT_DEVICE_COHERENT or _PRIVATE.
 */
static inline unsigned long hmm_dummy_select_device(struct hmm_dummy_device *hdev)
{
	return hmm_dummy_coherent(hdev) ? MIGRATE_VMA_SELECT_DEVICE_COHERENT :
					  MIGRATE_VMA_SELECT_DEVICE_PRIVATE;
}

/* devmem.c: device memory and its allocator */
int hmm_dummy_devmem_init(struct hmm_dummy_device *hdev, unsigned long size,
			  phys_addr_t spm_addr);
void hmm_dummy_devmem_fini(struct hmm_dummy_device *hdev);
bool hmm_dummy_is_own_page(struct hmm_dummy_device *hdev, struct page *page);

/**
 * hmm_dummy_device_memory() - does @hdev reach @page without the DMA API?
 * @hdev: the device
 * @page: a page the device is about to access
 *
 * Its own memory, private or coherent, and (peer_group) a peer's private
 * memory, which the core only hands over to a device that shares its
 * owner: these are reached through their backing (a coherent page is its
 * own), as a GPU reaches its VRAM and a peer's over its link.  Everything
 * else, system memory and a peer's coherent memory (which the CPU maps as
 * it maps system memory), is DMA-mapped first (mirror.c).  Inline, and a
 * system page costs one flag test: the mirror asks for every page it maps.
 *
 * Return: true for device memory the device reaches directly.
 */
static inline bool hmm_dummy_device_memory(struct hmm_dummy_device *hdev,
					   struct page *page)
{
	return is_zone_device_page(page) &&
	       (is_device_private_page(page) ||
		hmm_dummy_is_own_page(hdev, page));
}

struct hmm_dummy_device *hmm_dummy_page_device(struct page *page);
bool hmm_dummy_is_device_page(struct page *page);
struct page *hmm_dummy_page_backing(struct page *page);
void hmm_dummy_page_hold(struct page *page);
void hmm_dummy_page_unhold(struct page *page);
unsigned long hmm_dummy_alloc_pages(struct hmm_dummy_device *hdev,
				    struct page **pages, unsigned long n,
				    struct mm_struct *locked_mm, bool *busy);
void hmm_dummy_set_owner(struct hmm_dummy_device *hdev, struct mm_struct *mm,
			 unsigned long start, const unsigned long *dst,
			 unsigned long n);
struct page *hmm_dummy_alloc_large(struct hmm_dummy_device *hdev);
void hmm_dummy_lru_touch(struct hmm_dummy_device *hdev, struct page *page);
unsigned long hmm_dummy_in_use(struct hmm_dummy_device *hdev);
void hmm_dummy_fill_stats(struct hmm_dummy_device *hdev,
			  struct hmm_dummy_stats *st);
extern const struct dev_pagemap_ops hmm_dummy_pagemap_ops;

/* dma_dev.c: the struct device each device maps system pages for */
int hmm_dummy_dma_devs_init(void);
void hmm_dummy_dma_devs_exit(void);
struct device *hmm_dummy_dma_dev_get(unsigned int index);
void hmm_dummy_dma_dev_put(struct device *dev);

/* engine.c: the copy engine */
int hmm_dummy_engine_param_check(void);
int hmm_dummy_engine_init(struct hmm_dummy_device *hdev);
void hmm_dummy_engine_fini(struct hmm_dummy_device *hdev);
struct hmm_dummy_job *hmm_dummy_job_alloc(enum hmm_dummy_job_kind kind,
					  unsigned long n);
void hmm_dummy_job_free(struct hmm_dummy_job *job);
void hmm_dummy_job_truncate(struct hmm_dummy_job *job, unsigned long n);
void hmm_dummy_job_add(struct hmm_dummy_job *job, struct page *dst,
		       struct page *src);
void hmm_dummy_job_add_dma(struct hmm_dummy_job *job, struct page *page,
			   dma_addr_t dma, bool to_dma);
struct dma_fence *hmm_dummy_engine_submit(struct hmm_dummy_device *hdev,
					  struct hmm_dummy_job *job);
int hmm_dummy_engine_wait(struct dma_fence *fence);
unsigned long hmm_dummy_engine_in_flight(struct hmm_dummy_device *hdev);

/* migrate.c: moving pages between system and device memory */
long hmm_dummy_migrate_to_dev(struct hmm_dummy_mirror *mirror,
			      unsigned long start, unsigned long end);
long hmm_dummy_migrate_to_sys(struct hmm_dummy_mirror *mirror,
			      unsigned long start, unsigned long end,
			      bool holes);
/**
 * struct hmm_dummy_select - which collected device pages a migration back
 * may move (embedded in the caller's own state, see evict.c)
 * @fn: true if @page may move; called with @page locked and unmapped
 */
struct hmm_dummy_select {
	bool (*fn)(const struct hmm_dummy_select *sel, struct page *page);
};

long hmm_dummy_range_to_sys(struct hmm_dummy_mirror *mirror,
			    struct hmm_dummy_device *hdev,
			    struct mm_struct *mm, unsigned long start,
			    unsigned long end, unsigned long *src,
			    enum hmm_dummy_counter reason,
			    const struct hmm_dummy_select *select);
/**
 * struct hmm_dummy_moved - what migration batches moved, for the counters
 * @pages: pages moved (a large folio counts its pages)
 * @large: large folios moved whole
 */
struct hmm_dummy_moved {
	unsigned long pages;
	unsigned long large;
};

void hmm_dummy_add_moved(struct hmm_dummy_moved *m, const unsigned long *src,
			 const unsigned long *dst, unsigned long n);
bool hmm_dummy_vma_migratable(struct vm_area_struct *vma);
void hmm_dummy_drop_dst(unsigned long *dst, unsigned long n);
vm_fault_t hmm_dummy_migrate_to_ram(struct vm_fault *vmf);

/* evict.c: making room in device memory, and emptying it at unload */
bool hmm_dummy_evict(struct hmm_dummy_device *hdev, unsigned long want,
		     struct mm_struct *locked_mm, bool *busy);
bool hmm_dummy_evict_wait(struct hmm_dummy_device *hdev, unsigned long want);
unsigned long hmm_dummy_evict_all(struct hmm_dummy_device *hdev);

/* mirror.c: the device page table and device access to process memory */
int hmm_dummy_mirror_init(struct hmm_dummy_mirror *mirror,
			  struct hmm_dummy_device *hdev, struct mm_struct *mm);
void hmm_dummy_mirror_fini(struct hmm_dummy_mirror *mirror);
int hmm_dummy_mirror_rw(struct hmm_dummy_mirror *mirror,
			struct hmm_dmirror_cmd *cmd, bool write, bool unlocked);
int hmm_dummy_mirror_read_local(struct hmm_dummy_mirror *mirror,
				struct hmm_dmirror_cmd *cmd);
int hmm_dummy_mirror_snapshot(struct hmm_dummy_mirror *mirror,
			      struct hmm_dmirror_cmd *cmd);
int hmm_dummy_mirror_exclusive(struct hmm_dummy_mirror *mirror,
			       struct hmm_dmirror_cmd *cmd);
int hmm_dummy_mirror_check_exclusive(struct hmm_dummy_mirror *mirror,
				     struct hmm_dmirror_cmd *cmd);

/*
 * Operations and phase boundaries of the hmm_dummy_phase event (trace.h).
 * A batch of a migration goes BEGIN, SETUP, ALLOC, COPY, PAGES, FINALIZE,
 * each event marking the end of that phase (BEGIN: the start); the read-back
 * after MIGRATE_TO_DEV is BEGIN, COPY.
 */
enum hmm_dummy_trace_op {
	HMM_DUMMY_OP_TO_DEV,
	HMM_DUMMY_OP_TO_SYS,
	HMM_DUMMY_OP_FAULT,
	HMM_DUMMY_OP_READBACK,
};

enum hmm_dummy_trace_phase {
	HMM_DUMMY_PHASE_BEGIN,
	HMM_DUMMY_PHASE_SETUP,
	HMM_DUMMY_PHASE_ALLOC,
	HMM_DUMMY_PHASE_COPY,
	HMM_DUMMY_PHASE_PAGES,
	HMM_DUMMY_PHASE_FINALIZE,
};

/* sysfs.c */
extern const struct attribute_group *hmm_dummy_groups[];

#endif /* _HMM_DUMMY_H */
