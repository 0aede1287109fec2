#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# vss-clone: initial sync under load, split, incremental rejoin, failures of
# either device, reloads, and refusal of malformed tables and messages.
# Run inside the VM:
#   scripts/vm-run -- bats test/target/clone.bats

load clone-helpers

setup_file() { clone_setup_file; }
setup() { clone_setup; }
teardown() { clone_teardown; }

# sync_under_load REGION_SECTORS FIO_SIZE: a 64 MiB clone syncs while fio
# writes to it (over its first FIO_SIZE bytes), and ends identical.
sync_under_load() {
	local mid i
	clone_make_busy $((64 * MiB)) $((64 * MiB)) "$1" 60 --size="$2"
	[ "$(clone_status state)" = syncing ]
	# Regions are copied while fio writes (polled: a slow host copies
	# slowly; fio's minute bounds the wait).
	for ((i = 0; ; i++)); do
		mid=$(clone_status synced)
		(( mid > 0 )) && break
		kill -0 "$CL_BG" 2>/dev/null ||
			{ echo "no region copied in the $i tenths of a second fio wrote" >&2; return 1; }
		sleep 0.1
	done
	sleep 2
	kill -0 "$CL_BG" 2>/dev/null ||
		{ echo "fio ended before the sync had run beside it for 2 s" >&2; return 1; }
	echo "# $mid of $(clone_status total) regions in step after $i tenths of a second under load" >&3
	kill "$CL_BG" 2>/dev/null || true	# it may just have ended
	wait "$CL_BG" || true
	clone_fio_ok
	clone_wait_state mirrored 600
	dmsetup suspend "$CL_C"
	clone_same
	dmsetup resume "$CL_C"
}

@test "initial sync while fio writes: dest equals source once mirrored (4 KiB regions)" {
	sync_under_load 8 64M
}

@test "initial sync while fio writes into the regions being copied (1 MiB regions, 8 MiB hot area)" {
	sync_under_load 2048 8M
}

@test "suspend and resume during the sync, under load, lose nothing" {
	local i
	clone_make_busy $((32 * MiB)) $((32 * MiB)) 64 6
	for i in 1 2 3 4 5; do
		sleep 0.7
		dmsetup suspend "$CL_C"
		dmsetup resume "$CL_C"
	done
	wait "$CL_BG"
	clone_fio_ok
	clone_wait_state mirrored 120
	dmsetup suspend "$CL_C"
	clone_same
	dmsetup resume "$CL_C"
}

@test "split under write load: dest is the source at the split instant, later writes stay off it" {
	local ev
	clone_make $((64 * MiB)) $((64 * MiB)) 128
	clone_wait_state mirrored 120
	clone_bg_fio "$CL_CDEV" 6
	sleep 2
	ev=$(clone_events)
	clone_split
	[ "$(clone_status state)" = split ]
	clone_wait_events $((ev + 1))
	wait "$CL_BG"
	clone_fio_ok
	[ "$(clone_sha "$CL_DST")" = "$CL_SPLIT_SHA" ]
	[ "$(clone_sha "$CL_SRC")" != "$CL_SPLIT_SHA" ]
	(( $(clone_status synced) < $(clone_status total) ))
}

@test "rejoin copies only the regions written since the split, then dest equals source" {
	local rb=$((128 * 512)) total r n=0 canary ev
	clone_make $((64 * MiB)) $((64 * MiB)) 128
	clone_wait_state mirrored 120
	total=$(clone_status total)
	[ "$total" = 1024 ]
	clone_split
	[ "$(clone_status synced)" = "$total" ]
	# Seven regions, two of them adjacent, the first and the last.
	for r in 0 3 100 101 500 777 1023; do
		clone_write "$CL_CDEV" $((r * rb + 4096)) 8192
		n=$((n + 1))
	done
	clone_write "$CL_CDEV" $((100 * rb)) 512	# again: still one region
	[ "$(clone_status synced)" = $((total - n)) ]
	[ "$(clone_sha "$CL_DST")" = "$CL_SPLIT_SHA" ]
	# A region never written since the split must not be copied: mark it
	# on dest behind the clone's back.
	clone_write "$CL_DST" $((200 * rb)) "$rb"
	canary=$(clone_sha "$CL_DIR/last")
	ev=$(clone_events)
	dmsetup message "$CL_C" 0 rejoin
	clone_wait_state mirrored 60
	[ "$(clone_status synced)" = "$total" ]
	clone_wait_events $((ev + 2))		# syncing, then mirrored
	[ "$(clone_sha "$CL_DST" $((200 * rb)) "$rb")" = "$canary" ]
	# Put the region back as source has it: then dest equals source.
	dd if="$CL_SRC" of="$CL_DST" bs="$rb" skip=200 seek=200 count=1 \
		iflag=direct oflag=direct status=none
	dmsetup suspend "$CL_C"
	clone_same
	dmsetup resume "$CL_C"
}

