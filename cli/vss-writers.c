// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vss-writers: the writers (writers.d/) and hooks (hooks.d/), their
 * metadata and last state, in columns (dm_report) or JSON, through
 * report.c as vss-list.  --identify starts each writer and asks it.
 */
#include <errno.h>
#include <popt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli-common.h"
#include "libvsscore.h"
#include "report.h"

/* The order of this enum is the table's, and the JSON keys' order. */
enum {
	WR_NAME, WR_KIND, WR_PATH, WR_STATE, WR_INSTANCE, WR_USAGE, WR_LAST_ERROR,
	WR_LAST_SET_ID, WR_METADATA, WR_NFIELDS
};

static const struct dm_report_field_type writer_fields[] = {
	VSS_REPORT_FIELD(WR_NAME, VSS_REPORT_STR, 6, "name", "Writer",
			 "Name the writer gave at identify, else its file name."),
	VSS_REPORT_FIELD(WR_KIND, VSS_REPORT_STR, 4, "kind", "Kind", "writer or hook."),
	VSS_REPORT_FIELD(WR_PATH, VSS_REPORT_STR, 4, "path", "Path", "The executable."),
	VSS_REPORT_FIELD(WR_STATE, VSS_REPORT_STR, 5, "state", "State",
			 "State the last set (or --identify) left it in: stable, waiting-for-..., "
			 "failed-at-EVENT."),
	VSS_REPORT_FIELD(WR_INSTANCE, VSS_REPORT_STR, 8, "instance", "Instance",
			 "Instance, from its identify answer."),
	VSS_REPORT_FIELD(WR_USAGE, VSS_REPORT_STR, 5, "usage", "Usage",
			 "Usage, from its identify answer."),
	VSS_REPORT_FIELD(WR_LAST_ERROR, VSS_REPORT_STR, 9, "last_error", "LastError",
			 "Why it last failed, else empty."),
	VSS_REPORT_FIELD(WR_LAST_SET_ID, VSS_REPORT_NUM, 7, "last_set_id", "LastSet",
			 "Last set it took part in; 0 for none."),
	VSS_REPORT_FIELD(WR_METADATA, VSS_REPORT_STR, 8, "metadata", "Metadata",
			 "Its identify answer, an object (JSON only)."),
	{ 0, 0, 0, 0, "", "", NULL, NULL },
};

/* no default sort: the order the library lists them in */
static const struct vss_report_def writer_report = {
	.json_key = "writers",
	.fields = writer_fields,
	.default_fields = "name,kind,state,last_error",
	.default_sort = "",
	.json_only = "metadata",
};

static void log_cb(int level, const char *msg, void *arg)
{
	if (!vss_opt_quiet || level >= VSS_LOG_ERROR)
		vss_cli_log(level, msg, arg);
}

static int print_writers(const struct vss_report_opts *o, const struct vss_writer_info *w,
			 size_t n)
{
	struct vss_value *rows = calloc((n + 1) * WR_NFIELDS, sizeof(*rows));
	size_t i;
	int rc;

	if (!rows)
		return VSS_EXIT_NO_RESOURCES;
	for (i = 0; i < n; i++) {
		struct vss_value *row = &rows[i * WR_NFIELDS];

		vss_value_str(&row[WR_NAME], w[i].name);
		vss_value_str(&row[WR_KIND], w[i].kind);
		vss_value_str(&row[WR_PATH], w[i].path);
		vss_value_str(&row[WR_STATE], w[i].state);
		vss_value_str(&row[WR_INSTANCE], w[i].instance);
		vss_value_str(&row[WR_USAGE], w[i].usage);
		vss_value_str(&row[WR_LAST_ERROR], w[i].last_error);
		vss_value_num(&row[WR_LAST_SET_ID], VSS_VAL_NUMBER, w[i].last_set_id);
		/* points into w, which outlives the print */
		vss_value_json(&row[WR_METADATA], w[i].metadata_json);
	}
	rc = vss_report_print(&writer_report, o, rows, n);
	free(rows);
	return rc;
}

int main(int argc, char **argv)
{
	struct vss_report_args ra = { 0 };
	int identify = 0;
	struct poptOption options[] = {
		{ "identify", 'i', POPT_ARG_NONE, &identify, 0,
		  "Start each writer and ask for its metadata now", NULL },
		VSS_POPT_REPORT(ra, "Print JSON: {\"writers\": [...]}"),
		VSS_POPT_COMMON,
		VSS_POPT_HELP
		POPT_TABLEEND
	};
	struct vss_report_opts ro = { .units = 'h' };
	struct vss_writer_info *w = NULL;
	struct vss_ctx *ctx = NULL;
	poptContext pc;
	size_t n;
	int rc, r;

	vss_cli_init(argv[0]);
	pc = poptGetContext(NULL, argc, (const char **)argv, options, 0);
	rc = vss_cli_parse(pc);
	if (rc < 0)
		rc = vss_cli_no_args(pc);
	if (rc >= 0)
		goto out;
	vss_report_args_opts(&ra, &ro);
	if (vss_report_wants_help(&ra)) {
		vss_report_help(&writer_report);
		rc = VSS_EXIT_OK;
		goto out;
	}
	rc = vss_report_check(&writer_report, &ro);
	if (rc)
		goto out;
	rc = vss_cli_context(&ctx, vss_opt_debug, log_cb);
	if (rc)
		goto out;
	if (identify && (r = vss_lock(ctx, 10000))) {
		rc = vss_exit_from_errno(r, VSS_EXIT_BUSY);
		goto out;
	}
	r = vss_writers_list(ctx, identify, &w, &n);
	if (r) {
		vss_cli_failed(NULL, "cannot list the writers", r);
		rc = vss_exit_from_errno(r, VSS_EXIT_WRITER);
		goto out;
	}
	rc = print_writers(&ro, w, n);
out:
	free(w);
	vss_ctx_free(ctx);
	poptFreeContext(pc);
	return rc;
}
