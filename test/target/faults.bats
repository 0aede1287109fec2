#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Faults under a vss-origin, at chosen moments: the device under the store
# or under the origin is switched (dmsetup load + suspend + resume of a
# dm-linear) to dm-flakey (error or drop writes, or flapping) or to dm-error
# while snapshots exist and writes go on.  Proves: a failing store moves the
# target to fail mode (status says so, a dm event is raised, dmsetup wait
# wakes), its snapshots answer EIO and origin writes still complete; a
# failing origin fails its I/O but never makes a snapshot read wrong data;
# the origin keeps exactly the data written (sha256 against a model or fio
# --verify); every command ends (each bounded by `timeout`) and `dmsetup
# remove` always works.  Also: a snapshot deleted while being read (the
# reader gets its data or EIO, never hangs); tables removed while fio is
# writing (remove --force, suspend --noflush then remove) leave a store
# that loads with its snapshot exact; the store filling up under heavy
# concurrent writes (fio, two jobs) under both overflow policies.
# (cow-overflow.bats covers overflow with sequential writes and a store
# under dm-error without events.)
#   scripts/vm-run -- bats test/target/faults.bats

load helpers

MiB=$((1024 * 1024))
K4=4096

setup() {
	vm_setup
	require fio timeout sha256sum
	modprobe dm-vss
	modprobe dm-flakey
	P=$VSS_TEST_PFX
	declare -gA SHA=()
	BG=()
}

teardown() {
	local p
	for p in "${BG[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${BG[@]}"; do
		wait "$p" 2>/dev/null
	done
	vm_teardown
}

# Every dmsetup, dd and fio of these tests is bounded: a hang fails.
t() {
	timeout -k 5 "${FAULT_TIMEOUT:-60}" "$@"
}

