// SPDX-License-Identifier: GPL-2.0
/*
 * dm-vss-clone: the vss-clone split-mirror target.
 *
 * vss-clone makes dest a full copy of source: writes are mirrored to both
 * devices while dm-kcopyd copies the rest in the background.  Once the copy
 * is complete (state "mirrored"), a "split" message sent while the device is
 * suspended freezes dest as the image of that instant; from then on writes
 * go to source only and each written region is recorded, so that "rejoin"
 * copies back only those regions.
 *
 * Regions and the in_sync bitmap.  The target is cut into regions of
 * region_sectors (a power of two); the last one may be partial.  A set bit
 * means dest holds the same data as source for that region: while syncing,
 * the region was copied or was never out of step; while split, it was not
 * written since the split.  The bitmap lives in memory only: dest stays a
 * plain, mountable image with no metadata of ours in it.  A table reload of
 * the same device carries the bitmap over to the new table (see
 * clone_take_over()); anything else starts from a full copy.
 *
 * Writes against copies.  Every write (and discard, write-zeroes) is kept
 * on the in-flight list from map to end_io.  A copy job covers a run of
 * out-of-sync regions.  When a job is planned it first waits for the
 * in-flight writes that overlap it to complete, then copies; writes that
 * arrive for its regions meanwhile are held on the job and dispatched when
 * the copy has finished.  So a copy never reads source while a write to the
 * same region is on its way, and never overwrites on dest data newer than
 * what it read.
 *
 * Writes against writes.  Two mirrored writes to the same sectors in flight
 * at once could land in one order on source and in the other on dest,
 * leaving the devices different with every region marked in step (a mirror
 * that allows this has legs that silently disagree).  So a mirrored write
 * that overlaps one still in flight waits on it, and is routed again when
 * it completes: overlapping writes reach the devices one at a time.
 *
 * Where a write goes.  While mirrored, to both devices.  While syncing, to
 * both if any of its regions is in sync, else to source only (the copy will
 * carry it over later).  While split or failed, to source only.  The write
 * completes when both halves have; only the source's status is returned: an
 * error on dest moves the target to "fail" and the data stays safe on
 * source.
 *
 * Throttling.  Foreground I/O keeps most of the devices: while any has been
 * seen in the last CLONE_BUSY_WINDOW, a single small copy job runs at a
 * time, followed by a pause CLONE_BUSY_PAUSE times as long as the copy took
 * (so copying gets about a fifth of the time).  When the device is idle,
 * CLONE_IDLE_JOBS large jobs run together.
 */
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/device-mapper.h>
#include <linux/dm-io.h>
#include <linux/dm-kcopyd.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "dm-vss.h"

#define CLONE_MIN_REGION_SECTORS	8U		/* 4 KiB */
#define CLONE_MAX_REGION_SECTORS	(1U << 21)	/* 1 GiB */
#define CLONE_MAX_REGIONS		(1UL << 31)	/* 256 MiB of bitmap */

#define CLONE_MAX_JOBS		8
#define CLONE_IDLE_JOBS		4
#define CLONE_IDLE_JOB_SECTORS	4096U	/* 2 MiB per job when idle */
#define CLONE_BUSY_JOB_SECTORS	256U	/* 128 KiB per job under load */
#define CLONE_BUSY_WINDOW	(HZ / 10)
#define CLONE_BUSY_PAUSE	4

enum clone_state {
	CLONE_SYNCING,
	CLONE_MIRRORED,
	CLONE_SPLIT,
	CLONE_FAIL,
};

static const char *const clone_state_names[] = {
	[CLONE_SYNCING] = "syncing",
	[CLONE_MIRRORED] = "mirrored",
	[CLONE_SPLIT] = "split",
	[CLONE_FAIL] = "fail",
};

struct vss_clone;

/*
 * One background copy of the regions [first, first + nr).  Jobs are taken
 * from vc->job_pool; every field is protected by vc->lock.
 */
struct clone_job {
	struct vss_clone *vc;
	struct list_head list;		/* vc->jobs or vc->free_jobs */
	unsigned long first;
	unsigned long nr;
	unsigned int waiting_writes;	/* overlapping writes still in flight */
	bool started;
	u64 start_ns;
	struct bio_list held;		/* writes to these regions, for later */
};

/* Per-bio data. */
enum clone_io_kind {
	CLONE_IO_PLAIN,		/* a read, or the source half of a flush */
	CLONE_IO_WRITE,		/* on vc->inflight from map to end_io */
	CLONE_IO_DEST_FLUSH,	/* the dest half of a flush */
};

struct clone_io {
	struct list_head inflight;
	unsigned long first;	/* regions [first, end) */
	unsigned long end;
	sector_t sector;	/* sectors [sector, end_sector) */
	sector_t end_sector;
	struct bio_list waiters; /* overlapping writes routed after this one */
	enum clone_io_kind kind;
	bool mirrored;		/* sent to dest too */
	bool dest_differs;	/* dest could not discard or zero */
};

/* The dest half of a mirrored write; allocated from vc->dest_bios. */
struct clone_dest_bio {
	struct vss_clone *vc;
	struct bio *parent;
	struct bio bio;		/* last: the bio_set's front_pad ends here */
};

