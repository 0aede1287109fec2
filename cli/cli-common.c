// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Helpers shared by the vss-* commands.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli-common.h"
#include "libvsscore.h"

#ifndef VSS_VERSION
# ifdef PACKAGE_VERSION
#  define VSS_VERSION PACKAGE_VERSION
# else
#  define VSS_VERSION "0.1.0"
# endif
#endif

static const char *program = "vss";
static unsigned int logged_errors;

int vss_opt_verbose;
int vss_opt_quiet;
int vss_opt_version;
int vss_opt_debug;

struct poptOption vss_common_options[] = {
	{ "verbose", 'v', POPT_ARG_NONE, &vss_opt_verbose, 0,
	  "Say more about what is done", NULL },
	{ "quiet", 'q', POPT_ARG_NONE, &vss_opt_quiet, 0,
	  "Print nothing but errors; the exit status tells the outcome", NULL },
	{ "debug", '\0', POPT_ARG_NONE, &vss_opt_debug, 0,
	  "Print debugging messages, libdevmapper's too", NULL },
	{ "version", 'V', POPT_ARG_NONE, &vss_opt_version, 0,
	  "Print the version and exit", NULL },
	POPT_TABLEEND
};

static int opt_help, opt_usage;

struct poptOption vss_help_options[] = {
	{ "help", 'h', POPT_ARG_NONE, &opt_help, 0, "Show this help message", NULL },
	{ NULL, '?', POPT_ARG_NONE | POPT_ARGFLAG_DOC_HIDDEN, &opt_help, 0, NULL, NULL },
	{ "usage", '\0', POPT_ARG_NONE, &opt_usage, 0, "Display a brief usage message", NULL },
	POPT_TABLEEND
};

int vss_exit_from_errno(int err, int fallback)
{
	switch (err < 0 ? -err : err) {
	case 0:
		return VSS_EXIT_OK;
	case EPERM:
	case EACCES:
	case EROFS:
		return VSS_EXIT_PERMISSION;
	case ENOMEM:
	case ENOSPC:
	case EDQUOT:
		return VSS_EXIT_NO_RESOURCES;
	case ENOTBLK:		/* libvsscore: not a (device-mapper) block device */
	case ENOTDIR:
	case ENAMETOOLONG:
		return VSS_EXIT_USAGE;
	case ENOENT:
	case ENODEV:
	case ENXIO:
		return VSS_EXIT_NOT_FOUND;
	case EBUSY:
	case EEXIST:
	case EALREADY:
		return VSS_EXIT_BUSY;
	case ECANCELED:		/* libvsscore: a writer failed or vetoed */
		return VSS_EXIT_WRITER;
	case ENOPKG:		/* libvsscore: the kernel target is missing */
		return VSS_EXIT_KERNEL;
	case EUCLEAN:		/* metadata (the catalog, a store) is corrupt */
		return VSS_EXIT_PROVIDER;
	}
	return fallback;
}

void vss_cli_init(const char *argv0)
{
	const char *slash = argv0 ? strrchr(argv0, '/') : NULL;

	if (argv0)
		program = slash ? slash + 1 : argv0;
}

const char *vss_program_name(void)
{
	return program;
}

void vss_error(const char *object, const char *what, int err)
{
	if (object)
		fprintf(stderr, "%s: %s: %s: %s\n", program, object, what,
			strerror(err < 0 ? -err : err));
	else
		fprintf(stderr, "%s: %s: %s\n", program, what, strerror(err < 0 ? -err : err));
}

void vss_cli_failed(const char *object, const char *what, int err)
{
	if (!logged_errors)
		vss_error(object, what, err);
}

