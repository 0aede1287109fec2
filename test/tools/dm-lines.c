// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dm-lines: many device-mapper operations from one process, for the
 * kernel fuzz test (test/target/fuzz-kernel.bats), where starting one
 * dmsetup per line costs more than the kernel's work under emulation.
 *
 *   dm-lines create NAME  < TABLES    each line "<ro|rw> <start> <length>
 *                                     <target> [<params>]": create NAME with
 *                                     that table (as dmsetup create does),
 *                                     and remove it if it loaded
 *   dm-lines message NAME < MESSAGES  each line sent to NAME at sector 0
 *
 * Prints one line per input, as soon as it is done: "loaded", "refused
 * ERRNO" (the kernel's answer, e.g. "refused 22"), "sent", "error ERRNO",
 * or "stuck" when a loaded device cannot be removed (then it stops).
 * libdevmapper's own messages go to stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <libdevmapper.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int task_err(struct dm_task *dmt)
{
	int e = dm_task_get_errno(dmt);

	return e ? e : EIO;
}

static int do_remove(const char *name)
{
	int tries, e = 0;

	for (tries = 0; tries < 20; tries++) {
		struct dm_task *dmt = dm_task_create(DM_DEVICE_REMOVE);

		if (!dmt || !dm_task_set_name(dmt, name))
			return ENOMEM;
		dm_task_retry_remove(dmt);
		e = dm_task_run(dmt) ? 0 : task_err(dmt);
		dm_task_destroy(dmt);
		if (e != EBUSY)
			break;
	}
	return e;
}

static void create_line(const char *name, char *line)
{
	unsigned long long start, len;
	char mode[4], type[64];
	int off = 0, e;
	struct dm_task *dmt;

	if (sscanf(line, "%3s %llu %llu %63s %n", mode, &start, &len, type, &off) < 4) {
		printf("refused %d\n", EINVAL);
		return;
	}
	dmt = dm_task_create(DM_DEVICE_CREATE);
	if (!dmt || !dm_task_set_name(dmt, name) ||
	    !dm_task_add_target(dmt, start, len, type, off ? line + off : ""))
		exit(3);
	if (!strcmp(mode, "ro"))
		dm_task_set_ro(dmt);
	e = dm_task_run(dmt) ? 0 : task_err(dmt);
	dm_task_destroy(dmt);
	if (e) {
		printf("refused %d\n", e);
		return;
	}
	e = do_remove(name);
	if (e) {
		printf("stuck %d\n", e);
		fflush(stdout);
		exit(2);
	}
	printf("loaded\n");
}

static void message_line(const char *name, const char *line)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_TARGET_MSG);
	int e;

	if (!dmt || !dm_task_set_name(dmt, name) || !dm_task_set_sector(dmt, 0) ||
	    !dm_task_set_message(dmt, line))
		exit(3);
	e = dm_task_run(dmt) ? 0 : task_err(dmt);
	dm_task_destroy(dmt);
	if (e)
		printf("error %d\n", e);
	else
		printf("sent\n");
}

int main(int argc, char **argv)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (argc != 3 || (strcmp(argv[1], "create") && strcmp(argv[1], "message"))) {
		fprintf(stderr, "usage: dm-lines create|message NAME < LINES\n");
		return 1;
	}
	dm_udev_set_sync_support(0);
	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((n = getline(&line, &cap, stdin)) >= 0) {
		if (n && line[n - 1] == '\n')
			line[--n] = '\0';
		if (!strcmp(argv[1], "create"))
			create_line(argv[2], line);
		else
			message_line(argv[2], line);
	}
	free(line);
	return 0;
}
