#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# vss-delete on the host, no VM: usage, unknown ids, confirmation of the
# plural forms, exposed shadow copies refused, the lock, on a catalog
# written the way libvsscore writes it.  Here no shadow copy has a device,
# so deleting one only drops it from the catalog; test/target/
# lifecycle-list.bats deletes real ones.
#
# VSS_BINDIR selects the commands under test (default: build/bin).

bats_require_minimum_version 1.5.0

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export VSS_DELETE=${VSS_BINDIR:-$TOP/build/bin}/vss-delete
	[ -x "$VSS_DELETE" ] || { echo "no $VSS_DELETE: run make first" >&2; return 1; }
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

teardown() {
	[ -n "${HOLDER:-}" ] && kill "$HOLDER" 2>/dev/null
	wait 2>/dev/null || true
}

# every deletion asks, as lvremove does: --yes where no one can answer
del() { "$VSS_DELETE" --yes "$@"; }

# The shadow ids left in the catalog, in order.
left() { jq -r '[.sets[].shadows[].shadow_id] | join(" ")' "$VSS_STATE_DIR/catalog.json"; }

# Set 1: shadow copies 1 (data, oldest) and 2 (logs); set 2: 3 (data,
# exposed at /mnt/x); set 3: 4 (data, newest).
catalog() {
	cat > "$VSS_STATE_DIR/catalog.json" <<-'EOF'
	{
	  "version": 1, "next_set_id": 4, "next_shadow_id": 5, "storage": [], "writers": [],
	  "sets": [
	    { "set_id": 1, "state": "created", "pid": 1, "created": "2024-05-01T10:00:00Z",
	      "tag": "nightly", "context": "persistent", "shadows": [
	        { "shadow_id": 1, "volume": "/dev/mapper/data", "name": "data",
	          "device": "/dev/mapper/vss-1", "provider": "dm-vss-cow", "store": "/dev/loop1",
	          "real": "data-real", "state": "created", "snap_id": 1, "snap_dev": "vss-1" },
	        { "shadow_id": 2, "volume": "/dev/mapper/logs", "name": "logs",
	          "device": "/dev/mapper/vss-2", "provider": "dm-vss-cow", "store": "/dev/loop2",
	          "real": "logs-real", "state": "created", "snap_id": 2, "snap_dev": "vss-2" } ] },
	    { "set_id": 2, "state": "created", "pid": 1, "created": "2024-05-02T10:00:00Z",
	      "tag": "", "context": "persistent", "shadows": [
	        { "shadow_id": 3, "volume": "/dev/mapper/data", "name": "data",
	          "device": "/dev/mapper/vss-3", "provider": "dm-vss-cow", "store": "/dev/loop1",
	          "real": "data-real", "state": "created", "snap_id": 3, "snap_dev": "vss-3",
	          "exposed": "/mnt/x" } ] },
	    { "set_id": 3, "state": "created", "pid": 1, "created": "2024-05-03T10:00:00Z",
	      "tag": "", "context": "persistent", "shadows": [
	        { "shadow_id": 4, "volume": "/dev/mapper/data", "name": "data",
	          "device": "/dev/mapper/vss-4", "provider": "dm-vss-cow", "store": "/dev/loop1",
	          "real": "data-real", "state": "created", "snap_id": 4, "snap_dev": "vss-4" } ] }
	  ]
	}
	EOF
}

@test "--help prints the usage on stdout and exits 0" {
	run --separate-stderr del --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Usage: vss-delete [OPTION...] ID... | --set ID | --oldest VOL | --all VOL"* ]]
	[[ "$output" == *"--yes"* && "$output" == *"--wait=DURATION"* ]]
	[ -z "$stderr" ]
}

@test "--version prints the version and exits 0" {
	run del --version
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^vss-delete\ \(dm-vss\)\ [0-9] ]]
}

