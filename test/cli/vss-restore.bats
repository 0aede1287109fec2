#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# vss-restore on the host, no VM: usage, the exit status and messages of
# what the catalog alone decides (unknown id, unknown component, the
# confirmation), and --recover over journals left in the state directory
# by a restore that died, on real files in a scratch directory: before the
# swap it is undone, after the copies were complete it is finished, never
# a mix.  test/target/restore.bats runs whole restores on real devices.
#
# VSS_BINDIR selects the commands under test (default: build/bin).

bats_require_minimum_version 1.5.0

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export BIN=${VSS_BINDIR:-$TOP/build/bin}
	[ -x "$BIN/vss-restore" ] || { echo "no $BIN/vss-restore: run make first" >&2; return 1; }
}

setup() {
	[ "$(id -u)" = 0 ] || skip "vss-restore runs as root"
	D=$BATS_TEST_TMPDIR
	export VSS_STATE_DIR=$D/state VSS_RUN_DIR=$D/run VSS_CONF_DIR=$D/conf
	mkdir -p "$VSS_STATE_DIR" "$VSS_RUN_DIR" "$VSS_CONF_DIR"
	mkdir -p "$D/sys/class/misc/device-mapper" "$D/sys/module/dm_vss"
	export VSS_SYSFS=$D/sys
	cat > "$VSS_STATE_DIR/catalog.json" <<-EOF
	{ "version": 1, "next_set_id": 2, "next_shadow_id": 2, "storage": [], "writers": [],
	  "sets": [
	    { "set_id": 1, "state": "created", "pid": 1, "created": "2024-05-01T10:00:00Z",
	      "tag": "", "context": "persistent",
	      "shadows": [
	        { "shadow_id": 1, "volume": "/dev/mapper/vsstest-data", "name": "vsstest-data",
	          "device": "/dev/mapper/vss-test-missing-1", "provider": "external-test",
	          "store": "", "real": "", "state": "created", "snap_id": 1,
	          "snap_dev": "vss-test-missing-1", "mountpoint": "$D/live" } ],
	      "writers": [
	        { "name": "db", "path": "$VSS_CONF_DIR/writers.d/db",
	          "metadata": { "name": "db", "components": [
	            { "name": "main", "files": [ "$D/live/main" ], "restore": "replace" },
	            { "name": "logs", "files": [ "$D/live/logs" ], "restore": "replace" } ] } } ] } ] }
	EOF
}

@test "--help prints the usage on stdout; bad usage is exit 1 with one line" {
	run --separate-stderr "$BIN/vss-restore" --help
	[ "$status" = 0 ]
	[[ $output == "Usage: vss-restore [OPTION...] ID --component WRITER/COMPONENT [--to DIR] | --recover"* ]]
	[[ $output == *"--yes"* && $output == *"--json"* && $output == *"--timeout"* ]]
	run --separate-stderr "$BIN/vss-restore"
	[ "$status" = 1 ]
	[ "$stderr" = "vss-restore: no shadow copy id given (see --help)" ]
	run --separate-stderr "$BIN/vss-restore" 1
	[ "$status" = 1 ]
	[ "$stderr" = "vss-restore: no component given: --component WRITER/COMPONENT (see --help)" ]
	run --separate-stderr "$BIN/vss-restore" 1 --component main
	[ "$status" = 1 ]
	[[ $stderr == "vss-restore: main: not a component: give WRITER/COMPONENT"* ]]
	run --separate-stderr "$BIN/vss-restore" x --component db/main
	[ "$status" = 1 ]
	[ "$stderr" = "vss-restore: x: not a shadow copy id (a positive number, see vss-list)" ]
	run --separate-stderr "$BIN/vss-restore" --recover --component db/main
	[ "$status" = 1 ]
	run --separate-stderr "$BIN/vss-restore" 1 --component db/main --timeout 3x
	[ "$status" = 1 ]
	[[ $stderr == *"--timeout: 3x: not a duration"* ]]
}

