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

	/* Already exposed, or mounted by hand? */
	exposed = vss_json_str(sh, "exposed");
	if (stat(si.device, &st) == 0 && vss_mountpoint_of_devno(st.st_rdev, where,
								  sizeof(where)) == 0 && where[0]) {
		if (exposed && !strcmp(exposed, where))
			vss_err(ctx, "shadow copy %llu: already exposed at %s",
				(unsigned long long)shadow_id, where);
		else
			vss_err(ctx, "shadow copy %llu: %s is already mounted at %s "
				"(not by vss-expose)", (unsigned long long)shadow_id, si.device, where);
		r = -EBUSY;
		goto out;
	}
	if (exposed && *exposed) {
		/*
		 * Recorded, but no longer mounted (a reboot, or umount by hand):
		 * cleared when this call records the new mount (under the lock).
		 */
		vss_info(ctx, "shadow copy %llu: no longer mounted at %s", (unsigned long long)shadow_id,
			 exposed);
		json_object_object_del(sh, "exposed");
		json_object_object_del(sh, "exposed_mkdir");
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

VSS_EXPORT int vss_shadow_unexpose(struct vss_ctx *ctx, uint64_t shadow_id, bool force)
{
	char mnt[PATH_MAX], where[PATH_MAX] = "";
	const char *exposed, *device;
	json_object *root, *sh;
	struct stat st;
	dev_t devno = 0;
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
	if (!vss_mounted_at(mnt, &devno) || !device || stat(device, &st) || devno != st.st_rdev) {
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
	if (vss_json_bool(sh, "exposed_mkdir") && rmdir(mnt) == 0)
		vss_info(ctx, "%s: mount point removed", mnt);
	json_object_object_del(sh, "exposed");
	json_object_object_del(sh, "exposed_mkdir");
	r = vss_catalog_save(ctx, root);
out:
	json_object_put(root);
	return r;
}
