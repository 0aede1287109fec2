#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The mariadb writer under load, inside the test VM (scripts/run-tests
# --long): MariaDB with its binary log on ext4 over a vss-managed volume,
# sysbench oltp_write_only (4 threads) and a counter loop (one INSERT per
# statement, its start and end stamped) running the whole time; 20
# consecutive sets; each checked through a writable view: mariadbd starts on
# it, InnoDB's recovery completes, mariadb-check --all-databases is clean,
# the counter table has no gap and holds every row whose INSERT ended before
# the freeze and none whose INSERT began after the thaw (a hook's stamps);
# the set carries the binary log position; vss-verify passes on each set.

bats_require_minimum_version 1.5.0

B=$BATS_TEST_DIRNAME/../../build/bin
TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
SETS=${VSS_LONG_MARIA_SETS:-20}

setup() {
	[ "$(id -u)" = 0 ] || skip "runs as root in the VM (scripts/run-tests --long)"
	command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] ||
		skip "mariadb-server is not installed (scripts/install-deps)"
	W=/tmp/long-maria
	rm -rf "$W"; mkdir -p "$W/state" "$W/run" "$W/conf/writers.d" "$W/conf/hooks.d" \
		"$W/conf/writers.conf.d" "$W/sock" "$W/log"
	chmod 755 "$W"
	chown mysql: "$W/sock"
	export VSS_STATE_DIR=$W/state VSS_RUN_DIR=$W/run VSS_CONF_DIR=$W/conf
	LOOPS=()
	modprobe dm-vss
	modprobe dm-snapshot
}

teardown() {
	[ -n "${LOAD_PIDS:-}" ] && kill $LOAD_PIDS 2>/dev/null; wait 2>/dev/null
	for s in "$W"/view-*/sock/mysqld.sock "$W/sock/mysqld.sock"; do
		[ -S "$s" ] && mariadb-admin --socket="$s" -uroot shutdown >/dev/null 2>&1
	done
	sleep 1
	for m in $(awk '$2 ~ "^/tmp/long-maria/" {print $2}' /proc/mounts); do
		fsfreeze -u "$m" >/dev/null 2>&1
	done
	for id in $(jq -r '.sets[]?.shadows[]?.shadow_id' "$VSS_STATE_DIR/catalog.json" 2>/dev/null); do
		"$B/vss-unexpose" "$id" >/dev/null 2>&1
	done
	for m in $(awk '$2 ~ "^/tmp/long-maria/" {print $2}' /proc/mounts | sort -r); do
		umount -l "$m"
	done
	udevadm settle --timeout=10 >/dev/null 2>&1
	for pass in 1 2 3; do
		for d in $(dmsetup ls 2>/dev/null | awk '$1 ~ /^(vss-|my-)/ {print $1}'); do
			dmsetup remove "$d" >/dev/null 2>&1
		done
	done
	for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done
	rm -rf "$W"
}

vol() {
	local l s
	truncate -s "$2M" "$W/$1.img" "$W/$1.store"
	l=$(losetup -f --show "$W/$1.img"); LOOPS+=("$l")
	s=$(losetup -f --show "$W/$1.store"); LOOPS+=("$s")
	dmsetup create "my-$1" --table "0 $(($2 * 2048)) linear $l 0"
	udevadm settle --timeout=10
	mkfs.ext4 -q "/dev/mapper/my-$1"
	mkdir -p "$W/$1"
	mount "/dev/mapper/my-$1" "$W/$1"
	"$B/vss-storage" add --for "$W/$1" --on "$s"
}

sql() { mariadb --socket="$W/sock/mysqld.sock" -uroot -N -B "$@"; }

start_server() {
	vol d 512
	mkdir -p "$W/d/data"; chown mysql: "$W/d/data"
	mariadb-install-db --no-defaults --user=mysql --datadir="$W/d/data" \
		--auth-root-authentication-method=socket >"$W/log/install.log" 2>&1 ||
		{ cat "$W/log/install.log"; return 1; }
	mariadbd --no-defaults --user=mysql --datadir="$W/d/data" --socket="$W/sock/mysqld.sock" \
		--skip-networking --log-bin="$W/d/data/binlog" --server-id=1 \
		--innodb-buffer-pool-size=64M --innodb-log-file-size=48M \
		--pid-file="$W/sock/mysqld.pid" --log-error="$W/log/server.err" &
	for _ in $(seq 1 120); do sql -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 1; done
	sql -e 'SELECT 1' >/dev/null || { cat "$W/log/server.err"; return 1; }
	install -m 0755 "$TOP/scripts/writers/mariadb" "$VSS_CONF_DIR/writers.d/mariadb"
	cat > "$VSS_CONF_DIR/writers.conf.d/mariadb.conf" <<-EOF
	socket = $W/sock/mysqld.sock
	user = root
	EOF
	cat > "$VSS_CONF_DIR/hooks.d/10-stamp" <<-EOF
	#!/bin/sh
	echo "\$1 \$(date +%s.%N)" >> $W/log/stamps
	EOF
	chmod 755 "$VSS_CONF_DIR/hooks.d/10-stamp"
}

