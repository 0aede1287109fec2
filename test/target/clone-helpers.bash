# SPDX-License-Identifier: GPL-2.0
# Helpers of the vss-clone tests (test/target/clone*.bats).  They run as
# root inside the test VM (scripts/vm-run) with the dm-vss module installed.
#
# Each test gets a work directory on the guest's tmpfs, loop devices over
# files in it, and dm devices whose names start with $CL_PFX; clone_teardown
# stops the test's background jobs and removes every one of those devices,
# whatever state the test left them in.

bats_require_minimum_version 1.5.0

MiB=$((1024 * 1024))

# ---- per-file and per-test setup ----

clone_setup_file() {
	[ "$(id -u)" = 0 ] || { echo "clone tests run as root inside the VM (scripts/vm-run)" >&2; return 1; }
	modprobe dm-vss || { echo "cannot load dm-vss" >&2; return 1; }
	dmsetup targets | grep -q '^vss-clone ' || { echo "dm-vss has no vss-clone target" >&2; return 1; }
}

clone_setup() {
	CL_PFX=cl$BATS_TEST_NUMBER-
	CL_DIR=/tmp/clone-tests/$BATS_TEST_NUMBER
	rm -rf "$CL_DIR"
	mkdir -p "$CL_DIR"
	: > "$CL_DIR/loops"
	: > "$CL_DIR/pids"
	CL_C= CL_CDEV= CL_SRC= CL_DST= CL_SECTORS= CL_REGION= CL_FEATURES=
}

clone_teardown() {
	local pid name left pass
	while read -r pid; do
		kill "$pid" 2>/dev/null
	done < "$CL_DIR/pids"
	while read -r pid; do
		wait "$pid" 2>/dev/null
	done < "$CL_DIR/pids"
	udevadm settle --timeout=20 >/dev/null 2>&1
	for name in $(clone_dm_names); do
		dmsetup resume "$name" >/dev/null 2>&1
	done
	# Clones first, then the devices under them.
	for pass in 1 2 3 4; do
		left=
		for name in $(clone_dm_names_top_first); do
			dmsetup remove --retry "$name" >/dev/null 2>&1 || left="$left $name"
		done
		[ -z "$left" ] && break
		udevadm settle --timeout=20 >/dev/null 2>&1
	done
	for name in $left; do
		echo "teardown: forcing removal of $name" >&2
		dmsetup remove --force --retry "$name" >/dev/null 2>&1
	done
	while read -r dev; do
		losetup -d "$dev" 2>/dev/null
	done < "$CL_DIR/loops"
	rm -rf "$CL_DIR"
	[ -z "$(clone_dm_names)" ] || { echo "teardown: devices left: $(clone_dm_names)" >&2; return 1; }
}

clone_dm_names() {
	dmsetup info -c --noheadings -o name 2>/dev/null | grep "^$CL_PFX" || true
}

clone_dm_names_top_first() {
	local name
	for name in $(clone_dm_names); do
		dmsetup table "$name" 2>/dev/null | grep -q ' vss-clone ' && echo "$name"
	done
	for name in $(clone_dm_names); do
		dmsetup table "$name" 2>/dev/null | grep -q ' vss-clone ' || echo "$name"
	done
}

# clone_loop NAME BYTES: a loop device over a new zeroed file; prints it.
clone_loop() {
	local file=$CL_DIR/$1.img dev
	rm -f "$file"
	truncate -s "$2" "$file" || return 1
	dev=$(losetup -f --show "$file") || return 1
	echo "$dev" >> "$CL_DIR/loops"
	echo "$dev"
}

# clone_dm NAME TABLE [dmsetup create options]: a dm device NAME (prefixed),
# waiting for its node; prints /dev/mapper/<prefixed name>.
clone_dm() {
	local name=$CL_PFX$1 table=$2
	shift 2
	dmsetup create "$name" "$@" --table "$table" >&2 || return 1
	udevadm settle --timeout=20 >/dev/null 2>&1
	[ -b "/dev/mapper/$name" ] || { echo "/dev/mapper/$name did not appear" >&2; return 1; }
	echo "/dev/mapper/$name"
}

# ---- reading and writing ----

