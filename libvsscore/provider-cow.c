// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The dm-vss-cow provider: our vss-origin and vss-snap targets.  The
 * volume is a vss-origin over <name>-real with one store for all its
 * snapshots; "create <id>" to the suspended origin takes the point in
 * time, and the shadow copy is a read-only vss-snap device.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "libvsscore-store.h"
#include "vss-internal.h"
#include "vss-ondisk.h"

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

/* ---- the volume's storage ---- */

static int blk_size(const char *path, uint64_t *bytes)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, BLKGETSIZE64, bytes))
		r = -errno;
	close(fd);
	return r;
}

/* Zero both superblock copies of a dm-vss store: its snapshots are gone. */
static int store_wipe(struct vss_ctx *ctx, const char *store)
{
	static const char zero[8192];
	int fd, r = 0;

	fd = open(store, O_WRONLY | O_EXCL | O_CLOEXEC);
	if (fd < 0 || pwrite(fd, zero, sizeof(zero), 0) != (ssize_t)sizeof(zero) ||
	    fsync(fd))
		r = -errno;
	if (fd >= 0)
		close(fd);
	if (r)
		vss_err(ctx, "%s: cannot wipe the old store: %s", store, strerror(-r));
	return r;
}

/*
 * A new store must be blank: a dm-vss store made for another volume (or
 * for this one before vss-storage remove, since when the volume changed
 * without copies) would serve snapshots that are not copies of this volume;
 * other data would be refused by the target.  wipe: make it blank first.
 */
static int cow_check_store(struct vss_ctx *ctx, const char *dm, const char *store, bool wipe)
{
	struct vss_store_info info;
	struct vss_store *st;
	int r;

	r = vss_store_open(store, VSS_STORE_EXCL, NULL, &st);
	if (r) {
		vss_err(ctx, "%s: cannot be the store: %s", store,
			r == -EBUSY ? "in use (mounted, or under another device)" : strerror(-r));
		return r;
	}
	r = vss_store_load(st);
	if (!r)
		vss_store_get_info(st, &info);
	vss_store_close(st);
	if (r) {
		vss_err(ctx, "%s: cannot read the store: %s", store, strerror(-r));
		return r;
	}
	if (info.state == VSS_STORE_UNFORMATTED) {
		/*
		 * Zero first 4 KiB are what the target formats, but btrfs, ZFS,
		 * md RAID 1.2 or iso9660 keep their signatures past them.
		 */
		char what[64];

		r = vss_device_signature(store, what, sizeof(what));
		if (r < 0) {
			vss_err(ctx, "%s: cannot probe it for signatures: %s", store, strerror(-r));
			return r;
		}
		if (!r)
			return 0;
		if (!wipe) {
			vss_err(ctx, "%s: is not blank: it holds %s (its first 4 KiB are zero, its "
				"signature is further on): to use it as the store, vss-storage add "
				"--wipe (what it holds is lost)", store, what);
			return -EEXIST;
		}
	}
	if (wipe) {
		vss_info(ctx, "%s: wiping the old content's signatures and superblock area", store);
		r = vss_device_wipe_signatures(store);
		if (r) {
			vss_err(ctx, "%s: cannot wipe its signatures: %s", store, strerror(-r));
			return r;
		}
		return store_wipe(ctx, store);
	}
	if (info.state == VSS_STORE_LOADED)
		vss_err(ctx, "%s: holds a dm-vss store already (%u snapshots, of a volume of "
			"%llu sectors): they are not copies of /dev/mapper/%s; to use the device "
			"anyway, vss-storage add --wipe (its snapshots are lost)", store,
			info.nr_snaps, (unsigned long long)info.origin_sectors, dm);
	else
		vss_err(ctx, "%s: is not blank (its first 4 KiB hold data, not a dm-vss "
			"store): to use it as the store, vss-storage add --wipe (what it holds "
			"is lost)", store);
	return -EEXIST;
}

static int cow_storage_add(struct vss_ctx *ctx, const struct vss_storage_opts *o,
			   const char *dm, const char *store, json_object *e)
{
	(void)e;
	return cow_check_store(ctx, dm, store, o->wipe);
}

/* No snapshot of it is kept, and the volume now changes without copies. */
static void cow_storage_removed(struct vss_ctx *ctx, json_object *e)
{
	if (vss_json_str(e, "store"))
		store_wipe(ctx, vss_json_str(e, "store"));
}

