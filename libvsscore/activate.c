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
#include <endian.h>
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

static int blockdev_sectors(const char *path, uint64_t *sectors)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint64_t bytes;
	int r = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, BLKGETSIZE64, &bytes))
		r = -errno;
	else
		*sectors = bytes >> 9;
	close(fd);
	return r;
}

/*
 * Put one volume back under its origin.  Returns 0 when the origin is (or,
 * in a dry run, would be) in place; *loaded_now tells whether it was
 * loaded by this call (the volume was not live under it before).
 */
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

static int activate_origin(struct act *a, json_object *root, json_object *st,
			   bool *loaded_now)
{
	struct vss_ctx *ctx = a->ctx;
	const char *name = vss_json_str(st, "name"), *real = vss_json_str(st, "real");
	const char *store = vss_json_str(st, "store"), *provider = vss_json_str(st, "provider");
	const char *wrapped_dev = vss_json_str(st, "wrapped_dev");
	bool clone = !strcmp(provider, "dm-vss-clone");
	/* a clone whose shadow copy holds dest: the volume stays off it */
	bool split = clone && vss_clone_copy_exists(root, name, NULL);
	const char *otype = !strcmp(provider, "dm-snapshot") ? "snapshot-origin" :
			    split ? "linear" : clone ? "vss-clone" : "vss-origin";
	uint32_t chunk = (uint32_t)vss_json_int(st, "chunk_sectors");
	struct vss_dm_target *vt = NULL, *rt = NULL, *base = NULL, wrap, ot;
	char params[600], wparams[300];
	size_t nv = 0, nr = 0, nb = 0, i;
	bool vol_exists, real_exists, made_real = false;
	unsigned v[3];
	uint64_t len = 0;
	int r;

	*loaded_now = false;
	vol_exists = vss_dm_exists(name) == 1;
	real_exists = vss_dm_exists(real) == 1;
	if (vol_exists && vss_dm_table(name, false, &vt, &nv) == 0 &&
	    origin_in_place(vt, nv, otype, real, real_exists)) {
		vss_dbg(ctx, "/dev/mapper/%s: already under its %s: left alone", name, otype);
		a->res->origins_present++;
		vss_dm_targets_free(vt, nv);
		return 0;
	}
	/* a detached loop device, or a disk gone while its node stays: no size */
	if (!is_blockdev(store) || blockdev_sectors(store, &len) || !len) {
		vss_err(ctx, "/dev/mapper/%s: cannot bring back its %s: its store %s is missing "
			"(no such device, or empty)", name, otype, store);
		r = -ENODEV;
		goto fail;
	}
	if ((!strcmp(otype, "vss-origin") || !strcmp(otype, "vss-clone")) &&
	    vss_dm_target_version(otype, v)) {
		vss_err(ctx, "/dev/mapper/%s: cannot bring back its %s: the kernel target "
			"is not loaded (modprobe dm-vss)", name, otype);
		r = -ENOPKG;
		goto fail;
	}
	if (real_exists) {
		/* an earlier run stopped between the two steps */
		r = vss_dm_table(real, false, &rt, &nr);
		if (r || !nr) {
			vss_err(ctx, "/dev/mapper/%s: cannot read the table of %s: %s", name, real,
				r ? strerror(-r) : "no table");
			r = r ? r : -ENODEV;
			goto fail;
		}
		if (vol_exists && nv && !same_tables(vt, nv, rt, nr)) {
			vss_err(ctx, "/dev/mapper/%s: cannot bring back its %s: both it and %s exist "
				"with different tables (%s %s / %s %s): remove the wrong one", name,
				otype, real, vt[0].type, vt[0].params, rt[0].type, rt[0].params);
			r = -EEXIST;
			goto fail;
		}
		base = rt;
		nb = nr;
	} else if (vol_exists && nv) {
		base = vt;
		nb = nv;
	} else if (vss_json_bool(st, "wrapped") && is_blockdev(wrapped_dev)) {
		uint64_t sectors = 0;

		r = blockdev_sectors(wrapped_dev, &sectors);
		if (r) {
			vss_err(ctx, "%s: cannot read the size: %s", wrapped_dev, strerror(-r));
			goto fail;
		}
		snprintf(wparams, sizeof(wparams), "%s 0", wrapped_dev);
		wrap = (struct vss_dm_target){ 0, sectors, "linear", wparams };
		base = &wrap;
		nb = 1;
	} else if (vss_json_bool(st, "wrapped")) {
		vss_err(ctx, "/dev/mapper/%s: cannot bring back: the partition it wraps, %s, "
			"is missing", name, wrapped_dev);
		r = -ENODEV;
		goto fail;
	} else {
		vss_err(ctx, "/dev/mapper/%s: cannot bring back: the volume is not active "
			"(activate its logical volume, or create its table, then run "
			"vss-activate again)", name);
		r = -ENODEV;
		goto fail;
	}
	len = 0;
	for (i = 0; i < nb; i++)
		len = base[i].start + base[i].length > len ? base[i].start + base[i].length : len;
	if (clone) {
		r = vss_clone_table(st, len, split, &ot, params, sizeof(params));
		if (r) {
			vss_err(ctx, "/dev/mapper/%s: cannot make the %s table: %s", name, otype,
				strerror(-r));
			goto fail;
		}
	} else if (!strcmp(otype, "vss-origin")) {
		if (chunk)
			snprintf(params, sizeof(params), "/dev/mapper/%s %s 2 chunk_sectors %u",
				 real, store, chunk);
		else
			snprintf(params, sizeof(params), "/dev/mapper/%s %s", real, store);
	} else {
		snprintf(params, sizeof(params), "/dev/mapper/%s", real);
	}
	if (!clone) {
		ot = (struct vss_dm_target){ 0, len, "", params };
		vss_strlcpy(ot.type, otype, sizeof(ot.type));
	}
	if (a->dry) {
		if (!real_exists)
			vss_info(ctx, "/dev/mapper/%s: would create %s (%s %s)", name, real,
				 base[0].type, base[0].params);
		vss_info(ctx, "/dev/mapper/%s: would %s %s %s", name,
			 vol_exists ? "reload with" : "create with", otype, params);
		a->res->origins_loaded++;
		*loaded_now = true;
		r = 0;
		goto out;
	}
	if (!real_exists) {
		r = vss_dm_create(ctx, real, NULL, base, nb, false, true);
		if (r)
			goto fail;
		made_real = true;
	}
	if (vol_exists) {
		/* load first: a refused table leaves the volume as it was */
		r = vss_dm_load(ctx, name, &ot, 1, false);
		if (!r) {
			r = vss_dm_suspend(ctx, name, false);
			if (!r)
				r = vss_dm_resume(ctx, name);
			else
				vss_dm_resume(ctx, name);
		}
	} else {
		r = vss_dm_create(ctx, name, NULL, &ot, 1, false, true);
	}
	if (r) {
		vss_err(ctx, "/dev/mapper/%s: cannot bring back its %s: %s", name, otype,
			strerror(-r));
		if (made_real)
			vss_dm_remove(ctx, real);
		goto fail;
	}
	vss_info(ctx, "/dev/mapper/%s: %s loaded over /dev/mapper/%s (store %s)", name, otype,
		 real, store);
	a->res->origins_loaded++;
	*loaded_now = true;
	goto out;
fail:
	failed(a, r);
out:
	vss_dm_targets_free(vt, nv);
	vss_dm_targets_free(rt, nr);
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

/* Whether a vss-snap or snapshot device reports its snapshot valid. */
static bool device_valid(const char *name)
{
	struct vss_dm_target *t;
	size_t n;
	bool ok = false;

	if (vss_dm_table(name, true, &t, &n) || !n)
		return false;
	ok = vss_status_device_valid(t[0].type, t[0].params) == 1;
	vss_dm_targets_free(t, n);
	return ok;
}

static void activate_cow_shadow(struct act *a, json_object *st, json_object *sh,
				const struct store_table *table)
{
	struct vss_ctx *ctx = a->ctx;
	const char *name = vss_json_str(st, "name"), *real = vss_json_str(st, "real");
	const char *store = vss_json_str(st, "store"), *snap_dev = vss_json_str(sh, "snap_dev");
	long long id = (long long)vss_json_int(sh, "shadow_id");
	uint32_t snap_id = (uint32_t)vss_json_int(sh, "snap_id");
	char params[600];
	struct vss_dm_target t = { 0, 0, "vss-snap", params };
	int r;

	if (table->known) {
		const struct vss_store_snap *ss = table->unformatted ? NULL : store_snap(table, snap_id);
		if (!ss) {
			invalid(a, sh, table->unformatted ? "its store is empty (not formatted)"
				: "gone from its store");
			return;
		}
		if (ss->state != VSS_SNAP_VALID) {
			char why[96];

			snprintf(why, sizeof(why), "%s in its store",
				 vss_store_snap_state_name(ss->state));
			invalid(a, sh, why);
			return;
		}
	}
	snprintf(params, sizeof(params), "/dev/mapper/%s %s %u", real, store, snap_id);
	if (a->dry) {
		vss_info(ctx, "shadow copy %lld: would create /dev/mapper/%s (vss-snap %s)", id,
			 snap_dev, params);
		a->res->shadows_loaded++;
		return;
	}
	t.length = vss_dm_size(name);
	r = t.length ? vss_dm_create(ctx, snap_dev, NULL, &t, 1, true, true) : -ENODEV;
	if (r == -ENOENT) {
		invalid(a, sh, "the kernel finds it in no store");
		return;
	}
	if (r) {
		vss_err(ctx, "shadow copy %lld: cannot bring back /dev/mapper/%s: %s", id, snap_dev,
			strerror(-r));
		failed(a, r);
		return;
	}
	if (!device_valid(snap_dev)) {
		vss_dm_remove(ctx, snap_dev);
		invalid(a, sh, "the kernel reports it invalid");
		return;
	}
	vss_info(ctx, "shadow copy %lld: /dev/mapper/%s activated", id, snap_dev);
	mark(a, sh, "created");
	a->res->shadows_loaded++;
}

/*
 * dm-snapshot: a persistent cow area whose header is gone would be
 * initialised afresh by the kernel, and the snapshot would silently read
 * today's origin: check the header first ("SnAp", valid).
 */
static bool cow_header_valid(const char *store, uint64_t offset)
{
	uint32_t hdr[2] = { 0, 0 };
	int fd = open(store, O_RDONLY | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ioctl(fd, BLKFLSBUF, 0);
	ok = pread(fd, hdr, sizeof(hdr), (off_t)offset) == sizeof(hdr) &&
	     le32toh(hdr[0]) == 0x70416e53 && le32toh(hdr[1]) == 1;
	close(fd);
	return ok;
}

static void activate_snapshot_shadow(struct act *a, json_object *st, json_object *sh)
{
	struct vss_ctx *ctx = a->ctx;
	const char *name = vss_json_str(st, "name"), *real = vss_json_str(st, "real");
	const char *store = vss_json_str(st, "store"), *snap_dev = vss_json_str(sh, "snap_dev");
	const char *cow_dev = vss_json_str(sh, "cow_dev");
	long long id = (long long)vss_json_int(sh, "shadow_id");
	uint64_t off = vss_json_int(sh, "cow_offset"), clen = vss_json_int(sh, "cow_len");
	char cparams[300], sparams[400];
	struct vss_dm_target ct = { 0, clen >> 9, "linear", cparams };
	struct vss_dm_target tt = { 0, 0, "snapshot", sparams };
	bool made_cow = false;
	int r;

	if (!cow_dev || !clen) {
		invalid(a, sh, "no cow area recorded");
		return;
	}
	if (!cow_header_valid(store, off)) {
		invalid(a, sh, "its cow area in the store has no valid snapshot header");
		return;
	}
	snprintf(cparams, sizeof(cparams), "%s %llu", store, (unsigned long long)(off >> 9));
	snprintf(sparams, sizeof(sparams), "/dev/mapper/%s /dev/mapper/%s P 8", real, cow_dev);
	if (a->dry) {
		vss_info(ctx, "shadow copy %lld: would create /dev/mapper/%s (linear %s) and "
			 "/dev/mapper/%s (snapshot %s)", id, cow_dev, cparams, snap_dev, sparams);
		a->res->shadows_loaded++;
		return;
	}
	tt.length = vss_dm_size(name);
	if (vss_dm_exists(cow_dev) != 1) {
		r = vss_dm_create(ctx, cow_dev, NULL, &ct, 1, false, true);
		if (r)
			goto fail;
		made_cow = true;
	}
	/*
	 * A write to the origin between the snapshot's load and its
	 * registration would not be copied: hold the origin suspended.
	 */
	r = vss_dm_suspend(ctx, name, false);
	if (r)
		goto fail;
	r = vss_dm_create(ctx, snap_dev, NULL, &tt, 1, true, true);
	vss_dm_resume(ctx, name);
	if (r)
		goto fail;
	if (!device_valid(snap_dev)) {
		vss_dm_remove(ctx, snap_dev);
		vss_dm_remove(ctx, cow_dev);
		invalid(a, sh, "the kernel reports it invalid");
		return;
	}
	vss_info(ctx, "shadow copy %lld: /dev/mapper/%s activated", id, snap_dev);
	mark(a, sh, "created");
	a->res->shadows_loaded++;
	return;
fail:
	vss_err(ctx, "shadow copy %lld: cannot bring back /dev/mapper/%s: %s", id, snap_dev,
		strerror(-r));
	if (made_cow)
		vss_dm_remove(ctx, cow_dev);
	failed(a, r);
}

/*
 * dm-vss-clone: the split image is dest itself, which nothing wrote to
 * since (the volume came back as linear over <name>-real): a read-only
 * linear device over it.  The kernel keeps no state to check it against.
 */
static void activate_clone_shadow(struct act *a, json_object *st, json_object *sh)
{
	struct vss_ctx *ctx = a->ctx;
	const char *name = vss_json_str(st, "name"), *dest = vss_json_str(st, "store");
	const char *snap_dev = vss_json_str(sh, "snap_dev");
	long long id = (long long)vss_json_int(sh, "shadow_id");
	char params[300];
	struct vss_dm_target t = { 0, 0, "linear", params };
	int r;

	snprintf(params, sizeof(params), "%s 0", dest);
	if (a->dry) {
		vss_info(ctx, "shadow copy %lld: would create /dev/mapper/%s (linear %s, read-only)",
			 id, snap_dev, params);
		a->res->shadows_loaded++;
		return;
	}
	t.length = vss_dm_size(name);
	r = t.length ? vss_dm_create(ctx, snap_dev, NULL, &t, 1, true, true) : -ENODEV;
	if (r) {
		vss_err(ctx, "shadow copy %lld: cannot bring back /dev/mapper/%s: %s", id, snap_dev,
			strerror(-r));
		failed(a, r);
		return;
	}
	vss_info(ctx, "shadow copy %lld: /dev/mapper/%s activated (the split image on %s)", id,
		 snap_dev, dest);
	mark(a, sh, "created");
	a->res->shadows_loaded++;
}

/* The exposure of a copy does not survive its mount: clear stale records. */
static void clear_stale_exposure(struct act *a, json_object *sh)
{
	const char *ex = vss_json_str(sh, "exposed"), *dev = vss_json_str(sh, "device");
	struct stat st;
	dev_t devno = 0;

	if (!ex || !*ex)
		return;
	if (dev && stat(dev, &st) == 0 && vss_mounted_at(ex, &devno) && devno == st.st_rdev)
		return;
	vss_info(a->ctx, "shadow copy %lld: no longer mounted at %s: %s",
		 (long long)vss_json_int(sh, "shadow_id"), ex,
		 a->dry ? "the record would be cleared" : "record cleared");
	if (a->dry)
		return;
	json_object_object_del(sh, "exposed");
	json_object_object_del(sh, "exposed_mkdir");
	a->changed = true;
}

static void activate_volume(struct act *a, json_object *root, json_object *st)
{
	struct vss_ctx *ctx = a->ctx;
	const char *name = vss_json_str(st, "name"), *provider = vss_json_str(st, "provider");
	const char *store = vss_json_str(st, "store");
	json_object *sets = vss_json_array(root, "sets");
	struct store_table table = { 0 };
	bool cow, loaded_now = false;
	size_t i, j;
	unsigned int k;
	int r;

	if (!name || !provider || !vss_json_str(st, "real") || !store) {
		vss_warn(ctx, "catalog: a storage entry lacks its name, real, store or provider: "
			 "skipped");
		return;
	}
	if (strcmp(provider, "dm-vss-cow") && strcmp(provider, "dm-snapshot") &&
	    strcmp(provider, "dm-vss-clone")) {
		vss_warn(ctx, "/dev/mapper/%s: provider %s: vss-activate does not bring it back: "
			 "left alone", name, provider);
		return;
	}
	cow = !strcmp(provider, "dm-vss-cow");
	if (cow && is_blockdev(store))
		read_store_table(a, store, &table);
	r = activate_origin(a, root, st, &loaded_now);

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
			const char *p = vss_json_str(sh, "provider");
			long long id = (long long)vss_json_int(sh, "shadow_id");

			if (!sname || strcmp(sname, name) || !p || strcmp(p, provider))
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
			if (cow)
				activate_cow_shadow(a, st, sh, &table);
			else if (!strcmp(provider, "dm-vss-clone"))
				activate_clone_shadow(a, st, sh);
			else
				activate_snapshot_shadow(a, st, sh);
		}
	}

	/* Snapshots the store holds that no catalog entry knows: say so, keep them. */
	for (k = 0; table.known && k < table.n; k++) {
		bool known = false;

		for (i = 0; sets && i < json_object_array_length(sets) && !known; i++) {
			json_object *shs = vss_json_array(json_object_array_get_idx(sets, i),
							  "shadows");

			for (j = 0; shs && j < json_object_array_length(shs) && !known; j++) {
				json_object *sh = json_object_array_get_idx(shs, j);
				const char *so = vss_json_str(sh, "store");

				known = so && !strcmp(so, store) &&
					(uint32_t)vss_json_int(sh, "snap_id") == table.snaps[k].snap_id;
			}
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
