// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libvsscore store reader, checker and writer: format, read back, build
 * stores with snapshots and records, derive usage, and find every kind of
 * damage in the place it was made.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "crc32c.h"
#include "libvsscore-store.h"
#include "store-write.h"
#include "vss-ondisk.h"

#define MIB (1024U * 1024U)
#define MAX_FINDINGS 256

struct found {
	enum vss_store_severity severity;
	char name[40];
	char message[512];
};

struct fix {
	unsigned char *img;
	size_t size;
	struct vss_store *store;
	struct found found[MAX_FINDINGS];
	unsigned int nr_found;
	unsigned int nr_logs;
};

static void on_finding(const struct vss_store_finding *f, void *arg)
{
	struct fix *fx = arg;
	struct found *d;

	if (fx->nr_found == MAX_FINDINGS)
		return;
	d = &fx->found[fx->nr_found++];
	d->severity = f->severity;
	snprintf(d->name, sizeof(d->name), "%s", f->name);
	snprintf(d->message, sizeof(d->message), "%s", f->message);
}

static void on_log(int level, const char *message, void *arg)
{
	struct fix *fx = arg;

	(void)level;
	assert_non_null(message);
	fx->nr_logs++;
}

/* A finding of this name and severity whose message contains text. */
static bool found(const struct fix *fx, const char *name, enum vss_store_severity sev,
		  const char *text)
{
	unsigned int i;

	for (i = 0; i < fx->nr_found; i++)
		if (!strcmp(fx->found[i].name, name) && fx->found[i].severity == sev &&
		    (!text || strstr(fx->found[i].message, text)))
			return true;
	return false;
}

static void print_findings(const struct fix *fx)
{
	unsigned int i;

	for (i = 0; i < fx->nr_found; i++)
		fprintf(stderr, "  finding: %s %s: %s\n",
			fx->found[i].severity == VSS_STORE_FATAL ? "fatal" : "non-fatal",
			fx->found[i].name, fx->found[i].message);
}

static void assert_found_at(const struct fix *fx, const char *name,
			    enum vss_store_severity sev, const char *text, int line)
{
	if (found(fx, name, sev, text))
		return;
	print_findings(fx);
	fail_msg("line %d: no %s finding %s (%s)", line,
		 sev == VSS_STORE_FATAL ? "fatal" : "non-fatal", name, text ? text : "");
}

#define assert_found(fx, name, sev, text) assert_found_at(fx, name, sev, text, __LINE__)

static struct fix *fix_new(size_t size, uint64_t origin_sectors, uint32_t cs)
{
	struct fix *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	fx->size = size;
	fx->img = calloc(1, size);
	assert_non_null(fx->img);
	if (cs)
		assert_int_equal(vss_store_format_image(fx->img, size, origin_sectors, cs), 0);
	return fx;
}

static void fix_free(struct fix *fx)
{
	vss_store_close(fx->store);
	free(fx->img);
	free(fx);
}

/* (Re)open the image with callbacks, writable, and run a full check. */
static struct vss_store_info fix_check(struct fix *fx)
{
	struct vss_store_callbacks cb = { on_finding, on_log, fx };
	struct vss_store_info info;

	vss_store_close(fx->store);
	fx->nr_found = 0;
	assert_int_equal(vss_store_open_image(fx->img, fx->size, VSS_STORE_WRITE, &cb,
					      &fx->store), 0);
	assert_int_equal(vss_store_check(fx->store), 0);
	assert_int_equal(vss_store_get_info(fx->store, &info), 0);
	assert_int_equal(info.nr_fatal + info.nr_nonfatal, fx->nr_found);
	return info;
}

static void assert_clean(struct fix *fx, const struct vss_store_info *info)
{
	if (fx->nr_found)
		print_findings(fx);
	assert_int_equal(info->nr_fatal, 0);
	assert_int_equal(info->nr_nonfatal, 0);
}

static struct vss_sb_disk *sb_at(struct fix *fx, int copy)
{
	return (struct vss_sb_disk *)(fx->img + (copy ? VSS_SB_OFFSET_B : VSS_SB_OFFSET_A));
}

static void reseal(struct fix *fx, uint64_t blocknr)
{
	uint32_t magic;

	memcpy(&magic, fx->img + blocknr * VSS_BLOCK_SIZE, 4);
	vss_store_block_seal(fx->img + blocknr * VSS_BLOCK_SIZE, le32toh(magic));
}

static uint64_t snap_chunks(struct fix *fx, uint32_t snap_id)
{
	unsigned int i, n = vss_store_snap_count(fx->store);
	struct vss_store_snap sn;

	for (i = 0; i < n; i++) {
		assert_int_equal(vss_store_snap_get(fx->store, i, &sn), 0);
		if (sn.snap_id == snap_id)
			return sn.chunks;
	}
	fail_msg("no snapshot %u", snap_id);
	return 0;
}

/* ---- checksums ---- */

static void test_crc32c(void **state)
{
	unsigned char block[VSS_BLOCK_SIZE];
	uint32_t whole, split;

	(void)state;
	/* The standard CRC-32C check value. */
	assert_int_equal(vss_crc32c(0xFFFFFFFF, "123456789", 9) ^ 0xFFFFFFFF, 0xE3069283);
	/* As the kernel's crc32c(): the seed continues a running crc. */
	for (unsigned int i = 0; i < sizeof(block); i++)
		block[i] = (unsigned char)(i * 31 + 7);
	whole = vss_crc32c(0xFFFFFFFF, block, sizeof(block));
	split = vss_crc32c(vss_crc32c(0xFFFFFFFF, block, 1001), block + 1001, sizeof(block) - 1001);
	assert_int_equal(whole, split);
	/* Block checksum: bytes 8..4095, inverted. */
	assert_int_equal(vss_store_block_csum(block),
			 vss_crc32c(0xFFFFFFFF, block + 8, sizeof(block) - 8) ^ 0xFFFFFFFF);
	vss_store_block_seal(block, VSS_EXC_MAGIC);
	assert_int_equal(block[0] | block[1] << 8 | block[2] << 16 | (uint32_t)block[3] << 24,
			 VSS_EXC_MAGIC);
	assert_int_equal(block[4] | block[5] << 8 | block[6] << 16 | (uint32_t)block[7] << 24,
			 vss_store_block_csum(block));
}

