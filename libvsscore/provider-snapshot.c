// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The dm-snapshot provider: the stock kernel target, laid out as LVM does.
 * The volume is a snapshot-origin over <name>-real; each shadow copy is a
 * snapshot device over a slice of the store (vss-<id>-cow), loaded before
 * the freeze and resumed while the origin is suspended.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vss-internal.h"

static int snap_prepare(struct vss_ctx *ctx, json_object *root, struct vss_pshadow *s)
{
	json_object *st = vss_catalog_find_storage(root, s->dm_name);
	struct vss_shadow_iter it;
	json_object *sh;
	uint64_t store_size, slice, nslots, slot, vol;
	char params[600];
	struct vss_dm_target t = { 0, 0, "linear", params };
	char zero[4096];
	int fd, r;

	r = vss_blkdev_size(s->store, &store_size);
	if (r) {
		vss_err(ctx, "%s: cannot read the store's size: %s", s->store, strerror(-r));
		return r;
	}
	slice = vss_json_int(st, "max_bytes");
	if (!slice || slice > store_size)
		slice = store_size;
	slice &= ~4095ULL;
	nslots = slice ? store_size / slice : 0;
	/* The first free slice of the store. */
	for (slot = 0; slot < nslots; slot++) {
		bool used = false;

		vss_for_each_shadow(sh, &it, root) {
			const char *p = vss_json_str(sh, "provider");
			const char *so = vss_json_str(sh, "store");
			const char *cow = vss_json_str(sh, "cow_dev");
			uint64_t off = vss_json_int(sh, "cow_offset");
			uint64_t len = vss_json_int(sh, "cow_len");

			/*
			 * Only shadow copies given an area (not this set's, recorded
			 * before prepare); overlap, not equality: areas of an older
			 * --max-size stay where they are.
			 */
			if (p && !strcmp(p, "dm-snapshot") && so && !strcmp(so, s->store) &&
			    cow && *cow && off < (slot + 1) * slice &&
			    slot * slice < off + (len ? len : slice)) {
				used = true;
				break;
			}
		}
		if (!used)
			break;
	}
	if (slot >= nslots) {
		vss_err(ctx, "%s: no free space for another dm-snapshot shadow copy "
			"(delete one, or add storage with a smaller --max-size)", s->store);
		return -ENOSPC;
	}
	s->cow_offset = slot * slice;
	s->cow_len = slice;
	r = vss_snap_id_of(ctx, s->shadow_id, &s->snap_id);
	if (r)
		return r;
	snprintf(s->snap_dev, sizeof(s->snap_dev), "vss-%llu", (unsigned long long)s->shadow_id);
	snprintf(s->cow_dev, sizeof(s->cow_dev), "vss-%llu-cow", (unsigned long long)s->shadow_id);
	snprintf(s->device, sizeof(s->device), "/dev/mapper/%s", s->snap_dev);

	/* A zeroed header makes dm-snapshot start a new persistent store. */
	fd = open(s->store, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(zero, 0, sizeof(zero));
	if (pwrite(fd, zero, sizeof(zero), s->cow_offset) != sizeof(zero) || fdatasync(fd)) {
		r = -errno;
		close(fd);
		return r;
	}
	close(fd);

	t.length = slice >> 9;
	snprintf(params, sizeof(params), "%s %llu", s->store,
		 (unsigned long long)(s->cow_offset >> 9));
	r = vss_dm_create(ctx, s->cow_dev, NULL, &t, 1, false, true);
	if (r)
		return r;
	vol = vss_dm_size(s->dm_name);
	t.length = vol;
	vss_strlcpy(t.type, "snapshot", sizeof(t.type));
	snprintf(params, sizeof(params), "/dev/mapper/%s /dev/mapper/%s P 8", s->real, s->cow_dev);
	/* Loaded, not resumed: it starts copying only when resumed at commit. */
	r = vss_dm_create(ctx, s->snap_dev, NULL, &t, 1, true, false);
	if (r) {
		vss_dm_remove(ctx, s->cow_dev);
		return r;
	}
	return 0;
}

static int snap_commit(struct vss_ctx *ctx, struct vss_pshadow *s)
{
	int r = vss_dm_resume_raw(s->snap_dev);

	if (r) {
		vss_err(ctx, "%s: cannot activate the snapshot: %s", s->snap_dev, strerror(-r));
		return r;
	}
	s->committed = true;
	s->activated = true;
	return 0;
}

/*
 * The snapshot was resumed inside the commit window without waiting for
 * udev (the volumes were suspended then); resuming it again, now that
 * they are not, waits until its /dev/mapper node is there.
 */
static int snap_activate(struct vss_ctx *ctx, struct vss_pshadow *s)
{
	return vss_dm_resume(ctx, s->snap_dev);
}

static int snap_remove(struct vss_ctx *ctx, struct vss_pshadow *s)
{
	int r = 0;

	if (s->snap_dev[0] && vss_dm_exists(s->snap_dev) == 1)
		r = vss_dm_remove(ctx, s->snap_dev);
	if (!r && s->cow_dev[0] && vss_dm_exists(s->cow_dev) == 1)
		r = vss_dm_remove(ctx, s->cow_dev);
	if (!r)
		s->committed = s->activated = false;
	return r;
}

/* ---- the volume's storage ---- */

static int snap_origin_table(json_object *root, json_object *st, struct vss_dm_target *t,
			     char *params, size_t psize)
{
	(void)root;
	*t = (struct vss_dm_target){ 0, 0, "snapshot-origin", params };
	snprintf(params, psize, "/dev/mapper/%s", vss_json_str(st, "real"));
	return 0;
}

/* The area each shadow copy made from now on gets in the store. */
static int snap_storage_resize(struct vss_ctx *ctx, json_object *root, json_object *e,
			       uint64_t max_bytes)
{
	const char *dm = vss_json_str(e, "name"), *store = vss_json_str(e, "store");
	uint64_t store_bytes = 0;
	int r;

	if (!store)
		store = "";
	if (!max_bytes) {
		vss_err(ctx, "/dev/mapper/%s: resize of a dm-snapshot area needs --max-size SIZE", dm);
		return -EINVAL;
	}
	if (max_bytes < (1 << 20)) {
		vss_err(ctx, "/dev/mapper/%s: %llu bytes: a shadow copy's area needs at least 1 MiB",
			dm, (unsigned long long)max_bytes);
		return -EINVAL;
	}
	r = vss_blkdev_size(store, &store_bytes);
	if (r) {
		vss_err(ctx, "%s: cannot read the store's size: %s", store, strerror(-r));
		return r;
	}
	if (max_bytes > store_bytes) {
		vss_err(ctx, "/dev/mapper/%s: %llu bytes: larger than the store %s (%llu bytes)",
			dm, (unsigned long long)max_bytes, store, (unsigned long long)store_bytes);
		return -ENOSPC;
	}
	json_object_object_add(e, "max_bytes", json_object_new_int64(max_bytes & ~4095ULL));
	r = vss_catalog_save(ctx, root);
	if (!r)
		vss_info(ctx, "/dev/mapper/%s: shadow copies made from now on get %llu bytes of "
			 "%s each (%llu at a time); existing ones keep their area", dm,
			 (unsigned long long)(max_bytes & ~4095ULL), store,
			 (unsigned long long)(store_bytes / (max_bytes & ~4095ULL)));
	return r;
}

/* ---- vss-activate ---- */

/*
 * dm-snapshot: a persistent cow area whose header is gone would be
 * initialised afresh by the kernel, and the snapshot would silently read
 * today's origin: check the header first ("SnAp", valid).
 */
static bool cow_header_valid(const char *store, uint64_t offset)
{
	uint32_t hdr[2] = { 0, 0 };
	int fd = open(store, O_RDONLY | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ioctl(fd, BLKFLSBUF, 0);
	ok = pread(fd, hdr, sizeof(hdr), (off_t)offset) == sizeof(hdr) &&
	     le32toh(hdr[0]) == 0x70416e53 && le32toh(hdr[1]) == 1;
	close(fd);
	return ok;
}

static int snap_reactivate(struct vss_ctx *ctx, json_object *st, json_object *sh, bool dry,
			   char *why, size_t wsize)
{
	const char *name = vss_json_str(st, "name"), *real = vss_json_str(st, "real");
	const char *store = vss_json_str(st, "store"), *snap_dev = vss_json_str(sh, "snap_dev");
	const char *cow_dev = vss_json_str(sh, "cow_dev");
	long long id = (long long)vss_json_int(sh, "shadow_id");
	uint64_t off = vss_json_int(sh, "cow_offset"), clen = vss_json_int(sh, "cow_len");
	char cparams[300], sparams[400];
	struct vss_dm_target ct = { 0, clen >> 9, "linear", cparams };
	struct vss_dm_target tt = { 0, 0, "snapshot", sparams };
	bool made_cow = false;
	int r;

	if (!cow_dev || !clen) {
		snprintf(why, wsize, "no cow area recorded");
		return VSS_REACTIVATE_INVALID;
	}
	if (!cow_header_valid(store, off)) {
		snprintf(why, wsize, "its cow area in the store has no valid snapshot header");
		return VSS_REACTIVATE_INVALID;
	}
	snprintf(cparams, sizeof(cparams), "%s %llu", store, (unsigned long long)(off >> 9));
	snprintf(sparams, sizeof(sparams), "/dev/mapper/%s /dev/mapper/%s P 8", real, cow_dev);
	if (dry) {
		vss_info(ctx, "shadow copy %lld: would create /dev/mapper/%s (linear %s) and "
			 "/dev/mapper/%s (snapshot %s)", id, cow_dev, cparams, snap_dev, sparams);
		return 0;
	}
	tt.length = vss_dm_size(name);
	if (vss_dm_exists(cow_dev) != 1) {
		r = vss_dm_create(ctx, cow_dev, NULL, &ct, 1, false, true);
		if (r)
			goto fail;
		made_cow = true;
	}
	/*
	 * A write to the origin between the snapshot's load and its
	 * registration would not be copied: hold the origin suspended.
	 */
	r = vss_dm_suspend(ctx, name, false);
	if (r)
		goto fail;
	r = vss_dm_create(ctx, snap_dev, NULL, &tt, 1, true, true);
	vss_dm_resume(ctx, name);
	if (r)
		goto fail;
	if (!vss_dm_device_valid(snap_dev)) {
		vss_dm_remove(ctx, snap_dev);
		vss_dm_remove(ctx, cow_dev);
		snprintf(why, wsize, "the kernel reports it invalid");
		return VSS_REACTIVATE_INVALID;
	}
	vss_info(ctx, "shadow copy %lld: /dev/mapper/%s activated", id, snap_dev);
	return 0;
fail:
	vss_err(ctx, "shadow copy %lld: cannot bring back /dev/mapper/%s: %s", id, snap_dev,
		strerror(-r));
	if (made_cow)
		vss_dm_remove(ctx, cow_dev);
	return r;
}

/* ---- vss-list: the state of a copy ---- */

static void snap_state(const struct vss_shadow_info *info, const char *snap_dev,
		       const char *params, struct vss_shadow_state *st)
{
	unsigned long long alloc, total, meta;
	char type[32], table[512];
	struct vss_snapshot_status ss;
	unsigned int chunk = 0;

	(void)info;
	if (vss_status_snapshot_parse(params, &ss)) {
		vss_shadow_state_set(st, "unknown", "snapshot status not understood");
		return;
	}
	if (ss.invalid) {
		vss_shadow_state_set(st, "invalid", "dm-snapshot invalidated it");
		return;
	}
	if (ss.overflow) {
		vss_shadow_state_set(st, "dropped",
				     "its copy-on-write area filled (dm-snapshot overflow)");
		return;
	}
	alloc = ss.alloc_sectors;
	total = ss.total_sectors;
	meta = ss.meta_sectors;
	if (!vss_dm_single(snap_dev, false, type, sizeof(type), table, sizeof(table)))
		chunk = vss_table_snapshot_chunk(table);
	st->usage_known = true;
	st->chunk_sectors = chunk;
	st->copied_bytes = (alloc > meta ? alloc - meta : 0) * 512;
	st->copied_chunks = chunk ? st->copied_bytes / (chunk * 512ULL) : 0;
	st->store_used_bytes = alloc * 512;
	st->store_size_bytes = total * 512;
	vss_shadow_state_set(st, "valid", "");
}

const struct vss_provider vss_provider_snapshot = {
	.name = "dm-snapshot",
	.caps = VSS_PROVIDER_DEVICE_STATUS,
	.prepare = snap_prepare,
	.commit = snap_commit,
	.activate = snap_activate,
	.remove = snap_remove,
	.reactivate = snap_reactivate,
	.shadow_target = "snapshot",
	.state = snap_state,
	.origin_table = snap_origin_table,
	.storage_resize = snap_storage_resize,
};
