// SPDX-License-Identifier: GPL-2.0
/*
 * dm-vss: the copy-on-write store shared by the vss-origin and vss-snap
 * targets (dm-vss-origin.c, dm-vss-snap.c), the registry of stores and the
 * copy engine.
 *
 * Every snapshot of an origin shares one store.  Each snapshot gets an epoch
 * (a creation sequence number).  The first write to an origin chunk after
 * the newest snapshot copies the chunk once into the store, recording the
 * newest epoch; that copy serves every snapshot taken since the previous
 * copy of the chunk.  A read of a snapshot of epoch e at chunk c uses the
 * copy of c with the smallest epoch >= e, or the origin if there is none.
 *
 * The copy engine: an origin write that needs a copy reads the chunk into
 * a buffer (a worker starts that when it cannot be done at once; a copy
 * waits in line, holding nothing, while buf_limit buffers are held or none
 * can be had without waiting for memory, and a commit starts it); read
 * chunks are committed in batches, a batch once no read is still running:
 * the copies and their exception records (each with the commit's sequence
 * number and the copy's checksum) are written at once, one flush makes
 * them durable, and only then are the held writes sent to the origin.  A
 * crash between the writes and the flush may leave a record without its
 * copy; no origin write depended on it, and the next load drops it by its
 * checksum (vss-ondisk.h).
 */
#include <linux/blkdev.h>
#include <linux/device-mapper.h>
#include <linux/dm-io.h>
#include <linux/hash.h>
#include <linux/list.h>
#include <linux/log2.h>
#include <linux/mempool.h>
#include <linux/module.h>
#include <linux/random.h>
#include <linux/sched/clock.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "dm-vss.h"
#include "dm-vss-metadata.h"
#include "dm-vss-cow.h"

static LIST_HEAD(vss_stores);
DEFINE_MUTEX(vss_stores_lock);
static struct kmem_cache *vss_pending_cache;

static const unsigned int vss_usage_thresholds[] = { 50, 75, 90, 100 };

/* ---- store object ---- */

/*
 * Chunk buffers: the reserve is allocated at table load, where kvmalloc()
 * may use vmalloc; later ones come from kmalloc() or the reserve.
 */
#ifdef VSS_FAULT_INJECT
/*
 * Test builds only (make module-faults): chunk buffer allocations fail at
 * the given rate, in percent, so that the copy engine runs on its
 * mempool's reserve as under memory pressure; buf_peak is the most chunk
 * buffers held at once since the module was loaded.
 */
static unsigned int fault_buf_alloc_pct;
module_param(fault_buf_alloc_pct, uint, 0644);
MODULE_PARM_DESC(fault_buf_alloc_pct, "test builds: percent of chunk buffer allocations that fail");
static unsigned int buf_peak;
module_param(buf_peak, uint, 0644);
MODULE_PARM_DESC(buf_peak, "test builds: the most chunk buffers held at once");
/* the longest hold of a store's lock by the index's long operations, and
 * the longest of those operations in all (a delete's walk, a growth) */
static unsigned long lock_hold_max_ns, index_walk_max_ns;
module_param(lock_hold_max_ns, ulong, 0644);
MODULE_PARM_DESC(lock_hold_max_ns, "test builds: longest lock hold of an index walk or growth");
module_param(index_walk_max_ns, ulong, 0644);
MODULE_PARM_DESC(index_walk_max_ns, "test builds: longest index walk or growth in all");

void vss_fault_note_hold(u64 ns)
{
	if (ns > READ_ONCE(lock_hold_max_ns))
		WRITE_ONCE(lock_hold_max_ns, ns);
}

void vss_fault_note_walk(u64 ns)
{
	if (ns > READ_ONCE(index_walk_max_ns))
		WRITE_ONCE(index_walk_max_ns, ns);
}
#endif

static void *vss_buf_alloc(gfp_t gfp, void *size)
{
#ifdef VSS_FAULT_INJECT
	unsigned int pct = READ_ONCE(fault_buf_alloc_pct);

	if (pct && get_random_u32() % 100 < pct)
		return NULL;
#endif
	return kvmalloc((size_t)size, gfp);
}

static void vss_buf_free(void *buf, void *size)
{
	kvfree(buf);
}

struct vss_store *__vss_store_find(dev_t store_dev)
{
	struct vss_store *s;

	list_for_each_entry(s, &vss_stores, list)
		if (s->store_dev == store_dev)
			return s;
	return NULL;
}

/*
 * Stores being loaded.  A load reads the store's records, or formats a new
 * store by writing every exception block: it runs without vss_stores_lock,
 * so that the tables of other stores load meanwhile, and a table of the
 * same store waits for it here instead (then finds the store, or loads it
 * itself if that load failed).
 */
struct vss_store_load {
	struct list_head list;		/* vss_loads */
	dev_t store_dev;
};

static LIST_HEAD(vss_loads);		/* under vss_stores_lock */
static unsigned long vss_loads_ended;	/* under vss_stores_lock; waiters read it */
static DECLARE_WAIT_QUEUE_HEAD(vss_loads_wait);