/* ---- format and read back ---- */

static void check_formatted(size_t size, uint64_t origin_sectors, uint32_t cs)
{
	struct fix *fx = fix_new(size, origin_sectors, cs);
	struct vss_store_info info = fix_check(fx);
	uint64_t store_chunks = size / 512 / cs;
	uint64_t data = vss_data_chunks(store_chunks, cs), d;

	assert_clean(fx, &info);
	assert_int_equal(info.state, VSS_STORE_LOADED);
	assert_int_equal(info.sb_copy, 'A');
	assert_true(info.sb_valid[0] && info.sb_valid[1]);
	assert_int_equal(info.sb_seq[0], 1);
	assert_int_equal(info.sb_seq[1], 0);
	assert_int_equal(info.version, VSS_FORMAT_VERSION);
	assert_int_equal(info.chunk_sectors, cs);
	assert_int_equal(info.origin_sectors, origin_sectors);
	assert_int_equal(info.store_chunks, store_chunks);
	assert_int_equal(info.data_chunks, data);
	assert_int_equal(info.last_epoch, 0);
	assert_int_equal(info.nr_snaps, 0);
	assert_int_equal(info.exc_blocks, vss_exc_blocks(data, cs));
	assert_true(info.checked);
	assert_int_equal(info.used_chunks, 0);
	assert_int_equal(info.free_chunks, data);
	assert_int_equal(info.records, 0);
	assert_int_equal(vss_store_snap_count(fx->store), 0);

	/* Copy B is copy A but for seq (bytes 16..23) and checksum. */
	assert_memory_equal(fx->img + 8, fx->img + 4096 + 8, 8);
	assert_memory_equal(fx->img + 24, fx->img + 4096 + 24, VSS_BLOCK_SIZE - 24);
	/* Every exception block is where the geometry says and names itself. */
	for (d = 0; d < data; d += VSS_RECORDS_PER_BLOCK) {
		uint64_t b = vss_data_to_block(d, cs);
		const struct vss_exc_block_disk *blk = (const void *)(fx->img + b * VSS_BLOCK_SIZE);

		assert_int_equal(le32toh(blk->magic), VSS_EXC_MAGIC);
		assert_int_equal(le64toh(blk->blocknr), b);
	}
	fix_free(fx);
}

static void test_format_clean(void **state)
{
	(void)state;
	check_formatted(4 * MIB, 16384, 8);
	check_formatted(4 * MIB + 12345, 16385, 8);	/* not a multiple of anything */
	check_formatted(8 * MIB, 65536, 16);
	check_formatted(16 * MIB, 1 << 20, 128);
	check_formatted(12 * MIB, 1 << 22, 2048);	/* header of one chunk */
	/* Several groups: 4 KiB chunks have 255 data chunks per group. */
	check_formatted(2 * MIB + 3 * 4096, 4096, 8);
}

static void test_format_file(void **state)
{
	char path[] = "/tmp/test-store-XXXXXX";
	struct vss_store_info info;
	struct vss_store *s;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 3 * MIB), 0);
	close(fd);
	assert_int_equal(vss_store_format(path, 8192, 8), 0);
	assert_int_equal(vss_store_open(path, 0, NULL, &s), 0);
	assert_int_equal(vss_store_check(s), 0);
	vss_store_get_info(s, &info);
	assert_int_equal(info.state, VSS_STORE_LOADED);
	assert_int_equal(info.nr_fatal + info.nr_nonfatal, 0);
	assert_int_equal(info.device_bytes, 3 * MIB);
	/* Read-only handles do not write. */
	assert_int_equal(vss_store_snap_create(s, 1, 0, NULL), -EBADF);
	vss_store_close(s);
	unlink(path);
	assert_int_equal(vss_store_open(path, 0, NULL, &s), -ENOENT);
	assert_int_equal(vss_store_format(path, 8192, 8), -ENOENT);
}

static void test_format_refused(void **state)
{
	unsigned char *img = calloc(1, 4 * MIB);

	(void)state;
	assert_non_null(img);
	assert_int_equal(vss_store_format_image(img, 4 * MIB, 1000, 12), -EINVAL);
	assert_int_equal(vss_store_format_image(img, 4 * MIB, 1000, 4), -EINVAL);
	assert_int_equal(vss_store_format_image(img, 4 * MIB, 1000, 4096), -EINVAL);
	/* Header and one metadata chunk: no room for data. */
	assert_int_equal(vss_store_format_image(img, 3 * 4096, 1000, 8), -EINVAL);
	assert_int_equal(vss_store_format_image(img, 2 * MIB, 1000, 2048), -EINVAL);
	/* An origin of 2^32 chunks. */
	assert_int_equal(vss_store_format_image(img, 4 * MIB, 8ULL << 32, 8), -EINVAL);
	/* Smallest store: header, metadata chunk, one data chunk. */
	assert_int_equal(vss_store_format_image(img, 4 * 4096, 1000, 8), 0);
	free(img);
}

/* ---- content: snapshots, records, usage ---- */

