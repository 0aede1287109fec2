#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# vss-storage add refuses a store device that holds anything libblkid
# knows, also when its first 4 KiB are zero (what the target would format):
# an iso9660 image's signature at 32 KiB stands for btrfs (64 KiB), ZFS
# and md RAID 1.2 (4 KiB).  --wipe erases the signatures and uses it.
#   scripts/vm-run -- bats test/target/storage-signature.bats

load helpers

setup() {
	vm_setup
	require blkid
	modprobe dm-vss
	mkdir -p "$T/state" "$T/run" "$T/conf"
	export VSS_STATE_DIR=$T/state VSS_RUN_DIR=$T/run VSS_CONF_DIR=$T/conf
	VOL=${VSS_TEST_PFX}vol
	l=$(make_loop 32M vol)
	STORE=$(make_loop 16M store)
	dm_create "$VOL" --table "0 $((32 * 2048)) linear $l 0"
	# an iso9660 primary volume descriptor and its terminator, at 32 KiB
	printf '\001CD001\001' | dd of="$STORE" bs=1 seek=32768 conv=notrunc status=none
	printf '\377CD001\001' | dd of="$STORE" bs=1 seek=34816 conv=notrunc status=none
	sync
	[ "$(blkid -p -o value -s TYPE "$STORE")" = iso9660 ]
	[ -z "$(head -c 4096 "$STORE" | tr -d '\0')" ]
}

@test "a store whose first 4 KiB are zero but which holds iso9660 is refused, untouched" {
	local before
	before=$(dev_sha256 "$STORE")
	run vss-storage add --for "/dev/mapper/$VOL" --on "$STORE"
	echo "$output"
	[ "$status" -eq 5 ]
	[[ $output == *"$STORE: is not blank: it holds iso9660"*"--wipe"* ]]
	[ "$(dev_sha256 "$STORE")" = "$before" ]
	[ "$(dmsetup table "$VOL" | awk '{ print $3 }')" = linear ]
}

@test "--wipe erases the signature and makes the store" {
	run vss-storage add --for "/dev/mapper/$VOL" --on "$STORE" --wipe
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(dmsetup table "$VOL" | awk '{ print $3 }')" = vss-origin ]
	run blkid -p "$STORE"
	[ "$status" -ne 0 ]	# nothing known left on it
	check_dmesg
}
