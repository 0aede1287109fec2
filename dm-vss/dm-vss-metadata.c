// SPDX-License-Identifier: GPL-2.0
/*
 * dm-vss: on-disk metadata of a copy-on-write store, and the in-core index
 * of its copied chunks.  The format is described in vss-ondisk.h and
 * doc/on-disk-format.rst.
 */
#include <linux/device-mapper.h>
#include <linux/dm-bufio.h>
#include <linux/dm-io.h>
#include <linux/crc32c.h>
#include <linux/ioprio.h>
#include <linux/mm.h>
#include <linux/random.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/timekeeping.h>
#include <linux/vmalloc.h>

#include "dm-vss.h"
#include "dm-vss-metadata.h"

#define VSS_BUFIO_RESERVED 16
#define VSS_MAX_TOUCHED 32

struct vss_meta {
	struct dm_bufio_client *bufio;
	struct block_device *bdev;
	/*
	 * Exception blocks changed since the last commit, held in the buffer
	 * cache but never marked dirty: vss_meta_write_records() writes them
	 * itself, beside the copies, and vss_meta_sync() flushes both.
	 */
	struct dm_buffer *touched[VSS_MAX_TOUCHED];
	u32 nr_touched;
	/* Commits: the last one flushed, the one on disk as synced_seq. */
	u32 commit_seq;
	u32 synced_seq;
	u32 version;			/* as loaded (1 becomes 2); a format writes VSS_FORMAT_VERSION */
	u32 unsynced_records;
	u64 unsynced_bytes;
	struct vss_meta_info info;
	u64 store_chunks;
	u64 seq;
	u32 last_epoch;
	u8 uuid[16];
	struct vss_snap snaps[VSS_MAX_SNAPS];
};

/* ---- checksums ---- */

static u32 vss_block_csum(const void *block)
{
	return crc32c(0xFFFFFFFF, (const u8 *)block + VSS_CSUM_START,
		      VSS_BLOCK_SIZE - VSS_CSUM_START) ^ VSS_CSUM_XOR;
}

static bool vss_block_verify(const void *block, u32 magic)
{
	const __le32 *w = block;

	return le32_to_cpu(w[0]) == magic &&
	       le32_to_cpu(w[1]) == vss_block_csum(block);
}

static void vss_block_seal(void *block, u32 magic)
{
	__le32 *w = block;

	w[0] = cpu_to_le32(magic);
	w[1] = cpu_to_le32(vss_block_csum(block));
}

/* ---- index ---- */

int vss_index_init(struct vss_index *index, u32 size)
{
	unsigned int noio = memalloc_noio_save();

	index->slots = kvcalloc(size, sizeof(*index->slots), GFP_KERNEL);
	memalloc_noio_restore(noio);
	if (!index->slots)
		return -ENOMEM;
	index->size = size;
	index->count = 0;
	return 0;
}

void vss_index_free(struct vss_index *index)
{
	kvfree(index->slots);
	index->slots = NULL;
	index->size = index->count = 0;
}

size_t vss_index_bytes(const struct vss_index *index)
{
	return (size_t)index->size * sizeof(*index->slots);
}

/*
 * Grow so that 'more' entries fit at <= 7/8 load, to 3/4 load: the table
 * stays between 3/4 and 7/8 full as chunks are copied, 13.7 to 16 bytes per
 * copied chunk, and grows by a sixth or more at a time.
 */
int vss_index_reserve(struct vss_index *index, u32 more, spinlock_t *lock)
{
	struct vss_index bigger;
	u64 want = (u64)index->count + more;
	u64 t0, t = 0;
	u64 size;
	u32 i;
	int r;

	if (want * 8 <= (u64)index->size * 7)
		return 0;
	size = max_t(u64, want * 4 / 3 + 1, 256);
	if (size > U32_MAX / 2)
		return -ENOSPC;
	t0 = vss_fault_clock();
	r = vss_index_init(&bigger, (u32)size);
	if (r)
		return r;
	/*
	 * The caller holds the store's meta_lock, and only its holder changes
	 * the index: the entries are copied with the lock free (lookups go on
	 * meanwhile), and only the swap takes it.
	 */
	for (i = 0; i < index->size; i++) {
		if (index->slots[i].epoch)
			vss_index_insert(&bigger, index->slots[i].ochunk,
					 index->slots[i].data, index->slots[i].epoch);
		if ((i & 65535) == 65535)
			cond_resched();
	}
	if (lock) {
		spin_lock_irq(lock);
		t = vss_fault_clock();
	}
	swap(*index, bigger);
	if (lock) {
		vss_fault_note_hold(vss_fault_clock() - t);
		spin_unlock_irq(lock);
	}
	vss_index_free(&bigger);
	vss_fault_note_walk(vss_fault_clock() - t0);
	return 0;
}

/* ---- superblock ---- */

static void vss_sb_fill(struct vss_meta *meta, struct vss_sb_disk *sb)
{
	u32 i, n = 0;

	memset(sb, 0, VSS_BLOCK_SIZE);
	sb->version = cpu_to_le32(meta->version);
	sb->seq = cpu_to_le64(meta->seq);
	sb->origin_sectors = cpu_to_le64(meta->info.origin_sectors);
	sb->store_chunks = cpu_to_le64(meta->store_chunks);
	sb->chunk_sectors = cpu_to_le32(meta->info.chunk_sectors);
	sb->last_epoch = cpu_to_le32(meta->last_epoch);
	sb->synced_seq = cpu_to_le32(meta->commit_seq);
	sb->data_chunks = cpu_to_le64(meta->info.data_chunks);
	memcpy(sb->uuid, meta->uuid, sizeof(sb->uuid));
	for (i = 0; i < VSS_MAX_SNAPS; i++) {
		const struct vss_snap *s = &meta->snaps[i];

		if (s->state == VSS_SNAP_FREE)
			continue;
		n++;
		sb->snaps[i].snap_id = cpu_to_le32(s->id);
		sb->snaps[i].state = cpu_to_le32(s->state);
		sb->snaps[i].epoch = cpu_to_le32(s->epoch);
		sb->snaps[i].ctime = cpu_to_le64(s->ctime);
	}
	sb->nr_snaps = cpu_to_le32(n);
	vss_block_seal(sb, VSS_SB_MAGIC);
}

