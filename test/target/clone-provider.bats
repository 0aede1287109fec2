#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The dm-vss-clone provider end to end, inside the test VM with the real
# module: vss-storage add --clone of a mounted ext4 volume under fio load,
# a set of three volumes (two dm-vss-cow, ext4 and xfs, and the clone) at
# one instant, the incremental rejoin when the clone's copy is deleted, the
# refusals (dest too small, still syncing, a second copy while split), and
# vss-storage resize and remove; vss-snapshot --retry with retryable and
# non-retryable writers.
#   scripts/vm-run -- bats test/target/clone-provider.bats

load helpers

B=$BATS_TEST_DIRNAME/../../build/bin

setup() {
	[ "$(id -u)" = 0 ] || skip "runs as root in the VM (scripts/vm-run)"
	modprobe dm-vss
	W=/tmp/clone-provider/$BATS_TEST_NUMBER
	rm -rf "$W"; mkdir -p "$W/state" "$W/run" "$W/conf"
	export VSS_STATE_DIR=$W/state VSS_RUN_DIR=$W/run VSS_CONF_DIR=$W/conf
	LOOPS=() PIDS=()
}

teardown() {
	local p m d pass
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for m in $(awk '$2 ~ "^/tmp/clone-provider/" {print $2}' /proc/mounts | sort -r); do
		fsfreeze -u "$m" 2>/dev/null
		umount -l "$m"
	done
	udevadm settle --timeout=10 >/dev/null 2>&1
	for d in $(dmsetup ls 2>/dev/null | awk '$1 ~ /^(cp-|vss-)/ {print $1}'); do
		dmsetup resume "$d" >/dev/null 2>&1
	done
	for pass in 1 2 3; do
		for d in $(dmsetup ls 2>/dev/null | awk '$1 ~ /^vss-/ {print $1}') \
			 $(dmsetup ls 2>/dev/null | awk '$1 ~ /^cp-/ && $1 !~ /-real$/ {print $1}') \
			 $(dmsetup ls 2>/dev/null | awk '$1 ~ /^cp-.*-real$/ {print $1}'); do
			dmsetup remove "$d" >/dev/null 2>&1
		done
	done
	for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done
	rm -rf "$W"
}

# loop NAME SIZE_MB: a loop device over a new file; its path in $LOOP
loop() {
	truncate -s "$2M" "$W/$1.img"
	LOOP=$(losetup -f --show "$W/$1.img")
	LOOPS+=("$LOOP")
}

# vol NAME SIZE_MB: a dm-linear volume cp-NAME over a loop device
vol() {
	loop "$1" "$2"
	dmsetup create "cp-$1" --table "0 $(($2 * 2048)) linear $LOOP 0"
	udevadm settle --timeout=10
}

majmin() { printf '%d:%d' $(stat -L -c '0x%t 0x%T' "$1"); }

# A field of volume cp-NAME in vss-storage list --json.
field() {
	"$B/vss-storage" list --json | jq -r --arg v "/dev/mapper/cp-$1" \
		'.storage[] | select(.volume == $v) | .'"$2"
}

# wait_mirrored NAME SECONDS
wait_mirrored() {
	local i
	for ((i = 0; i < $2 * 2; i++)); do
		[ "$(field "$1" clone_state)" = mirrored ] && return 0
		sleep 0.5
	done
	echo "cp-$1 not mirrored after $2 s: $(dmsetup status "cp-$1")" >&2
	return 1
}

# fio_bg DIR SECONDS [TAG]: random 4-64 KiB direct writes to a file in DIR,
# its report in $W/fio[-TAG].out
fio_bg() {
	fio --name=load --filename="$1/fio.dat" --size=24M --rw=randwrite --bsrange=4k-64k \
		--ioengine=psync --direct=1 --time_based --runtime="$2" \
		--output="$W/fio${3:+-$3}.out" >/dev/null 2>&1 &
	FIO=$!
	PIDS+=("$FIO")
}

# fio_ok [TAG]: that fio run ended without an I/O error
fio_ok() {
	grep -q 'err= 0' "$W/fio${1:+-$1}.out" && return 0
	cat "$W/fio${1:+-$1}.out" >&2
	return 1
}

