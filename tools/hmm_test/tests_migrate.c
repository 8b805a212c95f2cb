// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_test: migration cases: to the device and back (ioctl and CPU faults),
 * fault window, holes and the zero page, partial ranges, peers, eviction,
 * RELEASE and device-exclusive access.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "hmm_test.h"

#define PS	(cfg.page_size)
#define LOCAL	HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL

static int wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFSIGNALED(status)) {
		t_diag("child killed by signal %d", WTERMSIG(status));
		return -1;
	}
	if (WEXITSTATUS(status))
		t_diag("child exit status %d", WEXITSTATUS(status));
	return WEXITSTATUS(status);
}

/* Print the runs of pages of [p, p + n pages) that are not on the device. */
static void diag_missing(int fd, char *p, unsigned long n)
{
	unsigned char *m = malloc(n);
	unsigned long i, j, runs = 0;

	if (!m || hmm_cmd(fd, HMM_DMIRROR_SNAPSHOT, p, m, n, NULL)) {
		free(m);
		return;
	}
	for (i = 0; i < n; i = j) {
		if ((m[i] & 0xf0) == LOCAL) {
			j = i + 1;
			continue;
		}
		for (j = i; j < n && (m[j] & 0xf0) != LOCAL; j++)
			;
		if (runs++ < 12)
			t_diag("not on the device: pages %lu..%lu (snapshot 0x%02x)",
			       i, j - 1, m[i]);
	}
	t_diag("%lu runs of pages not on the device", runs);
	free(m);
}

/*
 * Pages of [p, p + n pages) that /proc/self/pagemap shows as swap entries
 * (bit 62; device-private entries are reported that way) and as present
 * (bit 63): the kernel's view, independent of the driver's snapshot.
 */
static int pagemap_count(void *p, unsigned long n, int *present)
{
	uint64_t *e = malloc(n * 8);
	unsigned long i;
	int fd = open("/proc/self/pagemap", O_RDONLY), swapped = 0;

	*present = 0;
	if (fd < 0 || !e ||
	    pread(fd, e, n * 8, (uintptr_t)p / PS * 8) != (ssize_t)(n * 8)) {
		if (fd >= 0)
			close(fd);
		free(e);
		return -1;
	}
	for (i = 0; i < n; i++) {
		swapped += !!(e[i] & (1ULL << 62));
		*present += !!(e[i] & (1ULL << 63));
	}
	close(fd);
	free(e);
	return swapped;
}

static int t_migrate(void)
{
	unsigned long npages = 64;
	size_t size = npages * PS;
	struct hmm_dummy_stats s0, s1;
	struct hmm_dmirror_cmd c;
	char *p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	char *m = malloc(size);
	int fd = hmm_open(0), present;

	CHECK(p && m && fd >= 0);
	pat_fill(p, size, 20);
	if (cfg.dummy)
		STATS(fd, &s0);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, m, npages, &c),
		  0);
	CHECK_EQ(c.cpages, npages);
	CHECK_PAT(m, size, 20);
	CHECK_EQ(n_local(fd, p, npages), npages);
	CHECK_EQ(count_snapshot(fd, p, npages, LOCAL | HMM_DMIRROR_PROT_WRITE,
				0xff), npages);
	CHECK_EQ(pagemap_count(p, npages, &present), npages);
	CHECK_EQ(present, 0);
	if (cfg.dummy) {
		STATS(fd, &s1);
		CHECK_EQ(DELTA(s0, s1, migrated_to_dev), npages);
		CHECK_EQ(DELTA(s0, s1, allocations), npages);
		CHECK_EQ(DELTA(s0, s1, in_use), npages);
		CHECK_EQ(s1.free + s1.in_use, s1.capacity);
		CHECK(s1.peak_in_use >= s1.in_use);
	}
	/* The device reads its own memory without moving it. */
	memset(m, 0, size);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_READ, p, m, npages, &c), 0);
	CHECK_EQ(c.cpages, npages);
	if (c.faults)
		t_diag("note: READ after MIGRATE_TO_DEV needed %llu faults",
		       (unsigned long long)c.faults);
	CHECK_PAT(m, size, 20);
	CHECK_EQ(n_local(fd, p, npages), npages);
	/* The CPU gets its data back. */
	CHECK_PAT(p, size, 20);
	CHECK_EQ(n_local(fd, p, npages), 0);
	CHECK_EQ(pagemap_count(p, npages, &present), 0);
	CHECK_EQ(present, npages);
	return T_PASS;
}

/* CPU read or write faults after migration; @write selects which. */
static int fault_back(bool write)
{
	unsigned long npages = 256, i;
	size_t size = npages * PS;
	struct hmm_dummy_stats s0, s1;
	char *p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	char *m = malloc(size);
	int fd = hmm_open(0);

	CHECK(p && m && fd >= 0);
	pat_fill(p, size, 21);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, m, npages, NULL),
		  0);
	CHECK_EQ(n_local(fd, p, npages), npages);
	if (cfg.dummy)
		STATS(fd, &s0);
	if (write) {
		/* One store per page, at a spot that differs per page. */
		for (i = 0; i < npages; i++) {
			uint64_t *w = (uint64_t *)(p + i * PS) + (i % 512);

			*w = ~*w;
		}
		for (i = 0; i < npages; i++) {
			uint64_t *w = (uint64_t *)(p + i * PS) + (i % 512);

			*w = ~*w;
		}
	}
	CHECK_PAT(p, size, 21);
	CHECK_EQ(n_local(fd, p, npages), 0);
	if (cfg.dummy) {
		STATS(fd, &s1);
		t_diag("%lu pages back in %lld CPU faults (window %u)",
		       npages, DELTA(s0, s1, cpu_faults),
		       cfg.info[0].fault_window);
		CHECK_EQ(DELTA(s0, s1, migrated_to_sys_fault), npages);
		CHECK(DELTA(s0, s1, cpu_faults) >= 1);
		CHECK(DELTA(s0, s1, cpu_faults) <= (long long)npages);
		if (cfg.info[0].fault_window > 1)
			CHECK(DELTA(s0, s1, cpu_faults) < (long long)npages);
		CHECK_EQ(DELTA(s0, s1, in_use), -(long long)npages);
		CHECK_EQ(DELTA(s0, s1, page_free_calls), npages);
	}
	/* The device mirror sees the CPU's data. */
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_READ, p, m, npages, NULL), 0);
	CHECK_PAT(m, size, 21);
	return T_PASS;
}

