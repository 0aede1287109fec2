#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# vss-verify and vss-snapshot --verify inside the test VM: the SQLite writer
# checks its databases on writable views (a good set verifies, a corrupt
# database fails naming its component); a writer that reports a component
# not verified, one gone from writers.d and one without verify give exit 6
# with the reason; a set without writers has nothing to verify; a set
# across two volumes gets two views, the links between them pointed at the
# views (seen through a writer that reads and writes through them), and
# the live files never change; the views are gone afterwards.

bats_require_minimum_version 1.5.0

B=$BATS_TEST_DIRNAME/../../build/bin
SQLITE_WRITER=$BATS_TEST_DIRNAME/../../scripts/writers/sqlite-writer

setup() {
	[ "$(id -u)" = 0 ] || skip "runs as root in the VM (scripts/vm-run)"
	W=/tmp/verify-tests/$BATS_TEST_NUMBER
	rm -rf "$W"; mkdir -p "$W/state" "$W/run" "$W/conf/writers.d"
	export VSS_STATE_DIR=$W/state VSS_RUN_DIR=$W/run VSS_CONF_DIR=$W/conf
	LOOPS=()
	modprobe dm-vss
	modprobe dm-snapshot
	echo "vss-test: mark verify-$BATS_TEST_NUMBER" > /dev/kmsg
}

teardown() {
	for m in $(awk '$2 ~ "^/tmp/verify-tests/" {print $2}' /proc/mounts | sort -r); do
		fsfreeze -u "$m" >/dev/null 2>&1
		umount -l "$m"
	done
	udevadm settle --timeout=10 >/dev/null 2>&1
	for pass in 1 2 3; do
		for d in $(dmsetup ls 2>/dev/null | awk '$1 ~ /^vss-.*-view$/ {print $1}') \
			 $(dmsetup ls 2>/dev/null | awk '$1 ~ /^vss-/ {print $1}') \
			 $(dmsetup ls 2>/dev/null | awk '$1 ~ /^vf-/ && $1 !~ /-real$/ {print $1}') \
			 $(dmsetup ls 2>/dev/null | awk '$1 ~ /^vf-.*-real$/ {print $1}'); do
			dmsetup remove "$d" >/dev/null 2>&1
		done
	done
	for l in $(losetup -n -O NAME,BACK-FILE | awk '$2 ~ "^/tmp/verify-tests/" {print $1}'); do
		losetup -d "$l" 2>/dev/null
	done
	for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done
	rm -rf "$W"
}

# vol NAME: a mounted ext4 on dm-linear volume vf-NAME at $W/NAME, with its store
vol() {
	local l s
	truncate -s 64M "$W/$1.img" "$W/$1.store"
	l=$(losetup -f --show "$W/$1.img"); LOOPS+=("$l")
	s=$(losetup -f --show "$W/$1.store"); LOOPS+=("$s")
	dmsetup create "vf-$1" --table "0 $((64 * 2048)) linear $l 0"
	udevadm settle --timeout=10
	mkfs.ext4 -q "/dev/mapper/vf-$1"
	mkdir -p "$W/$1"
	mount "/dev/mapper/vf-$1" "$W/$1"
	"$B/vss-storage" add --for "$W/$1" --on "$s"
}

sqlite_writer() {
	install -m 755 "$SQLITE_WRITER" "$VSS_CONF_DIR/writers.d/sqlite"
	printf '%s\n' "$@" > "$VSS_CONF_DIR/sqlite-writer.list"
}

# stub NAME VERIFY_ANSWER FILE...: a writer with components "db" and "log"
# of these files; VERIFY_ANSWER is its answer to verify ("" : no verify)
stub() {
	local name=$1 answer=$2 files="" f supports=
	shift 2
	for f in "$@"; do files="$files${files:+,}\"$f\""; done
	[ -n "$answer" ] && supports='"supports":["verify"],'
	cat > "$VSS_CONF_DIR/writers.d/$name" <<-EOS
	#!/bin/sh
	while read -r l; do
	  case "\$l" in
	  *'"identify"'*) echo '{"status":"ok","name":"$name",$supports"components":[{"name":"db","files":[$files]},{"name":"log","files":[]}]}' ;;
	  *'"thaw"'*) echo '{"status":"ok","held":true}' ;;
	  *'"verify"'*) echo '$answer' ;;
	  *) echo '{"status":"ok"}' ;;
	  esac
	done
	EOS
	chmod 755 "$VSS_CONF_DIR/writers.d/$name"
}

