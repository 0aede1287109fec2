// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vss-unexpose: unmount a shadow copy mounted by vss-expose.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <popt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli-common.h"
#include "libvsscore.h"

/* How long to wait for another command holding the coordinator lock. */
#define LOCK_WAIT_MS 30000

int main(int argc, char **argv)
{
	int force = 0, debug = 0;
	struct poptOption options[] = {
		{ "force", 'f', POPT_ARG_NONE, &force, 0,
		  "Detach a busy mount (lazy unmount: it goes when the last user leaves)", NULL },
		{ "debug", '\0', POPT_ARG_NONE, &debug, 0,
		  "Print debugging messages, libdevmapper's too", NULL },
		VSS_POPT_COMMON,
		POPT_AUTOHELP
		POPT_TABLEEND
	};
	struct vss_ctx *ctx = NULL;
	const char *id_arg;
	unsigned long long id;
	poptContext pc;
	char *end;
	int rc, r;

	vss_cli_init(argv[0]);
	pc = poptGetContext(NULL, argc, (const char **)argv, options, 0);
	poptSetOtherOptionHelp(pc, "[OPTION...] ID");
	while ((rc = poptGetNextOpt(pc)) > 0)
		;
	if (rc < -1) {
		rc = vss_popt_error(pc, rc);
		goto out;
	}
	if (vss_opt_version) {
		vss_print_version();
		rc = VSS_EXIT_OK;
		goto out;
	}
	id_arg = poptGetArg(pc);
	if (!id_arg || poptPeekArg(pc)) {
		vss_errorx(NULL, "%s (see --help)", id_arg ? "too many arguments: give one ID" :
			   "no shadow copy id given");
		rc = VSS_EXIT_USAGE;
		goto out;
	}
	errno = 0;
	id = strtoull(id_arg, &end, 10);
	if (!*id_arg || *end || errno || !id || id_arg[0] == '-') {
		vss_errorx(id_arg, "not a shadow copy id (a positive number, see vss-list)");
		rc = VSS_EXIT_USAGE;
		goto out;
	}
	if (debug)
		setenv("VSS_DM_DEBUG", "1", 1);

	r = vss_ctx_new(&ctx);
	if (r) {
		rc = vss_exit_from_errno(r, VSS_EXIT_NO_RESOURCES);
		goto out;
	}
	vss_ctx_set_log(ctx, vss_cli_log, NULL, debug ? VSS_LOG_DEBUG :
			vss_opt_verbose ? VSS_LOG_INFO : VSS_LOG_WARN);
	r = vss_lock(ctx, LOCK_WAIT_MS);
	if (r) {
		rc = vss_exit_from_errno(r, VSS_EXIT_BUSY);
		goto out;
	}
	r = vss_shadow_unexpose(ctx, id, force);
	/* the library said what and why */
	rc = vss_exit_from_errno(r, VSS_EXIT_PROVIDER);
	if (!r && vss_opt_verbose)
		printf("Shadow copy %llu unexposed.\n", id);
out:
	vss_ctx_free(ctx);
	poptFreeContext(pc);
	return rc;
}
