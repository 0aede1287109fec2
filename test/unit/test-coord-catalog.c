// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libvsscore: the catalog (atomic JSON), the lock, errno to exit status.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli-common.h"
#include "vss-internal.h"

static char dir[64];

static int setup(void **state)
{
	char buf[128];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vss-ut-cat.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(buf, sizeof(buf), "%s/state", dir);
	setenv("VSS_STATE_DIR", buf, 1);
	snprintf(buf, sizeof(buf), "%s/run", dir);
	setenv("VSS_RUN_DIR", buf, 1);
	snprintf(buf, sizeof(buf), "%s/conf", dir);
	setenv("VSS_CONF_DIR", buf, 1);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void test_ctx_dirs(void **state)
{
	struct vss_ctx *ctx;
	char buf[128];

	(void)state;
	assert_int_equal(vss_ctx_new(&ctx), 0);
	snprintf(buf, sizeof(buf), "%s/state", dir);
	assert_string_equal(vss_ctx_dir(ctx, "state"), buf);
	snprintf(buf, sizeof(buf), "%s/conf", dir);
	assert_string_equal(vss_ctx_dir(ctx, "conf"), buf);
	assert_null(vss_ctx_dir(ctx, "nope"));
	vss_ctx_free(ctx);
}

static void test_catalog_empty_and_roundtrip(void **state)
{
	struct vss_ctx *ctx;
	struct vss_shadow_info *sh;
	json_object *root, *set, *shs, *o;
	size_t n;
	char path[128];

	(void)state;
	assert_int_equal(vss_ctx_new(&ctx), 0);
	assert_int_equal(vss_catalog_load(ctx, &root), 0);
	assert_int_equal(vss_catalog_next_id(root, "next_set_id"), 1);
	assert_int_equal(vss_catalog_next_id(root, "next_set_id"), 2);
	set = json_object_new_object();
	json_object_object_add(set, "set_id", json_object_new_int64(7));
	json_object_object_add(set, "state", json_object_new_string("created"));
	json_object_object_add(set, "created", json_object_new_string("2024-05-01T10:20:30Z"));
	json_object_object_add(set, "tag", json_object_new_string("nightly"));
	shs = json_object_new_array();
	o = json_object_new_object();
	json_object_object_add(o, "shadow_id", json_object_new_int64(42));
	json_object_object_add(o, "volume", json_object_new_string("/dev/mapper/data"));
	json_object_object_add(o, "device", json_object_new_string("/dev/mapper/vss-42"));
	json_object_object_add(o, "provider", json_object_new_string("dm-vss-cow"));
	json_object_object_add(o, "state", json_object_new_string("created"));
	json_object_object_add(o, "snap_id", json_object_new_int64(42));
	json_object_array_add(shs, o);
	json_object_object_add(set, "shadows", shs);
	json_object_array_add(vss_json_array(root, "sets"), set);
	assert_int_equal(vss_catalog_save(ctx, root), 0);
	json_object_put(root);

	/* no temporary file is left beside it */
	snprintf(path, sizeof(path), "%s/state/catalog.json.tmp.%d", dir, (int)getpid());
	assert_int_not_equal(access(path, F_OK), 0);

	assert_int_equal(vss_shadow_list(ctx, &sh, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(sh[0].shadow_id, 42);
	assert_int_equal(sh[0].set_id, 7);
	assert_string_equal(sh[0].device, "/dev/mapper/vss-42");
	assert_string_equal(sh[0].tag, "nightly");
	assert_int_equal(sh[0].created, 1714558830);
	free(sh);

	assert_int_equal(vss_catalog_load(ctx, &root), 0);
	assert_int_equal(vss_json_int(root, "next_set_id"), 3);
	assert_non_null(vss_catalog_find_set(root, 7));
	assert_null(vss_catalog_find_set(root, 8));
	json_object_put(root);
	vss_ctx_free(ctx);
}

static void test_catalog_corrupt(void **state)
{
	struct vss_ctx *ctx;
	json_object *root;
	char path[128];
	FILE *f;

	(void)state;
	assert_int_equal(vss_ctx_new(&ctx), 0);
	snprintf(path, sizeof(path), "%s/state", dir);
	vss_mkdir_p(path, 0700);
	snprintf(path, sizeof(path), "%s/state/catalog.json", dir);
	f = fopen(path, "w");
	fputs("{ not json", f);
	fclose(f);
	assert_int_equal(vss_catalog_load(ctx, &root), -EUCLEAN);
	f = fopen(path, "w");
	fputs("{\"version\": 99}", f);
	fclose(f);
	assert_int_equal(vss_catalog_load(ctx, &root), -EPROTO);
	unlink(path);
	vss_ctx_free(ctx);
}

/* A creating set left by a dead process is dropped by the next lock. */
static void test_reconcile_dead_creator(void **state)
{
	struct vss_ctx *ctx;
	json_object *root, *set;
	pid_t pid;

	(void)state;
	pid = fork();
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	assert_int_equal(vss_ctx_new(&ctx), 0);
	assert_int_equal(vss_catalog_load(ctx, &root), 0);
	set = json_object_new_object();
	json_object_object_add(set, "set_id", json_object_new_int64(9));
	json_object_object_add(set, "state", json_object_new_string("creating"));
	json_object_object_add(set, "pid", json_object_new_int(pid));
	json_object_object_add(set, "shadows", json_object_new_array());
	json_object_array_add(vss_json_array(root, "sets"), set);
	assert_int_equal(vss_catalog_save(ctx, root), 0);
	json_object_put(root);
	assert_int_equal(vss_lock(ctx, 0), 0);
	assert_int_equal(vss_catalog_load(ctx, &root), 0);
	assert_null(vss_catalog_find_set(root, 9));
	json_object_put(root);
	vss_ctx_free(ctx);
}

static void test_lock_excludes(void **state)
{
	struct vss_ctx *a, *b;
	uint64_t t0;

	(void)state;
	assert_int_equal(vss_ctx_new(&a), 0);
	assert_int_equal(vss_ctx_new(&b), 0);
	assert_int_equal(vss_lock(a, 0), 0);
	assert_int_equal(vss_lock(b, 0), -EBUSY);
	t0 = vss_now_ms();
	assert_int_equal(vss_lock(b, 300), -EBUSY);
	assert_true(vss_now_ms() - t0 >= 250);
	vss_unlock(a);
	assert_int_equal(vss_lock(b, 0), 0);
	vss_ctx_free(b);
	vss_ctx_free(a);
}

static void test_exit_codes(void **state)
{
	(void)state;
	assert_int_equal(vss_exit_from_errno(0, 7), 0);
	assert_int_equal(vss_exit_from_errno(-EPERM, 7), 2);
	assert_int_equal(vss_exit_from_errno(-ENOSPC, 7), 3);
	assert_int_equal(vss_exit_from_errno(-ENOENT, 7), 4);
	assert_int_equal(vss_exit_from_errno(-EBUSY, 7), 5);
	assert_int_equal(vss_exit_from_errno(-ECANCELED, 7), 6);
	assert_int_equal(vss_exit_from_errno(-EIO, VSS_EXIT_PROVIDER), 7);
	assert_int_equal(vss_exit_from_errno(-ENOPKG, 1), 8);
	assert_string_equal(vss_strerror(-ECANCELED), "a writer failed or vetoed");
}

static void test_iso8601(void **state)
{
	char buf[32];

	(void)state;
	vss_iso8601(0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	assert_int_equal(vss_parse_iso8601("2001-09-09T01:46:40Z"), 1000000000);
	assert_int_equal(vss_parse_iso8601("junk"), 0);
}

/* vss_for_each_shadow: every copy in order, with its set, over empty sets; find by id */
static void test_for_each_shadow(void **state)
{
	json_object *root = json_tokener_parse(
		"{ \"sets\": [ { \"set_id\": 1, \"shadows\": [ { \"shadow_id\": 10 }, "
		"{ \"shadow_id\": 11 } ] }, { \"set_id\": 2, \"shadows\": [] }, "
		"{ \"set_id\": 3 }, { \"set_id\": 4, \"shadows\": [ { \"shadow_id\": 12 } ] } ] }");
	json_object *empty = json_tokener_parse("{}"), *sh, *set = NULL;
	struct vss_shadow_iter it;
	int64_t ids[4], sets[4];
	size_t n = 0;
	uint32_t snap = 0;

	(void)state;
	assert_non_null(root);
	vss_for_each_shadow(sh, &it, root) {
		assert_true(n < 4);
		ids[n] = vss_json_int(sh, "shadow_id");
		sets[n++] = vss_json_int(it.set, "set_id");
	}
	assert_int_equal(n, 3);
	assert_int_equal(ids[0], 10);
	assert_int_equal(sets[0], 1);
	assert_int_equal(ids[1], 11);
	assert_int_equal(sets[1], 1);
	assert_int_equal(ids[2], 12);
	assert_int_equal(sets[2], 4);
	vss_for_each_shadow(sh, &it, empty)
		fail();
	sh = vss_catalog_find_shadow(root, 12, &set);
	assert_non_null(sh);
	assert_int_equal(vss_json_int(set, "set_id"), 4);
	assert_null(vss_catalog_find_shadow(root, 13, NULL));
	json_object_put(root);
	json_object_put(empty);

	assert_int_equal(vss_snap_id_of(NULL, 4294967295ULL, &snap), 0);
	assert_int_equal(snap, 4294967295U);
	assert_int_equal(vss_snap_id_of(NULL, 4294967296ULL, &snap), -ERANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ctx_dirs),
		cmocka_unit_test(test_catalog_empty_and_roundtrip),
		cmocka_unit_test(test_catalog_corrupt),
		cmocka_unit_test(test_reconcile_dead_creator),
		cmocka_unit_test(test_lock_excludes),
		cmocka_unit_test(test_exit_codes),
		cmocka_unit_test(test_iso8601),
		cmocka_unit_test(test_for_each_shadow),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
