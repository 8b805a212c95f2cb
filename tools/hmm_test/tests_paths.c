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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
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

/* Device READs of the whole area until told to stop; data must match. */
static void *reader(void *arg)
{
	struct race *r = arg;
	char *m = malloc(r->size);
	int ret;

	while (m && !__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE) &&
	       !__atomic_load_n(&r->err, __ATOMIC_ACQUIRE)) {
		ret = hmm_cmd(r->fd, HMM_DMIRROR_READ, r->p, m,
			      r->size / PS, NULL);
		if (ret == -EBUSY)
			continue;
		if (!ret && pat_check(m, r->size, 73) >= 0)
			ret = -EIO;
		if (ret)
			__atomic_store_n(&r->err, ret, __ATOMIC_RELEASE);
		r->rounds++;
	}
	free(m);
	return NULL;
}

/*
 * hmm_range_fault() while another thread moves a THP to the device and
 * back.  Kernel path: hmm_vma_walk_pmd() meeting a PMD migration entry
 * (pmd_migration_entry_wait()) on kernels that migrate a THP whole (7.3
 * with device-private THP); elsewhere the fault path meeting the PTE
 * migration entries of the split pages.  Every device READ must see the
 * pattern.
 */
static int t_read_during_thp_migration(void)
{
	/* Two opens of device 0: two mirrors of one device's memory. */
	struct race r = { .size = HPS, .fd = hmm_open(0) };
	int fd = hmm_open(0), ret, bad = 0;
	unsigned long i, moved = 0;
	double end = now_sec() + 3;
	pthread_t t;

	CHECK(r.fd >= 0 && fd >= 0);
	if (!thp_enabled())
		SKIP("THP disabled in /sys/kernel/mm/transparent_hugepage/enabled");
	r.p = map_aligned(HPS, HPS);
	CHECK(r.p);
	CHECK(madvise(r.p, HPS, MADV_HUGEPAGE) == 0);
	pat_fill(r.p, HPS, 73);
	CHECK(pthread_create(&t, NULL, reader, &r) == 0);
	for (i = 0; now_sec() < end && !__atomic_load_n(&r.err, __ATOMIC_ACQUIRE);
	     i++) {
		ret = hmm_cmd(fd, i & 1 ? HMM_DMIRROR_MIGRATE_TO_SYS :
			      HMM_DMIRROR_MIGRATE_TO_DEV, r.p, NULL,
			      HPS / PS, NULL);
		if (ret && ret != -ENOENT && ret != -EBUSY) {
			t_diag("%s: %d", i & 1 ? "MIGRATE_TO_SYS" : "MIGRATE_TO_DEV",
			       ret);
			bad = ret;
			break;
		}
		moved += !ret;
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	t_diag("%lu migrations, %lu device reads", moved, r.rounds);
	CHECKF(!r.err, "device READ: %d (-EIO: it saw wrong data)", r.err);
	CHECK(r.rounds > 0 && moved > 0 && !bad);
	CHECK_PAT(r.p, HPS, 73);
	close(fd);
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
	char *src = malloc(size), *m = malloc(size), *probe;
	int fd = hmm_open(0), ret;
	pthread_t t;

	CHECK(src && m && fd >= 0);
	probe = map_anon(PS, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	CHECK(probe);
	probe[0] = 1;
	ret = hmm_cmd(fd, HMM_DMIRROR_READ_UNLOCKED, probe, m, 1, NULL);
	munmap(probe, PS);
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

static const struct tcase cases[] = {
	{ "paths_pinned_page", t_pinned_page, T_DUMMY,
	  "a page referenced by a pipe stays behind (unmap restore path)" },
	{ "paths_pte_mapped_thp", t_pte_mapped_thp, T_DUMMY,
	  "MIGRATE_TO_DEV of a PTE-mapped THP (collect skip or folio split)" },
	{ "paths_read_during_thp_migration", t_read_during_thp_migration, T_DUMMY,
	  "device READ racing THP migration (PMD migration entry in hmm_range_fault)" },
	{ "paths_write_during_insert", t_write_during_insert, T_DUMMY,
	  "CPU writes racing the insertion of device pages at pte_none" },
	{ "paths_read_unlocked_uffd", t_read_unlocked_uffd, T_DUMMY,
	  "READ_UNLOCKED of pages a userfaultfd thread supplies (fault drops mmap_lock)" },
};

const struct tgroup tests_paths = { cases, ARRAY_SIZE(cases) };
