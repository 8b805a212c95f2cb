// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_test faultinject: every allocation of every command fails once.
 *
 * For each operation (open, READ, WRITE, MIGRATE_TO_DEV, MIGRATE_TO_SYS,
 * a CPU fault on a device page, SNAPSHOT, EXCLUSIVE) and for N = 1, 2, ...
 * the operation runs on fresh memory with /proc/thread-self/fail-nth set to
 * N, so that the N-th fault-injection point it passes (failslab,
 * fail_page_alloc) fails.  When the operation passes fewer than N points
 * the loop for it ends.  After each run, with injection off, the memory
 * must hold exactly what the operation's success or failure allows, the
 * errno must be one the uAPI documents, and at the end every device page
 * must be back in the allocator.  Kernel splats and leaks are the
 * harness's business (debug kernel, kmemleak scan).
 *
 * With --load, each step of the module's init fails once instead
 * (fi_load(), through the driver's inject_init_failure parameter).
 *
 * Needs CONFIG_FAULT_INJECTION_DEBUG_FS, FAILSLAB and FAIL_PAGE_ALLOC; the
 * debugfs knobs are set so that GFP_KERNEL and order-0 allocations can fail
 * and no stack is dumped for each failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>

#include "hmm_test.h"

#define NPAGES	64

enum fi_op {
	FI_OPEN, FI_READ, FI_WRITE, FI_TO_DEV, FI_TO_SYS, FI_FAULT,
	FI_SNAPSHOT, FI_EXCLUSIVE, FI_NR
};
static const char *const fi_name[FI_NR] = {
	"open", "read", "write", "migrate_to_dev", "migrate_to_sys",
	"cpu_fault", "snapshot", "exclusive",
};

static int fi_fd = -1;

static int fi_setup(void)
{
	static const char *const knobs[][2] = {
		{ "failslab/ignore-gfp-wait", "N" },
		{ "failslab/verbose", "0" },
		{ "fail_page_alloc/ignore-gfp-wait", "N" },
		{ "fail_page_alloc/ignore-gfp-highmem", "N" },
		{ "fail_page_alloc/min-order", "0" },
		{ "fail_page_alloc/verbose", "0" },
	};
	char path[128];
	size_t i;
	int ret;

	if (access("/sys/kernel/debug/failslab", F_OK))
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		snprintf(path, sizeof(path), "/sys/kernel/debug/%s",
			 knobs[i][0]);
		ret = write_file_str(path, knobs[i][1]);
		if (ret) {
			fprintf(stderr, "faultinject: %s: %s\n", path,
				strerror(-ret));
			return ret;
		}
	}
	fi_fd = open("/proc/thread-self/fail-nth", O_RDWR);
	return fi_fd < 0 ? -errno : 0;
}

static void fi_arm(unsigned int n)
{
	char s[16];

	snprintf(s, sizeof(s), "%u", n);
	if (pwrite(fi_fd, s, strlen(s), 0) < 0)
		perror("fail-nth");
}

/* Disarm; true if the armed failure was injected. */
static bool fi_disarm(void)
{
	char s[16] = "";
	bool injected;

	if (pread(fi_fd, s, sizeof(s) - 1, 0) < 0)
		perror("fail-nth");
	injected = atoi(s) == 0;
	if (pwrite(fi_fd, "0", 1, 0) < 0)
		perror("fail-nth");
	return injected;
}

static bool fi_errno_ok(int r)
{
	return !r || r == -ENOMEM || r == -EFAULT || r == -EBUSY ||
	       r == -ENOENT || r == -EINTR;
}

/* Each page of @p holds either pattern @a or (if @b) pattern @b. */
static long fi_check_pages(const char *p, uint64_t a, uint64_t b)
{
	size_t ps = cfg.page_size, i;

	for (i = 0; i < NPAGES; i++) {
		if (pat_check_off(p + i * ps, ps, a, i * ps) < 0)
			continue;
		if (b && pat_check_off(p + i * ps, ps, b, i * ps) < 0)
			continue;
		return i;
	}
	return -1;
}