struct vss_clone {
	struct dm_target *ti;
	struct dm_dev *source;
	struct dm_dev *dest;
	sector_t region_sectors;
	unsigned int region_shift;
	unsigned long nr_regions;
	bool nosync;			/* as given in the table */

	spinlock_t lock;
	/* Protected by lock: */
	enum clone_state state;
	unsigned long *in_sync;
	unsigned long nr_synced;	/* bits set in in_sync */
	struct list_head inflight;	/* struct clone_io of the writes */
	struct list_head jobs;		/* planned and running copies */
	struct list_head free_jobs;
	unsigned int nr_jobs;
	unsigned int nr_waiting_jobs;	/* jobs with waiting_writes > 0 */
	unsigned long cursor;		/* where the next copy search starts */
	bool suspending;		/* plan no new copy */
	struct bio_list retry;		/* waiters of finished writes, to route again */
	unsigned long next_copy;	/* jiffies: the pause while busy */

	unsigned long fg_last;		/* jiffies of the last foreground bio */

	struct dm_kcopyd_client *kc;
	struct workqueue_struct *wq;
	struct delayed_work copy_work;
	struct work_struct event_work;
	struct work_struct retry_work;
	wait_queue_head_t jobs_wait;	/* nr_jobs reaching zero */
	struct bio_set dest_bios;

	/* Protected by clone_registry_lock: */
	struct list_head registry;
	struct mapped_device *md;
	bool resumed;			/* has served I/O: its state is real */

	struct clone_job job_pool[CLONE_MAX_JOBS];
};

/* Every vss-clone instance, so that a reload can hand its state over. */
static LIST_HEAD(clone_registry);
static DEFINE_MUTEX(clone_registry_lock);

static const char *clone_name(struct vss_clone *vc)
{
	return dm_device_name(dm_table_get_md(vc->ti->table));
}

static sector_t region_to_sector(struct vss_clone *vc, unsigned long region)
{
	return (sector_t)region << vc->region_shift;
}

/* The regions [*first, *end) that the sectors of a bio touch. */
static void bio_regions(struct vss_clone *vc, struct bio *bio,
			unsigned long *first, unsigned long *end)
{
	sector_t start = bio->bi_iter.bi_sector;
	sector_t last = start + max_t(sector_t, bio_sectors(bio), 1) - 1;

	*first = start >> vc->region_shift;
	*end = (last >> vc->region_shift) + 1;
	if (*end > vc->nr_regions)
		*end = vc->nr_regions;
}

static bool ranges_overlap(unsigned long a_first, unsigned long a_end,
			   unsigned long b_first, unsigned long b_end)
{
	return a_first < b_end && b_first < a_end;
}

static void clone_raise_event(struct vss_clone *vc)
{
	queue_work(vc->wq, &vc->event_work);
}

static void clone_event_worker(struct work_struct *work)
{
	struct vss_clone *vc = container_of(work, struct vss_clone, event_work);

	dm_table_event(vc->ti->table);
}

static void clone_kick(struct vss_clone *vc)
{
	mod_delayed_work(vc->wq, &vc->copy_work, 0);
}

/* Caller holds vc->lock. */
static void __clone_set_state(struct vss_clone *vc, enum clone_state state)
{
	if (vc->state == state)
		return;
	vc->state = state;
	clone_raise_event(vc);
}

/* Caller holds vc->lock.  why: a short reason, for the kernel log. */
static void __clone_fail(struct vss_clone *vc, const char *why)
{
	if (vc->state == CLONE_FAIL)
		return;
	DMERR_LIMIT("vss-clone %s: %s: dest is no longer kept in step; source keeps serving I/O",
		    clone_name(vc), why);
	__clone_set_state(vc, CLONE_FAIL);
}

static void clone_fail(struct vss_clone *vc, const char *why)
{
	unsigned long flags;

	spin_lock_irqsave(&vc->lock, flags);
	__clone_fail(vc, why);
	spin_unlock_irqrestore(&vc->lock, flags);
}

/* Caller holds vc->lock. */
static void __clone_set_synced(struct vss_clone *vc, unsigned long first,
			       unsigned long end)
{
	unsigned long r;

	for (r = first; r < end; r++)
		if (!__test_and_set_bit(r, vc->in_sync))
			vc->nr_synced++;
}

/* Caller holds vc->lock. */
static void __clone_clear_synced(struct vss_clone *vc, unsigned long first,
				 unsigned long end)
{
	unsigned long r = first;

	for (;;) {
		r = find_next_bit(vc->in_sync, end, r);
		if (r >= end)
			break;
		__clear_bit(r, vc->in_sync);
		vc->nr_synced--;
		r++;
	}
}

/* Caller holds vc->lock. */
static bool __clone_any_synced(struct vss_clone *vc, unsigned long first,
			       unsigned long end)
{
	return find_next_bit(vc->in_sync, end, first) < end;
}

/* Caller holds vc->lock. */
static struct clone_job *__clone_job_over(struct vss_clone *vc,
					  unsigned long first,
					  unsigned long end)
{
	struct clone_job *job;

	list_for_each_entry(job, &vc->jobs, list)
		if (ranges_overlap(first, end, job->first, job->first + job->nr))
			return job;
	return NULL;
}