/* Copy A holds odd sequence numbers, copy B even ones. */
static sector_t vss_sb_block(u64 seq)
{
	return (seq & 1) ? VSS_SB_OFFSET_A / VSS_BLOCK_SIZE : VSS_SB_OFFSET_B / VSS_BLOCK_SIZE;
}

static int vss_sb_put(struct vss_meta *meta)
{
	struct dm_buffer *b;
	void *data;

	data = dm_bufio_new(meta->bufio, vss_sb_block(meta->seq), &b);
	if (IS_ERR(data))
		return PTR_ERR(data);
	vss_sb_fill(meta, data);
	dm_bufio_mark_buffer_dirty(b);
	dm_bufio_release(b);
	return 0;
}

int vss_meta_write_sb(struct vss_meta *meta)
{
	int r;

	meta->seq++;
	r = vss_sb_put(meta);
	if (!r)
		r = dm_bufio_write_dirty_buffers(meta->bufio);	/* and flushes */
	if (r) {
		DMERR_LIMIT("store: superblock write failed: %d", r);
		meta->seq--;
		return r;
	}
	meta->synced_seq = meta->commit_seq;
	meta->unsynced_records = 0;
	meta->unsynced_bytes = 0;
	return 0;
}

int vss_meta_flush(struct vss_meta *meta)
{
	return dm_bufio_issue_flush(meta->bufio);
}

/* ---- exception blocks ---- */

static int vss_exc_get(struct vss_meta *meta, u64 data, struct dm_buffer **bp,
		       struct vss_exc_block_disk **blockp)
{
	sector_t blocknr = vss_data_to_block(data, meta->info.chunk_sectors);
	struct vss_exc_block_disk *block;

	block = dm_bufio_read(meta->bufio, blocknr, bp);
	if (IS_ERR(block))
		return PTR_ERR(block);
	if (!vss_block_verify(block, VSS_EXC_MAGIC) ||
	    le64_to_cpu(block->blocknr) != blocknr) {
		DMERR("store: exception block %llu is corrupt", (unsigned long long)blocknr);
		dm_bufio_release(*bp);
		return -EUCLEAN;
	}
	*blockp = block;
	return 0;
}

static u32 vss_next_seq(u32 seq)
{
	return seq + 1 ? seq + 1 : 1;	/* 0 is "never checked" */
}

/* The crc32c of a copy, not finished: vss_rec_csum() finishes it. */
u32 vss_copy_crc(const void *data, size_t len)
{
	return crc32c(0xFFFFFFFF, data, len);
}

/* A record's data_csum from its copy's crc: version 3 covers the record too. */
static u32 vss_rec_csum(u32 version, u32 copy_crc, const struct vss_exc_disk *rec)
{
	if (version >= 3)
		copy_crc = crc32c(copy_crc, rec, VSS_REC_CSUM_BYTES);
	return copy_crc ^ VSS_CSUM_XOR;
}

int vss_meta_set_record(struct vss_meta *meta, u64 data, u64 ochunk, u32 epoch,
			u32 copy_crc)
{
	sector_t blocknr = vss_data_to_block(data, meta->info.chunk_sectors);
	struct vss_exc_block_disk *block = NULL;
	struct vss_exc_disk *rec;
	struct dm_buffer *b;
	u32 i;
	int r;

	for (i = 0; i < meta->nr_touched; i++)
		if (dm_bufio_get_block_number(meta->touched[i]) == blocknr) {
			block = dm_bufio_get_block_data(meta->touched[i]);
			break;
		}
	if (!block) {
		if (meta->nr_touched == VSS_MAX_TOUCHED) {
			r = vss_meta_write_records(meta);
			if (r)
				return r;
		}
		r = vss_exc_get(meta, data, &b, &block);
		if (r)
			return r;
		meta->touched[meta->nr_touched++] = b;
	}
	rec = &block->rec[vss_data_to_record(data, meta->info.chunk_sectors)];
	rec->origin_chunk = cpu_to_le32(ochunk);
	rec->seq = cpu_to_le32(vss_next_seq(meta->commit_seq));
	rec->epoch = cpu_to_le32(epoch);
	rec->data_csum = cpu_to_le32(vss_rec_csum(meta->version, copy_crc, rec));
	vss_block_seal(block, VSS_EXC_MAGIC);
	return 0;
}

void vss_io_wait_init(struct vss_io_wait *w)
{
	atomic_set(&w->pending, 1);
	atomic_set(&w->errors, 0);
	init_completion(&w->done);
}

void vss_io_wait_one(unsigned long error, void *context)
{
	struct vss_io_wait *w = context;

	if (error)
		atomic_inc(&w->errors);
	if (atomic_dec_and_test(&w->pending))
		complete(&w->done);
}

int vss_io_wait_all(struct vss_io_wait *w)
{
	if (!atomic_dec_and_test(&w->pending))
		wait_for_completion_io(&w->done);
	return atomic_read(&w->errors) ? -EIO : 0;
}

