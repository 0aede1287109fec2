#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# vss-list on the host, no VM: usage, an empty state directory, and a
# catalog written the way libvsscore/catalog.c and set.c write it (the
# kernel has no device-mapper here, or no such devices: every shadow copy's
# state is "unknown" or "missing").  Golden output normalised, JSON checked
# with jq for types and required fields, -o, -O, --separator, --noheadings,
# filters, -o help.
#
# VSS_BINDIR selects the commands under test (default: build/bin).

bats_require_minimum_version 1.5.0

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export VSS_LIST=${VSS_BINDIR:-$TOP/build/bin}/vss-list
	[ -x "$VSS_LIST" ] || { echo "no $VSS_LIST: run make first" >&2; return 1; }
}

setup() {
	export VSS_STATE_DIR=$BATS_TEST_TMPDIR/state VSS_RUN_DIR=$BATS_TEST_TMPDIR/run \
		VSS_CONF_DIR=$BATS_TEST_TMPDIR/conf
	mkdir -p "$VSS_STATE_DIR"
}

list() { "$VSS_LIST" "$@"; }

# The kernel's view differs between hosts (no device-mapper: unknown; no
# such device: missing); trailing blanks of aligned columns are dropped.
normalise() { sed -e 's/missing/unknown/g' -e 's/[[:space:]]*$//'; }

iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

# Two sets: set 1 (tag nightly, 3 days old) with shadow copies 1 (data,
# dm-vss-cow) and 2 (logs, dm-snapshot); set 2 (90 minutes old) with shadow
# copy 3 of data, exposed at /mnt/x.
catalog() {
	local now t1 t2
	now=$(date +%s)
	t1=$(iso $((now - 3 * 86400 - 3600)))
	t2=$(iso $((now - 90 * 60 - 10)))
	cat > "$VSS_STATE_DIR/catalog.json" <<-EOF
	{
	  "version": 1, "next_set_id": 3, "next_shadow_id": 4, "storage": [], "writers": [],
	  "sets": [
	    { "set_id": 1, "state": "created", "pid": 1, "created": "$t1", "tag": "nightly",
	      "context": "persistent", "shadows": [
	        { "shadow_id": 1, "volume": "/dev/mapper/data", "name": "data",
	          "device": "/dev/mapper/vss-1", "provider": "dm-vss-cow", "store": "/dev/loop1",
	          "real": "data-real", "state": "created", "snap_id": 1, "snap_dev": "vss-1",
	          "mountpoint": "/srv/data" },
	        { "shadow_id": 2, "volume": "/dev/mapper/logs", "name": "logs",
	          "device": "/dev/mapper/vss-2", "provider": "dm-snapshot", "store": "/dev/loop2",
	          "real": "logs-real", "state": "created", "snap_id": 2, "snap_dev": "vss-2",
	          "mountpoint": "", "cow_dev": "vss-2-cow", "cow_offset": 0, "cow_len": 33554432 } ] },
	    { "set_id": 2, "state": "created", "pid": 1, "created": "$t2", "tag": "",
	      "context": "backup", "shadows": [
	        { "shadow_id": 3, "volume": "/dev/mapper/data", "name": "data",
	          "device": "/dev/mapper/vss-3", "provider": "dm-vss-cow", "store": "/dev/loop1",
	          "real": "data-real", "state": "created", "snap_id": 3, "snap_dev": "vss-3",
	          "mountpoint": "/srv/data", "exposed": "/mnt/x" } ] }
	  ]
	}
	EOF
}

@test "--help prints the usage on stdout and exits 0" {
	run --separate-stderr list --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Usage: vss-list [OPTION...] [ID...]"* ]]
	[[ "$output" == *"--options=FIELDS"* && "$output" == *"--json"* && "$output" == *"--sets"* ]]
	[ -z "$stderr" ]
}

@test "--version prints the version and exits 0" {
	run list --version
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^vss-list\ \(dm-vss\)\ [0-9] ]]
}

@test "bad usage exits 1 with a hint: unknown option, missing argument, bad values" {
	run list --no-such-option
	[ "$status" -eq 1 ]
	[[ "$output" == *"--no-such-option: unknown option (see --help)"* ]]
	run list -o
	[ "$status" -eq 1 ]
	[[ "$output" == *"missing argument"* ]]
	run list --units x
	[ "$status" -eq 1 ]
	[[ "$output" == *"--units: x: not a unit"* ]]
	run list -o shadow_id,bogus
	[ "$status" -eq 1 ]
	[ "$output" = "vss-list: -o: bogus: unknown field (see -o help)" ]
	run list -O -nosuch
	[ "$status" -eq 1 ]
	[ "$output" = "vss-list: -O: nosuch: unknown field (see -o help)" ]
	run list abc
	[ "$status" -eq 1 ]
	[[ "$output" == *"abc: not a shadow copy id"* ]]
	run list --set 0
	[ "$status" -eq 1 ]
}

