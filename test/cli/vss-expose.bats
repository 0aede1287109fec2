#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# vss-expose (and --writable), vss-unexpose, vss-activate and vss-verify on
# the host, no VM: usage, exit status and messages for what can be decided
# from the catalog alone (unknown ids, missing devices, invalid copies,
# stale exposure records and views, volumes whose store is missing, a set
# without writers).  test/target/lifecycle-expose.bats, expose-writable.bats,
# verify.bats and lifecycle-activate.bats run them on real devices.
#
# VSS_BINDIR selects the commands under test (default: build/bin).

bats_require_minimum_version 1.5.0

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export BIN=${VSS_BINDIR:-$TOP/build/bin}
	local c
	for c in vss-expose vss-unexpose vss-activate vss-verify; do
		[ -x "$BIN/$c" ] || { echo "no $BIN/$c: run make first" >&2; return 1; }
	done
}

setup() {
	export VSS_STATE_DIR=$BATS_TEST_TMPDIR/state VSS_RUN_DIR=$BATS_TEST_TMPDIR/run \
		VSS_CONF_DIR=$BATS_TEST_TMPDIR/conf
	mkdir -p "$VSS_STATE_DIR" "$VSS_RUN_DIR"
	fake_kernel
	catalog
}

# A kernel with device-mapper and dm-vss, as the commands see it
# (VSS_SYSFS stands in for /sys): what the library does next still finds
# no device-mapper here, so nothing is touched.
fake_kernel() {
	mkdir -p "$BATS_TEST_TMPDIR/sys/class/misc/device-mapper" "$BATS_TEST_TMPDIR/sys/module/dm_vss"
	export VSS_SYSFS=$BATS_TEST_TMPDIR/sys
}

# Shadow copy 1 (created, its device absent here), 2 (invalid), 3 (recorded
# exposed at a directory where nothing is mounted); volume "data" enabled
# with a store that does not exist.
catalog() {
	cat > "$VSS_STATE_DIR/catalog.json" <<-EOF
	{
	  "version": 1, "next_set_id": 2, "next_shadow_id": 4, "writers": [],
	  "storage": [
	    { "volume": "/dev/mapper/vsstest-data", "name": "vsstest-data",
	      "real": "vsstest-data-real", "store": "$BATS_TEST_TMPDIR/no-such-store",
	      "provider": "dm-vss-cow", "chunk_sectors": 0, "max_bytes": 0,
	      "wrapped": false, "wrapped_dev": "" } ],
	  "sets": [
	    { "set_id": 1, "state": "created", "pid": 1, "created": "2024-05-01T10:00:00Z",
	      "tag": "", "context": "persistent", "shadows": [
	        { "shadow_id": 1, "volume": "/dev/mapper/vsstest-data", "name": "vsstest-data",
	          "device": "/dev/mapper/vss-test-missing-1", "provider": "dm-vss-cow",
	          "store": "$BATS_TEST_TMPDIR/no-such-store", "real": "vsstest-data-real",
	          "state": "created", "snap_id": 1, "snap_dev": "vss-test-missing-1" },
	        { "shadow_id": 2, "volume": "/dev/mapper/vsstest-data", "name": "vsstest-data",
	          "device": "/dev/mapper/vss-test-missing-2", "provider": "dm-vss-cow",
	          "store": "$BATS_TEST_TMPDIR/no-such-store", "real": "vsstest-data-real",
	          "state": "invalid", "snap_id": 2, "snap_dev": "vss-test-missing-2" },
	        { "shadow_id": 3, "volume": "/dev/mapper/vsstest-data", "name": "vsstest-data",
	          "device": "/dev/mapper/vss-test-missing-3", "provider": "dm-vss-cow",
	          "store": "$BATS_TEST_TMPDIR/no-such-store", "real": "vsstest-data-real",
	          "state": "created", "snap_id": 3, "snap_dev": "vss-test-missing-3",
	          "exposed": "$BATS_TEST_TMPDIR/gone", "exposed_mkdir": true } ] } ]
	}
	EOF
}

@test "--help prints the usage on stdout and exits 0" {
	local c
	for c in vss-expose vss-unexpose vss-activate; do
		run --separate-stderr "$BIN/$c" --help
		[ "$status" -eq 0 ]
		[[ "$output" == "Usage: $c [OPTION...]"* ]]
		[ -z "$stderr" ]
	done
	run "$BIN/vss-expose" --help
	[[ "$output" == *"ID [MOUNTPOINT]"* && "$output" == *"--json"* ]]
	run "$BIN/vss-unexpose" --help
	[[ "$output" == *"--force"* ]]
	run "$BIN/vss-activate" --help
	[[ "$output" == *"--dry-run"* ]]
}

