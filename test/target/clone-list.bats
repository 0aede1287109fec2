#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# vss-list reports the real state of a dm-vss-clone shadow copy (a linear
# device over the clone's dest), inside the test VM with the real module:
# valid while the clone is split; missing when its device is gone (a
# simulated reboot); valid again after vss-activate, with the volume linear
# over its -real device and the copy's content unchanged (sha256); invalid,
# with the reason, once the volume mirrors to dest again behind the
# catalog's back; vss-delete then removes it.
#   scripts/vm-run -- bats test/target/clone-list.bats

load helpers

setup() {
	vm_setup
	require jq mkfs.ext4 sha256sum
	modprobe dm-vss
	mkdir -p "$T/state" "$T/run" "$T/conf" "$T/mnt/vol"
	export VSS_STATE_DIR=$T/state VSS_RUN_DIR=$T/run VSS_CONF_DIR=$T/conf
	VOL=${VSS_TEST_PFX}vol
	M=$T/mnt/vol
}

teardown() {
	vm_umount_all
	vm_teardown
}

# field NAME: of the shadow copy $ID in vss-list --json
field() {
	vss-list --json | jq -r --argjson id "$ID" '.shadows[] | select(.shadow_id == $id) | .'"$1"
}

clone_state() {
	vss-storage list --json | jq -r --arg v "/dev/mapper/$VOL" '.storage[] | select(.volume == $v) | .clone_state'
}

@test "a clone's shadow copy: valid while split, missing without its device, valid after vss-activate, invalid once dest is written" {
	local loop dest sectors=$((32 * 2048)) i sum
	loop=$(make_loop 32M vol)
	dest=$(make_loop 32M dest)
	dm_create "$VOL" --table "0 $sectors linear $loop 0"
	mkfs.ext4 -q "/dev/mapper/$VOL"
	vss-storage add --clone --for "/dev/mapper/$VOL" --on "$dest" --region-size 256k
	for ((i = 0; i < 240; i++)); do
		[ "$(clone_state)" = mirrored ] && break
		sleep 0.5
	done
	[ "$(clone_state)" = mirrored ]
	mount "/dev/mapper/$VOL" "$M"
	echo one > "$M/f"
	sync
	out=$(vss-snapshot --json "$M")
	echo "$out"
	ID=$(echo "$out" | jq '.shadows[0].shadow_id')
	echo "vss-$ID" >> "$T/.dm"
	[ "$(echo "$out" | jq -r '.shadows[0].provider')" = dm-vss-clone ]
	sum=$(dev_sha256 "/dev/mapper/vss-$ID")
	echo two > "$M/f"
	sync

	# split: valid, in the table and in JSON
	[ "$(clone_state)" = split ]
	run vss-list
	echo "$output"
	[ "$status" = 0 ]
	[[ "$output" == *" /dev/mapper/$VOL dm-vss-clone valid "* ]]
	[ "$(field state)" = valid ]
	[ "$(field detail)" = "" ]
	[ "$(field device)" = "/dev/mapper/vss-$ID" ]

	# a simulated reboot: every device gone; the copy is missing
	umount "$M"
	udevadm settle --timeout=20
	dmsetup remove --retry "vss-$ID"
	dmsetup remove --retry "$VOL"
	dmsetup remove --retry "$VOL-real"
	[ "$(field state)" = missing ]
	dm_create "$VOL" --table "0 $sectors linear $loop 0"
	run vss-activate
	echo "$output"
	[ "$status" = 0 ]
	# the kernel forgot the split: the volume stays off dest, the copy is whole
	[ "$(dmsetup table "$VOL" | awk '{ print $3 }')" = linear ]
	[ "$(clone_state)" = off ]
	[ "$(field state)" = valid ]
	[ "$(dev_sha256 "/dev/mapper/vss-$ID")" = "$sum" ]

	# the vss-clone table loaded again by hand: dest is written, the image lost
	dmsetup reload "$VOL" --table "0 $sectors vss-clone /dev/mapper/$VOL-real $dest 512"
	dmsetup suspend "$VOL"
	dmsetup resume "$VOL"
	run vss-list -o shadow_id,state,detail
	echo "$output"
	[ "$(field state)" = invalid ]
	[[ "$(field detail)" == "the clone is "*" again: its dest no longer holds the image" ]]

	run vss-delete --yes "$ID"
	echo "$output"
	[ "$status" = 0 ]
	[ "$(vss-list --json | jq '.shadows | length')" = 0 ]
	check_dmesg
}