void vss_errorx(const char *object, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", program);
	if (object)
		fprintf(stderr, "%s: ", object);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void vss_print_version(void)
{
	printf("%s (dm-vss) %s\n", program, VSS_VERSION);
}

int vss_popt_error(poptContext ctx, int rc)
{
	fprintf(stderr, "%s: %s: %s (see --help)\n", program,
		poptBadOption(ctx, POPT_BADOPTION_NOALIAS), poptStrerror(rc));
	return VSS_EXIT_USAGE;
}

unsigned int vss_cli_logged_errors(void)
{
	return logged_errors;
}

void vss_cli_log(int level, const char *msg, void *arg)
{
	int len = (int)strcspn(msg, "\n");

	(void)arg;
	if (level >= VSS_LOG_ERROR)
		logged_errors++;
	if (vss_opt_quiet && level < VSS_LOG_ERROR)
		return;
	fprintf(stderr, "%s: %s%.*s\n", program, level == VSS_LOG_WARN ? "warning: " : "", len, msg);
}

int vss_cli_confirm(int yes, const char *object, const char *question, const char *undone)
{
	char answer[32];

	if (yes)
		return -1;
	if (!isatty(STDIN_FILENO)) {
		vss_errorx(object, "%s: needs confirmation and standard input is not a terminal "
			   "(add --yes)", undone);
		return VSS_EXIT_USAGE;
	}
	fprintf(stderr, "Really %s? [y/n]: ", question);
	fflush(stderr);
	if (fgets(answer, sizeof(answer), stdin)) {
		answer[strcspn(answer, "\r\n")] = '\0';
		if (!strcasecmp(answer, "y") || !strcasecmp(answer, "yes"))
			return -1;
	}
	vss_errorx(object, "%s: not confirmed", undone);
	return VSS_EXIT_USAGE;
}

int vss_cli_need_root(void)
{
	if (geteuid() == 0)
		return -1;
	vss_errorx(NULL, "must be run as root");
	return VSS_EXIT_PERMISSION;
}

/*
 * The same facts the library goes by: device-mapper registers its misc
 * device, and the dm-vss targets come with the dm_vss module.
 */
int vss_cli_need_kernel(const char *provider)
{
	const char *target = NULL;
	/* VSS_SYSFS: the tests' stand-in for /sys, a kernel that has what they need */
	const char *sys = getenv("VSS_SYSFS") ?: "/sys";
	char path[4096];

	if (provider && strncmp(provider, "dm-", 3))
		return -1;	/* an external provider: the kernel is its business */
	snprintf(path, sizeof(path), "%s/class/misc/device-mapper", sys);
	if (access(path, F_OK)) {
		vss_errorx(NULL, "the kernel has no device-mapper (modprobe dm-mod, then "
			   "modprobe dm-vss)");
		return VSS_EXIT_KERNEL;
	}
	if (provider && !strcmp(provider, "dm-vss-cow"))
		target = "vss-origin";
	else if (provider && !strcmp(provider, "dm-vss-clone"))
		target = "vss-clone";
	snprintf(path, sizeof(path), "%s/module/dm_vss", sys);
	if (target && access(path, F_OK)) {
		vss_errorx(NULL, "the kernel target %s is not loaded (modprobe dm-vss)", target);
		return VSS_EXIT_KERNEL;
	}
	return -1;
}

int vss_cli_parse(poptContext pc)
{
	int rc;

	while ((rc = poptGetNextOpt(pc)) > 0)
		;
	if (rc < -1)
		return vss_popt_error(pc, rc);
	if (opt_help || opt_usage) {
		if (opt_help)
			poptPrintHelp(pc, stdout, 0);
		else
			poptPrintUsage(pc, stdout, 0);
		return VSS_EXIT_OK;
	}
	if (vss_opt_version) {
		vss_print_version();
		return VSS_EXIT_OK;
	}
	return -1;
}

int vss_cli_no_args(poptContext pc)
{
	if (!poptPeekArg(pc))
		return -1;
	vss_errorx(NULL, "%s: unexpected argument: %s takes none (see --help)",
		   poptPeekArg(pc), program);
	return VSS_EXIT_USAGE;
}

int vss_cli_parse_id(const char *arg, const char *kind, uint64_t *id)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (*arg < '0' || *arg > '9' || *end || errno || !v) {
		vss_errorx(arg, "not a %s id (a positive number, see vss-list%s)", kind,
			   strcmp(kind, "set") ? "" : " --sets");
		return VSS_EXIT_USAGE;
	}
	*id = v;
	return 0;
}

int vss_cli_kernel_for_shadow(struct vss_ctx *ctx, uint64_t shadow_id)
{
	struct vss_shadow_info *sh = NULL;
	size_t n = 0, i;
	int rc = -1, r;

	r = vss_shadow_list(ctx, &sh, &n);
	if (r) {
		vss_cli_failed("catalog", "cannot read", r);
		return vss_exit_from_errno(r, VSS_EXIT_PROVIDER);
	}
	for (i = 0; i < n && rc < 0; i++)
		if (sh[i].shadow_id == shadow_id)
			rc = vss_cli_need_kernel(sh[i].provider);
	free(sh);
	return rc;
}

int vss_cli_kernel_for_volume(struct vss_ctx *ctx, const char *volume)
{
	struct vss_storage_info *st = NULL;
	size_t n = 0, i;
	int rc = -1, r;

	r = vss_storage_list(ctx, &st, &n);
	if (r) {
		vss_cli_failed("catalog", "cannot read", r);
		return vss_exit_from_errno(r, VSS_EXIT_PROVIDER);
	}
	for (i = 0; i < n && rc < 0; i++)
		if (!volume || !strcmp(st[i].volume, volume) || !strcmp(st[i].name, volume) ||
		    (!strncmp(volume, "/dev/mapper/", 12) && !strcmp(st[i].name, volume + 12)))
			rc = vss_cli_need_kernel(st[i].provider);
	free(st);
	return rc;
}

static bool any_user;

