// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_test: basic cases: device nodes, info/stats, the device mirror
 * (READ/WRITE of anonymous memory), protections, snapshots and bad input.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "hmm_test.h"

#define PS	(cfg.page_size)

static int t_open_close(void)
{
	int fd[MAX_DEVICES], fd2, i;

	for (i = 0; i < cfg.ndev; i++) {
		fd[i] = hmm_open(i);
		CHECKF(fd[i] >= 0, "open %s%d: %s", cfg.prefix, i,
		       strerror(-fd[i]));
	}
	fd2 = hmm_open(0);
	CHECKF(fd2 >= 0, "second open of device 0: %s", strerror(-fd2));
	CHECK(!close(fd2));
	for (i = 0; i < cfg.ndev; i++)
		CHECK(!close(fd[i]));
	return T_PASS;
}

static int t_info(void)
{
	struct hmm_dummy_stats st;
	struct hmm_dummy_info in;
	int i, fd;
	size_t f;

	for (i = 0; i < cfg.ndev; i++) {
		fd = hmm_open(i);
		CHECK(fd >= 0);
		CHECK_RET(hmm_info(fd, &in), 0);
		CHECK_EQ(in.size, sizeof(in));
		CHECK_EQ(in.version, HMM_DUMMY_INFO_VERSION);
		CHECK_EQ(in.device_index, i);
		CHECK_EQ(in.num_devices, cfg.ndev);
		CHECK(in.capacity_pages > 0);
		CHECK_EQ(in.page_size, PS);
		CHECK(in.fault_window >= 1);
		CHECK(in.peer_migration <= 1);
		CHECK_RET(hmm_stats(fd, &st), 0);
		CHECK_EQ(st.size, sizeof(st));
		CHECK_EQ(st.version, HMM_DUMMY_STATS_VERSION);
		CHECK_EQ(st.capacity, in.capacity_pages);
		CHECK_EQ(st.free + st.in_use, st.capacity);
		CHECK(st.peak_in_use >= st.in_use);
		CHECK(st.peak_in_use <= st.capacity);
		CHECK(st.page_free_calls <= st.allocations);
		CHECK_EQ(st.allocations - st.page_free_calls, st.in_use);
		close(fd);
		if (!cfg.sysfs) {
			t_diag("no /sys/class/hmm_dummy");
			return T_FAIL;
		}
		/* Nothing runs on the device now: sysfs must agree exactly. */
		for (f = 0; f < nr_stat_fields; f++) {
			unsigned long long v;
			int ret = hmm_sysfs_stat(i, stat_fields[f].name, &v);

			CHECKF(!ret, "sysfs stats/%s of device %d: %s",
			       stat_fields[f].name, i, strerror(-ret));
			CHECKF(v == stat_get(&st, f),
			       "sysfs %s %llu != ioctl %llu",
			       stat_fields[f].name, v,
			       (unsigned long long)stat_get(&st, f));
		}
	}
	return T_PASS;
}

