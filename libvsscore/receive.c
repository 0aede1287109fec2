// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Receiving a send stream into a target (vss-receive): the rules of what
 * an incremental applies on, and the record of what each target holds.
 *
 * A regular file keeps its record in the extended attribute
 * user.vss.received; a block device in <state dir>/received/MAJ:MIN.json,
 * with the device's identity (dm uuid or name, a loop device's backing
 * file) so that the record of a device gone is not taken for the device
 * that reuses its number.  Both are small JSON objects:
 *
 *   {"volume_uuid": "...", "shadow_id": N, "ctime": N, "complete": bool,
 *    "received": "ISO 8601"}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "libvsscore-stream.h"
#include "vss-internal.h"

#define HELD_XATTR	"user.vss.received"
#define ZERO_BUF	(64U * 1024U)

struct target {
	const char *path;
	int fd;
	bool blk;
	bool created;
	uint64_t size;
	dev_t rdev;
	/*
	 * A file on a filesystem without user extended attributes (tmpfs
	 * before Linux 6.6, some network filesystems): its record is kept in
	 * the state directory like a device's, by device and inode number.
	 */
	bool in_state_dir;
	dev_t fdev;
	ino_t ino;
	char identity[PATH_MAX + 8];	/* devices, and files in_state_dir: what the numbers stand for now */
};

/* ---- uuids and records ---- */

static void uuid_str(const uint8_t u[16], char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
		 u[12], u[13], u[14], u[15]);
}

static bool uuid_parse(const char *s, uint8_t u[16])
{
	unsigned int i, n = 0;

	if (!s || strlen(s) != 36)
		return false;
	for (i = 0; i < 36; i++) {
		int v;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
			continue;
		}
		if (s[i] >= '0' && s[i] <= '9')
			v = s[i] - '0';
		else if (s[i] >= 'a' && s[i] <= 'f')
			v = s[i] - 'a' + 10;
		else
			return false;
		if (n % 2)
			u[n / 2] = (uint8_t)(u[n / 2] | v);
		else
			u[n / 2] = (uint8_t)(v << 4);
		n++;
	}
	return true;
}

static uint64_t json_u64_of(json_object *o, const char *key, bool *ok)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int)) {
		*ok = false;
		return 0;
	}
	return json_object_get_uint64(v);
}

/* A record's text into held; false when it is not one. */
static bool held_parse(const char *text, const char *identity, struct vss_stream_held *held)
{
	json_object *o = json_tokener_parse(text), *v;
	bool ok = true;

	memset(held, 0, sizeof(*held));
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return false;
	}
	ok = uuid_parse(vss_json_str(o, "volume_uuid"), held->volume_uuid);
	held->shadow_id = json_u64_of(o, "shadow_id", &ok);
	held->ctime = json_u64_of(o, "ctime", &ok);
	if (!json_object_object_get_ex(o, "complete", &v) ||
	    !json_object_is_type(v, json_type_boolean))
		ok = false;
	else
		held->complete = json_object_get_boolean(v);
	if (identity) {
		const char *id = vss_json_str(o, "identity");

		if (!id || strcmp(id, identity))
			ok = false;
	}
	json_object_put(o);
	held->known = ok;
	if (!ok)
		memset(held, 0, sizeof(*held));
	return ok;
}

static json_object *held_json(const struct target *t, const struct vss_stream_held *held)
{
	json_object *o = json_object_new_object();
	char uuid[37], when[32];

	uuid_str(held->volume_uuid, uuid);
	vss_iso8601(time(NULL), when, sizeof(when));
	json_object_object_add(o, "volume_uuid", json_object_new_string(uuid));
	json_object_object_add(o, "shadow_id", json_object_new_uint64(held->shadow_id));
	json_object_object_add(o, "ctime", json_object_new_uint64(held->ctime));
	json_object_object_add(o, "complete", json_object_new_boolean(held->complete));
	json_object_object_add(o, "received", json_object_new_string(when));
	if (t->blk) {
		json_object_object_add(o, "device", json_object_new_string(t->path));
		json_object_object_add(o, "major", json_object_new_int64(major(t->rdev)));
		json_object_object_add(o, "minor", json_object_new_int64(minor(t->rdev)));
		json_object_object_add(o, "identity", json_object_new_string(t->identity));
	} else if (t->in_state_dir) {
		json_object_object_add(o, "file", json_object_new_string(t->path));
		json_object_object_add(o, "identity", json_object_new_string(t->identity));
	}
	return o;
}

