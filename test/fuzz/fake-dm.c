// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The device-mapper stand-in of the fuzz targets (fake-dm.h): the
 * functions of libvsscore/dm.c over an in-memory table.  Linked with
 * -Wl,--wrap=access,--wrap=execl,--wrap=open so that the library believes
 * the kernel has device-mapper, can never execute a program named by fuzzed
 * input and opens no device or FIFO a fuzzed path names.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vss-internal.h"
#include "fake-dm.h"

#define FAKE_MAX 32

struct fake_target {
	char name[128];
	bool status;
	struct vss_dm_target t;
};

static struct fake_target targets[FAKE_MAX];
static size_t ntargets;
static unsigned long changes;

void fake_dm_reset(void)
{
	size_t i;

	for (i = 0; i < ntargets; i++)
		free(targets[i].t.params);
	ntargets = 0;
}

unsigned long fake_dm_changes(void)
{
	return changes;
}

/* The next space-separated word of [*p, end) into buf (cut to size). */
static bool word(const char **p, const char *end, char *buf, size_t size)
{
	const char *s = *p, *e;
	size_t l;

	while (s < end && *s == ' ')
		s++;
	e = s;
	while (e < end && *e != ' ')
		e++;
	if (e == s)
		return false;
	l = (size_t)(e - s) < size ? (size_t)(e - s) : size - 1;
	memcpy(buf, s, l);
	buf[l] = '\0';
	*p = e;
	return true;
}

void fake_dm_parse(const char *text, size_t len)
{
	const char *p = text, *end = text + len;

	fake_dm_reset();
	while (p < end && ntargets < FAKE_MAX) {
		const char *nl = memchr(p, '\n', end - p);
		const char *le = nl ? nl : end;
		struct fake_target *f = &targets[ntargets];
		char kind[16];
		const char *q = p;

		p = nl ? nl + 1 : end;
		if (!word(&q, le, f->name, sizeof(f->name)) || !word(&q, le, kind, sizeof(kind)) ||
		    !word(&q, le, f->t.type, sizeof(f->t.type)))
			continue;
		if (strcmp(kind, "table") && strcmp(kind, "status"))
			continue;
		if (q < le && *q == ' ')
			q++;
		f->status = !strcmp(kind, "status");
		f->t.start = 0;
		f->t.length = 2048;
		f->t.params = strndup(q, le - q);
		if (!f->t.params)
			break;
		ntargets++;
	}
}

static bool known(const char *name)
{
	size_t i;

	for (i = 0; name && i < ntargets; i++)
		if (!strcmp(targets[i].name, name))
			return true;
	return false;
}

/* The in-memory tables are a device-mapper that is always there. */
bool vss_dm_present(void)
{
	return true;
}

int vss_dm_exists(const char *name)
{
	return known(name) ? 1 : 0;
}

int vss_dm_table(const char *name, bool status, struct vss_dm_target **t, size_t *n)
{
	size_t i, cnt = 0;

	*t = NULL;
	*n = 0;
	if (!known(name))
		return -ENOENT;
	*t = calloc(FAKE_MAX, sizeof(**t));
	if (!*t)
		return -ENOMEM;
	for (i = 0; i < ntargets; i++) {
		if (strcmp(targets[i].name, name) || targets[i].status != status)
			continue;
		(*t)[cnt] = targets[i].t;
		(*t)[cnt].start = cnt * 2048;
		(*t)[cnt].params = strdup(targets[i].t.params);
		cnt++;
	}
	*n = cnt;
	return 0;
}

void vss_dm_targets_free(struct vss_dm_target *t, size_t n)
{
	size_t i;

	for (i = 0; t && i < n; i++)
		free(t[i].params);
	free(t);
}

int vss_dm_info(const char *name, bool *suspended, unsigned *major, unsigned *minor,
		int *open_count)
{
	if (!known(name))
		return -ENOENT;
	if (suspended)
		*suspended = false;
	if (major)
		*major = 253;
	if (minor)
		*minor = 0;
	if (open_count)
		*open_count = 0;
	return 0;
}

uint64_t vss_dm_size(const char *name)
{
	struct vss_dm_target *t;
	uint64_t size = 0;
	size_t n, i;

	if (vss_dm_table(name, false, &t, &n))
		return 0;
	for (i = 0; i < n; i++)
		size += t[i].length;
	vss_dm_targets_free(t, n);
	return size;
}

