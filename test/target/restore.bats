#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# vss-restore inside the test VM: the SQLite writer's component restored in
# place after its databases were changed and deleted (checksums equal those
# at the snapshot, owner and mode kept, a file the copy lacks removed, the
# copies unexposed, nothing left beside the files); --to DIR; a pre-restore
# refusal changes nothing; a restore killed at each step
# (VSS_TEST_RESTORE_STOP) and then recovered leaves the old files intact or
# the new ones complete, never a mix; bad input.

bats_require_minimum_version 1.5.0

B=$BATS_TEST_DIRNAME/../../build/bin
WRITER=$BATS_TEST_DIRNAME/../../scripts/writers/sqlite-writer

setup() {
	[ "$(id -u)" = 0 ] || skip "runs as root in the VM (scripts/vm-run)"
	W=/tmp/restore-tests/$BATS_TEST_NUMBER
	rm -rf "$W"; mkdir -p "$W/state" "$W/run" "$W/conf/writers.d"
	export VSS_STATE_DIR=$W/state VSS_RUN_DIR=$W/run VSS_CONF_DIR=$W/conf
	LOOPS=()
	HOLDER=
	modprobe dm-vss
}

teardown() {
	[ -n "$HOLDER" ] && kill "$HOLDER" 2>/dev/null
	wait 2>/dev/null
	for m in $(awk '$2 ~ "^/tmp/restore-tests/" {print $2}' /proc/mounts | sort -r); do
		umount -l "$m"
	done
	udevadm settle --timeout=10 >/dev/null 2>&1
	for pass in 1 2 3; do
		for d in $(dmsetup ls 2>/dev/null | awk '$1 ~ /^vss-/ {print $1}') \
			 $(dmsetup ls 2>/dev/null | awk '$1 ~ /^rs-/ && $1 !~ /-real$/ {print $1}') \
			 $(dmsetup ls 2>/dev/null | awk '$1 ~ /^rs-.*-real$/ {print $1}'); do
			dmsetup remove "$d" >/dev/null 2>&1
		done
	done
	for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done
	rm -rf "$W"
}

# A mounted ext4 on dm volume rs-a with shadow copy storage, the SQLite
# writer listing two databases on it, $DB1 and $DB2 (owner 1234:5678, mode
# 0640), and a shadow copy of it: $ID; $SUM1 and $SUM2 their sha256 then.
prepare() {
	local l s
	truncate -s 64M "$W/a.img" "$W/a.store"
	l=$(losetup -f --show "$W/a.img"); LOOPS+=("$l")
	s=$(losetup -f --show "$W/a.store"); LOOPS+=("$s")
	dmsetup create rs-a --table "0 $((64 * 2048)) linear $l 0"
	udevadm settle --timeout=10
	mkfs.ext4 -q /dev/mapper/rs-a
	mkdir -p "$W/a"
	mount /dev/mapper/rs-a "$W/a"
	"$B/vss-storage" add --for "$W/a" --on "$s"
	mkdir -p "$W/a/app"
	DB1=$W/a/app/one.db DB2=$W/a/app/two.db
	sqlite3 "$DB1" 'CREATE TABLE t(x); INSERT INTO t VALUES (1), (2), (3);'
	sqlite3 "$DB2" 'CREATE TABLE u(y); INSERT INTO u VALUES (10);'
	chown 1234:5678 "$DB1" "$DB2"
	chmod 0640 "$DB1" "$DB2"
	printf '%s\n' "$DB1" "$DB2" > "$VSS_CONF_DIR/sqlite-writer.list"
	install -m 755 "$WRITER" "$VSS_CONF_DIR/writers.d/sqlite"
	SUM1=$(sha256sum < "$DB1") SUM2=$(sha256sum < "$DB2")
	run --separate-stderr "$B/vss-snapshot" --json "$W/a"
	echo "$output $stderr"
	[ "$status" = 0 ]
	ID=$(jq '.shadows[0].shadow_id' <<< "$output")
	[ "$(jq -r '.sets[0].writers[0].metadata.components[0].name' "$VSS_STATE_DIR/catalog.json")" = databases ]
}

