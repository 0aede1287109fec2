// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vss-unexpose: unmount a shadow copy mounted by vss-expose; a writable
 * view goes whole: its device, its loop device and a copy-on-write file made for it.
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
	int force = 0;
	struct poptOption options[] = {
		{ "force", 'f', POPT_ARG_NONE, &force, 0,
		  "Detach a busy mount (lazy unmount: it goes when the last user leaves)", NULL },
		VSS_POPT_COMMON,
		VSS_POPT_HELP
		POPT_TABLEEND
	};
	struct vss_ctx *ctx = NULL;
	const char *id_arg;
	uint64_t id;
	poptContext pc;
	int rc, r;

	vss_cli_init(argv[0]);
	pc = poptGetContext(NULL, argc, (const char **)argv, options, 0);
	poptSetOtherOptionHelp(pc, "[OPTION...] ID");
	rc = vss_cli_parse(pc);
	if (rc >= 0)
		goto out;
	id_arg = poptGetArg(pc);
	if (!id_arg || poptPeekArg(pc)) {
		vss_errorx(NULL, "%s (see --help)", id_arg ? "too many arguments: give one ID" :
			   "no shadow copy id given");
		rc = VSS_EXIT_USAGE;
		goto out;
	}
	rc = vss_cli_parse_id(id_arg, "shadow copy", &id);
	if (rc)
		goto out;
	rc = vss_cli_context(&ctx, vss_opt_debug, NULL);
	if (rc)
		goto out;
	rc = vss_cli_kernel_for_shadow(ctx, id);
	if (rc >= 0)
		goto out;
	r = vss_lock(ctx, LOCK_WAIT_MS);
	if (r) {
		rc = vss_exit_from_errno(r, VSS_EXIT_BUSY);
		goto out;
	}
	r = vss_shadow_unexpose(ctx, id, force);
	/* the library said what and why */
	rc = vss_exit_from_errno(r, VSS_EXIT_PROVIDER);
	if (!r && vss_opt_verbose)
		printf("Shadow copy %llu unexposed.\n", (unsigned long long)id);
out:
	vss_ctx_free(ctx);
	poptFreeContext(pc);
	return rc;
}