static bool __vss_store_loading(dev_t store_dev)
{
	struct vss_store_load *load;

	list_for_each_entry(load, &vss_loads, list)
		if (load->store_dev == store_dev)
			return true;
	return false;
}

/*
 * The store of store_dev, or NULL if it is not loaded; while another table
 * loads it, waits with vss_stores_lock dropped.  Called with it held.
 */
struct vss_store *__vss_store_find_loaded(dev_t store_dev)
{
	struct vss_store *s;
	unsigned long ended;

	while (!(s = __vss_store_find(store_dev)) && __vss_store_loading(store_dev)) {
		ended = vss_loads_ended;
		mutex_unlock(&vss_stores_lock);
		wait_event(vss_loads_wait, READ_ONCE(vss_loads_ended) != ended);
		mutex_lock(&vss_stores_lock);
	}
	return s;
}

static void vss_raise_event(struct vss_store *s)
{
	queue_work(s->wq, &s->event_work);
}

static void vss_event_work(struct work_struct *w)
{
	struct vss_store *s = container_of(w, struct vss_store, event_work);

	mutex_lock(&s->event_lock);
	if (s->origin_ti)
		dm_table_event(s->origin_ti->table);
	mutex_unlock(&s->event_lock);
}

static void vss_worker(struct work_struct *w);
static void vss_commit_work(struct work_struct *w);

void vss_wake(struct vss_store *s)
{
	queue_work(s->wq, &s->work);
}

/* Reads, or formats, the store: without vss_stores_lock (__vss_store_load). */
static struct vss_store *vss_store_create(struct dm_target *ti, struct dm_dev *origin,
					  struct dm_dev *store_dev, u32 chunk_sectors)
{
	struct vss_store *s;
	char *error = NULL;
	int r;

	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s) {
		ti->error = "Cannot allocate store";
		return ERR_PTR(-ENOMEM);
	}
	s->store_dev = store_dev->bdev->bd_dev;
	s->origin_dev = origin->bdev->bd_dev;
	s->store_bdev = store_dev->bdev;
	s->origin_bdev = origin->bdev;
	s->origin_sectors = ti->len;
	mutex_init(&s->meta_lock);
	mutex_init(&s->grow_lock);
	mutex_init(&s->event_lock);
	spin_lock_init(&s->lock);
	bio_list_init(&s->deferred);
	INIT_LIST_HEAD(&s->copied);
	INIT_LIST_HEAD(&s->buf_wait);
	INIT_LIST_HEAD(&s->committed);
	init_waitqueue_head(&s->reads_wait);
	INIT_WORK(&s->work, vss_worker);
	INIT_WORK(&s->commit_work, vss_commit_work);
	INIT_WORK(&s->event_work, vss_event_work);

	r = vss_meta_open(store_dev->bdev, bdev_nr_sectors(store_dev->bdev), ti->len,
			  chunk_sectors ? chunk_sectors : VSS_DEFAULT_CHUNK_SECTORS,
			  &s->meta, &s->index, &s->bitmap, &error);
	if (r) {
		ti->error = error ? error : "Cannot open the store";
		goto bad_meta;
	}
	s->chunk_sectors = vss_meta_info(s->meta)->chunk_sectors;
	s->chunk_shift = ilog2(s->chunk_sectors);
	s->buf_limit = clamp_t(u32, VSS_BUF_BYTES_MAX >> (s->chunk_shift + SECTOR_SHIFT),
			       VSS_MIN_BUFFERS, VSS_MAX_COPIES);
	s->data_chunks = vss_meta_info(s->meta)->data_chunks;
	if (chunk_sectors && chunk_sectors != s->chunk_sectors) {
		ti->error = "chunk_sectors differs from the store's chunk size";
		r = -EINVAL;
		goto bad_chunk;
	}
	s->snaps = vss_meta_snaps(s->meta);
	{
		u32 i, j, n = 0;
		u64 used = 0;

		for (i = 0; i < VSS_MAX_SNAPS; i++)
			if (s->snaps[i].state == VSS_SNAP_VALID)
				s->live[n++] = s->snaps[i].epoch;
		/* insertion sort: at most VSS_MAX_SNAPS entries */
		for (i = 1; i < n; i++)
			for (j = i; j && s->live[j - 1] > s->live[j]; j--)
				swap(s->live[j - 1], s->live[j]);
		s->nr_live = n;
		for (i = 0; i < BITS_TO_LONGS(s->data_chunks); i++)
			used += hweight_long(s->bitmap[i]);
		s->data_used = used;
	}

	r = mempool_init_slab_pool(&s->pending_pool, VSS_MIN_PENDING, vss_pending_cache);
	if (r) {
		ti->error = "Cannot allocate the pending pool";
		goto bad_chunk;
	}
	r = mempool_init(&s->buf_pool, VSS_MIN_BUFFERS, vss_buf_alloc, vss_buf_free,
			 (void *)((size_t)s->chunk_sectors << SECTOR_SHIFT));
	if (r) {
		ti->error = "Cannot allocate the chunk buffers";
		goto bad_bufs;
	}
	s->io = dm_io_client_create();
	if (IS_ERR(s->io)) {
		r = PTR_ERR(s->io);
		ti->error = "Cannot create the dm-io client";
		goto bad_io;
	}
	/*
	 * Both queues are unbound: their work blocks (the worker in
	 * mempool_alloc(GFP_NOIO), on the superblock write of a failed or
	 * full store and on the commits it runs; a commit on its writes and
	 * a flush), and blocking work on a per-CPU queue holds the CPU that
	 * queued it, the one taking the origin's writes, from the next work
	 * bound to it.  Commits have a queue of their own, so a worker
	 * waiting for a buffer never holds up the commit that frees one.
	 * With max_active 1 an unbound queue runs its work in order, one at
	 * a time, as the per-CPU one did.
	 */
	s->wq = alloc_workqueue("dm-vss", WQ_MEM_RECLAIM | WQ_UNBOUND, 1);
	s->commit_wq = alloc_workqueue("dm-vss-commit", WQ_MEM_RECLAIM | WQ_UNBOUND, 1);
	if (!s->wq || !s->commit_wq) {
		r = -ENOMEM;
		ti->error = "Cannot create the workqueue";
		goto bad_wq;
	}
	return s;