static int t_fault_read(void)
{
	return fault_back(false);
}

static int t_fault_write(void)
{
	return fault_back(true);
}

/* One CPU fault brings back at most fault_window pages, never past a VMA. */
static int t_fault_window(void)
{
	unsigned long npages = 64, win = cfg.info[0].fault_window;
	size_t size = npages * PS;
	struct hmm_dummy_stats s0, s1;
	volatile char *p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	char *m = malloc(size);
	int fd = hmm_open(0), back;

	CHECK(p && m && fd >= 0);
	pat_fill((char *)p, size, 22);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, (char *)p, m,
			  npages, NULL), 0);
	STATS(fd, &s0);
	CHECK_EQ(p[20 * PS], (char)pat_expected(22, 20 * PS));
	STATS(fd, &s1);
	back = npages - n_local(fd, (char *)p, npages);
	t_diag("fault at page 20 brought back %d pages (window %lu)",
	       back, win);
	CHECK_EQ(n_local(fd, (char *)p + 20 * PS, 1), 0);
	CHECK(back >= 1);
	CHECK(back <= (int)win);
	CHECK_EQ(DELTA(s0, s1, cpu_faults), 1);
	CHECK_EQ(DELTA(s0, s1, migrated_to_sys_fault), back);
	if (win > 1 && back == 1)
		t_diag("note: fault_window %lu but a single page came back",
		       win);
	CHECK_PAT((char *)p, size, 22);

	/*
	 * Two adjacent VMAs of 8 pages (A read-write, B read-only): a fault
	 * in A must not pull B's pages and the window is clipped to A.
	 */
	CHECK(!munmap((char *)p, size));
	p = map_anon(16 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	CHECK(p);
	pat_fill((char *)p, 16 * PS, 23);
	CHECK(!mprotect((char *)p + 8 * PS, 8 * PS, PROT_READ));
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, (char *)p, m, 16,
			  NULL), 0);
	CHECK_EQ(n_local(fd, (char *)p, 16), 16);
	CHECK_EQ(p[7 * PS + 5], (char)pat_expected(23, 7 * PS + 5));
	CHECK_EQ(n_local(fd, (char *)p + 8 * PS, 8), 8);
	back = 8 - n_local(fd, (char *)p, 8);
	CHECK(back >= 1 && back <= (int)(win < 8 ? win : 8));
	CHECK_EQ(p[8 * PS], (char)pat_expected(23, 8 * PS));
	back = 8 - n_local(fd, (char *)p + 8 * PS, 8);
	CHECK(back >= 1 && back <= (int)(win < 8 ? win : 8));
	CHECK_PAT((char *)p, 16 * PS, 23);
	return T_PASS;
}

static int t_migrate_back(void)
{
	unsigned long npages = 128;
	size_t size = npages * PS;
	struct hmm_dummy_stats s0, s1;
	struct hmm_dmirror_cmd c;
	char *p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	char *m = malloc(size);
	int fd = hmm_open(0);

	CHECK(p && m && fd >= 0);
	pat_fill(p, size, 24);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, m, npages, NULL),
		  0);
	if (cfg.dummy)
		STATS(fd, &s0);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_SYS, p, NULL, npages,
			  &c), 0);
	CHECK_EQ(c.cpages, npages);
	CHECK_EQ(n_local(fd, p, npages), 0);
	if (cfg.dummy) {
		STATS(fd, &s1);
		CHECK_EQ(DELTA(s0, s1, migrated_to_sys_ioctl), npages);
		CHECK_EQ(DELTA(s0, s1, cpu_faults), 0);
		CHECK_EQ(DELTA(s0, s1, page_free_calls), npages);
		CHECK_EQ(DELTA(s0, s1, in_use), -(long long)npages);
	}
	/* Already in system memory: nothing to do. */
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_SYS, p, NULL, npages,
			  &c), 0);
	CHECK_EQ(c.cpages, 0);
	if (cfg.dummy) {
		STATS(fd, &s0);
		CHECK_PAT(p, size, 24);
		STATS(fd, &s1);
		CHECK_EQ(DELTA(s0, s1, cpu_faults), 0);
	}
	CHECK_PAT(p, size, 24);
	/* Half of it back, the other half faulted. */
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, m, npages, NULL),
		  0);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_SYS, p + 32 * PS, NULL,
			  64, &c), 0);
	CHECK_EQ(c.cpages, 64);
	CHECK_EQ(n_local(fd, p, npages), npages - 64);
	CHECK_PAT(p, size, 24);
	return T_PASS;
}

/*
 * pte_none pages, zero-page pages, written pages and a read-only VMA in one
 * range: all migrate, holes become zero-filled device pages, and the write
 * permission of each source is kept.
 */
