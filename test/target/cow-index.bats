#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# vss-origin with a big store: a million copies (COW_INDEX_RECORDS, 10^7
# for the figures in doc/dm-vss.rst), made by test/tools/mkstore with the
# data left sparse.  The module built by make module-faults measures the
# index's long operations: the walk of a delete that frees every copy of a
# snapshot holds the store's lock (interrupts off) only for a batch at a
# time, and the first commit after activation does not grow the index.
# Prints the activation time and the figures.  Run inside the VM:
#   scripts/vm-run --mem 4096 -- bats test/target/cow-index.bats

load helpers
load cow-helpers

setup_file() {
	cow_faults_load || return 1
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export MKSTORE=$BATS_FILE_TMPDIR/mkstore
	${CC:-cc} -O2 -I"$TOP/libvsscore" -I"$TOP/dm-vss" -o "$MKSTORE" \
		"$TOP/test/tools/mkstore.c" "$TOP/libvsscore/store.c" "$TOP/libvsscore/crc32c.c"
}
teardown_file() { cow_faults_unload; }
setup() { cow_setup; }
teardown() { cow_teardown; }

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# param_ms NAME: a measurement of the module, in ms with three decimals.
param_ms() {
	awk '{ printf "%.3f", $1 / 1e6 }' "$COW_PARAMS/$1"
}

params_reset() {
	echo 0 > "$COW_PARAMS/lock_hold_max_ns"
	echo 0 > "$COW_PARAMS/index_walk_max_ns"
}

@test "a store of a million copies: activation, a first commit without growing the index, a delete that frees them a batch at a time" {
	local n=${COW_INDEX_RECORDS:-1000000} t0 act commit_walk commit_hold del_ms walk hold out
	COW_OREAL=$(cow_loop origin $(( (n + 64) * 4096 )))
	COW_SECTORS=$(blockdev --getsz "$COW_OREAL")
	COW_STORE=$COW_DIR/store.img
	t0=$(now_ms)
	"$MKSTORE" "$COW_STORE" format $(( (n + n / 100 + 4096) * 4096 )) "$COW_SECTORS" 8 \
		snap 1 snap 2 recs 0 "$n" 1
	echo "# mkstore: $n records in $(( $(now_ms) - t0 )) ms" >&3
	COW_STORE=$(losetup -f --show "$COW_STORE")
	echo "$COW_STORE" >> "$COW_DIR/loops"

	t0=$(now_ms)
	cow_origin_load ""
	act=$(( $(now_ms) - t0 ))
	[ "$(cow_status used_chunks)" = "$n" ]
	[ "$(cow_status snap_count)" = 2 ]
	cow_snap_dev 2

	# the first commit after activation: one copy, for snapshot 2
	params_reset
	dd if=/dev/urandom of="$COW_ODEV" bs=4096 count=1 seek=$((n + 5)) oflag=direct status=none
	[ "$(cow_status used_chunks)" = $((n + 1)) ]
	commit_walk=$(param_ms index_walk_max_ns)
	commit_hold=$(param_ms lock_hold_max_ns)

	# snapshot 1's million copies freed
	params_reset
	t0=$(now_ms)
	dmsetup message "$COW_O" 0 delete 1
	del_ms=$(( $(now_ms) - t0 ))
	walk=$(param_ms index_walk_max_ns)
	hold=$(param_ms lock_hold_max_ns)
	echo "# $n copies: activation $act ms; first commit: index growth $commit_walk ms," \
		"lock held $commit_hold ms; delete $del_ms ms, its walk $walk ms, lock held at most $hold ms" >&3
	[ "$(cow_status used_chunks)" = 1 ]
	[ "$(cow_status snap_count)" = 1 ]
	# no growth at the first commit: the index was loaded with room
	[ "$(cat "$COW_PARAMS/index_walk_max_ns")" -gt 0 ]
	[ "$commit_walk" = 0.000 ]
	# the delete's walk let go of the lock: its longest hold is a small
	# part of the walk
	awk -v w="$walk" -v h="$hold" 'BEGIN { exit !(h * 10 < w) }'
	# snapshot 2 reads what the origin held at its instant: zeros
	out=$(dd if="/dev/mapper/${COW_PFX}s2" bs=4096 count=1 skip=$((n + 5)) iflag=direct status=none | tr -d '\0' | wc -c)
	[ "$out" = 0 ]
	out=$(dd if="/dev/mapper/${COW_PFX}s2" bs=4096 count=1 skip=7 iflag=direct status=none | tr -d '\0' | wc -c)
	[ "$out" = 0 ]
}