bad_wq:
	if (s->wq)
		destroy_workqueue(s->wq);
	if (s->commit_wq)
		destroy_workqueue(s->commit_wq);
	dm_io_client_destroy(s->io);
bad_io:
	mempool_exit(&s->buf_pool);
bad_bufs:
	mempool_exit(&s->pending_pool);
bad_chunk:
	vss_index_free(&s->index);
	kvfree(s->bitmap);
	vss_meta_close(s->meta);
bad_meta:
	kfree(s);
	return ERR_PTR(r);
}

/*
 * Loads the store of store_dev, which is neither loaded nor being loaded,
 * and registers it.  Called with vss_stores_lock held; drops it while the
 * store is read or formatted, and holds it again on return.  The store, or
 * an ERR_PTR with ti->error set.
 */
struct vss_store *__vss_store_load(struct dm_target *ti, struct dm_dev *origin,
				   struct dm_dev *store_dev, u32 chunk_sectors)
{
	struct vss_store_load load = { .store_dev = store_dev->bdev->bd_dev };
	struct vss_store *s;

	list_add(&load.list, &vss_loads);
	mutex_unlock(&vss_stores_lock);
	s = vss_store_create(ti, origin, store_dev, chunk_sectors);
	mutex_lock(&vss_stores_lock);
	list_del(&load.list);
	WRITE_ONCE(vss_loads_ended, vss_loads_ended + 1);
	wake_up_all(&vss_loads_wait);
	if (!IS_ERR(s))
		list_add(&s->list, &vss_stores);
	return s;
}

/* Called with vss_stores_lock held. */
void __vss_store_put(struct vss_store *s)
{
	if (--s->refs)
		return;
	list_del(&s->list);
	flush_workqueue(s->wq);
	flush_workqueue(s->commit_wq);
	/* the next load then checks no copy */
	if (s->mode == VSS_MODE_RW && vss_meta_checkpoint(s->meta))
		DMWARN("store %d:%d: cannot record its last commits as synced",
		       MAJOR(s->store_dev), MINOR(s->store_dev));
	destroy_workqueue(s->wq);
	destroy_workqueue(s->commit_wq);
	dm_io_client_destroy(s->io);
	mempool_exit(&s->buf_pool);
	mempool_exit(&s->pending_pool);
	vss_index_free(&s->index);
	kvfree(s->bitmap);
	vss_meta_close(s->meta);
	kfree(s);
}

/* ---- helpers under store->lock ---- */

static bool __vss_tracked(struct vss_store *s, u32 ochunk)
{
	struct vss_snap_io *io;

	hlist_for_each_entry(io, &s->tracked[hash_32(ochunk, VSS_TRACK_BITS)], node)
		if (io->ochunk == ochunk)
			return true;
	hlist_for_each_entry(io, &s->tracked_runs, node)
		if (ochunk - io->ochunk < io->nr_chunks)
			return true;
	return false;
}

u32 __vss_alloc_data(struct vss_store *s)
{
	unsigned long d;

	if (s->data_used >= s->data_chunks)
		return VSS_NO_CHUNK;
	d = find_next_zero_bit(s->bitmap, s->data_chunks, s->alloc_cursor);
	if (d >= s->data_chunks)
		d = find_first_zero_bit(s->bitmap, s->data_chunks);
	if (d >= s->data_chunks)
		return VSS_NO_CHUNK;
	__set_bit(d, s->bitmap);
	s->data_used++;
	s->alloc_cursor = d + 1;
	return d;
}

static void __vss_free_data(struct vss_store *s, u32 d)
{
	__clear_bit(d, s->bitmap);
	s->data_used--;
}

static void __vss_live_remove(struct vss_store *s, u32 epoch)
{
	u32 i;

	for (i = 0; i < s->nr_live; i++)
		if (s->live[i] == epoch)
			break;
	if (i == s->nr_live)
		return;
	memmove(&s->live[i], &s->live[i + 1], (s->nr_live - i - 1) * sizeof(u32));
	s->nr_live--;
}

