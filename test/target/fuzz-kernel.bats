#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# The kernel's table and message parsers under hostile input, in the VM
# with the real module: thousands of generated table lines for vss-origin,
# vss-snap and vss-clone (test/tools/gen-tables) loaded with
# `dmsetup create` (and removed when one loads), and thousands of messages
# to a live vss-origin (suspended and not) and a live vss-clone.  Every line
# must load or be refused with an error (dmsetup's, and the kernel's in
# dmesg), never hang (each dmsetup is bounded by `timeout`), never leave a
# BUG, WARNING or Oops in the kernel log; a create while not suspended must
# give EBUSY, and the live devices must still work afterwards.
#
# VSS_FUZZ_SEED (default 1) seeds the random lines; VSS_FUZZ_LINES (default
# 150) is how many random lines each generator adds to its systematic ones
# (about 2800 inputs in all, under 3 minutes of VM time; more with
# VSS_LONG=1: 2000).

load helpers

GEN=$BATS_TEST_DIRNAME/../tools/gen-tables
SEED=${VSS_FUZZ_SEED:-1}
if [ "${VSS_LONG:-0}" = 1 ]; then
	NRAND=${VSS_FUZZ_LINES:-2000}
else
	NRAND=${VSS_FUZZ_LINES:-150}
fi
SIZE=$((16 << 20))
N=$((SIZE / 512))

setup_file() {
	DM_LINES=$BATS_FILE_TMPDIR/dm-lines
	export DM_LINES
	cc -O1 -Wall -Wextra -o "$DM_LINES" "$BATS_TEST_DIRNAME/../tools/dm-lines.c" -ldevmapper
}

setup() {
	vm_setup
	require dmsetup losetup timeout awk
	modprobe dm-vss
	set -f		# words of the generated lines are never globs
}

teardown() {
	set +f
	vm_teardown
}

# The kernel log since the last batch mark; fails on BUG/WARNING/Oops.
batch_mark() {
	BATCH_MARK="vss-fuzz: batch $$-$RANDOM-$1"
	echo "$BATCH_MARK" > /dev/kmsg
}
batch_log() {
	dmesg | sed -n "/$BATCH_MARK\$/,\$p" > "$T/batch.log"
	if grep -E "$VSS_DMESG_PROBLEMS" "$T/batch.log" > "$T/problems"; then
		echo "the kernel logged problems after: $LAST_INPUT" >&2
		cat "$T/problems" >&2
		return 1
	fi
}

# run_lines create|message DEV INPUT OUTPUT: the lines through dm-lines,
# 200 at a time, the kernel log checked after each batch; OUTPUT gets one
# result a line.  $KERR counts the kernel's error lines.
run_lines() {
	local op=$1 dev=$2 in=$3 out=$4 chunk rc
	: > "$out"
	KERR=0
	find "$T" -maxdepth 1 -name 'chunk.*' -delete
	split -l 200 -d -a 3 "$in" "$T/chunk."
	for chunk in $(find "$T" -maxdepth 1 -name 'chunk.*' | sort); do
		LAST_INPUT="$op to $dev, lines of $chunk (the one after the last result: $(wc -l < "$out"))"
		batch_mark "${chunk##*.}"
		rc=0
		timeout 120 "$DM_LINES" "$op" "$dev" < "$chunk" >> "$out" 2> "$T/err" || rc=$?
		if [ $rc -ne 0 ]; then
			echo "dm-lines $op exited $rc (124: hung for 120 s): $LAST_INPUT" >&2
			sed -n "$(($(wc -l < "$out") % 200 + 1))p" "$chunk" >&2
			tail -3 "$T/err" >&2
			return 1
		fi
		batch_log || return 1
		KERR=$((KERR + $(grep -cE 'device-mapper: (table|ioctl|vss|vss-clone)' "$T/batch.log" || true)))
	done
	[ "$(wc -l < "$out")" -eq "$(wc -l < "$in")" ]
}