# Markers n written to a, then b, then c, over and over.
marker_writer() {
	local n=0
	while :; do
		n=$((n + 1))
		for v in a b c; do
			echo $n > "$W/$v/seq.tmp" && mv "$W/$v/seq.tmp" "$W/$v/seq"
		done
	done
}

# The sets in the catalog.
nsets() { jq '.sets | length' "$VSS_STATE_DIR/catalog.json"; }

# nothing suspended, nothing frozen, no shadow copy device beyond $1 (a count)
nothing_left() {
	local d
	! dmsetup info -c --noheadings --separator " " -o name,attr | awk '$1 ~ /^cp-/ {print $2}' | grep -q s || {
		dmsetup info -c -o name,attr >&2; return 1; }
	for d in "$W"/a "$W"/b "$W"/c; do
		[ -d "$d" ] || continue
		mountpoint -q "$d" || continue
		timeout 10 touch "$d/after" || { echo "$d is frozen" >&2; return 1; }
	done
	[ "$(dmsetup ls | grep -c '^vss-')" = "${1:-0}" ] || { dmsetup ls >&2; return 1; }
}

@test "add --clone of a mounted ext4 under fio: one switch, syncs in the background, list shows it" {
	vol c 128; loop dest 128; dest=$LOOP
	mkfs.ext4 -q /dev/mapper/cp-c
	mkdir -p "$W/c"; mount /dev/mapper/cp-c "$W/c"
	fio_bg "$W/c" 15
	sleep 2
	run "$B/vss-storage" add --clone --for "$W/c" --on "$dest" --region-size 256k
	echo "$output"
	[ "$status" = 0 ]
	dmsetup table cp-c | grep -q " vss-clone $(majmin /dev/mapper/cp-c-real) $(majmin "$dest") 512$"
	dmsetup table cp-c-real | grep -q linear
	[ "$(field c provider)" = dm-vss-clone ]
	[ "$(field c region_sectors)" = 512 ]
	[ "$(field c total_regions)" = 512 ]
	state=$(field c clone_state)
	[ "$state" = syncing ] || [ "$state" = mirrored ]
	run "$B/vss-storage" list
	echo "$output"
	[[ "$output" == *"/dev/mapper/cp-c "*"dm-vss-clone"*" 512"* ]]
	run "$B/vss-storage" list --noheadings --separator : \
		-o volume,provider,clone_state,synced_regions,total_regions
	echo "$output"
	[[ "$output" =~ /dev/mapper/cp-c:dm-vss-clone:(syncing|mirrored):[0-9]+:512 ]]
	wait_mirrored c 240
	wait "$FIO"; fio_ok
	# mirrored: dest holds what the volume holds
	sync; fsfreeze -f "$W/c"
	a=$(sha256sum < /dev/mapper/cp-c-real); b=$(head -c $((128 << 20)) "$dest" | sha256sum)
	fsfreeze -u "$W/c"
	[ "$a" = "$b" ]
}

