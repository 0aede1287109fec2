/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-vss: the in-memory copy-on-write store shared by the vss-origin and
 * vss-snap targets, and the copy engine (dm-vss-cow.c).  Each field's
 * comment names the lock that protects it.
 */
#ifndef DM_VSS_COW_H
#define DM_VSS_COW_H

#include <linux/blkdev.h>
#include <linux/device-mapper.h>
#include <linux/dm-io.h>
#include <linux/hash.h>
#include <linux/list.h>
#include <linux/mempool.h>
#include <linux/mutex.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "dm-vss.h"
#include "dm-vss-metadata.h"

#define VSS_PENDING_BITS	10
#define VSS_TRACK_BITS		10
#define VSS_MIN_PENDING		256
#define VSS_MIN_BUFFERS		4
/* chunk buffers held at once: at most 64 MiB of them, and 2048 copies */
#define VSS_BUF_BYTES_MAX	(64U << 20)
#define VSS_MAX_COPIES		2048
#define VSS_NO_CHUNK		U32_MAX
#define VSS_DISCARD_CHUNKS	64

enum vss_mode { VSS_MODE_RW, VSS_MODE_FAIL };

struct vss_store;

/* A chunk being copied, with the origin writes waiting for it. */
struct vss_pending {
	struct hlist_node node;		/* store->pending */
	struct list_head list;		/* store->copied, then store->committed */
	struct vss_store *store;
	u32 ochunk;
	u32 data;
	u32 epoch;
	int error;
	void *buf;			/* the chunk as read, until committed */
	struct bio_list bios;
};

/* Per-bio data of vss-snap. */
struct vss_snap_io {
	struct hlist_node node;		/* store->tracked(_runs), when reading the origin */
	u32 ochunk;
	u32 nr_chunks;			/* of the origin read: ochunk.. */
	u8 kind;
};

enum { VSS_IO_NONE, VSS_IO_ORIGIN, VSS_IO_STORE };

struct vss_store {
	struct list_head list;		/* vss_stores; under vss_stores_lock */
	int refs;			/* under vss_stores_lock */
	int nr_origins;			/* under vss_stores_lock */
	struct mapped_device *md;	/* of the origin tables; under vss_stores_lock */

	struct mutex event_lock;
	struct dm_target *origin_ti;	/* the active origin; under event_lock */

	dev_t store_dev;
	dev_t origin_dev;
	struct block_device *store_bdev;
	struct block_device *origin_bdev;
	sector_t origin_sectors;
	u32 chunk_sectors;
	u32 chunk_shift;
	u64 data_chunks;

	/* Serialises metadata changes: commits, create, delete, overflow. */
	struct mutex meta_lock;
	/* Keeps two grows apart (the "grow" message and a resume); before meta_lock. */
	struct mutex grow_lock;
	struct vss_meta *meta;
	struct vss_snap *snaps;		/* entries change under both locks */

	spinlock_t lock;		/* protects everything below */
	struct vss_index index;
	unsigned long *bitmap;		/* data chunks in use or being copied */
	u64 data_used;
	u64 alloc_cursor;
	u32 live[VSS_MAX_SNAPS];	/* epochs of valid snapshots, ascending */
	u32 nr_live;
	struct hlist_head pending[1 << VSS_PENDING_BITS];
	struct hlist_head tracked[1 << VSS_TRACK_BITS];	/* one-chunk reads */
	struct hlist_head tracked_runs;	/* origin reads of several chunks */
	struct bio_list deferred;
	struct list_head copied;
	u32 nr_copying;			/* copies reading, not finished */
	u32 nr_copied;			/* on copied */
	/*
	 * Chunk buffers held, by copies reading or waiting for their commit:
	 * at most buf_limit.  A registered copy that cannot have one at once
	 * waits on buf_wait holding nothing (it is not in nr_copying, so the
	 * commits that free buffers go on), and starts when one is freed.
	 */
	u32 nr_bufs;
	u32 buf_limit;
	struct list_head buf_wait;
	struct list_head committed;
	enum vss_mode mode;
	/*
	 * In fail mode: the superblock saying every snapshot is invalid is
	 * on disk.  Until it is, origin writes go through the worker, which
	 * tries again to write it first, so that a store that fails and then
	 * heals cannot come back with its stale snapshots valid.
	 */
	bool fail_durable;
	/*
	 * After a failed try at that superblock, the next waits fail_backoff
	 * jiffies (doubling, up to VSS_FAIL_BACKOFF_MAX), until fail_retry_at;
	 * meanwhile origin writes go straight down, not held for the worker:
	 * a store that hangs its I/O holds the origin once per back-off, not
	 * on every write.  Changed under lock.
	 */
	unsigned long fail_retry_at;
	unsigned long fail_backoff;
	bool overflow_invalidate;
	unsigned int usage_level;

