// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_test: device-private THP cases (kernels with MIGRATE_VMA_SELECT_COMPOUND,
 * 7.3 on): a PMD-mapped THP moves to the device as one large device folio
 * and comes back as a THP; partial munmap/mprotect/mremap, fork, eviction
 * and injected allocation failures of large device folios.  Every case
 * checks the data byte for byte; the runner checks afterwards that every
 * page, whole folio or split piece, came back through folio_free.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "hmm_test.h"

#define PS	(cfg.page_size)
#define HPS	(2UL << 20)
#define HNP	(HPS / PS)
#define LOCAL	HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL
#define PMD	HMM_DMIRROR_PROT_PMD
#define WRITE	HMM_DMIRROR_PROT_WRITE
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif


/* AnonHugePages (kB) of the mapping that contains @p, -1 if not found. */
static long vma_anon_huge_kb(const void *p)
{
	unsigned long lo, hi, a = (unsigned long)p;
	char line[256];
	bool in = false;
	long kb = -1;
	FILE *f = fopen("/proc/self/smaps", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = a >= lo && a < hi;
			continue;
		}
		if (in && sscanf(line, "AnonHugePages: %ld", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/*
 * Pages of [p, p + n pages) that /proc/self/pagemap shows as swap-like
 * entries (bit 62, which device-private entries are) and not present
 * (bit 63); -1 on error.
 */
static long pagemap_swapped(void *p, unsigned long n)
{
	uint64_t *e = malloc(n * 8);
	int fd = open("/proc/self/pagemap", O_RDONLY);
	unsigned long i;
	long swapped = 0;

	if (fd < 0 || !e ||
	    pread(fd, e, n * 8, (uintptr_t)p / PS * 8) != (ssize_t)(n * 8))
		swapped = -1;
	for (i = 0; swapped >= 0 && i < n; i++)
		swapped += (e[i] >> 62) == 1;
	if (fd >= 0)
		close(fd);
	free(e);
	return swapped;
}

/* Why this setup cannot run the THP cases, or NULL. */
static const char *thp_unsupported(void)
{
	if (!cfg.info[0].large_order)
		return "kernel has no device-private THP (no MIGRATE_VMA_SELECT_COMPOUND, or no THP migration)";
	if ((PS << cfg.info[0].large_order) != HPS)
		return "large device folios are not 2 MiB here";
	if (!thp_enabled())
		return "THP disabled in /sys/kernel/mm/transparent_hugepage/enabled";
	return NULL;
}

/*
 * The fixture over a PMD-aligned area of @n THPs filled with pattern
 * @seed, each 2 MiB backed by one THP (MADV_HUGEPAGE, else MADV_COLLAPSE);
 * skips when the kernel or the system gives no THP.
 */
static int thp_setup(struct fx *f, unsigned long n, unsigned int flags,
		     uint64_t seed)
{
	const char *why = thp_unsupported();

	if (why)
		SKIP("%s", why);
	FX(fx_setup(f, n * HNP, flags | FX_ALIGNED, FX_NOFILL));
	if (madvise(f->p, f->size, MADV_HUGEPAGE))
		SKIP("MADV_HUGEPAGE: %s", strerror(errno));
	pat_fill(f->p, f->size, seed);
	if (vma_anon_huge_kb(f->p) < (long)(f->size >> 10))
		madvise(f->p, f->size, MADV_COLLAPSE);
	if (vma_anon_huge_kb(f->p) < (long)(f->size >> 10))
		SKIP("no THP could be allocated for the test area");
	return T_PASS;
}

/* Entries of a SNAPSHOT of [p, p + n pages) equal to @val. */
static long snap_count(int fd, void *p, unsigned long n, uint8_t val)
{
	return count_snapshot(fd, p, n, val, 0xff);
}

/* Migrate one THP to the device: one device folio, PMD in the snapshot. */
static int to_dev_one_folio(int fd, char *p, uint64_t seed)
{
	struct hmm_dummy_stats s0, s1;
	struct hmm_dmirror_cmd c;
	char *m = malloc(HPS);

	CHECK(m);
	STATS(fd, &s0);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, m, HNP, &c), 0);
	STATS(fd, &s1);
	CHECK_EQ(c.cpages, HNP);
	CHECK_PAT(m, HPS, seed);
	CHECK_EQ(DELTA(s0, s1, large_allocated), 1);
	CHECK_EQ(DELTA(s0, s1, large_to_dev), 1);
	CHECK_EQ(DELTA(s0, s1, large_fallbacks), 0);
	CHECK_EQ(DELTA(s0, s1, allocations), HNP);
	CHECK_EQ(DELTA(s0, s1, migrated_to_dev), HNP);
	CHECK_EQ(snap_count(fd, p, HNP, LOCAL | WRITE | PMD), HNP);
	/* The kernel's view: device entries (swap-like), nothing present. */
	CHECK_EQ(pagemap_swapped(p, HNP), HNP);
	free(m);
	return T_PASS;
}

static int t_thp_to_dev(void)
{
	struct hmm_dummy_stats s0, s1;
	struct hmm_dmirror_cmd c;
	struct fx f;
	char *p, *m;
	int fd, fd2;

	FX(thp_setup(&f, 1, 0, 200));
	p = f.p;
	m = f.m;
	fd = f.fd[0];
	FX(to_dev_one_folio(fd, p, 200));
	/*
	 * Through a new file (an empty device page table, so that the
	 * mirror asks hmm_range_fault()): a part of the folio that starts
	 * inside the PMD (7.3's hmm_range_fault() gets the pfns of such a
	 * range wrong), then a write and a read of all of it.
	 */
	fd2 = hmm_open(0);
	CHECK(fd2 >= 0);
	CHECK_RET(hmm_cmd(fd2, HMM_DMIRROR_READ, p + 100 * PS, m, 50, &c), 0);
	CHECK_PAT_OFF(m, 50 * PS, 200, 100 * PS);
	close(fd2);
	fd2 = hmm_open(0);
	CHECK(fd2 >= 0);
	pat_fill(m, 50 * PS, 199);
	CHECK_RET(hmm_cmd(fd2, HMM_DMIRROR_WRITE, p + 300 * PS, m, 50, &c), 0);
	CHECK_RET(hmm_cmd(fd2, HMM_DMIRROR_READ, p, m, HNP, &c), 0);
	CHECK_PAT(m, 300 * PS, 200);
	CHECK_PAT(m + 300 * PS, 50 * PS, 199);
	CHECK_PAT_OFF(m + 350 * PS, HPS - 350 * PS, 200, 350 * PS);
	close(fd2);
	CHECK_EQ(snap_count(fd, p, HNP, LOCAL | WRITE | PMD), HNP);
	pat_fill(m, HPS, 200);
	FX_WRITE(&f);
	/* A PMD-aligned hole moves as one device folio too. */
	STATS(fd, &s0);
	CHECK(!madvise(p, HPS, MADV_DONTNEED));
	STATS(fd, &s1);
	CHECK_EQ(DELTA(s0, s1, page_free_calls), HNP);
	FX_TO_DEV(&f);
	STATS(fd, &s0);
	CHECK_EQ(DELTA(s1, s0, large_to_dev), 1);
	CHECK_EQ(snap_count(fd, p, HNP, LOCAL | WRITE | PMD), HNP);
	CHECK(m[0] == 0 && !memcmp(m, m + 1, HPS - 1));
	/* Back with MIGRATE_TO_SYS, as one THP. */
	pat_fill(m, HPS, 201);
	FX_WRITE(&f);
	FX_TO_SYS(&f);
	STATS(fd, &s1);
	CHECK_EQ(DELTA(s0, s1, large_to_sys), 1);
	CHECK_EQ(DELTA(s0, s1, migrated_to_sys_ioctl), HNP);
	CHECK_EQ(DELTA(s0, s1, page_free_calls), HNP);
	CHECK_EQ(vma_anon_huge_kb(p), HPS >> 10);
	CHECK_PAT(p, HPS, 201);
	return T_PASS;
}

static int t_thp_fault_back(void)
{
	struct hmm_dummy_stats s0, s1;
	struct fx f;
	char *p;
	int fd;

	FX(thp_setup(&f, 1, FX_NOBUF, 202));
	p = f.p;
	fd = f.fd[0];
	FX(to_dev_one_folio(fd, p, 202));
	STATS(fd, &s0);
	/* One CPU fault in the middle brings the whole folio back. */
	CHECK_EQ(p[HPS / 2 + 3], (char)pat_expected(202, HPS / 2 + 3));
	STATS(fd, &s1);
	t_diag("cpu_faults +%lld, to_sys_fault +%lld, large_to_sys +%lld, AnonHugePages %ld kB",
	       DELTA(s0, s1, cpu_faults), DELTA(s0, s1, migrated_to_sys_fault),
	       DELTA(s0, s1, large_to_sys), vma_anon_huge_kb(p));
	CHECK_EQ(DELTA(s0, s1, cpu_faults), 1);
	CHECK_EQ(DELTA(s0, s1, migrated_to_sys_fault), HNP);
	CHECK_EQ(DELTA(s0, s1, large_to_sys), 1);
	CHECK_EQ(DELTA(s0, s1, page_free_calls), HNP);
	CHECK_EQ(DELTA(s0, s1, large_splits), 0);
	CHECK_EQ(vma_anon_huge_kb(p), HPS >> 10);
	CHECK_EQ(snap_count(fd, p, HNP, WRITE | PMD), HNP);
	CHECK_PAT(p, HPS, 202);
	return T_PASS;
}

/*
 * After a change that splits the device THP's PMD: the device still reads
 * the right data, the CPU gets it back, at least one folio split happened
 * and no page is left on the device.
 */
static int check_split(int fd, char *p, size_t len, uint64_t seed,
		       const struct hmm_dummy_stats *s0, size_t ro_off)
{
	struct hmm_dummy_stats s1;
	struct hmm_dmirror_cmd c;
	unsigned long n = len / PS;
	char *m = malloc(len);

	CHECK(m);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_READ, p, m, n, &c), 0);
	CHECK_PAT(m, len, seed);
	CHECK_PAT(p, len, seed);
	STATS(fd, &s1);
	t_diag("large_splits +%lld, page_free_calls +%lld, to_sys_fault +%lld",
	       DELTA(*s0, s1, large_splits), DELTA(*s0, s1, page_free_calls),
	       DELTA(*s0, s1, migrated_to_sys_fault));
	CHECK(DELTA(*s0, s1, large_splits) >= 1);
	CHECK_EQ(count_snapshot(fd, p, n, LOCAL, 0xf0), 0);
	/* Writable again where it should be. */
	pat_fill(m, len, seed + 1);
	if (ro_off) {
		memcpy(p, m, ro_off);
		CHECK_PAT(p, ro_off, seed + 1);
	}
	free(m);
	return T_PASS;
}

