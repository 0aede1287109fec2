// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The kernel module's index of copied chunks (dm-vss/vss-index.h), built
 * here as it is in the module, checked against a plain list of the entries
 * it must hold: random inserts, removals and lookups on tables of many
 * sizes up to 7/8 full, the removal-while-walking the module does when a
 * snapshot is deleted, growth, the wrap at the table's end, and how far a
 * lookup of a chunk with no entry walks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vss-index.h"

struct model {
	struct vss_ient *e;	/* the entries the index must hold */
	u32 n;
};

struct fix {
	struct vss_index index;
	struct model m;
	u64 rng;
	u32 next_data;
};

static u32 rnd(struct fix *fx, u32 below)
{
	fx->rng ^= fx->rng << 13;
	fx->rng ^= fx->rng >> 7;
	fx->rng ^= fx->rng << 17;
	return (u32)(fx->rng % below);
}

static void fix_init(struct fix *fx, u32 size, u64 seed)
{
	memset(fx, 0, sizeof(*fx));
	fx->index.slots = calloc(size, sizeof(*fx->index.slots));
	assert_non_null(fx->index.slots);
	fx->index.size = size;
	fx->m.e = calloc(size, sizeof(*fx->m.e));
	assert_non_null(fx->m.e);
	fx->rng = seed * 2654435761ULL + 1;
}

static void fix_free(struct fix *fx)
{
	free(fx->index.slots);
	free(fx->m.e);
}

static bool model_has(const struct model *m, u32 ochunk, u32 epoch)
{
	u32 i;

	for (i = 0; i < m->n; i++)
		if (m->e[i].ochunk == ochunk && m->e[i].epoch == epoch)
			return true;
	return false;
}

static bool room(const struct fix *fx)
{
	return (u64)(fx->index.count + 1) * 8 <= (u64)fx->index.size * 7 &&
	       fx->index.count + 1 < fx->index.size;
}

static void add(struct fix *fx, u32 ochunk, u32 epoch)
{
	u32 data = fx->next_data++;

	vss_index_insert(&fx->index, ochunk, data, epoch);
	fx->m.e[fx->m.n++] = (struct vss_ient){ .ochunk = ochunk, .data = data, .epoch = epoch };
}

static u32 slot_of(const struct vss_index *index, u32 ochunk, u32 epoch)
{
	u32 i;

	for (i = 0; i < index->size; i++)
		if (index->slots[i].epoch == epoch && index->slots[i].ochunk == ochunk)
			return i;
	fail_msg("chunk %u epoch %u is not in the table", ochunk, epoch);
	return 0;
}

static void drop(struct fix *fx, u32 k)
{
	vss_index_remove(&fx->index, slot_of(&fx->index, fx->m.e[k].ochunk, fx->m.e[k].epoch));
	fx->m.e[k] = fx->m.e[--fx->m.n];
}

/* What vss_index_find, _latest and _prev must answer, from the list. */
static void check_query(const struct fix *fx, u32 ochunk, u32 epoch)
{
	const struct vss_ient *want = NULL, *got;
	u32 latest = 0, prev = 0, i;

	for (i = 0; i < fx->m.n; i++) {
		const struct vss_ient *e = &fx->m.e[i];

		if (e->ochunk != ochunk)
			continue;
		if (e->epoch > latest)
			latest = e->epoch;
		if (e->epoch < epoch && e->epoch > prev)
			prev = e->epoch;
		if (e->epoch >= epoch && (!want || e->epoch < want->epoch))
			want = e;
	}
	got = vss_index_find(&fx->index, ochunk, epoch);
	if (!want) {
		if (got)
			fail_msg("chunk %u epoch %u: found epoch %u, there is none", ochunk, epoch,
				 got->epoch);
	} else {
		if (!got)
			fail_msg("chunk %u epoch %u: not found, want epoch %u", ochunk, epoch,
				 want->epoch);
		assert_int_equal(got->epoch, want->epoch);
		assert_int_equal(got->data, want->data);
		assert_int_equal(got->ochunk, ochunk);
	}
	assert_int_equal(vss_index_latest(&fx->index, ochunk), latest);
	assert_int_equal(vss_index_prev(&fx->index, ochunk, epoch), prev);
}

