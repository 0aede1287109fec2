// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The send stream of a shadow copy: writer and reader.  The byte format is
 * doc/send-stream.rst; the interface libvsscore-stream.h.
 *
 * This file depends on nothing of the library but crc32c and sha256, so
 * that test tools and the fuzzer can build it alone.
 */
#include <endian.h>
#include <stdarg.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "libvsscore-stream.h"
#include "sha256.h"

#ifndef VSS_EXPORT
#define VSS_EXPORT __attribute__((visibility("default")))
#endif

/* ---- the format (doc/send-stream.rst) ---- */

#define HDR_MAGIC	"VSSSTRM\n"
#define TRL_MAGIC	"VSSTRLR\n"
#define HDR_BYTES	128
#define HDR_CRC_OFF	124
#define REC_BYTES	24
#define TRL_BYTES	64
#define TRL_DIGEST_OFF	32
#define ZERO_GRAIN	4096U

/* The header's fields, by offset. */
enum {
	H_MAGIC = 0, H_VERSION = 8, H_FLAGS = 12, H_VOLUME_BYTES = 16, H_CHUNK_BYTES = 24,
	H_RESERVED1 = 28, H_UUID = 32, H_FROM_ID = 48, H_FROM_CTIME = 56, H_TO_ID = 64,
	H_TO_CTIME = 72, H_RESERVED2 = 80,
};

/* A record's header. */
enum { R_TYPE = 0, R_RESERVED = 4, R_OFFSET = 8, R_LENGTH = 16 };