# mk ORIGIN_MIB STORE_MIB [FEATURE_ARG...]: loop devices under two
# switchable dm-linear devices ${P}oreal and ${P}store, the vss-origin
# ${P}o over them; a model file of the origin's content, filled at random.
mk() {
	local omib=$1 smib=$2 ol sl
	shift 2
	ol=$(make_loop "${omib}M" origin)
	sl=$(make_loop "${smib}M" store)
	OSECT=$((omib * 2048)) SSECT=$((smib * 2048))
	OLOOP=$ol SLOOP=$sl
	dm_create "${P}oreal" --table "0 $OSECT linear $ol 0"
	dm_create "${P}store" --table "0 $SSECT linear $sl 0"
	OREAL=/dev/mapper/${P}oreal STORE=/dev/mapper/${P}store
	O=${P}o ODEV=/dev/mapper/${P}o
	FEATURES=
	[ $# -gt 0 ] && FEATURES=" $# $*"
	dm_create "$O" --table "0 $OSECT vss-origin $OREAL $STORE$FEATURES"
	MODEL=$T/model
	head -c $((omib * MiB)) /dev/urandom > "$MODEL"
	t dd if="$MODEL" of="$ODEV" bs=1M oflag=direct status=none
}

# switch NAME TABLE: the device NAME now maps TABLE (load, suspend, resume).
switch() {
	t dmsetup load "$1" --table "$2" &&
		t dmsetup suspend "$1" &&
		t dmsetup resume "$1"
}

store_linear() { switch "${P}store" "0 $SSECT linear $SLOOP 0"; }
origin_linear() { switch "${P}oreal" "0 $OSECT linear $OLOOP 0"; }

# ow CHUNK COUNT: random data over COUNT 4 KiB chunks at CHUNK, through the
# vss-origin; the model follows only if the write succeeded.
ow() {
	local buf=$T/buf.$1
	head -c $(($2 * K4)) /dev/urandom > "$buf"
	t dd if="$buf" of="$ODEV" bs=$(($2 * K4)) seek=$(($1 * K4)) count=1 \
		oflag=direct,seek_bytes conv=notrunc status=none || return 1
	dd if="$buf" of="$MODEL" bs=$(($2 * K4)) seek=$(($1 * K4)) count=1 \
		oflag=seek_bytes conv=notrunc status=none
}

sha() {
	local s
	s=$(set -o pipefail; t dd if="$1" iflag=direct bs=1M status=none | sha256sum) || return 1
	echo "${s%% *}"
}

origin_exact() {
	local a b
	a=$(sha "$ODEV") b=$(sha256sum < "$MODEL")
	[ "$a" = "${b%% *}" ] || { echo "the origin differs from the model" >&2; return 1; }
}

# snap ID: snapshot ID of the origin's content (read under suspension,
# which must equal the model), and its read-only vss-snap device ${P}sID.
snap() {
	local id=$1 s r=0
	t dmsetup suspend "$O"
	s=$(sha "$OREAL") || r=1
	t dmsetup message "$O" 0 create "$id" || r=1
	t dmsetup resume "$O" || r=1
	(( r == 0 )) || { echo "snapshot $id: create failed" >&2; return 1; }
	[ "$s" = "$(sha256sum < "$MODEL" | cut -d' ' -f1)" ] ||
		{ echo "snapshot $id: the origin differs from the model" >&2; return 1; }
	SHA[$id]=$s
	dm_create "${P}s$id" --readonly --table "0 $OSECT vss-snap $OREAL $STORE $id"
}

# mode, used, snaps: fields of the vss-origin status; state ID, of a vss-snap.
ostatus() { t dmsetup status "$O" | awk -v f="$1" '{ print $f }'; }
mode() { ostatus 8; }
state() { t dmsetup status "${P}s$1" | awk '{ print $5 }'; }
events() { t dmsetup info -c --noheadings -o events "${1:-$O}" | tr -d ' '; }

# reads ID: how a full read of snapshot ID ends: "exact", "eio" or "wrong".
reads() {
	local s err=$T/read.err.$BASHPID
	if s=$(sha "/dev/mapper/${P}s$1" 2> "$err"); then
		[ "$s" = "${SHA[$1]}" ] && echo exact || echo wrong
	elif grep -q "Input/output error" "$err"; then
		echo eio
	else
		echo "other: $(cat "$err")"
	fi
}

# wait_bg PID: waits up to 60 s for a background job to end.
wait_bg() {
	t bash -c "while kill -0 $1 2>/dev/null; do sleep 0.2; done"
}

expect_reads() {
	local got
	got=$(reads "$1")
	[ "$got" = "$2" ] || {
		echo "snapshot $1 reads: $got, expected $2" >&2
		t dmsetup status "$O" "${P}s$1" >&2
		dmesg | sed -n "/$VSS_DMESG_MARK\$/,\$p" | grep -E "vss|device-mapper" | tail -20 >&2
		return 1
	}
}

# remove_all: every device of the test goes, in order, each bounded.
remove_all() {
	local name
	udevadm settle --timeout=20 >/dev/null 2>&1
	for name in $(dmsetup info -c --noheadings -o name | grep "^${P}s[0-9]" || true) "$O" "${P}store" "${P}oreal"; do
		dmsetup info "$name" >/dev/null 2>&1 || continue
		t dmsetup remove --retry "$name" || { echo "dmsetup remove $name failed" >&2; return 1; }
	done
}

# wait_mode MODE: the origin's mode becomes MODE within 120 s.
wait_mode() {
	local i
	for i in $(seq 1 240); do
		[ "$(mode)" = "$1" ] && return 0
		sleep 0.5
	done
	echo "mode $(mode), expected $1 (status: $(t dmsetup status "$O"))" >&2
	return 1
}

faulty_store_common() {
	# $1: error, or the arguments of flakey after its device
	local ev tbl
	mk 16 8
	if [ "$1" = error ]; then tbl="0 $SSECT error"; else tbl="0 $SSECT flakey $SLOOP $1"; fi
	snap 1
	ow 0 64
	snap 2
	ow 32 64
	expect_reads 1 exact
	expect_reads 2 exact
	ev=$(events)
	t dmsetup wait "$O" "$ev" & BG+=($!)
	waiter=$!
	switch "${P}store" "$tbl"
	# writes to chunks never copied: the copies fail, the writes complete
	ow 200 32
	ow 300 1
	wait_mode fail
	wait "$waiter"
	(( $(events) > ev ))
	[ "$(state 1)" = invalid ]
	[ "$(state 2)" = invalid ]
	expect_reads 1 eio
	expect_reads 2 eio
	dmesg | sed -n "/$VSS_DMESG_MARK\$/,\$p" | grep -q "all snapshots invalidated"
	# origin writes keep landing while the store is failed
	ow 400 16
	ow 0 8
	origin_exact
	# no new snapshot on a failed store
	t dmsetup suspend "$O"
	run ! t dmsetup message "$O" 0 create 3
	t dmsetup resume "$O"
	origin_exact
}

@test "store under flakey error_writes: fail mode, a dm event, snapshots EIO, origin exact, remove works" {
	local r
	faulty_store_common "0 0 3600 1 error_writes"
	store_linear
	[ "$(mode)" = fail ]
	t dmsetup remove --retry "${P}s1" "${P}s2"
	t dmsetup remove --retry "$O"
	# the store works again: the invalidation that could not be written
	# then was written when the table was suspended for its removal
	dmesg | sed -n "/$VSS_DMESG_MARK\$/,\$p" | grep -q "the invalidation of its snapshots is on disk"
	if t dmsetup create "$O" --table "0 $OSECT vss-origin $OREAL $STORE"; then
		if t dmsetup create --readonly "${P}s1" --table "0 $OSECT vss-snap $OREAL $STORE 1"; then
			r=$(reads 1)
		else
			r=refused
		fi
		echo "# store healed after error_writes, reloaded: mode $(mode), snapshot 1 reads: $r" >&3
		[ "$r" = eio ] || [ "$r" = refused ]
	else
		false
	fi
	remove_all
	check_dmesg
}

@test "store switched to dm-error under writes: fail mode, a dm event, origin exact, remove works" {
	faulty_store_common error
	# delete on a failed store: refused or done, never a hang
	t dmsetup message "$O" 0 delete 1 || true
	remove_all
	check_dmesg
}

@test "store flapping (flakey up 1 s, down 1 s) under fio writes with verify: origin verified, then fail mode" {
	local ev
	mk 32 32
	snap 1
	ev=$(events)
	switch "${P}store" "0 $SSECT flakey $SLOOP 0 1 1"
	t fio --name=flap --filename="$ODEV" --size=24M --bs=4k --rw=randwrite \
		--ioengine=libaio --iodepth=8 --direct=1 --runtime=6 --time_based \
		--verify=crc32c --verify_fatal=1 --do_verify=1 --verify_backlog=256 \
		--output="$T/fio.out" || { cat "$T/fio.out" >&2; false; }
	! grep -qi "verify.*\(bad\|fail\)" "$T/fio.out" || false
	wait_mode fail
	(( $(events) > ev ))
	expect_reads 1 eio
	store_linear
	remove_all
	check_dmesg
}

@test "store under flakey drop_writes: origin exact, reads end, remove works; the store reloads" {
	local r
	mk 16 8
	snap 1
	ow 0 64
	switch "${P}store" "0 $SSECT flakey $SLOOP 0 0 3600 1 drop_writes"
	ow 100 64
	ow 0 8
	snap 2
	ow 150 32
	origin_exact
	# the lost store writes cannot be seen: the reads only have to end
	r=$(reads 1); echo "snapshot 1 reads: $r"
	[[ $r == exact || $r == eio || $r == wrong ]]
	r=$(reads 2); echo "snapshot 2 reads: $r"
	[[ $r == exact || $r == eio || $r == wrong ]]
	store_linear
	remove_all
	# what reached the store loads, or is refused cleanly
	if t dmsetup create "$O" --table "0 $OSECT vss-origin $OREAL $STORE"; then
		echo "$O" >> "$T/.dm"
		echo "reloaded: $(t dmsetup status "$O")"
		t dmsetup remove --retry "$O"
	fi
	check_dmesg
}

@test "origin under flakey error_writes: the writes fail with EIO, snapshots stay valid and exact" {
	local out
	mk 16 8
	snap 1
	ow 0 16
	snap 2
	switch "${P}oreal" "0 $OSECT flakey $OLOOP 0 0 3600 1 error_writes"
	# to chunks copied for neither, for one, and for both snapshots
	run ! ow 100 16
	run ! ow 8 16
	run ! ow 0 4
	head -c 4096 /dev/urandom > "$T/one"
	out=$(t dd if="$T/one" of="$ODEV" bs=4096 count=1 seek=500 oflag=direct conv=notrunc 2>&1) && false
	[[ $out == *"Input/output error"* ]]
	# reads still work
	expect_reads 1 exact
	expect_reads 2 exact
	origin_linear
	[ "$(mode)" = rw ]
	[ "$(state 1)" = valid ]
	[ "$(state 2)" = valid ]
	expect_reads 1 exact
	expect_reads 2 exact
	origin_exact
	# and it works on
	ow 100 16
	snap 3
	ow 120 16
	expect_reads 1 exact
	expect_reads 3 exact
	origin_exact
	remove_all
	check_dmesg
}

@test "origin switched to dm-error: I/O fails with EIO, no snapshot reads wrong data, origin data kept, remove works" {
	local r ev
	mk 16 8
	snap 1
	ow 0 16
	ev=$(events)
	switch "${P}oreal" "0 $OSECT error"
	# snapshot 1 reads its copies from the store, the rest from the origin
	t dd if="/dev/mapper/${P}s1" of=/dev/null bs=4096 count=16 iflag=direct status=none
	r=$(reads 1); [ "$r" = eio ]
	run ! t dd if="$ODEV" of=/dev/null bs=4096 count=1 iflag=direct status=none
	# a chunk already copied, then one that needs a copy
	run ! ow 0 4
	run ! ow 100 16
	origin_linear
	# a copy that failed to read the origin fails the store: then the
	# snapshots are invalid; else they are exact
	echo "mode $(mode), snapshot 1 $(state 1), events $ev -> $(events)"
	if [ "$(mode)" = fail ]; then
		(( $(events) > ev ))
		expect_reads 1 eio
	else
		expect_reads 1 exact
	fi
	origin_exact
	# the same after a reload: persistent
	t dmsetup remove --retry "${P}s1"
	t dmsetup remove --retry "$O"
	dm_create "$O" --table "0 $OSECT vss-origin $OREAL $STORE"
	dm_create "${P}s1" --readonly --table "0 $OSECT vss-snap $OREAL $STORE 1"
	r=$(reads 1); echo "after the reload: $r"
	[[ $r == exact || $r == eio ]]
	origin_exact
	remove_all
	check_dmesg
}

@test "a snapshot deleted while being read (and its chunks reused): every read ends with its data or EIO" {
	local i n=0 exact=0 eio=0 wrong=0 r
	mk 32 16
	snap 1
	ow 0 2048
	snap 2
	# readers of snapshot 1 in a loop, each read's end recorded
	(
		for i in $(seq 1 100); do
			reads 1 >> "$T/reads" 2>/dev/null || echo stuck >> "$T/reads"
			[ -e "$T/stop" ] && break
		done
	) 3>&- & BG+=($!)
	reader=$!
	sleep 2
	t dmsetup message "$O" 0 delete 1
	# the freed chunks are reused by the copies for snapshot 2
	ow 0 1024 &
	ow 3000 1024
	wait $!
	sleep 1
	touch "$T/stop"
	wait_bg "$reader"
	while read -r r; do
		n=$((n + 1))
		case $r in exact) exact=$((exact + 1)) ;; eio) eio=$((eio + 1)) ;; *) wrong=$((wrong + 1)); echo "read: $r" >&2 ;; esac
	done < "$T/reads"
	echo "# delete while reading: $n reads, $exact exact, $eio EIO, $wrong other" >&3
	(( wrong == 0 && eio > 0 ))
	expect_reads 1 eio
	expect_reads 2 exact
	origin_exact
	remove_all
	check_dmesg
}

