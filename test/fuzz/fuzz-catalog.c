// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target: the catalog (<state dir>/catalog.json) and the
 * functions that walk it.
 *
 * Each input is written as the catalog of a scratch state directory and
 * read through vss_catalog_load(), then through what every command does
 * with it: the lists (vss_shadow_list, vss_set_list, vss_storage_list,
 * vss_writers_list), the kernel's view of each shadow copy
 * (vss_shadow_get_state, over the fake device-mapper of fake-dm.c: a
 * device exists when a line of the input after a NUL byte names it), the
 * id counters, the provider lookup and the reconciliation after a crash
 * (vss_catalog_reconcile), whose rewritten catalog is loaded once more.
 *
 * fuzz-sources: libvsscore/[a-z]*.c -libvsscore/dm.c test/fuzz/fake-dm.c test/fuzz/scratch.c
 * fuzz-ldflags: -Wl,--wrap=access,--wrap=execl,--wrap=open -ljson-c -lblkid
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vss-internal.h"
#include "fake-dm.h"
#include "scratch.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vss_ctx *ctx;
static char catalog[300];
static size_t sink;

static void on_log(int level, const char *msg, void *arg)
{
	(void)arg;
	sink += strlen(msg) + (unsigned int)level;
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "log %d: %s\n", level, msg);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[300];
	const char *d;

	(void)argc; (void)argv;
	d = scratch_dir("fuzz-catalog");
	/* The state, run and conf directories of a context all live here. */
	snprintf(dir, sizeof(dir), "%s/state", d);
	setenv("VSS_STATE_DIR", dir, 1);
	snprintf(catalog, sizeof(catalog), "%s/catalog.json", dir);
	snprintf(dir, sizeof(dir), "%s/run", d);
	setenv("VSS_RUN_DIR", dir, 1);
	snprintf(dir, sizeof(dir), "%s/conf", d);
	setenv("VSS_CONF_DIR", dir, 1);
	unsetenv("FUZZ_EXEC_ALLOW");
	if (vss_ctx_new(&ctx))
		abort();
	vss_ctx_set_log(ctx, on_log, NULL, VSS_LOG_DEBUG);
	if (vss_mkdir_p(vss_ctx_dir(ctx, "state"), 0700))
		abort();
	return 0;
}

static void write_catalog(const uint8_t *data, size_t size)
{
	int fd = open(catalog, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
}

static void walk_root(json_object *root)
{
	json_object *sets = vss_json_array(root, "sets");
	json_object *storage = vss_json_array(root, "storage");
	size_t i;

	if (!sets || !storage || !vss_json_array(root, "writers"))
		abort();	/* vss_catalog_load() promises all three */
	for (i = 0; i < json_object_array_length(sets); i++) {
		json_object *set = json_object_array_get_idx(sets, i);
		json_object *shs = vss_json_array(set, "shadows");
		struct vss_pshadow ps;
		struct vss_shadow_info info;
		size_t j;

		if (vss_catalog_find_set(root, vss_json_int(set, "set_id")) == NULL)
			abort();
		for (j = 0; shs && j < json_object_array_length(shs); j++) {
			json_object *sh = json_object_array_get_idx(shs, j);

			vss_catalog_shadow_to_info(set, sh, &info);
			vss_pshadow_from_json(sh, &ps);
			sink += info.snap_id + strlen(ps.dm_name) + (ps.ops != NULL);
		}
	}
	for (i = 0; i < json_object_array_length(storage); i++) {
		const char *name = vss_json_str(json_object_array_get_idx(storage, i), "name");
		struct vss_pshadow ps;

		if (name && !vss_catalog_find_storage(root, name))
			abort();
		memset(&ps, 0, sizeof(ps));
		if (name && vss_provider_select(ctx, root, name, NULL, &ps) == 0 && !ps.ops)
			abort();
	}
	sink += vss_catalog_next_id(root, "next_set_id") + vss_catalog_next_id(root, "next_shadow_id");
}

static void walk_lists(void)
{
	struct vss_shadow_info *sh;
	struct vss_storage_info *st;
	struct vss_set_info *sets;
	struct vss_writer_info *wr;
	size_t n, i;

	if (vss_shadow_list(ctx, &sh, &n) == 0) {
		for (i = 0; i < n; i++) {
			struct vss_shadow_state state;

			if (vss_shadow_get_state(ctx, &sh[i], &state))
				abort();
			sink += strlen(state.state) + strlen(state.detail) + state.copied_bytes;
		}
		free(sh);
	}
	if (vss_storage_list(ctx, &st, &n) == 0) {
		for (i = 0; i < n; i++)
			sink += st[i].chunk_sectors + strlen(st[i].name);
		free(st);
	}
	if (vss_set_list(ctx, &sets, &n) == 0) {
		for (i = 0; i < n; i++)
			sink += sets[i].shadow_count + strlen(sets[i].context);
		free(sets);
	}
	if (vss_writers_list(ctx, false, &wr, &n) == 0)
		free(wr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t clen = nul ? (size_t)(nul - data) : size;
	json_object *root;

	/* After a NUL byte: the devices that exist (fake-dm.h). */
	if (nul)
		fake_dm_parse((const char *)nul + 1, size - clen - 1);
	else
		fake_dm_reset();
	write_catalog(data, clen);
	if (vss_catalog_load(ctx, &root) == 0) {
		walk_root(root);
		json_object_put(root);
	}
	walk_lists();
	if (vss_lock(ctx, 0) == 0) {
		if (vss_catalog_reconcile(ctx) == 0 && vss_catalog_load(ctx, &root) == 0) {
			walk_root(root);
			json_object_put(root);
		}
		vss_unlock(ctx);
	}
	fake_dm_reset();
	return 0;
}
