#include "control.h"
#include "domain.h"
#include "error.h"
#include "history.h"
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_META 64

/* --- word splitting -------------------------------------------------- */

typedef struct word_buf {
	char *text;
	size_t len;
} word_buf;

static int push_word(char ***words, size_t *count, word_buf *w)
{
	if (*count >= MESH_CONTROL_MAX_ARGS)
		return mesh_error_set(MESH_EINVAL, "too many words (at most %d)",
				      MESH_CONTROL_MAX_ARGS);
	w->text[w->len] = '\0';
	if (!((*words)[(*count)++] = strdup(w->text)))
		return mesh_error_oom();
	w->len = 0;
	return 0;
}

int mesh_control_split(const char *line, char ***words, size_t *count)
{
	word_buf w = { 0 };
	char quote = 0;
	bool in_word = false;
	int error = 0;

	*count = 0;
	*words = calloc(MESH_CONTROL_MAX_ARGS, sizeof(char *));
	w.text = malloc(strlen(line) + 1);
	if (!*words || !w.text) {
		free(w.text);
		free(*words);
		return mesh_error_oom();
	}
	for (const char *p = line; *p && error == 0; p++) {
		char c = *p;
		if (quote == '\'' && c != '\'') {
			w.text[w.len++] = c;
		} else if (quote == '"' && c == '\\' && (p[1] == '"' || p[1] == '\\')) {
			w.text[w.len++] = *++p;
		} else if (c == quote) {
			quote = 0;
		} else if (quote) {
			w.text[w.len++] = c;
		} else if (c == '\'' || c == '"') {
			quote = c;
			in_word = true;
		} else if (c == '\\' && p[1]) {
			w.text[w.len++] = *++p;
			in_word = true;
		} else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			if (in_word)
				error = push_word(words, count, &w);
			in_word = false;
		} else {
			w.text[w.len++] = c;
			in_word = true;
		}
	}
	if (error == 0 && quote)
		error = mesh_error_set(MESH_EINVAL, "unterminated %c quote", quote);
	if (error == 0 && in_word)
		error = push_word(words, count, &w);
	free(w.text);
	if (error < 0) {
		mesh_control_words_free(*words, *count);
		*words = NULL;
		*count = 0;
	}
	return error;
}

void mesh_control_words_free(char **words, size_t count)
{
	if (!words)
		return;
	for (size_t i = 0; i < count; i++)
		free(words[i]);
	free(words);
}

/* --- helpers --------------------------------------------------------- */

typedef struct command {
	const mesh_control_env *env;
	const mesh_caller *caller;
	char **argv;
	size_t argc;
	mesh_json json;
} command;

/* Splits "DOMAIN/REST" and checks that the domain exists. */
static int parse_target(command *cmd, const char *arg, char *domain,
			size_t dlen, const char **rest)
{
	const char *slash = strchr(arg, '/');
	mesh_domain *d;
	int error;

	if (!slash || slash == arg || !slash[1] || (size_t)(slash - arg) >= dlen)
		return mesh_error_set(MESH_EINVAL,
			"'%s' is not of the form DOMAIN/BRANCH", arg);
	memcpy(domain, arg, (size_t)(slash - arg));
	domain[slash - arg] = '\0';
	if ((error = mesh_domain_get(cmd->env->store, domain, &d)) < 0)
		return error;
	mesh_domain_free(d);
	*rest = slash + 1;
	return 0;
}

static int need_value(command *cmd, size_t i)
{
	if (i + 1 >= cmd->argc)
		return mesh_error_set(MESH_EINVAL, "%s: option %s needs a value",
				      cmd->argv[0], cmd->argv[i]);
	return 0;
}

static int unknown_option(command *cmd, size_t i)
{
	return mesh_error_set(MESH_EINVAL, "%s: unknown argument '%s'",
			      cmd->argv[0], cmd->argv[i]);
}

static void json_oid(mesh_json *j, const char *key, const mesh_oid *oid)
{
	char hex[MESH_OID_HEXSZ + 1];

	mesh_oid_fmt(hex, oid);
	if (key)
		mesh_json_key(j, key);
	mesh_json_string(j, hex);
}

