// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_test: migration cases: to the device and back (ioctl and CPU faults),
 * fault window, holes and the zero page, partial ranges, peers, eviction,
 * RELEASE and device-exclusive access.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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

/*
 * What a MIGRATE_TO_DEV of @n pages at @p, with result @r, did to the
 * device's memory between the readings @s0 and @s1: for the diagnostics of
 * the cases where it has to evict.
 */
static void diag_evict(int fd, char *p, unsigned long n, int r,
		       unsigned long long cpages,
		       const struct hmm_dummy_stats *s0,
		       const struct hmm_dummy_stats *s1)
{
	t_diag("MIGRATE_TO_DEV of %lu pages: %d, cpages %llu, on device %d; in_use %llu, free %llu, evictions +%lld, evicted +%lld, alloc_failures +%lld",
	       n, r, cpages, n_local(fd, p, n),
	       (unsigned long long)s1->in_use, (unsigned long long)s1->free,
	       DELTA(*s0, *s1, evictions),
	       DELTA(*s0, *s1, migrated_to_sys_evict),
	       DELTA(*s0, *s1, alloc_failures));
	if (r)
		diag_missing(fd, p, n);
}

/*
 * One MIGRATE_TO_DEV of all @n pages at @p that has to evict older pages
 * to make room: it must move every page.  The driver's counters before
 * and after go to @s0 and @s1.
 */
static int migrate_evicting(int fd, char *p, unsigned long n,
			    struct hmm_dummy_stats *s0,
			    struct hmm_dummy_stats *s1)
{
	struct hmm_dmirror_cmd c;
	int r;

	STATS(fd, s0);
	r = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, NULL, n, &c);
	STATS(fd, s1);
	diag_evict(fd, p, n, r, c.cpages, s0, s1);
	CHECK_RET(r, 0);
	CHECK_EQ(c.cpages, n);
	return T_PASS;
}

static int t_migrate(void)
{
	unsigned long npages = 64;
	struct hmm_dummy_stats s0, s1;
	int present, fd;
	struct fx f;

	FX(fx_setup(&f, npages, 0, 20));
	fd = f.fd[0];
	if (cfg.dummy)
		STATS(fd, &s0);
	FX_TO_DEV(&f);
	FX_PAT_M(&f, 20);
	CHECK_EQ(n_local(fd, f.p, npages), npages);
	CHECK_EQ(count_snapshot(fd, f.p, npages, LOCAL | HMM_DMIRROR_PROT_WRITE,
				0xff), npages);
	CHECK_EQ(pagemap_count(f.p, npages, &present), npages);
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
	memset(f.m, 0, f.size);
	FX_READ(&f);
	if (f.c.faults)
		t_diag("note: READ after MIGRATE_TO_DEV needed %llu faults",
		       (unsigned long long)f.c.faults);
	FX_PAT_M(&f, 20);
	CHECK_EQ(n_local(fd, f.p, npages), npages);
	/* The CPU gets its data back. */
	FX_PAT(&f, 20);
	CHECK_EQ(n_local(fd, f.p, npages), 0);
	CHECK_EQ(pagemap_count(f.p, npages, &present), 0);
	CHECK_EQ(present, npages);
	return T_PASS;
}