@test "rejoin and split again, twice, under load" {
	local round
	clone_make $((32 * MiB)) $((32 * MiB)) 256
	clone_wait_state mirrored 120
	for round in 1 2; do
		clone_bg_fio "$CL_CDEV" 3
		sleep 1
		clone_split
		wait "$CL_BG"
		[ "$(clone_sha "$CL_DST")" = "$CL_SPLIT_SHA" ]
		dmsetup message "$CL_C" 0 rejoin
		clone_bg_fio "$CL_CDEV" 3
		wait "$CL_BG"
		clone_wait_state mirrored 120
		dmsetup suspend "$CL_C"
		clone_same
		dmsetup resume "$CL_C"
	done
}

@test "overlapping writes from four writers at once while mirrored: dest still equals source" {
	clone_make $((16 * MiB)) $((16 * MiB)) 128
	clone_wait_state mirrored 120
	# Four jobs over the same 256 KiB: most writes overlap one in flight.
	clone_fio "$CL_CDEV" 6 --size=256k
	clone_fio_ok
	[ "$(clone_status state)" = mirrored ]
	dmsetup suspend "$CL_C"
	clone_same
	dmsetup resume "$CL_C"
}

@test "dest fails (error target under it) while mirrored: state fail, source keeps every write" {
	local dloop ev sha
	dloop=$(clone_loop dest $((32 * MiB)))
	CL_DST=$(clone_dm dst "0 65536 linear $dloop 0")
	clone_make $((32 * MiB)) 0 128
	clone_wait_state mirrored 120
	ev=$(clone_events)
	dmsetup suspend "${CL_PFX}dst"
	dmsetup reload "${CL_PFX}dst" --table "0 65536 error"
	dmsetup resume "${CL_PFX}dst"
	clone_write "$CL_CDEV" $((5 * MiB + 4096)) $((1 * MiB))
	sha=$(clone_sha "$CL_DIR/last")
	[ "$(clone_status state)" = fail ]
	clone_wait_events $((ev + 1))
	dmesg | grep -q "vss-clone .*write error on dest"
	[ "$(clone_sha "$CL_CDEV" $((5 * MiB + 4096)) $((1 * MiB)))" = "$sha" ]
	[ "$(clone_sha "$CL_SRC" $((5 * MiB + 4096)) $((1 * MiB)))" = "$sha" ]
	# Writes and flushes keep working; split and rejoin are refused.
	clone_fio "$CL_CDEV" 2 --fsync=16
	clone_fio_ok
	dmsetup suspend "$CL_C"
	run ! dmsetup message "$CL_C" 0 split
	dmsetup resume "$CL_C"
	run ! dmsetup message "$CL_C" 0 rejoin
	[ "$(clone_status state)" = fail ]
	[ "$(clone_sha "$CL_CDEV")" = "$(clone_sha "$CL_SRC")" ]
}

@test "dest fails (flakey error_writes) during the initial sync; a reload after the repair syncs again" {
	local dloop sha
	dloop=$(clone_loop dest $((32 * MiB)))
	CL_DST=$(clone_dm dst "0 65536 flakey $dloop 0 0 5 1 error_writes")
	clone_make $((32 * MiB)) 0 128
	clone_wait_state fail 60
	clone_write "$CL_CDEV" $((1 * MiB)) $((256 * 1024))
	sha=$(clone_sha "$CL_DIR/last")
	[ "$(clone_sha "$CL_SRC" $((1 * MiB)) $((256 * 1024)))" = "$sha" ]
	# Repair dest, reload the same table: a failed clone hands nothing
	# over, the new table copies everything.
	dmsetup suspend "${CL_PFX}dst"
	dmsetup reload "${CL_PFX}dst" --table "0 65536 linear $dloop 0"
	dmsetup resume "${CL_PFX}dst"
	dmsetup reload "$CL_C" --table "$(clone_table)"
	dmsetup resume "$CL_C"
	[ "$(clone_status state)" != fail ]
	clone_wait_state mirrored 120
	dmsetup suspend "$CL_C"
	clone_same
	dmsetup resume "$CL_C"
}

