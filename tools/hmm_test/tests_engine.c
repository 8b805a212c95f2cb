// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_test: the copy engine.  Every copy the device makes is a job that
 * completes with a fence; these cases use the module's test knobs
 * (engine_latency_us, engine_fail_jobs, engine_fail_kinds) to open the
 * window a real engine has and to fail jobs, and check what a user relies
 * on: a failed copy leaves the data where it was and says so, a CPU access
 * during a copy waits and then sees the right data, and no device write
 * lands after an invalidation (munmap, MADV_DONTNEED, mprotect, fork) has
 * returned.  They pass with copy_engine=async and with copy_engine=sync.
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
#include <sys/wait.h>

#include "hmm_test.h"

#define PS	(cfg.page_size)

/* Job kinds, as the module's engine_fail_kinds mask has them. */
#define KIND_TO_DEV	1
#define KIND_TO_SYS	2
#define KIND_ACCESS	4

/* Time one job of a race case takes. */
#define RACE_LATENCY_MS	400

/* The knobs back to their defaults: no latency, no failure pending. */
static void engine_reset(void)
{
	hmm_param_set("engine_latency_us", 0);
	hmm_param_set("engine_fail_jobs", 0);
	hmm_param_set("engine_fail_kinds", 15);
}

/* Start of every case: the knobs exist (the module has an engine), reset. */
static int engine_begin(void)
{
	char mode[16] = "";

	if (access(HMM_PARAMS "engine_fail_jobs", W_OK))
		return t_skip("no copy engine knobs in " HMM_PARAMS);
	read_file_str(HMM_PARAMS "copy_engine", mode, sizeof(mode));
	mode[strcspn(mode, "\n")] = 0;
	t_diag("copy_engine=%s", mode);
	engine_reset();
	return T_PASS;
}

/* The next @n jobs of @kinds fail. */
static int inject(unsigned int kinds, unsigned int n)
{
	CHECK_RET(hmm_param_set("engine_fail_kinds", kinds), 0);
	CHECK_RET(hmm_param_set("engine_fail_jobs", n), 0);
	return T_PASS;
}

/* The failure was consumed by the command meant to hit it. */
static int injected_all(void)
{
	CHECKF(hmm_param_get("engine_fail_jobs") == 0,
	       "engine_fail_jobs still %ld", hmm_param_get("engine_fail_jobs"));
	return T_PASS;
}

/* MIGRATE_TO_DEV whose copy fails: -EIO, nothing moved, data in place. */
static int t_engine_fail_to_dev(void)
{
	struct hmm_dummy_stats a, b;
	struct fx f;
	int r;

	FX(engine_begin());
	FX(fx_setup(&f, 64, FX_ALIGNED, 201));
	STATS(f.fd[0], &a);
	FX(inject(KIND_TO_DEV, 1));
	r = fx_cmd(&f, 0, HMM_DMIRROR_MIGRATE_TO_DEV, 0, f.npages);
	engine_reset();
	STATS(f.fd[0], &b);
	CHECKF(r == -EIO, "MIGRATE_TO_DEV with a failing copy: %d, want -EIO",
	       r);
	FX(injected_all());
	CHECK_EQ(DELTA(a, b, engine_failures), 1);
	CHECK_EQ(DELTA(a, b, migrated_to_dev), 0);
	CHECK_EQ(n_local(f.fd[0], f.p, f.npages), 0);
	FX_PAT(&f, 201);
	/* The destinations went back to the allocator at once. */
	CHECK_EQ(DELTA(a, b, allocations), DELTA(a, b, page_free_calls));
	/* And the next try works. */
	FX_TO_DEV(&f);
	FX_READ(&f);
	FX_PAT_M(&f, 201);
	fx_teardown(&f);
	return T_PASS;
}

/* MIGRATE_TO_SYS whose copy fails: -EIO, the pages stay on the device. */
static int t_engine_fail_to_sys(void)
{
	struct hmm_dummy_stats a, b;
	struct fx f;
	int r;

	FX(engine_begin());
	FX(fx_setup(&f, 64, FX_ALIGNED, 202));
	FX_TO_DEV(&f);
	STATS(f.fd[0], &a);
	FX(inject(KIND_TO_SYS, 1));
	r = fx_cmd(&f, 0, HMM_DMIRROR_MIGRATE_TO_SYS, 0, f.npages);
	engine_reset();
	STATS(f.fd[0], &b);
	CHECKF(r == -EIO, "MIGRATE_TO_SYS with a failing copy: %d, want -EIO",
	       r);
	FX(injected_all());
	CHECK_EQ(DELTA(a, b, engine_failures), 1);
	CHECK_EQ(DELTA(a, b, migrated_to_sys_ioctl), 0);
	CHECK_EQ(n_local(f.fd[0], f.p, f.npages), (int)f.npages);
	FX_READ(&f);
	FX_PAT_M(&f, 202);
	FX_TO_SYS(&f);
	FX_PAT(&f, 202);
	fx_teardown(&f);
	return T_PASS;
}

