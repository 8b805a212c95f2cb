// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_dummy: a dummy device with device-private memory, for exercising and
 * demonstrating the kernel's HMM and device-memory migration paths.
 *
 * This file: module parameters, the character devices, and the file
 * operations that validate user commands and dispatch them.
 */
#include <linux/cdev.h>
#include <linux/dma-mapping.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "compat.h"
#include "hmm_dummy.h"
#include "trace.h"

static unsigned int num_devices = 2;
module_param(num_devices, uint, 0444);
MODULE_PARM_DESC(num_devices, "Number of devices /dev/hmm_dummyN (1-8, default 2)");

static unsigned int vram_mb = 256;
module_param(vram_mb, uint, 0444);
MODULE_PARM_DESC(vram_mb, "Device memory per device in MiB (2-65536, default 256)");

/*
 * Coherent devices, named as test_hmm names them so that hmm-tests' device
 * coherent variants run: each address is the start of a range of
 * special-purpose memory (memmap=SIZE!ADDR on the kernel command line, or
 * the firmware's), which becomes the device's memory.  They follow the
 * num_devices device-private ones: with the default 2, /dev/hmm_dummy2 and
 * 3, the numbers hmm-tests opens as hmm_dmirror2 and 3.
 */
static unsigned long spm_addr_dev0;
module_param(spm_addr_dev0, ulong, 0444);
MODULE_PARM_DESC(spm_addr_dev0, "Physical address of the special-purpose memory of a first coherent device, after the num_devices private ones (default 0: none)");

static unsigned long spm_addr_dev1;
module_param(spm_addr_dev1, ulong, 0444);
MODULE_PARM_DESC(spm_addr_dev1, "Physical address of the special-purpose memory of a second coherent device (needs spm_addr_dev0; default 0: none)");

static unsigned int spm_mb = 256;
module_param(spm_mb, uint, 0444);
MODULE_PARM_DESC(spm_mb, "Memory of each coherent device in MiB, a multiple of 2 (default 256)");

/* The minors reserved: every device, private and coherent. */
static unsigned int nr_minors;

unsigned int hmm_dummy_fault_window = 16;

static int fault_window_set(const char *val, const struct kernel_param *kp)
{
	unsigned int n;
	int ret = kstrtouint(val, 0, &n);

	if (ret)
		return ret;
	if (n < 1 || n > HMM_DUMMY_MAX_FAULT_WINDOW)
		return -EINVAL;
	WRITE_ONCE(hmm_dummy_fault_window, n);
	return 0;
}

static const struct kernel_param_ops fault_window_ops = {
	.set = fault_window_set,
	.get = param_get_uint,
};
module_param_cb(fault_window, &fault_window_ops, &hmm_dummy_fault_window,
		0644);
MODULE_PARM_DESC(fault_window, "Device pages migrated back per CPU fault (1-32, default 16)");

bool hmm_dummy_peer_migration = true;
module_param_named(peer_migration, hmm_dummy_peer_migration, bool, 0444);
MODULE_PARM_DESC(peer_migration, "MIGRATE_TO_DEV also takes pages from peer devices (default 1; 0 behaves like test_hmm)");

/*
 * Read only: pgmap.owner is set when the device memory is registered, and
 * pages of the old owner could be mapped anywhere long after every file is
 * closed.  The suite runs its peer-group cases on a module loaded with it.
 */
bool hmm_dummy_peer_group;
module_param_named(peer_group, hmm_dummy_peer_group, bool, 0444);
MODULE_PARM_DESC(peer_group, "All devices share one pgmap owner: device accesses reach peers' pages in place, migration goes device to device (default 0)");

unsigned int hmm_dummy_num_devices;
struct hmm_dummy_device *hmm_dummy_devices[HMM_DUMMY_MAX_DEVICES];

static dev_t hmm_dummy_devt;
/*
 * One character device for all minors, added only once every device is
 * complete and deleted before any goes away: nothing can be opened while
 * the module is still setting up or tearing down (an open file would pin
 * a module whose init then failed and freed the state behind it).
 */
static struct cdev hmm_dummy_cdev;
static hmm_dummy_class_const struct class hmm_dummy_class = {
	.name = "hmm_dummy",
	.dev_groups = hmm_dummy_groups,
};

