# SPDX-License-Identifier: GPL-2.0
# Helpers of the power-cut tests (test/target/crash.bats).  They run as
# root inside the test VM (scripts/vm-run, scripts/crash-test).
#
# Recording: one loop device is the data device of a log-writes target,
# another its log.  Two dm-linear slices of the log-writes device are the
# origin and the store of a vss-origin device, so that one log records the
# order in which writes to both became durable.  The workload writes the
# origin with a pattern that names, in every sector, the write and the
# sector (replay-log pattern), keeps a journal of its writes, and creates
# and deletes snapshots; it marks the log after each create (c<id>, after
# flushing, so every write before the mark is durable at it), after each
# delete (d<id>) and at other quiet moments (s<n>).
#
# Replaying and checking: test/tools/crash-check rebuilds the data device
# as it was at each chosen crash point, as two files (the origin's slice and
# the store's) under two loop devices, and checks the point in the same
# process: the store reader and vss-check on the store, a vss-origin table
# made by ioctl (no udev), every snapshot whose create had returned read
# back through a vss-snap table and compared with the hash recorded at its
# creation, the origin against the journal.

load helpers

MiB=$((1024 * 1024))

# Geometry: 2 MiB origin, 8 MiB store (4 KiB chunks), 10 MiB data device:
# a small origin keeps reading and hashing a snapshot cheap; the store is
# large enough that no snapshot is dropped for lack of room.  The store's
# slice starts at 4 MiB and grows to 8 halfway through the workload (the
# store grows into it as the origin resumes).
CR_OSECT=4096
CR_SSECT=16384
CR_SSECT0=8192
CR_GROWN_CHUNKS=2038	# data chunks of 8 MiB of 4 KiB chunks
CR_DSECT=$((CR_OSECT + CR_SSECT))
CR_LOG_BYTES=$((512 * MiB))

crash_setup_file() {
	[ "$(id -u)" = 0 ] || { echo "the crash tests run as root inside the VM (scripts/crash-test)" >&2; return 1; }
	modprobe dm-vss || { echo "cannot load dm-vss" >&2; return 1; }
	modprobe dm-log-writes || { echo "cannot load dm-log-writes (CONFIG_DM_LOG_WRITES)" >&2; return 1; }
	require dmsetup losetup sha256sum dd sync
	VSS_CHECK=${VSS_BINDIR:-$VSS_TOP/build/bin}/vss-check
	[ -x "$VSS_CHECK" ] || { echo "no $VSS_CHECK: run make first" >&2; return 1; }
	REPLAY_LOG=$BATS_FILE_TMPDIR/replay-log
	${CC:-cc} -O2 -Wall -Wextra -o "$REPLAY_LOG" "$VSS_TOP/test/tools/replay-log.c" ||
		{ echo "cannot build test/tools/replay-log.c" >&2; return 1; }
	CRASH_CHECK=$BATS_FILE_TMPDIR/crash-check
	[ -e "$VSS_TOP/build/lib/libvsscore.so" ] || { echo "no build/lib/libvsscore.so: run make first" >&2; return 1; }
	${CC:-cc} -O2 -Wall -Wextra -I"$VSS_TOP/libvsscore" -I"$VSS_TOP/test/tools" \
		-o "$CRASH_CHECK" "$VSS_TOP/test/tools/crash-check.c" \
		-L"$VSS_TOP/build/lib" -Wl,-rpath,"$VSS_TOP/build/lib" -lvsscore -ldevmapper -pthread ||
		{ echo "cannot build test/tools/crash-check.c" >&2; return 1; }
	export VSS_CHECK REPLAY_LOG CRASH_CHECK
}

# ---- recording ----

