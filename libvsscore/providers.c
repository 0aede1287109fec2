// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Providers: what makes the point-in-time image of one volume, each behind
 * struct vss_provider in a file of its own:
 *
 *   dm-vss-cow   provider-cow.c       our vss-origin/vss-snap targets
 *   dm-snapshot  provider-snapshot.c  the stock kernel target
 *   dm-vss-clone provider-clone.c     our vss-clone split mirror
 *   external     provider-ext.c       an executable in providers.d/
 *
 * This file chooses one and lists them.  Selection: an external provider
 * that claims the volume, else the provider the volume was enabled with
 * (vss-storage add), unless forced.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vss-internal.h"

/* The builtin providers, best first. */
static const struct vss_provider *const builtins[] = {
	&vss_provider_cow, &vss_provider_clone, &vss_provider_snapshot,
};
#define N_BUILTINS (sizeof(builtins) / sizeof(builtins[0]))

const struct vss_provider *vss_provider_builtin(const char *name)
{
	size_t i;

	for (i = 0; name && i < N_BUILTINS; i++)
		if (!strcmp(builtins[i]->name, name))
			return builtins[i];
	return NULL;
}

const struct vss_provider *vss_provider_best(void)
{
	return builtins[0];
}

/* A builtin provider by name; anything else is an external one. */
const struct vss_provider *vss_provider_by_name(const char *name)
{
	const struct vss_provider *p = vss_provider_builtin(name);

	return p ? p : &vss_provider_ext;
}

bool vss_provider_can(const char *name, unsigned int caps)
{
	return (vss_provider_by_name(name)->caps & caps) == caps;
}

/* The executables of providers.d/ (sorted). */
static int ext_list(struct vss_ctx *ctx, char paths[][256], size_t max)
{
	char dir[300];
	struct dirent **de;
	int n, i;
	size_t cnt = 0;

	snprintf(dir, sizeof(dir), "%s/providers.d", ctx->conf_dir);
	n = scandir(dir, &de, NULL, alphasort);
	if (n < 0)
		return 0;
	for (i = 0; i < n; i++) {
		char p[600];

		if (de[i]->d_name[0] != '.' && cnt < max) {
			snprintf(p, sizeof(p), "%s/%s", dir, de[i]->d_name);
			if (!vss_exec_checked(ctx, p))
				vss_strlcpy(paths[cnt++], p, 256);
		}
		free(de[i]);
	}
	free(de);
	return (int)cnt;
}

