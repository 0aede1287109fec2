// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Restore of a writer's component from a shadow copy set (vss-restore).
 *
 * The set recorded each writer's identify answer: its components, each
 * with its files (live paths).  A file lies on the copy of the volume
 * whose recorded mount point is the longest prefix of its path; those
 * copies are exposed read-only under <run dir>/restore-<id>/.
 *
 * In place, each file F is copied next to itself into a staging name
 * (<dir of F>/.vss-restore-<id>-<name of F>, the same filesystem), the
 * filesystems are synced, and then F is renamed to F.vss-old-<id> and the
 * staging name to F; the old files are removed last.  A journal,
 * <state dir>/restore-<id>.journal, written atomically before each step,
 * says how far it got, so that a restore that dies anywhere is finished or
 * undone by the next one (vss_restore_recover()):
 *
 *	prepared	nothing swapped yet: the staging copies are removed (undo)
 *	staged		every staging copy complete and synced: the swap is
 *			finished, file by file, F's inode number telling
 *			whether its rename was done (redo)
 *	swapped		the old files are removed
 *	restored	only post-restore is left
 *
 * and in every case the writer is sent post-restore (so that the service
 * it stopped at pre-restore starts again) and the copies are unexposed.
 * Never a mix of old and new files once recovered.
 *
 * With a destination directory (--to) the files are copied under it,
 * keeping their full paths, with no writer event.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vss-internal.h"
#include "restore-files.h"

#define RESTORE_TIMEOUT_MS 300000

struct rfile {
	char live[PATH_MAX];		/* F */
	char src[PATH_MAX];		/* F in the exposed copy */
	char dst[PATH_MAX];		/* the staging name, or F under --to */
	char old[PATH_MAX];		/* F.vss-old-<id> */
	uint64_t shadow_id;		/* the copy holding it */
	char rel[PATH_MAX];		/* F below its volume's mount point */
	bool in_copy;			/* the copy has it (else F is removed) */
	bool removed;			/* not in the copy, and moved aside by the swap */
	dev_t dev;			/* the staging copy's, once made */
	ino_t ino;
};

struct rmount {
	uint64_t shadow_id;
	char path[PATH_MAX];		/* where it is mounted */
	bool ours;			/* exposed by this restore: unexposed at the end */
};

struct restore {
	struct vss_ctx *ctx;
	uint64_t id, set_id;
	char writer[128], component[128];
	char to[PATH_MAX];		/* "" in place */
	char journal[PATH_MAX];
	char mdir[PATH_MAX];		/* <run dir>/restore-<id> */
	const char *step;
	bool pre_restore;
	json_object *volumes;		/* the set's volumes */
	json_object *backup_metadata;
	struct rfile *f;
	size_t nf;
	struct rmount *m;
	size_t nm;
};

/* Test hook: VSS_TEST_RESTORE_STOP=<step> kills the process there. */
static void stop_point(struct restore *rs, const char *step)
{
	const char *s = getenv("VSS_TEST_RESTORE_STOP");

	if (!s || strcmp(s, step))
		return;
	vss_err(rs->ctx, "restore %llu: killed at %s by VSS_TEST_RESTORE_STOP",
		(unsigned long long)rs->id, step);
	kill(getpid(), SIGKILL);
}

/* snprintf into a path buffer: 0, or -ENAMETOOLONG when it does not fit. */
static int pathf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int pathf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static void restore_release(struct restore *rs)
{
	json_object_put(rs->volumes);
	json_object_put(rs->backup_metadata);
	free(rs->f);
	free(rs->m);
}

static void paths_of(struct restore *rs)
{
	snprintf(rs->journal, sizeof(rs->journal), "%s/restore-%llu.journal", rs->ctx->state_dir,
		 (unsigned long long)rs->id);
	snprintf(rs->mdir, sizeof(rs->mdir), "%s/restore-%llu", rs->ctx->run_dir,
		 (unsigned long long)rs->id);
}

/* ---- the journal ---- */