@test "tables removed while fio writes: remove --force of snapshot and origin, suspend --noflush then remove; the store reloads exact" {
	local fio_pid rc
	mk 32 32
	snap 1
	ow 0 256
	# fio writing the origin, a reader on the snapshot
	fio --name=inflight --filename="$ODEV" --size=24M --bs=4k --rw=randwrite \
		--ioengine=libaio --iodepth=16 --direct=1 --runtime=60 --time_based \
		--output="$T/fio1.out" 2> "$T/fio1.err" 3>&- & BG+=($!)
	fio_pid=$!
	( while :; do t dd if="/dev/mapper/${P}s1" of=/dev/null bs=64k iflag=direct status=none || break; done ) 3>&- & BG+=($!)
	reader=$!
	sleep 2
	# the snapshot device goes while it is read: --force swaps in the
	# error target, the reader ends, then the device goes
	t dmsetup remove --force "${P}s1" || true
	wait_bg "$reader"
	if dmsetup info "${P}s1" >/dev/null 2>&1; then t dmsetup remove --retry "${P}s1"; fi
	! dmsetup info "${P}s1" >/dev/null 2>&1 || false
	sleep 1
	# the origin goes while fio writes: --force swaps in the error target
	t dmsetup remove --force "$O" || true
	wait_bg "$fio_pid"
	rc=0; wait "$fio_pid" || rc=$?
	echo "fio ended with $rc"
	if dmsetup info "$O" >/dev/null 2>&1; then t dmsetup remove --retry "$O"; fi
	! dmsetup info "$O" >/dev/null 2>&1 || false
	# the store still holds snapshot 1, exact (fio's writes were copied first)
	dm_create "$O" --table "0 $OSECT vss-origin $OREAL $STORE"
	dm_create "${P}s1" --readonly --table "0 $OSECT vss-snap $OREAL $STORE 1"
	expect_reads 1 exact
	[ "$(mode)" = rw ]

	# again, with suspend --noflush while writes are in flight
	fio --name=inflight2 --filename="$ODEV" --size=24M --bs=4k --rw=randwrite \
		--ioengine=libaio --iodepth=16 --direct=1 --runtime=60 --time_based \
		--output="$T/fio2.out" 2> "$T/fio2.err" 3>&- & BG+=($!)
	fio_pid=$!
	sleep 2
	t dmsetup suspend --noflush "$O"
	t dmsetup remove --force "$O" || true
	wait_bg "$fio_pid"
	wait "$fio_pid" || true
	if dmsetup info "$O" >/dev/null 2>&1; then t dmsetup remove --retry "$O"; fi
	! dmsetup info "$O" >/dev/null 2>&1 || false
	t dmsetup remove --retry "${P}s1"
	dm_create "$O" --table "0 $OSECT vss-origin $OREAL $STORE"
	dm_create "${P}s1" --readonly --table "0 $OSECT vss-snap $OREAL $STORE 1"
	expect_reads 1 exact
	remove_all
	check_dmesg
}

