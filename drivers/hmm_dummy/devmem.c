// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_dummy device memory: a fixed-size device-private ZONE_DEVICE region
 * per device and the allocator that hands its pages out.
 *
 * The life of a device page:
 *   free (on free_list, refcount 0)
 *     -> hmm_dummy_alloc_pages(): moved to the LRU, zone_device_page_init()
 *        gives it refcount 1 and the page lock; the migration copies data
 *        into its backing and maps it into the process
 *     -> in use: mapped by one or more processes (fork shares it), found by
 *        CPU faults (migrate_to_ram), evictions and the device mirror
 *     -> the last reference goes away (unmap, exit, migration back)
 *     -> the core calls hmm_dummy_folio_free() (dev_pagemap_ops.folio_free,
 *        page_free before 6.19): back on free_list.
 * Nothing else frees a device page: the free callback is the only way back
 * into the allocator.
 */
#include <linux/delay.h>
#include <linux/highmem.h>
#include <linux/ioport.h>
#include <linux/mm.h>
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
 */
struct hmm_dummy_device *hmm_dummy_page_device(struct page *page)
{
	return container_of(hmm_dummy_pgmap(page), struct hmm_dummy_device,
			    pgmap);
}

bool hmm_dummy_is_own_page(struct hmm_dummy_device *hdev, struct page *page)
{
	return is_device_private_page(page) &&
	       hmm_dummy_pgmap(page) == &hdev->pgmap;
}

/**
 * hmm_dummy_page_backing() - the system page holding a device page's data
 * @page: an in-use device page of an hmm_dummy device
 *
 * The caller must keep @page in use (hold its lock or a reference, or hold
 * a mirror lock under which the page is known mapped) for the result to be
 * meaningful; the backing page itself lives as long as the device.
 */
struct page *hmm_dummy_page_backing(struct page *page)
{
	struct hmm_dummy_device *hdev = hmm_dummy_page_device(page);

	return page_to_dpage(hdev, page)->backing;
}

/**
 * hmm_dummy_folio_free() - dev_pagemap_ops free callback
 * @folio: a device folio whose last reference just went away
 *
 * The only way a device page gets back into the allocator.
 */
void hmm_dummy_folio_free(struct folio *folio)
{
	struct page *page = &folio->page;
	struct hmm_dummy_device *hdev = hmm_dummy_page_device(page);
	struct hmm_dummy_dpage *dp = page_to_dpage(hdev, page);

	/*
	 * Refcount is zero: nobody can reach this page any more, so its
	 * state is ours alone until it is handed out again.
	 */
	WARN_ON_ONCE(folio_test_large(folio));
	spin_lock(&hdev->lock);
	WARN_ON_ONCE(!dp->in_use);
	dp->in_use = false;
	list_move(&dp->link, &hdev->free_list);
	hdev->nr_free++;
	spin_unlock(&hdev->lock);
	hmm_dummy_count(hdev, HMM_DUMMY_CNT_PAGE_FREES, 1);
}

const struct dev_pagemap_ops hmm_dummy_pagemap_ops = {
	HMM_DUMMY_PAGEMAP_FREE_OP,
	.migrate_to_ram	= hmm_dummy_migrate_to_ram,
};

/* Take up to @n pages off the free list; returns how many were taken. */
static unsigned long take_free(struct hmm_dummy_device *hdev,
			       struct hmm_dummy_dpage **dps, unsigned long n)
{
	unsigned long i, in_use;

	spin_lock(&hdev->lock);
	for (i = 0; i < n && !list_empty(&hdev->free_list); i++) {
		dps[i] = list_first_entry(&hdev->free_list,
					  struct hmm_dummy_dpage, link);
		dps[i]->in_use = true;
		list_move_tail(&dps[i]->link, &hdev->lru);
	}
	hdev->nr_free -= i;
	in_use = hdev->npages - hdev->nr_free;
	if (in_use > hdev->peak_in_use)
		hdev->peak_in_use = in_use;
	spin_unlock(&hdev->lock);
	return i;
}

/* Give back a page that take_free() handed out but that never got used. */
static void untake(struct hmm_dummy_device *hdev, struct hmm_dummy_dpage *dp)
{
	spin_lock(&hdev->lock);
	dp->in_use = false;
	list_move(&dp->link, &hdev->free_list);
	hdev->nr_free++;
	spin_unlock(&hdev->lock);
}

