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

/*
 * The provider of a new storage entry: the one named, else the best one.
 * Either must be usable here: no quiet step down to another.
 */
static const struct vss_provider *storage_provider(struct vss_ctx *ctx,
						   const struct vss_storage_opts *o, int *err)
{
	const struct vss_provider *p = o->provider ? vss_provider_builtin(o->provider)
						   : vss_provider_best();
	unsigned v[3];

	*err = 0;
	if (!p) {
		vss_err(ctx, "%s: unknown storage provider (dm-vss-cow, dm-snapshot or "
			"dm-vss-clone)", o->provider);
		*err = -EINVAL;
		return NULL;
	}
	if (p->kernel_target && vss_dm_target_version(p->kernel_target, v)) {
		vss_err(ctx, "%s: the kernel target %s is not loaded (modprobe dm-vss%s)",
			o->volume, p->kernel_target,
			o->provider ? "" : ", or name another provider with --provider");
		*err = -ENOPKG;
		return NULL;
	}
	vss_info(ctx, "%s: provider %s", o->volume, p->name);
	return p;
}

/* The catalog's entry for the volume dm over real, with the provider's own fields. */
static json_object *storage_entry(const struct vss_storage_opts *o, const char *provider,
				  const char *dm, const char *real, const char *store,
				  const char *wrapped)
{
	json_object *e = json_object_new_object();
	char vol[160];

	snprintf(vol, sizeof(vol), "/dev/mapper/%s", dm);
	json_object_object_add(e, "volume", json_object_new_string(vol));
	json_object_object_add(e, "name", json_object_new_string(dm));
	json_object_object_add(e, "real", json_object_new_string(real));
	json_object_object_add(e, "store", json_object_new_string(store));
	json_object_object_add(e, "provider", json_object_new_string(provider));
	json_object_object_add(e, "chunk_sectors", json_object_new_int64(o->chunk_sectors));
	json_object_object_add(e, "max_bytes", json_object_new_int64(o->max_bytes));
	json_object_object_add(e, "wrapped", json_object_new_boolean(wrapped[0] != '\0'));
	json_object_object_add(e, "wrapped_dev", json_object_new_string(wrapped));
	if (o->overflow_invalidate)
		json_object_object_add(e, "overflow_invalidate", json_object_new_boolean(true));
	return e;
}

/*
 * The volume's table moves to <name>-real, and the volume is switched to
 * the provider's origin table over it with one suspend/resume.
 */
static int storage_switch(struct vss_ctx *ctx, const struct vss_provider *p, json_object *root,
			  json_object *e)
{
	const char *dm = vss_json_str(e, "name"), *real = vss_json_str(e, "real");
	struct vss_dm_target *old = NULL, t;
	char params[600];
	size_t n = 0;
	int r;

	r = vss_dm_table(dm, false, &old, &n);
	if (r)
		return r;
	if (!n) {
		vss_err(ctx, "/dev/mapper/%s: has no table", dm);
		return -ENODEV;
	}
	r = p->origin_table(root, e, &t, params, sizeof(params));
	if (!r)
		r = vss_dm_create(ctx, real, NULL, old, n, false, true);
	if (r)
		goto out;
	t.length = old[n - 1].start + old[n - 1].length;
	r = vss_dm_switch_table(ctx, dm, &t, 1);
	if (r) {
		vss_dm_resume(ctx, dm);
		vss_dm_remove(ctx, real);
	}
out:
	vss_dm_targets_free(old, n);
	return r;
}

VSS_EXPORT int vss_storage_add(struct vss_ctx *ctx, const struct vss_storage_opts *o)
{
	char dm[128], real[160], wrapped[256] = "", store[256];
	const struct vss_provider *p;
	json_object *root = NULL, *e = NULL;
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
	p = storage_provider(ctx, o, &r);
	if (!p)
		return r;
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
	snprintf(real, sizeof(real), "%s-real", dm);
	e = storage_entry(o, p->name, dm, real, store, wrapped);
	r = p->storage_add ? p->storage_add(ctx, o, dm, store, e) : 0;
	if (!r)
		r = storage_switch(ctx, p, root, e);
	if (r)
		goto fail;
	json_object_array_add(vss_json_array(root, "storage"), e);
	r = vss_catalog_save(ctx, root);
	if (p->storage_added)
		p->storage_added(ctx, e);
	else
		vss_info(ctx, "/dev/mapper/%s: shadow copies enabled (%s, store %s)", dm,
			 p->name, store);
	json_object_put(root);
	return r;
fail:
	json_object_put(e);
	if (wrapped[0])
		vss_dm_remove(ctx, dm);
	json_object_put(root);
	return r;
}

/*
 * A catalog volume whose devices are gone, both /dev/mapper/NAME and its
 * -real (a disk pulled, a table removed by hand): its dm name in dm, or 0.
 */
static bool storage_gone(struct vss_ctx *ctx, const char *volume, char *dm, size_t size)
{
	const char *name = !strncmp(volume, "/dev/mapper/", 12) ? volume + 12 : volume;
	json_object *root, *e;
	bool gone = false;

	if (strchr(name, '/') || vss_catalog_load(ctx, &root))
		return false;
	e = vss_catalog_find_storage(root, name);
	if (e && vss_dm_exists(name) == 0 && vss_json_str(e, "real") &&
	    vss_dm_exists(vss_json_str(e, "real")) == 0) {
		vss_strlcpy(dm, name, size);
		gone = true;
	}
	json_object_put(root);
	return gone;
}