# crash_record_setup: the log-writes device and its two slices.
crash_record_setup() {
	CR_DATA=$(make_loop $((CR_DSECT * 512)) data) || return 1
	CR_LOGDEV=$(make_loop "$CR_LOG_BYTES" log) || return 1
	CR_LW=${VSS_TEST_PFX}lw
	dm_create "$CR_LW" --table "0 $CR_DSECT log-writes $CR_DATA $CR_LOGDEV" || return 1
	dm_create "${VSS_TEST_PFX}or" --table "0 $CR_OSECT linear /dev/mapper/$CR_LW 0" || return 1
	dm_create "${VSS_TEST_PFX}st" --table "0 $CR_SSECT0 linear /dev/mapper/$CR_LW $CR_OSECT" || return 1
	CR_O=${VSS_TEST_PFX}o
	CR_ODEV=/dev/mapper/$CR_O
	CR_J=$T/journal
	# "<id> <sha256> <hash64>" per snapshot, in creation order, "<id>" per delete
	# that returned, and in *.before the mark made last before each create
	# or delete began (no write of it can be in the log before that mark)
	CR_CREATED=$T/created
	CR_DELETED=$T/deleted
	: > "$CR_J"
	: > "$CR_CREATED"
	: > "$CR_DELETED"
	: > "$CR_CREATED.before"
	: > "$CR_DELETED.before"
	CR_WID=0 CR_SYNC=0 CR_LAST_MARK=
	CR_LIVE=()
}

# crash_flush: a flush (REQ_PREFLUSH) to the log-writes device: every write
# completed so far is logged before it.  (fsync of a block device sends
# one; blockdev --flushbufs does not.)
crash_flush() {
	sync "/dev/mapper/$CR_LW"
}

crash_mark() {
	dmsetup message "$CR_LW" 0 mark "$1" && CR_LAST_MARK=$1
}

# crash_sync_mark NAME: every write so far is durable, then mark NAME.
crash_sync_mark() {
	crash_flush || return 1
	crash_mark "$1" || return 1
	echo "m $1" >> "$CR_J"
}

# crash_origin_load: the vss-origin device over the two slices (formats the
# store the first time).
crash_origin_load() {
	dm_create "$CR_O" --table "0 $CR_OSECT vss-origin /dev/mapper/${VSS_TEST_PFX}or /dev/mapper/${VSS_TEST_PFX}st"
}

# crash_write OFF LEN [&]: the next write of the pattern at byte OFF of
# the origin, with O_DIRECT; in the journal before it is issued.  With a
# third argument it runs in the background and its pid is added to
# CR_PIDS (the id and the journal line are taken here, in the foreground).
crash_write() {
	local off=$1 len=$2 id
	CR_WID=$((CR_WID + 1))
	id=$CR_WID
	echo "w $id $off $len" >> "$CR_J"
	if [ $# -gt 2 ]; then
		_crash_dd "$id" "$off" "$len" &
		CR_PIDS+=($!)
	else
		_crash_dd "$id" "$off" "$len"
	fi
}

_crash_dd() {
	"$REPLAY_LOG" pattern "$1" "$2" "$3" |
		dd of="$CR_ODEV" bs="$3" count=1 iflag=fullblock seek="$2" \
			oflag=seek_bytes,direct conv=notrunc status=none ||
		{ echo "write $1 ($3 bytes at $2) failed" >&2; return 1; }
}

# crash_write_group N [DELETE_ID]: N concurrent writes of random shapes at
# places that do not overlap: 4 KiB chunks, parts of a chunk, several
# chunks with unaligned ends.  With DELETE_ID, that snapshot is deleted
# while they are in flight, and d<DELETE_ID> marked once the delete returns.
crash_write_group() {
	local n=$1 del=${2:-} i off len used=" " c0 c1 c ok r=0 try
	CR_PIDS=()
	for ((i = 0; i < n; i++)); do
		ok=0
		for ((try = 0; try < 8; try++)); do
			case $((RANDOM % 4)) in
			0) len=4096; off=$(( (RANDOM % (CR_OSECT / 8)) * 4096 )) ;;
			1) len=$(( (RANDOM % 7 + 1) * 512 ))
			   off=$(( (RANDOM % (CR_OSECT / 8)) * 4096 + (RANDOM % (8 - len / 512 + 1)) * 512 )) ;;
			2) len=$(( (RANDOM % 24 + 9) * 512 ))
			   off=$(( (RANDOM % (CR_OSECT - 64)) * 512 )) ;;
			3) len=$(( (RANDOM % 8 + 1) * 32768 ))
			   off=$(( (RANDOM % ((CR_OSECT * 512 - len) / 512)) * 512 )) ;;
			esac
			c0=$((off / 4096)) c1=$(( (off + len - 1) / 4096 ))
			ok=1
			for ((c = c0; c <= c1; c++)); do
				[[ $used == *" $c "* ]] && { ok=0; break; }
			done
			((ok)) && break
		done
		((ok)) || continue
		for ((c = c0; c <= c1; c++)); do used+="$c "; done
		crash_write "$off" "$len" bg
	done
	if [ -n "$del" ]; then
		echo "$del $CR_LAST_MARK" >> "$CR_DELETED.before"
		if dmsetup message "$CR_O" 0 delete "$del" && crash_mark "d$del"; then
			echo "$del" >> "$CR_DELETED"
		else
			echo "delete $del failed" >&2
			r=1
		fi
	fi
	for i in "${CR_PIDS[@]}"; do
		wait "$i" || r=1
	done
	return $r
}