/* Starts writing b's block; io counts it. */
static void vss_write_block_async(struct vss_meta *meta, struct dm_buffer *b,
				  struct vss_io_wait *io)
{
	struct dm_io_region region = {
		.bdev = meta->bdev,
		.sector = dm_bufio_get_block_number(b) << (VSS_BLOCK_SHIFT - VSS_SECTOR_SHIFT),
		.count = VSS_BLOCK_SIZE >> VSS_SECTOR_SHIFT,
	};
	struct dm_io_request req = {
		.bi_opf = REQ_OP_WRITE | REQ_SYNC,
		.mem.type = DM_IO_KMEM,
		.mem.ptr.addr = dm_bufio_get_block_data(b),
		.notify.fn = vss_io_wait_one,
		.notify.context = io,
		.client = dm_bufio_get_dm_io_client(meta->bufio),
	};
	unsigned long error_bits = 0;

	atomic_inc(&io->pending);
	dm_io(&req, 1, &region, &error_bits, IOPRIO_DEFAULT);
}

/* Forget uncommitted record changes: the cache must not keep them. */
void vss_meta_discard(struct vss_meta *meta)
{
	u32 i;

	for (i = 0; i < meta->nr_touched; i++) {
		sector_t blocknr = dm_bufio_get_block_number(meta->touched[i]);

		dm_bufio_release(meta->touched[i]);
		dm_bufio_forget(meta->bufio, blocknr);
	}
	meta->nr_touched = 0;
}

/* All the changed blocks are written at once, and waited for together. */
int vss_meta_write_records(struct vss_meta *meta)
{
	struct vss_io_wait io;
	int r;
	u32 i;

	if (!meta->nr_touched)
		return 0;
	vss_io_wait_init(&io);
	for (i = 0; i < meta->nr_touched; i++)
		vss_write_block_async(meta, meta->touched[i], &io);
	r = vss_io_wait_all(&io);
	for (i = 0; i < meta->nr_touched; i++) {
		sector_t blocknr = dm_bufio_get_block_number(meta->touched[i]);

		dm_bufio_release(meta->touched[i]);
		if (r)	/* the cached copy may not be what the disk holds: drop it */
			dm_bufio_forget(meta->bufio, blocknr);
	}
	meta->nr_touched = 0;
	if (r)
		DMERR_LIMIT("store: metadata commit failed: %d", r);
	return r;
}

/*
 * Checkpoint after this many records or bytes of copies: what a load may
 * have to read back to check copies.  Each commit has a record, so the
 * commits between checkpoints stay far below VSS_SEQ_WINDOW.
 */
#define VSS_SYNC_RECORDS	256U
#define VSS_SYNC_BYTES		(16ULL << 20)

int vss_meta_checkpoint(struct vss_meta *meta)
{
	return meta->commit_seq == meta->synced_seq ? 0 : vss_meta_write_sb(meta);
}

int vss_meta_sync(struct vss_meta *meta, u32 records, u64 bytes)
{
	int r = dm_bufio_issue_flush(meta->bufio);

	if (r) {
		DMERR_LIMIT("store: flush failed: %d", r);
		return r;
	}
	meta->commit_seq = vss_next_seq(meta->commit_seq);
	meta->unsynced_records += records;
	meta->unsynced_bytes += bytes;
	if (meta->unsynced_records < VSS_SYNC_RECORDS && meta->unsynced_bytes < VSS_SYNC_BYTES &&
	    (u32)(meta->commit_seq - meta->synced_seq) < VSS_SYNC_RECORDS)
		return 0;
	return vss_meta_write_sb(meta);
}

/* ---- format and load ---- */

/*
 * Write empty exception blocks for data chunks [from, to), from a multiple
 * of VSS_RECORDS_PER_BLOCK (not flushed).
 */
static int vss_write_empty_blocks(struct vss_meta *meta, u64 from, u64 to)
{
	u32 cs = meta->info.chunk_sectors;
	u64 d;
	int r;

	for (d = from; d < to; d += VSS_RECORDS_PER_BLOCK) {
		sector_t blocknr = vss_data_to_block(d, cs);
		struct vss_exc_block_disk *block;
		struct dm_buffer *b;

		block = dm_bufio_new(meta->bufio, blocknr, &b);
		if (IS_ERR(block))
			return PTR_ERR(block);
		memset(block, 0, VSS_BLOCK_SIZE);
		block->blocknr = cpu_to_le64(blocknr);
		vss_block_seal(block, VSS_EXC_MAGIC);
		dm_bufio_mark_buffer_dirty(b);
		dm_bufio_release(b);
		if ((d / VSS_RECORDS_PER_BLOCK) % 256 == 255) {
			r = dm_bufio_write_dirty_buffers(meta->bufio);
			if (r)
				return r;
		}
		cond_resched();
	}
	return dm_bufio_write_dirty_buffers(meta->bufio);
}

static int vss_format(struct vss_meta *meta)
{
	int r;

	r = vss_write_empty_blocks(meta, 0, meta->info.data_chunks);
	if (r)
		return r;
	/* Copy B (seq 0), then everything durable, then copy A (seq 1). */
	meta->seq = 0;
	r = vss_sb_put(meta);
	if (!r)
		r = dm_bufio_write_dirty_buffers(meta->bufio);	/* and flushes */
	if (!r)
		r = vss_meta_write_sb(meta);
	return r;
}

static bool vss_sb_copy_valid(const struct vss_sb_disk *sb)
{
	return vss_block_verify(sb, VSS_SB_MAGIC);
}

static int vss_sb_read_copy(struct vss_meta *meta, sector_t block,
			    struct vss_sb_disk *copy, bool *valid, bool *magic)
{
	struct dm_buffer *b;
	void *data = dm_bufio_read(meta->bufio, block, &b);

	if (IS_ERR(data))
		return PTR_ERR(data);
	memcpy(copy, data, VSS_BLOCK_SIZE);
	dm_bufio_release(b);
	*magic = le32_to_cpu(copy->magic) == VSS_SB_MAGIC;
	*valid = vss_sb_copy_valid(copy);
	return 0;
}

static bool vss_all_zero(const void *p, size_t len)
{
	return !memchr_inv(p, 0, len);
}

