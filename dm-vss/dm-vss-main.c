// SPDX-License-Identifier: GPL-2.0
/*
 * dm-vss: shadow copies for Linux.  Module entry: registers the
 * copy-on-write targets (vss-origin, vss-snap) and the split-mirror target
 * (vss-clone).
 */
#include <linux/module.h>
#include <linux/device-mapper.h>

#include "dm-vss.h"

static int __init dm_vss_init(void)
{
	int r;

	r = vss_cow_init();
	if (r)
		return r;
	r = vss_clone_init();
	if (r) {
		vss_cow_exit();
		return r;
	}
	return 0;
}

static void __exit dm_vss_exit(void)
{
	vss_clone_exit();
	vss_cow_exit();
}

module_init(dm_vss_init);
module_exit(dm_vss_exit);

MODULE_DESCRIPTION(DM_NAME " shadow copies: shared-store copy-on-write snapshots and split-mirror clones");
MODULE_AUTHOR("The dm-vss developers");
MODULE_LICENSE("GPL");
MODULE_VERSION(VSS_MODULE_VERSION);