@test "a set of three volumes, two dm-vss-cow (ext4, xfs) and a clone, at one instant" {
	vol a 128; vol b 320; vol c 128
	loop store-a 64; store_a=$LOOP
	loop store-b 64; store_b=$LOOP
	loop dest 128; dest=$LOOP
	mkfs.ext4 -q /dev/mapper/cp-a; mkfs.xfs -q /dev/mapper/cp-b; mkfs.ext4 -q /dev/mapper/cp-c
	mkdir -p "$W/a" "$W/b" "$W/c" "$W/sa" "$W/sb" "$W/sc"
	mount /dev/mapper/cp-a "$W/a"; mount /dev/mapper/cp-b "$W/b"; mount /dev/mapper/cp-c "$W/c"
	for v in a b c; do
		dd if=/dev/urandom of="$W/$v/big" bs=1M count=8 status=none
		sha256sum < "$W/$v/big" > "$W/$v.sum"
	done
	sync
	"$B/vss-storage" add --for "$W/a" --on "$store_a"
	"$B/vss-storage" add --for "$W/b" --on "$store_b"
	fio_bg "$W/c" 600; fio_c=$FIO
	sleep 1
	"$B/vss-storage" add --clone --for "$W/c" --on "$dest"
	wait_mirrored c 300
	# fio on the two COW volumes too, and a writer: the SQLite writer
	# holding a database on the xfs volume that a process keeps writing
	fio_bg "$W/a" 600 a; fio_a=$FIO
	fio_bg "$W/b" 600 b; fio_b=$FIO
	mkdir -p "$VSS_CONF_DIR/writers.d"
	install -m 755 "$BATS_TEST_DIRNAME/../../scripts/writers/sqlite-writer" "$VSS_CONF_DIR/writers.d/sqlite"
	echo "$W/b/t.db" > "$VSS_CONF_DIR/sqlite-writer.list"
	sqlite3 "$W/b/t.db" 'CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);'
	( i=0; while :; do i=$((i + 1))
		sqlite3 -cmd '.timeout 20000' "$W/b/t.db" "INSERT INTO t(id, v) VALUES($i, hex(randomblob(64)));"
	done ) & PIDS+=($!)
	marker_writer & PIDS+=($!)
	sleep 1
	run --separate-stderr "$B/vss-snapshot" --verbose --json "$W/a" "$W/b" "$W/c"
	echo "$output"; echo "$stderr"
	[ "$status" = 0 ]
	[[ "$stderr" == *"writer sqlite: takes part in the set"* ]]
	[ "$(echo "$output" | jq '.shadows | length')" = 3 ]
	[ "$(echo "$output" | jq -r '[.shadows[].provider] | join(",")')" = dm-vss-cow,dm-vss-cow,dm-vss-clone ]
	set_id=$(echo "$output" | jq '.set_id')
	[ "$(echo "$output" | jq "[.shadows[] | select(.set_id == $set_id)] | length")" = 3 ]
	da=$(echo "$output" | jq -r '.shadows[0].device')
	db=$(echo "$output" | jq -r '.shadows[1].device')
	dc=$(echo "$output" | jq -r '.shadows[2].device')
	id_c=$(echo "$output" | jq -r '.shadows[2].shadow_id')
	[ "$dc" = "/dev/mapper/vss-$id_c" ]
	bg_stop "${PIDS[-1]}"
	# the clone is split; its copy is a read-only linear device over dest
	[ "$(field c clone_state)" = split ]
	dmsetup table "vss-$id_c" | grep -q "^0 262144 linear $(majmin "$dest") 0$"
	dmsetup info "vss-$id_c" | grep -q "^State: *ACTIVE (READ-ONLY)"
	# the volumes move on, the copies do not
	for v in a b c; do
		dd if=/dev/urandom of="$W/$v/big" bs=1M count=8 conv=fsync status=none
	done
	mount -o ro,noload "$da" "$W/sa"
	mount -o ro,norecovery,nouuid "$db" "$W/sb"
	mount -o ro,noload "$dc" "$W/sc"
	for v in a b c; do
		[ "$(sha256sum < "$W/s$v/big")" = "$(cat "$W/$v.sum")" ]
		! cmp -s "$W/s$v/big" "$W/$v/big" || false
	done
	sa=$(cat "$W/sa/seq"); sb=$(cat "$W/sb/seq"); sc=$(cat "$W/sc/seq")
	echo "markers: a=$sa b=$sb c=$sc"
	# one instant: written a, b, c in turn, so a >= b >= c >= a - 1
	(( sa >= sb && sb >= sc && sc >= sa - 1 ))
	# the writer's database in the copy: whole, and gap-free
	cp "$W/sb/t.db" "$W/copy.db"
	[ "$(sqlite3 "$W/copy.db" 'PRAGMA integrity_check;')" = ok ]
	n=$(sqlite3 "$W/copy.db" 'SELECT count(*) FROM t;')
	[ "$n" = "$(sqlite3 "$W/copy.db" 'SELECT coalesce(max(id), 0) FROM t;')" ]
	echo "the copy's database: $n transactions"
	# the filesystems in the copies are clean
	umount "$W/sa" "$W/sb" "$W/sc"
	e2fsck -fn "$da"
	# an xfs frozen by FIFREEZE leaves its log to replay: check a
	# writable copy of the copy once its log is replayed
	dd if="$db" of="$W/xfs-copy.img" bs=1M status=none
	xl=$(losetup -f --show "$W/xfs-copy.img"); LOOPS+=("$xl")
	mount -o nouuid "$xl" "$W/sb"; umount "$W/sb"
	xfs_repair -n "$xl"
	e2fsck -fn "$dc"
	bg_stop "$fio_a" "$fio_b"
	fio_ok a; fio_ok b

	# a second copy of the clone while split: refused, nothing made or left
	sets=$(nsets)
	run "$B/vss-snapshot" "$W/c"
	echo "$output"
	[ "$status" = 5 ]
	[[ "$output" == *"holds shadow copy $id_c already"* ]]
	nothing_left 3
	[ "$(nsets)" = "$sets" ]
	[ "$(field c clone_state)" = split ]

	# delete the clone's copy: rejoin copies only the regions written since
	# (the filesystem frozen meanwhile, so that no write moves the count)
	fsfreeze -f "$W/c"
	total=$(field c total_regions)
	unwritten=$(field c synced_regions)
	run "$B/vss-delete" --yes "$id_c"
	synced=$(field c synced_regions)
	state=$(field c clone_state)
	fsfreeze -u "$W/c"
	echo "$output"
	echo "at the rejoin: $unwritten of $total regions not written since the split"
	echo "right after it: $state, $synced of $total regions in step"
	[ "$status" = 0 ]
	(( unwritten > 0 && unwritten < total ))
	! dmsetup info "vss-$id_c" >/dev/null 2>&1 || false
	[ "$state" = syncing ] || [ "$state" = mirrored ]
	(( synced >= unwritten ))
	wait_mirrored c 300
	bg_stop "$fio_c"
	fio_ok
	sync; fsfreeze -f "$W/c"
	x=$(sha256sum < /dev/mapper/cp-c-real); y=$(head -c $((128 << 20)) "$dest" | sha256sum)
	fsfreeze -u "$W/c"
	[ "$x" = "$y" ]
	# and the clone serves a new copy
	run "$B/vss-snapshot" --json "$W/c"
	[ "$status" = 0 ]
	[ "$(echo "$output" | jq -r '.shadows[0].provider')" = dm-vss-clone ]
}

