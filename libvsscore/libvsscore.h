/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvsscore: the shadow copy coordinator of dm-vss.
 *
 * A requestor (the vss-* commands, or a backup program) opens a context,
 * starts a set, adds volumes, commits it and reads back the shadow copies.
 * The library coordinates writers (writers.d/, hooks.d/), filesystems
 * (FIFREEZE/FITHAW), device-mapper devices and providers so that every
 * volume of a set is captured at one instant, and keeps a catalog of what
 * it made.
 *
 * Conventions: every function returning int returns 0 or a negative errno.
 * The library never prints and never exits; diagnostics go to the log
 * callback of the context.  A context is not thread safe.
 *
 * Errors that tell the phase of a failed set:
 *   -ECANCELED  a writer or hook vetoed, failed, hung or died (exit 6)
 *   -EIO        the provider failed; no shadow copy was made (exit 7)
 *   -ENOPKG     the kernel target is missing or too old (exit 8)
 *   -ETIMEDOUT  the freeze or commit limit passed (the phase is logged)
 *   -EBUSY      another set is in progress (the lock is held)
 */
#ifndef LIBVSSCORE_H
#define LIBVSSCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* what this header declares is the library's interface; the rest is hidden */
#pragma GCC visibility push(default)

struct vss_ctx;
struct vss_set;

/* ---- context and logging ---- */

enum vss_log_level {
	VSS_LOG_DEBUG = 0,
	VSS_LOG_INFO = 1,
	VSS_LOG_WARN = 2,
	VSS_LOG_ERROR = 3,
};

/**
 * typedef vss_log_fn - the log callback.
 * @level: enum vss_log_level
 * @msg:   one line without the trailing newline, in the form
 *         "<object>: <what failed>: <why>" for errors
 * @arg:   the pointer given to vss_ctx_set_log()
 */
typedef void (*vss_log_fn)(int level, const char *msg, void *arg);

/**
 * vss_ctx_new() - open a context.
 * @ctx: set to the new context
 *
 * The directories come from the environment when set: VSS_STATE_DIR
 * (catalog, default /var/lib/vss), VSS_RUN_DIR (lock, default /run/vss),
 * VSS_CONF_DIR (writers.d/, hooks.d/, providers.d/, default /etc/vss).
 * Nothing is read or locked yet.  Returns 0 or -ENOMEM.
 */
int vss_ctx_new(struct vss_ctx **ctx);

/**
 * vss_ctx_free() - close a context, releasing its lock if held.
 * @ctx: the context, or NULL
 */
void vss_ctx_free(struct vss_ctx *ctx);

/**
 * vss_ctx_set_log() - route diagnostics to a callback.
 * @ctx:       the context
 * @fn:        the callback, or NULL to drop every message
 * @arg:       passed back to @fn
 * @min_level: messages below this level are not passed
 */
void vss_ctx_set_log(struct vss_ctx *ctx, vss_log_fn fn, void *arg, int min_level);

/**
 * vss_ctx_dir() - one of the context's directories.
 * @ctx:  the context
 * @what: "state", "run" or "conf"
 *
 * Returns the path (owned by the context), or NULL for an unknown name.
 */
const char *vss_ctx_dir(struct vss_ctx *ctx, const char *what);

/**
 * vss_strerror() - a short text for an error of this library.
 * @err: a negative errno returned by a vss_* function
 *
 * Like strerror(-err), with the meanings listed at the top of this header
 * for -ECANCELED, -EIO and -ENOPKG.
 */
const char *vss_strerror(int err);

/*
 * The version of this header; vss_version() gives the library's, which may
 * be newer (symbols are versioned, and the structures keep their size
 * within the soname, libvsscore.so.1: a program built against an older
 * version runs with a newer one).  Added in 0.1 (VSSCORE_0.2 in the map).
 */
#define VSS_VERSION_MAJOR 0
#define VSS_VERSION_MINOR 1
#define VSS_VERSION_PATCH 0
#define VSS_VERSION_NUMBER(major, minor, patch) (((major) << 16) | ((minor) << 8) | (patch))
#define VSS_VERSION_CURRENT \
	VSS_VERSION_NUMBER(VSS_VERSION_MAJOR, VSS_VERSION_MINOR, VSS_VERSION_PATCH)

/**
 * vss_version() - the library's version as "MAJOR.MINOR.PATCH".
 * @number: if not NULL, set to VSS_VERSION_NUMBER(major, minor, patch)
 */
const char *vss_version(unsigned int *number);

/* ---- the lock ---- */

/**
 * vss_lock() - take the coordinator lock (one set at a time, like LVM).
 * @ctx:     the context
 * @wait_ms: 0 to fail at once, -1 to wait for ever, else the bound
 *
 * The lock is <run dir>/vss.lock, held with flock(2) so that it is
 * released when the process dies.  Taking it also reconciles the catalog
 * (see vss_catalog_reconcile()).  Returns 0, -EBUSY when another process
 * holds it (after @wait_ms), or -errno.
 */
int vss_lock(struct vss_ctx *ctx, int wait_ms);

/**
 * vss_unlock() - release the lock taken by vss_lock().
 * @ctx: the context
 */
void vss_unlock(struct vss_ctx *ctx);

/* ---- catalog: what was made ---- */

