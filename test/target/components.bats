#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# A writer's component is copied whole, inside the test VM: a set asked for
# one volume of a component that spans two is completed with the other
# (saying so), or refused naming the component, the file and the volume
# when the other volume cannot be shadow-copied; --exclude-writer and
# --no-writers remain the way out; a refusal leaves nothing frozen.

bats_require_minimum_version 1.5.0

B=$BATS_TEST_DIRNAME/../../build/bin

setup() {
	[ "$(id -u)" = 0 ] || skip "runs as root in the VM (scripts/vm-run)"
	W=/tmp/comp-tests/$BATS_TEST_NUMBER
	rm -rf "$W"; mkdir -p "$W/state" "$W/run" "$W/conf/writers.d"
	export VSS_STATE_DIR=$W/state VSS_RUN_DIR=$W/run VSS_CONF_DIR=$W/conf
	LOOPS=()
	modprobe dm-vss
}

teardown() {
	for m in $(awk '$2 ~ "^/tmp/comp-tests/" {print $2}' /proc/mounts); do
		fsfreeze -u "$m" >/dev/null 2>&1
	done
	for d in $(dmsetup ls 2>/dev/null | awk '$1 ~ /^(cp-|vss-)/ {print $1}'); do
		dmsetup resume "$d" >/dev/null 2>&1
	done
	for m in $(awk '$2 ~ "^/tmp/comp-tests/" {print $2}' /proc/mounts | sort -r); do
		umount -l "$m"
	done
	udevadm settle --timeout=10 >/dev/null 2>&1
	for pass in 1 2 3; do
		for d in $(dmsetup ls 2>/dev/null | awk '$1 ~ /^vss-/ {print $1}') \
			 $(dmsetup ls 2>/dev/null | awk '$1 ~ /^cp-/ && $1 !~ /-real$/ {print $1}') \
			 $(dmsetup ls 2>/dev/null | awk '$1 ~ /^cp-.*-real$/ {print $1}'); do
			dmsetup remove "$d" >/dev/null 2>&1
		done
	done
	for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done
	rm -rf "$W"
}

# vol NAME: a mounted ext4 on a dm-linear volume over a loop device at
# $W/NAME, and a loop device for its store in STORE_NAME
vol() {
	local l s
	truncate -s 64M "$W/$1.img"
	truncate -s 64M "$W/$1.store"
	l=$(losetup -f --show "$W/$1.img"); LOOPS+=("$l")
	s=$(losetup -f --show "$W/$1.store"); LOOPS+=("$s")
	dmsetup create "cp-$1" --table "0 $((64 * 2048)) linear $l 0"
	udevadm settle --timeout=10
	mkfs.ext4 -q "/dev/mapper/cp-$1"
	mkdir -p "$W/$1"
	mount "/dev/mapper/cp-$1" "$W/$1"
	eval "STORE_$1=$s"
}

# writer NAME FILE...: a writer with one component "db" of these files
writer() {
	local name=$1 files="" f
	shift
	for f in "$@"; do files="$files${files:+,}\"$f\""; done
	cat > "$VSS_CONF_DIR/writers.d/$name" <<-EOS
	#!/bin/sh
	while read -r l; do
	  case "\$l" in
	  *'"identify"'*) echo '{"status":"ok","name":"$name","components":[{"name":"db","files":[$files],"restore":"replace-when-stopped"}]}' ;;
	  *'"thaw"'*) echo '{"status":"ok","held":true}' ;;
	  *) echo '{"status":"ok"}' ;;
	  esac
	done
	EOS
	chmod 755 "$VSS_CONF_DIR/writers.d/$name"
}

set_volumes() {
	jq -r ".sets[] | select(.set_id == $1) | .shadows[].name" "$VSS_STATE_DIR/catalog.json" | sort | tr '\n' ' '
}

