// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The kernel's tables and status lines, read over dm.c's table reader (and
 * the fuzzers' stand-in for it, test/fuzz/fake-dm.c): a device's first
 * target, and the parsers of the targets' status lines.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vss-internal.h"

/* Copies the first target's type and parameters, if any; *n: the count. */
static int dm_target0(const char *name, bool status, char *type, size_t tsize,
		      char *params, size_t psize, size_t *n)
{
	struct vss_dm_target *t;
	int r;

	r = vss_dm_table(name, status, &t, n);
	if (r)
		return r;
	if (*n) {
		vss_strlcpy(type, t[0].type, tsize);
		vss_strlcpy(params, t[0].params, psize);
	}
	vss_dm_targets_free(t, *n);
	return 0;
}

int vss_dm_first(const char *name, bool status, char *type, size_t tsize,
		 char *params, size_t psize)
{
	size_t n;
	int r = dm_target0(name, status, type, tsize, params, psize, &n);

	return r ? r : n ? 0 : -ENODEV;
}

int vss_dm_single(const char *name, bool status, char *type, size_t tsize,
		  char *params, size_t psize)
{
	size_t n;
	int r = dm_target0(name, status, type, tsize, params, psize, &n);

	return r ? r : n == 1 ? 0 : -EPROTO;
}

/* ---- vss-snap, vss-origin ---- */

int vss_status_snap_parse(const char *params, struct vss_snap_status *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (!params || sscanf(params, "%u %15s %llu", &ss->snap_id, ss->state,
			      &ss->copied_chunks) != 3)
		return -EPROTO;
	return 0;
}

int vss_status_origin_parse(const char *params, struct vss_origin_status *os)
{
	int n;

	memset(os, 0, sizeof(*os));
	if (!params)
		return -EPROTO;
	n = sscanf(params, "%u %llu/%llu %*u/%*u %*u %7s", &os->chunk_sectors, &os->used_chunks,
		   &os->total_chunks, os->mode);
	if (n < 3)
		return -EPROTO;
	if (n < 4)
		os->mode[0] = 0;
	return 0;
}

/* ---- snapshot (the kernel's dm-snapshot) ---- */

int vss_status_snapshot_parse(const char *params, struct vss_snapshot_status *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (!params)
		return -EPROTO;
	if (!strncmp(params, "Invalid", 7) || !strncmp(params, "Merge failed", 12)) {
		ss->invalid = true;
		return 0;
	}
	if (!strncmp(params, "Overflow", 8)) {
		ss->overflow = true;
		return 0;
	}
	if (sscanf(params, "%llu/%llu %llu", &ss->alloc_sectors, &ss->total_sectors,
		   &ss->meta_sectors) != 3)
		return -EPROTO;
	return 0;
}

int vss_status_device_valid(const char *type, const char *params)
{
	struct vss_snapshot_status ps;
	struct vss_snap_status ss;

	if (!strcmp(type, "vss-snap"))
		return vss_status_snap_parse(params, &ss) ? -EPROTO : !strcmp(ss.state, "valid");
	if (!strcmp(type, "snapshot"))
		return vss_status_snapshot_parse(params, &ps) ? -EPROTO :
		       !ps.invalid && !ps.overflow;
	return -EPROTO;
}

bool vss_dm_device_valid(const char *name)
{
	struct vss_dm_target *t;
	size_t n;
	bool ok;

	if (vss_dm_table(name, true, &t, &n) || !n)
		return false;
	ok = vss_status_device_valid(t[0].type, t[0].params) == 1;
	vss_dm_targets_free(t, n);
	return ok;
}

unsigned int vss_table_snapshot_chunk(const char *table)
{
	unsigned int chunk = 0;

	if (table)
		sscanf(table, "%*s %*s %*s %u", &chunk);
	return chunk;
}

/* ---- vss-clone ---- */

int vss_clone_parse_status(const char *params, struct vss_clone_status *cs)
{
	unsigned long long region, synced, total;
	char state[16];
	int end = 0;

	memset(cs, 0, sizeof(*cs));
	if (!params ||
	    sscanf(params, "%llu %llu/%llu %15s%n", &region, &synced, &total, state, &end) != 4 ||
	    (params[end] && params[end] != ' ') || !region || region > UINT32_MAX ||
	    synced > total)
		return -EPROTO;
	if (strcmp(state, "syncing") && strcmp(state, "mirrored") && strcmp(state, "split") &&
	    strcmp(state, "fail"))
		return -EPROTO;
	cs->region_sectors = (uint32_t)region;
	cs->synced_regions = synced;
	cs->total_regions = total;
	vss_strlcpy(cs->state, state, sizeof(cs->state));
	return 0;
}

int vss_clone_read_status(const char *dm_name, struct vss_clone_status *cs)
{
	struct vss_dm_target *t = NULL;
	size_t n = 0;
	int r;

	memset(cs, 0, sizeof(*cs));
	r = vss_dm_table(dm_name, true, &t, &n);
	if (r)
		return r;
	if (n == 1 && !strcmp(t[0].type, "vss-clone"))
		r = vss_clone_parse_status(t[0].params, cs);
	else
		vss_strlcpy(cs->state, "off", sizeof(cs->state));
	vss_dm_targets_free(t, n);
	return r;
}
