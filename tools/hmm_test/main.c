// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_test: command line entry of the hmm_dummy user tool.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmm_test.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} cmds[] = {
	{ "run", cmd_run,
	  "[--list] [--ksft] [--count-checks] [--timeout SECS] [--exclude P]... [PATTERN...]  functional suite (KTAP)" },
	{ "cycle", cmd_cycle,
	  "[--size BYTES] [--cycles N] [--threads N] [--device N] [--pattern random|seq]" },
	{ "fuzz", cmd_fuzz,
	  "[--calls N] [--seed S]  random ioctls while the address space changes" },
	{ "faultinject", cmd_faultinject,
	  "[--max N] [--load M.ko [--params P]]  fail each allocation (or init step) once" },
	{ "exit-race", cmd_exit_race,
	  "[--seconds N] [--procs N] [--pages N]  evictions racing process exit" },
	{ "stress", cmd_stress, "[--seconds N] [--procs N] [--seed N]" },
	{ "stats", cmd_stats, "[--device N]  print the driver's counters" },
	{ "bench", cmd_bench,
	  "[--min-size B] [--max-size B] [--reps N] [--csv FILE] [--modes thp,4k] "
	  "[--p4-size B] [--no-p4] [--p5] [--windows N,N,...]" },
	{ "unload-holder", cmd_unload_holder,
	  "[--size B] [--ready-file F] [--timeout S] [--device N] [--module NAME] "
	  "[--orphan]" },
};

static void usage(void)
{
	size_t i;

	/* Each line is checked against hmm_test.1 (scripts/check-manpage.sh). */
	fprintf(stderr,
		"usage: hmm_test [--dev PREFIX] [-v] COMMAND [ARGS]\n"
		"  --dev PREFIX  device nodes PREFIX0..N (default /dev/hmm_dummy;\n"
		"                /dev/hmm_dmirror runs the test_hmm compatible subset)\n"
		"commands:\n");
	for (i = 0; i < ARRAY_SIZE(cmds); i++)
		fprintf(stderr, "  %-14s %s\n", cmds[i].name, cmds[i].help);
}

int main(int argc, char **argv)
{
	const char *prefix = getenv("HMM_TEST_DEV");
	int i = 1;
	size_t c;

	if (!prefix)
		prefix = "/dev/hmm_dummy";
	for (; i < argc && argv[i][0] == '-'; i++) {
		if ((!strcmp(argv[i], "--dev") ||
		     !strcmp(argv[i], "--device-path")) && i + 1 < argc) {
			prefix = argv[++i];
		} else if (!strcmp(argv[i], "-v")) {
			cfg.verbose++;
		} else {
			usage();
			return !strcmp(argv[i], "-h") ||
			       !strcmp(argv[i], "--help") ? 0 : 2;
		}
	}
	if (i >= argc) {
		usage();
		return 2;
	}
	hmm_probe(prefix);
	for (c = 0; c < ARRAY_SIZE(cmds); c++)
		if (!strcmp(argv[i], cmds[c].name))
			return cmds[c].fn(argc - i - 1, argv + i + 1);
	fprintf(stderr, "hmm_test: unknown command '%s'\n", argv[i]);
	usage();
	return 2;
}
