// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_test: DMA mapping of the device page table.  The device reaches the
 * system pages it mirrors through DMA addresses that the driver maps when
 * it fills its page table and unmaps in every invalidation, before the
 * invalidation returns.  The driver counts its live mappings (STATS
 * version 5: dma_maps, every mapping made; dma_mapped, those live now).
 * These cases check the count at each step (mapped by a device access,
 * unmapped by munmap, MADV_DONTNEED, mprotect, fork, migration and close)
 * and that the device's next access after each of those sees the memory
 * the process sees now, never the page the old mapping pointed to, and
 * what a failing mapping (the dma_fail_maps hook) does.  The runner checks
 * besides that dma_mapped is 0 after every case.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "hmm_test.h"

#define PS	(cfg.page_size)
#define NPAGES	64

/* The module maps for DMA (STATS version 5), else the case is a skip. */
static int dma_begin(int fd, struct hmm_dummy_stats *st)
{
	STATS(fd, st);
	if (st->version < 5)
		return t_skip("STATS version %u: no DMA mapping counters",
			      st->version);
	return T_PASS;
}

/* Live mappings of device 0 now, minus @base's. */
static long long mapped_since(int fd, const struct hmm_dummy_stats *base)
{
	struct hmm_dummy_stats st;

	if (hmm_stats(fd, &st))
		return -1000000;
	return (long long)st.dma_mapped - (long long)base->dma_mapped;
}

/*
 * A device READ maps every system page once; reading or writing them again
 * maps nothing new; closing the file unmaps everything.
 */
static int t_dma_count_close(void)
{
	struct hmm_dummy_stats a, b;
	struct fx f;

	FX(fx_setup(&f, NPAGES, 0, 301));
	FX(dma_begin(f.fd[0], &a));
	FX_READ(&f);
	FX_PAT_M(&f, 301);
	STATS(f.fd[0], &b);
	CHECK_EQ(DELTA(a, b, dma_maps), NPAGES);
	CHECK_EQ(DELTA(a, b, dma_mapped), NPAGES);
	/* Through the device page table: the same mappings. */
	FX_READ(&f);
	pat_fill(f.m, f.size, 302);
	FX_WRITE(&f);
	FX_PAT(&f, 302);
	STATS(f.fd[0], &b);
	CHECK_EQ(DELTA(a, b, dma_maps), NPAGES);
	CHECK_EQ(DELTA(a, b, dma_mapped), NPAGES);
	close(f.fd[0]);
	f.fd[0] = hmm_open(0);
	CHECK(f.fd[0] >= 0);
	CHECK_EQ(mapped_since(f.fd[0], &a), 0);
	fx_teardown(&f);
	return T_PASS;
}

/* Two files mirroring the same pages: one mapping each, each unmapped. */
static int t_dma_two_files(void)
{
	struct hmm_dummy_stats a;
	struct fx f;
	int fd2;

	FX(fx_setup(&f, NPAGES, 0, 303));
	FX(dma_begin(f.fd[0], &a));
	fd2 = hmm_open(0);
	CHECK(fd2 >= 0);
	FX_READ(&f);
	CHECK_RET(hmm_cmd(fd2, HMM_DMIRROR_READ, f.p, f.m, NPAGES, NULL), 0);
	FX_PAT_M(&f, 303);
	CHECK_EQ(mapped_since(f.fd[0], &a), 2 * NPAGES);
	close(fd2);
	CHECK_EQ(mapped_since(f.fd[0], &a), NPAGES);
	fx_teardown(&f);
	return T_PASS;
}

/*
 * munmap of half the range unmaps that half before it returns; new memory
 * mapped at the same place is what the device reads there next, through
 * a new mapping.
 */
