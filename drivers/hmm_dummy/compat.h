/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel differences that hmm_dummy has to know about, kept in one place so
 * the rest of the driver reads like code for one kernel.  Features are
 * detected from the kernel headers by Kbuild (HMM_DUMMY_HAVE_*), not from
 * version numbers, so distribution backports are handled too.  The driver
 * supports 6.1, 6.12 and 7.3; Documentation/hmm_dummy.rst has the table.
 *
 * What each probe tells (6.1 has none of them but EXCLUSIVE_RANGE; 6.12
 * adds CONST_CLASS; 7.3 has all but EXCLUSIVE_RANGE):
 *  HAVE_CONST_CLASS     class_register() takes a const class (6.1's writes
 *                       into it, so there the class must not be const)
 *  HAVE_PAGE_PGMAP      page->pgmap moved to the folio: page_pgmap()
 *  HAVE_EXCLUSIVE_RANGE make_device_exclusive_range() for a range of pages;
 *                       its successor (6.15) make_device_exclusive() takes
 *                       one address and returns the folio locked
 *  HAVE_ZDPI_PGMAP      zone_device_page_init(page, pgmap, order)
 *  HAVE_FOLIO_FREE      dev_pagemap_ops.page_free(page) became
 *                       folio_free(folio) (6.19)
 *  HAVE_FOLIO_SPLIT     dev_pagemap_ops.folio_split (device-private THP)
 *  HAVE_DEVICE_THP      MIGRATE_VMA_SELECT_COMPOUND (device-private THP):
 *                       large device folios, MIGRATE_PFN_COMPOUND,
 *                       zone_device_folio_init(); without it every device
 *                       folio is a single page and the helpers below that
 *                       deal with large folios compile to nothing
 *  HAVE_RANGE_FAULT_UNLOCKED  hmm_range_fault_unlocked_timeout(), which
 *                       takes mmap_lock itself and lets handle_mm_fault()
 *                       drop it (userfaultfd)
 *  HAVE_MIGRATE_DEVICE_PFNS  migrate_device_pfns(): migrate back a list of
 *                       device pfns, not only a contiguous range
 *  HAVE_FAUX            the faux bus (6.15): a struct device with no
 *                       resources and no driver binding of one's own; a
 *                       platform device stands in for it before
 *  HAVE_HMM_DMA         hmm_dma_map_alloc() and friends (6.16): DMA
 *                       mapping of hmm_range_fault() results, with the
 *                       IOVA fast path under an IOMMU; dma_map_page()
 *                       per page before
 */
#ifndef _HMM_DUMMY_COMPAT_H
#define _HMM_DUMMY_COMPAT_H

#include <linux/dma-mapping.h>
#include <linux/gfp.h>
#include <linux/hmm.h>
#include <linux/memremap.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/rmap.h>
#include <linux/slab.h>
#ifdef HMM_DUMMY_HAVE_FAUX
#include <linux/device/faux.h>
#else
#include <linux/platform_device.h>
#endif
#ifdef HMM_DUMMY_HAVE_HMM_DMA
#include <linux/hmm-dma.h>
#include <linux/pci-p2pdma.h>
#endif

/*
 * struct dma_fence (the copy engine's completion) is built only with
 * DMA_SHARED_BUFFER, which every distribution kernel with a GPU driver has;
 * a kernel of one's own needs it selected (SYNC_FILE=y does).
 */
#if !IS_ENABLED(CONFIG_DMA_SHARED_BUFFER)
#error "hmm_dummy needs CONFIG_DMA_SHARED_BUFFER (struct dma_fence): set CONFIG_SYNC_FILE=y"
#endif

#ifdef HMM_DUMMY_HAVE_CONST_CLASS
#define hmm_dummy_class_const const
#else
#define hmm_dummy_class_const
#endif

/* Typed allocation (7.3 has it); older kernels get the same, spelt out. */
#ifndef kzalloc_obj
#define kzalloc_obj(obj, gfp)	kzalloc(sizeof(obj), gfp)
#endif

/* The dev_pagemap of a ZONE_DEVICE page (test is_zone_device_page first). */
static inline struct dev_pagemap *hmm_dummy_pgmap(struct page *page)
{
#ifdef HMM_DUMMY_HAVE_PAGE_PGMAP
	return page_pgmap(page);
#else
	return page->pgmap;
#endif
}

/*
 * Hand out a free order-0 device page: refcount 1, locked.  Where the
 * pgmap is passed, the core also resets what a previous (possibly large)
 * folio left behind in the page.
 */
