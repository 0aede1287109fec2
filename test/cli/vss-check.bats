#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# vss-check on store images built without the kernel (test/tools/mkstore):
# exit status, findings, --dump and --json.  Runs on the host, no root.
#
# VSS_BINDIR selects the commands under test (default: build/bin).

bats_require_minimum_version 1.5.0

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export TOP
	export VSS_CHECK=${VSS_BINDIR:-$TOP/build/bin}/vss-check
	[ -x "$VSS_CHECK" ] || { echo "no $VSS_CHECK: run make first" >&2; return 1; }
	# The image builder is compiled from the library's sources, so it
	# needs only a C compiler.
	export MKSTORE=$BATS_FILE_TMPDIR/mkstore
	${CC:-cc} -O1 -I"$TOP/libvsscore" -I"$TOP/dm-vss" -o "$MKSTORE" \
		"$TOP/test/tools/mkstore.c" "$TOP/libvsscore/store.c" "$TOP/libvsscore/crc32c.c"
}

setup() {
	S=$BATS_TEST_TMPDIR/store.img
}

check() { "$VSS_CHECK" "$@"; }
mk() { "$MKSTORE" "$S" "$@"; }

# A 4 MiB store of 4 KiB chunks for a 8 MiB origin (2048 chunks): the
# header is chunks 0-1, group 0's metadata chunk is block 2 (data chunks
# 0-254), group 1's is block 258 (data chunks 255-509), and so on.
fresh() { mk format $((4 << 20)) 16384 8 "$@"; }

# Snapshots 1..5 (epochs 1..5), then 2..4 deleted; origin chunk 7 copied
# at epochs 1, 3 and 5, origin chunk 8 at epoch 5: the epoch-3 copy serves
# no snapshot left and is free space; the chunk-8 copy serves snapshots 1 and 5.
content() {
	fresh snap 1 snap 2 snap 3 snap 4 snap 5 state 2 free state 3 free state 4 free \
		rec 0 7 1 rec 1 7 3 rec 2 7 5 rec 260 8 5 sb
}

poke() { mk poke "$@"; }

# as_v2: the store says format version 2 (both superblock copies), whose
# records' data_csum cover their copies only: no record proves itself.
as_v2() { poke 8 2 && mk seal 0 && poke 4104 2 && mk seal 4096; }

@test "--help prints the usage on stdout and exits 0" {
	run --separate-stderr check --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Usage: vss-check [OPTION...] DEV"* ]]
	[[ "$output" == *"--dump"* && "$output" == *"--json"* ]]
	[ -z "$stderr" ]
}

@test "--version prints the version and exits 0" {
	run check --version
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^vss-check\ \(dm-vss\)\ [0-9] ]]
}

@test "an unknown option, no DEV or two DEVs is bad usage: exit 1" {
	run check --no-such-option x
	[ "$status" -eq 1 ]
	[[ "$output" == *"--no-such-option: unknown option"* ]]
	run check
	[ "$status" -eq 1 ]
	[[ "$output" == *"no store device given"* ]]
	run check a b
	[ "$status" -eq 1 ]
	[[ "$output" == *"too many arguments"* ]]
}

@test "a missing device: exit 4, <object>: <what failed>: <why>" {
	run check "$BATS_TEST_TMPDIR/nothing"
	[ "$status" -eq 4 ]
	[ "$output" = "vss-check: $BATS_TEST_TMPDIR/nothing: cannot open: No such file or directory" ]
}

@test "an unreadable device: exit 2" {
	fresh
	chmod 600 "$S"
	if [ "$(id -u)" = 0 ]; then
		command -v setpriv >/dev/null || skip "root, and no setpriv to drop it"
		chmod 755 "$BATS_TEST_TMPDIR"
		run setpriv --reuid=65534 --regid=65534 --clear-groups "$VSS_CHECK" "$S"
	else
		run check "$S"
	fi
	[ "$status" -eq 2 ]
	[[ "$output" == *"$S: cannot open: Permission denied"* ]]
}

