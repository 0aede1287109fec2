/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvsscore: the send stream of a shadow copy (vss-send, vss-receive).
 * The format is described in doc/send-stream.rst.
 *
 * A stream is a header, records in increasing offset order (data, or a run
 * of zeros sent without data), and a trailer with the record count and a
 * SHA-256 over every byte before the trailer's digest.  A full stream holds
 * the whole image of one shadow copy; an incremental stream only the
 * extents where it differs from an older shadow copy of the same volume,
 * and applies only on top of that one.
 *
 * The library never prints and never exits.  Functions return 0 or a
 * negative errno.
 */
#ifndef LIBVSSCORE_STREAM_H
#define LIBVSSCORE_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* what this header declares is the library's interface; the rest is hidden */
#pragma GCC visibility push(default)

#define VSS_STREAM_VERSION	1U
#define VSS_STREAM_INCREMENTAL	0x1U	/* header flag: applies on top of from_id */
/* Largest data record; a writer cuts longer extents. */
#define VSS_STREAM_MAX_RECORD	(1U << 20)

struct vss_stream_header {
	uint32_t version;		/* VSS_STREAM_VERSION */
	uint32_t flags;			/* VSS_STREAM_* */
	uint64_t volume_bytes;		/* size of the image */
	uint32_t chunk_bytes;		/* granularity of the extents (informative) */
	uint8_t volume_uuid[16];	/* the volume's identity: its store's uuid */
	uint64_t from_id;		/* incremental: the shadow copy it applies on; else 0 */
	uint64_t from_ctime;		/* its creation, seconds since the Epoch; else 0 */
	uint64_t to_id;			/* the shadow copy the stream carries */
	uint64_t to_ctime;
};

enum vss_stream_record_type {
	VSS_STREAM_DATA = 1,		/* length bytes of data follow */
	VSS_STREAM_ZERO = 2,		/* length bytes of zeros, no data */
};

struct vss_stream_record {
	uint32_t type;			/* enum vss_stream_record_type */
	uint64_t offset;		/* bytes into the image */
	uint64_t length;		/* bytes; DATA: 1..VSS_STREAM_MAX_RECORD */
};

/* What a finished stream carried (the trailer's figures). */
struct vss_stream_totals {
	uint64_t records;
	uint64_t data_bytes;		/* bytes of DATA records */
	uint64_t zero_bytes;		/* bytes of ZERO records */
	uint64_t stream_bytes;		/* the whole stream, header and trailer included */
};

/* Byte sink and source: write/read all of len, or return -errno. */
typedef int (*vss_stream_write_fn)(void *arg, const void *buf, size_t len);
/* Returns the bytes read (0..len; less than len only at the end), or -errno. */
typedef ssize_t (*vss_stream_read_fn)(void *arg, void *buf, size_t len);

/* ---- writing ---- */

struct vss_stream_writer;

/**
 * vss_stream_writer_new() - start a stream: write its header.
 * @h:     the header; version is set by the library
 * @write: the sink; @arg is passed to it
 *
 * Returns 0, -EINVAL for a header that cannot be represented (volume_bytes
 * 0, chunk_bytes 0, VSS_STREAM_INCREMENTAL without from_id), -ENOMEM, or
 * the sink's error.
 */
int vss_stream_writer_new(const struct vss_stream_header *h, vss_stream_write_fn write,
			  void *arg, struct vss_stream_writer **w);

/**
 * vss_stream_write_extent() - send len bytes of the image at offset.
 *
 * Offsets must increase: each extent starts at or after the end of the
 * previous one, and ends within volume_bytes (else -EINVAL).  The writer
 * cuts the extent into records of at most VSS_STREAM_MAX_RECORD bytes and
 * sends every all-zero 4 KiB-aligned run of a record as a ZERO record.
 */
int vss_stream_write_extent(struct vss_stream_writer *w, uint64_t offset, const void *buf,
			    size_t len);

/** vss_stream_write_zero() - send len bytes of zeros at offset (no data). */
int vss_stream_write_zero(struct vss_stream_writer *w, uint64_t offset, uint64_t len);

/**
 * vss_stream_writer_finish() - write the trailer.  @totals may be NULL.
 * Nothing can be written after it.
 */
int vss_stream_writer_finish(struct vss_stream_writer *w, struct vss_stream_totals *totals);

/** vss_stream_writer_free() - release the writer; NULL is allowed. */
void vss_stream_writer_free(struct vss_stream_writer *w);

/* ---- reading ---- */

struct vss_stream_reader;

/**
 * vss_stream_reader_new() - read and check a stream's header.
 *
 * Returns 0; -EPROTO for a stream of another version; -EBADMSG for bytes
 * that are not a stream header (wrong magic, reserved bytes not zero,
 * impossible values); -ENODATA when the input ends inside the header;
 * -ENOMEM; or the source's error.
 */
int vss_stream_reader_new(vss_stream_read_fn read, void *arg, struct vss_stream_reader **r);