static inline void hmm_dummy_device_page_init(struct page *page,
					      struct dev_pagemap *pgmap)
{
#ifdef HMM_DUMMY_HAVE_ZDPI_PGMAP
	zone_device_page_init(page, pgmap, 0);
#else
	zone_device_page_init(page);
#endif
}

/*
 * Device-private THP.  HMM_DUMMY_SELECT_COMPOUND is or-ed into the
 * migrate_vma flags, HMM_DUMMY_PFN_COMPOUND tested in and or-ed into the
 * migrate pfns: both are 0 where the kernel has no device THP, so the
 * large-folio branches of the driver are dead code there.
 */
#ifdef HMM_DUMMY_HAVE_DEVICE_THP
#define HMM_DUMMY_SELECT_COMPOUND	MIGRATE_VMA_SELECT_COMPOUND
#define HMM_DUMMY_PFN_COMPOUND		MIGRATE_PFN_COMPOUND
#else
#define HMM_DUMMY_SELECT_COMPOUND	0
#define HMM_DUMMY_PFN_COMPOUND		0UL
#endif

/* Can the core hand the driver, and take back, large device folios? */
static inline bool hmm_dummy_device_thp(void)
{
	return HMM_DUMMY_PFN_COMPOUND && thp_migration_supported();
}

/*
 * Hand out a free device folio of 2^@order pages (the caller made sure they
 * are all free): refcount 1, head locked, compound and rmappable when
 * @order > 0.  Only called with @order > 0 where hmm_dummy_device_thp().
 */
static inline void hmm_dummy_device_folio_init(struct page *page,
					       struct dev_pagemap *pgmap,
					       unsigned int order)
{
#ifdef HMM_DUMMY_HAVE_DEVICE_THP
	zone_device_folio_init(page_folio(page), pgmap, order);
#else
	WARN_ON_ONCE(order);
	hmm_dummy_device_page_init(page, pgmap);
#endif
}

/*
 * Does @vma's THP policy let a PMD-sized folio be mapped there?  The core
 * hands a driver a PMD-sized hole as one compound entry, and maps a
 * compound destination with one PMD, whatever the policy says, so the
 * driver asks it itself, both ways.  What a module can see of the policy is
 * the VMA's and the process's own: MADV_NOHUGEPAGE, PR_SET_THP_DISABLE
 * (vma_thp_disabled()).  The system-wide mode (transparent_hugepage/enabled
 * "never" or "madvise") is read through symbols the kernel does not export
 * (thp_vma_allowable_order() needs __thp_vma_allowable_orders() and
 * huge_anon_orders_*), so a driver cannot honour it; see
 * Documentation/hmm_dummy.rst, "Device THP and the THP policy".  False
 * where there is no device THP.
 */
static inline bool hmm_dummy_vma_thp_allowed(struct vm_area_struct *vma)
{
#ifdef HMM_DUMMY_HAVE_DEVICE_THP
	return !vma_thp_disabled(vma, vma->vm_flags, false);
#else
	return false;
#endif
}

/*
 * A system folio of 2^@order pages for the data of a large device folio
 * coming back: for @vma at @addr (migrate_vma) or, with @vma NULL, on the
 * local node (eviction, which has no VMA).  NULL where there is no device
 * THP (never called there) or when no such folio can be had: the caller
 * then falls back to single pages or leaves the data on the device.
 */
static inline struct folio *hmm_dummy_sys_folio_alloc(struct vm_area_struct *vma,
						      unsigned long addr,
						      unsigned int order)
{
#ifdef HMM_DUMMY_HAVE_DEVICE_THP
	gfp_t gfp = GFP_TRANSHUGE | __GFP_NOWARN;

	return vma ? vma_alloc_folio(gfp, order, vma, addr) :
		     folio_alloc(gfp, order);
#else
	return NULL;
#endif
}

/*
 * dev_pagemap_ops initialiser for the split callback: only where the core
 * has one (with it, the driver copies pgmap and mapping to each new folio
 * itself; without it the core does, and there are no large folios anyway).
 */
void hmm_dummy_folio_split(struct folio *head, struct folio *tail);

#ifdef HMM_DUMMY_HAVE_FOLIO_SPLIT
#define HMM_DUMMY_PAGEMAP_SPLIT_OP	.folio_split = hmm_dummy_folio_split,
#else
#define HMM_DUMMY_PAGEMAP_SPLIT_OP
#endif

/* Copy the core's per-folio device-private state to a folio split off. */
static inline void hmm_dummy_split_copy_pgmap(struct folio *head,
					      struct folio *tail)
{
#ifdef HMM_DUMMY_HAVE_FOLIO_SPLIT
	tail->pgmap = head->pgmap;
	tail->mapping = head->mapping;
#endif
}

