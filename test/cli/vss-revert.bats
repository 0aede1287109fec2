#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# vss-revert on the host, no kernel needed: usage, exit status, and the
# refusals decided from the catalog before any device is touched (unknown
# id, a provider other than dm-vss-cow, the lock held).  The revert itself
# is tested in the VM (test/target/lifecycle-revert.bats), the changed-chunk
# computation on built stores in test/unit/test-revert.c.
#
# VSS_BINDIR selects the commands under test (default: build/bin).

bats_require_minimum_version 1.5.0

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export REVERT=${VSS_BINDIR:-$TOP/build/bin}/vss-revert
	[ -x "$REVERT" ] || { echo "no $REVERT: run make first" >&2; return 1; }
}

setup() {
	W=$BATS_TEST_TMPDIR
	mkdir -p "$W/state" "$W/run" "$W/conf"
	export VSS_STATE_DIR=$W/state VSS_RUN_DIR=$W/run VSS_CONF_DIR=$W/conf
}

# a revert asks, as lvremove does: --yes where no one can answer
revert() { "$REVERT" --yes "$@"; }

# A kernel with device-mapper and dm-vss, as the commands see it
# (VSS_SYSFS stands in for /sys): what the library does next still finds
# no device-mapper here, so nothing is touched.
fake_kernel() {
	mkdir -p "$BATS_TEST_TMPDIR/sys/class/misc/device-mapper" "$BATS_TEST_TMPDIR/sys/module/dm_vss"
	export VSS_SYSFS=$BATS_TEST_TMPDIR/sys
}

# catalog PROVIDER: one set with shadow copy 3 of /dev/mapper/data.
catalog() {
	cat > "$VSS_STATE_DIR/catalog.json" <<-EOF
	{ "version": 1, "next_set_id": 2, "next_shadow_id": 4, "storage": [],
	  "writers": [],
	  "sets": [ { "set_id": 1, "state": "created", "pid": 1, "tag": "",
	              "created": "2026-01-01T00:00:00Z", "context": "persistent",
	              "shadows": [ { "shadow_id": 3, "volume": "/dev/mapper/data",
	                             "name": "data", "device": "/dev/mapper/vss-3",
	                             "provider": "$1", "store": "/dev/nonexistent-store",
	                             "real": "data-real", "state": "created", "snap_id": 3,
	                             "snap_dev": "vss-3", "mountpoint": "" } ] } ] }
	EOF
}

@test "--help prints the usage on stdout and exits 0" {
	run --separate-stderr revert --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Usage: vss-revert [OPTION...] SHADOW_ID"* ]]
	[[ "$output" == *"--dry-run"* && "$output" == *"--delete"* && "$output" == *"--json"* ]]
	[ -z "$stderr" ]
}

@test "--version" {
	run --separate-stderr revert --version
	[ "$status" -eq 0 ]
	[[ "$output" == "vss-revert (dm-vss) "* ]]
}

@test "bad usage exits 1 with a hint" {
	run --separate-stderr revert --no-such-option 3
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"--no-such-option"*"see --help"* ]]
	run --separate-stderr revert
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"no shadow copy id given"* ]]
	run --separate-stderr revert 3 4
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"4: one shadow copy id only"* ]]
	for bad in abc 0 -3 3x 99999999999999999999999; do
		run --separate-stderr revert -- "$bad"
		[ "$status" -eq 1 ]
		[[ "$stderr" == *"$bad: not a shadow copy id"* ]]
	done
	run --separate-stderr revert --dry-run --delete 3
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"exclude each other"* ]]
	run --separate-stderr revert --wait soon 3
	[ "$status" -eq 1 ]
}

@test "an unknown shadow copy exits 4" {
	run --separate-stderr revert 7
	[ "$status" -eq 4 ]
	[[ "$stderr" == *"shadow copy 7: no such shadow copy"* ]]
	catalog dm-vss-cow
	run --separate-stderr revert --json 8
	[ "$status" -eq 4 ]
	[ "$(echo "$output" | jq '.shadow_id')" = 8 ]
	[ "$(echo "$output" | jq '.reverted')" = false ]
	[ "$(echo "$output" | jq -r '.error | type')" = string ]
}

@test "a dm-snapshot or external shadow copy is refused with exit 7" {
	fake_kernel
	for p in dm-snapshot acme-array; do
		catalog "$p"
		run --separate-stderr revert 3
		echo "$stderr"
		[ "$status" -eq 7 ]
		[[ "$stderr" == *"shadow copy 3: provider $p: revert is supported for dm-vss-cow shadow copies only"* ]]
		run --separate-stderr revert --json 3
		[ "$status" -eq 7 ]
		[ "$(echo "$output" | jq -r '.provider')" = "$p" ]
		[ "$(echo "$output" | jq -r '.volume')" = /dev/mapper/data ]
		[ "$(echo "$output" | jq '.changed_chunks | type')" = '"number"' ]
		[ "$(echo "$output" | jq '.partial')" = false ]
	done
	# the catalog is left as it was
	[ "$(jq '.sets[0].shadows | length' "$VSS_STATE_DIR/catalog.json")" = 1 ]
}

@test "the lock held by another command: exit 5, or wait for it" {
	require_flock() { command -v flock >/dev/null || skip "no flock(1)"; }
	require_flock
	fake_kernel
	catalog dm-snapshot
	flock "$VSS_RUN_DIR/vss.lock" sleep 3 &
	sleep 0.5
	run --separate-stderr revert 3
	[ "$status" -eq 5 ]
	[[ "$stderr" == *"another vss command is in progress"* ]]
	# --wait outlasts the holder and then gets as far as the provider check
	run --separate-stderr revert --wait 10s 3
	[ "$status" -eq 7 ]
	wait
}

@test "a dm-vss-cow copy where the kernel has no device-mapper: exit 8, named" {
	[ ! -e /sys/class/misc/device-mapper ] || skip "this kernel has device-mapper"
	catalog dm-vss-cow
	run --separate-stderr revert 3
	echo "$stderr"
	[ "$status" -eq 8 ]
	[ "$stderr" = "vss-revert: the kernel has no device-mapper (modprobe dm-mod, then modprobe dm-vss)" ]
	mkdir -p "$BATS_TEST_TMPDIR/sys/class/misc/device-mapper"
	VSS_SYSFS=$BATS_TEST_TMPDIR/sys run --separate-stderr revert 3
	[ "$status" -eq 8 ]
	[ "$stderr" = "vss-revert: the kernel target vss-origin is not loaded (modprobe dm-vss)" ]
	[ "$(jq '.sets[0].shadows | length' "$VSS_STATE_DIR/catalog.json")" = 1 ]
}
