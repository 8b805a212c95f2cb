// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_test bench: migration throughput of hmm_dummy against the kernel's
 * test_hmm (when /dev/hmm_dmirror0 exists) and against memcpy.
 *
 * Paths (the numbering of issue 11):
 *   P1 to_dev   MIGRATE_TO_DEV (with the read-back the ABI requires)
 *   P2 to_sys   MIGRATE_TO_SYS
 *   P3 fault    CPU fault-back, a sequential touch of one byte per page
 *   P4 p4_*     two processes migrating at once, to one device and to two
 *   P5 p5_*     migration into a device smaller than the working set
 * and memcpy of the same size in the same process, the ceiling.  Every
 * buffer is either THP-backed (2 MiB aligned, MADV_HUGEPAGE) or 4 KiB pages
 * (MADV_NOHUGEPAGE).  Each figure is the median of --reps runs, with their
 * minimum and maximum.  Under emulation the absolute numbers mean little;
 * the ratios within one run are the figures to quote.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "hmm_test.h"

#define MAX_SIZES	16
#define MAX_REPS	15
#define MAX_BENCH_SIZE	(1024ULL << 30)
#define THP_SIZE	(2UL << 20)

/* Median, minimum and maximum of a set of runs. */
struct spread {
	double med, min, max;
};

enum { B_DEV, B_SYS, B_FAULT, B_CPY, B_N };
static const char *const bpath[B_N] = { "to_dev", "to_sys", "fault",
					 "memcpy" };

struct bres {
	struct spread v[B_N];			/* MiB/s */
	double us_per_page, us_per_fault;	/* fault back, medians */
	bool ok;
};

struct target {
	const char *name;
	const char *prefix;	/* device nodes prefix0, prefix1 */
	bool dummy;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n & 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static struct spread spread_of(double *v, int n)
{
	struct spread s;

	s.med = median(v, n);	/* sorts */
	s.min = v[0];
	s.max = v[n - 1];
	return s;
}

static double mibs(size_t size, double secs)
{
	return secs > 0 ? (size / 1048576.0) / secs : 0;
}

static double ratio(double a, double b)
{
	return b > 0 ? a / b : 0;
}

static int open_dev(const char *prefix, int idx)
{
	char path[128];

	snprintf(path, sizeof(path), "%s%d", prefix, idx);
	return open(path, O_RDWR | O_CLOEXEC);
}

/*
 * A buffer of @size bytes, 2 MiB aligned; with @thp the kernel is asked for
 * huge pages, without it for none (whatever the system-wide THP mode).
 */
static char *bench_map(size_t size, bool thp)
{
	char *p = map_aligned(size, THP_SIZE);

	if (p && madvise(p, size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE)) {
		munmap(p, size);
		return NULL;
	}
	return p;
}

static int bench_one(const struct target *t, size_t size, int reps, bool thp,
		     struct bres *res)
{
	double v[B_N][MAX_REPS], v_pp[MAX_REPS], v_pf[MAX_REPS];
	size_t ps = cfg.page_size, npages = size / ps, i;
	struct hmm_dummy_stats s0, s1;
	struct hmm_dmirror_cmd c;
	char *p, *view, *dst;
	int fd, r = 0, k, b;

