// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Reports of the list commands: dm_report for columns, json-c for JSON.
 *
 * Why not dm_report's own JSON: the libdevmapper of Debian 12 (1.02.185)
 * has only DM_REPORT_GROUP_JSON, which quotes every value as a string
 * ("shadow_id": "3"); real JSON numbers came later (json_std).  So JSON is
 * written here with json-c from the same rows, sorted the way dm_report
 * sorts the columns: numbers by value, strings by strcmp().
 */
#define _GNU_SOURCE
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli-common.h"
#include "libvsscore.h"
#include "report.h"

/* libdevmapper's log levels (not in its public header). */
#define DM_LOG_LEVEL_MASK	0x0f
#define DM_LOG_ERR		3
#define DM_LOG_WARN		4
#define DM_LOG_STDERR		0x80

static size_t nfields_of(const struct vss_report_def *def)
{
	size_t n = 0;

	while (def->fields[n].report_fn)
		n++;
	return n;
}

static bool is_numeric(enum vss_value_kind k)
{
	return k == VSS_VAL_NUMBER || k == VSS_VAL_SIZE || k == VSS_VAL_PERCENT ||
	       k == VSS_VAL_AGE;
}

void vss_report_args_opts(const struct vss_report_args *a, struct vss_report_opts *o)
{
	o->fields = a->fields;
	o->sort = a->sort;
	o->separator = a->separator;
	o->noheadings = a->noheadings;
	o->aligned = a->aligned;
	o->json = a->json;
}

const char *vss_report_args_given(const struct vss_report_args *a)
{
	if (a->fields)
		return "-o";
	if (a->sort)
		return "-O";
	if (a->noheadings)
		return "--noheadings";
	if (a->separator)
		return "--separator";
	if (a->aligned)
		return "--aligned";
	if (a->json)
		return "--json";
	return NULL;
}

bool vss_report_wants_help(const struct vss_report_args *a)
{
	return a->fields && (!strcasecmp(a->fields, "help") || !strcmp(a->fields, "?"));
}

void vss_value_str(struct vss_value *v, const char *s)
{
	v->kind = VSS_VAL_STRING;
	v->known = s != NULL;
	v->absent = false;
	v->num = 0;
	snprintf(v->str, sizeof(v->str), "%s", s ? s : "");
}

void vss_value_num(struct vss_value *v, enum vss_value_kind kind, uint64_t n)
{
	v->kind = kind;
	v->known = true;
	v->absent = false;
	v->num = n;
	v->str[0] = '\0';
}

void vss_value_bool(struct vss_value *v, bool b)
{
	vss_value_str(v, b ? "yes" : "no");
	v->kind = VSS_VAL_BOOL;
	v->num = b;
}

void vss_value_json(struct vss_value *v, const char *text)
{
	vss_value_none(v, VSS_VAL_JSON);
	v->known = text && *text;
	v->json = text;
}

void vss_value_absent(struct vss_value *v, enum vss_value_kind kind)
{
	vss_value_none(v, kind);
	v->absent = true;
}

void vss_value_none(struct vss_value *v, enum vss_value_kind kind)
{
	v->kind = kind;
	v->known = false;
	v->absent = false;
	v->num = 0;
	v->str[0] = '\0';
	v->json = NULL;
}

void vss_value_list_add(struct vss_value *v, enum vss_value_kind kind, const char *item)
{
	size_t len = strlen(v->str);

	if (v->kind != kind || !v->known) {
		v->kind = kind;
		v->known = true;
		v->str[0] = '\0';
		len = 0;
	}
	snprintf(v->str + len, sizeof(v->str) - len, "%s%s", len ? "," : "", item);
}