@test "clone refusals: dest too small (exit 3), still syncing (exit 7), nothing frozen or suspended" {
	vol c 64; loop small 32; small=$LOOP
	mkfs.ext4 -q /dev/mapper/cp-c
	mkdir -p "$W/c"; mount /dev/mapper/cp-c "$W/c"
	run "$B/vss-storage" add --clone --for "$W/c" --on "$small"
	echo "$output"
	[ "$status" = 3 ]
	[[ "$output" == *"$small: too small for a clone of /dev/mapper/cp-c"* ]]
	dmsetup table cp-c | grep -q ' linear '
	! dmsetup info cp-c-real >/dev/null 2>&1 || false
	[ "$(jq '.storage | length' "$VSS_STATE_DIR/catalog.json" 2>/dev/null || echo 0)" = 0 ]
	# a dest in use is refused
	run "$B/vss-storage" add --clone --for "$W/c" --on /dev/mapper/cp-c
	[ "$status" = 5 ]
	[[ "$output" == *"in use"* ]]

	# a slow dest (dm-delay, 2 s a write) keeps the clone syncing
	loop dest 64
	modprobe dm-delay
	dmsetup create cp-slow --table "0 131072 delay $LOOP 0 0 $LOOP 0 2000"
	udevadm settle --timeout=10
	"$B/vss-storage" add --clone --for "$W/c" --on /dev/mapper/cp-slow
	[ "$(field c clone_state)" = syncing ]
	run "$B/vss-snapshot" "$W/c"
	echo "$output"
	[ "$status" = 7 ]
	[[ "$output" == *"the clone is still syncing: "*" of 128 regions copied ("*"%); retry when vss-storage list shows it mirrored"* ]]
	nothing_left 0
	[ "$(nsets)" = 0 ]
	[ "$(field c clone_state)" = syncing ]
	# vss-storage remove while syncing: the volume gets its own table back
	run "$B/vss-storage" remove --for "$W/c"
	[ "$status" = 0 ]
	dmsetup table cp-c | grep -q ' linear '
	! dmsetup info cp-c-real >/dev/null 2>&1 || false
	timeout 10 touch "$W/c/after"
}

