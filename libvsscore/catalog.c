// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The catalog: <state dir>/catalog.json, one JSON document holding the
 * volumes enabled for shadow copies ("storage"), the sets and their shadow
 * copies ("sets"), the writers' last state ("writers") and the id counters.
 * Written whole and atomically (write, fsync, rename, fsync of the
 * directory) under the coordinator lock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vss-internal.h"

#define CATALOG_VERSION 1

static void catalog_path(struct vss_ctx *ctx, char *buf, size_t size)
{
	snprintf(buf, size, "%s/catalog.json", ctx->state_dir);
}

static json_object *catalog_empty(void)
{
	json_object *root = json_object_new_object();

	json_object_object_add(root, "version", json_object_new_int(CATALOG_VERSION));
	json_object_object_add(root, "next_set_id", json_object_new_int64(1));
	json_object_object_add(root, "next_shadow_id", json_object_new_int64(1));
	json_object_object_add(root, "storage", json_object_new_array());
	json_object_object_add(root, "sets", json_object_new_array());
	json_object_object_add(root, "writers", json_object_new_array());
	return root;
}

int vss_catalog_load(struct vss_ctx *ctx, json_object **root)
{
	char path[300];
	json_object *r;
	struct stat st;

	catalog_path(ctx, path, sizeof(path));
	if (stat(path, &st)) {
		if (errno != ENOENT) {
			int err = -errno;

			vss_err(ctx, "%s: cannot read the catalog: %s", path, strerror(-err));
			return err;
		}
		*root = catalog_empty();
		return *root ? 0 : -ENOMEM;
	}
	/* a catalog the caller may not read is denied, not damaged */
	if (access(path, R_OK)) {
		int err = -errno;

		vss_err(ctx, "%s: cannot read the catalog: %s", path, strerror(-err));
		return err;
	}
	r = json_object_from_file(path);
	if (!r || !json_object_is_type(r, json_type_object)) {
		vss_err(ctx, "%s: cannot parse the catalog: %s", path,
			json_util_get_last_err() ? json_util_get_last_err() : "not a JSON object");
		json_object_put(r);
		return -EUCLEAN;
	}
	if (vss_json_int(r, "version") > CATALOG_VERSION) {
		vss_err(ctx, "%s: catalog version %lld is newer than this library knows",
			path, (long long)vss_json_int(r, "version"));
		json_object_put(r);
		return -EPROTO;
	}
	/* Fill in what an older or hand-made catalog lacks. */
	if (!vss_json_array(r, "storage"))
		json_object_object_add(r, "storage", json_object_new_array());
	if (!vss_json_array(r, "sets"))
		json_object_object_add(r, "sets", json_object_new_array());
	if (!vss_json_array(r, "writers"))
		json_object_object_add(r, "writers", json_object_new_array());
	*root = r;
	return 0;
}

int vss_atomic_write(const char *path, const char *data, size_t len)
{
	char tmp[512], dir[512];
	char *slash;
	int fd, err = 0;
	size_t off = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		off += n;
	}
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err) {
		unlink(tmp);
		return err;
	}
	vss_strlcpy(dir, path, sizeof(dir));
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		fd = open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			fsync(fd);
			close(fd);
		}
	}
	return 0;
}

int vss_catalog_save(struct vss_ctx *ctx, json_object *root)
{
	char path[300];
	const char *text;
	int r;

	r = vss_mkdir_p(ctx->state_dir, 0700);
	if (r) {
		vss_err(ctx, "%s: cannot create the state directory: %s", ctx->state_dir,
			strerror(-r));
		return r;
	}
	catalog_path(ctx, path, sizeof(path));
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text)
		return -ENOMEM;
	r = vss_atomic_write(path, text, strlen(text));
	if (r)
		vss_err(ctx, "%s: cannot write the catalog: %s", path, strerror(-r));
	return r;
}

json_object *vss_json_array(json_object *obj, const char *key)
{
	json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_array))
		return NULL;
	return v;
}

const char *vss_json_str(json_object *obj, const char *key)
{
	json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int64_t vss_json_int(json_object *obj, const char *key)
{
	json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v))
		return 0;
	return json_object_get_int64(v);
}

bool vss_json_bool(json_object *obj, const char *key)
{
	json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v))
		return false;
	return json_object_get_boolean(v);
}

uint64_t vss_catalog_next_id(json_object *root, const char *key)
{
	uint64_t id = vss_json_int(root, key);

	if (!id)
		id = 1;
	json_object_object_add(root, key, json_object_new_int64(id + 1));
	return id;
}

/*
 * The kernel's snap id of a shadow copy is its shadow id, which the targets
 * take as a decimal below 2^32 (doc/dm-vss.rst): an id past that range is
 * refused here rather than wrapped onto another copy's snapshot.
 */
int vss_snap_id_of(struct vss_ctx *ctx, uint64_t shadow_id, uint32_t *snap_id)
{
	if (shadow_id > UINT32_MAX) {
		vss_err(ctx, "shadow copy %llu: the id is past the kernel's snap ids (0..%u)",
			(unsigned long long)shadow_id, UINT32_MAX);
		return -ERANGE;
	}
	*snap_id = (uint32_t)shadow_id;
	return 0;
}

json_object *vss_catalog_find_storage(json_object *root, const char *dm_name)
{
	json_object *arr = vss_json_array(root, "storage");
	size_t i;

	for (i = 0; arr && i < json_object_array_length(arr); i++) {
		json_object *s = json_object_array_get_idx(arr, i);
		const char *name = vss_json_str(s, "name");

		if (name && !strcmp(name, dm_name))
			return s;
	}
	return NULL;
}

