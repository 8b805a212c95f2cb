// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_test fuzz: random ioctls against the device nodes while other threads
 * change the address space under them.
 *
 * Fuzzing threads issue commands with random numbers, sizes and directions,
 * random command pointers (NULL, kernel, unaligned, unmapped) and random
 * contents (addresses unaligned, unmapped, in the kernel half, past the
 * user address space, overflowing; page counts from 0 to 2^64-1; buffers
 * valid, NULL, read-only or running into a guard page).  Meanwhile a chaos
 * thread unmaps, remaps, mprotects and MADV_DONTNEEDs the target areas and
 * forks children that issue commands through the inherited descriptors and
 * exit, sometimes killed mid-call.
 *
 * The kernel must answer every call with success or one of the errnos the
 * uAPI documents; any other errno fails the run.  When everything is
 * unmapped and closed, every device page must have come back (in_use at its
 * value before the run).  Splats are the harness's business: a kernel
 * WARNING, BUG or KASAN report fails the VM run.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "hmm_test.h"

#define NAREAS		4
#define AREA_PAGES	256	/* two 2 MiB-aligned halves for THP */
#define MAX_NPAGES	64	/* largest "valid" command */
#define NFUZZ		2

struct fuzz {
	char *resv;			/* NAREAS areas, reserved up front */
	size_t area_size;
	char *buf;			/* data buffer, followed by a guard */
	size_t buf_size;
	char *ro;			/* a read-only buffer */
	int fd[MAX_DEVICES];
	atomic_ulong calls, errs[256], stop;
	atomic_int running;		/* fuzzing threads not done yet */
	unsigned long target;
	uint64_t seed;
};

static struct fuzz F;

static uint64_t rnd_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static uint64_t rnd_below(uint64_t *s, uint64_t n)
{
	return n ? rnd_next(s) % n : 0;
}

static char *area(unsigned int i)
{
	return F.resv + i * F.area_size;
}

/* An address for a command: mostly inside an area, sometimes anything. */
static uint64_t fuzz_addr(uint64_t *s)
{
	uint64_t ps = cfg.page_size;

	switch (rnd_below(s, 12)) {
	case 0: return 0;
	case 1: return (uint64_t)(uintptr_t)area(rnd_below(s, NAREAS)) + 1;
	case 2: return 0xffff888000000000ULL;		/* kernel */
	case 3: return (1ULL << 47) - ps;		/* last user page */
	case 4: return ~0ULL & ~(ps - 1);		/* overflows */
	case 5: return rnd_next(s) & ~(ps - 1);
	case 6: return (uint64_t)(uintptr_t)F.buf;	/* not an area */
	default:
		return (uint64_t)(uintptr_t)area(rnd_below(s, NAREAS)) +
		       rnd_below(s, AREA_PAGES) * ps;
	}
}

static uint64_t fuzz_npages(uint64_t *s)
{
	switch (rnd_below(s, 10)) {
	case 0: return 0;
	case 1: return ~0ULL;
	case 2: return 1ULL << 40;
	case 3: return 1ULL << (52 - 12);		/* past TASK_SIZE */
	case 4: return AREA_PAGES + rnd_below(s, 4 * AREA_PAGES);
	default: return 1 + rnd_below(s, MAX_NPAGES);
	}
}

/*
 * A data pointer for @npages pages: its end touches the guard page, so a
 * kernel that writes more than the command allows faults there instead of
 * corrupting this process.
 */
static uint64_t fuzz_ptr(uint64_t *s, uint64_t npages)
{
	uint64_t len = npages <= MAX_NPAGES ? npages * cfg.page_size : 0;

	switch (rnd_below(s, 10)) {
	case 0: return 0;
	case 1: return 0xffff888000000000ULL;
	case 2: return (uint64_t)(uintptr_t)F.ro;
	case 3: return (uint64_t)(uintptr_t)(F.buf + F.buf_size - 8);
	default:
		return (uint64_t)(uintptr_t)(F.buf + F.buf_size - len);
	}
}

static unsigned long fuzz_request(uint64_t *s)
{
	static const unsigned long known[] = {
		HMM_DMIRROR_READ, HMM_DMIRROR_WRITE, HMM_DMIRROR_MIGRATE_TO_DEV,
		HMM_DMIRROR_MIGRATE_TO_SYS, HMM_DMIRROR_SNAPSHOT,
		HMM_DMIRROR_EXCLUSIVE, HMM_DMIRROR_CHECK_EXCLUSIVE,
		HMM_DMIRROR_RELEASE, HMM_DMIRROR_FLAGS,
		HMM_DMIRROR_READ_UNLOCKED, HMM_DUMMY_STATS, HMM_DUMMY_INFO,
	};
	unsigned int dir, size;

	if (rnd_below(s, 8))
		return known[rnd_below(s, sizeof(known) / sizeof(known[0]))];
	/* Anything: random number, direction, size and type. */
	dir = rnd_below(s, 4);
	size = rnd_below(s, 3) ? rnd_below(s, 128) : rnd_below(s, 1 << 14);
	return _IOC(dir, rnd_below(s, 4) ? 'H' : rnd_below(s, 256),
		    rnd_below(s, 0x50), size);
}

