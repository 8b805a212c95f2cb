// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_test: cases written to reach paths of the kernel's HMM core that the
 * other cases and the kernel's own hmm-tests leave alone (found with
 * `make coverage`).  Each case names the kernel path it drives; each checks
 * the data and the driver's answers, so it can fail whether or not the
 * path was actually taken in this run.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "hmm_test.h"

#define PS	(cfg.page_size)
#define HPS	(2UL << 20)
#define LOCAL	HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL

/* Pages of [p, p + n pages) that sit on the device behind @fd. */
static int on_device(int fd, void *p, unsigned long n)
{
	return count_snapshot(fd, p, n, LOCAL, 0xf0);
}

/*
 * A page referenced by a pipe (vmsplice() takes a reference on the user
 * page without copying it) cannot migrate: its reference count is higher
 * than the mappings explain.  Kernel path: the check in
 * migrate_vma_unmap()/migrate_device_unmap() that puts the original PTE
 * back (remove_migration_ptes() on the page, the "restore" loop) and clears
 * MIGRATE_PFN_MIGRATE.  The other pages of the range migrate; the pinned
 * one keeps its data and migrates once the pipe lets go of it.
 */
static int t_pinned_page(void)
{
	unsigned long npages = 16, pin = 5;
	size_t size = npages * PS;
	char *p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	char *m = malloc(size), *got = malloc(PS);
	struct hmm_dmirror_cmd c;
	struct iovec iov;
	int fd = hmm_open(0), pfd[2], ret;

	CHECK(p && m && got && fd >= 0);
	CHECK(pipe(pfd) == 0);
	pat_fill(p, size, 71);
	iov.iov_base = p + pin * PS;
	iov.iov_len = PS;
	CHECK_EQ(vmsplice(pfd[1], &iov, 1, 0), (long)PS);

	ret = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, m, npages, &c);
	CHECKF(ret == -ENOENT || ret == 0, "MIGRATE_TO_DEV: %d", ret);
	CHECK_EQ(c.cpages, on_device(fd, p, npages));
	if (ret == 0)
		t_diag("the referenced page migrated anyway (cpages %llu)",
		       (unsigned long long)c.cpages);
	else
		CHECK_EQ(count_snapshot(fd, p + pin * PS, 1, LOCAL, 0xf0), 0);
	CHECK(c.cpages >= npages - 1);

	/* The pipe still holds the page's data; the CPU sees it all. */
	CHECK_EQ(read(pfd[0], got, PS), (long)PS);
	CHECK_PAT_OFF(got, PS, 71, pin * PS);
	close(pfd[0]);
	close(pfd[1]);
	CHECK_PAT(p, size, 71);

	/* Unreferenced now (the CPU read brought the others back). */
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, m, npages, &c),
		  0);
	CHECK_EQ(c.cpages, npages);
	CHECK_PAT(m, size, 71);
	CHECK_PAT(p, size, 71);
	close(fd);
	munmap(p, size);
	free(m);
	free(got);
	return T_PASS;
}

/*
 * A THP mapped by PTEs (an mprotect() of one page in the middle splits the
 * PMD mapping, not the folio).  Kernel path: migrate_vma_collect_pmd()
 * walking PTEs of a large folio: 6.1 and 6.12 skip such pages (no split
 * from there), 7.3 splits the folio (migrate_vma_split_folio()) and
 * migrates the pieces.  Whatever the kernel does, cpages must match the
 * device's view and no byte may change.
 */
static int t_pte_mapped_thp(void)
{
	unsigned long npages = HPS / PS;
	char *p = map_aligned(HPS, HPS);
	char *m = malloc(HPS);
	struct hmm_dmirror_cmd c;
	int fd = hmm_open(0), ret;

	CHECK(p && m && fd >= 0);
	if (!thp_enabled())
		SKIP("THP disabled in /sys/kernel/mm/transparent_hugepage/enabled");
	CHECK(madvise(p, HPS, MADV_HUGEPAGE) == 0);
	pat_fill(p, HPS, 72);
	if (meminfo_value("AnonHugePages") < 2048)
		SKIP("no THP could be allocated for the test area");
	CHECK(mprotect(p + 7 * PS, PS, PROT_READ) == 0);
	CHECK(mprotect(p + 7 * PS, PS, PROT_READ | PROT_WRITE) == 0);

	ret = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, m, npages, &c);
	CHECKF(ret == 0 || ret == -ENOENT, "MIGRATE_TO_DEV: %d", ret);
	CHECK_EQ(c.cpages, on_device(fd, p, npages));
	if (ret == 0)
		CHECK_EQ(c.cpages, npages);
	t_diag("%llu of %lu pages of a PTE-mapped THP migrated",
	       (unsigned long long)c.cpages, npages);
	CHECK_PAT(p, HPS, 72);
	CHECK_EQ(on_device(fd, p, npages), 0);
	close(fd);
	munmap(p, HPS);
	free(m);
	return T_PASS;
}

struct race {
	char *p;
	size_t size;
	int fd;
	int stop;
	int err;
	unsigned long rounds;
};

/*
 * Device READs of the whole area until told to stop, every fourth one a
 * SNAPSHOT (no fault wanted: hmm_range_fault() reports a PMD migration
 * entry as empty instead of waiting); READ data must match.
 */
static void *reader(void *arg)
{
	struct race *r = arg;
	char *m = malloc(r->size);
	int ret, snap;

	while (m && !__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE) &&
	       !__atomic_load_n(&r->err, __ATOMIC_ACQUIRE)) {
		snap = (r->rounds & 3) == 3;
		ret = hmm_cmd(r->fd, snap ? HMM_DMIRROR_SNAPSHOT :
			      HMM_DMIRROR_READ, r->p, m, r->size / PS, NULL);
		if (ret == -EBUSY)
			continue;
		if (!ret && !snap && pat_check(m, r->size, 73) >= 0)
			ret = -EIO;
		if (ret)
			__atomic_store_n(&r->err, ret, __ATOMIC_RELEASE);
		r->rounds++;
	}
	free(m);
	return NULL;
}

