/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Writing stores without the kernel: formatting, snapshot table changes,
 * records and data, as dm-vss writes them.  For the tests' tools
 * (test/tools/mkstore), unit tests and fuzz corpora, which link
 * libvsscore.a or the sources; not installed and not exported by
 * libvsscore.so.
 */
#ifndef VSS_STORE_WRITE_H
#define VSS_STORE_WRITE_H

#include "libvsscore-store.h"

#ifdef __cplusplus
extern "C" {
#endif

/** vss_store_block_seal() - set a block's magic and checksum. */
void vss_store_block_seal(void *block, uint32_t magic);

/* ---- formatting and writing ---- */

/**
 * vss_store_format() - write what dm-vss writes when it formats a store
 * whose first 4 KiB are zero: every exception block of the layout, empty;
 * superblock B with seq 0; superblock A with seq 1.  The store fills the
 * device (or file, which must exist with its final size).
 * @origin_sectors: size of the origin the store is for
 * @chunk_sectors:  power of two, 8..2048
 *
 * Returns 0, -EINVAL for a bad chunk size, a store too small to hold one
 * data chunk or an origin of 2^32 chunks or more, or -errno from I/O.
 */
int vss_store_format(const char *path, uint64_t origin_sectors, uint32_t chunk_sectors);

/** vss_store_format_image() - vss_store_format() into memory. */
int vss_store_format_image(void *image, size_t size, uint64_t origin_sectors,
			   uint32_t chunk_sectors);

/*
 * The writer builds stores with content without the kernel, for tests and
 * fuzz corpora.  It needs a handle opened with VSS_STORE_WRITE whose
 * vss_store_load() found a superblock with a valid chunk size.  Snapshot
 * table changes stay in memory until vss_store_write_sb(); records are
 * written at once.
 */

/**
 * vss_store_snap_create() - a VALID snapshot in the first free slot, with
 * epoch last_epoch + 1.  Returns 0, -EEXIST for an id in use, -ENOSPC when
 * the table is full, -EINVAL without a usable superblock.
 */
int vss_store_snap_create(struct vss_store *store, uint32_t snap_id, uint64_t ctime,
			  uint32_t *epoch);

/**
 * vss_store_snap_set_state() - change a snapshot's state; VSS_SNAP_FREE
 * deletes it.  Returns 0, -ENOENT, -EINVAL.
 */
int vss_store_snap_set_state(struct vss_store *store, uint32_t snap_id, uint32_t state);

/**
 * vss_store_set_record() - record that data chunk d holds origin_chunk as
 * it was at epoch (0 empties the record); rewrites its exception block.
 * The values are not checked against the superblock, so tests can write
 * wrong ones.  Returns 0, -EINVAL for d beyond the layout, -errno from I/O.
 */
int vss_store_set_record(struct vss_store *store, uint64_t data_chunk,
			 uint64_t origin_chunk, uint32_t epoch);
/**
 * vss_store_set_record_seq() - the same, with the commit sequence number
 * and data_csum (vss_store_rec_csum(); vss_store_set_record() writes 0
 * for both: a record whose copy is never checked).
 */
int vss_store_set_record_seq(struct vss_store *store, uint64_t data_chunk,
			     uint64_t origin_chunk, uint32_t epoch, uint32_t seq,
			     uint32_t data_csum);

/**
 * vss_store_rec_csum() - a record's data_csum in format version @version,
 * from the crc32c of its copy (seeded with ~0, not finished): version 3
 * goes on over the record's origin_chunk, seq and epoch (vss-ondisk.h).
 */
struct vss_exc_disk;
uint32_t vss_store_rec_csum(uint32_t version, uint32_t copy_crc, const struct vss_exc_disk *rec);

/**
 * vss_store_write_sb() - write the snapshot table to the copy the next
 * sequence number belongs to (odd: A, even: B), as dm-vss does.
 */
int vss_store_write_sb(struct vss_store *store);

/**
 * vss_store_write_data() - write one chunk of data into data chunk d
 * (chunk_sectors * 512 bytes from buf).
 */
int vss_store_write_data(struct vss_store *store, uint64_t data_chunk, const void *buf);

#ifdef __cplusplus
}
#endif

#endif
