// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Reverting a volume to one of its dm-vss-cow shadow copies, in userspace.
 *
 * A snapshot of epoch e differs from its origin exactly at the origin
 * chunks that have a copy in the store with an epoch >= e: a write after
 * the snapshot copied them (doc/on-disk-format.rst, "Epoch ranges").  Those
 * chunks are read from the store's exception records while the origin is
 * suspended (so that no commit is half written), then each one is read
 * from the shadow copy's device and written to the volume through its
 * vss-origin device.  Writing through the origin, never to <name>-real,
 * makes the kernel copy the old content for the newer snapshots first, so
 * every other shadow copy keeps its content.
 *
 * The volume is held open O_EXCL for the whole revert: a mounted volume, or
 * one another program holds, is refused rather than reverted later, and no
 * write can slip in between reading the records and copying.  A revert
 * that stops half way is completed by running it again: chunks already
 * equal to the shadow copy are skipped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vss-internal.h"
#include "libvsscore-store.h"
#include "vss-ondisk.h"

/*
 * Longest the origin stays suspended while the records are read.  Nothing
 * waits on it (the volume is unmounted and held by this process; the
 * snapshots read <name>-real), so the bound only has to cover a large store.
 */
#define REVERT_SUSPEND_LIMIT_MS	600000U

VSS_EXPORT int vss_shadow_changed_chunks(const struct vss_store *store, uint32_t snap_id,
					 uint64_t **chunks, size_t *count, uint64_t *new_copies)
{
	struct vss_store_info info;
	struct vss_store_snap sn, newest = { 0 };
	uint64_t c, d, *out = NULL, copies = 0;
	size_t n = 0, cap = 0;
	unsigned int i;
	bool found = false;
	int r;

	*chunks = NULL;
	*count = 0;
	if (new_copies)
		*new_copies = 0;
	vss_store_get_info(store, &info);
	if (!info.checked)
		return -EINVAL;
	for (i = 0; vss_store_snap_get(store, i, &sn) == 0; i++) {
		if (sn.state != VSS_SNAP_VALID)
			continue;
		if (sn.snap_id == snap_id)
			found = true;
		if (sn.epoch > newest.epoch)
			newest = sn;
	}
	if (!found)
		return -ENOENT;
	for (c = 0; c < info.origin_chunks; c++) {
		r = vss_store_lookup(store, snap_id, c, &d);
		if (r == -ENODATA)
			continue;	/* read from the origin: unchanged */
		if (r) {
			free(out);
			return r;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 1024;
			uint64_t *tmp = realloc(out, ncap * sizeof(*out));

			if (!tmp) {
				free(out);
				return -ENOMEM;
			}
			out = tmp;
			cap = ncap;
		}
		out[n++] = c;
		/*
		 * The kernel copies a chunk on write unless it has a copy for
		 * the newest valid snapshot already.
		 */
		if (newest.snap_id != snap_id &&
		    vss_store_lookup(store, newest.snap_id, c, &d) == -ENODATA)
			copies++;
	}
	*chunks = out;
	*count = n;
	if (new_copies)
		*new_copies = copies;
	return 0;
}

/* The catalog entry of a shadow copy (a copy of it: put it when done). */
static int find_shadow(struct vss_ctx *ctx, uint64_t shadow_id, json_object **shadow)
{
	json_object *root, *sh;
	int r;

	*shadow = NULL;
	r = vss_catalog_load(ctx, &root);
	if (r)
		return r;
	sh = vss_catalog_find_shadow(root, shadow_id, NULL);
	if (sh)
		*shadow = json_object_get(sh);
	json_object_put(root);
	return *shadow ? 0 : -ENOENT;
}

struct finding_count {
	struct vss_ctx *ctx;
	const char *store;
};

static void on_finding(const struct vss_store_finding *f, void *arg)
{
	struct finding_count *fc = arg;

	if (f->severity == VSS_STORE_FATAL)
		vss_err(fc->ctx, "%s: %s: %s", fc->store, f->name, f->message);
}

/*
 * Open the volume for the revert: O_EXCL fails while it is mounted or
 * claimed; the open count catches a plain open by another program.
 */
static int open_volume(struct vss_ctx *ctx, const char *dm_name, const char *path,
		       struct vss_revert_result *res)
{
	int fd, tries, open_count = 0, r;

