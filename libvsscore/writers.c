// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Writers (writers.d/): long-lived children speaking one JSON object per
 * line on stdin/stdout, started once per set and kept from identify to
 * backup-complete.  Hooks (hooks.d/): run as "HOOK freeze" and "HOOK thaw".
 * The protocol is man/vss-writer.7.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vss-internal.h"

struct writer {
	char path[256];
	char name[128];
	pid_t pid;
	int in_fd;		/* we write requests here */
	int out_fd;		/* we read answers here */
	char buf[65536];	/* answer bytes not yet consumed */
	size_t len;
	bool active;		/* takes part in the set */
	bool failed;
	bool held;
	bool retryable;
	char state[40];
	char error[256];
	json_object *metadata;		/* the identify answer, less its status */
	json_object *backup_metadata;	/* private data from freeze/thaw/post-snapshot */
};

struct vss_writers {
	struct vss_ctx *ctx;
	uint64_t set_id;
	json_object *volumes;
	struct writer *w;
	size_t n;
	unsigned int timeout_ms;
	char failed_name[128];
	char failed_phase[40];
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The executables of a conf subdirectory, sorted by name. */
static int list_dir(struct vss_ctx *ctx, const char *sub, char ***paths, size_t *n)
{
	char dir[300];
	struct dirent *de;
	char **out = NULL;
	size_t cnt = 0;
	DIR *d;

	*paths = NULL;
	*n = 0;
	snprintf(dir, sizeof(dir), "%s/%s", ctx->conf_dir, sub);
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		char path[600], **tmp;

		if (de->d_name[0] == '.' || strchr(de->d_name, '~'))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (vss_exec_checked(ctx, path))
			continue;
		tmp = realloc(out, (cnt + 1) * sizeof(*out));
		if (!tmp)
			break;
		out = tmp;
		out[cnt++] = strdup(path);
	}
	closedir(d);
	qsort(out, cnt, sizeof(*out), cmp_str);
	*paths = out;
	*n = cnt;
	return 0;
}

static void free_list(char **paths, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
}

