// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vss-check: offline check of a dm-vss copy-on-write store, and a dump of
 * its superblock, snapshot table and usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <popt.h>

#include "cli-common.h"
#include "libvsscore-store.h"
#include "vss-ondisk.h"

/* Without --verbose, at most this many findings of one kind are printed. */
#define FINDINGS_SHOWN_PER_KIND 10
#define MAX_KINDS 64

static int opt_dump;
static int opt_json;
static int opt_ignore_nonfatal;
static const char *opt_origin;

struct kind_count {
	const char *name;	/* the library's static string */
	unsigned int seen;
};

struct check_ctx {
	const char *dev;
	json_object *findings;	/* --json */
	struct kind_count kinds[MAX_KINDS];
	unsigned int nr_kinds;
	unsigned int unlisted;	/* kinds beyond MAX_KINDS */
};

static struct kind_count *kind_of(struct check_ctx *ctx, const char *name)
{
	unsigned int i;

	for (i = 0; i < ctx->nr_kinds; i++)
		if (!strcmp(ctx->kinds[i].name, name))
			return &ctx->kinds[i];
	if (ctx->nr_kinds == MAX_KINDS)
		return NULL;
	ctx->kinds[ctx->nr_kinds].name = name;
	ctx->kinds[ctx->nr_kinds].seen = 0;
	return &ctx->kinds[ctx->nr_kinds++];
}

static const char *severity_name(enum vss_store_severity sev)
{
	return sev == VSS_STORE_FATAL ? "fatal" : "non-fatal";
}

static void on_finding(const struct vss_store_finding *f, void *arg)
{
	struct check_ctx *ctx = arg;
	struct kind_count *k = kind_of(ctx, f->name);

	if (ctx->findings) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "severity", json_object_new_string(severity_name(f->severity)));
		json_object_object_add(o, "name", json_object_new_string(f->name));
		json_object_object_add(o, "message", json_object_new_string(f->message));
		json_object_array_add(ctx->findings, o);
	}
	if (k)
		k->seen++;
	else
		ctx->unlisted++;
	if (vss_opt_quiet)
		return;
	if (!vss_opt_verbose && (!k || k->seen > FINDINGS_SHOWN_PER_KIND))
		return;
	fprintf(stderr, "%s: %s: %s [%s]\n", ctx->dev, severity_name(f->severity),
		f->message, f->name);
}

static void on_log(int level, const char *message, void *arg)
{
	const struct check_ctx *ctx = arg;

	if (level >= VSS_STORE_LOG_ERROR || vss_opt_debug ||
	    (vss_opt_verbose && level >= VSS_STORE_LOG_INFO))
		fprintf(stderr, "%s: %s\n", ctx->dev, message);
}

static void print_suppressed(const struct check_ctx *ctx)
{
	unsigned int i;

	if (vss_opt_quiet || vss_opt_verbose)
		return;
	for (i = 0; i < ctx->nr_kinds; i++)
		if (ctx->kinds[i].seen > FINDINGS_SHOWN_PER_KIND)
			fprintf(stderr, "%s: %u more findings of kind %s not shown (see --verbose)\n",
				ctx->dev, ctx->kinds[i].seen - FINDINGS_SHOWN_PER_KIND,
				ctx->kinds[i].name);
	if (ctx->unlisted)
		fprintf(stderr, "%s: %u more findings not shown (see --verbose)\n",
			ctx->dev, ctx->unlisted);
}

/* ---- dump ---- */

static const char *state_name(enum vss_store_state state)
{
	switch (state) {
	case VSS_STORE_UNFORMATTED:
		return "unformatted";
	case VSS_STORE_NO_SUPERBLOCK:
		return "no-superblock";
	case VSS_STORE_LOADED:
		return "formatted";
	case VSS_STORE_UNREAD:
		break;
	}
	return "unread";
}

static void format_uuid(const uint8_t u[16], char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
		 u[12], u[13], u[14], u[15]);
}

static void format_time(uint64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if ((uint64_t)tt != t || !gmtime_r(&tt, &tm) ||
	    !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "@%" PRIu64, t);
}

static json_object *json_u64(uint64_t v)
{
	return json_object_new_uint64(v);
}

