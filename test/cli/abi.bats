#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# The library's interface: libvsscore.so exports exactly the symbols that
# libvsscore.sym names, which are exactly the functions its installed
# headers declare; the test-only store writers stay out of it; the example
# requestor (examples/requestor.c), built over the public header only, runs
# against it.  On the host, no VM.

bats_require_minimum_version 1.5.0

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export TOP SO=$TOP/build/lib/libvsscore.so.1 REQUESTOR=$TOP/build/examples/requestor
	[ -e "$SO" ] && [ -x "$REQUESTOR" ] || { echo "no $SO or $REQUESTOR: run make first" >&2; return 1; }
}

exported() { nm -D --defined-only "$SO" | awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' | sort -u; }

# the names in the map's global: sections
mapped() {
	sed -e 's|/\*.*\*/||' -e '/\/\*/,/\*\//d' "$TOP/libvsscore/libvsscore.sym" |
		awk '/global:/ { g = 1; next } /local:|}/ { g = 0 } g && NF { gsub(/;/, ""); print $1 }' | sort -u
}

# the functions the installed headers declare
declared() {
	cat "$TOP"/libvsscore/libvsscore*.h | gcc -fpreprocessed -dD -E -P - 2>/dev/null | tr '\n' ' ' |
		grep -oE '\bvss_[a-z0-9_]+[[:space:]]*\(' | grep -oE 'vss_[a-z0-9_]+' | sort -u
}

@test "the symbol map names each symbol, without wildcards" {
	run grep -E '[*?[]' <(mapped)
	[ "$status" -eq 1 ] || { echo "wildcards in the map: $output"; false; }
	[ "$(mapped | wc -l)" -gt 50 ]
}

@test "libvsscore.so exports exactly what the map names" {
	run diff <(mapped) <(exported)
	[ "$status" -eq 0 ] || { echo "map (<) against the library (>): $output"; false; }
}

@test "what the installed headers declare is what the library exports" {
	run diff <(declared) <(exported)
	[ "$status" -eq 0 ] || { echo "headers (<) against the library (>): $output"; false; }
}

@test "internals and the store writers of the tests are not exported" {
	local s
	for s in vss_store_format vss_store_set_record vss_store_write_sb vss_shadow_remove_json \
		 vss_log vss_exec_checked; do
		! exported | grep -qx "$s" || { echo "$s is exported"; false; }
	done
	# the static library, which the tests link, still has the writers
	nm "$TOP/build/lib/libvsscore.a" | grep -q ' T vss_store_format$'
}

@test "the example requestor: versions agree with the build; it lists the catalog" {
	local version
	version=$(sed -n 's/^VERSION *= *//p' "$TOP/config.mk")
	run "$REQUESTOR" --version
	[ "$status" -eq 0 ]
	[ "$output" = "header $version library $version" ]
	export VSS_STATE_DIR=$BATS_TEST_TMPDIR/state VSS_RUN_DIR=$BATS_TEST_TMPDIR/run \
		VSS_CONF_DIR=$BATS_TEST_TMPDIR/conf
	mkdir -p "$VSS_STATE_DIR"
	run "$REQUESTOR"
	[ "$status" -eq 0 ]
	[ "$output" = "libvsscore $version: 0 shadow copies" ]
	cat > "$VSS_STATE_DIR/catalog.json" <<-EOF
	{ "version": 1, "next_set_id": 8, "next_shadow_id": 13, "storage": [], "writers": [],
	  "sets": [ { "set_id": 7, "state": "created", "pid": 1, "created": "2026-01-02T03:04:05Z",
	    "tag": "", "context": "persistent", "shadows": [
	      { "shadow_id": 12, "volume": "/dev/mapper/data", "name": "data",
	        "device": "/dev/mapper/vss-12", "provider": "dm-vss-cow", "store": "/dev/loop1",
	        "real": "data-real", "state": "created", "snap_id": 12, "snap_dev": "vss-12",
	        "mountpoint": "" } ] } ] }
	EOF
	run "$REQUESTOR"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "libvsscore $version: 1 shadow copy" ]
	[ "${lines[1]}" = "12 7 /dev/mapper/data created 2026-01-02T03:04:05Z" ]
}

@test "each public structure of libvsscore.h can grow: it ends with reserved space, and the soname is libvsscore.so.1" {
	local bad
	# the last member before each "};" of a struct body (struct vss_extent excepted)
	bad=$(awk '/^struct [a-z_]+ \{$/ { name = $2; last = ""; next }
		name && /^\};$/ { if (name != "vss_extent" && last !~ /uint64_t reserved\[8\];/) print name; name = ""; next }
		name && /;/ { last = $0 }' "$TOP/libvsscore/libvsscore.h")
	[ -z "$bad" ] || { echo "no reserved space at the end of: $bad"; return 1; }
	[ "$(awk '/^struct [a-z_]+ \{$/' "$TOP/libvsscore/libvsscore.h" | wc -l)" -gt 10 ]
	readelf -d "$SO" | grep -q 'SONAME.*\[libvsscore\.so\.1\]'
}
