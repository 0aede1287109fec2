#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# vss-revert with the real module, inside the test VM: a volume (dm-linear
# over a loop device) returns to the content a shadow copy recorded at the
# instant it was taken, copying exactly the chunks changed since; the other
# shadow copies keep their content; a mounted volume is refused untouched;
# a revert that stops half way is completed by running it again.
#   scripts/vm-run -- bats test/target/lifecycle-revert.bats

load helpers

setup() {
	vm_setup
	require jq sha256sum mkfs.ext4
	modprobe dm-vss
	mkdir -p "$T/state" "$T/run" "$T/conf" "$T/mnt"
	export VSS_STATE_DIR=$T/state VSS_RUN_DIR=$T/run VSS_CONF_DIR=$T/conf
	VOL=${VSS_TEST_PFX}vol
}

teardown() {
	vm_umount_all
	vm_teardown
}

# volume SIZE_MB: /dev/mapper/$VOL over a loop device, with a 64 MiB store
# ($STORE) added for dm-vss-cow shadow copies.
volume() {
	local l
	l=$(make_loop "$1M" vol)
	STORE=$(make_loop 64M store)
	dm_create "$VOL" --table "0 $(($1 * 2048)) linear $l 0"
}

add_storage() {
	vss-storage add --for "/dev/mapper/$VOL" --on "$STORE"
	[ "$(dmsetup table "$VOL" | awk '{ print $3 }')" = vss-origin ]
}

# snapshot: prints "ID DEVICE" of a new shadow copy of the volume.
snapshot() {
	local out id dev
	out=$(vss-snapshot --json "/dev/mapper/$VOL") || return 1
	id=$(echo "$out" | jq -r '.shadows[0].shadow_id')
	dev=$(echo "$out" | jq -r '.shadows[0].device')
	echo "${dev#/dev/mapper/}" >> "$T/.dm"
	echo "$id $dev"
}

# copied DEV: the chunks a shadow copy reads from the store (its status).
copied() {
	dmsetup status "${1#/dev/mapper/}" | awk '$3 == "vss-snap" { print $6 }'
}

state() {
	dmsetup status "${1#/dev/mapper/}" | awk '$3 == "vss-snap" { print $5 }'
}

files_sha() {
	(cd "$1" && find . -type f ! -path './lost+found/*' -print0 | sort -z |
		xargs -0 sha256sum)
}

