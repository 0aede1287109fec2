# SPDX-License-Identifier: GPL-2.0
# Helpers of the vss-origin / vss-snap tests (test/target/cow-*.bats).
# They run as root inside the test VM (scripts/vm-run) with the dm-vss
# module installed.
#
# Each test gets a work directory on the guest's tmpfs, loop devices over
# files in it, and dm devices whose names start with $COW_PFX; cow_teardown
# removes every one of them, whatever state the test left them in.
#
# Content is checked against a model: every byte written to the origin is
# written to a plain file too ($COW_MODEL), and each snapshot's sha256 is
# recorded at its instant.  A chunk-level model of the store (which chunks
# a write copies, which copies a delete frees, which snapshot an overflow
# drops) predicts the status counters.

bats_require_minimum_version 1.5.0

COW_SECTOR=512

# ---- per-file and per-test setup ----

cow_setup_file() {
	[ "$(id -u)" = 0 ] || { echo "cow tests run as root inside the VM (scripts/vm-run)" >&2; return 1; }
	modprobe dm-vss || { echo "cannot load dm-vss" >&2; return 1; }
}

# cow_faults_load: dm-vss as built by make module-faults (VSS_FAULT_INJECT:
# its fault and measurement parameters under $COW_PARAMS) in place of the
# module; cow_faults_unload puts the module back.  For setup_file and
# teardown_file.
COW_FAULTS_KO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/dm-vss-faults/dm-vss.ko
COW_PARAMS=/sys/module/dm_vss/parameters
cow_faults_load() {
	local m
	[ "$(id -u)" = 0 ] || { echo "cow tests run as root inside the VM (scripts/vm-run)" >&2; return 1; }
	[ -f "$COW_FAULTS_KO" ] || { echo "$COW_FAULTS_KO is missing: make module-faults" >&2; return 1; }
	modprobe -r dm-vss 2>/dev/null
	# insmod loads no dependencies
	for m in $(modinfo -F depends "$COW_FAULTS_KO" | tr , ' '); do
		modprobe "$m" || return 1
	done
	insmod "$COW_FAULTS_KO" || { echo "cannot load $COW_FAULTS_KO" >&2; return 1; }
	[ -e "$COW_PARAMS/fault_buf_alloc_pct" ] ||
		{ echo "$COW_FAULTS_KO is not a VSS_FAULT_INJECT build" >&2; return 1; }
}
cow_faults_unload() {
	rmmod dm-vss
	modprobe dm-vss
}

