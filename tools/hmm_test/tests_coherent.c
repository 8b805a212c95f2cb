// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_test: coherent device memory (coherent_*).  hmm_dummy loaded with
 * spm_addr_dev0/1 has MEMORY_DEVICE_COHERENT devices after its private
 * ones: memory the CPU maps directly, as an APU's or a CPU-coherent
 * accelerator's.  What a user relies on: after a migration the CPU reads
 * and writes the pages in place, without a fault and without moving them;
 * the device sees the CPU's writes and the CPU the device's; fork shares
 * them and copies on write; only an explicit migration, eviction, unload
 * or a long-term pin (io_uring buffers, RDMA) moves them back.  The cases
 * skip, saying so, when no coherent device exists.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/io_uring.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "hmm_test.h"

#define PS	(cfg.page_size)

/*
 * Migrated to the coherent device, the pages stay there through CPU reads
 * and writes (no fault, nothing migrates back), and a device READ sees
 * what the CPU wrote.
 */
static int t_coherent_cpu_access(void)
{
	unsigned long npages = 64;
	struct hmm_dummy_stats a, b;
	struct fx f;

	FX(fx_setup(&f, npages, FX_COHERENT, 200));
	FX_TO_DEV(&f);
	CHECK_EQ(n_coherent(f.fd[0], f.p, npages), npages);
	STATS(f.fd[0], &a);
	FX_PAT(&f, 200);
	pat_fill(f.p, f.size, 201);
	STATS(f.fd[0], &b);
	CHECK_EQ(DELTA(a, b, cpu_faults), 0);
	CHECK_EQ(DELTA(a, b, migrated_to_sys_fault), 0);
	CHECK_EQ(DELTA(a, b, in_use), 0);
	CHECK_EQ(n_coherent(f.fd[0], f.p, npages), npages);
	memset(f.m, 0, f.size);
	FX_READ(&f);
	FX_PAT_M(&f, 201);
	CHECK_EQ(n_coherent(f.fd[0], f.p, npages), npages);
	return T_PASS;
}

/* A device WRITE lands in place: the CPU reads it without a fault. */
static int t_coherent_device_write(void)
{
	unsigned long npages = 64;
	struct hmm_dummy_stats a, b;
	struct fx f;

	FX(fx_setup(&f, npages, FX_COHERENT, 202));
	FX_TO_DEV(&f);
	STATS(f.fd[0], &a);
	pat_fill(f.m, f.size, 203);
	FX_WRITE(&f);
	FX_PAT(&f, 203);
	STATS(f.fd[0], &b);
	CHECK_EQ(DELTA(a, b, cpu_faults), 0);
	CHECK_EQ(DELTA(a, b, migrated_to_sys_fault), 0);
	CHECK_EQ(DELTA(a, b, allocations), 0);
	CHECK_EQ(n_coherent(f.fd[0], f.p, npages), npages);
	return T_PASS;
}

/* MIGRATE_TO_SYS brings every page back, data intact, device memory freed. */
static int t_coherent_to_sys(void)
{
	unsigned long npages = 64;
	struct hmm_dummy_stats a, b;
	struct fx f;

	FX(fx_setup(&f, npages, FX_COHERENT, 204));
	STATS(f.fd[0], &a);
	FX_TO_DEV(&f);
	CHECK_EQ(n_coherent(f.fd[0], f.p, npages), npages);
	FX_TO_SYS(&f);
	STATS(f.fd[0], &b);
	CHECK_EQ(n_coherent(f.fd[0], f.p, npages), 0);
	CHECK_EQ(count_snapshot(f.fd[0], f.p, npages, HMM_DMIRROR_PROT_WRITE,
				0xff), npages);
	CHECK_EQ(DELTA(a, b, migrated_to_sys_ioctl), npages);
	CHECK_EQ(DELTA(a, b, in_use), 0);
	CHECK_EQ(DELTA(a, b, page_free_calls), npages);
	FX_PAT(&f, 204);
	return T_PASS;
}

