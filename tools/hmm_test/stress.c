// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_test stress: several processes doing random operations on their own
 * memory with two devices (0 and 1, or with --coherent the two coherent
 * ones), each keeping a shadow copy of every byte.
 *
 * Operations: migrate to either device, migrate back, CPU reads and writes,
 * device reads and writes through the mirror, fork (the child checks and
 * changes its copy), mprotect toggling, MADV_DONTNEED, munmap and re-mmap of
 * sub-ranges, snapshots; half of the areas are THP-backed, and a quarter
 * of the migrations there take an aligned 2 MiB.  Every read is
 * checked against the shadow; a mismatch or an errno other than the one the
 * page states call for fails the run, printing the seed to replay it.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "hmm_test.h"

#define NAREAS		4
#define MAXRUN		64	/* pages per operation at most */
#define HPAGE		(2UL << 20)

enum pstate { P_RW, P_RO, P_NONE, P_UNMAPPED };

enum {
	OP_TO_DEV, OP_TO_SYS, OP_CPU_READ, OP_CPU_WRITE, OP_DEV_READ,
	OP_DEV_WRITE, OP_FORK, OP_MPROTECT, OP_DONTNEED, OP_MUNMAP, OP_REMAP,
	OP_SNAPSHOT, NR_OPS
};
static const char *const op_name[NR_OPS] = {
	"to_dev", "to_sys", "cpu_read", "cpu_write", "dev_read", "dev_write",
	"fork", "mprotect", "dontneed", "munmap", "remap", "snapshot",
};
/* Relative frequency of each operation. */
static const int op_weight[NR_OPS] = {
	20, 8, 12, 12, 10, 8, 1, 4, 3, 2, 3, 4,
};

struct area {
	char *p;
	size_t npages;
	bool thp;
	unsigned char *state;	/* enum pstate per page */
	char *shadow;
};

struct worker {
	int id;
	uint64_t seed, rng;
	struct area a[NAREAS];
	int fd[2];
	unsigned long ops[NR_OPS], enoent, enoent_thp, ebusy;
	unsigned long opno;
	char *buf;
};

static struct worker *W;
static int nworkers;
/* The two devices the workers use, and what SNAPSHOT says for their pages. */
static int stress_dev[2];
static uint8_t stress_local = HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL;
/* Operations done so far by each worker, shared with the parent. */
static unsigned long *done_ops;