/* Drops every record that no valid snapshot reads any more. */
unsigned int vss_usage_level(struct vss_store *s)
{
	u64 pct = div64_u64(s->data_used * 100, s->data_chunks);
	unsigned int level = 0;

	while (level < ARRAY_SIZE(vss_usage_thresholds) && pct >= vss_usage_thresholds[level])
		level++;
	return level;
}

/*
 * Free the copies that no valid snapshot reads any more.  The index is
 * walked a batch at a time (vss_free_batch_done) under the lock, which is dropped
 * between batches so that a delete in a store of 10^7 copies never keeps
 * interrupts off for the whole walk.  Called with meta_lock held (so no
 * commit inserts meanwhile: only this walk changes the index) and without
 * the lock.  An entry left between two batches serves no valid snapshot,
 * and lookups never choose it (vss_index_find).
 */
#define VSS_FREE_BATCH		1024
#define VSS_FREE_HOLD_NS	(200 * NSEC_PER_USEC)

/*
 * Whether a batch of the walk has held the lock long enough: a batch ends
 * at VSS_FREE_BATCH slots, or sooner once it has taken VSS_FREE_HOLD_NS
 * (slots in long probe runs cost more), checked every 32 slots.
 */
static bool vss_free_batch_done(u32 n, u64 start)
{
	return n >= VSS_FREE_BATCH ||
	       (!(n & 31) && n && local_clock() - start > VSS_FREE_HOLD_NS);
}

static void vss_free_dead(struct vss_store *s)
{
	u64 t0 = vss_fault_clock(), t, start;
	u32 i = 0, n;

	spin_lock_irq(&s->lock);
	t = vss_fault_clock();
	while (i < s->index.size) {
		start = local_clock();
		for (n = 0; !vss_free_batch_done(n, start) && i < s->index.size; n++) {
			struct vss_ient *e = &s->index.slots[i];
			u32 lo;

			if (!e->epoch) {
				i++;
				continue;
			}
			lo = vss_index_prev(&s->index, e->ochunk, e->epoch);
			if (vss_range_live(s->live, s->nr_live, lo, e->epoch)) {
				i++;
				continue;
			}
			__vss_free_data(s, e->data);
			vss_index_remove(&s->index, i);	/* slot i now holds a later entry */
		}
		vss_fault_note_hold(vss_fault_clock() - t);
		spin_unlock_irq(&s->lock);
		cond_resched();
		spin_lock_irq(&s->lock);
		t = vss_fault_clock();
	}
	/* usage events fire again once the usage rises past a level again */
	s->usage_level = min(s->usage_level, vss_usage_level(s));
	spin_unlock_irq(&s->lock);
	vss_fault_note_walk(vss_fault_clock() - t0);
}

struct vss_snap *__vss_snap_by_id(struct vss_store *s, u32 id)
{
	u32 i;

	for (i = 0; i < VSS_MAX_SNAPS; i++)
		if (s->snaps[i].state != VSS_SNAP_FREE && s->snaps[i].id == id)
			return &s->snaps[i];
	return NULL;
}

/*
 * Enter fail mode: snapshots stop serving I/O, origin writes pass through.
 * Records the invalidation on the store if it still takes writes.
 */
#define VSS_FAIL_BACKOFF_MIN	(HZ / 10)
#define VSS_FAIL_BACKOFF_MAX	(60 * HZ)

/* Whether the last try at a failed store's superblock failed too recently. */
bool __vss_fail_backing_off(struct vss_store *s)
{
	return s->fail_backoff && time_before(jiffies, s->fail_retry_at);
}

/*
 * Write the failed store's superblock (every snapshot invalid) if that is
 * not on disk yet; unless now, not while backing off from a failed try.
 * Called with meta_lock held.
 */
void vss_fail_make_durable(struct vss_store *s, bool now)
{
	bool skip;

	spin_lock_irq(&s->lock);
	skip = s->mode != VSS_MODE_FAIL || s->fail_durable ||
	       (!now && __vss_fail_backing_off(s));
	spin_unlock_irq(&s->lock);
	if (skip)
		return;
	if (vss_meta_write_sb(s->meta)) {
		spin_lock_irq(&s->lock);
		s->fail_backoff = clamp(s->fail_backoff * 2, VSS_FAIL_BACKOFF_MIN,
					VSS_FAIL_BACKOFF_MAX);
		s->fail_retry_at = jiffies + s->fail_backoff;
		spin_unlock_irq(&s->lock);
		DMERR_LIMIT("store %d:%d: cannot write the invalidation of its snapshots: next try in %u ms",
			    MAJOR(s->store_dev), MINOR(s->store_dev),
			    jiffies_to_msecs(s->fail_backoff));
		return;
	}
	spin_lock_irq(&s->lock);
	s->fail_durable = true;
	s->fail_backoff = 0;
	spin_unlock_irq(&s->lock);
	DMINFO("store %d:%d: the invalidation of its snapshots is on disk",
	       MAJOR(s->store_dev), MINOR(s->store_dev));
}

