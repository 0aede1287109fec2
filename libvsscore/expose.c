// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Exposing a shadow copy: mount its device read-only, with the options
 * that keep a journalled filesystem from writing to it (no log replay),
 * and record the mount point in the catalog ("exposed") so that listing
 * and deleting see it.  Unexposing unmounts it and clears the record.
 */
#define _GNU_SOURCE
#include <blkid.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "vss-internal.h"

/*
 * Mount options per filesystem type.  A shadow copy of a mounted
 * filesystem holds a dirty journal: replaying it would write to the copy
 * (and fails on a read-only device), so replay is switched off.  A copy of
 * a mounted xfs carries the UUID of the mounted original, which xfs
 * refuses to mount twice without nouuid.
 */
static const struct {
	const char *type;
	const char *options;
} fs_options[] = {
	{ "ext4", "noload" },
	{ "ext3", "noload" },
	{ "xfs", "norecovery,nouuid" },
	{ "btrfs", "nologreplay" },
};

static const char *mount_options(const char *fstype)
{
	size_t i;

	for (i = 0; i < sizeof(fs_options) / sizeof(fs_options[0]); i++)
		if (!strcmp(fs_options[i].type, fstype))
			return fs_options[i].options;
	return "";
}

/*
 * Is the shadow copy usable: its device present and, for the targets that
 * say so in their status, not invalidated or dropped by the kernel?
 */
static int check_usable(struct vss_ctx *ctx, uint64_t id, const char *state,
			const char *device, const char *provider)
{
	const char *name = strrchr(device, '/') ? strrchr(device, '/') + 1 : device;
	struct vss_dm_target *t;
	struct stat st;
	size_t n;
	int r;

	if (state && !strcmp(state, "invalid")) {
		vss_err(ctx, "shadow copy %llu: cannot expose: it is invalid (dropped or "
			"invalidated; only vss-delete is left to do)", (unsigned long long)id);
		return -ESTALE;
	}
	if (!device[0] || stat(device, &st) || !S_ISBLK(st.st_mode)) {
		vss_err(ctx, "shadow copy %llu: cannot expose: its device %s is missing "
			"(vss-activate brings it back)", (unsigned long long)id,
			device[0] ? device : "(none)");
		return -ENODEV;
	}
	if (!vss_provider_can(provider, VSS_PROVIDER_DEVICE_STATUS))
		return 0;
	r = vss_dm_table(name, true, &t, &n);
	if (r || !n) {
		vss_err(ctx, "shadow copy %llu: cannot expose: %s has no device-mapper status%s%s",
			(unsigned long long)id, device, r ? ": " : "", r ? strerror(-r) : "");
		vss_dm_targets_free(t, n);
		return r ? r : -ENODEV;
	}
	if (!vss_status_device_valid(t[0].type, t[0].params)) {
		vss_err(ctx, "shadow copy %llu: cannot expose: the kernel reports it invalid "
			"(%s %s): dropped or invalidated when its store overflowed",
			(unsigned long long)id, t[0].type, t[0].params);
		r = -ESTALE;
	}
	vss_dm_targets_free(t, n);
	return r;
}