	fd = open(path, O_RDWR | O_EXCL | O_DIRECT | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		if (r == -EBUSY) {
			vss_mountpoint_of(dm_name, res->mountpoint, sizeof(res->mountpoint));
			if (res->mountpoint[0])
				vss_err(ctx, "%s: volume is mounted at %s: unmount it first "
					"(a mounted volume is not reverted)", path, res->mountpoint);
			else
				vss_err(ctx, "%s: volume is in use (held by another device or "
					"program): release it first", path);
		} else {
			vss_err(ctx, "%s: cannot open the volume: %s", path, strerror(-r));
		}
		return r;
	}
	/* udev may probe the device for a moment: give it that moment. */
	for (tries = 0; tries < 20; tries++) {
		r = vss_dm_info(dm_name, NULL, NULL, NULL, &open_count);
		if (r || open_count <= 1)
			break;
		usleep(100000);
	}
	if (!r && open_count > 1) {
		vss_err(ctx, "%s: volume is open in another program (%d opens): close it first",
			path, open_count - 1);
		r = -EBUSY;
	}
	if (r) {
		close(fd);
		return r;
	}
	return fd;
}

/*
 * Read the store's records with the origin suspended (the records are then
 * held in memory), resume, and work out the changed chunks.  Fills
 * *chunks, the chunk size and the space figures of @res.
 */
static int read_plan(struct vss_ctx *ctx, const char *dm_name, const char *store_path,
		     uint32_t snap_id, uint64_t **chunks, size_t *count,
		     struct vss_revert_result *res)
{
	struct finding_count fc = { ctx, store_path };
	struct vss_store_callbacks cb = { .finding = on_finding, .arg = &fc };
	struct vss_watchdog_item item = { "", "" };
	struct vss_watchdog *wd = NULL;
	struct vss_store *store = NULL;
	struct vss_store_info info;
	uint64_t new_copies = 0;
	int r, k, fd;

	*chunks = NULL;
	*count = 0;
	/* Should this process die while the volume is suspended. */
	vss_strlcpy(item.dm_name, dm_name, sizeof(item.dm_name));
	r = vss_watchdog_start(ctx, &item, 1, REVERT_SUSPEND_LIMIT_MS, &wd);
	if (r)
		return r;
	r = vss_dm_suspend(ctx, dm_name, true);
	if (r) {
		vss_watchdog_stop(wd);
		vss_watchdog_free(wd);
		return r;
	}
	/*
	 * The kernel writes the store with bios, around the page cache: drop
	 * what an earlier buffered reader (udev's probe, vss-check) left there.
	 */
	fd = open(store_path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (ioctl(fd, BLKFLSBUF, 0))
			posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		close(fd);
	}
	r = vss_store_open(store_path, 0, &cb, &store);
	if (r)
		vss_err(ctx, "%s: cannot open the store: %s", store_path, strerror(-r));
	else
		r = vss_store_check(store);
	k = vss_dm_resume(ctx, dm_name);
	if (!r)
		r = k;
	k = vss_watchdog_stop(wd);
	vss_watchdog_free(wd);
	if (!r && k) {
		vss_err(ctx, "/dev/mapper/%s: suspended longer than %u ms while reading the store",
			dm_name, REVERT_SUSPEND_LIMIT_MS);
		r = -ETIMEDOUT;
	}
	if (r)
		goto out;

	vss_store_get_info(store, &info);
	if (!info.checked || info.nr_fatal) {
		vss_err(ctx, "%s: the store has fatal findings (see vss-check): not reverting",
			store_path);
		r = -EUCLEAN;
		goto out;
	}
	res->chunk_bytes = info.chunk_sectors << VSS_SECTOR_SHIFT;
	res->store_chunks_free = info.free_chunks;
	r = vss_shadow_changed_chunks(store, snap_id, chunks, count, &new_copies);
	if (r == -ENOENT) {
		vss_err(ctx, "shadow copy %" PRIu64 ": snapshot %" PRIu32 " of %s is not valid "
			"(dropped or invalidated by the kernel): cannot revert to it",
			res->shadow_id, snap_id, store_path);
		r = -ESTALE;
	}
	res->store_chunks_needed = new_copies;
out:
	vss_store_close(store);
	return r;
}