static int journal_write(struct restore *rs, const char *step)
{
	json_object *o = json_object_new_object(), *fa = json_object_new_array();
	json_object *ma = json_object_new_array();
	const char *text;
	size_t i;
	int r;

	rs->step = step;
	json_object_object_add(o, "shadow_id", json_object_new_int64(rs->id));
	json_object_object_add(o, "set_id", json_object_new_int64(rs->set_id));
	json_object_object_add(o, "writer", json_object_new_string(rs->writer));
	json_object_object_add(o, "component", json_object_new_string(rs->component));
	json_object_object_add(o, "step", json_object_new_string(step));
	json_object_object_add(o, "to", rs->to[0] ? json_object_new_string(rs->to) : NULL);
	json_object_object_add(o, "pre_restore", json_object_new_boolean(rs->pre_restore));
	json_object_object_add(o, "volumes", json_object_get(rs->volumes));
	json_object_object_add(o, "backup_metadata", json_object_get(rs->backup_metadata));
	for (i = 0; i < rs->nf; i++) {
		json_object *e = json_object_new_object();

		json_object_object_add(e, "live", json_object_new_string(rs->f[i].live));
		json_object_object_add(e, "dst", json_object_new_string(rs->f[i].dst));
		json_object_object_add(e, "old", json_object_new_string(rs->f[i].old));
		json_object_object_add(e, "in_copy", json_object_new_boolean(rs->f[i].in_copy));
		json_object_object_add(e, "dev", json_object_new_int64(rs->f[i].dev));
		json_object_object_add(e, "ino", json_object_new_int64(rs->f[i].ino));
		json_object_array_add(fa, e);
	}
	json_object_object_add(o, "files", fa);
	for (i = 0; i < rs->nm; i++) {
		json_object *e = json_object_new_object();

		json_object_object_add(e, "shadow_id", json_object_new_int64(rs->m[i].shadow_id));
		json_object_object_add(e, "path", json_object_new_string(rs->m[i].path));
		json_object_object_add(e, "ours", json_object_new_boolean(rs->m[i].ours));
		json_object_array_add(ma, e);
	}
	json_object_object_add(o, "mounts", ma);
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	r = vss_atomic_write(rs->journal, text, strlen(text));
	json_object_put(o);
	if (r)
		vss_err(rs->ctx, "%s: cannot write the restore journal: %s", rs->journal,
			strerror(-r));
	return r;
}

static int journal_read(struct vss_ctx *ctx, const char *path, struct restore *rs)
{
	json_object *o = json_object_from_file(path), *fa, *ma, *v;
	const char *s;
	size_t i;

	memset(rs, 0, sizeof(*rs));
	rs->ctx = ctx;
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		vss_err(ctx, "%s: cannot parse the restore journal: remove it once the files it "
			"names are checked", path);
		return -EUCLEAN;
	}
	rs->id = vss_json_int(o, "shadow_id");
	rs->set_id = vss_json_int(o, "set_id");
	vss_strlcpy(rs->writer, vss_json_str(o, "writer") ?: "", sizeof(rs->writer));
	vss_strlcpy(rs->component, vss_json_str(o, "component") ?: "", sizeof(rs->component));
	vss_strlcpy(rs->to, vss_json_str(o, "to") ?: "", sizeof(rs->to));
	rs->pre_restore = vss_json_bool(o, "pre_restore");
	s = vss_json_str(o, "step");
	rs->step = !s ? "prepared" : !strcmp(s, "staged") ? "staged" :
		   !strcmp(s, "swapped") ? "swapped" : !strcmp(s, "restored") ? "restored" :
		   "prepared";
	if (json_object_object_get_ex(o, "volumes", &v))
		rs->volumes = json_object_get(v);
	if (json_object_object_get_ex(o, "backup_metadata", &v))
		rs->backup_metadata = json_object_get(v);
	fa = vss_json_array(o, "files");
	ma = vss_json_array(o, "mounts");
	rs->nf = fa ? json_object_array_length(fa) : 0;
	rs->nm = ma ? json_object_array_length(ma) : 0;
	rs->f = calloc(rs->nf + 1, sizeof(*rs->f));
	rs->m = calloc(rs->nm + 1, sizeof(*rs->m));
	if (!rs->f || !rs->m) {
		json_object_put(o);
		return -ENOMEM;
	}
	for (i = 0; i < rs->nf; i++) {
		json_object *e = json_object_array_get_idx(fa, i);

		vss_strlcpy(rs->f[i].live, vss_json_str(e, "live") ?: "", PATH_MAX);
		vss_strlcpy(rs->f[i].dst, vss_json_str(e, "dst") ?: "", PATH_MAX);
		vss_strlcpy(rs->f[i].old, vss_json_str(e, "old") ?: "", PATH_MAX);
		rs->f[i].in_copy = vss_json_bool(e, "in_copy");
		rs->f[i].dev = vss_json_int(e, "dev");
		rs->f[i].ino = vss_json_int(e, "ino");
	}
	for (i = 0; i < rs->nm; i++) {
		json_object *e = json_object_array_get_idx(ma, i);

		rs->m[i].shadow_id = vss_json_int(e, "shadow_id");
		vss_strlcpy(rs->m[i].path, vss_json_str(e, "path") ?: "", PATH_MAX);
		rs->m[i].ours = vss_json_bool(e, "ours");
	}
	json_object_put(o);
	paths_of(rs);
	return 0;
}

/* ---- steps ---- */

static int fsync_parent(const char *path)
{
	char dir[PATH_MAX], *s;
	int fd, r = 0;

	vss_strlcpy(dir, path, sizeof(dir));
	s = strrchr(dir, '/');
	if (!s)
		return 0;
	if (s == dir)
		s[1] = '\0';
	else
		*s = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd))
		r = -errno;
	close(fd);
	return r;
}

