#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# vss-check against stores written by the real dm-vss module, and the
# kernel against stores written by libvsscore: both read the same format,
# count the same chunks, and refuse the same damage.  Run inside the VM:
#   scripts/vm-run -- bats test/target/store-check.bats
# VSS_BINDIR selects the commands under test (default: build/bin).

bats_require_minimum_version 1.5.0

MiB=$((1024 * 1024))
OSECT=16384		# 8 MiB origin: 2048 chunks of 4 KiB
STORE_BYTES=$((4 * MiB))	# 1024 chunks: 1018 data chunks, exception blocks 2, 258, 514, 770

setup_file() {
	[ "$(id -u)" = 0 ] || { echo "run as root inside the VM (scripts/vm-run)" >&2; return 1; }
	modprobe dm-vss || { echo "cannot load dm-vss" >&2; return 1; }
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export TOP
	export VSS_CHECK=${VSS_BINDIR:-$TOP/build/bin}/vss-check
	[ -x "$VSS_CHECK" ] || { echo "no $VSS_CHECK: run make first" >&2; return 1; }
	export MKSTORE=$BATS_FILE_TMPDIR/mkstore
	${CC:-cc} -O1 -I"$TOP/libvsscore" -I"$TOP/dm-vss" -o "$MKSTORE" \
		"$TOP/test/tools/mkstore.c" "$TOP/libvsscore/store.c" "$TOP/libvsscore/crc32c.c"
}

setup() {
	W=/tmp/store-check/$BATS_TEST_NUMBER
	rm -rf "$W"
	mkdir -p "$W"
	P=sc$BATS_TEST_NUMBER
	LOOPS=()
	truncate -s $((OSECT * 512)) "$W/origin.img"
	ORIG=$(attach "$W/origin.img")
}

teardown() {
	local name l
	for name in $(dmsetup ls 2>/dev/null | awk -v p="$P-" 'index($1, p) == 1 { print $1 }' | sort -r); do
		dmsetup resume "$name" >/dev/null 2>&1
	done
	# Snapshots (names end in -s<N>) before origins.
	for name in $(dmsetup ls 2>/dev/null | awk -v p="$P-s" 'index($1, p) == 1 { print $1 }') \
		    $(dmsetup ls 2>/dev/null | awk -v p="$P-" 'index($1, p) == 1 { print $1 }'); do
		dmsetup remove --retry "$name" >/dev/null 2>&1
	done
	for l in "${LOOPS[@]}"; do
		losetup -d "$l" 2>/dev/null
	done
	rm -rf "$W"
}

attach() {
	local dev
	dev=$(losetup -f --show "$1") || return 1
	LOOPS+=("$dev")
	echo "$dev"
}

check() { "$VSS_CHECK" "$@"; }

# origin_up STORE_DEV [feature args...]
origin_up() {
	local store=$1; shift
	dmsetup create "$P-o" --table "0 $OSECT vss-origin $ORIG $store $*"
}

origin_down() { dmsetup remove --retry "$P-o"; }

snap_take() {
	dmsetup suspend "$P-o"
	dmsetup message "$P-o" 0 create "$1"
	dmsetup resume "$P-o"
}

snap_up() {
	dmsetup create --readonly "$P-s$1" --table "0 $OSECT vss-snap $ORIG $2 $1"
}

# write_chunks FIRST COUNT: new random data over origin chunks, through dm.
write_chunks() {
	dd if=/dev/urandom of="/dev/mapper/$P-o" bs=4096 seek="$1" count="$2" \
		oflag=direct status=none
}

# Fields of the status lines.
origin_used() { dmsetup status "$P-o" | awk '{ split($5, u, "/"); print u[1] }'; }
snap_copied() { dmsetup status "$P-s$1" | awk '{ print $6 }'; }

# jq over vss-check --json of a store.
jcheck() { check --json "$1" | jq -r "$2"; }

# A store the kernel formatted and filled: snapshot 1, chunks 0-9 written,
# snapshot 2, chunks 5-14 written.  Snapshot 1 reads chunks 0-14 from the
# store, snapshot 2 chunks 5-14; 20 data chunks are in use.
kernel_store() {
	truncate -s $STORE_BYTES "$W/store.img"
	STORE=$(attach "$W/store.img")
	origin_up "$STORE"
	dd if=/dev/urandom of="/dev/mapper/$P-o" bs=1M count=8 oflag=direct status=none
	snap_take 1
	write_chunks 0 10
	snap_take 2
	write_chunks 5 10
}