/**
 * hmm_dummy_open() - open a device file: a mirror of the opener's memory
 * @inode: the device node
 * @filp:  the new file
 *
 * Context: process context, may sleep (allocates, registers with the
 * opener's mm).  No lock held.
 *
 * Return: 0 or a negative errno.
 */
static int hmm_dummy_open(struct inode *inode, struct file *filp)
{
	unsigned int minor = iminor(inode) - MINOR(hmm_dummy_devt);
	struct hmm_dummy_device *hdev;
	struct hmm_dummy_mirror *mirror;
	int ret;

	/* The cdev exists only while every device does. */
	if (minor >= hmm_dummy_num_devices)
		return -ENXIO;
	hdev = hmm_dummy_devices[minor];
	if (!current->mm)
		return -EINVAL;
	mirror = kzalloc_obj(*mirror, GFP_KERNEL_ACCOUNT);
	if (!mirror)
		return -ENOMEM;
	ret = hmm_dummy_mirror_init(mirror, hdev, current->mm);
	if (ret) {
		kfree(mirror);
		return ret;
	}
	filp->private_data = mirror;
	return 0;
}

/**
 * hmm_dummy_release() - the last reference to a device file went away
 * @inode: the device node
 * @filp:  the file
 *
 * Context: process context, may sleep (tears the mirror down); no lock
 * held.
 *
 * Return: 0.
 */
static int hmm_dummy_release(struct inode *inode, struct file *filp)
{
	struct hmm_dummy_mirror *mirror = filp->private_data;

	/* Migrated pages belong to the device, not to the file: they stay. */
	hmm_dummy_mirror_fini(mirror);
	kfree(mirror);
	return 0;
}

/* Checks shared by the test_hmm compatible commands. */
static int check_cmd(const struct hmm_dmirror_cmd *cmd)
{
	unsigned long size;

	if (!cmd->npages || cmd->npages > TASK_SIZE >> PAGE_SHIFT)
		return -EINVAL;
	if (cmd->addr & ~PAGE_MASK || cmd->addr >= TASK_SIZE)
		return -EINVAL;
	size = cmd->npages << PAGE_SHIFT;
	if (cmd->addr + size > TASK_SIZE || cmd->addr + size < cmd->addr)
		return -EINVAL;
	return 0;
}

/**
 * do_migrate_to_dev() - MIGRATE_TO_DEV, then what the device now holds
 * @mirror: the file's mirror
 * @cmd:    the command; its cpages and data are test_hmm's
 * @end:    end of the range
 *
 * migrate_vma_setup() skips a page it cannot take at that moment (a page
 * or THP locked by someone else, a THP it could not split while another
 * reference was held): when the read-back finds pages missing, the
 * migration is tried once more, unless an injected allocation failure
 * (FAIL_ALLOC) is what left them behind.
 *
 * Context: process context (the ioctl), may sleep; no lock held.  The
 * migration and the read-back take the mmap_lock, mirror->lock, page
 * locks, evict_lock and hdev->lock themselves.
 *
 * Return: 0, -ENOENT if pages of the range are not on the device, or
 * another negative errno.
 */
static long do_migrate_to_dev(struct hmm_dummy_mirror *mirror,
			      struct hmm_dmirror_cmd *cmd, unsigned long end)
{
	unsigned int dev = mirror->hdev->index;
	struct hmm_dummy_fail_scope scope;
	bool injected;
	long ret;
	int tries;

	for (tries = 0; ; tries++) {
		injected = hmm_dummy_fail_scope_enter(&scope, mirror,
						      HMM_DUMMY_ALLOC_DEVICE);
		ret = hmm_dummy_migrate_to_dev(mirror, cmd->addr, end);
		hmm_dummy_fail_scope_exit(&scope);
		if (ret < 0)
			return ret;
		trace_hmm_dummy_phase(dev, HMM_DUMMY_OP_READBACK,
				      HMM_DUMMY_PHASE_BEGIN, cmd->npages);
		ret = hmm_dummy_mirror_read_local(mirror, cmd);
		trace_hmm_dummy_phase(dev, HMM_DUMMY_OP_READBACK,
				      HMM_DUMMY_PHASE_COPY, cmd->npages);
		if (ret != -ENOENT || injected || tries)
			return ret;
		cond_resched();
	}
}

static long do_mirror_cmd(struct hmm_dummy_mirror *mirror, unsigned int nr,
			  struct hmm_dmirror_cmd *cmd)
{
	unsigned long end = cmd->addr + (cmd->npages << PAGE_SHIFT);
	long ret;

