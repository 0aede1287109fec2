// SPDX-License-Identifier: GPL-2.0
/*
 * dm-vss: the vss-snap target, a read-only view of one snapshot of a
 * vss-origin's store (the store and copy engine: dm-vss-cow.c).
 */

#include <linux/blkdev.h>
#include <linux/device-mapper.h>
#include <linux/module.h>
#include <linux/slab.h>

#include "dm-vss-cow.h"

/*
 * Construct a vss-snap (read-only):
 *   vss-snap <origin_dev> <store_dev> <snap_id>
 */
static int vss_snap_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct vss_snap_c *st;
	struct vss_snap *sn;
	struct vss_store *s;
	int r;

	if (argc != 3) {
		ti->error = "Expected: <origin_dev> <store_dev> <snap_id>";
		return -EINVAL;
	}
	if (dm_table_get_mode(ti->table) & FMODE_WRITE) {
		ti->error = "vss-snap devices are read-only: load the table read-only";
		return -EROFS;
	}
	st = kzalloc(sizeof(*st), GFP_KERNEL);
	if (!st) {
		ti->error = "Cannot allocate snapshot context";
		return -ENOMEM;
	}
	if (kstrtou32(argv[2], 10, &st->id)) {
		ti->error = "snap_id must be a decimal integer below 2^32";
		r = -EINVAL;
		goto bad_id;
	}
	r = dm_get_device(ti, argv[0], FMODE_READ, &st->origin);
	if (r) {
		ti->error = "Cannot open the origin device";
		goto bad_id;
	}
	r = dm_get_device(ti, argv[1], FMODE_READ, &st->store_dev);
	if (r) {
		ti->error = "Cannot open the store device";
		goto bad_store;
	}

	mutex_lock(&vss_stores_lock);
	s = __vss_store_find_loaded(st->store_dev->bdev->bd_dev);
	if (!s || !s->nr_origins) {
		ti->error = "No vss-origin is loaded over this store: load the origin first";
		r = -ENODEV;
		goto bad_unlock;
	}
	if (s->origin_dev != st->origin->bdev->bd_dev) {
		ti->error = "The store belongs to another origin device";
		r = -EINVAL;
		goto bad_unlock;
	}
	if (ti->begin != 0 || ti->len > s->origin_sectors) {
		ti->error = "The target must start at sector 0 and fit the origin";
		r = -EINVAL;
		goto bad_unlock;
	}
	spin_lock_irq(&s->lock);
	sn = __vss_snap_by_id(s, st->id);
	if (sn) {
		st->slot = sn - s->snaps;
		st->epoch = sn->epoch;
	}
	spin_unlock_irq(&s->lock);
	if (!sn) {
		ti->error = "No snapshot with this id in the store";
		r = -ENOENT;
		goto bad_unlock;
	}
	s->refs++;
	mutex_unlock(&vss_stores_lock);
	st->store = s;

	/* no max_io_len: vss_snap_map cuts reads where their source changes */
	ti->num_flush_bios = 1;
	ti->per_io_data_size = sizeof(struct vss_snap_io);
	ti->private = st;
	return 0;

bad_unlock:
	mutex_unlock(&vss_stores_lock);
	dm_put_device(ti, st->store_dev);
bad_store:
	dm_put_device(ti, st->origin);
bad_id:
	kfree(st);
	return r;
}

static void vss_snap_dtr(struct dm_target *ti)
{
	struct vss_snap_c *st = ti->private;

	mutex_lock(&vss_stores_lock);
	__vss_store_put(st->store);
	mutex_unlock(&vss_stores_lock);
	dm_put_device(ti, st->store_dev);
	dm_put_device(ti, st->origin);
	kfree(st);
}

static bool __vss_snap_usable(struct vss_store *s, struct vss_snap_c *st)
{
	const struct vss_snap *sn = &s->snaps[st->slot];

	return s->mode == VSS_MODE_RW && sn->state == VSS_SNAP_VALID &&
	       sn->id == st->id && sn->epoch == st->epoch;
}

