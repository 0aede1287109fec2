// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vss_activate: after a reboot no device-mapper device of ours exists, but
 * the catalog and the stores do.  From the catalog's "storage" entries the
 * volumes are put back under their origin target, the way vss_storage_add()
 * first did it (the volume's table, as LVM or the boot recreated it, moves
 * to <name>-real and the volume is reloaded with the origin over it); from
 * each store's snapshot table the shadow copies that it still holds get
 * their devices back.  Whatever exists already is left alone, so a second
 * run changes nothing.
 *
 * The store's snapshot table is read with the store reader before the
 * origin loads it; the kernel then checks again when the vss-snap table is
 * loaded (a snapshot it does not know fails with ENOENT) and tells in the
 * status whether it is valid.
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

struct act {
	struct vss_ctx *ctx;
	bool dry;
	struct vss_activate_result *res;
	int err;		/* the first failure (-ENOPKG wins) */
	bool changed;		/* the catalog needs saving */
};

/* What one store's snapshot table says, read before the origin loads it. */
struct store_table {
	bool known;		/* the table was read */
	bool unformatted;	/* first 4 KiB zero: no snapshot survives */
	unsigned int n;
	struct vss_store_snap *snaps;
};

static void failed(struct act *a, int err)
{
	a->res->failed++;
	if (!a->err || err == -ENOPKG)
		a->err = err;
}

static bool is_blockdev(const char *path)
{
	struct stat st;

	return path && *path && stat(path, &st) == 0 && S_ISBLK(st.st_mode);
}

static void store_log(int level, const char *msg, void *arg)
{
	struct act *a = arg;

	if (level >= VSS_STORE_LOG_ERROR)
		vss_warn(a->ctx, "%s", msg);
	else
		vss_dbg(a->ctx, "%s", msg);
}

static void read_store_table(struct act *a, const char *path, struct store_table *t)
{
	struct vss_store_callbacks cb = { NULL, store_log, a };
	struct vss_store_info info;
	struct vss_store *s;
	int fd, r;

	memset(t, 0, sizeof(*t));
	/*
	 * The kernel writes the store with bios, past the page cache: drop
	 * what an earlier reader may have left there before reading.
	 */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ioctl(fd, BLKFLSBUF, 0);
		close(fd);
	}
	r = vss_store_open(path, 0, &cb, &s);
	if (r) {
		vss_warn(a->ctx, "%s: cannot read the store's snapshot table: %s", path,
			 strerror(-r));
		return;
	}
	if (vss_store_load(s) == 0 && vss_store_get_info(s, &info) == 0) {
		if (info.state == VSS_STORE_UNFORMATTED) {
			t->known = t->unformatted = true;
		} else if (info.state == VSS_STORE_LOADED) {
			t->n = vss_store_snap_count(s);
			t->snaps = calloc(t->n + 1, sizeof(*t->snaps));
			if (t->snaps) {
				for (unsigned int i = 0; i < t->n; i++)
					vss_store_snap_get(s, i, &t->snaps[i]);
				t->known = true;
			}
		} else {
			vss_warn(a->ctx, "%s: no valid superblock: the store's snapshot table "
				 "cannot be read", path);
		}
	}
	vss_store_close(s);
}

static const struct vss_store_snap *store_snap(const struct store_table *t, uint32_t id)
{
	unsigned int i;

	for (i = 0; i < t->n; i++)
		if (t->snaps[i].snap_id == id)
			return &t->snaps[i];
	return NULL;
}

static bool same_tables(const struct vss_dm_target *x, size_t nx,
			const struct vss_dm_target *y, size_t ny)
{
	size_t i;

	if (nx != ny)
		return false;
	for (i = 0; i < nx; i++)
		if (x[i].start != y[i].start || x[i].length != y[i].length ||
		    strcmp(x[i].type, y[i].type) || strcmp(x[i].params, y[i].params))
			return false;
	return true;
}