	switch (nr) {
	case _IOC_NR(HMM_DMIRROR_READ):
		return hmm_dummy_mirror_rw(mirror, cmd, false, false);
	case _IOC_NR(HMM_DMIRROR_READ_UNLOCKED):
		return hmm_dummy_mirror_rw(mirror, cmd, false, true);
	case _IOC_NR(HMM_DMIRROR_WRITE):
		return hmm_dummy_mirror_rw(mirror, cmd, true, false);
	case _IOC_NR(HMM_DMIRROR_MIGRATE_TO_DEV):
		return do_migrate_to_dev(mirror, cmd, end);
	case _IOC_NR(HMM_DMIRROR_MIGRATE_TO_SYS):
		ret = hmm_dummy_migrate_to_sys(mirror, cmd->addr, end, false);
		if (ret < 0)
			return ret;
		cmd->cpages = ret;
		return 0;
	case _IOC_NR(HMM_DMIRROR_SNAPSHOT):
		return hmm_dummy_mirror_snapshot(mirror, cmd);
	case _IOC_NR(HMM_DMIRROR_EXCLUSIVE):
		return hmm_dummy_mirror_exclusive(mirror, cmd);
	case _IOC_NR(HMM_DMIRROR_CHECK_EXCLUSIVE):
		return hmm_dummy_mirror_check_exclusive(mirror, cmd);
	case _IOC_NR(HMM_DMIRROR_RELEASE):
		/*
		 * The caller's own pages in the range, holes allowed: any
		 * opener may call this, so it must not move other processes'
		 * memory (test_hmm evicts the whole device; hmm-tests'
		 * migrate_release only needs its own range back).
		 */
		ret = hmm_dummy_migrate_to_sys(mirror, cmd->addr, end, true);
		if (ret < 0)
			return ret;
		cmd->cpages = ret;
		return 0;
	}
	return -ENOTTY;
}

/**
 * copy_versioned_to_user() - copy a versioned structure out
 * @uarg:     the user's structure; its first __u32 is its size
 * @kbuf:     ours, zero-filled before the fields we know were set
 * @ksize:    the size of ours
 * @min_size: the size of the structure's first version
 *
 * The user's size says how much it knows, anything from @min_size up; it
 * gets min(its size, @ksize) bytes of @kbuf, nothing past them is touched,
 * and its size is set to what was filled.  So a binary built before a
 * field was appended keeps working, and a newer one learns from the size
 * what it got.
 *
 * Context: process context, may sleep (user copy, may fault); no lock
 * held.
 *
 * Return: 0, -EINVAL (size too small) or -EFAULT.
 */
static long copy_versioned_to_user(void __user *uarg, void *kbuf,
				   u32 ksize, u32 min_size)
{
	u32 usize;

	if (get_user(usize, (u32 __user *)uarg))
		return -EFAULT;
	if (usize < min_size)
		return -EINVAL;
	*(u32 *)kbuf = min(usize, ksize);
	if (copy_to_user(uarg, kbuf, min(usize, ksize)))
		return -EFAULT;
	return 0;
}

static long do_info(struct hmm_dummy_device *hdev, void __user *uarg)
{
	struct hmm_dummy_info info = {
		.version = HMM_DUMMY_INFO_VERSION,
		.device_index = hdev->index,
		.num_devices = hmm_dummy_num_devices,
		.capacity_pages = hdev->npages,
		.page_size = PAGE_SIZE,
		.fault_window = READ_ONCE(hmm_dummy_fault_window),
		.peer_migration = hmm_dummy_peer_migration,
		.large_order = hmm_dummy_device_thp() &&
			       !hmm_dummy_coherent(hdev) ?
			       HMM_DUMMY_LARGE_ORDER : 0,
		.memory_type = hmm_dummy_coherent(hdev) ?
			       HMM_DUMMY_MEMORY_COHERENT :
			       HMM_DUMMY_MEMORY_PRIVATE,
	};

	BUILD_BUG_ON(HMM_DUMMY_INFO_SIZE_V1 !=
		     offsetofend(struct hmm_dummy_info, large_order));
	return copy_versioned_to_user(uarg, &info, sizeof(info),
				      HMM_DUMMY_INFO_SIZE_V1);
}