/** vss_stream_reader_header() - the header read by vss_stream_reader_new(). */
const struct vss_stream_header *vss_stream_reader_header(const struct vss_stream_reader *r);

/**
 * vss_stream_read_record() - the next record.
 * @rec:  filled in
 * @data: for DATA, set to the record's bytes (rec->length of them), owned
 *        by the reader and valid until the next call; else NULL
 *
 * Returns 1 with a record; 0 at the trailer, once its record count and
 * digest verified (then vss_stream_reader_totals() holds the figures);
 * -EBADMSG for a record out of order, overlapping, beyond volume_bytes, of
 * an unknown type, or a trailer whose count or digest does not match;
 * -ENODATA when the input ends before the trailer; -EMSGSIZE when data
 * follow the trailer; or the source's error.  A record is handed out
 * before the digest covering it is verified: a receiver marks its target
 * incomplete until 0 is returned.
 */
int vss_stream_read_record(struct vss_stream_reader *r, struct vss_stream_record *rec,
			   const void **data);

/**
 * vss_stream_reader_error() - why vss_stream_read_record() refused the
 * stream, in words ("record 3 at offset ...: out of order ..."), or NULL
 * when it did not.  Owned by the reader.
 */
const char *vss_stream_reader_error(const struct vss_stream_reader *r);

/** vss_stream_reader_totals() - the figures of a verified stream (after 0). */
int vss_stream_reader_totals(const struct vss_stream_reader *r, struct vss_stream_totals *totals);

/** vss_stream_reader_free() - release the reader; NULL is allowed. */
void vss_stream_reader_free(struct vss_stream_reader *r);

/* ---- receiving ---- */

struct vss_ctx;		/* libvsscore.h */

/*
 * What a target (a regular file or a block device) holds, as
 * vss_stream_receive() recorded it: in the extended attribute
 * user.vss.received of a file, in <state dir>/received/MAJOR:MINOR.json
 * for a device (with the device's identity: its dm uuid or name, a loop
 * device's backing file, so that a record never applies to another device
 * that later got the same number).
 */
struct vss_stream_held {
	bool known;			/* a stream was (or is being) received into it */
	bool complete;			/* that stream verified: the image of shadow_id */
	uint8_t volume_uuid[16];
	uint64_t shadow_id;
	uint64_t ctime;			/* the shadow copy's creation, seconds since the Epoch */
};

/* vss_stream_receive() flag: apply an incremental stream whatever the target holds. */
#define VSS_STREAM_RECEIVE_FORCE	0x1U

/* What vss_stream_receive() received. */
struct vss_stream_received {
	struct vss_stream_header header;
	struct vss_stream_totals totals;
};

/**
 * vss_stream_receive() - apply a stream to a target.
 * @ctx:    a context (its log gets the reasons, its state dir the records of devices)
 * @target: a regular file or a block device; a full stream creates a
 *          missing file (sparse)
 * @read:   the source of the stream; @arg is passed to it
 * @flags:  VSS_STREAM_RECEIVE_*
 * @out:    filled in on success; may be NULL
 *
 * An incremental stream applies only onto a target that holds, complete,
 * the shadow copy it was made from, of the same volume (unless
 * VSS_STREAM_RECEIVE_FORCE).  Before the first byte is written the target
 * is recorded as incomplete, and it is recorded complete, holding the
 * stream's shadow copy, only once the trailer verified and the data are
 * durable: a stream that breaks off or proves corrupt leaves a target
 * that refuses incrementals until a full stream is received.  A stream
 * refused as not valid, or an incremental of another volume, marks an
 * existing target incomplete too.
 *
 * Returns 0; -EBADMSG, -EPROTO, -ENODATA, -EMSGSIZE as the reader does
 * (the stream is not valid); -ESTALE when the target does not hold what an
 * incremental needs; -ENOENT for a missing target an incremental needs (or
 * a missing directory); -ENOSPC for a device smaller than the volume, or
 * a full filesystem; -EBUSY when another receive holds the target; or
 * -errno.  The reason is logged.
 */
int vss_stream_receive(struct vss_ctx *ctx, const char *target, vss_stream_read_fn read,
		       void *arg, unsigned int flags, struct vss_stream_received *out);

/**
 * vss_stream_target_held() - what a target holds (held->known false for
 * a target that never received a stream).  Returns 0 or -errno (-ENOENT
 * for a missing target).
 */
int vss_stream_target_held(struct vss_ctx *ctx, const char *target,
			   struct vss_stream_held *held);

/* ---- helpers ---- */

/** vss_stream_fd_write() - a vss_stream_write_fn over a file descriptor (arg: int *). */
int vss_stream_fd_write(void *arg, const void *buf, size_t len);

/** vss_stream_fd_read() - a vss_stream_read_fn over a file descriptor (arg: int *). */
ssize_t vss_stream_fd_read(void *arg, void *buf, size_t len);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
