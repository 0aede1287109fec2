#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The guest basics that the other test/target suites rely on: root, a
# writable tmpfs, loop devices, and udev making /dev/mapper nodes.

load helpers

@test "runs as root with the tree visible and /tmp a writable tmpfs" {
	[ "$(id -u)" = 0 ]
	[ -f "$VSS_TOP/scripts/vm-run" ]
	[ "$(findmnt -n -o FSTYPE /tmp)" = tmpfs ]
	echo data > "$T/file"
	[ "$(cat "$T/file")" = data ]
}

@test "loop devices over files in /tmp read back what was written" {
	require losetup blockdev dd sha256sum
	local dev
	dev=$(make_loop 8M)
	[ -b "$dev" ]
	[ "$(blockdev --getsz "$dev")" -eq 16384 ]
	dd if=/dev/urandom of="$T/pattern" bs=1M count=8 status=none
	dd if="$T/pattern" of="$dev" bs=1M oflag=direct status=none
	[ "$(dev_sha256 "$dev")" = "$(dev_sha256 "$T/pattern")" ]
}

@test "udev creates /dev/mapper nodes for a dm-linear device" {
	require dmsetup udevadm
	local dev name=${VSS_TEST_PFX}linear
	pgrep -x systemd-udevd >/dev/null
	dev=$(make_loop 4M)
	dm_create "$name" --table "0 8192 linear $dev 0"
	[ -b "/dev/mapper/$name" ]
	[ "$(blockdev --getsz "/dev/mapper/$name")" -eq 8192 ]
	run dmsetup table "$name"
	[[ $output == "0 8192 linear "* ]]
	echo hello | dd of="/dev/mapper/$name" conv=fsync status=none
	[ "$(dd if="$dev" bs=4k count=1 iflag=direct status=none | head -c 5)" = hello ]
}

@test "a read-only dm device refuses writes" {
	local dev name=${VSS_TEST_PFX}ro
	dev=$(make_loop 4M)
	dm_create "$name" --readonly --table "0 8192 linear $dev 0"
	[ "$(blockdev --getro "/dev/mapper/$name")" = 1 ]
	! dd if=/dev/zero of="/dev/mapper/$name" bs=4k count=1 oflag=direct status=none 2>/dev/null || false
}

@test "teardown removes the test's dm devices and loop devices" {
	local dev name=${VSS_TEST_PFX}left
	dev=$(make_loop 4M)
	dm_create "$name" --table "0 8192 linear $dev 0"
	dmsetup suspend "$name"
	vm_teardown
	! dmsetup info "$name" >/dev/null 2>&1 || false
	! losetup "$dev" >/dev/null 2>&1 || false
}

@test "check_dmesg catches a problem logged during the test" {
	check_dmesg
	# A real WARNING here would fail the whole VM run (vm-run scans the
	# log; test/cli/harness.bats proves that): look for a harmless word.
	VSS_DMESG_PROBLEMS='VSSCANARY'
	echo "vss-test: before VSSCANARY" > /dev/kmsg
	vm_setup
	check_dmesg
	echo "vss-test: VSSCANARY line" > /dev/kmsg
	run check_dmesg
	[ "$status" -ne 0 ]
	[[ $output == *"VSSCANARY line"* ]]
	[[ $output != *"before VSSCANARY"* ]]
}
