// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Copying files for a restore: what cp -a --sparse=always does, as a
 * library.  Every kind of file (regular, directory, symbolic link, block
 * and character device, fifo, socket), never following a link; owner and
 * group, then mode (a chown clears set-id bits), then the extended
 * attributes (a chown clears security.capability), timestamps last (and a
 * directory's once its content is in).  A regular file's data is copied
 * extent by extent with SEEK_DATA/SEEK_HOLE, so that its holes stay holes;
 * a file with several links is copied once and linked again.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "vss-internal.h"
#include "restore-files.h"

#define COPY_BUF (1024 * 1024)

struct link_seen {
	dev_t dev;
	ino_t ino;
	char *dst;
};

struct vss_copy {
	struct vss_ctx *ctx;
	struct vss_copy_stats stats;
	struct link_seen *links;
	size_t nlinks, alloc;
	char *buf;
	bool warned_xattr;
};

struct vss_copy *vss_copy_new(struct vss_ctx *ctx)
{
	struct vss_copy *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->ctx = ctx;
	c->buf = malloc(COPY_BUF);
	if (!c->buf) {
		free(c);
		return NULL;
	}
	return c;
}

void vss_copy_free(struct vss_copy *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->nlinks; i++)
		free(c->links[i].dst);
	free(c->links);
	free(c->buf);
	free(c);
}

const struct vss_copy_stats *vss_copy_stats(const struct vss_copy *c)
{
	return &c->stats;
}

static int failed(struct vss_copy *c, const char *path, const char *what, int err)
{
	vss_err(c->ctx, "%s: cannot copy: %s: %s", path, what, strerror(-err));
	return err;
}

static const char *link_find(struct vss_copy *c, const struct stat *st)
{
	size_t i;

	for (i = 0; i < c->nlinks; i++)
		if (c->links[i].dev == st->st_dev && c->links[i].ino == st->st_ino)
			return c->links[i].dst;
	return NULL;
}

static int link_add(struct vss_copy *c, const struct stat *st, const char *dst)
{
	if (c->nlinks == c->alloc) {
		size_t n = c->alloc ? 2 * c->alloc : 64;
		struct link_seen *l = realloc(c->links, n * sizeof(*l));

		if (!l)
			return -ENOMEM;
		c->links = l;
		c->alloc = n;
	}
	c->links[c->nlinks].dst = strdup(dst);
	if (!c->links[c->nlinks].dst)
		return -ENOMEM;
	c->links[c->nlinks].dev = st->st_dev;
	c->links[c->nlinks].ino = st->st_ino;
	c->nlinks++;
	return 0;
}

/*
 * The extended attributes of src onto dst (both by path, not following a
 * final link).  A destination that does not take one is warned about once
 * per session; any other refusal fails the copy.
 */
static int copy_xattrs(struct vss_copy *c, const char *src, const char *dst)
{
	char *names = NULL, *value = NULL, *n;
	ssize_t len, vlen;
	int r = 0;

	len = llistxattr(src, NULL, 0);
	if (len <= 0)
		return len < 0 && errno != ENOTSUP ? failed(c, src, "list extended attributes",
							     -errno) : 0;
	names = malloc(len);
	if (!names)
		return -ENOMEM;
	len = llistxattr(src, names, len);
	if (len < 0) {
		r = failed(c, src, "list extended attributes", -errno);
		goto out;
	}
	for (n = names; n < names + len; n += strlen(n) + 1) {
		vlen = lgetxattr(src, n, NULL, 0);
		if (vlen < 0) {
			r = failed(c, src, n, -errno);
			goto out;
		}
		free(value);
		value = malloc(vlen ? vlen : 1);
		if (!value) {
			r = -ENOMEM;
			goto out;
		}
		vlen = lgetxattr(src, n, value, vlen);
		if (vlen < 0) {
			r = failed(c, src, n, -errno);
			goto out;
		}
		if (lsetxattr(dst, n, value, vlen, 0)) {
			if (errno == ENOTSUP) {
				c->stats.xattrs_unsupported++;
				if (!c->warned_xattr)
					vss_warn(c->ctx, "%s: extended attribute %s not kept: the "
						 "destination's filesystem does not support it", dst, n);
				c->warned_xattr = true;
				continue;
			}
			r = failed(c, dst, n, -errno);
			goto out;
		}
		c->stats.xattrs++;
	}
out:
	free(names);
	free(value);
	return r;
}