/* Caller holds vc->lock.  A mirrored write in flight over these sectors. */
static struct clone_io *__clone_mirrored_over(struct vss_clone *vc,
					      sector_t sector, sector_t end_sector)
{
	struct clone_io *io;

	list_for_each_entry(io, &vc->inflight, inflight)
		if (io->mirrored && sector < io->end_sector && io->sector < end_sector)
			return io;
	return NULL;
}

/*---------------------------------------------------------------------------
 * Foreground I/O
 *-------------------------------------------------------------------------*/

static void clone_dest_endio(struct bio *bio)
{
	struct clone_dest_bio *db = container_of(bio, struct clone_dest_bio, bio);
	struct bio *parent = db->parent;
	struct clone_io *io = dm_per_bio_data(parent, sizeof(struct clone_io));
	blk_status_t status = bio->bi_status;

	/*
	 * A dest that cannot discard or zero a range keeps its old data
	 * there: the regions are copied again, dest has not failed.
	 */
	if (status == BLK_STS_NOTSUPP &&
	    (bio_op(bio) == REQ_OP_DISCARD || bio_op(bio) == REQ_OP_WRITE_ZEROES))
		io->dest_differs = true;
	else if (status)
		clone_fail(db->vc, "write error on dest");
	bio_put(bio);
	bio_endio(parent);
}

/* Send a copy of a write to dest; the write completes when both have. */
static void clone_mirror_to_dest(struct vss_clone *vc, struct bio *bio)
{
	struct bio *clone;
	struct clone_dest_bio *db;

	clone = bio_alloc_clone(vc->dest->bdev, bio, GFP_NOIO, &vc->dest_bios);
	db = container_of(clone, struct clone_dest_bio, bio);
	db->vc = vc;
	db->parent = bio;
	clone->bi_end_io = clone_dest_endio;
	bio_inc_remaining(bio);
	submit_bio_noacct(clone);
}

/*
 * Route a write whose sector is already relative to the devices.  Returns
 * DM_MAPIO_REMAPPED with the bio pointed at source (and its copy sent to
 * dest if need be), or DM_MAPIO_SUBMITTED if it is held behind a copy.
 */
static int clone_route_write(struct vss_clone *vc, struct bio *bio)
{
	struct clone_io *io = dm_per_bio_data(bio, sizeof(struct clone_io));
	struct clone_io *earlier;
	struct clone_job *job;
	unsigned long flags, first, end;
	sector_t sector = bio->bi_iter.bi_sector;
	sector_t end_sector = sector + max_t(sector_t, bio_sectors(bio), 1);
	bool to_dest = false;

	bio_regions(vc, bio, &first, &end);

	spin_lock_irqsave(&vc->lock, flags);
	job = __clone_job_over(vc, first, end);
	if (job) {
		bio_list_add(&job->held, bio);
		spin_unlock_irqrestore(&vc->lock, flags);
		return DM_MAPIO_SUBMITTED;
	}
	switch (vc->state) {
	case CLONE_MIRRORED:
		to_dest = true;
		break;
	case CLONE_SYNCING:
		to_dest = __clone_any_synced(vc, first, end);
		break;
	case CLONE_SPLIT:
		__clone_clear_synced(vc, first, end);
		break;
	case CLONE_FAIL:
		break;
	}
	if (to_dest) {
		earlier = __clone_mirrored_over(vc, sector, end_sector);
		if (earlier) {
			bio_list_add(&earlier->waiters, bio);
			spin_unlock_irqrestore(&vc->lock, flags);
			return DM_MAPIO_SUBMITTED;
		}
	}
	io->kind = CLONE_IO_WRITE;
	io->mirrored = to_dest;
	io->dest_differs = false;
	io->first = first;
	io->end = end;
	io->sector = sector;
	io->end_sector = end_sector;
	bio_list_init(&io->waiters);
	list_add_tail(&io->inflight, &vc->inflight);
	spin_unlock_irqrestore(&vc->lock, flags);

	if (to_dest)
		clone_mirror_to_dest(vc, bio);
	bio_set_dev(bio, vc->source->bdev);
	return DM_MAPIO_REMAPPED;
}

static void clone_dispatch_held(struct vss_clone *vc, struct bio_list *bios)
{
	struct bio *bio;

	while ((bio = bio_list_pop(bios)))
		if (clone_route_write(vc, bio) == DM_MAPIO_REMAPPED)
			dm_submit_bio_remap(bio, NULL);
}

/* Route again the writes that waited on finished ones (process context). */
static void clone_retry_worker(struct work_struct *work)
{
	struct vss_clone *vc = container_of(work, struct vss_clone, retry_work);
	struct bio_list bios;

	spin_lock_irq(&vc->lock);
	bios = vc->retry;
	bio_list_init(&vc->retry);
	spin_unlock_irq(&vc->lock);
	clone_dispatch_held(vc, &bios);
}