cow_setup() {
	local tag
	tag=$(basename "$BATS_TEST_FILENAME" .bats)
	tag=${tag#cow-}
	COW_PFX=ct-$tag-
	COW_DIR=/tmp/cow-tests/$tag-$BATS_TEST_NUMBER
	rm -rf "$COW_DIR"
	mkdir -p "$COW_DIR"
	: > "$COW_DIR/loops"
	declare -gA COW_EXPECT=()
	# cow_teardown checks the kernel log from this line on.
	COW_MARK="cow-test: $tag $BATS_TEST_NUMBER $$-$RANDOM" COW_LOG_MARK=
	echo "$COW_MARK" > /dev/kmsg
	COW_O= COW_ODEV= COW_OREAL= COW_STORE= COW_SECTORS= COW_MODEL=
	model_init 0 0 drop
}

# Resume, then remove every dm device of this test (vss-snap devices first,
# then the origins, then the devices under them), then the loop devices.
cow_teardown() {
	local pass name left
	udevadm settle --timeout=20 >/dev/null 2>&1
	for name in $(cow_dm_names); do
		dmsetup resume "$name" >/dev/null 2>&1
	done
	for pass in 1 2 3 4; do
		left=
		for name in $(cow_dm_names_snaps_first); do
			dmsetup remove --retry "$name" >/dev/null 2>&1 || left="$left $name"
		done
		[ -z "$left" ] && break
		udevadm settle --timeout=20 >/dev/null 2>&1
	done
	for name in $left; do
		echo "teardown: forcing removal of $name" >&2
		dmsetup remove --force --retry "$name" >/dev/null 2>&1
	done
	if [ -f "$COW_DIR/loops" ]; then
		while read -r dev; do
			losetup -d "$dev" 2>/dev/null
		done < "$COW_DIR/loops"
	fi
	rm -rf "$COW_DIR"
	[ -z "$(cow_dm_names)" ] || { echo "teardown: devices left: $(cow_dm_names)" >&2; return 1; }
	cow_check_dmesg
}

# cow_check_dmesg: no BUG, Oops, WARNING or the like in the kernel log
# since the test began.
cow_check_dmesg() {
	local bad
	bad=$(dmesg | sed -n "/$COW_MARK/,\$p" | grep -E \
		'(^|[^A-Za-z_])(BUG|Oops|WARNING)([^A-Za-z_]|$)|lockdep|KASAN|UBSAN|general protection|blocked for more than|possible circular locking|Kernel panic')
	[ -z "$bad" ] || { echo "kernel log since the test began:" >&2; dmesg | sed -n "/$COW_MARK/,\$p" | tail -60 >&2; return 1; }
}

# cow_dmesg: the kernel log since the test began, or with
# COW_LOG_MARK set (cow_log_mark), since that mark.
cow_dmesg() {
	dmesg | sed -n "/${COW_LOG_MARK:-$COW_MARK}/,\$p"
}

# cow_log_mark: cow_dmesg shows what the kernel logs from now on.
cow_log_mark() {
	COW_LOG_MARK="cow-test: mark $RANDOM$RANDOM"
	echo "$COW_LOG_MARK" > /dev/kmsg
}

cow_dm_names() {
	dmsetup info -c --noheadings -o name 2>/dev/null | grep "^$COW_PFX" || true
}

cow_dm_names_snaps_first() {
	local name
	for name in $(cow_dm_names); do
		dmsetup table "$name" 2>/dev/null | grep -q ' vss-snap ' && echo "$name"
	done
	for name in $(cow_dm_names); do
		dmsetup table "$name" 2>/dev/null | grep -q ' vss-origin ' && echo "$name"
	done
	for name in $(cow_dm_names); do
		dmsetup table "$name" 2>/dev/null | grep -q -e ' vss-snap ' -e ' vss-origin ' || echo "$name"
	done
}

# cow_loop NAME BYTES: a loop device over a new zeroed file; prints it.
cow_loop() {
	local file=$COW_DIR/$1.img dev
	rm -f "$file"
	truncate -s "$2" "$file" || return 1
	dev=$(losetup -f --show "$file") || return 1
	echo "$dev" >> "$COW_DIR/loops"
	echo "$dev"
}

# ---- reading and writing ----

# cow_sha DEV_OR_FILE: sha256 of the whole content, read with O_DIRECT for
# devices so that no page cache stands between the test and the target.
cow_sha() {
	local out
	if [ -b "$1" ]; then
		out=$(set -o pipefail; dd if="$1" iflag=direct bs=1M status=none | sha256sum) || return 1
	else
		out=$(sha256sum < "$1") || return 1
	fi
	echo "${out%% *}"
}

# cow_sha_range DEV_OR_FILE OFF LEN: sha256 of LEN bytes at byte OFF
# (sector-aligned for devices, read with O_DIRECT).
cow_sha_range() {
	local flags=skip_bytes,count_bytes out
	[ -b "$1" ] && flags=$flags,direct
	out=$(set -o pipefail; dd if="$1" iflag=$flags skip="$2" count="$3" bs=64K status=none | sha256sum) || return 1
	echo "${out%% *}"
}

# cow_dev_write DEV OFF LEN SRC: writes LEN bytes of SRC at byte OFF of DEV;
# O_DIRECT when sector-aligned, else through the page cache and fsync.
cow_dev_write() {
	local dev=$1 off=$2 len=$3 src=$4
	if (( off % COW_SECTOR == 0 && len % COW_SECTOR == 0 )); then
		dd if="$src" of="$dev" bs="$len" count=1 seek="$off" \
			oflag=seek_bytes,direct conv=notrunc status=none
	else
		dd if="$src" of="$dev" bs="$len" count=1 seek="$off" \
			oflag=seek_bytes conv=notrunc,fsync status=none
	fi
}

# cow_write OFF LEN: random data to the origin and to the model at byte OFF.
cow_write() {
	local off=$1 len=$2 buf=$COW_DIR/buf
	(( off >= 0 && len > 0 && off + len <= COW_SECTORS * COW_SECTOR )) ||
		{ echo "cow_write $off $len: outside the origin" >&2; return 1; }
	head -c "$len" /dev/urandom > "$buf"
	cow_dev_write "$COW_ODEV" "$off" "$len" "$buf" ||
		{ echo "cow_write $off $len: write to the origin failed" >&2; return 1; }
	dd if="$buf" of="$COW_MODEL" bs="$len" count=1 seek="$off" \
		oflag=seek_bytes conv=notrunc status=none
	model_write "$off" "$len"
}

# cow_write_zero OFF LEN: zeroes in the model (after a discard or zeroout).
cow_model_zero() {
	dd if=/dev/zero of="$COW_MODEL" bs="$2" count=1 seek="$1" \
		oflag=seek_bytes conv=notrunc status=none
}

# cow_fill: random data over the whole origin (and the model).
cow_fill() {
	head -c $((COW_SECTORS * COW_SECTOR)) /dev/urandom > "$COW_MODEL"
	dd if="$COW_MODEL" of="$COW_ODEV" bs=1M oflag=direct status=none
	model_write 0 $((COW_SECTORS * COW_SECTOR))
}

# ---- the origin ----

# cow_make ORIGIN_BYTES STORE_BYTES [FEATURE_ARG...]: loop devices for the
# origin and the store and a vss-origin device "${COW_PFX}o" over them.
# The feature args are given with their count.  The table covers the whole
# origin device unless COW_TABLE_SECTORS says otherwise.
cow_make() {
	local obytes=$1 sbytes=$2
	shift 2
	COW_OREAL=$(cow_loop origin "$obytes") || return 1
	COW_STORE=$(cow_loop store "$sbytes") || return 1
	COW_SECTORS=${COW_TABLE_SECTORS:-$(blockdev --getsz "$COW_OREAL")}
	COW_MODEL=$COW_DIR/model
	: > "$COW_MODEL"
	truncate -s $((COW_SECTORS * COW_SECTOR)) "$COW_MODEL"
	COW_FEATURES=
	[ $# -gt 0 ] && COW_FEATURES="$# $*"
	cow_origin_load || return 1
	model_init "$(cow_status chunk_sectors)" "$(cow_status total_chunks)" \
		"$(case " $* " in *" overflow_invalidate "*) echo invalidate ;; *) echo drop ;; esac)"
}

# cow_origin_load [FEATURE_STRING]: (re)creates the origin device.
cow_origin_load() {
	local features=${1-$COW_FEATURES}
	COW_O=${COW_PFX}o
	COW_ODEV=/dev/mapper/$COW_O
	dmsetup create "$COW_O" --table "0 $COW_SECTORS vss-origin $COW_OREAL $COW_STORE${features:+ $features}" ||
		{ echo "cannot create the origin (features '$features')" >&2; return 1; }
	[ -b "$COW_ODEV" ] || { echo "$COW_ODEV did not appear" >&2; return 1; }
}

# cow_status FIELD [DEVICE]: one field of the vss-origin status:
# chunk_sectors used_chunks total_chunks used_meta total_meta snap_count
# mode index_bytes.
cow_status() {
	local want=$1 line
	local -a f
	line=$(dmsetup status "${2:-$COW_O}") || return 1
	read -r -a f <<< "$line"
	[ "${f[2]}" = vss-origin ] || { echo "not a vss-origin status: $line" >&2; return 1; }
	case $want in
	chunk_sectors) echo "${f[3]}" ;;
	used_chunks) echo "${f[4]%/*}" ;;
	total_chunks) echo "${f[4]#*/}" ;;
	used_meta) echo "${f[5]%/*}" ;;
	total_meta) echo "${f[5]#*/}" ;;
	snap_count) echo "${f[6]}" ;;
	mode) echo "${f[7]}" ;;
	index_bytes) echo "${f[8]}" ;;
	*) echo "cow_status: unknown field $want" >&2; return 1 ;;
	esac
}

