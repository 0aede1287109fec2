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
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "vss-internal.h"

int vss_clone_table(json_object *st, uint64_t sectors, bool split_copy,
		    struct vss_dm_target *t, char *params, size_t psize)
{
	const char *real = vss_json_str(st, "real"), *dest = vss_json_str(st, "store");
	uint32_t region = (uint32_t)vss_json_int(st, "region_sectors");

	if (!real || !*real || !dest || !*dest)
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
	if (!r && !t.length)
		r = -ENODEV;
	if (r) {
		vss_err(ctx, "/dev/mapper/%s: cannot make the vss-clone table: %s", dm_name,
			strerror(-r));
		return r;
	}
	vss_info(ctx, "/dev/mapper/%s: vss-clone table loaded again: dest is copied in full",
		 dm_name);
	return vss_dm_switch_table(ctx, dm_name, &t, 1);
}

/*
 * The volume is a vss-clone over <name>-real, its storage's "store" the
 * dest.  A shadow copy is the split: at the set's instant (the volume
 * suspended with the others of the set) "split" makes dest the image of
 * that instant, and the shadow copy's device is a read-only linear
 * vss-<id> over dest.  One clone holds one split image: one shadow copy at
 * a time.  Deleting it removes the device and sends "rejoin", which copies
 * back only the regions written since the split.  After a reboot the kernel
 * has forgotten the split (see above): the volume is plain linear over
 * <name>-real while the copy exists, and deleting the copy loads the
 * vss-clone table again, a full resync.
 */
static int clone_prepare(struct vss_ctx *ctx, json_object *root, struct vss_pshadow *s)
{
	struct vss_clone_status cs;
	uint64_t other = 0;
	int r;

	if (vss_clone_copy_exists(root, s->dm_name, &other)) {
		vss_err(ctx, "/dev/mapper/%s: the clone holds shadow copy %llu already: one split "
			"image at a time (vss-delete %llu rejoins the clone)", s->dm_name,
			(unsigned long long)other, (unsigned long long)other);
		return -EEXIST;
	}
	r = vss_clone_read_status(s->dm_name, &cs);
	if (r) {
		vss_err(ctx, "/dev/mapper/%s: cannot read the clone's status: %s", s->dm_name,
			strerror(-r));
		return r;
	}
	if (!strcmp(cs.state, "syncing")) {
		vss_err(ctx, "/dev/mapper/%s: the clone is still syncing: %llu of %llu regions "
			"copied (%llu%%); retry when vss-storage list shows it mirrored",
			s->dm_name, (unsigned long long)cs.synced_regions,
			(unsigned long long)cs.total_regions,
			(unsigned long long)(cs.total_regions ?
					     cs.synced_regions * 100 / cs.total_regions : 0));
		return -EAGAIN;
	}
	if (!strcmp(cs.state, "split")) {
		vss_err(ctx, "/dev/mapper/%s: the clone is split, but no shadow copy of the "
			"catalog holds the image (split by hand?): rejoin it with 'dmsetup "
			"message %s 0 rejoin' and retry", s->dm_name, s->dm_name);
		return -EBUSY;
	}
	if (!strcmp(cs.state, "fail")) {
		vss_err(ctx, "/dev/mapper/%s: the clone failed (an I/O error on its dest %s): "
			"dest is not kept in step; repair it, then vss-storage remove and add",
			s->dm_name, s->store);
		return -EIO;
	}
	if (strcmp(cs.state, "mirrored")) {
		vss_err(ctx, "/dev/mapper/%s: not under its vss-clone table (run vss-activate)",
			s->dm_name);
		return -ENODEV;
	}
	r = vss_snap_id_of(ctx, s->shadow_id, &s->snap_id);
	if (r)
		return r;
	snprintf(s->snap_dev, sizeof(s->snap_dev), "vss-%llu", (unsigned long long)s->shadow_id);
	snprintf(s->device, sizeof(s->device), "/dev/mapper/%s", s->snap_dev);
	return 0;
}

static int clone_commit(struct vss_ctx *ctx, struct vss_pshadow *s)
{
	struct vss_clone_status cs;
	int r = vss_dm_message_quiet(s->dm_name, "split");

	if (r) {
		if (vss_clone_read_status(s->dm_name, &cs))
			vss_strlcpy(cs.state, "unknown", sizeof(cs.state));
		vss_err(ctx, "/dev/mapper/%s: split refused: %s (the clone is %s at the set's "
			"instant, not mirrored)", s->dm_name, strerror(-r), cs.state);
		return r;
	}
	s->committed = true;
	return 0;
}