static bool vss_fail_pending(struct vss_store *s)
{
	bool r;

	spin_lock_irq(&s->lock);
	r = s->mode == VSS_MODE_FAIL && !s->fail_durable;
	spin_unlock_irq(&s->lock);
	return r;
}

void vss_fail(struct vss_store *s, const char *why)
{
	u32 i;

	DMERR("store %d:%d: %s; all snapshots invalidated",
	      MAJOR(s->store_dev), MINOR(s->store_dev), why);
	spin_lock_irq(&s->lock);
	s->mode = VSS_MODE_FAIL;
	for (i = 0; i < VSS_MAX_SNAPS; i++)
		if (s->snaps[i].state == VSS_SNAP_VALID)
			s->snaps[i].state = VSS_SNAP_INVALID;
	/* after mode: vss_origin_map's unlocked test reads them in the other order */
	smp_store_release(&s->nr_live, 0);
	s->fail_durable = false;
	s->fail_backoff = 0;
	spin_unlock_irq(&s->lock);
	vss_fail_make_durable(s, true);
	vss_raise_event(s);
}

static bool vss_reads_drained(struct vss_store *s, const u32 *slots, u32 n)
{
	u32 i;

	for (i = 0; i < n; i++)
		if (atomic_read(&s->snap_reads[slots[i]]))
			return false;
	return true;
}

/*
 * Retire snapshots: new_state is VSS_SNAP_FREE (delete), VSS_SNAP_DROPPED
 * or VSS_SNAP_INVALID.  The snapshots stop serving reads at once and the
 * superblock saying so is written.  Then, with meta_lock dropped so that
 * commits (and so first writes) go on, the victims' own reads still in
 * flight are waited for: reads of other snapshots never touch what is
 * freed here, and a backup reading one must not hold up the delete of
 * another.  Until the victims' reads are done their epochs stay live for
 * copy decisions and their space stays allocated, so that a store read in
 * flight never sees its chunk reused and an origin read in flight never
 * sees a write that was not copied first.
 * Called with meta_lock held; drops and retakes it.
 */
int vss_retire(struct vss_store *s, struct vss_snap **victims, u32 n, u32 new_state)
{
	u32 i, saved[VSS_MAX_SNAPS], slots[VSS_MAX_SNAPS], epochs[VSS_MAX_SNAPS];
	int r;

	spin_lock_irq(&s->lock);
	for (i = 0; i < n; i++) {
		slots[i] = victims[i] - s->snaps;
		saved[i] = victims[i]->state;
		epochs[i] = victims[i]->epoch;
		victims[i]->state = new_state;
		s->draining[slots[i]]++;
	}
	spin_unlock_irq(&s->lock);
	r = vss_meta_write_sb(s->meta);
	if (r) {
		spin_lock_irq(&s->lock);
		for (i = 0; i < n; i++) {
			victims[i]->state = saved[i];
			s->draining[slots[i]]--;
		}
		spin_unlock_irq(&s->lock);
		vss_fail(s, "cannot write the superblock");
		return r;
	}

	mutex_unlock(&s->meta_lock);
	wait_event(s->reads_wait, vss_reads_drained(s, slots, n));
	mutex_lock(&s->meta_lock);

	spin_lock_irq(&s->lock);
	for (i = 0; i < n; i++) {
		if (saved[i] == VSS_SNAP_VALID)
			__vss_live_remove(s, epochs[i]);
		s->draining[slots[i]]--;
	}
	spin_unlock_irq(&s->lock);
	vss_free_dead(s);
	vss_raise_event(s);
	return 0;
}

/* The store is full: apply the overflow policy.  Called from the worker. */
static void vss_overflow(struct vss_store *s)
{
	struct vss_snap *victims[VSS_MAX_SNAPS];
	u32 i, n = 0;
	bool invalidate;

	mutex_lock(&s->meta_lock);
	spin_lock_irq(&s->lock);
	invalidate = s->overflow_invalidate;
	if (s->data_used < s->data_chunks || !s->nr_live) {
		/* another path made room meanwhile */
		spin_unlock_irq(&s->lock);
		mutex_unlock(&s->meta_lock);
		return;
	}
	for (i = 0; i < VSS_MAX_SNAPS; i++) {
		struct vss_snap *sn = &s->snaps[i];

		if (sn->state != VSS_SNAP_VALID)
			continue;
		if (invalidate) {
			victims[n++] = sn;
		} else if (!n || sn->epoch < victims[0]->epoch) {
			victims[0] = sn;	/* the oldest */
			n = 1;
		}
	}
	spin_unlock_irq(&s->lock);
	if (n) {
		DMWARN("store %d:%d full: %s", MAJOR(s->store_dev), MINOR(s->store_dev),
		       invalidate ? "invalidating all snapshots" : "dropping the oldest snapshot");
		if (!invalidate)
			DMWARN("dropped snapshot %u", victims[0]->id);
		vss_retire(s, victims, n, invalidate ? VSS_SNAP_INVALID : VSS_SNAP_DROPPED);
	}
	mutex_unlock(&s->meta_lock);
}