/**
 * hmm_dummy_alloc_pages() - allocate device pages, evicting if needed
 * @hdev:  the device
 * @pages: filled with the allocated pages
 * @n:     number of pages wanted
 *
 * Each returned page has refcount 1, is locked (zone_device_page_init) and
 * is on the LRU; its backing holds stale data that the caller overwrites.
 * When the free list runs dry the least recently used pages are evicted to
 * system memory and the allocation retried.
 *
 * Return: the number of pages allocated, which is less than @n only when
 * nothing more could be evicted (or backing memory could not be allocated).
 */
unsigned long hmm_dummy_alloc_pages(struct hmm_dummy_device *hdev,
				    struct page **pages, unsigned long n)
{
	struct hmm_dummy_dpage *dps[HMM_DUMMY_EVICT_BATCH];
	unsigned long got = 0, i, nr;
	bool oom = false;
	int stalls = 0;

	while (got < n && !oom) {
		nr = take_free(hdev, dps, min_t(unsigned long, n - got,
						ARRAY_SIZE(dps)));
		if (!nr) {
			/*
			 * Pages freed by an eviction may be taken by another
			 * allocator first: retry a bounded number of times,
			 * and stop at once when nothing could be evicted.
			 */
			if (++stalls > 16 || !hmm_dummy_evict(hdev, n - got))
				break;
			continue;
		}
		for (i = 0; i < nr; i++) {
			if (likely(dps[i]->backing))
				continue;
			/*
			 * Charged to the memory cgroup of the process whose
			 * migration needs it; kept (and charged) until the
			 * device goes away, like a cache.
			 */
			dps[i]->backing = alloc_page(GFP_KERNEL_ACCOUNT);
			if (!dps[i]->backing) {
				oom = true;
				while (nr > i)
					untake(hdev, dps[--nr]);
				break;
			}
			hmm_dummy_count(hdev, HMM_DUMMY_CNT_BACKING_PAGES, 1);
		}
		/*
		 * zone_device_page_init() raises the refcount to 1 before it
		 * takes the page lock.  An eviction that found the page in
		 * that window would take a reference and the lock of a page
		 * that is not mapped yet; evictions hold evict_lock, so
		 * initialise under it and they only ever see free pages
		 * (refcount 0, skipped) or locked ones (trylock fails).
		 */
		mutex_lock(&hdev->evict_lock);
		for (i = 0; i < nr; i++) {
			pages[got] = dpage_to_page(hdev, dps[i]);
			hmm_dummy_device_page_init(pages[got], &hdev->pgmap);
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
 * hmm_dummy_lru_touch() - mark a device page as just used by the device
 * @hdev: the device owning @page
 * @page: an in-use device page (the caller keeps it in use)
 */
void hmm_dummy_lru_touch(struct hmm_dummy_device *hdev, struct page *page)
{
	struct hmm_dummy_dpage *dp = page_to_dpage(hdev, page);

	spin_lock(&hdev->lock);
	if (dp->in_use)
		list_move_tail(&dp->link, &hdev->lru);
	spin_unlock(&hdev->lock);
}

unsigned long hmm_dummy_in_use(struct hmm_dummy_device *hdev)
{
	unsigned long in_use;

	spin_lock(&hdev->lock);
	in_use = hdev->npages - hdev->nr_free;
	spin_unlock(&hdev->lock);
	return in_use;
}

void hmm_dummy_fill_stats(struct hmm_dummy_device *hdev,
			  struct hmm_dummy_stats *st)
{
	atomic64_t *c = hdev->counters;

	st->version = HMM_DUMMY_STATS_VERSION;
	spin_lock(&hdev->lock);
	st->capacity = hdev->npages;
	st->free = hdev->nr_free;
	st->in_use = hdev->npages - hdev->nr_free;
	st->peak_in_use = hdev->peak_in_use;
	spin_unlock(&hdev->lock);
	st->allocations = atomic64_read(&c[HMM_DUMMY_CNT_ALLOCATIONS]);
	st->page_free_calls = atomic64_read(&c[HMM_DUMMY_CNT_PAGE_FREES]);
	st->alloc_failures = atomic64_read(&c[HMM_DUMMY_CNT_ALLOC_FAILURES]);
	st->migrated_to_dev = atomic64_read(&c[HMM_DUMMY_CNT_TO_DEV]);
	st->migrated_to_sys_ioctl =
		atomic64_read(&c[HMM_DUMMY_CNT_TO_SYS_IOCTL]);
	st->migrated_to_sys_fault =
		atomic64_read(&c[HMM_DUMMY_CNT_TO_SYS_FAULT]);
	st->migrated_to_sys_evict =
		atomic64_read(&c[HMM_DUMMY_CNT_TO_SYS_EVICT]);
	st->cpu_faults = atomic64_read(&c[HMM_DUMMY_CNT_CPU_FAULTS]);
	st->device_faults = atomic64_read(&c[HMM_DUMMY_CNT_DEVICE_FAULTS]);
	st->evictions = atomic64_read(&c[HMM_DUMMY_CNT_EVICTIONS]);
	st->backing_pages = atomic64_read(&c[HMM_DUMMY_CNT_BACKING_PAGES]);
}

/**
 * hmm_dummy_devmem_init() - reserve and map the device memory of a device
 * @hdev: the device, with @index set
 * @size: bytes of device memory
 *
 * Return: 0 or a negative errno.
 */
int hmm_dummy_devmem_init(struct hmm_dummy_device *hdev, unsigned long size)
{
	unsigned long i;
	void *ptr;
	int ret;

	spin_lock_init(&hdev->lock);
	mutex_init(&hdev->evict_lock);
	INIT_LIST_HEAD(&hdev->free_list);
	INIT_LIST_HEAD(&hdev->lru);

	hdev->res = request_free_mem_region(&iomem_resource, size,
					    "hmm_dummy");
	if (IS_ERR(hdev->res))
		return PTR_ERR(hdev->res);

	hdev->npages = size >> PAGE_SHIFT;
	hdev->dpages = kvcalloc(hdev->npages, sizeof(*hdev->dpages),
				GFP_KERNEL);
	if (!hdev->dpages) {
		ret = -ENOMEM;
		goto err_region;
	}

	hdev->pgmap.type = MEMORY_DEVICE_PRIVATE;
	hdev->pgmap.range.start = hdev->res->start;
	hdev->pgmap.range.end = hdev->res->end;
	hdev->pgmap.nr_range = 1;
	hdev->pgmap.ops = &hmm_dummy_pagemap_ops;
	/* Distinct per device: peers' pages count as foreign. */
	hdev->pgmap.owner = hdev;
	ptr = memremap_pages(&hdev->pgmap, numa_node_id());
	if (IS_ERR(ptr)) {
		ret = PTR_ERR(ptr);
		goto err_dpages;
	}
	hdev->pfn_first = PHYS_PFN(hdev->res->start);

	/* Ascending pfns, so that fresh allocations are contiguous. */
	for (i = 0; i < hdev->npages; i++)
		list_add_tail(&hdev->dpages[i].link, &hdev->free_list);
	hdev->nr_free = hdev->npages;
	return 0;

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
 */
void hmm_dummy_devmem_fini(struct hmm_dummy_device *hdev)
{
	struct hmm_dummy_stats st = {};
	unsigned long i, left;
	int round;

	for (round = 0; round < 1000; round++) {
		hmm_dummy_evict_all(hdev, HMM_DUMMY_CNT_TO_SYS_EVICT);
		left = hmm_dummy_in_use(hdev);
		if (!left)
			break;
		/* Pages locked by a racing fault or migration: try again. */
		msleep(20);
	}
	if (left)
		dev_err(hdev->dev, "%lu device pages still in use at unload; waiting for them\n",
			left);

	memunmap_pages(&hdev->pgmap);

	hmm_dummy_fill_stats(hdev, &st);
	if (st.free != st.capacity || st.allocations != st.page_free_calls)
		dev_err(hdev->dev, "device pages leaked: %llu of %llu free, %llu allocations, %llu page_free calls\n",
			st.free, st.capacity, st.allocations,
			st.page_free_calls);
	else
		dev_info(hdev->dev, "all %llu device pages back in the allocator (%llu allocations, %llu pages evicted in total)\n",
			 st.capacity, st.allocations,
			 st.migrated_to_sys_evict);

	for (i = 0; i < hdev->npages; i++)
		if (hdev->dpages[i].backing)
			__free_page(hdev->dpages[i].backing);
	kvfree(hdev->dpages);
	release_mem_region(hdev->res->start, resource_size(hdev->res));
}