/* CPU read or write faults after migration; @write selects which. */
static int fault_back(bool write)
{
	unsigned long npages = 256, i;
	struct hmm_dummy_stats s0, s1;
	struct fx f;
	char *p;
	int fd;

	FX(fx_setup(&f, npages, 0, 21));
	p = f.p;
	fd = f.fd[0];
	FX_TO_DEV(&f);
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
	FX_PAT(&f, 21);
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
	FX_READ(&f);
	FX_PAT_M(&f, 21);
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
	struct hmm_dummy_stats s0, s1;
	volatile char *p;
	struct fx f;
	int fd, back;

	FX(fx_setup(&f, npages, 0, 22));
	p = f.p;
	fd = f.fd[0];
	FX_TO_DEV(&f);
	STATS(fd, &s0);
	CHECK_EQ(p[20 * PS], (char)pat_expected(22, 20 * PS));
	STATS(fd, &s1);
	back = npages - n_local(fd, f.p, npages);
	t_diag("fault at page 20 brought back %d pages (window %lu)",
	       back, win);
	CHECK_EQ(n_local(fd, f.p + 20 * PS, 1), 0);
	CHECK(back >= 1);
	CHECK(back <= (int)win);
	CHECK_EQ(DELTA(s0, s1, cpu_faults), 1);
	CHECK_EQ(DELTA(s0, s1, migrated_to_sys_fault), back);
	if (win > 1 && back == 1)
		t_diag("note: fault_window %lu but a single page came back",
		       win);
	FX_PAT(&f, 22);

	/*
	 * Two adjacent VMAs of 8 pages (A read-write, B read-only): a fault
	 * in A must not pull B's pages and the window is clipped to A.
	 */
	CHECK(!munmap(f.p, f.size));
	p = map_anon(16 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	CHECK(p);
	pat_fill((char *)p, 16 * PS, 23);
	CHECK(!mprotect((char *)p + 8 * PS, 8 * PS, PROT_READ));
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, (char *)p, f.m, 16,
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
	struct hmm_dummy_stats s0, s1;
	struct fx f;
	int fd;

	FX(fx_setup(&f, npages, 0, 24));
	fd = f.fd[0];
	FX_TO_DEV(&f);
	if (cfg.dummy)
		STATS(fd, &s0);
	FX_TO_SYS(&f);
	CHECK_EQ(n_local(fd, f.p, npages), 0);
	if (cfg.dummy) {
		STATS(fd, &s1);
		CHECK_EQ(DELTA(s0, s1, migrated_to_sys_ioctl), npages);
		CHECK_EQ(DELTA(s0, s1, cpu_faults), 0);
		CHECK_EQ(DELTA(s0, s1, page_free_calls), npages);
		CHECK_EQ(DELTA(s0, s1, in_use), -(long long)npages);
	}
	/* Already in system memory: nothing to do. */
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_MIGRATE_TO_SYS, 0, npages), 0);
	CHECK_EQ(f.c.cpages, 0);
	if (cfg.dummy) {
		STATS(fd, &s0);
		FX_PAT(&f, 24);
		STATS(fd, &s1);
		CHECK_EQ(DELTA(s0, s1, cpu_faults), 0);
	}
	FX_PAT(&f, 24);
	/* Half of it back, the other half faulted. */
	FX_TO_DEV(&f);
	FX(fx_ok(&f, 0, HMM_DMIRROR_MIGRATE_TO_SYS, 32, 64));
	CHECK_EQ(n_local(fd, f.p, npages), npages - 64);
	FX_PAT(&f, 24);
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
	unsigned char *p, *m, *snap = malloc(npages);
	volatile unsigned char *v;
	struct fx f;
	int fd;

	FX(fx_setup(&f, npages, 0, FX_NOFILL));
	CHECK(snap);
	p = (unsigned char *)f.p;
	m = (unsigned char *)f.m;
	fd = f.fd[0];
	/* 0-7 pte_none, 8-15 zero page, 16-23 written, 24-31 read-only. */
	for (i = 8; i < 16; i++) {
		v = p + i * PS;
		CHECK(*v == 0);
	}
	pat_fill(p + 16 * PS, 16 * PS, 25);
	CHECK(!mprotect(p + 24 * PS, 8 * PS, PROT_READ));
	FX_TO_DEV(&f);
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
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_WRITE, 24, 8), -EPERM);
	for (i = 0; i < 16 * PS; i++)
		CHECKF(!p[i], "empty page: byte %lu = 0x%02x", i, p[i]);
	CHECK_PAT(p + 16 * PS, 16 * PS, 25);
	CHECK(!mprotect(p + 24 * PS, 8 * PS, PROT_READ | PROT_WRITE));
	pat_fill(p, f.size, 26);
	FX_PAT(&f, 26);
	return T_PASS;
}

