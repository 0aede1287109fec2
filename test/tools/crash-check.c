// SPDX-License-Identifier: GPL-2.0
/*
 * crash-check: replays a dm-log-writes log to many crash points and checks
 * dm-vss at each, all in one process (test/target/crash.bats), so that a
 * point costs the kernel's work and little else.
 *
 *   crash-check hash DEV
 *       Prints the 64-bit content hash of DEV (read with O_DIRECT) that
 *       the checks compare snapshots with, as 16 hex digits.
 *
 *   crash-check run OPTIONS
 *       --log LOG            the dm-log-writes log
 *       --origin-img FILE    the replayed origin (a regular file) ...
 *       --store-img FILE     ... and store, the two slices of the recorded
 *                            data device, in this order
 *       --origin-dev DEV     loop devices over those two files
 *       --store-dev DEV
 *                            Each of these four can be a comma-separated
 *                            list, the same length for all: one set of
 *                            images and devices per entry, used in turn,
 *                            so that the tables of one point are removed
 *                            (in a thread of their own) while the next
 *                            points are checked on the other sets
 *       --points FILE        "INDEX prefix" or "INDEX torn SEED" lines, as
 *                            replay-log replay reads them
 *       --journal FILE       the workload's journal (replay-log verify)
 *       --created FILE       "ID SHA256 HASH64" per snapshot created
 *       --created-before F   "ID MARK": the last mark before each create
 *       --deleted-before F   "ID MARK": the same before each delete
 *       --findings FILE      where the findings are written
 *       --prefix PFX         names of the dm devices made here
 *       --vss-check PATH     the vss-check command
 *       --check-every N      vss-check, and the origin read through the
 *                            vss-origin device, at every N-th point and at
 *                            every mark (vss-check also at every refusal);
 *                            elsewhere the origin's replayed image is
 *                            verified, and the store reader of libvsscore
 *                            (vss-check's) runs on the store at every point
 *       --budget SEC         checking time: when the points would take
 *                            longer, evenly spaced ones are skipped
 *                            (marks never); 0: no limit
 *
 * At each point checked: the store reader and vss-check judge the store;
 * a vss-origin table over the two loop devices loads, or is refused (then
 * both must say the store is corrupt: vss-check exit 7); every snapshot
 * whose create had returned and whose delete had not begun must load as a
 * vss-snap table and read back its recorded hash, or be reported invalid
 * and answer reads with EIO; the origin must hold a state the workload
 * could have left (replay-log verify).  A point whose state and
 * expectations repeat a point checked before is counted apart, not checked
 * again.
 * Tables are made by ioctl with udev's rules turned off (no udev sync, no
 * /dev/mapper nodes) and read through the kernel's /dev/dm-N nodes.
 *
 * Prints the report lines ("# ...") and last a line "counts KEY=N ...";
 * exits 0 when the run went through (failures are counted, not fatal),
 * 1 when it could not.
 */
#define REPLAY_LOG_NO_MAIN
#pragma GCC diagnostic ignored "-Wunused-function"
#include "replay-log.c"
#pragma GCC diagnostic warning "-Wunused-function"

#include <getopt.h>
#include <libdevmapper.h>
#include <linux/dm-ioctl.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <libvsscore-store.h>
#include <spawn.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

#define MiB1 (1024u * 1024u)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Where the checking time goes, printed with the report. */
enum { TM_SYNC, TM_READER, TM_VSSCHECK, TM_CREATE, TM_STATUS, TM_READ, TM_HASH, TM_VERIFY,
       TM_REMOVE, TM_N };
static const char *const tm_name[TM_N] = { "image", "store reader", "vss-check", "table load",
	"status", "device reads", "hashing", "origin verify", "table removal" };
static double tm[TM_N];
#define TIMED(k, expr) ({ double t_ = now(); __typeof__(expr) r_ = (expr); tm[k] += now() - t_; r_; })

/* ---- the content hash (an xxh64-like mix; sizes are multiples of 32) ---- */

#define H1 0x9e3779b185ebca87ULL
#define H2 0xc2b2ae3d27d4eb4fULL
#define H3 0x165667b19e3779f9ULL

static uint64_t rotl(uint64_t x, int r)
{
	return x << r | x >> (64 - r);
}

static uint64_t rd64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static uint64_t round64(uint64_t acc, uint64_t w)
{
	return rotl(acc + w * H2, 31) * H1;
}

static uint64_t hash64(const unsigned char *p, uint64_t n)
{
	uint64_t v0 = H1 + H2, v1 = H2, v2 = 0, v3 = -H1, h, i;

	for (i = 0; i + 32 <= n; i += 32) {
		v0 = round64(v0, rd64(p + i));
		v1 = round64(v1, rd64(p + i + 8));
		v2 = round64(v2, rd64(p + i + 16));
		v3 = round64(v3, rd64(p + i + 24));
	}
	h = rotl(v0, 1) + rotl(v1, 7) + rotl(v2, 12) + rotl(v3, 18);
	h = (h ^ round64(0, v0)) * H1 + H3;
	h = (h ^ round64(0, v1)) * H1 + H3;
	h = (h ^ round64(0, v2)) * H1 + H3;
	h = (h ^ round64(0, v3)) * H1 + H3;
	h += n;
	for (; i < n; i++)
		h = rotl(h ^ p[i] * H3, 11) * H1;
	h ^= h >> 33;
	h *= H2;
	h ^= h >> 29;
	h *= H3;
	h ^= h >> 32;
	return h;
}

/* Reads size bytes of dev with O_DIRECT into buf (4 KiB aligned). */
static int read_dev(const char *dev, unsigned char *buf, uint64_t size, int *err)
{
	uint64_t got = 0;
	int fd = open(dev, O_RDONLY | O_DIRECT);

	if (fd < 0) {
		*err = errno;
		return -1;
	}
	while (got < size) {
		uint64_t want = size - got > MiB1 ? MiB1 : size - got;
		ssize_t r = pread(fd, buf + got, want, got);

		if (r <= 0) {
			*err = r < 0 ? errno : EIO;
			close(fd);
			return -1;
		}
		got += r;
	}
	close(fd);
	return 0;
}