/* ---- devices: identity and the state directory ---- */

/* The first line of a sysfs file of the device, or "" when it has none. */
static void sysfs_line(dev_t rdev, const char *file, char *buf, size_t size)
{
	char path[128];
	FILE *f;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/%s", major(rdev), minor(rdev), file);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(buf, (int)size, f))
		buf[strcspn(buf, "\n")] = '\0';
	else
		buf[0] = '\0';
	fclose(f);
}

static void device_identity(struct target *t)
{
	char v[256];

	sysfs_line(t->rdev, "dm/uuid", v, sizeof(v));
	if (v[0]) {
		snprintf(t->identity, sizeof(t->identity), "dm-uuid:%s", v);
		return;
	}
	sysfs_line(t->rdev, "dm/name", v, sizeof(v));
	if (v[0]) {
		snprintf(t->identity, sizeof(t->identity), "dm-name:%s", v);
		return;
	}
	sysfs_line(t->rdev, "loop/backing_file", v, sizeof(v));
	if (v[0]) {
		snprintf(t->identity, sizeof(t->identity), "loop:%s", v);
		return;
	}
	snprintf(t->identity, sizeof(t->identity), "devno:%u:%u", major(t->rdev), minor(t->rdev));
}

static void record_path(struct vss_ctx *ctx, const struct target *t, char *buf, size_t size)
{
	if (t->blk)
		snprintf(buf, size, "%s/received/%u:%u.json", vss_ctx_dir(ctx, "state"),
			 major(t->rdev), minor(t->rdev));
	else
		snprintf(buf, size, "%s/received/file-%u:%u-%llu.json", vss_ctx_dir(ctx, "state"),
			 major(t->fdev), minor(t->fdev), (unsigned long long)t->ino);
}

/* A regular file: where its record goes (see in_state_dir). */
static void file_record_place(struct target *t)
{
	char real[PATH_MAX];
	struct stat st;

	if (fstat(t->fd, &st) == 0) {
		t->fdev = st.st_dev;
		t->ino = st.st_ino;
	}
	if (fgetxattr(t->fd, HELD_XATTR, NULL, 0) < 0 && (errno == ENOTSUP || errno == EOPNOTSUPP)) {
		t->in_state_dir = true;
		snprintf(t->identity, sizeof(t->identity), "file:%s",
			 realpath(t->path, real) ? real : t->path);
	}
}

static int held_read(struct vss_ctx *ctx, const struct target *t, struct vss_stream_held *held)
{
	char text[1024];
	ssize_t n;

	memset(held, 0, sizeof(*held));
	if (t->blk || t->in_state_dir) {
		char path[512];
		int fd;

		record_path(ctx, t, path, sizeof(path));
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return errno == ENOENT ? 0 : -errno;
		n = read(fd, text, sizeof(text) - 1);
		close(fd);
	} else {
		n = fgetxattr(t->fd, HELD_XATTR, text, sizeof(text) - 1);
		if (n < 0 && (errno == ENODATA || errno == ENOTSUP))
			return 0;
	}
	if (n < 0)
		return -errno;
	text[n] = '\0';
	if (!held_parse(text, t->blk || t->in_state_dir ? t->identity : NULL, held))
		vss_dbg(ctx, "%s: its record of what it holds is not valid or names another device",
			t->path);
	return 0;
}