static int t_migrate_partial(void)
{
	unsigned long npages = 32, i;
	unsigned char *snap = malloc(npages);
	struct fx f;

	FX(fx_setup(&f, npages, 0, 27));
	CHECK(snap);
	FX(fx_ok(&f, 0, HMM_DMIRROR_MIGRATE_TO_DEV, 3, 7));
	CHECK_PAT_OFF(f.m, 7 * PS, 27, 3 * PS);
	CHECK_RET(hmm_cmd(f.fd[0], HMM_DMIRROR_SNAPSHOT, f.p, snap, npages,
			  NULL), 0);
	for (i = 0; i < npages; i++) {
		bool dev = (snap[i] & 0xf0) == LOCAL;

		CHECKF(dev == (i >= 3 && i < 10), "page %lu snapshot 0x%02x",
		       i, snap[i]);
	}
	/* A last single page. */
	FX(fx_ok(&f, 0, HMM_DMIRROR_MIGRATE_TO_DEV, 31, 1));
	CHECK_EQ(n_local(f.fd[0], f.p, npages), 8);
	FX_PAT(&f, 27);
	return T_PASS;
}

/* Holes and PROT_NONE VMAs inside the range: -EINVAL, data untouched. */
static int t_migrate_bad_range(void)
{
	struct fx f;

	FX(fx_setup(&f, 16, 0, 28));
	CHECK(!munmap(f.p + 8 * PS, PS));
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_MIGRATE_TO_DEV, 0, 16), -EINVAL);
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_MIGRATE_TO_DEV, 8, 2), -EINVAL);
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_MIGRATE_TO_SYS, 0, 16), -EINVAL);
	CHECK(!mprotect(f.p + 4 * PS, PS, PROT_NONE));
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_MIGRATE_TO_DEV, 0, 8), -EINVAL);
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_MIGRATE_TO_DEV, 4, 1), -EINVAL);
	CHECK(!mprotect(f.p + 4 * PS, PS, PROT_READ | PROT_WRITE));
	CHECK_PAT(f.p, 8 * PS, 28);
	pat_fill(f.m, f.size, 28);
	CHECK(!memcmp(f.p + 9 * PS, f.m + 9 * PS, 7 * PS));
	/* The valid part still migrates. */
	FX(fx_ok(&f, 0, HMM_DMIRROR_MIGRATE_TO_DEV, 0, 8));
	CHECK_PAT(f.p, 8 * PS, 28);
	return T_PASS;
}

static int t_migrate_twice(void)
{
	struct hmm_dummy_stats s0, s1;
	struct fx f;

	FX(fx_setup(&f, 32, 0, 29));
	FX_TO_DEV(&f);
	if (cfg.dummy)
		STATS(f.fd[0], &s0);
	memset(f.m, 0, f.size);
	FX_TO_DEV(&f);
	FX_PAT_M(&f, 29);
	if (cfg.dummy) {
		STATS(f.fd[0], &s1);
		CHECK_EQ(DELTA(s0, s1, allocations), 0);
		CHECK_EQ(DELTA(s0, s1, migrated_to_dev), 0);
	}
	/* Overlapping: half already there. */
	FX(fx_ok(&f, 0, HMM_DMIRROR_MIGRATE_TO_SYS, 0, 16));
	FX_TO_DEV(&f);
	FX_PAT_M(&f, 29);
	FX_PAT(&f, 29);
	return T_PASS;
}

static int t_migrate_multiple(void)
{
	unsigned long i;
	struct fx f;

	FX(fx_setup(&f, 64, 0, FX_NOFILL));
	for (i = 0; i < 20; i++) {
		pat_fill(f.p, f.size, 30 + i);
		FX_TO_DEV(&f);
		FX_PAT_M(&f, 30 + i);
		if (i & 1)
			FX_TO_SYS(&f);
		FX_PAT(&f, 30 + i);
	}
	return T_PASS;
}

