// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_dummy copy engine: the device's DMA engine, which copies pages on its
 * own while the driver waits on a fence.
 *
 * Every copy the device makes (migration to and from device memory, the
 * eviction and unload copies, device READ/WRITE) is a job: a list of page
 * pairs, a side of which may be a DMA address of the device (the system
 * pages a mirror maps; engine_dma_page() is how the device reaches them),
 * built by the driver, handed to hmm_dummy_engine_submit() and
 * completed with a struct dma_fence.  The driver then waits on the fence
 * before it commits anything (migrate_vma_pages(), migrate_device_pages(),
 * copy_to_user()), and a job that failed (fence error) makes it abort
 * exactly the pages of that job, whose sources are still intact.
 *
 * With copy_engine=async (the default) the jobs of a device run one after
 * the other on its ordered workqueue, in another thread: that is the gap a
 * real engine opens, in which the source and destination folios stay
 * locked, CPU faults sleep on those locks and invalidations arrive while
 * the copy is in flight.  Only a job its submitter waits for at once
 * (a small one, or one marked wait_at_once: see ENGINE_INLINE_PAGES) that
 * finds the engine idle runs in the submitting thread, unless
 * engine_latency_us asks for a slow engine.  With copy_engine=sync the
 * submitting thread runs every job itself and the fence is signalled
 * before submit returns, which is how the driver worked before it had an
 * engine.
 *
 * The job runs in a dma_fence signalling critical section
 * (dma_fence_begin_signalling()): an mmu notifier waits for access jobs
 * (mirror.c), so a job must never allocate memory that could reclaim or
 * take a lock an invalidation holds, and lockdep checks that it does not.
 */
#include <linux/delay.h>
#include <linux/dma-direct.h>
#include <linux/dma-fence.h>
#include <linux/highmem.h>
#include <linux/iommu.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "hmm_dummy.h"

static char *copy_engine = "async";
module_param(copy_engine, charp, 0444);
MODULE_PARM_DESC(copy_engine, "How copies run: async (on the device's engine, the default) or sync (in the thread that asks)");

static unsigned int engine_latency_us;
module_param(engine_latency_us, uint, 0644);
MODULE_PARM_DESC(engine_latency_us, "Time each copy job takes before it starts copying, in microseconds (default 0; widens the windows a real engine has)");

static unsigned int engine_fail_jobs;
module_param(engine_fail_jobs, uint, 0644);
MODULE_PARM_DESC(engine_fail_jobs, "Test hook: the next N copy jobs of the kinds in engine_fail_kinds fail with -EIO, copying nothing (default 0)");

static unsigned int engine_fail_kinds = HMM_DUMMY_JOB_KINDS_ALL;
module_param(engine_fail_kinds, uint, 0644);
MODULE_PARM_DESC(engine_fail_kinds, "Test hook: the job kinds engine_fail_jobs applies to, a mask: 1 to device, 2 to system, 4 device access, 8 unload (default 15)");

static bool engine_async = true;

/*
 * A job of at most this many pages (a CPU fault's window, a device atomic)
 * that finds the engine idle runs in the submitting thread, which waits for
 * it right away anyway: waking the engine's worker costs more than such a
 * copy (an inter-processor interrupt and two context switches, which
 * under emulation made every CPU fault 2.3 times slower).  So does a job
 * of any size its submitter marked wait_at_once: one the submitter waits
 * for right away with nothing to overlap (a device access, a CPU fault, a
 * batch holding a large folio, which the pipeline finishes at once, an
 * unload copy) gains nothing from the worker and paid for it: THP
 * migrations were up to 15% slower with copy_engine=async than with sync.
 * What the worker runs then is what it is for: pipelined batches, and
 * jobs that find it busy.  Not with
 * engine_latency_us set: a slow engine is emulated in full.
 */
#define ENGINE_INLINE_PAGES	HMM_DUMMY_STACK_BATCH

/**
 * hmm_dummy_engine_param_check() - validate the engine's load-time parameter
 *
 * Context: module init.
 *
 * Return: 0, or -EINVAL for a copy_engine value other than sync or async.
 */
