// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_test bench: migration throughput of hmm_dummy against the kernel's
 * test_hmm (when /dev/hmm_dmirror0 exists) and against memcpy.
 *
 * For each buffer size: MIGRATE_TO_DEV, MIGRATE_TO_SYS, CPU-fault-back
 * (sequential touch of one byte per page) and a memcpy of the same size in
 * the same process.  The median of --reps runs is kept.  Under emulation
 * the absolute numbers mean little; the ratios are the figures to quote.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "hmm_test.h"

#define MAX_SIZES	16
#define MAX_REPS	15

struct bres {
	double to_dev, to_sys, fault, memcpy_;	/* MiB/s */
	double us_per_page, us_per_fault;	/* fault back */
	bool ok;
};

struct target {
	const char *name;
	char path[128];
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

static double mibs(size_t size, double secs)
{
	return secs > 0 ? (size / 1048576.0) / secs : 0;
}

static int bench_one(const struct target *t, size_t size, int reps,
		     struct bres *res)
{
	double v_dev[MAX_REPS], v_sys[MAX_REPS], v_flt[MAX_REPS],
	       v_cpy[MAX_REPS], v_pp[MAX_REPS], v_pf[MAX_REPS];
	size_t ps = cfg.page_size, npages = size / ps, i;
	struct hmm_dummy_stats s0, s1;
	struct hmm_dmirror_cmd c;
	char *p, *view, *dst;
	int fd, r, k;