nothing_left() {
	! dmsetup info -c --noheadings --separator " " -o name,attr | awk '$1 ~ /^cp-/ { print $2 }' | grep -q s || false
	run timeout 10 touch "$W/a/after" "$W/b/after"
	[ "$status" = 0 ]
	! dmsetup ls | grep -q '^vss-' || false
	run jq '.sets | length' "$VSS_STATE_DIR/catalog.json"
	[ "$output" = 0 ]
}

@test "a set asked for the data volume alone is completed with the log volume, and both copies hold one instant" {
	vol a; vol b
	"$B/vss-storage" add --for "$W/a" --on "$STORE_a"
	"$B/vss-storage" add --for "$W/b" --on "$STORE_b"
	echo data-1 > "$W/a/data"; echo log-1 > "$W/b/wal"; sync
	writer pg "$W/a/data" "$W/b/wal"
	run --separate-stderr "$B/vss-snapshot" --json "$W/a"
	echo "$output"; echo "$stderr"
	[ "$status" = 0 ]
	[[ $stderr == *"/dev/mapper/cp-b added to the set: component pg/db has $W/b/wal on it"* ]]
	id=$(jq -r .set_id <<< "$output")
	[ "$(set_volumes "$id")" = "cp-a cp-b " ]
	[ "$(jq '.shadows | length' <<< "$output")" = 2 ]
	# the copies hold what was there at the instant, on both volumes
	echo data-2 > "$W/a/data"; echo log-2 > "$W/b/wal"; sync
	for v in a b; do
		dev=$(jq -r ".shadows[] | select(.volume == \"/dev/mapper/cp-$v\") | .device" <<< "$output")
		mkdir -p "$W/s$v"
		mount -o ro,noload "$dev" "$W/s$v"
	done
	[ "$(cat "$W/sa/data")" = data-1 ]
	[ "$(cat "$W/sb/wal")" = log-1 ]
}

@test "a component on a volume without storage is refused, naming it; --exclude-writer and --no-writers go on" {
	vol a; vol b
	"$B/vss-storage" add --for "$W/a" --on "$STORE_a"
	echo x > "$W/a/data"; echo y > "$W/b/wal"
	writer pg "$W/a/data" "$W/b/wal"
	run --separate-stderr "$B/vss-snapshot" "$W/a"
	echo "$stderr"
	[ "$status" = 6 ]
	[[ $stderr == *"component pg/db has $W/b/wal on /dev/mapper/cp-b, which is not in the set and cannot be shadow-copied"* ]]
	[[ $stderr == *"--exclude-writer pg"* ]]
	nothing_left
	run "$B/vss-snapshot" --exclude-writer pg "$W/a"
	[ "$status" = 0 ]
	run "$B/vss-snapshot" --no-writers "$W/a"
	[ "$status" = 0 ]
}

@test "a component with a file off device-mapper is refused; a component wholly elsewhere leaves the writer out" {
	vol a; vol b
	"$B/vss-storage" add --for "$W/a" --on "$STORE_a"
	mkdir -p "$W/tmpfs"; mount -t tmpfs none "$W/tmpfs"
	echo x > "$W/a/data"; echo y > "$W/tmpfs/wal"; echo z > "$W/b/other"
	writer pg "$W/a/data" "$W/tmpfs/wal"
	run --separate-stderr "$B/vss-snapshot" "$W/a"
	echo "$stderr"
	[ "$status" = 6 ]
	[[ $stderr == *"component pg/db has $W/tmpfs/wal on device (not device-mapper), which is not a device-mapper volume"* ]]
	nothing_left
	# a writer whose files are all off the set is not asked to take part;
	# a listed file that does not exist has no volume and is passed over
	rm "$VSS_CONF_DIR/writers.d/pg"
	writer other "$W/b/other" "$W/tmpfs/wal"
	writer sparse "$W/a/data" "$W/b/missing-wal"
	run --separate-stderr "$B/vss-snapshot" --json "$W/a"
	echo "$stderr"
	[ "$status" = 0 ]
	[ "$(jq '.shadows | length' <<< "$output")" = 1 ]
}