int hmm_dummy_engine_param_check(void)
{
	if (sysfs_streq(copy_engine, "async"))
		engine_async = true;
	else if (sysfs_streq(copy_engine, "sync"))
		engine_async = false;
	else
		return -EINVAL;
	return 0;
}

/* Consume one injected failure if one is pending for @kind. */
static bool engine_should_fail(enum hmm_dummy_job_kind kind)
{
	if (!(READ_ONCE(engine_fail_kinds) & BIT(kind)))
		return false;
	return hmm_dummy_take_failure(&engine_fail_jobs);
}

static const char *engine_driver_name(struct dma_fence *fence)
{
	return "hmm_dummy";
}

static const char *engine_timeline_name(struct dma_fence *fence)
{
	return "copy-engine";
}

/*
 * No .release: the job is one kmalloc() allocation with the fence first,
 * so the default (dma_fence_free(), kfree_rcu() of the fence) frees it.
 */
static const struct dma_fence_ops engine_fence_ops = {
	.get_driver_name = engine_driver_name,
	.get_timeline_name = engine_timeline_name,
};

/**
 * hmm_dummy_job_alloc() - a copy job with room for @n page pairs
 * @kind: what the job is for (failure injection, tracing)
 * @n:    page pairs it can hold
 *
 * Context: process context, may sleep (GFP_KERNEL): allocate jobs before
 * taking locks an invalidation needs.
 *
 * Return: the job, or NULL.  Free an unsubmitted job with
 * hmm_dummy_job_free(); a submitted one belongs to its fence.
 */
struct hmm_dummy_job *hmm_dummy_job_alloc(enum hmm_dummy_job_kind kind,
					  unsigned long n)
{
	struct hmm_dummy_job *job;

	BUILD_BUG_ON(offsetof(struct hmm_dummy_job, fence));
	job = kmalloc(struct_size(job, copies, n), GFP_KERNEL);
	if (!job)
		return NULL;
	job->kind = kind;
	job->wait_at_once = false;
	job->max = n;
	job->n = 0;
	return job;
}

/*
 * Let go of the device pages copies [@from, job->n) of @job hold, and
 * forget those copies.
 */
static void job_unhold(struct hmm_dummy_job *job, unsigned long from)
{
	struct hmm_dummy_copy *c;

	for (c = job->copies + from; c < job->copies + job->n; c++) {
		if (c->flags & HMM_DUMMY_COPY_DST_DEV)
			hmm_dummy_page_unhold(c->dst);
		if (c->flags & HMM_DUMMY_COPY_SRC_DEV)
			hmm_dummy_page_unhold(c->src);
	}
	job->n = from;
}

/**
 * hmm_dummy_job_truncate() - take the last copies off a job not submitted
 * @job: the job
 * @n:   copies to keep
 *
 * Context: any context that may take a spinlock.
 */
void hmm_dummy_job_truncate(struct hmm_dummy_job *job, unsigned long n)
{
	if (!WARN_ON_ONCE(n > job->n))
		job_unhold(job, n);
}

/**
 * hmm_dummy_job_free() - free a job that was never submitted
 * @job: the job, which lets go of the device pages it holds
 *
 * Context: any context that may take a spinlock.
 */
void hmm_dummy_job_free(struct hmm_dummy_job *job)
{
	job_unhold(job, 0);
	kfree(job);
}

/*
 * One side of a copy: a device page of an hmm_dummy device is held for the
 * job (its backing is copied when the job runs), anything else is used as
 * it is.  Returns the HMM_DUMMY_COPY_*_DEV flag to set, @dev_flag or 0.
 */
static unsigned int job_side(struct page *page, unsigned int dev_flag)
{
	if (!hmm_dummy_is_device_page(page))
		return 0;
	hmm_dummy_page_hold(page);
	return dev_flag;
}

