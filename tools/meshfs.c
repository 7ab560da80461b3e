/*
 * meshfs.c - the command line: store set-up, mounting, and the control
 * commands, sent through a mount's control file when one serves the
 * store and run on the store directly otherwise.
 */
#include "control.h"
#include "ctlclient.h"
#include "domain.h"
#include "error.h"
#include "fs.h"
#include "import.h"
#include "jsonread.h"
#include "json.h"
#include "progress.h"
#include "serve.h"
#include "store.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXIT_USAGE 2
#define UMOUNT_WAIT_SECONDS 30

typedef struct cli {
	char *store;          /* --store, $MESHFS_STORE or the default */
	bool store_given;
	const char *mount;    /* --mount */
	const char *fuse_opts;
	bool json;
	bool foreground;
	int log_level;
	int argc;             /* the words after the options */
	char **argv;
} cli;

/* The CLI's own commands, which need no mount; the control commands
 * follow from their table (core/control.c).  help, the man page's
 * COMMANDS section (help --scdoc) and bash completion (help --names)
 * are printed from these two lists only. */
typedef struct cli_command {
	const char *name;
	const char *usage;
	const char *summary;
} cli_command;

static const cli_command cli_commands[] = {
	{ "init", "init [--store DIR]", "create a store (harmless if it exists)" },
	{ "migrate", "migrate [--store DIR]",
	  "bring a store of an older format version to this one" },
	{ "recover", "recover --accept-wal-loss [--store DIR]",
	  "open a store whose write-ahead log is damaged, dropping what was written "
	  "from the damaged record on" },
	{ "mount", "mount MOUNTPOINT [--foreground] [-o OPTS] [--log-level LEVEL]",
	  "serve the store at MOUNTPOINT" },
	{ "umount", "umount MOUNTPOINT", "unmount and wait for the daemon to close the store" },
	{ "serve", "serve [--listen 127.0.0.1:PORT] [--store DIR | --mount DIR]",
	  "a read-only catalog web page on loopback; prints its URL with a token" },
	{ "help", "help [COMMAND | --names | --scdoc]",
	  "the usage of every command, or of one" },
};

#define CLI_COMMAND_COUNT (sizeof(cli_commands) / sizeof(cli_commands[0]))

static const char usage_tail[] =
	"\n"
	"options: --store DIR (default $MESHFS_STORE, else ~/.local/share/meshfs),\n"
	"         --mount DIR (the mount whose control file to use), --json\n";

/* Calls each(name, usage, summary, arg) for every command, the CLI's own first. */
static void each_command(void (*each)(const char *, const char *, const char *, void *),
			 void *arg)
{
	const mesh_cmd_spec *const *specs;
	size_t count;

	for (size_t i = 0; i < CLI_COMMAND_COUNT; i++)
		each(cli_commands[i].name, cli_commands[i].usage, cli_commands[i].summary, arg);
	mesh_control_commands(&specs, &count);
	for (size_t i = 0; i < count; i++)
		each(specs[i]->name, specs[i]->usage, specs[i]->summary, arg);
}

static void print_usage_entry(const char *name, const char *usage_line, const char *summary,
			      void *out)
{
	(void)name;
	fprintf(out, "  %s\n      %s\n", usage_line, summary);
}

static void print_usage(FILE *out)
{
	fputs("usage: meshfs COMMAND [ARGS] [OPTIONS]\n\n", out);
	each_command(print_usage_entry, out);
	fputs(usage_tail, out);
}

static int usage(const char *problem)
{
	if (problem)
		fprintf(stderr, "meshfs: %s\n\n", problem);
	print_usage(stderr);
	return EXIT_USAGE;
}

static int fail(void)
{
	fprintf(stderr, "meshfs: %s\n", *mesh_error_message() ? mesh_error_message() : "failed");
	return EXIT_FAILURE;
}

/* --- options --------------------------------------------------------- */

/* The CLI's own options, with a value or not; every other word, options
 * of the control commands included, is passed through in order. */
static int take_option(cli *c, char **argv, int argc, int *i)
{
	const char *a = argv[*i];
	const char *value = *i + 1 < argc ? argv[*i + 1] : NULL;
	static const char *with_value[] = { "--store", "--mount", "-o", "--log-level" };

	if (!strcmp(a, "--json"))
		return c->json = true, 1;
	if (!strcmp(a, "--foreground") || !strcmp(a, "-f"))
		return c->foreground = true, 1;
	for (size_t k = 0; k < sizeof(with_value) / sizeof(with_value[0]); k++) {
		if (strcmp(a, with_value[k]) != 0)
			continue;
		if (!value) {
			fprintf(stderr, "meshfs: option %s needs a value\n", a);
			return -1;
		}
		(*i)++;
		if (k == 0) {
			free(c->store);
			c->store = strdup(value);
			c->store_given = true;
		} else if (k == 1) {
			c->mount = value;
		} else if (k == 2) {
			c->fuse_opts = value;
		} else if (mesh_log_level_parse(value, &c->log_level) < 0) {
			fprintf(stderr, "meshfs: --log-level takes debug, info, warn or error\n");
			return -1;
		}
		return 1;
	}
	return 0;
}

static int parse_options(cli *c, int argc, char **argv)
{
	char **words = calloc((size_t)argc + 1, sizeof(char *));
	bool after_dashes = false;
	int n = 0;

	if (!words)
		return -1;
	c->log_level = MESH_LOG_INFO;
	for (int i = 1; i < argc; i++) {
		int taken = 0;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			free(words);
			print_usage(stdout);   /* asked for: not an error */
			exit(0);
		}
		/* After "--" every word is a path, never an option. */
		if (!after_dashes && (taken = take_option(c, argv, argc, &i)) < 0) {
			free(words);
			return -1;
		}
		if (taken == 0) {
			after_dashes = after_dashes || !strcmp(argv[i], "--");
			words[n++] = argv[i];
		}
	}
	c->argc = n;
	c->argv = words;
	if (!c->store && mesh_store_default_path(&c->store) < 0) {
		fail();
		return -1;
	}
	return 0;
}