/* Device 0 -> device 1 -> device 0 with peer_migration; else pages stay. */
static int t_migrate_peer(void)
{
	unsigned long npages = 64;
	struct hmm_dummy_stats a0, a1, b0, b1;
	bool peer = cfg.dummy && cfg.info[1].peer_migration;
	struct fx f;
	int r;

	FX(fx_setup(&f, npages, FX_TWO, 60));
	FX_TO_DEV(&f);
	if (cfg.dummy) {
		STATS(f.fd[0], &a0);
		STATS(f.fd[1], &a1);
	}
	memset(f.m, 0, f.size);
	r = fx_cmd(&f, 1, HMM_DMIRROR_MIGRATE_TO_DEV, 0, npages);
	if (!peer) {
		t_diag("peer_migration off: pages stay on device 0");
		CHECK_RET(r, -ENOENT);
		if (cfg.dummy)
			CHECK_EQ(f.c.cpages, 0);
		CHECK_EQ(n_local(f.fd[0], f.p, npages), npages);
		FX_PAT(&f, 60);
		return T_PASS;
	}
	CHECK_RET(r, 0);
	CHECK_EQ(f.c.cpages, npages);
	FX_PAT_M(&f, 60);
	CHECK_EQ(n_local(f.fd[1], f.p, npages), npages);
	CHECK_EQ(n_local(f.fd[0], f.p, npages), 0);
	STATS(f.fd[0], &b0);
	STATS(f.fd[1], &b1);
	CHECK_EQ(DELTA(a1, b1, migrated_to_dev), npages);
	CHECK_EQ(DELTA(a1, b1, allocations), npages);
	CHECK_EQ(DELTA(a0, b0, page_free_calls), npages);
	CHECK_EQ(DELTA(a0, b0, in_use), -(long long)npages);
	/* And back, half the range. */
	FX(fx_ok(&f, 0, HMM_DMIRROR_MIGRATE_TO_DEV, 0, npages / 2));
	CHECK_PAT(f.m, f.size / 2, 60);
	CHECK_EQ(n_local(f.fd[0], f.p, npages), npages / 2);
	CHECK_EQ(n_local(f.fd[1], f.p, npages), npages / 2);
	FX_PAT(&f, 60);
	return T_PASS;
}

/*
 * A device reading a peer's pages faults them back to system memory (with
 * peer_group it reads them in place: peer_read_in_place).
 */
static int t_read_peer_pages(void)
{
	unsigned long npages = 32;
	struct hmm_dummy_stats a, b;
	struct fx f;

	if (cfg.dummy && hmm_peer_group())
		SKIP("peer_group=1: peers' pages are read in place (peer_read_in_place)");
	FX(fx_setup(&f, npages, FX_TWO, 61));
	FX_TO_DEV(&f);
	if (cfg.dummy)
		STATS(f.fd[0], &a);
	memset(f.m, 0, f.size);
	FX(fx_ok(&f, 1, HMM_DMIRROR_READ, 0, npages));
	FX_PAT_M(&f, 61);
	CHECK_EQ(n_local(f.fd[0], f.p, npages), 0);
	if (cfg.dummy) {
		STATS(f.fd[0], &b);
		CHECK_EQ(DELTA(a, b, migrated_to_sys_fault), npages);
		CHECK_EQ(DELTA(a, b, in_use), -(long long)npages);
	}
	/* Device 1 writing dev0's pages the same way. */
	FX_TO_DEV(&f);
	pat_fill(f.m, f.size, 62);
	FX(fx_ok(&f, 1, HMM_DMIRROR_WRITE, 0, npages));
	CHECK_EQ(n_local(f.fd[0], f.p, npages), 0);
	FX_PAT(&f, 62);
	return T_PASS;
}

/* The device writes pages that live in its own memory: they stay there. */
static int t_write_device_pages(void)
{
	struct fx f;

	FX(fx_setup(&f, 32, 0, 63));
	FX_TO_DEV(&f);
	pat_fill(f.m, f.size, 64);
	FX_WRITE(&f);
	CHECK_EQ(n_local(f.fd[0], f.p, f.npages), f.npages);
	memset(f.m, 0, f.size);
	FX_READ(&f);
	FX_PAT_M(&f, 64);
	FX_PAT(&f, 64);
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
	char *b = map_anon(nb * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	struct hmm_dummy_stats s0, s1;
	struct fx a;

	FX(fx_setup(&a, na, FX_NOBUF, 75));
	CHECK(b);
	FX_TO_DEV(&a);
	pat_fill(b, nb * PS, 76);
	FX(migrate_evicting(a.fd[0], b, nb, &s0, &s1));
	CHECK(DELTA(s0, s1, migrated_to_sys_evict) >= (long long)(na + nb - cap));
	FX_PAT(&a, 75);
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
	char *b = map_anon(nb * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	struct hmm_dummy_stats s0, s1;
	struct fx f;
	char *a;

	FX(fx_setup(&f, na, FX_NOBUF, 77));
	a = f.p;
	CHECK(b);
	FX_TO_DEV(&f);
	for (i = 0; i < na / 2; i += 2)
		CHECK(!madvise(a + i * PS, PS, MADV_DONTNEED));
	pat_fill(b, nb * PS, 78);
	FX(migrate_evicting(f.fd[0], b, nb, &s0, &s1));
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
	struct hmm_dummy_stats s0, s1;
	struct fx f;

	FX(fx_setup(&f, npages, 0, 66));
	if (cfg.dummy)
		STATS(f.fd[0], &s0);
	FX_TO_DEV(&f);
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_RELEASE, 0, npages), 0);
	CHECK_EQ(n_local(f.fd[0], f.p, npages), 0);
	if (cfg.dummy) {
		STATS(f.fd[0], &s1);
		CHECK_EQ(DELTA(s0, s1, in_use), 0);
		CHECK_EQ(DELTA(s0, s1, migrated_to_sys_ioctl), npages);
		CHECK_EQ(DELTA(s0, s1, cpu_faults), 0);
	}
	FX_PAT(&f, 66);
	/* The device is usable afterwards. */
	FX_TO_DEV(&f);
	FX_PAT_M(&f, 66);
	FX_PAT(&f, 66);
	return T_PASS;
}

