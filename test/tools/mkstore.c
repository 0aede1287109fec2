// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * mkstore: build dm-vss store images for tests and fuzz corpora with the
 * libvsscore writer, without the kernel.
 *
 *   mkstore FILE OP [ARGS] [OP [ARGS]]...
 *
 *   format SIZE ORIGIN_SECTORS CHUNK_SECTORS
 *                          make FILE SIZE bytes of zeros, then format it
 *   snap ID [CTIME]        create a VALID snapshot (next epoch)
 *   state ID STATE         free, valid, invalid or dropped (free deletes)
 *   rec DATA OCHUNK EPOCH  set the record of data chunk DATA
 *   recs DATA COUNT EPOCH  records of data chunks DATA.. for origin chunks
 *                          0..COUNT-1, written a whole block at a time (for
 *                          stores of millions of records)
 *   recsum DATA OCHUNK EPOCH SEQ
 *                          the same as a format 2 commit SEQ writes it, with
 *                          the checksum of what data chunk DATA holds now
 *   fill DATA BYTE         fill data chunk DATA with BYTE
 *   sb                     write the snapshot table (next superblock copy)
 *   poke OFFSET BYTE       write one byte (decimal or 0x hex) at OFFSET
 *   seal OFFSET            reseal the 4 KiB block at OFFSET (checksum)
 *
 * Snapshot and record changes made after the last "sb" are written at exit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "libvsscore-store.h"
#include "store-write.h"
#include "vss-ondisk.h"

static const char *file;

static void die(const char *what, int err)
{
	fprintf(stderr, "mkstore: %s: %s: %s\n", file, what, strerror(err < 0 ? -err : err));
	exit(1);
}

static unsigned long long num(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || end == s) {
		fprintf(stderr, "mkstore: %s: not a number\n", s);
		exit(1);
	}
	return v;
}

static void need(int have, int want, const char *op)
{
	if (have < want) {
		fprintf(stderr, "mkstore: %s: missing arguments\n", op);
		exit(1);
	}
}

static void raw_io(unsigned long long off, void *buf, size_t len, int write_it)
{
	int fd = open(file, O_RDWR);
	ssize_t n;

	if (fd < 0)
		die("open", errno);
	n = write_it ? pwrite(fd, buf, len, (off_t)off) : pread(fd, buf, len, (off_t)off);
	if (n != (ssize_t)len)
		die(write_it ? "write" : "read", n < 0 ? errno : EIO);
	close(fd);
}

static struct vss_store *store;
static int dirty;

static struct vss_store *get_store(void)
{
	int r;

	if (store)
		return store;
	r = vss_store_open(file, VSS_STORE_WRITE, NULL, &store);
	if (r)
		die("open", r);
	r = vss_store_load(store);
	if (r)
		die("load", r);
	return store;
}

static void put_store(void)
{
	int r;

	if (!store)
		return;
	if (dirty) {
		r = vss_store_write_sb(store);
		if (r)
			die("write superblock", r);
	}
	vss_store_close(store);
	store = NULL;
	dirty = 0;
}

static unsigned int state_num(const char *s)
{
	static const char *names[] = { "free", "valid", "invalid", "dropped" };
	unsigned int i;

	for (i = 0; i < 4; i++)
		if (!strcmp(s, names[i]))
			return i;
	return (unsigned int)num(s);
}