/*
 * A CPU fault whose copy back fails: SIGBUS for the faulting process, as a
 * device error; the page stays on the device with its data.
 */
static int t_engine_fail_fault(void)
{
	struct hmm_dummy_stats a, b;
	struct fx f;
	int status;
	pid_t pid;

	FX(engine_begin());
	FX(fx_setup(&f, 16, 0, 203));
	FX_TO_DEV(&f);
	STATS(f.fd[0], &a);
	FX(inject(KIND_TO_SYS, 1));
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		volatile char c = f.p[3 * PS];

		(void)c;
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	engine_reset();
	STATS(f.fd[0], &b);
	CHECKF(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS,
	       "CPU read of a page whose copy back fails: status %#x, want SIGBUS",
	       status);
	FX(injected_all());
	CHECK_EQ(DELTA(a, b, engine_failures), 1);
	CHECK_EQ(n_local(f.fd[0], f.p, f.npages), (int)f.npages);
	/* The next fault brings it back with its data. */
	FX_PAT(&f, 203);
	fx_teardown(&f);
	return T_PASS;
}

/* Device READ and WRITE whose jobs fail: -EIO, nothing read or written. */
static int t_engine_fail_access(void)
{
	struct hmm_dummy_stats a, b;
	struct fx f;
	int r;

	FX(engine_begin());
	FX(fx_setup(&f, 32, 0, 204));
	STATS(f.fd[0], &a);
	memset(f.m, 0, f.size);
	FX(inject(KIND_ACCESS, 1));
	r = fx_cmd(&f, 0, HMM_DMIRROR_READ, 0, f.npages);
	CHECKF(r == -EIO, "READ with a failing job: %d, want -EIO", r);
	FX(injected_all());
	pat_fill(f.m, f.size, 205);
	FX(inject(KIND_ACCESS, 1));
	r = fx_cmd(&f, 0, HMM_DMIRROR_WRITE, 0, f.npages);
	engine_reset();
	STATS(f.fd[0], &b);
	CHECKF(r == -EIO, "WRITE with a failing job: %d, want -EIO", r);
	FX(injected_all());
	CHECK_EQ(DELTA(a, b, engine_failures), 2);
	FX_PAT(&f, 204);
	FX_READ(&f);
	FX_PAT_M(&f, 204);
	fx_teardown(&f);
	return T_PASS;
}

/*
 * Wait until a copy job of @fd's device is in flight: the window of a race
 * case is open (the job sleeps RACE_LATENCY_MS before copying, on the
 * engine or, with copy_engine=sync, in the submitter).  Polling rather
 * than sleeping a fixed time keeps the cases right on a loaded machine.
 */
static int wait_job_queued(int fd)
{
	struct hmm_dummy_stats st;
	double t0 = now_sec();

	do {
		CHECK_RET(hmm_stats(fd, &st), 0);
		if (st.engine_in_flight)
			return T_PASS;
		sleep_ms(1);
	} while (now_sec() - t0 < 10);
	return t_fail(__FILE__, __LINE__, "no copy job in flight after 10 s");
}

struct bg_cmd {
	pthread_t thread;
	int fd;
	unsigned long req;
	void *addr;
	void *buf;
	unsigned long npages;
	int ret;
};

static void *bg_cmd_run(void *arg)
{
	struct bg_cmd *c = arg;

	c->ret = hmm_cmd(c->fd, c->req, c->addr, c->buf, c->npages, NULL);
	return NULL;
}

static int bg_start(struct bg_cmd *c, int fd, unsigned long req, void *addr,
		    void *buf, unsigned long npages)
{
	c->fd = fd;
	c->req = req;
	c->addr = addr;
	c->buf = buf;
	c->npages = npages;
	c->ret = -EINPROGRESS;
	CHECK_RET(pthread_create(&c->thread, NULL, bg_cmd_run, c), 0);
	return T_PASS;
}

