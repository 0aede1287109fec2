#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Incremental replication as users run it, with the real module, inside the
# test VM: scripts/vss-replicate night after night into a file replica
# (whole image the first night, then only the changes, retention, a night
# whose receiver fails), the library's vss_shadow_diff through
# examples/changed-extents, and vss-snapshot --exec's shadow copy ids.
# Each replica is compared with the volume's sha256 recorded at the instant
# its shadow copy was taken (nothing writes the volume in between).
#   scripts/vm-run -- bats test/target/replicate.bats

load helpers

setup() {
	vm_setup
	require jq sha256sum mkfs.ext4
	modprobe dm-vss
	mkdir -p "$T/state" "$T/run" "$T/conf" "$T/mnt"
	export VSS_STATE_DIR=$T/state VSS_RUN_DIR=$T/run VSS_CONF_DIR=$T/conf
	VOL=${VSS_TEST_PFX}vol
	REPLICATE=$VSS_TOP/scripts/vss-replicate
	EXAMPLE=$VSS_TOP/build/examples/changed-extents
}

teardown() {
	vm_umount_all
	# shadow copies' devices are not registered: remove them before the volume
	for d in $(dmsetup info -c --noheadings -o name 2>/dev/null | grep '^vss-'); do
		dmsetup remove --retry "$d" >/dev/null 2>&1
	done
	vm_teardown
}

# volume SIZE_MB: /dev/mapper/$VOL over a loop device with a store for
# dm-vss-cow shadow copies (4 KiB chunks).
volume() {
	local l store
	l=$(make_loop "$1M" vol)
	store=$(make_loop 32M store)
	dm_create "$VOL" --table "0 $(($1 * 2048)) linear $l 0"
	vss-storage add --for "/dev/mapper/$VOL" --on "$store" --chunk-size 4k
}

# scribble N: N random 4 KiB writes at random chunks of the volume.
scribble() {
	local i sectors
	sectors=$(blockdev --getsz "/dev/mapper/$VOL")
	for ((i = 0; i < $1; i++)); do
		dd if=/dev/urandom of="/dev/mapper/$VOL" bs=4096 count=1 conv=notrunc oflag=direct \
			seek=$((RANDOM % (sectors / 8))) status=none
	done
}

tagged() {
	vss-list --noheadings --separator ' ' -o shadow_id --tag replica --volume "/dev/mapper/$VOL" |
		tr -d ' ' | sort -n
}

@test "vss-replicate: a full image, then the changes night after night, the newest two kept" {
	local night sum out ids
	volume 64
	dd if=/dev/urandom of="/dev/mapper/$VOL" bs=1M count=16 oflag=direct status=none
	for night in 1 2 3 4; do
		[ "$night" -eq 1 ] || scribble 40
		sum=$(dev_sha256 "/dev/mapper/$VOL")
		run "$REPLICATE" --keep 2 "/dev/mapper/$VOL" -- vss-receive "$T/replica.img"
		echo "$output"
		[ "$status" -eq 0 ]
		if [ "$night" -eq 1 ]; then
			[[ $output != *"changes since"* ]]
		else
			[[ $output == *"changes since"* ]]
		fi
		[ "$(dev_sha256 "$T/replica.img")" = "$sum" ]
		out=$(vss-receive --status --json "$T/replica.img")
		[ "$(jq -r .complete <<<"$out")" = true ]
		[ "$(jq -r .shadow_id <<<"$out")" = "$(cat "$T/state/replicate/replica")" ]
	done
	ids=$(tagged)
	[ "$(wc -l <<<"$ids")" -eq 2 ]
	[ "$(tail -n 1 <<<"$ids")" = "$(cat "$T/state/replicate/replica")" ]
}

@test "vss-replicate: a night whose receiver fails keeps the last copy sent, and the next night sends from it" {
	local last sum before
	volume 32
	dd if=/dev/urandom of="/dev/mapper/$VOL" bs=1M count=4 oflag=direct status=none
	"$REPLICATE" "/dev/mapper/$VOL" -- vss-receive "$T/replica.img"
	last=$(cat "$T/state/replicate/replica")
	scribble 20
	before=$(tagged)
	run "$REPLICATE" "/dev/mapper/$VOL" -- sh -c 'head -c 100 >/dev/null; exit 3'
	echo "$output"
	[ "$status" -eq 7 ]
	[[ $output == *"kept $last as the last one sent"* ]]
	[ "$(cat "$T/state/replicate/replica")" = "$last" ]
	[ "$(tagged)" = "$before" ]	# the failed night's copy is deleted
	sum=$(dev_sha256 "/dev/mapper/$VOL")
	run "$REPLICATE" "/dev/mapper/$VOL" -- vss-receive "$T/replica.img"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"changes since $last"* ]]
	[ "$(dev_sha256 "$T/replica.img")" = "$sum" ]
}

