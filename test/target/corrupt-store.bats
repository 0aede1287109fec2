#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Corrupt stores against the real module: a store written by the kernel
# with several snapshots (one deleted) gets seeded random byte flips in its
# metadata blocks (superblock copies and exception blocks); each damaged
# store is either refused by the table load, with the kernel's error in
# dmesg, nothing written to it, and vss-check exiting non-zero, or loaded
# with every snapshot reading back its sha256 recorded at its instant, or
# EIO, or refused; never other data.  A store whose device was recreated
# shorter is refused by the kernel and named by vss-check; a longer one
# loads intact.  A store of another origin (another size, another length
# of table, another origin device while the first is loaded, another chunk
# size) is refused.  (store-check.bats corrupts chosen bytes.)
#   scripts/vm-run -- bats test/target/corrupt-store.bats
# VSS_CORRUPT_SEED seeds the flips (printed); VSS_CORRUPT_TRIALS damaged
# stores (default 12; VSS_LONG=1: 400).

load helpers

MiB=$((1024 * 1024))
OSECT=8192		# 4 MiB origin: 1024 chunks of 4 KiB
STORE_BYTES=$((2 * MiB))	# 512 chunks: 508 data chunks, exception blocks 2 and 258
META_BLOCKS="0 1 2 258"

setup() {
	vm_setup
	require timeout sha256sum losetup awk od
	modprobe dm-vss
	P=$VSS_TEST_PFX
	declare -gA SHA=()
}

t() {
	timeout -k 5 60 "$@"
}

sha() {
	local s
	s=$(set -o pipefail; t dd if="$1" iflag=direct bs=1M status=none | sha256sum) || return 1
	echo "${s%% *}"
}

# kmark: dmesg_since prints what the kernel logged after it.
kmark() {
	KMARK="vss-corrupt: $$-$RANDOM-$RANDOM"
	echo "$KMARK" > /dev/kmsg
}
dmesg_since() {
	dmesg | sed -n "/$KMARK\$/,\$p" | sed 1d
}

# A store the kernel wrote: the origin filled at random, snapshot 1, 40
# chunks written (10 runs of 4), 2, 40 more, 3, snapshot 2 deleted, 4, 40 more; the
# snapshots' sha256 recorded at their instants.  Leaves $PRISTINE (the
# store image, nothing loaded over it) and $OLOOP (the origin), and
# $FINAL, the origin's sha256.
kernel_store() {
	local id l
	OLOOP=$(make_loop $((OSECT * 512)) origin)
	truncate -s $STORE_BYTES "$T/store.img"
	l=$(losetup -f --show "$T/store.img")
	echo "$l" >> "$T/.loops"
	dm_create "${P}o" --table "0 $OSECT vss-origin $OLOOP $l"
	t dd if=/dev/urandom of="/dev/mapper/${P}o" bs=1M count=4 oflag=direct status=none
	for id in 1 2 3 4; do
		t dmsetup suspend "${P}o"
		SHA[$id]=$(sha "$OLOOP")
		t dmsetup message "${P}o" 0 create "$id"
		t dmsetup resume "${P}o"
		[ "$id" = 3 ] && t dmsetup message "${P}o" 0 delete 2
		scatter 10
	done
	FINAL=$(sha "/dev/mapper/${P}o")
	t dmsetup remove --retry "${P}o"
	losetup -d "$l"
	PRISTINE=$T/pristine.img
	mv "$T/store.img" "$PRISTINE"
	LIVE="1 3 4"
}

# scatter N: N runs of 4 random 4 KiB chunks of the origin get new data.
scatter() {
	local i
	for i in $(seq 1 "$1"); do
		t dd if=/dev/urandom of="/dev/mapper/${P}o" bs=16384 count=1 \
			seek=$((RANDOM % (OSECT / 32))) oflag=direct conv=notrunc status=none
	done
}

# flip FILE OFFSET XOR: one byte of FILE xor-ed with XOR (1..255).
flip() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "\\$(printf '%03o' $(( b ^ $3 )))" |
		dd of="$1" bs=1 seek="$2" count=1 conv=notrunc status=none
}