# change: both databases changed after the snapshot; $NEW1 and $NEW2 their sums
change() {
	sqlite3 "$DB1" 'INSERT INTO t VALUES (4); DELETE FROM t WHERE x = 1;'
	sqlite3 "$DB2" 'DROP TABLE u; CREATE TABLE v(z);'
	NEW1=$(sha256sum < "$DB1") NEW2=$(sha256sum < "$DB2")
	[ "$NEW1" != "$SUM1" ] && [ "$NEW2" != "$SUM2" ]
}

# nothing_left: no staging copy or replaced file beside the databases, no
# journal, no copy exposed or mounted by the restore
nothing_left() {
	run find "$W/a" -name '.vss-restore-*' -o -name '*.vss-old-*'
	[ -z "$output" ] || { echo "left: $output"; return 1; }
	run ls "$VSS_STATE_DIR"
	[[ $output != *journal* ]] || { echo "journal left: $output"; return 1; }
	! grep -q " $VSS_RUN_DIR/" /proc/mounts || { grep " $VSS_RUN_DIR/" /proc/mounts; return 1; }
	[ "$(jq '[.sets[].shadows[] | select(.exposed != null and .exposed != "")] | length' \
		"$VSS_STATE_DIR/catalog.json")" = 0 ]
}

@test "in place: the databases changed and deleted come back as at the snapshot, with owner and mode" {
	prepare
	change
	rm "$DB1"
	echo stray > "$DB1-wal"		# not in the copy: removed by the restore
	run --separate-stderr "$B/vss-restore" "$ID" --component sqlite/databases --yes --json
	echo "$output"; echo "$stderr"
	[ "$status" = 0 ]
	[ "$(sha256sum < "$DB1")" = "$SUM1" ]
	[ "$(sha256sum < "$DB2")" = "$SUM2" ]
	[ ! -e "$DB1-wal" ]
	[ "$(stat -c '%u:%g %a' "$DB1")" = "1234:5678 640" ]
	[ "$(sqlite3 "$DB1" 'SELECT group_concat(x) FROM t;')" = "1,2,3" ]
	[ "$(sqlite3 "$DB2" 'SELECT y FROM u;')" = 10 ]
	[ "$(jq -r '.restored | join(" ")' <<< "$output")" = "$DB1 $DB2" ]
	[ "$(jq -r '.removed | join(" ")' <<< "$output")" = "$DB1-wal" ]
	[ "$(jq -r '[.writer, .component, .to, .pre_restore, .post_restore] | join(" ")' \
		<<< "$output")" = "sqlite databases  true true" ]
	[ "$(jq .shadow_id <<< "$output")" = "$ID" ]
	nothing_left
	# the copy itself is unchanged: a second restore gives the same
	change
	run "$B/vss-restore" --yes -q "$ID" -c sqlite/databases
	[ "$status" = 0 ]
	[ "$(sha256sum < "$DB1")" = "$SUM1" ]
}

@test "--to DIR: the files under DIR with their paths, the live ones untouched, no writer event" {
	prepare
	change
	run --separate-stderr "$B/vss-restore" "$ID" --component sqlite/databases --to "$W/out" --json < /dev/null
	echo "$output"; echo "$stderr"
	[ "$status" = 0 ]
	[ "$(sha256sum < "$W/out$DB1")" = "$SUM1" ]
	[ "$(sha256sum < "$W/out$DB2")" = "$SUM2" ]
	[ "$(stat -c '%u:%g %a' "$W/out$DB1")" = "1234:5678 640" ]
	[ "$(sha256sum < "$DB1")" = "$NEW1" ]
	[ "$(jq -r '[.to, .pre_restore, .post_restore] | join(" ")' <<< "$output")" = "$W/out false false" ]
	nothing_left
	# DIR must be empty or new
	run --separate-stderr "$B/vss-restore" "$ID" --component sqlite/databases --to "$W/out"
	[ "$status" = 5 ]
	[[ $stderr == *"$W/out: cannot restore to it: not empty"* ]]
	nothing_left
}