/*
 * Whether the volume's live table is already what activation makes: the
 * origin target, or for a split clone a linear table over <name>-real
 * (which the table LVM or the boot made, over the disk, is not).
 */
static bool origin_in_place(const struct vss_dm_target *vt, size_t nv, const char *otype,
			    const char *real, bool real_exists)
{
	unsigned maj, min;
	char dev[32];

	if (nv != 1 || strcmp(vt[0].type, otype))
		return false;
	if (strcmp(otype, "linear"))
		return true;
	if (!real_exists || vss_dm_info(real, NULL, &maj, &min, NULL))
		return false;
	snprintf(dev, sizeof(dev), "%u:%u ", maj, min);
	return !strncmp(vt[0].params, dev, strlen(dev));
}

/* One volume on its way back under its origin. */
struct origin {
	const char *name, *real, *store;
	struct vss_dm_target ot;	/* the origin's table, from the provider */
	char params[600];
	struct vss_dm_target *vt, *rt;	/* the volume's and <name>-real's tables */
	size_t nv, nr;
	bool vol_exists, real_exists;
	const struct vss_dm_target *base; /* what goes under the origin */
	size_t nb;
	struct vss_dm_target wrap;
	char wparams[300];
};

/* Its store is there, and the kernel target its origin needs is loaded. */
static int origin_can_load(struct vss_ctx *ctx, const struct vss_provider *p,
			   const struct origin *o)
{
	const char *otype = o->ot.type;
	uint64_t len = 0;
	unsigned v[3];

	/* a detached loop device, or a disk gone while its node stays: no size */
	if (!is_blockdev(o->store) || vss_blkdev_size(o->store, &len) || len < 512) {
		vss_err(ctx, "/dev/mapper/%s: cannot bring back its %s: its store %s is missing "
			"(no such device, or empty)", o->name, otype, o->store);
		return -ENODEV;
	}
	if (p->kernel_target && !strcmp(otype, p->kernel_target) &&
	    vss_dm_target_version(otype, v)) {
		vss_err(ctx, "/dev/mapper/%s: cannot bring back its %s: the kernel target "
			"is not loaded (modprobe dm-vss)", o->name, otype);
		return -ENOPKG;
	}
	return 0;
}

/*
 * The table that goes under the origin as <name>-real: that of <name>-real
 * left by an earlier run, else the volume's own, else the partition that
 * vss-storage add --wrap wrapped.
 */
static int origin_base(struct vss_ctx *ctx, json_object *st, struct origin *o)
{
	const char *wrapped_dev = vss_json_str(st, "wrapped_dev");
	uint64_t sectors = 0;
	int r;

	if (o->real_exists) {
		/* an earlier run stopped between the two steps */
		r = vss_dm_table(o->real, false, &o->rt, &o->nr);
		if (r || !o->nr) {
			vss_err(ctx, "/dev/mapper/%s: cannot read the table of %s: %s", o->name,
				o->real, r ? strerror(-r) : "no table");
			return r ? r : -ENODEV;
		}
		if (o->vol_exists && o->nv && !same_tables(o->vt, o->nv, o->rt, o->nr)) {
			vss_err(ctx, "/dev/mapper/%s: cannot bring back its %s: both it and %s exist "
				"with different tables (%s %s / %s %s): remove the wrong one", o->name,
				o->ot.type, o->real, o->vt[0].type, o->vt[0].params, o->rt[0].type,
				o->rt[0].params);
			return -EEXIST;
		}
		o->base = o->rt;
		o->nb = o->nr;
		return 0;
	}
	if (o->vol_exists && o->nv) {
		o->base = o->vt;
		o->nb = o->nv;
		return 0;
	}
	if (!vss_json_bool(st, "wrapped")) {
		vss_err(ctx, "/dev/mapper/%s: cannot bring back: the volume is not active "
			"(activate its logical volume, or create its table, then run "
			"vss-activate again)", o->name);
		return -ENODEV;
	}
	if (!is_blockdev(wrapped_dev)) {
		vss_err(ctx, "/dev/mapper/%s: cannot bring back: the partition it wraps, %s, "
			"is missing", o->name, wrapped_dev);
		return -ENODEV;
	}
	r = vss_blkdev_size(wrapped_dev, &sectors);
	if (r) {
		vss_err(ctx, "%s: cannot read the size: %s", wrapped_dev, strerror(-r));
		return r;
	}
	snprintf(o->wparams, sizeof(o->wparams), "%s 0", wrapped_dev);
	o->wrap = (struct vss_dm_target){ 0, sectors >> 9, "linear", o->wparams };
	o->base = &o->wrap;
	o->nb = 1;
	return 0;
}

