// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_test: peer owner groups (peer_*).  With hmm_dummy loaded with
 * peer_group=1 every device has the same pgmap owner: a device reads and
 * writes a peer's pages in place, SNAPSHOT reports them as remote device
 * memory, MIGRATE_TO_DEV moves them device to device and a CPU fault on
 * one comes back through the peer's own migrate_to_ram.  These cases skip,
 * saying so, on a module loaded without it (the parameter is read only:
 * the owner is fixed when the device memory is registered); the suite's
 * other two-device cases (migrate_peer, read_peer_pages, snapshot, ...)
 * are what shows the behaviour without it is unchanged.
 *
 * peer_race runs either way: two threads each migrating one buffer to its
 * own device over and over, the race real multi-GPU drivers serialise.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "hmm_test.h"

#define NEED_GROUP() do {						\
	if (!cfg.dummy)							\
		SKIP("not hmm_dummy");					\
	if (!hmm_peer_group())						\
		SKIP("peer_group=0 (load hmm_dummy with peer_group=1)");	\
} while (0)

/* Pages of [p, p + n pages) that the device behind @fd sees on its peer. */
static int n_remote(int fd, void *p, unsigned long n)
{
	return count_snapshot(fd, p, n, HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE,
			      0xf0);
}

/* Device 1 reads device 0's pages where they are: nothing migrates. */
static int t_peer_read_in_place(void)
{
	unsigned long npages = 64;
	struct hmm_dummy_stats a0, a1, b0, b1;
	struct fx f;

	NEED_GROUP();
	FX(fx_setup(&f, npages, FX_TWO, 70));
	FX_TO_DEV(&f);
	STATS(f.fd[0], &a0);
	STATS(f.fd[1], &a1);
	memset(f.m, 0, f.size);
	FX(fx_ok(&f, 1, HMM_DMIRROR_READ, 0, npages));
	FX_PAT_M(&f, 70);
	STATS(f.fd[0], &b0);
	STATS(f.fd[1], &b1);
	CHECK_EQ(n_local(f.fd[0], f.p, npages), npages);
	CHECK_EQ(n_remote(f.fd[1], f.p, npages), npages);
	CHECK_EQ(DELTA(a0, b0, in_use), 0);
	CHECK_EQ(DELTA(a0, b0, migrated_to_sys_fault), 0);
	CHECK_EQ(DELTA(a0, b0, cpu_faults), 0);
	CHECK_EQ(DELTA(a1, b1, allocations), 0);
	CHECK_EQ(DELTA(a1, b1, migrated_to_dev), 0);
	/* Again: from device 1's page table this time, still in place. */
	memset(f.m, 0, f.size);
	FX(fx_ok(&f, 1, HMM_DMIRROR_READ, 0, npages));
	FX_PAT_M(&f, 70);
	CHECK_EQ(n_local(f.fd[0], f.p, npages), npages);
	FX_PAT(&f, 70);
	return T_PASS;
}

/*
 * Device 1 writes device 0's pages in place; device 0 reads the new data,
 * and so does the CPU, faulting the pages back through device 0.
 */
static int t_peer_write_in_place(void)
{
	unsigned long npages = 64;
	struct hmm_dummy_stats a0, b0;
	struct fx f;

	NEED_GROUP();
	FX(fx_setup(&f, npages, FX_TWO, 71));
	FX_TO_DEV(&f);
	pat_fill(f.m, f.size, 72);
	FX(fx_ok(&f, 1, HMM_DMIRROR_WRITE, 0, npages));
	CHECK_EQ(n_local(f.fd[0], f.p, npages), npages);
	memset(f.m, 0, f.size);
	FX(fx_ok(&f, 0, HMM_DMIRROR_READ, 0, npages));
	FX_PAT_M(&f, 72);
	STATS(f.fd[0], &a0);
	FX_PAT(&f, 72);
	STATS(f.fd[0], &b0);
	CHECK_EQ(DELTA(a0, b0, migrated_to_sys_fault), npages);
	CHECK_EQ(DELTA(a0, b0, in_use), -(long long)npages);
	CHECK(DELTA(a0, b0, cpu_faults) > 0);
	return T_PASS;
}