	/*
	 * Reads of each slot's snapshot in flight, of the store or the
	 * origin: a retired snapshot's space is freed, and its epoch leaves
	 * live[], only once its own reads are done.  draining[] counts the
	 * retirements of a slot waiting for that (the slot is not reused
	 * meanwhile); it changes under meta_lock and lock.
	 */
	atomic_t snap_reads[VSS_MAX_SNAPS];
	u8 draining[VSS_MAX_SNAPS];
	wait_queue_head_t reads_wait;

	struct workqueue_struct *wq;
	struct work_struct work;
	struct work_struct event_work;
	struct workqueue_struct *commit_wq;
	struct work_struct commit_work;
	struct dm_io_client *io;
	mempool_t pending_pool;
	mempool_t buf_pool;		/* chunk buffers */
};

struct vss_origin {
	struct dm_target *ti;
	struct dm_dev *origin;
	struct dm_dev *store_dev;
	struct vss_store *store;
	u32 chunk_sectors_arg;		/* 0 if not given */
	bool overflow_invalidate;
};

struct vss_snap_c {
	struct dm_dev *origin;
	struct dm_dev *store_dev;
	struct vss_store *store;
	u32 id;
	u32 slot;
	u32 epoch;
};

/*
 * The registry of stores and the store's life (dm-vss-cow.c): the
 * functions named __vss_store_* run under vss_stores_lock (a load drops it
 * while it reads the store, and a lookup while it waits for such a load).
 */
extern struct mutex vss_stores_lock;
struct vss_store *__vss_store_find(dev_t store_dev);
struct vss_store *__vss_store_find_loaded(dev_t store_dev);
struct vss_store *__vss_store_load(struct dm_target *ti, struct dm_dev *origin,
				   struct dm_dev *store_dev, u32 chunk_sectors);
void __vss_store_put(struct vss_store *s);

/* Under store->lock (dm-vss-cow.c, and inline here for the map paths). */
struct vss_snap *__vss_snap_by_id(struct vss_store *s, u32 id);
u32 __vss_alloc_data(struct vss_store *s);
void __vss_pending_add(struct vss_store *s, struct vss_pending *pe,
		       u32 ochunk, u32 d, struct bio *bio);
unsigned int vss_usage_level(struct vss_store *s);

static inline struct vss_pending *__vss_pending_find(struct vss_store *s, u32 ochunk)
{
	struct vss_pending *pe;

	hlist_for_each_entry(pe, &s->pending[hash_32(ochunk, VSS_PENDING_BITS)], node)
		if (pe->ochunk == ochunk)
			return pe;
	return NULL;
}

/* Does a write to ochunk need a copy first? */
static inline bool __vss_needs_copy(struct vss_store *s, u32 ochunk)
{
	if (s->mode != VSS_MODE_RW || !s->nr_live)
		return false;
	return vss_index_latest(&s->index, ochunk) < s->live[s->nr_live - 1];
}

/* The copy engine and the store's failure and retirement (dm-vss-cow.c). */
void vss_wake(struct vss_store *s);
void vss_start_copy(struct vss_store *s, struct vss_pending *pe);
void vss_fail(struct vss_store *s, const char *why);
void vss_fail_make_durable(struct vss_store *s, bool now);
bool __vss_fail_backing_off(struct vss_store *s);
int vss_retire(struct vss_store *s, struct vss_snap **victims, u32 n, u32 new_state);
u32 vss_bio_chunks(struct vss_store *s, struct bio *bio, sector_t sector);
sector_t vss_run_sectors(struct vss_store *s, sector_t sector, u32 n);

/* The targets (dm-vss-origin.c, dm-vss-snap.c). */
extern struct target_type vss_origin_target;
extern struct target_type vss_snap_target;

#endif