static bool exists(const char *path, struct stat *st)
{
	struct stat tmp;

	return lstat(path, st ? st : &tmp) == 0;
}

/* Unexpose the copies this restore exposed; the directory under the run dir goes too. */
static void unexpose_ours(struct restore *rs)
{
	json_object *root = NULL, *sh;
	size_t i;

	if (vss_catalog_load(rs->ctx, &root))
		return;
	for (i = 0; i < rs->nm; i++) {
		const char *e;

		if (!rs->m[i].ours)
			continue;
		sh = vss_catalog_find_shadow(root, rs->m[i].shadow_id, NULL);
		e = vss_json_str(sh, "exposed");
		if (e && !strcmp(e, rs->m[i].path) &&
		    vss_shadow_unexpose(rs->ctx, rs->m[i].shadow_id, true))
			vss_warn(rs->ctx, "shadow copy %llu: still exposed at %s: vss-unexpose %llu",
				 (unsigned long long)rs->m[i].shadow_id, rs->m[i].path,
				 (unsigned long long)rs->m[i].shadow_id);
		rmdir(rs->m[i].path);
	}
	json_object_put(root);
	rmdir(rs->mdir);
}

/* Undo: nothing was swapped; the staging copies go. */
static int undo_staging(struct restore *rs)
{
	size_t i;
	int r, ret = 0;

	for (i = 0; i < rs->nf; i++) {
		r = vss_remove_tree(rs->f[i].dst);
		if (r) {
			vss_err(rs->ctx, "%s: cannot remove the staging copy: %s", rs->f[i].dst,
				strerror(-r));
			ret = r;
		}
	}
	return ret;
}

/*
 * Redo: finish the swap of each file.  F already the staging copy (its
 * inode) is done; else F goes to F.vss-old-<id> (unless it is gone: moved
 * already, or deleted) and the staging copy takes its name.
 */
static int swap_files(struct restore *rs, bool first_run)
{
	struct stat st;
	size_t i;
	int r;

	for (i = 0; i < rs->nf; i++) {
		struct rfile *f = &rs->f[i];
		bool live = exists(f->live, &st);

		if (f->in_copy && live && st.st_dev == f->dev && st.st_ino == f->ino)
			continue;
		if (f->in_copy && !exists(f->dst, NULL)) {
			vss_err(rs->ctx, "%s: cannot restore: its staging copy %s is gone and it is "
				"not the restored file", f->live, f->dst);
			return -EUCLEAN;
		}
		if (live) {
			if (exists(f->old, NULL)) {
				vss_err(rs->ctx, "%s: cannot move it aside: %s exists", f->live, f->old);
				return -EEXIST;
			}
			if (rename(f->live, f->old)) {
				r = -errno;
				vss_err(rs->ctx, "%s: cannot rename to %s: %s", f->live, f->old,
					strerror(-r));
				return r;
			}
			f->removed = !f->in_copy;
			if (first_run)
				stop_point(rs, "swap-old");
		}
		if (f->in_copy) {
			if (rename(f->dst, f->live)) {
				r = -errno;
				vss_err(rs->ctx, "%s: cannot rename to %s: %s", f->dst, f->live,
					strerror(-r));
				return r;
			}
			if (first_run)
				stop_point(rs, "swap-new");
		}
	}
	for (i = 0; i < rs->nf; i++) {
		r = fsync_parent(rs->f[i].live);
		if (r) {
			vss_err(rs->ctx, "%s: cannot sync its directory: %s", rs->f[i].live,
				strerror(-r));
			return r;
		}
	}
	return 0;
}

static int remove_old(struct restore *rs, bool first_run)
{
	size_t i;
	int r;

	for (i = 0; i < rs->nf; i++) {
		if (!exists(rs->f[i].old, NULL))
			continue;
		r = vss_remove_tree(rs->f[i].old);
		if (r) {
			vss_err(rs->ctx, "%s: cannot remove the replaced file: %s", rs->f[i].old,
				strerror(-r));
			return r;
		}
		if (first_run)
			stop_point(rs, "cleanup");
	}
	return 0;
}

/* The set's volumes as a NULL-terminated array (pointers into rs->volumes). */
static const char **volume_list(struct restore *rs)
{
	size_t n = rs->volumes ? json_object_array_length(rs->volumes) : 0, i;
	const char **v = calloc(n + 1, sizeof(*v));

	for (i = 0; v && i < n; i++)
		v[i] = json_object_get_string(json_object_array_get_idx(rs->volumes, i));
	return v;
}

static json_object *event_fields(struct restore *rs)
{
	json_object *o = json_object_new_object(), *files = json_object_new_array();
	size_t i;

	for (i = 0; i < rs->nf; i++)
		json_object_array_add(files, json_object_new_string(rs->f[i].live));
	json_object_object_add(o, "component", json_object_new_string(rs->component));
	json_object_object_add(o, "files", files);
	json_object_object_add(o, "backup_metadata", json_object_get(rs->backup_metadata));
	return o;
}

