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
# Replaying: replay-log rebuilds the data device as it was at each chosen
# crash point, in a file under a loop device with the same two slices; the
# check loads vss-origin on them and reads every snapshot whose create had
# returned before the point.

load helpers

MiB=$((1024 * 1024))

# Geometry: 8 MiB origin, 8 MiB store (4 KiB chunks), 16 MiB data device.
CR_OSECT=16384
CR_SSECT=16384
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
	export VSS_CHECK REPLAY_LOG
}

# ---- recording ----

# crash_record_setup: the log-writes device and its two slices.
crash_record_setup() {
	CR_DATA=$(make_loop $((CR_DSECT * 512)) data) || return 1
	CR_LOGDEV=$(make_loop "$CR_LOG_BYTES" log) || return 1
	CR_LW=${VSS_TEST_PFX}lw
	dm_create "$CR_LW" --table "0 $CR_DSECT log-writes $CR_DATA $CR_LOGDEV" || return 1
	dm_create "${VSS_TEST_PFX}or" --table "0 $CR_OSECT linear /dev/mapper/$CR_LW 0" || return 1
	dm_create "${VSS_TEST_PFX}st" --table "0 $CR_SSECT linear /dev/mapper/$CR_LW $CR_OSECT" || return 1
	CR_O=${VSS_TEST_PFX}o
	CR_ODEV=/dev/mapper/$CR_O
	CR_J=$T/journal
	# "<id> <sha256>" per snapshot, in creation order, "<id>" per delete
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
# mark, and its sha256 is recorded.
crash_create() {
	local id=$1 snap=${VSS_TEST_PFX}s$1 sha r=0
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
	udevadm settle --timeout=20 >/dev/null 2>&1
	dmsetup remove --retry "$snap" || return 1
	echo "$id $sha" >> "$CR_CREATED"
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

# crash_workload ROUNDS SEED: format, fill, then ROUNDS rounds of write
# groups with snapshots created every few rounds, the oldest deleted when
# four are alive (during writes), a random one now and then.
crash_workload() {
	local rounds=$1 i id=0 victim
	RANDOM=$2
	crash_sync_mark start || return 1
	crash_origin_load || return 1
	crash_sync_mark formatted || return 1
	for ((i = 0; i < 8; i++)); do
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
# every mark, every flush (as it completed, and torn: a power cut during it
# with a random part of the volatile writes kept), and evenly spaced other
# entries; when that is more than MAX points, flushes and other entries are
# sampled evenly (marks always stay).
crash_points() {
	local max=$1
	"$REPLAY_LOG" list "$CR_LOGDEV" > "$T/entries" || return 1
	awk -v max="$max" -v seed="${CRASH_SEED:-1}" '
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
			# flushes count twice (torn and prefix); the others get a quarter
			fstep = flushes ? (2 * flushes) / (room * 0.75) : 1
			ostep = others ? others / (room * 0.25) : 1
			if (fstep < 1) fstep = 1
			if (ostep < 1) ostep = 1
			fi = 0; oi = 0; fnext = 0; onext = 0
			for (i = 0; i < n; i++) {
				if (kind[i] == "mark") { print i, "prefix"; continue }
				if (kind[i] == "flush") {
					if (fi++ >= fnext) { fnext += fstep; print i, "torn", seed + i; print i, "prefix" }
					continue
				}
				if (oi++ >= onext) { onext += ostep; print i, "prefix" }
			}
		}' "$T/entries" > "$T/points"
}

# ---- checking ----

# crash_replay_setup: the replay image, its loop device and its slices.
crash_replay_setup() {
	CR_IMG=$T/replay.img
	truncate -s $((CR_DSECT * 512)) "$CR_IMG" || return 1
	CR_RDEV=$(losetup --find --show "$CR_IMG") || return 1
	echo "$CR_RDEV" >> "$T/.loops"
	CR_ROR=${VSS_TEST_PFX}ror
	CR_RST=${VSS_TEST_PFX}rst
	CR_RO=${VSS_TEST_PFX}ro
	dm_create "$CR_ROR" --table "0 $CR_OSECT linear $CR_RDEV 0" || return 1
	dm_create "$CR_RST" --table "0 $CR_SSECT linear $CR_RDEV $CR_OSECT" || return 1
	# index of each mark in the log, and the sync marks in journal order
	declare -gA CR_MARK_AT=() CR_SHA=()
	CR_KIND=()
	local idx kind sector bytes name id sha
	while read -r idx kind sector bytes name; do
		[ "$idx" = entries ] && continue
		CR_KIND[$idx]=$kind
		[ "$kind" = mark ] && CR_MARK_AT[$name]=$idx
	done < "$T/entries"
	CR_SYNC_MARKS=()
	while read -r kind name; do
		[ "$kind" = m ] || continue
		[ -n "${CR_MARK_AT[$name]:-}" ] || { echo "mark $name is not in the log" >&2; return 1; }
		CR_SYNC_MARKS+=("$name")
	done < <(grep '^m ' "$CR_J")
	CR_IDS=()
	while read -r id sha; do
		CR_SHA[$id]=$sha
		CR_IDS+=("$id")
		[ -n "${CR_MARK_AT[c$id]:-}" ] || { echo "mark c$id is not in the log" >&2; return 1; }
	done < "$CR_CREATED"
	# log entries from which each create and delete may have written
	declare -gA CR_CFROM=() CR_DFROM=() CR_DAT=()
	while read -r id name; do
		CR_CFROM[$id]=${CR_MARK_AT[$name]}
	done < "$CR_CREATED.before"
	while read -r id name; do
		CR_DFROM[$id]=${CR_MARK_AT[$name]}
		CR_DAT[$id]=${CR_MARK_AT[d$id]:-999999999}
	done < "$CR_DELETED.before"
	CR_N_POINTS=0 CR_N_FAIL=0 CR_N_REFUSED=0 CR_N_LOADED=0 CR_N_FORMAT=0
	CR_N_SNAP_OK=0 CR_N_SNAP_INVALID=0 CR_N_EXTRA=0 CR_N_TORN=0 CR_N_INFLIGHT=0
	CR_N_VSSCHECK=0 CR_N_SKIPPED=0 CR_CHECK_EVERY=${CRASH_CHECK_EVERY:-4}
	declare -gA CR_REFUSALS=()
	: > "$T/findings"
}

crash_finding() {
	echo "$*" >> "$T/findings"
	echo "# FINDING: $*" >&3
}

crash_fail() {
	CR_N_FAIL=$((CR_N_FAIL + 1))
	crash_finding "FAIL $*"
}

# The dmsetup of the devices of each check.
CR_DM=${CRASH_DMSETUP:-dmsetup}

crash_rm() {
	$CR_DM remove --retry "$1" >/dev/null 2>&1 ||
		{ udevadm settle --timeout=20 >/dev/null 2>&1; $CR_DM remove --retry "$1"; }
}

# crash_class INDEX ID: what the workload had done with snapshot ID at log
# entry INDEX: alive (created, its delete not begun), maybe (its create or
# its delete in flight) or gone (not yet created, or deleted).
# Sets CR_CLASS.
crash_class() {
	local idx=$1 id=$2
	if ((idx < CR_CFROM[$id])); then CR_CLASS=gone
	elif ((idx < CR_MARK_AT[c$id])); then CR_CLASS=maybe
	elif [ -z "${CR_DFROM[$id]:-}" ] || ((idx < CR_DFROM[$id])); then CR_CLASS=alive
	elif ((idx < CR_DAT[$id])); then CR_CLASS=maybe
	else CR_CLASS=gone
	fi
}

# crash_check_snap POINT ID CLASS: loads snapshot ID's device over the
# replayed store and reads it.  An alive snapshot must be there; any that
# is there and valid must read back its recorded sha256; one reported
# invalid must answer reads with EIO.
crash_check_snap() {
	local pt=$1 id=$2 class=$3 snap=${VSS_TEST_PFX}rs$2 dev out sha state
	dev=/dev/mapper/$snap
	if ! out=$($CR_DM create --readonly "$snap" --table "0 $CR_OSECT vss-snap /dev/mapper/$CR_ROR /dev/mapper/$CR_RST $id" 2>&1); then
		[ "$class" = alive ] && crash_fail "point $pt: snapshot $id (created at log entry ${CR_MARK_AT[c$id]}) is missing from the replayed store: $out"
		return 0
	fi
	case $class in
	maybe) CR_N_INFLIGHT=$((CR_N_INFLIGHT + 1)) ;;
	gone) CR_N_EXTRA=$((CR_N_EXTRA + 1))
	      crash_finding "point $pt: snapshot $id is in the store although it was deleted (or not yet created)" ;;
	esac
	state=$(dmsetup status "$snap" | awk '{ print $5 }')
	if [ "$state" = valid ]; then
		sha=$(set -o pipefail; dd if="$dev" iflag=direct bs=1M status=none | sha256sum) ||
			{ crash_fail "point $pt: snapshot $id (valid) cannot be read"; crash_rm "$snap"; return 0; }
		sha=${sha%% *}
		if [ "$sha" = "${CR_SHA[$id]}" ]; then
			CR_N_SNAP_OK=$((CR_N_SNAP_OK + 1))
		else
			crash_fail "point $pt: snapshot $id reads wrong data (sha256 $sha, recorded ${CR_SHA[$id]}):"
			"$REPLAY_LOG" verify "$dev" "$CR_J" "c$id" "c$id" 2>&1 | sed 's/^/    /' >> "$T/findings"
			crash_window "$pt" "$id" >> "$T/findings"
		fi
	elif [ "$state" = invalid ]; then
		if out=$(dd if="$dev" iflag=direct bs=4096 count=1 of=/dev/null 2>&1); then
			crash_fail "point $pt: snapshot $id is invalid but a read succeeded"
		elif [[ $out != *"Input/output error"* ]]; then
			crash_fail "point $pt: snapshot $id is invalid and a read failed, but not with EIO: $out"
		else
			CR_N_SNAP_INVALID=$((CR_N_SNAP_INVALID + 1))
		fi
	else
		crash_fail "point $pt: snapshot $id: unexpected status '$(dmsetup status "$snap")'"
	fi
	crash_rm "$snap"
}