/* How many shadow copies volume vol (/dev/mapper/NAME) has. */
static int volume_copies(struct vss_ctx *ctx, const char *vol, size_t *cnt)
{
	struct vss_shadow_info *sh;
	size_t n, i;
	int r;

	r = vss_shadow_list(ctx, &sh, &n);
	if (r)
		return r;
	for (*cnt = 0, i = 0; i < n; i++)
		*cnt += !strcmp(sh[i].volume, vol);
	free(sh);
	return 0;
}

/* Delete every shadow copy of volume vol; stops at the first failure. */
static int delete_volume_copies(struct vss_ctx *ctx, const char *vol)
{
	struct vss_shadow_info *sh = NULL;
	size_t n = 0, i;
	int r;

	r = vss_shadow_list(ctx, &sh, &n);
	for (i = 0; !r && i < n; i++)
		if (!strcmp(sh[i].volume, vol))
			r = vss_shadow_delete(ctx, sh[i].shadow_id);
	free(sh);
	return r;
}

/* Take the storage entry e out of the catalog root (in memory). */
static void catalog_drop_storage(json_object *root, json_object *e)
{
	json_object *arr = vss_json_array(root, "storage");
	size_t i;

	for (i = 0; e && i < json_object_array_length(arr); i++)
		if (json_object_array_get_idx(arr, i) == e) {
			json_object_array_del_idx(arr, i, 1);
			break;
		}
}

/*
 * Forget a volume whose devices are gone, as vgreduce --removemissing
 * does: its shadow copies (with force) and its entry; its store is not
 * touched (vss-storage add --wipe reuses it).
 */
static int storage_forget(struct vss_ctx *ctx, const char *dm, bool force)
{
	json_object *root;
	char vol[200];
	size_t cnt;
	int r;

	snprintf(vol, sizeof(vol), "/dev/mapper/%s", dm);
	r = volume_copies(ctx, vol, &cnt);
	if (r)
		return r;
	if (!force) {
		vss_err(ctx, "%s: the volume's devices are gone (neither it nor its -real "
			"device exists): --force forgets it%s, without touching its store",
			vol, cnt ? " and its shadow copies" : "");
		return -ENODEV;
	}
	vss_warn(ctx, "%s: the volume's devices are gone: forgetting it and its %zu shadow "
		 "cop%s; its store is left as it is", vol, cnt, cnt == 1 ? "y" : "ies");
	r = delete_volume_copies(ctx, vol);
	if (!r)
		r = vss_catalog_load(ctx, &root);
	if (r)
		return r;
	catalog_drop_storage(root, vss_catalog_find_storage(root, dm));
	r = vss_catalog_save(ctx, root);
	json_object_put(root);
	return r;
}

VSS_EXPORT int vss_storage_remove(struct vss_ctx *ctx, const char *volume, bool force)
{
	struct vss_dm_target *old;
	json_object *root, *e;
	char dm[128], vol[200];
	const char *real;
	size_t n, cnt;
	int r;

	if (storage_gone(ctx, volume, dm, sizeof(dm)))
		return storage_forget(ctx, dm, force);
	r = vss_volume_resolve(ctx, volume, dm, sizeof(dm));
	if (r)
		return r;
	snprintf(vol, sizeof(vol), "/dev/mapper/%s", dm);
	r = volume_copies(ctx, vol, &cnt);
	if (r)
		return r;
	if (cnt && !force) {
		vss_err(ctx, "%s: has %zu shadow copies (delete them, or --force)", vol, cnt);
		return -EBUSY;
	}
	r = delete_volume_copies(ctx, vol);
	if (!r)
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
	if (!r && vss_provider_by_name(vss_json_str(e, "provider"))->storage_removed)
		vss_provider_by_name(vss_json_str(e, "provider"))->storage_removed(ctx, e);
	if (!r && vss_json_bool(e, "wrapped")) {
		int open_count = 0;

		if (!vss_dm_info(dm, NULL, NULL, NULL, &open_count) && open_count == 0)
			vss_dm_remove(ctx, dm);
		else
			vss_warn(ctx, "%s: in use: the dm-linear wrapper stays", vol);
	}
	catalog_drop_storage(root, e);
	if (!r)
		r = vss_catalog_save(ctx, root);
	json_object_put(root);
	return r;
}

VSS_EXPORT int vss_storage_resize(struct vss_ctx *ctx, const char *volume, uint64_t max_bytes)
{
	const struct vss_provider *p;
	json_object *root, *e;
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
	p = vss_provider_by_name(vss_json_str(e, "provider"));
	if (!p->storage_resize) {
		vss_err(ctx, "/dev/mapper/%s: provider %s has no shadow copy area to resize "
			"(--max-size is for dm-snapshot)", dm, vss_json_str(e, "provider"));
		r = -EOPNOTSUPP;
		goto out;
	}
	r = p->storage_resize(ctx, root, e, max_bytes);
out:
	json_object_put(root);
	return r;
}