/* Validates the chosen superblock and fills meta from it. */
static int vss_sb_load(struct vss_meta *meta, const struct vss_sb_disk *sb,
		       sector_t store_sectors, sector_t origin_sectors, char **error)
{
	u32 cs = le32_to_cpu(sb->chunk_sectors);
	u64 store_chunks = le64_to_cpu(sb->store_chunks);
	u32 i, n = 0;

	if (le32_to_cpu(sb->version) < VSS_FORMAT_VERSION_MIN ||
	    le32_to_cpu(sb->version) > VSS_FORMAT_VERSION) {
		*error = "Store has an unsupported format version";
		return -EINVAL;
	}
	if (le32_to_cpu(sb->flags)) {
		*error = "Store has unknown feature flags";
		return -EINVAL;
	}
	if (cs < VSS_MIN_CHUNK_SECTORS || cs > VSS_MAX_CHUNK_SECTORS || (cs & (cs - 1))) {
		*error = "Store superblock has an invalid chunk size";
		return -EINVAL;
	}
	if (le64_to_cpu(sb->origin_sectors) != origin_sectors) {
		*error = "Store belongs to an origin of another size";
		return -EINVAL;
	}
	if (store_chunks > store_sectors / cs) {
		*error = "Store device is smaller than its superblock says";
		return -EINVAL;
	}
	if (le64_to_cpu(sb->data_chunks) != vss_data_chunks(store_chunks, cs) ||
	    !le64_to_cpu(sb->data_chunks)) {
		*error = "Store superblock geometry is inconsistent";
		return -EINVAL;
	}
	meta->info.chunk_sectors = cs;
	meta->store_chunks = store_chunks;
	meta->info.data_chunks = le64_to_cpu(sb->data_chunks);
	meta->seq = le64_to_cpu(sb->seq);
	meta->last_epoch = le32_to_cpu(sb->last_epoch);
	/* version 1 has 0 there, and no record of version 1 is checked */
	meta->version = le32_to_cpu(sb->version);
	meta->synced_seq = meta->version > 1 ? le32_to_cpu(sb->synced_seq) : 0;
	meta->commit_seq = meta->synced_seq;
	memcpy(meta->uuid, sb->uuid, sizeof(meta->uuid));

	for (i = 0; i < VSS_MAX_SNAPS; i++) {
		const struct vss_snap_disk *d = &sb->snaps[i];
		struct vss_snap *s = &meta->snaps[i];
		u32 j;

		s->state = le32_to_cpu(d->state);
		s->id = le32_to_cpu(d->snap_id);
		s->epoch = le32_to_cpu(d->epoch);
		s->ctime = le64_to_cpu(d->ctime);
		s->copied = 0;
		if (s->state == VSS_SNAP_FREE)
			continue;
		n++;
		if (s->state > VSS_SNAP_DROPPED || !s->epoch || s->epoch > meta->last_epoch) {
			*error = "Store snapshot table is corrupt";
			return -EUCLEAN;
		}
		for (j = 0; j < i; j++) {
			if (meta->snaps[j].state != VSS_SNAP_FREE &&
			    (meta->snaps[j].id == s->id || meta->snaps[j].epoch == s->epoch)) {
				*error = "Store snapshot table has duplicate entries";
				return -EUCLEAN;
			}
		}
	}
	if (n != le32_to_cpu(sb->nr_snaps)) {
		*error = "Store snapshot table count is inconsistent";
		return -EUCLEAN;
	}
	return 0;
}

static int vss_cmp_u32(const void *a, const void *b)
{
	u32 x = *(const u32 *)a, y = *(const u32 *)b;

	return x < y ? -1 : x > y;
}

void vss_io_mem(struct dm_io_request *req, void *buf)
{
	if (is_vmalloc_addr(buf)) {
		req->mem.type = DM_IO_VMA;
		req->mem.ptr.vma = buf;
	} else {
		req->mem.type = DM_IO_KMEM;
		req->mem.ptr.addr = buf;
	}
}

/*
 * Whether data chunk d holds the copy record e describes (its data_csum:
 * vss-ondisk.h): 1 if so, 0 if not, or an error.
 */
static int vss_copy_matches(struct vss_meta *meta, void **buf, u64 d,
			    const struct vss_exc_disk *e)
{
	u32 cs = meta->info.chunk_sectors;
	u64 len = vss_copy_bytes(meta->info.origin_sectors, cs, le32_to_cpu(e->origin_chunk));
	struct dm_io_region region = {
		.bdev = meta->bdev,
		.sector = vss_data_to_chunk(d, cs) * cs,
		.count = len >> VSS_SECTOR_SHIFT,
	};
	struct dm_io_request req = {
		.bi_opf = REQ_OP_READ,
		.client = dm_bufio_get_dm_io_client(meta->bufio),
	};
	unsigned long error_bits = 0;
	int r;

	if (!*buf) {
		*buf = kvmalloc((size_t)cs << VSS_SECTOR_SHIFT, GFP_KERNEL);
		if (!*buf)
			return -ENOMEM;
	}
	vss_io_mem(&req, *buf);
	r = dm_io(&req, 1, &region, &error_bits, IOPRIO_DEFAULT);
	if (r)
		return r;
	return vss_rec_csum(meta->version, vss_copy_crc(*buf, len), e) == le32_to_cpu(e->data_csum);
}

/* Empty the records whose copies a crash lost, durably, before any commit. */
static int vss_drop_records(struct vss_meta *meta, const u32 *lost, u32 n)
{
	u32 i;
	int r;

	for (i = 0; i < n; i++) {
		struct vss_exc_block_disk *block;
		struct dm_buffer *b;

		r = vss_exc_get(meta, lost[i], &b, &block);
		if (r)
			return r;
		memset(&block->rec[vss_data_to_record(lost[i], meta->info.chunk_sectors)], 0,
		       sizeof(struct vss_exc_disk));
		vss_block_seal(block, VSS_EXC_MAGIC);
		dm_bufio_mark_buffer_dirty(b);
		dm_bufio_release(b);
	}
	return dm_bufio_write_dirty_buffers(meta->bufio);	/* and flushes */
}

