// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_test: the fixture most cases start from.  fx_setup() opens the
 * device(s), maps the buffer under test and a host buffer of the same size
 * and fills the first with a pattern; fx_ok() runs one command that must
 * succeed on every page it names.  Each step CHECKs what it did, so a case
 * that uses them keeps those checks (and counts them, run --count-checks)
 * while stating only what it is about.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "hmm_test.h"

static void fx_clear(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	f->fd[0] = -1;
	f->fd[1] = -1;
}

int fx_setup(struct fx *f, unsigned long npages, unsigned int flags,
	     int seed)
{
	int i;

	fx_clear(f);
	f->npages = npages;
	f->size = npages * cfg.page_size;
	for (i = 0; i < ((flags & FX_TWO) ? 2 : 1); i++) {
		f->dev[i] = (flags & FX_COHERENT) ? coherent_dev(i) : i;
		if (f->dev[i] < 0)
			return t_skip("no coherent device %d (load hmm_dummy with spm_addr_dev%d)",
				      i, i);
		f->fd[i] = hmm_open(f->dev[i]);
		CHECKF(f->fd[i] >= 0, "open %s%d: %s", cfg.prefix, f->dev[i],
		       strerror(-f->fd[i]));
	}
	if (flags >> 8)
		f->p = map_aligned(f->size, 1UL << (flags >> 8));
	else
		f->p = map_anon(f->size, (flags & FX_PROT_NONE) ? PROT_NONE :
				PROT_READ | PROT_WRITE, MAP_PRIVATE);
	CHECKF(f->p, "map %lu pages", npages);
	if (!(flags & FX_NOBUF)) {
		f->m = malloc(f->size);
		CHECKF(f->m, "host buffer of %lu pages", npages);
	}
	if (seed >= 0)
		pat_fill(f->p, f->size, seed);
	return T_PASS;
}

int fx_cmd(struct fx *f, int dev, unsigned long req, unsigned long first,
	   unsigned long n)
{
	return hmm_cmd(f->fd[dev], req, f->p + first * cfg.page_size, f->m,
		       n, &f->c);
}

int fx_ok(struct fx *f, int dev, unsigned long req, unsigned long first,
	  unsigned long n)
{
	int r;

	/*
	 * All n pages on the device at once cannot be had from a smaller
	 * device (hmm_dummy loaded with a small vram_mb): the case does not
	 * apply, it has not failed.
	 */
	if (req == HMM_DMIRROR_MIGRATE_TO_DEV && cfg.dummy &&
	    n > cfg.info[f->dev[dev]].capacity_pages)
		return t_skip("needs %lu pages on device %d, which has %llu",
			      n, f->dev[dev],
			      (unsigned long long)cfg.info[f->dev[dev]].capacity_pages);
	r = fx_cmd(f, dev, req, first, n);

	CHECKF(!r, "%s of pages %lu..%lu on device %d: %d (%s)",
	       hmm_cmd_name(req), first, first + n - 1, dev, r, strerror(-r));
	CHECKF(f->c.cpages == n, "%s of pages %lu..%lu on device %d: cpages %llu",
	       hmm_cmd_name(req), first, first + n - 1, dev,
	       (unsigned long long)f->c.cpages);
	return T_PASS;
}

int fx_all(struct fx *f, unsigned long req)
{
	return fx_ok(f, 0, req, 0, f->npages);
}

int fx_pat(const struct fx *f, bool host, uint64_t seed)
{
	CHECK_PAT(host ? f->m : f->p, f->size, seed);
	return T_PASS;
}

/*
 * SNAPSHOT of all of @f through its device @dev (overwriting @f->m): pages
 * [0, @h) must read @first, the rest @second, each writable.  The check of
 * the two-device cases that put half the pages on each device.
 */
int fx_snapshot_split(struct fx *f, int dev, unsigned long h, uint8_t first,
		      uint8_t second)
{
	uint8_t *m = (uint8_t *)f->m;
	unsigned long i;

	CHECK_RET(hmm_cmd(f->fd[dev], HMM_DMIRROR_SNAPSHOT, f->p, m, f->npages,
			  NULL), 0);
	for (i = 0; i < f->npages; i++)
		CHECKF(m[i] == ((i < h ? first : second) |
				HMM_DMIRROR_PROT_WRITE),
		       "device %d, page %lu: 0x%02x", f->dev[dev], i, m[i]);
	return T_PASS;
}

void fx_teardown(struct fx *f)
{
	int i;

	if (f->p)
		munmap(f->p, f->size);
	free(f->m);
	for (i = 0; i < 2; i++)
		if (f->fd[i] >= 0)
			close(f->fd[i]);
	fx_clear(f);
}
