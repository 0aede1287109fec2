/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-vss on-disk format of a copy-on-write store (differences area).
 * Shared by the kernel module and userspace (libvsscore, vss-check).
 * See doc/on-disk-format.rst for the full description.
 *
 * All integers are little endian.  Every metadata block is 4 KiB and begins
 * with a magic number and a crc32c of the rest of the block.
 *
 * Layout, in units of chunks of chunk_sectors * 512 bytes:
 *
 *   [ header chunks ][ group 0 ][ group 1 ] ... [ group n-1 (may be short) ]
 *
 * The header holds two superblock copies, A at byte 0 and B at byte 4096
 * (a store's header is max(8 KiB, one chunk) long).  Updates alternate
 * between the copies; the valid copy with the higher sequence number wins,
 * so a torn superblock write never loses the previous state.
 *
 * A group is one metadata chunk followed by up to VSS_GROUP_DATA(chunk) data
 * chunks.  The metadata chunk is an array of 4 KiB exception blocks; record
 * i of exception block b describes data chunk b * VSS_RECORDS_PER_BLOCK + i
 * of the group.  A data chunk's record is updated in place when the chunk
 * is (re)used, so a record and the chunk it describes never disagree.
 *
 * Every exception block of the store is written, empty, when the store is
 * formatted: an exception block that does not verify is corruption, never
 * "nothing copied yet".
 */
#ifndef VSS_ONDISK_H
#define VSS_ONDISK_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <stdint.h>
#include <linux/types.h>
#endif

#define VSS_BLOCK_SIZE		4096U
#define VSS_BLOCK_SHIFT		12
#define VSS_SECTOR_SHIFT	9

#define VSS_SB_MAGIC		0x31535356U	/* "VSS1" */
#define VSS_EXC_MAGIC		0x43585356U	/* "VSXC" */
#define VSS_FORMAT_VERSION	3U	/* written by a format */
#define VSS_FORMAT_VERSION_MIN	1U	/* oldest still read */

#define VSS_MIN_CHUNK_SECTORS	8U	/* 4 KiB */
#define VSS_MAX_CHUNK_SECTORS	2048U	/* 1 MiB */
#define VSS_DEFAULT_CHUNK_SECTORS 8U

/* Byte offsets of the two superblock copies. */
#define VSS_SB_OFFSET_A		0U
#define VSS_SB_OFFSET_B		4096U
#define VSS_HEADER_BYTES	8192U

/* Checksums cover bytes [VSS_CSUM_START, VSS_BLOCK_SIZE) of a block. */
#define VSS_CSUM_START		8U
#define VSS_CSUM_XOR		0xFFFFFFFFU	/* crc32c(~0, ...) ^ VSS_CSUM_XOR */

/* Snapshot states (vss_snap_disk.state). */
#define VSS_SNAP_FREE		0U	/* slot unused */
#define VSS_SNAP_VALID		1U
#define VSS_SNAP_INVALID	2U	/* invalidated: store overflow (overflow_invalidate) or error */
#define VSS_SNAP_DROPPED	3U	/* dropped to make room (default overflow policy) */

#define VSS_MAX_SNAPS		160U

struct vss_snap_disk {
	__le32 snap_id;		/* chosen by userspace, unique in the store */
	__le32 state;		/* VSS_SNAP_* */
	__le32 epoch;		/* creation sequence number, >= 1, unique */
	__le32 reserved;
	__le64 ctime;		/* creation time, seconds since the Epoch (UTC) */
} __attribute__((packed));

struct vss_sb_disk {
	__le32 magic;		/* VSS_SB_MAGIC */
	__le32 csum;		/* of bytes 8..4095 */
	__le32 version;		/* VSS_FORMAT_VERSION */
	__le32 flags;		/* none defined; must be 0 */
	__le64 seq;		/* bumped at every superblock write */
	__le64 origin_sectors;	/* size of the origin the store belongs to */
	__le64 store_chunks;	/* chunks of the store in use by the layout */
	__le32 chunk_sectors;	/* power of two, 8..2048 */
	__le32 nr_snaps;	/* slots in use (state != FREE) */
	__le32 last_epoch;	/* highest epoch ever given to a snapshot */
	__le32 synced_seq;	/* commits up to this one are durable (version 2; 0 in 1) */
	__le64 data_chunks;	/* number of data chunks in the layout */
	__u8 uuid[16];		/* identifies the store */
	__u8 reserved1[48];
	struct vss_snap_disk snaps[VSS_MAX_SNAPS];	/* at byte 128 */
} __attribute__((packed));

/*
 * One exception record: data chunk d holds the content origin_chunk had when
 * the snapshot of epoch 'epoch' was taken.  It serves every snapshot whose
 * epoch e satisfies prev < e <= epoch, where prev is the largest epoch of
 * another record of the same origin chunk below 'epoch' (0 if none).  A
 * record with epoch 0 is empty.  A record whose range holds no VALID
 * snapshot is free space.
 *
 * seq is the commit that wrote the record (never 0 in version 2 and 3) and
 * data_csum the crc32c of the copy (seeded and finished like a block's, over
 * vss_copy_bytes() bytes: the chunk, or the origin's short last chunk); in
 * version 3 the crc goes on over the record's first 12 bytes (origin_chunk,
 * seq and epoch as stored) before it is finished, so that it proves the
 * whole record, and a record of a torn exception block can be taken on its
 * own (vss_rec_csum_v3: see doc/on-disk-format.rst).  A commit writes its copies and records at once and then flushes,
 * so after a crash a record may be on disk without its copy; such a record
 * is recognised by its checksum, and only records of commits after
 * synced_seq need checking: those with (seq - synced_seq) mod 2^32 in
 * [1, VSS_SEQ_WINDOW].  Their origin writes were never issued, so a record
 * whose copy does not match is dropped as if never written.  seq 0 (all of
 * version 1, whose copies were durable before their records) is never
 * checked.  A writer records a new synced_seq before VSS_SEQ_WINDOW - 1
 * commits pass.
 */
struct vss_exc_disk {
	__le32 origin_chunk;
	__le32 seq;		/* version 1: the high half of a 64-bit origin_chunk, 0 */
	__le32 epoch;
	__le32 data_csum;	/* version 1: reserved, 0 */
} __attribute__((packed));

#define VSS_SEQ_WINDOW		1024U

/* Bytes of a record that a version 3 data_csum covers after the copy. */
#define VSS_REC_CSUM_BYTES	12U

/* Whether a record of commit seq needs its copy checked. */
static inline int vss_seq_unsynced(__u32 seq, __u32 synced_seq)
{
	return seq && (__u32)(seq - synced_seq) - 1U < VSS_SEQ_WINDOW;
}

#define VSS_RECORDS_PER_BLOCK	255U

struct vss_exc_block_disk {
	__le32 magic;		/* VSS_EXC_MAGIC */
	__le32 csum;		/* of bytes 8..4095 */
	__le64 blocknr;		/* this block's byte offset in the store / 4096 */
	struct vss_exc_disk rec[VSS_RECORDS_PER_BLOCK];
} __attribute__((packed));

/* The layout is the format: a change of any of these sizes is a new version. */
_Static_assert(sizeof(struct vss_snap_disk) == 24, "vss_snap_disk is 24 bytes");
_Static_assert(sizeof(struct vss_sb_disk) == 128 + 24 * VSS_MAX_SNAPS, "the snapshot table is at byte 128");
_Static_assert(sizeof(struct vss_sb_disk) <= 4096, "the superblock fits its block");
_Static_assert(sizeof(struct vss_exc_disk) == 16, "a record is 16 bytes");
_Static_assert(sizeof(struct vss_exc_block_disk) == 4096, "an exception block is 4096 bytes");

/*
 * A 64-bit number divided by a 32-bit one, and the remainder: the kernel's
 * div_u64_rem (a plain 64-bit division needs libgcc on 32-bit machines).
 */
#ifdef __KERNEL__
#include <linux/math64.h>
static inline __u64 vss_div_rem(__u64 n, __u32 d, __u32 *rem)
{
	return div_u64_rem(n, d, rem);
}
#else
static inline __u64 vss_div_rem(__u64 n, __u32 d, __u32 *rem)
{
	*rem = (__u32)(n % d);
	return n / d;
}
#endif

/* Geometry helpers; chunk_sectors is a validated power of two. */
static inline __u64 vss_header_chunks(__u32 chunk_sectors)
{
	__u32 chunk_bytes = chunk_sectors << VSS_SECTOR_SHIFT;

	return (VSS_HEADER_BYTES + chunk_bytes - 1) / chunk_bytes;
}

static inline __u32 vss_blocks_per_chunk(__u32 chunk_sectors)
{
	return (chunk_sectors << VSS_SECTOR_SHIFT) / VSS_BLOCK_SIZE;
}

/* Data chunks per group (at most 256 * 255: a 32-bit divisor). */
static inline __u64 vss_group_data(__u32 chunk_sectors)
{
	return (__u64)vss_blocks_per_chunk(chunk_sectors) * VSS_RECORDS_PER_BLOCK;
}

/* Number of data chunks a store of store_chunks chunks holds. */
static inline __u64 vss_data_chunks(__u64 store_chunks, __u32 chunk_sectors)
{
	__u32 per_group = (__u32)vss_group_data(chunk_sectors) + 1, rest;
	__u64 hdr = vss_header_chunks(chunk_sectors);
	__u64 full;

	if (store_chunks <= hdr)
		return 0;
	full = vss_div_rem(store_chunks - hdr, per_group, &rest);
	return full * vss_group_data(chunk_sectors) + (rest > 1 ? rest - 1 : 0);
}

/* Physical chunk of data chunk d. */
static inline __u64 vss_data_to_chunk(__u64 d, __u32 chunk_sectors)
{
	__u32 i;
	__u64 g = vss_div_rem(d, (__u32)vss_group_data(chunk_sectors), &i);

	return vss_header_chunks(chunk_sectors) +
	       g * (vss_group_data(chunk_sectors) + 1) + 1 + i;
}

/* 4 KiB block number (byte offset / 4096) of the exception block of d. */
static inline __u64 vss_data_to_block(__u64 d, __u32 chunk_sectors)
{
	__u32 i;
	__u64 g = vss_div_rem(d, (__u32)vss_group_data(chunk_sectors), &i);
	__u64 meta_chunk = vss_header_chunks(chunk_sectors) +
			   g * (vss_group_data(chunk_sectors) + 1);

	return meta_chunk * vss_blocks_per_chunk(chunk_sectors) +
	       i / VSS_RECORDS_PER_BLOCK;
}

static inline __u32 vss_data_to_record(__u64 d, __u32 chunk_sectors)
{
	__u32 i;

	vss_div_rem(d, (__u32)vss_group_data(chunk_sectors), &i);
	return i % VSS_RECORDS_PER_BLOCK;
}

/* Bytes a copy of origin chunk ochunk holds (what data_csum covers). */
static inline __u64 vss_copy_bytes(__u64 origin_sectors, __u32 chunk_sectors, __u64 ochunk)
{
	__u64 start = ochunk * chunk_sectors, n = chunk_sectors;

	if (start + n > origin_sectors)
		n = origin_sectors > start ? origin_sectors - start : 0;
	return n << VSS_SECTOR_SHIFT;
}

/* Number of exception blocks that describe data chunks 0..data_chunks-1. */
static inline __u64 vss_exc_blocks(__u64 data_chunks, __u32 chunk_sectors)
{
	__u32 rest;
	__u64 full = vss_div_rem(data_chunks, (__u32)vss_group_data(chunk_sectors), &rest);

	return full * vss_blocks_per_chunk(chunk_sectors) +
	       (rest + VSS_RECORDS_PER_BLOCK - 1) / VSS_RECORDS_PER_BLOCK;
}

#endif /* VSS_ONDISK_H */