/* <name>-real with the base table, then the volume with the origin's. */
static int origin_load(struct vss_ctx *ctx, struct origin *o)
{
	bool made_real = false;
	int r;

	if (!o->real_exists) {
		r = vss_dm_create(ctx, o->real, NULL, o->base, o->nb, false, true);
		if (r)
			return r;
		made_real = true;
	}
	if (o->vol_exists) {
		/* load first: a refused table leaves the volume as it was */
		r = vss_dm_load(ctx, o->name, &o->ot, 1, false);
		if (!r) {
			r = vss_dm_suspend(ctx, o->name, false);
			if (!r)
				r = vss_dm_resume(ctx, o->name);
			else
				vss_dm_resume(ctx, o->name);
		}
	} else {
		r = vss_dm_create(ctx, o->name, NULL, &o->ot, 1, false, true);
	}
	if (r) {
		vss_err(ctx, "/dev/mapper/%s: cannot bring back its %s: %s", o->name, o->ot.type,
			strerror(-r));
		if (made_real)
			vss_dm_remove(ctx, o->real);
	}
	return r;
}

/*
 * Put one volume back under its origin: the provider's origin table; left
 * alone when already live; its store and kernel target there; the table
 * that goes under it; load.  Returns 0 when the origin is (or, in a dry
 * run, would be) in place; *loaded_now tells whether it was loaded by this
 * call (the volume was not live under it before).
 */
static int activate_origin(struct act *a, const struct vss_provider *p, json_object *root,
			   json_object *st, bool *loaded_now)
{
	struct vss_ctx *ctx = a->ctx;
	struct origin o = {
		.name = vss_json_str(st, "name"), .real = vss_json_str(st, "real"),
		.store = vss_json_str(st, "store"),
	};
	size_t i;
	int r;

	*loaded_now = false;
	r = p->origin_table(root, st, &o.ot, o.params, sizeof(o.params));
	if (r) {
		vss_err(ctx, "/dev/mapper/%s: cannot make its origin's table: %s", o.name,
			strerror(-r));
		goto fail;
	}
	o.vol_exists = vss_dm_exists(o.name) == 1;
	o.real_exists = vss_dm_exists(o.real) == 1;
	if (o.vol_exists && vss_dm_table(o.name, false, &o.vt, &o.nv) == 0 &&
	    origin_in_place(o.vt, o.nv, o.ot.type, o.real, o.real_exists)) {
		vss_dbg(ctx, "/dev/mapper/%s: already under its %s: left alone", o.name, o.ot.type);
		a->res->origins_present++;
		goto out;
	}
	r = origin_can_load(ctx, p, &o);
	if (!r)
		r = origin_base(ctx, st, &o);
	if (r)
		goto fail;
	for (i = 0; i < o.nb; i++)
		if (o.base[i].start + o.base[i].length > o.ot.length)
			o.ot.length = o.base[i].start + o.base[i].length;
	if (a->dry) {
		if (!o.real_exists)
			vss_info(ctx, "/dev/mapper/%s: would create %s (%s %s)", o.name, o.real,
				 o.base[0].type, o.base[0].params);
		vss_info(ctx, "/dev/mapper/%s: would %s %s %s", o.name,
			 o.vol_exists ? "reload with" : "create with", o.ot.type, o.params);
	} else {
		r = origin_load(ctx, &o);
		if (r)
			goto fail;
		vss_info(ctx, "/dev/mapper/%s: %s loaded over /dev/mapper/%s (store %s)", o.name,
			 o.ot.type, o.real, o.store);
	}
	a->res->origins_loaded++;
	*loaded_now = true;
	goto out;
fail:
	failed(a, r);
out:
	vss_dm_targets_free(o.vt, o.nv);
	vss_dm_targets_free(o.rt, o.nr);
	return r;
}