/* A shadow copy as recorded in the catalog. */
struct vss_shadow_info {
	uint64_t shadow_id;
	uint64_t set_id;
	char volume[256];	/* the source volume, /dev/mapper/NAME */
	char device[256];	/* the shadow copy, /dev/mapper/vss-<shadow_id> */
	char provider[64];	/* dm-vss-cow, dm-snapshot, or an external name */
	char store[256];	/* the store (differences area) or cow device */
	char state[32];		/* creating, created, exposed, invalid, deleting */
	char tag[64];		/* --tag of its set, or empty */
	char exposed[256];	/* mount point when exposed, else empty */
	time_t created;		/* the set's instant */
	uint32_t snap_id;	/* the provider's id for it (dm-vss: the store's) */
	/* zero: room for members added later, the size kept (libvsscore(3)) */
	uint64_t reserved[8];
};

/* A volume enabled for shadow copies (vss-storage add). */
struct vss_storage_info {
	char volume[256];	/* /dev/mapper/NAME */
	char name[128];		/* the dm name of the volume */
	char real[128];		/* the dm name of its -real device */
	char store[256];	/* the store device */
	char provider[64];	/* dm-vss-cow, dm-snapshot or dm-vss-clone */
	uint32_t chunk_sectors;
	uint64_t max_bytes;	/* dm-snapshot: size of one cow area; 0: whole store */
	bool wrapped;		/* a dm-linear wrapper made by --wrap */
	char wrapped_dev[256];	/* the device it wraps */
	uint32_t region_sectors; /* dm-vss-clone: the clone's region size (store: its dest) */
	/* zero: room for members added later, the size kept (libvsscore(3)) */
	uint64_t reserved[8];
};

/**
 * vss_shadow_list() - the shadow copies of the catalog.
 * @ctx:     the context
 * @shadows: set to a malloc'ed array (free with free()), NULL when empty
 * @count:   set to its length
 */
int vss_shadow_list(struct vss_ctx *ctx, struct vss_shadow_info **shadows, size_t *count);

/*
 * A shadow copy as the kernel sees it now (vss_shadow_get_state()).
 * state is one of:
 *   valid     the device exists and the provider serves the copy
 *   invalid   the provider stopped serving it: the store failed, or it was
 *             invalidated (dm-snapshot's or overflow_invalidate's overflow)
 *   dropped   deleted by the provider to make room when its store filled
 *   missing   the device does not exist (after a reboot: vss-activate)
 *   creating, deleting   a command is making or deleting it (the catalog's word)
 *   unknown   the kernel could not be asked (detail says why), or an
 *             external provider, which the kernel knows nothing about
 */
struct vss_shadow_state {
	char state[16];
	char detail[160];	/* a short explanation, or empty */
	bool device_present;
	char mountpoint[256];	/* where its device is mounted now, else empty */
	bool usage_known;	/* the fields below were read from the kernel */
	uint32_t chunk_sectors;
	uint64_t copied_chunks;	/* chunks it reads from the store, not the origin */
	uint64_t copied_bytes;
	uint64_t store_used_bytes;	/* the store (shared by the volume's copies) */
	uint64_t store_size_bytes;
	/* zero: room for members added later, the size kept (libvsscore(3)) */
	uint64_t reserved[8];
};

/**
 * vss_shadow_get_state() - ask the kernel about a shadow copy.
 * @ctx:   the context (no lock needed: nothing is changed)
 * @info:  the shadow copy, from vss_shadow_list()
 * @state: filled in
 *
 * Reads the status of the shadow copy's device and of its volume's origin
 * (dm-vss-cow: vss-snap and vss-origin; dm-snapshot: snapshot), and, for a
 * dm-vss-cow copy the kernel no longer serves, the store's snapshot table
 * to tell "dropped" from "invalid".  Returns 0 (a missing device is a state,
 * not an error) or -ENOMEM.
 */
int vss_shadow_get_state(struct vss_ctx *ctx, const struct vss_shadow_info *info,
			 struct vss_shadow_state *state);

/* A set as recorded in the catalog. */
struct vss_set_info {
	uint64_t set_id;
	char state[32];		/* creating, created, deleting */
	char tag[64];
	char context[16];	/* persistent or backup */
	time_t created;
	size_t shadow_count;
	/* zero: room for members added later, the size kept (libvsscore(3)) */
	uint64_t reserved[8];
};

/**
 * vss_set_list() - the sets of the catalog.
 * @ctx:   the context
 * @sets:  set to a malloc'ed array (free with free()), NULL when empty
 * @count: set to its length
 */
int vss_set_list(struct vss_ctx *ctx, struct vss_set_info **sets, size_t *count);

/**
 * vss_storage_list() - the volumes enabled with vss_storage_add().
 * @ctx:   the context
 * @items: set to a malloc'ed array (free with free()), NULL when empty
 * @count: set to its length
 */
int vss_storage_list(struct vss_ctx *ctx, struct vss_storage_info **items, size_t *count);

/**
 * vss_catalog_reconcile() - bring the catalog in line with the kernel.
 * @ctx: the context (the lock must be held)
 *
 * Sets left "creating" by a coordinator that died are deleted (devices
 * removed, store snapshots deleted); shadow copies whose device vanished
 * are marked invalid.  Called by vss_lock().
 */
int vss_catalog_reconcile(struct vss_ctx *ctx);

/* ---- exposing a shadow copy (vss-expose, vss-unexpose) ---- */