/**
 * hmm_dummy_job_add() - one more page for a job to copy
 * @job: a job not yet submitted
 * @dst: the page the engine writes: a system page, or a device page of an
 *       hmm_dummy device, whose backing it then writes
 * @src: the page it reads, the same way, or NULL to clear @dst
 *
 * A device page is held for the job (hmm_dummy_page_hold()) from here
 * until the job is done or freed unsubmitted: if its folio is freed
 * meanwhile, the page is not handed out again before then.  Other pages
 * must stay valid until the job's fence signals: the caller holds them
 * locked (migration), referenced, or reachable only through a mapping
 * whose invalidation waits for the fence (device access).
 *
 * Context: any context that may take a spinlock; the caller keeps a
 * device page in use for the duration of the call.
 */
void hmm_dummy_job_add(struct hmm_dummy_job *job, struct page *dst,
		       struct page *src)
{
	struct hmm_dummy_copy *c;

	if (WARN_ON_ONCE(job->n >= job->max))
		return;
	c = &job->copies[job->n++];
	c->dst = dst;
	c->src = src;
	c->flags = job_side(dst, HMM_DUMMY_COPY_DST_DEV) |
		   job_side(src, HMM_DUMMY_COPY_SRC_DEV);
}

/**
 * hmm_dummy_job_add_dma() - one more page for a job to copy, one side of
 * it given as a DMA address of the device
 * @job:    a job not yet submitted
 * @page:   the page on the other side
 * @dma:    the page-aligned DMA address (mapped for the device's dma_dev)
 * @to_dma: true: copy @page to @dma; false: copy @dma to @page
 *
 * The mapping of @dma must stay until the job's fence signals: the caller
 * unmaps only after waiting for it (mirror.c's invalidation).
 */
void hmm_dummy_job_add_dma(struct hmm_dummy_job *job, struct page *page,
			   dma_addr_t dma, bool to_dma)
{
	struct hmm_dummy_copy *c;

	if (WARN_ON_ONCE(job->n >= job->max))
		return;
	c = &job->copies[job->n++];
	if (to_dma) {
		c->dst_dma = dma;
		c->src = page;
		c->flags = HMM_DUMMY_COPY_DST_DMA |
			   job_side(page, HMM_DUMMY_COPY_SRC_DEV);
	} else {
		c->dst = page;
		c->src_dma = dma;
		c->flags = HMM_DUMMY_COPY_SRC_DMA |
			   job_side(page, HMM_DUMMY_COPY_DST_DEV);
	}
}

/*
 * The page behind one of the device's DMA addresses, found the way the
 * device's accesses would reach it, or NULL where the device would take a
 * fault.
 *
 * Behind an IOMMU (the device has a translating domain), the IOMMU's page
 * table is what the device's access goes through: iommu_iova_to_phys()
 * walks it, so an address that was unmapped translates to nothing (0) and
 * the job fails as a DMA fault would.  Without one (the direct mapping,
 * and an identity domain, which iommu_iova_to_phys() returns as is) the
 * DMA address is the bus address of the page, and dma_to_phys() is exactly
 * the inverse of the mapping dma_map_page() made: a faithful emulation,
 * though a stale address then still reaches the page, as it would on real
 * hardware without an IOMMU.
 *
 * A real device never calls this: it puts the address on the bus.  The
 * emulation uses the kernel's linear mapping of the page found, which is
 * what the bus access would have touched.
 */
static struct page *engine_dma_page(struct hmm_dummy_device *hdev,
				    struct iommu_domain *domain, dma_addr_t dma)
{
	phys_addr_t phys;

	if (domain)
		phys = iommu_iova_to_phys(domain, dma);
	else
		phys = dma_to_phys(hdev->dma_dev, dma);
	if (!phys || !pfn_valid(PHYS_PFN(phys)))
		return NULL;
	return pfn_to_page(PHYS_PFN(phys));
}

/*
 * One pair of @job, or -EFAULT for an address the device cannot reach;
 * @domain: the DMA device's IOMMU domain, or NULL.
 */
static int engine_copy(struct hmm_dummy_job *job, struct iommu_domain *domain,
		       struct hmm_dummy_copy *c)
{
	struct page *dst = c->dst, *src = c->src;

