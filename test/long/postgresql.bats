#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The postgresql writer under load, inside the test VM (scripts/run-tests
# --long): a PostgreSQL 15 cluster on ext4 over a vss-managed volume, its
# pg_wal on a second one, pgbench (scale 10, 4 clients) running the whole
# time; 20 consecutive sets of the data volume alone (completed with the WAL
# volume by the component rule); each set checked through writable views:
# the server starts on them, recovery completes, pg_amcheck is clean, and
# pgbench_history holds every transaction that had committed before the
# freeze and none that began after the thaw (from pgbench's per-transaction
# log against a hook's freeze/thaw times); vss-verify passes on each set.

bats_require_minimum_version 1.5.0

B=$BATS_TEST_DIRNAME/../../build/bin
TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
PGBIN=/usr/lib/postgresql/15/bin
SETS=${VSS_LONG_PG_SETS:-20}

setup_file() {
	[ "$(id -u)" = 0 ] || skip "runs as root in the VM (scripts/run-tests --long)"
	[ -x $PGBIN/postgres ] || skip "postgresql-15 is not installed (scripts/install-deps)"
}

setup() {
	[ "$(id -u)" = 0 ] || skip "runs as root in the VM (scripts/run-tests --long)"
	W=/tmp/long-pg
	rm -rf "$W"; mkdir -p "$W/state" "$W/run" "$W/conf/writers.d" "$W/conf/hooks.d" \
		"$W/conf/writers.conf.d" "$W/sock" "$W/log"
	chmod 755 "$W"
	chown postgres: "$W/sock" "$W/log"
	export VSS_STATE_DIR=$W/state VSS_RUN_DIR=$W/run VSS_CONF_DIR=$W/conf
	LOOPS=()
	modprobe dm-vss
	modprobe dm-snapshot
}

teardown() {
	[ -n "${PGB_PID:-}" ] && kill "$PGB_PID" 2>/dev/null; wait 2>/dev/null
	for d in "$W"/view-*/data; do
		[ -d "$d" ] && runuser -u postgres -- $PGBIN/pg_ctl -D "$d" -m immediate stop >/dev/null 2>&1
	done
	runuser -u postgres -- $PGBIN/pg_ctl -D "$W/a/pgdata" -m immediate stop >/dev/null 2>&1
	for m in $(awk '$2 ~ "^/tmp/long-pg/" {print $2}' /proc/mounts); do
		fsfreeze -u "$m" >/dev/null 2>&1
	done
	for id in $(jq -r '.sets[]?.shadows[]?.shadow_id' "$VSS_STATE_DIR/catalog.json" 2>/dev/null); do
		"$B/vss-unexpose" "$id" >/dev/null 2>&1
	done
	for m in $(awk '$2 ~ "^/tmp/long-pg/" {print $2}' /proc/mounts | sort -r); do
		umount -l "$m"
	done
	udevadm settle --timeout=10 >/dev/null 2>&1
	for pass in 1 2 3; do
		for d in $(dmsetup ls 2>/dev/null | awk '$1 ~ /^vss-/ {print $1}') \
			 $(dmsetup ls 2>/dev/null | awk '$1 ~ /^pg-/ {print $1}'); do
			dmsetup remove "$d" >/dev/null 2>&1
		done
	done
	for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done
	rm -rf "$W"
}

# vol NAME SIZE_MiB: a mounted ext4 on a dm-linear volume over a loop device,
# with a store of the same size under vss-storage
vol() {
	local l s
	truncate -s "$2M" "$W/$1.img" "$W/$1.store"
	l=$(losetup -f --show "$W/$1.img"); LOOPS+=("$l")
	s=$(losetup -f --show "$W/$1.store"); LOOPS+=("$s")
	dmsetup create "pg-$1" --table "0 $(($2 * 2048)) linear $l 0"
	udevadm settle --timeout=10
	mkfs.ext4 -q "/dev/mapper/pg-$1"
	mkdir -p "$W/$1"
	mount "/dev/mapper/pg-$1" "$W/$1"
	"$B/vss-storage" add --for "$W/$1" --on "$s"
}

psql_w() { runuser -u postgres -- $PGBIN/psql -X -q -A -t -h "$W/sock" -p 5433 -d postgres "$@"; }

# The cluster: data on volume a, pg_wal on volume b, socket in $W/sock
start_cluster() {
	vol a 640; vol b 448
	mkdir -p "$W/a/pgdata" "$W/b/pgwal"
	chown postgres: "$W/a/pgdata" "$W/b/pgwal"
	chmod 700 "$W/a/pgdata"
	runuser -u postgres -- $PGBIN/initdb -q -A trust -U postgres -D "$W/a/pgdata" \
		--waldir="$W/b/pgwal/wal" >/dev/null
	cat >> "$W/a/pgdata/postgresql.conf" <<-EOF
	listen_addresses = ''
	port = 5433
	unix_socket_directories = '$W/sock'
	max_wal_size = 256MB
	shared_buffers = 64MB
	fsync = on
	EOF
	runuser -u postgres -- $PGBIN/pg_ctl -D "$W/a/pgdata" -l "$W/log/server.log" -w start >/dev/null
	install -m 0755 "$TOP/scripts/writers/postgresql" "$VSS_CONF_DIR/writers.d/postgresql"
	cat > "$VSS_CONF_DIR/writers.conf.d/postgresql.conf" <<-EOF
	host = $W/sock
	port = 5433
	user = postgres
	database = postgres
	EOF
	# the hook stamps the instants around the filesystems' freeze
	cat > "$VSS_CONF_DIR/hooks.d/10-stamp" <<-EOF
	#!/bin/sh
	echo "\$1 \$(date +%s.%N)" >> $W/log/stamps
	EOF
	chmod 755 "$VSS_CONF_DIR/hooks.d/10-stamp"
}

