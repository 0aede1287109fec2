#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# test/tools/chain-floor, the first-write floor of scripts/bench-cow: each
# step does its I/O where it should, the chain leaves the origin as it was,
# and bad arguments are refused with exit 2.  Run on regular files here.

bats_require_minimum_version 1.5.0

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	CF=$BATS_FILE_TMPDIR/chain-floor
	${CC:-cc} -O2 -Wall -Wextra -Werror -o "$CF" "$TOP/test/tools/chain-floor.c"
	export CF
}

setup() {
	cd "$BATS_TEST_TMPDIR"
	head -c 65536 /dev/urandom > origin
	cp origin origin.before
	truncate -s 65536 store
}

@test "chain-floor rcfw: origin unchanged, every store chunk a copy of an origin chunk" {
	run --separate-stderr "$CF" -t 1 origin store rcfw
	[ "$status" -eq 0 ]
	[[ $output =~ ^rcfw\ [1-9][0-9]*$ ]]
	cmp origin origin.before
	# 16 chunks of 4 KiB each side; one second is thousands of chains, so
	# every store chunk was written with some origin chunk
	for i in $(seq 0 15); do
		c=$(dd if=store bs=4096 skip=$i count=1 status=none | sha256sum)
		found=
		for j in $(seq 0 15); do
			[ "$(dd if=origin bs=4096 skip=$j count=1 status=none | sha256sum)" = "$c" ] && found=1
		done
		[ -n "$found" ]
	done
}

@test "chain-floor w writes every origin chunk and leaves the store alone" {
	run --separate-stderr "$CF" -t 1 -b 8192 origin store w
	[ "$status" -eq 0 ]
	[[ $output =~ ^w\ [1-9][0-9]*$ ]]
	[ "$(tr -d '\132' < origin | wc -c)" -eq 0 ]
	[ "$(tr -d '\000' < store | wc -c)" -eq 0 ]
}

@test "chain-floor refuses bad arguments with exit 2 and says why" {
	run "$CF" origin store rxw
	[ "$status" -eq 2 ]
	[[ $output == *"steps 'rxw': use the letters r, c, f and w"* ]]
	run "$CF" -b 1000 origin store w
	[ "$status" -eq 2 ]
	[[ $output == *"not a multiple of 512"* ]]
	run "$CF" -t 0 origin store w
	[ "$status" -eq 2 ]
	[[ $output == *"-t '0': expected a number from 1 to 3600"* ]]
	run "$CF" -t 5x origin store w
	[ "$status" -eq 2 ]
	run "$CF" origin store
	[ "$status" -eq 2 ]
	[[ $output == *usage:* ]]
	run "$CF" -b 131072 origin store w
	[ "$status" -eq 2 ]
	[[ $output == *"must each hold at least one chunk of 131072 bytes"* ]]
}

@test "chain-floor fails with exit 1 naming a device it cannot open" {
	run "$CF" "$BATS_TEST_TMPDIR/missing" store w
	[ "$status" -eq 1 ]
	[[ $output == *"cannot open $BATS_TEST_TMPDIR/missing: No such file or directory"* ]]
}
