#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# vss-receive on streams built without the kernel (test/tools/mkstream):
# a full stream and three incrementals reproduce each image exactly, in a
# file and on a loop device; broken, foreign and misplaced streams are
# refused with their exit status and leave the target refusing
# incrementals until a full stream; --force, --json, --status, a terminal
# on standard input, sparse files.  Runs on the host; the loop device test
# needs root and loop devices, and is skipped without them.
#
# VSS_BINDIR selects the commands under test (default: build/bin).

bats_require_minimum_version 1.5.0

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export TOP
	export RECEIVE=${VSS_BINDIR:-$TOP/build/bin}/vss-receive
	[ -x "$RECEIVE" ] || { echo "no $RECEIVE: run make first" >&2; return 1; }
	# The stream builder is compiled from the library's sources, so it
	# needs only a C compiler.
	export MKSTREAM=$BATS_FILE_TMPDIR/mkstream
	${CC:-cc} -O1 -I"$TOP/libvsscore" -o "$MKSTREAM" "$TOP/test/tools/mkstream.c" \
		"$TOP/libvsscore/stream.c" "$TOP/libvsscore/sha256.c" "$TOP/libvsscore/crc32c.c"
	# Four images of a 4 MiB volume, each a few 64 KiB chunks away from the
	# one before: new data, chunks that become zero, zeros that become data.
	local d=$BATS_FILE_TMPDIR
	head -c $((1 << 20)) /dev/urandom > "$d/img0"
	truncate -s $((4 << 20)) "$d/img0"
	cp "$d/img0" "$d/img1"
	dd if=/dev/urandom of="$d/img1" bs=64k seek=3 count=2 conv=notrunc status=none
	dd if=/dev/urandom of="$d/img1" bs=64k seek=40 count=1 conv=notrunc status=none
	cp "$d/img1" "$d/img2"
	dd if=/dev/zero of="$d/img2" bs=64k seek=4 count=3 conv=notrunc status=none
	dd if=/dev/urandom of="$d/img2" bs=4k seek=1000 count=1 conv=notrunc status=none
	cp "$d/img2" "$d/img3"
	dd if=/dev/urandom of="$d/img3" bs=64k seek=0 count=1 conv=notrunc status=none
	dd if=/dev/zero of="$d/img3" bs=64k seek=40 count=1 conv=notrunc status=none
	dd if=/dev/urandom of="$d/img3" bs=64k seek=63 count=1 conv=notrunc status=none
	# The streams: full of each, and the incrementals 1->2, 2->3, 3->4.
	local i
	for i in 0 1 2 3; do
		"$MKSTREAM" --to $((i + 1)) "$d/img$i" > "$d/full$i" 2>/dev/null
	done
	for i in 1 2 3; do
		"$MKSTREAM" --from "$i" --to $((i + 1)) --base "$d/img$((i - 1))" "$d/img$i" \
			> "$d/inc$i" 2>/dev/null
	done
}

setup() {
	export VSS_STATE_DIR=$BATS_TEST_TMPDIR/state VSS_RUN_DIR=$BATS_TEST_TMPDIR/run
	export VSS_CONF_DIR=$BATS_TEST_TMPDIR/conf
	D=$BATS_FILE_TMPDIR
	T=$BATS_TEST_TMPDIR/replica.img
	LOOP=
}

teardown() {
	# only the loop device this test attached
	[ -z "$LOOP" ] || losetup -d "$LOOP"
}

recv() { "$RECEIVE" "$@"; }

# A target holding shadow copy 2 (the full stream of img0, then inc1).
at_two() {
	recv -q "$T" < "$D/full0"
	recv -q "$T" < "$D/inc1"
	cmp "$T" "$D/img1"
}