# view_check SET_ID: mariadbd on a writable view of the set's copy:
# recovery, mariadb-check clean; prints the counter table's count and max
view_check() {
	local set=$1 id v=$W/view-$1
	id=$(jq -r ".sets[] | select(.set_id == $set) | .shadows[0].shadow_id" "$VSS_STATE_DIR/catalog.json")
	mkdir -p "$v/m" "$v/sock"; chown mysql: "$v/sock"
	"$B/vss-expose" --writable "$id" "$v/m" >&2 || return 1
	rm -f "$v/m/data/"*.pid
	mariadbd --no-defaults --user=mysql --datadir="$v/m/data" --socket="$v/sock/mysqld.sock" \
		--skip-networking --innodb-buffer-pool-size=64M --innodb-log-file-size=48M \
		--pid-file="$v/sock/mysqld.pid" --log-error="$W/log/view-$set.err" &
	for _ in $(seq 1 300); do
		mariadb --socket="$v/sock/mysqld.sock" -uroot -e 'SELECT 1' >/dev/null 2>&1 && break
		sleep 1
	done
	mariadb-check --socket="$v/sock/mysqld.sock" -uroot --all-databases > "$W/log/check-$set" 2>&1 || {
		cat "$W/log/check-$set" "$W/log/view-$set.err" >&2; return 1; }
	! grep -v -E '\sOK$|^[a-z_0-9]+$|^note|^status' "$W/log/check-$set" | grep -qi 'error\|corrupt' || {
		cat "$W/log/check-$set" >&2; return 1; }
	mariadb --socket="$v/sock/mysqld.sock" -uroot -N -B -e 'SELECT count(*), coalesce(max(id), 0) FROM t.counter'
	mariadb-admin --socket="$v/sock/mysqld.sock" -uroot shutdown >/dev/null 2>&1
	sleep 1
	"$B/vss-unexpose" "$id" >&2
}

@test "20 sets under sysbench: each recovers, CHECK TABLE is clean, the counter holds exactly what committed at its freeze" {
	start_server
	sql -e 'CREATE DATABASE sbtest; CREATE DATABASE t;
		CREATE TABLE t.counter (id INT PRIMARY KEY, at DOUBLE) ENGINE=InnoDB'
	sysbench oltp_write_only --mysql-socket="$W/sock/mysqld.sock" --mysql-user=root \
		--tables=2 --table-size=5000 prepare > "$W/log/sb-prepare" 2>&1
	sysbench oltp_write_only --mysql-socket="$W/sock/mysqld.sock" --mysql-user=root \
		--tables=2 --table-size=5000 --threads=4 --time=3600 run > "$W/log/sb-run" 2>&1 &
	LOAD_PIDS=$!
	( i=0
	  exec 3> "$W/log/counter"
	  while :; do
		i=$((i + 1)); b=$(date +%s.%N)
		sql -e "INSERT INTO t.counter VALUES ($i, $b)" || break
		echo "$i $b $(date +%s.%N)" >&3
	  done ) &
	LOAD_PIDS="$LOAD_PIDS $!"
	sleep 5
	local i set sets=() lo hi got f t
	for i in $(seq 1 "$SETS"); do
		run --separate-stderr "$B/vss-snapshot" --json "$W/d"
		echo "set $i: exit $status"; echo "$stderr"
		[ "$status" = 0 ]
		set=$(jq -r .set_id <<< "$output")
		sets+=("$set")
		jq -e ".sets[] | select(.set_id == $set) | .writers[] | select(.name == \"mariadb\") | .backup_metadata.binlog_file | test(\"binlog\")" \
			"$VSS_STATE_DIR/catalog.json" >/dev/null
		tail -2 "$W/log/stamps" > "$W/log/stamps-$set"
		sleep 2
	done
	kill $LOAD_PIDS; wait $LOAD_PIDS 2>/dev/null || true
	LOAD_PIDS=
	for set in "${sets[@]}"; do
		f=$(awk 'NR == 1 {print $2}' "$W/log/stamps-$set")
		t=$(awk 'NR == 2 {print $2}' "$W/log/stamps-$set")
		# lo: INSERTs that ended before the freeze; hi: those begun before the thaw
		lo=$(awk -v f="$f" '$3 < f {n = $1} END {print n + 0}' "$W/log/counter")
		hi=$(awk -v t="$t" '$2 < t {n = $1} END {print n + 0}' "$W/log/counter")
		got=$(view_check "$set")
		echo "set $set: count and max $got, ended before the freeze $lo, begun before the thaw $hi"
		read -r n max <<< "$got"
		[ -n "$n" ] && [ "$n" = "$max" ] && [ "$max" -ge "$lo" ] && [ "$max" -le "$hi" ]
		run "$B/vss-verify" --set "$set"
		echo "$output"
		[ "$status" = 0 ]
	done
}