static int clone_map(struct dm_target *ti, struct bio *bio)
{
	struct vss_clone *vc = ti->private;
	struct clone_io *io = dm_per_bio_data(bio, sizeof(struct clone_io));

	io->kind = CLONE_IO_PLAIN;

	if ((bio->bi_opf & REQ_PREFLUSH) && !bio_sectors(bio)) {
		enum clone_state state;

		if (dm_bio_get_target_bio_nr(bio) == 0) {
			bio_set_dev(bio, vc->source->bdev);
			return DM_MAPIO_REMAPPED;
		}
		spin_lock_irq(&vc->lock);
		state = vc->state;
		spin_unlock_irq(&vc->lock);
		if (state != CLONE_SYNCING && state != CLONE_MIRRORED) {
			bio_endio(bio);
			return DM_MAPIO_SUBMITTED;
		}
		io->kind = CLONE_IO_DEST_FLUSH;
		bio_set_dev(bio, vc->dest->bdev);
		return DM_MAPIO_REMAPPED;
	}

	WRITE_ONCE(vc->fg_last, jiffies);
	bio->bi_iter.bi_sector = dm_target_offset(ti, bio->bi_iter.bi_sector);

	if (!op_is_write(bio_op(bio))) {
		bio_set_dev(bio, vc->source->bdev);
		return DM_MAPIO_REMAPPED;
	}
	return clone_route_write(vc, bio);
}

static void clone_write_done(struct vss_clone *vc, struct clone_io *io,
			     blk_status_t status)
{
	struct clone_job *job;
	unsigned long flags;
	bool kick = false;

	spin_lock_irqsave(&vc->lock, flags);
	list_del(&io->inflight);
	if (!bio_list_empty(&io->waiters)) {
		bio_list_merge(&vc->retry, &io->waiters);
		bio_list_init(&io->waiters);
		queue_work(vc->wq, &vc->retry_work);
	}

	/*
	 * A write that failed on source may still have reached dest, and
	 * one may have done on source what dest could not: the regions no
	 * longer match, so copy them again (a copy that cannot read source
	 * then fails the clone).
	 */
	if ((status || io->dest_differs) &&
	    (vc->state == CLONE_SYNCING || vc->state == CLONE_MIRRORED) &&
	    __clone_any_synced(vc, io->first, io->end)) {
		__clone_clear_synced(vc, io->first, io->end);
		__clone_set_state(vc, CLONE_SYNCING);
		kick = true;
	}

	if (vc->nr_waiting_jobs) {
		list_for_each_entry(job, &vc->jobs, list) {
			if (!job->waiting_writes ||
			    !ranges_overlap(io->first, io->end, job->first,
					    job->first + job->nr))
				continue;
			if (!--job->waiting_writes) {
				vc->nr_waiting_jobs--;
				kick = true;
			}
		}
	}
	spin_unlock_irqrestore(&vc->lock, flags);

	if (kick)
		clone_kick(vc);
}

static int clone_end_io(struct dm_target *ti, struct bio *bio,
			blk_status_t *error)
{
	struct vss_clone *vc = ti->private;
	struct clone_io *io = dm_per_bio_data(bio, sizeof(struct clone_io));

	switch (io->kind) {
	case CLONE_IO_WRITE:
		clone_write_done(vc, io, *error);
		break;
	case CLONE_IO_DEST_FLUSH:
		if (*error) {
			clone_fail(vc, "flush error on dest");
			*error = BLK_STS_OK;
		}
		break;
	case CLONE_IO_PLAIN:
		break;
	}
	return DM_ENDIO_DONE;
}

/*---------------------------------------------------------------------------
 * Background copy
 *-------------------------------------------------------------------------*/

static void clone_copy_done(int read_err, unsigned long write_err,
			    void *context)
{
	struct clone_job *job = context;
	struct vss_clone *vc = job->vc;
	struct bio_list held;
	unsigned long flags;
	u64 took_ns = ktime_get_ns() - job->start_ns;

	spin_lock_irqsave(&vc->lock, flags);
	if (write_err)
		__clone_fail(vc, "write error on dest while copying");
	else if (read_err)
		__clone_fail(vc, "read error on source while copying");
	else
		__clone_set_synced(vc, job->first, job->first + job->nr);

	if (time_before(jiffies, READ_ONCE(vc->fg_last) + CLONE_BUSY_WINDOW))
		vc->next_copy = jiffies +
			max(1UL, nsecs_to_jiffies(took_ns * CLONE_BUSY_PAUSE));

	held = job->held;
	bio_list_init(&job->held);
	list_move(&job->list, &vc->free_jobs);
	vc->nr_jobs--;
	spin_unlock_irqrestore(&vc->lock, flags);

	clone_dispatch_held(vc, &held);
	clone_kick(vc);
	/* dtr destroys the kcopyd client, which waits for us to return. */
	wake_up(&vc->jobs_wait);
}

static void clone_start_job(struct vss_clone *vc, struct clone_job *job)
{
	sector_t start = region_to_sector(vc, job->first);
	sector_t end = min_t(sector_t, region_to_sector(vc, job->first + job->nr),
			     vc->ti->len);
	struct dm_io_region from = {
		.bdev = vc->source->bdev,
		.sector = start,
		.count = end - start,
	};
	struct dm_io_region to = {
		.bdev = vc->dest->bdev,
		.sector = start,
		.count = end - start,
	};

	job->start_ns = ktime_get_ns();
	dm_kcopyd_copy(vc->kc, &from, 1, &to, 0, clone_copy_done, job);
}

/*
 * Caller holds vc->lock.  Plan one copy of the next run of out-of-sync
 * regions, at most max_sectors long; false if there is none to plan.
 */