# clone_sha DEV_OR_FILE [OFF LEN]: sha256 of the whole content (or of LEN
# bytes at byte OFF), read with O_DIRECT from devices so that no page cache
# stands in between.
clone_sha() {
	local direct=
	[ -b "$1" ] && direct=direct,
	if [ $# -eq 1 ]; then
		dd if="$1" iflag=${direct}fullblock bs=1M status=none | sha256sum | cut -d' ' -f1
	else
		dd if="$1" iflag=${direct}skip_bytes,count_bytes skip="$2" count="$3" \
			bs=64K status=none | sha256sum | cut -d' ' -f1
	fi
	return "${PIPESTATUS[0]}"
}

# clone_write DEV OFF LEN [FILE]: LEN random bytes (or FILE's) at byte OFF,
# with O_DIRECT; the data is kept in $CL_DIR/last.
clone_write() {
	local dev=$1 off=$2 len=$3 src=${4:-}
	if [ -z "$src" ]; then
		src=$CL_DIR/last
		head -c "$len" /dev/urandom > "$src"
	fi
	dd if="$src" of="$dev" bs="$len" count=1 seek="$off" \
		oflag=seek_bytes,direct conv=notrunc status=none
}

clone_fill() { # DEV: random data over the whole device
	local bytes
	bytes=$(blockdev --getsize64 "$1")
	head -c "$bytes" /dev/urandom | dd of="$1" bs=1M oflag=direct iflag=fullblock status=none
}

# clone_fio DEV SECONDS [fio options...]: random writes of 4-64 KiB over
# the whole device, 4 jobs, O_DIRECT, for SECONDS; the report goes to
# $CL_DIR/fio.out.  clone_bg_fio runs it in the background (CL_BG is its
# pid; teardown kills it).
clone_fio_args() {
	local dev=$1 secs=$2
	shift 2
	CL_FIO=(--name=load --filename="$dev" --rw=randwrite --bsrange=4k-64k
		--ioengine=psync --direct=1 --numjobs=4 --time_based --runtime="$secs"
		--group_reporting --output="$CL_DIR/fio.out" "$@")
}

clone_fio() {
	clone_fio_args "$@"
	fio "${CL_FIO[@]}" >/dev/null 2>&1
}

clone_bg_fio() {
	clone_fio_args "$@"
	fio "${CL_FIO[@]}" >/dev/null 2>&1 &
	CL_BG=$!
	echo "$CL_BG" >> "$CL_DIR/pids"
}

# clone_fio_ok: the last fio run saw no I/O error.
clone_fio_ok() {
	grep -q 'err= 0' "$CL_DIR/fio.out" && return 0
	cat "$CL_DIR/fio.out" >&2
	return 1
}

# ---- the clone ----

# clone_devices SRC_BYTES DEST_BYTES REGION_SECTORS [FEATURE_ARG...]: loop
# devices for source (filled with random data) and dest (zeroes), and the
# clone's table; set CL_SRC or CL_DST first to put other devices there.
# clone_make does that and loads a vss-clone device "${CL_PFX}c".
clone_devices() {
	local sbytes=$1 dbytes=$2
	CL_REGION=$3
	shift 3
	if [ -z "$CL_SRC" ]; then
		CL_SRC=$(clone_loop source "$sbytes") || return 1
		clone_fill "$CL_SRC" || return 1
	fi
	[ -n "$CL_DST" ] || CL_DST=$(clone_loop dest "$dbytes") || return 1
	CL_SECTORS=$(blockdev --getsz "$CL_SRC")
	CL_FEATURES=
	[ $# -gt 0 ] && CL_FEATURES="$# $*"
	CL_C=${CL_PFX}c
}

clone_make() {
	clone_devices "$@" && clone_load
}

# clone_make_busy SRC_BYTES DEST_BYTES REGION_SECTORS FIO_SECONDS [fio
# options]: the device starts as a linear map of source with fio writing
# to it, and becomes the clone under that load, so that the whole initial
# sync runs under it.
clone_make_busy() {
	local secs=$4
	clone_devices "$1" "$2" "$3" || return 1
	shift 4
	CL_CDEV=$(clone_dm c "0 $CL_SECTORS linear $CL_SRC 0") || return 1
	clone_bg_fio "$CL_CDEV" "$secs" "$@"
	clone_wait_writes "$CL_CDEV" || return 1
	dmsetup reload "$CL_C" --table "$(clone_table)" || return 1
	dmsetup resume "$CL_C"
}

# clone_wait_writes DEV: waits (at most 2 minutes) until writes to DEV
# have completed, then a second more: the load is running.
clone_wait_writes() {
	local stat i w
	stat=/sys/block/$(basename "$(readlink -f "$1")")/stat
	for ((i = 0; i < 1200; i++)); do
		read -r _ _ _ _ w _ < "$stat"
		(( w > 0 )) && { sleep 1; return 0; }
		sleep 0.1
	done
	echo "no write reached $1 in 2 minutes" >&2
	return 1
}

clone_table() {
	echo "0 $CL_SECTORS vss-clone $CL_SRC $CL_DST $CL_REGION${CL_FEATURES:+ $CL_FEATURES}"
}

clone_load() {
	CL_C=${CL_PFX}c
	CL_CDEV=$(clone_dm c "$(clone_table)") ||
		{ echo "cannot create the clone: $(clone_table)" >&2; return 1; }
}

# clone_status FIELD: region_sectors, synced, total or state.
clone_status() {
	local line
	local -a f
	line=$(dmsetup status "$CL_C") || return 1
	read -r -a f <<< "$line"
	[ "${f[2]}" = vss-clone ] || { echo "not a vss-clone status: $line" >&2; return 1; }
	case $1 in
	region_sectors) echo "${f[3]}" ;;
	synced) echo "${f[4]%/*}" ;;
	total) echo "${f[4]#*/}" ;;
	state) echo "${f[5]}" ;;
	*) echo "clone_status: unknown field $1" >&2; return 1 ;;
	esac
}

