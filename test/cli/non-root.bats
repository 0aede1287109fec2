#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# Every command run by a user other than root (uid and gid 65534, no
# groups, through setpriv), as lvm's commands: "vss-X: must be run as
# root", exit 2, before anything is looked up (catalog, lock, kernel), so
# nothing is changed and nothing made.  --help, --version and bad usage
# are answered to anyone.  Two tools work on what the user may read or
# write, as thin_check does: vss-check on a store image, vss-receive into
# a file; they are denied what the kernel denies them.
# test/target/lifecycle-full.bats checks in the VM that a shadow copy's
# device cannot be read by that user.
#
# Runs on the host as root (setpriv needs it to drop to another user).
# VSS_BINDIR selects the commands under test (default: build/bin).

bats_require_minimum_version 1.5.0

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export B=${VSS_BINDIR:-$TOP/build/bin}
	[ -x "$B/vss-list" ] || { echo "no $B/vss-list: run make first" >&2; return 1; }
}

setup() {
	[ "$(id -u)" = 0 ] || skip "needs root to drop to another user with setpriv"
	command -v setpriv >/dev/null || { echo "setpriv (util-linux) is missing" >&2; return 1; }
	# a directory of our own that the other user can traverse (the bats
	# temporary directories are private to root)
	D=$(mktemp -d /tmp/vss-non-root.XXXXXX)
	chmod 755 "$D"
	export VSS_STATE_DIR=$D/state VSS_RUN_DIR=$D/run VSS_CONF_DIR=$D/conf
	mkdir -p "$D/mnt"
}

teardown() {
	[ -n "${D:-}" ] && rm -rf "$D"
}

as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

# A catalog as root's commands leave it: the state directory 0700 and the
# catalog 0600 (as libvsscore/catalog.c writes them; test/target/
# lifecycle-full.bats checks the mode of one the library wrote), and the run
# directory 0700 and the lock 0600 as the library makes them.  One volume
# /dev/mapper/data with a dm-vss-cow store, shadow copy 1 of it.
catalog() {
	mkdir -m 700 "$VSS_STATE_DIR"
	(umask 077; cat > "$VSS_STATE_DIR/catalog.json") <<-'EOF'
	{ "version": 1, "next_set_id": 2, "next_shadow_id": 2, "writers": [],
	  "storage": [
	    { "volume": "/dev/mapper/data", "name": "data", "real": "data-real",
	      "store": "/dev/loop1", "provider": "dm-vss-cow", "chunk_sectors": 8 } ],
	  "sets": [
	    { "set_id": 1, "state": "created", "pid": 1, "created": "2024-01-01T00:00:00Z",
	      "tag": "", "context": "persistent", "shadows": [
	        { "shadow_id": 1, "volume": "/dev/mapper/data", "name": "data",
	          "device": "/dev/mapper/vss-1", "provider": "dm-vss-cow", "store": "/dev/loop1",
	          "real": "data-real", "state": "created", "snap_id": 1, "snap_dev": "vss-1",
	          "mountpoint": "/srv/data" } ] } ] }
	EOF
	# the run directory and the lock as the library makes them (this host
	# has no device-mapper: no command that takes the lock goes that far)
	mkdir -m 700 "$VSS_RUN_DIR"
	(umask 077; : > "$VSS_RUN_DIR/vss.lock")
	# root reads it: the denials below are the other user's alone
	run "$B/vss-list" -o shadow_id --noheadings
	[ "$status" = 0 ]
	[ "$(echo $output)" = 1 ]
	SUM=$(sha256sum < "$VSS_STATE_DIR/catalog.json")
}

# refused CMD ARG...: CMD run as the other user exits 2 with the one line
# "CMD: must be run as root", before it looks anything up: nothing about
# the kernel, nothing on stdout; the catalog is unchanged.
refused() {
	run --separate-stderr as_nobody "$B/$1" "${@:2}"
	echo "$*: exit $status"
	echo "stdout: $output"
	echo "stderr: $stderr"
	[ "$status" = 2 ]
	[ -z "$output" ]
	[ "$stderr" = "${1##*/}: must be run as root" ]
	if [ -e "$VSS_STATE_DIR/catalog.json" ]; then
		[ "$(sha256sum < "$VSS_STATE_DIR/catalog.json")" = "$SUM" ]
	fi
}

