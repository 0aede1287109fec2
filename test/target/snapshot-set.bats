#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# vss-storage and vss-snapshot end to end, inside the test VM: two mounted
# volumes (ext4, xfs) under a writer taken as one set at one instant, an
# abort path that leaves nothing frozen, suspended or orphaned, and the
# dm-snapshot provider with the dm-vss module not loaded.

bats_require_minimum_version 1.5.0

B=$BATS_TEST_DIRNAME/../../build/bin

setup() {
	[ "$(id -u)" = 0 ] || skip "runs as root in the VM (scripts/vm-run)"
	W=/tmp/snap-tests/$BATS_TEST_NUMBER
	rm -rf "$W"; mkdir -p "$W/state" "$W/run" "$W/conf"
	export VSS_STATE_DIR=$W/state VSS_RUN_DIR=$W/run VSS_CONF_DIR=$W/conf
	LOOPS=()
}

teardown() {
	# a test that failed may leave devices suspended and filesystems
	# frozen, and processes blocked on them: resume, thaw, then wait
	for d in $(dmsetup ls 2>/dev/null | awk '$1 ~ /^(st-|vss-)/ {print $1}'); do
		dmsetup resume "$d" >/dev/null 2>&1
	done
	for m in $(awk '$2 ~ "^/tmp/snap-tests/" {print $2}' /proc/mounts); do
		fsfreeze -u "$m" >/dev/null 2>&1
	done
	[ -n "${WPID:-}" ] && kill "$WPID" 2>/dev/null; wait 2>/dev/null
	for m in $(awk '$2 ~ "^/tmp/snap-tests/" {print $2}' /proc/mounts | sort -r); do
		umount -l "$m"
	done
	udevadm settle --timeout=10 >/dev/null 2>&1
	for d in $(dmsetup ls 2>/dev/null | awk '$1 ~ /^(st-|vss-)/ {print $1}'); do
		dmsetup resume "$d" >/dev/null 2>&1
	done
	for pass in 1 2 3; do
		for d in $(dmsetup ls 2>/dev/null | awk '$1 ~ /^vss-/ {print $1}') \
			 $(dmsetup ls 2>/dev/null | awk '$1 ~ /^st-/ && $1 !~ /-real$/ {print $1}') \
			 $(dmsetup ls 2>/dev/null | awk '$1 ~ /^st-.*-real$/ {print $1}'); do
			dmsetup remove "$d" >/dev/null 2>&1
		done
	done
	for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done
	rm -rf "$W"
}

# vol NAME SIZE_MB: a dm-linear volume over a loop device, and its store
vol() {
	local l s
	truncate -s "$2M" "$W/$1.img"
	truncate -s 64M "$W/$1.store"
	l=$(losetup -f --show "$W/$1.img"); LOOPS+=("$l")
	s=$(losetup -f --show "$W/$1.store"); LOOPS+=("$s")
	dmsetup create "st-$1" --table "0 $(($2 * 2048)) linear $l 0"
	udevadm settle --timeout=10
	eval "STORE_$1=$s"
}

# A writer of sequence markers: n to volume a, then n to volume b.
marker_writer() {
	local n=0
	while :; do
		n=$((n + 1))
		echo $n > "$W/a/seq.tmp" && mv "$W/a/seq.tmp" "$W/a/seq"
		echo $n > "$W/b/seq.tmp" && mv "$W/b/seq.tmp" "$W/b/seq"
		dd if=/dev/urandom of="$W/a/blob" bs=64k count=1 conv=notrunc,fsync status=none
	done
}

# Two mounted ext4 volumes, a and b, each with dm-vss-cow storage.
two_cow_volumes() {
	modprobe dm-vss
	vol a 64; vol b 64
	mkfs.ext4 -q /dev/mapper/st-a; mkfs.ext4 -q /dev/mapper/st-b
	mkdir -p "$W/a" "$W/b"
	mount /dev/mapper/st-a "$W/a"; mount /dev/mapper/st-b "$W/b"
	"$B/vss-storage" add --for "$W/a" --on "$STORE_a"
	"$B/vss-storage" add --for "$W/b" --on "$STORE_b"
}

