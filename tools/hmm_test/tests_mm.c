// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_test: migrated memory against the rest of mm: fork/COW, shared and
 * file mappings, THP, hugetlbfs, mremap/mprotect, MADV_DONTNEED/munmap/exit
 * returning pages, fd close, threads, remote access and kernel access.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "hmm_test.h"

#define PS	(cfg.page_size)
#define LOCAL	HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL
#define HPS	(2UL << 20)


static int wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFSIGNALED(status)) {
		t_diag("child killed by signal %d", WTERMSIG(status));
		return -1;
	}
	return WEXITSTATUS(status);
}

static void pipe_signal(int fd)
{
	char c = 1;

	if (write(fd, &c, 1) != 1)
		_exit(3);
}

static void pipe_wait(int fd)
{
	char c;

	if (read(fd, &c, 1) != 1)
		_exit(3);
}

/*
 * fork() after migration; @child_first picks who writes first.  Both must
 * keep their own copy.
 */
static int fork_cow(bool child_first)
{
	int to_child[2], to_parent[2];
	struct fx f;
	char *p;
	size_t size;
	pid_t pid;

	FX(fx_setup(&f, 64, 0, 80));
	p = f.p;
	size = f.size;
	CHECK(!pipe(to_child) && !pipe(to_parent));
	FX_TO_DEV(&f);
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		int bad = 0;

		close(to_child[1]);
		close(to_parent[0]);
		if (!child_first)
			pipe_wait(to_child[0]);
		if (pat_check(p, size, 80) >= 0) {
			t_diag("child: sees the parent's write");
			bad = 1;
		}
		pat_fill(p, size, 81);
		if (pat_check(p, size, 81) >= 0)
			bad = 1;
		pipe_signal(to_parent[1]);
		_exit(bad);
	}
	close(to_child[0]);
	close(to_parent[1]);
	if (child_first) {
		pipe_wait(to_parent[0]);
		FX_PAT(&f, 80);
		pat_fill(p, size, 82);
	} else {
		/* Half of it written while still on the device, via the mirror. */
		pat_fill(f.m, size, 82);
		FX(fx_ok(&f, 0, HMM_DMIRROR_WRITE, 0, f.npages / 2));
		pat_fill(p + size / 2, size / 2, 82);
		pat_fill(p, size, 82);
		pipe_signal(to_child[1]);
		pipe_wait(to_parent[0]);
	}
	CHECK_EQ(wait_child(pid), 0);
	FX_PAT(&f, 82);
	/* The parent's copy migrates again after the child left. */
	FX_TO_DEV(&f);
	FX_PAT_M(&f, 82);
	FX_PAT(&f, 82);
	return T_PASS;
}

static int t_fork_cow_parent(void)
{
	return fork_cow(false);
}

static int t_fork_cow_child(void)
{
	return fork_cow(true);
}

/* Migrate pages that fork() left shared copy-on-write with a child. */
static int t_fork_then_migrate(void)
{
	unsigned long npages = 64;
	int to_child[2], to_parent[2], r, local;
	struct fx f;
	size_t size;
	char *p, *m;
	pid_t pid;

	FX(fx_setup(&f, npages, 0, 83));
	p = f.p;
	m = f.m;
	size = f.size;
	CHECK(!pipe(to_child) && !pipe(to_parent));
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		int cfd, bad = 0;

		close(to_child[1]);
		close(to_parent[0]);
		pipe_wait(to_child[0]);
		if (pat_check(p, size, 83) >= 0) {
			t_diag("child: data changed under it");
			bad = 1;
		}
		/* The child migrates its own copy on its own fd. */
		cfd = hmm_open(1 % cfg.ndev);
		if (cfd < 0 || hmm_cmd(cfd, HMM_DMIRROR_MIGRATE_TO_DEV, p, m,
				       npages, NULL)) {
			t_diag("child: migration failed");
			bad = 1;
		}
		pat_fill(p, size / 2, 84);
		if (pat_check(p, size / 2, 84) >= 0 ||
		    pat_check_off(p + size / 2, size / 2, 83, size / 2) >= 0)
			bad = 1;
		pipe_signal(to_parent[1]);
		_exit(bad);
	}
	close(to_child[0]);
	close(to_parent[1]);
	r = fx_cmd(&f, 0, HMM_DMIRROR_MIGRATE_TO_DEV, 0, npages);
	local = n_local(f.fd[0], p, npages);
	t_diag("migrating COW-shared pages: %d, %d pages moved", r, local);
	CHECKF(r == 0 || r == -ENOENT, "migrate: %d", r);
	if (cfg.dummy)
		CHECK_EQ(f.c.cpages, local);
	if (!r && cfg.dummy)
		CHECK_EQ(local, npages);
	pat_fill(p, size, 85);
	pipe_signal(to_child[1]);
	pipe_wait(to_parent[0]);
	CHECK_EQ(wait_child(pid), 0);
	FX_PAT(&f, 85);
	return T_PASS;
}

