// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The coordinator lock, and the crash repair that taking it runs
 * (vss_catalog_reconcile): the top floor of the library, since the repair
 * removes what a dead coordinator made through the providers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "vss-internal.h"

VSS_EXPORT int vss_lock(struct vss_ctx *ctx, int wait_ms)
{
	char path[300];
	uint64_t deadline = vss_now_ms() + (wait_ms > 0 ? (uint64_t)wait_ms : 0);
	int fd, r;

	if (ctx->lock_fd >= 0)
		return 0;
	r = vss_mkdir_p(ctx->run_dir, 0700);
	if (r) {
		vss_err(ctx, "%s: cannot create the run directory: %s", ctx->run_dir, strerror(-r));
		return r;
	}
	snprintf(path, sizeof(path), "%s/vss.lock", ctx->run_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		vss_err(ctx, "%s: cannot open the lock: %s", path, strerror(-r));
		return r;
	}
	for (;;) {
		if (!flock(fd, LOCK_EX | LOCK_NB))
			break;
		if (errno != EWOULDBLOCK) {
			r = -errno;
			close(fd);
			return r;
		}
		if (wait_ms == 0 || (wait_ms > 0 && vss_now_ms() >= deadline)) {
			close(fd);
			vss_err(ctx, "%s: another shadow copy operation is in progress", path);
			return -EBUSY;
		}
		usleep(50000);
	}
	ctx->lock_fd = fd;
	r = vss_catalog_reconcile(ctx);
	if (r)
		vss_warn(ctx, "catalog: reconcile: %s", strerror(-r));
	return 0;
}

VSS_EXPORT void vss_unlock(struct vss_ctx *ctx)
{
	if (ctx->lock_fd < 0)
		return;
	flock(ctx->lock_fd, LOCK_UN);
	close(ctx->lock_fd);
	ctx->lock_fd = -1;
}

/*
 * A set left "creating" was being made by a coordinator that died (we hold
 * the lock, so no other is running): delete what it made.  A shadow copy
 * left "deleting" by a vss_shadow_delete() that died is deleted.  A shadow
 * copy whose device is gone is marked inactive (vss-activate brings it back).
 */
VSS_EXPORT int vss_catalog_reconcile(struct vss_ctx *ctx)
{
	json_object *root, *sets;
	bool changed = false;
	size_t i, j;
	int r;

	r = vss_catalog_load(ctx, &root);
	if (r)
		return r;
	sets = vss_json_array(root, "sets");
	for (i = 0; sets && i < json_object_array_length(sets);) {
		json_object *set = json_object_array_get_idx(sets, i);
		json_object *shs = vss_json_array(set, "shadows");
		const char *state = vss_json_str(set, "state");
		pid_t pid = vss_json_int(set, "pid");

		if (state && (!strcmp(state, "creating") || !strcmp(state, "deleting")) &&
		    (pid <= 0 || pid == getpid() || kill(pid, 0))) {
			vss_warn(ctx, "set %lld: left %s by process %d: deleting what it made",
				 (long long)vss_json_int(set, "set_id"), state, (int)pid);
			for (j = 0; shs && j < json_object_array_length(shs); j++)
				vss_shadow_remove_json(ctx, json_object_array_get_idx(shs, j));
			json_object_array_del_idx(sets, i, 1);
			changed = true;
			continue;
		}
		for (j = 0; shs && j < json_object_array_length(shs); j++) {
			json_object *sh = json_object_array_get_idx(shs, j);
			const char *dev = vss_json_str(sh, "device");
			const char *st = vss_json_str(sh, "state");
			const char *name = dev && strrchr(dev, '/') ? strrchr(dev, '/') + 1 : dev;
			pid_t spid = vss_json_int(sh, "pid");

			/* vss_shadow_delete() marks before it removes: finish its work */
			if (st && !strcmp(st, "deleting") &&
			    (spid <= 0 || spid == getpid() || kill(spid, 0))) {
				vss_warn(ctx, "shadow copy %lld: left deleting by process %d: "
					 "deleting it", (long long)vss_json_int(sh, "shadow_id"),
					 (int)spid);
				if (!vss_shadow_remove_json(ctx, sh)) {
					json_object_array_del_idx(shs, j--, 1);
					changed = true;
				}
				continue;
			}
			if (!name || !st || strcmp(st, "created"))
				continue;
			if (vss_dm_exists(name) == 0) {
				json_object_object_add(sh, "state", json_object_new_string("inactive"));
				changed = true;
			}
		}
		if (shs && json_object_array_length(shs) == 0) {
			json_object_array_del_idx(sets, i, 1);
			changed = true;
			continue;
		}
		i++;
	}
	if (changed)
		r = vss_catalog_save(ctx, root);
	json_object_put(root);
	return r;
}