@test "a pre-restore refusal changes nothing: the writer, the event and the reason named, exit 6" {
	prepare
	change
	sleep 600 < "$DB1" &
	HOLDER=$!
	run --separate-stderr "$B/vss-restore" "$ID" --component sqlite/databases --yes
	echo "$stderr"
	[ "$status" = 6 ]
	[[ $stderr == *"writer sqlite: pre-restore: vetoed: $DB1 open by process $HOLDER: stop the application first"* ]]
	[[ $stderr == *"nothing changed"* ]]
	[ "$(sha256sum < "$DB1")" = "$NEW1" ]
	[ "$(sha256sum < "$DB2")" = "$NEW2" ]
	nothing_left
	kill "$HOLDER"; wait "$HOLDER" 2>/dev/null || true; HOLDER=
	run "$B/vss-restore" "$ID" --component sqlite/databases --yes
	[ "$status" = 0 ]
	[ "$(sha256sum < "$DB1")" = "$SUM1" ]
}

@test "killed at each step, then recovered: the old files intact or the new ones complete, never a mix" {
	prepare
	change
	cp -a "$DB1" "$W/changed1"; cp -a "$DB2" "$W/changed2"
	local step want
	for step in pre-restore copy staged swap-old swap-new swapped cleanup post-restore; do
		cp -a "$W/changed1" "$DB1"; cp -a "$W/changed2" "$DB2"
		run --separate-stderr env VSS_TEST_RESTORE_STOP=$step \
			"$B/vss-restore" "$ID" --component sqlite/databases --yes
		echo "$step: $status $stderr"
		[ "$status" = 137 ]
		[[ $stderr == *"killed at $step by VSS_TEST_RESTORE_STOP"* ]]
		[ -e "$VSS_STATE_DIR/restore-$ID.journal" ]
		run --separate-stderr "$B/vss-restore" --recover
		echo "recover after $step: $status $output $stderr"
		[ "$status" = 0 ]
		[ "$output" = "1 interrupted restore recovered." ]
		case $step in
		pre-restore | copy) want="$NEW1 $NEW2"
			[[ $stderr == *"undone, the files are as they were"* ]] ;;
		*) want="$SUM1 $SUM2" ;;
		esac
		[ "$(sha256sum < "$DB1") $(sha256sum < "$DB2")" = "$want" ]
		[ "$(stat -c '%u:%g %a' "$DB1")" = "1234:5678 640" ]
		nothing_left
	done
	# the next restore recovers an interrupted one before its own work
	cp -a "$W/changed1" "$DB1"; cp -a "$W/changed2" "$DB2"
	run env VSS_TEST_RESTORE_STOP=swap-old "$B/vss-restore" "$ID" -c sqlite/databases --yes
	[ "$status" = 137 ]
	[ ! -e "$DB1" ]			# the moment the tests stopped it at
	run --separate-stderr "$B/vss-restore" "$ID" -c sqlite/databases --yes --to "$W/out"
	[ "$status" = 0 ]
	[[ $stderr == *"finished, the files are restored"* ]]
	[ "$(sha256sum < "$DB1") $(sha256sum < "$DB2")" = "$SUM1 $SUM2" ]
	nothing_left
}

@test "bad input: unknown id, unknown component, no confirmation: exit status and message, nothing changed" {
	prepare
	change
	run --separate-stderr "$B/vss-restore" 999 --component sqlite/databases --yes
	[ "$status" = 4 ]
	[ "$stderr" = "vss-restore: shadow copy 999: no such shadow copy (see vss-list)" ]
	run --separate-stderr "$B/vss-restore" "$ID" --component sqlite/nothing --yes
	[ "$status" = 4 ]
	[ "$stderr" = "vss-restore: sqlite/nothing: no such component in the set of shadow copy $ID (its components: sqlite/databases)" ]
	run --separate-stderr "$B/vss-restore" "$ID" --component sqlite --yes
	[ "$status" = 1 ]
	run --separate-stderr "$B/vss-restore" "$ID" --component sqlite/databases < /dev/null
	[ "$status" = 1 ]
	[[ $stderr == *"nothing restored: needs confirmation and standard input is not a terminal (add --yes)"* ]]
	[ "$(sha256sum < "$DB1") $(sha256sum < "$DB2")" = "$NEW1 $NEW2" ]
	nothing_left
}
