// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vss-revert: return a volume to the content of one of its shadow copies.
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


static void log_cb(int level, const char *msg, void *arg)
{
	(void)arg;
	if (vss_opt_quiet && level < VSS_LOG_ERROR)
		return;
	/* The outcome is printed by main(); the library's line is for --verbose. */
	if (level == VSS_LOG_INFO && !vss_opt_verbose)
		return;
	vss_cli_log(level, msg, arg);
}

/*
 * Asked before the lock is taken, so that a question on the terminal holds
 * up no other command; an id the catalog does not know is named by the
 * library, without a question.
 */
static int confirm(struct vss_ctx *ctx, uint64_t id, int yes)
{
	struct vss_shadow_info *sh = NULL;
	char question[400], object[48];
	size_t n = 0, i;
	int rc = -1;

	if (vss_shadow_list(ctx, &sh, &n))
		return -1;
	for (i = 0; i < n; i++)
		if (sh[i].shadow_id == id)
			break;
	if (i < n) {
		snprintf(object, sizeof(object), "shadow copy %" PRIu64, id);
		snprintf(question, sizeof(question), "revert %s to shadow copy %" PRIu64
			 " (everything written to it since is lost)", sh[i].volume, id);
		rc = vss_cli_confirm(yes, object, question, "nothing reverted");
	}
	free(sh);
	return rc;
}

static void print_json(const struct vss_revert_result *res, bool dry_run, int err)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "shadow_id", json_object_new_int64((int64_t)res->shadow_id));
	json_object_object_add(o, "volume", json_object_new_string(res->volume));
	json_object_object_add(o, "device", json_object_new_string(res->device));
	json_object_object_add(o, "provider", json_object_new_string(res->provider));
	json_object_object_add(o, "dry_run", json_object_new_boolean(dry_run));
	json_object_object_add(o, "chunk_bytes", json_object_new_int64(res->chunk_bytes));
	json_object_object_add(o, "changed_chunks",
			       json_object_new_int64((int64_t)res->changed_chunks));
	json_object_object_add(o, "changed_bytes",
			       json_object_new_int64((int64_t)res->changed_bytes));
	json_object_object_add(o, "copied_chunks",
			       json_object_new_int64((int64_t)res->copied_chunks));
	json_object_object_add(o, "copied_bytes",
			       json_object_new_int64((int64_t)res->copied_bytes));
	json_object_object_add(o, "equal_chunks",
			       json_object_new_int64((int64_t)res->equal_chunks));
	json_object_object_add(o, "store_chunks_needed",
			       json_object_new_int64((int64_t)res->store_chunks_needed));
	json_object_object_add(o, "store_chunks_free",
			       json_object_new_int64((int64_t)res->store_chunks_free));
	json_object_object_add(o, "reverted", json_object_new_boolean(!err && !dry_run));
	json_object_object_add(o, "partial", json_object_new_boolean(res->partial));
	json_object_object_add(o, "deleted", json_object_new_boolean(res->deleted));
	if (res->mountpoint[0])
		json_object_object_add(o, "mountpoint", json_object_new_string(res->mountpoint));
	if (err)
		json_object_object_add(o, "error", json_object_new_string(vss_strerror(err)));
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						      JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static void print_text(const struct vss_revert_result *res, bool dry_run)
{
	if (dry_run) {
		printf("%s: %" PRIu64 " chunks (%" PRIu64 " bytes) differ from shadow copy %"
		       PRIu64 " and would be copied\n", res->volume, res->changed_chunks,
		       res->changed_bytes, res->shadow_id);
		if (vss_opt_verbose)
			printf("  chunk size %" PRIu32 " bytes; the other shadow copies need %"
			       PRIu64 " new copies in the store, %" PRIu64 " chunks free\n",
			       res->chunk_bytes, res->store_chunks_needed, res->store_chunks_free);
		return;
	}
	printf("%s reverted to shadow copy %" PRIu64 ".\n", res->volume, res->shadow_id);
	if (vss_opt_verbose)
		printf("  %" PRIu64 " chunks (%" PRIu64 " bytes) copied from %s, %" PRIu64
		       " equal already; chunk size %" PRIu32 " bytes\n", res->copied_chunks,
		       res->copied_bytes, res->device, res->equal_chunks, res->chunk_bytes);
	if (res->deleted)
		printf("  shadow copy %" PRIu64 " deleted.\n", res->shadow_id);
}