/**
 * hmm_dummy_migrate_device_pfns() - start migrating device pages by pfn
 * @src:   the device pfns in use among [@pfn, @pfn + @n), ascending (a
 *         large folio's pages in order, head first), @k of them; room for
 *         @n entries
 * @k:     entries listed in @src
 * @pfn:   first pfn of the window
 * @n:     pfns in the window; it does not cut a large folio
 *
 * Where the core has migrate_device_pfns(), only the listed pages are
 * locked and unmapped.  Elsewhere migrate_device_range() goes through every
 * pfn of the window, free ones included, and overwrites the list.
 *
 * Return: the entries of @src the migration covers (@k or @n).
 */
static inline unsigned long hmm_dummy_migrate_device_pfns(unsigned long *src,
							  unsigned long k,
							  unsigned long pfn,
							  unsigned long n)
{
#ifdef HMM_DUMMY_HAVE_MIGRATE_DEVICE_PFNS
	if (k)
		migrate_device_pfns(src, k);
	return k;
#else
	migrate_device_range(src, pfn, n);
	return n;
#endif
}

/*
 * dev_pagemap_ops initialiser for the free callback.  The driver's callback
 * takes a folio; before 6.19 the core passes the (order-0) page instead.
 */
void hmm_dummy_folio_free(struct folio *folio);

#ifdef HMM_DUMMY_HAVE_FOLIO_FREE
#define HMM_DUMMY_PAGEMAP_FREE_OP	.folio_free = hmm_dummy_folio_free
#else
static inline void hmm_dummy_page_free(struct page *page)
{
	hmm_dummy_folio_free(page_folio(page));
}

#define HMM_DUMMY_PAGEMAP_FREE_OP	.page_free = hmm_dummy_page_free
#endif

/**
 * hmm_dummy_make_page_exclusive() - make one page exclusive to a device
 * @mm:    the address space; mmap_lock held for read
 * @addr:  page-aligned address
 * @owner: passed as the MMU_NOTIFY_EXCLUSIVE owner, for the notifier to
 *         recognise its own conversion
 *
 * Return: the page now mapped by a device-exclusive entry, locked (its
 * whole folio) and referenced, or an ERR_PTR: -EBUSY when the page could
 * not be converted (before 6.15: any page of a large folio), or the fault's
 * error.  Release with unlock_page() and put_page().
 */
static inline struct page *hmm_dummy_make_page_exclusive(struct mm_struct *mm,
							 unsigned long addr,
							 void *owner)
{
#ifdef HMM_DUMMY_HAVE_EXCLUSIVE_RANGE
	struct page *page = NULL;
	int ret;

	ret = make_device_exclusive_range(mm, addr, addr + PAGE_SIZE, &page,
					  owner);
	if (ret < 0)
		return ERR_PTR(ret);
	return page ? page : ERR_PTR(-EBUSY);
#else
	struct folio *folio;
	struct page *page;

	page = make_device_exclusive(mm, addr, owner, &folio);
	/* Not anonymous memory: the same answer as before 6.15. */
	if (page == ERR_PTR(-EOPNOTSUPP))
		return ERR_PTR(-EBUSY);
	return page;
#endif
}

/* Can hmm_dummy_make_page_exclusive() take a page of a large folio? */
static inline bool hmm_dummy_exclusive_takes_large(void)
{
#ifdef HMM_DUMMY_HAVE_EXCLUSIVE_RANGE
	return false;
#else
	return true;
#endif
}

/*
 * hmm_range_fault() in 7.3 carries three input bits of each entry to
 * the output (HMM_PFN_INOUT_FLAGS), so an array reused from an earlier call
 * or from another purpose must be cleared first; harmless before.
 */
static inline void hmm_dummy_range_clear(struct hmm_range *range)
{
	memset(range->hmm_pfns, 0,
	       ((range->end - range->start) >> PAGE_SHIFT) *
	       sizeof(*range->hmm_pfns));
}

/**
 * hmm_dummy_range_page() - the page of one hmm_range_fault() result
 * @hpfn: the entry, HMM_PFN_VALID set
 * @addr: the address it is for
 *
 * 7.3's hmm_range_fault() fills the entries of a device-private PMD from
 * the folio's first pfn even when the range starts inside the PMD
 * (hmm_vma_handle_absent_pmd() does not add the offset of the range start,
 * the present-PMD path does), so the pages of an unaligned range are
 * shifted.  Such an entry has map order PMD and the folio is mapped
 * PMD-aligned, so take the page from the address instead; that is right
 * whether the kernel has the bug or not.  Kernels without device THP never
 * report a device-private page with a map order.
 *
 * Return: the page mapped at @addr.
 */
