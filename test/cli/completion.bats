#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# scripts/bash-completion/vss, sourced in bash and driven as bash drives a
# completion function (COMP_WORDS, COMP_CWORD): options read from the
# commands' --help, subcommands, option values, shadow ids from vss-list,
# volumes and mount points.  Runs on the host, no root.
#
# VSS_BINDIR selects the commands under test (default: build/bin).

bats_require_minimum_version 1.5.0

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	BIN=${VSS_BINDIR:-$TOP/build/bin}
	export TOP BIN
	for c in vss-snapshot vss-storage vss-check vss-writers; do
		[ -x "$BIN/$c" ] || { echo "no $BIN/$c: run make first" >&2; return 1; }
	done
}

setup() {
	export VSS_STATE_DIR=$BATS_TEST_TMPDIR/state VSS_RUN_DIR=$BATS_TEST_TMPDIR/run
	export VSS_CONF_DIR=$BATS_TEST_TMPDIR/conf
	mkdir -p "$VSS_CONF_DIR"
	# shellcheck source=../../scripts/bash-completion/vss
	source "$TOP/scripts/bash-completion/vss"
}

# The candidates for the last word, one a line, as bash would offer them.
comp() {
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMPREPLY=()
	_vss_complete
	printf '%s\n' "${COMPREPLY[@]}"
}

# Whether every one of the words after -- is among the candidates in $output.
has() {
	local w
	for w; do
		grep -qxF -- "$w" <<<"$output" || { echo "'$w' not offered; offered: $output"; return 1; }
	done
}

@test "the file installs a completion for every command" {
	local c
	for c in vss-storage vss-snapshot vss-list vss-delete vss-writers vss-providers \
		vss-expose vss-unexpose vss-revert vss-activate vss-check vss-receive vss-verify; do
		run complete -p "$c"
		[ "$status" -eq 0 ]
		[[ $output == *"-F _vss_complete $c" ]] || { echo "$output"; return 1; }
	done
}

@test "vss-snapshot: its options come from its --help" {
	run comp "$BIN/vss-snapshot" --
	has --provider --writer --exclude-writer --no-writers --timeout-freeze \
		--timeout-commit --retry --tag --keep --json --exec --wait --context \
		--verbose --quiet --version --help
	# every long option of --help, and nothing else
	diff <(printf '%s\n' "$output" | sort) \
		<("$BIN/vss-snapshot" --help | grep -o -- '--[a-z][a-z-]*' | sort -u)
	run comp "$BIN/vss-snapshot" --time
	[ "$output" = $'--timeout-freeze\n--timeout-commit' ]
}

@test "vss-storage: subcommands first, then options, then option values" {
	run comp "$BIN/vss-storage" ""
	[ "$output" = $'add\nlist\nresize\nremove' ]
	run comp "$BIN/vss-storage" add --
	has --for --on --chunk-size --max-size --provider --wrap --name --force
	run comp "$BIN/vss-storage" add --provider ""
	[ "$output" = $'dm-vss-cow\ndm-snapshot' ]
	# -p is --provider, found from "-p, --provider=NAME" in --help
	run comp "$BIN/vss-storage" add -p dm-s
	[ "$output" = dm-snapshot ]
	run comp "$BIN/vss-storage" add --chunk-size 6
	[ "$output" = 64k ]
	# a value is not taken for a subcommand
	run comp "$BIN/vss-storage" --for vg0-data ""
	[ "$output" = $'add\nlist\nresize\nremove' ]
}

@test "option values in the forms bash splits them into" {
	run comp "$BIN/vss-snapshot" --context ""
	[ "$output" = $'persistent\nbackup' ]
	# "--context=" with = in COMP_WORDBREAKS: the cursor on "=", then after it
	run comp "$BIN/vss-snapshot" --context =
	[ "$output" = $'persistent\nbackup' ]
	run comp "$BIN/vss-snapshot" --context = b
	[ "$output" = backup ]
	# one word where = does not break words
	run comp "$BIN/vss-snapshot" --context=p
	[ "$output" = --context=persistent ]
}

