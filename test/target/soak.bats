#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Soak: a mounted ext4 on a dm volume with dm-vss storage, fio writing and
# verifying its own files on it (crc32c, verify_backlog: it reads back what
# it wrote while it runs) for the whole run, while shadow copies cycle
# continuously: marker files written and synced, their sha256 recorded,
# vss-snapshot, vss-expose of every shadow copy still alive, each one's
# files compared with the sums recorded at its instant, vss-unexpose, and
# vss-delete of the oldest beyond $SOAK_KEEP.  Proves that under sustained
# writes no shadow copy ever shows other content than at its instant
# (mismatches must be 0), that fio never reads back wrong data, that every
# command succeeds, and that the kernel logs no problem.
#
#   scripts/vm-run -- env VSS_SOAK_SECONDS=120 bats test/target/soak.bats
#
# VSS_SOAK_SECONDS: length of the run (default 90; VSS_LONG=1: 3600); it
# goes on past that until VSS_SOAK_KEEP + 2 cycles are done (so that copies
# are deleted too, however slow the host), at most 900 s more.
# VSS_SOAK_KEEP: shadow copies kept alive (default 3; VSS_LONG=1: 4).
# VSS_SOAK_IOPS: fio's write rate limit (default 300 IOPS of 4 KiB, so that
# the emulated VM still runs the cycle).

load helpers

setup() {
	vm_setup
	require fio jq sha256sum mkfs.ext4 timeout pkill
	modprobe dm-vss
	mkdir -p "$T/state" "$T/run" "$T/conf" "$T/mnt" "$T/sums"
	export VSS_STATE_DIR=$T/state VSS_RUN_DIR=$T/run VSS_CONF_DIR=$T/conf
	VOL=${VSS_TEST_PFX}vol
	FIO_PID=
}

teardown() {
	[ -z "${FIO_PID:-}" ] || fio_loop_end
	vm_umount_all
	vm_teardown
}

# Every command of the cycle is bounded: a hang fails the run.
tm() {
	timeout -k 10 "${SOAK_CMD_TIMEOUT:-180}" "$@"
}

# marker_round N: new marker files for cycle N, the rolling file rewritten
# (the same path holds different content in every shadow copy), an old
# round's files removed (absent from later copies); synced.
marker_round() {
	local n=$1 i dir=$MNT/markers
	mkdir -p "$dir"
	for i in 1 2 3; do
		head -c $(( (RANDOM % 64 + 1) * 1024 + RANDOM % 1000 )) /dev/urandom > "$dir/m$n.$i"
	done
	head -c $((64 * 1024)) /dev/urandom > "$dir/rolling"
	echo "cycle $n" > "$dir/note"
	rm -f "$dir/m$((n - 6)).1" "$dir/m$((n - 6)).2"
	sync
}

