#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# The checks every command must pass, run over every build/bin/vss-* that
# exists: --help, --version, an unknown option, a missing argument, and a
# man page that renders without warnings, has the common sections and
# documents each option of --help and the exit statuses.  Runs on the
# host, no root, nothing touched outside the test's directories.
#
# VSS_BINDIR selects the commands under test (default: build/bin).

bats_require_minimum_version 1.5.0

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	BIN=${VSS_BINDIR:-$TOP/build/bin}
	# the man pages as installed: man/ with its includes expanded by make
	MANB=${VSS_MANDIR:-$TOP/build/man}
	export TOP BIN MANB
	compgen -G "$BIN/vss-*" >/dev/null || { echo "no $BIN/vss-*: run make first" >&2; return 1; }
	VERSION=$(sed -n 's/^VERSION = //p' "$TOP/config.mk")
	export VERSION
}

setup() {
	# Commands run with private state, lock and configuration directories.
	export VSS_STATE_DIR=$BATS_TEST_TMPDIR/state VSS_RUN_DIR=$BATS_TEST_TMPDIR/run
	export VSS_CONF_DIR=$BATS_TEST_TMPDIR/conf
	mkdir -p "$VSS_CONF_DIR"
	failures=()
}

commands() {
	local c
	for c in "$BIN"/vss-*; do
		[ -x "$c" ] && [ -f "$c" ] && printf '%s\n' "${c##*/}"
	done
}