static void test_epoch_ranges(void **state)
{
	struct fix *fx = fix_new(4 * MIB, 16384, 8);
	struct vss_store_info info = fix_check(fx);
	uint64_t d;
	uint32_t e, id;

	(void)state;
	assert_clean(fx, &info);
	/* Snapshots 1..5 get epochs 1..5; then 2, 3 and 4 are deleted. */
	for (id = 1; id <= 5; id++) {
		assert_int_equal(vss_store_snap_create(fx->store, id, 1700000000 + id, &e), 0);
		assert_int_equal(e, id);
	}
	assert_int_equal(vss_store_snap_create(fx->store, 3, 0, NULL), -EEXIST);
	for (id = 2; id <= 4; id++)
		assert_int_equal(vss_store_snap_set_state(fx->store, id, VSS_SNAP_FREE), 0);
	assert_int_equal(vss_store_snap_set_state(fx->store, 3, VSS_SNAP_FREE), -ENOENT);
	assert_int_equal(vss_store_write_sb(fx->store), 0);
	/* Origin chunk 7 copied at epochs 1, 3, 5. */
	assert_int_equal(vss_store_set_record(fx->store, 0, 7, 1), 0);
	assert_int_equal(vss_store_set_record(fx->store, 1, 7, 3), 0);
	assert_int_equal(vss_store_set_record(fx->store, 2, 7, 5), 0);

	info = fix_check(fx);
	assert_clean(fx, &info);
	assert_int_equal(info.sb_copy, 'B');	/* seq 2 */
	assert_int_equal(info.seq, 2);
	assert_int_equal(info.last_epoch, 5);
	assert_int_equal(info.nr_snaps, 2);
	assert_int_equal(info.records, 3);
	/* Epoch 1 serves snapshot 1, epoch 5 snapshot 5; epoch 3 serves nobody. */
	assert_int_equal(info.used_chunks, 2);
	assert_int_equal(info.free_records, 1);
	assert_int_equal(info.free_chunks, info.data_chunks - 2);
	assert_int_equal(snap_chunks(fx, 1), 1);
	assert_int_equal(snap_chunks(fx, 5), 1);
	assert_int_equal(vss_store_lookup(fx->store, 1, 7, &d), 0);
	assert_int_equal(d, 0);
	assert_int_equal(vss_store_lookup(fx->store, 5, 7, &d), 0);
	assert_int_equal(d, 2);
	assert_int_equal(vss_store_lookup(fx->store, 5, 8, &d), -ENODATA);
	assert_int_equal(vss_store_lookup(fx->store, 3, 7, &d), -ENOENT);
	assert_int_equal(vss_store_lookup(fx->store, 1, 1 << 20, &d), -EINVAL);
	fix_free(fx);
}

static void test_shared_copies(void **state)
{
	struct fix *fx = fix_new(8 * MIB, 1 << 16, 8);
	struct vss_store_info info = fix_check(fx);
	uint64_t d, off;
	uint32_t id;

	(void)state;
	/* Snapshots 10..13, epochs 1..4. */
	for (id = 10; id <= 13; id++)
		assert_int_equal(vss_store_snap_create(fx->store, id, 0, NULL), 0);
	assert_int_equal(vss_store_write_sb(fx->store), 0);
	/* Chunk 100: one copy at epoch 4 serves all four snapshots. */
	assert_int_equal(vss_store_set_record(fx->store, 0, 100, 4), 0);
	/* Chunk 200: copies at 2 (serves 10, 11) and 4 (serves 12, 13). */
	assert_int_equal(vss_store_set_record(fx->store, 1, 200, 2), 0);
	assert_int_equal(vss_store_set_record(fx->store, 2, 200, 4), 0);
	/* Chunk 300 at epoch 1 (serves 10), in another group. */
	assert_int_equal(vss_store_set_record(fx->store, 600, 300, 1), 0);

	info = fix_check(fx);
	assert_clean(fx, &info);
	assert_int_equal(info.used_chunks, 4);
	assert_int_equal(info.free_records, 0);
	assert_int_equal(snap_chunks(fx, 10), 3);
	assert_int_equal(snap_chunks(fx, 11), 2);
	assert_int_equal(snap_chunks(fx, 12), 2);
	assert_int_equal(snap_chunks(fx, 13), 2);
	assert_int_equal(vss_store_lookup(fx->store, 11, 200, &d), 0);
	assert_int_equal(d, 1);
	assert_int_equal(vss_store_lookup(fx->store, 12, 200, &d), 0);
	assert_int_equal(d, 2);
	assert_int_equal(vss_store_lookup(fx->store, 11, 300, &d), -ENODATA);
	assert_int_equal(vss_store_data_offset(fx->store, 600, &off), 0);
	assert_int_equal(off, vss_data_to_chunk(600, 8) * 4096);

	/* Invalid and dropped snapshots read nothing; their copies are free. */
	assert_int_equal(vss_store_snap_set_state(fx->store, 10, VSS_SNAP_INVALID), 0);
	assert_int_equal(vss_store_snap_set_state(fx->store, 11, VSS_SNAP_DROPPED), 0);
	assert_int_equal(vss_store_write_sb(fx->store), 0);
	info = fix_check(fx);
	assert_clean(fx, &info);
	assert_int_equal(info.sb_copy, 'A');	/* seq 3 */
	assert_int_equal(info.nr_snaps, 4);
	assert_int_equal(info.used_chunks, 2);	/* 100@4 and 200@4 */
	assert_int_equal(info.free_records, 2);
	assert_int_equal(snap_chunks(fx, 10), 0);
	assert_int_equal(snap_chunks(fx, 12), 2);
	assert_int_equal(vss_store_lookup(fx->store, 10, 100, &d), -ENOENT);

	/* A freed chunk reused for another origin chunk. */
	assert_int_equal(vss_store_set_record(fx->store, 1, 500, 4), 0);
	info = fix_check(fx);
	assert_clean(fx, &info);
	assert_int_equal(snap_chunks(fx, 12), 3);
	assert_int_equal(snap_chunks(fx, 13), 3);
	fix_free(fx);
}

