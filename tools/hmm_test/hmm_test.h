/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmm_test: shared declarations of the hmm_dummy user tool.
 */
#ifndef HMM_TEST_H
#define HMM_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <linux/hmm_dummy.h>

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define MAX_DEVICES	8

/* Global configuration, filled by main() before any subcommand runs. */
struct hmm_cfg {
	const char *prefix;	/* device node prefix, e.g. "/dev/hmm_dummy" */
	int ndev;		/* device nodes found: prefix0..prefix(ndev-1) */
	bool dummy;		/* the devices answer HMM_DUMMY_INFO/STATS */
	bool sysfs;		/* /sys/class/hmm_dummy exists */
	struct hmm_dummy_info info[MAX_DEVICES];
	unsigned long page_size;
	int verbose;
};

extern struct hmm_cfg cfg;

/* dev.c: the uAPI helpers.  They return 0 or -errno. */
void hmm_probe(const char *prefix);
int hmm_open(int idx);
int hmm_cmd(int fd, unsigned long req, void *addr, void *ptr,
	    unsigned long npages, struct hmm_dmirror_cmd *out);
int hmm_cmd_raw(int fd, unsigned long req, struct hmm_dmirror_cmd *cmd);
int hmm_migrate_to_dev_any_cpu(int fd, void *addr, unsigned long npages,
			       int *tries);
int hmm_info(int fd, struct hmm_dummy_info *info);
int hmm_stats(int fd, struct hmm_dummy_stats *st);
int hmm_stats_dev(int idx, struct hmm_dummy_stats *st);
int hmm_sysfs_stat(int idx, const char *field, unsigned long long *val);
const char *hmm_cmd_name(unsigned long req);

struct stat_field {
	const char *name;
	size_t off;
};
extern const struct stat_field stat_fields[];
extern const size_t nr_stat_fields;
static inline uint64_t stat_get(const struct hmm_dummy_stats *st, size_t i)
{
	return *(const uint64_t *)((const char *)st + stat_fields[i].off);
}

/* util.c */
uint64_t pat_word(uint64_t seed, uint64_t idx);
void pat_fill(void *buf, size_t len, uint64_t seed);
/* Returns the offset of the first bad byte, or -1 when all is well. */
long pat_check(const void *buf, size_t len, uint64_t seed);
long pat_check_off(const void *buf, size_t len, uint64_t seed, size_t off);
uint8_t pat_expected(uint64_t seed, size_t off);
void *map_anon(size_t len, int prot, int flags);
void *map_aligned(size_t len, size_t align);
double now_sec(void);
void sleep_ms(unsigned int ms);
int pin_cpu(int cpu);
int read_file_str(const char *path, char *buf, size_t len);
int write_file_str(const char *path, const char *val);
int write_file_in(const char *dir, const char *file, const char *val);
long meminfo_value(const char *key);
/* hmm_dummy's module parameters (test hooks among them). */
#define HMM_PARAMS	"/sys/module/hmm_dummy/parameters/"
int hmm_param_set(const char *name, unsigned long val);
long hmm_param_get(const char *name);
bool hmm_peer_group(void);
bool thp_enabled(void);
bool hugetlb_available(long *free_pages, long *hpage_size, char *why,
		       size_t whylen);
void *hugetlb_alloc(size_t len, const char **how);
void hugetlb_free(void *p, size_t len, const char *how);
int count_snapshot(int fd, void *addr, unsigned long npages, uint8_t val,
		   uint8_t mask);

/* Pages of [p, p + n pages) that sit on the device behind @fd. */
static inline int n_local(int fd, void *p, unsigned long n)
{
	return count_snapshot(fd, p, n, HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL,
			      0xf0);
}

/* Pages of [p, p + n pages) in the coherent memory of the device at @fd. */
static inline int n_coherent(int fd, void *p, unsigned long n)
{
	return count_snapshot(fd, p, n, HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL,
			      0xf0);
}

int coherent_dev(int k);
int wait_stats_settle(int idx, const struct hmm_dummy_stats *base,
		      struct hmm_dummy_stats *now, unsigned int ms);
int report_unreturned_pages(const struct hmm_dummy_stats *base,
			    void (*report)(const char *line));

/* runner.c: the functional test suite; exit codes of kselftest. */
enum { T_PASS = 0, T_FAIL = 1, T_SKIP = 4 };