@test "an empty state directory: nothing printed, exit 0; JSON an empty array" {
	rmdir "$VSS_STATE_DIR"
	run --separate-stderr list
	[ "$status" -eq 0 ]
	[ -z "$output" ] && [ -z "$stderr" ] || false
	run list --sets
	[ "$status" -eq 0 ] && [ -z "$output" ] || false
	run list --json
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -c .)" = '{"shadows":[]}' ]
	run list --sets --json
	[ "$(echo "$output" | jq -c .)" = '{"sets":[]}' ]
	[ ! -e "$VSS_STATE_DIR" ]
}

@test "golden: the default columns" {
	catalog
	run --separate-stderr list
	[ "$status" -eq 0 ]
	diff -u - <(echo "$output" | normalise) <<-'EOF'
	ID Set Volume           Provider    State   Copied Use% Age Exposed
	 1   1 /dev/mapper/data dm-vss-cow  unknown              3d
	 2   1 /dev/mapper/logs dm-snapshot unknown              3d
	 3   2 /dev/mapper/data dm-vss-cow  unknown             90m /mnt/x
	EOF
}

@test "golden: --sets" {
	catalog
	run --separate-stderr list --sets
	[ "$status" -eq 0 ]
	diff -u - <(echo "$output" | normalise) <<-'EOF'
	Set State   Tag     Shadows Volumes                           States  Age
	  1 created nightly       2 /dev/mapper/data,/dev/mapper/logs unknown  3d
	  2 created               1 /dev/mapper/data                  unknown 90m
	EOF
	run list --sets -o set_id,context,shadow_ids,providers --noheadings --separator ' | '
	diff -u - <(echo "$output") <<-'EOF'
	1 | persistent | 1,2 | dm-vss-cow,dm-snapshot
	2 | backup | 3 | dm-vss-cow
	EOF
}

@test "-o selects and orders fields, +FIELDS adds to the default; times masked" {
	catalog
	run list -o device,shadow_id,created
	[ "$status" -eq 0 ]
	diff -u - <(echo "$output" | normalise |
		sed -E 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z/TIME/') <<-'EOF'
	Device            ID Created
	/dev/mapper/vss-1  1 TIME
	/dev/mapper/vss-2  2 TIME
	/dev/mapper/vss-3  3 TIME
	EOF
	run list -o +tag,snap_id --noheadings
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | sed -n 1p | awk '{print $1, $(NF-1), $NF}')" = "1 nightly 1" ]
	run list -o shadow_id,tag,store,catalog_state --separator :
	diff -u - <(echo "$output") <<-'EOF'
	ID:Tag:Store:Recorded
	1:nightly:/dev/loop1:created
	2:nightly:/dev/loop2:created
	3::/dev/loop1:created
	EOF
}

@test "-O sorts, numbers by value, strings by text, - for descending" {
	catalog
	run list -o shadow_id -O -shadow_id --noheadings
	[ "$(echo $output)" = "3 2 1" ]
	run list -o shadow_id,volume -O volume,-shadow_id --noheadings --separator ,
	[ "$(echo $output)" = "3,/dev/mapper/data 1,/dev/mapper/data 2,/dev/mapper/logs" ]
	run list -o shadow_id -O age --noheadings
	[ "$(echo $output)" = "3 1 2" ] || [ "$(echo $output)" = "3 2 1" ]
	[ "$(echo $output | cut -d' ' -f1)" = 3 ]
	# JSON in the same order as the columns
	run list --json -O volume,-shadow_id
	[ "$(echo "$output" | jq -c '[.shadows[].shadow_id]')" = "[3,1,2]" ]
	run list --sets --json -O -set_id
	[ "$(echo "$output" | jq -c '[.sets[].set_id]')" = "[2,1]" ]
}

@test "--separator without --aligned: no padding; --aligned pads" {
	catalog
	run list -o shadow_id,provider,volume --separator '|' --noheadings
	diff -u - <(echo "$output") <<-'EOF'
	1|dm-vss-cow|/dev/mapper/data
	2|dm-snapshot|/dev/mapper/logs
	3|dm-vss-cow|/dev/mapper/data
	EOF
	run list -o provider,shadow_id --separator '|' --aligned --noheadings
	[ "$(echo "$output" | sed -n 1p)" = "dm-vss-cow | 1" ]
	[ "$(echo "$output" | sed -n 2p)" = "dm-snapshot| 2" ]
}

