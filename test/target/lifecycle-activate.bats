#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# vss-activate inside the test VM: a simulated reboot (every dm device
# removed, the backing loop devices and the catalog kept, the plain volume
# table recreated as the boot would) brings back the vss-origin over its
# -real device and every shadow copy the store still holds, with the
# content each had when it was taken (sha256); a copy gone from the store
# is marked invalid; a volume that is missing is named, exit 4, and the
# rest is done; a second run changes nothing; a new snapshot works.

bats_require_minimum_version 1.5.0

B=$BATS_TEST_DIRNAME/../../build/bin

setup() {
	[ "$(id -u)" = 0 ] || skip "runs as root in the VM (scripts/vm-run)"
	W=/tmp/lifecycle-activate/$BATS_TEST_NUMBER
	rm -rf "$W"; mkdir -p "$W/state" "$W/run" "$W/conf"
	export VSS_STATE_DIR=$W/state VSS_RUN_DIR=$W/run VSS_CONF_DIR=$W/conf
	LOOPS=()
	modprobe dm-vss
}

teardown() {
	for m in $(awk '$2 ~ "^/tmp/lifecycle-activate/" {print $2}' /proc/mounts | sort -r); do
		umount -l "$m"
	done
	udevadm settle --timeout=10 >/dev/null 2>&1
	for d in $(dmsetup ls 2>/dev/null | awk '$1 ~ /^(la-|vss-)/ {print $1}'); do
		dmsetup resume "$d" >/dev/null 2>&1
	done
	remove_all_dm
	for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done
	rm -rf "$W"
}

# Every device-mapper device of the test: shadow copies, origins, -real.
remove_all_dm() {
	local pass d
	udevadm settle --timeout=10 >/dev/null 2>&1
	for pass in 1 2 3; do
		for d in $(dmsetup ls 2>/dev/null | awk '$1 ~ /^vss-/ {print $1}') \
			 $(dmsetup ls 2>/dev/null | awk '$1 ~ /^la-/ && $1 !~ /-real$/ {print $1}') \
			 $(dmsetup ls 2>/dev/null | awk '$1 ~ /^la-.*-real$/ {print $1}'); do
			dmsetup remove "$d" >/dev/null 2>&1
		done
	done
	! dmsetup ls | grep -Eq '^(vss-|la-)' || false
}

# vol NAME SIZE_MB: a dm-linear volume la-NAME over a loop device, and its store
vol() {
	local l s
	truncate -s "$2M" "$W/$1.img"
	truncate -s 64M "$W/$1.store"
	l=$(losetup -f --show "$W/$1.img"); LOOPS+=("$l")
	s=$(losetup -f --show "$W/$1.store"); LOOPS+=("$s")
	eval "LOOP_$1=$l SIZE_$1=$(($2 * 2048))"
	base_table "$1"
	"$B/vss-storage" add --for "/dev/mapper/la-$1" --on "$s"
}

# The volume's own table, as LVM (or a boot script) creates it at boot.
base_table() {
	local l s
	eval "l=\$LOOP_$1 s=\$SIZE_$1"
	dmsetup create "la-$1" --table "0 $s linear $l 0"
	udevadm settle --timeout=10
}

# snap VOL: a shadow copy; ID, DEV; the copy's sha256 at once in SUM_<ID>
snap() {
	run "$B/vss-snapshot" --json "$1"
	echo "$output"
	[ "$status" = 0 ]
	ID=$(echo "$output" | jq '.shadows[0].shadow_id')
	DEV=$(echo "$output" | jq -r '.shadows[0].device')
	eval "SUM_$ID=$(sha256sum < "$DEV" | cut -d' ' -f1)"
}

state_of() {
	jq -r --argjson id "$1" '.sets[].shadows[] | select(.shadow_id == $id) | .state' \
		"$VSS_STATE_DIR/catalog.json"
}

reboot_sim() {
	for m in $(awk '$2 ~ "^/tmp/lifecycle-activate/" {print $2}' /proc/mounts | sort -r); do
		umount "$m"
	done
	remove_all_dm
}