static long do_stats(struct hmm_dummy_device *hdev, void __user *uarg)
{
	struct hmm_dummy_stats st = {};

	BUILD_BUG_ON(HMM_DUMMY_STATS_SIZE_V1 !=
		     offsetofend(struct hmm_dummy_stats, backing_pages));
	hmm_dummy_fill_stats(hdev, &st);
	return copy_versioned_to_user(uarg, &st, sizeof(st),
				      HMM_DUMMY_STATS_SIZE_V1);
}

/* HMM_DMIRROR_FLAGS: cmd.npages holds the flags, nothing else is used. */
static long do_flags(struct hmm_dummy_mirror *mirror, void __user *uarg)
{
	struct hmm_dmirror_cmd c;

	if (copy_from_user(&c, uarg, sizeof(c)))
		return -EFAULT;
	if (c.npages & ~HMM_DMIRROR_FLAG_FAIL_ALLOC)
		return -EINVAL;
	if (c.npages & HMM_DMIRROR_FLAG_FAIL_ALLOC)
		set_bit(HMM_DUMMY_MIRROR_FAIL_ALLOC, &mirror->flags);
	else
		clear_bit(HMM_DUMMY_MIRROR_FAIL_ALLOC, &mirror->flags);
	return 0;
}

/**
 * hmm_dummy_ioctl() - the device file's commands
 * @filp: the file
 * @cmd:  the command
 * @arg:  its argument, a user pointer
 *
 * Context: process context, may sleep; no lock held.  The commands take
 * the mmap_lock, mirror->lock, page locks, evict_lock and hdev->lock as
 * they need them.
 *
 * Return: 0 or a negative errno (-ENOENT with cpages and faults filled in
 * for a partial migration).
 */
static long hmm_dummy_ioctl(struct file *filp, unsigned int cmd,
			    unsigned long arg)
{
	struct hmm_dummy_mirror *mirror = filp->private_data;
	void __user *uarg = (void __user *)arg;
	struct hmm_dmirror_cmd c;
	long ret;

	/* The device mirrors the opener's address space and no other. */
	if (current->mm != mirror->mm)
		return -EPERM;

	/*
	 * hmm_dummy's own structures carry their size, so their ioctl
	 * numbers are matched without the size bits.
	 */
	if (_IOC_TYPE(cmd) == 'H' && _IOC_DIR(cmd) == (_IOC_READ | _IOC_WRITE)) {
		switch (_IOC_NR(cmd)) {
		case _IOC_NR(HMM_DUMMY_STATS):
			return do_stats(mirror->hdev, uarg);
		case _IOC_NR(HMM_DUMMY_INFO):
			return do_info(mirror->hdev, uarg);
		}
	}

	switch (cmd) {
	case HMM_DMIRROR_READ:
	case HMM_DMIRROR_WRITE:
	case HMM_DMIRROR_MIGRATE_TO_DEV:
	case HMM_DMIRROR_MIGRATE_TO_SYS:
	case HMM_DMIRROR_SNAPSHOT:
	case HMM_DMIRROR_EXCLUSIVE:
	case HMM_DMIRROR_CHECK_EXCLUSIVE:
	case HMM_DMIRROR_RELEASE:
	case HMM_DMIRROR_READ_UNLOCKED:
		break;
	case HMM_DMIRROR_FLAGS:
		return do_flags(mirror, uarg);
	default:
		return -ENOTTY;
	}
	if (copy_from_user(&c, uarg, sizeof(c)))
		return -EFAULT;
	c.cpages = 0;
	c.faults = 0;
	ret = check_cmd(&c);
	if (ret)
		return ret;
	ret = do_mirror_cmd(mirror, _IOC_NR(cmd), &c);
	/*
	 * cpages and faults go back even on failure: a partial migration
	 * (-ENOENT) still tells how many pages reached the device.
	 */
	if ((!ret || ret == -ENOENT) && copy_to_user(uarg, &c, sizeof(c)))
		return -EFAULT;
	return ret;
}

/**
 * hmm_dummy_mmap() - map the device file: ordinary zeroed system pages
 * @filp: the file
 * @vma:  the new mapping
 *
 * The pages are inserted as a VM_MIXEDMAP mapping; the kernel's selftest
 * uses it to check how hmm_range_fault() reports such mappings.
 *
 * Context: process context, may sleep (allocates); the mmap_lock of
 * @vma's mm held for write by the core.
 *
 * Return: 0 or a negative errno.
 */