@test "a freshly formatted store is clean: exit 0, silent" {
	fresh
	run check "$S"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run check --verbose "$S"
	[ "$status" -eq 0 ]
	[[ "$output" == *"clean: 0 snapshots, 0 of 1018 data chunks in use"* ]]
}

@test "a store with snapshots and copies is clean" {
	content
	run check "$S"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "a zeroed store is not formatted, not corrupt: exit 4" {
	truncate -s 1M "$S"
	run check "$S"
	[ "$status" -eq 4 ]
	[[ "$output" == *"$S: not formatted: the first 4 KiB are zero"* ]]
	[[ "$output" != *fatal* ]]
}

@test "a device holding something else: fatal no-superblock, exit 7" {
	truncate -s 1M "$S"
	printf 'LUKS\xba\xbe' | dd of="$S" conv=notrunc status=none
	run check "$S"
	[ "$status" -eq 7 ]
	[[ "$output" == *"$S: fatal: no dm-vss superblock at byte 0 or 4096"*"[no-superblock]"* ]]
}

@test "superblock A damaged, B good: non-fatal, exit 7 or 0 with --ignore-non-fatal" {
	content
	poke 300 0x55
	run check "$S"
	[ "$status" -eq 7 ]
	[ "$output" = "$S: non-fatal: superblock A: bad checksum; using copy B [sb-bad-csum]" ]
	run check --ignore-non-fatal "$S"
	[ "$status" -eq 0 ]
}

@test "both superblock copies damaged: fatal, exit 7" {
	content
	poke 300 0x55
	poke $((4096 + 300)) 0x55
	run check "$S"
	[ "$status" -eq 7 ]
	[[ "$output" == *"$S: fatal: superblock A: bad checksum; no valid superblock copy [sb-bad-csum]"* ]]
	[[ "$output" == *"$S: fatal: superblock B: bad checksum; no valid superblock copy [sb-bad-csum]"* ]]
	run check --ignore-non-fatal "$S"
	[ "$status" -eq 7 ]
}

@test "one byte of an exception block: version 2, fatal exc-bad-csum naming the block; version 3, the records judged one by one" {
	content
	as_v2
	poke $((258 * 4096 + 16 + 5 * 16)) 0x01
	run check "$S"
	[ "$status" -eq 7 ]
	[ "$output" = "$S: fatal: exception block 258 (byte offset 1056768): bad checksum [exc-bad-csum]" ]

	# version 3: the block is taken as a torn one; the damaged record (of
	# data chunk 260, read by snapshots 1 and 5) proves nothing: fatal
	content
	poke $((258 * 4096 + 16 + 5 * 16)) 0x01
	run check "$S"
	[ "$status" -eq 7 ]
	[[ "$output" == *"$S: non-fatal: exception block 258 (byte offset 1056768): bad checksum, as a write torn by a crash leaves it"*"[exc-torn]"* ]]
	[[ "$output" == *"$S: fatal: the record of data chunk 260 (origin chunk 1, epoch 5) is in a torn exception block and does not match its copy, and a valid snapshot reads it [rec-torn-unproven]"* ]]
}

@test "a record field changed under a valid checksum: fatal rec-origin-beyond" {
	content
	# Record 0 of block 2 (data chunk 0): origin chunk 7 -> 0x10007.
	poke $((2 * 4096 + 16 + 2)) 0x01
	mk seal $((2 * 4096))
	run check "$S"
	[ "$status" -eq 7 ]
	[ "$output" = "$S: fatal: record 0 of block 2: origin chunk 65543 beyond origin size (2048 chunks) [rec-origin-beyond]" ]
}

@test "the snapshot table: duplicate snap_id, epoch beyond last_epoch" {
	content
	# Snapshot 5 is in slot 4 (byte 128 + 4 * 24); copy B (seq 2) is in use.
	poke $((4096 + 128 + 4 * 24)) 1
	mk seal 4096
	run check "$S"
	[ "$status" -eq 7 ]
	[[ "$output" == *"$S: fatal: snapshot slot 4: duplicate snap_id 1 (also in slot 0) [snap-duplicate-id]"* ]]

	content
	poke $((4096 + 128 + 4 * 24 + 8)) 9
	mk seal 4096
	run check "$S"
	[ "$status" -eq 7 ]
	[[ "$output" == *"$S: fatal: snapshot slot 4: epoch 9 > last_epoch 5 [snap-epoch-beyond]"* ]]
}

@test "superblock fields: version, flags, chunk size" {
	fresh
	poke 8 4
	mk seal 0
	poke 4104 4
	mk seal 4096
	run check "$S"
	[ "$status" -eq 7 ]
	[[ "$output" == *"superblock A: unknown format version 4 (this reader knows 1 to 3)"*"[sb-version]"* ]]

	fresh
	poke 12 1
	mk seal 0
	run check "$S"
	[ "$status" -eq 7 ]
	[[ "$output" == *"superblock A: unknown feature flags 0x1 [sb-flags]"* ]]

	fresh
	poke 40 12
	mk seal 0
	run check "$S"
	[ "$status" -eq 7 ]
	[[ "$output" == *"superblock A: chunk_sectors 12 is not a power of two in 8..2048 [sb-chunk-size]"* ]]
}

@test "--origin: a store of another origin's size is fatal" {
	fresh
	truncate -s 8M "$BATS_TEST_TMPDIR/origin.img"
	run check --origin "$BATS_TEST_TMPDIR/origin.img" "$S"
	[ "$status" -eq 0 ]
	truncate -s 16M "$BATS_TEST_TMPDIR/origin.img"
	run check --origin "$BATS_TEST_TMPDIR/origin.img" "$S"
	[ "$status" -eq 7 ]
	[ "$output" = "$S: fatal: superblock A: origin_sectors 16384, but the origin has 32768 sectors: the store belongs to another origin [sb-origin-size]" ]
	run check --origin "$BATS_TEST_TMPDIR/none" "$S"
	[ "$status" -eq 4 ]
	[ "$output" = "vss-check: $BATS_TEST_TMPDIR/none: cannot read the origin's size: No such file or directory" ]
}

@test "a store larger than its device: fatal" {
	fresh
	truncate -s 2M "$S"
	run check "$S"
	[ "$status" -eq 7 ]
	[[ "$output" == *"superblock A: store_chunks 1024 larger than the device (512 chunks of 8 sectors) [sb-store-beyond-device]"* ]]
	[[ "$output" == *"lie beyond the end of the device [exc-beyond-device]"* ]]
}

@test "many findings of one kind: ten shown, the rest counted; --verbose shows all" {
	fresh
	# Zero the metadata chunks of groups 1, 2 and 3.
	for b in 258 514 770; do
		dd if=/dev/zero of="$S" bs=4096 seek=$b count=1 conv=notrunc status=none
	done
	# And twelve records of group 0 with an epoch no snapshot ever had.
	local args=() d
	for d in $(seq 0 11); do args+=(rec "$d" 5 3); done
	mk "${args[@]}"
	run check "$S"
	[ "$status" -eq 7 ]
	[ "$(grep -c '\[exc-zero\]' <<<"$output")" -eq 3 ]
	[ "$(grep -c '\[rec-epoch-beyond\]' <<<"$output")" -eq 10 ]
	[[ "$output" == *"$S: 2 more findings of kind rec-epoch-beyond not shown (see --verbose)"* ]]
	run check --verbose "$S"
	[ "$(grep -c '\[rec-epoch-beyond\]' <<<"$output")" -eq 12 ]
}

@test "--quiet prints nothing; the exit status tells" {
	content
	poke 300 0x55
	poke $((4096 + 300)) 0x55
	run check --quiet "$S"
	[ "$status" -eq 7 ]
	[ -z "$output" ]
}

@test "--dump prints the superblock, the snapshot table and chunk counts" {
	content
	run --separate-stderr check --dump "$S"
	[ "$status" -eq 0 ]
	[[ "$output" == *"superblock B:      valid, seq 2 (in use)"* ]]
	[[ "$output" == *"chunk size:        8 sectors"* ]]
	[[ "$output" == *"last epoch:        5"* ]]
	[[ "$output" == *"used data chunks:  3"* ]]
	[[ "$output" == *"records:           4 (1 of them free space)"* ]]
	grep -Eq '^0 +1 +valid +1 +2023-11-14T22:13:20Z +2$' <<<"$output"
	grep -Eq '^4 +5 +valid +5 +2023-11-14T22:13:20Z +2$' <<<"$output"
}

@test "--json: real types and the documented fields" {
	content
	run --separate-stderr check --dump --json "$S"
	[ "$status" -eq 0 ]
	jq -e . <<<"$output" >/dev/null
	jq -e '
		(.device | type == "string") and
		(.device_bytes == 4194304) and
		(.state == "formatted") and
		(.clean == true) and (.fatal == 0) and (.non_fatal == 0) and
		(.superblock_copies | length == 2) and
		(.superblock_copies[0] | .copy == "A" and .valid == true and .seq == 1 and .in_use == false) and
		(.superblock_copies[1] | .copy == "B" and .seq == 2 and .in_use == true) and
		(.superblock | .copy == "B" and .seq == 2 and .version == 3 and .flags == 0 and .synced_seq == 0 and
			.chunk_sectors == 8 and .origin_sectors == 16384 and .store_chunks == 1024 and
			.data_chunks == 1018 and .nr_snaps == 2 and .last_epoch == 5 and
			(.uuid | test("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"))) and
		(.geometry | .chunk_bytes == 4096 and .header_chunks == 2 and
			.group_data_chunks == 255 and .origin_chunks == 2048 and .exception_blocks == 4) and
		(.usage | .used_chunks == 3 and .free_chunks == 1015 and .records == 4 and
			.free_records == 1 and .bad_exception_blocks == 0 and
			.unsynced_records == 0 and .lost_records == 0) and
		(.snapshots | length == 2) and
		(.snapshots[0] | .slot == 0 and .snap_id == 1 and .state == "valid" and .epoch == 1 and
			.ctime == 1700000000 and .created == "2023-11-14T22:13:20Z" and .chunks == 2) and
		(.snapshots[1] | .slot == 4 and .snap_id == 5 and .chunks == 2) and
		(.findings == [])
	' <<<"$output"
	# --json alone implies --dump.
	run --separate-stderr check --json "$S"
	[ "$status" -eq 0 ]
	jq -e '.snapshots | length == 2' <<<"$output"
}

@test "--json on a damaged store: findings in the JSON, exit 7" {
	content
	as_v2
	poke 300 0x55
	poke $((258 * 4096 + 100)) 0x55
	run --separate-stderr check --json "$S"
	[ "$status" -eq 7 ]
	jq -e '
		(.clean == false) and (.fatal == 1) and (.non_fatal == 1) and
		(.superblock.copy == "B") and
		(.findings | length == 2) and
		(.findings | map(.severity) | sort == ["fatal", "non-fatal"]) and
		(.findings | map(.name) | sort == ["exc-bad-csum", "sb-bad-csum"]) and
		(.findings | all(.message | type == "string"))
	' <<<"$output"
	[[ "$stderr" == *"[exc-bad-csum]"* ]]

	# No superblock at all: still valid JSON, nulls where nothing is known.
	truncate -s 0 "$S"
	truncate -s 1M "$S"
	run --separate-stderr check --json "$S"
	[ "$status" -eq 4 ]
	jq -e '(.state == "unformatted") and (.superblock == null) and (.usage == null) and
		(.snapshots == [])' <<<"$output"
}