# The target refuses the incremental it would have taken, saying it is incomplete.
refuses_incrementals() {
	run --separate-stderr recv "$T" < "$D/inc2"
	[ "$status" -eq 5 ] || { echo "exit $status: $stderr"; return 1; }
	[[ $stderr == *"$T: cannot apply the incremental stream: the target holds an incomplete image"* ]] ||
		{ echo "$stderr"; return 1; }
	# a full stream makes it whole again, and the incrementals go on from it
	recv -q "$T" < "$D/full1"
	cmp "$T" "$D/img1"
	recv -q "$T" < "$D/inc2"
	recv -q "$T" < "$D/inc3"
	cmp "$T" "$D/img3"
}

@test "mkstream made incrementals of changed chunks only" {
	# inc1: chunks 3, 4 and 40, a record each; the full stream: every chunk
	run -0 --separate-stderr "$MKSTREAM" --from 1 --to 2 --base "$D/img0" "$D/img1"
	[[ $stderr == "mkstream: 3 records, 196608 data bytes, 0 zero bytes,"* ]] || { echo "$stderr"; false; }
	[ "$(stat -c %s "$D/full0")" -gt $((1 << 20)) ]
	[ "$(stat -c %s "$D/inc1")" -lt $((256 << 10)) ]
}

@test "a full stream then three incrementals reproduce each image in a file" {
	run -0 --separate-stderr recv "$T" < "$D/full0"
	[[ $output == "$T: received shadow copy 1 of volume 00112233-4455-6677-8899-aabbccddeeff (full): "* ]]
	[ -z "$stderr" ]
	cmp "$T" "$D/img0"
	local n
	for n in 1 2 3; do
		run -0 recv "$T" < "$D/inc$n"
		[[ $output == *"received shadow copy $((n + 1)) of volume"*"(incremental from $n)"* ]]
		cmp "$T" "$D/img$n"
		[ "$(sha256sum < "$T")" = "$(sha256sum < "$D/img$n")" ]
	done
	run -0 recv --status "$T"
	[[ $output == "$T: holds shadow copy 4 of volume 00112233-4455-6677-8899-aabbccddeeff, created 2023-11-14T22:13:24Z" ]]
	run -0 recv --status --json "$T"
	[ "$(jq -c . <<<"$output")" = '{"target":"'"$T"'","received":true,"complete":true,"volume_uuid":"00112233-4455-6677-8899-aabbccddeeff","shadow_id":4,"created":"2023-11-14T22:13:24Z"}' ]
}

@test "--json prints what was received, numbers as numbers" {
	run -0 --separate-stderr recv --json "$T" < "$D/full0"
	[ "$(jq -c '[.target, .volume_uuid, .shadow_id, .from_id, (.records|type), .data_bytes + .zero_bytes]' <<<"$output")" = \
		'["'"$T"'","00112233-4455-6677-8899-aabbccddeeff",1,null,"number",4194304]' ]
	run -0 --separate-stderr recv --json "$T" < "$D/inc1"
	[ "$(jq -c '[.shadow_id, .from_id, .records, .data_bytes, .zero_bytes]' <<<"$output")" = '[2,1,3,196608,0]' ]
	# -q prints nothing on success
	run -0 recv -q "$T" < "$D/inc2"
	[ -z "$output" ]
}

@test "a full stream makes a sparse file; zeros of an incremental punch holes" {
	run -0 recv "$T" < "$D/full0"
	# 1 MiB of data in a 4 MiB volume
	[ "$(stat -c %s "$T")" -eq $((4 << 20)) ]
	[ "$(du -k "$T" | cut -f1)" -lt 1500 ]
	# the full stream of img0 carried its zeros as zero records
	run -0 --separate-stderr recv --json "$T" < "$D/full0"
	[ "$(jq .zero_bytes <<<"$output")" -ge $((3 << 20)) ]
	at_two
	local before after
	before=$(du -k "$T" | cut -f1)
	recv -q "$T" < "$D/inc2"	# chunks 4-6 become zero: 128 KiB of data left out
	after=$(du -k "$T" | cut -f1)
	cmp "$T" "$D/img2"
	[ "$after" -lt "$before" ]
}

@test "a full stream replaces an existing larger file, whatever it held" {
	head -c $((6 << 20)) /dev/urandom > "$T"
	run -0 recv "$T" < "$D/full2"
	cmp "$T" "$D/img2"
	recv -q "$T" < "$D/inc3"
	cmp "$T" "$D/img3"
}

