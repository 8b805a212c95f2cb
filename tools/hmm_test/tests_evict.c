// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_test: eviction through the owning process (drivers/hmm_dummy/evict.c).
 *
 * hmm_dummy evicts a device folio by migrating it back in the address space
 * it was migrated into, at the address it was migrated to, under that
 * process's mmap_lock (never by pfn, which is not safe against the process
 * exiting).  These cases move the folio after the migration (mremap), leave
 * it mapped only by another process (fork, then munmap in the owner), and
 * make two processes evict each other's pages at the same time.
 */
#include <errno.h>
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
 * Eviction cannot reach them through their owner; what the owner migrates
 * next gets what is free (all of it, or -ENOENT with cpages telling how
 * much, the pages it reports being on the device), the child's data stays
 * intact and every page comes back once the child exits.
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
	CHECKF(r == 0 || r == -ENOENT, "%d (%s)", r, strerror(-r));
	CHECK_EQ(n_local(fd, b, nb), c.cpages);
	CHECK(s1.in_use <= cfg.info[0].capacity_pages);
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
	  "pages only a fork child maps: no loss, no leak, partial migration" },
	{ "eviction_mutual", t_evict_mutual, T_DUMMY | T_SLOW,
	  "two processes evicting each other's pages at once" },
};

const struct tgroup tests_evict = { cases, ARRAY_SIZE(cases) };