struct mover {
	struct race *r;
	int fd;
	int bad;
	unsigned long moved;
};

/* MIGRATE_TO_DEV and MIGRATE_TO_SYS of the area in turn, until told to stop. */
static void *mover(void *arg)
{
	struct mover *mv = arg;
	unsigned long i;
	int ret;

	for (i = 0; !__atomic_load_n(&mv->r->stop, __ATOMIC_ACQUIRE); i++) {
		ret = hmm_cmd(mv->fd, i & 1 ? HMM_DMIRROR_MIGRATE_TO_SYS :
			      HMM_DMIRROR_MIGRATE_TO_DEV, mv->r->p, NULL,
			      mv->r->size / PS, NULL);
		if (ret && ret != -ENOENT && ret != -EBUSY) {
			t_diag("%s: %d", i & 1 ? "MIGRATE_TO_SYS" :
			       "MIGRATE_TO_DEV", ret);
			mv->bad = ret;
			break;
		}
		mv->moved += !ret;
	}
	return NULL;
}

/*
 * hmm_range_fault() while two other threads move a THP to the device and
 * back, each through its own file of device 0.  Kernel paths:
 * hmm_vma_walk_pmd() meeting a PMD migration entry
 * (pmd_migration_entry_wait() for a READ, an empty answer for a SNAPSHOT)
 * on kernels that migrate a THP whole (7.3 with device-private THP);
 * elsewhere the fault path meeting the PTE migration entries of the split
 * pages; and the collect step finding the folio locked by the other
 * migration (migrate_vma_collect_huge_pmd() or migrate_vma_collect_pmd()
 * skipping it).  Every device READ must see the pattern.
 */
static int t_read_during_thp_migration(void)
{
	struct race r = { .size = HPS, .fd = hmm_open(0) };
	struct mover mv[2] = { { .r = &r, .fd = hmm_open(0) },
				{ .r = &r, .fd = hmm_open(0) } };
	pthread_t t, tm[2];
	int i;

	CHECK(r.fd >= 0 && mv[0].fd >= 0 && mv[1].fd >= 0);
	if (!thp_enabled())
		SKIP("THP disabled in /sys/kernel/mm/transparent_hugepage/enabled");
	r.p = map_aligned(HPS, HPS);
	CHECK(r.p);
	CHECK(madvise(r.p, HPS, MADV_HUGEPAGE) == 0);
	pat_fill(r.p, HPS, 73);
	CHECK(pthread_create(&t, NULL, reader, &r) == 0);
	for (i = 0; i < 2; i++)
		CHECK(pthread_create(&tm[i], NULL, mover, &mv[i]) == 0);
	sleep_ms(3000);
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	for (i = 0; i < 2; i++)
		pthread_join(tm[i], NULL);
	t_diag("%lu + %lu migrations, %lu device reads", mv[0].moved,
	       mv[1].moved, r.rounds);
	CHECKF(!r.err, "device READ: %d (-EIO: it saw wrong data)", r.err);
	CHECK(!mv[0].bad && !mv[1].bad);
	CHECK(r.rounds > 0 && mv[0].moved + mv[1].moved > 0);
	CHECK_PAT(r.p, HPS, 73);
	for (i = 0; i < 2; i++)
		close(mv[i].fd);
	close(r.fd);
	munmap(r.p, HPS);
	return T_PASS;
}

struct writer {
	char *p;
	unsigned long npages;
	int stop;
	unsigned long gen;	/* bumped by the main thread when p changes */
	unsigned long ack;	/* the writer's copy: it uses p of this gen */
	unsigned char *wrote;	/* page i was written (one byte) */
};

/*
 * Writes one byte in random pages of the current area.  Once ack equals
 * gen, no write to an earlier area is in flight.
 */