static int t_migrate_holes(void)
{
	unsigned long npages = 32, i;
	size_t size = npages * PS;
	struct hmm_dmirror_cmd c;
	unsigned char *p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	unsigned char *m = malloc(size);
	unsigned char *snap = malloc(npages);
	volatile unsigned char *v;
	int fd = hmm_open(0);

	CHECK(p && m && snap && fd >= 0);
	/* 0-7 pte_none, 8-15 zero page, 16-23 written, 24-31 read-only. */
	for (i = 8; i < 16; i++) {
		v = p + i * PS;
		CHECK(*v == 0);
	}
	pat_fill(p + 16 * PS, 16 * PS, 25);
	CHECK(!mprotect(p + 24 * PS, 8 * PS, PROT_READ));
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, m, npages, &c), 0);
	CHECK_EQ(c.cpages, npages);
	for (i = 0; i < 16 * PS; i++)
		CHECKF(!m[i], "device copy of an empty page: byte %lu = 0x%02x",
		       i, m[i]);
	CHECK_PAT(m + 16 * PS, 16 * PS, 25);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_SNAPSHOT, p, snap, npages, NULL), 0);
	for (i = 0; i < 24; i++)
		CHECKF(snap[i] == (LOCAL | HMM_DMIRROR_PROT_WRITE),
		       "rw page %lu: snapshot 0x%02x", i, snap[i]);
	for (i = 24; i < 32; i++)
		CHECKF(snap[i] == (LOCAL | HMM_DMIRROR_PROT_READ),
		       "read-only page %lu: snapshot 0x%02x (write permission not kept)",
		       i, snap[i]);
	/* Device write of the read-only part is still refused. */
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_WRITE, p + 24 * PS, m, 8, NULL),
		  -EPERM);
	for (i = 0; i < 16 * PS; i++)
		CHECKF(!p[i], "empty page: byte %lu = 0x%02x", i, p[i]);
	CHECK_PAT(p + 16 * PS, 16 * PS, 25);
	CHECK(!mprotect(p + 24 * PS, 8 * PS, PROT_READ | PROT_WRITE));
	pat_fill(p, size, 26);
	CHECK_PAT(p, size, 26);
	return T_PASS;
}

static int t_migrate_partial(void)
{
	unsigned long npages = 32, i;
	size_t size = npages * PS;
	struct hmm_dmirror_cmd c;
	char *p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	char *m = malloc(size);
	unsigned char *snap = malloc(npages);
	int fd = hmm_open(0);

	CHECK(p && m && snap && fd >= 0);
	pat_fill(p, size, 27);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p + 3 * PS, m, 7,
			  &c), 0);
	CHECK_EQ(c.cpages, 7);
	CHECK_PAT_OFF(m, 7 * PS, 27, 3 * PS);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_SNAPSHOT, p, snap, npages, NULL), 0);
	for (i = 0; i < npages; i++) {
		bool dev = (snap[i] & 0xf0) == LOCAL;

		CHECKF(dev == (i >= 3 && i < 10), "page %lu snapshot 0x%02x",
		       i, snap[i]);
	}
	/* A last single page. */
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p + 31 * PS, m, 1,
			  &c), 0);
	CHECK_EQ(c.cpages, 1);
	CHECK_EQ(n_local(fd, p, npages), 8);
	CHECK_PAT(p, size, 27);
	return T_PASS;
}

/* Holes and PROT_NONE VMAs inside the range: -EINVAL, data untouched. */
static int t_migrate_bad_range(void)
{
	unsigned long npages = 16;
	size_t size = npages * PS;
	char *p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	char *m = malloc(size);
	int fd = hmm_open(0);

	CHECK(p && m && fd >= 0);
	pat_fill(p, size, 28);
	CHECK(!munmap(p + 8 * PS, PS));
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, m, npages, NULL),
		  -EINVAL);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p + 8 * PS, m, 2,
			  NULL), -EINVAL);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_SYS, p, m, npages, NULL),
		  -EINVAL);
	CHECK(!mprotect(p + 4 * PS, PS, PROT_NONE));
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, m, 8, NULL),
		  -EINVAL);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p + 4 * PS, m, 1,
			  NULL), -EINVAL);
	CHECK(!mprotect(p + 4 * PS, PS, PROT_READ | PROT_WRITE));
	CHECK_PAT(p, 8 * PS, 28);
	pat_fill(m, size, 28);
	CHECK(!memcmp(p + 9 * PS, m + 9 * PS, 7 * PS));
	/* The valid part still migrates. */
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, m, 8, NULL), 0);
	CHECK_PAT(p, 8 * PS, 28);
	return T_PASS;
}

static int t_migrate_twice(void)
{
	unsigned long npages = 32;
	size_t size = npages * PS;
	struct hmm_dummy_stats s0, s1;
	struct hmm_dmirror_cmd c;
	char *p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	char *m = malloc(size);
	int fd = hmm_open(0);

	CHECK(p && m && fd >= 0);
	pat_fill(p, size, 29);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, m, npages, NULL),
		  0);
	if (cfg.dummy)
		STATS(fd, &s0);
	memset(m, 0, size);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, m, npages, &c), 0);
	CHECK_EQ(c.cpages, npages);
	CHECK_PAT(m, size, 29);
	if (cfg.dummy) {
		STATS(fd, &s1);
		CHECK_EQ(DELTA(s0, s1, allocations), 0);
		CHECK_EQ(DELTA(s0, s1, migrated_to_dev), 0);
	}
	/* Overlapping: half already there. */
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_SYS, p, NULL, 16, NULL),
		  0);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, m, npages, &c), 0);
	CHECK_EQ(c.cpages, npages);
	CHECK_PAT(m, size, 29);
	CHECK_PAT(p, size, 29);
	return T_PASS;
}

static int t_migrate_multiple(void)
{
	unsigned long npages = 64, i;
	size_t size = npages * PS;
	struct hmm_dmirror_cmd c;
	char *p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	char *m = malloc(size);
	int fd = hmm_open(0);

	CHECK(p && m && fd >= 0);
	for (i = 0; i < 20; i++) {
		pat_fill(p, size, 30 + i);
		CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, m, npages,
				  &c), 0);
		CHECK_EQ(c.cpages, npages);
		CHECK_PAT(m, size, 30 + i);
		if (i & 1)
			CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_SYS, p,
					  NULL, npages, NULL), 0);
		CHECK_PAT(p, size, 30 + i);
	}
	return T_PASS;
}