@test "--version prints the version and exits 0" {
	local c
	for c in vss-expose vss-unexpose vss-activate; do
		run "$BIN/$c" --version
		[ "$status" -eq 0 ]
		[[ "$output" =~ ^$c\ \(dm-vss\)\ [0-9] ]]
	done
}

@test "bad usage exits 1 with a hint: unknown option, no id, a bad id, extra arguments" {
	local c
	for c in vss-expose vss-unexpose vss-activate; do
		run "$BIN/$c" --no-such-option
		[ "$status" -eq 1 ]
		[[ "$output" == *"--no-such-option"*"(see --help)"* ]]
	done
	run "$BIN/vss-expose"
	[ "$status" -eq 1 ]
	[[ "$output" == *"no shadow copy id given (see --help)"* ]]
	run "$BIN/vss-unexpose"
	[ "$status" -eq 1 ]
	for id in abc 0 -3 1x; do
		run "$BIN/vss-expose" -- "$id"
		[ "$status" -eq 1 ]
		[[ "$output" == *"not a shadow copy id"* ]]
		run "$BIN/vss-unexpose" -- "$id"
		[ "$status" -eq 1 ]
	done
	run "$BIN/vss-expose" 1 /mnt/a /mnt/b
	[ "$status" -eq 1 ]
	[[ "$output" == *"too many arguments"* ]]
	run "$BIN/vss-unexpose" 1 2
	[ "$status" -eq 1 ]
	run "$BIN/vss-activate" extra
	[ "$status" -eq 1 ]
	[[ "$output" == *"extra: unexpected argument"* ]]
}

@test "an unknown id: 4, for expose (with and without a mount point) and unexpose" {
	run "$BIN/vss-expose" 99
	[ "$status" -eq 4 ]
	[[ "$output" == *"shadow copy 99: no such shadow copy"* ]]
	run "$BIN/vss-expose" 99 "$BATS_TEST_TMPDIR/m"
	[ "$status" -eq 4 ]
	[ ! -e "$BATS_TEST_TMPDIR/m" ]
	run "$BIN/vss-unexpose" 99
	[ "$status" -eq 4 ]
	[[ "$output" == *"shadow copy 99: no such shadow copy"* ]]
}

@test "a copy whose device is missing: 4, naming vss-activate; an invalid copy: 7" {
	run "$BIN/vss-expose" 1 "$BATS_TEST_TMPDIR/m"
	echo "$output"
	[ "$status" -eq 4 ]
	[[ "$output" == *"shadow copy 1: cannot expose: its device /dev/mapper/vss-test-missing-1 is missing (vss-activate brings it back)"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/m" ]
	run "$BIN/vss-expose" 2
	echo "$output"
	[ "$status" -eq 7 ]
	[[ "$output" == *"shadow copy 2: cannot expose: it is invalid"* ]]
}

@test "unexpose: not exposed is 4; a stale record is cleared with a warning, exit 0" {
	run "$BIN/vss-unexpose" 1
	[ "$status" -eq 4 ]
	[[ "$output" == *"shadow copy 1: not exposed"* ]]
	mkdir "$BATS_TEST_TMPDIR/gone"
	run "$BIN/vss-unexpose" 3
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"warning: shadow copy 3: no longer mounted at $BATS_TEST_TMPDIR/gone: record cleared"* ]]
	# the directory it had created is removed, the record gone
	[ ! -e "$BATS_TEST_TMPDIR/gone" ]
	[ "$(jq -r '.sets[0].shadows[2] | has("exposed")' "$VSS_STATE_DIR/catalog.json")" = false ]
	run "$BIN/vss-unexpose" 3
	[ "$status" -eq 4 ]
}