@test "a truncated stream is refused (exit 1) and the target takes no incremental until a full stream" {
	local size cut
	size=$(stat -c %s "$D/inc2")
	for cut in $((size - 1)) $((size - 40)) 200 130; do
		at_two
		head -c "$cut" "$D/inc2" > "$BATS_TEST_TMPDIR/cut"
		run --separate-stderr recv "$T" < "$BATS_TEST_TMPDIR/cut"
		[ "$status" -eq 1 ] || { echo "cut at $cut: exit $status: $stderr"; false; }
		[[ $stderr == "vss-receive: $T: cannot receive shadow copy 3: truncated: the input ends before the trailer; the target is marked incomplete and takes a full stream next" ]]
	done
	run -0 recv --status "$T"
	[[ $output == "$T: holds an incomplete image (not fully received) of shadow copy 3 of volume"* ]]
	refuses_incrementals
}

@test "a bit flipped anywhere is refused (exit 1), and the target then takes no incremental" {
	local size at
	size=$(stat -c %s "$D/inc2")
	for at in 0 9 40 130 150 $((size / 2)) $((size - 40)) $((size - 1)); do
		at_two
		cp "$D/inc2" "$BATS_TEST_TMPDIR/flip"
		printf "$(printf '\\%03o' $(( $(od -An -tu1 -j "$at" -N1 "$D/inc2") ^ 1 )))" |
			dd of="$BATS_TEST_TMPDIR/flip" bs=1 seek="$at" conv=notrunc status=none
		! cmp -s "$BATS_TEST_TMPDIR/flip" "$D/inc2"
		run --separate-stderr recv "$T" < "$BATS_TEST_TMPDIR/flip"
		[ "$status" -eq 1 ] || { echo "byte $at: exit $status: $stderr"; false; }
		[[ $stderr == "vss-receive: $T: cannot receive"* ]] || { echo "byte $at: $stderr"; false; }
		run -0 recv --status "$T"
		[[ $output == *"holds an incomplete image"* ]] || { echo "byte $at: $output"; false; }
	done
	# a flip in the data (inc1 ends with a DATA record): only the digest tells
	recv -q "$T" < "$D/full0"
	cp "$D/inc1" "$BATS_TEST_TMPDIR/flip"
	size=$(stat -c %s "$D/inc1")
	printf 'X' | dd of="$BATS_TEST_TMPDIR/flip" bs=1 seek=$((size - 64 - 100)) conv=notrunc status=none
	! cmp -s "$BATS_TEST_TMPDIR/flip" "$D/inc1"
	run -1 --separate-stderr recv "$T" < "$BATS_TEST_TMPDIR/flip"
	[[ $stderr == *"the SHA-256 digest does not match: the stream is corrupt; the target is marked incomplete"* ]]
	refuses_incrementals
}

@test "records out of order are refused (exit 1)" {
	# inc1 holds three records of a 64 KiB chunk each: 3, 4 and 40; the
	# last and the first swapped
	local s=$D/inc1 r=$BATS_TEST_TMPDIR/reordered n=$((24 + 65536))
	{
		head -c 128 "$s"
		tail -c +$((128 + 2 * n + 1)) "$s" | head -c "$n"
		tail -c +$((128 + n + 1)) "$s" | head -c "$n"
		tail -c +129 "$s" | head -c "$n"
		tail -c 64 "$s"
	} > "$r"
	[ "$(stat -c %s "$r")" -eq "$(stat -c %s "$s")" ]
	recv -q "$T" < "$D/full0"
	run -1 --separate-stderr recv "$T" < "$r"
	[[ $stderr == "vss-receive: $T: cannot receive shadow copy 2: record 2 at offset 262144: out of order or overlapping the one before (which ends at 2686976)"* ]] || { echo "$stderr"; false; }
	run -5 recv "$T" < "$D/inc1"
	recv -q "$T" < "$D/full1"
	cmp "$T" "$D/img1"
}