# try_store DEV IMAGE: loads a vss-origin over DEV (whose file is IMAGE)
# and judges the outcome into OUTCOME: "refused" (with the kernel's error
# in KERR) or "loaded"; when loaded, each live snapshot's read goes into
# READS (exact, eio or refused), a wrong read into WRONG.  The origin must
# read back $FINAL either way.
try_store() {
	local dev=$1 img=$2 before id r s
	before=$(sha256sum < "$img")
	kmark
	if t dmsetup create "${P}o" --table "0 $OSECT vss-origin $OLOOP $dev" 2> "$T/create.err"; then
		echo "${P}o" >> "$T/.dm"
		OUTCOME=loaded READS=
		for id in $LIVE; do
			if ! t dmsetup create --readonly "${P}s$id" \
				--table "0 $OSECT vss-snap $OLOOP $dev $id" 2>/dev/null; then
				READS="$READS $id:refused"
				continue
			fi
			echo "${P}s$id" >> "$T/.dm"
			udevadm settle --timeout=20 >/dev/null 2>&1
			if s=$(sha "/dev/mapper/${P}s$id" 2> "$T/read.err"); then
				if [ "$s" = "${SHA[$id]}" ]; then r=exact; else r=wrong; WRONG="$WRONG $id"; fi
			elif grep -q "Input/output error" "$T/read.err"; then
				r=eio
			else
				r="error($(head -1 "$T/read.err"))"; WRONG="$WRONG $id"
			fi
			READS="$READS $id:$r"
			udevadm settle --timeout=20 >/dev/null 2>&1
			t dmsetup remove --retry "${P}s$id"
		done
		[ "$(sha "/dev/mapper/${P}o")" = "$FINAL" ] || { echo "the origin reads other data" >&2; return 1; }
		udevadm settle --timeout=20 >/dev/null 2>&1
		t dmsetup remove --retry "${P}o"
	else
		OUTCOME=refused
		KERR=$(dmesg_since | grep -m1 "vss-origin: " || true)
		[ -n "$KERR" ] || { echo "refused without a kernel error line: $(cat "$T/create.err")" >&2; dmesg_since >&2; return 1; }
		[ "$(sha256sum < "$img")" = "$before" ] ||
			{ echo "a refused store was written to" >&2; return 1; }
	fi
}

@test "random byte flips in the metadata blocks: refused by both, or every snapshot exact or EIO" {
	local seed trials i n f off blk xor dev rc flips
	local refused=0 loaded=0 exact=0 eio=0 snaprefused=0 agree_fatal=0 nonfatal=0
	seed=${VSS_CORRUPT_SEED:-$RANDOM}
	if [ -n "${VSS_LONG:-}" ]; then trials=${VSS_CORRUPT_TRIALS:-400}; else trials=${VSS_CORRUPT_TRIALS:-12}; fi
	echo "# corrupt-store: seed $seed (VSS_CORRUPT_SEED=$seed repeats it), $trials damaged stores" >&3
	kernel_store
	# the undamaged store: clean, and every snapshot exact
	run -0 t vss-check "$PRISTINE"
	dev=$(losetup -f --show "$PRISTINE"); echo "$dev" >> "$T/.loops"
	WRONG=
	try_store "$dev" "$PRISTINE"
	[ "$OUTCOME" = loaded ] && [ "$READS" = " 1:exact 3:exact 4:exact" ] || false
	losetup -d "$dev"

	# the flips: TRIAL BLOCK OFFSET XOR, one to three per trial, half of
	# them in the first 256 bytes of a block (headers, snapshot table,
	# the records in use)
	awk -v seed="$seed" -v n="$trials" -v blocks="$META_BLOCKS" 'BEGIN {
		srand(seed); nb = split(blocks, b, " ")
		for (i = 1; i <= n; i++) {
			k = (rand() < 0.25) ? 2 + int(rand() * 2) : 1
			for (j = 0; j < k; j++) {
				blk = b[1 + int(rand() * nb)]
				off = (rand() < 0.5) ? int(rand() * 256) : int(rand() * 4096)
				printf "%d %d %d %d\n", i, blk, off, 1 + int(rand() * 255)
			}
		}
	}' > "$T/flips"
	WRONG=
	for i in $(seq 1 "$trials"); do
		cp "$PRISTINE" "$T/trial.img"
		flips=
		while read -r n blk off xor; do
			flip "$T/trial.img" $((blk * 4096 + off)) "$xor"
			flips="$flips $blk:$off^$xor"
		done < <(awk -v i="$i" '$1 == i' "$T/flips")
		rc=0
		t vss-check "$T/trial.img" > "$T/check.out" 2>&1 || rc=$?
		dev=$(losetup -f --show "$T/trial.img")
		echo "$dev" >> "$T/.loops"
		try_store "$dev" "$T/trial.img"
		losetup -d "$dev"
		if [ "$OUTCOME" = refused ]; then
			refused=$((refused + 1))
			[ "$rc" != 0 ] || { echo "trial $i (flips$flips): the kernel refused ($KERR), vss-check finds it clean" >&2; false; }
			agree_fatal=$((agree_fatal + 1))
		else
			loaded=$((loaded + 1))
			for f in $READS; do
				case $f in
				*:exact) exact=$((exact + 1)) ;;
				*:eio) eio=$((eio + 1)) ;;
				*:refused) snaprefused=$((snaprefused + 1)) ;;
				esac
			done
			# what the kernel loads, vss-check does not call fatal
			if [ "$rc" != 0 ]; then
				if grep -q ": fatal: " "$T/check.out"; then
					echo "trial $i (flips$flips): the kernel loads it, vss-check says:" >&2
					cat "$T/check.out" >&2
					false
				fi
				nonfatal=$((nonfatal + 1))
			fi
		fi
		[ -z "$WRONG" ] || { echo "trial $i (flips$flips): snapshots$WRONG read wrong data ($READS)" >&2; false; }
	done
	echo "# corrupt-store: $trials damaged: $refused refused by the kernel and vss-check, $loaded loaded ($nonfatal with a non-fatal vss-check finding); snapshot reads: $exact exact, $eio EIO, $snaprefused snapshots refused, 0 wrong" >&3
	(( refused + loaded == trials ))
	check_dmesg
}

