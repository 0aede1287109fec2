// SPDX-License-Identifier: GPL-2.0
/*
 * chain-floor: times a chain of dependent I/Os on two devices, one chain
 * after another, and prints chains per second.  scripts/bench-cow uses it
 * to measure, on its own loop devices, the least a first write can cost
 * under dm-vss's write ordering (doc/dm-vss.rst, "Write ordering"):
 *
 *   chain-floor [-b BYTES] [-t SECONDS] [-s SEED] ORIGIN STORE STEPS
 *
 * Each chain picks a chunk of BYTES (default 4096) at random on ORIGIN,
 * never the same one twice until all have been used, and does STEPS in
 * order, each waiting for the one before:
 *
 *   r   read the chunk from ORIGIN           (the old data)
 *   c   write it to STORE at the next chunk  (the copy and its record, in
 *       one write: no store could need less)
 *   f   flush STORE (fdatasync)              (the copy durable)
 *   w   write the chunk to ORIGIN            (the origin write)
 *
 * Both devices are opened with O_DIRECT (a file where it has none, on tmpfs,
 * without it, saying so).  "w" alone is a plain write, to
 * compare with fio's figure for the same device; "rcfw" is the first-write
 * chain.  Prints "STEPS CHAINS_PER_SECOND"; exits 1 on an I/O error, 2 on
 * bad arguments.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>

static void usage(void)
{
	fprintf(stderr, "usage: chain-floor [-b BYTES] [-t SECONDS] [-s SEED] ORIGIN STORE STEPS\n"
		"  STEPS: letters r (read ORIGIN), c (write STORE), f (flush STORE), w (write ORIGIN)\n");
	exit(2);
}

static uint64_t parse_num(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
		fprintf(stderr, "chain-floor: %s '%s': expected a number from %" PRIu64 " to %" PRIu64 "\n",
			opt, s, min, max);
		exit(2);
	}
	return v;
}

static uint64_t dev_bytes(int fd, const char *path)
{
	struct stat st;
	uint64_t bytes = 0;

	if (fstat(fd, &st)) {
		fprintf(stderr, "chain-floor: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &bytes)) {
			fprintf(stderr, "chain-floor: %s: BLKGETSIZE64: %s\n", path, strerror(errno));
			exit(1);
		}
	} else {
		bytes = st.st_size;
	}
	return bytes;
}

static int open_dev(const char *path)
{
	int fd = open(path, O_RDWR | O_DIRECT);

	/* a regular file on tmpfs has no O_DIRECT: its page cache it is */
	if (fd < 0 && errno == EINVAL) {
		fd = open(path, O_RDWR);
		if (fd >= 0)
			fprintf(stderr, "chain-floor: %s: no O_DIRECT here, through the page cache\n", path);
	}
	if (fd < 0) {
		fprintf(stderr, "chain-floor: cannot open %s: %s\n", path, strerror(errno));
		exit(1);
	}
	return fd;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* xorshift64*: the chunk order, reproducible from the seed */
static uint64_t next_rand(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 2685821657736338717ULL;
}

static void io_fail(const char *what, const char *path, uint64_t off, ssize_t n, size_t want)
{
	if (n < 0)
		fprintf(stderr, "chain-floor: %s %s at byte %" PRIu64 ": %s\n", what, path, off,
			strerror(errno));
	else
		fprintf(stderr, "chain-floor: %s %s at byte %" PRIu64 ": %zd of %zu bytes\n", what,
			path, off, n, want);
	exit(1);
}

/* One whole chunk read or written at off, or the program ends saying why. */
static void chunk_io(bool write, int fd, const char *path, void *buf, size_t bytes, uint64_t off)
{
	ssize_t n = write ? pwrite(fd, buf, bytes, off) : pread(fd, buf, bytes, off);

	if (n != (ssize_t)bytes)
		io_fail(write ? "writing" : "reading", path, off, n, bytes);
}

int main(int argc, char **argv)
{
	uint64_t bytes = 4096, seconds = 5, seed = 1, obytes, sbytes, nchunks, schunks;
	uint64_t *order, done = 0, i, scur = 0;
	const char *origin, *store, *steps, *p;
	int opt, ofd, sfd;
	double t0, t1;
	void *buf;

	while ((opt = getopt(argc, argv, "b:t:s:")) != -1) {
		switch (opt) {
		case 'b':
			bytes = parse_num("-b", optarg, 512, 64 << 20);
			if (bytes % 512) {
				fprintf(stderr, "chain-floor: -b %s: not a multiple of 512\n", optarg);
				exit(2);
			}
			break;
		case 't':
			seconds = parse_num("-t", optarg, 1, 3600);
			break;
		case 's':
			seed = parse_num("-s", optarg, 1, UINT64_MAX);
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 3)
		usage();
	origin = argv[optind];
	store = argv[optind + 1];
	steps = argv[optind + 2];
	if (!*steps || strspn(steps, "rcfw") != strlen(steps)) {
		fprintf(stderr, "chain-floor: steps '%s': use the letters r, c, f and w\n", steps);
		exit(2);
	}

	ofd = open_dev(origin);
	sfd = open_dev(store);
	obytes = dev_bytes(ofd, origin);
	sbytes = dev_bytes(sfd, store);
	nchunks = obytes / bytes;
	schunks = sbytes / bytes;
	if (!nchunks || !schunks) {
		fprintf(stderr, "chain-floor: %s and %s must each hold at least one chunk of %" PRIu64
			" bytes\n", origin, store, bytes);
		exit(2);
	}
	if (posix_memalign(&buf, 4096, bytes) || !(order = malloc(nchunks * sizeof(*order)))) {
		fprintf(stderr, "chain-floor: out of memory\n");
		exit(1);
	}
	memset(buf, 0x5a, bytes);
	/* a random permutation of the origin's chunks (Fisher-Yates) */
	for (i = 0; i < nchunks; i++)
		order[i] = i;
	for (i = nchunks - 1; i > 0; i--) {
		uint64_t j = next_rand(&seed) % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}

	t0 = now();
	do {
		uint64_t off = order[done % nchunks] * bytes, soff = (scur++ % schunks) * bytes;

		for (p = steps; *p; p++) {
			if (*p == 'r')
				chunk_io(false, ofd, origin, buf, bytes, off);
			else if (*p == 'c')
				chunk_io(true, sfd, store, buf, bytes, soff);
			else if (*p == 'w')
				chunk_io(true, ofd, origin, buf, bytes, off);
			else if (fdatasync(sfd))
				io_fail("flushing", store, 0, -1, 0);
		}
		done++;
		t1 = now();
	} while (t1 - t0 < seconds);

	printf("%s %.0f\n", steps, done / (t1 - t0));
	free(order);
	free(buf);
	return 0;
}
