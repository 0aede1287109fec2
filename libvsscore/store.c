// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libvsscore: reader, offline checker and writer of a dm-vss copy-on-write
 * store.  It follows the kernel's loader (dm-vss/dm-vss-metadata.c) rule for
 * rule, so that what this file calls fatal is exactly what makes the
 * kernel refuse a store or serve a wrong snapshot, and reports every
 * finding with the place it was made.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>

#include "vss-ondisk.h"
#include "crc32c.h"
#include "libvsscore-store.h"
#include "store-write.h"

#define SECTOR_BYTES		(1U << VSS_SECTOR_SHIFT)
#define SB_TABLE_END		(offsetof(struct vss_sb_disk, snaps) + \
				 VSS_MAX_SNAPS * sizeof(struct vss_snap_disk))
#define FINDING_MAX		512
/* A live store's exception block that fails verification is read again this often. */
#define LIVE_REREADS		20
#define LIVE_REREAD_US		5000

_Static_assert(sizeof(struct vss_snap_disk) == 24, "snapshot slot is 24 bytes");
_Static_assert(offsetof(struct vss_sb_disk, snaps) == 128, "table at byte 128");
_Static_assert(sizeof(struct vss_sb_disk) <= VSS_BLOCK_SIZE, "superblock fits a block");
_Static_assert(sizeof(struct vss_exc_block_disk) == VSS_BLOCK_SIZE, "exception block is 4 KiB");

/* One accepted exception record, 12 bytes as in the kernel's index. */
struct store_rec {
	uint32_t ochunk;
	uint32_t epoch;
	uint32_t data;
	/* of a torn block, not proven by its data_csum: fine only if free */
	bool unproven;
};

struct vss_store {
	int fd;				/* -1 for an image */
	unsigned char *image;
	uint64_t size;			/* bytes */
	bool writable;
	bool live;			/* VSS_STORE_LIVE */
	unsigned char *bounce;		/* live: aligned buffer for O_DIRECT reads */
	size_t bounce_len;
	struct vss_store_callbacks cb;
	uint64_t expect_origin_sectors;	/* 0: not known */

	struct vss_store_info info;
	/* The chosen superblock as on disk; the writer edits it in place. */
	struct vss_sb_disk sb;
	bool sb_usable;			/* loaded with a valid chunk size */

	struct vss_store_snap snaps[VSS_MAX_SNAPS];
	unsigned int nr_snaps;

	/* After a check: accepted records sorted by (ochunk, epoch). */
	struct store_rec *recs;
	uint64_t nr_recs;
};

/* ---- small helpers ---- */

static bool all_zero(const void *p, size_t len)
{
	const unsigned char *c = p;

	return !len || (c[0] == 0 && !memcmp(c, c + 1, len - 1));
}

