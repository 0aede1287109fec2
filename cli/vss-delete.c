// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vss-delete: delete shadow copies by id, by set, the oldest of a volume,
 * or all of a volume.
 *
 * An exposed (mounted) shadow copy is refused, never unmounted: it may be
 * under a running backup, and refusing loses nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <popt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli-common.h"
#include "libvsscore.h"
#include "report.h"

static const struct vss_shadow_info *find_shadow(const struct vss_shadow_info *sh, size_t n,
						 uint64_t id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (sh[i].shadow_id == id)
			return &sh[i];
	return NULL;
}

static int keep_first(int rc, int r)
{
	return rc ? rc : r;
}

/* Confirmed (-1), or the exit status: the ids and what they are, asked once. */
static int confirm(int yes, const struct vss_shadow_info *sh, size_t n, const uint64_t *ids,
		   size_t nids, const char *what)
{
	char question[512], object[360];
	const struct vss_shadow_info *s = find_shadow(sh, n, ids[0]);
	size_t i, len;

	if (nids == 1 && s) {
		snprintf(object, sizeof(object), "shadow copy %" PRIu64, ids[0]);
		snprintf(question, sizeof(question), "delete shadow copy %" PRIu64 " of %s",
			 ids[0], s->volume);
	} else {
		bool by_id = !strcmp(what, "by id");

		snprintf(object, sizeof(object), "%s", by_id ? "shadow copies" : what);
		len = (size_t)snprintf(question, sizeof(question), "delete %zu shadow cop%s%s%s%s:",
				       nids, nids == 1 ? "y" : "ies", by_id ? "" : " (",
				       by_id ? "" : what, by_id ? "" : ")");
		for (i = 0; i < nids && len < sizeof(question) - 24; i++)
			len += (size_t)snprintf(question + len, sizeof(question) - len, " %" PRIu64,
						ids[i]);
	}
	return vss_cli_confirm(yes, object, question, "nothing deleted");
}

/*
 * Whether a shadow copy is exposed: mounted now (the kernel's mount table)
 * or recorded exposed by vss-expose.  mnt gets where.
 */
static bool exposed(struct vss_ctx *ctx, const struct vss_shadow_info *s, char *mnt,
		    size_t size)
{
	struct vss_shadow_state st;

	if (!vss_shadow_get_state(ctx, s, &st) && st.mountpoint[0]) {
		snprintf(mnt, size, "%s", st.mountpoint);
		return true;
	}
	if (s->exposed[0]) {
		snprintf(mnt, size, "%s", s->exposed);
		return true;
	}
	return false;
}

static void said_deleted(const struct vss_shadow_info *s)
{
	if (!vss_opt_quiet)
		printf("Deleted shadow copy %" PRIu64 " of %s (%s).\n", s->shadow_id, s->volume,
		       s->device);
}