	memset(res, 0, sizeof(*res));
	fd = open(t->path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	view = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	dst = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	if (!p || !view || !dst) {
		close(fd);
		return -ENOMEM;
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
		v_dev[k] = mibs(size, now_sec() - t0);
		if (r) {
			fprintf(stderr, "bench: %s MIGRATE_TO_DEV %zu MiB: %s\n",
				t->name, size >> 20, strerror(-r));
			goto fail;
		}
		t0 = now_sec();
		r = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_SYS, p, NULL, npages,
			    &c);
		v_sys[k] = mibs(size, now_sec() - t0);
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
		v_flt[k] = mibs(size, t0);
		v_pp[k] = t0 * 1e6 / npages;
		if (t->dummy) {
			hmm_stats(fd, &s1);
			v_pf[k] = s1.cpu_faults > s0.cpu_faults ?
				  t0 * 1e6 / (s1.cpu_faults - s0.cpu_faults) : 0;
		} else {
			/* test_hmm moves one page per CPU fault. */
			v_pf[k] = v_pp[k];
		}
		if (pat_check(p, size, k + 1) >= 0) {
			fprintf(stderr, "bench: %s: data mismatch\n", t->name);
			goto fail;
		}
		t0 = now_sec();
		memcpy(dst, p, size);
		v_cpy[k] = mibs(size, now_sec() - t0);
	}
	res->to_dev = median(v_dev, reps);
	res->to_sys = median(v_sys, reps);
	res->fault = median(v_flt, reps);
	res->memcpy_ = median(v_cpy, reps);
	res->us_per_page = median(v_pp, reps);
	res->us_per_fault = median(v_pf, reps);
	res->ok = true;
	r = 0;
fail:
	munmap(p, size);
	munmap(view, size);
	munmap(dst, size);
	close(fd);
	return r ? -EIO : 0;
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
			char *p = map_anon(size, PROT_READ | PROT_WRITE,
					   MAP_PRIVATE);
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

static double ratio(double a, double b)
{
	return b > 0 ? a / b : 0;
}

int cmd_bench(int argc, char **argv)
{
	size_t sizes[MAX_SIZES], max_size = 256UL << 20, min_size = 1UL << 20;
	struct target tg[2];
	struct bres res[2][MAX_SIZES];
	const char *csv = NULL, *windows = NULL;
	int ntg = 0, nsz = 0, reps = 3, i, s, fail = 0;
	FILE *f = NULL;

	for (i = 0; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(argv[i], "--max-size") && v)
			max_size = parse_size(v);
		else if (!strcmp(argv[i], "--min-size") && v)
			min_size = parse_size(v);
		else if (!strcmp(argv[i], "--reps") && v)
			reps = atoi(v);
		else if (!strcmp(argv[i], "--csv") && v)
			csv = v;
		else if (!strcmp(argv[i], "--windows") && v)
			windows = v;
		else {
			fprintf(stderr,
				"usage: hmm_test bench [--min-size B] [--max-size B] [--reps N] [--csv FILE]\n"
				"       hmm_test bench --windows N,N,... [--max-size B] [--reps N]\n");
			return 2;
		}
		i++;
	}
	if (reps < 1 || reps > MAX_REPS)
		reps = 3;
	if (windows) {
		if (!cfg.dummy) {
			fprintf(stderr, "bench: --windows needs hmm_dummy\n");
			return 2;
		}
		return bench_windows(windows, max_size < (32UL << 20) ?
				     max_size : 32UL << 20, reps);
	}
	if (cfg.ndev > 0) {
		tg[ntg].name = cfg.dummy ? "hmm_dummy" : cfg.prefix;
		snprintf(tg[ntg].path, sizeof(tg[ntg].path), "%s0", cfg.prefix);
		tg[ntg].dummy = cfg.dummy;
		/* Stay within the device: eviction is measured elsewhere. */
		if (cfg.dummy && max_size > cfg.info[0].capacity_pages *
					   cfg.page_size)
			max_size = cfg.info[0].capacity_pages * cfg.page_size;
		ntg++;
	}
	if (strcmp(cfg.prefix, "/dev/hmm_dmirror") &&
	    !access("/dev/hmm_dmirror0", F_OK)) {
		tg[ntg].name = "test_hmm";
		snprintf(tg[ntg].path, sizeof(tg[ntg].path),
			 "/dev/hmm_dmirror0");
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

	printf("bench: %d reps, median; MiB/s; fault = CPU-fault-back, sequential touch\n",
	       reps);
	printf("%-10s %-10s %10s %10s %10s %10s %10s %10s\n", "size", "device",
	       "to_dev", "to_sys", "fault", "us/page", "us/fault", "memcpy");
	for (s = 0; s < nsz; s++) {
		for (i = 0; i < ntg; i++) {
			struct bres *r = &res[i][s];

			if (bench_one(&tg[i], sizes[s], reps, r)) {
				fail = 1;
				printf("%-10zu %-10s failed\n", sizes[s] >> 20,
				       tg[i].name);
				continue;
			}
			printf("%-7zuMiB %-10s %10.1f %10.1f %10.1f %10.2f %10.2f %10.1f\n",
			       sizes[s] >> 20, tg[i].name, r->to_dev,
			       r->to_sys, r->fault, r->us_per_page,
			       r->us_per_fault, r->memcpy_);
			fflush(stdout);
		}
	}
	printf("\nratios (hmm_dummy / test_hmm, hmm_dummy / memcpy):\n");
	printf("%-10s %10s %10s %10s %12s %12s %12s\n", "size", "to_dev/th",
	       "to_sys/th", "fault/th", "to_dev/cpy", "to_sys/cpy",
	       "fault/cpy");
	for (s = 0; s < nsz; s++) {
		struct bres *a = &res[0][s], *b = &res[ntg - 1][s];
		bool th = ntg > 1 && a->ok && b->ok;

		if (!a->ok)
			continue;
		printf("%-7zuMiB ", sizes[s] >> 20);
		if (th)
			printf("%10.2f %10.2f %10.2f ", ratio(a->to_dev, b->to_dev),
			       ratio(a->to_sys, b->to_sys),
			       ratio(a->fault, b->fault));
		else
			printf("%10s %10s %10s ", "-", "-", "-");
		printf("%12.3f %12.3f %12.3f\n", ratio(a->to_dev, a->memcpy_),
		       ratio(a->to_sys, a->memcpy_),
		       ratio(a->fault, a->memcpy_));
	}
	if (csv) {
		f = fopen(csv, "w");
		if (!f) {
			perror(csv);
			return 1;
		}
		fprintf(f, "size_bytes,device,to_dev_mibs,to_sys_mibs,fault_mibs,fault_us_per_page,fault_us_per_fault,memcpy_mibs,to_dev_vs_test_hmm,to_sys_vs_test_hmm,fault_vs_test_hmm,to_dev_vs_memcpy,to_sys_vs_memcpy,fault_vs_memcpy\n");
		for (s = 0; s < nsz; s++) {
			for (i = 0; i < ntg; i++) {
				struct bres *r = &res[i][s], *b = &res[ntg - 1][s];
				bool th = ntg > 1 && i == 0 && b->ok;

				if (!r->ok)
					continue;
				fprintf(f, "%zu,%s,%.2f,%.2f,%.2f,%.3f,%.3f,%.2f,",
					sizes[s], tg[i].name, r->to_dev,
					r->to_sys, r->fault, r->us_per_page,
					r->us_per_fault, r->memcpy_);
				if (th)
					fprintf(f, "%.4f,%.4f,%.4f,",
						ratio(r->to_dev, b->to_dev),
						ratio(r->to_sys, b->to_sys),
						ratio(r->fault, b->fault));
				else
					fprintf(f, ",,,");
				fprintf(f, "%.4f,%.4f,%.4f\n",
					ratio(r->to_dev, r->memcpy_),
					ratio(r->to_sys, r->memcpy_),
					ratio(r->fault, r->memcpy_));
			}
		}
		fclose(f);
		printf("CSV written to %s\n", csv);
	}
	return fail;
}
