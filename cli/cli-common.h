/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helpers shared by the vss-* commands: exit status, error messages,
 * common options, version text.
 */
#ifndef VSS_CLI_COMMON_H
#define VSS_CLI_COMMON_H

#include <popt.h>
#include <stdint.h>

/*
 * Exit status, the same in every command and man page.  Commands map a
 * -errno to it with vss_exit_from_errno(), never by hand.
 */
enum vss_exit {
	VSS_EXIT_OK = 0,
	VSS_EXIT_USAGE = 1,		/* bad usage */
	VSS_EXIT_PERMISSION = 2,	/* permission denied */
	VSS_EXIT_NO_RESOURCES = 3,	/* out of memory or space */
	VSS_EXIT_NOT_FOUND = 4,		/* not found */
	VSS_EXIT_BUSY = 5,		/* busy, exists, or another set in progress */
	VSS_EXIT_WRITER = 6,		/* a writer failed or vetoed */
	VSS_EXIT_PROVIDER = 7,		/* the provider failed (no shadow copy made) */
	VSS_EXIT_KERNEL = 8,		/* the kernel target is missing or too old */
};

/*
 * The exit status for an errno value (positive or negative; 0 gives
 * VSS_EXIT_OK).  Values with no class of their own give fallback.
 */
int vss_exit_from_errno(int err, int fallback);

/*
 * vss.conf (vss.conf(5)), read before the options so that --help shows the
 * effective defaults.  0 with *cfg set (an empty configuration when there
 * is no file), or the exit status after the error was printed: 1 for a bad
 * line (file, line and key named), 2 when it cannot be read.
 */
struct vss_config;
int vss_cli_config(struct vss_config **cfg);

/*
 * A default for --help: "VALUE (vss.conf)" when the configuration sets
 * key, else builtin.  Returns buf.
 */
/*
 * The lock wait of a command that takes --wait: vss.conf's
 * global.lock_wait (0: fail at once) in *wait_ms, and --wait's help, with
 * that default, in help.  0, or the exit status of a bad vss.conf.
 */
int vss_cli_lock_wait(char *help, size_t size, unsigned int *wait_ms);

const char *vss_cli_default(const struct vss_config *cfg, const char *key, const char *builtin,
			    char *buf, size_t size);

/*
 * An option's duration or size: 0, or VSS_EXIT_USAGE after printing
 * "<option>: <value>: not a duration ..." (the bounds included).
 */
int vss_cli_duration(const char *option, const char *value, unsigned int *ms);
int vss_cli_size(const char *option, const char *value, uint64_t *bytes);

/*
 * A count from 0 to max (decimal digits only), or a label of at most max
 * bytes without control characters: 0, or VSS_EXIT_USAGE after printing
 * "<option>: <value>: not a count (0 to <max>)" or "...: too long".
 */
int vss_cli_count(const char *option, const char *value, unsigned int max, int *count);
int vss_cli_text(const char *option, const char *value, size_t max);

/*
 * The exit status of a failed vss_shadow_diff() (vss-diff, vss-send):
 * copies that cannot be compared as given are bad usage (1), a FROM or TO
 * that is gone from its store is not found (4).
 */
int vss_exit_from_diff(int err);

/* Set once from main(): the name used in messages without an object. */
void vss_cli_init(const char *argv0);
const char *vss_program_name(void);

/* "<object>: <what failed>: <strerror(err)>" on stderr; err may be -errno. */
void vss_error(const char *object, const char *what, int err);

/*
 * vss_error() for a library call that failed, unless the library already
 * said why (vss_cli_logged_errors()): each failure one line.
 */
void vss_cli_failed(const char *object, const char *what, int err);

