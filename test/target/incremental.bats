#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Incremental backup with the real module, inside the test VM: vss-diff
# lists exactly the chunks written between two shadow copies of a volume
# with a dm-vss-cow store (vss-storage add), refuses what it cannot answer
# with the documented exit status; vss-send and vss-receive replicate the
# shadow copies, full then incremental, onto a file and onto a block device.
# Content is checked against sha256 sums of the volume recorded at each
# shadow copy's instant (the volume is idle while vss-snapshot runs).
#   scripts/vm-run --smp 1 -- bats test/target/incremental.bats

load helpers
load cow-helpers

setup() {
	vm_setup
	require jq sha256sum dd
	modprobe dm-vss
	mkdir -p "$T/state" "$T/run" "$T/conf" "$T/mnt"
	export VSS_STATE_DIR=$T/state VSS_RUN_DIR=$T/run VSS_CONF_DIR=$T/conf
	# Reproducible random choices: the seed is printed with a failure.
	SEED=${VSS_INCR_SEED:-$RANDOM}
	RANDOM=$SEED
	echo "seed $SEED (VSS_INCR_SEED)"
	: > "$T/writes"
	# the source of random data of the writes
	RND_BYTES=$((1 << 20))
	head -c $RND_BYTES /dev/urandom > "$T/rnd"
}

teardown() {
	vm_umount_all
	vm_teardown
}

# volume NAME SECTORS [STORE_MB [CHUNK_SIZE]]: prints /dev/mapper/<pfx>NAME,
# a dm-linear device of SECTORS over a loop device, with a store added for
# dm-vss-cow shadow copies.
volume() {
	local name=$VSS_TEST_PFX$1 sectors=$2 smb=${3:-64} cs=${4:-} l s
	l=$(make_loop $(( (sectors * 512 + 1048575) / 1048576 ))M "$1") || return 1
	s=$(make_loop "${smb}M" "$1-store") || return 1
	dm_create "$name" --table "0 $sectors linear $l 0" >&2 || return 1
	vss-storage add --for "/dev/mapper/$name" --on "$s" ${cs:+--chunk-size "$cs"} >&2 || return 1
	[ "$(dmsetup table "$name" | awk '{ print $3 }')" = vss-origin ] || return 1
	echo "/dev/mapper/$name"
}