# crash_create ID: suspend, create, mark c<ID> at once, resume; then read
# the snapshot through a vss-snap device: it must equal the journal at the
# mark, and its sha256 and the hash the checks compare with (crash-check
# hash) are recorded.
crash_create() {
	local id=$1 snap=${VSS_TEST_PFX}s$1 sha hash r=0
	echo "$id $CR_LAST_MARK" >> "$CR_CREATED.before"
	crash_flush || return 1
	dmsetup suspend "$CR_O" || return 1
	dmsetup message "$CR_O" 0 create "$id" || r=1
	((r)) || crash_mark "c$id" || r=1
	dmsetup resume "$CR_O" || r=1
	((r == 0)) || { echo "create $id failed" >&2; return 1; }
	echo "m c$id" >> "$CR_J"
	dm_create "$snap" --readonly --table "0 $CR_OSECT vss-snap /dev/mapper/${VSS_TEST_PFX}or /dev/mapper/${VSS_TEST_PFX}st $id" || return 1
	"$REPLAY_LOG" verify "/dev/mapper/$snap" "$CR_J" "c$id" "c$id" >&2 ||
		{ echo "snapshot $id differs from the origin at its creation (before any crash)" >&2; return 1; }
	sha=$(dev_sha256 "/dev/mapper/$snap") || return 1
	hash=$("$CRASH_CHECK" hash "/dev/mapper/$snap") || return 1
	udevadm settle --timeout=20 >/dev/null 2>&1
	dmsetup remove --retry "$snap" || return 1
	echo "$id $sha $hash" >> "$CR_CREATED"
	CR_LIVE+=("$id")
}

# crash_delete ID N: delete snapshot ID during N concurrent writes.
crash_delete() {
	local id=$1 i
	crash_write_group "$2" "$id" || return 1
	for i in "${!CR_LIVE[@]}"; do
		[ "${CR_LIVE[$i]}" = "$id" ] && unset 'CR_LIVE[i]'
	done
	CR_LIVE=("${CR_LIVE[@]}")
}

# crash_grow: the store's slice takes its whole 8 MiB, and a suspend and
# resume of the origin grows the store into it; marked "grown".
crash_grow() {
	local st=${VSS_TEST_PFX}st total
	dmsetup suspend "$st" || return 1
	dmsetup reload "$st" --table "0 $CR_SSECT linear /dev/mapper/$CR_LW $CR_OSECT" || return 1
	dmsetup resume "$st" || return 1
	dmsetup suspend "$CR_O" || return 1
	dmsetup resume "$CR_O" || return 1
	total=$(dmsetup status "$CR_O" | awk '{ split($5, t, "/"); print t[2] }')
	[ "$total" = "$CR_GROWN_CHUNKS" ] ||
		{ echo "the store did not grow: $total data chunks" >&2; return 1; }
	crash_sync_mark grown
}