static int cmd_hash(int argc, char **argv)
{
	unsigned char *buf;
	uint64_t size;
	struct stat st;
	int fd, err;

	if (argc != 1)
		die("usage: hash DEV");
	fd = open(argv[0], O_RDONLY);
	if (fd < 0 || fstat(fd, &st))
		die("%s: cannot open: %s", argv[0], strerror(errno));
	size = st.st_size;
	if (S_ISBLK(st.st_mode) && ioctl(fd, BLKGETSIZE64, &size))
		die("%s: cannot get the size: %s", argv[0], strerror(errno));
	close(fd);
	if (posix_memalign((void **)&buf, 4096, size ? size : 4096))
		die("out of memory");
	if (read_dev(argv[0], buf, size, &err))
		die("%s: cannot read: %s", argv[0], strerror(err));
	printf("%016" PRIx64 "\n", hash64(buf, size));
	return 0;
}

/* ---- options and inputs ---- */

static const char *o_log, *o_points, *o_journal;
static const char *o_created, *o_cbefore, *o_dbefore, *o_findings, *o_prefix, *o_vsscheck;
static unsigned int o_every = 4;
static unsigned int o_budget;

static uint64_t osize, ssize, osect;

/*
 * A set of replay images, their loop devices and the dm devices made over
 * them for one point.  A removal takes a grace period or two of the kernel
 * for each device (about 40 ms under emulation, more than the rest of a
 * point), so a thread removes a point's devices while the next points are
 * checked on the other sets; a set is used again once its removal is over.
 */
#define MAX_SETS 8
struct set {
	char *oimg, *simg, *odev, *sdev;
	unsigned char *omap, *smap;
	unsigned int k;
	char (*names)[128];	/* to remove, in this order */
	unsigned int nnames;
	char (*errs)[200];	/* what the removal could not do */
	unsigned int nerrs;
	pthread_t th;
	int busy;
};
static struct set sets[MAX_SETS];
static unsigned int nsets;
static struct set *cur;

/* the journal */
static struct jwrite *jw;	/* jw[1..njw-1] */
static uint64_t njw;
struct smark {
	char name[64];
	uint64_t line;		/* in the journal */
	uint64_t at;		/* log index */
};
static struct smark *sm;
static unsigned int nsm;

/* the snapshots, in creation order */
struct snap {
	uint32_t id;
	char sha[80];
	uint64_t hash;
	uint64_t cfrom, cat;	/* log indexes: may write from; create returned at */
	uint64_t dfrom, dat;	/* the same for the delete; UINT64_MAX if none */
	char cmark[24];
};
static struct snap *snaps;
static unsigned int nsnaps;

static FILE *findings;

static uint64_t mark_at(const char *name)
{
	uint64_t i;

	for (i = 0; i < nr_entries; i++)
		if ((entries[i].flags & LW_MARK) && !strcmp(entries[i].mark, name))
			return i;
	return UINT64_MAX;
}

static void load_journal(const char *path)
{
	uint64_t cap = 16, ln = 0;
	unsigned int smcap = 16;
	char line[256];
	FILE *j = fopen(path, "r");

	if (!j)
		die("%s: cannot open: %s", path, strerror(errno));
	jw = calloc(cap, sizeof(*jw));
	sm = calloc(smcap, sizeof(*sm));
	if (!jw || !sm)
		die("out of memory");
	njw = 1;
	while (fgets(line, sizeof(line), j)) {
		uint64_t id, off, len;
		char name[64];

		ln++;
		if (sscanf(line, "w %" SCNu64 " %" SCNu64 " %" SCNu64, &id, &off, &len) == 3) {
			if (id != njw)
				die("%s:%" PRIu64 ": write %" PRIu64 ", expected %" PRIu64, path, ln, id, njw);
			if (njw == cap) {
				cap *= 2;
				jw = realloc(jw, cap * sizeof(*jw));
				if (!jw)
					die("out of memory");
			}
			jw[njw].off = off;
			jw[njw].len = len;
			jw[njw].line = ln;
			njw++;
		} else if (sscanf(line, "m %63s", name) == 1) {
			if (nsm == smcap) {
				smcap *= 2;
				sm = realloc(sm, smcap * sizeof(*sm));
				if (!sm)
					die("out of memory");
			}
			snprintf(sm[nsm].name, sizeof(sm[nsm].name), "%s", name);
			sm[nsm].line = ln;
			sm[nsm].at = mark_at(name);
			if (sm[nsm].at == UINT64_MAX)
				die("mark %s is not in the log", name);
			nsm++;
		} else if (*line != '#' && *line != '\n') {
			die("%s:%" PRIu64 ": cannot parse: %s", path, ln, line);
		}
	}
	fclose(j);
}

static struct snap *find_snap(uint32_t id)
{
	unsigned int i;

	for (i = 0; i < nsnaps; i++)
		if (snaps[i].id == id)
			return &snaps[i];
	return NULL;
}

static void load_snaps(void)
{
	char line[256], name[64];
	unsigned int cap = 16;
	uint32_t id;
	FILE *f;

	snaps = calloc(cap, sizeof(*snaps));
	f = fopen(o_created, "r");
	if (!f || !snaps)
		die("%s: cannot open: %s", o_created, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		struct snap *s;

		if (nsnaps == cap) {
			cap *= 2;
			snaps = realloc(snaps, cap * sizeof(*snaps));
			if (!snaps)
				die("out of memory");
		}
		s = &snaps[nsnaps];
		memset(s, 0, sizeof(*s));
		if (sscanf(line, "%" SCNu32 " %79s %" SCNx64, &s->id, s->sha, &s->hash) != 3)
			die("%s: bad line: %s", o_created, line);
		snprintf(s->cmark, sizeof(s->cmark), "c%" PRIu32, s->id);
		s->cat = mark_at(s->cmark);
		if (s->cat == UINT64_MAX)
			die("mark %s is not in the log", s->cmark);
		s->cfrom = UINT64_MAX;
		s->dfrom = s->dat = UINT64_MAX;
		nsnaps++;
	}
	fclose(f);
	f = fopen(o_cbefore, "r");
	if (!f)
		die("%s: cannot open: %s", o_cbefore, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		struct snap *s;

		if (sscanf(line, "%" SCNu32 " %63s", &id, name) != 2)
			die("%s: bad line: %s", o_cbefore, line);
		s = find_snap(id);
		if (s)
			s->cfrom = mark_at(name);
	}
	fclose(f);
	f = fopen(o_dbefore, "r");
	if (!f)
		die("%s: cannot open: %s", o_dbefore, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		struct snap *s;
		char dname[24];

		if (sscanf(line, "%" SCNu32 " %63s", &id, name) != 2)
			die("%s: bad line: %s", o_dbefore, line);
		s = find_snap(id);
		if (!s)
			continue;
		s->dfrom = mark_at(name);
		snprintf(dname, sizeof(dname), "d%" PRIu32, id);
		s->dat = mark_at(dname);	/* UINT64_MAX: the delete never returned */
	}
	fclose(f);
	for (id = 0; id < nsnaps; id++)
		if (snaps[id].cfrom == UINT64_MAX)
			die("snapshot %" PRIu32 ": no mark before its create", snaps[id].id);
}