static int t_info_size(void)
{
	unsigned char big[512];
	struct hmm_dummy_stats *st = (void *)big;
	struct hmm_dummy_info *in = (void *)big;
	size_t i, kst, kin, want;
	int fd = hmm_open(0);

	CHECK(fd >= 0);
	CHECK(sizeof(*st) >= HMM_DUMMY_STATS_SIZE_V1);
	CHECK(sizeof(*in) >= HMM_DUMMY_INFO_SIZE_V1);
	/*
	 * A caller with more room than any version: the kernel fills the
	 * size it knows, which may be more or less than this binary's
	 * (older or newer header), and leaves the rest alone.
	 */
	memset(big, 0xa5, sizeof(big));
	st->size = sizeof(big);
	CHECK_EQ(ioctl(fd, HMM_DUMMY_STATS, big), 0);
	kst = st->size;
	CHECKF(kst >= HMM_DUMMY_STATS_SIZE_V1 && kst < sizeof(big),
	       "STATS filled %zu bytes", kst);
	CHECK(st->version >= 1);
	for (i = kst; i < sizeof(big); i++)
		CHECKF(big[i] == 0xa5, "STATS wrote byte %zu past its size", i);
	memset(big, 0xa5, sizeof(big));
	in->size = sizeof(big);
	CHECK_EQ(ioctl(fd, HMM_DUMMY_INFO, big), 0);
	kin = in->size;
	CHECKF(kin >= HMM_DUMMY_INFO_SIZE_V1 && kin < sizeof(big),
	       "INFO filled %zu bytes", kin);
	CHECK(in->version >= 1);
	/* 0 or 9: the order of the device's large folios (version 2). */
	CHECKF(in->large_order == 0 || in->large_order == 9,
	       "INFO large_order %u", in->large_order);
	for (i = kin; i < sizeof(big); i++)
		CHECKF(big[i] == 0xa5, "INFO wrote byte %zu past its size", i);

	/* Too small for version 1: refused. */
	memset(big, 0, sizeof(big));
	st->size = HMM_DUMMY_STATS_SIZE_V1 - 1;
	CHECK_EQ(ioctl(fd, HMM_DUMMY_STATS, big) < 0 ? errno : 0, EINVAL);
	st->size = 0;
	CHECK_EQ(ioctl(fd, HMM_DUMMY_STATS, big) < 0 ? errno : 0, EINVAL);
	memset(big, 0, sizeof(big));
	in->size = HMM_DUMMY_INFO_SIZE_V1 - 1;
	CHECK_EQ(ioctl(fd, HMM_DUMMY_INFO, big) < 0 ? errno : 0, EINVAL);

	/*
	 * An old caller (built when the structures had only their first
	 * version's fields) keeps working however much they grew since:
	 * it gets exactly its size, nothing past it is written.
	 */
	memset(big, 0xa5, sizeof(big));
	st->size = HMM_DUMMY_STATS_SIZE_V1;
	CHECK_EQ(ioctl(fd, HMM_DUMMY_STATS, big), 0);
	CHECK_EQ(st->size, HMM_DUMMY_STATS_SIZE_V1);
	CHECK(st->version >= 1);
	CHECK(st->capacity > 0 && st->capacity != 0xa5a5a5a5a5a5a5a5ULL);
	CHECK(st->backing_pages != 0xa5a5a5a5a5a5a5a5ULL);
	for (i = HMM_DUMMY_STATS_SIZE_V1; i < sizeof(big); i++)
		CHECKF(big[i] == 0xa5, "STATS (old size) wrote byte %zu", i);
	memset(big, 0xa5, sizeof(big));
	in->size = HMM_DUMMY_INFO_SIZE_V1;
	CHECK_EQ(ioctl(fd, HMM_DUMMY_INFO, big), 0);
	CHECK_EQ(in->size, HMM_DUMMY_INFO_SIZE_V1);
	CHECK(in->version >= 1);
	CHECK_EQ(in->page_size, PS);
	for (i = HMM_DUMMY_INFO_SIZE_V1; i < sizeof(big); i++)
		CHECKF(big[i] == 0xa5, "INFO (old size) wrote byte %zu", i);
	/* A size in between (not a multiple of 8): that many bytes. */
	memset(big, 0xa5, sizeof(big));
	st->size = HMM_DUMMY_STATS_SIZE_V1 + 4;
	want = st->size < kst ? st->size : kst;
	CHECK_EQ(ioctl(fd, HMM_DUMMY_STATS, big), 0);
	CHECK_EQ(st->size, want);
	for (i = want; i < sizeof(big); i++)
		CHECKF(big[i] == 0xa5, "STATS (odd size) wrote byte %zu", i);

	/* Bad pointer. */
	CHECK_EQ(ioctl(fd, HMM_DUMMY_STATS, (void *)8) < 0 ? errno : 0, EFAULT);
	close(fd);
	return T_PASS;
}

static int t_anon_read(void)
{
	struct fx f;

	FX(fx_setup(&f, 100, 0, 1));
	FX_READ(&f);
	CHECK_EQ(f.c.faults, 1);
	FX_PAT_M(&f, 1);
	/* Mirror already populated: no fault. */
	memset(f.m, 0, f.size);
	FX_READ(&f);
	CHECK_EQ(f.c.faults, 0);
	FX_PAT_M(&f, 1);
	/* CPU stores to mapped pages need no fault: same physical pages. */
	pat_fill(f.p, f.size, 2);
	FX_READ(&f);
	CHECK_EQ(f.c.faults, 0);
	FX_PAT_M(&f, 2);
	/* A PTE change invalidates the mirror: the device faults again. */
	CHECK(!mprotect(f.p, f.size, PROT_READ));
	CHECK(!mprotect(f.p, f.size, PROT_READ | PROT_WRITE));
	FX_READ(&f);
	CHECK(f.c.faults >= 1);
	FX_PAT_M(&f, 2);
	CHECK(!madvise(f.p, f.size, MADV_DONTNEED));
	FX_READ(&f);
	CHECK(f.c.faults >= 1);
	pat_fill(f.p, f.size, 2);
	/* A sub-range in the middle. */
	memset(f.m, 0, f.size);
	FX(fx_ok(&f, 0, HMM_DMIRROR_READ, 10, 7));
	CHECK(!memcmp(f.m, f.p + 10 * PS, 7 * PS));
	return T_PASS;
}

