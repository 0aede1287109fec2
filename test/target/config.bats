#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# vss.conf's defaults take effect with the real module, and options
# override them: the store's chunk size of vss-storage add, vss-snapshot's
# retention.  (test/cli/config.bats checks the file's syntax on the host.)
#   scripts/vm-run -- bats test/target/config.bats

load helpers

setup() {
	vm_setup
	require jq
	modprobe dm-vss
	mkdir -p "$T/state" "$T/run" "$T/conf"
	export VSS_STATE_DIR=$T/state VSS_RUN_DIR=$T/run VSS_CONF_DIR=$T/conf
	VOL=${VSS_TEST_PFX}vol
}

teardown() {
	for d in $(dmsetup info -c --noheadings -o name 2>/dev/null | grep '^vss-'); do
		dmsetup remove --retry "$d" >/dev/null 2>&1
	done
	vm_teardown
}

volume() {
	local l
	l=$(make_loop 32M vol)
	STORE=$(make_loop 32M store)
	dm_create "$VOL" --table "0 $((32 * 2048)) linear $l 0"
}

chunk_sectors() {
	dmsetup status "$VOL" | awk '$3 == "vss-origin" { print $4 }'
}

@test "storage.chunk_size is vss-storage add's default; --chunk-size overrides it" {
	printf '[storage]\nchunk_size = 64k\n' > "$T/conf/vss.conf"
	volume
	vss-storage add --for "/dev/mapper/$VOL" --on "$STORE"
	[ "$(chunk_sectors)" = 128 ]
	vss-storage remove --for "/dev/mapper/$VOL"
	dd if=/dev/zero of="$STORE" bs=1M count=1 oflag=direct status=none
	vss-storage add --for "/dev/mapper/$VOL" --on "$STORE" --chunk-size 16k
	[ "$(chunk_sectors)" = 32 ]
}

@test "snapshot.keep is vss-snapshot's retention; --keep overrides it" {
	local i
	volume
	vss-storage add --for "/dev/mapper/$VOL" --on "$STORE"
	printf '[snapshot]\nkeep = 2\n' > "$T/conf/vss.conf"
	for i in 1 2 3; do
		vss-snapshot --no-writers -q "/dev/mapper/$VOL"
	done
	[ "$(vss-list --noheadings -o shadow_id | wc -l)" -eq 2 ]
	vss-snapshot --no-writers -q --keep 3 "/dev/mapper/$VOL"
	[ "$(vss-list --noheadings -o shadow_id | wc -l)" -eq 3 ]
	[ "$(vss-list --noheadings -o shadow_id | tr -d ' ' | head -n 1)" = 2 ]
}