/* The filesystem type on a device, by libblkid. */
static int probe_fstype(struct vss_ctx *ctx, uint64_t id, const char *device,
			char *type, size_t size)
{
	blkid_probe pr = blkid_new_probe_from_filename(device);
	const char *v = NULL;
	int r;

	if (!pr) {
		r = errno ? -errno : -EIO;
		vss_err(ctx, "%s: cannot probe for a filesystem: %s", device, strerror(-r));
		return r;
	}
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_USAGE);
	r = blkid_do_safeprobe(pr);
	if (r == 0 && blkid_probe_lookup_value(pr, "TYPE", &v, NULL) == 0 && v) {
		const char *usage = NULL;

		if (blkid_probe_lookup_value(pr, "USAGE", &usage, NULL) == 0 && usage &&
		    strcmp(usage, "filesystem")) {
			vss_err(ctx, "shadow copy %llu: cannot expose: %s holds %s (%s), not a "
				"filesystem: read the device itself", (unsigned long long)id,
				device, v, usage);
			blkid_free_probe(pr);
			return -ENXIO;
		}
		vss_strlcpy(type, v, size);
		blkid_free_probe(pr);
		return 0;
	}
	blkid_free_probe(pr);
	if (r == -2)
		vss_err(ctx, "shadow copy %llu: cannot expose: %s: more than one filesystem "
			"signature found (ambiguous)", (unsigned long long)id, device);
	else
		vss_err(ctx, "shadow copy %llu: cannot expose: no filesystem found on %s "
			"(read the device itself)", (unsigned long long)id, device);
	return -ENXIO;
}

/* An absolute path for a mount point that may not exist yet. */
static int absolute(const char *path, char *out, size_t size)
{
	if (realpath(path, out))
		return 0;
	if (errno != ENOENT)
		return -errno;
	if (path[0] == '/') {
		vss_strlcpy(out, path, size);
	} else {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)))
			return -errno;
		if ((size_t)snprintf(out, size, "%s/%s", cwd, path) >= size)
			return -ENAMETOOLONG;
	}
	/* no trailing slash, so that it compares with /proc/self/mountinfo */
	while (strlen(out) > 1 && out[strlen(out) - 1] == '/')
		out[strlen(out) - 1] = '\0';
	return 0;
}