	if (c->flags & HMM_DUMMY_COPY_DST_DMA)
		dst = engine_dma_page(job->hdev, domain, c->dst_dma);
	else if (c->flags & HMM_DUMMY_COPY_DST_DEV)
		dst = hmm_dummy_page_backing(dst);
	if (c->flags & HMM_DUMMY_COPY_SRC_DMA)
		src = engine_dma_page(job->hdev, domain, c->src_dma);
	else if (c->flags & HMM_DUMMY_COPY_SRC_DEV)
		src = hmm_dummy_page_backing(src);
	if (!dst || (!src && (c->flags & HMM_DUMMY_COPY_SRC_DMA))) {
		dev_err_ratelimited(job->hdev->dev,
				    "copy engine: DMA fault at %pad\n",
				    !dst ? &c->dst_dma : &c->src_dma);
		return -EFAULT;
	}
	if (src)
		copy_highpage(dst, src);
	else
		clear_highpage(dst);
	return 0;
}

/*
 * The engine at work: copy every pair of @job, then signal its fence.  An
 * empty job (a batch with nothing to copy) completes at once: no latency,
 * and no injected failure spent on it.
 */
static void engine_run(struct hmm_dummy_job *job)
{
	unsigned int us = job->n ? READ_ONCE(engine_latency_us) : 0;
	unsigned long i;

	if (us)
		usleep_range(us, us + us / 8 + 1);
	if (job->n && engine_should_fail(job->kind)) {
		dma_fence_set_error(&job->fence, -EIO);
	} else {
		/*
		 * Once a job: a default domain changes only with no driver
		 * bound, and dma_dev.c's binding lasts until unload.
		 */
		struct iommu_domain *domain =
			iommu_get_domain_for_dev(job->hdev->dma_dev);

		for (i = 0; i < job->n; i++) {
			int ret = engine_copy(job, domain, &job->copies[i]);

			if (ret) {
				dma_fence_set_error(&job->fence, ret);
				break;
			}
		}
	}
	/*
	 * The job is done with its device pages: let them go before the
	 * fence signals, so that a waiter finds every page it freed back in
	 * the allocator.  And counted before it signals: a waiter that reads
	 * the stats right after its wait must see its job counted.
	 */
	job_unhold(job, 0);
	hmm_dummy_count(job->hdev, job->fence.error ?
			HMM_DUMMY_CNT_ENGINE_FAILURES : HMM_DUMMY_CNT_ENGINE_JOBS,
			1);
}

/*
 * Run @job (engine_run() counts it), signal its fence, and drop the
 * engine's reference to it; @queued: it ran on the engine's queue.
 *
 * The job leaves the engine's books (@queued, @in_flight) in the same
 * critical section of engine->lock, the fence lock, in which its fence
 * signals: whoever sees the fence signalled sees the job gone from
 * engine_in_flight (the race cases rely on it), and a submitter that finds
 * nothing queued (hmm_dummy_engine_submit()) knows that every queued job's
 * fence has signalled.
 */
static void engine_complete(struct hmm_dummy_job *job, bool queued)
{
	struct hmm_dummy_engine *engine = &job->hdev->engine;
	bool cookie = dma_fence_begin_signalling();
	unsigned long flags;

	engine_run(job);
	spin_lock_irqsave(&engine->lock, flags);
	engine->queued -= queued;
	engine->in_flight--;
	dma_fence_signal_locked(&job->fence);
	spin_unlock_irqrestore(&engine->lock, flags);
	dma_fence_end_signalling(cookie);
	/* The engine's reference, taken at submit. */
	dma_fence_put(&job->fence);
}

static void engine_work(struct work_struct *work)
{
	engine_complete(container_of(work, struct hmm_dummy_job, work), true);
}

/**
 * hmm_dummy_engine_submit() - hand a job to the device's copy engine
 * @hdev: the device whose engine copies
 * @job:  a job from hmm_dummy_job_alloc(), filled with hmm_dummy_job_add()
 *
 * The job is queued behind the device's earlier jobs (async) or run right
 * here (sync, or a small job on an idle engine: ENGINE_INLINE_PAGES);
 * either way, once this returns the job belongs to the engine and the
 * caller only has the fence.  Queued jobs share the engine's fence context,
 * in which they signal in order; a job run here may finish before an
 * earlier queued one, so its fence gets a context of its own.
 *
 * Context: process context.  A job run here copies here, and sleeps if
 * engine_latency_us is set: the caller may hold mirror->lock and page
 * locks, but nothing a job must not wait for (see the file comment).
 *
 * Return: the job's fence, with a reference for the caller to drop with
 * hmm_dummy_engine_wait() or dma_fence_put().
 */
