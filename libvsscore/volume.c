// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Volumes: from what the user names (a dm device, /dev/dm-N, a mount point,
 * LABEL=/UUID=) to the dm name, and from a dm device to where it is mounted.
 */
#include <blkid.h>
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "vss-internal.h"

int vss_blkdev_size_fd(int fd, uint64_t *bytes)
{
	return ioctl(fd, BLKGETSIZE64, bytes) ? -errno : 0;
}

int vss_blkdev_size(const char *path, uint64_t *bytes)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	r = vss_blkdev_size_fd(fd, bytes);
	close(fd);
	return r;
}

int vss_dm_name_of_devno(dev_t devno, char *name, size_t size)
{
	char path[128], buf[256];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/dm/name", major(devno), minor(devno));
	f = fopen(path, "re");
	if (!f) {
		snprintf(path, sizeof(path), "/sys/dev/block/%u:%u", major(devno), minor(devno));
		return access(path, F_OK) ? -ENOENT : -ENOTBLK;
	}
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	vss_strlcpy(name, buf, size);
	return 0;
}

/*
 * /proc/self/mountinfo, the one reader of it: "id parent major:minor root
 * mountpoint opts ... - fstype source sopts", one mount a line, in mount
 * order.  Mount points with blanks are octal-escaped (\040).
 */
struct mount_entry {
	dev_t devno;
	char root[PATH_MAX];		/* the mounted directory of the filesystem */
	char mountpoint[PATH_MAX];	/* unescaped */
};

static void unescape(char *s)
{
	char *d = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] && s[3]) {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = '\0';
}

/* The next mount of f (fopen'ed mountinfo): false at its end. */
static bool mountinfo_next(FILE *f, struct mount_entry *m)
{
	char line[4096];

	while (fgets(line, sizeof(line), f)) {
		unsigned maj, min;

		if (sscanf(line, "%*u %*u %u:%u %4095s %4095s", &maj, &min, m->root,
			   m->mountpoint) != 4)
			continue;
		unescape(m->mountpoint);
		m->devno = makedev(maj, min);
		return true;
	}
	return false;
}

bool vss_mounted_at(const char *path, dev_t *devno)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	struct mount_entry m;
	bool found = false;

	if (!f)
		return false;
	while (mountinfo_next(f, &m)) {
		if (strcmp(m.mountpoint, path))
			continue;
		found = true;	/* the last (topmost) mount wins */
		if (devno)
			*devno = m.devno;
	}
	fclose(f);
	return found;
}

/* The first mount point of a devno (the whole filesystem: root "/"). */
static int mount_of_devno(dev_t devno, char *mnt, size_t size)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	struct mount_entry m;
	int r = -ENOENT;

	if (!f)
		return -errno;
	while (mountinfo_next(f, &m)) {
		if (m.devno != devno)
			continue;
		vss_strlcpy(mnt, m.mountpoint, size);
		r = 0;
		if (!strcmp(m.root, "/"))
			break;
	}
	fclose(f);
	return r;
}

int vss_mountpoint_of_devno(dev_t devno, char *mnt, size_t size)
{
	int r;

	mnt[0] = '\0';
	r = mount_of_devno(devno, mnt, size);
	return r == -ENOENT ? 0 : r;
}

int vss_mountpoint_of(const char *dm_name, char *mnt, size_t size)
{
	unsigned maj, min;
	int r;

	mnt[0] = '\0';
	r = vss_dm_info(dm_name, NULL, &maj, &min, NULL);
	if (r)
		return r;
	r = mount_of_devno(makedev(maj, min), mnt, size);
	return r == -ENOENT ? 0 : r;
}

VSS_EXPORT int vss_volume_resolve(struct vss_ctx *ctx, const char *arg, char *dm_name,
				  size_t size)
{
	char path[PATH_MAX], *spec = NULL;
	struct stat st;
	dev_t devno = 0;
	int r;

	if (strchr(arg, '=')) {
		spec = blkid_evaluate_spec(arg, NULL);
		if (!spec) {
			vss_err(ctx, "%s: no such volume", arg);
			return -ENOENT;
		}
		arg = spec;
	}
	if (!strchr(arg, '/')) {
		snprintf(path, sizeof(path), "/dev/mapper/%s", arg);
		if (stat(path, &st) == 0 && S_ISBLK(st.st_mode))
			devno = st.st_rdev;
		else if (vss_dm_exists(arg) == 1) {
			vss_strlcpy(dm_name, arg, size);
			free(spec);
			return 0;
		}
	}
	if (!devno) {
		if (!realpath(arg, path)) {
			r = -errno;
			vss_err(ctx, "%s: cannot find the volume: %s", arg, strerror(-r));
			free(spec);
			return r;
		}
		if (stat(path, &st)) {
			r = -errno;
			free(spec);
			return r;
		}
		if (S_ISBLK(st.st_mode))
			devno = st.st_rdev;
		else if (S_ISDIR(st.st_mode) && !vss_mounted_at(path, &devno))
			devno = 0;
		if (!devno) {
			vss_err(ctx, "%s: not a block device or a mount point", arg);
			free(spec);
			return -ENOENT;
		}
	}
	r = vss_dm_name_of_devno(devno, dm_name, size);
	if (r == -ENOTBLK)
		vss_err(ctx, "%s: not a device-mapper device (see vss-storage add --wrap)", arg);
	else if (r)
		vss_err(ctx, "%s: cannot find its device: %s", arg, strerror(-r));
	free(spec);
	return r;
}

static void probe_what(blkid_probe pr, char *type, size_t size)
{
	const char *v = NULL;

	if (blkid_probe_lookup_value(pr, "TYPE", &v, NULL) == 0 && v)
		vss_strlcpy(type, v, size);
	else if (blkid_probe_lookup_value(pr, "PTTYPE", &v, NULL) == 0 && v)
		snprintf(type, size, "a %s partition table", v);
	else
		vss_strlcpy(type, "a known signature", size);
}

int vss_device_signature(const char *device, char *type, size_t size)
{
	blkid_probe pr = blkid_new_probe_from_filename(device);
	int r;

	if (!pr)
		return errno ? -errno : -EIO;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);
	blkid_probe_enable_partitions(pr, 1);
	/* any signature at all: one ambiguous probe (-2) is one too */
	r = blkid_do_probe(pr);
	if (r == 0)
		probe_what(pr, type, size);
	blkid_free_probe(pr);
	return r == 0 ? 1 : r == 1 ? 0 : -EIO;
}

int vss_device_wipe_signatures(const char *device)
{
	blkid_probe pr;
	int fd, r = 0;

	fd = open(device, O_RDWR | O_EXCL | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	pr = blkid_new_probe();
	if (!pr || blkid_probe_set_device(pr, fd, 0, 0)) {
		r = -ENOMEM;
		goto out;
	}
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_MAGIC);
	blkid_probe_enable_partitions(pr, 1);
	blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC);
	/* as wipefs -a: each signature found is erased, then the next looked for */
	while (blkid_do_probe(pr) == 0)
		if (blkid_do_wipe(pr, 0)) {
			r = errno ? -errno : -EIO;
			break;
		}
	if (!r && fsync(fd))
		r = -errno;
out:
	if (pr)
		blkid_free_probe(pr);
	close(fd);
	return r;
}