static bool __clone_plan_job(struct vss_clone *vc, sector_t max_sectors)
{
	unsigned long max_regions = max_t(unsigned long, 1,
					  max_sectors >> vc->region_shift);
	struct clone_job *job, *other;
	struct clone_io *io;
	unsigned long first, end, limit;
	unsigned int tries;

	if (list_empty(&vc->free_jobs))
		return false;

	/* Skip over the runs that jobs already cover; each is met once. */
	for (tries = 0; tries <= CLONE_MAX_JOBS + 1; tries++) {
		first = find_next_zero_bit(vc->in_sync, vc->nr_regions, vc->cursor);
		if (first >= vc->nr_regions) {
			first = find_first_zero_bit(vc->in_sync, vc->nr_regions);
			if (first >= vc->nr_regions)
				return false;
		}
		other = __clone_job_over(vc, first, first + 1);
		if (!other)
			break;
		vc->cursor = other->first + other->nr;
		if (vc->cursor >= vc->nr_regions)
			vc->cursor = 0;
	}
	if (tries > CLONE_MAX_JOBS + 1)
		return false;

	limit = min(vc->nr_regions, first + max_regions);
	list_for_each_entry(other, &vc->jobs, list)
		if (other->first > first && other->first < limit)
			limit = other->first;
	end = find_next_bit(vc->in_sync, limit, first);

	job = list_first_entry(&vc->free_jobs, struct clone_job, list);
	job->first = first;
	job->nr = end - first;
	job->started = false;
	job->waiting_writes = 0;
	bio_list_init(&job->held);
	list_for_each_entry(io, &vc->inflight, inflight)
		if (ranges_overlap(io->first, io->end, first, end))
			job->waiting_writes++;
	if (job->waiting_writes)
		vc->nr_waiting_jobs++;
	list_move_tail(&job->list, &vc->jobs);
	vc->nr_jobs++;
	vc->cursor = end < vc->nr_regions ? end : 0;
	return true;
}

static void clone_finish_sync(struct vss_clone *vc)
{
	int r;

	/* "mirrored" promises a dest that survives a power cut. */
	r = blkdev_issue_flush(vc->dest->bdev);

	spin_lock_irq(&vc->lock);
	if (r)
		__clone_fail(vc, "flush error on dest");
	else if (vc->state == CLONE_SYNCING && !vc->nr_jobs &&
		 vc->nr_synced == vc->nr_regions) {
		__clone_set_state(vc, CLONE_MIRRORED);
		DMINFO("vss-clone %s: dest is a full copy, mirrored", clone_name(vc));
	}
	spin_unlock_irq(&vc->lock);
}

static void clone_copy_worker(struct work_struct *work)
{
	struct vss_clone *vc = container_of(to_delayed_work(work),
					    struct vss_clone, copy_work);
	struct clone_job *start[CLONE_MAX_JOBS];
	struct clone_job *job;
	unsigned int nr_start = 0, i, max_jobs;
	unsigned long delay = 0;
	bool finished = false, busy;

	spin_lock_irq(&vc->lock);
	if (!vc->suspending && vc->state == CLONE_SYNCING) {
		busy = time_before(jiffies, READ_ONCE(vc->fg_last) + CLONE_BUSY_WINDOW);
		max_jobs = busy ? 1 : CLONE_IDLE_JOBS;
		if (busy && !vc->nr_jobs && time_before(jiffies, vc->next_copy)) {
			delay = min_t(unsigned long, vc->next_copy - jiffies, HZ);
		} else {
			while (vc->nr_jobs < max_jobs &&
			       __clone_plan_job(vc, busy ? CLONE_BUSY_JOB_SECTORS :
						CLONE_IDLE_JOB_SECTORS))
				;
		}
		if (!vc->nr_jobs && vc->nr_synced == vc->nr_regions)
			finished = true;
		else if (busy && !delay)
			/* See whether the device went idle meanwhile. */
			delay = CLONE_BUSY_WINDOW;
	}
	/* Even while suspending: held writes wait for these. */
	list_for_each_entry(job, &vc->jobs, list) {
		if (job->started || job->waiting_writes)
			continue;
		job->started = true;
		start[nr_start++] = job;
	}
	spin_unlock_irq(&vc->lock);

	for (i = 0; i < nr_start; i++)
		clone_start_job(vc, start[i]);
	if (finished)
		clone_finish_sync(vc);
	else if (delay)
		queue_delayed_work(vc->wq, &vc->copy_work, delay);
}

/*---------------------------------------------------------------------------
 * Reload: handing the state over to the next table of the same device
 *-------------------------------------------------------------------------*/

/*
 * A reload builds the new table while the old one still runs; a resume
 * then suspends the device, swaps the tables, resumes the new one and only
 * then destroys the old one.  So at its first preresume a new instance
 * looks for the instance it replaces (same device, same source, dest and
 * geometry, resumed before, suspended now) and takes over what that one
 * knew: its state and in_sync bitmap.  Without this a reload of a split
 * clone would start a full copy over the split image.  A failed clone
 * hands nothing over, so a reload is also how to retry after fixing dest.
 */
