// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_dummy's DMA devices: the struct device each hmm_dummy device maps
 * system pages for.
 *
 * A device on the faux bus (a platform device before 6.15, compat.h) is
 * what every hmm_dummy device gets by default: the DMA API accepts it, but
 * no IOMMU driver ever attaches to it, so its DMA addresses are physical
 * addresses and a stale one still reaches memory.  To show the IOMMU side
 * of DMA mapping (IOVAs, hmm_dma_map_*()'s IOVA path, a translation fault
 * for an address that is no longer mapped) the device has to be one an
 * IOMMU translates for, which on x86 means a PCI function.  So hmm_dummy
 * also drives QEMU's "edu" device (PCI 1234:11e8, -device edu): each edu
 * function bound when the module loads backs one hmm_dummy device, in
 * order, and the rest fall back to the faux bus.  Nothing of edu's own
 * hardware is used (its DMA engine copies 4 KiB per 100 ms); the copy
 * engine stays hmm_dummy's own, and it reaches the function's DMA addresses
 * through the IOMMU's page table (engine.c), as the function would.
 *
 * The binding cannot be undone through sysfs (suppress_bind_attrs): an
 * hmm_dummy device uses the function from module load to unload, and the
 * driver is unregistered only after every hmm_dummy device is gone.
 * Surprise removal (hot-unplug of the function) is not supported: a real
 * driver would have to migrate its device memory out and stop first.
 */
#include <linux/dma-mapping.h>
#include <linux/iommu.h>
#include <linux/pci.h>

#include "compat.h"
#include "hmm_dummy.h"

/*
 * The DMA mask every device gets.  Below what the machine's memory needs,
 * the device models one that could only reach all of memory through bounce
 * buffers (a 32-bit PCI device in a large machine): the DMA API would bounce
 * its mappings through swiotlb, which a long-lived mirror mapping cannot
 * use (a device write would land in the bounce buffer, not in the page), so
 * its accesses of system pages fail with -EOPNOTSUPP (mirror.c) while
 * migration and accesses of device memory, which map nothing, still work.
 */
static unsigned int dma_bits = 64;
module_param(dma_bits, uint, 0444);
MODULE_PARM_DESC(dma_bits, "Width in bits of each device's DMA mask (24-64, default 64); narrower than memory needs, device accesses of system pages fail (-EOPNOTSUPP)");

#define EDU_VENDOR_ID	0x1234
#define EDU_DEVICE_ID	0x11e8

/* Bound functions in probe order; written only while the driver registers. */
static struct pci_dev *bound_fns[HMM_DUMMY_MAX_DEVICES];
static unsigned int nr_bound_fns;

static int hmm_dummy_pci_probe(struct pci_dev *pdev,
			       const struct pci_device_id *id)
{
	int ret;

	if (nr_bound_fns >= ARRAY_SIZE(bound_fns))
		return -ENODEV;
	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	pci_set_master(pdev);
	/*
	 * The mask the DMA API allocates addresses under; edu's own mask
	 * (its dma_mask property) only limits edu's engine, which is unused.
	 */
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(dma_bits));
	if (ret) {
		dev_err(&pdev->dev, "dma_bits=%u: the DMA API refuses this mask (%d)\n",
			dma_bits, ret);
		return ret;
	}
	bound_fns[nr_bound_fns++] = pdev;
	return 0;
}

static const struct pci_device_id hmm_dummy_pci_ids[] = {
	{ PCI_DEVICE(EDU_VENDOR_ID, EDU_DEVICE_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, hmm_dummy_pci_ids);

static struct pci_driver hmm_dummy_pci_driver = {
	.name		= "hmm_dummy",
	.id_table	= hmm_dummy_pci_ids,
	.probe		= hmm_dummy_pci_probe,
	.driver		= {
		.suppress_bind_attrs = true,
		/* The functions must be bound before the devices are made. */
		.probe_type = PROBE_FORCE_SYNCHRONOUS,
	},
};

/**
 * hmm_dummy_dma_devs_init() - bind the PCI functions hmm_dummy can use
 *
 * Context: module init, before any hmm_dummy device exists; may sleep.
 *
 * Return: 0 (with or without functions to bind), -EINVAL for a dma_bits
 * out of range, or the errno of the PCI driver's registration.
 */
int hmm_dummy_dma_devs_init(void)
{
	/* 24 bits: the narrowest mask the DMA API accepts on x86 (ISA). */
	if (dma_bits < 24 || dma_bits > 64) {
		pr_err("hmm_dummy: dma_bits=%u: must be 24 to 64\n", dma_bits);
		return -EINVAL;
	}
	return pci_register_driver(&hmm_dummy_pci_driver);
}

/**
 * hmm_dummy_dma_devs_exit() - unbind the PCI functions
 *
 * Context: module exit or init's error path, after every hmm_dummy device
 * has been removed; may sleep.
 */
void hmm_dummy_dma_devs_exit(void)
{
	pci_unregister_driver(&hmm_dummy_pci_driver);
	nr_bound_fns = 0;
}

/**
 * hmm_dummy_dma_dev_get() - the DMA device of hmm_dummy device @index
 * @index: the hmm_dummy device's index
 *
 * The @index-th bound PCI function if there is one, else a new faux (or
 * platform) device, with a mask of dma_bits.
 *
 * Context: module init; may sleep.
 *
 * Return: the device (release it with hmm_dummy_dma_dev_put()), or an
 * ERR_PTR.
 */
struct device *hmm_dummy_dma_dev_get(unsigned int index)
{
	struct device *dev;
	int ret;

	if (index < nr_bound_fns) {
		struct iommu_domain *domain;

		dev = get_device(&bound_fns[index]->dev);
		domain = iommu_get_domain_for_dev(dev);
		dev_info(dev, "DMA device of hmm_dummy%u%s, %u-bit DMA mask%s\n",
			 index, domain && domain->type != IOMMU_DOMAIN_IDENTITY ?
			 ", behind a translating IOMMU" : "", dma_bits,
			 dma_addressing_limited(dev) ? " (addressing limited)" : "");
		return dev;
	}
	dev = hmm_dummy_bus_dev_create(index);
	if (IS_ERR(dev))
		return dev;
	/* No bus provides the mask's storage: see compat.h. */
	ret = dma_coerce_mask_and_coherent(dev, DMA_BIT_MASK(dma_bits));
	if (ret) {
		/* E.g. below 32 bits without ZONE_DMA and without an IOMMU. */
		dev_err(dev, "dma_bits=%u: the DMA API refuses this mask (%d)\n",
			dma_bits, ret);
		hmm_dummy_bus_dev_destroy(dev);
		return ERR_PTR(ret);
	}
	if (dma_addressing_limited(dev))
		dev_info(dev, "DMA device of hmm_dummy%u, %u-bit DMA mask (addressing limited)\n",
			 index, dma_bits);
	return dev;
}

/**
 * hmm_dummy_dma_dev_put() - release what hmm_dummy_dma_dev_get() returned
 * @dev: the device
 *
 * Context: process context, after every DMA mapping for @dev is undone.
 */
void hmm_dummy_dma_dev_put(struct device *dev)
{
	if (dev_is_pci(dev))
		put_device(dev);
	else
		hmm_dummy_bus_dev_destroy(dev);
}