/**
 * vss_shadow_expose() - mount a shadow copy read-only.
 * @ctx:        the context (the lock must be held when @mountpoint is set)
 * @shadow_id:  its id
 * @mountpoint: where to mount it (created if missing), or NULL to check
 *              only that it can be exposed and fill in @info
 * @info:       filled in (the device, and the mount point in exposed); may be NULL
 *
 * The filesystem type is probed with libblkid; journal replay is switched
 * off (ext3/ext4 noload, xfs norecovery,nouuid, btrfs nologreplay) so that
 * nothing writes to the copy; always ro,nosuid,nodev.  The mount point is
 * recorded in the catalog (the shadow's "exposed").  Returns 0; -ENOENT for
 * an unknown id; -ENODEV when its device is missing; -ESTALE when it is
 * invalid (the catalog or the kernel says so); -EBUSY when it is exposed or
 * mounted already (or something is mounted at @mountpoint); -ENXIO when
 * no filesystem is found on it; -EIO when the mount fails otherwise.
 */
int vss_shadow_expose(struct vss_ctx *ctx, uint64_t shadow_id, const char *mountpoint,
		      struct vss_shadow_info *info);

/**
 * vss_shadow_unexpose() - unmount a shadow copy exposed by vss_shadow_expose().
 * @ctx:       the context (the lock must be held)
 * @shadow_id: its id
 * @force:     detach a busy mount (MNT_DETACH) instead of failing
 *
 * Clears the catalog's record, and removes the mount point if
 * vss_shadow_expose() created it.  A record whose mount is gone (after a
 * reboot) is just cleared.  Returns 0; -ENOENT for an unknown id or a copy
 * not exposed; -EBUSY when the mount is busy (and !@force).
 */
int vss_shadow_unexpose(struct vss_ctx *ctx, uint64_t shadow_id, bool force);

/* Where the copy-on-write data of a writable view goes. */
struct vss_view_opts {
	const char *cow;	/* a block device or a file; NULL: a new sparse file in
				 * [expose] cow_dir (default <run dir>/views) */
	uint64_t cow_size;	/* bytes of that new file; 0: [expose] cow_size, else
				 * 10% of the volume but at least 1 GiB, never more
				 * than the volume */
	/* zero: room for members added later, the size kept (libvsscore(3)) */
	uint64_t reserved[8];
};

/**
 * vss_shadow_expose_writable() - mount a throwaway writable view of a shadow copy.
 * @ctx:        the context (the lock must be held)
 * @shadow_id:  its id
 * @mountpoint: where to mount the view (created if missing)
 * @opts:       the copy-on-write device or file, or NULL for the defaults
 * @info:       filled in as by vss_shadow_expose(); may be NULL
 *
 * The kernel's dm-snapshot target, non-persistent, over the shadow copy's
 * device: /dev/mapper/vss-<id>-view, whose writes go to the copy-on-write
 * device (a loop device over a sparse file when @opts->cow is not a block
 * device); the shadow copy never changes.  Mounted rw,nosuid,nodev (a
 * journal is replayed on the view; xfs with nouuid), and recorded in the
 * catalog like an exposure.  vss_shadow_unexpose() unmounts it and removes
 * the device, the loop device and a file it made; a reboot loses the view.
 * Returns 0, or the errors of vss_shadow_expose(); -ENOENT also when
 * @opts->cow does not exist; -ENOSPC when the file cannot be made.
 */
int vss_shadow_expose_writable(struct vss_ctx *ctx, uint64_t shadow_id, const char *mountpoint,
			       const struct vss_view_opts *opts, struct vss_shadow_info *info);

/* ---- verifying a set on writable views (vss-verify) ---- */

/* What a writer said of one of its components. */
struct vss_verify_result {
	char writer[128];
	char component[128];
	bool verified;
	char message[512];	/* the writer's words, or why it was not asked */
	/* zero: room for members added later, the size kept (libvsscore(3)) */
	uint64_t reserved[8];
};

/**
 * vss_set_verify() - the writers' own check of a set, on writable views.
 * @ctx:     the context (the lock must be held)
 * @set_id:  the set
 * @opts:    the views' copy-on-write settings, or NULL for the defaults
 * @results: set to a malloc'ed array (free with free()), one per component
 *           of each writer recorded in the set; NULL when there is none
 * @count:   set to its length
 *
 * Makes a writable view of every shadow copy of the set under
 * <run dir>/verify-<set_id>/, points the symlinks of the writers' component
 * files that lead into a live mount of the set at the matching view, starts
 * the writers of writers.d and sends the "verify" event to those recorded
 * in the set that support it, with "views" (live mount to view mount) and
 * "components"; then always removes the views.  A writer recorded in the
 * set that is missing, fails or does not support verify leaves its
 * components not verified, saying why.  Returns 0 when every component
 * verified (also when the set recorded no writer: @count is 0);
 * -ECANCELED when one did not; -ENOENT for an unknown set; or the errors
 * of vss_shadow_expose_writable() (no results then).
 */
int vss_set_verify(struct vss_ctx *ctx, uint64_t set_id, const struct vss_view_opts *opts,
		   struct vss_verify_result **results, size_t *count);

/* ---- activating after a reboot (vss-activate) ---- */

struct vss_activate_opts {
	bool dry_run;		/* say what would be done (INFO log), change nothing */
	/* zero: room for members added later, the size kept (libvsscore(3)) */
	uint64_t reserved[8];
};