/*
 * A THP migrates page by page (a coherent device has no large folios) and
 * comes back whole in content.
 */
static int t_coherent_thp(void)
{
	unsigned long npages = (2UL << 20) / PS;
	struct hmm_dummy_stats a, b;
	struct fx f;

	if (!thp_enabled())
		SKIP("transparent hugepages disabled");
	FX(fx_setup(&f, npages, FX_COHERENT | FX_ALIGNED, 205));
	STATS(f.fd[0], &a);
	FX_TO_DEV(&f);
	STATS(f.fd[0], &b);
	CHECK_EQ(n_coherent(f.fd[0], f.p, npages), npages);
	CHECK_EQ(DELTA(a, b, large_to_dev), 0);
	CHECK_EQ(DELTA(a, b, large_allocated), 0);
	CHECK_EQ(DELTA(a, b, migrated_to_dev), npages);
	CHECK_EQ(cfg.info[f.dev[0]].large_order, 0);
	FX_PAT(&f, 205);
	FX_TO_SYS(&f);
	FX_PAT(&f, 205);
	return T_PASS;
}

/*
 * fork shares the coherent pages; a write while both processes map them
 * copies the page for the writer only, the other keeps the old data.
 */
static int t_coherent_fork(void)
{
	unsigned long npages = 16, i;
	int go[2], done[2], st;
	char c = 0;
	pid_t pid;
	struct fx f;

	FX(fx_setup(&f, npages, FX_COHERENT, 206));
	FX_TO_DEV(&f);
	CHECK(!pipe(go) && !pipe(done));
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		/* The child: the parent's data, then again after its write. */
		if (pat_check(f.p, f.size, 206) >= 0)
			_exit(2);
		if (write(done[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(3);
		_exit(pat_check(f.p, f.size, 206) >= 0 ? 4 : 0);
	}
	CHECK_EQ(read(done[0], &c, 1), 1);
	/* Shared with a live child: the write copies page 1 for us. */
	memset(f.p + PS, 0x5a, PS);
	CHECK_EQ(write(go[1], &c, 1), 1);
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	CHECKF(WIFEXITED(st) && !WEXITSTATUS(st),
	       "child: status %#x (2: wrong data, 4: saw the parent's write)",
	       st);
	for (i = 0; i < PS; i++)
		CHECKF((unsigned char)f.p[PS + i] == 0x5a, "byte %lu: %#x", i,
		       (unsigned char)f.p[PS + i]);
	CHECK_EQ(pat_check(f.p, PS, 206), -1);
	CHECK_EQ(pat_check_off(f.p + 2 * PS, f.size - 2 * PS, 206, 2 * PS),
		 -1);
	CHECK_EQ(n_coherent(f.fd[0], f.p, npages), npages - 1);
	return T_PASS;
}

/*
 * The kernel's gup_test (CONFIG_GUP_TEST, debugfs): mm/gup_test.h, which
 * is not uAPI, has the same layout from 6.1 to 7.3.
 */
struct gup_test {
	__u64 get_delta_usec;
	__u64 put_delta_usec;
	__u64 addr;
	__u64 size;
	__u32 nr_pages_per_call;
	__u32 gup_flags;
	__u32 test_flags;
	__u32 which_pages[8];
};

#define PIN_LONGTERM_BENCHMARK	_IOWR('g', 3, struct gup_test)
#define GUP_TEST_PATH		"/sys/kernel/debug/gup_test"

/*
 * Pin [@p, @p + @size) long-term (FOLL_LONGTERM) the way an application
 * does, registering it as an io_uring fixed buffer (kept until *@ring is
 * closed), or where the kernel has no io_uring through gup_test, which
 * pins and unpins at once.  Returns 0, -errno, or 1 if neither exists.
 */
static int longterm_pin(void *p, size_t size, int *ring, const char **how)
{
	struct io_uring_params par;
	struct gup_test g;
	struct iovec iov;
	int fd, r;

	memset(&par, 0, sizeof(par));
	*ring = syscall(__NR_io_uring_setup, 4, &par);
	if (*ring >= 0) {
		*how = "io_uring fixed buffer";
		iov.iov_base = p;
		iov.iov_len = size;
		return syscall(__NR_io_uring_register, *ring,
			       IORING_REGISTER_BUFFERS, &iov, 1) ? -errno : 0;
	}
	fd = open(GUP_TEST_PATH, O_RDWR);
	if (fd < 0)
		return 1;
	*how = "gup_test PIN_LONGTERM_BENCHMARK";
	memset(&g, 0, sizeof(g));
	g.addr = (unsigned long)p;
	g.size = size;
	g.nr_pages_per_call = size / PS;
	r = ioctl(fd, PIN_LONGTERM_BENCHMARK, &g) ? -errno : 0;
	close(fd);
	return r;
}

/*
 * A long-term pin (io_uring registering the pages as a fixed buffer, what
 * an application does; RDMA and VFIO do the same) must not hold device
 * memory: the core migrates the pages to system memory first, data
 * intact, and gives the device pages back through folio_free.
 */
static int t_coherent_pin(void)
{
	unsigned long npages = 32;
	struct hmm_dummy_stats a, b;
	const char *how = "";
	int ring = -1, r;
	struct fx f;

	FX(fx_setup(&f, npages, FX_COHERENT, 207));
	FX_TO_DEV(&f);
	CHECK_EQ(n_coherent(f.fd[0], f.p, npages), npages);
	STATS(f.fd[0], &a);
	r = longterm_pin(f.p, f.size, &ring, &how);
	if (r == 1)
		SKIP("neither io_uring nor " GUP_TEST_PATH);
	CHECKF(!r, "%s: %s", how, strerror(-r));
	STATS(f.fd[0], &b);
	CHECK_EQ(n_coherent(f.fd[0], f.p, npages), 0);
	CHECK_EQ(DELTA(a, b, page_free_calls), npages);
	CHECK_EQ(DELTA(a, b, in_use), -(long long)npages);
	FX_PAT(&f, 207);
	if (ring >= 0) {
		/* Still pinned: a migration must leave them. */
		CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_MIGRATE_TO_DEV, 0,
				 npages), -ENOENT);
		CHECK(!close(ring));
	}
	FX_PAT(&f, 207);
	return T_PASS;
}

