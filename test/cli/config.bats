#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# vss.conf (man/vss.conf.5) on this machine: the defaults it sets show in
# --help; every bad line stops every command with exit 1 and one message
# naming the file, the line and the key; the shipped file is valid, with
# every key set to its built-in default too; options refuse values they
# cannot represent.  (test/target/config.bats checks that the defaults
# take effect, with the module.)
# VSS_BINDIR selects the commands under test (default: build/bin).

bats_require_minimum_version 1.5.0

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export TOP B=${VSS_BINDIR:-$TOP/build/bin}
	[ -x "$B/vss-snapshot" ] || { echo "no $B/vss-snapshot: run make first" >&2; return 1; }
}

setup() {
	export VSS_STATE_DIR=$BATS_TEST_TMPDIR/state VSS_RUN_DIR=$BATS_TEST_TMPDIR/run
	export VSS_CONF_DIR=$BATS_TEST_TMPDIR/conf
	mkdir -p "$VSS_CONF_DIR" "$VSS_STATE_DIR" "$VSS_RUN_DIR"
	CONF=$VSS_CONF_DIR/vss.conf
}

# help CMD: its --help with the lines popt wraps joined again
help() {
	"$B/$1" --help | tr -s '[:space:]' ' '
}

@test "no vss.conf: the built-in defaults in --help" {
	run -0 help vss-snapshot
	[[ $output == *"freeze-to-thaw limit (default 60s)"* ]]
	[[ $output == *"(default 10s)"* ]]
	run -0 help vss-storage
	[[ $output == *"default 4k)"* ]]
	[[ $output == *"default 512k)"* ]]
}

@test "the defaults vss.conf sets show in --help, marked (vss.conf)" {
	printf '# a comment\n\n[snapshot]\ntimeout_freeze = 2m   # writers are slow\nkeep=24\n[storage]\nchunk_size = 64k\n[global]\nlock_wait = 30s\n' > "$CONF"
	run -0 help vss-snapshot
	[[ $output == *"(default 2m (vss.conf))"* ]]
	[[ $output == *"(default 24 (vss.conf))"* ]]
	[[ $output == *"(default 30s (vss.conf))"* ]]
	run -0 help vss-storage
	[[ $output == *"default 64k (vss.conf))"* ]]
}

@test "global.lock_wait is the default --wait of vss-snapshot, vss-delete and vss-revert" {
	local c start ms holder
	run -0 help vss-delete
	[[ $output == *"holding the lock (default fail at once)"* ]]
	printf '[global]\nlock_wait = 700ms\n' > "$CONF"
	for c in vss-snapshot vss-delete vss-revert; do
		run -0 help "$c"
		[[ $output == *"(default 700ms (vss.conf))"* ]] || { echo "$c: $output"; return 1; }
	done
	# -o: the lock stays with flock itself, so killing it releases the lock
	flock -o "$VSS_RUN_DIR/vss.lock" sleep 30 & holder=$!
	for i in $(seq 50); do
		flock -n "$VSS_RUN_DIR/vss.lock" true || break
		sleep 0.1
	done
	for c in vss-delete vss-revert; do
		start=$(date +%s%N)
		run --separate-stderr "$B/$c" --yes 1
		ms=$((($(date +%s%N) - start) / 1000000))
		echo "$c waited $ms ms: exit $status: $stderr"
		[ "$status" -eq 5 ]
		[ "$ms" -ge 650 ] && [ "$ms" -lt 5000 ]
	done
	kill $holder
	wait $holder 2>/dev/null || true
}

@test "the shipped vss.conf is valid, and still valid with every key uncommented" {
	cp "$TOP/scripts/conf/vss.conf" "$CONF"
	run -0 help vss-snapshot
	[[ $output == *"(default 60s)"* ]]
	sed -i 's/^#\([a-z_]* =\)/\1/' "$CONF"
	grep -q '^timeout_freeze = 60s' "$CONF"
	run -0 help vss-snapshot
	[[ $output == *"(default 60s (vss.conf))"* ]]
	run -0 "$B/vss-storage" --help
	run -0 "$B/vss-list"
}

# bad LINE... : every command that reads vss.conf exits 1, naming line 2
bad() {
	local want=$1 c
	shift
	printf '%s\n' "$@" > "$CONF"
	for c in vss-snapshot vss-storage vss-delete vss-expose vss-diff vss-send vss-receive; do
		case $c in
		vss-snapshot) run --separate-stderr "$B/$c" --help ;;
		vss-storage) run --separate-stderr "$B/$c" list ;;
		vss-receive) run --separate-stderr "$B/$c" --status "$BATS_TEST_TMPDIR/x" ;;
		vss-diff) run --separate-stderr "$B/$c" 1 2 ;;
		*) run --separate-stderr "$B/$c" 1 ;;
		esac
		[ "$status" -eq 1 ] || { echo "$c: exit $status, not 1: $stderr"; return 1; }
		[[ $stderr == "$c: $CONF:2: $want"* ]] || { echo "$c: stderr '$stderr'"; return 1; }
		[ "$(wc -l <<<"$stderr")" -eq 1 ] || { echo "$c: more than one line: $stderr"; return 1; }
	done
}