static void clone_take_over(struct vss_clone *new)
{
	struct vss_clone *old;
	unsigned long *bitmap;

	lockdep_assert_held(&clone_registry_lock);
	list_for_each_entry(old, &clone_registry, registry) {
		if (old == new || !old->resumed || old->md != new->md ||
		    old->source->bdev != new->source->bdev ||
		    old->dest->bdev != new->dest->bdev ||
		    old->region_sectors != new->region_sectors ||
		    old->ti->len != new->ti->len)
			continue;
		/* Never again: old is suspended and about to be destroyed. */
		old->resumed = false;
		if (old->state == CLONE_FAIL)
			return;
		/* Neither serves I/O now: old is suspended, new not resumed. */
		spin_lock_irq(&new->lock);
		bitmap = new->in_sync;
		new->in_sync = old->in_sync;
		old->in_sync = bitmap;
		new->nr_synced = old->nr_synced;
		new->state = old->state;
		spin_unlock_irq(&new->lock);
		DMINFO("vss-clone %s: reload keeps state %s with %lu of %lu regions in step",
		       clone_name(new), clone_state_names[new->state],
		       new->nr_synced, new->nr_regions);
		return;
	}
}

/*---------------------------------------------------------------------------
 * Target interface
 *-------------------------------------------------------------------------*/

static int clone_parse_features(struct vss_clone *vc, struct dm_arg_set *as,
				char **error)
{
	static const struct dm_arg features_arg = {
		0, 1, "Invalid number of feature arguments"
	};
	unsigned int argc;
	const char *name;
	int r;

	if (!as->argc)
		return 0;
	r = dm_read_arg_group(&features_arg, as, &argc, error);
	if (r)
		return r;
	while (argc--) {
		name = dm_shift_arg(as);
		if (!strcasecmp(name, "nosync")) {
			vc->nosync = true;
		} else {
			*error = "Unrecognised feature argument";
			return -EINVAL;
		}
	}
	if (as->argc) {
		*error = "Too many arguments";
		return -EINVAL;
	}
	return 0;
}

/*
 * Construct a split mirror:
 *
 *   vss-clone <source_dev> <dest_dev> <region_sectors>
 *             [<#feature_args> [nosync]]
 *
 * region_sectors: a power of two from 8 to 2097152.
 * nosync: dest already holds the same data as source; start mirrored.
 */
static int clone_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct dm_arg_set as = { .argc = argc, .argv = argv };
	struct vss_clone *vc;
	unsigned int region_sectors, i;
	sector_t source_size, dest_size;
	size_t bitmap_bytes;
	int r;

	if (argc < 3) {
		ti->error = "Not enough arguments: <source_dev> <dest_dev> <region_sectors> [<#feature_args> <feature_arg>*]";
		return -EINVAL;
	}

	vc = kzalloc(sizeof(*vc), GFP_KERNEL);
	if (!vc) {
		ti->error = "Cannot allocate the clone context";
		return -ENOMEM;
	}
	vc->ti = ti;
	spin_lock_init(&vc->lock);
	INIT_LIST_HEAD(&vc->inflight);
	INIT_LIST_HEAD(&vc->jobs);
	INIT_LIST_HEAD(&vc->free_jobs);
	for (i = 0; i < CLONE_MAX_JOBS; i++) {
		vc->job_pool[i].vc = vc;
		list_add_tail(&vc->job_pool[i].list, &vc->free_jobs);
	}
	init_waitqueue_head(&vc->jobs_wait);
	INIT_DELAYED_WORK(&vc->copy_work, clone_copy_worker);
	INIT_WORK(&vc->event_work, clone_event_worker);
	INIT_WORK(&vc->retry_work, clone_retry_worker);
	bio_list_init(&vc->retry);
	INIT_LIST_HEAD(&vc->registry);
	/* jiffies start near the wrap: a zero would read as "just now". */
	vc->fg_last = jiffies - CLONE_BUSY_WINDOW - 1;
	vc->next_copy = jiffies;

	r = dm_get_device(ti, dm_shift_arg(&as), dm_table_get_mode(ti->table),
			  &vc->source);
	if (r) {
		ti->error = "Cannot open source device";
		goto bad_free;
	}
	r = dm_get_device(ti, dm_shift_arg(&as), FMODE_READ | FMODE_WRITE,
			  &vc->dest);
	if (r) {
		ti->error = "Cannot open dest device";
		goto bad_put_source;
	}
	if (vc->source->bdev == vc->dest->bdev) {
		ti->error = "Source and dest are the same device";
		r = -EINVAL;
		goto bad_put_dest;
	}

	r = kstrtouint(dm_shift_arg(&as), 10, &region_sectors);
	if (r || region_sectors < CLONE_MIN_REGION_SECTORS ||
	    region_sectors > CLONE_MAX_REGION_SECTORS ||
	    !is_power_of_2(region_sectors)) {
		ti->error = "Invalid region size: need a power of two from 8 to 2097152 sectors";
		r = -EINVAL;
		goto bad_put_dest;
	}
	vc->region_sectors = region_sectors;
	vc->region_shift = __ffs(region_sectors);

	r = clone_parse_features(vc, &as, &ti->error);
	if (r)
		goto bad_put_dest;

	source_size = bdev_nr_sectors(vc->source->bdev);
	dest_size = bdev_nr_sectors(vc->dest->bdev);
	if (source_size < ti->len) {
		ti->error = "Source device is smaller than the target";
		r = -EINVAL;
		goto bad_put_dest;
	}
	if (dest_size < ti->len) {
		ti->error = "Dest device is smaller than source: it cannot hold a full copy";
		r = -EINVAL;
		goto bad_put_dest;
	}

	vc->nr_regions = dm_sector_div_up(ti->len, region_sectors);
	if (vc->nr_regions > CLONE_MAX_REGIONS) {
		ti->error = "Too many regions: use a larger region size";
		r = -EINVAL;
		goto bad_put_dest;
	}
	bitmap_bytes = BITS_TO_LONGS(vc->nr_regions) * sizeof(long);
	vc->in_sync = kvzalloc(bitmap_bytes, GFP_KERNEL);
	if (!vc->in_sync) {
		ti->error = "Cannot allocate the region bitmap";
		r = -ENOMEM;
		goto bad_put_dest;
	}
	if (vc->nosync) {
		bitmap_set(vc->in_sync, 0, vc->nr_regions);
		vc->nr_synced = vc->nr_regions;
		vc->state = CLONE_MIRRORED;
	} else {
		vc->state = CLONE_SYNCING;
	}

	/*
	 * The rescuer: map may allocate a dest bio while the ones it made
	 * before still wait on current->bio_list to be submitted.
	 */
	r = bioset_init(&vc->dest_bios, BIO_POOL_SIZE,
			offsetof(struct clone_dest_bio, bio), BIOSET_NEED_RESCUER);
	if (r) {
		ti->error = "Cannot allocate the dest bio set";
		goto bad_free_bitmap;
	}

	vc->kc = dm_kcopyd_client_create(NULL);
	if (IS_ERR(vc->kc)) {
		r = PTR_ERR(vc->kc);
		ti->error = "Cannot create the kcopyd client";
		goto bad_exit_bioset;
	}

	vc->wq = alloc_workqueue("vss-clone", WQ_MEM_RECLAIM, 0);
	if (!vc->wq) {
		r = -ENOMEM;
		ti->error = "Cannot create the workqueue";
		goto bad_destroy_kcopyd;
	}

	ti->num_flush_bios = 2;
	ti->num_discard_bios = 1;
	ti->num_write_zeroes_bios = 1;
	ti->per_io_data_size = sizeof(struct clone_io);
	ti->private = vc;

	vc->md = dm_table_get_md(ti->table);
	mutex_lock(&clone_registry_lock);
	list_add(&vc->registry, &clone_registry);
	mutex_unlock(&clone_registry_lock);
	return 0;

