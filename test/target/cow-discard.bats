#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# vss-origin and discards: fstrim on a filesystem with snapshots must not
# copy its free space into the store (Debian runs fstrim.timer weekly), and
# must leave every snapshot exact; where no snapshot needs a chunk the
# discard reaches the origin.  Run inside the VM:
#   scripts/vm-run -- bats test/target/cow-discard.bats

load helpers
load cow-helpers

setup_file() { cow_setup_file; }
setup() { cow_setup; }
teardown() { cow_teardown; }

MiB=$((1024 * 1024))

# fs_snapshot ID: take snapshot ID of the mounted filesystem (the suspend
# freezes it) and record the sha256 of the origin at that instant.
fs_snapshot() {
	local sha r=0
	dmsetup suspend "$COW_O" || return 1
	sha=$(cow_sha_range "$COW_OREAL" 0 $((COW_SECTORS * COW_SECTOR)))
	dmsetup message "$COW_O" 0 create "$1" || r=1
	dmsetup resume "$COW_O" || r=1
	(( r == 0 )) || return 1
	COW_EXPECT[$1]=$sha
}

# allocated_kib FILE: the KiB its blocks take on the guest's tmpfs.
allocated_kib() {
	du -k "$1" | cut -f1
}

@test "fstrim after a snapshot copies no free space; every snapshot stays exact; discards reach the origin where no snapshot needs them" {
	local mnt=$COW_DIR/mnt i before after freed grown kib0 kib1
	require fstrim mkfs.ext4
	cow_make $((64 * MiB)) $((96 * MiB))
	mkfs.ext4 -q -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 "$COW_ODEV"
	mkdir -p "$mnt"
	mount "$COW_ODEV" "$mnt"
	for i in $(seq 1 40); do
		head -c $MiB /dev/urandom > "$mnt/f$i"
	done
	sync
	fs_snapshot 1
	# half of the files go: 20 MiB of the filesystem becomes free
	for i in $(seq 1 2 40); do
		rm "$mnt/f$i"
	done
	sync
	fs_snapshot 2
	cow_snap_dev 1
	cow_snap_dev 2
	before=$(cow_status used_chunks)
	fstrim "$mnt"
	sync
	after=$(cow_status used_chunks)
	grown=$(( (after - before) * $(cow_status chunk_sectors) * COW_SECTOR ))
	freed=$((20 * MiB))
	echo "# fstrim: store grew by $((grown / 1024)) KiB for $((freed / 1024)) KiB freed" \
		"($before -> $after chunks)" >&3
	(( grown * 100 < freed ))
	[ "$(cow_status mode)" = rw ]
	[ "$(cow_snap_status 1 state)" = valid ]
	[ "$(cow_snap_status 2 state)" = valid ]
	cow_verify_snap 1
	cow_verify_snap 2
	# the filesystem itself is intact
	for i in $(seq 2 2 40); do
		[ -f "$mnt/f$i" ]
	done
	umount "$mnt"
	fsck.ext4 -n -f "$COW_ODEV"
	cow_verify_snap 1
	cow_verify_snap 2

	# with no snapshot left, the discards reach the origin (the loop
	# device punches holes in its file)
	cow_snap_remove 1
	cow_snap_remove 2
	dmsetup message "$COW_O" 0 delete 1
	dmsetup message "$COW_O" 0 delete 2
	mount "$COW_ODEV" "$mnt"
	kib0=$(allocated_kib "$COW_DIR/origin.img")
	fstrim "$mnt"
	sync
	kib1=$(allocated_kib "$COW_DIR/origin.img")
	echo "# with no snapshot, fstrim freed $((kib0 - kib1)) KiB of the origin's file" >&3
	umount "$mnt"
	(( kib0 - kib1 > freed / 1024 / 2 ))
	[ "$(cow_status used_chunks)" = 0 ]
	fsck.ext4 -n -f "$COW_ODEV"
}

@test "a discard of chunks copied for the newest snapshot reaches the origin; of the others it does not" {
	local C before
	cow_make $((8 * MiB)) $((24 * MiB))
	C=$M_CB
	cow_fill
	cow_snapshot 1
	# chunks 0..255 copied for snapshot 1; the rest still read from the origin
	cow_write 0 $((256 * C))
	cow_snap_dev 1
	before=$(cow_status used_chunks)
	# one discard over both kinds of chunk
	blkdiscard -o $((200 * C)) -l $((100 * C)) "$COW_ODEV"
	[ "$(cow_status used_chunks)" = "$before" ]
	cow_verify_snap 1
	# the copied chunks' part was discarded on the origin (a loop device
	# over tmpfs reads zeros there), the others kept their data
	[ "$(cow_sha_range "$COW_ODEV" $((200 * C)) $((56 * C)))" = \
	  "$(head -c $((56 * C)) /dev/zero | sha256sum | cut -d' ' -f1)" ]
	[ "$(cow_sha_range "$COW_ODEV" $((256 * C)) $((44 * C)))" = \
	  "$(cow_sha_range "$COW_MODEL" $((256 * C)) $((44 * C)))" ]
	cow_model_zero $((200 * C)) $((56 * C))
	cow_verify_origin
	cow_check_counters
}