/* ---- copy engine ---- */

/*
 * Finished copies wait for the copies still running, so that concurrent
 * first writes share one commit (and its flushes) instead of each paying
 * for their own; VSS_BATCH_MAX bounds the wait under a deep queue.  Every
 * copy started finishes (or fails), so the last one always commits.
 */
#define VSS_BATCH_MAX	64

static bool __vss_commit_due(struct vss_store *s)
{
	return s->nr_copied && (!s->nr_copying || s->nr_copied >= VSS_BATCH_MAX ||
				s->mode != VSS_MODE_RW);
}

static void vss_commit_copied(struct vss_store *s);
static void vss_release_committed(struct vss_store *s);

static void vss_read_done(unsigned long error, void *context)
{
	struct vss_pending *pe = context;
	struct vss_store *s = pe->store;
	unsigned long flags;
	bool due;

	pe->error = error ? -EIO : 0;
	spin_lock_irqsave(&s->lock, flags);
	list_add_tail(&pe->list, &s->copied);
	s->nr_copying--;
	s->nr_copied++;
	due = __vss_commit_due(s);
	spin_unlock_irqrestore(&s->lock, flags);
	if (due)
		queue_work(s->commit_wq, &s->commit_work);
}

static sector_t vss_copy_sectors(struct vss_store *s, u32 ochunk)
{
	return vss_copy_bytes(s->origin_sectors, s->chunk_sectors, ochunk) >> SECTOR_SHIFT;
}

/* Async read or write of a chunk buffer. */
static void vss_chunk_io(struct vss_store *s, blk_opf_t opf, struct block_device *bdev,
			 sector_t sector, sector_t count, void *buf, io_notify_fn fn,
			 void *context)
{
	struct dm_io_region region = { .bdev = bdev, .sector = sector, .count = count };
	struct dm_io_request req = {
		.bi_opf = opf,
		.notify.fn = fn,
		.notify.context = context,
		.client = s->io,
	};
	unsigned long error_bits = 0;

	vss_io_mem(&req, buf);
	/* asynchronous: fn is called, also when it fails */
	dm_io(&req, 1, &region, &error_bits, IOPRIO_DEFAULT);
}

/*
 * A chunk buffer for a copy, or NULL.  The page allocator is asked first,
 * with GFP_NOIO and __GFP_NORETRY: it may reclaim clean memory once but
 * never waits for I/O or for anything this store does, so the copy never
 * waits for memory that only a commit frees.  Only when that fails does
 * the copy take one of the mempool's reserve (without waiting for it).
 * Trying the allocator first keeps the reserve for when memory is short;
 * taking the reserve first (GFP_NOWAIT, no reclaim at all) left copies
 * queued behind its few buffers whenever a chunk-sized block was not free
 * at once.  Callers: the map path, the worker and the commit work, all of
 * which may sleep.
 */
static void *vss_buf_get(struct vss_store *s)
{
	void *buf = vss_buf_alloc(GFP_NOIO | __GFP_NORETRY | __GFP_NOWARN,
				  (void *)((size_t)s->chunk_sectors << SECTOR_SHIFT));

	return buf ?: mempool_alloc(&s->buf_pool, GFP_NOWAIT | __GFP_NOWARN);
}

/*
 * Start the reads of waiting copies while chunk buffers can be had without
 * waiting for a commit and fewer than buf_limit are held.  A copy that
 * gets none stays first in line: the buffers held are freed by their
 * commit, which calls this again.  When none is held the mempool's reserve
 * is full, so trying again then cannot fail.
 */
static void vss_start_waiting(struct vss_store *s)
{
	struct vss_pending *pe;
	unsigned long flags;
	bool again;

	for (;;) {
		spin_lock_irqsave(&s->lock, flags);
		if (list_empty(&s->buf_wait) || s->nr_bufs >= s->buf_limit) {
			spin_unlock_irqrestore(&s->lock, flags);
			return;
		}
		pe = list_first_entry(&s->buf_wait, struct vss_pending, list);
		list_del_init(&pe->list);
		s->nr_bufs++;
#ifdef VSS_FAULT_INJECT
		if (s->nr_bufs > READ_ONCE(buf_peak))
			WRITE_ONCE(buf_peak, s->nr_bufs);
#endif
		spin_unlock_irqrestore(&s->lock, flags);

		pe->buf = vss_buf_get(s);
		spin_lock_irqsave(&s->lock, flags);
		if (!pe->buf) {
			list_add(&pe->list, &s->buf_wait);
			s->nr_bufs--;
			again = !s->nr_bufs;
			spin_unlock_irqrestore(&s->lock, flags);
			if (!again)
				return;
			continue;
		}
		s->nr_copying++;
		spin_unlock_irqrestore(&s->lock, flags);
		vss_chunk_io(s, REQ_OP_READ, s->origin_bdev, (sector_t)pe->ochunk << s->chunk_shift,
			     vss_copy_sectors(s, pe->ochunk), pe->buf, vss_read_done, pe);
	}
}