# Collect failures so that one run names every command that fails a check.
fail_for() { failures+=("$1: $2"); }
report() {
	[ ${#failures[@]} -eq 0 ] && return 0
	printf '%s\n' "${failures[@]}"
	return 1
}

# The source text of a section of man page $1, without its .SH line.
man_section() {
	awk -v want="$2" '
		/^\.SH/ { s = $0; sub(/^\.SH +/, "", s); gsub(/"/, "", s); on = (s == want); next }
		on' "$1"
}

# The long options of a command's --help (popt's --usage left out).
help_options() {
	"$BIN/$1" --help | sed -n 's/^ \{1,\}\(-[^ ,-], \)\{0,1\}\(--[a-z0-9-]*\).*/\2/p' |
		grep -vx -- --usage
}

@test "--help and -h exit 0 and print the usage on standard output; --usage too" {
	local c help
	for c in $(commands); do
		run --separate-stderr "$BIN/$c" --help
		[ "$status" -eq 0 ] || fail_for "$c" "--help exits $status"
		[[ ${lines[0]:-} == "Usage: $c "* ]] || fail_for "$c" "--help: first line '${lines[0]:-}'"
		[[ $output == *--help* ]] || fail_for "$c" "--help does not list --help"
		[ -z "$stderr" ] || fail_for "$c" "--help writes to stderr: $stderr"
		help=$output
		run --separate-stderr "$BIN/$c" -h
		[ "$status" -eq 0 ] && [ "$output" = "$help" ] || fail_for "$c" "-h is not --help ($status)"
		run --separate-stderr "$BIN/$c" --usage
		[ "$status" -eq 0 ] && [[ ${lines[0]:-} == "Usage: $c "* ]] ||
			fail_for "$c" "--usage: $status, '${lines[0]:-}'"
	done
	report
}

@test "--version prints 'vss-xxx (dm-vss) VERSION' and exits 0" {
	local c
	[ -n "$VERSION" ]
	for c in $(commands); do
		run --separate-stderr "$BIN/$c" --version
		[ "$status" -eq 0 ] || fail_for "$c" "--version exits $status"
		[ "$output" = "$c (dm-vss) $VERSION" ] || fail_for "$c" "--version prints '$output'"
		run --separate-stderr "$BIN/$c" -V
		[ "$output" = "$c (dm-vss) $VERSION" ] || fail_for "$c" "-V prints '$output'"
	done
	report
}

@test "an unknown option exits 1 with a hint naming --help" {
	local c
	for c in $(commands); do
		run --separate-stderr timeout 10 "$BIN/$c" --no-such-option </dev/null
		[ "$status" -eq 1 ] || fail_for "$c" "unknown option: exit $status"
		[[ $stderr == *"--no-such-option"*"--help"* ]] ||
			fail_for "$c" "unknown option: stderr '$stderr'"
		[ -z "$output" ] || fail_for "$c" "unknown option: prints on stdout '$output'"
	done
	report
}

@test "a command that needs an argument exits 1 when given none" {
	local c usage needed=0
	for c in $(commands); do
		# The usage line names what is needed outside [brackets].
		usage=$("$BIN/$c" --help | sed -n "1s/^Usage: $c//p" |
			sed -e 's/\[[^]]*\]//g' -e 's/[[:space:]]//g')
		[ -n "$usage" ] || continue
		needed=$((needed + 1))
		run --separate-stderr timeout 10 "$BIN/$c" </dev/null
		[ "$status" -eq 1 ] || fail_for "$c" "no argument: exit $status"
		[ -n "$stderr" ] || fail_for "$c" "no argument: no message"
	done
	# vss-check and vss-snapshot need one at least
	[ "$needed" -ge 1 ]
	report
}

@test "a command that takes no argument exits 1 when given one" {
	local c usage
	for c in $(commands); do
		usage=$("$BIN/$c" --help | sed -n "1s/^Usage: $c//p" | sed -e 's/[[:space:]]//g')
		[ "$usage" = "[OPTION...]" ] || continue
		run --separate-stderr timeout 10 "$BIN/$c" stray-argument </dev/null
		[ "$status" -eq 1 ] || fail_for "$c" "a stray argument: exit $status"
		[[ $stderr == *stray-argument* ]] || fail_for "$c" "a stray argument: stderr '$stderr'"
	done
	report
}

@test "each command has a man page in man/" {
	local c
	for c in $(commands); do
		[ -f "$TOP/man/$c.8" ] || fail_for "$c" "no man/$c.8"
	done
	report
}

@test "the common options and exit statuses are written once: each command's page includes them" {
	local c inc
	for c in $(commands); do
		for inc in common-options exit-status; do
			[ "$(grep -c "^\.so include/$inc\.man\$" "$TOP/man/$c.8")" = 1 ] ||
				fail_for "$c" "man/$c.8 does not include include/$inc.man once"
		done
		grep -q -- '^\.B \\-\\-debug$' "$TOP/man/$c.8" &&
			fail_for "$c" "man/$c.8 documents --debug itself (include/common-options.man does)"
		grep -q '^\.so' "$MANB/$c.8" && fail_for "$c" "build/man/$c.8 has an unexpanded .so"
		grep -q 'must be run as root\|for a user other than root' "$MANB/$c.8" ||
			fail_for "$c" "build/man/$c.8 lacks the common exit statuses"
	done
	report
}

@test "each man page renders with man --warnings without a warning" {
	local page
	command -v man >/dev/null || skip "man is not installed (apt-get install man-db)"
	for page in "$MANB"/*.[1-8]; do
		run --separate-stderr env MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l "$page"
		[ "$status" -eq 0 ] || fail_for "${page##*/}" "man exits $status"
		[ -z "$stderr" ] || fail_for "${page##*/}" "$stderr"
		[ "${#lines[@]}" -gt 10 ] || fail_for "${page##*/}" "renders ${#lines[@]} lines"
	done
	report
}

@test "each man page has the common sections" {
	local page s want
	for page in "$MANB"/*.[1-8]; do
		if [[ $page == *.8 ]]; then
			want=(NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" "SEE ALSO")
		else
			want=(NAME DESCRIPTION "SEE ALSO")
		fi
		for s in "${want[@]}"; do
			grep -Eq "^\.SH +\"?$s\"?\$" "$page" || fail_for "${page##*/}" "no section $s"
		done
		# NAME is "name \- what it does", for whatis and apropos
		man_section "$page" NAME | grep -Eq '^[a-z][a-z0-9.-]*(, [a-z][a-z0-9.-]*)* \\- ' ||
			fail_for "${page##*/}" "NAME is not 'name \\- description'"
		head -5 "$page" | grep -q '^\.TH ' || fail_for "${page##*/}" "no .TH"
	done
	report
}

@test "each command's man page documents every option of its --help" {
	local c o
	for c in $(commands); do
		[ -f "$MANB/$c.8" ] || { fail_for "$c" "no build/man/$c.8"; continue; }
		for o in $(help_options "$c"); do
			grep -q -- "${o//-/\\\\-}" "$MANB/$c.8" ||
				fail_for "$c" "man/$c.8 does not document $o"
		done
		man_section "$MANB/$c.8" SYNOPSIS | grep -q "^\.B $c\$" ||
			fail_for "$c" "the SYNOPSIS does not start with .B $c"
	done
	report
}

@test "each command's man page accounts for every exit status 0..8" {
	local c page text n
	for c in $(commands); do
		page=$MANB/$c.8
		[ -f "$page" ] || { fail_for "$c" "no man/$c.8"; continue; }
		# without the section numbers of references such as vss (7)
		text=$(man_section "$page" "EXIT STATUS" | sed -E 's/\([1-8]\)//g')
		# 0 and 1 apply to every command, as an entry of their own
		for n in 0 1; do
			grep -Eq "^\.B $n\$" <<<"$text" || fail_for "$c" "EXIT STATUS: no entry for $n"
		done
		# each other code has its entry or is said not to apply ("Codes 6
		# and 8 are not used", "Codes 5 to 8 ...": a range counts for each)
		text+=$'\n'$(grep -oE '[0-8] (to|\\-) [0-8]' <<<"$text" |
			while read -r a _ b; do seq "$a" "$b"; done)
		for n in 2 3 4 5 6 7 8; do
			grep -Eq "(^|[^0-9.])$n([^0-9.]|\$)" <<<"$text" ||
				fail_for "$c" "EXIT STATUS: $n neither documented nor said not to apply"
		done
		grep -Eq '^\.B (9|[1-9][0-9]+)$' <<<"$text" && fail_for "$c" "EXIT STATUS: a code above 8"
	done
	report
}