bad_destroy_kcopyd:
	dm_kcopyd_client_destroy(vc->kc);
bad_exit_bioset:
	bioset_exit(&vc->dest_bios);
bad_free_bitmap:
	kvfree(vc->in_sync);
bad_put_dest:
	dm_put_device(ti, vc->dest);
bad_put_source:
	dm_put_device(ti, vc->source);
bad_free:
	kfree(vc);
	return r;
}

/* Stop planning copies and wait for the running ones. */
static void clone_stop_copying(struct vss_clone *vc)
{
	spin_lock_irq(&vc->lock);
	vc->suspending = true;
	spin_unlock_irq(&vc->lock);
	wait_event(vc->jobs_wait, !READ_ONCE(vc->nr_jobs));
}

static void clone_dtr(struct dm_target *ti)
{
	struct vss_clone *vc = ti->private;

	clone_stop_copying(vc);
	/* Waits for the last copy callback to return. */
	dm_kcopyd_client_destroy(vc->kc);
	cancel_delayed_work_sync(&vc->copy_work);
	cancel_work_sync(&vc->event_work);
	destroy_workqueue(vc->wq);

	mutex_lock(&clone_registry_lock);
	list_del(&vc->registry);
	mutex_unlock(&clone_registry_lock);

	bioset_exit(&vc->dest_bios);
	kvfree(vc->in_sync);
	dm_put_device(ti, vc->dest);
	dm_put_device(ti, vc->source);
	kfree(vc);
}

static void clone_presuspend(struct dm_target *ti)
{
	struct vss_clone *vc = ti->private;

	/* Running copies finish: writes held behind them must drain. */
	spin_lock_irq(&vc->lock);
	vc->suspending = true;
	spin_unlock_irq(&vc->lock);
}

/*
 * The suspend did not happen (a filesystem that would not freeze, a signal
 * while waiting for in-flight I/O): plan copies again, as resume does.
 */
static void clone_presuspend_undo(struct dm_target *ti)
{
	struct vss_clone *vc = ti->private;

	spin_lock_irq(&vc->lock);
	vc->suspending = false;
	spin_unlock_irq(&vc->lock);
	clone_kick(vc);
}

static void clone_postsuspend(struct dm_target *ti)
{
	struct vss_clone *vc = ti->private;

	clone_stop_copying(vc);
	cancel_delayed_work_sync(&vc->copy_work);
}

static int clone_preresume(struct dm_target *ti)
{
	struct vss_clone *vc = ti->private;

	mutex_lock(&clone_registry_lock);
	if (!vc->resumed)
		clone_take_over(vc);
	vc->resumed = true;
	mutex_unlock(&clone_registry_lock);
	return 0;
}

static void clone_resume(struct dm_target *ti)
{
	struct vss_clone *vc = ti->private;

	spin_lock_irq(&vc->lock);
	vc->suspending = false;
	spin_unlock_irq(&vc->lock);
	clone_kick(vc);
}

