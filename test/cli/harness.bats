#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# scripts/vm-run, the VM harness every test/target suite runs in: it returns
# the guest command's exit status, shows only the command's output, and
# fails a run whose guest kernel warned, died or ran out of time.  Each
# test boots its own VM; failures are provoked on purpose and asserted here.

bats_require_minimum_version 1.5.0

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export TOP VM_RUN=$TOP/scripts/vm-run
}

@test "vm-run returns 0 and shows only the command's output" {
	run --separate-stderr "$VM_RUN" -- sh -c 'echo hello from the guest; uname -r'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "hello from the guest" ]
	[ "${#lines[@]}" -eq 2 ]
	[[ $output != *SeaBIOS* ]]
	[[ $output != *$'\e'* ]]
	[[ $output != *"Power down"* ]]
}

@test "vm-run returns the guest command's exit status (3)" {
	run "$VM_RUN" -- sh -c 'echo failing; exit 3'
	[ "$status" -eq 3 ]
	[ "$output" = failing ]
}

@test "vm-run runs in the current directory, also under /tmp" {
	cd "$BATS_TEST_TMPDIR"
	echo visible > here.txt
	run "$VM_RUN" -- sh -c 'pwd; cat here.txt'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$BATS_TEST_TMPDIR" ]
	[ "${lines[1]}" = visible ]
}

@test "vm-run fails with 125 when the guest logs a WARNING line" {
	run "$VM_RUN" -- sh -c "echo 'WARNING: test of the harness' > /dev/kmsg"
	[ "$status" -eq 125 ]
	[[ $output == *"the guest kernel reported problems"* ]]
	[[ $output == *"WARNING: test of the harness"* ]]
}

@test "vm-run fails with 125 when a module hits a real kernel WARN" {
	local kdir
	kdir=$(sed -n 's/^KDIR = //p' "$TOP/config.mk" 2>/dev/null)
	[ -n "$kdir" ] || { echo "no KDIR in $TOP/config.mk: run make first" >&2; return 1; }
	cp "$BATS_TEST_DIRNAME"/warn-module/* "$BATS_TEST_TMPDIR/"
	make -s -C "$kdir" M="$BATS_TEST_TMPDIR" modules >/dev/null
	cd "$BATS_TEST_TMPDIR"
	run "$VM_RUN" -- insmod ./vss_warn_test.ko
	[ "$status" -eq 125 ]
	[[ $output == *"WARNING: CPU:"* ]]
	[[ $output == *"vss_warn_test_init"* ]]
}

@test "vm-run fails with 125 when the guest kernel panics" {
	run "$VM_RUN" -- sh -c 'echo c > /proc/sysrq-trigger; sleep 60'
	[ "$status" -eq 125 ]
	[[ $output == *"Kernel panic"* ]]
	[[ $output == *"the VM stopped before the command finished"* ]]
}

@test "vm-run fails with 124 when the VM runs out of time" {
	run "$VM_RUN" --timeout 5 -- sleep 600
	[ "$status" -eq 124 ]
	[[ $output == *"did not finish within 5s"* ]]
}