no_leftovers() {
	# nothing suspended, nothing frozen, no shadow copy device, no set
	! dmsetup info -c --noheadings --separator " " -o name,attr | awk '$1 ~ /^st-/ { print $2 }' | grep -q s || false
	run timeout 10 touch "$W/a/after" "$W/b/after"
	[ "$status" = 0 ]
	! dmsetup ls | grep -q '^vss-' || false
	run jq '.sets | length' "$VSS_STATE_DIR/catalog.json"
	[ "$output" = 0 ]
}

@test "dm-snapshot provider with the dm-vss module not loaded" {
	# the suites before this one may have loaded it, and must have left
	# nothing that holds it
	modprobe -r dm-vss
	! grep -q '^dm_vss ' /proc/modules || false
	vol a 64; vol b 64
	mkfs.ext4 -q /dev/mapper/st-a
	mkdir -p "$W/a" "$W/sa"
	mount /dev/mapper/st-a "$W/a"
	echo before > "$W/a/f"; sync
	# no quiet step down to dm-snapshot: the missing module is named
	run --separate-stderr "$B/vss-storage" add --for "$W/a" --on "$STORE_a" --max-size 32M
	echo "$stderr"
	[ "$status" = 8 ]
	[[ $stderr == *"the kernel target vss-origin is not loaded (modprobe dm-vss"* ]]
	! dmsetup table st-a | grep -q snapshot-origin || false
	run --separate-stderr "$B/vss-storage" add -v --provider dm-snapshot --for "$W/a" \
		--on "$STORE_a" --max-size 32M
	echo "$stderr"
	[ "$status" = 0 ]
	[[ $stderr == *"provider dm-snapshot"* ]]
	dmsetup table st-a | grep -q snapshot-origin
	run "$B/vss-snapshot" --json "$W/a"
	echo "$output"
	[ "$status" = 0 ]
	[ "$(echo "$output" | jq -r '.shadows[0].provider')" = dm-snapshot ]
	d=$(echo "$output" | jq -r '.shadows[0].device')
	echo after > "$W/a/f"; sync
	mount -o ro,noload "$d" "$W/sa"
	[ "$(cat "$W/sa/f")" = before ]
	umount "$W/sa"
}

@test "two volumes, ext4 and xfs, one instant under a writer; contents verified" {
	modprobe dm-vss
	vol a 128; vol b 320	# mkfs.xfs wants 300 MiB at least
	mkfs.ext4 -q /dev/mapper/st-a; mkfs.xfs -q /dev/mapper/st-b
	mkdir -p "$W/a" "$W/b" "$W/sa" "$W/sb"
	mount /dev/mapper/st-a "$W/a"; mount /dev/mapper/st-b "$W/b"
	dd if=/dev/urandom of="$W/a/big" bs=1M count=8 status=none
	cp "$W/a/big" "$W/b/big"; sync
	"$B/vss-storage" add --for "$W/a" --on "$STORE_a"
	"$B/vss-storage" add --for /dev/mapper/st-b --on "$STORE_b" --chunk-size 64k
	dmsetup table st-a | grep -q 'vss-origin'
	dmsetup table st-a-real | grep -q linear
	marker_writer & WPID=$!
	sleep 1
	run "$B/vss-snapshot" --json "$W/a" "$W/b"
	echo "$output"
	[ "$status" = 0 ]
	set_id=$(echo "$output" | jq '.set_id')
	[ "$(echo "$output" | jq '.shadows | length')" = 2 ]
	[ "$(echo "$output" | jq -r '.shadows[0].provider')" = dm-vss-cow ]
	[ "$(echo "$output" | jq '.shadows[0].set_id')" = "$set_id" ]
	da=$(echo "$output" | jq -r '.shadows[0].device')
	db=$(echo "$output" | jq -r '.shadows[1].device')
	kill $WPID; wait $WPID 2>/dev/null || true; WPID=
	# the origin moves on, the shadow copies do not
	dd if=/dev/urandom of="$W/a/big" bs=1M count=8 conv=fsync status=none
	mount -o ro,noload "$da" "$W/sa"
	mount -o ro,norecovery,nouuid "$db" "$W/sb"
	sa=$(cat "$W/sa/seq"); sb=$(cat "$W/sb/seq")
	echo "markers: a=$sa b=$sb"
	# one instant: b was written right after a
	[ "$sa" = "$sb" ] || [ "$sa" = $((sb + 1)) ]
	cmp "$W/sa/big" "$W/sb/big"
	! cmp -s "$W/sa/big" "$W/a/big" || false
	umount "$W/sa" "$W/sb"
	dmsetup status "${da#/dev/mapper/}" | grep -q ' valid '
}