# overflow_fio POLICY_FEATURES...: four snapshots over a 2 MiB store, two
# fio jobs writing and verifying the whole origin concurrently.
overflow_fio() {
	local ev id r valid=0 invalid=0
	mk 32 2 "$@"
	for id in 1 2 3 4; do
		snap "$id"
		ow $((id * 100)) 50
	done
	ev=$(events)
	t fio --name=full --filename="$ODEV" --bs=16k --rw=randwrite \
		--ioengine=libaio --iodepth=8 --direct=1 --numjobs=2 --offset_increment=16M --size=16M \
		--verify=crc32c --verify_fatal=1 --do_verify=1 \
		--output="$T/fio.out" || { cat "$T/fio.out" >&2; false; }
	! grep -qi "verify.*\(bad\|fail\)" "$T/fio.out" || false
	(( $(events) > ev ))
	for id in 1 2 3 4; do
		r=$(reads "$id")
		case "$(state "$id"):$r" in
		valid:exact) valid=$((valid + 1)) ;;
		invalid:eio) invalid=$((invalid + 1)) ;;
		*) echo "snapshot $id: state $(state "$id"), reads $r" >&2; return 1 ;;
		esac
	done
	[ "$(mode)" = rw ]
	echo "# overflow under fio ($*): $valid snapshots valid and exact, $invalid invalid (EIO); events $ev -> $(events)" >&3
	(( invalid > 0 ))
	# the store is usable again
	t dd if="$ODEV" of="$MODEL" bs=1M iflag=direct status=none
	snap 5
	ow 0 16
	expect_reads 5 exact
	origin_exact
	remove_all
}