@test "an unknown id or component: exit 4 before any question, the set's components listed" {
	run --separate-stderr "$BIN/vss-restore" 7 --component db/main < /dev/null
	[ "$status" = 4 ]
	[ "$stderr" = "vss-restore: shadow copy 7: no such shadow copy (see vss-list)" ]
	run --separate-stderr "$BIN/vss-restore" 1 --component db/other < /dev/null
	[ "$status" = 4 ]
	[ "$stderr" = "vss-restore: db/other: no such component in the set of shadow copy 1 (its components: db/main, db/logs)" ]
	run --separate-stderr "$BIN/vss-restore" 1 --component db/main < /dev/null
	[ "$status" = 1 ]
	[ "$stderr" = "vss-restore: shadow copy 1: nothing restored: needs confirmation and standard input is not a terminal (add --yes)" ]
}

# journal STEP: a restore of db/main (one directory, live/main) left at STEP,
# the staging copy made with the new content and the old one still live
journal() {
	local ino dev
	mkdir -p "$D/live/main" "$D/live/.vss-restore-1-main"
	echo old > "$D/live/main/file"
	echo new > "$D/live/.vss-restore-1-main/file"
	dev=$(stat -c %d "$D/live/.vss-restore-1-main")
	ino=$(stat -c %i "$D/live/.vss-restore-1-main")
	cat > "$VSS_STATE_DIR/restore-1.journal" <<-EOF
	{ "shadow_id": 1, "set_id": 1, "writer": "db", "component": "main", "step": "$1",
	  "to": null, "pre_restore": true, "volumes": [ "/dev/mapper/vsstest-data" ],
	  "backup_metadata": null, "mounts": [],
	  "files": [ { "live": "$D/live/main", "dst": "$D/live/.vss-restore-1-main",
	               "old": "$D/live/main.vss-old-1", "in_copy": true, "dev": $dev, "ino": $ino },
	             { "live": "$D/live/gone", "dst": "$D/live/.vss-restore-1-gone",
	               "old": "$D/live/gone.vss-old-1", "in_copy": false, "dev": 0, "ino": 0 } ] }
	EOF
	echo stray > "$D/live/gone"
}

left() {
	ls -A "$D/live" | tr '\n' ' '
}

@test "--recover: a restore stopped before its copies were complete is undone" {
	journal prepared
	run --separate-stderr "$BIN/vss-restore" --recover
	echo "$output $stderr"
	[ "$status" = 0 ]
	[ "$output" = "1 interrupted restore recovered." ]
	[[ $stderr == *"restore 1 of db/main: interrupted before any file was replaced: undone, the files are as they were"* ]]
	[ "$(cat "$D/live/main/file")" = old ]
	[ "$(cat "$D/live/gone")" = stray ]
	[ "$(left)" = "gone main " ]
	[ ! -e "$VSS_STATE_DIR/restore-1.journal" ]
}

@test "--recover: a restore stopped at any point of the swap is finished" {
	local at
	for at in none old-moved new-moved; do
		rm -rf "$D/live"
		journal staged
		case $at in
		old-moved) mv "$D/live/main" "$D/live/main.vss-old-1" ;;
		new-moved) mv "$D/live/main" "$D/live/main.vss-old-1"
			   mv "$D/live/.vss-restore-1-main" "$D/live/main" ;;
		esac
		run --separate-stderr "$BIN/vss-restore" --recover
		echo "$at: $output $stderr"
		[ "$status" = 0 ]
		[[ $stderr == *"interrupted after its copies were complete: finished, the files are restored"* ]]
		[ "$(cat "$D/live/main/file")" = new ]
		[ "$(left)" = "main " ]
		[ ! -e "$VSS_STATE_DIR/restore-1.journal" ]
	done
	# nothing to do: said so
	run "$BIN/vss-restore" --recover
	[ "$status" = 0 ]
	[ "$output" = "0 interrupted restores recovered." ]
}

@test "--recover: a staging copy gone and not in place is refused, the journal kept" {
	journal staged
	rm -rf "$D/live/.vss-restore-1-main"
	run --separate-stderr "$BIN/vss-restore" --recover
	[ "$status" = 7 ]
	[[ $stderr == *"$D/live/main: cannot restore: its staging copy $D/live/.vss-restore-1-main is gone and it is not the restored file"* ]]
	[ -e "$VSS_STATE_DIR/restore-1.journal" ]
	[ "$(cat "$D/live/main/file")" = old ]
}
