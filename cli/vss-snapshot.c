// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vss-snapshot: create one shadow copy set of the given volumes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <json-c/json.h>
#include <popt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli-common.h"
#include "libvsscore.h"

/* "500ms", "2s", "2" (seconds) -> milliseconds; 0 on error. */
/* A writers' or commit limit: a duration above 0. */
static int parse_limit(const char *option, const char *value, unsigned int *ms)
{
	int rc = vss_cli_duration(option, value, ms);

	if (!rc && !*ms) {
		vss_errorx(NULL, "%s: %s: must be more than 0", option, value);
		rc = VSS_EXIT_USAGE;
	}
	return rc;
}

/*
 * The defaults that vss.conf may set, into the options' variables and the
 * help texts (the option given on the command line overrides them).
 */
struct snapshot_defaults {
	char freeze[96], commit[96], retry[96], keep[96], wait[96], provider[96];
	char provider_name[64];
	unsigned int usage_warn;	/* percent; 0: never */
};

static void defaults_from(const struct vss_config *cfg, struct snapshot_defaults *d,
			  struct vss_set_opts *sopts, int *retry, int *keep, unsigned int *wait_ms,
			  char **provider)
{
	char b[64];

	snprintf(d->freeze, sizeof(d->freeze), "Writers' freeze-to-thaw limit (default %s)",
		 vss_cli_default(cfg, "snapshot.timeout_freeze", "60s", b, sizeof(b)));
	snprintf(d->commit, sizeof(d->commit), "Filesystems' freeze-to-thaw limit (default %s)",
		 vss_cli_default(cfg, "snapshot.timeout_commit", "10s", b, sizeof(b)));
	snprintf(d->retry, sizeof(d->retry), "Retry up to N times when a writer says its failure "
		 "is retryable (default %s)", vss_cli_default(cfg, "snapshot.retry", "0", b,
							      sizeof(b)));
	snprintf(d->keep, sizeof(d->keep), "Then keep only the newest N shadow copies of each "
		 "volume (default %s)", vss_cli_default(cfg, "snapshot.keep", "all", b, sizeof(b)));
	snprintf(d->wait, sizeof(d->wait), "Wait up to TIME for another set in progress "
		 "(default %s)", vss_cli_default(cfg, "global.lock_wait", "fail at once", b,
						  sizeof(b)));
	snprintf(d->provider, sizeof(d->provider), "Use this provider for every volume "
		 "(default %s)", vss_cli_default(cfg, "snapshot.provider", "each volume's own", b,
						 sizeof(b)));
	sopts->freeze_timeout_ms = vss_config_duration_ms(cfg, "snapshot.timeout_freeze", 0);
	sopts->commit_timeout_ms = vss_config_duration_ms(cfg, "snapshot.timeout_commit", 0);
	*retry = (int)vss_config_count(cfg, "snapshot.retry", 0);
	*keep = (int)vss_config_count(cfg, "snapshot.keep", 0);
	*wait_ms = vss_config_duration_ms(cfg, "global.lock_wait", 0);
	d->usage_warn = vss_config_count(cfg, "snapshot.usage_warn", 90);
	if (vss_config_get(cfg, "snapshot.provider")) {
		snprintf(d->provider_name, sizeof(d->provider_name), "%s",
			 vss_config_get(cfg, "snapshot.provider"));
		*provider = d->provider_name;
	}
}