static inline struct page *hmm_dummy_range_page(unsigned long hpfn,
						unsigned long addr)
{
	struct page *page = hmm_pfn_to_page(hpfn);
	struct folio *folio;

	if (hmm_pfn_to_map_order(hpfn) != PMD_SHIFT - PAGE_SHIFT ||
	    !is_device_private_page(page))
		return page;
	folio = page_folio(page);
	return folio_page(folio, (addr >> PAGE_SHIFT) &
				 (folio_nr_pages(folio) - 1));
}

/*
 * hmm_range_fault() for a caller that does not hold mmap_lock, letting the
 * fault handler drop it (a userfaultfd range can then be faulted); sets
 * range->notifier_seq itself.  -EOPNOTSUPP where the kernel lacks it.
 */
static inline int hmm_dummy_range_fault_unlocked(struct hmm_range *range,
						 unsigned long timeout)
{
#ifdef HMM_DUMMY_HAVE_RANGE_FAULT_UNLOCKED
	return hmm_range_fault_unlocked_timeout(range, timeout);
#else
	return -EOPNOTSUPP;
#endif
}

/*
 * The struct device each hmm_dummy device does DMA through: on the faux
 * bus where the kernel has it (the bus for devices without resources),
 * else a platform device, the conventional stand-in for one.  Neither bus
 * configures DMA for a device that no driver binds (a platform device has
 * a 32-bit mask, a faux device none at all: dma_set_mask() fails with
 * -EIO while dev->dma_mask is NULL), so main.c coerces the mask:
 * dev->dma_mask then points at dev->coherent_dma_mask, as
 * dma_coerce_mask_and_coherent() documents for buses that do not provide
 * the storage.  Without dma_ops of its own (neither bus sets any, and x86
 * has no arch-wide ones outside Xen and the GART) the device uses the
 * direct mapping: dma_map_page() returns the physical address, as for a
 * PCI device with no IOMMU or with iommu=pt.  Neither bus is one an IOMMU
 * driver attaches to, so such a device is never behind an IOMMU (see
 * Documentation/hmm_dummy.rst).
 */
#ifdef HMM_DUMMY_HAVE_FAUX
static inline struct device *hmm_dummy_bus_dev_create(unsigned int index)
{
	struct faux_device *fdev;
	char name[24];

	snprintf(name, sizeof(name), "hmm_dummy.%u", index);
	fdev = faux_device_create(name, NULL, NULL);
	return fdev ? &fdev->dev : ERR_PTR(-ENOMEM);
}

static inline void hmm_dummy_bus_dev_destroy(struct device *dev)
{
	faux_device_destroy(to_faux_device(dev));
}
#else
static inline struct device *hmm_dummy_bus_dev_create(unsigned int index)
{
	struct platform_device *pdev;

	pdev = platform_device_register_simple("hmm_dummy", index, NULL, 0);
	return IS_ERR(pdev) ? ERR_CAST(pdev) : &pdev->dev;
}

static inline void hmm_dummy_bus_dev_destroy(struct device *dev)
{
	platform_device_unregister(to_platform_device(dev));
}
#endif

/*
 * DMA mapping of the system pages a device page table holds, one slot per
 * page of a fixed range (a mirror's notifier region), so that a slot's
 * mapping can be found and undone by its index alone, which is what an
 * invalidation has.  With the hmm_dma_map_*() helpers (7.3) a slot is an
 * hmm pfn with HMM_PFN_DMA_MAPPED, and under an IOMMU the whole range is
 * one IOVA allocation that pages are linked into; before, a slot is the
 * page and the address dma_map_page() gave.  Either way a mapping is
 * DMA_BIDIRECTIONAL and long-lived (until the invalidation), which is only
 * sound without bounce buffering: both refuse (-EOPNOTSUPP) a device whose
 * mask would need it (dma_addressing_limited()), the helpers also one that
 * needs syncs.  Before the helpers, a device behind an IOMMU in lazy mode
 * (the x86 default) has dma_unmap_page() defer the IOTLB flush, so a page
 * can be reused while the IOTLB still translates to it; the helpers'
 * dma_iova_unlink() flushes before it returns.
 *
 * Locking is the caller's: every call for one map under one lock.  Mapping
 * and unmapping neither sleep nor allocate with reclaim (the IOMMU page
 * tables are filled with GFP_ATOMIC), so they may run under the lock an
 * mmu notifier takes, as RDMA's ODP does under its umem_mutex.
 */
