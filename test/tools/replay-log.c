// SPDX-License-Identifier: GPL-2.0
/*
 * replay-log: replay a dm-log-writes log to chosen crash points, and the
 * data pattern of the power-cut tests (test/target/crash.bats).
 *
 *   replay-log list LOG
 *       One line per log entry: INDEX KIND SECTOR BYTES [MARK], KIND being
 *       write, flush (REQ_PREFLUSH, with or without data), fua, discard or
 *       mark; SECTOR in 512-byte units.  Last line: "entries N".
 *
 *   replay-log replay LOG IMAGE POINTS
 *       Replays LOG entry by entry into memory and stops at each point of
 *       the file POINTS (lines "INDEX prefix" or "INDEX torn SEED", INDEX
 *       ascending).  At a point it makes the regular file IMAGE hold the
 *       crash state, prints "point INDEX MODE KEPT/VOLATILE" on stdout and
 *       waits for a line on stdin before going on (EOF ends the replay).
 *         prefix  every entry up to and including INDEX: the device as
 *                 the log says it was when that entry completed.
 *         torn    a power cut while the flush INDEX was in flight: every
 *                 entry up to the last flush before INDEX, the FUA writes
 *                 after it, and of the other writes after it (the volatile
 *                 ones) a random choice, 4 KiB piece by piece (SEED), or
 *                 sector by sector with REPLAY_PIECE=512.
 *       IMAGE is rewritten from the replayed state at each point, so what
 *       a check wrote to it does not leak into the next point.
 *
 *   replay-log pattern ID OFFSET LENGTH
 *       Writes to stdout the LENGTH bytes the workload's write ID puts at
 *       byte OFFSET (both multiples of 512): each 512-byte sector carries
 *       the write id, its own sector number and a filler derived from both.
 *
 *   replay-log verify DEV JOURNAL LO HI
 *       Checks every sector of DEV (a device read with O_DIRECT, or a
 *       file) against JOURNAL, the workload's record: lines "w ID OFFSET
 *       LENGTH" (writes in issue order, concurrent ones not overlapping)
 *       and "m NAME" (a mark, made once every write before it had
 *       completed and had been flushed).  LO and HI are mark names or "-"
 *       (before the first mark, after the last).  A sector must hold the
 *       last write to it before mark LO (zeros if none), or a write to it
 *       made between LO and HI.  With LO = HI that is exactly the content
 *       at that mark.  Prints each wrong chunk (at most 20) and exits 1.
 *
 * The log format (drivers/md/dm-log-writes.c): a superblock in the first
 * logical block (magic, version 1, number of entries, block size), then
 * for each entry one block holding {sector, nr_sectors, flags, data_len}
 * (little-endian u64, sectors in logical blocks), the mark text following
 * those 32 bytes in the same block, then nr_sectors blocks of written data
 * (none for discards and marks).  Entries are in the order they became
 * durable: plain writes are logged when a later flush completes, just
 * before that flush; FUA writes when they complete.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include <unistd.h>

#define LW_MAGIC 0x6a736677736872ULL
#define LW_FLUSH (1u << 0)
#define LW_FUA (1u << 1)
#define LW_DISCARD (1u << 2)
#define LW_MARK (1u << 3)
#define LW_META (1u << 4)

#define SECT 512u
#define PAGE 4096u

/*
 * A torn point keeps or loses the volatile writes piece by piece: 4 KiB,
 * or the sector (512 bytes, a device that writes only a sector at a time
 * atomically) when REPLAY_PIECE=512 is in the environment.
 */
static uint64_t piece = PAGE;

static void piece_from_env(void)
{
	const char *p = getenv("REPLAY_PIECE");

	if (p && !strcmp(p, "512"))
		piece = SECT;
}
#define PAT_MAGIC 0x50535356u	/* "VSSP" */

struct entry {
	uint64_t off;		/* byte offset on the device */
	uint64_t len;		/* bytes */
	uint32_t flags;
	const unsigned char *data;	/* in the mapped log; NULL if none */
	char mark[64];
};

static const char *prog = "replay-log";

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static uint64_t le64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t num(const char *s)
{
	char *end;
	uint64_t v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || end == s)
		die("%s: not a number", s);
	return v;
}

/* ---- the log ---- */

static struct entry *entries;
static uint64_t nr_entries;

