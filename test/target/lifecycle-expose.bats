#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# vss-expose and vss-unexpose inside the test VM: shadow copies of a mounted
# ext4 and of a mounted xfs, exposed while the volume stays mounted and is
# written, hold exactly the files written before the snapshot (sha256);
# the refusals (already exposed, unknown id, invalid or missing copy, no
# filesystem, busy mount) and their exit status.

bats_require_minimum_version 1.5.0

B=$BATS_TEST_DIRNAME/../../build/bin

setup() {
	[ "$(id -u)" = 0 ] || skip "runs as root in the VM (scripts/vm-run)"
	W=/tmp/lifecycle-expose/$BATS_TEST_NUMBER
	rm -rf "$W"; mkdir -p "$W/state" "$W/run" "$W/conf"
	export VSS_STATE_DIR=$W/state VSS_RUN_DIR=$W/run VSS_CONF_DIR=$W/conf
	LOOPS=()
	modprobe dm-vss
}

teardown() {
	[ -n "${WPID:-}" ] && kill "$WPID" 2>/dev/null
	[ -n "${HPID:-}" ] && kill "$HPID" 2>/dev/null
	wait 2>/dev/null
	for m in $(awk '$2 ~ "^/tmp/lifecycle-expose/" {print $2}' /proc/mounts | sort -r); do
		umount -l "$m"
	done
	udevadm settle --timeout=10 >/dev/null 2>&1
	for d in $(dmsetup ls 2>/dev/null | awk '$1 ~ /^(le-|vss-)/ {print $1}'); do
		dmsetup resume "$d" >/dev/null 2>&1
	done
	for pass in 1 2 3; do
		for d in $(dmsetup ls 2>/dev/null | awk '$1 ~ /^vss-/ {print $1}') \
			 $(dmsetup ls 2>/dev/null | awk '$1 ~ /^le-/ && $1 !~ /-real$/ {print $1}') \
			 $(dmsetup ls 2>/dev/null | awk '$1 ~ /^le-.*-real$/ {print $1}'); do
			dmsetup remove "$d" >/dev/null 2>&1
		done
	done
	for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done
	rm -rf "$W"
}

# vol NAME SIZE_MB: a dm-linear volume le-NAME over a loop device, and its store
vol() {
	local l s
	truncate -s "$2M" "$W/$1.img"
	truncate -s 64M "$W/$1.store"
	l=$(losetup -f --show "$W/$1.img"); LOOPS+=("$l")
	s=$(losetup -f --show "$W/$1.store"); LOOPS+=("$s")
	dmsetup create "le-$1" --table "0 $(($2 * 2048)) linear $l 0"
	udevadm settle --timeout=10
	"$B/vss-storage" add --for "/dev/mapper/le-$1" --on "$s"
}

# content DIR: files of several sizes, and their sha256 manifest in $W/before.sha
content() {
	mkdir -p "$1/d1/d2"
	dd if=/dev/urandom of="$1/big" bs=1M count=8 status=none
	dd if=/dev/urandom of="$1/d1/mid" bs=64k count=5 status=none
	for i in $(seq 1 40); do head -c $((i * 1000)) /dev/urandom > "$1/d1/d2/f$i"; done
	echo hello > "$1/small"
	sync
	(cd "$1" && find . -type f ! -name 'churn*' -print0 | sort -z | xargs -0 sha256sum) > "$W/before.sha"
}

# A writer that keeps the volume busy (files outside the manifest).
churn() {
	local n=0
	while :; do
		n=$((n + 1))
		dd if=/dev/urandom of="$1/churn$((n % 4))" bs=64k count=4 conv=fsync status=none
	done
}

snap() {
	run "$B/vss-snapshot" --json "$1"
	echo "$output"
	[ "$status" = 0 ]
	ID=$(echo "$output" | jq '.shadows[0].shadow_id')
	DEV=$(echo "$output" | jq -r '.shadows[0].device')
}