static uint64_t rnd(struct worker *w)
{
	uint64_t x = w->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	w->rng = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static unsigned long rnd_below(struct worker *w, unsigned long n)
{
	return n ? rnd(w) % n : 0;
}

/*
 * A command, tried again while it fails with -EBUSY: the driver gives up
 * on a range after HMM_RANGE_DEFAULT_TIMEOUT (1 s) of invalidations
 * (khugepaged collapsing, compaction, reclaim), which under the debug
 * kernel's emulation can happen to a single-threaded process.  Every
 * command used here may be repeated; the retries are counted and shown.
 */
static int stress_cmd(struct worker *w, int fd, unsigned long req,
		      void *addr, void *ptr, unsigned long n,
		      struct hmm_dmirror_cmd *c)
{
	int r, tries = 0;

	while ((r = hmm_cmd(fd, req, addr, ptr, n, c)) == -EBUSY &&
	       ++tries < 10)
		w->ebusy++;
	return r;
}

static void fail(struct worker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

static void fail(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "stress: worker %d (seed %llu, op %lu): ", w->id,
		(unsigned long long)w->seed, w->opno);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	_exit(1);
}

static void fill_random(struct worker *w, char *p, size_t len)
{
	uint64_t *q = (uint64_t *)p;
	size_t i;

	for (i = 0; i < len / 8; i++)
		q[i] = rnd(w);
}

static void area_setup(struct worker *w, struct area *a, size_t npages,
		       bool thp)
{
	size_t size = npages * cfg.page_size;

	a->npages = npages;
	a->thp = thp;
	a->p = thp ? map_aligned(size, HPAGE) :
		     map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	a->state = calloc(npages, 1);
	a->shadow = malloc(size);
	if (!a->p || !a->state || !a->shadow)
		fail(w, "out of memory");
	if (thp)
		madvise(a->p, size, MADV_HUGEPAGE);
	fill_random(w, a->shadow, size);
	memcpy(a->p, a->shadow, size);
}

/* Compare [first, first+n) pages of @got with the shadow. */
static void check(struct worker *w, struct area *a, size_t first, size_t n,
		  const char *got, const char *what)
{
	size_t ps = cfg.page_size, i, b;

	for (i = 0; i < n; i++) {
		const char *g = got + i * ps;
		const char *s = a->shadow + (first + i) * ps;

		if (!memcmp(g, s, ps))
			continue;
		for (b = 0; b < ps && g[b] == s[b]; b++)
			;
		fail(w, "%s: MISMATCH at %p (area page %zu +%zu): got 0x%02x expected 0x%02x",
		     what, a->p + (first + i) * ps + b, first + i, b,
		     (uint8_t)g[b], (uint8_t)s[b]);
	}
}

/* First page in the range in a state of @mask (bit per pstate), or -1. */
static long first_in(struct area *a, size_t first, size_t n, unsigned int mask)
{
	size_t i;

	for (i = first; i < first + n; i++)
		if (mask & (1u << a->state[i]))
			return i;
	return -1;
}

#define M(s)	(1u << (s))

static void expect(struct worker *w, int got, int want, const char *op,
		   void *addr, size_t n)
{
	if (got == want)
		return;
	fail(w, "%s at %p, %zu pages: got %d (%s), expected %d (%s)", op,
	     addr, n, got, strerror(-got), want, strerror(-want));
}

static void set_state(struct area *a, size_t first, size_t n, int st)
{
	memset(a->state + first, st, n);
}

static void op_fork(struct worker *w, struct area *a)
{
	size_t ps = cfg.page_size, i;
	int status;
	pid_t pid = fork();

	if (pid < 0)
		fail(w, "fork: %s", strerror(errno));
	if (!pid) {
		int fd;

		/* The child checks its copy, changes it, migrates some. */
		for (i = 0; i < a->npages; i++)
			if (a->state[i] <= P_RO)
				check(w, a, i, 1, a->p + i * ps, "child read");
		fd = hmm_open(stress_dev[rnd_below(w, 2)]);
		for (i = 0; i < a->npages; i++) {
			if (a->state[i] != P_RW || rnd_below(w, 4))
				continue;
			fill_random(w, a->shadow + i * ps, ps);
			memcpy(a->p + i * ps, a->shadow + i * ps, ps);
		}
		if (fd >= 0) {
			for (i = 0; i < a->npages; i++) {
				if (a->state[i] > P_RO)
					continue;
				hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV,
					a->p + i * ps, NULL, 1, NULL);
			}
		}
		for (i = 0; i < a->npages; i++)
			if (a->state[i] <= P_RO)
				check(w, a, i, 1, a->p + i * ps,
				      "child read back");
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		fail(w, "fork child failed (status 0x%x)", status);
}

static void one_op(struct worker *w)
{
	size_t ps = cfg.page_size;
	struct area *a = &w->a[rnd_below(w, NAREAS)];
	size_t n = 1 + rnd_below(w, MAXRUN), first, i;
	int total = 0, op, r, dev = rnd_below(w, 2);
	struct hmm_dmirror_cmd c;
	long bad;
	char *addr;

	for (op = 0; op < NR_OPS; op++)
		total += op_weight[op];
	r = rnd_below(w, total);
	for (op = 0; r >= op_weight[op]; op++)
		r -= op_weight[op];
	if (n > a->npages)
		n = a->npages;
	first = rnd_below(w, a->npages - n + 1);
	/*
	 * In THP areas, a quarter of the migrations take a whole aligned
	 * 2 MiB: a THP (or hole) then moves as one large device folio
	 * where the kernel has device-private THP, and later operations
	 * split it.
	 */
	if (a->thp && (op == OP_TO_DEV || op == OP_TO_SYS) &&
	    !rnd_below(w, 4)) {
		n = HPAGE / ps;
		first = rnd_below(w, a->npages / n) * n;
	}
	addr = a->p + first * ps;
	w->ops[op]++;
	w->opno++;
	if (cfg.verbose > 1)
		printf("stress: worker seed %llu op %lu: %s area %ld pages %zu+%zu dev %d\n",
		       (unsigned long long)w->seed, (unsigned long)w->opno,
		       op_name[op], (long)(a - w->a), first, n, dev);

	switch (op) {
	case OP_TO_DEV:
		bad = first_in(a, first, n, M(P_NONE) | M(P_UNMAPPED));
		r = stress_cmd(w, w->fd[dev], HMM_DMIRROR_MIGRATE_TO_DEV, addr,
			    w->buf, n, &c);
		if (bad >= 0) {
			expect(w, r, -EINVAL, "MIGRATE_TO_DEV", addr, n);
		} else if (r == -ENOENT) {
			/* Some pages stayed (e.g. a THP that did not split). */
			int local = count_snapshot(w->fd[dev], addr, n,
					stress_local, 0xf0);

			w->enoent++;
			w->enoent_thp += a->thp;
			/*
			 * Another worker's migration may evict some of them
			 * between the command and the snapshot (only with a
			 * small device and 2 MiB migrations does it come to
			 * -ENOENT): then fewer are left, never more.
			 */
			if (cfg.dummy && (local > (int)c.cpages ||
					  (nworkers == 1 &&
					   local != (int)c.cpages)))
				fail(w, "MIGRATE_TO_DEV at %p, %zu pages: -ENOENT with cpages %llu but %d pages on the device",
				     addr, n, (unsigned long long)c.cpages,
				     local);
		} else {
			expect(w, r, 0, "MIGRATE_TO_DEV", addr, n);
			check(w, a, first, n, w->buf, "MIGRATE_TO_DEV view");
		}
		break;
	case OP_TO_SYS:
		bad = first_in(a, first, n, M(P_NONE) | M(P_UNMAPPED));
		r = stress_cmd(w, w->fd[dev], HMM_DMIRROR_MIGRATE_TO_SYS, addr,
			    NULL, n, &c);
		expect(w, r, bad >= 0 ? -EINVAL : 0, "MIGRATE_TO_SYS", addr, n);
		break;
	case OP_CPU_READ:
		for (i = first; i < first + n; i++)
			if (a->state[i] <= P_RO)
				check(w, a, i, 1, a->p + i * ps, "CPU read");
		break;
	case OP_CPU_WRITE:
		for (i = first; i < first + n; i++) {
			if (a->state[i] != P_RW)
				continue;
			if (rnd_below(w, 2)) {
				fill_random(w, a->shadow + i * ps, ps);
				memcpy(a->p + i * ps, a->shadow + i * ps, ps);
			} else {
				/* One word: a write fault on a device page. */
				size_t o = rnd_below(w, ps / 8) * 8;
				uint64_t v = rnd(w);

				memcpy(a->shadow + i * ps + o, &v, 8);
				*(volatile uint64_t *)(a->p + i * ps + o) = v;
			}
		}
		break;
	case OP_DEV_READ:
		bad = first_in(a, first, n, M(P_NONE) | M(P_UNMAPPED));
		r = stress_cmd(w, w->fd[dev], HMM_DMIRROR_READ, addr, w->buf, n, &c);
		expect(w, r, bad >= 0 ? -EFAULT : 0, "READ", addr, n);
		if (!r)
			check(w, a, first, n, w->buf, "device READ");
		break;
	case OP_DEV_WRITE:
		/* A failing write may have done part of it: fail on 1 page. */
		bad = first_in(a, first, n, M(P_RO) | M(P_NONE) |
			       M(P_UNMAPPED));
		if (bad >= 0) {
			addr = a->p + bad * ps;
			r = stress_cmd(w, w->fd[dev], HMM_DMIRROR_WRITE, addr,
				    w->buf, 1, &c);
			expect(w, r, a->state[bad] == P_RO ? -EPERM : -EFAULT,
			       "WRITE", addr, 1);
			break;
		}
		fill_random(w, w->buf, n * ps);
		r = stress_cmd(w, w->fd[dev], HMM_DMIRROR_WRITE, addr, w->buf, n,
			    &c);
		expect(w, r, 0, "WRITE", addr, n);
		memcpy(a->shadow + first * ps, w->buf, n * ps);
		break;
	case OP_FORK:
		op_fork(w, a);
		break;
	case OP_MPROTECT: {
		static const int prots[] = { PROT_READ | PROT_WRITE, PROT_READ,
					     PROT_NONE };
		int st = rnd_below(w, 4);

		/* Mostly back to read-write, so the others get work. */
		if (st == 3)
			st = P_RW;
		if (first_in(a, first, n, M(P_UNMAPPED)) >= 0)
			break;
		if (mprotect(addr, n * ps, prots[st]))
			fail(w, "mprotect: %s", strerror(errno));
		set_state(a, first, n, st);
		break;
	}
	case OP_DONTNEED:
		if (first_in(a, first, n, M(P_UNMAPPED)) >= 0)
			break;
		if (madvise(addr, n * ps, MADV_DONTNEED))
			fail(w, "madvise: %s", strerror(errno));
		memset(a->shadow + first * ps, 0, n * ps);
		break;
	case OP_MUNMAP:
		if (munmap(addr, n * ps))
			fail(w, "munmap: %s", strerror(errno));
		set_state(a, first, n, P_UNMAPPED);
		break;
	case OP_REMAP:
		/* Map back every hole of the area, fresh zero pages. */
		for (i = 0; i < a->npages; i++) {
			size_t j;

			if (a->state[i] != P_UNMAPPED)
				continue;
			for (j = i; j < a->npages &&
			     a->state[j] == P_UNMAPPED; j++)
				;
			if (mmap(a->p + i * ps, (j - i) * ps,
				 PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
				 -1, 0) != a->p + i * ps)
				fail(w, "re-mmap: %s", strerror(errno));
			if (a->thp)
				madvise(a->p + i * ps, (j - i) * ps,
					MADV_HUGEPAGE);
			set_state(a, i, j - i, P_RW);
			memset(a->shadow + i * ps, 0, (j - i) * ps);
			i = j;
		}
		break;
	case OP_SNAPSHOT:
		r = stress_cmd(w, w->fd[dev], HMM_DMIRROR_SNAPSHOT, addr, w->buf, n,
			    &c);
		expect(w, r, 0, "SNAPSHOT", addr, n);
		for (i = 0; i < n; i++) {
			uint8_t s = w->buf[i];
			int st = a->state[first + i];

			if ((st >= P_NONE) != (s == HMM_DMIRROR_PROT_ERROR))
				fail(w, "SNAPSHOT of page %zu (state %d): 0x%02x",
				     first + i, st, s);
			if (st == P_RO && (s & HMM_DMIRROR_PROT_WRITE))
				fail(w, "SNAPSHOT: read-only page %zu writable (0x%02x)",
				     first + i, s);
		}
		break;
	}
}

static int worker_main(struct worker *w, double end)
{
	size_t per = 0;
	int i;

	w->rng = w->seed * 0x9e3779b97f4a7c15ULL + 1;
	w->fd[0] = hmm_open(stress_dev[0]);
	w->fd[1] = hmm_open(stress_dev[1]);
	if (w->fd[0] < 0 || w->fd[1] < 0)
		fail(w, "open: %s", strerror(-(w->fd[0] < 0 ? w->fd[0] :
					       w->fd[1])));
	/* MAXRUN pages, or one 2 MiB migration in a THP area. */
	w->buf = malloc(HPAGE > MAXRUN * cfg.page_size ? HPAGE :
			MAXRUN * cfg.page_size);
	for (i = 0; i < NAREAS; i++) {
		per = (i & 1) ? 2 * HPAGE / cfg.page_size :
				(HPAGE + 37 * cfg.page_size) / cfg.page_size;
		area_setup(w, &w->a[i], per, i & 1);
	}
	while (now_sec() < end) {
		one_op(w);
		__atomic_store_n(&done_ops[w->id], w->opno, __ATOMIC_RELAXED);
		/* A full check now and then. */
		if (!(w->opno % 256))
			for (i = 0; i < NAREAS; i++) {
				size_t k;

				for (k = 0; k < w->a[i].npages; k++)
					if (w->a[i].state[k] <= P_RO)
						check(w, &w->a[i], k, 1,
						      w->a[i].p + k * cfg.page_size,
						      "periodic check");
			}
	}
	printf("worker %d (seed %llu): %lu ops:", w->id,
	       (unsigned long long)w->seed, w->opno);
	for (i = 0; i < NR_OPS; i++)
		printf(" %s %lu", op_name[i], w->ops[i]);
	printf(", -ENOENT %lu (%lu in THP areas), -EBUSY retried %lu\n",
	       w->enoent, w->enoent_thp, w->ebusy);
	fflush(stdout);
	return 0;
}

static void stress_line(const char *line)
{
	printf("stress: %s\n", line);
}

/* A progress line on stderr: the operations of all workers so far. */
static void stress_progress(double start, int seconds)
{
	unsigned long ops = 0;
	int i;

	for (i = 0; i < nworkers; i++)
		ops += __atomic_load_n(&done_ops[i], __ATOMIC_RELAXED);
	fprintf(stderr, "stress: %.0f s of %d, %lu operations so far\n",
		now_sec() - start, seconds, ops);
}

int cmd_stress(int argc, char **argv)
{
	int seconds = 30, procs = 4, i, failed = 0, status;
	uint64_t seed = (uint64_t)time(NULL);
	struct hmm_dummy_stats base[MAX_DEVICES];
	bool coherent = false;
	const struct opt opts[] = {
		OPT_NUM("seconds", OPT_INT, &seconds, 1, MAX_SECONDS),
		OPT_NUM("procs", OPT_INT, &procs, 1, MAX_PROCS),
		OPT_NUM("seed", OPT_U64, &seed, 0, UINT64_MAX),
		OPT_ARG("coherent", OPT_FLAG, &coherent),
		{ }
	};
	pid_t *pids, pid;
	double start, end, next;
	int left;

	i = parse_args(argc, argv,
		       "[--seconds N] [--procs N] [--seed N] [--coherent]",
		       opts, NULL);
	if (i != ARGS_OK)
		return i;
	hmm_probe(cfg.prefix);
	if (cfg.ndev < 1) {
		fprintf(stderr, "stress: no device %s0\n", cfg.prefix);
		return 1;
	}
	stress_dev[0] = 0;
	stress_dev[1] = cfg.ndev > 1 ? 1 : 0;
	if (coherent) {
		stress_dev[0] = coherent_dev(0);
		stress_dev[1] = coherent_dev(1) < 0 ? stress_dev[0] :
						      coherent_dev(1);
		stress_local = HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL;
		if (stress_dev[0] < 0) {
			fprintf(stderr, "stress: no coherent device (load hmm_dummy with spm_addr_dev0)\n");
			return 1;
		}
	}
	for (i = 0; cfg.dummy && i < cfg.ndev; i++)
		hmm_stats_dev(i, &base[i]);
	printf("stress: %d processes, %d s, seed %llu (replay: hmm_test stress --procs %d --seed %llu)\n",
	       procs, seconds, (unsigned long long)seed, procs,
	       (unsigned long long)seed);
	fflush(stdout);
	nworkers = procs;
	W = calloc(procs, sizeof(*W));
	pids = calloc(procs, sizeof(*pids));
	done_ops = mmap(NULL, procs * sizeof(*done_ops), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!W || !pids || done_ops == MAP_FAILED) {
		perror("stress: out of memory");
		return 1;
	}
	start = now_sec();
	end = start + seconds;
	for (i = 0; i < procs; i++) {
		W[i].id = i;
		W[i].seed = seed + i;
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("fork");
			return 1;
		}
		if (!pids[i])
			_exit(worker_main(&W[i], end));
	}
	/* Reap the workers as they end, with a progress line meanwhile. */
	next = start + PROGRESS_SEC;
	for (left = procs; left > 0; ) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid < 0) {
			perror("stress: waitpid");
			failed += left;
			break;
		}
		if (!pid) {
			sleep_ms(100);
			if (now_sec() >= next) {
				stress_progress(start, seconds);
				next += PROGRESS_SEC;
			}
			continue;
		}
		for (i = 0; i < procs && pids[i] != pid; i++)
			;
		if (i == procs)
			continue;
		left--;
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			printf("stress: worker %d (seed %llu) FAILED (status 0x%x)\n",
			       i, (unsigned long long)(seed + i), status);
			failed++;
		}
	}
	if (cfg.dummy)
		failed += report_unreturned_pages(base, stress_line);
	printf("stress: %s\n", failed ? "FAILED" : "OK");
	return failed ? 1 : 0;
}
