// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_test: data patterns, memory mapping and small system helpers.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <hugetlbfs.h>

#include "hmm_test.h"

/* splitmix64: every 8-byte word of a buffer gets a distinct value. */
uint64_t pat_word(uint64_t seed, uint64_t idx)
{
	uint64_t z = seed + (idx + 1) * 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void pat_fill(void *buf, size_t len, uint64_t seed)
{
	uint64_t *p = buf;
	size_t i;

	for (i = 0; i < len / 8; i++)
		p[i] = pat_word(seed, i);
}

uint8_t pat_expected(uint64_t seed, size_t off)
{
	return pat_word(seed, off / 8) >> (8 * (off % 8));
}

long pat_check(const void *buf, size_t len, uint64_t seed)
{
	return pat_check_off(buf, len, seed, 0);
}

/* @buf holds the bytes at offset @off (a multiple of 8) of a pattern. */
long pat_check_off(const void *buf, size_t len, uint64_t seed, size_t off)
{
	const uint64_t *p = buf;
	size_t i, b;

	for (i = 0; i < len / 8; i++) {
		uint64_t w = pat_word(seed, i + off / 8);

		if (p[i] == w)
			continue;
		for (b = 0; b < 8; b++)
			if (((const uint8_t *)&p[i])[b] != (uint8_t)(w >> (8 * b)))
				return i * 8 + b;
	}
	return -1;
}

void *map_anon(size_t len, int prot, int flags)
{
	void *p = mmap(NULL, len, prot, flags | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* A private anonymous read/write mapping whose start is @align aligned. */
void *map_aligned(size_t len, size_t align)
{
	char *p = map_anon(len + align, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	uintptr_t a;

	if (!p)
		return NULL;
	a = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
	if (a > (uintptr_t)p)
		munmap(p, a - (uintptr_t)p);
	if (align - (a - (uintptr_t)p))
		munmap((void *)(a + len), align - (a - (uintptr_t)p));
	return (void *)a;
}

double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int read_file_str(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return n;
}

/* Write @val to @path (sysfs, tracefs, cgroupfs, debugfs); 0 or -errno. */
int write_file_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	if (n < 0)
		n = -errno;
	close(fd);
	return n < 0 ? (int)n : n == (ssize_t)strlen(val) ? 0 : -EIO;
}

/* write_file_str() of @dir/@file. */
int write_file_in(const char *dir, const char *file, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return write_file_str(path, val);
}

/* A value from /proc/meminfo (in the unit the file uses), -1 if absent. */
/* Write @val to hmm_dummy's module parameter @name: 0 or -errno. */
int hmm_param_set(const char *name, unsigned long val)
{
	char path[128], v[32];

	snprintf(path, sizeof(path), HMM_PARAMS "%s", name);
	snprintf(v, sizeof(v), "%lu", val);
	return write_file_str(path, v);
}

/* hmm_dummy's module parameter @name, or -1. */
long hmm_param_get(const char *name)
{
	char path[128], v[32];

	snprintf(path, sizeof(path), HMM_PARAMS "%s", name);
	if (read_file_str(path, v, sizeof(v)) < 0)
		return -1;
	return strtol(v, NULL, 0);
}

/* hmm_dummy loaded with peer_group=1 (a bool: "Y"; absent before it). */
bool hmm_peer_group(void)
{
	char v[8];

	if (read_file_str(HMM_PARAMS "peer_group", v, sizeof(v)) < 0)
		return false;
	return v[0] == 'Y' || v[0] == '1';
}

long meminfo_value(const char *key)
{
	char line[256];
	size_t klen = strlen(key);
	long val = -1;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			val = strtol(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return val;
}

bool thp_enabled(void)
{
	char buf[128];

	if (read_file_str("/sys/kernel/mm/transparent_hugepage/enabled",
			  buf, sizeof(buf)) < 0)
		return false;
	return !strstr(buf, "[never]");
}

bool hugetlb_available(long *free_pages, long *hpage_size, char *why,
		       size_t whylen)
{
	*free_pages = meminfo_value("HugePages_Free");
	*hpage_size = meminfo_value("Hugepagesize") * 1024;
	if (*free_pages < 0 || *hpage_size <= 0) {
		snprintf(why, whylen, "kernel without hugetlbfs");
		return false;
	}
	if (*free_pages < 2) {
		snprintf(why, whylen,
			 "no hugetlb pages reserved (HugePages_Free=%ld, boot with hugepages=N)",
			 *free_pages);
		return false;
	}
	return true;
}

/*
 * Hugetlbfs memory through libhugetlbfs when a hugetlbfs mount exists (the
 * library needs one), else through mmap(MAP_HUGETLB).  @how says which.
 */
void *hugetlb_alloc(size_t len, const char **how)
{
	void *p;

	if (hugetlbfs_find_path()) {
		p = get_hugepage_region(len, GHR_STRICT);
		if (p) {
			*how = "libhugetlbfs";
			return p;
		}
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	*how = "MAP_HUGETLB";
	return p == MAP_FAILED ? NULL : p;
}

void hugetlb_free(void *p, size_t len, const char *how)
{
	if (!strcmp(how, "libhugetlbfs"))
		free_hugepage_region(p);
	else
		munmap(p, len);
}

/* Number of pages whose snapshot byte satisfies (byte & mask) == val. */
int count_snapshot(int fd, void *addr, unsigned long npages, uint8_t val,
		   uint8_t mask)
{
	uint8_t *m = malloc(npages);
	unsigned long i;
	int ret, n = 0;

	if (!m)
		return -ENOMEM;
	ret = hmm_cmd(fd, HMM_DMIRROR_SNAPSHOT, addr, m, npages, NULL);
	if (ret) {
		free(m);
		return ret;
	}
	for (i = 0; i < npages; i++)
		if ((m[i] & mask) == val)
			n++;
	free(m);
	return n;
}

/*
 * Wait until every page handed out since @base came back through page_free:
 * in_use equal to the baseline and page_free_calls grown as much as
 * allocations.  Returns 0 when settled, -1 when @ms passed first.
 */
/*
 * The index of the @k-th coherent device (HMM_DUMMY_INFO version 3: the
 * ones hmm_dummy creates over spm_addr_dev0/1), or -1.
 */
int coherent_dev(int k)
{
	int i;

	for (i = 0; cfg.dummy && i < cfg.ndev; i++)
		if (cfg.info[i].version >= 3 &&
		    cfg.info[i].memory_type == HMM_DUMMY_MEMORY_COHERENT &&
		    !k--)
			return i;
	return -1;
}

int wait_stats_settle(int idx, const struct hmm_dummy_stats *base,
		      struct hmm_dummy_stats *now, unsigned int ms)
{
	double end = now_sec() + ms / 1000.0;

	for (;;) {
		if (hmm_stats_dev(idx, now))
			return -1;
		if (now->in_use == base->in_use &&
		    now->page_free_calls - base->page_free_calls ==
		    now->allocations - base->allocations)
			return 0;
		if (now_sec() > end)
			return -1;
		sleep_ms(10);
	}
}

/*
 * Wait (up to @ms) until device @idx has no live DMA mapping, as it must
 * once no file of it is open (STATS version 5; older modules pass).
 * Returns 0, or -1 with the last reading in @now.
 */
static int wait_dma_unmapped(int idx, struct hmm_dummy_stats *now,
			     unsigned int ms)
{
	double end = now_sec() + ms / 1000.0;

	for (;;) {
		if (hmm_stats_dev(idx, now))
			return -1;
		if (now->version < 5 || !now->dma_mapped)
			return 0;
		if (now_sec() > end)
			return -1;
		sleep_ms(10);
	}
}

/*
 * For every device, wait (up to 3 s) until the pages handed out since
 * base[idx] came back and no DMA mapping is left; each device for which
 * that did not happen is described in one line passed to @report.  Returns
 * the number of such devices.
 */
int report_unreturned_pages(const struct hmm_dummy_stats *base,
			    void (*report)(const char *line))
{
	struct hmm_dummy_stats now;
	char line[256];
	int i, bad = 0;

	for (i = 0; i < cfg.ndev; i++) {
		if (!wait_stats_settle(i, &base[i], &now, 3000))
			continue;
		snprintf(line, sizeof(line),
			 "device %d: pages not returned through page_free: in_use %llu (before %llu), allocations +%llu, page_free_calls +%llu",
			 i, (unsigned long long)now.in_use,
			 (unsigned long long)base[i].in_use,
			 (unsigned long long)(now.allocations -
					      base[i].allocations),
			 (unsigned long long)(now.page_free_calls -
					      base[i].page_free_calls));
		report(line);
		bad++;
	}
	for (i = 0; i < cfg.ndev; i++) {
		if (!wait_dma_unmapped(i, &now, 3000))
			continue;
		snprintf(line, sizeof(line),
			 "device %d: DMA mappings left with no file open: dma_mapped %llu",
			 i, (unsigned long long)now.dma_mapped);
		report(line);
		bad++;
	}
	return bad;
}

/* Run the calling thread on @cpu only; 0 or -1 with errno set. */
int pin_cpu(int cpu)
{
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	return sched_setaffinity(0, sizeof(one), &one);
}