static const char *base(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static int writer_spawn(struct vss_ctx *ctx, struct writer *w, uint64_t set_id)
{
	char id[32];
	struct vss_spawn_opts opts = {
		.own_group = true, .default_sigpipe = true,
		.env_name = "VSS_SET_ID", .env_value = id,
	};
	struct vss_child child;
	int r;

	snprintf(id, sizeof(id), "%llu", (unsigned long long)set_id);
	r = vss_spawn(w->path, &opts, &child);
	if (r)
		return r;
	w->pid = child.pid;
	w->in_fd = child.in_fd;
	w->out_fd = child.out_fd;
	w->len = 0;
	vss_dbg(ctx, "%s: started, process %d", w->name, (int)child.pid);
	return 0;
}

static void writer_kill(struct writer *w)
{
	int i;

	if (w->in_fd >= 0) {
		close(w->in_fd);
		w->in_fd = -1;
	}
	if (w->out_fd >= 0) {
		close(w->out_fd);
		w->out_fd = -1;
	}
	if (w->pid <= 0)
		return;
	/* Give it a moment to leave on end of file, then kill it. */
	for (i = 0; i < 20; i++) {
		if (waitpid(w->pid, NULL, WNOHANG) == w->pid) {
			w->pid = 0;
			return;
		}
		usleep(10000);
	}
	kill(-w->pid, SIGKILL);
	kill(w->pid, SIGKILL);
	waitpid(w->pid, NULL, 0);
	w->pid = 0;
}

static void writer_fail(struct vss_writers *ws, struct writer *w, const char *event,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void writer_fail(struct vss_writers *ws, struct writer *w, const char *event,
			const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->error, sizeof(w->error), fmt, ap);
	va_end(ap);
	w->failed = true;
	snprintf(w->state, sizeof(w->state), "failed-at-%s", event);
	vss_err(ws->ctx, "writer %s: %s: %s", w->name, event, w->error);
	if (!ws->failed_name[0]) {
		vss_strlcpy(ws->failed_name, w->name, sizeof(ws->failed_name));
		vss_strlcpy(ws->failed_phase, event, sizeof(ws->failed_phase));
	}
}

/* One line from the writer within the deadline: 0, -ETIMEDOUT, -EPIPE (it died). */
static int writer_read_line(struct writer *w, uint64_t deadline, char *line, size_t size)
{
	for (;;) {
		char *nl = memchr(w->buf, '\n', w->len);
		struct pollfd pfd = { .fd = w->out_fd, .events = POLLIN };
		uint64_t now;
		ssize_t n;
		int r;

		if (nl) {
			size_t l = nl - w->buf;

			if (l >= size)
				l = size - 1;
			memcpy(line, w->buf, l);
			line[l] = '\0';
			w->len -= (nl - w->buf) + 1;
			memmove(w->buf, nl + 1, w->len);
			return 0;
		}
		if (w->len == sizeof(w->buf))
			return -E2BIG;
		now = vss_now_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, (int)(deadline - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			return -ETIMEDOUT;
		n = read(w->out_fd, w->buf + w->len, sizeof(w->buf) - w->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EPIPE;
		w->len += n;
	}
}

static const char *waiting_state(const char *event)
{
	if (!strcmp(event, "identify") || !strcmp(event, "prepare-backup"))
		return "stable";
	if (!strcmp(event, "prepare-snapshot"))
		return "waiting-for-freeze";
	if (!strcmp(event, "freeze"))
		return "waiting-for-thaw";
	if (!strcmp(event, "thaw"))
		return "waiting-for-post-snapshot";
	if (!strcmp(event, "post-snapshot"))
		return "waiting-for-backup-complete";
	return "stable";
}

/* Send one event to one writer and judge its answer. */
/*
 * Send one event to one writer and read its answer.  extra (may be NULL):
 * fields added to the request.  On "ok", fn (may be NULL) sees the answer.
 */
static int writer_event_ext(struct vss_writers *ws, struct writer *w, const char *event,
			    unsigned int timeout_ms, json_object *extra,
			    vss_writer_answer_fn fn, void *arg)
{
	json_object *req, *ans = NULL, *st;
	char line[65536];
	const char *text, *status;
	size_t len;
	int r;

	req = json_object_new_object();
	json_object_object_add(req, "event", json_object_new_string(event));
	json_object_object_add(req, "set_id", json_object_new_int64(ws->set_id));
	json_object_object_add(req, "volumes", json_object_get(ws->volumes));
	json_object_object_add(req, "timeout_ms", json_object_new_int64(timeout_ms));
	if (extra) {
		json_object_object_foreach(extra, key, val)
			json_object_object_add(req, key, json_object_get(val));
	}
	text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	snprintf(line, sizeof(line), "%s\n", text);
	json_object_put(req);
	len = strlen(line);
	if (vss_write_nosigpipe(w->in_fd, line, len) != (ssize_t)len) {
		writer_fail(ws, w, event, "died (cannot send the request: %s)", strerror(errno));
		writer_kill(w);
		return -ECANCELED;
	}
	r = writer_read_line(w, vss_now_ms() + timeout_ms, line, sizeof(line));
	if (r == -ETIMEDOUT) {
		writer_fail(ws, w, event, "no answer within %u ms: killed", timeout_ms);
		writer_kill(w);
		return -ECANCELED;
	}
	if (r) {
		writer_fail(ws, w, event, "died before answering");
		writer_kill(w);
		return -ECANCELED;
	}
	ans = json_tokener_parse(line);
	if (!ans || !json_object_is_type(ans, json_type_object) ||
	    !(status = vss_json_str(ans, "status"))) {
		writer_fail(ws, w, event, "answered garbage: '%.60s'", line);
		json_object_put(ans);
		writer_kill(w);
		return -ECANCELED;
	}
	if (strcmp(status, "ok")) {
		const char *msg = vss_json_str(ans, "message");

		w->retryable = vss_json_bool(ans, "retryable");
		writer_fail(ws, w, event, "%s: %s", strcmp(status, "error") ? status : "vetoed",
			    msg ? msg : "no reason given");
		json_object_put(ans);
		return -ECANCELED;
	}
	if (!strcmp(event, "identify")) {
		const char *name = vss_json_str(ans, "name");

		if (name && *name)
			vss_strlcpy(w->name, name, sizeof(w->name));
		json_object_put(w->metadata);
		w->metadata = json_object_get(ans);
		json_object_object_del(w->metadata, "status");
	}
	if (!strcmp(event, "thaw")) {
		w->held = json_object_object_get_ex(ans, "held", &st) &&
			  json_object_get_boolean(st);
		if (!w->held)
			vss_warn(ws->ctx, "writer %s: its writes were not held during the freeze",
				 w->name);
	}
	/* Private data for the set: the last of freeze, thaw, post-snapshot wins. */
	if ((!strcmp(event, "freeze") || !strcmp(event, "thaw") ||
	     !strcmp(event, "post-snapshot")) &&
	    json_object_object_get_ex(ans, "backup_metadata", &st) && st &&
	    !json_object_is_type(st, json_type_null)) {
		json_object_put(w->backup_metadata);
		w->backup_metadata = json_object_get(st);
	}
	vss_strlcpy(w->state, waiting_state(event), sizeof(w->state));
	r = fn ? fn(arg, w->name, ans) : 0;
	json_object_put(ans);
	return r;
}

static int writer_event(struct vss_writers *ws, struct writer *w, const char *event,
			unsigned int timeout_ms)
{
	return writer_event_ext(ws, w, event, timeout_ms, NULL, NULL, NULL);
}

/* Whether the writer's identify answer lists event in "supports". */
static bool writer_supports(struct writer *w, const char *event)
{
	json_object *sup = vss_json_array(w->metadata, "supports");
	size_t i;

	for (i = 0; sup && i < json_object_array_length(sup); i++) {
		const char *e = json_object_get_string(json_object_array_get_idx(sup, i));

		if (e && !strcmp(e, event))
			return true;
	}
	return false;
}

/* Whether some component file of the writer lives under one of the mounts. */
static bool writer_relevant(struct writer *w, const char *const *mounts)
{
	json_object *comps = vss_json_array(w->metadata, "components");
	size_t i, j, k, nfiles = 0;

	for (i = 0; comps && i < json_object_array_length(comps); i++) {
		json_object *files = vss_json_array(json_object_array_get_idx(comps, i), "files");

		for (j = 0; files && j < json_object_array_length(files); j++) {
			const char *f = json_object_get_string(json_object_array_get_idx(files, j));

			nfiles++;
			for (k = 0; f && mounts && mounts[k]; k++) {
				size_t l = strlen(mounts[k]);

				if (!mounts[k][0])
					continue;
				if (!strcmp(mounts[k], "/") ||
				    (!strncmp(f, mounts[k], l) && (f[l] == '/' || !f[l])))
					return true;
			}
		}
	}
	/* A writer that names no file serves every set. */
	return nfiles == 0;
}

static bool in_list(const char *const *list, const char *a, const char *b)
{
	for (; list && *list; list++)
		if (!strcmp(*list, a) || !strcmp(*list, b))
			return true;
	return false;
}

int vss_writers_start(struct vss_ctx *ctx, uint64_t set_id, const char *const *volumes,
		      const char *const *mounts, const struct vss_set_opts *opts,
		      struct vss_writers **wsp)
{
	return vss_writers_start_purpose(ctx, set_id, volumes, mounts, NULL, opts, wsp);
}

/*
 * As vss_writers_start; purpose (NULL for a set being made; "verify" or
 * "restore" for an existing set) goes in the identify request, so that a
 * writer can answer it when its application is stopped.
 */
int vss_writers_start_purpose(struct vss_ctx *ctx, uint64_t set_id, const char *const *volumes,
			      const char *const *mounts, const char *purpose,
			      const struct vss_set_opts *opts, struct vss_writers **wsp)
{
	struct vss_writers *ws = calloc(1, sizeof(*ws));
	json_object *extra = NULL;
	char **paths;
	size_t n, i;
	int r, failed = 0;

	if (!ws)
		return -ENOMEM;
	ws->ctx = ctx;
	ws->set_id = set_id;
	ws->timeout_ms = opts && opts->freeze_timeout_ms ? opts->freeze_timeout_ms : 60000;
	ws->volumes = json_object_new_array();
	for (i = 0; volumes && volumes[i]; i++)
		json_object_array_add(ws->volumes, json_object_new_string(volumes[i]));
	*wsp = ws;
	if (opts && opts->no_writers)
		return 0;
	r = list_dir(ctx, "writers.d", &paths, &n);
	if (r || !n)
		return r;
	ws->w = calloc(n, sizeof(*ws->w));
	if (!ws->w) {
		free_list(paths, n);
		return -ENOMEM;
	}
	ws->n = n;
	for (i = 0; i < n; i++) {
		struct writer *w = &ws->w[i];

		vss_strlcpy(w->path, paths[i], sizeof(w->path));
		vss_strlcpy(w->name, base(paths[i]), sizeof(w->name));
		w->in_fd = w->out_fd = -1;
		vss_strlcpy(w->state, "stable", sizeof(w->state));
		if (opts && in_list(opts->exclude_writers, w->name, w->path))
			continue;
		r = writer_spawn(ctx, w, set_id);
		if (r) {
			writer_fail(ws, w, "identify", "cannot start: %s", strerror(-r));
			failed = 1;
			continue;
		}
		if (purpose && !extra) {
			extra = json_object_new_object();
			json_object_object_add(extra, "purpose", json_object_new_string(purpose));
		}
		if (writer_event_ext(ws, w, "identify", ws->timeout_ms, extra, NULL, NULL)) {
			failed = 1;
			continue;
		}
		if (opts && in_list(opts->exclude_writers, w->name, w->path)) {
			writer_kill(w);
			continue;
		}
		if (!mounts || writer_relevant(w, mounts) ||
		    (opts && in_list(opts->writers, w->name, w->path))) {
			w->active = true;
			vss_info(ctx, "writer %s: takes part in the set", w->name);
		} else {
			vss_info(ctx, "writer %s: no component on the set's volumes: left out", w->name);
			writer_kill(w);
		}
	}
	free_list(paths, n);
	json_object_put(extra);
	return failed ? -ECANCELED : 0;
}

/*
 * fn(arg, writer, component, files) for each component of each writer that
 * takes part in the set, in order; stops at fn's first non-zero return.
 */
int vss_writers_for_each_component(struct vss_writers *ws, vss_component_fn fn, void *arg)
{
	size_t i, j;
	int r;

	for (i = 0; ws && i < ws->n; i++) {
		json_object *comps;

		if (!ws->w[i].active || ws->w[i].failed)
			continue;
		comps = vss_json_array(ws->w[i].metadata, "components");
		for (j = 0; comps && j < json_object_array_length(comps); j++) {
			json_object *c = json_object_array_get_idx(comps, j);
			const char *name = vss_json_str(c, "name");

			r = fn(arg, ws->w[i].name, name ? name : "", vss_json_array(c, "files"));
			if (r)
				return r;
		}
	}
	return 0;
}

void vss_writers_set_id(struct vss_writers *ws, uint64_t set_id)
{
	ws->set_id = set_id;
}

int vss_writers_event(struct vss_writers *ws, const char *event, unsigned int timeout_ms)
{
	size_t i;
	int r = 0;

	if (!ws)
		return 0;
	for (i = 0; i < ws->n; i++) {
		struct writer *w = &ws->w[i];

		if (!w->active || w->failed || w->pid <= 0)
			continue;
		if (writer_event(ws, w, event, timeout_ms ? timeout_ms : ws->timeout_ms))
			r = -ECANCELED;
		/* On abort and backup-complete every writer is told, whatever others say. */
		if (r && strcmp(event, "abort") && strcmp(event, "backup-complete") &&
		    strcmp(event, "thaw"))
			break;
	}
	return r;
}

/*
 * The restore side's events (verify, pre-restore, post-restore): sent, with
 * extra's fields, only to the running writers named by only (NULL: all)
 * whose identify answer lists the event in "supports"; fn sees each "ok"
 * answer.  Every such writer is asked, whatever the others answer;
 * -ECANCELED if one failed (vss_writers_failed names it), or fn's error.
 */
int vss_writers_event_ext(struct vss_writers *ws, const char *event, unsigned int timeout_ms,
			  const char *only, json_object *extra, vss_writer_answer_fn fn, void *arg)
{
	size_t i;
	int r = 0, e;

	for (i = 0; ws && i < ws->n; i++) {
		struct writer *w = &ws->w[i];

		if (!w->active || w->failed || w->pid <= 0)
			continue;
		if (only && strcmp(only, w->name) && strcmp(only, w->path))
			continue;
		if (!writer_supports(w, event))
			continue;
		e = writer_event_ext(ws, w, event, timeout_ms ? timeout_ms : ws->timeout_ms,
				     extra, fn, arg);
		if (e && !r)
			r = e;
	}
	return r;
}

bool vss_writers_supports(struct vss_writers *ws, const char *name, const char *event)
{
	size_t i;

	for (i = 0; ws && i < ws->n; i++)
		if (ws->w[i].active && !ws->w[i].failed &&
		    (!strcmp(name, ws->w[i].name) || !strcmp(name, ws->w[i].path)))
			return writer_supports(&ws->w[i], event);
	return false;
}

/*
 * The private data the writers attached to the set at freeze, thaw or
 * post-snapshot, as an object writer name -> data (a new reference; empty
 * when none did).
 */
json_object *vss_writers_backup_metadata(struct vss_writers *ws)
{
	json_object *o = json_object_new_object();
	size_t i;

	for (i = 0; ws && i < ws->n; i++)
		if (ws->w[i].active && ws->w[i].backup_metadata)
			json_object_object_add(o, ws->w[i].name,
					       json_object_get(ws->w[i].backup_metadata));
	return o;
}

/*
 * What the set keeps of its writers, for vss-list, vss-verify and
 * vss-restore: [{name, path, metadata (the identify answer),
 * backup_metadata}] of each writer that took part (a new reference).
 */
json_object *vss_writers_set_json(struct vss_writers *ws)
{
	json_object *arr = json_object_new_array();
	size_t i;

	for (i = 0; ws && i < ws->n; i++) {
		struct writer *w = &ws->w[i];
		json_object *o;

		if (!w->active || w->failed)
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(w->name));
		json_object_object_add(o, "path", json_object_new_string(w->path));
		json_object_object_add(o, "metadata", w->metadata ? json_object_get(w->metadata)
								  : json_object_new_object());
		if (w->backup_metadata)
			json_object_object_add(o, "backup_metadata",
					       json_object_get(w->backup_metadata));
		json_object_array_add(arr, o);
	}
	return arr;
}

/* The identify answer of a running writer (borrowed), or NULL. */
json_object *vss_writers_metadata(struct vss_writers *ws, const char *name)
{
	size_t i;

	for (i = 0; ws && i < ws->n; i++)
		if (ws->w[i].active && (!strcmp(name, ws->w[i].name) ||
					!strcmp(name, ws->w[i].path)))
			return ws->w[i].metadata;
	return NULL;
}

bool vss_writers_all_held(struct vss_writers *ws)
{
	size_t i;

	for (i = 0; ws && i < ws->n; i++)
		if (ws->w[i].active && !ws->w[i].failed && !ws->w[i].held)
			return false;
	return true;
}

bool vss_writers_retryable(struct vss_writers *ws)
{
	size_t i;

	for (i = 0; ws && i < ws->n; i++)
		if (ws->w[i].failed && !ws->w[i].retryable)
			return false;
	return true;
}

const char *vss_writers_failed(struct vss_writers *ws, const char **phase)
{
	if (phase)
		*phase = ws && ws->failed_phase[0] ? ws->failed_phase : NULL;
	return ws && ws->failed_name[0] ? ws->failed_name : NULL;
}

/* Keep each writer's last state in the catalog, for vss-writers. */
void vss_writers_record(struct vss_writers *ws, json_object *root)
{
	json_object *arr = vss_json_array(root, "writers");
	size_t i, j;

	if (!ws || !arr)
		return;
	for (i = 0; i < ws->n; i++) {
		struct writer *w = &ws->w[i];
		json_object *o = NULL;

		if (!w->metadata && !w->failed)
			continue;
		for (j = 0; j < json_object_array_length(arr); j++) {
			json_object *x = json_object_array_get_idx(arr, j);
			const char *p = vss_json_str(x, "path");

			if (p && !strcmp(p, w->path)) {
				o = x;
				break;
			}
		}
		if (!o) {
			o = json_object_new_object();
			json_object_array_add(arr, o);
		}
		json_object_object_add(o, "name", json_object_new_string(w->name));
		json_object_object_add(o, "path", json_object_new_string(w->path));
		json_object_object_add(o, "state", json_object_new_string(w->state));
		json_object_object_add(o, "last_error", json_object_new_string(w->error));
		json_object_object_add(o, "last_set_id", json_object_new_int64(ws->set_id));
		if (w->metadata)
			json_object_object_add(o, "metadata", json_object_get(w->metadata));
	}
}

void vss_writers_stop(struct vss_writers *ws, bool abort)
{
	size_t i;

	if (!ws)
		return;
	if (abort)
		vss_writers_event(ws, "abort", 5000);
	for (i = 0; i < ws->n; i++) {
		writer_kill(&ws->w[i]);
		json_object_put(ws->w[i].metadata);
		json_object_put(ws->w[i].backup_metadata);
	}
	json_object_put(ws->volumes);
	free(ws->w);
	free(ws);
}

/* Run one hook with a bound; returns its exit status, or -errno. */
static int hook_run(struct vss_ctx *ctx, const char *path, const char *action,
		    unsigned int timeout_ms)
{
	uint64_t deadline = vss_now_ms() + timeout_ms;
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int fd = open("/dev/null", O_RDONLY);

		if (fd >= 0)
			dup2(fd, 0);
		execl(path, path, action, (char *)NULL);
		_exit(127);
	}
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if (vss_now_ms() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			vss_err(ctx, "hook %s: %s: no exit within %u ms: killed", path, action,
				timeout_ms);
			return -ETIMEDOUT;
		}
		usleep(10000);
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

/*
 * "freeze": each hook in name order; the first failure thaws those already
 * frozen (reverse order) and vetoes the set.  "thaw": reverse name order,
 * all of them.
 */
int vss_hooks_run(struct vss_ctx *ctx, const char *action, unsigned int timeout_ms,
		  char *failed, size_t size)
{
	bool freeze = !strcmp(action, "freeze");
	char **paths;
	size_t n, i;
	int r, ret = 0;

	if (failed && size)
		failed[0] = '\0';
	r = list_dir(ctx, "hooks.d", &paths, &n);
	if (r)
		return r;
	for (i = 0; i < n; i++) {
		size_t k = freeze ? i : n - 1 - i;

		r = hook_run(ctx, paths[k], action, timeout_ms);
		if (r == 0)
			continue;
		if (r > 0)
			vss_err(ctx, "hook %s: %s: exit status %d%s", paths[k], action, r,
				freeze ? ": the set is vetoed" : "");
		if (failed && !failed[0])
			vss_strlcpy(failed, base(paths[k]), size);
		ret = -ECANCELED;
		if (freeze) {
			while (k-- > 0)
				hook_run(ctx, paths[k], "thaw", timeout_ms);
			break;
		}
	}
	free_list(paths, n);
	return ret;
}

static void info_from_catalog(json_object *root, struct vss_writer_info *wi)
{
	json_object *arr = vss_json_array(root, "writers");
	size_t j;

	for (j = 0; arr && j < json_object_array_length(arr); j++) {
		json_object *x = json_object_array_get_idx(arr, j);
		const char *p = vss_json_str(x, "path");
		json_object *md;

		if (!p || strcmp(p, wi->path))
			continue;
		vss_strlcpy(wi->name, vss_json_str(x, "name"), sizeof(wi->name));
		vss_strlcpy(wi->state, vss_json_str(x, "state"), sizeof(wi->state));
		vss_strlcpy(wi->last_error, vss_json_str(x, "last_error"), sizeof(wi->last_error));
		wi->last_set_id = vss_json_int(x, "last_set_id");
		if (json_object_object_get_ex(x, "metadata", &md)) {
			vss_strlcpy(wi->metadata_json,
				    json_object_to_json_string_ext(md, JSON_C_TO_STRING_PLAIN),
				    sizeof(wi->metadata_json));
			vss_strlcpy(wi->instance, vss_json_str(md, "instance"), sizeof(wi->instance));
			vss_strlcpy(wi->usage, vss_json_str(md, "usage"), sizeof(wi->usage));
		}
	}
}

VSS_EXPORT int vss_writers_list(struct vss_ctx *ctx, bool identify,
				struct vss_writer_info **writers, size_t *count)
{
	struct vss_writer_info *out;
	struct vss_writers *ws = NULL;
	json_object *root = NULL;
	char **hooks;
	size_t nh, i, n = 0;
	int r;

	*writers = NULL;
	*count = 0;
	r = vss_catalog_load(ctx, &root);
	if (r)
		return r;
	if (identify) {
		struct vss_set_opts opts = { .freeze_timeout_ms = 10000 };

		vss_writers_start(ctx, 0, NULL, NULL, &opts, &ws);
		vss_writers_record(ws, root);
		for (i = 0; ws && i < ws->n; i++) {
			json_object *arr = vss_json_array(root, "writers");
			size_t j;

			/* identify alone says nothing about the last set */
			for (j = 0; arr && j < json_object_array_length(arr); j++) {
				json_object *x = json_object_array_get_idx(arr, j);
				const char *p = vss_json_str(x, "path");

				if (p && !strcmp(p, ws->w[i].path) && !ws->w[i].failed)
					json_object_object_del(x, "last_set_id");
			}
		}
	}
	r = list_dir(ctx, "hooks.d", &hooks, &nh);
	if (r)
		nh = 0, hooks = NULL;
	out = calloc((ws ? ws->n : 0) + nh + 1, sizeof(*out));
	if (!out) {
		r = -ENOMEM;
		goto out;
	}
	if (!identify) {
		char **paths;
		size_t np;

		if (!list_dir(ctx, "writers.d", &paths, &np)) {
			struct vss_writer_info *tmp = realloc(out, (np + nh + 1) * sizeof(*out));

			if (tmp) {
				out = tmp;
				memset(out, 0, (np + nh + 1) * sizeof(*out));
				for (i = 0; i < np; i++) {
					struct vss_writer_info *wi = &out[n++];

					vss_strlcpy(wi->path, paths[i], sizeof(wi->path));
					vss_strlcpy(wi->name, base(paths[i]), sizeof(wi->name));
					vss_strlcpy(wi->kind, "writer", sizeof(wi->kind));
					vss_strlcpy(wi->state, "stable", sizeof(wi->state));
					info_from_catalog(root, wi);
				}
			}
			free_list(paths, np);
		}
	} else {
		for (i = 0; ws && i < ws->n; i++) {
			struct vss_writer_info *wi = &out[n++];

			vss_strlcpy(wi->path, ws->w[i].path, sizeof(wi->path));
			vss_strlcpy(wi->kind, "writer", sizeof(wi->kind));
			info_from_catalog(root, wi);
			vss_strlcpy(wi->state, ws->w[i].state, sizeof(wi->state));
			vss_strlcpy(wi->last_error, ws->w[i].error, sizeof(wi->last_error));
		}
	}
	for (i = 0; i < nh; i++) {
		struct vss_writer_info *wi = &out[n++];

		vss_strlcpy(wi->path, hooks[i], sizeof(wi->path));
		vss_strlcpy(wi->name, base(hooks[i]), sizeof(wi->name));
		vss_strlcpy(wi->kind, "hook", sizeof(wi->kind));
		vss_strlcpy(wi->state, "stable", sizeof(wi->state));
	}
	*writers = out;
	*count = n;
	if (identify && ctx->lock_fd >= 0)
		vss_catalog_save(ctx, root);
out:
	free_list(hooks, nh);
	vss_writers_stop(ws, false);
	json_object_put(root);
	return r;
}