/* What vss_activate() found and did. */
struct vss_activate_result {
	unsigned int origins_loaded;	/* volumes put back under their origin */
	unsigned int origins_present;	/* already under it: left alone */
	unsigned int shadows_loaded;	/* shadow copy devices created */
	unsigned int shadows_present;	/* already there: left alone */
	unsigned int shadows_invalid;	/* gone from their store (or invalid in it): marked invalid */
	unsigned int failed;		/* volumes or copies that could not be brought back */
	/* zero: room for members added later, the size kept (libvsscore(3)) */
	uint64_t reserved[8];
};

/**
 * vss_activate() - bring back the device-mapper devices of the catalog.
 * @ctx:  the context (the lock must be held, unless @opts->dry_run)
 * @opts: options; NULL for the defaults
 * @res:  filled in; may be NULL
 *
 * After a reboot: every volume of the catalog's storage is put back under
 * its origin target (its table moved to <name>-real, as vss_storage_add()
 * does; a volume wrapped by --wrap gets its -real device over the wrapped
 * partition), and every shadow copy its store still holds valid gets its
 * device back; a copy the store no longer has, or holds invalid or
 * dropped, is marked invalid in the catalog.  Devices already present are
 * left alone, so running it again changes nothing.  A dm-vss-clone volume
 * gets its vss-clone table again (a full resync), or, while a shadow copy
 * holds the split image, a linear table over <name>-real and the copy a
 * read-only linear device over the destination.  What cannot be brought
 * back (a missing volume or store) is logged as an error and the rest is
 * done.  Returns 0; -ENODEV when something could not be brought back;
 * -ENOPKG when the kernel target is missing.
 */
int vss_activate(struct vss_ctx *ctx, const struct vss_activate_opts *opts,
		 struct vss_activate_result *res);

/* ---- volumes ---- */

/**
 * vss_volume_resolve() - the dm device behind a volume argument.
 * @ctx:     the context
 * @arg:     /dev/mapper/NAME, /dev/dm-N, a dm name, or a mount point
 * @dm_name: set to the dm name (buffer of @size bytes)
 * @size:    its size
 *
 * Returns 0, -ENOENT when nothing matches, -ENOTBLK when @arg is a block
 * device or mount that is not a device-mapper device.
 */
int vss_volume_resolve(struct vss_ctx *ctx, const char *arg, char *dm_name, size_t size);

/* ---- storage: enable shadow copies of a volume ---- */

struct vss_storage_opts {
	const char *volume;	/* the volume (any form vss_volume_resolve() takes) */
	const char *store;	/* the store device */
	const char *provider;	/* "dm-vss-cow", "dm-snapshot", "dm-vss-clone",
				 * or NULL: dm-vss-cow, which must be loaded */
	uint32_t chunk_sectors;	/* 0: the target's default */
	uint64_t max_bytes;	/* dm-snapshot: bytes per cow area; 0: whole store */
	bool wrap;		/* a plain partition: wrap it in a dm-linear device */
	const char *wrap_name;	/* the dm name of the wrapper; NULL: from the partition */
	uint32_t region_sectors; /* dm-vss-clone ("provider"): 0: 1024 (512 KiB) */
	bool wipe;		/* dm-vss-cow: a store that is not blank is wiped
				 * first (else -EEXIST, reported) */
	bool overflow_invalidate; /* dm-vss-cow: a full store invalidates every
				 * snapshot (else the oldest are dropped) */
	/* zero: room for members added later, the size kept (libvsscore(3)) */
	uint64_t reserved[8];
};

/**
 * vss_storage_add() - put a volume under a vss-origin (or snapshot-origin).
 * @ctx:  the context (the lock must be held)
 * @opts: what to do
 *
 * A dm volume, mounted and in use, keeps working: its table moves to a new
 * device <name>-real, and the volume is reloaded with an origin table over
 * it, with one suspend/resume.  A block device that is not a dm device is
 * refused with -ENOTBLK unless @opts->wrap is set and it is unmounted.
 */
int vss_storage_add(struct vss_ctx *ctx, const struct vss_storage_opts *opts);

/**
 * vss_storage_remove() - undo vss_storage_add().
 * @ctx:    the context (the lock must be held)
 * @volume: the volume
 * @force:  also delete its shadow copies (else -EBUSY while there are some)
 */
int vss_storage_remove(struct vss_ctx *ctx, const char *volume, bool force);

/*
 * dm-vss-clone: a volume enabled with provider "dm-vss-clone" becomes a
 * vss-clone over <name>-real with the store as its dest (the split mirror of
 * doc/dm-vss.rst); dest must be at least as large as the volume (else
 * -ENOSPC) and not in use (else -EBUSY).  Its shadow copy is the split
 * image: one at a time per clone.
 */

/* A clone as the kernel sees it now (vss_storage_clone_status()). */
struct vss_clone_status {
	char state[16];		/* syncing, mirrored, split, fail; "off" when the volume is
				 * not under its vss-clone table (after a reboot, while a
				 * shadow copy holds dest: see vss-storage(8)) */
	uint32_t region_sectors;
	uint64_t synced_regions;	/* dest holds what source holds (split: not written since) */
	uint64_t total_regions;
	/* zero: room for members added later, the size kept (libvsscore(3)) */
	uint64_t reserved[8];
};

