// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target: the send stream reader (vss-receive's parser).
 *
 * Each input is read as a stream as it is, then again with its header's
 * crc32c made to match (when it is long enough to have one), so that
 * mutations reach the record and trailer checks behind it.  The records
 * the reader hands out are written again with the writer, and the stream
 * so made must read back verified with the same records and totals: what
 * the reader accepts, the writer can express.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Ilibvsscore \
 *       test/fuzz/fuzz-stream.c libvsscore/stream.c libvsscore/sha256.c \
 *       libvsscore/crc32c.c -o fuzz-stream
 *   ./fuzz-stream -max_total_time=60 test/fuzz/corpus-stream
 *
 * (test/fuzz/run-fuzzers builds and runs it with the others; the seeds
 * come from test/fuzz/gen-corpus-stream.)
 *
 * fuzz-sources: libvsscore/stream.c libvsscore/sha256.c libvsscore/crc32c.c
 * fuzz-options: -max_len=300000
 */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "libvsscore-stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct src {
	const uint8_t *p;
	size_t len, pos;
	size_t step;		/* at most this many bytes a call */
};

static ssize_t src_read(void *arg, void *buf, size_t len)
{
	struct src *s = arg;
	size_t n = s->len - s->pos;

	if (n > len)
		n = len;
	if (n > s->step)
		n = s->step;
	memcpy(buf, s->p + s->pos, n);
	s->pos += n;
	return (ssize_t)n;
}

struct sink {
	uint8_t *p;
	size_t len, cap;
};

static int sink_write(void *arg, const void *buf, size_t len)
{
	struct sink *k = arg;

	if (k->len + len > k->cap) {
		size_t cap = (k->len + len) * 2;
		uint8_t *p = realloc(k->p, cap);

		if (!p)
			return -ENOMEM;
		k->p = p;
		k->cap = cap;
	}
	memcpy(k->p + k->len, buf, len);
	k->len += len;
	return 0;
}

static bool refusal(int r)
{
	return r == -EBADMSG || r == -EPROTO || r == -ENODATA || r == -EMSGSIZE;
}

/*
 * Read the stream of p; with rewrite, write what was read again into out
 * (a new stream).  Returns the reader's last answer; the totals in *t.
 */
static int read_stream(const uint8_t *p, size_t len, size_t step, struct sink *out,
		       struct vss_stream_totals *t)
{
	struct src s = { p, len, 0, step };
	struct vss_stream_reader *r;
	struct vss_stream_writer *w = NULL;
	struct vss_stream_record rec;
	const void *d;
	int rc;

	rc = vss_stream_reader_new(src_read, &s, &r);
	if (rc) {
		if (!refusal(rc))
			abort();
		return rc;
	}
	if (out && vss_stream_writer_new(vss_stream_reader_header(r), sink_write, out, &w))
		abort();	/* a header the reader took must be writable */
	while ((rc = vss_stream_read_record(r, &rec, &d)) == 1) {
		int wr = 0;

		if ((rec.type == VSS_STREAM_DATA) != (d != NULL))
			abort();
		if (!w)
			continue;
		if (rec.type == VSS_STREAM_DATA)
			wr = vss_stream_write_extent(w, rec.offset, d, rec.length);
		else
			wr = vss_stream_write_zero(w, rec.offset, rec.length);
		if (wr)
			abort();	/* records the reader took are in order and in bounds */
	}
	if (rc == 0) {
		if (vss_stream_reader_totals(r, t) || vss_stream_reader_error(r))
			abort();
		if (w && vss_stream_writer_finish(w, NULL))
			abort();
	} else if (!refusal(rc) || !vss_stream_reader_error(r)) {
		abort();
	}
	vss_stream_writer_free(w);
	vss_stream_reader_free(r);
	return rc;
}

static void check(const uint8_t *p, size_t len, size_t step)
{
	struct vss_stream_totals t1, t2;
	struct sink out = { 0 };

	if (read_stream(p, len, step, &out, &t1) == 0) {
		/* the writer's stream of the same content verifies too */
		if (read_stream(out.p, out.len, 4096, NULL, &t2))
			abort();
		if (t2.data_bytes + t2.zero_bytes != t1.data_bytes + t1.zero_bytes)
			abort();
	}
	free(out.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;
	uint32_t crc;

	/* the first byte picks how many bytes a read returns at most */
	size_t step = size ? (size_t)data[0] % 64 + 1 : 1;

	check(data, size, step == 64 ? SIZE_MAX : step);
	if (size < 128)
		return 0;
	copy = malloc(size);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	crc = htole32(vss_crc32c(0xFFFFFFFFU, copy, 124) ^ 0xFFFFFFFFU);
	memcpy(copy + 124, &crc, 4);
	check(copy, size, SIZE_MAX);
	free(copy);
	return 0;
}
