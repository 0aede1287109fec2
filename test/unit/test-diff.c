// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vss_store_diff(): the origin chunks where a snapshot differs from an
 * older one, on store images built with the libvsscore store writer the
 * way the kernel fills a store: a write to a chunk copies its old content,
 * labelled with the newest valid snapshot's epoch, unless that snapshot
 * has a copy of the chunk already; deleting a snapshot frees the records
 * whose range no valid snapshot is left in, and a freed data chunk is
 * reused.  A model keeps the instant of every write, so the expected
 * answer for a pair is exactly the chunks written between the two.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "libvsscore-store.h"
#include "store-write.h"
#include "vss-ondisk.h"

#define MIB (1024U * 1024U)
#define STORE_BYTES (8 * MIB)
#define ORIGIN_CHUNKS 600
#define ORIGIN_SECTORS (ORIGIN_CHUNKS * 8)
#define MAX_RECS 2000
#define MAX_WRITES 4000

struct model_rec {
	uint32_t ochunk, epoch;
	bool used;
};

struct model {
	unsigned char *img;
	struct vss_store *store;
	/* snapshots by epoch: id, valid, the write count when taken */
	uint32_t nr_epochs;
	uint32_t id_of[64];
	bool valid[64];
	unsigned long taken_at[64];
	/* data chunk -> record */
	struct model_rec rec[MAX_RECS];
	/* every write: chunk, instant */
	uint32_t wchunk[MAX_WRITES];
	unsigned long nr_writes;
};

static int setup(void **state)
{
	struct model *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	m->img = calloc(1, STORE_BYTES);
	assert_non_null(m->img);
	assert_int_equal(vss_store_format_image(m->img, STORE_BYTES, ORIGIN_SECTORS, 8), 0);
	assert_int_equal(vss_store_open_image(m->img, STORE_BYTES, VSS_STORE_WRITE, NULL,
					      &m->store), 0);
	assert_int_equal(vss_store_load(m->store), 0);
	*state = m;
	return 0;
}

static int teardown(void **state)
{
	struct model *m = *state;

	vss_store_close(m->store);
	free(m->img);
	free(m);
	return 0;
}

static void take(struct model *m, uint32_t id)
{
	uint32_t epoch = 0;

	assert_int_equal(vss_store_snap_create(m->store, id, 1700000000 + id, &epoch), 0);
	assert_int_equal(epoch, m->nr_epochs + 1);
	m->nr_epochs = epoch;
	m->id_of[epoch] = id;
	m->valid[epoch] = true;
	m->taken_at[epoch] = m->nr_writes;
}

/* Whether some valid snapshot has an epoch in (lo, hi]. */
static bool valid_in(const struct model *m, uint32_t lo, uint32_t hi)
{
	uint32_t e;

	for (e = lo + 1; e <= hi && e <= m->nr_epochs; e++)
		if (m->valid[e])
			return true;
	return false;
}

/* The record range of data chunk d: (previous epoch of its chunk, its epoch]. */
static bool rec_in_use(const struct model *m, unsigned int d)
{
	uint32_t prev = 0;
	unsigned int k;

	if (!m->rec[d].used)
		return false;
	for (k = 0; k < MAX_RECS; k++)
		if (m->rec[k].used && m->rec[k].ochunk == m->rec[d].ochunk &&
		    m->rec[k].epoch < m->rec[d].epoch && m->rec[k].epoch > prev)
			prev = m->rec[k].epoch;
	return valid_in(m, prev, m->rec[d].epoch);
}

static void drop(struct model *m, uint32_t epoch)
{
	assert_int_equal(vss_store_snap_set_state(m->store, m->id_of[epoch], VSS_SNAP_FREE), 0);
	m->valid[epoch] = false;
}

static void write_chunk(struct model *m, uint32_t c)
{
	uint32_t newest = 0, e;
	unsigned int d, k;

	for (e = 1; e <= m->nr_epochs; e++)
		if (m->valid[e])
			newest = e;
	m->wchunk[m->nr_writes++] = c;
	if (!newest)
		return;
	/* The newest snapshot reads the chunk from the store already: no copy. */
	for (k = 0; k < MAX_RECS; k++)
		if (m->rec[k].used && m->rec[k].ochunk == c && m->rec[k].epoch >= newest)
			return;
	for (d = 0; d < MAX_RECS; d++)
		if (!rec_in_use(m, d))
			break;
	assert_true(d < MAX_RECS);
	m->rec[d].used = true;
	m->rec[d].ochunk = c;
	m->rec[d].epoch = newest;
	assert_int_equal(vss_store_set_record(m->store, d, c, newest), 0);
}