static int t_dma_munmap(void)
{
	const size_t half = NPAGES / 2 * PS;
	struct hmm_dummy_stats a, b;
	struct fx f;
	char *q;

	FX(fx_setup(&f, NPAGES, 0, 304));
	FX(dma_begin(f.fd[0], &a));
	FX_READ(&f);
	CHECK_EQ(mapped_since(f.fd[0], &a), NPAGES);
	CHECK_RET(munmap(f.p + half, half), 0);
	CHECK_EQ(mapped_since(f.fd[0], &a), NPAGES / 2);
	q = mmap(f.p + half, half, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	CHECK(q == f.p + half);
	pat_fill(q, half, 305);
	memset(f.m, 0, f.size);
	FX_READ(&f);
	CHECK_PAT(f.m, half, 304);
	CHECK_PAT(f.m + half, half, 305);
	STATS(f.fd[0], &b);
	CHECK_EQ(DELTA(a, b, dma_maps), NPAGES + NPAGES / 2);
	CHECK_EQ(DELTA(a, b, dma_mapped), NPAGES);
	/* A device WRITE lands in the new pages, not in freed ones. */
	pat_fill(f.m, f.size, 306);
	FX_WRITE(&f);
	FX_PAT(&f, 306);
	fx_teardown(&f);
	return T_PASS;
}

/*
 * MADV_DONTNEED drops the pages and their mappings; the next device READ
 * sees what the CPU wrote to the fresh pages since.
 */
static int t_dma_dontneed(void)
{
	struct hmm_dummy_stats a;
	struct fx f;

	FX(fx_setup(&f, NPAGES, 0, 307));
	FX(dma_begin(f.fd[0], &a));
	FX_READ(&f);
	CHECK_EQ(mapped_since(f.fd[0], &a), NPAGES);
	CHECK_RET(madvise(f.p, f.size, MADV_DONTNEED), 0);
	CHECK_EQ(mapped_since(f.fd[0], &a), 0);
	pat_fill(f.p, f.size, 308);
	FX_READ(&f);
	FX_PAT_M(&f, 308);
	CHECK_EQ(mapped_since(f.fd[0], &a), NPAGES);
	/* Dropped again: a device WRITE must fault in new pages. */
	CHECK_RET(madvise(f.p, f.size, MADV_DONTNEED), 0);
	pat_fill(f.m, f.size, 309);
	FX_WRITE(&f);
	FX_PAT(&f, 309);
	fx_teardown(&f);
	return T_PASS;
}

/*
 * mprotect to read-only unmaps (the entries were writable); the device
 * can read again through new read-only entries, and a WRITE fails
 * without touching the pages.
 */
static int t_dma_mprotect(void)
{
	struct hmm_dummy_stats a;
	struct fx f;
	int r;

	FX(fx_setup(&f, NPAGES, 0, 310));
	FX(dma_begin(f.fd[0], &a));
	pat_fill(f.m, f.size, 311);
	FX_WRITE(&f);
	CHECK_EQ(mapped_since(f.fd[0], &a), NPAGES);
	CHECK_RET(mprotect(f.p, f.size, PROT_READ), 0);
	CHECK_EQ(mapped_since(f.fd[0], &a), 0);
	memset(f.m, 0, f.size);
	FX_READ(&f);
	FX_PAT_M(&f, 311);
	CHECK_EQ(mapped_since(f.fd[0], &a), NPAGES);
	pat_fill(f.m, f.size, 312);
	r = fx_cmd(&f, 0, HMM_DMIRROR_WRITE, 0, NPAGES);
	CHECKF(r == -EPERM, "WRITE to read-only memory: %d, want -EPERM", r);
	FX_PAT(&f, 311);
	CHECK_RET(mprotect(f.p, f.size, PROT_READ | PROT_WRITE), 0);
	FX_WRITE(&f);
	FX_PAT(&f, 312);
	CHECK_EQ(mapped_since(f.fd[0], &a), NPAGES);
	fx_teardown(&f);
	return T_PASS;
}

/*
 * fork write-protects the parent's pages, shared with the child: the
 * device's writable mappings go.  The parent's next device WRITE breaks
 * COW and lands in the parent's new pages; a write through a mapping of
 * the old pages would show in the child's memory.
 */
static int t_dma_fork(void)
{
	struct hmm_dummy_stats a;
	int go[2], status;
	struct fx f;
	pid_t pid;
	char c;

	FX(fx_setup(&f, NPAGES, 0, 313));
	FX(dma_begin(f.fd[0], &a));
	FX_READ(&f);
	CHECK_EQ(mapped_since(f.fd[0], &a), NPAGES);
	CHECK_RET(pipe(go), 0);
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		_exit(pat_check(f.p, f.size, 313) >= 0 ? 3 : 0);
	}
	close(go[0]);
	CHECK_EQ(mapped_since(f.fd[0], &a), 0);
	pat_fill(f.m, f.size, 314);
	FX_WRITE(&f);
	FX_PAT(&f, 314);
	CHECK(write(go[1], "g", 1) == 1);
	close(go[1]);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECKF(WIFEXITED(status) && !WEXITSTATUS(status),
	       "the child's memory changed after fork (status %#x)", status);
	CHECK_EQ(mapped_since(f.fd[0], &a), NPAGES);
	fx_teardown(&f);
	return T_PASS;
}

/*
 * Migration to the device unmaps the system pages (device pages are not
 * DMA-mapped: the device reaches its own memory directly); back in system
 * memory, the next access maps the new pages.
 */