static int shared_not_migrated(char *p, size_t size, uint64_t seed)
{
	unsigned long npages = size / PS;
	struct hmm_dmirror_cmd c;
	char *m = malloc(size);
	int fd = hmm_open(0);

	CHECK(m && fd >= 0);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, m, npages, &c),
		  -ENOENT);
	if (cfg.dummy)
		CHECK_EQ(c.cpages, 0);
	CHECK_EQ(n_local(fd, p, npages), 0);
	CHECK_PAT(p, size, seed);
	/* The mirror still reads and writes it. */
	memset(m, 0, size);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_READ, p, m, npages, &c), 0);
	CHECK_PAT(m, size, seed);
	pat_fill(m, size, seed + 1);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_WRITE, p, m, npages, &c), 0);
	CHECK_PAT(p, size, seed + 1);
	close(fd);
	return T_PASS;
}

static int t_shared_anon(void)
{
	size_t size = 32 * PS;
	char *p = map_anon(size, PROT_READ | PROT_WRITE, MAP_SHARED);
	int r, status;
	pid_t pid;

	CHECK(p);
	pat_fill(p, size, 86);
	r = shared_not_migrated(p, size, 86);
	if (r)
		return r;
	/* A child sharing the mapping sees the device's write. */
	pid = fork();
	CHECK(pid >= 0);
	if (!pid)
		_exit(pat_check(p, size, 87) >= 0);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      !WEXITSTATUS(status));
	return T_PASS;
}

static int t_shared_file(void)
{
	size_t size = 32 * PS;
	int mfd = memfd_create("hmm_test", MFD_CLOEXEC), r;
	char *p, *f = malloc(size);

	CHECK(mfd >= 0 && f);
	CHECK(!ftruncate(mfd, size));
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	CHECK(p != MAP_FAILED);
	pat_fill(p, size, 88);
	r = shared_not_migrated(p, size, 88);
	if (r)
		return r;
	CHECK_EQ(pread(mfd, f, size, 0), size);
	CHECK_PAT(f, size, 89);
	return T_PASS;
}

/* Private file mapping: only its anonymous (written) pages can move. */
static int t_private_file(void)
{
	unsigned long npages = 32;
	size_t size = npages * PS;
	struct hmm_dmirror_cmd c;
	int mfd = memfd_create("hmm_test", MFD_CLOEXEC), fd = hmm_open(0), r;
	char *p, *f = malloc(size), *m = malloc(size);
	int local;

	CHECK(mfd >= 0 && f && m && fd >= 0);
	pat_fill(f, size, 90);
	CHECK_EQ(pwrite(mfd, f, size, 0), size);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, mfd, 0);
	CHECK(p != MAP_FAILED);
	/* Device read of the file pages. */
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_READ, p, m, npages, &c), 0);
	CHECK_PAT(m, size, 90);
	/* Untouched half: page cache pages. */
	r = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, m, npages / 2, &c);
	local = n_local(fd, p, npages / 2);
	t_diag("private file, page cache pages: %d, %d moved", r, local);
	CHECKF(r == 0 || r == -ENOENT, "migrate: %d", r);
	/* test_hmm counts pages its mirror maps, not pages it moved. */
	if (cfg.dummy)
		CHECK_EQ(c.cpages, local);
	if (!r && cfg.dummy)
		CHECK_EQ(local, npages / 2);
	/* Written half: private anonymous copies, they move. */
	pat_fill(m, size, 91);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_WRITE, p + size / 2, m + size / 2,
			  npages / 2, NULL), 0);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p + size / 2, m,
			  npages / 2, &c), 0);
	CHECK_EQ(c.cpages, npages / 2);
	CHECK_PAT_OFF(m, size / 2, 91, size / 2);
	CHECK_PAT(p, size / 2, 90);
	CHECK_PAT_OFF(p + size / 2, size / 2, 91, size / 2);
	/* The file itself never changed. */
	CHECK_EQ(pread(mfd, f, size, 0), size);
	CHECK_PAT(f, size, 90);
	return T_PASS;
}

