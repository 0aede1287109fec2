#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# vss-origin: a store that fills up.  Default policy: the oldest snapshots
# are dropped until the copy fits; overflow_invalidate: every snapshot is
# invalidated.  Either way the origin write completes, the origin holds
# exactly what was written, a dm event is raised, and a snapshot that is no
# longer valid answers EIO.  Run inside the VM:
#   scripts/vm-run -- bats test/target/cow-overflow.bats

load cow-helpers

setup_file() { cow_setup_file; }
setup() { cow_setup; }
teardown() { cow_teardown; }

MiB=$((1024 * 1024))
K4=4096

# A 4 MiB origin (1024 chunks of 4 KiB) over a 1 MiB store: 253 data chunks.
small_store() {
	cow_make $((4 * MiB)) $((1 * MiB)) "$@"
	[ "$(cow_status total_chunks)" = 253 ]
	cow_fill
}

# check_states ID...: each snapshot's device reports the state the model
# predicts; valid ones read back as at their instant, the others fail with
# EIO.
check_states() {
	local id want
	for id in "$@"; do
		[ -b "/dev/mapper/${COW_PFX}s$id" ] || cow_snap_dev "$id"
		want=$(model_state "$id")
		[ "$want" = dropped ] && want=invalid
		[ "$(cow_snap_status "$id" state)" = "$want" ] ||
			{ echo "snapshot $id: state $(cow_snap_status "$id" state), expected $want"; return 1; }
		if [ "$want" = valid ]; then
			cow_verify_snap "$id"
		else
			cow_expect_eio "/dev/mapper/${COW_PFX}s$id"
		fi
	done
}

@test "default policy: the oldest snapshots are dropped, the newer ones still read back" {
	local ev id
	small_store
	cow_snapshot 1
	cow_write 0 $((100 * K4))
	cow_snapshot 2
	cow_write $((100 * K4)) $((100 * K4))
	[ "$(cow_status used_chunks)" = 200 ]
	cow_snap_dev 1
	cow_snap_dev 2
	ev=$(cow_events)
	cow_snapshot 3
	# 100 copies, 53 fit: snapshot 1 is dropped, which frees its 100
	cow_write $((200 * K4)) $((100 * K4))
	[ "$(model_dropped)" = 1 ]
	(( $(cow_events) > ev ))
	cow_dmesg | grep -q "dropped snapshot 1$"
	check_states 1 2 3
	cow_snapshot 4
	cow_write 0 $((120 * K4))
	cow_write $((600 * K4 + 1000)) 5000
	[ "$(model_dropped)" = "1 2" ]
	cow_dmesg | grep -q "dropped snapshot 2$"
	! cow_dmesg | grep -q "dropped snapshot [34]$" || false
	check_states 1 2 3 4
	[ "$(cow_status mode)" = rw ]
	[ "$(cow_status snap_count)" = 4 ]
	cow_verify_origin
	cow_check_counters
	# the dropped state is on the store: the same after a reload
	cow_reload_all
	check_states 1 2 3 4
	cow_check_counters
	# a dropped snapshot is deleted like any other
	cow_snap_remove 1
	dmsetup message "$COW_O" 0 delete 1
	model_delete 1
	[ "$(cow_status snap_count)" = 3 ]
	check_states 2 3 4
	cow_verify_origin
}

@test "default policy: one write larger than the store drops every snapshot and completes" {
	small_store
	cow_snapshot 1
	cow_write 0 $((10 * K4))
	cow_snapshot 2
	cow_snap_dev 1
	cow_snap_dev 2
	cow_write 0 $((400 * K4))
	[ "$(model_dropped)" = "1 2" ]
	check_states 1 2
	[ "$(cow_status used_chunks)" = 0 ]
	cow_verify_origin
	# the store is usable again
	cow_snapshot 3
	cow_write $((1 * MiB)) $((50 * K4))
	check_states 3
	cow_verify_origin
	cow_check_counters
}

@test "overflow_invalidate: every snapshot is invalidated, reads fail with EIO" {
	local ev
	small_store overflow_invalidate
	cow_snapshot 1
	cow_write 0 $((100 * K4))
	cow_snapshot 2
	cow_write $((100 * K4)) $((100 * K4))
	cow_snap_dev 1
	cow_snap_dev 2
	cow_verify_snaps 1 2
	ev=$(cow_events)
	cow_snapshot 3
	cow_snap_dev 3
	cow_write $((200 * K4)) $((100 * K4))
	(( $(cow_events) > ev ))
	cow_dmesg | grep -q "invalidating all snapshots"
	! cow_dmesg | grep -q "dropped snapshot" || false
	for id in 1 2 3; do
		[ "$(model_state "$id")" = invalid ]
	done
	check_states 1 2 3
	[ "$(cow_status used_chunks)" = 0 ]
	[ "$(cow_status snap_count)" = 3 ]
	[ "$(cow_status mode)" = rw ]
	cow_verify_origin
	# later snapshots work, and the invalid ones stay invalid after a reload
	cow_snapshot 4
	cow_write 0 $((30 * K4))
	check_states 1 2 3 4
	cow_reload_all
	check_states 1 2 3 4
	cow_verify_origin
	cow_check_counters
}