VSS_EXPORT int vss_shadow_expose(struct vss_ctx *ctx, uint64_t shadow_id,
				 const char *mountpoint, struct vss_shadow_info *info)
{
	char mnt[PATH_MAX], fstype[64], where[PATH_MAX], options[128];
	const char *exposed, *fsopts;
	json_object *root, *sh, *set = NULL;
	struct vss_shadow_info si;
	bool made = false;
	struct stat st;
	dev_t devno = 0;
	int r;

	r = vss_catalog_load(ctx, &root);
	if (r)
		return r;
	sh = vss_catalog_find_shadow(root, shadow_id, &set);
	if (!sh) {
		vss_err(ctx, "shadow copy %llu: no such shadow copy (see vss-list)",
			(unsigned long long)shadow_id);
		r = -ENOENT;
		goto out;
	}
	vss_catalog_shadow_to_info(set, sh, &si);
	if (info)
		*info = si;
	r = check_usable(ctx, shadow_id, si.state, si.device, si.provider);
	if (r)
		goto out;

	/* Already exposed (read-only or writable), or mounted by hand? */
	exposed = vss_json_str(sh, "exposed");
	if (exposed && *exposed && vss_exposure_live(sh)) {
		vss_err(ctx, "shadow copy %llu: already exposed%s at %s",
			(unsigned long long)shadow_id,
			json_object_object_get_ex(sh, "view", NULL) ? " writable" : "", exposed);
		r = -EBUSY;
		goto out;
	}
	if (stat(si.device, &st) == 0 && vss_mountpoint_of_devno(st.st_rdev, where,
								  sizeof(where)) == 0 && where[0]) {
		vss_err(ctx, "shadow copy %llu: %s is already mounted at %s "
			"(not by vss-expose)", (unsigned long long)shadow_id, si.device, where);
		r = -EBUSY;
		goto out;
	}
	if (exposed && *exposed) {
		/*
		 * Recorded, but no longer mounted (a reboot, or umount by hand):
		 * what is left of a view goes now; the record is cleared when
		 * this call records the new mount (under the lock).
		 */
		vss_info(ctx, "shadow copy %llu: no longer mounted at %s", (unsigned long long)shadow_id,
			 exposed);
		if (mountpoint)
			vss_exposure_forget(ctx, sh);
		else
			json_object_object_del(sh, "exposed");
	}
	if (info)
		info->exposed[0] = '\0';
	if (!mountpoint)
		goto out;	/* only the device: nothing to mount, nothing recorded */

	r = absolute(mountpoint, mnt, sizeof(mnt));
	if (r) {
		vss_err(ctx, "%s: cannot resolve the mount point: %s", mountpoint, strerror(-r));
		goto out;
	}
	r = probe_fstype(ctx, shadow_id, si.device, fstype, sizeof(fstype));
	if (r)
		goto out;
	if (stat(mnt, &st)) {
		if (errno != ENOENT) {
			r = -errno;
			vss_err(ctx, "%s: cannot use as a mount point: %s", mnt, strerror(-r));
			goto out;
		}
		r = vss_mkdir_p(mnt, 0755);
		if (r) {
			vss_err(ctx, "%s: cannot create the mount point: %s", mnt, strerror(-r));
			goto out;
		}
		made = true;
		vss_info(ctx, "%s: mount point created", mnt);
	} else if (!S_ISDIR(st.st_mode)) {
		vss_err(ctx, "%s: cannot use as a mount point: not a directory", mnt);
		r = -ENOTDIR;
		goto out;
	} else if (vss_mounted_at(mnt, &devno)) {
		vss_err(ctx, "%s: cannot use as a mount point: a filesystem is mounted there "
			"already", mnt);
		r = -EBUSY;
		goto out;
	}
	fsopts = mount_options(fstype);
	snprintf(options, sizeof(options), "%s", fsopts);
	if (mount(si.device, mnt, fstype, MS_RDONLY | MS_NOSUID | MS_NODEV, options)) {
		r = -errno;
		vss_err(ctx, "shadow copy %llu: cannot mount %s (%s, ro%s%s) at %s: %s",
			(unsigned long long)shadow_id, si.device, fstype, fsopts[0] ? "," : "",
			fsopts, mnt, strerror(-r));
		if (made)
			rmdir(mnt);
		if (r != -EPERM && r != -EACCES && r != -ENOMEM && r != -EBUSY)
			r = -EIO;
		goto out;
	}
	vss_dbg(ctx, "shadow copy %llu: %s mounted at %s (%s, ro,nosuid,nodev%s%s)",
		(unsigned long long)shadow_id, si.device, mnt, fstype, fsopts[0] ? "," : "", fsopts);
	json_object_object_add(sh, "exposed", json_object_new_string(mnt));
	json_object_object_add(sh, "exposed_mkdir", json_object_new_boolean(made));
	r = vss_catalog_save(ctx, root);
	if (r) {
		umount2(mnt, 0);
		if (made)
			rmdir(mnt);
		goto out;
	}
	if (info)
		vss_strlcpy(info->exposed, mnt, sizeof(info->exposed));
out:
	json_object_put(root);
	return r;
}

static int view_teardown(struct vss_ctx *ctx, json_object *view);