static int t_dma_migrate(void)
{
	struct hmm_dummy_stats a, b;
	struct fx f;

	FX(fx_setup(&f, NPAGES, 0, 315));
	FX(dma_begin(f.fd[0], &a));
	FX_READ(&f);
	CHECK_EQ(mapped_since(f.fd[0], &a), NPAGES);
	FX_TO_DEV(&f);
	CHECK_EQ(mapped_since(f.fd[0], &a), 0);
	pat_fill(f.m, f.size, 316);
	FX_WRITE(&f);
	memset(f.m, 0, f.size);
	FX_READ(&f);
	FX_PAT_M(&f, 316);
	CHECK_EQ(n_local(f.fd[0], f.p, NPAGES), NPAGES);
	CHECK_EQ(mapped_since(f.fd[0], &a), 0);
	FX_TO_SYS(&f);
	FX_PAT(&f, 316);
	memset(f.m, 0, f.size);
	FX_READ(&f);
	FX_PAT_M(&f, 316);
	STATS(f.fd[0], &b);
	CHECK_EQ(DELTA(a, b, dma_maps), 2 * NPAGES);
	CHECK_EQ(DELTA(a, b, dma_mapped), NPAGES);
	fx_teardown(&f);
	return T_PASS;
}

/*
 * A DMA mapping that fails (the module's dma_fail_maps hook) fails the
 * device access with -ENOMEM: nothing written, the mappings made before
 * kept and none added, and the references the WRITE had taken on the
 * pages already mapped dropped (a page with a leaked reference would not
 * migrate).  The next try works.
 */
static int t_dma_map_fail(void)
{
	struct hmm_dummy_stats a;
	struct fx f;
	int r;

	FX(fx_setup(&f, NPAGES, 0, 317));
	FX(dma_begin(f.fd[0], &a));
	if (access(HMM_PARAMS "dma_fail_maps", W_OK))
		SKIP("no dma_fail_maps in " HMM_PARAMS);
	FX(fx_ok(&f, 0, HMM_DMIRROR_READ, 0, NPAGES / 2));
	CHECK_EQ(mapped_since(f.fd[0], &a), NPAGES / 2);
	pat_fill(f.m, f.size, 318);
	CHECK_RET(hmm_param_set("dma_fail_maps", 1), 0);
	r = fx_cmd(&f, 0, HMM_DMIRROR_WRITE, 0, NPAGES);
	CHECKF(hmm_param_get("dma_fail_maps") == 0,
	       "dma_fail_maps still %ld", hmm_param_get("dma_fail_maps"));
	hmm_param_set("dma_fail_maps", 0);
	CHECKF(r == -ENOMEM, "WRITE with a failing DMA mapping: %d, want -ENOMEM",
	       r);
	FX_PAT(&f, 317);
	CHECK_EQ(mapped_since(f.fd[0], &a), NPAGES / 2);
	CHECK_RET(hmm_param_set("dma_fail_maps", 1), 0);
	r = fx_cmd(&f, 0, HMM_DMIRROR_READ, 0, NPAGES);
	hmm_param_set("dma_fail_maps", 0);
	CHECKF(r == -ENOMEM, "READ with a failing DMA mapping: %d, want -ENOMEM",
	       r);
	CHECK_EQ(mapped_since(f.fd[0], &a), NPAGES / 2);
	FX(fx_ok(&f, 0, HMM_DMIRROR_MIGRATE_TO_DEV, 0, NPAGES / 2));
	CHECK_EQ(mapped_since(f.fd[0], &a), 0);
	FX(fx_ok(&f, 0, HMM_DMIRROR_MIGRATE_TO_SYS, 0, NPAGES / 2));
	FX_PAT(&f, 317);
	/* MIGRATE_TO_DEV read the pages back into m. */
	pat_fill(f.m, f.size, 318);
	FX_WRITE(&f);
	FX_PAT(&f, 318);
	CHECK_EQ(mapped_since(f.fd[0], &a), NPAGES);
	fx_teardown(&f);
	return T_PASS;
}

/* The end of the highest System RAM range in /proc/iomem, or 0. */
static unsigned long long ram_end(void)
{
	unsigned long long start, end, top = 0;
	char line[256];
	FILE *f = fopen("/proc/iomem", "re");

	if (!f)
		return 0;
	/* Top-level lines only: "start-end : System RAM". */
	while (fgets(line, sizeof(line), f))
		if (line[0] != ' ' && strstr(line, " : System RAM") &&
		    sscanf(line, "%llx-%llx", &start, &end) == 2 && end + 1 > top)
			top = end + 1;
	fclose(f);
	return top;
}