/* The writers started, and the component's writer found among them: 0, or -errno. */
static int writers_start(struct restore *rs, unsigned int timeout_ms, struct vss_writers **ws)
{
	struct vss_set_opts opts = { .freeze_timeout_ms = timeout_ms };
	const char **vols = volume_list(rs);
	const char *failed, *phase;
	int r;

	if (!vols)
		return -ENOMEM;
	r = vss_writers_start(rs->ctx, rs->set_id, vols, NULL, &opts, ws);
	free(vols);
	failed = vss_writers_failed(*ws, &phase);
	if (r && failed && !strcmp(failed, rs->writer)) {
		vss_err(rs->ctx, "restore of %s/%s: writer %s failed at %s: nothing changed",
			rs->writer, rs->component, rs->writer, phase ? phase : "identify");
		return -ECANCELED;
	}
	if (!vss_writers_metadata(*ws, rs->writer))
		vss_warn(rs->ctx, "writer %s: not installed in writers.d: no pre-restore or "
			 "post-restore is sent; make sure its application is stopped", rs->writer);
	return 0;
}

/* post-restore to the component's writer, if it takes it: 0, or -ECANCELED. */
static int post_restore(struct restore *rs, struct vss_writers *ws, unsigned int timeout_ms,
			bool *sent)
{
	json_object *extra;
	int r;

	*sent = false;
	if (!vss_writers_supports(ws, rs->writer, "post-restore"))
		return 0;
	extra = event_fields(rs);
	r = vss_writers_event_ext(ws, "post-restore", timeout_ms, rs->writer, extra, NULL, NULL);
	json_object_put(extra);
	if (r) {
		vss_err(rs->ctx, "restore of %s/%s: the files are restored, but writer %s failed "
			"at post-restore: start its application by hand", rs->writer,
			rs->component, rs->writer);
		return -ECANCELED;
	}
	*sent = true;
	return 0;
}

/* ---- recovery ---- */

static int recover_one(struct vss_ctx *ctx, const char *path)
{
	struct vss_writers *ws = NULL;
	struct restore rs;
	bool sent;
	int r;

	r = journal_read(ctx, path, &rs);
	if (r) {
		restore_release(&rs);
		return r;
	}
	vss_strlcpy(rs.journal, path, sizeof(rs.journal));
	if (rs.to[0]) {
		vss_warn(ctx, "restore %llu: interrupted; %s may hold a partial copy of %s/%s: "
			 "remove it and restore again", (unsigned long long)rs.id, rs.to,
			 rs.writer, rs.component);
		goto done;
	}
	if (!strcmp(rs.step, "prepared")) {
		r = undo_staging(&rs);
		if (r)
			goto out;
		vss_warn(ctx, "restore %llu of %s/%s: interrupted before any file was replaced: "
			 "undone, the files are as they were", (unsigned long long)rs.id,
			 rs.writer, rs.component);
	} else if (!strcmp(rs.step, "staged") || !strcmp(rs.step, "swapped")) {
		if (!strcmp(rs.step, "staged")) {
			r = swap_files(&rs, false);
			if (r || (r = journal_write(&rs, "swapped")))
				goto out;
		}
		r = remove_old(&rs, false);
		if (r)
			goto out;
		vss_warn(ctx, "restore %llu of %s/%s: interrupted after its copies were complete: "
			 "finished, the files are restored", (unsigned long long)rs.id, rs.writer,
			 rs.component);
	}
	/* the application the writer stopped starts again */
	r = writers_start(&rs, RESTORE_TIMEOUT_MS, &ws);
	if (!r)
		r = post_restore(&rs, ws, RESTORE_TIMEOUT_MS, &sent);
	vss_writers_stop(ws, false);
	if (r)
		goto out;
done:
	unexpose_ours(&rs);
	if (unlink(rs.journal) && errno != ENOENT)
		r = -errno;
out:
	restore_release(&rs);
	return r;
}

