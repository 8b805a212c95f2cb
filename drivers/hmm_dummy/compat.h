/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel differences that hmm_dummy has to know about, kept in one place so
 * the rest of the driver reads like code for one kernel.  Features are
 * detected from the kernel headers by Kbuild (HMM_DUMMY_HAVE_*), not from
 * version numbers, so distribution backports are handled too.
 *
 * Known differences:
 *  - 6.15 replaced make_device_exclusive_range() with make_device_exclusive(),
 *    which works on one address and returns the folio;
 *  - 6.19 renamed dev_pagemap_ops.page_free(page) to folio_free(folio).
 */
#ifndef _HMM_DUMMY_COMPAT_H
#define _HMM_DUMMY_COMPAT_H

#include <linux/memremap.h>
#include <linux/rmap.h>

#ifndef HMM_DUMMY_HAVE_EXCLUSIVE_RANGE
#error "hmm_dummy: make_device_exclusive() (Linux 6.15+) is not wired up yet"
#endif

/*
 * Make @npages pages from @start exclusive to the device (for device
 * atomics).  On return pages[i] is the page, locked and referenced, or NULL
 * when that address could not be made exclusive.  Returns the number of
 * entries filled in @pages or a negative errno.  mmap_lock must be held.
 */
static inline long hmm_dummy_make_exclusive(struct mm_struct *mm,
					    unsigned long start,
					    unsigned long npages,
					    struct page **pages, void *owner)
{
	return make_device_exclusive_range(mm, start,
					   start + (npages << PAGE_SHIFT),
					   pages, owner);
}

#endif /* _HMM_DUMMY_COMPAT_H */