@test "an abort at commit leaves no frozen fs, no suspended device, no orphan" {
	two_cow_volumes
	for phase in prepare freeze-filesystems suspend commit activate; do
		run env VSS_TEST_FAIL=$phase "$B/vss-snapshot" "$W/a" "$W/b"
		echo "$phase: $status $output"
		[ "$status" = 7 ]
		[[ "$output" == *"failed at $phase"* ]]
		no_leftovers
	done
	# commit limit passed while frozen: aborted, thawed, exit 7
	run env VSS_TEST_HANG_FROZEN_MS=1500 "$B/vss-snapshot" --timeout-commit 500ms "$W/a" "$W/b"
	echo "$output"
	[ "$status" = 7 ]
	no_leftovers
	# and the next set works
	run "$B/vss-snapshot" "$W/a" "$W/b"
	[ "$status" = 0 ]
}

@test "vss-snapshot killed with SIGKILL while frozen and suspended: thawed and resumed within the commit limit, cleaned by the next command" {
	two_cow_volumes
	echo before > "$W/a/f"; sync
	# frozen and suspended for 60 s after the commit, unless the watchdog
	# ends it: at the commit limit (20 s), or at once when the coordinator dies
	VSS_TEST_HANG_FROZEN_MS=60000 "$B/vss-snapshot" --timeout-commit 20s "$W/a" "$W/b" \
		> "$W/out" 2>&1 & pid=$!
	suspended() { dmsetup info -c --noheadings --separator " " -o name,attr st-a st-b | awk '{ print $2 }' | grep -c s; }
	for _ in $(seq 200); do
		[ "$(suspended)" = 2 ] && break
		sleep 0.1
	done
	[ "$(suspended)" = 2 ] || { cat "$W/out"; false; }
	kill -KILL "$pid"; t0=$(date +%s%N)
	wait "$pid" 2>/dev/null || true
	# a write lands on both filesystems within the commit limit and a
	# margin (in the background: a write to a frozen filesystem cannot be
	# interrupted; teardown resumes and thaws if it is still blocked)
	(echo after > "$W/a/f" && echo after > "$W/b/f" && sync) & WPID=$!
	for _ in $(seq 100); do
		kill -0 "$WPID" 2>/dev/null || break
		sleep 0.1
	done
	! kill -0 "$WPID" 2>/dev/null || { echo "still blocked after 10 s"; cat /proc/$WPID/stack 2>/dev/null; false; }
	wait "$WPID"; WPID=
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	echo "# killed while frozen: writable again after $ms ms (commit limit 20000 ms)" >&3
	(( ms < 6000 ))
	[ "$(suspended)" = 0 ]
	# the next command finds the half-made set and deletes what it made
	run "$B/vss-snapshot" --json "$W/a" "$W/b"
	echo "$output"
	[ "$status" = 0 ]
	[[ "$output" == *"left creating by process $pid: deleting what it made"* ]]
	[ "$(jq '.sets | length' "$VSS_STATE_DIR/catalog.json")" = 1 ]
	[ "$(dmsetup ls | grep -c '^vss-')" = 2 ]
	[ "$(dmsetup status st-a | awk '{ print $7 }')" = 1 ]
	[ "$(dmsetup status st-b | awk '{ print $7 }')" = 1 ]
}

