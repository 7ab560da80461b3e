#include "control.h"
#include "access.h"
#include "cmd.h"
#include "array.h"
#include "audit.h"
#include "branch.h"
#include "catalog.h"
#include "contract.h"
#include "diff.h"
#include "domain.h"
#include "error.h"
#include "gc.h"
#include "fsck.h"
#include "import.h"
#include "lineage.h"
#include "history.h"
#include "hook.h"
#include "json.h"
#include "product.h"
#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* --- word splitting -------------------------------------------------- */

typedef struct word_buf {
	char *text;
	size_t len;
} word_buf;

static int push_word(char ***words, size_t *count, word_buf *w)
{
	if (*count >= MESH_CONTROL_MAX_ARGS)
		return mesh_error_set(MESH_EINVAL, "command has more than %d words",
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

/* "domain" and "branch" of the branch a command worked on. */
static void json_branch(mesh_cmd *cmd, mesh_view *view)
{
	mesh_json_field_string(&cmd->json, "domain", mesh_view_domain(view));
	mesh_json_field_string(&cmd->json, "branch", mesh_view_branch(view));
}

/* A list of staged changes: status shows them, reset what it dropped. */
static void json_changes(mesh_json *j, const char *key, const mesh_change *changes,
			 size_t count)
{
	mesh_json_key(j, key);
	mesh_json_array_begin(j);
	for (size_t i = 0; i < count; i++) {
		mesh_json_object_begin(j);
		mesh_json_field_string(j, "path", changes[i].path);
		mesh_json_field_string(j, "change", mesh_change_type_name(changes[i].type));
		mesh_json_field_string(j, "kind", mesh_entry_kind_name(changes[i].kind));
		mesh_json_object_end(j);
	}
	mesh_json_array_end(j);
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

static int parse_commit_args(mesh_cmd *cmd, const char **message,
			     mesh_meta *meta, size_t *meta_count)
{
	int error = 0;

	*message = NULL;
	*meta_count = 0;
	for (size_t i = 2; i < cmd->argc && error == 0; i++) {
		const char *a = cmd->argv[i];
		if (!strcmp(a, "-m") || !strcmp(a, "--message")) {
			if ((error = mesh_cmd_need_value(cmd, i)) == 0)
				*message = cmd->argv[++i];
		} else if (!strcmp(a, "--meta")) {
			if ((error = mesh_cmd_need_value(cmd, i)) < 0)
				break;
			if (*meta_count == MESH_CONTROL_MAX_META)
				return mesh_error_set(MESH_EINVAL, "at most %d --meta pairs", MESH_CONTROL_MAX_META);
			error = parse_meta(cmd->argv[++i], &meta[(*meta_count)++]);
		} else {
			error = mesh_cmd_unknown_option(cmd, i);
		}
	}
	if (error == 0 && (!*message || !**message))
		error = mesh_error_set(MESH_EINVAL, "commit needs a message: -m MESSAGE");
	return error;
}

static int cmd_commit(mesh_cmd *cmd)
{
	mesh_meta meta[MESH_CONTROL_MAX_META] = { { 0 } };
	const char *message;
	char domain[256];
	mesh_view *view;
	mesh_oid parent, id;
	size_t meta_count = 0, changes = 0;
	int error;

	if (cmd->argc < 2)
		return mesh_error_set(MESH_EINVAL, "usage: commit DOMAIN/BRANCH -m MESSAGE [--meta K=V]");
	if ((error = parse_commit_args(cmd, &message, meta, &meta_count)) == 0 &&
	    (error = mesh_cmd_branch_view(cmd, cmd->argv[1], domain, sizeof(domain), &view)) == 0) {
		mesh_view_commit_id(view, &parent);
		error = mesh_view_commit(view, cmd->caller, message, meta, meta_count,
					 &id, &changes);
	}
	free_meta(meta, meta_count);
	if (error < 0)
		return error;
	json_branch(cmd, view);
	mesh_cmd_json_oid(&cmd->json, "commit", &id);
	mesh_cmd_json_oid(&cmd->json, "parent", &parent);
	mesh_json_field_int(&cmd->json, "changes", (int64_t)changes);
	return 0;
}

/* --- status ---------------------------------------------------------- */

/* Leaves out of an answer the changes at paths the caller may not read. */
static void drop_unreadable(mesh_cmd *cmd, const char *domain, mesh_change *changes,
			    size_t *count)
{
	size_t kept = 0;

	for (size_t i = 0; i < *count; i++) {
		if (mesh_access_may_read(cmd->env->store, cmd->caller, domain, changes[i].path))
			changes[kept++] = changes[i];
		else
			free(changes[i].path);
	}
	*count = kept;
}

static int cmd_status(mesh_cmd *cmd)
{
	char domain[256];
	mesh_view *view;
	mesh_change *changes;
	mesh_oid head;
	size_t count;
	int error;

	if (cmd->argc != 2)
		return mesh_error_set(MESH_EINVAL, "usage: status DOMAIN/BRANCH");
	if ((error = mesh_cmd_branch_view(cmd, cmd->argv[1], domain, sizeof(domain), &view)) < 0 ||
	    (error = mesh_view_status(view, &changes, &count)) < 0)
		return error;
	mesh_view_commit_id(view, &head);
	json_branch(cmd, view);
	mesh_cmd_json_oid(&cmd->json, "head", &head);
	drop_unreadable(cmd, domain, changes, &count);
	json_changes(&cmd->json, "changes", changes, count);
	mesh_changes_free(changes, count);
	return 0;
}

/* --- log ------------------------------------------------------------- */

static int log_one(void *ctx, const mesh_oid *id, const mesh_commit *commit)
{
	mesh_json *j = ctx;

	mesh_json_object_begin(j);
	mesh_cmd_json_oid(j, "id", id);
	mesh_json_key(j, "parents");
	mesh_json_array_begin(j);
	for (size_t i = 0; i < commit->parent_count; i++)
		mesh_cmd_json_oid(j, NULL, &commit->parents[i]);
	mesh_json_array_end(j);
	mesh_json_field_string(j, "author", commit->author);
	mesh_json_field_int(j, "uid", commit->uid);
	mesh_json_field_int(j, "time", commit->time);
	mesh_json_field_string(j, "message", commit->message);
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

static int parse_count(const char *text, size_t *out)
{
	char *end;
	long n = strtol(text, &end, 10);

	if (*end || n <= 0)
		return mesh_error_set(MESH_EINVAL, "-n needs a positive number, not '%s'", text);
	*out = (size_t)n;
	return 0;
}

typedef struct log_ctx {
	mesh_cmd *cmd;
	char *path;        /* only commits that touched it, or NULL */
	size_t max, shown;
} log_ctx;

static int log_filtered(void *ctx, const mesh_oid *id, const mesh_commit *commit)
{
	log_ctx *lc = ctx;
	bool touches = true;
	int error;

	if (lc->path && (error = mesh_history_touches(lc->cmd->env->store, commit,
						      lc->path, &touches)) < 0)
		return error;
	if (!touches)
		return 0;
	if ((error = log_one(&lc->cmd->json, id, commit)) < 0)
		return error;
	/* Stops the walk once enough commits are shown. */
	return lc->max && ++lc->shown == lc->max ? 1 : 0;
}

static int cmd_log(mesh_cmd *cmd)
{
	const char *count = NULL, *pos[1] = { NULL }, *ref = NULL, *path = NULL;
	mesh_cmd_opt specs[] = { { "-n", NULL, &count, NULL } };
	log_ctx lc = { .cmd = cmd };
	char domain[256];
	mesh_rev rev;
	size_t npos;
	int error;

	if ((error = mesh_cmd_parse_opts(cmd, 1, specs, 1, pos, 1, &npos, &path)) < 0 ||
	    (error = mesh_cmd_need_positional(cmd, npos, 1, "log DOMAIN/REF [-n N] [-- PATH]")) < 0 ||
	    (count && (error = parse_count(count, &lc.max)) < 0) ||
	    (error = mesh_cmd_parse_target(cmd, pos[0], domain, sizeof(domain), &ref)) < 0 ||
	    (error = mesh_revparse(cmd->env->store, domain, ref, &rev)) < 0)
		return error;
	if (path && !(lc.path = strdup(path)))
		return mesh_error_oom();
	if (lc.path && *mesh_cmd_trim_path(lc.path) &&
	    (error = mesh_access_check(cmd->env->store, cmd->caller, domain, NULL,
				       MESH_ACCESS_READ, mesh_cmd_trim_path(lc.path))) < 0) {
		free(lc.path);
		return error;
	}
	mesh_json_field_string(&cmd->json, "domain", domain);
	mesh_json_key(&cmd->json, "commits");
	mesh_json_array_begin(&cmd->json);
	error = mesh_history_walk(cmd->env->store, &rev.commit, 0, log_filtered, &lc);
	mesh_json_array_end(&cmd->json);
	free(lc.path);
	return error == 1 ? 0 : error;
}

/* --- domains --------------------------------------------------------- */

/* Their usage texts answer a bad subcommand (defined with the others below). */
static const mesh_cmd_spec spec_cmd_domain, spec_cmd_branch;

static void json_domain(mesh_json *j, const mesh_domain *d)
{
	mesh_json_object_begin(j);
	mesh_json_field_string(j, "name", d->name);
	mesh_json_field_string(j, "description", d->description);
	mesh_json_field_string(j, "owner", d->owner);
	mesh_json_field_int(j, "owner_uid", d->owner_uid);
	mesh_json_field_string(j, "default_branch", d->default_branch);
	mesh_json_field_int(j, "created", d->created);
	mesh_json_field_int(j, "retention_days", d->retention_days);
	mesh_access_json_domain(j, d);
	mesh_json_object_end(j);
}

/* "domain": the record of name as it now stands. */
static int answer_domain(mesh_cmd *cmd, const char *name)
{
	mesh_domain *d;
	int error;

	if ((error = mesh_domain_get(cmd->env->store, name, &d)) < 0)
		return error;
	mesh_json_key(&cmd->json, "domain");
	json_domain(&cmd->json, d);
	mesh_domain_free(d);
	return 0;
}

/* --writers G, --readers G, --visibility V, --protect-main */
static int domain_create_opt(mesh_cmd *cmd, size_t *i, mesh_domain_opts *opts)
{
	const char *flag = cmd->argv[*i], *value;
	int error;

	if (!strcmp(flag, "--protect-main")) {
		opts->protect_main = 1;
		return 0;
	}
	if (strcmp(flag, "--description") && strcmp(flag, "--writers") &&
	    strcmp(flag, "--readers") && strcmp(flag, "--visibility"))
		return mesh_cmd_unknown_option(cmd, *i);
	if ((error = mesh_cmd_need_value(cmd, *i)) < 0)
		return error;
	value = cmd->argv[++*i];
	if (!strcmp(flag, "--description")) {
		opts->description = value;
		return 0;
	}
	if (!strcmp(flag, "--writers")) {
		opts->has_writers = true;
		return mesh_access_group_id(value, &opts->writers_gid);
	}
	if (!strcmp(flag, "--readers")) {
		opts->has_readers = true;
		return mesh_access_group_id(value, &opts->readers_gid);
	}
	if (strcmp(value, "public") && strcmp(value, "restricted"))
		return mesh_error_set(MESH_EINVAL, "visibility is public or restricted, not '%s'", value);
	opts->restricted = !strcmp(value, "restricted");
	return 0;
}

static int domain_create(mesh_cmd *cmd)
{
	mesh_domain_opts opts = { .description = "", .protect_main = -1 };
	int error;

	if (cmd->argc < 3)
		return mesh_error_set(MESH_EINVAL, "usage: domain create NAME [--description TEXT]"
				      " [--writers G] [--readers G] [--visibility V] [--protect-main]");
	for (size_t i = 3; i < cmd->argc; i++)
		if ((error = domain_create_opt(cmd, &i, &opts)) < 0)
			return error;
	if ((error = mesh_domain_create_with(cmd->env->store, cmd->caller, cmd->argv[2],
					     &opts)) < 0)
		return error;
	return answer_domain(cmd, cmd->argv[2]);
}

static int domain_list(mesh_cmd *cmd)
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
		if (mesh_access_sees(cmd->env->store, cmd->caller, domains[i]->name))
			json_domain(&cmd->json, domains[i]);
	mesh_json_array_end(&cmd->json);
	mesh_domain_list_free(domains, count);
	return 0;
}

/* domain set NAME retention DAYS */
static int domain_set(mesh_cmd *cmd)
{
	const char *usage = "usage: domain set NAME retention|owner|writers|readers|visibility VALUE";
	const char *text;
	char *end;
	long long days;
	int error;

	if (cmd->argc != 5)
		return mesh_error_set(MESH_EINVAL, "%s", usage);
	if (strcmp(cmd->argv[3], "retention") != 0) {
		if ((error = mesh_access_cmd_domain(cmd)) < 0)
			return error;
		return answer_domain(cmd, cmd->argv[2]);
	}
	if ((error = mesh_access_check(cmd->env->store, cmd->caller, cmd->argv[2], NULL,
				       MESH_ACCESS_ADMIN, NULL)) < 0)
		return error;
	text = cmd->argv[4];
	errno = 0;
	days = strtoll(text, &end, 10);
	if (!*text || *end || errno || !(*text >= '0' && *text <= '9'))
		return mesh_error_set(MESH_EINVAL, "retention '%s' is not a number of days", text);
	if ((error = mesh_domain_set_retention(cmd->env->store, cmd->argv[2], days)) < 0)
		return error;
	return answer_domain(cmd, cmd->argv[2]);
}

static int cmd_domain(mesh_cmd *cmd)
{
	if (cmd->argc >= 2 && strcmp(cmd->argv[1], "create") == 0)
		return domain_create(cmd);
	if (cmd->argc >= 2 && strcmp(cmd->argv[1], "list") == 0)
		return domain_list(cmd);
	if (cmd->argc >= 2 && strcmp(cmd->argv[1], "set") == 0)
		return domain_set(cmd);
	if (cmd->argc >= 3 && (!strcmp(cmd->argv[1], "show") || !strcmp(cmd->argv[1], "restrict") ||
			       !strcmp(cmd->argv[1], "unrestrict"))) {
		const char *name = !strcmp(cmd->argv[1], "show") ? cmd->argv[2] : NULL;
		int error = mesh_access_cmd_domain(cmd);
		if (error == 0 && (error = answer_domain(cmd, name ? name : cmd->argv[2])) == 0)
			mesh_access_json_rules(cmd->env->store, &cmd->json, cmd->argv[2]);
		return error;
	}
	if (cmd->argc >= 2 && strcmp(cmd->argv[1], "stats") == 0)
		return mesh_audit_domain_stats(cmd);
	return mesh_error_set(MESH_EINVAL, "usage: %s", spec_cmd_domain.usage);
}

/* --- branches and tags ----------------------------------------------- */

typedef struct ref_list_ctx {
	mesh_json *json;
	size_t skip;        /* length of "heads/" or "tags/" */
} ref_list_ctx;

static int list_ref(void *ctx, const char *name, const mesh_oid *oid)
{
	ref_list_ctx *rl = ctx;

	mesh_json_object_begin(rl->json);
	mesh_json_field_string(rl->json, "name", name + rl->skip);
	mesh_cmd_json_oid(rl->json, "commit", oid);
	mesh_json_object_end(rl->json);
	return 0;
}

static int list_refs(mesh_cmd *cmd, const char *prefix, const char *key)
{
	ref_list_ctx rl = { &cmd->json, strlen(prefix) };
	int error;

	if (cmd->argc != 3)
		return mesh_error_set(MESH_EINVAL, "usage: %s list DOMAIN", cmd->argv[0]);
	if ((error = mesh_access_check(cmd->env->store, cmd->caller, cmd->argv[2], NULL,
				       MESH_ACCESS_SEE, NULL)) < 0)
		return error;
	mesh_json_field_string(&cmd->json, "domain", cmd->argv[2]);
	mesh_json_key(&cmd->json, key);
	mesh_json_array_begin(&cmd->json);
	error = mesh_ref_list(mesh_store_refs(cmd->env->store), cmd->argv[2], prefix,
			      list_ref, &rl);
	mesh_json_array_end(&cmd->json);
	return error;
}

static void json_ref_answer(mesh_cmd *cmd, const char *domain, const char *key,
			    const char *name, const mesh_oid *commit)
{
	mesh_json_field_string(&cmd->json, "domain", domain);
	mesh_json_key(&cmd->json, key);
	mesh_json_string(&cmd->json, name);
	if (commit)
		mesh_cmd_json_oid(&cmd->json, "commit", commit);
}

static int branch_create(mesh_cmd *cmd)
{
	const char *from = NULL, *pos[1] = { NULL }, *name = NULL;
	mesh_cmd_opt specs[] = { { "--from", NULL, &from, NULL } };
	char domain[256];
	mesh_domain *d;
	mesh_oid head;
	size_t npos;
	int error;

	if ((error = mesh_cmd_parse_opts(cmd, 2, specs, 1, pos, 1, &npos, NULL)) < 0 ||
	    (error = mesh_cmd_need_positional(cmd, npos, 1, "branch create DOMAIN/NAME [--from REF]")) < 0 ||
	    (error = mesh_cmd_parse_target(cmd, pos[0], domain, sizeof(domain), &name)) < 0 ||
	    (error = mesh_domain_get(cmd->env->store, domain, &d)) < 0)
		return error;
	error = mesh_branch_create(cmd->env->store, cmd->caller, domain, name,
				   from ? from : d->default_branch, &head);
	mesh_domain_free(d);
	if (error < 0)
		return error;
	mesh_cmd_notify_changed(cmd, domain, name, NULL, 0);
	json_ref_answer(cmd, domain, "branch", name, &head);
	return 0;
}

static int branch_delete(mesh_cmd *cmd)
{
	const char *name = NULL;
	char domain[256];
	int error;

	if (cmd->argc != 3)
		return mesh_error_set(MESH_EINVAL, "usage: branch delete DOMAIN/NAME");
	if ((error = mesh_cmd_parse_target(cmd, cmd->argv[2], domain, sizeof(domain), &name)) < 0 ||
	    (error = mesh_branch_delete(cmd->env->store, cmd->caller, domain, name)) < 0)
		return error;
	mesh_cmd_notify_changed(cmd, domain, name, NULL, 0);
	json_ref_answer(cmd, domain, "deleted", name, NULL);
	return 0;
}

static int cmd_branch(mesh_cmd *cmd)
{
	const char *sub = cmd->argc >= 2 ? cmd->argv[1] : "";

	if (!strcmp(sub, "create"))
		return branch_create(cmd);
	if (!strcmp(sub, "delete"))
		return branch_delete(cmd);
	if (!strcmp(sub, "list"))
		return list_refs(cmd, "heads/", "branches");
	if (!strcmp(sub, "reset-head"))
		return mesh_fsck_cmd_reset_head(cmd);
	if (!strcmp(sub, "protect") || !strcmp(sub, "unprotect"))
		return mesh_access_cmd_branch_protect(cmd);
	return mesh_error_set(MESH_EINVAL, "usage: %s", spec_cmd_branch.usage);
}

static int cmd_tag(mesh_cmd *cmd)
{
	const char *sub = cmd->argc >= 2 ? cmd->argv[1] : "", *name;
	char domain[256];
	mesh_oid commit;
	int error;

	if (!strcmp(sub, "list"))
		return list_refs(cmd, "tags/", "tags");
	if (!strcmp(sub, "create") && cmd->argc == 4) {
		if ((error = mesh_cmd_parse_target(cmd, cmd->argv[2], domain, sizeof(domain), &name)) < 0 ||
		    (error = mesh_tag_create(cmd->env->store, cmd->caller, domain, name,
					     cmd->argv[3], &commit)) < 0)
			return error;
		json_ref_answer(cmd, domain, "tag", name, &commit);
		return 0;
	}
	if (!strcmp(sub, "delete") && cmd->argc == 3) {
		if ((error = mesh_cmd_parse_target(cmd, cmd->argv[2], domain, sizeof(domain), &name)) < 0 ||
		    (error = mesh_tag_delete(cmd->env->store, cmd->caller, domain, name)) < 0)
			return error;
		json_ref_answer(cmd, domain, "deleted", name, NULL);
		return 0;
	}
	return mesh_error_set(MESH_EINVAL,
		"usage: tag create DOMAIN/TAG REF | tag delete DOMAIN/TAG | tag list DOMAIN");
}

/* --- diff ------------------------------------------------------------ */

typedef struct diff_ctx {
	mesh_json *json;
	mesh_change *changes;        /* collected for cache invalidation */
	size_t count, cap;
	bool collect;
	mesh_cmd *reader;            /* answers leave out what it may not read */
	const char *domain;
} diff_ctx;

static int diff_one(void *ctx, const char *path, mesh_diff_type type,
		    const mesh_tree_entry *old, const mesh_tree_entry *new_)
{
	diff_ctx *dc = ctx;
	const mesh_tree_entry *any = new_ ? new_ : old;

	if (dc->collect) {
		if (mesh_array_grow(&dc->changes, &dc->cap, dc->count, sizeof(*dc->changes)) < 0)
			return MESH_ENOMEM;
		if (!(dc->changes[dc->count].path = strdup(path)))
			return mesh_error_oom();
		dc->changes[dc->count].type = type == MESH_DIFF_ADDED ? MESH_CHANGE_ADDED :
			type == MESH_DIFF_REMOVED ? MESH_CHANGE_REMOVED : MESH_CHANGE_MODIFIED;
		dc->changes[dc->count++].kind = any->kind;
		return 0;
	}
	if (dc->reader && !mesh_access_may_read(dc->reader->env->store, dc->reader->caller,
						dc->domain, path))
		return 0;
	mesh_json_object_begin(dc->json);
	mesh_json_field_string(dc->json, "path", path);
	mesh_json_field_string(dc->json, "change", mesh_diff_type_name(type));
	mesh_json_field_string(dc->json, "kind", mesh_entry_kind_name(any->kind));
	if (old) {
		mesh_json_field_int(dc->json, "old_size", (int64_t)old->size);
	}
	if (new_) {
		mesh_json_field_int(dc->json, "new_size", (int64_t)new_->size);
	}
	mesh_json_object_end(dc->json);
	return 0;
}

static int rev_tree(mesh_cmd *cmd, const char *domain, const char *spec,
		    mesh_oid *commit, mesh_oid *tree)
{
	mesh_commit *c;
	mesh_rev rev;
	int error;

	if ((error = mesh_revparse(cmd->env->store, domain, spec, &rev)) < 0 ||
	    (error = mesh_commit_load(mesh_store_odb(cmd->env->store), &rev.commit, &c)) < 0)
		return error;
	*commit = rev.commit;
	*tree = c->tree;
	mesh_commit_free(c);
	return 0;
}

static int cmd_diff(mesh_cmd *cmd)
{
	const char *pos[2] = { NULL, NULL }, *path = NULL, *ref1 = NULL;
	char domain[256], *prefix = NULL;
	mesh_oid c1, c2, t1, t2;
	diff_ctx dc = { .json = &cmd->json, .reader = cmd, .domain = domain };
	size_t npos;
	int error;

	if ((error = mesh_cmd_parse_opts(cmd, 1, NULL, 0, pos, 2, &npos, &path)) < 0 ||
	    (error = mesh_cmd_need_positional(cmd, npos, 2, "diff DOMAIN/REF1 REF2 [-- PATH]")) < 0 ||
	    (error = mesh_cmd_parse_target(cmd, pos[0], domain, sizeof(domain), &ref1)) < 0 ||
	    (error = rev_tree(cmd, domain, ref1, &c1, &t1)) < 0 ||
	    (error = rev_tree(cmd, domain, pos[1], &c2, &t2)) < 0)
		return error;
	if (path && !(prefix = strdup(path)))
		return mesh_error_oom();
	mesh_json_field_string(&cmd->json, "domain", domain);
	mesh_cmd_json_oid(&cmd->json, "from", &c1);
	mesh_cmd_json_oid(&cmd->json, "to", &c2);
	mesh_json_key(&cmd->json, "changes");
	mesh_json_array_begin(&cmd->json);
	error = mesh_diff_trees(mesh_store_odb(cmd->env->store), &t1, &t2,
				prefix ? mesh_cmd_trim_path(prefix) : "", diff_one, &dc);
	mesh_json_array_end(&cmd->json);
	free(prefix);
	return error;
}

/* --- merge, revert, cherry-pick, reset ---------------------------------- */

/* Tells the mount which paths a head move changed: the diff of the old
 * and new trees, so only those leave the kernel's caches. */
static int notify_head_moved(mesh_cmd *cmd, mesh_view *view, const mesh_oid *old_head,
			     const mesh_oid *new_head)
{
	diff_ctx dc = { .collect = true };
	mesh_oid old_tree, new_tree;
	mesh_commit *c;
	int error;

	if (!cmd->env->changed || mesh_oid_cmp(old_head, new_head) == 0)
		return 0;
	if ((error = mesh_commit_load(mesh_store_odb(cmd->env->store), old_head, &c)) < 0)
		return error;
	old_tree = c->tree;
	mesh_commit_free(c);
	mesh_view_root_tree(view, &new_tree);
	error = mesh_diff_trees(mesh_store_odb(cmd->env->store), &old_tree, &new_tree, "",
				diff_one, &dc);
	if (error == 0)
		mesh_cmd_notify_changed(cmd, mesh_view_domain(view), mesh_view_branch(view),
			       dc.changes, dc.count);
	mesh_changes_free(dc.changes, dc.count);
	return error;
}

static void json_conflicts(mesh_json *j, const mesh_merge_result *merge)
{
	mesh_json_key(j, "conflicts");
	mesh_json_array_begin(j);
	for (size_t i = 0; i < merge->conflict_count; i++) {
		mesh_json_object_begin(j);
		mesh_json_field_string(j, "path", merge->conflicts[i].path);
		mesh_json_field_string(j, "kind", mesh_conflict_kind_name(merge->conflicts[i].kind));
		mesh_json_object_end(j);
	}
	mesh_json_array_end(j);
}

/* The answer of merge, revert and cherry-pick, or the conflicts. */
static int outcome_answer(mesh_cmd *cmd, mesh_view *view, int error,
			  mesh_branch_outcome *outcome)
{
	if (error == MESH_EBUSY && outcome->merge.conflict_count > 0)
		json_conflicts(&cmd->details, &outcome->merge);
	if (error == 0)
		error = notify_head_moved(cmd, view, &outcome->old_head, &outcome->commit);
	if (error == 0) {
		json_branch(cmd, view);
		mesh_cmd_json_oid(&cmd->json, "commit", &outcome->commit);
		mesh_cmd_json_oid(&cmd->json, "parent", &outcome->old_head);
		mesh_json_field_bool(&cmd->json, "up_to_date", outcome->up_to_date);
		mesh_json_field_int(&cmd->json, "changes", (int64_t)outcome->merge.changes);
		mesh_json_field_int(&cmd->json, "resolved_conflicts", (int64_t)outcome->merge.resolved_count);
	}
	mesh_branch_outcome_free(outcome);
	return error;
}

static int cmd_merge(mesh_cmd *cmd)
{
	const char *into = NULL, *message = NULL, *strategy_name = NULL, *pos[1] = { NULL }, *src = NULL;
	mesh_cmd_opt specs[] = { { "--into", NULL, &into, NULL }, { "-m", "--message", &message, NULL },
			     { "--strategy", NULL, &strategy_name, NULL } };
	mesh_merge_strategy strategy = MESH_MERGE_FAIL;
	mesh_branch_outcome outcome = { 0 };
	char domain[256], target[600];
	mesh_view *view;
	size_t npos;
	int error;

	if ((error = mesh_cmd_parse_opts(cmd, 1, specs, 3, pos, 1, &npos, NULL)) < 0 ||
	    (error = mesh_cmd_need_positional(cmd, npos, 1,
		"merge DOMAIN/SRC --into BRANCH [-m MSG] [--strategy dest-wins|source-wins]")) < 0)
		return error;
	if (!into)
		return mesh_error_set(MESH_EINVAL, "merge needs --into BRANCH");
	if (strategy_name && (error = mesh_merge_strategy_parse(strategy_name, &strategy)) < 0)
		return error;
	if ((error = mesh_cmd_parse_target(cmd, pos[0], domain, sizeof(domain), &src)) < 0)
		return error;
	snprintf(target, sizeof(target), "%s/%s", domain, into);
	if ((error = mesh_cmd_branch_view(cmd, target, domain, sizeof(domain), &view)) < 0)
		return error;
	error = mesh_branch_merge(cmd->env->store, view, cmd->caller, src, strategy,
				  message, &outcome);
	return outcome_answer(cmd, view, error, &outcome);
}

static int parse_parent(const char *text, unsigned *out)
{
	char *end;
	unsigned long n = strtoul(text, &end, 10);

	if (*end || n == 0 || n > 64)
		return mesh_error_set(MESH_EINVAL, "--parent needs a number from 1, not '%s'", text);
	*out = (unsigned)n;
	return 0;
}

static int cmd_revert_or_pick(mesh_cmd *cmd)
{
	bool revert = !strcmp(cmd->argv[0], "revert");
	const char *parent_text = NULL, *pos[2] = { NULL, NULL };
	mesh_cmd_opt specs[] = { { "--parent", NULL, &parent_text, NULL } };
	mesh_branch_outcome outcome = { 0 };
	char domain[256];
	mesh_view *view;
	unsigned parent = 0;
	size_t npos;
	int error;

	if ((error = mesh_cmd_parse_opts(cmd, 1, specs, revert ? 1 : 0, pos, 2, &npos, NULL)) < 0 ||
	    (error = mesh_cmd_need_positional(cmd, npos, 2, revert ?
		"revert DOMAIN/BRANCH COMMIT [--parent N]" : "cherry-pick DOMAIN/BRANCH COMMIT")) < 0 ||
	    (parent_text && (error = parse_parent(parent_text, &parent)) < 0) ||
	    (error = mesh_cmd_branch_view(cmd, pos[0], domain, sizeof(domain), &view)) < 0)
		return error;
	error = revert ?
		mesh_branch_revert(cmd->env->store, view, cmd->caller, pos[1], parent, &outcome) :
		mesh_branch_cherry_pick(cmd->env->store, view, cmd->caller, pos[1], &outcome);
	return outcome_answer(cmd, view, error, &outcome);
}

static int cmd_reset(mesh_cmd *cmd)
{
	const char *pos[1] = { NULL }, *path = NULL;
	char domain[256], *prefix = NULL;
	mesh_change *dropped;
	mesh_view *view;
	size_t npos, count;
	int error;

	if ((error = mesh_cmd_parse_opts(cmd, 1, NULL, 0, pos, 1, &npos, &path)) < 0 ||
	    (error = mesh_cmd_need_positional(cmd, npos, 1, "reset DOMAIN/BRANCH [-- PATH]")) < 0 ||
	    (error = mesh_cmd_branch_view(cmd, pos[0], domain, sizeof(domain), &view)) < 0)
		return error;
	if (path && !(prefix = strdup(path)))
		return mesh_error_oom();
	error = mesh_view_reset(view, cmd->caller, prefix ? mesh_cmd_trim_path(prefix) : "",
				&dropped, &count);
	free(prefix);
	if (error < 0)
		return error;
	mesh_cmd_notify_changed(cmd, domain, mesh_view_branch(view), dropped, count);
	json_branch(cmd, view);
	json_changes(&cmd->json, "dropped", dropped, count);
	mesh_changes_free(dropped, count);
	return 0;
}

/* --- cp -------------------------------------------------------------- */

/* Splits DOMAIN/REF/PATH. */
static int split_location(mesh_cmd *cmd, const char *arg, char *domain, char *ref,
			  char **path)
{
	const char *rest = NULL, *slash;
	int error;

	if ((error = mesh_cmd_parse_target(cmd, arg, domain, 256, &rest)) < 0)
		return error;
	slash = strchr(rest, '/');
	if (!slash || (size_t)(slash - rest) >= 256 || !slash[1])
		return mesh_error_set(MESH_EINVAL, "'%s' is not of the form DOMAIN/REF/PATH", arg);
	memcpy(ref, rest, (size_t)(slash - rest));
	ref[slash - rest] = '\0';
	if (!(*path = strdup(slash + 1)))
		return mesh_error_oom();
	return 0;
}

static int open_source_view(mesh_cmd *cmd, const char *domain, const char *ref,
			    mesh_view **view, mesh_view **owned)
{
	char target[600];
	mesh_rev rev;
	int error;

	*owned = NULL;
	if ((error = mesh_revparse(cmd->env->store, domain, ref, &rev)) < 0)
		return error;
	if (rev.is_branch) {
		snprintf(target, sizeof(target), "%s/%s", domain, rev.branch);
		return mesh_cmd_branch_view(cmd, target, (char[256]){ 0 }, 256, view);
	}
	if ((error = mesh_view_open_commit(owned, cmd->env->store, domain, &rev.commit)) == 0)
		*view = *owned;
	return error;
}

static int cmd_cp(mesh_cmd *cmd)
{
	char src_domain[256], src_ref[256], dst_domain[256], dst_ref[256];
	char *src_path = NULL, *dst_path = NULL, target[600];
	mesh_view *src, *dst, *owned = NULL;
	mesh_change change = { 0 };
	int error;

	if (cmd->argc != 3)
		return mesh_error_set(MESH_EINVAL, "usage: cp DOMAIN/REF/PATH DOMAIN2/BRANCH/PATH");
	if ((error = split_location(cmd, cmd->argv[1], src_domain, src_ref, &src_path)) < 0 ||
	    (error = split_location(cmd, cmd->argv[2], dst_domain, dst_ref, &dst_path)) < 0)
		goto done;
	snprintf(target, sizeof(target), "%s/%s", dst_domain, dst_ref);
	if ((error = mesh_cmd_branch_view(cmd, target, dst_domain, sizeof(dst_domain), &dst)) < 0 ||
	    (error = open_source_view(cmd, src_domain, src_ref, &src, &owned)) < 0 ||
	    (error = mesh_view_copy(dst, cmd->caller, mesh_cmd_trim_path(dst_path), src,
				    mesh_cmd_trim_path(src_path))) < 0 ||
	    (error = mesh_lineage_record_copy(cmd->env->store, dst, mesh_cmd_trim_path(dst_path),
					      src, src_ref, mesh_cmd_trim_path(src_path))) < 0)
		goto done;
	change.path = (char *)mesh_cmd_trim_path(dst_path);
	change.type = MESH_CHANGE_ADDED;
	mesh_cmd_notify_changed(cmd, dst_domain, dst_ref, &change, 1);
	mesh_json_field_string(&cmd->json, "from", cmd->argv[1]);
	mesh_json_field_string(&cmd->json, "to", cmd->argv[2]);
done:
	mesh_view_free(owned);
	free(src_path);
	free(dst_path);
	return error;
}

/* --- dispatch -------------------------------------------------------- */

#define SPEC(name, fn, usage, summary) \
	static const mesh_cmd_spec spec_##fn = { name, fn, usage, summary }
SPEC("commit", cmd_commit, "commit DOMAIN/BRANCH -m MESSAGE [--meta KEY=VALUE]...",
     "commit what is staged");
SPEC("status", cmd_status, "status DOMAIN/BRANCH", "list staged changes");
SPEC("log", cmd_log, "log DOMAIN/REF [-n N] [-- PATH]", "history of a ref");
SPEC("diff", cmd_diff, "diff DOMAIN/REF1 REF2 [-- PATH]", "changes between two refs");
SPEC("domain", cmd_domain, "domain create NAME [--description TEXT] [--writers GROUP] "
     "[--readers GROUP] [--visibility public|restricted] [--protect-main] | domain list | "
     "domain show NAME [--json] | domain set NAME retention|owner|writers|readers|visibility VALUE"
     " | domain restrict NAME GLOB --group GROUP | domain unrestrict NAME GLOB | "
     MESH_AUDIT_STATS_USAGE,
     "create, list, show or configure domains and their access rules; who reads a domain's data");
SPEC("branch", cmd_branch,
     "branch create DOMAIN/NAME [--from REF] | branch delete DOMAIN/NAME | branch list DOMAIN"
     " | branch reset-head DOMAIN/BRANCH | branch protect DOMAIN/BRANCH"
     " | branch unprotect DOMAIN/BRANCH",
     "create, delete, list or protect branches; move one off a broken head");
SPEC("tag", cmd_tag, "tag create DOMAIN/TAG REF | tag delete DOMAIN/TAG | tag list DOMAIN",
     "create, delete or list tags");
SPEC("merge", cmd_merge,
     "merge DOMAIN/SRC --into BRANCH [-m MSG] [--strategy dest-wins|source-wins]",
     "three-way merge of a ref into a branch");
SPEC("revert", cmd_revert_or_pick, "revert DOMAIN/BRANCH COMMIT [--parent N]",
     "undo a commit on a branch");
static const mesh_cmd_spec spec_cherry_pick = { "cherry-pick", cmd_revert_or_pick,
	"cherry-pick DOMAIN/BRANCH COMMIT", "apply one commit's change to a branch" };
SPEC("reset", cmd_reset, "reset DOMAIN/BRANCH [-- PATH]", "drop staged changes");
SPEC("cp", cmd_cp, "cp DOMAIN/REF/PATH DOMAIN2/BRANCH/PATH", "zero-copy copy, across domains too");

/* The one list of commands: each module's spec stands beside its code. */
static const mesh_cmd_spec *const commands[] = {
	&spec_cmd_commit, &spec_cmd_status, &spec_cmd_log, &spec_cmd_diff,
	&spec_cmd_domain, &spec_cmd_branch, &spec_cmd_tag, &spec_cmd_merge,
	&spec_cmd_revert_or_pick, &spec_cherry_pick, &spec_cmd_reset, &spec_cmd_cp,
	&mesh_gc_cmd_spec,
	&mesh_fsck_cmd_spec,
	&mesh_import_cmd_spec, &mesh_export_cmd_spec,
	&mesh_audit_cmd_spec,
	&mesh_access_cmd_spec, &mesh_policy_cmd_spec,
	&mesh_progress_cmd_spec,
	&mesh_contract_cmd_spec,
	&mesh_product_cmd_spec, &mesh_lineage_cmd_spec,
	&mesh_hook_cmd_spec,
	&mesh_catalog_cmd_spec,
};

#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

void mesh_control_commands(const mesh_cmd_spec *const **specs, size_t *count)
{
	*specs = commands;
	*count = COMMAND_COUNT;
}

static int unknown_command(const char *name)
{
	char names[1024];
	size_t pos = 0;

	names[0] = '\0';
	for (size_t i = 0; i < COMMAND_COUNT && pos < sizeof(names); i++)
		pos += (size_t)snprintf(names + pos, sizeof(names) - pos, "%s%s",
					i ? ", " : "", commands[i]->name);
	return mesh_error_set(MESH_EINVAL, "unknown command '%s' (commands: %s)", name, names);
}

/* Lists the command among the running ones, named by its first word
 * that names a domain's ref (or its first word), for `progress`. */
static int progress_begin(mesh_cmd *cmd)
{
	const char *target = cmd->argc > 1 ? cmd->argv[1] : "";

	for (size_t i = 1; i < cmd->argc; i++) {
		if (cmd->argv[i][0] != '-' && cmd->argv[i][0] != '/' && strchr(cmd->argv[i], '/')) {
			target = cmd->argv[i];
			break;
		}
	}
	return mesh_progress_begin(mesh_store_progress(cmd->env->store), cmd->caller,
				   cmd->argv[0], target);
}

static int dispatch(mesh_cmd *cmd)
{
	if (cmd->argc == 0)
		return mesh_error_set(MESH_EINVAL, "empty command");
	mesh_odb *odb = mesh_store_odb(cmd->env->store);
	int error;

	for (size_t i = 0; i < COMMAND_COUNT; i++) {
		if (strcmp(cmd->argv[0], commands[i]->name) != 0)
			continue;
		/* Every command but gc is a session (odb.h): what it reads and
		 * then refers to cannot straddle the start of a collection. */
		if (commands[i] == &mesh_progress_cmd_spec)
			return commands[i]->run(cmd);
		if ((error = progress_begin(cmd)) < 0)
			return error;
		if (commands[i] == &mesh_gc_cmd_spec) {
			error = commands[i]->run(cmd);
		} else {
			mesh_odb_session_begin(odb);
			error = commands[i]->run(cmd);
			mesh_odb_session_end(odb);
		}
		mesh_progress_end(mesh_store_progress(cmd->env->store));
		return error;
	}
	return unknown_command(cmd->argv[0]);
}

static int error_answer(int code, mesh_json *details, char **answer)
{
	mesh_json j;

	mesh_json_init(&j);
	mesh_json_object_begin(&j);
	mesh_json_field_bool(&j, "ok", false);
	mesh_json_field_string(&j, "error", mesh_error_name(code));
	mesh_json_field_string(&j, "message", *mesh_error_message() ? mesh_error_message() : "failed");
	if (details)
		mesh_json_members(&j, details);
	mesh_json_object_end(&j);
	mesh_json_take(&j, answer);
	return code;
}

int mesh_control_refusal(int code, char **answer)
{
	*answer = NULL;
	return error_answer(code, NULL, answer);
}

/* A line refused before it was split into words is recorded as it came. */
static int refused_line(const mesh_control_env *env, const mesh_caller *caller,
			const char *line, int error)
{
	char *word = strndup(line, 200);

	if (word) {
		char *argv[2] = { (char *)"control", word };
		mesh_audit_command(env->store, caller, argv, 2, error);
	}
	free(word);
	return error;
}

int mesh_control_run(const mesh_control_env *env, const mesh_caller *caller,
		     const char *line, char **answer)
{
	mesh_cmd cmd = { .env = env, .caller = caller };
	int error;

	*answer = NULL;
	mesh_error_clear();
	if (strlen(line) > MESH_CONTROL_MAX_LINE)
		return error_answer(refused_line(env, caller, line, mesh_error_set(MESH_EINVAL,
			"command line too long: %zu bytes (at most %d)", strlen(line),
			MESH_CONTROL_MAX_LINE)), NULL, answer);
	if ((error = mesh_control_split(line, &cmd.argv, &cmd.argc)) < 0)
		return error_answer(refused_line(env, caller, line, error), NULL, answer);
	mesh_json_init(&cmd.json);
	mesh_json_init(&cmd.details);
	mesh_json_object_begin(&cmd.json);
	mesh_json_field_bool(&cmd.json, "ok", true);
	error = dispatch(&cmd);
	/* Every change and every refusal, through whichever door it came. */
	mesh_audit_command(env->store, caller, cmd.argv, cmd.argc, error);
	mesh_cmd_views_done(&cmd);
	mesh_control_words_free(cmd.argv, cmd.argc);
	if (error < 0) {
		error = error_answer(error, &cmd.details, answer);
		mesh_json_dispose(&cmd.details);
		mesh_json_dispose(&cmd.json);
		return error;
	}
	mesh_json_dispose(&cmd.details);
	mesh_json_object_end(&cmd.json);
	if ((error = mesh_json_take(&cmd.json, answer)) < 0)
		return error_answer(error, NULL, answer);
	return 0;
}
