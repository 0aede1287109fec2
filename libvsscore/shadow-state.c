// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The kernel's view of a shadow copy, for listing: the status of its
 * device and of its volume's origin, parsed here once, and the sets of the
 * catalog.
 *
 *   vss-snap status    <snap_id> <valid|invalid> <copied_chunks>
 *   vss-origin status  <chunk_sectors> <used>/<total> <meta_used>/<meta_total>
 *                      <snap_count> <rw|ro|fail> ...
 *   snapshot status    <allocated>/<total> <metadata_sectors>, or Invalid,
 *                      Overflow, Merge failed
 *   vss-clone status   <region_sectors> <synced>/<total> <syncing|mirrored|split|fail>
 *                      (of the volume: a clone's shadow copy is a linear
 *                      device over the clone's dest)
 *
 * vss-snap says only "invalid" for a snapshot it no longer serves; the
 * store's snapshot table (written by the kernel before it stops serving
 * one) says whether it was dropped to make room or invalidated.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "vss-internal.h"
#include "libvsscore-store.h"
#include "vss-ondisk.h"

static const char *base_name(const char *path)
{
	const char *s = path ? strrchr(path, '/') : NULL;

	return s ? s + 1 : path;
}

static void set_state(struct vss_shadow_state *st, const char *state, const char *detail)
{
	vss_strlcpy(st->state, state, sizeof(st->state));
	vss_strlcpy(st->detail, detail, sizeof(st->detail));
}

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

static void cow_state(const struct vss_shadow_info *info, const char *params,
		      struct vss_shadow_state *st)
{
	char type[32], oparams[512];
	const char *origin = base_name(info->volume);
	struct vss_origin_status os = { 0 };
	struct vss_snap_status ss;
	int r;

	if (vss_status_snap_parse(params, &ss)) {
		set_state(st, "unknown", "vss-snap status not understood");
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
		set_state(st, "valid", "");
		return;
	}
	st->copied_chunks = st->copied_bytes = 0;
	if (!strcmp(os.mode, "fail")) {
		set_state(st, "invalid", "the store failed (see the kernel log)");
		return;
	}
	r = store_snap_state(info->store, info->snap_id);
	if (r == VSS_SNAP_DROPPED)
		set_state(st, "dropped", "dropped to make room when the store filled");
	else if (r == VSS_SNAP_INVALID)
		set_state(st, "invalid", "invalidated when the store filled (overflow_invalidate)");
	else if (r == -ENOENT || r == VSS_SNAP_FREE)
		set_state(st, "invalid", "no longer in the store's snapshot table");
	else
		set_state(st, "invalid", "");
}

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
			struct vss_shadow_state *st)
{
	const char *volume = base_name(info->volume);
	char type[32], table[512], why[320];
	struct vss_clone_status cs;
	unsigned int maj, min;
	struct stat sb;
	int r;

	/* table (a linear status says nothing): <maj:min> <offset> */
	if (vss_dm_single(snap_dev, false, type, sizeof(type), table, sizeof(table)) ||
	    strcmp(type, "linear") || sscanf(table, "%u:%u %*u", &maj, &min) != 2) {
		set_state(st, "unknown", "its linear table could not be read");
		return;
	}
	if (stat(info->store, &sb) || !S_ISBLK(sb.st_mode)) {
		snprintf(why, sizeof(why), "its clone's dest %s is missing", info->store);
		set_state(st, "invalid", why);
		return;
	}
	if (major(sb.st_rdev) != maj || minor(sb.st_rdev) != min) {
		snprintf(why, sizeof(why), "its device maps %u:%u, not the clone's dest %s",
			 maj, min, info->store);
		set_state(st, "invalid", why);
		return;
	}
	r = volume && *volume ? vss_clone_read_status(volume, &cs) : -ENOENT;
	if (r == -ENOENT || r == -ENXIO || r == -ENODEV) {
		/* Nothing can write to dest: the image stays whole. */
		set_state(st, "valid", "");
		return;
	}
	if (r) {
		snprintf(why, sizeof(why), "cannot read the clone's status: %s", strerror(-r));
		set_state(st, "unknown", why);
		return;
	}
	if (!strcmp(cs.state, "split") || !strcmp(cs.state, "off")) {
		set_state(st, "valid", "");
	} else if (!strcmp(cs.state, "fail")) {
		set_state(st, "invalid", "the clone failed (an I/O error on its dest)");
	} else {
		snprintf(why, sizeof(why), "the clone is %s again: its dest no longer holds the "
			 "image", cs.state);
		set_state(st, "invalid", why);
	}
}

static void snapshot_state(const char *snap_dev, const char *params,
			   struct vss_shadow_state *st)
{
	unsigned long long alloc, total, meta;
	char type[32], table[512];
	struct vss_snapshot_status ss;
	unsigned int chunk = 0;

	if (vss_status_snapshot_parse(params, &ss)) {
		set_state(st, "unknown", "snapshot status not understood");
		return;
	}
	if (ss.invalid) {
		set_state(st, "invalid", "dm-snapshot invalidated it");
		return;
	}
	if (ss.overflow) {
		set_state(st, "dropped", "its copy-on-write area filled (dm-snapshot overflow)");
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
	set_state(st, "valid", "");
}

VSS_EXPORT int vss_shadow_get_state(struct vss_ctx *ctx, const struct vss_shadow_info *info,
				    struct vss_shadow_state *st)
{
	const char *snap_dev = base_name(info->device);
	char type[32], params[512];
	int r;

	memset(st, 0, sizeof(*st));
	if (!strcmp(info->state, "creating") || !strcmp(info->state, "deleting")) {
		set_state(st, info->state, "a command is working on it (or died: the next "
			  "command that takes the lock cleans up)");
		return 0;
	}
	if (strcmp(info->provider, "dm-vss-cow") && strcmp(info->provider, "dm-snapshot") &&
	    strcmp(info->provider, "dm-vss-clone")) {
		set_state(st, "unknown", "external provider: the kernel has no view of it");
		return 0;
	}
	if (!snap_dev || !*snap_dev || strncmp(info->device, "/dev/mapper/", 12)) {
		set_state(st, "unknown", "no device recorded");
		return 0;
	}
	if (!vss_dm_present()) {
		set_state(st, "unknown", "the kernel has no device-mapper");
		return 0;
	}
	r = vss_dm_single(snap_dev, true, type, sizeof(type), params, sizeof(params));
	if (r == -ENOENT || r == -ENXIO || r == -ENODEV) {
		set_state(st, "missing", "its device does not exist (vss-activate brings it back)");
		return 0;
	}
	if (r) {
		char why[96];

		snprintf(why, sizeof(why), "cannot read the device's status: %s", strerror(-r));
		set_state(st, "unknown", why);
		vss_dbg(ctx, "%s: %s", info->device, why);
		return 0;
	}
	st->device_present = true;
	vss_mountpoint_of(snap_dev, st->mountpoint, sizeof(st->mountpoint));
	if (!strcmp(type, "vss-snap"))
		cow_state(info, params, st);
	else if (!strcmp(type, "snapshot"))
		snapshot_state(snap_dev, params, st);
	else if (!strcmp(type, "linear") && !strcmp(info->provider, "dm-vss-clone"))
		clone_state(info, snap_dev, st);
	else {
		char why[96];

		snprintf(why, sizeof(why), "its device has a %s table", type);
		set_state(st, "unknown", why);
	}
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
