// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vss-verify: the writers' own check of a shadow copy set, run on
 * throwaway writable views of its copies (vss_set_verify()).
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

static void print_json(uint64_t set_id, const struct vss_verify_result *res, size_t n)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array();
	size_t i;

	json_object_object_add(o, "set_id", json_object_new_int64(set_id));
	for (i = 0; i < n; i++) {
		json_object *c = json_object_new_object();

		json_object_object_add(c, "writer", json_object_new_string(res[i].writer));
		json_object_object_add(c, "component", json_object_new_string(res[i].component));
		json_object_object_add(c, "verified", json_object_new_boolean(res[i].verified));
		json_object_object_add(c, "message", json_object_new_string(res[i].message));
		json_object_array_add(arr, c);
	}
	json_object_object_add(o, "components", arr);
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						      JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static const char *result_word(const struct vss_verify_result *r)
{
	return r->verified ? "verified" : "FAILED";
}

static void print_table(const struct vss_verify_result *res, size_t n, bool headings)
{
	int ww = 6, cw = 9, rw = 8;
	size_t i;

	for (i = 0; i < n; i++) {
		if ((int)strlen(res[i].writer) > ww)
			ww = (int)strlen(res[i].writer);
		if ((int)strlen(res[i].component) > cw)
			cw = (int)strlen(res[i].component);
	}
	if (headings)
		printf("%-*s %-*s %-*s %s\n", ww, "WRITER", cw, "COMPONENT", rw, "RESULT",
		       "MESSAGE");
	for (i = 0; i < n; i++)
		printf("%-*s %-*s %-*s %s\n", ww, res[i].writer, cw,
		       res[i].component[0] ? res[i].component : "-", rw, result_word(&res[i]),
		       res[i].message);
}

/* Whether the kernel serves the copies of the set: -1, or the exit status. */
static int kernel_for_set(struct vss_ctx *ctx, uint64_t set_id)
{
	struct vss_shadow_info *sh = NULL;
	size_t n = 0, i;
	int r, rc = -1;

	r = vss_shadow_list(ctx, &sh, &n);
	if (r) {
		vss_cli_failed("catalog", "cannot read", r);
		return vss_exit_from_errno(r, VSS_EXIT_PROVIDER);
	}
	for (i = 0; i < n && rc < 0; i++)
		if (sh[i].set_id == set_id)
			rc = vss_cli_need_kernel(sh[i].provider);
	free(sh);
	return rc < 0 ? vss_cli_need_kernel(NULL) : rc;
}

/* The one set the shadow copy ids belong to: 0, or the exit status. */
static int set_of_ids(struct vss_ctx *ctx, const char **args, uint64_t *set_id)
{
	struct vss_shadow_info *sh = NULL;
	size_t n = 0, i, a;
	uint64_t id;
	int r, rc = 0;

	r = vss_shadow_list(ctx, &sh, &n);
	if (r) {
		vss_cli_failed("catalog", "cannot read", r);
		return vss_exit_from_errno(r, VSS_EXIT_PROVIDER);
	}
	*set_id = 0;
	for (a = 0; args[a] && !rc; a++) {
		rc = vss_cli_parse_id(args[a], "shadow copy", &id);
		if (rc)
			break;
		for (i = 0; i < n && sh[i].shadow_id != id; i++)
			;
		if (i == n) {
			vss_errorx(NULL, "shadow copy %" PRIu64 ": no such shadow copy (see vss-list)",
				   id);
			rc = VSS_EXIT_NOT_FOUND;
		} else if (*set_id && sh[i].set_id != *set_id) {
			vss_errorx(NULL, "shadow copy %" PRIu64 ": of set %" PRIu64 ", not of set %"
				   PRIu64 ": verify one set at a time", id, sh[i].set_id, *set_id);
			rc = VSS_EXIT_USAGE;
		} else {
			*set_id = sh[i].set_id;
		}
	}
	free(sh);
	return rc;
}

int main(int argc, char **argv)
{
	char *set_arg = NULL, *wait_arg = NULL, wait_help[160];
	int json = 0, noheadings = 0;
	struct poptOption options[] = {
		{ "set", 's', POPT_ARG_STRING, &set_arg, 0, "Verify this set", "SET_ID" },
		{ "json", 'j', POPT_ARG_NONE, &json, 0,
		  "Print the set's components and their results as JSON", NULL },
		{ "noheadings", '\0', POPT_ARG_NONE, &noheadings, 0, "No heading line", NULL },
		VSS_POPT_WAIT(wait_arg, wait_help),
		VSS_POPT_COMMON,
		VSS_POPT_HELP
		POPT_TABLEEND
	};
	struct vss_verify_result *res = NULL;
	struct vss_ctx *ctx = NULL;
	unsigned int wait_ms = 0;
	uint64_t set_id = 0;
	const char **args;
	size_t n = 0, i;
	poptContext pc;
	int rc, r;

	vss_cli_init(argv[0]);
	rc = vss_cli_lock_wait(wait_help, sizeof(wait_help), &wait_ms);
	if (rc)
		return rc;
	pc = poptGetContext(NULL, argc, (const char **)argv, options, 0);
	poptSetOtherOptionHelp(pc, "[OPTION...] ID... | --set SET_ID");
	rc = vss_cli_parse(pc);
	if (rc >= 0)
		goto out;
	args = poptGetArgs(pc);
	if (!!(args && args[0]) == !!set_arg) {
		vss_errorx(NULL, "%s (see --help)", set_arg ? "give either ID... or --set, not both"
			   : "nothing to verify: give shadow copy ids or --set SET_ID");
		rc = VSS_EXIT_USAGE;
		goto out;
	}
	if (set_arg && (rc = vss_cli_parse_id(set_arg, "set", &set_id)))
		goto out;
	if (wait_arg && (rc = vss_cli_duration("--wait", wait_arg, &wait_ms)))
		goto out;
	rc = vss_cli_context(&ctx, vss_opt_debug, NULL);
	if (rc)
		goto out;
	if (!set_arg) {
		rc = set_of_ids(ctx, args, &set_id);
		if (rc)
			goto out;
	}
	rc = kernel_for_set(ctx, set_id);
	if (rc >= 0)
		goto out;
	r = vss_lock(ctx, (int)wait_ms);
	if (r) {
		if (r == -EBUSY)
			vss_errorx(NULL, "another command holds the lock (see --wait)");
		rc = vss_exit_from_errno(r, VSS_EXIT_BUSY);
		goto out;
	}
	r = vss_set_verify(ctx, set_id, NULL, &res, &n);
	if (r && r != -ECANCELED) {
		/* the library said what and why */
		rc = vss_exit_from_errno(r, VSS_EXIT_PROVIDER);
		goto out;
	}
	if (json)
		print_json(set_id, res, n);
	else if (n)
		print_table(res, n, !noheadings);
	if (!n && !vss_opt_quiet && !json)
		printf("Set %" PRIu64 ": no writer took part in it: nothing to verify.\n", set_id);
	rc = r ? VSS_EXIT_WRITER : VSS_EXIT_OK;
	if (r)
		for (i = 0; i < n; i++)
			if (!res[i].verified)
				vss_errorx(NULL, "set %" PRIu64 ": %s/%s: %s", set_id, res[i].writer,
					   res[i].component, res[i].message);
out:
	free(res);
	vss_ctx_free(ctx);
	poptFreeContext(pc);
	return rc;
}
