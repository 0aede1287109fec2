// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * requestor: the smallest program that asks libvsscore about shadow copies.
 *
 *   requestor              the library's version, then one line per shadow
 *                          copy of the catalog: ID SET VOLUME STATE CREATED
 *   requestor --version    the header's and the library's versions only
 *
 * It opens a context (VSS_STATE_DIR and the other directories come from the
 * environment, as for the commands), lists the catalog and closes.  Making
 * a set is vss_set_new(), vss_set_add_volume() and vss_set_commit() under
 * vss_lock(); vss-snapshot is that program in full.
 *
 * Build against an installed library:
 *   cc requestor.c $(pkg-config --cflags --libs libvsscore)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libvsscore.h>

static void on_log(int level, const char *msg, void *arg)
{
	(void)level;
	fprintf(stderr, "%s: %s\n", (const char *)arg, msg);
}

int main(int argc, char **argv)
{
	struct vss_shadow_info *shadows = NULL;
	struct vss_ctx *ctx;
	unsigned int number;
	const char *version = vss_version(&number);
	size_t count = 0, i;
	int r;

	/* a library older than the header lacks what the header promises */
	if (number < VSS_VERSION_CURRENT) {
		fprintf(stderr, "requestor: libvsscore %s is older than its header (%d.%d.%d)\n",
			version, VSS_VERSION_MAJOR, VSS_VERSION_MINOR, VSS_VERSION_PATCH);
		return 1;
	}
	if (argc > 1 && !strcmp(argv[1], "--version")) {
		printf("header %d.%d.%d library %s\n", VSS_VERSION_MAJOR, VSS_VERSION_MINOR,
		       VSS_VERSION_PATCH, version);
		return 0;
	}
	r = vss_ctx_new(&ctx);
	if (r) {
		fprintf(stderr, "requestor: cannot open a context: %s\n", vss_strerror(r));
		return 1;
	}
	vss_ctx_set_log(ctx, on_log, "requestor", VSS_LOG_WARN);
	r = vss_shadow_list(ctx, &shadows, &count);
	if (r) {
		fprintf(stderr, "requestor: cannot list the shadow copies: %s\n", vss_strerror(r));
		vss_ctx_free(ctx);
		return 1;
	}
	printf("libvsscore %s: %zu shadow cop%s\n", version, count, count == 1 ? "y" : "ies");
	for (i = 0; i < count; i++) {
		char when[32];
		struct tm tm;

		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&shadows[i].created, &tm));
		printf("%" PRIu64 " %" PRIu64 " %s %s %s\n", shadows[i].shadow_id, shadows[i].set_id,
		       shadows[i].volume, shadows[i].state, when);
	}
	free(shadows);
	vss_ctx_free(ctx);
	return 0;
}
