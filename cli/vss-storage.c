// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vss-storage: enable, list and disable shadow copies of volumes.
 *
 *   vss-storage add --for VOL --on DEV [--chunk-size S] [--max-size S]
 *                   [--provider dm-vss-cow|dm-snapshot] [--wrap [--name N]] [--wipe]
 *   vss-storage add --clone --for VOL --on DEV [--region-size S]
 *   vss-storage list [-o FIELDS] [-O FIELDS] [--noheadings] [--separator S] [--aligned]
 *                    [--json]
 *   vss-storage resize --for VOL [--max-size S]
 *   vss-storage remove --for VOL [--force]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <popt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli-common.h"
#include "libvsscore.h"
#include "report.h"

/* A power-of-two size from lo to hi bytes: 0, or VSS_EXIT_USAGE (printed). */
static int parse_pow2(const char *option, const char *value, uint64_t lo, uint64_t hi,
		      const char *range, uint64_t *bytes)
{
	int rc = vss_cli_size(option, value, bytes);

	if (!rc && (*bytes < lo || *bytes > hi || (*bytes & (*bytes - 1)))) {
		vss_errorx(NULL, "%s: %s: must be a power of two, %s", option, value, range);
		rc = VSS_EXIT_USAGE;
	}
	return rc;
}

/*
 * The sizes of add and resize into o, before anything is looked up: 0, or
 * VSS_EXIT_USAGE (printed).
 */
static int parse_sizes(const char *cmd, const char *chunk, const char *maxs,
		       const char *region, struct vss_storage_opts *o)
{
	bool resize = !strcmp(cmd, "resize"), add = !strcmp(cmd, "add");
	uint64_t b;
	int rc = 0;

	if (!add)
		chunk = region = NULL;	/* vss.conf's, for add only */
	if (chunk && !(rc = parse_pow2("--chunk-size", chunk, 4096, 1 << 20, "4k..1M", &b)))
		o->chunk_sectors = (uint32_t)(b >> 9);
	if (!rc && region &&
	    !(rc = parse_pow2("--region-size", region, 4096, 1ULL << 30, "4k..1G", &b)))
		o->region_sectors = (uint32_t)(b >> 9);
	if (!rc && maxs && !(rc = vss_cli_size("--max-size", maxs, &o->max_bytes)) &&
	    o->max_bytes < (resize ? 1 << 20 : 1)) {
		vss_errorx(NULL, "--max-size: %s: %s", maxs, resize ? "at least 1M" :
			   "must be more than 0");
		rc = VSS_EXIT_USAGE;
	}
	return rc;
}

/* The order of this enum is the table's, and the JSON keys' order. */
enum {
	ST_VOLUME, ST_REAL, ST_STORE, ST_PROVIDER, ST_CHUNK_SECTORS, ST_MAX_BYTES, ST_WRAPPED,
	ST_REGION_SECTORS, ST_CLONE_STATE, ST_SYNCED_REGIONS, ST_TOTAL_REGIONS, ST_NFIELDS
};

static const struct dm_report_field_type storage_fields[] = {
	VSS_REPORT_FIELD(ST_VOLUME, VSS_REPORT_STR, 6, "volume", "Volume",
			 "The volume, /dev/mapper/NAME."),
	VSS_REPORT_FIELD(ST_REAL, VSS_REPORT_STR, 4, "real", "Real",
			 "dm name of the device holding the volume's data (NAME-real)."),
	VSS_REPORT_FIELD(ST_STORE, VSS_REPORT_STR, 5, "store", "Store",
			 "The store device (a clone's dest)."),
	VSS_REPORT_FIELD(ST_PROVIDER, VSS_REPORT_STR, 8, "provider", "Provider",
			 "dm-vss-cow, dm-snapshot or dm-vss-clone."),
	VSS_REPORT_FIELD(ST_CHUNK_SECTORS, VSS_REPORT_NUM, 5, "chunk_sectors", "Chunk",
			 "Chunk size asked for at add, in 512-byte sectors; 0: the target's default."),
	VSS_REPORT_FIELD(ST_MAX_BYTES, VSS_REPORT_SIZE, 7, "max_bytes", "MaxSize",
			 "dm-snapshot: size of each shadow copy's area; 0: the whole store "
			 "(JSON: bytes)."),
	VSS_REPORT_FIELD(ST_WRAPPED, VSS_REPORT_STR, 7, "wrapped", "Wrapped",
			 "Whether the volume is a wrapper made by --wrap (JSON: a boolean)."),
	VSS_REPORT_FIELD(ST_REGION_SECTORS, VSS_REPORT_NUM, 6, "region_sectors", "Region",
			 "Clone: the region size, in 512-byte sectors."),
	VSS_REPORT_FIELD(ST_CLONE_STATE, VSS_REPORT_STR, 5, "clone_state", "Clone",
			 "Clone: syncing, mirrored, split, fail or off, as the kernel says."),
	VSS_REPORT_FIELD(ST_SYNCED_REGIONS, VSS_REPORT_NUM, 6, "synced_regions", "Synced",
			 "Clone: regions where the dest holds what the volume holds."),
	VSS_REPORT_FIELD(ST_TOTAL_REGIONS, VSS_REPORT_NUM, 7, "total_regions", "Regions",
			 "Clone: all its regions."),
	{ 0, 0, 0, 0, "", "", NULL, NULL },
};