# cow_snap_status ID FIELD: id, state or copied of the vss-snap device of ID.
cow_snap_status() {
	local line
	local -a f
	line=$(dmsetup status "${COW_PFX}s$1") || return 1
	read -r -a f <<< "$line"
	[ "${f[2]}" = vss-snap ] || { echo "not a vss-snap status: $line" >&2; return 1; }
	case $2 in
	id) echo "${f[3]}" ;;
	state) echo "${f[4]}" ;;
	copied) echo "${f[5]}" ;;
	*) echo "cow_snap_status: unknown field $2" >&2; return 1 ;;
	esac
}

cow_events() {
	dmsetup info -c --noheadings -o events "${1:-$COW_O}" | tr -d ' '
}

# ---- snapshots ----

# cow_snapshot ID: suspend the origin, read its content (the device under
# it, now quiet), take snapshot ID, resume.  The content read must equal
# the model; it is recorded as the snapshot's expected sha256 (also in
# $COW_DIR/expect.ID), and with COW_KEEP_IMAGES=1 the image is kept as
# $COW_DIR/image.ID to show differences.
cow_snapshot() {
	local id=$1 sha msha r=0
	dmsetup suspend "$COW_O" || return 1
	# The table's length of it: the device may be longer.
	sha=$(cow_sha_range "$COW_OREAL" 0 $((COW_SECTORS * COW_SECTOR)))
	dmsetup message "$COW_O" 0 create "$id" || r=1
	dmsetup resume "$COW_O" || r=1
	(( r == 0 )) || { echo "cow_snapshot $id: create failed" >&2; return 1; }
	msha=$(cow_sha "$COW_MODEL")
	if [ "$sha" != "$msha" ]; then
		echo "cow_snapshot $id: the origin differs from the model at the snapshot's instant" >&2
		cow_show_diff "$COW_OREAL" "$COW_MODEL" >&2
		return 1
	fi
	COW_EXPECT[$id]=$sha
	echo "$sha" > "$COW_DIR/expect.$id"
	[ -n "${COW_KEEP_IMAGES:-}" ] && cp "$COW_MODEL" "$COW_DIR/image.$id"
	model_create "$id"
}

