#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# vss-list and vss-delete inside the test VM, on the real module: three
# shadow copies of a dm-linear volume with writes between them, listed with
# the kernel's state and growing copied chunks; the middle one deleted (its
# device and its store entry gone, the others still reading back what was
# recorded at their instant); --oldest, --all --yes; a copy dropped when
# its store filled shows as dropped.
#   scripts/vm-run -- bats test/target/lifecycle-list.bats

bats_require_minimum_version 1.5.0

B=$BATS_TEST_DIRNAME/../../build/bin

setup() {
	[ "$(id -u)" = 0 ] || skip "runs as root in the VM (scripts/vm-run)"
	W=/tmp/lifecycle-list/$BATS_TEST_NUMBER
	rm -rf "$W"; mkdir -p "$W/state" "$W/run" "$W/conf"
	export VSS_STATE_DIR=$W/state VSS_RUN_DIR=$W/run VSS_CONF_DIR=$W/conf
	LOOPS=()
	modprobe dm-vss
}

teardown() {
	udevadm settle --timeout=10 >/dev/null 2>&1
	for d in $(dmsetup ls 2>/dev/null | awk '$1 ~ /^(ll-|vss-)/ {print $1}'); do
		dmsetup resume "$d" >/dev/null 2>&1
	done
	for pass in 1 2 3; do
		for d in $(dmsetup ls 2>/dev/null | awk '$1 ~ /^vss-/ {print $1}') \
			 $(dmsetup ls 2>/dev/null | awk '$1 ~ /^ll-/ && $1 !~ /-real$/ {print $1}') \
			 $(dmsetup ls 2>/dev/null | awk '$1 ~ /^ll-.*-real$/ {print $1}'); do
			dmsetup remove "$d" >/dev/null 2>&1
		done
	done
	for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done
	rm -rf "$W"
}

# vol SIZE_MB STORE_MB: the volume ll-a (dm-linear over a loop device) with
# a store, enabled for dm-vss shadow copies.
vol() {
	local l s
	truncate -s "$1M" "$W/a.img"
	truncate -s "$2M" "$W/a.store"
	l=$(losetup -f --show "$W/a.img"); LOOPS+=("$l")
	s=$(losetup -f --show "$W/a.store"); LOOPS+=("$s")
	dmsetup create ll-a --table "0 $(($1 * 2048)) linear $l 0"
	udevadm settle --timeout=10
	"$B/vss-storage" add --for /dev/mapper/ll-a --on "$s"
	V=/dev/mapper/ll-a
}

# write BLOCK COUNT: random 4 KiB blocks to the volume, past every cache
write() {
	dd if=/dev/urandom of="$V" bs=4k seek="$1" count="$2" oflag=direct conv=notrunc \
		status=none
}

sha() { sha256sum < "$1" | cut -d' ' -f1; }

# snap: a shadow copy of the volume now; sets ID and records SHA[ID], the
# volume's content at that instant.
declare -A SHA
snap() {
	local before out
	before=$(sha "$V")
	out=$("$B/vss-snapshot" --no-writers --json "$V")
	ID=$(echo "$out" | jq '.shadows[0].shadow_id')
	SHA[$ID]=$before
	[ "$(sha "/dev/mapper/vss-$ID")" = "$before" ]
}

# origin_field N: field N of the vss-origin status (4: chunk_sectors,
# 5: used/total, 7: snap_count)
origin_field() { dmsetup status ll-a | awk -v n="$1" '{print $n}'; }

# listed FIELD ID: one field of one shadow copy from vss-list --json
listed() { "$B/vss-list" --json | jq -r --argjson id "$2" ".shadows[] | select(.shadow_id == \$id) | .$1"; }

