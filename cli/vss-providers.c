// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vss-providers: the providers of this system and the volumes each serves.
 */
#include <errno.h>
#include <json-c/json.h>
#include <popt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli-common.h"
#include "libvsscore.h"

int main(int argc, char **argv)
{
	int json = 0;
	struct poptOption options[] = {
		{ "json", 'j', POPT_ARG_NONE, &json, 0, "JSON output", NULL },
		VSS_POPT_COMMON,
		VSS_POPT_HELP
		POPT_TABLEEND
	};
	struct vss_provider_info *p;
	struct vss_storage_info *st;
	struct vss_ctx *ctx;
	size_t n, ns, i;
	poptContext pc;
	int rc, r;

	vss_cli_init(argv[0]);
	pc = poptGetContext(NULL, argc, (const char **)argv, options, 0);
	rc = vss_cli_parse(pc);
	if (rc < 0)
		rc = vss_cli_no_args(pc);
	if (rc >= 0)
		return rc;
	rc = vss_cli_context(&ctx, vss_opt_debug, NULL);
	if (rc)
		return rc;
	r = vss_providers_list(ctx, &p, &n);
	if (!r)
		r = vss_storage_list(ctx, &st, &ns);
	if (r) {
		vss_cli_failed(NULL, "cannot list the providers", r);
		vss_ctx_free(ctx);
		return vss_exit_from_errno(r, VSS_EXIT_PROVIDER);
	}
	if (json) {
		json_object *arr = json_object_new_array();

		for (i = 0; i < n; i++) {
			json_object *o = json_object_new_object(), *v = json_object_new_array();
			size_t k;

			for (k = 0; k < ns; k++)
				if (!strcmp(st[k].provider, p[i].name))
					json_object_array_add(v, json_object_new_string(st[k].volume));
			json_object_object_add(o, "name", json_object_new_string(p[i].name));
			json_object_object_add(o, "kind", json_object_new_string(p[i].kind));
			json_object_object_add(o, "available", json_object_new_boolean(p[i].available));
			json_object_object_add(o, "detail", json_object_new_string(p[i].detail));
			json_object_object_add(o, "volumes", v);
			json_object_array_add(arr, o);
		}
		json_object *top = json_object_new_object();

		json_object_object_add(top, "providers", arr);
		printf("%s\n", json_object_to_json_string_ext(top, JSON_C_TO_STRING_PRETTY |
							      JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(top);
	} else {
		printf("%-16s %-9s %-10s %s\n", "Provider", "Kind", "Available", "Detail / volumes");
		for (i = 0; i < n; i++) {
			size_t k;

			printf("%-16s %-9s %-10s %s\n", p[i].name, p[i].kind,
			       p[i].available ? "yes" : "no", p[i].detail);
			for (k = 0; k < ns; k++)
				if (!strcmp(st[k].provider, p[i].name))
					printf("%-38s %s\n", "", st[k].volume);
		}
	}
	free(p);
	free(st);
	vss_ctx_free(ctx);
	poptFreeContext(pc);
	return 0;
}