/*
 * The driver watches the address space in 64 MiB regions, one interval
 * notifier each.  A range across a region boundary must stay coherent on
 * both sides: every invalidation must reach the entries of each region.
 */
static int t_mirror_regions(void)
{
	const size_t region = 64UL << 20, resv = 3 * region, size = 1UL << 20;
	unsigned long npages = size / PS, half = npages / 2;
	struct hmm_dmirror_cmd c;
	char *base, *p, *m = malloc(size);
	int fd = hmm_open(0);

	CHECK(m && fd >= 0);
	base = mmap(NULL, resv, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
		    MAP_NORESERVE, -1, 0);
	CHECK(base != MAP_FAILED);
	/* 512 KiB on each side of a 64 MiB boundary. */
	p = (char *)(((unsigned long)base + region) & ~(region - 1)) -
	    size / 2;
	CHECK(mmap(p, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == p);
	pat_fill(p, size, 1);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_READ, p, m, npages, &c), 0);
	CHECK_EQ(c.cpages, npages);
	CHECK_PAT(m, size, 1);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_READ, p, m, npages, &c), 0);
	CHECKF(c.faults == 0, "second READ faulted %llu times",
	       (unsigned long long)c.faults);
	/* Both regions' entries go; the old pages would still read as 1. */
	CHECK(!madvise(p, size, MADV_DONTNEED));
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_READ, p, m, npages, &c), 0);
	CHECK(c.faults >= 1);
	for (size_t i = 0; i < size; i++)
		CHECKF(!m[i], "byte %zu (page %zu) reads 0x%02x after MADV_DONTNEED",
		       i, i / PS, (unsigned char)m[i]);
	/* Device writes across the boundary land in the CPU's pages. */
	pat_fill(m, size, 3);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_WRITE, p, m, npages, &c), 0);
	CHECK_PAT(p, size, 3);
	/* Read-only above the boundary only: writes there are refused. */
	CHECK(!mprotect(p + half * PS, size - half * PS, PROT_READ));
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_WRITE, p, m, npages, &c), -EPERM);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_WRITE, p + (half - 1) * PS, m, 2, &c),
		  -EPERM);
	pat_fill(m, size, 4);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_WRITE, p, m, half, &c), 0);
	CHECK_PAT(p, half * PS, 4);
	CHECK_PAT_OFF(p + half * PS, size - half * PS, 3, half * PS);
	munmap(base, resv);
	close(fd);
	free(m);
	return T_PASS;
}

/*
 * Thousands of device page table entries, then munmap and a new mapping at
 * the same address: the invalidation must erase every entry (it works in
 * batches), or the device reads the old, freed pages.  32 MiB aligned to
 * 16 MiB: the table's nodes of 4096 entries are emptied exactly at a batch
 * boundary, where a walk resumed the wrong way skipped a whole node.
 */
