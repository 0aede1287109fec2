// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vss-writers: the writers (writers.d/) and hooks (hooks.d/), their
 * metadata and last state.  --identify starts each writer and asks it.
 */
#include <errno.h>
#include <json-c/json.h>
#include <popt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli-common.h"
#include "libvsscore.h"

static void log_cb(int level, const char *msg, void *arg)
{
	if (!vss_opt_quiet || level >= VSS_LOG_ERROR)
		vss_cli_log(level, msg, arg);
}

int main(int argc, char **argv)
{
	int identify = 0, json = 0;
	struct poptOption options[] = {
		{ "identify", 'i', POPT_ARG_NONE, &identify, 0,
		  "Start each writer and ask for its metadata now", NULL },
		{ "json", 'j', POPT_ARG_NONE, &json, 0, "JSON output", NULL },
		VSS_POPT_COMMON,
		VSS_POPT_HELP
		POPT_TABLEEND
	};
	struct vss_writer_info *w;
	struct vss_ctx *ctx;
	poptContext pc;
	size_t n, i;
	int rc, r;

	vss_cli_init(argv[0]);
	pc = poptGetContext(NULL, argc, (const char **)argv, options, 0);
	rc = vss_cli_parse(pc);
	if (rc < 0)
		rc = vss_cli_no_args(pc);
	if (rc >= 0)
		return rc;
	rc = vss_cli_context(&ctx, vss_opt_debug, log_cb);
	if (rc)
		return rc;
	if (identify && (r = vss_lock(ctx, 10000))) {
		vss_ctx_free(ctx);
		return vss_exit_from_errno(r, VSS_EXIT_BUSY);
	}
	r = vss_writers_list(ctx, identify, &w, &n);
	if (r) {
		vss_cli_failed(NULL, "cannot list the writers", r);
		vss_ctx_free(ctx);
		return vss_exit_from_errno(r, VSS_EXIT_WRITER);
	}
	if (json) {
		json_object *arr = json_object_new_array();

		for (i = 0; i < n; i++) {
			json_object *o = json_object_new_object();
			json_object *md = w[i].metadata_json[0] ?
				json_tokener_parse(w[i].metadata_json) : NULL;

			json_object_object_add(o, "name", json_object_new_string(w[i].name));
			json_object_object_add(o, "kind", json_object_new_string(w[i].kind));
			json_object_object_add(o, "path", json_object_new_string(w[i].path));
			json_object_object_add(o, "state", json_object_new_string(w[i].state));
			json_object_object_add(o, "instance", json_object_new_string(w[i].instance));
			json_object_object_add(o, "usage", json_object_new_string(w[i].usage));
			json_object_object_add(o, "last_error", json_object_new_string(w[i].last_error));
			json_object_object_add(o, "last_set_id", json_object_new_int64(w[i].last_set_id));
			json_object_object_add(o, "metadata", md);
			json_object_array_add(arr, o);
		}
		json_object *top = json_object_new_object();

		json_object_object_add(top, "writers", arr);
		printf("%s\n", json_object_to_json_string_ext(top, JSON_C_TO_STRING_PRETTY |
							      JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(top);
	} else {
		printf("%-20s %-7s %-30s %s\n", "Writer", "Kind", "State", "Last error");
		for (i = 0; i < n; i++)
			printf("%-20s %-7s %-30s %s\n", w[i].name, w[i].kind, w[i].state,
			       w[i].last_error);
	}
	free(w);
	vss_ctx_free(ctx);
	poptFreeContext(pc);
	return 0;
}