/* Device 0 -> device 1 -> device 0 with peer_migration; else pages stay. */
static int t_migrate_peer(void)
{
	unsigned long npages = 64;
	size_t size = npages * PS;
	struct hmm_dummy_stats a0, a1, b0, b1;
	struct hmm_dmirror_cmd c;
	char *p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	char *m = malloc(size);
	int fd0 = hmm_open(0), fd1 = hmm_open(1), r;
	bool peer = cfg.dummy && cfg.info[1].peer_migration;

	CHECK(p && m && fd0 >= 0 && fd1 >= 0);
	pat_fill(p, size, 60);
	CHECK_RET(hmm_cmd(fd0, HMM_DMIRROR_MIGRATE_TO_DEV, p, m, npages, NULL),
		  0);
	if (cfg.dummy) {
		STATS(fd0, &a0);
		STATS(fd1, &a1);
	}
	memset(m, 0, size);
	r = hmm_cmd(fd1, HMM_DMIRROR_MIGRATE_TO_DEV, p, m, npages, &c);
	if (!peer) {
		t_diag("peer_migration off: pages stay on device 0");
		CHECK_RET(r, -ENOENT);
		if (cfg.dummy)
			CHECK_EQ(c.cpages, 0);
		CHECK_EQ(n_local(fd0, p, npages), npages);
		CHECK_PAT(p, size, 60);
		return T_PASS;
	}
	CHECK_RET(r, 0);
	CHECK_EQ(c.cpages, npages);
	CHECK_PAT(m, size, 60);
	CHECK_EQ(n_local(fd1, p, npages), npages);
	CHECK_EQ(n_local(fd0, p, npages), 0);
	STATS(fd0, &b0);
	STATS(fd1, &b1);
	CHECK_EQ(DELTA(a1, b1, migrated_to_dev), npages);
	CHECK_EQ(DELTA(a1, b1, allocations), npages);
	CHECK_EQ(DELTA(a0, b0, page_free_calls), npages);
	CHECK_EQ(DELTA(a0, b0, in_use), -(long long)npages);
	/* And back, half the range. */
	CHECK_RET(hmm_cmd(fd0, HMM_DMIRROR_MIGRATE_TO_DEV, p, m, npages / 2,
			  &c), 0);
	CHECK_EQ(c.cpages, npages / 2);
	CHECK_PAT(m, size / 2, 60);
	CHECK_EQ(n_local(fd0, p, npages), npages / 2);
	CHECK_EQ(n_local(fd1, p, npages), npages / 2);
	CHECK_PAT(p, size, 60);
	return T_PASS;
}

/* A device reading a peer's pages faults them back to system memory. */
static int t_read_peer_pages(void)
{
	unsigned long npages = 32;
	size_t size = npages * PS;
	struct hmm_dummy_stats a, b;
	struct hmm_dmirror_cmd c;
	char *p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	char *m = malloc(size);
	int fd0 = hmm_open(0), fd1 = hmm_open(1);

	CHECK(p && m && fd0 >= 0 && fd1 >= 0);
	pat_fill(p, size, 61);
	CHECK_RET(hmm_cmd(fd0, HMM_DMIRROR_MIGRATE_TO_DEV, p, m, npages, NULL),
		  0);
	if (cfg.dummy)
		STATS(fd0, &a);
	memset(m, 0, size);
	CHECK_RET(hmm_cmd(fd1, HMM_DMIRROR_READ, p, m, npages, &c), 0);
	CHECK_EQ(c.cpages, npages);
	CHECK_PAT(m, size, 61);
	CHECK_EQ(n_local(fd0, p, npages), 0);
	if (cfg.dummy) {
		STATS(fd0, &b);
		CHECK_EQ(DELTA(a, b, migrated_to_sys_fault), npages);
		CHECK_EQ(DELTA(a, b, in_use), -(long long)npages);
	}
	/* Device 1 writing dev0's pages the same way. */
	CHECK_RET(hmm_cmd(fd0, HMM_DMIRROR_MIGRATE_TO_DEV, p, m, npages, NULL),
		  0);
	pat_fill(m, size, 62);
	CHECK_RET(hmm_cmd(fd1, HMM_DMIRROR_WRITE, p, m, npages, &c), 0);
	CHECK_EQ(n_local(fd0, p, npages), 0);
	CHECK_PAT(p, size, 62);
	return T_PASS;
}

/* The device writes pages that live in its own memory: they stay there. */
static int t_write_device_pages(void)
{
	unsigned long npages = 32;
	size_t size = npages * PS;
	struct hmm_dmirror_cmd c;
	char *p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	char *m = malloc(size);
	int fd = hmm_open(0);

	CHECK(p && m && fd >= 0);
	pat_fill(p, size, 63);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, m, npages, NULL),
		  0);
	pat_fill(m, size, 64);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_WRITE, p, m, npages, &c), 0);
	CHECK_EQ(c.cpages, npages);
	CHECK_EQ(n_local(fd, p, npages), npages);
	memset(m, 0, size);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_READ, p, m, npages, &c), 0);
	CHECK_PAT(m, size, 64);
	CHECK_PAT(p, size, 64);
	return T_PASS;
}

/*
 * More data than the device holds: the device evicts its least recently
 * used pages and every byte survives.
 */
