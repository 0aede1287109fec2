#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# vss-expose --writable inside the test VM: a throwaway view over a shadow
# copy of a mounted ext4 (journal replayed on the view) and of a mounted
# xfs takes writes while the copy's device keeps its sha256; vss-list shows
# the copy exposed; vss-delete refuses it; vss-unexpose removes the view's
# device, its loop device and its copy-on-write file; --cow on a device;
# the refusals (unknown id, busy mount point, missing --cow, invalid copy)
# and their exit status.

bats_require_minimum_version 1.5.0

B=$BATS_TEST_DIRNAME/../../build/bin

setup() {
	[ "$(id -u)" = 0 ] || skip "runs as root in the VM (scripts/vm-run)"
	W=/tmp/expose-writable/$BATS_TEST_NUMBER
	rm -rf "$W"; mkdir -p "$W/state" "$W/run" "$W/conf"
	export VSS_STATE_DIR=$W/state VSS_RUN_DIR=$W/run VSS_CONF_DIR=$W/conf
	LOOPS=()
	modprobe dm-vss
	modprobe dm-snapshot
	echo "vss-test: mark expose-writable-$BATS_TEST_NUMBER" > /dev/kmsg
}

teardown() {
	[ -n "${WPID:-}" ] && kill "$WPID" 2>/dev/null
	wait 2>/dev/null
	for m in $(awk '$2 ~ "^/tmp/expose-writable/" {print $2}' /proc/mounts | sort -r); do
		umount -l "$m"
	done
	udevadm settle --timeout=10 >/dev/null 2>&1
	for pass in 1 2 3; do
		for d in $(dmsetup ls 2>/dev/null | awk '$1 ~ /^vss-.*-view$/ {print $1}') \
			 $(dmsetup ls 2>/dev/null | awk '$1 ~ /^vss-/ {print $1}') \
			 $(dmsetup ls 2>/dev/null | awk '$1 ~ /^ew-/ && $1 !~ /-real$/ {print $1}') \
			 $(dmsetup ls 2>/dev/null | awk '$1 ~ /^ew-.*-real$/ {print $1}'); do
			dmsetup remove "$d" >/dev/null 2>&1
		done
	done
	for l in $(losetup -n -O NAME,BACK-FILE | awk '$2 ~ "^/tmp/expose-writable/" {print $1}'); do
		losetup -d "$l" 2>/dev/null
	done
	for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done
	rm -rf "$W"
}

# vol NAME SIZE_MB FS: a dm-linear volume ew-NAME with its store, FS made
# and mounted at $W/NAME
vol() {
	local l s
	truncate -s "$2M" "$W/$1.img"
	truncate -s 64M "$W/$1.store"
	l=$(losetup -f --show "$W/$1.img"); LOOPS+=("$l")
	s=$(losetup -f --show "$W/$1.store"); LOOPS+=("$s")
	dmsetup create "ew-$1" --table "0 $(($2 * 2048)) linear $l 0"
	udevadm settle --timeout=10
	"$B/vss-storage" add --for "/dev/mapper/ew-$1" --on "$s"
	if [ "$3" = xfs ]; then mkfs.xfs -q "/dev/mapper/ew-$1"; else mkfs.ext4 -q "/dev/mapper/ew-$1"; fi
	mkdir -p "$W/$1"
	mount "/dev/mapper/ew-$1" "$W/$1"
}

snap() {
	run "$B/vss-snapshot" --json "$1"
	echo "$output"
	[ "$status" = 0 ]
	ID=$(echo "$output" | jq '.shadows[0].shadow_id')
	DEV=$(echo "$output" | jq -r '.shadows[0].device')
}

no_dmesg_problems() {
	! dmesg | sed -n "/vss-test: mark expose-writable-$BATS_TEST_NUMBER\$/,\$p" |
		grep -E '(^|[^A-Za-z_])(BUG|Oops|WARNING)([^A-Za-z_]|$)|lockdep|KASAN|general protection' || false
}

