// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_test: eviction through the owning process (drivers/hmm_dummy/evict.c).
 *
 * hmm_dummy evicts a device folio by migrating it back in the address space
 * it was migrated into, at the address it was migrated to, under that
 * process's mmap_lock (never by pfn, which is not safe against the process
 * exiting), or, when the owner has exited or no longer maps it, in another
 * process that does.  These cases move the folio after the migration
 * (mremap), leave it mapped only by another process (fork, then munmap or
 * exit in the owner), keep the owner's mmap_lock busy, and make two
 * processes evict each other's pages at the same time.
 */
#include <errno.h>
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
#define HPS	(2UL << 20)

/*
 * Three quarters of the device migrated, then moved elsewhere by mremap():
 * the folios' recorded address is stale.  Half the device more in one call
 * must still get all its pages (eviction finds the moved folios through
 * their linear index), and the moved data must be intact.  A PMD-aligned
 * move keeps large device folios PMD-mapped where the kernel has them.
 */
static int t_evict_mremap(void)
{
	unsigned long cap = cfg.info[0].capacity_pages;
	unsigned long na = cap * 3 / 4, nb = cap / 2;
	size_t sa = na * PS;
	struct hmm_dummy_stats s0, s1;
	struct hmm_dmirror_cmd c;
	char *res, *dst, *b;
	struct fx f;
	int fd, r;

	FX(fx_setup(&f, na, FX_ALIGNED | FX_NOBUF, 151));
	fd = f.fd[0];
	/* A PMD-aligned destination, well away from the source. */
	res = map_anon(sa + HPS, PROT_NONE, MAP_PRIVATE);
	CHECK(res);
	dst = (char *)(((unsigned long)res + HPS - 1) & ~(HPS - 1));
	FX_TO_DEV(&f);
	CHECK(mremap(f.p, sa, sa, MREMAP_MAYMOVE | MREMAP_FIXED, dst) == dst);
	CHECK_EQ(n_local(fd, dst, na), na);

	b = map_aligned(nb * PS, HPS);
	CHECK(b);
	pat_fill(b, nb * PS, 152);
	STATS(fd, &s0);
	r = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, b, NULL, nb, &c);
	STATS(fd, &s1);
	t_diag("MIGRATE_TO_DEV of %lu pages: %d, cpages %llu; evicted +%lld, alloc_failures +%lld, moved ones still on the device %d",
	       nb, r, (unsigned long long)c.cpages,
	       DELTA(s0, s1, migrated_to_sys_evict),
	       DELTA(s0, s1, alloc_failures), n_local(fd, dst, na));
	CHECK_RET(r, 0);
	CHECK_EQ(c.cpages, nb);
	CHECK(DELTA(s0, s1, migrated_to_sys_evict) >= (long long)(na + nb - cap));
	CHECK(n_local(fd, dst, na) <= (int)(cap - nb));
	CHECK_PAT(dst, sa, 151);
	CHECK_PAT(b, nb * PS, 152);
	return T_PASS;
}

/*
 * Device pages mapped only by a process that did not migrate them: the
 * owner forks and then unmaps its copy, so only the child maps them.
 * Eviction finds them in the child: what the owner migrates next gets all
 * its pages, the child's data stays intact and every page comes back once
 * the child exits.
 */
static int t_evict_fork_orphan(void)
{
	unsigned long cap = cfg.info[0].capacity_pages;
	unsigned long na = cap * 3 / 4, nb = cap / 2;
	struct hmm_dummy_stats s0, s1, base;
	struct hmm_dmirror_cmd c;
	int go[2], fd, r, status;
	char *a, *b, x = 0;
	struct fx f;
	pid_t pid;

	FX(fx_setup(&f, na, FX_NOBUF, 153));
	a = f.p;
	fd = f.fd[0];
	STATS(fd, &base);
	CHECK(!pipe(go));
	FX_TO_DEV(&f);
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		close(go[1]);
		if (read(go[0], &x, 1) != 1)
			_exit(2);
		_exit(pat_check(a, na * PS, 153) >= 0 ? 3 : 0);
	}
	close(go[0]);
	CHECK(!munmap(a, na * PS));
	b = map_anon(nb * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	CHECK(b);
	pat_fill(b, nb * PS, 154);
	STATS(fd, &s0);
	r = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, b, NULL, nb, &c);
	STATS(fd, &s1);
	t_diag("MIGRATE_TO_DEV of %lu pages with %lu orphans on the device: %d, cpages %llu, on device %d, evicted +%lld",
	       nb, na, r, (unsigned long long)c.cpages, n_local(fd, b, nb),
	       DELTA(s0, s1, migrated_to_sys_evict));
	CHECK_RET(r, 0);
	CHECK_EQ(c.cpages, nb);
	CHECK_EQ(n_local(fd, b, nb), nb);
	CHECK(DELTA(s0, s1, migrated_to_sys_evict) >= (long long)(na + nb - cap));
	CHECK_PAT(b, nb * PS, 154);
	CHECK_EQ(write(go[1], &x, 1), 1);
	close(go[1]);
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECKF(WIFEXITED(status) && !WEXITSTATUS(status),
	       "child: status %#x (3: its data changed)", status);
	/* The child's copies are gone: only b's pages are left. */
	CHECK(!munmap(b, nb * PS));
	CHECK(!wait_stats_settle(0, &base, &s1, 5000));
	return T_PASS;
}