static void test_table_full(void **state)
{
	struct fix *fx = fix_new(4 * MIB, 16384, 8);
	struct vss_store_info info = fix_check(fx);
	uint32_t id;

	(void)state;
	for (id = 0; id < VSS_MAX_SNAPS; id++)
		assert_int_equal(vss_store_snap_create(fx->store, id * 3, id, NULL), 0);
	assert_int_equal(vss_store_snap_create(fx->store, 7777, 0, NULL), -ENOSPC);
	assert_int_equal(vss_store_snap_set_state(fx->store, 3, 9), -EINVAL);
	assert_int_equal(vss_store_write_sb(fx->store), 0);
	info = fix_check(fx);
	assert_clean(fx, &info);
	assert_int_equal(info.nr_snaps, VSS_MAX_SNAPS);
	assert_int_equal(vss_store_snap_count(fx->store), VSS_MAX_SNAPS);
	fix_free(fx);
}

/* ---- not a store ---- */

static void test_zero_store(void **state)
{
	struct fix *fx = fix_new(4 * MIB, 0, 0);
	struct vss_store_info info = fix_check(fx);

	(void)state;
	assert_int_equal(info.state, VSS_STORE_UNFORMATTED);
	assert_clean(fx, &info);
	assert_false(info.checked);
	/* A damaged copy B is lost when dm-vss formats the store. */
	fx->img[4096] = 'V';
	fx->img[4097] = 'S';
	fx->img[4098] = 'S';
	fx->img[4099] = '1';
	info = fix_check(fx);
	assert_int_equal(info.state, VSS_STORE_UNFORMATTED);
	assert_found(fx, "sb-a-zero", VSS_STORE_FATAL, "superblock A: all zero");
	fix_free(fx);
}

static void test_foreign(void **state)
{
	struct fix *fx = fix_new(64 * 1024, 0, 0);
	struct vss_store_info info;

	(void)state;
	memcpy(fx->img + 1080, "\x53\xef", 2);	/* an ext4 magic, say */
	info = fix_check(fx);
	assert_int_equal(info.state, VSS_STORE_NO_SUPERBLOCK);
	assert_int_equal(info.nr_fatal, 1);
	assert_found(fx, "no-superblock", VSS_STORE_FATAL, "foreign");
	fix_free(fx);

	fx = fix_new(4096, 0, 0);
	info = fix_check(fx);
	assert_found(fx, "store-too-small", VSS_STORE_FATAL, "4096 bytes");
	fix_free(fx);
}

/* ---- superblock damage ---- */

static void test_sb_one_copy_bad(void **state)
{
	struct fix *fx = fix_new(4 * MIB, 16384, 8);
	struct vss_store_info info;

	(void)state;
	fx->img[VSS_SB_OFFSET_A + 300] ^= 0x40;
	info = fix_check(fx);
	assert_int_equal(info.nr_fatal, 0);
	assert_int_equal(info.nr_nonfatal, 1);
	assert_found(fx, "sb-bad-csum", VSS_STORE_NONFATAL, "superblock A: bad checksum");
	assert_int_equal(info.sb_copy, 'B');
	assert_int_equal(info.seq, 0);
	assert_true(info.checked);
	fix_free(fx);

	/* The newer copy lost: the older one is used. */
	fx = fix_new(4 * MIB, 16384, 8);
	memset(fx->img + VSS_SB_OFFSET_B, 0, 4096);
	info = fix_check(fx);
	assert_found(fx, "sb-zero", VSS_STORE_NONFATAL, "superblock B: all zero");
	assert_int_equal(info.nr_fatal, 0);
	assert_int_equal(info.sb_copy, 'A');
	fix_free(fx);

	/* Copy A zeroed while B is valid: dm-vss loads B, does not format. */
	fx = fix_new(4 * MIB, 16384, 8);
	memset(fx->img, 0, 4096);
	info = fix_check(fx);
	assert_int_equal(info.state, VSS_STORE_LOADED);
	assert_found(fx, "sb-zero", VSS_STORE_NONFATAL, "superblock A: all zero; using copy B");
	assert_int_equal(info.nr_fatal, 0);
	fix_free(fx);
}

static void test_sb_both_bad(void **state)
{
	struct fix *fx = fix_new(4 * MIB, 16384, 8);
	struct vss_store_info info;

	(void)state;
	fx->img[VSS_SB_OFFSET_A + 40] ^= 1;
	fx->img[VSS_SB_OFFSET_B] ^= 1;
	info = fix_check(fx);
	assert_int_equal(info.state, VSS_STORE_NO_SUPERBLOCK);
	assert_int_equal(info.nr_fatal, 2);
	assert_found(fx, "sb-bad-csum", VSS_STORE_FATAL, "superblock A: bad checksum");
	assert_found(fx, "sb-bad-magic", VSS_STORE_FATAL, "superblock B: bad magic");
	assert_false(info.checked);
	fix_free(fx);
}