static int branch_view(command *cmd, const char *target, char *domain,
		       size_t dlen, mesh_view **view)
{
	const char *branch;
	int error = parse_target(cmd, target, domain, dlen, &branch);

	if (error == 0)
		error = mesh_ref_name_check("branch", branch);
	if (error == 0)
		error = cmd->env->branch_view(cmd->env->ctx, domain, branch, view);
	return error;
}

/* --- commit ---------------------------------------------------------- */

static int parse_meta(const char *arg, mesh_meta *out)
{
	const char *eq = strchr(arg, '=');

	if (!eq || eq == arg)
		return mesh_error_set(MESH_EINVAL, "--meta '%s' is not KEY=VALUE", arg);
	out->key = strndup(arg, (size_t)(eq - arg));
	out->value = strdup(eq + 1);
	return out->key && out->value ? 0 : mesh_error_oom();
}

static void free_meta(mesh_meta *meta, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		free(meta[i].key);
		free(meta[i].value);
	}
}

static int parse_commit_args(command *cmd, const char **message,
			     mesh_meta *meta, size_t *meta_count)
{
	int error = 0;

	*message = NULL;
	*meta_count = 0;
	for (size_t i = 2; i < cmd->argc && error == 0; i++) {
		const char *a = cmd->argv[i];
		if (!strcmp(a, "-m") || !strcmp(a, "--message")) {
			if ((error = need_value(cmd, i)) == 0)
				*message = cmd->argv[++i];
		} else if (!strcmp(a, "--meta")) {
			if ((error = need_value(cmd, i)) < 0)
				break;
			if (*meta_count == MAX_META)
				return mesh_error_set(MESH_EINVAL, "at most %d --meta pairs", MAX_META);
			error = parse_meta(cmd->argv[++i], &meta[(*meta_count)++]);
		} else {
			error = unknown_option(cmd, i);
		}
	}
	if (error == 0 && (!*message || !**message))
		error = mesh_error_set(MESH_EINVAL, "commit needs a message: -m MESSAGE");
	return error;
}

static int cmd_commit(command *cmd)
{
	mesh_meta meta[MAX_META] = { { 0 } };
	const char *message;
	char domain[256];
	mesh_view *view;
	mesh_oid parent, id;
	size_t meta_count = 0, changes = 0;
	int error;

	if (cmd->argc < 2)
		return mesh_error_set(MESH_EINVAL, "usage: commit DOMAIN/BRANCH -m MESSAGE [--meta K=V]");
	if ((error = parse_commit_args(cmd, &message, meta, &meta_count)) == 0 &&
	    (error = branch_view(cmd, cmd->argv[1], domain, sizeof(domain), &view)) == 0) {
		mesh_view_commit_id(view, &parent);
		error = mesh_view_commit(view, cmd->caller, message, meta, meta_count,
					 &id, &changes);
	}
	free_meta(meta, meta_count);
	if (error < 0)
		return error;
	mesh_json_key(&cmd->json, "domain");
	mesh_json_string(&cmd->json, domain);
	mesh_json_key(&cmd->json, "branch");
	mesh_json_string(&cmd->json, mesh_view_branch(view));
	json_oid(&cmd->json, "commit", &id);
	json_oid(&cmd->json, "parent", &parent);
	mesh_json_key(&cmd->json, "changes");
	mesh_json_int(&cmd->json, (int64_t)changes);
	return 0;
}

/* --- status ---------------------------------------------------------- */

static int cmd_status(command *cmd)
{
	char domain[256];
	mesh_view *view;
	mesh_change *changes;
	mesh_oid head;
	size_t count;
	int error;

	if (cmd->argc != 2)
		return mesh_error_set(MESH_EINVAL, "usage: status DOMAIN/BRANCH");
	if ((error = branch_view(cmd, cmd->argv[1], domain, sizeof(domain), &view)) < 0 ||
	    (error = mesh_view_status(view, &changes, &count)) < 0)
		return error;
	mesh_view_commit_id(view, &head);
	mesh_json_key(&cmd->json, "domain");
	mesh_json_string(&cmd->json, domain);
	mesh_json_key(&cmd->json, "branch");
	mesh_json_string(&cmd->json, mesh_view_branch(view));
	json_oid(&cmd->json, "head", &head);
	mesh_json_key(&cmd->json, "changes");
	mesh_json_array_begin(&cmd->json);
	for (size_t i = 0; i < count; i++) {
		mesh_json_object_begin(&cmd->json);
		mesh_json_key(&cmd->json, "path");
		mesh_json_string(&cmd->json, changes[i].path);
		mesh_json_key(&cmd->json, "change");
		mesh_json_string(&cmd->json, mesh_change_type_name(changes[i].type));
		mesh_json_key(&cmd->json, "kind");
		mesh_json_string(&cmd->json, mesh_entry_kind_name(changes[i].kind));
		mesh_json_object_end(&cmd->json);
	}
	mesh_json_array_end(&cmd->json);
	mesh_changes_free(changes, count);
	return 0;
}

