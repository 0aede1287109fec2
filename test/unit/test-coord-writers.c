// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libvsscore: the writer protocol with real child processes (well-behaved,
 * vetoing, hanging, dying, answering garbage), writer selection by volume,
 * and hooks.d/ order and veto.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "vss-internal.h"

static char dir[64];
static struct vss_ctx *ctx;

/* A writer answering ok to all but $1 (event), where it does $2. */
static const char writer_tpl[] =
	"#!/bin/sh\n"
	"while IFS= read -r line; do\n"
	"  ev=$(printf '%%s' \"$line\" | sed -n 's/.*\"event\":\"\\([a-z-]*\\)\".*/\\1/p')\n"
	"  echo \"$ev\" >> %s/%s.events\n"
	"  if [ \"$ev\" = \"%s\" ]; then %s; fi\n"
	"  case $ev in\n"
	"  identify) echo '{\"status\":\"ok\",\"name\":\"%s\",\"instance\":\"i1\",\"usage\":\"test\","
	"\"components\":[{\"name\":\"db\",\"files\":[\"%s\"],\"restore\":\"replace\"}]}' ;;\n"
	"  thaw) echo '{\"status\":\"ok\",\"held\":true}' ;;\n"
	"  *) echo '{\"status\":\"ok\"}' ;;\n"
	"  esac\n"
	"done\n";