/*
 * A device with a DMA mask narrower than memory (hmm_dummy loaded with
 * dma_bits at most 30, in a machine with RAM above it): its mappings would
 * need bounce buffers, which a mapping that lives until the invalidation
 * cannot use, so every device access of system memory (READ, WRITE,
 * EXCLUSIVE) fails with -EOPNOTSUPP, maps nothing and changes nothing.
 * 30 bits, not 31: behind an IOMMU a mask below 32 bits is limited
 * whatever the memory.  What needs no DMA still works: SNAPSHOT, migration
 * to the device and back, and device accesses of the pages in device
 * memory; the data come back intact.
 */
static int t_dma_limited(void)
{
	long bits = hmm_param_get("dma_bits");
	unsigned long long top = ram_end();
	struct hmm_dummy_stats a;
	struct fx f;
	int r;

	if (bits < 0 || bits > 30)
		SKIP("hmm_dummy loaded with dma_bits=%ld (needs 30 or less)", bits);
	if (top <= (1ULL << bits))
		SKIP("System RAM ends at %#llx, within a %ld-bit mask (or /proc/iomem hides addresses)",
		     top, bits);
	FX(fx_setup(&f, NPAGES, 0, 331));
	FX(dma_begin(f.fd[0], &a));
	r = fx_cmd(&f, 0, HMM_DMIRROR_READ, 0, NPAGES);
	CHECKF(r == -EOPNOTSUPP, "READ: %d, want -EOPNOTSUPP", r);
	pat_fill(f.m, f.size, 332);
	r = fx_cmd(&f, 0, HMM_DMIRROR_WRITE, 0, NPAGES);
	CHECKF(r == -EOPNOTSUPP, "WRITE: %d, want -EOPNOTSUPP", r);
	r = fx_cmd(&f, 0, HMM_DMIRROR_EXCLUSIVE, 0, NPAGES);
	CHECKF(r == -EOPNOTSUPP, "EXCLUSIVE: %d, want -EOPNOTSUPP", r);
	FX_PAT(&f, 331);
	FX(fx_ok(&f, 0, HMM_DMIRROR_SNAPSHOT, 0, NPAGES));
	CHECK_EQ(mapped_since(f.fd[0], &a), 0);
	/* The read-back of MIGRATE_TO_DEV reads device memory. */
	memset(f.m, 0, f.size);
	FX(fx_ok(&f, 0, HMM_DMIRROR_MIGRATE_TO_DEV, 0, NPAGES));
	FX_PAT_M(&f, 331);
	memset(f.m, 0, f.size);
	FX_READ(&f);
	FX_PAT_M(&f, 331);
	FX(fx_ok(&f, 0, HMM_DMIRROR_MIGRATE_TO_SYS, 0, NPAGES));
	FX_PAT(&f, 331);
	CHECK_EQ(mapped_since(f.fd[0], &a), 0);
	fx_teardown(&f);
	return T_PASS;
}

static const struct tcase cases[] = {
	{ "dma_count_close", t_dma_count_close, T_DUMMY,
	  "device access maps each system page once; close unmaps them all" },
	{ "dma_two_files", t_dma_two_files, T_DUMMY,
	  "two files on the same pages: a mapping each, closing one unmaps its own" },
	{ "dma_munmap", t_dma_munmap, T_DUMMY,
	  "munmap unmaps; the device then reads and writes the new memory there" },
	{ "dma_dontneed", t_dma_dontneed, T_DUMMY,
	  "MADV_DONTNEED unmaps; the device then sees the fresh pages" },
	{ "dma_mprotect", t_dma_mprotect, T_DUMMY,
	  "mprotect unmaps; reads map again, a WRITE fails with -EPERM" },
	{ "dma_fork", t_dma_fork, T_DUMMY,
	  "fork unmaps; a device WRITE after it never reaches the child's pages" },
	{ "dma_migrate", t_dma_migrate, T_DUMMY,
	  "migration to the device unmaps; back in system memory, new mappings" },
	{ "dma_limited", t_dma_limited, T_DUMMY,
	  "a DMA mask narrower than memory (dma_bits=30): no access to system pages (-EOPNOTSUPP); device memory works" },
	{ "dma_map_fail", t_dma_map_fail, T_DUMMY,
	  "a failing DMA mapping: -ENOMEM, nothing written, nothing leaked" },
};

const struct tgroup tests_dma = { cases, ARRAY_SIZE(cases) };
