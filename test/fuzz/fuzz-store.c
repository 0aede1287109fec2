// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target: the store reader and checker on an arbitrary image.
 *
 * Each input is checked as it is, then again with every block that carries
 * a superblock or exception-block magic resealed, so that mutations reach
 * the checks behind the checksums.  On a loaded store the writer is run
 * too (snapshot create/delete, a record, a superblock write) and the image
 * checked once more.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Ilibvsscore -Idm-vss \
 *       test/fuzz/fuzz-store.c libvsscore/store.c libvsscore/crc32c.c -o fuzz-store
 *   ./fuzz-store -max_total_time=60 test/fuzz/corpus-store
 *
 * (test/fuzz/run-fuzzers builds and runs it with the others.)
 *
 * fuzz-sources: libvsscore/store.c libvsscore/crc32c.c
 * fuzz-options: -max_len=1100000
 */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libvsscore-store.h"
#include "store-write.h"
#include "vss-ondisk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t sink;

static void on_finding(const struct vss_store_finding *f, void *arg)
{
	(void)arg;
	sink += strlen(f->name) + strlen(f->message) + (f->severity == VSS_STORE_FATAL);
}

static void on_log(int level, const char *message, void *arg)
{
	(void)arg;
	sink += strlen(message) + (unsigned int)level;
}

static void reseal_all(uint8_t *img, size_t size)
{
	size_t off;

	for (off = 0; off + VSS_BLOCK_SIZE <= size; off += VSS_BLOCK_SIZE) {
		uint32_t magic;

		memcpy(&magic, img + off, 4);
		magic = le32toh(magic);
		if (magic == VSS_SB_MAGIC || magic == VSS_EXC_MAGIC)
			vss_store_block_seal(img + off, magic);
	}
}

static void inspect(struct vss_store *s)
{
	struct vss_store_info info;
	struct vss_store_snap sn;
	unsigned int i, n;
	uint64_t d;

	vss_store_get_info(s, &info);
	n = vss_store_snap_count(s);
	for (i = 0; i < n; i++) {
		if (vss_store_snap_get(s, i, &sn))
			abort();
		sink += sn.chunks + strlen(vss_store_snap_state_name(sn.state));
		if (vss_store_lookup(s, sn.snap_id, sn.epoch % (info.origin_chunks + 1), &d) == 0)
			sink += d;
	}
	if (vss_store_snap_get(s, n, &sn) != -ENOENT)
		abort();
	if (info.checked && info.used_chunks + info.free_records != info.records)
		abort();
	if (info.checked && info.used_chunks > info.data_chunks &&
	    info.data_chunks == vss_data_chunks(info.store_chunks, info.chunk_sectors))
		abort();
	if (vss_store_data_offset(s, 0, &d) == 0 && d < VSS_HEADER_BYTES)
		abort();
}

static void check_image(uint8_t *img, size_t size, bool write)
{
	struct vss_store_callbacks cb = { on_finding, on_log, NULL };
	struct vss_store_info info;
	struct vss_store *s;

	if (vss_store_open_image(img, size, write ? VSS_STORE_WRITE : 0, &cb, &s))
		abort();
	if (vss_store_check(s) == 0)
		inspect(s);
	vss_store_get_info(s, &info);
	if (write && info.state == VSS_STORE_LOADED) {
		uint32_t epoch = 0;

		if (vss_store_snap_create(s, 0xfffffff0U, 1, &epoch) == 0) {
			vss_store_set_record(s, 0, 0, epoch);
			vss_store_snap_set_state(s, 0xfffffff0U, VSS_SNAP_DROPPED);
		}
		vss_store_write_sb(s);
		if (vss_store_check(s) == 0)
			inspect(s);
	}
	vss_store_close(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *img = malloc(size ? size : 1);

	if (!img)
		return 0;
	memcpy(img, data, size);
	check_image(img, size, false);
	reseal_all(img, size);
	check_image(img, size, true);
	free(img);
	return 0;
}