# expose_and_verify FS MOUNT_OPTION...: the whole round trip on one filesystem
expose_and_verify() {
	local fs=$1 opt
	shift
	# mkfs.xfs wants 300 MiB at least
	vol a 320
	if [ "$fs" = xfs ]; then mkfs.xfs -q /dev/mapper/le-a; else mkfs.ext4 -q /dev/mapper/le-a; fi
	mkdir -p "$W/a"
	mount /dev/mapper/le-a "$W/a"
	content "$W/a"
	churn "$W/a" & WPID=$!
	sleep 1
	snap "$W/a"
	# the volume changes after the snapshot
	echo changed > "$W/a/small"
	rm "$W/a/d1/mid"
	dd if=/dev/urandom of="$W/a/big" bs=1M count=2 seek=3 conv=notrunc,fsync status=none
	sleep 1
	# exposed while the volume is mounted and written; the mount point is created
	run "$B/vss-expose" --verbose "$ID" "$W/exposed/a"
	echo "$output"
	[ "$status" = 0 ]
	[[ "$output" == *"$W/exposed/a: mount point created"* ]]
	[[ "$output" == *"exposed read-only at $W/exposed/a"* ]]
	line=$(awk -v m="$W/exposed/a" '$2 == m' /proc/mounts)
	echo "mount: $line"
	[ "$(echo "$line" | awk '{print $1}')" = "$DEV" ] || [ "$(readlink -f "$(echo "$line" | awk '{print $1}')")" = "$(readlink -f "$DEV")" ]
	[ "$(echo "$line" | awk '{print $3}')" = "$fs" ]
	[[ ",$(echo "$line" | awk '{print $4}')," == *,ro,* ]]
	for opt in "$@"; do
		[[ ",$(echo "$line" | awk '{print $4}')," == *,$opt,* ]]
	done
	(cd "$W/exposed/a" && sha256sum --quiet -c "$W/before.sha")
	[ "$(cat "$W/a/small")" = changed ]
	[ ! -e "$W/a/d1/mid" ]
	# the catalog knows where it is exposed
	[ "$(jq -r --argjson id "$ID" '.sets[].shadows[] | select(.shadow_id == $id) | .exposed' \
		"$VSS_STATE_DIR/catalog.json")" = "$W/exposed/a" ]
	# exposed twice: 5, naming the mount point
	run "$B/vss-expose" "$ID" "$W/elsewhere"
	echo "$output"
	[ "$status" = 5 ]
	[[ "$output" == *"already exposed at $W/exposed/a"* ]]
	[ ! -e "$W/elsewhere" ]
	# a write to the origin still does not reach the exposed copy
	echo later > "$W/a/small"; sync
	[ "$(cat "$W/exposed/a/small")" = hello ]
	kill $WPID; wait $WPID 2>/dev/null || true; WPID=
	run "$B/vss-unexpose" "$ID"
	echo "$output"
	[ "$status" = 0 ]
	! awk '{print $2}' /proc/mounts | grep -qx "$W/exposed/a" || false
	[ ! -e "$W/exposed/a" ]
	[ -z "$(jq -r --argjson id "$ID" '.sets[].shadows[] | select(.shadow_id == $id) | .exposed // empty' \
		"$VSS_STATE_DIR/catalog.json")" ]
	# the copy is intact after it was mounted: mount it again, compare again
	run "$B/vss-expose" "$ID" "$W/again"
	[ "$status" = 0 ]
	(cd "$W/again" && sha256sum --quiet -c "$W/before.sha")
	"$B/vss-unexpose" "$ID"
}

@test "ext4: exposed while the volume is mounted and written; files as before the snapshot" {
	expose_and_verify ext4
}

@test "xfs: exposed with norecovery,nouuid while the original is mounted; files as before" {
	expose_and_verify xfs norecovery nouuid
}

@test "expose without a mount point prints the device and records nothing" {
	vol a 64
	mkfs.ext4 -q /dev/mapper/le-a
	snap /dev/mapper/le-a
	run --separate-stderr "$B/vss-expose" "$ID"
	[ "$status" = 0 ]
	[ "$output" = "$DEV" ]
	[ -z "$(jq -r '.sets[].shadows[].exposed // empty' "$VSS_STATE_DIR/catalog.json")" ]
	run "$B/vss-expose" --json "$ID"
	[ "$status" = 0 ]
	[ "$(echo "$output" | jq -r .device)" = "$DEV" ]
	[ "$(echo "$output" | jq .mountpoint)" = null ]
	[ "$(echo "$output" | jq .shadow_id)" = "$ID" ]
}

