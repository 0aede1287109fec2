// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Starting the executables the library talks to (writers, external
 * providers): the check that they are safe to run, and one fork/pipe/exec
 * that gives the caller their stdin and stdout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vss-internal.h"

/* A writer, hook or provider must be root-owned and writable by nobody else. */
int vss_exec_checked(struct vss_ctx *ctx, const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return -errno;
	if (!S_ISREG(st.st_mode) || !(st.st_mode & S_IXUSR))
		return -ENOEXEC;
	if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		vss_err(ctx, "%s: refused: must be owned by root and not writable by others", path);
		return -EPERM;
	}
	return 0;
}

int vss_spawn(const char *path, const struct vss_spawn_opts *opts, struct vss_child *child)
{
	int in[2], out[2];
	pid_t pid;

	if (pipe2(in, O_CLOEXEC))
		return -errno;
	if (pipe2(out, O_CLOEXEC)) {
		close(in[0]);
		close(in[1]);
		return -errno;
	}
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(in[0]); close(in[1]); close(out[0]); close(out[1]);
		return err;
	}
	if (pid == 0) {
		if (opts && opts->own_group)
			setpgid(0, 0);
		dup2(in[0], 0);
		dup2(out[1], 1);
		if (opts && opts->default_sigpipe)
			signal(SIGPIPE, SIG_DFL);
		if (opts && opts->env_name)
			setenv(opts->env_name, opts->env_value, 1);
		execl(path, path, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	child->pid = pid;
	child->in_fd = in[1];
	child->out_fd = out[0];
	return 0;
}