/*
 * A CPU write to a page while the engine copies it to the device: the
 * fault sleeps until the migration is done (the page is locked and
 * unmapped for the whole copy), then brings the page back with the data
 * the engine copied, and the write lands on top of it.
 */
static int t_engine_cpu_write_during_copy(void)
{
	const uint64_t val = 0x5eed0f0ec0de0001ull;
	struct bg_cmd c;
	double t0, waited;
	struct fx f;
	char *pg;

	FX(engine_begin());
	FX(fx_setup(&f, 16, 0, 206));
	CHECK_RET(hmm_param_set("engine_latency_us", RACE_LATENCY_MS * 1000), 0);
	FX(bg_start(&c, f.fd[0], HMM_DMIRROR_MIGRATE_TO_DEV, f.p, NULL,
		    f.npages));
	FX(wait_job_queued(f.fd[0]));
	pg = f.p + 5 * PS;
	t0 = now_sec();
	*(volatile uint64_t *)pg = val;
	waited = now_sec() - t0;
	pthread_join(c.thread, NULL);
	engine_reset();
	t_diag("the CPU write waited %.0f ms for the copy", waited * 1000);
	/*
	 * MIGRATE_TO_DEV ends with a read-back of the range, which says
	 * -ENOENT for a page not in device memory.  The write's fault takes
	 * its page back as soon as the migration is finalized, so it may be
	 * back before the read-back looks (seen on 6.12, copy_engine=sync),
	 * or not: both are right.
	 */
	CHECKF(c.ret == 0 || c.ret == -ENOENT,
	       "MIGRATE_TO_DEV: %d, want 0 or -ENOENT", c.ret);
	CHECK_EQ(*(uint64_t *)pg, val);
	/* The rest of the page is what the engine copied there and back. */
	CHECK_PAT_OFF(pg + 8, PS - 8, 206, 5 * PS + 8);
	CHECK_PAT(f.p, 5 * PS, 206);
	CHECK_PAT_OFF(pg + PS, f.size - 6 * PS, 206, 6 * PS);
	fx_teardown(&f);
	return T_PASS;
}

/*
 * A CPU read of a page while the engine copies it back from the device:
 * the page is under migration until the copy is done, so the read waits
 * and then sees the data.  A migration that mapped the new system page
 * before its job had filled it would show the read whatever the page held
 * before.
 */
static int t_engine_cpu_read_during_to_sys(void)
{
	struct bg_cmd c;
	struct fx f;
	uint64_t v;
	char *pg;

	FX(engine_begin());
	FX(fx_setup(&f, 16, 0, 210));
	FX_TO_DEV(&f);
	CHECK_RET(hmm_param_set("engine_latency_us", RACE_LATENCY_MS * 1000), 0);
	FX(bg_start(&c, f.fd[0], HMM_DMIRROR_MIGRATE_TO_SYS, f.p, NULL,
		    f.npages));
	FX(wait_job_queued(f.fd[0]));
	pg = f.p + 9 * PS;
	v = *(volatile uint64_t *)pg;
	pthread_join(c.thread, NULL);
	engine_reset();
	CHECK_RET(c.ret, 0);
	CHECK_PAT_OFF(&v, sizeof(v), 210, 9 * PS);
	FX_PAT(&f, 210);
	fx_teardown(&f);
	return T_PASS;
}

enum inval { INVAL_MUNMAP, INVAL_DONTNEED, INVAL_MPROTECT, INVAL_FORK };

/*
 * Where the memory is read after the invalidation: a memfd's pages (munmap
 * and MADV_DONTNEED leave them in the page cache, so a late device write
 * would show there), or the mapping itself (mprotect keeps it readable).
 */
static int read_back(int mfd, const char *p, char *out, size_t len)
{
	if (mfd >= 0)
		CHECK(pread(mfd, out, len, 0) == (ssize_t)len);
	else
		memcpy(out, p, len);
	return T_PASS;
}

/*
 * A device WRITE is in flight (its job sleeps RACE_LATENCY_MS) when the
 * CPU side invalidates the range.  The invalidation must wait for the job:
 * once it has returned, the memory must not change any more.  Read right
 * after the invalidation returned and again once the WRITE is over: both
 * must be the same, and (the job had started) hold what the device wrote.
 * fork: the child reads its copy, in which a late write into the pages it
 * shares with the parent would show.
 */