static int t_exclusive(void)
{
	unsigned long npages = 16, i;
	struct fx f;

	FX(fx_setup(&f, npages, 0, 67));
	FX(fx_ok(&f, 0, HMM_DMIRROR_EXCLUSIVE, 0, npages));
	FX_PAT_M(&f, 67);
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_CHECK_EXCLUSIVE, 0, npages),
		  -EPERM);
	/* CPU access to some pages only: still exclusive somewhere. */
	CHECK_PAT(f.p, 8 * PS, 67);
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_CHECK_EXCLUSIVE, 0, 8), 0);
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_CHECK_EXCLUSIVE, 0, npages),
		  -EPERM);
	for (i = 8; i < npages; i++)
		f.p[i * PS] ^= 0xff;
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_CHECK_EXCLUSIVE, 0, npages), 0);
	for (i = 8; i < npages; i++)
		f.p[i * PS] ^= 0xff;
	FX_PAT(&f, 67);
	FX_READ(&f);
	FX_PAT_M(&f, 67);
	return T_PASS;
}

static int t_exclusive_mprotect(void)
{
	struct fx f;

	FX(fx_setup(&f, 16, 0, 68));
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_EXCLUSIVE, 0, 16), 0);
	CHECK(!mprotect(f.p, f.size, PROT_READ));
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_WRITE, 0, 16), -EPERM);
	FX_PAT(&f, 68);
	return T_PASS;
}

static int t_exclusive_cow(void)
{
	struct fx f;
	int status;
	pid_t pid;

	FX(fx_setup(&f, 16, 0, 69));
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_EXCLUSIVE, 0, 16), 0);
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		if (pat_check(f.p, f.size, 69) >= 0)
			_exit(1);
		pat_fill(f.p, f.size, 70);
		_exit(pat_check(f.p, f.size, 70) >= 0);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && !WEXITSTATUS(status));
	FX_PAT(&f, 69);
	pat_fill(f.p, f.size, 71);
	FX_PAT(&f, 71);
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
	char *z = calloc(1, npages * PS);
	volatile char sink = 0;
	struct fx f;

	FX(fx_setup(&f, npages, 0, how == EXCL_ZERO ? FX_NOFILL : 130));
	CHECK(z);
	if (how == EXCL_ZERO) {
		for (i = 0; i < npages; i++)
			sink += f.p[i * PS];
		CHECK(!sink);
	}
	if (how == EXCL_MIGRATED)
		FX_TO_DEV(&f);
	if (how == EXCL_TWICE)
		CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_EXCLUSIVE, 0, npages), 0);
	memset(f.m, 0x5a, f.size);
	FX(fx_ok(&f, 0, HMM_DMIRROR_EXCLUSIVE, 0, npages));
	if (how == EXCL_ZERO)
		CHECK(!memcmp(f.m, z, f.size));
	else
		FX_PAT_M(&f, 130);
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_CHECK_EXCLUSIVE, 0, npages),
		  -EPERM);
	/* The device reads through its atomic mapping; still exclusive. */
	memset(f.m, 0x5a, f.size);
	FX_READ(&f);
	if (how == EXCL_ZERO)
		CHECK(!memcmp(f.m, z, f.size));
	else
		FX_PAT_M(&f, 130);
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_CHECK_EXCLUSIVE, 0, npages),
		  -EPERM);
	/* CPU reads of half the range: the other half is still exclusive. */
	for (i = 0; i < npages / 2; i++)
		sink += f.p[i * PS];
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_CHECK_EXCLUSIVE, 0, npages / 2),
		  0);
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_CHECK_EXCLUSIVE, 0, npages),
		  -EPERM);
	if (how == EXCL_ZERO)
		CHECK(!memcmp(f.p, z, f.size));
	else
		FX_PAT(&f, 130);
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_CHECK_EXCLUSIVE, 0, npages), 0);
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