@test "store full under heavy concurrent writes (fio, 2 jobs), default policy: oldest dropped, origin verified" {
	overflow_fio
	dmesg | sed -n "/$VSS_DMESG_MARK\$/,\$p" | grep -q "dropped snapshot 1$"
	check_dmesg
}

@test "store full under heavy concurrent writes (fio, 2 jobs), overflow_invalidate: all invalid, origin verified" {
	overflow_fio overflow_invalidate
	dmesg | sed -n "/$VSS_DMESG_MARK\$/,\$p" | grep -q "invalidating all snapshots"
	check_dmesg
}

@test "a create whose superblock write fails fails the store: no snapshot is left valid but unprotected" {
	local r
	mk 16 8
	snap 1
	ow 0 64
	expect_reads 1 exact
	switch "${P}store" "0 $SSECT error"
	t dmsetup suspend "$O"
	run ! t dmsetup message "$O" 0 create 2
	t dmsetup resume "$O"
	[ "$(mode)" = fail ]
	[ "$(state 1)" = invalid ]
	expect_reads 1 eio
	dmesg | sed -n "/$VSS_DMESG_MARK\$/,\$p" | grep -q "cannot write the superblock of a new snapshot; all snapshots invalidated"
	ow 100 16
	origin_exact
	# healed and reloaded: neither snapshot serves reads
	store_linear
	t dmsetup remove --retry "${P}s1"
	t dmsetup remove --retry "$O"
	t dmsetup create "$O" --table "0 $OSECT vss-origin $OREAL $STORE"
	for id in 1 2; do
		if t dmsetup create --readonly "${P}s$id" --table "0 $OSECT vss-snap $OREAL $STORE $id" 2>/dev/null; then
			r=$(reads "$id")
		else
			r=refused
		fi
		echo "# snapshot $id after the reload: $r" >&3
		[ "$r" = eio ] || [ "$r" = refused ]
	done
	origin_exact
	remove_all
	check_dmesg
}

