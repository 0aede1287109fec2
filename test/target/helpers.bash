# SPDX-License-Identifier: GPL-2.0
# Shared helpers of the test/target suites: they run as root inside the test
# VM (scripts/vm-run; scripts/run-tests boots one VM for all of them).
#
#   load helpers            in a .bats file; then in setup()/teardown():
#   vm_setup                checks root, marks the kernel log, makes $T
#                           (a scratch directory on the guest's tmpfs)
#   vm_teardown             removes this test's dm devices (snapshots first),
#                           detaches its loop devices, deletes $T
#   make_loop SIZE [NAME]   prints a new loop device over a file in $T
#   dm_create NAME ARGS...  dmsetup create, registered for teardown
#   bg_stop PID...          ends and reaps background jobs (gone already: fine)
#   dev_sha256 DEV          prints the sha256 of a device's content
#   check_dmesg             fails, printing them, on BUG/Oops/WARNING lines
#                           logged since vm_setup
#   require CMD...          fails (never skips) when a command is missing
#
# Device names start with $VSS_TEST_PFX (vt-<file>-<test>-) so that a
# test's leftovers are never confused with another's.  Commands under test
# come first in PATH: $VSS_BINDIR, default build/bin.

bats_require_minimum_version 1.5.0

VSS_TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
export VSS_TOP
export PATH=${VSS_BINDIR:-$VSS_TOP/build/bin}:$PATH

# The kernel log lines that fail a test (and the run: scripts/vm-run scans
# the whole log with the same expression).
VSS_DMESG_PROBLEMS='(^|[^A-Za-z_])(BUG|Oops|WARNING)([^A-Za-z_]|$)|lockdep|KASAN|UBSAN|general protection|blocked for more than|possible circular locking|Kernel panic'

require() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null || {
			echo "required command '$c' is missing: run scripts/install-deps" >&2
			return 1
		}
	done
}

vm_setup() {
	[ "$(id -u)" = 0 ] || {
		echo "test/target runs as root inside the VM: scripts/vm-run -- bats $BATS_TEST_FILENAME" >&2
		return 1
	}
	local file
	file=$(basename "$BATS_TEST_FILENAME" .bats)
	VSS_TEST_PFX=vt-$file-$BATS_TEST_NUMBER-
	T=/tmp/vss-target/$file-$BATS_TEST_NUMBER
	rm -rf "$T"
	mkdir -p "$T"
	: > "$T/.loops"
	: > "$T/.dm"
	# check_dmesg looks at what follows this line.
	VSS_DMESG_MARK="vss-test: mark $$-$RANDOM-$BATS_TEST_NUMBER"
	echo "$VSS_DMESG_MARK" > /dev/kmsg
}

# vm_umount_all: unmount (lazily, deepest first) whatever is mounted under
# $T, thawed first in case a failed test left it frozen (and the devices
# resumed before that: a thaw writes, and would wait for ever on a suspended
# one; the VM runs one test at a time, so every device is this test's).
vm_umount_all() {
	local m d
	[ -n "${T:-}" ] || return 0
	for d in $(dmsetup info -c --noheadings --separator ' ' -o name,attr 2>/dev/null | awk '$2 ~ /s/ { print $1 }'); do
		dmsetup resume "$d" >/dev/null 2>&1
	done
	for m in $(awk -v t="$T/" 'index($2, t) == 1 { print $2 }' /proc/mounts | sort -r); do
		fsfreeze -u "$m" 2>/dev/null
		umount -l "$m"
	done
}

vm_teardown() {
	local name pass left=
	[ -n "${T:-}" ] && [ -d "$T" ] || return 0
	udevadm settle --timeout=20 >/dev/null 2>&1
	for name in $(_vm_dm_names); do
		dmsetup resume "$name" >/dev/null 2>&1
	done
	for pass in 1 2 3 4; do
		left=
		for name in $(_vm_dm_names_top_first); do
			dmsetup remove --retry "$name" >/dev/null 2>&1 || left="$left $name"
		done
		[ -z "$left" ] && break
		udevadm settle --timeout=20 >/dev/null 2>&1
	done
	for name in $left; do
		echo "teardown: forcing the removal of $name" >&2
		dmsetup remove --force "$name" >/dev/null 2>&1
	done
	while read -r dev; do
		losetup -d "$dev" 2>/dev/null
	done < "$T/.loops"
	rm -rf "$T"
	left=$(_vm_dm_names)
	[ -z "$left" ] || { echo "teardown: dm devices left: $left" >&2; return 1; }
}

# This test's dm devices: registered by dm_create, or named with its prefix.
_vm_dm_names() {
	{
		cat "$T/.dm" 2>/dev/null
		dmsetup info -c --noheadings -o name 2>/dev/null | grep "^$VSS_TEST_PFX"
	} | awk 'NF && !seen[$0]++' | while read -r name; do
		dmsetup info "$name" >/dev/null 2>&1 && echo "$name"
	done
}

# Devices that nothing holds first: snapshots and stacked devices before
# what lies under them (the reverse of creation order does that).
_vm_dm_names_top_first() {
	_vm_dm_names | tac
}

make_loop() {
	local size=$1 name=${2:-disk} file dev
	file=$(mktemp "$T/$name.XXXXXX.img")
	truncate -s "$size" "$file" || return 1
	dev=$(losetup --find --show "$file") || { echo "losetup failed for $file" >&2; return 1; }
	echo "$dev" >> "$T/.loops"
	echo "$dev"
}

# bg_stop PID...: ends background jobs (a load generator with a runtime
# may have ended on its own on a slow host: not an error) and reaps them.
bg_stop() {
	local p
	for p in "$@"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "$@"; do
		wait "$p" 2>/dev/null || true
	done
}

dm_create() {
	local name=$1
	echo "$name" >> "$T/.dm"
	dmsetup create "$@" || return 1
	udevadm settle --timeout=20 >/dev/null 2>&1
	[ -b "/dev/mapper/$name" ] || { echo "/dev/mapper/$name did not appear" >&2; return 1; }
}

dev_sha256() {
	local sum
	sum=$(sha256sum < "$1") || return 1
	echo "${sum%% *}"
}

check_dmesg() {
	local lines
	lines=$(dmesg | sed -n "/$VSS_DMESG_MARK\$/,\$p" | grep -E "$VSS_DMESG_PROBLEMS" || true)
	[ -z "$lines" ] || {
		echo "the kernel logged problems during this test:" >&2
		echo "$lines" >&2
		return 1
	}
}

setup() { vm_setup; }
teardown() { vm_teardown; }
