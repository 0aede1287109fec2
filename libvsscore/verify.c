// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Verifying a set: each writer recorded in the set runs the application's
 * own check (a database started on the copy, its checker run) on writable
 * views of the set's shadow copies, never on the live files.
 *
 * Every copy of the set gets a view under <run dir>/verify-<set>/<shadow>.
 * A component may span volumes through symlinks that name live paths (a
 * PostgreSQL pg_wal or tablespace link to another volume): inside the
 * views such a link would lead back to the live files, so each link found
 * at a component file, or up to two levels under a component directory,
 * that leads into a live mount of the set is pointed at the same place in
 * that mount's view.  The writers are then started afresh (the set's own
 * writers are long gone) and sent "verify" with the map of live mounts to
 * views; the views are removed whatever happens.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vss-internal.h"

/* A database's recovery and checker take their time. */
#define VERIFY_TIMEOUT_MS 600000
/* How deep under a component directory links are looked for. */
#define LINK_DEPTH 2

struct view_map {
	char live[PATH_MAX];		/* the volume's mount point at the set's instant */
	char view[PATH_MAX];		/* its view's mount point */
	uint64_t shadow_id;
	bool exposed;			/* the view is mounted: remove it at the end */
};

struct verify {
	struct vss_ctx *ctx;
	char dir[PATH_MAX - 64];	/* <run dir>/verify-<set> */
	struct view_map *maps;
	size_t nmaps;
	struct vss_verify_result *res;
	size_t nres;
	const char *writer;		/* the writer being asked */
	char last_error[512];		/* the last error the library logged */
	vss_log_fn log_fn;		/* the caller's logging, which we pass through */
	void *log_arg;
};

/* The library's error lines, kept so that a result can say why a writer failed. */
static void verify_log(int level, const char *msg, void *arg)
{
	struct verify *v = arg;

	if (level >= VSS_LOG_ERROR)
		vss_strlcpy(v->last_error, msg, sizeof(v->last_error));
	if (v->log_fn)
		v->log_fn(level, msg, v->log_arg);
}

/* The map whose live mount holds path (the longest), and what follows it in *rest. */
static const struct view_map *map_of(const struct verify *v, const char *path, const char **rest)
{
	const struct view_map *best = NULL;
	size_t i, l, bl = 0;

	for (i = 0; i < v->nmaps; i++) {
		const char *m = v->maps[i].live;

		l = strlen(m);
		if (!l)
			continue;
		if (!strcmp(m, "/"))
			l = 0;
		else if (strncmp(path, m, l) || (path[l] && path[l] != '/'))
			continue;
		if (!best || l > bl) {
			best = &v->maps[i];
			bl = l;
		}
	}
	if (best && rest)
		*rest = path + bl;
	return best;
}