snap() {
	run --separate-stderr "$B/vss-snapshot" --json "$@"
	echo "$output"; echo "$stderr"
	[ "$status" = 0 ]
	SET=$(jq .set_id <<< "$output")
}

live_sums() {
	(cd "$W" && find a b -xdev -type f ! -name 'lost+found' -print0 2>/dev/null | sort -z | xargs -0 sha256sum)
}

# nothing of the views is left: devices, mounts, loop devices, files, records
no_views_left() {
	! dmsetup ls | grep -q -- '-view' || false
	! awk '{print $2}' /proc/mounts | grep -q "^$W/run" || false
	[ -z "$(losetup -n -O NAME,BACK-FILE | grep "$W/run" || true)" ]
	[ -z "$(find "$W/run" -name '*.cow' -o -name 'verify-*' 2>/dev/null)" ]
	[ -z "$(jq -r '.sets[].shadows[] | (.exposed // empty), (.view.name // empty)' "$VSS_STATE_DIR/catalog.json")" ]
}

no_dmesg_problems() {
	! dmesg | sed -n "/vss-test: mark verify-$BATS_TEST_NUMBER\$/,\$p" |
		grep -E '(^|[^A-Za-z_])(BUG|Oops|WARNING)([^A-Za-z_]|$)|lockdep|KASAN|general protection' || false
}

@test "the SQLite writer: a good set verifies (by set, by id, --json, vss-snapshot --verify); a corrupt database fails, named" {
	vol a
	mkdir -p "$W/a/db"
	sqlite3 "$W/a/db/good.db" 'PRAGMA journal_mode=WAL; CREATE TABLE t(x); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 2000) INSERT INTO t SELECT hex(randomblob(100)) FROM c;' >/dev/null
	sqlite_writer "$W/a/db/good.db"
	snap "$W/a"
	sum=$(sha256sum < "$W/a/db/good.db")
	run --separate-stderr "$B/vss-verify" --set "$SET"
	echo "$output"; echo "$stderr"
	[ "$status" = 0 ]
	[[ "${lines[0]}" == "WRITER"*"COMPONENT"*"RESULT"*"MESSAGE" ]]
	[[ "${lines[1]}" == "sqlite"*"databases"*"verified"*"PRAGMA integrity_check: ok (1 database(s))" ]]
	no_views_left
	id=$(jq -r ".sets[] | select(.set_id == $SET) | .shadows[0].shadow_id" "$VSS_STATE_DIR/catalog.json")
	run --separate-stderr "$B/vss-verify" --json "$id"
	echo "$output"
	[ "$status" = 0 ]
	[ "$(jq -c . <<< "$output")" = "{\"set_id\":$SET,\"components\":[{\"writer\":\"sqlite\",\"component\":\"databases\",\"verified\":true,\"message\":\"PRAGMA integrity_check: ok (1 database(s))\"}]}" ]
	[ "$(sha256sum < "$W/a/db/good.db")" = "$sum" ]
	no_views_left
	run --separate-stderr "$B/vss-snapshot" --verify "$W/a"
	echo "$output"; echo "$stderr"
	[ "$status" = 0 ]
	no_views_left
	# a database whose pages are damaged: the copy holds the damage too
	sqlite3 "$W/a/db/bad.db" 'CREATE TABLE t(x); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 2000) INSERT INTO t SELECT hex(randomblob(100)) FROM c; CREATE INDEX ti ON t(x);'
	dd if=/dev/urandom of="$W/a/db/bad.db" bs=4096 seek=20 count=30 conv=notrunc status=none
	sync
	sqlite_writer "$W/a/db/good.db" "$W/a/db/bad.db"
	run --separate-stderr "$B/vss-snapshot" --json --verify "$W/a"
	echo "$output"; echo "$stderr"
	[ "$status" = 6 ]
	bad=$(jq .set_id <<< "$output")
	[[ "$stderr" == *"set $bad: sqlite/databases: $W/a/db/bad.db: "* ]]
	[[ "$stderr" == *"(the set is kept)"* ]]
	[ "$(jq ".sets[] | select(.set_id == $bad) | .shadows | length" "$VSS_STATE_DIR/catalog.json")" = 1 ]
	run --separate-stderr "$B/vss-verify" --json --set "$bad"
	echo "$output"; echo "$stderr"
	[ "$status" = 6 ]
	[ "$(jq -r '.components[0].verified' <<< "$output")" = false ]
	[[ "$(jq -r '.components[0].message' <<< "$output")" == "$W/a/db/bad.db: "* ]]
	[[ "$(jq -r '.components[0].message' <<< "$output")" != *"good.db"* ]]
	no_views_left
	no_dmesg_problems
}

