// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vss-providers: the providers of this system and the volumes each serves,
 * in columns (dm_report) or JSON, through report.c as vss-list.
 */
#include <errno.h>
#include <popt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli-common.h"
#include "libvsscore.h"
#include "report.h"

/* The order of this enum is the table's, and the JSON keys' order. */
enum { PR_NAME, PR_KIND, PR_AVAILABLE, PR_DETAIL, PR_VOLUMES, PR_NFIELDS };

static const struct dm_report_field_type provider_fields[] = {
	VSS_REPORT_FIELD(PR_NAME, VSS_REPORT_STR, 8, "name", "Provider",
			 "Provider: dm-vss-cow, dm-vss-clone, dm-snapshot or an external one's "
			 "file name."),
	VSS_REPORT_FIELD(PR_KIND, VSS_REPORT_STR, 4, "kind", "Kind", "builtin or external."),
	VSS_REPORT_FIELD(PR_AVAILABLE, VSS_REPORT_STR, 9, "available", "Available",
			 "Whether it can be used now: yes or no (JSON: a boolean)."),
	VSS_REPORT_FIELD(PR_DETAIL, VSS_REPORT_STR, 6, "detail", "Detail",
			 "The kernel target's version or that it is not loaded, or an external "
			 "provider's description."),
	VSS_REPORT_FIELD(PR_VOLUMES, VSS_REPORT_STR, 7, "volumes", "Volumes",
			 "Volumes enabled with it (vss-storage; JSON: an array)."),
	{ 0, 0, 0, 0, "", "", NULL, NULL },
};

/* no default sort: the order the library lists them in, external ones first */
static const struct vss_report_def provider_report = {
	.json_key = "providers",
	.fields = provider_fields,
	.default_fields = "name,kind,available,detail,volumes",
	.default_sort = "",
};

static int print_providers(const struct vss_report_opts *o, const struct vss_provider_info *p,
			   size_t n, const struct vss_storage_info *st, size_t ns)
{
	struct vss_value *rows = calloc((n + 1) * PR_NFIELDS, sizeof(*rows));
	size_t i, k;
	int rc;

	if (!rows)
		return VSS_EXIT_NO_RESOURCES;
	for (i = 0; i < n; i++) {
		struct vss_value *row = &rows[i * PR_NFIELDS];

		vss_value_str(&row[PR_NAME], p[i].name);
		vss_value_str(&row[PR_KIND], p[i].kind);
		vss_value_bool(&row[PR_AVAILABLE], p[i].available);
		vss_value_str(&row[PR_DETAIL], p[i].detail);
		/* known and empty: [] in JSON */
		vss_value_list_add(&row[PR_VOLUMES], VSS_VAL_STRING_LIST, "");
		for (k = 0; k < ns; k++)
			if (!strcmp(st[k].provider, p[i].name))
				vss_value_list_add(&row[PR_VOLUMES], VSS_VAL_STRING_LIST,
						   st[k].volume);
	}
	rc = vss_report_print(&provider_report, o, rows, n);
	free(rows);
	return rc;
}

int main(int argc, char **argv)
{
	struct vss_report_args ra = { 0 };
	struct poptOption options[] = {
		VSS_POPT_REPORT(ra, "Print JSON: {\"providers\": [...]}"),
		VSS_POPT_COMMON,
		VSS_POPT_HELP
		POPT_TABLEEND
	};
	struct vss_report_opts ro = { .units = 'h' };
	struct vss_provider_info *p = NULL;
	struct vss_storage_info *st = NULL;
	struct vss_ctx *ctx = NULL;
	size_t n, ns;
	poptContext pc;
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
		vss_report_help(&provider_report);
		rc = VSS_EXIT_OK;
		goto out;
	}
	rc = vss_report_check(&provider_report, &ro);
	if (rc)
		goto out;
	rc = vss_cli_context(&ctx, vss_opt_debug, NULL);
	if (rc)
		goto out;
	r = vss_providers_list(ctx, &p, &n);
	if (!r)
		r = vss_storage_list(ctx, &st, &ns);
	if (r) {
		vss_cli_failed(NULL, "cannot list the providers", r);
		rc = vss_exit_from_errno(r, VSS_EXIT_PROVIDER);
		goto out;
	}
	rc = print_providers(&ro, p, n, st, ns);
out:
	free(p);
	free(st);
	vss_ctx_free(ctx);
	poptFreeContext(pc);
	return rc;
}
