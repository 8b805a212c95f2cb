// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_test: the options of a command, parsed by getopt_long() from a table,
 * with strict numbers: decimal or 0x hexadecimal, nothing after the digits
 * but, for a size, one K, M or G; within the range the table gives.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmm_test.h"

/* The value of the option at @idx of the table: getopt_long()'s val. */
#define OPT_VAL(idx)	(256 + (idx))

#define fallthrough	__attribute__((__fallthrough__))

/* @s as a number (no sign, no space); 0 or -EINVAL, -ERANGE. */
static int parse_num(const char *s, unsigned long long *v, char **end)
{
	int base = 10;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	/* strtoull() would take a sign, spaces or a second 0x. */
	if (!(base == 16 ? isxdigit((unsigned char)*s) :
			   isdigit((unsigned char)*s)) ||
	    (base == 16 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')))
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, end, base);
	return errno ? -errno : 0;
}

int parse_u64(const char *s, unsigned long long min, unsigned long long max,
	      unsigned long long *v)
{
	char *end;
	int ret = parse_num(s, v, &end);

	if (!ret && *end)
		ret = -EINVAL;
	if (!ret && (*v < min || *v > max))
		ret = -ERANGE;
	return ret;
}

/* A number with an optional K, M or G (KiB, MiB, GiB) after it. */
static int parse_size(const char *s, unsigned long long *v)
{
	unsigned int shift = 0;
	char *end;
	int ret = parse_num(s, v, &end);

	if (ret)
		return ret;
	switch (*end) {
	case 'g': case 'G':
		shift += 10;
		fallthrough;
	case 'm': case 'M':
		shift += 10;
		fallthrough;
	case 'k': case 'K':
		shift += 10;
		end++;
	}
	if (*end)
		return -EINVAL;
	if (shift && *v > ~0ULL >> shift)
		return -ERANGE;
	*v <<= shift;
	return 0;
}

/* Store @arg as the value of @o; 0 or -1 after a message. */
static int store(const char *cmd, const struct opt *o, const char *arg)
{
	unsigned long long v;
	int ret;

	switch (o->type) {
	case OPT_FLAG:
		*(bool *)o->val = true;
		return 0;
	case OPT_STR:
		*(const char **)o->val = arg;
		return 0;
	case OPT_STRS: {
		struct opt_strs *l = o->val;

		l->v[l->n++] = (char *)arg;
		return 0;
	}
	case OPT_SIZE:
		ret = parse_size(arg, &v);
		if (!ret && (v < o->min || v > o->max))
			ret = -ERANGE;
		break;
	default:
		ret = parse_u64(arg, o->min, o->max, &v);
		break;
	}
	if (ret == -ERANGE) {
		fprintf(stderr, "hmm_test %s: --%s %s: out of range (%llu to %llu)\n",
			cmd, o->name, arg, o->min, o->max);
		return -1;
	}
	if (ret) {
		fprintf(stderr, "hmm_test %s: --%s %s: not a %s\n", cmd,
			o->name, arg, o->type == OPT_SIZE ?
			"size (a number, then optionally K, M or G)" :
			"number (decimal or 0x hexadecimal)");
		return -1;
	}
	switch (o->type) {
	case OPT_INT:
		*(int *)o->val = v;
		break;
	case OPT_UINT:
		*(unsigned int *)o->val = v;
		break;
	case OPT_ULONG:
		*(unsigned long *)o->val = v;
		break;
	case OPT_SIZE:
		*(size_t *)o->val = v;
		break;
	default:
		*(uint64_t *)o->val = v;
		break;
	}
	return 0;
}

int parse_args(int argc, char **argv, const char *usage,
	       const struct opt *opts, int *first)
{
	const char *cmd = argv[0];
	struct option *lo;
	size_t n, i;
	int c, ret = ARGS_OK;

	for (n = 0; opts[n].name; n++)
		if (opts[n].type == OPT_STRS)
			((struct opt_strs *)opts[n].val)->v =
				calloc(argc, sizeof(char *));
	lo = calloc(n + 2, sizeof(*lo));
	if (!lo) {
		perror("hmm_test");
		return 1;
	}
	for (i = 0; i < n; i++) {
		lo[i].name = opts[i].name;
		lo[i].has_arg = opts[i].type == OPT_FLAG ? no_argument :
							   required_argument;
		lo[i].val = OPT_VAL(i);
	}
	lo[n].name = "help";
	lo[n].val = 'h';
	optind = 0;
	opterr = 0;
	while (ret == ARGS_OK && (c = getopt_long(argc, argv, ":h", lo,
						  NULL)) != -1) {
		if (c == 'h') {
			printf("usage: hmm_test %s %s\n", cmd, usage);
			ret = 0;
		} else if (c == ':') {
			fprintf(stderr, "hmm_test %s: %s needs a value\n", cmd,
				argv[optind - 1]);
			ret = 2;
		} else if (c == '?') {
			if (optopt >= OPT_VAL(0))
				fprintf(stderr, "hmm_test %s: --%s takes no value\n",
					cmd, opts[optopt - OPT_VAL(0)].name);
			else if (optopt)
				fprintf(stderr, "hmm_test %s: unknown option '-%c'\n",
					cmd, optopt);
			else
				fprintf(stderr, "hmm_test %s: unknown option '%s'\n",
					cmd, argv[optind - 1]);
			ret = 2;
		} else if (store(cmd, &opts[c - OPT_VAL(0)], optarg)) {
			ret = 2;
		}
	}
	if (ret == ARGS_OK && optind < argc && !first) {
		fprintf(stderr, "hmm_test %s: unexpected argument '%s'\n", cmd,
			argv[optind]);
		ret = 2;
	}
	if (ret == 2)
		fprintf(stderr, "usage: hmm_test %s %s\n", cmd, usage);
	if (first)
		*first = optind;
	free(lo);
	return ret;
}