static int clone_activate(struct vss_ctx *ctx, struct vss_pshadow *s)
{
	char params[300];
	struct vss_dm_target t = { 0, 0, "linear", params };
	int r;

	t.length = vss_dm_size(s->dm_name);
	if (!t.length)
		return -ENODEV;
	snprintf(params, sizeof(params), "%s 0", s->store);
	r = vss_dm_create(ctx, s->snap_dev, NULL, &t, 1, true, true);
	if (!r)
		s->activated = true;
	return r;
}

static int clone_remove(struct vss_ctx *ctx, struct vss_pshadow *s)
{
	struct vss_clone_status cs;
	int r = 0;

	/* No device name: the set stopped before prepare; it holds no split. */
	if (!s->snap_dev[0])
		return 0;
	if (vss_dm_exists(s->snap_dev) == 1)
		r = vss_dm_remove(ctx, s->snap_dev);
	if (r)
		return r;
	s->activated = false;
	r = vss_clone_read_status(s->dm_name, &cs);
	if (r == -ENOENT || r == -ENXIO || r == -ENODEV) {
		vss_warn(ctx, "/dev/mapper/%s: gone: no clone to rejoin", s->dm_name);
		s->committed = false;
		return 0;
	}
	if (r) {
		vss_err(ctx, "/dev/mapper/%s: cannot read the clone's status: %s", s->dm_name,
			strerror(-r));
		return r;
	}
	if (!strcmp(cs.state, "split")) {
		r = vss_dm_message(ctx, s->dm_name, "rejoin");
		if (!r)
			vss_info(ctx, "/dev/mapper/%s: rejoined: copying the %llu regions written "
				 "since the split", s->dm_name,
				 (unsigned long long)(cs.total_regions - cs.synced_regions));
	} else if (!strcmp(cs.state, "off")) {
		/* After a reboot: the record of what was written is lost. */
		r = vss_clone_reload(ctx, s->dm_name);
	}
	/* mirrored, syncing or fail: the split was never made (an abort) or is lost. */
	if (!r)
		s->committed = false;
	return r;
}

/* ---- the volume's storage ---- */


/* A clone's dest: as large as the volume, and used by nothing else. */
static int clone_check_dest(struct vss_ctx *ctx, const char *dm, const char *dest)
{
	uint64_t need = vss_dm_size(dm) << 9, have = 0;
	int fd, r;

	r = vss_blkdev_size(dest, &have);
	if (r) {
		vss_err(ctx, "%s: cannot read the size of the clone's dest: %s", dest,
			strerror(-r));
		return r;
	}
	if (have < need) {
		vss_err(ctx, "%s: too small for a clone of /dev/mapper/%s: %llu bytes, the "
			"volume has %llu (dest must hold a full copy)", dest, dm,
			(unsigned long long)have, (unsigned long long)need);
		return -ENOSPC;
	}
	/* O_EXCL on a block device fails while it is mounted or held by dm. */
	fd = open(dest, O_RDONLY | O_EXCL | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		vss_err(ctx, "%s: cannot be the clone's dest: %s", dest,
			r == -EBUSY ? "in use (mounted, or under another device)" : strerror(-r));
		return r;
	}
	close(fd);
	return 0;
}

static int clone_storage_add(struct vss_ctx *ctx, const struct vss_storage_opts *o,
			     const char *dm, const char *store, json_object *e)
{
	uint32_t region = o->region_sectors ? o->region_sectors
					    : VSS_CLONE_DEFAULT_REGION_SECTORS;
	int r;

	if (region < 8 || region > 2097152 || (region & (region - 1))) {
		vss_err(ctx, "%u sectors: the clone's region size must be a power of two "
			"from 4 KiB to 1 GiB", region);
		return -EINVAL;
	}
	r = clone_check_dest(ctx, dm, store);
	if (!r)
		json_object_object_add(e, "region_sectors", json_object_new_int64(region));
	return r;
}

static void clone_storage_added(struct vss_ctx *ctx, json_object *e)
{
	vss_info(ctx, "/dev/mapper/%s: split-mirror clone enabled (dest %s, %u KiB "
		 "regions): dest is being copied in the background (vss-storage list)",
		 vss_json_str(e, "name"), vss_json_str(e, "store"),
		 (unsigned int)vss_json_int(e, "region_sectors") / 2);
}

/* A clone whose shadow copy holds dest: the volume stays off it, linear over -real. */
static int clone_origin_table(json_object *root, json_object *st, struct vss_dm_target *t,
			      char *params, size_t psize)
{
	bool split = vss_clone_copy_exists(root, vss_json_str(st, "name"), NULL);

	return vss_clone_table(st, 0, split, t, params, psize);
}

/* ---- vss-activate ---- */