static void *cpu_writer(void *arg)
{
	struct writer *w = arg;
	unsigned long seed = 12345, gen = 0, g, i;
	char *p = NULL;

	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		g = __atomic_load_n(&w->gen, __ATOMIC_ACQUIRE);
		if (g != gen) {
			gen = g;
			p = __atomic_load_n(&w->p, __ATOMIC_ACQUIRE);
			__atomic_store_n(&w->ack, g, __ATOMIC_RELEASE);
		}
		if (!p)
			continue;
		seed = seed * 6364136223846793005UL + 1442695040888963407UL;
		i = (seed >> 33) % w->npages;
		if (w->wrote[i])
			continue;
		p[i * PS + 1] = (char)(i + 1);
		__atomic_store_n(&w->wrote[i], 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

/* Hands the writer a new area (or NULL) and waits until it took it. */
static void writer_switch(struct writer *w, char *p)
{
	unsigned long g;

	__atomic_store_n(&w->p, p, __ATOMIC_RELEASE);
	g = __atomic_add_fetch(&w->gen, 1, __ATOMIC_ACQ_REL);
	while (__atomic_load_n(&w->ack, __ATOMIC_ACQUIRE) != g)
		;
}

/*
 * Migration of never-touched pages (pte_none: the device page is inserted
 * directly) while a CPU thread writes to them.  Kernel path: the checks in
 * migrate_vma_insert_page() that give up when the PTE is no longer none
 * under the page table lock (the page then stays where the CPU put it).
 * Afterwards every page the writer touched holds its byte and the others
 * read zero, wherever they are.
 */
static int t_write_during_insert(void)
{
	unsigned long npages = 64, i, rounds = 0, bad = 0;
	size_t size = npages * PS;
	struct writer w = { .npages = npages };
	double end = now_sec() + 3;
	int fd = hmm_open(0), ret;
	pthread_t t;

	CHECK(fd >= 0);
	w.wrote = calloc(npages, 1);
	CHECK(w.wrote);
	CHECK(pthread_create(&t, NULL, cpu_writer, &w) == 0);
	while (now_sec() < end && !bad) {
		char *p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);

		if (!p)
			break;
		memset(w.wrote, 0, npages);
		writer_switch(&w, p);
		ret = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, NULL, npages,
			      NULL);
		writer_switch(&w, NULL);
		if (ret && ret != -ENOENT && ret != -EBUSY) {
			t_diag("MIGRATE_TO_DEV: %d", ret);
			bad++;
		}
		for (i = 0; i < npages && !bad; i++) {
			char want = w.wrote[i] ? (char)(i + 1) : 0;

			if (p[i * PS + 1] != want) {
				t_diag("round %lu page %lu: 0x%02x, want 0x%02x",
				       rounds, i, p[i * PS + 1], want);
				bad++;
			}
		}
		munmap(p, size);
		rounds++;
	}
	__atomic_store_n(&w.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	t_diag("%lu rounds", rounds);
	close(fd);
	free(w.wrote);
	CHECK(rounds > 0);
	return bad ? T_FAIL : T_PASS;
}

struct uffd_server {
	int uffd;
	char *base;	/* the registered area */
	const char *src;	/* what its pages get */
	int stop;
	unsigned long served;
};

/* Answers the missing-page faults of the area with pages of src. */
static void *uffd_serve(void *arg)
{
	struct uffd_server *u = arg;
	struct pollfd pfd = { .fd = u->uffd, .events = POLLIN };
	struct uffd_msg msg;
	struct uffdio_copy copy;
	unsigned long off;

	while (!__atomic_load_n(&u->stop, __ATOMIC_ACQUIRE)) {
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		if (read(u->uffd, &msg, sizeof(msg)) != sizeof(msg) ||
		    msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		off = (msg.arg.pagefault.address - (uintptr_t)u->base) &
		      ~(PS - 1);
		copy = (struct uffdio_copy) {
			.dst = (uintptr_t)u->base + off,
			.src = (uintptr_t)u->src + off,
			.len = PS,
		};
		if (!ioctl(u->uffd, UFFDIO_COPY, &copy) || errno == EEXIST)
			u->served++;
	}
	return NULL;
}

/*
 * READ_UNLOCKED of one fresh page into @buf: 0, or -EOPNOTSUPP where the
 * kernel has no hmm_range_fault_unlocked_timeout() (6.1, 6.12).
 */
static int read_unlocked_probe(int fd, char *buf)
{
	char *probe = map_anon(PS, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	int ret;

	if (!probe)
		return -ENOMEM;
	probe[0] = 1;
	ret = hmm_cmd(fd, HMM_DMIRROR_READ_UNLOCKED, probe, buf, 1, NULL);
	munmap(probe, PS);
	return ret;
}

/*
 * READ_UNLOCKED of a range whose pages a userfaultfd thread supplies: the
 * fault handler drops mmap_lock to wait for it.  Kernel path (7.3):
 * hmm_range_fault_unlocked_timeout() and hmm_do_fault() seeing
 * VM_FAULT_RETRY/VM_FAULT_COMPLETED, taking the lock again and walking
 * once more.  -EOPNOTSUPP (6.1, 6.12: no such function) is a skip.
 */
static int t_read_unlocked_uffd(void)
{
	unsigned long npages = 16;
	size_t size = npages * PS;
	struct uffd_server u = { .uffd = -1 };
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	char *src = malloc(size), *m = malloc(size);
	int fd = hmm_open(0), ret;
	pthread_t t;

	CHECK(src && m && fd >= 0);
	ret = read_unlocked_probe(fd, m);
	if (ret == -EOPNOTSUPP)
		SKIP("READ_UNLOCKED: -EOPNOTSUPP (no hmm_range_fault_unlocked_timeout)");
	CHECK_RET(ret, 0);
	u.uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (u.uffd < 0)
		SKIP("userfaultfd: %s", strerror(errno));
	CHECK(ioctl(u.uffd, UFFDIO_API, &api) == 0);
	u.base = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	CHECK(u.base);
	reg.range.start = (uintptr_t)u.base;
	reg.range.len = size;
	CHECK(ioctl(u.uffd, UFFDIO_REGISTER, &reg) == 0);
	pat_fill(src, size, 74);
	u.src = src;
	CHECK(pthread_create(&t, NULL, uffd_serve, &u) == 0);

	ret = hmm_cmd(fd, HMM_DMIRROR_READ_UNLOCKED, u.base, m, npages, NULL);
	__atomic_store_n(&u.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	t_diag("%lu pages served by userfaultfd", u.served);
	CHECK_RET(ret, 0);
	CHECK_EQ(u.served, npages);
	CHECK_PAT(m, size, 74);
	CHECK_PAT(u.base, size, 74);
	close(u.uffd);
	close(fd);
	munmap(u.base, size);
	free(src);
	free(m);
	return T_PASS;
}

/* Every byte of [p, p + len) is zero. */
static bool all_zero(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

struct zapper {
	char *base;
	unsigned long npages;
	int stop;
	unsigned long zaps;
};

/*
 * MADV_DONTNEED of the whole range, as fast as it can: every zap is one
 * invalidation, and every walk must fault the pages in again, which takes
 * longer than the next zap.
 */
static void *zap_loop(void *arg)
{
	struct zapper *z = arg;
	unsigned long i = 0;

	while (!__atomic_load_n(&z->stop, __ATOMIC_ACQUIRE)) {
		madvise(z->base, z->npages * PS, MADV_DONTNEED);
		i++;
	}
	z->zaps = i;
	return NULL;
}

/*
 * READ_UNLOCKED of a range another thread keeps invalidating: walks of
 * hmm_range_fault_unlocked_timeout() meet invalidations and start over, and
 * both the core and the driver bound their retries (fault_timeout_ms, 1 s by
 * default) instead of spinning for as long as the invalidations go on.
 * What a user relies on: every call returns, in bounded time, either 0 with
 * each page of the buffer the process's page at some moment (the pattern,
 * or zeroes after a zap) or -EBUSY; never another error, never a livelock.
 * With the default budget, how often -EBUSY comes depends on the timing
 * (reported, not required: under TCG a walk usually slips between two
 * zaps).  Then the budget is cut to 1 ms, shorter than one walk of the
 * range: a walk that meets a zap has spent the budget before it retries,
 * so -EBUSY must come, from the core's deadline (unlocked) or the driver's,
 * and the calls still return promptly.
 */
static int t_read_unlocked_busy(void)
{
	unsigned long npages = 1024, p, busy = 0, ok = 0;
	size_t size = npages * PS;
	struct zapper z = { .npages = npages };
	char *m = malloc(size);
	int fd = hmm_open(0), ret, round, short_rounds = 0;
	long saved = hmm_param_get("fault_timeout_ms");
	double t0, worst = 0, short_worst = 0;
	bool budget_set = false, short_busy = false;
	pthread_t t;

	CHECK(m && fd >= 0);
	ret = read_unlocked_probe(fd, m);
	if (ret == -EOPNOTSUPP)
		SKIP("READ_UNLOCKED: -EOPNOTSUPP (no hmm_range_fault_unlocked_timeout)");
	CHECK_RET(ret, 0);
	z.base = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	CHECK(z.base);
	madvise(z.base, size, MADV_NOHUGEPAGE);
	pat_fill(z.base, size, 75);
	CHECK(pthread_create(&t, NULL, zap_loop, &z) == 0);
	for (round = 0; round < 4; round++) {
		t0 = now_sec();
		ret = hmm_cmd(fd, HMM_DMIRROR_READ_UNLOCKED, z.base, m, npages,
			      NULL);
		if (now_sec() - t0 > worst)
			worst = now_sec() - t0;
		if (ret == -EBUSY) {
			busy++;
			continue;
		}
		if (ret)
			break;
		ok++;
		for (p = 0; p < npages; p++)
			if (!all_zero(m + p * PS, PS) &&
			    pat_check_off(m + p * PS, PS, 75, p * PS) >= 0)
				break;
		if (p < npages)
			break;
	}
	/* A 1 ms budget: up to 50 calls, until one gives -EBUSY. */
	if (round == 4 && saved >= 0)
		budget_set = !hmm_param_set("fault_timeout_ms", 1);
	for (; budget_set && short_rounds < 50 && !short_busy; short_rounds++) {
		t0 = now_sec();
		ret = hmm_cmd(fd, HMM_DMIRROR_READ_UNLOCKED, z.base, m, npages,
			      NULL);
		if (now_sec() - t0 > short_worst)
			short_worst = now_sec() - t0;
		short_busy = ret == -EBUSY;
		if (ret && !short_busy)
			break;
	}
	if (budget_set)
		hmm_param_set("fault_timeout_ms", saved);
	__atomic_store_n(&z.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	t_diag("%d calls: %lu returned 0, %lu -EBUSY; %lu zaps; longest call %.2f s",
	       round, ok, busy, z.zaps, worst);
	CHECKF(round == 4, "call %d: %s (want 0 or -EBUSY)", round + 1,
	       ret ? strerror(-ret) : "a page neither the data nor zeroes");
	/* The core's budget and the driver's are 1 s each. */
	CHECKF(worst < 10, "a call took %.1f s under invalidations", worst);
	if (saved < 0) {
		t_diag("no fault_timeout_ms parameter: the 1 ms budget not tried");
	} else {
		CHECKF(budget_set, "fault_timeout_ms could not be set to 1");
		t_diag("fault_timeout_ms=1: %s at call %d, longest call %.2f s",
		       short_busy ? "-EBUSY" : "no -EBUSY yet", short_rounds,
		       short_worst);
		CHECKF(short_busy,
		       "fault_timeout_ms=1: %d calls, none -EBUSY (last: %s)",
		       short_rounds, ret ? strerror(-ret) : "0");
		CHECKF(short_worst < 2, "fault_timeout_ms=1: a call took %.1f s",
		       short_worst);
	}
	close(fd);
	munmap(z.base, size);
	free(m);
	return T_PASS;
}

/* MIGRATE_TO_DEV of @n pages at @p: every one must reach the device. */
static int migrate_all(int fd, char *p, unsigned long n)
{
	struct hmm_dmirror_cmd c;

	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, NULL, n, &c), 0);
	CHECK_EQ(c.cpages, n);
	CHECK_EQ(on_device(fd, p, n), n);
	return T_PASS;
}

/*
 * Never-touched memory in PMDs of its own (no page table below them), and
 * the huge zero page.  Kernel paths: hmm_vma_walk_hole() inside a VMA, for
 * a SNAPSHOT (no fault: empty entries) and a READ (faults the zero page
 * in); migrate_vma_collect_hole() for a hole that is not PMD-aligned (one
 * entry per page).  With THP, a PMD mapping the huge zero page (a CPU read
 * of untouched THP memory): migrated whole, migrate_vma_insert_huge_pmd_page()
 * replaces the zero PMD (7.3); migrated in part, migrate_vma_insert_page()
 * splits the zero PMD first.  A whole-PMD hole whose large device
 * allocation fails gets single pages (7.3: __migrate_device_pages() and
 * migrate_vma_nr_pages() spreading a compound hole over them).  Everything
 * reads back as zero.
 */
static int t_holes(void)
{
	unsigned long npages = HPS / PS, sub = 16, i;
	size_t size = 5 * HPS;
	char *p = map_aligned(size, HPS);
	unsigned char *snap = malloc(npages);
	char *m = malloc(HPS);
	int fd = hmm_open(0), ret;

	CHECK(p && snap && m && fd >= 0);
	/* PMD 0: SNAPSHOT, then READ. */
	memset(snap, 0xee, npages);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_SNAPSHOT, p, snap, npages, NULL), 0);
	for (i = 0; i < npages; i++)
		CHECKF(snap[i] == HMM_DMIRROR_PROT_NONE,
		       "page %lu of untouched memory: snapshot 0x%02x", i,
		       snap[i]);
	memset(m, 0x5a, HPS);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_READ, p, m, npages, NULL), 0);
	CHECK(all_zero(m, HPS));
	/* PMD 1: pages 1..16 of a hole. */
	ret = migrate_all(fd, p + HPS + PS, sub);
	if (ret)
		return ret;
	if (thp_enabled()) {
		CHECK(madvise(p + 2 * HPS, 2 * HPS, MADV_HUGEPAGE) == 0);
		/* CPU reads: the huge zero page (if use_zero_page is set). */
		CHECK(__atomic_load_n(p + 2 * HPS, __ATOMIC_RELAXED) == 0);
		CHECK(__atomic_load_n(p + 3 * HPS, __ATOMIC_RELAXED) == 0);
		/* PMD 2 whole, PMD 3 in part. */
		ret = migrate_all(fd, p + 2 * HPS, npages);
		if (!ret)
			ret = migrate_all(fd, p + 3 * HPS + PS, sub);
		if (ret)
			return ret;
	} else {
		t_diag("THP disabled: no huge zero page part");
	}
	/*
	 * PMD 4 whole, the large device allocation failing: single pages
	 * (without device THP the injected failure would hit a single page).
	 */
	if (cfg.info[0].large_order) {
		CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_FLAGS, NULL, NULL,
				  HMM_DMIRROR_FLAG_FAIL_ALLOC, NULL), 0);
		ret = migrate_all(fd, p + 4 * HPS, npages);
		if (ret)
			return ret;
	}
	CHECK(all_zero(p, size));
	CHECK_EQ(on_device(fd, p, size / PS), 0);
	close(fd);
	munmap(p, size);
	free(snap);
	free(m);
	return T_PASS;
}