VSS_EXPORT int vss_restore_recover(struct vss_ctx *ctx, unsigned int *count)
{
	struct dirent *de;
	DIR *d;
	int r = 0, e;

	if (count)
		*count = 0;
	d = opendir(ctx->state_dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		char path[PATH_MAX];
		size_t l = strlen(de->d_name);

		if (strncmp(de->d_name, "restore-", 8) || l < 9 ||
		    strcmp(de->d_name + l - 8, ".journal"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", ctx->state_dir, de->d_name);
		e = recover_one(ctx, path);
		if (e && !r)
			r = e;
		if (!e && count)
			(*count)++;
	}
	closedir(d);
	return r;
}

/* ---- what the set recorded ---- */

/* The set's writer entry named writer and its component entry, or NULL. */
static json_object *find_component(json_object *set, const char *writer, const char *component,
				   json_object **wentry)
{
	json_object *ws = vss_json_array(set, "writers");
	size_t i, j;

	for (i = 0; ws && i < json_object_array_length(ws); i++) {
		json_object *w = json_object_array_get_idx(ws, i), *md, *comps;
		const char *name = vss_json_str(w, "name");

		if (!name || strcmp(name, writer))
			continue;
		if (!json_object_object_get_ex(w, "metadata", &md))
			continue;
		comps = vss_json_array(md, "components");
		for (j = 0; comps && j < json_object_array_length(comps); j++) {
			json_object *c = json_object_array_get_idx(comps, j);
			const char *cn = vss_json_str(c, "name");

			if (cn && !strcmp(cn, component)) {
				*wentry = w;
				return c;
			}
		}
	}
	return NULL;
}

/* Every "WRITER/COMPONENT" of a set, as a malloc'ed array of malloc'ed strings. */
static int set_components(json_object *set, char ***names, size_t *count)
{
	json_object *ws = vss_json_array(set, "writers");
	char **out = NULL, **tmp;
	size_t i, j, n = 0;

	for (i = 0; ws && i < json_object_array_length(ws); i++) {
		json_object *w = json_object_array_get_idx(ws, i), *md = NULL, *comps;
		const char *name = vss_json_str(w, "name");

		json_object_object_get_ex(w, "metadata", &md);
		comps = vss_json_array(md, "components");
		for (j = 0; name && comps && j < json_object_array_length(comps); j++) {
			const char *cn = vss_json_str(json_object_array_get_idx(comps, j), "name");

			if (!cn)
				continue;
			tmp = realloc(out, (n + 2) * sizeof(*out));
			if (!tmp)
				goto nomem;
			out = tmp;
			if (asprintf(&out[n], "%s/%s", name, cn) < 0)
				goto nomem;
			out[++n] = NULL;
		}
	}
	*names = out;
	*count = n;
	return 0;
nomem:
	for (i = 0; i < n; i++)
		free(out[i]);
	free(out);
	return -ENOMEM;
}

VSS_EXPORT int vss_restore_components(struct vss_ctx *ctx, uint64_t shadow_id, char ***names,
				      size_t *count)
{
	json_object *root, *set = NULL;
	int r;

	*names = NULL;
	*count = 0;
	r = vss_catalog_load(ctx, &root);
	if (r)
		return r;
	if (!vss_catalog_find_shadow(root, shadow_id, &set) || !set) {
		vss_err(ctx, "shadow copy %llu: no such shadow copy (see vss-list)",
			(unsigned long long)shadow_id);
		r = -ENOENT;
	} else {
		r = set_components(set, names, count);
	}
	json_object_put(root);
	return r;
}

VSS_EXPORT void vss_restore_names_free(char **names, size_t count)
{
	size_t i;

	for (i = 0; names && i < count; i++)
		free(names[i]);
	free(names);
}

/*
 * The plan: each file of the component, the copy of the set that holds it
 * (the longest recorded mount point above it), and its names.
 */
static int plan_files(struct restore *rs, json_object *set, json_object *files)
{
	json_object *shs = vss_json_array(set, "shadows");
	size_t n = files ? json_object_array_length(files) : 0, i, j;

	rs->f = calloc(n + 1, sizeof(*rs->f));
	rs->m = calloc((shs ? json_object_array_length(shs) : 0) + 1, sizeof(*rs->m));
	if (!rs->f || !rs->m)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const char *live = json_object_get_string(json_object_array_get_idx(files, i));
		struct rfile *f = &rs->f[rs->nf];
		const char *best = NULL, *base;
		uint64_t best_id = 0;
		size_t best_len = 0;

		if (!live || live[0] != '/' || strlen(live) >= PATH_MAX - 64)
			continue;
		for (j = 0; shs && j < json_object_array_length(shs); j++) {
			json_object *sh = json_object_array_get_idx(shs, j);
			const char *mp = vss_json_str(sh, "mountpoint");
			size_t l = mp ? strlen(mp) : 0;

			if (!l)
				continue;
			if (!strcmp(mp, "/"))
				l = 0;
			if (strncmp(live, mp, l) || (live[l] != '/' && live[l]))
				continue;
			if (!best || l >= best_len) {
				best = mp;
				best_len = l;
				best_id = vss_json_int(sh, "shadow_id");
			}
		}
		if (!best) {
			vss_err(rs->ctx, "%s: component %s/%s: under none of the mount points "
				"the volumes of set %llu had: not in the set", live, rs->writer,
				rs->component, (unsigned long long)rs->set_id);
			return -ENOENT;
		}
		if (!live[best_len] && !rs->to[0]) {
			vss_err(rs->ctx, "%s: component %s/%s: the mount point itself cannot be "
				"replaced in place: restore it with --to DIR", live, rs->writer,
				rs->component);
			return -EINVAL;
		}
		vss_strlcpy(f->live, live, sizeof(f->live));
		vss_strlcpy(f->rel, live + best_len, sizeof(f->rel));
		f->shadow_id = best_id;
		base = vss_base_name(live);
		if (rs->to[0] ? pathf(f->dst, sizeof(f->dst), "%s%s", rs->to, live) :
		    pathf(f->dst, sizeof(f->dst), "%.*s/.vss-restore-%llu-%s",
			  (int)(base - live - 1), live, (unsigned long long)rs->id, base) ||
		    pathf(f->old, sizeof(f->old), "%s.vss-old-%llu", live,
			  (unsigned long long)rs->id)) {
			vss_err(rs->ctx, "%s: path too long to restore", live);
			return -ENAMETOOLONG;
		}
		for (j = 0; j < rs->nm && rs->m[j].shadow_id != best_id; j++)
			;
		if (j == rs->nm)
			rs->m[rs->nm++].shadow_id = best_id;
		rs->nf++;
	}
	if (!rs->nf) {
		vss_err(rs->ctx, "component %s/%s: lists no file (absolute path) to restore",
			rs->writer, rs->component);
		return -ENOENT;
	}
	return 0;
}

/* Each copy the plan needs, exposed read-only: where it is mounted already, or by us. */
static int expose_copies(struct restore *rs, json_object *set)
{
	size_t i, j;
	int r;

	for (i = 0; i < rs->nm; i++) {
		struct rmount *m = &rs->m[i];
		struct vss_shadow_info info;
		struct vss_shadow_state st;
		json_object *sh = NULL, *shs = vss_json_array(set, "shadows");

		for (j = 0; shs && j < json_object_array_length(shs); j++)
			if ((uint64_t)vss_json_int(json_object_array_get_idx(shs, j), "shadow_id") ==
			    m->shadow_id)
				sh = json_object_array_get_idx(shs, j);
		vss_catalog_shadow_to_info(set, sh, &info);
		if (!vss_shadow_get_state(rs->ctx, &info, &st) && st.mountpoint[0]) {
			vss_strlcpy(m->path, st.mountpoint, sizeof(m->path));
			vss_info(rs->ctx, "shadow copy %llu: read where it is mounted, %s",
				 (unsigned long long)m->shadow_id, m->path);
			continue;
		}
		pathf(m->path, sizeof(m->path), "%s/%llu", rs->mdir,
		      (unsigned long long)m->shadow_id);
		m->ours = true;
	}
	r = journal_write(rs, "prepared");
	if (r)
		return r;
	for (i = 0; i < rs->nm; i++) {
		if (!rs->m[i].ours)
			continue;
		r = vss_mkdir_p(rs->mdir, 0700);
		if (r) {
			vss_err(rs->ctx, "%s: cannot create: %s", rs->mdir, strerror(-r));
			return r;
		}
		r = vss_shadow_expose(rs->ctx, rs->m[i].shadow_id, rs->m[i].path, NULL);
		if (r)
			return r;
	}
	for (i = 0; i < rs->nf; i++) {
		struct rfile *f = &rs->f[i];

		for (j = 0; j < rs->nm && rs->m[j].shadow_id != f->shadow_id; j++)
			;
		if (pathf(f->src, sizeof(f->src), "%s%s", rs->m[j].path, f->rel)) {
			vss_err(rs->ctx, "%s%s: path too long", rs->m[j].path, f->rel);
			return -ENAMETOOLONG;
		}
		f->in_copy = exists(f->src, NULL);
		if (!f->in_copy)
			vss_info(rs->ctx, "%s: not in shadow copy %llu%s", f->live,
				 (unsigned long long)f->shadow_id, rs->to[0] ? "" :
				 ": removed if it exists");
	}
	return 0;
}

/* --to: DIR empty or new. */
static int check_to(struct restore *rs)
{
	struct stat st;
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (rs->to[0] != '/') {
		char cwd[PATH_MAX], tmp[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)))
			return -errno;
		if (pathf(tmp, sizeof(tmp), "%s/%s", cwd, rs->to))
			return -ENAMETOOLONG;
		vss_strlcpy(rs->to, tmp, sizeof(rs->to));
	}
	while (strlen(rs->to) > 1 && rs->to[strlen(rs->to) - 1] == '/')
		rs->to[strlen(rs->to) - 1] = '\0';
	if (lstat(rs->to, &st)) {
		if (errno != ENOENT)
			return -errno;
		r = vss_mkdir_p(rs->to, 0700);
		if (r)
			vss_err(rs->ctx, "%s: cannot create: %s", rs->to, strerror(-r));
		return r;
	}
	if (!S_ISDIR(st.st_mode)) {
		vss_err(rs->ctx, "%s: cannot restore to it: not a directory", rs->to);
		return -ENOTDIR;
	}
	d = opendir(rs->to);
	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			vss_err(rs->ctx, "%s: cannot restore to it: not empty (--to takes an empty "
				"or new directory)", rs->to);
			r = -EEXIST;
			break;
		}
	closedir(d);
	return r;
}