static void test_sb_fields(void **state)
{
	static const struct {
		size_t offset;		/* in the superblock */
		uint64_t value;
		unsigned int width;
		const char *name;
		const char *text;
	} cases[] = {
		{ offsetof(struct vss_sb_disk, version), 4, 4, "sb-version", "unknown format version 4" },
		{ offsetof(struct vss_sb_disk, version), 0, 4, "sb-version", "unknown format version 0" },
		{ offsetof(struct vss_sb_disk, flags), 4, 4, "sb-flags", "unknown feature flags 0x4" },
		{ offsetof(struct vss_sb_disk, chunk_sectors), 24, 4, "sb-chunk-size", "chunk_sectors 24" },
		{ offsetof(struct vss_sb_disk, chunk_sectors), 4096, 4, "sb-chunk-size", "in 8..2048" },
		{ offsetof(struct vss_sb_disk, store_chunks), 5000, 8, "sb-store-beyond-device",
		  "store_chunks 5000 larger than the device" },
		{ offsetof(struct vss_sb_disk, data_chunks), 1000, 8, "sb-data-chunks", "data_chunks 1000" },
		{ offsetof(struct vss_sb_disk, nr_snaps), 3, 4, "sb-nr-snaps", "nr_snaps 3 but 0" },
		{ offsetof(struct vss_sb_disk, origin_sectors), 8ULL << 33, 8, "sb-too-many-chunks", "2^32" },
	};
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fix *fx = fix_new(4 * MIB, 16384, 8);
		struct vss_store_info info;
		uint64_t v = htole64(cases[i].value);

		/* Both copies, so that no good copy hides the damage. */
		for (int c = 0; c < 2; c++) {
			memcpy((unsigned char *)sb_at(fx, c) + cases[i].offset, &v, cases[i].width);
			reseal(fx, c);
		}
		info = fix_check(fx);
		assert_found(fx, cases[i].name, VSS_STORE_FATAL, cases[i].text);
		assert_found(fx, cases[i].name, VSS_STORE_FATAL, "superblock A");
		assert_true(info.nr_fatal >= 1);
		fix_free(fx);
	}
}

static void test_origin_size(void **state)
{
	struct fix *fx = fix_new(4 * MIB, 16384, 8);
	struct vss_store_callbacks cb = { on_finding, on_log, fx };
	struct vss_store_info info;
	struct vss_store *s;

	(void)state;
	assert_int_equal(vss_store_open_image(fx->img, fx->size, 0, &cb, &s), 0);
	assert_int_equal(vss_store_expect_origin(s, 16384), 0);
	assert_int_equal(vss_store_check(s), 0);
	vss_store_get_info(s, &info);
	assert_int_equal(info.nr_fatal + info.nr_nonfatal, 0);
	assert_int_equal(vss_store_expect_origin(s, 16385), 0);
	assert_int_equal(vss_store_check(s), 0);
	vss_store_get_info(s, &info);
	assert_int_equal(info.nr_fatal, 1);
	assert_found(fx, "sb-origin-size", VSS_STORE_FATAL,
		     "superblock A: origin_sectors 16384, but the origin has 16385 sectors");
	vss_store_close(s);
	fix_free(fx);
}

static void test_sb_reserved_and_parity(void **state)
{
	struct fix *fx = fix_new(4 * MIB, 16384, 8);
	struct vss_store_info info;
	struct vss_sb_disk *a;

	(void)state;
	a = sb_at(fx, 0);
	a->reserved1[3] = 1;
	reseal(fx, 0);
	info = fix_check(fx);
	assert_int_equal(info.nr_fatal, 0);
	assert_found(fx, "sb-reserved", VSS_STORE_NONFATAL, "superblock A: reserved");
	fix_free(fx);

	fx = fix_new(4 * MIB, 16384, 8);
	fx->img[VSS_BLOCK_SIZE - 1] = 0xff;	/* after the snapshot table */
	reseal(fx, 0);
	info = fix_check(fx);
	assert_found(fx, "sb-reserved", VSS_STORE_NONFATAL, NULL);
	fix_free(fx);

	/* Copy A holds odd sequence numbers. */
	fx = fix_new(4 * MIB, 16384, 8);
	a = sb_at(fx, 0);
	a->seq = htole64(4);
	reseal(fx, 0);
	info = fix_check(fx);
	assert_int_equal(info.nr_fatal, 0);
	assert_int_equal(info.seq, 4);
	assert_found(fx, "sb-seq-parity", VSS_STORE_NONFATAL, "superblock A: seq 4 is even");
	fix_free(fx);

	/* Copies of different stores. */
	fx = fix_new(4 * MIB, 16384, 8);
	sb_at(fx, 1)->uuid[0] ^= 1;
	reseal(fx, 1);
	info = fix_check(fx);
	assert_found(fx, "sb-copies-differ", VSS_STORE_NONFATAL, "superblock B");
	fix_free(fx);
}

/* Build a store with snapshots 7 (epoch 1), 8 (epoch 2) and two records. */
static struct fix *fix_content(void)
{
	struct fix *fx = fix_new(4 * MIB, 16384, 8);
	struct vss_store_info info = fix_check(fx);

	assert_clean(fx, &info);
	assert_int_equal(vss_store_snap_create(fx->store, 7, 1700000000, NULL), 0);
	assert_int_equal(vss_store_snap_create(fx->store, 8, 1700000100, NULL), 0);
	assert_int_equal(vss_store_write_sb(fx->store), 0);	/* seq 2: copy B */
	assert_int_equal(vss_store_write_sb(fx->store), 0);	/* seq 3: copy A */
	assert_int_equal(vss_store_set_record(fx->store, 0, 5, 1), 0);
	assert_int_equal(vss_store_set_record(fx->store, 260, 6, 2), 0);
	info = fix_check(fx);
	assert_clean(fx, &info);
	assert_int_equal(info.used_chunks, 2);
	return fx;
}