static int full_pread(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

static int full_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

/* Copy the changed chunks from the shadow copy to the volume. */
static int copy_chunks(struct vss_ctx *ctx, int vol_fd, const char *vol_path,
		       const char *snap_path, uint64_t vol_bytes, const uint64_t *chunks,
		       size_t count, struct vss_revert_result *res)
{
	size_t cb = res->chunk_bytes, i;
	const char *fail_env = getenv("VSS_TEST_REVERT_FAIL_AFTER");
	long fail_after = fail_env ? atol(fail_env) : -1;
	unsigned char *src = NULL, *cur = NULL;
	int snap_fd, r = 0;

	snap_fd = open(snap_path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (snap_fd < 0) {
		r = -errno;
		vss_err(ctx, "%s: cannot open the shadow copy: %s", snap_path, strerror(-r));
		return r;
	}
	if (posix_memalign((void **)&src, 4096, cb) || posix_memalign((void **)&cur, 4096, cb)) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < count; i++) {
		uint64_t off = chunks[i] * cb;
		size_t len = cb;

		if (off >= vol_bytes)
			break;
		if (vol_bytes - off < len)
			len = (size_t)(vol_bytes - off);	/* a short last chunk */
		/* Test hook: a read error after that many chunks copied. */
		if (fail_after >= 0 && res->copied_chunks >= (uint64_t)fail_after) {
			r = -EIO;
			vss_err(ctx, "%s: chunk %" PRIu64 ": read failed: %s "
				"(injected by VSS_TEST_REVERT_FAIL_AFTER)", snap_path, chunks[i],
				strerror(-r));
			break;
		}
		r = full_pread(snap_fd, src, len, off);
		if (r) {
			vss_err(ctx, "%s: chunk %" PRIu64 " (byte %" PRIu64 "): read failed: %s",
				snap_path, chunks[i], off, strerror(-r));
			break;
		}
		r = full_pread(vol_fd, cur, len, off);
		if (r) {
			vss_err(ctx, "%s: chunk %" PRIu64 " (byte %" PRIu64 "): read failed: %s",
				vol_path, chunks[i], off, strerror(-r));
			break;
		}
		if (!memcmp(src, cur, len)) {
			res->equal_chunks++;
			continue;
		}
		r = full_pwrite(vol_fd, src, len, off);
		if (r) {
			vss_err(ctx, "%s: chunk %" PRIu64 " (byte %" PRIu64 "): write failed: %s",
				vol_path, chunks[i], off, strerror(-r));
			break;
		}
		res->copied_chunks++;
		res->copied_bytes += len;
	}
	if (fsync(vol_fd) && !r) {
		r = -errno;
		vss_err(ctx, "%s: cannot flush the volume: %s", vol_path, strerror(-r));
	}
out:
	free(src);
	free(cur);
	close(snap_fd);
	return r;
}

/*
 * Whether the volume can be reverted to the shadow copy sh: a copy whose
 * provider keeps a store table, its volume a vss-origin over that store,
 * its device there and valid.  vol_path: the volume's device.
 */
static int revert_check(struct vss_ctx *ctx, uint64_t shadow_id, json_object *sh,
			struct vss_revert_result *res, char *vol_path, size_t vsize)
{
	const char *dm_name = vss_json_str(sh, "name"), *snap_dev = vss_json_str(sh, "snap_dev");
	const char *store = vss_json_str(sh, "store"), *provider = vss_json_str(sh, "provider");
	char snap_type[32], params[512];
	struct vss_snap_status ss;
	int r;

	if (!provider || !vss_provider_can(provider, VSS_PROVIDER_STORE_TABLE)) {
		vss_err(ctx, "shadow copy %" PRIu64 ": provider %s: revert is supported for "
			"dm-vss-cow shadow copies only", shadow_id, provider ? provider : "unknown");
		return -EOPNOTSUPP;
	}
	if (!dm_name || !*dm_name || !snap_dev || !*snap_dev || !store || !*store) {
		vss_err(ctx, "shadow copy %" PRIu64 ": catalog entry is incomplete", shadow_id);
		return -EUCLEAN;
	}
	snprintf(vol_path, vsize, "/dev/mapper/%s", dm_name);

	/* The volume must be a vss-origin over that store. */
	if (!vss_dm_present()) {
		vss_err(ctx, "%s: the kernel has no device-mapper (modprobe dm-mod)", vol_path);
		return -ENOPKG;
	}
	r = vss_dm_first(dm_name, false, snap_type, sizeof(snap_type), params, sizeof(params));
	if (r == -ENOENT || r == -ENXIO || r == -ENODEV) {
		vss_err(ctx, "%s: volume is not active", vol_path);
		return -ENODEV;
	}
	if (r) {
		vss_err(ctx, "%s: cannot read the table: %s", vol_path, strerror(-r));
		return r;
	}
	if (strcmp(snap_type, "vss-origin")) {
		vss_err(ctx, "%s: volume is a %s device, not a vss-origin: cannot revert",
			vol_path, snap_type);
		return -ENODEV;
	}
	/* The shadow copy's device, and what the kernel says of it. */
	r = vss_dm_first(snap_dev, true, snap_type, sizeof(snap_type), params, sizeof(params));
	if (r) {
		vss_err(ctx, "shadow copy %" PRIu64 ": device %s is not active (vss-activate "
			"brings it back)", shadow_id, res->device);
		return -ENODEV;
	}
	if (!vss_status_snap_parse(params, &ss) && strcmp(ss.state, "valid")) {
		vss_err(ctx, "shadow copy %" PRIu64 ": %s: the kernel reports it %s "
			"(dropped or invalidated): cannot revert to it", shadow_id, res->device,
			ss.state);
		return -ESTALE;
	}
	return 0;
}

VSS_EXPORT int vss_shadow_revert(struct vss_ctx *ctx, uint64_t shadow_id,
				 const struct vss_revert_opts *opts,
				 struct vss_revert_result *result)
{
	static const struct vss_revert_opts defaults;
	struct vss_revert_result local = { 0 }, *res = result ? result : &local;
	char vol_path[200];
	const char *dm_name, *store, *provider;
	json_object *sh = NULL;
	uint64_t *chunks = NULL, vol_bytes, i;
	size_t count = 0;
	int r, vol_fd = -1;

	if (!opts)
		opts = &defaults;
	memset(res, 0, sizeof(*res));
	res->shadow_id = shadow_id;
	r = find_shadow(ctx, shadow_id, &sh);
	if (r) {
		if (r == -ENOENT)
			vss_err(ctx, "shadow copy %" PRIu64 ": no such shadow copy (see vss-list)", shadow_id);
		return r;
	}
	dm_name = vss_json_str(sh, "name");
	store = vss_json_str(sh, "store");
	provider = vss_json_str(sh, "provider");
	vss_strlcpy(res->volume, vss_json_str(sh, "volume"), sizeof(res->volume));
	vss_strlcpy(res->device, vss_json_str(sh, "device"), sizeof(res->device));
	vss_strlcpy(res->provider, provider, sizeof(res->provider));

	r = revert_check(ctx, shadow_id, sh, res, vol_path, sizeof(vol_path));
	if (r)
		goto out;

	vol_fd = open_volume(ctx, dm_name, vol_path, res);
	if (vol_fd < 0) {
		r = vol_fd;
		goto out;
	}
	vol_bytes = vss_dm_size(dm_name) << VSS_SECTOR_SHIFT;

	r = read_plan(ctx, dm_name, store, (uint32_t)vss_json_int(sh, "snap_id"),
		      &chunks, &count, res);
	if (r)
		goto out;
	res->changed_chunks = count;
	for (i = 0; i < count; i++) {
		uint64_t off = chunks[i] * res->chunk_bytes;

		if (off < vol_bytes)
			res->changed_bytes += vol_bytes - off < res->chunk_bytes ?
					      vol_bytes - off : res->chunk_bytes;
	}
	vss_dbg(ctx, "shadow copy %" PRIu64 ": %zu chunks of %" PRIu32 " bytes differ; "
		"%" PRIu64 " new copies needed, %" PRIu64 " store chunks free", shadow_id,
		count, res->chunk_bytes, res->store_chunks_needed, res->store_chunks_free);
	if (res->store_chunks_needed > res->store_chunks_free) {
		vss_err(ctx, "%s: the store needs %" PRIu64 " free chunks to keep the other "
			"shadow copies of %s, and has %" PRIu64 ": delete shadow copies or give "
			"the store more room", store, res->store_chunks_needed, vol_path,
			res->store_chunks_free);
		r = -ENOSPC;
		goto out;
	}
	if (opts->dry_run)
		goto out;

	r = copy_chunks(ctx, vol_fd, vol_path, res->device, vol_bytes, chunks, count, res);
	if (r) {
		res->partial = res->copied_chunks > 0;
		if (res->partial)
			vss_err(ctx, "%s: partly reverted to shadow copy %" PRIu64 " (%" PRIu64
				" of %zu chunks written): run vss-revert %" PRIu64 " again to "
				"complete it", vol_path, shadow_id, res->copied_chunks, count,
				shadow_id);
		else
			vss_err(ctx, "%s: not changed: the revert to shadow copy %" PRIu64
				" stopped before the first write", vol_path, shadow_id);
		goto out;
	}
	vss_info(ctx, "%s: reverted to shadow copy %" PRIu64 ": %" PRIu64 " chunks (%" PRIu64
		 " bytes) written, %" PRIu64 " equal already", vol_path, shadow_id,
		 res->copied_chunks, res->copied_bytes, res->equal_chunks);
	close(vol_fd);
	vol_fd = -1;
	if (opts->delete_after) {
		r = vss_shadow_delete(ctx, shadow_id);
		if (!r)
			res->deleted = true;
		else
			vss_err(ctx, "shadow copy %" PRIu64 ": the volume is reverted, but the "
				"shadow copy could not be deleted: %s", shadow_id, strerror(-r));
	}
out:
	if (vol_fd >= 0)
		close(vol_fd);
	free(chunks);
	json_object_put(sh);
	return r;
}