int main(int argc, char **argv)
{
	int dry_run = 0, delete_after = 0, json = 0, yes = 0;
	unsigned int wait_ms = 0;
	char *wait_s = NULL, wait_help[160];
	struct poptOption options[] = {
		{ "dry-run", 'n', POPT_ARG_NONE, &dry_run, 0,
		  "Print how many chunks and bytes would be copied; change nothing", NULL },
		{ "delete", '\0', POPT_ARG_NONE, &delete_after, 0,
		  "Delete the shadow copy once the volume is reverted", NULL },
		{ "json", 'j', POPT_ARG_NONE, &json, 0, "Print the outcome as JSON", NULL },
		VSS_POPT_YES(yes),
		VSS_POPT_WAIT(wait_s, wait_help),
		VSS_POPT_COMMON,
		VSS_POPT_HELP
		POPT_TABLEEND
	};
	struct vss_revert_opts ropts = { 0 };
	struct vss_revert_result res;
	struct vss_ctx *ctx = NULL;
	const char **args;
	uint64_t id;
	poptContext pc;
	int rc, r;

	vss_cli_init(argv[0]);
	rc = vss_cli_lock_wait(wait_help, sizeof(wait_help), &wait_ms);
	if (rc)
		return rc;
	pc = poptGetContext(NULL, argc, (const char **)argv, options, 0);
	poptSetOtherOptionHelp(pc, "[OPTION...] SHADOW_ID");
	rc = vss_cli_parse(pc);
	if (rc >= 0)
		goto out_popt;
	args = poptGetArgs(pc);
	rc = VSS_EXIT_USAGE;
	if (!args || !args[0]) {
		vss_errorx(NULL, "no shadow copy id given (see --help)");
		goto out_popt;
	}
	if (args[1]) {
		vss_errorx(NULL, "%s: one shadow copy id only (see --help)", args[1]);
		goto out_popt;
	}
	if (vss_cli_parse_id(args[0], "shadow copy", &id))
		goto out_popt;
	if (wait_s && vss_cli_duration("--wait", wait_s, &wait_ms))
		goto out_popt;
	if (dry_run && delete_after) {
		vss_errorx(NULL, "--dry-run and --delete exclude each other");
		goto out_popt;
	}
	ropts.dry_run = dry_run;
	ropts.delete_after = delete_after;

	rc = vss_cli_context(&ctx, vss_opt_debug, log_cb);
	if (rc)
		goto out_popt;
	rc = vss_cli_kernel_for_shadow(ctx, id);
	if (rc < 0 && !dry_run)
		rc = confirm(ctx, id, yes);
	if (rc >= 0)
		goto out;
	r = vss_lock(ctx, (int)wait_ms);
	if (r) {
		if (r == -EBUSY)
			vss_errorx(NULL, "another vss command is in progress (see --wait)");
		else
			vss_error(vss_ctx_dir(ctx, "run"), "cannot take the lock", r);
		rc = vss_exit_from_errno(r, VSS_EXIT_BUSY);
		goto out;
	}
	r = vss_shadow_revert(ctx, id, &ropts, &res);
	/*
	 * Everything the library refuses or fails at past the volume checks
	 * (a provider other than dm-vss-cow, a shadow copy the kernel dropped,
	 * an I/O error) is the provider's failure: exit 7.
	 */
	rc = vss_exit_from_errno(r, VSS_EXIT_PROVIDER);
	if (json)
		print_json(&res, dry_run, r);
	else if (!r && !vss_opt_quiet)
		print_text(&res, dry_run);
out:
	vss_ctx_free(ctx);
out_popt:
	poptFreeContext(pc);
	return rc;
}