@test "--json: the top-level object, real types, the required fields" {
	catalog
	run --separate-stderr list --json
	[ "$status" -eq 0 ]
	echo "$output" | jq -e 'keys == ["shadows"] and (.shadows | length == 3)'
	echo "$output" | jq -e '.shadows | all(
		(.shadow_id | type == "number") and (.set_id | type == "number") and
		(.volume | type == "string") and (.device | test("^/dev/mapper/vss-[0-9]+$")) and
		(.provider | type == "string") and (.state | type == "string") and
		(.created | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")) and
		(.age | type == "number") and (.snap_id | type == "number") and
		(.copied | type == "number" or type == "null") and
		(.store_use | type == "number" or type == "null"))'
	echo "$output" | jq -e '[.shadows[].exposed] == [null, null, "/mnt/x"]'
	echo "$output" | jq -e '[.shadows[].provider] == ["dm-vss-cow", "dm-snapshot", "dm-vss-cow"]'
	echo "$output" | jq -e '.shadows[2].age >= 5400 and .shadows[2].age < 5600'
	echo "$output" | jq -e '[.shadows[].tag] == ["nightly", "nightly", ""]'
	# -o limits the keys, in that order
	run list --json -o set_id,shadow_id
	echo "$output" | jq -e '.shadows[0] | keys_unsorted == ["set_id", "shadow_id"]'
	# sets: arrays where a set has several of a thing
	run list --sets --json
	echo "$output" | jq -e 'keys == ["sets"]'
	echo "$output" | jq -e '.sets[0].shadow_ids == [1, 2] and
		.sets[0].volumes == ["/dev/mapper/data", "/dev/mapper/logs"] and
		.sets[0].shadow_count == 2 and .sets[1].context == "backup" and
		(.sets[0].created | test("Z$")) and (.sets[0].age | type == "number")'
}

@test "filters: --volume, --set, --tag, --provider, ids; --sets filtered too" {
	catalog
	ids() { list -o shadow_id --noheadings "$@" | tr -s ' \n' ' ' | sed 's/^ //; s/ $//'; }
	[ "$(ids --volume data)" = "1 3" ]
	[ "$(ids --volume /dev/mapper/logs)" = "2" ]
	[ "$(ids --set 1)" = "1 2" ]
	[ "$(ids --tag nightly)" = "1 2" ]
	[ "$(ids --provider dm-snapshot)" = "2" ]
	[ "$(ids --volume data --set 2)" = "3" ]
	[ "$(ids --volume data --provider dm-snapshot)" = "" ]
	[ "$(ids 3 1)" = "1 3" ]
	[ "$(list --sets -o set_id --noheadings --volume logs | tr -d ' ')" = "1" ]
	[ "$(list --sets -o set_id --noheadings --tag nightly | tr -d ' ')" = "1" ]
	[ "$(list --sets -o set_id --noheadings 2 | tr -d ' ')" = "2" ]
	# a volume with no shadow copies: nothing, exit 0
	run list --volume other
	[ "$status" -eq 0 ] && [ -z "$output" ] || false
	# an id that is not there: the others are listed, exit 4 naming it
	run --separate-stderr list -o shadow_id --noheadings 1 42
	[ "$status" -eq 4 ]
	[ "$(echo $output)" = 1 ]
	[ "$stderr" = "vss-list: shadow copy 42: no such shadow copy (see vss-list)" ]
	run --separate-stderr list --sets 9
	[ "$status" -eq 4 ]
	[ "$stderr" = "vss-list: set 9: no such set (see vss-list --sets)" ]
}

@test "-o help: one line per field with its description" {
	run --separate-stderr list -o help
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	for f in shadow_id set_id volume device provider state created age exposed \
		 copied_chunks copied store_used store_size store_use; do
		echo "$output" | grep -Eq "^$f +- [A-Z].+\.$"
	done
	[ "$(echo "$output" | grep -cv -- ' - ')" = 0 ]
	[ "$(echo "$output" | wc -l)" = 20 ]
	run list --sets -o help
	[ "$status" -eq 0 ]
	echo "$output" | grep -Eq '^shadow_ids +- '
	echo "$output" | grep -Eq '^context +- '
	# every field listed can be asked for
	for f in $(list -o help | awk '{print $1}'); do
		list -o "$f" > /dev/null
	done
}

@test "-o all shows every field; a broken catalog is an error, not an empty list" {
	catalog
	run list -o all --noheadings --separator '|'
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | sed -n 1p | awk -F'|' '{print NF}')" = 20 ]
	echo '{"version": 1, "sets": [' > "$VSS_STATE_DIR/catalog.json"
	run --separate-stderr list
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"catalog.json: cannot parse the catalog"* ]]
}