static int vss_snap_map(struct dm_target *ti, struct bio *bio)
{
	struct vss_snap_c *st = ti->private;
	struct vss_snap_io *io = dm_per_bio_data(bio, sizeof(*io));
	struct vss_store *s = st->store;
	const struct vss_ient *e;
	unsigned long flags;
	sector_t sector;
	u32 ochunk, n, run;

	io->kind = VSS_IO_NONE;
	if (bio->bi_opf & REQ_PREFLUSH) {
		bio_set_dev(bio, st->origin->bdev);
		return DM_MAPIO_REMAPPED;
	}
	if (bio_data_dir(bio) != READ)
		return DM_MAPIO_KILL;

	sector = dm_target_offset(ti, bio->bi_iter.bi_sector);
	ochunk = sector >> s->chunk_shift;
	spin_lock_irqsave(&s->lock, flags);
	if (!__vss_snap_usable(s, st)) {
		spin_unlock_irqrestore(&s->lock, flags);
		return DM_MAPIO_KILL;
	}
	/*
	 * A read goes whole while its chunks come from one place: the origin,
	 * or store chunks that follow each other; it is cut where that changes.
	 */
	n = vss_bio_chunks(s, bio, sector);
	e = vss_index_find(&s->index, ochunk, st->epoch);
	if (e) {
		u64 first = vss_data_to_chunk(e->data, s->chunk_sectors);

		for (run = 1; run < n; run++) {
			e = vss_index_find(&s->index, ochunk + run, st->epoch);
			if (!e || vss_data_to_chunk(e->data, s->chunk_sectors) != first + run)
				break;
		}
		bio_set_dev(bio, st->store_dev->bdev);
		bio->bi_iter.bi_sector = (first << s->chunk_shift) +
					 (sector & (s->chunk_sectors - 1));
		io->kind = VSS_IO_STORE;
	} else {
		for (run = 1; run < n; run++)
			if (vss_index_find(&s->index, ochunk + run, st->epoch))
				break;
		bio_set_dev(bio, st->origin->bdev);
		bio->bi_iter.bi_sector = sector;
		io->kind = VSS_IO_ORIGIN;
		io->ochunk = ochunk;
		io->nr_chunks = run;
		hlist_add_head(&io->node, run == 1 ?
			       &s->tracked[hash_32(ochunk, VSS_TRACK_BITS)] : &s->tracked_runs);
	}
	atomic_inc(&s->snap_reads[st->slot]);
	if (run < n)
		dm_accept_partial_bio(bio, vss_run_sectors(s, sector, run));
	spin_unlock_irqrestore(&s->lock, flags);
	return DM_MAPIO_REMAPPED;
}

static int vss_snap_end_io(struct dm_target *ti, struct bio *bio, blk_status_t *error)
{
	struct vss_snap_c *st = ti->private;
	struct vss_snap_io *io = dm_per_bio_data(bio, sizeof(*io));
	struct vss_store *s = st->store;
	unsigned long flags;
	bool wake;

	if (io->kind == VSS_IO_ORIGIN) {
		spin_lock_irqsave(&s->lock, flags);
		hlist_del(&io->node);
		wake = !list_empty(&s->committed);
		spin_unlock_irqrestore(&s->lock, flags);
		if (wake)
			vss_wake(s);
	}
	if (io->kind != VSS_IO_NONE && atomic_dec_and_test(&s->snap_reads[st->slot]) &&
	    wq_has_sleeper(&s->reads_wait))
		wake_up(&s->reads_wait);
	io->kind = VSS_IO_NONE;
	return DM_ENDIO_DONE;
}

/* Status: <snap_id> <state> <copied_chunks> */
static void vss_snap_status(struct dm_target *ti, status_type_t type,
			unsigned int status_flags, char *result, unsigned int maxlen)
{
	struct vss_snap_c *st = ti->private;
	struct vss_store *s = st->store;
	unsigned int sz = 0;
	bool valid;
	u64 copied;

	switch (type) {
	case STATUSTYPE_INFO:
		spin_lock_irq(&s->lock);
		valid = __vss_snap_usable(s, st);
		copied = valid ? s->snaps[st->slot].copied : 0;
		spin_unlock_irq(&s->lock);
		DMEMIT("%u %s %llu", st->id, valid ? "valid" : "invalid",
		       (unsigned long long)copied);
		break;
	case STATUSTYPE_TABLE:
		DMEMIT("%s %s %u", st->origin->name, st->store_dev->name, st->id);
		break;
	case STATUSTYPE_IMA:
		*result = '\0';
		break;
	}
}

static int vss_snap_iterate_devices(struct dm_target *ti, iterate_devices_callout_fn fn,
				void *data)
{
	struct vss_snap_c *st = ti->private;

	return fn(ti, st->origin, 0, ti->len, data);
}

struct target_type vss_snap_target = {
	.name = "vss-snap",
	.version = {1, 0, 0},
	.module = THIS_MODULE,
	.ctr = vss_snap_ctr,
	.dtr = vss_snap_dtr,
	.map = vss_snap_map,
	.end_io = vss_snap_end_io,
	.status = vss_snap_status,
	.iterate_devices = vss_snap_iterate_devices,
};