/* Each device sees its own pages as LOCAL and the other's as REMOTE. */
static int t_peer_snapshot_remote(void)
{
	unsigned long npages = 32, h = npages / 2;
	struct fx f;

	NEED_GROUP();
	FX(fx_setup(&f, npages, FX_TWO, 73));
	FX(fx_ok(&f, 0, HMM_DMIRROR_MIGRATE_TO_DEV, 0, h));
	FX(fx_ok(&f, 1, HMM_DMIRROR_MIGRATE_TO_DEV, h, h));
	FX(fx_snapshot_split(&f, 0, h, HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL,
			     HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE));
	FX(fx_snapshot_split(&f, 1, h, HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE,
			     HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL));
	FX_PAT(&f, 73);
	return T_PASS;
}

/*
 * MIGRATE_TO_DEV to device 1 of a range with pages on device 0, on device
 * 1 already and in system memory: device 0's move device to device, device
 * 1's stay put (never migrated onto the device they are on), the system
 * pages move.
 */
static int t_peer_migrate_dev_to_dev(void)
{
	unsigned long npages = 96, t = npages / 3;
	struct hmm_dummy_stats a0, a1, b0, b1;
	struct fx f;

	NEED_GROUP();
	FX(fx_setup(&f, npages, FX_TWO, 74));
	FX(fx_ok(&f, 0, HMM_DMIRROR_MIGRATE_TO_DEV, 0, t));
	FX(fx_ok(&f, 1, HMM_DMIRROR_MIGRATE_TO_DEV, t, t));
	STATS(f.fd[0], &a0);
	STATS(f.fd[1], &a1);
	memset(f.m, 0, f.size);
	FX(fx_ok(&f, 1, HMM_DMIRROR_MIGRATE_TO_DEV, 0, npages));
	FX_PAT_M(&f, 74);
	STATS(f.fd[0], &b0);
	STATS(f.fd[1], &b1);
	CHECK_EQ(n_local(f.fd[1], f.p, npages), npages);
	CHECK_EQ(n_local(f.fd[0], f.p, npages), 0);
	CHECK_EQ(DELTA(a1, b1, migrated_to_dev), 2 * t);
	CHECK_EQ(DELTA(a1, b1, allocations), 2 * t);
	CHECK_EQ(DELTA(a1, b1, in_use), 2 * t);
	CHECK_EQ(DELTA(a0, b0, page_free_calls), t);
	CHECK_EQ(DELTA(a0, b0, in_use), -(long long)t);
	/* Nothing left to move: device 1 again moves nothing. */
	FX(fx_ok(&f, 1, HMM_DMIRROR_MIGRATE_TO_DEV, 0, npages));
	STATS(f.fd[1], &a1);
	CHECK_EQ(DELTA(b1, a1, allocations), 0);
	/* And back to device 0. */
	FX(fx_ok(&f, 0, HMM_DMIRROR_MIGRATE_TO_DEV, 0, npages));
	CHECK_EQ(n_local(f.fd[0], f.p, npages), npages);
	FX_PAT(&f, 74);
	return T_PASS;
}

/*
 * Pages of both devices interleaved, every fault window holding some of
 * each: a CPU walk brings each page back through its own device's
 * migrate_to_ram, and each device counts exactly its own pages.
 */
static int t_peer_cpu_fault(void)
{
	unsigned long npages = 128, i, on1 = 0;
	struct hmm_dummy_stats a0, a1, b0, b1;
	struct fx f;

	NEED_GROUP();
	FX(fx_setup(&f, npages, FX_TWO, 75));
	FX_TO_DEV(&f);
	for (i = 0; i < npages; i += 8) {
		FX(fx_ok(&f, 1, HMM_DMIRROR_MIGRATE_TO_DEV, i, 3));
		on1 += 3;
	}
	CHECK_EQ(n_local(f.fd[1], f.p, npages), on1);
	CHECK_EQ(n_local(f.fd[0], f.p, npages), npages - on1);
	STATS(f.fd[0], &a0);
	STATS(f.fd[1], &a1);
	FX_PAT(&f, 75);
	STATS(f.fd[0], &b0);
	STATS(f.fd[1], &b1);
	CHECK_EQ(DELTA(a0, b0, migrated_to_sys_fault), npages - on1);
	CHECK_EQ(DELTA(a1, b1, migrated_to_sys_fault), on1);
	CHECK_EQ(DELTA(a0, b0, in_use), -(long long)(npages - on1));
	CHECK_EQ(DELTA(a1, b1, in_use), -(long long)on1);
	CHECK(DELTA(a0, b0, cpu_faults) > 0);
	CHECK(DELTA(a1, b1, cpu_faults) > 0);
	CHECK_EQ(n_local(f.fd[0], f.p, npages), 0);
	CHECK_EQ(n_local(f.fd[1], f.p, npages), 0);
	return T_PASS;
}