	memset(res, 0, sizeof(*res));
	fd = open_dev(t->prefix, 0);
	if (fd < 0)
		return -errno;
	p = bench_map(size, thp);
	view = bench_map(size, thp);
	dst = bench_map(size, thp);
	if (!p || !view || !dst) {
		r = -ENOMEM;
		goto fail;
	}
	memset(view, 1, size);
	memset(dst, 1, size);
	for (k = 0; k < reps; k++) {
		volatile char sink = 0;
		double t0;

		pat_fill(p, size, k + 1);
		t0 = now_sec();
		r = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, view, npages,
			    &c);
		v[B_DEV][k] = mibs(size, now_sec() - t0);
		if (r) {
			fprintf(stderr, "bench: %s MIGRATE_TO_DEV %zu MiB: %s\n",
				t->name, size >> 20, strerror(-r));
			goto fail;
		}
		t0 = now_sec();
		r = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_SYS, p, NULL, npages,
			    &c);
		v[B_SYS][k] = mibs(size, now_sec() - t0);
		if (r) {
			fprintf(stderr, "bench: %s MIGRATE_TO_SYS: %s\n",
				t->name, strerror(-r));
			goto fail;
		}
		r = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, view, npages,
			    &c);
		if (r)
			goto fail;
		if (t->dummy)
			hmm_stats(fd, &s0);
		t0 = now_sec();
		for (i = 0; i < size; i += ps)
			sink += p[i];
		t0 = now_sec() - t0;
		(void)sink;
		v[B_FAULT][k] = mibs(size, t0);
		v_pp[k] = t0 * 1e6 / npages;
		if (t->dummy) {
			hmm_stats(fd, &s1);
			v_pf[k] = s1.cpu_faults > s0.cpu_faults ?
				  t0 * 1e6 / (s1.cpu_faults - s0.cpu_faults) : 0;
		} else {
			/* test_hmm moves one page (or one THP) per fault. */
			v_pf[k] = v_pp[k];
		}
		if (pat_check(p, size, k + 1) >= 0) {
			fprintf(stderr, "bench: %s: data mismatch\n", t->name);
			r = -EIO;
			goto fail;
		}
		t0 = now_sec();
		memcpy(dst, p, size);
		v[B_CPY][k] = mibs(size, now_sec() - t0);
	}
	for (b = 0; b < B_N; b++)
		res->v[b] = spread_of(v[b], reps);
	res->us_per_page = median(v_pp, reps);
	res->us_per_fault = median(v_pf, reps);
	res->ok = true;
fail:
	if (p)
		munmap(p, size);
	if (view)
		munmap(view, size);
	if (dst)
		munmap(dst, size);
	close(fd);
	return r ? -EIO : 0;
}

/* Per child of a P4 run: the MIGRATE_TO_DEV interval, or an error. */
struct p4_slot {
	double t0, t1;
	int err;
};

/*
 * One P4 child: migrates its own @size buffer to device @dev of @t when the
 * parent says so, records when it started and ended, then brings it back
 * (untimed) and checks the data.
 */
static void p4_child(const struct target *t, int dev, size_t size, bool thp,
		     int ready, int go, struct p4_slot *slot)
{
	size_t npages = size / cfg.page_size;
	char *p = bench_map(size, thp), *view = bench_map(size, thp);
	int fd = open_dev(t->prefix, dev), r;
	char c = 0;

	slot->err = fd < 0 ? -errno : !p || !view ? -ENOMEM : 0;
	if (!slot->err) {
		pat_fill(p, size, dev + 7);
		memset(view, 1, size);
	}
	if (write(ready, &c, 1) != 1 || read(go, &c, 1) != 1)
		_exit(1);
	if (slot->err)
		_exit(1);
	slot->t0 = now_sec();
	r = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, view, npages, NULL);
	slot->t1 = now_sec();
	if (!r)
		r = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_SYS, p, NULL, npages,
			    NULL);
	if (!r && pat_check(p, size, dev + 7) >= 0)
		r = -EIO;
	slot->err = r;
	_exit(r ? 1 : 0);
}

/*
 * Aggregate MIGRATE_TO_DEV throughput of @nproc processes started together,
 * process i on device devs[i]: all bytes over the time from the first start
 * to the last end.  Returns MiB/s, or a negative errno.
 */