static int t_eviction(void)
{
	unsigned long cap = cfg.info[0].capacity_pages;
	unsigned long npages = cap + cap / 4, chunk = cap / 8, i, n = 0;
	size_t size = npages * PS;
	struct hmm_dummy_stats s0, s1;
	struct hmm_dmirror_cmd c;
	char *p, *m;
	int fd = hmm_open(0), r, local;

	CHECK(fd >= 0);
	if (chunk < 1)
		chunk = 1;
	p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	m = malloc(chunk * PS);
	CHECKF(p && m, "%lu MiB buffer", size >> 20);
	t_diag("capacity %lu pages, buffer %lu pages in chunks of %lu",
	       cap, npages, chunk);
	pat_fill(p, size, 65);
	STATS(fd, &s0);
	for (i = 0; i < npages; i += n) {
		n = npages - i < chunk ? npages - i : chunk;
		r = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p + i * PS, m, n,
			    &c);
		CHECKF(!r && c.cpages == n,
		       "chunk at page %lu: %d (%s), %llu of %lu pages", i, r,
		       strerror(-r), (unsigned long long)c.cpages, n);
		CHECK_PAT_OFF(m, n * PS, 65, i * PS);
	}
	STATS(fd, &s1);
	local = n_local(fd, p, npages);
	t_diag("evictions +%lld, evicted pages +%lld, on device %d, in_use %llu",
	       DELTA(s0, s1, evictions), DELTA(s0, s1, migrated_to_sys_evict),
	       local, (unsigned long long)s1.in_use);
	CHECK(DELTA(s0, s1, evictions) > 0);
	CHECK(DELTA(s0, s1, migrated_to_sys_evict) >= (long long)(npages - cap));
	CHECK_EQ(DELTA(s0, s1, alloc_failures), 0);
	CHECK(s1.in_use <= cap);
	CHECK(s1.peak_in_use <= cap);
	CHECK(local <= (int)cap);
	/* The last chunk was just migrated: it must still be there (LRU). */
	CHECK_EQ(n_local(fd, p + (npages - n) * PS, n), n);
	CHECK_PAT(p, size, 65);

	/* All of it in one call: short, -ENOENT, cpages says how much. */
	r = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, NULL, npages, &c);
	CHECKF(r == -ENOENT || r == -EFAULT,
	       "one-call migration of more than capacity: %d (%s)", r,
	       strerror(-r));
	local = n_local(fd, p, npages);
	t_diag("one call: %d, cpages %llu, on device %d", r,
	       (unsigned long long)c.cpages, local);
	if (r == -ENOENT)
		CHECK_EQ(c.cpages, local);
	CHECK(local > 0 && local <= (int)cap);
	CHECK_PAT(p, size, 65);
	return T_PASS;
}

/*
 * One MIGRATE_TO_DEV call that needs eviction of the same process's older
 * pages: 3/4 of the capacity first, then half of it in one call.
 */
static int t_evict_one_call(void)
{
	unsigned long cap = cfg.info[0].capacity_pages;
	unsigned long na = cap * 3 / 4, nb = cap / 2;
	struct hmm_dummy_stats s0, s1;
	struct hmm_dmirror_cmd c;
	char *a = map_anon(na * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	char *b = map_anon(nb * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	int fd = hmm_open(0), r;

	CHECK(a && b && fd >= 0);
	pat_fill(a, na * PS, 75);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, a, NULL, na, NULL),
		  0);
	pat_fill(b, nb * PS, 76);
	STATS(fd, &s0);
	r = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, b, NULL, nb, &c);
	STATS(fd, &s1);
	t_diag("MIGRATE_TO_DEV of %lu pages: %d, cpages %llu, on device %d; in_use %llu, free %llu, evictions +%lld, evicted +%lld, alloc_failures +%lld",
	       nb, r, (unsigned long long)c.cpages, n_local(fd, b, nb),
	       (unsigned long long)s1.in_use, (unsigned long long)s1.free,
	       DELTA(s0, s1, evictions), DELTA(s0, s1, migrated_to_sys_evict),
	       DELTA(s0, s1, alloc_failures));
	if (r)
		diag_missing(fd, b, nb);
	CHECK_RET(r, 0);
	CHECK_EQ(c.cpages, nb);
	CHECK(DELTA(s0, s1, migrated_to_sys_evict) >= (long long)(na + nb - cap));
	CHECK_PAT(a, na * PS, 75);
	CHECK_PAT(b, nb * PS, 76);
	return T_PASS;
}

/*
 * Eviction when device memory is fragmented: every other page of an old
 * range freed (MADV_DONTNEED), so a new range lands in the holes between
 * old pages.  Making room must evict old pages, not the ones this very
 * call just migrated.
 */
static int t_evict_interleaved(void)
{
	unsigned long cap = cfg.info[0].capacity_pages;
	unsigned long na = cap * 3 / 4, nb = cap / 2, i;
	struct hmm_dummy_stats s0, s1;
	struct hmm_dmirror_cmd c;
	char *a = map_anon(na * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	char *b = map_anon(nb * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	int fd = hmm_open(0), r;

	CHECK(a && b && fd >= 0);
	pat_fill(a, na * PS, 77);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, a, NULL, na, NULL),
		  0);
	for (i = 0; i < na / 2; i += 2) {
		CHECK(!madvise(a + i * PS, PS, MADV_DONTNEED));
	}
	pat_fill(b, nb * PS, 78);
	STATS(fd, &s0);
	r = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, b, NULL, nb, &c);
	STATS(fd, &s1);
	t_diag("MIGRATE_TO_DEV of %lu pages: %d, cpages %llu, on device %d; in_use %llu, free %llu, evictions +%lld, evicted +%lld, alloc_failures +%lld",
	       nb, r, (unsigned long long)c.cpages, n_local(fd, b, nb),
	       (unsigned long long)s1.in_use, (unsigned long long)s1.free,
	       DELTA(s0, s1, evictions), DELTA(s0, s1, migrated_to_sys_evict),
	       DELTA(s0, s1, alloc_failures));
	if (r)
		diag_missing(fd, b, nb);
	CHECK_RET(r, 0);
	CHECK_EQ(c.cpages, nb);
	CHECK_PAT(b, nb * PS, 78);
	for (i = 0; i < na; i++) {
		if (i < na / 2 && !(i & 1)) {
			CHECKF(!a[i * PS] && !a[i * PS + PS - 1],
			       "page %lu not zero after MADV_DONTNEED", i);
			continue;
		}
		CHECK_PAT_OFF(a + i * PS, PS, 77, i * PS);
	}
	return T_PASS;
}