/* no default sort: the catalog's order */
static const struct vss_report_def storage_report = {
	.json_key = "storage",
	.fields = storage_fields,
	.default_fields = "volume,provider,store,real,clone_state,synced_regions,total_regions",
	.default_sort = "",
};

/*
 * A clone's fields: the kernel's view of it, null when it cannot be read;
 * a volume that is no clone has none of them, not even in JSON.
 */
static void fill_clone(struct vss_ctx *ctx, const struct vss_storage_info *st,
		       struct vss_value *row)
{
	struct vss_clone_status cs;

	if (strcmp(st->provider, "dm-vss-clone")) {
		vss_value_absent(&row[ST_REGION_SECTORS], VSS_VAL_NUMBER);
		vss_value_absent(&row[ST_CLONE_STATE], VSS_VAL_STRING);
		vss_value_absent(&row[ST_SYNCED_REGIONS], VSS_VAL_NUMBER);
		vss_value_absent(&row[ST_TOTAL_REGIONS], VSS_VAL_NUMBER);
		return;
	}
	vss_value_num(&row[ST_REGION_SECTORS], VSS_VAL_NUMBER, st->region_sectors);
	if (vss_storage_clone_status(ctx, st->volume, &cs)) {
		vss_value_str(&row[ST_CLONE_STATE], NULL);
		vss_value_none(&row[ST_SYNCED_REGIONS], VSS_VAL_NUMBER);
		vss_value_none(&row[ST_TOTAL_REGIONS], VSS_VAL_NUMBER);
		return;
	}
	vss_value_str(&row[ST_CLONE_STATE], cs.state);
	vss_value_num(&row[ST_SYNCED_REGIONS], VSS_VAL_NUMBER, cs.synced_regions);
	vss_value_num(&row[ST_TOTAL_REGIONS], VSS_VAL_NUMBER, cs.total_regions);
}

/* list: 0, or the -errno of reading the catalog; *rc the report's status. */
static int do_list(struct vss_ctx *ctx, const struct vss_report_opts *o, int *rc)
{
	struct vss_storage_info *st;
	struct vss_value *rows;
	size_t n, i;
	int r = vss_storage_list(ctx, &st, &n);

	if (r)
		return r;
	rows = calloc((n + 1) * ST_NFIELDS, sizeof(*rows));
	if (!rows) {
		free(st);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		struct vss_value *row = &rows[i * ST_NFIELDS];

		vss_value_str(&row[ST_VOLUME], st[i].volume);
		vss_value_str(&row[ST_REAL], st[i].real);
		vss_value_str(&row[ST_STORE], st[i].store);
		vss_value_str(&row[ST_PROVIDER], st[i].provider);
		vss_value_num(&row[ST_CHUNK_SECTORS], VSS_VAL_NUMBER, st[i].chunk_sectors);
		vss_value_num(&row[ST_MAX_BYTES], VSS_VAL_SIZE, st[i].max_bytes);
		vss_value_bool(&row[ST_WRAPPED], st[i].wrapped);
		fill_clone(ctx, &st[i], row);
	}
	*rc = vss_report_print(&storage_report, o, rows, n);
	free(rows);
	free(st);
	return 0;
}