static int t_mirror_munmap_remap(void)
{
	struct fx f;

	FX(fx_setup(&f, 8192, FX_ALIGN(24), 21));
	FX_READ(&f);
	FX_PAT_M(&f, 21);
	CHECK(!munmap(f.p, f.size));
	CHECK(mmap(f.p, f.size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == f.p);
	pat_fill(f.p, f.size, 22);
	memset(f.m, 0, f.size);
	FX_READ(&f);
	FX_PAT_M(&f, 22);
	fx_teardown(&f);
	return T_PASS;
}

static int t_anon_read_zero(void)
{
	unsigned char *m;
	unsigned long i;
	struct fx f;

	FX(fx_setup(&f, 16, 0, FX_NOFILL));
	m = (unsigned char *)f.m;
	memset(m, 0x5a, f.size);
	/* pte_none: the device read faults in the zero page. */
	FX_READ(&f);
	for (i = 0; i < f.size; i++)
		CHECKF(!m[i], "byte %lu of untouched memory is 0x%02x", i, m[i]);
	FX(fx_ok(&f, 0, HMM_DMIRROR_SNAPSHOT, 0, f.npages));
	for (i = 0; i < f.npages; i++)
		CHECKF(m[i] == (HMM_DMIRROR_PROT_ZERO | HMM_DMIRROR_PROT_READ),
		       "page %lu snapshot 0x%02x, want ZERO|READ", i, m[i]);
	/* The CPU then writes: copy-on-write from the zero page. */
	pat_fill(f.p, f.size, 3);
	FX_READ(&f);
	FX_PAT_M(&f, 3);
	return T_PASS;
}

static int t_anon_write(void)
{
	struct fx f;

	FX(fx_setup(&f, 100, 0, FX_NOFILL));
	pat_fill(f.m, f.size, 4);
	FX_WRITE(&f);
	CHECK_EQ(f.c.faults, 1);
	FX_PAT(&f, 4);
	pat_fill(f.m, f.size, 5);
	FX_WRITE(&f);
	CHECK_EQ(f.c.faults, 0);
	FX_PAT(&f, 5);
	/* Partial write in the middle leaves the neighbours alone. */
	pat_fill(f.m, 3 * PS, 6);
	FX(fx_ok(&f, 0, HMM_DMIRROR_WRITE, 50, 3));
	CHECK_PAT(f.p + 50 * PS, 3 * PS, 6);
	CHECK_PAT(f.p, 50 * PS, 5);
	pat_fill(f.m, f.size, 5);
	CHECK(!memcmp(f.p + 53 * PS, f.m + 53 * PS, 47 * PS));
	return T_PASS;
}

static int t_prot_none(void)
{
	struct fx f;

	FX(fx_setup(&f, 8, 0, 7));
	CHECK(!mprotect(f.p, f.size, PROT_NONE));
	pat_fill(f.m, f.size, 8);
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_READ, 0, 8), -EFAULT);
	FX_PAT_M(&f, 8);
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_WRITE, 0, 8), -EFAULT);
	CHECK(!mprotect(f.p, f.size, PROT_READ));
	FX_PAT(&f, 7);
	return T_PASS;
}

static int t_read_only(void)
{
	struct fx f;

	FX(fx_setup(&f, 8, 0, 9));
	CHECK(!mprotect(f.p, f.size, PROT_READ));
	pat_fill(f.m, f.size, 10);
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_WRITE, 0, 8), -EPERM);
	FX_PAT(&f, 9);
	FX_READ(&f);
	FX_PAT_M(&f, 9);
	CHECK(!mprotect(f.p, f.size, PROT_READ | PROT_WRITE));
	pat_fill(f.m, f.size, 10);
	FX_WRITE(&f);
	FX_PAT(&f, 10);
	/* Read-only again after the device had write access. */
	CHECK(!mprotect(f.p, f.size, PROT_READ));
	pat_fill(f.m, f.size, 11);
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_WRITE, 0, 8), -EPERM);
	FX_PAT(&f, 10);
	return T_PASS;
}

static int t_unmapped(void)
{
	struct fx f;

	FX(fx_setup(&f, 8, 0, 12));
	CHECK(!munmap(f.p + 4 * PS, PS));
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_READ, 0, 8), -EFAULT);
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_WRITE, 0, 8), -EFAULT);
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_READ, 4, 1), -EFAULT);
	CHECK_PAT(f.p, 4 * PS, 12);
	return T_PASS;
}

static const unsigned long range_cmds[] = {
	HMM_DMIRROR_READ, HMM_DMIRROR_WRITE, HMM_DMIRROR_MIGRATE_TO_DEV,
	HMM_DMIRROR_MIGRATE_TO_SYS, HMM_DMIRROR_SNAPSHOT,
	HMM_DMIRROR_EXCLUSIVE, HMM_DMIRROR_CHECK_EXCLUSIVE,
};

