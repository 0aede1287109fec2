// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vss_storage_add/remove: put a volume under an origin target without
 * interrupting it.  The volume's table moves to <name>-real; the volume is
 * reloaded with "vss-origin <name>-real <store>" (or "snapshot-origin
 * <name>-real" for dm-snapshot) and switched with one suspend/resume, the
 * way LVM adds a -real device under a snapshot origin.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "vss-internal.h"

static int switch_table(struct vss_ctx *ctx, const char *name, const struct vss_dm_target *t,
			size_t n)
{
	int r = vss_dm_load(ctx, name, t, n, false);

	if (r)
		return r;
	/* An ordinary suspend: the kernel freezes a mounted filesystem itself. */
	r = vss_dm_suspend(ctx, name, false);
	if (r)
		return r;
	return vss_dm_resume(ctx, name);
}

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

VSS_EXPORT int vss_storage_add(struct vss_ctx *ctx, const struct vss_storage_opts *o)
{
	char dm[128], real[160], wrapped[256] = "", params[600], store[256];
	struct vss_dm_target *old = NULL, t = { 0, 0, "", params };
	const char *provider = o->provider;
	json_object *root = NULL, *e;
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
	if (!provider)
		provider = vss_dm_target_version("vss-origin", v) ? "dm-snapshot" : "dm-vss-cow";
	if (strcmp(provider, "dm-vss-cow") && strcmp(provider, "dm-snapshot")) {
		vss_err(ctx, "%s: unknown storage provider (dm-vss-cow or dm-snapshot)", provider);
		return -EINVAL;
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
	} else {
		vss_strlcpy(t.type, "snapshot-origin", sizeof(t.type));
		snprintf(params, sizeof(params), "/dev/mapper/%s", real);
	}
	r = switch_table(ctx, dm, &t, 1);
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
	json_object_array_add(vss_json_array(root, "storage"), e);
	r = vss_catalog_save(ctx, root);
	vss_info(ctx, "/dev/mapper/%s: shadow copies enabled (%s, store %s)", dm, provider, store);
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
		r = switch_table(ctx, dm, old, n);
		vss_dm_targets_free(old, n);
	}
	if (r) {
		vss_dm_resume(ctx, dm);
		json_object_put(root);
		return r;
	}
	r = vss_dm_remove(ctx, real);
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