# crash_vss_check: vss-check on the replayed store; sets rc and out.
crash_vss_check() {
	CR_N_VSSCHECK=$((CR_N_VSSCHECK + 1))
	rc=0
	out=$("$VSS_CHECK" --quiet --ignore-non-fatal "/dev/mapper/$CR_RST" 2>&1) || rc=$?
}

# crash_window POINT ID: the log entries around a point where snapshot ID
# read wrong data: from the flush before it, with the snapshot's marks.
crash_window() {
	local idx=${1%/*} from=$1
	from=$idx
	while ((from > 0)) && [ "${CR_KIND[$((from - 1))]}" != flush ]; do
		from=$((from - 1))
	done
	((from > 0)) && from=$((from - 1))
	echo "    marks: c$2 at entry ${CR_MARK_AT[c$2]}${CR_MARK_AT[d$2]:+, d$2 at entry ${CR_MARK_AT[d$2]}}; log entries $from..$idx (index kind sector bytes; sectors < $CR_OSECT are the origin's):"
	awk -v a="$from" -v b="$idx" '$1 >= a && $1 <= b { print "      " $0 }' "$T/entries" | head -40
}

# crash_check_point INDEX MODE: the checks at one crash point (the replay
# image holds the state).
crash_check_point() {
	local idx=$1 mode=$2 pt="$1/$2" lo=- hi=- m id rc out out2 count
	local -a alive=() extra=()
	CR_N_POINTS=$((CR_N_POINTS + 1))
	[ "$mode" = torn ] && CR_N_TORN=$((CR_N_TORN + 1))
	# the origin: at a sync mark exactly the journal there; elsewhere what
	# the last sync mark made durable, or any write made before the next
	for m in "${CR_SYNC_MARKS[@]}"; do
		if ((CR_MARK_AT[$m] <= idx)); then lo=$m; else hi=$m; break; fi
	done
	[ "$lo" != - ] && ((CR_MARK_AT[$lo] == idx)) && hi=$lo
	for id in "${CR_IDS[@]}"; do
		crash_class "$idx" "$id"
		if [ "$CR_CLASS" = alive ]; then
			alive+=("$id")
		else
			extra+=("$id:$CR_CLASS")
		fi
	done

	# the store by itself: vss-check at every CR_CHECK_EVERY-th point and
	# at every mark (and wherever the kernel refuses the store, below)
	rc=-1
	if ((CR_N_POINTS % CR_CHECK_EVERY == 1 || CR_CHECK_EVERY == 1)) || [ "${CR_KIND[$idx]}" = mark ]; then
		crash_vss_check
	fi

	if ! out2=$($CR_DM create "$CR_RO" --table "0 $CR_OSECT vss-origin /dev/mapper/$CR_ROR /dev/mapper/$CR_RST" 2>&1); then
		CR_N_REFUSED=$((CR_N_REFUSED + 1))
		m=$(dmesg | grep -o 'vss-origin: .*' | tail -1)
		CR_REFUSALS[${m:-unknown}]=$(( ${CR_REFUSALS[${m:-unknown}]:-0} + 1 ))
		((rc != -1)) || crash_vss_check
		((rc == 7)) || crash_fail "point $pt: the kernel refuses the store ($m) but vss-check exits $rc: $out"
		((${#alive[@]} == 0)) || crash_finding "point $pt: store refused ($m): snapshots ${alive[*]} unreadable"
		! dmsetup info "$CR_RO" >/dev/null 2>&1 || crash_rm "$CR_RO" || true
		"$REPLAY_LOG" verify "/dev/mapper/$CR_ROR" "$CR_J" "$lo" "$hi" > "$T/verify.out" 2>&1 ||
			{ crash_fail "point $pt: the origin holds a state the workload cannot have left (marks $lo..$hi):"; sed 's/^/    /' "$T/verify.out" >> "$T/findings"; }
		return 0
	fi
	CR_N_LOADED=$((CR_N_LOADED + 1))
	if ((rc == -1)); then
		:
	elif ((rc == 4)); then
		CR_N_FORMAT=$((CR_N_FORMAT + 1))
	elif ((rc != 0)); then
		crash_fail "point $pt: the kernel loads the store but vss-check exits $rc: $out"
	fi
	count=$(dmsetup status "$CR_RO" | awk '{ print $7 }')
	for id in "${alive[@]}"; do
		crash_check_snap "$pt" "$id" alive
	done
	# the others only when the store has more snapshots than those
	if ((count > ${#alive[@]})); then
		for id in "${extra[@]}"; do
			crash_check_snap "$pt" "${id%%:*}" "${id#*:}"
		done
	fi
	"$REPLAY_LOG" verify "/dev/mapper/$CR_RO" "$CR_J" "$lo" "$hi" > "$T/verify.out" 2>&1 ||
		{ crash_fail "point $pt: the origin holds a state the workload cannot have left (marks $lo..$hi):"; sed 's/^/    /' "$T/verify.out" >> "$T/findings"; }
	crash_rm "$CR_RO" || crash_fail "point $pt: cannot remove the replayed origin"
}

# crash_replay_all: runs replay-log over $T/points, checking each point
# while it waits (it prints a line per point and reads one to go on).
# CRASH_BUDGET (seconds, default 240; 0: none) bounds the checking time:
# when the points chosen would take longer, evenly spaced ones are skipped.
crash_replay_all() {
	local word idx mode frac pid rfd wfd r=0 total seen stride start left
	local budget=${CRASH_BUDGET:-240}
	[ -n "${VSS_LONG:-}" ] && budget=${CRASH_BUDGET:-0}
	rm -f "$T/rp.in" "$T/rp.out"
	mkfifo "$T/rp.in" "$T/rp.out" || return 1
	"$REPLAY_LOG" replay "$CR_LOGDEV" "$CR_IMG" "$T/points" < "$T/rp.in" > "$T/rp.out" 2> "$T/replay.err" &
	pid=$!
	exec {wfd}> "$T/rp.in" {rfd}< "$T/rp.out"
	total=$(wc -l < "$T/points") seen=0 stride=1 start=$SECONDS
	while read -r -u "$rfd" word idx mode frac; do
		[ "$word" = point ] || { echo "replay-log: unexpected output: $word $idx $mode $frac" >&2; r=1; break; }
		seen=$((seen + 1))
		if [ "${CR_KIND[$idx]}" = mark ] || ((seen % stride == 0)); then
			crash_check_point "$idx" "$mode"
			# over budget at this pace: check every stride-th of the
			# remaining points (marks always)
			if ((budget > 0 && CR_N_POINTS >= 5)); then
				left=$((budget - (SECONDS - start)))
				((left > 1)) || left=1
				stride=$(( ((SECONDS - start) * (total - seen) + left * CR_N_POINTS - 1) / (left * CR_N_POINTS) ))
				((stride >= 1)) || stride=1
			fi
		else
			CR_N_SKIPPED=$((CR_N_SKIPPED + 1))
		fi
		echo next >&"$wfd"
	done
	exec {wfd}>&- {rfd}<&-
	wait "$pid" || { echo "replay-log failed: $(cat "$T/replay.err")" >&2; return 1; }
	return $r
}

crash_report() {
	local k
	echo "# crash points checked: $CR_N_POINTS ($CR_N_TORN torn) of $(grep -vc '^entries' "$T/entries") log entries; $CR_N_SKIPPED chosen points skipped to keep within CRASH_BUDGET"
	echo "# vss-check run at $CR_N_VSSCHECK points"
	echo "# store loaded at $CR_N_LOADED points ($CR_N_FORMAT unformatted: formatted at load), refused at $CR_N_REFUSED"
	for k in "${!CR_REFUSALS[@]}"; do
		echo "#   refused ${CR_REFUSALS[$k]} times: $k"
	done
	echo "# snapshot reads: $CR_N_SNAP_OK exact, $CR_N_SNAP_INVALID reported invalid (EIO), $CR_N_INFLIGHT of snapshots being created or deleted, $CR_N_EXTRA of snapshots deleted or not yet created"
	echo "# failures: $CR_N_FAIL"
	[ -s "$T/findings" ] && awk '
		/^FAIL/ { if (++fails > 10) next; lines = 0 }
		/^    / { if (fails > 10 || ++lines > 60) next }
		!/^FAIL/ && !/^    / { if (++notes > 20) next }
		{ print "# " $0 }
		END { if (fails > 10) print "# ... " fails - 10 " more failures" }' "$T/findings"
	return 0
}