@test "a store whose device was recreated shorter is refused and named by vss-check; a longer one loads intact" {
	local size dev n=0 out
	kernel_store
	for size in $((STORE_BYTES - 512)) $((STORE_BYTES - 4096)) $((STORE_BYTES / 2)) 8192 4096; do
		dev=$(losetup -f --show --sizelimit "$size" "$PRISTINE")
		echo "$dev" >> "$T/.loops"
		run t vss-check "$dev"
		echo "$size bytes: vss-check $status: $output"
		[ "$status" = 7 ]
		[[ $output == *"fatal: "* ]]
		try_store "$dev" "$PRISTINE"
		[ "$OUTCOME" = refused ]
		echo "$size bytes: $KERR"
		losetup -d "$dev"
		n=$((n + 1))
	done
	# a longer device: the store uses what it was formatted with
	cp "$PRISTINE" "$T/long.img"
	truncate -s $((STORE_BYTES + MiB)) "$T/long.img"
	dev=$(losetup -f --show "$T/long.img")
	echo "$dev" >> "$T/.loops"
	run -0 t vss-check "$dev"
	WRONG=
	try_store "$dev" "$T/long.img"
	[ "$OUTCOME" = loaded ] && [ "$READS" = " 1:exact 3:exact 4:exact" ] || false
	echo "# corrupt-store: $n truncated store devices refused by the kernel and vss-check; a longer one loads with 3 snapshots exact" >&3
	check_dmesg
}

@test "a store of another origin is refused: other size, other table length, other device while loaded, other chunk size" {
	local other dev dev6 o6 n=0
	kernel_store
	dev=$(losetup -f --show "$PRISTINE")
	echo "$dev" >> "$T/.loops"
	# an origin of another size
	o6=$(make_loop 6M other6)
	kmark
	run t dmsetup create "${P}x" --table "0 12288 vss-origin $o6 $dev"
	[ "$status" != 0 ]
	dmesg_since | grep "vss-origin: "
	run t vss-check --origin "$o6" "$dev"
	echo "$output"
	[ "$status" != 0 ]
	n=$((n + 1))
	# the right origin device, a table of another length
	kmark
	run t dmsetup create "${P}x" --table "0 $((OSECT - 8)) vss-origin $OLOOP $dev"
	[ "$status" != 0 ]
	dmesg_since | grep "vss-origin: "
	n=$((n + 1))
	# another chunk size asked for
	kmark
	run t dmsetup create "${P}x" --table "0 $OSECT vss-origin $OLOOP $dev 2 chunk_sectors 16"
	[ "$status" != 0 ]
	dmesg_since | grep "vss-origin: .*chunk_sectors"
	n=$((n + 1))
	# the store loaded for its origin: a second origin of the same size
	# over it is refused, and a vss-snap naming the other origin too
	other=$(make_loop $((OSECT * 512)) other)
	dm_create "${P}o" --table "0 $OSECT vss-origin $OLOOP $dev"
	kmark
	run t dmsetup create "${P}x" --table "0 $OSECT vss-origin $other $dev"
	[ "$status" != 0 ]
	dmesg_since | grep "vss-origin: The store is in use by another origin"
	n=$((n + 1))
	kmark
	run t dmsetup create --readonly "${P}x" --table "0 $OSECT vss-snap $other $dev 1"
	[ "$status" != 0 ]
	dmesg_since | grep "vss-snap: The store belongs to another origin device"
	n=$((n + 1))
	# and the rightful ones still work
	dm_create "${P}s1" --readonly --table "0 $OSECT vss-snap $OLOOP $dev 1"
	[ "$(sha "/dev/mapper/${P}s1")" = "${SHA[1]}" ]
	[ "$(sha "/dev/mapper/${P}o")" = "$FINAL" ]
	echo "# corrupt-store: $n loads over a store of another origin refused" >&3
	check_dmesg
}