static int hmm_dummy_mmap(struct file *filp, struct vm_area_struct *vma)
{
	struct hmm_dummy_mirror *mirror = filp->private_data;
	unsigned long addr;
	int ret;

	mmap_assert_write_locked(vma->vm_mm);
	/* At most as much as the device has: this memory is not pageable. */
	if (vma_pages(vma) > mirror->hdev->npages)
		return -ENOMEM;

	for (addr = vma->vm_start; addr < vma->vm_end; addr += PAGE_SIZE) {
		/* User memory in all but name: charged to the caller. */
		struct page *page = alloc_page(GFP_HIGHUSER | __GFP_ZERO |
					       __GFP_ACCOUNT);

		if (!page)
			return -ENOMEM;
		ret = vm_insert_page(vma, addr, page);
		/* The mapping holds its own reference now. */
		put_page(page);
		if (ret)
			return ret;
	}
	return 0;
}

static const struct file_operations hmm_dummy_fops = {
	.owner		= THIS_MODULE,
	.open		= hmm_dummy_open,
	.release	= hmm_dummy_release,
	.unlocked_ioctl	= hmm_dummy_ioctl,
	.mmap		= hmm_dummy_mmap,
	.llseek		= default_llseek,
};

/*
 * Scopes of migrations whose file has FAIL_ALLOC pending (a test hook, so
 * the list is empty but in tests, and the allocators' check is one read).
 */
static LIST_HEAD(fail_scopes);
static DEFINE_SPINLOCK(fail_scopes_lock);

/**
 * hmm_dummy_fail_scope_enter() - a migration for @mirror begins
 * @scope:  on the caller's stack until hmm_dummy_fail_scope_exit()
 * @mirror: the file the migration works for
 * @kind:   the allocations its FAIL_ALLOC is for
 *
 * Context: process context, the task that runs the migration.  Takes
 * fail_scopes_lock (a spinlock); does not sleep.
 *
 * Return: true if FAIL_ALLOC is pending: the first allocation of @kind
 * this task makes before hmm_dummy_fail_scope_exit() fails.
 */
bool hmm_dummy_fail_scope_enter(struct hmm_dummy_fail_scope *scope,
				struct hmm_dummy_mirror *mirror,
				enum hmm_dummy_alloc_kind kind)
{
	scope->task = NULL;
	if (!test_bit(HMM_DUMMY_MIRROR_FAIL_ALLOC, &mirror->flags))
		return false;
	scope->task = current;
	scope->mirror = mirror;
	scope->kind = kind;
	spin_lock(&fail_scopes_lock);
	list_add(&scope->node, &fail_scopes);
	spin_unlock(&fail_scopes_lock);
	return true;
}

/**
 * hmm_dummy_fail_scope_exit() - the migration of hmm_dummy_fail_scope_enter()
 * is over
 * @scope: its scope
 *
 * Context: process context, the task that entered @scope.  Takes
 * fail_scopes_lock (a spinlock); does not sleep.
 */
void hmm_dummy_fail_scope_exit(struct hmm_dummy_fail_scope *scope)
{
	if (!scope->task)
		return;
	spin_lock(&fail_scopes_lock);
	list_del(&scope->node);
	spin_unlock(&fail_scopes_lock);
}

/**
 * hmm_dummy_should_fail_alloc() - must this allocation fail (FAIL_ALLOC)?
 * @kind: what is being allocated
 *
 * Called by the allocators, first thing.  Consumes the failure: it fails
 * one allocation.
 *
 * Context: process context, before the allocator takes its locks.  Takes
 * fail_scopes_lock (a spinlock) when a scope is open; does not sleep.
 *
 * Return: true if the allocation must fail.
 */
bool hmm_dummy_should_fail_alloc(enum hmm_dummy_alloc_kind kind)
{
	struct hmm_dummy_fail_scope *scope;
	bool fail = false;

	if (likely(list_empty(&fail_scopes)))
		return false;
	spin_lock(&fail_scopes_lock);
	list_for_each_entry(scope, &fail_scopes, node) {
		if (scope->task == current && scope->kind == kind) {
			fail = test_and_clear_bit(HMM_DUMMY_MIRROR_FAIL_ALLOC,
						  &scope->mirror->flags);
			break;
		}
	}
	spin_unlock(&fail_scopes_lock);
	return fail;
}

