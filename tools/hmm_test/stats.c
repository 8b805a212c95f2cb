// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_test stats: print a device's counters (ioctl, and sysfs next to it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hmm_test.h"

static int print_dev(int idx)
{
	struct hmm_dummy_stats st;
	struct hmm_dummy_info *in = &cfg.info[idx];
	size_t i;
	int ret;

	ret = hmm_stats_dev(idx, &st);
	if (ret) {
		fprintf(stderr, "%s%d: STATS: %s\n", cfg.prefix, idx,
			strerror(-ret));
		return 1;
	}
	printf("%s%d: capacity %llu pages of %u bytes, fault_window %u, peer_migration %u, stats v%u\n",
	       cfg.prefix, idx, (unsigned long long)in->capacity_pages,
	       in->page_size, in->fault_window, in->peer_migration,
	       st.version);
	for (i = 0; i < nr_stat_fields; i++) {
		unsigned long long sv;

		printf("  %-24s %12llu", stat_fields[i].name,
		       (unsigned long long)stat_get(&st, i));
		if (cfg.sysfs &&
		    !hmm_sysfs_stat(idx, stat_fields[i].name, &sv))
			printf("   sysfs %llu", sv);
		putchar('\n');
	}
	return 0;
}

int cmd_stats(int argc, char **argv)
{
	int dev = -1, i, ret;
	const struct opt opts[] = {
		OPT_NUM("device", OPT_INT, &dev, 0, MAX_DEVICES - 1),
		{ }
	};

	ret = parse_args(argc, argv, "[--device N]", opts, NULL);
	if (ret != ARGS_OK)
		return ret;
	hmm_probe(cfg.prefix);
	if (!cfg.dummy) {
		fprintf(stderr, "%s0: no hmm_dummy device (stats need hmm_dummy)\n",
			cfg.prefix);
		return 1;
	}
	if (dev >= cfg.ndev) {
		fprintf(stderr, "hmm_test stats: no device %s%d (%d device%s)\n",
			cfg.prefix, dev, cfg.ndev, cfg.ndev == 1 ? "" : "s");
		return 1;
	}
	if (dev >= 0)
		return print_dev(dev);
	ret = 0;
	for (i = 0; i < cfg.ndev; i++)
		ret |= print_dev(i);
	return ret;
}
