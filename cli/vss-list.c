// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vss-list: the shadow copies (default) or sets (--sets) of the catalog,
 * each as the kernel sees it now, in columns (dm_report, like lvs) or JSON.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <popt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli-common.h"
#include "libvsscore.h"
#include "report.h"

/* ---- shadow copy fields: the order of this enum is the table's ---- */

enum {
	SH_ID, SH_SET, SH_VOLUME, SH_DEVICE, SH_PROVIDER, SH_STATE, SH_DETAIL, SH_RECORDED,
	SH_TAG, SH_CREATED, SH_AGE, SH_EXPOSED, SH_STORE, SH_SNAP_ID, SH_CHUNK_SIZE,
	SH_COPIED_CHUNKS, SH_COPIED, SH_STORE_USED, SH_STORE_SIZE, SH_STORE_USE,
	SH_NFIELDS
};

static const struct dm_report_field_type shadow_fields[] = {
	VSS_REPORT_FIELD(SH_ID, VSS_REPORT_NUM, 2, "shadow_id", "ID",
			 "Shadow copy id (vss-delete, vss-expose take it)."),
	VSS_REPORT_FIELD(SH_SET, VSS_REPORT_NUM, 3, "set_id", "Set",
			 "Id of the set it was taken in."),
	VSS_REPORT_FIELD(SH_VOLUME, VSS_REPORT_STR, 6, "volume", "Volume",
			 "Source volume, /dev/mapper/NAME."),
	VSS_REPORT_FIELD(SH_DEVICE, VSS_REPORT_STR, 6, "device", "Device",
			 "Shadow copy's read-only device."),
	VSS_REPORT_FIELD(SH_PROVIDER, VSS_REPORT_STR, 8, "provider", "Provider",
			 "Provider that made it: dm-vss-cow, dm-vss-clone, dm-snapshot or an external one."),
	VSS_REPORT_FIELD(SH_STATE, VSS_REPORT_STR, 5, "state", "State",
			 "State as the kernel sees it now: valid, invalid, dropped, missing, "
			 "creating, deleting, unknown."),
	VSS_REPORT_FIELD(SH_DETAIL, VSS_REPORT_STR, 6, "detail", "Detail",
			 "Why the state is not valid (empty when it is)."),
	VSS_REPORT_FIELD(SH_RECORDED, VSS_REPORT_STR, 8, "catalog_state", "Recorded",
			 "State recorded in the catalog: created, inactive, creating, deleting."),
	VSS_REPORT_FIELD(SH_TAG, VSS_REPORT_STR, 3, "tag", "Tag",
			 "Tag of its set (vss-snapshot --tag)."),
	VSS_REPORT_FIELD(SH_CREATED, VSS_REPORT_STR, 7, "created", "Created",
			 "Instant it was taken, ISO 8601 UTC."),
	VSS_REPORT_FIELD(SH_AGE, VSS_REPORT_NUM, 3, "age", "Age",
			 "Time since it was taken (JSON: seconds)."),
	VSS_REPORT_FIELD(SH_EXPOSED, VSS_REPORT_STR, 7, "exposed", "Exposed",
			 "Mount point while exposed (vss-expose), else empty."),
	VSS_REPORT_FIELD(SH_STORE, VSS_REPORT_STR, 5, "store", "Store",
			 "Store (differences area) holding its copied chunks."),
	VSS_REPORT_FIELD(SH_SNAP_ID, VSS_REPORT_NUM, 6, "snap_id", "SnapID",
			 "Provider's id for it (dm-vss: the id in the store)."),
	VSS_REPORT_FIELD(SH_CHUNK_SIZE, VSS_REPORT_SIZE, 5, "chunk_size", "Chunk",
			 "Chunk size of its store."),
	VSS_REPORT_FIELD(SH_COPIED_CHUNKS, VSS_REPORT_NUM, 6, "copied_chunks", "Chunks",
			 "Chunks it reads from the store, copied since it was taken."),
	VSS_REPORT_FIELD(SH_COPIED, VSS_REPORT_SIZE, 6, "copied", "Copied",
			 "Size of those chunks (JSON: bytes)."),
	VSS_REPORT_FIELD(SH_STORE_USED, VSS_REPORT_SIZE, 9, "store_used", "StoreUsed",
			 "Store space in use, for all copies of the volume (JSON: bytes)."),
	VSS_REPORT_FIELD(SH_STORE_SIZE, VSS_REPORT_SIZE, 9, "store_size", "StoreSize",
			 "Store data space (JSON: bytes)."),
	VSS_REPORT_FIELD(SH_STORE_USE, VSS_REPORT_NUM, 4, "store_use", "Use%",
			 "Store space in use, percent."),
	{ 0, 0, 0, 0, "", "", NULL, NULL },
};