static int cow_origin_table(json_object *root, json_object *st, struct vss_dm_target *t,
			    char *params, size_t psize)
{
	const char *real = vss_json_str(st, "real"), *store = vss_json_str(st, "store");
	uint32_t chunk = (uint32_t)vss_json_int(st, "chunk_sectors");

	(void)root;
	*t = (struct vss_dm_target){ 0, 0, "vss-origin", params };
	if (chunk)
		snprintf(params, psize, "/dev/mapper/%s %s 2 chunk_sectors %u", real, store, chunk);
	else
		snprintf(params, psize, "/dev/mapper/%s %s", real, store);
	return 0;
}

/* The chunk size and data chunks of the vss-origin device's store, from its status. */
static int cow_geometry(const char *dm, unsigned *chunk, unsigned long long *total)
{
	char type[32], params[256];
	struct vss_origin_status os;
	int r = vss_dm_single(dm, true, type, sizeof(type), params, sizeof(params));

	if (r)
		return r;
	if (strcmp(type, "vss-origin") || vss_status_origin_parse(params, &os) ||
	    !os.chunk_sectors)
		return -EPROTO;
	*chunk = os.chunk_sectors;
	*total = os.total_chunks;
	return 0;
}

/*
 * A dm-vss-cow store is its whole device: after the device grew (lvextend),
 * a suspend and resume of the volume's vss-origin device lets the kernel
 * (vss-origin 1.1) grow the store into it.
 */
static int cow_grow(struct vss_ctx *ctx, const char *dm, const char *store, uint64_t max_bytes)
{
	unsigned long long total, now;
	uint64_t store_bytes = 0, want;
	unsigned chunk, v[3];
	int r, r2;

	if (max_bytes) {
		vss_err(ctx, "/dev/mapper/%s: a dm-vss-cow store is its whole device %s, shared by "
			"every shadow copy of the volume: to give it more room, extend %s "
			"(lvextend) and run vss-storage resize --for VOL without --max-size",
			dm, store, store);
		return -EOPNOTSUPP;
	}
	if (vss_dm_target_version("vss-origin", v) ||
	    v[0] < 1 || (v[0] == 1 && v[1] < 1)) {
		vss_err(ctx, "the loaded dm-vss module cannot grow a store (vss-origin 1.1 "
			"or later is needed): load the module this vss-storage came with");
		return -ENOPKG;
	}
	r = cow_geometry(dm, &chunk, &total);
	if (r) {
		vss_err(ctx, "/dev/mapper/%s: cannot read its vss-origin status: %s", dm, strerror(-r));
		return r;
	}
	r = blk_size(store, &store_bytes);
	if (r) {
		vss_err(ctx, "%s: cannot read the store's size: %s", store, strerror(-r));
		return r;
	}
	want = vss_data_chunks(store_bytes / 512 / chunk, chunk);
	if (want <= total) {
		vss_err(ctx, "/dev/mapper/%s: the store %s (%llu bytes) has no room to grow: its "
			"%llu chunks of %u bytes use it already; extend %s first (lvextend)", dm,
			store, (unsigned long long)store_bytes, total, chunk * 512, store);
		return -ENOSPC;
	}
	r = vss_dm_suspend(ctx, dm, false);
	if (r)
		return r;
	r = vss_dm_resume(ctx, dm);
	if (r)
		return r;
	r2 = cow_geometry(dm, &chunk, &now);
	if (r2 || now <= total) {
		vss_err(ctx, "/dev/mapper/%s: the kernel did not grow the store %s (still %llu "
			"chunks): see the kernel log (dmesg)", dm, store, r2 ? total : now);
		return -EIO;
	}
	vss_info(ctx, "/dev/mapper/%s: store %s grown from %llu to %llu chunks of %u bytes", dm,
		 store, total, now, chunk * 512);
	return 0;
}

static int cow_storage_resize(struct vss_ctx *ctx, json_object *root, json_object *e,
			      uint64_t max_bytes)
{
	const char *store = vss_json_str(e, "store");

	(void)root;
	return cow_grow(ctx, vss_json_str(e, "name"), store ? store : "", max_bytes);
}

const struct vss_provider vss_provider_cow = {
	.name = "dm-vss-cow",
	.kernel_target = "vss-origin",
	.caps = VSS_PROVIDER_STORE_TABLE | VSS_PROVIDER_DEVICE_STATUS,
	.prepare = cow_prepare,
	.commit = cow_commit,
	.activate = cow_activate,
	.remove = cow_remove,
	.origin_table = cow_origin_table,
	.storage_add = cow_storage_add,
	.storage_resize = cow_storage_resize,
	.storage_removed = cow_storage_removed,
};