@test "another version, not a stream, nothing, data after the end: exit 1" {
	at_two
	"$MKSTREAM" --from 2 --to 3 --base "$D/img1" --header-version 2 "$D/img2" \
		> "$BATS_TEST_TMPDIR/v2" 2>/dev/null
	run -1 --separate-stderr recv "$T" < "$BATS_TEST_TMPDIR/v2"
	[ "$stderr" = "vss-receive: $T: cannot receive: the stream is of another format version (this receiver reads version 1)" ]
	cmp "$T" "$D/img1"	# nothing written
	run -0 recv --status "$T"
	[[ $output == *"holds an incomplete image (not fully received) of shadow copy 2 "* ]]
	recv -q "$T" < "$D/full1"

	run -1 --separate-stderr recv "$T" <<<"#!/bin/sh: not a stream at all"
	[ "$stderr" = "vss-receive: $T: cannot receive: the input is not a send stream, or its header is damaged" ]
	recv -q "$T" < "$D/full1"
	run -1 --separate-stderr recv "$T" < /dev/null
	[ "$stderr" = "vss-receive: $T: cannot receive: the input ends inside the stream's header" ]
	recv -q "$T" < "$D/full1"
	run -1 --separate-stderr recv "$T" < <(cat "$D/inc2"; printf x)
	[[ $stderr == *": data follow the trailer; the target is marked incomplete"* ]]
	refuses_incrementals
}

@test "an incremental of another volume is refused (exit 5) and marks the target incomplete" {
	at_two
	"$MKSTREAM" --uuid ffeeddccbbaa99887766554433221100 --from 2 --to 3 --base "$D/img1" \
		"$D/img2" > "$BATS_TEST_TMPDIR/other" 2>/dev/null
	run -5 --separate-stderr recv "$T" < "$BATS_TEST_TMPDIR/other"
	[ "$stderr" = "vss-receive: $T: cannot apply the incremental stream: the target holds shadow copy 2 of volume 00112233-4455-6677-8899-aabbccddeeff; the stream needs shadow copy 2 of volume ffeeddcc-bbaa-9988-7766-554433221100 (another volume: the target is marked incomplete and takes a full stream next)" ]
	cmp "$T" "$D/img1"
	refuses_incrementals
}

@test "an incremental from another shadow copy is refused (exit 5), the target left as it was" {
	at_two
	run -5 --separate-stderr recv "$T" < "$D/inc3"
	[ "$stderr" = "vss-receive: $T: cannot apply the incremental stream: the target holds shadow copy 2 of volume 00112233-4455-6677-8899-aabbccddeeff; the stream needs shadow copy 3 of volume 00112233-4455-6677-8899-aabbccddeeff (receive a full stream, or --force)" ]
	run -5 recv "$T" < "$D/inc1"	# the one it holds already
	cmp "$T" "$D/img1"
	recv -q "$T" < "$D/inc2"
	cmp "$T" "$D/img2"
}

@test "an incremental needs a target: exit 4 for a missing file, exit 5 for one that holds nothing" {
	run -4 --separate-stderr recv "$T" < "$D/inc1"
	[[ $stderr == *"$T: an incremental stream applies only on a target that holds shadow copy 1: receive a full stream first" ]]
	[ ! -e "$T" ]
	cp "$D/img0" "$T"
	run -5 --separate-stderr recv "$T" < "$D/inc1"
	[[ $stderr == *"the target holds no received image; the stream needs shadow copy 1 of volume"* ]]
	run -4 --separate-stderr recv "$BATS_TEST_TMPDIR/no/such/dir/img" < "$D/full0"
	[[ $stderr == "vss-receive: $BATS_TEST_TMPDIR/no/such/dir/img: cannot create the target: No such file or directory" ]]
	run -1 --separate-stderr recv "$BATS_TEST_TMPDIR" < "$D/full0"
	[[ $stderr == *"not a block device or a regular file" ]]
}