static int t_release(void)
{
	unsigned long npages = 64;
	size_t size = npages * PS;
	struct hmm_dummy_stats s0, s1;
	struct hmm_dmirror_cmd c;
	char *p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	char *m = malloc(size);
	int fd = hmm_open(0);

	CHECK(p && m && fd >= 0);
	pat_fill(p, size, 66);
	if (cfg.dummy)
		STATS(fd, &s0);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, m, npages, NULL),
		  0);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_RELEASE, p, NULL, npages, &c), 0);
	CHECK_EQ(n_local(fd, p, npages), 0);
	if (cfg.dummy) {
		STATS(fd, &s1);
		CHECK_EQ(DELTA(s0, s1, in_use), 0);
		CHECK_EQ(DELTA(s0, s1, migrated_to_sys_ioctl), npages);
		CHECK_EQ(DELTA(s0, s1, cpu_faults), 0);
	}
	CHECK_PAT(p, size, 66);
	/* The device is usable afterwards. */
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, m, npages, &c), 0);
	CHECK_EQ(c.cpages, npages);
	CHECK_PAT(m, size, 66);
	CHECK_PAT(p, size, 66);
	return T_PASS;
}

static int t_exclusive(void)
{
	unsigned long npages = 16, i;
	size_t size = npages * PS;
	struct hmm_dmirror_cmd c;
	char *p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	char *m = malloc(size);
	int fd = hmm_open(0);

	CHECK(p && m && fd >= 0);
	pat_fill(p, size, 67);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_EXCLUSIVE, p, m, npages, &c), 0);
	CHECK_EQ(c.cpages, npages);
	CHECK_PAT(m, size, 67);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_CHECK_EXCLUSIVE, p, NULL, npages,
			  NULL), -EPERM);
	/* CPU access to some pages only: still exclusive somewhere. */
	CHECK_PAT(p, 8 * PS, 67);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_CHECK_EXCLUSIVE, p, NULL, 8, NULL),
		  0);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_CHECK_EXCLUSIVE, p, NULL, npages,
			  NULL), -EPERM);
	for (i = 8; i < npages; i++)
		p[i * PS] ^= 0xff;
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_CHECK_EXCLUSIVE, p, NULL, npages,
			  NULL), 0);
	for (i = 8; i < npages; i++)
		p[i * PS] ^= 0xff;
	CHECK_PAT(p, size, 67);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_READ, p, m, npages, NULL), 0);
	CHECK_PAT(m, size, 67);
	return T_PASS;
}

static int t_exclusive_mprotect(void)
{
	unsigned long npages = 16;
	size_t size = npages * PS;
	char *p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	char *m = malloc(size);
	int fd = hmm_open(0);

	CHECK(p && m && fd >= 0);
	pat_fill(p, size, 68);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_EXCLUSIVE, p, m, npages, NULL), 0);
	CHECK(!mprotect(p, size, PROT_READ));
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_WRITE, p, m, npages, NULL), -EPERM);
	CHECK_PAT(p, size, 68);
	return T_PASS;
}

static int t_exclusive_cow(void)
{
	unsigned long npages = 16;
	size_t size = npages * PS;
	char *p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	char *m = malloc(size);
	int fd = hmm_open(0), status;
	pid_t pid;

	CHECK(p && m && fd >= 0);
	pat_fill(p, size, 69);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_EXCLUSIVE, p, m, npages, NULL), 0);
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		if (pat_check(p, size, 69) >= 0)
			_exit(1);
		pat_fill(p, size, 70);
		_exit(pat_check(p, size, 70) >= 0);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && !WEXITSTATUS(status));
	CHECK_PAT(p, size, 69);
	pat_fill(p, size, 71);
	CHECK_PAT(p, size, 71);
	return T_PASS;
}

/*
 * EXCLUSIVE on ordinary memory in the states that used to give -EBUSY: the
 * zero page (range only read), pages on the device, pages already
 * exclusive.  Afterwards CHECK_EXCLUSIVE must agree (-EPERM until the CPU
 * touched every page, then 0) and the data must be intact.
 */
enum excl_how { EXCL_ZERO, EXCL_MIGRATED, EXCL_TWICE };

static int exclusive_state(enum excl_how how)
{
	unsigned long npages = 16, i;
	size_t size = npages * PS;
	struct hmm_dmirror_cmd c;
	char *p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	char *m = malloc(size), *z = calloc(1, size);
	int fd = hmm_open(0);
	volatile char sink = 0;

	CHECK(p && m && z && fd >= 0);
	if (how == EXCL_ZERO) {
		for (i = 0; i < npages; i++)
			sink += p[i * PS];
		CHECK(!sink);
	} else {
		pat_fill(p, size, 130);
	}
	if (how == EXCL_MIGRATED) {
		CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, NULL,
				  npages, &c), 0);
		CHECK_EQ(c.cpages, npages);
	}
	if (how == EXCL_TWICE)
		CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_EXCLUSIVE, p, NULL, npages,
				  &c), 0);
	memset(m, 0x5a, size);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_EXCLUSIVE, p, m, npages, &c), 0);
	CHECK_EQ(c.cpages, npages);
	if (how == EXCL_ZERO)
		CHECK(!memcmp(m, z, size));
	else
		CHECK_PAT(m, size, 130);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_CHECK_EXCLUSIVE, p, NULL, npages,
			  NULL), -EPERM);
	/* The device reads through its atomic mapping; still exclusive. */
	memset(m, 0x5a, size);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_READ, p, m, npages, NULL), 0);
	if (how == EXCL_ZERO)
		CHECK(!memcmp(m, z, size));
	else
		CHECK_PAT(m, size, 130);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_CHECK_EXCLUSIVE, p, NULL, npages,
			  NULL), -EPERM);
	/* CPU reads of half the range: the other half is still exclusive. */
	for (i = 0; i < npages / 2; i++)
		sink += p[i * PS];
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_CHECK_EXCLUSIVE, p, NULL,
			  npages / 2, NULL), 0);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_CHECK_EXCLUSIVE, p, NULL, npages,
			  NULL), -EPERM);
	if (how == EXCL_ZERO)
		CHECK(!memcmp(p, z, size));
	else
		CHECK_PAT(p, size, 130);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_CHECK_EXCLUSIVE, p, NULL, npages,
			  NULL), 0);
	return T_PASS;
}

