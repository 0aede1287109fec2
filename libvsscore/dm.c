// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The only file that calls libdevmapper.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <libdevmapper.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vss-internal.h"

static int udev_sync = 1;

/*
 * libdevmapper's own messages: silent unless VSS_DM_DEBUG is set (--debug),
 * then one line each in the commands' shape, "vss-X: libdevmapper: ...";
 * its bare "<backtrace>" markers (the call path of an error it already
 * said) are left out.
 */
static void dm_log_quiet(int level, const char *file, int line, int dm_errno_or_class,
			 const char *f, ...)
{
	char msg[1024];
	va_list ap;
	size_t len;

	(void)level; (void)file; (void)line; (void)dm_errno_or_class;
	if (!getenv("VSS_DM_DEBUG") || !f)
		return;
	va_start(ap, f);
	vsnprintf(msg, sizeof(msg), f, ap);
	va_end(ap);
	len = strlen(msg);
	while (len && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
		msg[--len] = '\0';
	if (!len || !strcmp(msg, "<backtrace>"))
		return;
	fprintf(stderr, "%s: libdevmapper: %s\n", program_invocation_short_name, msg);
}

/* libdevmapper's own messages only with VSS_DM_DEBUG: ours say what failed */
static void quiet_init(void)
{
	static int inited;

	if (!inited) {
		dm_log_with_errno_init(dm_log_quiet);
		inited = 1;
	}
}

static struct dm_task *task(int type, const char *name)
{
	struct dm_task *dmt;

	quiet_init();
	dmt = dm_task_create(type);
	if (!dmt)
		return NULL;
	if (name && !dm_task_set_name(dmt, name)) {
		dm_task_destroy(dmt);
		return NULL;
	}
	return dmt;
}

/* Run a task that changes device nodes, waiting for udev if it is in use. */
static int run_sync(struct dm_task *dmt, uint16_t flags)
{
	uint32_t cookie = 0;
	int ok;

	if (udev_sync && !dm_task_set_cookie(dmt, &cookie, flags))
		return 0;
	ok = dm_task_run(dmt);
	if (udev_sync)
		dm_udev_wait(cookie);
	return ok;
}

static int task_errno(struct dm_task *dmt)
{
	int e = dm_task_get_errno(dmt);

	return e ? -e : -EIO;
}

/*
 * For a forked child about to close every descriptor it inherited:
 * libdevmapper keeps /dev/mapper/control open in a static and would go on
 * using the closed number (EBADF, or worse a file opened later under it).
 * Drop it now, so the next task opens its own; and wait for no udev.
 */
void vss_dm_forked_child(void)
{
	dm_lib_release();
	udev_sync = 0;
	dm_udev_set_sync_support(0);
}

/*
 * Without device-mapper in the kernel libdevmapper cannot even create a
 * task, and every question fails as -ENOMEM.  (/dev/mapper/control is no
 * sign: libdevmapper makes the node itself.)
 */
bool vss_dm_present(void)
{
	return access("/sys/class/misc/device-mapper", F_OK) == 0;
}

int vss_dm_exists(const char *name)
{
	struct dm_task *dmt = task(DM_DEVICE_INFO, name);
	struct dm_info info;
	int r;

	if (!dmt)
		return -ENOMEM;
	if (!dm_task_run(dmt) || !dm_task_get_info(dmt, &info))
		r = task_errno(dmt);
	else
		r = info.exists ? 1 : 0;
	dm_task_destroy(dmt);
	return r;
}

int vss_dm_info(const char *name, bool *suspended, unsigned *major, unsigned *minor,
		int *open_count)
{
	struct dm_task *dmt = task(DM_DEVICE_INFO, name);
	struct dm_info info;
	int r = 0;

	if (!dmt)
		return -ENOMEM;
	if (!dm_task_run(dmt) || !dm_task_get_info(dmt, &info))
		r = task_errno(dmt);
	else if (!info.exists)
		r = -ENOENT;
	else {
		if (suspended)
			*suspended = info.suspended;
		if (major)
			*major = info.major;
		if (minor)
			*minor = info.minor;
		if (open_count)
			*open_count = info.open_count;
	}
	dm_task_destroy(dmt);
	return r;
}

int vss_dm_table(const char *name, bool status, struct vss_dm_target **t, size_t *n)
{
	struct dm_task *dmt = task(status ? DM_DEVICE_STATUS : DM_DEVICE_TABLE, name);
	struct vss_dm_target *out = NULL;
	struct dm_info info;
	void *next = NULL;
	size_t cnt = 0;
	int r = 0;

	*t = NULL;
	*n = 0;
	if (!dmt)
		return -ENOMEM;
	if (!dm_task_run(dmt) || !dm_task_get_info(dmt, &info)) {
		r = task_errno(dmt);
		goto out;
	}
	if (!info.exists) {
		r = -ENOENT;
		goto out;
	}
	do {
		uint64_t start, length;
		char *type = NULL, *params = NULL;
		struct vss_dm_target *tmp;

		next = dm_get_next_target(dmt, next, &start, &length, &type, &params);
		if (!type)
			break;
		tmp = realloc(out, (cnt + 1) * sizeof(*out));
		if (!tmp) {
			r = -ENOMEM;
			break;
		}
		out = tmp;
		out[cnt].start = start;
		out[cnt].length = length;
		vss_strlcpy(out[cnt].type, type, sizeof(out[cnt].type));
		out[cnt].params = strdup(params ? params : "");
		cnt++;
	} while (next);
out:
	dm_task_destroy(dmt);
	if (r) {
		vss_dm_targets_free(out, cnt);
		return r;
	}
	*t = out;
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

static int add_targets(struct dm_task *dmt, const struct vss_dm_target *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!dm_task_add_target(dmt, t[i].start, t[i].length, t[i].type, t[i].params))
			return -ENOMEM;
	return 0;
}

int vss_dm_create(struct vss_ctx *ctx, const char *name, const char *uuid,
		  const struct vss_dm_target *t, size_t n, bool readonly, bool activate)
{
	struct dm_task *dmt = task(DM_DEVICE_CREATE, name);
	int r = 0;

	if (!dmt)
		return -ENOMEM;
	if (uuid && !dm_task_set_uuid(dmt, uuid))
		r = -ENOMEM;
	/* !activate: an empty device, then the table in the inactive slot */
	if (!r && activate)
		r = add_targets(dmt, t, n);
	if (!r && readonly && !dm_task_set_ro(dmt))
		r = -ENOMEM;
	/*
	 * A device created without a table raises no uevent: waiting for
	 * udev on it would wait for ever.  Its node comes with its resume.
	 */
	if (!r && !(activate ? run_sync(dmt, 0) : dm_task_run(dmt))) {
		r = task_errno(dmt);
		vss_err(ctx, "%s: cannot create the device (%s %s): %s", name, t[0].type,
			t[0].params, strerror(-r));
	}
	dm_task_destroy(dmt);
	if (!r && !activate) {
		r = vss_dm_load(ctx, name, t, n, readonly);
		if (r)
			vss_dm_remove(ctx, name);
	}
	return r;
}

int vss_dm_load(struct vss_ctx *ctx, const char *name, const struct vss_dm_target *t,
		size_t n, bool readonly)
{
	struct dm_task *dmt = task(DM_DEVICE_RELOAD, name);
	int r;

	if (!dmt)
		return -ENOMEM;
	r = add_targets(dmt, t, n);
	if (!r && readonly && !dm_task_set_ro(dmt))
		r = -ENOMEM;
	if (!r && !dm_task_run(dmt)) {
		r = task_errno(dmt);
		vss_err(ctx, "%s: cannot load the table (%s %s): %s", name, t[0].type,
			t[0].params, strerror(-r));
	}
	dm_task_destroy(dmt);
	return r;
}

int vss_dm_suspend(struct vss_ctx *ctx, const char *name, bool skip_lockfs)
{
	struct dm_task *dmt = task(DM_DEVICE_SUSPEND, name);
	int r = 0;

	if (!dmt)
		return -ENOMEM;
	if (skip_lockfs && !dm_task_skip_lockfs(dmt))
		r = -ENOMEM;
	if (!r && !dm_task_run(dmt)) {
		r = task_errno(dmt);
		vss_err(ctx, "%s: cannot suspend: %s", name, strerror(-r));
	}
	dm_task_destroy(dmt);
	return r;
}

int vss_dm_resume(struct vss_ctx *ctx, const char *name)
{
	struct dm_task *dmt = task(DM_DEVICE_RESUME, name);
	int r = 0;

	if (!dmt)
		return -ENOMEM;
	if (!run_sync(dmt, 0)) {
		r = task_errno(dmt);
		vss_err(ctx, "%s: cannot resume: %s", name, strerror(-r));
	}
	dm_task_destroy(dmt);
	return r;
}

/* Load a new table and switch to it with one suspend and resume. */
int vss_dm_switch_table(struct vss_ctx *ctx, const char *name, const struct vss_dm_target *t,
			size_t n)
{
	int r = vss_dm_load(ctx, name, t, n, false);

	if (r)
		return r;
	/* An ordinary suspend: the kernel freezes a mounted filesystem itself. */
	r = vss_dm_suspend(ctx, name, false);
	if (r)
		return r;
	return vss_dm_resume(ctx, name);
}

int vss_dm_resume_raw(const char *name)
{
	struct dm_task *dmt = task(DM_DEVICE_RESUME, name);
	int r = 0;

	if (!dmt)
		return -ENOMEM;
	dm_task_no_open_count(dmt);
	if (!dm_task_run(dmt))
		r = task_errno(dmt);
	dm_task_destroy(dmt);
	return r;
}

/*
 * Resume, counting the uevent on *cookie (0: a new one) but not waiting
 * for udev: vss_dm_udev_wait() does, later, for every resume counted.
 */
int vss_dm_resume_cookie(const char *name, uint32_t *cookie)
{
	struct dm_task *dmt = task(DM_DEVICE_RESUME, name);
	int r = 0;

	if (!dmt)
		return -ENOMEM;
	dm_task_no_open_count(dmt);
	if (udev_sync && !dm_task_set_cookie(dmt, cookie, 0))
		r = -ENOMEM;
	if (!r && !dm_task_run(dmt))
		r = task_errno(dmt);
	dm_task_destroy(dmt);
	return r;
}

void vss_dm_udev_wait(uint32_t cookie)
{
	if (udev_sync && cookie)
		dm_udev_wait(cookie);
}

int vss_dm_remove(struct vss_ctx *ctx, const char *name)
{
	struct dm_task *dmt;
	int r = 0, tries;

	for (tries = 0; tries < 20; tries++) {
		dmt = task(DM_DEVICE_REMOVE, name);
		if (!dmt)
			return -ENOMEM;
		if (run_sync(dmt, 0)) {
			dm_task_destroy(dmt);
			return 0;
		}
		r = task_errno(dmt);
		dm_task_destroy(dmt);
		if (r != -EBUSY)
			break;
		/* udev may still hold it open after a change event */
		usleep(100000);
	}
	if (r == -ENXIO || r == -ENOENT)
		return 0;
	vss_err(ctx, "%s: cannot remove the device: %s", name, strerror(-r));
	return r;
}

int vss_dm_message(struct vss_ctx *ctx, const char *name, const char *msg)
{
	struct dm_task *dmt = task(DM_DEVICE_TARGET_MSG, name);
	int r = 0;

	if (!dmt)
		return -ENOMEM;
	if (!dm_task_set_sector(dmt, 0) || !dm_task_set_message(dmt, msg))
		r = -ENOMEM;
	if (!r && !dm_task_run(dmt)) {
		r = task_errno(dmt);
		vss_err(ctx, "%s: message '%s' failed: %s", name, msg, strerror(-r));
	}
	dm_task_destroy(dmt);
	return r;
}

/*
 * Whether the kernel has device-mapper (its control device answers a
 * version request): without it every table operation fails with an errno
 * that names something else (ENOMEM, ENXIO).
 */
bool vss_dm_available(void)
{
	char version[64];

	quiet_init();
	return dm_driver_version(version, sizeof(version)) == 1;
}

int vss_dm_target_version(const char *target, unsigned v[3])
{
	struct dm_task *dmt = task(DM_DEVICE_LIST_VERSIONS, NULL);
	struct dm_versions *tv, *last;
	int r = -ENOENT;

	if (!dmt)
		return -ENOMEM;
	if (!dm_task_run(dmt)) {
		r = task_errno(dmt);
		dm_task_destroy(dmt);
		return r;
	}
	tv = dm_task_get_versions(dmt);
	do {
		last = tv;
		if (!strcmp(tv->name, target)) {
			v[0] = tv->version[0];
			v[1] = tv->version[1];
			v[2] = tv->version[2];
			r = 0;
			break;
		}
		tv = (struct dm_versions *)((char *)tv + tv->next);
	} while (last != tv);
	dm_task_destroy(dmt);
	return r;
}

int vss_dm_message_quiet(const char *name, const char *msg)
{
	struct dm_task *dmt = task(DM_DEVICE_TARGET_MSG, name);
	int r = 0;

	if (!dmt)
		return -ENOMEM;
	if (!dm_task_set_sector(dmt, 0) || !dm_task_set_message(dmt, msg))
		r = -ENOMEM;
	if (!r && !dm_task_run(dmt))
		r = task_errno(dmt);
	dm_task_destroy(dmt);
	return r;
}
