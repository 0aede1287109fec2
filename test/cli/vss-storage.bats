#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# vss-storage on this machine, whose kernel has no device-mapper: the
# missing kernel support is named, exit 8, and nothing is changed.

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
		[ "${stderr%%$'\n'*}" = "vss-storage: ${LOOPS[0]}: the kernel has no device-mapper (modprobe dm-mod, then modprobe dm-vss)" ]
		[[ "$stderr" != *"Cannot allocate memory"* && "$stderr" != *libdevmapper* ]]
	done
	[ "$(sha256sum < "$BATS_TEST_TMPDIR/vol.img")" = "$sum" ]
	[ ! -s "$VSS_STATE_DIR/catalog.json" ] || [ "$(jq '[.sets[]] | length' "$VSS_STATE_DIR/catalog.json")" = 0 ]
}