static long smaps_anon_huge_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/smaps_rollup", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "AnonHugePages: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static int t_thp(void)
{
	unsigned long npages = 2 * HPS / PS;
	unsigned char *snap = malloc(npages);
	struct fx f;
	long huge;
	int fd;

	if (!thp_enabled())
		SKIP("THP disabled in /sys/kernel/mm/transparent_hugepage/enabled");
	FX(fx_setup(&f, npages, FX_ALIGNED, FX_NOFILL));
	CHECK(snap);
	fd = f.fd[0];
	CHECK(!madvise(f.p, f.size, MADV_HUGEPAGE));
	pat_fill(f.p, f.size, 92);
	huge = smaps_anon_huge_kb();
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_SNAPSHOT, f.p, snap, npages, NULL),
		  0);
	t_diag("AnonHugePages %ld kB, snapshot[0] 0x%02x", huge, snap[0]);
	if (huge >= (long)(f.size >> 10))
		CHECK_EQ(snap[0], HMM_DMIRROR_PROT_PMD | HMM_DMIRROR_PROT_WRITE);
	else
		t_diag("note: no THP was allocated; testing small pages");
	/* Device read of the huge mapping. */
	FX_READ(&f);
	FX_PAT_M(&f, 92);
	memset(f.m, 0, f.size);
	FX_TO_DEV(&f);
	FX_PAT_M(&f, 92);
	CHECK_EQ(n_local(fd, f.p, npages), npages);
	/* Fault back half, migrate back the other half. */
	CHECK_PAT(f.p, HPS, 92);
	FX(fx_ok(&f, 0, HMM_DMIRROR_MIGRATE_TO_SYS, HPS / PS, HPS / PS));
	CHECK_EQ(n_local(fd, f.p, npages), 0);
	FX_PAT(&f, 92);
	/* A THP-backed range where only a part is migrated. */
	FX(fx_ok(&f, 0, HMM_DMIRROR_MIGRATE_TO_DEV, 16, 8));
	pat_fill(f.p, f.size, 93);
	FX_PAT(&f, 93);
	return T_PASS;
}

static int t_hugetlbfs(void)
{
	long free_pages, hsize;
	char why[128];
	const char *how;
	struct hmm_dmirror_cmd c;
	unsigned long npages;
	unsigned char *snap;
	char *p, *m;
	int fd = hmm_open(0);
	size_t size;

	if (!hugetlb_available(&free_pages, &hsize, why, sizeof(why)))
		SKIP("%s", why);
	CHECK(fd >= 0);
	size = 2 * hsize;
	npages = size / PS;
	p = hugetlb_alloc(size, &how);
	CHECKF(p, "no hugetlb memory from libhugetlbfs or MAP_HUGETLB");
	t_diag("hugetlb memory from %s", how);
	m = malloc(size);
	snap = malloc(npages);
	CHECK(m && snap);
	pat_fill(p, size, 94);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_READ, p, m, npages, &c), 0);
	CHECK_EQ(c.cpages, npages);
	CHECK_PAT(m, size, 94);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_SNAPSHOT, p, snap, npages, NULL), 0);
	CHECKF(snap[0] == (HMM_DMIRROR_PROT_PMD | HMM_DMIRROR_PROT_WRITE),
	       "hugetlb snapshot 0x%02x", snap[0]);
	/* test_hmm hands the VMA to migrate_vma_setup(): -EINVAL. */
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, m, npages, &c),
		  cfg.dummy ? -ENOENT : -EINVAL);
	if (cfg.dummy)
		CHECK_EQ(c.cpages, 0);
	CHECK_EQ(n_local(fd, p, npages), 0);
	CHECK_PAT(p, size, 94);
	pat_fill(m, size, 95);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_WRITE, p, m, npages, &c), 0);
	CHECK_PAT(p, size, 95);
	hugetlb_free(p, size, how);
	return T_PASS;
}

static int t_mremap(void)
{
	unsigned long npages = 32;
	char *dst, *p, *q;
	struct fx f;
	size_t size;
	int fd;

	FX(fx_setup(&f, npages, 0, 96));
	size = f.size;
	fd = f.fd[0];
	dst = map_anon(4 * size, PROT_NONE, MAP_PRIVATE);
	CHECK(dst);
	FX_TO_DEV(&f);
	q = mremap(f.p, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, dst + size);
	CHECK(q == dst + size);
	CHECK_EQ(n_local(fd, q, npages), npages);
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_READ, 0, 1), -EFAULT);
	memset(f.m, 0, size);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_READ, q, f.m, npages, NULL), 0);
	FX_PAT_M(&f, 96);
	/* Grow in place or move: the pages follow. */
	p = mremap(q, size, 2 * size, MREMAP_MAYMOVE);
	CHECK(p != MAP_FAILED);
	CHECK_EQ(n_local(fd, p, npages), npages);
	CHECK_PAT(p, size, 96);
	/* Shrink a migrated mapping: the cut pages are freed. */
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, f.m, npages,
			  NULL), 0);
	q = mremap(p, 2 * size, size / 2, 0);
	CHECK(q == p);
	CHECK_PAT(q, size / 2, 96);
	return T_PASS;
}

