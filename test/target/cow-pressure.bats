#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# vss-origin under memory pressure.  Debian's kernel has no failslab, so the
# module built with VSS_FAULT_INJECT (make module-faults) makes its chunk
# buffer allocations fail at a chosen rate: the copy engine then runs on
# its mempool's reserve of four buffers, as when the machine is out of
# memory.  First writes to many distinct 1 MiB chunks at once must neither
# hang nor hold more chunk buffers than the store's bound.  Run inside the
# VM:
#   scripts/vm-run -- bats test/target/cow-pressure.bats

load helpers
load cow-helpers

PARAMS=$COW_PARAMS
MiB=$((1024 * 1024))

setup_file() { cow_faults_load; }
teardown_file() { cow_faults_unload; }

setup() { cow_setup; }

teardown() {
	echo 0 > "$PARAMS/fault_buf_alloc_pct"
	cow_teardown
}

# scattered_writes DEPTH SECONDS: fio 4 KiB random writes at DEPTH in flight
# over the whole origin, each read back and checked (crc32c), for at most
# SECONDS; "hung" when they did not end by then (the failing allocations
# are switched off then, so that a hang ends and the test can report it).
scattered_writes() {
	local depth=$1 limit=$2 pid i
	fio --name=scatter --filename="$COW_ODEV" --rw=randwrite --bs=4k --ioengine=libaio \
		--iodepth="$depth" --direct=1 --size=$((COW_SECTORS * COW_SECTOR)) \
		--number_ios=1024 --randrepeat=0 --verify=crc32c --verify_fatal=1 \
		--output="$COW_DIR/fio.out" >/dev/null 2>&1 &
	pid=$!
	for ((i = 0; i < limit * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "hung: first writes still waiting after $limit s; chunk buffers held at most: $(cat "$PARAMS/buf_peak")" >&2
		echo 0 > "$PARAMS/fault_buf_alloc_pct"
		wait "$pid"
		return 1
	fi
	wait "$pid" || { echo "fio failed:" >&2; cat "$COW_DIR/fio.out" >&2; return 1; }
}

@test "first writes to many chunks with only the reserve's chunk buffers complete; the snapshot stays exact" {
	require fio
	cow_make $((128 * MiB)) $((160 * MiB)) chunk_sectors 2048
	cow_fill
	cow_snapshot 1
	cow_snap_dev 1
	echo 100 > "$PARAMS/fault_buf_alloc_pct"
	echo 0 > "$PARAMS/buf_peak"
	scattered_writes 32 60
	echo "# chunk buffers held at most: $(cat "$PARAMS/buf_peak"), $(cow_status used_chunks) chunks copied" >&3
	echo 0 > "$PARAMS/fault_buf_alloc_pct"
	cow_verify_snap 1
}

@test "first writes at a deep queue hold at most 64 MiB of chunk buffers; the snapshot stays exact" {
	require fio
	cow_make $((256 * MiB)) $((300 * MiB)) chunk_sectors 2048
	cow_fill
	cow_snapshot 1
	cow_snap_dev 1
	echo 0 > "$PARAMS/buf_peak"
	scattered_writes 256 120
	echo "# chunk buffers of 1 MiB held at most: $(cat "$PARAMS/buf_peak"), $(cow_status used_chunks) chunks copied" >&3
	(( $(cat "$PARAMS/buf_peak") <= 64 ))
	# copies ran side by side
	(( $(cat "$PARAMS/buf_peak") > 4 ))
	cow_verify_snap 1
}
