#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# vss-origin: a store whose device grows (lvextend, losetup -c) grows into
# it when the origin resumes.  The snapshots already taken keep their
# content, the new room takes copies that would have overflowed the old
# store, and the grown layout survives a reload, the loss of either
# superblock copy, and vss-check.  Run inside the VM:
#   scripts/vm-run -- bats test/target/cow-grow.bats

load cow-helpers

setup_file() {
	cow_setup_file
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export VSS_CHECK=${VSS_BINDIR:-$TOP/build/bin}/vss-check
	[ -x "$VSS_CHECK" ] || { echo "no $VSS_CHECK: run make first" >&2; return 1; }
}
setup() { modprobe dm-vss && cow_setup; }
teardown() { cow_teardown; }

MiB=$((1024 * 1024))
K4=4096

# grow_store BYTES: the store's file and loop device take BYTES, then the
# origin is suspended and resumed; the model's capacity follows the status.
grow_store() {
	local file
	file=$(losetup -n -O BACK-FILE "$COW_STORE") || return 1
	truncate -s "$1" "$file" || return 1
	losetup -c "$COW_STORE" || return 1
	dmsetup suspend "$COW_O" || return 1
	dmsetup resume "$COW_O" || return 1
	model_cap "$(cow_status total_chunks)"
}

model_cap() {
	sed -i "s/^cap .*/cap $1/" "$COW_DIR/model.state"
}

# unload_all: remove every table of the test (a dm-linear store too) and
# the module.
unload_all() {
	local name
	udevadm settle --timeout=20 >/dev/null 2>&1
	for name in $(cow_dm_names_snaps_first); do
		dmsetup remove --retry "$name" || return 1
	done
	modprobe -r dm-vss || { echo "dm-vss does not unload" >&2; return 1; }
}

load_all() {
	local id
	modprobe dm-vss || return 1
	cow_origin_load "" || return 1
	for id in "$@"; do
		cow_snap_dev "$id" || return 1
	done
}

# corrupt_sb_copy A|B: flips a byte inside a superblock copy's checksummed area.
corrupt_sb_copy() {
	local off=0
	[ "$1" = B ] && off=4096
	printf '\x5a' | dd of="$COW_STORE" bs=1 seek=$((off + 200)) conv=notrunc status=none
	sync
}

@test "a store grown under its snapshots takes the copies that overflowed it before" {
	# 4 MiB origin (1024 chunks) over a 1 MiB store: 253 data chunks.
	cow_make $((4 * MiB)) $((1 * MiB))
	[ "$(cow_status total_chunks)" = 253 ]
	[ "$(cow_status total_meta)" = 3 ]
	cow_fill
	cow_snapshot 1
	cow_write 0 $((200 * K4))
	cow_snapshot 2
	cow_write $((200 * K4)) $((50 * K4))
	[ "$(cow_status used_chunks)" = 250 ]
	cow_log_mark
	# 4 MiB: 1024 chunks, groups 1-3 are new and the old last group gets
	# its two missing data chunks.
	grow_store $((4 * MiB))
	[ "$(cow_status total_chunks)" = 1018 ]
	[ "$(cow_status total_meta)" = 6 ]
	cow_dmesg | grep -q "grown from 253 to 1018 data chunks"
	cow_snapshot 3
	# 500 more copies, where the old store had room for 3.
	cow_write 0 $((200 * K4))
	cow_write $((200 * K4)) $((300 * K4))
	[ "$(cow_status used_chunks)" = 750 ]
	[ -z "$(model_dropped)" ]
	cow_verify_snaps 1 2 3
	cow_verify_origin
	cow_check_counters
	[ "$(cow_snap_status 1 state)" = valid ]
	# The next overflow happens at the new size, not the old one.
	cow_snapshot 4
	cow_write 0 $((400 * K4))
	[ "$(model_dropped)" = 1 ]
	cow_verify_snaps 2 3 4
	cow_check_counters
}