/* After add: which volume, with which provider (chosen or named), on which store. */
static void said_enabled(struct vss_ctx *ctx, const char *vol, const char *store)
{
	struct vss_storage_info *st = NULL;
	char path[300] = "";
	size_t n = 0, i;

	if (vss_opt_quiet || vss_storage_list(ctx, &st, &n))
		return;
	if (vss_cli_volume_path(ctx, vol, path, sizeof(path)))
		path[0] = '\0';
	for (i = 0; i < n; i++)
		if (!strcmp(st[i].store, store) || !strcmp(st[i].volume, path))
			printf("Shadow copies enabled for %s: provider %s, store %s.\n", st[i].volume,
			       st[i].provider, st[i].store);
	free(st);
}

/* vss.conf's defaults, and the help texts that show them. */
struct defaults {
	char help_chunk[128], help_region[128], help_provider[160], help_overflow[160];
	char chunk[64], region[64], provider[64], overflow[16];
};

static void read_defaults(const struct vss_config *cfg, struct defaults *d)
{
	const char *p = vss_config_get(cfg, "storage.provider");
	char b[64];

	snprintf(d->help_chunk, sizeof(d->help_chunk), "Copy-on-write chunk size, 4k..1M (add, "
		 "dm-vss-cow; default %s)",
		 vss_cli_default(cfg, "storage.chunk_size", "4k", b, sizeof(b)));
	snprintf(d->help_region, sizeof(d->help_region), "The clone's region size, 4k..1G (add "
		 "--clone; default %s)",
		 vss_cli_default(cfg, "storage.region_size", "512k", b, sizeof(b)));
	if (p)
		snprintf(d->help_provider, sizeof(d->help_provider), "dm-vss-cow, dm-snapshot or "
			 "dm-vss-clone (add; default %s (vss.conf))", p);
	else
		snprintf(d->help_provider, sizeof(d->help_provider), "dm-vss-cow (default), "
			 "dm-snapshot or dm-vss-clone (add)");
	snprintf(d->chunk, sizeof(d->chunk), "%s", vss_config_get(cfg, "storage.chunk_size") ?: "");
	snprintf(d->region, sizeof(d->region), "%s",
		 vss_config_get(cfg, "storage.region_size") ?: "");
	snprintf(d->provider, sizeof(d->provider), "%s", p ?: "");
	snprintf(d->help_overflow, sizeof(d->help_overflow), "When the store is full: drop the "
		 "oldest snapshots, or invalidate them all (add, dm-vss-cow; default %s)",
		 vss_cli_default(cfg, "storage.overflow", "drop", b, sizeof(b)));
	snprintf(d->overflow, sizeof(d->overflow), "%s",
		 vss_config_get(cfg, "storage.overflow") ?: "");
}

/*
 * The overflow policy of a new dm-vss-cow store: --overflow, else
 * vss.conf's storage.overflow, else drop.  -1, or the exit status.
 */
static int choose_overflow(const struct defaults *d, const char *provider, const char *overflow,
			   bool *invalidate)
{
	bool cow = !provider || !strcmp(provider, "dm-vss-cow");

	if (overflow && strcmp(overflow, "drop") && strcmp(overflow, "invalidate")) {
		vss_errorx(NULL, "--overflow: %s: not a policy (drop or invalidate)", overflow);
		return VSS_EXIT_USAGE;
	}
	if (overflow && !cow) {
		vss_errorx(NULL, "--overflow is for dm-vss-cow stores, not %s", provider);
		return VSS_EXIT_USAGE;
	}
	if (!overflow && cow && d->overflow[0])
		overflow = d->overflow;
	*invalidate = overflow && !strcmp(overflow, "invalidate");
	return -1;
}

/* The subcommand, and the volume that may follow it: -1, or the exit status. */
static int parse_words(poptContext pc, const char **cmdp, char **volp)
{
	const char *cmd = poptGetArg(pc);

	if (!cmd) {
		vss_errorx(NULL, "expected one of add, list, resize, remove (see --help)");
		return VSS_EXIT_USAGE;
	}
	if (strcmp(cmd, "add") && strcmp(cmd, "list") && strcmp(cmd, "resize") &&
	    strcmp(cmd, "remove")) {
		vss_errorx(cmd, "unknown subcommand: expected one of add, list, resize, remove "
			   "(see --help)");
		return VSS_EXIT_USAGE;
	}
	/* the volume may also follow the subcommand, as lvremove takes its LV */
	if (strcmp(cmd, "list") && poptPeekArg(pc)) {
		const char *arg = poptGetArg(pc);

		if (*volp && strcmp(*volp, arg)) {
			vss_errorx(arg, "a second volume (--for %s): %s takes one", *volp, cmd);
			return VSS_EXIT_USAGE;
		}
		*volp = (char *)arg;
	}
	if (poptPeekArg(pc)) {
		vss_errorx(poptPeekArg(pc), "unexpected argument (see --help)");
		return VSS_EXIT_USAGE;
	}
	if (strcmp(cmd, "list") && !*volp) {
		vss_errorx(NULL, "%s: the volume is needed (--for VOL, or VOL after %s)", cmd, cmd);
		return VSS_EXIT_USAGE;
	}
	*cmdp = cmd;
	return -1;
}