/* "<object>: <message>" on stderr. */
void vss_errorx(const char *object, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * The library's log callback of the commands: messages on stderr, warnings
 * marked, only errors with --quiet.  Give it to vss_ctx_set_log().
 */
void vss_cli_log(int level, const char *msg, void *arg);

/*
 * How many errors vss_cli_log() has printed: a command prints its own
 * summary of a failure only when the library said nothing, so that each
 * failure reads as one line.
 */
unsigned int vss_cli_logged_errors(void);

/*
 * Before a change that cannot be undone, as lvremove asks: -1 to go on
 * when yes (-y/--yes) or the user answers y or yes to "Really QUESTION?
 * [y/n]: " on the terminal; else VSS_EXIT_USAGE after "OBJECT: UNDONE:
 * not confirmed", or, when standard input is not a terminal, "OBJECT:
 * UNDONE: needs confirmation and standard input is not a terminal (add
 * --yes)".
 */
int vss_cli_confirm(int yes, const char *object, const char *question, const char *undone);

/*
 * "must be run as root" and VSS_EXIT_PERMISSION for any other user, else
 * -1: every command that reads the catalog or the kernel's tables asks it
 * after its options are parsed and before it looks anything up.
 */
int vss_cli_need_root(void);

/*
 * Whether the kernel can serve provider (NULL: device-mapper alone; an
 * external provider: always): -1 when it can, else VSS_EXIT_KERNEL after
 * "the kernel has no device-mapper (...)" or "the kernel target vss-origin
 * is not loaded (modprobe dm-vss)".  Asked before anything is changed, so
 * that a command that cannot finish starts nothing.
 */
int vss_cli_need_kernel(const char *provider);

/*
 * vss_cli_need_kernel() for the provider of a shadow copy, or of a volume
 * of the catalog (NULL: of every volume).  -1 as well when the catalog
 * does not know it: the command then says so itself.  A catalog that
 * cannot be read is reported and its exit status returned.
 */
struct vss_ctx;
int vss_cli_kernel_for_shadow(struct vss_ctx *ctx, uint64_t shadow_id);
int vss_cli_kernel_for_volume(struct vss_ctx *ctx, const char *volume);

/* "<program> (dm-vss) <version>" on stdout. */
void vss_print_version(void);

/*
 * Options every command has: --verbose, --quiet, --debug, --version.  Include with
 * VSS_POPT_COMMON in the command's table, next to POPT_AUTOHELP.
 */
extern int vss_opt_verbose;
extern int vss_opt_quiet;
extern int vss_opt_version;
extern int vss_opt_debug;
extern struct poptOption vss_common_options[];

#define VSS_POPT_COMMON \
	{ NULL, '\0', POPT_ARG_INCLUDE_TABLE, vss_common_options, 0, "Common options:", NULL }

/*
 * The shared options that only some commands have, defined once so that
 * each means the same wherever it is: --wait DURATION (parse with
 * vss_cli_duration: 500ms, 30s, 2m; a bare number is seconds; at most
 * 24h) and -y/--yes (vss_cli_confirm).
 */
#define VSS_POPT_WAIT(var, help) \
	{ "wait", '\0', POPT_ARG_STRING, &(var), 0, help, "DURATION" }
#define VSS_POPT_YES(var) \
	{ "yes", 'y', POPT_ARG_NONE, &(var), 0, \
	  "Do not ask for confirmation (needed when standard input is not a terminal)", NULL }

/*
 * -h/--help and --usage, in every command's table in place of popt's
 * POPT_AUTOHELP (whose short option is -?, kept as an alias).
 * vss_cli_parse() prints them and returns VSS_EXIT_OK.
 */
extern struct poptOption vss_help_options[];
#define VSS_POPT_HELP \
	{ NULL, '\0', POPT_ARG_INCLUDE_TABLE, vss_help_options, 0, "Help options:", NULL },

/*
 * Report a poptGetNextOpt() failure (rc < -1) as "<program>: <option>:
 * <why>" and return VSS_EXIT_USAGE.
 */
int vss_popt_error(poptContext ctx, int rc);

/*
 * The start of every command: popt over the whole command line.  Returns
 * -1 when the command goes on; otherwise the exit status to return at
 * once: VSS_EXIT_USAGE after a bad option (reported), VSS_EXIT_OK after
 * --help, --usage or --version (printed).
 */
int vss_cli_parse(poptContext pc);

/*
 * Fails with a usage message when any argument is left (for commands
 * that take none); returns VSS_EXIT_USAGE or -1 to go on.
 */
int vss_cli_no_args(poptContext pc);

/*
 * arg as an id of a shadow copy (kind "shadow copy") or a set ("set"): a
 * positive decimal number.  0, or VSS_EXIT_USAGE after printing
 * "<arg>: not a <kind> id (a positive number, see vss-list)".
 */
int vss_cli_parse_id(const char *arg, const char *kind, uint64_t *id);

/*
 * A library context whose messages go to log (vss_cli_log if NULL) at the
 * level the options ask: debug (also libdevmapper's own messages), else
 * --verbose, else warnings and errors.  0, or the exit status of the
 * failure (reported): first of all, 2 for a user other than root
 * (vss_cli_need_root), unless vss_cli_any_user() was called.
 */
void vss_cli_any_user(void);
struct vss_ctx;
int vss_cli_context(struct vss_ctx **ctx, int debug,
		    void (*log)(int level, const char *msg, void *arg));

#endif