@test "a failed store whose writes hang: origin writes wait for one try per back-off, not each for its own" {
	local n lat
	require jq
	modprobe dm-delay
	mk 16 8
	snap 1
	ow 0 64
	# the store's I/O now fails, each after a second (dm-delay over dm-error)
	dm_create "${P}err" --table "0 $SSECT error"
	switch "${P}store" "0 $SSECT delay /dev/mapper/${P}err 0 1000"
	ow 200 1
	wait_mode fail
	# 8 s of 4 KiB direct writes, one at a time: before the back-off, each
	# waited for the worker's own try at the superblock (a second each)
	t fio --name=failed-store --filename="$ODEV" --rw=randwrite --bs=4k --size=8M \
		--iodepth=1 --direct=1 --ioengine=psync --runtime=8 --time_based \
		--output-format=json > "$T/fio.json"
	n=$(jq '.jobs[0].write.total_ios' "$T/fio.json")
	lat=$(jq '.jobs[0].write.lat_ns.max' "$T/fio.json")
	echo "# failed store hanging its writes: $n origin writes in 8 s, the longest $((lat / 1000000)) ms" >&3
	(( n > 200 ))
	dmesg | sed -n "/$VSS_DMESG_MARK\$/,\$p" | grep -q "cannot write the invalidation of its snapshots: next try in"
	# healed: the invalidation is written when the table goes
	store_linear
	t dmsetup remove --retry "${P}s1"
	t dmsetup remove --retry "$O"
	dmesg | sed -n "/$VSS_DMESG_MARK\$/,\$p" | grep -q "the invalidation of its snapshots is on disk"
	t dmsetup remove --retry "${P}err"
	remove_all
	check_dmesg
}