static double p4_run(const struct target *t, const int *devs, int nproc,
		     size_t size, bool thp)
{
	struct p4_slot *slots;
	int ready[2], go[2], i, st, bad = 0;
	double t0 = 1e300, t1 = 0;
	pid_t pid[2];
	char c;

	slots = mmap(NULL, sizeof(*slots) * nproc, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (slots == MAP_FAILED)
		return -ENOMEM;
	if (pipe(ready) || pipe(go)) {
		munmap(slots, sizeof(*slots) * nproc);
		return -errno;
	}
	for (i = 0; i < nproc; i++) {
		pid[i] = fork();
		if (pid[i] == 0) {
			close(ready[0]);
			close(go[1]);
			p4_child(t, devs[i], size, thp, ready[1], go[0],
				 &slots[i]);
		}
		if (pid[i] < 0)
			bad = 1;
	}
	close(ready[1]);
	close(go[0]);
	for (i = 0; i < nproc; i++)
		if (pid[i] > 0 && read(ready[0], &c, 1) != 1)
			bad = 1;
	for (i = 0; i < nproc; i++)
		if (write(go[1], &c, 1) != 1)
			bad = 1;
	close(go[1]);
	close(ready[0]);
	for (i = 0; i < nproc; i++) {
		if (pid[i] <= 0)
			continue;
		if (waitpid(pid[i], &st, 0) != pid[i] || !WIFEXITED(st) ||
		    WEXITSTATUS(st) || slots[i].err)
			bad = 1;
		if (slots[i].t0 < t0)
			t0 = slots[i].t0;
		if (slots[i].t1 > t1)
			t1 = slots[i].t1;
	}
	munmap(slots, sizeof(*slots) * nproc);
	return bad ? -EIO : mibs(size * nproc, t1 - t0);
}

enum { P4_ONE, P4_SAME, P4_TWO, P4_N };
static const char *const p4path[P4_N] = { "p4_one", "p4_same", "p4_two" };

/* Statistics of devices 0 and 1 (as far as there are); 0 or -EIO. */
static int p4_stats(struct hmm_dummy_stats *st)
{
	int d;

	for (d = 0; d < 2 && d < cfg.ndev; d++)
		if (hmm_stats_dev(d, &st[d]))
			return -EIO;
	return 0;
}

/*
 * The allocator lock of hmm_dummy's devices over one P4 mode: every
 * allocation and every free of a device page takes it, so if two processes
 * slowed each other down there, it shows as waiting.  Prints how often it
 * was taken and found held, and the time waited as a share of the time the
 * processes ran (the mode's wall time, each rep and all of it, times the
 * number of processes): the lock is no bottleneck while that share is small.
 */
static void p4_lock_report(const char *mode, const char *path, int nproc,
			   const struct hmm_dummy_stats *a,
			   const struct hmm_dummy_stats *b, double wall)
{
	unsigned long long taken = 0, cont = 0, wait = 0;
	int d;

	for (d = 0; d < 2 && d < cfg.ndev; d++) {
		taken += DELTA(a[d], b[d], alloc_lock_acquired);
		cont += DELTA(a[d], b[d], alloc_lock_contended);
		wait += DELTA(a[d], b[d], alloc_lock_wait_ns);
	}
	printf("P4 lock %-3s %-8s taken %10llu  contended %8llu (%.2f%%)  waited %9.3f ms = %.2f%% of %d x %.2f s\n",
	       mode, path, taken, cont, taken ? 100.0 * cont / taken : 0,
	       wait / 1e6, wall > 0 ? 100.0 * wait / 1e9 / (wall * nproc) : 0,
	       nproc, wall);
}

/*
 * P4: one process alone, two on device 0, one each on devices 0 and 1 (when
 * there are two).  Returns 0 or -errno; @out gets the three spreads (the
 * last one zero without a second device).
 */
static int bench_p4(const struct target *t, size_t size, int reps, bool thp,
		    bool two_devs, struct spread *out)
{
	static const int devs[P4_N][2] = { { 0, 0 }, { 0, 0 }, { 0, 1 } };
	static const int nproc[P4_N] = { 1, 2, 2 };
	struct hmm_dummy_stats a[2] = {}, b[2] = {};
	double v[MAX_REPS], start;
	int m, k;

	memset(out, 0, sizeof(*out) * P4_N);
	for (m = 0; m < P4_N; m++) {
		if (m == P4_TWO && !two_devs)
			break;
		if (t->dummy && p4_stats(a))
			return -EIO;
		start = now_sec();
		for (k = 0; k < reps; k++) {
			v[k] = p4_run(t, devs[m], nproc[m], size, thp);
			if (v[k] < 0) {
				fprintf(stderr, "bench: %s %s failed\n",
					t->name, p4path[m]);
				return -EIO;
			}
		}
		out[m] = spread_of(v, reps);
		if (!t->dummy)
			continue;
		if (p4_stats(b))
			return -EIO;
		p4_lock_report(thp ? "thp" : "4k", p4path[m], nproc[m], a, b,
			       now_sec() - start);
	}
	return 0;
}

/*
 * P5 for hmm_dummy: a working set of twice the device's capacity migrated
 * in quarter-capacity pieces, so that from the fifth piece on every
 * migration first evicts (the eviction-bound rate), against the same number
 * of pieces migrated into an empty device (each brought back, untimed, before
 * the next).  Both in pages/s; @evicted gets the pages evicted per run.
 */
static int bench_p5(const struct target *t, int reps, bool thp,
		    struct spread *press, struct spread *free_,
		    double *evicted)
{
	size_t cap = cfg.info[0].capacity_pages * cfg.page_size;
	size_t piece = cap / 4, ws = 2 * cap, npp = piece / cfg.page_size, off;
	double vp[MAX_REPS], vf[MAX_REPS], ev[MAX_REPS], t0, busy;
	struct hmm_dummy_stats s0, s1;
	char *p = NULL, *view = NULL;
	int fd, k, r = 0;

	fd = open_dev(t->prefix, 0);
	if (fd < 0)
		return -errno;
	if (piece < THP_SIZE || piece % THP_SIZE) {
		fprintf(stderr, "bench: p5: capacity %zu MiB is too small\n",
			cap >> 20);
		r = -EINVAL;
		goto out;
	}
	p = bench_map(ws, thp);
	view = bench_map(piece, thp);
	if (!p || !view) {
		r = -ENOMEM;
		goto out;
	}
	for (k = 0; k < reps && !r; k++) {
		pat_fill(p, ws, k + 3);
		/* Pressure: pieces in order, the device fills, then evicts. */
		r = hmm_stats(fd, &s0);
		t0 = now_sec();
		for (off = 0; !r && off < ws; off += piece)
			r = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p + off,
				    view, npp, NULL);
		t0 = now_sec() - t0;
		if (!r)
			r = hmm_stats(fd, &s1);
		vp[k] = t0 > 0 ? ws / cfg.page_size / t0 : 0;
		ev[k] = s1.migrated_to_sys_evict - s0.migrated_to_sys_evict;
		if (!r)
			r = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_SYS, p, NULL,
				    ws / cfg.page_size, NULL);
		if (!r && pat_check(p, ws, k + 3) >= 0)
			r = -EIO;
		/* No pressure: each piece goes back before the next. */
		busy = 0;
		for (off = 0; !r && off < ws; off += piece) {
			t0 = now_sec();
			r = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p + off,
				    view, npp, NULL);
			busy += now_sec() - t0;
			if (!r)
				r = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_SYS,
					    p + off, NULL, npp, NULL);
		}
		vf[k] = busy > 0 ? ws / cfg.page_size / busy : 0;
	}
	if (r) {
		fprintf(stderr, "bench: %s p5: %s\n", t->name, strerror(-r));
		goto out;
	}
	*press = spread_of(vp, reps);
	*free_ = spread_of(vf, reps);
	*evicted = median(ev, reps);
