// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A writer's component is backed up as a unit (the rule of VSS): when one
 * of its files lies on a volume of the set, every other file of it must
 * lie on a volume of the set too, or the set would hold half of it
 * (PostgreSQL's data directory without its pg_wal on another volume, say).
 * This finds the files that break the rule; set.c adds their volumes to
 * the set or refuses it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vss-internal.h"

struct gap_walk {
	const dev_t *set_devs;
	size_t n_devs;
	struct vss_component_gap *gaps;
	size_t n;
	int err;
};

static bool in_set(const struct gap_walk *g, dev_t dev)
{
	size_t i;

	for (i = 0; i < g->n_devs; i++)
		if (g->set_devs[i] == dev)
			return true;
	return false;
}

static int add_gap(struct gap_walk *g, const char *writer, const char *component,
		   const char *file, dev_t dev)
{
	struct vss_component_gap *tmp, *x;

	tmp = realloc(g->gaps, (g->n + 1) * sizeof(*tmp));
	if (!tmp)
		return -ENOMEM;
	g->gaps = tmp;
	x = &g->gaps[g->n++];
	memset(x, 0, sizeof(*x));
	vss_strlcpy(x->writer, writer, sizeof(x->writer));
	vss_strlcpy(x->component, component, sizeof(x->component));
	vss_strlcpy(x->file, file, sizeof(x->file));
	x->devno = dev;
	if (vss_dm_name_of_devno(dev, x->dm_name, sizeof(x->dm_name)))
		x->dm_name[0] = '\0';
	return 0;
}

/*
 * One component: a file that does not exist (yet: a -wal file) has no
 * volume and is passed over; the others are either on the set's volumes or
 * gaps, and the gaps count only when the component is in the set at all.
 */
static int component_gaps(void *arg, const char *writer, const char *component,
			  json_object *files)
{
	struct gap_walk *g = arg;
	size_t i, first = g->n;
	bool touches = false;
	int r;

	for (i = 0; files && i < json_object_array_length(files); i++) {
		const char *f = json_object_get_string(json_object_array_get_idx(files, i));
		struct stat st;

		if (!f || f[0] != '/' || stat(f, &st))
			continue;
		if (in_set(g, st.st_dev)) {
			touches = true;
			continue;
		}
		r = add_gap(g, writer, component, f, st.st_dev);
		if (r)
			return r;
	}
	if (!touches)
		g->n = first;
	return 0;
}

int vss_component_gaps(struct vss_writers *ws, const dev_t *set_devs, size_t n_devs,
		       struct vss_component_gap **gaps, size_t *n_gaps)
{
	struct gap_walk g = { .set_devs = set_devs, .n_devs = n_devs };
	int r;

	r = vss_writers_for_each_component(ws, component_gaps, &g);
	if (r) {
		free(g.gaps);
		return r;
	}
	*gaps = g.gaps;
	*n_gaps = g.n;
	return 0;
}