@test "vss-snapshot --writer offers the writers installed" {
	mkdir -p "$VSS_CONF_DIR/writers.d"
	printf '#!/bin/sh\n' > "$VSS_CONF_DIR/writers.d/sqlite"
	printf '#!/bin/sh\n' > "$VSS_CONF_DIR/writers.d/postgres"
	chmod 755 "$VSS_CONF_DIR"/writers.d/*
	run comp "$BIN/vss-snapshot" --exclude-writer ""
	[ "$output" = $'postgres\nsqlite' ]
	run comp "$BIN/vss-snapshot" -w s
	[ "$output" = sqlite ]
}

@test "volumes from /dev/mapper and mount points, without shadow copies" {
	local m=$BATS_TEST_TMPDIR/mapper
	mkdir -p "$m"
	touch "$m/control" "$m/vg0-data" "$m/vg0-data-real" "$m/sdb1-vss" "$m/vss-12" "$m/vss-12-cow"
	cat > "$BATS_TEST_TMPDIR/mounts" <<-'EOF'
	/dev/sda1 /boot ext4 rw 0 0
	/dev/mapper/vg0-data /srv ext4 rw 0 0
	/dev/mapper/sdb1-vss /srv/with\040space xfs rw 0 0
	/dev/mapper/vss-12 /run/vss/expose/12 ext4 ro 0 0
	proc /proc proc rw 0 0
	EOF
	_vss_mapper_dir=$m _vss_mounts_file=$BATS_TEST_TMPDIR/mounts
	run comp "$BIN/vss-snapshot" ""
	[ "$output" = $'sdb1-vss\nvg0-data\n/srv\n/srv/with space' ]
	run comp "$BIN/vss-snapshot" /dev/m
	[ "$output" = $'/dev/mapper/sdb1-vss\n/dev/mapper/vg0-data' ]
	run comp "$BIN/vss-snapshot" --tag daily /s
	[ "$output" = $'/srv\n/srv/with space' ]
	# vss-storage --for takes volumes, not mount points
	run comp "$BIN/vss-storage" add --for ""
	[ "$output" = $'sdb1-vss\nvg0-data' ]
}

# A fake vss-list next to a fake vss-delete: ids only for the exact
# arguments the completion is documented to use.
fake_list() {
	local d=$BATS_TEST_TMPDIR/bin
	mkdir -p "$d"
	cat > "$d/vss-list" <<-EOF
	#!/bin/sh
	case "\$*" in
	"--noheadings -o shadow_id") printf '  3\n 17\n 42\n' ;;
	"--sets --noheadings -o set_id") printf '  1\n  9\n' ;;
	*) echo "vss-list: unexpected arguments: \$*" >&2; exit 1 ;;
	esac
	${1:+exit $1}
	EOF
	for c in vss-delete vss-expose vss-revert; do
		cat > "$d/$c" <<-EOF
		#!/bin/sh
		echo "Usage: $c [OPTION...] ID..."
		echo "      --set=ID     Delete a whole set"
		echo "      --oldest=VOL Delete the oldest"
		echo "  -h, --help       Show this help message"
		EOF
	done
	chmod 755 "$d"/*
}

@test "shadow ids from vss-list for vss-delete, vss-expose, vss-revert" {
	fake_list
	local d=$BATS_TEST_TMPDIR/bin
	run comp "$d/vss-delete" ""
	[ "$output" = $'3\n17\n42' ]
	run comp "$d/vss-delete" 3 1
	[ "$output" = 17 ]
	run comp "$d/vss-revert" 4
	[ "$output" = 42 ]
	run comp "$d/vss-delete" --set ""
	[ "$output" = $'1\n9' ]
	run comp "$d/vss-delete" --
	has --set --oldest --help
	# vss-expose ID MOUNTPOINT: an id, then a directory
	mkdir "$BATS_TEST_TMPDIR/mnt-a"
	run comp "$d/vss-expose" ""
	[ "$output" = $'3\n17\n42' ]
	run comp "$d/vss-expose" 17 "$BATS_TEST_TMPDIR/mnt-"
	[ "$output" = "$BATS_TEST_TMPDIR/mnt-a" ]
	# found in PATH when the command is typed without a path
	PATH=$d:$PATH run comp vss-delete 4
	[ "$output" = 42 ]
}

@test "a failing or missing vss-list gives no ids and prints nothing" {
	fake_list 1
	local d=$BATS_TEST_TMPDIR/bin
	run --separate-stderr comp "$d/vss-delete" ""
	[ -z "$output" ]
	[ -z "$stderr" ]
	rm "$d/vss-list"
	PATH=/usr/bin:/bin run --separate-stderr comp "$d/vss-delete" ""
	[ -z "$output" ]
	[ -z "$stderr" ]
}

@test "vss-check completes files (devices and store images)" {
	touch "$BATS_TEST_TMPDIR/store.img"
	run comp "$BIN/vss-check" "$BATS_TEST_TMPDIR/sto"
	[ "$output" = "$BATS_TEST_TMPDIR/store.img" ]
	run comp "$BIN/vss-check" --origin "$BATS_TEST_TMPDIR/sto"
	[ "$output" = "$BATS_TEST_TMPDIR/store.img" ]
	run comp "$BIN/vss-check" --du
	[ "$output" = --dump ]
	run comp "$BIN/vss-check" --de
	[ "$output" = --debug ]
}

@test "vss-receive completes its options and files (devices and images)" {
	touch "$BATS_TEST_TMPDIR/replica.img"
	run comp "$BIN/vss-receive" "$BATS_TEST_TMPDIR/rep"
	[ "$output" = "$BATS_TEST_TMPDIR/replica.img" ]
	run comp "$BIN/vss-receive" --fo
	[ "$output" = --force ]
	run comp "$BIN/vss-receive" --st
	[ "$output" = --status ]
}

@test "commands without positional arguments offer only options" {
	run comp "$BIN/vss-writers" ""
	[ -z "$output" ]
	run comp "$BIN/vss-writers" --
	has --identify --json --verbose
}

@test "the report options of vss-providers, vss-writers, vss-storage list, and their fields" {
	run comp "$BIN/vss-providers" --
	has --options --sort --noheadings --separator --aligned --json
	run comp "$BIN/vss-providers" -o av
	[ "$output" = available ]
	run comp "$BIN/vss-writers" --sort last_
	[ "$output" = $'last_error\nlast_set_id' ]
	run comp "$BIN/vss-writers" -o name,st
	[ "$output" = name,state ]
	run comp "$BIN/vss-storage" list --
	has --options --sort --noheadings --separator --aligned --json
	run comp "$BIN/vss-storage" list -o +clone
	[ "$output" = +clone_state ]
}
