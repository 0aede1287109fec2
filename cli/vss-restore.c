// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vss-restore: restore one writer component from a shadow copy set, in
 * place (pre-restore, the files, post-restore) or under another directory;
 * --recover finishes or undoes a restore that was interrupted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <popt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli-common.h"
#include "libvsscore.h"

static void print_json(const struct vss_restore_result *res, const char *to)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	json_object *rm = json_object_new_array();
	size_t i;

	json_object_object_add(o, "shadow_id", json_object_new_int64(res->shadow_id));
	json_object_object_add(o, "set_id", json_object_new_int64(res->set_id));
	json_object_object_add(o, "writer", json_object_new_string(res->writer));
	json_object_object_add(o, "component", json_object_new_string(res->component));
	for (i = 0; i < res->nr_files; i++)
		json_object_array_add(a, json_object_new_string(res->files[i]));
	json_object_object_add(o, "restored", a);
	for (i = 0; i < res->nr_removed; i++)
		json_object_array_add(rm, json_object_new_string(res->removed[i]));
	json_object_object_add(o, "removed", rm);
	json_object_object_add(o, "to", to ? json_object_new_string(to) : NULL);
	json_object_object_add(o, "pre_restore", json_object_new_boolean(res->pre_restore));
	json_object_object_add(o, "post_restore", json_object_new_boolean(res->post_restore));
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						      JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static void print_text(const struct vss_restore_result *res, const char *to)
{
	size_t i;

	printf("Restored component %s/%s of set %" PRIu64 " from shadow copy %" PRIu64 "%s%s:\n",
	       res->writer, res->component, res->set_id, res->shadow_id, to ? " under " : "",
	       to ? to : "");
	for (i = 0; i < res->nr_files; i++)
		printf("  %s\n", res->files[i]);
	for (i = 0; i < res->nr_removed; i++)
		printf("  %s (removed: not in the copy)\n", res->removed[i]);
}

/*
 * The component is one of the set's: -1 to go on, else the exit status
 * after saying which components there are.
 */
static int check_component(struct vss_ctx *ctx, uint64_t id, const char *component)
{
	char **names = NULL, list[1024] = "";
	size_t n = 0, i;
	int r, rc = VSS_EXIT_NOT_FOUND;

	r = vss_restore_components(ctx, id, &names, &n);
	if (r)
		return vss_exit_from_errno(r, VSS_EXIT_NOT_FOUND);
	for (i = 0; i < n; i++) {
		if (!strcmp(names[i], component))
			rc = -1;
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
			 names[i]);
	}
	if (rc >= 0)
		vss_errorx(component, "no such component in the set of shadow copy %" PRIu64
			   " (%s%s)", id, n ? "its components: " : "it recorded none", list);
	vss_restore_names_free(names, n);
	return rc;
}