static int t_bad_input(void)
{
	unsigned long npages = 4;
	size_t size = npages * PS, i;
	struct fx f;
	char *p, *m;
	int fd, r;

	FX(fx_setup(&f, npages, 0, 13));
	p = f.p;
	m = f.m;
	fd = f.fd[0];
	for (i = 0; i < ARRAY_SIZE(range_cmds); i++) {
		unsigned long req = range_cmds[i];
		const char *n = hmm_cmd_name(req);

		r = hmm_cmd(fd, req, p + 1, m, 1, NULL);
		CHECKF(r == -EINVAL, "%s misaligned addr: %d", n, r);
		r = hmm_cmd(fd, req, p + PS / 2, m, 1, NULL);
		CHECKF(r == -EINVAL, "%s half-page addr: %d", n, r);
		r = hmm_cmd(fd, req, p, m, 0, NULL);
		CHECKF(r == -EINVAL, "%s npages 0: %d", n, r);
		r = hmm_cmd(fd, req, p, m, ~0UL / PS, NULL);
		CHECKF(r == -EINVAL, "%s addr+size overflows: %d", n, r);
		r = hmm_cmd(fd, req, p, m, ~0UL, NULL);
		CHECKF(r == -EINVAL, "%s npages ~0: %d", n, r);
		if (cfg.dummy) {
			/* Beyond the user address space, no overflow. */
			r = hmm_cmd(fd, req, (void *)0x7ffffffff000UL, m,
				    ((1UL << 57) - 0x7ffffffff000UL) / PS,
				    NULL);
			CHECKF(r == -EINVAL, "%s beyond TASK_SIZE: %d", n, r);
			r = hmm_cmd(fd, req, (void *)0xffff888000000000UL, m,
				    1, NULL);
			CHECKF(r == -EINVAL, "%s kernel address: %d", n, r);
		}
	}
	/* RELEASE validates its range like the others (holes are fine). */
	r = hmm_cmd(fd, HMM_DMIRROR_RELEASE, p + 1, m, 1, NULL);
	CHECKF(r == -EINVAL, "RELEASE misaligned addr: %d", r);
	r = hmm_cmd(fd, HMM_DMIRROR_RELEASE, p, m, 0, NULL);
	CHECKF(r == -EINVAL, "RELEASE npages 0: %d", r);
	r = hmm_cmd(fd, HMM_DMIRROR_RELEASE, p, m, ~0UL / PS, NULL);
	CHECKF(r == -EINVAL, "RELEASE addr+size overflows: %d", r);
	/* Unusable user buffers. */
	r = hmm_cmd(fd, HMM_DMIRROR_READ, p, (void *)PS, npages, NULL);
	CHECKF(r == -EFAULT, "READ into a bad ptr: %d", r);
	r = hmm_cmd(fd, HMM_DMIRROR_WRITE, p, (void *)PS, npages, NULL);
	CHECKF(r == -EFAULT, "WRITE from a bad ptr: %d", r);
	CHECK_PAT(p, size, 13);
	r = hmm_cmd(fd, HMM_DMIRROR_SNAPSHOT, p, (void *)PS, npages, NULL);
	CHECKF(r == -EFAULT, "SNAPSHOT into a bad ptr: %d", r);
	r = ioctl(fd, HMM_DMIRROR_READ, NULL) < 0 ? -errno : 0;
	CHECKF(r == -EFAULT, "READ with a NULL command: %d", r);
	r = ioctl(fd, HMM_DMIRROR_READ, (void *)PS) < 0 ? -errno : 0;
	CHECKF(r == -EFAULT, "READ with a bad command pointer: %d", r);
	if (cfg.dummy) {
		struct hmm_dmirror_cmd c = { 0 };

		r = ioctl(fd, _IOWR('H', 0x3f, struct hmm_dmirror_cmd), &c);
		CHECKF(r < 0 && errno == ENOTTY, "unknown ioctl 0x3f: %d %s",
		       r, strerror(errno));
		/* The first number test_hmm's ABI (7.3) does not use. */
		r = ioctl(fd, _IOWR('H', 0x0a, struct hmm_dmirror_cmd), &c);
		CHECKF(r < 0 && errno == ENOTTY, "unknown ioctl 0x0a: %d %s",
		       r, strerror(errno));
		/* FLAGS takes known flag bits only. */
		c.npages = 1ULL << 63;
		r = ioctl(fd, HMM_DMIRROR_FLAGS, &c);
		CHECKF(r < 0 && errno == EINVAL, "FLAGS with an unknown bit: %d %s",
		       r, strerror(errno));
		r = ioctl(fd, _IO('X', 0x01));
		CHECKF(r < 0 && errno == ENOTTY, "foreign ioctl: %d %s",
		       r, strerror(errno));
	}
	/* After all that the fd still works. */
	FX_READ(&f);
	FX_PAT_M(&f, 13);
	return T_PASS;
}