/*
 * EXCLUSIVE of the last page of a range while another thread zaps the whole
 * range with MADV_DONTNEED, which takes no page lock: the zap starts (its
 * invalidation begins) before EXCLUSIVE and reaches the last page only
 * after it.  Whatever the order, once both are done the device must not
 * hold the page: after the CPU writes it, CHECK_EXCLUSIVE must say the
 * CPU has it and a device READ must see what the CPU wrote.  A driver that
 * samples the notifier sequence after make_device_exclusive() keeps an
 * atomic mapping of the page the zap freed (issue 18, item 1): the READ
 * then returns the freed page's old contents.
 */
struct zap_race {
	char *p;
	size_t size;
	int go;
};

static void *zap_thread(void *arg)
{
	struct zap_race *z = arg;

	__atomic_store_n(&z->go, 1, __ATOMIC_SEQ_CST);
	madvise(z->p, z->size, MADV_DONTNEED);
	return NULL;
}

static int t_exclusive_zap_race(void)
{
	const size_t size = 128UL << 20;
	unsigned int round, stale = 0, before = 0, busy = 0;
	struct zap_race z = { .size = size };
	struct hmm_dmirror_cmd c;
	double end = now_sec() + 8;
	char *last, *buf;
	pthread_t t;
	int fd, r, rc;

	fd = hmm_open(0);
	CHECK(fd >= 0);
	z.p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	buf = malloc(PS);
	CHECK(z.p && buf);
	/* 4 KiB pages: a zap of 32768 PTEs, the last page reached last. */
	CHECK(!madvise(z.p, size, MADV_NOHUGEPAGE));
	last = z.p + size - PS;
	for (round = 0; round < 40 && (round < 6 || now_sec() < end);
	     round++) {
		memset(z.p, 1, size);
		z.go = 0;
		CHECK(!pthread_create(&t, NULL, zap_thread, &z));
		while (!__atomic_load_n(&z.go, __ATOMIC_SEQ_CST))
			;
		memset(buf, 0x5a, PS);
		r = hmm_cmd(fd, HMM_DMIRROR_EXCLUSIVE, last, buf, 1, &c);
		CHECK(!pthread_join(t, NULL));
		CHECKF(!r || r == -EBUSY, "EXCLUSIVE: %d (%s)", r, strerror(-r));
		busy += r == -EBUSY;
		/* It took the page before the zap got there (data 1). */
		before += !r && buf[0] == 1;
		memset(last, 0x77, PS);
		rc = hmm_cmd(fd, HMM_DMIRROR_CHECK_EXCLUSIVE, last, NULL, 1,
			     &c);
		memset(buf, 0, PS);
		CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_READ, last, buf, 1, &c), 0);
		if (rc || buf[0] != 0x77 || memcmp(buf, buf + 1, PS - 1)) {
			if (!stale++)
				t_diag("round %u: CHECK_EXCLUSIVE %d after the CPU wrote the page, device READ got 0x%02x (want 0x77)",
				       round, rc, (unsigned char)buf[0]);
		}
	}
	t_diag("%u rounds: EXCLUSIVE took the page before the zap reached it in %u, -EBUSY in %u; stale device mapping in %u",
	       round, before, busy, stale);
	CHECK_EQ(stale, 0);
	munmap(z.p, size);
	free(buf);
	close(fd);
	return T_PASS;
}