out:
	if (p)
		munmap(p, ws);
	if (view)
		munmap(view, piece);
	close(fd);
	return r;
}

#define FAULT_WINDOW_PARAM "/sys/module/hmm_dummy/parameters/fault_window"

static int write_fault_window(int w)
{
	FILE *f = fopen(FAULT_WINDOW_PARAM, "w");
	int r;

	if (!f)
		return -errno;
	r = fprintf(f, "%d\n", w) < 0;
	r |= fclose(f) != 0;
	return r ? -EINVAL : 0;
}

/*
 * Sequential CPU-fault-back throughput of hmm_dummy for each fault_window
 * in @list (comma separated): the measurement behind the parameter's
 * default.  The parameter is restored afterwards.
 */
static int bench_windows(const char *list, size_t size, int reps)
{
	char path[64], buf[32], *copy, *tok, *save = NULL;
	size_t ps = cfg.page_size, npages = size / ps, i;
	int fd, old = 16, r = 0, k;
	FILE *f;

	f = fopen(FAULT_WINDOW_PARAM, "r");
	if (!f || !fgets(buf, sizeof(buf), f)) {
		fprintf(stderr, "bench: %s: %s\n", FAULT_WINDOW_PARAM,
			strerror(errno));
		if (f)
			fclose(f);
		return 1;
	}
	fclose(f);
	old = atoi(buf);
	snprintf(path, sizeof(path), "%s0", cfg.prefix);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	printf("fault_window sweep: %zu MiB, sequential touch, %d reps, median\n",
	       size >> 20, reps);
	printf("%-8s %12s %10s %12s\n", "window", "fault MiB/s", "us/page",
	       "pages/fault");
	copy = strdup(list);
	for (tok = strtok_r(copy, ",", &save); tok && !r;
	     tok = strtok_r(NULL, ",", &save)) {
		double v[MAX_REPS], pp[MAX_REPS];
		int w = atoi(tok);

		r = write_fault_window(w);
		if (r) {
			fprintf(stderr, "bench: fault_window %d: %s\n", w,
				strerror(-r));
			break;
		}
		for (k = 0; k < reps && !r; k++) {
			struct hmm_dummy_stats s0, s1;
			volatile char sink = 0;
			/* 4 KiB pages: a THP comes back in one fault. */
			char *p = bench_map(size, false);
			double t0;

			if (!p) {
				r = -ENOMEM;
				break;
			}
			pat_fill(p, size, w);
			r = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, NULL,
				    npages, NULL);
			if (!r)
				r = hmm_stats(fd, &s0);
			t0 = now_sec();
			for (i = 0; !r && i < size; i += ps)
				sink += p[i];
			t0 = now_sec() - t0;
			(void)sink;
			if (!r)
				r = hmm_stats(fd, &s1);
			if (!r && pat_check(p, size, w) >= 0)
				r = -EIO;
			v[k] = mibs(size, t0);
			pp[k] = s1.cpu_faults > s0.cpu_faults ?
				(double)npages / (s1.cpu_faults - s0.cpu_faults) :
				0;
			munmap(p, size);
		}
		if (r) {
			fprintf(stderr, "bench: fault_window %d: %s\n", w,
				strerror(-r));
			break;
		}
		printf("%-8d %12.1f %10.2f %12.1f\n", w, median(v, reps),
		       size / 1048576.0 / median(v, reps) * 1e6 / npages,
		       median(pp, reps));
	}
	free(copy);
	write_fault_window(old);
	close(fd);
	return r ? 1 : 0;
}

