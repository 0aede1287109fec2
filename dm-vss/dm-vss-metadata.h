/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-vss: the copy-on-write store (differences area) behind an opaque
 * handle: the on-disk superblock and exception blocks, and the in-core
 * index of the copied chunks.
 *
 * Locking: the caller serialises every call that changes the store's
 * metadata (vss_meta_*) with its own mutex.  The index (vss_index_*) is
 * read and changed under the caller's spinlock; only vss_index_reserve()
 * sleeps and must be called with the mutex held and the spinlock not held.
 */
#ifndef DM_VSS_METADATA_H
#define DM_VSS_METADATA_H

#include <linux/types.h>
#include <linux/blkdev.h>
#include <linux/completion.h>

#include "vss-index.h"
#include "vss-ondisk.h"

struct vss_meta;

/* The in-core view of one snapshot table slot. */
struct vss_snap {
	u32 id;
	u32 state;		/* VSS_SNAP_* */
	u32 epoch;
	u64 ctime;
	u64 copied;		/* chunks this snapshot reads from the store */
};

/* Geometry and state as loaded or formatted. */
struct vss_meta_info {
	u32 chunk_sectors;
	u64 origin_sectors;
	u64 origin_chunks;
	u64 data_chunks;
	u64 exc_blocks;
	bool formatted_now;
};

int vss_meta_open(struct block_device *store_bdev, sector_t store_sectors,
		  sector_t origin_sectors, u32 format_chunk_sectors,
		  struct vss_meta **result, struct vss_index *index,
		  unsigned long **alloc_bitmap, char **error);
void vss_meta_close(struct vss_meta *meta);
const struct vss_meta_info *vss_meta_info(struct vss_meta *meta);

/* The snapshot table: VSS_MAX_SNAPS slots, state VSS_SNAP_FREE if unused. */
struct vss_snap *vss_meta_snaps(struct vss_meta *meta);
u32 vss_meta_next_epoch(struct vss_meta *meta);
void vss_meta_set_last_epoch(struct vss_meta *meta, u32 epoch);

/*
 * A commit: vss_meta_set_record() for each copy, vss_meta_write_records()
 * while the copies are written, and once both are done vss_meta_sync(): one
 * flush makes the batch durable (a record whose copy a crash lost is found
 * by data_csum at the next load), and now and then a superblock records the
 * commit as synced so a load checks only the copies of later ones.
 */
u32 vss_copy_crc(const void *data, size_t len);

/* Waits for a number of asynchronous dm_io requests. */
struct vss_io_wait {
	atomic_t pending;
	atomic_t errors;
	struct completion done;
};

void vss_io_wait_init(struct vss_io_wait *w);
/* The dm_io notify function: .notify.context = the vss_io_wait, counted first. */
void vss_io_wait_one(unsigned long error, void *context);
/* Waits for every counted request; -EIO if any failed. */
int vss_io_wait_all(struct vss_io_wait *w);

struct dm_io_request;
/* Point req at a kvmalloc()ed buffer (kmalloc or vmalloc memory). */
void vss_io_mem(struct dm_io_request *req, void *buf);
/* Record in exception block d that data chunk d holds ochunk at epoch. */
int vss_meta_set_record(struct vss_meta *meta, u64 data, u64 ochunk, u32 epoch,
			u32 copy_crc);
/* Write the exception blocks changed by vss_meta_set_record() (no flush). */
int vss_meta_write_records(struct vss_meta *meta);
/* Flush; the commit is done.  records/bytes: its copies. */
int vss_meta_sync(struct vss_meta *meta, u32 records, u64 bytes);
/* Record every commit so far as synced, if one is not (a superblock write). */
int vss_meta_checkpoint(struct vss_meta *meta);
/* Drop record changes not committed (after a failure). */
void vss_meta_discard(struct vss_meta *meta);
/* Write the snapshot table to the older superblock copy and flush. */
int vss_meta_write_sb(struct vss_meta *meta);
/*
 * The data chunks the store would have if it used store_sectors (0 if that
 * is less than it uses now), and growing it to that: new exception blocks
 * first, then both superblock copies.  Called with no copy in flight;
 * -EFBIG if it would pass 2^32 data chunks.
 */
u64 vss_meta_grown_data_chunks(struct vss_meta *meta, sector_t store_sectors);
int vss_meta_grow_blocks(struct vss_meta *meta, u64 old_data, u64 data);
int vss_meta_grow_commit(struct vss_meta *meta, u64 old_data, sector_t store_sectors, u64 data);
/* Flush the store's write cache. */
int vss_meta_flush(struct vss_meta *meta);
/* Bytes of the superblock and exception blocks in use / total (status). */
void vss_meta_usage(struct vss_meta *meta, u64 data_used,
		    u64 *used_blocks, u64 *total_blocks);

/* Index. */
int vss_index_init(struct vss_index *index, u32 size);
void vss_index_free(struct vss_index *index);
int vss_index_reserve(struct vss_index *index, u32 more, spinlock_t *lock);
size_t vss_index_bytes(const struct vss_index *index);

/* How many of the sorted live[] epochs are <= x. */
static inline u32 vss_live_upto(const u32 *live, u32 nr_live, u32 x)
{
	u32 a = 0, b = nr_live;

	while (a < b) {		/* first live epoch > x */
		u32 m = a + (b - a) / 2;

		if (live[m] > x)
			b = m;
		else
			a = m + 1;
	}
	return a;
}

/* True if a valid epoch lies in (lo, hi]; live[] is sorted ascending. */
static inline bool vss_range_live(const u32 *live, u32 nr_live, u32 lo, u32 hi)
{
	u32 a = vss_live_upto(live, nr_live, lo);

	return a < nr_live && live[a] <= hi;
}

#endif