/*
 * Start the copy of a registered pending chunk: its read begins once it
 * has a chunk buffer.  It never waits for memory that only a commit frees
 * (see vss_buf_get), so the map path can call it: nothing registered ever
 * waits for the commit that waits for it.
 */
void vss_start_copy(struct vss_store *s, struct vss_pending *pe)
{
	unsigned long flags;

	spin_lock_irqsave(&s->lock, flags);
	list_add_tail(&pe->list, &s->buf_wait);
	spin_unlock_irqrestore(&s->lock, flags);
	vss_start_waiting(s);
}

/* Registers a new pending copy of ochunk into data chunk d, holding bio. */
void __vss_pending_add(struct vss_store *s, struct vss_pending *pe,
		       u32 ochunk, u32 d, struct bio *bio)
{
	pe->store = s;
	pe->ochunk = ochunk;
	pe->data = d;
	pe->epoch = s->live[s->nr_live - 1];
	pe->error = 0;
	pe->buf = NULL;
	INIT_LIST_HEAD(&pe->list);
	bio_list_init(&pe->bios);
	bio_list_add(&pe->bios, bio);
	hlist_add_head(&pe->node, &s->pending[hash_32(ochunk, VSS_PENDING_BITS)]);
}

static void vss_process_deferred(struct vss_store *s)
{
	struct vss_pending *spare = NULL;
	struct bio_list bios;
	struct bio *bio;

	/* the origin writes held for a failed store's superblock: try it */
	if (vss_fail_pending(s)) {
		mutex_lock(&s->meta_lock);
		vss_fail_make_durable(s, false);
		mutex_unlock(&s->meta_lock);
	}
	spin_lock_irq(&s->lock);
	bios = s->deferred;
	bio_list_init(&s->deferred);
	spin_unlock_irq(&s->lock);

	while ((bio = bio_list_pop(&bios))) {
		u32 ochunk = bio->bi_iter.bi_sector >> s->chunk_shift;
		struct vss_pending *pe;
		u32 d;

		if (!spare)
			spare = mempool_alloc(&s->pending_pool, GFP_NOIO);
retry:
		spin_lock_irq(&s->lock);
		pe = __vss_pending_find(s, ochunk);
		if (pe) {
			bio_list_add(&pe->bios, bio);
			spin_unlock_irq(&s->lock);
			continue;
		}
		if (!__vss_needs_copy(s, ochunk)) {
			spin_unlock_irq(&s->lock);
			dm_submit_bio_remap(bio, NULL);
			continue;
		}
		d = __vss_alloc_data(s);
		if (d == VSS_NO_CHUNK) {
			spin_unlock_irq(&s->lock);
			vss_overflow(s);
			goto retry;
		}
		pe = spare;
		spare = NULL;
		__vss_pending_add(s, pe, ochunk, d, bio);
		spin_unlock_irq(&s->lock);
		vss_start_copy(s, pe);
	}
	if (spare)
		mempool_free(spare, &s->pending_pool);
}

/*
 * Write the batch's copies and exception blocks at once, then flush once.
 * The records were set; returns 0 once all of it is durable.
 */
static int vss_write_batch(struct vss_store *s, struct list_head *batch, u32 n)
{
	struct vss_io_wait io;
	struct vss_pending *pe;
	struct blk_plug plug;
	u64 bytes = 0;
	int r, rc;

	vss_io_wait_init(&io);
	/* the batch's data and record writes go down together, merged where they touch */
	blk_start_plug(&plug);
	list_for_each_entry(pe, batch, list) {
		sector_t count = vss_copy_sectors(s, pe->ochunk);

		atomic_inc(&io.pending);
		bytes += (u64)count << SECTOR_SHIFT;
		vss_chunk_io(s, REQ_OP_WRITE, s->store_bdev,
			     vss_data_to_chunk(pe->data, s->chunk_sectors) << s->chunk_shift,
			     count, pe->buf, vss_io_wait_one, &io);
	}
	r = vss_meta_write_records(s->meta);
	blk_finish_plug(&plug);
	rc = vss_io_wait_all(&io);
	if (!r)
		r = rc;
	if (!r)
		r = vss_meta_sync(s->meta, n, bytes);
	return r;
}

