// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vss-send: write a shadow copy as a stream on standard output: its whole
 * image, or with --from only the extents where it differs from an older
 * shadow copy of the same volume (doc/send-stream.rst).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <popt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli-common.h"
#include "libvsscore.h"
#include "libvsscore-stream.h"

/* Bytes read from the shadow copy at once. */
#define READ_BYTES	VSS_STREAM_MAX_RECORD

struct progress {
	bool show;
	uint64_t total, done;
	double start, last;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void human(uint64_t bytes, char *buf, size_t size)
{
	static const char unit[] = "BKMGTP";
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u)
		snprintf(buf, size, "%.1f%ciB", v, unit[u]);
	else
		snprintf(buf, size, "%" PRIu64 "B", bytes);
}

/* "1.2GiB of 4.0GiB (30%), 85.3MiB/s, 0:36 left" on stderr, twice a second. */
static void progress_show(struct progress *p, bool last)
{
	char done[32], total[32], rate[32];
	double t = now_s(), el = t - p->start, bps;
	uint64_t left;

	if (!p->show || (!last && t - p->last < 0.5))
		return;
	p->last = t;
	bps = el > 0 ? (double)p->done / el : 0;
	left = bps > 0 ? (uint64_t)((double)(p->total - p->done) / bps) : 0;
	human(p->done, done, sizeof(done));
	human(p->total, total, sizeof(total));
	human((uint64_t)bps, rate, sizeof(rate));
	fprintf(stderr, "\r%s: %s of %s (%.0f%%), %s/s, %" PRIu64 ":%02" PRIu64 " left   %s",
		vss_program_name(), done, total,
		p->total ? 100.0 * (double)p->done / (double)p->total : 100.0, rate,
		left / 60, left % 60, last ? "\n" : "");
}

static int send_extents(const struct vss_shadow_diff *d, struct vss_stream_writer *w,
			struct progress *p)
{
	unsigned char *buf = NULL;
	int fd, r = 0;
	size_t i;

	fd = open(d->device, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		vss_error(d->device, "cannot open the shadow copy", r);
		return r;
	}
	if (posix_memalign((void **)&buf, 4096, READ_BYTES)) {
		close(fd);
		vss_error(NULL, "cannot allocate a buffer", -ENOMEM);
		return -ENOMEM;
	}
	for (i = 0; i < d->nr_extents && !r; i++) {
		uint64_t off = d->extents[i].offset, end = off + d->extents[i].length;

		while (off < end && !r) {
			size_t len = end - off < READ_BYTES ? (size_t)(end - off) : READ_BYTES;
			ssize_t n = pread(fd, buf, len, (off_t)off);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				r = n < 0 ? -errno : -EIO;
				fprintf(stderr, "%s: %s: read failed at byte %" PRIu64 ": %s%s\n",
					vss_program_name(), d->device, off, strerror(-r),
					r == -EIO ? " (was the shadow copy dropped or invalidated? "
					"see vss-list)" : "");
				break;
			}
			r = vss_stream_write_extent(w, off, buf, (size_t)n);
			if (r) {
				vss_error("standard output", "write failed", r);
				break;
			}
			off += (uint64_t)n;
			p->done += (uint64_t)n;
			progress_show(p, false);
		}
	}
	free(buf);
	close(fd);
	return r;
}

static int send_stream(const struct vss_shadow_diff *d, bool quiet)
{
	struct vss_stream_header h = { 0 };
	struct vss_stream_totals t = { 0 };
	struct vss_stream_writer *w = NULL;
	struct progress p = { 0 };
	int out = STDOUT_FILENO, r;

	h.flags = d->from_id ? VSS_STREAM_INCREMENTAL : 0;
	h.volume_bytes = d->volume_bytes;
	h.chunk_bytes = d->chunk_bytes ? d->chunk_bytes : 4096;
	memcpy(h.volume_uuid, d->volume_uuid, sizeof(h.volume_uuid));
	h.from_id = d->from_id;
	h.from_ctime = d->from_id ? (uint64_t)d->from_created : 0;
	h.to_id = d->to_id;
	h.to_ctime = (uint64_t)d->to_created;

	p.show = !quiet && isatty(STDERR_FILENO);
	p.total = d->changed_bytes;
	p.start = p.last = now_s();

	r = vss_stream_writer_new(&h, vss_stream_fd_write, &out, &w);
	if (r) {
		vss_error("standard output", "cannot start the stream", r);
		return r;
	}
	r = send_extents(d, w, &p);
	if (!r) {
		r = vss_stream_writer_finish(w, &t);
		if (r)
			vss_error("standard output", "write failed", r);
	}
	vss_stream_writer_free(w);
	if (p.show)
		progress_show(&p, true);
	if (!r && vss_opt_verbose)
		fprintf(stderr, "%s: shadow copy %" PRIu64 "%s: %" PRIu64 " records, %" PRIu64
			" data bytes, %" PRIu64 " zero bytes, %" PRIu64 " stream bytes\n",
			vss_program_name(), d->to_id, d->from_id ? " (incremental)" : "",
			t.records, t.data_bytes, t.zero_bytes, t.stream_bytes);
	return r;
}

int main(int argc, char **argv)
{
	const char *from_arg = NULL;
	struct poptOption options[] = {
		{ "from", 'i', POPT_ARG_STRING, &from_arg, 0,
		  "Send only what changed since shadow copy FROM (older, same volume)", "FROM" },
		VSS_POPT_COMMON,
		VSS_POPT_HELP
		POPT_TABLEEND
	};
	struct vss_shadow_diff *d = NULL;
	struct vss_ctx *ctx = NULL;
	uint64_t from = 0, id;
	const char *id_arg;
	poptContext pc;
	int rc, r;

	vss_cli_init(argv[0]);
	pc = poptGetContext(NULL, argc, (const char **)argv, options, 0);
	poptSetOtherOptionHelp(pc, "[OPTION...] ID > STREAM");
	rc = vss_cli_parse(pc);
	if (rc >= 0)
		goto out;
	id_arg = poptGetArg(pc);
	if (!id_arg || poptPeekArg(pc)) {
		vss_errorx(NULL, "%s (see --help)", id_arg ? "too many arguments" :
			   "no shadow copy id given");
		rc = VSS_EXIT_USAGE;
		goto out;
	}
	rc = vss_cli_parse_id(id_arg, "shadow copy", &id);
	if (!rc && from_arg)
		rc = vss_cli_parse_id(from_arg, "shadow copy", &from);
	if (rc)
		goto out;
	if (isatty(STDOUT_FILENO)) {
		vss_errorx("standard output", "is a terminal: send the stream to a file or a pipe "
			   "(vss-send %s | vss-receive TARGET)", id_arg);
		rc = VSS_EXIT_USAGE;
		goto out;
	}
	/* A reader that goes away is a write error (EPIPE), reported. */
	signal(SIGPIPE, SIG_IGN);
	rc = vss_cli_context(&ctx, vss_opt_debug, NULL);
	if (rc)
		goto out;
	rc = vss_cli_kernel_for_shadow(ctx, id);
	if (rc >= 0)
		goto out;
	r = vss_shadow_diff(ctx, from, id, &d);
	if (r) {
		rc = vss_exit_from_diff(r);
		goto out;
	}
	r = send_stream(d, vss_opt_quiet);
	rc = r ? vss_exit_from_errno(r, VSS_EXIT_PROVIDER) : VSS_EXIT_OK;
out:
	vss_shadow_diff_free(d);
	vss_ctx_free(ctx);
	poptFreeContext(pc);
	return rc;
}
