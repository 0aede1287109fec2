// SPDX-License-Identifier: GPL-2.0
/*
 * dm-vss: the vss-origin target.  It maps the origin device, sends the
 * first write to a chunk after a snapshot through the copy engine, takes
 * the create and delete messages, grows the store when its device grows
 * and reports the store's status.  The store and the copy engine it uses
 * are in dm-vss-cow.c.
 */
#include <linux/blkdev.h>
#include <linux/device-mapper.h>
#include <linux/log2.h>
#include <linux/mempool.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>

#include "dm-vss.h"
#include "dm-vss-metadata.h"
#include "dm-vss-cow.h"

static int vss_parse_features(struct dm_target *ti, struct vss_origin *o,
			      unsigned int argc, char **argv)
{
	unsigned int nr, i;
	char dummy;

	if (!argc)
		return 0;
	if (sscanf(argv[0], "%u%c", &nr, &dummy) != 1 || nr != argc - 1) {
		ti->error = "Feature argument count does not match the arguments given";
		return -EINVAL;
	}
	for (i = 1; i < argc; i++) {
		if (!strcasecmp(argv[i], "overflow_invalidate")) {
			o->overflow_invalidate = true;
		} else if (!strcasecmp(argv[i], "chunk_sectors")) {
			u32 cs;

			if (i + 1 >= argc || kstrtou32(argv[i + 1], 10, &cs) ||
			    cs < VSS_MIN_CHUNK_SECTORS || cs > VSS_MAX_CHUNK_SECTORS ||
			    !is_power_of_2(cs)) {
				ti->error = "chunk_sectors must be a power of two from 8 to 2048";
				return -EINVAL;
			}
			o->chunk_sectors_arg = cs;
			i++;
		} else {
			ti->error = "Unknown feature argument";
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * Construct a vss-origin:
 *   vss-origin <origin_dev> <store_dev> [<#feature_args> <feature_arg>*]
 * Features: chunk_sectors <n> (when formatting a zeroed store),
 *           overflow_invalidate.
 */
static int vss_origin_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct vss_origin *o;
	struct vss_store *s;
	int r;

	if (argc < 2) {
		ti->error = "Expected: <origin_dev> <store_dev> [<#feature_args> <feature_arg>*]";
		return -EINVAL;
	}
	o = kzalloc(sizeof(*o), GFP_KERNEL);
	if (!o) {
		ti->error = "Cannot allocate origin context";
		return -ENOMEM;
	}
	o->ti = ti;
	r = vss_parse_features(ti, o, argc - 2, argv + 2);
	if (r)
		goto bad_features;
	r = dm_get_device(ti, argv[0], dm_table_get_mode(ti->table), &o->origin);
	if (r) {
		ti->error = "Cannot open the origin device";
		goto bad_features;
	}
	r = dm_get_device(ti, argv[1], FMODE_READ | FMODE_WRITE, &o->store_dev);
	if (r) {
		ti->error = "Cannot open the store device";
		goto bad_store;
	}
	if (o->origin->bdev->bd_dev == o->store_dev->bdev->bd_dev) {
		ti->error = "The origin cannot be its own store";
		r = -EINVAL;
		goto bad_same;
	}
	/*
	 * A snapshot read of a sector of the origin's size may be mapped to
	 * the store, and the origin's last chunk may be shorter than a store
	 * sector: the store's sectors must be no larger than the origin's.
	 */
	if (bdev_logical_block_size(o->store_dev->bdev) > bdev_logical_block_size(o->origin->bdev)) {
		DMWARN("store %s has %u-byte sectors, origin %s %u-byte ones", argv[1],
		       bdev_logical_block_size(o->store_dev->bdev), argv[0],
		       bdev_logical_block_size(o->origin->bdev));
		ti->error = "The store's logical block size is larger than the origin's";
		r = -EINVAL;
		goto bad_same;
	}
	if (ti->begin != 0 || ti->len > bdev_nr_sectors(o->origin->bdev)) {
		ti->error = "The target must start at sector 0 and fit the origin device";
		r = -EINVAL;
		goto bad_same;
	}

	mutex_lock(&vss_stores_lock);
	s = __vss_store_find_loaded(o->store_dev->bdev->bd_dev);
	if (s) {
		if (s->origin_dev != o->origin->bdev->bd_dev || s->origin_sectors != ti->len) {
			ti->error = "The store is in use by another origin";
			r = -EBUSY;
			goto bad_unlock;
		}
		/*
		 * Only the device being reloaded: a create checks the
		 * suspension of its own device only, so writes through a
		 * second one would reach the origin in a snapshot's instant.
		 */
		if (s->nr_origins && s->md != dm_table_get_md(ti->table)) {
			ti->error = "The store is in use by another mapped device";
			r = -EBUSY;
			goto bad_unlock;
		}
		if (o->chunk_sectors_arg && o->chunk_sectors_arg != s->chunk_sectors) {
			ti->error = "chunk_sectors differs from the store's chunk size";
			r = -EINVAL;
			goto bad_unlock;
		}
	} else {
		s = __vss_store_load(ti, o->origin, o->store_dev, o->chunk_sectors_arg);
		if (IS_ERR(s)) {
			r = PTR_ERR(s);
			goto bad_unlock;
		}
	}
	s->refs++;
	s->nr_origins++;
	s->md = dm_table_get_md(ti->table);
	mutex_unlock(&vss_stores_lock);
	o->store = s;

	/* no max_io_len: vss_origin_map cuts writes at the chunks they copy */
	ti->num_flush_bios = 2;
	ti->num_discard_bios = 1;
	ti->accounts_remapped_io = true;
	ti->private = o;
	return 0;

bad_unlock:
	mutex_unlock(&vss_stores_lock);
bad_same:
	dm_put_device(ti, o->store_dev);
bad_store:
	dm_put_device(ti, o->origin);
bad_features:
	kfree(o);
	return r;
}

/*
 * A store whose device has grown (lvextend, losetup -c) grows into it: at
 * resume, as dm-thin's pool does, or without any suspension by the "grow"
 * message.  The new exception blocks are written with no lock held (at
 * resume, with the origin suspended, that is the whole wait); meta_lock is
 * taken only for the superblock and the switch to the new bitmap.  A
 * failure leaves the store as it was.  grow_lock keeps two grows apart.
 * Returns 0 when the store has the device's size (grown or already so).
 */
static int vss_grow(struct vss_store *s)
{
	sector_t sectors = bdev_nr_sectors(s->store_bdev);
	unsigned long *bitmap, *old;
	unsigned int noio;
	u64 data, old_data;
	int r = 0;

	mutex_lock(&s->grow_lock);
	mutex_lock(&s->meta_lock);
	data = vss_meta_grown_data_chunks(s->meta, sectors);
	old_data = s->data_chunks;
	mutex_unlock(&s->meta_lock);
	if (!data) {
		DMWARN("store %d:%d: the device (%llu sectors) is smaller than the store: "
		       "copies past its end will fail; give it back its size",
		       MAJOR(s->store_dev), MINOR(s->store_dev), (unsigned long long)sectors);
		r = -ENOSPC;
		goto out;
	}
	if (READ_ONCE(s->mode) != VSS_MODE_RW || data <= old_data)
		goto out;
	if (data >= U32_MAX) {
		DMWARN("store %d:%d: not grown: %llu data chunks would pass 2^32",
		       MAJOR(s->store_dev), MINOR(s->store_dev), (unsigned long long)data);
		r = -EFBIG;
		goto out;
	}
	noio = memalloc_noio_save();	/* the origin may be suspended */
	bitmap = kvcalloc(BITS_TO_LONGS(data), sizeof(long), GFP_KERNEL);
	memalloc_noio_restore(noio);
	if (!bitmap) {
		DMWARN("store %d:%d: not grown: no memory for the allocation bitmap",
		       MAJOR(s->store_dev), MINOR(s->store_dev));
		r = -ENOMEM;
		goto out;
	}
	r = vss_meta_grow_blocks(s->meta, old_data, data);
	mutex_lock(&s->meta_lock);
	if (!r)
		r = s->mode == VSS_MODE_RW ?
		    vss_meta_grow_commit(s->meta, old_data, sectors, data) : -EIO;
	if (r) {
		mutex_unlock(&s->meta_lock);
		DMWARN("store %d:%d: not grown: %d", MAJOR(s->store_dev), MINOR(s->store_dev), r);
		kvfree(bitmap);
		goto out;
	}
	DMINFO("store %d:%d grown from %llu to %llu data chunks", MAJOR(s->store_dev),
	       MINOR(s->store_dev), (unsigned long long)old_data, (unsigned long long)data);
	spin_lock_irq(&s->lock);
	memcpy(bitmap, s->bitmap, BITS_TO_LONGS(old_data) * sizeof(long));
	old = s->bitmap;
	s->bitmap = bitmap;
	s->data_chunks = data;
	s->usage_level = vss_usage_level(s);
	spin_unlock_irq(&s->lock);
	mutex_unlock(&s->meta_lock);
	kvfree(old);
out:
	mutex_unlock(&s->grow_lock);
	return r;
}

static int vss_origin_preresume(struct dm_target *ti)
{
	struct vss_origin *o = ti->private;

	vss_grow(o->store);	/* a failure is logged; the device resumes as it was */
	return 0;
}

/* Before the table goes (a reload, a remove): a failed store's invalidation. */
static void vss_origin_postsuspend(struct dm_target *ti)
{
	struct vss_origin *o = ti->private;

	mutex_lock(&o->store->meta_lock);
	vss_fail_make_durable(o->store, true);
	mutex_unlock(&o->store->meta_lock);
}

static void vss_origin_dtr(struct dm_target *ti)
{
	struct vss_origin *o = ti->private;

	mutex_lock(&o->store->event_lock);
	if (o->store->origin_ti == ti)
		o->store->origin_ti = NULL;
	mutex_unlock(&o->store->event_lock);
	mutex_lock(&vss_stores_lock);
	o->store->nr_origins--;
	__vss_store_put(o->store);
	mutex_unlock(&vss_stores_lock);
	dm_put_device(ti, o->store_dev);
	dm_put_device(ti, o->origin);
	kfree(o);
}


/*
 * How many of the n chunks from ochunk take an origin write as it is; *pe
 * is the pending copy of the chunk that ends the run, if it has one.
 */
static u32 __vss_nocopy_run(struct vss_store *s, u32 ochunk, u32 n, struct vss_pending **pe)
{
	u32 run;

	*pe = NULL;
	for (run = 0; run < n; run++) {
		*pe = __vss_pending_find(s, ochunk + run);
		if (*pe || __vss_needs_copy(s, ochunk + run))
			break;
	}
	return run;
}

/*
 * Discards are advisory: the chunks of one that a snapshot still reads from
 * the origin (or that are being copied) keep their data, and that part of
 * the discard is completed here; the chunks no snapshot needs are
 * discarded on the origin.  Copying a chunk only to discard it would fill
 * the store with free space at every fstrim.  Called with s->lock held
 * (taken with flags); releases it.
 */
static int __vss_origin_discard(struct vss_store *s, struct bio *bio, sector_t sector,
				unsigned long flags)
{
	u32 ochunk = sector >> s->chunk_shift, n = vss_bio_chunks(s, bio, sector), run;
	struct vss_pending *pe;
	bool keep;

	run = __vss_nocopy_run(s, ochunk, n, &pe);
	keep = !run;
	if (keep)
		for (run = 1; run < n; run++)
			if (!__vss_pending_find(s, ochunk + run) &&
			    !__vss_needs_copy(s, ochunk + run))
				break;
	spin_unlock_irqrestore(&s->lock, flags);
	if (run < n)
		dm_accept_partial_bio(bio, vss_run_sectors(s, sector, run));
	if (!keep)
		return DM_MAPIO_REMAPPED;
	bio_endio(bio);
	return DM_MAPIO_SUBMITTED;
}

static int vss_origin_map(struct dm_target *ti, struct bio *bio)
{
	struct vss_origin *o = ti->private;
	struct vss_store *s = o->store;
	struct vss_pending *pe, *spare;
	unsigned long flags;
	sector_t sector;
	u32 ochunk, d, n, run;

	if (bio->bi_opf & REQ_PREFLUSH) {
		bio_set_dev(bio, dm_bio_get_target_bio_nr(bio) ? o->store_dev->bdev :
			    o->origin->bdev);
		return DM_MAPIO_REMAPPED;
	}
	bio_set_dev(bio, o->origin->bdev);
	sector = bio->bi_iter.bi_sector = dm_target_offset(ti, bio->bi_iter.bi_sector);
	if (bio_data_dir(bio) == READ)
		return DM_MAPIO_REMAPPED;
	/*
	 * No valid snapshot: nothing to copy, and no lock or lookup taken.
	 * nr_live rises only in create, which runs with the origin suspended:
	 * no map call runs meanwhile, and the resume that follows orders what
	 * create wrote before the next one.  It falls to 0 by a delete (after
	 * which no copy is needed) or by vss_fail, which stores the FAIL mode
	 * first and nr_live with release: a 0 read here with acquire shows
	 * that mode too, and a failed store's writes take the locked path.
	 */
	if (!smp_load_acquire(&s->nr_live) && READ_ONCE(s->mode) == VSS_MODE_RW)
		return DM_MAPIO_REMAPPED;

	/*
	 * A write of chunks that need no copy goes as it is, whole; one that
	 * begins with a chunk to copy is cut at that chunk's end.
	 */
	ochunk = sector >> s->chunk_shift;
	n = vss_bio_chunks(s, bio, sector);
	spin_lock_irqsave(&s->lock, flags);
	if (unlikely(s->mode == VSS_MODE_FAIL && !s->fail_durable &&
		     !__vss_fail_backing_off(s))) {
		/* the worker writes the invalidation first, then sends it */
		if (n > 1)
			dm_accept_partial_bio(bio, vss_run_sectors(s, sector, 1));
		bio_list_add(&s->deferred, bio);
		spin_unlock_irqrestore(&s->lock, flags);
		vss_wake(s);
		return DM_MAPIO_SUBMITTED;
	}
	if (bio_op(bio) == REQ_OP_DISCARD)
		return __vss_origin_discard(s, bio, sector, flags);
	run = __vss_nocopy_run(s, ochunk, n, &pe);
	if (run) {
		spin_unlock_irqrestore(&s->lock, flags);
		if (run < n)
			dm_accept_partial_bio(bio, vss_run_sectors(s, sector, run));
		return DM_MAPIO_REMAPPED;
	}
	if (n > 1)
		dm_accept_partial_bio(bio, vss_run_sectors(s, sector, 1));
	if (pe) {
		bio_list_add(&pe->bios, bio);
		spin_unlock_irqrestore(&s->lock, flags);
		return DM_MAPIO_SUBMITTED;
	}

	/* Start the copy here; the worker takes over when that cannot be done. */
	spare = mempool_alloc(&s->pending_pool, GFP_NOWAIT | __GFP_NOWARN);
	if (spare && (d = __vss_alloc_data(s)) != VSS_NO_CHUNK) {
		__vss_pending_add(s, spare, ochunk, d, bio);
		spin_unlock_irqrestore(&s->lock, flags);
		vss_start_copy(s, spare);
		return DM_MAPIO_SUBMITTED;
	}
	bio_list_add(&s->deferred, bio);
	spin_unlock_irqrestore(&s->lock, flags);
	if (spare)
		mempool_free(spare, &s->pending_pool);
	vss_wake(s);
	return DM_MAPIO_SUBMITTED;
}

static void vss_origin_resume(struct dm_target *ti)
{
	struct vss_origin *o = ti->private;

	mutex_lock(&o->store->event_lock);
	o->store->origin_ti = ti;
	mutex_unlock(&o->store->event_lock);
	spin_lock_irq(&o->store->lock);
	o->store->overflow_invalidate = o->overflow_invalidate;
	spin_unlock_irq(&o->store->lock);
}

static int vss_msg_create(struct dm_target *ti, struct vss_store *s, u32 id)
{
	struct vss_snap *sn = NULL;
	u32 i, epoch;
	int r;

	if (!dm_suspended(ti)) {
		DMWARN("create %u: the origin must be suspended", id);
		return -EBUSY;
	}
	mutex_lock(&s->meta_lock);
	if (s->mode != VSS_MODE_RW) {
		DMWARN("create %u: the store has failed", id);
		r = -EIO;
		goto out;
	}
	if (__vss_snap_by_id(s, id)) {
		DMWARN("create %u: a snapshot with this id exists", id);
		r = -EEXIST;
		goto out;
	}
	for (i = 0; i < VSS_MAX_SNAPS; i++)
		if (s->snaps[i].state == VSS_SNAP_FREE && !s->draining[i]) {
			sn = &s->snaps[i];
			break;
		}
	epoch = vss_meta_next_epoch(s->meta);
	if (!sn || !epoch) {
		DMWARN("create %u: the store's snapshot table is full (%u)", id, VSS_MAX_SNAPS);
		r = -ENOSPC;
		goto out;
	}
	/*
	 * The snapshot reads the origin wherever nothing was copied: what
	 * the origin acknowledged before this instant must survive a power
	 * cut too, not only sit in its volatile cache.
	 */
	r = blkdev_issue_flush(s->origin_bdev);
	if (r) {
		DMWARN("create %u: cannot flush the origin: %d", id, r);
		goto out;
	}
	spin_lock_irq(&s->lock);
	sn->id = id;
	sn->epoch = epoch;
	sn->ctime = ktime_get_real_seconds();
	sn->copied = 0;
	sn->state = VSS_SNAP_VALID;
	spin_unlock_irq(&s->lock);
	vss_meta_set_last_epoch(s->meta, epoch);
	r = vss_meta_write_sb(s->meta);
	if (r) {
		/*
		 * The superblock may be on disk although its write or flush
		 * failed: a snapshot valid there but never protected here
		 * would read later writes after a reload.  The store fails
		 * instead (every snapshot invalid, written when it can be).
		 */
		vss_fail(s, "cannot write the superblock of a new snapshot");
		goto out;
	}
	spin_lock_irq(&s->lock);
	s->live[s->nr_live++] = epoch;	/* the newest epoch sorts last */
	spin_unlock_irq(&s->lock);
out:
	mutex_unlock(&s->meta_lock);
	return r;
}

static int vss_msg_delete(struct vss_store *s, u32 id)
{
	struct vss_snap *sn;
	int r;

	mutex_lock(&s->meta_lock);
	sn = __vss_snap_by_id(s, id);
	if (!sn) {
		DMWARN("delete %u: no such snapshot", id);
		r = -EINVAL;
	} else {
		r = vss_retire(s, &sn, 1, VSS_SNAP_FREE);
	}
	mutex_unlock(&s->meta_lock);
	return r;
}

static int vss_origin_message(struct dm_target *ti, unsigned int argc, char **argv,
			  char *result, unsigned int maxlen)
{
	struct vss_origin *o = ti->private;
	u32 id;

	if (argc == 1 && !strcasecmp(argv[0], "grow"))
		return vss_grow(o->store);
	if (argc != 2 || (strcasecmp(argv[0], "create") && strcasecmp(argv[0], "delete"))) {
		DMWARN("unrecognised message; expected: create <snap_id> | delete <snap_id> | grow");
		return -EINVAL;
	}
	if (kstrtou32(argv[1], 10, &id)) {
		DMWARN("%s: snap_id must be a decimal integer below 2^32", argv[0]);
		return -EINVAL;
	}
	if (!strcasecmp(argv[0], "create"))
		return vss_msg_create(ti, o->store, id);
	return vss_msg_delete(o->store, id);
}

/*
 * Status: <chunk_sectors> <used_chunks>/<total_chunks> <used_meta>/<total_meta>
 *         <snap_count> <mode> <index_bytes>
 */
static void vss_origin_status(struct dm_target *ti, status_type_t type,
			  unsigned int status_flags, char *result, unsigned int maxlen)
{
	struct vss_origin *o = ti->private;
	struct vss_store *s = o->store;
	unsigned int sz = 0, i, nr_snaps = 0, nr_features;
	u64 used, used_meta, total_meta;
	size_t index_bytes;
	bool failed;

	switch (type) {
	case STATUSTYPE_INFO:
		spin_lock_irq(&s->lock);
		used = s->data_used;
		failed = s->mode != VSS_MODE_RW;
		for (i = 0; i < VSS_MAX_SNAPS; i++)
			if (s->snaps[i].state != VSS_SNAP_FREE)
				nr_snaps++;
		index_bytes = vss_index_bytes(&s->index);
		spin_unlock_irq(&s->lock);
		vss_meta_usage(s->meta, used, &used_meta, &total_meta);
		DMEMIT("%u %llu/%llu %llu/%llu %u %s %zu", s->chunk_sectors,
		       (unsigned long long)used, (unsigned long long)s->data_chunks,
		       (unsigned long long)used_meta, (unsigned long long)total_meta,
		       nr_snaps, failed ? "fail" : "rw", index_bytes);
		break;
	case STATUSTYPE_TABLE:
		nr_features = (o->chunk_sectors_arg ? 2 : 0) + (o->overflow_invalidate ? 1 : 0);
		DMEMIT("%s %s", o->origin->name, o->store_dev->name);
		if (nr_features)
			DMEMIT(" %u", nr_features);
		if (o->chunk_sectors_arg)
			DMEMIT(" chunk_sectors %u", o->chunk_sectors_arg);
		if (o->overflow_invalidate)
			DMEMIT(" overflow_invalidate");
		break;
	case STATUSTYPE_IMA:
		*result = '\0';
		break;
	}
}

static int vss_origin_iterate_devices(struct dm_target *ti, iterate_devices_callout_fn fn,
				  void *data)
{
	struct vss_origin *o = ti->private;

	return fn(ti, o->origin, 0, ti->len, data);
}

static void vss_origin_io_hints(struct dm_target *ti, struct queue_limits *limits)
{
	struct vss_origin *o = ti->private;

	/*
	 * A discard is looked up chunk by chunk with the store's lock held:
	 * bound that walk.
	 */
	limits->max_discard_sectors = min_not_zero(limits->max_discard_sectors,
						   o->store->chunk_sectors * VSS_DISCARD_CHUNKS);
}

struct target_type vss_origin_target = {
	.name = "vss-origin",
	.version = {1, 2, 0},
	.module = THIS_MODULE,
	.ctr = vss_origin_ctr,
	.dtr = vss_origin_dtr,
	.map = vss_origin_map,
	.postsuspend = vss_origin_postsuspend,
	.preresume = vss_origin_preresume,
	.resume = vss_origin_resume,
	.message = vss_origin_message,
	.status = vss_origin_status,
	.iterate_devices = vss_origin_iterate_devices,
	.io_hints = vss_origin_io_hints,
};