#define T_DUMMY		0x1	/* needs hmm_dummy's stats/info commands */
#define T_TWO		0x2	/* needs two devices */
#define T_SLOW		0x4	/* long timeout */
/* Hits known test_hmm bugs (WARN/oops): not run against test_hmm. */
#define T_NOCOMPAT	0x8

struct tcase {
	const char *name;
	int (*fn)(void);
	unsigned int flags;
	const char *desc;
};

struct tgroup {
	const struct tcase *cases;
	size_t n;
};

extern const struct tgroup tests_basic, tests_migrate, tests_mm, tests_thp,
	tests_evict, tests_memcg, tests_paths, tests_engine, tests_dma,
	tests_peer, tests_coherent;

void t_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int t_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int t_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Each CHECK* below counts every time it runs (run --count-checks). */
void t_counted(void);

#define CHECK(c) do {							\
	t_counted();							\
	if (!(c))							\
		return t_fail(__FILE__, __LINE__, "%s", #c);		\
} while (0)
#define CHECKF(c, ...) do {						\
	t_counted();							\
	if (!(c))							\
		return t_fail(__FILE__, __LINE__, __VA_ARGS__);		\
} while (0)
#define CHECK_EQ(a, b) do {						\
	long long __a = (long long)(a), __b = (long long)(b);		\
	t_counted();							\
	if (__a != __b)							\
		return t_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", \
			      #a, #b, __a, __b);			\
} while (0)
/* An ioctl wrapper call that must give this result (0 or -Exxx). */
#define CHECK_RET(expr, want) do {					\
	int __r = (expr), __w = (want);					\
	t_counted();							\
	if (__r != __w)							\
		return t_fail(__FILE__, __LINE__, "%s: got %d (%s), want %d (%s)", \
			      #expr, __r, strerror(-__r), __w, strerror(-__w)); \
} while (0)
#define CHECK_PAT(buf, len, seed) do {					\
	long __o = pat_check((buf), (len), (seed));			\
	t_counted();							\
	if (__o >= 0)							\
		return t_fail(__FILE__, __LINE__,			\
			      "data mismatch at %p (+%ld): got 0x%02x want 0x%02x", \
			      (char *)(buf) + __o, __o,			\
			      ((uint8_t *)(buf))[__o],			\
			      pat_expected((seed), __o));		\
} while (0)
#define CHECK_PAT_OFF(buf, len, seed, off) do {				\
	long __o = pat_check_off((buf), (len), (seed), (off));		\
	t_counted();							\
	if (__o >= 0)							\
		return t_fail(__FILE__, __LINE__,			\
			      "data mismatch at %p (+%ld): got 0x%02x want 0x%02x", \
			      (char *)(buf) + __o, __o,			\
			      ((uint8_t *)(buf))[__o],			\
			      pat_expected((seed), (off) + __o));	\
} while (0)
#define SKIP(...) return t_skip(__VA_ARGS__)
/* The driver's counters, and how much one grew between two readings. */
#define STATS(fd, st) CHECK_RET(hmm_stats((fd), (st)), 0)
#define DELTA(a, b, f) ((long long)((b).f - (a).f))

/*
 * fixture.c: what most cases start from.  fx_setup() opens device 0 (and 1
 * with FX_TWO), maps @npages of anonymous read-write memory (p), allocates
 * a host buffer as large (m) for the device's data and, unless @seed is
 * FX_NOFILL, fills p with the pattern @seed.  fx_cmd() runs a command on
 * pages [first, first + n) of p with m as its buffer and returns 0 or
 * -errno (the result in c); fx_ok() is fx_cmd() that must succeed for all
 * n pages (it checks both).  A case calls them through FX(), which makes
 * their failure the case's.
 */
#define FX_TWO		0x1	/* open device 1 too: fd[1] */
#define FX_NOBUF	0x2	/* no host buffer: m is NULL */
#define FX_PROT_NONE	0x4	/* p mapped PROT_NONE */
#define FX_COHERENT	0x8	/* the coherent devices, not 0 and 1 */
#define FX_ALIGN(shift)	((shift) << 8)	/* p aligned to 1 << shift bytes */
#define FX_ALIGNED	FX_ALIGN(21)	/* p aligned to a THP boundary */
#define FX_NOFILL	(-1)

