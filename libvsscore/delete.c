// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Deleting shadow copies and sets, and retention (vss_keep_latest): the
 * one place that marks, removes through the provider and forgets.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vss-internal.h"

/*
 * Where a shadow copy's device is mounted now, according to the kernel
 * (the catalog's "exposed" covers only vss-expose), or "".
 */
static void shadow_mounted_at(json_object *sh, char *mnt, size_t size)
{
	const char *dev = vss_json_str(sh, "device");
	const char *name = dev && !strncmp(dev, "/dev/mapper/", 12) ? dev + 12 : NULL;

	mnt[0] = '\0';
	if (name && *name && vss_mountpoint_of(name, mnt, size))
		mnt[0] = '\0';
}

/*
 * Each shadow copy to delete is first marked "deleting" in the catalog (with
 * our pid), then removed: a command killed in between leaves a mark that
 * vss_catalog_reconcile() finishes, never a catalog entry whose device and
 * store snapshot are already gone.
 */
static int delete_where(struct vss_ctx *ctx, uint64_t shadow_id, uint64_t set_id)
{
	json_object *root, *sets, *sh;
	struct vss_shadow_iter it;
	size_t i, j, marked = 0;
	int r, found = 0, err = 0;
	char mnt[256];

	r = vss_catalog_load(ctx, &root);
	if (r)
		return r;
	sets = vss_json_array(root, "sets");
	/* a set without shadow copies is found too, and removed below */
	found = set_id && vss_catalog_find_set(root, set_id);
	vss_for_each_shadow(sh, &it, root) {
		bool whole = set_id && (uint64_t)vss_json_int(it.set, "set_id") == set_id;
		const char *ex = vss_json_str(sh, "exposed");

		if (!whole && (uint64_t)vss_json_int(sh, "shadow_id") != shadow_id)
			continue;
		found++;
		shadow_mounted_at(sh, mnt, sizeof(mnt));
		if ((ex && *ex) || mnt[0]) {
			vss_err(ctx, "shadow copy %lld: exposed at %s (vss-unexpose first)",
				(long long)vss_json_int(sh, "shadow_id"), mnt[0] ? mnt : ex);
			err = -EBUSY;
			continue;
		}
		json_object_object_add(sh, "deleting_from",
				       json_object_new_string(vss_json_str(sh, "state") ?
							      vss_json_str(sh, "state") : ""));
		json_object_object_add(sh, "state", json_object_new_string("deleting"));
		json_object_object_add(sh, "pid", json_object_new_int(getpid()));
		marked++;
	}
	if (!found) {
		json_object_put(root);
		vss_err(ctx, "%s %llu: no such %s", set_id ? "set" : "shadow copy",
			(unsigned long long)(set_id ? set_id : shadow_id),
			set_id ? "set" : "shadow copy");
		return -ENOENT;
	}
	if (marked) {
		r = vss_catalog_save(ctx, root);
		if (r) {
			json_object_put(root);
			return r;
		}
	}
	for (i = 0; i < json_object_array_length(sets);) {
		json_object *set = json_object_array_get_idx(sets, i);
		json_object *shs = vss_json_array(set, "shadows");
		bool whole = set_id && (uint64_t)vss_json_int(set, "set_id") == set_id;
		bool touched = whole;

		for (j = 0; shs && j < json_object_array_length(shs);) {
			json_object *sh = json_object_array_get_idx(shs, j);
			const char *st = vss_json_str(sh, "state");

			if (!st || strcmp(st, "deleting") ||
			    vss_json_int(sh, "pid") != getpid()) {
				j++;
				continue;
			}
			touched = true;
			r = vss_shadow_remove_json(ctx, sh);
			if (r) {
				/* still there: back to what it was */
				json_object_object_add(sh, "state", json_object_new_string(
					vss_json_str(sh, "deleting_from")));
				json_object_object_del(sh, "deleting_from");
				json_object_object_del(sh, "pid");
				err = r;
				j++;
				continue;
			}
			json_object_array_del_idx(shs, j, 1);
		}
		if (touched && (!shs || json_object_array_length(shs) == 0)) {
			json_object_array_del_idx(sets, i, 1);
			continue;
		}
		i++;
	}
	r = vss_catalog_save(ctx, root);
	json_object_put(root);
	return err ? err : r;
}

VSS_EXPORT int vss_shadow_delete(struct vss_ctx *ctx, uint64_t shadow_id)
{
	return delete_where(ctx, shadow_id, 0);
}

VSS_EXPORT int vss_set_delete(struct vss_ctx *ctx, uint64_t set_id)
{
	return delete_where(ctx, 0, set_id);
}

static int cmp_u64_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

VSS_EXPORT int vss_keep_latest(struct vss_ctx *ctx, const char *volume, unsigned int keep)
{
	struct vss_shadow_info *sh;
	uint64_t *ids;
	char dm[128], vol[200];
	size_t n, i, m = 0;
	int r, err = 0;

	r = vss_volume_resolve(ctx, volume, dm, sizeof(dm));
	if (r)
		return r;
	snprintf(vol, sizeof(vol), "/dev/mapper/%s", dm);
	r = vss_shadow_list(ctx, &sh, &n);
	if (r)
		return r;
	ids = calloc(n + 1, sizeof(*ids));
	if (!ids) {
		free(sh);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++)
		if (!strcmp(sh[i].volume, vol))
			ids[m++] = sh[i].shadow_id;
	free(sh);
	/* shadow ids grow with time: the newest first */
	qsort(ids, m, sizeof(*ids), cmp_u64_desc);
	for (i = keep; i < m; i++) {
		r = vss_shadow_delete(ctx, ids[i]);
		if (r && !err)
			err = r;
	}
	free(ids);
	return err;
}