@test "verified=false, a writer gone from writers.d, a writer without verify: exit 6 with the reasons; no writers: nothing to verify" {
	vol a
	echo x > "$W/a/data"
	stub fails '{"status":"ok","components":[{"name":"db","verified":false,"message":"checksum mismatch in page 7"},{"name":"log","verified":true,"message":"fine"}]}' "$W/a/data"
	stub plain "" "$W/a/data"
	stub gone '{"status":"ok","components":[]}' "$W/a/data"
	snap "$W/a"
	rm "$VSS_CONF_DIR/writers.d/gone"
	run --separate-stderr "$B/vss-verify" --json --set "$SET"
	echo "$output"; echo "$stderr"
	[ "$status" = 6 ]
	r() { jq -r ".components[] | select(.writer == \"$1\" and .component == \"$2\") | \"\(.verified) \(.message)\"" <<< "$output"; }
	[ "$(r fails db)" = "false checksum mismatch in page 7" ]
	[ "$(r fails log)" = "true fine" ]
	[ "$(r plain db)" = "false not verified: writer plain does not support verify" ]
	[ "$(r gone db)" = "false not verified: writer gone is not in writers.d, or did not answer identify" ]
	[ "$(jq '.components | length' <<< "$output")" = 6 ]
	[[ "$stderr" == *"set $SET: fails/db: checksum mismatch in page 7"* ]]
	no_views_left
	# a writer that answers verify with an error
	stub fails '{"status":"error","message":"cannot start the server"}' "$W/a/data"
	run --separate-stderr "$B/vss-verify" --set "$SET"
	echo "$output"; echo "$stderr"
	[ "$status" = 6 ]
	[[ "$output" == *"fails"*"db"*"FAILED"*"not verified: writer fails: verify: vetoed: cannot start the server"* ]]
	no_views_left
	# a set that no writer took part in
	rm "$VSS_CONF_DIR"/writers.d/*
	snap "$W/a"
	run --separate-stderr "$B/vss-verify" --set "$SET"
	echo "$output"; echo "$stderr"
	[ "$status" = 0 ]
	[ "$output" = "Set $SET: no writer took part in it: nothing to verify." ]
	run --separate-stderr "$B/vss-verify" --json --set "$SET"
	[ "$status" = 0 ]
	[ "$(jq -c . <<< "$output")" = "{\"set_id\":$SET,\"components\":[]}" ]
	# bad input
	run "$B/vss-verify" --set 999
	[ "$status" = 4 ]
	[[ "$output" == *"set 999: no such set"* ]]
	run "$B/vss-verify" 999
	[ "$status" = 4 ]
	no_dmesg_problems
}

@test "a set across two volumes: two views, the links between them pointed at the views, the live files untouched" {
	vol a; vol b
	mkdir -p "$W/a/data/tblspc" "$W/b/wal" "$W/b/ts1"
	echo wal-at-snapshot > "$W/b/wal/segment"
	echo ts-at-snapshot > "$W/b/ts1/table"
	echo base > "$W/a/data/base"
	ln -s "$W/b/wal" "$W/a/data/wal"
	ln -s "$W/b/ts1" "$W/a/data/tblspc/1"
	ln -s base "$W/a/data/relative"
	# the stub reads and writes through the links in the views, and says what it saw
	cat > "$VSS_CONF_DIR/writers.d/pg" <<-EOS
	#!/bin/bash
	while read -r l; do
	  case "\$l" in
	  *'"identify"'*) echo '{"status":"ok","name":"pg","supports":["verify"],"components":[{"name":"cluster","files":["$W/a/data","$W/a/data/wal"]}]}' ;;
	  *'"thaw"'*) echo '{"status":"ok","held":true}' ;;
	  *'"verify"'*)
	    v=\$(jq -r '.views["$W/a"]' <<< "\$l")
	    echo "\$l" > "$W/request"
	    seen="wal=\$(readlink "\$v/data/wal"):\$(cat "\$v/data/wal/segment") ts=\$(readlink "\$v/data/tblspc/1"):\$(cat "\$v/data/tblspc/1/table") rel=\$(readlink "\$v/data/relative"):\$(cat "\$v/data/relative")"
	    echo recovered >> "\$v/data/wal/segment"; echo written > "\$v/data/tblspc/1/new"; sync
	    echo "{\"status\":\"ok\",\"components\":[{\"name\":\"cluster\",\"verified\":true,\"message\":\"\$seen\"}]}" ;;
	  *) echo '{"status":"ok"}' ;;
	  esac
	done
	EOS
	chmod 755 "$VSS_CONF_DIR/writers.d/pg"
	sync
	snap "$W/a"
	[ "$(jq '.shadows | length' <<< "$output")" = 2 ]
	ida=$(jq '.shadows[] | select(.volume == "/dev/mapper/vf-a") | .shadow_id' <<< "$output")
	idb=$(jq '.shadows[] | select(.volume == "/dev/mapper/vf-b") | .shadow_id' <<< "$output")
	# the live files change after the instant
	echo wal-later > "$W/b/wal/segment"; echo ts-later > "$W/b/ts1/table"; sync
	before=$(live_sums)
	run --separate-stderr "$B/vss-verify" --json --set "$SET"
	echo "$output"; echo "$stderr"
	[ "$status" = 0 ]
	vb=$W/run/verify-$SET/$idb
	[ "$(jq -r '.components[0].message' <<< "$output")" = "wal=$vb/wal:wal-at-snapshot ts=$vb/ts1:ts-at-snapshot rel=base:base" ]
	# the request mapped both live mounts to their views
	[ "$(jq -c '.views' "$W/request")" = "{\"$W/a\":\"$W/run/verify-$SET/$ida\",\"$W/b\":\"$vb\"}" ]
	[ "$(jq -c '.components' "$W/request")" = '["cluster"]' ]
	# nothing reached the live files, nor the copies
	[ "$(live_sums)" = "$before" ]
	[ "$(cat "$W/b/wal/segment")" = wal-later ]
	[ ! -e "$W/b/ts1/new" ]
	[ "$(readlink "$W/a/data/wal")" = "$W/b/wal" ]
	no_views_left
	# a view left by a verification that was killed is removed first
	run "$B/vss-expose" --writable "$idb" "$vb"
	[ "$status" = 0 ]
	run --separate-stderr "$B/vss-verify" --verbose --set "$SET"
	echo "$output"; echo "$stderr"
	[ "$status" = 0 ]
	[[ "$stderr" == *"shadow copy $idb: a view left at $vb: removed first"* ]]
	[[ "$output" == *"wal=$vb/wal:wal-at-snapshot"* ]]
	no_views_left
	run "$B/vss-expose" "$idb" "$W/ro"
	[ "$status" = 0 ]
	[ "$(cat "$W/ro/wal/segment")" = wal-at-snapshot ]
	[ ! -e "$W/ro/ts1/new" ]
	"$B/vss-unexpose" "$idb"
	no_dmesg_problems
}