# view_count SET_ID: start a server on writable views of the set's two
# copies (pg_wal re-pointed into the WAL copy's view), let crash recovery
# finish, run pg_amcheck, print pgbench_history's row count
view_count() {
	local set=$1 ida idb v=$W/view-$1
	ida=$(jq -r ".sets[] | select(.set_id == $set) | .shadows[] | select(.volume == \"/dev/mapper/pg-a\") | .shadow_id" "$VSS_STATE_DIR/catalog.json")
	idb=$(jq -r ".sets[] | select(.set_id == $set) | .shadows[] | select(.volume == \"/dev/mapper/pg-b\") | .shadow_id" "$VSS_STATE_DIR/catalog.json")
	[ -n "$ida" ] && [ -n "$idb" ] || { echo "set $set: no copy of both volumes" >&2; return 1; }
	mkdir -p "$v/a" "$v/b"
	"$B/vss-expose" --writable "$ida" "$v/a" >&2 || return 1
	"$B/vss-expose" --writable "$idb" "$v/b" >&2 || return 1
	ln -sfn "$v/b/pgwal/wal" "$v/a/pgdata/pg_wal"
	rm -f "$v/a/pgdata/postmaster.pid"
	mkdir -p "$v/sock"; chown postgres: "$v/sock"
	runuser -u postgres -- $PGBIN/pg_ctl -D "$v/a/pgdata" -l "$W/log/view-$set.log" -w -t 300 \
		-o "-p 5434 -k $v/sock -c listen_addresses=''" start >&2 || {
		cat "$W/log/view-$set.log" >&2; return 1; }
	runuser -u postgres -- $PGBIN/pg_amcheck -h "$v/sock" -p 5434 -U postgres --all >&2 || {
		echo "set $set: pg_amcheck found corruption" >&2; return 1; }
	runuser -u postgres -- $PGBIN/psql -X -A -t -h "$v/sock" -p 5434 -d postgres \
		-c 'SELECT count(*) FROM pgbench_history'
	runuser -u postgres -- $PGBIN/pg_ctl -D "$v/a/pgdata" -m fast -w stop >/dev/null
	"$B/vss-unexpose" "$ida" >&2 && "$B/vss-unexpose" "$idb" >&2
}

@test "20 sets under pgbench: each recovers, is clean, and holds exactly the transactions committed at its freeze" {
	start_cluster
	runuser -u postgres -- $PGBIN/pgbench -q -i -s 10 -h "$W/sock" -p 5433 postgres 2>&1 | tail -1
	cd "$W/log"
	runuser -u postgres -- $PGBIN/pgbench -n -c 4 -j 2 -T 3600 -l --log-prefix="$W/log/pgb" \
		-h "$W/sock" -p 5433 postgres > "$W/log/pgbench.out" 2>&1 &
	PGB_PID=$!
	sleep 5
	local i set bounds lo hi n t0 took sets=()
	for i in $(seq 1 "$SETS"); do
		t0=$(date +%s%N)
		run --separate-stderr "$B/vss-snapshot" --json "$W/a"
		took=$((($(date +%s%N) - t0) / 1000000))
		echo "set $i: exit $status in $took ms"; echo "$stderr"
		[ "$status" = 0 ]
		[[ $stderr == *"/dev/mapper/pg-b added to the set"* ]]
		set=$(jq -r .set_id <<< "$output")
		sets+=("$set")
		# the writer kept the backup label with the set
		jq -e ".sets[] | select(.set_id == $set) | .writers[] | select(.name == \"postgresql\") | .backup_metadata.backup_label | test(\"START WAL LOCATION\")" \
			"$VSS_STATE_DIR/catalog.json" >/dev/null
		tail -2 "$W/log/stamps" | tr '\n' ' ' > "$W/log/stamps-$set"
		sleep 2
	done
	kill -INT "$PGB_PID"; wait "$PGB_PID" || true
	PGB_PID=
	tail -5 "$W/log/pgbench.out"
	cat "$W"/log/pgb.* > "$W/log/all-tx"
	for set in "${sets[@]}"; do
		# lo: transactions that ended before the freeze; hi: those that began
		# before the thaw (pgbench -l: latency_us at $3, end at $5.$6)
		bounds=$(awk -v f="$(awk '{print $2}' "$W/log/stamps-$set")" \
			     -v t="$(awk '{print $4}' "$W/log/stamps-$set")" '
			{ end = $5 + $6 / 1e6; start = end - $3 / 1e6
			  if (end < f) lo++; if (start < t) hi++ }
			END { print lo + 0, hi + 0 }' "$W/log/all-tx")
		read -r lo hi <<< "$bounds"
		n=$(view_count "$set")
		echo "set $set: $n rows, committed before the freeze $lo, begun before the thaw $hi"
		[ -n "$n" ] && [ "$n" -ge "$lo" ] && [ "$n" -le "$hi" ]
		run "$B/vss-verify" --set "$set"
		echo "$output"
		[ "$status" = 0 ]
	done
	! dmesg | grep -E 'BUG|WARNING|Oops' || false
}