/*
 * MIGRATE_TO_DEV of never-touched pages of an area registered with
 * userfaultfd for missing pages: the core must not fill them behind the
 * handler's back.  Kernel paths: the userfaultfd_missing() checks of
 * migrate_vma_insert_huge_pmd_page() (a whole PMD hole, 7.3) and of
 * migrate_vma_insert_page() (part of one), which leave the page where it
 * is.  Nothing may reach the device, and no fault may reach the handler
 * (nobody would answer it).
 */
static int t_uffd_missing_hole(void)
{
	unsigned long npages = HPS / PS, sub = 16;
	size_t size = 2 * HPS;
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct uffdio_range range;
	struct hmm_dmirror_cmd c;
	char *p = map_aligned(size, HPS);
	int fd = hmm_open(0), uffd, ret;

	CHECK(p && fd >= 0);
	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		SKIP("userfaultfd: %s", strerror(errno));
	CHECK(ioctl(uffd, UFFDIO_API, &api) == 0);
	if (thp_enabled())
		CHECK(madvise(p, size, MADV_HUGEPAGE) == 0);
	reg.range.start = (uintptr_t)p;
	reg.range.len = size;
	CHECK(ioctl(uffd, UFFDIO_REGISTER, &reg) == 0);

	ret = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, NULL, npages, &c);
	CHECKF(ret == 0 || ret == -ENOENT, "MIGRATE_TO_DEV (PMD): %d", ret);
	CHECK_EQ(c.cpages, 0);
	ret = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p + HPS + PS, NULL, sub,
		      &c);
	CHECKF(ret == 0 || ret == -ENOENT, "MIGRATE_TO_DEV (part): %d", ret);
	CHECK_EQ(c.cpages, 0);
	CHECK_EQ(on_device(fd, p, size / PS), 0);

	range.start = (uintptr_t)p;
	range.len = size;
	CHECK(ioctl(uffd, UFFDIO_UNREGISTER, &range) == 0);
	CHECK(all_zero(p, size));
	close(uffd);
	close(fd);
	munmap(p, size);
	return T_PASS;
}

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL	102
#define MADV_GUARD_REMOVE	103
#endif

