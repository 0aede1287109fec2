/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvsscore: reader, offline checker and writer of a dm-vss copy-on-write
 * store (differences area).  The format is dm-vss/vss-ondisk.h, described in
 * doc/on-disk-format.rst.
 *
 * The library never prints and never exits.  Functions return 0 or a
 * negative errno.  Findings about the store are handed to a callback as they
 * are made; diagnostics go to a log callback.
 */
#ifndef LIBVSSCORE_STORE_H
#define LIBVSSCORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* what this header declares is the library's interface; the rest is hidden */
#pragma GCC visibility push(default)

struct vss_store;

/* ---- findings and logging ---- */

enum vss_store_severity {
	VSS_STORE_NONFATAL = 0,	/* dm-vss loads the store and serves it correctly */
	VSS_STORE_FATAL = 1,	/* dm-vss refuses the store, or a snapshot would be wrong */
};

struct vss_store_finding {
	enum vss_store_severity severity;
	/*
	 * Stable identifier of the kind of finding, e.g. "exc-bad-csum".
	 * The list is in man/vss-check.8; names are never reused.
	 */
	const char *name;
	/* What and where, e.g. "exception block 37 (byte offset 151552): bad checksum". */
	const char *message;
};

enum vss_store_log_level {
	VSS_STORE_LOG_DEBUG = 0,
	VSS_STORE_LOG_INFO = 1,
	VSS_STORE_LOG_ERROR = 2,
};

struct vss_store_callbacks {
	/* Called once per finding, during vss_store_load() and vss_store_check(). */
	void (*finding)(const struct vss_store_finding *finding, void *arg);
	/* Progress and diagnostics; level is enum vss_store_log_level. */
	void (*log)(int level, const char *message, void *arg);
	void *arg;
};

/* ---- opening ---- */

#define VSS_STORE_WRITE	0x1U	/* open read-write (the writer functions below) */
#define VSS_STORE_EXCL	0x2U	/* block device: O_EXCL, fails with -EBUSY while dm holds it */
/*
 * The kernel is using the store: read around the page cache (O_DIRECT),
 * read an exception block that does not verify again for up to 100 ms (a
 * write in progress), and skip records of an epoch after the superblock's
 * last_epoch (commits made after it was read).  Read-only.
 */
#define VSS_STORE_LIVE	0x4U

/**
 * vss_store_open() - open the store on a block device or a regular file.
 * @path:  the device or file
 * @flags: VSS_STORE_* flags
 * @cb:    callbacks, copied; may be NULL
 * @store: set to the new handle on success
 *
 * Only opens the device and learns its size; nothing is read yet.
 * Returns 0, or -errno from open(2)/fstat(2)/ioctl(BLKGETSIZE64), -ENOMEM.
 */
int vss_store_open(const char *path, unsigned int flags,
		   const struct vss_store_callbacks *cb, struct vss_store **store);

/**
 * vss_store_open_image() - a store held in memory (tests, fuzzing).
 * @image: the store's bytes; borrowed, must outlive the handle; written
 *         to only with VSS_STORE_WRITE
 * @size:  its length in bytes
 *
 * Otherwise as vss_store_open().
 */
int vss_store_open_image(void *image, size_t size, unsigned int flags,
			 const struct vss_store_callbacks *cb, struct vss_store **store);

/** vss_store_close() - release the handle; NULL is allowed. */
void vss_store_close(struct vss_store *store);

/* ---- reading and checking ---- */

/**
 * vss_store_expect_origin() - have the checks compare the superblock's
 * origin size with the origin the store is meant for, as dm-vss does when
 * a table is loaded (finding "sb-origin-size").  0, the default, skips
 * the comparison.  Returns 0.
 */
int vss_store_expect_origin(struct vss_store *store, uint64_t origin_sectors);

/**
 * vss_store_load() - read and verify both superblock copies, pick the valid
 * one with the higher sequence number, and check it and its snapshot table.
 *
 * Findings are reported through the callback.  Returns 0 when the
 * superblocks were examined, whatever was found (see vss_store_get_info()
 * for the outcome), or -ENOMEM.  Calling it again re-reads the store.
 */
int vss_store_load(struct vss_store *store);

/**
 * vss_store_check() - vss_store_load(), then read every exception block of
 * the layout, verify magic, checksum and block number, check every record,
 * and derive which data chunks serve which snapshots.
 *
 * Read errors are findings, not failures.  Returns 0 when the check ran to
 * the end, -ENOMEM when it could not.
 */
int vss_store_check(struct vss_store *store);

enum vss_store_state {
	VSS_STORE_UNREAD = 0,		/* neither load nor check has run */
	VSS_STORE_UNFORMATTED,		/* first 4 KiB all zero: dm-vss formats it at load */
	VSS_STORE_NO_SUPERBLOCK,	/* no valid superblock copy */
	VSS_STORE_LOADED,		/* a superblock copy was chosen */
};

