// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vss.conf: the defaults of the commands, as lvm.conf is LVM's.
 *
 * One file, $VSS_CONF_DIR/vss.conf (default /etc/vss/vss.conf), of
 * "[section]" lines and "key = value" lines; '#' starts a comment.  Every
 * key is known here with its type, and checked when the file is read: an
 * unknown section or key, or a value of the wrong form, is an error that
 * names the file, the line and the key, so that a typing mistake is never
 * a silently ignored setting.  The commands take their defaults from it
 * and their options override it.  man/vss.conf.5 describes the keys.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vss-internal.h"

enum key_type { K_DURATION, K_COUNT, K_SIZE, K_PROVIDER, K_OVERFLOW, K_PERCENT, K_PATH,
		K_SIZE_OR_PERCENT };

static const struct key_def {
	const char *name;		/* section.key */
	enum key_type type;
} keys[] = {
	{ "snapshot.timeout_freeze", K_DURATION },
	{ "snapshot.timeout_commit", K_DURATION },
	{ "snapshot.retry", K_COUNT },
	{ "snapshot.keep", K_COUNT },
	{ "snapshot.provider", K_PROVIDER },
	{ "global.lock_wait", K_DURATION },
	{ "storage.chunk_size", K_SIZE },
	{ "storage.provider", K_PROVIDER },
	{ "storage.region_size", K_SIZE },
	{ "storage.overflow", K_OVERFLOW },
	{ "snapshot.usage_warn", K_PERCENT },
	{ "expose.cow_dir", K_PATH },
	{ "expose.cow_size", K_SIZE_OR_PERCENT },
};

#define NR_KEYS (sizeof(keys) / sizeof(keys[0]))
#define VALUE_MAX 128

struct vss_config {
	char path[512];
	char value[NR_KEYS][VALUE_MAX];	/* "" when not set */
	unsigned int line[NR_KEYS];
};

/* Durations: a number with ms, s (the default), m or h; at most a day. */
VSS_EXPORT int vss_parse_duration_ms(const char *s, unsigned int *ms)
{
	static const struct { const char *suffix; double ms; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "", 1000 }, { "m", 60000 }, { "h", 3600000 },
	};
	char *end;
	double v;
	size_t i;

	if (!s || !*s || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !isfinite(v) || v < 0)
		return -EINVAL;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(end, units[i].suffix)) {
			v *= units[i].ms;
			if (v > VSS_DURATION_MAX_MS)
				return -ERANGE;
			*ms = (unsigned int)v;
			return 0;
		}
	return -EINVAL;
}

/* Sizes: bytes, or a number with k, m, g, t (powers of 1024); below 2^63. */
VSS_EXPORT int vss_parse_size(const char *s, uint64_t *bytes)
{
	unsigned long long v;
	uint64_t mult = 1;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	if (*end) {
		switch (tolower((unsigned char)*end)) {
		case 'k': mult = 1ULL << 10; break;
		case 'm': mult = 1ULL << 20; break;
		case 'g': mult = 1ULL << 30; break;
		case 't': mult = 1ULL << 40; break;
		default: return -EINVAL;
		}
		if (end[1] && strcasecmp(end + 1, "ib") && strcasecmp(end + 1, "b"))
			return -EINVAL;
	}
	if (v > (uint64_t)INT64_MAX / mult)
		return -ERANGE;
	*bytes = v * mult;
	return 0;
}

static int parse_count(const char *s, unsigned int *n)
{
	unsigned long v;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || v > 1000000)
		return -ERANGE;
	if (*end)
		return -EINVAL;
	*n = (unsigned int)v;
	return 0;
}

static const char *type_hint(enum key_type t)
{
	switch (t) {
	case K_DURATION: return "a duration: 500ms, 30s, 2m, 1h (at most 24h)";
	case K_COUNT: return "a whole number from 0 to 1000000";
	case K_SIZE: return "a size: 4096, 64k, 1m, 2g";
	case K_PROVIDER: return "a provider name: letters, digits, '-', '_', '.'";
	case K_OVERFLOW: return "drop or invalidate";
	case K_PERCENT: return "a whole number of percent from 0 to 100";
	case K_PATH: return "an absolute path";
	case K_SIZE_OR_PERCENT: return "a size (64m, 2g) or a percentage of the volume (10%)";
	}
	return "";
}