/*
 * A guard page (MADV_GUARD_INSTALL, 6.13+: a PTE marker that makes any
 * access fault with SIGSEGV) in the middle of a range.  Kernel path:
 * hmm_vma_handle_pte() meeting a non-present PTE that is neither swap, nor
 * device, nor migration: a READ fails with -EFAULT; a SNAPSHOT reports it
 * empty; MIGRATE_TO_DEV skips it.  Once the guard is removed the page
 * reads zero and the others kept their data.
 */
static int t_guard_page(void)
{
	unsigned long npages = 8, guard = 3;
	size_t size = npages * PS;
	char *p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	char *m = malloc(size);
	unsigned char *snap = malloc(npages);
	struct hmm_dmirror_cmd c;
	int fd = hmm_open(0);

	CHECK(p && m && snap && fd >= 0);
	pat_fill(p, size, 75);
	if (madvise(p + guard * PS, PS, MADV_GUARD_INSTALL))
		SKIP("MADV_GUARD_INSTALL: %s (Linux < 6.13)", strerror(errno));
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_READ, p, m, npages, NULL), -EFAULT);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_READ, p, m, guard, NULL), 0);
	CHECK_PAT(m, guard * PS, 75);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_SNAPSHOT, p, snap, npages, NULL), 0);
	CHECKF(snap[guard] == HMM_DMIRROR_PROT_NONE, "guard page: 0x%02x",
	       snap[guard]);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, NULL, npages, &c),
		  -ENOENT);
	CHECK_EQ(c.cpages, npages - 1);
	CHECK_EQ(on_device(fd, p, npages), npages - 1);

	CHECK(madvise(p + guard * PS, PS, MADV_GUARD_REMOVE) == 0);
	CHECK(all_zero(p + guard * PS, PS));
	CHECK_PAT(p, guard * PS, 75);
	CHECK_PAT_OFF(p + (guard + 1) * PS, size - (guard + 1) * PS, 75,
		      (guard + 1) * PS);
	close(fd);
	munmap(p, size);
	free(m);
	free(snap);
	return T_PASS;
}