static void csv_row(FILE *f, const char *mode, const char *path, size_t size,
		    const char *dev, const struct spread *s, double vs_cpy,
		    double vs_th)
{
	if (!f)
		return;
	fprintf(f, "%s,%s,%zu,%s,%.2f,%.2f,%.2f,", mode, path, size, dev,
		s->med, s->min, s->max);
	if (vs_cpy > 0)
		fprintf(f, "%.4f", vs_cpy);
	fputc(',', f);
	if (vs_th > 0)
		fprintf(f, "%.4f", vs_th);
	fputc('\n', f);
}

static void print_spread(const struct spread *s)
{
	printf(" %8.1f [%7.1f-%7.1f]", s->med, s->min, s->max);
}

/* P1-P3 and memcpy for every size and target, in one THP mode. */
static int bench_sizes(const struct target *tg, int ntg, const size_t *sizes,
		       int nsz, int reps, bool thp, FILE *f)
{
	static struct bres res[2][MAX_SIZES];
	const char *mode = thp ? "thp" : "4k";
	int i, s, b, fail = 0;

	printf("\n[%s] P1-P3, %d reps: median [min-max] MiB/s\n", mode, reps);
	printf("%-8s %-10s %26s %26s %26s %26s %8s %8s\n", "size", "device",
	       "to_dev", "to_sys", "fault", "memcpy", "us/page", "us/flt");
	for (s = 0; s < nsz; s++) {
		for (i = 0; i < ntg; i++) {
			struct bres *r = &res[i][s];

			if (bench_one(&tg[i], sizes[s], reps, thp, r)) {
				fail = 1;
				printf("%-5zuMiB %-10s failed\n", sizes[s] >> 20,
				       tg[i].name);
				continue;
			}
			printf("%-5zuMiB %-10s", sizes[s] >> 20, tg[i].name);
			for (b = 0; b < B_N; b++)
				print_spread(&r->v[b]);
			printf(" %8.2f %8.2f\n", r->us_per_page,
			       r->us_per_fault);
			fflush(stdout);
		}
	}
	printf("\n[%s] ratios, medians (hmm_dummy / test_hmm, hmm_dummy / memcpy)\n",
	       mode);
	printf("%-8s %10s %10s %10s %12s %12s %12s\n", "size", "to_dev/th",
	       "to_sys/th", "fault/th", "to_dev/cpy", "to_sys/cpy",
	       "fault/cpy");
	for (s = 0; s < nsz; s++) {
		struct bres *a = &res[0][s], *o = &res[ntg - 1][s];
		bool th = ntg > 1 && a->ok && o->ok;

		if (!a->ok)
			continue;
		printf("%-5zuMiB ", sizes[s] >> 20);
		for (b = 0; b < B_CPY; b++) {
			if (th)
				printf("%10.2f ", ratio(a->v[b].med,
							o->v[b].med));
			else
				printf("%10s ", "-");
		}
		for (b = 0; b < B_CPY; b++)
			printf(" %11.3f", ratio(a->v[b].med, a->v[B_CPY].med));
		printf("\n");
	}
	for (s = 0; s < nsz; s++) {
		for (i = 0; i < ntg; i++) {
			struct bres *r = &res[i][s], *o = &res[ntg - 1][s];
			bool th = ntg > 1 && i == 0 && o->ok;

			if (!r->ok)
				continue;
			for (b = 0; b < B_N; b++)
				csv_row(f, mode, bpath[b], sizes[s], tg[i].name,
					&r->v[b],
					b == B_CPY ? 0 :
					ratio(r->v[b].med, r->v[B_CPY].med),
					th && b != B_CPY ?
					ratio(r->v[b].med, o->v[b].med) : 0);
		}
	}
	return fail;
}