static int t_exclusive_zero_page(void)
{
	return exclusive_state(EXCL_ZERO);
}

static int t_exclusive_migrated(void)
{
	return exclusive_state(EXCL_MIGRATED);
}

static int t_exclusive_twice(void)
{
	return exclusive_state(EXCL_TWICE);
}

/* MIGRATE_TO_SYS through a device that does not own the pages: no-op. */
static int t_migrate_back_other(void)
{
	unsigned long npages = 16;
	size_t size = npages * PS;
	struct hmm_dmirror_cmd c;
	char *p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	int fd0 = hmm_open(0), fd1 = hmm_open(1);

	CHECK(p && fd0 >= 0 && fd1 >= 0);
	pat_fill(p, size, 72);
	CHECK_RET(hmm_cmd(fd0, HMM_DMIRROR_MIGRATE_TO_DEV, p, NULL, npages,
			  NULL), 0);
	CHECK_RET(hmm_cmd(fd1, HMM_DMIRROR_MIGRATE_TO_SYS, p, NULL, npages,
			  &c), 0);
	CHECK_EQ(c.cpages, 0);
	CHECK_EQ(n_local(fd0, p, npages), npages);
	CHECK_RET(hmm_cmd(fd1, HMM_DMIRROR_RELEASE, p, NULL, npages, NULL), 0);
	CHECK_EQ(n_local(fd0, p, npages), npages);
	CHECK_PAT(p, size, 72);
	return T_PASS;
}

/*
 * Another process's pages.  Eviction triggered by one process moves the
 * pages of another (through its mm), which still finds its data.  RELEASE
 * moves the caller's own pages only: another process's stay on the device.
 */
static int other_process(bool evict)
{
	unsigned long cap = cfg.dummy ? cfg.info[0].capacity_pages : 1024;
	unsigned long na = evict ? cap * 3 / 4 : 256, nb = evict ? cap / 2 : 16;
	struct hmm_dummy_stats s0, s1;
	struct hmm_dmirror_cmd c;
	int ready[2], done[2], fd = hmm_open(0), r;
	char *q = NULL;
	pid_t pid;

	/* test_hmm's RELEASE frees the whole device, every process's pages. */
	if (!evict && !cfg.dummy)
		SKIP("test_hmm's RELEASE evicts every process's pages");
	CHECK(fd >= 0);
	CHECK(!pipe(ready) && !pipe(done));
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		size_t size = na * PS;
		char *p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
		int cfd = hmm_open(0), local;
		char c = 1;

		close(ready[0]);
		close(done[1]);
		if (!p || cfd < 0)
			_exit(2);
		pat_fill(p, size, 73);
		if (hmm_cmd(cfd, HMM_DMIRROR_MIGRATE_TO_DEV, p, NULL, na, NULL))
			_exit(3);
		if (write(ready[1], &c, 1) != 1 || read(done[0], &c, 1) != 1)
			_exit(4);
		local = count_snapshot(cfd, p, na, LOCAL, 0xf0);
		t_diag("child: %d of %lu pages still on the device", local, na);
		if (!evict && local != (int)na)
			_exit(5);
		if (evict && local == (int)na)
			_exit(6);
		_exit(pat_check(p, size, 73) >= 0 ? 7 : 0);
	}
	close(ready[1]);
	close(done[0]);
	CHECK_EQ(read(ready[0], &r, 1), 1);
	if (cfg.dummy)
		STATS(fd, &s0);
	q = map_anon(nb * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	CHECK(q);
	pat_fill(q, nb * PS, 74);
	r = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, q, NULL, nb, &c);
	if (evict && r && cfg.dummy) {
		STATS(fd, &s1);
		t_diag("MIGRATE_TO_DEV of %lu pages: %d, cpages %llu, on device %d; in_use %llu, free %llu, evictions +%lld, evicted +%lld, alloc_failures +%lld",
		       nb, r, (unsigned long long)c.cpages,
		       n_local(fd, q, nb),
		       (unsigned long long)s1.in_use,
		       (unsigned long long)s1.free,
		       DELTA(s0, s1, evictions),
		       DELTA(s0, s1, migrated_to_sys_evict),
		       DELTA(s0, s1, alloc_failures));
		diag_missing(fd, q, nb);
	}
	CHECK_RET(r, 0);
	CHECK_EQ(n_local(fd, q, nb), nb);
	if (!evict) {
		/* The whole address space: only our own pages come back. */
		CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_RELEASE, (void *)PS, NULL,
				  (0x7ffffffff000UL - PS) / PS, &c), 0);
		CHECK_EQ(c.cpages, nb);
		CHECK_EQ(n_local(fd, q, nb), 0);
	}
	if (cfg.dummy) {
		STATS(fd, &s1);
		if (evict)
			CHECK(DELTA(s0, s1, migrated_to_sys_evict) > 0);
		else
			CHECK_EQ(DELTA(s0, s1, migrated_to_sys_ioctl), nb);
	}
	CHECK_EQ(write(done[1], "x", 1), 1);
	CHECK_EQ(wait_child(pid), 0);
	CHECK_PAT(q, nb * PS, 74);
	return T_PASS;
}

static int t_release_other(void)
{
	return other_process(false);
}

static int t_evict_other(void)
{
	return other_process(true);
}

/*
 * A migration over a huge range of pages it skips (a hugetlbfs VMA with
 * MAP_NORESERVE: terabytes of address space, nothing allocated) must
 * still be killable and must not hog the CPU.  Returns the seconds from
 * SIGKILL to the child's exit, or a negative value on a setup failure.
 */
