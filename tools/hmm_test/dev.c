// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_test: thin helpers around the hmm_dummy (and test_hmm) uAPI.
 */
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "hmm_test.h"

struct hmm_cfg cfg = {
	.prefix = "/dev/hmm_dummy",
};

/*
 * The fields of struct hmm_dummy_stats that `hmm_test stats` and the checks
 * list, in this order: the gauges, the event counters in the order of the
 * driver's table (counters.h, found through HMM_DUMMY_DRIVER in the
 * Makefile: a counter added there is listed here without an edit), then the
 * allocator lock's and the engine's jobs in flight.
 */
#define F(x) { #x, offsetof(struct hmm_dummy_stats, x) }
const struct stat_field stat_fields[] = {
	F(capacity), F(free), F(in_use), F(peak_in_use),
#define HMM_DUMMY_COUNTER(name, field) F(field),
#include "counters.h"
#undef HMM_DUMMY_COUNTER
	F(alloc_lock_acquired), F(alloc_lock_contended), F(alloc_lock_wait_ns),
	F(engine_in_flight),
};
#undef F
const size_t nr_stat_fields = ARRAY_SIZE(stat_fields);

int hmm_open(int idx)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s%d", cfg.prefix, idx);
	fd = open(path, O_RDWR | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int hmm_cmd_raw(int fd, unsigned long req, struct hmm_dmirror_cmd *cmd)
{
	int ret;

	do {
		ret = ioctl(fd, req, cmd);
	} while (ret < 0 && errno == EINTR);
	return ret < 0 ? -errno : 0;
}

/*
 * Issue one of the test_hmm compatible commands.  @out, when given, receives
 * the command structure as the kernel left it (also on error, so callers can
 * look at cpages of a partly successful MIGRATE_TO_DEV).  MIGRATE_TO_DEV and
 * EXCLUSIVE copy the device's view of the range to ptr: a NULL @ptr gets a
 * scratch buffer for it.
 */
int hmm_cmd(int fd, unsigned long req, void *addr, void *ptr,
	    unsigned long npages, struct hmm_dmirror_cmd *out)
{
	struct hmm_dmirror_cmd cmd = {
		.addr = (uintptr_t)addr,
		.ptr = (uintptr_t)ptr,
		.npages = npages,
		.cpages = ~0ULL,
		.faults = ~0ULL,
	};
	size_t scratch = 0;
	int ret;

	if (!ptr && (req == HMM_DMIRROR_MIGRATE_TO_DEV ||
		     req == HMM_DMIRROR_EXCLUSIVE) &&
	    npages && npages < (1UL << 30)) {
		scratch = npages * cfg.page_size;
		ptr = mmap(NULL, scratch, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (ptr == MAP_FAILED)
			return -ENOMEM;
		cmd.ptr = (uintptr_t)ptr;
	}
	ret = hmm_cmd_raw(fd, req, &cmd);
	if (scratch)
		munmap(ptr, scratch);
	if (out)
		*out = cmd;
	return ret;
}

/*
 * MIGRATE_TO_DEV of pages that another CPU may hold for a moment.  A page
 * just lazily freed (MADV_FREE), deactivated or rotated waits in that CPU's
 * LRU batch with a reference until the CPU drains it; migrate_vma_setup()
 * drains only the CPU it runs on and skips such a page as pinned, so the
 * command comes back short (-ENOENT from hmm_dummy).  Then it is run again
 * on each allowed CPU in turn, which drains every batch.  Returns the last
 * result, 0 once every page moved; *@tries (may be NULL) gets the runs.
 */
int hmm_migrate_to_dev_any_cpu(int fd, void *addr, unsigned long npages,
			       int *tries)
{
	cpu_set_t allowed;
	int cpu, n = 1, r;

	r = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, addr, NULL, npages, NULL);
	if ((r == -ENOENT || r == -EBUSY) &&
	    !sched_getaffinity(0, sizeof(allowed), &allowed)) {
		for (cpu = 0; cpu < CPU_SETSIZE && r; cpu++) {
			if (!CPU_ISSET(cpu, &allowed) || pin_cpu(cpu))
				continue;
			r = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, addr, NULL,
				    npages, NULL);
			n++;
		}
		sched_setaffinity(0, sizeof(allowed), &allowed);
	}
	if (tries)
		*tries = n;
	return r;
}

int hmm_info(int fd, struct hmm_dummy_info *info)
{
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	return ioctl(fd, HMM_DUMMY_INFO, info) < 0 ? -errno : 0;
}

int hmm_stats(int fd, struct hmm_dummy_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	return ioctl(fd, HMM_DUMMY_STATS, st) < 0 ? -errno : 0;
}

int hmm_stats_dev(int idx, struct hmm_dummy_stats *st)
{
	int fd = hmm_open(idx);
	int ret;

	if (fd < 0)
		return fd;
	ret = hmm_stats(fd, st);
	close(fd);
	return ret;
}

int hmm_sysfs_stat(int idx, const char *field, unsigned long long *val)
{
	char path[256], buf[64];
	char *end;

	snprintf(path, sizeof(path),
		 "/sys/class/hmm_dummy/hmm_dummy%d/stats/%s", idx, field);
	if (read_file_str(path, buf, sizeof(buf)) < 0)
		return -errno;
	errno = 0;
	*val = strtoull(buf, &end, 0);
	if (errno || end == buf)
		return -EINVAL;
	return 0;
}

const char *hmm_cmd_name(unsigned long req)
{
	switch (req) {
	case HMM_DMIRROR_READ: return "READ";
	case HMM_DMIRROR_WRITE: return "WRITE";
	case HMM_DMIRROR_MIGRATE_TO_DEV: return "MIGRATE_TO_DEV";
	case HMM_DMIRROR_MIGRATE_TO_SYS: return "MIGRATE_TO_SYS";
	case HMM_DMIRROR_SNAPSHOT: return "SNAPSHOT";
	case HMM_DMIRROR_EXCLUSIVE: return "EXCLUSIVE";
	case HMM_DMIRROR_CHECK_EXCLUSIVE: return "CHECK_EXCLUSIVE";
	case HMM_DMIRROR_RELEASE: return "RELEASE";
	case HMM_DUMMY_STATS: return "STATS";
	case HMM_DUMMY_INFO: return "INFO";
	}
	return "?";
}

/*
 * Find the device nodes under @prefix and whether they speak hmm_dummy's own
 * commands (test_hmm's /dev/hmm_dmirrorN do not).
 */
void hmm_probe(const char *prefix)
{
	int i, fd;

	cfg.prefix = prefix;
	cfg.page_size = sysconf(_SC_PAGESIZE);
	cfg.ndev = 0;
	cfg.dummy = false;
	for (i = 0; i < MAX_DEVICES; i++) {
		char path[256];

		snprintf(path, sizeof(path), "%s%d", prefix, i);
		if (access(path, F_OK))
			break;
		cfg.ndev++;
	}
	if (!cfg.ndev)
		return;
	fd = hmm_open(0);
	if (fd < 0)
		return;
	if (!hmm_info(fd, &cfg.info[0]))
		cfg.dummy = true;
	close(fd);
	if (!cfg.dummy)
		return;
	if (cfg.info[0].num_devices && cfg.info[0].num_devices < (unsigned int)cfg.ndev)
		cfg.ndev = cfg.info[0].num_devices;
	for (i = 1; i < cfg.ndev; i++) {
		fd = hmm_open(i);
		if (fd < 0)
			continue;
		hmm_info(fd, &cfg.info[i]);
		close(fd);
	}
	cfg.sysfs = !access("/sys/class/hmm_dummy", F_OK);
}