/* Every errno a command may legitimately return (see the uAPI header). */
static bool errno_allowed(int e)
{
	switch (e) {
	case 0: case EINVAL: case EFAULT: case ENOTTY: case EPERM:
	case ENOENT: case EBUSY: case ENOMEM: case EOPNOTSUPP: case EINTR:
	case ESRCH:
		return true;
	}
	return false;
}

static int fuzz_one(uint64_t *s, bool quiet)
{
	union {
		struct hmm_dmirror_cmd c;
		struct hmm_dummy_stats st;
		unsigned char raw[512];
	} u;
	unsigned long req = fuzz_request(s);
	void *arg = &u;
	int r, e;

	memset(&u, 0, sizeof(u));
	u.c.addr = fuzz_addr(s);
	u.c.npages = fuzz_npages(s);
	u.c.ptr = fuzz_ptr(s, u.c.npages);
	if (req == HMM_DMIRROR_FLAGS)
		u.c.npages = rnd_below(s, 4) ? rnd_below(s, 2) : rnd_next(s);
	if (req == HMM_DUMMY_STATS || req == HMM_DUMMY_INFO)
		u.st.size = rnd_below(s, 2) ? rnd_below(s, 512) :
					      (uint32_t)rnd_next(s);
	switch (rnd_below(s, 16)) {
	case 0: arg = NULL; break;
	case 1: arg = (void *)0xffff888000000000ULL; break;
	case 2: arg = (char *)&u + 1; break;
	case 3: arg = F.buf + F.buf_size - 4; break;	/* into the guard */
	}
	r = ioctl(F.fd[rnd_below(s, cfg.ndev)], req, arg);
	e = r < 0 ? errno : 0;
	atomic_fetch_add(&F.errs[e & 255], 1);
	if (!errno_allowed(e)) {
		if (!quiet)
			fprintf(stderr, "fuzz: ioctl 0x%lx (nr 0x%lx) addr 0x%llx npages 0x%llx: unexpected errno %d (%s)\n",
				req, (unsigned long)_IOC_NR(req),
				(unsigned long long)u.c.addr,
				(unsigned long long)u.c.npages, e, strerror(e));
		return -1;
	}
	return 0;
}

static void *fuzz_thread(void *p)
{
	uint64_t s = F.seed + (uintptr_t)p * 0x9e3779b97f4a7c15ULL;

	while (!atomic_load(&F.stop) &&
	       atomic_fetch_add(&F.calls, 1) < F.target) {
		if (fuzz_one(&s, false))
			atomic_store(&F.stop, 2);
	}
	atomic_fetch_sub(&F.running, 1);
	return NULL;
}

static void fill_area(unsigned int i)
{
	pat_fill(area(i), F.area_size, i + 1);
}

/* Child of a fork: commands on inherited descriptors (other mm: -EPERM). */
static void child_run(uint64_t s)
{
	int i;

	for (i = 0; i < 50; i++)
		if (fuzz_one(&s, true))
			_exit(3);
	_exit(0);
}