static int t_mprotect(void)
{
	unsigned long npages = 32;
	struct fx f;
	int fd;

	FX(fx_setup(&f, npages, 0, 97));
	fd = f.fd[0];
	FX_TO_DEV(&f);
	CHECK(!mprotect(f.p, f.size, PROT_READ));
	CHECK_EQ(count_snapshot(fd, f.p, npages, LOCAL | HMM_DMIRROR_PROT_READ,
				0xff), npages);
	pat_fill(f.m, f.size, 98);
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_WRITE, 0, npages), -EPERM);
	FX_READ(&f);
	FX_PAT_M(&f, 97);
	/* Read-only migrated pages fault back on a CPU read. */
	CHECK_PAT(f.p, f.size / 2, 97);
	CHECK(!mprotect(f.p, f.size, PROT_READ | PROT_WRITE));
	pat_fill(f.p, f.size, 99);
	FX_TO_DEV(&f);
	/* Half PROT_NONE: VMA split, device pages on both sides. */
	CHECK(!mprotect(f.p + f.size / 2, f.size / 2, PROT_NONE));
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_READ, 0, npages), -EFAULT);
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_MIGRATE_TO_DEV, 0, npages),
		  -EINVAL);
	CHECK_EQ(n_local(fd, f.p, npages / 2), npages / 2);
	CHECK(!mprotect(f.p + f.size / 2, f.size / 2, PROT_READ | PROT_WRITE));
	CHECK_EQ(n_local(fd, f.p, npages), npages);
	FX_PAT(&f, 99);
	return T_PASS;
}

static int t_dontneed(void)
{
	unsigned long npages = 256, i;
	struct hmm_dummy_stats s0, s1;
	struct fx f;
	int fd;

	FX(fx_setup(&f, npages, 0, 100));
	fd = f.fd[0];
	FX_TO_DEV(&f);
	STATS(fd, &s0);
	CHECK(!madvise(f.p, f.size / 2, MADV_DONTNEED));
	STATS(fd, &s1);
	CHECK_EQ(DELTA(s0, s1, page_free_calls), npages / 2);
	CHECK_EQ(DELTA(s0, s1, in_use), -(long long)npages / 2);
	CHECK_EQ(DELTA(s0, s1, cpu_faults), 0);
	CHECK_EQ(n_local(fd, f.p, npages), npages / 2);
	for (i = 0; i < f.size / 2; i++)
		CHECKF(!f.p[i], "byte %lu after MADV_DONTNEED: 0x%02x", i,
		       f.p[i]);
	CHECK(!madvise(f.p, f.size, MADV_DONTNEED));
	STATS(fd, &s1);
	CHECK_EQ(DELTA(s0, s1, page_free_calls), npages);
	CHECK_EQ(DELTA(s0, s1, in_use), -(long long)npages);
	CHECK_EQ(DELTA(s0, s1, cpu_faults), 0);
	return T_PASS;
}

static int t_munmap(void)
{
	unsigned long npages = 256;
	struct hmm_dummy_stats s0, s1;
	struct fx f;
	char *p;
	int fd;

	FX(fx_setup(&f, npages, 0, 101));
	p = f.p;
	fd = f.fd[0];
	FX_TO_DEV(&f);
	STATS(fd, &s0);
	CHECK(!munmap(p + 64 * PS, 64 * PS));
	STATS(fd, &s1);
	CHECK_EQ(DELTA(s0, s1, page_free_calls), 64);
	CHECK_EQ(DELTA(s0, s1, in_use), -64);
	CHECK_EQ(n_local(fd, p, 64), 64);
	CHECK_EQ(n_local(fd, p + 128 * PS, 128), 128);
	/* The rest is intact (device read: nothing moves). */
	FX(fx_ok(&f, 0, HMM_DMIRROR_READ, 128, 128));
	CHECK_PAT_OFF(f.m, 128 * PS, 101, 128 * PS);
	CHECK(!munmap(p, f.size));
	STATS(fd, &s1);
	CHECK_EQ(DELTA(s0, s1, page_free_calls), npages);
	CHECK_EQ(DELTA(s0, s1, in_use), -(long long)npages);
	CHECK_EQ(DELTA(s0, s1, cpu_faults), 0);
	CHECK_EQ(DELTA(s0, s1, migrated_to_sys_fault), 0);
	return T_PASS;
}

/* A process that exits (or is killed) with pages on both devices. */
static int t_exit_frees(void)
{
	struct hmm_dummy_stats b[2], a[2];
	unsigned long npages = 512;
	int i, round, nd = cfg.ndev < 2 ? 1 : 2;

	for (round = 0; round < 2; round++) {
		int go[2];
		pid_t pid;

		for (i = 0; i < nd; i++)
			CHECK_RET(hmm_stats_dev(i, &b[i]), 0);
		CHECK(!pipe(go));
		pid = fork();
		CHECK(pid >= 0);
		if (!pid) {
			size_t size = npages * PS;
			char *p = map_anon(size, PROT_READ | PROT_WRITE,
					   MAP_PRIVATE);
			int f0 = hmm_open(0), f1 = hmm_open(nd - 1);

			if (!p || f0 < 0 || f1 < 0)
				_exit(1);
			pat_fill(p, size, 102);
			if (hmm_cmd(f0, HMM_DMIRROR_MIGRATE_TO_DEV, p, NULL,
				    npages / 2, NULL) ||
			    hmm_cmd(f1, HMM_DMIRROR_MIGRATE_TO_DEV,
				    p + size / 2, NULL, npages / 2, NULL))
				_exit(1);
			pipe_signal(go[1]);
			if (round)
				pause();
			_exit(0);
		}
		close(go[1]);
		pipe_wait(go[0]);
		if (round)
			kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		for (i = 0; i < nd; i++) {
			int ok = !wait_stats_settle(i, &b[i], &a[i], 3000);

			CHECKF(ok, "%s: device %d in_use %llu (before %llu), allocations +%lld, page_free_calls +%lld",
			       round ? "SIGKILL" : "exit", i,
			       (unsigned long long)a[i].in_use,
			       (unsigned long long)b[i].in_use,
			       DELTA(b[i], a[i], allocations),
			       DELTA(b[i], a[i], page_free_calls));
			CHECK(DELTA(b[i], a[i], allocations) >=
			      (long long)npages / (nd == 2 ? 2 : 1));
		}
	}
	return T_PASS;
}

