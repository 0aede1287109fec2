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

/* What the command deletes: the ids given, or chosen by --oldest, --all or --set. */
struct selection {
	uint64_t *ids;
	size_t nids;
	char what[340];
};

/* The oldest, or all, shadow copies of volume vol: -1, or the exit status. */
static int select_volume(struct vss_ctx *ctx, const struct vss_shadow_info *sh, size_t n,
			 const char *vol, bool all, struct selection *sel)
{
	const struct vss_shadow_info *old = NULL;
	char volpath[300];
	size_t i;
	int r;

	r = vss_cli_volume_path(ctx, vol, volpath, sizeof(volpath));
	if (r)
		return vss_exit_from_errno(r, VSS_EXIT_NOT_FOUND);
	sel->ids = calloc(n + 1, sizeof(*sel->ids));
	if (!sel->ids)
		return VSS_EXIT_NO_RESOURCES;
	for (i = 0; i < n; i++) {
		if (strcmp(sh[i].volume, volpath))
			continue;
		if (all)
			sel->ids[sel->nids++] = sh[i].shadow_id;
		else if (!old || sh[i].created < old->created ||
			 (sh[i].created == old->created && sh[i].shadow_id < old->shadow_id))
			old = &sh[i];
	}
	if (old)
		sel->ids[sel->nids++] = old->shadow_id;
	if (!sel->nids) {
		vss_errorx(vol, "no shadow copies");
		return VSS_EXIT_NOT_FOUND;
	}
	snprintf(sel->what, sizeof(sel->what), "%s of %s", all ? "all" : "the oldest", volpath);
	return -1;
}

/* Every shadow copy of set set_id: -1, or the exit status. */
static int select_set(struct vss_ctx *ctx, const struct vss_shadow_info *sh, size_t n,
		      uint64_t set_id, struct selection *sel)
{
	struct vss_set_info *sets = NULL;
	size_t nsets = 0, i;
	bool found = false;
	int r;

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
		return r ? vss_exit_from_errno(r, VSS_EXIT_NO_RESOURCES) : VSS_EXIT_NOT_FOUND;
	}
	sel->ids = calloc(n + 1, sizeof(*sel->ids));
	if (!sel->ids)
		return VSS_EXIT_NO_RESOURCES;
	for (i = 0; i < n; i++)
		if (sh[i].set_id == set_id)
			sel->ids[sel->nids++] = sh[i].shadow_id;
	snprintf(sel->what, sizeof(sel->what), "set %" PRIu64, set_id);
	return -1;
}

/* The ids given on the command line: -1, or the exit status. */
static int select_ids(const char **args, size_t nargs, struct selection *sel)
{
	size_t i;
	int rc;

	sel->ids = calloc(nargs + 1, sizeof(*sel->ids));
	if (!sel->ids)
		return VSS_EXIT_NO_RESOURCES;
	for (i = 0; i < nargs; i++)
		if ((rc = vss_cli_parse_id(args[i], "shadow copy", &sel->ids[i])))
			return rc;
	sel->nids = nargs;
	snprintf(sel->what, sizeof(sel->what), "%s", nargs == 1 ? args[0] : "by id");
	return -1;
}

/* A whole set at once, one catalog write; each copy gone is said. */
static int delete_set(struct vss_ctx *ctx, const struct vss_shadow_info *sh, size_t n,
		      uint64_t set_id, const struct selection *sel)
{
	int rc = VSS_EXIT_OK, r;
	size_t i;

	r = vss_set_delete(ctx, set_id);
	if (r) {
		vss_cli_failed(sel->what, "cannot delete", r);
		rc = vss_exit_from_errno(r, VSS_EXIT_PROVIDER);
	}
	for (i = 0; i < sel->nids; i++) {
		const struct vss_shadow_info *s = find_shadow(sh, n, sel->ids[i]);
		struct vss_shadow_info *left = NULL;
		size_t nleft = 0;

		if (!s)
			continue;
		if (r && !vss_shadow_list(ctx, &left, &nleft) &&
		    find_shadow(left, nleft, sel->ids[i])) {
			free(left);
			continue;
		}
		free(left);
		said_deleted(s);
	}
	return rc;
}