# cow_snap_dev ID: load the read-only vss-snap device of snapshot ID.
cow_snap_dev() {
	local name=${COW_PFX}s$1
	dmsetup create --readonly "$name" \
		--table "0 $COW_SECTORS vss-snap $COW_OREAL $COW_STORE $1" ||
		{ echo "cannot load the vss-snap device of snapshot $1" >&2; return 1; }
	[ -b "/dev/mapper/$name" ] || { echo "/dev/mapper/$name did not appear" >&2; return 1; }
}

cow_snap_remove() {
	udevadm settle --timeout=20 >/dev/null 2>&1
	dmsetup remove --retry "${COW_PFX}s$1"
}

# cow_verify_snap ID: the snapshot device reads back as at its instant.
cow_verify_snap() {
	local id=$1 dev=/dev/mapper/${COW_PFX}s$1 sha
	sha=$(cow_sha "$dev") || { echo "snapshot $id: read error" >&2; return 1; }
	if [ "$sha" != "${COW_EXPECT[$id]}" ]; then
		echo "snapshot $id: content differs from its instant" >&2
		[ -f "$COW_DIR/image.$id" ] && cow_show_diff "$dev" "$COW_DIR/image.$id" >&2
		return 1
	fi
}

# cow_verify_snaps ID...: loads (if needed) and verifies each snapshot.
cow_verify_snaps() {
	local id
	for id in "$@"; do
		[ -b "/dev/mapper/${COW_PFX}s$id" ] || cow_snap_dev "$id" || return 1
		cow_verify_snap "$id" || return 1
	done
}

# cow_verify_origin: the origin device holds exactly the model.
cow_verify_origin() {
	if [ "$(cow_sha "$COW_ODEV")" != "$(cow_sha "$COW_MODEL")" ]; then
		echo "the origin differs from the model" >&2
		cow_show_diff "$COW_ODEV" "$COW_MODEL" >&2
		return 1
	fi
}