# denied OBJECT WHAT CMD ARG...: CMD run as the other user exits 2, and its
# first line is "CMD: OBJECT: WHAT: Permission denied".
denied() {
	local object=$1 what=$2
	shift 2
	run --separate-stderr as_nobody "$B/$1" "${@:2}"
	echo "$*: exit $status"
	echo "stderr: $stderr"
	[ "$status" = 2 ]
	[ -z "$output" ]
	[ "${stderr%%$'\n'*}" = "${1##*/}: $object: $what: Permission denied" ]
}

@test "the state and run directories are 0700, the catalog and the lock 0600, root's" {
	catalog
	[ "$(stat -c '%a %U' "$VSS_RUN_DIR")" = "700 root" ]
	[ "$(stat -c '%a %U' "$VSS_RUN_DIR/vss.lock")" = "600 root" ]
	[ "$(stat -c '%a %U' "$VSS_STATE_DIR")" = "700 root" ]
	[ "$(stat -c '%a %U' "$VSS_STATE_DIR/catalog.json")" = "600 root" ]
	as_nobody ls "$D" >/dev/null
	as_nobody test -x "$B/vss-list"
}

@test "every command but vss-check and vss-receive: must be run as root, exit 2, before any lookup" {
	catalog
	refused vss-storage add --for /dev/mapper/data --on /dev/loop2
	refused vss-storage list
	refused vss-storage list --json
	refused vss-storage remove data
	refused vss-snapshot /dev/mapper/data
	refused vss-snapshot --json --no-writers /dev/mapper/nosuch
	refused vss-list
	refused vss-list --json
	refused vss-list --sets
	refused vss-list 1
	refused vss-delete --yes 1
	refused vss-delete --yes --all /dev/mapper/data
	refused vss-expose 1 "$D/mnt/e"
	[ ! -e "$D/mnt/e" ]
	refused vss-expose 1
	refused vss-unexpose 1
	refused vss-revert 1
	refused vss-revert --dry-run 1
	refused vss-activate
	refused vss-activate --dry-run
	refused vss-writers
	refused vss-providers
	refused vss-diff 1 1
	refused vss-send 1
}

@test "the same with a state directory others may enter (made by hand, 0755)" {
	catalog
	chmod 755 "$VSS_STATE_DIR" "$VSS_RUN_DIR"
	refused vss-list
	refused vss-storage list
	refused vss-expose 1
	refused vss-writers
	refused vss-providers
	refused vss-snapshot /dev/mapper/data
}

@test "nothing set up yet: the same, and nothing is made" {
	for cmd in "vss-list" "vss-list --json" "vss-storage list --json" "vss-writers --json" \
		   "vss-providers --json" "vss-snapshot /dev/mapper/data" \
		   "vss-storage add --for /dev/mapper/data --on /dev/loop2" \
		   "vss-delete --yes 1" "vss-unexpose 1" "vss-revert 1" "vss-activate"; do
		# shellcheck disable=SC2086
		refused $cmd
	done
	[ ! -e "$VSS_RUN_DIR" ]
	[ ! -e "$VSS_STATE_DIR" ]
}

@test "--help, --version and bad usage need no root" {
	run as_nobody "$B/vss-list" --help
	[ "$status" = 0 ]
	run as_nobody "$B/vss-delete" --version
	[ "$status" = 0 ]
	run as_nobody "$B/vss-delete" --no-such-option
	[ "$status" = 1 ]
}

@test "vss-check: a root-only store is denied, exit 2; an image the user may read is checked" {
	truncate -s 8M "$D/store.img"
	chmod 600 "$D/store.img"
	denied "$D/store.img" "cannot open" vss-check "$D/store.img"
	chmod 644 "$D/store.img"
	run as_nobody "$B/vss-check" "$D/store.img"
	echo "$output"
	[ "$status" = 4 ]
	[[ "$output" == *"$D/store.img: not formatted"* ]]
}