@test "a bad line stops every command: exit 1, the file, the line and the key" {
	bad "timeout_freez: unknown key in [snapshot]" '[snapshot]' 'timeout_freez = 30s'
	bad "[snap]: unknown section" '# comment' '[snap]'
	bad "timeout_freeze: 'soon' is not a duration" '[snapshot]' 'timeout_freeze = soon'
	bad "timeout_freeze: '99999999999999s' is not a duration" '[snapshot]' 'timeout_freeze = 99999999999999s'
	bad "keep: '-1' is not a whole number" '[snapshot]' 'keep = -1'
	bad "chunk_size: '18014398509481988k' is not a size" '[storage]' 'chunk_size = 18014398509481988k'
	bad "keep: a key before any [section]" '' 'keep = 3'
	bad "'keep 3': not a 'key = value' line" '[snapshot]' 'keep 3'
	bad "provider: 'a b' is not a provider name" '[snapshot]' 'provider = a b'
	bad "overflow: 'sometimes' is not drop or invalidate" '[storage]' 'overflow = sometimes'
	bad "usage_warn: '101' is not a whole number of percent from 0 to 100" '[snapshot]' 'usage_warn = 101'
}

@test "storage.overflow is vss-storage add's default --overflow; only dm-vss-cow takes one" {
	run -0 help vss-storage
	[[ $output == *"invalidate them all (add, dm-vss-cow; default drop)"* ]]
	printf '[storage]\noverflow = invalidate\n' > "$CONF"
	run -0 help vss-storage
	[[ $output == *"(add, dm-vss-cow; default invalidate (vss.conf))"* ]]
	run --separate-stderr "$B/vss-storage" add --for data --on /dev/null --overflow maybe
	[ "$status" -eq 1 ]
	[ "$stderr" = "vss-storage: --overflow: maybe: not a policy (drop or invalidate)" ]
	run --separate-stderr "$B/vss-storage" add --for data --on /dev/null --provider dm-snapshot --overflow drop
	[ "$status" -eq 1 ]
	[ "$stderr" = "vss-storage: --overflow is for dm-vss-cow stores, not dm-snapshot" ]
}

@test "a vss.conf that cannot be read: exit 2" {
	[ "$(id -u)" = 0 ] && command -v setpriv >/dev/null || skip "needs root to drop to another user"
	printf '[snapshot]\nkeep = 1\n' > "$CONF"
	chmod 600 "$CONF"
	chmod 755 "$BATS_TEST_TMPDIR" "$VSS_CONF_DIR"
	run --separate-stderr setpriv --reuid 65534 --regid 65534 --clear-groups "$B/vss-snapshot" --help
	[ "$status" -eq 2 ]
	[[ $stderr == *"vss.conf: cannot read the configuration: Permission denied"* ]]
}

@test "options refuse what they cannot represent, naming the option and the value" {
	run --separate-stderr "$B/vss-snapshot" --timeout-freeze 99999999999999s /x
	[ "$status" -eq 1 ]
	[ "$stderr" = "vss-snapshot: --timeout-freeze: 99999999999999s: too long (at most 24h)" ]
	run --separate-stderr "$B/vss-snapshot" --timeout-commit 0 /x
	[ "$status" -eq 1 ]
	[ "$stderr" = "vss-snapshot: --timeout-commit: 0: must be more than 0" ]
	run --separate-stderr "$B/vss-snapshot" --wait 1x /x
	[ "$status" -eq 1 ]
	[ "$stderr" = "vss-snapshot: --wait: 1x: not a duration (500ms, 30s, 2m, 1h)" ]
	run --separate-stderr "$B/vss-storage" add --for /dev/mapper/x --on /dev/null --chunk-size 18014398509481988k
	[ "$status" -eq 1 ]
	[ "$stderr" = "vss-storage: --chunk-size: 18014398509481988k: too large" ]
	run --separate-stderr "$B/vss-storage" add --for /dev/mapper/x --on /dev/null --provider dm-snapshot --max-size -1
	[ "$status" -eq 1 ]
	[ "$stderr" = "vss-storage: --max-size: -1: not a size (4096, 64k, 1m, 2g)" ]
	run --separate-stderr "$B/vss-storage" add --for /dev/mapper/x --on /dev/null --chunk-size 12k
	[ "$status" -eq 1 ]
	[ "$stderr" = "vss-storage: --chunk-size: 12k: must be a power of two, 4k..1M" ]
}
