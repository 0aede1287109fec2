#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# The report options vss-providers, vss-writers and vss-storage list share
# with vss-list (-o, -O, --noheadings, --separator, --aligned, --json), on
# this host: no device-mapper, a catalog and a writers.d/ written here.
#
# VSS_BINDIR selects the commands under test (default: build/bin).

bats_require_minimum_version 1.5.0

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	BIN=${VSS_BINDIR:-$TOP/build/bin}
	export TOP BIN
	[ -x "$BIN/vss-storage" ] || { echo "no $BIN/vss-storage: run make first" >&2; return 1; }
}

setup() {
	D=$BATS_TEST_TMPDIR
	export VSS_STATE_DIR=$D/state VSS_RUN_DIR=$D/run VSS_CONF_DIR=$D/conf
	mkdir -p "$VSS_STATE_DIR" "$VSS_CONF_DIR/writers.d" "$VSS_CONF_DIR/hooks.d"
	catalog
	# a writer that was identified at some set, and a hook
	printf '#!/bin/sh\nwhile read -r l; do echo "{\\"status\\":\\"ok\\"}"; done\n' \
		> "$VSS_CONF_DIR/writers.d/sqlite"
	printf '#!/bin/sh\nexit 0\n' > "$VSS_CONF_DIR/hooks.d/clock"
	chmod 755 "$VSS_CONF_DIR/writers.d/sqlite" "$VSS_CONF_DIR/hooks.d/clock"
}

# Three volumes, one per storage provider, and the writer's last state.
catalog() {
	cat > "$VSS_STATE_DIR/catalog.json" <<-EOF
	{ "version": 1, "next_set_id": 1, "next_shadow_id": 1, "sets": [],
	  "writers": [
	    { "name": "sqlite", "path": "$VSS_CONF_DIR/writers.d/sqlite", "state": "stable",
	      "last_error": "", "metadata": { "name": "sqlite", "instance": "vm",
	        "usage": "database", "components": [] } } ],
	  "storage": [
	    { "volume": "/dev/mapper/data", "name": "data", "real": "data-real",
	      "store": "/dev/loop1", "provider": "dm-vss-cow", "chunk_sectors": 8 },
	    { "volume": "/dev/mapper/web", "name": "web", "real": "web-real",
	      "store": "/dev/loop2", "provider": "dm-snapshot", "chunk_sectors": 16,
	      "max_bytes": 1073741824 },
	    { "volume": "/dev/mapper/db", "name": "db", "real": "db-real",
	      "store": "/dev/loop3", "provider": "dm-vss-clone", "chunk_sectors": 0,
	      "region_sectors": 1024 } ] }
	EOF
}

# The command line of each report (vss-storage reports with list).
report_cmd() {
	case $1 in
	vss-storage) echo "$BIN/vss-storage list" ;;
	*) echo "$BIN/$1" ;;
	esac
}

# Each command, its JSON array, its field ids (the JSON keys, in order).
reports() {
	cat <<-'EOF'
	vss-providers	providers	name,kind,available,detail,volumes
	vss-writers	writers	name,kind,path,state,instance,usage,last_error,last_set_id,metadata
	vss-storage	storage	volume,real,store,provider,chunk_sectors,max_bytes,wrapped,region_sectors,clone_state,synced_regions,total_regions
	EOF
}

@test "-o help: every field, one a line, exit 0, for each command" {
	local c key ids
	while IFS=$'\t' read -r c key ids; do
		run --separate-stderr $(report_cmd "$c") -o help
		[ "$status" -eq 0 ] || { echo "$c: exit $status: $stderr"; return 1; }
		[ -z "$stderr" ]
		diff <(printf '%s\n' "$output" | awk '{ print $1 }') <(tr , '\n' <<<"$ids")
		[[ ${lines[0]} =~ ^[a-z_]+\ +-\ [A-Z] ]]
	done < <(reports)
}

@test "-o FIELD --noheadings: that column alone, one line per object" {
	run --separate-stderr "$BIN/vss-providers" -o name --noheadings
	[ "$status" -eq 0 ]
	[ "$output" = $'dm-vss-cow  \ndm-vss-clone\ndm-snapshot ' ]
	run --separate-stderr "$BIN/vss-writers" -o name --noheadings
	[ "$status" -eq 0 ]
	[ "$output" = $'sqlite\nclock ' ]
	run --separate-stderr "$BIN/vss-storage" list -o volume --noheadings
	[ "$status" -eq 0 ]
	[ "$output" = $'/dev/mapper/data\n/dev/mapper/web \n/dev/mapper/db  ' ]
}