static int inval_during_write(enum inval how)
{
	const unsigned long npages = 16;
	size_t size = npages * PS;
	char *p, *m, *s1, *s2;
	int fd, mfd = -1, status;
	struct bg_cmd c;
	pid_t pid = -1;

	FX(engine_begin());
	fd = hmm_open(0);
	CHECK(fd >= 0);
	m = malloc(size);
	s1 = malloc(size);
	s2 = malloc(size);
	CHECK(m && s1 && s2);
	if (how == INVAL_MUNMAP || how == INVAL_DONTNEED) {
		mfd = memfd_create("hmm_test_inval", MFD_CLOEXEC);
		CHECK(mfd >= 0);
		CHECK_RET(ftruncate(mfd, size), 0);
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, mfd,
			 0);
		CHECK(p != MAP_FAILED);
	} else {
		p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
		CHECK(p);
	}
	pat_fill(p, size, 207);
	pat_fill(m, size, 208);
	CHECK_RET(hmm_param_set("engine_latency_us", RACE_LATENCY_MS * 1000), 0);
	FX(bg_start(&c, fd, HMM_DMIRROR_WRITE, p, m, npages));
	FX(wait_job_queued(fd));
	switch (how) {
	case INVAL_MUNMAP:
		CHECK_RET(munmap(p, size), 0);
		break;
	case INVAL_DONTNEED:
		CHECK_RET(madvise(p, size, MADV_DONTNEED), 0);
		break;
	case INVAL_MPROTECT:
		CHECK_RET(mprotect(p, size, PROT_READ), 0);
		break;
	case INVAL_FORK:
		pid = fork();
		CHECK(pid >= 0);
		if (!pid) {
			memcpy(s1, p, size);
			sleep_ms(RACE_LATENCY_MS + 200);
			_exit(memcmp(s1, p, size) ? 3 :
			      pat_check(s1, size, 208) >= 0 ? 4 : 0);
		}
		break;
	}
	if (how != INVAL_FORK)
		FX(read_back(mfd, p, s1, size));
	pthread_join(c.thread, NULL);
	engine_reset();
	if (how == INVAL_FORK) {
		CHECK(waitpid(pid, &status, 0) == pid);
		CHECKF(WIFEXITED(status) && WEXITSTATUS(status) != 3,
		       "the child's memory changed after fork returned: a device write landed after the invalidation");
		CHECKF(WIFEXITED(status) && !WEXITSTATUS(status),
		       "fork child: status %#x (4: not the device's data)",
		       status);
	} else {
		FX(read_back(mfd, p, s2, size));
		CHECKF(!memcmp(s1, s2, size),
		       "memory changed after the invalidation returned: a device write landed late");
	}
	/* The job had started, so the invalidation waited for it to finish. */
	CHECK_RET(c.ret, 0);
	if (how != INVAL_FORK)
		CHECK_PAT(s1, size, 208);
	if (how != INVAL_MUNMAP)
		munmap(p, size);
	if (mfd >= 0)
		close(mfd);
	free(m);
	free(s1);
	free(s2);
	close(fd);
	return T_PASS;
}

static int t_engine_inval_munmap(void)
{
	return inval_during_write(INVAL_MUNMAP);
}

static int t_engine_inval_dontneed(void)
{
	return inval_during_write(INVAL_DONTNEED);
}

static int t_engine_inval_mprotect(void)
{
	return inval_during_write(INVAL_MPROTECT);
}

static int t_engine_inval_fork(void)
{
	return inval_during_write(INVAL_FORK);
}

/*
 * Device memory freed under a job.  A device READ of pages in device
 * memory is in flight (its job sleeps RACE_LATENCY_MS) when the process
 * unmaps them: their folios are freed, but the job holds the pages, so
 * the allocator must not get them back before the job is done (a real
 * engine would otherwise copy from, or into, memory handed out again).
 * With the driver as it is, munmap's invalidation waits for the job first,
 * so nothing is freed under it and no free may be deferred; this case is
 * what keeps the hold honest should a path ever stop waiting (the
 * mutation pair no-inval-wait and no-inval-wait+free-under-job).
 */