/* The trailer. */
enum { T_MAGIC = 0, T_RECORDS = 8, T_DATA_BYTES = 16, T_ZERO_BYTES = 24, T_DIGEST = 32 };

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

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static uint32_t header_crc(const uint8_t *hdr)
{
	return vss_crc32c(0xFFFFFFFFU, hdr, HDR_CRC_OFF) ^ 0xFFFFFFFFU;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* The rules a header must follow, for the writer and the reader alike. */
static bool header_valid(const struct vss_stream_header *h)
{
	if (!h->volume_bytes || !h->chunk_bytes)
		return false;
	if (h->flags & ~VSS_STREAM_INCREMENTAL)
		return false;
	if (h->flags & VSS_STREAM_INCREMENTAL)
		return h->from_id != 0;
	return !h->from_id && !h->from_ctime;
}

/* ---- writing ---- */

struct vss_stream_writer {
	vss_stream_write_fn write;
	void *arg;
	struct vss_stream_header h;
	struct vss_sha256 sha;
	struct vss_stream_totals t;
	uint64_t end;		/* end of the last extent given */
	uint64_t zero_off;	/* a ZERO record not yet written */
	uint64_t zero_len;
	int err;		/* sticky: the first failure */
	bool finished;
};

static int emit(struct vss_stream_writer *w, const void *buf, size_t len)
{
	int r;

	if (w->err)
		return w->err;
	r = w->write(w->arg, buf, len);
	if (r) {
		w->err = r < 0 ? r : -EIO;
		return w->err;
	}
	vss_sha256_update(&w->sha, buf, len);
	w->t.stream_bytes += len;
	return 0;
}

static int emit_record(struct vss_stream_writer *w, uint32_t type, uint64_t offset,
		       uint64_t length, const void *data)
{
	uint8_t rec[REC_BYTES] = { 0 };
	int r;

	put32(rec + R_TYPE, type);
	put64(rec + R_OFFSET, offset);
	put64(rec + R_LENGTH, length);
	r = emit(w, rec, sizeof(rec));
	if (!r && type == VSS_STREAM_DATA)
		r = emit(w, data, (size_t)length);
	if (r)
		return r;
	w->t.records++;
	if (type == VSS_STREAM_DATA)
		w->t.data_bytes += length;
	else
		w->t.zero_bytes += length;
	return 0;
}

static int flush_zero(struct vss_stream_writer *w)
{
	int r;

	if (!w->zero_len)
		return 0;
	r = emit_record(w, VSS_STREAM_ZERO, w->zero_off, w->zero_len, NULL);
	w->zero_len = 0;
	return r;
}

static int add_zero(struct vss_stream_writer *w, uint64_t offset, uint64_t len)
{
	int r;

	if (w->zero_len && w->zero_off + w->zero_len == offset) {
		w->zero_len += len;
		return 0;
	}
	r = flush_zero(w);
	if (r)
		return r;
	w->zero_off = offset;
	w->zero_len = len;
	return 0;
}

/* The checks every extent passes; 0 or -EINVAL (or the sticky error). */
static int extent_check(struct vss_stream_writer *w, uint64_t offset, uint64_t len)
{
	if (w->err)
		return w->err;
	if (w->finished || offset < w->end || offset > w->h.volume_bytes ||
	    len > w->h.volume_bytes - offset)
		return -EINVAL;
	return 0;
}

VSS_EXPORT int vss_stream_writer_new(const struct vss_stream_header *h,
				     vss_stream_write_fn write, void *arg,
				     struct vss_stream_writer **wp)
{
	struct vss_stream_writer *w;
	uint8_t hdr[HDR_BYTES] = { 0 };
	int r;

	*wp = NULL;
	if (!h || !write || !header_valid(h))
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->write = write;
	w->arg = arg;
	w->h = *h;
	w->h.version = VSS_STREAM_VERSION;
	vss_sha256_init(&w->sha);

	memcpy(hdr + H_MAGIC, HDR_MAGIC, 8);
	put32(hdr + H_VERSION, VSS_STREAM_VERSION);
	put32(hdr + H_FLAGS, h->flags);
	put64(hdr + H_VOLUME_BYTES, h->volume_bytes);
	put32(hdr + H_CHUNK_BYTES, h->chunk_bytes);
	memcpy(hdr + H_UUID, h->volume_uuid, 16);
	put64(hdr + H_FROM_ID, h->from_id);
	put64(hdr + H_FROM_CTIME, h->from_ctime);
	put64(hdr + H_TO_ID, h->to_id);
	put64(hdr + H_TO_CTIME, h->to_ctime);
	put32(hdr + HDR_CRC_OFF, header_crc(hdr));
	r = emit(w, hdr, sizeof(hdr));
	if (r) {
		free(w);
		return r;
	}
	*wp = w;
	return 0;
}

VSS_EXPORT int vss_stream_write_extent(struct vss_stream_writer *w, uint64_t offset,
				       const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t pos = offset, end = offset + len;
	uint64_t data_off = 0, data_len = 0;	/* the data run being gathered */
	int r;

	if (!w)
		return -EINVAL;
	r = extent_check(w, offset, len);
	if (r)
		return r;
	if (len && !buf)
		return -EINVAL;
	w->end = end;
	/*
	 * Walk the extent in pieces that end on 4 KiB boundaries of the
	 * image: an all-zero piece joins the pending ZERO record, the others
	 * gather into DATA records of at most VSS_STREAM_MAX_RECORD bytes.
	 */
	while (pos < end) {
		uint64_t next = (pos / ZERO_GRAIN + 1) * ZERO_GRAIN;
		uint64_t n = (next < end ? next : end) - pos;

		if (all_zero(p + (pos - offset), (size_t)n)) {
			if (data_len) {
				r = emit_record(w, VSS_STREAM_DATA, data_off, data_len,
						p + (data_off - offset));
				data_len = 0;
				if (r)
					return r;
			}
			r = add_zero(w, pos, n);
		} else {
			if (!data_len) {
				r = flush_zero(w);
				if (r)
					return r;
				data_off = pos;
			}
			data_len += n;
			r = 0;
			if (data_len >= VSS_STREAM_MAX_RECORD) {
				/* n <= 4 KiB, so a full record ends here or just before */
				uint64_t cut = data_len > VSS_STREAM_MAX_RECORD ?
					       VSS_STREAM_MAX_RECORD : data_len;

				r = emit_record(w, VSS_STREAM_DATA, data_off, cut,
						p + (data_off - offset));
				data_off += cut;
				data_len -= cut;
			}
		}
		if (r)
			return r;
		pos += n;
	}
	if (data_len)
		return emit_record(w, VSS_STREAM_DATA, data_off, data_len, p + (data_off - offset));
	return 0;
}

VSS_EXPORT int vss_stream_write_zero(struct vss_stream_writer *w, uint64_t offset, uint64_t len)
{
	int r;

	if (!w)
		return -EINVAL;
	r = extent_check(w, offset, len);
	if (r)
		return r;
	w->end = offset + len;
	return len ? add_zero(w, offset, len) : 0;
}

VSS_EXPORT int vss_stream_writer_finish(struct vss_stream_writer *w,
					struct vss_stream_totals *totals)
{
	uint8_t trl[TRL_BYTES] = { 0 };
	int r;

	if (!w || w->finished)
		return -EINVAL;
	r = flush_zero(w);
	if (r)
		return r;
	memcpy(trl + T_MAGIC, TRL_MAGIC, 8);
	put64(trl + T_RECORDS, w->t.records);
	put64(trl + T_DATA_BYTES, w->t.data_bytes);
	put64(trl + T_ZERO_BYTES, w->t.zero_bytes);
	vss_sha256_update(&w->sha, trl, TRL_DIGEST_OFF);
	vss_sha256_final(&w->sha, trl + T_DIGEST);
	if (w->err)
		return w->err;
	r = w->write(w->arg, trl, sizeof(trl));
	if (r)
		return w->err = r < 0 ? r : -EIO;
	w->t.stream_bytes += sizeof(trl);
	w->finished = true;
	if (totals)
		*totals = w->t;
	return 0;
}

VSS_EXPORT void vss_stream_writer_free(struct vss_stream_writer *w)
{
	free(w);
}

/* ---- reading ---- */

struct vss_stream_reader {
	vss_stream_read_fn read;
	void *arg;
	struct vss_stream_header h;
	struct vss_sha256 sha;
	struct vss_stream_totals t;	/* counted as read */
	uint64_t end;			/* end of the last record */
	uint8_t *buf;			/* a DATA record's bytes */
	int err;			/* sticky: the first failure */
	bool done;			/* the trailer verified */
	char reason[160];		/* why err, in words */
};

static int refuse(struct vss_stream_reader *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int refuse(struct vss_stream_reader *r, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
	return err;
}

/* Exactly len bytes, or -ENODATA at the end of the input, or the source's error. */
static int read_full(struct vss_stream_reader *r, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = r->read(r->arg, p + got, len - got);

		if (n < 0)
			return (int)n;
		if (n == 0)
			return -ENODATA;
		if ((size_t)n > len - got)
			return -EIO;
		got += (size_t)n;
	}
	vss_sha256_update(&r->sha, buf, len);
	r->t.stream_bytes += len;
	return 0;
}

VSS_EXPORT int vss_stream_reader_new(vss_stream_read_fn read, void *arg,
				     struct vss_stream_reader **rp)
{
	struct vss_stream_reader *r;
	struct vss_stream_header *h;
	uint8_t hdr[HDR_BYTES];
	int err;

	*rp = NULL;
	if (!read)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->read = read;
	r->arg = arg;
	vss_sha256_init(&r->sha);
	h = &r->h;

	/* The magic first, then the version: a later version may change the rest. */
	err = read_full(r, hdr, 8);
	if (!err && memcmp(hdr + H_MAGIC, HDR_MAGIC, 8))
		err = -EBADMSG;
	if (!err)
		err = read_full(r, hdr + 8, 4);
	if (!err && get32(hdr + H_VERSION) != VSS_STREAM_VERSION)
		err = -EPROTO;
	if (!err)
		err = read_full(r, hdr + 12, HDR_BYTES - 12);
	if (err)
		goto fail;
	h->version = get32(hdr + H_VERSION);
	h->flags = get32(hdr + H_FLAGS);
	h->volume_bytes = get64(hdr + H_VOLUME_BYTES);
	h->chunk_bytes = get32(hdr + H_CHUNK_BYTES);
	memcpy(h->volume_uuid, hdr + H_UUID, 16);
	h->from_id = get64(hdr + H_FROM_ID);
	h->from_ctime = get64(hdr + H_FROM_CTIME);
	h->to_id = get64(hdr + H_TO_ID);
	h->to_ctime = get64(hdr + H_TO_CTIME);
	if (get32(hdr + HDR_CRC_OFF) != header_crc(hdr) || get32(hdr + H_RESERVED1) ||
	    !all_zero(hdr + H_RESERVED2, HDR_CRC_OFF - H_RESERVED2) || !header_valid(h)) {
		err = -EBADMSG;
		goto fail;
	}
	r->buf = malloc(VSS_STREAM_MAX_RECORD);
	if (!r->buf) {
		err = -ENOMEM;
		goto fail;
	}
	*rp = r;
	return 0;
fail:
	vss_stream_reader_free(r);
	return err;
}

VSS_EXPORT const struct vss_stream_header *
vss_stream_reader_header(const struct vss_stream_reader *r)
{
	return &r->h;
}

static int read_trailer(struct vss_stream_reader *r, const uint8_t *head)
{
	uint8_t trl[TRL_BYTES], digest[VSS_SHA256_BYTES], extra;
	ssize_t n;
	int err;

	memcpy(trl, head, REC_BYTES);
	err = read_full(r, trl + REC_BYTES, TRL_DIGEST_OFF - REC_BYTES);
	if (err)
		return err;
	/* The digest covers every byte before itself: take it now. */
	vss_sha256_final(&r->sha, digest);
	{
		/* The digest's own bytes, read without hashing. */
		uint8_t *p = trl + T_DIGEST;
		size_t got = 0;

		while (got < VSS_SHA256_BYTES) {
			n = r->read(r->arg, p + got, VSS_SHA256_BYTES - got);
			if (n < 0)
				return (int)n;
			if (n == 0)
				return -ENODATA;
			if ((size_t)n > VSS_SHA256_BYTES - got)
				return -EIO;
			got += (size_t)n;
		}
		r->t.stream_bytes += VSS_SHA256_BYTES;
	}
	if (get64(trl + T_RECORDS) != r->t.records)
		return refuse(r, -EBADMSG, "the trailer counts %" PRIu64 " records, the stream "
			      "held %" PRIu64, get64(trl + T_RECORDS), r->t.records);
	if (get64(trl + T_DATA_BYTES) != r->t.data_bytes ||
	    get64(trl + T_ZERO_BYTES) != r->t.zero_bytes)
		return refuse(r, -EBADMSG, "the trailer's byte counts do not match the records");
	if (memcmp(trl + T_DIGEST, digest, VSS_SHA256_BYTES))
		return refuse(r, -EBADMSG, "the SHA-256 digest does not match: the stream is corrupt");
	do
		n = r->read(r->arg, &extra, 1);
	while (n == -EINTR);
	if (n < 0)
		return (int)n;
	if (n > 0)
		return refuse(r, -EMSGSIZE, "data follow the trailer");
	return 0;
}

/* 0, or -EBADMSG with the reason for a record that breaks the rules. */
static int check_record(struct vss_stream_reader *r, uint32_t type, uint32_t reserved,
			uint64_t offset, uint64_t length)
{
	uint64_t n = r->t.records + 1;

	if (type != VSS_STREAM_DATA && type != VSS_STREAM_ZERO)
		return refuse(r, -EBADMSG, "record %" PRIu64 ": unknown type %" PRIu32, n, type);
	if (reserved)
		return refuse(r, -EBADMSG, "record %" PRIu64 ": reserved bytes not zero", n);
	if (!length)
		return refuse(r, -EBADMSG, "record %" PRIu64 ": empty", n);
	if (offset < r->end)
		return refuse(r, -EBADMSG, "record %" PRIu64 " at offset %" PRIu64 ": out of order "
			      "or overlapping the one before (which ends at %" PRIu64 ")",
			      n, offset, r->end);
	if (offset > r->h.volume_bytes || length > r->h.volume_bytes - offset)
		return refuse(r, -EBADMSG, "record %" PRIu64 " at offset %" PRIu64 ": %" PRIu64
			      " bytes go beyond the end of the volume (%" PRIu64 " bytes)",
			      n, offset, length, r->h.volume_bytes);
	if (type == VSS_STREAM_DATA && length > VSS_STREAM_MAX_RECORD)
		return refuse(r, -EBADMSG, "record %" PRIu64 ": %" PRIu64 " bytes of data, more "
			      "than a record may hold (%u)", n, length, VSS_STREAM_MAX_RECORD);
	return 0;
}

VSS_EXPORT int vss_stream_read_record(struct vss_stream_reader *r,
				      struct vss_stream_record *rec, const void **data)
{
	uint8_t head[REC_BYTES];
	uint32_t type;
	uint64_t offset, length;
	int err;

	if (data)
		*data = NULL;
	if (!r)
		return -EINVAL;
	if (r->err)
		return r->err;
	if (r->done)
		return 0;
	err = read_full(r, head, REC_BYTES);
	if (err)
		goto fail;
	if (!memcmp(head, TRL_MAGIC, 8)) {
		err = read_trailer(r, head);
		if (err)
			goto fail;
		r->done = true;
		return 0;
	}
	type = get32(head + R_TYPE);
	offset = get64(head + R_OFFSET);
	length = get64(head + R_LENGTH);
	err = check_record(r, type, get32(head + R_RESERVED), offset, length);
	if (err)
		goto fail;
	if (type == VSS_STREAM_DATA) {
		err = read_full(r, r->buf, (size_t)length);
		if (err)
			goto fail;
		r->t.data_bytes += length;
		if (data)
			*data = r->buf;
	} else {
		r->t.zero_bytes += length;
	}
	r->t.records++;
	r->end = offset + length;
	if (rec) {
		rec->type = type;
		rec->offset = offset;
		rec->length = length;
	}
	return 1;
fail:
	if (err == -ENODATA)
		refuse(r, err, "truncated: the input ends before the trailer");
	else if (!r->reason[0])
		refuse(r, err, "cannot read the input: %s", strerror(-err));
	r->err = err;
	return err;
}

VSS_EXPORT const char *vss_stream_reader_error(const struct vss_stream_reader *r)
{
	return r && r->reason[0] ? r->reason : NULL;
}

VSS_EXPORT int vss_stream_reader_totals(const struct vss_stream_reader *r,
					struct vss_stream_totals *totals)
{
	if (!r || !r->done)
		return -EINVAL;
	*totals = r->t;
	return 0;
}

VSS_EXPORT void vss_stream_reader_free(struct vss_stream_reader *r)
{
	if (!r)
		return;
	free(r->buf);
	free(r);
}

/* ---- helpers ---- */

VSS_EXPORT int vss_stream_fd_write(void *arg, const void *buf, size_t len)
{
	int fd = *(int *)arg;
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

VSS_EXPORT ssize_t vss_stream_fd_read(void *arg, void *buf, size_t len)
{
	int fd = *(int *)arg;
	uint8_t *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}
