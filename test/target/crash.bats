#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Power cuts: a workload writes the origin of a vss-origin device while
# snapshots are created and deleted, all of it recorded by dm-log-writes;
# the log is then replayed to many crash points (every mark, flushes as
# they completed and torn in the middle with several random draws, sector
# by sector as on a device that writes only 512 bytes atomically, other
# entries sampled evenly), and at each point the store must load (a torn
# exception block is taken record by record: format version 3), with
# vss-check and its store reader agreeing; every
# snapshot whose create had returned must read back the content recorded at
# its creation or be reported invalid (EIO); the origin must hold a state
# the workload could have left.  One process (test/tools/crash-check)
# replays and checks, thousands of points in a few minutes.  See
# crash-helpers.bash.
#
#   scripts/crash-test                 (boots the VM; VSS_LONG=1: long mode)
#   scripts/vm-run -- bats test/target/crash.bats
#
# CRASH_POINTS, CRASH_ROUNDS, CRASH_SEED, CRASH_TORN, CRASH_PIECE (4096: 4 KiB
# pieces), CRASH_BUDGET, CRASH_SETS and
# CRASH_CHECK_EVERY override the mode's numbers.

load crash-helpers

setup_file() { crash_setup_file; }

@test "every snapshot survives a power cut at any crash point, or is reported invalid" {
	local rounds points seed t0 t1 t2
	if [ -n "${VSS_LONG:-}" ]; then
		rounds=${CRASH_ROUNDS:-150} points=${CRASH_POINTS:-30000}
	else
		rounds=${CRASH_ROUNDS:-30} points=${CRASH_POINTS:-6000}
	fi
	seed=${CRASH_SEED:-$RANDOM}
	# torn points keep or lose each 512-byte sector of the volatile writes
	export REPLAY_PIECE=${CRASH_PIECE:-512}
	echo "# workload: $rounds rounds, seed $seed (CRASH_SEED=$seed repeats it); torn in pieces of $REPLAY_PIECE bytes" >&3
	t0=$SECONDS
	crash_record_setup
	crash_workload "$rounds" "$seed"
	echo "# workload: $CR_WID writes, $(wc -l < "$CR_CREATED") snapshots created, $(wc -l < "$CR_DELETED") deleted" >&3
	crash_record_finish
	t1=$SECONDS
	crash_points "$points"
	echo "# log: $(grep -vc '^entries' "$T/entries") entries, $(grep -c ' flush ' "$T/entries") flushes, $(grep -c ' mark ' "$T/entries") marks; $(wc -l < "$T/points") points chosen" >&3
	crash_replay_setup
	crash_replay_all
	t2=$SECONDS
	echo "# time: workload $((t1 - t0)) s, replay and checks $((t2 - t1)) s" >&3
	crash_report >&3
	check_dmesg
	((CR_N_POINTS > 0))
	((CR_N_FAIL == 0))
	# no crash point leaves a store the kernel refuses
	((CR_N_REFUSED == 0))
}