# manifest DIR: sha256 of every file under DIR/markers, sorted by name.
manifest() {
	(cd "$1/markers" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
}

# compare_copy ID: exposes shadow copy ID, compares its marker files with
# the sums recorded at its instant (content and the list of files), then
# unexposes it.  Adds to FILES and MISMATCHES.
compare_copy() {
	local id=$1 m=$T/mnt/x$1 want=$T/sums/$1 got n bad
	tm vss-expose "$id" "$m" >/dev/null ||
		{ echo "vss-expose $id failed" >&2; return 1; }
	EXPOSES=$((EXPOSES + 1))
	got=$(manifest "$m") || { echo "shadow copy $id: cannot read its markers" >&2; tm vss-unexpose "$id"; return 1; }
	n=$(wc -l < "$want")
	FILES=$((FILES + n))
	bad=$(diff <(cat "$want") <(echo "$got") | grep -c '^[<>]' || true)
	if [ "$bad" -gt 0 ]; then
		echo "shadow copy $id: marker files differ from its instant:" >&2
		diff <(cat "$want") <(echo "$got") >&2 || true
		MISMATCHES=$((MISMATCHES + bad))
	fi
	tm vss-unexpose "$id" >/dev/null || { echo "vss-unexpose $id failed" >&2; return 1; }
}

# fio_loop SECONDS: fio runs of SECONDS each, one after the other, on the
# same files until $T/fio.stop exists: each writes, reads back and verifies
# (crc32c, verify_backlog) and reports in $T/fio.N.json and $T/fio.N.err.
# A run that fails leaves "N EXIT" in $T/fio.failed and ends the loop.
fio_loop() {
	local n=0 rc
	while [ ! -e "$T/fio.stop" ]; do
		n=$((n + 1))
		rc=0
		fio --name=soak --directory="$MNT/fio" --size=24M --bs=4k --rw=randwrite \
			--ioengine=psync --direct=1 --rate_iops="$IOPS" \
			--verify=crc32c --verify_fatal=1 --do_verify=1 --verify_backlog=512 \
			--time_based --runtime="$1" \
			--output-format=json --output="$T/fio.$n.json" 2> "$T/fio.$n.err" || rc=$?
		[ $rc = 0 ] || { echo "$n $rc" > "$T/fio.failed"; return 1; }
	done
}

# fio_loop_end: ends fio_loop $FIO_PID at once (its fio run killed).
fio_loop_end() {
	touch "$T/fio.stop"
	pkill -P "$FIO_PID" fio 2>/dev/null || true
	kill "$FIO_PID" 2>/dev/null || true
	wait "$FIO_PID" 2>/dev/null || true
	FIO_PID=
}

# fio_sum JQ_EXPR: the sum of one number over every fio run's report.
fio_sum() {
	local f t=0 v
	for f in "$T"/fio.*.json; do
		[ -e "$f" ] || continue
		v=$(jq "$1" "$f" 2>/dev/null) || { echo unreadable; return; }
		t=$((t + v))
	done
	echo "$t"
}

# ms T0 T1: milliseconds from EPOCHREALTIME T0 to T1.
ms() {
	local a=${1/./} b=${2/./}
	echo $(( (10#$b - 10#$a) / 1000 ))
}

@test "soak: fio verifies its writes while shadow copies are taken, exposed, compared and deleted" {
	local secs keep l store out id dev cycles=0 created=0 deleted=0
	local peak=0 used total start errs wbytes rbytes runs a rc elapsed mincycles
	local t0 t1 t2 t3 t4 ms_mark=0 ms_snap=0 ms_cmp=0 ms_del=0
	EXPOSES=0 FILES=0 MISMATCHES=0
	if [ -n "${VSS_LONG:-}" ]; then
		secs=${VSS_SOAK_SECONDS:-3600} keep=${VSS_SOAK_KEEP:-4}
	else
		secs=${VSS_SOAK_SECONDS:-90} keep=${VSS_SOAK_KEEP:-3}
	fi
	IOPS=${VSS_SOAK_IOPS:-300}
	mincycles=$((keep + 2))

	# A 256 MiB volume, a 256 MiB store: the copies the kept shadow
	# copies need (fio's 24 MiB, the journal, the markers, keep+1 times at
	# most) fit, so no copy is ever dropped.
	l=$(make_loop 256M vol)
	store=$(make_loop 256M store)
	dm_create "$VOL" --table "0 $((256 * 2048)) linear $l 0"
	mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0 "/dev/mapper/$VOL"
	MNT=$T/mnt/v
	mkdir -p "$MNT/fio"
	mount "/dev/mapper/$VOL" "$MNT"
	mkdir -p "$MNT/fio"
	tm vss-storage add --for "/dev/mapper/$VOL" --on "$store"
	[ "$(dmsetup table "$VOL" | awk '{ print $3 }')" = vss-origin ]

	fio_loop 30 3>&- &
	FIO_PID=$!
	# fio lays its file out first; cycle once it writes
	for a in $(seq 1 60); do
		[ -s "$MNT/fio/soak.0.0" ] && break
		sleep 1
	done

	start=$SECONDS
	ids=()
	while (( (SECONDS - start < secs || cycles < mincycles) && SECONDS - start < secs + 900 )); do
		[ ! -e "$T/fio.failed" ] || break
		cycles=$((cycles + 1))
		t0=$EPOCHREALTIME
		marker_round "$cycles"
		manifest "$MNT" > "$T/sums/pending"
		t1=$EPOCHREALTIME
		out=$(tm vss-snapshot --json --no-writers "/dev/mapper/$VOL") ||
			{ echo "cycle $cycles: vss-snapshot failed" >&2; false; }
		id=$(echo "$out" | jq -r '.shadows[0].shadow_id')
		dev=$(echo "$out" | jq -r '.shadows[0].device')
		[[ $id =~ ^[0-9]+$ ]] || { echo "cycle $cycles: no shadow id in: $out" >&2; false; }
		echo "${dev#/dev/mapper/}" >> "$T/.dm"
		mv "$T/sums/pending" "$T/sums/$id"
		created=$((created + 1))
		ids+=("$id")
		# the markers change right away: the copy must not see it
		echo "after $id" > "$MNT/markers/note"
		t2=$EPOCHREALTIME
		# every shadow copy still alive, the newest first
		for (( a = ${#ids[@]} - 1; a >= 0; a-- )); do
			[ "$(dmsetup status "vss-${ids[a]}" | awk '{ print $5 }')" = valid ] ||
				{ echo "shadow copy ${ids[a]} is no longer valid: $(dmsetup status "vss-${ids[a]}")" >&2; false; }
			compare_copy "${ids[a]}"
		done
		t3=$EPOCHREALTIME
		(( MISMATCHES == 0 )) || break
		while (( ${#ids[@]} > keep )); do
			tm vss-delete --yes "${ids[0]}" >/dev/null ||
				{ echo "cycle $cycles: vss-delete ${ids[0]} failed" >&2; false; }
			! dmsetup info "vss-${ids[0]}" >/dev/null 2>&1 ||
				{ echo "vss-${ids[0]} is still there after vss-delete" >&2; false; }
			deleted=$((deleted + 1))
			ids=("${ids[@]:1}")
		done
		t4=$EPOCHREALTIME
		ms_mark=$((ms_mark + $(ms "$t0" "$t1"))) ms_snap=$((ms_snap + $(ms "$t1" "$t2")))
		ms_cmp=$((ms_cmp + $(ms "$t2" "$t3"))) ms_del=$((ms_del + $(ms "$t3" "$t4")))
		read -r used total < <(dmsetup status "$VOL" | awk '{ split($5, u, "/"); print u[1], u[2] }')
		if (( used > peak )); then peak=$used; fi
	done
	elapsed=$((SECONDS - start))

	# fio's last run ends at its runtime, plus its last verification:
	# bounded too
	touch "$T/fio.stop"
	for a in $(seq 1 300); do
		kill -0 "$FIO_PID" 2>/dev/null || break
		sleep 1
	done
	! kill -0 "$FIO_PID" 2>/dev/null || echo "fio did not end: killed" >&2
	fio_loop_end
	runs=$(ls "$T"/fio.*.json 2>/dev/null | wc -l)
	errs=$(fio_sum '[.jobs[].error] | add')
	wbytes=$(fio_sum '[.jobs[].write.io_bytes] | add')
	rbytes=$(fio_sum '[.jobs[].read.io_bytes] | add')

	echo "# soak: $elapsed s, $cycles cycles, $created shadow copies created, $deleted deleted, $EXPOSES exposes, $FILES files compared, $MISMATCHES mismatches" >&3
	echo "# soak: seconds in markers+sync $((ms_mark / 1000)), vss-snapshot $((ms_snap / 1000)), expose+compare+unexpose $((ms_cmp / 1000)), vss-delete $((ms_del / 1000))" >&3
	echo "# soak: $runs fio runs of 30 s, errors $errs, $((wbytes / 1048576)) MiB written, $((rbytes / 1048576)) MiB read back and verified; store peak $peak/$total chunks" >&3

	(( MISMATCHES == 0 ))
	[ ! -e "$T/fio.failed" ] || {
		read -r a rc < "$T/fio.failed"
		echo "fio run $a exited $rc:" >&2; cat "$T/fio.$a.err" >&2; false
	}
	[ "$errs" = 0 ] || { echo "fio reports errors: $errs" >&2; cat "$T"/fio.*.err >&2; false; }
	! cat "$T"/fio.*.err | grep -qi 'verify' || { echo "fio reports verify problems:" >&2; cat "$T"/fio.*.err >&2; false; }
	(( rbytes > 0 )) || { echo "fio verified nothing" >&2; false; }
	(( cycles >= mincycles && created >= mincycles && deleted >= 2 )) ||
		{ echo "$cycles cycles, $created created, $deleted deleted in $elapsed s: $mincycles cycles and 2 deletes wanted" >&2; false; }
	(( elapsed >= secs - 5 )) || { echo "the cycle stopped after $elapsed s of $secs" >&2; false; }

	# the rest is deleted cleanly too
	for id in "${ids[@]}"; do
		tm vss-delete --yes "$id" >/dev/null
	done
	[ "$(dmsetup status "$VOL" | awk '{ print $7 }')" = 0 ]
	[ "$(dmsetup status "$VOL" | awk '{ print $8 }')" = rw ]
	umount "$MNT"
	check_dmesg
}