# cow_show_diff A B: the chunks (at the model's chunk size) where A and B
# differ, at most 20.
cow_show_diff() {
	local cb=${M_CB:-4096} a=$COW_DIR/diff.a
	(( cb )) || cb=4096
	dd if="$1" of="$a" bs=1M status=none $([ -b "$1" ] && echo iflag=direct)
	cmp -l "$a" "$2" 2>&1 | awk -v cb="$cb" '
		/EOF/ { print; next }
		{ c = int(($1 - 1) / cb); if (!(c in seen)) { seen[c] = 1; n++; if (n <= 20) printf "  differs in chunk %d (first byte %d)\n", c, $1 - 1 } }
		END { if (n) printf "  %d chunk(s) differ\n", n }'
	rm -f "$a"
}

# cow_expect_eio DEV: reading DEV fails with an I/O error.
cow_expect_eio() {
	local out
	if out=$(dd if="$1" iflag=direct bs=4096 count=1 of=/dev/null 2>&1); then
		echo "reading $1 succeeded; an I/O error was expected" >&2
		return 1
	fi
	case $out in
	*"Input/output error"*) return 0 ;;
	*) echo "reading $1 failed, but not with EIO: $out" >&2; return 1 ;;
	esac
}

# cow_reload_all [FEATURES]: remove every vss-snap device and the origin,
# unload and reload the module, load the origin again (with the given
# features, default as first made) and the snapshot devices that were loaded.
cow_reload_all() {
	local features=${1-$COW_FEATURES} name ids=
	for name in $(cow_dm_names); do
		case $name in ${COW_PFX}s*) ids="$ids ${name#${COW_PFX}s}" ;; esac
	done
	udevadm settle --timeout=20 >/dev/null 2>&1
	for name in $ids; do
		dmsetup remove --retry "${COW_PFX}s$name" || return 1
	done
	dmsetup remove --retry "$COW_O" || return 1
	modprobe -r dm-vss || { echo "dm-vss does not unload" >&2; return 1; }
	modprobe dm-vss || return 1
	cow_origin_load "$features" || return 1
	for name in $ids; do
		cow_snap_dev "$name" || return 1
	done
}

# cow_check_counters: status used_chunks and each loaded snapshot's
# copied_chunks match the chunk model (one model run, one dmsetup status).
cow_check_counters() {
	local used name id got
	local -A want=()
	while read -r id got; do
		want[$id]=$got
	done < <(model counters)
	used=$(cow_status used_chunks)
	if [ "$used" != "${want[used]}" ]; then
		echo "status used_chunks $used, the model expects ${want[used]}" >&2
		return 1
	fi
	# "NAME: START LEN vss-snap ID STATE COPIED" for every vss-snap device
	while read -r name _ _ _ _ _ got; do
		name=${name%:}
		id=${name#${COW_PFX}s}
		[ -n "${want[$id]:-}" ] || continue	# not valid in the model
		[ "$got" = "${want[$id]}" ] || { echo "snapshot $id: copied_chunks $got, the model expects ${want[$id]}" >&2; return 1; }
	done < <(dmsetup status --target vss-snap | grep "^${COW_PFX}s[0-9]*: ")
}

# ---- the chunk model of the store (cow-model.awk) ----

# model OP [ARG...]: runs one operation of the model on $COW_DIR/model.state.
model() {
	local st=$COW_DIR/model.state op=$1
	shift
	[ -f "$st" ] || : > "$st"
	rm -f "$st.new"
	awk -v op="$op" -v args="$*" -v state="$st" -f "$BATS_TEST_DIRNAME/cow-model.awk" "$st" || return 1
	[ ! -f "$st.new" ] || mv "$st.new" "$st"
}

# model_init CHUNK_SECTORS CAP POLICY
model_init() {
	M_CB=$(( $1 * COW_SECTOR ))
	model init "$M_CB" "$2" "$3"
}

model_create() { model create "$1"; }
model_write() { model write "$1" "$2"; }
model_delete() { model retire deleted "$@"; }
model_used() { model used; }
model_copied() { model copied "$1"; }
model_state() { model state "$1"; }
model_dropped() { model dropped; }