static int check_value(enum key_type t, const char *v)
{
	unsigned int u;
	uint64_t b;
	size_t i;

	switch (t) {
	case K_DURATION: return vss_parse_duration_ms(v, &u);
	case K_COUNT: return parse_count(v, &u);
	case K_SIZE: return vss_parse_size(v, &b);
	case K_PROVIDER:
		for (i = 0; v[i]; i++)
			if (!isalnum((unsigned char)v[i]) && !strchr("-_.", v[i]))
				return -EINVAL;
		return i && i < 64 ? 0 : -EINVAL;
	case K_OVERFLOW:
		return strcmp(v, "drop") && strcmp(v, "invalidate") ? -EINVAL : 0;
	case K_PERCENT:
		return parse_count(v, &u) || u > 100 ? -EINVAL : 0;
	case K_PATH:
		return v[0] == '/' ? 0 : -EINVAL;
	case K_SIZE_OR_PERCENT:
		if (*v && v[strlen(v) - 1] == '%') {
			char n[16];

			if (strlen(v) > sizeof(n))
				return -EINVAL;
			vss_strlcpy(n, v, strlen(v));
			return parse_count(n, &u) || u == 0 || u > 100 ? -EINVAL : 0;
		}
		return vss_parse_size(v, &b);
	}
	return -EINVAL;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int key_index(const char *section, const char *key)
{
	char full[160];
	size_t i;

	snprintf(full, sizeof(full), "%s.%s", section, key);
	for (i = 0; i < NR_KEYS; i++)
		if (!strcmp(keys[i].name, full))
			return (int)i;
	return -1;
}

static bool section_known(const char *section)
{
	size_t i, n = strlen(section);

	for (i = 0; i < NR_KEYS; i++)
		if (!strncmp(keys[i].name, section, n) && keys[i].name[n] == '.')
			return true;
	return false;
}

/* One line; 0, or -EINVAL with the reason logged. */
static int parse_line(struct vss_ctx *ctx, struct vss_config *c, char *line, unsigned int no,
		      char *section, size_t ssize)
{
	char *hash = strchr(line, '#'), *eq, *key, *val;
	int k, r;

	if (hash)
		*hash = '\0';
	line = trim(line);
	if (!*line)
		return 0;
	if (*line == '[') {
		char *end = strchr(line, ']');

		if (!end || end[1]) {
			vss_err(ctx, "%s:%u: '%s': a section is written [name]", c->path, no, line);
			return -EINVAL;
		}
		*end = '\0';
		line = trim(line + 1);
		if (!section_known(line)) {
			vss_err(ctx, "%s:%u: [%s]: unknown section (global, snapshot, storage, "
				"expose; see vss.conf(5))", c->path, no, line);
			return -EINVAL;
		}
		vss_strlcpy(section, line, ssize);
		return 0;
	}
	eq = strchr(line, '=');
	if (!eq) {
		vss_err(ctx, "%s:%u: '%s': not a 'key = value' line", c->path, no, line);
		return -EINVAL;
	}
	*eq = '\0';
	key = trim(line);
	val = trim(eq + 1);
	if (!*section) {
		vss_err(ctx, "%s:%u: %s: a key before any [section]", c->path, no, key);
		return -EINVAL;
	}
	k = key_index(section, key);
	if (k < 0) {
		vss_err(ctx, "%s:%u: %s: unknown key in [%s] (see vss.conf(5))", c->path, no, key,
			section);
		return -EINVAL;
	}
	r = check_value(keys[k].type, val);
	if (r || strlen(val) >= VALUE_MAX) {
		vss_err(ctx, "%s:%u: %s: '%s' is not %s", c->path, no, key, val,
			type_hint(keys[k].type));
		return -EINVAL;
	}
	vss_strlcpy(c->value[k], val, VALUE_MAX);
	c->line[k] = no;
	return 0;
}

VSS_EXPORT int vss_config_load(struct vss_ctx *ctx, struct vss_config **cfg)
{
	char line[1024], section[64] = "";
	struct vss_config *c;
	unsigned int no = 0;
	FILE *f;
	int r = 0;

	*cfg = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	snprintf(c->path, sizeof(c->path), "%s/vss.conf", vss_ctx_dir(ctx, "conf"));
	f = fopen(c->path, "re");
	if (!f) {
		if (errno == ENOENT) {	/* no file: every default is the built-in one */
			*cfg = c;
			return 0;
		}
		r = -errno;
		vss_err(ctx, "%s: cannot read the configuration: %s", c->path, strerror(-r));
		free(c);
		return r;
	}
	while (!r && fgets(line, sizeof(line), f)) {
		no++;
		if (!strchr(line, '\n') && !feof(f)) {
			vss_err(ctx, "%s:%u: line longer than %zu bytes", c->path, no,
				sizeof(line) - 2);
			r = -EINVAL;
			break;
		}
		r = parse_line(ctx, c, line, no, section, sizeof(section));
	}
	fclose(f);
	if (r) {
		free(c);
		return r;
	}
	*cfg = c;
	return 0;
}

VSS_EXPORT void vss_config_free(struct vss_config *cfg)
{
	free(cfg);
}

VSS_EXPORT const char *vss_config_path(const struct vss_config *cfg)
{
	return cfg ? cfg->path : NULL;
}

VSS_EXPORT const char *vss_config_get(const struct vss_config *cfg, const char *key)
{
	size_t i;

	for (i = 0; cfg && i < NR_KEYS; i++)
		if (!strcmp(keys[i].name, key))
			return cfg->value[i][0] ? cfg->value[i] : NULL;
	return NULL;
}

VSS_EXPORT unsigned int vss_config_duration_ms(const struct vss_config *cfg, const char *key,
					       unsigned int builtin)
{
	const char *v = vss_config_get(cfg, key);
	unsigned int ms;

	return v && !vss_parse_duration_ms(v, &ms) ? ms : builtin;
}

VSS_EXPORT unsigned int vss_config_count(const struct vss_config *cfg, const char *key,
					 unsigned int builtin)
{
	const char *v = vss_config_get(cfg, key);
	unsigned int n;

	return v && !parse_count(v, &n) ? n : builtin;
}

VSS_EXPORT uint64_t vss_config_size(const struct vss_config *cfg, const char *key,
				    uint64_t builtin)
{
	const char *v = vss_config_get(cfg, key);
	uint64_t b;

	return v && !vss_parse_size(v, &b) ? b : builtin;
}
