#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The whole shadow-copy lifecycle, inside the test VM with the real module,
# on a mounted ext4 volume that fio keeps writing to (4 KiB random direct
# writes) from before vss-storage add until the revert, using only the
# commands: vss-storage add while mounted and written; three shadow copies,
# each taken after files were added, changed and deleted; vss-list and
# vss-list --json (types, states, ISO 8601); every copy exposed, each file
# equal (sha256) to what was written before its instant, the copy's
# filesystem clean (e2fsck -fn); a copy device unreadable by another user;
# the middle copy deleted (the store does not grow from it, the other two
# still compare); vss-revert to the first after unmount (the files are the
# first copy's, the third copy still compares); a simulated reboot (every dm
# device removed, the loop devices and the catalog kept, the plain volume
# table recreated) and vss-activate: the volume is still the first copy's,
# both copies come back with their content; vss-activate again changes
# nothing.
#   scripts/vm-run -- bats test/target/lifecycle-full.bats

load helpers

setup() {
	vm_setup
	require jq fio mkfs.ext4 e2fsck setpriv sha256sum
	modprobe dm-vss
	mkdir -p "$T/state" "$T/run" "$T/conf" "$T/mnt/vol"
	export VSS_STATE_DIR=$T/state VSS_RUN_DIR=$T/run VSS_CONF_DIR=$T/conf
	VOL=${VSS_TEST_PFX}vol
	M=$T/mnt/vol
	FIO=
}

teardown() {
	[ -n "$FIO" ] && kill "$FIO" 2>/dev/null && wait "$FIO" 2>/dev/null
	vm_umount_all
	vm_teardown
}

# The files of a mounted filesystem with their sha256, fio's file and
# lost+found left out: "HASH  ./PATH" lines, sorted by path.
files_sha() {
	(cd "$1" && find . -type f ! -path './lost+found/*' ! -name fio.dat -print0 |
		sort -z | xargs -0 -r sha256sum)
}

# snapshot K: record the files as written (fsync'ed) before the instant,
# then take shadow copy K of the mounted volume; its id in ID_K.
snapshot() {
	local out id
	sync
	files_sha "$M" > "$T/rec.$1"
	out=$(vss-snapshot --json "$M") || return 1
	echo "$out"
	id=$(echo "$out" | jq -r '.shadows[0].shadow_id')
	[ "$(echo "$out" | jq -r '.shadows[0].device')" = "/dev/mapper/vss-$id" ] || return 1
	echo "vss-$id" >> "$T/.dm"
	eval "ID_$1=$id"
}

# compare_copy K DIR: shadow copy K exposed at DIR holds exactly the files
# recorded before its instant; then unexposed, and its filesystem clean.
compare_copy() {
	local id
	eval "id=\$ID_$1"
	vss-expose "$id" "$2"
	findmnt -n -o OPTIONS "$2" | grep -Eq '(^|,)ro(,|$)'
	files_sha "$2" > "$T/now.$1"
	diff "$T/rec.$1" "$T/now.$1" || { echo "shadow copy $id ($1) differs from its record" >&2; return 1; }
	[ -s "$T/now.$1" ]
	vss-unexpose "$id"
	refute mountpoint -q "$2"
	e2fsck -fn "/dev/mapper/vss-$id" >/dev/null
}

# state_of ID: the state vss-list --json reports for a shadow copy
state_of() {
	vss-list --json | jq -r --argjson id "$1" '.shadows[] | select(.shadow_id == $id) | .state'
}

# refute CMD...: CMD fails (a bare "! CMD" never fails a bats test)
refute() {
	if "$@"; then
		echo "unexpectedly succeeded: $*" >&2
		return 1
	fi
}

store_used() {
	vss-list --json -o shadow_id,store_used | jq '.shadows[0].store_used'
}