static void store_log(struct vss_store *s, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void store_log(struct vss_store *s, int level, const char *fmt, ...)
{
	char msg[FINDING_MAX];
	va_list ap;

	if (!s->cb.log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->cb.log(level, msg, s->cb.arg);
}

static void report(struct vss_store *s, enum vss_store_severity sev, const char *name,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void report(struct vss_store *s, enum vss_store_severity sev, const char *name,
		   const char *fmt, ...)
{
	struct vss_store_finding f;
	char msg[FINDING_MAX];
	va_list ap;

	if (sev == VSS_STORE_FATAL)
		s->info.nr_fatal++;
	else
		s->info.nr_nonfatal++;
	if (!s->cb.finding)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	f.severity = sev;
	f.name = name;
	f.message = msg;
	s->cb.finding(&f, s->cb.arg);
}

/*
 * A read of a store the kernel is using: O_DIRECT, so that every read sees
 * what the kernel's bios wrote rather than what an earlier read left in the
 * page cache, through an aligned buffer that covers whole logical blocks.
 */
static int store_read_direct(struct vss_store *s, void *buf, size_t len, uint64_t off)
{
	uint64_t start = off & ~(uint64_t)(VSS_BLOCK_SIZE - 1);
	uint64_t end = (off + len + VSS_BLOCK_SIZE - 1) & ~(uint64_t)(VSS_BLOCK_SIZE - 1);
	size_t want = (size_t)(end - start), done = 0;

	if (want > s->bounce_len) {
		void *p;

		if (posix_memalign(&p, VSS_BLOCK_SIZE, want))
			return -ENOMEM;
		free(s->bounce);
		s->bounce = p;
		s->bounce_len = want;
	}
	while (done < want) {
		ssize_t n = pread(s->fd, s->bounce + done, want - done, (off_t)(start + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	if (done < off + len - start)
		return -EIO;	/* the device shrank under us */
	memcpy(buf, s->bounce + (off - start), len);
	return 0;
}

static int store_read(struct vss_store *s, void *buf, size_t len, uint64_t off)
{
	unsigned char *p = buf;

	if (off > s->size || len > s->size - off)
		return -ENXIO;
	if (s->live && !s->image)
		return store_read_direct(s, buf, len, off);
	if (!s->image) {
		while (len) {
			ssize_t n = pread(s->fd, p, len, (off_t)off);

			if (n < 0) {
				if (errno == EINTR)
					continue;
				return -errno;
			}
			if (n == 0)
				return -EIO;	/* the device shrank under us */
			p += n;
			off += (uint64_t)n;
			len -= (size_t)n;
		}
		return 0;
	}
	memcpy(p, s->image + off, len);
	return 0;
}

static int store_write(struct vss_store *s, const void *buf, size_t len, uint64_t off)
{
	const unsigned char *p = buf;

	if (!s->writable)
		return -EBADF;
	if (off > s->size || len > s->size - off)
		return -ENOSPC;
	if (!s->image) {
		while (len) {
			ssize_t n = pwrite(s->fd, p, len, (off_t)off);

			if (n < 0) {
				if (errno == EINTR)
					continue;
				return -errno;
			}
			p += n;
			off += (uint64_t)n;
			len -= (size_t)n;
		}
		return 0;
	}
	memcpy(s->image + off, p, len);
	return 0;
}

/* ---- checksums ---- */

uint32_t vss_store_block_csum(const void *block)
{
	return vss_crc32c(0xFFFFFFFFU, (const unsigned char *)block + VSS_CSUM_START,
			  VSS_BLOCK_SIZE - VSS_CSUM_START) ^ VSS_CSUM_XOR;
}

void vss_store_block_seal(void *block, uint32_t magic)
{
	unsigned char *b = block;
	uint32_t v = htole32(magic);

	memcpy(b, &v, 4);
	v = htole32(vss_store_block_csum(block));
	memcpy(b + 4, &v, 4);
}

static uint32_t block_word(const void *block, unsigned int i)
{
	uint32_t v;

	memcpy(&v, (const unsigned char *)block + 4 * i, 4);
	return le32toh(v);
}

/* ---- opening ---- */

static struct vss_store *store_alloc(unsigned int flags, const struct vss_store_callbacks *cb)
{
	struct vss_store *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->fd = -1;
	s->writable = flags & VSS_STORE_WRITE;
	s->live = (flags & VSS_STORE_LIVE) && !(flags & VSS_STORE_WRITE);
	if (cb)
		s->cb = *cb;
	return s;
}

int vss_store_open(const char *path, unsigned int flags,
		   const struct vss_store_callbacks *cb, struct vss_store **store)
{
	int oflags = ((flags & VSS_STORE_WRITE) ? O_RDWR : O_RDONLY) | O_CLOEXEC |
		     ((flags & VSS_STORE_LIVE) ? O_DIRECT : 0);
	struct vss_store *s;
	struct stat st;
	int r;

	if (!path || !store)
		return -EINVAL;
	s = store_alloc(flags, cb);
	if (!s)
		return -ENOMEM;
	if (flags & VSS_STORE_EXCL) {
		/* O_EXCL is only meaningful for block devices: check first. */
		if (stat(path, &st) == 0 && S_ISBLK(st.st_mode))
			oflags |= O_EXCL;
	}
	s->fd = open(path, oflags);
	if (s->fd < 0) {
		r = -errno;
		goto fail;
	}
	if (fstat(s->fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	if (S_ISBLK(st.st_mode)) {
		uint64_t bytes;

		/* not vss_blkdev_size_fd(): this reader links alone (fuzz-store) */
		if (ioctl(s->fd, BLKGETSIZE64, &bytes) < 0) {
			r = -errno;
			goto fail;
		}
		s->size = bytes;
	} else if (S_ISREG(st.st_mode)) {
		s->size = (uint64_t)st.st_size;
	} else {
		r = -ENOTBLK;
		goto fail;
	}
	s->info.device_bytes = s->size;
	store_log(s, VSS_STORE_LOG_DEBUG, "device of %" PRIu64 " bytes", s->size);
	*store = s;
	return 0;
fail:
	vss_store_close(s);
	return r;
}

int vss_store_open_image(void *image, size_t size, unsigned int flags,
			 const struct vss_store_callbacks *cb, struct vss_store **store)
{
	struct vss_store *s;

	if ((!image && size) || !store)
		return -EINVAL;
	s = store_alloc(flags, cb);
	if (!s)
		return -ENOMEM;
	s->image = image;
	s->size = size;
	s->info.device_bytes = size;
	*store = s;
	return 0;
}

int vss_store_expect_origin(struct vss_store *s, uint64_t origin_sectors)
{
	s->expect_origin_sectors = origin_sectors;
	return 0;
}

static void store_reset(struct vss_store *s)
{
	uint64_t bytes = s->info.device_bytes;

	free(s->recs);
	s->recs = NULL;
	s->nr_recs = 0;
	memset(&s->info, 0, sizeof(s->info));
	s->info.device_bytes = bytes;
	memset(&s->sb, 0, sizeof(s->sb));
	s->sb_usable = false;
	s->nr_snaps = 0;
}

void vss_store_close(struct vss_store *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s->recs);
	free(s->bounce);
	free(s);
}

/* ---- superblock ---- */

static const char copy_name[2] = { 'A', 'B' };

const char *vss_store_snap_state_name(uint32_t state)
{
	switch (state) {
	case VSS_SNAP_FREE:
		return "free";
	case VSS_SNAP_VALID:
		return "valid";
	case VSS_SNAP_INVALID:
		return "invalid";
	case VSS_SNAP_DROPPED:
		return "dropped";
	}
	return "unknown";
}

/* Rebuild the list of slots in use from s->sb. */
static void snaps_from_sb(struct vss_store *s)
{
	unsigned int i;

	s->nr_snaps = 0;
	for (i = 0; i < VSS_MAX_SNAPS; i++) {
		const struct vss_snap_disk *d = &s->sb.snaps[i];
		struct vss_store_snap *sn;

		if (le32toh(d->state) == VSS_SNAP_FREE)
			continue;
		sn = &s->snaps[s->nr_snaps++];
		sn->slot = i;
		sn->snap_id = le32toh(d->snap_id);
		sn->state = le32toh(d->state);
		sn->epoch = le32toh(d->epoch);
		sn->ctime = le64toh(d->ctime);
		sn->chunks = 0;
	}
}

static void info_from_sb(struct vss_store *s)
{
	const struct vss_sb_disk *sb = &s->sb;
	struct vss_store_info *in = &s->info;

	in->version = le32toh(sb->version);
	in->flags = le32toh(sb->flags);
	in->seq = le64toh(sb->seq);
	in->origin_sectors = le64toh(sb->origin_sectors);
	in->store_chunks = le64toh(sb->store_chunks);
	in->chunk_sectors = le32toh(sb->chunk_sectors);
	in->nr_snaps = le32toh(sb->nr_snaps);
	in->last_epoch = le32toh(sb->last_epoch);
	in->synced_seq = le32toh(sb->synced_seq);
	in->data_chunks = le64toh(sb->data_chunks);
	memcpy(in->uuid, sb->uuid, sizeof(in->uuid));
}

static bool chunk_sectors_valid(uint32_t cs)
{
	return cs >= VSS_MIN_CHUNK_SECTORS && cs <= VSS_MAX_CHUNK_SECTORS && !(cs & (cs - 1));
}

/* What is wrong with one superblock copy, or NULL if it verifies. */
static const char *sb_copy_problem(const void *block, bool *has_magic)
{
	*has_magic = block_word(block, 0) == VSS_SB_MAGIC;
	if (all_zero(block, VSS_BLOCK_SIZE))
		return "all zero";
	if (!*has_magic)
		return "bad magic";
	if (block_word(block, 1) != vss_store_block_csum(block))
		return "bad checksum";
	return NULL;
}

static const char *sb_problem_name(const char *problem)
{
	if (!strcmp(problem, "bad checksum"))
		return "sb-bad-csum";
	if (!strcmp(problem, "all zero"))
		return "sb-zero";
	return "sb-bad-magic";
}

static void check_snap_table(struct vss_store *s, char copy)
{
	const struct vss_sb_disk *sb = &s->sb;
	uint32_t last_epoch = le32toh(sb->last_epoch);
	unsigned int i, j, in_use = 0;

	for (i = 0; i < VSS_MAX_SNAPS; i++) {
		const struct vss_snap_disk *d = &sb->snaps[i];
		uint32_t state = le32toh(d->state);
		uint32_t id = le32toh(d->snap_id);
		uint32_t epoch = le32toh(d->epoch);

		if (state == VSS_SNAP_FREE) {
			if (!all_zero(d, sizeof(*d)))
				report(s, VSS_STORE_NONFATAL, "snap-free-nonzero",
				       "snapshot slot %u: free, but its fields are not zero", i);
			continue;
		}
		in_use++;
		if (state > VSS_SNAP_DROPPED)
			report(s, VSS_STORE_FATAL, "snap-bad-state",
			       "snapshot slot %u: unknown state %" PRIu32, i, state);
		if (!epoch)
			report(s, VSS_STORE_FATAL, "snap-epoch-zero",
			       "snapshot slot %u: snap_id %" PRIu32 " has epoch 0", i, id);
		else if (epoch > last_epoch)
			report(s, VSS_STORE_FATAL, "snap-epoch-beyond",
			       "snapshot slot %u: epoch %" PRIu32 " > last_epoch %" PRIu32,
			       i, epoch, last_epoch);
		if (le32toh(d->reserved))
			report(s, VSS_STORE_NONFATAL, "snap-reserved",
			       "snapshot slot %u: reserved field is not zero", i);
		for (j = 0; j < i; j++) {
			const struct vss_snap_disk *o = &sb->snaps[j];

			if (le32toh(o->state) == VSS_SNAP_FREE)
				continue;
			if (le32toh(o->snap_id) == id)
				report(s, VSS_STORE_FATAL, "snap-duplicate-id",
				       "snapshot slot %u: duplicate snap_id %" PRIu32
				       " (also in slot %u)", i, id, j);
			if (epoch && le32toh(o->epoch) == epoch)
				report(s, VSS_STORE_FATAL, "snap-duplicate-epoch",
				       "snapshot slot %u: duplicate epoch %" PRIu32
				       " (also in slot %u)", i, epoch, j);
		}
	}
	if (in_use != le32toh(sb->nr_snaps))
		report(s, VSS_STORE_FATAL, "sb-nr-snaps",
		       "superblock %c: nr_snaps %" PRIu32 " but %u snapshot table slots are in use",
		       copy, le32toh(sb->nr_snaps), in_use);
}

static bool version_known(uint32_t version)
{
	return version >= VSS_FORMAT_VERSION_MIN && version <= VSS_FORMAT_VERSION;
}

/* Checks of the chosen superblock; fills the derived geometry. */
static void check_sb(struct vss_store *s, char copy, bool tail_zero)
{
	const struct vss_sb_disk *sb = &s->sb;
	struct vss_store_info *in = &s->info;
	uint64_t device_chunks;
	uint32_t cs = in->chunk_sectors;

	if (!version_known(in->version))
		report(s, VSS_STORE_FATAL, "sb-version",
		       "superblock %c: unknown format version %" PRIu32 " (this reader knows %u to %u)",
		       copy, in->version, VSS_FORMAT_VERSION_MIN, VSS_FORMAT_VERSION);
	if (in->flags)
		report(s, VSS_STORE_FATAL, "sb-flags",
		       "superblock %c: unknown feature flags 0x%" PRIx32, copy, in->flags);
	if (in->version == 1 && in->synced_seq)
		report(s, VSS_STORE_NONFATAL, "sb-reserved",
		       "superblock %c: format version 1 with a synced_seq (reserved there)", copy);
	if (!all_zero(sb->reserved1, sizeof(sb->reserved1)) || !tail_zero)
		report(s, VSS_STORE_NONFATAL, "sb-reserved",
		       "superblock %c: reserved bytes are not zero", copy);

	if (s->expect_origin_sectors && in->origin_sectors != s->expect_origin_sectors)
		report(s, VSS_STORE_FATAL, "sb-origin-size",
		       "superblock %c: origin_sectors %" PRIu64 ", but the origin has %" PRIu64
		       " sectors: the store belongs to another origin", copy,
		       in->origin_sectors, s->expect_origin_sectors);

	check_snap_table(s, copy);

	if (!chunk_sectors_valid(cs)) {
		report(s, VSS_STORE_FATAL, "sb-chunk-size",
		       "superblock %c: chunk_sectors %" PRIu32
		       " is not a power of two in %u..%u", copy, cs,
		       VSS_MIN_CHUNK_SECTORS, VSS_MAX_CHUNK_SECTORS);
		return;
	}
	in->geometry_valid = true;
	s->sb_usable = true;
	in->header_chunks = vss_header_chunks(cs);
	in->group_data_chunks = vss_group_data(cs);
	in->origin_chunks = in->origin_sectors / cs + (in->origin_sectors % cs != 0);

	device_chunks = s->size / SECTOR_BYTES / cs;
	if (in->store_chunks > device_chunks)
		report(s, VSS_STORE_FATAL, "sb-store-beyond-device",
		       "superblock %c: store_chunks %" PRIu64 " larger than the device (%" PRIu64
		       " chunks of %" PRIu32 " sectors)", copy, in->store_chunks,
		       device_chunks, cs);
	if (in->data_chunks != vss_data_chunks(in->store_chunks, cs) || !in->data_chunks)
		report(s, VSS_STORE_FATAL, "sb-data-chunks",
		       "superblock %c: data_chunks %" PRIu64 " but a layout of %" PRIu64
		       " chunks holds %" PRIu64, copy, in->data_chunks, in->store_chunks,
		       (uint64_t)vss_data_chunks(in->store_chunks, cs));
	if (in->origin_chunks >= UINT32_MAX || in->data_chunks >= UINT32_MAX)
		report(s, VSS_STORE_FATAL, "sb-too-many-chunks",
		       "superblock %c: origin of %" PRIu64 " chunks or store of %" PRIu64
		       " data chunks: dm-vss supports fewer than 2^32", copy,
		       in->origin_chunks, in->data_chunks);
	/* The layout as the superblock describes it, bounded by the device. */
	in->exc_blocks = vss_exc_blocks(vss_data_chunks(in->store_chunks < device_chunks ?
							in->store_chunks : device_chunks, cs),
					cs);
}

/* Copy A holds odd sequence numbers and B even ones (the kernel's rule). */
static void check_seq_parity(struct vss_store *s, int copy, uint64_t seq)
{
	if ((seq & 1) == (copy == 0))
		return;
	report(s, VSS_STORE_NONFATAL, "sb-seq-parity",
	       "superblock %c: seq %" PRIu64 " is %s, but copy %c holds %s sequence numbers: "
	       "an update would overwrite the newest copy",
	       copy_name[copy], seq, (seq & 1) ? "odd" : "even", copy_name[copy],
	       copy ? "even" : "odd");
}

int vss_store_load(struct vss_store *s)
{
	unsigned char blk[2][VSS_BLOCK_SIZE];
	const char *problem[2];
	bool magic[2];
	int i, win;

	store_reset(s);
	if (s->size < VSS_HEADER_BYTES) {
		report(s, VSS_STORE_FATAL, "store-too-small",
		       "device of %" PRIu64 " bytes is smaller than the %u-byte store header",
		       s->size, VSS_HEADER_BYTES);
		s->info.state = VSS_STORE_NO_SUPERBLOCK;
		return 0;
	}
	for (i = 0; i < 2; i++) {
		int r = store_read(s, blk[i], VSS_BLOCK_SIZE, i ? VSS_SB_OFFSET_B : VSS_SB_OFFSET_A);
		if (r) {
			report(s, VSS_STORE_FATAL, "sb-read-error",
			       "superblock %c (byte offset %u): read error: %s", copy_name[i],
			       i ? VSS_SB_OFFSET_B : VSS_SB_OFFSET_A, strerror(-r));
			s->info.state = VSS_STORE_NO_SUPERBLOCK;
			return 0;
		}
		problem[i] = sb_copy_problem(blk[i], &magic[i]);
		s->info.sb_valid[i] = !problem[i];
		if (!problem[i]) {
			const struct vss_sb_disk *sb = (const void *)blk[i];

			s->info.sb_seq[i] = le64toh(sb->seq);
		}
	}

	/*
	 * dm-vss formats a store whose first 4 KiB are zero, unless copy B is
	 * a valid superblock: then it loads B (copy A was lost; B may also be
	 * what a format interrupted between its two superblock writes left).
	 */
	if (all_zero(blk[0], VSS_BLOCK_SIZE) && !s->info.sb_valid[1]) {
		s->info.state = VSS_STORE_UNFORMATTED;
		if (magic[1])
			report(s, VSS_STORE_FATAL, "sb-a-zero",
			       "superblock A: all zero, and copy B is a damaged superblock (%s): "
			       "dm-vss would format this store at load", problem[1]);
		return 0;
	}

	if (!s->info.sb_valid[0] && !s->info.sb_valid[1]) {
		s->info.state = VSS_STORE_NO_SUPERBLOCK;
		if (!magic[0] && !magic[1]) {
			report(s, VSS_STORE_FATAL, "no-superblock",
			       "no dm-vss superblock at byte 0 or 4096: the device holds something "
			       "else (foreign signature); zero its first 4 KiB to have dm-vss format it");
			return 0;
		}
		for (i = 0; i < 2; i++)
			report(s, VSS_STORE_FATAL, sb_problem_name(problem[i]),
			       "superblock %c: %s; no valid superblock copy", copy_name[i],
			       problem[i]);
		return 0;
	}

	if (s->info.sb_valid[0] && s->info.sb_valid[1])
		win = s->info.sb_seq[0] > s->info.sb_seq[1] ? 0 : 1;	/* tie: B, as dm-vss */
	else
		win = s->info.sb_valid[0] ? 0 : 1;
	for (i = 0; i < 2; i++) {
		if (problem[i])
			report(s, VSS_STORE_NONFATAL, sb_problem_name(problem[i]),
			       "superblock %c: %s; using copy %c", copy_name[i], problem[i],
			       copy_name[win]);
		else
			check_seq_parity(s, i, s->info.sb_seq[i]);
	}
	if (s->info.sb_valid[!win]) {
		const struct vss_sb_disk *a = (const void *)blk[win];
		const struct vss_sb_disk *b = (const void *)blk[!win];

		if (memcmp(a->uuid, b->uuid, sizeof(a->uuid)) ||
		    a->chunk_sectors != b->chunk_sectors || a->origin_sectors != b->origin_sectors)
			report(s, VSS_STORE_NONFATAL, "sb-copies-differ",
			       "superblock %c: uuid, chunk size or origin size differ from copy %c",
			       copy_name[!win], copy_name[win]);
	}

	memcpy(&s->sb, blk[win], sizeof(s->sb));
	s->info.state = VSS_STORE_LOADED;
	s->info.sb_copy = copy_name[win];
	info_from_sb(s);
	snaps_from_sb(s);
	store_log(s, VSS_STORE_LOG_DEBUG, "using superblock %c, seq %" PRIu64,
		  copy_name[win], s->info.seq);
	check_sb(s, copy_name[win], all_zero(blk[win] + SB_TABLE_END, VSS_BLOCK_SIZE - SB_TABLE_END));
	return 0;
}

/* ---- exception blocks and records ---- */

static int rec_cmp(const void *pa, const void *pb)
{
	const struct store_rec *a = pa, *b = pb;

	if (a->ochunk != b->ochunk)
		return a->ochunk < b->ochunk ? -1 : 1;
	if (a->epoch != b->epoch)
		return a->epoch < b->epoch ? -1 : 1;
	return a->data < b->data ? -1 : a->data > b->data;
}

struct scan {
	uint64_t data_chunks;		/* of the layout */
	uint64_t origin_chunks;
	uint32_t last_epoch;
	size_t cap;
	void *copy;			/* a chunk, to check copies of unsynced commits */
};

/*
 * A record's data_csum from its copy's crc32c (not finished): version 3
 * covers the record's origin_chunk, seq and epoch too (vss-ondisk.h).
 */
uint32_t vss_store_rec_csum(uint32_t version, uint32_t copy_crc, const struct vss_exc_disk *rec)
{
	if (version >= 3)
		copy_crc = vss_crc32c(copy_crc, rec, VSS_REC_CSUM_BYTES);
	return copy_crc ^ VSS_CSUM_XOR;
}

/*
 * A record of a commit after synced_seq, or of a torn block: does its data
 * chunk hold the copy it describes?  1 yes, 0 no (a crash lost the copy),
 * < 0 a read error.
 */
static int copy_matches(struct vss_store *s, struct scan *sc, uint64_t d, uint64_t ochunk,
			const struct vss_exc_disk *rec)
{
	uint32_t cs = s->info.chunk_sectors;
	uint64_t len = vss_copy_bytes(s->info.origin_sectors, cs, ochunk);
	int r;

	if (!sc->copy) {
		sc->copy = malloc((size_t)cs * SECTOR_BYTES);
		if (!sc->copy)
			return -ENOMEM;
	}
	r = store_read(s, sc->copy, (size_t)len, vss_data_to_chunk(d, cs) * cs * SECTOR_BYTES);
	if (r)
		return r;
	return vss_store_rec_csum(s->info.version, vss_crc32c(0xFFFFFFFFU, sc->copy, (size_t)len),
				  rec) == le32toh(rec->data_csum);
}

static int add_rec(struct vss_store *s, struct scan *sc, uint32_t ochunk, uint32_t epoch,
		   uint32_t data, bool unproven)
{
	if (s->nr_recs == sc->cap) {
		size_t cap = sc->cap ? sc->cap * 2 : 4096;
		struct store_rec *n = realloc(s->recs, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		s->recs = n;
		sc->cap = cap;
	}
	s->recs[s->nr_recs].ochunk = ochunk;
	s->recs[s->nr_recs].epoch = epoch;
	s->recs[s->nr_recs].data = data;
	s->recs[s->nr_recs].unproven = unproven;
	s->nr_recs++;
	return 0;
}

/*
 * Take a record that passed the range checks: its copy checked first when
 * its commit is after synced_seq (a crash may have lost the copy) or its
 * block is torn (only a version 3 data_csum proves a record).  Record i of
 * block blocknr, for the messages.  0, or -ENOMEM.
 */
static int scan_record(struct vss_store *s, struct scan *sc, const struct vss_exc_disk *rec,
		       uint64_t d, uint64_t ochunk, bool torn, unsigned int i, uint64_t blocknr)
{
	uint32_t seq = le32toh(rec->seq), epoch = le32toh(rec->epoch);
	bool unsynced = s->info.version > 1 && vss_seq_unsynced(seq, s->info.synced_seq);
	int r;

	if (!torn && !unsynced)
		return add_rec(s, sc, (uint32_t)ochunk, epoch, (uint32_t)d, false);
	r = copy_matches(s, sc, d, ochunk, rec);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		report(s, VSS_STORE_FATAL, "data-read-error",
		       "data chunk %" PRIu64 " (of record %u of block %" PRIu64
		       "): read error: %s", d, i, blocknr, strerror(-r));
		return 0;
	}
	if (unsynced)
		s->info.unsynced_records++;
	if (r)
		return add_rec(s, sc, (uint32_t)ochunk, epoch, (uint32_t)d, false);
	if (!unsynced)	/* torn, of a synced commit: free space, or damage (derive_usage) */
		return add_rec(s, sc, (uint32_t)ochunk, epoch, (uint32_t)d, true);
	report(s, VSS_STORE_NONFATAL, "rec-copy-lost",
	       "record %u of block %" PRIu64 ": data chunk %" PRIu64
	       " does not hold the copy of origin chunk %" PRIu64
	       " (commit %" PRIu32 ", after the last synced commit %" PRIu32
	       "): a crash came before the copy was durable, and before its"
	       " origin write; dm-vss empties the record at the next load",
	       i, blocknr, d, ochunk, seq, s->info.synced_seq);
	s->info.lost_records++;
	return 0;
}

/* Verify one exception block and take its records; d0 is its first data chunk. */
static int scan_block(struct vss_store *s, struct scan *sc, const unsigned char *buf,
		      uint64_t blocknr, uint64_t d0)
{
	const struct vss_exc_block_disk *blk = (const void *)buf;
	const char *what = NULL, *name = NULL;
	bool torn = false;
	unsigned int i;
	int r;

	if (all_zero(buf, VSS_BLOCK_SIZE)) {
		name = "exc-zero";
		what = "all zero (never formatted)";
	} else if (block_word(buf, 0) != VSS_EXC_MAGIC) {
		name = "exc-bad-magic";
		what = "bad magic";
	} else if (block_word(buf, 1) != vss_store_block_csum(buf) &&
		   (s->info.version < 3 || le64toh(blk->blocknr) != blocknr)) {
		name = "exc-bad-csum";
		what = "bad checksum";
	} else if (block_word(buf, 1) != vss_store_block_csum(buf)) {
		/* version 3: each record proves itself (vss-ondisk.h) */
		torn = true;
		report(s, VSS_STORE_NONFATAL, "exc-torn",
		       "exception block %" PRIu64 " (byte offset %" PRIu64 "): bad checksum, as a "
		       "write torn by a crash leaves it: its records are taken one by one, each "
		       "proven by its data_csum; dm-vss seals it again at the next load",
		       blocknr, blocknr * VSS_BLOCK_SIZE);
	}
	if (name) {
		report(s, VSS_STORE_FATAL, name, "exception block %" PRIu64 " (byte offset %" PRIu64
		       "): %s", blocknr, blocknr * VSS_BLOCK_SIZE, what);
		s->info.exc_blocks_bad++;
		return 0;
	}
	if (le64toh(blk->blocknr) != blocknr) {
		report(s, VSS_STORE_FATAL, "exc-wrong-blocknr",
		       "exception block %" PRIu64 " (byte offset %" PRIu64 "): wrong blocknr %" PRIu64,
		       blocknr, blocknr * VSS_BLOCK_SIZE, (uint64_t)le64toh(blk->blocknr));
		s->info.exc_blocks_bad++;
		return 0;
	}

	for (i = 0; i < VSS_RECORDS_PER_BLOCK; i++) {
		const struct vss_exc_disk *rec = &blk->rec[i];
		uint32_t seq = le32toh(rec->seq), csum = le32toh(rec->data_csum);
		uint32_t epoch = le32toh(rec->epoch);
		/* version 1 has a 64-bit origin_chunk where seq is now */
		uint64_t ochunk = le32toh(rec->origin_chunk) |
				  (s->info.version == 1 ? (uint64_t)seq << 32 : 0);
		uint64_t d = d0 + i;

		if (!epoch) {
			if (ochunk || seq || csum)
				report(s, VSS_STORE_NONFATAL, "rec-empty-nonzero",
				       "record %u of block %" PRIu64 ": empty (epoch 0) but not zero",
				       i, blocknr);
			continue;
		}
		if (s->info.version == 1 && csum)
			report(s, VSS_STORE_NONFATAL, "rec-reserved",
			       "record %u of block %" PRIu64 ": reserved field is not zero", i, blocknr);
		if (d >= sc->data_chunks) {
			report(s, VSS_STORE_FATAL, "rec-beyond-data",
			       "record %u of block %" PRIu64 ": describes data chunk %" PRIu64
			       ", beyond the store's %" PRIu64 " data chunks",
			       i, blocknr, d, sc->data_chunks);
			continue;
		}
		if (ochunk >= sc->origin_chunks) {
			report(s, VSS_STORE_FATAL, "rec-origin-beyond",
			       "record %u of block %" PRIu64 ": origin chunk %" PRIu64
			       " beyond origin size (%" PRIu64 " chunks)",
			       i, blocknr, ochunk, sc->origin_chunks);
			continue;
		}
		if (epoch > sc->last_epoch && s->live) {
			/* a commit after the superblock was read: newer than every snapshot seen */
			continue;
		}
		if (epoch > sc->last_epoch) {
			report(s, VSS_STORE_FATAL, "rec-epoch-beyond",
			       "record %u of block %" PRIu64 ": epoch %" PRIu32 " > last_epoch %" PRIu32,
			       i, blocknr, epoch, sc->last_epoch);
			continue;
		}
		r = scan_record(s, sc, rec, d, ochunk, torn, i, blocknr);
		if (r)
			return r;
	}
	return 0;
}

static bool exc_block_verifies(const unsigned char *buf, uint64_t blocknr)
{
	const struct vss_exc_block_disk *blk = (const void *)buf;

	return block_word(buf, 0) == VSS_EXC_MAGIC && block_word(buf, 1) == vss_store_block_csum(buf) &&
	       le64toh(blk->blocknr) == blocknr;
}

/*
 * A live store: the kernel rewrites exception blocks in place, and a read
 * that meets such a write can see part of each version.  Read a block that
 * does not verify again for a while before taking it as damaged.
 */
static void reread_while_torn(struct vss_store *s, unsigned char *buf, uint64_t blocknr)
{
	unsigned int tries;

	for (tries = 0; tries < LIVE_REREADS && !exc_block_verifies(buf, blocknr); tries++) {
		usleep(LIVE_REREAD_US);
		if (store_read(s, buf, VSS_BLOCK_SIZE, blocknr * VSS_BLOCK_SIZE))
			return;
	}
}

/* Read the n exception blocks of one metadata chunk, the first one of data chunk d0. */
static int scan_meta_chunk(struct vss_store *s, struct scan *sc, unsigned char *buf,
			   uint64_t first_block, uint64_t d0, unsigned int n)
{
	bool whole = !store_read(s, buf, (size_t)n * VSS_BLOCK_SIZE,
				 first_block * VSS_BLOCK_SIZE);
	unsigned int i;
	int r;

	for (i = 0; i < n; i++) {
		uint64_t blocknr = first_block + i;
		unsigned char *b = buf + (size_t)i * VSS_BLOCK_SIZE;

		if (!whole) {	/* find out which blocks are unreadable */
			r = store_read(s, b, VSS_BLOCK_SIZE, blocknr * VSS_BLOCK_SIZE);
			if (r) {
				report(s, VSS_STORE_FATAL, "exc-read-error",
				       "exception block %" PRIu64 " (byte offset %" PRIu64
				       "): read error: %s", blocknr, blocknr * VSS_BLOCK_SIZE,
				       strerror(-r));
				s->info.exc_blocks_bad++;
				continue;
			}
		}
		if (s->live)
			reread_while_torn(s, b, blocknr);
		r = scan_block(s, sc, b, blocknr, d0 + (uint64_t)i * VSS_RECORDS_PER_BLOCK);
		if (r)
			return r;
	}
	return 0;
}

struct live_epoch {
	uint32_t epoch;
	unsigned int snap;		/* index into s->snaps */
};

static int live_cmp(const void *pa, const void *pb)
{
	const struct live_epoch *a = pa, *b = pb;

	return a->epoch < b->epoch ? -1 : a->epoch > b->epoch;
}

/* Number of live epochs <= epoch. */
static unsigned int live_upto(const struct live_epoch *live, unsigned int n, uint32_t epoch)
{
	unsigned int lo = 0, hi = n;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (live[mid].epoch <= epoch)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Sort the records per origin chunk by epoch; a record of epoch E serves
 * the VALID snapshots with an epoch in (previous epoch of the chunk, E].
 */
static void derive_usage(struct vss_store *s, uint64_t data_chunks)
{
	struct live_epoch live[VSS_MAX_SNAPS] = { { 0, 0 } };
	int64_t diff[VSS_MAX_SNAPS + 1] = { 0 };
	unsigned int nr_live = 0, k;
	uint64_t i, out = 0, used = 0, unused = 0;
	int64_t run = 0;

	for (k = 0; k < s->nr_snaps; k++)
		if (s->snaps[k].state == VSS_SNAP_VALID && s->snaps[k].epoch) {
			live[nr_live].epoch = s->snaps[k].epoch;
			live[nr_live].snap = k;
			nr_live++;
		}
	qsort(live, nr_live, sizeof(live[0]), live_cmp);
	if (s->nr_recs)
		qsort(s->recs, s->nr_recs, sizeof(s->recs[0]), rec_cmp);

	for (i = 0; i < s->nr_recs; i++) {
		struct store_rec r = s->recs[i];
		const struct store_rec *last = out ? &s->recs[out - 1] : NULL;
		uint32_t prev = last && last->ochunk == r.ochunk ? last->epoch : 0;
		unsigned int lo, hi;

		if (r.unproven) {
			/* as dm-vss loads it: emptied if free, else the store is refused */
			lo = live_upto(live, nr_live, prev);
			hi = live_upto(live, nr_live, r.epoch);
			if (lo < hi)
				report(s, VSS_STORE_FATAL, "rec-torn-unproven",
				       "the record of data chunk %" PRIu32 " (origin chunk %" PRIu32
				       ", epoch %" PRIu32 ") is in a torn exception block and does not "
				       "match its copy, and a valid snapshot reads it",
				       r.data, r.ochunk, r.epoch);
			else
				report(s, VSS_STORE_NONFATAL, "rec-torn-free",
				       "the record of data chunk %" PRIu32 " (origin chunk %" PRIu32
				       ") is in a torn exception block and does not match its copy; "
				       "no valid snapshot reads it: dm-vss empties it at the next load",
				       r.data, r.ochunk);
			continue;
		}

		if (last && last->ochunk == r.ochunk && last->epoch == r.epoch) {
			report(s, VSS_STORE_FATAL, "rec-duplicate",
			       "two records of origin chunk %" PRIu32 " with the same epoch %" PRIu32
			       " (data chunks %" PRIu32 " and %" PRIu32 ")",
			       r.ochunk, r.epoch, last->data, r.data);
			continue;
		}
		lo = live_upto(live, nr_live, prev);
		hi = live_upto(live, nr_live, r.epoch);
		if (lo < hi) {
			used++;
			diff[lo]++;
			diff[hi]--;
		} else {
			unused++;
		}
		s->recs[out++] = r;
	}
	s->nr_recs = out;

	for (k = 0; k < nr_live; k++) {
		run += diff[k];
		s->snaps[live[k].snap].chunks = (uint64_t)run;
	}
	s->info.records = out;
	s->info.used_chunks = used;
	s->info.free_records = unused;
	s->info.free_chunks = data_chunks > used ? data_chunks - used : 0;
}

int vss_store_check(struct vss_store *s)
{
	struct vss_store_info *in = &s->info;
	uint64_t device_chunks, layout_chunks, scan_data, d0, gd;
	struct scan sc = { 0 };
	unsigned char *buf;
	uint32_t cs, bpc;
	int r;

	r = vss_store_load(s);
	if (r)
		return r;
	if (in->state != VSS_STORE_LOADED || !in->geometry_valid)
		return 0;
	if (!version_known(in->version)) {
		store_log(s, VSS_STORE_LOG_INFO, "format version %" PRIu32
			  " unknown: exception blocks not checked", in->version);
		return 0;
	}
	if (in->origin_chunks >= UINT32_MAX) {
		store_log(s, VSS_STORE_LOG_INFO, "origin too large: exception blocks not checked");
		return 0;
	}

	cs = in->chunk_sectors;
	bpc = vss_blocks_per_chunk(cs);
	gd = vss_group_data(cs);
	device_chunks = s->size / SECTOR_BYTES / cs;
	layout_chunks = in->store_chunks < device_chunks ? in->store_chunks : device_chunks;
	sc.data_chunks = vss_data_chunks(in->store_chunks, cs);
	sc.origin_chunks = in->origin_chunks;
	sc.last_epoch = in->last_epoch;
	scan_data = vss_data_chunks(layout_chunks, cs);
	if (scan_data >= UINT32_MAX) {
		store_log(s, VSS_STORE_LOG_INFO, "store too large: exception blocks not checked");
		return 0;
	}

	buf = malloc((size_t)bpc * VSS_BLOCK_SIZE);
	if (!buf)
		return -ENOMEM;
	store_log(s, VSS_STORE_LOG_INFO, "reading %" PRIu64 " exception blocks",
		  (uint64_t)vss_exc_blocks(scan_data, cs));
	for (d0 = 0; d0 < scan_data; d0 += gd) {
		uint64_t left = scan_data - d0;
		unsigned int n = left >= gd ? bpc :
				 (unsigned int)((left + VSS_RECORDS_PER_BLOCK - 1) / VSS_RECORDS_PER_BLOCK);

		r = scan_meta_chunk(s, &sc, buf, vss_data_to_block(d0, cs), d0, n);
		if (r) {
			free(buf);
			free(sc.copy);
			return r;
		}
	}
	free(buf);
	free(sc.copy);
	if (scan_data < sc.data_chunks)
		report(s, VSS_STORE_FATAL, "exc-beyond-device",
		       "%" PRIu64 " exception blocks of the layout (data chunks %" PRIu64
		       " on) lie beyond the end of the device",
		       (uint64_t)(vss_exc_blocks(sc.data_chunks, cs) - vss_exc_blocks(scan_data, cs)),
		       scan_data);

	derive_usage(s, sc.data_chunks);
	in->checked = true;
	return 0;
}

/* ---- results ---- */

int vss_store_get_info(const struct vss_store *s, struct vss_store_info *info)
{
	*info = s->info;
	return 0;
}

unsigned int vss_store_snap_count(const struct vss_store *s)
{
	return s->nr_snaps;
}

int vss_store_snap_get(const struct vss_store *s, unsigned int index,
		       struct vss_store_snap *snap)
{
	if (index >= s->nr_snaps)
		return -ENOENT;
	*snap = s->snaps[index];
	return 0;
}

int vss_store_lookup(const struct vss_store *s, uint32_t snap_id,
		     uint64_t origin_chunk, uint64_t *data_chunk)
{
	const struct vss_store_snap *sn = NULL;
	uint64_t lo = 0, hi = s->nr_recs;
	unsigned int k;

	if (!s->info.checked || origin_chunk >= s->info.origin_chunks)
		return -EINVAL;
	for (k = 0; k < s->nr_snaps; k++)
		if (s->snaps[k].snap_id == snap_id && s->snaps[k].state == VSS_SNAP_VALID)
			sn = &s->snaps[k];
	if (!sn)
		return -ENOENT;
	while (lo < hi) {	/* first record >= (origin_chunk, epoch) */
		uint64_t mid = lo + (hi - lo) / 2;
		const struct store_rec *r = &s->recs[mid];

		if (r->ochunk < origin_chunk || (r->ochunk == origin_chunk && r->epoch < sn->epoch))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == s->nr_recs || s->recs[lo].ochunk != origin_chunk)
		return -ENODATA;
	*data_chunk = s->recs[lo].data;
	return 0;
}

static const struct vss_store_snap *valid_snap(const struct vss_store *s, uint32_t snap_id)
{
	unsigned int k;

	for (k = 0; k < s->nr_snaps; k++)
		if (s->snaps[k].snap_id == snap_id && s->snaps[k].state == VSS_SNAP_VALID)
			return &s->snaps[k];
	return NULL;
}

/*
 * The first record of an origin chunk with an epoch >= FROM's serves FROM
 * (its range holds FROM's epoch), so it is never freed while FROM is
 * valid.  If its epoch is below TO's, a write came between the two
 * snapshots: TO reads a later copy or the origin.  Otherwise both read
 * that record, or both the origin.
 */
int vss_store_diff(const struct vss_store *s, uint32_t from_id, uint32_t to_id,
		   uint64_t **chunks, size_t *count)
{
	const struct vss_store_snap *from, *to;
	uint64_t i, *out = NULL;
	size_t n = 0, cap = 0;

	*chunks = NULL;
	*count = 0;
	if (!s->info.checked)
		return -EINVAL;
	from = valid_snap(s, from_id);
	to = valid_snap(s, to_id);
	if (!from || !to)
		return -ENOENT;
	if (from->epoch >= to->epoch)
		return -ERANGE;
	for (i = 0; i < s->nr_recs; i++) {
		const struct store_rec *r = &s->recs[i];

		if (r->epoch < from->epoch)
			continue;
		/* r is the first record of its chunk at or after FROM */
		if (r->epoch < to->epoch) {
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 1024;
				uint64_t *tmp = realloc(out, ncap * sizeof(*out));

				if (!tmp) {
					free(out);
					return -ENOMEM;
				}
				out = tmp;
				cap = ncap;
			}
			out[n++] = r->ochunk;
		}
		while (i + 1 < s->nr_recs && s->recs[i + 1].ochunk == r->ochunk)
			i++;
	}
	*chunks = out;
	*count = n;
	return 0;
}

static uint64_t layout_data_chunks(const struct vss_store *s)
{
	return vss_data_chunks(s->info.store_chunks, s->info.chunk_sectors);
}

int vss_store_data_offset(const struct vss_store *s, uint64_t data_chunk, uint64_t *offset)
{
	if (!s->sb_usable || data_chunk >= layout_data_chunks(s))
		return -EINVAL;
	*offset = vss_data_to_chunk(data_chunk, s->info.chunk_sectors) *
		  s->info.chunk_sectors * SECTOR_BYTES;
	return 0;
}

/* ---- formatting ---- */

static void random_uuid(uint8_t uuid[16])
{
	ssize_t n = getrandom(uuid, 16, GRND_NONBLOCK);

	if (n != 16) {	/* no entropy yet: unique is all a store's uuid must be */
		uint64_t a = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
		uint64_t b = (uint64_t)(uintptr_t)uuid ^ (uint64_t)clock();

		memcpy(uuid, &a, 8);
		memcpy(uuid + 8, &b, 8);
	}
}

static int store_sync(struct vss_store *s)
{
	if (s->image)
		return 0;
	return fdatasync(s->fd) < 0 ? -errno : 0;
}

static int store_format(struct vss_store *s, uint64_t origin_sectors, uint32_t cs)
{
	struct vss_sb_disk *sb;
	uint64_t store_chunks, data_chunks, origin_chunks, d0, gd;
	unsigned char *buf;
	uint32_t bpc;
	int r = 0;

	if (!chunk_sectors_valid(cs))
		return -EINVAL;
	store_chunks = s->size / SECTOR_BYTES / cs;
	data_chunks = vss_data_chunks(store_chunks, cs);
	origin_chunks = origin_sectors / cs + (origin_sectors % cs != 0);
	if (!data_chunks || data_chunks >= UINT32_MAX || origin_chunks >= UINT32_MAX)
		return -EINVAL;

	bpc = vss_blocks_per_chunk(cs);
	gd = vss_group_data(cs);
	buf = calloc(bpc > 2 ? bpc : 2, VSS_BLOCK_SIZE);
	if (!buf)
		return -ENOMEM;
	for (d0 = 0; d0 < data_chunks && !r; d0 += gd) {
		uint64_t left = data_chunks - d0, first = vss_data_to_block(d0, cs);
		unsigned int n = left >= gd ? bpc :
				 (unsigned int)((left + VSS_RECORDS_PER_BLOCK - 1) / VSS_RECORDS_PER_BLOCK);
		unsigned int i;

		memset(buf, 0, (size_t)n * VSS_BLOCK_SIZE);
		for (i = 0; i < n; i++) {
			struct vss_exc_block_disk *blk = (void *)(buf + (size_t)i * VSS_BLOCK_SIZE);

			blk->blocknr = htole64(first + i);
			vss_store_block_seal(blk, VSS_EXC_MAGIC);
		}
		r = store_write(s, buf, (size_t)n * VSS_BLOCK_SIZE, first * VSS_BLOCK_SIZE);
	}
	if (r)
		goto out;

	/* As dm-vss: copy B (seq 0), everything durable, then copy A (seq 1). */
	sb = (void *)buf;
	memset(buf, 0, VSS_BLOCK_SIZE);
	sb->version = htole32(VSS_FORMAT_VERSION);
	sb->origin_sectors = htole64(origin_sectors);
	sb->store_chunks = htole64(store_chunks);
	sb->chunk_sectors = htole32(cs);
	sb->data_chunks = htole64(data_chunks);
	random_uuid(sb->uuid);
	sb->seq = htole64(0);
	vss_store_block_seal(sb, VSS_SB_MAGIC);
	r = store_write(s, sb, VSS_BLOCK_SIZE, VSS_SB_OFFSET_B);
	if (!r)
		r = store_sync(s);
	if (r)
		goto out;
	sb->seq = htole64(1);
	vss_store_block_seal(sb, VSS_SB_MAGIC);
	r = store_write(s, sb, VSS_BLOCK_SIZE, VSS_SB_OFFSET_A);
	if (!r)
		r = store_sync(s);
	if (!r)
		store_log(s, VSS_STORE_LOG_INFO, "formatted: %" PRIu64 " chunks of %" PRIu32
			  " sectors, %" PRIu64 " data chunks", store_chunks, cs, data_chunks);
out:
	free(buf);
	return r;
}

int vss_store_format(const char *path, uint64_t origin_sectors, uint32_t chunk_sectors)
{
	struct vss_store *s;
	int r;

	r = vss_store_open(path, VSS_STORE_WRITE | VSS_STORE_EXCL, NULL, &s);
	if (r)
		return r;
	r = store_format(s, origin_sectors, chunk_sectors);
	vss_store_close(s);
	return r;
}

int vss_store_format_image(void *image, size_t size, uint64_t origin_sectors,
			   uint32_t chunk_sectors)
{
	struct vss_store *s;
	int r;

	r = vss_store_open_image(image, size, VSS_STORE_WRITE, NULL, &s);
	if (r)
		return r;
	r = store_format(s, origin_sectors, chunk_sectors);
	vss_store_close(s);
	return r;
}

/* ---- writer ---- */

static int writer_ready(const struct vss_store *s)
{
	if (!s->writable)
		return -EBADF;
	if (s->info.state != VSS_STORE_LOADED || !s->sb_usable)
		return -EINVAL;
	return 0;
}

static struct vss_snap_disk *find_snap(struct vss_store *s, uint32_t snap_id)
{
	unsigned int i;

	for (i = 0; i < VSS_MAX_SNAPS; i++)
		if (le32toh(s->sb.snaps[i].state) != VSS_SNAP_FREE &&
		    le32toh(s->sb.snaps[i].snap_id) == snap_id)
			return &s->sb.snaps[i];
	return NULL;
}

static void sb_changed(struct vss_store *s)
{
	unsigned int i, n = 0;

	for (i = 0; i < VSS_MAX_SNAPS; i++)
		if (le32toh(s->sb.snaps[i].state) != VSS_SNAP_FREE)
			n++;
	s->sb.nr_snaps = htole32(n);
	info_from_sb(s);
	snaps_from_sb(s);
	s->info.checked = false;
}

int vss_store_snap_create(struct vss_store *s, uint32_t snap_id, uint64_t ctime,
			  uint32_t *epoch)
{
	uint32_t next = le32toh(s->sb.last_epoch) + 1;
	unsigned int i;
	int r = writer_ready(s);

	if (r)
		return r;
	if (find_snap(s, snap_id))
		return -EEXIST;
	if (!next)
		return -EOVERFLOW;
	for (i = 0; i < VSS_MAX_SNAPS; i++) {
		struct vss_snap_disk *d = &s->sb.snaps[i];

		if (le32toh(d->state) != VSS_SNAP_FREE)
			continue;
		memset(d, 0, sizeof(*d));
		d->snap_id = htole32(snap_id);
		d->state = htole32(VSS_SNAP_VALID);
		d->epoch = htole32(next);
		d->ctime = htole64(ctime);
		s->sb.last_epoch = htole32(next);
		sb_changed(s);
		if (epoch)
			*epoch = next;
		return 0;
	}
	return -ENOSPC;
}

int vss_store_snap_set_state(struct vss_store *s, uint32_t snap_id, uint32_t state)
{
	struct vss_snap_disk *d;
	int r = writer_ready(s);

	if (r)
		return r;
	if (state > VSS_SNAP_DROPPED)
		return -EINVAL;
	d = find_snap(s, snap_id);
	if (!d)
		return -ENOENT;
	if (state == VSS_SNAP_FREE)
		memset(d, 0, sizeof(*d));
	else
		d->state = htole32(state);
	sb_changed(s);
	return 0;
}

int vss_store_write_sb(struct vss_store *s)
{
	uint64_t seq = le64toh(s->sb.seq) + 1;
	int copy = (seq & 1) ? 0 : 1;
	unsigned char block[VSS_BLOCK_SIZE];
	int r = writer_ready(s);

	if (r)
		return r;
	s->sb.seq = htole64(seq);
	memset(block, 0, sizeof(block));
	memcpy(block, &s->sb, sizeof(s->sb));
	vss_store_block_seal(block, VSS_SB_MAGIC);
	r = store_write(s, block, VSS_BLOCK_SIZE, copy ? VSS_SB_OFFSET_B : VSS_SB_OFFSET_A);
	if (!r)
		r = store_sync(s);
	if (r) {
		s->sb.seq = htole64(seq - 1);
		return r;
	}
	memcpy(&s->sb, block, sizeof(s->sb));
	s->info.sb_valid[copy] = true;
	s->info.sb_seq[copy] = seq;
	s->info.sb_copy = copy_name[copy];
	info_from_sb(s);
	return 0;
}

int vss_store_set_record(struct vss_store *s, uint64_t data_chunk, uint64_t origin_chunk,
			 uint32_t epoch)
{
	return vss_store_set_record_seq(s, data_chunk, origin_chunk, epoch, 0, 0);
}

int vss_store_set_record_seq(struct vss_store *s, uint64_t data_chunk, uint64_t origin_chunk,
			     uint32_t epoch, uint32_t seq, uint32_t data_csum)
{
	struct vss_exc_block_disk blk;
	uint32_t cs = s->info.chunk_sectors;
	uint64_t blocknr, limit;
	struct vss_exc_disk *rec;
	int r = writer_ready(s);

	if (r)
		return r;
	/* Any record of an exception block of the layout, even past data_chunks. */
	limit = layout_data_chunks(s);
	limit = (limit + VSS_RECORDS_PER_BLOCK - 1) / VSS_RECORDS_PER_BLOCK * VSS_RECORDS_PER_BLOCK;
	if (data_chunk >= limit)
		return -EINVAL;
	blocknr = vss_data_to_block(data_chunk, cs);
	r = store_read(s, &blk, sizeof(blk), blocknr * VSS_BLOCK_SIZE);
	if (r)
		return r;
	rec = &blk.rec[vss_data_to_record(data_chunk, cs)];
	rec->origin_chunk = htole32((uint32_t)origin_chunk);
	rec->seq = htole32(seq);
	rec->epoch = htole32(epoch);
	rec->data_csum = htole32(data_csum);
	vss_store_block_seal(&blk, VSS_EXC_MAGIC);
	r = store_write(s, &blk, sizeof(blk), blocknr * VSS_BLOCK_SIZE);
	if (!r)
		s->info.checked = false;
	return r;
}

int vss_store_write_data(struct vss_store *s, uint64_t data_chunk, const void *buf)
{
	uint64_t off;
	int r = writer_ready(s);

	if (r)
		return r;
	r = vss_store_data_offset(s, data_chunk, &off);
	if (r)
		return r;
	return store_write(s, buf, (size_t)s->info.chunk_sectors * SECTOR_BYTES, off);
}