/*
 * The report options, which list alone takes, into o; -o help printed:
 * -1, or the exit status.
 */
static int report_options(const char *cmd, const struct vss_report_args *a,
			  struct vss_report_opts *o)
{
	const char *given = vss_report_args_given(a);

	if (strcmp(cmd, "list")) {
		if (!given)
			return -1;
		vss_errorx(NULL, "%s: for list only, not %s", given, cmd);
		return VSS_EXIT_USAGE;
	}
	vss_report_args_opts(a, o);
	if (vss_report_wants_help(a)) {
		vss_report_help(&storage_report);
		return VSS_EXIT_OK;
	}
	return vss_report_check(&storage_report, o) ?: -1;
}

/*
 * The provider (named, --clone, or vss.conf's) and the sizes that go with
 * it (given, or vss.conf's where they apply): -1, or the exit status.
 */
static int choose_provider(struct defaults *d, int clone, char **providerp, char **chunkp,
			   const char *maxs, char **regionp)
{
	char *provider = *providerp;
	bool is_clone;

	if (!provider && !clone && d->provider[0])
		provider = d->provider;
	if (provider && strcmp(provider, "dm-vss-cow") && strcmp(provider, "dm-snapshot") &&
	    strcmp(provider, "dm-vss-clone")) {
		vss_errorx(NULL, "%s: unknown storage provider (dm-vss-cow, dm-snapshot or "
			   "dm-vss-clone)", provider);
		return VSS_EXIT_USAGE;
	}
	if (clone && provider && strcmp(provider, "dm-vss-clone")) {
		vss_errorx(NULL, "--clone and --provider %s: a clone is dm-vss-clone", provider);
		return VSS_EXIT_USAGE;
	}
	if (clone)
		provider = "dm-vss-clone";
	is_clone = provider && !strcmp(provider, "dm-vss-clone");
	if (is_clone && (*chunkp || maxs)) {
		vss_errorx(NULL, "--chunk-size and --max-size are for copy-on-write stores, "
			   "not clones (--region-size)");
		return VSS_EXIT_USAGE;
	}
	if (*regionp && !is_clone) {
		vss_errorx(NULL, "--region-size is for clones (add --clone)");
		return VSS_EXIT_USAGE;
	}
	/* vss.conf's sizes, where the option is not given and applies */
	if (!*chunkp && d->chunk[0] && !is_clone)
		*chunkp = d->chunk;
	if (!*regionp && d->region[0] && is_clone)
		*regionp = d->region;
	*providerp = provider;
	return -1;
}