/* Copy every file the copy holds to its staging name (or under --to). */
static int copy_files(struct restore *rs, struct vss_copy *c)
{
	size_t i, done = 0;
	int r;

	for (i = 0; i < rs->nf; i++) {
		struct rfile *f = &rs->f[i];
		struct stat st;

		if (!f->in_copy)
			continue;
		r = vss_remove_tree(f->dst);	/* a staging copy left by a crash */
		if (!r && rs->to[0])
			r = vss_copy_parents(c, f->src, f->dst);
		else if (!r)
			r = vss_copy_parents(c, f->src, f->live);
		if (!r)
			r = vss_copy_tree(c, f->src, f->dst);
		if (!r)
			r = vss_copy_sync(c, f->dst);
		if (r)
			return r;
		if (lstat(f->dst, &st))
			return -errno;
		f->dev = st.st_dev;
		f->ino = st.st_ino;
		if (++done == 1)
			stop_point(rs, "copy");
	}
	return 0;
}

static int result_add(char ***list, size_t *n, const char *path)
{
	char **tmp = realloc(*list, (*n + 2) * sizeof(**list));

	if (!tmp)
		return -ENOMEM;
	*list = tmp;
	tmp[*n] = strdup(path);
	if (!tmp[*n])
		return -ENOMEM;
	tmp[++*n] = NULL;
	return 0;
}