/* Two coherent devices: each sees its own pages LOCAL, the other's REMOTE. */
static int t_coherent_snapshot_remote(void)
{
	unsigned long npages = 32, h = npages / 2;
	struct fx f;

	FX(fx_setup(&f, npages, FX_COHERENT | FX_TWO, 208));
	FX(fx_ok(&f, 0, HMM_DMIRROR_MIGRATE_TO_DEV, 0, h));
	FX(fx_ok(&f, 1, HMM_DMIRROR_MIGRATE_TO_DEV, h, h));
	FX(fx_snapshot_split(&f, 0, h, HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL,
			     HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE));
	/* The device reads the peer's coherent pages where they are. */
	memset(f.m, 0, f.size);
	FX(fx_ok(&f, 0, HMM_DMIRROR_READ, 0, npages));
	FX_PAT_M(&f, 208);
	CHECK_EQ(n_coherent(f.fd[1], f.p + h * PS, h), h);
	FX_PAT(&f, 208);
	return T_PASS;
}

/*
 * MIGRATE_TO_DEV takes a peer's pages (peer_migration=1): private to
 * coherent, then coherent back to private, data intact each way and each
 * device's memory given back.
 */
static int t_coherent_private_peer(void)
{
	unsigned long npages = 64;
	struct hmm_dummy_stats p0, p1, c0, c1;
	int cd = coherent_dev(0), fd0, fdc;
	struct fx f;

	if (cd < 0)
		SKIP("no coherent device (load hmm_dummy with spm_addr_dev0)");
	if (!cfg.info[0].peer_migration)
		SKIP("peer_migration=0");
	FX(fx_setup(&f, npages, 0, 209));
	fd0 = f.fd[0];
	fdc = hmm_open(cd);
	CHECK(fdc >= 0);
	FX_TO_DEV(&f);
	CHECK_EQ(n_local(fd0, f.p, npages), npages);
	STATS(fd0, &p0);
	STATS(fdc, &c0);
	CHECK_RET(hmm_cmd(fdc, HMM_DMIRROR_MIGRATE_TO_DEV, f.p, f.m, npages,
			  NULL), 0);
	STATS(fd0, &p1);
	STATS(fdc, &c1);
	CHECK_EQ(n_coherent(fdc, f.p, npages), npages);
	CHECK_EQ(DELTA(p0, p1, in_use), -(long long)npages);
	CHECK_EQ(DELTA(c0, c1, in_use), npages);
	FX_PAT(&f, 209);
	CHECK_EQ(n_coherent(fdc, f.p, npages), npages);
	FX_TO_DEV(&f);
	STATS(fdc, &c0);
	CHECK_EQ(n_local(fd0, f.p, npages), npages);
	CHECK_EQ(DELTA(c1, c0, in_use), -(long long)npages);
	FX_PAT(&f, 209);
	close(fdc);
	return T_PASS;
}