@test "revert to the older of two shadow copies: exact content, only the changed chunks, the newer copy intact" {
	volume 64
	mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0 "/dev/mapper/$VOL"
	mkdir -p "$T/mnt/v"
	mount "/dev/mapper/$VOL" "$T/mnt/v"
	add_storage
	dd if=/dev/urandom of="$T/mnt/v/one" bs=1M count=4 status=none
	mkdir "$T/mnt/v/dir"; echo first > "$T/mnt/v/dir/note"
	sync
	read -r id1 dev1 < <(snapshot)
	sha1=$(dev_sha256 "$dev1")
	files1=$(files_sha "$T/mnt/v")

	# more writes, a second shadow copy, more writes
	dd if=/dev/urandom of="$T/mnt/v/one" bs=64k count=8 seek=10 conv=notrunc,fsync status=none
	dd if=/dev/urandom of="$T/mnt/v/two" bs=1M count=2 status=none
	echo second > "$T/mnt/v/dir/note"
	sync
	read -r id2 dev2 < <(snapshot)
	sha2=$(dev_sha256 "$dev2")
	files2=$(files_sha "$T/mnt/v")
	[ "$sha1" != "$sha2" ]
	dd if=/dev/urandom of="$T/mnt/v/two" bs=64k count=4 conv=notrunc,fsync status=none
	dd if=/dev/urandom of="$T/mnt/v/three" bs=1M count=1 status=none
	rm "$T/mnt/v/dir/note"
	sync

	# mounted: refused with exit 5, naming the mount point; nothing written
	before=$(copied "$dev1")
	run vss-revert --yes "$id1"
	echo "$output"
	[ "$status" = 5 ]
	[[ "$output" == *"mounted at $T/mnt/v"* ]]
	[[ "$output" == *"unmount it first"* ]]
	run --separate-stderr vss-revert --yes --json "$id1"
	[ "$status" = 5 ]
	[ "$(echo "$output" | jq -r '.mountpoint')" = "$T/mnt/v" ]
	[ "$(echo "$output" | jq '.copied_chunks')" = 0 ]
	[ "$(copied "$dev1")" = "$before" ]
	[ "$(files_sha "$T/mnt/v")" != "$files1" ]
	umount "$T/mnt/v"
	now=$(dev_sha256 "/dev/mapper/$VOL")
	[ "$now" != "$sha1" ]

	# what changed since shadow copy 1, seen by the kernel and by vss-check
	n1=$(copied "$dev1")
	n2=$(copied "$dev2")
	echo "changed since 1: $n1 chunks, since 2: $n2"
	[ "$n1" -gt 0 ] && [ "$n2" -gt 0 ] && [ "$n1" -gt "$n2" ] || false
	# vss-check opens a store exclusively: check a copy of it
	dd if="$STORE" of="$T/store.copy" bs=1M iflag=direct status=none
	run --separate-stderr vss-check --json "$T/store.copy"
	echo "$output"
	[ "$(echo "$output" | jq --argjson id "$id1" '.snapshots[] | select(.snap_id == $id) | .chunks')" = "$n1" ]

	# --dry-run: the count, nothing changed
	run --separate-stderr vss-revert --dry-run --json "$id1"
	echo "$output"
	[ "$status" = 0 ]
	[ "$(echo "$output" | jq '.changed_chunks')" = "$n1" ]
	[ "$(echo "$output" | jq '.changed_bytes')" = $((n1 * 4096)) ]
	[ "$(echo "$output" | jq '.copied_chunks')" = 0 ]
	[ "$(echo "$output" | jq '.dry_run')" = true ]
	[ "$(echo "$output" | jq '.reverted')" = false ]
	[ "$(dev_sha256 "/dev/mapper/$VOL")" = "$now" ]
	run vss-revert --dry-run "$id1"
	[ "$status" = 0 ]
	[[ "$output" == *"$n1 chunks ($((n1 * 4096)) bytes)"*"would be copied"* ]]

	# the revert
	run --separate-stderr vss-revert --yes --json "$id1"
	echo "$output $stderr"
	[ "$status" = 0 ]
	[ "$(echo "$output" | jq '.reverted')" = true ]
	[ "$(echo "$output" | jq '.changed_chunks')" = "$n1" ]
	c=$(echo "$output" | jq '.copied_chunks')
	e=$(echo "$output" | jq '.equal_chunks')
	[ $((c + e)) = "$n1" ]
	[ "$c" -gt 0 ]
	[ "$(echo "$output" | jq '.copied_bytes')" = $((c * 4096)) ]
	[ "$(echo "$output" | jq -r '.shadow_id | type')" = number ]
	[ "$(dev_sha256 "/dev/mapper/$VOL")" = "$sha1" ]
	# both shadow copies read back what they recorded, and stay valid
	[ "$(dev_sha256 "$dev1")" = "$sha1" ]
	[ "$(dev_sha256 "$dev2")" = "$sha2" ]
	[ "$(state "$dev1")" = valid ] && [ "$(state "$dev2")" = valid ] || false
	# the volume now equals shadow copy 1: it reads nothing from the store
	# that differs, and a second run copies nothing
	run --separate-stderr vss-revert --yes --json "$id1"
	[ "$status" = 0 ]
	[ "$(echo "$output" | jq '.copied_chunks')" = 0 ]

	mount "/dev/mapper/$VOL" "$T/mnt/v"
	[ "$(files_sha "$T/mnt/v")" = "$files1" ]
	[ "$(cat "$T/mnt/v/dir/note")" = first ]
	[ ! -e "$T/mnt/v/two" ]
	umount "$T/mnt/v"

	# forward again, to the newer one, with --verbose; then delete it
	run vss-revert --yes --verbose --delete "$id2"
	echo "$output"
	[ "$status" = 0 ]
	[[ "$output" == *"reverted to shadow copy $id2"* ]]
	[[ "$output" == *"chunks ("*" bytes) copied"* ]]
	[[ "$output" == *"deleted"* ]]
	[ "$(dev_sha256 "/dev/mapper/$VOL")" = "$sha2" ]
	[ ! -e "$dev2" ]
	[ "$(dev_sha256 "$dev1")" = "$sha1" ]
	mount "/dev/mapper/$VOL" "$T/mnt/v"
	[ "$(files_sha "$T/mnt/v")" = "$files2" ]
	umount "$T/mnt/v"

	# unknown id
	run vss-revert --yes 9999
	[ "$status" = 4 ]
	[[ "$output" == *"9999"*"no such shadow copy"* ]]
	check_dmesg
}