@test "the overflow raises a dm event of its own, seen by dmsetup wait" {
	local ev waiter
	small_store
	cow_snapshot 1
	cow_write 0 $((200 * K4))
	cow_snapshot 2
	# fill the store exactly: the usage events (50/75/90/100 %) are past
	cow_write $((200 * K4)) $((53 * K4))
	[ "$(cow_status used_chunks)" = 253 ]
	ev=$(cow_events)
	timeout 120 dmsetup wait "$COW_O" "$ev" &
	waiter=$!
	cow_write $((300 * K4)) $K4
	wait "$waiter"
	[ "$(cow_events)" = $((ev + 1)) ]
	[ "$(model_dropped)" = 1 ]
	check_states 1 2
	cow_verify_origin
}

@test "a reload switches the policy and keeps the snapshots" {
	small_store
	cow_snapshot 1
	cow_write 0 $((100 * K4))
	cow_snapshot 2
	cow_write $((100 * K4)) $((100 * K4))
	dmsetup reload "$COW_O" --table "0 $COW_SECTORS vss-origin $COW_OREAL $COW_STORE 1 overflow_invalidate"
	dmsetup resume "$COW_O"
	dmsetup table "$COW_O" | grep -q "overflow_invalidate$"
	[ "$(cow_status snap_count)" = 2 ]
	cow_verify_snaps 1 2
	cow_check_counters
	sed -i 's/^policy .*/policy invalidate/' "$COW_DIR/model.state"
	cow_snapshot 3
	cow_write $((200 * K4)) $((100 * K4))
	check_states 1 2 3
	[ "$(model_state 1)" = invalid ]
	cow_verify_origin
}

@test "a store that fails on I/O: snapshots invalid, origin writes still done" {
	local sloop sectors
	COW_OREAL=$(cow_loop origin $((4 * MiB)))
	COW_SECTORS=$(blockdev --getsz "$COW_OREAL")
	COW_MODEL=$COW_DIR/model
	truncate -s $((COW_SECTORS * 512)) "$COW_MODEL"
	sloop=$(cow_loop store $((4 * MiB)))
	sectors=$(blockdev --getsz "$sloop")
	dmsetup create "${COW_PFX}store" --table "0 $sectors linear $sloop 0"
	COW_STORE=/dev/mapper/${COW_PFX}store
	COW_FEATURES=
	cow_origin_load
	model_init 8 0 drop
	cow_fill
	cow_snapshot 1
	cow_write 0 $((10 * K4))
	cow_snap_dev 1
	cow_verify_snap 1
	# the store's device now fails every I/O
	dmsetup suspend "${COW_PFX}store"
	dmsetup reload "${COW_PFX}store" --table "0 $sectors error"
	dmsetup resume "${COW_PFX}store"
	cow_write $((100 * K4)) $((20 * K4))
	cow_write 0 $((5 * K4))
	[ "$(cow_status mode)" = fail ]
	[ "$(cow_snap_status 1 state)" = invalid ]
	cow_expect_eio "/dev/mapper/${COW_PFX}s1"
	cow_dmesg | grep -q "all snapshots invalidated"
	cow_verify_origin
	# no new snapshot on a failed store
	dmsetup suspend "$COW_O"
	run ! dmsetup message "$COW_O" 0 create 2
	dmsetup resume "$COW_O"
	cow_write $((200 * K4)) $((3 * K4))
	cow_verify_origin
}

@test "a usage event fires again when the usage rises past a level after a delete lowered it" {
	local ev
	small_store
	cow_snapshot 1
	# 140 of 253 chunks: past 50 %
	ev=$(cow_events)
	cow_write 0 $((140 * K4))
	(( $(cow_events) > ev ))
	# the delete frees them (and raises its own event)
	dmsetup message "$COW_O" 0 delete 1
	model_delete 1
	[ "$(cow_status used_chunks)" = 0 ]
	cow_snapshot 2
	ev=$(cow_events)
	cow_write $((200 * K4)) $((140 * K4))
	[ "$(cow_status used_chunks)" = 140 ]
	(( $(cow_events) > ev ))
	cow_snap_dev 2
	cow_verify_snaps 2
	cow_check_counters
}