/* Every command from a forked child (another mm) is refused with -EPERM. */
static int t_fd_other_mm(void)
{
	unsigned long npages = 4;
	size_t size = npages * PS;
	struct fx f;
	char *p, *m;
	int fd, status;
	pid_t pid;

	FX(fx_setup(&f, npages, 0, 14));
	p = f.p;
	m = f.m;
	fd = f.fd[0];
	FX_TO_DEV(&f);
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		unsigned long reqs[ARRAY_SIZE(range_cmds) + 1];
		size_t i;
		int bad = 0;

		memcpy(reqs, range_cmds, sizeof(range_cmds));
		reqs[ARRAY_SIZE(range_cmds)] = HMM_DMIRROR_RELEASE;
		for (i = 0; i < ARRAY_SIZE(reqs); i++) {
			int r = hmm_cmd(fd, reqs[i], p, m, npages, NULL);

			if (r != -EPERM) {
				t_diag("child: %s on the parent's fd: %d (%s), want -EPERM",
				       hmm_cmd_name(reqs[i]), r, strerror(-r));
				bad = 1;
			}
		}
		/* The child's copy is still right (it faults it back). */
		if (pat_check(p, size, 14) >= 0) {
			t_diag("child: data wrong");
			bad = 1;
		}
		_exit(bad);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/*
	 * Still usable by its owner.  (The child's reads migrated the shared
	 * copy-on-write pages back for both processes: rmap moves them all.)
	 */
	FX_READ(&f);
	FX_PAT_M(&f, 14);
	FX_PAT(&f, 14);
	return T_PASS;
}

/* The classic snapshot layout: hole, zero page, RO, RW, local, remote. */
static int t_snapshot(void)
{
	unsigned long i;
	unsigned char *p, *m;
	volatile unsigned char *v;
	struct fx f;

	FX(fx_setup(&f, 8, FX_TWO | FX_PROT_NONE, FX_NOFILL));
	p = (unsigned char *)f.p;
	m = (unsigned char *)f.m;
	/* 0: PROT_NONE, 1: hole */
	CHECK(!munmap(p + PS, PS));
	/* 2: read-only zero page */
	CHECK(!mprotect(p + 2 * PS, PS, PROT_READ));
	v = p + 2 * PS;
	CHECK(*v == 0);
	/* 3: read-only written page */
	CHECK(!mprotect(p + 3 * PS, PS, PROT_READ | PROT_WRITE));
	p[3 * PS] = 1;
	CHECK(!mprotect(p + 3 * PS, PS, PROT_READ));
	/* 4..7 read-write: 4 written, 5 on device 0, 6 on device 1, 7 none */
	CHECK(!mprotect(p + 4 * PS, 4 * PS, PROT_READ | PROT_WRITE));
	p[4 * PS] = 2;
	p[5 * PS] = 3;
	p[6 * PS] = 4;
	FX(fx_ok(&f, 0, HMM_DMIRROR_MIGRATE_TO_DEV, 5, 1));
	FX(fx_ok(&f, 1, HMM_DMIRROR_MIGRATE_TO_DEV, 6, 1));
	memset(m, 0xee, f.npages);
	FX(fx_ok(&f, 0, HMM_DMIRROR_SNAPSHOT, 0, f.npages));
	for (i = 0; i < f.npages; i++)
		t_diag("page %lu: 0x%02x", i, m[i]);
	CHECK_EQ(m[0], HMM_DMIRROR_PROT_ERROR);
	CHECK_EQ(m[1], HMM_DMIRROR_PROT_ERROR);
	CHECK_EQ(m[2], HMM_DMIRROR_PROT_ZERO | HMM_DMIRROR_PROT_READ);
	CHECK_EQ(m[3], HMM_DMIRROR_PROT_READ);
	CHECK_EQ(m[4], HMM_DMIRROR_PROT_WRITE);
	CHECK_EQ(m[5], HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL |
		 HMM_DMIRROR_PROT_WRITE);
	/* test_hmm reports a peer's page as not present; a remote tag is ok */
	CHECKF(m[6] == HMM_DMIRROR_PROT_NONE ||
	       m[6] == (HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE |
			HMM_DMIRROR_PROT_WRITE),
	       "page on the peer device: 0x%02x", m[6]);
	CHECK_EQ(m[7], HMM_DMIRROR_PROT_NONE);
	/* The view from device 1 mirrors that. */
	CHECK_RET(fx_cmd(&f, 1, HMM_DMIRROR_SNAPSHOT, 5, 2), 0);
	CHECKF(m[0] == HMM_DMIRROR_PROT_NONE ||
	       m[0] == (HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE |
			HMM_DMIRROR_PROT_WRITE),
	       "dev1 view of dev0's page: 0x%02x", m[0]);
	CHECK_EQ(m[1], HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL |
		 HMM_DMIRROR_PROT_WRITE);
	/* And the data is all there. */
	CHECK_EQ(p[3 * PS], 1);
	CHECK_EQ(p[4 * PS], 2);
	CHECK_EQ(p[5 * PS], 3);
	CHECK_EQ(p[6 * PS], 4);
	return T_PASS;
}