/*
 * After a reboot the split image is dest itself, which nothing wrote to
 * since (the volume came back as linear over <name>-real): a read-only
 * linear device over it.  The kernel keeps no state to check it against.
 */
static int clone_reactivate(struct vss_ctx *ctx, json_object *st, json_object *sh, bool dry,
			    char *why, size_t wsize)
{
	const char *name = vss_json_str(st, "name"), *dest = vss_json_str(st, "store");
	const char *snap_dev = vss_json_str(sh, "snap_dev");
	long long id = (long long)vss_json_int(sh, "shadow_id");
	char params[300];
	struct vss_dm_target t = { 0, 0, "linear", params };
	int r;

	(void)why; (void)wsize;
	snprintf(params, sizeof(params), "%s 0", dest);
	if (dry) {
		vss_info(ctx, "shadow copy %lld: would create /dev/mapper/%s (linear %s, read-only)",
			 id, snap_dev, params);
		return 0;
	}
	t.length = vss_dm_size(name);
	r = t.length ? vss_dm_create(ctx, snap_dev, NULL, &t, 1, true, true) : -ENODEV;
	if (r) {
		vss_err(ctx, "shadow copy %lld: cannot bring back /dev/mapper/%s: %s", id, snap_dev,
			strerror(-r));
		return r;
	}
	vss_info(ctx, "shadow copy %lld: /dev/mapper/%s activated (the split image on %s)", id,
		 snap_dev, dest);
	return 0;
}

/* ---- vss-list: the state of a copy ---- */

/*
 * A dm-vss-clone shadow copy: the device is linear over the clone's dest
 * (info->store), and dest holds the image of the split instant as long as
 * nothing writes to it: the volume is split, or (after a reboot, see
 * vss_clone_table()) linear over its -real device, or gone.  A volume that
 * mirrors or syncs again writes to dest: the image is lost.  The usage
 * fields stay unknown: a clone has no store of copied chunks, dest is a
 * full image.
 */
static void clone_state(const struct vss_shadow_info *info, const char *snap_dev,
			const char *params, struct vss_shadow_state *st)
{
	const char *volume = vss_base_name(info->volume);
	char type[32], table[512], why[320];
	struct vss_clone_status cs;
	unsigned int maj, min;
	struct stat sb;
	int r;

	(void)params;
	/* table (a linear status says nothing): <maj:min> <offset> */
	if (vss_dm_single(snap_dev, false, type, sizeof(type), table, sizeof(table)) ||
	    strcmp(type, "linear") || sscanf(table, "%u:%u %*u", &maj, &min) != 2) {
		vss_shadow_state_set(st, "unknown", "its linear table could not be read");
		return;
	}
	if (stat(info->store, &sb) || !S_ISBLK(sb.st_mode)) {
		snprintf(why, sizeof(why), "its clone's dest %s is missing", info->store);
		vss_shadow_state_set(st, "invalid", why);
		return;
	}
	if (major(sb.st_rdev) != maj || minor(sb.st_rdev) != min) {
		snprintf(why, sizeof(why), "its device maps %u:%u, not the clone's dest %s",
			 maj, min, info->store);
		vss_shadow_state_set(st, "invalid", why);
		return;
	}
	r = volume && *volume ? vss_clone_read_status(volume, &cs) : -ENOENT;
	if (r == -ENOENT || r == -ENXIO || r == -ENODEV) {
		/* Nothing can write to dest: the image stays whole. */
		vss_shadow_state_set(st, "valid", "");
		return;
	}
	if (r) {
		snprintf(why, sizeof(why), "cannot read the clone's status: %s", strerror(-r));
		vss_shadow_state_set(st, "unknown", why);
		return;
	}
	if (!strcmp(cs.state, "split") || !strcmp(cs.state, "off")) {
		vss_shadow_state_set(st, "valid", "");
	} else if (!strcmp(cs.state, "fail")) {
		vss_shadow_state_set(st, "invalid", "the clone failed (an I/O error on its dest)");
	} else {
		snprintf(why, sizeof(why), "the clone is %s again: its dest no longer holds the "
			 "image", cs.state);
		vss_shadow_state_set(st, "invalid", why);
	}
}

const struct vss_provider vss_provider_clone = {
	.name = "dm-vss-clone",
	.kernel_target = "vss-clone",
	.prepare = clone_prepare,
	.commit = clone_commit,
	.activate = clone_activate,
	.remove = clone_remove,
	.reactivate = clone_reactivate,
	.shadow_target = "linear",
	.state = clone_state,
	.origin_table = clone_origin_table,
	.storage_add = clone_storage_add,
	.storage_added = clone_storage_added,
};