/*
 * A process exits with its pages on the coherent device: every page comes
 * back into the allocator through folio_free.
 */
static int t_coherent_exit(void)
{
	struct hmm_dummy_stats a, b;
	int cd = coherent_dev(0), st;
	pid_t pid;

	if (cd < 0)
		SKIP("no coherent device (load hmm_dummy with spm_addr_dev0)");
	CHECK_RET(hmm_stats_dev(cd, &a), 0);
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		struct fx f;

		_exit(fx_setup(&f, 128, FX_COHERENT, 210) ||
		      fx_all(&f, HMM_DMIRROR_MIGRATE_TO_DEV) ||
		      n_coherent(f.fd[0], f.p, 128) != 128);
	}
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	CHECKF(WIFEXITED(st) && !WEXITSTATUS(st), "child: status %#x", st);
	CHECKF(!wait_stats_settle(cd, &a, &b, 5000),
	       "in use %llu, was %llu", (unsigned long long)b.in_use,
	       (unsigned long long)a.in_use);
	CHECK_EQ(DELTA(a, b, allocations), 128);
	CHECK_EQ(DELTA(a, b, page_free_calls), 128);
	return T_PASS;
}

/*
 * More than the coherent device holds: the least recently used pages are
 * evicted to system memory, data intact.  Needs a small device (spm_mb=4,
 * make check's eviction step); skips on a large one.
 */