static void human_bytes(double bytes, char *out, size_t cap)
{
	const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	size_t u = 0;

	while (bytes >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		bytes /= 1024;
		u++;
	}
	snprintf(out, cap, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

/* The commands that can take over a second, and so draw a bar. */
static bool is_long_command(const char *name)
{
	static const char *const long_commands[] = {
		"commit", "merge", "revert", "cherry-pick", "gc", "fsck", "import", "export",
	};

	for (size_t i = 0; i < sizeof(long_commands) / sizeof(long_commands[0]); i++)
		if (!strcmp(name, long_commands[i]))
			return true;
	return false;
}

typedef struct progress_bar {
	int64_t delay_ms;   /* a command done sooner shows no bar */
	bool drawn;
	unsigned frame;
} progress_bar;

/* "ETA m:ss" from what is left of done/total at the rate so far. */
static void eta_text(uint64_t done, uint64_t total, int64_t elapsed_ms, char *out, size_t cap)
{
	if (done == 0 || total < done || elapsed_ms <= 0) {
		snprintf(out, cap, "ETA --:--");
		return;
	}
	long left = (long)((double)(total - done) * (double)elapsed_ms / (double)done / 1000.0);
	snprintf(out, cap, "ETA %ld:%02ld", left / 60, left % 60);
}

/* One line of stderr, redrawn a few times a second while a long command
 * runs (through a mount or on the store):
 *   [#######.......] 1200/5000 files  40.1 MiB/120.0 MiB  12.0 MiB/s  ETA 0:07  import: importing files
 * and without a known total a spinner, the count and the time so far. */
static void draw_progress(void *ctx, const mesh_progress_state *s)
{
	progress_bar *bar = ctx;
	char counts[128], bytes[128] = "", eta[32] = "", cells[31];
	double secs;

	if (!s) {
		if (bar->drawn)
			fputs("\r\033[K", stderr);
		return;
	}
	if (s->elapsed_ms < bar->delay_ms)
		return;
	secs = (double)s->elapsed_ms / 1000.0;
	if (s->total > 0) {
		double frac = s->bytes_total ? (double)s->bytes_done / (double)s->bytes_total
					     : (double)s->done / (double)s->total;
		int fill = (int)((frac > 1 ? 1 : frac) * 30);
		for (int i = 0; i < 30; i++)
			cells[i] = i < fill ? '#' : '.';
		cells[30] = '\0';
		snprintf(counts, sizeof(counts), "[%s] %llu/%llu %s", cells,
			 (unsigned long long)s->done, (unsigned long long)s->total, s->unit);
		if (s->bytes_total)
			eta_text(s->bytes_done, s->bytes_total, s->elapsed_ms, eta, sizeof(eta));
		else
			eta_text(s->done, s->total, s->elapsed_ms, eta, sizeof(eta));
	} else {
		static const char spin[] = "|/-\\";
		snprintf(counts, sizeof(counts), "[%c] %llu %s", spin[bar->frame++ % 4],
			 (unsigned long long)s->done, s->unit);
		snprintf(eta, sizeof(eta), "%.1f s", secs);
	}
	if (s->bytes_total) {
		char done[32], total[32], speed[32];
		human_bytes((double)s->bytes_done, done, sizeof(done));
		human_bytes((double)s->bytes_total, total, sizeof(total));
		human_bytes(secs > 0 ? (double)s->bytes_done / secs : 0, speed, sizeof(speed));
		snprintf(bytes, sizeof(bytes), "  %s/%s  %s/s", done, total, speed);
	}
	fprintf(stderr, "\r%s%s  %s  %s: %s\033[K", counts, bytes, eta, s->command, s->phase);
	fflush(stderr);
	bar->drawn = true;
}

static bool shows_progress(const cli *c)
{
	return !c->json && isatty(STDERR_FILENO) && is_long_command(c->argv[0]);
}

/* MESHFS_PROGRESS_DELAY_MS: how long a command runs before its bar
 * appears (500 ms unless set). */
static int64_t progress_delay_ms(void)
{
	const char *env = getenv("MESHFS_PROGRESS_DELAY_MS");
	char *end;
	long ms;

	if (!env || !*env)
		return 500;
	ms = strtol(env, &end, 10);
	return *end || ms < 0 ? 500 : ms;
}

static int run_control(const cli *c, const char *mount, const char *line, char **answer,
		       int *code)
{
	progress_bar bar = { .delay_ms = progress_delay_ms() };
	mesh_ctl_progress_fn fn = shows_progress(c) ? draw_progress : NULL;

	if (mount)
		return mesh_ctl_run_via_mount_progress(mount, line, fn, &bar, answer, code);
	return mesh_ctl_run_on_store_progress(c->store, c->log_level, line, fn, &bar,
					      answer, code);
}

/* --- printing answers for people ------------------------------------- */

static void short_id(const char *hex, char *out)
{
	snprintf(out, 13, "%s", hex ? hex : "");
}

static void print_commit(const json_value *a)
{
	char id[13];

	short_id(json_str(a, "commit", ""), id);
	printf("[%s/%s %s] committed %.0f change(s)\n", json_str(a, "domain", "?"),
	       json_str(a, "branch", "?"), id, json_num(a, "changes", 0));
}

static void print_status(const json_value *a)
{
	const json_value *changes = json_get(a, "changes");
	char id[13];

	short_id(json_str(a, "head", ""), id);
	printf("On %s/%s, head %s\n", json_str(a, "domain", "?"), json_str(a, "branch", "?"), id);
	if (!changes || changes->count == 0) {
		printf("nothing staged\n");
		return;
	}
	for (size_t i = 0; i < changes->count; i++)
		printf("  %-9s %-8s %s\n", json_str(changes->items[i], "change", "?"),
		       json_str(changes->items[i], "kind", "?"),
		       json_str(changes->items[i], "path", "?"));
}

static void print_log(const json_value *a)
{
	const json_value *commits = json_get(a, "commits");

	for (size_t i = 0; commits && i < commits->count; i++) {
		const json_value *c = commits->items[i], *meta = json_get(c, "meta");
		time_t when = (time_t)json_num(c, "time", 0);
		char date[64];

		strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S %z", localtime(&when));
		printf("commit %s\nAuthor: %s (uid %.0f)\nDate:   %s\n", json_str(c, "id", "?"),
		       json_str(c, "author", "?"), json_num(c, "uid", 0), date);
		for (size_t m = 0; meta && m < meta->count; m++)
			printf("Meta:   %s=%s\n", meta->keys[m], meta->items[m]->string);
		printf("\n    %s\n\n", json_str(c, "message", ""));
	}
}

static void print_domains(const json_value *a)
{
	const json_value *domains = json_get(a, "domains"), *one = json_get(a, "domain");

	if (one) {
		printf("created domain %s (branch %s)\n", json_str(one, "name", "?"),
		       json_str(one, "default_branch", "main"));
		return;
	}
	for (size_t i = 0; domains && i < domains->count; i++)
		printf("%s\t%s\n", json_str(domains->items[i], "name", "?"),
		       json_str(domains->items[i], "description", ""));
}

static void print_diff(const json_value *a)
{
	const json_value *changes = json_get(a, "changes");

	for (size_t i = 0; changes && i < changes->count; i++) {
		const json_value *ch = changes->items[i];
		printf("%-8s %-8s %s", json_str(ch, "change", "?"), json_str(ch, "kind", "?"),
		       json_str(ch, "path", "?"));
		if (json_get(ch, "old_size") && json_get(ch, "new_size"))
			printf("  (%s -> %s bytes)", json_str(ch, "old_size", "?"),
			       json_str(ch, "new_size", "?"));
		else if (json_get(ch, "new_size") || json_get(ch, "old_size"))
			printf("  (%s bytes)", json_str(ch, "new_size", json_str(ch, "old_size", "?")));
		printf("\n");
	}
}

static void print_refs(const json_value *list)
{
	for (size_t i = 0; list && i < list->count; i++) {
		char id[13];
		short_id(json_str(list->items[i], "commit", ""), id);
		printf("%-30s %s\n", json_str(list->items[i], "name", "?"), id);
	}
}

static void print_moved(const json_value *a)
{
	char id[13];

	short_id(json_str(a, "commit", ""), id);
	if (json_get(a, "up_to_date") && json_get(a, "up_to_date")->boolean) {
		printf("%s/%s already up to date\n", json_str(a, "domain", "?"),
		       json_str(a, "branch", "?"));
		return;
	}
	printf("[%s/%s %s] %.0f change(s)", json_str(a, "domain", "?"),
	       json_str(a, "branch", "?"), id, json_num(a, "changes", 0));
	if (json_num(a, "resolved_conflicts", 0) > 0)
		printf(", %.0f conflict(s) resolved by strategy", json_num(a, "resolved_conflicts", 0));
	printf("\n");
}

static void print_other(const json_value *a)
{
	const json_value *v;

	if (json_get(a, "old_head"))
		printf("branch %s/%s moved from %.12s (broken) to %.12s\n", json_str(a, "domain", "?"),
		       json_str(a, "branch", "?"), json_str(a, "old_head", ""),
		       json_str(a, "commit", ""));
	else if ((v = json_get(a, "branches")) || (v = json_get(a, "tags")))
		print_refs(v);
	else if (json_get(a, "up_to_date"))
		print_moved(a);
	else if (json_get(a, "from") && json_get(a, "to") && json_get(a, "changes"))
		print_diff(a);
	else if ((v = json_get(a, "dropped")))
		printf("dropped %zu staged change(s) on %s/%s\n", v->count,
		       json_str(a, "domain", "?"), json_str(a, "branch", "?"));
	else if (json_get(a, "from") && json_get(a, "to"))
		printf("copied %s to %s\n", json_str(a, "from", "?"), json_str(a, "to", "?"));
	else if (json_get(a, "deleted"))
		printf("deleted %s in %s\n", json_str(a, "deleted", "?"), json_str(a, "domain", "?"));
	else if (json_get(a, "branch") && json_get(a, "commit"))
		printf("branch %s/%s at %.12s\n", json_str(a, "domain", "?"),
		       json_str(a, "branch", "?"), json_str(a, "commit", ""));
	else if (json_get(a, "tag"))
		printf("tag %s/%s at %.12s\n", json_str(a, "domain", "?"),
		       json_str(a, "tag", "?"), json_str(a, "commit", ""));
	else
		print_domains(a);
}

/* domain show, set, restrict, unrestrict: the record and its rules. */
static void print_domain_record(const json_value *a)
{
	const json_value *d = json_get(a, "domain"), *v;

	printf("domain %s: %s\n", json_str(d, "name", "?"), json_str(d, "description", ""));
	printf("  owner       %s\n  writers     %s\n  readers     %s\n  visibility  %s\n"
	       "  retention   %s days\n", json_str(d, "owner", "?"), json_str(d, "writers", "?"),
	       json_str(d, "readers", "?"), json_str(d, "visibility", "?"),
	       json_str(d, "retention_days", "?"));
	for (size_t i = 0; (v = json_get(a, "sensitive")) && i < v->count; i++)
		printf("  sensitive   %s (group %s)\n", json_str(v->items[i], "glob", "?"),
		       json_str(v->items[i], "group", "?"));
	for (size_t i = 0; (v = json_get(a, "protected")) && i < v->count; i++)
		printf("  protected   %s\n", v->items[i]->string);
}

static void print_request(const json_value *q)
{
	const char *path = json_str(q, "path", "");
	time_t until = (time_t)json_num(q, "until", 0);
	char date[32] = "";

	if (until) {
		struct tm tm;
		strftime(date, sizeof(date), " until %Y-%m-%d %H:%M:%S", localtime_r(&until, &tm));
	}
	printf("%s\t%s\t%s\t%s%s%s\t%s%s\t%s\n", json_str(q, "id", "?"), json_str(q, "domain", "?"),
	       json_str(q, "user", "?"), json_str(q, "access", "?"), *path ? " " : "", path,
	       json_str(q, "state", "?"), date, json_str(q, "reason", ""));
}

/* "require-card-fields	owner,description" ("-" for none), a group's
 * name, or true|false. */
static void print_policy(const char *name, const json_value *value)
{
	printf("%s\t", name);
	if (value->type == JSON_STRING) {
		printf("%s\n", value->string ? value->string : "?");
		return;
	}
	if (value->type != JSON_ARRAY) {
		printf("%s\n", value->boolean ? "true" : "false");
		return;
	}
	for (size_t i = 0; i < value->count; i++)
		printf("%s%s", i ? "," : "", value->items[i]->string ? value->items[i]->string : "?");
	printf("%s\n", value->count ? "" : "-");
}

/* access, policy, branch protect: their answers for people. */
static bool print_access(const json_value *a)
{
	const json_value *v;

	if ((v = json_get(a, "requests"))) {
		for (size_t i = 0; i < v->count; i++)
			print_request(v->items[i]);
	} else if ((v = json_get(a, "request"))) {
		print_request(v);
	} else if ((v = json_get(a, "policies"))) {
		for (size_t i = 0; i < v->count; i++)
			print_policy(v->keys[i], v->items[i]);
	} else if ((v = json_get(a, "protected")) && !json_get(a, "sensitive")) {
		printf("branch %s/%s %s\n", json_str(a, "domain", "?"), json_str(a, "branch", "?"),
		       v->boolean ? "protected" : "unprotected");
	} else if (json_get(a, "sensitive")) {
		print_domain_record(a);
	} else {
		return false;
	}
	return true;
}

/* Every broken contract rule, with its first offending values. */
static void print_contract_failures(const json_value *failures)
{
	for (size_t i = 0; failures && i < failures->count; i++) {
		const json_value *f = failures->items[i], *values = json_get(f, "values");
		const char *column = json_str(f, "column", "");
		fprintf(stderr, "  %s%s%s%s rule %s (contract %s): %s, %.0f in all\n",
			json_str(f, "file", "?"), *column ? " column '" : "", column,
			*column ? "'" : "", json_str(f, "rule", "?"), json_str(f, "contract", "?"),
			json_str(f, "detail", ""), json_num(f, "count", 0));
		for (size_t k = 0; values && k < values->count; k++) {
			double row = json_num(values->items[k], "row", 0);
			if (row > 0)
				fprintf(stderr, "    row %.0f: %s\n", row,
					json_str(values->items[k], "value", ""));
			else
				fprintf(stderr, "    %s\n", json_str(values->items[k], "value", ""));
		}
	}
}

static void print_error(const json_value *a, int code)
{
	const json_value *conflicts = json_get(a, "conflicts");

	fprintf(stderr, "meshfs: %s\n", json_str(a, "message", strerror(-code)));
	for (size_t i = 0; conflicts && i < conflicts->count; i++)
		fprintf(stderr, "  conflict (%s): %s\n", json_str(conflicts->items[i], "kind", "?"),
			json_str(conflicts->items[i], "path", "?"));
	print_contract_failures(json_get(a, "failures"));
}

/* contract check, import, export: one line. */
static void print_contract(const cli *c, const json_value *a)
{
	const char *sub = c->argc > 1 ? c->argv[1] : "";

	if (!strcmp(sub, "check"))
		printf("%s: %.0f file(s) (%.1f MiB) hold the %.0f contract(s) of commit %.12s\n",
		       c->argc > 2 ? c->argv[2] : "?", json_num(a, "files", 0),
		       json_num(a, "bytes", 0) / 1048576.0, json_num(a, "contracts", 0),
		       json_str(a, "commit", ""));
	else if (!strcmp(sub, "import"))
		printf("staged contract %s (dataset %s) as %s in %s/%s; commit to make it hold\n",
		       json_str(a, "contract", "?"), json_str(a, "dataset", "?"),
		       json_str(a, "path", "?"), json_str(a, "domain", "?"), json_str(a, "branch", "?"));
	else
		printf("wrote contract %s of %s@%.12s to %s\n", json_str(a, "contract", "?"),
		       json_str(a, "domain", "?"), json_str(a, "commit", ""), json_str(a, "file", "?"));
}

static void print_gc(const json_value *a)
{
	bool dry = json_get(a, "dry_run") && json_get(a, "dry_run")->boolean;

	printf("gc%s: %s %.0f objects (%.1f MiB; %.0f of them in the database) and %.0f "
	       "leftover scratch files (%.1f MiB); kept %.0f live objects, %.0f written meanwhile; "
	       "%.0f commits kept by retention; %.0f ms%s\n",
	       dry ? " (dry run)" : "", dry ? "would remove" : "removed",
	       json_num(a, "removed_objects", 0), json_num(a, "removed_bytes", 0) / 1048576.0,
	       json_num(a, "removed_db_objects", 0), json_num(a, "tmp_files_removed", 0),
	       json_num(a, "tmp_bytes_removed", 0) / 1048576.0, json_num(a, "live_objects", 0),
	       json_num(a, "kept_new_objects", 0), json_num(a, "retained_commits", 0),
	       json_num(a, "milliseconds", 0),
	       json_get(a, "resumed") && json_get(a, "resumed")->boolean ?
	       " (finished an interrupted run)" : "");
}

/* import / export: one summary line. */
static void print_xfer(const char *cmd, const json_value *a)
{
	char bytes[32];
	double secs = json_num(a, "milliseconds", 0) / 1000.0;

	human_bytes(json_num(a, "bytes", 0), bytes, sizeof(bytes));
	if (!strcmp(cmd, "import"))
		printf("imported %.0f files (%s, %.0f already there) and %.0f directories into "
		       "%s/%s%s%s in %.1f s: %s %.12s\n", json_num(a, "files", 0), bytes,
		       json_num(a, "skipped", 0), json_num(a, "dirs", 0), json_str(a, "domain", "?"),
		       json_str(a, "branch", "?"), *json_str(a, "path", "") ? "/" : "",
		       json_str(a, "path", ""), secs,
		       json_get(a, "committed") && json_get(a, "committed")->boolean ?
		       "commit" : "nothing new, head", json_str(a, "commit", ""));
	else
		printf("exported %.0f files (%s) of %s@%.12s%s%s into %s in %.1f s\n",
		       json_num(a, "files", 0), bytes, json_str(a, "domain", "?"),
		       json_str(a, "commit", ""), *json_str(a, "path", "") ? "/" : "",
		       json_str(a, "path", ""), json_str(a, "dest", "?"), secs);
}

/* One problem fsck found, for people. */
static void print_fsck_damage(const json_value *d)
{
	const char *path = json_str(d, "path", NULL), *q = json_str(d, "quarantined", NULL);
	char object[13], commit[13];

	short_id(json_str(d, "object", ""), object);
	short_id(json_str(d, "commit", ""), commit);
	printf("  %s %s %s in %s", json_str(d, "problem", "?"), json_str(d, "type", "?"),
	       *object ? object : "-", json_str(d, "domain", "?"));
	if (json_str(d, "ref", NULL))
		printf(" %s", json_str(d, "ref", ""));
	if (*commit)
		printf(" commit %s", commit);
	if (path)
		printf("%s '%s'", json_get(d, "staged") && json_get(d, "staged")->boolean ?
		       " staged" : "", path);
	printf(": %s\n", json_str(d, "message", ""));
	if (q)
		printf("    moved to %s\n", q);
}

/* fsck's report: on stdout whether clean or not, the verdict last. */
static void print_fsck(const json_value *a)
{
	const json_value *damage = json_get(a, "damage"), *broken = json_get(a, "broken_heads");
	double total = json_num(a, "damage_total", 0);

	printf("checked %.0f domain(s), %.0f ref(s): %.0f commits, %.0f trees, %.0f files, "
	       "%.0f chunks (%.1f MiB%s), %.0f staged entries in %.2f s\n",
	       json_num(a, "domains", 0), json_num(a, "refs", 0), json_num(a, "commits", 0),
	       json_num(a, "trees", 0), json_num(a, "files", 0), json_num(a, "chunks", 0),
	       json_num(a, "chunk_bytes", 0) / 1048576.0,
	       json_get(a, "quick") && json_get(a, "quick")->boolean ? ", present, not re-hashed" :
								       ", re-hashed",
	       json_num(a, "staged", 0), json_num(a, "milliseconds", 0) / 1000.0);
	for (size_t i = 0; damage && i < damage->count; i++)
		print_fsck_damage(damage->items[i]);
	if (damage && total > (double)damage->count)
		printf("  ... and %.0f more\n", total - (double)damage->count);
	for (size_t i = 0; broken && i < broken->count; i++)
		printf("  branch %s/%s: its head %.12s does not list; `meshfs branch reset-head %s/%s` "
		       "moves it to its newest intact ancestor\n",
		       json_str(broken->items[i], "domain", "?"), json_str(broken->items[i], "branch", "?"),
		       json_str(broken->items[i], "commit", ""), json_str(broken->items[i], "domain", "?"),
		       json_str(broken->items[i], "branch", "?"));
	if (json_num(a, "quarantined", 0) > 0)
		printf("%.0f corrupt cop%s moved to the store's quarantine/\n", json_num(a, "quarantined", 0),
		       json_num(a, "quarantined", 0) == 1 ? "y" : "ies");
	if (total > 0)
		printf("damage found: %.0f problem(s)\n", total);
	else
		printf("clean\n");
}

/* fsck: 0 clean, 1 damage (or it could not run), 2 bad arguments. */
static int fsck_status(int code)
{
	if (code == MESH_EINVAL)
		return EXIT_USAGE;
	return code ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* --- audit ------------------------------------------------------------ */

static void json_write_value(mesh_json *j, const json_value *v)
{
	switch (v->type) {
	case JSON_OBJECT:
		mesh_json_object_begin(j);
		for (size_t i = 0; i < v->count; i++) {
			mesh_json_key(j, v->keys[i]);
			json_write_value(j, v->items[i]);
		}
		mesh_json_object_end(j);
		break;
	case JSON_ARRAY:
		mesh_json_array_begin(j);
		for (size_t i = 0; i < v->count; i++)
			json_write_value(j, v->items[i]);
		mesh_json_array_end(j);
		break;
	case JSON_STRING:
		mesh_json_string(j, v->string);
		break;
	case JSON_NUMBER:   /* from its text: a double would round time_ns */
		mesh_json_int(j, v->string ? strtoll(v->string, NULL, 10) : (int64_t)v->number);
		break;
	case JSON_BOOL:
		mesh_json_bool(j, v->boolean);
		break;
	case JSON_NULL:
		mesh_json_string(j, "");
		break;
	}
}

/* audit export: one JSON object per line, for a SIEM. */
static void print_json_lines(const json_value *records)
{
	for (size_t i = 0; records && i < records->count; i++) {
		mesh_json j;
		char *line;
		mesh_json_init(&j);
		json_write_value(&j, records->items[i]);
		if (mesh_json_take(&j, &line) == 0) {
			printf("%s\n", line);
			free(line);
		}
	}
}

/* audit: one line per record, for people. */
static void print_audit(const json_value *a)
{
	const json_value *records = json_get(a, "records");

	if (json_get(a, "verified")) {
		printf("audit log intact: %.0f record(s) verified\n", json_num(a, "verified", 0));
		return;
	}
	if (!records || records->count == 0)
		printf("no records\n");
	for (size_t i = 0; records && i < records->count; i++) {
		const json_value *r = records->items[i];
		const char *domain = json_str(r, "domain", ""), *ref = json_str(r, "ref", "");
		const char *path = json_str(r, "path", ""), *detail = json_str(r, "detail", "");
		printf("%6.0f %s %s(%.0f) %s[%.0f] %-8s %s%s%s%s%s %s%s%s\n", json_num(r, "seq", 0),
		       json_str(r, "time", "?"), json_str(r, "user", "?"), json_num(r, "uid", 0),
		       json_str(r, "comm", ""), json_num(r, "pid", 0), json_str(r, "op", "?"),
		       domain, *ref ? "/" : "", ref, *path ? "/" : "", path,
		       json_str(r, "result", "?"), *detail ? "  " : "", detail);
	}
}

static void print_stats(const json_value *a)
{
	const json_value *consumers = json_get(a, "consumers");

	printf("readers of %s over the last %.0f day(s):\n", json_str(a, "domain", "?"),
	       json_num(a, "days", 0));
	if (!consumers || consumers->count == 0) {
		printf("  nobody\n");
		return;
	}
	printf("  %-16s %-24s %10s %14s  %s\n", "USER", "PATH", "OPENS", "BYTES", "LAST READ");
	for (size_t i = 0; i < consumers->count; i++) {
		const json_value *u = consumers->items[i];
		printf("  %-16s %-24s %10.0f %14.0f  %s\n", json_str(u, "user", "?"),
		       json_str(u, "path", "?"), json_num(u, "read_opens", 0),
		       json_num(u, "bytes_opened", 0), json_str(u, "last_read", "?"));
	}
}

static void print_ports(const char *title, const json_value *ports)
{
	for (size_t i = 0; ports && i < ports->count; i++) {
		const json_value *p = ports->items[i];
		printf("  %-12s %s%s%s%s%s\n", i ? "" : title,
		       json_str(p, "product", json_str(p, "path", "?")),
		       json_get(p, "product") && json_get(p, "path") ? "/" : "",
		       json_get(p, "product") ? json_str(p, "path", "") : "",
		       json_get(p, "contract") ? "  contract " : "", json_str(p, "contract", ""));
	}
}

/* A span for people: "45 s", "12 min", "5 h", "3 d". */
static void span_text(double secs, char *out, size_t cap)
{
	if (secs < 120)
		snprintf(out, cap, "%.0f s", secs < 0 ? 0 : secs);
	else if (secs < 120 * 60)
		snprintf(out, cap, "%.0f min", secs / 60);
	else if (secs < 48 * 3600)
		snprintf(out, cap, "%.0f h", secs / 3600);
	else
		snprintf(out, cap, "%.0f d", secs / 86400);
}

/* "consumers" and "hidden_consumers" of a card (product show, a hit). */
static void print_consumers(const json_value *a)
{
	const json_value *v = json_get(a, "consumers");

	printf("  %-12s", "consumers");
	for (size_t i = 0; v && i < v->count; i++)
		printf(" %s", json_str(v->items[i], "domain", "?"));
	if (json_num(a, "hidden_consumers", 0) > 0)
		printf(" (and %.0f hidden)", json_num(a, "hidden_consumers", 0));
	printf("%s\n", !v || v->count == 0 ? " none" : "");
}

static void print_rating(const json_value *a)
{
	const json_value *r = json_get(a, "rating");
	double n = json_num(r, "count", 0);

	if (n > 0)
		printf("  %-12s %.1f of 5 (%.0f rating%s)\n", "rating", json_num(r, "average", 0), n,
		       n == 1 ? "" : "s");
	else
		printf("  %-12s none\n", "rating");
}

static void print_comments(const json_value *a)
{
	const json_value *list = json_get(a, "comments");

	for (size_t i = 0; list && i < list->count; i++) {
		const json_value *c = list->items[i];
		char when[32] = "?", stars[16] = "";
		time_t t = (time_t)json_num(c, "time", 0);
		struct tm tm;

		if (gmtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
		if (json_get(c, "rating"))
			snprintf(stars, sizeof(stars), " [%.0f/5]", json_num(c, "rating", 0));
		printf("  %-12s #%.0f %s %s%s %s\n", i ? "" : "comments", json_num(c, "id", 0), when,
		       json_str(c, "user", "?"), stars, json_str(c, "text", ""));
	}
}

/* product show: the card, who consumes the product, who reads it. */
static void print_product(const json_value *a)
{
	const json_value *card = json_get(a, "card"), *v;

	printf("product %s (%s) of %s at %s %.12s\n", json_str(card, "name", "?"),
	       json_str(card, "id", "?"), json_str(a, "domain", "?"), json_str(a, "ref", "?"),
	       json_str(a, "commit", ""));
	printf("  %-12s %s\n  %-12s %s\n  %-12s %s\n", "status", json_str(card, "status", "?"),
	       "owner", json_str(card, "owner", "?"), "version", json_str(card, "version", "-"));
	if (json_get(card, "team"))
		printf("  %-12s %s\n", "team", json_str(card, "team", ""));
	if (json_get(card, "description"))
		printf("  %-12s %s\n", "description", json_str(card, "description", ""));
	for (size_t i = 0; (v = json_get(card, "contacts")) && i < v->count; i++)
		printf("  %-12s %s %s\n", i ? "" : "contacts", json_str(v->items[i], "name", ""),
		       json_str(v->items[i], "email", json_str(v->items[i], "url", "")));
	if ((v = json_get(card, "tags")) && v->count) {
		printf("  %-12s", "tags");
		for (size_t i = 0; i < v->count; i++)
			printf(" %s", v->items[i]->string);
		printf("\n");
	}
	print_ports("outputs", json_get(card, "output_ports"));
	print_ports("inputs", json_get(card, "input_ports"));
	print_consumers(a);
	v = json_get(a, "readers");
	printf("  %-12s", "readers");
	for (size_t i = 0; v && i < v->count; i++)
		printf(" %s (%.0f opens)", json_str(v->items[i], "user", "?"),
		       json_num(v->items[i], "read_opens", 0));
	printf("%s\n", !v || v->count == 0 ? " none" : "");
	print_rating(a);
	print_comments(a);
}

/* catalog search: each hit as a short card. */
static void print_hits(const json_value *a)
{
	const json_value *hits = json_get(a, "hits"), *v;
	char age[32], promise[32];

	printf("%.0f product(s) found", json_num(a, "total", 0));
	if (hits && json_num(a, "total", 0) > (double)hits->count)
		printf(", the best %zu shown", hits->count);
	printf("\n");
	for (size_t i = 0; hits && i < hits->count; i++) {
		const json_value *h = hits->items[i];
		const char *fresh = json_str(h, "freshness", "none");

		printf("\n%s", json_str(h, "domain", "?"));
		if (json_get(h, "name"))
			printf(": %s (%s)", json_str(h, "name", ""), json_str(h, "id", ""));
		printf("\n");
		printf("  %-12s %s\n", "owner", json_str(h, "owner", "?"));
		if (*json_str(h, "description", ""))
			printf("  %-12s %s\n", "description", json_str(h, "description", ""));
		if ((v = json_get(h, "tags")) && v->count) {
			printf("  %-12s", "tags");
			for (size_t k = 0; k < v->count; k++)
				printf(" %s", v->items[k]->string);
			printf("\n");
		}
		if (json_get(h, "card_error"))
			printf("  %-12s invalid: %s\n", "card", json_str(h, "card_error", ""));
		span_text(json_num(h, "age_seconds", 0), age, sizeof(age));
		printf("  %-12s %.12s on %s, %s old", "commit", json_str(h, "commit", ""),
		       json_str(h, "branch", "?"), age);
		if (strcmp(fresh, "none")) {
			span_text(json_num(h, "freshness_seconds", 0), promise, sizeof(promise));
			printf(", promise %s: %s", promise, fresh);
		}
		printf("\n  %-12s %.0f, %s", "contracts", json_num(h, "contracts", 0),
		       json_str(h, "contract_status", "?"));
		if (json_get(h, "contract_detail"))
			printf(" (%s)", json_str(h, "contract_detail", ""));
		printf("\n");
		print_consumers(h);
		printf("  %-12s %.0f (%.0f opens in %.0f days)\n", "readers", json_num(h, "readers", 0),
		       json_num(h, "read_opens", 0), json_num(a, "usage_days", 0));
		print_rating(h);
	}
}

static void print_catalog(const cli *c, const json_value *a)
{
	const char *sub = c->argc >= 2 ? c->argv[1] : "";

	if (!strcmp(sub, "search")) {
		print_hits(a);
		return;
	}
	if (!strcmp(sub, "comment"))
		printf("comment %.0f on %s\n", json_num(a, "id", 0), json_str(a, "domain", "?"));
	else if (!strcmp(sub, "uncomment"))
		printf("removed comment %.0f of %s\n", json_num(a, "removed", 0),
		       json_str(a, "domain", "?"));
	else
		printf("comments on %s\n", json_str(a, "domain", "?"));
	print_rating(a);
	print_comments(a);
}

/* lineage: the file, then each upstream it was copied from. */
static void print_lineage(const json_value *a)
{
	const json_value *chain = json_get(a, "chain");

	for (size_t i = 0; chain && i < chain->count; i++) {
		const json_value *n = chain->items[i];
		const char *arrow = i ? "<- " : "";

		if (json_get(n, "hidden")) {
			printf("%*s%s(a domain you may not see)\n", (int)i * 2, "", arrow);
			continue;
		}
		printf("%*s%s%s/%s/%s @ %.12s", (int)i * 2, "", arrow, json_str(n, "domain", "?"),
		       json_str(n, "ref", "?"), json_str(n, "path", "?"), json_str(n, "commit", ""));
		if (json_get(n, "copied_in_by"))
			printf(", copied in by %.12s", json_str(n, "copied_in_by", ""));
		if (json_get(n, "modified_since") && json_get(n, "modified_since")->boolean)
			printf(" (modified since)");
		if (json_get(n, "origin") && json_get(n, "origin")->boolean)
			printf(" (origin)");
		printf("\n");
	}
}

/* hook add|list|remove */
static void print_hooks(const json_value *a)
{
	const json_value *v;

	if ((v = json_get(a, "hooks"))) {
		for (size_t i = 0; i < v->count; i++) {
			const json_value *h = v->items[i];
			printf("%s\t%s\t%.0f s\n", json_str(h, "event", "?"), json_str(h, "program", "?"),
			       json_num(h, "timeout", 0));
		}
	} else if ((v = json_get(a, "hook"))) {
		printf("%s hook %s of %s, time-out %.0f s, runs as %s%s\n", json_str(v, "event", "?"),
		       json_str(v, "program", "?"), json_str(a, "domain", "?"),
		       json_num(v, "timeout", 0), json_str(a, "runs_as", "?"),
		       !strcmp(json_str(a, "runs_as", ""), "nobody") ?
		       " (the domain's owner is root)" : "");
	} else if ((v = json_get(a, "removed"))) {
		printf("removed %s hook %s of %s\n", json_str(v, "event", "?"),
		       json_str(v, "program", "?"), json_str(a, "domain", "?"));
	}
}

static int print_answer(const cli *c, const char *answer, int code)
{
	json_value *a;
	const char *cmd = c->argv[0];
	bool fsck = !strcmp(cmd, "fsck");

	if (c->json) {
		printf("%s\n", answer);
		if (fsck)
			return fsck_status(code);
		return code ? EXIT_FAILURE : EXIT_SUCCESS;
	}
	if (!(a = json_parse(answer))) {
		fprintf(stderr, "meshfs: unreadable answer: %.200s\n", answer);
		return EXIT_FAILURE;
	}
	if (fsck && (code == 0 || json_get(a, "clean"))) {
		print_fsck(a);
	} else if (code) {
		print_error(a, code);
	} else if (!strcmp(cmd, "commit")) {
		print_commit(a);
	} else if (!strcmp(cmd, "status")) {
		print_status(a);
	} else if (!strcmp(cmd, "log")) {
		print_log(a);
	} else if (!strcmp(cmd, "gc")) {
		print_gc(a);
	} else if (!strcmp(cmd, "import") || !strcmp(cmd, "export")) {
		print_xfer(cmd, a);
	} else if (!strcmp(cmd, "contract")) {
		print_contract(c, a);
	} else if (!strcmp(cmd, "audit") && c->argc >= 2 && !strcmp(c->argv[1], "export")) {
		print_json_lines(json_get(a, "records"));
	} else if (!strcmp(cmd, "audit")) {
		print_audit(a);
	} else if (!strcmp(cmd, "product")) {
		print_product(a);
	} else if (!strcmp(cmd, "lineage")) {
		print_lineage(a);
	} else if (!strcmp(cmd, "hook")) {
		print_hooks(a);
	} else if (!strcmp(cmd, "catalog")) {
		print_catalog(c, a);
	} else if (json_get(a, "consumers")) {
		print_stats(a);
	} else if (!strcmp(cmd, "domain") && c->argc >= 2 && !strcmp(c->argv[1], "set")) {
		print_domain_record(a);
	} else if (print_access(a)) {
		;
	} else {
		print_other(a);
	}
	json_free(a);
	if (fsck)
		return fsck_status(code);
	return code ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * import reads SRC_DIR and export writes DEST_DIR in whichever process
 * runs them (the daemon, through a mount): they go as absolute paths.
 * which: the positional word (1 = first after the command's name).
 */
static int absolutize_arg(cli *c, int which, char *buf, size_t cap)
{
	int seen = 0;

	for (int i = 1; i < c->argc; i++) {
		const char *w = c->argv[i];
		if (!strcmp(w, "-m") || !strcmp(w, "--message") || !strcmp(w, "--jobs") ||
		    !strcmp(w, "-j")) {
			i++;
			continue;
		}
		if (w[0] == '-' && w[1])
			continue;
		if (++seen != which)
			continue;
		if (w[0] != '/') {
			char cwd[PATH_MAX];
			if (!getcwd(cwd, sizeof(cwd)) ||
			    snprintf(buf, cap, "%s/%s", cwd, w) >= (int)cap)
				return -1;
			c->argv[i] = buf;
		}
		return 0;
	}
	return 0;
}

static int cmd_control(const cli *c)
{
	char mount[PATH_MAX], store[PATH_MAX];
	char *line = mesh_ctl_command_line(c->argc, c->argv), *answer = NULL;
	int error, code = 0, status;
	bool mounted;

	if (!line)
		return fail();
	/* Without --mount, only a mount serving this CLI's store (--store,
	 * $MESHFS_STORE or the default) answers: another store's mount that
	 * happens to be listed must never act in its place. */
	if (c->mount)
		mounted = mesh_ctl_find_mount(NULL, c->mount, mount, store) == 0;
	else
		mounted = mesh_ctl_find_mount(c->store, NULL, mount, store) == 0;
	if (c->mount && !mounted) {
		free(line);
		fprintf(stderr, "meshfs: %s is not a meshfs mount\n", c->mount);
		return EXIT_FAILURE;
	}
	error = run_control(c, mounted ? mount : NULL, line, &answer, &code);
	free(line);
	if (error < 0) {
		free(answer);
		return fail();
	}
	status = print_answer(c, answer, code);
	free(answer);
	return status;
}

/* --- store and mount commands ---------------------------------------- */

static int cmd_init(const cli *c)
{
	if (c->argc != 1)
		return usage("init takes no arguments besides --store DIR");
	if (mesh_store_init(c->store) < 0)
		return fail();
	printf("store ready at %s\n", c->store);
	return EXIT_SUCCESS;
}

static int cmd_migrate(const cli *c)
{
	int from;

	if (c->argc != 1)
		return usage("migrate takes no arguments besides --store DIR");
	if (mesh_store_migrate(c->store, &from) < 0)
		return fail();
	if (from == MESH_STORE_FORMAT)
		printf("store %s already has format version %d\n", c->store, from);
	else
		printf("migrated store %s from format version %d to %d\n", c->store, from,
		       MESH_STORE_FORMAT);
	return EXIT_SUCCESS;
}

/* Dropping committed history is never a default: the flag says the user
 * read what it costs. */
static int cmd_recover(const cli *c)
{
	bool damaged;

	if (c->argc != 2 || strcmp(c->argv[1], "--accept-wal-loss") != 0)
		return usage("recover drops every change written from the damaged record of the "
			     "write-ahead log on; run it as `meshfs recover --accept-wal-loss "
			     "[--store DIR]` to accept that");
	if (mesh_store_recover_wal(c->store, &damaged) < 0)
		return fail();
	if (!damaged) {
		printf("store %s: its write-ahead log is intact, nothing was changed\n", c->store);
		return EXIT_SUCCESS;
	}
	printf("recovered store %s: its write-ahead log was replayed up to the damaged record; "
	       "what was written after it is gone\n", c->store);
	return EXIT_SUCCESS;
}

static int cmd_mount(const cli *c)
{
	meshfs_mount_opts opts = { 0 };
	char store[PATH_MAX];
	struct stat st;

	if (c->argc != 2)
		return usage("mount takes one MOUNTPOINT");
	if (stat(c->argv[1], &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "meshfs: mount point %s is not a directory\n", c->argv[1]);
		return EXIT_FAILURE;
	}
	if (!realpath(c->store, store)) {
		fprintf(stderr, "meshfs: store %s does not exist (run `meshfs init --store %s`)\n",
			c->store, c->store);
		return EXIT_FAILURE;
	}
	opts.mountpoint = c->argv[1];
	opts.store_path = store;
	opts.fuse_opts = c->fuse_opts;
	opts.foreground = c->foreground;
	opts.log_level = c->log_level;
	return meshfs_fs_main(&opts) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* RocksDB holds a POSIX lock on db/LOCK while the store is open. */
static bool store_in_use(const char *store)
{
	char path[PATH_MAX];
	struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd, busy;

	snprintf(path, sizeof(path), "%s/db/LOCK", store);
	if ((fd = open(path, O_RDWR)) < 0)
		return false;
	busy = fcntl(fd, F_GETLK, &lock) == 0 && lock.l_type != F_UNLCK;
	close(fd);
	return busy;
}

static int cmd_umount(const cli *c)
{
	char mount[PATH_MAX], store[PATH_MAX];
	int status;
	pid_t pid;

	if (c->argc != 2)
		return usage("umount takes one MOUNTPOINT");
	if (mesh_ctl_find_mount(NULL, c->argv[1], mount, store) < 0) {
		fprintf(stderr, "meshfs: %s is not a meshfs mount\n", c->argv[1]);
		return EXIT_FAILURE;
	}
	if ((pid = fork()) == 0) {
		execlp("fusermount3", "fusermount3", "-u", mount, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "meshfs: could not unmount %s (busy?)\n", mount);
		return EXIT_FAILURE;
	}
	/* Returns once the daemon has closed the store cleanly. */
	for (int i = 0; i < UMOUNT_WAIT_SECONDS * 10 && store_in_use(store); i++)
		usleep(100000);
	if (store_in_use(store)) {
		fprintf(stderr, "meshfs: %s unmounted, but the daemon still holds %s\n", mount, store);
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}

static int cmd_serve(const cli *c)
{
	meshfs_serve_opts opts = { c->store, c->mount, c->log_level, c->argc, c->argv };

	return meshfs_serve(&opts);
}

/* --- help ------------------------------------------------------------ */

typedef struct help_lookup {
	const char *name;
	const char *usage;
	const char *summary;
} help_lookup;

static void find_entry(const char *name, const char *usage_line, const char *summary, void *arg)
{
	help_lookup *h = arg;

	if (!h->usage && !strcmp(name, h->name)) {
		h->usage = usage_line;
		h->summary = summary;
	}
}

static void print_name(const char *name, const char *usage_line, const char *summary, void *out)
{
	(void)usage_line;
	(void)summary;
	fprintf(out, "%s\n", name);
}

/* scdoc reads *, _ and \ as markup. */
static void put_scdoc_text(const char *text, FILE *out)
{
	for (const char *p = text; *p; p++) {
		if (*p == '*' || *p == '_' || *p == '\\')
			fputc('\\', out);
		fputc(*p, out);
	}
}

/* One entry of meshfs(1)'s COMMANDS section: the usage line as it is in
 * the table, the summary indented below it. */
static void print_scdoc_entry(const char *name, const char *usage_line, const char *summary,
			      void *out)
{
	(void)name;
	fputs("*meshfs* ", out);
	put_scdoc_text(usage_line, out);
	fputs("\n\t", out);
	put_scdoc_text(summary, out);
	fputs("\n\n", out);
}

static int cmd_help(const cli *c)
{
	help_lookup h = { 0 };

	if (c->argc == 1) {
		print_usage(stdout);
		return EXIT_SUCCESS;
	}
	if (c->argc != 2)
		return usage("help takes one COMMAND, --names or --scdoc");
	if (!strcmp(c->argv[1], "--names")) {
		each_command(print_name, stdout);
		return EXIT_SUCCESS;
	}
	if (!strcmp(c->argv[1], "--scdoc")) {
		each_command(print_scdoc_entry, stdout);
		return EXIT_SUCCESS;
	}
	h.name = c->argv[1];
	each_command(find_entry, &h);
	if (!h.usage) {
		fprintf(stderr, "meshfs: help: unknown command '%s' (`meshfs help` lists them)\n",
			c->argv[1]);
		return EXIT_USAGE;
	}
	printf("usage: meshfs %s\n\n  %s\n%s", h.usage, h.summary, usage_tail);
	return EXIT_SUCCESS;
}

static bool is_control_command(const char *name)
{
	const mesh_cmd_spec *const *specs;
	size_t count;

	mesh_control_commands(&specs, &count);
	for (size_t i = 0; i < count; i++)
		if (!strcmp(name, specs[i]->name))
			return true;
	return false;
}

static bool has_word(const cli *c, const char *word)
{
	for (int i = 0; i < c->argc; i++)
		if (!strcmp(c->argv[i], word))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	cli c = { 0 };
	char abs_path[PATH_MAX + 8];
	int status;

	if (argc < 2)
		return usage(NULL);
	if (parse_options(&c, argc, argv) < 0) {
		free(c.store);
		return EXIT_USAGE;
	}
	if (c.argc == 0)
		status = usage("no command given");
	else if (!strcmp(c.argv[0], "help"))
		status = cmd_help(&c);
	else if (!strcmp(c.argv[0], "init"))
		status = cmd_init(&c);
	else if (!strcmp(c.argv[0], "migrate"))
		status = cmd_migrate(&c);
	else if (!strcmp(c.argv[0], "recover"))
		status = cmd_recover(&c);
	else if (!strcmp(c.argv[0], "mount"))
		status = cmd_mount(&c);
	else if (!strcmp(c.argv[0], "serve"))
		status = cmd_serve(&c);
	else if (!strcmp(c.argv[0], "umount") || !strcmp(c.argv[0], "unmount"))
		status = cmd_umount(&c);
	else if (!strcmp(c.argv[0], "domain") && c.argc >= 2 && !strcmp(c.argv[1], "create") &&
		 c.argc >= 3 && mesh_domain_name_check(c.argv[2]) < 0)
		status = (fail(), EXIT_USAGE);
	else if (!is_control_command(c.argv[0]))
		status = usage("unknown command");
	else if (!strcmp(c.argv[0], "commit") && !has_word(&c, "-m") && !has_word(&c, "--message"))
		status = usage("commit needs a message: -m MESSAGE");
	else if ((!strcmp(c.argv[0], "import") &&
		  absolutize_arg(&c, 1, abs_path, sizeof(abs_path)) < 0) ||
		 (!strcmp(c.argv[0], "export") &&
		  absolutize_arg(&c, 2, abs_path, sizeof(abs_path)) < 0) ||
		 (!strcmp(c.argv[0], "contract") && c.argc > 1 && !strcmp(c.argv[1], "import") &&
		  absolutize_arg(&c, 2, abs_path, sizeof(abs_path)) < 0) ||
		 (!strcmp(c.argv[0], "contract") && c.argc > 1 && !strcmp(c.argv[1], "export") &&
		  absolutize_arg(&c, 4, abs_path, sizeof(abs_path)) < 0))
		status = usage("path too long");
	else
		status = cmd_control(&c);
	free(c.argv);
	free(c.store);
	return status;
}