static int t_close_fd(void)
{
	unsigned long npages = 64;
	struct hmm_dummy_stats s0, s1;
	struct fx f;
	int fd, local;

	FX(fx_setup(&f, npages, 0, 103));
	FX_TO_DEV(&f);
	CHECK(!close(f.fd[0]));
	/* A new fd of the same device can still read and write them. */
	f.fd[0] = hmm_open(0);
	CHECK(f.fd[0] >= 0);
	local = n_local(f.fd[0], f.p, npages);
	t_diag("%d of %lu pages still on the device after close", local,
	       npages);
	memset(f.m, 0, f.size);
	FX_READ(&f);
	FX_PAT_M(&f, 103);
	CHECK_PAT(f.p, f.size / 2, 103);
	CHECK(!close(f.fd[0]));
	/* Without any fd open: CPU faults still work. */
	FX_PAT(&f, 103);
	if (cfg.dummy) {
		CHECK_RET(hmm_stats_dev(0, &s0), 0);
		fd = hmm_open(0);
		CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, f.p, f.m,
				  npages, NULL), 0);
		close(fd);
		CHECK(!munmap(f.p, f.size));
		CHECK_RET(hmm_stats_dev(0, &s1), 0);
		CHECK_EQ(DELTA(s0, s1, in_use), 0);
		CHECK_EQ(DELTA(s0, s1, page_free_calls), npages);
	}
	return T_PASS;
}

struct thr {
	pthread_barrier_t *bar;
	char *p;
	size_t size;
	int idx, nthr;
	int fd;
	volatile int *stop;
	long bad;
};

static void *thr_read(void *arg)
{
	struct thr *t = arg;
	size_t n = t->size / PS, i, k;

	pthread_barrier_wait(t->bar);
	/* Each thread starts at a different page so faults overlap. */
	for (k = 0; k < n; k++) {
		i = (k + t->idx * n / t->nthr) % n;
		if (pat_check_off(t->p + i * PS, PS, 104, i * PS) >= 0)
			t->bad++;
	}
	return NULL;
}

static void *thr_write(void *arg)
{
	struct thr *t = arg;
	size_t n = t->size / PS, i;

	pthread_barrier_wait(t->bar);
	for (i = 0; i < n; i++) {
		uint64_t *w = (uint64_t *)(t->p + i * PS) + t->idx;

		*w = pat_word(105, i * (PS / 8) + t->idx);
	}
	return NULL;
}

static int t_threads(void)
{
	enum { NTHR = 8 };
	unsigned long npages = 1024, i;
	pthread_barrier_t bar;
	pthread_t th[NTHR];
	struct thr t[NTHR];
	struct fx f;
	int k;

	FX(fx_setup(&f, npages, FX_NOBUF, 104));
	FX_TO_DEV(&f);
	CHECK(!pthread_barrier_init(&bar, NULL, NTHR));
	for (k = 0; k < NTHR; k++) {
		t[k] = (struct thr){ .bar = &bar, .p = f.p, .size = f.size,
				     .idx = k, .nthr = NTHR };
		CHECK(!pthread_create(&th[k], NULL, thr_read, &t[k]));
	}
	for (k = 0; k < NTHR; k++) {
		pthread_join(th[k], NULL);
		CHECKF(!t[k].bad, "reader %d saw %ld bad pages", k, t[k].bad);
	}
	FX_PAT(&f, 104);
	/* Concurrent write faults to the same pages, distinct words. */
	FX_TO_DEV(&f);
	for (k = 0; k < NTHR; k++)
		CHECK(!pthread_create(&th[k], NULL, thr_write, &t[k]));
	for (k = 0; k < NTHR; k++)
		pthread_join(th[k], NULL);
	for (i = 0; i < npages; i++) {
		uint64_t *w = (uint64_t *)(f.p + i * PS);

		for (k = 0; k < (int)(PS / 8); k++) {
			uint64_t want = pat_word(k < NTHR ? 105 : 104,
						 i * (PS / 8) + k);

			CHECKF(w[k] == want, "page %lu word %d: %llx != %llx",
			       i, k, (unsigned long long)w[k],
			       (unsigned long long)want);
		}
	}
	return T_PASS;
}

