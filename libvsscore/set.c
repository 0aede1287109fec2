// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The shadow copy set: the creation sequence of DESIGN section 4, its
 * abort path and backup-complete (deletion is delete.c's).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vss-internal.h"

struct vss_set {
	struct vss_ctx *ctx;
	struct vss_set_opts opts;
	char provider[64];
	char tag[64];
	char **writers, **exclude;
	struct vss_pshadow *sh;
	size_t n;
	struct vss_writers *ws;
	uint64_t set_id;
	time_t created;
	bool committed, released;
	char phase[40];
	bool retryable;		/* the failed commit may succeed if tried again */
};

static char **dup_list(const char *const *l)
{
	size_t n = 0, i;
	char **out;

	if (!l)
		return NULL;
	while (l[n])
		n++;
	out = calloc(n + 1, sizeof(*out));
	for (i = 0; out && i < n; i++)
		out[i] = strdup(l[i]);
	return out;
}

static void free_list(char **l)
{
	size_t i;

	for (i = 0; l && l[i]; i++)
		free(l[i]);
	free(l);
}

VSS_EXPORT int vss_set_new(struct vss_ctx *ctx, const struct vss_set_opts *opts,
			   struct vss_set **setp)
{
	struct vss_set *set = calloc(1, sizeof(*set));

	if (!set)
		return -ENOMEM;
	set->ctx = ctx;
	if (opts)
		set->opts = *opts;
	if (!set->opts.freeze_timeout_ms)
		set->opts.freeze_timeout_ms = 60000;
	if (!set->opts.commit_timeout_ms)
		set->opts.commit_timeout_ms = 10000;
	if (opts && opts->provider) {
		vss_strlcpy(set->provider, opts->provider, sizeof(set->provider));
		set->opts.provider = set->provider;
	}
	if (opts && opts->tag) {
		vss_strlcpy(set->tag, opts->tag, sizeof(set->tag));
		set->opts.tag = set->tag;
	}
	set->writers = dup_list(opts ? opts->writers : NULL);
	set->exclude = dup_list(opts ? opts->exclude_writers : NULL);
	set->opts.writers = (const char *const *)set->writers;
	set->opts.exclude_writers = (const char *const *)set->exclude;
	*setp = set;
	return 0;
}

VSS_EXPORT int vss_set_add_volume(struct vss_set *set, const char *volume)
{
	struct vss_pshadow *tmp, s;
	json_object *root;
	char dm[128];
	size_t i;
	int r;

	if (set->committed)
		return -EINVAL;
	r = vss_volume_resolve(set->ctx, volume, dm, sizeof(dm));
	if (r)
		return r;
	for (i = 0; i < set->n; i++)
		if (!strcmp(set->sh[i].dm_name, dm)) {
			vss_err(set->ctx, "%s: given twice", volume);
			return -EEXIST;
		}
	r = vss_catalog_load(set->ctx, &root);
	if (r)
		return r;
	memset(&s, 0, sizeof(s));
	r = vss_provider_select(set->ctx, root, dm, set->opts.provider, &s);
	json_object_put(root);
	if (r)
		return r;
	r = vss_mountpoint_of(dm, s.mountpoint, sizeof(s.mountpoint));
	if (r)
		return r;
	tmp = realloc(set->sh, (set->n + 1) * sizeof(*tmp));
	if (!tmp)
		return -ENOMEM;
	set->sh = tmp;
	set->sh[set->n++] = s;
	vss_dbg(set->ctx, "%s: provider %s, mounted at %s", dm, s.provider,
		s.mountpoint[0] ? s.mountpoint : "(not mounted)");
	return 0;
}

static int set_start_writers(struct vss_set *set)
{
	const char **vols, **mnts;
	char (*paths)[200];
	size_t i;
	int r;

	if (set->ws)
		return 0;
	vols = calloc(set->n + 1, sizeof(*vols));
	mnts = calloc(set->n + 1, sizeof(*mnts));
	paths = calloc(set->n + 1, sizeof(*paths));
	if (!vols || !mnts || !paths) {
		free(vols); free(mnts); free(paths);
		return -ENOMEM;
	}
	for (i = 0; i < set->n; i++) {
		snprintf(paths[i], sizeof(paths[i]), "/dev/mapper/%s", set->sh[i].dm_name);
		vols[i] = paths[i];
		mnts[i] = set->sh[i].mountpoint;
	}
	r = vss_writers_start(set->ctx, set->set_id, vols, mnts, &set->opts, &set->ws);
	free(vols); free(mnts); free(paths);
	return r;
}

VSS_EXPORT int vss_set_gather_writers(struct vss_set *set)
{
	int r = set_start_writers(set);

	if (r)
		vss_strlcpy(set->phase, "identify", sizeof(set->phase));
	return r;
}

static json_object *shadow_json(struct vss_set *set, struct vss_pshadow *s, const char *state)
{
	json_object *o = json_object_new_object();
	char vol[200];

	(void)set;
	snprintf(vol, sizeof(vol), "/dev/mapper/%s", s->dm_name);
	json_object_object_add(o, "shadow_id", json_object_new_int64(s->shadow_id));
	json_object_object_add(o, "volume", json_object_new_string(vol));
	json_object_object_add(o, "name", json_object_new_string(s->dm_name));
	json_object_object_add(o, "device", json_object_new_string(s->device));
	json_object_object_add(o, "provider", json_object_new_string(s->provider));
	json_object_object_add(o, "store", json_object_new_string(s->store));
	json_object_object_add(o, "real", json_object_new_string(s->real));
	json_object_object_add(o, "state", json_object_new_string(state));
	json_object_object_add(o, "snap_id", json_object_new_int64(s->snap_id));
	json_object_object_add(o, "snap_dev", json_object_new_string(s->snap_dev));
	json_object_object_add(o, "mountpoint", json_object_new_string(s->mountpoint));
	if (s->cow_dev[0]) {
		json_object_object_add(o, "cow_dev", json_object_new_string(s->cow_dev));
		json_object_object_add(o, "cow_offset", json_object_new_int64(s->cow_offset));
		json_object_object_add(o, "cow_len", json_object_new_int64(s->cow_len));
	}
	if (s->ext_path[0])
		json_object_object_add(o, "ext_path", json_object_new_string(s->ext_path));
	return o;
}

/* Write the set into the catalog in the given state (replacing it). */
static int set_record(struct vss_set *set, json_object *root, const char *state)
{
	json_object *sets = vss_json_array(root, "sets"), *o, *shs;
	char when[32];
	size_t i;

	for (i = 0; i < json_object_array_length(sets); i++)
		if ((uint64_t)vss_json_int(json_object_array_get_idx(sets, i), "set_id") ==
		    set->set_id) {
			json_object_array_del_idx(sets, i, 1);
			break;
		}
	if (!state)
		return vss_catalog_save(set->ctx, root);
	o = json_object_new_object();
	vss_iso8601(set->created, when, sizeof(when));
	json_object_object_add(o, "set_id", json_object_new_int64(set->set_id));
	json_object_object_add(o, "state", json_object_new_string(state));
	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	json_object_object_add(o, "created", json_object_new_string(when));
	json_object_object_add(o, "tag", json_object_new_string(set->tag));
	json_object_object_add(o, "context", json_object_new_string(
		set->opts.context == VSS_CONTEXT_BACKUP ? "backup" : "persistent"));
	shs = json_object_new_array();
	for (i = 0; i < set->n; i++)
		json_object_array_add(shs, shadow_json(set, &set->sh[i],
			!strcmp(state, "created") ? "created" : "creating"));
	json_object_object_add(o, "shadows", shs);
	json_object_array_add(sets, o);
	vss_writers_record(set->ws, root);
	return vss_catalog_save(set->ctx, root);
}

/* Test hook: VSS_TEST_FAIL=<phase> fails the set there (abort paths in tests). */
static int injected(struct vss_set *set, const char *phase)
{
	const char *f = getenv("VSS_TEST_FAIL");

	if (!f || strcmp(f, phase))
		return 0;
	vss_err(set->ctx, "set %llu: %s: failure injected by VSS_TEST_FAIL",
		(unsigned long long)set->set_id, phase);
	return -EIO;
}

static int fail(struct vss_set *set, const char *phase, int err)
{
	if (!set->phase[0])
		vss_strlcpy(set->phase, phase, sizeof(set->phase));
	return err;
}

VSS_EXPORT int vss_set_commit(struct vss_set *set)
{
	struct vss_ctx *ctx = set->ctx;
	struct vss_watchdog *wd = NULL;
	struct vss_watchdog_item *items = NULL;
	json_object *root = NULL;
	bool *frozen = NULL, *suspended = NULL, hooks_frozen = false, recorded = false;
	bool hook_vetoed = false;
	uint64_t t_writers = 0, t_fs = 0, stall_ms = 0;
	uint32_t cookie = 0;
	char hook[128];
	const char *hang;
	size_t i;
	int r, k;

	if (set->committed || !set->n)
		return -EINVAL;
	set->phase[0] = '\0';
	set->retryable = false;
	r = vss_catalog_load(ctx, &root);
	if (r)
		return r;
	set->set_id = vss_catalog_next_id(root, "next_set_id");
	for (i = 0; i < set->n; i++)
		set->sh[i].shadow_id = vss_catalog_next_id(root, "next_shadow_id");
	set->created = time(NULL);
	frozen = calloc(set->n, sizeof(*frozen));
	suspended = calloc(set->n, sizeof(*suspended));
	items = calloc(set->n, sizeof(*items));
	if (!frozen || !suspended || !items) {
		r = -ENOMEM;
		goto abort;
	}

	/* 1. writers: identify, prepare-backup, prepare-snapshot */
	if (set->ws)
		vss_writers_set_id(set->ws, set->set_id);
	r = set_start_writers(set);
	if (r) {
		r = fail(set, "identify", r);
		goto abort;
	}
	r = vss_writers_event(set->ws, "prepare-backup", 0);
	if (r) {
		r = fail(set, "prepare-backup", r);
		goto abort;
	}
	r = vss_writers_event(set->ws, "prepare-snapshot", 0);
	if (r) {
		r = fail(set, "prepare-snapshot", r);
		goto abort;
	}

	/* The set is in the catalog before anything is made, so that a
	 * coordinator killed from here on leaves nothing the next cannot see. */
	r = set_record(set, root, "creating");
	if (r)
		goto abort;
	recorded = true;
	for (i = 0; i < set->n; i++) {
		r = injected(set, "prepare");
		if (!r)
			r = set->sh[i].ops->prepare(ctx, root, &set->sh[i]);
		if (r) {
			/* -EEXIST: dm-vss-clone holds its one split image already */
			r = fail(set, "prepare", r == -ENOSPC || r == -ENOPKG || r == -EEXIST ?
				 r : -EIO);
			goto abort;
		}
	}
	r = set_record(set, root, "creating");
	if (r)
		goto abort;

	/* 2. freeze the writers and the hooks */
	t_writers = vss_now_ms();
	r = vss_writers_event(set->ws, "freeze", set->opts.freeze_timeout_ms);
	if (r) {
		r = fail(set, "freeze-writers", r);
		goto abort;
	}
	if (!set->opts.no_writers) {
		r = vss_hooks_run(ctx, "freeze", set->opts.freeze_timeout_ms, hook, sizeof(hook));
		if (r) {
			vss_err(ctx, "hook %s: freeze: vetoed the set", hook);
			hook_vetoed = true;
			r = fail(set, "freeze-writers", -ECANCELED);
			goto abort;
		}
		hooks_frozen = true;
	}

	/* 3. one instant for the whole set: watchdog, FIFREEZE all, suspend all, commit */
	for (i = 0; i < set->n; i++) {
		vss_strlcpy(items[i].mountpoint, set->sh[i].mountpoint, sizeof(items[i].mountpoint));
		vss_strlcpy(items[i].dm_name, set->sh[i].dm_name, sizeof(items[i].dm_name));
	}
	r = vss_watchdog_start(ctx, items, set->n, set->opts.commit_timeout_ms, &wd);
	if (r) {
		r = fail(set, "freeze-filesystems", r);
		goto abort;
	}
	t_fs = vss_now_ms();
	for (i = 0; i < set->n; i++) {
		if (!set->sh[i].mountpoint[0])
			continue;
		r = injected(set, "freeze-filesystems");
		if (!r)
			r = vss_fs_freeze(set->sh[i].mountpoint);
		if (r) {
			vss_err(ctx, "%s: cannot freeze the filesystem: %s", set->sh[i].mountpoint,
				strerror(-r));
			r = fail(set, "freeze-filesystems", r);
			goto release;
		}
		frozen[i] = true;
	}
	for (i = 0; i < set->n; i++) {
		/* The filesystem is frozen already: a lockfs suspend would fail (6.1). */
		r = injected(set, "suspend");
		if (!r)
			r = vss_dm_suspend(ctx, set->sh[i].dm_name, true);
		if (r) {
			r = fail(set, "suspend", r);
			goto release;
		}
		suspended[i] = true;
	}
	for (i = 0; i < set->n; i++) {
		r = injected(set, "commit");
		if (!r)
			r = set->sh[i].ops->commit(ctx, &set->sh[i]);
		if (r) {
			vss_err(ctx, "/dev/mapper/%s: provider %s: commit failed: %s",
				set->sh[i].dm_name, set->sh[i].provider, strerror(-r));
			r = fail(set, "commit", r == -ENOPKG ? r : -EIO);
			goto release;
		}
	}
	hang = getenv("VSS_TEST_HANG_FROZEN_MS");
	if (hang)
		usleep(atoi(hang) * 1000);

	/* 4. resume and thaw */
release:
	k = r;
	for (i = set->n; i-- > 0;) {
		int e;

		if (!suspended[i])
			continue;
		/*
		 * Udev is waited for after the thaw: the writers of the
		 * volumes wait for every millisecond spent here.
		 */
		e = vss_dm_resume_cookie(set->sh[i].dm_name, &cookie);
		if (e)
			vss_err(ctx, "/dev/mapper/%s: cannot resume: %s", set->sh[i].dm_name,
				strerror(-e));
		else
			suspended[i] = false;
	}
	for (i = set->n; i-- > 0;) {
		if (!frozen[i])
			continue;
		r = vss_fs_thaw(set->sh[i].mountpoint);
		if (r && r != -EINVAL)
			vss_err(ctx, "%s: cannot thaw: %s", set->sh[i].mountpoint, strerror(-r));
		frozen[i] = false;
	}
	stall_ms = vss_now_ms() - t_fs;
	vss_dm_udev_wait(cookie);
	r = vss_watchdog_stop(wd);
	vss_watchdog_free(wd);
	wd = NULL;
	if (!k && (r || stall_ms > set->opts.commit_timeout_ms)) {
		vss_err(ctx, "set %llu: commit: filesystems frozen %llu ms, limit %u ms",
			(unsigned long long)set->set_id, (unsigned long long)stall_ms,
			set->opts.commit_timeout_ms);
		k = fail(set, "commit", -ETIMEDOUT);
	}
	vss_dbg(ctx, "set %llu: filesystems frozen for %llu ms",
		(unsigned long long)set->set_id, (unsigned long long)stall_ms);
	r = k;
	if (r)
		goto abort;

	/* thaw hooks (reverse order) and writers; did they hold their writes? */
	if (hooks_frozen) {
		hooks_frozen = false;
		if (vss_hooks_run(ctx, "thaw", set->opts.freeze_timeout_ms, hook, sizeof(hook)))
			vss_warn(ctx, "hook %s: thaw failed", hook);
	}
	r = vss_writers_event(set->ws, "thaw", set->opts.freeze_timeout_ms);
	if (r) {
		r = fail(set, "thaw", r);
		goto abort;
	}
	if (vss_now_ms() - t_writers > set->opts.freeze_timeout_ms) {
		vss_err(ctx, "set %llu: writers frozen longer than %u ms",
			(unsigned long long)set->set_id, set->opts.freeze_timeout_ms);
		r = fail(set, "freeze-writers", -ETIMEDOUT);
		goto abort;
	}
	if (!vss_writers_all_held(set->ws)) {
		r = fail(set, "thaw", -ECANCELED);
		goto abort;
	}

	/* the shadow copies' devices */
	for (i = 0; i < set->n; i++) {
		r = injected(set, "activate");
		if (!r)
			r = set->sh[i].ops->activate(ctx, &set->sh[i]);
		if (r) {
			r = fail(set, "activate", -EIO);
			goto abort;
		}
	}
	r = vss_writers_event(set->ws, "post-snapshot", 0);
	if (r) {
		r = fail(set, "post-snapshot", r);
		goto abort;
	}

	/* 6. record */
	r = set_record(set, root, "created");
	if (r)
		goto abort;
	set->committed = true;
	vss_info(ctx, "set %llu: %zu shadow copies, filesystems frozen %llu ms",
		 (unsigned long long)set->set_id, set->n, (unsigned long long)stall_ms);
	free(frozen); free(suspended); free(items);
	json_object_put(root);
	return 0;

abort:
	/* Nothing stays frozen or suspended; nothing made stays. */
	if (hooks_frozen)
		vss_hooks_run(ctx, "thaw", set->opts.freeze_timeout_ms, hook, sizeof(hook));
	/*
	 * --retry: only the writers' own word makes a failure worth another
	 * try ("retryable": true, or writes not held); a hook's veto, a writer
	 * that hung, died or said "retryable": false does not.
	 */
	set->retryable = r == -ECANCELED && set->ws && !hook_vetoed &&
			 vss_writers_retryable(set->ws);
	if (set->ws) {
		vss_writers_record(set->ws, root);
		vss_writers_stop(set->ws, true);
		set->ws = NULL;
	}
	for (i = 0; i < set->n; i++)
		if (set->sh[i].ops && set->sh[i].snap_dev[0] &&
		    set->sh[i].ops->remove(ctx, &set->sh[i]))
			vss_err(ctx, "/dev/mapper/%s: cannot delete the half-made shadow copy",
				set->sh[i].dm_name);
	if (recorded)
		set_record(set, root, NULL);
	else if (root)
		vss_catalog_save(ctx, root);
	vss_err(ctx, "set %llu: aborted at %s: %s", (unsigned long long)set->set_id,
		set->phase[0] ? set->phase : "start", vss_strerror(r));
	set->set_id = 0;
	free(frozen); free(suspended); free(items);
	json_object_put(root);
	return r;
}

VSS_EXPORT const char *vss_set_failed_phase(struct vss_set *set)
{
	return set->phase[0] ? set->phase : NULL;
}

VSS_EXPORT bool vss_set_retryable(struct vss_set *set)
{
	return set && !set->committed && set->retryable;
}

VSS_EXPORT uint64_t vss_set_id(struct vss_set *set)
{
	return set->committed ? set->set_id : 0;
}

VSS_EXPORT size_t vss_set_shadow_count(struct vss_set *set)
{
	return set->committed ? set->n : 0;
}

VSS_EXPORT int vss_set_shadow(struct vss_set *set, size_t i, struct vss_shadow_info *info)
{
	struct vss_pshadow *s;

	if (!set->committed || i >= set->n)
		return -EINVAL;
	s = &set->sh[i];
	memset(info, 0, sizeof(*info));
	info->shadow_id = s->shadow_id;
	info->set_id = set->set_id;
	snprintf(info->volume, sizeof(info->volume), "/dev/mapper/%s", s->dm_name);
	vss_strlcpy(info->device, s->device, sizeof(info->device));
	vss_strlcpy(info->provider, s->provider, sizeof(info->provider));
	vss_strlcpy(info->store, s->store, sizeof(info->store));
	vss_strlcpy(info->state, "created", sizeof(info->state));
	vss_strlcpy(info->tag, set->tag, sizeof(info->tag));
	info->created = set->created;
	info->snap_id = s->snap_id;
	return 0;
}

VSS_EXPORT int vss_set_backup_complete(struct vss_set *set, bool success)
{
	json_object *root;
	int r = 0;

	if (!set->committed)
		return -EINVAL;
	if (set->ws) {
		if (success)
			r = vss_writers_event(set->ws, "backup-complete", 0);
		else
			vss_writers_event(set->ws, "abort", 0);
		if (!vss_catalog_load(set->ctx, &root)) {
			vss_writers_record(set->ws, root);
			vss_catalog_save(set->ctx, root);
			json_object_put(root);
		}
		vss_writers_stop(set->ws, false);
		set->ws = NULL;
	}
	if (set->opts.context == VSS_CONTEXT_BACKUP && !set->released) {
		set->released = true;
		vss_set_delete(set->ctx, set->set_id);
	}
	return r;
}

VSS_EXPORT void vss_set_free(struct vss_set *set)
{
	if (!set)
		return;
	if (set->ws)
		vss_writers_stop(set->ws, !set->committed);
	if (set->committed && set->opts.context == VSS_CONTEXT_BACKUP && !set->released)
		vss_set_delete(set->ctx, set->set_id);
	free(set->sh);
	free_list(set->writers);
	free_list(set->exclude);
	free(set);
}
