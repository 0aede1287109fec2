// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * mkstream: write a send stream of a file image with the libvsscore
 * writer, for tests and fuzz corpora, without the kernel.
 *
 *   mkstream [OPTION]... IMAGE > STREAM
 *
 *   --to ID            the shadow copy the stream carries (default 1)
 *   --to-ctime T       its creation time (default 1700000000 + ID)
 *   --from ID          an incremental stream on top of shadow copy ID
 *   --from-ctime T     its creation time (default 1700000000 + ID)
 *   --base OLD         with --from: send only the chunks where IMAGE
 *                      differs from OLD (without it, every chunk)
 *   --uuid HEX         the volume's uuid, 32 hex digits (dashes allowed;
 *                      default 00112233-4455-6677-8899-aabbccddeeff)
 *   --chunk BYTES      the chunk size (default 65536)
 *   --header-version N write N as the format version (the header's
 *                      checksum made to match): a stream of another version
 *
 * The volume's size is IMAGE's.  Exits 0, or 1 with a message.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "libvsscore-stream.h"

static int out_fd = STDOUT_FILENO;
static long header_version = -1;
static bool header_done;

static void die(const char *what, const char *why)
{
	fprintf(stderr, "mkstream: %s: %s\n", what, why);
	exit(1);
}

/* The sink: standard output, with the header's version rewritten if asked. */
static int sink(void *arg, const void *buf, size_t len)
{
	uint8_t hdr[128];

	if (header_done || header_version < 0 || len != sizeof(hdr)) {
		header_done = true;
		return vss_stream_fd_write(arg, buf, len);
	}
	header_done = true;
	memcpy(hdr, buf, sizeof(hdr));
	*(uint32_t *)(hdr + 8) = htole32((uint32_t)header_version);
	*(uint32_t *)(hdr + 124) = htole32(vss_crc32c(0xFFFFFFFFU, hdr, 124) ^ 0xFFFFFFFFU);
	return vss_stream_fd_write(arg, hdr, sizeof(hdr));
}

static uint64_t number(const char *opt, const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (!*s || *end || errno)
		die(opt, "not a number");
	return v;
}

static void parse_uuid(const char *s, uint8_t u[16])
{
	unsigned int n = 0;

	for (; *s; s++) {
		unsigned int v;

		if (*s == '-')
			continue;
		if (sscanf((char[]){ *s, 0 }, "%1x", &v) != 1 || n == 32)
			die("--uuid", "not 32 hex digits");
		u[n / 2] = (uint8_t)(n % 2 ? u[n / 2] | v : v << 4);
		n++;
	}
	if (n != 32)
		die("--uuid", "not 32 hex digits");
}

static uint8_t *slurp(const char *path, uint64_t *size)
{
	struct stat st;
	uint8_t *p;
	size_t got = 0;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st))
		die(path, strerror(errno));
	p = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!p)
		die(path, "out of memory");
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, p + got, (size_t)st.st_size - got);

		if (n <= 0)
			die(path, n ? strerror(errno) : "shorter than its size");
		got += (size_t)n;
	}
	close(fd);
	*size = (uint64_t)st.st_size;
	return p;
}

int main(int argc, char **argv)
{
	struct vss_stream_header h = { .chunk_bytes = 65536, .to_id = 1 };
	struct vss_stream_writer *w;
	struct vss_stream_totals t;
	const char *image = NULL, *base_path = NULL;
	uint64_t size, base_size = 0, off;
	uint8_t *img, *base = NULL;
	bool to_ctime = false, from_ctime = false;
	int i, r;

	parse_uuid("00112233-4455-6677-8899-aabbccddeeff", h.volume_uuid);
	for (i = 1; i < argc; i++) {
		const char *o = argv[i];

		if (o[0] != '-') {
			if (image)
				die(o, "one IMAGE only");
			image = o;
			continue;
		}
		if (i + 1 == argc)
			die(o, "needs a value");
		if (!strcmp(o, "--to")) {
			h.to_id = number(o, argv[++i]);
		} else if (!strcmp(o, "--to-ctime")) {
			h.to_ctime = number(o, argv[++i]);
			to_ctime = true;
		} else if (!strcmp(o, "--from")) {
			h.from_id = number(o, argv[++i]);
			h.flags |= VSS_STREAM_INCREMENTAL;
		} else if (!strcmp(o, "--from-ctime")) {
			h.from_ctime = number(o, argv[++i]);
			from_ctime = true;
		} else if (!strcmp(o, "--base")) {
			base_path = argv[++i];
		} else if (!strcmp(o, "--uuid")) {
			parse_uuid(argv[++i], h.volume_uuid);
		} else if (!strcmp(o, "--chunk")) {
			h.chunk_bytes = (uint32_t)number(o, argv[++i]);
		} else if (!strcmp(o, "--header-version")) {
			header_version = (long)number(o, argv[++i]);
		} else {
			die(o, "unknown option");
		}
	}
	if (!image)
		die("usage", "mkstream [OPTION]... IMAGE > STREAM");
	if (base_path && !(h.flags & VSS_STREAM_INCREMENTAL))
		die("--base", "needs --from");
	if (!to_ctime)
		h.to_ctime = 1700000000 + h.to_id;
	if ((h.flags & VSS_STREAM_INCREMENTAL) && !from_ctime)
		h.from_ctime = 1700000000 + h.from_id;
	img = slurp(image, &size);
	if (base_path)
		base = slurp(base_path, &base_size);
	h.volume_bytes = size;

	r = vss_stream_writer_new(&h, sink, &out_fd, &w);
	if (r)
		die("cannot start the stream", strerror(-r));
	for (off = 0; off < size && !r; off += h.chunk_bytes) {
		uint64_t n = size - off < h.chunk_bytes ? size - off : h.chunk_bytes;

		if (base && off + n <= base_size && !memcmp(img + off, base + off, n))
			continue;
		r = vss_stream_write_extent(w, off, img + off, n);
	}
	if (!r)
		r = vss_stream_writer_finish(w, &t);
	if (r)
		die("cannot write the stream", strerror(-r));
	fprintf(stderr, "mkstream: %" PRIu64 " records, %" PRIu64 " data bytes, %" PRIu64
		" zero bytes, %" PRIu64 " stream bytes\n", t.records, t.data_bytes, t.zero_bytes,
		t.stream_bytes);
	vss_stream_writer_free(w);
	free(img);
	free(base);
	return 0;
}
