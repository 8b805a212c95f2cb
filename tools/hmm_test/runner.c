// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_test: test registry and runner.  Every case runs in its own forked
 * process group with a timeout; output is KTAP.  On hmm_dummy the runner also
 * checks after every case that all device pages the case allocated came back
 * through page_free once the case's processes were gone, and that no DMA
 * mapping of the device is left.
 */
#include <errno.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "hmm_test.h"

#define DEFAULT_TIMEOUT	120
#define SLOW_TIMEOUT	600

struct tresult {
	char skip[256];
	unsigned long checks;	/* CHECK*s run by the case and its children */
};

static struct tresult *result;

static const struct tgroup *groups[] = {
	&tests_basic, &tests_migrate, &tests_mm, &tests_thp, &tests_evict,
	&tests_memcg, &tests_paths, &tests_engine, &tests_dma, &tests_peer,
	&tests_coherent,
};

void t_diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

int t_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("# %s:%d: ", file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	return T_FAIL;
}

int t_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (result)
		vsnprintf(result->skip, sizeof(result->skip), fmt, ap);
	va_end(ap);
	return T_SKIP;
}

void t_counted(void)
{
	if (result)
		__atomic_add_fetch(&result->checks, 1, __ATOMIC_RELAXED);
}

/* Patterns of `run --exclude`: those cases are left out. */
static char **xpat;
static int nxpat;

static bool matches_any(const char *name, int npat, char **pat)
{
	int i;

	for (i = 0; i < npat; i++)
		if (!fnmatch(pat[i], name, 0) || strstr(name, pat[i]))
			return true;
	return false;
}

static bool matches(const char *name, int npat, char **pat)
{
	if (matches_any(name, nxpat, xpat))
		return false;
	return !npat || matches_any(name, npat, pat);
}

/* Why the current setup cannot run @tc, or NULL. */
static const char *precondition(const struct tcase *tc)
{
	if (cfg.ndev < 1)
		return "no device node";
	if ((tc->flags & T_DUMMY) && !cfg.dummy)
		return "needs hmm_dummy's stats/info commands (not test_hmm)";
	if ((tc->flags & T_NOCOMPAT) && !cfg.dummy)
		return "test_hmm WARNs or oopses here (device access to its own read-only or re-faulted device pages)";
	if ((tc->flags & T_TWO) && cfg.ndev < 2)
		return "needs two devices";
	return NULL;
}

static int run_child(const struct tcase *tc)
{
	int ret;

	setpgid(0, 0);
	signal(SIGPIPE, SIG_DFL);
	ret = tc->fn();
	fflush(stdout);
	fflush(stderr);
	_exit(ret);
}

/* Wait for @pid for at most @secs seconds; -1 on timeout (child killed). */
static int wait_case(pid_t pid, unsigned int secs, int *status)
{
	double end = now_sec() + secs;
	pid_t r;

	for (;;) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
		if (now_sec() > end) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, status, 0);
			return -1;
		}
		sleep_ms(5);
	}
}

static void diag_line(const char *line)
{
	t_diag("%s", line);
}

/* Page accounting across a case; returns false (with a diag) on a leak. */
static bool leak_check(struct hmm_dummy_stats *base)
{
	return !report_unreturned_pages(base, diag_line);
}

static const char run_usage[] =
	"[--list] [--ksft] [--count-checks] [--timeout SECS] [--exclude PATTERN]... [PATTERN...]\n"
	"  PATTERN is a glob or substring of case names; cases matching an\n"
	"  --exclude PATTERN are left out.  A PATTERN that matches no case is\n"
	"  an error.\n"
	"  --ksft: kselftest mode (no device is a skip, no summary line)\n"
	"  --count-checks: after each case a line '# checks NAME N': the\n"
	"  number of checks the case ran";

/* The first of @npat patterns that matches no case at all, or NULL. */
static const char *unmatched(int npat, char **pat)
{
	size_t g, c;
	int i;

	for (i = 0; i < npat; i++) {
		bool hit = false;

		for (g = 0; g < ARRAY_SIZE(groups) && !hit; g++)
			for (c = 0; c < groups[g]->n && !hit; c++)
				hit = matches_any(groups[g]->cases[c].name,
						  1, &pat[i]);
		if (!hit)
			return pat[i];
	}
	return NULL;
}

