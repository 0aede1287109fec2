// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target: the parsers of device-mapper status and table lines
 * (libvsscore/targets.c), through vss_shadow_get_state()
 * (libvsscore/shadow-state.c), which reads
 * the status of a shadow copy's device (vss-snap or snapshot), the status
 * of its volume's vss-origin, and a snapshot's table for its chunk size.
 *
 * The input sets the devices of the fake device-mapper (fake-dm.h), one
 * target a line: "<name> <table|status> <type> <params>", e.g.
 *
 *   shadow status vss-snap 2 invalid 0
 *   vol status vss-origin 8 3/112 1/1 2 rw
 *
 * and the state is asked for a shadow copy /dev/mapper/shadow of volume
 * /dev/mapper/vol, under each built-in provider, for snapshot ids 1 to 4
 * of a real store (formatted at start: 1 valid, 2 dropped, 3 invalid, 4
 * absent), so that an "invalid" status leads to the store's table.  Each
 * line also goes to the typed parsers of targets.c directly.
 *
 * fuzz-sources: libvsscore/[a-z]*.c -libvsscore/dm.c test/fuzz/fake-dm.c test/fuzz/scratch.c
 * fuzz-ldflags: -Wl,--wrap=access,--wrap=execl,--wrap=open -ljson-c -lblkid
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vss-internal.h"
#include "libvsscore-store.h"
#include "store-write.h"
#include "vss-ondisk.h"
#include "fake-dm.h"
#include "scratch.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vss_ctx *ctx;
static char store_path[300];
static size_t sink;

static void on_log(int level, const char *msg, void *arg)
{
	(void)arg;
	sink += strlen(msg) + (unsigned int)level;
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "log %d: %s\n", level, msg);
}

static void make_store(void)
{
	struct vss_store *s;
	int fd = open(store_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || ftruncate(fd, 16 * 4096) || close(fd))
		abort();
	if (vss_store_format(store_path, 256, 8) ||
	    vss_store_open(store_path, VSS_STORE_WRITE, NULL, &s) || vss_store_load(s))
		abort();
	if (vss_store_snap_create(s, 1, 1700000000, NULL) ||
	    vss_store_snap_create(s, 2, 1700000001, NULL) ||
	    vss_store_snap_create(s, 3, 1700000002, NULL) ||
	    vss_store_snap_set_state(s, 2, VSS_SNAP_DROPPED) ||
	    vss_store_snap_set_state(s, 3, VSS_SNAP_INVALID) || vss_store_write_sb(s))
		abort();
	vss_store_close(s);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *d;

	(void)argc; (void)argv;
	d = scratch_dir("fuzz-status");
	setenv("VSS_STATE_DIR", d, 1);
	setenv("VSS_RUN_DIR", d, 1);
	setenv("VSS_CONF_DIR", d, 1);
	unsetenv("FUZZ_EXEC_ALLOW");
	snprintf(store_path, sizeof(store_path), "%s/store", d);
	make_store();
	if (vss_ctx_new(&ctx))
		abort();
	vss_ctx_set_log(ctx, on_log, NULL, VSS_LOG_DEBUG);
	return 0;
}

static const char *const known_states[] = {
	"valid", "invalid", "dropped", "unknown", "missing", "creating", "deleting", NULL
};

static void check_state(const struct vss_shadow_state *st)
{
	size_t i;

	for (i = 0; known_states[i]; i++)
		if (!strcmp(st->state, known_states[i]))
			break;
	if (!known_states[i])
		abort();		/* a state no caller knows */
	if (memchr(st->detail, '\0', sizeof(st->detail)) == NULL ||
	    memchr(st->mountpoint, '\0', sizeof(st->mountpoint)) == NULL)
		abort();
	/* Only a valid copy has chunks of its own; dm-vss reports what it read. */
	if (strcmp(st->state, "valid") && st->copied_chunks)
		abort();
	if (!st->usage_known && (st->store_used_bytes || st->store_size_bytes))
		abort();
	sink += st->store_used_bytes + st->store_size_bytes + st->device_present;
}

/* Each line of the input straight to the typed parsers of targets.c too. */
static void parse_lines(const uint8_t *data, size_t size)
{
	struct vss_origin_status os;
	struct vss_snapshot_status ps;
	struct vss_snap_status ss;
	char line[512];
	size_t i = 0, n;

	while (i < size) {
		for (n = 0; i + n < size && data[i + n] != '\n' && n < sizeof(line) - 1; n++)
			line[n] = (char)data[i + n];
		line[n] = '\0';
		i += n + 1;
		if (!vss_status_snap_parse(line, &ss) &&
		    (!memchr(ss.state, '\0', sizeof(ss.state))))
			abort();
		if (!vss_status_origin_parse(line, &os) && !memchr(os.mode, '\0', sizeof(os.mode)))
			abort();
		if (!vss_status_snapshot_parse(line, &ps) && ps.invalid && ps.overflow)
			abort();
		sink += (unsigned int)(vss_status_device_valid("vss-snap", line) + 1) +
			(unsigned int)(vss_status_device_valid("snapshot", line) + 1) +
			vss_table_snapshot_chunk(line);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const providers[] = { "dm-vss-cow", "dm-snapshot", "dm-vss-clone" };
	struct vss_shadow_info info;
	struct vss_shadow_state st;
	unsigned int p, id;

	parse_lines(data, size);
	fake_dm_parse((const char *)data, size);
	for (p = 0; p < 3; p++) {
		for (id = 1; id <= 4; id++) {
			memset(&info, 0, sizeof(info));
			info.shadow_id = id;
			info.set_id = 1;
			info.snap_id = id;
			snprintf(info.volume, sizeof(info.volume), "/dev/mapper/vol");
			snprintf(info.device, sizeof(info.device), "/dev/mapper/shadow");
			snprintf(info.provider, sizeof(info.provider), "%s", providers[p]);
			snprintf(info.store, sizeof(info.store), "%s", store_path);
			snprintf(info.state, sizeof(info.state), "created");
			if (vss_shadow_get_state(ctx, &info, &st))
				abort();
			check_state(&st);
			if (getenv("FUZZ_VERBOSE"))
				fprintf(stderr, "%s snap %u: %s (%s) copied %llu used %llu/%llu\n",
					providers[p], id, st.state, st.detail,
					(unsigned long long)st.copied_chunks,
					(unsigned long long)st.store_used_bytes,
					(unsigned long long)st.store_size_bytes);
		}
	}
	fake_dm_reset();
	return 0;
}