@test "after a simulated reboot the origin and every copy come back with their content" {
	vol a 128
	mkfs.ext4 -q /dev/mapper/la-a
	mkdir -p "$W/a"; mount /dev/mapper/la-a "$W/a"
	dd if=/dev/urandom of="$W/a/f" bs=1M count=6 status=none; echo one > "$W/a/v"; sync
	snap "$W/a"; ID1=$ID
	dd if=/dev/urandom of="$W/a/f" bs=1M count=3 conv=notrunc status=none; echo two > "$W/a/v"; sync
	snap "$W/a"; ID2=$ID
	echo three > "$W/a/v"; dd if=/dev/urandom of="$W/a/g" bs=1M count=2 status=none; sync
	snap "$W/a"; ID3=$ID
	# copy 3 disappears from the store behind the catalog's back
	dmsetup message la-a 0 delete "$ID3"
	dd if=/dev/urandom of="$W/a/f" bs=1M count=1 seek=4 conv=notrunc status=none; sync
	(cd "$W/a" && sha256sum f g v) > "$W/now.sha"
	umount "$W/a"
	vol_sum=$(sha256sum < /dev/mapper/la-a | cut -d' ' -f1)
	[ "$(eval echo \$SUM_$ID1)" != "$(eval echo \$SUM_$ID2)" ]

	reboot_sim
	base_table a
	# a dry run says what it would do and does nothing
	run "$B/vss-activate" --dry-run
	echo "$output"
	[ "$status" = 0 ]
	[[ "$output" == *"/dev/mapper/la-a: would create la-a-real"* ]]
	[[ "$output" == *"would create /dev/mapper/vss-$ID1"* ]]
	dmsetup table la-a | grep -q ' linear '
	! dmsetup info la-a-real >/dev/null 2>&1 || false
	! dmsetup ls | grep -q '^vss-' || false

	run "$B/vss-activate"
	echo "$output"
	[ "$status" = 0 ]
	[[ "$output" == *"/dev/mapper/la-a: vss-origin loaded over /dev/mapper/la-a-real"* ]]
	[[ "$output" == *"shadow copy $ID1: /dev/mapper/vss-$ID1 activated"* ]]
	[[ "$output" == *"shadow copy $ID3: gone from its store: marked invalid"* ]]
	dmsetup table la-a | grep -q ' vss-origin '
	dmsetup table la-a-real | grep -q ' linear '
	for id in $ID1 $ID2; do
		dmsetup status "vss-$id" | grep -q " $id valid "
		[ "$(sha256sum < "/dev/mapper/vss-$id" | cut -d' ' -f1)" = "$(eval echo \$SUM_$id)" ]
		[ "$(state_of "$id")" = created ]
	done
	! dmsetup info "vss-$ID3" >/dev/null 2>&1 || false
	[ "$(state_of "$ID3")" = invalid ]
	# the volume reads as before the reboot, through its origin
	[ "$(sha256sum < /dev/mapper/la-a | cut -d' ' -f1)" = "$vol_sum" ]
	mount /dev/mapper/la-a "$W/a"
	(cd "$W/a" && sha256sum --quiet -c "$W/now.sha")

	# again: nothing changes, exit 0
	dmsetup table > "$W/tables.1"
	cp "$VSS_STATE_DIR/catalog.json" "$W/catalog.1"
	run "$B/vss-activate"
	echo "$output"
	[ "$status" = 0 ]
	[[ "$output" == *"(1 already), 0 shadow copies activated (2 already), 0 marked invalid, 0 not brought back"* ]]
	dmsetup table > "$W/tables.2"
	diff "$W/tables.1" "$W/tables.2"
	diff "$W/catalog.1" "$VSS_STATE_DIR/catalog.json"

	# copies still hold their content after the volume is written, and a new snapshot works
	echo four > "$W/a/v"; sync
	snap "$W/a"; ID4=$ID
	echo five > "$W/a/v"; sync
	for id in $ID1 $ID2; do
		[ "$(sha256sum < "/dev/mapper/vss-$id" | cut -d' ' -f1)" = "$(eval echo \$SUM_$id)" ]
	done
	mkdir -p "$W/s4"; mount -o ro,noload "/dev/mapper/vss-$ID4" "$W/s4"
	[ "$(cat "$W/s4/v")" = four ]
	umount "$W/s4"
	mkdir -p "$W/s1"; mount -o ro,noload "/dev/mapper/vss-$ID1" "$W/s1"
	[ "$(cat "$W/s1/v")" = one ]
	umount "$W/s1"
}