static json_object *shadow_json(const struct vss_shadow_info *s, const char *mnt)
{
	json_object *o = json_object_new_object();
	char when[32];
	struct tm tm;

	gmtime_r(&s->created, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_object_add(o, "shadow_id", json_object_new_int64(s->shadow_id));
	json_object_object_add(o, "set_id", json_object_new_int64(s->set_id));
	json_object_object_add(o, "volume", json_object_new_string(s->volume));
	json_object_object_add(o, "device", json_object_new_string(s->device));
	json_object_object_add(o, "provider", json_object_new_string(s->provider));
	json_object_object_add(o, "created", json_object_new_string(when));
	json_object_object_add(o, "state", json_object_new_string(s->state));
	json_object_object_add(o, "tag", json_object_new_string(s->tag));
	if (mnt)
		json_object_object_add(o, "mountpoint", json_object_new_string(mnt));
	return o;
}

/* --exec: mount each shadow copy read-only, run CMD, unmount. */
static int run_exec(struct vss_ctx *ctx, struct vss_set *set, const char *cmd)
{
	size_t n = vss_set_shadow_count(set), i;
	char (*mnts)[300] = calloc(n, sizeof(*mnts));
	char env[4096] = "", name[64], id[32];
	int status = 0, rc;
	pid_t pid;

	if (!mnts)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct vss_shadow_info s;
		static const char *const opts[][2] = {
			{ "ext4", "noload" }, { "xfs", "norecovery,nouuid" },
			{ "ext3", "noload" }, { "btrfs", "" }, { NULL, NULL } };
		int k;

		vss_set_shadow(set, i, &s);
		snprintf(mnts[i], sizeof(mnts[i]), "%s/expose/%llu", vss_ctx_dir(ctx, "run"),
			 (unsigned long long)s.shadow_id);
		mkdir(vss_ctx_dir(ctx, "run"), 0700);
		snprintf(name, sizeof(name), "%s/expose", vss_ctx_dir(ctx, "run"));
		mkdir(name, 0700);
		mkdir(mnts[i], 0700);
		for (k = 0; opts[k][0]; k++)
			if (!mount(s.device, mnts[i], opts[k][0], MS_RDONLY, opts[k][1]))
				break;
		if (!opts[k][0]) {
			vss_error(s.device, "cannot mount the shadow copy", errno);
			rmdir(mnts[i]);
			mnts[i][0] = '\0';
			continue;
		}
		snprintf(name, sizeof(name), "VSS_SHADOW_MOUNT_%zu", i);
		setenv(name, mnts[i], 1);
		snprintf(name, sizeof(name), "VSS_SHADOW_VOLUME_%zu", i);
		setenv(name, s.volume, 1);
		snprintf(name, sizeof(name), "VSS_SHADOW_ID_%zu", i);
		snprintf(id, sizeof(id), "%llu", (unsigned long long)s.shadow_id);
		setenv(name, id, 1);
		snprintf(name, sizeof(name), "VSS_SHADOW_DEVICE_%zu", i);
		setenv(name, s.device, 1);
		if (env[0])
			strncat(env, " ", sizeof(env) - strlen(env) - 1);
		strncat(env, mnts[i], sizeof(env) - strlen(env) - 1);
	}
	setenv("VSS_SHADOW_MOUNTS", env, 1);
	snprintf(id, sizeof(id), "%llu", (unsigned long long)vss_set_id(set));
	setenv("VSS_SET_ID", id, 1);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, &status, 0);
	for (i = 0; i < n; i++)
		if (mnts[i][0]) {
			umount2(mnts[i], 0);
			rmdir(mnts[i]);
		}
	free(mnts);
	rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return rc;
}

/*
 * Whether the kernel serves the providers that would take the volumes:
 * -1, or VSS_EXIT_KERNEL (said) before anything is frozen or suspended.
 */
static int kernel_for(struct vss_ctx *ctx, const char *provider, const char **vols)
{
	int rc = -1;

	if (provider)
		return vss_cli_need_kernel(provider);
	for (; rc < 0 && *vols; vols++)
		rc = vss_cli_kernel_for_volume(ctx, *vols);
	return rc < 0 ? vss_cli_need_kernel(NULL) : rc;
}

/* What the catalog can hold: a tag of 63 bytes; retries bounded by reason. */
#define VSS_TAG_MAX	63
#define VSS_RETRY_MAX	100
#define VSS_KEEP_MAX	100000

/*
 * Make the set, retrying a writer's retryable failure up to retry times.
 * -1 with *setp made, or the exit status (the phase and reason said).
 */