static void *thr_migrator(void *arg)
{
	struct thr *t = arg;
	size_t n = t->size / PS;
	char *m = malloc(t->size);

	pthread_barrier_wait(t->bar);
	while (!*t->stop) {
		int r = hmm_cmd(t->fd, HMM_DMIRROR_MIGRATE_TO_DEV, t->p, m, n,
				NULL);

		/* Pages a CPU fault took back meanwhile are simply missing. */
		if (r && r != -ENOENT)
			t->bad++;
		if (!r && pat_check(m, t->size, 104) >= 0)
			t->bad++;
		if (hmm_cmd(t->fd, HMM_DMIRROR_READ, t->p, m, n, NULL) ||
		    pat_check(m, t->size, 104) >= 0)
			t->bad++;
	}
	free(m);
	return NULL;
}

/* Migrations racing with CPU faults from other threads for 3 seconds. */
static int t_threads_race(void)
{
	enum { NTHR = 4 };
	pthread_barrier_t bar;
	pthread_t th[NTHR + 1];
	struct thr t[NTHR + 1];
	volatile int stop = 0;
	struct fx f;
	double end;
	int k;

	FX(fx_setup(&f, 256, FX_NOBUF, 104));
	CHECK(!pthread_barrier_init(&bar, NULL, NTHR + 2));
	for (k = 0; k <= NTHR; k++) {
		t[k] = (struct thr){ .bar = &bar, .p = f.p, .size = f.size,
				     .idx = k, .nthr = NTHR, .fd = f.fd[0],
				     .stop = &stop };
		CHECK(!pthread_create(&th[k], NULL,
				      k == NTHR ? thr_migrator : thr_read,
				      &t[k]));
	}
	pthread_barrier_wait(&bar);
	end = now_sec() + 3;
	for (k = 0; k < NTHR; k++)
		pthread_join(th[k], NULL);
	/* Keep the readers going until the time is up. */
	while (now_sec() < end) {
		struct thr r = { .p = f.p, .size = f.size, .nthr = 1 };
		pthread_barrier_t b1;

		pthread_barrier_init(&b1, NULL, 1);
		r.bar = &b1;
		thr_read(&r);
		CHECKF(!r.bad, "reader saw %ld bad pages", r.bad);
	}
	stop = 1;
	pthread_join(th[NTHR], NULL);
	for (k = 0; k <= NTHR; k++)
		CHECKF(!t[k].bad, "thread %d saw %ld errors", k, t[k].bad);
	FX_PAT(&f, 104);
	return T_PASS;
}

/* Another process reads (and writes) migrated memory: GUP faults it back. */
static int t_remote_access(void)
{
	unsigned long npages = 64;
	size_t size = npages * PS;
	char *p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	char *buf = malloc(size), path[64];
	int ready[2], go[2], memfd;
	struct iovec local, remote;
	pid_t pid;

	CHECK(p && buf);
	CHECK(!pipe(ready) && !pipe(go));
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		int cfd = hmm_open(0), bad = 0;

		close(ready[0]);
		close(go[1]);
		pat_fill(p, size, 106);
		if (cfd < 0 || hmm_cmd(cfd, HMM_DMIRROR_MIGRATE_TO_DEV, p,
				       NULL, npages, NULL))
			_exit(2);
		pipe_signal(ready[1]);
		pipe_wait(go[0]);
		/* The parent wrote the second half through /proc/PID/mem. */
		if (pat_check(p, size / 2, 106) >= 0 ||
		    pat_check_off(p + size / 2, size / 2, 107, size / 2) >= 0)
			bad = 1;
		_exit(bad);
	}
	close(ready[1]);
	close(go[0]);
	pipe_wait(ready[0]);
	local.iov_base = buf;
	local.iov_len = size / 2;
	remote.iov_base = p;
	remote.iov_len = size / 2;
	CHECK_EQ(process_vm_readv(pid, &local, 1, &remote, 1, 0), size / 2);
	CHECK_PAT(buf, size / 2, 106);
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	memfd = open(path, O_RDWR);
	CHECK(memfd >= 0);
	CHECK_EQ(pread(memfd, buf, size, (off_t)(uintptr_t)p), size);
	CHECK_PAT(buf, size, 106);
	pat_fill(buf, size, 107);
	CHECK_EQ(pwrite(memfd, buf + size / 2, size / 2,
			(off_t)(uintptr_t)(p + size / 2)), size / 2);
	close(memfd);
	pipe_signal(go[1]);
	CHECK_EQ(wait_child(pid), 0);
	return T_PASS;
}