/* One shadow copy after another; the first failure's status is the exit status. */
static int delete_each(struct vss_ctx *ctx, const struct vss_shadow_info *sh, size_t n,
		       const struct selection *sel)
{
	int rc = VSS_EXIT_OK, r;
	char mnt[256];
	size_t i;

	for (i = 0; i < sel->nids; i++) {
		const struct vss_shadow_info *s = find_shadow(sh, n, sel->ids[i]);
		char obj[48];

		snprintf(obj, sizeof(obj), "shadow copy %" PRIu64, sel->ids[i]);
		if (!s) {
			vss_errorx(obj, "no such shadow copy (see vss-list)");
			rc = keep_first(rc, VSS_EXIT_NOT_FOUND);
			continue;
		}
		if (exposed(ctx, s, mnt, sizeof(mnt))) {
			vss_errorx(obj, "cannot delete: exposed at %s (run vss-unexpose %" PRIu64
				   " first; nothing was unmounted)", mnt, sel->ids[i]);
			rc = keep_first(rc, VSS_EXIT_BUSY);
			continue;
		}
		r = vss_shadow_delete(ctx, sel->ids[i]);
		if (r) {
			vss_cli_failed(obj, "cannot delete", r);
			rc = keep_first(rc, vss_exit_from_errno(r, VSS_EXIT_PROVIDER));
			continue;
		}
		said_deleted(s);
	}
	return rc;
}

/*
 * Before the lock: the kernel can remove every copy selected (nothing is
 * forgotten that it cannot), and the user confirmed.  -1, or the exit status.
 */
static int ready_to_delete(int yes, const struct vss_shadow_info *sh, size_t n,
			   const struct selection *sel)
{
	size_t i;
	int rc;

	for (i = 0; i < sel->nids; i++) {
		const struct vss_shadow_info *s = find_shadow(sh, n, sel->ids[i]);

		if (s && (rc = vss_cli_need_kernel(s->provider)) >= 0)
			return rc;
	}
	/* ids none of which exist are named later without a question */
	for (i = 0; i < sel->nids && !find_shadow(sh, n, sel->ids[i]); i++)
		;
	return i < sel->nids ? confirm(yes, sh, n, sel->ids, sel->nids, sel->what) : -1;
}

int main(int argc, char **argv)
{
	char *set_arg = NULL, *oldest = NULL, *all = NULL, *wait_arg = NULL;
	char wait_help[160];
	int yes = 0;
	struct poptOption options[] = {
		{ "set", 's', POPT_ARG_STRING, &set_arg, 0,
		  "Delete every shadow copy of this set", "ID" },
		{ "oldest", '\0', POPT_ARG_STRING, &oldest, 0,
		  "Delete the oldest shadow copy of this volume", "VOL" },
		{ "all", '\0', POPT_ARG_STRING, &all, 0,
		  "Delete every shadow copy of this volume", "VOL" },
		VSS_POPT_YES(yes),
		VSS_POPT_WAIT(wait_arg, wait_help),
		VSS_POPT_COMMON,
		VSS_POPT_HELP
		POPT_TABLEEND
	};
	struct selection sel = { 0 };
	struct vss_shadow_info *sh = NULL;
	struct vss_ctx *ctx = NULL;
	uint64_t set_id = 0;
	size_t n = 0, nargs, i, nforms;
	const char **args;
	char mnt[256];
	bool any_exposed = false;
	poptContext pc;
	unsigned int wait_ms = 0;
	int rc, r;

	vss_cli_init(argv[0]);
	rc = vss_cli_lock_wait(wait_help, sizeof(wait_help), &wait_ms);
	if (rc)
		return rc;
	pc = poptGetContext(NULL, argc, (const char **)argv, options, 0);
	poptSetOtherOptionHelp(pc, "[OPTION...] ID... | --set ID | --oldest VOL | --all VOL");
	rc = vss_cli_parse(pc);
	if (rc >= 0)
		goto out;
	args = poptGetArgs(pc);
	for (nargs = 0; args && args[nargs]; nargs++)
		;
	nforms = (nargs > 0) + !!set_arg + !!oldest + !!all;
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
	if (nargs && (rc = select_ids(args, nargs, &sel)) >= 0)
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
	if (oldest || all)
		rc = select_volume(ctx, sh, n, oldest ? oldest : all, all != NULL, &sel);
	else if (set_arg)
		rc = select_set(ctx, sh, n, set_id, &sel);
	else
		rc = -1;
	if (rc < 0)
		rc = ready_to_delete(yes, sh, n, &sel);
	if (rc >= 0)
		goto out;

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
	for (i = 0; i < sel.nids; i++) {
		const struct vss_shadow_info *s = find_shadow(sh, n, sel.ids[i]);

		if (s && exposed(ctx, s, mnt, sizeof(mnt)))
			any_exposed = true;
	}
	if (set_arg && !any_exposed)
		rc = delete_set(ctx, sh, n, set_id, &sel);
	else
		rc = delete_each(ctx, sh, n, &sel);
out:
	free(sel.ids);
	free(sh);
	vss_ctx_free(ctx);
	poptFreeContext(pc);
	return rc;
}