static int take_set(struct vss_ctx *ctx, const struct vss_set_opts *sopts, const char **vols,
		    int nvol, int retry, struct vss_set **setp)
{
	struct vss_set *set = NULL;
	const char *phase;
	int attempt, i, r = 0;

	for (attempt = 0; attempt <= retry; attempt++) {
		r = vss_set_new(ctx, sopts, &set);
		for (i = 0; !r && i < nvol; i++)
			r = vss_set_add_volume(set, vols[i]);
		if (r) {
			*setp = set;
			return r == -ENXIO ? VSS_EXIT_NOT_FOUND : vss_exit_from_errno(r, VSS_EXIT_USAGE);
		}
		r = vss_set_commit(set);
		if (!r || r != -ECANCELED || attempt == retry)
			break;
		/* A writer that hung, died or said "retryable": false: no retry. */
		if (!vss_set_retryable(set)) {
			if (!vss_opt_quiet)
				fprintf(stderr, "%s: the writer failure is not retryable: "
					"not retrying\n", vss_program_name());
			break;
		}
		if (!vss_opt_quiet)
			fprintf(stderr, "%s: writer failure: retrying (%d of %d)\n",
				vss_program_name(), attempt + 1, retry);
		vss_set_free(set);
		set = NULL;
		sleep(1);
	}
	*setp = set;
	if (!r)
		return -1;
	phase = vss_set_failed_phase(set);
	vss_errorx(NULL, "shadow copy set failed at %s: %s", phase ? phase : "start",
		   vss_strerror(r));
	if (r == -ETIMEDOUT)
		return phase && !strcmp(phase, "commit") ? VSS_EXIT_PROVIDER : VSS_EXIT_WRITER;
	return vss_exit_from_errno(r, VSS_EXIT_PROVIDER);
}

/*
 * After the set: a store at least usage_warn percent full is said, once per
 * store, so that a cron job's mail shows it before the store fills and
 * copies are lost.
 */
static void warn_usage(struct vss_ctx *ctx, struct vss_set *set, unsigned int usage_warn)
{
	struct vss_shadow_info s, prev = { 0 };
	struct vss_shadow_state st;
	size_t k;

	for (k = 0; usage_warn && k < vss_set_shadow_count(set); k++) {
		unsigned long long pct;

		vss_set_shadow(set, k, &s);
		if (vss_shadow_get_state(ctx, &s, &st) || !st.store_size_bytes ||
		    (k && !strcmp(prev.store, s.store)))
			continue;
		prev = s;
		pct = st.store_used_bytes * 100ULL / st.store_size_bytes;
		if (pct >= usage_warn && !vss_opt_quiet)
			fprintf(stderr, "%s: warning: %s: its store %s is %llu%% full (usage_warn "
				"%u%%): when it fills, shadow copies are dropped or invalidated; "
				"delete some, or grow it (vss-storage resize)\n", vss_program_name(),
				s.volume, s.store, pct, usage_warn);
	}
}

/* The set made: as JSON, or a line for it and one per shadow copy. */
static void print_set(struct vss_set *set, bool json)
{
	struct vss_shadow_info s;
	size_t k;

	if (json) {
		json_object *o = json_object_new_object(), *arr = json_object_new_array();

		json_object_object_add(o, "set_id", json_object_new_int64(vss_set_id(set)));
		for (k = 0; k < vss_set_shadow_count(set); k++) {
			vss_set_shadow(set, k, &s);
			json_object_array_add(arr, shadow_json(&s, NULL));
		}
		json_object_object_add(o, "shadows", arr);
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							      JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	} else if (!vss_opt_quiet) {
		printf("Shadow copy set %llu created.\n", (unsigned long long)vss_set_id(set));
		for (k = 0; k < vss_set_shadow_count(set); k++) {
			vss_set_shadow(set, k, &s);
			printf("  shadow copy %llu of %s: %s (%s)\n",
			       (unsigned long long)s.shadow_id, s.volume, s.device, s.provider);
		}
	}
	fflush(stdout);
}