static int t_coherent_evict(void)
{
	int cd = coherent_dev(0);
	unsigned long cap, na;
	struct hmm_dummy_stats a, b;
	struct hmm_dmirror_cmd c;
	struct fx f;
	char *q;
	int r;

	if (cd < 0)
		SKIP("no coherent device (load hmm_dummy with spm_addr_dev0)");
	cap = cfg.info[cd].capacity_pages;
	if (cap > 4096)
		SKIP("coherent device of %lu pages (load with spm_mb=4 to evict quickly)",
		     cap);
	na = cap * 3 / 4;
	FX(fx_setup(&f, na, FX_COHERENT | FX_NOBUF, 211));
	FX_TO_DEV(&f);
	q = map_anon(na * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	CHECK(q);
	pat_fill(q, na * PS, 212);
	STATS(f.fd[0], &a);
	r = hmm_cmd(f.fd[0], HMM_DMIRROR_MIGRATE_TO_DEV, q, NULL, na, &c);
	STATS(f.fd[0], &b);
	CHECKF(!r && c.cpages == na, "second migration: %d, cpages %llu", r,
	       (unsigned long long)c.cpages);
	CHECK(DELTA(a, b, migrated_to_sys_evict) >= (long long)(2 * na - cap));
	CHECK(DELTA(a, b, evictions) > 0);
	CHECK_EQ(n_coherent(f.fd[0], q, na), na);
	CHECK(n_coherent(f.fd[0], f.p, na) <= (int)(cap - na));
	FX_PAT(&f, 211);
	CHECK_PAT(q, na * PS, 212);
	munmap(q, na * PS);
	return T_PASS;
}

/*
 * EXCLUSIVE of pages in coherent memory: they come back to system memory
 * first (the core would make them exclusive where they are, and then no
 * migration could reach them until the CPU touched them), the device holds
 * them for atomics, a CPU access ends that, data intact throughout.
 */
static int t_coherent_exclusive(void)
{
	unsigned long npages = 16;
	struct hmm_dummy_stats a, b;
	struct fx f;

	FX(fx_setup(&f, npages, FX_COHERENT, 213));
	FX_TO_DEV(&f);
	STATS(f.fd[0], &a);
	FX(fx_ok(&f, 0, HMM_DMIRROR_EXCLUSIVE, 0, npages));
	STATS(f.fd[0], &b);
	FX_PAT_M(&f, 213);
	CHECK_EQ(n_coherent(f.fd[0], f.p, npages), 0);
	CHECK_EQ(DELTA(a, b, in_use), -(long long)npages);
	CHECK_EQ(DELTA(a, b, migrated_to_sys_ioctl), npages);
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_CHECK_EXCLUSIVE, 0, npages),
		  -EPERM);
	/* The CPU takes half back; the rest stays exclusive. */
	CHECK_PAT(f.p, npages / 2 * PS, 213);
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_CHECK_EXCLUSIVE, 0, npages / 2),
		  0);
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_CHECK_EXCLUSIVE, 0, npages),
		  -EPERM);
	FX_PAT(&f, 213);
	CHECK_RET(fx_cmd(&f, 0, HMM_DMIRROR_CHECK_EXCLUSIVE, 0, npages), 0);
	return T_PASS;
}

static const struct tcase cases[] = {
	{ "coherent_cpu_access", t_coherent_cpu_access, T_DUMMY,
	  "coherent memory: CPU reads and writes in place, no fault, no move" },
	{ "coherent_device_write", t_coherent_device_write, T_DUMMY,
	  "coherent memory: a device WRITE lands in place, the CPU sees it" },
	{ "coherent_to_sys", t_coherent_to_sys, T_DUMMY,
	  "coherent memory: MIGRATE_TO_SYS brings every page back" },
	{ "coherent_thp", t_coherent_thp, T_DUMMY,
	  "coherent memory: a THP migrates page by page, data intact" },
	{ "coherent_fork", t_coherent_fork, T_DUMMY,
	  "coherent memory: fork shares the pages, a write copies for the writer" },
	{ "coherent_pin", t_coherent_pin, T_DUMMY,
	  "coherent memory: a long-term pin (io_uring buffer) migrates the pages out" },
	{ "coherent_snapshot_remote", t_coherent_snapshot_remote, T_DUMMY,
	  "coherent memory: SNAPSHOT says COHERENT_LOCAL/REMOTE, READ in place" },
	{ "coherent_private_peer", t_coherent_private_peer, T_DUMMY,
	  "coherent memory: MIGRATE_TO_DEV private to coherent and back" },
	{ "coherent_exit", t_coherent_exit, T_DUMMY,
	  "coherent memory: exit with pages on the device frees them all" },
	{ "coherent_exclusive", t_coherent_exclusive, T_DUMMY,
	  "coherent memory: EXCLUSIVE brings the pages back first; a CPU access ends it" },
	{ "coherent_evict", t_coherent_evict, T_DUMMY,
	  "coherent memory: more than the device holds evicts the oldest pages" },
};

const struct tgroup tests_coherent = { cases, ARRAY_SIZE(cases) };