@test "refusals: unknown id 4, no filesystem 4, missing device 4, invalid copy 7, not exposed 4" {
	vol a 64
	dd if=/dev/urandom of=/dev/mapper/le-a bs=1M count=4 conv=fsync status=none
	snap /dev/mapper/le-a
	run "$B/vss-expose" 999 "$W/m"
	echo "$output"
	[ "$status" = 4 ]
	[[ "$output" == *"shadow copy 999: no such shadow copy"* ]]
	run "$B/vss-expose" "$ID" "$W/m"
	echo "$output"
	[ "$status" = 4 ]
	[[ "$output" == *"no filesystem found on $DEV"* ]]
	[ ! -e "$W/m" ]
	run "$B/vss-unexpose" "$ID"
	echo "$output"
	[ "$status" = 4 ]
	[[ "$output" == *"not exposed"* ]]
	run "$B/vss-expose" abc
	[ "$status" = 1 ]
	# the device gone (as after a reboot before vss-activate)
	dmsetup remove "${DEV#/dev/mapper/}"
	run "$B/vss-expose" "$ID" "$W/m"
	echo "$output"
	[ "$status" = 4 ]
	[[ "$output" == *"$DEV is missing (vss-activate brings it back)"* ]]
	# a copy the catalog holds invalid
	jq '.sets[].shadows[].state = "invalid"' "$VSS_STATE_DIR/catalog.json" > "$W/c.json"
	mv "$W/c.json" "$VSS_STATE_DIR/catalog.json"
	run "$B/vss-expose" "$ID" "$W/m"
	echo "$output"
	[ "$status" = 7 ]
	[[ "$output" == *"it is invalid"* ]]
}

@test "a copy dropped by the kernel when its store overflowed is refused: 7" {
	truncate -s 64M "$W/a.img"; truncate -s 1M "$W/a.store"
	l=$(losetup -f --show "$W/a.img"); LOOPS+=("$l")
	s=$(losetup -f --show "$W/a.store"); LOOPS+=("$s")
	dmsetup create le-a --table "0 $((64 * 2048)) linear $l 0"
	udevadm settle --timeout=10
	"$B/vss-storage" add --for /dev/mapper/le-a --on "$s"
	mkfs.ext4 -q /dev/mapper/le-a
	snap /dev/mapper/le-a
	# far more changes than the 1 MiB store holds: the copy is dropped
	dd if=/dev/urandom of=/dev/mapper/le-a bs=1M count=8 conv=fsync status=none
	dmsetup status "${DEV#/dev/mapper/}"
	dmsetup status "${DEV#/dev/mapper/}" | grep -q ' invalid '
	run "$B/vss-expose" "$ID" "$W/m"
	echo "$output"
	[ "$status" = 7 ]
	[[ "$output" == *"the kernel reports it invalid"* ]]
}

@test "a busy exposed copy: unexpose exits 5 naming what to do; --force detaches it" {
	vol a 64
	mkfs.ext4 -q /dev/mapper/le-a
	mkdir -p "$W/a"; mount /dev/mapper/le-a "$W/a"; content "$W/a"
	snap "$W/a"
	mkdir -p "$W/m"
	run "$B/vss-expose" "$ID" "$W/m"
	[ "$status" = 0 ]
	(cd "$W/m" && exec sleep 60) & HPID=$!
	sleep 0.5
	run "$B/vss-unexpose" "$ID"
	echo "$output"
	[ "$status" = 5 ]
	[[ "$output" == *"$W/m: cannot unmount: busy"* ]]
	[[ "$output" == *"--force"* ]]
	awk '{print $2}' /proc/mounts | grep -qx "$W/m"
	run "$B/vss-unexpose" --force "$ID"
	echo "$output"
	[ "$status" = 0 ]
	! awk '{print $2}' /proc/mounts | grep -qx "$W/m" || false
	# a mount point that existed stays
	[ -d "$W/m" ]
	kill $HPID; wait $HPID 2>/dev/null || true; HPID=
	# a record whose mount went away by hand is cleared, not an error
	run "$B/vss-expose" "$ID" "$W/m"
	[ "$status" = 0 ]
	umount "$W/m"
	run "$B/vss-unexpose" "$ID"
	echo "$output"
	[ "$status" = 0 ]
	[[ "$output" == *"no longer mounted at $W/m: record cleared"* ]]
}