static void mark(struct act *a, json_object *sh, const char *state)
{
	const char *old = vss_json_str(sh, "state");

	if (a->dry || (old && !strcmp(old, state)))
		return;
	json_object_object_add(sh, "state", json_object_new_string(state));
	a->changed = true;
}

static void invalid(struct act *a, json_object *sh, const char *why)
{
	vss_warn(a->ctx, "shadow copy %lld: %s: %s invalid", (long long)vss_json_int(sh, "shadow_id"),
		 why, a->dry ? "would be marked" : "marked");
	mark(a, sh, "invalid");
	a->res->shadows_invalid++;
}

/*
 * What the store's snapshot table, read before the origin loaded it, says
 * of the copy: NULL when it holds it valid (or was not read), else why not.
 */
static const char *store_table_says(const struct store_table *table, json_object *sh,
				    char *why, size_t wsize)
{
	const struct vss_store_snap *ss;

	if (!table->known)
		return NULL;
	if (table->unformatted)
		return "its store is empty (not formatted)";
	ss = store_snap(table, (uint32_t)vss_json_int(sh, "snap_id"));
	if (!ss)
		return "gone from its store";
	if (ss->state == VSS_SNAP_VALID)
		return NULL;
	snprintf(why, wsize, "%s in its store", vss_store_snap_state_name(ss->state));
	return why;
}

/* One shadow copy's device again, through its provider. */
static void activate_shadow(struct act *a, const struct vss_provider *p, json_object *st,
			    json_object *sh, const struct store_table *table)
{
	char why[128] = "";
	const char *gone = store_table_says(table, sh, why, sizeof(why));
	int r;

	if (gone) {
		invalid(a, sh, gone);
		return;
	}
	r = p->reactivate(a->ctx, st, sh, a->dry, why, sizeof(why));
	if (r == VSS_REACTIVATE_INVALID) {
		invalid(a, sh, why);
	} else if (r) {
		failed(a, r);
	} else {
		mark(a, sh, "created");
		a->res->shadows_loaded++;
	}
}

/* The exposure of a copy does not survive its mount: clear stale records. */
static void clear_stale_exposure(struct act *a, json_object *sh)
{
	const char *ex = vss_json_str(sh, "exposed");

	if (!ex || !*ex || vss_exposure_live(sh))
		return;
	vss_info(a->ctx, "shadow copy %lld: no longer mounted at %s: %s",
		 (long long)vss_json_int(sh, "shadow_id"), ex,
		 a->dry ? "the record would be cleared" : "record cleared");
	if (a->dry)
		return;
	/* a writable view is not brought back: what is left of it goes */
	vss_exposure_forget(a->ctx, sh);
	a->changed = true;
}

