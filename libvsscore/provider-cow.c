// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The dm-vss-cow provider: our vss-origin and vss-snap targets.  The
 * volume is a vss-origin over <name>-real with one store for all its
 * snapshots; "create <id>" to the suspended origin takes the point in
 * time, and the shadow copy is a read-only vss-snap device.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vss-internal.h"

static int cow_prepare(struct vss_ctx *ctx, json_object *root, struct vss_pshadow *s)
{
	(void)ctx; (void)root;
	s->snap_id = (uint32_t)s->shadow_id;
	snprintf(s->snap_dev, sizeof(s->snap_dev), "vss-%llu", (unsigned long long)s->shadow_id);
	snprintf(s->device, sizeof(s->device), "/dev/mapper/%s", s->snap_dev);
	return 0;
}

static int cow_commit(struct vss_ctx *ctx, struct vss_pshadow *s)
{
	char msg[64];
	int r;

	snprintf(msg, sizeof(msg), "create %u", s->snap_id);
	r = vss_dm_message(ctx, s->dm_name, msg);
	if (!r)
		s->committed = true;
	return r;
}

static int cow_activate(struct vss_ctx *ctx, struct vss_pshadow *s)
{
	char params[600];
	struct vss_dm_target t = { 0, 0, "vss-snap", params };
	int r;

	t.length = vss_dm_size(s->dm_name);
	if (!t.length)
		return -ENODEV;
	snprintf(params, sizeof(params), "/dev/mapper/%s %s %u", s->real, s->store, s->snap_id);
	r = vss_dm_create(ctx, s->snap_dev, NULL, &t, 1, true, true);
	if (!r)
		s->activated = true;
	return r;
}

static int cow_remove(struct vss_ctx *ctx, struct vss_pshadow *s)
{
	char msg[64];
	int r = 0;

	if (s->snap_dev[0] && vss_dm_exists(s->snap_dev) == 1)
		r = vss_dm_remove(ctx, s->snap_dev);
	if (r)
		return r;
	s->activated = false;
	snprintf(msg, sizeof(msg), "delete %u", s->snap_id);
	r = vss_dm_exists(s->dm_name);
	if (r < 0) {
		vss_dbg(ctx, "/dev/mapper/%s: no device-mapper here (%s): snapshot %u is "
			"forgotten", s->dm_name, strerror(-r), s->snap_id);
		return 0;
	}
	r = r ? vss_dm_message_quiet(s->dm_name, msg) : -ENXIO;
	switch (r) {
	case 0:
		s->committed = false;
		return 0;
	case -EINVAL:
		/* not committed, or gone from the store already */
		return 0;
	case -ENXIO:
	case -ENODEV:
	case -ENOENT:
		vss_warn(ctx, "/dev/mapper/%s: not active: snapshot %u stays in its store "
			 "until the volume is active again (vss-activate names it then)",
			 s->dm_name, s->snap_id);
		return 0;
	case -EIO:
	case -EROFS:
		/* a failed store serves no snapshot: nothing left to protect */
		vss_warn(ctx, "/dev/mapper/%s: the store has failed: snapshot %u is "
			 "forgotten, its space is not freed", s->dm_name, s->snap_id);
		return 0;
	default:
		vss_err(ctx, "/dev/mapper/%s: cannot delete snapshot %u from the store: %s",
			s->dm_name, s->snap_id, strerror(-r));
		return r;
	}
}

const struct vss_provider vss_provider_cow = {
	.name = "dm-vss-cow",
	.kernel_target = "vss-origin",
	.caps = VSS_PROVIDER_STORE_TABLE | VSS_PROVIDER_DEVICE_STATUS,
	.prepare = cow_prepare,
	.commit = cow_commit,
	.activate = cow_activate,
	.remove = cow_remove,
};