@test "vss-replicate refuses bad usage" {
	run "$REPLICATE" --keep 0 /dev/mapper/x -- true
	[ "$status" -eq 1 ]
	[[ $output == *"--keep"* ]]
	run "$REPLICATE" /dev/mapper/x
	[ "$status" -eq 1 ]
	run "$REPLICATE" --tag 'a b' /dev/mapper/x -- true
	[ "$status" -eq 1 ]
}

@test "examples/changed-extents: the library gives vss-diff's extents and reads them from the copy" {
	local a b want got
	[ -x "$EXAMPLE" ] || { echo "build/examples/changed-extents is missing: run make" >&2; false; }
	volume 32
	a=$(vss-snapshot --no-writers --json "/dev/mapper/$VOL" | jq -r '.shadows[0].shadow_id')
	scribble 30
	b=$(vss-snapshot --no-writers --json "/dev/mapper/$VOL" | jq -r '.shadows[0].shadow_id')
	want=$(vss-diff --noheadings --separator ' ' -o offset,length "$a" "$b" | sed 's/^ *//')
	[ -n "$want" ]
	got=$("$EXAMPLE" "$a" "$b")
	[ "$got" = "$want" ]
	run "$EXAMPLE" --read "$a" "$b"
	[ "$status" -eq 0 ]
	[[ ${lines[-1]} == "read $(vss-diff --json "$a" "$b" | jq .changed_bytes) bytes, sum "* ]]
	run "$EXAMPLE" "$b" "$a"
	[ "$status" -eq 1 ]
	[[ $output == *"give the older one first"* ]]
}

@test "vss-snapshot --exec gives CMD each shadow copy's id and device" {
	local out id dev
	volume 32
	mkfs.ext4 -q "/dev/mapper/$VOL"
	mount "/dev/mapper/$VOL" "$T/mnt"
	echo hello > "$T/mnt/file"
	out=$(vss-snapshot --no-writers --json --exec 'echo "$VSS_SHADOW_ID_0 $VSS_SHADOW_DEVICE_0" > '"$T/env"'; cat "$VSS_SHADOW_MOUNT_0/file" >> '"$T/env" "$T/mnt")
	id=$(jq -r '.shadows[0].shadow_id' <<<"$out")
	dev=$(jq -r '.shadows[0].device' <<<"$out")
	[ "$(head -n 1 "$T/env")" = "$id $dev" ]
	[ "$(tail -n 1 "$T/env")" = hello ]
	umount "$T/mnt"
}

@test "vss-snapshot --exec --context persistent: an incremental replica night after night, --keep honoured" {
	local night sum cmd
	volume 32
	mkfs.ext4 -q "/dev/mapper/$VOL"
	mount "/dev/mapper/$VOL" "$T/mnt"
	cmd='from=$(cat '"$T"'/sent 2>/dev/null)
	     vss-send ${from:+--from "$from"} "$VSS_SHADOW_ID_0" | vss-receive -q '"$T"'/replica.img &&
	     echo "$VSS_SHADOW_ID_0" > '"$T"'/sent'
	for night in 1 2 3; do
		for f in 1 2 3; do head -c 100000 /dev/urandom > "$T/mnt/f$night-$f"; done
		sync
		run vss-snapshot --no-writers -q --context persistent --keep 2 --tag nightly \
			--exec "$cmd" "$T/mnt"
		echo "$output"
		[ "$status" -eq 0 ]
		# the copy stays, and the replica holds exactly it
		[ "$(dev_sha256 "$T/replica.img")" = "$(dev_sha256 "/dev/mapper/vss-$(cat "$T/sent")")" ]
	done
	[ "$(vss-list --noheadings -o shadow_id --tag nightly | wc -l)" -eq 2 ]
	umount "$T/mnt"
	# the replica is a whole filesystem
	fsck.ext4 -n "$T/replica.img"
}

@test "vss-send shows its progress on a terminal, not with --quiet; the stream is the same" {
	local id
	require script
	volume 32
	dd if=/dev/urandom of="/dev/mapper/$VOL" bs=1M count=8 oflag=direct status=none
	id=$(vss-snapshot --no-writers --json "/dev/mapper/$VOL" | jq -r '.shadows[0].shadow_id')
	script -qec "vss-send $id > $T/s1" /dev/null > "$T/tty1"
	grep -q "of 32.0MiB (100%)" "$T/tty1"
	script -qec "vss-send --quiet $id > $T/s2" /dev/null > "$T/tty2"
	! grep -q "MiB" "$T/tty2"
	cmp "$T/s1" "$T/s2"
	# and not when standard error is not a terminal
	vss-send "$id" 2> "$T/err" > "$T/s3"
	[ ! -s "$T/err" ]
	cmp "$T/s1" "$T/s3"
}
