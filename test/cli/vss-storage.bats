#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# vss-storage on this machine, whose kernel has no device-mapper: the
# missing kernel support is named, exit 8, and nothing is changed.  Its
# arguments: the subcommand, the volume after it or with --for.

bats_require_minimum_version 1.5.0

setup() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	B=${VSS_BINDIR:-$TOP/build/bin}
	export VSS_STATE_DIR=$BATS_TEST_TMPDIR/state VSS_RUN_DIR=$BATS_TEST_TMPDIR/run
	export VSS_CONF_DIR=$BATS_TEST_TMPDIR/conf
	mkdir -p "$VSS_CONF_DIR"
	LOOPS=()
}

teardown() {
	local l
	for l in "${LOOPS[@]}"; do
		losetup -d "$l"
	done
}

@test "add where the kernel has no device-mapper: exit 8, one message naming it, the devices untouched" {
	[ ! -e /sys/class/misc/device-mapper ] || skip "this kernel has device-mapper"
	[ "$(id -u)" = 0 ] || skip "loop devices need root"
	truncate -s 16M "$BATS_TEST_TMPDIR/vol.img" "$BATS_TEST_TMPDIR/store.img"
	head -c 4096 /dev/urandom | dd of="$BATS_TEST_TMPDIR/vol.img" conv=notrunc status=none
	LOOPS+=("$(losetup -f --show "$BATS_TEST_TMPDIR/vol.img")")
	LOOPS+=("$(losetup -f --show "$BATS_TEST_TMPDIR/store.img")")
	sum=$(sha256sum < "$BATS_TEST_TMPDIR/vol.img")
	for wrap in --wrap ""; do
		run --separate-stderr "$B/vss-storage" add --for "${LOOPS[0]}" --on "${LOOPS[1]}" $wrap
		echo "$stderr"
		[ "$status" -eq 8 ]
		[ "$stderr" = "vss-storage: the kernel has no device-mapper (modprobe dm-mod, then modprobe dm-vss)" ]
		[[ "$stderr" != *"Cannot allocate memory"* && "$stderr" != *libdevmapper* ]]
	done
	[ "$(sha256sum < "$BATS_TEST_TMPDIR/vol.img")" = "$sum" ]
	[ ! -s "$VSS_STATE_DIR/catalog.json" ] || [ "$(jq '[.sets[]] | length' "$VSS_STATE_DIR/catalog.json")" = 0 ]
	# a volume that is not a device-mapper device: bad usage, one line
	run --separate-stderr "$B/vss-storage" remove "${LOOPS[0]}"
	[ "$status" -eq 1 ]
	[ "$stderr" = "vss-storage: ${LOOPS[0]}: not a device-mapper device (see vss-storage add --wrap)" ]
}

@test "the subcommand and the volume: after the subcommand or with --for, once; errors name what is wrong" {
	run --separate-stderr "$B/vss-storage"
	[ "$status" -eq 1 ] && [ "$stderr" = "vss-storage: expected one of add, list, resize, remove (see --help)" ]
	run --separate-stderr "$B/vss-storage" bogus
	[ "$status" -eq 1 ]
	[ "$stderr" = "vss-storage: bogus: unknown subcommand: expected one of add, list, resize, remove (see --help)" ]
	run --separate-stderr "$B/vss-storage" remove
	[ "$status" -eq 1 ]
	[ "$stderr" = "vss-storage: remove: the volume is needed (--for VOL, or VOL after remove)" ]
	run --separate-stderr "$B/vss-storage" remove a b
	[ "$status" -eq 1 ] && [ "$stderr" = "vss-storage: b: unexpected argument (see --help)" ]
	run --separate-stderr "$B/vss-storage" remove --for a b
	[ "$status" -eq 1 ] && [ "$stderr" = "vss-storage: b: a second volume (--for a): remove takes one" ]
	run --separate-stderr "$B/vss-storage" list x
	[ "$status" -eq 1 ] && [ "$stderr" = "vss-storage: x: unexpected argument (see --help)" ]
	# the same volume both ways is one volume; it then fails only for being absent
	run --separate-stderr "$B/vss-storage" remove --for /dev/mapper/vss-no-such /dev/mapper/vss-no-such
	[ "$status" -ne 1 ]
	[[ "$stderr" != *"second volume"* ]]
}