@test "--separator: fields separated, not padded; headings first unless --noheadings" {
	run --separate-stderr "$BIN/vss-providers" -o name,kind,available --separator ,
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = Provider,Kind,Available ]
	[ "${lines[1]}" = dm-vss-cow,builtin,no ]
	[ "${#lines[@]}" -eq 4 ]
	run --separate-stderr "$BIN/vss-writers" -o name,kind,last_set_id --separator , --noheadings
	[ "$status" -eq 0 ]
	[ "$output" = $'sqlite,writer,0\nclock,hook,0' ]
	run --separate-stderr "$BIN/vss-storage" list -o volume,provider,max_bytes,wrapped \
		--separator , --noheadings
	[ "$status" -eq 0 ]
	[ "$output" = $'/dev/mapper/data,dm-vss-cow,0,no\n/dev/mapper/web,dm-snapshot,1.00g,no\n/dev/mapper/db,dm-vss-clone,0,no' ]
	# --aligned pads even so
	run --separate-stderr "$BIN/vss-writers" -o name,kind --separator , --noheadings --aligned
	[ "$output" = $'sqlite,writer\nclock ,hook  ' ]
}

@test "the default columns; +FIELDS adds to them; -O sorts" {
	run --separate-stderr "$BIN/vss-providers"
	[ "$status" -eq 0 ]
	[[ ${lines[0]} =~ ^Provider\ +Kind\ +Available\ +Detail\ +Volumes ]]
	[[ ${lines[1]} =~ ^dm-vss-cow\ +builtin\ +no\ +target\ vss-origin\ not\ loaded\ +/dev/mapper/data ]]
	run --separate-stderr "$BIN/vss-writers"
	[[ ${lines[0]} =~ ^Writer\ +Kind\ +State\ +LastError ]]
	run --separate-stderr "$BIN/vss-storage" list
	[[ ${lines[0]} =~ ^Volume\ +Provider\ +Store\ +Real\ +Clone\ +Synced\ +Regions ]]
	[[ ${lines[1]} =~ ^/dev/mapper/data\ +dm-vss-cow\ +/dev/loop1\ +data-real ]]
	run --separate-stderr "$BIN/vss-writers" -o +path --noheadings --separator ,
	[ "${lines[0]}" = "sqlite,writer,stable,,$VSS_CONF_DIR/writers.d/sqlite" ]
	run --separate-stderr "$BIN/vss-storage" list -o volume -O chunk_sectors --noheadings
	[ "$output" = $'/dev/mapper/db  \n/dev/mapper/data\n/dev/mapper/web ' ]
	run --separate-stderr "$BIN/vss-storage" list -o volume -O -chunk_sectors --json
	[ "$(jq -r '.storage[].volume' <<<"$output" | tr '\n' ' ')" = \
		"/dev/mapper/web /dev/mapper/data /dev/mapper/db " ]
	run --separate-stderr "$BIN/vss-providers" -o name -O name --noheadings --separator ,
	[ "$output" = $'dm-snapshot\ndm-vss-clone\ndm-vss-cow' ]
}

@test "an unknown field: exit 1, the field and the option named, nothing printed" {
	local c key ids
	while IFS=$'\t' read -r c key ids; do
		run --separate-stderr $(report_cmd "$c") -o "${ids%%,*},no_such_field"
		[ "$status" -eq 1 ] && [ -z "$output" ]
		[ "$stderr" = "$c: -o: no_such_field: unknown field (see -o help)" ]
		run --separate-stderr $(report_cmd "$c") -O no_such_key
		[ "$status" -eq 1 ] && [ -z "$output" ]
		[ "$stderr" = "$c: -O: no_such_key: unknown field (see -o help)" ]
	done < <(reports)
}