@test "--force applies an incremental whatever the target holds" {
	cp "$D/img0" "$T"	# the right image, but not received
	run -5 recv "$T" < "$D/inc1"
	run -0 --separate-stderr recv --force "$T" < "$D/inc1"
	[[ $stderr == "vss-receive: warning: $T: the target holds no received image; the incremental stream needs shadow copy 1 of volume"*"applied anyway (--force)" ]]
	cmp "$T" "$D/img1"
	# after a refused stream, too
	head -c 1000 "$D/inc2" | recv -q "$T" && false
	run -5 recv "$T" < "$D/inc2"
	run -0 recv -f -q "$T" < "$D/inc2"
	cmp "$T" "$D/img2"
	run -0 recv --status "$T"
	[[ $output == "$T: holds shadow copy 3 of volume"* ]]
}

@test "a stream is not read from a terminal" {
	command -v script >/dev/null || skip "script (util-linux) is not installed"
	run script -qec "$RECEIVE $T" /dev/null
	[ "$status" -eq 1 ]
	[[ $output == *"standard input: is a terminal: give a stream, as in vss-send ID | vss-receive $T"* ]]
	[ ! -e "$T" ]
}

@test "no target, two targets: exit 1" {
	run -1 --separate-stderr recv < "$D/full0"
	[[ $stderr == *"no target given"* ]]
	run -1 --separate-stderr recv "$T" "$T.2" < "$D/full0"
	[[ $stderr == *"too many arguments"* ]]
	[ ! -e "$T" ]
}

@test "on a loop device: full then three incrementals, the record in the state directory" {
	[ "$(id -u)" -eq 0 ] || skip "loop devices need root"
	truncate -s $((5 << 20)) "$BATS_TEST_TMPDIR/backing"
	LOOP=$(losetup -f --show "$BATS_TEST_TMPDIR/backing" 2>/dev/null) ||
		{ LOOP=; skip "no loop device here"; }
	[ -b "$LOOP" ]
	dd if=/dev/urandom of="$LOOP" bs=1M count=5 status=none
	run -0 recv "$LOOP" < "$D/full0"
	cmp -n $((4 << 20)) "$LOOP" "$D/img0"
	local n
	for n in 1 2 3; do
		run -0 recv "$LOOP" < "$D/inc$n"
		cmp -n $((4 << 20)) "$LOOP" "$D/img$n"
	done
	local majmin rec
	majmin=$(printf '%d:%d' "0x$(stat -c %t "$LOOP")" "0x$(stat -c %T "$LOOP")")
	rec=$VSS_STATE_DIR/received/$majmin.json
	[ -f "$rec" ]
	[ "$(jq -c '[.shadow_id, .complete, .identity]' "$rec")" = "[4,true,\"loop:$BATS_TEST_TMPDIR/backing\"]" ]
	run -0 recv --status "$LOOP"
	[[ $output == "$LOOP: holds shadow copy 4 of volume"* ]]
	# a broken stream marks it incomplete
	run -1 recv "$LOOP" < <(head -c 5000 "$D/full3")
	run -0 recv --status "$LOOP"
	[[ $output == "$LOOP: holds an incomplete image (not fully received) of shadow copy 4 "* ]]
	[ "$(jq .complete "$rec")" = false ]
	# another backing file on the same device number: the record is not its
	losetup -d "$LOOP"
	LOOP=
	truncate -s $((5 << 20)) "$BATS_TEST_TMPDIR/backing2"
	LOOP=$(losetup -f --show "$BATS_TEST_TMPDIR/backing2")
	run -0 recv --status "$LOOP"
	[[ $output == "$LOOP: holds no received image" ]]
	# a device smaller than the volume
	losetup -d "$LOOP"
	LOOP=
	truncate -s $((3 << 20)) "$BATS_TEST_TMPDIR/small"
	LOOP=$(losetup -f --show "$BATS_TEST_TMPDIR/small")
	run -3 --separate-stderr recv "$LOOP" < "$D/full0"
	[ "$stderr" = "vss-receive: $LOOP: cannot receive: the device has 3145728 bytes, the volume 4194304" ]
}