static void *chaos_thread(void *unused)
{
	uint64_t s = F.seed ^ 0x5deece66dULL;
	int prots[] = { PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE };

	(void)unused;
	while (!atomic_load(&F.stop)) {
		unsigned int i = rnd_below(&s, NAREAS);
		size_t off = rnd_below(&s, AREA_PAGES) * cfg.page_size;
		size_t len = (1 + rnd_below(&s, 32)) * cfg.page_size;
		char *a = area(i);
		pid_t pid;

		if (off + len > F.area_size)
			len = F.area_size - off;
		switch (rnd_below(&s, 8)) {
		case 0:
			/*
			 * An unmap that keeps the range reserved: a plain
			 * munmap() would let malloc() in another thread take
			 * addresses that the next MAP_FIXED then clobbers.
			 */
			mmap(a + off, len, PROT_NONE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
			break;
		case 1:
			if (mmap(a, F.area_size, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
				 0) != MAP_FAILED) {
				madvise(a, F.area_size, MADV_HUGEPAGE);
				fill_area(i);
			}
			break;
		case 2:
			mprotect(a + off, len, prots[rnd_below(&s, 3)]);
			break;
		case 3:
			madvise(a + off, len, MADV_DONTNEED);
			break;
		case 4:
			pid = fork();
			if (pid == 0)
				child_run(rnd_next(&s));
			if (pid > 0) {
				if (rnd_below(&s, 2)) {
					usleep(rnd_below(&s, 2000));
					kill(pid, SIGKILL);
				}
				waitpid(pid, NULL, 0);
			}
			break;
		default:
			usleep(200);
			break;
		}
	}
	return NULL;
}

int cmd_fuzz(int argc, char **argv)
{
	struct hmm_dummy_stats base[MAX_DEVICES], now;
	unsigned long calls = 100000, target_calls;
	const struct opt opts[] = {
		OPT_NUM("calls", OPT_ULONG, &calls, 1, ULONG_MAX),
		OPT_NUM("seed", OPT_U64, &F.seed, 0, UINT64_MAX),
		{ }
	};
	pthread_t th[NFUZZ + 1];
	double t0, secs, next;
	int i, rc = 0;

	F.seed = (uint64_t)time(NULL);
	i = parse_args(argc, argv, "[--calls N] [--seed S]", opts, NULL);
	if (i != ARGS_OK)
		return i;
	hmm_probe(cfg.prefix);
	if (!F.seed)
		F.seed = 1;
	if (!cfg.ndev) {
		fprintf(stderr, "fuzz: no device nodes %s*\n", cfg.prefix);
		return 1;
	}
	for (i = 0; cfg.dummy && i < cfg.ndev; i++)
		if (hmm_stats_dev(i, &base[i]))
			return 1;

	F.area_size = AREA_PAGES * cfg.page_size;
	F.resv = map_aligned(NAREAS * F.area_size, 2UL << 20);
	F.buf_size = MAX_NPAGES * cfg.page_size;
	F.buf = mmap(NULL, F.buf_size + cfg.page_size, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	F.ro = mmap(NULL, F.buf_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	if (!F.resv || F.buf == MAP_FAILED || F.ro == MAP_FAILED) {
		perror("fuzz: mmap");
		return 1;
	}
	mprotect(F.buf + F.buf_size, cfg.page_size, PROT_NONE);
	for (i = 0; i < NAREAS; i++) {
		madvise(area(i), F.area_size, MADV_HUGEPAGE);
		fill_area(i);
	}
	for (i = 0; i < cfg.ndev; i++) {
		F.fd[i] = hmm_open(i);
		if (F.fd[i] < 0) {
			fprintf(stderr, "fuzz: open: %s\n", strerror(-F.fd[i]));
			return 1;
		}
	}
	F.target = calls;
	printf("fuzz: %lu calls, %d threads and one changing the address space, seed %llu\n",
	       calls, NFUZZ, (unsigned long long)F.seed);
	fflush(stdout);
	t0 = now_sec();
	atomic_store(&F.running, NFUZZ);
	for (i = 0; i < NFUZZ; i++)
		pthread_create(&th[i], NULL, fuzz_thread, (void *)(uintptr_t)i);
	pthread_create(&th[NFUZZ], NULL, chaos_thread, NULL);
	/* A progress line on stderr now and then until the calls are done. */
	next = t0 + PROGRESS_SEC;
	while (atomic_load(&F.running) > 0) {
		sleep_ms(100);
		if (now_sec() < next)
			continue;
		target_calls = atomic_load(&F.calls);
		fprintf(stderr, "fuzz: %.0f s, %lu of %lu calls made so far\n",
			now_sec() - t0, target_calls < calls ? target_calls : calls,
			calls);
		next += PROGRESS_SEC;
	}
	for (i = 0; i < NFUZZ; i++)
		pthread_join(th[i], NULL);
	if (!atomic_load(&F.stop))
		atomic_store(&F.stop, 1);
	pthread_join(th[NFUZZ], NULL);
	secs = now_sec() - t0;
	target_calls = atomic_load(&F.calls);
	if (target_calls > calls)
		target_calls = calls;

	printf("fuzz: %lu calls in %.1f s; errno counts:", target_calls, secs);
	for (i = 0; i < 256; i++)
		if (atomic_load(&F.errs[i]))
			printf(" %s %lu", i ? strerror(i) : "success",
			       atomic_load(&F.errs[i]));
	printf("\n");
	if (atomic_load(&F.stop) == 2) {
		printf("fuzz: FAIL: an unexpected errno (seed %llu)\n",
		       (unsigned long long)F.seed);
		rc = 1;
	}

	/*
	 * Everything the commands could have migrated goes: the areas, and
	 * the data buffers too (a command's address may point at them).
	 */
	munmap(F.resv, NAREAS * F.area_size);
	munmap(F.buf, F.buf_size + cfg.page_size);
	munmap(F.ro, F.buf_size);
	for (i = 0; i < cfg.ndev; i++)
		close(F.fd[i]);
	for (i = 0; cfg.dummy && i < cfg.ndev; i++) {
		if (wait_stats_settle(i, &base[i], &now, 5000)) {
			printf("fuzz: FAIL: device %d: in_use %llu, was %llu before the run\n",
			       i, (unsigned long long)now.in_use,
			       (unsigned long long)base[i].in_use);
			rc = 1;
		}
	}
	printf("fuzz: %s\n", rc ? "FAIL" : "PASS");
	return rc;
}