/**
 * vss_storage_clone_status() - read the status of a dm-vss-clone volume.
 * @ctx:    the context (no lock needed)
 * @volume: the volume (any form vss_volume_resolve() takes)
 * @cs:     filled in
 *
 * Returns 0; -ENOENT/-ENODEV when the volume does not exist; -EPROTO for a
 * status line that does not parse.
 */
int vss_storage_clone_status(struct vss_ctx *ctx, const char *volume,
			     struct vss_clone_status *cs);

/**
 * vss_storage_resize() - resize a volume's differences area.
 * @ctx:       the context (the lock must be held)
 * @volume:    the volume
 * @max_bytes: dm-snapshot: bytes per cow area of the shadow copies made from
 *             now on (existing ones keep theirs), at most the store's size;
 *             dm-vss-cow: 0, the store grows into its (extended) device
 *
 * Returns 0; -ENOENT when the volume is not enabled; -EOPNOTSUPP for a
 * clone or for @max_bytes given for a dm-vss-cow store; -ENOSPC when
 * @max_bytes exceeds the store, or a dm-vss-cow store's device has no room
 * beyond it; -EINVAL when @max_bytes is 0 or below 1 MiB for dm-snapshot;
 * -ENOPKG when the module cannot grow a store; -EIO when it did not.
 */
int vss_storage_resize(struct vss_ctx *ctx, const char *volume, uint64_t max_bytes);

/* ---- writers ---- */

/* A writer as last seen (vss_writers_list()). */
struct vss_writer_info {
	char name[128];		/* from identify, else the executable's name */
	char path[256];		/* the executable, or the hook */
	char kind[16];		/* "writer" or "hook" */
	char instance[128];
	char usage[64];
	char state[40];		/* stable, waiting-for-freeze, ..., failed-at-freeze */
	char last_error[256];
	char metadata_json[4096]; /* the identify answer, as JSON text */
	uint64_t last_set_id;
	/* zero: room for members added later, the size kept (libvsscore(3)) */
	uint64_t reserved[8];
};

/**
 * vss_writers_list() - the writers and hooks installed, with their metadata.
 * @ctx:     the context
 * @identify: start each writer and ask identify (else: the last state seen)
 * @writers: set to a malloc'ed array (free with free())
 * @count:   set to its length
 */
int vss_writers_list(struct vss_ctx *ctx, bool identify,
		     struct vss_writer_info **writers, size_t *count);

/* ---- providers ---- */

struct vss_provider_info {
	char name[64];
	char kind[16];		/* "builtin" or "external" */
	char path[256];		/* external: the executable */
	bool available;		/* builtin: the kernel target is loaded */
	char detail[256];	/* target version, or why unavailable */
	/* zero: room for members added later, the size kept (libvsscore(3)) */
	uint64_t reserved[8];
};

/**
 * vss_providers_list() - the providers known to this system.
 * @ctx:       the context
 * @providers: set to a malloc'ed array (free with free())
 * @count:     set to its length
 */
int vss_providers_list(struct vss_ctx *ctx, struct vss_provider_info **providers,
		       size_t *count);

/**
 * vss_provider_for_volume() - the provider that would serve a volume.
 * @ctx:    the context
 * @volume: the volume
 * @name:   set to the provider's name (buffer of @size bytes)
 * @size:   its size
 *
 * Returns 0, or -ENOENT when none can (the volume is not enabled).
 */
int vss_provider_for_volume(struct vss_ctx *ctx, const char *volume, char *name, size_t size);

/* ---- sets ---- */

enum vss_context_kind {
	VSS_CONTEXT_PERSISTENT = 0,	/* kept until deleted */
	VSS_CONTEXT_BACKUP = 1,		/* deleted by backup-complete or vss_set_free() */
};

struct vss_set_opts {
	const char *provider;		/* NULL: the selection rule */
	const char *const *writers;	/* NULL-terminated names to include even if unrelated */
	const char *const *exclude_writers; /* NULL-terminated names to leave out */
	bool no_writers;		/* neither writers nor hooks */
	unsigned int freeze_timeout_ms;	/* writers' freeze to thaw; 0: 60000 */
	unsigned int commit_timeout_ms;	/* filesystems' freeze to thaw; 0: 10000 */
	const char *tag;
	enum vss_context_kind context;
	/* zero: room for members added later, the size kept (libvsscore(3)) */
	uint64_t reserved[8];
};

/**
 * vss_set_new() - start a set.
 * @ctx:  the context (the lock must be held)
 * @opts: options, copied; NULL for the defaults
 * @set:  set to the new set
 */
int vss_set_new(struct vss_ctx *ctx, const struct vss_set_opts *opts, struct vss_set **set);

/**
 * vss_set_add_volume() - add a volume to a set.
 * @set:    the set, not committed yet
 * @volume: any form vss_volume_resolve() takes
 *
 * Returns -EEXIST for a volume given twice, -ENOENT/-ENOTBLK as
 * vss_volume_resolve(), -ENXIO when no provider serves it.
 */
int vss_set_add_volume(struct vss_set *set, const char *volume);

/**
 * vss_set_gather_writers() - start the writers and ask them identify.
 * @set: the set
 *
 * Writers whose components do not live on the set's volumes are left out
 * unless named in the options.  Called by vss_set_commit() if not before.
 * Returns -ECANCELED if a writer fails identify.
 */
int vss_set_gather_writers(struct vss_set *set);