static int t_thp_split_munmap(void)
{
	struct hmm_dummy_stats s0, s1;
	struct fx f;
	char *p;
	int fd;

	FX(thp_setup(&f, 1, FX_NOBUF, 203));
	p = f.p;
	fd = f.fd[0];
	FX(to_dev_one_folio(fd, p, 203));
	STATS(fd, &s0);
	/* Unmap the second half: its pages go through folio_free now. */
	CHECK(!munmap(p + HPS / 2, HPS / 2));
	STATS(fd, &s1);
	t_diag("after munmap: large_splits +%lld, page_free_calls +%lld, in_use %llu",
	       DELTA(s0, s1, large_splits), DELTA(s0, s1, page_free_calls),
	       (unsigned long long)s1.in_use);
	CHECK_EQ(count_snapshot(fd, p, HNP / 2, LOCAL, 0xf0), HNP / 2);
	FX(check_split(fd, p, HPS / 2, 203, &s0, HPS / 2));
	STATS(fd, &s1);
	CHECK_EQ(DELTA(s0, s1, page_free_calls), HNP);
	return T_PASS;
}

static int t_thp_split_mprotect(void)
{
	struct hmm_dummy_stats s0;
	struct fx f;
	char *p;
	int fd;

	FX(thp_setup(&f, 1, FX_NOBUF, 205));
	p = f.p;
	fd = f.fd[0];
	FX(to_dev_one_folio(fd, p, 205));
	STATS(fd, &s0);
	/* Read-only tail: the PMD must be split at 1 MiB + 4 KiB. */
	CHECK(!mprotect(p + HPS / 2 + PS, HPS / 2 - PS, PROT_READ));
	CHECK_EQ(count_snapshot(fd, p, HNP, LOCAL, 0xf0), HNP);
	CHECK_EQ(snap_count(fd, p + HPS - PS, 1, LOCAL | HMM_DMIRROR_PROT_READ),
		 1);
	return check_split(fd, p, HPS, 205, &s0, HPS / 2 + PS);
}