/* "/a/b/../c/./d" -> "/a/c/d", lexically (the live paths are not looked at). */
static void normalize(char *path)
{
	char out[PATH_MAX] = "", *save = NULL, *part;
	char tmp[PATH_MAX];
	size_t len = 0;

	vss_strlcpy(tmp, path, sizeof(tmp));
	for (part = strtok_r(tmp, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
		if (!strcmp(part, "."))
			continue;
		if (!strcmp(part, "..")) {
			char *slash = strrchr(out, '/');

			if (slash)
				*slash = '\0';
			len = strlen(out);
			continue;
		}
		if (len + strlen(part) + 2 >= sizeof(out))
			break;
		out[len++] = '/';
		strcpy(out + len, part);
		len += strlen(part);
	}
	if (!out[0])
		strcpy(out, "/");
	strcpy(path, out);
}

/*
 * The link at vpath in a view (at live path lpath on the live system):
 * pointed at the matching view when it leads into a live mount of the set
 * (other than by a relative path inside its own volume), or at a path
 * that does not exist when it leads off the set's volumes.
 */
static void repoint(struct verify *v, const char *vpath, const char *lpath)
{
	char target[PATH_MAX], tlive[PATH_MAX * 2], fresh[PATH_MAX * 4];
	const struct view_map *m, *own;
	const char *rest = "", *orest;
	struct stat st;
	ssize_t n;
	size_t l;

	if (lstat(vpath, &st) || !S_ISLNK(st.st_mode))
		return;
	n = readlink(vpath, target, sizeof(target) - 1);
	if (n <= 0)
		return;
	target[n] = '\0';
	l = strlen(v->dir);
	if (!strncmp(target, v->dir, l) && target[l] == '/')
		return;		/* pointed at a view already (met twice) */
	if (target[0] == '/') {
		vss_strlcpy(tlive, target, sizeof(tlive));
	} else {
		const char *slash = strrchr(lpath, '/');

		snprintf(tlive, sizeof(tlive), "%.*s/%s", slash ? (int)(slash - lpath) : 0, lpath,
			 target);
	}
	normalize(tlive);
	m = map_of(v, tlive, &rest);
	own = map_of(v, lpath, &orest);
	if (m && target[0] != '/' && m == own)
		return;		/* relative, inside its own volume: it resolves in the view */
	if (m) {
		snprintf(fresh, sizeof(fresh), "%s%s", m->view, rest);
	} else {
		vss_warn(v->ctx, "%s: a link to %s, off the set's volumes: left dangling in the "
			 "view so that nothing reaches the live files", lpath, tlive);
		snprintf(fresh, sizeof(fresh), "%s/off-the-set%s", v->dir, tlive);
	}
	if (!strcmp(fresh, target))
		return;
	if (unlink(vpath) || symlink(fresh, vpath)) {
		vss_warn(v->ctx, "%s: cannot point the link at %s in the view: %s", vpath, fresh,
			 strerror(errno));
		return;
	}
	vss_dbg(v->ctx, "%s: link %s -> %s in the view", lpath, target, fresh);
}

/* The links under a component directory, depth levels down. */
static void repoint_under(struct verify *v, const char *vdir, const char *ldir, int depth)
{
	struct dirent *de;
	DIR *d;

	if (depth <= 0)
		return;
	d = opendir(vdir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		char vp[PATH_MAX], lp[PATH_MAX];
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((size_t)snprintf(vp, sizeof(vp), "%s/%s", vdir, de->d_name) >= sizeof(vp) ||
		    (size_t)snprintf(lp, sizeof(lp), "%s/%s", ldir, de->d_name) >= sizeof(lp))
			continue;
		if (lstat(vp, &st))
			continue;
		if (S_ISLNK(st.st_mode))
			repoint(v, vp, lp);
		else if (S_ISDIR(st.st_mode))
			repoint_under(v, vp, lp, depth - 1);
	}
	closedir(d);
}

/* Every component file of every writer recorded in the set, and what lies under. */
static void repoint_links(struct verify *v, json_object *writers)
{
	size_t i, j, k;

	for (i = 0; i < json_object_array_length(writers); i++) {
		json_object *md = NULL, *comps;

		json_object_object_get_ex(json_object_array_get_idx(writers, i), "metadata", &md);
		comps = vss_json_array(md, "components");
		for (j = 0; comps && j < json_object_array_length(comps); j++) {
			json_object *files = vss_json_array(json_object_array_get_idx(comps, j),
							    "files");

			for (k = 0; files && k < json_object_array_length(files); k++) {
				const char *f = json_object_get_string(
					json_object_array_get_idx(files, k));
				const struct view_map *m;
				const char *rest;
				char vp[PATH_MAX * 2], lp[PATH_MAX];
				struct stat st;

				if (!f || f[0] != '/')
					continue;
				vss_strlcpy(lp, f, sizeof(lp));
				normalize(lp);
				m = map_of(v, lp, &rest);
				if (!m)
					continue;
				snprintf(vp, sizeof(vp), "%s%s", m->view, rest);
				repoint(v, vp, lp);
				if (stat(vp, &st) == 0 && S_ISDIR(st.st_mode))
					repoint_under(v, vp, lp, LINK_DEPTH);
			}
		}
	}
}

static struct vss_verify_result *result_add(struct verify *v, const char *writer,
					    const char *component, const char *message)
{
	struct vss_verify_result *tmp = realloc(v->res, (v->nres + 1) * sizeof(*tmp));

	if (!tmp)
		return NULL;
	v->res = tmp;
	tmp = &v->res[v->nres++];
	memset(tmp, 0, sizeof(*tmp));
	vss_strlcpy(tmp->writer, writer, sizeof(tmp->writer));
	vss_strlcpy(tmp->component, component, sizeof(tmp->component));
	vss_strlcpy(tmp->message, message, sizeof(tmp->message));
	return tmp;
}

/* The writer's answer to verify: one verdict per component it names. */
static int verify_answer(void *arg, const char *writer, json_object *answer)
{
	struct verify *v = arg;
	json_object *comps = vss_json_array(answer, "components");
	size_t i, j;

	(void)writer;
	for (i = 0; comps && i < json_object_array_length(comps); i++) {
		json_object *c = json_object_array_get_idx(comps, i);
		const char *name = vss_json_str(c, "name"), *msg = vss_json_str(c, "message");
		struct vss_verify_result *r = NULL;

		if (!name)
			continue;
		for (j = 0; j < v->nres && !r; j++)
			if (!strcmp(v->res[j].writer, v->writer) && !strcmp(v->res[j].component, name))
				r = &v->res[j];
		if (!r)
			continue;	/* not a component recorded in the set */
		r->verified = vss_json_bool(c, "verified");
		vss_strlcpy(r->message, msg ? msg : (r->verified ? "verified" : "not verified"),
			    sizeof(r->message));
	}
	return 0;
}

/* Ask one writer recorded in the set; its results start as "did not report it". */
static int verify_writer(struct verify *v, struct vss_writers *ws, json_object *rec,
			 json_object *views)
{
	const char *name = vss_json_str(rec, "name");
	json_object *md = NULL, *comps, *names, *extra, *bm = NULL;
	size_t first = v->nres, i;
	char why[512];
	int r;

	if (!name)
		return 0;
	json_object_object_get_ex(rec, "metadata", &md);
	comps = vss_json_array(md, "components");
	if (!vss_writers_metadata(ws, name))
		snprintf(why, sizeof(why), "not verified: writer %s is not in writers.d, or did "
			 "not answer identify", name);
	else if (!vss_writers_supports(ws, name, "verify"))
		snprintf(why, sizeof(why), "not verified: writer %s does not support verify", name);
	else
		snprintf(why, sizeof(why), "not verified: writer %s did not report it", name);
	names = json_object_new_array();
	for (i = 0; comps && i < json_object_array_length(comps); i++) {
		const char *c = vss_json_str(json_object_array_get_idx(comps, i), "name");

		if (!result_add(v, name, c ? c : "", why)) {
			json_object_put(names);
			return -ENOMEM;
		}
		json_object_array_add(names, json_object_new_string(c ? c : ""));
	}
	if (first == v->nres && !result_add(v, name, "", why)) {
		json_object_put(names);
		return -ENOMEM;
	}
	if (!vss_writers_metadata(ws, name) || !vss_writers_supports(ws, name, "verify")) {
		json_object_put(names);
		return 0;
	}
	extra = json_object_new_object();
	json_object_object_add(extra, "views", json_object_get(views));
	json_object_object_add(extra, "components", names);
	if (json_object_object_get_ex(rec, "backup_metadata", &bm) && bm)
		json_object_object_add(extra, "backup_metadata", json_object_get(bm));
	v->writer = name;
	v->last_error[0] = '\0';
	r = vss_writers_event_ext(ws, "verify", VERIFY_TIMEOUT_MS, name, extra, verify_answer, v);
	json_object_put(extra);
	if (r) {
		snprintf(why, sizeof(why), "not verified: %s",
			 v->last_error[0] ? v->last_error : "the writer failed verify");
		for (i = first; i < v->nres; i++)
			vss_strlcpy(v->res[i].message, why, sizeof(v->res[i].message));
	}
	return 0;
}

/* Remove the views made (under the lock the caller holds). */
static void views_remove(struct verify *v)
{
	size_t i;

	for (i = 0; i < v->nmaps; i++) {
		if (!v->maps[i].exposed)
			continue;
		if (vss_shadow_unexpose(v->ctx, v->maps[i].shadow_id, false)) {
			/* a process of a writer still in it: detach, then try again */
			vss_shadow_unexpose(v->ctx, v->maps[i].shadow_id, true);
		}
		v->maps[i].exposed = false;
	}
	if (v->dir[0] && rmdir(v->dir) && errno != ENOENT)
		vss_warn(v->ctx, "%s: cannot remove: %s", v->dir, strerror(errno));
}

VSS_EXPORT int vss_set_verify(struct vss_ctx *ctx, uint64_t set_id,
			      const struct vss_view_opts *opts,
			      struct vss_verify_result **results, size_t *count)
{
	struct verify v = { .ctx = ctx };
	json_object *root = NULL, *set, *shadows, *writers, *views = NULL;
	struct vss_writers *ws = NULL;
	struct vss_set_opts sopts = { 0 };
	const char **volumes = NULL;
	size_t i, n, nw;
	int r;

	*results = NULL;
	*count = 0;
	r = vss_catalog_load(ctx, &root);
	if (r)
		return r;
	set = vss_catalog_find_set(root, set_id);
	if (!set) {
		vss_err(ctx, "set %llu: no such set (see vss-list)", (unsigned long long)set_id);
		r = -ENOENT;
		goto out;
	}
	writers = vss_json_array(set, "writers");
	nw = writers ? json_object_array_length(writers) : 0;
	if (!nw) {
		vss_info(ctx, "set %llu: no writer took part in it: nothing to verify",
			 (unsigned long long)set_id);
		goto out;
	}
	shadows = vss_json_array(set, "shadows");
	n = shadows ? json_object_array_length(shadows) : 0;
	v.maps = calloc(n + 1, sizeof(*v.maps));
	volumes = calloc(n + 1, sizeof(*volumes));
	if (!v.maps || !volumes) {
		r = -ENOMEM;
		goto out;
	}
	snprintf(v.dir, sizeof(v.dir), "%s/verify-%llu", ctx->run_dir, (unsigned long long)set_id);
	r = vss_mkdir_p(v.dir, 0700);
	if (r) {
		vss_err(ctx, "%s: cannot create: %s", v.dir, strerror(-r));
		goto out;
	}
	views = json_object_new_object();
	for (i = 0; i < n; i++) {
		json_object *sh = json_object_array_get_idx(shadows, i);
		struct view_map *m = &v.maps[v.nmaps];
		const char *live = vss_json_str(sh, "mountpoint"), *ex;

		volumes[i] = vss_json_str(sh, "volume");
		m->shadow_id = vss_json_int(sh, "shadow_id");
		vss_strlcpy(m->live, live ? live : "", sizeof(m->live));
		snprintf(m->view, sizeof(m->view), "%s/%llu", v.dir,
			 (unsigned long long)m->shadow_id);
		ex = vss_json_str(sh, "exposed");
		if (ex && !strcmp(ex, m->view)) {
			/* left by a verification that was killed */
			vss_info(ctx, "shadow copy %llu: a view left at %s: removed first",
				 (unsigned long long)m->shadow_id, m->view);
			vss_shadow_unexpose(ctx, m->shadow_id, true);
		}
		r = vss_shadow_expose_writable(ctx, m->shadow_id, m->view, opts, NULL);
		if (r) {
			vss_err(ctx, "set %llu: cannot verify: no writable view of shadow copy %llu",
				(unsigned long long)set_id, (unsigned long long)m->shadow_id);
			goto out;
		}
		m->exposed = true;
		v.nmaps++;
		if (m->live[0])
			json_object_object_add(views, m->live, json_object_new_string(m->view));
		vss_info(ctx, "shadow copy %llu: writable view at %s%s%s",
			 (unsigned long long)m->shadow_id, m->view, m->live[0] ? " for " : "",
			 m->live);
	}
	repoint_links(&v, writers);

	/* the writers, afresh; their failures are the results' to tell */
	v.log_fn = ctx->log_fn;
	v.log_arg = ctx->log_arg;
	ctx->log_fn = verify_log;
	ctx->log_arg = &v;
	vss_writers_start(ctx, set_id, volumes, NULL, &sopts, &ws);
	for (i = 0; i < nw && !r; i++)
		r = verify_writer(&v, ws, json_object_array_get_idx(writers, i), views);
	vss_writers_stop(ws, false);
	ctx->log_fn = v.log_fn;
	ctx->log_arg = v.log_arg;
	if (r)
		goto out;
	for (i = 0; i < v.nres; i++)
		if (!v.res[i].verified)
			r = -ECANCELED;
	*results = v.res;
	*count = v.nres;
	v.res = NULL;
out:
	views_remove(&v);
	json_object_put(views);
	free(v.res);
	free(v.maps);
	free(volumes);
	json_object_put(root);
	return r;
}
