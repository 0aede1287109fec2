// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The first target of a device's table or status, over dm.c's table reader
 * (and the fuzzers' stand-in for it, test/fuzz/fake-dm.c).
 */
#include <errno.h>

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