static int run_p4(const struct target *tg, int ntg, size_t size, int reps,
		  bool thp, FILE *f)
{
	const char *mode = thp ? "thp" : "4k";
	struct spread s[2][P4_N];
	int i, m, fail = 0;

	printf("\n[%s] P4: %zu MiB MIGRATE_TO_DEV per process, %d reps: aggregate MiB/s median [min-max]\n",
	       mode, size >> 20, reps);
	for (i = 0; i < ntg; i++) {
		bool two = tg[i].dummy ? cfg.ndev > 1 :
			   !access("/dev/hmm_dmirror1", F_OK);

		if (bench_p4(&tg[i], size, reps, thp, two, s[i])) {
			fail = 1;
			continue;
		}
		printf("%-10s", tg[i].name);
		for (m = 0; m < P4_N; m++) {
			if (!s[i][m].med)
				continue;
			printf("  %s", p4path[m]);
			print_spread(&s[i][m]);
		}
		printf("  same/one %.2f two/one %.2f\n",
		       ratio(s[i][P4_SAME].med, s[i][P4_ONE].med),
		       ratio(s[i][P4_TWO].med, s[i][P4_ONE].med));
		for (m = 0; m < P4_N; m++)
			if (s[i][m].med)
				csv_row(f, mode, p4path[m], size, tg[i].name,
					&s[i][m], 0, 0);
	}
	return fail;
}