static int t_thp_split_mremap(void)
{
	struct hmm_dummy_stats s0;
	char *p, *dst, *q;
	struct fx f;
	int fd;

	FX(thp_setup(&f, 1, FX_NOBUF, 207));
	p = f.p;
	fd = f.fd[0];
	dst = map_anon(3 * HPS, PROT_NONE, MAP_PRIVATE);
	CHECK(dst);
	FX(to_dev_one_folio(fd, p, 207));
	STATS(fd, &s0);
	/* A destination that is not PMD-aligned: the PMD is split. */
	q = (char *)(((unsigned long)dst + HPS - 1) & ~(HPS - 1)) + 3 * PS;
	q = mremap(p, HPS, HPS, MREMAP_MAYMOVE | MREMAP_FIXED, q);
	CHECK(q != MAP_FAILED);
	CHECK_EQ(count_snapshot(fd, q, HNP, LOCAL, 0xf0), HNP);
	return check_split(fd, q, HPS, 207, &s0, HPS);
}

static int t_thp_fork_cow(void)
{
	struct hmm_dummy_stats s0, s1;
	struct fx f;
	int fd, status;
	char *p;
	pid_t pid;

	FX(thp_setup(&f, 1, 0, 209));
	p = f.p;
	fd = f.fd[0];
	FX(to_dev_one_folio(fd, p, 209));
	STATS(fd, &s0);
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		/* Child: sees the parent's data, then writes its own. */
		if (pat_check(p, HPS, 209) >= 0)
			_exit(1);
		pat_fill(p, HPS, 210);
		_exit(pat_check(p, HPS, 210) >= 0 ? 2 : 0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECKF(WIFEXITED(status) && !WEXITSTATUS(status),
	       "child status 0x%x", status);
	/* The child's writes did not reach the parent's copy. */
	CHECK_EQ(count_snapshot(fd, p, HNP, LOCAL, 0xf0) +
		 count_snapshot(fd, p, HNP, 0, 0xf0), HNP);
	FX_READ(&f);
	FX_PAT_M(&f, 209);
	/* A device write in the parent breaks its side of the COW. */
	pat_fill(f.m, HPS, 211);
	FX_WRITE(&f);
	FX_PAT(&f, 211);
	STATS(fd, &s1);
	t_diag("after fork: large_to_sys +%lld, large_splits +%lld, to_sys_fault +%lld, page_free_calls +%lld",
	       DELTA(s0, s1, large_to_sys), DELTA(s0, s1, large_splits),
	       DELTA(s0, s1, migrated_to_sys_fault),
	       DELTA(s0, s1, page_free_calls));
	/* Both sides are done with the device folio by now. */
	CHECK_EQ(DELTA(s0, s1, page_free_calls), HNP);
	return T_PASS;
}

/*
 * Fill device memory with alternating large folios and single pages, then
 * migrate more: eviction must take both kinds, a large folio as one THP.
 */
static int t_thp_evict_mix(void)
{
	unsigned long cap = cfg.info[0].capacity_pages;
	unsigned long nh = cap / 2 / HNP, ns = cap - nh * HNP, nt = cap / 4;
	unsigned long i, done_s = 0, n;
	struct hmm_dummy_stats s0, s1;
	struct hmm_dmirror_cmd c;
	char *h, *s, *t;
	struct fx f;
	int fd;

	FX(thp_setup(&f, nh, FX_NOBUF, 212));
	h = f.p;
	fd = f.fd[0];
	s = map_anon(ns * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	t = map_anon(nt * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	CHECK(s && t);
	CHECK(!madvise(s, ns * PS, MADV_NOHUGEPAGE));
	CHECK(!madvise(t, nt * PS, MADV_NOHUGEPAGE));
	pat_fill(s, ns * PS, 213);
	pat_fill(t, nt * PS, 214);
	STATS(fd, &s0);
	CHECKF(s0.in_use == 0, "device not empty: %llu pages in use",
	       (unsigned long long)s0.in_use);
	/* H0, S0, H1, S1, ...: the LRU interleaves the two kinds. */
	for (i = 0; i < nh || done_s < ns; i++) {
		if (i < nh)
			CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV,
					  h + i * HPS, NULL, HNP, NULL), 0);
		n = ns - done_s < HNP ? ns - done_s : HNP;
		if (n) {
			CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV,
					  s + done_s * PS, NULL, n, NULL), 0);
			done_s += n;
		}
	}
	STATS(fd, &s1);
	t_diag("device full: in_use %llu of %lu, large_allocated +%lld, fallbacks +%lld, evicted +%lld",
	       (unsigned long long)s1.in_use, cap,
	       DELTA(s0, s1, large_allocated), DELTA(s0, s1, large_fallbacks),
	       DELTA(s0, s1, migrated_to_sys_evict));
	CHECK_EQ(DELTA(s0, s1, large_allocated), nh);
	CHECK_EQ(DELTA(s0, s1, migrated_to_sys_evict), 0);
	CHECK_EQ(s1.in_use, cap);
	/*
	 * Split the oldest THP by taking one page back: its 511 pieces must
	 * stay on the LRU, the oldest there, for eviction to find them.
	 */
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_SYS, h, NULL, 1, &c), 0);
	STATS(fd, &s0);
	CHECK_EQ(DELTA(s1, s0, large_splits), 1);
	CHECK_EQ(count_snapshot(fd, h, HNP, LOCAL, 0xf0), HNP - 1);
	/* More: the oldest quarter, large and small, has to go. */
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, t, NULL, nt, &c), 0);
	STATS(fd, &s1);
	t_diag("evictions +%lld, evicted +%lld, large_to_sys +%lld, alloc_failures +%lld",
	       DELTA(s0, s1, evictions), DELTA(s0, s1, migrated_to_sys_evict),
	       DELTA(s0, s1, large_to_sys), DELTA(s0, s1, alloc_failures));
	CHECK_EQ(c.cpages, nt);
	/* The page taken back above left one free page: nt - 1 is enough. */
	CHECK(DELTA(s0, s1, migrated_to_sys_evict) >=
	      (long long)(nt - (cap - s0.in_use)));
	CHECK(DELTA(s0, s1, large_to_sys) >= 1);
	CHECK(DELTA(s0, s1, migrated_to_sys_evict) >
	      DELTA(s0, s1, large_to_sys) * (long long)HNP);
	CHECK_EQ(DELTA(s0, s1, alloc_failures), 0);
	/* The oldest went first: the split pieces, then H1 as a THP. */
	CHECK_EQ(count_snapshot(fd, h, 2 * HNP, LOCAL, 0xf0), 0);
	CHECK_EQ(count_snapshot(fd, s, HNP, LOCAL, 0xf0), 0);
	CHECK_EQ(vma_anon_huge_kb(h) >= (long)(HPS >> 10), 1);
	CHECK_PAT(h, nh * HPS, 212);
	CHECK_PAT(s, ns * PS, 213);
	CHECK_PAT(t, nt * PS, 214);
	return T_PASS;
}