struct dma_fence *hmm_dummy_engine_submit(struct hmm_dummy_device *hdev,
					  struct hmm_dummy_job *job)
{
	struct hmm_dummy_engine *engine = &hdev->engine;
	unsigned long flags;
	bool here;

	job->hdev = hdev;
	spin_lock_irqsave(&engine->lock, flags);
	here = !engine_async ||
	       (!engine->queued &&
		(job->n <= ENGINE_INLINE_PAGES || job->wait_at_once) &&
		!READ_ONCE(engine_latency_us));
	if (here) {
		dma_fence_init(&job->fence, &engine_fence_ops, &engine->lock,
			       dma_fence_context_alloc(1), 1);
	} else {
		dma_fence_init(&job->fence, &engine_fence_ops, &engine->lock,
			       engine->context, ++engine->seqno);
		engine->queued++;
	}
	engine->in_flight++;
	spin_unlock_irqrestore(&engine->lock, flags);
	/* One reference for the caller, one for the engine. */
	dma_fence_get(&job->fence);
	if (here) {
		engine_complete(job, false);
	} else {
		INIT_WORK(&job->work, engine_work);
		queue_work(engine->wq, &job->work);
	}
	return &job->fence;
}

/**
 * hmm_dummy_engine_in_flight() - jobs submitted to a device, not done
 * @hdev: the device
 *
 * Context: any context that may take a spinlock.
 *
 * Return: the number of jobs submitted and not yet completed, on the
 * engine's queue or running in their submitters.
 */
unsigned long hmm_dummy_engine_in_flight(struct hmm_dummy_device *hdev)
{
	unsigned long flags, n;

	spin_lock_irqsave(&hdev->engine.lock, flags);
	n = hdev->engine.in_flight;
	spin_unlock_irqrestore(&hdev->engine.lock, flags);
	return n;
}

/**
 * hmm_dummy_engine_wait() - wait for a job and drop the caller's fence
 * @fence: from hmm_dummy_engine_submit()
 *
 * Uninterruptible: the job reads and writes pages the caller holds locked
 * or whose mapping it is about to give up, so it must end before they do.
 *
 * Context: process context, sleeps.
 *
 * Return: 0, or the job's error (-EIO for an injected failure).
 */
int hmm_dummy_engine_wait(struct dma_fence *fence)
{
	int ret;

	dma_fence_wait(fence, false);
	ret = fence->error;
	dma_fence_put(fence);
	return ret;
}

/**
 * hmm_dummy_engine_init() - create a device's copy engine
 * @hdev: the device
 *
 * Context: process context (module init).
 *
 * Return: 0 or -ENOMEM.
 */
int hmm_dummy_engine_init(struct hmm_dummy_device *hdev)
{
	struct hmm_dummy_engine *engine = &hdev->engine;

	if (hmm_dummy_init_fault())
		return -ENOMEM;
	spin_lock_init(&engine->lock);
	engine->context = dma_fence_context_alloc(1);
	engine->seqno = 0;
	/*
	 * Ordered: the fences of one context must signal in order, and one
	 * queue is what a device's single copy engine is.  WQ_MEM_RECLAIM:
	 * invalidations from reclaim wait for access jobs.
	 */
	engine->wq = alloc_ordered_workqueue("hmm_dummy%u-engine",
					     WQ_MEM_RECLAIM, hdev->index);
	return engine->wq ? 0 : -ENOMEM;
}

/**
 * hmm_dummy_engine_fini() - wait for a device's last jobs, remove its engine
 * @hdev: the device, whose users are all gone
 *
 * Context: process context (module exit or failed init), sleeps.
 */
void hmm_dummy_engine_fini(struct hmm_dummy_device *hdev)
{
	if (!hdev->engine.wq)
		return;
	destroy_workqueue(hdev->engine.wq);
	hdev->engine.wq = NULL;
}