/* --verify: the writers' check on views of the set just made; 0 or the exit status. */
static int verify_set(struct vss_ctx *ctx, uint64_t set_id)
{
	struct vss_verify_result *res = NULL;
	size_t n = 0, i;
	int r;

	r = vss_set_verify(ctx, set_id, NULL, &res, &n);
	if (r && r != -ECANCELED)
		vss_errorx(NULL, "set %llu: cannot verify (the set is kept)",
			   (unsigned long long)set_id);
	for (i = 0; i < n; i++) {
		if (!res[i].verified)
			vss_errorx(NULL, "set %llu: %s/%s: %s (the set is kept)",
				   (unsigned long long)set_id, res[i].writer, res[i].component,
				   res[i].message);
		else if (vss_opt_verbose)
			fprintf(stderr, "Set %llu: %s/%s verified: %s\n", (unsigned long long)set_id,
			       res[i].writer, res[i].component, res[i].message);
	}
	if (!r && !vss_opt_quiet && !n)
		fprintf(stderr, "Set %llu: no writer took part in it: nothing to verify.\n",
			(unsigned long long)set_id);
	free(res);
	return r == -ECANCELED ? VSS_EXIT_WRITER : vss_exit_from_errno(r, VSS_EXIT_WRITER);
}

int main(int argc, char **argv)
{
	char *provider = NULL, *tag = NULL, *exec_cmd = NULL, *t_freeze = NULL,
	     *t_commit = NULL, *wait_s = NULL, *context = NULL, *retry_s = NULL, *keep_s = NULL;
	const char **writers = NULL, **excludes = NULL;
	int no_writers = 0, retry = 0, keep = 0, json = 0, verify = 0;
	struct snapshot_defaults d = { 0 };
	struct poptOption options[] = {
		{ "provider", 'p', POPT_ARG_STRING, &provider, 0, d.provider, "NAME" },
		{ "writer", 'w', POPT_ARG_ARGV, &writers, 0,
		  "Include this writer even if its files are elsewhere (repeatable)", "NAME" },
		{ "exclude-writer", 'x', POPT_ARG_ARGV, &excludes, 0,
		  "Leave this writer out (repeatable)", "NAME" },
		{ "no-writers", '\0', POPT_ARG_NONE, &no_writers, 0,
		  "Involve neither writers nor hooks (crash-consistent set)", NULL },
		{ "timeout-freeze", '\0', POPT_ARG_STRING, &t_freeze, 0, d.freeze, "TIME" },
		{ "timeout-commit", '\0', POPT_ARG_STRING, &t_commit, 0, d.commit, "TIME" },
		{ "retry", 'r', POPT_ARG_STRING, &retry_s, 0, d.retry, "N" },
		{ "tag", 't', POPT_ARG_STRING, &tag, 0, "Label the set", "TAG" },
		{ "keep", 'k', POPT_ARG_STRING, &keep_s, 0, d.keep, "N" },
		{ "json", 'j', POPT_ARG_NONE, &json, 0, "Print the set as JSON", NULL },
		{ "verify", '\0', POPT_ARG_NONE, &verify, 0,
		  "Then verify the set as vss-verify does (exit 6 if a component fails; the "
		  "set is kept)", NULL },
		{ "exec", 'e', POPT_ARG_STRING, &exec_cmd, 0,
		  "Mount the set read-only, run CMD (VSS_SHADOW_MOUNTS in its environment), "
		  "then release the set", "CMD" },
		VSS_POPT_WAIT(wait_s, d.wait),
		{ "context", '\0', POPT_ARG_STRING, &context, 0,
		  "persistent (default) or backup (deleted after backup-complete)", "KIND" },
		VSS_POPT_COMMON,
		VSS_POPT_HELP
		POPT_TABLEEND
	};
	struct vss_set_opts sopts = { 0 };
	struct vss_config *cfg = NULL;
	struct vss_set *set = NULL;
	struct vss_ctx *ctx = NULL;
	unsigned int wait_ms = 0;
	const char **vols;
	poptContext pc;
	int rc, r = 0, nvol, i;

	vss_cli_init(argv[0]);
	rc = vss_cli_config(&cfg);
	if (rc)
		return rc;
	defaults_from(cfg, &d, &sopts, &retry, &keep, &wait_ms, &provider);
	vss_config_free(cfg);
	pc = poptGetContext(NULL, argc, (const char **)argv, options, 0);
	poptSetOtherOptionHelp(pc, "[OPTION...] VOLUME|MOUNTPOINT...");
	rc = vss_cli_parse(pc);
	if (rc >= 0)
		return rc;
	vols = poptGetArgs(pc);
	if (!vols || !vols[0]) {
		vss_errorx(NULL, "no volume given (see --help)");
		return VSS_EXIT_USAGE;
	}
	for (nvol = 0; vols[nvol]; nvol++)
		;
	sopts.provider = provider;
	sopts.tag = tag;
	sopts.writers = writers;
	sopts.exclude_writers = excludes;
	sopts.no_writers = no_writers;
	if ((t_freeze && parse_limit("--timeout-freeze", t_freeze, &sopts.freeze_timeout_ms)) ||
	    (t_commit && parse_limit("--timeout-commit", t_commit, &sopts.commit_timeout_ms)) ||
	    (wait_s && vss_cli_duration("--wait", wait_s, &wait_ms)))
		return VSS_EXIT_USAGE;
	if ((retry_s && vss_cli_count("--retry", retry_s, VSS_RETRY_MAX, &retry)) ||
	    (keep_s && vss_cli_count("--keep", keep_s, VSS_KEEP_MAX, &keep)) ||
	    (tag && vss_cli_text("--tag", tag, VSS_TAG_MAX)))
		return VSS_EXIT_USAGE;
	if (context) {
		if (!strcmp(context, "backup"))
			sopts.context = VSS_CONTEXT_BACKUP;
		else if (strcmp(context, "persistent")) {
			vss_errorx(NULL, "%s: unknown context (persistent or backup)", context);
			return VSS_EXIT_USAGE;
		}
	}
	/* --exec releases its set, unless --context persistent keeps it */
	if (exec_cmd && !context)
		sopts.context = VSS_CONTEXT_BACKUP;
	rc = vss_cli_context(&ctx, vss_opt_debug, NULL);
	if (rc)
		return rc;
	rc = kernel_for(ctx, provider, vols);
	if (rc >= 0)
		goto out;
	r = vss_lock(ctx, (int)wait_ms);
	if (r) {
		if (r == -EBUSY)
			vss_errorx(NULL, "another shadow copy set is in progress (see --wait)");
		rc = vss_exit_from_errno(r, VSS_EXIT_BUSY);
		goto out;
	}
	rc = take_set(ctx, &sopts, vols, nvol, retry, &set);
	if (rc >= 0)
		goto out;
	rc = VSS_EXIT_OK;
	print_set(set, json);
	warn_usage(ctx, set, d.usage_warn);
	if (verify)
		rc = verify_set(ctx, vss_set_id(set));
	if (exec_cmd && rc == VSS_EXIT_OK) {
		vss_unlock(ctx);
		rc = run_exec(ctx, set, exec_cmd);
		vss_lock(ctx, -1);
		vss_set_backup_complete(set, rc == 0);
		if (rc)
			vss_errorx(NULL, "%s: exit status %d", exec_cmd, rc);
	} else {
		vss_set_backup_complete(set, true);
	}
	if (keep && sopts.context == VSS_CONTEXT_PERSISTENT)
		for (i = 0; i < nvol; i++)
			vss_keep_latest(ctx, vols[i], keep);
out:
	vss_set_free(set);
	vss_ctx_free(ctx);
	poptFreeContext(pc);
	return rc;
}