static int clone_split(struct vss_clone *vc)
{
	enum clone_state state;
	int r;

	if (!dm_suspended(vc->ti)) {
		DMWARN("vss-clone %s: split refused: suspend the device first, so that dest is the image of one instant",
		       clone_name(vc));
		return -EBUSY;
	}
	spin_lock_irq(&vc->lock);
	state = vc->state;
	spin_unlock_irq(&vc->lock);
	if (state != CLONE_MIRRORED) {
		DMWARN("vss-clone %s: split refused: the clone is %s, not mirrored",
		       clone_name(vc), clone_state_names[state]);
		return -EBUSY;
	}

	/* The split image must be durable before writes stop reaching it. */
	r = blkdev_issue_flush(vc->dest->bdev);
	spin_lock_irq(&vc->lock);
	if (r)
		__clone_fail(vc, "flush error on dest at split");
	else if (vc->state == CLONE_MIRRORED)
		__clone_set_state(vc, CLONE_SPLIT);
	spin_unlock_irq(&vc->lock);
	if (r)
		return r;
	DMINFO("vss-clone %s: split: dest holds the image of this instant",
	       clone_name(vc));
	return 0;
}

static int clone_rejoin(struct vss_clone *vc)
{
	unsigned long written;

	spin_lock_irq(&vc->lock);
	if (vc->state != CLONE_SPLIT) {
		enum clone_state state = vc->state;

		spin_unlock_irq(&vc->lock);
		DMWARN("vss-clone %s: rejoin refused: the clone is %s, not split",
		       clone_name(vc), clone_state_names[state]);
		return -EBUSY;
	}
	written = vc->nr_regions - vc->nr_synced;
	vc->cursor = 0;
	__clone_set_state(vc, CLONE_SYNCING);
	spin_unlock_irq(&vc->lock);

	DMINFO("vss-clone %s: rejoin: copying the %lu regions written since the split",
	       clone_name(vc), written);
	clone_kick(vc);
	return 0;
}

/*
 * Messages:
 *   split    (device suspended, state mirrored) freeze dest as it is now
 *   rejoin   (state split) copy the regions written since, then mirror
 */
static int clone_message(struct dm_target *ti, unsigned int argc, char **argv,
			 char *result, unsigned int maxlen)
{
	struct vss_clone *vc = ti->private;

	if (argc != 1) {
		DMWARN("vss-clone %s: message '%s' refused: messages take no arguments",
		       clone_name(vc), argc ? argv[0] : "");
		return -EINVAL;
	}
	if (!strcasecmp(argv[0], "split"))
		return clone_split(vc);
	if (!strcasecmp(argv[0], "rejoin"))
		return clone_rejoin(vc);
	DMWARN("vss-clone %s: unrecognised message '%s' (expected split or rejoin)",
	       clone_name(vc), argv[0]);
	return -EINVAL;
}

/*
 * Status:
 *   <region_sectors> <synced_regions>/<total_regions> <state>
 * state: syncing, mirrored, split or fail.  synced_regions counts the
 * regions where dest holds what source holds (while split: those not
 * written since the split).
 */
static void clone_status(struct dm_target *ti, status_type_t type,
			 unsigned int status_flags, char *result,
			 unsigned int maxlen)
{
	struct vss_clone *vc = ti->private;
	unsigned int sz = 0;
	unsigned long synced;
	enum clone_state state;

	switch (type) {
	case STATUSTYPE_INFO:
		spin_lock_irq(&vc->lock);
		synced = vc->nr_synced;
		state = vc->state;
		spin_unlock_irq(&vc->lock);
		DMEMIT("%llu %lu/%lu %s", (unsigned long long)vc->region_sectors,
		       synced, vc->nr_regions, clone_state_names[state]);
		break;
	case STATUSTYPE_TABLE:
		DMEMIT("%s %s %llu", vc->source->name, vc->dest->name,
		       (unsigned long long)vc->region_sectors);
		if (vc->nosync)
			DMEMIT(" 1 nosync");
		break;
	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",source_device=%s,dest_device=%s,region_sectors=%llu,nosync=%c;",
		       vc->source->name, vc->dest->name,
		       (unsigned long long)vc->region_sectors,
		       vc->nosync ? 'y' : 'n');
		break;
	}
}

static int clone_iterate_devices(struct dm_target *ti,
				 iterate_devices_callout_fn fn, void *data)
{
	struct vss_clone *vc = ti->private;
	int r;

	r = fn(ti, vc->source, 0, ti->len, data);
	if (!r)
		r = fn(ti, vc->dest, 0, ti->len, data);
	return r;
}

static struct target_type clone_target = {
	.name = "vss-clone",
	.version = {1, 0, 0},
	.module = THIS_MODULE,
	.ctr = clone_ctr,
	.dtr = clone_dtr,
	.map = clone_map,
	.end_io = clone_end_io,
	.presuspend = clone_presuspend,
	.presuspend_undo = clone_presuspend_undo,
	.postsuspend = clone_postsuspend,
	.preresume = clone_preresume,
	.resume = clone_resume,
	.status = clone_status,
	.message = clone_message,
	.iterate_devices = clone_iterate_devices,
};

int vss_clone_init(void)
{
	int r = dm_register_target(&clone_target);

	if (r)
		DMERR("cannot register the vss-clone target: %d", r);
	return r;
}

void vss_clone_exit(void)
{
	dm_unregister_target(&clone_target);
}
