// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vss-revert's changed-chunk computation on store images built with the
 * libvsscore store writer: which origin chunks a snapshot differs from its
 * origin at, and how many copies a revert's writes would make for the
 * newest snapshot.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "libvsscore.h"
#include "libvsscore-store.h"
#include "store-write.h"
#include "vss-ondisk.h"

#define MIB (1024U * 1024U)
#define STORE_BYTES (4 * MIB)
#define ORIGIN_SECTORS 16384	/* 8 MiB: 2048 chunks of 4 KiB */

struct fix {
	unsigned char *img;
	struct vss_store *store;
};

static int setup(void **state)
{
	struct fix *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	fx->img = calloc(1, STORE_BYTES);
	assert_non_null(fx->img);
	assert_int_equal(vss_store_format_image(fx->img, STORE_BYTES, ORIGIN_SECTORS, 8), 0);
	assert_int_equal(vss_store_open_image(fx->img, STORE_BYTES, VSS_STORE_WRITE, NULL,
					      &fx->store), 0);
	assert_int_equal(vss_store_load(fx->store), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fix *fx = *state;

	vss_store_close(fx->store);
	free(fx->img);
	free(fx);
	return 0;
}

static void snap(struct fix *fx, uint32_t id, uint32_t want_epoch)
{
	uint32_t epoch = 0;

	assert_int_equal(vss_store_snap_create(fx->store, id, 1700000000 + id, &epoch), 0);
	assert_int_equal(epoch, want_epoch);
}

static void rec(struct fix *fx, uint64_t data, uint64_t ochunk, uint32_t epoch)
{
	assert_int_equal(vss_store_set_record(fx->store, data, ochunk, epoch), 0);
}

static void check(struct fix *fx)
{
	struct vss_store_info info;

	assert_int_equal(vss_store_write_sb(fx->store), 0);
	assert_int_equal(vss_store_check(fx->store), 0);
	vss_store_get_info(fx->store, &info);
	assert_true(info.checked);
	assert_int_equal(info.nr_fatal, 0);
}

/* The chunks of snap_id equal want[0..n), and new_copies want_copies. */
static void expect(struct fix *fx, uint32_t snap_id, const uint64_t *want, size_t n,
		   uint64_t want_copies)
{
	uint64_t *chunks = NULL, copies = 99;
	size_t count = 99, i;

	assert_int_equal(vss_shadow_changed_chunks(fx->store, snap_id, &chunks, &count,
						   &copies), 0);
	assert_int_equal(count, n);
	for (i = 0; i < n; i++)
		assert_int_equal(chunks[i], want[i]);
	assert_int_equal(copies, want_copies);
	free(chunks);
}

/*
 * Snapshots 1, 2, 3 (epochs 1, 2, 3).  Origin chunk 10 was written after 1
 * only; 8 after 2; 9 after 3; 7 after 1 and again after 3.  The records sit
 * in data chunks of two groups, in no particular order.
 */
static void build_three(struct fix *fx)
{
	snap(fx, 1, 1);
	snap(fx, 2, 2);
	snap(fx, 3, 3);
	rec(fx, 5, 10, 1);
	rec(fx, 0, 7, 1);
	rec(fx, 300, 8, 2);
	rec(fx, 2, 9, 3);
	rec(fx, 1, 7, 3);
	check(fx);
}

static void test_changed_per_snapshot(void **state)
{
	struct fix *fx = *state;
	static const uint64_t s1[] = { 7, 8, 9, 10 }, s2[] = { 7, 8, 9 }, s3[] = { 7, 9 };

	build_three(fx);
	/*
	 * Reverting to 1 writes 7, 8, 9, 10; 7 and 9 have a copy for 3 (the
	 * newest) already, 8 and 10 do not and are copied for it.
	 */
	expect(fx, 1, s1, 4, 2);
	expect(fx, 2, s2, 3, 1);
	/* The newest snapshot: every changed chunk is copied for it already. */
	expect(fx, 3, s3, 2, 0);
}

static void test_nothing_changed(void **state)
{
	struct fix *fx = *state;
	uint64_t *chunks = (uint64_t *)1, copies = 99;
	size_t count = 99;

	snap(fx, 42, 1);
	check(fx);
	assert_int_equal(vss_shadow_changed_chunks(fx->store, 42, &chunks, &count, &copies), 0);
	assert_null(chunks);
	assert_int_equal(count, 0);
	assert_int_equal(copies, 0);
}

static void test_dropped_and_deleted(void **state)
{
	struct fix *fx = *state;
	static const uint64_t s1[] = { 7, 8, 9, 10 };
	uint64_t *chunks = NULL;
	size_t count = 0;

	build_three(fx);
	/* A dropped or invalid snapshot is not reverted to. */
	assert_int_equal(vss_store_snap_set_state(fx->store, 2, VSS_SNAP_DROPPED), 0);
	assert_int_equal(vss_store_snap_set_state(fx->store, 3, VSS_SNAP_FREE), 0);
	check(fx);
	assert_int_equal(vss_shadow_changed_chunks(fx->store, 2, &chunks, &count, NULL), -ENOENT);
	assert_int_equal(vss_shadow_changed_chunks(fx->store, 3, &chunks, &count, NULL), -ENOENT);
	assert_int_equal(vss_shadow_changed_chunks(fx->store, 77, &chunks, &count, NULL), -ENOENT);
	assert_null(chunks);
	/*
	 * 1 is the newest valid snapshot now: its chunks are the same (the
	 * epoch-2 and epoch-3 copies still serve it), and a revert copies
	 * nothing more into the store.
	 */
	expect(fx, 1, s1, 4, 0);
}

static void test_needs_check(void **state)
{
	struct fix *fx = *state;
	uint64_t *chunks = NULL;
	size_t count = 0;

	snap(fx, 1, 1);
	assert_int_equal(vss_store_write_sb(fx->store), 0);
	assert_int_equal(vss_store_load(fx->store), 0);
	assert_int_equal(vss_shadow_changed_chunks(fx->store, 1, &chunks, &count, NULL), -EINVAL);
}

static void test_whole_origin(void **state)
{
	struct fix *fx = *state;
	uint64_t *chunks = NULL, copies = 0, c;
	size_t count = 0;

	/* every chunk of the origin written after snapshot 5 (more than one group) */
	snap(fx, 5, 1);
	for (c = 0; c < 1000; c++)
		rec(fx, c, 1999 - c, 1);
	snap(fx, 6, 2);
	check(fx);
	assert_int_equal(vss_shadow_changed_chunks(fx->store, 5, &chunks, &count, &copies), 0);
	assert_int_equal(count, 1000);
	for (c = 0; c < 1000; c++)
		assert_int_equal(chunks[c], 1000 + c);
	assert_int_equal(copies, 1000);
	free(chunks);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_changed_per_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nothing_changed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dropped_and_deleted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_needs_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_whole_origin, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