void vss_cli_any_user(void)
{
	any_user = true;
}

int vss_cli_context(struct vss_ctx **ctx, int debug,
		    void (*log)(int level, const char *msg, void *arg))
{
	int r;

	if (!any_user && (r = vss_cli_need_root()) >= 0)
		return r;
	if (debug)
		setenv("VSS_DM_DEBUG", "1", 1);
	r = vss_ctx_new(ctx);
	if (r) {
		vss_error(NULL, "cannot start", r);
		return vss_exit_from_errno(r, VSS_EXIT_NO_RESOURCES);
	}
	vss_ctx_set_log(*ctx, log ? log : vss_cli_log, NULL, debug ? VSS_LOG_DEBUG :
			vss_opt_verbose ? VSS_LOG_INFO : VSS_LOG_WARN);
	/* A broken vss.conf stops every command, as a broken lvm.conf does. */
	{
		struct vss_config *cfg = NULL;

		r = vss_config_load(*ctx, &cfg);
		vss_config_free(cfg);
		if (r) {
			vss_ctx_free(*ctx);
			*ctx = NULL;
			return r == -EINVAL ? VSS_EXIT_USAGE : vss_exit_from_errno(r, VSS_EXIT_USAGE);
		}
	}
	return 0;
}

int vss_exit_from_diff(int err)
{
	switch (err < 0 ? -err : err) {
	case EINVAL:
	case EXDEV:
	case ERANGE:
	case EOPNOTSUPP:
		return VSS_EXIT_USAGE;
	case ESTALE:
		return VSS_EXIT_NOT_FOUND;
	}
	return vss_exit_from_errno(err, VSS_EXIT_PROVIDER);
}

int vss_cli_config(struct vss_config **cfg)
{
	struct vss_ctx *ctx = NULL;
	int r;

	*cfg = NULL;
	r = vss_ctx_new(&ctx);
	if (r) {
		vss_error(NULL, "cannot start", r);
		return vss_exit_from_errno(r, VSS_EXIT_NO_RESOURCES);
	}
	vss_ctx_set_log(ctx, vss_cli_log, NULL, VSS_LOG_WARN);
	r = vss_config_load(ctx, cfg);
	vss_ctx_free(ctx);
	return r == -EINVAL ? VSS_EXIT_USAGE : vss_exit_from_errno(r, VSS_EXIT_USAGE);
}

int vss_cli_lock_wait(char *help, size_t size, unsigned int *wait_ms)
{
	struct vss_config *cfg;
	char b[64];
	int rc;

	rc = vss_cli_config(&cfg);
	if (rc)
		return rc;
	snprintf(help, size, "Wait up to DURATION for another command holding the lock "
		 "(default %s)", vss_cli_default(cfg, "global.lock_wait", "fail at once", b,
						  sizeof(b)));
	*wait_ms = vss_config_duration_ms(cfg, "global.lock_wait", 0);
	vss_config_free(cfg);
	return 0;
}

const char *vss_cli_default(const struct vss_config *cfg, const char *key, const char *builtin,
			    char *buf, size_t size)
{
	const char *v = vss_config_get(cfg, key);

	if (v)
		snprintf(buf, size, "%s (vss.conf)", v);
	else
		snprintf(buf, size, "%s", builtin);
	return buf;
}

int vss_cli_duration(const char *option, const char *value, unsigned int *ms)
{
	int r = vss_parse_duration_ms(value, ms);

	if (!r)
		return 0;
	vss_errorx(NULL, "%s: %s: %s", option, value, r == -ERANGE ?
		   "too long (at most 24h)" : "not a duration (500ms, 30s, 2m, 1h)");
	return VSS_EXIT_USAGE;
}

int vss_cli_count(const char *option, const char *value, unsigned int max, int *count)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(value, &end, 10);
	if (*value < '0' || *value > '9' || *end || errno || v > max) {
		vss_errorx(NULL, "%s: %s: not a count (0 to %u)", option, value, max);
		return VSS_EXIT_USAGE;
	}
	*count = (int)v;
	return 0;
}

int vss_cli_text(const char *option, const char *value, size_t max)
{
	if (strlen(value) <= max && !strpbrk(value, "\n\r\t"))
		return 0;
	if (strlen(value) > max)
		vss_errorx(NULL, "%s: %.*s...: too long (at most %zu bytes)", option, 32, value, max);
	else
		vss_errorx(NULL, "%s: a control character: not allowed", option);
	return VSS_EXIT_USAGE;
}

int vss_cli_size(const char *option, const char *value, uint64_t *bytes)
{
	int r = vss_parse_size(value, bytes);

	if (!r)
		return 0;
	vss_errorx(NULL, "%s: %s: %s", option, value, r == -ERANGE ?
		   "too large" : "not a size (4096, 64k, 1m, 2g)");
	return VSS_EXIT_USAGE;
}