/* Owner, mode, extended attributes, times: in that order (see the top). */
static int copy_meta(struct vss_copy *c, const char *src, const char *dst, const struct stat *st)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };
	int r;

	if (lchown(dst, st->st_uid, st->st_gid) && (errno != EPERM || geteuid() == 0))
		return failed(c, dst, "set the owner", -errno);
	if (!S_ISLNK(st->st_mode) && chmod(dst, st->st_mode & 07777))
		return failed(c, dst, "set the mode", -errno);
	r = copy_xattrs(c, src, dst);
	if (r)
		return r;
	if (utimensat(AT_FDCWD, dst, ts, AT_SYMLINK_NOFOLLOW))
		return failed(c, dst, "set the times", -errno);
	return 0;
}

static int write_all(int fd, const char *buf, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= n;
		off += n;
	}
	return 0;
}

/* The data extents of in into out; holes are left as holes (ftruncate). */
static int copy_data(struct vss_copy *c, int in, int out, off_t size)
{
	off_t data = 0, hole;
	int r;

	while (data < size) {
		data = lseek(in, data, SEEK_DATA);
		if (data < 0) {
			if (errno == ENXIO)
				break;		/* only a hole is left */
			return -errno;
		}
		hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0)
			return -errno;
		while (data < hole) {
			size_t want = hole - data < COPY_BUF ? (size_t)(hole - data) : COPY_BUF;
			ssize_t n = pread(in, c->buf, want, data);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -errno;
			if (n == 0)
				break;	/* shrunk under us: a read-only copy does not */
			r = write_all(out, c->buf, n, data);
			if (r)
				return r;
			data += n;
			c->stats.data_bytes += n;
		}
	}
	return ftruncate(out, size) ? -errno : 0;
}

static int copy_regular(struct vss_copy *c, const char *src, const char *dst,
			const struct stat *st)
{
	int in, out, r;

	in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return failed(c, src, "open", -errno);
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		r = failed(c, dst, "create", -errno);
		close(in);
		return r;
	}
	r = copy_data(c, in, out, st->st_size);
	if (r)
		failed(c, dst, "copy the data", r);
	close(in);
	if (close(out) && !r)
		r = failed(c, dst, "write", -errno);
	if (!r)
		c->stats.files++;
	return r;
}

static int copy_dir(struct vss_copy *c, const char *src, const char *dst, const struct stat *st);

static int copy_node(struct vss_copy *c, const char *src, const char *dst)
{
	const char *first;
	struct stat st;
	int r;

	if (lstat(src, &st))
		return failed(c, src, "stat", -errno);
	if (!S_ISDIR(st.st_mode) && st.st_nlink > 1 && (first = link_find(c, &st))) {
		if (link(first, dst) == 0) {
			c->stats.links++;
			return 0;
		}
		if (errno != EXDEV)
			return failed(c, dst, "link", -errno);
		/* another filesystem: a copy of its own */
	}
	switch (st.st_mode & S_IFMT) {
	case S_IFDIR:
		return copy_dir(c, src, dst, &st);
	case S_IFREG:
		r = copy_regular(c, src, dst, &st);
		break;
	case S_IFLNK: {
		char target[PATH_MAX];
		ssize_t n = readlink(src, target, sizeof(target) - 1);

		if (n < 0)
			return failed(c, src, "read the link", -errno);
		target[n] = '\0';
		if (symlink(target, dst))
			return failed(c, dst, "create the link", -errno);
		c->stats.symlinks++;
		r = 0;
		break;
	}
	case S_IFBLK:
	case S_IFCHR:
	case S_IFIFO:
	case S_IFSOCK:
		if (mknod(dst, (st.st_mode & S_IFMT) | 0600, st.st_rdev))
			return failed(c, dst, "create the node", -errno);
		c->stats.specials++;
		r = 0;
		break;
	default:
		return failed(c, src, "unknown file type", -EINVAL);
	}
	if (!r)
		r = copy_meta(c, src, dst, &st);
	if (!r && st.st_nlink > 1)
		r = link_add(c, &st, dst);
	return r;
}