json_object *vss_catalog_find_set(json_object *root, uint64_t set_id)
{
	json_object *arr = vss_json_array(root, "sets");
	size_t i;

	for (i = 0; arr && i < json_object_array_length(arr); i++) {
		json_object *s = json_object_array_get_idx(arr, i);

		if ((uint64_t)vss_json_int(s, "set_id") == set_id)
			return s;
	}
	return NULL;
}

/* The shadow copy at (set_idx, shadow_idx), or the next one after it. */
static json_object *shadow_iter_seek(struct vss_shadow_iter *it)
{
	for (; it->sets && it->set_idx < json_object_array_length(it->sets);
	     it->set_idx++, it->shadow_idx = 0) {
		json_object *shs;

		it->set = json_object_array_get_idx(it->sets, it->set_idx);
		shs = vss_json_array(it->set, "shadows");
		if (shs && it->shadow_idx < json_object_array_length(shs))
			return json_object_array_get_idx(shs, it->shadow_idx);
	}
	it->set = NULL;
	return NULL;
}

json_object *vss_shadow_iter_first(struct vss_shadow_iter *it, json_object *root)
{
	it->sets = vss_json_array(root, "sets");
	it->set = NULL;
	it->set_idx = 0;
	it->shadow_idx = 0;
	return shadow_iter_seek(it);
}

json_object *vss_shadow_iter_next(struct vss_shadow_iter *it)
{
	it->shadow_idx++;
	return shadow_iter_seek(it);
}

json_object *vss_catalog_find_shadow(json_object *root, uint64_t shadow_id, json_object **set)
{
	struct vss_shadow_iter it;
	json_object *sh;

	vss_for_each_shadow(sh, &it, root) {
		if ((uint64_t)vss_json_int(sh, "shadow_id") == shadow_id) {
			if (set)
				*set = it.set;
			return sh;
		}
	}
	return NULL;
}

void vss_catalog_shadow_to_info(json_object *set, json_object *sh,
				struct vss_shadow_info *info)
{
	memset(info, 0, sizeof(*info));
	info->shadow_id = vss_json_int(sh, "shadow_id");
	info->set_id = vss_json_int(set, "set_id");
	vss_strlcpy(info->volume, vss_json_str(sh, "volume"), sizeof(info->volume));
	vss_strlcpy(info->device, vss_json_str(sh, "device"), sizeof(info->device));
	vss_strlcpy(info->provider, vss_json_str(sh, "provider"), sizeof(info->provider));
	vss_strlcpy(info->store, vss_json_str(sh, "store"), sizeof(info->store));
	vss_strlcpy(info->state, vss_json_str(sh, "state"), sizeof(info->state));
	vss_strlcpy(info->tag, vss_json_str(set, "tag"), sizeof(info->tag));
	vss_strlcpy(info->exposed, vss_json_str(sh, "exposed"), sizeof(info->exposed));
	info->created = vss_parse_iso8601(vss_json_str(set, "created"));
	info->snap_id = (uint32_t)vss_json_int(sh, "snap_id");
}

VSS_EXPORT int vss_shadow_list(struct vss_ctx *ctx, struct vss_shadow_info **shadows,
			       size_t *count)
{
	json_object *root, *sh;
	struct vss_shadow_iter it;
	struct vss_shadow_info *out = NULL;
	size_t n = 0;
	int r;

	*shadows = NULL;
	*count = 0;
	r = vss_catalog_load(ctx, &root);
	if (r)
		return r;
	vss_for_each_shadow(sh, &it, root) {
		struct vss_shadow_info *tmp = realloc(out, (n + 1) * sizeof(*out));

		if (!tmp) {
			free(out);
			json_object_put(root);
			return -ENOMEM;
		}
		out = tmp;
		vss_catalog_shadow_to_info(it.set, sh, &out[n++]);
	}
	json_object_put(root);
	*shadows = out;
	*count = n;
	return 0;
}

VSS_EXPORT int vss_storage_list(struct vss_ctx *ctx, struct vss_storage_info **items,
				size_t *count)
{
	json_object *root, *arr;
	struct vss_storage_info *out = NULL;
	size_t n, i;
	int r;

	*items = NULL;
	*count = 0;
	r = vss_catalog_load(ctx, &root);
	if (r)
		return r;
	arr = vss_json_array(root, "storage");
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

		vss_strlcpy(out[i].volume, vss_json_str(s, "volume"), sizeof(out[i].volume));
		vss_strlcpy(out[i].name, vss_json_str(s, "name"), sizeof(out[i].name));
		vss_strlcpy(out[i].real, vss_json_str(s, "real"), sizeof(out[i].real));
		vss_strlcpy(out[i].store, vss_json_str(s, "store"), sizeof(out[i].store));
		vss_strlcpy(out[i].provider, vss_json_str(s, "provider"), sizeof(out[i].provider));
		out[i].chunk_sectors = vss_json_int(s, "chunk_sectors");
		out[i].max_bytes = vss_json_int(s, "max_bytes");
		out[i].wrapped = vss_json_bool(s, "wrapped");
		vss_strlcpy(out[i].wrapped_dev, vss_json_str(s, "wrapped_dev"),
			    sizeof(out[i].wrapped_dev));
		out[i].region_sectors = vss_json_int(s, "region_sectors");
	}
	json_object_put(root);
	*items = out;
	*count = n;
	return 0;
}