static json_object *dump_json(struct vss_store *store, const struct vss_store_info *in,
			      const char *dev, json_object *findings)
{
	json_object *root = json_object_new_object();
	json_object *copies = json_object_new_array();
	json_object *snaps = json_object_new_array();
	unsigned int i, n = vss_store_snap_count(store);

	json_object_object_add(root, "device", json_object_new_string(dev));
	json_object_object_add(root, "device_bytes", json_u64(in->device_bytes));
	json_object_object_add(root, "state", json_object_new_string(state_name(in->state)));
	json_object_object_add(root, "clean", json_object_new_boolean(!in->nr_fatal && !in->nr_nonfatal));
	json_object_object_add(root, "fatal", json_object_new_int64(in->nr_fatal));
	json_object_object_add(root, "non_fatal", json_object_new_int64(in->nr_nonfatal));

	for (i = 0; i < 2; i++) {
		json_object *c = json_object_new_object();

		json_object_object_add(c, "copy", json_object_new_string(i ? "B" : "A"));
		json_object_object_add(c, "valid", json_object_new_boolean(in->sb_valid[i]));
		json_object_object_add(c, "seq", in->sb_valid[i] ? json_u64(in->sb_seq[i]) : NULL);
		json_object_object_add(c, "in_use", json_object_new_boolean(in->sb_copy == (i ? 'B' : 'A')));
		json_object_array_add(copies, c);
	}
	json_object_object_add(root, "superblock_copies", copies);

	if (in->state == VSS_STORE_LOADED) {
		json_object *sb = json_object_new_object();
		char copy[2] = { in->sb_copy, 0 };
		char uuid[37];

		format_uuid(in->uuid, uuid);
		json_object_object_add(sb, "copy", json_object_new_string(copy));
		json_object_object_add(sb, "seq", json_u64(in->seq));
		json_object_object_add(sb, "version", json_object_new_int64(in->version));
		json_object_object_add(sb, "flags", json_object_new_int64(in->flags));
		json_object_object_add(sb, "uuid", json_object_new_string(uuid));
		json_object_object_add(sb, "origin_sectors", json_u64(in->origin_sectors));
		json_object_object_add(sb, "chunk_sectors", json_object_new_int64(in->chunk_sectors));
		json_object_object_add(sb, "store_chunks", json_u64(in->store_chunks));
		json_object_object_add(sb, "data_chunks", json_u64(in->data_chunks));
		json_object_object_add(sb, "nr_snaps", json_object_new_int64(in->nr_snaps));
		json_object_object_add(sb, "last_epoch", json_object_new_int64(in->last_epoch));
		json_object_object_add(sb, "synced_seq", json_object_new_int64(in->synced_seq));
		json_object_object_add(root, "superblock", sb);
	} else {
		json_object_object_add(root, "superblock", NULL);
	}

	if (in->geometry_valid) {
		json_object *g = json_object_new_object();

		json_object_object_add(g, "chunk_bytes", json_u64((uint64_t)in->chunk_sectors << VSS_SECTOR_SHIFT));
		json_object_object_add(g, "header_chunks", json_u64(in->header_chunks));
		json_object_object_add(g, "group_data_chunks", json_u64(in->group_data_chunks));
		json_object_object_add(g, "origin_chunks", json_u64(in->origin_chunks));
		json_object_object_add(g, "exception_blocks", json_u64(in->exc_blocks));
		json_object_object_add(root, "geometry", g);
	} else {
		json_object_object_add(root, "geometry", NULL);
	}

	if (in->checked) {
		json_object *u = json_object_new_object();

		json_object_object_add(u, "used_chunks", json_u64(in->used_chunks));
		json_object_object_add(u, "free_chunks", json_u64(in->free_chunks));
		json_object_object_add(u, "records", json_u64(in->records));
		json_object_object_add(u, "free_records", json_u64(in->free_records));
		json_object_object_add(u, "bad_exception_blocks", json_u64(in->exc_blocks_bad));
		json_object_object_add(u, "unsynced_records", json_u64(in->unsynced_records));
		json_object_object_add(u, "lost_records", json_u64(in->lost_records));
		json_object_object_add(root, "usage", u);
	} else {
		json_object_object_add(root, "usage", NULL);
	}

	for (i = 0; i < n; i++) {
		struct vss_store_snap sn;
		json_object *o;
		char when[32];

		if (vss_store_snap_get(store, i, &sn))
			break;
		format_time(sn.ctime, when);
		o = json_object_new_object();
		json_object_object_add(o, "slot", json_object_new_int64(sn.slot));
		json_object_object_add(o, "snap_id", json_object_new_int64(sn.snap_id));
		json_object_object_add(o, "state", json_object_new_string(vss_store_snap_state_name(sn.state)));
		json_object_object_add(o, "epoch", json_object_new_int64(sn.epoch));
		json_object_object_add(o, "ctime", json_u64(sn.ctime));
		json_object_object_add(o, "created", json_object_new_string(when));
		json_object_object_add(o, "chunks", in->checked ? json_u64(sn.chunks) : NULL);
		json_object_array_add(snaps, o);
	}
	json_object_object_add(root, "snapshots", snaps);
	json_object_object_add(root, "findings", json_object_get(findings));
	return root;
}