/*
 * A device READ of a shared file mapping past the end of the file: the
 * CPU fault handler answers SIGBUS.  Kernel path: the VM_FAULT_ERROR
 * branch after handle_mm_fault() in hmm_do_fault() (7.3) or
 * hmm_vma_fault() (6.1, 6.12), turned into -EFAULT.  The page inside the
 * file reads fine.
 */
static int t_fault_sigbus(void)
{
	char *p, *m = malloc(2 * PS);
	int fd = hmm_open(0), mfd;

	CHECK(m && fd >= 0);
	mfd = memfd_create("hmm_test_sigbus", MFD_CLOEXEC);
	if (mfd < 0)
		SKIP("memfd_create: %s", strerror(errno));
	CHECK(ftruncate(mfd, PS) == 0);
	p = mmap(NULL, 2 * PS, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	CHECK(p != MAP_FAILED);
	pat_fill(p, PS, 76);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_READ, p, m, 2, NULL), -EFAULT);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_READ, p, m, 1, NULL), 0);
	CHECK_PAT(m, PS, 76);
	munmap(p, 2 * PS);
	close(mfd);
	close(fd);
	free(m);
	return T_PASS;
}

/*
 * MIGRATE_TO_DEV of a file mapping (a memfd, mapped privately) in a PMD of
 * its own, first untouched, then with its pages read in.  Kernel paths:
 * migrate_vma_collect_hole() for a hole in a VMA that is not anonymous
 * (migrate_vma_collect_skip(): nothing can be inserted there), then the
 * collect and unmap checks that refuse page cache pages.  Nothing moves,
 * the data stays.
 */
static int t_file_hole(void)
{
	unsigned long npages = HPS / PS;
	char *area = map_aligned(HPS, HPS), *p;
	struct hmm_dmirror_cmd c;
	int fd = hmm_open(0), mfd, ret, pass;

	CHECK(area && fd >= 0);
	mfd = memfd_create("hmm_test_file_hole", MFD_CLOEXEC);
	if (mfd < 0)
		SKIP("memfd_create: %s", strerror(errno));
	CHECK(ftruncate(mfd, HPS) == 0);
	p = mmap(area, HPS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED,
		 mfd, 0);
	CHECK(p == area);
	for (pass = 0; pass < 2; pass++) {
		ret = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, NULL, npages,
			      &c);
		CHECKF(ret == -ENOENT, "MIGRATE_TO_DEV (pass %d): %d", pass,
		       ret);
		CHECK_EQ(c.cpages, 0);
		CHECK(all_zero(p, HPS));
	}
	CHECK_EQ(on_device(fd, p, npages), 0);
	munmap(p, HPS);
	close(mfd);
	close(fd);
	return T_PASS;
}

/*
 * A device WRITE to @size bytes at @p, mapped read-only: -EPERM and no
 * change; writable again, it goes through.
 */
static int write_readonly(int fd, char *p, size_t size)
{
	char *m = malloc(size);

	CHECK(m);
	pat_fill(p, size, 77);
	pat_fill(m, size, 78);
	CHECK(mprotect(p, size, PROT_READ) == 0);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_WRITE, p, m, size / PS, NULL),
		  -EPERM);
	CHECK_PAT(p, size, 77);
	CHECK(mprotect(p, size, PROT_READ | PROT_WRITE) == 0);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_WRITE, p, m, size / PS, NULL), 0);
	CHECK_PAT(p, size, 78);
	free(m);
	return T_PASS;
}

/*
 * A device WRITE to a THP and to hugetlb memory mapped read-only.  Kernel
 * paths: hmm_vma_handle_pmd() and hmm_vma_walk_hugetlb_entry() finding
 * that a write fault is needed (the fault then fails with -EPERM: the VMA
 * is not writable).  Then the read-only THP moves to the device (7.3:
 * set_pmd_migration_entry() for a read-only anon-exclusive PMD).  The
 * hugetlb part needs reserved huge pages.
 */