int main(int argc, char **argv)
{
	int i = 2, r;

	if (argc < 3) {
		fprintf(stderr, "usage: mkstore FILE OP [ARGS]...\n");
		return 1;
	}
	file = argv[1];
	while (i < argc) {
		const char *op = argv[i++];
		int left = argc - i;

		if (!strcmp(op, "format")) {
			int fd;

			need(left, 3, op);
			put_store();
			fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0644);
			if (fd < 0 || ftruncate(fd, (off_t)num(argv[i])) < 0)
				die("create", errno);
			close(fd);
			r = vss_store_format(file, num(argv[i + 1]), (uint32_t)num(argv[i + 2]));
			if (r)
				die("format", r);
			i += 3;
		} else if (!strcmp(op, "snap")) {
			uint64_t ctime = 1700000000;

			need(left, 1, op);
			if (left >= 2 && argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9')
				ctime = num(argv[i + 1]);
			r = vss_store_snap_create(get_store(), (uint32_t)num(argv[i]), ctime, NULL);
			if (r)
				die("snap", r);
			dirty = 1;
			i += (left >= 2 && argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9') ? 2 : 1;
		} else if (!strcmp(op, "state")) {
			need(left, 2, op);
			r = vss_store_snap_set_state(get_store(), (uint32_t)num(argv[i]),
						     state_num(argv[i + 1]));
			if (r)
				die("state", r);
			dirty = 1;
			i += 2;
		} else if (!strcmp(op, "rec")) {
			need(left, 3, op);
			r = vss_store_set_record(get_store(), num(argv[i]), num(argv[i + 1]),
						 (uint32_t)num(argv[i + 2]));
			if (r)
				die("rec", r);
			i += 3;
		} else if (!strcmp(op, "recs")) {
			struct vss_store_info info;
			struct vss_exc_block_disk blk;
			uint64_t d, first, count, blocknr, cur = UINT64_MAX;

			need(left, 3, op);
			first = num(argv[i]);
			count = num(argv[i + 1]);
			vss_store_get_info(get_store(), &info);
			if (first + count > info.data_chunks) {
				fprintf(stderr, "mkstore: recs: the store has %llu data chunks\n",
					(unsigned long long)info.data_chunks);
				exit(1);
			}
			put_store();
			for (d = first; d < first + count; d++) {
				blocknr = vss_data_to_block(d, info.chunk_sectors);
				if (blocknr != cur) {
					if (cur != UINT64_MAX) {
						vss_store_block_seal(&blk, VSS_EXC_MAGIC);
						raw_io(cur * VSS_BLOCK_SIZE, &blk, sizeof(blk), 1);
					}
					raw_io(blocknr * VSS_BLOCK_SIZE, &blk, sizeof(blk), 0);
					cur = blocknr;
				}
				blk.rec[vss_data_to_record(d, info.chunk_sectors)] = (struct vss_exc_disk){
					.origin_chunk = htole32((uint32_t)(d - first)),
					.epoch = htole32((uint32_t)num(argv[i + 2])),
				};
			}
			if (cur != UINT64_MAX) {
				vss_store_block_seal(&blk, VSS_EXC_MAGIC);
				raw_io(cur * VSS_BLOCK_SIZE, &blk, sizeof(blk), 1);
			}
			i += 3;
		} else if (!strcmp(op, "recsum")) {
			struct vss_store_info info;
			struct vss_exc_disk rec = { 0 };
			uint64_t off, len;
			void *buf;

			need(left, 4, op);
			vss_store_get_info(get_store(), &info);
			len = vss_copy_bytes(info.origin_sectors, info.chunk_sectors, num(argv[i + 1]));
			r = vss_store_data_offset(store, num(argv[i]), &off);
			if (r)
				die("recsum", r);
			buf = malloc((size_t)info.chunk_sectors * 512);
			if (!buf)
				die("recsum", ENOMEM);
			put_store();
			raw_io(off, buf, (size_t)len, 0);
			rec.origin_chunk = htole32((uint32_t)num(argv[i + 1]));
			rec.seq = htole32((uint32_t)num(argv[i + 3]));
			rec.epoch = htole32((uint32_t)num(argv[i + 2]));
			r = vss_store_set_record_seq(get_store(), num(argv[i]), num(argv[i + 1]),
						     (uint32_t)num(argv[i + 2]), (uint32_t)num(argv[i + 3]),
						     vss_store_rec_csum(info.version,
									vss_crc32c(0xFFFFFFFFU, buf, (size_t)len),
									&rec));
			free(buf);
			if (r)
				die("recsum", r);
			i += 4;
		} else if (!strcmp(op, "fill")) {
			struct vss_store_info info;
			void *buf;

			need(left, 2, op);
			vss_store_get_info(get_store(), &info);
			buf = malloc((size_t)info.chunk_sectors * 512);
			if (!buf)
				die("fill", ENOMEM);
			memset(buf, (int)num(argv[i + 1]), (size_t)info.chunk_sectors * 512);
			r = vss_store_write_data(store, num(argv[i]), buf);
			free(buf);
			if (r)
				die("fill", r);
			i += 2;
		} else if (!strcmp(op, "sb")) {
			get_store();
			dirty = 1;
			put_store();
		} else if (!strcmp(op, "poke")) {
			unsigned char b;

			need(left, 2, op);
			put_store();
			b = (unsigned char)num(argv[i + 1]);
			raw_io(num(argv[i]), &b, 1, 1);
			i += 2;
		} else if (!strcmp(op, "seal")) {
			unsigned char blk[VSS_BLOCK_SIZE];
			uint32_t magic;

			need(left, 1, op);
			put_store();
			raw_io(num(argv[i]), blk, sizeof(blk), 0);
			memcpy(&magic, blk, 4);
			vss_store_block_seal(blk, le32toh(magic));
			raw_io(num(argv[i]), blk, sizeof(blk), 1);
			i += 1;
		} else {
			fprintf(stderr, "mkstore: %s: unknown operation\n", op);
			return 1;
		}
	}
	put_store();
	return 0;
}
