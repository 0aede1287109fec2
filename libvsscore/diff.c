// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The extents where one shadow copy differs from an older one of the same
 * volume (vss-diff, vss-send --from), and the whole image of one shadow
 * copy (vss-send).
 *
 * Where the extents come from: the store's committed exception records,
 * read from userspace by the one reader of the format (store.c), while
 * the kernel goes on using the store.  That is safe without suspending the
 * volume (which vss-revert does, and a production volume would feel):
 *
 * - every record that tells FROM from TO was made by a write between the
 *   two snapshots, and was durable before that write reached the origin,
 *   so before TO's create returned: it is on disk before this reads;
 * - such a record serves FROM, so the kernel never frees or reuses it
 *   while FROM is valid; its exception block may be rewritten for other
 *   records meanwhile, and a read that meets that write is read again
 *   (VSS_STORE_LIVE), the record itself being the same in both versions;
 * - records made after the superblock was read carry newer epochs than
 *   TO's and cannot change the answer;
 * - the superblock is read again at the end: if FROM or TO was deleted,
 *   dropped or invalidated meanwhile, or the store formatted again, the
 *   answer is refused rather than guessed.
 *
 * The answer for two existing shadow copies therefore never changes while
 * they exist, and a write to the volume during the diff or the send does
 * not change what is sent: the data is read from TO's own device.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vss-internal.h"
#include "libvsscore-store.h"
#include "vss-ondisk.h"

/* The catalog's view of a shadow copy, or -ENOENT (reported). */
static int shadow_info(struct vss_ctx *ctx, uint64_t id, struct vss_shadow_info *out)
{
	struct vss_shadow_info *all = NULL;
	size_t n = 0, i;
	int r;

	r = vss_shadow_list(ctx, &all, &n);
	if (r)
		return r;
	r = -ENOENT;
	for (i = 0; i < n; i++)
		if (all[i].shadow_id == id) {
			*out = all[i];
			r = 0;
			break;
		}
	free(all);
	if (r)
		vss_err(ctx, "shadow copy %" PRIu64 ": no such shadow copy (see vss-list)", id);
	else if (!strcmp(out->state, "creating") || !strcmp(out->state, "deleting")) {
		vss_err(ctx, "shadow copy %" PRIu64 ": is being %s by another command",
			id, out->state[0] == 'c' ? "created" : "deleted");
		r = -EBUSY;
	}
	return r;
}

static int device_bytes(struct vss_ctx *ctx, const char *dev, uint64_t *bytes)
{
	int fd = open(dev, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0) {
		r = -errno;
		vss_err(ctx, "%s: cannot open the shadow copy's device: %s%s", dev, strerror(-r),
			r == -ENOENT ? " (after a reboot: vss-activate)" : "");
		return r;
	}
	r = vss_blkdev_size_fd(fd, bytes);
	if (r) {
		vss_err(ctx, "%s: cannot read the device's size: %s", dev, strerror(-r));
	}
	close(fd);
	return r;
}

struct finding_log {
	struct vss_ctx *ctx;
	const char *store;
};

static void on_finding(const struct vss_store_finding *f, void *arg)
{
	struct finding_log *fl = arg;

	if (f->severity == VSS_STORE_FATAL)
		vss_err(fl->ctx, "%s: %s: %s", fl->store, f->name, f->message);
	else
		vss_dbg(fl->ctx, "%s: %s: %s", fl->store, f->name, f->message);
}

/* A VALID snapshot of a loaded store, by id; NULL if it is not one. */
static bool store_snap(const struct vss_store *st, uint32_t snap_id, struct vss_store_snap *out)
{
	unsigned int i;

	for (i = 0; vss_store_snap_get(st, i, out) == 0; i++)
		if (out->snap_id == snap_id)
			return out->state == VSS_SNAP_VALID;
	return false;
}

static int refuse_stale(struct vss_ctx *ctx, uint64_t id, const char *store)
{
	vss_err(ctx, "shadow copy %" PRIu64 ": not valid in its store %s (deleted, dropped to make "
		"room or invalidated by the kernel): cannot tell what changed since", id, store);
	return -ESTALE;
}

/*
 * The superblock again, after the scan: same store, both snapshots still
 * valid with the same epochs.
 */
