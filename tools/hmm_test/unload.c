// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_test unload-holder: keep memory on the device while the module is
 * unloaded, then check that every byte came back.
 *
 * Run from the VM script: it migrates a known pattern to the device, closes
 * its fd (an open fd would pin the module), prints a READY line and creates
 * the ready file, then waits until /sys/module/<module> disappears (or a
 * SIGTERM/SIGUSR1, or the timeout) and verifies the whole buffer.
 *
 * --orphan: the area is THP-aligned (large device folios where the kernel
 * has them), and after the migration the holder forks: the child keeps the
 * pages and does the waiting and the check, the parent, which migrated
 * them (their owner for hmm_dummy), unmaps its copy first and then waits
 * for the child.  No owner maps the device pages any more, so the unload
 * can only take them back by pfn: hmm_dummy_evict_pfns(), i.e. the core's
 * migrate_device_range(), migrate_device_pages() and
 * migrate_device_finalize() (see drivers/hmm_dummy/evict.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "hmm_test.h"

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

/*
 * --orphan, after the migration: fork; the parent unmaps @size bytes at @p,
 * lets the child go on and returns its exit status (forwarding a signal
 * to it); the child returns -1 and goes on as the holder.
 */
static int orphan_fork(char *p, size_t size)
{
	int go[2], st;
	pid_t pid;
	char c = 0;

	if (pipe(go)) {
		perror("unload-holder: pipe");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("unload-holder: fork");
		return 1;
	}
	if (!pid) {
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		close(go[0]);
		return -1;
	}
	close(go[0]);
	munmap(p, size);
	if (write(go[1], &c, 1) != 1)
		perror("unload-holder: write");
	close(go[1]);
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			return 1;
		kill(pid, got_signal ? got_signal : SIGTERM);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

int cmd_unload_holder(int argc, char **argv)
{
	const char *ready = NULL, *module = "hmm_dummy";
	size_t size = 16UL << 20;
	unsigned long npages;
	unsigned int timeout = 300;
	char modpath[128], *p, *view;
	struct hmm_dmirror_cmd c;
	int i, fd, r, dev = 0, local, halfway;
	bool orphan = false;
	const struct opt opts[] = {
		OPT_NUM("size", OPT_SIZE, &size, 1, SIZE_MAX / 2),
		OPT_ARG("ready-file", OPT_STR, &ready),
		OPT_NUM("timeout", OPT_UINT, &timeout, 1, MAX_SECONDS),
		OPT_NUM("device", OPT_INT, &dev, 0, MAX_DEVICES - 1),
		OPT_ARG("module", OPT_STR, &module),
		OPT_ARG("orphan", OPT_FLAG, &orphan),
		{ }
	};
	struct sigaction sa = { .sa_handler = on_signal };
	double end;
	long bad;

	i = parse_args(argc, argv,
		       "[--size B] [--ready-file F] [--timeout S] [--device N] [--module NAME] [--orphan]",
		       opts, NULL);
	if (i != ARGS_OK)
		return i;
	if (size < (size_t)sysconf(_SC_PAGESIZE)) {
		fprintf(stderr, "hmm_test unload-holder: --size %zu: less than a page\n",
			size);
		return 2;
	}
	hmm_probe(cfg.prefix);
	snprintf(modpath, sizeof(modpath), "/sys/module/%s", module);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	npages = size / cfg.page_size;
	size = npages * cfg.page_size;
	if (orphan) {
		size = (size + (2UL << 20) - 1) & ~((2UL << 20) - 1);
		npages = size / cfg.page_size;
		p = map_aligned(size, 2UL << 20);
		if (p && thp_enabled())
			madvise(p, size, MADV_HUGEPAGE);
	} else {
		p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	}
	view = malloc(size);
	fd = hmm_open(dev);
	if (!p || !view || fd < 0) {
		fprintf(stderr, "unload-holder: setup failed: %s\n",
			fd < 0 ? strerror(-fd) : "out of memory");
		return 1;
	}
	pat_fill(p, size, 0xdeadbeef);
	/* Half migrated, a quarter of that written by the device in place. */
	halfway = npages / 2;
	r = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, view, npages, &c);
	if (r || c.cpages != npages || pat_check(view, size, 0xdeadbeef) >= 0) {
		fprintf(stderr, "unload-holder: MIGRATE_TO_DEV: %s, %llu of %lu pages\n",
			strerror(-r), (unsigned long long)c.cpages, npages);
		return 1;
	}
	r = hmm_cmd(fd, HMM_DMIRROR_WRITE, p + halfway * cfg.page_size,
		    view + halfway * cfg.page_size, npages - halfway, NULL);
	if (r) {
		fprintf(stderr, "unload-holder: WRITE: %s\n", strerror(-r));
		return 1;
	}
	local = count_snapshot(fd, p, npages,
			       cfg.dummy && cfg.info[dev].version >= 3 &&
			       cfg.info[dev].memory_type ==
			       HMM_DUMMY_MEMORY_COHERENT ?
			       HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL :
			       HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL, 0xf0);
	if (local != (int)npages) {
		fprintf(stderr, "unload-holder: only %d of %lu pages on the device\n",
			local, npages);
		return 1;
	}
	/*
	 * --orphan: the first page back to system memory, so that the
	 * device has a free page among the orphans (migrate_device_range()
	 * then meets one).
	 */
	if (orphan && hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_SYS, p, NULL, 1,
			      NULL)) {
		fprintf(stderr, "unload-holder: MIGRATE_TO_SYS failed\n");
		return 1;
	}
	/* The fd would hold a reference on the module: drop it. */
	close(fd);
	if (orphan) {
		r = orphan_fork(p, size);
		if (r >= 0)
			return r;
	}
	printf("READY pid %d: %lu pages (%zu MiB) on %s%d, waiting for %s to go\n",
	       getpid(), npages, size >> 20, cfg.prefix, dev, modpath);
	fflush(stdout);
	if (ready) {
		int rf = open(ready, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (rf < 0) {
			perror(ready);
			return 1;
		}
		close(rf);
	}
	end = now_sec() + timeout;
	while (!access(modpath, F_OK) && !got_signal && now_sec() < end)
		sleep_ms(50);
	if (got_signal)
		printf("unload-holder: signal %d\n", got_signal);
	else if (!access(modpath, F_OK))
		printf("unload-holder: %s still there after %u s\n", modpath,
		       timeout);
	else
		printf("unload-holder: %s is gone, verifying\n", module);
	bad = pat_check(p, size, 0xdeadbeef);
	if (bad >= 0) {
		printf("unload-holder: MISMATCH at %p (offset %ld): got 0x%02x expected 0x%02x\n",
		       p + bad, bad, (uint8_t)p[bad],
		       pat_expected(0xdeadbeef, bad));
		return 1;
	}
	printf("unload-holder: all %zu MiB intact\n", size >> 20);
	if (!got_signal && !access(modpath, F_OK))
		return 1;
	return 0;
}
