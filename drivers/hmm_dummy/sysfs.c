// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_dummy sysfs: /sys/class/hmm_dummy/hmm_dummyN/stats/<counter>, one
 * read-only file per field of struct hmm_dummy_stats, read from the same
 * snapshot the HMM_DUMMY_STATS ioctl returns.
 */
#include <linux/device.h>
#include <linux/stddef.h>
#include <linux/sysfs.h>

#include "hmm_dummy.h"

struct stat_attr {
	struct device_attribute attr;
	size_t offset;
};

static ssize_t stat_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	struct hmm_dummy_device *hdev = dev_get_drvdata(dev);
	struct stat_attr *sa = container_of(attr, struct stat_attr, attr);
	struct hmm_dummy_stats st = {};

	hmm_dummy_fill_stats(hdev, &st);
	return sysfs_emit(buf, "%llu\n", *(__u64 *)((char *)&st + sa->offset));
}

#define STAT_ATTR(field)						\
	static struct stat_attr stat_attr_##field = {			\
		.attr = {						\
			.attr = { .name = #field, .mode = 0444 },	\
			.show = stat_show,				\
		},							\
		.offset = offsetof(struct hmm_dummy_stats, field),	\
	}

STAT_ATTR(capacity);
STAT_ATTR(free);
STAT_ATTR(in_use);
STAT_ATTR(peak_in_use);
STAT_ATTR(allocations);
STAT_ATTR(page_free_calls);
STAT_ATTR(alloc_failures);
STAT_ATTR(migrated_to_dev);
STAT_ATTR(migrated_to_sys_ioctl);
STAT_ATTR(migrated_to_sys_fault);
STAT_ATTR(migrated_to_sys_evict);
STAT_ATTR(cpu_faults);
STAT_ATTR(device_faults);
STAT_ATTR(evictions);
STAT_ATTR(backing_pages);
STAT_ATTR(large_allocated);
STAT_ATTR(large_to_dev);
STAT_ATTR(large_to_sys);
STAT_ATTR(large_splits);
STAT_ATTR(large_fallbacks);
STAT_ATTR(alloc_lock_acquired);
STAT_ATTR(alloc_lock_contended);
STAT_ATTR(alloc_lock_wait_ns);

static struct attribute *stats_attrs[] = {
	&stat_attr_capacity.attr.attr,
	&stat_attr_free.attr.attr,
	&stat_attr_in_use.attr.attr,
	&stat_attr_peak_in_use.attr.attr,
	&stat_attr_allocations.attr.attr,
	&stat_attr_page_free_calls.attr.attr,
	&stat_attr_alloc_failures.attr.attr,
	&stat_attr_migrated_to_dev.attr.attr,
	&stat_attr_migrated_to_sys_ioctl.attr.attr,
	&stat_attr_migrated_to_sys_fault.attr.attr,
	&stat_attr_migrated_to_sys_evict.attr.attr,
	&stat_attr_cpu_faults.attr.attr,
	&stat_attr_device_faults.attr.attr,
	&stat_attr_evictions.attr.attr,
	&stat_attr_backing_pages.attr.attr,
	&stat_attr_large_allocated.attr.attr,
	&stat_attr_large_to_dev.attr.attr,
	&stat_attr_large_to_sys.attr.attr,
	&stat_attr_large_splits.attr.attr,
	&stat_attr_large_fallbacks.attr.attr,
	&stat_attr_alloc_lock_acquired.attr.attr,
	&stat_attr_alloc_lock_contended.attr.attr,
	&stat_attr_alloc_lock_wait_ns.attr.attr,
	NULL
};

static const struct attribute_group stats_group = {
	.name = "stats",
	.attrs = stats_attrs,
};

const struct attribute_group *hmm_dummy_groups[] = {
	&stats_group,
	NULL
};
