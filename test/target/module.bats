#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The dm-vss module loads, registers its three targets, and unloads.

load helpers

@test "modprobe dm-vss loads the freshly built module" {
	require modprobe modinfo
	run modinfo -F filename dm-vss
	[ "$status" -eq 0 ]
	[[ $output == */updates/dm-vss.ko ]]
	modprobe dm-vss
	grep -q '^dm_vss ' /proc/modules
	[ "$(modinfo -F license dm-vss)" = GPL ]
	check_dmesg
}

@test "dmsetup targets lists vss-origin, vss-snap and vss-clone" {
	require dmsetup
	modprobe dm-vss
	run dmsetup targets
	[ "$status" -eq 0 ]
	echo "$output"
	for target in vss-origin vss-snap vss-clone; do
		grep -Eq "^$target +v[0-9]+\.[0-9]+\.[0-9]+" <<< "$output" ||
			{ echo "dmsetup targets does not list $target"; return 1; }
	done
	check_dmesg
}

@test "modprobe -r dm-vss unloads the module" {
	modprobe dm-vss
	modprobe -r dm-vss
	! grep -q '^dm_vss ' /proc/modules || false
	run dmsetup targets
	! grep -q '^vss-' <<< "$output" || false
	check_dmesg
}
