/*
 * hook.h - a domain's hooks: programs that judge a commit, a merge or the
 * creation of a branch or tag before it lands (pre-), or hear of it
 * afterwards (post-).
 *
 * A hook runs as the domain's owner (never root: a domain root owns runs
 * its hooks as nobody), in a process group of its own, with a cleared
 * environment (PATH and the MESH_* variables), the changed paths on
 * stdin and the candidate as a read-only directory (MESH_CANDIDATE).  A
 * pre-hook that exits non-zero, dies or outlives its time-out refuses
 * the change (MESH_EPERM naming the hook, its status and its stderr);
 * a post-hook's failure is logged and audited and changes nothing.
 *
 * Keys in the metadata db (db.h), prefix "h/":
 *   h/<domain>\0<event>\0<program>   a hook: its time-out in seconds (text)
 * Hooks of one event run in the byte order of their programs' paths.
 */
#ifndef MESH_HOOK_H
#define MESH_HOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "cmd.h"
#include "oid.h"
#include "store.h"

typedef enum mesh_hook_event {
	MESH_HOOK_PRE_COMMIT,
	MESH_HOOK_POST_COMMIT,
	MESH_HOOK_PRE_MERGE,
	MESH_HOOK_POST_MERGE,
	MESH_HOOK_PRE_CREATE_BRANCH,
	MESH_HOOK_PRE_CREATE_TAG,
	MESH_HOOK_EVENT_COUNT
} mesh_hook_event;

#define MESH_HOOK_TIMEOUT_DEFAULT 30
#define MESH_HOOK_TIMEOUT_MAX 3600
/* What is kept of a hook's stdout and of its stderr; the rest is read
 * and dropped, so a chatty hook never stalls on a full pipe. */
#define MESH_HOOK_OUTPUT_MAX (64u << 10)
/* Between SIGTERM to a timed-out hook's process group and SIGKILL. */
#define MESH_HOOK_GRACE_MS 1000
/* The uid and gid a hook of a domain root owns runs as. */
#define MESH_HOOK_NOBODY 65534

const char *mesh_hook_event_name(mesh_hook_event event);
/* MESH_EINVAL naming the events when name is none of them. */
int mesh_hook_event_parse(const char *name, mesh_hook_event *out);

/* One stored hook. */
typedef struct mesh_hook {
	mesh_hook_event event;
	char *program;
	unsigned timeout;          /* seconds */
} mesh_hook;

/* Adds (or changes the time-out of) a hook: the domain's owner and the
 * administrator only.  program must be an absolute path to an
 * executable regular file; timeout 1..MESH_HOOK_TIMEOUT_MAX. */
int mesh_hook_add(mesh_store *store, const mesh_caller *caller, const char *domain,
		  mesh_hook_event event, const char *program, unsigned timeout);
/* MESH_ENOENT when there is no such hook. */
int mesh_hook_remove(mesh_store *store, const mesh_caller *caller, const char *domain,
		     mesh_hook_event event, const char *program);
/* Every hook of domain, by event then program (caller frees with
 * mesh_hook_list_free). */
int mesh_hook_list(mesh_store *store, const char *domain, mesh_hook **out, size_t *count);
void mesh_hook_list_free(mesh_hook *hooks, size_t count);

/* --- running one program ------------------------------------------- */

/* What one run is given. */
typedef struct mesh_hook_proc {
	const char *program;
	unsigned timeout;          /* seconds */
	bool switch_user;          /* become uid/gid/groups (needs root) */
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	size_t group_count;
	const char *const *env;    /* "NAME=value", NULL-terminated */
	const char *input;         /* stdin */
	size_t input_len;
	const char *cwd;           /* or NULL: "/" */
} mesh_hook_proc;

/* How it ended. */
typedef struct mesh_hook_outcome {
	int status;                /* exit status, or -1 when signalled or timed out */
	int signal;                /* the signal that ended it, or 0 */
	bool timed_out;
	char *out, *err;           /* NUL-terminated, at most MESH_HOOK_OUTPUT_MAX bytes */
	size_t out_len, err_len;
} mesh_hook_outcome;

/* Runs the program and waits for it (or kills its whole process group
 * at the time-out: SIGTERM, SIGKILL MESH_HOOK_GRACE_MS later; and when
 * it exits, whatever it left running in its group).  0 when it ran,
 * whatever its status; an error when it could not be started. */
int mesh_hook_exec(const mesh_hook_proc *proc, mesh_hook_outcome *out);
void mesh_hook_outcome_dispose(mesh_hook_outcome *out);

/* --- running a domain's hooks ---------------------------------------- */

/* One change being judged.  Filled by the caller; the rest is the
 * job's (mesh_hook_job_dispose frees it). */
typedef struct mesh_hook_job {
	mesh_hook_event event;     /* a pre- event */
	const char *domain;
	const char *branch;        /* the branch, or the new branch's or tag's name */
	const char *source;        /* a merge's source, a new ref's REF, or NULL */
	const mesh_caller *caller;
	mesh_oid commit;           /* the candidate commit (written, not yet a head) */
	bool has_trees;            /* old_tree -> new_tree are the changed paths */
	mesh_oid old_tree, new_tree;
	/* the job's */
	mesh_hook *hooks;
	size_t count;
	char *changed;
	size_t changed_len;
	bool diffed;
	char *export_dir;          /* the candidate exported, without a mount */
} mesh_hook_job;

/* Whether the job has any hook of event (loads the domain's hooks once). */
int mesh_hook_job_has(mesh_store *store, mesh_hook_job *job, mesh_hook_event event,
		      bool *out);
/* Runs the domain's hooks of job->event in order; the first that
 * refuses stops them: MESH_EPERM "pre-commit hook PROGRAM refused ...
 * (exit status N): STDERR".  0 when there are none or all pass. */
int mesh_hook_run_pre(mesh_store *store, mesh_hook_job *job);
/* The post- event of job->event (post-commit, post-merge) for commit, now
 * the head: each failure goes to the log and the audit log. */
void mesh_hook_run_post(mesh_store *store, mesh_hook_job *job, const mesh_oid *commit);
void mesh_hook_job_dispose(mesh_hook_job *job);

extern const mesh_cmd_spec mesh_hook_cmd_spec;   /* hook add|list|remove */

#endif