@test "a missing volume is named, exit 4, and the other volume comes back; then it does too" {
	vol a 64; vol b 320	# mkfs.xfs wants 300 MiB at least
	mkfs.ext4 -q /dev/mapper/la-a; mkfs.xfs -q /dev/mapper/la-b
	mkdir -p "$W/a" "$W/b"
	mount /dev/mapper/la-a "$W/a"; mount /dev/mapper/la-b "$W/b"
	echo a-before > "$W/a/v"; echo b-before > "$W/b/v"; sync
	run "$B/vss-snapshot" --json "$W/a" "$W/b"
	[ "$status" = 0 ]
	IDA=$(echo "$output" | jq '.shadows[0].shadow_id')
	IDB=$(echo "$output" | jq '.shadows[1].shadow_id')
	sa=$(sha256sum < "/dev/mapper/vss-$IDA" | cut -d' ' -f1)
	sb=$(sha256sum < "/dev/mapper/vss-$IDB" | cut -d' ' -f1)
	echo a-after > "$W/a/v"; echo b-after > "$W/b/v"; sync
	# an exposed copy: the exposure does not survive the reboot
	"$B/vss-expose" "$IDA" "$W/ea"
	reboot_sim
	base_table a		# la-b's volume is not there (its disk missing)
	run "$B/vss-activate"
	echo "$output"
	[ "$status" = 4 ]
	[[ "$output" == *"/dev/mapper/la-b: cannot bring back: the volume is not active"* ]]
	[[ "$output" == *"shadow copy $IDB: cannot bring back: its volume /dev/mapper/la-b"* ]]
	[[ "$output" == *"shadow copy $IDA: no longer mounted at $W/ea: record cleared"* ]]
	dmsetup table la-a | grep -q ' vss-origin '
	[ "$(sha256sum < "/dev/mapper/vss-$IDA" | cut -d' ' -f1)" = "$sa" ]
	[ "$(state_of "$IDB")" != invalid ]
	[ -z "$(jq -r '.sets[].shadows[].exposed // empty' "$VSS_STATE_DIR/catalog.json")" ]
	# the disk is back: a second run brings the rest, leaves the first alone
	base_table b
	run "$B/vss-activate"
	echo "$output"
	[ "$status" = 0 ]
	[[ "$output" == *"/dev/mapper/la-b: vss-origin loaded"* ]]
	[[ "$output" != *"la-a: vss-origin loaded"* ]]
	[ "$(sha256sum < "/dev/mapper/vss-$IDB" | cut -d' ' -f1)" = "$sb" ]
	run "$B/vss-expose" "$IDB" "$W/eb"
	[ "$status" = 0 ]
	[ "$(cat "$W/eb/v")" = b-before ]
	"$B/vss-unexpose" "$IDB"
	mount /dev/mapper/la-b "$W/b"
	[ "$(cat "$W/b/v")" = b-after ]
}

@test "the store gone: named, exit 4, and the volume left as the boot made it" {
	vol a 64
	mkfs.ext4 -q /dev/mapper/la-a
	snap /dev/mapper/la-a
	store=$(jq -r '.storage[0].store' "$VSS_STATE_DIR/catalog.json")
	reboot_sim
	base_table a
	losetup -d "$store"
	run "$B/vss-activate"
	echo "$output"
	[ "$status" = 4 ]
	# a detached loop device keeps its node, with no size
	[[ "$output" == *"/dev/mapper/la-a: cannot bring back its vss-origin: its store $store is missing (no such device, or empty)"* ]]
	dmsetup table la-a | grep -q ' linear '
	! dmsetup info la-a-real >/dev/null 2>&1 || false
}