/*
 * A test hook for the init error paths, in the manner of i915's
 * inject_probe_failure: with inject_init_failure=N the Nth fallible step of
 * module init fails with -ENOMEM instead of running.  `hmm_test faultinject
 * --load` loads the module with N = 1, 2, ... and checks that each failed
 * load leaves nothing behind.
 */
static unsigned int inject_init_failure;
module_param(inject_init_failure, uint, 0400);
MODULE_PARM_DESC(inject_init_failure,
		 "Fail the Nth fallible step of module init (testing; 0: none)");
static unsigned int init_step;

/**
 * hmm_dummy_init_fault() - a fallible step of module init is about to run
 *
 * Context: module init only, which the module loader runs once at a time:
 * the step count is not locked.
 *
 * Return: -ENOMEM if inject_init_failure names this step, else 0.
 */
int hmm_dummy_init_fault(void)
{
	if (!inject_init_failure || ++init_step != inject_init_failure)
		return 0;
	pr_info("hmm_dummy: init step %u fails (inject_init_failure)\n",
		init_step);
	return -ENOMEM;
}

/*
 * The fallible steps of module init that are not the device memory's
 * (hmm_dummy_devmem_init()).  Each is first a point where
 * inject_init_failure can fail it, so that every error path is tried.
 */
static int reserve_devt(void)
{
	return hmm_dummy_init_fault() ?:
	       alloc_chrdev_region(&hmm_dummy_devt, 0, nr_minors,
				   "hmm_dummy");
}

static int register_class(void)
{
	return hmm_dummy_init_fault() ?: class_register(&hmm_dummy_class);
}

static struct hmm_dummy_device *alloc_device(void)
{
	if (hmm_dummy_init_fault())
		return NULL;
	return kzalloc_obj(struct hmm_dummy_device, GFP_KERNEL);
}

static struct device *create_dma_device(struct hmm_dummy_device *hdev)
{
	if (hmm_dummy_init_fault())
		return ERR_PTR(-ENOMEM);
	return hmm_dummy_dma_dev_get(hdev->index);
}

static struct device *create_class_device(struct hmm_dummy_device *hdev)
{
	if (hmm_dummy_init_fault())
		return ERR_PTR(-ENOMEM);
	return device_create(&hmm_dummy_class, hdev->dma_dev,
			     MKDEV(MAJOR(hmm_dummy_devt), hdev->index), hdev,
			     "hmm_dummy%u", hdev->index);
}

static int add_cdev(void)
{
	return hmm_dummy_init_fault() ?:
	       cdev_add(&hmm_dummy_cdev, hmm_dummy_devt, nr_minors);
}

/**
 * hmm_dummy_device_remove() - take one device down
 * @hdev: the device; no file of it is open and none can be opened
 *
 * Context: process context (unload or failed init), may sleep for long
 * (hmm_dummy_devmem_fini() evicts every page back); no lock held.
 */
static void hmm_dummy_device_remove(struct hmm_dummy_device *hdev)
{
	hmm_dummy_devices[hdev->index] = NULL;
	/* Reports through hdev->dev, so before the class device goes. */
	hmm_dummy_devmem_fini(hdev);
	/* After device memory: emptying it at unload uses the engine. */
	hmm_dummy_engine_fini(hdev);
	if (hdev->dev)
		device_destroy(&hmm_dummy_class,
			       MKDEV(MAJOR(hmm_dummy_devt), hdev->index));
	/* Last: every mirror, hence every DMA mapping, is gone. */
	hmm_dummy_dma_dev_put(hdev->dma_dev);
	kfree(hdev);
}

/**
 * hmm_dummy_device_add() - DMA device, device memory and class device of
 * one device
 * @index: the device's minor and index
 * @spm_addr: 0 for a device-private device, else the special-purpose
 *        memory of a coherent one
 *
 * The class device carries the sysfs stats; its parent is the DMA device.
 *
 * Context: process context (module init), may sleep; no lock held.
 *
 * Return: 0 or a negative errno.
 */