static void dump_human(struct vss_store *store, const struct vss_store_info *in, const char *dev)
{
	unsigned int i, n = vss_store_snap_count(store);
	char uuid[37];

	printf("device:            %s (%" PRIu64 " bytes)\n", dev, in->device_bytes);
	printf("state:             %s\n", state_name(in->state));
	for (i = 0; i < 2; i++) {
		printf("superblock %c:      ", i ? 'B' : 'A');
		if (in->sb_valid[i])
			printf("valid, seq %" PRIu64 "%s\n", in->sb_seq[i],
			       in->sb_copy == (i ? 'B' : 'A') ? " (in use)" : "");
		else
			printf("not valid\n");
	}
	if (in->state != VSS_STORE_LOADED)
		return;
	format_uuid(in->uuid, uuid);
	printf("format version:    %" PRIu32 "\n", in->version);
	printf("flags:             0x%" PRIx32 "\n", in->flags);
	printf("uuid:              %s\n", uuid);
	printf("origin size:       %" PRIu64 " sectors\n", in->origin_sectors);
	printf("chunk size:        %" PRIu32 " sectors\n", in->chunk_sectors);
	printf("store chunks:      %" PRIu64 "\n", in->store_chunks);
	printf("data chunks:       %" PRIu64 "\n", in->data_chunks);
	printf("last epoch:        %" PRIu32 "\n", in->last_epoch);
	if (in->version > 1)
		printf("synced commit:     %" PRIu32 "\n", in->synced_seq);
	printf("snapshots:         %" PRIu32 " of %u slots\n", in->nr_snaps, VSS_MAX_SNAPS);
	if (in->geometry_valid) {
		printf("header chunks:     %" PRIu64 "\n", in->header_chunks);
		printf("origin chunks:     %" PRIu64 "\n", in->origin_chunks);
		printf("exception blocks:  %" PRIu64 "\n", in->exc_blocks);
	}
	if (in->checked) {
		printf("used data chunks:  %" PRIu64 "\n", in->used_chunks);
		printf("free data chunks:  %" PRIu64 "\n", in->free_chunks);
		printf("records:           %" PRIu64 " (%" PRIu64 " of them free space)\n",
		       in->records, in->free_records);
		if (in->unsynced_records)
			printf("copies checked:    %" PRIu64 " of commits after the synced one,"
			       " %" PRIu64 " lost by a crash\n",
			       in->unsynced_records, in->lost_records);
	}
	if (!n)
		return;
	printf("\n%-5s %-10s %-8s %-10s %-20s %s\n", "SLOT", "SNAP_ID", "STATE", "EPOCH",
	       "CREATED", "CHUNKS");
	for (i = 0; i < n; i++) {
		struct vss_store_snap sn;
		char when[32];

		if (vss_store_snap_get(store, i, &sn))
			break;
		format_time(sn.ctime, when);
		printf("%-5u %-10" PRIu32 " %-8s %-10" PRIu32 " %-20s ", sn.slot, sn.snap_id,
		       vss_store_snap_state_name(sn.state), sn.epoch, when);
		if (in->checked)
			printf("%" PRIu64 "\n", sn.chunks);
		else
			printf("-\n");
	}
}

/* ---- main ---- */