# clone_wait_state STATE [SECONDS]: wait until the clone is in STATE.
clone_wait_state() {
	local want=$1 secs=${2:-60} i state
	# A bound, not a measure: a host slowed by other VMs gets 5 minutes.
	(( secs >= 300 )) || secs=300
	for ((i = 0; i < secs * 10; i++)); do
		state=$(clone_status state)
		[ "$state" = "$want" ] && return 0
		sleep 0.1
	done
	echo "the clone did not reach $want in ${secs}s: $(dmsetup status "$CL_C")" >&2
	return 1
}

clone_events() {
	dmsetup info -c --noheadings -o events "${1:-$CL_C}" | tr -d ' '
}

# clone_wait_events N: wait until the clone has raised at least N events
# (they are raised from a work item, a moment after the state changes).
clone_wait_events() {
	local i
	for ((i = 0; i < 300; i++)); do
		(( $(clone_events) >= $1 )) && return 0
		sleep 0.1
	done
	echo "the clone raised $(clone_events) events, expected $1" >&2
	return 1
}

# clone_majmin DEV: major:minor, as a table shows a device.
clone_majmin() {
	printf '%d:%d' $(stat -L -c '0x%t 0x%T' "$1")
}

# clone_split: suspend, remember the source as it is (the device under the
# clone, now quiet) in CL_SPLIT_SHA, split, resume.
clone_split() {
	local r=0
	dmsetup suspend --nolockfs "$CL_C" || return 1
	CL_SPLIT_SHA=$(clone_sha "$CL_SRC") || r=1
	dmsetup message "$CL_C" 0 split || r=1
	dmsetup resume "$CL_C" || r=1
	return $r
}

# clone_same: the clone is quiet and dest holds what source holds.
clone_same() {
	local a b
	a=$(clone_sha "$CL_SRC") b=$(clone_sha "$CL_DST")
	[ "$a" = "$b" ] && return 0
	echo "dest differs from source" >&2
	clone_show_diff >&2
	return 1
}

# clone_show_diff: the regions where source and dest differ, at most 20.
clone_show_diff() {
	local rb=$((CL_REGION * 512)) a=$CL_DIR/diff.a b=$CL_DIR/diff.b
	dd if="$CL_SRC" of="$a" bs=1M iflag=direct status=none
	dd if="$CL_DST" of="$b" bs=1M iflag=direct status=none count=$(( ($(stat -c %s "$a") + MiB - 1) / MiB ))
	truncate -s "$(stat -c %s "$a")" "$b"
	cmp -l "$a" "$b" 2>&1 | awk -v rb="$rb" '
		{ r = int(($1 - 1) / rb); if (!(r in seen)) { seen[r] = 1; n++; if (n <= 20) printf "  differs in region %d (first byte %d)\n", r, $1 - 1 } }
		END { if (n) printf "  %d region(s) differ\n", n }'
	rm -f "$a" "$b"
}

# clone_dmesg_since MARK: kernel log lines after the line count MARK.
clone_dmesg_mark() { dmesg | wc -l; }
clone_dmesg_since() { dmesg | tail -n +"$(( $1 + 1 ))"; }