struct vss_store_info {
	enum vss_store_state state;
	uint64_t device_bytes;

	/* Both copies: 'A' at byte 0, 'B' at byte 4096. */
	bool sb_valid[2];
	uint64_t sb_seq[2];		/* meaningful when sb_valid */
	char sb_copy;			/* 'A' or 'B' when LOADED, else 0 */

	/* The chosen superblock (LOADED). */
	uint32_t version;
	uint32_t flags;
	uint64_t seq;
	uint64_t origin_sectors;
	uint64_t store_chunks;
	uint32_t chunk_sectors;
	uint32_t nr_snaps;
	uint32_t last_epoch;
	uint32_t synced_seq;		/* version 2: commits up to it are durable */
	uint64_t data_chunks;
	uint8_t uuid[16];

	/* Derived geometry (LOADED and chunk size valid). */
	bool geometry_valid;
	uint64_t header_chunks;
	uint64_t group_data_chunks;	/* data chunks per group */
	uint64_t origin_chunks;
	uint64_t exc_blocks;		/* exception blocks of the layout */

	/* Results of vss_store_check(). */
	bool checked;			/* records were scanned */
	uint64_t exc_blocks_bad;	/* unreadable or failing verification */
	uint64_t records;		/* non-empty records accepted */
	uint64_t used_chunks;		/* records serving at least one VALID snapshot */
	uint64_t free_chunks;		/* data_chunks - used_chunks */
	uint64_t free_records;		/* non-empty records serving none: free space */
	uint64_t unsynced_records;	/* of commits after synced_seq: copies checked */
	uint64_t lost_records;		/* of those, whose copies a crash lost (not taken) */

	unsigned int nr_fatal;
	unsigned int nr_nonfatal;
};

/** vss_store_get_info() - what load/check found.  Returns 0. */
int vss_store_get_info(const struct vss_store *store, struct vss_store_info *info);

struct vss_store_snap {
	unsigned int slot;		/* index in the snapshot table */
	uint32_t snap_id;
	uint32_t state;			/* VSS_SNAP_* of vss-ondisk.h */
	uint32_t epoch;
	uint64_t ctime;			/* seconds since the Epoch, UTC */
	uint64_t chunks;		/* chunks it reads from the store (VALID, after check) */
};

/** vss_store_snap_count() - snapshot table slots in use (state != FREE). */
unsigned int vss_store_snap_count(const struct vss_store *store);

/**
 * vss_store_snap_get() - the index-th slot in use, in slot order.
 * Returns 0, or -ENOENT if index >= vss_store_snap_count().
 */
int vss_store_snap_get(const struct vss_store *store, unsigned int index,
		       struct vss_store_snap *snap);

/** vss_store_snap_state_name() - "free", "valid", "invalid", "dropped" or "unknown". */
const char *vss_store_snap_state_name(uint32_t state);

/**
 * vss_store_lookup() - where a snapshot reads an origin chunk from.
 * @snap_id:      a VALID snapshot
 * @origin_chunk: chunk number on the origin
 * @data_chunk:   set to the store's data chunk holding it
 *
 * Needs vss_store_check().  Returns 0 when the snapshot reads the chunk
 * from the store, -ENODATA when it reads the origin, -ENOENT when there is
 * no VALID snapshot snap_id, -EINVAL before a check or for a chunk beyond
 * the origin.
 */
int vss_store_lookup(const struct vss_store *store, uint32_t snap_id,
		     uint64_t origin_chunk, uint64_t *data_chunk);

/**
 * vss_store_diff() - the origin chunks where snapshot to_id may differ
 * from the older snapshot from_id: those written after from_id was taken
 * and before to_id was.  Never misses a changed chunk; a chunk rewritten
 * with the same bytes is listed too.
 * @chunks: set to a malloc'ed array of origin chunk numbers, ascending
 *          (free with free()); NULL when there are none
 * @count:  set to its length
 *
 * Needs vss_store_check().  Returns 0, -ENOENT when either is not a VALID
 * snapshot, -ERANGE when from_id is not older than to_id, -EINVAL before a
 * check, -ENOMEM.
 */
int vss_store_diff(const struct vss_store *store, uint32_t from_id, uint32_t to_id,
		   uint64_t **chunks, size_t *count);

/**
 * vss_store_data_offset() - byte offset in the store of data chunk d, per
 * the loaded geometry.  Returns 0 or -EINVAL.
 */
int vss_store_data_offset(const struct vss_store *store, uint64_t data_chunk,
			  uint64_t *offset);

/* ---- checksums ---- */

/** vss_store_block_csum() - checksum of a 4 KiB metadata block (bytes 8..4095). */
uint32_t vss_store_block_csum(const void *block);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