/* --- log ------------------------------------------------------------- */

static int log_one(void *ctx, const mesh_oid *id, const mesh_commit *commit)
{
	mesh_json *j = ctx;

	mesh_json_object_begin(j);
	json_oid(j, "id", id);
	mesh_json_key(j, "parents");
	mesh_json_array_begin(j);
	for (size_t i = 0; i < commit->parent_count; i++)
		json_oid(j, NULL, &commit->parents[i]);
	mesh_json_array_end(j);
	mesh_json_key(j, "author");
	mesh_json_string(j, commit->author);
	mesh_json_key(j, "uid");
	mesh_json_int(j, commit->uid);
	mesh_json_key(j, "time");
	mesh_json_int(j, commit->time);
	mesh_json_key(j, "message");
	mesh_json_string(j, commit->message);
	mesh_json_key(j, "meta");
	mesh_json_object_begin(j);
	for (size_t i = 0; i < commit->meta_count; i++) {
		mesh_json_key(j, commit->meta[i].key);
		mesh_json_string(j, commit->meta[i].value);
	}
	mesh_json_object_end(j);
	mesh_json_object_end(j);
	return 0;
}

static int parse_count(command *cmd, size_t i, size_t *out)
{
	char *end;
	long n;

	if (need_value(cmd, i) < 0)
		return MESH_EINVAL;
	n = strtol(cmd->argv[i + 1], &end, 10);
	if (*end || n <= 0)
		return mesh_error_set(MESH_EINVAL, "-n needs a positive number, not '%s'",
				      cmd->argv[i + 1]);
	*out = (size_t)n;
	return 0;
}

static int cmd_log(command *cmd)
{
	char domain[256];
	const char *ref;
	mesh_rev rev;
	size_t max = 0;
	int error;

	if (cmd->argc < 2)
		return mesh_error_set(MESH_EINVAL, "usage: log DOMAIN/REF [-n N]");
	for (size_t i = 2; i < cmd->argc; i++) {
		if (strcmp(cmd->argv[i], "-n") != 0)
			return unknown_option(cmd, i);
		if ((error = parse_count(cmd, i++, &max)) < 0)
			return error;
	}
	if ((error = parse_target(cmd, cmd->argv[1], domain, sizeof(domain), &ref)) < 0 ||
	    (error = mesh_revparse(cmd->env->store, domain, ref, &rev)) < 0)
		return error;
	mesh_json_key(&cmd->json, "domain");
	mesh_json_string(&cmd->json, domain);
	mesh_json_key(&cmd->json, "commits");
	mesh_json_array_begin(&cmd->json);
	error = mesh_history_walk(cmd->env->store, &rev.commit, max, log_one, &cmd->json);
	mesh_json_array_end(&cmd->json);
	return error;
}

/* --- domains --------------------------------------------------------- */

static void json_domain(mesh_json *j, const mesh_domain *d)
{
	mesh_json_object_begin(j);
	mesh_json_key(j, "name");
	mesh_json_string(j, d->name);
	mesh_json_key(j, "description");
	mesh_json_string(j, d->description);
	mesh_json_key(j, "owner");
	mesh_json_string(j, d->owner);
	mesh_json_key(j, "owner_uid");
	mesh_json_int(j, d->owner_uid);
	mesh_json_key(j, "default_branch");
	mesh_json_string(j, d->default_branch);
	mesh_json_key(j, "created");
	mesh_json_int(j, d->created);
	mesh_json_object_end(j);
}

