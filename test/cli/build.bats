#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The build system: configure's checks, make install/uninstall with
# DESTDIR, and the version numbers that must agree.

bats_require_minimum_version 1.5.0

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export TOP
	[ -x "$TOP/configure" ] && [ -f "$TOP/config.mk" ] ||
		{ echo "run make first (no configure or config.mk)" >&2; return 1; }
}

@test "the version is the same in configure.ac, dm-vss.h and dkms.conf" {
	local ac h dkms
	ac=$(sed -n 's/^AC_INIT(\[dm-vss\], \[\([^]]*\)\].*/\1/p' "$TOP/configure.ac")
	h=$(sed -n 's/^#define VSS_MODULE_VERSION "\(.*\)"/\1/p' "$TOP/dm-vss/dm-vss.h")
	dkms=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$TOP/dm-vss/dkms.conf")
	echo "configure.ac '$ac', dm-vss.h '$h', dkms.conf '$dkms'"
	[ -n "$ac" ] && [ "$ac" = "$h" ] && [ "$ac" = "$dkms" ] || false
}

# A pkg-config that knows every module but one.
fake_pkg_config() {
	cat > "$BATS_TEST_TMPDIR/pkg-config" <<FAKE
#!/bin/sh
for a; do [ "\$a" = "$1" ] && exit 1; done
exec /usr/bin/pkg-config "\$@"
FAKE
	chmod +x "$BATS_TEST_TMPDIR/pkg-config"
}

@test "configure names the Debian package of a missing library" {
	local module package
	for pair in devmapper:libdevmapper-dev blkid:libblkid-dev json-c:libjson-c-dev \
		popt:libpopt-dev cmocka:libcmocka-dev; do
		module=${pair%%:*} package=${pair#*:}
		fake_pkg_config "$module"
		cd "$BATS_TEST_TMPDIR"
		run env PKG_CONFIG="$BATS_TEST_TMPDIR/pkg-config" "$TOP/configure" --without-kernel
		[ "$status" -ne 0 ]
		[[ $output == *"$module not found"*"apt-get install $package"* ]] ||
			{ echo "$output"; return 1; }
	done
}

@test "configure --disable-tests does not need cmocka" {
	fake_pkg_config cmocka
	cd "$BATS_TEST_TMPDIR"
	PKG_CONFIG="$BATS_TEST_TMPDIR/pkg-config" "$TOP/configure" --without-kernel --disable-tests
	grep -q '^HAVE_CMOCKA = no' config.mk
	grep -q '^KDIR = $' config.mk
}

@test "configure --with-kernel refuses a directory that is not a kernel tree" {
	cd "$BATS_TEST_TMPDIR"
	run "$TOP/configure" --with-kernel="$BATS_TEST_TMPDIR"
	[ "$status" -ne 0 ]
	[[ $output == *"not a kernel build directory"* ]]
}

@test "make install and make uninstall respect DESTDIR" {
	local d=$BATS_TEST_TMPDIR/root f kver
	kver=$(sed -n 's/^KVER = //p' "$TOP/config.mk")
	make -s -C "$TOP" install DESTDIR="$d" prefix=/usr
	for f in "$TOP"/cli/vss-*.c; do
		f=$(basename "$f" .c)
		[ -x "$d/usr/sbin/$f" ] || { echo "no $f installed"; return 1; }
		# Installed commands find the library in the system's paths.
		! readelf -d "$d/usr/sbin/$f" | grep -q RUNPATH || false
	done
	if ls "$TOP"/libvsscore/*.c >/dev/null 2>&1; then
		[ -f "$d/usr/lib/libvsscore.so.1" ]
		[ -L "$d/usr/lib/libvsscore.so" ]
	fi
	for f in "$TOP"/libvsscore/libvsscore*.h; do
		[ -e "$f" ] || continue
		[ -f "$d/usr/include/$(basename "$f")" ]
	done
	[ ! -f "$TOP/libvsscore/libvsscore.pc.in" ] || grep -q '^prefix=/usr' "$d/usr/lib/pkgconfig/libvsscore.pc"
	for f in "$TOP"/man/*.[1-8]; do
		[ -e "$f" ] || continue
		[ -f "$d/usr/share/man/man${f##*.}/$(basename "$f")" ]
	done
	[ -z "$kver" ] || [ -f "$d/lib/modules/$kver/updates/dm-vss.ko" ]
	# bash completion: the file, and a link under each command's name,
	# which is the name bash-completion looks up
	if [ -f "$TOP/scripts/bash-completion/vss" ]; then
		cmp "$TOP/scripts/bash-completion/vss" "$d/usr/share/bash-completion/completions/vss"
		for f in "$TOP"/cli/vss-*.c; do
			f=$d/usr/share/bash-completion/completions/$(basename "$f" .c)
			[ -L "$f" ] || { echo "no completion link $f"; return 1; }
			cmp "$TOP/scripts/bash-completion/vss" "$f"
		done
	fi
	for f in "$TOP"/scripts/systemd/*.service "$TOP"/scripts/systemd/*.timer; do
		[ -e "$f" ] || continue
		cmp "$f" "$d/usr/lib/systemd/system/$(basename "$f")"
	done
	make -s -C "$TOP" uninstall DESTDIR="$d" prefix=/usr
	run find "$d" -type f -o -type l
	[ -z "$output" ] || { echo "left after uninstall: $output"; return 1; }
}