static void test_snapshot_table(void **state)
{
	struct fix *fx;
	struct vss_store_info info;
	struct vss_sb_disk *sb;

	(void)state;
	/* Each case damages both copies and reseals them. */
	fx = fix_content();
	for (int c = 0; c < 2; c++) {
		sb = sb_at(fx, c);
		sb->snaps[1].snap_id = htole32(7);
		reseal(fx, c);
	}
	info = fix_check(fx);
	assert_found(fx, "snap-duplicate-id", VSS_STORE_FATAL,
		     "snapshot slot 1: duplicate snap_id 7 (also in slot 0)");
	fix_free(fx);

	fx = fix_content();
	for (int c = 0; c < 2; c++) {
		sb = sb_at(fx, c);
		sb->snaps[1].epoch = htole32(9);
		reseal(fx, c);
	}
	info = fix_check(fx);
	assert_found(fx, "snap-epoch-beyond", VSS_STORE_FATAL,
		     "snapshot slot 1: epoch 9 > last_epoch 2");
	fix_free(fx);

	fx = fix_content();
	for (int c = 0; c < 2; c++) {
		sb = sb_at(fx, c);
		sb->snaps[1].epoch = htole32(1);
		reseal(fx, c);
	}
	info = fix_check(fx);
	assert_found(fx, "snap-duplicate-epoch", VSS_STORE_FATAL, "snapshot slot 1");
	fix_free(fx);

	fx = fix_content();
	for (int c = 0; c < 2; c++) {
		sb = sb_at(fx, c);
		sb->snaps[0].epoch = 0;
		sb->snaps[1].state = htole32(6);
		sb->snaps[4].ctime = htole64(5);	/* a free slot */
		reseal(fx, c);
	}
	info = fix_check(fx);
	assert_found(fx, "snap-epoch-zero", VSS_STORE_FATAL, "snapshot slot 0");
	assert_found(fx, "snap-bad-state", VSS_STORE_FATAL, "snapshot slot 1: unknown state 6");
	assert_found(fx, "snap-free-nonzero", VSS_STORE_NONFATAL, "snapshot slot 4");
	fix_free(fx);

	/* A slot freed without updating nr_snaps. */
	fx = fix_content();
	sb = sb_at(fx, 0);
	memset(&sb->snaps[1], 0, sizeof(sb->snaps[1]));
	reseal(fx, 0);
	info = fix_check(fx);
	assert_found(fx, "sb-nr-snaps", VSS_STORE_FATAL,
		     "superblock A: nr_snaps 2 but 1 snapshot table slots are in use");
	fix_free(fx);

	/* An unsealed change to the table: the older copy is used. */
	fx = fix_content();
	fx->img[VSS_SB_OFFSET_A + 128 + 24] ^= 1;
	info = fix_check(fx);
	assert_int_equal(info.nr_fatal, 0);
	assert_found(fx, "sb-bad-csum", VSS_STORE_NONFATAL, "superblock A: bad checksum; using copy B");
	assert_int_equal(info.sb_copy, 'B');
	assert_int_equal(snap_chunks(fx, 8), 1);
	fix_free(fx);
}

/* ---- exception blocks and records ---- */

static void test_exception_block_damage(void **state)
{
	uint64_t b0 = vss_data_to_block(0, 8), b1 = vss_data_to_block(260, 8);
	char text[128];
	struct fix *fx;
	struct vss_store_info info;

	(void)state;
	/*
	 * One byte of a record (data chunk 260's origin_chunk): in version 3
	 * the block's records are taken one by one, as after a torn write,
	 * and that one is out of range: fatal.
	 */
	fx = fix_content();
	fx->img[b1 * VSS_BLOCK_SIZE + 16 + 16 * 5 + 2] ^= 0x10;
	info = fix_check(fx);
	snprintf(text, sizeof(text), "exception block %llu (byte offset %llu): bad checksum, as",
		 (unsigned long long)b1, (unsigned long long)b1 * VSS_BLOCK_SIZE);
	assert_found(fx, "exc-torn", VSS_STORE_NONFATAL, text);
	assert_found(fx, "rec-origin-beyond", VSS_STORE_FATAL, "record 5 of block");
	assert_int_equal(info.nr_fatal, 1);
	fix_free(fx);

	/* The magic. */
	fx = fix_content();
	fx->img[b0 * VSS_BLOCK_SIZE] ^= 0x10;
	info = fix_check(fx);
	assert_found(fx, "exc-bad-magic", VSS_STORE_FATAL, "bad magic");
	fix_free(fx);

	/* A block zeroed. */
	fx = fix_content();
	memset(fx->img + b1 * VSS_BLOCK_SIZE, 0, VSS_BLOCK_SIZE);
	info = fix_check(fx);
	assert_found(fx, "exc-zero", VSS_STORE_FATAL, "all zero");
	fix_free(fx);

	/* A valid block written to the wrong place. */
	fx = fix_content();
	memcpy(fx->img + b1 * VSS_BLOCK_SIZE, fx->img + b0 * VSS_BLOCK_SIZE, VSS_BLOCK_SIZE);
	info = fix_check(fx);
	snprintf(text, sizeof(text), "exception block %llu (byte offset %llu): wrong blocknr %llu",
		 (unsigned long long)b1, (unsigned long long)b1 * VSS_BLOCK_SIZE,
		 (unsigned long long)b0);
	assert_found(fx, "exc-wrong-blocknr", VSS_STORE_FATAL, text);
	fix_free(fx);
}