/*
 * The orphan cases fill the device twice over and fork a copy of it: on
 * the default 256 MiB device that is most of the test VM's memory.  They
 * run where the device is small (vm/check.sh loads vram_mb=4 for them).
 */
#define ORPHAN_MAX_PAGES	16384

/* Owner side of orphan_case(): 0, or what went wrong for the report. */
static char orphan_owner(unsigned long n, bool exits, int ready, int go,
			 int res)
{
	struct hmm_dmirror_cmd c;
	int fd = hmm_open(0), r, status;
	char *a = map_anon(n * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	char x = 0;
	pid_t pid;

	if (fd < 0 || !a)
		return 'o';
	pat_fill(a, n * PS, 156);
	r = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, a, NULL, n, &c);
	if (r || c.cpages != n)
		return 'm';
	pid = fork();
	if (pid < 0)
		return 'f';
	if (!pid) {
		/* The child keeps the pages until told to look at them. */
		close(ready);
		close(fd);
		if (read(go, &x, 1) != 1)
			_exit(2);
		x = pat_check(a, n * PS, 156) >= 0 ? 'd' : 0;
		_exit(write(res, &x, 1) == 1 ? 0 : 2);
	}
	if (!exits && munmap(a, n * PS))
		return 'u';
	if (write(ready, &x, 1) != 1)
		return 'w';
	if (exits)
		return 0;
	/* Unmapped, alive, its file open: until the child is done. */
	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	       !WEXITSTATUS(status) ? 0 : 'c';
}

/*
 * What the orphan and busy-owner cases check last: a new process (this one,
 * through @fd) migrates a buffer as large as the device, filled with
 * @seed, and must get every page of it, data intact.  @what names the
 * owner's state in the diagnostic; *@after gets the statistics after it.
 */
static int take_whole_device(int fd, unsigned long n, uint64_t seed,
			     const char *what, struct hmm_dummy_stats *after)
{
	struct hmm_dummy_stats before;
	struct hmm_dmirror_cmd c;
	double t0, t1;
	char *b;
	int r;

	b = map_anon(n * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	CHECK(b);
	pat_fill(b, n * PS, seed);
	STATS(fd, &before);
	t0 = now_sec();
	r = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, b, NULL, n, &c);
	t1 = now_sec();
	STATS(fd, after);
	t_diag("owner %s: MIGRATE_TO_DEV of %lu: %d, cpages %llu, local %d, evict +%lld, %.2f s",
	       what, n, r, (unsigned long long)c.cpages, n_local(fd, b, n),
	       DELTA(before, *after, migrated_to_sys_evict), t1 - t0);
	CHECK_RET(r, 0);
	CHECK_EQ(c.cpages, n);
	CHECK_EQ(n_local(fd, b, n), n);
	CHECK_PAT(b, n * PS, seed);
	CHECK(!munmap(b, n * PS));
	return T_PASS;
}

/*
 * A process migrates the whole device, forks a child that keeps the pages,
 * and then exits (@exits) or only unmaps them.  A new process migrating a
 * device-sized buffer must get every page: eviction reaches the folios in
 * the child, whose data stays intact.  Before, they could only be evicted
 * through their owner, and the new process got none (-ENOENT).
 */
