#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# vss-storage remove of a volume whose devices are gone (a disk pulled, the
# tables removed by hand): refused without --force, naming the volume and
# the way out; with --force the volume and its shadow copies are forgotten,
# as vgreduce --removemissing forgets a missing PV, and the store is not
# touched.
#   scripts/vm-run -- bats test/target/storage-missing.bats

load helpers

setup() {
	vm_setup
	require jq sha256sum
	modprobe dm-vss
	mkdir -p "$T/state" "$T/run" "$T/conf"
	export VSS_STATE_DIR=$T/state VSS_RUN_DIR=$T/run VSS_CONF_DIR=$T/conf
	VOL=${VSS_TEST_PFX}vol
}

teardown() {
	vm_teardown
}

@test "remove: a volume whose devices are gone is refused (4), then forgotten with --force; the store is left as it is" {
	local l store id sum
	l=$(make_loop 32M vol)
	store=$(make_loop 32M store)
	dm_create "$VOL" --table "0 $((32 * 2048)) linear $l 0"
	# add says which provider it chose (none was named)
	run --separate-stderr vss-storage add --for "/dev/mapper/$VOL" --on "$store"
	[ "$status" -eq 0 ]
	[ "$output" = "Shadow copies enabled for /dev/mapper/$VOL: provider dm-vss-cow, store $store." ]
	vss-snapshot --no-writers -q "/dev/mapper/$VOL"
	vss-snapshot --no-writers -q "/dev/mapper/$VOL"
	[ "$(vss-list --noheadings -o shadow_id | wc -l)" -eq 2 ]

	# the volume goes away under dm-vss: its copies' devices, it, its -real
	for id in $(vss-list --noheadings -o shadow_id); do
		dmsetup remove "vss-$id"
	done
	dmsetup remove "$VOL"
	dmsetup remove "$VOL-real"
	sum=$(sha256sum < "$store")

	run --separate-stderr vss-storage remove "$VOL"
	[ "$status" -eq 4 ]
	[[ $stderr == *"/dev/mapper/$VOL: the volume's devices are gone"*"--force forgets it and its shadow copies"* ]]
	[ "$(vss-storage list --json | jq '.storage | length')" -eq 1 ]
	[ "$(vss-list --noheadings -o shadow_id | wc -l)" -eq 2 ]

	run --separate-stderr vss-storage remove --force --yes "/dev/mapper/$VOL"
	[ "$status" -eq 0 ]
	[[ $stderr == *"forgetting it and its 2 shadow copies"* ]]
	[ "$(vss-storage list --json | jq '.storage | length')" -eq 0 ]
	[ -z "$(vss-list --noheadings -o shadow_id)" ]
	[ "$(sha256sum < "$store")" = "$sum" ]

	# a volume that is there is not "gone": the usual refusal still applies
	dm_create "$VOL" --table "0 $((32 * 2048)) linear $l 0"
	vss-storage add --wipe --for "/dev/mapper/$VOL" --on "$store"
	vss-snapshot --no-writers -q "/dev/mapper/$VOL"
	run --separate-stderr vss-storage remove "$VOL"
	[ "$status" -eq 5 ]
	vss-storage remove --force --yes "$VOL"
}
