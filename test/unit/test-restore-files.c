// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The restore's file copy (libvsscore/restore-files.c) in a scratch
 * directory on this host: modes and timestamps, owners (as root), user.*
 * extended attributes, a sparse file that keeps its holes, hard links kept
 * as links, symbolic links not followed, a fifo; missing parents made like
 * the source's (mode and owner); a refused destination; removal of a tree.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "restore-files.h"

#define MIB (1024 * 1024)

struct fix {
	char dir[256], src[300], dst[300];
	bool xattrs;		/* the scratch filesystem takes user.* attributes */
};

static void path(char *buf, size_t size, const char *base, const char *name)
{
	snprintf(buf, size, "%s/%s", base, name);
}

static void write_at(const char *file, off_t off, const char *data)
{
	int fd = open(file, O_WRONLY | O_CREAT, 0644);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, data, strlen(data), off), (ssize_t)strlen(data));
	assert_int_equal(close(fd), 0);
}

static void set_times(const char *file, time_t atime, time_t mtime)
{
	struct timespec ts[2] = { { atime, 111 }, { mtime, 222 } };

	assert_int_equal(utimensat(AT_FDCWD, file, ts, AT_SYMLINK_NOFOLLOW), 0);
}

/*
 * src/: data (0640, user.color=blue, times set), sparse (a 64 MiB file
 * with 4 KiB of data at 0 and at 32 MiB), hard (a link to data), link -> data,
 * dangling -> nowhere, fifo, sub/ (0750, inner, times set last).
 */
static int setup(void **state)
{
	struct fix *fx = calloc(1, sizeof(*fx));
	char p[400];

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "%s/vss-restore-files.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(fx->dir));
	path(fx->src, sizeof(fx->src), fx->dir, "src");
	path(fx->dst, sizeof(fx->dst), fx->dir, "dst");
	assert_int_equal(mkdir(fx->src, 0755), 0);

	path(p, sizeof(p), fx->src, "data");
	write_at(p, 0, "the data\n");
	assert_int_equal(chmod(p, 0640), 0);
	fx->xattrs = setxattr(p, "user.color", "blue", 4, 0) == 0;
	if (geteuid() == 0)
		assert_int_equal(chown(p, 1234, 5678), 0);
	set_times(p, 1000000000, 1100000000);

	path(p, sizeof(p), fx->src, "sparse");
	write_at(p, 0, "head");
	write_at(p, 32 * MIB, "middle");
	assert_int_equal(truncate(p, 64 * MIB), 0);

	path(p, sizeof(p), fx->src, "hard");
	{
		char d[400];

		path(d, sizeof(d), fx->src, "data");
		assert_int_equal(link(d, p), 0);
	}
	path(p, sizeof(p), fx->src, "link");
	assert_int_equal(symlink("data", p), 0);
	path(p, sizeof(p), fx->src, "dangling");
	assert_int_equal(symlink("/nowhere/at/all", p), 0);
	path(p, sizeof(p), fx->src, "fifo");
	assert_int_equal(mkfifo(p, 0620), 0);
	assert_int_equal(chmod(p, 0620), 0);

	path(p, sizeof(p), fx->src, "sub");
	assert_int_equal(mkdir(p, 0750), 0);
	path(p, sizeof(p), fx->src, "sub/inner");
	write_at(p, 0, "inner\n");
	path(p, sizeof(p), fx->src, "sub");
	set_times(p, 1200000000, 1300000000);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fix *fx = *state;

	assert_int_equal(vss_remove_tree(fx->dir), 0);
	free(fx);
	return 0;
}

static void stat_of(const struct fix *fx, const char *base, const char *name, struct stat *st)
{
	char p[400];

	path(p, sizeof(p), base, name);
	assert_int_equal(lstat(p, st), 0);
	(void)fx;
}

static void read_file(const char *base, const char *name, char *buf, size_t size)
{
	char p[400];
	ssize_t n;
	int fd;

	path(p, sizeof(p), base, name);
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, size - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
}

static void copy_whole(struct fix *fx, struct vss_copy **cp)
{
	struct vss_copy *c = vss_copy_new(NULL);

	assert_non_null(c);
	assert_int_equal(vss_copy_tree(c, fx->src, fx->dst), 0);
	assert_int_equal(vss_copy_sync(c, fx->dst), 0);
	*cp = c;
}

static void test_modes_times_owners(void **state)
{
	struct fix *fx = *state;
	struct vss_copy *c;
	struct stat s, d;
	char buf[64];

	copy_whole(fx, &c);
	stat_of(fx, fx->src, "data", &s);
	stat_of(fx, fx->dst, "data", &d);
	assert_int_equal(d.st_mode, s.st_mode);
	assert_int_equal(d.st_mode & 07777, 0640);
	assert_int_equal(d.st_mtim.tv_sec, 1100000000);
	assert_int_equal(d.st_mtim.tv_nsec, 222);
	assert_int_equal(d.st_atim.tv_sec, 1000000000);
	assert_int_equal(d.st_uid, s.st_uid);
	assert_int_equal(d.st_gid, s.st_gid);
	if (geteuid() == 0) {
		assert_int_equal(d.st_uid, 1234);
		assert_int_equal(d.st_gid, 5678);
	}
	read_file(fx->dst, "data", buf, sizeof(buf));
	assert_string_equal(buf, "the data\n");
	/* a directory: its mode, and its times set after its content */
	stat_of(fx, fx->dst, "sub", &d);
	assert_true(S_ISDIR(d.st_mode));
	assert_int_equal(d.st_mode & 07777, 0750);
	assert_int_equal(d.st_mtim.tv_sec, 1300000000);
	read_file(fx->dst, "sub/inner", buf, sizeof(buf));
	assert_string_equal(buf, "inner\n");
	vss_copy_free(c);
}