# the whole round trip on one filesystem
round_trip() {
	local fs=$1 line view cow loop
	vol a 320 "$fs"
	dd if=/dev/urandom of="$W/a/data" bs=64k count=16 status=none
	echo hello > "$W/a/small"
	# a writer in flight: the copy's journal is dirty
	(while :; do dd if=/dev/urandom of="$W/a/churn" bs=64k count=4 conv=fsync status=none; done) &
	WPID=$!
	sleep 1
	snap "$W/a"
	kill $WPID; wait $WPID 2>/dev/null || true; WPID=
	sum_before=$(sha256sum < "$DEV")
	run "$B/vss-expose" --writable --verbose "$ID" "$W/view"
	echo "$output"
	[ "$status" = 0 ]
	[[ "$output" == *"exposed writable at $W/view"* ]]
	view=vss-$ID-view
	line=$(awk -v m="$W/view" '$2 == m' /proc/mounts)
	echo "mount: $line"
	[ "$(readlink -f "$(echo "$line" | awk '{print $1}')")" = "$(readlink -f /dev/mapper/$view)" ]
	[ "$(echo "$line" | awk '{print $3}')" = "$fs" ]
	[[ ",$(echo "$line" | awk '{print $4}')," == *,rw,* ]]
	# the view is dm-snapshot, non-persistent, over the copy's device
	dmsetup table "$view" | tee /dev/stderr | grep -Eq "^0 [0-9]+ snapshot [0-9]+:[0-9]+ [0-9]+:[0-9]+ N 8$"
	[ "$(dmsetup deps -o devname "$view" | grep -o "vss-$ID)")" = "vss-$ID)" ]
	# the copy-on-write file and its loop device
	cow=$(jq -r --argjson id "$ID" '.sets[].shadows[] | select(.shadow_id == $id) | .view.cow' "$VSS_STATE_DIR/catalog.json")
	loop=$(jq -r --argjson id "$ID" '.sets[].shadows[] | select(.shadow_id == $id) | .view.loop' "$VSS_STATE_DIR/catalog.json")
	[ "$cow" = "$W/run/views/vss-$ID-view.cow" ]
	[ -f "$cow" ]
	[ "$(losetup -n -O BACK-FILE "$loop")" = "$cow" ]
	# 10% of 320 MiB is below 1 GiB, and a view never needs more than the volume
	[ "$(stat -c %s "$cow")" = $((320 << 20)) ]
	# the view holds the copy's files, and takes writes
	[ "$(cat "$W/view/small")" = hello ]
	cmp "$W/a/data" "$W/view/data"
	echo written-in-view > "$W/view/small"
	dd if=/dev/urandom of="$W/view/new" bs=1M count=8 conv=fsync status=none
	rm "$W/view/data"
	sync
	[ "$(cat "$W/view/small")" = written-in-view ]
	# the live volume does not see it
	[ "$(cat "$W/a/small")" = hello ]
	[ -e "$W/a/data" ]
	# vss-list: exposed at the view's mount point
	run "$B/vss-list" --noheadings -o shadow_id,exposed,detail
	echo "$output"
	[[ "$output" == *"$W/view"* ]]
	[[ "$output" == *"exposed writable"* ]]
	# vss-delete refuses a copy with a view
	run "$B/vss-delete" --yes "$ID"
	echo "$output"
	[ "$status" = 5 ]
	[[ "$output" == *"exposed at $W/view"* ]]
	# a second exposure, read-only or writable, is refused
	run "$B/vss-expose" "$ID" "$W/ro"
	[ "$status" = 5 ]
	[[ "$output" == *"already exposed writable at $W/view"* ]]
	run "$B/vss-expose" --writable "$ID" "$W/rw2"
	[ "$status" = 5 ]
	# the shadow copy itself did not change
	[ "$(sha256sum < "$DEV")" = "$sum_before" ]
	run "$B/vss-unexpose" "$ID"
	echo "$output"
	[ "$status" = 0 ]
	! awk '{print $2}' /proc/mounts | grep -qx "$W/view" || false
	! dmsetup info "$view" >/dev/null 2>&1 || false
	[ ! -e "$cow" ]
	[ -z "$(losetup -n -O BACK-FILE "$loop" 2>/dev/null)" ]
	[ ! -e "$W/view" ]
	[ "$(jq -r --argjson id "$ID" '.sets[].shadows[] | select(.shadow_id == $id) | (.exposed // "") + (.view.name // "")' \
		"$VSS_STATE_DIR/catalog.json")" = "" ]
	[ "$(sha256sum < "$DEV")" = "$sum_before" ]
	# and a new view starts again from the copy
	run "$B/vss-expose" --writable "$ID" "$W/view"
	[ "$status" = 0 ]
	[ "$(cat "$W/view/small")" = hello ]
	[ ! -e "$W/view/new" ]
	run "$B/vss-unexpose" "$ID"
	[ "$status" = 0 ]
	run "$B/vss-delete" --yes "$ID"
	[ "$status" = 0 ]
	no_dmesg_problems
}