/**
 * vss_set_commit() - take the set: the whole sequence of DESIGN section 4.
 * @set: the set
 *
 * prepare-backup and prepare-snapshot, freeze the writers and run the
 * freeze hooks, FIFREEZE every mounted filesystem and suspend every volume,
 * each provider's commit, resume and FITHAW, thaw hooks and writers, check
 * that each writer held its writes, record the set.  A watchdog process
 * thaws and resumes everything if this process dies or the commit limit
 * passes.  On failure everything made is deleted, the writers are told
 * abort, and the error tells the phase (see the top of this header);
 * vss_set_failed_phase() names it.
 */
int vss_set_commit(struct vss_set *set);

/**
 * vss_set_failed_phase() - the phase a failed commit stopped in.
 * @set: the set
 *
 * Returns e.g. "freeze-writers", "freeze-filesystems", "commit", or NULL.
 */
const char *vss_set_failed_phase(struct vss_set *set);

/**
 * vss_set_retryable() - whether a failed commit may succeed if tried again.
 * @set: the set, after vss_set_commit() failed with -ECANCELED
 *
 * True when the writers that failed all answered "retryable": true, or when
 * every writer answered but one said its writes were not held during the
 * freeze.  False for a writer that hung, died, answered garbage or said
 * "retryable": false, for a hook's veto, and for every other failure.
 */
bool vss_set_retryable(struct vss_set *set);

/**
 * vss_set_id() - the set's id (0 before a successful commit).
 * @set: the set
 */
uint64_t vss_set_id(struct vss_set *set);

/**
 * vss_set_shadow_count() - the number of shadow copies of a committed set.
 * @set: the set
 */
size_t vss_set_shadow_count(struct vss_set *set);

/**
 * vss_set_shadow() - one shadow copy of a committed set.
 * @set:   the set
 * @i:     0 .. vss_set_shadow_count() - 1
 * @info:  filled in
 */
int vss_set_shadow(struct vss_set *set, size_t i, struct vss_shadow_info *info);

/**
 * vss_set_backup_complete() - tell the writers the backup is over.
 * @set:     a committed set
 * @success: whether the backup succeeded
 *
 * Sends backup-complete and stops the writers.  A set of a backup context
 * is deleted here.
 */
int vss_set_backup_complete(struct vss_set *set, bool success);

/**
 * vss_set_free() - release a set.
 * @set: the set, or NULL
 *
 * Stops any writer still running (abort if the set was not committed).  A
 * committed set of a backup context not yet released is deleted.
 */
void vss_set_free(struct vss_set *set);

/* ---- deleting ---- */

/**
 * vss_shadow_delete() - delete one shadow copy.
 * @ctx:       the context (the lock must be held)
 * @shadow_id: its id
 *
 * Removes its device, deletes it from its store, and drops it from the
 * catalog.  Returns -ENOENT for an unknown id, -EBUSY while it is mounted.
 */
int vss_shadow_delete(struct vss_ctx *ctx, uint64_t shadow_id);

/**
 * vss_set_delete() - delete every shadow copy of a set.
 * @ctx:    the context (the lock must be held)
 * @set_id: the set
 */
int vss_set_delete(struct vss_ctx *ctx, uint64_t set_id);

/**
 * vss_keep_latest() - retention: keep the newest @keep shadow copies of a volume.
 * @ctx:    the context (the lock must be held)
 * @volume: the volume
 * @keep:   how many to keep
 */
int vss_keep_latest(struct vss_ctx *ctx, const char *volume, unsigned int keep);

/* ---- reverting a volume to a shadow copy ---- */

struct vss_revert_opts {
	bool dry_run;		/* compute what would be copied, change nothing */
	bool delete_after;	/* delete the shadow copy once the revert is complete */
	/* zero: room for members added later, the size kept (libvsscore(3)) */
	uint64_t reserved[8];
};

/* What a revert found and did (filled in on failure too, as far as it got). */
struct vss_revert_result {
	uint64_t shadow_id;
	char volume[256];		/* /dev/mapper/NAME */
	char device[256];		/* the shadow copy read from */
	char provider[64];
	char mountpoint[256];		/* where the volume is mounted, when refused for it */
	uint32_t chunk_bytes;
	uint64_t changed_chunks;	/* chunks where the shadow copy differs: examined */
	uint64_t changed_bytes;
	uint64_t copied_chunks;		/* of those, written to the volume */
	uint64_t copied_bytes;
	uint64_t equal_chunks;		/* of those, equal already (an earlier run): skipped */
	uint64_t store_chunks_needed;	/* new copies the other shadow copies need */
	uint64_t store_chunks_free;
	bool partial;			/* the volume is partly reverted: run it again */
	bool deleted;			/* the shadow copy was deleted (delete_after) */
	/* zero: room for members added later, the size kept (libvsscore(3)) */
	uint64_t reserved[8];
};