static void load_log(const char *path)
{
	const unsigned char *log;
	uint64_t pos, n, i, bs, size;
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		die("%s: cannot open: %s", path, strerror(errno));
	if (fstat(fd, &st))
		die("%s: cannot stat: %s", path, strerror(errno));
	size = st.st_size;
	if (S_ISBLK(st.st_mode) && ioctl(fd, BLKGETSIZE64, &size))
		die("%s: cannot get the size: %s", path, strerror(errno));
	if (size < SECT)
		die("%s: too small for a log (%" PRIu64 " bytes)", path, size);
	log = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (log == MAP_FAILED)
		die("%s: cannot map: %s", path, strerror(errno));
	close(fd);
	if (le64(log) != LW_MAGIC)
		die("%s: not a dm-log-writes log (bad magic)", path);
	if (le64(log + 8) != 1)
		die("%s: log format version %" PRIu64 ", expected 1", path, le64(log + 8));
	n = le64(log + 16);
	bs = (uint32_t)le64(log + 24);
	if (bs < SECT || bs > 65536 || (bs & (bs - 1)))
		die("%s: bad block size %" PRIu64, path, bs);
	entries = calloc(n ? n : 1, sizeof(*entries));
	if (!entries)
		die("out of memory for %" PRIu64 " entries", n);
	pos = bs;
	for (i = 0; i < n; i++) {
		const unsigned char *h = log + pos;
		struct entry *e = &entries[i];
		uint64_t nr, dlen;

		if (pos + bs > size)
			die("%s: entry %" PRIu64 " at byte %" PRIu64 ": past the end of the log", path, i, pos);
		e->off = le64(h) * bs;
		nr = le64(h + 8);
		e->flags = (uint32_t)le64(h + 16);
		dlen = le64(h + 24);
		if (le64(h + 16) & ~(uint64_t)(LW_FLUSH | LW_FUA | LW_DISCARD | LW_MARK | LW_META))
			die("%s: entry %" PRIu64 ": unknown flags %#" PRIx64, path, i, le64(h + 16));
		if (nr > size / bs)
			die("%s: entry %" PRIu64 ": %" PRIu64 " blocks is more than the log holds", path, i, nr);
		e->len = nr * bs;
		pos += bs;
		if (e->flags & LW_MARK) {
			if (dlen > bs - 32)
				die("%s: entry %" PRIu64 ": mark of %" PRIu64 " bytes", path, i, dlen);
			snprintf(e->mark, sizeof(e->mark), "%.*s", (int)dlen, (const char *)h + 32);
			e->len = 0;
		} else if (!(e->flags & LW_DISCARD) && e->len) {
			if (pos + e->len > size)
				die("%s: entry %" PRIu64 ": data past the end of the log", path, i);
			e->data = log + pos;
			pos += e->len;
		}
	}
	nr_entries = n;
}

static const char *kind(const struct entry *e)
{
	if (e->flags & LW_MARK)
		return "mark";
	if (e->flags & LW_DISCARD)
		return "discard";
	if (e->flags & LW_FLUSH)
		return "flush";
	if (e->flags & LW_FUA)
		return "fua";
	return "write";
}

static int cmd_list(int argc, char **argv)
{
	uint64_t i;

	if (argc != 1)
		die("usage: list LOG");
	load_log(argv[0]);
	for (i = 0; i < nr_entries; i++) {
		const struct entry *e = &entries[i];

		printf("%" PRIu64 " %s %" PRIu64 " %" PRIu64 "%s%s\n", i, kind(e),
		       e->off / SECT, e->len, *e->mark ? " " : "", e->mark);
	}
	printf("entries %" PRIu64 "\n", nr_entries);
	return 0;
}

/* ---- replay ---- */

static uint64_t dev_size;

/* Applies the part [lo, hi) (bytes, relative to the entry) of entry e. */
static void apply_part(unsigned char *img, const struct entry *e, uint64_t lo, uint64_t hi)
{
	if (e->off + hi > dev_size)
		die("entry at byte %" PRIu64 " (+%" PRIu64 ") is beyond the image (%" PRIu64 " bytes)",
		    e->off, e->len, dev_size);
	if (e->flags & LW_DISCARD)
		memset(img + e->off + lo, 0, hi - lo);
	else if (e->data)
		memcpy(img + e->off + lo, e->data + lo, hi - lo);
}

static void apply(unsigned char *img, const struct entry *e)
{
	if (e->len)
		apply_part(img, e, 0, e->len);
}

static uint64_t rng_state;

