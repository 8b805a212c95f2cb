// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_test cycle: migrate/fault cycles over one buffer, verifying every byte.
 *
 * Each cycle fills the buffer with a pattern seeded by the cycle number,
 * migrates it to the device in chunks (checking the device's view returned by
 * MIGRATE_TO_DEV), then brings it back one of three ways (CPU read faults,
 * CPU write faults, MIGRATE_TO_SYS) and verifies all of it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "hmm_test.h"

#define CHUNK	(4UL << 20)

enum { BACK_READ, BACK_WRITE, BACK_IOCTL, NR_BACK };
static const char *const back_name[] = { "read faults", "write faults",
					 "MIGRATE_TO_SYS" };

struct cyc {
	char *buf;
	size_t size;
	int cycles, nthr, dev;
	bool seq;
	int fd;
	pthread_barrier_t bar;
	volatile int failed;
};

struct cyc_thr {
	struct cyc *c;
	int idx;
	size_t off, len;
	double t_to_dev, t_back;
};

static inline uint64_t word(const struct cyc *c, uint64_t seed, uint64_t i)
{
	return c->seq ? (seed << 40) + i : pat_word(seed, i);
}

static void fill(const struct cyc *c, char *p, size_t off, size_t len,
		 uint64_t seed)
{
	uint64_t *w = (uint64_t *)p;
	size_t i;

	for (i = 0; i < len / 8; i++)
		w[i] = word(c, seed, off / 8 + i);
}

/* 0 when [p, p+len) holds the pattern at offset @off, else reports. */
static int verify(struct cyc *c, const char *what, const char *p, size_t off,
		  size_t len, uint64_t seed)
{
	const uint64_t *w = (const uint64_t *)p;
	size_t i;

	for (i = 0; i < len / 8; i++) {
		uint64_t want = word(c, seed, off / 8 + i);
		int b;

		if (w[i] == want)
			continue;
		for (b = 0; b < 8; b++) {
			uint8_t got = w[i] >> (8 * b), exp = want >> (8 * b);

			if (got != exp) {
				fprintf(stderr,
					"\nMISMATCH (%s, seed %llu): address %p (buffer offset %zu): got 0x%02x expected 0x%02x\n",
					what, (unsigned long long)seed,
					(const char *)&w[i] + b,
					off + i * 8 + b, got, exp);
				break;
			}
		}
		c->failed = 1;
		return -1;
	}
	return 0;
}

static void *cyc_thread(void *arg)
{
	struct cyc_thr *t = arg;
	struct cyc *c = t->c;
	char *view = malloc(CHUNK);
	size_t ps = cfg.page_size, o, n, i;
	int cy;

	if (!view) {
		c->failed = 1;
		return NULL;
	}
	for (cy = 0; cy < c->cycles && !c->failed; cy++) {
		uint64_t seed = cy + 1;
		int back = cy % NR_BACK;
		char *p = c->buf + t->off;
		double t0;
		int r;

		fill(c, p, t->off, t->len, seed);
		pthread_barrier_wait(&c->bar);
		t0 = now_sec();
		for (o = 0; o < t->len; o += n) {
			struct hmm_dmirror_cmd cmd;

			n = t->len - o < CHUNK ? t->len - o : CHUNK;
			r = hmm_cmd(c->fd, HMM_DMIRROR_MIGRATE_TO_DEV, p + o,
				    view, n / ps, &cmd);
			if (r) {
				fprintf(stderr,
					"\nMIGRATE_TO_DEV at %p, %zu pages: %s (%llu pages on the device)\n",
					p + o, n / ps, strerror(-r),
					(unsigned long long)cmd.cpages);
				c->failed = 1;
				break;
			}
			if (verify(c, "device view", view, t->off + o, n, seed))
				break;
		}
		t->t_to_dev += now_sec() - t0;
		pthread_barrier_wait(&c->bar);
		if (c->failed)
			break;
		t0 = now_sec();
		switch (back) {
		case BACK_READ:
			break;
		case BACK_WRITE:
			/* A store per page: each one a write fault. */
			for (i = 0; i < t->len; i += ps) {
				uint64_t *w = (uint64_t *)(p + i);

				*w = word(c, seed, (t->off + i) / 8);
			}
			break;
		case BACK_IOCTL:
			for (o = 0; o < t->len; o += n) {
				n = t->len - o < CHUNK ? t->len - o : CHUNK;
				r = hmm_cmd(c->fd, HMM_DMIRROR_MIGRATE_TO_SYS,
					    p + o, NULL, n / ps, NULL);
				if (r) {
					fprintf(stderr,
						"\nMIGRATE_TO_SYS at %p: %s\n",
						p + o, strerror(-r));
					c->failed = 1;
					break;
				}
			}
			break;
		}
		verify(c, back_name[back], p, t->off, t->len, seed);
		t->t_back += now_sec() - t0;
		pthread_barrier_wait(&c->bar);
		if (!t->idx) {
			fprintf(stderr, "\rcycle %d/%d (%s)        ", cy + 1,
				c->cycles, back_name[back]);
			fflush(stderr);
		}
	}
	free(view);
	return NULL;
}

