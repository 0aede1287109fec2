// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libvsscore: FIFREEZE/FITHAW and the watchdog, on a loop-mounted ext4.
 * Needs root and loop devices; skipped without them.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "vss-internal.h"

static char dir[64], mnt[96];
static int mounted;

static int setup(void **state)
{
	char cmd[512];

	(void)state;
	snprintf(dir, sizeof(dir), "/var/tmp/vss-ut-frz.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
	snprintf(cmd, sizeof(cmd),
		 "truncate -s 64M %s/img && mkfs.ext4 -q -F %s/img && mkdir -p %s && "
		 "mount -o loop %s/img %s", dir, dir, mnt, dir, mnt);
	mounted = getuid() == 0 && system(cmd) == 0;
	return 0;
}

static int teardown(void **state)
{
	char cmd[256];

	(void)state;
	if (mounted) {
		vss_fs_thaw(mnt);
		snprintf(cmd, sizeof(cmd), "umount %s", mnt);
		if (system(cmd))
			return -1;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static bool is_frozen(void)
{
	int r = vss_fs_freeze(mnt);

	if (r == 0) {
		vss_fs_thaw(mnt);
		return false;
	}
	return r == -EBUSY;
}

/* A write and fsync, in a child so that a frozen filesystem cannot hang the test. */
static bool writable_within(unsigned int ms)
{
	uint64_t deadline = vss_now_ms() + ms;
	int status;
	pid_t pid;

	pid = fork();
	if (pid == 0) {
		char path[160];
		int fd;

		snprintf(path, sizeof(path), "%s/probe", mnt);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		_exit(fd >= 0 && write(fd, "x", 1) == 1 && fsync(fd) == 0 ? 0 : 1);
	}
	while (vss_now_ms() < deadline) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) && WEXITSTATUS(status) == 0;
		usleep(10000);
	}
	vss_fs_thaw(mnt);	/* let the child finish */
	waitpid(pid, &status, 0);
	return false;
}

static void test_freeze_thaw(void **state)
{
	(void)state;
	if (!mounted)
		skip();
	assert_int_equal(vss_fs_freeze(mnt), 0);
	assert_int_equal(vss_fs_freeze(mnt), -EBUSY);
	assert_int_equal(vss_fs_thaw(mnt), 0);
	assert_int_equal(vss_fs_thaw(mnt), -EINVAL);
	assert_int_equal(vss_fs_freeze(mnt), 0);
	assert_false(writable_within(300));	/* thaws it to reap the writer */
	assert_true(writable_within(5000));
	assert_int_equal(vss_fs_freeze("/nonexistent-vss"), -ENOENT);
}

static void test_watchdog_done(void **state)
{
	struct vss_watchdog_item it = { "", "" };
	struct vss_watchdog *wd;
	struct vss_ctx *ctx;

	(void)state;
	if (!mounted)
		skip();
	vss_strlcpy(it.mountpoint, mnt, sizeof(it.mountpoint));
	assert_int_equal(vss_ctx_new(&ctx), 0);
	assert_int_equal(vss_watchdog_start(ctx, &it, 1, 5000, &wd), 0);
	assert_int_equal(vss_fs_freeze(mnt), 0);
	assert_int_equal(vss_fs_thaw(mnt), 0);
	assert_int_equal(vss_watchdog_stop(wd), 0);
	assert_false(vss_watchdog_fired(wd));
	vss_watchdog_free(wd);
	vss_ctx_free(ctx);
}

/* The coordinator hangs while frozen: the watchdog thaws at the limit. */
static void test_watchdog_limit(void **state)
{
	struct vss_watchdog_item it = { "", "" };
	struct vss_watchdog *wd;
	struct vss_ctx *ctx;
	uint64_t t0;

	(void)state;
	if (!mounted)
		skip();
	vss_strlcpy(it.mountpoint, mnt, sizeof(it.mountpoint));
	assert_int_equal(vss_ctx_new(&ctx), 0);
	assert_int_equal(vss_watchdog_start(ctx, &it, 1, 700, &wd), 0);
	t0 = vss_now_ms();
	assert_int_equal(vss_fs_freeze(mnt), 0);
	while (is_frozen() && vss_now_ms() - t0 < 5000)
		usleep(20000);
	assert_false(is_frozen());
	assert_true(vss_now_ms() - t0 >= 600);
	assert_true(vss_now_ms() - t0 < 2000);
	assert_int_equal(vss_watchdog_stop(wd), -ETIMEDOUT);
	assert_true(vss_watchdog_fired(wd));
	vss_watchdog_free(wd);
	vss_ctx_free(ctx);
}

/* SIGKILL of the coordinator while frozen: thawed long before the limit. */
static void test_watchdog_sigkill(void **state)
{
	int p[2], status;
	uint64_t t0;
	pid_t coord;
	char c;

	(void)state;
	if (!mounted)
		skip();
	assert_int_equal(pipe(p), 0);
	coord = fork();
	if (coord == 0) {
		struct vss_watchdog_item it = { "", "" };
		struct vss_watchdog *wd;
		struct vss_ctx *ctx;

		close(p[0]);
		vss_strlcpy(it.mountpoint, mnt, sizeof(it.mountpoint));
		if (vss_ctx_new(&ctx) || vss_watchdog_start(ctx, &it, 1, 10000, &wd) ||
		    vss_fs_freeze(mnt))
			_exit(1);
		if (write(p[1], "F", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	assert_true(is_frozen());
	t0 = vss_now_ms();
	kill(coord, SIGKILL);
	waitpid(coord, &status, 0);
	assert_true(writable_within(10000));
	/* the commit limit is 10 s; the watchdog acts on the coordinator's death */
	assert_true(vss_now_ms() - t0 < 2000);
	assert_false(is_frozen());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_freeze_thaw),
		cmocka_unit_test(test_watchdog_done),
		cmocka_unit_test(test_watchdog_limit),
		cmocka_unit_test(test_watchdog_sigkill),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