/* Compare vss_store_diff() for every pair of valid snapshots with the model. */
static void check_pairs(struct model *m)
{
	uint32_t a, b;

	assert_int_equal(vss_store_write_sb(m->store), 0);
	assert_int_equal(vss_store_check(m->store), 0);
	for (a = 1; a <= m->nr_epochs; a++)
		for (b = 1; b <= m->nr_epochs; b++) {
			bool want[ORIGIN_CHUNKS] = { false };
			uint64_t *chunks = NULL;
			size_t count = 0, i, nwant = 0;
			unsigned long w;

			if (!m->valid[a] || !m->valid[b])
				continue;
			if (a >= b) {
				assert_int_equal(vss_store_diff(m->store, m->id_of[a], m->id_of[b],
								&chunks, &count), -ERANGE);
				continue;
			}
			for (w = m->taken_at[a]; w < m->taken_at[b]; w++)
				want[m->wchunk[w]] = true;
			assert_int_equal(vss_store_diff(m->store, m->id_of[a], m->id_of[b],
							&chunks, &count), 0);
			for (i = 0; i < count; i++) {
				assert_true(chunks[i] < ORIGIN_CHUNKS);
				assert_true(want[chunks[i]]);
				if (i)
					assert_true(chunks[i] > chunks[i - 1]);
			}
			for (i = 0; i < ORIGIN_CHUNKS; i++)
				nwant += want[i];
			assert_int_equal(count, nwant);
			free(chunks);
		}
}

static void test_three_copies(void **state)
{
	struct model *m = *state;
	uint64_t *chunks = NULL;
	size_t count = 0;

	take(m, 10);
	write_chunk(m, 7);
	write_chunk(m, 8);
	take(m, 20);
	write_chunk(m, 7);
	write_chunk(m, 9);
	take(m, 30);
	check_pairs(m);
	assert_int_equal(vss_store_diff(m->store, 10, 30, &chunks, &count), 0);
	assert_int_equal(count, 3);
	assert_int_equal(chunks[0], 7);
	assert_int_equal(chunks[1], 8);
	assert_int_equal(chunks[2], 9);
	free(chunks);
	/* nothing written between 30 and a new 40 */
	take(m, 40);
	check_pairs(m);
	assert_int_equal(vss_store_diff(m->store, 30, 40, &chunks, &count), 0);
	assert_int_equal(count, 0);
	assert_null(chunks);
}

static void test_refusals(void **state)
{
	struct model *m = *state;
	uint64_t *chunks = (uint64_t *)1;
	size_t count = 1;

	take(m, 1);
	take(m, 2);
	assert_int_equal(vss_store_diff(m->store, 1, 2, &chunks, &count), -EINVAL); /* no check */
	check_pairs(m);
	assert_int_equal(vss_store_diff(m->store, 1, 99, &chunks, &count), -ENOENT);
	assert_int_equal(vss_store_diff(m->store, 2, 1, &chunks, &count), -ERANGE);
	assert_int_equal(vss_store_diff(m->store, 1, 1, &chunks, &count), -ERANGE);
	assert_int_equal(vss_store_snap_set_state(m->store, 1, VSS_SNAP_DROPPED), 0);
	assert_int_equal(vss_store_write_sb(m->store), 0);
	assert_int_equal(vss_store_check(m->store), 0);
	assert_int_equal(vss_store_diff(m->store, 1, 2, &chunks, &count), -ENOENT);
	assert_null(chunks);
	assert_int_equal(count, 0);
}

/*
 * Random writes, snapshots and deletes (records freed and reused, as the
 * kernel reuses them), every pair compared after each round.
 */
static void test_random_history(void **state)
{
	struct model *m = *state;
	unsigned int round, i;
	uint32_t next_id = 100;

	srandom(42);
	for (round = 0; round < 30; round++) {
		unsigned int writes = (unsigned int)(random() % 60);

		for (i = 0; i < writes && m->nr_writes < MAX_WRITES; i++)
			write_chunk(m, (uint32_t)(random() % ORIGIN_CHUNKS));
		if (m->nr_epochs < 60)
			take(m, next_id++);
		if (random() % 3 == 0) {	/* delete a random valid snapshot */
			uint32_t e = 1 + (uint32_t)(random() % m->nr_epochs);

			if (m->valid[e])
				drop(m, e);
		}
		check_pairs(m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_three_copies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_history, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