VSS_EXPORT int vss_shadow_unexpose(struct vss_ctx *ctx, uint64_t shadow_id, bool force)
{
	char mnt[PATH_MAX], where[PATH_MAX] = "";
	const char *exposed, *device;
	json_object *root, *sh, *view = NULL;
	struct stat st;
	int r;

	r = vss_catalog_load(ctx, &root);
	if (r)
		return r;
	sh = vss_catalog_find_shadow(root, shadow_id, NULL);
	if (!sh) {
		vss_err(ctx, "shadow copy %llu: no such shadow copy (see vss-list)",
			(unsigned long long)shadow_id);
		r = -ENOENT;
		goto out;
	}
	exposed = vss_json_str(sh, "exposed");
	device = vss_json_str(sh, "device");
	if (!exposed || !*exposed) {
		if (device && stat(device, &st) == 0)
			vss_mountpoint_of_devno(st.st_rdev, where, sizeof(where));
		if (where[0])
			vss_err(ctx, "shadow copy %llu: not exposed by vss-expose, but mounted at "
				"%s: umount %s", (unsigned long long)shadow_id, where, where);
		else
			vss_err(ctx, "shadow copy %llu: not exposed", (unsigned long long)shadow_id);
		r = -ENOENT;
		goto out;
	}
	vss_strlcpy(mnt, exposed, sizeof(mnt));
	if (!vss_exposure_live(sh)) {
		vss_warn(ctx, "shadow copy %llu: no longer mounted at %s: record cleared",
			 (unsigned long long)shadow_id, mnt);
	} else if (umount2(mnt, force ? MNT_DETACH : 0)) {
		r = -errno;
		if (r == -EBUSY)
			vss_err(ctx, "%s: cannot unmount: busy: a process uses it (fuser -vm %s "
				"shows which); stop it, or vss-unexpose --force to detach it now",
				mnt, mnt);
		else
			vss_err(ctx, "%s: cannot unmount: %s", mnt, strerror(-r));
		goto out;
	} else {
		vss_dbg(ctx, "shadow copy %llu: unmounted from %s%s", (unsigned long long)shadow_id,
			mnt, force ? " (detached)" : "");
	}
	if (json_object_object_get_ex(sh, "view", &view) && view) {
		r = view_teardown(ctx, view);
		if (r) {
			/* unmounted, but its device stays: the record stays, for the next try */
			json_object_object_add(sh, "exposed_mkdir", json_object_new_boolean(false));
			vss_catalog_save(ctx, root);
			goto out;
		}
		json_object_object_del(sh, "view");
	}
	if (vss_json_bool(sh, "exposed_mkdir") && rmdir(mnt) == 0)
		vss_info(ctx, "%s: mount point removed", mnt);
	json_object_object_del(sh, "exposed");
	json_object_object_del(sh, "exposed_mkdir");
	r = vss_catalog_save(ctx, root);
out:
	json_object_put(root);
	return r;
}

/*
 * Writable views.  The kernel's dm-snapshot target, non-persistent, over
 * the shadow copy's read-only device: reads come from the copy, writes go
 * to a copy-on-write device, and the copy itself is never written (the
 * snapshot target opens its origin read-only).  The copy-on-write device
 * is the one given, or a loop device over a sparse file made here; the
 * loop device is set to clear itself when the view's device closes it.
 * The catalog records the view in the shadow copy's "view" object next to
 * "exposed", so that every command that refuses an exposed copy refuses a
 * copy with a view too, and vss-unexpose knows what to remove.
 */
#define VIEW_CHUNK_SECTORS 8		/* 4 KiB: a database's page writes copy little */
#define VIEW_COW_MIN (1ULL << 30)
#define VIEW_COW_PERCENT 10

static void view_name(uint64_t shadow_id, char *name, size_t size)
{
	snprintf(name, size, "vss-%llu-view", (unsigned long long)shadow_id);
}

static uint64_t percent_of(uint64_t bytes, unsigned int pct)
{
	return bytes / 100 * pct + bytes % 100 * pct / 100;
}

/* The size of the copy-on-write file for a volume of vol_bytes. */
static uint64_t view_cow_size(struct vss_ctx *ctx, uint64_t vol_bytes, uint64_t asked)
{
	struct vss_config *cfg = NULL;
	const char *v;
	uint64_t size = 0;

	if (asked)
		return asked;
	if (!vss_config_load(ctx, &cfg) && (v = vss_config_get(cfg, "expose.cow_size"))) {
		if (v[strlen(v) - 1] == '%')
			size = percent_of(vol_bytes, (unsigned int)strtoul(v, NULL, 10));
		else
			vss_parse_size(v, &size);
	}
	vss_config_free(cfg);
	if (size)
		return size;
	size = percent_of(vol_bytes, VIEW_COW_PERCENT);
	if (size < VIEW_COW_MIN)
		size = VIEW_COW_MIN;
	/* a transient store keeps no metadata: the volume's size never fills */
	return size > vol_bytes ? vol_bytes : size;
}

