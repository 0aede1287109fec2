// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vss_storage_add/remove: put a volume under an origin target without
 * interrupting it.  The volume's table moves to <name>-real; the volume is
 * reloaded with "vss-origin <name>-real <store>" (or "snapshot-origin
 * <name>-real" for dm-snapshot, or "vss-clone <name>-real <dest>
 * <region_sectors>" for dm-vss-clone) and switched with one suspend/resume,
 * the way LVM adds a -real device under a snapshot origin.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "libvsscore-store.h"
#include "vss-internal.h"
#include "vss-ondisk.h"

/* A plain block device, unmounted: a dm-linear device over it. */
static int wrap_device(struct vss_ctx *ctx, const struct vss_storage_opts *o, char *dm,
		       size_t size, char *wrapped, size_t wsize)
{
	char params[300], real[256];
	struct vss_dm_target t = { 0, 0, "linear", params };
	const char *b;
	struct stat st;
	uint64_t bytes = 0;
	char sys[128];
	FILE *f;
	int r;

	if (!realpath(o->volume, real) || stat(real, &st) || !S_ISBLK(st.st_mode)) {
		vss_err(ctx, "%s: not a block device", o->volume);
		return -ENOTBLK;
	}
	snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u/size", major(st.st_rdev),
		 minor(st.st_rdev));
	f = fopen(sys, "re");
	if (!f || fscanf(f, "%llu", (unsigned long long *)&bytes) != 1) {
		if (f)
			fclose(f);
		return -EIO;
	}
	fclose(f);
	if (vss_mountpoint_of_devno(st.st_rdev, sys, sizeof(sys)) == 0 && sys[0]) {
		vss_err(ctx, "%s: mounted at %s: a plain device can be wrapped only while "
			"unmounted (or use an LVM volume)", o->volume, sys);
		return -EBUSY;
	}
	b = strrchr(real, '/') ? strrchr(real, '/') + 1 : real;
	if (o->wrap_name)
		vss_strlcpy(dm, o->wrap_name, size);
	else
		snprintf(dm, size, "%.100s-vss", b);
	t.length = bytes;
	snprintf(params, sizeof(params), "%s 0", real);
	r = vss_dm_create(ctx, dm, NULL, &t, 1, false, true);
	if (!r)
		vss_strlcpy(wrapped, real, wsize);
	return r;
}

VSS_EXPORT int vss_storage_clone_status(struct vss_ctx *ctx, const char *volume,
					struct vss_clone_status *cs)
{
	char dm[128];
	int r;

	memset(cs, 0, sizeof(*cs));
	r = vss_volume_resolve(ctx, volume, dm, sizeof(dm));
	if (r)
		return r;
	r = vss_clone_read_status(dm, cs);
	if (r == -EPROTO)
		vss_err(ctx, "/dev/mapper/%s: cannot parse the vss-clone status", dm);
	return r;
}

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