static int t_engine_free_during_read(void)
{
	const unsigned long npages = 16;
	size_t size = npages * PS;
	struct hmm_dummy_stats a, b, c2;
	long long frees;
	struct bg_cmd c;
	bool held;
	char *p, *m;
	int fd;

	FX(engine_begin());
	fd = hmm_open(0);
	CHECK(fd >= 0);
	m = malloc(size);
	CHECK(m);
	p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	CHECK(p);
	pat_fill(p, size, 211);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, NULL, npages,
			  NULL), 0);
	STATS(fd, &a);
	CHECK(a.in_use >= npages);
	CHECK_RET(hmm_param_set("engine_latency_us", RACE_LATENCY_MS * 1000), 0);
	FX(bg_start(&c, fd, HMM_DMIRROR_READ, p, m, npages));
	FX(wait_job_queued(fd));
	CHECK_RET(munmap(p, size), 0);
	STATS(fd, &b);
	held = b.engine_in_flight;
	t_diag("munmap returned with %s", held ? "the READ still in flight" :
						"the READ done");
	/* Freed folios, but pages the job holds: none back yet. */
	if (held)
		CHECKF(b.in_use == a.in_use,
		       "%llu device pages in use while the READ holds %lu (%llu before): pages went back under the job",
		       (unsigned long long)b.in_use, npages,
		       (unsigned long long)a.in_use);
	pthread_join(c.thread, NULL);
	engine_reset();
	STATS(fd, &c2);
	CHECK_RET(c.ret, 0);
	CHECK_PAT(m, size, 211);
	CHECK_EQ(c2.in_use, a.in_use - npages);
	/*
	 * Each freed page went back once, by folio_free or by the job.  The
	 * job may have ended between munmap and the stats read, so when the
	 * READ was done by then the count can be either.
	 */
	frees = DELTA(a, c2, page_frees_after_job);
	t_diag("page_frees_after_job +%lld", frees);
	CHECK(frees == 0 || frees == (long long)npages);
	if (held)
		CHECK_EQ(frees, npages);
	free(m);
	close(fd);
	return T_PASS;
}

/*
 * One process of engine_shared: @rounds round trips of 64 pages through
 * both devices, each with its own data (pattern @seed + round).  Returns
 * 0, or the step that failed.
 */
static int shared_child(int seed, int rounds)
{
	const unsigned long npages = 64;
	size_t size = npages * PS;
	int fd0 = hmm_open(0), fd1 = hmm_open(1);
	char *p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	char *m = malloc(size);
	int i, s;

	if (fd0 < 0 || fd1 < 0 || !p || !m)
		return 2;
	for (i = 0; i < rounds; i++) {
		s = seed + i;
		pat_fill(p, size, s);
		if (hmm_cmd(fd0, HMM_DMIRROR_MIGRATE_TO_DEV, p, NULL, npages,
			    NULL))
			return 3;
		if (hmm_cmd(fd0, HMM_DMIRROR_READ, p, m, npages, NULL) ||
		    pat_check(m, size, s) >= 0)
			return 4;
		if (hmm_cmd(fd0, HMM_DMIRROR_MIGRATE_TO_SYS, p, NULL, npages,
			    NULL))
			return 5;
		if (hmm_cmd(fd1, HMM_DMIRROR_MIGRATE_TO_DEV, p, NULL, npages,
			    NULL))
			return 6;
		/* The CPU faults it back through device 1's engine. */
		if (pat_check(p, size, s) >= 0)
			return 7;
	}
	return 0;
}

/*
 * Two processes and two devices at once, every job on a 2 ms engine: each
 * device's engine runs both processes' jobs, interleaved in its queue, and
 * each process's data must survive every round trip (device 0, its READ,
 * back, device 1, a CPU fault back).  A job signalled out of order, or one
 * process's copy landing in the other's pages, shows as a wrong pattern.
 */
static int t_engine_shared(void)
{
	const int rounds = 12;
	struct hmm_dummy_stats a0, a1, b0, b1;
	int fd0, fd1, status, i;
	pid_t pid[2];

	FX(engine_begin());
	if (cfg.ndev < 2)
		return t_skip("one device");
	fd0 = hmm_open(0);
	fd1 = hmm_open(1);
	CHECK(fd0 >= 0 && fd1 >= 0);
	STATS(fd0, &a0);
	STATS(fd1, &a1);
	CHECK_RET(hmm_param_set("engine_latency_us", 2000), 0);
	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		CHECK(pid[i] >= 0);
		if (!pid[i])
			_exit(shared_child(212 + 20 * i, rounds));
	}
	for (i = 0; i < 2; i++) {
		CHECK(waitpid(pid[i], &status, 0) == pid[i]);
		CHECKF(WIFEXITED(status) && !WEXITSTATUS(status),
		       "process %d: status %#x (3 MIGRATE_TO_DEV, 4 READ, 5 MIGRATE_TO_SYS, 6 to device 1, 7 the data after the fault)",
		       i, status);
	}
	engine_reset();
	STATS(fd0, &b0);
	STATS(fd1, &b1);
	t_diag("jobs: device 0 +%lld, device 1 +%lld",
	       DELTA(a0, b0, engine_jobs), DELTA(a1, b1, engine_jobs));
	/* Each process makes at least two jobs a round on each device. */
	CHECK(DELTA(a0, b0, engine_jobs) >= 2 * 2 * rounds);
	CHECK(DELTA(a1, b1, engine_jobs) >= 2 * 2 * rounds);
	CHECK_EQ(DELTA(a0, b0, engine_failures) + DELTA(a1, b1, engine_failures),
		 0);
	close(fd0);
	close(fd1);
	return T_PASS;
}