static void activate_volume(struct act *a, json_object *root, json_object *st)
{
	struct vss_ctx *ctx = a->ctx;
	const char *name = vss_json_str(st, "name"), *provider = vss_json_str(st, "provider");
	const char *store = vss_json_str(st, "store");
	json_object *sets = vss_json_array(root, "sets");
	struct store_table table = { 0 };
	const struct vss_provider *p;
	bool loaded_now = false;
	size_t i, j;
	unsigned int k;
	int r;

	if (!name || !provider || !vss_json_str(st, "real") || !store) {
		vss_warn(ctx, "catalog: a storage entry lacks its name, real, store or provider: "
			 "skipped");
		return;
	}
	p = vss_provider_by_name(provider);
	if (!p->reactivate || !p->origin_table) {
		vss_warn(ctx, "/dev/mapper/%s: provider %s: vss-activate does not bring it back: "
			 "left alone", name, provider);
		return;
	}
	if ((p->caps & VSS_PROVIDER_STORE_TABLE) && is_blockdev(store))
		read_store_table(a, store, &table);
	r = activate_origin(a, p, root, st, &loaded_now);

	for (i = 0; sets && i < json_object_array_length(sets); i++) {
		json_object *set = json_object_array_get_idx(sets, i);
		json_object *shs = vss_json_array(set, "shadows");
		const char *sstate = vss_json_str(set, "state");

		if (sstate && (!strcmp(sstate, "creating") || !strcmp(sstate, "deleting")))
			continue;
		for (j = 0; shs && j < json_object_array_length(shs); j++) {
			json_object *sh = json_object_array_get_idx(shs, j);
			const char *sname = vss_json_str(sh, "name");
			const char *state = vss_json_str(sh, "state");
			const char *snap_dev = vss_json_str(sh, "snap_dev");
			const char *sp = vss_json_str(sh, "provider");
			long long id = (long long)vss_json_int(sh, "shadow_id");

			if (!sname || strcmp(sname, name) || !sp || strcmp(sp, provider))
				continue;
			clear_stale_exposure(a, sh);
			if (state && !strcmp(state, "invalid")) {
				vss_dbg(ctx, "shadow copy %lld: invalid: left alone", id);
				continue;
			}
			if (!snap_dev || !*snap_dev) {
				invalid(a, sh, "no device name recorded");
				continue;
			}
			if (vss_dm_exists(snap_dev) == 1) {
				vss_dbg(ctx, "shadow copy %lld: /dev/mapper/%s present: left alone",
					id, snap_dev);
				a->res->shadows_present++;
				mark(a, sh, "created");
				continue;
			}
			if (r) {
				vss_err(ctx, "shadow copy %lld: cannot bring back: its volume "
					"/dev/mapper/%s is not under its origin", id, name);
				failed(a, -ENODEV);
				continue;
			}
			activate_shadow(a, p, st, sh, &table);
		}
	}

	/* Snapshots the store holds that no catalog entry knows: say so, keep them. */
	for (k = 0; table.known && k < table.n; k++) {
		struct vss_shadow_iter it;
		json_object *sh;
		bool known = false;

		vss_for_each_shadow(sh, &it, root) {
			const char *so = vss_json_str(sh, "store");

			known = so && !strcmp(so, store) &&
				(uint32_t)vss_json_int(sh, "snap_id") == table.snaps[k].snap_id;
			if (known)
				break;
		}
		if (!known)
			vss_warn(ctx, "%s: snapshot %u (%s) is in the store but not in the catalog: "
				 "`dmsetup message /dev/mapper/%s 0 delete %u` frees its space",
				 store, table.snaps[k].snap_id,
				 vss_store_snap_state_name(table.snaps[k].state), name,
				 table.snaps[k].snap_id);
	}
	free(table.snaps);
}

VSS_EXPORT int vss_activate(struct vss_ctx *ctx, const struct vss_activate_opts *opts,
			    struct vss_activate_result *res)
{
	struct vss_activate_result local;
	struct act a = { ctx, opts && opts->dry_run, res ? res : &local, 0, false };
	json_object *root, *storage;
	size_t i;
	int r;

	memset(a.res, 0, sizeof(*a.res));
	r = vss_catalog_load(ctx, &root);
	if (r)
		return r;
	storage = vss_json_array(root, "storage");
	for (i = 0; storage && i < json_object_array_length(storage); i++)
		activate_volume(&a, root, json_object_array_get_idx(storage, i));
	if (a.changed && !a.dry) {
		r = vss_catalog_save(ctx, root);
		if (r && !a.err)
			a.err = r;
	}
	json_object_put(root);
	return a.err;
}
