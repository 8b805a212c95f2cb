// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_test: memory hmm_dummy allocates on a process's behalf is charged to
 * that process's memory cgroup (__GFP_ACCOUNT): the pages behind an mmap of
 * the device file, and the system pages backing device memory.  Each case
 * runs in a cgroup of its own (cgroup v2, mounted if needed) and skips on
 * kernels without the memory controller.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "hmm_test.h"

#define PS	(cfg.page_size)
#define CG_ROOT	"/sys/fs/cgroup"

static long cg_read_long(const char *dir, const char *file)
{
	char path[256], buf[64];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (read_file_str(path, buf, sizeof(buf)) < 0)
		return -1;
	return strtol(buf, NULL, 10);
}

/*
 * Put this process (the case's own, forked by the runner) into a new
 * memory cgroup, whose directory is written to @dir.  Returns 0, or a
 * negative errno (-ENOENT: no memory controller).
 */
static int memcg_enter(char *dir, size_t len)
{
	char buf[256], pid[16];
	int r;

	if (access(CG_ROOT "/cgroup.controllers", F_OK) &&
	    mount("cgroup2", CG_ROOT, "cgroup2", 0, NULL))
		return -ENOENT;
	if (read_file_str(CG_ROOT "/cgroup.controllers", buf, sizeof(buf)) < 0 ||
	    !strstr(buf, "memory"))
		return -ENOENT;
	r = write_file_in(CG_ROOT, "cgroup.subtree_control", "+memory");
	if (r)
		return r;
	snprintf(dir, len, CG_ROOT "/hmm_test.%d", getpid());
	if (mkdir(dir, 0755))
		return -errno;
	snprintf(pid, sizeof(pid), "%d", getpid());
	r = write_file_in(dir, "cgroup.procs", pid);
	if (r)
		rmdir(dir);
	return r;
}

static void memcg_leave(const char *dir)
{
	char pid[16];

	snprintf(pid, sizeof(pid), "%d", getpid());
	write_file_in(CG_ROOT, "cgroup.procs", pid);
	rmdir(dir);
}

/*
 * The device file's mmap hands out zeroed system pages at mmap time: they
 * are the caller's memory and count against its cgroup.
 */
static int t_memcg_device_mmap(void)
{
	size_t size = 8UL << 20;
	long c0, c1;
	char dir[128];
	int fd = hmm_open(0), r;
	char *p;

	CHECK(fd >= 0);
	r = memcg_enter(dir, sizeof(dir));
	if (r == -ENOENT)
		SKIP("no memory cgroup controller in this kernel");
	CHECK_RET(r, 0);
	c0 = cg_read_long(dir, "memory.current");
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	c1 = cg_read_long(dir, "memory.current");
	t_diag("memory.current %ld -> %ld after an mmap of %zu KiB",
	       c0, c1, size >> 10);
	if (p != MAP_FAILED)
		munmap(p, size);
	memcg_leave(dir);
	CHECK(p != MAP_FAILED);
	CHECK(c0 >= 0 && c1 >= 0);
	CHECK(c1 - c0 >= (long)(size * 3 / 4));
	return T_PASS;
}

/*
 * The backing of a device page (its contents, in system memory) is
 * allocated the first time the page is used and charged to the process
 * whose migration used it.  The anonymous memory's own charge is not what
 * is measured: the migration moves it from the system page to the device
 * page (mem_cgroup_migrate()), so the cgroup grows by the new backings.
 * Device pages that already have a backing (used before) charge nothing
 * new, so the case measures against the driver's count of new backings.
 * Coherent devices have no backing pages: only private ones are tried.
 */
/*
 * The device whose memory has the most pages never used yet (backing
 * allocated on first use), and how many pages a migration must move so
 * that at least @fresh_wanted of them get a new backing: the free pages
 * that already have one are taken first.  Returns the device, or -1.
 */
static int fresh_device(unsigned long fresh_wanted, unsigned long *npages)
{
	struct hmm_dummy_stats st;
	unsigned long unused, best = 0, used_free;
	int i, dev = -1;

	for (i = 0; i < cfg.ndev; i++) {
		/* A coherent device's pages are their own backing. */
		if (cfg.info[i].version >= 3 &&
		    cfg.info[i].memory_type == HMM_DUMMY_MEMORY_COHERENT)
			continue;
		if (hmm_stats_dev(i, &st) || st.backing_pages > st.capacity)
			continue;
		unused = st.capacity - st.backing_pages;
		if (unused < fresh_wanted || unused <= best)
			continue;
		used_free = st.backing_pages > st.in_use ?
			    st.backing_pages - st.in_use : 0;
		if (used_free + fresh_wanted > st.free)
			continue;
		best = unused;
		dev = i;
		*npages = used_free + fresh_wanted;
	}
	return dev;
}

static int t_memcg_backing(void)
{
	unsigned long npages = 0, fresh;
	struct hmm_dummy_stats s0, s1;
	long c0, c1, delta, want;
	int dev, fd, r;
	char dir[128];
	size_t size;
	char *p;

	dev = fresh_device(2048, &npages);
	if (dev < 0)
		SKIP("no device has 2048 pages that were never used");
	fd = hmm_open(dev);
	CHECK(fd >= 0);
	size = npages * PS;
	r = memcg_enter(dir, sizeof(dir));
	if (r == -ENOENT)
		SKIP("no memory cgroup controller in this kernel");
	CHECK_RET(r, 0);
	p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	CHECK(p);
	pat_fill(p, size, 161);
	CHECK_RET(hmm_stats(fd, &s0), 0);
	c0 = cg_read_long(dir, "memory.current");
	r = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, NULL, npages, NULL);
	c1 = cg_read_long(dir, "memory.current");
	CHECK_RET(hmm_stats(fd, &s1), 0);
	fresh = s1.backing_pages - s0.backing_pages;
	delta = c1 - c0;
	t_diag("device %d: MIGRATE_TO_DEV of %lu pages: %d; %lu new backing pages; memory.current %ld -> %ld (%+ld KiB)",
	       dev, npages, r, fresh, c0, c1, delta / 1024);
	munmap(p, size);
	memcg_leave(dir);
	CHECK_RET(r, 0);
	CHECK(c0 >= 0 && c1 >= 0);
	CHECKF(fresh >= 1024, "only %lu new backing pages", fresh);
	/* Without __GFP_ACCOUNT on the backings it would not grow at all. */
	want = (long)fresh * (long)PS / 2;
	CHECKF(delta >= want, "memory.current changed by %ld, want >= %ld",
	       delta, want);
	return T_PASS;
}

static const struct tcase cases[] = {
	{ "memcg_device_mmap", t_memcg_device_mmap, T_DUMMY,
	  "mmap of the device file is charged to the caller's memory cgroup" },
	{ "memcg_backing", t_memcg_backing, T_DUMMY,
	  "new device memory's backing is charged to the migrating process" },
};

const struct tgroup tests_memcg = { cases, ARRAY_SIZE(cases) };