@test "the kernel formats a store exactly as libvsscore does, and vss-check finds it clean" {
	truncate -s $STORE_BYTES "$W/store.img"
	STORE=$(attach "$W/store.img")
	origin_up "$STORE"
	origin_down
	run check "$STORE"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	check --json "$STORE" | jq -e '
		.superblock.seq == 1 and .superblock.version == 3 and .superblock.synced_seq == 0 and
		.superblock.chunk_sectors == 8 and .superblock.origin_sectors == 16384 and
		.superblock.store_chunks == 1024 and .superblock.data_chunks == 1018 and
		.superblock.nr_snaps == 0 and .superblock.last_epoch == 0 and
		.superblock_copies[0].seq == 1 and .superblock_copies[1].seq == 0 and
		.geometry.exception_blocks == 4 and .usage.used_chunks == 0'

	# Byte for byte, but for the random uuid and the checksums over it.
	truncate -s $STORE_BYTES "$W/lib.img"
	"$MKSTORE" "$W/lib.img" format $STORE_BYTES $OSECT 8
	cp "$W/store.img" "$W/kernel.img"
	for f in "$W/kernel.img" "$W/lib.img"; do
		for off in 4 4100; do
			dd if=/dev/zero of="$f" bs=1 seek=$off count=4 conv=notrunc status=none
		done
		for off in 64 4160; do
			dd if=/dev/zero of="$f" bs=1 seek=$off count=16 conv=notrunc status=none
		done
	done
	cmp "$W/kernel.img" "$W/lib.img"
}

@test "vss-check counts what the kernel counts, before and after a delete" {
	kernel_store
	snap_up 1 "$STORE"
	snap_up 2 "$STORE"
	[ "$(origin_used)" = 20 ]
	[ "$(snap_copied 1)" = 15 ]
	[ "$(snap_copied 2)" = 10 ]
	# The store is busy while the tables hold it.
	run check "$STORE"
	[ "$status" -eq 5 ]
	[[ "$output" == *"$STORE: cannot open: Device or resource busy"* ]]

	dmsetup remove "$P-s1" "$P-s2"
	origin_down
	run check --origin "$ORIG" "$STORE"
	[ "$status" -eq 0 ]
	check --json "$STORE" | jq -e '
		.clean and .superblock.nr_snaps == 2 and .superblock.last_epoch == 2 and
		.usage.used_chunks == 20 and .usage.free_records == 0 and
		(.snapshots | map({(.snap_id | tostring): .chunks}) | add) == {"1": 15, "2": 10}'

	# Delete snapshot 1: the ten chunks only it needed are free space.
	origin_up "$STORE"
	dmsetup message "$P-o" 0 delete 1
	[ "$(origin_used)" = 10 ]
	origin_down
	run check "$STORE"
	[ "$status" -eq 0 ]
	check --json "$STORE" | jq -e '
		.superblock.nr_snaps == 1 and .usage.used_chunks == 10 and
		.usage.free_records == 10 and .snapshots[0].snap_id == 2 and
		.snapshots[0].chunks == 10'

	# The kernel reads back what vss-check read.
	origin_up "$STORE"
	snap_up 2 "$STORE"
	[ "$(origin_used)" = 10 ]
	[ "$(snap_copied 2)" = 10 ]
}

# libvss_up: the origin filled with 0x11, $W/store.img (a store libvsscore
# wrote) under it, and snapshot 1 up.
libvss_up() {
	tr '\0' '\021' < /dev/zero | dd of="$W/origin.img" bs=1M count=8 conv=notrunc status=none \
		iflag=fullblock
	STORE=$(attach "$W/store.img")
	origin_up "$STORE"
	snap_up 1 "$STORE"
}

@test "a store written by libvsscore is served by the kernel" {
	# Snapshot 1 reads origin chunk 3 from data chunk 0 (filled with 0xab);
	# every other chunk from the origin (0x11).
	truncate -s $STORE_BYTES "$W/store.img"
	"$MKSTORE" "$W/store.img" format $STORE_BYTES $OSECT 8 snap 1 rec 0 3 1 fill 0 0xab sb
	run check "$W/store.img"
	[ "$status" -eq 0 ]
	libvss_up
	[ "$(origin_used)" = 1 ]
	[ "$(snap_copied 1)" = 1 ]
	head -c 4096 /dev/zero | tr '\0' '\253' > "$W/expect-ab"
	head -c 4096 /dev/zero | tr '\0' '\021' > "$W/expect-11"
	dd if="/dev/mapper/$P-s1" of="$W/chunk3" bs=4096 skip=3 count=1 status=none
	dd if="/dev/mapper/$P-s1" of="$W/chunk4" bs=4096 skip=4 count=1 status=none
	cmp "$W/chunk3" "$W/expect-ab"
	cmp "$W/chunk4" "$W/expect-11"
}

