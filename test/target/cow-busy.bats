#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# vss-origin under the load of a production server: a snapshot deleted
# while a backup reads another (the nightly "keep 7" rotation) must neither
# wait for that backup nor stall the origin's first writes.  Run inside the
# VM:
#   scripts/vm-run -- bats test/target/cow-busy.bats

load helpers
load cow-helpers

setup_file() { cow_setup_file; }
setup() { cow_setup; }
teardown() { cow_teardown; }

MiB=$((1024 * 1024))

# now_ms: a monotonic-enough clock in milliseconds.
now_ms() {
	echo $(( $(date +%s%N) / 1000000 ))
}

# fio_json_ok FILE: every job of a fio JSON report ended without an error.
fio_json_ok() {
	local bad
	bad=$(jq '[.jobs[].error] | map(select(. != 0)) | length' "$1") || { cat "$1" >&2; return 1; }
	[ "$bad" = 0 ] || { echo "fio reported errors in $1" >&2; jq '.jobs[] | {jobname, error}' "$1" >&2; return 1; }
}

# Snapshot 1 (A) and 2 (B) of a 64 MiB origin; B has 16 MiB of copies in the
# store, which its readers below read, and 48 MiB never written since.
two_snapshots() {
	cow_make $((64 * MiB)) $((96 * MiB))
	cow_write 0 $((16 * MiB))
	cow_snapshot 1
	cow_write 0 $((16 * MiB))
	cow_snapshot 2
	cow_write 0 $((16 * MiB))
	cow_snap_dev 2
}

# first_writes SECONDS: fio 4 KiB random first writes on the origin past its
# first 16 MiB, one at a time, so its longest latency is the longest stall.
first_writes() {
	fio --name=first --filename="$COW_ODEV" --offset=16M --size=48M --rw=randwrite --bs=4k \
		--ioengine=psync --direct=1 --rate_iops=100 --runtime="$1" --time_based --randrepeat=0 --norandommap \
		--output-format=json --output="$COW_DIR/writer.json" >/dev/null 2>&1
}

# delayed_store_reads MS: the store's reads take MS ms more (dm-delay), so
# that a backup's reads stay in flight as on a real disk under load; the
# store's writes and flushes are not delayed.
delayed_store_reads() {
	local loop=$COW_STORE
	modprobe dm-delay
	cow_snap_remove 2
	dmsetup remove "$COW_O"
	dmsetup create "${COW_PFX}delay" --table \
		"0 $(blockdev --getsz "$loop") delay $loop 0 $1 $loop 0 0"
	COW_STORE=/dev/mapper/${COW_PFX}delay
	cow_origin_load
	cow_snap_dev 2
}

@test "deleting a snapshot while a backup reads another returns at once and first writes go on" {
	local readers writer t0 ms ref stall n
	require fio jq
	two_snapshots
	delayed_store_reads 50
	# the backup: four readers of B's copies in the store, each with four
	# reads in flight that take 50 ms
	fio --name=backup --filename="/dev/mapper/${COW_PFX}s2" --size=16M --rw=randread --bs=4k \
		--ioengine=libaio --iodepth=4 --numjobs=4 --direct=1 --runtime=12 --time_based \
		--output-format=json --output="$COW_DIR/readers.json" >/dev/null 2>&1 &
	readers=$!
	first_writes 12 &
	writer=$!
	sleep 4
	# what running dmsetup costs under this load, for comparison
	t0=$(now_ms)
	dmsetup status "$COW_O" >/dev/null
	ref=$(( $(now_ms) - t0 ))
	t0=$(now_ms)
	timeout 60 dmsetup message "$COW_O" 0 delete 1
	ms=$(( $(now_ms) - t0 ))
	model_delete 1
	wait "$readers"
	wait "$writer"
	fio_json_ok "$COW_DIR/readers.json"
	fio_json_ok "$COW_DIR/writer.json"
	stall=$(jq '.jobs[0].write.lat_ns.max / 1000000 | floor' "$COW_DIR/writer.json")
	n=$(jq '.jobs[0].write.total_ios' "$COW_DIR/writer.json")
	echo "# delete took $ms ms (dmsetup status $ref ms); $n first writes, the longest took $stall ms;" \
		"$(jq '[.jobs[].read.total_ios] | add' "$COW_DIR/readers.json") reads of B" >&3
	(( ms < 2000 ))
	(( stall < 1000 ))
	[ "$(cow_status snap_count)" = 1 ]
	cow_verify_snap 2
}