static int orphan_case(bool exits)
{
	unsigned long n = cfg.info[0].capacity_pages;
	int ready[2], go[2], res[2], fd, status;
	struct hmm_dummy_stats base, s1;
	char x = 0;
	pid_t owner;

	if (n > ORPHAN_MAX_PAGES)
		SKIP("device of %lu pages, more than %u: load hmm_dummy with vram_mb=8 or less",
		     n, ORPHAN_MAX_PAGES);
	fd = hmm_open(0);
	CHECK(fd >= 0);
	STATS(fd, &base);
	CHECK(!pipe(ready) && !pipe(go) && !pipe(res));
	owner = fork();
	CHECK(owner >= 0);
	if (!owner) {
		close(ready[0]);
		close(go[1]);
		close(res[0]);
		x = orphan_owner(n, exits, ready[1], go[0], res[1]);
		/* Tell the test what failed if the ready byte is not out. */
		if (x && write(ready[1], &x, 1) != 1)
			_exit(2);
		_exit(x ? 3 : 0);
	}
	close(ready[1]);
	close(go[0]);
	close(res[1]);
	CHECK_EQ(read(ready[0], &x, 1), 1);
	CHECKF(!x, "owner: '%c' (o open/map, m migration, f fork, u munmap)",
	       x);
	if (exits) {
		CHECK_EQ(waitpid(owner, &status, 0), owner);
		CHECKF(WIFEXITED(status) && !WEXITSTATUS(status),
		       "owner: status %#x", status);
	}
	FX(take_whole_device(fd, n, 157, exits ? "exited" : "unmapped", &s1));
	CHECK_EQ(write(go[1], &x, 1), 1);
	CHECK_EQ(read(res[0], &x, 1), 1);
	CHECKF(!x, "child: its data changed");
	if (!exits) {
		CHECK_EQ(waitpid(owner, &status, 0), owner);
		CHECKF(WIFEXITED(status) && !WEXITSTATUS(status),
		       "owner: status %#x", status);
	}
	CHECK(!wait_stats_settle(0, &base, &s1, 5000));
	return T_PASS;
}

static int t_evict_owner_exited(void)
{
	return orphan_case(true);
}

static int t_evict_owner_unmapped(void)
{
	return orphan_case(false);
}

/* Threads of t_evict_busy_owner's owner: keep its mmap_lock busy. */
static int churn_stop;