# Snapshot 1 of a libvsscore store, as above: chunk 3 from data chunk 0
# (0xab) or, if that record is not taken, from the origin (0x11).
expect_chunk3() {
	head -c 4096 /dev/zero | tr '\0' "$1" > "$W/expect"
	dd if="/dev/mapper/$P-s1" of="$W/chunk3" bs=4096 skip=3 count=1 status=none
	cmp "$W/chunk3" "$W/expect"
}

@test "a version 1 store is served, and rewritten as version 2 before its first commit" {
	truncate -s $STORE_BYTES "$W/store.img"
	"$MKSTORE" "$W/store.img" format $STORE_BYTES $OSECT 8 snap 1 rec 0 3 1 fill 0 0xab sb
	# version 1 in both copies (a record of format 1 has seq 0 and csum 0)
	"$MKSTORE" "$W/store.img" poke 8 1 seal 0 poke $((4096 + 8)) 1 seal 4096
	[ "$(jcheck "$W/store.img" '.superblock.version, .clean' | paste -sd' ')" = "1 true" ]
	libvss_up
	[ "$(origin_used)" = 1 ]
	expect_chunk3 '\253'
	dmsetup remove "$P-s1"
	origin_down
	check --json "$W/store.img" | jq -e '.clean and .superblock.version == 2 and
		([.superblock_copies[] | select(.valid)] | length == 2) and .usage.used_chunks == 1'
	# and a commit of format 2 after it: snapshot 1 keeps chunk 3
	origin_up "$STORE"
	snap_up 1 "$STORE"
	dd if=/dev/zero of="/dev/mapper/$P-o" bs=4096 seek=7 count=1 oflag=direct status=none
	[ "$(origin_used)" = 2 ]
	expect_chunk3 '\253'
}

@test "a record whose copy a crash lost is emptied at load; one whose copy is intact is kept" {
	# Commit 1 wrote the record of data chunk 0 (origin chunk 3) with the
	# checksum of 0xab, then only part of the copy landed (0xcd): the
	# origin write it held was never made.  synced_seq is 0.
	truncate -s $STORE_BYTES "$W/store.img"
	"$MKSTORE" "$W/store.img" format $STORE_BYTES $OSECT 8 snap 1 sb \
		fill 0 0xab recsum 0 3 1 1 fill 0 0xcd \
		fill 1 0x22 recsum 1 5 1 1
	check --ignore-non-fatal "$W/store.img"
	run check "$W/store.img"
	[ "$status" -eq 7 ]
	[[ "$output" == *"non-fatal: record 0 of block 2: data chunk 0 does not hold the copy of origin chunk 3 (commit 1, after the last synced commit 0)"*"[rec-copy-lost]"* ]]
	KMARK="store-check: $$-$RANDOM"
	echo "$KMARK" > /dev/kmsg
	libvss_up
	[ "$(origin_used)" = 1 ]	# origin chunk 5's copy only
	[ "$(snap_copied 1)" = 1 ]
	expect_chunk3 '\021'
	head -c 4096 /dev/zero | tr '\0' '\042' > "$W/expect"
	dd if="/dev/mapper/$P-s1" of="$W/chunk5" bs=4096 skip=5 count=1 status=none
	cmp "$W/chunk5" "$W/expect"
	dmesg | sed -n "/$KMARK/,\$p" | grep -q "emptying 1 records whose copies a crash lost"
	dmsetup remove "$P-s1"
	origin_down
	# emptied on disk: a clean store with one record
	check --json "$W/store.img" | jq -e '.clean and .usage.records == 1 and .usage.lost_records == 0'
}

# refused_by_both IMAGE NAME: vss-check names a fatal finding NAME in the
# damaged IMAGE, and the kernel refuses to load it.
refused_by_both() {
	local img=$1 name=$2 dev
	run check "$img"
	[ "$status" -eq 7 ]
	[[ "$output" == *"fatal: "*"[$name]"* ]]
	dev=$(attach "$img")
	run dmsetup create "$P-x" --table "0 $OSECT vss-origin $ORIG $dev"
	[ "$status" -ne 0 ]
	! dmsetup info "$P-x" >/dev/null 2>&1 || dmsetup remove "$P-x"
}