int cmd_run(int argc, char **argv)
{
	unsigned int passed = 0, failed = 0, skipped = 0, total = 0, n = 0;
	unsigned int timeout = 0;
	struct hmm_dummy_stats base[MAX_DEVICES];
	bool list = false, ksft = false, count = false;
	struct opt_strs ex = { };
	const struct opt opts[] = {
		OPT_ARG("list", OPT_FLAG, &list),
		OPT_ARG("ksft", OPT_FLAG, &ksft),
		OPT_ARG("count-checks", OPT_FLAG, &count),
		OPT_NUM("timeout", OPT_UINT, &timeout, 1, MAX_SECONDS),
		OPT_ARG("exclude", OPT_STRS, &ex),
		{ }
	};
	const char *bad;
	char **pat;
	int npat, first, i;
	size_t g, c;
	double t0 = now_sec();

	i = parse_args(argc, argv, run_usage, opts, &first);
	if (i != ARGS_OK)
		return i;
	pat = argv + first;
	npat = argc - first;
	xpat = ex.v;
	nxpat = ex.n;
	bad = unmatched(npat, pat);
	if (!bad)
		bad = unmatched(nxpat, xpat);
	if (bad) {
		fprintf(stderr, "hmm_test run: no case matches '%s' (see run --list)\n",
			bad);
		return 2;
	}
	hmm_probe(cfg.prefix);

	for (g = 0; g < ARRAY_SIZE(groups); g++)
		for (c = 0; c < groups[g]->n; c++)
			if (matches(groups[g]->cases[c].name, npat, pat))
				total++;
	if (list) {
		for (g = 0; g < ARRAY_SIZE(groups); g++)
			for (c = 0; c < groups[g]->n; c++) {
				const struct tcase *tc = &groups[g]->cases[c];

				if (matches(tc->name, npat, pat))
					printf("%-32s %s\n", tc->name, tc->desc);
			}
		return 0;
	}

	if (!cfg.ndev && ksft) {
		/* kselftest: a test whose module is not there skips. */
		printf("KTAP version 1\n1..0 # SKIP no device node %s0\n",
		       cfg.prefix);
		return T_SKIP;
	}
	if (!cfg.ndev) {
		/* No device at all is an error (module not loaded?), not a skip. */
		printf("KTAP version 1\n1..0\n");
		printf("Bail out! no device node %s0 (module not loaded?)\n",
		       cfg.prefix);
		printf("0 passed, 1 failed, 0 skipped\n");
		return 1;
	}
	result = mmap(NULL, sizeof(*result), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (result == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("KTAP version 1\n");
	printf("# hmm_test: devices %s0..%d (%s)\n", cfg.prefix, cfg.ndev - 1,
	       cfg.dummy ? "hmm_dummy" : "test_hmm compatible subset");
	if (cfg.dummy)
		printf("# capacity %llu pages, fault_window %u, peer_migration %u\n",
		       (unsigned long long)cfg.info[0].capacity_pages,
		       cfg.info[0].fault_window, cfg.info[0].peer_migration);
	printf("1..%u\n", total);

	for (g = 0; g < ARRAY_SIZE(groups); g++) {
		for (c = 0; c < groups[g]->n; c++) {
			const struct tcase *tc = &groups[g]->cases[c];
			const char *why;
			unsigned int secs;
			int status = 0, ret;
			double t1;
			pid_t pid;

			if (!matches(tc->name, npat, pat))
				continue;
			n++;
			why = precondition(tc);
			if (why) {
				printf("ok %u %s # SKIP %s\n", n, tc->name, why);
				skipped++;
				continue;
			}
			memset(result, 0, sizeof(*result));
			for (i = 0; cfg.dummy && i < cfg.ndev; i++)
				hmm_stats_dev(i, &base[i]);
			printf("# %s: %s\n", tc->name, tc->desc);
			t1 = now_sec();
			pid = fork();
			if (pid < 0) {
				perror("fork");
				return 1;
			}
			if (!pid)
				run_child(tc);
			secs = timeout ? timeout :
			       (tc->flags & T_SLOW) ? SLOW_TIMEOUT : DEFAULT_TIMEOUT;
			if (wait_case(pid, secs, &status)) {
				printf("# %s: timed out after %u s\n",
				       tc->name, secs);
				ret = T_FAIL;
			} else if (WIFSIGNALED(status)) {
				printf("# %s: killed by signal %d (%s)\n",
				       tc->name, WTERMSIG(status),
				       strsignal(WTERMSIG(status)));
				ret = T_FAIL;
			} else {
				ret = WEXITSTATUS(status);
			}
			/* Leftover grandchildren of the case. */
			kill(-pid, SIGKILL);
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
			if (cfg.dummy && ret != T_SKIP && !leak_check(base))
				ret = T_FAIL;
			if (cfg.verbose)
				printf("# %s: %.2f s\n", tc->name, now_sec() - t1);
			if (count)
				printf("# checks %s %lu\n", tc->name,
				       __atomic_load_n(&result->checks,
						       __ATOMIC_RELAXED));
			if (ret == T_PASS) {
				printf("ok %u %s\n", n, tc->name);
				passed++;
			} else if (ret == T_SKIP) {
				printf("ok %u %s # SKIP %s\n", n, tc->name,
				       result->skip[0] ? result->skip : "?");
				skipped++;
			} else {
				printf("not ok %u %s\n", n, tc->name);
				failed++;
			}
		}
	}
	printf("# run time %.1f s\n", now_sec() - t0);
	printf("# Totals: pass:%u fail:%u xfail:0 xpass:0 skip:%u error:0\n",
	       passed, failed, skipped);
	/* The harness counts this line; it is not KTAP, so not for kselftest. */
	if (!ksft)
		printf("%u passed, %u failed, %u skipped\n", passed, failed,
		       skipped);
	if (failed)
		return T_FAIL;
	return passed || !skipped ? T_PASS : T_SKIP;
}
