// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_test: command line entry of the hmm_dummy user tool.
 */
#include <getopt.h>
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
	  "[--max N] [--device N] [--load M.ko [--params P]]  fail each allocation (or init step) once" },
	{ "exit-race", cmd_exit_race,
	  "[--seconds N] [--procs N] [--pages N]  evictions racing process exit" },
	{ "stress", cmd_stress, "[--seconds N] [--procs N] [--seed N] [--coherent]" },
	{ "stats", cmd_stats, "[--device N]  print the driver's counters" },
	{ "bench", cmd_bench,
	  "[--min-size B] [--max-size B] [--reps N] [--csv FILE] [--modes thp,4k] "
	  "[--p4-size B] [--no-p4] [--p5] [--windows N,N,...]" },
	{ "unload-holder", cmd_unload_holder,
	  "[--size B] [--ready-file F] [--timeout S] [--device N] [--module NAME] "
	  "[--orphan]" },
};

static void usage(FILE *f)
{
	size_t i;

	/* Each line is checked against hmm_test.1 (scripts/check-manpage.sh). */
	fprintf(f,
		"usage: hmm_test [--dev PREFIX] [-v] COMMAND [ARGS]\n"
		"  --dev PREFIX  device nodes PREFIX0..N (default /dev/hmm_dummy;\n"
		"                /dev/hmm_dmirror runs the test_hmm compatible subset)\n"
		"commands:\n");
	for (i = 0; i < ARRAY_SIZE(cmds); i++)
		fprintf(f, "  %-14s %s\n", cmds[i].name, cmds[i].help);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "device-path", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	const char *prefix = getenv("HMM_TEST_DEV");
	size_t c;
	int o;

	opterr = 0;
	/* "+": the options before COMMAND only; the command parses its own. */
	while ((o = getopt_long(argc, argv, "+:hv", lo, NULL)) != -1) {
		if (o == 'd') {
			prefix = optarg;
			continue;
		}
		if (o == 'v') {
			cfg.verbose++;
			continue;
		}
		if (o == 'h') {
			usage(stdout);
			return 0;
		}
		fprintf(stderr, o == ':' ? "hmm_test: %s needs a value\n" :
			"hmm_test: unknown option '%s'\n", argv[optind - 1]);
		usage(stderr);
		return 2;
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (prefix)
		cfg.prefix = prefix;
	/* The command gets its name as argv[0], like a program. */
	for (c = 0; c < ARRAY_SIZE(cmds); c++)
		if (!strcmp(argv[optind], cmds[c].name))
			return cmds[c].fn(argc - optind, argv + optind);
	fprintf(stderr, "hmm_test: unknown command '%s'\n", argv[optind]);
	usage(stderr);
	return 2;
}