#define CYCLE_USAGE \
	"[--size BYTES] [--cycles N] [--threads N] [--device N] [--pattern random|seq]"

int cmd_cycle(int argc, char **argv)
{
	struct cyc c = { .size = 64UL << 20, .cycles = 12, .nthr = 1 };
	const char *pattern = "random";
	const struct opt opts[] = {
		OPT_NUM("size", OPT_SIZE, &c.size, 1, SIZE_MAX / 2),
		OPT_NUM("cycles", OPT_INT, &c.cycles, 1, 1000000),
		OPT_NUM("threads", OPT_INT, &c.nthr, 1, 1024),
		OPT_NUM("device", OPT_INT, &c.dev, 0, MAX_DEVICES - 1),
		OPT_ARG("pattern", OPT_STR, &pattern),
		{ }
	};
	struct hmm_dummy_stats s0, s1;
	struct cyc_thr *t;
	pthread_t *th;
	double t0, el, to_dev = 0, back = 0;
	size_t per, ps = sysconf(_SC_PAGESIZE), i;
	int k;

	k = parse_args(argc, argv, CYCLE_USAGE, opts, NULL);
	if (k != ARGS_OK)
		return k;
	if (strcmp(pattern, "seq") && strcmp(pattern, "random")) {
		fprintf(stderr, "hmm_test cycle: --pattern %s: random or seq\n",
			pattern);
		return 2;
	}
	c.seq = !strcmp(pattern, "seq");
	if (c.size < ps) {
		fprintf(stderr, "hmm_test cycle: --size %zu: less than a page (%zu)\n",
			c.size, ps);
		return 2;
	}
	hmm_probe(cfg.prefix);
	c.size = (c.size + ps - 1) / ps * ps;
	per = (c.size / ps + c.nthr - 1) / c.nthr * ps;
	c.fd = hmm_open(c.dev);
	if (c.fd < 0) {
		fprintf(stderr, "%s%d: %s\n", cfg.prefix, c.dev,
			strerror(-c.fd));
		return 1;
	}
	c.buf = map_anon(c.size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	t = calloc(c.nthr, sizeof(*t));
	th = calloc(c.nthr, sizeof(*th));
	if (!c.buf || !t || !th) {
		perror("hmm_test cycle");
		return 1;
	}
	pthread_barrier_init(&c.bar, NULL, c.nthr);
	if (cfg.dummy)
		hmm_stats(c.fd, &s0);
	printf("cycle: %zu MiB on %s%d, %d cycles, %d threads, %s pattern\n",
	       c.size >> 20, cfg.prefix, c.dev, c.cycles, c.nthr,
	       c.seq ? "seq" : "random");
	t0 = now_sec();
	for (k = 0; k < c.nthr; k++) {
		t[k].c = &c;
		t[k].idx = k;
		t[k].off = k * per;
		t[k].len = t[k].off >= c.size ? 0 :
			   (c.size - t[k].off < per ? c.size - t[k].off : per);
		pthread_create(&th[k], NULL, cyc_thread, &t[k]);
	}
	for (k = 0; k < c.nthr; k++) {
		pthread_join(th[k], NULL);
		if (t[k].t_to_dev > to_dev)
			to_dev = t[k].t_to_dev;
		if (t[k].t_back > back)
			back = t[k].t_back;
	}
	el = now_sec() - t0;
	fprintf(stderr, "\n");
	if (cfg.dummy) {
		hmm_stats(c.fd, &s1);
		printf("driver counters (delta):\n");
		for (i = 0; i < nr_stat_fields; i++) {
			const char *n = stat_fields[i].name;

			if (!strcmp(n, "capacity") || !strcmp(n, "free") ||
			    !strcmp(n, "in_use") || !strcmp(n, "peak_in_use") ||
			    !strcmp(n, "backing_pages"))
				printf("  %-24s %llu\n", n,
				       (unsigned long long)stat_get(&s1, i));
			else
				printf("  %-24s +%llu\n", n,
				       (unsigned long long)(stat_get(&s1, i) -
							    stat_get(&s0, i)));
		}
	}
	printf("moved %zu MiB to the device %d times: %.1f MiB/s to device, %.1f MiB/s back+verify, %.1f s total\n",
	       c.size >> 20, c.cycles,
	       to_dev > 0 ? (double)(c.size >> 20) * c.cycles / to_dev : 0,
	       back > 0 ? (double)(c.size >> 20) * c.cycles / back : 0, el);
	close(c.fd);
	if (c.failed) {
		printf("cycle: FAILED\n");
		return 1;
	}
	printf("cycle: OK\n");
	return 0;
}
