// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vss-activate: after a reboot, bring back the origins and shadow copy
 * devices recorded in the catalog.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <popt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli-common.h"
#include "libvsscore.h"

/* At boot nothing else runs; by hand, another command may hold the lock a while. */
#define LOCK_WAIT_MS 120000

int main(int argc, char **argv)
{
	int dry_run = 0;
	struct poptOption options[] = {
		{ "dry-run", 'n', POPT_ARG_NONE, &dry_run, 0,
		  "Say what would be done; change nothing", NULL },
		VSS_POPT_COMMON,
		VSS_POPT_HELP
		POPT_TABLEEND
	};
	struct vss_activate_opts opts = { 0 };
	struct vss_activate_result res = { 0 };
	struct vss_ctx *ctx = NULL;
	poptContext pc;
	int rc, r;

	vss_cli_init(argv[0]);
	pc = poptGetContext(NULL, argc, (const char **)argv, options, 0);
	poptSetOtherOptionHelp(pc, "[OPTION...]");
	rc = vss_cli_parse(pc);
	if (rc < 0)
		rc = vss_cli_no_args(pc);
	if (rc >= 0)
		goto out;
	rc = vss_cli_context(&ctx, vss_opt_debug, NULL);
	if (rc)
		goto out;
	rc = vss_cli_kernel_for_volume(ctx, NULL);
	if (rc >= 0)
		goto out;
	/* what is done is said by default: this runs at boot, into the journal */
	vss_ctx_set_log(ctx, vss_cli_log, NULL, vss_opt_debug || vss_opt_verbose ? VSS_LOG_DEBUG :
			VSS_LOG_INFO);
	opts.dry_run = dry_run;
	/* a dry run reads only: no lock, so no reconciling write either */
	if (!dry_run) {
		r = vss_lock(ctx, LOCK_WAIT_MS);
		if (r) {
			rc = vss_exit_from_errno(r, VSS_EXIT_BUSY);
			goto out;
		}
	}
	r = vss_activate(ctx, &opts, &res);
	rc = vss_exit_from_errno(r, VSS_EXIT_NOT_FOUND);
	if (!vss_opt_quiet && (!r || res.failed))
		printf("%s%u volume%s under %s origin (%u already), %u shadow cop%s activated "
		       "(%u already), %u marked invalid, %u not brought back\n",
		       dry_run ? "dry run: " : "", res.origins_loaded + res.origins_present,
		       res.origins_loaded + res.origins_present == 1 ? "" : "s",
		       "their", res.origins_present, res.shadows_loaded,
		       res.shadows_loaded == 1 ? "y" : "ies", res.shadows_present,
		       res.shadows_invalid, res.failed);
out:
	vss_ctx_free(ctx);
	poptFreeContext(pc);
	return rc;
}
