// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libvsscore send stream: SHA-256, writer and reader round trips, zero
 * detection, and every refusal of the reader (doc/send-stream.rst):
 * truncation at every byte, a flip of every byte, records out of order,
 * overlapping, beyond the volume, of an unknown type or too long, a bad
 * trailer, bytes after it, another version, a damaged header.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crc32c.h"
#include "libvsscore-stream.h"
#include "sha256.h"

/* The format, written out again here so that a change of it fails a test. */
#define HDR_BYTES 128
#define REC_BYTES 24
#define TRL_BYTES 64

/* ---- memory sink and source ---- */

struct buf {
	uint8_t *p;
	size_t len, cap;
	size_t pos;		/* reading */
	size_t step;		/* reading: at most this many bytes a call (0: all) */
	int fail_after;		/* writing: fail once this many bytes are in (-1: never) */
};

static void buf_init(struct buf *b)
{
	memset(b, 0, sizeof(*b));
	b->fail_after = -1;
}

static void buf_put(struct buf *b, const void *p, size_t len)
{
	if (b->len + len > b->cap) {
		b->cap = (b->len + len) * 2 + 4096;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
}

static int buf_write(void *arg, const void *p, size_t len)
{
	struct buf *b = arg;

	if (b->fail_after >= 0 && b->len + len > (size_t)b->fail_after)
		return -ENOSPC;
	buf_put(b, p, len);
	return 0;
}

static ssize_t buf_read(void *arg, void *p, size_t len)
{
	struct buf *b = arg;
	size_t n = b->len - b->pos;

	if (n > len)
		n = len;
	if (b->step && n > b->step)
		n = b->step;
	memcpy(p, b->p + b->pos, n);
	b->pos += n;
	return (ssize_t)n;
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static struct vss_stream_header header(uint64_t volume_bytes, bool incremental)
{
	struct vss_stream_header h = {
		.volume_bytes = volume_bytes,
		.chunk_bytes = 65536,
		.to_id = 9,
		.to_ctime = 1700000900,
	};
	unsigned int i;

	for (i = 0; i < 16; i++)
		h.volume_uuid[i] = (uint8_t)(0xa0 + i);
	if (incremental) {
		h.flags = VSS_STREAM_INCREMENTAL;
		h.from_id = 7;
		h.from_ctime = 1700000700;
	}
	return h;
}

/* ---- reading a stream into an image ---- */

struct applied {
	int rc;			/* what the reader ended with: 0 or -errno */
	uint64_t records, data_bytes, zero_bytes;
	uint32_t types[64];	/* the first records' types */
	uint64_t offsets[64], lengths[64];
	char reason[160];	/* vss_stream_reader_error() */
};

/* Read the stream of b, applying it on img (volume_bytes of it, may be NULL). */
static struct applied apply(struct buf *b, uint8_t *img, size_t step)
{
	struct vss_stream_reader *r = NULL;
	struct applied a = { 0 };
	struct vss_stream_record rec;
	const void *data;
	int rc;

	b->pos = 0;
	b->step = step;
	a.rc = vss_stream_reader_new(buf_read, b, &r);
	if (a.rc) {
		assert_null(r);
		return a;
	}
	while ((rc = vss_stream_read_record(r, &rec, &data)) == 1) {
		if (a.records < 64) {
			a.types[a.records] = rec.type;
			a.offsets[a.records] = rec.offset;
			a.lengths[a.records] = rec.length;
		}
		a.records++;
		if (rec.type == VSS_STREAM_DATA) {
			assert_non_null(data);
			a.data_bytes += rec.length;
			if (img)
				memcpy(img + rec.offset, data, rec.length);
		} else {
			assert_null(data);
			a.zero_bytes += rec.length;
			if (img)
				memset(img + rec.offset, 0, rec.length);
		}
	}
	a.rc = rc;
	if (!rc) {
		struct vss_stream_totals t;

		assert_int_equal(vss_stream_reader_totals(r, &t), 0);
		assert_int_equal(t.records, a.records);
		assert_int_equal(t.data_bytes, a.data_bytes);
		assert_int_equal(t.zero_bytes, a.zero_bytes);
		assert_int_equal(t.stream_bytes, b->len);
		/* a verified reader stays at its end */
		assert_int_equal(vss_stream_read_record(r, &rec, &data), 0);
		assert_null(vss_stream_reader_error(r));
	} else {
		assert_non_null(vss_stream_reader_error(r));
		snprintf(a.reason, sizeof(a.reason), "%s", vss_stream_reader_error(r));
		assert_int_equal(vss_stream_reader_totals(r, &(struct vss_stream_totals){ 0 }), -EINVAL);
		/* a failed reader keeps failing the same way */
		assert_int_equal(vss_stream_read_record(r, &rec, &data), rc);
	}
	vss_stream_reader_free(r);
	return a;
}

/* A stream of the whole image img, written with the writer in pieces of piece bytes. */
static void write_image(struct buf *b, const struct vss_stream_header *h, const uint8_t *img,
			size_t piece, struct vss_stream_totals *t)
{
	struct vss_stream_writer *w;
	uint64_t off;

	buf_init(b);
	assert_int_equal(vss_stream_writer_new(h, buf_write, b, &w), 0);
	for (off = 0; off < h->volume_bytes; off += piece) {
		size_t n = h->volume_bytes - off < piece ? h->volume_bytes - off : piece;

		assert_int_equal(vss_stream_write_extent(w, off, img + off, n), 0);
	}
	assert_int_equal(vss_stream_writer_finish(w, t), 0);
	vss_stream_writer_free(w);
}

/* ---- a raw stream builder, for streams the writer would never make ---- */

struct raw {
	struct buf b;
	uint64_t records, data_bytes, zero_bytes;
};

static void raw_header(struct raw *s, uint32_t version, uint32_t flags, uint64_t volume_bytes,
		       uint64_t from_id)
{
	uint8_t h[HDR_BYTES] = { 0 };

	memset(s, 0, sizeof(*s));
	buf_init(&s->b);
	memcpy(h, "VSSSTRM\n", 8);
	put32(h + 8, version);
	put32(h + 12, flags);
	put64(h + 16, volume_bytes);
	put32(h + 24, 4096);
	memset(h + 32, 0x5a, 16);
	put64(h + 48, from_id);
	put64(h + 64, 3);
	put32(h + 124, vss_crc32c(0xFFFFFFFFU, h, 124) ^ 0xFFFFFFFFU);
	buf_put(&s->b, h, sizeof(h));
}

static void raw_record(struct raw *s, uint32_t type, uint64_t offset, uint64_t length,
		       uint8_t fill)
{
	uint8_t r[REC_BYTES] = { 0 };

	put32(r, type);
	put64(r + 8, offset);
	put64(r + 16, length);
	buf_put(&s->b, r, sizeof(r));
	s->records++;
	if (type == VSS_STREAM_DATA) {
		uint8_t *d = malloc(length);

		assert_non_null(d);
		memset(d, fill, length);
		buf_put(&s->b, d, length);
		free(d);
		s->data_bytes += length;
	} else {
		s->zero_bytes += length;
	}
}

/* The trailer, its count off by count_delta, then extra bytes. */
static void raw_trailer(struct raw *s, int count_delta, size_t extra)
{
	uint8_t t[TRL_BYTES] = { 0 };
	struct vss_sha256 sha;

	memcpy(t, "VSSTRLR\n", 8);
	put64(t + 8, s->records + (uint64_t)(int64_t)count_delta);
	put64(t + 16, s->data_bytes);
	put64(t + 24, s->zero_bytes);
	vss_sha256_init(&sha);
	vss_sha256_update(&sha, s->b.p, s->b.len);
	vss_sha256_update(&sha, t, 32);
	vss_sha256_final(&sha, t + 32);
	buf_put(&s->b, t, sizeof(t));
	while (extra--)
		buf_put(&s->b, "x", 1);
}

/* ---- tests ---- */

static void hex(const uint8_t *d, char *out)
{
	unsigned int i;

	for (i = 0; i < VSS_SHA256_BYTES; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void test_sha256_vectors(void **state)
{
	static const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	uint8_t d[VSS_SHA256_BYTES];
	char h[2 * VSS_SHA256_BYTES + 1];
	struct vss_sha256 s;
	char *million;
	size_t i;

	(void)state;
	vss_sha256("", 0, d);
	hex(d, h);
	assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	vss_sha256("abc", 3, d);
	hex(d, h);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	vss_sha256(two_blocks, strlen(two_blocks), d);
	hex(d, h);
	assert_string_equal(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	/* a million 'a', given in uneven pieces */
	million = malloc(1000000);
	assert_non_null(million);
	memset(million, 'a', 1000000);
	vss_sha256_init(&s);
	for (i = 0; i < 1000000; i += 997)
		vss_sha256_update(&s, million + i, 1000000 - i < 997 ? 1000000 - i : 997);
	vss_sha256_final(&s, d);
	hex(d, h);
	assert_string_equal(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(million);
}

/* An image of random data, zero 4 KiB blocks and a zero run longer than a record. */
static uint8_t *make_image(size_t size, unsigned int seed)
{
	uint8_t *img = malloc(size);
	size_t i;

	assert_non_null(img);
	srandom(seed);
	for (i = 0; i < size; i++)
		img[i] = (uint8_t)random();
	memset(img + 8192, 0, 4096);				/* one zero block */
	memset(img + 20000, 0, 3000);				/* zeros, not a whole block */
	if (size > 3 * VSS_STREAM_MAX_RECORD)
		memset(img + VSS_STREAM_MAX_RECORD, 0, VSS_STREAM_MAX_RECORD + 8192);
	return img;
}

static void test_round_trip(void **state)
{
	size_t size = 3 * VSS_STREAM_MAX_RECORD + 12345, piece[] = { 65536, 1000, 3 * 1024 * 1024 + 7 };
	struct vss_stream_header h = header(size, false);
	uint8_t *img = make_image(size, 1), *out = malloc(size);
	unsigned int i;

	(void)state;
	assert_non_null(out);
	for (i = 0; i < 3; i++) {
		struct vss_stream_totals t;
		struct applied a;
		struct buf b;

		write_image(&b, &h, img, piece[i], &t);
		assert_int_equal(t.stream_bytes, b.len);
		assert_int_equal(t.data_bytes + t.zero_bytes, size);
		memset(out, 0xee, size);
		a = apply(&b, out, i == 1 ? 7 : 0);
		assert_int_equal(a.rc, 0);
		assert_memory_equal(out, img, size);
		assert_int_equal(a.records, t.records);
		assert_int_equal(a.data_bytes, t.data_bytes);
		assert_int_equal(a.zero_bytes, t.zero_bytes);
		/* the long zero run and the zero block went as zeros */
		assert_true(t.zero_bytes >= VSS_STREAM_MAX_RECORD + 4096);
		free(b.p);
	}
	free(img);
	free(out);
}

static void test_incremental_round_trip(void **state)
{
	struct vss_stream_header h = header(1 << 20, true);
	struct vss_stream_writer *w;
	struct vss_stream_reader *r;
	const struct vss_stream_header *rh;
	uint8_t chunk[65536];
	struct applied a;
	struct buf b;

	(void)state;
	memset(chunk, 0x11, sizeof(chunk));
	buf_init(&b);
	assert_int_equal(vss_stream_writer_new(&h, buf_write, &b, &w), 0);
	assert_int_equal(vss_stream_write_extent(w, 65536, chunk, sizeof(chunk)), 0);
	assert_int_equal(vss_stream_write_zero(w, 4 * 65536, 65536), 0);
	assert_int_equal(vss_stream_write_extent(w, 15 * 65536, chunk, sizeof(chunk)), 0);
	assert_int_equal(vss_stream_writer_finish(w, NULL), 0);
	vss_stream_writer_free(w);

	b.pos = 0;
	assert_int_equal(vss_stream_reader_new(buf_read, &b, &r), 0);
	rh = vss_stream_reader_header(r);
	assert_int_equal(rh->version, VSS_STREAM_VERSION);
	assert_int_equal(rh->flags, VSS_STREAM_INCREMENTAL);
	assert_int_equal(rh->volume_bytes, 1 << 20);
	assert_int_equal(rh->chunk_bytes, 65536);
	assert_memory_equal(rh->volume_uuid, h.volume_uuid, 16);
	assert_int_equal(rh->from_id, 7);
	assert_int_equal(rh->from_ctime, 1700000700);
	assert_int_equal(rh->to_id, 9);
	assert_int_equal(rh->to_ctime, 1700000900);
	vss_stream_reader_free(r);

	a = apply(&b, NULL, 0);
	assert_int_equal(a.rc, 0);
	assert_int_equal(a.records, 3);
	assert_int_equal(a.types[0], VSS_STREAM_DATA);
	assert_int_equal(a.offsets[0], 65536);
	assert_int_equal(a.types[1], VSS_STREAM_ZERO);
	assert_int_equal(a.offsets[1], 4 * 65536);
	assert_int_equal(a.lengths[1], 65536);
	assert_int_equal(a.types[2], VSS_STREAM_DATA);
	assert_int_equal(a.offsets[2], 15 * 65536);
	assert_int_equal(b.len, HDR_BYTES + 3 * REC_BYTES + 2 * 65536 + TRL_BYTES);
	free(b.p);
}

static void test_zero_detection(void **state)
{
	struct vss_stream_header h = header(64 << 10, false);
	struct vss_stream_writer *w;
	uint8_t img[64 << 10];
	struct applied a;
	struct buf b;

	(void)state;
	/* All zeros: one ZERO record, no data at all. */
	memset(img, 0, sizeof(img));
	write_image(&b, &h, img, 4096, NULL);
	a = apply(&b, NULL, 0);
	assert_int_equal(a.rc, 0);
	assert_int_equal(a.records, 1);
	assert_int_equal(a.types[0], VSS_STREAM_ZERO);
	assert_int_equal(a.lengths[0], sizeof(img));
	assert_int_equal(b.len, HDR_BYTES + REC_BYTES + TRL_BYTES);
	free(b.p);

	/* data, a zero block, data; a byte in the last block keeps it data */
	memset(img, 0, sizeof(img));
	memset(img, 1, 8192);
	img[sizeof(img) - 1] = 1;
	write_image(&b, &h, img, sizeof(img), NULL);
	a = apply(&b, NULL, 0);
	assert_int_equal(a.rc, 0);
	assert_int_equal(a.records, 3);
	assert_int_equal(a.types[0], VSS_STREAM_DATA);
	assert_int_equal(a.lengths[0], 8192);
	assert_int_equal(a.types[1], VSS_STREAM_ZERO);
	assert_int_equal(a.offsets[1], 8192);
	assert_int_equal(a.lengths[1], sizeof(img) - 8192 - 4096);
	assert_int_equal(a.types[2], VSS_STREAM_DATA);
	assert_int_equal(a.offsets[2], sizeof(img) - 4096);
	free(b.p);

	/* An extent not on 4 KiB boundaries: zeros are found per 4 KiB of the image. */
	memset(img, 0, sizeof(img));
	memset(img + 100, 7, 10);
	buf_init(&b);
	assert_int_equal(vss_stream_writer_new(&h, buf_write, &b, &w), 0);
	assert_int_equal(vss_stream_write_extent(w, 100, img + 100, 4096 * 3), 0);
	assert_int_equal(vss_stream_writer_finish(w, NULL), 0);
	vss_stream_writer_free(w);
	a = apply(&b, NULL, 0);
	assert_int_equal(a.rc, 0);
	assert_int_equal(a.records, 2);
	assert_int_equal(a.types[0], VSS_STREAM_DATA);
	assert_int_equal(a.offsets[0], 100);
	assert_int_equal(a.lengths[0], 4096 - 100);
	assert_int_equal(a.types[1], VSS_STREAM_ZERO);
	assert_int_equal(a.offsets[1], 4096);
	assert_int_equal(a.lengths[1], 4096 * 2 + 100);
	free(b.p);
}

static void test_writer_refusals(void **state)
{
	struct vss_stream_header h = header(1 << 20, false);
	struct vss_stream_writer *w;
	uint8_t d[8192];
	struct buf b;

	(void)state;
	memset(d, 3, sizeof(d));
	buf_init(&b);
	h.volume_bytes = 0;
	assert_int_equal(vss_stream_writer_new(&h, buf_write, &b, &w), -EINVAL);
	assert_null(w);
	h = header(1 << 20, false);
	h.chunk_bytes = 0;
	assert_int_equal(vss_stream_writer_new(&h, buf_write, &b, &w), -EINVAL);
	h = header(1 << 20, true);
	h.from_id = 0;
	assert_int_equal(vss_stream_writer_new(&h, buf_write, &b, &w), -EINVAL);
	h = header(1 << 20, false);
	h.flags = 0x80;
	assert_int_equal(vss_stream_writer_new(&h, buf_write, &b, &w), -EINVAL);
	assert_int_equal(b.len, 0);

	h = header(1 << 20, false);
	assert_int_equal(vss_stream_writer_new(&h, buf_write, &b, &w), 0);
	assert_int_equal(vss_stream_write_extent(w, 8192, d, 8192), 0);
	assert_int_equal(vss_stream_write_extent(w, 4096, d, 4096), -EINVAL);	/* backwards */
	assert_int_equal(vss_stream_write_extent(w, 12288, d, 4096), -EINVAL);	/* overlaps */
	assert_int_equal(vss_stream_write_zero(w, 12288, 100), -EINVAL);
	assert_int_equal(vss_stream_write_extent(w, (1 << 20) - 4096, d, 8192), -EINVAL);
	assert_int_equal(vss_stream_write_zero(w, (1 << 20) - 4096, 4097), -EINVAL);
	assert_int_equal(vss_stream_write_extent(w, (1 << 20) - 4096, d, 4096), 0);
	assert_int_equal(vss_stream_writer_finish(w, NULL), 0);
	assert_int_equal(vss_stream_write_zero(w, 1 << 20, 0), -EINVAL);	/* finished */
	assert_int_equal(vss_stream_writer_finish(w, NULL), -EINVAL);
	vss_stream_writer_free(w);
	vss_stream_writer_free(NULL);
	free(b.p);

	/* A failing sink: its error comes back, and again on later calls. */
	buf_init(&b);
	b.fail_after = HDR_BYTES + 100;
	assert_int_equal(vss_stream_writer_new(&h, buf_write, &b, &w), 0);
	assert_int_equal(vss_stream_write_extent(w, 0, d, sizeof(d)), -ENOSPC);
	assert_int_equal(vss_stream_write_zero(w, 1 << 16, 4096), -ENOSPC);
	assert_int_equal(vss_stream_writer_finish(w, NULL), -ENOSPC);
	vss_stream_writer_free(w);
	free(b.p);
}

/* A small stream: data, zeros, data, in an image of 5 blocks. */
static void small_stream(struct buf *b)
{
	struct vss_stream_header h = header(5 * 4096, true);
	uint8_t img[5 * 4096];

	memset(img, 0, sizeof(img));
	memset(img, 0x42, 4096);
	memset(img + 3 * 4096, 0x17, 2 * 4096 - 10);
	img[100] = 0;
	write_image(b, &h, img, sizeof(img), NULL);
}

static bool refusal(int rc)
{
	return rc == -EBADMSG || rc == -EPROTO || rc == -ENODATA || rc == -EMSGSIZE;
}

static void test_truncated_everywhere(void **state)
{
	struct applied a;
	struct buf b;
	size_t full, cut;

	(void)state;
	small_stream(&b);
	full = b.len;
	a = apply(&b, NULL, 0);
	assert_int_equal(a.rc, 0);
	assert_int_equal(a.records, 3);
	for (cut = 0; cut < full; cut++) {
		b.len = cut;
		a = apply(&b, NULL, cut % 2 ? 5 : 0);
		if (a.rc != -ENODATA)
			fail_msg("cut at %zu of %zu: %d, not -ENODATA", cut, full, a.rc);
		if (cut >= HDR_BYTES)
			assert_non_null(strstr(a.reason, "truncated"));
	}
	free(b.p);
}

static void test_flipped_everywhere(void **state)
{
	struct applied a;
	struct buf b;
	size_t i;
	unsigned int bit;

	(void)state;
	small_stream(&b);
	for (i = 0; i < b.len; i++)
		for (bit = 0; bit < 8; bit += 7) {
			b.p[i] ^= (uint8_t)(1U << bit);
			a = apply(&b, NULL, 0);
			if (!refusal(a.rc))
				fail_msg("bit %u of byte %zu flipped: %d", bit, i, a.rc);
			if (i < 8)
				assert_int_equal(a.rc, -EBADMSG);	/* magic */
			else if (i < 12)
				assert_int_equal(a.rc, -EPROTO);	/* version */
			else if (i < HDR_BYTES)
				assert_int_equal(a.rc, -EBADMSG);	/* crc */
			b.p[i] ^= (uint8_t)(1U << bit);
		}
	a = apply(&b, NULL, 0);
	assert_int_equal(a.rc, 0);
	free(b.p);
}

static void test_reordered(void **state)
{
	struct applied a;
	struct raw s;
	uint8_t tmp[REC_BYTES + 4096];

	(void)state;
	/* Two DATA records of the same size, swapped in the writer's stream. */
	raw_header(&s, 1, 0, 4 * 4096, 0);
	raw_record(&s, VSS_STREAM_DATA, 0, 4096, 1);
	raw_record(&s, VSS_STREAM_DATA, 8192, 4096, 2);
	raw_trailer(&s, 0, 0);
	a = apply(&s.b, NULL, 0);
	assert_int_equal(a.rc, 0);
	memcpy(tmp, s.b.p + HDR_BYTES, sizeof(tmp));
	memmove(s.b.p + HDR_BYTES, s.b.p + HDR_BYTES + sizeof(tmp), sizeof(tmp));
	memcpy(s.b.p + HDR_BYTES + sizeof(tmp), tmp, sizeof(tmp));
	a = apply(&s.b, NULL, 0);
	assert_int_equal(a.rc, -EBADMSG);
	assert_int_equal(a.records, 1);
	free(s.b.p);

	/* The same, with a digest that matches: the order alone is refused. */
	raw_header(&s, 1, 0, 4 * 4096, 0);
	raw_record(&s, VSS_STREAM_DATA, 8192, 4096, 2);
	raw_record(&s, VSS_STREAM_DATA, 0, 4096, 1);
	raw_trailer(&s, 0, 0);
	a = apply(&s.b, NULL, 0);
	assert_int_equal(a.rc, -EBADMSG);
	assert_int_equal(a.records, 1);
	assert_string_equal(a.reason, "record 2 at offset 0: out of order or overlapping the one "
			    "before (which ends at 12288)");
	free(s.b.p);
}

/* A raw stream of one bad record after a good one; the reader's answer. */
static int one_bad(uint32_t type, uint64_t offset, uint64_t length)
{
	struct applied a;
	struct raw s;

	raw_header(&s, 1, 0, 1 << 22, 0);
	raw_record(&s, VSS_STREAM_ZERO, 4096, 4096, 0);
	raw_record(&s, type, offset, length, 9);
	raw_trailer(&s, 0, 0);
	a = apply(&s.b, NULL, 0);
	free(s.b.p);
	if (a.rc)
		assert_int_equal(a.records, 1);
	return a.rc;
}

static void test_bad_records(void **state)
{
	(void)state;
	assert_int_equal(one_bad(VSS_STREAM_DATA, 8192, 4096), 0);		/* the control */
	assert_int_equal(one_bad(VSS_STREAM_ZERO, 8192, (1 << 22) - 8192), 0);	/* up to the end */
	assert_int_equal(one_bad(VSS_STREAM_DATA, 4096, 4096), -EBADMSG);	/* same offset */
	assert_int_equal(one_bad(VSS_STREAM_DATA, 6000, 4096), -EBADMSG);	/* overlaps */
	assert_int_equal(one_bad(VSS_STREAM_DATA, 0, 4096), -EBADMSG);		/* backwards */
	assert_int_equal(one_bad(VSS_STREAM_ZERO, (1 << 22) - 4096, 4097), -EBADMSG);
	assert_int_equal(one_bad(VSS_STREAM_ZERO, 1 << 22, 1), -EBADMSG);	/* beyond */
	assert_int_equal(one_bad(VSS_STREAM_ZERO, UINT64_MAX - 10, 20), -EBADMSG);
	assert_int_equal(one_bad(VSS_STREAM_ZERO, 8192, UINT64_MAX), -EBADMSG);
	assert_int_equal(one_bad(3, 8192, 4096), -EBADMSG);			/* unknown type */
	assert_int_equal(one_bad(0, 8192, 4096), -EBADMSG);
	assert_int_equal(one_bad(VSS_STREAM_ZERO, 8192, 0), -EBADMSG);		/* empty */
	assert_int_equal(one_bad(VSS_STREAM_DATA, 8192, VSS_STREAM_MAX_RECORD), 0);
	assert_int_equal(one_bad(VSS_STREAM_DATA, 8192, VSS_STREAM_MAX_RECORD + 1), -EBADMSG);
}

static void test_bad_trailer(void **state)
{
	struct applied a;
	struct raw s;

	(void)state;
	raw_header(&s, 1, 0, 1 << 20, 0);
	raw_record(&s, VSS_STREAM_DATA, 0, 100, 1);
	raw_trailer(&s, 1, 0);
	assert_int_equal(apply(&s.b, NULL, 0).rc, -EBADMSG);	/* one record too many */
	free(s.b.p);
	raw_header(&s, 1, 0, 1 << 20, 0);
	raw_record(&s, VSS_STREAM_DATA, 0, 100, 1);
	raw_trailer(&s, -1, 0);
	assert_int_equal(apply(&s.b, NULL, 0).rc, -EBADMSG);
	free(s.b.p);
	raw_header(&s, 1, 0, 1 << 20, 0);
	raw_record(&s, VSS_STREAM_DATA, 0, 100, 1);
	s.data_bytes++;
	raw_trailer(&s, 0, 0);
	assert_int_equal(apply(&s.b, NULL, 0).rc, -EBADMSG);	/* data bytes */
	free(s.b.p);
	raw_header(&s, 1, 0, 1 << 20, 0);
	raw_record(&s, VSS_STREAM_DATA, 0, 100, 1);
	raw_trailer(&s, 0, 0);
	s.b.p[s.b.len - 1] ^= 1;
	a = apply(&s.b, NULL, 0);
	assert_int_equal(a.rc, -EBADMSG);	/* digest */
	assert_non_null(strstr(a.reason, "SHA-256 digest does not match"));
	free(s.b.p);
	/* No record at all is a stream (an incremental of no change). */
	raw_header(&s, 1, VSS_STREAM_INCREMENTAL, 1 << 20, 4);
	raw_trailer(&s, 0, 0);
	a = apply(&s.b, NULL, 0);
	assert_int_equal(a.rc, 0);
	assert_int_equal(a.records, 0);
	free(s.b.p);
	/* Bytes after the trailer. */
	raw_header(&s, 1, 0, 1 << 20, 0);
	raw_record(&s, VSS_STREAM_ZERO, 0, 100, 1);
	raw_trailer(&s, 0, 1);
	a = apply(&s.b, NULL, 0);
	assert_int_equal(a.rc, -EMSGSIZE);
	assert_int_equal(a.records, 1);
	assert_string_equal(a.reason, "data follow the trailer");
	free(s.b.p);
}

static void test_bad_headers(void **state)
{
	struct raw s;

	(void)state;
	raw_header(&s, 2, 0, 1 << 20, 0);		/* another version */
	raw_trailer(&s, 0, 0);
	assert_int_equal(apply(&s.b, NULL, 0).rc, -EPROTO);
	free(s.b.p);
	raw_header(&s, 0, 0, 1 << 20, 0);
	raw_trailer(&s, 0, 0);
	assert_int_equal(apply(&s.b, NULL, 0).rc, -EPROTO);
	free(s.b.p);
	raw_header(&s, 1, 0x2, 1 << 20, 0);		/* an unknown flag */
	raw_trailer(&s, 0, 0);
	assert_int_equal(apply(&s.b, NULL, 0).rc, -EBADMSG);
	free(s.b.p);
	raw_header(&s, 1, VSS_STREAM_INCREMENTAL, 1 << 20, 0);	/* incremental from nothing */
	raw_trailer(&s, 0, 0);
	assert_int_equal(apply(&s.b, NULL, 0).rc, -EBADMSG);
	free(s.b.p);
	raw_header(&s, 1, 0, 1 << 20, 5);		/* full, with a from_id */
	raw_trailer(&s, 0, 0);
	assert_int_equal(apply(&s.b, NULL, 0).rc, -EBADMSG);
	free(s.b.p);
	raw_header(&s, 1, 0, 0, 0);			/* an empty volume */
	raw_trailer(&s, 0, 0);
	assert_int_equal(apply(&s.b, NULL, 0).rc, -EBADMSG);
	free(s.b.p);
	/* Reserved bytes not zero, with a crc that matches them. */
	raw_header(&s, 1, 0, 1 << 20, 0);
	s.b.p[100] = 1;
	put32(s.b.p + 124, vss_crc32c(0xFFFFFFFFU, s.b.p, 124) ^ 0xFFFFFFFFU);
	raw_trailer(&s, 0, 0);
	assert_int_equal(apply(&s.b, NULL, 0).rc, -EBADMSG);
	free(s.b.p);
	/* Not a stream at all; and nothing. */
	buf_init(&s.b);
	buf_put(&s.b, "#!/bin/sh\necho this is not a stream\n", 36);
	assert_int_equal(apply(&s.b, NULL, 0).rc, -EBADMSG);
	s.b.len = 0;
	assert_int_equal(apply(&s.b, NULL, 0).rc, -ENODATA);
	free(s.b.p);
}

/* The source's own error comes back as it is. */
static ssize_t failing_read(void *arg, void *p, size_t len)
{
	(void)arg;
	(void)p;
	(void)len;
	return -EIO;
}

static void test_source_error(void **state)
{
	struct vss_stream_reader *r;

	(void)state;
	assert_int_equal(vss_stream_reader_new(failing_read, NULL, &r), -EIO);
	assert_null(r);
	vss_stream_reader_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_incremental_round_trip),
		cmocka_unit_test(test_zero_detection),
		cmocka_unit_test(test_writer_refusals),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_flipped_everywhere),
		cmocka_unit_test(test_reordered),
		cmocka_unit_test(test_bad_records),
		cmocka_unit_test(test_bad_trailer),
		cmocka_unit_test(test_bad_headers),
		cmocka_unit_test(test_source_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
