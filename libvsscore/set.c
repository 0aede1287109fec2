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
#include <sys/stat.h>
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

/* The devices of the set's volumes, as st_dev of their files shows them. */
static dev_t *set_devs(struct vss_set *set, size_t *n)
{
	dev_t *devs = calloc(2 * set->n + 1, sizeof(*devs));
	char path[200];
	struct stat st;
	size_t i;

	*n = 0;
	for (i = 0; devs && i < set->n; i++) {
		snprintf(path, sizeof(path), "/dev/mapper/%s", set->sh[i].dm_name);
		if (!stat(path, &st) && S_ISBLK(st.st_mode))
			devs[(*n)++] = st.st_rdev;
		if (set->sh[i].mountpoint[0] && !stat(set->sh[i].mountpoint, &st))
			devs[(*n)++] = st.st_dev;
	}
	return devs;
}

static bool set_has(struct vss_set *set, const char *dm_name)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (!strcmp(set->sh[i].dm_name, dm_name))
			return true;
	return false;
}

static int refuse_gap(struct vss_set *set, const struct vss_component_gap *g, const char *why)
{
	vss_err(set->ctx, "component %s/%s has %s on %s%s, which %s: a shadow copy set must hold "
		"the whole component; %s, or leave the writer out with --exclude-writer %s "
		"(or --no-writers)", g->writer, g->component, g->file,
		g->dm_name[0] ? "/dev/mapper/" : "device ",
		g->dm_name[0] ? g->dm_name : "(not device-mapper)", why,
		g->dm_name[0] ? "give that volume shadow copy storage (vss-storage add) and "
		"name it too" : "move the files to a volume of the set", g->writer);
	return -ECANCELED;
}

/*
 * Every file of a component that is in the set on a volume of the set: the
 * volumes that hold the rest are added, saying so (*added), or the set is
 * refused naming the component, the file and the volume.
 */
static int set_complete_components(struct vss_set *set, bool *added)
{
	struct vss_component_gap *gaps = NULL;
	size_t n_devs, n = 0, i;
	dev_t *devs = set_devs(set, &n_devs);
	int r;

	*added = false;
	if (!devs)
		return -ENOMEM;
	r = vss_component_gaps(set->ws, devs, n_devs, &gaps, &n);
	free(devs);
	for (i = 0; !r && i < n; i++) {
		char vol[200];

		if (!gaps[i].dm_name[0]) {
			r = refuse_gap(set, &gaps[i], "is not a device-mapper volume");
			break;
		}
		if (set_has(set, gaps[i].dm_name))
			continue;
		snprintf(vol, sizeof(vol), "/dev/mapper/%s", gaps[i].dm_name);
		if (vss_set_add_volume(set, vol)) {
			r = refuse_gap(set, &gaps[i], "is not in the set and cannot be shadow-copied");
			break;
		}
		vss_warn(set->ctx, "%s added to the set: component %s/%s has %s on it", vol,
			 gaps[i].writer, gaps[i].component, gaps[i].file);
		*added = true;
	}
	free(gaps);
	return r;
}

static int set_start_writers_once(struct vss_set *set)
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

/*
 * The writers' identify, and the set completed to whole components: a
 * volume added may hold other writers' files, so they are asked again
 * until no volume is added (at most once per volume that can be added).
 */