static int t_thp_fail_alloc(void)
{
	struct hmm_dummy_stats s0, s1;
	struct fx f;
	char *p, *q;
	int fd;

	/* Two THPs: one for each direction. */
	FX(thp_setup(&f, 2, 0, 215));
	p = f.p;
	fd = f.fd[0];
	q = p + HPS;
	pat_fill(q, HPS, 216);
	CHECK_EQ(vma_anon_huge_kb(p), 2 * HPS >> 10);

	/* The large device allocation fails: single pages, all of them. */
	STATS(fd, &s0);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_FLAGS, NULL, NULL,
			  HMM_DMIRROR_FLAG_FAIL_ALLOC, NULL), 0);
	FX(fx_ok(&f, 0, HMM_DMIRROR_MIGRATE_TO_DEV, 0, HNP));
	STATS(fd, &s1);
	CHECK_PAT(f.m, HPS, 215);
	CHECK_EQ(DELTA(s0, s1, large_fallbacks), 1);
	CHECK_EQ(DELTA(s0, s1, large_allocated), 0);
	CHECK_EQ(DELTA(s0, s1, allocations), HNP);
	CHECK_EQ(snap_count(fd, p, HNP, LOCAL | WRITE), HNP);
	CHECK_PAT(p, HPS, 215);

	/* One device folio; the system THP on the way back fails. */
	FX(to_dev_one_folio(fd, q, 216));
	STATS(fd, &s0);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_FLAGS, NULL, NULL,
			  HMM_DMIRROR_FLAG_FAIL_ALLOC, NULL), 0);
	FX(fx_ok(&f, 0, HMM_DMIRROR_MIGRATE_TO_SYS, HNP, HNP));
	STATS(fd, &s1);
	CHECK_EQ(DELTA(s0, s1, large_fallbacks), 1);
	CHECK_EQ(DELTA(s0, s1, large_to_sys), 0);
	CHECK_EQ(DELTA(s0, s1, large_splits), 1);
	CHECK_EQ(DELTA(s0, s1, page_free_calls), HNP);
	CHECK_EQ(count_snapshot(fd, q, HNP, PMD, PMD), 0);
	CHECK_PAT(q, HPS, 216);
	return T_PASS;
}

