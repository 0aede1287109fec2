// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The kernel's view of a shadow copy, for listing, and the sets of the
 * catalog.  The device's status is read here; what it means is for the
 * copy's provider to say (its state op; the status lines are parsed in
 * targets.c).  An external provider's copies have no kernel view.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vss-internal.h"

VSS_EXPORT int vss_shadow_get_state(struct vss_ctx *ctx, const struct vss_shadow_info *info,
				    struct vss_shadow_state *st)
{
	const char *snap_dev = vss_base_name(info->device);
	const struct vss_provider *p;
	char type[32], params[512], view[64];
	bool is_view = false;
	int r;

	memset(st, 0, sizeof(*st));
	if (!strcmp(info->state, "creating") || !strcmp(info->state, "deleting")) {
		vss_shadow_state_set(st, info->state,
				     "a command is working on it (or died: the next "
				     "command that takes the lock cleans up)");
		return 0;
	}
	p = vss_provider_by_name(info->provider);
	if (!p->state) {
		vss_shadow_state_set(st, "unknown",
				     "external provider: the kernel has no view of it");
		return 0;
	}
	if (!snap_dev || !*snap_dev || strncmp(info->device, "/dev/mapper/", 12)) {
		vss_shadow_state_set(st, "unknown", "no device recorded");
		return 0;
	}
	if (!vss_dm_present()) {
		vss_shadow_state_set(st, "unknown", "the kernel has no device-mapper");
		return 0;
	}
	r = vss_dm_single(snap_dev, true, type, sizeof(type), params, sizeof(params));
	if (r == -ENOENT || r == -ENXIO || r == -ENODEV) {
		vss_shadow_state_set(st, "missing",
				     "its device does not exist (vss-activate brings it back)");
		return 0;
	}
	if (r) {
		char why[96];

		snprintf(why, sizeof(why), "cannot read the device's status: %s", strerror(-r));
		vss_shadow_state_set(st, "unknown", why);
		vss_dbg(ctx, "%s: %s", info->device, why);
		return 0;
	}
	st->device_present = true;
	vss_mountpoint_of(snap_dev, st->mountpoint, sizeof(st->mountpoint));
	if (!st->mountpoint[0]) {
		/* a writable view of it (vss-expose --writable) is mounted instead */
		snprintf(view, sizeof(view), "vss-%llu-view", (unsigned long long)info->shadow_id);
		if (vss_dm_exists(view) > 0)
			vss_mountpoint_of(view, st->mountpoint, sizeof(st->mountpoint));
		is_view = st->mountpoint[0];
	}
	if (!strcmp(type, p->shadow_target))
		p->state(info, snap_dev, params, st);
	else {
		char why[96];

		snprintf(why, sizeof(why), "its device has a %s table", type);
		vss_shadow_state_set(st, "unknown", why);
	}
	if (is_view && !st->detail[0])
		snprintf(st->detail, sizeof(st->detail), "exposed writable (a throwaway view: "
			 "/dev/mapper/%s)", view);
	return 0;
}

VSS_EXPORT int vss_set_list(struct vss_ctx *ctx, struct vss_set_info **sets, size_t *count)
{
	json_object *root, *arr;
	struct vss_set_info *out = NULL;
	size_t n, i;
	int r;

	*sets = NULL;
	*count = 0;
	r = vss_catalog_load(ctx, &root);
	if (r)
		return r;
	arr = vss_json_array(root, "sets");
	n = arr ? json_object_array_length(arr) : 0;
	if (n) {
		out = calloc(n, sizeof(*out));
		if (!out) {
			json_object_put(root);
			return -ENOMEM;
		}
	}
	for (i = 0; i < n; i++) {
		json_object *s = json_object_array_get_idx(arr, i);
		json_object *shs = vss_json_array(s, "shadows");
		const char *context = vss_json_str(s, "context");

		out[i].set_id = vss_json_int(s, "set_id");
		vss_strlcpy(out[i].state, vss_json_str(s, "state"), sizeof(out[i].state));
		vss_strlcpy(out[i].tag, vss_json_str(s, "tag"), sizeof(out[i].tag));
		vss_strlcpy(out[i].context, context ? context : "persistent",
			    sizeof(out[i].context));
		out[i].created = vss_parse_iso8601(vss_json_str(s, "created"));
		out[i].shadow_count = shs ? json_object_array_length(shs) : 0;
	}
	json_object_put(root);
	*sets = out;
	*count = n;
	return 0;
}
