// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target: the writer protocol (libvsscore/writers.c, man
 * vss-writer.7), the lines a writer sends back.
 *
 * Each input is the writer's answers, one a line: to identify (status,
 * name, components and their files, anything else kept as metadata), then
 * to prepare-backup, prepare-snapshot, freeze, thaw ("held"),
 * post-snapshot and backup-complete, or abort; errors with "message" and
 * "retryable".  A real writer process (helper-writer.c) replays them
 * through the library's pipes, so line framing, garbage, early exits and
 * oversized lines go through the same code as in vss-snapshot.  Then the
 * writer's state is recorded in a catalog, saved, and read back by
 * vss_writers_list().  The first byte chooses the set's mounts, so that
 * the components decide whether the writer takes part.
 *
 * fuzz-sources: libvsscore/[a-z]*.c -libvsscore/dm.c test/fuzz/fake-dm.c test/fuzz/scratch.c
 * fuzz-ldflags: -Wl,--wrap=access,--wrap=execl,--wrap=open -ljson-c -lblkid
 * fuzz-options: -max_len=200000 -timeout=20
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vss-internal.h"
#include "scratch.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vss_ctx *ctx;
static char answers[300], writer[300];
static size_t sink;

static void on_log(int level, const char *msg, void *arg)
{
	(void)arg;
	sink += strlen(msg) + (unsigned int)level;
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "log %d: %s\n", level, msg);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[300], self[512], helper[600];
	ssize_t n;
	const char *d;

	(void)argc; (void)argv;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		abort();
	self[n] = '\0';
	snprintf(helper, sizeof(helper), "%s/helper-writer", dirname(self));
	d = scratch_dir("fuzz-writer");
	snprintf(dir, sizeof(dir), "%s/state", d);
	setenv("VSS_STATE_DIR", dir, 1);
	snprintf(dir, sizeof(dir), "%s/run", d);
	setenv("VSS_RUN_DIR", dir, 1);
	snprintf(dir, sizeof(dir), "%s/conf/writers.d", d);
	if (vss_mkdir_p(dir, 0755))
		abort();
	setenv("VSS_CONF_DIR", dirname(dir), 1);
	snprintf(writer, sizeof(writer), "%s/conf/writers.d/fuzz", d);
	if (symlink(helper, writer))
		abort();
	snprintf(answers, sizeof(answers), "%s/answers", d);
	setenv("FUZZ_WRITER_ANSWERS", answers, 1);
	setenv("FUZZ_EXEC_ALLOW", writer, 1);
	signal(SIGPIPE, SIG_IGN);
	if (vss_ctx_new(&ctx))
		abort();
	vss_ctx_set_log(ctx, on_log, NULL, VSS_LOG_DEBUG);
	if (vss_exec_checked(ctx, writer)) {
		fprintf(stderr, "fuzz-writer: %s: the writer cannot run (must be a root-owned "
			"executable: run as root, with helper-writer built)\n", helper);
		exit(1);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const volumes[] = { "/dev/mapper/vol", NULL };
	static const char *const mount_sets[4][3] = {
		{ "/srv/db", NULL }, { "/", NULL }, { "", "/var", NULL }, { NULL },
	};
	static const char *const events[] = {
		"prepare-backup", "prepare-snapshot", "freeze", "thaw", "post-snapshot",
	};
	struct vss_set_opts opts = { .freeze_timeout_ms = 5000 };
	struct vss_writers *ws = NULL;
	struct vss_writer_info *wi;
	const char *failed, *phase;
	json_object *root;
	unsigned int sel = size ? data[0] & 3 : 0;
	size_t i, n;
	int fd, r;

	fd = open(answers, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, data + !!size, size - !!size) != (ssize_t)(size - !!size))
		abort();
	close(fd);

	r = vss_writers_start(ctx, 7, volumes, sel == 3 ? NULL : mount_sets[sel], &opts, &ws);
	for (i = 0; r == 0 && i < sizeof(events) / sizeof(events[0]); i++)
		r = vss_writers_event(ws, events[i], 5000);
	if (r == 0) {
		sink += vss_writers_all_held(ws);
		vss_writers_event(ws, "backup-complete", 5000);
	}
	sink += vss_writers_retryable(ws);
	failed = vss_writers_failed(ws, &phase);
	if (r == -ECANCELED && !failed)
		abort();	/* a failure names the writer that failed */
	if (failed && !phase)
		abort();
	if (vss_catalog_load(ctx, &root) == 0) {
		vss_writers_record(ws, root);
		vss_catalog_save(ctx, root);
		json_object_put(root);
	}
	vss_writers_stop(ws, r != 0);

	if (vss_writers_list(ctx, false, &wi, &n) == 0) {
		for (i = 0; i < n; i++) {
			if (!memchr(wi[i].metadata_json, '\0', sizeof(wi[i].metadata_json)))
				abort();
			sink += strlen(wi[i].name) + strlen(wi[i].state) + wi[i].last_set_id;
		}
		free(wi);
	}
	return 0;
}
