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
# 600) is how many random lines each generator adds to its systematic ones.

load helpers

GEN=$BATS_TEST_DIRNAME/../tools/gen-tables
SEED=${VSS_FUZZ_SEED:-1}
NRAND=${VSS_FUZZ_LINES:-600}
SIZE=$((16 << 20))
N=$((SIZE / 512))

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

	"$GEN" tables "$SEED" "$NRAND" > "$T/tables"
	local name=${VSS_TEST_PFX}t line mode table rc i=0 loaded=0 refused=0 kernel=0 kerr=0
	local start=$SECONDS
	batch_mark 0
	while IFS= read -r line; do
		mode=${line%% *} table=${line#* }
		table=${table//@O2@/$O2} table=${table//@S2@/$S2}
		table=${table//@O@/$O} table=${table//@S@/$S}
		table=${table//@FO@/$FO} table=${table//@FS@/$FS}
		table=${table//@C@/$C} table=${table//@D@/$D}
		table=${table//@SMALL@/$SMALL} table=${table//@N@/$N}
		LAST_INPUT="table ($mode) $table"
		rc=0
		if [ "$mode" = ro ]; then
			timeout 20 dmsetup create --readonly --noudevsync "$name" --table "$table" \
				> /dev/null 2> "$T/err" || rc=$?
		else
			timeout 20 dmsetup create --noudevsync "$name" --table "$table" \
				> /dev/null 2> "$T/err" || rc=$?
		fi
		if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
			echo "dmsetup create hung (killed after 20 s): $LAST_INPUT" >&2
			return 1
		elif [ $rc -eq 0 ]; then
			loaded=$((loaded + 1))
			echo "loaded: $table" >> "$T/loaded"
			timeout 20 dmsetup remove --retry --noudevsync "$name" 2> "$T/err" || {
				echo "dmsetup remove failed after: $LAST_INPUT" >&2
				cat "$T/err" >&2
				return 1
			}
		else
			refused=$((refused + 1))
			[ -s "$T/err" ] || {
				echo "refused without a message (exit $rc): $LAST_INPUT" >&2
				return 1
			}
			if grep -q 'ioctl' "$T/err"; then kernel=$((kernel + 1)); fi
			# a refused create must not leave the device behind
			if dmsetup info "$name" >/dev/null 2>&1; then
				echo "refused, but $name exists: $LAST_INPUT" >&2
				return 1
			fi
		fi
		i=$((i + 1))
		if [ $((i % 200)) -eq 0 ]; then
			batch_log
			kerr=$((kerr + $(grep -cE 'device-mapper: (table|ioctl):' "$T/batch.log" || true)))
			batch_mark "$i"
		fi
	done < "$T/tables"
	batch_log
	kerr=$((kerr + $(grep -cE 'device-mapper: (table|ioctl):' "$T/batch.log" || true)))
	echo "# $i table lines in $((SECONDS - start)) s: $loaded loaded and removed," \
		"$refused refused ($kernel by the kernel, $kerr kernel error lines)" >&3
	[ "$i" -gt 2000 ]
	# every refusal the kernel made is explained in its log
	[ "$kerr" -ge "$kernel" ]
	[ "$loaded" -gt 10 ] && [ "$refused" -gt 1000 ]
	# the live origins still work and still hold their snapshots
	run -0 dmsetup status "${VSS_TEST_PFX}o"
	[[ $output =~ vss-origin\ 8\ [0-9]+/[0-9]+\ [0-9]+/[0-9]+\ 2\ rw ]]
	dm_create "${VSS_TEST_PFX}s1" --readonly --table "0 $N vss-snap $O $S 4294967295"
	run -0 dmsetup status "${VSS_TEST_PFX}s1"
	[[ $output == *"vss-snap 4294967295 valid 0" ]]
	check_dmesg
}

# One message to a device: sets rc and $T/err; fails on a hang.
send() {
	local dev=$1 msg=$2
	LAST_INPUT="message to $dev: '$msg'"
	# shellcheck disable=SC2086
	rc=0
	timeout 20 dmsetup message "$dev" 0 $msg > /dev/null 2> "$T/err" || rc=$?
	if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		echo "dmsetup message hung (killed after 20 s): $LAST_INPUT" >&2
		return 1
	fi
	if [ $rc -ne 0 ] && ! [ -s "$T/err" ]; then
		echo "refused without a message (exit $rc): $LAST_INPUT" >&2
		return 1
	fi
}

@test "messages to a live vss-origin: junk refused, create needs suspension, ids at the boundaries" {
	local O S dev=${VSS_TEST_PFX}o msg rc i=0 ok=0 busy=0 n word1 id
	O=$(make_loop $SIZE o) S=$(make_loop $SIZE s)
	dm_create "$dev" --table "0 $N vss-origin $O $S"
	"$GEN" messages-origin "$SEED" "$NRAND" > "$T/messages"
	local start=$SECONDS
	batch_mark 0
	# Not suspended: a well-formed create is EBUSY, everything else refused or a delete.
	while IFS= read -r msg; do
		send "$dev" "$msg" || return 1
		read -r word1 id n <<< "$msg"
		if [[ ${word1,,} == create && $id =~ ^\+?[0-9]+$ && -z $n ]] &&
		   [ "${#id}" -le 10 ] && [ "$((10#${id#+}))" -le 4294967295 ]; then
			[ $rc -ne 0 ] && grep -q 'Device or resource busy' "$T/err" || {
				echo "create while not suspended did not give EBUSY: $LAST_INPUT" >&2
				cat "$T/err" >&2
				return 1
			}
			busy=$((busy + 1))
		fi
		if [ $rc -eq 0 ]; then ok=$((ok + 1)); fi
		i=$((i + 1))
		if [ $((i % 200)) -eq 0 ]; then batch_log; batch_mark "$i"; fi
	done < "$T/messages"
	batch_log
	[ "$ok" -eq 0 ]		# nothing to delete, nothing to create
	[ "$busy" -gt 50 ]
	# Suspended: the same messages create (up to the 160 the table holds) and delete.
	dmsetup suspend "$dev"
	batch_mark s
	local created=0 dup=0 full=0
	while IFS= read -r msg; do
		send "$dev" "$msg" || return 1
		read -r word1 id n <<< "$msg"
		if [[ ${word1,,} == create ]]; then
			if [ $rc -eq 0 ]; then created=$((created + 1)); fi
			if grep -q 'File exists' "$T/err"; then dup=$((dup + 1)); fi
			if grep -q 'No space left' "$T/err"; then full=$((full + 1)); fi
		fi
		i=$((i + 1))
		if [ $((i % 200)) -eq 0 ]; then batch_log; batch_mark "$i"; fi
	done < "$T/messages"
	batch_log
	dmsetup resume "$dev"
	echo "# $i messages in $((SECONDS - start)) s: $busy creates refused busy while" \
		"running; suspended, $created created, $dup duplicates, $full table full" >&3
	[ "$created" -gt 10 ] && [ "$dup" -ge 2 ]
	# The origin still works: its snapshot count is what the messages left.
	run -0 dmsetup status "$dev"
	[[ $output =~ vss-origin\ 8\ [0-9]+/[0-9]+\ [0-9]+/[0-9]+\ ([0-9]+)\ rw ]]
	n=${BASH_REMATCH[1]}
	[ "$n" -le 160 ]
	dmsetup suspend "$dev"
	send "$dev" "create 4294967295"
	dmsetup resume "$dev"
	send "$dev" "delete 4294967295"
	[ $rc -eq 0 ]
	send "$dev" "delete 4294967295"
	[ $rc -ne 0 ]
	grep -q 'Invalid argument' "$T/err"
	check_dmesg
}

@test "messages to a live vss-clone: junk refused, split needs suspension, no hang" {
	local C D dev=${VSS_TEST_PFX}c msg rc i=0 ok=0
	C=$(make_loop $SIZE c) D=$(make_loop $SIZE d)
	dm_create "$dev" --table "0 $N vss-clone $C $D 1024 1 nosync"
	"$GEN" messages-clone "$SEED" "$NRAND" > "$T/messages"
	local start=$SECONDS
	batch_mark 0
	while IFS= read -r msg; do
		send "$dev" "$msg" || return 1
		if [[ ${msg,,} == split && $rc -eq 0 ]]; then
			echo "split while not suspended was accepted: $LAST_INPUT" >&2
			return 1
		fi
		if [ $rc -eq 0 ]; then ok=$((ok + 1)); fi
		i=$((i + 1))
		if [ $((i % 200)) -eq 0 ]; then batch_log; batch_mark "$i"; fi
	done < "$T/messages"
	batch_log
	echo "# $i clone messages in $((SECONDS - start)) s, $ok accepted" >&3
	[ "$ok" -eq 0 ]		# rejoin while mirrored, split while running: all refused
	run -0 dmsetup status "$dev"
	[[ $output == *"vss-clone 1024 32/32 mirrored" ]]
	# The messages still work as documented.
	dmsetup suspend "$dev"
	send "$dev" split
	[ $rc -eq 0 ]
	dmsetup resume "$dev"
	run -0 dmsetup status "$dev"
	[[ $output == *" split" ]]
	send "$dev" split
	[ $rc -ne 0 ]
	send "$dev" rejoin
	[ $rc -eq 0 ]
	check_dmesg
}