void vss_format_time(time_t t, char *buf, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int vss_cli_volume_path(struct vss_ctx *ctx, const char *arg, char *out, size_t size)
{
	char dm[128];
	int r;

	if (!strncmp(arg, "/dev/mapper/", 12) && arg[12] && !strchr(arg + 12, '/')) {
		snprintf(out, size, "%s", arg);
		return 0;
	}
	if (!strchr(arg, '/') && !strchr(arg, '=')) {
		snprintf(out, size, "/dev/mapper/%s", arg);
		return 0;
	}
	r = vss_volume_resolve(ctx, arg, dm, sizeof(dm));
	if (!r)
		snprintf(out, size, "/dev/mapper/%s", dm);
	return r;
}

char vss_report_parse_units(const char *s)
{
	if (s && strlen(s) == 1 && strchr("hbkmg", s[0]))
		return s[0];
	return 0;
}

static void format_size(uint64_t bytes, char units, bool nosuffix, char *buf, size_t size)
{
	static const char letters[] = "bkmgtp";
	int shift = 0;

	if (units == 'b') {
		snprintf(buf, size, "%llu%s", (unsigned long long)bytes, nosuffix ? "" : "B");
		return;
	}
	if (units == 'h' || !units) {
		if (!bytes) {
			snprintf(buf, size, "0");
			return;
		}
		while (shift < 5 && bytes >= (1ULL << (10 * (shift + 1))))
			shift++;
		if (!shift) {
			snprintf(buf, size, "%llu%s", (unsigned long long)bytes,
				 nosuffix ? "" : "B");
			return;
		}
	} else {
		shift = (int)(strchr(letters, units) - letters);
	}
	snprintf(buf, size, "%.2f", (double)bytes / (double)(1ULL << (10 * shift)));
	if (!nosuffix) {
		size_t len = strlen(buf);

		snprintf(buf + len, size - len, "%c", letters[shift]);
	}
}

static void format_age(uint64_t s, char *buf, size_t size)
{
	if (s < 120)
		snprintf(buf, size, "%llus", (unsigned long long)s);
	else if (s < 120 * 60)
		snprintf(buf, size, "%llum", (unsigned long long)(s / 60));
	else if (s < 48 * 3600)
		snprintf(buf, size, "%lluh", (unsigned long long)(s / 3600));
	else
		snprintf(buf, size, "%llud", (unsigned long long)(s / 86400));
}

static void format_value(const struct vss_value *v, const struct vss_report_opts *o,
			 char *buf, size_t size)
{
	buf[0] = '\0';
	if (!v->known)
		return;
	switch (v->kind) {
	case VSS_VAL_NUMBER:
		snprintf(buf, size, "%llu", (unsigned long long)v->num);
		break;
	case VSS_VAL_SIZE:
		format_size(v->num, o->units, o->nosuffix, buf, size);
		break;
	case VSS_VAL_PERCENT:
		snprintf(buf, size, "%llu.%02llu", (unsigned long long)(v->num / 100),
			 (unsigned long long)(v->num % 100));
		break;
	case VSS_VAL_AGE:
		format_age(v->num, buf, size);
		break;
	default:
		snprintf(buf, size, "%s", v->str);
		break;
	}
}

int vss_report_cell(struct dm_report *rh, struct dm_pool *mem, struct dm_report_field *field,
		    const void *data, void *private)
{
	const struct vss_value *v = data;
	const struct vss_report_opts *o = private;
	char buf[1100], *text;

	(void)rh;
	format_value(v, o, buf, sizeof(buf));
	text = dm_pool_strdup(mem, buf);
	if (!text)
		return 0;
	/* numbers sort by value, everything else by its text */
	dm_report_field_set_value(field, text, is_numeric(v->kind) ? (const void *)&v->num : NULL);
	return 1;
}

/* ---- field names ---- */

static int field_index(const struct vss_report_def *def, const char *name, size_t len)
{
	size_t i;

	for (i = 0; def->fields[i].report_fn; i++)
		if (strlen(def->fields[i].id) == len && !strncasecmp(def->fields[i].id, name, len))
			return (int)i;
	return -1;
}

/* The -o list: the default, the default with "+..." added, or the list given. */
static char *field_list(const struct vss_report_def *def, const char *fields)
{
	char *out;

	if (!fields || !*fields)
		return strdup(def->default_fields);
	if (fields[0] == '+') {
		if (asprintf(&out, "%s,%s", def->default_fields, fields + 1) < 0)
			return NULL;
		return out;
	}
	return strdup(fields);
}

static bool json_only(const struct vss_report_def *def, int idx)
{
	const char *p = def->json_only, *id;
	size_t len;

	if (idx < 0 || !p)
		return false;
	id = def->fields[idx].id;
	len = strlen(id);
	while (*p) {
		size_t l = strcspn(p, ",");

		if (l == len && !strncmp(p, id, len))
			return true;
		p += l;
		if (*p == ',')
			p++;
	}
	return false;
}

#define FE_SORT		1	/* sort keys: each may start with + or - */
#define FE_COLUMNS	2	/* for columns: "all" is every field but the JSON-only ones */

/*
 * Call fn for every name of a comma-separated list ("all" stands for every
 * field).  Returns the first non-zero fn return.
 */
static int for_each_name(const struct vss_report_def *def, const char *list, unsigned int how,
			 int (*fn)(const struct vss_report_def *, int idx, bool desc,
				   const char *name, size_t len, void *arg),
			 void *arg)
{
	bool sort_keys = how & FE_SORT;
	const char *p = list;

	while (p && *p) {
		size_t len = strcspn(p, ",");
		const char *name = p;
		bool desc = false;
		int r = 0;

		p += len;
		if (*p == ',')
			p++;
		while (len && (*name == ' ' || *name == '\t')) {
			name++;
			len--;
		}
		while (len && (name[len - 1] == ' ' || name[len - 1] == '\t'))
			len--;
		if (sort_keys && len && (*name == '+' || *name == '-')) {
			desc = *name == '-';
			name++;
			len--;
		}
		if (!len)
			continue;
		if (!sort_keys && len == 3 && !strncasecmp(name, "all", 3)) {
			size_t i;

			for (i = 0; !r && def->fields[i].report_fn; i++)
				if (!(how & FE_COLUMNS) || !json_only(def, (int)i))
					r = fn(def, (int)i, false, def->fields[i].id,
					       strlen(def->fields[i].id), arg);
		} else {
			r = fn(def, field_index(def, name, len), desc, name, len, arg);
		}
		if (r)
			return r;
	}
	return 0;
}

struct check {
	const char *option;	/* "-o" or "-O" */
	bool json_only_ok;	/* -o with --json */
};

static int check_name(const struct vss_report_def *def, int idx, bool desc, const char *name,
		      size_t len, void *arg)
{
	const struct check *c = arg;

	(void)desc;
	if (idx < 0) {
		vss_errorx(NULL, "%s: %.*s: unknown field (see -o help)", c->option,
			   (int)len, name);
		return VSS_EXIT_USAGE;
	}
	/* a nested JSON value has no column, nor an order */
	if (!c->json_only_ok && json_only(def, idx)) {
		vss_errorx(NULL, "%s: %.*s: %s", c->option, (int)len, name,
			   strcmp(c->option, "-O") ? "only in JSON output (--json)" :
			   "cannot sort by a JSON-only field");
		return VSS_EXIT_USAGE;
	}
	return 0;
}

int vss_report_check(const struct vss_report_def *def, const struct vss_report_opts *o)
{
	char *fields = field_list(def, o->fields);
	struct check c = { "-o", o->json };
	int r;

	if (!fields)
		return VSS_EXIT_NO_RESOURCES;
	r = for_each_name(def, fields, o->json ? 0 : FE_COLUMNS, check_name, &c);
	free(fields);
	c = (struct check){ "-O", false };
	if (!r && o->sort)
		r = for_each_name(def, o->sort, FE_SORT, check_name, &c);
	return r;
}

void vss_report_help(const struct vss_report_def *def)
{
	size_t i, w = 0;

	for (i = 0; def->fields[i].report_fn; i++)
		if (strlen(def->fields[i].id) > w)
			w = strlen(def->fields[i].id);
	for (i = 0; def->fields[i].report_fn; i++)
		printf("%-*s - %s\n", (int)w, def->fields[i].id, def->fields[i].desc);
}

/* ---- columns: dm_report ---- */

/*
 * dm_report prints its lines through libdevmapper's log function, which
 * libvsscore points elsewhere: route the report's lines (level warn, not
 * flagged stderr) to stdout and its errors to stderr.
 */
static void report_log(int level, const char *file, int line, int dm_errno_or_class,
		       const char *f, ...)
{
	int lvl = level & DM_LOG_LEVEL_MASK;
	va_list ap;

	(void)file; (void)line; (void)dm_errno_or_class;
	va_start(ap, f);
	if (lvl == DM_LOG_WARN && !(level & DM_LOG_STDERR)) {
		vprintf(f, ap);
		putchar('\n');
	} else if (lvl <= DM_LOG_ERR) {
		fprintf(stderr, "%s: ", vss_program_name());
		vfprintf(stderr, f, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}

static void *row_data(void *object)
{
	return object;
}

struct id_list {
	char buf[4096];
	size_t len;
};

static int add_id(const struct vss_report_def *def, int idx, bool desc, const char *name,
		  size_t len, void *arg)
{
	struct id_list *l = arg;
	const char *id = def->fields[idx].id;

	(void)desc; (void)name; (void)len;
	if (l->len + strlen(id) + 2 > sizeof(l->buf))
		return VSS_EXIT_USAGE;
	l->len += (size_t)snprintf(l->buf + l->len, sizeof(l->buf) - l->len, "%s%s",
				   l->len ? "," : "", id);
	return 0;
}

/*
 * The -o list for dm_report, with "all" spelled out: dm_report's own
 * "all" would bring in the JSON-only fields.
 */
static char *column_list(const struct vss_report_def *def, const char *fields)
{
	char *list = field_list(def, fields);
	struct id_list *l = calloc(1, sizeof(*l));
	char *out = NULL;

	if (list && l && !for_each_name(def, list, FE_COLUMNS, add_id, l))
		out = strdup(l->buf);
	free(list);
	free(l);
	return out;
}

static int print_columns(const struct vss_report_def *def, const struct vss_report_opts *o,
			 struct vss_value *rows, size_t nrows)
{
	static const struct dm_report_object_type types[] = {
		{ 1, "Report", "", row_data },
		{ 0, "", "", NULL },
	};
	size_t nf = nfields_of(def), r;
	uint32_t report_types = 1, flags = DM_REPORT_OUTPUT_BUFFERED;
	struct dm_report *rh;
	char *fields;
	int rc = VSS_EXIT_OK;

	if (!nrows)
		return VSS_EXIT_OK;
	fields = column_list(def, o->fields);
	if (!fields)
		return VSS_EXIT_NO_RESOURCES;
	if (!o->noheadings)
		flags |= DM_REPORT_OUTPUT_HEADINGS;
	if (!o->separator || o->aligned)
		flags |= DM_REPORT_OUTPUT_ALIGNED;
	dm_log_with_errno_init(report_log);
	rh = dm_report_init(&report_types, types, def->fields, fields,
			    o->separator ? o->separator : " ", flags,
			    o->sort ? o->sort : def->default_sort ? def->default_sort : "",
			    (void *)o);
	free(fields);
	if (!rh)
		return VSS_EXIT_USAGE;
	for (r = 0; r < nrows; r++)
		if (!dm_report_object(rh, &rows[r * nf])) {
			rc = VSS_EXIT_NO_RESOURCES;
			break;
		}
	if (!rc && !dm_report_output(rh))
		rc = VSS_EXIT_NO_RESOURCES;
	dm_report_free(rh);
	fflush(stdout);
	return rc;
}

/* ---- JSON: json-c ---- */

struct key {
	int idx;
	bool desc;
};

struct keys {
	struct key k[64];
	size_t n;
};

static int add_key(const struct vss_report_def *def, int idx, bool desc, const char *name,
		   size_t len, void *arg)
{
	struct keys *ks = arg;

	(void)def; (void)name; (void)len;
	if (idx >= 0 && ks->n < sizeof(ks->k) / sizeof(ks->k[0]))
		ks->k[ks->n++] = (struct key){ idx, desc };
	return 0;
}

struct sort_ctx {
	const struct keys *keys;
	struct vss_value *rows;
	size_t nf;
};

static struct sort_ctx *sorting;

static int row_cmp(const void *a, const void *b)
{
	size_t ra = *(const size_t *)a, rb = *(const size_t *)b, i;

	for (i = 0; i < sorting->keys->n; i++) {
		const struct key *k = &sorting->keys->k[i];
		const struct vss_value *va = &sorting->rows[ra * sorting->nf + k->idx];
		const struct vss_value *vb = &sorting->rows[rb * sorting->nf + k->idx];
		int c;

		if (is_numeric(va->kind))
			c = va->num < vb->num ? -1 : va->num > vb->num;
		else
			c = strcmp(va->str, vb->str);
		if (c)
			return k->desc ? -c : c;
	}
	return ra < rb ? -1 : ra > rb;
}

static json_object *value_json(const struct vss_value *v)
{
	json_object *arr;
	const char *p;

	if (!v->known)
		return NULL;
	switch (v->kind) {
	case VSS_VAL_NUMBER:
	case VSS_VAL_SIZE:
	case VSS_VAL_AGE:
		return json_object_new_int64((int64_t)v->num);
	case VSS_VAL_PERCENT:
		return json_object_new_double((double)v->num / 100.0);
	case VSS_VAL_BOOL:
		return json_object_new_boolean(v->num != 0);
	case VSS_VAL_JSON:
		/* not JSON after all: null, as the commands always did */
		return json_tokener_parse(v->json);
	case VSS_VAL_STRING_LIST:
	case VSS_VAL_NUMBER_LIST:
		arr = json_object_new_array();
		for (p = v->str; *p;) {
			size_t len = strcspn(p, ",");
			char item[256];

			snprintf(item, sizeof(item), "%.*s", (int)len, p);
			json_object_array_add(arr, v->kind == VSS_VAL_NUMBER_LIST ?
					      json_object_new_int64(strtoll(item, NULL, 10)) :
					      json_object_new_string(item));
			p += len;
			if (*p == ',')
				p++;
		}
		return arr;
	default:
		return json_object_new_string(v->str);
	}
}

static int print_json(const struct vss_report_def *def, const struct vss_report_opts *o,
		      struct vss_value *rows, size_t nrows)
{
	size_t nf = nfields_of(def), r, *order;
	struct keys cols = { .n = 0 }, keys = { .n = 0 };
	struct sort_ctx sc;
	json_object *root, *arr;
	char *fields;

	fields = o->fields ? field_list(def, o->fields) : strdup("all");
	order = calloc(nrows + 1, sizeof(*order));
	if (!fields || !order) {
		free(fields);
		free(order);
		return VSS_EXIT_NO_RESOURCES;
	}
	for_each_name(def, fields, 0, add_key, &cols);
	for_each_name(def, o->sort ? o->sort : def->default_sort, FE_SORT, add_key, &keys);
	free(fields);
	for (r = 0; r < nrows; r++)
		order[r] = r;
	sc = (struct sort_ctx){ &keys, rows, nf };
	sorting = &sc;
	qsort(order, nrows, sizeof(*order), row_cmp);
	sorting = NULL;

	root = json_object_new_object();
	arr = json_object_new_array();
	for (r = 0; r < nrows; r++) {
		json_object *obj = json_object_new_object();
		size_t c;

		for (c = 0; c < cols.n; c++) {
			const char *id = def->fields[cols.k[c].idx].id;
			const struct vss_value *v = &rows[order[r] * nf + cols.k[c].idx];

			if (!v->absent && !json_object_object_get_ex(obj, id, NULL))
				json_object_object_add(obj, id, value_json(v));
		}
		json_object_array_add(arr, obj);
	}
	json_object_object_add(root, def->json_key, arr);
	printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
						     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	free(order);
	fflush(stdout);
	return VSS_EXIT_OK;
}

int vss_report_print(const struct vss_report_def *def, const struct vss_report_opts *o,
		     struct vss_value *rows, size_t nrows)
{
	return o->json ? print_json(def, o, rows, nrows) : print_columns(def, o, rows, nrows);
}