static struct poptOption options[] = {
	{ "dump", '\0', POPT_ARG_NONE, &opt_dump, 0,
	  "Print the superblock, snapshot table and per-snapshot chunk counts", NULL },
	{ "json", 'j', POPT_ARG_NONE, &opt_json, 0,
	  "With --dump: print JSON (implies --dump)", NULL },
	{ "origin", '\0', POPT_ARG_STRING, &opt_origin, 0,
	  "Check that the store belongs to an origin of this device's size", "ORIGIN" },
	{ "ignore-non-fatal", '\0', POPT_ARG_NONE, &opt_ignore_nonfatal, 0,
	  "Exit 0 when all findings are non-fatal", NULL },
	VSS_POPT_COMMON,
	VSS_POPT_HELP
	POPT_TABLEEND
};

/* The size of a block device or file, through the store reader's open. */
static int origin_sectors(const char *path, uint64_t *sectors)
{
	struct vss_store_info info;
	struct vss_store *origin;
	int r = vss_store_open(path, 0, NULL, &origin);

	if (r)
		return r;
	vss_store_get_info(origin, &info);
	vss_store_close(origin);
	*sectors = info.device_bytes >> VSS_SECTOR_SHIFT;
	return 0;
}

static int exit_status(const struct vss_store_info *in)
{
	if (in->nr_fatal)
		return VSS_EXIT_PROVIDER;
	if (in->state == VSS_STORE_UNFORMATTED)
		return VSS_EXIT_NOT_FOUND;
	if (in->nr_nonfatal && !opt_ignore_nonfatal)
		return VSS_EXIT_PROVIDER;
	return VSS_EXIT_OK;
}

int main(int argc, const char **argv)
{
	struct check_ctx ctx = { 0 };
	struct vss_store_callbacks cb = { on_finding, on_log, &ctx };
	struct vss_store_info info;
	struct vss_store *store;
	poptContext pc;
	const char *dev;
	int rc, r;

	vss_cli_init(argv[0]);
	pc = poptGetContext(vss_program_name(), argc, argv, options, 0);
	poptSetOtherOptionHelp(pc, "[OPTION...] DEV");
	rc = vss_cli_parse(pc);
	if (rc >= 0)
		goto out_popt;
	dev = poptGetArg(pc);
	if (!dev || poptPeekArg(pc)) {
		vss_errorx(NULL, "%s (see --help)", dev ? "too many arguments: give one DEV" :
			   "no store device given");
		rc = VSS_EXIT_USAGE;
		goto out_popt;
	}
	if (opt_json)
		opt_dump = 1;
	ctx.dev = dev;
	if (opt_json)
		ctx.findings = json_object_new_array();

	r = vss_store_open(dev, VSS_STORE_EXCL, &cb, &store);
	if (r) {
		vss_error(dev, "cannot open", r);
		rc = vss_exit_from_errno(r, VSS_EXIT_PROVIDER);
		goto out_json;
	}
	if (opt_origin) {
		uint64_t sectors;

		r = origin_sectors(opt_origin, &sectors);
		if (r) {
			vss_error(opt_origin, "cannot read the origin's size", r);
			rc = vss_exit_from_errno(r, VSS_EXIT_USAGE);
			goto out_store;
		}
		vss_store_expect_origin(store, sectors);
	}
	r = vss_store_check(store);
	if (r) {
		vss_error(dev, "cannot check", r);
		rc = vss_exit_from_errno(r, VSS_EXIT_PROVIDER);
		goto out_store;
	}
	vss_store_get_info(store, &info);
	print_suppressed(&ctx);
	if (info.state == VSS_STORE_UNFORMATTED && !vss_opt_quiet)
		fprintf(stderr, "%s: not formatted: the first 4 KiB are zero; dm-vss formats "
			"the store when a vss-origin table first loads it\n", dev);

	if (opt_json) {
		json_object *root = dump_json(store, &info, dev, ctx.findings);

		printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							       JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(root);
	} else if (opt_dump) {
		dump_human(store, &info, dev);
	}

	rc = exit_status(&info);
	if (vss_opt_verbose && rc == VSS_EXIT_OK)
		fprintf(stderr, "%s: clean: %u snapshots, %" PRIu64 " of %" PRIu64
			" data chunks in use\n", dev, vss_store_snap_count(store),
			info.used_chunks, info.data_chunks);
out_store:
	vss_store_close(store);
out_json:
	json_object_put(ctx.findings);
out_popt:
	poptFreeContext(pc);
	return rc;
}