/* The table holds exactly the list, in Robin Hood order. */
static void check_all(const struct fix *fx)
{
	const struct vss_index *index = &fx->index;
	u32 i, used = 0;

	assert_int_equal(index->count, fx->m.n);
	for (i = 0; i < index->size; i++) {
		u32 j = vss_index_next(index, i);

		if (!index->slots[i].epoch)
			continue;
		used++;
		if (!model_has(&fx->m, index->slots[i].ochunk, index->slots[i].epoch))
			fail_msg("slot %u holds chunk %u epoch %u, never inserted or removed", i,
				 index->slots[i].ochunk, index->slots[i].epoch);
		if (index->slots[j].epoch && vss_index_dist(index, j) > vss_index_dist(index, i) + 1)
			fail_msg("slot %u at distance %u follows slot %u at distance %u", j,
				 vss_index_dist(index, j), i, vss_index_dist(index, i));
	}
	assert_int_equal(used, fx->m.n);
	for (i = 0; i < fx->m.n; i++) {
		const struct vss_ient *e = vss_index_find(index, fx->m.e[i].ochunk, fx->m.e[i].epoch);

		assert_non_null(e);
		assert_int_equal(e->epoch, fx->m.e[i].epoch);
		assert_int_equal(e->data, fx->m.e[i].data);
	}
}

/* An epoch of ochunk not yet in the list (1..64). */
static u32 fresh_epoch(struct fix *fx, u32 ochunk)
{
	u32 epoch, tries;

	for (tries = 0; tries < 64; tries++) {
		epoch = 1 + rnd(fx, 64);
		if (!model_has(&fx->m, ochunk, epoch))
			return epoch;
	}
	return 0;
}

static void random_ops(u32 size, u32 chunks, u64 seed, u32 ops)
{
	struct fix fx;
	u32 op;

	fix_init(&fx, size, seed);
	for (op = 0; op < ops; op++) {
		u32 what = rnd(&fx, 10);

		if (what < 5 && room(&fx)) {
			u32 ochunk = rnd(&fx, chunks), epoch = fresh_epoch(&fx, ochunk);

			if (epoch)
				add(&fx, ochunk, epoch);
		} else if (what < 8 && fx.m.n) {
			drop(&fx, rnd(&fx, fx.m.n));
		} else {
			check_query(&fx, rnd(&fx, chunks), 1 + rnd(&fx, 66));
		}
		if (op % 97 == 0)
			check_all(&fx);
	}
	check_all(&fx);
	fix_free(&fx);
}

static void test_random_against_list(void **state)
{
	static const u32 sizes[] = { 3, 7, 8, 13, 64, 255, 256, 1000 };
	u32 i, seed;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (seed = 1; seed <= 8; seed++) {
			/* few chunks (many epochs each), then as many chunks as slots */
			random_ops(sizes[i], 1 + sizes[i] / 8, seed, 3000);
			random_ops(sizes[i], sizes[i] * 4, seed, 3000);
		}
}

/* Full tables, then emptied again in random order. */
static void test_fill_and_empty(void **state)
{
	static const u32 sizes[] = { 5, 17, 256, 4099 };
	u32 i, seed;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (seed = 1; seed <= 4; seed++) {
			struct fix fx;
			u32 ochunk = 0;

			fix_init(&fx, sizes[i], seed);
			while (room(&fx)) {
				ochunk += 1 + rnd(&fx, 3);
				add(&fx, ochunk, 1 + rnd(&fx, 8));
				if (rnd(&fx, 4) == 0 && room(&fx))
					add(&fx, ochunk, 9 + rnd(&fx, 8));
			}
			check_all(&fx);
			while (fx.m.n) {
				drop(&fx, rnd(&fx, fx.m.n));
				if (fx.m.n % 7 == 0)
					check_all(&fx);
			}
			check_all(&fx);
			fix_free(&fx);
		}
}

/*
 * The module's walk on deleting a snapshot: every slot in turn, removing
 * the entries no snapshot needs; a removal pulls the next entry back into
 * the slot, so that slot is looked at again.
 */