/* A clone's dest: as large as the volume, and used by nothing else. */
static int clone_check_dest(struct vss_ctx *ctx, const char *dm, const char *dest)
{
	uint64_t need = vss_dm_size(dm) << 9, have = 0;
	int fd, r;

	r = blk_size(dest, &have);
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

VSS_EXPORT int vss_storage_add(struct vss_ctx *ctx, const struct vss_storage_opts *o)
{
	char dm[128], real[160], wrapped[256] = "", params[600], store[256];
	struct vss_dm_target *old = NULL, t = { 0, 0, "", params };
	const char *provider = o->provider;
	json_object *root = NULL, *e;
	uint32_t region = o->region_sectors ? o->region_sectors
					    : VSS_CLONE_DEFAULT_REGION_SECTORS;
	bool clone;
	size_t n = 0;
	unsigned v[3];
	int r;

	if (!o->volume || !o->store)
		return -EINVAL;
	if (!realpath(o->store, store)) {
		r = -errno;
		vss_err(ctx, "%s: cannot find the store: %s", o->store, strerror(-r));
		return r;
	}
	if (!vss_dm_available()) {
		vss_err(ctx, "%s: the kernel has no device-mapper (modprobe dm-mod, then "
			"modprobe dm-vss)", o->volume);
		return -ENOPKG;
	}
	if (!provider)
		provider = vss_dm_target_version("vss-origin", v) ? "dm-snapshot" : "dm-vss-cow";
	if (strcmp(provider, "dm-vss-cow") && strcmp(provider, "dm-snapshot") &&
	    strcmp(provider, "dm-vss-clone")) {
		vss_err(ctx, "%s: unknown storage provider (dm-vss-cow, dm-snapshot or "
			"dm-vss-clone)", provider);
		return -EINVAL;
	}
	clone = !strcmp(provider, "dm-vss-clone");
	if (clone && (region < 8 || region > 2097152 || (region & (region - 1)))) {
		vss_err(ctx, "%u sectors: the clone's region size must be a power of two "
			"from 4 KiB to 1 GiB", region);
		return -EINVAL;
	}
	if (clone && vss_dm_target_version("vss-clone", v)) {
		vss_err(ctx, "%s: the vss-clone kernel target is not loaded (modprobe dm-vss)",
			o->volume);
		return -ENOPKG;
	}
	if (!strcmp(provider, "dm-vss-cow") && vss_dm_target_version("vss-origin", v)) {
		vss_err(ctx, "%s: the vss-origin kernel target is not loaded (modprobe dm-vss)",
			o->volume);
		return -ENOPKG;
	}
	r = vss_volume_resolve(ctx, o->volume, dm, sizeof(dm));
	if (r == -ENOTBLK && o->wrap)
		r = wrap_device(ctx, o, dm, sizeof(dm), wrapped, sizeof(wrapped));
	else if (r == -ENOTBLK)
		vss_err(ctx, "%s: a plain partition cannot change its table while in use: "
			"unmount it and use --wrap to wrap it in a dm-linear device", o->volume);
	if (r)
		return r;
	r = vss_catalog_load(ctx, &root);
	if (r)
		goto fail;
	if (vss_catalog_find_storage(root, dm)) {
		vss_err(ctx, "/dev/mapper/%s: already enabled for shadow copies", dm);
		r = -EEXIST;
		goto fail;
	}
	if (clone)
		r = clone_check_dest(ctx, dm, store);
	else if (!strcmp(provider, "dm-vss-cow"))
		r = cow_check_store(ctx, dm, store, o->wipe);
	if (r)
		goto fail;
	snprintf(real, sizeof(real), "%s-real", dm);
	r = vss_dm_table(dm, false, &old, &n);
	if (r)
		goto fail;
	if (!n) {
		vss_err(ctx, "/dev/mapper/%s: has no table", dm);
		r = -ENODEV;
		goto fail;
	}
	r = vss_dm_create(ctx, real, NULL, old, n, false, true);
	if (r)
		goto fail;
	t.length = old[n - 1].start + old[n - 1].length;
	if (!strcmp(provider, "dm-vss-cow")) {
		vss_strlcpy(t.type, "vss-origin", sizeof(t.type));
		if (o->chunk_sectors)
			snprintf(params, sizeof(params), "/dev/mapper/%s %s 2 chunk_sectors %u",
				 real, store, o->chunk_sectors);
		else
			snprintf(params, sizeof(params), "/dev/mapper/%s %s", real, store);
	} else if (clone) {
		vss_strlcpy(t.type, "vss-clone", sizeof(t.type));
		snprintf(params, sizeof(params), "/dev/mapper/%s %s %u", real, store, region);
	} else {
		vss_strlcpy(t.type, "snapshot-origin", sizeof(t.type));
		snprintf(params, sizeof(params), "/dev/mapper/%s", real);
	}
	r = vss_dm_switch_table(ctx, dm, &t, 1);
	if (r) {
		vss_dm_resume(ctx, dm);
		vss_dm_remove(ctx, real);
		goto fail;
	}
	e = json_object_new_object();
	snprintf(params, sizeof(params), "/dev/mapper/%s", dm);
	json_object_object_add(e, "volume", json_object_new_string(params));
	json_object_object_add(e, "name", json_object_new_string(dm));
	json_object_object_add(e, "real", json_object_new_string(real));
	json_object_object_add(e, "store", json_object_new_string(store));
	json_object_object_add(e, "provider", json_object_new_string(provider));
	json_object_object_add(e, "chunk_sectors", json_object_new_int64(o->chunk_sectors));
	json_object_object_add(e, "max_bytes", json_object_new_int64(o->max_bytes));
	json_object_object_add(e, "wrapped", json_object_new_boolean(wrapped[0] != '\0'));
	json_object_object_add(e, "wrapped_dev", json_object_new_string(wrapped));
	if (clone)
		json_object_object_add(e, "region_sectors", json_object_new_int64(region));
	json_object_array_add(vss_json_array(root, "storage"), e);
	r = vss_catalog_save(ctx, root);
	if (clone)
		vss_info(ctx, "/dev/mapper/%s: split-mirror clone enabled (dest %s, %u KiB "
			 "regions): dest is being copied in the background (vss-storage list)",
			 dm, store, region / 2);
	else
		vss_info(ctx, "/dev/mapper/%s: shadow copies enabled (%s, store %s)", dm,
			 provider, store);
	vss_dm_targets_free(old, n);
	json_object_put(root);
	return r;
fail:
	if (wrapped[0])
		vss_dm_remove(ctx, dm);
	vss_dm_targets_free(old, n);
	json_object_put(root);
	return r;
}

VSS_EXPORT int vss_storage_remove(struct vss_ctx *ctx, const char *volume, bool force)
{
	struct vss_shadow_info *sh;
	struct vss_dm_target *old;
	json_object *root, *arr, *e;
	char dm[128], vol[200];
	const char *real;
	size_t n, i, cnt = 0;
	int r;

	r = vss_volume_resolve(ctx, volume, dm, sizeof(dm));
	if (r)
		return r;
	snprintf(vol, sizeof(vol), "/dev/mapper/%s", dm);
	r = vss_shadow_list(ctx, &sh, &n);
	if (r)
		return r;
	for (i = 0; i < n; i++)
		if (!strcmp(sh[i].volume, vol))
			cnt++;
	if (cnt && !force) {
		free(sh);
		vss_err(ctx, "%s: has %zu shadow copies (delete them, or --force)", vol, cnt);
		return -EBUSY;
	}
	for (i = 0; i < n; i++)
		if (!strcmp(sh[i].volume, vol)) {
			r = vss_shadow_delete(ctx, sh[i].shadow_id);
			if (r) {
				free(sh);
				return r;
			}
		}
	free(sh);
	r = vss_catalog_load(ctx, &root);
	if (r)
		return r;
	e = vss_catalog_find_storage(root, dm);
	if (!e) {
		vss_err(ctx, "%s: not enabled for shadow copies", vol);
		json_object_put(root);
		return -ENOENT;
	}
	real = vss_json_str(e, "real");
	r = vss_dm_table(real, false, &old, &n);
	if (!r) {
		r = vss_dm_switch_table(ctx, dm, old, n);
		vss_dm_targets_free(old, n);
	}
	if (r) {
		vss_dm_resume(ctx, dm);
		json_object_put(root);
		return r;
	}
	r = vss_dm_remove(ctx, real);
	/* no snapshot of it is kept, and the volume now changes without copies */
	if (!r && !strcmp(vss_json_str(e, "provider") ? vss_json_str(e, "provider") : "",
			  "dm-vss-cow") && vss_json_str(e, "store"))
		store_wipe(ctx, vss_json_str(e, "store"));
	if (!r && vss_json_bool(e, "wrapped")) {
		int open_count = 0;

		if (!vss_dm_info(dm, NULL, NULL, NULL, &open_count) && open_count == 0)
			vss_dm_remove(ctx, dm);
		else
			vss_warn(ctx, "%s: in use: the dm-linear wrapper stays", vol);
	}
	arr = vss_json_array(root, "storage");
	for (i = 0; i < json_object_array_length(arr); i++)
		if (json_object_array_get_idx(arr, i) == e) {
			json_object_array_del_idx(arr, i, 1);
			break;
		}
	if (!r)
		r = vss_catalog_save(ctx, root);
	json_object_put(root);
	return r;
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

VSS_EXPORT int vss_storage_resize(struct vss_ctx *ctx, const char *volume, uint64_t max_bytes)
{
	json_object *root, *e;
	const char *provider, *store;
	uint64_t store_bytes = 0;
	char dm[128];
	int r;

	r = vss_volume_resolve(ctx, volume, dm, sizeof(dm));
	if (r)
		return r;
	r = vss_catalog_load(ctx, &root);
	if (r)
		return r;
	e = vss_catalog_find_storage(root, dm);
	if (!e) {
		vss_err(ctx, "/dev/mapper/%s: not enabled for shadow copies (vss-storage add)", dm);
		r = -ENOENT;
		goto out;
	}
	provider = vss_json_str(e, "provider") ? vss_json_str(e, "provider") : "";
	store = vss_json_str(e, "store") ? vss_json_str(e, "store") : "";
	if (!strcmp(provider, "dm-vss-cow")) {
		r = cow_grow(ctx, dm, store, max_bytes);
		goto out;
	}
	if (strcmp(provider, "dm-snapshot")) {
		vss_err(ctx, "/dev/mapper/%s: provider %s has no shadow copy area to resize "
			"(--max-size is for dm-snapshot)", dm, provider);
		r = -EOPNOTSUPP;
		goto out;
	}
	if (!max_bytes) {
		vss_err(ctx, "/dev/mapper/%s: resize of a dm-snapshot area needs --max-size SIZE", dm);
		r = -EINVAL;
		goto out;
	}
	if (max_bytes < (1 << 20)) {
		vss_err(ctx, "/dev/mapper/%s: %llu bytes: a shadow copy's area needs at least 1 MiB",
			dm, (unsigned long long)max_bytes);
		r = -EINVAL;
		goto out;
	}
	r = blk_size(store, &store_bytes);
	if (r) {
		vss_err(ctx, "%s: cannot read the store's size: %s", store, strerror(-r));
		goto out;
	}
	if (max_bytes > store_bytes) {
		vss_err(ctx, "/dev/mapper/%s: %llu bytes: larger than the store %s (%llu bytes)",
			dm, (unsigned long long)max_bytes, store, (unsigned long long)store_bytes);
		r = -ENOSPC;
		goto out;
	}
	json_object_object_add(e, "max_bytes", json_object_new_int64(max_bytes & ~4095ULL));
	r = vss_catalog_save(ctx, root);
	if (!r)
		vss_info(ctx, "/dev/mapper/%s: shadow copies made from now on get %llu bytes of "
			 "%s each (%llu at a time); existing ones keep their area", dm,
			 (unsigned long long)(max_bytes & ~4095ULL), store,
			 (unsigned long long)(store_bytes / (max_bytes & ~4095ULL)));
out:
	json_object_put(root);
	return r;
}
