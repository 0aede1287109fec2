// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The dm-vss-clone provider: a volume under a vss-clone split mirror.
 *
 * A dm-vss-clone entry of the catalog's "storage" holds what is needed to
 * rebuild the clone after a reboot: "name", "real", "store" (the dest) and
 * "region_sectors".  The kernel keeps neither the split nor the record of
 * the regions written since in any persistent place, so after a reboot
 * (vss_clone_table()):
 *   - no dm-vss-clone shadow copy of the volume in the catalog: load the
 *     vss-clone table again; it copies everything (a full resync);
 *   - a shadow copy exists: dest still holds its image, as long as nothing
 *     writes to it; load the volume as plain linear over <name>-real (dest
 *     untouched) and the copy's read-only linear device over dest.
 *     Deleting the copy loads the vss-clone table again (vss_clone_reload():
 *     a full resync instead of the incremental rejoin).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vss-internal.h"

int vss_clone_table(json_object *st, uint64_t sectors, bool split_copy,
		    struct vss_dm_target *t, char *params, size_t psize)
{
	const char *real = vss_json_str(st, "real"), *dest = vss_json_str(st, "store");
	uint32_t region = (uint32_t)vss_json_int(st, "region_sectors");

	if (!real || !*real || !dest || !*dest || !sectors)
		return -EINVAL;
	if (!region)
		region = VSS_CLONE_DEFAULT_REGION_SECTORS;
	t->start = 0;
	t->length = sectors;
	t->params = params;
	if (split_copy) {
		vss_strlcpy(t->type, "linear", sizeof(t->type));
		snprintf(params, psize, "/dev/mapper/%s 0", real);
	} else {
		vss_strlcpy(t->type, "vss-clone", sizeof(t->type));
		snprintf(params, psize, "/dev/mapper/%s %s %u", real, dest, region);
	}
	return 0;
}

bool vss_clone_copy_exists(json_object *root, const char *dm_name, uint64_t *id)
{
	struct vss_shadow_iter it;
	json_object *sh;

	vss_for_each_shadow(sh, &it, root) {
		const char *p = vss_json_str(sh, "provider");
		const char *name = vss_json_str(sh, "name");
		const char *snap = vss_json_str(sh, "snap_dev");

		/* No snap_dev: a set that never got past prepare holds no split. */
		if (p && !strcmp(p, "dm-vss-clone") && name && !strcmp(name, dm_name) &&
		    snap && *snap) {
			if (id)
				*id = vss_json_int(sh, "shadow_id");
			return true;
		}
	}
	return false;
}

int vss_clone_reload(struct vss_ctx *ctx, const char *dm_name)
{
	struct vss_dm_target t;
	char params[600];
	json_object *root, *st;
	int r;

	r = vss_catalog_load(ctx, &root);
	if (r)
		return r;
	st = vss_catalog_find_storage(root, dm_name);
	if (!st || strcmp(vss_json_str(st, "provider") ? vss_json_str(st, "provider") : "",
			  "dm-vss-clone")) {
		json_object_put(root);
		return 0;	/* no longer a clone volume: nothing to bring back */
	}
	r = vss_clone_table(st, vss_dm_size(dm_name), false, &t, params, sizeof(params));
	json_object_put(root);
	if (r) {
		vss_err(ctx, "/dev/mapper/%s: cannot make the vss-clone table: %s", dm_name,
			strerror(-r));
		return r;
	}
	vss_info(ctx, "/dev/mapper/%s: vss-clone table loaded again: dest is copied in full",
		 dm_name);
	return vss_dm_switch_table(ctx, dm_name, &t, 1);
}
