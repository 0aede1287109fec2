#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# Every command through one table of cases, on this host: a corrupt
# catalog, a kernel without device-mapper (this host has none: the
# missing-module case), a user other than root, a bad value, an unknown
# option, -h and --version.  Each case has one exit status and one message
# shape, "vss-X: OBJECT: what failed: reason" on one line, the same in
# every command.
#
# VSS_BINDIR selects the commands under test (default: build/bin).

bats_require_minimum_version 1.5.0

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	BIN=${VSS_BINDIR:-$TOP/build/bin}
	export TOP BIN
	[ -x "$BIN/vss-list" ] || { echo "no $BIN/vss-list: run make first" >&2; return 1; }
}

setup() {
	D=$(mktemp -d /tmp/vss-table.XXXXXX)
	chmod 755 "$D"
	export VSS_STATE_DIR=$D/state VSS_RUN_DIR=$D/run VSS_CONF_DIR=$D/conf
	mkdir -p "$VSS_STATE_DIR" "$VSS_CONF_DIR"
	failures=()
}

teardown() {
	[ -n "${D:-}" ] && rm -rf "$D"
}

# The table: the command, the arguments of a call that looks something up
# (- for none), whether that call needs the kernel, and a bad value with
# the option it must name.
table() {
	cat <<-'EOF'
	vss-activate	-	kernel	-
	vss-check	/dev/null	-	-
	vss-delete	--yes 1	kernel	--wait|--wait 1x 1
	vss-diff	1 2	-	-
	vss-expose	1	kernel	-
	vss-list	-	-	-o|-o no_such_field
	vss-providers	-	-	-o|-o no_such_field
	vss-receive	-	-	-
	vss-restore	--yes -c w/c 1	kernel	--timeout|-c w/c --timeout 1x 1
	vss-revert	--yes 1	kernel	--wait|--wait 99999h 1
	vss-send	1	kernel	-
	vss-snapshot	/dev/mapper/data	kernel	--retry|--retry '' /dev/mapper/data
	vss-storage	remove --yes --force data	kernel	--chunk-size|add --for data --on /dev/null --chunk-size 3k
	vss-unexpose	1	kernel	-
	vss-verify	--set 1	kernel	--wait|--wait 1x --set 1
	vss-writers	-	-	-o|-o no_such_field
	EOF
}

