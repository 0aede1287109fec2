/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Internal interfaces of libvsscore, shared between its files.  Not
 * installed; unit tests may use them.
 */
#ifndef VSS_INTERNAL_H
#define VSS_INTERNAL_H

#include <json-c/json.h>
#include <stdarg.h>
#include <string.h>
#include <sys/types.h>

#include "libvsscore.h"

#define VSS_EXPORT __attribute__((visibility("default")))

struct vss_ctx {
	char state_dir[256];
	char run_dir[256];
	char conf_dir[256];
	vss_log_fn log_fn;
	void *log_arg;
	int log_min;
	int lock_fd;		/* -1 when the lock is not held */
};

/* core.c */
void vss_log(struct vss_ctx *ctx, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define vss_err(ctx, ...)	vss_log(ctx, VSS_LOG_ERROR, __VA_ARGS__)
#define vss_warn(ctx, ...)	vss_log(ctx, VSS_LOG_WARN, __VA_ARGS__)
#define vss_info(ctx, ...)	vss_log(ctx, VSS_LOG_INFO, __VA_ARGS__)
#define vss_dbg(ctx, ...)	vss_log(ctx, VSS_LOG_DEBUG, __VA_ARGS__)
int vss_mkdir_p(const char *path, mode_t mode);
uint64_t vss_now_ms(void);
ssize_t vss_write_nosigpipe(int fd, const void *buf, size_t len);
void vss_strlcpy(char *dst, const char *src, size_t size);
void vss_iso8601(time_t t, char *buf, size_t size);
time_t vss_parse_iso8601(const char *s);

/* catalog.c: the catalog is one JSON document, read and written whole. */
int vss_catalog_load(struct vss_ctx *ctx, json_object **root);
int vss_catalog_save(struct vss_ctx *ctx, json_object *root);
json_object *vss_json_array(json_object *obj, const char *key);
const char *vss_json_str(json_object *obj, const char *key);
int64_t vss_json_int(json_object *obj, const char *key);
bool vss_json_bool(json_object *obj, const char *key);
uint64_t vss_catalog_next_id(json_object *root, const char *key);
json_object *vss_catalog_find_storage(json_object *root, const char *dm_name);
json_object *vss_catalog_find_set(json_object *root, uint64_t set_id);
void vss_catalog_shadow_to_info(json_object *set, json_object *sh,
				struct vss_shadow_info *info);
int vss_snap_id_of(struct vss_ctx *ctx, uint64_t shadow_id, uint32_t *snap_id);

/*
 * Every shadow copy of the catalog, set by set:
 *	struct vss_shadow_iter it;
 *	json_object *sh;
 *	vss_for_each_shadow(sh, &it, root) { ... it.set is its set ... }
 * break and continue work as in any loop; the loop must not add or remove
 * sets or shadow copies.
 */
struct vss_shadow_iter {
	json_object *sets;	/* the catalog's "sets" */
	json_object *set;	/* the set of the current shadow copy */
	size_t set_idx, shadow_idx;
};
json_object *vss_shadow_iter_first(struct vss_shadow_iter *it, json_object *root);
json_object *vss_shadow_iter_next(struct vss_shadow_iter *it);
#define vss_for_each_shadow(sh, it, root) \
	for ((sh) = vss_shadow_iter_first((it), (root)); (sh); (sh) = vss_shadow_iter_next(it))
/* The catalog entry of a shadow copy, its set in *set (may be NULL); NULL if none. */
json_object *vss_catalog_find_shadow(json_object *root, uint64_t shadow_id, json_object **set);
int vss_atomic_write(const char *path, const char *data, size_t len);

/* volume.c: volumes and mounts; libblkid and /proc/self/mountinfo are read only here */
int vss_mountpoint_of(const char *dm_name, char *mnt, size_t size);
int vss_mountpoint_of_devno(dev_t devno, char *mnt, size_t size);
/* Whether a filesystem is mounted exactly at path (the topmost's devno in *devno). */
bool vss_mounted_at(const char *path, dev_t *devno);
int vss_dm_name_of_devno(dev_t devno, char *name, size_t size);
/* The size in bytes of a block device (BLKGETSIZE64), by path or open descriptor. */
int vss_blkdev_size(const char *path, uint64_t *bytes);
int vss_blkdev_size_fd(int fd, uint64_t *bytes);
/*
 * What libblkid recognises on a device (a filesystem, a RAID member, a
 * partition table, ...): 1 with its name in type, 0 when nothing, -errno.
 */
int vss_device_signature(const char *device, char *type, size_t size);
/* Erase every signature libblkid knows on a device, as wipefs -a does. */
int vss_device_wipe_signatures(const char *device);

/* freeze.c: the watchdog */
struct vss_watchdog;
struct vss_watchdog_item {
	char mountpoint[256];	/* thaw this (FITHAW), or "" */
	char dm_name[128];	/* resume this, or "" */
};
int vss_watchdog_start(struct vss_ctx *ctx, const struct vss_watchdog_item *items,
		       size_t n, unsigned int limit_ms, struct vss_watchdog **wd);
/* Tell the watchdog all is thawed and resumed; waits for it to exit. */
int vss_watchdog_stop(struct vss_watchdog *wd);
pid_t vss_watchdog_pid(struct vss_watchdog *wd);
/* Whether the watchdog fired (thawed on its own: the limit passed). */
bool vss_watchdog_fired(struct vss_watchdog *wd);
void vss_watchdog_free(struct vss_watchdog *wd);

/* dm.c: the only file that calls libdevmapper */
struct vss_dm_target {
	uint64_t start, length;
	char type[32];
	char *params;
};
int vss_dm_exists(const char *name);
/* Whether the kernel has device-mapper at all (else every dm call fails). */
bool vss_dm_present(void);
int vss_dm_table(const char *name, bool status, struct vss_dm_target **t, size_t *n);
void vss_dm_targets_free(struct vss_dm_target *t, size_t n);
/* targets.c: the type and parameters of a device's first target (table,
 * or status if status): vss_dm_first -ENODEV if it has none, vss_dm_single
 * -EPROTO unless it has exactly one. */
int vss_dm_first(const char *name, bool status, char *type, size_t tsize,
		 char *params, size_t psize);
int vss_dm_single(const char *name, bool status, char *type, size_t tsize,
		  char *params, size_t psize);
int vss_dm_info(const char *name, bool *suspended, unsigned *major, unsigned *minor,
		int *open_count);
/* Create a device with one table (loaded and resumed unless !activate). */
int vss_dm_create(struct vss_ctx *ctx, const char *name, const char *uuid,
		  const struct vss_dm_target *t, size_t n, bool readonly, bool activate);
int vss_dm_load(struct vss_ctx *ctx, const char *name, const struct vss_dm_target *t,
		size_t n, bool readonly);
int vss_dm_suspend(struct vss_ctx *ctx, const char *name, bool skip_lockfs);
int vss_dm_resume(struct vss_ctx *ctx, const char *name);
/* Load a new table and switch to it with one (lockfs) suspend and resume. */
int vss_dm_switch_table(struct vss_ctx *ctx, const char *name, const struct vss_dm_target *t,
			size_t n);
int vss_dm_remove(struct vss_ctx *ctx, const char *name);
int vss_dm_message(struct vss_ctx *ctx, const char *name, const char *msg);
int vss_dm_message_quiet(const char *name, const char *msg);
int vss_dm_target_version(const char *target, unsigned v[3]);
bool vss_dm_available(void);
uint64_t vss_dm_size(const char *name);
/* For a forked child (the watchdog): no udev synchronisation. */
void vss_dm_forked_child(void);
int vss_dm_resume_raw(const char *name);
int vss_dm_resume_cookie(const char *name, uint32_t *cookie);
void vss_dm_udev_wait(uint32_t cookie);

/* writers.c */
struct vss_writers;
int vss_writers_start(struct vss_ctx *ctx, uint64_t set_id, const char *const *volumes,
		      const char *const *mounts, const struct vss_set_opts *opts,
		      struct vss_writers **w);
int vss_writers_start_purpose(struct vss_ctx *ctx, uint64_t set_id, const char *const *volumes,
			      const char *const *mounts, const char *purpose,
			      const struct vss_set_opts *opts, struct vss_writers **w);
/* Send an event to every running writer; -ECANCELED if one failed. */
int vss_writers_event(struct vss_writers *w, const char *event, unsigned int timeout_ms);
/* After thaw: whether every writer held its writes. */
bool vss_writers_all_held(struct vss_writers *w);
bool vss_writers_retryable(struct vss_writers *w);
int vss_hooks_run(struct vss_ctx *ctx, const char *action, unsigned int timeout_ms,
		  char *failed, size_t size);
void vss_writers_stop(struct vss_writers *w, bool abort);
void vss_writers_set_id(struct vss_writers *w, uint64_t set_id);
const char *vss_writers_failed(struct vss_writers *w, const char **phase);
void vss_writers_record(struct vss_writers *w, json_object *root);
typedef int (*vss_component_fn)(void *arg, const char *writer, const char *component,
				json_object *files);
int vss_writers_for_each_component(struct vss_writers *w, vss_component_fn fn, void *arg);
/* Sees a writer's "ok" answer to an event; a non-zero return is the event's result. */
typedef int (*vss_writer_answer_fn)(void *arg, const char *writer, json_object *answer);
int vss_writers_event_ext(struct vss_writers *w, const char *event, unsigned int timeout_ms,
			  const char *only, json_object *extra, vss_writer_answer_fn fn, void *arg);
bool vss_writers_supports(struct vss_writers *w, const char *name, const char *event);
json_object *vss_writers_backup_metadata(struct vss_writers *w);
json_object *vss_writers_metadata(struct vss_writers *w, const char *name);
json_object *vss_writers_set_json(struct vss_writers *w);

/* expose.c: exposures (vss-expose), read-only or writable views */
/* Whether a shadow copy's recorded exposure is still mounted. */
bool vss_exposure_live(json_object *sh);
/* Remove what is left of a stale exposure (a view's device, loop, file); clear the record. */
void vss_exposure_forget(struct vss_ctx *ctx, json_object *sh);

/* components.c: a writer's component is copied whole (see there) */
struct vss_component_gap {
	char writer[128], component[128];
	char file[512];		/* a file of the component ... */
	dev_t devno;		/* ... on this volume, not in the set */
	char dm_name[128];	/* its device-mapper name, "" when it is not one */
};
int vss_component_gaps(struct vss_writers *w, const dev_t *set_devs, size_t n_devs,
		       struct vss_component_gap **gaps, size_t *n_gaps);

/* spawn.c: the executables of writers.d/, hooks.d/ and providers.d/ */
/* 0 if path is a root-owned executable that nobody else may write, else -errno. */
int vss_exec_checked(struct vss_ctx *ctx, const char *path);
struct vss_spawn_opts {
	bool own_group;			/* its own process group (a kill takes its children) */
	bool default_sigpipe;		/* SIGPIPE back to its default in the child */
	const char *env_name;		/* one variable set in its environment, or NULL */
	const char *env_value;
};
struct vss_child {
	pid_t pid;
	int in_fd;			/* its stdin: requests are written here */
	int out_fd;			/* its stdout: answers are read here */
};
/* Run path with pipes on its stdin and stdout (opts may be NULL); 0 or -errno. */
int vss_spawn(const char *path, const struct vss_spawn_opts *opts, struct vss_child *child);

/* providers.c */
struct vss_provider;
struct vss_pshadow {			/* one volume's shadow in a set being made */
	char dm_name[128];		/* the volume */
	char real[128];
	char store[256];
	char provider[64];
	char device[256];
	char mountpoint[256];
	char snap_dev[128];		/* the shadow copy's dm name */
	char cow_dev[128];		/* dm-snapshot: its cow slice */
	uint64_t shadow_id;
	uint32_t snap_id;
	uint64_t cow_offset;
	uint64_t cow_len;
	bool committed;			/* the point in time is taken */
	bool activated;			/* the shadow copy's device exists */
	const struct vss_provider *ops;
	char ext_path[256];		/* external provider's executable */
};
struct vss_provider {
	const char *name;
	/* the kernel target this provider needs loaded (NULL: none of ours) */
	const char *kernel_target;
	unsigned int caps;		/* VSS_PROVIDER_* */
	/* before the freeze: reserve and load whatever needs no suspension */
	int (*prepare)(struct vss_ctx *ctx, json_object *root, struct vss_pshadow *s);
	/* while the volume is suspended: take the point in time */
	int (*commit)(struct vss_ctx *ctx, struct vss_pshadow *s);
	/* after resume: make the shadow copy's device */
	int (*activate)(struct vss_ctx *ctx, struct vss_pshadow *s);
	/* undo all of it, whatever stage was reached */
	int (*remove)(struct vss_ctx *ctx, struct vss_pshadow *s);

	/*
	 * The volume's live table over <name>-real for its storage entry st
	 * (into t, over params); root: the catalog.  The caller sets t->length.
	 */
	int (*origin_table)(json_object *root, json_object *st, struct vss_dm_target *t,
			    char *params, size_t psize);
	/*
	 * vss-activate: the device of shadow copy sh of the volume of storage
	 * entry st again.  0: done (dry: said what would be done);
	 * VSS_REACTIVATE_INVALID: the copy is gone, why says so; else -errno,
	 * said.  NULL: vss-activate leaves the provider's copies alone.
	 */
	int (*reactivate)(struct vss_ctx *ctx, json_object *st, json_object *sh, bool dry,
			  char *why, size_t wsize);
#define VSS_REACTIVATE_INVALID 1
	/* the target of its shadow copy's device, and what that device's status says */
	const char *shadow_target;
	void (*state)(const struct vss_shadow_info *info, const char *snap_dev,
		      const char *params, struct vss_shadow_state *st);
	/* vss-storage add: check the store for volume dm, record own fields in e */
	int (*storage_add)(struct vss_ctx *ctx, const struct vss_storage_opts *o,
			   const char *dm, const char *store, json_object *e);
	/* after vss-storage add: say what was enabled (NULL: a plain line) */
	void (*storage_added)(struct vss_ctx *ctx, json_object *e);
	/* vss-storage resize (NULL: nothing to resize) */
	int (*storage_resize)(struct vss_ctx *ctx, json_object *root, json_object *e,
			      uint64_t max_bytes);
	/* after vss-storage remove: the store serves the volume no more */
	void (*storage_removed)(struct vss_ctx *ctx, json_object *e);
};
/* Its store keeps a table of the snapshots and the chunks each holds. */
#define VSS_PROVIDER_STORE_TABLE	0x1
/* Its shadow copy's device says in its status whether it is still valid. */
#define VSS_PROVIDER_DEVICE_STATUS	0x2
/* Whether the provider name (builtin or external) has all of caps. */
bool vss_provider_can(const char *name, unsigned int caps);
int vss_provider_select(struct vss_ctx *ctx, json_object *root, const char *dm_name,
			const char *forced, struct vss_pshadow *s);
const struct vss_provider *vss_provider_by_name(const char *name);
/* A builtin provider by name, or NULL. */
const struct vss_provider *vss_provider_builtin(const char *name);
/* The best builtin provider: the one a volume gets when none is named. */
const struct vss_provider *vss_provider_best(void);
void vss_pshadow_from_json(json_object *sh, struct vss_pshadow *s);
int vss_shadow_remove_json(struct vss_ctx *ctx, json_object *sh);

/* vss_shadow_get_state() and the providers' state ops */
static inline void vss_shadow_state_set(struct vss_shadow_state *st, const char *state,
					const char *detail)
{
	vss_strlcpy(st->state, state, sizeof(st->state));
	vss_strlcpy(st->detail, detail, sizeof(st->detail));
}

static inline const char *vss_base_name(const char *path)
{
	const char *s = path ? strrchr(path, '/') : NULL;

	return s ? s + 1 : path;
}

/* provider-cow.c, provider-snapshot.c, provider-clone.c, provider-ext.c */
extern const struct vss_provider vss_provider_cow;
extern const struct vss_provider vss_provider_snapshot;
extern const struct vss_provider vss_provider_clone;
extern const struct vss_provider vss_provider_ext;
/* provider-ext.c: one request to the executable path, one answer within timeout_ms */
int vss_ext_call(struct vss_ctx *ctx, const char *path, json_object *req,
		 unsigned int timeout_ms, json_object **ans);
json_object *vss_ext_request(const char *op, const struct vss_pshadow *s);

/* targets.c: status lines */
struct vss_snap_status {	/* vss-snap: "<snap_id> <valid|invalid> <copied_chunks>" */
	unsigned int snap_id;
	char state[16];
	unsigned long long copied_chunks;
};
int vss_status_snap_parse(const char *params, struct vss_snap_status *ss);
/* vss-origin: "<chunk> <used>/<total> <m>/<mt> <snaps> <mode>"; mode "" if cut short. */
struct vss_origin_status {
	unsigned int chunk_sectors;
	unsigned long long used_chunks, total_chunks;
	char mode[8];
};
int vss_status_origin_parse(const char *params, struct vss_origin_status *os);
/* snapshot: "<alloc>/<total> <meta>" in sectors, or "Invalid", "Merge failed", "Overflow". */
struct vss_snapshot_status {
	bool invalid, overflow;
	unsigned long long alloc_sectors, total_sectors, meta_sectors;
};
int vss_status_snapshot_parse(const char *params, struct vss_snapshot_status *ss);
/*
 * A shadow copy device's status (vss-snap or snapshot): 1 valid, 0 invalid
 * or dropped, -EPROTO for another target or a status not understood.
 */
int vss_status_device_valid(const char *type, const char *params);
/* Whether the device name reports a valid snapshot (vss-snap or snapshot). */
bool vss_dm_device_valid(const char *name);
/* snapshot table: "<origin> <cow> <P|N> <chunk_sectors>"; the chunk size, 0 if not there. */
unsigned int vss_table_snapshot_chunk(const char *table);
/* Parse "<region_sectors> <synced>/<total> <state>"; -EPROTO if malformed. */
int vss_clone_parse_status(const char *params, struct vss_clone_status *cs);
/* The status of the volume dm_name: state "off" when its table is not vss-clone. */
int vss_clone_read_status(const char *dm_name, struct vss_clone_status *cs);

/* provider-clone.c: dm-vss-clone volumes */
#define VSS_CLONE_DEFAULT_REGION_SECTORS 1024	/* 512 KiB */
/*
 * The volume's table for a storage entry of provider dm-vss-clone (into t,
 * whose params buffer of psize bytes is filled in), for @sectors sectors:
 * "vss-clone /dev/mapper/<real> <dest> <region_sectors>", or, with
 * split_copy set (after a reboot, while a shadow copy of the clone exists:
 * the kernel forgot the split), "linear /dev/mapper/<real> 0", so that
 * nothing writes to dest until the copy is deleted.  For vss-activate.
 */
int vss_clone_table(json_object *st, uint64_t sectors, bool split_copy,
		    struct vss_dm_target *t, char *params, size_t psize);
/* Whether the catalog holds a dm-vss-clone shadow copy of dm_name (its id in *id). */
bool vss_clone_copy_exists(json_object *root, const char *dm_name, uint64_t *id);
/* Load the vss-clone table again over a volume left linear (a full resync). */
int vss_clone_reload(struct vss_ctx *ctx, const char *dm_name);

#endif
