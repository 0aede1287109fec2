// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vss-receive: apply a send stream (vss-send) from standard input to a
 * block device or a regular file; or say what a target holds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <popt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli-common.h"
#include "libvsscore-stream.h"
#include "libvsscore.h"

static void uuid_str(const uint8_t u[16], char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
		 u[12], u[13], u[14], u[15]);
}

static void print(json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						      JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static void print_received(const char *target, const struct vss_stream_received *rx, bool json)
{
	const struct vss_stream_header *h = &rx->header;
	bool incremental = h->flags & VSS_STREAM_INCREMENTAL;
	char uuid[37];

	uuid_str(h->volume_uuid, uuid);
	if (json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "target", json_object_new_string(target));
		json_object_object_add(o, "volume_uuid", json_object_new_string(uuid));
		json_object_object_add(o, "shadow_id", json_object_new_uint64(h->to_id));
		json_object_object_add(o, "from_id", incremental ?
				       json_object_new_uint64(h->from_id) : NULL);
		json_object_object_add(o, "records", json_object_new_uint64(rx->totals.records));
		json_object_object_add(o, "data_bytes",
				       json_object_new_uint64(rx->totals.data_bytes));
		json_object_object_add(o, "zero_bytes",
				       json_object_new_uint64(rx->totals.zero_bytes));
		print(o);
		return;
	}
	if (vss_opt_quiet)
		return;
	if (incremental)
		printf("%s: received shadow copy %" PRIu64 " of volume %s (incremental from %" PRIu64
		       "): %" PRIu64 " records, %" PRIu64 " bytes of data, %" PRIu64
		       " bytes of zeros\n", target, h->to_id, uuid, h->from_id, rx->totals.records,
		       rx->totals.data_bytes, rx->totals.zero_bytes);
	else
		printf("%s: received shadow copy %" PRIu64 " of volume %s (full): %" PRIu64
		       " records, %" PRIu64 " bytes of data, %" PRIu64 " bytes of zeros\n",
		       target, h->to_id, uuid, rx->totals.records, rx->totals.data_bytes,
		       rx->totals.zero_bytes);
}

static void print_held(const char *target, const struct vss_stream_held *held, bool json)
{
	char uuid[37], when[32];
	time_t t = (time_t)held->ctime;
	struct tm tm;

	uuid_str(held->volume_uuid, uuid);
	if (!gmtime_r(&t, &tm) || !strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(when, sizeof(when), "@%" PRIu64, held->ctime);
	if (json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "target", json_object_new_string(target));
		json_object_object_add(o, "received", json_object_new_boolean(held->known));
		json_object_object_add(o, "complete", json_object_new_boolean(held->complete));
		json_object_object_add(o, "volume_uuid", held->known ?
				       json_object_new_string(uuid) : NULL);
		json_object_object_add(o, "shadow_id", held->known ?
				       json_object_new_uint64(held->shadow_id) : NULL);
		json_object_object_add(o, "created", held->known ?
				       json_object_new_string(when) : NULL);
		print(o);
	} else if (!held->known) {
		printf("%s: holds no received image\n", target);
	} else {
		printf("%s: holds %sshadow copy %" PRIu64 " of volume %s, created %s\n", target,
		       held->complete ? "" : "an incomplete image (not fully received) of ",
		       held->shadow_id, uuid, when);
	}
}

int main(int argc, char **argv)
{
	int json = 0, force = 0, status = 0;
	struct poptOption options[] = {
		{ "force", 'f', POPT_ARG_NONE, &force, 0,
		  "Apply an incremental stream whatever the target holds", NULL },
		{ "status", '\0', POPT_ARG_NONE, &status, 0,
		  "Print what TARGET holds; read no stream", NULL },
		{ "json", 'j', POPT_ARG_NONE, &json, 0,
		  "Print what was received (or, with --status, what TARGET holds) as JSON", NULL },
		VSS_POPT_COMMON,
		VSS_POPT_HELP
		POPT_TABLEEND
	};
	struct vss_stream_received rx;
	struct vss_ctx *ctx = NULL;
	const char *target;
	poptContext pc;
	int rc, r, in = STDIN_FILENO;

	vss_cli_init(argv[0]);
	pc = poptGetContext(NULL, argc, (const char **)argv, options, 0);
	poptSetOtherOptionHelp(pc, "[OPTION...] TARGET < STREAM");
	rc = vss_cli_parse(pc);
	if (rc >= 0)
		goto out;
	target = poptGetArg(pc);
	if (!target || poptPeekArg(pc)) {
		vss_errorx(NULL, "%s (see --help)", target ? "too many arguments: give one TARGET" :
			   "no target given (a block device or a file)");
		rc = VSS_EXIT_USAGE;
		goto out;
	}
	/* A stream may go into a file of the user's own. */
	vss_cli_any_user();
	rc = vss_cli_context(&ctx, vss_opt_debug, NULL);
	if (rc)
		goto out;
	if (status) {
		struct vss_stream_held held;

		r = vss_stream_target_held(ctx, target, &held);
		rc = vss_exit_from_errno(r, VSS_EXIT_USAGE);
		if (!r)
			print_held(target, &held, json);
		goto out;
	}
	if (isatty(in)) {
		vss_errorx("standard input", "is a terminal: give a stream, as in "
			   "vss-send ID | %s %s", vss_program_name(), target);
		rc = VSS_EXIT_USAGE;
		goto out;
	}
	r = vss_stream_receive(ctx, target, vss_stream_fd_read, &in,
			       force ? VSS_STREAM_RECEIVE_FORCE : 0, &rx);
	/*
	 * The library said what failed and why; not a valid stream is exit 1,
	 * a target holding another image than the stream needs 5.
	 */
	rc = r == -ESTALE ? VSS_EXIT_BUSY : vss_exit_from_errno(r, VSS_EXIT_USAGE);
	if (!r)
		print_received(target, &rx, json);
out:
	vss_ctx_free(ctx);
	poptFreeContext(pc);
	return rc;
}