int main(int argc, char **argv)
{
	char *vol = NULL, *dev = NULL, *chunk = NULL, *maxs = NULL, *provider = NULL,
	     *name = NULL, *region = NULL, *overflow = NULL;
	int wrap = 0, force = 0, clone = 0, wipe = 0, yes = 0;
	struct vss_report_args ra = { 0 };
	struct defaults d;
	struct poptOption options[] = {
		{ "for", '\0', POPT_ARG_STRING, &vol, 0, "The volume", "VOL" },
		{ "on", '\0', POPT_ARG_STRING, &dev, 0, "The store device (add)", "DEV" },
		{ "chunk-size", 'c', POPT_ARG_STRING, &chunk, 0, d.help_chunk, "SIZE" },
		{ "max-size", 'm', POPT_ARG_STRING, &maxs, 0,
		  "Size of one shadow copy's area (add, resize; dm-snapshot)", "SIZE" },
		{ "provider", 'p', POPT_ARG_STRING, &provider, 0, d.help_provider, "NAME" },
		{ "clone", '\0', POPT_ARG_NONE, &clone, 0,
		  "A split-mirror clone onto DEV (add; provider dm-vss-clone)", NULL },
		{ "region-size", '\0', POPT_ARG_STRING, &region, 0, d.help_region, "SIZE" },
		{ "wrap", '\0', POPT_ARG_NONE, &wrap, 0,
		  "Wrap a plain, unmounted partition in a dm-linear device (add)", NULL },
		{ "name", '\0', POPT_ARG_STRING, &name, 0,
		  "The dm name of the wrapper (add --wrap)", "NAME" },
		{ "overflow", '\0', POPT_ARG_STRING, &overflow, 0, d.help_overflow, "POLICY" },
		{ "wipe", '\0', POPT_ARG_NONE, &wipe, 0,
		  "Use a store that is not blank: wipe an old store or other data (add)", NULL },
		{ "force", '\0', POPT_ARG_NONE, &force, 0,
		  "Also delete the volume's shadow copies (remove)", NULL },
		VSS_POPT_YES(yes),
		VSS_POPT_REPORT(ra, "Print JSON: {\"storage\": [...]} (list)"),
		VSS_POPT_COMMON,
		VSS_POPT_HELP
		POPT_TABLEEND
	};
	struct vss_report_opts ro = { .units = 'h' };
	struct vss_storage_opts o = { 0 };
	struct vss_config *cfg = NULL;
	struct vss_ctx *ctx = NULL;
	const char *cmd;
	poptContext pc;
	int rc, r;

	vss_cli_init(argv[0]);
	rc = vss_cli_config(&cfg);
	if (rc)
		return rc;
	read_defaults(cfg, &d);
	vss_config_free(cfg);
	pc = poptGetContext(NULL, argc, (const char **)argv, options, 0);
	poptSetOtherOptionHelp(pc, "add|list|resize|remove [VOL] [OPTION...]");
	rc = vss_cli_parse(pc);
	if (rc >= 0)
		return rc;
	rc = parse_words(pc, &cmd, &vol);
	if (rc >= 0)
		return rc;
	rc = report_options(cmd, &ra, &ro);
	if (rc >= 0)
		return rc;
	if (!strcmp(cmd, "add") && !dev) {
		vss_errorx(NULL, "add: --on DEV is needed");
		return VSS_EXIT_USAGE;
	}
	rc = choose_provider(&d, clone, &provider, &chunk, maxs, &region);
	if (rc < 0)
		rc = choose_overflow(&d, provider, overflow, &o.overflow_invalidate);
	if (rc >= 0)
		return rc;
	rc = parse_sizes(cmd, chunk, maxs, region, &o);
	if (rc)
		return rc;
	rc = vss_cli_context(&ctx, vss_opt_debug, NULL);
	if (rc)
		return rc;
	if (!strcmp(cmd, "list")) {
		r = do_list(ctx, &ro, &rc);
		if (r)
			rc = vss_exit_from_errno(r, VSS_EXIT_NOT_FOUND);
		goto out;
	}
	rc = strcmp(cmd, "add") ? vss_cli_kernel_for_volume(ctx, vol) : vss_cli_need_kernel(provider);
	if (rc < 0 && !strcmp(cmd, "remove") && force) {
		char question[400];

		snprintf(question, sizeof(question), "remove the storage of %s and delete all its "
			 "shadow copies", vol);
		rc = vss_cli_confirm(yes, vol, question, "nothing removed");
	}
	if (rc >= 0)
		goto out;
	r = vss_lock(ctx, 10000);
	if (r) {
		rc = vss_exit_from_errno(r, VSS_EXIT_BUSY);
		goto out;
	}
	if (!strcmp(cmd, "add")) {
		o.volume = vol;
		o.store = dev;
		o.provider = provider;
		o.wrap = wrap;
		o.wrap_name = name;
		o.wipe = wipe;
		r = vss_storage_add(ctx, &o);
		if (!r)
			said_enabled(ctx, vol, dev);
	} else if (!strcmp(cmd, "resize")) {
		r = vss_storage_resize(ctx, vol, o.max_bytes);
	} else {
		r = vss_storage_remove(ctx, vol, force);
	}
	if (r && !vss_cli_logged_errors())
		vss_errorx(vol, "%s failed: %s", cmd, vss_strerror(r));
	/* a resize that cannot be done so: usage */
	rc = (r == -EOPNOTSUPP || r == -EINVAL) && !strcmp(cmd, "resize")
		? VSS_EXIT_USAGE
		: vss_exit_from_errno(r, VSS_EXIT_PROVIDER);
out:
	vss_ctx_free(ctx);
	poptFreeContext(pc);
	return rc;
}