@test "the grown layout survives a reload, the loss of either superblock copy, and vss-check" {
	local used copy hdr=$COW_DIR/header
	cow_make $((4 * MiB)) $((1 * MiB))
	cow_fill
	cow_snapshot 1
	cow_write 0 $((150 * K4))
	grow_store $((3 * MiB))
	[ "$(cow_status total_chunks)" = 763 ]
	# copies past the old end (data chunks 253 and up), and no superblock
	# write after the growth: each copy alone must hold the grown layout
	cow_write $((150 * K4)) $((250 * K4))
	used=$(cow_status used_chunks)
	(( used == 400 ))
	cow_snap_dev 1
	unload_all
	"$VSS_CHECK" "$COW_STORE"
	[ "$("$VSS_CHECK" --dump --json "$COW_STORE" | jq -r .superblock.data_chunks)" = 763 ]
	dd if="$COW_STORE" of="$hdr" bs=4096 count=2 status=none
	for copy in A B; do
		dd if="$hdr" of="$COW_STORE" bs=4096 count=2 conv=notrunc status=none
		corrupt_sb_copy "$copy"
		load_all 1
		[ "$(cow_status total_chunks)" = 763 ] || { echo "copy $copy lost: $(cow_status total_chunks) chunks"; false; }
		[ "$(cow_status used_chunks)" = "$used" ]
		cow_verify_snaps 1
		unload_all
	done
	dd if="$hdr" of="$COW_STORE" bs=4096 count=2 conv=notrunc status=none
	load_all 1
	cow_verify_snaps 1
	cow_verify_origin
	cow_check_counters
	# and the store goes on: a later snapshot, more copies
	cow_snapshot 2
	cow_write 0 $((300 * K4))
	cow_verify_snaps 1 2
	cow_check_counters
}

@test "growth in place of the last group: 64 KiB chunks, and a last group of metadata only" {
	# 64 KiB chunks: a 1 MiB store is header + metadata + 14 data chunks,
	# one of the metadata chunk's 16 exception blocks; 24 MiB uses two.
	cow_make $((8 * MiB)) $((1 * MiB)) chunk_sectors 128
	[ "$(cow_status total_chunks)" = 14 ]
	cow_fill
	cow_snapshot 1
	cow_write 0 $((10 * 65536))
	grow_store $((24 * MiB))
	[ "$(cow_status total_chunks)" = 382 ]
	[ "$(cow_status total_meta)" = 4 ]
	cow_snapshot 2
	cow_write 0 $((100 * 65536))
	cow_verify_snaps 1 2
	cow_check_counters
	cow_reload_all ""
	[ "$(cow_status total_chunks)" = 382 ]
	cow_verify_snaps 1 2
	cow_check_counters
}

@test "growth from a last group that holds only its metadata chunk" {
	# 4 KiB chunks, 259 chunks: header 2, group 0 (1 + 255), and chunk 258
	# the metadata chunk of a group with no data chunk yet.
	cow_make $((4 * MiB)) $((259 * K4))
	[ "$(cow_status total_chunks)" = 255 ]
	[ "$(cow_status total_meta)" = 3 ]
	cow_fill
	cow_snapshot 1
	cow_write 0 $((255 * K4))
	[ "$(cow_status used_chunks)" = 255 ]
	grow_store $((300 * K4))
	[ "$(cow_status total_chunks)" = 296 ]
	[ "$(cow_status total_meta)" = 4 ]
	cow_snapshot 2
	cow_write 0 $((41 * K4))
	[ -z "$(model_dropped)" ]
	cow_verify_snaps 1 2
	cow_check_counters
	cow_reload_all ""
	[ "$(cow_status total_chunks)" = 296 ]
	cow_verify_snaps 1 2
	unload_all
	"$VSS_CHECK" "$COW_STORE"
}

@test "a resume without growth changes nothing; a device grown by a metadata chunk only neither" {
	local meta
	# 258 chunks: header 2, one whole group of 1 + 255
	cow_make $((4 * MiB)) $((258 * K4))
	cow_fill
	cow_snapshot 1
	cow_write 0 $((10 * K4))
	meta=$(cow_status total_meta)
	dmsetup suspend "$COW_O"
	dmsetup resume "$COW_O"
	[ "$(cow_status total_chunks)" = 255 ]
	# chunk 258 would be the next group's metadata chunk, with no data chunk
	grow_store $((259 * K4))
	[ "$(cow_status total_chunks)" = 255 ]
	[ "$(cow_status total_meta)" = "$meta" ]
	cow_verify_snaps 1
	cow_check_counters
}