struct fx {
	int fd[2];		/* device 0, device 1 (FX_TWO) or -1 */
	int dev[2];		/* their indices (N of prefixN) */
	char *p;		/* the memory under test */
	char *m;		/* host buffer of the same size */
	unsigned long npages;
	size_t size;		/* npages * page size */
	struct hmm_dmirror_cmd c;	/* of the last fx_cmd()/fx_ok() */
};

int fx_setup(struct fx *f, unsigned long npages, unsigned int flags,
	     int seed);
int fx_cmd(struct fx *f, int dev, unsigned long req, unsigned long first,
	   unsigned long n);
int fx_ok(struct fx *f, int dev, unsigned long req, unsigned long first,
	  unsigned long n);
int fx_snapshot_split(struct fx *f, int dev, unsigned long h, uint8_t first,
		      uint8_t second);
void fx_teardown(struct fx *f);

#define FX(step) do {							\
	int __s = (step);						\
	if (__s != T_PASS) {						\
		if (__s == T_FAIL)					\
			t_diag("  in %s at %s:%d", #step, __FILE__, __LINE__); \
		return __s;						\
	}								\
} while (0)
/* The commands over the whole of p, on device 0. */
int fx_all(struct fx *f, unsigned long req);
#define FX_TO_DEV(f)	FX(fx_all((f), HMM_DMIRROR_MIGRATE_TO_DEV))
#define FX_TO_SYS(f)	FX(fx_all((f), HMM_DMIRROR_MIGRATE_TO_SYS))
#define FX_READ(f)	FX(fx_all((f), HMM_DMIRROR_READ))
#define FX_WRITE(f)	FX(fx_all((f), HMM_DMIRROR_WRITE))
/* p (FX_PAT) or m (FX_PAT_M) holds the pattern @seed throughout. */
int fx_pat(const struct fx *f, bool host, uint64_t seed);
#define FX_PAT(f, seed)		FX(fx_pat((f), false, (seed)))
#define FX_PAT_M(f, seed)	FX(fx_pat((f), true, (seed)))

int cmd_run(int argc, char **argv);

/* Other subcommands. */
int cmd_cycle(int argc, char **argv);
int cmd_stress(int argc, char **argv);
int cmd_fuzz(int argc, char **argv);
int cmd_faultinject(int argc, char **argv);
int cmd_exit_race(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_unload_holder(int argc, char **argv);

/*
 * args.c: a command's options.  A table of struct opt, ended by an entry
 * without a name, says for each option its type, where its value goes and,
 * for a number or a size, the range allowed.
 */
enum opt_type {
	OPT_FLAG,	/* bool, set by the option (no value) */
	OPT_STR,	/* const char * */
	OPT_STRS,	/* struct opt_strs: every value of a repeated option */
	OPT_INT,	/* int */
	OPT_UINT,	/* unsigned int */
	OPT_ULONG,	/* unsigned long */
	OPT_U64,	/* uint64_t */
	OPT_SIZE,	/* size_t, with an optional K, M or G */
};

struct opt {
	const char *name;
	enum opt_type type;
	void *val;
	unsigned long long min, max;
};

/* An entry of the table: a flag or string(s); a number or size in [lo, hi]. */
#define OPT_ARG(name, type, ptr)		{ name, type, ptr, 0, 0 }
#define OPT_NUM(name, type, ptr, lo, hi)	{ name, type, ptr, lo, hi }

struct opt_strs {
	char **v;
	int n;
};

#define ARGS_OK		(-1)
/* Limits of the options for a duration and for a number of processes. */
#define MAX_SECONDS	(7 * 86400)
#define MAX_PROCS	1024
/* Seconds between the progress lines of the long commands (on stderr). */
#define PROGRESS_SEC	10

/*
 * Parse argv[1..argc) of the command argv[0] by @opts with getopt_long():
 * "--opt VALUE" and "--opt=VALUE" both work.  @first NULL: the command
 * takes no operands; else *@first is the index of the first one.  Returns
 * ARGS_OK, or the command's exit status: 0 after -h/--help (the usage
 * "hmm_test CMD @usage" on stdout), 2 after a bad argument (a message and
 * the usage on stderr).  Opens no device: a command probes its devices
 * (hmm_probe()) once its arguments are known to be good.
 */
int parse_args(int argc, char **argv, const char *usage,
	       const struct opt *opts, int *first);
/* @s as a number in [min, max]: 0, -EINVAL (not a number) or -ERANGE. */
int parse_u64(const char *s, unsigned long long min, unsigned long long max,
	      unsigned long long *v);

#endif /* HMM_TEST_H */
