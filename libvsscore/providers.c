// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Providers: what makes the point-in-time image of one volume.
 *
 *   dm-vss-cow   our vss-origin/vss-snap targets: "create <id>" message to
 *                the suspended origin; the shadow copy is a vss-snap device
 *   dm-snapshot  the stock kernel target, laid out as LVM does: the volume
 *                is a snapshot-origin over <name>-real; each shadow copy is
 *                a snapshot device over a slice of the store (vss-<id>-cow),
 *                activated while the origin is suspended
 *   dm-vss-clone our vss-clone split mirror: the volume is a vss-clone over
 *                <name>-real; "split" to the suspended volume makes its dest
 *                the image; the shadow copy is a read-only linear over dest
 *   external     an executable in providers.d/ (the protocol is in
 *                man/vss-providers.8): one JSON request per run on stdin,
 *                one JSON answer on stdout
 *
 * Selection: an external provider that claims the volume, else the provider
 * the volume was enabled with (vss-storage add), unless forced.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vss-internal.h"

/* ---- dm-vss-cow ---- */

static int cow_prepare(struct vss_ctx *ctx, json_object *root, struct vss_pshadow *s)
{
	int r;

	(void)root;
	r = vss_snap_id_of(ctx, s->shadow_id, &s->snap_id);
	if (r)
		return r;
	snprintf(s->snap_dev, sizeof(s->snap_dev), "vss-%llu", (unsigned long long)s->shadow_id);
	snprintf(s->device, sizeof(s->device), "/dev/mapper/%s", s->snap_dev);
	return 0;
}

static int cow_commit(struct vss_ctx *ctx, struct vss_pshadow *s)
{
	char msg[64];
	int r;

	snprintf(msg, sizeof(msg), "create %u", s->snap_id);
	r = vss_dm_message(ctx, s->dm_name, msg);
	if (!r)
		s->committed = true;
	return r;
}

static int cow_activate(struct vss_ctx *ctx, struct vss_pshadow *s)
{
	char params[600];
	struct vss_dm_target t = { 0, 0, "vss-snap", params };
	int r;

	t.length = vss_dm_size(s->dm_name);
	if (!t.length)
		return -ENODEV;
	snprintf(params, sizeof(params), "/dev/mapper/%s %s %u", s->real, s->store, s->snap_id);
	r = vss_dm_create(ctx, s->snap_dev, NULL, &t, 1, true, true);
	if (!r)
		s->activated = true;
	return r;
}

static int cow_remove(struct vss_ctx *ctx, struct vss_pshadow *s)
{
	char msg[64];
	int r = 0;

	if (s->snap_dev[0] && vss_dm_exists(s->snap_dev) == 1)
		r = vss_dm_remove(ctx, s->snap_dev);
	if (r)
		return r;
	s->activated = false;
	snprintf(msg, sizeof(msg), "delete %u", s->snap_id);
	r = vss_dm_exists(s->dm_name);
	if (r < 0) {
		vss_dbg(ctx, "/dev/mapper/%s: no device-mapper here (%s): snapshot %u is "
			"forgotten", s->dm_name, strerror(-r), s->snap_id);
		return 0;
	}
	r = r ? vss_dm_message_quiet(s->dm_name, msg) : -ENXIO;
	switch (r) {
	case 0:
		s->committed = false;
		return 0;
	case -EINVAL:
		/* not committed, or gone from the store already */
		return 0;
	case -ENXIO:
	case -ENODEV:
	case -ENOENT:
		vss_warn(ctx, "/dev/mapper/%s: not active: snapshot %u stays in its store "
			 "until the volume is active again (vss-activate names it then)",
			 s->dm_name, s->snap_id);
		return 0;
	case -EIO:
	case -EROFS:
		/* a failed store serves no snapshot: nothing left to protect */
		vss_warn(ctx, "/dev/mapper/%s: the store has failed: snapshot %u is "
			 "forgotten, its space is not freed", s->dm_name, s->snap_id);
		return 0;
	default:
		vss_err(ctx, "/dev/mapper/%s: cannot delete snapshot %u from the store: %s",
			s->dm_name, s->snap_id, strerror(-r));
		return r;
	}
}

/* ---- dm-snapshot ---- */