static int parse_component(struct vss_ctx *ctx, const char *arg, struct restore *rs)
{
	const char *slash = arg ? strchr(arg, '/') : NULL;

	if (!slash || slash == arg || !slash[1] || (size_t)(slash - arg) >= sizeof(rs->writer) ||
	    strlen(slash + 1) >= sizeof(rs->component)) {
		vss_err(ctx, "%s: not a component: give WRITER/COMPONENT", arg ? arg : "(none)");
		return -EINVAL;
	}
	snprintf(rs->writer, sizeof(rs->writer), "%.*s", (int)(slash - arg), arg);
	vss_strlcpy(rs->component, slash + 1, sizeof(rs->component));
	return 0;
}

/* The set, the component and its writer's record: fills rs; 0 or -ENOENT (said). */
static int find_in_catalog(struct restore *rs, json_object *root, json_object **setp,
			   json_object **comp)
{
	json_object *set = NULL, *w = NULL, *v, *shs;
	char **names = NULL, list[1024] = "";
	size_t n = 0, i;

	if (!vss_catalog_find_shadow(root, rs->id, &set) || !set) {
		vss_err(rs->ctx, "shadow copy %llu: no such shadow copy (see vss-list)",
			(unsigned long long)rs->id);
		return -ENOENT;
	}
	rs->set_id = vss_json_int(set, "set_id");
	*comp = find_component(set, rs->writer, rs->component, &w);
	if (!*comp) {
		set_components(set, &names, &n);
		for (i = 0; i < n; i++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
				 i ? ", " : "", names[i]);
		vss_err(rs->ctx, "component %s/%s: not in set %llu (%s%s)", rs->writer,
			rs->component, (unsigned long long)rs->set_id,
			n ? "its components: " : "it recorded no writer component", list);
		vss_restore_names_free(names, n);
		return -ENOENT;
	}
	if (json_object_object_get_ex(w, "backup_metadata", &v))
		rs->backup_metadata = json_object_get(v);
	rs->volumes = json_object_new_array();
	shs = vss_json_array(set, "shadows");
	for (i = 0; shs && i < json_object_array_length(shs); i++) {
		const char *vol = vss_json_str(json_object_array_get_idx(shs, i), "volume");

		if (vol)
			json_object_array_add(rs->volumes, json_object_new_string(vol));
	}
	*setp = set;
	return 0;
}

/* In place: pre-restore, stage, swap, clean, post-restore; journalled throughout. */
static int restore_in_place(struct restore *rs, unsigned int timeout_ms, struct vss_copy *c,
			    struct vss_restore_result *res)
{
	struct vss_writers *ws = NULL;
	json_object *extra;
	size_t i;
	bool sent;
	int r;