@test "the whole lifecycle on a mounted ext4 under fio: add, 3 snapshots, list, expose, delete, revert, reboot, activate" {
	local loop store sectors=$((256 * 2048)) k id
	loop=$(make_loop 256M vol)
	store=$(make_loop 128M store)
	dm_create "$VOL" --table "0 $sectors linear $loop 0"
	mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0 "/dev/mapper/$VOL"
	mount "/dev/mapper/$VOL" "$M"

	# 1. fio writes for the whole time; the store is added under it
	fio --name=load --filename="$M/fio.dat" --size=16M --rw=randwrite --bs=4k \
		--ioengine=psync --direct=1 --time_based --runtime=900 \
		--output="$T/fio.out" >/dev/null 2>&1 &
	FIO=$!
	sleep 2
	run vss-storage add --for "/dev/mapper/$VOL" --on "$store"
	echo "$output"
	[ "$status" = 0 ]
	[ "$(dmsetup table "$VOL" | awk '{ print $3 }')" = vss-origin ]
	dmsetup table "$VOL-real" | grep -q " linear "
	mountpoint -q "$M"
	kill -0 "$FIO"

	# 2. three rounds of files, each recorded before its shadow copy
	mkdir "$M/d"
	dd if=/dev/urandom of="$M/a" bs=1M count=2 conv=fsync status=none
	dd if=/dev/urandom of="$M/b" bs=64k count=1 conv=fsync status=none
	echo one > "$M/c"
	dd if=/dev/urandom of="$M/d/e" bs=1M count=3 conv=fsync status=none
	snapshot 1

	dd if=/dev/urandom of="$M/a" bs=64k count=4 seek=5 conv=notrunc,fsync status=none
	rm "$M/b"
	echo two > "$M/c"
	dd if=/dev/urandom of="$M/d/f" bs=1M count=1 conv=fsync status=none
	snapshot 2

	dd if=/dev/urandom of="$M/a" bs=1M count=2 conv=fsync status=none
	rm "$M/c"
	dd if=/dev/urandom of="$M/d/e" bs=64k count=2 conv=notrunc,fsync oflag=append status=none
	echo three > "$M/g"
	snapshot 3
	# and the volume moves on after the last one
	echo four > "$M/g"
	dd if=/dev/urandom of="$M/d/f" bs=64k count=2 conv=notrunc,fsync status=none
	sync
	files_sha "$M" > "$T/rec.after"
	refute cmp -s "$T/rec.1" "$T/rec.2"
	refute cmp -s "$T/rec.2" "$T/rec.3"
	refute cmp -s "$T/rec.3" "$T/rec.after"
	[ "$ID_1" != "$ID_2" ]
	[ "$ID_2" != "$ID_3" ]

	# 3. vss-list: three copies, valid, with real JSON types
	run vss-list
	echo "$output"
	[ "$status" = 0 ]
	[ "$(echo "$output" | grep -c " /dev/mapper/$VOL .* valid ")" = 3 ]
	run --separate-stderr vss-list --json
	echo "$output"
	[ "$status" = 0 ]
	echo "$output" | jq -e --arg vol "/dev/mapper/$VOL" --argjson i1 "$ID_1" \
		--argjson i2 "$ID_2" --argjson i3 "$ID_3" '
		(.shadows | length == 3) and
		([.shadows[].shadow_id] | sort == [$i1, $i2, $i3]) and
		(.shadows | all(
			(.shadow_id | type == "number") and (.set_id | type == "number") and
			.volume == $vol and .device == "/dev/mapper/vss-\(.shadow_id)" and
			.provider == "dm-vss-cow" and .state == "valid" and
			(.created | type == "string" and test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")) and
			(.age | type == "number") and (.copied | type == "number") and
			(.copied_chunks | type == "number") and (.store_used | type == "number") and
			(.store_size | type == "number") and .store_used <= .store_size and
			.exposed == null))'
	# taken in that order: created does not go back
	echo "$output" | jq -e --argjson i1 "$ID_1" --argjson i3 "$ID_3" '
		[.shadows[] | select(.shadow_id == $i1 or .shadow_id == $i3) | .created] |
		.[0] <= .[1]'

	# a shadow copy device is for root only
	run setpriv --reuid=65534 --regid=65534 --clear-groups \
		dd if="/dev/mapper/vss-$ID_1" of=/dev/null bs=4k count=1
	echo "$output"
	[ "$status" != 0 ]
	[[ "$output" == *"Permission denied"* ]]
	[ "$(stat -c %a "$VSS_STATE_DIR/catalog.json")" = 600 ]

	# 4. each copy exposed: its files are the ones written before it
	for k in 1 2 3; do
		compare_copy $k "$T/mnt/e$k"
	done
	kill -0 "$FIO"

	# 5. the middle copy deleted (the filesystem frozen across it, so that
	# fio's writes do not move the store's use meanwhile)
	fsfreeze -f "$M"
	used_before=$(store_used)
	run vss-delete --yes "$ID_2"
	used_after=$(store_used)
	fsfreeze -u "$M"
	echo "$output"
	echo "store used: $used_before bytes before the delete, $used_after after"
	[ "$status" = 0 ]
	(( used_after <= used_before ))
	refute dmsetup info "vss-$ID_2" >/dev/null 2>&1
	run vss-list --json
	[ "$(echo "$output" | jq -c '[.shadows[].shadow_id] | sort')" = "[$ID_1,$ID_3]" ]
	[ "$(echo "$output" | jq -r '[.shadows[].state] | unique | join(",")')" = valid ]
	compare_copy 1 "$T/mnt/e1"
	compare_copy 3 "$T/mnt/e3"

	# 6. fio stops; revert to the first copy after unmount
	bg_stop "$FIO"; FIO=
	grep -q 'err= 0' "$T/fio.out" || { cat "$T/fio.out"; false; }
	grep -E 'write: IOPS=' "$T/fio.out"
	umount "$M"
	run vss-revert --yes "$ID_1"
	echo "$output"
	[ "$status" = 0 ]
	mount "/dev/mapper/$VOL" "$M"
	files_sha "$M" | diff "$T/rec.1" -
	[ "$(cat "$M/c")" = one ]
	[ ! -e "$M/g" ]
	[ "$(state_of "$ID_1")" = valid ]
	[ "$(state_of "$ID_3")" = valid ]
	compare_copy 3 "$T/mnt/e3"

	# 7. a simulated reboot: every dm device gone, loops and catalog kept
	umount "$M"
	udevadm settle --timeout=20
	for id in $ID_1 $ID_3; do
		dmsetup remove --retry "vss-$id"
	done
	dmsetup remove --retry "$VOL"
	dmsetup remove --retry "$VOL-real"
	[ -z "$(dmsetup ls | awk -v v="$VOL" '$1 ~ /^vss-/ || index($1, v) == 1')" ]
	[ "$(state_of "$ID_1")" = missing ]
	# the volume's plain table, as the boot makes it
	dm_create "$VOL" --table "0 $sectors linear $loop 0"
	run vss-activate
	echo "$output"
	[ "$status" = 0 ]
	[[ "$output" == *"/dev/mapper/$VOL: vss-origin loaded over /dev/mapper/$VOL-real"* ]]
	[[ "$output" == *"shadow copy $ID_1: /dev/mapper/vss-$ID_1 activated"* ]]
	[[ "$output" == *"shadow copy $ID_3: /dev/mapper/vss-$ID_3 activated"* ]]
	[ "$(dmsetup table "$VOL" | awk '{ print $3 }')" = vss-origin ]
	[ "$(state_of "$ID_1")" = valid ]
	[ "$(state_of "$ID_3")" = valid ]
	mount "/dev/mapper/$VOL" "$M"
	files_sha "$M" | diff "$T/rec.1" -
	compare_copy 1 "$T/mnt/e1"
	compare_copy 3 "$T/mnt/e3"

	# vss-activate again: exit 0, nothing changes
	dmsetup table | sort > "$T/tables.1"
	cp "$VSS_STATE_DIR/catalog.json" "$T/catalog.1"
	run vss-activate
	echo "$output"
	[ "$status" = 0 ]
	[[ "$output" == *"0 shadow copies activated (2 already)"* ]]
	dmsetup table | sort | diff "$T/tables.1" -
	diff "$T/catalog.1" "$VSS_STATE_DIR/catalog.json"
	umount "$M"
	e2fsck -fn "/dev/mapper/$VOL" >/dev/null

	# 8. the kernel logged no problem
	check_dmesg
}