enum cls { GONE, MAYBE, ALIVE };

/* What the workload had done with snapshot s at log entry idx. */
static enum cls classify(const struct snap *s, uint64_t idx)
{
	if (idx < s->cfrom)
		return GONE;
	if (idx < s->cat)
		return MAYBE;
	if (s->dfrom == UINT64_MAX || idx < s->dfrom)
		return ALIVE;
	if (idx < s->dat)
		return MAYBE;
	return GONE;
}

/* ---- the origin against the journal ---- */

/*
 * The last write of each sector before journal line lo_line, kept for the
 * current point's LO (which only grows: points ascend).
 */
static uint32_t *lo_w;
static uint64_t lo_next = 1;	/* jw[1..lo_next) are in lo_w */

static void lo_advance(uint32_t *map, uint64_t *next, uint64_t lo_line)
{
	for (; *next < njw && jw[*next].line < lo_line; (*next)++) {
		uint64_t a;

		for (a = jw[*next].off / SECT; a < (jw[*next].off + jw[*next].len) / SECT && a < osect; a++)
			map[a] = *next;
	}
}

/*
 * As replay-log verify: every sector of buf must hold the last write to it
 * before LO (zeros if none) or one made between LO and HI.  Writes at most
 * 20 wrong chunks to out; returns the number of wrong chunks.
 */
static uint64_t verify_buf(FILE *out, const char *what, const unsigned char *buf, const uint32_t *low,
			   uint64_t lo_line, uint64_t hi_line, int exact)
{
	static const unsigned char zero[SECT];
	uint64_t s, bad = 0, last_bad = UINT64_MAX;
	unsigned char want[SECT];

	for (s = 0; s < osect; s++) {
		const unsigned char *p = buf + s * SECT;
		uint32_t id = p[4] | p[5] << 8 | p[6] << 16 | (uint32_t)p[7] << 24;
		uint64_t sec = le64(p + 8), magic = p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
		const char *why = NULL;
		char whatbuf[96];

		if (magic != PAT_MAGIC || sec != s || !id || id >= njw) {
			if (!memcmp(p, zero, SECT)) {
				if (!low[s])
					continue;
				snprintf(whatbuf, sizeof(whatbuf), "zeros");
			} else if (magic == PAT_MAGIC) {
				snprintf(whatbuf, sizeof(whatbuf), "write %" PRIu32 "'s data for sector %" PRIu64, id, sec);
			} else {
				snprintf(whatbuf, sizeof(whatbuf), "data of no write");
			}
			why = whatbuf;
		} else {
			pattern_sector(want, id, s);
			if (memcmp(p, want, SECT)) {
				snprintf(whatbuf, sizeof(whatbuf), "write %" PRIu32 "'s header with damaged data", id);
				why = whatbuf;
			} else if (id != low[s] &&
				   !(jw[id].line > lo_line && jw[id].line < hi_line &&
				     jw[id].off / SECT <= s && s < (jw[id].off + jw[id].len) / SECT)) {
				snprintf(whatbuf, sizeof(whatbuf), "write %" PRIu32, id);
				why = whatbuf;
			}
		}
		if (why) {
			uint64_t chunk = s * SECT / 4096;

			if (chunk != last_bad) {
				bad++;
				last_bad = chunk;
				if (bad <= 20)
					fprintf(out, "    %s: chunk %" PRIu64 " (sector %" PRIu64 "): holds %s; "
						"expected write %" PRIu32 "%s\n", what, chunk, s, why, low[s],
						exact ? "" : " or a later one");
			}
		}
	}
	if (bad)
		fprintf(out, "    %s: %" PRIu64 " chunk(s) wrong\n", what, bad);
	return bad;
}

/* ---- the kernel log: why a table was refused ---- */

static int kmsg_fd = -1;

static void kmsg_open(void)
{
	kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kmsg_fd >= 0)
		lseek(kmsg_fd, 0, SEEK_END);
}

/* Reads what the kernel logged since the last call; keeps in out the last
 * message naming target (from the target's name on), if any. */
static void kmsg_read(const char *target, char *out, size_t outlen)
{
	char rec[8192];
	ssize_t n;

	if (out && outlen)
		*out = 0;
	if (kmsg_fd < 0)
		return;
	for (;;) {
		char *msg, *nl, *t;

		n = read(kmsg_fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;
		if (n <= 0)
			break;
		rec[n] = 0;
		msg = strchr(rec, ';');
		if (!msg || !out || !target)
			continue;
		msg++;
		nl = strchr(msg, '\n');
		if (nl)
			*nl = 0;
		t = strstr(msg, target);
		if (t)
			snprintf(out, outlen, "%s", t);
	}
}

/* ---- device-mapper, without udev ---- */

#define UDEV_OFF (DM_UDEV_DISABLE_DM_RULES_FLAG | DM_UDEV_DISABLE_SUBSYSTEM_RULES_FLAG | \
		  DM_UDEV_DISABLE_DISK_RULES_FLAG | DM_UDEV_DISABLE_OTHER_RULES_FLAG | \
		  DM_UDEV_DISABLE_LIBRARY_FALLBACK)

static void dm_quiet(int level, const char *file, int line, int dm_errno, const char *f, ...)
{
	(void)level, (void)file, (void)line, (void)dm_errno, (void)f;
}

static int task_err(struct dm_task *dmt)
{
	int e = dm_task_get_errno(dmt);

	return e ? e : EIO;
}