/* The kernel itself touching migrated memory: write(2) from, read(2) into. */
static int t_syscall_access(void)
{
	struct fx f;
	int pfd[2];

	FX(fx_setup(&f, 8, 0, FX_NOFILL));
	CHECK(!pipe(pfd));
	CHECK(fcntl(pfd[1], F_SETPIPE_SZ, 4 * f.size) >= (int)f.size);
	pat_fill(f.p, f.size, 108);
	FX_TO_DEV(&f);
	CHECK_EQ(write(pfd[1], f.p, f.size), f.size);
	CHECK_EQ(read(pfd[0], f.m, f.size), f.size);
	FX_PAT_M(&f, 108);
	/* read(2) into migrated pages. */
	FX_TO_DEV(&f);
	pat_fill(f.m, f.size, 109);
	CHECK_EQ(write(pfd[1], f.m, f.size), f.size);
	CHECK_EQ(read(pfd[0], f.p, f.size), f.size);
	FX_PAT(&f, 109);
	return T_PASS;
}

static int t_mlock(void)
{
	unsigned long npages = 32;
	struct fx f;
	int r, local;

	FX(fx_setup(&f, npages, FX_NOBUF, 110));
	FX_TO_DEV(&f);
	/* mlock populates: the pages come back. */
	CHECK(!mlock(f.p, f.size));
	CHECK_EQ(n_local(f.fd[0], f.p, npages), 0);
	FX_PAT(&f, 110);
	r = fx_cmd(&f, 0, HMM_DMIRROR_MIGRATE_TO_DEV, 0, npages);
	local = n_local(f.fd[0], f.p, npages);
	t_diag("migrating mlocked pages: %d, %d moved", r, local);
	CHECKF(r == 0 || r == -ENOENT, "migrate: %d", r);
	if (cfg.dummy)
		CHECK_EQ(f.c.cpages, local);
	if (!r && cfg.dummy)
		CHECK_EQ(local, npages);
	FX_PAT(&f, 110);
	CHECK(!munlock(f.p, f.size));
	return T_PASS;
}

/*
 * Device writes against reclaim.  MADV_FREE makes anonymous pages clean and
 * lazily freeable; a later write must redirty them or MADV_PAGEOUT throws
 * the new data away.  The CPU redirties through the page table; the device
 * writes through a kernel mapping, so its driver must mark the page (or
 * the device page, whose dirty state migration carries back) dirty.
 */
enum pageout_how {
	PO_NONE,	/* nothing written after MADV_FREE: discarded */
	PO_CPU,		/* control: CPU write */
	PO_SYS,		/* device write to the system pages */
	PO_ZERO,	/* device write to zero-page entries */
	PO_THP,		/* device write to a lazily freed THP */
	PO_FREE_DEV,	/* MADV_FREE, to device, device write, to system */
	PO_FREE_FAULT,	/* same, back by CPU read faults */
	PO_DEV,		/* no MADV_FREE: to device, device write, to sys */
};

static const char *const pageout_name[] = {
	"no write", "CPU write", "device write", "device write to the zero page",
	"device write to a THP",
	"MADV_FREE, to dev, device write, to sys",
	"MADV_FREE, to dev, device write, CPU fault back",
	"no MADV_FREE, to dev, device write, to sys",
};

/*
 * Run one scenario on a fresh mapping; returns the number of pages whose
 * contents are not the last written pattern (for PO_NONE: not zero), or
 * -1 when setting up failed.
 */
static long pageout_scenario(int fd, enum pageout_how how)
{
	unsigned long npages = how == PO_THP ? HPS / PS : 256, i, bad = 0;
	size_t size = npages * PS;
	char *p, *m = malloc(size);
	const char *step = "map";
	int r = 0, tries = 1;
	long ret = -1;

	p = how == PO_THP ? map_aligned(size, HPS) :
			    map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	if (!p || !m)
		goto out;
	if (how == PO_THP && madvise(p, size, MADV_HUGEPAGE))
		goto out;
	if (how == PO_ZERO)
		for (i = 0; i < npages; i++)
			bad += *(volatile char *)(p + i * PS);
	else
		pat_fill(p, size, 120);
	step = "MADV_FREE";
	if (how != PO_DEV && madvise(p, size, MADV_FREE))
		goto out;
	/* Lazily freed pages may sit in another CPU's LRU batch. */
	step = "MIGRATE_TO_DEV";
	if (how >= PO_FREE_DEV)
		r = hmm_migrate_to_dev_any_cpu(fd, p, npages, &tries);
	if (r)
		goto out;
	if (tries > 1)
		t_diag("%s: every page on the device after %d migrations",
		       pageout_name[how], tries);
	pat_fill(m, size, 121);
	step = "WRITE";
	if (how == PO_CPU)
		memcpy(p, m, size);
	else if (how != PO_NONE)
		r = hmm_cmd(fd, HMM_DMIRROR_WRITE, p, m, npages, NULL);
	if (r)
		goto out;
	step = "MIGRATE_TO_SYS";
	if (how == PO_DEV || how == PO_FREE_DEV)
		r = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_SYS, p, NULL, npages,
			    NULL);
	if (r)
		goto out;
	if (how == PO_FREE_FAULT)
		for (i = 0; i < npages; i++)
			(void)*(volatile char *)(p + i * PS);
	step = "MADV_PAGEOUT";
	if (madvise(p, size, MADV_PAGEOUT))
		goto out;
	for (i = 0; i < npages; i++) {
		char *pg = p + i * PS;

		if (how == PO_NONE)
			bad += pg[0] || memcmp(pg, pg + 1, PS - 1);
		else
			bad += pat_check_off(pg, PS, 121, i * PS) >= 0;
	}
	ret = bad;