/*
 * One run of @op with the @n-th injection point failing.  Returns 1 when
 * the failure was injected, 0 when the operation passed fewer than @n
 * points, -1 on a wrong result.
 */
static int fi_run(enum fi_op op, unsigned int n, char *buf, int dev)
{
	size_t ps = cfg.page_size, size = NPAGES * ps;
	struct hmm_dmirror_cmd c;
	int fd = -1, r = 0;
	uint64_t after = 0;
	bool injected;
	char *p;
	long bad;

	p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	if (!p)
		return -1;
	pat_fill(p, size, 11);
	memset(buf, 0, size);
	if (op != FI_OPEN) {
		fd = hmm_open(dev);
		if (fd < 0) {
			munmap(p, size);
			return -1;
		}
	}
	if (op == FI_TO_SYS || op == FI_FAULT)
		hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, NULL, NPAGES, NULL);
	if (op == FI_WRITE)
		pat_fill(buf, size, 12);

	fi_arm(n);
	switch (op) {
	case FI_OPEN:
		fd = hmm_open(dev);
		r = fd < 0 ? fd : 0;
		break;
	case FI_READ:
		r = hmm_cmd(fd, HMM_DMIRROR_READ, p, buf, NPAGES, &c);
		break;
	case FI_WRITE:
		r = hmm_cmd(fd, HMM_DMIRROR_WRITE, p, buf, NPAGES, &c);
		after = 12;
		break;
	case FI_TO_DEV:
		r = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, buf, NPAGES, &c);
		break;
	case FI_TO_SYS:
		r = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_SYS, p, NULL, NPAGES,
			    &c);
		break;
	case FI_FAULT:
		/* A failed fault is retried by the CPU: it must end well. */
		(void)*(volatile char *)(p + 5 * ps);
		r = 0;
		break;
	case FI_SNAPSHOT:
		r = hmm_cmd(fd, HMM_DMIRROR_SNAPSHOT, p, buf, NPAGES, &c);
		break;
	case FI_EXCLUSIVE:
		r = hmm_cmd(fd, HMM_DMIRROR_EXCLUSIVE, p, buf, NPAGES, &c);
		break;
	default:
		break;
	}
	injected = fi_disarm();

	if (!fi_errno_ok(r)) {
		printf("# %s, failure %u: unexpected result %d (%s)\n",
		       fi_name[op], n, r, strerror(-r));
		r = -1;
	} else {
		r = injected;
	}
	/* Whatever happened, the process's data is intact. */
	bad = fi_check_pages(p, after ? after : 11, after ? 11 : 0);
	if (bad >= 0) {
		printf("# %s, failure %u: page %ld lost its data\n",
		       fi_name[op], n, bad);
		r = -1;
	}
	if (op == FI_WRITE && !injected && fi_check_pages(p, 12, 0) >= 0) {
		printf("# write without a failure did not write\n");
		r = -1;
	}
	if (fd >= 0)
		close(fd);
	munmap(p, size);
	return r;
}

/* Nothing of the module may be left after a failed load. */
static bool fi_nothing_left(void)
{
	return access("/sys/module/hmm_dummy", F_OK) &&
	       access("/sys/class/hmm_dummy", F_OK) &&
	       access("/dev/hmm_dummy0", F_OK);
}

/*
 * Load @path (the hmm_dummy module, not loaded now) with @params plus
 * inject_init_failure=N, the driver's own hook that makes the Nth fallible
 * step of its init fail with -ENOMEM (the loader's and the rest of the
 * kernel's allocations are left alone: some of those warn when they fail),
 * for N = 1, 2, ... until a load gets through every step.  Each failed
 * load must return -ENOMEM and leave nothing behind; lifetime bugs in the
 * init error paths (an error pointer used, nodes published before a later
 * device failed, a leak) show up here or as kernel splats and kmemleak
 * reports.
 */