static int recheck(struct vss_ctx *ctx, const struct vss_shadow_info *from,
		   const struct vss_shadow_info *to, const struct vss_store_info *was,
		   const struct vss_store_snap *ef, const struct vss_store_snap *et)
{
	struct vss_store *st = NULL;
	struct vss_store_info info;
	struct vss_store_snap f, t;
	int r;

	r = vss_store_open(to->store, VSS_STORE_LIVE, NULL, &st);
	if (!r)
		r = vss_store_load(st);
	if (r) {
		vss_err(ctx, "%s: cannot read the store again: %s", to->store, strerror(-r));
		vss_store_close(st);
		return r;
	}
	vss_store_get_info(st, &info);
	if (info.state != VSS_STORE_LOADED || memcmp(info.uuid, was->uuid, sizeof(info.uuid))) {
		vss_err(ctx, "%s: the store changed while it was read (formatted again?)", to->store);
		r = -ESTALE;
	} else if (!store_snap(st, from->snap_id, &f) || f.epoch != ef->epoch) {
		r = refuse_stale(ctx, from->shadow_id, to->store);
	} else if (!store_snap(st, to->snap_id, &t) || t.epoch != et->epoch) {
		r = refuse_stale(ctx, to->shadow_id, to->store);
	}
	vss_store_close(st);
	return r;
}

static int add_extent(struct vss_shadow_diff *d, size_t *cap, uint64_t off, uint64_t len)
{
	if (d->nr_extents && d->extents[d->nr_extents - 1].offset +
			     d->extents[d->nr_extents - 1].length == off) {
		d->extents[d->nr_extents - 1].length += len;
	} else {
		if (d->nr_extents == *cap) {
			size_t ncap = *cap ? *cap * 2 : 256;
			struct vss_extent *tmp = realloc(d->extents, ncap * sizeof(*tmp));

			if (!tmp)
				return -ENOMEM;
			d->extents = tmp;
			*cap = ncap;
		}
		d->extents[d->nr_extents].offset = off;
		d->extents[d->nr_extents].length = len;
		d->nr_extents++;
	}
	d->changed_bytes += len;
	return 0;
}

/* The changed chunks of two dm-vss-cow shadow copies, as merged extents. */
static int cow_diff(struct vss_ctx *ctx, const struct vss_shadow_info *from,
		    const struct vss_shadow_info *to, struct vss_shadow_diff *d)
{
	struct finding_log fl = { ctx, to->store };
	struct vss_store_callbacks cb = { .finding = on_finding, .arg = &fl };
	struct vss_store_snap ef, et;
	struct vss_store *st = NULL;
	struct vss_store_info info;
	uint64_t *chunks = NULL, chunk_bytes;
	size_t count = 0, i, cap = 0;
	int r;

	r = vss_store_open(to->store, VSS_STORE_LIVE, &cb, &st);
	if (r) {
		vss_err(ctx, "%s: cannot open the store: %s", to->store, strerror(-r));
		return r;
	}
	r = vss_store_check(st);
	if (r)
		goto out;
	vss_store_get_info(st, &info);
	if (!info.checked || info.nr_fatal) {
		vss_err(ctx, "%s: the store has fatal findings (see vss-check %s): its changes "
			"cannot be trusted", to->store, to->store);
		r = -EUCLEAN;
		goto out;
	}
	if (!store_snap(st, from->snap_id, &ef)) {
		r = refuse_stale(ctx, from->shadow_id, to->store);
		goto out;
	}
	if (!store_snap(st, to->snap_id, &et)) {
		r = refuse_stale(ctx, to->shadow_id, to->store);
		goto out;
	}
	if (ef.epoch > et.epoch) {
		vss_err(ctx, "shadow copy %" PRIu64 " was taken after shadow copy %" PRIu64
			": give the older one first (FROM %" PRIu64 " TO %" PRIu64 ")",
			from->shadow_id, to->shadow_id, to->shadow_id, from->shadow_id);
		r = -ERANGE;
		goto out;
	}
	r = vss_store_diff(st, from->snap_id, to->snap_id, &chunks, &count);
	if (r) {
		vss_err(ctx, "%s: cannot compare snapshots %" PRIu32 " and %" PRIu32 ": %s",
			to->store, from->snap_id, to->snap_id, strerror(-r));
		goto out;
	}
	r = recheck(ctx, from, to, &info, &ef, &et);
	if (r)
		goto out;

	chunk_bytes = (uint64_t)info.chunk_sectors << VSS_SECTOR_SHIFT;
	d->chunk_bytes = (uint32_t)chunk_bytes;
	d->volume_bytes = info.origin_sectors << VSS_SECTOR_SHIFT;
	memcpy(d->volume_uuid, info.uuid, sizeof(d->volume_uuid));
	d->from_created = (time_t)ef.ctime;
	d->to_created = (time_t)et.ctime;
	for (i = 0; i < count && !r; i++) {
		uint64_t off = chunks[i] * chunk_bytes, len = chunk_bytes;

		if (off + len > d->volume_bytes)	/* the volume's last, partial chunk */
			len = d->volume_bytes - off;
		r = add_extent(d, &cap, off, len);
	}
out:
	free(chunks);
	vss_store_close(st);
	return r;
}

