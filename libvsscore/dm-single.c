// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The one target of a single-target device, over dm.c's table reader (and
 * the fuzzers' stand-in for it, test/fuzz/fake-dm.c).
 */
#include <errno.h>

#include "vss-internal.h"

int vss_dm_single(const char *name, bool status, char *type, size_t tsize,
		  char *params, size_t psize)
{
	struct vss_dm_target *t;
	size_t n;
	int r;

	r = vss_dm_table(name, status, &t, &n);
	if (r)
		return r;
	if (n != 1) {
		vss_dm_targets_free(t, n);
		return -EPROTO;
	}
	vss_strlcpy(type, t[0].type, tsize);
	vss_strlcpy(params, t[0].params, psize);
	vss_dm_targets_free(t, n);
	return 0;
}