@test "source errors fail the I/O as the source would; other I/O goes on" {
	local sloop
	sloop=$(clone_loop source $((16 * MiB)))
	# Sectors 8192..8199 (byte 4 MiB, 4 KiB) of the source answer EIO.
	CL_SRC=$(clone_dm src "0 8192 linear $sloop 0
8192 8 error
8200 24568 linear $sloop 8200")
	clone_make 0 $((16 * MiB)) 128 nosync	# both all zeroes
	[ "$(clone_status state)" = mirrored ]
	run ! dd if="$CL_CDEV" of=/dev/null bs=4096 skip=1024 count=1 iflag=direct status=none
	[ "$(clone_status state)" = mirrored ]
	clone_write "$CL_CDEV" $((8 * MiB)) 65536
	[ "$(clone_sha "$CL_DST" $((8 * MiB)) 65536)" = "$(clone_sha "$CL_DIR/last")" ]
	# A failed write may have reached dest: its region is copied again,
	# which cannot read source there, so the clone fails; source goes on.
	head -c 4096 /dev/urandom > "$CL_DIR/blk"
	run ! dd if="$CL_DIR/blk" of="$CL_CDEV" bs=4096 seek=1024 count=1 oflag=direct conv=notrunc status=none
	clone_wait_state fail 30
	dmesg | grep -q "vss-clone .*read error on source while copying"
	clone_write "$CL_CDEV" $((10 * MiB)) 65536
	[ "$(clone_sha "$CL_CDEV" $((10 * MiB)) 65536)" = "$(clone_sha "$CL_DIR/last")" ]
	[ "$(clone_sha "$sloop" $((10 * MiB)) 65536)" = "$(clone_sha "$CL_DIR/last")" ]
	dd if="$CL_CDEV" of=/dev/null bs=1M count=4 iflag=direct status=none
}

@test "the last, partial region is copied, split and rejoined" {
	local bytes=$((8 * MiB + 12 * 1024))
	clone_make "$bytes" "$bytes" 128
	[ "$(clone_status total)" = 129 ]
	clone_wait_state mirrored 60
	clone_same
	clone_split
	clone_write "$CL_CDEV" $((bytes - 4096)) 4096
	[ "$(clone_status synced)" = 128 ]
	[ "$(clone_sha "$CL_DST")" = "$CL_SPLIT_SHA" ]
	dmsetup message "$CL_C" 0 rejoin
	clone_wait_state mirrored 60
	clone_same
}

@test "a dest larger than source is fine; only the source's length is copied" {
	clone_make $((8 * MiB)) $((12 * MiB)) 64
	clone_wait_state mirrored 60
	[ "$(clone_sha "$CL_DST" 0 $((8 * MiB)))" = "$(clone_sha "$CL_SRC")" ]
	[ "$(clone_sha "$CL_DST" $((8 * MiB)) $((4 * MiB)))" = "$(head -c $((4 * MiB)) /dev/zero | sha256sum | cut -d' ' -f1)" ]
}

@test "a reload of the same table keeps the split image and the written regions" {
	local synced before
	clone_make $((32 * MiB)) $((32 * MiB)) 128
	clone_wait_state mirrored 120
	clone_split
	clone_write "$CL_CDEV" 0 4096
	clone_write "$CL_CDEV" $((10 * MiB)) $((200 * 1024))
	synced=$(clone_status synced)
	[ "$synced" = $(( $(clone_status total) - 5 )) ]
	dmsetup reload "$CL_C" --table "$(clone_table)"
	dmsetup resume "$CL_C"
	[ "$(clone_status state)" = split ]
	[ "$(clone_status synced)" = "$synced" ]
	dmesg | grep -q "vss-clone .*reload keeps state split"
	clone_write "$CL_CDEV" $((20 * MiB)) 4096
	[ "$(clone_sha "$CL_DST")" = "$CL_SPLIT_SHA" ]
	dmsetup message "$CL_C" 0 rejoin
	clone_wait_state mirrored 60
	clone_same
	# Removing the device forgets it all: a new one copies everything,
	# also a region that no write touched since (it may be done copying
	# before its status can be read, so the content tells).
	dmsetup remove "$CL_C"
	dd if=/dev/urandom of="$CL_DST" bs=$((128 * 512)) seek=300 count=1 \
		oflag=direct status=none
	before="vss-test: new clone device $$-$RANDOM"
	echo "$before" > /dev/kmsg
	clone_load
	dmesg | grep -q "$before"
	! dmesg | sed -n "/$before\$/,\$p" | grep -q "vss-clone .*reload keeps state" || false
	clone_wait_state mirrored 120
	dmsetup suspend "$CL_C"
	clone_same
	dmsetup resume "$CL_C"
}

@test "a reload during the initial sync goes on from where it was" {
	local before state mark i
	clone_make_busy $((64 * MiB)) $((64 * MiB)) 8 10
	# suspended as soon as the sync has begun, so that it is still going
	for ((i = 0; i < 300; i++)); do
		(( $(clone_status synced) > 0 )) && break
		sleep 0.1
	done
	dmsetup suspend "$CL_C"
	before=$(clone_status synced) state=$(clone_status state)
	# should the sync still have ended first, the reload must keep
	# "mirrored", and the test says it did not see a sync resumed
	[ "$state" = syncing ] || echo "# the sync ended before the reload ($state); the reload keeps that" >&3
	mark="vss-test: reload during the sync $$-$RANDOM"
	echo "$mark" > /dev/kmsg
	dmsetup reload "$CL_C" --table "$(clone_table)"
	dmsetup resume "$CL_C"
	dmesg | sed -n "/$mark\$/,\$p" | grep -q "vss-clone .*reload keeps state $state" || {
		dmesg | tail -5; false; }
	(( $(clone_status synced) >= before ))
	wait "$CL_BG"
	clone_fio_ok
	clone_wait_state mirrored 120
	dmsetup suspend "$CL_C"
	clone_same
	dmsetup resume "$CL_C"
}

@test "a filesystem on the clone: split, expose dest read-only, mount it" {
	local mnt=$CL_DIR/mnt dmnt=$CL_DIR/dmnt
	CL_SRC=$(clone_loop source $((64 * MiB)))
	clone_make 0 $((64 * MiB)) 128 nosync	# both all zeroes
	mkfs.ext4 -q -F "$CL_CDEV"
	mkdir -p "$mnt" "$dmnt"
	mount "$CL_CDEV" "$mnt"
	head -c $((3 * MiB)) /dev/urandom > "$mnt/before"
	sync
	# mkfs may zero ranges that a loop device over tmpfs cannot: those
	# regions are copied again before the clone is mirrored.
	clone_wait_state mirrored 60
	dmsetup suspend "$CL_C"		# freezes the filesystem
	dmsetup message "$CL_C" 0 split
	dmsetup resume "$CL_C"
	head -c $((1 * MiB)) /dev/urandom > "$mnt/after"
	echo changed >> "$mnt/before"
	sync
	clone_dm dstro "0 $CL_SECTORS linear $CL_DST 0" --readonly >/dev/null
	mount -o ro "/dev/mapper/${CL_PFX}dstro" "$dmnt"
	[ ! -e "$dmnt/after" ]
	[ "$(stat -c %s "$dmnt/before")" = $((3 * MiB)) ]
	[ "$(head -c $((3 * MiB)) "$mnt/before" | sha256sum)" = "$(sha256sum < "$dmnt/before")" ]
	umount "$dmnt"
	dmsetup remove "${CL_PFX}dstro"
	dmsetup message "$CL_C" 0 rejoin
	clone_wait_state mirrored 60
	umount "$mnt"
	clone_same
}

@test "discards reach both devices while mirrored, and count as writes while split" {
	clone_make $((16 * MiB)) $((16 * MiB)) 128
	clone_wait_state mirrored 60
	blkdiscard -o $((2 * MiB)) -l $((1 * MiB)) "$CL_CDEV"
	clone_same
	clone_split
	blkdiscard -o $((4 * MiB)) -l $((256 * 1024)) "$CL_CDEV"
	[ "$(clone_status synced)" = $(( $(clone_status total) - 4 )) ]
	[ "$(clone_sha "$CL_DST")" = "$CL_SPLIT_SHA" ]
	dmsetup message "$CL_C" 0 rejoin
	clone_wait_state mirrored 60
	clone_same
}

@test "status, table, nosync and events" {
	local ev
	clone_make $((8 * MiB)) $((8 * MiB)) 64
	clone_wait_state mirrored 60
	[ "$(dmsetup status "$CL_C")" = "0 16384 vss-clone 64 256/256 mirrored" ]
	[ "$(dmsetup table "$CL_C")" = "0 16384 vss-clone $(clone_majmin "$CL_SRC") $(clone_majmin "$CL_DST") 64" ]
	sleep 0.5
	ev=$(clone_events)
	clone_split
	clone_wait_events $((ev + 1))
	dmsetup message "$CL_C" 0 rejoin
	clone_wait_state mirrored 30
	clone_wait_events $((ev + 3))		# split, syncing, mirrored
	sleep 0.5
	[ "$(clone_events)" = $((ev + 3)) ]
	dmsetup remove "$CL_C"
	CL_FEATURES="1 nosync"
	clone_load
	[ "$(dmsetup status "$CL_C")" = "0 16384 vss-clone 64 256/256 mirrored" ]
	[ "$(dmsetup table "$CL_C")" = "0 16384 vss-clone $(clone_majmin "$CL_SRC") $(clone_majmin "$CL_DST") 64 1 nosync" ]
}

@test "malformed tables are refused with a clear error" {
	local small sz mark t want
	CL_SRC=$(clone_loop source $((8 * MiB)))
	CL_DST=$(clone_loop dest $((8 * MiB)))
	small=$(clone_loop small $((4 * MiB)))
	sz=16384
	while IFS='|' read -r t want; do
		mark=$(clone_dmesg_mark)
		run dmsetup create "${CL_PFX}bad" --table "0 $sz vss-clone $t"
		if [ "$status" = 0 ]; then
			echo "accepted: vss-clone $t" >&2
			return 1
		fi
		clone_dmesg_since "$mark" | grep -q "vss-clone: $want" ||
			{ echo "no '$want' for: vss-clone $t" >&2; clone_dmesg_since "$mark" >&2; return 1; }
	done <<EOF
|Not enough arguments
$CL_SRC|Not enough arguments
$CL_SRC $CL_DST|Not enough arguments
$CL_SRC $CL_DST x8|Invalid region size
$CL_SRC $CL_DST 8x|Invalid region size
$CL_SRC $CL_DST 0|Invalid region size
$CL_SRC $CL_DST -8|Invalid region size
$CL_SRC $CL_DST 4|Invalid region size
$CL_SRC $CL_DST 1000|Invalid region size
$CL_SRC $CL_DST 4194304|Invalid region size
$CL_SRC $CL_DST 99999999999999999999|Invalid region size
$CL_SRC $CL_DST 128 1|Invalid number of feature arguments
$CL_SRC $CL_DST 128 2 nosync|Invalid number of feature arguments
$CL_SRC $CL_DST 128 2 nosync nosync|Invalid number of feature arguments
$CL_SRC $CL_DST 128 x nosync|Invalid number of feature arguments
$CL_SRC $CL_DST 128 1 bogus|Unrecognised feature argument
$CL_SRC $CL_DST 128 1 nosync extra|Too many arguments
$CL_SRC $CL_DST 128 0 extra|Too many arguments
$CL_SRC $CL_SRC 128|Source and dest are the same device
$CL_SRC $small 128|Dest device is smaller than source
$small $CL_DST 128|Source device is smaller than the target
/dev/nonexistent $CL_DST 128|Cannot open source device
$CL_SRC /dev/nonexistent 128|Cannot open dest device
EOF
	[ -z "$(dmsetup info -c --noheadings -o name 2>/dev/null | grep "^${CL_PFX}bad")" ] ||
		dmsetup remove "${CL_PFX}bad"
}

@test "malformed and untimely messages are refused" {
	local mark
	clone_make $((8 * MiB)) $((8 * MiB)) 64
	mark=$(clone_dmesg_mark)
	# Not suspended, not mirrored yet or already split: split refused.
	run ! dmsetup message "$CL_C" 0 split
	[[ "$output" == *"Device or resource busy"* ]]
	clone_dmesg_since "$mark" | grep -q "split refused: suspend the device first"
	run ! dmsetup message "$CL_C" 0 bogus
	[[ "$output" == *"Invalid argument"* ]]
	run ! dmsetup message "$CL_C" 0 split now
	run ! dmsetup message "$CL_C" 0 rejoin
	clone_wait_state mirrored 60
	dmsetup suspend "$CL_C"
	run ! dmsetup message "$CL_C" 0 rejoin
	dmsetup message "$CL_C" 0 split
	run ! dmsetup message "$CL_C" 0 split
	[[ "$output" == *"Device or resource busy"* ]]
	dmsetup resume "$CL_C"
	run ! dmsetup message "$CL_C" 0 rejoin please
	dmsetup message "$CL_C" 0 rejoin
	clone_wait_state mirrored 30
	clone_dmesg_since "$mark" | grep -q "unrecognised message 'bogus'"
	clone_dmesg_since "$mark" | grep -q "rejoin refused: the clone is mirrored, not split"
	clone_dmesg_since "$mark" | grep -q "split refused: the clone is split, not mirrored"
}
