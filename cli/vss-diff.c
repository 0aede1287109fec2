// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vss-diff: the byte extents where a shadow copy may differ from an older
 * one of the same volume (changed-block tracking, as thin_delta).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <popt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli-common.h"
#include "libvsscore.h"
#include "report.h"

enum { EX_OFFSET, EX_LENGTH, EX_END, EX_NFIELDS };

static const struct dm_report_field_type extent_fields[] = {
	VSS_REPORT_FIELD(EX_OFFSET, VSS_REPORT_NUM, 6, "offset", "Offset",
			 "Start of the extent, bytes into the volume."),
	VSS_REPORT_FIELD(EX_LENGTH, VSS_REPORT_NUM, 6, "length", "Length",
			 "Length of the extent in bytes."),
	VSS_REPORT_FIELD(EX_END, VSS_REPORT_NUM, 6, "end", "End",
			 "First byte after the extent."),
	{ 0, 0, 0, 0, "", "", NULL, NULL },
};

static const struct vss_report_def extent_report = {
	.json_key = "extents",
	.fields = extent_fields,
	.default_fields = "offset,length",
	.default_sort = "offset",
};

static void uuid_str(const uint8_t u[16], char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
		 u[12], u[13], u[14], u[15]);
}

static void print_json(const struct vss_shadow_diff *d, bool summary)
{
	json_object *o = json_object_new_object(), *ex;
	char uuid[37];
	size_t i;

	uuid_str(d->volume_uuid, uuid);
	json_object_object_add(o, "from", json_object_new_int64((int64_t)d->from_id));
	json_object_object_add(o, "to", json_object_new_int64((int64_t)d->to_id));
	json_object_object_add(o, "volume", json_object_new_string(d->volume));
	json_object_object_add(o, "volume_uuid", json_object_new_string(uuid));
	json_object_object_add(o, "chunk_size", json_object_new_int64(d->chunk_bytes));
	json_object_object_add(o, "volume_size", json_object_new_int64((int64_t)d->volume_bytes));
	json_object_object_add(o, "changed_bytes", json_object_new_int64((int64_t)d->changed_bytes));
	json_object_object_add(o, "extent_count", json_object_new_int64((int64_t)d->nr_extents));
	if (!summary) {
		ex = json_object_new_array();
		for (i = 0; i < d->nr_extents; i++) {
			json_object *e = json_object_new_object();

			json_object_object_add(e, "offset",
					       json_object_new_int64((int64_t)d->extents[i].offset));
			json_object_object_add(e, "length",
					       json_object_new_int64((int64_t)d->extents[i].length));
			json_object_array_add(ex, e);
		}
		json_object_object_add(o, "extents", ex);
	}
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						      JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static void print_summary(const struct vss_shadow_diff *d)
{
	double pct = d->volume_bytes ? 100.0 * (double)d->changed_bytes / (double)d->volume_bytes : 0;

	printf("Shadow copy %" PRIu64 " differs from %" PRIu64 " (%s) in %zu extent%s, "
	       "%" PRIu64 " bytes of %" PRIu64 " (%.2f%%), chunk size %" PRIu32 ".\n",
	       d->to_id, d->from_id, d->volume, d->nr_extents, d->nr_extents == 1 ? "" : "s",
	       d->changed_bytes, d->volume_bytes, pct, d->chunk_bytes);
}

static int print_columns(const struct vss_shadow_diff *d, const struct vss_report_opts *ro)
{
	struct vss_value *rows = calloc(d->nr_extents ? d->nr_extents * EX_NFIELDS : 1,
					sizeof(*rows));
	size_t i;
	int rc;

	if (!rows) {
		vss_error(NULL, "cannot print the extents", -ENOMEM);
		return VSS_EXIT_NO_RESOURCES;
	}
	for (i = 0; i < d->nr_extents; i++) {
		struct vss_value *row = rows + i * EX_NFIELDS;

		vss_value_num(&row[EX_OFFSET], VSS_VAL_NUMBER, d->extents[i].offset);
		vss_value_num(&row[EX_LENGTH], VSS_VAL_NUMBER, d->extents[i].length);
		vss_value_num(&row[EX_END], VSS_VAL_NUMBER,
			      d->extents[i].offset + d->extents[i].length);
	}
	rc = vss_report_print(&extent_report, ro, rows, d->nr_extents);
	free(rows);
	return rc;
}

int main(int argc, char **argv)
{
	const char *fields = NULL, *separator = NULL;
	int json = 0, noheadings = 0, summary = 0;
	struct poptOption options[] = {
		{ "json", 'j', POPT_ARG_NONE, &json, 0,
		  "Print JSON: {\"from\", \"to\", ..., \"extents\": [{\"offset\", \"length\"}]}", NULL },
		{ "options", 'o', POPT_ARG_STRING, &fields, 0,
		  "Columns to print: offset, length, end (-o help lists them)", "FIELDS" },
		{ "noheadings", '\0', POPT_ARG_NONE, &noheadings, 0,
		  "Print no heading line", NULL },
		{ "separator", '\0', POPT_ARG_STRING, &separator, 0,
		  "Separate columns with S rather than aligning them", "S" },
		{ "summary", 's', POPT_ARG_NONE, &summary, 0,
		  "Print only the counts: extents and changed bytes", NULL },
		VSS_POPT_COMMON,
		VSS_POPT_HELP
		POPT_TABLEEND
	};
	struct vss_report_opts ro = { .units = 'b' };
	struct vss_shadow_diff *d = NULL;
	struct vss_ctx *ctx = NULL;
	const char *from_arg, *to_arg;
	uint64_t from, to;
	poptContext pc;
	int rc, r;

	vss_cli_init(argv[0]);
	pc = poptGetContext(NULL, argc, (const char **)argv, options, 0);
	poptSetOtherOptionHelp(pc, "[OPTION...] FROM TO");
	rc = vss_cli_parse(pc);
	if (rc >= 0)
		goto out;
	ro.fields = fields;
	ro.separator = separator;
	ro.noheadings = noheadings;
	if (fields && (!strcasecmp(fields, "help") || !strcmp(fields, "?"))) {
		vss_report_help(&extent_report);
		rc = VSS_EXIT_OK;
		goto out;
	}
	rc = vss_report_check(&extent_report, &ro);
	if (rc)
		goto out;
	from_arg = poptGetArg(pc);
	to_arg = poptGetArg(pc);
	if (!to_arg || poptPeekArg(pc)) {
		vss_errorx(NULL, "%s (see --help)", to_arg ? "too many arguments" :
			   "give two shadow copy ids, FROM (the older) and TO");
		rc = VSS_EXIT_USAGE;
		goto out;
	}
	rc = vss_cli_parse_id(from_arg, "shadow copy", &from);
	if (!rc)
		rc = vss_cli_parse_id(to_arg, "shadow copy", &to);
	if (rc)
		goto out;
	rc = vss_cli_context(&ctx, vss_opt_debug, NULL);
	if (rc)
		goto out;
	r = vss_shadow_diff(ctx, from, to, &d);
	if (r) {
		rc = vss_exit_from_diff(r);
		goto out;
	}
	rc = VSS_EXIT_OK;
	if (json)
		print_json(d, summary);
	else if (summary)
		print_summary(d);
	else
		rc = print_columns(d, &ro);
out:
	vss_shadow_diff_free(d);
	vss_ctx_free(ctx);
	poptFreeContext(pc);
	return rc;
}