/*
 * EXCLUSIVE on pages of a THP in one thread while another migrates the
 * same THP to the device starting 4 KiB in, round after round.  On 7.3 the
 * migration opens its invalidation and then sleeps on the lock of the
 * PTE-mapped large folio to split it (EXCLUSIVE leaves the THP PTE-mapped);
 * an EXCLUSIVE that waits for invalidations to end while holding that lock
 * (mmu_interval_read_begin() after make_device_exclusive()) waits for the
 * migration, which waits for it: both sleep uninterruptibly and the process
 * can never exit (issue 18, item 2).  The rounds run in a child; a child
 * still running after the watchdog's limit fails the case (it cannot be
 * killed then, so it is left behind rather than waited for).
 */
#define HPS_EXCL	(2UL << 20)

struct excl_mig {
	int fd;
	char *p;
	pthread_barrier_t bar;
	unsigned int rounds;
	int stop;
	unsigned int excl_ok, mig_ok;
};

static void *excl_mig_thread(void *arg)
{
	struct excl_mig *x = arg;
	unsigned long np = HPS_EXCL / PS;
	unsigned int i;

	for (i = 0; i < x->rounds; i++) {
		pthread_barrier_wait(&x->bar);
		if (!__atomic_load_n(&x->stop, __ATOMIC_SEQ_CST) &&
		    !hmm_cmd(x->fd, HMM_DMIRROR_MIGRATE_TO_DEV, x->p + PS,
			     NULL, np - 1, NULL))
			x->mig_ok++;
		pthread_barrier_wait(&x->bar);
		if (__atomic_load_n(&x->stop, __ATOMIC_SEQ_CST))
			break;
	}
	return NULL;
}

static int excl_mig_child(int fd, double secs)
{
	unsigned long np = HPS_EXCL / PS, k;
	struct excl_mig x = { .fd = fd, .rounds = 100000 };
	double end = now_sec() + secs;
	unsigned int i;
	pthread_t t;
	char *p;

	if (pthread_barrier_init(&x.bar, NULL, 2) ||
	    pthread_create(&t, NULL, excl_mig_thread, &x))
		return 2;
	for (i = 0; i < x.rounds; i++) {
		p = map_aligned(HPS_EXCL, HPS_EXCL);
		if (!p)
			return 2;
		madvise(p, HPS_EXCL, MADV_HUGEPAGE);
		pat_fill(p, HPS_EXCL, 240 + i);
		x.p = p;
		if (now_sec() > end)
			__atomic_store_n(&x.stop, 1, __ATOMIC_SEQ_CST);
		pthread_barrier_wait(&x.bar);
		/* Each page of it is one window: the folio locked, then wait. */
		k = 1 + (i * 37) % (np - 33);
		if (!x.stop &&
		    !hmm_cmd(fd, HMM_DMIRROR_EXCLUSIVE, p + k * PS, NULL, 32,
			     NULL))
			x.excl_ok++;
		pthread_barrier_wait(&x.bar);
		if (pat_check(p, HPS_EXCL, 240 + i) >= 0)
			return 3;
		munmap(p, HPS_EXCL);
		if (x.stop)
			break;
	}
	pthread_join(t, NULL);
	printf("# %u rounds: EXCLUSIVE succeeded in %u, MIGRATE_TO_DEV in %u\n",
	       i, x.excl_ok, x.mig_ok);
	return 0;
}

/* The kernel stacks of every thread of @pid, as diagnostics. */
static void diag_stacks(pid_t pid)
{
	char path[320], line[256];
	struct dirent *d;
	DIR *dir;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	while (dir && (d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stack", pid,
			 d->d_name);
		t_diag("thread %s:", d->d_name);
		f = fopen(path, "re");
		while (f && fgets(line, sizeof(line), f))
			t_diag("  %s", strtok(line, "\n"));
		if (f)
			fclose(f);
	}
	if (dir)
		closedir(dir);
}