static void view_cow_dir(struct vss_ctx *ctx, char *dir, size_t size)
{
	struct vss_config *cfg = NULL;
	const char *v = NULL;

	if (!vss_config_load(ctx, &cfg))
		v = vss_config_get(cfg, "expose.cow_dir");
	if (v)
		vss_strlcpy(dir, v, size);
	else
		snprintf(dir, size, "%s/views", ctx->run_dir);
	vss_config_free(cfg);
}

/*
 * A loop device over file (a free one, taken with LOOP_CONFIGURE or the
 * older LOOP_SET_FD), set to detach itself on its last close.  Returns an
 * open descriptor of it (the caller keeps it until the view's device holds
 * it), its path in dev, or -errno.
 */
static int loop_attach(struct vss_ctx *ctx, const char *file, char *dev, size_t size)
{
	int ctl, fd = -1, ffd, tries, r = -EBUSY;

	ffd = open(file, O_RDWR | O_CLOEXEC);
	if (ffd < 0) {
		r = -errno;
		vss_err(ctx, "%s: cannot open the copy-on-write file: %s", file, strerror(-r));
		return r;
	}
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		r = -errno;
		vss_err(ctx, "/dev/loop-control: cannot open: %s (is the loop module loaded?)",
			strerror(-r));
		close(ffd);
		return r;
	}
	for (tries = 0; tries < 10 && r == -EBUSY; tries++) {
		struct loop_config lc;
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);

		if (n < 0) {
			r = -errno;
			break;
		}
		snprintf(dev, size, "/dev/loop%d", n);
		fd = open(dev, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			if (r == -ENOENT) {	/* its node is not there yet */
				usleep(50000);
				r = -EBUSY;
			}
			continue;
		}
		memset(&lc, 0, sizeof(lc));
		lc.fd = ffd;
		lc.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		vss_strlcpy((char *)lc.info.lo_file_name, file, sizeof(lc.info.lo_file_name));
		if (ioctl(fd, LOOP_CONFIGURE, &lc) == 0) {
			r = 0;
			break;
		}
		r = -errno;
		if (r == -EINVAL || r == -ENOTTY) {	/* a kernel before 5.8 */
			struct loop_info64 li;

			memset(&li, 0, sizeof(li));
			li.lo_flags = LO_FLAGS_AUTOCLEAR;
			vss_strlcpy((char *)li.lo_file_name, file, sizeof(li.lo_file_name));
			if (ioctl(fd, LOOP_SET_FD, ffd) == 0) {
				if (ioctl(fd, LOOP_SET_STATUS64, &li) == 0) {
					r = 0;
					break;
				}
				r = -errno;
				ioctl(fd, LOOP_CLR_FD, 0);
				break;
			}
			r = -errno;
		}
		close(fd);
		fd = -1;
	}
	close(ctl);
	close(ffd);
	if (r) {
		vss_err(ctx, "%s: cannot attach a loop device: %s", file, strerror(-r));
		if (fd >= 0)
			close(fd);
		return r;
	}
	return fd;
}