static int t_write_readonly(void)
{
	long free_pages, hsize;
	char why[128], *p;
	const char *how;
	int fd = hmm_open(0), ret;

	CHECK(fd >= 0);
	p = map_aligned(HPS, HPS);
	CHECK(p);
	if (thp_enabled())
		CHECK(madvise(p, HPS, MADV_HUGEPAGE) == 0);
	ret = write_readonly(fd, p, HPS);
	if (ret)
		return ret;
	/* A read-only THP to the device (7.3: a read-only PMD migration entry). */
	CHECK(mprotect(p, HPS, PROT_READ) == 0);
	ret = migrate_all(fd, p, HPS / PS);
	if (ret)
		return ret;
	CHECK_PAT(p, HPS, 78);
	munmap(p, HPS);
	if (!hugetlb_available(&free_pages, &hsize, why, sizeof(why))) {
		close(fd);
		SKIP("THP part done; hugetlb: %s", why);
	}
	p = hugetlb_alloc(hsize, &how);
	CHECKF(p, "no hugetlb memory from libhugetlbfs or MAP_HUGETLB");
	ret = write_readonly(fd, p, hsize);
	hugetlb_free(p, hsize, how);
	close(fd);
	return ret;
}

/*
 * *@pp: a new THP-aligned 2 MiB area (a THP where the kernel gives one),
 * filled with pattern @seed and migrated to the device behind @fd.
 */
static int thp_on_device(int fd, char **pp, uint64_t seed)
{
	char *p = map_aligned(HPS, HPS);

	CHECK(p);
	*pp = p;
	if (thp_enabled())
		CHECK(madvise(p, HPS, MADV_HUGEPAGE) == 0);
	pat_fill(p, HPS, seed);
	return migrate_all(fd, p, HPS / PS);
}

/*
 * A THP on device 1, seen from device 0.  Kernel paths (7.3, where the
 * THP moves as one device folio behind a PMD device-private entry): the
 * skip in migrate_vma_collect_huge_pmd() of a device entry when only
 * system memory is selected (device 0's first pass), the peer pass taking
 * it (split by the core: no SELECT_COMPOUND there); a SNAPSHOT through
 * hmm_vma_handle_absent_pmd() for a PMD entry of another owner; a READ
 * there, which needs a fault (hmm_record_fault(), then
 * do_huge_pmd_device_private() and device 1's migrate_to_ram).  On other
 * kernels the same at PTE level.  Data intact throughout.  With
 * peer_group the READ is done in place (the THP stays on device 1) and the
 * migration's device pass takes the PMD whole (SELECT_COMPOUND).
 */
static int t_peer_thp(void)
{
	unsigned long npages = HPS / PS, i;
	char *p, *m = malloc(HPS);
	unsigned char *snap = malloc(npages);
	int fd0 = hmm_open(0), fd1 = hmm_open(1), ret;
	struct hmm_dmirror_cmd c;

	CHECK(m && snap && fd0 >= 0 && fd1 >= 0);
	ret = thp_on_device(fd1, &p, 79);
	if (ret)
		return ret;
	CHECK_RET(hmm_cmd(fd0, HMM_DMIRROR_SNAPSHOT, p, snap, npages, NULL), 0);
	for (i = 0; i < npages; i++)
		CHECKF((snap[i] & 0xf0) == HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE,
		       "page %lu on device 1, device 0's snapshot: 0x%02x", i,
		       snap[i]);
	CHECK_RET(hmm_cmd(fd0, HMM_DMIRROR_READ, p, m, npages, NULL), 0);
	CHECK_PAT(m, HPS, 79);
	CHECK_EQ(on_device(fd1, p, npages), hmm_peer_group() ? npages : 0);

	ret = migrate_all(fd1, p, npages);
	if (ret)
		return ret;
	ret = hmm_cmd(fd0, HMM_DMIRROR_MIGRATE_TO_DEV, p, NULL, npages, &c);
	CHECKF(ret == 0 || ret == -ENOENT, "MIGRATE_TO_DEV: %d", ret);
	CHECK_EQ(c.cpages, on_device(fd0, p, npages));
	CHECK_EQ(on_device(fd1, p, npages), npages - c.cpages);
	t_diag("%llu of %lu pages moved from device 1 to device 0",
	       (unsigned long long)c.cpages, npages);
	CHECK_PAT(p, HPS, 79);
	CHECK_EQ(on_device(fd0, p, npages) + on_device(fd1, p, npages), 0);
	close(fd0);
	close(fd1);
	munmap(p, HPS);
	free(m);
	free(snap);
	return T_PASS;
}

/*
 * mprotect() and MADV_FREE on a THP that sits on the device.  Kernel paths
 * (7.3, where it is one device folio behind a PMD device-private entry):
 * change_huge_pmd() turning the writable PMD entry read-only
 * (change_non_present_huge_pmd()), __split_huge_pmd_locked() splitting a
 * read-only device-private PMD into PTEs (an mprotect() of one page),
 * madvise_free_huge_pmd() leaving a device PMD alone.  On other kernels
 * the same at PTE level.  The pages stay on the device, read-only for it,
 * and the CPU reads them back intact.
 */
static int t_device_thp_mprotect(void)
{
	unsigned long npages = HPS / PS, i;
	unsigned char *snap = malloc(npages);
	int fd = hmm_open(0), ret;
	char *p;

	CHECK(snap && fd >= 0);
	ret = thp_on_device(fd, &p, 80);
	if (ret)
		return ret;
	CHECK(mprotect(p, HPS, PROT_READ) == 0);
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_SNAPSHOT, p, snap, npages, NULL), 0);
	for (i = 0; i < npages; i++)
		CHECKF((snap[i] & 0xf0) == LOCAL &&
		       !(snap[i] & HMM_DMIRROR_PROT_WRITE),
		       "page %lu after mprotect(PROT_READ): 0x%02x", i, snap[i]);
	CHECK(mprotect(p + 5 * PS, PS, PROT_NONE) == 0);
	CHECK(mprotect(p, HPS, PROT_READ | PROT_WRITE) == 0);
	CHECK_EQ(on_device(fd, p, npages), npages);
	CHECK(madvise(p, HPS, MADV_FREE) == 0);
	CHECK_EQ(on_device(fd, p, npages), npages);
	CHECK_PAT(p, HPS, 80);
	CHECK_EQ(on_device(fd, p, npages), 0);
	close(fd);
	munmap(p, HPS);
	free(snap);
	return T_PASS;
}

