// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * FIFREEZE/FITHAW, and the watchdog.
 *
 * A filesystem frozen by a process that then dies stays frozen, and a
 * suspended dm device blocks every I/O.  Before the first freeze or suspend
 * the coordinator forks a watchdog in its own session.  The watchdog waits
 * on a pipe: "done" from the coordinator ends it quietly; end of file (the
 * coordinator died, even by SIGKILL) or the commit limit makes it resume
 * every device and thaw every filesystem of the set at once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vss-internal.h"

static int fs_ioctl(const char *mountpoint, unsigned long req)
{
	int fd = open(mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, req, 0))
		r = -errno;
	close(fd);
	return r;
}

VSS_EXPORT int vss_fs_freeze(const char *mountpoint)
{
	return fs_ioctl(mountpoint, FIFREEZE);
}

VSS_EXPORT int vss_fs_thaw(const char *mountpoint)
{
	return fs_ioctl(mountpoint, FITHAW);
}

struct vss_watchdog {
	pid_t pid;
	int cmd_fd;		/* coordinator -> watchdog */
	int report_fd;		/* watchdog -> coordinator */
	bool fired;
};

#define WD_READY 'R'
#define WD_DONE 'D'
#define WD_FIRED 'F'

static void watchdog_release(const struct vss_watchdog_item *items, size_t n)
{
	bool *held = calloc(n ? n : 1, sizeof(*held));
	size_t i;
	int tries;

	/* Resume first: thawing writes the superblock, which a suspended
	 * device would hold for ever.  A device that will not resume is tried
	 * again for a while; the filesystems on the others are thawed first,
	 * so one stuck device keeps no other frozen. */
	for (tries = 0; tries < 20; tries++) {
		bool again = false;

		for (i = 0; i < n; i++) {
			int r;

			if (!items[i].dm_name[0] || (held && tries && !held[i]))
				continue;
			r = vss_dm_resume_raw(items[i].dm_name);
			if (held)
				held[i] = r && r != -ENXIO && r != -ENODEV;
			again |= held && held[i];
		}
		if (!again)
			break;
		if (tries == 0)
			for (i = n; i-- > 0;)
				if (items[i].mountpoint[0] && !held[i])
					vss_fs_thaw(items[i].mountpoint);
		usleep(100 * 1000);
	}
	for (i = n; i-- > 0;)
		if (items[i].mountpoint[0])
			vss_fs_thaw(items[i].mountpoint);
	free(held);
}

static void __attribute__((noreturn))
watchdog_main(const struct vss_watchdog_item *items, size_t n, unsigned int limit_ms,
	      int cmd_fd, int report_fd)
{
	uint64_t deadline = vss_now_ms() + limit_ms;
	struct pollfd pfd = { .fd = cmd_fd, .events = POLLIN };
	char c = WD_READY;
	int fd;

	setsid();
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	/* Hold nothing of the coordinator's: not its lock, not its writers'
	 * pipes, not its /dev/mapper/control (libdevmapper is told first). */
	vss_dm_forked_child();
	for (fd = 3; fd < 4096; fd++)
		if (fd != cmd_fd && fd != report_fd)
			close(fd);
	if (write(report_fd, &c, 1) != 1)
		_exit(1);
	for (;;) {
		uint64_t now = vss_now_ms();
		int r;

		if (now >= deadline) {
			watchdog_release(items, n);
			c = WD_FIRED;
			if (write(report_fd, &c, 1) < 0)
				_exit(2);
			_exit(2);
		}
		r = poll(&pfd, 1, (int)(deadline - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		r = read(cmd_fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 1 && c == WD_DONE)
			_exit(0);
		/* end of file: the coordinator is gone */
		watchdog_release(items, n);
		_exit(3);
	}
}

int vss_watchdog_start(struct vss_ctx *ctx, const struct vss_watchdog_item *items,
		       size_t n, unsigned int limit_ms, struct vss_watchdog **wdp)
{
	struct vss_watchdog *wd = calloc(1, sizeof(*wd));
	int cmd[2], report[2];
	char c;
	pid_t pid;

	if (!wd)
		return -ENOMEM;
	if (pipe2(cmd, O_CLOEXEC)) {
		free(wd);
		return -errno;
	}
	if (pipe2(report, O_CLOEXEC)) {
		close(cmd[0]);
		close(cmd[1]);
		free(wd);
		return -errno;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(cmd[0]); close(cmd[1]); close(report[0]); close(report[1]);
		free(wd);
		vss_err(ctx, "watchdog: cannot start: %s", strerror(-err));
		return err;
	}
	if (pid == 0) {
		close(cmd[1]);
		close(report[0]);
		watchdog_main(items, n, limit_ms, cmd[0], report[1]);
	}
	close(cmd[0]);
	close(report[1]);
	wd->pid = pid;
	wd->cmd_fd = cmd[1];
	wd->report_fd = report[0];
	/* Freeze nothing until the watchdog is really there. */
	if (read(wd->report_fd, &c, 1) != 1 || c != WD_READY) {
		vss_err(ctx, "watchdog: did not start");
		close(wd->cmd_fd);
		close(wd->report_fd);
		waitpid(pid, NULL, 0);
		free(wd);
		return -ECHILD;
	}
	vss_dbg(ctx, "watchdog: process %d, limit %u ms", (int)pid, limit_ms);
	*wdp = wd;
	return 0;
}

pid_t vss_watchdog_pid(struct vss_watchdog *wd)
{
	return wd->pid;
}

bool vss_watchdog_fired(struct vss_watchdog *wd)
{
	return wd->fired;
}

int vss_watchdog_stop(struct vss_watchdog *wd)
{
	char c = WD_DONE;
	int status = 0;

	if (!wd)
		return 0;
	if (vss_write_nosigpipe(wd->cmd_fd, &c, 1) != 1) {
		/* it is gone already */
	}
	while (read(wd->report_fd, &c, 1) == 1)
		if (c == WD_FIRED)
			wd->fired = true;
	close(wd->cmd_fd);
	close(wd->report_fd);
	while (waitpid(wd->pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 2)
		wd->fired = true;
	return wd->fired ? -ETIMEDOUT : 0;
}

void vss_watchdog_free(struct vss_watchdog *wd)
{
	free(wd);
}