/* Metadata blocks a load reads ahead of the one it checks, in whole chunks. */
#define VSS_LOAD_AHEAD_BLOCKS	64U

/* A record a load could not prove: a torn block's, of a synced commit. */
struct vss_suspect {
	u32 d;
	u32 ochunk;
	u32 epoch;
};

/*
 * What a load gathers besides the records it takes: records whose copies a
 * crash lost (emptied before any commit), records of torn blocks it could
 * not prove (emptied if no valid snapshot reads them, else the load fails),
 * and the torn blocks themselves (sealed again once those are empty).
 */
struct vss_load {
	u32 *lost, nr_lost, max_lost;
	struct vss_suspect *suspect;
	u32 nr_suspect, max_suspect;
	u64 *torn;
	u32 nr_torn, max_torn;
	u32 newest;			/* the newest commit seen on disk */
	void *copy;			/* a chunk buffer for vss_copy_matches */
	struct vss_index all;		/* every record, dead or alive */
};

/* Append one element to a growable array (64 at a time). */
static int vss_push(void **arr, u32 *n, u32 *max, size_t size, const void *elem)
{
	if (*n == *max) {
		void *a = krealloc_array(*arr, *max + 64, size, GFP_KERNEL);

		if (!a)
			return -ENOMEM;
		*arr = a;
		*max += 64;
	}
	memcpy((u8 *)*arr + (size_t)*n * size, elem, size);
	(*n)++;
	return 0;
}

/*
 * Read the exception block of data chunk d.  *torn: its checksum fails but
 * its magic and block number are right, in a version 3 store, whose records
 * can be taken one by one (a 4 KiB write torn by a crash on a device that
 * writes 512 bytes atomically leaves each 16-byte record whole, old or new).
 */
static int vss_exc_read(struct vss_meta *meta, u64 d, struct dm_buffer **bp,
			struct vss_exc_block_disk **blockp, bool *torn)
{
	sector_t blocknr = vss_data_to_block(d, meta->info.chunk_sectors);
	struct vss_exc_block_disk *block;

	*torn = false;
	block = dm_bufio_read(meta->bufio, blocknr, bp);
	if (IS_ERR(block))
		return PTR_ERR(block);
	*blockp = block;
	if (le64_to_cpu(block->blocknr) != blocknr ||
	    le32_to_cpu(block->magic) != VSS_EXC_MAGIC || meta->version < 3) {
		if (vss_block_verify(block, VSS_EXC_MAGIC) &&
		    le64_to_cpu(block->blocknr) == blocknr)
			return 0;
		DMERR("store: exception block %llu is corrupt", (unsigned long long)blocknr);
		dm_bufio_release(*bp);
		return -EUCLEAN;
	}
	*torn = !vss_block_verify(block, VSS_EXC_MAGIC);
	return 0;
}

/*
 * One record of the block at data chunk d + rec: taken into ld->all, or set
 * aside (lost, suspect).  A record is checked against its copy when its
 * commit is after synced_seq (a crash may have lost the copy: vss-ondisk.h)
 * or when its block is torn (only a version 3 data_csum proves a record).
 */
static int vss_load_record(struct vss_meta *meta, struct vss_load *ld,
			   const struct vss_exc_disk *e, u64 d, bool torn, char **error)
{
	u64 ochunk = le32_to_cpu(e->origin_chunk);
	u32 seq = le32_to_cpu(e->seq), epoch = le32_to_cpu(e->epoch);
	bool unsynced = meta->version > 1 && vss_seq_unsynced(seq, meta->synced_seq);
	const struct vss_ient *same;
	int r;

	if (!epoch)
		return 0;
	if (d >= meta->info.data_chunks || ochunk >= meta->info.origin_chunks ||
	    (meta->version == 1 && seq) ||	/* a 64-bit origin_chunk there */
	    epoch > meta->last_epoch) {
		*error = torn ? "Store exception block is torn and a record in it is out of range" :
			 "Store exception record is out of range";
		return -EUCLEAN;
	}
	if (unsynced || torn) {
		int match = vss_copy_matches(meta, &ld->copy, d, e);

		if (match < 0) {
			*error = match == -ENOMEM ? "Cannot allocate a chunk buffer" :
				 "Store data chunk could not be read";
			return match;
		}
		if (unsynced && (u32)(seq - meta->synced_seq) > (u32)(ld->newest - meta->synced_seq))
			ld->newest = seq;
		if (!match && unsynced) {	/* its copy was lost with the crash */
			u32 dd = d;

			r = vss_push((void **)&ld->lost, &ld->nr_lost, &ld->max_lost,
				     sizeof(u32), &dd);
			goto pushed;
		}
		if (!match) {
			struct vss_suspect sp = { .d = d, .ochunk = ochunk, .epoch = epoch };

			r = vss_push((void **)&ld->suspect, &ld->nr_suspect, &ld->max_suspect,
				     sizeof(sp), &sp);
			goto pushed;
		}
	}
	/* grown 1.75 times at once: each entry is rehashed about twice */
	if ((u64)(ld->all.count + 1) * 8 > (u64)ld->all.size * 7) {
		r = vss_index_reserve(&ld->all, ld->all.count / 2 + 1, NULL);
		if (r)
			goto pushed;
	}
	same = vss_index_find(&ld->all, ochunk, epoch);
	if (same && same->epoch == epoch) {
		*error = "Store has two records of one chunk and epoch";
		return -EUCLEAN;
	}
	vss_index_insert(&ld->all, ochunk, d, epoch);
	return 0;
pushed:
	if (r)
		*error = "Cannot allocate store metadata";
	return r;
}

