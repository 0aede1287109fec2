// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vss-expose: mount a shadow copy read-only, or print its device.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <json-c/json.h>
#include <popt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli-common.h"
#include "libvsscore.h"

/* How long to wait for another command holding the coordinator lock. */
#define LOCK_WAIT_MS 30000

static void print_json(const struct vss_shadow_info *s)
{
	json_object *o = json_object_new_object();
	char when[32];
	struct tm tm;

	gmtime_r(&s->created, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_object_add(o, "shadow_id", json_object_new_int64(s->shadow_id));
	json_object_object_add(o, "set_id", json_object_new_int64(s->set_id));
	json_object_object_add(o, "volume", json_object_new_string(s->volume));
	json_object_object_add(o, "device", json_object_new_string(s->device));
	json_object_object_add(o, "provider", json_object_new_string(s->provider));
	json_object_object_add(o, "created", json_object_new_string(when));
	json_object_object_add(o, "state", json_object_new_string(s->state));
	json_object_object_add(o, "mountpoint", s->exposed[0] ?
			       json_object_new_string(s->exposed) : NULL);
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						      JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

int main(int argc, char **argv)
{
	int json = 0;
	struct poptOption options[] = {
		{ "json", 'j', POPT_ARG_NONE, &json, 0,
		  "Print the shadow copy and its mount point as JSON", NULL },
		VSS_POPT_COMMON,
		VSS_POPT_HELP
		POPT_TABLEEND
	};
	struct vss_shadow_info info;
	struct vss_ctx *ctx = NULL;
	const char *id_arg, *mnt;
	poptContext pc;
	uint64_t id;
	int rc, r;

	vss_cli_init(argv[0]);
	pc = poptGetContext(NULL, argc, (const char **)argv, options, 0);
	poptSetOtherOptionHelp(pc, "[OPTION...] ID [MOUNTPOINT]");
	rc = vss_cli_parse(pc);
	if (rc >= 0)
		goto out;
	id_arg = poptGetArg(pc);
	mnt = poptGetArg(pc);
	if (!id_arg || poptPeekArg(pc)) {
		vss_errorx(NULL, "%s (see --help)", id_arg ? "too many arguments" :
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
	if (mnt) {
		r = vss_lock(ctx, LOCK_WAIT_MS);
		if (r) {
			rc = vss_exit_from_errno(r, VSS_EXIT_BUSY);
			goto out;
		}
	}
	r = vss_shadow_expose(ctx, id, mnt, &info);
	if (r) {
		/* the library said what and why */
		rc = vss_exit_from_errno(r, VSS_EXIT_PROVIDER);
		goto out;
	}
	rc = VSS_EXIT_OK;
	if (json)
		print_json(&info);
	else if (!mnt)
		printf("%s\n", info.device);
	else if (!vss_opt_quiet)
		printf("Shadow copy %llu (%s of %s) exposed read-only at %s.\n",
		       (unsigned long long)id, info.device, info.volume, info.exposed);
out:
	vss_ctx_free(ctx);
	poptFreeContext(pc);
	return rc;
}