static int set_start_writers(struct vss_set *set)
{
	bool added = true;
	int r = 0, round;

	if (set->ws)
		return 0;
	for (round = 0; added && round < 64; round++) {
		if (set->ws) {
			vss_writers_stop(set->ws, false);
			set->ws = NULL;
		}
		r = set_start_writers_once(set);
		if (!r)
			r = set_complete_components(set, &added);
		if (r)
			break;
	}
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
	/* The writers' identify answers and private data, for verify and restore. */
	json_object_object_add(o, "writers", vss_writers_set_json(set->ws));
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

/*
 * What one commit holds from step to step: the catalog it records the set
 * in, what is frozen or suspended (so that every way out undoes exactly
 * that), and the times the limits are checked against.
 */
struct commit {
	json_object *root;
	struct vss_watchdog *wd;
	struct vss_watchdog_item *items;
	bool *frozen, *suspended;
	bool hooks_frozen, recorded, hook_vetoed;
	uint64_t t_writers, t_fs, stall_ms;
	uint32_t cookie;
	char hook[128];
};

/* 1. Ids, the writers' identify, prepare-backup and prepare-snapshot, the
 *    set in the catalog as "creating", and each provider's prepare. */
static int commit_prepare(struct vss_set *set, struct commit *c)
{
	struct vss_ctx *ctx = set->ctx;
	size_t i;
	int r;

	set->set_id = vss_catalog_next_id(c->root, "next_set_id");
	if (set->ws)
		vss_writers_set_id(set->ws, set->set_id);
	/* identify may add volumes to the set (whole components): first */
	r = set_start_writers(set);
	if (r)
		return fail(set, "identify", r);
	for (i = 0; i < set->n; i++)
		set->sh[i].shadow_id = vss_catalog_next_id(c->root, "next_shadow_id");
	set->created = time(NULL);
	c->frozen = calloc(set->n, sizeof(*c->frozen));
	c->suspended = calloc(set->n, sizeof(*c->suspended));
	c->items = calloc(set->n, sizeof(*c->items));
	if (!c->frozen || !c->suspended || !c->items)
		return -ENOMEM;

	r = vss_writers_event(set->ws, "prepare-backup", 0);
	if (r)
		return fail(set, "prepare-backup", r);
	r = vss_writers_event(set->ws, "prepare-snapshot", 0);
	if (r)
		return fail(set, "prepare-snapshot", r);

	/* The set is in the catalog before anything is made, so that a
	 * coordinator killed from here on leaves nothing the next cannot see. */
	r = set_record(set, c->root, "creating");
	if (r)
		return r;
	c->recorded = true;
	for (i = 0; i < set->n; i++) {
		r = injected(set, "prepare");
		if (!r)
			r = set->sh[i].ops->prepare(ctx, c->root, &set->sh[i]);
		if (r)
			/* -EEXIST: dm-vss-clone holds its one split image already */
			return fail(set, "prepare", r == -ENOSPC || r == -ENOPKG || r == -EEXIST ?
				    r : -EIO);
	}
	return set_record(set, c->root, "creating");
}

/* 2. Freeze the writers, then the hooks. */
static int commit_freeze_writers(struct vss_set *set, struct commit *c)
{
	int r;

	c->t_writers = vss_now_ms();
	r = vss_writers_event(set->ws, "freeze", set->opts.freeze_timeout_ms);
	if (r)
		return fail(set, "freeze-writers", r);
	if (set->opts.no_writers)
		return 0;
	r = vss_hooks_run(set->ctx, "freeze", set->opts.freeze_timeout_ms, c->hook,
			  sizeof(c->hook));
	if (r) {
		vss_err(set->ctx, "hook %s: freeze: vetoed the set", c->hook);
		c->hook_vetoed = true;
		return fail(set, "freeze-writers", -ECANCELED);
	}
	c->hooks_frozen = true;
	return 0;
}

/* 3. One instant for the whole set: the watchdog, FIFREEZE all, suspend all,
 *    each provider's commit.  What it froze or suspended, commit_release undoes. */
static int commit_instant(struct vss_set *set, struct commit *c)
{
	struct vss_ctx *ctx = set->ctx;
	const char *hang;
	size_t i;
	int r;

	for (i = 0; i < set->n; i++) {
		vss_strlcpy(c->items[i].mountpoint, set->sh[i].mountpoint,
			    sizeof(c->items[i].mountpoint));
		vss_strlcpy(c->items[i].dm_name, set->sh[i].dm_name, sizeof(c->items[i].dm_name));
	}
	r = vss_watchdog_start(ctx, c->items, set->n, set->opts.commit_timeout_ms, &c->wd);
	if (r) {
		c->wd = NULL;
		return fail(set, "freeze-filesystems", r);
	}
	c->t_fs = vss_now_ms();
	for (i = 0; i < set->n; i++) {
		if (!set->sh[i].mountpoint[0])
			continue;
		r = injected(set, "freeze-filesystems");
		if (!r)
			r = vss_fs_freeze(set->sh[i].mountpoint);
		if (r) {
			vss_err(ctx, "%s: cannot freeze the filesystem: %s", set->sh[i].mountpoint,
				strerror(-r));
			return fail(set, "freeze-filesystems", r);
		}
		c->frozen[i] = true;
	}
	for (i = 0; i < set->n; i++) {
		/* The filesystem is frozen already: a lockfs suspend would fail (6.1). */
		r = injected(set, "suspend");
		if (!r)
			r = vss_dm_suspend(ctx, set->sh[i].dm_name, true);
		if (r)
			return fail(set, "suspend", r);
		c->suspended[i] = true;
	}
	for (i = 0; i < set->n; i++) {
		r = injected(set, "commit");
		if (!r)
			r = set->sh[i].ops->commit(ctx, &set->sh[i]);
		if (r) {
			vss_err(ctx, "/dev/mapper/%s: provider %s: commit failed: %s",
				set->sh[i].dm_name, set->sh[i].provider, strerror(-r));
			return fail(set, "commit", r == -ENOPKG ? r : -EIO);
		}
	}
	hang = getenv("VSS_TEST_HANG_FROZEN_MS");
	if (hang)
		usleep(atoi(hang) * 1000);
	return 0;
}

/* 4. Resume and thaw what commit_instant took, stop the watchdog, and check
 *    the commit limit.  Returns the commit's result, or the limit's failure. */
static int commit_release(struct vss_set *set, struct commit *c, int r)
{
	struct vss_ctx *ctx = set->ctx;
	size_t i;
	int e;

	if (!c->wd)
		return r;
	for (i = set->n; i-- > 0;) {
		if (!c->suspended[i])
			continue;
		/*
		 * Udev is waited for after the thaw: the writers of the
		 * volumes wait for every millisecond spent here.
		 */
		e = vss_dm_resume_cookie(set->sh[i].dm_name, &c->cookie);
		if (e)
			vss_err(ctx, "/dev/mapper/%s: cannot resume: %s", set->sh[i].dm_name,
				strerror(-e));
		else
			c->suspended[i] = false;
	}
	for (i = set->n; i-- > 0;) {
		if (!c->frozen[i])
			continue;
		e = vss_fs_thaw(set->sh[i].mountpoint);
		if (e && e != -EINVAL)
			vss_err(ctx, "%s: cannot thaw: %s", set->sh[i].mountpoint, strerror(-e));
		c->frozen[i] = false;
	}
	c->stall_ms = vss_now_ms() - c->t_fs;
	vss_dm_udev_wait(c->cookie);
	e = vss_watchdog_stop(c->wd);
	vss_watchdog_free(c->wd);
	c->wd = NULL;
	if (!r && (e || c->stall_ms > set->opts.commit_timeout_ms)) {
		vss_err(ctx, "set %llu: commit: filesystems frozen %llu ms, limit %u ms",
			(unsigned long long)set->set_id, (unsigned long long)c->stall_ms,
			set->opts.commit_timeout_ms);
		r = fail(set, "commit", -ETIMEDOUT);
	}
	vss_dbg(ctx, "set %llu: filesystems frozen for %llu ms",
		(unsigned long long)set->set_id, (unsigned long long)c->stall_ms);
	return r;
}

/* 5. Thaw the hooks and the writers: did they hold their writes, in time? */
static int commit_thaw_writers(struct vss_set *set, struct commit *c)
{
	int r;

	if (c->hooks_frozen) {
		c->hooks_frozen = false;
		if (vss_hooks_run(set->ctx, "thaw", set->opts.freeze_timeout_ms, c->hook,
				  sizeof(c->hook)))
			vss_warn(set->ctx, "hook %s: thaw failed", c->hook);
	}
	r = vss_writers_event(set->ws, "thaw", set->opts.freeze_timeout_ms);
	if (r)
		return fail(set, "thaw", r);
	if (vss_now_ms() - c->t_writers > set->opts.freeze_timeout_ms) {
		vss_err(set->ctx, "set %llu: writers frozen longer than %u ms",
			(unsigned long long)set->set_id, set->opts.freeze_timeout_ms);
		return fail(set, "freeze-writers", -ETIMEDOUT);
	}
	if (!vss_writers_all_held(set->ws))
		return fail(set, "thaw", -ECANCELED);
	return 0;
}

/* 6. The shadow copies' devices, post-snapshot, and the set recorded "created". */
static int commit_activate(struct vss_set *set, struct commit *c)
{
	size_t i;
	int r;

	for (i = 0; i < set->n; i++) {
		r = injected(set, "activate");
		if (!r)
			r = set->sh[i].ops->activate(set->ctx, &set->sh[i]);
		if (r)
			return fail(set, "activate", -EIO);
	}
	r = vss_writers_event(set->ws, "post-snapshot", 0);
	if (r)
		return fail(set, "post-snapshot", r);
	return set_record(set, c->root, "created");
}

/* Nothing stays frozen or suspended; nothing made stays. */
static int commit_abort(struct vss_set *set, struct commit *c, int r)
{
	struct vss_ctx *ctx = set->ctx;
	size_t i;

	if (c->hooks_frozen)
		vss_hooks_run(ctx, "thaw", set->opts.freeze_timeout_ms, c->hook, sizeof(c->hook));
	/*
	 * --retry: only the writers' own word makes a failure worth another
	 * try ("retryable": true, or writes not held); a hook's veto, a writer
	 * that hung, died or said "retryable": false does not.
	 */
	set->retryable = r == -ECANCELED && set->ws && !c->hook_vetoed &&
			 vss_writers_retryable(set->ws);
	if (set->ws) {
		vss_writers_record(set->ws, c->root);
		vss_writers_stop(set->ws, true);
		set->ws = NULL;
	}
	for (i = 0; i < set->n; i++)
		if (set->sh[i].ops && set->sh[i].snap_dev[0] &&
		    set->sh[i].ops->remove(ctx, &set->sh[i]))
			vss_err(ctx, "/dev/mapper/%s: cannot delete the half-made shadow copy",
				set->sh[i].dm_name);
	if (c->recorded)
		set_record(set, c->root, NULL);
	else
		vss_catalog_save(ctx, c->root);
	vss_err(ctx, "set %llu: aborted at %s: %s", (unsigned long long)set->set_id,
		set->phase[0] ? set->phase : "start", vss_strerror(r));
	set->set_id = 0;
	return r;
}

/*
 * Take the set: prepare, freeze the writers, take the instant, release it,
 * thaw the writers, activate; any failure aborts over the same state.
 */
VSS_EXPORT int vss_set_commit(struct vss_set *set)
{
	struct commit c = { 0 };
	int r;

	if (set->committed || !set->n)
		return -EINVAL;
	set->phase[0] = '\0';
	set->retryable = false;
	r = vss_catalog_load(set->ctx, &c.root);
	if (r)
		return r;
	r = commit_prepare(set, &c);
	if (!r)
		r = commit_freeze_writers(set, &c);
	if (!r)
		r = commit_release(set, &c, commit_instant(set, &c));
	if (!r)
		r = commit_thaw_writers(set, &c);
	if (!r)
		r = commit_activate(set, &c);
	if (r) {
		r = commit_abort(set, &c, r);
	} else {
		set->committed = true;
		vss_info(set->ctx, "set %llu: %zu shadow copies, filesystems frozen %llu ms",
			 (unsigned long long)set->set_id, set->n, (unsigned long long)c.stall_ms);
	}
	free(c.frozen);
	free(c.suspended);
	free(c.items);
	json_object_put(c.root);
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