int main(int argc, char **argv)
{
	char *set_arg = NULL, *oldest = NULL, *all = NULL, *wait_arg = NULL;
	int yes = 0;
	struct poptOption options[] = {
		{ "set", 's', POPT_ARG_STRING, &set_arg, 0,
		  "Delete every shadow copy of this set", "ID" },
		{ "oldest", '\0', POPT_ARG_STRING, &oldest, 0,
		  "Delete the oldest shadow copy of this volume", "VOL" },
		{ "all", '\0', POPT_ARG_STRING, &all, 0,
		  "Delete every shadow copy of this volume", "VOL" },
		VSS_POPT_YES(yes),
		VSS_POPT_WAIT(wait_arg, "Wait up to DURATION for another command holding the "
			      "lock (default: fail at once)"),
		VSS_POPT_COMMON,
		VSS_POPT_HELP
		POPT_TABLEEND
	};
	struct vss_shadow_info *sh = NULL;
	struct vss_ctx *ctx = NULL;
	uint64_t *ids = NULL, set_id = 0;
	size_t n = 0, nids = 0, i, nforms;
	const char **args;
	char volpath[300], what[340], mnt[256];
	bool any_exposed = false;
	poptContext pc;
	unsigned int wait_ms = 0;
	int rc = VSS_EXIT_OK, r;

	vss_cli_init(argv[0]);
	pc = poptGetContext(NULL, argc, (const char **)argv, options, 0);
	poptSetOtherOptionHelp(pc, "[OPTION...] ID... | --set ID | --oldest VOL | --all VOL");
	rc = vss_cli_parse(pc);
	if (rc >= 0)
		goto out;
	rc = VSS_EXIT_OK;
	args = poptGetArgs(pc);
	for (nids = 0; args && args[nids]; nids++)
		;
	nforms = (nids > 0) + !!set_arg + !!oldest + !!all;
	if (nforms != 1) {
		vss_errorx(NULL, "%s (see --help)", nforms ? "give only one of ID..., --set, "
			   "--oldest and --all" : "no shadow copy given: ID..., --set ID, "
			   "--oldest VOL or --all VOL");
		rc = VSS_EXIT_USAGE;
		goto out;
	}
	if (set_arg && (rc = vss_cli_parse_id(set_arg, "set", &set_id)))
		goto out;
	if (wait_arg && (rc = vss_cli_duration("--wait", wait_arg, &wait_ms)))
		goto out;
	ids = calloc(nids + 1, sizeof(*ids));
	if (!ids) {
		rc = VSS_EXIT_NO_RESOURCES;
		goto out;
	}
	for (i = 0; i < nids; i++)
		if ((rc = vss_cli_parse_id(args[i], "shadow copy", &ids[i])))
			goto out;
	rc = vss_cli_context(&ctx, vss_opt_debug, NULL);
	if (rc)
		goto out;

	/* What to delete, decided (and confirmed) before the lock is taken,
	 * so that a question on the terminal never holds up other commands. */
	r = vss_shadow_list(ctx, &sh, &n);
	if (r) {
		vss_cli_failed("catalog", "cannot read", r);
		rc = vss_exit_from_errno(r, VSS_EXIT_NO_RESOURCES);
		goto out;
	}
	if (oldest || all) {
		const struct vss_shadow_info *old = NULL;

		r = vss_cli_volume_path(ctx, oldest ? oldest : all, volpath, sizeof(volpath));
		if (r) {
			rc = vss_exit_from_errno(r, VSS_EXIT_NOT_FOUND);
			goto out;
		}
		free(ids);
		ids = calloc(n + 1, sizeof(*ids));
		if (!ids) {
			rc = VSS_EXIT_NO_RESOURCES;
			goto out;
		}
		for (i = 0; i < n; i++) {
			if (strcmp(sh[i].volume, volpath))
				continue;
			if (all)
				ids[nids++] = sh[i].shadow_id;
			else if (!old || sh[i].created < old->created ||
				 (sh[i].created == old->created && sh[i].shadow_id < old->shadow_id))
				old = &sh[i];
		}
		if (old)
			ids[nids++] = old->shadow_id;
		if (!nids) {
			vss_errorx(oldest ? oldest : all, "no shadow copies");
			rc = VSS_EXIT_NOT_FOUND;
			goto out;
		}
		snprintf(what, sizeof(what), "%s of %s", all ? "all" : "the oldest", volpath);
	} else if (set_arg) {
		struct vss_set_info *sets = NULL;
		size_t nsets = 0;
		bool found = false;

		r = vss_set_list(ctx, &sets, &nsets);
		for (i = 0; !r && i < nsets; i++)
			if (sets[i].set_id == set_id)
				found = true;
		free(sets);
		if (!found) {
			if (r)
				vss_cli_failed("catalog", "cannot read", r);
			else
				vss_errorx(NULL, "set %" PRIu64 ": no such set (see vss-list --sets)", set_id);
			rc = r ? vss_exit_from_errno(r, VSS_EXIT_NO_RESOURCES) : VSS_EXIT_NOT_FOUND;
			goto out;
		}
		free(ids);
		ids = calloc(n + 1, sizeof(*ids));
		if (!ids) {
			rc = VSS_EXIT_NO_RESOURCES;
			goto out;
		}
		for (i = 0; i < n; i++)
			if (sh[i].set_id == set_id)
				ids[nids++] = sh[i].shadow_id;
		snprintf(what, sizeof(what), "set %" PRIu64, set_id);
	} else {
		snprintf(what, sizeof(what), "%s", nids == 1 ? args[0] : "by id");
	}
	for (i = 0; i < nids; i++) {
		const struct vss_shadow_info *s = find_shadow(sh, n, ids[i]);

		/* nothing is forgotten that the kernel cannot remove */
		if (s && (rc = vss_cli_need_kernel(s->provider)) >= 0)
			goto out;
	}
	rc = VSS_EXIT_OK;
	/* ids none of which exist are named below without a question */
	for (i = 0; i < nids && !find_shadow(sh, n, ids[i]); i++)
		;
	rc = i < nids ? confirm(yes, sh, n, ids, nids, what) : -1;
	if (rc >= 0)
		goto out;
	rc = VSS_EXIT_OK;

	r = vss_lock(ctx, (int)wait_ms);
	if (r) {
		if (r == -EBUSY)
			vss_errorx(NULL, "nothing deleted: another command holds the lock "
				   "(--wait SECONDS waits for it)");
		rc = vss_exit_from_errno(r, VSS_EXIT_BUSY);
		goto out;
	}
	/* Taking the lock reconciled the catalog: read it again. */
	free(sh);
	sh = NULL;
	r = vss_shadow_list(ctx, &sh, &n);
	if (r) {
		vss_cli_failed("catalog", "cannot read", r);
		rc = vss_exit_from_errno(r, VSS_EXIT_NO_RESOURCES);
		goto out;
	}
	for (i = 0; i < nids; i++) {
		const struct vss_shadow_info *s = find_shadow(sh, n, ids[i]);

		if (s && exposed(ctx, s, mnt, sizeof(mnt)))
			any_exposed = true;
	}
	if (set_arg && !any_exposed) {
		/* The whole set at once: one catalog write. */
		r = vss_set_delete(ctx, set_id);
		if (r) {
			vss_cli_failed(what, "cannot delete", r);
			rc = vss_exit_from_errno(r, VSS_EXIT_PROVIDER);
		}
		for (i = 0; i < nids; i++) {
			const struct vss_shadow_info *s = find_shadow(sh, n, ids[i]);
			struct vss_shadow_info *left = NULL;
			size_t nleft = 0;

			if (!s)
				continue;
			if (r && !vss_shadow_list(ctx, &left, &nleft) &&
			    find_shadow(left, nleft, ids[i])) {
				free(left);
				continue;
			}
			free(left);
			said_deleted(s);
		}
		goto out;
	}
	for (i = 0; i < nids; i++) {
		const struct vss_shadow_info *s = find_shadow(sh, n, ids[i]);
		char obj[48];

		snprintf(obj, sizeof(obj), "shadow copy %" PRIu64, ids[i]);
		if (!s) {
			vss_errorx(obj, "no such shadow copy (see vss-list)");
			rc = keep_first(rc, VSS_EXIT_NOT_FOUND);
			continue;
		}
		if (exposed(ctx, s, mnt, sizeof(mnt))) {
			vss_errorx(obj, "cannot delete: exposed at %s (run vss-unexpose %" PRIu64
				   " first; nothing was unmounted)", mnt, ids[i]);
			rc = keep_first(rc, VSS_EXIT_BUSY);
			continue;
		}
		r = vss_shadow_delete(ctx, ids[i]);
		if (r) {
			vss_cli_failed(obj, "cannot delete", r);
			rc = keep_first(rc, vss_exit_from_errno(r, VSS_EXIT_PROVIDER));
			continue;
		}
		said_deleted(s);
	}
out:
	free(ids);
	free(sh);
	vss_ctx_free(ctx);
	poptFreeContext(pc);
	return rc;
}