@test "vss-storage remove of a clone: refused with its copy, --force deletes it first" {
	vol c 64; loop dest 64; dest=$LOOP
	mkfs.ext4 -q /dev/mapper/cp-c
	mkdir -p "$W/c"; mount /dev/mapper/cp-c "$W/c"
	echo hello > "$W/c/f"; sync
	"$B/vss-storage" add --clone --for "$W/c" --on "$dest" --region-size 1M
	wait_mirrored c 120
	run "$B/vss-snapshot" --json "$W/c"
	[ "$status" = 0 ]
	id=$(echo "$output" | jq -r '.shadows[0].shadow_id')
	run "$B/vss-storage" remove --for "$W/c"
	echo "$output"
	[ "$status" = 5 ]
	[[ "$output" == *"has 1 shadow copies"* ]]
	dmsetup info "vss-$id" >/dev/null
	run "$B/vss-storage" remove --for "$W/c" --force --yes
	echo "$output"
	[ "$status" = 0 ]
	! dmsetup info "vss-$id" >/dev/null 2>&1 || false
	dmsetup table cp-c | grep -q ' linear '
	! dmsetup info cp-c-real >/dev/null 2>&1 || false
	[ "$(jq '.storage | length' "$VSS_STATE_DIR/catalog.json")" = 0 ]
	[ "$(nsets)" = 0 ]
	[ "$(cat "$W/c/f")" = hello ]
	timeout 10 touch "$W/c/after"
}

# total data chunks of a vss-origin store, from its status
cow_total() { dmsetup status "$1" | awk '{ split($5, t, "/"); print t[2] }'; }

@test "vss-storage resize of a dm-vss-cow store: grows into its extended device, shadow copies kept" {
	vol a 64; loop store-a 16; store_a=$LOOP
	"$B/vss-storage" add --for /dev/mapper/cp-a --on "$store_a"
	dd if=/dev/urandom of=/dev/mapper/cp-a bs=1M count=64 oflag=direct status=none
	run "$B/vss-snapshot" --json /dev/mapper/cp-a
	[ "$status" = 0 ]
	id=$(echo "$output" | jq -r '.shadows[0].shadow_id')
	sum=$(sha256sum < /dev/mapper/cp-a)
	total=$(cow_total cp-a)
	[ "$total" = 4078 ]
	# --max-size is for dm-snapshot: the store is its whole device
	run "$B/vss-storage" resize --for /dev/mapper/cp-a --max-size 32M
	echo "$output"
	[ "$status" = 1 ]
	[[ "$output" == *"a dm-vss-cow store is its whole device $store_a"*"extend $store_a (lvextend)"* ]]
	# the device not extended: no room (exit 3)
	run "$B/vss-storage" resize --for /dev/mapper/cp-a
	echo "$output"
	[ "$status" = 3 ]
	[[ "$output" == *"has no room to grow"*"extend $store_a first"* ]]
	[ "$(cow_total cp-a)" = "$total" ]
	# 16 MiB of writes would fill the old 16 MiB store and drop the copy
	truncate -s 64M "$W/store-a.img"
	losetup -c "$store_a"
	run "$B/vss-storage" resize --for /dev/mapper/cp-a
	echo "$output"
	[ "$status" = 0 ]
	[ "$(cow_total cp-a)" = 16318 ]
	dd if=/dev/urandom of=/dev/mapper/cp-a bs=1M count=32 oflag=direct status=none
	[ "$(dmsetup status "vss-$id" | awk '{ print $5 }')" = valid ]
	[ "$(sha256sum < "/dev/mapper/vss-$id")" = "$sum" ]
}