/**
 * vss_shadow_revert() - return a volume to the content of one of its shadow copies.
 * @ctx:       the context (the lock must be held)
 * @shadow_id: the shadow copy
 * @opts:      options; NULL for the defaults
 * @res:       filled in; may be NULL
 *
 * dm-vss-cow only.  The chunks where the shadow copy differs from the
 * volume are read from the store's exception records (the volume suspended
 * for a stable view), then each is read from the shadow copy's device and
 * written to the volume through its vss-origin device, so that the other
 * shadow copies of the volume keep their content.  The volume must not be
 * mounted or open elsewhere (it is opened O_EXCL for the whole revert).
 * Repeating a revert is harmless: chunks already equal are skipped.
 *
 * Returns 0; -ENOENT for an unknown id; -EBUSY when the volume is mounted
 * (@res->mountpoint says where) or open; -EOPNOTSUPP for a provider other
 * than dm-vss-cow; -ENODEV when the shadow copy's device is not active;
 * -ESTALE when the kernel dropped or invalidated the shadow copy; -ENOSPC
 * when the store lacks room for the copies the other shadow copies need;
 * -EUCLEAN for a store with fatal findings; -EIO or -errno when reading or
 * writing failed, then @res->partial tells whether the volume was changed.
 */
int vss_shadow_revert(struct vss_ctx *ctx, uint64_t shadow_id,
		      const struct vss_revert_opts *opts, struct vss_revert_result *res);

struct vss_store;

/**
 * vss_shadow_changed_chunks() - the chunks where a snapshot of a store
 * differs from its origin.
 * @store:      a store after vss_store_check() (libvsscore-store.h)
 * @snap_id:    a VALID snapshot of it
 * @chunks:     set to a malloc'ed array of origin chunk numbers, ascending
 *              (free with free()); NULL when there are none
 * @count:      set to its length
 * @new_copies: if not NULL, set to how many of those chunks a write to the
 *              origin would copy into the store for the newest snapshot
 *
 * These are the origin chunks the snapshot reads from the store: those with
 * a copy whose epoch is at least the snapshot's.  Returns 0, -ENOENT when
 * @snap_id is not a VALID snapshot, -EINVAL before a check, -ENOMEM.
 */
int vss_shadow_changed_chunks(const struct vss_store *store, uint32_t snap_id,
			      uint64_t **chunks, size_t *count, uint64_t *new_copies);

/* ---- configuration: vss.conf (vss.conf(5)) ---- */

struct vss_config;

/* Longest duration vss_parse_duration_ms() takes: a day. */
#define VSS_DURATION_MAX_MS 86400000U

/**
 * vss_config_load() - read $VSS_CONF_DIR/vss.conf (default /etc/vss).
 * @cfg: set to the configuration; free with vss_config_free()
 *
 * A missing file is an empty configuration.  Every key is checked: an
 * unknown section or key, or a value of the wrong form, is logged as
 * "FILE:LINE: KEY: why" and fails with -EINVAL.  Returns 0, -EINVAL,
 * -ENOMEM, or -errno from reading the file.
 */
int vss_config_load(struct vss_ctx *ctx, struct vss_config **cfg);

/** vss_config_free() - release a configuration; NULL is allowed. */
void vss_config_free(struct vss_config *cfg);

/** vss_config_path() - the file it was read from (or would have been). */
const char *vss_config_path(const struct vss_config *cfg);

/**
 * vss_config_get() - the value of "section.key" as written, or NULL when
 * the file does not set it (or @cfg is NULL).
 */
const char *vss_config_get(const struct vss_config *cfg, const char *key);

/* The value of "section.key" as a duration, count or size, else @builtin. */
unsigned int vss_config_duration_ms(const struct vss_config *cfg, const char *key,
				    unsigned int builtin);
unsigned int vss_config_count(const struct vss_config *cfg, const char *key,
			      unsigned int builtin);
uint64_t vss_config_size(const struct vss_config *cfg, const char *key, uint64_t builtin);

/**
 * vss_parse_duration_ms() - "500ms", "30s", "30" (seconds), "2m", "1h".
 * Returns 0, -EINVAL for another form, -ERANGE above VSS_DURATION_MAX_MS.
 */
int vss_parse_duration_ms(const char *s, unsigned int *ms);

/**
 * vss_parse_size() - "4096", "64k", "1m", "2g", "1t" (powers of 1024;
 * "kib", "kb" also).  Returns 0, -EINVAL for another form, -ERANGE at 2^63 or more.
 */
int vss_parse_size(const char *s, uint64_t *bytes);

/* ---- what changed between shadow copies (vss-diff, vss-send) ---- */

struct vss_extent {
	uint64_t offset;		/* bytes into the volume */
	uint64_t length;		/* bytes */
};

struct vss_shadow_diff {
	uint64_t from_id;		/* 0: the whole image of to_id */
	uint64_t to_id;
	char volume[256];		/* /dev/mapper/NAME */
	char device[256];		/* TO's device: read the extents from it */
	char provider[64];
	uint32_t chunk_bytes;		/* granularity; 0 when not known (full image) */
	uint64_t volume_bytes;
	uint8_t volume_uuid[16];	/* the volume's identity, its store's uuid; zero if none */
	time_t from_created;		/* the instants the kernel recorded (dm-vss-cow) */
	time_t to_created;
	uint64_t changed_bytes;		/* sum of the extents' lengths */
	size_t nr_extents;
	struct vss_extent *extents;	/* ascending, adjacent ones merged */
	/* zero: room for members added later, the size kept (libvsscore(3)) */
	uint64_t reserved[8];
};