static int run_p5(const struct target *tg, int reps, bool thp, FILE *f)
{
	size_t cap = cfg.info[0].capacity_pages * cfg.page_size;
	const char *mode = thp ? "thp" : "4k";
	struct spread press = { 0 }, free_ = { 0 };
	double ev = 0;

	if (!tg->dummy) {
		fprintf(stderr, "bench: --p5 needs hmm_dummy\n");
		return 1;
	}
	if (bench_p5(tg, reps, thp, &press, &free_, &ev))
		return 1;
	printf("\n[%s] P5: working set %zu MiB = 2x capacity, %zu MiB pieces, %d reps: pages/s median [min-max]\n",
	       mode, 2 * cap >> 20, cap >> 22, reps);
	printf("pressure ");
	print_spread(&press);
	printf("\nno pressure");
	print_spread(&free_);
	printf("\ncost with/without pressure %.2f; time beyond the unpressured migration (eviction) %.0f%%; %.0f pages evicted per run\n",
	       ratio(free_.med, press.med),
	       100 * (1 - ratio(press.med, free_.med)), ev);
	csv_row(f, mode, "p5_pressure", 2 * cap, tg->name, &press, 0, 0);
	csv_row(f, mode, "p5_nopressure", 2 * cap, tg->name, &free_, 0, 0);
	return 0;
}

static bool is_mode(const char *tok)
{
	return !strcmp(tok, "thp") || !strcmp(tok, "4k");
}

static bool is_window(const char *tok)
{
	unsigned long long w;

	return !parse_u64(tok, 1, INT_MAX, &w);
}

/* @list is one or more items separated by commas, each @ok. */
static bool list_ok(const char *list, bool (*ok)(const char *tok))
{
	char *copy = strdup(list), *tok, *save = NULL;
	bool good = copy && *list;

	for (tok = strtok_r(copy, ",", &save); tok && good;
	     tok = strtok_r(NULL, ",", &save))
		good = ok(tok);
	free(copy);
	return good && !strstr(list, ",,") && list[strlen(list) - 1] != ',';
}

/*
 * What getopt cannot check: --modes is a list of thp and 4k, --windows one
 * of numbers, and the sizes swept go from --min-size (0: no sweep) up to
 * --max-size.  ARGS_OK, or 2 after a message.
 */
static int check_bench_args(const char *modes, const char *windows,
			    size_t min_size, size_t max_size)
{
	const char *bad = NULL;

	if (!list_ok(modes, is_mode))
		bad = "--modes: thp, 4k or thp,4k";
	else if (windows && !list_ok(windows, is_window))
		bad = "--windows: fault_window values (1, 2, ...) separated by commas";
	else if (!windows && min_size > max_size)
		bad = "--min-size is larger than --max-size";
	if (!bad)
		return ARGS_OK;
	fprintf(stderr, "hmm_test bench: %s\n", bad);
	return 2;
}