@test "vss-storage resize: dm-snapshot areas of future copies" {
	vol s 64; loop store-s 64; store_s=$LOOP
	run "$B/vss-storage" resize --for /dev/mapper/cp-s --max-size 8M
	[ "$status" = 4 ]
	"$B/vss-storage" add --for /dev/mapper/cp-s --on "$store_s" --provider dm-snapshot --max-size 16M
	run "$B/vss-snapshot" --json /dev/mapper/cp-s
	[ "$status" = 0 ]
	id1=$(echo "$output" | jq -r '.shadows[0].shadow_id')
	[ "$(dmsetup table "vss-$id1-cow" | awk '{print $2}')" = 32768 ]
	# the first area of the store
	off=$(jq ".sets[].shadows[] | select(.shadow_id == $id1) | .cow_offset" "$VSS_STATE_DIR/catalog.json")
	[ "$off" = 0 ]
	# udev may still be redoing /dev/mapper/cp-s after the set's resume
	udevadm settle --timeout=10
	run "$B/vss-storage" resize --for /dev/mapper/cp-s
	echo "$output"
	[ "$status" = 1 ]
	[[ "$output" == *"needs --max-size SIZE"* ]]
	run "$B/vss-storage" resize --for /dev/mapper/cp-s --max-size 8M
	echo "$output"
	[ "$status" = 0 ]
	[ "$(field s max_bytes)" = 8388608 ]
	run "$B/vss-storage" resize --for /dev/mapper/cp-s --max-size 128M
	[ "$status" = 3 ]
	[ "$(field s max_bytes)" = 8388608 ]
	run "$B/vss-snapshot" --json /dev/mapper/cp-s
	[ "$status" = 0 ]
	id2=$(echo "$output" | jq -r '.shadows[0].shadow_id')
	[ "$(dmsetup table "vss-$id2-cow" | awk '{print $2}')" = 16384 ]
	# its area starts after the first copy's 16 MiB: none overlaps
	off=$(jq ".sets[].shadows[] | select(.shadow_id == $id2) | .cow_offset" "$VSS_STATE_DIR/catalog.json")
	[ "$off" = $((16 << 20)) ]
	! dmsetup status "vss-$id1" | grep -q Invalid || false
}

# retry_writer NAME RETRYABLE: a writer that fails its first freeze, saying
# "retryable": RETRYABLE, and counts the sets it was started for.
retry_writer() {
	mkdir -p "$VSS_CONF_DIR/writers.d"
	cat > "$VSS_CONF_DIR/writers.d/$1" <<-EOS
	#!/bin/sh
	echo started >> $W/$1.starts
	while read -r l; do
	  case "\$l" in
	  *'"freeze"'*)
	    if [ -e $W/$1.failed ]; then echo '{"status":"ok"}'
	    else : > $W/$1.failed
	      echo '{"status":"error","retryable":$2,"message":"busy now"}'
	    fi ;;
	  *'"thaw"'*) echo '{"status":"ok","held":true}' ;;
	  *) echo '{"status":"ok"}' ;;
	  esac
	done
	EOS
	chmod 755 "$VSS_CONF_DIR/writers.d/$1"
}

@test "vss-snapshot --retry retries a retryable writer failure, not a non-retryable one (exit 6)" {
	vol a 64; loop store-a 64; store_a=$LOOP
	mkfs.ext4 -q /dev/mapper/cp-a
	mkdir -p "$W/a"; mount /dev/mapper/cp-a "$W/a"
	"$B/vss-storage" add --for "$W/a" --on "$store_a"
	retry_writer flaky true
	run "$B/vss-snapshot" --retry 2 "$W/a"
	echo "$output"
	[ "$status" = 0 ]
	[[ "$output" == *"writer failure: retrying (1 of 2)"* ]]
	[ "$(wc -l < "$W/flaky.starts")" = 2 ]
	[ "$(nsets)" = 1 ]
	rm "$VSS_CONF_DIR/writers.d/flaky"
	retry_writer stubborn false
	run "$B/vss-snapshot" --retry 3 "$W/a"
	echo "$output"
	[ "$status" = 6 ]
	[[ "$output" == *"writer stubborn: freeze: vetoed: busy now"* ]]
	[[ "$output" == *"not retryable: not retrying"* ]]
	[[ "$output" != *"retrying (1 of 3)"* ]]
	[ "$(wc -l < "$W/stubborn.starts")" = 1 ]
	[ "$(nsets)" = 1 ]
	nothing_left 1
}