static int fi_load(const char *path, const char *params, unsigned int max)
{
	unsigned int n;
	char p[512];
	int fd, r;

	if (!fi_nothing_left()) {
		fprintf(stderr, "faultinject: unload hmm_dummy first\n");
		return 1;
	}
	for (n = 1; n <= max; n++) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			perror(path);
			return 1;
		}
		snprintf(p, sizeof(p), "%s inject_init_failure=%u", params, n);
		r = syscall(SYS_finit_module, fd, p, 0) ? -errno : 0;
		close(fd);
		if (!r)
			break;
		if (r != -ENOMEM) {
			printf("# load, init step %u failing: unexpected errno %d (%s)\n",
			       n, r, strerror(-r));
			return 1;
		}
		if (!fi_nothing_left()) {
			printf("# load, init step %u failing: the module left things behind\n",
			       n);
			return 1;
		}
	}
	if (n > max) {
		printf("# load: still failing after %u steps\n", max);
		return 1;
	}
	/* Every step ran: a working module, removed again. */
	if (syscall(SYS_delete_module, "hmm_dummy", O_NONBLOCK)) {
		printf("# load: rmmod after the full load: %s\n",
		       strerror(errno));
		return 1;
	}
	printf("faultinject: load: %u init steps, each failed once: PASS\n",
	       n - 1);
	return 0;
}

int cmd_faultinject(int argc, char **argv)
{
	struct hmm_dummy_stats base[MAX_DEVICES], now;
	unsigned int max = 400, n, points[FI_NR] = { 0 }, total = 0;
	const char *load = NULL, *params = NULL;
	int op, i, r, rc = 0, dev = 0;
	const struct opt opts[] = {
		OPT_NUM("max", OPT_UINT, &max, 1, 1000000),
		OPT_NUM("device", OPT_INT, &dev, 0, MAX_DEVICES - 1),
		OPT_ARG("load", OPT_STR, &load),
		OPT_ARG("params", OPT_STR, &params),
		{ }
	};
	char *buf;

	i = parse_args(argc, argv,
		       "[--max N] [--device N] [--load MODULE.ko [--params 'p=v ...']]",
		       opts, NULL);
	if (i != ARGS_OK)
		return i;
	if (params && !load) {
		fprintf(stderr, "hmm_test faultinject: --params without --load\n");
		return 2;
	}
	hmm_probe(cfg.prefix);
	if (load)
		return fi_load(load, params ? params : "", max);
	if (!cfg.ndev || !cfg.dummy) {
		fprintf(stderr, "faultinject: needs hmm_dummy device nodes\n");
		return 1;
	}
	if (dev >= cfg.ndev) {
		fprintf(stderr, "faultinject: no device %s%d\n", cfg.prefix, dev);
		return 1;
	}
	r = fi_setup();
	if (r) {
		printf("faultinject: SKIP: no fault injection (%s)\n",
		       strerror(-r));
		return 4;
	}
	for (i = 0; i < cfg.ndev; i++)
		if (hmm_stats_dev(i, &base[i]))
			return 1;
	buf = map_anon(NPAGES * cfg.page_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE);
	if (!buf)
		return 1;
	for (op = 0; op < FI_NR; op++) {
		for (n = 1; n <= max; n++) {
			r = fi_run(op, n, buf, dev);
			if (r < 0)
				rc = 1;
			if (r <= 0)
				break;
			points[op]++;
		}
		if (n > max) {
			printf("# %s: still injecting after %u failures\n",
			       fi_name[op], max);
			rc = 1;
		}
		printf("faultinject: %-15s %u injection points, each failed once%s\n",
		       fi_name[op], points[op], r < 0 ? " (FAILED)" : "");
		total += points[op];
	}
	for (i = 0; i < cfg.ndev; i++) {
		if (wait_stats_settle(i, &base[i], &now, 5000)) {
			printf("faultinject: FAIL: device %d: in_use %llu, was %llu\n",
			       i, (unsigned long long)now.in_use,
			       (unsigned long long)base[i].in_use);
			rc = 1;
		}
	}
	printf("faultinject: %u injection points in %d operations: %s\n",
	       total, FI_NR, rc ? "FAIL" : "PASS");
	return rc;
}