static int hmm_dummy_device_add(unsigned int index, phys_addr_t spm_addr)
{
	struct hmm_dummy_device *hdev;
	int ret;

	hdev = alloc_device();
	if (!hdev)
		return -ENOMEM;
	hdev->index = index;
	/* First: the engine translates DMA addresses through it. */
	hdev->dma_dev = create_dma_device(hdev);
	if (IS_ERR(hdev->dma_dev)) {
		ret = PTR_ERR(hdev->dma_dev);
		kfree(hdev);
		return ret;
	}
	/* Before device memory, which needs it to be emptied. */
	ret = hmm_dummy_engine_init(hdev);
	if (ret)
		goto err_free;
	/* Before the class device: its sysfs stats read the allocator. */
	ret = hmm_dummy_devmem_init(hdev, (unsigned long)(spm_addr ? spm_mb :
							  vram_mb) << 20,
				    spm_addr);
	if (ret)
		goto err_free;
	hdev->dev = create_class_device(hdev);
	if (IS_ERR(hdev->dev)) {
		ret = PTR_ERR(hdev->dev);
		/* devmem_fini() reports through it: no error pointer. */
		hdev->dev = NULL;
		hmm_dummy_device_remove(hdev);
		return ret;
	}
	hmm_dummy_devices[index] = hdev;
	dev_info(hdev->dev, "%lu MiB of %s device memory at pfn %#lx\n",
		 hdev->npages >> (20 - PAGE_SHIFT),
		 hmm_dummy_coherent(hdev) ? "coherent" : "private",
		 hdev->pfn_first);
	return 0;

err_free:
	hmm_dummy_engine_fini(hdev);
	hmm_dummy_dma_dev_put(hdev->dma_dev);
	kfree(hdev);
	return ret;
}

static void hmm_dummy_remove_all(void)
{
	unsigned int i;

	for (i = 0; i < hmm_dummy_num_devices; i++)
		if (hmm_dummy_devices[i])
			hmm_dummy_device_remove(hmm_dummy_devices[i]);
	hmm_dummy_num_devices = 0;
}

static int __init hmm_dummy_init(void)
{
	const unsigned long spm[] = { spm_addr_dev0, spm_addr_dev1 };
	unsigned int nr_coherent = !!spm_addr_dev0 + !!spm_addr_dev1;
	unsigned int i;
	int ret;

	/* An odd spm_mb is refused, with a reason, by reserve_spm(). */
	if (num_devices < 1 || vram_mb < 2 || vram_mb > 65536 ||
	    num_devices + nr_coherent > HMM_DUMMY_MAX_DEVICES ||
	    (spm_addr_dev1 && !spm_addr_dev0) ||
	    (nr_coherent && (spm_mb < 2 || spm_mb > 65536)) ||
	    hmm_dummy_engine_param_check())
		return -EINVAL;
	nr_minors = num_devices + nr_coherent;
	ret = reserve_devt();
	if (ret)
		return ret;
	ret = register_class();
	if (ret)
		goto err_chrdev;
	ret = hmm_dummy_dma_devs_init();
	if (ret)
		goto err_class;
	hmm_dummy_num_devices = nr_minors;
	for (i = 0; i < nr_minors; i++) {
		ret = hmm_dummy_device_add(i, i < num_devices ? 0 :
					   spm[i - num_devices]);
		if (ret)
			goto err_devices;
	}
	/*
	 * Last: from here on files can be opened, and they see every peer.
	 * Nothing after this may fail.
	 */
	cdev_init(&hmm_dummy_cdev, &hmm_dummy_fops);
	hmm_dummy_cdev.owner = THIS_MODULE;
	ret = add_cdev();
	if (ret)
		goto err_devices;
	pr_info("hmm_dummy: %u devices with %u MiB each, %u coherent with %u MiB each\n",
		num_devices, vram_mb, nr_coherent, spm_mb);
	return 0;

err_devices:
	hmm_dummy_remove_all();
	hmm_dummy_dma_devs_exit();
err_class:
	class_unregister(&hmm_dummy_class);
err_chrdev:
	unregister_chrdev_region(hmm_dummy_devt, nr_minors);
	return ret;
}

static void __exit hmm_dummy_exit(void)
{
	/* No file is open (each pins the module); none can be opened now. */
	cdev_del(&hmm_dummy_cdev);
	hmm_dummy_remove_all();
	hmm_dummy_dma_devs_exit();
	class_unregister(&hmm_dummy_class);
	unregister_chrdev_region(hmm_dummy_devt, nr_minors);
}

module_init(hmm_dummy_init);
module_exit(hmm_dummy_exit);
MODULE_DESCRIPTION("Dummy HMM device with device-private and device-coherent memory");
MODULE_LICENSE("GPL");
MODULE_VERSION(HMM_DUMMY_VERSION);