/* SNAPSHOT must not fault anything in, nor count a device fault. */
static int t_snapshot_nofault(void)
{
	struct hmm_dummy_stats s0, s1;
	unsigned char vec[32], *m;
	unsigned long i;
	struct fx f;

	FX(fx_setup(&f, 32, 0, FX_NOFILL));
	m = (unsigned char *)f.m;
	STATS(f.fd[0], &s0);
	FX(fx_ok(&f, 0, HMM_DMIRROR_SNAPSHOT, 0, f.npages));
	STATS(f.fd[0], &s1);
	for (i = 0; i < f.npages; i++)
		CHECKF(m[i] == HMM_DMIRROR_PROT_NONE, "page %lu: 0x%02x",
		       i, m[i]);
	CHECK(!mincore(f.p, f.size, vec));
	for (i = 0; i < f.npages; i++)
		CHECKF(!(vec[i] & 1), "page %lu became resident", i);
	CHECK_EQ(s1.device_faults, s0.device_faults);
	CHECK_EQ(s1.allocations, s0.allocations);
	return T_PASS;
}

/* The tracefs directory of hmm_dummy's events, or NULL. */
static const char *trace_dir(void)
{
	static const char *const dirs[] = {
		"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
	};
	char path[128];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(dirs); i++) {
		snprintf(path, sizeof(path), "%s/events/hmm_dummy/enable",
			 dirs[i]);
		if (!access(path, W_OK))
			return dirs[i];
	}
	return NULL;
}

/* Count the lines of the trace buffer that contain @needle. */
static int trace_count(const char *dir, const char *needle)
{
	char path[160], line[512];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/trace", dir);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += !!strstr(line, needle);
	fclose(f);
	return n;
}

static int t_tracepoints(void)
{
	const char *dir = trace_dir();
	char needle[128], *p;
	volatile char c;
	struct fx f;
	int n;

	if (!dir)
		SKIP("tracefs with events/hmm_dummy not mounted");
	FX(fx_setup(&f, 64, FX_NOBUF, 3));
	p = f.p;
	CHECK_RET(write_file_in(dir, "trace", ""), 0);
	CHECK_RET(write_file_in(dir, "events/hmm_dummy/enable", "1"), 0);
	FX_TO_DEV(&f);
	c = p[5 * PS];
	(void)c;
	/* Not all 64 pages: the fault brought some back. */
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_MIGRATE_TO_SYS, 0, f.npages), 0);
	CHECK_RET(write_file_in(dir, "events/hmm_dummy/enable", "0"), 0);
	FX_PAT(&f, 3);

	snprintf(needle, sizeof(needle),
		 "hmm_dummy_migrate_to_dev: dev=0 range=%#lx-",
		 (unsigned long)p);
	n = trace_count(dir, needle);
	CHECKF(n >= 1, "%d '%s' events", n, needle);
	snprintf(needle, sizeof(needle), "hmm_dummy_cpu_fault: dev=0 addr=%#lx ",
		 (unsigned long)(p + 5 * PS));
	n = trace_count(dir, needle);
	CHECKF(n == 1, "%d '%s' events", n, needle);
	n = trace_count(dir, "hmm_dummy_migrate_to_sys: dev=0");
	CHECKF(n >= 2, "%d migrate_to_sys events (fault + ioctl)", n);
	return T_PASS;
}

