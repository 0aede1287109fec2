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
	int r;

	(void)root;
	r = vss_snap_id_of(ctx, s->shadow_id, &s->snap_id);
	if (r)
		return r;
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
	bool inval = vss_json_bool(st, "overflow_invalidate");
	char chunk_arg[40] = "";

	(void)root;
	*t = (struct vss_dm_target){ 0, 0, "vss-origin", params };
	if (chunk)
		snprintf(chunk_arg, sizeof(chunk_arg), " chunk_sectors %u", chunk);
	/* the feature arguments: [chunk_sectors N] [overflow_invalidate] */
	if (chunk || inval)
		snprintf(params, psize, "/dev/mapper/%s %s %d%s%s", real, store,
			 (chunk ? 2 : 0) + inval, chunk_arg, inval ? " overflow_invalidate" : "");
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
 * the kernel grows the store into it, by the "grow" message (vss-origin
 * 1.2: the volume is never suspended) or at a resume (1.1).
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
	r = vss_blkdev_size(store, &store_bytes);
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
	if (v[0] > 1 || v[1] >= 2) {
		/* vss-origin 1.2: the "grow" message, the origin never suspended */
		r = vss_dm_message(ctx, dm, "grow");
		if (r)
			return r;
	} else {
		r = vss_dm_suspend(ctx, dm, false);
		if (r)
			return r;
		r = vss_dm_resume(ctx, dm);
		if (r)
			return r;
	}
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

/* ---- vss-activate ---- */

/* After a reboot: the vss-snap device again; the kernel checks the store. */
static int cow_reactivate(struct vss_ctx *ctx, json_object *st, json_object *sh, bool dry,
			  char *why, size_t wsize)
{
	const char *name = vss_json_str(st, "name"), *real = vss_json_str(st, "real");
	const char *store = vss_json_str(st, "store"), *snap_dev = vss_json_str(sh, "snap_dev");
	long long id = (long long)vss_json_int(sh, "shadow_id");
	uint32_t snap_id = (uint32_t)vss_json_int(sh, "snap_id");
	char params[600];
	struct vss_dm_target t = { 0, 0, "vss-snap", params };
	int r;

	snprintf(params, sizeof(params), "/dev/mapper/%s %s %u", real, store, snap_id);
	if (dry) {
		vss_info(ctx, "shadow copy %lld: would create /dev/mapper/%s (vss-snap %s)", id,
			 snap_dev, params);
		return 0;
	}
	t.length = vss_dm_size(name);
	r = t.length ? vss_dm_create(ctx, snap_dev, NULL, &t, 1, true, true) : -ENODEV;
	if (r == -ENOENT) {
		snprintf(why, wsize, "the kernel finds it in no store");
		return VSS_REACTIVATE_INVALID;
	}
	if (r) {
		vss_err(ctx, "shadow copy %lld: cannot bring back /dev/mapper/%s: %s", id, snap_dev,
			strerror(-r));
		return r;
	}
	if (!vss_dm_device_valid(snap_dev)) {
		vss_dm_remove(ctx, snap_dev);
		snprintf(why, wsize, "the kernel reports it invalid");
		return VSS_REACTIVATE_INVALID;
	}
	vss_info(ctx, "shadow copy %lld: /dev/mapper/%s activated", id, snap_dev);
	return 0;
}

/* ---- vss-list: the state of a copy ---- */

/*
 * The state the store's snapshot table records for snap_id (VSS_SNAP_*),
 * or -errno.  The kernel writes the table with bios that bypass the
 * block device's page cache, so cached pages of it are dropped first.
 */
static int store_snap_state(const char *store_path, uint32_t snap_id)
{
	struct vss_store *s;
	struct vss_store_snap sn;
	struct vss_store_info info;
	int fd, r;

	fd = open(store_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
	r = vss_store_open(store_path, 0, NULL, &s);
	if (r)
		return r;
	r = vss_store_load(s);
	if (!r)
		r = vss_store_get_info(s, &info);
	if (!r && info.state != VSS_STORE_LOADED)
		r = -EUCLEAN;
	if (!r) {
		unsigned int i;

		r = -ENOENT;
		for (i = 0; i < vss_store_snap_count(s); i++)
			if (!vss_store_snap_get(s, i, &sn) && sn.snap_id == snap_id) {
				r = (int)sn.state;
				break;
			}
	}
	vss_store_close(s);
	return r;
}

static void cow_state(const struct vss_shadow_info *info, const char *snap_dev,
		      const char *params, struct vss_shadow_state *st)
{
	char type[32], oparams[512];
	const char *origin = vss_base_name(info->volume);
	struct vss_origin_status os = { 0 };
	struct vss_snap_status ss;
	int r;

	(void)snap_dev;
	if (vss_status_snap_parse(params, &ss)) {
		vss_shadow_state_set(st, "unknown", "vss-snap status not understood");
		return;
	}
	if (!vss_dm_single(origin, true, type, sizeof(type), oparams, sizeof(oparams)) &&
	    !strcmp(type, "vss-origin") && !vss_status_origin_parse(oparams, &os) &&
	    os.mode[0]) {
		st->usage_known = true;
		st->chunk_sectors = os.chunk_sectors;
		st->copied_chunks = ss.copied_chunks;
		st->copied_bytes = (uint64_t)ss.copied_chunks * os.chunk_sectors * 512;
		st->store_used_bytes = (uint64_t)os.used_chunks * os.chunk_sectors * 512;
		st->store_size_bytes = (uint64_t)os.total_chunks * os.chunk_sectors * 512;
	}
	if (!strcmp(ss.state, "valid")) {
		vss_shadow_state_set(st, "valid", "");
		return;
	}
	st->copied_chunks = st->copied_bytes = 0;
	if (!strcmp(os.mode, "fail")) {
		vss_shadow_state_set(st, "invalid", "the store failed (see the kernel log)");
		return;
	}
	r = store_snap_state(info->store, info->snap_id);
	if (r == VSS_SNAP_DROPPED)
		vss_shadow_state_set(st, "dropped", "dropped to make room when the store filled");
	else if (r == VSS_SNAP_INVALID)
		vss_shadow_state_set(st, "invalid",
				     "invalidated when the store filled (overflow_invalidate)");
	else if (r == -ENOENT || r == VSS_SNAP_FREE)
		vss_shadow_state_set(st, "invalid", "no longer in the store's snapshot table");
	else
		vss_shadow_state_set(st, "invalid", "");
}

const struct vss_provider vss_provider_cow = {
	.name = "dm-vss-cow",
	.kernel_target = "vss-origin",
	.caps = VSS_PROVIDER_STORE_TABLE | VSS_PROVIDER_DEVICE_STATUS,
	.prepare = cow_prepare,
	.commit = cow_commit,
	.activate = cow_activate,
	.remove = cow_remove,
	.reactivate = cow_reactivate,
	.shadow_target = "vss-snap",
	.state = cow_state,
	.origin_table = cow_origin_table,
	.storage_add = cow_storage_add,
	.storage_resize = cow_storage_resize,
	.storage_removed = cow_storage_removed,
};