/*
 * A process killed while its migrations' jobs are queued: the jobs finish
 * on their own, every device page comes back (the runner checks after the
 * case), and the device works on.
 */
static int t_engine_kill_with_jobs(void)
{
	const unsigned long npages = 4096;
	int status, i;
	struct fx f;
	pid_t pid;

	FX(engine_begin());
	CHECK_RET(hmm_param_set("engine_latency_us", 20000), 0);
	for (i = 0; i < 3; i++) {
		pid = fork();
		CHECK(pid >= 0);
		if (!pid) {
			int fd = hmm_open(0);
			char *p = map_anon(npages * PS, PROT_READ | PROT_WRITE,
					   MAP_PRIVATE);

			if (fd < 0 || !p)
				_exit(2);
			memset(p, 1, npages * PS);
			for (;;) {
				hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, NULL,
					npages, NULL);
				hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_SYS, p, NULL,
					npages, NULL);
			}
		}
		sleep_ms(100 + 70 * i);
		kill(pid, SIGKILL);
		CHECK(waitpid(pid, &status, 0) == pid);
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	}
	engine_reset();
	FX(fx_setup(&f, 32, 0, 209));
	FX_TO_DEV(&f);
	FX_PAT(&f, 209);
	fx_teardown(&f);
	return T_PASS;
}

static const struct tcase cases[] = {
	{ "engine_fail_to_dev", t_engine_fail_to_dev, T_DUMMY,
	  "MIGRATE_TO_DEV whose copy job fails: -EIO, nothing moved, data intact" },
	{ "engine_fail_to_sys", t_engine_fail_to_sys, T_DUMMY,
	  "MIGRATE_TO_SYS whose copy job fails: -EIO, pages stay on the device" },
	{ "engine_fail_fault", t_engine_fail_fault, T_DUMMY,
	  "CPU fault whose copy job fails: SIGBUS, the page stays on the device" },
	{ "engine_fail_access", t_engine_fail_access, T_DUMMY,
	  "device READ/WRITE whose job fails: -EIO, nothing read or written" },
	{ "engine_cpu_write_during_copy", t_engine_cpu_write_during_copy, T_DUMMY,
	  "a CPU write during the copy to the device waits, then lands on the copied data" },
	{ "engine_cpu_read_during_to_sys", t_engine_cpu_read_during_to_sys, T_DUMMY,
	  "a CPU read during the copy back from the device waits, then sees the data" },
	{ "engine_inval_munmap", t_engine_inval_munmap, T_DUMMY,
	  "munmap during a device WRITE: no write lands after it returned" },
	{ "engine_inval_dontneed", t_engine_inval_dontneed, T_DUMMY,
	  "MADV_DONTNEED during a device WRITE: no write lands after it returned" },
	{ "engine_inval_mprotect", t_engine_inval_mprotect, T_DUMMY,
	  "mprotect during a device WRITE: no write lands after it returned" },
	{ "engine_inval_fork", t_engine_inval_fork, T_DUMMY,
	  "fork during a device WRITE: the child never sees a late write" },
	{ "engine_free_during_read", t_engine_free_during_read, T_DUMMY,
	  "device memory freed under a device READ: no page goes back before the job is done" },
	{ "engine_shared", t_engine_shared, T_DUMMY,
	  "two processes and two devices at once on slow engines: every byte where it belongs" },
	{ "engine_kill_with_jobs", t_engine_kill_with_jobs, T_DUMMY,
	  "processes killed with copy jobs queued: everything comes back" },
};

const struct tgroup tests_engine = { cases, ARRAY_SIZE(cases) };