@test "bad usage exits 1 and deletes nothing" {
	run del --no-such-option 1
	[ "$status" -eq 1 ]
	[[ "$output" == *"--no-such-option: unknown option (see --help)"* ]]
	run del
	[ "$status" -eq 1 ]
	[[ "$output" == *"no shadow copy given"* ]]
	run del --set
	[ "$status" -eq 1 ]
	[[ "$output" == *"missing argument"* ]]
	run del 1 --set 2
	[ "$status" -eq 1 ]
	[[ "$output" == *"give only one of"* ]]
	run del --oldest data --all data
	[ "$status" -eq 1 ]
	run del x1
	[ "$status" -eq 1 ]
	[ "$output" = "vss-delete: x1: not a shadow copy id (a positive number, see vss-list)" ]
	run del --set -3
	[ "$status" -eq 1 ]
	run del --wait soon 1
	[ "$status" -eq 1 ]
	[[ "$output" == *"--wait: soon: not a duration (500ms, 30s, 2m, 1h)"* ]]
	[ "$(left)" = "1 2 3 4" ]
}

@test "an unknown id: exit 4 naming it, nothing deleted" {
	run --separate-stderr del 42
	[ "$status" -eq 4 ]
	[ "$stderr" = "vss-delete: shadow copy 42: no such shadow copy (see vss-list)" ]
	run --separate-stderr del --set 9
	[ "$status" -eq 4 ]
	[ "$stderr" = "vss-delete: set 9: no such set (see vss-list --sets)" ]
	run --separate-stderr del --oldest other
	[ "$status" -eq 4 ]
	[ "$stderr" = "vss-delete: other: no shadow copies" ]
	[ "$(left)" = "1 2 3 4" ]
}

@test "one id: deleted, the rest untouched" {
	run --separate-stderr del 2
	[ "$status" -eq 0 ]
	[ "$output" = "Deleted shadow copy 2 of /dev/mapper/logs (/dev/mapper/vss-2)." ]
	[ "$(left)" = "1 3 4" ]
	# the set keeps its other copy
	[ "$(jq '.sets[0].set_id' "$VSS_STATE_DIR/catalog.json")" = 1 ]
	run del --quiet 1
	[ "$status" -eq 0 ] && [ -z "$output" ] || false
	# set 1 is empty now: gone
	[ "$(jq -c '[.sets[].set_id]' "$VSS_STATE_DIR/catalog.json")" = "[2,3]" ]
}

@test "without a terminal every form needs --yes: exit 1, nothing deleted" {
	run --separate-stderr "$VSS_DELETE" 1 2 < /dev/null
	[ "$status" -eq 1 ]
	[ "$stderr" = "vss-delete: shadow copies: nothing deleted: needs confirmation and standard input is not a terminal (add --yes)" ]
	run --separate-stderr "$VSS_DELETE" --set 1 < /dev/null
	[ "$status" -eq 1 ]
	[ "$stderr" = "vss-delete: set 1: nothing deleted: needs confirmation and standard input is not a terminal (add --yes)" ]
	run --separate-stderr "$VSS_DELETE" --all data < /dev/null
	[ "$status" -eq 1 ]
	[[ "$stderr" == "vss-delete: all of /dev/mapper/data: nothing deleted: needs confirmation"* ]]
	run --separate-stderr "$VSS_DELETE" --oldest /dev/mapper/data < /dev/null
	[ "$status" -eq 1 ]
	run --separate-stderr "$VSS_DELETE" 1 < /dev/null
	[ "$status" -eq 1 ]
	[ "$stderr" = "vss-delete: shadow copy 1: nothing deleted: needs confirmation and standard input is not a terminal (add --yes)" ]
	[ "$(left)" = "1 2 3 4" ]
	# an unknown id is named before anything is asked
	run --separate-stderr "$VSS_DELETE" 42 < /dev/null
	[ "$status" -eq 4 ]
}