/* Creates name with one target; 0 and the node in node, or an errno. */
static int dm_make(const char *name, const char *target, const char *params, int ro,
		   char *node, size_t nodelen)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_CREATE);
	uint32_t cookie = 0;
	struct dm_info info;
	struct stat st;
	int e = 0, tries;
	dev_t devno;

	if (!dmt || !dm_task_set_name(dmt, name) || !dm_task_add_target(dmt, 0, osect, target, params))
		die("out of memory");
	if (ro)
		dm_task_set_ro(dmt);
	dm_task_set_cookie(dmt, &cookie, UDEV_OFF);
	if (!dm_task_run(dmt))
		e = task_err(dmt);
	else if (!dm_task_get_info(dmt, &info) || !info.exists)
		e = ENODEV;
	dm_task_destroy(dmt);
	if (e)
		return e;
	devno = makedev(info.major, info.minor);
	snprintf(node, nodelen, "/dev/dm-%d", info.minor);
	/* devtmpfs makes the node as the disk is added */
	for (tries = 0; tries < 200; tries++) {
		if (!stat(node, &st) && S_ISBLK(st.st_mode) && st.st_rdev == devno)
			return 0;
		usleep(5000);
	}
	die("%s: no node %s for %u:%u", name, node, info.major, info.minor);
}

static int dm_exists(const char *name)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_INFO);
	struct dm_info info;
	int r;

	if (!dmt || !dm_task_set_name(dmt, name))
		die("out of memory");
	r = dm_task_run(dmt) && dm_task_get_info(dmt, &info) && info.exists;
	dm_task_destroy(dmt);
	return r;
}

static int dm_remove(const char *name)
{
	int tries, e = 0;

	for (tries = 0; tries < 400; tries++) {
		struct dm_task *dmt = dm_task_create(DM_DEVICE_REMOVE);
		uint32_t cookie = 0;

		if (!dmt || !dm_task_set_name(dmt, name))
			die("out of memory");
		dm_task_set_cookie(dmt, &cookie, UDEV_OFF);
		e = dm_task_run(dmt) ? 0 : task_err(dmt);
		dm_task_destroy(dmt);
		if (e != EBUSY)
			break;
		usleep(5000);
	}
	return e;
}

/* The status line of name's one target, in buf. */
static int dm_status(const char *name, char *buf, size_t len)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_STATUS);
	uint64_t start, length;
	char *type = NULL, *params = NULL;
	int e = 0;

	if (!dmt || !dm_task_set_name(dmt, name))
		die("out of memory");
	if (!dm_task_run(dmt))
		e = task_err(dmt);
	else {
		dm_get_next_target(dmt, NULL, &start, &length, &type, &params);
		snprintf(buf, len, "%s", params ? params : "");
	}
	dm_task_destroy(dmt);
	return e;
}

/* ---- the store reader and vss-check ---- */

static char first_fatal[256];

static struct {
	uint64_t points, torn, skipped, vsscheck, loaded, format, refused;
	uint64_t snap_ok, snap_invalid, inflight, extra, fail, notes, same;
	uint64_t lost_points, lost_records, unsynced;
	uint64_t torn_blocks, torn_free, torn_points;	/* exception blocks torn (format 3) */
} n;

static uint64_t torn_blocks_here;

static void on_finding(const struct vss_store_finding *f, void *arg)
{
	(void)arg;
	if (f->severity == VSS_STORE_FATAL && !*first_fatal)
		snprintf(first_fatal, sizeof(first_fatal), "%s: %s", f->name, f->message);
	if (!strcmp(f->name, "exc-torn")) {
		n.torn_blocks++;
		torn_blocks_here++;
	}
	if (!strcmp(f->name, "rec-torn-free"))
		n.torn_free++;
}

/* What vss-check --ignore-non-fatal says of the store in buf: 0, 4, 7. */
static int reader_check(const unsigned char *buf)
{
	struct vss_store_callbacks cb = { on_finding, NULL, NULL };
	struct vss_store_info info;
	struct vss_store *st;
	int r;

	*first_fatal = 0;
	torn_blocks_here = 0;
	r = vss_store_open_image((void *)buf, ssize, 0, &cb, &st);
	if (r)
		die("the store reader cannot open the image: %s", strerror(-r));
	r = vss_store_check(st);
	if (r)
		die("the store reader cannot check the image: %s", strerror(-r));
	vss_store_get_info(st, &info);
	vss_store_close(st);
	/* records without their copies: the kernel must empty them at load */
	n.unsynced += info.unsynced_records;
	n.lost_records += info.lost_records;
	n.lost_points += info.lost_records != 0;
	n.torn_points += torn_blocks_here != 0;
	if (info.nr_fatal)
		return 7;
	if (info.state == VSS_STORE_UNFORMATTED)
		return 4;
	return 0;
}

static char vc_out[512];