@test "deleting a snapshot while it is read: its reads end, its space is freed and reused" {
	local readers used
	two_snapshots
	cow_snap_dev 1
	# readers of A itself: its reads in flight are drained before its
	# space is freed; the reads after the delete fail
	(
		while :; do
			dd if="/dev/mapper/${COW_PFX}s1" iflag=direct bs=64k of=/dev/null status=none 2>/dev/null || exit 0
		done
	) &
	readers=$!
	(
		while :; do
			dd if="/dev/mapper/${COW_PFX}s1" iflag=direct bs=4k skip=100 of=/dev/null status=none 2>/dev/null || exit 0
		done
	) &
	readers="$readers $!"
	sleep 2
	used=$(cow_status used_chunks)
	timeout 60 dmsetup message "$COW_O" 0 delete 1
	model_delete 1
	sleep 1
	# shellcheck disable=SC2086
	bg_stop $readers
	(( $(cow_status used_chunks) < used ))
	cow_expect_eio "/dev/mapper/${COW_PFX}s1"
	[ "$(cow_snap_status 1 state)" = invalid ]
	cow_snap_remove 1
	# the freed chunks take new copies; B keeps its content
	cow_write $((16 * MiB)) $((32 * MiB))
	cow_verify_snap 2
	cow_check_counters
	cow_reload_all
	cow_verify_snaps 2
	cow_check_counters
}

@test "a second vss-origin device over the same store is refused; the device's own reload is not" {
	cow_make $((8 * MiB)) $((24 * MiB))
	cow_fill
	cow_snapshot 1
	run ! dmsetup create "${COW_PFX}o2" --table "0 $COW_SECTORS vss-origin $COW_OREAL $COW_STORE"
	cow_dmesg | grep -q "vss-origin: The store is in use by another mapped device"
	[ ! -b "/dev/mapper/${COW_PFX}o2" ]
	dmsetup reload "$COW_O" --table "0 $COW_SECTORS vss-origin $COW_OREAL $COW_STORE 1 overflow_invalidate"
	dmsetup suspend "$COW_O"
	dmsetup resume "$COW_O"
	dmsetup table "$COW_O" | grep -q overflow_invalidate
	cow_write 0 $((1 * MiB))
	cow_verify_snaps 1
	cow_verify_origin
}

@test "a store being formatted does not hold up the tables of other stores" {
	local big slow o2 pid t0 t1 ms running
	# 1 GiB of 4 KiB chunks: about 1030 exception blocks, written 256 at a
	# time, each write and flush delayed 2 s: the format takes over 20 s
	o2=$(cow_loop origin2 $((8 * MiB)))
	big=$(cow_loop bigstore $((1024 * MiB)))
	slow=${COW_PFX}slowstore
	dmsetup create "$slow" --table "0 $((1024 * MiB / 512)) delay $big 0 0 $big 0 2000"
	t0=$(now_ms)
	dmsetup create "${COW_PFX}o2" --table "0 $((8 * MiB / 512)) vss-origin $o2 /dev/mapper/$slow" &
	pid=$!
	sleep 2
	kill -0 "$pid"
	t1=$(now_ms)
	cow_make $((8 * MiB)) $((24 * MiB))
	ms=$(( $(now_ms) - t1 ))
	running=0
	kill -0 "$pid" 2>/dev/null && running=1
	wait "$pid"
	echo "# another store's table loaded in $ms ms; the formatted one in $(( $(now_ms) - t0 )) ms" >&3
	# it loaded while the other store was still being formatted
	[ "$running" = 1 ]
	cow_fill
	cow_snapshot 1
	cow_write 0 $((1 * MiB))
	[ "$(cow_status mode "${COW_PFX}o2")" = rw ]
	cow_verify_snaps 1
	cow_verify_origin
}

@test "a store with larger sectors than the origin's is refused; with the same sectors it works" {
	local f4 s4 o4
	cow_make $((8 * MiB)) $((24 * MiB))
	dmsetup remove "$COW_O"
	truncate -s $((24 * MiB)) "$COW_DIR/store4k.img"
	s4=$(losetup -f --show --sector-size 4096 "$COW_DIR/store4k.img")
	echo "$s4" >> "$COW_DIR/loops"
	run ! dmsetup create "$COW_O" --table "0 $COW_SECTORS vss-origin $COW_OREAL $s4"
	cow_dmesg | grep -q "vss-origin: The store's logical block size is larger than the origin's"
	cow_dmesg | grep -q "has 4096-byte sectors, origin .* 512-byte ones"
	# a 4Kn origin over a 4Kn store
	truncate -s $((8 * MiB)) "$COW_DIR/origin4k.img"
	o4=$(losetup -f --show --sector-size 4096 "$COW_DIR/origin4k.img")
	echo "$o4" >> "$COW_DIR/loops"
	COW_OREAL=$o4 COW_STORE=$s4
	cow_origin_load ""
	cow_fill
	cow_snapshot 1
	cow_write 0 $((1 * MiB))
	cow_snap_dev 1
	cow_verify_snaps 1
	cow_verify_origin
}
