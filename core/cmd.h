/*
 * cmd.h - one control command: the words, the caller, the JSON answer
 * being built, and the helpers every command uses to read its words.
 *
 * Each module that does a command's work defines its mesh_cmd_spec
 * beside that work (gc.c its "gc", fsck.c its "fsck"); control.c only
 * lists the specs and dispatches, and the CLI prints its usage from the
 * same list, so the control file, the CLI and its help cannot disagree.
 */
#ifndef MESH_CMD_H
#define MESH_CMD_H

#include <stddef.h>
#include "json.h"
#include "store.h"
#include "view.h"

/* Where commands find the branch views, so that a commit updates the
 * very view the mount shows.  The view is borrowed. */
typedef int (*mesh_control_branch_view)(void *ctx, const char *domain,
					const char *branch, mesh_view **out);

/* Given back each view branch_view handed out, once the command is
 * done with it (NULL: views are not counted). */
typedef void (*mesh_control_view_done)(void *ctx, mesh_view *view);

/* Told after a command changed what a branch shows (changes lists the
 * paths), or created or deleted a branch (changes NULL), so that the
 * mount can drop exactly those entries from the kernel's caches. */
typedef void (*mesh_control_changed)(void *ctx, const char *domain,
				     const char *branch,
				     const mesh_change *changes, size_t count);

typedef struct mesh_control_env {
	mesh_store *store;
	mesh_control_branch_view branch_view;
	mesh_control_view_done view_done;   /* may be NULL */
	mesh_control_changed changed;   /* may be NULL */
	void *ctx;
} mesh_control_env;

#define MESH_CMD_MAX_VIEWS 4

typedef struct mesh_cmd {
	const mesh_control_env *env;
	const mesh_caller *caller;
	char **argv;           /* argv[0] is the command's name */
	size_t argc;
	mesh_json json;        /* the answer's members after "ok": true */
	mesh_json details;     /* members added to a failure's answer */
	mesh_view *views[MESH_CMD_MAX_VIEWS];   /* from branch_view, given back at the end */
	size_t view_count;
} mesh_cmd;

typedef struct mesh_cmd_spec {
	const char *name;
	int (*run)(mesh_cmd *cmd);
	const char *usage;     /* "gc [--dry-run]": words after the name too */
	const char *summary;   /* one line for help texts */
} mesh_cmd_spec;

/* Splits "DOMAIN/REST" into domain (dlen bytes) and *rest, and checks
 * that the domain exists. */
int mesh_cmd_parse_target(mesh_cmd *cmd, const char *arg, char *domain,
			  size_t dlen, const char **rest);

/* The view of the branch named by "DOMAIN/BRANCH", refreshed (another
 * handle may have moved its head).  The view is the command's until it
 * ends, when it is given back to env. */
int mesh_cmd_branch_view(mesh_cmd *cmd, const char *target, char *domain,
			 size_t dlen, mesh_view **view);

/* MESH_EINVAL naming the option when argv[i] has no value after it. */
int mesh_cmd_need_value(mesh_cmd *cmd, size_t i);
/* MESH_EINVAL naming argv[i]. */
int mesh_cmd_unknown_option(mesh_cmd *cmd, size_t i);

/* Options of a command: each flag with a value pointer takes one value;
 * one with value NULL is a switch that sets *set.  Other words are
 * positional; what follows "--" is a path (when path is not NULL). */
typedef struct mesh_cmd_opt {
	const char *flag;
	const char *alias;     /* or NULL */
	const char **value;    /* a flag with a value, or NULL */
	bool *set;             /* a switch, or NULL */
} mesh_cmd_opt;

int mesh_cmd_parse_opts(mesh_cmd *cmd, size_t start, const mesh_cmd_opt *opts,
			size_t nopts, const char **positional, size_t max_pos,
			size_t *npos, const char **path);
/* MESH_EINVAL "usage: USAGE" unless npos == want. */
int mesh_cmd_need_positional(mesh_cmd *cmd, size_t npos, size_t want,
			     const char *usage);

/* Gives back every view the command took (the dispatcher does). */
void mesh_cmd_views_done(mesh_cmd *cmd);

/* Tells the mount what a command changed in a branch (changes NULL: the
 * branch itself was created, moved or deleted). */
void mesh_cmd_notify_changed(mesh_cmd *cmd, const char *domain, const char *branch,
			     const mesh_change *changes, size_t count);

/* A path argument, relative, without leading or trailing slashes
 * (changes path in place). */
const char *mesh_cmd_trim_path(char *path);

/* An object id as a JSON string member (key NULL: a bare value). */
void mesh_cmd_json_oid(mesh_json *j, const char *key, const mesh_oid *oid);

#endif