/* Runs vss-check on the store image; its exit status, output in vc_out. */
static int run_vss_check(const char *outfile)
{
	char *argv[] = { (char *)o_vsscheck, "--quiet", "--ignore-non-fatal", cur->simg, NULL };
	posix_spawn_file_actions_t fa;
	int status, fd;
	ssize_t n;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, outfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	if (posix_spawn(&pid, o_vsscheck, &fa, NULL, argv, environ))
		die("cannot run %s: %s", o_vsscheck, strerror(errno));
	posix_spawn_file_actions_destroy(&fa);
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid: %s", strerror(errno));
	*vc_out = 0;
	fd = open(outfile, O_RDONLY);
	if (fd >= 0) {
		n = read(fd, vc_out, sizeof(vc_out) - 1);
		vc_out[n > 0 ? n : 0] = 0;
		close(fd);
		for (n = 0; vc_out[n]; n++)
			if (vc_out[n] == '\n')
				vc_out[n] = ' ';
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- the checks ---- */

#define MAX_REASONS 32
static struct {
	char text[200];
	char first[64];		/* the first point refused for it */
	uint64_t count;
} reasons[MAX_REASONS];
static unsigned int nreasons;

static void count_reason(const char *why, const char *pt)
{
	unsigned int i;

	for (i = 0; i < nreasons; i++)
		if (!strcmp(reasons[i].text, why)) {
			reasons[i].count++;
			return;
		}
	if (nreasons == MAX_REASONS)
		i = MAX_REASONS - 1, why = "(other reasons)";
	else
		i = nreasons++;
	snprintf(reasons[i].text, sizeof(reasons[i].text), "%s", why);
	snprintf(reasons[i].first, sizeof(reasons[i].first), "%s", pt);
	reasons[i].count++;
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(findings, fmt, ap);
	va_end(ap);
	fputc('\n', findings);
	fflush(findings);
	n.notes++;
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;

	fputs("FAIL ", findings);
	va_start(ap, fmt);
	vfprintf(findings, fmt, ap);
	va_end(ap);
	fputc('\n', findings);
	fflush(findings);
	n.fail++;
}

/* The log entries around idx, from the flush before it, for a finding. */
/* DM_DEV_REMOVE by ioctl on a control fd of the thread's own (libdevmapper
 * is not made for two threads); EBUSY (a reader's last close still going)
 * is tried again for 2 s, as dm_remove does. */
static int raw_remove(int fd, const char *name)
{
	struct dm_ioctl io;
	int tries;

	for (tries = 0; tries < 400; tries++) {
		memset(&io, 0, sizeof(io));
		io.version[0] = DM_VERSION_MAJOR;
		io.data_size = sizeof(io);
		io.data_start = sizeof(io);
		snprintf(io.name, sizeof(io.name), "%s", name);
		if (!ioctl(fd, DM_DEV_REMOVE, &io))
			return 0;
		if (errno != EBUSY)
			return errno;
		usleep(5000);
	}
	return EBUSY;
}

static void *remover(void *arg)
{
	struct set *S = arg;
	unsigned int i;
	int fd = open("/dev/mapper/control", O_RDWR | O_CLOEXEC), e;

	for (i = 0; i < S->nnames; i++) {
		e = fd < 0 ? errno : raw_remove(fd, S->names[i]);
		if (e)
			snprintf(S->errs[S->nerrs++], sizeof(*S->errs), "cannot remove %s: %s", S->names[i],
				 strerror(e));
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* Waits for the removal of the set's last devices; names what failed. */
static void set_wait(struct set *S)
{
	unsigned int i;

	if (!S->busy)
		return;
	pthread_join(S->th, NULL);
	for (i = 0; i < S->nerrs; i++)
		fail("set %u: %s", S->k, S->errs[i]);
	S->busy = 0;
	S->nnames = S->nerrs = 0;
}

static void set_release(struct set *S)
{
	int e;

	if (!S->nnames)
		return;
	e = pthread_create(&S->th, NULL, remover, S);
	if (e)
		die("cannot start a thread: %s", strerror(e));
	S->busy = 1;
}

static void window(uint64_t idx, const struct snap *s)
{
	uint64_t from = idx, i, shown = 0;

	while (from > 0 && !(entries[from - 1].flags & LW_FLUSH))
		from--;
	if (from > 0)
		from--;
	fprintf(findings, "    marks: %s at entry %" PRIu64, s->cmark, s->cat);
	if (s->dat != UINT64_MAX)
		fprintf(findings, ", d%" PRIu32 " at entry %" PRIu64, s->id, s->dat);
	fprintf(findings, "; log entries %" PRIu64 "..%" PRIu64
		" (index kind sector bytes; sectors < %" PRIu64 " are the origin's):\n", from, idx, osect);
	for (i = from; i <= idx && shown < 40; i++, shown++)
		fprintf(findings, "      %" PRIu64 " %s %" PRIu64 " %" PRIu64 "%s%s\n", i, kind(&entries[i]),
			entries[i].off / SECT, entries[i].len, *entries[i].mark ? " " : "", entries[i].mark);
}

static unsigned char *rbuf;	/* a device's content, 4 KiB aligned */

static void check_snap(const char *pt, uint64_t idx, const struct snap *s, enum cls c)
{
	char name[128], params[512], node[64], st[256], why[256], state[64];
	int e;

	snprintf(name, sizeof(name), "%s%urs%" PRIu32, o_prefix, cur->k, s->id);
	snprintf(params, sizeof(params), "%s %s %" PRIu32, cur->odev, cur->sdev, s->id);
	kmsg_read(NULL, NULL, 0);
	e = TIMED(TM_CREATE, dm_make(name, "vss-snap", params, 1, node, sizeof(node)));
	if (e) {
		kmsg_read("vss-snap: ", why, sizeof(why));
		if (c == ALIVE)
			fail("point %s: snapshot %" PRIu32 " (created at log entry %" PRIu64
			     ") is missing from the replayed store: %s (%s)", pt, s->id, s->cat,
			     strerror(e), *why ? why : "no kernel message");
		if (dm_exists(name))
			fail("point %s: the refused vss-snap table %s exists", pt, name);
		return;
	}
	if (c == MAYBE)
		n.inflight++;
	else if (c == GONE) {
		n.extra++;
		note("point %s: snapshot %" PRIu32 " is in the store although it was deleted (or not yet created)",
		     pt, s->id);
	}
	if ((e = TIMED(TM_STATUS, dm_status(name, st, sizeof(st))))) {
		fail("point %s: snapshot %" PRIu32 ": no status: %s", pt, s->id, strerror(e));
	} else if (sscanf(st, "%*u %63s", state) != 1) {
		fail("point %s: snapshot %" PRIu32 ": unexpected status '%s'", pt, s->id, st);
	} else if (!strcmp(state, "valid")) {
		uint64_t h;

		if (TIMED(TM_READ, read_dev(node, rbuf, osize, &e))) {
			fail("point %s: snapshot %" PRIu32 " (valid) cannot be read: %s", pt, s->id, strerror(e));
		} else if ((h = TIMED(TM_HASH, hash64(rbuf, osize))) == s->hash) {
			n.snap_ok++;
		} else {
			uint32_t *low = calloc(osect, sizeof(*low));
			uint64_t next = 1, i;

			fail("point %s: snapshot %" PRIu32 " reads wrong data (hash %016" PRIx64
			     ", recorded %016" PRIx64 ", sha256 %s):", pt, s->id, h, s->hash, s->sha);
			for (i = 0; i < nsm && strcmp(sm[i].name, s->cmark); i++)
				;
			if (!low || i == nsm)
				die("out of memory, or no mark %s in the journal", s->cmark);
			lo_advance(low, &next, sm[i].line);
			verify_buf(findings, node, rbuf, low, sm[i].line, sm[i].line, 1);
			free(low);
			window(idx, s);
		}
	} else if (!strcmp(state, "invalid")) {
		int fd = open(node, O_RDONLY | O_DIRECT);
		ssize_t r = fd < 0 ? -1 : pread(fd, rbuf, 4096, 0);

		e = errno;
		if (fd >= 0)
			close(fd);
		if (r >= 0)
			fail("point %s: snapshot %" PRIu32 " is invalid but a read succeeded", pt, s->id);
		else if (e != EIO)
			fail("point %s: snapshot %" PRIu32 " is invalid and a read failed, but not with EIO: %s",
			     pt, s->id, strerror(e));
		else
			n.snap_invalid++;
	} else {
		fail("point %s: snapshot %" PRIu32 ": unexpected status '%s'", pt, s->id, st);
	}
	snprintf(cur->names[cur->nnames++], sizeof(*cur->names), "%s", name);
	(void)idx;
}

/*
 * The points already checked, by a hash of the crash state and of what is
 * expected of it (the snapshots' classes, the origin's marks): a point
 * that repeats one (a mark replays the same bytes as the entry before it,
 * torn draws of few volatile pieces coincide) is not checked again.
 */
static uint64_t *seen_keys;
static uint64_t seen_cap, seen_n;

static int seen_before(uint64_t key)
{
	uint64_t i;

	if (!key)
		key = 1;
	if (2 * (seen_n + 1) > seen_cap) {
		uint64_t *old = seen_keys, oc = seen_cap, j;

		seen_cap = oc ? 2 * oc : 4096;
		seen_keys = calloc(seen_cap, sizeof(*seen_keys));
		if (!seen_keys)
			die("out of memory");
		for (j = 0; j < oc; j++)
			if (old[j]) {
				for (i = old[j] % seen_cap; seen_keys[i]; i = (i + 1) % seen_cap)
					;
				seen_keys[i] = old[j];
			}
		free(old);
	}
	for (i = key % seen_cap; seen_keys[i]; i = (i + 1) % seen_cap)
		if (seen_keys[i] == key)
			return 1;
	seen_keys[i] = key;
	seen_n++;
	return 0;
}

static char vc_outfile[4096];

/* Makes the image files hold state: rewrites the 4 KiB pages that differ. */
static void sync_files(const unsigned char *state)
{
	uint64_t o;

	for (o = 0; o < osize; o += PAGE)
		if (memcmp(cur->omap + o, state + o, PAGE))
			memcpy(cur->omap + o, state + o, PAGE);
	for (o = 0; o < ssize; o += PAGE)
		if (memcmp(cur->smap + o, state + osize + o, PAGE))
			memcpy(cur->smap + o, state + osize + o, PAGE);
}

static void check_point(uint64_t idx, const char *mode, const unsigned char *state)
{
	char pt[64], oname[128], params[512], node[64], st[256], why[256];
	unsigned int i, m, lo = UINT32_MAX, hi = UINT32_MAX, nalive = 0;
	uint64_t lo_line, hi_line;
	int urc, vrc = -1, e, refused, through, is_mark = !!(entries[idx].flags & LW_MARK);
	unsigned long count = 0;
	enum cls *cl;

	snprintf(pt, sizeof(pt), "%" PRIu64 "/%s", idx, mode);
	/* the origin: at a sync mark exactly the journal there; elsewhere what
	 * the last sync mark made durable, or any write made before the next */
	for (m = 0; m < nsm; m++) {
		if (sm[m].at <= idx)
			lo = m;
		else {
			hi = m;
			break;
		}
	}
	if (lo != UINT32_MAX && sm[lo].at == idx)
		hi = lo;
	lo_line = lo == UINT32_MAX ? 0 : sm[lo].line;
	hi_line = hi == UINT32_MAX ? UINT64_MAX : sm[hi].line;
	lo_advance(lo_w, &lo_next, lo_line);
	cl = calloc(nsnaps ? nsnaps : 1, sizeof(*cl));
	for (i = 0; i < nsnaps; i++) {
		cl[i] = classify(&snaps[i], idx);
		nalive += cl[i] == ALIVE;
	}
	{
		uint64_t key = TIMED(TM_SYNC, hash64(state, osize + ssize));

		key = round64(key, lo_line) ^ round64(key >> 7, hi_line);
		for (i = 0; i < nsnaps; i++)
			key = round64(key, cl[i] + 3 * i);
		if (seen_before(key)) {
			n.same++;
			free(cl);
			return;
		}
	}
	n.points++;
	if (!strcmp(mode, "torn"))
		n.torn++;
	cur = &sets[n.points % nsets];
	{
		double t = now();

		set_wait(cur);
		tm[TM_REMOVE] += now() - t;
	}

	{
		double t = now();

		sync_files(state);
		tm[TM_SYNC] += now() - t;
	}
	/* the store by itself: the reader at every point, vss-check at every
	 * o_every-th, at every mark and wherever the kernel refuses the store */
	urc = TIMED(TM_READER, reader_check(state + osize));
	through = n.points % o_every == 1 || o_every == 1 || is_mark;
	if (through || urc) {
		n.vsscheck++;
		vrc = TIMED(TM_VSSCHECK, run_vss_check(vc_outfile));
		if (vrc != urc)
			fail("point %s: vss-check exits %d, the store reader says %d (%s): %s", pt, vrc, urc,
			     *first_fatal ? first_fatal : "no fatal finding", vc_out);
	}

	snprintf(oname, sizeof(oname), "%s%uro", o_prefix, cur->k);
	snprintf(params, sizeof(params), "%s %s", cur->odev, cur->sdev);
	kmsg_read(NULL, NULL, 0);
	e = TIMED(TM_CREATE, dm_make(oname, "vss-origin", params, 0, node, sizeof(node)));
	refused = e != 0;
	if (refused) {
		kmsg_read("vss-origin: ", why, sizeof(why));
		n.refused++;
		count_reason(*why ? why : strerror(e), pt);
		if (vrc == -1) {
			n.vsscheck++;
			vrc = TIMED(TM_VSSCHECK, run_vss_check(vc_outfile));
		}
		if (vrc != 7 || urc != 7)
			fail("point %s: the kernel refuses the store (%s) but vss-check exits %d (the store reader: %d): %s",
			     pt, *why ? why : strerror(e), vrc, urc, vc_out);
		if (nalive) {
			char ids[512] = "";
			size_t l = 0;

			for (i = 0; i < nsnaps; i++)
				if (cl[i] == ALIVE && l < sizeof(ids) - 16)
					l += snprintf(ids + l, sizeof(ids) - l, " %" PRIu32, snaps[i].id);
			note("point %s: store refused (%s): snapshots%s unreadable", pt, why, ids);
		}
		if (dm_exists(oname)) {
			fail("point %s: the refused vss-origin table %s exists", pt, oname);
			dm_remove(oname);
		}
		/* what the kernel would have read: the origin image itself */
		memcpy(rbuf, state, osize);
	} else {
		n.loaded++;
		if (urc == 4)
			n.format++;
		else if (urc)
			fail("point %s: the kernel loads the store but the store reader finds it corrupt: %s",
			     pt, first_fatal);
		if ((e = TIMED(TM_STATUS, dm_status(oname, st, sizeof(st)))) || sscanf(st, "%*s %*s %*s %lu", &count) != 1)
			fail("point %s: vss-origin status '%s' (%s)", pt, e ? "" : st, strerror(e));
		for (i = 0; i < nsnaps; i++)
			if (cl[i] == ALIVE)
				check_snap(pt, idx, &snaps[i], ALIVE);
		/* the others only when the store has more snapshots than those */
		if (count > nalive)
			for (i = 0; i < nsnaps; i++)
				if (cl[i] != ALIVE)
					check_snap(pt, idx, &snaps[i], cl[i]);
		if (!through) {
			memcpy(rbuf, state, osize);
		} else if (TIMED(TM_READ, read_dev(node, rbuf, osize, &e))) {
			fail("point %s: the replayed origin cannot be read: %s", pt, strerror(e));
			memcpy(rbuf, state, osize);
		}
	}
	{
		char *detail = NULL;
		size_t dlen = 0;
		FILE *d = open_memstream(&detail, &dlen);

		if (!d)
			die("out of memory");
		if (TIMED(TM_VERIFY, verify_buf(d, refused || !through ? cur->oimg : node, rbuf, lo_w, lo_line, hi_line,
						 lo == hi && lo != UINT32_MAX))) {
			fclose(d);
			fail("point %s: the origin holds a state the workload cannot have left (marks %s..%s):",
			     pt, lo == UINT32_MAX ? "-" : sm[lo].name, hi == UINT32_MAX ? "-" : sm[hi].name);
			fputs(detail, findings);
			fflush(findings);
		} else {
			fclose(d);
		}
		free(detail);
	}
	if (!refused)
		snprintf(cur->names[cur->nnames++], sizeof(*cur->names), "%s", oname);
	set_release(cur);
	free(cl);
}

static unsigned char *map_file(const char *path, uint64_t *size)
{
	struct stat st;
	void *p;
	int fd = open(path, O_RDWR);

	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode))
		die("%s: cannot open as a regular file: %s", path, strerror(errno));
	*size = st.st_size;
	p = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("%s: cannot map: %s", path, strerror(errno));
	close(fd);
	return p;
}

/* The sets from the four comma-separated lists (origin and store images,
 * origin and store devices); the images mapped, all the same sizes. */
static void split_sets(char **lists)
{
	char *save[4], *tok[4];
	unsigned int j;
	uint64_t os, ss;

	for (nsets = 0;; nsets++) {
		for (j = 0; j < 4; j++)
			tok[j] = strtok_r(nsets ? NULL : lists[j], ",", &save[j]);
		if (!tok[0] && !tok[1] && !tok[2] && !tok[3])
			break;
		if (!tok[0] || !tok[1] || !tok[2] || !tok[3])
			die("run: --origin-img, --store-img, --origin-dev and --store-dev must name as many sets");
		if (nsets == MAX_SETS)
			die("run: at most %u sets", MAX_SETS);
		sets[nsets] = (struct set){ .oimg = tok[0], .simg = tok[1], .odev = tok[2], .sdev = tok[3],
					    .k = nsets };
		sets[nsets].omap = map_file(tok[0], &os);
		sets[nsets].smap = map_file(tok[1], &ss);
		if (nsets && (os != osize || ss != ssize))
			die("run: %s and %s are not the sizes of the first set's images", tok[0], tok[1]);
		osize = os, ssize = ss;
	}
	if (!nsets)
		die("run: no set of images and devices");
}

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "log", 1, NULL, 'l' }, { "origin-img", 1, NULL, 'O' }, { "store-img", 1, NULL, 'S' },
		{ "origin-dev", 1, NULL, 'o' }, { "store-dev", 1, NULL, 's' }, { "points", 1, NULL, 'p' },
		{ "journal", 1, NULL, 'j' }, { "created", 1, NULL, 'c' }, { "created-before", 1, NULL, 'C' },
		{ "deleted-before", 1, NULL, 'D' }, { "findings", 1, NULL, 'f' }, { "prefix", 1, NULL, 'P' },
		{ "vss-check", 1, NULL, 'v' }, { "check-every", 1, NULL, 'e' }, { "budget", 1, NULL, 'b' },
		{ NULL, 0, NULL, 0 }
	};
	uint64_t total = 0, seen = 0, stride = 1, i;
	double start, elapsed, t_replay = 0, t0;
	char *o_lists[4] = { NULL };
	struct replayer r;
	char line[256];
	FILE *points;
	int c;

	optind = 0;
	while ((c = getopt_long(argc + 1, argv - 1, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l': o_log = optarg; break;
		case 'O': o_lists[0] = optarg; break;
		case 'S': o_lists[1] = optarg; break;
		case 'o': o_lists[2] = optarg; break;
		case 's': o_lists[3] = optarg; break;
		case 'p': o_points = optarg; break;
		case 'j': o_journal = optarg; break;
		case 'c': o_created = optarg; break;
		case 'C': o_cbefore = optarg; break;
		case 'D': o_dbefore = optarg; break;
		case 'f': o_findings = optarg; break;
		case 'P': o_prefix = optarg; break;
		case 'v': o_vsscheck = optarg; break;
		case 'e': o_every = num(optarg); break;
		case 'b': o_budget = num(optarg); break;
		default: die("run: bad option (see the comment at the top of crash-check.c)");
		}
	}
	if (!o_log || !o_lists[0] || !o_lists[1] || !o_lists[2] || !o_lists[3] || !o_points || !o_journal ||
	    !o_created || !o_cbefore || !o_dbefore || !o_findings || !o_prefix || !o_vsscheck ||
	    !o_every)
		die("run: an option is missing");
	load_log(o_log);
	split_sets(o_lists);
	if (osize % PAGE || ssize % PAGE)
		die("the images must be multiples of 4 KiB");
	osect = osize / SECT;
	replayer_init(&r, osize + ssize);
	load_journal(o_journal);
	load_snaps();
	for (i = 0; i < nsets; i++) {
		sets[i].names = calloc(nsnaps + 1, sizeof(*sets[i].names));
		sets[i].errs = calloc(nsnaps + 1, sizeof(*sets[i].errs));
		if (!sets[i].names || !sets[i].errs)
			die("out of memory");
	}
	findings = fopen(o_findings, "w+");
	if (!findings)
		die("%s: cannot open: %s", o_findings, strerror(errno));
	snprintf(vc_outfile, sizeof(vc_outfile), "%s.vss-check", o_findings);
	lo_w = calloc(osect, sizeof(*lo_w));
	if (!lo_w || posix_memalign((void **)&rbuf, 4096, osize))
		die("out of memory");
	dm_log_with_errno_init(dm_quiet);
	dm_udev_set_sync_support(0);
	kmsg_open();
	setvbuf(stdout, NULL, _IOLBF, 0);

	points = fopen(o_points, "r");
	if (!points)
		die("%s: cannot open: %s", o_points, strerror(errno));
	while (fgets(line, sizeof(line), points))
		total++;
	rewind(points);
	start = now();
	while (fgets(line, sizeof(line), points)) {
		char mode[16] = "";
		uint64_t idx, seed = 0;
		const unsigned char *state;

		if (sscanf(line, "%" SCNu64 " %15s %" SCNu64, &idx, mode, &seed) < 2)
			die("%s: bad point line: %s", o_points, line);
		seen++;
		if (idx >= nr_entries)
			die("point %" PRIu64 ": the log has %" PRIu64 " entries", idx, nr_entries);
		if (!(entries[idx].flags & LW_MARK) && seen % stride) {
			n.skipped++;
			continue;
		}
		t0 = now();
		state = replay_to(&r, idx, mode, seed);
		t_replay += now() - t0;
		check_point(idx, mode, state);
		/* over budget at this pace: check every stride-th of the rest */
		if (o_budget && n.points >= 5) {
			double left;

			elapsed = now() - start;
			left = o_budget - elapsed;
			if (left < 1)
				left = 1;
			stride = (uint64_t)(elapsed * (total - seen) / (left * n.points)) + 1;
		}
	}
	fclose(points);
	for (i = 0; i < nsets; i++)
		set_wait(&sets[i]);
	elapsed = now() - start;

	printf("# crash points checked: %" PRIu64 " (%" PRIu64 " torn) of %" PRIu64 " log entries; %" PRIu64
	       " chosen points skipped to keep within CRASH_BUDGET, %" PRIu64 " not checked again (the same"
	       " state and expectations as a point checked before)\n", n.points, n.torn, nr_entries, n.skipped,
	       n.same);
	printf("# checking: %.1f s, %.1f ms a point (replaying %.1f ms of it)\n", elapsed,
	       n.points ? 1000 * elapsed / n.points : 0.0, n.points ? 1000 * t_replay / n.points : 0.0);
	(void)tm_name;
	printf("# time a point:");
	for (i = 0; i < TM_N; i++)
		printf("%s %s %.1f ms", i ? "," : "", tm_name[i], n.points ? 1000 * tm[i] / n.points : 0.0);
	printf("\n");
	printf("# store reader (libvsscore) run at %" PRIu64 " points, vss-check at %" PRIu64 "\n",
	       n.points, n.vsscheck);
	printf("# store loaded at %" PRIu64 " points (%" PRIu64 " unformatted: formatted at load), refused at %"
	       PRIu64 "\n", n.loaded, n.format, n.refused);
	printf("# copies checked by the store reader: %" PRIu64 " of commits after synced_seq; "
	       "%" PRIu64 " records without their copies at %" PRIu64 " points (emptied at load)\n",
	       n.unsynced, n.lost_records, n.lost_points);
	printf("# torn exception blocks (taken record by record): %" PRIu64 " at %" PRIu64
	       " points; %" PRIu64 " old records of reused slots in them (emptied at load)\n",
	       n.torn_blocks, n.torn_points, n.torn_free);
	for (i = 0; i < nreasons; i++)
		printf("#   refused %" PRIu64 " times (first at point %s): %s\n", reasons[i].count,
		       reasons[i].first, reasons[i].text);
	printf("# snapshot reads: %" PRIu64 " exact, %" PRIu64 " reported invalid (EIO), %" PRIu64
	       " of snapshots being created or deleted, %" PRIu64 " of snapshots deleted or not yet created\n",
	       n.snap_ok, n.snap_invalid, n.inflight, n.extra);
	printf("# failures: %" PRIu64 "\n", n.fail);
	printf("counts points=%" PRIu64 " torn=%" PRIu64 " fail=%" PRIu64 " refused=%" PRIu64
	       " snap_ok=%" PRIu64 " torn_blocks=%" PRIu64 " seconds=%.0f\n", n.points, n.torn, n.fail,
	       n.refused, n.snap_ok, n.torn_blocks, elapsed);
	return 0;
}

int main(int argc, char **argv)
{
	prog = "crash-check";
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		printf("usage: crash-check hash DEV\n"
		       "       crash-check run OPTIONS (see the comment at the top of crash-check.c)\n");
		return argc < 2;
	}
	if (!strcmp(argv[1], "hash"))
		return cmd_hash(argc - 2, argv + 2);
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 2, argv + 2);
	die("unknown command '%s' (see --help)", argv[1]);
}
