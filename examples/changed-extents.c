// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * changed-extents: how a backup program gets the changes between two
 * shadow copies from libvsscore and reads them itself.
 *
 *   changed-extents FROM TO        print "OFFSET LENGTH" of each changed extent
 *   changed-extents --read FROM TO also read them from TO's device and print
 *                                  the bytes read and a sum of them
 *
 * Build against an installed library:
 *   cc changed-extents.c $(pkg-config --cflags --libs libvsscore)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libvsscore.h>

static void on_log(int level, const char *msg, void *arg)
{
	(void)level;
	fprintf(stderr, "%s: %s\n", (const char *)arg, msg);
}

/* Read every extent from the shadow copy's device; a simple sum stands in for the backup. */
static int read_extents(const struct vss_shadow_diff *d)
{
	uint64_t bytes = 0, sum = 0;
	unsigned char buf[65536];
	size_t i;
	int fd = open(d->device, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "changed-extents: %s: %s\n", d->device, strerror(errno));
		return 1;
	}
	for (i = 0; i < d->nr_extents; i++) {
		uint64_t off = d->extents[i].offset, end = off + d->extents[i].length;

		while (off < end) {
			size_t len = end - off < sizeof(buf) ? (size_t)(end - off) : sizeof(buf);
			ssize_t n = pread(fd, buf, len, (off_t)off), k;

			if (n <= 0) {
				fprintf(stderr, "changed-extents: %s: read failed at %" PRIu64 "\n",
					d->device, off);
				close(fd);
				return 1;
			}
			for (k = 0; k < n; k++)
				sum = sum * 31 + buf[k];
			off += (uint64_t)n;
			bytes += (uint64_t)n;
		}
	}
	close(fd);
	printf("read %" PRIu64 " bytes, sum %016" PRIx64 "\n", bytes, sum);
	return 0;
}

int main(int argc, char **argv)
{
	struct vss_shadow_diff *d = NULL;
	struct vss_ctx *ctx = NULL;
	int read_them = argc > 1 && !strcmp(argv[1], "--read");
	uint64_t from, to;
	size_t i;
	int r, rc = 1;

	if (argc != 3 + read_them) {
		fprintf(stderr, "usage: changed-extents [--read] FROM TO\n");
		return 1;
	}
	from = strtoull(argv[1 + read_them], NULL, 10);
	to = strtoull(argv[2 + read_them], NULL, 10);
	r = vss_ctx_new(&ctx);
	if (r) {
		fprintf(stderr, "changed-extents: %s\n", vss_strerror(r));
		return 1;
	}
	vss_ctx_set_log(ctx, on_log, "changed-extents", VSS_LOG_WARN);
	r = vss_shadow_diff(ctx, from, to, &d);
	if (!r) {
		for (i = 0; i < d->nr_extents; i++)
			printf("%" PRIu64 " %" PRIu64 "\n", d->extents[i].offset, d->extents[i].length);
		rc = read_them ? read_extents(d) : 0;
	}
	vss_shadow_diff_free(d);
	vss_ctx_free(ctx);
	return rc;
}
