// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_dummy sysfs: /sys/class/hmm_dummy/hmm_dummyN/stats/<field>, one
 * read-only file per field of struct hmm_dummy_stats after @version (the
 * allocator's gauges below and the counters of counters.h), read from the
 * same snapshot the HMM_DUMMY_STATS ioctl returns; and
 * /sys/class/hmm_dummy/hmm_dummyN/memory_type, the kind of device memory.
 */
#include <linux/device.h>
#include <linux/stddef.h>
#include <linux/sysfs.h>

#include "hmm_dummy.h"

struct stat_attr {
	struct device_attribute attr;
	size_t offset;
};

/**
 * stat_show() - read one field of the stats snapshot
 * @dev:  the class device
 * @attr: the field's attribute
 * @buf:  the sysfs buffer
 *
 * Context: process context (sysfs read).  Takes hdev->lock
 * (hmm_dummy_fill_stats()).
 *
 * Return: the length written to @buf.
 */
static ssize_t stat_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	struct hmm_dummy_device *hdev = dev_get_drvdata(dev);
	struct stat_attr *sa = container_of(attr, struct stat_attr, attr);
	struct hmm_dummy_stats st = {};

	hmm_dummy_fill_stats(hdev, &st);
	return sysfs_emit(buf, "%llu\n", *(__u64 *)((char *)&st + sa->offset));
}

#define STAT_ATTR_INIT(field)						\
	{								\
		.attr = {						\
			.attr = { .name = #field, .mode = 0444 },	\
			.show = stat_show,				\
		},							\
		.offset = offsetof(struct hmm_dummy_stats, field),	\
	}

/* The allocator's state (filled by hand in hmm_dummy_fill_stats()). */
enum {
	GAUGE_CAPACITY,
	GAUGE_FREE,
	GAUGE_IN_USE,
	GAUGE_PEAK_IN_USE,
	GAUGE_LOCK_ACQUIRED,
	GAUGE_LOCK_CONTENDED,
	GAUGE_LOCK_WAIT_NS,
	GAUGE_ENGINE_IN_FLIGHT,
	NR_GAUGES
};

static struct stat_attr gauge_attrs[NR_GAUGES] = {
	[GAUGE_CAPACITY] = STAT_ATTR_INIT(capacity),
	[GAUGE_FREE] = STAT_ATTR_INIT(free),
	[GAUGE_IN_USE] = STAT_ATTR_INIT(in_use),
	[GAUGE_PEAK_IN_USE] = STAT_ATTR_INIT(peak_in_use),
	[GAUGE_LOCK_ACQUIRED] = STAT_ATTR_INIT(alloc_lock_acquired),
	[GAUGE_LOCK_CONTENDED] = STAT_ATTR_INIT(alloc_lock_contended),
	[GAUGE_LOCK_WAIT_NS] = STAT_ATTR_INIT(alloc_lock_wait_ns),
	[GAUGE_ENGINE_IN_FLIGHT] = STAT_ATTR_INIT(engine_in_flight),
};

/* One file per line of counters.h. */
#define HMM_DUMMY_COUNTER(name, field)					\
	[HMM_DUMMY_CNT_##name] = STAT_ATTR_INIT(field),
static struct stat_attr counter_attrs[HMM_DUMMY_NR_COUNTERS] = {
#include "counters.h"
};

#undef HMM_DUMMY_COUNTER

#define HMM_DUMMY_COUNTER(name, ...)					\
	[NR_GAUGES + HMM_DUMMY_CNT_##name] =				\
		&counter_attrs[HMM_DUMMY_CNT_##name].attr.attr,
static struct attribute *stats_attrs[NR_GAUGES + HMM_DUMMY_NR_COUNTERS + 1] = {
	[GAUGE_CAPACITY] = &gauge_attrs[GAUGE_CAPACITY].attr.attr,
	[GAUGE_FREE] = &gauge_attrs[GAUGE_FREE].attr.attr,
	[GAUGE_IN_USE] = &gauge_attrs[GAUGE_IN_USE].attr.attr,
	[GAUGE_PEAK_IN_USE] = &gauge_attrs[GAUGE_PEAK_IN_USE].attr.attr,
	[GAUGE_LOCK_ACQUIRED] = &gauge_attrs[GAUGE_LOCK_ACQUIRED].attr.attr,
	[GAUGE_LOCK_CONTENDED] = &gauge_attrs[GAUGE_LOCK_CONTENDED].attr.attr,
	[GAUGE_LOCK_WAIT_NS] = &gauge_attrs[GAUGE_LOCK_WAIT_NS].attr.attr,
	[GAUGE_ENGINE_IN_FLIGHT] = &gauge_attrs[GAUGE_ENGINE_IN_FLIGHT].attr.attr,
#include "counters.h"
};

#undef HMM_DUMMY_COUNTER

static const struct attribute_group stats_group = {
	.name = "stats",
	.attrs = stats_attrs,
};

/* "private" or "coherent": which devices a test can use for what. */
static ssize_t memory_type_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	struct hmm_dummy_device *hdev = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%s\n",
			  hmm_dummy_coherent(hdev) ? "coherent" : "private");
}
static DEVICE_ATTR_RO(memory_type);

static struct attribute *device_attrs[] = {
	&dev_attr_memory_type.attr,
	NULL
};

static const struct attribute_group device_group = {
	.attrs = device_attrs,
};

const struct attribute_group *hmm_dummy_groups[] = {
	&device_group,
	&stats_group,
	NULL
};