# crash_workload ROUNDS SEED: format, fill, then ROUNDS rounds of write
# groups with snapshots created every few rounds, the oldest deleted when
# four are alive (during writes), a random one now and then; the store
# grows halfway.
crash_workload() {
	local rounds=$1 i id=0 victim
	RANDOM=$2
	crash_sync_mark start || return 1
	crash_origin_load || return 1
	crash_sync_mark formatted || return 1
	for ((i = 0; i < CR_OSECT * 512 / MiB; i++)); do
		crash_write $((i * MiB)) "$MiB" || return 1
	done
	crash_sync_mark filled || return 1
	for ((i = 1; i <= rounds; i++)); do
		crash_write_group $((RANDOM % 4 + 1)) || return 1
		if ((i % 3 == 1)); then
			id=$((id + 1))
			crash_create "$id" || return 1
		fi
		if ((${#CR_LIVE[@]} >= 4)); then
			crash_delete "${CR_LIVE[0]}" 3 || return 1
		elif ((${#CR_LIVE[@]} > 1 && RANDOM % 7 == 0)); then
			victim=${CR_LIVE[RANDOM % ${#CR_LIVE[@]}]}
			crash_delete "$victim" 2 || return 1
		fi
		if ((i == rounds / 2)); then
			crash_grow || return 1
		fi
		if ((i % 5 == 0)); then
			CR_SYNC=$((CR_SYNC + 1))
			crash_sync_mark "s$CR_SYNC" || return 1
		fi
	done
	crash_sync_mark end || return 1
}

# crash_record_finish: remove the recording devices; the log stays.
crash_record_finish() {
	local name
	udevadm settle --timeout=20 >/dev/null 2>&1
	for name in "$CR_O" "${VSS_TEST_PFX}st" "${VSS_TEST_PFX}or" "$CR_LW"; do
		dmsetup remove --retry "$name" || { echo "cannot remove $name" >&2; return 1; }
	done
}

# ---- choosing the crash points ----

# crash_points MAX: from `replay-log list`, in $T/entries, writes $T/points:
# every mark; every flush as it completed and torn in the middle (a power
# cut during it with a random part of the volatile writes kept, CRASH_TORN
# different draws, default 3); other entries (a power cut after a prefix of
# the writes that reached the log before a flush) evenly spaced.  When that
# is more than MAX points, flushes and other entries are sampled evenly
# (marks always stay).
crash_points() {
	local max=$1
	"$REPLAY_LOG" list "$CR_LOGDEV" > "$T/entries" || return 1
	awk -v max="$max" -v seed="${CRASH_SEED:-1}" -v torn="${CRASH_TORN:-3}" '
		$1 == "entries" { next }
		{ kind[$1] = $2; n = $1 + 1 }
		END {
			for (i = 0; i < n; i++) {
				if (kind[i] == "mark") marks++
				else if (kind[i] == "flush") flushes++
				else others++
			}
			room = max - marks
			if (room < 4) room = 4
			# a flush counts 1 + torn points; the others get a quarter
			fstep = flushes ? ((1 + torn) * flushes) / (room * 0.75) : 1
			ostep = others ? others / (room * 0.25) : 1
			if (fstep < 1) fstep = 1
			if (ostep < 1) ostep = 1
			fi = 0; oi = 0; fnext = 0; onext = 0
			for (i = 0; i < n; i++) {
				if (kind[i] == "mark") { print i, "prefix"; continue }
				if (kind[i] == "flush") {
					if (fi++ >= fnext) {
						fnext += fstep
						for (t = 0; t < torn; t++) print i, "torn", seed * 7919 + i * 16 + t
						print i, "prefix"
					}
					continue
				}
				if (oi++ >= onext) { onext += ostep; print i, "prefix" }
			}
		}' "$T/entries" > "$T/points"
}

# ---- checking ----

# crash_replay_setup: CRASH_SETS (default 3) sets of the two replay images
# and their loop devices, as the comma-separated lists CR_OIMG, CR_SIMG,
# CR_ROD and CR_RSD.  The checker uses the sets in turn: while it checks a
# point on one, a thread of its removes the last point's tables from
# another (a removal costs more than the rest of a point).
crash_replay_setup() {
	local k img dev
	CR_OIMG= CR_SIMG= CR_ROD= CR_RSD=
	for ((k = 0; k < ${CRASH_SETS:-3}; k++)); do
		img=$T/replay-origin.$k.img
		truncate -s $((CR_OSECT * 512)) "$img" || return 1
		dev=$(losetup --find --show "$img") || return 1
		echo "$dev" >> "$T/.loops"
		CR_OIMG+=${CR_OIMG:+,}$img CR_ROD+=${CR_ROD:+,}$dev
		img=$T/replay-store.$k.img
		truncate -s $((CR_SSECT * 512)) "$img" || return 1
		dev=$(losetup --find --show "$img") || return 1
		echo "$dev" >> "$T/.loops"
		CR_SIMG+=${CR_SIMG:+,}$img CR_RSD+=${CR_RSD:+,}$dev
	done
}

# crash_replay_all: test/tools/crash-check over $T/points; its report in
# $T/report, the counts in CR_N_POINTS, CR_N_TORN, CR_N_FAIL, CR_N_REFUSED.
# CRASH_BUDGET (seconds, default 240; 0: none, the default in long mode)
# bounds the checking time: when the points chosen would take longer,
# evenly spaced ones are skipped (marks never).  vss-check runs, and the
# origin is read through the vss-origin device, at every
# CRASH_CHECK_EVERY-th point (default 8) and at every mark (vss-check also
# at every refusal); the store reader vss-check is built on runs, and the
# replayed origin is verified, at every point.
crash_replay_all() {
	local budget=${CRASH_BUDGET:-240} counts kv
	[ -n "${VSS_LONG:-}" ] && budget=${CRASH_BUDGET:-0}
	CR_N_POINTS=0 CR_N_TORN=0 CR_N_FAIL=0 CR_N_REFUSED=0 CR_N_TORN_BLOCKS=0
	# The checker makes and removes tables by ioctl at every point, udev
	# neither waited for nor wanted (it reads through /dev/dm-N).  udevd is
	# stopped while it runs: it would take minutes over their thousands of
	# uevents (287 s after a 162 s check, even told to stop at the first
	# rule), and the next suites' devices would wait behind them.  The new
	# udevd must not hold bats' descriptors, or bats waits for it.
	local r=0 t0 udevd=/lib/systemd/systemd-udevd
	udevadm settle --timeout=60 >/dev/null 2>&1
	udevadm control --exit || { echo "cannot stop udevd" >&2; return 1; }
	crash_check_run || r=$?
	t0=$SECONDS
	"$udevd" --daemon </dev/null >/dev/null 2>&1 3>&- 4>&- 5>&- ||
		{ echo "cannot start udevd again" >&2; return 1; }
	udevadm settle --timeout=60 >/dev/null 2>&1
	echo "# udevd stopped while the checker ran; started again and settled in $((SECONDS - t0)) s" >&3
	return $r
}

crash_check_run() {
	local counts kv
	"$CRASH_CHECK" run --log "$CR_LOGDEV" \
		--origin-img "$CR_OIMG" --store-img "$CR_SIMG" \
		--origin-dev "$CR_ROD" --store-dev "$CR_RSD" \
		--points "$T/points" --journal "$CR_J" \
		--created "$CR_CREATED" --created-before "$CR_CREATED.before" \
		--deleted-before "$CR_DELETED.before" \
		--findings "$T/findings" --prefix "$VSS_TEST_PFX" \
		--vss-check "$VSS_CHECK" --check-every "${CRASH_CHECK_EVERY:-8}" \
		--budget "$budget" > "$T/report" ||
		{ echo "crash-check failed" >&2; cat "$T/report" >&2; return 1; }
	counts=$(grep '^counts ' "$T/report") || { echo "crash-check printed no counts" >&2; return 1; }
	for kv in ${counts#counts }; do
		case ${kv%%=*} in
		points) CR_N_POINTS=${kv#*=} ;;
		torn) CR_N_TORN=${kv#*=} ;;
		torn_blocks) CR_N_TORN_BLOCKS=${kv#*=} ;;
		fail) CR_N_FAIL=${kv#*=} ;;
		refused) CR_N_REFUSED=${kv#*=} ;;
		esac
	done
}

# crash_report: the counts, then the findings (at most 10 failures with 60
# lines of detail each, and 20 notes).
crash_report() {
	grep '^#' "$T/report"
	[ -s "$T/findings" ] && awk '
		/^FAIL/ { if (++fails > 10) next; lines = 0 }
		/^    / { if (fails > 10 || ++lines > 60) next }
		!/^FAIL/ && !/^    / { if (++notes > 20) next }
		{ print "# " $0 }
		END {
			if (fails > 10) print "# ... " fails - 10 " more failures"
			if (notes > 20) print "# ... " notes - 20 " more notes"
		}' "$T/findings"
	return 0
}