static const struct vss_report_def shadow_report = {
	.json_key = "shadows",
	.fields = shadow_fields,
	.default_fields = "shadow_id,set_id,volume,provider,state,copied,store_use,age,exposed",
	.default_sort = "shadow_id",
};

/* ---- set fields ---- */

enum {
	SET_ID, SET_STATE, SET_TAG, SET_CONTEXT, SET_CREATED, SET_AGE, SET_COUNT,
	SET_SHADOW_IDS, SET_VOLUMES, SET_PROVIDERS, SET_SHADOW_STATES, SET_COPIED,
	SET_NFIELDS
};

static const struct dm_report_field_type set_fields[] = {
	VSS_REPORT_FIELD(SET_ID, VSS_REPORT_NUM, 3, "set_id", "Set",
			 "Set id (vss-delete --set takes it)."),
	VSS_REPORT_FIELD(SET_STATE, VSS_REPORT_STR, 5, "state", "State",
			 "State recorded in the catalog: created, creating, deleting."),
	VSS_REPORT_FIELD(SET_TAG, VSS_REPORT_STR, 3, "tag", "Tag", "Tag (vss-snapshot --tag)."),
	VSS_REPORT_FIELD(SET_CONTEXT, VSS_REPORT_STR, 7, "context", "Context",
			 "persistent, or backup (deleted after backup-complete)."),
	VSS_REPORT_FIELD(SET_CREATED, VSS_REPORT_STR, 7, "created", "Created",
			 "Instant it was taken, ISO 8601 UTC."),
	VSS_REPORT_FIELD(SET_AGE, VSS_REPORT_NUM, 3, "age", "Age",
			 "Time since it was taken (JSON: seconds)."),
	VSS_REPORT_FIELD(SET_COUNT, VSS_REPORT_NUM, 7, "shadow_count", "Shadows",
			 "Number of shadow copies in it."),
	VSS_REPORT_FIELD(SET_SHADOW_IDS, VSS_REPORT_STR, 3, "shadow_ids", "IDs",
			 "Its shadow copies' ids (JSON: an array)."),
	VSS_REPORT_FIELD(SET_VOLUMES, VSS_REPORT_STR, 7, "volumes", "Volumes",
			 "Its volumes (JSON: an array)."),
	VSS_REPORT_FIELD(SET_PROVIDERS, VSS_REPORT_STR, 9, "providers", "Providers",
			 "Providers of its shadow copies (JSON: an array)."),
	VSS_REPORT_FIELD(SET_SHADOW_STATES, VSS_REPORT_STR, 6, "shadow_states", "States",
			 "Kernel states of its shadow copies, each once (JSON: an array)."),
	VSS_REPORT_FIELD(SET_COPIED, VSS_REPORT_SIZE, 6, "copied", "Copied",
			 "Chunks its shadow copies read from the stores (JSON: bytes)."),
	{ 0, 0, 0, 0, "", "", NULL, NULL },
};

static const struct vss_report_def set_report = {
	.json_key = "sets",
	.fields = set_fields,
	.default_fields = "set_id,state,tag,shadow_count,volumes,shadow_states,age",
	.default_sort = "set_id",
};

/* ---- gathering ---- */

struct filter {
	const char *volume;	/* /dev/mapper/NAME, or NULL */
	uint64_t set_id;	/* 0: any */
	const char *tag;
	const char *provider;
	uint64_t *ids;		/* positional ids (shadow or set), or NULL */
	bool *seen;
	size_t nids;
};

static bool id_wanted(struct filter *f, uint64_t id)
{
	size_t i;
	bool hit = false;

	if (!f->nids)
		return true;
	for (i = 0; i < f->nids; i++)
		if (f->ids[i] == id) {
			f->seen[i] = true;
			hit = true;
		}
	return hit;
}

static bool shadow_matches(const struct filter *f, const struct vss_shadow_info *s)
{
	return (!f->volume || !strcmp(s->volume, f->volume)) &&
	       (!f->set_id || s->set_id == f->set_id) &&
	       (!f->tag || !strcmp(s->tag, f->tag)) &&
	       (!f->provider || !strcmp(s->provider, f->provider));
}