int vss_dm_create(struct vss_ctx *ctx, const char *name, const char *uuid,
		  const struct vss_dm_target *t, size_t n, bool readonly, bool activate)
{
	(void)ctx; (void)name; (void)uuid; (void)t; (void)n; (void)readonly; (void)activate;
	changes++;
	return 0;
}

int vss_dm_load(struct vss_ctx *ctx, const char *name, const struct vss_dm_target *t,
		size_t n, bool readonly)
{
	(void)ctx; (void)t; (void)n; (void)readonly;
	changes++;
	return known(name) ? 0 : -ENXIO;
}

int vss_dm_suspend(struct vss_ctx *ctx, const char *name, bool skip_lockfs)
{
	(void)ctx; (void)skip_lockfs;
	changes++;
	return known(name) ? 0 : -ENXIO;
}

int vss_dm_resume(struct vss_ctx *ctx, const char *name)
{
	(void)ctx;
	changes++;
	return known(name) ? 0 : -ENXIO;
}

int vss_dm_switch_table(struct vss_ctx *ctx, const char *name, const struct vss_dm_target *t,
			size_t n)
{
	int r = vss_dm_load(ctx, name, t, n, false);

	if (!r)
		r = vss_dm_suspend(ctx, name, false);
	return r ? r : vss_dm_resume(ctx, name);
}

int vss_dm_resume_raw(const char *name)
{
	return vss_dm_resume(NULL, name);
}

int vss_dm_resume_cookie(const char *name, uint32_t *cookie)
{
	(void)cookie;
	return vss_dm_resume(NULL, name);
}

void vss_dm_udev_wait(uint32_t cookie)
{
	(void)cookie;
}

int vss_dm_remove(struct vss_ctx *ctx, const char *name)
{
	(void)ctx;
	changes++;
	return known(name) ? 0 : -ENXIO;
}

int vss_dm_message(struct vss_ctx *ctx, const char *name, const char *msg)
{
	(void)ctx; (void)msg;
	changes++;
	return known(name) ? 0 : -ENXIO;
}

int vss_dm_message_quiet(const char *name, const char *msg)
{
	return vss_dm_message(NULL, name, msg);
}

int vss_dm_target_version(const char *target, unsigned v[3])
{
	if (strcmp(target, "vss-origin") && strcmp(target, "vss-snap") &&
	    strcmp(target, "snapshot") && strcmp(target, "snapshot-origin"))
		return -ENOENT;
	v[0] = 1;
	v[1] = 0;
	v[2] = 0;
	return 0;
}

bool vss_dm_available(void)
{
	return true;
}

void vss_dm_forked_child(void)
{
}

/* The library's test for device-mapper in the kernel: say it is there. */
int __real_access(const char *path, int mode);
int __wrap_access(const char *path, int mode)
{
	if (path && !strcmp(path, "/sys/class/misc/device-mapper"))
		return 0;
	return __real_access(path, mode);
}

/*
 * The library runs writers, hooks and external providers with execl().
 * Only the programs a target names in FUZZ_EXEC_ALLOW (a path, or
 * nothing) may run; any other exits at once as a missing program would.
 */
int __wrap_execl(const char *path, const char *arg, ...)
{
	const char *allow = getenv("FUZZ_EXEC_ALLOW");
	char *argv[8];
	va_list ap;
	int i = 0;

	if (!allow || !path || strcmp(path, allow)) {
		errno = ENOENT;
		return -1;
	}
	argv[i++] = (char *)arg;
	va_start(ap, arg);
	while (i < 7 && (argv[i] = va_arg(ap, char *)))
		i++;
	va_end(ap);
	argv[i] = NULL;
	return execv(path, argv);
}

/*
 * Paths come from fuzzed catalogs: opening a FIFO would block and a device
 * could be anything, so the library may open only regular files and
 * directories (and /dev/null), and create files.
 */
int __real_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	struct stat st;

	if (flags & O_CREAT) {
		va_list ap;

		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if (path && strcmp(path, "/dev/null") && stat(path, &st) == 0 &&
	    !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
		errno = ENXIO;
		return -1;
	}
	return __real_open(path, flags, mode);
}