static int t_thp_exclusive(void)
{
	struct fx f;

	FX(thp_setup(&f, 1, 0, 217));
	FX(to_dev_one_folio(f.fd[0], f.p, 217));
	FX(fx_ok(&f, 0, HMM_DMIRROR_EXCLUSIVE, 7, 40));
	CHECK_PAT_OFF(f.m, 40 * PS, 217, 7 * PS);
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_CHECK_EXCLUSIVE, 7, 40), -EPERM);
	FX_PAT(&f, 217);
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_CHECK_EXCLUSIVE, 7, 40), 0);
	pat_fill(f.p, HPS, 218);
	FX_READ(&f);
	FX_PAT_M(&f, 218);
	return T_PASS;
}

/*
 * The VMA's THP policy, both ways.  The core hands a PMD-aligned hole over
 * as one compound entry and maps a compound destination with one PMD
 * whatever the policy says, so it is the driver that must ask.  In a
 * MADV_NOHUGEPAGE mapping an untouched 2 MiB must become single device
 * pages, not one device THP, and come back as small pages; a THP made
 * while the mapping allowed them may go to the device whole but comes back
 * as small pages once the mapping forbids THPs.
 */
static int t_thp_policy_nohugepage(void)
{
	const char *why = thp_unsupported();
	struct hmm_dummy_stats s0, s1;
	struct fx f;
	int fd;

	if (why)
		SKIP("%s", why);
	FX(fx_setup(&f, HNP, FX_ALIGNED, FX_NOFILL));
	fd = f.fd[0];
	CHECK(!madvise(f.p, f.size, MADV_NOHUGEPAGE));
	STATS(fd, &s0);
	FX_TO_DEV(&f);
	STATS(fd, &s1);
	t_diag("hole in a MADV_NOHUGEPAGE VMA: large_allocated +%lld, PMD entries %ld",
	       DELTA(s0, s1, large_allocated),
	       snap_count(fd, f.p, HNP, LOCAL | WRITE | PMD));
	CHECK_EQ(DELTA(s0, s1, large_allocated), 0);
	CHECK_EQ(snap_count(fd, f.p, HNP, LOCAL | WRITE), HNP);
	pat_fill(f.p, f.size, 230);
	CHECK_EQ(vma_anon_huge_kb(f.p), 0);
	FX_PAT(&f, 230);

	/* A THP made while allowed, forbidden while it is on the device. */
	fx_teardown(&f);
	FX(thp_setup(&f, 1, 0, 231));
	fd = f.fd[0];
	FX(to_dev_one_folio(fd, f.p, 231));
	CHECK(!madvise(f.p, f.size, MADV_NOHUGEPAGE));
	STATS(fd, &s0);
	FX_PAT(&f, 231);
	STATS(fd, &s1);
	t_diag("device THP faulted back into a MADV_NOHUGEPAGE VMA: AnonHugePages %ld kB, large_to_sys +%lld",
	       vma_anon_huge_kb(f.p), DELTA(s0, s1, large_to_sys));
	CHECK_EQ(vma_anon_huge_kb(f.p), 0);
	CHECK_EQ(DELTA(s0, s1, large_to_sys), 0);
	CHECK_EQ(DELTA(s0, s1, page_free_calls), HNP);
	return T_PASS;
}