@test "on a terminal every form asks; only y or yes deletes" {
	command -v script > /dev/null || skip "no script(1) to make a terminal"
	run bash -c "echo n | script -qec '$VSS_DELETE --set 1' /dev/null"
	[ "$status" -eq 1 ]
	[[ "$output" == *"Really delete 2 shadow copies (set 1): 1 2? [y/n]: "* ]]
	[[ "$output" == *"set 1: nothing deleted: not confirmed"* ]]
	[ "$(left)" = "1 2 3 4" ]
	run bash -c "echo yes | script -qec '$VSS_DELETE --set 1' /dev/null"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Deleted shadow copy 2 of /dev/mapper/logs"* ]]
	[ "$(left)" = "3 4" ]
	run bash -c "echo y | script -qec '$VSS_DELETE 4' /dev/null"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Really delete shadow copy 4 of /dev/mapper/data? [y/n]: "* ]]
	[ "$(left)" = "3" ]
}

@test "--set --yes deletes the set; --all --yes refuses the exposed one with exit 5" {
	run del --set 1 --yes
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | wc -l)" = 2 ]
	[ "$(left)" = "3 4" ]
	run --separate-stderr del --all data --yes
	[ "$status" -eq 5 ]
	[[ "$stderr" == *"shadow copy 3: cannot delete: exposed at /mnt/x (run vss-unexpose 3 first; nothing was unmounted)"* ]]
	[ "$output" = "Deleted shadow copy 4 of /dev/mapper/data (/dev/mapper/vss-4)." ]
	[ "$(left)" = "3" ]
}

@test "several ids: go on past a failure, exit with the first failure's code" {
	run --separate-stderr del 3 42 1 --yes
	[ "$status" -eq 5 ]
	[[ "$stderr" == *"shadow copy 3: cannot delete: exposed"* ]]
	[[ "$stderr" == *"vss-delete: shadow copy 42: no such shadow copy (see vss-list)"* ]]
	[ "$output" = "Deleted shadow copy 1 of /dev/mapper/data (/dev/mapper/vss-1)." ]
	[ "$(left)" = "2 3 4" ]
	run del 42 2 3 --yes
	[ "$status" -eq 4 ]
	[ "$(left)" = "3 4" ]
}

@test "the lock: busy is exit 5 at once, --wait waits a bounded time" {
	# -o: the lock stays with flock itself, so killing it releases the lock
	flock -o "$VSS_RUN_DIR/vss.lock" sleep 30 & HOLDER=$!
	for i in $(seq 50); do
		flock -n "$VSS_RUN_DIR/vss.lock" true || break
		sleep 0.1
	done
	run --separate-stderr del 1
	[ "$status" -eq 5 ]
	[[ "$stderr" == *"another shadow copy operation is in progress"* ]]
	[[ "$stderr" == *"nothing deleted"*"--wait"* ]]
	start=$(date +%s%N)
	run del --wait 0.5 1
	[ "$status" -eq 5 ]
	ms=$((($(date +%s%N) - start) / 1000000))
	echo "waited $ms ms"
	[ "$ms" -ge 450 ] && [ "$ms" -lt 5000 ] || false
	[ "$(left)" = "1 2 3 4" ]
	( sleep 1; kill $HOLDER ) &
	run del --wait 20 1
	[ "$status" -eq 0 ]
	[ "$(left)" = "2 3 4" ]
}

@test "a deletion interrupted after its mark is finished by the next command" {
	jq '.sets[0].shadows[1].state = "deleting" | .sets[0].shadows[1].pid = 999999999' \
		"$VSS_STATE_DIR/catalog.json" > "$BATS_TEST_TMPDIR/c" &&
		mv "$BATS_TEST_TMPDIR/c" "$VSS_STATE_DIR/catalog.json"
	run --separate-stderr del 4
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"shadow copy 2: left deleting by process 999999999: deleting it"* ]]
	[ "$(left)" = "1 3" ]
}