@test "a writer that vetoes exits 6 and leaves nothing behind" {
	modprobe dm-vss
	vol a 64; vol b 64
	mkfs.ext4 -q /dev/mapper/st-a; mkfs.ext4 -q /dev/mapper/st-b
	mkdir -p "$W/a" "$W/b" "$VSS_CONF_DIR/writers.d"
	mount /dev/mapper/st-a "$W/a"; mount /dev/mapper/st-b "$W/b"
	"$B/vss-storage" add --for "$W/a" --on "$STORE_a"
	"$B/vss-storage" add --for "$W/b" --on "$STORE_b"
	cat > "$VSS_CONF_DIR/writers.d/veto" <<-'EOS'
	#!/bin/sh
	while read -r l; do
	  case "$l" in
	  *'"freeze"'*) echo '{"status":"error","retryable":false,"message":"not now"}' ;;
	  *) echo '{"status":"ok"}' ;;
	  esac
	done
	EOS
	chmod 755 "$VSS_CONF_DIR/writers.d/veto"
	run "$B/vss-snapshot" "$W/a" "$W/b"
	echo "$output"
	[ "$status" = 6 ]
	[[ "$output" == *"writer veto: freeze: vetoed: not now"* ]]
	no_leftovers
	run "$B/vss-snapshot" --exclude-writer veto "$W/a" "$W/b"
	[ "$status" = 0 ]
}

@test "the SQLite writer: the copy's database is whole and holds exactly the transactions committed before the freeze" {
	modprobe dm-vss
	vol a 64
	mkfs.ext4 -q /dev/mapper/st-a
	mkdir -p "$W/a" "$W/sa" "$VSS_CONF_DIR/writers.d" "$VSS_CONF_DIR/hooks.d"
	mount /dev/mapper/st-a "$W/a"
	"$B/vss-storage" add --for "$W/a" --on "$STORE_a"
	install -m 755 "$BATS_TEST_DIRNAME/../../scripts/writers/sqlite-writer" "$VSS_CONF_DIR/writers.d/sqlite"
	echo "$W/a/t.db" > "$VSS_CONF_DIR/sqlite-writer.list"
	# a hook that records the clock at its freeze and its thaw: hooks
	# freeze after the writers and thaw before them, so the SQLite lock is
	# held from before the first instant to after the second
	printf '#!/bin/sh\necho "$1 $(date +%%s%%N)" >> %s/hook.times\n' "$W" > "$VSS_CONF_DIR/hooks.d/clock"
	chmod 755 "$VSS_CONF_DIR/hooks.d/clock"
	sqlite3 "$W/a/t.db" 'CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);'
	# each transaction logged off the volume: id, when it began, when its
	# commit had returned
	( i=0; while :; do i=$((i + 1)); t0=$(date +%s%N)
		sqlite3 -cmd '.timeout 20000' "$W/a/t.db" "INSERT INTO t(id, v) VALUES($i, hex(randomblob(64)));" &&
			echo "$i $t0 $(date +%s%N)" >> "$W/committed"; done ) & WPID=$!
	sleep 2
	run "$B/vss-snapshot" --json "$W/a"
	echo "$output"
	[ "$status" = 0 ]
	sleep 1
	kill $WPID; wait $WPID 2>/dev/null || true; WPID=
	d=$(echo "$output" | jq -r '.shadows[0].device')
	mount -o ro,noload "$d" "$W/sa"
	cp "$W/sa/t.db" "$W/copy.db"
	umount "$W/sa"
	[ "$(sqlite3 "$W/copy.db" 'PRAGMA integrity_check;')" = ok ]
	n=$(sqlite3 "$W/copy.db" 'SELECT count(*) FROM t;')
	max=$(sqlite3 "$W/copy.db" 'SELECT coalesce(max(id), 0) FROM t;')
	[ "$(sqlite3 "$W/copy.db" 'SELECT count(*) FROM t WHERE length(v) != 128;')" = 0 ]
	freeze=$(awk '$1 == "freeze" { print $2 }' "$W/hook.times")
	thaw=$(awk '$1 == "thaw" { print $2 }' "$W/hook.times")
	# returned before the freeze: must be in the copy
	before=$(awk -v f="$freeze" '$3 < f' "$W/committed" | wc -l)
	next_end=$(awk -v n="$n" '$1 == n + 1 { print $3 }' "$W/committed")
	next_begin=$(awk -v n="$n" '$1 == n + 1 { print $2 }' "$W/committed")
	echo "# in the copy: $n (max id $max); returned before the freeze: $before;" \
		"lock held $(( (thaw - freeze) / 1000000 )) ms; transaction $((n + 1)) began" \
		"$(( (next_begin - freeze) / 1000000 )) ms after the freeze, returned $(( (next_end - thaw) / 1000000 )) ms after the thaw" >&3
	# exactly 1..n, with every transaction that returned before the freeze
	[ "$n" = "$max" ]
	(( n >= before && before > 0 ))
	# and the first one missing did not commit until the lock was gone
	[ -n "$next_end" ]
	(( next_end > thaw ))
	[ "$(wc -l < "$W/hook.times")" = 2 ]
}