int cmd_bench(int argc, char **argv)
{
	size_t sizes[MAX_SIZES], max_size = 256UL << 20, min_size = 2UL << 20;
	size_t p4_size = 32UL << 20;
	const char *csv = NULL, *windows = NULL, *modes = "thp,4k";
	int ntg = 0, nsz = 0, reps = 5, i, s, fail = 0;
	bool p5 = false, no_p4 = false;
	const struct opt opts[] = {
		OPT_NUM("min-size", OPT_SIZE, &min_size, 1, MAX_BENCH_SIZE),
		OPT_NUM("max-size", OPT_SIZE, &max_size, 1, MAX_BENCH_SIZE),
		OPT_NUM("p4-size", OPT_SIZE, &p4_size, 1, MAX_BENCH_SIZE),
		OPT_NUM("reps", OPT_INT, &reps, 1, MAX_REPS),
		OPT_ARG("csv", OPT_STR, &csv),
		OPT_ARG("modes", OPT_STR, &modes),
		OPT_ARG("no-p4", OPT_FLAG, &no_p4),
		OPT_ARG("p5", OPT_FLAG, &p5),
		OPT_ARG("windows", OPT_STR, &windows),
		{ }
	};
	struct target tg[2];
	FILE *f = NULL;

	i = parse_args(argc, argv,
		       "[--min-size B] [--max-size B] [--reps N] [--csv FILE]\n"
		       "                      [--modes thp,4k] [--p4-size B] [--no-p4]\n"
		       "       hmm_test bench --p5 [--reps N] [--modes thp,4k] [--csv FILE]\n"
		       "       hmm_test bench --windows N,N,... [--max-size B] [--reps N]",
		       opts, NULL);
	if (i != ARGS_OK)
		return i;
	i = check_bench_args(modes, windows, p5 ? 0 : min_size, max_size);
	if (i != ARGS_OK)
		return i;
	hmm_probe(cfg.prefix);
	if (windows) {
		if (!cfg.dummy) {
			fprintf(stderr, "bench: --windows needs hmm_dummy\n");
			return 1;
		}
		return bench_windows(windows, max_size < (32UL << 20) ?
				     max_size : 32UL << 20, reps);
	}
	if (cfg.ndev > 0) {
		tg[ntg].name = cfg.dummy ? "hmm_dummy" : "test_hmm";
		tg[ntg].prefix = cfg.prefix;
		tg[ntg].dummy = cfg.dummy;
		/* Stay within the device: eviction is P5's business. */
		if (cfg.dummy && max_size > cfg.info[0].capacity_pages *
					   cfg.page_size)
			max_size = cfg.info[0].capacity_pages * cfg.page_size;
		ntg++;
	}
	if (!p5 && strcmp(cfg.prefix, "/dev/hmm_dmirror") &&
	    !access("/dev/hmm_dmirror0", F_OK)) {
		tg[ntg].name = "test_hmm";
		tg[ntg].prefix = "/dev/hmm_dmirror";
		tg[ntg].dummy = false;
		ntg++;
	}
	if (!ntg) {
		fprintf(stderr, "bench: no device (%s0, /dev/hmm_dmirror0)\n",
			cfg.prefix);
		return 1;
	}
	for (s = 0; nsz < MAX_SIZES && (min_size << (2 * s)) <= max_size; s++)
		sizes[nsz++] = min_size << (2 * s);
	if (nsz && sizes[nsz - 1] != max_size && nsz < MAX_SIZES)
		sizes[nsz++] = max_size;
	if (csv) {
		f = fopen(csv, "w");
		if (!f) {
			perror(csv);
			return 1;
		}
		fprintf(f, "mode,path,size_bytes,device,median,min,max,vs_memcpy,vs_test_hmm\n");
	}
	printf("bench: %s; %d reps; MiB/s (P5: pages/s); fault = CPU-fault-back, sequential touch\n",
	       ntg > 1 ? "hmm_dummy and test_hmm" : tg[0].name, reps);
	for (i = 0; i < 2; i++) {
		bool thp = i == 0;

		if (!strstr(modes, thp ? "thp" : "4k"))
			continue;
		if (p5) {
			fail |= run_p5(&tg[0], reps, thp, f);
			continue;
		}
		fail |= bench_sizes(tg, ntg, sizes, nsz, reps, thp, f);
		if (!no_p4)
			fail |= run_p4(tg, ntg, p4_size, reps, thp, f);
	}
	if (f) {
		fclose(f);
		printf("CSV written to %s\n", csv);
	}
	return fail;
}