/*
 * Child of t_thp_policy_prctl: a process with THP disabled
 * (PR_SET_THP_DISABLE) migrates an untouched PMD-aligned 2 MiB, through its
 * own file (a file mirrors the process that opened it).
 */
static int thp_disabled_child(void)
{
	struct hmm_dummy_stats s0, s1;
	struct fx f;

	if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0))
		SKIP("PR_SET_THP_DISABLE: %s", strerror(errno));
	FX(fx_setup(&f, HNP, FX_ALIGNED, FX_NOFILL));
	STATS(f.fd[0], &s0);
	FX_TO_DEV(&f);
	STATS(f.fd[0], &s1);
	t_diag("hole with PR_SET_THP_DISABLE: large_allocated +%lld",
	       DELTA(s0, s1, large_allocated));
	CHECK_EQ(DELTA(s0, s1, large_allocated), 0);
	pat_fill(f.p, f.size, 232);
	CHECK_EQ(vma_anon_huge_kb(f.p), 0);
	FX_PAT(&f, 232);
	fx_teardown(&f);
	return T_PASS;
}

static int t_thp_policy_prctl(void)
{
	const char *why = thp_unsupported();
	int status;
	pid_t pid;

	if (why)
		SKIP("%s", why);
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (!pid)
		_exit(thp_disabled_child());
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* A device THP on the other device: seen by SNAPSHOT, pulled by a peer. */
static int t_thp_peer(void)
{
	struct hmm_dummy_stats s0, s1;
	struct fx f;
	int fd0, fd1;
	char *p;

	FX(thp_setup(&f, 1, FX_TWO, 219));
	p = f.p;
	fd0 = f.fd[0];
	fd1 = f.fd[1];
	if (!cfg.info[0].peer_migration)
		SKIP("peer_migration=0");
	FX(to_dev_one_folio(fd1, p, 219));
	/* Not an error: the peer's page, PMD-mapped. */
	CHECK_EQ(count_snapshot(fd0, p, HNP,
				HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE, 0xf0),
		 HNP);
	STATS(fd1, &s0);
	FX_TO_DEV(&f);
	STATS(fd1, &s1);
	FX_PAT_M(&f, 219);
	CHECK_EQ(count_snapshot(fd0, p, HNP, LOCAL, 0xf0), HNP);
	CHECK_EQ(DELTA(s0, s1, page_free_calls), HNP);
	CHECK_PAT(p, HPS, 219);
	return T_PASS;
}

static const struct tcase cases[] = {
	{ "thp_to_dev", t_thp_to_dev, T_DUMMY,
	  "a THP and a PMD hole move as one device folio (PMD in SNAPSHOT), back as a THP" },
	{ "thp_fault_back", t_thp_fault_back, T_DUMMY,
	  "one CPU fault brings a device THP back whole, as a THP" },
	{ "thp_split_munmap", t_thp_split_munmap, T_DUMMY,
	  "partial munmap of a device THP: split, data intact, every piece freed" },
	{ "thp_split_mprotect", t_thp_split_mprotect, T_DUMMY,
	  "partial mprotect of a device THP: split, data intact" },
	{ "thp_split_mremap", t_thp_split_mremap, T_DUMMY,
	  "mremap of a device THP to an unaligned address: split, data intact" },
	{ "thp_fork_cow", t_thp_fork_cow, T_DUMMY,
	  "fork of a device THP, COW broken on both sides" },
	{ "thp_policy_nohugepage", t_thp_policy_nohugepage, T_DUMMY,
	  "MADV_NOHUGEPAGE: no device THP for a hole, no THP back from the device" },
	{ "thp_policy_prctl", t_thp_policy_prctl, T_DUMMY,
	  "PR_SET_THP_DISABLE: a hole moves as single device pages" },
	{ "thp_evict_mix", t_thp_evict_mix, T_DUMMY | T_SLOW,
	  "eviction of interleaved large and small device folios and split pieces" },
	{ "thp_fail_alloc", t_thp_fail_alloc, T_DUMMY,
	  "FAIL_ALLOC on large allocations: single-page fallback both ways" },
	{ "thp_peer", t_thp_peer, T_DUMMY | T_TWO,
	  "a device THP on the peer: REMOTE in SNAPSHOT, pulled page by page" },
	{ "thp_exclusive", t_thp_exclusive, T_DUMMY,
	  "EXCLUSIVE on memory backed by a device THP" },
};

const struct tgroup tests_thp = { cases, ARRAY_SIZE(cases) };