@test "a store that is not blank is refused (exit 5) until --wipe; remove leaves the store blank" {
	modprobe dm-vss
	vol a 32; vol b 32
	dd if=/dev/urandom of=/dev/mapper/st-a bs=1M count=32 status=none
	dd if=/dev/urandom of=/dev/mapper/st-b bs=1M count=32 status=none
	"$B/vss-storage" add --for /dev/mapper/st-a --on "$STORE_a"
	run "$B/vss-snapshot" --json /dev/mapper/st-a
	[ "$status" = 0 ]
	dd if=/dev/urandom of=/dev/mapper/st-a bs=1M count=4 conv=fsync status=none
	# a reboot that lost the catalog: the store still holds a's snapshot
	for d in $(dmsetup ls | awk '$1 ~ /^vss-/ {print $1}') st-a; do dmsetup remove "$d"; done
	dmsetup rename st-a-real st-a
	rm -f "$VSS_STATE_DIR/catalog.json"
	"$B/vss-check" "$STORE_a"
	# b is not a: the old store's snapshot is not a copy of b
	sum_b=$(sha256sum < /dev/mapper/st-b)
	run "$B/vss-storage" add --for /dev/mapper/st-b --on "$STORE_a"
	echo "$output"
	[ "$status" = 5 ]
	[[ "$output" == *"$STORE_a: holds a dm-vss store already (1 snapshots, of a volume of 65536 sectors): they are not copies of /dev/mapper/st-b; to use the device anyway, vss-storage add --wipe"* ]]
	dmsetup table st-b | grep -q ' linear '
	! dmsetup info st-b-real >/dev/null 2>&1 || false
	"$B/vss-check" "$STORE_a"
	# other data: refused the same way
	dd if=/dev/urandom of="$STORE_b" bs=4k count=1 conv=fsync status=none
	run "$B/vss-storage" add --for /dev/mapper/st-b --on "$STORE_b"
	[ "$status" = 5 ]
	[[ "$output" == *"$STORE_b: is not blank"*"--wipe"* ]]
	# --wipe: a new store, its snapshot a copy of b
	run "$B/vss-storage" add --wipe --for /dev/mapper/st-b --on "$STORE_a"
	echo "$output"
	[ "$status" = 0 ]
	run "$B/vss-snapshot" --json /dev/mapper/st-b
	[ "$status" = 0 ]
	d=$(echo "$output" | jq -r '.shadows[0].device')
	[ "$(dmsetup status st-b | awk '{ print $7 }')" = 1 ]
	dd if=/dev/urandom of=/dev/mapper/st-b bs=1M count=4 conv=fsync status=none
	[ "$(sha256sum < "$d")" = "$sum_b" ]
	# remove --force: the store is blank again, and add takes it as is
	"$B/vss-storage" remove --force --yes --for /dev/mapper/st-b
	[ "$(head -c 8192 "$STORE_a" | tr -d '\0' | wc -c)" = 0 ]
	"$B/vss-storage" add --for /dev/mapper/st-b --on "$STORE_a"
	[ "$(dmsetup status st-b | awk '{ print $7 }')" = 0 ]
}