out:
	if (ret < 0)
		t_diag("%s: %s failed: %s", pageout_name[how], step,
		       strerror(r ? -r : errno));
	if (p)
		munmap(p, size);
	free(m);
	return ret;
}

static int t_pageout_device_write(void)
{
	enum pageout_how how;
	int fd = hmm_open(0), failed = 0;
	long bad;

	CHECK(fd >= 0);
	bad = pageout_scenario(fd, PO_NONE);
	CHECK(bad >= 0);
	if (bad)
		SKIP("MADV_PAGEOUT did not discard lazily freed pages (%ld of 256 kept)",
		     bad);
	for (how = PO_CPU; how <= PO_DEV; how++) {
		if (how == PO_THP && !thp_enabled())
			continue;
		/* test_hmm oopses writing to its own re-faulted pages. */
		if (!cfg.dummy && how >= PO_FREE_DEV) {
			t_diag("%s: not run against test_hmm",
			       pageout_name[how]);
			continue;
		}
		bad = pageout_scenario(fd, how);
		CHECKF(bad >= 0, "%s: setup failed", pageout_name[how]);
		t_diag("%s, MADV_PAGEOUT: %ld pages lost", pageout_name[how],
		       bad);
		failed |= bad != 0;
	}
	return failed ? T_FAIL : T_PASS;
}

static const struct tcase cases[] = {
	{ "fork_cow_parent_writes", t_fork_cow_parent, T_NOCOMPAT,
	  "fork after migration, parent writes first: independent copies" },
	{ "fork_cow_child_writes", t_fork_cow_child, 0,
	  "fork after migration, child writes first: independent copies" },
	{ "fork_then_migrate", t_fork_then_migrate, 0,
	  "migrating COW-shared pages in parent and child" },
	{ "shared_anon", t_shared_anon, 0,
	  "MAP_SHARED anonymous: not migrated (-ENOENT), data intact" },
	{ "shared_file", t_shared_file, 0,
	  "MAP_SHARED file: not migrated (-ENOENT), data intact" },
	{ "private_file", t_private_file, 0,
	  "MAP_PRIVATE file: written pages migrate, the file is unchanged" },
	{ "thp", t_thp, 0,
	  "THP-backed memory (MADV_HUGEPAGE): PMD snapshot, migrate, back" },
	{ "hugetlbfs", t_hugetlbfs, 0,
	  "hugetlbfs (libhugetlbfs): not migrated, -ENOENT, data intact" },
	{ "mremap", t_mremap, T_NOCOMPAT,
	  "mremap of migrated pages moves them; shrink frees" },
	{ "mprotect", t_mprotect, T_NOCOMPAT,
	  "mprotect of migrated pages: RO refuses device writes, NONE -EINVAL" },
	{ "madv_dontneed", t_dontneed, T_DUMMY,
	  "MADV_DONTNEED of migrated pages returns them through page_free" },
	{ "munmap", t_munmap, T_DUMMY,
	  "munmap of migrated pages returns them through page_free" },
	{ "exit_frees", t_exit_frees, T_DUMMY,
	  "process exit / SIGKILL returns every page on both devices" },
	{ "close_fd", t_close_fd, T_NOCOMPAT,
	  "closing the fd leaves migrated data readable" },
	{ "threads_fault", t_threads, 0,
	  "8 threads faulting the same migrated pages (read, then write)" },
	{ "threads_race", t_threads_race, T_NOCOMPAT,
	  "migration and device reads racing with CPU faults for 3 s" },
	{ "remote_access", t_remote_access, 0,
	  "process_vm_readv and /proc/PID/mem read/write of migrated memory" },
	{ "syscall_access", t_syscall_access, 0,
	  "write(2) from and read(2) into migrated memory" },
	{ "mlock", t_mlock, 0,
	  "mlock of migrated pages brings them back; mlocked pages migrate" },
	{ "pageout_device_write", t_pageout_device_write, 0,
	  "device writes after MADV_FREE survive MADV_PAGEOUT (all page states)" },
};

const struct tgroup tests_mm = { cases, ARRAY_SIZE(cases) };