static int domain_create(command *cmd)
{
	const char *description = "";
	mesh_domain *d;
	int error;

	if (cmd->argc < 3)
		return mesh_error_set(MESH_EINVAL, "usage: domain create NAME [--description TEXT]");
	for (size_t i = 3; i < cmd->argc; i++) {
		if (strcmp(cmd->argv[i], "--description") != 0)
			return unknown_option(cmd, i);
		if ((error = need_value(cmd, i)) < 0)
			return error;
		description = cmd->argv[++i];
	}
	if ((error = mesh_domain_create(cmd->env->store, cmd->caller, cmd->argv[2],
					description)) < 0 ||
	    (error = mesh_domain_get(cmd->env->store, cmd->argv[2], &d)) < 0)
		return error;
	mesh_json_key(&cmd->json, "domain");
	json_domain(&cmd->json, d);
	mesh_domain_free(d);
	return 0;
}

static int domain_list(command *cmd)
{
	mesh_domain **domains;
	size_t count;
	int error;

	if (cmd->argc != 2)
		return mesh_error_set(MESH_EINVAL, "usage: domain list");
	if ((error = mesh_domain_list(cmd->env->store, &domains, &count)) < 0)
		return error;
	mesh_json_key(&cmd->json, "domains");
	mesh_json_array_begin(&cmd->json);
	for (size_t i = 0; i < count; i++)
		json_domain(&cmd->json, domains[i]);
	mesh_json_array_end(&cmd->json);
	mesh_domain_list_free(domains, count);
	return 0;
}

static int cmd_domain(command *cmd)
{
	if (cmd->argc >= 2 && strcmp(cmd->argv[1], "create") == 0)
		return domain_create(cmd);
	if (cmd->argc >= 2 && strcmp(cmd->argv[1], "list") == 0)
		return domain_list(cmd);
	return mesh_error_set(MESH_EINVAL, "usage: domain create NAME [--description TEXT] | domain list");
}

/* --- dispatch -------------------------------------------------------- */

static const struct {
	const char *name;
	int (*run)(command *cmd);
} commands[] = {
	{ "commit", cmd_commit },
	{ "status", cmd_status },
	{ "log", cmd_log },
	{ "domain", cmd_domain },
};

static int dispatch(command *cmd)
{
	if (cmd->argc == 0)
		return mesh_error_set(MESH_EINVAL, "empty command");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(cmd->argv[0], commands[i].name) == 0)
			return commands[i].run(cmd);
	return mesh_error_set(MESH_EINVAL,
		"unknown command '%s' (commands: commit, status, log, domain)", cmd->argv[0]);
}

static int error_answer(int code, char **answer)
{
	mesh_json j;

	mesh_json_init(&j);
	mesh_json_object_begin(&j);
	mesh_json_key(&j, "ok");
	mesh_json_bool(&j, false);
	mesh_json_key(&j, "error");
	mesh_json_string(&j, mesh_error_name(code));
	mesh_json_key(&j, "message");
	mesh_json_string(&j, *mesh_error_message() ? mesh_error_message() : "failed");
	mesh_json_object_end(&j);
	mesh_json_take(&j, answer);
	return code;
}

int mesh_control_run(const mesh_control_env *env, const mesh_caller *caller,
		     const char *line, char **answer)
{
	command cmd = { .env = env, .caller = caller };
	int error;

	*answer = NULL;
	mesh_error_clear();
	if (strlen(line) >= MESH_CONTROL_MAX_LINE)
		return error_answer(mesh_error_set(MESH_EINVAL, "command line too long"), answer);
	if ((error = mesh_control_split(line, &cmd.argv, &cmd.argc)) < 0)
		return error_answer(error, answer);
	mesh_json_init(&cmd.json);
	mesh_json_object_begin(&cmd.json);
	mesh_json_key(&cmd.json, "ok");
	mesh_json_bool(&cmd.json, true);
	error = dispatch(&cmd);
	mesh_control_words_free(cmd.argv, cmd.argc);
	if (error < 0) {
		mesh_json_dispose(&cmd.json);
		return error_answer(error, answer);
	}
	mesh_json_object_end(&cmd.json);
	if ((error = mesh_json_take(&cmd.json, answer)) < 0)
		return error_answer(error, answer);
	return 0;
}