static void *churn(void *arg)
{
	unsigned long *rounds = arg;
	void *q;

	while (!__atomic_load_n(&churn_stop, __ATOMIC_RELAXED)) {
		q = mmap(NULL, PS, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (q != MAP_FAILED)
			munmap(q, PS);
		(*rounds)++;
	}
	return NULL;
}

/* Owner side of t_evict_busy_owner: the exit status. */
static int busy_owner(unsigned long n, int ready, int go)
{
	unsigned long rounds[2] = {};
	struct hmm_dmirror_cmd c;
	int fd = hmm_open(0), i;
	char *a = map_anon(n * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	pthread_t th[2];
	char x = 0;

	if (fd < 0 || !a)
		return 2;
	pat_fill(a, n * PS, 158);
	if (hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, a, NULL, n, &c) ||
	    c.cpages != n)
		return 3;
	for (i = 0; i < 2; i++)
		if (pthread_create(&th[i], NULL, churn, &rounds[i]))
			return 2;
	if (write(ready, &x, 1) != 1 || read(go, &x, 1) != 1)
		return 2;
	__atomic_store_n(&churn_stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	/* Each thread must have run while the other process migrated. */
	if (!rounds[0] || !rounds[1])
		return 4;
	return pat_check(a, n * PS, 158) >= 0 ? 5 : 0;
}

/*
 * The owner of the whole device keeps its pages while two of its threads
 * mmap and munmap in a loop: its mmap_lock is almost never free for a
 * trylock.  A new process migrating a device-sized buffer must still get
 * every page (the migration waits for that lock outside its own, see
 * evict.c), and the owner's data must be intact.  Before, it got the few
 * pages the trylock let it evict and gave up.
 */
static int t_evict_busy_owner(void)
{
	unsigned long n = cfg.info[0].capacity_pages;
	int ready[2], go[2], fd, r, status;
	struct hmm_dummy_stats base, s1;
	char x = 0;
	pid_t owner;

	if (n > ORPHAN_MAX_PAGES)
		SKIP("device of %lu pages, more than %u: load hmm_dummy with vram_mb=8 or less",
		     n, ORPHAN_MAX_PAGES);
	fd = hmm_open(0);
	CHECK(fd >= 0);
	STATS(fd, &base);
	CHECK(!pipe(ready) && !pipe(go));
	owner = fork();
	CHECK(owner >= 0);
	if (!owner) {
		close(ready[0]);
		close(go[1]);
		_exit(busy_owner(n, ready[1], go[0]));
	}
	close(ready[1]);
	close(go[0]);
	CHECK_EQ(read(ready[0], &x, 1), 1);
	r = take_whole_device(fd, n, 159, "busy", &s1);
	/* The owner's verdict first: its data must be intact either way. */
	CHECK_EQ(write(go[1], &x, 1), 1);
	CHECK_EQ(waitpid(owner, &status, 0), owner);
	CHECKF(WIFEXITED(status) && !WEXITSTATUS(status),
	       "owner: status %#x (3 its migration, 4 a thread never ran, 5 its data changed)",
	       status);
	FX(r);
	CHECK(!wait_stats_settle(0, &base, &s1, 5000));
	return T_PASS;
}

/* Child of t_evict_mutual: fill most of the device, over and over. */
static int mutual_child(unsigned long n, unsigned int rounds, uint64_t seed)
{
	struct hmm_dmirror_cmd c;
	int fd = hmm_open(0), r;
	char *p = map_anon(n * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	unsigned int i;

	if (fd < 0 || !p)
		return 2;
	pat_fill(p, n * PS, seed);
	for (i = 0; i < rounds; i++) {
		r = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, NULL, n, &c);
		if (r && r != -ENOENT)
			return 3;
		/* Half of it back by CPU faults, racing the other side. */
		if (pat_check(p, n * PS / 2, seed) >= 0)
			return 5;
	}
	return pat_check(p, n * PS, seed) >= 0 ? 5 : 0;
}

/*
 * Two processes, each migrating three quarters of the device again and
 * again: each one's migrations evict the other's pages, under the other's
 * mmap_lock, at the same time.  No deadlock (the runner's timeout), no
 * lost data, every page back at the end.
 */
static int t_evict_mutual(void)
{
	unsigned long cap = cfg.info[0].capacity_pages, n = cap * 3 / 4;
	struct hmm_dummy_stats base, now;
	int fd = hmm_open(0), i, status, failed = 0;
	pid_t pid[2];

	CHECK(fd >= 0);
	STATS(fd, &base);
	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		CHECK(pid[i] >= 0);
		if (!pid[i])
			_exit(mutual_child(n, 4, 155 + i));
	}
	for (i = 0; i < 2; i++) {
		CHECK_EQ(waitpid(pid[i], &status, 0), pid[i]);
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			t_diag("child %d: status %#x (3 migrate error, 5 data)",
			       i, status);
			failed++;
		}
	}
	CHECK_EQ(failed, 0);
	STATS(fd, &now);
	t_diag("evictions +%lld, evicted pages +%lld",
	       DELTA(base, now, evictions),
	       DELTA(base, now, migrated_to_sys_evict));
	CHECK(DELTA(base, now, migrated_to_sys_evict) > 0);
	CHECK(!wait_stats_settle(0, &base, &now, 5000));
	return T_PASS;
}

static const struct tcase cases[] = {
	{ "eviction_after_mremap", t_evict_mremap, T_DUMMY | T_SLOW,
	  "device folios moved by mremap are still evicted, data intact" },
	{ "eviction_fork_orphan", t_evict_fork_orphan, T_DUMMY | T_SLOW,
	  "pages only a fork child maps are evicted through it, data intact" },
	{ "eviction_owner_exited", t_evict_owner_exited, T_DUMMY | T_SLOW,
	  "owner exited, a fork child keeps the device: a new process gets all of it" },
	{ "eviction_owner_unmapped", t_evict_owner_unmapped, T_DUMMY | T_SLOW,
	  "owner unmapped, a fork child keeps the device: a new process gets all of it" },
	{ "eviction_busy_owner", t_evict_busy_owner, T_DUMMY | T_SLOW,
	  "owner's mmap_lock busy: a new process still gets the whole device" },
	{ "eviction_mutual", t_evict_mutual, T_DUMMY | T_SLOW,
	  "two processes evicting each other's pages at once" },
};

const struct tgroup tests_evict = { cases, ARRAY_SIZE(cases) };