static void test_xattrs(void **state)
{
	struct fix *fx = *state;
	struct vss_copy *c;
	char p[400], v[16] = "";

	if (!fx->xattrs)
		skip();
	copy_whole(fx, &c);
	path(p, sizeof(p), fx->dst, "data");
	assert_int_equal(getxattr(p, "user.color", v, sizeof(v)), 4);
	assert_memory_equal(v, "blue", 4);
	assert_true(vss_copy_stats(c)->xattrs >= 1);
	assert_int_equal(vss_copy_stats(c)->xattrs_unsupported, 0);
	vss_copy_free(c);
}

static void test_sparse_keeps_holes(void **state)
{
	struct fix *fx = *state;
	struct vss_copy *c;
	struct stat s, d;
	char p[400], buf[8];
	int fd;

	copy_whole(fx, &c);
	stat_of(fx, fx->src, "sparse", &s);
	stat_of(fx, fx->dst, "sparse", &d);
	assert_int_equal(d.st_size, 64 * MIB);
	/* the holes stayed holes: a few blocks, not 64 MiB of them */
	assert_true(d.st_blocks <= s.st_blocks + 16);
	assert_true((uint64_t)d.st_blocks * 512 < MIB);
	/* and the data is where it was */
	path(p, sizeof(p), fx->dst, "sparse");
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, 6, 32 * MIB), 6);
	assert_memory_equal(buf, "middle", 6);
	assert_int_equal(pread(fd, buf, 4, 0), 4);
	assert_memory_equal(buf, "head", 4);
	assert_int_equal(pread(fd, buf, 4, 16 * MIB), 4);
	assert_memory_equal(buf, "\0\0\0\0", 4);
	close(fd);
	assert_true(vss_copy_stats(c)->data_bytes < MIB);
	vss_copy_free(c);
}

static void test_links_and_specials(void **state)
{
	struct fix *fx = *state;
	struct vss_copy *c;
	struct stat a, b;
	char p[400], target[64];
	ssize_t n;

	copy_whole(fx, &c);
	/* a hard link stays one inode with two names */
	stat_of(fx, fx->dst, "data", &a);
	stat_of(fx, fx->dst, "hard", &b);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(a.st_nlink, 2);
	assert_int_equal(vss_copy_stats(c)->links, 1);
	/* symbolic links copied as links, dangling ones too */
	stat_of(fx, fx->dst, "link", &a);
	assert_true(S_ISLNK(a.st_mode));
	path(p, sizeof(p), fx->dst, "link");
	n = readlink(p, target, sizeof(target) - 1);
	assert_int_equal(n, 4);
	target[n] = '\0';
	assert_string_equal(target, "data");
	path(p, sizeof(p), fx->dst, "dangling");
	n = readlink(p, target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	assert_string_equal(target, "/nowhere/at/all");
	/* a fifo with its mode */
	stat_of(fx, fx->dst, "fifo", &a);
	assert_true(S_ISFIFO(a.st_mode));
	assert_int_equal(a.st_mode & 07777, 0620);
	assert_int_equal(vss_copy_stats(c)->specials, 1);
	vss_copy_free(c);
}

static void test_device_node(void **state)
{
	struct fix *fx = *state;
	struct vss_copy *c;
	struct stat st;
	char p[400];

	if (geteuid() != 0)
		skip();
	path(p, sizeof(p), fx->src, "null");
	assert_int_equal(mknod(p, S_IFCHR | 0666, makedev(1, 3)), 0);
	assert_int_equal(chmod(p, 0666), 0);
	copy_whole(fx, &c);
	stat_of(fx, fx->dst, "null", &st);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(st.st_rdev, makedev(1, 3));
	assert_int_equal(st.st_mode & 07777, 0666);
	vss_copy_free(c);
}

static void test_destination_exists(void **state)
{
	struct fix *fx = *state;
	struct vss_copy *c = vss_copy_new(NULL);

	assert_int_equal(mkdir(fx->dst, 0755), 0);
	assert_int_equal(vss_copy_tree(c, fx->src, fx->dst), -EEXIST);
	vss_copy_free(c);
}

static void test_parents_like_source(void **state)
{
	struct fix *fx = *state;
	struct vss_copy *c = vss_copy_new(NULL);
	char s[400], d[400];
	struct stat st;

	/* dst/x/sub/inner: x and x/sub are made, x/sub like src/sub */
	path(s, sizeof(s), fx->src, "sub/inner");
	path(d, sizeof(d), fx->dst, "x/sub/inner");
	assert_int_equal(mkdir(fx->dst, 0755), 0);
	assert_int_equal(vss_copy_parents(c, s, d), 0);
	assert_int_equal(vss_copy_tree(c, s, d), 0);
	path(d, sizeof(d), fx->dst, "x/sub");
	assert_int_equal(lstat(d, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	path(d, sizeof(d), fx->dst, "x");
	assert_int_equal(lstat(d, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	vss_copy_free(c);
}

static void test_remove_tree(void **state)
{
	struct fix *fx = *state;
	struct vss_copy *c;

	copy_whole(fx, &c);
	assert_int_equal(vss_remove_tree(fx->dst), 0);
	assert_int_equal(access(fx->dst, F_OK), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(vss_remove_tree(fx->dst), 0);
	vss_copy_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_modes_times_owners, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xattrs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sparse_keeps_holes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_links_and_specials, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_node, setup, teardown),
		cmocka_unit_test_setup_teardown(test_destination_exists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parents_like_source, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_tree, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
