#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# Every command run by a user other than root (uid and gid 65534, no
# groups, through setpriv) on a catalog kept the way root's commands keep it: the
# library keeps its state and run directories 0700 and the catalog and the
# lock 0600, so each command is denied the first thing it needs, prints
# "<what was denied>: <what failed>: Permission denied", exits 2 and changes
# nothing; the permission error comes before anything the kernel would say
# (this host has no device-mapper).
#
# What a non-root user may do, decided here:
#   - vss-storage add, vss-snapshot, vss-delete, vss-expose, vss-unexpose,
#     vss-revert and vss-activate change the volumes and the catalog: they
#     take the lock first, and are denied it (or denied the catalog when
#     they read it before taking the lock).
#   - vss-list, vss-storage list, vss-writers and vss-providers only read,
#     but what they read is the catalog (volumes, stores, mount points), kept
#     root-only: they are denied it too.  Before anything was set up (no
#     catalog yet) they print empty lists and exit 0.
#   - vss-check reads a store device: denied when the device is root's
#     (as /dev/loop* and /dev/mapper/* are), works on an image the user may
#     read.
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
# directory and the lock made by the library itself (vss-unexpose of a copy
# that is not exposed takes the lock, then exits 4).  One volume
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
	run "$B/vss-unexpose" 1
	[ "$status" = 4 ]
	[[ "$output" == *"shadow copy 1: not exposed"* ]]
	[ -e "$VSS_RUN_DIR/vss.lock" ]
	# root reads it: the denials below are the other user's alone
	run "$B/vss-list" -o shadow_id --noheadings
	[ "$status" = 0 ]
	[ "$(echo $output)" = 1 ]
	SUM=$(sha256sum < "$VSS_STATE_DIR/catalog.json")
}

# denied OBJECT WHAT CMD ARG...: CMD run as the other user exits 2, and its
# first line is "CMD: OBJECT: WHAT: Permission denied"; nothing about the kernel,
# nothing on stdout (no listing, no summary of work not done); the catalog
# is unchanged.
denied() {
	local object=$1 what=$2
	shift 2
	run --separate-stderr as_nobody "$B/$1" "${@:2}"
	echo "$*: exit $status"
	echo "stdout: $output"
	echo "stderr: $stderr"
	[ "$status" = 2 ]
	[ -z "$output" ]
	[ "${stderr%%$'\n'*}" = "${1##*/}: $object: $what: Permission denied" ]
	[[ "$stderr" != *device-mapper* && "$stderr" != *"kernel target"* ]]
	if [ -e "$VSS_STATE_DIR/catalog.json" ]; then
		[ "$(sha256sum < "$VSS_STATE_DIR/catalog.json")" = "$SUM" ]
	fi
}

lock_denied() { denied "$VSS_RUN_DIR/vss.lock" "cannot open the lock" "$@"; }
catalog_denied() { denied "$VSS_STATE_DIR/catalog.json" "cannot read the catalog" "$@"; }

@test "the state and run directories are 0700, the catalog and the lock 0600, root's" {
	catalog
	[ "$(stat -c '%a %U' "$VSS_RUN_DIR")" = "700 root" ]
	[ "$(stat -c '%a %U' "$VSS_RUN_DIR/vss.lock")" = "600 root" ]
	[ "$(stat -c '%a %U' "$VSS_STATE_DIR")" = "700 root" ]
	[ "$(stat -c '%a %U' "$VSS_STATE_DIR/catalog.json")" = "600 root" ]
	# the other user reaches $D itself: what is denied below is the library's
	as_nobody ls "$D" >/dev/null
	as_nobody test -x "$B/vss-list"
}

@test "vss-storage: add is denied the lock, list the catalog: exit 2" {
	catalog
	lock_denied vss-storage add --for /dev/mapper/data --on /dev/loop2
	catalog_denied vss-storage list
	catalog_denied vss-storage list --json
}

@test "vss-snapshot: denied the lock, exit 2, before it looks at the volume" {
	catalog
	lock_denied vss-snapshot /dev/mapper/data
	lock_denied vss-snapshot --json --no-writers /dev/mapper/nosuch
}

@test "vss-list: denied the catalog, exit 2, nothing on stdout (--json and --sets too)" {
	catalog
	catalog_denied vss-list
	# one line: the library names the catalog and why, nothing more
	[ "$(echo "$stderr" | wc -l)" = 1 ]
	catalog_denied vss-list --json
	catalog_denied vss-list --sets
	catalog_denied vss-list 1
}

@test "vss-delete: denied, exit 2, the copy kept" {
	catalog
	catalog_denied vss-delete --yes 1
	catalog_denied vss-delete --yes --all /dev/mapper/data
}

@test "vss-expose and vss-unexpose: denied, exit 2" {
	catalog
	lock_denied vss-expose 1 "$D/mnt/e"
	[ ! -e "$D/mnt/e" ]
	# without a mount point it only reads: denied the catalog
	catalog_denied vss-expose 1
	lock_denied vss-unexpose 1
}

@test "vss-revert: denied the lock, exit 2" {
	catalog
	lock_denied vss-revert 1
	lock_denied vss-revert --dry-run 1
}

@test "vss-activate: denied the lock, exit 2; --dry-run (no lock) the catalog, no summary" {
	catalog
	lock_denied vss-activate
	catalog_denied vss-activate --dry-run
}

@test "vss-writers and vss-providers: denied the catalog, exit 2" {
	catalog
	catalog_denied vss-writers
	catalog_denied vss-providers
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

@test "a state directory others may enter (made by hand, 0755): still denied, exit 2, not a damaged catalog" {
	catalog
	chmod 755 "$VSS_STATE_DIR" "$VSS_RUN_DIR"
	catalog_denied vss-list
	catalog_denied vss-storage list
	catalog_denied vss-expose 1
	catalog_denied vss-writers
	catalog_denied vss-providers
	lock_denied vss-snapshot /dev/mapper/data
}

@test "nothing set up yet: the listings are empty, exit 0; the rest cannot make the run directory, exit 2" {
	run --separate-stderr as_nobody "$B/vss-list"
	[ "$status" = 0 ]
	[ -z "$output$stderr" ]
	run --separate-stderr as_nobody "$B/vss-list" --json
	[ "$status" = 0 ]
	[ "$(echo "$output" | jq -c .)" = '{"shadows":[]}' ]
	run --separate-stderr as_nobody "$B/vss-storage" list --json
	[ "$status" = 0 ]
	[ "$(echo "$output" | jq -c .)" = '[]' ]
	run --separate-stderr as_nobody "$B/vss-writers" --json
	echo "$output $stderr"
	[ "$status" = 0 ]
	run --separate-stderr as_nobody "$B/vss-providers" --json
	echo "$output $stderr"
	[ "$status" = 0 ]
	[ "$(echo "$output" | jq -r '[.[].name] | sort | join(",")')" = dm-snapshot,dm-vss-clone,dm-vss-cow ]
	for cmd in "vss-snapshot /dev/mapper/data" "vss-storage add --for /dev/mapper/data --on /dev/loop2" \
		   "vss-delete --yes 1" "vss-unexpose 1" "vss-revert 1" "vss-activate"; do
		# shellcheck disable=SC2086
		denied "$VSS_RUN_DIR" "cannot create the run directory" $cmd
	done
	[ ! -e "$VSS_RUN_DIR" ]
	[ ! -e "$VSS_STATE_DIR" ]
}