/* A full image: one extent, and the volume's identity where it has one. */
static int full_image(struct vss_ctx *ctx, const struct vss_shadow_info *to,
		      struct vss_shadow_diff *d)
{
	size_t cap = 0;
	int r;

	r = device_bytes(ctx, to->device, &d->volume_bytes);
	if (r)
		return r;
	d->to_created = to->created;
	if (vss_provider_can(to->provider, VSS_PROVIDER_STORE_TABLE)) {
		struct vss_store *st = NULL;
		struct vss_store_info info;
		struct vss_store_snap et;

		r = vss_store_open(to->store, VSS_STORE_LIVE, NULL, &st);
		if (!r)
			r = vss_store_load(st);
		if (r) {
			vss_err(ctx, "%s: cannot read the store: %s", to->store, strerror(-r));
			vss_store_close(st);
			return r;
		}
		vss_store_get_info(st, &info);
		if (info.state == VSS_STORE_LOADED && store_snap(st, to->snap_id, &et)) {
			memcpy(d->volume_uuid, info.uuid, sizeof(d->volume_uuid));
			d->chunk_bytes = info.chunk_sectors << VSS_SECTOR_SHIFT;
			d->to_created = (time_t)et.ctime;
		} else {
			r = refuse_stale(ctx, to->shadow_id, to->store);
		}
		vss_store_close(st);
		if (r)
			return r;
	}
	return d->volume_bytes ? add_extent(d, &cap, 0, d->volume_bytes) : 0;
}

VSS_EXPORT int vss_shadow_diff(struct vss_ctx *ctx, uint64_t from_id, uint64_t to_id,
			       struct vss_shadow_diff **diff)
{
	struct vss_shadow_info from, to;
	struct vss_shadow_diff *d;
	int r;

	*diff = NULL;
	if (from_id && from_id == to_id) {
		vss_err(ctx, "shadow copy %" PRIu64 ": FROM and TO are the same shadow copy", to_id);
		return -EINVAL;
	}
	r = shadow_info(ctx, to_id, &to);
	if (!r && from_id)
		r = shadow_info(ctx, from_id, &from);
	if (r)
		return r;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->from_id = from_id;
	d->to_id = to_id;
	vss_strlcpy(d->volume, to.volume, sizeof(d->volume));
	vss_strlcpy(d->device, to.device, sizeof(d->device));
	vss_strlcpy(d->provider, to.provider, sizeof(d->provider));

	if (!from_id) {
		r = full_image(ctx, &to, d);
	} else if (strcmp(from.volume, to.volume)) {
		vss_err(ctx, "shadow copies %" PRIu64 " and %" PRIu64 " are of different volumes "
			"(%s, %s): changes are only known between copies of one volume",
			from_id, to_id, from.volume, to.volume);
		r = -EXDEV;
	} else if (!vss_provider_can(to.provider, VSS_PROVIDER_STORE_TABLE) ||
		   !vss_provider_can(from.provider, VSS_PROVIDER_STORE_TABLE) ||
		   strcmp(from.store, to.store)) {
		vss_err(ctx, "shadow copies %" PRIu64 " and %" PRIu64 ": changed extents are known "
			"only for dm-vss-cow shadow copies of one store (these are %s and %s): "
			"send the whole image instead", from_id, to_id, from.provider, to.provider);
		r = -EOPNOTSUPP;
	} else {
		r = cow_diff(ctx, &from, &to, d);
	}
	if (r) {
		vss_shadow_diff_free(d);
		return r;
	}
	*diff = d;
	return 0;
}

VSS_EXPORT void vss_shadow_diff_free(struct vss_shadow_diff *diff)
{
	if (!diff)
		return;
	free(diff->extents);
	free(diff);
}