static void put_script(const char *sub, const char *name, const char *text, mode_t mode)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/conf/%s", dir, sub);
	vss_mkdir_p(path, 0755);
	snprintf(path, sizeof(path), "%s/conf/%s/%s", dir, sub, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static void put_writer(const char *name, const char *event, const char *action,
		       const char *file)
{
	char text[2048];

	snprintf(text, sizeof(text), writer_tpl, dir, name, event, action, name, file);
	put_script("writers.d", name, text, 0755);
}

static int setup(void **state)
{
	char buf[128];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vss-ut-wr.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(buf, sizeof(buf), "%s/conf", dir);
	setenv("VSS_CONF_DIR", buf, 1);
	snprintf(buf, sizeof(buf), "%s/state", dir);
	setenv("VSS_STATE_DIR", buf, 1);
	snprintf(buf, sizeof(buf), "%s/run", dir);
	setenv("VSS_RUN_DIR", buf, 1);
	return vss_ctx_new(&ctx);
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	vss_ctx_free(ctx);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static int clean(void **state)
{
	char cmd[256];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s/conf %s/*.events %s/hooks.log", dir, dir, dir);
	return system(cmd);
}

static const char *const mounts[] = { "/srv/data", NULL };
static const char *const vols[] = { "/dev/mapper/data", NULL };

static void test_writer_ok(void **state)
{
	struct vss_set_opts opts = { .freeze_timeout_ms = 5000 };
	struct vss_writers *ws;
	const char *phase;

	(void)state;
	put_writer("good", "none", ":", "/srv/data/db.sqlite");
	assert_int_equal(vss_writers_start(ctx, 1, vols, mounts, &opts, &ws), 0);
	assert_int_equal(vss_writers_event(ws, "prepare-backup", 0), 0);
	assert_int_equal(vss_writers_event(ws, "prepare-snapshot", 0), 0);
	assert_int_equal(vss_writers_event(ws, "freeze", 0), 0);
	assert_int_equal(vss_writers_event(ws, "thaw", 0), 0);
	assert_true(vss_writers_all_held(ws));
	assert_null(vss_writers_failed(ws, &phase));
	vss_writers_stop(ws, false);
}

static void test_writer_veto(void **state)
{
	struct vss_set_opts opts = { .freeze_timeout_ms = 5000 };
	struct vss_writers *ws;
	const char *phase;

	(void)state;
	put_writer("veto", "freeze",
		   "echo '{\"status\":\"error\",\"retryable\":true,\"message\":\"busy\"}'; continue",
		   "/srv/data/x");
	assert_int_equal(vss_writers_start(ctx, 1, vols, mounts, &opts, &ws), 0);
	assert_int_equal(vss_writers_event(ws, "freeze", 0), -ECANCELED);
	assert_string_equal(vss_writers_failed(ws, &phase), "veto");
	assert_string_equal(phase, "freeze");
	assert_true(vss_writers_retryable(ws));
	vss_writers_stop(ws, true);
}

static void test_writer_hang(void **state)
{
	struct vss_set_opts opts = { .freeze_timeout_ms = 300 };
	struct vss_writers *ws;
	const char *phase;
	uint64_t t0;

	(void)state;
	put_writer("hang", "freeze", "sleep 30", "/srv/data/x");
	assert_int_equal(vss_writers_start(ctx, 1, vols, mounts, &opts, &ws), 0);
	t0 = vss_now_ms();
	assert_int_equal(vss_writers_event(ws, "freeze", 0), -ECANCELED);
	assert_true(vss_now_ms() - t0 < 2000);
	assert_string_equal(vss_writers_failed(ws, &phase), "hang");
	assert_string_equal(phase, "freeze");
	assert_false(vss_writers_retryable(ws));
	vss_writers_stop(ws, true);
}

static void test_writer_dies(void **state)
{
	struct vss_set_opts opts = { .freeze_timeout_ms = 5000 };
	struct vss_writers *ws;
	const char *phase;

	(void)state;
	put_writer("dies", "prepare-snapshot", "exit 3", "/srv/data/x");
	assert_int_equal(vss_writers_start(ctx, 1, vols, mounts, &opts, &ws), 0);
	assert_int_equal(vss_writers_event(ws, "prepare-backup", 0), 0);
	assert_int_equal(vss_writers_event(ws, "prepare-snapshot", 0), -ECANCELED);
	assert_string_equal(vss_writers_failed(ws, &phase), "dies");
	assert_string_equal(phase, "prepare-snapshot");
	/* a dead writer cannot break the later events (no SIGPIPE) */
	assert_int_equal(vss_writers_event(ws, "abort", 0), 0);
	vss_writers_stop(ws, true);
}

static void test_writer_garbage(void **state)
{
	struct vss_set_opts opts = { .freeze_timeout_ms = 5000 };
	struct vss_writers *ws;
	const char *phase;

	(void)state;
	put_writer("garbage", "identify", "echo 'hello there'; continue", "/srv/data/x");
	assert_int_equal(vss_writers_start(ctx, 1, vols, mounts, &opts, &ws), -ECANCELED);
	assert_string_equal(vss_writers_failed(ws, &phase), "garbage");
	assert_string_equal(phase, "identify");
	vss_writers_stop(ws, true);
}

/* A writer whose files live elsewhere is left out; unless named. */
static void test_writer_selection(void **state)
{
	const char *const named[] = { "elsewhere", NULL };
	struct vss_set_opts opts = { .freeze_timeout_ms = 5000 };
	struct vss_writers *ws;
	char path[160], buf[256];
	FILE *f;

	(void)state;
	put_writer("elsewhere", "none", ":", "/var/other/db");
	assert_int_equal(vss_writers_start(ctx, 1, vols, mounts, &opts, &ws), 0);
	assert_int_equal(vss_writers_event(ws, "freeze", 0), 0);
	vss_writers_stop(ws, false);
	snprintf(path, sizeof(path), "%s/elsewhere.events", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	assert_string_equal(buf, "identify\n");
	assert_null(fgets(buf, sizeof(buf), f));
	fclose(f);

	opts.writers = named;
	assert_int_equal(vss_writers_start(ctx, 1, vols, mounts, &opts, &ws), 0);
	assert_int_equal(vss_writers_event(ws, "freeze", 0), 0);
	vss_writers_stop(ws, false);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	assert_non_null(fgets(buf, sizeof(buf), f));
	assert_non_null(fgets(buf, sizeof(buf), f));
	assert_string_equal(buf, "freeze\n");
	fclose(f);
}

static void test_writer_unsafe_refused(void **state)
{
	struct vss_set_opts opts = { .freeze_timeout_ms = 5000 };
	struct vss_writers *ws;
	char path[160];

	(void)state;
	put_writer("unsafe", "none", ":", "/srv/data/x");
	snprintf(path, sizeof(path), "%s/conf/writers.d/unsafe", dir);
	chmod(path, 0777);
	assert_int_equal(vss_writers_start(ctx, 1, vols, mounts, &opts, &ws), 0);
	vss_writers_stop(ws, false);
	snprintf(path, sizeof(path), "%s/unsafe.events", dir);
	assert_int_not_equal(access(path, F_OK), 0);
}

static void test_hooks_order_and_veto(void **state)
{
	char text[256], log[160], buf[64], failed[64];
	FILE *f;

	(void)state;
	snprintf(log, sizeof(log), "%s/hooks.log", dir);
	snprintf(text, sizeof(text), "#!/bin/sh\necho \"a $1\" >> %s\n", log);
	put_script("hooks.d", "10-a", text, 0755);
	snprintf(text, sizeof(text), "#!/bin/sh\necho \"b $1\" >> %s\n", log);
	put_script("hooks.d", "20-b", text, 0755);
	assert_int_equal(vss_hooks_run(ctx, "freeze", 5000, failed, sizeof(failed)), 0);
	assert_int_equal(vss_hooks_run(ctx, "thaw", 5000, failed, sizeof(failed)), 0);
	f = fopen(log, "r");
	assert_non_null(f);
	assert_string_equal(fgets(buf, sizeof(buf), f), "a freeze\n");
	assert_string_equal(fgets(buf, sizeof(buf), f), "b freeze\n");
	assert_string_equal(fgets(buf, sizeof(buf), f), "b thaw\n");
	assert_string_equal(fgets(buf, sizeof(buf), f), "a thaw\n");
	fclose(f);
	unlink(log);

	/* 20-b vetoes: 10-a is thawed again, the set is vetoed */
	snprintf(text, sizeof(text), "#!/bin/sh\necho \"b $1\" >> %s\n[ \"$1\" != freeze ]\n", log);
	put_script("hooks.d", "20-b", text, 0755);
	assert_int_equal(vss_hooks_run(ctx, "freeze", 5000, failed, sizeof(failed)), -ECANCELED);
	assert_string_equal(failed, "20-b");
	f = fopen(log, "r");
	assert_non_null(f);
	assert_string_equal(fgets(buf, sizeof(buf), f), "a freeze\n");
	assert_string_equal(fgets(buf, sizeof(buf), f), "b freeze\n");
	assert_string_equal(fgets(buf, sizeof(buf), f), "a thaw\n");
	assert_null(fgets(buf, sizeof(buf), f));
	fclose(f);
}

/* How many lines of a writer's event log are this event. */
static int count_events(const char *name, const char *event)
{
	char path[160], buf[64], want[64];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.events", dir, name);
	snprintf(want, sizeof(want), "%s\n", event);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(buf, sizeof(buf), f))
		n += !strcmp(buf, want);
	fclose(f);
	return n;
}

/*
 * What vss_set_retryable() (and so vss-snapshot --retry) rests on: a
 * failure is retryable only when every writer that failed said
 * "retryable": true; "retryable": false, no "retryable" at all, a death or
 * garbage are not, and one non-retryable writer makes the whole failure so.
 */
static void test_writer_retryable_only_when_said(void **state)
{
	struct vss_set_opts opts = { .freeze_timeout_ms = 5000 };
	struct vss_writers *ws;
	const char *phase;

	(void)state;
	put_writer("nope", "freeze",
		   "echo '{\"status\":\"error\",\"retryable\":false,\"message\":\"no\"}'; continue",
		   "/srv/data/x");
	assert_int_equal(vss_writers_start(ctx, 1, vols, mounts, &opts, &ws), 0);
	assert_int_equal(vss_writers_event(ws, "freeze", 0), -ECANCELED);
	assert_string_equal(vss_writers_failed(ws, &phase), "nope");
	assert_false(vss_writers_retryable(ws));
	vss_writers_stop(ws, true);
	clean(NULL);

	/* an error without the field is not retryable */
	put_writer("silent", "prepare-snapshot",
		   "echo '{\"status\":\"error\",\"message\":\"no\"}'; continue", "/srv/data/x");
	assert_int_equal(vss_writers_start(ctx, 1, vols, mounts, &opts, &ws), 0);
	assert_int_equal(vss_writers_event(ws, "prepare-snapshot", 0), -ECANCELED);
	assert_false(vss_writers_retryable(ws));
	vss_writers_stop(ws, true);
	clean(NULL);

	/* a death or garbage is never retryable */
	put_writer("dies", "freeze", "exit 3", "/srv/data/x");
	assert_int_equal(vss_writers_start(ctx, 1, vols, mounts, &opts, &ws), 0);
	assert_int_equal(vss_writers_event(ws, "freeze", 0), -ECANCELED);
	assert_false(vss_writers_retryable(ws));
	vss_writers_stop(ws, true);
	clean(NULL);
	put_writer("garbage", "freeze", "echo 'retryable: true'; continue", "/srv/data/x");
	assert_int_equal(vss_writers_start(ctx, 1, vols, mounts, &opts, &ws), 0);
	assert_int_equal(vss_writers_event(ws, "freeze", 0), -ECANCELED);
	assert_false(vss_writers_retryable(ws));
	vss_writers_stop(ws, true);
	clean(NULL);

	/* thaw and backup-complete reach every writer: two fail, one of them for good */
	put_writer("a-busy", "thaw",
		   "echo '{\"status\":\"error\",\"retryable\":true,\"message\":\"busy\"}'; continue",
		   "/srv/data/x");
	put_writer("b-broken", "thaw",
		   "echo '{\"status\":\"error\",\"retryable\":false,\"message\":\"broken\"}'; continue",
		   "/srv/data/y");
	assert_int_equal(vss_writers_start(ctx, 1, vols, mounts, &opts, &ws), 0);
	assert_int_equal(vss_writers_event(ws, "freeze", 0), 0);
	assert_int_equal(vss_writers_event(ws, "thaw", 0), -ECANCELED);
	assert_int_equal(count_events("b-broken", "thaw"), 1);
	assert_false(vss_writers_retryable(ws));
	vss_writers_stop(ws, true);
	clean(NULL);

	/* writes not held: no writer failed, the set may be tried again */
	put_writer("unheld", "thaw", "echo '{\"status\":\"ok\",\"held\":false}'; continue",
		   "/srv/data/x");
	assert_int_equal(vss_writers_start(ctx, 1, vols, mounts, &opts, &ws), 0);
	assert_int_equal(vss_writers_event(ws, "freeze", 0), 0);
	assert_int_equal(vss_writers_event(ws, "thaw", 0), 0);
	assert_false(vss_writers_all_held(ws));
	assert_null(vss_writers_failed(ws, &phase));
	assert_true(vss_writers_retryable(ws));
	vss_writers_stop(ws, false);
}

/* A writer of the restore side: lists verify, keeps private data, echoes a request field. */
static const char restore_writer[] =
	"#!/bin/sh\n"
	"while IFS= read -r line; do\n"
	"  ev=$(printf '%s' \"$line\" | sed -n 's/.*\"event\":\"\\([a-z-]*\\)\".*/\\1/p')\n"
	"  case $ev in\n"
	"  identify) echo '{\"status\":\"ok\",\"name\":\"rw\",\"supports\":[\"verify\"],"
	"\"components\":[{\"name\":\"db\",\"files\":[\"/srv/data/db\"]}]}' ;;\n"
	"  freeze) echo '{\"status\":\"ok\",\"backup_metadata\":{\"pos\":1}}' ;;\n"
	"  thaw) echo '{\"status\":\"ok\",\"held\":true,\"backup_metadata\":{\"pos\":2}}' ;;\n"
	"  verify) v=$(printf '%s' \"$line\" | sed -n 's/.*\"views\":{\"[^\"]*\":\"\\([^\"]*\\)\".*/\\1/p')\n"
	"    echo \"{\\\"status\\\":\\\"ok\\\",\\\"seen\\\":\\\"$v\\\"}\" ;;\n"
	"  *) echo '{\"status\":\"ok\"}' ;;\n"
	"  esac\n"
	"done\n";

static int seen_answer(void *arg, const char *writer, json_object *answer)
{
	const char *v = vss_json_str(answer, "seen");

	snprintf(arg, 128, "%s=%s", writer, v ? v : "");
	return 0;
}

static void test_writer_restore_side(void **state)
{
	struct vss_set_opts opts = { .freeze_timeout_ms = 5000 };
	struct vss_writers *ws;
	json_object *extra, *views, *meta, *arr, *pos;
	char seen[128] = "";

	(void)state;
	put_script("writers.d", "rw", restore_writer, 0755);
	put_writer("plain", "none", ":", "/srv/data/x");
	assert_int_equal(vss_writers_start(ctx, 1, vols, mounts, &opts, &ws), 0);
	assert_true(vss_writers_supports(ws, "rw", "verify"));
	assert_false(vss_writers_supports(ws, "rw", "pre-restore"));
	assert_false(vss_writers_supports(ws, "plain", "verify"));
	assert_non_null(vss_writers_metadata(ws, "rw"));
	assert_int_equal(vss_writers_event(ws, "freeze", 0), 0);
	assert_int_equal(vss_writers_event(ws, "thaw", 0), 0);
	/* thaw's private data replaces freeze's; a writer without any has none */
	meta = vss_writers_backup_metadata(ws);
	assert_true(json_object_object_get_ex(meta, "rw", &pos));
	assert_int_equal(vss_json_int(pos, "pos"), 2);
	assert_false(json_object_object_get_ex(meta, "plain", NULL));
	json_object_put(meta);
	arr = vss_writers_set_json(ws);
	assert_int_equal(json_object_array_length(arr), 2);
	json_object_put(arr);
	/* verify goes, with its fields, only to the writer that lists it */
	extra = json_object_new_object();
	views = json_object_new_object();
	json_object_object_add(views, "/srv/data", json_object_new_string("/run/v1"));
	json_object_object_add(extra, "views", views);
	assert_int_equal(vss_writers_event_ext(ws, "verify", 0, NULL, extra, seen_answer, seen), 0);
	assert_string_equal(seen, "rw=/run/v1");
	assert_int_equal(count_events("plain", "verify"), 0);
	/* only= names another writer: nobody is asked */
	seen[0] = '\0';
	assert_int_equal(vss_writers_event_ext(ws, "verify", 0, "plain", extra, seen_answer, seen),
			 0);
	assert_string_equal(seen, "");
	json_object_put(extra);
	vss_writers_stop(ws, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_writer_ok, clean),
		cmocka_unit_test_teardown(test_writer_veto, clean),
		cmocka_unit_test_teardown(test_writer_hang, clean),
		cmocka_unit_test_teardown(test_writer_dies, clean),
		cmocka_unit_test_teardown(test_writer_garbage, clean),
		cmocka_unit_test_teardown(test_writer_selection, clean),
		cmocka_unit_test_teardown(test_writer_unsafe_refused, clean),
		cmocka_unit_test_teardown(test_hooks_order_and_veto, clean),
		cmocka_unit_test_teardown(test_writer_retryable_only_when_said, clean),
		cmocka_unit_test_teardown(test_writer_restore_side, clean),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