/* Detach loop device dev if it still serves file (autoclear did not). */
static void loop_detach(struct vss_ctx *ctx, const char *dev, const char *file)
{
	struct loop_info64 li;
	int fd;

	if (!dev || !*dev)
		return;
	fd = open(dev, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (ioctl(fd, LOOP_GET_STATUS64, &li) == 0 && file &&
	    !strncmp((const char *)li.lo_file_name, file, sizeof(li.lo_file_name) - 1)) {
		if (ioctl(fd, LOOP_CLR_FD, 0))
			vss_warn(ctx, "%s: cannot detach the loop device: %s", dev, strerror(errno));
		else
			vss_dbg(ctx, "%s: loop device detached", dev);
	}
	close(fd);
}

/*
 * Remove what a view record holds, in order: the dm device (after the
 * caller unmounted it), the loop device, a file made for it.  0 or -errno
 * of the dm removal (the record must then stay).
 */
static int view_teardown(struct vss_ctx *ctx, json_object *view)
{
	const char *name = vss_json_str(view, "name"), *cow = vss_json_str(view, "cow");
	int r = 0;

	if (name && *name && vss_dm_present() && vss_dm_exists(name) > 0) {
		r = vss_dm_remove(ctx, name);
		if (r)
			return r;
		vss_dbg(ctx, "/dev/mapper/%s: removed", name);
	}
	loop_detach(ctx, vss_json_str(view, "loop"), cow);
	if (vss_json_bool(view, "cow_created") && cow && unlink(cow) && errno != ENOENT)
		vss_warn(ctx, "%s: cannot delete the copy-on-write file: %s", cow, strerror(errno));
	return 0;
}

/*
 * Whether a shadow copy's recorded exposure is still mounted: its own
 * device, or its view's, at the recorded mount point.
 */
bool vss_exposure_live(json_object *sh)
{
	const char *ex = vss_json_str(sh, "exposed");
	json_object *view = NULL;
	char dev[300];
	struct stat st;
	dev_t devno = 0;

	if (!ex || !*ex || !vss_mounted_at(ex, &devno))
		return false;
	if (json_object_object_get_ex(sh, "view", &view) && view)
		snprintf(dev, sizeof(dev), "/dev/mapper/%s", vss_json_str(view, "name") ?
			 vss_json_str(view, "name") : "");
	else
		vss_strlcpy(dev, vss_json_str(sh, "device") ? vss_json_str(sh, "device") : "",
			    sizeof(dev));
	return stat(dev, &st) == 0 && devno == st.st_rdev;
}

/*
 * A stale exposure (its mount gone: a reboot): remove what is left of a
 * view (a device, a loop device, its file), and clear the record.
 */
void vss_exposure_forget(struct vss_ctx *ctx, json_object *sh)
{
	json_object *view = NULL;

	if (json_object_object_get_ex(sh, "view", &view) && view && !view_teardown(ctx, view))
		json_object_object_del(sh, "view");
	json_object_object_del(sh, "exposed");
	json_object_object_del(sh, "exposed_mkdir");
}

/* The copy-on-write device: the one given (a device, or a file: a loop), or a new file. */
static int view_cow(struct vss_ctx *ctx, uint64_t shadow_id, const struct vss_view_opts *o,
		    uint64_t vol_bytes, json_object *view, char *dev, size_t size, int *hold)
{
	char file[PATH_MAX], dir[PATH_MAX - 64];
	struct stat st;
	uint64_t bytes;
	int fd, r;

	*hold = -1;
	if (o && o->cow) {
		if (stat(o->cow, &st)) {
			r = -errno;
			vss_err(ctx, "%s: cannot use for the copy-on-write data: %s", o->cow,
				strerror(-r));
			return r;
		}
		if (S_ISBLK(st.st_mode)) {
			if (vss_blkdev_size(o->cow, &bytes) == 0 && bytes < 1 << 20) {
				vss_err(ctx, "%s: cannot use for the copy-on-write data: smaller "
					"than 1 MiB", o->cow);
				return -ENOSPC;
			}
			vss_strlcpy(dev, o->cow, size);
			json_object_object_add(view, "cow", json_object_new_string(o->cow));
			return 0;
		}
		if (!S_ISREG(st.st_mode)) {
			vss_err(ctx, "%s: cannot use for the copy-on-write data: neither a block "
				"device nor a file", o->cow);
			return -ENOTBLK;
		}
		if (!realpath(o->cow, file))
			vss_strlcpy(file, o->cow, sizeof(file));
		json_object_object_add(view, "cow", json_object_new_string(file));
	} else {
		view_cow_dir(ctx, dir, sizeof(dir));
		r = vss_mkdir_p(dir, 0700);
		if (r) {
			vss_err(ctx, "%s: cannot create the directory of copy-on-write files: %s",
				dir, strerror(-r));
			return r;
		}
		snprintf(file, sizeof(file), "%s/vss-%llu-view.cow", dir,
			 (unsigned long long)shadow_id);
		bytes = view_cow_size(ctx, vol_bytes, o ? o->cow_size : 0);
		fd = open(file, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			r = -errno;
			vss_err(ctx, "%s: cannot create the copy-on-write file: %s", file,
				strerror(-r));
			return r == -EEXIST ? -EBUSY : r;
		}
		if (ftruncate(fd, (off_t)bytes)) {
			r = -errno;
			vss_err(ctx, "%s: cannot size the copy-on-write file to %llu bytes: %s",
				file, (unsigned long long)bytes, strerror(-r));
			close(fd);
			unlink(file);
			return r == -EFBIG ? -ENOSPC : r;
		}
		close(fd);
		json_object_object_add(view, "cow", json_object_new_string(file));
		json_object_object_add(view, "cow_created", json_object_new_boolean(true));
		vss_dbg(ctx, "%s: copy-on-write file of %llu bytes (sparse)", file,
			(unsigned long long)bytes);
	}
	*hold = loop_attach(ctx, file, dev, size);
	if (*hold < 0) {
		r = *hold;
		*hold = -1;
		if (vss_json_bool(view, "cow_created"))
			unlink(file);
		return r;
	}
	json_object_object_add(view, "loop", json_object_new_string(dev));
	return 0;
}

VSS_EXPORT int vss_shadow_expose_writable(struct vss_ctx *ctx, uint64_t shadow_id,
					  const char *mountpoint,
					  const struct vss_view_opts *opts,
					  struct vss_shadow_info *info)
{
	char mnt[PATH_MAX], fstype[64], name[64], vdev[300], cow[PATH_MAX];
	char params[PATH_MAX + 400];
	json_object *root = NULL, *sh, *view = NULL;
	struct vss_dm_target t = { .type = "snapshot", .params = params };
	struct vss_shadow_info si;
	const char *fsopts = "";
	bool made = false, created = false;
	int hold = -1, r;
	struct stat st;
	dev_t devno = 0;

	if (!mountpoint)
		return -EINVAL;
	/* the checks of a read-only exposure: known, usable, not exposed yet */
	r = vss_shadow_expose(ctx, shadow_id, NULL, &si);
	if (r)
		return r;
	if (info)
		*info = si;
	/* a recorded exposure now is a stale one: vss_shadow_expose() found its mount gone */
	r = vss_catalog_load(ctx, &root);
	if (r)
		return r;
	sh = vss_catalog_find_shadow(root, shadow_id, NULL);
	if (sh && vss_json_str(sh, "exposed")) {
		vss_exposure_forget(ctx, sh);
		r = vss_catalog_save(ctx, root);
	}
	json_object_put(root);
	root = NULL;
	if (r)
		return r;
	view_name(shadow_id, name, sizeof(name));
	snprintf(vdev, sizeof(vdev), "/dev/mapper/%s", name);
	if (vss_dm_exists(name) > 0) {
		vss_err(ctx, "shadow copy %llu: %s exists already (a view left by a command "
			"that died? dmsetup remove %s)", (unsigned long long)shadow_id, vdev, name);
		return -EBUSY;
	}
	r = absolute(mountpoint, mnt, sizeof(mnt));
	if (r) {
		vss_err(ctx, "%s: cannot resolve the mount point: %s", mountpoint, strerror(-r));
		return r;
	}
	if (stat(mnt, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			vss_err(ctx, "%s: cannot use as a mount point: not a directory", mnt);
			return -ENOTDIR;
		}
		if (vss_mounted_at(mnt, &devno)) {
			vss_err(ctx, "%s: cannot use as a mount point: a filesystem is mounted "
				"there already", mnt);
			return -EBUSY;
		}
	}
	r = probe_fstype(ctx, shadow_id, si.device, fstype, sizeof(fstype));
	if (r)
		return r;
	t.length = vss_dm_size(vss_base_name(si.device));
	if (!t.length) {
		vss_err(ctx, "shadow copy %llu: cannot read the size of %s",
			(unsigned long long)shadow_id, si.device);
		return -ENODEV;
	}

	view = json_object_new_object();
	json_object_object_add(view, "name", json_object_new_string(name));
	r = view_cow(ctx, shadow_id, opts, t.length << 9, view, cow, sizeof(cow), &hold);
	if (r)
		goto fail;
	snprintf(params, sizeof(params), "%s %s N %u", si.device, cow, VIEW_CHUNK_SECTORS);
	r = vss_dm_create(ctx, name, NULL, &t, 1, false, true);
	if (hold >= 0)
		close(hold);	/* the view holds the loop device now */
	hold = -1;
	if (r) {
		vss_err(ctx, "shadow copy %llu: cannot make its writable view: %s%s",
			(unsigned long long)shadow_id, strerror(-r),
			r == -EINVAL ? " (is dm-snapshot available? modprobe dm-snapshot)" : "");
		if (r != -ENOMEM && r != -EBUSY)
			r = -EIO;
		goto fail;
	}
	created = true;

	if (stat(mnt, &st)) {
		r = vss_mkdir_p(mnt, 0755);
		if (r) {
			vss_err(ctx, "%s: cannot create the mount point: %s", mnt, strerror(-r));
			goto fail;
		}
		made = true;
	}
	if (!strcmp(fstype, "xfs"))
		fsopts = "nouuid";
	if (mount(vdev, mnt, fstype, MS_NOSUID | MS_NODEV, fsopts)) {
		r = -errno;
		vss_err(ctx, "shadow copy %llu: cannot mount its view %s (%s, rw%s%s) at %s: %s",
			(unsigned long long)shadow_id, vdev, fstype, fsopts[0] ? "," : "", fsopts,
			mnt, strerror(-r));
		if (r != -EPERM && r != -EACCES && r != -ENOMEM && r != -EBUSY)
			r = -EIO;
		goto fail;
	}
	vss_dbg(ctx, "shadow copy %llu: view %s mounted at %s (%s, rw,nosuid,nodev%s%s)",
		(unsigned long long)shadow_id, vdev, mnt, fstype, fsopts[0] ? "," : "", fsopts);

	r = vss_catalog_load(ctx, &root);
	if (!r) {
		sh = vss_catalog_find_shadow(root, shadow_id, NULL);
		if (!sh) {
			r = -ENOENT;
		} else {
			json_object_object_add(sh, "exposed", json_object_new_string(mnt));
			json_object_object_add(sh, "exposed_mkdir", json_object_new_boolean(made));
			json_object_object_add(sh, "view", view);
			view = NULL;
			r = vss_catalog_save(ctx, root);
		}
	}
	if (r) {
		umount2(mnt, 0);
		goto fail;
	}
	json_object_put(root);
	if (info)
		vss_strlcpy(info->exposed, mnt, sizeof(info->exposed));
	return 0;

fail:
	if (made)
		rmdir(mnt);
	if (hold >= 0)
		close(hold);
	if (view) {
		if (!created)
			json_object_object_del(view, "name");
		view_teardown(ctx, view);
		json_object_put(view);
	} else if (root) {
		json_object *recorded = NULL;

		/* recorded, then the save failed: the record was never written */
		sh = vss_catalog_find_shadow(root, shadow_id, NULL);
		if (sh && json_object_object_get_ex(sh, "view", &recorded))
			view_teardown(ctx, recorded);
	}
	json_object_put(root);
	return r;
}