static int held_write(struct vss_ctx *ctx, const struct target *t,
		      const struct vss_stream_held *held)
{
	json_object *o = held_json(t, held);
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	int r = 0;

	if (t->blk || t->in_state_dir) {
		char path[512], dir[512];

		snprintf(dir, sizeof(dir), "%s/received", vss_ctx_dir(ctx, "state"));
		record_path(ctx, t, path, sizeof(path));
		r = vss_mkdir_p(dir, 0700);
		if (!r)
			r = vss_atomic_write(path, text, strlen(text));
		if (r)
			vss_err(ctx, "%s: cannot record what it holds in %s: %s", t->path, path,
				strerror(-r));
	} else {
		if (fsetxattr(t->fd, HELD_XATTR, text, strlen(text), 0) || fsync(t->fd))
			r = -errno;
		if (r)
			vss_err(ctx, "%s: cannot record what it holds (extended attribute %s): %s",
				t->path, HELD_XATTR, strerror(-r));
	}
	json_object_put(o);
	return r;
}

/* ---- the target ---- */

static int target_open(struct vss_ctx *ctx, const char *path, bool writable, bool may_create,
		       struct target *t)
{
	struct stat st;

	memset(t, 0, sizeof(*t));
	t->path = path;
	t->fd = -1;
	if (stat(path, &st)) {
		int err = -errno;

		if (err != -ENOENT || !may_create) {
			vss_err(ctx, "%s: cannot open the target: %s", path, strerror(-err));
			return err;
		}
		t->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (t->fd < 0) {
			err = -errno;
			vss_err(ctx, "%s: cannot create the target: %s", path, strerror(-err));
			return err;
		}
		t->created = true;
		flock(t->fd, LOCK_EX | LOCK_NB);
		file_record_place(t);
		return 0;
	}
	if (S_ISBLK(st.st_mode)) {
		t->blk = true;
		t->rdev = st.st_rdev;
		/* O_EXCL: refused while mounted or held by another exclusive opener */
		t->fd = open(path, (writable ? O_RDWR | O_EXCL : O_RDONLY) | O_CLOEXEC);
	} else if (S_ISREG(st.st_mode)) {
		t->fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	} else {
		vss_err(ctx, "%s: cannot receive into it: not a block device or a regular file", path);
		return -EINVAL;
	}
	if (t->fd < 0) {
		int err = -errno;

		vss_err(ctx, "%s: cannot open the target: %s%s", path, strerror(-err),
			err == -EBUSY ? " (mounted, or in use by another program)" : "");
		return err;
	}
	if (t->blk) {
		int err = vss_blkdev_size_fd(t->fd, &t->size);

		if (err) {
			vss_err(ctx, "%s: cannot read its size: %s", path, strerror(-err));
			return err;
		}
		device_identity(t);
	} else {
		t->size = (uint64_t)st.st_size;
		if (writable && flock(t->fd, LOCK_EX | LOCK_NB)) {
			int err = errno == EWOULDBLOCK ? -EBUSY : -errno;

			vss_err(ctx, "%s: cannot receive into it: %s", path,
				err == -EBUSY ? "another receive is writing it" : strerror(-err));
			return err;
		}
		file_record_place(t);
	}
	return 0;
}