/*
 * A process with pages on both devices, each device's page table holding
 * the other's too, exits: every page of both comes back through the free
 * callback.
 */
static int t_peer_exit(void)
{
	unsigned long npages = 128, h = npages / 2;
	struct hmm_dummy_stats a0, a1, b0, b1;
	int status;
	pid_t pid;

	NEED_GROUP();
	CHECK_RET(hmm_stats_dev(0, &a0), 0);
	CHECK_RET(hmm_stats_dev(1, &a1), 0);
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		struct fx f;
		int r = fx_setup(&f, npages, FX_TWO, 76);

		if (r == T_PASS)
			r = fx_ok(&f, 0, HMM_DMIRROR_MIGRATE_TO_DEV, 0, h);
		if (r == T_PASS)
			r = fx_ok(&f, 1, HMM_DMIRROR_MIGRATE_TO_DEV, h, h);
		/* Each device maps the peer's pages in its page table. */
		if (r == T_PASS)
			r = fx_ok(&f, 0, HMM_DMIRROR_READ, 0, npages);
		if (r == T_PASS)
			r = fx_ok(&f, 1, HMM_DMIRROR_READ, 0, npages);
		if (r == T_PASS && pat_check(f.m, f.size, 76) >= 0)
			r = T_FAIL;
		/* Exit with the files and the pages still there. */
		_exit(r);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == T_PASS,
	       "child status 0x%x", status);
	CHECKF(!wait_stats_settle(0, &a0, &b0, 5000),
	       "device 0: in_use %llu (was %llu)",
	       (unsigned long long)b0.in_use, (unsigned long long)a0.in_use);
	CHECKF(!wait_stats_settle(1, &a1, &b1, 5000),
	       "device 1: in_use %llu (was %llu)",
	       (unsigned long long)b1.in_use, (unsigned long long)a1.in_use);
	CHECK_EQ(DELTA(a0, b0, allocations), h);
	CHECK_EQ(DELTA(a1, b1, allocations), h);
	return T_PASS;
}

/*
 * peer_race: one thread per device, migrating the same buffer to it, for
 * RACE_SECONDS (HMM_TEST_RACE_SECONDS in the environment: longer runs for
 * the figures in Documentation/hmm_dummy.rst).
 */
#define RACE_SECONDS	3
/* No single MIGRATE_TO_DEV may take longer than this: progress is bounded. */
#define RACE_MAX_CALL	10.0

struct racer {
	int fd;
	char *p;
	char *buf;		/* its read-back */
	unsigned long npages;
	double stop;		/* now_sec() to stop at */
	unsigned long calls, whole, partial, pages;
	double max_call;
	int err;		/* first unexpected errno, or a bad read-back */
	bool corrupt;
};

static void *racer_fn(void *arg)
{
	struct racer *r = arg;
	struct hmm_dmirror_cmd c;

	while (now_sec() < r->stop) {
		double t0 = now_sec(), dt;
		int ret;

		ret = hmm_cmd(r->fd, HMM_DMIRROR_MIGRATE_TO_DEV, r->p, r->buf,
			      r->npages, &c);
		dt = now_sec() - t0;
		if (dt > r->max_call)
			r->max_call = dt;
		r->calls++;
		if (ret == -ENOENT) {
			/* The other device took some back meanwhile. */
			r->partial++;
		} else if (ret) {
			r->err = ret;
			break;
		} else {
			r->whole++;
			/* All of it was here: the read-back is the data. */
			if (pat_check(r->buf, r->npages * cfg.page_size,
				      77) >= 0) {
				r->corrupt = true;
				break;
			}
		}
		if (c.cpages <= r->npages)
			r->pages += c.cpages;
	}
	return NULL;
}

