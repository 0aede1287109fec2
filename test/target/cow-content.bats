#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# vss-origin / vss-snap: every snapshot reads back exactly as the origin was
# at its instant, through later writes of every shape, table reloads and the
# deletion of other snapshots.  Run inside the VM:
#   scripts/vm-run -- bats test/target/cow-content.bats

load cow-helpers

setup_file() { cow_setup_file; }
setup() { cow_setup; }
teardown() { cow_teardown; }

MiB=$((1024 * 1024))

# Five snapshots of an 8 MiB origin with writes between them: multi-chunk
# writes with unaligned ends, partial-chunk writes, byte-unaligned writes
# through the page cache, writes straddling a chunk boundary, the same
# chunks again and new ones, the last chunk, a 2 MiB overwrite, and
# scattered small writes at random sectors after the last snapshot.
scenario() {
	local C=$M_CB i off len
	RANDOM=${COW_SEED:=$$}
	echo "# scenario: chunk $C bytes, seed $COW_SEED"
	cow_fill
	cow_snapshot 1
	cow_write $((3 * C + 3 * 512)) $((5 * C + 1024))
	cow_write $((10 * C + 512)) 1024
	cow_write $((20 * C + 100)) 333
	cow_snapshot 2
	cow_write $((2 * C + 7 * 512)) $((3 * C))
	cow_write $((40 * C + C - 512)) 1024
	cow_write $((20 * C + 50)) 10
	cow_snapshot 3
	cow_write $((2 * C + 7 * 512)) $((3 * C))
	cow_write $((10 * C + 1024)) 512
	cow_write $((5 * MiB + 512)) $((1 * MiB))
	cow_write $((COW_SECTORS * 512 - 1536)) 1536
	cow_snapshot 4
	cow_write 0 $((2 * MiB))
	cow_snapshot 5
	for i in $(seq 8); do
		len=$(( (RANDOM % 16 + 1) * 512 ))
		off=$(( (RANDOM * 32768 + RANDOM) % (COW_SECTORS - len / 512) * 512 ))
		cow_write "$off" "$len"
	done
}

@test "snapshots keep their content through later writes (4 KiB chunks)" {
	cow_make $((8 * MiB)) $((24 * MiB))
	[ "$(cow_status chunk_sectors)" = 8 ]
	scenario
	cow_verify_snaps 1 2 3 4 5
	cow_verify_origin
	[ "$(cow_status snap_count)" = 5 ]
	[ "$(cow_status mode)" = rw ]
	cow_check_counters
}

@test "snapshots keep their content through later writes (64 KiB chunks)" {
	cow_make $((8 * MiB)) $((24 * MiB)) chunk_sectors 128
	[ "$(cow_status chunk_sectors)" = 128 ]
	scenario
	cow_verify_snaps 1 2 3 4 5
	cow_verify_origin
	cow_check_counters
}

@test "the origin reads back what was written, with and without snapshots" {
	cow_make $((8 * MiB)) $((24 * MiB))
	cow_fill
	cow_verify_origin
	cow_write 4096 100
	cow_write 12345 6789
	cow_verify_origin
	cow_snapshot 1
	cow_write 4096 100
	cow_write 12345 6789
	cow_write $((3 * MiB - 512)) $((1 * MiB + 1024))
	cow_verify_origin
	# read back through the page cache as well
	[ "$(sha256sum < "$COW_ODEV" | cut -d' ' -f1)" = "$(cow_sha "$COW_MODEL")" ]
	cow_verify_snaps 1
}

@test "a snapshot device loaded at once reads the same before and after later writes" {
	cow_make $((8 * MiB)) $((24 * MiB))
	cow_fill
	cow_snapshot 1
	cow_snap_dev 1
	cow_verify_snap 1
	cow_write 0 $((4 * MiB))
	cow_verify_snap 1
	cow_snapshot 2
	cow_snap_dev 2
	cow_write $((1 * MiB + 512)) $((6 * MiB))
	cow_verify_snap 1
	cow_verify_snap 2
	[ "$(cow_snap_status 1 state)" = valid ]
	[ "$(cow_snap_status 1 id)" = 1 ]
	cow_check_counters
}