static void target_close(struct target *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

static int write_all(const struct target *t, const void *buf, uint64_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(t->fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ENOSPC;
		p += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

static int write_zeros(const struct target *t, uint64_t off, uint64_t len)
{
	static const uint8_t zeros[ZERO_BUF];

	while (len) {
		uint64_t n = len < ZERO_BUF ? len : ZERO_BUF;
		int r = write_all(t, zeros, n, off);

		if (r)
			return r;
		off += n;
		len -= n;
	}
	return 0;
}

static bool not_supported(int err)
{
	return err == -EOPNOTSUPP || err == -ENOTTY || err == -EINVAL || err == -ENOSYS;
}

/* Zeros over [off, off + len): holes in a file, BLKZEROOUT on a device. */
static int zero_range(const struct target *t, uint64_t off, uint64_t len)
{
	if (!t->blk) {
		if (!fallocate(t->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
			       (off_t)len))
			return 0;
		if (!not_supported(-errno))
			return -errno;
		return write_zeros(t, off, len);
	}
	{
		uint64_t start = (off + 511) & ~511ULL, end = (off + len) & ~511ULL;
		int r;

		if (end <= start)
			return write_zeros(t, off, len);
		r = write_zeros(t, off, start - off);
		if (!r) {
			uint64_t range[2] = { start, end - start };

			if (ioctl(t->fd, BLKZEROOUT, range))
				r = not_supported(-errno) ? write_zeros(t, start, end - start) : -errno;
		}
		if (!r)
			r = write_zeros(t, end, off + len - end);
		return r;
	}
}

/* ---- the rules ---- */

static const char *header_error(int err)
{
	switch (err) {
	case -EBADMSG:
		return "the input is not a send stream, or its header is damaged";
	case -EPROTO:
		return "the stream is of another format version (this receiver reads version 1)";
	case -ENODATA:
		return "the input ends inside the stream's header";
	}
	return NULL;
}

static void describe_held(const struct vss_stream_held *held, char *buf, size_t size)
{
	char uuid[37];

	if (!held->known) {
		snprintf(buf, size, "the target holds no received image");
		return;
	}
	uuid_str(held->volume_uuid, uuid);
	snprintf(buf, size, "the target holds %sshadow copy %" PRIu64 " of volume %s",
		 held->complete ? "" : "an incomplete image (not fully received) of ",
		 held->shadow_id, uuid);
}

/* Mark an existing target incomplete after a refused stream; best effort. */
static void mark_refused(struct vss_ctx *ctx, struct target *t, struct vss_stream_held *held)
{
	if (!held->known || !held->complete)
		return;
	held->complete = false;
	if (!held_write(ctx, t, held))
		vss_info(ctx, "%s: marked incomplete: it takes a full stream next", t->path);
}

/*
 * 0 when an incremental stream h applies on what the target holds;
 * otherwise -ESTALE with the reason logged (and, for a stream of another
 * volume, the target marked incomplete).
 */
static int check_incremental(struct vss_ctx *ctx, struct target *t,
			     const struct vss_stream_header *h, struct vss_stream_held *held,
			     bool force)
{
	char has[200], uuid[37];
	bool other_volume = held->known && memcmp(held->volume_uuid, h->volume_uuid, 16);

	if (held->known && held->complete && !other_volume && held->shadow_id == h->from_id)
		return 0;
	describe_held(held, has, sizeof(has));
	uuid_str(h->volume_uuid, uuid);
	if (force) {
		vss_warn(ctx, "%s: %s; the incremental stream needs shadow copy %" PRIu64
			 " of volume %s: applied anyway (--force)", t->path, has, h->from_id, uuid);
		return 0;
	}
	vss_err(ctx, "%s: cannot apply the incremental stream: %s; the stream needs shadow copy %"
		PRIu64 " of volume %s%s", t->path, has, h->from_id, uuid,
		other_volume && held->complete ? " (another volume: the target is marked "
		"incomplete and takes a full stream next)" : " (receive a full stream, or --force)");
	if (other_volume)
		mark_refused(ctx, t, held);
	return -ESTALE;
}

static int check_size(struct vss_ctx *ctx, const struct target *t,
		      const struct vss_stream_header *h)
{
	if (!t->blk || t->size >= h->volume_bytes)
		return 0;
	vss_err(ctx, "%s: cannot receive: the device has %" PRIu64 " bytes, the volume %"
		PRIu64, t->path, t->size, h->volume_bytes);
	return -ENOSPC;
}

static int size_file(struct vss_ctx *ctx, struct target *t, const struct vss_stream_header *h)
{
	if (t->blk)
		return 0;
	/* A full stream starts from an empty sparse file; a file is the image's size. */
	if ((!(h->flags & VSS_STREAM_INCREMENTAL) && ftruncate(t->fd, 0)) ||
	    ftruncate(t->fd, (off_t)h->volume_bytes)) {
		int err = -errno;

		vss_err(ctx, "%s: cannot set its size to %" PRIu64 " bytes: %s", t->path,
			h->volume_bytes, strerror(-err));
		return err;
	}
	t->size = h->volume_bytes;
	return 0;
}

static int apply_records(struct vss_ctx *ctx, struct target *t, struct vss_stream_reader *rd)
{
	const struct vss_stream_header *h = vss_stream_reader_header(rd);
	bool fresh_file = !t->blk && !(h->flags & VSS_STREAM_INCREMENTAL);
	struct vss_stream_record rec;
	const void *data;
	int r;

	while ((r = vss_stream_read_record(rd, &rec, &data)) == 1) {
		int w;

		if (rec.type == VSS_STREAM_DATA)
			w = write_all(t, data, rec.length, rec.offset);
		else if (fresh_file)
			w = 0;		/* a hole already */
		else
			w = zero_range(t, rec.offset, rec.length);
		if (w) {
			vss_err(ctx, "%s: cannot write %" PRIu64 " bytes at offset %" PRIu64 ": %s",
				t->path, rec.length, rec.offset, strerror(-w));
			return w;
		}
	}
	if (r < 0) {
		const char *why = vss_stream_reader_error(rd);

		vss_err(ctx, "%s: cannot receive shadow copy %" PRIu64 ": %s; the target is marked "
			"incomplete and takes a full stream next", t->path, h->to_id,
			why ? why : strerror(-r));
		return r;
	}
	if (fsync(t->fd)) {
		r = -errno;
		vss_err(ctx, "%s: cannot flush what was written: %s", t->path, strerror(-r));
		return r;
	}
	return 0;
}

VSS_EXPORT int vss_stream_receive(struct vss_ctx *ctx, const char *target,
				  vss_stream_read_fn read, void *arg, unsigned int flags,
				  struct vss_stream_received *out)
{
	const struct vss_stream_header *h;
	struct vss_stream_reader *rd = NULL;
	struct vss_stream_held held, applying;
	struct target t = { .fd = -1 };
	bool incremental;
	int r;

	if (!ctx || !target || !read)
		return -EINVAL;
	r = vss_stream_reader_new(read, arg, &rd);
	if (r) {
		const char *why = header_error(r);

		if (why) {
			vss_err(ctx, "%s: cannot receive: %s", target, why);
			/* a target that exists no longer counts as holding a complete image */
			if (!access(target, F_OK) && !target_open(ctx, target, true, false, &t) &&
			    !held_read(ctx, &t, &held))
				mark_refused(ctx, &t, &held);
			target_close(&t);
		} else {
			vss_err(ctx, "%s: cannot receive: cannot read the stream: %s", target,
				strerror(-r));
		}
		return r;
	}
	h = vss_stream_reader_header(rd);
	incremental = h->flags & VSS_STREAM_INCREMENTAL;

	r = target_open(ctx, target, true, !incremental, &t);
	if (r) {
		if (r == -ENOENT && incremental)
			vss_err(ctx, "%s: an incremental stream applies only on a target that "
				"holds shadow copy %" PRIu64 ": receive a full stream first",
				target, h->from_id);
		goto out;
	}
	r = held_read(ctx, &t, &held);
	if (r) {
		vss_err(ctx, "%s: cannot read what it holds: %s", target, strerror(-r));
		goto out;
	}
	if (incremental) {
		r = check_incremental(ctx, &t, h, &held, flags & VSS_STREAM_RECEIVE_FORCE);
		if (r)
			goto out;
	}
	r = check_size(ctx, &t, h);
	if (r)
		goto out;

	/* From here on the target is not what it held: say so before changing it. */
	applying = (struct vss_stream_held){ .known = true, .complete = false,
					     .shadow_id = h->to_id, .ctime = h->to_ctime };
	memcpy(applying.volume_uuid, h->volume_uuid, 16);
	r = held_write(ctx, &t, &applying);
	if (!r)
		r = size_file(ctx, &t, h);
	if (r)
		goto out;
	r = apply_records(ctx, &t, rd);
	if (r)
		goto out;
	applying.complete = true;
	r = held_write(ctx, &t, &applying);
	if (r)
		goto out;
	if (out) {
		out->header = *h;
		vss_stream_reader_totals(rd, &out->totals);
	}
out:
	target_close(&t);
	vss_stream_reader_free(rd);
	return r;
}

VSS_EXPORT int vss_stream_target_held(struct vss_ctx *ctx, const char *target,
				      struct vss_stream_held *held)
{
	struct target t;
	int r;

	memset(held, 0, sizeof(*held));
	if (!ctx || !target)
		return -EINVAL;
	r = target_open(ctx, target, false, false, &t);
	if (!r)
		r = held_read(ctx, &t, held);
	target_close(&t);
	return r;
}