static const char *base(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

int vss_provider_select(struct vss_ctx *ctx, json_object *root, const char *dm_name,
			const char *forced, struct vss_pshadow *s)
{
	json_object *st = vss_catalog_find_storage(root, dm_name);
	char ext[16][256];
	int n, i;

	vss_strlcpy(s->dm_name, dm_name, sizeof(s->dm_name));
	n = ext_list(ctx, ext, 16);
	for (i = 0; i < n; i++) {
		json_object *ans = NULL, *req;
		bool claims = false;

		if (forced && strcmp(forced, base(ext[i])))
			continue;
		vss_strlcpy(s->ext_path, ext[i], sizeof(s->ext_path));
		req = vss_ext_request("probe", s);
		if (!vss_ext_call(ctx, ext[i], req, 5000, &ans))
			claims = vss_json_bool(ans, "claims");
		json_object_put(req);
		json_object_put(ans);
		if (claims || forced) {
			if (!claims) {
				vss_err(ctx, "%s: provider %s does not serve this volume", dm_name, forced);
				return -ENXIO;
			}
			vss_strlcpy(s->provider, base(ext[i]), sizeof(s->provider));
			s->ops = vss_provider_by_name("external");
			return 0;
		}
	}
	s->ext_path[0] = '\0';
	if (!st) {
		if (forced && !vss_provider_builtin(forced)) {
			vss_err(ctx, "%s: no provider named %s", dm_name, forced);
			return -ENOENT;
		}
		vss_err(ctx, "%s: not enabled for shadow copies (see vss-storage add)", dm_name);
		return -ENXIO;
	}
	vss_strlcpy(s->provider, vss_json_str(st, "provider"), sizeof(s->provider));
	if (forced && strcmp(forced, s->provider)) {
		vss_err(ctx, "%s: enabled for %s, not %s (vss-storage remove, then add "
			"--provider %s)", dm_name, s->provider, forced, forced);
		return -ENXIO;
	}
	vss_strlcpy(s->real, vss_json_str(st, "real"), sizeof(s->real));
	vss_strlcpy(s->store, vss_json_str(st, "store"), sizeof(s->store));
	s->ops = vss_provider_by_name(s->provider);
	if (s->ops->kernel_target) {
		unsigned v[3];

		if (vss_dm_target_version(s->ops->kernel_target, v)) {
			vss_err(ctx, "%s: the %s kernel target is not loaded (modprobe dm-vss)",
				dm_name, s->ops->kernel_target);
			return -ENOPKG;
		}
	}
	return 0;
}

void vss_pshadow_from_json(json_object *sh, struct vss_pshadow *s)
{
	memset(s, 0, sizeof(*s));
	vss_strlcpy(s->dm_name, vss_json_str(sh, "name"), sizeof(s->dm_name));
	vss_strlcpy(s->real, vss_json_str(sh, "real"), sizeof(s->real));
	vss_strlcpy(s->store, vss_json_str(sh, "store"), sizeof(s->store));
	vss_strlcpy(s->provider, vss_json_str(sh, "provider"), sizeof(s->provider));
	vss_strlcpy(s->device, vss_json_str(sh, "device"), sizeof(s->device));
	vss_strlcpy(s->snap_dev, vss_json_str(sh, "snap_dev"), sizeof(s->snap_dev));
	vss_strlcpy(s->cow_dev, vss_json_str(sh, "cow_dev"), sizeof(s->cow_dev));
	vss_strlcpy(s->ext_path, vss_json_str(sh, "ext_path"), sizeof(s->ext_path));
	s->shadow_id = vss_json_int(sh, "shadow_id");
	s->snap_id = (uint32_t)vss_json_int(sh, "snap_id");
	s->cow_offset = vss_json_int(sh, "cow_offset");
	s->cow_len = vss_json_int(sh, "cow_len");
	s->ops = vss_provider_by_name(s->provider);
}

int vss_shadow_remove_json(struct vss_ctx *ctx, json_object *sh)
{
	struct vss_pshadow s;

	vss_pshadow_from_json(sh, &s);
	return s.ops->remove(ctx, &s);
}

VSS_EXPORT int vss_providers_list(struct vss_ctx *ctx, struct vss_provider_info **out,
				  size_t *count)
{
	char ext[16][256];
	struct vss_provider_info *p;
	unsigned v[3];
	int n, i;

	n = ext_list(ctx, ext, 16);
	p = calloc(3 + n, sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		json_object *req = vss_ext_request("info", NULL), *ans = NULL;

		vss_strlcpy(p[i].name, base(ext[i]), sizeof(p[i].name));
		vss_strlcpy(p[i].kind, "external", sizeof(p[i].kind));
		vss_strlcpy(p[i].path, ext[i], sizeof(p[i].path));
		p[i].available = !vss_ext_call(ctx, ext[i], req, 5000, &ans);
		vss_strlcpy(p[i].detail, p[i].available ?
			    (vss_json_str(ans, "description") ? vss_json_str(ans, "description") :
			     "") : "does not answer info", sizeof(p[i].detail));
		json_object_put(req);
		json_object_put(ans);
	}
	vss_strlcpy(p[n].name, "dm-vss-cow", sizeof(p[n].name));
	vss_strlcpy(p[n + 1].name, "dm-vss-clone", sizeof(p[n + 1].name));
	vss_strlcpy(p[n + 2].name, "dm-snapshot", sizeof(p[n + 2].name));
	for (i = n; i < n + 3; i++) {
		const char *target = i == n ? "vss-origin" : i == n + 1 ? "vss-clone" : "snapshot";

		vss_strlcpy(p[i].kind, "builtin", sizeof(p[i].kind));
		if (!vss_dm_target_version(target, v)) {
			p[i].available = true;
			snprintf(p[i].detail, sizeof(p[i].detail), "target %s v%u.%u.%u",
				 target, v[0], v[1], v[2]);
		} else {
			snprintf(p[i].detail, sizeof(p[i].detail), "target %s not loaded", target);
		}
	}
	*out = p;
	*count = n + 3;
	return 0;
}

VSS_EXPORT int vss_provider_for_volume(struct vss_ctx *ctx, const char *volume, char *name,
				       size_t size)
{
	struct vss_pshadow s;
	json_object *root;
	char dm[128];
	int r;

	r = vss_volume_resolve(ctx, volume, dm, sizeof(dm));
	if (r)
		return r;
	r = vss_catalog_load(ctx, &root);
	if (r)
		return r;
	memset(&s, 0, sizeof(s));
	r = vss_provider_select(ctx, root, dm, NULL, &s);
	json_object_put(root);
	if (!r)
		vss_strlcpy(name, s.provider, size);
	return r;
}
