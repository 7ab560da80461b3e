#include "cmd.h"
#include "access.h"
#include "domain.h"
#include "error.h"
#include "refs.h"

#include <stdio.h>
#include <string.h>

int mesh_cmd_parse_target(mesh_cmd *cmd, const char *arg, char *domain,
			  size_t dlen, const char **rest)
{
	const char *slash = strchr(arg, '/');
	int error;

	if (!slash || slash == arg || !slash[1] || (size_t)(slash - arg) >= dlen)
		return mesh_error_set(MESH_EINVAL,
			"'%s' is not of the form DOMAIN/BRANCH", arg);
	memcpy(domain, arg, (size_t)(slash - arg));
	domain[slash - arg] = '\0';
	/* A domain the caller may not see does not exist for them. */
	if ((error = mesh_access_check(cmd->env->store, cmd->caller, domain, NULL,
				       MESH_ACCESS_SEE, NULL)) < 0)
		return error;
	*rest = slash + 1;
	return 0;
}

int mesh_cmd_need_value(mesh_cmd *cmd, size_t i)
{
	if (i + 1 >= cmd->argc)
		return mesh_error_set(MESH_EINVAL, "%s: option %s needs a value",
				      cmd->argv[0], cmd->argv[i]);
	return 0;
}

int mesh_cmd_unknown_option(mesh_cmd *cmd, size_t i)
{
	return mesh_error_set(MESH_EINVAL, "%s: unknown argument '%s'",
			      cmd->argv[0], cmd->argv[i]);
}

void mesh_cmd_json_oid(mesh_json *j, const char *key, const mesh_oid *oid)
{
	char hex[MESH_OID_HEXSZ + 1];

	mesh_oid_fmt(hex, oid);
	if (key)
		mesh_json_key(j, key);
	mesh_json_string(j, hex);
}

int mesh_cmd_branch_view(mesh_cmd *cmd, const char *target, char *domain,
			 size_t dlen, mesh_view **view)
{
	const char *branch = NULL;
	int error = mesh_cmd_parse_target(cmd, target, domain, dlen, &branch);

	if (error == 0)
		error = mesh_ref_name_check("branch", branch);
	if (error == 0 && cmd->view_count == MESH_CMD_MAX_VIEWS)
		error = mesh_error_set(MESH_EINVAL, "%s: names more than %d branches",
				       cmd->argv[0], MESH_CMD_MAX_VIEWS);
	if (error == 0 &&
	    (error = cmd->env->branch_view(cmd->env->ctx, domain, branch, view)) == 0)
		cmd->views[cmd->view_count++] = *view;
	/* Another handle (the CLI on the store, a branch delete) may have
	 * moved or removed the branch since the view was opened. */
	if (error == 0)
		error = mesh_view_refresh(*view);
	return error;
}

void mesh_cmd_views_done(mesh_cmd *cmd)
{
	for (size_t i = 0; i < cmd->view_count; i++)
		if (cmd->env->view_done)
			cmd->env->view_done(cmd->env->ctx, cmd->views[i]);
	cmd->view_count = 0;
}

static const mesh_cmd_opt *find_opt(const mesh_cmd_opt *opts, size_t nopts,
				    const char *word)
{
	for (size_t k = 0; k < nopts; k++)
		if (!strcmp(word, opts[k].flag) ||
		    (opts[k].alias && !strcmp(word, opts[k].alias)))
			return &opts[k];
	return NULL;
}

int mesh_cmd_parse_opts(mesh_cmd *cmd, size_t start, const mesh_cmd_opt *opts,
			size_t nopts, const char **positional, size_t max_pos,
			size_t *npos, const char **path)
{
	*npos = 0;
	if (path)
		*path = NULL;
	for (size_t i = start; i < cmd->argc; i++) {
		const char *a = cmd->argv[i];
		const mesh_cmd_opt *opt;

		if (path && !strcmp(a, "--")) {
			if (i + 2 != cmd->argc)
				return mesh_error_set(MESH_EINVAL, "%s: give one PATH after --",
						      cmd->argv[0]);
			*path = cmd->argv[i + 1];
			return 0;
		}
		if ((opt = find_opt(opts, nopts, a)) && opt->value) {
			if (mesh_cmd_need_value(cmd, i) < 0)
				return MESH_EINVAL;
			*opt->value = cmd->argv[++i];
		} else if (opt) {
			*opt->set = true;
		} else if (a[0] == '-' || *npos == max_pos) {
			return mesh_cmd_unknown_option(cmd, i);
		} else {
			positional[(*npos)++] = a;
		}
	}
	return 0;
}

int mesh_cmd_need_positional(mesh_cmd *cmd, size_t npos, size_t want,
			     const char *usage)
{
	(void)cmd;
	if (npos != want)
		return mesh_error_set(MESH_EINVAL, "usage: %s", usage);
	return 0;
}

void mesh_cmd_notify_changed(mesh_cmd *cmd, const char *domain, const char *branch,
			     const mesh_change *changes, size_t count)
{
	if (cmd->env->changed)
		cmd->env->changed(cmd->env->ctx, domain, branch, changes, count);
}

const char *mesh_cmd_trim_path(char *path)
{
	size_t len;

	while (*path == '/')
		path++;
	len = strlen(path);
	while (len > 0 && path[len - 1] == '/')
		path[--len] = '\0';
	return path;
}
