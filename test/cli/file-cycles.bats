#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# No circle of files in libvsscore/: no file uses a symbol (nm) defined in
# a file that uses one of its own, directly or through others
# (test/tools/file-cycles over the objects that make builds).

bats_require_minimum_version 1.5.0

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export TOP CYCLES=$TOP/test/tools/file-cycles
}

@test "the files of libvsscore/ call each other in no circle" {
	local src obj objs=()
	for src in "$TOP"/libvsscore/*.c; do
		obj=$TOP/build/obj/libvsscore/$(basename "$src" .c).o
		# an object older than its source would judge code that is gone
		[ -f "$obj" ] && [ ! "$src" -nt "$obj" ] ||
			{ echo "$obj: missing or older than $src (run make)"; return 1; }
		objs+=("$obj")
	done
	run "$CYCLES" "${objs[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "file-cycles finds a circle of three files, and its uses" {
	cd "$BATS_TEST_TMPDIR"
	printf 'int b(void);\nint a(void) { return b(); }\n' > a.c
	printf 'int c(void);\nint b(void) { return c(); }\n' > b.c
	printf 'int a(void);\nint c(void) { return a(); }\nint d(void) { return 0; }\n' > c.c
	printf 'int d(void);\nint e(void) { return d(); }\n' > e.c
	cc -c a.c b.c c.c e.c
	run "$CYCLES" a.o b.o c.o e.o
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(grep -c '^circle:' <<< "$output")" -eq 1 ]
	[[ ${lines[0]} == *a.o* && ${lines[0]} == *b.o* && ${lines[0]} == *c.o* ]]
	[[ ${lines[0]} != *e.o* ]]
	[[ $output == *"a.o -> b.o: b"* && $output == *"b.o -> c.o: c"* ]]
	[[ $output == *"c.o -> a.o: a"* ]]
}

@test "file-cycles passes files that call one way only" {
	cd "$BATS_TEST_TMPDIR"
	printf 'int d(void);\nint e(void) { return d(); }\n' > e.c
	printf 'int d(void) { return 0; }\n' > d.c
	cc -c d.c e.c
	run "$CYCLES" d.o e.o
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}