/* Read every exception block's records into ld (see vss_load_record). */
static int vss_load_blocks(struct vss_meta *meta, struct vss_load *ld, char **error)
{
	u32 cs = meta->info.chunk_sectors, nahead, rec;
	u64 group = vss_group_data(cs), ahead, g, d;
	int r = 0;

	nahead = max(1U, VSS_LOAD_AHEAD_BLOCKS / vss_blocks_per_chunk(cs));
	ahead = (nahead - 1) * group;
	for (d = 0; d < meta->info.data_chunks; d += VSS_RECORDS_PER_BLOCK) {
		struct vss_exc_block_disk *block;
		struct dm_buffer *b;
		bool torn;

		/* the metadata chunks of the next groups are read ahead */
		if (d == 0) {
			for (g = 0; g < nahead && g * group < meta->info.data_chunks; g++)
				dm_bufio_prefetch(meta->bufio, vss_data_to_block(g * group, cs),
						  vss_blocks_per_chunk(cs));
		} else if (d % group == 0 && d + ahead < meta->info.data_chunks) {
			dm_bufio_prefetch(meta->bufio, vss_data_to_block(d + ahead, cs),
					  vss_blocks_per_chunk(cs));
		}
		r = vss_exc_read(meta, d, &b, &block, &torn);
		if (r) {
			*error = r == -EUCLEAN ? "Store exception block is corrupt" :
				 "Store exception block could not be read";
			return r;
		}
		if (torn) {
			u64 blocknr = vss_data_to_block(d, cs);

			r = vss_push((void **)&ld->torn, &ld->nr_torn, &ld->max_torn,
				     sizeof(blocknr), &blocknr);
			if (r)
				*error = "Cannot allocate store metadata";
		}
		for (rec = 0; !r && rec < VSS_RECORDS_PER_BLOCK; rec++)
			r = vss_load_record(meta, ld, &block->rec[rec], d + rec, torn, error);
		dm_bufio_release(b);
		if (r)
			return r;
		cond_resched();
	}
	return 0;
}

/*
 * The records of torn blocks that no checksum proves: a slot reused by the
 * torn commit whose old record stayed while its data chunk took the new
 * copy, or damage.  Emptied when no valid snapshot reads them (free space:
 * the old record of a reused slot is such); a load fails when one does.
 */
static int vss_judge_suspects(struct vss_meta *meta, struct vss_load *ld, const u32 *live,
			      u32 nr_live, char **error)
{
	u32 i;
	int r;

	for (i = 0; i < ld->nr_suspect; i++) {
		const struct vss_suspect *sp = &ld->suspect[i];
		u32 prev = vss_index_prev(&ld->all, sp->ochunk, sp->epoch);

		if (vss_live_upto(live, nr_live, prev) != vss_live_upto(live, nr_live, sp->epoch)) {
			DMERR("store: exception block %llu is torn or damaged: the record of data chunk %u (origin chunk %u) does not match its copy, and a valid snapshot reads it",
			      (unsigned long long)vss_data_to_block(sp->d, meta->info.chunk_sectors),
			      sp->d, sp->ochunk);
			*error = "Store exception block is damaged: a record a snapshot needs does not match its copy";
			return -EUCLEAN;
		}
		r = vss_push((void **)&ld->lost, &ld->nr_lost, &ld->max_lost, sizeof(u32), &sp->d);
		if (r) {
			*error = "Cannot allocate store metadata";
			return r;
		}
	}
	return 0;
}

/*
 * Seal the torn blocks again, in the buffer cache, with the records set
 * aside already empty; vss_drop_records() then writes them and the rest.
 */
static int vss_reseal_torn(struct vss_meta *meta, struct vss_load *ld)
{
	u32 cs = meta->info.chunk_sectors, i, k;

	for (i = 0; i < ld->nr_torn; i++) {
		struct vss_exc_block_disk *block;
		struct dm_buffer *b;

		block = dm_bufio_read(meta->bufio, ld->torn[i], &b);
		if (IS_ERR(block))
			return PTR_ERR(block);
		for (k = 0; k < ld->nr_lost; k++)
			if (vss_data_to_block(ld->lost[k], cs) == ld->torn[i])
				memset(&block->rec[vss_data_to_record(ld->lost[k], cs)], 0,
				       sizeof(struct vss_exc_disk));
		vss_block_seal(block, VSS_EXC_MAGIC);
		dm_bufio_mark_buffer_dirty(b);
		dm_bufio_release(b);
	}
	if (ld->nr_torn)
		DMWARN("store: %u exception blocks torn by a crash were taken record by record (%u records emptied)",
		       ld->nr_torn, ld->nr_lost);
	return 0;
}

/*
 * Every live record into index and bitmap, each VALID snapshot's copied
 * count: a record serves the live snapshots from the first after the
 * chunk's previous record to its own epoch, live[a..b), counted as +1 at a
 * and -1 at b, summed once at the end.
 */
static int vss_index_live(struct vss_meta *meta, struct vss_load *ld, const u32 *live,
			  u32 nr_live, struct vss_index *index, unsigned long *bitmap)
{
	s64 *delta;
	u32 i;
	int r;

	/* at 3/4 load, so that the first commits do not grow it at once */
	r = vss_index_init(index, max_t(u32, 256, (u64)ld->all.count * 4 / 3 + 1));
	if (r)
		return r;
	delta = kcalloc(VSS_MAX_SNAPS + 1, sizeof(*delta), GFP_KERNEL);
	if (!delta)
		return -ENOMEM;
	for (i = 0; i < ld->all.size; i++) {
		const struct vss_ient *e = &ld->all.slots[i];
		u32 a, b;

		if (!e->epoch)
			continue;
		a = vss_live_upto(live, nr_live, vss_index_prev(&ld->all, e->ochunk, e->epoch));
		b = vss_live_upto(live, nr_live, e->epoch);
		if (a == b)
			continue;	/* free space */
		vss_index_insert(index, e->ochunk, e->data, e->epoch);
		__set_bit(e->data, bitmap);
		delta[a]++;
		delta[b]--;
		if ((i & 4095) == 0)
			cond_resched();
	}
	for (i = 1; i < nr_live; i++)
		delta[i] += delta[i - 1];
	for (i = 0; i < VSS_MAX_SNAPS; i++) {
		struct vss_snap *s = &meta->snaps[i];

		if (s->state == VSS_SNAP_VALID)
			s->copied = delta[vss_live_upto(live, nr_live, s->epoch) - 1];
	}
	kfree(delta);
	return 0;
}