/* Commit read chunks in one batch: copies and records, then one flush. */
static void vss_commit_copied(struct vss_store *s)
{
	struct vss_pending *pe, *tmp;
	LIST_HEAD(batch);
	bool failed = false, event = false;
	u32 n = 0, nbufs;
	int r = 0;

	mutex_lock(&s->meta_lock);
	spin_lock_irq(&s->lock);
	if (__vss_commit_due(s)) {
		list_splice_init(&s->copied, &batch);
		s->nr_copied = 0;
	}
	failed = s->mode != VSS_MODE_RW;
	spin_unlock_irq(&s->lock);
	if (list_empty(&batch))
		goto out;

	list_for_each_entry(pe, &batch, list) {
		n++;
		if (failed)
			break;
		if (pe->error) {
			vss_fail(s, "a chunk copy failed");
			failed = true;
			break;
		}
		r = vss_meta_set_record(s->meta, pe->data, pe->ochunk, pe->epoch,
					vss_copy_crc(pe->buf, vss_copy_sectors(s, pe->ochunk) << SECTOR_SHIFT));
		if (r) {
			vss_fail(s, r == -EUCLEAN ? "corrupt exception block" :
				 "cannot read an exception block");
			failed = true;
		}
	}
	if (failed)
		vss_meta_discard(s->meta);
	else {
		r = vss_write_batch(s, &batch, n);
		if (r) {
			vss_fail(s, "cannot write the store's copies or metadata");
			failed = true;
		}
	}
	nbufs = 0;
	list_for_each_entry(pe, &batch, list) {
		mempool_free(pe->buf, &s->buf_pool);
		pe->buf = NULL;
		nbufs++;
	}
	spin_lock_irq(&s->lock);
	s->nr_bufs -= nbufs;
	spin_unlock_irq(&s->lock);
	vss_start_waiting(s);
	if (!failed && vss_index_reserve(&s->index, n, &s->lock)) {
		vss_fail(s, "out of memory for the store index");
		failed = true;
	}

	spin_lock_irq(&s->lock);
	list_for_each_entry_safe(pe, tmp, &batch, list) {
		u32 lo = vss_index_latest(&s->index, pe->ochunk);

		if (!failed && s->mode == VSS_MODE_RW &&
		    vss_range_live(s->live, s->nr_live, lo, pe->epoch)) {
			u32 i;

			vss_index_insert(&s->index, pe->ochunk, pe->data, pe->epoch);
			for (i = 0; i < VSS_MAX_SNAPS; i++) {
				struct vss_snap *sn = &s->snaps[i];

				if (sn->state == VSS_SNAP_VALID && sn->epoch > lo &&
				    sn->epoch <= pe->epoch)
					sn->copied++;
			}
		} else {
			/* no valid snapshot needs it any more */
			__vss_free_data(s, pe->data);
		}
		list_move_tail(&pe->list, &s->committed);
	}
	if (s->mode == VSS_MODE_RW) {
		unsigned int level = vss_usage_level(s);

		event = level > s->usage_level;
		s->usage_level = level;
	}
	spin_unlock_irq(&s->lock);
	if (event)
		vss_raise_event(s);
out:
	mutex_unlock(&s->meta_lock);
}

/* Send held origin writes once no snapshot read of their chunk is in flight. */
static void vss_release_committed(struct vss_store *s)
{
	struct vss_pending *pe, *tmp;
	struct bio_list bios;
	LIST_HEAD(done);
	struct bio *bio;

	bio_list_init(&bios);
	spin_lock_irq(&s->lock);
	list_for_each_entry_safe(pe, tmp, &s->committed, list) {
		if (__vss_tracked(s, pe->ochunk))
			continue;
		hlist_del(&pe->node);
		list_move(&pe->list, &done);
		bio_list_merge(&bios, &pe->bios);
	}
	spin_unlock_irq(&s->lock);

	while ((bio = bio_list_pop(&bios)))
		dm_submit_bio_remap(bio, NULL);
	list_for_each_entry_safe(pe, tmp, &done, list)
		mempool_free(pe, &s->pending_pool);
}

static void vss_worker(struct work_struct *w)
{
	struct vss_store *s = container_of(w, struct vss_store, work);

	vss_process_deferred(s);
	vss_commit_copied(s);
	vss_release_committed(s);
}

static void vss_commit_work(struct work_struct *w)
{
	struct vss_store *s = container_of(w, struct vss_store, commit_work);

	vss_commit_copied(s);
	vss_release_committed(s);
}

/* The chunks a bio touches, from its first: at least 1. */
u32 vss_bio_chunks(struct vss_store *s, struct bio *bio, sector_t sector)
{
	sector_t last = sector + bio_sectors(bio) - 1;

	return bio_sectors(bio) ? (last >> s->chunk_shift) - (sector >> s->chunk_shift) + 1 : 1;
}

/* Sectors of a bio at sector that fall in its first n chunks. */
sector_t vss_run_sectors(struct vss_store *s, sector_t sector, u32 n)
{
	return (((sector >> s->chunk_shift) + n) << s->chunk_shift) - sector;
}

int vss_cow_init(void)
{
	int r;

	vss_pending_cache = KMEM_CACHE(vss_pending, 0);
	if (!vss_pending_cache)
		return -ENOMEM;
	r = dm_register_target(&vss_origin_target);
	if (r) {
		DMERR("cannot register vss-origin: %d", r);
		goto bad_origin;
	}
	r = dm_register_target(&vss_snap_target);
	if (r) {
		DMERR("cannot register vss-snap: %d", r);
		goto bad_snap;
	}
	return 0;

bad_snap:
	dm_unregister_target(&vss_origin_target);
bad_origin:
	kmem_cache_destroy(vss_pending_cache);
	return r;
}

void vss_cow_exit(void)
{
	dm_unregister_target(&vss_snap_target);
	dm_unregister_target(&vss_origin_target);
	kmem_cache_destroy(vss_pending_cache);
}