/**
 * vss_shadow_diff() - the byte extents where shadow copy @to_id may differ
 * from the older @from_id of the same volume, or with @from_id 0 the whole
 * image of @to_id.
 * @ctx:  the context (the lock is not needed)
 * @diff: set to the result; free with vss_shadow_diff_free()
 *
 * Never misses a changed byte; a chunk rewritten with the same bytes is
 * listed too (chunk granularity).  dm-vss-cow only, for two shadow copies:
 * read from the store's committed records while the volume stays in use.
 * A backup program reads the extents from @diff->device.
 *
 * Returns 0; -ENOENT for an unknown id; -EINVAL when both ids are the same;
 * -EXDEV for copies of different volumes; -ERANGE when @from_id was taken
 * after @to_id; -EOPNOTSUPP for another provider; -ESTALE when either was
 * deleted, dropped or invalidated in the store (before or during the call);
 * -EUCLEAN for a store with fatal findings; -EBUSY while another command
 * creates or deletes one of them; -errno from reading the store.
 */
int vss_shadow_diff(struct vss_ctx *ctx, uint64_t from_id, uint64_t to_id,
		    struct vss_shadow_diff **diff);

/** vss_shadow_diff_free() - release a vss_shadow_diff(); NULL is allowed. */
void vss_shadow_diff_free(struct vss_shadow_diff *diff);

/* ---- restoring a writer's component (vss-restore) ---- */

struct vss_restore_opts {
	const char *component;		/* "WRITER/COMPONENT", as the set recorded it */
	const char *to;			/* copy under this directory (empty or new), keeping
					 * the full paths, with no writer event; NULL: in place */
	unsigned int timeout_ms;	/* for each writer answer; 0: 300000 */
	/* zero: room for members added later, the size kept (libvsscore(3)) */
	uint64_t reserved[8];
};

/* What a restore did; release with vss_restore_result_free(). */
struct vss_restore_result {
	uint64_t shadow_id;
	uint64_t set_id;
	char writer[128];
	char component[128];
	char **files;			/* the paths written (live, or under opts->to) */
	size_t nr_files;
	char **removed;			/* live files the copy did not hold: removed */
	size_t nr_removed;
	bool pre_restore;		/* the writer answered pre-restore */
	bool post_restore;		/* the writer answered post-restore */
	/* zero: room for members added later, the size kept (libvsscore(3)) */
	uint64_t reserved[8];
};

/**
 * vss_restore_components() - the components a restore from a shadow copy can name.
 * @ctx:       the context (no lock needed)
 * @shadow_id: a shadow copy of the set
 * @names:     set to a malloc'ed array of "WRITER/COMPONENT" strings (free
 *             with vss_restore_names_free()); NULL when the set has none
 * @count:     set to its length
 *
 * Returns 0, or -ENOENT for an unknown id (logged).
 */
int vss_restore_components(struct vss_ctx *ctx, uint64_t shadow_id, char ***names,
			   size_t *count);

/** vss_restore_names_free() - release vss_restore_components()'s array. */
void vss_restore_names_free(char **names, size_t count);

/**
 * vss_restore_component() - restore one writer component from a shadow copy set.
 * @ctx:       the context (the lock must be held)
 * @shadow_id: any shadow copy of the set
 * @opts:      the component, and where to
 * @res:       filled in; may be NULL
 *
 * The component's files (as the set recorded them) are read from the set's
 * copies, exposed read-only under the run directory for the time of the
 * call.  In place, the component's writer is sent pre-restore (a refusal
 * changes nothing), each file is copied beside itself, synced, and swapped
 * in by two renames, the replaced files are removed, and the writer is sent
 * post-restore; a journal in the state directory lets
 * vss_restore_recover() finish or undo a restore that died at any step.
 * A file the copy does not hold is removed.  With @opts->to the files are
 * copied under that directory and no writer is told anything.
 *
 * Returns 0; -ENOENT for an unknown id or component, or a file on none of
 * the set's volumes; -EINVAL for a component not written WRITER/COMPONENT
 * or a mount point to replace in place; -EEXIST when @opts->to is not
 * empty or a file's aside name exists; -ECANCELED when the writer refused
 * or failed pre-restore (nothing changed) or post-restore (the files are
 * restored); as vss_shadow_expose() for a copy that cannot be exposed;
 * -errno from copying.
 */
int vss_restore_component(struct vss_ctx *ctx, uint64_t shadow_id,
			  const struct vss_restore_opts *opts, struct vss_restore_result *res);

/** vss_restore_result_free() - release the lists of a vss_restore_result. */
void vss_restore_result_free(struct vss_restore_result *res);

/**
 * vss_restore_recover() - finish or undo the restores that were interrupted.
 * @ctx:   the context (the lock must be held)
 * @count: if not NULL, set to how many were recovered
 *
 * For each journal left in the state directory: a restore that had not
 * swapped a file is undone (its staging copies removed), one whose copies
 * were complete is finished; the writer is sent post-restore and the
 * copies are unexposed.  Called by vss_restore_component() first.
 * Returns 0 or the first error (that journal is kept).
 */
int vss_restore_recover(struct vss_ctx *ctx, unsigned int *count);

/* ---- filesystems (exported for tools and tests) ---- */

/**
 * vss_fs_freeze() - FIFREEZE the filesystem mounted at a path.
 * @mountpoint: the mount point
 *
 * Returns 0, -EBUSY when already frozen, -EOPNOTSUPP, or -errno.
 */
int vss_fs_freeze(const char *mountpoint);

/**
 * vss_fs_thaw() - FITHAW the filesystem mounted at a path.
 * @mountpoint: the mount point
 *
 * Returns 0, -EINVAL when it was not frozen, or -errno.
 */
int vss_fs_thaw(const char *mountpoint);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