/* Reads every exception block into the index, then drops dead records. */
static int vss_load_records(struct vss_meta *meta, struct vss_index *index,
			    unsigned long *bitmap, char **error)
{
	struct vss_load ld = { .newest = meta->synced_seq };
	u32 live[VSS_MAX_SNAPS], nr_live = 0, i;
	int r;

	r = vss_index_init(&ld.all, 1024);
	if (r)
		goto nomem;
	r = vss_load_blocks(meta, &ld, error);
	if (r)
		goto out;

	for (i = 0; i < VSS_MAX_SNAPS; i++)
		if (meta->snaps[i].state == VSS_SNAP_VALID)
			live[nr_live++] = meta->snaps[i].epoch;
	sort(live, nr_live, sizeof(u32), vss_cmp_u32, NULL);

	r = vss_judge_suspects(meta, &ld, live, nr_live, error);
	if (r)
		goto out;
	if (ld.nr_lost)
		DMWARN("store: emptying %u records whose copies a crash lost (their origin writes were never made) or that no valid snapshot reads",
		       ld.nr_lost);
	r = vss_reseal_torn(meta, &ld);
	if (!r && (ld.nr_lost || ld.nr_torn))
		r = vss_drop_records(meta, ld.lost, ld.nr_lost);
	if (r) {
		*error = "Cannot write the store's exception blocks";
		goto out;
	}
	/* new commits follow every commit on disk */
	meta->commit_seq = ld.newest;
	meta->unsynced_records = (u32)(ld.newest - meta->synced_seq);

	r = vss_index_live(meta, &ld, live, nr_live, index, bitmap);
	if (r)
		goto nomem;
	goto out;
nomem:
	*error = "Cannot allocate the store index";
	r = -ENOMEM;
out:
	kvfree(ld.copy);
	kfree(ld.lost);
	kfree(ld.suspect);
	kfree(ld.torn);
	vss_index_free(&ld.all);
	if (r)
		vss_index_free(index);	/* the caller has none on an error */
	return r;
}

int vss_meta_open(struct block_device *store_bdev, sector_t store_sectors,
		  sector_t origin_sectors, u32 format_chunk_sectors,
		  struct vss_meta **result, struct vss_index *index,
		  unsigned long **alloc_bitmap, char **error)
{
	struct vss_sb_disk *a, *b;
	bool a_valid, b_valid, a_magic, b_magic;
	struct vss_meta *meta;
	unsigned long *bitmap = NULL;
	int r;

	meta = kzalloc(sizeof(*meta), GFP_KERNEL);
	a = kmalloc(VSS_BLOCK_SIZE, GFP_KERNEL);
	b = kmalloc(VSS_BLOCK_SIZE, GFP_KERNEL);
	if (!meta || !a || !b) {
		*error = "Cannot allocate store metadata";
		r = -ENOMEM;
		goto bad_alloc;
	}
	if (store_sectors < VSS_HEADER_BYTES >> VSS_SECTOR_SHIFT) {
		*error = "Store device is too small";
		r = -EINVAL;
		goto bad_alloc;
	}
	meta->bufio = dm_bufio_client_create(store_bdev, VSS_BLOCK_SIZE,
					     VSS_BUFIO_RESERVED, 0, NULL, NULL, 0);
	if (IS_ERR(meta->bufio)) {
		*error = "Cannot create the store's buffer cache";
		r = PTR_ERR(meta->bufio);
		goto bad_alloc;
	}
	meta->info.origin_sectors = origin_sectors;
	meta->bdev = store_bdev;

	r = vss_sb_read_copy(meta, VSS_SB_OFFSET_A / VSS_BLOCK_SIZE, a, &a_valid, &a_magic);
	if (!r)
		r = vss_sb_read_copy(meta, VSS_SB_OFFSET_B / VSS_BLOCK_SIZE, b, &b_valid, &b_magic);
	if (r) {
		*error = "Cannot read the store's superblock";
		goto bad_bufio;
	}

	/*
	 * A zeroed first block means "format me", unless copy B is a valid
	 * superblock: then copy A was lost, and formatting would destroy the
	 * snapshots that B describes.
	 */
	if (vss_all_zero(a, VSS_BLOCK_SIZE) && !b_valid) {
		u32 cs = format_chunk_sectors;

		meta->info.chunk_sectors = cs;
		meta->store_chunks = store_sectors / cs;
		meta->info.data_chunks = vss_data_chunks(meta->store_chunks, cs);
		if (!meta->info.data_chunks) {
			*error = "Store device is too small for its chunk size";
			r = -EINVAL;
			goto bad_bufio;
		}
		get_random_bytes(meta->uuid, sizeof(meta->uuid));
		meta->version = VSS_FORMAT_VERSION;
		meta->info.formatted_now = true;
	} else {
		const struct vss_sb_disk *sb;

		if (!a_valid && !b_valid) {
			*error = (a_magic || b_magic) ? "Store superblock is corrupt" :
				 "Store device holds something else (no dm-vss superblock); zero its first 4 KiB to format it";
			r = -EINVAL;
			goto bad_bufio;
		}
		if (a_valid && b_valid)
			sb = le64_to_cpu(a->seq) > le64_to_cpu(b->seq) ? a : b;
		else
			sb = a_valid ? a : b;
		r = vss_sb_load(meta, sb, store_sectors, origin_sectors, error);
		if (r)
			goto bad_bufio;
	}

	meta->info.origin_chunks = DIV_ROUND_UP_ULL(origin_sectors, meta->info.chunk_sectors);
	if (meta->info.origin_chunks >= U32_MAX || meta->info.data_chunks >= U32_MAX) {
		*error = "Origin or store has too many chunks: use a larger chunk size";
		r = -EINVAL;
		goto bad_bufio;
	}
	meta->info.exc_blocks = vss_exc_blocks(meta->info.data_chunks, meta->info.chunk_sectors);

	bitmap = kvcalloc(BITS_TO_LONGS(meta->info.data_chunks), sizeof(long), GFP_KERNEL);
	if (!bitmap) {
		*error = "Cannot allocate the store's allocation bitmap";
		r = -ENOMEM;
		goto bad_bufio;
	}

	if (meta->info.formatted_now) {
		r = vss_format(meta);
		if (r) {
			*error = "Cannot format the store";
			goto bad_bitmap;
		}
		r = vss_index_init(index, 256);
		if (r) {
			*error = "Cannot allocate the store index";
			goto bad_bitmap;
		}
	} else {
		r = vss_load_records(meta, index, bitmap, error);
		if (r)
			goto bad_bitmap;
		/*
		 * A version 1 store becomes version 2 before its first commit
		 * writes a record with a seq, in both copies, so that neither
		 * says version 1 over such records.  A version 2 store stays
		 * version 2: its records' data_csum cover their copies only (a
		 * new store, formatted, is version 3).
		 */
		if (meta->version == 1) {
			meta->version = 2;
			r = vss_meta_write_sb(meta);
			if (!r)
				r = vss_meta_write_sb(meta);
			if (r) {
				*error = "Cannot write the store's superblock";
				vss_index_free(index);
				goto bad_bitmap;
			}
		}
	}
	kfree(a);
	kfree(b);
	*result = meta;
	*alloc_bitmap = bitmap;
	return 0;

bad_bitmap:
	kvfree(bitmap);
bad_bufio:
	dm_bufio_client_destroy(meta->bufio);
bad_alloc:
	kfree(a);
	kfree(b);
	kfree(meta);
	return r;
}