@test "reads of parts of chunks at unaligned offsets map into the right copy" {
	local id off len
	COW_KEEP_IMAGES=1
	cow_make $((8 * MiB)) $((24 * MiB)) chunk_sectors 64
	scenario
	for id in 1 2 3 4 5; do
		cow_snap_dev "$id"
		for off in 512 $((3 * 32768 + 1536)) $((32768 - 512)) $((41 * 32768 - 3584)) \
			   $((5 * MiB + 2560)) $((COW_SECTORS * 512 - 4608)); do
			for len in 512 4096 $((32768 + 1024)); do
				(( off + len <= COW_SECTORS * 512 )) || continue
				[ "$(cow_sha_range "/dev/mapper/${COW_PFX}s$id" "$off" "$len")" = \
				  "$(cow_sha_range "$COW_DIR/image.$id" "$off" "$len")" ] ||
					{ echo "snapshot $id: $len bytes at $off differ"; false; }
			done
		done
	done
}

# A write is cut at each chunk it must copy, and goes whole over chunks
# already copied; a snapshot read goes whole while its chunks come from the
# origin, or from store chunks that follow each other, and is cut where
# that changes (here also where the store's copies cross a metadata chunk).
@test "writes and reads spanning copied and uncopied chunks map each chunk right" {
	local C bs sha id
	cow_make $((8 * MiB)) $((24 * MiB))
	C=$M_CB
	cow_fill
	cow_snapshot 1
	cow_write $((10 * C)) "$C"
	cow_write $((12 * C)) "$C"
	cow_write $((8 * C)) $((6 * C))
	cow_write $((100 * C)) $((300 * C))
	cow_write $((101 * C + 512)) $((310 * C))
	cow_snapshot 2
	cow_write $((90 * C)) $((20 * C))
	cow_write $((50 * C)) $((700 * C))
	cow_snapshot 3
	cow_write 0 $((8 * MiB))
	for id in 1 2 3; do
		cow_verify_snaps "$id"
		for bs in 4k 12k 1M 3M; do
			sha=$(dd if="/dev/mapper/${COW_PFX}s$id" iflag=direct bs=$bs status=none | sha256sum)
			[ "${sha%% *}" = "${COW_EXPECT[$id]}" ] ||
				{ echo "snapshot $id read in $bs blocks differs"; false; }
		done
	done
	cow_verify_origin
	cow_check_counters
}

# Reads of a snapshot that take whole runs of origin chunks, while first
# writes to those chunks arrive: each held write waits for the reads of its
# chunk, so every read returns the snapshot's instant.  The origin sits on
# dm-delay, its reads held 20 ms and its writes not, so that a copy read
# before a snapshot read is mapped commits while that read still waits.
@test "snapshot reads of runs of origin chunks race first writes to them and read the instant" {
	local pid sha bs n=0 bad=0 loop
	modprobe dm-delay
	cow_make $((8 * MiB)) $((24 * MiB))
	cow_fill
	cow_snapshot 1
	dmsetup remove "$COW_O"
	loop=$COW_OREAL
	dmsetup create "${COW_PFX}delay" --table "0 $COW_SECTORS delay $loop 0 20 $loop 0 0"
	COW_OREAL=/dev/mapper/${COW_PFX}delay
	cow_origin_load
	cow_snap_dev 1
	timeout 120 fio --name=race --filename="$COW_ODEV" --rw=randwrite --bs=4k --ioengine=libaio \
		--iodepth=8 --direct=1 --runtime=12 --time_based --randrepeat=0 --norandommap \
		--output=/dev/null &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		for bs in 1M 256k 64k; do
			sha=$(dd if="/dev/mapper/${COW_PFX}s1" iflag=direct bs=$bs status=none | sha256sum)
			n=$((n + 1))
			[ "${sha%% *}" = "${COW_EXPECT[1]}" ] || { bad=$((bad + 1)); echo "# read $n ($bs) differs"; }
		done
	done
	wait "$pid"
	echo "# $n reads of the snapshot during the writes, $bad wrong; $(cow_snap_status 1 copied) chunks copied"
	(( n >= 3 && bad == 0 ))
	(( $(cow_snap_status 1 copied) > 100 ))
	cow_verify_snap 1
}