static int snap_prepare(struct vss_ctx *ctx, json_object *root, struct vss_pshadow *s)
{
	json_object *st = vss_catalog_find_storage(root, s->dm_name);
	struct vss_shadow_iter it;
	json_object *sh;
	uint64_t store_size, slice, nslots, slot, vol;
	char params[600];
	struct vss_dm_target t = { 0, 0, "linear", params };
	char zero[4096];
	int fd, r;

	r = vss_blkdev_size(s->store, &store_size);
	if (r) {
		vss_err(ctx, "%s: cannot read the store's size: %s", s->store, strerror(-r));
		return r;
	}
	slice = vss_json_int(st, "max_bytes");
	if (!slice || slice > store_size)
		slice = store_size;
	slice &= ~4095ULL;
	nslots = slice ? store_size / slice : 0;
	/* The first free slice of the store. */
	for (slot = 0; slot < nslots; slot++) {
		bool used = false;

		vss_for_each_shadow(sh, &it, root) {
			const char *p = vss_json_str(sh, "provider");
			const char *so = vss_json_str(sh, "store");
			const char *cow = vss_json_str(sh, "cow_dev");
			uint64_t off = vss_json_int(sh, "cow_offset");
			uint64_t len = vss_json_int(sh, "cow_len");

			/*
			 * Only shadow copies given an area (not this set's, recorded
			 * before prepare); overlap, not equality: areas of an older
			 * --max-size stay where they are.
			 */
			if (p && !strcmp(p, "dm-snapshot") && so && !strcmp(so, s->store) &&
			    cow && *cow && off < (slot + 1) * slice &&
			    slot * slice < off + (len ? len : slice)) {
				used = true;
				break;
			}
		}
		if (!used)
			break;
	}
	if (slot >= nslots) {
		vss_err(ctx, "%s: no free space for another dm-snapshot shadow copy "
			"(delete one, or add storage with a smaller --max-size)", s->store);
		return -ENOSPC;
	}
	s->cow_offset = slot * slice;
	s->cow_len = slice;
	r = vss_snap_id_of(ctx, s->shadow_id, &s->snap_id);
	if (r)
		return r;
	snprintf(s->snap_dev, sizeof(s->snap_dev), "vss-%llu", (unsigned long long)s->shadow_id);
	snprintf(s->cow_dev, sizeof(s->cow_dev), "vss-%llu-cow", (unsigned long long)s->shadow_id);
	snprintf(s->device, sizeof(s->device), "/dev/mapper/%s", s->snap_dev);

	/* A zeroed header makes dm-snapshot start a new persistent store. */
	fd = open(s->store, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(zero, 0, sizeof(zero));
	if (pwrite(fd, zero, sizeof(zero), s->cow_offset) != sizeof(zero) || fdatasync(fd)) {
		r = -errno;
		close(fd);
		return r;
	}
	close(fd);

	t.length = slice >> 9;
	snprintf(params, sizeof(params), "%s %llu", s->store,
		 (unsigned long long)(s->cow_offset >> 9));
	r = vss_dm_create(ctx, s->cow_dev, NULL, &t, 1, false, true);
	if (r)
		return r;
	vol = vss_dm_size(s->dm_name);
	t.length = vol;
	vss_strlcpy(t.type, "snapshot", sizeof(t.type));
	snprintf(params, sizeof(params), "/dev/mapper/%s /dev/mapper/%s P 8", s->real, s->cow_dev);
	/* Loaded, not resumed: it starts copying only when resumed at commit. */
	r = vss_dm_create(ctx, s->snap_dev, NULL, &t, 1, true, false);
	if (r) {
		vss_dm_remove(ctx, s->cow_dev);
		return r;
	}
	return 0;
}

static int snap_commit(struct vss_ctx *ctx, struct vss_pshadow *s)
{
	int r = vss_dm_resume_raw(s->snap_dev);

	if (r) {
		vss_err(ctx, "%s: cannot activate the snapshot: %s", s->snap_dev, strerror(-r));
		return r;
	}
	s->committed = true;
	s->activated = true;
	return 0;
}

/*
 * The snapshot was resumed inside the commit window without waiting for
 * udev (the volumes were suspended then); resuming it again, now that
 * they are not, waits until its /dev/mapper node is there.
 */
static int snap_activate(struct vss_ctx *ctx, struct vss_pshadow *s)
{
	return vss_dm_resume(ctx, s->snap_dev);
}

static int snap_remove(struct vss_ctx *ctx, struct vss_pshadow *s)
{
	int r = 0;

	if (s->snap_dev[0] && vss_dm_exists(s->snap_dev) == 1)
		r = vss_dm_remove(ctx, s->snap_dev);
	if (!r && s->cow_dev[0] && vss_dm_exists(s->cow_dev) == 1)
		r = vss_dm_remove(ctx, s->cow_dev);
	if (!r)
		s->committed = s->activated = false;
	return r;
}

/* ---- dm-vss-clone ---- */

/*
 * The volume is a vss-clone over <name>-real, its storage's "store" the
 * dest.  A shadow copy is the split: at the set's instant (the volume
 * suspended with the others of the set) "split" makes dest the image of
 * that instant, and the shadow copy's device is a read-only linear
 * vss-<id> over dest.  One clone holds one split image: one shadow copy at
 * a time.  Deleting it removes the device and sends "rejoin", which copies
 * back only the regions written since the split.  After a reboot the kernel
 * has forgotten the split (see provider-clone.c): the volume is plain linear over
 * <name>-real while the copy exists, and deleting the copy loads the
 * vss-clone table again, a full resync.
 */
static int clone_prepare(struct vss_ctx *ctx, json_object *root, struct vss_pshadow *s)
{
	struct vss_clone_status cs;
	uint64_t other = 0;
	int r;

	if (vss_clone_copy_exists(root, s->dm_name, &other)) {
		vss_err(ctx, "/dev/mapper/%s: the clone holds shadow copy %llu already: one split "
			"image at a time (vss-delete %llu rejoins the clone)", s->dm_name,
			(unsigned long long)other, (unsigned long long)other);
		return -EEXIST;
	}
	r = vss_clone_read_status(s->dm_name, &cs);
	if (r) {
		vss_err(ctx, "/dev/mapper/%s: cannot read the clone's status: %s", s->dm_name,
			strerror(-r));
		return r;
	}
	if (!strcmp(cs.state, "syncing")) {
		vss_err(ctx, "/dev/mapper/%s: the clone is still syncing: %llu of %llu regions "
			"copied (%llu%%); retry when vss-storage list shows it mirrored",
			s->dm_name, (unsigned long long)cs.synced_regions,
			(unsigned long long)cs.total_regions,
			(unsigned long long)(cs.total_regions ?
					     cs.synced_regions * 100 / cs.total_regions : 0));
		return -EAGAIN;
	}
	if (!strcmp(cs.state, "split")) {
		vss_err(ctx, "/dev/mapper/%s: the clone is split, but no shadow copy of the "
			"catalog holds the image (split by hand?): rejoin it with 'dmsetup "
			"message %s 0 rejoin' and retry", s->dm_name, s->dm_name);
		return -EBUSY;
	}
	if (!strcmp(cs.state, "fail")) {
		vss_err(ctx, "/dev/mapper/%s: the clone failed (an I/O error on its dest %s): "
			"dest is not kept in step; repair it, then vss-storage remove and add",
			s->dm_name, s->store);
		return -EIO;
	}
	if (strcmp(cs.state, "mirrored")) {
		vss_err(ctx, "/dev/mapper/%s: not under its vss-clone table (run vss-activate)",
			s->dm_name);
		return -ENODEV;
	}
	r = vss_snap_id_of(ctx, s->shadow_id, &s->snap_id);
	if (r)
		return r;
	snprintf(s->snap_dev, sizeof(s->snap_dev), "vss-%llu", (unsigned long long)s->shadow_id);
	snprintf(s->device, sizeof(s->device), "/dev/mapper/%s", s->snap_dev);
	return 0;
}

static int clone_commit(struct vss_ctx *ctx, struct vss_pshadow *s)
{
	struct vss_clone_status cs;
	int r = vss_dm_message_quiet(s->dm_name, "split");

	if (r) {
		if (vss_clone_read_status(s->dm_name, &cs))
			vss_strlcpy(cs.state, "unknown", sizeof(cs.state));
		vss_err(ctx, "/dev/mapper/%s: split refused: %s (the clone is %s at the set's "
			"instant, not mirrored)", s->dm_name, strerror(-r), cs.state);
		return r;
	}
	s->committed = true;
	return 0;
}

static int clone_activate(struct vss_ctx *ctx, struct vss_pshadow *s)
{
	char params[300];
	struct vss_dm_target t = { 0, 0, "linear", params };
	int r;

	t.length = vss_dm_size(s->dm_name);
	if (!t.length)
		return -ENODEV;
	snprintf(params, sizeof(params), "%s 0", s->store);
	r = vss_dm_create(ctx, s->snap_dev, NULL, &t, 1, true, true);
	if (!r)
		s->activated = true;
	return r;
}

static int clone_remove(struct vss_ctx *ctx, struct vss_pshadow *s)
{
	struct vss_clone_status cs;
	int r = 0;

	/* No device name: the set stopped before prepare; it holds no split. */
	if (!s->snap_dev[0])
		return 0;
	if (vss_dm_exists(s->snap_dev) == 1)
		r = vss_dm_remove(ctx, s->snap_dev);
	if (r)
		return r;
	s->activated = false;
	r = vss_clone_read_status(s->dm_name, &cs);
	if (r == -ENOENT || r == -ENXIO || r == -ENODEV) {
		vss_warn(ctx, "/dev/mapper/%s: gone: no clone to rejoin", s->dm_name);
		s->committed = false;
		return 0;
	}
	if (r) {
		vss_err(ctx, "/dev/mapper/%s: cannot read the clone's status: %s", s->dm_name,
			strerror(-r));
		return r;
	}
	if (!strcmp(cs.state, "split")) {
		r = vss_dm_message(ctx, s->dm_name, "rejoin");
		if (!r)
			vss_info(ctx, "/dev/mapper/%s: rejoined: copying the %llu regions written "
				 "since the split", s->dm_name,
				 (unsigned long long)(cs.total_regions - cs.synced_regions));
	} else if (!strcmp(cs.state, "off")) {
		/* After a reboot: the record of what was written is lost. */
		r = vss_clone_reload(ctx, s->dm_name);
	}
	/* mirrored, syncing or fail: the split was never made (an abort) or is lost. */
	if (!r)
		s->committed = false;
	return r;
}

/* ---- external providers ---- */

/* One request, one answer, within timeout_ms. */
static int ext_call(struct vss_ctx *ctx, const char *path, json_object *req,
		    unsigned int timeout_ms, json_object **ans)
{
	const char *text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN |
							  JSON_C_TO_STRING_NOSLASHESCAPE);
	uint64_t deadline = vss_now_ms() + timeout_ms;
	char buf[16384];
	size_t len = 0;
	struct vss_child child;
	int r, status = 0;

	*ans = NULL;
	r = vss_spawn(path, NULL, &child);
	if (r)
		return r;
	if (vss_write_nosigpipe(child.in_fd, text, strlen(text)) < 0 ||
	    vss_write_nosigpipe(child.in_fd, "\n", 1) < 0) {
		/* it may have answered without reading */
	}
	close(child.in_fd);
	for (;;) {
		struct pollfd pfd = { .fd = child.out_fd, .events = POLLIN };
		uint64_t now = vss_now_ms();
		ssize_t n;

		if (now >= deadline || poll(&pfd, 1, (int)(deadline - now)) == 0) {
			kill(child.pid, SIGKILL);
			break;
		}
		n = read(child.out_fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
		if (memchr(buf, '\n', len) || len == sizeof(buf) - 1)
			break;
	}
	close(child.out_fd);
	waitpid(child.pid, &status, 0);
	buf[len] = '\0';
	*ans = json_tokener_parse(buf);
	if (!*ans || !json_object_is_type(*ans, json_type_object) ||
	    !vss_json_str(*ans, "status")) {
		vss_err(ctx, "provider %s: %s: %s", path,
			vss_json_str(req, "op"), len ? "answered garbage" : "no answer");
		json_object_put(*ans);
		*ans = NULL;
		return -EIO;
	}
	if (strcmp(vss_json_str(*ans, "status"), "ok")) {
		const char *m = vss_json_str(*ans, "message");

		vss_err(ctx, "provider %s: %s: %s", path, vss_json_str(req, "op"),
			m ? m : "failed");
		return -EIO;
	}
	return 0;
}

static json_object *ext_request(const char *op, const struct vss_pshadow *s)
{
	json_object *req = json_object_new_object();

	json_object_object_add(req, "op", json_object_new_string(op));
	if (s) {
		char dev[200];

		snprintf(dev, sizeof(dev), "/dev/mapper/%s", s->dm_name);
		json_object_object_add(req, "volume", json_object_new_string(dev));
		json_object_object_add(req, "shadow_id", json_object_new_int64(s->shadow_id));
		if (s->device[0])
			json_object_object_add(req, "device", json_object_new_string(s->device));
	}
	return req;
}

static int ext_simple(struct vss_ctx *ctx, const char *op, struct vss_pshadow *s,
		      json_object **ans_out)
{
	json_object *req = ext_request(op, s), *ans;
	int r = ext_call(ctx, s->ext_path, req, 10000, &ans);

	json_object_put(req);
	if (ans_out)
		*ans_out = ans;
	else
		json_object_put(ans);
	return r;
}

static int ext_prepare(struct vss_ctx *ctx, json_object *root, struct vss_pshadow *s)
{
	int r;

	(void)root;
	r = vss_snap_id_of(ctx, s->shadow_id, &s->snap_id);
	if (r)
		return r;
	return ext_simple(ctx, "prepare", s, NULL);
}

static int ext_commit(struct vss_ctx *ctx, struct vss_pshadow *s)
{
	json_object *ans = NULL;
	int r = ext_simple(ctx, "commit", s, &ans);

	if (!r) {
		s->committed = true;
		vss_strlcpy(s->device, vss_json_str(ans, "device"), sizeof(s->device));
	}
	json_object_put(ans);
	return r;
}

static int ext_activate(struct vss_ctx *ctx, struct vss_pshadow *s)
{
	json_object *ans = NULL;
	int r = 0;

	if (!s->device[0]) {
		r = ext_simple(ctx, "expose", s, &ans);
		if (!r)
			vss_strlcpy(s->device, vss_json_str(ans, "device"), sizeof(s->device));
		json_object_put(ans);
	}
	if (!r)
		s->activated = true;
	return r;
}

static int ext_remove(struct vss_ctx *ctx, struct vss_pshadow *s)
{
	int r = ext_simple(ctx, "delete", s, NULL);

	if (!r)
		s->committed = s->activated = false;
	return r;
}

static const struct vss_provider providers[] = {
	{ "dm-vss-cow", cow_prepare, cow_commit, cow_activate, cow_remove },
	{ "dm-snapshot", snap_prepare, snap_commit, snap_activate, snap_remove },
	{ "dm-vss-clone", clone_prepare, clone_commit, clone_activate, clone_remove },
	{ "external", ext_prepare, ext_commit, ext_activate, ext_remove },
};
#define N_PROVIDERS (sizeof(providers) / sizeof(providers[0]))

/* A builtin provider by name; anything else is an external one. */
const struct vss_provider *vss_provider_by_name(const char *name)
{
	size_t i;

	for (i = 0; name && i < N_PROVIDERS; i++)
		if (!strcmp(providers[i].name, name))
			return &providers[i];
	return &providers[N_PROVIDERS - 1];
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
		req = ext_request("probe", s);
		if (!ext_call(ctx, ext[i], req, 5000, &ans))
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
		if (forced && strcmp(forced, "dm-vss-cow") && strcmp(forced, "dm-snapshot") &&
		    strcmp(forced, "dm-vss-clone")) {
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
	if (!strcmp(s->provider, "dm-vss-cow")) {
		unsigned v[3];

		if (vss_dm_target_version("vss-origin", v)) {
			vss_err(ctx, "%s: the vss-origin kernel target is not loaded "
				"(modprobe dm-vss)", dm_name);
			return -ENOPKG;
		}
	}
	if (!strcmp(s->provider, "dm-vss-clone")) {
		unsigned v[3];

		if (vss_dm_target_version("vss-clone", v)) {
			vss_err(ctx, "%s: the vss-clone kernel target is not loaded "
				"(modprobe dm-vss)", dm_name);
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
		json_object *req = ext_request("info", NULL), *ans = NULL;

		vss_strlcpy(p[i].name, base(ext[i]), sizeof(p[i].name));
		vss_strlcpy(p[i].kind, "external", sizeof(p[i].kind));
		vss_strlcpy(p[i].path, ext[i], sizeof(p[i].path));
		p[i].available = !ext_call(ctx, ext[i], req, 5000, &ans);
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
