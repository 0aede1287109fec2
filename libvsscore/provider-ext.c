// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * External providers: an executable in providers.d/ (the protocol is in
 * man/vss-providers.8), run once per request through spawn.c: one JSON
 * request on stdin, one JSON answer on stdout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vss-internal.h"

/* One request, one answer, within timeout_ms. */
int vss_ext_call(struct vss_ctx *ctx, const char *path, json_object *req,
		    unsigned int timeout_ms, json_object **ans)
{
	const char *text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN |
							  JSON_C_TO_STRING_NOSLASHESCAPE);
	uint64_t deadline = vss_now_ms() + timeout_ms;
	char buf[16384];
	size_t len = 0;
	struct vss_child child;
	int r, status = 0;

	*ans = NULL;
	r = vss_spawn(path, NULL, &child);
	if (r)
		return r;
	if (vss_write_nosigpipe(child.in_fd, text, strlen(text)) < 0 ||
	    vss_write_nosigpipe(child.in_fd, "\n", 1) < 0) {
		/* it may have answered without reading */
	}
	close(child.in_fd);
	for (;;) {
		struct pollfd pfd = { .fd = child.out_fd, .events = POLLIN };
		uint64_t now = vss_now_ms();
		ssize_t n;

		if (now >= deadline || poll(&pfd, 1, (int)(deadline - now)) == 0) {
			kill(child.pid, SIGKILL);
			break;
		}
		n = read(child.out_fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
		if (memchr(buf, '\n', len) || len == sizeof(buf) - 1)
			break;
	}
	close(child.out_fd);
	waitpid(child.pid, &status, 0);
	buf[len] = '\0';
	*ans = json_tokener_parse(buf);
	if (!*ans || !json_object_is_type(*ans, json_type_object) ||
	    !vss_json_str(*ans, "status")) {
		vss_err(ctx, "provider %s: %s: %s", path,
			vss_json_str(req, "op"), len ? "answered garbage" : "no answer");
		json_object_put(*ans);
		*ans = NULL;
		return -EIO;
	}
	if (strcmp(vss_json_str(*ans, "status"), "ok")) {
		const char *m = vss_json_str(*ans, "message");

		vss_err(ctx, "provider %s: %s: %s", path, vss_json_str(req, "op"),
			m ? m : "failed");
		return -EIO;
	}
	return 0;
}

json_object *vss_ext_request(const char *op, const struct vss_pshadow *s)
{
	json_object *req = json_object_new_object();

	json_object_object_add(req, "op", json_object_new_string(op));
	if (s) {
		char dev[200];

		snprintf(dev, sizeof(dev), "/dev/mapper/%s", s->dm_name);
		json_object_object_add(req, "volume", json_object_new_string(dev));
		json_object_object_add(req, "shadow_id", json_object_new_int64(s->shadow_id));
		if (s->device[0])
			json_object_object_add(req, "device", json_object_new_string(s->device));
	}
	return req;
}

static int ext_simple(struct vss_ctx *ctx, const char *op, struct vss_pshadow *s,
		      json_object **ans_out)
{
	json_object *req = vss_ext_request(op, s), *ans;
	int r = vss_ext_call(ctx, s->ext_path, req, 10000, &ans);

	json_object_put(req);
	if (ans_out)
		*ans_out = ans;
	else
		json_object_put(ans);
	return r;
}

static int ext_prepare(struct vss_ctx *ctx, json_object *root, struct vss_pshadow *s)
{
	int r;

	(void)root;
	r = vss_snap_id_of(ctx, s->shadow_id, &s->snap_id);
	if (r)
		return r;
	return ext_simple(ctx, "prepare", s, NULL);
}

static int ext_commit(struct vss_ctx *ctx, struct vss_pshadow *s)
{
	json_object *ans = NULL;
	int r = ext_simple(ctx, "commit", s, &ans);

	if (!r) {
		s->committed = true;
		vss_strlcpy(s->device, vss_json_str(ans, "device"), sizeof(s->device));
	}
	json_object_put(ans);
	return r;
}

static int ext_activate(struct vss_ctx *ctx, struct vss_pshadow *s)
{
	json_object *ans = NULL;
	int r = 0;

	if (!s->device[0]) {
		r = ext_simple(ctx, "expose", s, &ans);
		if (!r)
			vss_strlcpy(s->device, vss_json_str(ans, "device"), sizeof(s->device));
		json_object_put(ans);
	}
	if (!r)
		s->activated = true;
	return r;
}

static int ext_remove(struct vss_ctx *ctx, struct vss_pshadow *s)
{
	int r = ext_simple(ctx, "delete", s, NULL);

	if (!r)
		s->committed = s->activated = false;
	return r;
}

const struct vss_provider vss_provider_ext = {
	.name = "external",
	.prepare = ext_prepare,
	.commit = ext_commit,
	.activate = ext_activate,
	.remove = ext_remove,
};