static void fill_shadow(struct vss_value *row, const struct vss_shadow_info *s,
			const struct vss_shadow_state *st, time_t now)
{
	char when[32];
	const char *exposed;

	vss_value_num(&row[SH_ID], VSS_VAL_NUMBER, s->shadow_id);
	vss_value_num(&row[SH_SET], VSS_VAL_NUMBER, s->set_id);
	vss_value_str(&row[SH_VOLUME], s->volume);
	vss_value_str(&row[SH_DEVICE], s->device);
	vss_value_str(&row[SH_PROVIDER], s->provider);
	vss_value_str(&row[SH_STATE], st->state);
	vss_value_str(&row[SH_DETAIL], st->detail);
	vss_value_str(&row[SH_RECORDED], s->state);
	vss_value_str(&row[SH_TAG], s->tag);
	vss_format_time(s->created, when, sizeof(when));
	vss_value_str(&row[SH_CREATED], when);
	vss_value_num(&row[SH_AGE], VSS_VAL_AGE, now > s->created ? (uint64_t)(now - s->created) : 0);
	/* mounted now, as the kernel says; the catalog's word when the device is not there */
	exposed = st->device_present ? st->mountpoint : s->exposed;
	vss_value_str(&row[SH_EXPOSED], exposed && *exposed ? exposed : NULL);
	vss_value_str(&row[SH_STORE], s->store[0] ? s->store : NULL);
	vss_value_num(&row[SH_SNAP_ID], VSS_VAL_NUMBER, s->snap_id);
	if (st->usage_known) {
		vss_value_num(&row[SH_CHUNK_SIZE], VSS_VAL_SIZE, (uint64_t)st->chunk_sectors * 512);
		/* a copy the kernel no longer serves has nothing copied for it */
		if (!strcmp(st->state, "valid")) {
			vss_value_num(&row[SH_COPIED_CHUNKS], VSS_VAL_NUMBER, st->copied_chunks);
			vss_value_num(&row[SH_COPIED], VSS_VAL_SIZE, st->copied_bytes);
		} else {
			vss_value_none(&row[SH_COPIED_CHUNKS], VSS_VAL_NUMBER);
			vss_value_none(&row[SH_COPIED], VSS_VAL_SIZE);
		}
		vss_value_num(&row[SH_STORE_USED], VSS_VAL_SIZE, st->store_used_bytes);
		vss_value_num(&row[SH_STORE_SIZE], VSS_VAL_SIZE, st->store_size_bytes);
		if (st->store_size_bytes)
			vss_value_num(&row[SH_STORE_USE], VSS_VAL_PERCENT,
				      (uint64_t)((double)st->store_used_bytes * 10000.0 /
						 (double)st->store_size_bytes + 0.5));
		else
			vss_value_none(&row[SH_STORE_USE], VSS_VAL_PERCENT);
	} else {
		vss_value_none(&row[SH_CHUNK_SIZE], VSS_VAL_SIZE);
		vss_value_none(&row[SH_COPIED_CHUNKS], VSS_VAL_NUMBER);
		vss_value_none(&row[SH_COPIED], VSS_VAL_SIZE);
		vss_value_none(&row[SH_STORE_USED], VSS_VAL_SIZE);
		vss_value_none(&row[SH_STORE_SIZE], VSS_VAL_SIZE);
		vss_value_none(&row[SH_STORE_USE], VSS_VAL_PERCENT);
	}
}

/* Add item to a comma list unless it is there already. */
static void list_add_once(struct vss_value *v, enum vss_value_kind kind, const char *item)
{
	size_t len = strlen(item);
	const char *p = v->known ? v->str : "";

	while (*p) {
		size_t l = strcspn(p, ",");

		if (l == len && !strncmp(p, item, len))
			return;
		p += l;
		if (*p == ',')
			p++;
	}
	vss_value_list_add(v, kind, item);
}

struct shadow_entry {
	struct vss_shadow_info info;
	struct vss_shadow_state st;
};