# Every table line: create, and remove if it loaded.
@test "table lines for vss-origin, vss-snap and vss-clone: each loads or is refused, no hang, no oops" {
	local O S O2 S2 FO FS C D SMALL
	O=$(make_loop $SIZE o) S=$(make_loop $SIZE s)
	O2=$(make_loop $SIZE o2) S2=$(make_loop $SIZE s2)
	FO=$(make_loop $SIZE fo) FS=$(make_loop $SIZE fs)
	C=$(make_loop $SIZE c) D=$(make_loop $SIZE d)
	SMALL=$(make_loop $((1 << 20)) small)
	dm_create "${VSS_TEST_PFX}o" --table "0 $N vss-origin $O $S"
	dm_create "${VSS_TEST_PFX}o2" --table "0 $N vss-origin $O2 $S2"
	# snapshots 1 and 2^32-1 exist on the live origin
	dmsetup suspend "${VSS_TEST_PFX}o"
	dmsetup message "${VSS_TEST_PFX}o" 0 create 1
	dmsetup message "${VSS_TEST_PFX}o" 0 create 4294967295
	dmsetup resume "${VSS_TEST_PFX}o"

	"$GEN" tables "$SEED" "$NRAND" > "$T/tables.in"
	local name=${VSS_TEST_PFX}t line table i=0 loaded=0 refused=0 start=$SECONDS
	while IFS= read -r line; do
		table=${line//@O2@/$O2} table=${table//@S2@/$S2}
		table=${table//@O@/$O} table=${table//@S@/$S}
		table=${table//@FO@/$FO} table=${table//@FS@/$FS}
		table=${table//@C@/$C} table=${table//@D@/$D}
		table=${table//@SMALL@/$SMALL} table=${table//@N@/$N}
		echo "$table"
	done < "$T/tables.in" > "$T/tables"
	echo "$name" >> "$T/.dm"
	run_lines create "$name" "$T/tables" "$T/results"
	loaded=$(grep -c '^loaded$' "$T/results" || true)
	refused=$(grep -c '^refused [1-9][0-9]*$' "$T/results" || true)
	i=$(wc -l < "$T/tables")
	paste -d '|' "$T/results" "$T/tables" | grep '^loaded' > "$T/loaded" || true
	# every line loaded or was refused with an errno; none is left behind
	[ $((loaded + refused)) -eq "$i" ]
	! dmsetup info "$name" >/dev/null 2>&1 || false
	echo "# $i table lines in $((SECONDS - start)) s: $loaded loaded and removed," \
		"$refused refused, $KERR kernel error lines" >&3
	[ "$i" -gt 1400 ]
	# every refusal is explained in the kernel log
	[ "$KERR" -ge "$refused" ]
	[ "$loaded" -gt 10 ] && [ "$refused" -gt 1000 ] || false
	# the live origins still work and still hold their snapshots
	run -0 dmsetup status "${VSS_TEST_PFX}o"
	[[ $output =~ vss-origin\ 8\ [0-9]+/[0-9]+\ [0-9]+/[0-9]+\ 2\ rw ]]
	dm_create "${VSS_TEST_PFX}s1" --readonly --table "0 $N vss-snap $O $S 4294967295"
	run -0 dmsetup status "${VSS_TEST_PFX}s1"
	[[ $output == *"vss-snap 4294967295 valid 0" ]]
	check_dmesg
}

@test "messages to a live vss-origin: junk refused, create needs suspension, ids at the boundaries" {
	local O S dev=${VSS_TEST_PFX}o msg res rc i=0 ok=0 busy=0 n word1 id start=$SECONDS
	O=$(make_loop $SIZE o) S=$(make_loop $SIZE s)
	dm_create "$dev" --table "0 $N vss-origin $O $S"
	"$GEN" messages-origin "$SEED" "$NRAND" > "$T/messages"
	# Not suspended: a well-formed create is EBUSY, everything else refused.
	run_lines message "$dev" "$T/messages" "$T/results"
	while IFS='|' read -r res msg; do
		i=$((i + 1))
		[[ $res == sent || $res =~ ^error\ [1-9][0-9]*$ ]] ||
			{ echo "message $i: bad result '$res': '$msg'" >&2; return 1; }
		if [ "$res" = sent ]; then ok=$((ok + 1)); fi
		read -r word1 id n <<< "$msg" || true
		if [[ ${word1,,} == create && $id =~ ^\+?[0-9]+$ && -z $n ]] &&
		   [ "${#id}" -le 10 ] && [ "$((10#${id#+}))" -le 4294967295 ]; then
			[ "$res" = "error 16" ] || {
				echo "create while not suspended did not give EBUSY: '$msg': $res" >&2
				return 1
			}
			busy=$((busy + 1))
		fi
	done < <(paste -d '|' "$T/results" "$T/messages")
	[ "$ok" -eq 0 ]		# nothing to delete, nothing to create
	[ "$busy" -gt 50 ]
	# Suspended: the same messages create (up to the 160 the table holds) and delete.
	dmsetup suspend "$dev"
	run_lines message "$dev" "$T/messages" "$T/results2"
	dmsetup resume "$dev"
	local created dup full
	created=$(paste -d '|' "$T/results2" "$T/messages" | grep -ci '^sent|create' || true)
	dup=$(grep -c '^error 17$' "$T/results2" || true)
	full=$(grep -c '^error 28$' "$T/results2" || true)
	echo "# $((2 * i)) messages in $((SECONDS - start)) s: $busy creates refused busy while" \
		"running; suspended, $created created, $dup duplicates, $full table full" >&3
	[ "$created" -gt 10 ] && [ "$dup" -ge 2 ] || false
	# The origin still works: its snapshot count is what the messages left.
	run -0 dmsetup status "$dev"
	[[ $output =~ vss-origin\ 8\ [0-9]+/[0-9]+\ [0-9]+/[0-9]+\ ([0-9]+)\ rw ]]
	n=${BASH_REMATCH[1]}
	[ "$n" -le 160 ]
	dmsetup suspend "$dev"
	dmsetup message "$dev" 0 create 4294967295 2>/dev/null || true
	dmsetup resume "$dev"
	dmsetup message "$dev" 0 delete 4294967295
	run -1 dmsetup message "$dev" 0 delete 4294967295
	[[ $output == *"Invalid argument"* ]]
	check_dmesg
}

@test "messages to a live vss-clone: junk refused, split needs suspension, no hang" {
	local C D dev=${VSS_TEST_PFX}c msg res i=0 ok=0 start=$SECONDS
	C=$(make_loop $SIZE c) D=$(make_loop $SIZE d)
	dm_create "$dev" --table "0 $N vss-clone $C $D 1024 1 nosync"
	"$GEN" messages-clone "$SEED" "$NRAND" > "$T/messages"
	run_lines message "$dev" "$T/messages" "$T/results"
	while IFS='|' read -r res msg; do
		i=$((i + 1))
		[[ $res == sent || $res =~ ^error\ [1-9][0-9]*$ ]] ||
			{ echo "message $i: bad result '$res': '$msg'" >&2; return 1; }
		if [ "$res" = sent ]; then
			echo "accepted while mirrored and not suspended: '$msg'" >&2
			ok=$((ok + 1))
		fi
		if [[ ${msg,,} == split && $res != "error 16" ]]; then
			echo "split while not suspended did not give EBUSY: $res" >&2
			return 1
		fi
	done < <(paste -d '|' "$T/results" "$T/messages")
	echo "# $i clone messages in $((SECONDS - start)) s, $ok accepted, $KERR kernel log lines" >&3
	[ "$ok" -eq 0 ]		# rejoin while mirrored, split while running: all refused
	run -0 dmsetup status "$dev"
	[[ $output == *"vss-clone 1024 32/32 mirrored" ]]
	# The messages still work as documented.
	dmsetup suspend "$dev"
	dmsetup message "$dev" 0 split
	dmsetup resume "$dev"
	run -0 dmsetup status "$dev"
	[[ $output == *" split" ]]
	run -1 dmsetup message "$dev" 0 split
	dmsetup message "$dev" 0 rejoin
	check_dmesg
}