@test "activate: an empty catalog is nothing to do, exit 0" {
	rm "$VSS_STATE_DIR/catalog.json"
	run --separate-stderr "$BIN/vss-activate"
	[ "$status" -eq 0 ]
	[ "$output" = "0 volumes under their origin (0 already), 0 shadow copies activated (0 already), 0 marked invalid, 0 not brought back" ]
	run "$BIN/vss-activate" --quiet
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "activate: a volume whose store is missing is named, exit 4; its copies too" {
	run "$BIN/vss-activate" --dry-run
	echo "$output"
	[ "$status" -eq 4 ]
	[[ "$output" == *"/dev/mapper/vsstest-data: cannot bring back its vss-origin: its store $BATS_TEST_TMPDIR/no-such-store is missing"* ]]
	[[ "$output" == *"shadow copy 1: cannot bring back: its volume /dev/mapper/vsstest-data is not under its origin"* ]]
	[[ "$output" == *"dry run: "*", 3 not brought back"* ]]
	# the invalid copy is left alone, the stale exposure would be cleared
	[[ "$output" != *"shadow copy 2: cannot"* ]]
	[[ "$output" == *"shadow copy 3: no longer mounted at $BATS_TEST_TMPDIR/gone: the record would be cleared"* ]]
	# a dry run writes nothing
	[ "$(jq -r '.sets[0].shadows[2].exposed' "$VSS_STATE_DIR/catalog.json")" = "$BATS_TEST_TMPDIR/gone" ]
}

@test "--writable: usage of --cow and --cow-size, exit 1 naming the option" {
	run "$BIN/vss-expose" --help
	[[ "$output" == *"--writable"* && "$output" == *"--cow=FILE|DEV"* && "$output" == *"--cow-size=SIZE"* ]]
	[[ "$output" == *"VSS_RUN_DIR/views"* && "$output" == *"10% of the volume"* ]]
	run "$BIN/vss-expose" --writable 1
	[ "$status" -eq 1 ]
	[[ "$output" == *"--writable: no mount point given (see --help)"* ]]
	run "$BIN/vss-expose" --cow /dev/sdz 1 "$BATS_TEST_TMPDIR/m"
	[ "$status" -eq 1 ]
	[[ "$output" == *"--cow: only with --writable"* ]]
	run "$BIN/vss-expose" --cow-size 1g 1 "$BATS_TEST_TMPDIR/m"
	[ "$status" -eq 1 ]
	[[ "$output" == *"--cow-size: only with --writable"* ]]
	run "$BIN/vss-expose" --writable --cow /dev/sdz --cow-size 1g 1 "$BATS_TEST_TMPDIR/m"
	[ "$status" -eq 1 ]
	[[ "$output" == *"--cow-size: sizes the file made when --cow is not given; not both"* ]]
	run "$BIN/vss-expose" --writable --cow-size 12q 1 "$BATS_TEST_TMPDIR/m"
	[ "$status" -eq 1 ]
	[[ "$output" == *"--cow-size: 12q: not a size"* ]]
	run "$BIN/vss-expose" --writable --cow-size 100k 1 "$BATS_TEST_TMPDIR/m"
	[ "$status" -eq 1 ]
	[[ "$output" == *"--cow-size: 100k: smaller than 1m"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/m" ]
	# vss.conf's [expose] keys are checked, and shown as the defaults
	mkdir -p "$VSS_CONF_DIR"
	printf '[expose]\ncow_dir = %s\ncow_size = 25%%\n' "$BATS_TEST_TMPDIR/cows" > "$VSS_CONF_DIR/vss.conf"
	run "$BIN/vss-expose" --help
	[[ "$output" == *"$BATS_TEST_TMPDIR/cows (vss.conf)"* && "$output" == *"25% (vss.conf)"* ]]
	printf '[expose]\ncow_dir = relative/dir\n' > "$VSS_CONF_DIR/vss.conf"
	run "$BIN/vss-expose" --writable 1 "$BATS_TEST_TMPDIR/m"
	[ "$status" -eq 1 ]
	[[ "$output" == *"vss.conf:2: cow_dir: 'relative/dir' is not an absolute path"* ]]
	printf '[expose]\ncow_size = 101%%\n' > "$VSS_CONF_DIR/vss.conf"
	run "$BIN/vss-expose" --writable 1 "$BATS_TEST_TMPDIR/m"
	[ "$status" -eq 1 ]
	[[ "$output" == *"cow_size: '101%' is not a size (64m, 2g) or a percentage of the volume (10%)"* ]]
}

@test "--writable: an unknown id 4, a missing device 4, an invalid copy 7; nothing made" {
	run "$BIN/vss-expose" --writable 99 "$BATS_TEST_TMPDIR/m"
	[ "$status" -eq 4 ]
	[[ "$output" == *"shadow copy 99: no such shadow copy"* ]]
	run "$BIN/vss-expose" --writable 1 "$BATS_TEST_TMPDIR/m"
	[ "$status" -eq 4 ]
	[[ "$output" == *"its device /dev/mapper/vss-test-missing-1 is missing"* ]]
	run "$BIN/vss-expose" --writable 2 "$BATS_TEST_TMPDIR/m"
	[ "$status" -eq 7 ]
	[[ "$output" == *"shadow copy 2: cannot expose: it is invalid"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/m" ]
	[ ! -e "$VSS_RUN_DIR/views" ]
}

@test "unexpose: a stale writable view (after a reboot) is cleared and its copy-on-write file deleted" {
	mkdir -p "$BATS_TEST_TMPDIR/gone" "$VSS_RUN_DIR/views"
	truncate -s 1G "$VSS_RUN_DIR/views/vss-3-view.cow"
	truncate -s 1M "$BATS_TEST_TMPDIR/given.cow"
	jq --arg cow "$VSS_RUN_DIR/views/vss-3-view.cow" \
		'.sets[0].shadows[2].view = {"name": "vss-3-view", "cow": $cow, "cow_created": true, "loop": ""}' \
		"$VSS_STATE_DIR/catalog.json" > "$BATS_TEST_TMPDIR/c.json"
	cp "$BATS_TEST_TMPDIR/c.json" "$VSS_STATE_DIR/catalog.json"
	run "$BIN/vss-unexpose" 3
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"no longer mounted at $BATS_TEST_TMPDIR/gone: record cleared"* ]]
	[ ! -e "$VSS_RUN_DIR/views/vss-3-view.cow" ]
	[ "$(jq -r '.sets[0].shadows[2] | has("exposed") or has("view")' "$VSS_STATE_DIR/catalog.json")" = false ]
	# a file given with --cow is not deleted
	mkdir -p "$BATS_TEST_TMPDIR/gone"
	jq --arg cow "$BATS_TEST_TMPDIR/given.cow" --arg mnt "$BATS_TEST_TMPDIR/gone" \
		'.sets[0].shadows[2] += {"exposed": $mnt, "view": {"name": "vss-3-view", "cow": $cow, "loop": ""}}' \
		"$VSS_STATE_DIR/catalog.json" > "$BATS_TEST_TMPDIR/c.json"
	cp "$BATS_TEST_TMPDIR/c.json" "$VSS_STATE_DIR/catalog.json"
	run "$BIN/vss-unexpose" 3
	[ "$status" -eq 0 ]
	[ -f "$BATS_TEST_TMPDIR/given.cow" ]
	[ "$(jq -r '.sets[0].shadows[2] | has("view")' "$VSS_STATE_DIR/catalog.json")" = false ]
}

@test "verify: usage exits 1; unknown set or id 4; a set without writers has nothing to verify, exit 0" {
	run --separate-stderr "$BIN/vss-verify" --help
	[ "$status" -eq 0 ]
	[[ "$output" == "Usage: vss-verify [OPTION...] ID... | --set SET_ID"* ]]
	[[ "$output" == *"--json"* && "$output" == *"--wait"* ]]
	run "$BIN/vss-verify" --version
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^vss-verify\ \(dm-vss\)\ [0-9] ]]
	run "$BIN/vss-verify"
	[ "$status" -eq 1 ]
	[[ "$output" == *"nothing to verify: give shadow copy ids or --set SET_ID (see --help)"* ]]
	run "$BIN/vss-verify" --set 1 1
	[ "$status" -eq 1 ]
	[[ "$output" == *"give either ID... or --set, not both"* ]]
	run "$BIN/vss-verify" --set abc
	[ "$status" -eq 1 ]
	run "$BIN/vss-verify" -- 0
	[ "$status" -eq 1 ]
	run "$BIN/vss-verify" --no-such-option
	[ "$status" -eq 1 ]
	run "$BIN/vss-verify" --set 99
	[ "$status" -eq 4 ]
	[[ "$output" == *"set 99: no such set"* ]]
	run "$BIN/vss-verify" 99
	[ "$status" -eq 4 ]
	[[ "$output" == *"shadow copy 99: no such shadow copy"* ]]
	run --separate-stderr "$BIN/vss-verify" 1 3
	echo "$output"; echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "Set 1: no writer took part in it: nothing to verify." ]
	run --separate-stderr "$BIN/vss-verify" --json --set 1
	[ "$status" -eq 0 ]
	[ "$(jq -c . <<< "$output")" = '{"set_id":1,"components":[]}' ]
	# no view was made
	[ ! -e "$VSS_RUN_DIR/verify-1" ]
}
