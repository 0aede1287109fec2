#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# The userspace parsers under libFuzzer (test/fuzz/run-fuzzers): each
# target fuzzed for VSS_FUZZ_SECONDS (default 20; VSS_LONG=1: 1800) with
# ASan and UBSan, and every file of every corpus in test/fuzz/ replayed
# through each target (the regression inputs of bugs found so far).
# A crash fails the test; its input stays in build/fuzz/.

bats_require_minimum_version 1.5.0

TARGETS="fuzz-catalog fuzz-status fuzz-store fuzz-stream fuzz-writer"

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export TOP
	export RUN=$TOP/test/fuzz/run-fuzzers
	command -v clang >/dev/null || { echo "clang is missing: run scripts/install-deps" >&2; return 1; }
	mkdir -p "$TOP/build/fuzz"
	"$RUN" --build >&2 || { echo "the fuzz targets do not build" >&2; return 1; }
}

setup() {
	# the targets' scratch directories
	export TMPDIR=$BATS_TEST_TMPDIR
}

fuzz_target() {
	local t=$1 execs
	run -0 --separate-stderr "$RUN" "$t"
	echo "$output"
	[[ "$output" =~ ^$t:\ ([0-9]+)\ executions\ .*no\ crash ]]
	execs=${BASH_REMATCH[1]}
	[ "$execs" -gt 0 ]
}

replay_target() {
	local t=$1 n
	n=$(find "$TOP/test/fuzz" -path '*/corpus-*' -type f | wc -l)
	run -0 --separate-stderr "$RUN" --replay "$t"
	echo "$output"
	[ "$output" = "$t: $n corpus files replayed, no crash" ]
}

@test "every test/fuzz/fuzz-*.c target is fuzzed here, and each has a seed corpus" {
	run -0 "$RUN" --list
	[ "$(echo $output)" = "$TARGETS" ]
	for t in $TARGETS; do
		ls "$TOP/test/fuzz/corpus-${t#fuzz-}"/* >/dev/null
	done
}

@test "fuzz-catalog: the catalog loader and what walks it: no crash" {
	fuzz_target fuzz-catalog
}

@test "fuzz-status: the dm status and table line parsers: no crash" {
	fuzz_target fuzz-status
}

@test "fuzz-store: the store reader and checker: no crash" {
	fuzz_target fuzz-store
}

@test "fuzz-stream: the send stream reader, and the writer on what it read: no crash" {
	fuzz_target fuzz-stream
}

@test "fuzz-writer: the writer protocol answers: no crash" {
	fuzz_target fuzz-writer
}

@test "fuzz-catalog: every corpus file replays without a crash" {
	replay_target fuzz-catalog
}

@test "fuzz-status: every corpus file replays without a crash" {
	replay_target fuzz-status
}

@test "fuzz-store: every corpus file replays without a crash" {
	replay_target fuzz-store
}

@test "fuzz-stream: every corpus file replays without a crash" {
	replay_target fuzz-stream
}

@test "fuzz-writer: every corpus file replays without a crash" {
	replay_target fuzz-writer
}

@test "a crash is reported, exits 1 and leaves the input in build/fuzz/" {
	local d=$BATS_TEST_TMPDIR/crash
	mkdir -p "$d"
	# A target that aborts on one input, run by the same runner code.
	cp "$RUN" "$d/run-fuzzers"
	mkdir -p "$d/test/fuzz/corpus-boom" "$d/libvsscore" "$d/dm-vss"
	printf 'boom' > "$d/test/fuzz/corpus-boom/seed"
	cat > "$d/test/fuzz/fuzz-boom.c" <<-'EOF'
	#include <stdint.h>
	#include <stdlib.h>
	#include <string.h>
	/* fuzz-sources: */
	int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
	int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
	{
		if (n >= 4 && !memcmp(d, "boom", 4))
			abort();
		return 0;
	}
	EOF
	mv "$d/run-fuzzers" "$d/test/fuzz/run-fuzzers"
	VSS_FUZZ_SECONDS=5 run -1 "$d/test/fuzz/run-fuzzers" boom
	echo "$output"
	[[ "$output" == *"fuzz-boom: CRASH after"* ]]
	ls "$d"/build/fuzz/fuzz-boom-crash-*
	[ "$(cat "$d"/build/fuzz/fuzz-boom-crash-*)" = boom ]
	run -1 "$d/test/fuzz/run-fuzzers" --replay boom
	[[ "$output" == *"fuzz-boom: CRASH replaying"* ]]
}

@test "run-fuzzers: --help, bad options and names, bad VSS_FUZZ_SECONDS" {
	run -0 "$RUN" --help
	[[ "$output" == *"VSS_FUZZ_SECONDS"* && "$output" == *"VSS_LONG"* ]]
	run -2 "$RUN" --bogus
	[[ "$output" == *"unknown option '--bogus'"* ]]
	run -2 "$RUN" no-such-target
	[[ "$output" == *"fuzz-no-such-target: no such target"* ]]
	VSS_FUZZ_SECONDS=abc run -2 "$RUN" store
	[[ "$output" == *"not a positive number"* ]]
}