@test "a revert that fails half way says so and completes when run again" {
	volume 32
	dd if=/dev/urandom of="/dev/mapper/$VOL" bs=1M count=32 oflag=direct status=none
	add_storage
	read -r id dev < <(snapshot)
	sha=$(dev_sha256 "$dev")
	# scattered 4 KiB writes and a run of 1 MiB
	for off in 3 100 2049 5000 7777; do
		dd if=/dev/urandom of="/dev/mapper/$VOL" bs=4k count=1 seek=$off oflag=direct status=none
	done
	dd if=/dev/urandom of="/dev/mapper/$VOL" bs=4k count=256 seek=4000 oflag=direct status=none
	n=$(copied "$dev")
	[ "$n" = 261 ]

	run env VSS_TEST_REVERT_FAIL_AFTER=100 vss-revert --yes "$id"
	echo "$output"
	[ "$status" = 7 ]
	[[ "$output" == *"partly reverted"*"100 of 261 chunks"* ]]
	[[ "$output" == *"run vss-revert $id again"* ]]
	[ "$(dev_sha256 "/dev/mapper/$VOL")" != "$sha" ]

	run --separate-stderr vss-revert --yes --json "$id"
	echo "$output"
	[ "$status" = 0 ]
	[ "$(echo "$output" | jq '.changed_chunks')" = 261 ]
	[ "$(echo "$output" | jq '.equal_chunks')" = 100 ]
	[ "$(echo "$output" | jq '.copied_chunks')" = 161 ]
	[ "$(dev_sha256 "/dev/mapper/$VOL")" = "$sha" ]
	[ "$(dev_sha256 "$dev")" = "$sha" ]

	# held open by another program: refused, not mounted
	exec 7<"/dev/mapper/$VOL"
	run vss-revert --yes "$id"
	exec 7<&-
	echo "$output"
	[ "$status" = 5 ]
	[[ "$output" == *"open in another program"* ]]
	check_dmesg
}

@test "no room in the store for the newer copy's chunks: refused untouched; an inactive copy: exit 4" {
	local l
	l=$(make_loop 16M vol)
	# 1 MiB store of 4 KiB chunks: 253 data chunks
	STORE=$(make_loop 1M store)
	dm_create "$VOL" --table "0 32768 linear $l 0"
	dd if=/dev/urandom of="/dev/mapper/$VOL" bs=1M count=16 oflag=direct status=none
	add_storage
	read -r ida deva < <(snapshot)
	shaa=$(dev_sha256 "$deva")
	dd if=/dev/urandom of="/dev/mapper/$VOL" bs=4k count=200 seek=1000 oflag=direct status=none
	read -r idb devb < <(snapshot)
	shab=$(dev_sha256 "$devb")
	now=$(dev_sha256 "/dev/mapper/$VOL")
	[ "$(copied "$deva")" = 200 ] && [ "$(copied "$devb")" = 0 ] || false

	# reverting to a needs 200 copies for b; 53 chunks are free
	run vss-revert --yes "$ida"
	echo "$output"
	[ "$status" = 3 ]
	[[ "$output" == *"needs 200 free chunks"*"has 53"* ]]
	[ "$(dev_sha256 "/dev/mapper/$VOL")" = "$now" ]
	[ "$(dev_sha256 "$deva")" = "$shaa" ]
	[ "$(dev_sha256 "$devb")" = "$shab" ]
	[ "$(state "$deva")" = valid ] && [ "$(state "$devb")" = valid ] || false
	run --separate-stderr vss-revert --dry-run --json "$ida"
	[ "$status" = 3 ]
	[ "$(echo "$output" | jq '.store_chunks_needed')" = 200 ]
	[ "$(echo "$output" | jq '.store_chunks_free')" = 53 ]

	# b is the newest: reverting to it needs no copy (nothing changed)
	run --separate-stderr vss-revert --yes --json "$idb"
	[ "$status" = 0 ]
	[ "$(echo "$output" | jq '.changed_chunks')" = 0 ]

	# the shadow copy's device gone: exit 4, the volume untouched
	dmsetup remove "${deva#/dev/mapper/}"
	run vss-revert --yes "$ida"
	echo "$output"
	[ "$status" = 4 ]
	[[ "$output" == *"not active"* ]]
	[ "$(dev_sha256 "/dev/mapper/$VOL")" = "$now" ]
	check_dmesg
}