static uint64_t rng(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

/* Makes the image file hold img: rewrites the 4 KiB pages that differ. */
static void sync_image(unsigned char *map, const unsigned char *img)
{
	uint64_t o, n;

	for (o = 0; o < dev_size; o += PAGE) {
		n = dev_size - o < PAGE ? dev_size - o : PAGE;
		if (memcmp(map + o, img + o, n))
			memcpy(map + o, img + o, n);
	}
}

/*
 * The replayer: cur holds entries [0, applied), dur entries [0, last_flush),
 * the state every flush so far made durable.  Points come in ascending
 * order (a torn point before the prefix point of the same entry).
 */
struct replayer {
	unsigned char *cur, *dur, *tmp;
	uint64_t applied, last_flush;
	uint64_t kept, vol;	/* of the last torn point */
};

static void replayer_init(struct replayer *r, uint64_t size)
{
	piece_from_env();
	memset(r, 0, sizeof(*r));
	dev_size = size;
	r->cur = calloc(1, size);
	r->dur = calloc(1, size);
	r->tmp = malloc(size);
	if (!r->cur || !r->dur || !r->tmp)
		die("out of memory for images of %" PRIu64 " bytes", size);
}

/*
 * replay_to() - the crash state at point idx, mode "prefix" or "torn"
 * (with seed): a buffer of dev_size bytes, valid until the next call.
 */
static const unsigned char *replay_to(struct replayer *r, uint64_t idx, const char *mode,
				      uint64_t seed)
{
	int torn = !strcmp(mode, "torn");
	uint64_t i, p;

	if (!torn && strcmp(mode, "prefix"))
		die("point %" PRIu64 ": unknown mode '%s'", idx, mode);
	if (idx >= nr_entries)
		die("point %" PRIu64 ": the log has %" PRIu64 " entries", idx, nr_entries);
	if (idx + 1 < r->applied || (torn && idx < r->applied))
		die("point %" PRIu64 ": points must be in ascending order, "
		    "a torn point before the prefix point of the same entry", idx);
	for (; r->applied <= idx; r->applied++) {
		const struct entry *e = &entries[r->applied];

		if (torn && r->applied == idx)
			break;
		apply(r->cur, e);
		if (e->flags & LW_FLUSH) {
			for (; r->last_flush <= r->applied; r->last_flush++)
				apply(r->dur, &entries[r->last_flush]);
		}
	}
	r->kept = r->vol = 0;
	if (!torn)
		return r->cur;
	if (!(entries[idx].flags & LW_FLUSH))
		die("point %" PRIu64 ": a torn point must be a flush entry", idx);
	memcpy(r->tmp, r->dur, dev_size);
	rng_state = seed * 0x9e3779b97f4a7c15ULL + idx + 1;
	for (i = r->last_flush; i < idx; i++) {
		const struct entry *e = &entries[i];

		if (!e->len)
			continue;
		if (e->flags & LW_FUA) {
			apply(r->tmp, e);
			continue;
		}
		for (p = 0; p < e->len; ) {
			uint64_t end = (e->off + p) / piece * piece + piece - e->off;

			if (end > e->len)
				end = e->len;
			r->vol++;
			if (rng() >> 63) {
				apply_part(r->tmp, e, p, end);
				r->kept++;
			}
			p = end;
		}
	}
	return r->tmp;
}

static int cmd_replay(int argc, char **argv)
{
	struct replayer r;
	unsigned char *map;
	char line[256], reply[64];
	struct stat st;
	FILE *points;
	int fd;

	if (argc != 3)
		die("usage: replay LOG IMAGE POINTS");
	load_log(argv[0]);
	fd = open(argv[1], O_RDWR);
	if (fd < 0)
		die("%s: cannot open: %s", argv[1], strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		die("%s: not a regular file", argv[1]);
	replayer_init(&r, st.st_size);
	map = mmap(NULL, dev_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		die("%s: cannot map: %s", argv[1], strerror(errno));
	points = fopen(argv[2], "r");
	if (!points)
		die("%s: cannot open: %s", argv[2], strerror(errno));
	setvbuf(stdout, NULL, _IOLBF, 0);

	while (fgets(line, sizeof(line), points)) {
		char mode[16] = "";
		uint64_t idx, seed = 0;
		int n = sscanf(line, "%" SCNu64 " %15s %" SCNu64, &idx, mode, &seed);

		if (n < 2)
			die("%s: bad point line: %s", argv[2], line);
		sync_image(map, replay_to(&r, idx, mode, seed));
		printf("point %" PRIu64 " %s %" PRIu64 "/%" PRIu64 "\n", idx, mode, r.kept, r.vol);
		if (!fgets(reply, sizeof(reply), stdin))
			break;
	}
	fclose(points);
	return 0;
}

/* ---- the workload's pattern ---- */

static void pattern_sector(unsigned char *buf, uint32_t id, uint64_t sector)
{
	uint64_t x = (id * 0x9e3779b97f4a7c15ULL) ^ (sector * 0xc2b2ae3d27d4eb4fULL) ^ 0x5851f42d4c957f2dULL;
	unsigned int i;

	memset(buf, 0, SECT);
	buf[0] = PAT_MAGIC & 0xff;
	buf[1] = PAT_MAGIC >> 8 & 0xff;
	buf[2] = PAT_MAGIC >> 16 & 0xff;
	buf[3] = PAT_MAGIC >> 24;
	for (i = 0; i < 4; i++)
		buf[4 + i] = id >> (8 * i) & 0xff;
	for (i = 0; i < 8; i++)
		buf[8 + i] = sector >> (8 * i) & 0xff;
	for (i = 16; i < SECT; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(buf + i, &x, 8);
	}
}

static int cmd_pattern(int argc, char **argv)
{
	unsigned char buf[SECT];
	uint64_t id, off, len, s;

	if (argc != 3)
		die("usage: pattern ID OFFSET LENGTH");
	id = num(argv[0]);
	off = num(argv[1]);
	len = num(argv[2]);
	if (!id || id > UINT32_MAX || off % SECT || len % SECT)
		die("pattern: ID must be 1..2^32-1, OFFSET and LENGTH multiples of 512");
	for (s = off / SECT; s < (off + len) / SECT; s++) {
		pattern_sector(buf, id, s);
		if (fwrite(buf, SECT, 1, stdout) != 1)
			die("pattern: write error: %s", strerror(errno));
	}
	return fflush(stdout) ? 1 : 0;
}

/* ---- checking a device against the journal ---- */

struct jwrite {
	uint64_t off, len;
	uint64_t line;		/* position in the journal */
};

static int cmd_verify(int argc, char **argv)
{
	const char *dev, *lo_name, *hi_name;
	struct jwrite *w = NULL;
	uint64_t nw = 0, cap = 0, lo_line = 0, hi_line = UINT64_MAX, ln = 0;
	uint64_t size, nsect, s, bad_chunks = 0, last_bad = UINT64_MAX;
	uint32_t *lo_w;
	unsigned char *buf, want[SECT];
	char line[256];
	FILE *j;
	int fd, found_lo, found_hi;

	if (argc != 4)
		die("usage: verify DEV JOURNAL LO HI");
	dev = argv[0];
	lo_name = argv[2];
	hi_name = argv[3];
	found_lo = !strcmp(lo_name, "-");
	found_hi = !strcmp(hi_name, "-");
	j = fopen(argv[1], "r");
	if (!j)
		die("%s: cannot open: %s", argv[1], strerror(errno));
	w = calloc(1, sizeof(*w));
	cap = 1;
	nw = 1;			/* id 0: no write */
	while (fgets(line, sizeof(line), j)) {
		char name[128];
		uint64_t id, off, len;

		ln++;
		if (sscanf(line, "w %" SCNu64 " %" SCNu64 " %" SCNu64, &id, &off, &len) == 3) {
			if (id != nw)
				die("%s:%" PRIu64 ": write %" PRIu64 ", expected %" PRIu64, argv[1], ln, id, nw);
			if (nw == cap) {
				cap *= 2;
				w = realloc(w, cap * sizeof(*w));
				if (!w)
					die("out of memory");
			}
			w[nw].off = off;
			w[nw].len = len;
			w[nw].line = ln;
			nw++;
		} else if (sscanf(line, "m %127s", name) == 1) {
			if (!found_lo && !strcmp(name, lo_name)) {
				lo_line = ln;
				found_lo = 1;
			}
			if (!found_hi && !strcmp(name, hi_name)) {
				hi_line = ln;
				found_hi = 1;
			}
		} else if (*line != '#' && *line != '\n') {
			die("%s:%" PRIu64 ": cannot parse: %s", argv[1], ln, line);
		}
	}
	fclose(j);
	if (!found_lo || !found_hi)
		die("%s: no mark %s", argv[1], found_lo ? hi_name : lo_name);
	if (hi_line < lo_line)
		die("mark %s comes before mark %s", hi_name, lo_name);

	fd = open(dev, O_RDONLY | O_DIRECT);
	if (fd < 0)
		fd = open(dev, O_RDONLY);
	if (fd < 0)
		die("%s: cannot open: %s", dev, strerror(errno));
	{
		struct stat st;

		if (fstat(fd, &st))
			die("%s: cannot stat: %s", dev, strerror(errno));
		size = st.st_size;
		if (S_ISBLK(st.st_mode) && ioctl(fd, BLKGETSIZE64, &size))
			die("%s: cannot get the size: %s", dev, strerror(errno));
	}
	nsect = size / SECT;
	lo_w = calloc(nsect ? nsect : 1, sizeof(*lo_w));
	if (posix_memalign((void **)&buf, 4096, size ? size : 4096) || !lo_w)
		die("out of memory");
	/* the last write of each sector before LO */
	for (s = 1; s < nw && w[s].line < lo_line; s++) {
		uint64_t a;

		for (a = w[s].off / SECT; a < (w[s].off + w[s].len) / SECT && a < nsect; a++)
			lo_w[a] = s;
	}
	{
		uint64_t got = 0;

		while (got < size) {
			ssize_t r = pread(fd, buf + got, size - got, got);

			if (r < 0)
				die("%s: read error at byte %" PRIu64 ": %s", dev, got, strerror(errno));
			if (!r)
				die("%s: short read at byte %" PRIu64, dev, got);
			got += r;
		}
	}
	close(fd);

	for (s = 0; s < nsect; s++) {
		const unsigned char *p = buf + s * SECT;
		uint32_t id = p[4] | p[5] << 8 | p[6] << 16 | (uint32_t)p[7] << 24;
		uint64_t sec = le64(p + 8), magic = p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
		const char *why = NULL;
		char what[96];

		if (magic != PAT_MAGIC || sec != s || !id || id >= nw) {
			static const unsigned char zero[SECT];

			if (!memcmp(p, zero, SECT)) {
				if (!lo_w[s])
					continue;
				snprintf(what, sizeof(what), "zeros");
			} else if (magic == PAT_MAGIC) {
				snprintf(what, sizeof(what), "write %" PRIu32 "'s data for sector %" PRIu64, id, sec);
			} else {
				snprintf(what, sizeof(what), "data of no write");
			}
			why = what;
		} else {
			pattern_sector(want, id, s);
			if (memcmp(p, want, SECT)) {
				snprintf(what, sizeof(what), "write %" PRIu32 "'s header with damaged data", id);
				why = what;
			} else if (id != lo_w[s] &&
				   !(w[id].line > lo_line && w[id].line < hi_line &&
				     w[id].off / SECT <= s && s < (w[id].off + w[id].len) / SECT)) {
				snprintf(what, sizeof(what), "write %" PRIu32, id);
				why = what;
			}
		}
		if (why) {
			uint64_t chunk = s * SECT / 4096;

			if (chunk != last_bad) {
				bad_chunks++;
				last_bad = chunk;
				if (bad_chunks <= 20)
					printf("%s: chunk %" PRIu64 " (sector %" PRIu64 "): holds %s; "
					       "expected write %" PRIu32 "%s\n", dev, chunk, s, why, lo_w[s],
					       strcmp(lo_name, hi_name) ? " or a later one" : "");
			}
		}
	}
	if (bad_chunks) {
		printf("%s: %" PRIu64 " chunk(s) wrong\n", dev, bad_chunks);
		return 1;
	}
	return 0;
}

#ifndef REPLAY_LOG_NO_MAIN
int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		printf("usage: replay-log list LOG\n"
		       "       replay-log replay LOG IMAGE POINTS\n"
		       "       replay-log pattern ID OFFSET LENGTH\n"
		       "       replay-log verify DEV JOURNAL LO HI\n");
		return argc < 2;
	}
	if (!strcmp(argv[1], "list"))
		return cmd_list(argc - 2, argv + 2);
	if (!strcmp(argv[1], "replay"))
		return cmd_replay(argc - 2, argv + 2);
	if (!strcmp(argv[1], "pattern"))
		return cmd_pattern(argc - 2, argv + 2);
	if (!strcmp(argv[1], "verify"))
		return cmd_verify(argc - 2, argv + 2);
	die("unknown command '%s' (see --help)", argv[1]);
}
#endif