/*
 * Two devices migrating the same range at once, repeatedly: every call
 * returns in bounded time, each device gets the whole range now and then,
 * and the data is intact throughout and at the end.  The rates (calls and
 * pages per second) go to the diagnostics; Documentation/hmm_dummy.rst has
 * them with and without peer_group.
 */
static int t_peer_race(void)
{
	const char *env = getenv("HMM_TEST_RACE_SECONDS");
	double secs = env ? atof(env) : RACE_SECONDS;
	unsigned long npages = 256, i;
	struct racer r[2];
	pthread_t th[2];
	double t0, dt;
	struct fx f;
	int n0, n1;

	if (!cfg.dummy)
		SKIP("not hmm_dummy");
	if (secs <= 0)
		SKIP("HMM_TEST_RACE_SECONDS=%s", env);
	if (!cfg.info[0].peer_migration)
		SKIP("peer_migration=0: no device takes the other's pages");
	FX(fx_setup(&f, npages, FX_TWO, 77));
	t0 = now_sec();
	for (i = 0; i < 2; i++) {
		r[i] = (struct racer){
			.fd = f.fd[i], .p = f.p, .npages = npages,
			.stop = t0 + secs,
		};
		r[i].buf = malloc(f.size);
		CHECK(r[i].buf);
	}
	for (i = 0; i < 2; i++)
		CHECK(!pthread_create(&th[i], NULL, racer_fn, &r[i]));
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	dt = now_sec() - t0;
	for (i = 0; i < 2; i++) {
		t_diag("peer_group=%d device %lu: %lu calls (%.0f/s), %lu whole, %lu partial, %.0f pages/s, longest call %.3f s",
		       hmm_peer_group(), i, r[i].calls, r[i].calls / dt,
		       r[i].whole, r[i].partial, r[i].pages / dt,
		       r[i].max_call);
		free(r[i].buf);
	}
	for (i = 0; i < 2; i++) {
		CHECKF(!r[i].err, "device %lu: MIGRATE_TO_DEV %d (%s)", i,
		       r[i].err, strerror(-r[i].err));
		CHECKF(!r[i].corrupt, "device %lu: read-back corrupt", i);
		CHECKF(r[i].max_call < RACE_MAX_CALL,
		       "device %lu: a call took %.1f s", i, r[i].max_call);
		CHECKF(r[i].calls > 0, "device %lu: no call done", i);
	}
	CHECKF(dt < secs + RACE_MAX_CALL, "the race took %.1f s", dt);
	n0 = n_local(f.fd[0], f.p, npages);
	n1 = n_local(f.fd[1], f.p, npages);
	CHECK(n0 >= 0 && n1 >= 0 && (unsigned long)(n0 + n1) <= npages);
	FX_PAT(&f, 77);
	return T_PASS;
}

static const struct tcase cases[] = {
	{ "peer_read_in_place", t_peer_read_in_place, T_DUMMY | T_TWO,
	  "peer_group: device READ of a peer's pages leaves them there" },
	{ "peer_write_in_place", t_peer_write_in_place, T_DUMMY | T_TWO,
	  "peer_group: device WRITE of a peer's pages in place, CPU sees it" },
	{ "peer_snapshot_remote", t_peer_snapshot_remote, T_DUMMY | T_TWO,
	  "peer_group: SNAPSHOT reports the peer's pages DEV_PRIVATE_REMOTE" },
	{ "peer_migrate_dev_to_dev", t_peer_migrate_dev_to_dev,
	  T_DUMMY | T_TWO,
	  "peer_group: MIGRATE_TO_DEV moves peer pages device to device" },
	{ "peer_cpu_fault", t_peer_cpu_fault, T_DUMMY | T_TWO,
	  "peer_group: CPU faults bring each page back through its device" },
	{ "peer_exit", t_peer_exit, T_DUMMY | T_TWO,
	  "peer_group: exit with pages on both devices frees them all" },
	{ "peer_race", t_peer_race, T_DUMMY | T_TWO | T_SLOW,
	  "two devices migrating one buffer at once: progress, data intact" },
};

const struct tgroup tests_peer = { cases, ARRAY_SIZE(cases) };