# args STRING: the arguments as words ('' is an empty one)
args() { eval "set -- $1"; [ $# -eq 0 ] || printf '%s\n' "$@"; }

fail_for() { failures+=("$1: $2"); }
report() {
	[ ${#failures[@]} -eq 0 ] && return 0
	printf '%s\n' "${failures[@]}"
	return 1
}

# check CMD STATUS REGEX ARG...: CMD ARG... exits STATUS and its standard
# error is one line matching REGEX; standard output is empty.
check() {
	local c=$1 want=$2 re=$3
	shift 3
	run --separate-stderr "$BIN/$c" "$@" < /dev/null
	[ "$status" = "$want" ] || fail_for "$c $*" "exit $status, not $want ($stderr)"
	[ -z "$output" ] || fail_for "$c $*" "standard output: $output"
	[ "$(printf '%s\n' "$stderr" | wc -l)" = 1 ] || fail_for "$c $*" "not one line: $stderr"
	[[ "$stderr" =~ $re ]] || fail_for "$c $*" "'$stderr' does not match '$re'"
}

catalog() {
	cat > "$VSS_STATE_DIR/catalog.json" <<-'EOF'
	{ "version": 1, "next_set_id": 2, "next_shadow_id": 3, "writers": [],
	  "storage": [
	    { "volume": "/dev/mapper/data", "name": "data", "real": "data-real",
	      "store": "/dev/loop1", "provider": "dm-vss-cow", "chunk_sectors": 8 } ],
	  "sets": [
	    { "set_id": 1, "state": "created", "pid": 1, "created": "2024-01-01T00:00:00Z",
	      "tag": "", "context": "persistent", "shadows": [
	        { "shadow_id": 1, "volume": "/dev/mapper/data", "name": "data",
	          "device": "/dev/mapper/vss-1", "provider": "dm-vss-cow", "store": "/dev/loop1",
	          "real": "data-real", "state": "created", "snap_id": 1, "snap_dev": "vss-1" },
	        { "shadow_id": 2, "volume": "/dev/mapper/data", "name": "data",
	          "device": "/dev/mapper/vss-2", "provider": "dm-vss-cow", "store": "/dev/loop1",
	          "real": "data-real", "state": "created", "snap_id": 2, "snap_dev": "vss-2" } ] } ] }
	EOF
}

@test "a corrupt catalog: exit 7, the catalog named once, in every command that reads it" {
	local c a k b
	echo '{ "version": 1, "sets": [' > "$VSS_STATE_DIR/catalog.json"
	while IFS=$'\t' read -r c a k b; do
		case $c in vss-check|vss-receive) continue ;; esac
		[ "$a" = - ] && a=
		mapfile -t argv < <(args "$a")
		check "$c" 7 "^$c: $VSS_STATE_DIR/catalog.json: cannot parse the catalog: " "${argv[@]}"
	done < <(table)
	report
}

@test "no device-mapper: exit 8, the same message in every command that needs the kernel, nothing changed" {
	[ ! -e /sys/class/misc/device-mapper ] || skip "this kernel has device-mapper"
	local c a k b sum
	catalog
	sum=$(sha256sum < "$VSS_STATE_DIR/catalog.json")
	while IFS=$'\t' read -r c a k b; do
		[ "$k" = kernel ] || continue
		[ "$a" = - ] && a=
		mapfile -t argv < <(args "$a")
		check "$c" 8 "^$c: the kernel has no device-mapper \(modprobe dm-mod, then modprobe dm-vss\)\$" "${argv[@]}"
	done < <(table)
	[ "$(sha256sum < "$VSS_STATE_DIR/catalog.json")" = "$sum" ] || fail_for catalog "changed"
	report
}

@test "device-mapper without dm-vss: exit 8, 'the kernel target vss-origin is not loaded'" {
	local c a k b
	catalog
	mkdir -p "$D/sys/class/misc/device-mapper"
	export VSS_SYSFS=$D/sys
	while IFS=$'\t' read -r c a k b; do
		[ "$k" = kernel ] || continue
		[ "$a" = - ] && a=
		mapfile -t argv < <(args "$a")
		check "$c" 8 "^$c: the kernel target vss-origin is not loaded \(modprobe dm-vss\)\$" "${argv[@]}"
	done < <(table)
	report
}

@test "another user: exit 2, 'must be run as root', before any lookup" {
	[ "$(id -u)" = 0 ] || skip "needs root to drop to another user with setpriv"
	command -v setpriv >/dev/null || skip "no setpriv"
	local c a k b
	catalog
	chmod 700 "$VSS_STATE_DIR"
	while IFS=$'\t' read -r c a k b; do
		case $c in vss-check|vss-receive) continue ;; esac
		[ "$a" = - ] && a=
		mapfile -t argv < <(args "$a")
		run --separate-stderr setpriv --reuid=65534 --regid=65534 --clear-groups \
			"$BIN/$c" "${argv[@]}" < /dev/null
		[ "$status" = 2 ] || fail_for "$c" "exit $status, not 2 ($stderr)"
		[ "$stderr" = "$c: must be run as root" ] || fail_for "$c" "'$stderr'"
		[ -z "$output" ] || fail_for "$c" "standard output: $output"
	done < <(table)
	report
}

@test "a bad value: exit 1, the option and the value named, before any lookup" {
	local c a k b opt bad
	echo '{ "version": 1, "sets": [' > "$VSS_STATE_DIR/catalog.json"
	while IFS=$'\t' read -r c a k b; do
		[ "$b" = - ] && continue
		opt=${b%%|*}
		mapfile -t argv < <(args "${b#*|}")
		check "$c" 1 "^$c: ([^ ]+: )?$opt: " "${argv[@]}"
	done < <(table)
	report
}

@test "an unknown option: exit 1, 'vss-X: --no-such-option: unknown option (see --help)'" {
	local c a k b
	while IFS=$'\t' read -r c a k b; do
		check "$c" 1 "^$c: --no-such-option: unknown option \(see --help\)\$" --no-such-option
	done < <(table)
	report
}

@test "-h and --version: exit 0, on standard output, in every command" {
	local c a k b
	while IFS=$'\t' read -r c a k b; do
		run --separate-stderr "$BIN/$c" -h
		[ "$status" = 0 ] && [ -z "$stderr" ] && [[ "$output" == "Usage: $c "* ]] ||
			fail_for "$c -h" "exit $status: ${output%%$'\n'*} $stderr"
		run --separate-stderr "$BIN/$c" --version
		[ "$status" = 0 ] && [ -z "$stderr" ] && [[ "$output" == "$c (dm-vss) "* ]] ||
			fail_for "$c --version" "exit $status: $output $stderr"
	done < <(table)
	# the table covers every command built
	for c in "$BIN"/vss-*; do
		table | cut -f1 | grep -qx "${c##*/}" || fail_for "${c##*/}" "not in the table"
	done
	report
}

@test "--debug: every line on standard error is 'vss-X: ...', libdevmapper's too, and none is a bare <backtrace>" {
	[ ! -e /sys/class/misc/device-mapper ] || skip "this kernel has device-mapper"
	local c a k b line n
	catalog
	while IFS=$'\t' read -r c a k b; do
		[ "$a" = - ] && a=
		mapfile -t argv < <(args "$a")
		run --separate-stderr "$BIN/$c" --debug "${argv[@]}" < /dev/null
		n=0
		while IFS= read -r line; do
			[ -n "$line" ] || continue
			n=$((n + 1))
			[[ $line == "$c: "* ]] || fail_for "$c --debug" "'$line'"
			[[ $line != *"<backtrace>"* ]] || fail_for "$c --debug" "'$line'"
		done <<< "$stderr"
	done < <(table)
	# libdevmapper had something to say on this kernel, and said it so
	run --separate-stderr "$BIN/vss-providers" --debug
	[[ $stderr == *"vss-providers: libdevmapper: "* ]] || fail_for vss-providers "no libdevmapper line: $stderr"
	report
}
