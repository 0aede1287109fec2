#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# vss-origin / vss-snap at scale and at the edges of the geometry: 64
# snapshots of one origin, every chunk size from 4 KiB to 1 MiB, an origin
# that ends in a partial chunk, stores too small to format, and a chunk
# size that does not match the store.  Run inside the VM:
#   scripts/vm-run -- bats test/target/cow-scale.bats

load cow-helpers

setup_file() { cow_setup_file; }
setup() { cow_setup; }
teardown() { cow_teardown; }

MiB=$((1024 * 1024))

# COW_SCALE_SNAPS: another number of snapshots than the design's 64.
@test "64 snapshots of one origin, with writes between each, all read back" {
	local i off len odd=() even=() n=${COW_SCALE_SNAPS:-64}
	echo "# $n snapshots" >&3
	cow_make $((2 * MiB)) $((16 * MiB))
	RANDOM=${COW_SEED:=$$}
	echo "# seed $COW_SEED"
	cow_fill
	for i in $(seq "$n"); do
		cow_snapshot "$i"
		# the same chunk every time, and a random run of chunks
		cow_write $(( 4096 + (i % 8) * 512 )) 512
		len=$(( (RANDOM % 24 + 1) * 512 ))
		off=$(( RANDOM % (COW_SECTORS - len / 512) * 512 ))
		cow_write "$off" "$len"
		if (( i % 2 )); then odd+=("$i"); else even+=("$i"); fi
	done
	[ "$(cow_status snap_count)" = "$n" ]
	cow_verify_snaps $(seq "$n")
	cow_verify_origin
	cow_check_counters
	# every other snapshot deleted: the others still read back
	for i in "${even[@]}"; do
		cow_snap_remove "$i"
		dmsetup message "$COW_O" 0 delete "$i"
	done
	model_delete "${even[@]}"
	[ "$(cow_status snap_count)" = "${#odd[@]}" ]
	cow_check_counters
	cow_write 0 $((1 * MiB))
	cow_verify_snaps "${odd[@]}"
	cow_check_counters
	cow_reload_all
	cow_verify_snaps "${odd[@]}"
	cow_verify_origin
	cow_check_counters
}

# The index's bound of doc/dm-vss.rst: at most 16 bytes per copied chunk
# whenever there are more copies than its smallest table (256 entries).
@test "the in-core index stays within 16 bytes per copied chunk as the copies grow" {
	local step used bytes max=0 worst=
	cow_make $((24 * MiB)) $((32 * MiB))
	dmsetup suspend "$COW_O"
	dmsetup message "$COW_O" 0 create 1
	dmsetup resume "$COW_O"
	# 97 chunks at a time (4 KiB chunks): every size the table passes
	for ((step = 0; step < 63; step++)); do
		dd if=/dev/urandom of="$COW_ODEV" bs=4096 count=97 seek=$((step * 97)) \
			oflag=direct conv=notrunc status=none
		used=$(cow_status used_chunks) bytes=$(cow_status index_bytes)
		(( used == (step + 1) * 97 )) || { echo "used_chunks $used after $(((step + 1) * 97)) first writes" >&2; false; }
		(( used >= 256 && bytes * 100 / used > max )) && max=$((bytes * 100 / used)) worst="$bytes bytes for $used chunks"
		(( used < 256 || bytes <= 16 * used )) || { echo "index: $bytes bytes for $used copied chunks" >&2; false; }
	done
	printf '# index: at most %d.%02d bytes per copied chunk from 256 to %d chunks (%s)\n' \
		$((max / 100)) $((max % 100)) "$used" "$worst" >&3
}

# chunk_scenario CHUNK_SECTORS: three snapshots, writes inside one chunk
# at unaligned offsets, across chunk boundaries and over whole chunks;
# verified, then again with the chunk size read from the store.
chunk_scenario() {
	local cs=$1 C=$(( $1 * 512 ))
	cow_make $((8 * MiB)) $((24 * MiB)) chunk_sectors "$cs"
	[ "$(cow_status chunk_sectors)" = "$cs" ]
	cow_fill
	cow_snapshot 1
	cow_write $(( 1 * C + 3 * 512 )) 1536
	cow_write $(( 3 * C - 1024 )) $(( C + 2048 ))
	cow_write $(( 5 * C + 777 )) 100
	cow_snapshot 2
	cow_write $(( 1 * C + 2 * 512 )) 4096
	cow_write $(( 6 * C )) "$C"
	cow_write $(( COW_SECTORS * 512 - 512 )) 512
	cow_snapshot 3
	cow_write 0 $(( 2 * C + 512 ))
	cow_verify_snaps 1 2 3
	cow_verify_origin
	cow_check_counters
	cow_reload_all ""
	[ "$(cow_status chunk_sectors)" = "$cs" ]
	cow_verify_snaps 1 2 3
	cow_check_counters
}

@test "4 KiB chunks (chunk_sectors 8)" {
	chunk_scenario 8
}

@test "32 KiB chunks (chunk_sectors 64)" {
	chunk_scenario 64
}

@test "256 KiB chunks (chunk_sectors 512)" {
	chunk_scenario 512
}

@test "1 MiB chunks (chunk_sectors 2048)" {
	chunk_scenario 2048
}