@test "three copies listed valid with growing copied chunks; delete the middle, --oldest, --all" {
	vol 64 64
	write 0 256
	snap; s1=$ID
	write 256 128
	write 0 32
	snap; s2=$ID
	write 1024 64
	snap; s3=$ID
	write 2048 16
	[ "$(origin_field 7)" = 3 ]

	run --separate-stderr "$B/vss-list"
	echo "$output"
	[ "$status" = 0 ]
	[ "$(echo "$output" | awk 'NR > 1 && $5 == "valid"' | wc -l)" = 3 ]
	[ "$(echo "$output" | sed -n 1p | awk '{print $1, $5}')" = "ID State" ]

	run --separate-stderr "$B/vss-list" --json
	[ "$status" = 0 ]
	json=$output
	echo "$json" | jq -e '.shadows | length == 3 and all(.state == "valid" and
		.provider == "dm-vss-cow" and .volume == "/dev/mapper/ll-a" and
		(.shadow_id | type == "number") and (.set_id | type == "number") and
		(.copied_chunks | type == "number") and (.copied | type == "number") and
		(.created | test("^[0-9-]{10}T[0-9:]{8}Z$")) and .exposed == null and
		(.device | startswith("/dev/mapper/vss-")))'
	c1=$(listed copied_chunks $s1); c2=$(listed copied_chunks $s2); c3=$(listed copied_chunks $s3)
	echo "copied chunks: $c1 $c2 $c3"
	# 4 KiB chunks: every block written after a copy was taken was copied for it
	[ "$c3" = 16 ] && [ "$c2" = $((64 + 16)) ] && [ "$c1" = $((128 + 32 + 64 + 16)) ] || false
	# the store is shared: its usage is the same on every copy, and what the kernel says
	used=$(origin_field 5); used=${used%/*}
	[ "$(listed store_used $s1)" = $((used * 4096)) ]
	[ "$(listed store_used $s3)" = $((used * 4096)) ]
	[ "$(listed copied $s2)" = $((c2 * 4096)) ]
	# --units and --nosuffix on real sizes
	run "$B/vss-list" -o copied,chunk_size --units b --nosuffix --noheadings --separator , $s3
	[ "$output" = "65536,4096" ]
	run "$B/vss-list" -o copied --units k --noheadings $s3
	[ "$(echo $output)" = "64.00k" ]
	run "$B/vss-list" -o copied --noheadings $s1
	[ "$(echo $output)" = "960.00k" ]

	# the middle one: device and store entry gone, the others intact
	run --separate-stderr "$B/vss-delete" --yes $s2
	echo "$output $stderr"
	[ "$status" = 0 ]
	[ "$output" = "Deleted shadow copy $s2 of /dev/mapper/ll-a (/dev/mapper/vss-$s2)." ]
	udevadm settle --timeout=10
	! dmsetup info "vss-$s2" >/dev/null 2>&1 || false
	[ ! -e "/dev/mapper/vss-$s2" ]
	[ "$(origin_field 7)" = 2 ]
	[ "$("$B/vss-list" --json | jq -c '[.shadows[].shadow_id]')" = "[$s1,$s3]" ]
	[ "$(sha /dev/mapper/vss-$s1)" = "${SHA[$s1]}" ]
	[ "$(sha /dev/mapper/vss-$s3)" = "${SHA[$s3]}" ]
	# the store no longer has it either: deleting it again in the kernel fails
	! dmsetup message ll-a 0 delete "$s2" 2>/dev/null || false
	# copy 1 lost nothing it needed
	[ "$(listed copied_chunks $s1)" = "$c1" ]

	# --oldest: copy 1
	run "$B/vss-delete" --yes --oldest /dev/mapper/ll-a
	[ "$status" = 0 ]
	[ "$output" = "Deleted shadow copy $s1 of /dev/mapper/ll-a (/dev/mapper/vss-$s1)." ]
	[ "$(origin_field 7)" = 1 ]
	[ "$(sha /dev/mapper/vss-$s3)" = "${SHA[$s3]}" ]

	# --all: without --yes off a terminal nothing happens, with it everything goes
	snap; s4=$ID
	run "$B/vss-delete" --all ll-a < /dev/null
	[ "$status" = 1 ]
	[ "$(origin_field 7)" = 2 ]
	run "$B/vss-delete" --all ll-a --yes
	[ "$status" = 0 ]
	[ "$(echo "$output" | wc -l)" = 2 ]
	[ "$(origin_field 7)" = 0 ]
	! dmsetup ls | grep -q '^vss-' || false
	run --separate-stderr "$B/vss-list"
	[ "$status" = 0 ] && [ -z "$output" ] || false
	[ "$(jq '.sets | length' "$VSS_STATE_DIR/catalog.json")" = 0 ]
	# the volume itself is untouched by all of it
	[ "$(origin_field 3)" = vss-origin ]
}

@test "an exposed copy is refused with exit 5 and stays mounted" {
	vol 64 64
	mkfs.ext4 -q "$V"
	snap; s1=$ID
	mkdir -p "$W/m"
	mount -o ro,noload "/dev/mapper/vss-$s1" "$W/m"
	[ "$(listed exposed $s1)" = "$W/m" ]
	run --separate-stderr "$B/vss-delete" --yes $s1
	echo "$stderr"
	[ "$status" = 5 ]
	[[ "$stderr" == *"shadow copy $s1: cannot delete: exposed at $W/m (run vss-unexpose $s1 first"* ]]
	mountpoint -q "$W/m"
	[ "$(origin_field 7)" = 1 ]
	umount "$W/m"
	run "$B/vss-delete" --yes $s1
	[ "$status" = 0 ]
	[ "$(origin_field 7)" = 0 ]
}

@test "a copy dropped when the store filled shows as dropped; the newer one stays valid" {
	vol 16 1
	total=$(origin_field 5); total=${total#*/}
	n=$((total * 2 / 3))
	echo "store: $total data chunks; writing $n per copy"
	snap; s1=$ID
	write 0 "$n"
	snap; s2=$ID
	# n more copies do not fit next to copy 1's n: the kernel drops copy 1
	write "$n" "$n"
	dmesg | grep -q "dropped snapshot $s1\$"
	run --separate-stderr "$B/vss-list" -o shadow_id,state,copied_chunks --noheadings
	echo "$output"
	[ "$status" = 0 ]
	[ "$(echo "$output" | awk -v id=$s1 '$1 == id {print $2}')" = dropped ]
	[ "$(echo "$output" | awk -v id=$s2 '$1 == id {print $2, $3}')" = "valid $n" ]
	[ "$(listed detail $s1)" = "dropped to make room when the store filled" ]
	[ "$(listed state $s2)" = valid ]
	[ "$(sha /dev/mapper/vss-$s2)" = "${SHA[$s2]}" ]
	! dd if=/dev/mapper/vss-$s1 of=/dev/null bs=4k count=1 iflag=direct status=none || false
	run "$B/vss-list" --sets --json
	echo "$output" | jq -e '[.sets[].shadow_states[]] | sort == ["dropped", "valid"]'
	# a dropped copy is deleted like any other
	run "$B/vss-delete" --yes $s1
	[ "$status" = 0 ]
	[ "$(origin_field 7)" = 1 ]
	[ "$(listed state $s2)" = valid ]
}