/*
 * STATS version 3: the allocator lock counts its takers.  Every page free
 * takes it (4 KiB pages here: one folio each) and the allocation at least
 * once, reading the statistics does not, and nobody waits without it being
 * counted as contention.
 */
static int t_alloc_lock(void)
{
	struct hmm_dummy_stats a, b, c;
	struct fx f;

	FX(fx_setup(&f, 64, FX_NOBUF, 9));
	CHECK(!madvise(f.p, f.size, MADV_NOHUGEPAGE));
	STATS(f.fd[0], &a);
	if (a.size < offsetof(struct hmm_dummy_stats, alloc_lock_wait_ns) +
		     sizeof(a.alloc_lock_wait_ns))
		SKIP("STATS version %u has no lock counters", a.version);
	FX_TO_DEV(&f);
	FX_TO_SYS(&f);
	FX_PAT(&f, 9);
	STATS(f.fd[0], &b);
	t_diag("64 pages there and back: lock taken %lld times, contended %lld, waited %lld ns",
	       DELTA(a, b, alloc_lock_acquired),
	       DELTA(a, b, alloc_lock_contended),
	       DELTA(a, b, alloc_lock_wait_ns));
	CHECKF(DELTA(a, b, page_free_calls) >= 64, "%lld page frees",
	       DELTA(a, b, page_free_calls));
	CHECK(DELTA(a, b, alloc_lock_acquired) >=
	      DELTA(a, b, page_free_calls) + 1);
	CHECK(b.alloc_lock_contended <= b.alloc_lock_acquired);
	CHECK(DELTA(a, b, alloc_lock_contended) ||
	      !DELTA(a, b, alloc_lock_wait_ns));
	/* A reader is not a taker: without allocations or frees, no change. */
	STATS(f.fd[0], &c);
	CHECK(!DELTA(b, c, alloc_lock_acquired) ||
	      DELTA(b, c, allocations) + DELTA(b, c, page_free_calls));
	fx_teardown(&f);
	return T_PASS;
}

static const struct tcase cases[] = {
	{ "open_close", t_open_close, 0, "open and close every device node" },
	{ "info_stats", t_info, T_DUMMY,
	  "INFO and STATS values are sane, sysfs stats match the ioctl" },
	{ "info_stats_size", t_info_size, T_DUMMY,
	  "STATS/INFO sizes: below version 1 -EINVAL; old, odd and larger sizes ok" },
	{ "anon_read", t_anon_read, 0,
	  "device read of anonymous memory, fault counting, invalidation" },
	{ "mirror_regions", t_mirror_regions, 0,
	  "coherence across the driver's 64 MiB notifier regions" },
	{ "mirror_munmap_remap", t_mirror_munmap_remap, 0,
	  "munmap erases every device page table entry of thousands" },
	{ "anon_read_zero", t_anon_read_zero, 0,
	  "device read of pte_none memory gives the zero page" },
	{ "anon_write", t_anon_write, 0,
	  "device write of anonymous memory, then partial write" },
	{ "prot_none", t_prot_none, 0,
	  "device read/write of PROT_NONE memory: -EFAULT, nothing changes" },
	{ "read_only", t_read_only, 0,
	  "device write of read-only memory: -EPERM, data unchanged" },
	{ "unmapped", t_unmapped, 0,
	  "device access to a range with a hole: -EFAULT" },
	{ "bad_input", t_bad_input, 0,
	  "misaligned/empty/overflowing ranges, bad pointers, unknown ioctls" },
	{ "fd_other_mm", t_fd_other_mm, T_DUMMY,
	  "an fd used from a forked child (other mm) gets -EPERM" },
	{ "snapshot", t_snapshot, T_TWO,
	  "snapshot of hole/none/zero/ro/rw/local/remote pages" },
	{ "snapshot_nofault", t_snapshot_nofault, T_DUMMY,
	  "snapshot does not fault pages in" },
	{ "tracepoints", t_tracepoints, T_DUMMY,
	  "events/hmm_dummy: migrations and CPU faults are traced" },
	{ "alloc_lock", t_alloc_lock, T_DUMMY,
	  "the allocator lock counts its takers (STATS v3), not its readers" },
};

const struct tgroup tests_basic = { cases, ARRAY_SIZE(cases) };