int main(int argc, char **argv)
{
	char *component = NULL, *to = NULL, *wait_arg = NULL, *timeout_arg = NULL;
	char wait_help[160], object[64], question[512], dir[PATH_MAX];
	int yes = 0, json = 0, recover = 0;
	struct poptOption options[] = {
		{ "component", 'c', POPT_ARG_STRING, &component, 0,
		  "The component to restore, as the set recorded it", "WRITER/COMPONENT" },
		{ "to", 't', POPT_ARG_STRING, &to, 0,
		  "Copy the files under DIR (empty or new), keeping their paths, with no writer "
		  "event, instead of replacing them", "DIR" },
		{ "recover", '\0', POPT_ARG_NONE, &recover, 0,
		  "Finish or undo the restores that were interrupted, and nothing else", NULL },
		{ "timeout", '\0', POPT_ARG_STRING, &timeout_arg, 0,
		  "How long the writer may take to answer pre-restore or post-restore "
		  "(default 5m)", "DURATION" },
		{ "json", 'j', POPT_ARG_NONE, &json, 0, "Print what was restored as JSON", NULL },
		VSS_POPT_YES(yes),
		VSS_POPT_WAIT(wait_arg, wait_help),
		VSS_POPT_COMMON,
		VSS_POPT_HELP
		POPT_TABLEEND
	};
	struct vss_restore_opts opts = { 0 };
	struct vss_restore_result res = { 0 };
	struct vss_ctx *ctx = NULL;
	unsigned int wait_ms = 0, recovered = 0;
	const char *id_arg = NULL;
	poptContext pc;
	uint64_t id = 0;
	int rc, r;

	vss_cli_init(argv[0]);
	rc = vss_cli_lock_wait(wait_help, sizeof(wait_help), &wait_ms);
	if (rc)
		return rc;
	pc = poptGetContext(NULL, argc, (const char **)argv, options, 0);
	poptSetOtherOptionHelp(pc, "[OPTION...] ID --component WRITER/COMPONENT [--to DIR] | "
			       "--recover");
	rc = vss_cli_parse(pc);
	if (rc >= 0)
		goto out;
	if (!recover) {
		id_arg = poptGetArg(pc);
		if (!id_arg || poptPeekArg(pc) || !component) {
			vss_errorx(NULL, "%s (see --help)", !id_arg ? "no shadow copy id given" :
				   poptPeekArg(pc) ? "too many arguments" :
				   "no component given: --component WRITER/COMPONENT");
			rc = VSS_EXIT_USAGE;
			goto out;
		}
		rc = vss_cli_parse_id(id_arg, "shadow copy", &id);
		if (rc)
			goto out;
		if (!strchr(component, '/') || component[0] == '/' ||
		    !strchr(component, '/')[1]) {
			vss_errorx(component, "not a component: give WRITER/COMPONENT (an "
				   "unknown one lists the set's)");
			rc = VSS_EXIT_USAGE;
			goto out;
		}
		if (to && !*to) {
			vss_errorx(NULL, "--to: an empty directory name");
			rc = VSS_EXIT_USAGE;
			goto out;
		}
	} else if ((rc = vss_cli_no_args(pc)) >= 0) {
		goto out;
	} else if (component || to) {
		vss_errorx(NULL, "--recover takes no --component or --to (see --help)");
		rc = VSS_EXIT_USAGE;
		goto out;
	}
	if (wait_arg && (rc = vss_cli_duration("--wait", wait_arg, &wait_ms)))
		goto out;
	if (timeout_arg && (rc = vss_cli_duration("--timeout", timeout_arg, &opts.timeout_ms)))
		goto out;
	rc = vss_cli_context(&ctx, vss_opt_debug, NULL);
	if (rc)
		goto out;
	if (!recover) {
		rc = vss_cli_kernel_for_shadow(ctx, id);
		if (rc >= 0)
			goto out;
		/* an unknown id or component is said before any question */
		rc = check_component(ctx, id, component);
		if (rc >= 0)
			goto out;
		snprintf(object, sizeof(object), "shadow copy %" PRIu64, id);
		snprintf(question, sizeof(question), "replace the files of component %s with "
			 "their copies from shadow copy %" PRIu64 " (its writer stops and starts "
			 "the application)", component, id);
		if (!to && (rc = vss_cli_confirm(yes, object, question, "nothing restored")) >= 0)
			goto out;
	}
	r = vss_lock(ctx, (int)wait_ms);
	if (r) {
		if (r == -EBUSY)
			vss_errorx(NULL, "nothing restored: another command holds the lock "
				   "(--wait DURATION waits for it)");
		rc = vss_exit_from_errno(r, VSS_EXIT_BUSY);
		goto out;
	}
	if (recover) {
		r = vss_restore_recover(ctx, &recovered);
		if (r) {
			vss_cli_failed("restore journal", "cannot recover", r);
			rc = vss_exit_from_errno(r, VSS_EXIT_PROVIDER);
			goto out;
		}
		if (!vss_opt_quiet)
			printf("%u interrupted restore%s recovered.\n", recovered,
			       recovered == 1 ? "" : "s");
		rc = VSS_EXIT_OK;
		goto out;
	}
	opts.component = component;
	opts.to = to;
	r = vss_restore_component(ctx, id, &opts, &res);
	if (r) {
		vss_cli_failed(component, "cannot restore", r);
		rc = vss_exit_from_errno(r, r == -EINVAL ? VSS_EXIT_USAGE : VSS_EXIT_PROVIDER);
		goto out;
	}
	rc = VSS_EXIT_OK;
	if (to && realpath(to, dir))
		to = dir;
	if (json)
		print_json(&res, to);
	else if (!vss_opt_quiet)
		print_text(&res, to);
out:
	vss_restore_result_free(&res);
	vss_ctx_free(ctx);
	poptFreeContext(pc);
	return rc;
}
