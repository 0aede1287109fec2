/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-vss: the in-core index of a store's copied chunks.  Shared by the
 * kernel module (dm-vss-metadata.c allocates and grows it) and the userspace
 * unit test that checks it against a model (test/unit/test-index.c).
 *
 * One 12-byte entry per live exception, open addressing with linear
 * probing in Robin Hood order, any table size (not only powers of two) so
 * that it can grow by a sixth at a time.  An entry with epoch 0 is an
 * empty slot.  The table is never full: a lookup ends at an empty slot.
 *
 * Robin Hood order: each entry sits at most one slot farther from its home
 * than the entry before it, so the entries of one home lie together, in
 * home order.  A lookup stops at the first entry nearer its home than
 * the probe is to the looked-up chunk's home: at 7/8 load a miss costs a
 * few probes, not the tens plain linear probing needs.
 */
#ifndef VSS_INDEX_H
#define VSS_INDEX_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
typedef uint32_t u32;
typedef uint64_t u64;
#endif

struct vss_ient {
	u32 ochunk;
	u32 data;		/* data chunk index in the store */
	u32 epoch;
};

struct vss_index {
	struct vss_ient *slots;
	u32 size;
	u32 count;
};

static inline u32 vss_index_home(const struct vss_index *index, u32 ochunk)
{
	u32 hash = ochunk * 0x61C88647U;	/* the kernel's hash_32(ochunk, 32) */

	return (u32)(((u64)hash * index->size) >> 32);
}

static inline u32 vss_index_next(const struct vss_index *index, u32 slot)
{
	return slot + 1 == index->size ? 0 : slot + 1;
}

/* How far the entry in slot lies from its home slot. */
static inline u32 vss_index_dist(const struct vss_index *index, u32 slot)
{
	u32 home = vss_index_home(index, index->slots[slot].ochunk);

	return slot >= home ? slot - home : slot + index->size - home;
}

/*
 * Walking from ochunk's home, at *slot and *dist probes from it: moves to
 * the next entry of ochunk and returns true, or returns false once an empty
 * slot or an entry of a later home shows there is none.
 */
static inline bool vss_index_seek(const struct vss_index *index, u32 ochunk,
				  u32 *slot, u32 *dist)
{
	for (; index->slots[*slot].epoch; *slot = vss_index_next(index, *slot), (*dist)++) {
		if (index->slots[*slot].ochunk == ochunk)
			return true;
		if (vss_index_dist(index, *slot) < *dist)
			return false;
	}
	return false;
}

/* Each entry e of ochunk, e pointing into the table. */
#define vss_index_for_each(index, ochunk, slot, dist, e)				\
	for ((slot) = vss_index_home(index, ochunk), (dist) = 0;			\
	     vss_index_seek(index, ochunk, &(slot), &(dist)) &&				\
	     ((e) = &(index)->slots[slot]);						\
	     (slot) = vss_index_next(index, slot), (dist)++)

/* Adds an entry; the caller has made room (the table stays below full). */
static inline void vss_index_insert(struct vss_index *index, u32 ochunk, u32 data, u32 epoch)
{
	struct vss_ient cur = { .ochunk = ochunk, .data = data, .epoch = epoch };
	u32 slot = vss_index_home(index, ochunk), dist = 0;

	/* the entry farther from its home takes the slot of the nearer one */
	for (; index->slots[slot].epoch; slot = vss_index_next(index, slot), dist++) {
		u32 d = vss_index_dist(index, slot);

		if (d < dist) {
			struct vss_ient t = index->slots[slot];

			index->slots[slot] = cur;
			cur = t;
			dist = d;
		}
	}
	index->slots[slot] = cur;
	index->count++;
}

/*
 * Removes the entry in slot by backward shift: the entries after it that
 * are not in their home slot move back one.  The slot then holds the entry
 * that followed it, or is empty.
 */
static inline void vss_index_remove(struct vss_index *index, u32 hole)
{
	u32 j = vss_index_next(index, hole);

	while (index->slots[j].epoch && vss_index_dist(index, j)) {
		index->slots[hole] = index->slots[j];
		hole = j;
		j = vss_index_next(index, j);
	}
	index->slots[hole].epoch = 0;
	index->count--;
}

/* Largest epoch recorded for ochunk, 0 if none. */
static inline u32 vss_index_latest(const struct vss_index *index, u32 ochunk)
{
	const struct vss_ient *e;
	u32 slot, dist, best = 0;

	if (!index->count)
		return 0;
	vss_index_for_each(index, ochunk, slot, dist, e)
		if (e->epoch > best)
			best = e->epoch;
	return best;
}

/* Largest epoch recorded for ochunk below 'epoch', 0 if none. */
static inline u32 vss_index_prev(const struct vss_index *index, u32 ochunk, u32 epoch)
{
	const struct vss_ient *e;
	u32 slot, dist, best = 0;

	if (!index->count)
		return 0;
	vss_index_for_each(index, ochunk, slot, dist, e)
		if (e->epoch < epoch && e->epoch > best)
			best = e->epoch;
	return best;
}

/* The record serving a snapshot of 'epoch': the smallest epoch >= it. */
static inline const struct vss_ient *vss_index_find(const struct vss_index *index,
						    u32 ochunk, u32 epoch)
{
	const struct vss_ient *e, *best = NULL;
	u32 slot, dist;

	if (!index->count)
		return NULL;
	vss_index_for_each(index, ochunk, slot, dist, e)
		if (e->epoch >= epoch && (!best || e->epoch < best->epoch))
			best = e;
	return best;
}

#endif /* VSS_INDEX_H */