	for (i = 0; i < rs->nf; i++)
		if (exists(rs->f[i].old, NULL)) {
			vss_err(rs->ctx, "%s: exists (left by an earlier restore?): move it away, "
				"then restore again", rs->f[i].old);
			return -EEXIST;
		}
	r = writers_start(rs, timeout_ms, &ws);
	if (r)
		goto out;
	if (vss_writers_supports(ws, rs->writer, "pre-restore")) {
		extra = event_fields(rs);
		r = vss_writers_event_ext(ws, "pre-restore", timeout_ms, rs->writer, extra,
					  NULL, NULL);
		json_object_put(extra);
		if (r) {
			vss_err(rs->ctx, "restore of %s/%s: writer %s refused pre-restore: nothing "
				"changed", rs->writer, rs->component, rs->writer);
			r = -ECANCELED;
			goto out;
		}
		rs->pre_restore = res->pre_restore = true;
		r = journal_write(rs, "prepared");
		if (r)
			goto out;
	} else if (vss_writers_metadata(ws, rs->writer)) {
		vss_warn(rs->ctx, "writer %s: takes no pre-restore: make sure its application "
			 "does not use the files", rs->writer);
	}
	stop_point(rs, "pre-restore");
	r = copy_files(rs, c);
	if (r) {
		undo_staging(rs);
		goto out;
	}
	r = journal_write(rs, "staged");
	if (r) {
		undo_staging(rs);
		goto out;
	}
	stop_point(rs, "staged");
	r = swap_files(rs, true);
	if (r) {
		vss_err(rs->ctx, "restore %llu: stopped in the middle of the swap: vss-restore "
			"--recover finishes it", (unsigned long long)rs->id);
		goto out;
	}
	r = journal_write(rs, "swapped");
	if (r)
		goto out;
	stop_point(rs, "swapped");
	r = remove_old(rs, true);
	if (r)
		goto out;
	r = journal_write(rs, "restored");
	if (r)
		goto out;
	stop_point(rs, "post-restore");
	r = post_restore(rs, ws, timeout_ms, &sent);
	res->post_restore = sent;
out:
	/* undone before any swap: the application starts again on its old files */
	if (r && rs->pre_restore && !strcmp(rs->step, "prepared"))
		post_restore(rs, ws, timeout_ms, &sent);
	vss_writers_stop(ws, false);
	return r;
}

VSS_EXPORT int vss_restore_component(struct vss_ctx *ctx, uint64_t shadow_id,
				     const struct vss_restore_opts *opts,
				     struct vss_restore_result *res)
{
	unsigned int timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms : RESTORE_TIMEOUT_MS;
	struct vss_restore_result tmp;
	json_object *root = NULL, *set, *comp;
	struct vss_copy *c = NULL;
	struct restore rs = { .ctx = ctx, .id = shadow_id };
	bool journalled = false;
	size_t i;
	int r;

	if (!res)
		res = &tmp;
	memset(res, 0, sizeof(*res));
	res->shadow_id = shadow_id;
	paths_of(&rs);
	r = parse_component(ctx, opts ? opts->component : NULL, &rs);
	if (r)
		return r;
	vss_strlcpy(res->writer, rs.writer, sizeof(res->writer));
	vss_strlcpy(res->component, rs.component, sizeof(res->component));
	if (opts && opts->to)
		vss_strlcpy(rs.to, opts->to, sizeof(rs.to));

	/* an interrupted restore is finished (or undone) first */
	r = vss_restore_recover(ctx, NULL);
	if (r) {
		vss_err(ctx, "restore %llu: an interrupted restore could not be recovered: "
			"nothing done", (unsigned long long)shadow_id);
		return r;
	}
	r = vss_catalog_load(ctx, &root);
	if (r)
		return r;
	r = find_in_catalog(&rs, root, &set, &comp);
	if (r)
		goto out;
	res->set_id = rs.set_id;
	r = plan_files(&rs, set, vss_json_array(comp, "files"));
	if (r)
		goto out;
	if (rs.to[0] && (r = check_to(&rs)))
		goto out;
	c = vss_copy_new(ctx);
	if (!c) {
		r = -ENOMEM;
		goto out;
	}
	journalled = true;
	r = expose_copies(&rs, set);
	if (r)
		goto out;
	if (rs.to[0]) {
		r = copy_files(&rs, c);
	} else {
		r = restore_in_place(&rs, timeout_ms, c, res);
		/* a swap begun is finished by recovery: keep the journal */
		if (r && rs.step && strcmp(rs.step, "prepared") && strcmp(rs.step, "restored"))
			journalled = false;
	}
	for (i = 0; !r && i < rs.nf; i++) {
		if (rs.f[i].in_copy)
			r = result_add(&res->files, &res->nr_files,
				       rs.to[0] ? rs.f[i].dst : rs.f[i].live);
		else if (rs.f[i].removed)
			r = result_add(&res->removed, &res->nr_removed, rs.f[i].live);
	}
out:
	if (journalled) {
		unexpose_ours(&rs);
		unlink(rs.journal);
	} else if (rs.nm && rs.step) {
		unexpose_ours(&rs);
	}
	vss_copy_free(c);
	restore_release(&rs);
	json_object_put(root);
	return r;
}

VSS_EXPORT void vss_restore_result_free(struct vss_restore_result *res)
{
	if (!res)
		return;
	vss_restore_names_free(res->files, res->nr_files);
	vss_restore_names_free(res->removed, res->nr_removed);
	res->files = res->removed = NULL;
	res->nr_files = res->nr_removed = 0;
}