# partial_scenario CHUNK_SECTORS: an origin of 8 MiB + 5 sectors.
partial_scenario() {
	local cs=$1 C=$(( $1 * 512 )) end
	cow_make $(( 8 * MiB + 5 * 512 )) $((24 * MiB)) chunk_sectors "$cs"
	[ "$COW_SECTORS" = $(( 16384 + 5 )) ]
	end=$(( COW_SECTORS * 512 ))
	COW_KEEP_IMAGES=1
	cow_fill
	cow_snapshot 1
	cow_write $(( end - 1024 )) 1024
	cow_snapshot 2
	cow_write $(( end - C - 1024 )) $(( C + 1024 ))
	cow_snapshot 3
	cow_write $(( end - 2560 )) 2560
	cow_write $(( end - 100 )) 100
	cow_verify_snaps 1 2 3
	cow_verify_origin
	cow_check_counters
	for id in 1 2 3; do
		[ "$(cow_sha_range "/dev/mapper/${COW_PFX}s$id" $(( end - 2560 )) 2560)" = \
		  "$(cow_sha_range "$COW_DIR/image.$id" $(( end - 2560 )) 2560)" ]
	done
	cow_reload_all
	cow_verify_snaps 1 2 3
	cow_verify_origin
}

@test "an origin ending in a partial chunk (4 KiB chunks)" {
	partial_scenario 8
}

@test "an origin ending in a partial chunk (64 KiB chunks)" {
	partial_scenario 128
}

@test "a table shorter than its device, not a multiple of the chunk size" {
	COW_TABLE_SECTORS=$(( 16384 - 3 ))
	cow_make $((8 * MiB)) $((24 * MiB)) chunk_sectors 64
	[ "$COW_SECTORS" = $(( 16384 - 3 )) ]
	cow_fill
	cow_snapshot 1
	cow_write $(( COW_SECTORS * 512 - 4096 )) 4096
	cow_write 0 4096
	cow_snapshot 2
	cow_write $(( COW_SECTORS * 512 - 512 )) 512
	cow_verify_snaps 1 2
	cow_verify_origin
	cow_check_counters
	cow_reload_all
	cow_verify_snaps 1 2
}

# expect_store_refused STORE_BYTES CHUNK_SECTORS MESSAGE: loading an origin
# over a zeroed store of that size fails with MESSAGE in the kernel log,
# leaves no device and writes nothing to the store.
expect_store_refused() {
	local store sha
	store=$(cow_loop "store$1" "$1")
	sha=$(cow_sha "$store")
	cow_log_mark
	run ! dmsetup create "${COW_PFX}bad" --table \
		"0 $COW_SECTORS vss-origin $COW_OREAL $store 2 chunk_sectors $2"
	echo "$output"
	! dmsetup info "${COW_PFX}bad" >/dev/null 2>&1 || false
	[ "$(cow_sha "$store")" = "$sha" ]
	cow_dmesg | grep -F "$3"
}

@test "a store too small to format is refused cleanly" {
	COW_OREAL=$(cow_loop origin $((4 * MiB)))
	COW_SECTORS=$(blockdev --getsz "$COW_OREAL")
	expect_store_refused 4096 8 "Store device is too small"
	expect_store_refused 8192 8 "Store device is too small for its chunk size"
	expect_store_refused 12288 8 "Store device is too small for its chunk size"
	expect_store_refused $(( 2 * MiB )) 2048 "Store device is too small for its chunk size"
	expect_store_refused $(( 2 * MiB + 512 * 1024 )) 2048 "Store device is too small for its chunk size"
}

@test "the smallest store that formats holds one chunk" {
	cow_make $((4 * MiB)) 16384
	[ "$(cow_status total_chunks)" = 1 ]
	cow_fill
	cow_snapshot 1
	cow_write 100 200
	[ "$(cow_status used_chunks)" = 1 ]
	cow_verify_snaps 1
	cow_check_counters
	# a second chunk does not fit: the snapshot is dropped, the write done
	cow_write 8192 4096
	[ "$(cow_snap_status 1 state)" = invalid ]
	cow_verify_origin
}

@test "a chunk_sectors that differs from an existing store's is refused" {
	local sha
	cow_make $((8 * MiB)) $((24 * MiB))
	cow_fill
	cow_snapshot 1
	cow_write 0 $((1 * MiB))
	# while the store is loaded: a reload with another chunk size fails and
	# the live table carries on
	cow_log_mark
	run ! dmsetup reload "$COW_O" --table \
		"0 $COW_SECTORS vss-origin $COW_OREAL $COW_STORE 2 chunk_sectors 64"
	cow_dmesg | grep -F "chunk_sectors differs from the store's chunk size"
	cow_write $((2 * MiB)) 4096
	cow_verify_snaps 1
	cow_snap_remove 1
	dmsetup remove --retry "$COW_O"
	# from the store on disk: refused, and nothing written
	sha=$(cow_sha "$COW_STORE")
	cow_log_mark
	run ! cow_origin_load "2 chunk_sectors 64"
	cow_dmesg | grep -F "chunk_sectors differs from the store's chunk size"
	run ! cow_origin_load "2 chunk_sectors 2048"
	[ "$(cow_sha "$COW_STORE")" = "$sha" ]
	[ -z "$(cow_dm_names)" ]
	# the right size, or none, loads
	cow_origin_load "2 chunk_sectors 8"
	dmsetup remove --retry "$COW_O"
	cow_origin_load ""
	[ "$(cow_status chunk_sectors)" = 8 ]
	cow_verify_snaps 1
	cow_verify_origin
}