static void test_remove_while_walking(void **state)
{
	u32 seed;

	(void)state;
	for (seed = 1; seed <= 40; seed++) {
		struct fix fx;
		u32 i = 0, k, drop_mod = 2 + seed % 3;

		fix_init(&fx, 97 + seed * 13, seed);
		while (room(&fx)) {
			u32 ochunk = rnd(&fx, fx.index.size), epoch = fresh_epoch(&fx, ochunk);

			if (epoch)
				add(&fx, ochunk, epoch);
		}
		while (i < fx.index.size) {
			const struct vss_ient *e = &fx.index.slots[i];

			if (!e->epoch || e->epoch % drop_mod) {
				i++;
				continue;
			}
			vss_index_remove(&fx.index, i);
		}
		for (k = 0; k < fx.m.n;)
			if (fx.m.e[k].epoch % drop_mod == 0)
				fx.m.e[k] = fx.m.e[--fx.m.n];
			else
				k++;
		check_all(&fx);
		fix_free(&fx);
	}
}

/* Entries whose home is the last slot run on into slot 0 and back. */
static void test_wrap(void **state)
{
	struct fix fx;
	u32 c, found = 0;

	(void)state;
	fix_init(&fx, 61, 1);
	for (c = 0; found < 6 && c < 1000000; c++)
		if (vss_index_home(&fx.index, c) >= fx.index.size - 2) {
			add(&fx, c, 3);
			add(&fx, c, 7);
			found++;
		}
	assert_int_equal(found, 6);
	assert_int_not_equal(fx.index.slots[0].epoch, 0);
	check_all(&fx);
	check_query(&fx, fx.m.e[0].ochunk, 4);
	drop(&fx, 0);
	check_all(&fx);
	while (fx.m.n)
		drop(&fx, fx.m.n - 1);
	check_all(&fx);
	fix_free(&fx);
}

/* Growing: every entry rehashed into a bigger table, as the module grows it. */
static void test_grow(void **state)
{
	struct fix fx;
	u32 round;

	(void)state;
	fix_init(&fx, 256, 5);
	for (round = 0; round < 12; round++) {
		struct vss_index bigger = { .size = fx.index.size + fx.index.size / 6 + 1 };
		struct vss_ient *m;
		u32 i;

		while (room(&fx)) {
			u32 ochunk = rnd(&fx, 100000), epoch = fresh_epoch(&fx, ochunk);

			if (epoch)
				add(&fx, ochunk, epoch);
		}
		bigger.slots = calloc(bigger.size, sizeof(*bigger.slots));
		assert_non_null(bigger.slots);
		for (i = 0; i < fx.index.size; i++)
			if (fx.index.slots[i].epoch)
				vss_index_insert(&bigger, fx.index.slots[i].ochunk,
						 fx.index.slots[i].data, fx.index.slots[i].epoch);
		free(fx.index.slots);
		fx.index = bigger;
		m = realloc(fx.m.e, bigger.size * sizeof(*m));
		assert_non_null(m);
		fx.m.e = m;
		check_all(&fx);
	}
	fix_free(&fx);
}

/* Slots a lookup of ochunk walks before it knows it has seen every entry. */
static u32 probes(const struct vss_index *index, u32 ochunk)
{
	u32 slot = vss_index_home(index, ochunk), dist = 0;

	while (vss_index_seek(index, ochunk, &slot, &dist)) {
		slot = vss_index_next(index, slot);
		dist++;
	}
	return dist + 1;
}

/*
 * At 7/8 load, with the chunks random writes copy, a lookup of a chunk with
 * no entry stops after a few slots: plain linear probing walks about 30 on
 * average, as its clusters grow.
 */
static void test_misses_stop_early(void **state)
{
	struct fix fx;
	u64 total = 0;
	u32 c, n = 0;

	(void)state;
	fix_init(&fx, 80000, 3);
	while (room(&fx))
		add(&fx, 2 * rnd(&fx, 1U << 30), 1);	/* even chunks only */
	for (c = 0; c < 20000; c++) {
		total += probes(&fx.index, 2 * rnd(&fx, 1U << 30) + 1);
		n++;
	}
	print_message("# lookups of absent chunks at 7/8 load: %.2f slots on average\n",
		      (double)total / n);
	assert_true(total <= 8ULL * n);
	fix_free(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_against_list),
		cmocka_unit_test(test_fill_and_empty),
		cmocka_unit_test(test_remove_while_walking),
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_grow),
		cmocka_unit_test(test_misses_stop_early),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