/*
 * MADV_FREE puts the pages in the calling CPU's lazy-free LRU batch, which
 * holds a reference on each until that CPU drains it.  The folios are on
 * the LRU meanwhile, so migrate_device_unmap() does not drain every CPU
 * for them (it does that only for a folio off the LRU), and
 * migrate_vma_check_page() sees the batch's reference and restores the
 * page: MIGRATE_TO_DEV from another CPU may come back short (-ENOENT,
 * cpages below npages).  Kernel path: the restore path of
 * migrate_device_unmap() for a folio on the LRU.  Whatever moved, the data
 * must be intact, and the same command on the CPU that did MADV_FREE
 * (whose migrate_vma_setup() drains its own batches first) moves the rest.
 */
static int t_lazyfree_other_cpu(void)
{
	unsigned long npages = 64;
	size_t size = npages * PS;
	char *p = map_anon(size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	char *m = malloc(size);
	struct hmm_dmirror_cmd c;
	int a = -1, b = -1, cpu, fd = hmm_open(0), ret;
	cpu_set_t allowed;

	CHECK(p && m && fd >= 0);
	CHECK(!sched_getaffinity(0, sizeof(allowed), &allowed));
	for (cpu = 0; cpu < CPU_SETSIZE && b < 0; cpu++) {
		if (!CPU_ISSET(cpu, &allowed))
			continue;
		if (a < 0)
			a = cpu;
		else
			b = cpu;
	}
	if (b < 0)
		SKIP("needs two CPUs");
	CHECK(!madvise(p, size, MADV_NOHUGEPAGE));
	pat_fill(p, size, 73);
	CHECK(!pin_cpu(a));
	CHECK(!madvise(p, size, MADV_FREE));
	CHECK(!pin_cpu(b));
	ret = hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, m, npages, &c);
	CHECKF(ret == 0 || ret == -ENOENT, "MIGRATE_TO_DEV on CPU %d: %d",
	       b, ret);
	CHECK_EQ(c.cpages, on_device(fd, p, npages));
	t_diag("MADV_FREE on CPU %d, MIGRATE_TO_DEV on CPU %d: %llu of %lu pages moved",
	       a, b, (unsigned long long)c.cpages, npages);

	CHECK(!pin_cpu(a));
	CHECK_RET(hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, m, npages, &c),
		  0);
	CHECK_EQ(c.cpages, npages);
	CHECK_EQ(on_device(fd, p, npages), npages);
	CHECK_PAT(m, size, 73);
	CHECK_PAT(p, size, 73);
	CHECK(!sched_setaffinity(0, sizeof(allowed), &allowed));
	close(fd);
	munmap(p, size);
	free(m);
	return T_PASS;
}

static const struct tcase cases[] = {
	{ "paths_pinned_page", t_pinned_page, T_DUMMY,
	  "a page referenced by a pipe stays behind (unmap restore path)" },
	{ "paths_pte_mapped_thp", t_pte_mapped_thp, T_DUMMY,
	  "MIGRATE_TO_DEV of a PTE-mapped THP (collect skip or folio split)" },
	{ "paths_read_during_thp_migration", t_read_during_thp_migration, T_DUMMY,
	  "device READ/SNAPSHOT racing two THP migrations (PMD migration entry, locked folio)" },
	{ "paths_write_during_insert", t_write_during_insert, T_DUMMY,
	  "CPU writes racing the insertion of device pages at pte_none" },
	{ "paths_read_unlocked_uffd", t_read_unlocked_uffd, T_DUMMY,
	  "READ_UNLOCKED of pages a userfaultfd thread supplies (fault drops mmap_lock)" },
	{ "paths_read_unlocked_busy", t_read_unlocked_busy, T_DUMMY,
	  "READ_UNLOCKED of a range invalidated without pause: 0 or -EBUSY, in bounded time" },
	{ "paths_holes", t_holes, T_DUMMY,
	  "untouched PMDs and the huge zero page: snapshot, read, migrate whole and in part" },
	{ "paths_uffd_missing_hole", t_uffd_missing_hole, T_DUMMY,
	  "MIGRATE_TO_DEV of holes registered with userfaultfd backs off" },
	{ "paths_guard_page", t_guard_page, T_DUMMY,
	  "a guard page: READ -EFAULT, SNAPSHOT empty, MIGRATE_TO_DEV skips it" },
	{ "paths_fault_sigbus", t_fault_sigbus, T_DUMMY,
	  "READ past the end of a file mapping: the fault's SIGBUS becomes -EFAULT" },
	{ "paths_file_hole", t_file_hole, T_DUMMY,
	  "MIGRATE_TO_DEV of an untouched, then read, private file mapping: nothing moves" },
	{ "paths_write_readonly", t_write_readonly, T_DUMMY,
	  "WRITE to a read-only THP and hugetlb page needs a fault: -EPERM" },
	{ "paths_device_thp_mprotect", t_device_thp_mprotect, T_DUMMY,
	  "mprotect() and MADV_FREE on a THP on the device: read-only, split, kept" },
	{ "paths_peer_thp", t_peer_thp, T_DUMMY | T_TWO,
	  "a THP on device 1: device 0's snapshot, read and migration" },
	{ "paths_lazyfree_other_cpu", t_lazyfree_other_cpu, T_DUMMY,
	  "pages lazily freed on another CPU: short migration, data intact" },
};

const struct tgroup tests_paths = { cases, ARRAY_SIZE(cases) };