@test "ext4: a writable view takes writes, the journal is replayed on it, the copy keeps its sha256, unexpose removes it all" {
	round_trip ext4
}

@test "xfs: a writable view mounts beside the live filesystem (nouuid) and the copy keeps its sha256" {
	round_trip xfs
}

@test "--cow on a device, --cow-size and [expose] cow_dir, cow_size" {
	vol a 64 ext4
	echo hello > "$W/a/small"
	snap "$W/a"
	truncate -s 32M "$W/cow.img"
	cl=$(losetup -f --show "$W/cow.img"); LOOPS+=("$cl")
	run "$B/vss-expose" --writable --cow "$cl" "$ID" "$W/view"
	echo "$output"
	[ "$status" = 0 ]
	dmsetup deps -o devname "vss-$ID-view" | tee /dev/stderr | grep -q "(${cl#/dev/})"
	echo x > "$W/view/x"; sync
	run "$B/vss-unexpose" "$ID"
	[ "$status" = 0 ]
	# a device given is left as it was: still there, still attached
	[ "$(losetup -n -O BACK-FILE "$cl")" = "$W/cow.img" ]
	# --cow-size sizes the file made
	run "$B/vss-expose" --writable --cow-size 8m "$ID" "$W/view"
	[ "$status" = 0 ]
	[ "$(stat -c %s "$W/run/views/vss-$ID-view.cow")" = $((8 << 20)) ]
	"$B/vss-unexpose" "$ID"
	# vss.conf: another directory, a percentage of the volume
	printf '[expose]\ncow_dir = %s\ncow_size = 50%%\n' "$W/cows" > "$VSS_CONF_DIR/vss.conf"
	run "$B/vss-expose" --writable "$ID" "$W/view"
	echo "$output"
	[ "$status" = 0 ]
	[ "$(stat -c %s "$W/cows/vss-$ID-view.cow")" = $((32 << 20)) ]
	"$B/vss-unexpose" "$ID"
	[ ! -e "$W/cows/vss-$ID-view.cow" ]
	printf '[expose]\ncow_size = 0%%\n' > "$VSS_CONF_DIR/vss.conf"
	run "$B/vss-expose" --writable "$ID" "$W/view"
	[ "$status" = 1 ]
	[[ "$output" == *"cow_size"* ]]
	no_dmesg_problems
}

@test "refusals: unknown id 4, busy mount point 5, missing --cow 4, invalid copy 7; nothing left behind" {
	vol a 64 ext4
	echo hello > "$W/a/small"
	snap "$W/a"
	run "$B/vss-expose" --writable 999 "$W/view"
	echo "$output"
	[ "$status" = 4 ]
	[[ "$output" == *"shadow copy 999: no such shadow copy"* ]]
	# something mounted at the mount point already
	mkdir -p "$W/busy"; mount -t tmpfs none "$W/busy"
	run "$B/vss-expose" --writable "$ID" "$W/busy"
	echo "$output"
	[ "$status" = 5 ]
	[[ "$output" == *"$W/busy: cannot use as a mount point: a filesystem is mounted there already"* ]]
	# a copy-on-write device that does not exist
	run "$B/vss-expose" --writable --cow /dev/no-such-disk "$ID" "$W/view"
	echo "$output"
	[ "$status" = 4 ]
	[[ "$output" == *"/dev/no-such-disk: cannot use for the copy-on-write data: No such file or directory"* ]]
	# nothing was left: no device, no file, no loop device, no record
	! dmsetup info "vss-$ID-view" >/dev/null 2>&1 || false
	[ -z "$(ls "$W/run/views" 2>/dev/null)" ]
	[ -z "$(losetup -n -O NAME,BACK-FILE | grep "$W/run" || true)" ]
	[ "$(jq -r '.sets[].shadows[].exposed // empty' "$VSS_STATE_DIR/catalog.json")" = "" ]
	# an invalid copy (the catalog says so)
	jq '.sets[].shadows[].state = "invalid"' "$VSS_STATE_DIR/catalog.json" > "$W/c.json"
	cp "$W/c.json" "$VSS_STATE_DIR/catalog.json"
	run "$B/vss-expose" --writable "$ID" "$W/view"
	echo "$output"
	[ "$status" = 7 ]
	[[ "$output" == *"it is invalid"* ]]
	! dmsetup info "vss-$ID-view" >/dev/null 2>&1 || false
	# not exposed
	run "$B/vss-unexpose" "$ID"
	[ "$status" = 4 ]
	no_dmesg_problems
}