static int copy_dir(struct vss_copy *c, const char *src, const char *dst, const struct stat *st)
{
	char s[PATH_MAX], d[PATH_MAX];
	struct dirent *de;
	DIR *dir;
	int r = 0;

	if (mkdir(dst, 0700))
		return failed(c, dst, "create the directory", -errno);
	dir = opendir(src);
	if (!dir)
		return failed(c, src, "open the directory", -errno);
	while ((de = readdir(dir))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((size_t)snprintf(s, sizeof(s), "%s/%s", src, de->d_name) >= sizeof(s) ||
		    (size_t)snprintf(d, sizeof(d), "%s/%s", dst, de->d_name) >= sizeof(d)) {
			r = failed(c, s, "path", -ENAMETOOLONG);
			break;
		}
		r = copy_node(c, s, d);
		if (r)
			break;
	}
	closedir(dir);
	if (r)
		return r;
	c->stats.dirs++;
	return copy_meta(c, src, dst, st);
}

int vss_copy_tree(struct vss_copy *c, const char *src, const char *dst)
{
	return copy_node(c, src, dst);
}

int vss_copy_sync(struct vss_copy *c, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int r = 0;

	if (fd < 0)
		fd = open(path, O_PATH | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return failed(c, path, "open to sync", -errno);
	if (syncfs(fd))
		r = failed(c, path, "sync", -errno);
	close(fd);
	return r;
}

static void parent_of(char *path)
{
	char *s = strrchr(path, '/');

	if (s && s != path)
		*s = '\0';
	else if (s)
		s[1] = '\0';
}

int vss_copy_parents(struct vss_copy *c, const char *src, const char *dst)
{
	char s[PATH_MAX], d[PATH_MAX];
	struct stat st;
	int r;

	vss_strlcpy(s, src, sizeof(s));
	vss_strlcpy(d, dst, sizeof(d));
	parent_of(s);
	parent_of(d);
	if (!strcmp(d, "/") || !lstat(d, &st))
		return 0;
	if (errno != ENOENT)
		return failed(c, d, "stat", -errno);
	/* the parent's parents first, then this one */
	r = vss_copy_parents(c, s, d);
	if (r)
		return r;
	if (mkdir(d, 0755))
		return failed(c, d, "create the directory", -errno);
	if (!lstat(s, &st) && S_ISDIR(st.st_mode))
		return copy_meta(c, s, d, &st);
	return 0;
}

static int remove_at(int dirfd, const char *name, dev_t dev)
{
	struct stat st;
	int fd, r = 0;
	DIR *dir;
	struct dirent *de;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dirfd, name, 0) && errno != ENOENT ? -errno : 0;
	if (st.st_dev != dev)
		return -EXDEV;		/* a filesystem mounted inside: left alone */
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(dir))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		r = remove_at(fd, de->d_name, dev);
		if (r)
			break;
	}
	closedir(dir);
	if (!r && unlinkat(dirfd, name, AT_REMOVEDIR) && errno != ENOENT)
		r = -errno;
	return r;
}

int vss_remove_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	return remove_at(AT_FDCWD, path, st.st_dev);
}