@test "snapshots survive removing every table and reloading the module" {
	local used copied3
	cow_make $((8 * MiB)) $((24 * MiB)) chunk_sectors 128
	scenario
	cow_verify_snaps 1 2 3 4 5
	used=$(cow_status used_chunks)
	copied3=$(cow_snap_status 3 copied)
	cow_reload_all ""
	# the chunk size comes from the store now
	[ "$(cow_status chunk_sectors)" = 128 ]
	[ "$(cow_status snap_count)" = 5 ]
	[ "$(cow_status used_chunks)" = "$used" ]
	[ "$(cow_snap_status 3 copied)" = "$copied3" ]
	cow_verify_snaps 1 2 3 4 5
	cow_verify_origin
	cow_check_counters
	# the store carries on: later snapshots are newer than the reloaded ones
	cow_write $((2 * M_CB + 7 * 512)) $((3 * M_CB))
	cow_snapshot 6
	cow_write 0 $((3 * MiB))
	cow_write $((7 * MiB + 512)) 4096
	cow_verify_snaps 1 2 3 4 5 6
	cow_verify_origin
	cow_check_counters
	cow_reload_all ""
	cow_verify_snaps 1 2 3 4 5 6
	cow_check_counters
}

@test "deleting a middle snapshot keeps the others and frees the space only it needed" {
	local before after events
	cow_make $((8 * MiB)) $((24 * MiB))
	scenario
	cow_verify_snaps 1 2 3 4 5
	cow_check_counters
	before=$(cow_status used_chunks)
	events=$(cow_events)
	dmsetup message "$COW_O" 0 delete 3
	model_delete 3
	after=$(cow_status used_chunks)
	echo "# used chunks: $before before the delete, $after after"
	(( after < before ))
	[ "$(cow_status snap_count)" = 4 ]
	(( $(cow_events) > events ))
	# the deleted snapshot's device, still loaded, answers EIO
	cow_expect_eio "/dev/mapper/${COW_PFX}s3"
	[ "$(cow_snap_status 3 state)" = invalid ]
	cow_snap_remove 3
	cow_verify_snaps 1 2 4 5
	cow_verify_origin
	cow_check_counters
	# its id is gone from the store
	run ! cow_snap_dev 3
	# writes after the delete, then again after a reload
	cow_write $((2 * MiB)) $((2 * MiB))
	cow_verify_snaps 1 2 4 5
	cow_check_counters
	cow_reload_all
	[ "$(cow_status snap_count)" = 4 ]
	run ! cow_snap_dev 3
	cow_verify_snaps 1 2 4 5
	cow_verify_origin
	cow_check_counters
}

@test "space freed by a delete is reused without harm to the other snapshots" {
	# 1 MiB store of 4 KiB chunks: 2 header chunks, one metadata chunk and
	# 253 data chunks.
	cow_make $((4 * MiB)) $((1 * MiB))
	[ "$(cow_status total_chunks)" = 253 ]
	cow_fill
	cow_snapshot 1
	cow_write 0 $((100 * 4096))
	cow_snapshot 2
	cow_write 0 $((100 * 4096))
	[ "$(cow_status used_chunks)" = 200 ]
	dmsetup message "$COW_O" 0 delete 2
	model_delete 2
	[ "$(cow_status used_chunks)" = 100 ]
	cow_snapshot 3
	# 100 new copies: 53 fit in never-used chunks, 47 must reuse freed ones
	cow_write $((100 * 4096)) $((100 * 4096))
	[ "$(cow_status used_chunks)" = 200 ]
	cow_verify_snaps 1 3
	[ "$(cow_snap_status 1 state)" = valid ]
	[ "$(cow_snap_status 3 state)" = valid ]
	cow_verify_origin
	cow_check_counters
	cow_reload_all
	cow_verify_snaps 1 3
	cow_check_counters
}

@test "deleting every snapshot frees the whole store, and an id can be used again" {
	cow_make $((8 * MiB)) $((24 * MiB))
	scenario
	(( $(cow_status used_chunks) > 0 ))
	for id in 5 1 3 2 4; do
		dmsetup message "$COW_O" 0 delete "$id"
		model_delete "$id"
	done
	[ "$(cow_status used_chunks)" = 0 ]
	[ "$(cow_status snap_count)" = 0 ]
	# no snapshot: writes go straight through
	cow_write 0 $((1 * MiB))
	[ "$(cow_status used_chunks)" = 0 ]
	cow_snapshot 3
	cow_write 0 $((1 * MiB))
	cow_verify_snaps 3
	cow_verify_origin
	cow_check_counters
}