# snapshot VOL: a shadow copy of the idle volume (no writers); sets ID and
# DEV, records the volume's sha256 at its instant in $T/sha.ID (the tests
# compare what is built from the copies with it).  The write log $T/writes
# starts again.
snapshot() {
	local out sha
	sha=$(cow_sha "$1") || return 1
	out=$(vss-snapshot --no-writers --json "$1") || { echo "vss-snapshot $1 failed" >&2; return 1; }
	# (jq costs half a second in the VM)
	[[ $out =~ \"shadow_id\":\ *([0-9]+) ]] && ID=${BASH_REMATCH[1]} &&
	[[ $out =~ \"device\":\ *\"([^\"]+)\" ]] && DEV=${BASH_REMATCH[1]} ||
		{ echo "vss-snapshot's JSON has no shadow_id and device: $out" >&2; return 1; }
	echo "${DEV#/dev/mapper/}" >> "$T/.dm"
	echo "$sha" > "$T/sha.$ID"
	mv "$T/writes" "$T/writes.before-$ID"
	: > "$T/writes"
}

# wr VOL OFF LEN [OFF LEN]...: random data (from $T/rnd, at random places
# of it) at byte OFF of the volume, O_DIRECT, all in one xfs_io; logged in
# $T/writes.  With WR_SRC=FILE, FILE's bytes at the same offsets instead
# (the volume itself: a rewrite of the same content).
wr() {
	local vol=$1 off len skip
	local -a cmds=()
	shift
	while [ $# -ge 2 ]; do
		off=$1 len=$2
		shift 2
		if [ -n "${WR_SRC:-}" ]; then
			cmds+=(-c "pwrite -q -b 65536 -i $WR_SRC -s $off $off $len")
		else
			skip=$(( (RANDOM * 32768 + RANDOM) % ((RND_BYTES - len) / 512) * 512 ))
			cmds+=(-c "pwrite -q -b 65536 -i $T/rnd -s $skip $off $len")
		fi
		echo "$off $len" >> "$T/writes"
	done
	xfs_io -d "${cmds[@]}" "$vol" || { echo "writes to $vol failed" >&2; return 1; }
}

# chunks_of_writes CHUNK_BYTES FILE...: the chunk numbers the logged writes
# touched, sorted, once each.
chunks_of_writes() {
	local cb=$1
	shift
	cat "$@" | awk -v cb="$cb" '{ for (c = int($1 / cb); c <= int(($1 + $2 - 1) / cb); c++) print c }' |
		sort -n -u
}

# diff_extents FROM TO: "offset length" lines of vss-diff (exit status kept).
diff_extents() {
	vss-diff --noheadings --separator ' ' -o offset,length "$1" "$2"
}

# chunks_of_extents CHUNK_BYTES < extents
chunks_of_extents() {
	awk -v cb="$1" '{ for (c = int($1 / cb); c <= int(($1 + $2 - 1) / cb); c++) print c }' | sort -n -u
}

# same_chunks WHAT EXPECTED_FILE GOT_FILE: equal lists, else the difference.
same_chunks() {
	if ! cmp -s "$2" "$3"; then
		echo "$1: vss-diff's chunks differ from the chunks written (< written, > listed):" >&2
		diff "$2" "$3" | head -20 >&2
		return 1
	fi
}

# overlay FROM_DEV TO_DEV TO_ID IMAGE < extents: IMAGE (a copy of FROM's
# device) with TO's bytes at the extents must equal TO at its instant.
overlay() {
	local from=$1 to=$2 id=$3 img=$4 off len
	local -a cmds=()
	dd if="$from" of="$img" bs=1M iflag=direct status=none || return 1
	while read -r off len; do
		cmds+=(-c "pwrite -q -b 65536 -d -i $to -s $off $off $len")
	done
	[ ${#cmds[@]} = 0 ] || xfs_io "${cmds[@]}" "$img" || return 1
	[ "$(cow_sha "$img")" = "$(cat "$T/sha.$id")" ] ||
		{ echo "the image of $from with the extents of $to differs from shadow copy $id" >&2; return 1; }
}

# random_writes VOL CHUNK_BYTES CHUNKS N: N writes at random chunks (one
# chunk, a run of 1..4 chunks, or a part of a chunk).
random_writes() {
	local vol=$1 cb=$2 nch=$3 n=$4 i c k
	local -a w=()
	for ((i = 0; i < n; i++)); do
		c=$(( (RANDOM * 32768 + RANDOM) % nch ))
		case $((RANDOM % 4)) in
		0) w+=($((c * cb)) "$cb") ;;
		1) k=$((1 + RANDOM % 4)); (( c + k <= nch )) || k=$((nch - c))
		   w+=($((c * cb)) $((k * cb))) ;;
		2) w+=($((c * cb + 512 * (RANDOM % (cb / 512)))) 512) ;;
		3) w+=($((c * cb + cb - 4096)) 4096) ;;
		esac
	done
	wr "$vol" "${w[@]}"
}

@test "vss-diff lists exactly the chunks written between shadow copies, 4 KiB chunks" {
	vol=$(volume v 16384)		# 8 MiB, 2048 chunks
	dd if=/dev/urandom of="$vol" bs=1M count=8 oflag=direct status=none
	snapshot "$vol"; a=$ID adev=$DEV
	random_writes "$vol" 4096 2048 25
	# the same chunk written twice, and the last two chunks one by one
	wr "$vol" $((100 * 4096)) 4096 $((100 * 4096 + 2048)) 512 \
		$((2046 * 4096)) 4096 $((2047 * 4096)) 4096
	snapshot "$vol"; b=$ID bdev=$DEV
	random_writes "$vol" 4096 2048 25
	wr "$vol" 0 4096
	snapshot "$vol"; c=$ID cdev=$DEV
	snapshot "$vol"; d=$ID

	chunks_of_writes 4096 "$T/writes.before-$b" > "$T/want.ab"
	chunks_of_writes 4096 "$T/writes.before-$c" > "$T/want.bc"
	chunks_of_writes 4096 "$T/writes.before-$b" "$T/writes.before-$c" > "$T/want.ac"
	for p in "$a $b ab" "$b $c bc" "$a $c ac"; do
		read -r f t k <<< "$p"
		run -0 diff_extents "$f" "$t"
		echo "$output" > "$T/ext.$k"
		chunks_of_extents 4096 < "$T/ext.$k" > "$T/got.$k"
		same_chunks "diff $f $t" "$T/want.$k" "$T/got.$k"
		# ascending, adjacent chunks merged, on chunk boundaries
		awk 'NR > 1 && $1 <= end { print "extents not ascending and merged at " $1; bad = 1 }
		     $1 % 4096 || $2 % 4096 || $2 <= 0 { print "bad extent " $0; bad = 1 }
		     { end = $1 + $2 } END { exit bad }' "$T/ext.$k"
	done
	# chunks 2046 and 2047, written one by one, make one extent that ends
	# at the volume's end
	awk '$1 + $2 == 8388608 && $1 <= 2046 * 4096 { f = 1 } END { exit !f }' "$T/ext.ab"
	grep -q "^0 " "$T/ext.bc"

	# the extents carry every changed byte: FROM's image with TO's
	# extents is TO at its instant
	overlay "$adev" "$bdev" "$b" "$T/img" < "$T/ext.ab"
	overlay "$bdev" "$cdev" "$c" "$T/img" < "$T/ext.bc"
	overlay "$adev" "$cdev" "$c" "$T/img" < "$T/ext.ac"

	# nothing written between c and d: no extent, zero bytes
	run -0 diff_extents "$c" "$d"
	[ -z "$output" ]
	run -0 vss-diff --json "$c" "$d"
	[ "$(echo "$output" | jq -c '[.changed_bytes, .extent_count, (.extents | length)]')" = "[0,0,0]" ]
	# the answer does not change while the volume is written
	random_writes "$vol" 4096 2048 10
	run -0 diff_extents "$a" "$b"
	[ "$output" = "$(cat "$T/ext.ab")" ]
	run -0 diff_extents "$c" "$d"
	[ -z "$output" ]
	check_dmesg
}

@test "vss-diff with 64 KiB chunks and a volume that ends inside a chunk" {
	# 8 MiB + 4 KiB: 128 whole chunks of 64 KiB and one of 4 KiB
	sectors=$((8 * 2048 + 8))
	size=$((sectors * 512))
	vol=$(volume w "$sectors" 32 64k)
	dd if=/dev/urandom of="$vol" bs=1M count=8 oflag=direct status=none
	snapshot "$vol"; a=$ID adev=$DEV
	random_writes "$vol" 65536 128 20
	# the last, partial chunk; 4 KiB inside chunk 7
	wr "$vol" $((size - 4096)) 4096 $((7 * 65536 + 8192)) 4096
	snapshot "$vol"; b=$ID bdev=$DEV

	chunks_of_writes 65536 "$T/writes.before-$b" > "$T/want"
	run -0 diff_extents "$a" "$b"
	echo "$output" > "$T/ext"
	chunks_of_extents 65536 < "$T/ext" > "$T/got"
	same_chunks "diff $a $b" "$T/want" "$T/got"
	# the last extent ends at the volume's end, its length not a multiple
	# of the chunk size; every other boundary is a chunk boundary
	tail -1 "$T/ext" | awk -v s="$size" '{ exit !($1 + $2 == s && $2 % 65536 == 4096) }'
	awk -v s="$size" '$1 % 65536 || ($2 % 65536 && $1 + $2 != s) { print "bad extent " $0; bad = 1 } END { exit bad }' "$T/ext"
	run -0 vss-diff --json "$a" "$b"
	[ "$(echo "$output" | jq -c '[.chunk_size, .volume_size]')" = "[65536,$size]" ]
	overlay "$adev" "$bdev" "$b" "$T/img" < "$T/ext"
	check_dmesg
}

@test "vss-diff after rewrites with the same content: a superset of the changed chunks, only chunks written" {
	vol=$(volume v 16384)		# 8 MiB, 2048 chunks
	dd if=/dev/urandom of="$vol" bs=1M count=8 oflag=direct status=none
	snapshot "$vol"; a=$ID adev=$DEV
	# 30 chunks of the first half rewritten with the bytes they hold,
	# 20 of the second half changed
	w=()
	for i in $(seq 30); do
		w+=($(( (RANDOM % 1024) * 4096 )) 4096)
	done
	WR_SRC=$vol wr "$vol" "${w[@]}"
	mv "$T/writes" "$T/writes.same"; : > "$T/writes"
	w=()
	for i in $(seq 20); do
		w+=($(( (1024 + RANDOM % 1024) * 4096 )) 4096)
	done
	wr "$vol" "${w[@]}"
	cp "$T/writes" "$T/writes.changed"
	cat "$T/writes.same" >> "$T/writes"
	snapshot "$vol"; b=$ID bdev=$DEV
	# the rewrites left the first half as it was
	[ "$(dd if="$adev" bs=1M count=4 iflag=direct status=none | sha256sum)" = \
	  "$(dd if="$bdev" bs=1M count=4 iflag=direct status=none | sha256sum)" ]

	chunks_of_writes 4096 "$T/writes.changed" > "$T/changed"
	chunks_of_writes 4096 "$T/writes.same" "$T/writes.changed" > "$T/written"
	run -0 diff_extents "$a" "$b"
	echo "$output" > "$T/ext"
	chunks_of_extents 4096 < "$T/ext" > "$T/got"
	# every changed chunk listed
	missing=$(comm -23 <(sort "$T/changed") <(sort "$T/got"))
	[ -z "$missing" ] || { echo "changed chunks not listed: $missing"; false; }
	# nothing listed that was not written
	extra=$(comm -13 <(sort "$T/written") <(sort "$T/got"))
	[ -z "$extra" ] || { echo "chunks listed that were never written: $extra"; false; }
	overlay "$adev" "$bdev" "$b" "$T/img" < "$T/ext"
	check_dmesg
}

@test "vss-diff refuses: wrong order, the same id, two volumes, another provider, unknown, deleted and dropped copies" {
	vol=$(volume v 16384)
	other=$(volume o 16384)
	snapshot "$vol"; a=$ID
	wr "$vol" 0 4096
	snapshot "$vol"; b=$ID
	wr "$vol" 8192 4096
	snapshot "$vol"; c=$ID
	snapshot "$other"; o=$ID

	# usage
	run vss-diff "$a"
	[ "$status" = 1 ]
	run vss-diff "$a" "$b" "$c"
	[ "$status" = 1 ]
	run vss-diff x "$b"
	[ "$status" = 1 ]
	run vss-diff -o bogus "$a" "$b"
	[ "$status" = 1 ]
	# wrong order: refused, not swapped, saying which is older
	run vss-diff "$b" "$a"
	echo "$output"
	[ "$status" = 1 ]
	[[ "$output" == *"give the older one first"* ]]
	run vss-diff --json "$c" "$a"
	[ "$status" = 1 ]
	# the same shadow copy twice
	run vss-diff "$b" "$b"
	echo "$output"
	[ "$status" = 1 ]
	[[ "$output" == *"same shadow copy"* ]]
	# copies of two volumes
	run vss-diff "$a" "$o"
	echo "$output"
	[ "$status" = 1 ]
	[[ "$output" == *"different volumes"* ]]
	run vss-diff "$o" "$c"
	[ "$status" = 1 ]
	# unknown ids
	run vss-diff "$a" 9999
	echo "$output"
	[ "$status" = 4 ]
	[[ "$output" == *"9999"*"no such shadow copy"* ]]
	run vss-diff 9999 "$a"
	[ "$status" = 4 ]

	# a deleted FROM, a deleted TO
	run -0 diff_extents "$b" "$c"
	[ "$output" = "8192 4096" ]
	vss-delete --yes "$b"
	run vss-diff "$b" "$c"
	echo "$output"
	[ "$status" = 4 ]
	run vss-diff "$a" "$b"
	[ "$status" = 4 ]
	# what remains still answers: a..c spans both intervals
	run -0 diff_extents "$a" "$c"
	[ "$output" = "0 4096
8192 4096" ]

	# a dm-snapshot shadow copy: no changed extents known
	snapvol=${VSS_TEST_PFX}s
	l=$(make_loop 8M s)
	s=$(make_loop 32M s-store)
	dm_create "$snapvol" --table "0 16384 linear $l 0"
	vss-storage add --provider dm-snapshot --max-size 8M --for "/dev/mapper/$snapvol" --on "$s"
	snapshot "/dev/mapper/$snapvol"; s1=$ID
	snapshot "/dev/mapper/$snapvol"; s2=$ID
	run vss-diff "$s1" "$s2"
	echo "$output"
	[ "$status" = 1 ]
	[[ "$output" == *"dm-vss-cow"* ]]
	check_dmesg
}

@test "vss-diff refuses a shadow copy the store dropped to make room" {
	# a 1 MiB store of 4 KiB chunks holds about 250 chunks
	vol=$(volume v 16384 1)
	snapshot "$vol"; a=$ID
	dd if=/dev/urandom of="$vol" bs=4k count=100 oflag=direct status=none
	snapshot "$vol"; b=$ID
	dd if=/dev/urandom of="$vol" bs=4k count=200 seek=1000 oflag=direct status=none
	snapshot "$vol"; c=$ID
	# the oldest, a, was dropped; b and c remain
	run -0 vss-list --json
	echo "$output" | jq -c '.shadows[] | [.shadow_id, .state]'
	run vss-diff "$a" "$b"
	echo "$output"
	[ "$status" = 4 ]
	[[ "$output" == *"not valid"* ]]
	run vss-diff "$a" "$c"
	[ "$status" = 4 ]
	run -0 vss-diff --summary "$b" "$c"
	echo "$output"
	[[ "$output" == *"1 extent,"*"$((200 * 4096)) bytes"* ]]
	check_dmesg
}

@test "vss-diff --json, --summary and the column options" {
	vol=$(volume v 16384)		# 8 MiB
	snapshot "$vol"; a=$ID
	# chunks 1 and 2, 512 bytes in chunk 22, chunk 1000
	wr "$vol" 4096 8192 $((10 * 4096 + 100 * 512)) 512 $((1000 * 4096)) 4096
	snapshot "$vol"; b=$ID

	c3=$(( (10 * 4096 + 100 * 512) / 4096 ))
	run -0 vss-diff --json "$a" "$b"
	echo "$output"
	j=$output
	# numbers as numbers, and the values (one jq: it is slow in the VM)
	got=$(echo "$j" | jq -c '[([.from, .to, .chunk_size, .volume_size, .changed_bytes, .extent_count,
		(.extents[] | .offset, .length)] | map(type) | unique), .from, .to, .volume,
		(.volume_uuid | test("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")),
		.chunk_size, .volume_size, .changed_bytes, .extent_count, .extents,
		([.extents[].length] | add)]')
	[ "$got" = "[[\"number\"],$a,$b,\"$vol\",true,4096,$((16384 * 512)),16384,3,[{\"offset\":4096,\"length\":8192},{\"offset\":$((c3 * 4096)),\"length\":4096},{\"offset\":$((1000 * 4096)),\"length\":4096}],16384]" ]

	# --summary: the counts only
	run -0 vss-diff --summary "$a" "$b"
	echo "$output"
	[ "${#lines[@]}" = 1 ]
	[[ "$output" == *"3 extents"*"16384 bytes of 8388608"* ]]
	[[ "$output" == *"chunk size 4096"* ]]
	run -0 vss-diff --json --summary "$a" "$b"
	[ "$(echo "$output" | jq -c '[has("extents"), .changed_bytes, .extent_count]')" = "[false,16384,3]" ]

	# columns: a heading by default; end = offset + length
	run -0 vss-diff "$a" "$b"
	[ "${#lines[@]}" = 4 ]
	[[ "${lines[0]}" == *Offset*Length* ]]
	run -0 vss-diff --noheadings --separator , -o offset,length,end "$a" "$b"
	[ "$output" = "4096,8192,12288
$((c3 * 4096)),4096,$(((c3 + 1) * 4096))
$((1000 * 4096)),4096,$((1001 * 4096))" ]
	run -0 vss-diff -o help
	[[ "$output" == *offset*length*end* ]]
	check_dmesg
}

# ---- vss-send and vss-receive ----

# send_recv STREAM TARGET [vss-send args]: vss-send into STREAM, then
# vss-receive STREAM into TARGET; both must succeed.
send_recv() {
	local st=$1 tgt=$2
	shift 2
	vss-send --quiet "$@" > "$st" || { echo "vss-send $* failed" >&2; return 1; }
	vss-receive "$tgt" < "$st" || { echo "vss-receive $tgt < vss-send $* failed" >&2; return 1; }
}

# is_copy TARGET ID: TARGET holds shadow copy ID as at its instant (a
# device: its first volume-size bytes).
is_copy() {
	local got
	if [ -b "$1" ]; then
		got=$(set -o pipefail; dd if="$1" iflag=direct,count_bytes bs=1M count="$VOLBYTES" status=none | sha256sum) || return 1
		got=${got%% *}
	else
		[ "$(stat -c %s "$1")" = "$VOLBYTES" ] || { echo "$1: size $(stat -c %s "$1"), volume $VOLBYTES" >&2; return 1; }
		got=$(cow_sha "$1") || return 1
	fi
	[ "$got" = "$(cat "$T/sha.$2")" ] || { echo "$1 does not hold shadow copy $2 as at its instant" >&2; return 1; }
}

@test "vss-send full then three incrementals, vss-receive onto a file and a loop device: each copy as at its instant" {
	vol=$(volume v 16384 32)	# 8 MiB, 2048 chunks
	VOLBYTES=$((8 << 20))
	dd if=/dev/urandom of="$vol" bs=1M count=8 oflag=direct status=none
	# a run of zeros, sent as a zero record
	dd if=/dev/zero of="$vol" bs=1M count=1 seek=3 oflag=direct status=none
	snapshot "$vol"; prev=$ID
	rdev=$(make_loop 9M replica)
	send_recv "$T/full" "$T/replica.img" "$prev"
	vss-receive "$rdev" < "$T/full"
	is_copy "$T/replica.img" "$prev"
	is_copy "$rdev" "$prev"
	full_bytes=$(stat -c %s "$T/full")
	for night in 1 2 3; do
		random_writes "$vol" 4096 2048 20
		# zeros over chunks: the replica must get zeros
		dd if=/dev/zero of="$vol" bs=4096 count=2 seek=$((RANDOM % 2000)) oflag=direct status=none
		snapshot "$vol"; cur=$ID
		changed=$(vss-diff --json --summary "$prev" "$cur" | jq '.changed_bytes')
		send_recv "$T/inc.$night" "$T/replica.img" --from "$prev" "$cur"
		vss-receive "$rdev" < "$T/inc.$night"
		is_copy "$T/replica.img" "$cur"
		is_copy "$rdev" "$cur"
		# only the changes travel: the stream is the changed bytes and
		# a small overhead, far less than the full image
		inc_bytes=$(stat -c %s "$T/inc.$night")
		echo "night $night: changed $changed, stream $inc_bytes, full $full_bytes"
		(( changed > 0 && inc_bytes <= changed + 65536 && inc_bytes < full_bytes / 4 ))
		prev=$cur
	done
	run -0 vss-receive --status --json "$T/replica.img"
	echo "$output"
	[ "$(echo "$output" | jq '.shadow_id')" = "$cur" ]
	check_dmesg
}

@test "vss-send: writes to the volume during the send do not change what is sent" {
	vol=$(volume v 32768 64)	# 16 MiB
	VOLBYTES=$((16 << 20))
	dd if=/dev/urandom of="$vol" bs=1M count=16 oflag=direct status=none
	snapshot "$vol"; a=$ID
	random_writes "$vol" 4096 4096 200
	snapshot "$vol"; b=$ID
	vss-send --quiet "$a" > "$T/full.a"
	# writes all over the volume while each send runs
	(
		while :; do
			random_writes "$vol" 4096 4096 10 || exit 1
			echo done >> "$T/batches"
		done
	) 2> "$T/writer.err" &
	wpid=$!
	for i in $(seq 100); do [ -s "$T/batches" ] && break; sleep 0.2; done
	n0=$(cat "$T/batches" 2>/dev/null | wc -l)
	vss-send --quiet "$b" > "$T/full.b"; r1=$?
	n1=$(cat "$T/batches" 2>/dev/null | wc -l)
	vss-send --quiet --from "$a" "$b" > "$T/inc.ab"; r2=$?
	n2=$(cat "$T/batches" 2>/dev/null | wc -l)
	# (the incremental send is shorter than a batch: the writer must only
	# still be running when it ends)
	alive=0; kill -0 "$wpid" 2>/dev/null || alive=1
	bg_stop "$wpid"
	cat "$T/writer.err"
	echo "batches of 10 writes: $n0 before, $((n1 - n0)) during the full send, $((n2 - n1)) during the incremental"
	[ "$r1" = 0 ] && [ "$r2" = 0 ]
	# the writer was writing while both sends ran
	[ ! -s "$T/writer.err" ]
	(( n0 > 0 && n1 > n0 )) && [ "$alive" = 0 ]
	[ "$(cow_sha "$vol")" != "$(cat "$T/sha.$b")" ]
	vss-receive "$T/r1" < "$T/full.b"
	is_copy "$T/r1" "$b"
	vss-receive "$T/r2" < "$T/full.a"
	is_copy "$T/r2" "$a"
	vss-receive "$T/r2" < "$T/inc.ab"
	is_copy "$T/r2" "$b"
	check_dmesg
}

@test "vss-receive refuses a truncated, bit-flipped, foreign or non-stream input; the replica then takes only a full stream" {
	vol=$(volume v 16384 32)	# 8 MiB
	other=$(volume o 16384 32)
	VOLBYTES=$((8 << 20))
	dd if=/dev/urandom of="$vol" bs=1M count=8 oflag=direct status=none
	snapshot "$vol"; a=$ID
	wr "$vol" 0 65536 $((1 << 20)) 8192
	snapshot "$vol"; b=$ID
	wr "$vol" 4096 4096 $((5 << 20)) 65536
	snapshot "$vol"; c=$ID
	snapshot "$other"; o1=$ID
	dd if=/dev/urandom of="$other" bs=64k count=2 oflag=direct status=none
	snapshot "$other"; o2=$ID
	vss-send -q "$a" > "$T/full.a"
	vss-send -q "$b" > "$T/full.b"
	vss-send -q --from "$a" "$b" > "$T/inc.ab"
	vss-send -q --from "$b" "$c" > "$T/inc.bc"
	vss-send -q --from "$o1" "$o2" > "$T/inc.o"
	R=$T/replica.img

	# truncated: refused, and the replica then refuses the good incremental
	vss-receive "$R" < "$T/full.a"
	is_copy "$R" "$a"
	head -c $(( $(stat -c %s "$T/inc.ab") / 2 )) "$T/inc.ab" > "$T/bad"
	run vss-receive "$R" < "$T/bad"
	echo "$output"
	[ "$status" = 1 ]
	run vss-receive "$R" < "$T/inc.ab"
	echo "$output"
	[ "$status" = 5 ]
	[[ "$output" == *"incomplete"* ]]
	# the stream's last byte missing
	head -c $(( $(stat -c %s "$T/inc.ab") - 1 )) "$T/inc.ab" > "$T/bad"
	vss-receive "$R" < "$T/full.a"
	run vss-receive "$R" < "$T/bad"
	[ "$status" = 1 ]
	run vss-receive "$R" < "$T/inc.ab"
	[ "$status" = 5 ]

	# a full stream makes it whole again; then a bit flipped in the data
	vss-receive "$R" < "$T/full.b"
	is_copy "$R" "$b"
	cp "$T/inc.bc" "$T/bad"
	pos=$(( $(stat -c %s "$T/bad") / 2 ))
	byte=$(od -An -tu1 -j "$pos" -N1 "$T/bad" | tr -d ' ')
	printf "$(printf '\\%03o' $(( byte ^ 4 )))" | dd of="$T/bad" bs=1 seek="$pos" conv=notrunc status=none
	! cmp -s "$T/bad" "$T/inc.bc"
	run vss-receive "$R" < "$T/bad"
	echo "$output"
	[ "$status" = 1 ]
	run vss-receive "$R" < "$T/inc.bc"
	[ "$status" = 5 ]

	# another volume's incremental
	vss-receive "$R" < "$T/full.b"
	run vss-receive "$R" < "$T/inc.o"
	echo "$output"
	[ "$status" = 5 ]
	run vss-receive "$R" < "$T/inc.bc"
	[ "$status" = 5 ]

	# not a stream at all
	vss-receive "$R" < "$T/full.b"
	head -c 65536 /dev/urandom > "$T/bad"
	run vss-receive "$R" < "$T/bad"
	[ "$status" = 1 ]
	run vss-receive "$R" < "$T/inc.bc"
	[ "$status" = 5 ]

	# an incremental that needs another copy than the replica holds
	vss-receive "$R" < "$T/full.a"
	run vss-receive "$R" < "$T/inc.bc"
	echo "$output"
	[ "$status" = 5 ]
	is_copy "$R" "$a"
	# and the good ones in order give c
	vss-receive "$R" < "$T/inc.ab"
	vss-receive "$R" < "$T/inc.bc"
	is_copy "$R" "$c"

	# the same on a block device: truncated, then refused until full
	rdev=$(make_loop 8M replica)
	vss-receive "$rdev" < "$T/full.a"
	head -c $(( $(stat -c %s "$T/inc.ab") - 100 )) "$T/inc.ab" > "$T/bad"
	run vss-receive "$rdev" < "$T/bad"
	[ "$status" = 1 ]
	run vss-receive "$rdev" < "$T/inc.ab"
	[ "$status" = 5 ]
	vss-receive "$rdev" < "$T/full.b"
	vss-receive "$rdev" < "$T/inc.bc"
	is_copy "$rdev" "$c"
	check_dmesg
}

@test "vss-send refuses a shadow copy deleted between vss-diff and the send" {
	vol=$(volume v 16384 32)
	VOLBYTES=$((8 << 20))
	snapshot "$vol"; a=$ID
	wr "$vol" 0 4096
	snapshot "$vol"; b=$ID
	wr "$vol" 8192 4096
	snapshot "$vol"; c=$ID
	run -0 vss-diff --summary "$a" "$b"
	vss-delete --yes "$a"
	run vss-send --from "$a" "$b" > "$T/s"
	echo "$output"
	[ "$status" = 4 ]
	run vss-send -q --from "$b" "$c" > "$T/s"
	[ "$status" = 0 ]
	run -0 vss-diff --summary "$b" "$c"
	vss-delete --yes "$c"
	run vss-send --from "$b" "$c" > "$T/s"
	[ "$status" = 4 ]
	run vss-send "$c" > "$T/s"
	[ "$status" = 4 ]
	# wrong order and the same copy, as vss-diff
	snapshot "$vol"; d=$ID
	run vss-send --from "$d" "$b" > "$T/s"
	[ "$status" = 1 ]
	run vss-send --from "$b" "$b" > "$T/s"
	[ "$status" = 1 ]
	check_dmesg
}

# files_sha DIR: the sha256 of every file under DIR, by name.
files_sha() {
	(cd "$1" && find . -type f ! -path './lost+found/*' -print0 | sort -z | xargs -0 -r sha256sum)
}

@test "an ext4 with files replicated incrementally mounts (ro, noload) and passes fsck -n at each step" {
	require mkfs.ext4 e2fsck
	vol=$(volume v 32768 32)	# 16 MiB
	VOLBYTES=$((16 << 20))
	mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0 "$vol"
	mkdir -p "$T/mnt/v" "$T/mnt/r"
	mount "$vol" "$T/mnt/v"
	R=$T/replica.img
	prev=
	for step in 0 1 2 3; do
		mkdir -p "$T/mnt/v/d$step"
		for f in 1 2 3; do
			head -c $(( (RANDOM % 128 + 1) * 1024 )) /dev/urandom > "$T/mnt/v/d$step/f$f"
		done
		[ $step = 0 ] || { echo "step $step" >> "$T/mnt/v/d0/f1"; rm "$T/mnt/v/d$((step - 1))/f2"; }
		sync
		want=$(files_sha "$T/mnt/v")
		# vss-snapshot freezes the mounted filesystem: the copy's own
		# content, read once, is its instant
		out=$(vss-snapshot --no-writers --json "$vol")
		read -r cur dev < <(echo "$out" | jq -r '.shadows[0] | "\(.shadow_id) \(.device)"')
		echo "${dev#/dev/mapper/}" >> "$T/.dm"
		cow_sha "$dev" > "$T/sha.$cur"
		send_recv "$T/s.$step" "$R" ${prev:+--from "$prev"} "$cur"
		is_copy "$R" "$cur"
		run e2fsck -fn "$R"
		echo "$output"
		[ "$status" = 0 ]
		mount -o ro,noload,loop "$R" "$T/mnt/r"
		got=$(files_sha "$T/mnt/r")
		umount "$T/mnt/r"
		[ "$got" = "$want" ] || { echo "step $step: the replica's files differ"; diff <(echo "$want") <(echo "$got"); false; }
		prev=$cur
	done
	umount "$T/mnt/v"
	check_dmesg
}