@test "damage that vss-check calls fatal, the kernel refuses" {
	kernel_store
	origin_down
	losetup -d "$STORE"
	LOOPS=("$ORIG")
	run check "$W/store.img"
	[ "$status" -eq 0 ]
	in_use=$(jcheck "$W/store.img" .superblock.copy)	# A or B
	sb=$([ "$in_use" = A ] && echo 0 || echo 4096)
	other=$([ "$in_use" = A ] && echo 4096 || echo 0)

	# One byte of an exception block (block 2, a record of data chunk 3)
	# of a version 2 store, whose records cannot prove themselves.
	cp "$W/store.img" "$W/d1.img"
	"$MKSTORE" "$W/d1.img" poke 8 2 seal 0 poke 4104 2 seal 4096 \
		poke $((2 * 4096 + 16 + 3 * 16 + 1)) 0x77
	refused_by_both "$W/d1.img" exc-bad-csum

	# The same in version 3: the block is taken record by record, and that
	# record is out of range.
	cp "$W/store.img" "$W/d1b.img"
	"$MKSTORE" "$W/d1b.img" poke $((2 * 4096 + 16 + 3 * 16 + 1)) 0x77
	refused_by_both "$W/d1b.img" rec-origin-beyond

	# A record pointing beyond the origin, under a valid checksum.
	cp "$W/store.img" "$W/d2.img"
	"$MKSTORE" "$W/d2.img" poke $((2 * 4096 + 16 + 3)) 0x01 seal $((2 * 4096))
	refused_by_both "$W/d2.img" rec-origin-beyond

	# Both superblock copies.
	cp "$W/store.img" "$W/d3.img"
	"$MKSTORE" "$W/d3.img" poke 200 0x01 poke $((4096 + 200)) 0x01
	refused_by_both "$W/d3.img" sb-bad-csum

	# The snapshot table: slot 1 takes slot 0's id, in both copies.
	cp "$W/store.img" "$W/d4.img"
	id0=$(od -An -tu1 -j $((sb + 128)) -N1 "$W/store.img" | tr -d ' ')
	"$MKSTORE" "$W/d4.img" poke $((sb + 128 + 24)) "$id0" seal "$sb"
	"$MKSTORE" "$W/d4.img" poke $((other + 128 + 24)) "$id0" seal "$other"
	refused_by_both "$W/d4.img" snap-duplicate-id

	# Something else on the device.
	cp "$W/store.img" "$W/d5.img"
	dd if=/dev/urandom of="$W/d5.img" bs=4096 count=2 conv=notrunc status=none
	refused_by_both "$W/d5.img" no-superblock
}

@test "a damaged superblock copy: the older one is non-fatal; without the newer one, later copies are checked" {
	kernel_store
	origin_down
	in_use=$(jcheck "$STORE" .superblock.copy)
	seq=$(jcheck "$STORE" .superblock.seq)
	losetup -d "$STORE"
	LOOPS=("$ORIG")
	older=$([ "$in_use" = A ] && echo B || echo A)
	sb_older=$([ "$older" = A ] && echo 0 || echo 4096)
	sb_newer=$([ "$in_use" = A ] && echo 0 || echo 4096)

	# The older copy: the kernel uses the newer one, and its next update
	# (create 3) rewrites the damaged copy.
	cp "$W/store.img" "$W/older.img"
	"$MKSTORE" "$W/older.img" poke $((sb_older + 3000)) 0x42
	run check "$W/older.img"
	[ "$status" -eq 7 ]
	[ "$output" = "$W/older.img: non-fatal: superblock $older: bad checksum; using copy $in_use [sb-bad-csum]" ]
	run check --ignore-non-fatal "$W/older.img"
	[ "$status" -eq 0 ]
	STORE=$(attach "$W/older.img")
	origin_up "$STORE"
	snap_take 3
	origin_down
	run check "$STORE"
	[ "$status" -eq 0 ]
	[ "$(jcheck "$STORE" .superblock.seq)" -eq $((seq + 1)) ]
	[ "$(jcheck "$STORE" .superblock.copy)" = "$older" ]

	# The newer copy, which recorded the last commits as synced when the
	# table went: the older one, written when snapshot 2 was taken, is used,
	# and the 10 copies made since are checked against their checksums.
	cp "$W/store.img" "$W/newer.img"
	"$MKSTORE" "$W/newer.img" poke $((sb_newer + 3000)) 0x42
	run check "$W/newer.img"
	[ "$status" -eq 7 ]
	[ "$output" = "$W/newer.img: non-fatal: superblock $in_use: bad checksum; using copy $older [sb-bad-csum]" ]
	check --json "$W/newer.img" | jq -e '.usage | .unsynced_records == 10 and
		.lost_records == 0 and .used_chunks == 20'
	dev=$(attach "$W/newer.img")
	dmsetup create "$P-x" --table "0 $OSECT vss-origin $ORIG $dev"
	[ "$(dmsetup status "$P-x" | awk '{ split($5, u, "/"); print u[1] }')" = 20 ]
}
