// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vss-expose: mount a shadow copy read-only, or print its device; with
 * --writable, mount a throwaway writable view of it instead.
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

static void print_json(const struct vss_shadow_info *s, bool writable)
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
	json_object_object_add(o, "writable", json_object_new_boolean(writable));
	if (writable) {
		char view[64];

		snprintf(view, sizeof(view), "/dev/mapper/vss-%llu-view",
			 (unsigned long long)s->shadow_id);
		json_object_object_add(o, "view_device", json_object_new_string(view));
	}
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						      JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

int main(int argc, char **argv)
{
	int json = 0, writable = 0;
	char *cow = NULL, *cow_size = NULL, cow_help[160], cow_size_help[200];
	struct poptOption options[] = {
		{ "json", 'j', POPT_ARG_NONE, &json, 0,
		  "Print the shadow copy and its mount point as JSON", NULL },
		{ "writable", 'w', POPT_ARG_NONE, &writable, 0,
		  "Mount a throwaway writable view of the copy (the copy never changes)", NULL },
		{ "cow", '\0', POPT_ARG_STRING, &cow, 0, cow_help, "FILE|DEV" },
		{ "cow-size", '\0', POPT_ARG_STRING, &cow_size, 0, cow_size_help, "SIZE" },
		VSS_POPT_COMMON,
		VSS_POPT_HELP
		POPT_TABLEEND
	};
	struct vss_view_opts vopts = { 0 };
	struct vss_shadow_info info;
	struct vss_config *cfg = NULL;
	struct vss_ctx *ctx = NULL;
	const char *id_arg, *mnt;
	char b1[64], b2[64];
	poptContext pc;
	uint64_t id;
	int rc, r;

	vss_cli_init(argv[0]);
	rc = vss_cli_config(&cfg);
	if (rc)
		return rc;
	snprintf(cow_help, sizeof(cow_help),
		 "With --writable: the copy-on-write data on this device or file (default: a "
		 "new sparse file in %s)",
		 vss_cli_default(cfg, "expose.cow_dir", "VSS_RUN_DIR/views", b1, sizeof(b1)));
	snprintf(cow_size_help, sizeof(cow_size_help),
		 "With --writable: the size of that new file (default: %s)",
		 vss_cli_default(cfg, "expose.cow_size",
				 "10% of the volume, at least 1 GiB, at most the volume", b2,
				 sizeof(b2)));
	vss_config_free(cfg);
	pc = poptGetContext(NULL, argc, (const char **)argv, options, 0);
	poptSetOtherOptionHelp(pc, "[OPTION...] ID [MOUNTPOINT]\n"
			       "       vss-expose --writable [--cow FILE|DEV] [--cow-size SIZE] "
			       "ID MOUNTPOINT");
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
	if (!writable && (cow || cow_size)) {
		vss_errorx(NULL, "%s: only with --writable (see --help)", cow ? "--cow" : "--cow-size");
		rc = VSS_EXIT_USAGE;
		goto out;
	}
	if (writable && !mnt) {
		vss_errorx(NULL, "--writable: no mount point given (see --help)");
		rc = VSS_EXIT_USAGE;
		goto out;
	}
	if (cow && cow_size) {
		vss_errorx(NULL, "--cow-size: sizes the file made when --cow is not given; "
			   "not both (see --help)");
		rc = VSS_EXIT_USAGE;
		goto out;
	}
	if (cow && !*cow) {
		vss_errorx(NULL, "--cow: an empty name (see --help)");
		rc = VSS_EXIT_USAGE;
		goto out;
	}
	if (cow_size) {
		rc = vss_cli_size("--cow-size", cow_size, &vopts.cow_size);
		if (rc)
			goto out;
		if (vopts.cow_size < (1 << 20)) {
			vss_errorx(NULL, "--cow-size: %s: smaller than 1m", cow_size);
			rc = VSS_EXIT_USAGE;
			goto out;
		}
	}
	vopts.cow = cow;
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
	if (writable)
		r = vss_shadow_expose_writable(ctx, id, mnt, &vopts, &info);
	else
		r = vss_shadow_expose(ctx, id, mnt, &info);
	if (r) {
		/* the library said what and why */
		rc = vss_exit_from_errno(r, VSS_EXIT_PROVIDER);
		goto out;
	}
	rc = VSS_EXIT_OK;
	if (json)
		print_json(&info, writable);
	else if (!mnt)
		printf("%s\n", info.device);
	else if (!vss_opt_quiet && writable)
		printf("Shadow copy %llu (%s of %s) exposed writable at %s: a throwaway view "
		       "(/dev/mapper/vss-%llu-view); the copy itself does not change.\n",
		       (unsigned long long)id, info.device, info.volume, info.exposed,
		       (unsigned long long)id);
	else if (!vss_opt_quiet)
		printf("Shadow copy %llu (%s of %s) exposed read-only at %s.\n",
		       (unsigned long long)id, info.device, info.volume, info.exposed);
out:
	vss_ctx_free(ctx);
	poptFreeContext(pc);
	return rc;
}