static int list_shadows(struct vss_ctx *ctx, struct filter *f, const struct vss_report_opts *o,
			bool sets)
{
	struct vss_shadow_info *sh = NULL;
	struct vss_set_info *si = NULL;
	struct shadow_entry *e = NULL;
	struct vss_value *rows = NULL;
	size_t n = 0, nsets = 0, i, j, nrows = 0;
	time_t now = time(NULL);
	int r, rc;

	r = vss_shadow_list(ctx, &sh, &n);
	if (!r && sets)
		r = vss_set_list(ctx, &si, &nsets);
	if (r) {
		/* the library named the catalog and what failed, but for memory */
		if (r == -ENOMEM)
			vss_cli_failed("catalog", "cannot read", r);
		rc = vss_exit_from_errno(r, VSS_EXIT_NO_RESOURCES);
		goto out;
	}
	e = calloc(n + 1, sizeof(*e));
	if (!e) {
		rc = VSS_EXIT_NO_RESOURCES;
		goto out;
	}
	for (i = 0; i < n; i++) {
		e[i].info = sh[i];
		r = vss_shadow_get_state(ctx, &sh[i], &e[i].st);
		if (r) {
			rc = vss_exit_from_errno(r, VSS_EXIT_NO_RESOURCES);
			goto out;
		}
	}
	if (!sets) {
		rows = calloc((n + 1) * SH_NFIELDS, sizeof(*rows));
		if (!rows) {
			rc = VSS_EXIT_NO_RESOURCES;
			goto out;
		}
		for (i = 0; i < n; i++)
			if (shadow_matches(f, &e[i].info) && id_wanted(f, e[i].info.shadow_id))
				fill_shadow(&rows[nrows++ * SH_NFIELDS], &e[i].info, &e[i].st, now);
		rc = vss_report_print(&shadow_report, o, rows, nrows);
	} else {
		rows = calloc((nsets + 1) * SET_NFIELDS, sizeof(*rows));
		if (!rows) {
			rc = VSS_EXIT_NO_RESOURCES;
			goto out;
		}
		for (i = 0; i < nsets; i++) {
			struct vss_value *row = &rows[nrows * SET_NFIELDS];
			bool volume_hit = !f->volume, provider_hit = !f->provider;
			uint64_t copied = 0;
			bool copied_known = false;
			char when[32], num[32];

			if ((f->set_id && si[i].set_id != f->set_id) ||
			    (f->tag && strcmp(si[i].tag, f->tag)))
				continue;
			vss_value_num(&row[SET_ID], VSS_VAL_NUMBER, si[i].set_id);
			vss_value_str(&row[SET_STATE], si[i].state);
			vss_value_str(&row[SET_TAG], si[i].tag);
			vss_value_str(&row[SET_CONTEXT], si[i].context);
			vss_format_time(si[i].created, when, sizeof(when));
			vss_value_str(&row[SET_CREATED], when);
			vss_value_num(&row[SET_AGE], VSS_VAL_AGE,
				      now > si[i].created ? (uint64_t)(now - si[i].created) : 0);
			vss_value_num(&row[SET_COUNT], VSS_VAL_NUMBER, si[i].shadow_count);
			/* empty lists are known and empty: [] in JSON */
			vss_value_list_add(&row[SET_SHADOW_IDS], VSS_VAL_NUMBER_LIST, "");
			vss_value_list_add(&row[SET_VOLUMES], VSS_VAL_STRING_LIST, "");
			vss_value_list_add(&row[SET_PROVIDERS], VSS_VAL_STRING_LIST, "");
			vss_value_list_add(&row[SET_SHADOW_STATES], VSS_VAL_STRING_LIST, "");
			for (j = 0; j < n; j++) {
				if (e[j].info.set_id != si[i].set_id)
					continue;
				snprintf(num, sizeof(num), "%" PRIu64, e[j].info.shadow_id);
				vss_value_list_add(&row[SET_SHADOW_IDS], VSS_VAL_NUMBER_LIST, num);
				list_add_once(&row[SET_VOLUMES], VSS_VAL_STRING_LIST, e[j].info.volume);
				list_add_once(&row[SET_PROVIDERS], VSS_VAL_STRING_LIST,
					      e[j].info.provider);
				list_add_once(&row[SET_SHADOW_STATES], VSS_VAL_STRING_LIST,
					      e[j].st.state);
				if (e[j].st.usage_known) {
					copied += e[j].st.copied_bytes;
					copied_known = true;
				}
				if (f->volume && !strcmp(e[j].info.volume, f->volume))
					volume_hit = true;
				if (f->provider && !strcmp(e[j].info.provider, f->provider))
					provider_hit = true;
			}
			if (copied_known)
				vss_value_num(&row[SET_COPIED], VSS_VAL_SIZE, copied);
			else
				vss_value_none(&row[SET_COPIED], VSS_VAL_SIZE);
			if (volume_hit && provider_hit && id_wanted(f, si[i].set_id))
				nrows++;
			else
				memset(row, 0, SET_NFIELDS * sizeof(*row));
		}
		rc = vss_report_print(&set_report, o, rows, nrows);
	}
	for (i = 0; i < f->nids; i++)
		if (!f->seen[i]) {
			vss_errorx(NULL, sets ? "set %" PRIu64 ": no such set (see vss-list --sets)" :
				   "shadow copy %" PRIu64 ": no such shadow copy (see vss-list)", f->ids[i]);
			if (!rc)
				rc = VSS_EXIT_NOT_FOUND;
		}
out:
	free(rows);
	free(e);
	free(sh);
	free(si);
	return rc;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long x;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno || *end || !x)
		return -EINVAL;
	*v = x;
	return 0;
}