#ifdef HMM_DUMMY_HAVE_HMM_DMA
#define hmm_dummy_dma_map	hmm_dma_map

static inline int hmm_dummy_dma_map_alloc(struct device *dev,
					  struct hmm_dma_map *map, size_t n)
{
	return hmm_dma_map_alloc(dev, map, n, PAGE_SIZE);
}

static inline void hmm_dummy_dma_map_free(struct device *dev,
					  struct hmm_dma_map *map)
{
	hmm_dma_map_free(dev, map);
}

/* The page slot @idx maps, or NULL. */
static inline struct page *hmm_dummy_dma_mapped_page(struct hmm_dma_map *map,
						     size_t idx)
{
	unsigned long hpfn = map->pfn_list[idx];

	return hpfn & HMM_PFN_DMA_MAPPED ? hmm_pfn_to_page(hpfn) : NULL;
}

/*
 * Map @page in slot @idx, or return the address it already has there.
 * Returns DMA_MAPPING_ERROR on failure, or if the slot maps another page
 * (a caller that missed an unmap: a bug).
 */
static inline dma_addr_t hmm_dummy_dma_map_page(struct device *dev,
						struct hmm_dma_map *map,
						size_t idx, struct page *page)
{
	struct pci_p2pdma_map_state p2p = {};
	struct page *old = hmm_dummy_dma_mapped_page(map, idx);

	if (WARN_ON_ONCE(old && old != page))
		return DMA_MAPPING_ERROR;
	/*
	 * What hmm_range_fault() leaves in a slot: the pfn, and the sticky
	 * flags of the slot's mapping kept.
	 */
	map->pfn_list[idx] = (map->pfn_list[idx] &
			      (HMM_PFN_DMA_MAPPED | HMM_PFN_P2PDMA |
			       HMM_PFN_P2PDMA_BUS)) |
			     page_to_pfn(page) | HMM_PFN_VALID;
	return hmm_dma_map_pfn(dev, map, idx, &p2p);
}

/* Undo slot @idx's mapping; false if it had none. */
static inline bool hmm_dummy_dma_unmap_page(struct device *dev,
					    struct hmm_dma_map *map,
					    size_t idx)
{
	return hmm_dma_unmap_pfn(dev, map, idx);
}
#else
struct hmm_dummy_dma_map {
	struct page **pages;
	dma_addr_t *dma_list;
};

static inline int hmm_dummy_dma_map_alloc(struct device *dev,
					  struct hmm_dummy_dma_map *map,
					  size_t n)
{
	if (dma_addressing_limited(dev))
		return -EOPNOTSUPP;
	map->pages = kvcalloc(n, sizeof(*map->pages), GFP_KERNEL_ACCOUNT);
	map->dma_list = kvcalloc(n, sizeof(*map->dma_list),
				 GFP_KERNEL_ACCOUNT);
	if (!map->pages || !map->dma_list) {
		kvfree(map->pages);
		kvfree(map->dma_list);
		return -ENOMEM;
	}
	return 0;
}

static inline void hmm_dummy_dma_map_free(struct device *dev,
					  struct hmm_dummy_dma_map *map)
{
	kvfree(map->pages);
	kvfree(map->dma_list);
}

static inline struct page *
hmm_dummy_dma_mapped_page(struct hmm_dummy_dma_map *map, size_t idx)
{
	return map->pages[idx];
}

static inline dma_addr_t hmm_dummy_dma_map_page(struct device *dev,
						struct hmm_dummy_dma_map *map,
						size_t idx, struct page *page)
{
	dma_addr_t addr;

	if (map->pages[idx]) {
		if (WARN_ON_ONCE(map->pages[idx] != page))
			return DMA_MAPPING_ERROR;
		return map->dma_list[idx];
	}
	addr = dma_map_page(dev, page, 0, PAGE_SIZE, DMA_BIDIRECTIONAL);
	if (dma_mapping_error(dev, addr))
		return DMA_MAPPING_ERROR;
	map->pages[idx] = page;
	map->dma_list[idx] = addr;
	return addr;
}

static inline bool hmm_dummy_dma_unmap_page(struct device *dev,
					    struct hmm_dummy_dma_map *map,
					    size_t idx)
{
	if (!map->pages[idx])
		return false;
	dma_unmap_page(dev, map->dma_list[idx], PAGE_SIZE, DMA_BIDIRECTIONAL);
	map->pages[idx] = NULL;
	return true;
}
#endif

#endif /* _HMM_DUMMY_COMPAT_H */
