// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_test exit-race: evictions racing process exit.
 *
 * Meant for a device of a few MiB (vram_mb=2..8) on the debug kernel
 * (KASAN with SLUB_RCU_DEBUG, which catches use of a freed anon_vma).
 * Short-lived children each migrate a buffer to device 0 and exit at once,
 * leaving their pages on the device; every migration finds the device full,
 * so it evicts the least recently used pages, which belong to children that
 * are exiting or just exited.  A pfn-based eviction (migrate_device_range())
 * would work on pages whose process, VMAs and anon_vma are being torn down
 * under it; hmm_dummy's eviction goes through the owning process and must
 * skip those that are exiting (drivers/hmm_dummy/evict.c).  The parent
 * checks that every child saw its own data on the device and, at the end,
 * that every device page came back.
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

static int exitrace_child(unsigned long npages, uint64_t seed)
{
	size_t size = npages * cfg.page_size;
	struct hmm_dmirror_cmd c;
	char *p, *m;
	int fd, r;

	fd = hmm_open(0);
	p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	m = malloc(size);
	if (fd < 0 || !p || !m)
		return 2;
	pat_fill(p, size, seed);
	r = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, m, npages, &c);
	if (r && r != -ENOENT)
		return 3;
	/* What reached the device must be this child's data. */
	if (!r && pat_check(m, size, seed) >= 0)
		return 4;
	if (seed & 1)
		return 0;	/* exit with the pages on the device */
	/* Or touch some of them back first, racing the evictions. */
	return pat_check(p, size, seed) >= 0 ? 5 : 0;
}

/* A progress line on stderr: children and evictions so far. */
static void exitrace_progress(double secs, unsigned long seconds,
			      unsigned long spawned,
			      const struct hmm_dummy_stats *base)
{
	struct hmm_dummy_stats now;

	if (hmm_stats_dev(0, &now))
		return;
	fprintf(stderr, "exit-race: %.0f s of %lu, %lu children so far, %llu evictions\n",
		secs, seconds, spawned,
		(unsigned long long)(now.evictions - base->evictions));
}

int cmd_exit_race(int argc, char **argv)
{
	unsigned long seconds = 30, procs = 4, npages = 256, spawned = 0;
	struct hmm_dummy_stats base, now;
	int i, rc = 0, st, bad[8] = { 0 };
	const struct opt opts[] = {
		OPT_NUM("seconds", OPT_ULONG, &seconds, 1, MAX_SECONDS),
		OPT_NUM("procs", OPT_ULONG, &procs, 1, MAX_PROCS),
		OPT_NUM("pages", OPT_ULONG, &npages, 1, 1UL << 20),
		{ }
	};
	double start, end, next;
	pid_t pid;

	i = parse_args(argc, argv, "[--seconds N] [--procs N] [--pages N]",
		       opts, NULL);
	if (i != ARGS_OK)
		return i;
	hmm_probe(cfg.prefix);
	if (!cfg.ndev || !cfg.dummy || hmm_stats_dev(0, &base)) {
		fprintf(stderr, "exit-race: needs hmm_dummy device nodes\n");
		return 1;
	}
	printf("exit-race: %lu s, %lu children at a time, %lu pages each, device 0 holds %llu pages\n",
	       seconds, procs, npages, (unsigned long long)base.capacity);
	fflush(stdout);
	start = now_sec();
	end = start + seconds;
	next = start + PROGRESS_SEC;
	for (i = 0; (unsigned long)i < procs; i++) {
		pid = fork();
		if (pid == 0)
			_exit(exitrace_child(npages, spawned + i + 1));
	}
	spawned = procs;
	while (now_sec() < end) {
		if (now_sec() >= next) {
			exitrace_progress(now_sec() - start, seconds, spawned,
					  &base);
			next += PROGRESS_SEC;
		}
		pid = wait(&st);
		if (pid < 0)
			break;
		/* SIGKILL is ours; any other end is a failure. */
		if (WIFSIGNALED(st) ? WTERMSIG(st) != SIGKILL :
				      WEXITSTATUS(st) != 0) {
			int code = WIFEXITED(st) ? WEXITSTATUS(st) : 7;

			bad[code & 7]++;
			rc = 1;
		}
		spawned++;
		pid = fork();
		if (pid == 0)
			_exit(exitrace_child(npages, spawned));
		if (pid > 0 && spawned % 3 == 0) {
			/* Killed mid-call now and then. */
			usleep(spawned % 1000);
			kill(pid, SIGKILL);
		}
	}
	while (wait(&st) > 0)
		if ((WIFSIGNALED(st) && WTERMSIG(st) != SIGKILL) ||
		    (WIFEXITED(st) && WEXITSTATUS(st))) {
			bad[WEXITSTATUS(st) & 7]++;
			rc = 1;
		}
	if (hmm_stats_dev(0, &now))
		return 1;
	printf("exit-race: %lu children, %llu evictions (%llu pages evicted) during the run\n",
	       spawned, (unsigned long long)(now.evictions - base.evictions),
	       (unsigned long long)(now.migrated_to_sys_evict -
				    base.migrated_to_sys_evict));
	if (rc)
		printf("exit-race: FAIL: children failing: open/map %d, migrate %d, device data %d, CPU data %d, signal %d\n",
		       bad[2], bad[3], bad[4], bad[5], bad[7]);
	if (wait_stats_settle(0, &base, &now, 5000)) {
		printf("exit-race: FAIL: in_use %llu, was %llu\n",
		       (unsigned long long)now.in_use,
		       (unsigned long long)base.in_use);
		rc = 1;
	}
	printf("exit-race: %s\n", rc ? "FAIL" : "PASS");
	return rc;
}