static void test_record_damage(void **state)
{
	uint64_t b1 = vss_data_to_block(260, 8);
	uint32_t r1 = vss_data_to_record(260, 8);
	struct vss_exc_block_disk *blk;
	struct vss_store_info info;
	char text[160];
	struct fix *fx;

	(void)state;
	/* Origin chunk beyond the origin (2048 chunks), checksum made right. */
	fx = fix_content();
	blk = (void *)(fx->img + b1 * VSS_BLOCK_SIZE);
	blk->rec[r1].origin_chunk = htole32(99999);
	reseal(fx, b1);
	info = fix_check(fx);
	snprintf(text, sizeof(text), "record %u of block %llu: origin chunk 99999 beyond origin size",
		 r1, (unsigned long long)b1);
	assert_found(fx, "rec-origin-beyond", VSS_STORE_FATAL, text);
	assert_int_equal(info.nr_fatal, 1);
	fix_free(fx);

	/* Epoch beyond last_epoch. */
	fx = fix_content();
	assert_int_equal(vss_store_set_record(fx->store, 261, 9, 3), 0);
	info = fix_check(fx);
	snprintf(text, sizeof(text), "record %u of block %llu: epoch 3 > last_epoch 2",
		 r1 + 1, (unsigned long long)b1);
	assert_found(fx, "rec-epoch-beyond", VSS_STORE_FATAL, text);
	fix_free(fx);

	/* Two records of one origin chunk with one epoch. */
	fx = fix_content();
	assert_int_equal(vss_store_set_record(fx->store, 17, 5, 1), 0);
	info = fix_check(fx);
	assert_found(fx, "rec-duplicate", VSS_STORE_FATAL,
		     "two records of origin chunk 5 with the same epoch 1 (data chunks 0 and 17)");
	fix_free(fx);

	/* A record past data_chunks, in the last exception block. */
	fx = fix_content();
	info = fix_check(fx);
	{
		uint64_t past = info.data_chunks;	/* 1018: not a multiple of 255 */

		assert_true(past % VSS_RECORDS_PER_BLOCK);
		assert_int_equal(vss_store_set_record(fx->store, past, 1, 1), 0);
		assert_int_equal(vss_store_set_record(fx->store, past + VSS_RECORDS_PER_BLOCK, 1, 1),
				 -EINVAL);
		info = fix_check(fx);
		snprintf(text, sizeof(text), "describes data chunk %llu, beyond the store's %llu",
			 (unsigned long long)past, (unsigned long long)past);
		assert_found(fx, "rec-beyond-data", VSS_STORE_FATAL, text);
	}
	fix_free(fx);

	/* An empty record that is not zero: non-fatal. */
	fx = fix_content();
	blk = (void *)(fx->img + b1 * VSS_BLOCK_SIZE);
	blk->rec[r1 + 3].origin_chunk = htole32(44);
	reseal(fx, b1);
	info = fix_check(fx);
	assert_int_equal(info.nr_fatal, 0);
	assert_found(fx, "rec-empty-nonzero", VSS_STORE_NONFATAL, "empty (epoch 0)");
	fix_free(fx);

	/*
	 * Version 1: the seq field is the high half of a 64-bit origin chunk
	 * and data_csum is reserved.
	 */
	fx = fix_content();
	for (int c = 0; c < 2; c++) {
		sb_at(fx, c)->version = htole32(1);
		reseal(fx, c);
	}
	blk = (void *)(fx->img + b1 * VSS_BLOCK_SIZE);
	blk->rec[r1].seq = htole32(1);
	blk->rec[r1].data_csum = htole32(1);
	reseal(fx, b1);
	info = fix_check(fx);
	assert_found(fx, "rec-origin-beyond", VSS_STORE_FATAL, "origin chunk 4294967302 beyond");
	assert_found(fx, "rec-reserved", VSS_STORE_NONFATAL, "reserved field");
	fix_free(fx);
}

/* The data_csum of a record of data chunk d in a store of 4 KiB chunks. */
static uint32_t rec_csum(struct fix *fx, uint32_t version, uint64_t d, uint32_t ochunk,
			 uint32_t epoch, uint32_t seq)
{
	struct vss_exc_disk rec = {
		.origin_chunk = htole32(ochunk), .seq = htole32(seq), .epoch = htole32(epoch),
	};

	return vss_store_rec_csum(version, vss_crc32c(0xFFFFFFFFU, fx->img +
						       vss_data_to_chunk(d, 8) * 4096, 4096), &rec);
}

/* A record with the data_csum of a version 3 store (the fixture's). */
static void set_rec(struct fix *fx, uint64_t d, uint32_t ochunk, uint32_t epoch, uint32_t seq,
		    uint32_t flip)
{
	assert_int_equal(vss_store_set_record_seq(fx->store, d, ochunk, epoch, seq,
						  rec_csum(fx, 3, d, ochunk, epoch, seq) ^ flip), 0);
}

/* Tear the exception block of data chunk d: its checksum no longer matches. */
static void tear_block(struct fix *fx, uint64_t d)
{
	fx->img[vss_data_to_block(d, 8) * 4096 + 4] ^= 0x5a;
}

static void test_torn_blocks(void **state)
{
	struct vss_store_info info;
	uint64_t d;
	struct fix *fx;

	(void)state;
	/* Every record of the torn block proves itself: all taken, non-fatal. */
	fx = fix_content();
	memset(fx->img + vss_data_to_chunk(1, 8) * 4096, 0x3c, 4096);
	set_rec(fx, 0, 5, 1, 0, 0);
	set_rec(fx, 1, 9, 2, 1, 0);
	tear_block(fx, 0);
	info = fix_check(fx);
	assert_int_equal(info.nr_fatal, 0);
	assert_found(fx, "exc-torn", VSS_STORE_NONFATAL, "bad checksum, as a write torn by a crash");
	assert_int_equal(info.used_chunks, 3);
	assert_int_equal(vss_store_lookup(fx->store, 8, 9, &d), 0);
	assert_int_equal(d, 1);
	fix_free(fx);

	/* A record a valid snapshot reads, not proven: fatal. */
	fx = fix_content();
	set_rec(fx, 0, 5, 1, 0, 0);
	set_rec(fx, 2, 10, 1, 0, 1);
	tear_block(fx, 0);
	info = fix_check(fx);
	assert_found(fx, "rec-torn-unproven", VSS_STORE_FATAL,
		     "the record of data chunk 2 (origin chunk 10, epoch 1)");
	fix_free(fx);

	/* The same record when no valid snapshot reads it (7 invalid): non-fatal. */
	fx = fix_content();
	assert_int_equal(vss_store_snap_set_state(fx->store, 7, VSS_SNAP_INVALID), 0);
	assert_int_equal(vss_store_write_sb(fx->store), 0);
	assert_int_equal(vss_store_write_sb(fx->store), 0);
	set_rec(fx, 0, 5, 1, 0, 0);
	set_rec(fx, 2, 10, 1, 0, 1);
	tear_block(fx, 0);
	info = fix_check(fx);
	assert_int_equal(info.nr_fatal, 0);
	assert_found(fx, "rec-torn-free", VSS_STORE_NONFATAL, "data chunk 2 (origin chunk 10)");
	fix_free(fx);

	/* A version 2 store cannot prove its records: its torn block is fatal. */
	fx = fix_content();
	for (int c = 0; c < 2; c++) {
		sb_at(fx, c)->version = htole32(2);
		reseal(fx, c);
	}
	tear_block(fx, 0);
	info = fix_check(fx);
	assert_found(fx, "exc-bad-csum", VSS_STORE_FATAL, "bad checksum");
	fix_free(fx);
}