# linear_store BYTES: the store as a dm-linear device of BYTES over a
# loop device twice as large, so that it can shrink and grow back without
# losing what it held (as lvreduce and lvextend do).
linear_store() {
	COW_SLOOP=$(cow_loop storeback $(( 2 * $1 ))) || return 1
	linear_size "$1"
}

linear_size() {
	local name=${COW_PFX}st
	if [ -b "/dev/mapper/$name" ]; then
		dmsetup suspend "$name" &&
		dmsetup reload "$name" --table "0 $(( $1 / 512 )) linear $COW_SLOOP 0" &&
		dmsetup resume "$name"
	else
		dmsetup create "$name" --table "0 $(( $1 / 512 )) linear $COW_SLOOP 0"
	fi
}

@test "a store device that shrank: a warning at resume, a clear refusal at load, nothing lost" {
	COW_OREAL=$(cow_loop origin $((4 * MiB)))
	COW_SECTORS=$(blockdev --getsz "$COW_OREAL")
	linear_store $((2 * MiB))
	COW_STORE=/dev/mapper/${COW_PFX}st
	COW_MODEL=$COW_DIR/model
	truncate -s $((4 * MiB)) "$COW_MODEL"
	COW_FEATURES=
	cow_origin_load
	model_init "$(cow_status chunk_sectors)" "$(cow_status total_chunks)" drop
	[ "$(cow_status total_chunks)" = 508 ]
	cow_fill
	cow_snapshot 1
	cow_write 0 $((300 * K4))
	cow_log_mark
	linear_size $((1 * MiB))
	dmsetup suspend "$COW_O"
	dmsetup resume "$COW_O"
	cow_dmesg | grep -q "smaller than the store"
	[ "$(cow_status mode)" = rw ]
	[ "$(cow_status total_chunks)" = 508 ]
	unload_all
	linear_size $((1 * MiB))	# unload_all removed it
	modprobe dm-vss
	run ! dmsetup create "${COW_PFX}o" --table "0 $COW_SECTORS vss-origin $COW_OREAL $COW_STORE"
	cow_dmesg | grep -q "Store device is smaller than its superblock says" || { cow_dmesg | tail -5; false; }
	# given back its size, the store loads with its snapshot intact
	linear_size $((2 * MiB))
	load_all 1
	[ "$(cow_status total_chunks)" = 508 ]
	cow_verify_snaps 1
	cow_check_counters
	# and grows past it
	unload_all
	linear_size $((3 * MiB))
	load_all 1
	[ "$(cow_status total_chunks)" = 763 ]
	cow_verify_snaps 1
}

# now_ms: milliseconds since the Epoch.
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

@test "the grow message grows the store with the origin never suspended: first writes go on meanwhile" {
	local file before after t0 t1 n i pid
	# 64 MiB origin over an 8 MiB store (4 KiB chunks)
	cow_make $((64 * MiB)) $((8 * MiB))
	cow_fill
	cow_snapshot 1
	before=$(cow_status total_chunks)
	# the store's device grows to 8 GiB: about 8000 new exception blocks to write
	file=$(losetup -n -O BACK-FILE "$COW_STORE")
	truncate -s $((8 * 1024 * MiB)) "$file"
	losetup -c "$COW_STORE"
	# first writes, one chunk at a time, each stamped when it completes
	(
		for i in $(seq 0 4095); do
			dd if=/dev/urandom of="$COW_ODEV" bs=4096 seek=$((i * 4)) count=1 \
				oflag=direct conv=notrunc status=none || exit 1
			now_ms
		done
	) > "$COW_DIR/stamps" &
	pid=$!
	sleep 1
	t0=$(now_ms)
	dmsetup message "$COW_O" 0 grow
	t1=$(now_ms)
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
	after=$(cow_status total_chunks)
	n=$(awk -v a="$t0" -v b="$t1" '$1 >= a && $1 <= b' "$COW_DIR/stamps" | wc -l)
	echo "# grow message: $before -> $after data chunks in $((t1 - t0)) ms; $n first writes completed meanwhile" >&3
	(( after > before * 100 ))
	(( n > 0 ))
	cow_dmesg | grep -q "grown from $before to $after data chunks"
	[ "$(cow_status mode)" = rw ]
	cow_verify_snaps 1
	# a second grow message with nothing to grow changes nothing
	dmsetup message "$COW_O" 0 grow
	[ "$(cow_status total_chunks)" = "$after" ]
}