int main(int argc, char **argv)
{
	char *units = NULL, *volume = NULL, *set_arg = NULL, *tag = NULL, *provider = NULL;
	struct vss_report_args ra = { 0 };
	int sets = 0, nosuffix = 0;
	struct poptOption options[] = {
		{ "sets", 'S', POPT_ARG_NONE, &sets, 0,
		  "List sets rather than shadow copies", NULL },
		VSS_POPT_REPORT_COLUMNS(ra),
		{ "units", '\0', POPT_ARG_STRING, &units, 0,
		  "Sizes in h (human, the default), b, k, m or g (powers of 1024)", "U" },
		{ "nosuffix", '\0', POPT_ARG_NONE, &nosuffix, 0,
		  "Sizes without their unit letter", NULL },
		VSS_POPT_REPORT_JSON(ra, "Print JSON: {\"shadows\": [...]} or {\"sets\": [...]}"),
		{ "volume", '\0', POPT_ARG_STRING, &volume, 0,
		  "Only this volume's (a dm name, /dev/mapper/NAME or a mount point)", "VOL" },
		{ "set", '\0', POPT_ARG_STRING, &set_arg, 0, "Only this set's", "ID" },
		{ "tag", 't', POPT_ARG_STRING, &tag, 0, "Only sets with this tag", "TAG" },
		{ "provider", 'p', POPT_ARG_STRING, &provider, 0,
		  "Only shadow copies made by this provider", "NAME" },
		VSS_POPT_COMMON,
		VSS_POPT_HELP
		POPT_TABLEEND
	};
	struct vss_report_opts ro = { .units = 'h' };
	struct filter f = { 0 };
	struct vss_ctx *ctx = NULL;
	char volpath[300];
	const char **args;
	poptContext pc;
	int rc, r;
	size_t i;

	vss_cli_init(argv[0]);
	pc = poptGetContext(NULL, argc, (const char **)argv, options, 0);
	poptSetOtherOptionHelp(pc, "[OPTION...] [ID...]");
	rc = vss_cli_parse(pc);
	if (rc >= 0)
		goto out;
	vss_report_args_opts(&ra, &ro);
	ro.nosuffix = nosuffix;
	if (vss_report_wants_help(&ra)) {
		vss_report_help(sets ? &set_report : &shadow_report);
		rc = VSS_EXIT_OK;
		goto out;
	}
	if (units && !(ro.units = vss_report_parse_units(units))) {
		vss_errorx(NULL, "--units: %s: not a unit (h, b, k, m or g)", units);
		rc = VSS_EXIT_USAGE;
		goto out;
	}
	if (set_arg && parse_u64(set_arg, &f.set_id)) {
		vss_errorx(set_arg, "not a set id (a positive number, see vss-list --sets)");
		rc = VSS_EXIT_USAGE;
		goto out;
	}
	rc = vss_report_check(sets ? &set_report : &shadow_report, &ro);
	if (rc)
		goto out;
	args = poptGetArgs(pc);
	for (f.nids = 0; args && args[f.nids]; f.nids++)
		;
	f.ids = calloc(f.nids + 1, sizeof(*f.ids));
	f.seen = calloc(f.nids + 1, sizeof(*f.seen));
	if (!f.ids || !f.seen) {
		rc = VSS_EXIT_NO_RESOURCES;
		goto out;
	}
	for (i = 0; i < f.nids; i++)
		if (parse_u64(args[i], &f.ids[i])) {
			vss_errorx(args[i], "not a %s id (a positive number)",
				   sets ? "set" : "shadow copy");
			rc = VSS_EXIT_USAGE;
			goto out;
		}
	f.tag = tag;
	f.provider = provider;
	rc = vss_cli_context(&ctx, vss_opt_debug, NULL);
	if (rc)
		goto out;
	if (volume) {
		r = vss_cli_volume_path(ctx, volume, volpath, sizeof(volpath));
		if (r) {
			rc = vss_exit_from_errno(r, VSS_EXIT_NOT_FOUND);
			goto out;
		}
		f.volume = volpath;
	}
	rc = list_shadows(ctx, &f, &ro, sets);
out:
	free(f.ids);
	free(f.seen);
	vss_ctx_free(ctx);
	poptFreeContext(pc);
	return rc;
}