static double kill_latency(unsigned long req, void **map, size_t *len)
{
	static const size_t sizes[] = { 64UL << 40, 16UL << 40, 4UL << 40 };
	int ready[2], status;
	double t;
	size_t i;
	pid_t pid;
	char c;

	for (i = 0; i < ARRAY_SIZE(sizes) && !*map; i++) {
		*map = mmap(NULL, sizes[i], PROT_READ,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB |
			    MAP_NORESERVE, -1, 0);
		if (*map == MAP_FAILED)
			*map = NULL;
		else
			*len = sizes[i];
	}
	if (!*map || pipe(ready))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		int fd = hmm_open(0);

		close(ready[0]);
		if (fd < 0 || write(ready[1], "x", 1) != 1)
			_exit(2);
		hmm_cmd(fd, req, *map, NULL, *len / PS, NULL);
		_exit(1);	/* finished before the kill */
	}
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1)
		return -1;
	close(ready[0]);
	sleep_ms(300);
	t = now_sec();
	kill(pid, SIGKILL);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	t = now_sec() - t;
	if (!WIFSIGNALED(status))
		t_diag("%s returned before the kill (exit %d)",
		       hmm_cmd_name(req), WEXITSTATUS(status));
	return t;
}

static int t_kill_long_range(void)
{
	static const unsigned long reqs[] = {
		HMM_DMIRROR_MIGRATE_TO_DEV, HMM_DMIRROR_MIGRATE_TO_SYS,
		HMM_DMIRROR_RELEASE,
	};
	void *map = NULL;
	size_t len = 0, i;
	int failed = 0;
	double t;

	for (i = 0; i < ARRAY_SIZE(reqs); i++) {
		t = kill_latency(reqs[i], &map, &len);
		if (t < 0 && !map)
			SKIP("no MAP_HUGETLB | MAP_NORESERVE mapping of 4 TiB");
		CHECK(t >= 0);
		t_diag("%s over %zu TiB of hugetlbfs: killed in %.2f s",
		       hmm_cmd_name(reqs[i]), len >> 40, t);
		failed |= t > 2;
	}
	return failed ? T_FAIL : T_PASS;
}

static const struct tcase cases[] = {
	{ "migrate", t_migrate, 0,
	  "migrate to the device, verify by device read, CPU faults it back" },
	{ "migrate_fault_read", t_fault_read, 0,
	  "CPU read faults bring migrated pages back with their data" },
	{ "migrate_fault_write", t_fault_write, 0,
	  "CPU write faults bring migrated pages back with their data" },
	{ "fault_window", t_fault_window, T_DUMMY,
	  "one CPU fault moves at most fault_window pages, clipped to the VMA" },
	{ "migrate_back", t_migrate_back, 0,
	  "explicit MIGRATE_TO_SYS, full and partial" },
	{ "migrate_holes", t_migrate_holes, T_NOCOMPAT,
	  "pte_none and zero-page sources, read-only VMA keeps write protection" },
	{ "migrate_partial", t_migrate_partial, 0,
	  "sub-ranges migrate exactly their pages" },
	{ "migrate_bad_range", t_migrate_bad_range, 0,
	  "range with a hole or a PROT_NONE VMA: -EINVAL, data intact" },
	{ "migrate_twice", t_migrate_twice, 0,
	  "migrating a range already on the device is a no-op" },
	{ "migrate_multiple", t_migrate_multiple, 0,
	  "20 rounds of migrate/verify/fault" },
	{ "migrate_peer", t_migrate_peer, T_TWO,
	  "peer migration device 0 -> device 1 -> device 0" },
	{ "read_peer_pages", t_read_peer_pages, T_TWO,
	  "device access to a peer's pages faults them back" },
	{ "write_device_pages", t_write_device_pages, 0,
	  "device write of its own pages keeps them on the device" },
	{ "eviction", t_eviction, T_DUMMY | T_SLOW,
	  "capacity + 25% migrated: LRU eviction, data intact" },
	{ "eviction_one_call", t_evict_one_call, T_DUMMY | T_SLOW,
	  "one migration that must evict older pages of the same process" },
	{ "eviction_interleaved", t_evict_interleaved, T_DUMMY | T_SLOW,
	  "eviction in fragmented device memory spares this call's new pages" },
	{ "release", t_release, 0,
	  "RELEASE moves the range's device pages back, data intact" },
	{ "migrate_back_other_dev", t_migrate_back_other, T_TWO,
	  "MIGRATE_TO_SYS/RELEASE on a device that does not own the pages" },
	{ "release_other_process", t_release_other, 0,
	  "RELEASE moves the caller's pages only, another process's stay" },
	{ "eviction_other_process", t_evict_other, T_DUMMY | T_SLOW,
	  "eviction moves another process's pages back, its data intact" },
	{ "kill_long_range", t_kill_long_range, 0,
	  "migrations over terabytes of skipped pages die at once on SIGKILL" },
	{ "exclusive", t_exclusive, 0,
	  "EXCLUSIVE, CHECK_EXCLUSIVE, CPU access revokes" },
	{ "exclusive_mprotect", t_exclusive_mprotect, 0,
	  "exclusive pages made read-only refuse device writes" },
	{ "exclusive_cow", t_exclusive_cow, 0,
	  "fork of exclusively mapped pages: copy-on-write both sides" },
	{ "exclusive_zero_page", t_exclusive_zero_page, 0,
	  "EXCLUSIVE of a range only read (zero page), CHECK agrees, data" },
	{ "exclusive_migrated", t_exclusive_migrated, 0,
	  "EXCLUSIVE of pages on the device, CHECK agrees, data intact" },
	{ "exclusive_twice", t_exclusive_twice, 0,
	  "EXCLUSIVE of a range already exclusive, CHECK agrees, data" },
};

const struct tgroup tests_migrate = { cases, ARRAY_SIZE(cases) };
