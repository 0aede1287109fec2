// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Context, logging and small helpers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <signal.h>
#include <pthread.h>

#include "vss-internal.h"

static void dir_from_env(char *dst, size_t size, const char *var, const char *def)
{
	const char *v = getenv(var);

	vss_strlcpy(dst, v && *v ? v : def, size);
}

VSS_EXPORT int vss_ctx_new(struct vss_ctx **ctx)
{
	struct vss_ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	dir_from_env(c->state_dir, sizeof(c->state_dir), "VSS_STATE_DIR", "/var/lib/vss");
	dir_from_env(c->run_dir, sizeof(c->run_dir), "VSS_RUN_DIR", "/run/vss");
	dir_from_env(c->conf_dir, sizeof(c->conf_dir), "VSS_CONF_DIR", "/etc/vss");
	c->lock_fd = -1;
	c->log_min = VSS_LOG_INFO;
	*ctx = c;
	return 0;
}

VSS_EXPORT void vss_ctx_free(struct vss_ctx *ctx)
{
	if (!ctx)
		return;
	/* vss_unlock(), without reaching up to the lock's file */
	if (ctx->lock_fd >= 0) {
		flock(ctx->lock_fd, LOCK_UN);
		close(ctx->lock_fd);
	}
	free(ctx);
}

VSS_EXPORT void vss_ctx_set_log(struct vss_ctx *ctx, vss_log_fn fn, void *arg, int min_level)
{
	ctx->log_fn = fn;
	ctx->log_arg = arg;
	ctx->log_min = min_level;
}

VSS_EXPORT const char *vss_ctx_dir(struct vss_ctx *ctx, const char *what)
{
	if (!strcmp(what, "state"))
		return ctx->state_dir;
	if (!strcmp(what, "run"))
		return ctx->run_dir;
	if (!strcmp(what, "conf"))
		return ctx->conf_dir;
	return NULL;
}

void vss_log(struct vss_ctx *ctx, int level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (!ctx || !ctx->log_fn || level < ctx->log_min)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ctx->log_fn(level, buf, ctx->log_arg);
}

#define VSS_STR2(x) #x
#define VSS_STR(x) VSS_STR2(x)

VSS_EXPORT const char *vss_version(unsigned int *number)
{
	if (number)
		*number = VSS_VERSION_CURRENT;
	return VSS_STR(VSS_VERSION_MAJOR) "." VSS_STR(VSS_VERSION_MINOR) "."
		VSS_STR(VSS_VERSION_PATCH);
}

VSS_EXPORT const char *vss_strerror(int err)
{
	switch (-err) {
	case ECANCELED:
		return "a writer failed or vetoed";
	case EIO:
		return "the provider failed";
	case ENOPKG:
		return "the kernel target is missing or too old";
	case ETIMEDOUT:
		return "time limit passed";
	case EBUSY:
		return "busy, or another set in progress";
	}
	return strerror(err < 0 ? -err : err);
}

void vss_strlcpy(char *dst, const char *src, size_t size)
{
	if (!size)
		return;
	snprintf(dst, size, "%s", src ? src : "");
}

int vss_mkdir_p(const char *path, mode_t mode)
{
	char tmp[512];
	char *p;

	vss_strlcpy(tmp, path, sizeof(tmp));
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

uint64_t vss_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void vss_iso8601(time_t t, char *buf, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

time_t vss_parse_iso8601(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm))
		return 0;
	return timegm(&tm);
}

/*
 * write(2) that never raises SIGPIPE in the caller (a library must not kill
 * its process because a writer or the watchdog died): SIGPIPE is blocked
 * around the write and a SIGPIPE it caused is consumed.
 */
ssize_t vss_write_nosigpipe(int fd, const void *buf, size_t len)
{
	sigset_t pipe_set, old, pending;
	struct timespec zero = { 0, 0 };
	bool was_pending;
	ssize_t n;
	int err;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	n = write(fd, buf, len);
	err = errno;
	if (n < 0 && err == EPIPE && !was_pending)
		sigtimedwait(&pipe_set, NULL, &zero);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = err;
	return n;
}