@test "--json: the named array, every field as before, with its JSON type" {
	local c key ids
	while IFS=$'\t' read -r c key ids; do
		run --separate-stderr $(report_cmd "$c") --json
		[ "$status" -eq 0 ] || { echo "$c: exit $status: $stderr"; return 1; }
		[ "$(jq -r 'keys | join(",")' <<<"$output")" = "$key" ]
		[ "$(jq -r ".$key | length" <<<"$output")" -ge 2 ]
		# the keys of the fullest object (a clone's, for storage), in the table's order
		[ "$(jq -r "[.$key[] | keys_unsorted] | max_by(length) | join(\",\")" \
			<<<"$output")" = "$ids" ]
	done < <(reports)
	run --separate-stderr "$BIN/vss-providers" --json
	[ "$(jq -c '[.providers[] | .available | type] | unique' <<<"$output")" = '["boolean"]' ]
	[ "$(jq -c '.providers[0].volumes' <<<"$output")" = '["/dev/mapper/data"]' ]
	run --separate-stderr "$BIN/vss-writers" --json
	[ "$(jq -c '.writers[0].metadata' <<<"$output")" = \
		'{"name":"sqlite","instance":"vm","usage":"database","components":[]}' ]
	[ "$(jq -c '.writers[1] | [.metadata, .last_set_id, .kind]' <<<"$output")" = '[null,0,"hook"]' ]
	run --separate-stderr "$BIN/vss-storage" list --json
	[ "$(jq -c '.storage[1] | [.chunk_sectors, .max_bytes, .wrapped]' <<<"$output")" = \
		'[16,1073741824,false]' ]
	# a clone's fields in a clone's object only; null when the kernel cannot say
	[ "$(jq -c '.storage[0] | has("clone_state")' <<<"$output")" = false ]
	[ "$(jq -c '.storage[2] | [.region_sectors, .clone_state, .synced_regions]' <<<"$output")" = \
		'[1024,null,null]' ]
}

@test "--json with -o: only those keys; the array is there when empty" {
	run --separate-stderr "$BIN/vss-providers" --json -o name,available
	[ "$(jq -c '.providers[0]' <<<"$output")" = '{"name":"dm-vss-cow","available":false}' ]
	run --separate-stderr "$BIN/vss-writers" -j -o name,metadata
	[ "$(jq -c '.writers[1]' <<<"$output")" = '{"name":"clock","metadata":null}' ]
	echo '{ "version": 1, "sets": [], "storage": [], "writers": [] }' > "$VSS_STATE_DIR/catalog.json"
	rm "$VSS_CONF_DIR/writers.d/sqlite" "$VSS_CONF_DIR/hooks.d/clock"
	run --separate-stderr "$BIN/vss-storage" list --json
	[ "$status" -eq 0 ] && [ "$(jq -c . <<<"$output")" = '{"storage":[]}' ]
	run --separate-stderr "$BIN/vss-writers" --json
	[ "$status" -eq 0 ] && [ "$(jq -c . <<<"$output")" = '{"writers":[]}' ]
	# columns: nothing at all, as vss-list
	run --separate-stderr "$BIN/vss-storage" list
	[ "$status" -eq 0 ] && [ -z "$output" ]
}

@test "vss-writers: metadata is in JSON only; --identify still works with the options" {
	run --separate-stderr "$BIN/vss-writers" -o name,metadata
	[ "$status" -eq 1 ] && [ -z "$output" ]
	[ "$stderr" = "vss-writers: -o: metadata: only in JSON output (--json)" ]
	run --separate-stderr "$BIN/vss-writers" -O metadata --json
	[ "$status" -eq 1 ]
	[ "$stderr" = "vss-writers: -O: metadata: cannot sort by a JSON-only field" ]
	# all: every column there is
	run --separate-stderr "$BIN/vss-writers" -o all
	[ "$status" -eq 0 ]
	[[ ${lines[0]} =~ ^Writer\ +Kind\ +Path\ +State\ +Instance\ +Usage\ +LastError\ +LastSet$ ]]
	run --separate-stderr "$BIN/vss-writers" --identify -o name,kind,state --noheadings --separator :
	[ "$status" -eq 0 ]
	[ "$output" = $'sqlite:writer:stable\nclock:hook:stable' ]
}

@test "vss-storage: the report options are for list only, refused with add, resize, remove" {
	local sum opt
	sum=$(sha256sum < "$VSS_STATE_DIR/catalog.json")
	run --separate-stderr "$BIN/vss-storage" add --for data --on /dev/null --json
	[ "$status" -eq 1 ] && [ -z "$output" ]
	[ "$stderr" = "vss-storage: --json: for list only, not add" ]
	run --separate-stderr "$BIN/vss-storage" resize data -o volume
	[ "$status" -eq 1 ]
	[ "$stderr" = "vss-storage: -o: for list only, not resize" ]
	for opt in -O --noheadings --separator --aligned; do
		case $opt in -O|--separator) set -- "$opt" x ;; *) set -- "$opt" ;; esac
		run --separate-stderr "$BIN/vss-storage" remove --yes --force data "$@"
		[ "$status" -eq 1 ] || { echo "$opt: exit $status"; return 1; }
		[ "$stderr" = "vss-storage: $opt: for list only, not remove" ]
	done
	[ "$(sha256sum < "$VSS_STATE_DIR/catalog.json")" = "$sum" ]
}
