/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reports of the list commands: columns through libdevmapper's dm_report
 * (field selection, sorting, headings, separator, alignment, as lvs and
 * dmsetup info -c), JSON through json-c with real JSON types.
 *
 * A command describes its fields as a dm_report_field_type table whose
 * entry i has offset i * sizeof(struct vss_value) and report_fn
 * vss_report_cell (VSS_REPORT_FIELD below), fills one row of values per
 * object, in the order of its table, and calls vss_report_print().
 */
#ifndef VSS_CLI_REPORT_H
#define VSS_CLI_REPORT_H

#include <libdevmapper.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum vss_value_kind {
	VSS_VAL_STRING,
	VSS_VAL_NUMBER,
	VSS_VAL_SIZE,		/* num: bytes; text in --units, JSON in bytes */
	VSS_VAL_PERCENT,	/* num: hundredths of a percent; JSON a number */
	VSS_VAL_AGE,		/* num: seconds; text "5m", JSON seconds */
	VSS_VAL_STRING_LIST,	/* str: comma-separated; JSON an array of strings */
	VSS_VAL_NUMBER_LIST,	/* str: comma-separated; JSON an array of numbers */
	VSS_VAL_BOOL,		/* num: 0 or 1, str: "no" or "yes"; JSON false or true */
	VSS_VAL_JSON,		/* json: JSON text, embedded as such (a JSON-only field) */
};

struct vss_value {
	enum vss_value_kind kind;
	bool known;		/* false: empty in columns, null in JSON */
	bool absent;		/* not in this row: empty in columns, no key in JSON */
	uint64_t num;
	char str[1024];
	const char *json;	/* VSS_VAL_JSON: text the caller keeps until printed */
};

struct vss_report_def {
	const char *json_key;			/* "shadows", "sets" */
	const struct dm_report_field_type *fields; /* ends with a NULL report_fn */
	const char *default_fields;
	const char *default_sort;		/* "": the order the rows were given in */
	const char *json_only;			/* NULL, or ids of fields only in JSON */
};

struct vss_report_opts {
	const char *fields;	/* -o: NULL for the default; "+a,b" adds to it */
	const char *sort;	/* -O: NULL for the default */
	const char *separator;	/* NULL: aligned columns separated by a space */
	bool noheadings;
	bool aligned;		/* align even with a separator */
	bool nosuffix;
	bool json;
	char units;		/* h (default), b, k, m, g: powers of 1024 */
};

/*
 * The options every report takes, as popt fills them: VSS_POPT_REPORT in
 * the command's table, then vss_report_args_opts() into vss_report_opts.
 * vss-list puts its --units and --nosuffix between the two halves, which
 * is why they exist apart.
 */
struct vss_report_args {
	char *fields;
	char *sort;
	char *separator;
	int noheadings;
	int aligned;
	int json;
};

#define VSS_POPT_REPORT_COLUMNS(a) \
	{ "options", 'o', POPT_ARG_STRING, &(a).fields, 0, \
	  "Fields to show, comma-separated; +FIELDS adds to the default; " \
	  "'-o help' lists them", "FIELDS" }, \
	{ "sort", 'O', POPT_ARG_STRING, &(a).sort, 0, \
	  "Sort by these fields (-FIELD: descending)", "FIELDS" }, \
	{ "noheadings", '\0', POPT_ARG_NONE, &(a).noheadings, 0, \
	  "No heading line", NULL }, \
	{ "separator", '\0', POPT_ARG_STRING, &(a).separator, 0, \
	  "Separate fields with S rather than aligning them", "S" }, \
	{ "aligned", '\0', POPT_ARG_NONE, &(a).aligned, 0, \
	  "Align the columns even with --separator", NULL }
#define VSS_POPT_REPORT_JSON(a, json_help) \
	{ "json", 'j', POPT_ARG_NONE, &(a).json, 0, json_help, NULL }
#define VSS_POPT_REPORT(a, json_help) \
	VSS_POPT_REPORT_COLUMNS(a), VSS_POPT_REPORT_JSON(a, json_help)

/* Copy a into o; o's other members (units, nosuffix) are left as they are. */
void vss_report_args_opts(const struct vss_report_args *a, struct vss_report_opts *o);

/* The first report option given ("-o", "--json", ...), or NULL for none. */
const char *vss_report_args_given(const struct vss_report_args *a);

/* Whether -o asks for the list of fields ("help" or "?"). */
bool vss_report_wants_help(const struct vss_report_args *a);

int vss_report_cell(struct dm_report *rh, struct dm_pool *mem, struct dm_report_field *field,
		    const void *data, void *private);

#define VSS_REPORT_FIELD(index, flags, width, id, heading, desc) \
	{ 1, (flags), (index) * sizeof(struct vss_value), (width), id, heading, \
	  vss_report_cell, desc }

#define VSS_REPORT_STR	(DM_REPORT_FIELD_TYPE_STRING | DM_REPORT_FIELD_ALIGN_LEFT)
#define VSS_REPORT_NUM	(DM_REPORT_FIELD_TYPE_NUMBER | DM_REPORT_FIELD_ALIGN_RIGHT)
#define VSS_REPORT_SIZE	(DM_REPORT_FIELD_TYPE_SIZE | DM_REPORT_FIELD_ALIGN_RIGHT)

/* "h", "b", "k", "m", "g" -> the unit letter; 0 for anything else. */
char vss_report_parse_units(const char *s);

/*
 * Check the -o and -O names against the table (an error message and
 * VSS_EXIT_USAGE for an unknown one, or a JSON-only one in columns or
 * as a sort key), else 0.
 */
int vss_report_check(const struct vss_report_def *def, const struct vss_report_opts *o);

/* -o help: one line per field, "<id> - <description>", on stdout. */
void vss_report_help(const struct vss_report_def *def);

/*
 * Print nrows rows (rows[r * nfields + i] is field i of row r).  Columns:
 * nothing at all for no rows (like lvs).  JSON: {"<json_key>": [...]},
 * every field when -o was not given.  Returns a VSS_EXIT_* status.
 */
int vss_report_print(const struct vss_report_def *def, const struct vss_report_opts *o,
		     struct vss_value *rows, size_t nrows);

/* Setters for one value. */
void vss_value_str(struct vss_value *v, const char *s);
void vss_value_num(struct vss_value *v, enum vss_value_kind kind, uint64_t n);
void vss_value_none(struct vss_value *v, enum vss_value_kind kind);
void vss_value_list_add(struct vss_value *v, enum vss_value_kind kind, const char *item);
void vss_value_bool(struct vss_value *v, bool b);
/* text NULL or "": null in JSON */
void vss_value_json(struct vss_value *v, const char *text);
/* A field this row does not have (a clone's state, for a store that is no clone). */
void vss_value_absent(struct vss_value *v, enum vss_value_kind kind);

/*
 * The catalog's name of a volume argument ("/dev/mapper/NAME"): a dm name
 * or /dev/mapper/NAME as given (the device need not exist: its shadow
 * copies may outlive it), anything else (a mount point, /dev/dm-N)
 * through vss_volume_resolve().  Returns 0 or its -errno.
 */
struct vss_ctx;
int vss_cli_volume_path(struct vss_ctx *ctx, const char *arg, char *out, size_t size);

/* "2024-05-01T12:00:00Z" */
void vss_format_time(time_t t, char *buf, size_t size);

#endif