u64 vss_meta_grown_data_chunks(struct vss_meta *meta, sector_t store_sectors)
{
	u64 chunks = store_sectors / meta->info.chunk_sectors;

	if (chunks < meta->store_chunks)
		return 0;
	if (chunks == meta->store_chunks)
		return meta->info.data_chunks;
	return vss_data_chunks(chunks, meta->info.chunk_sectors);
}

/*
 * The exception blocks of the new chunks are written empty and made durable
 * before the superblock that takes them into the layout: a crash before the
 * superblock leaves the old layout, and blocks outside it are never read.
 * The records past the old end in the old last block are empty already
 * (vss_load_records() refuses a store where they are not).
 *
 * vss_meta_grow_blocks() writes them, for data chunks old_data..data; it
 * needs no meta_lock (nothing else reads or writes past the layout, and
 * commits write their own blocks without marking them dirty), so a grow
 * holds up no commit while it writes.  vss_meta_grow_commit(), under
 * meta_lock, then writes the superblock, if the layout is still old_data.
 */
int vss_meta_grow_blocks(struct vss_meta *meta, u64 old_data, u64 data)
{
	return vss_write_empty_blocks(meta, roundup(old_data, VSS_RECORDS_PER_BLOCK), data);
}

int vss_meta_grow_commit(struct vss_meta *meta, u64 old_data, sector_t store_sectors, u64 data)
{
	u32 cs = meta->info.chunk_sectors;
	u64 old_chunks = meta->store_chunks, chunks = store_sectors / cs;
	int r;

	if (meta->info.data_chunks != old_data || data <= old_data ||
	    vss_data_chunks(chunks, cs) != data)
		return -EAGAIN;
	meta->store_chunks = chunks;
	meta->info.data_chunks = data;
	r = vss_meta_write_sb(meta);
	if (r) {
		meta->store_chunks = old_chunks;
		meta->info.data_chunks = old_data;
		return r;
	}
	meta->info.exc_blocks = vss_exc_blocks(data, cs);
	/*
	 * Both copies, so that falling back to the older one (its newer twin
	 * found corrupt) cannot shrink the layout under copies made past the
	 * old end.
	 */
	if (vss_meta_write_sb(meta))
		DMWARN("store: the second superblock copy still has the old size");
	return 0;
}

void vss_meta_close(struct vss_meta *meta)
{
	vss_meta_discard(meta);
	dm_bufio_client_destroy(meta->bufio);
	kfree(meta);
}

const struct vss_meta_info *vss_meta_info(struct vss_meta *meta)
{
	return &meta->info;
}

struct vss_snap *vss_meta_snaps(struct vss_meta *meta)
{
	return meta->snaps;
}

u32 vss_meta_next_epoch(struct vss_meta *meta)
{
	return meta->last_epoch + 1;
}

void vss_meta_set_last_epoch(struct vss_meta *meta, u32 epoch)
{
	meta->last_epoch = epoch;
}

void vss_meta_usage(struct vss_meta *meta, u64 data_used,
		    u64 *used_blocks, u64 *total_blocks)
{
	/* Two superblock copies plus the exception blocks holding records. */
	*total_blocks = 2 + meta->info.exc_blocks;
	*used_blocks = 2 + DIV_ROUND_UP_ULL(data_used, VSS_RECORDS_PER_BLOCK);
}
