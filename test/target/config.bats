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

@test "storage.overflow = invalidate: the origin table has overflow_invalidate, also after vss-activate; --overflow drop overrides it" {
	local l
	printf '[storage]\noverflow = invalidate\n' > "$T/conf/vss.conf"
	l=$(make_loop 32M vol)
	STORE=$(make_loop 32M store)
	dm_create "$VOL" --table "0 $((32 * 2048)) linear $l 0"
	vss-storage add -q --for "/dev/mapper/$VOL" --on "$STORE"
	dmsetup table "$VOL" | grep -q " overflow_invalidate"
	# a reboot: every dm device gone, the plain volume back, then vss-activate
	dmsetup remove "$VOL"
	dmsetup remove "$VOL-real"
	dm_create "$VOL" --table "0 $((32 * 2048)) linear $l 0"
	vss-activate -q
	dmsetup table "$VOL" | grep -q "vss-origin .* overflow_invalidate"
	vss-storage remove -q --for "/dev/mapper/$VOL"
	vss-storage add -q --for "/dev/mapper/$VOL" --on "$STORE" --overflow drop
	dmsetup table "$VOL" | grep -q "vss-origin"
	! dmsetup table "$VOL" | grep -q overflow_invalidate
}

@test "snapshot.usage_warn: a store that full is said after the set; 0 never warns" {
	local l
	l=$(make_loop 32M vol)
	STORE=$(make_loop 32M store)
	dm_create "$VOL" --table "0 $((32 * 2048)) linear $l 0"
	vss-storage add -q --for "/dev/mapper/$VOL" --on "$STORE"
	vss-snapshot --no-writers -q "/dev/mapper/$VOL"
	# 8 MiB of first writes: about a quarter of the store
	dd if=/dev/urandom of="/dev/mapper/$VOL" bs=1M count=8 oflag=direct status=none
	printf '[snapshot]\nusage_warn = 10\n' > "$T/conf/vss.conf"
	run --separate-stderr vss-snapshot --no-writers "/dev/mapper/$VOL"
	[ "$status" -eq 0 ]
	[[ $stderr == "vss-snapshot: warning: /dev/mapper/$VOL: its store $STORE is "*"% full (usage_warn 10%): when it fills"* ]]
	printf '[snapshot]\nusage_warn = 0\n' > "$T/conf/vss.conf"
	run --separate-stderr vss-snapshot --no-writers "/dev/mapper/$VOL"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
}