static int t_exclusive_vs_migrate(void)
{
	const unsigned int limit = 60;
	int fd, status = 0;
	double end;
	pid_t pid;

	fd = hmm_open(0);
	CHECK(fd >= 0);
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		int cfd = hmm_open(0);

		fflush(NULL);
		_exit(cfd < 0 ? 2 : excl_mig_child(cfd, 10));
	}
	end = now_sec() + limit;
	while (waitpid(pid, &status, WNOHANG) != pid) {
		if (now_sec() > end) {
			diag_stacks(pid);
			kill(pid, SIGKILL);
			close(fd);
			return t_fail(__FILE__, __LINE__,
				      "the EXCLUSIVE/MIGRATE_TO_DEV child still runs after %u s: deadlocked (kernel stacks above)",
				      limit);
		}
		sleep_ms(20);
	}
	close(fd);
	CHECKF(WIFEXITED(status) && !WEXITSTATUS(status),
	       "child status %#x (2 setup, 3 data)", status);
	return T_PASS;
}

/* MIGRATE_TO_SYS through a device that does not own the pages: no-op. */
static int t_migrate_back_other(void)
{
	unsigned long npages = 16;
	struct fx f;

	FX(fx_setup(&f, npages, FX_TWO | FX_NOBUF, 72));
	FX_TO_DEV(&f);
	CHECK_RET(fx_cmd(&f, 1, HMM_DMIRROR_MIGRATE_TO_SYS, 0, npages), 0);
	CHECK_EQ(f.c.cpages, 0);
	CHECK_EQ(n_local(f.fd[0], f.p, npages), npages);
	CHECK_RET(fx_cmd(&f, 1, HMM_DMIRROR_RELEASE, 0, npages), 0);
	CHECK_EQ(n_local(f.fd[0], f.p, npages), npages);
	FX_PAT(&f, 72);
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
		diag_evict(fd, q, nb, r, c.cpages, &s0, &s1);
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

/*
 * FAIL_ALLOC on a migration of single pages.  To the device: the batch's
 * allocation comes back one page short, as when device memory runs out, so
 * one page of the first batch stays and the migration ends after that
 * batch (-ENOENT, cpages one batch less one); the failure is consumed, and
 * the next migration moves everything.  Back: that one system allocation
 * fails and that page stays on the device.
 */
static int t_migrate_fail_alloc(void)
{
	const unsigned long batch = (2UL << 20) / PS, npages = 2 * batch;
	struct hmm_dummy_stats s0, s1;
	struct fx f;
	int fd;

	FX(fx_setup(&f, npages, FX_ALIGNED, FX_NOFILL));
	fd = f.fd[0];
	/* Single pages: no THP, no large device folio. */
	CHECK(!madvise(f.p, f.size, MADV_NOHUGEPAGE));
	pat_fill(f.p, f.size, 160);

	STATS(fd, &s0);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_FLAGS, NULL, NULL,
			  HMM_DMIRROR_FLAG_FAIL_ALLOC, NULL), 0);
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_MIGRATE_TO_DEV, 0, npages),
		  -ENOENT);
	CHECK_EQ(f.c.cpages, batch - 1);
	STATS(fd, &s1);
	CHECK_EQ(DELTA(s0, s1, alloc_failures), 1);
	CHECK_EQ(DELTA(s0, s1, migrated_to_dev), (long long)batch - 1);
	FX(fx_ok(&f, 0, HMM_DMIRROR_MIGRATE_TO_DEV, 0, npages));
	FX_PAT_M(&f, 160);

	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_FLAGS, NULL, NULL,
			  HMM_DMIRROR_FLAG_FAIL_ALLOC, NULL), 0);
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_MIGRATE_TO_SYS, 0, npages), 0);
	CHECK_EQ(f.c.cpages, npages - 1);
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_MIGRATE_TO_SYS, 0, npages), 0);
	CHECK_EQ(f.c.cpages, 1);
	FX_PAT(&f, 160);
	return T_PASS;
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
	{ "migrate_fail_alloc", t_migrate_fail_alloc, T_DUMMY,
	  "FAIL_ALLOC with single pages: one page short, then the rest" },
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
	{ "exclusive_zap_race", t_exclusive_zap_race, T_SLOW,
	  "EXCLUSIVE racing MADV_DONTNEED of its page: no stale device mapping" },
	{ "exclusive_vs_migrate", t_exclusive_vs_migrate, T_SLOW,
	  "EXCLUSIVE and MIGRATE_TO_DEV on one THP at once: no deadlock (watchdog)" },
};

const struct tgroup tests_migrate = { cases, ARRAY_SIZE(cases) };