static void test_unsynced_copies(void **state)
{
	struct vss_store_info info;
	uint64_t d;
	struct fix *fx;

	(void)state;
	/*
	 * synced_seq 0: commits 1..VSS_SEQ_WINDOW are checked.  Data chunk 0
	 * of commit 1 holds its copy; 1 (commit 2) does not: a crash lost it.
	 */
	fx = fix_content();
	memset(fx->img + vss_data_to_chunk(1, 8) * 4096, 0x5a, 4096);
	set_rec(fx, 0, 5, 1, 1, 0);
	set_rec(fx, 1, 9, 2, 2, 1);
	info = fix_check(fx);
	assert_int_equal(info.nr_fatal, 0);
	assert_int_equal(info.unsynced_records, 2);
	assert_int_equal(info.lost_records, 1);
	assert_int_equal(info.used_chunks, 2);	/* 0 and 260; 1 is not taken */
	assert_found(fx, "rec-copy-lost", VSS_STORE_NONFATAL,
		     "data chunk 1 does not hold the copy of origin chunk 9 (commit 2, after the last synced commit 0)");
	assert_int_equal(vss_store_lookup(fx->store, 8, 9, &d), -ENODATA);
	fix_free(fx);

	/* Commits at or before synced_seq, or past the window, are trusted. */
	fx = fix_content();
	for (int c = 0; c < 2; c++) {
		sb_at(fx, c)->synced_seq = htole32(0xFFFFFFF0U);
		reseal(fx, c);
	}
	assert_int_equal(vss_store_set_record_seq(fx->store, 1, 9, 2, 0xFFFFFFF0U, 7), 0);
	assert_int_equal(vss_store_set_record_seq(fx->store, 2, 10, 2,
						  0xFFFFFFF0U + VSS_SEQ_WINDOW + 1, 7), 0);
	/* and the window wraps past 2^32, skipping seq 0 */
	assert_int_equal(vss_store_set_record_seq(fx->store, 3, 11, 2, 5, 7), 0);
	info = fix_check(fx);
	assert_int_equal(info.nr_fatal, 0);
	assert_int_equal(info.unsynced_records, 1);
	assert_int_equal(info.lost_records, 1);
	assert_int_equal(info.used_chunks, 4);
	assert_int_equal(vss_store_lookup(fx->store, 8, 9, &d), 0);
	assert_int_equal(d, 1);
	assert_int_equal(vss_store_lookup(fx->store, 8, 11, &d), -ENODATA);
	fix_free(fx);
}

static void test_truncated(void **state)
{
	struct fix *fx = fix_content();
	struct vss_store_info info;

	(void)state;
	/* The device shrank to 2 MiB: half the layout is past its end. */
	fx->size = 2 * MIB;
	info = fix_check(fx);
	assert_found(fx, "sb-store-beyond-device", VSS_STORE_FATAL,
		     "store_chunks 1024 larger than the device (512 chunks");
	assert_found(fx, "exc-beyond-device", VSS_STORE_FATAL, "beyond the end of the device");
	assert_true(info.checked);
	fix_free(fx);
}

static void test_findings_need_no_callback(void **state)
{
	struct fix *fx = fix_content();
	struct vss_store_info info;
	struct vss_store *s;

	(void)state;
	fx->img[VSS_SB_OFFSET_A + 100] ^= 1;
	fx->img[VSS_SB_OFFSET_B + 100] ^= 1;
	assert_int_equal(vss_store_open_image(fx->img, fx->size, 0, NULL, &s), 0);
	assert_int_equal(vss_store_check(s), 0);
	vss_store_get_info(s, &info);
	assert_int_equal(info.nr_fatal, 2);
	assert_int_equal(vss_store_snap_count(s), 0);
	vss_store_close(s);
	vss_store_close(NULL);
	fix_free(fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c),
		cmocka_unit_test(test_format_clean),
		cmocka_unit_test(test_format_file),
		cmocka_unit_test(test_format_refused),
		cmocka_unit_test(test_epoch_ranges),
		cmocka_unit_test(test_shared_copies),
		cmocka_unit_test(test_table_full),
		cmocka_unit_test(test_zero_store),
		cmocka_unit_test(test_foreign),
		cmocka_unit_test(test_sb_one_copy_bad),
		cmocka_unit_test(test_sb_both_bad),
		cmocka_unit_test(test_sb_fields),
		cmocka_unit_test(test_origin_size),
		cmocka_unit_test(test_sb_reserved_and_parity),
		cmocka_unit_test(test_unsynced_copies),
		cmocka_unit_test(test_torn_blocks),
		cmocka_unit_test(test_snapshot_table),
		cmocka_unit_test(test_exception_block_damage),
		cmocka_unit_test(test_record_damage),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_findings_need_no_callback),
	};

	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
