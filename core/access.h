/*
 * access.h - who may do what in a domain: the one place where the rules
 * are decided, so the mount, the control file and the CLI cannot
 * disagree.  A rule is checked once per operation by whoever starts it
 * (a view's change function, a control command, an open of the mount).
 *
 * The rules of a domain: its owner, a writers group, a readers group, a
 * visibility (public or restricted), sensitive paths (a glob readable
 * only by a group and the owner, in every view and every command),
 * protected branches (changed only by merge or revert) and access
 * grants answering access requests, which may lapse.  The store's
 * administrator (root, or with root squash the owner of the store
 * directory) passes every rule but protection.
 *
 * Keys in the metadata db (db.h), prefix "a/":
 *   a/d/<domain>/s/<glob>    sensitive path: the reading group's gid
 *   a/d/<domain>/b/<branch>  protected branch
 *   a/d/<domain>/g/<id>      a grant of request <id> (its record)
 *   a/p/<policy>             store-wide policy
 *   a/r/<id>                 an access request and its state
 *   a/next                   the next request id
 */
#ifndef MESH_ACCESS_H
#define MESH_ACCESS_H

#include <stdbool.h>
#include <stdint.h>
#include "cmd.h"
#include "db.h"
#include "store.h"

struct mesh_domain;

typedef enum mesh_access_op {
	MESH_ACCESS_SEE,          /* the domain exists for the caller */
	MESH_ACCESS_READ,         /* read a path (NULL: the domain) */
	MESH_ACCESS_READ_TREE,    /* read a path and all below it (a copy's source) */
	MESH_ACCESS_WRITE,        /* change files in a branch view, copy into it */
	MESH_ACCESS_COMMIT,       /* commit a branch (import included) */
	MESH_ACCESS_RESET,        /* drop a branch's staged changes */
	MESH_ACCESS_CHERRY_PICK,
	MESH_ACCESS_MERGE,        /* merge into a branch: a protected one too */
	MESH_ACCESS_REVERT,       /* revert on a branch: a protected one too */
	MESH_ACCESS_BRANCH,       /* create (branch NULL) or delete a branch */
	MESH_ACCESS_TAG,          /* create or delete a tag */
	MESH_ACCESS_REPAIR,       /* move a branch off a broken head: a protected one too */
	MESH_ACCESS_ADMIN,        /* change the domain's settings and protections */
} mesh_access_op;

/*
 * Whether caller may do op in domain (on branch, when the op names one;
 * at path, a path inside the domain's views, for READ, READ_TREE and
 * WRITE).  0 when allowed; otherwise the error is set and returned:
 *   MESH_ENOENT  the domain does not exist for the caller, with the very
 *                message an absent domain gets ("domain X does not exist")
 *   MESH_EACCES  naming the rule that refuses
 *   MESH_EROFS   WRITE in a protected branch's view
 *   MESH_EPERM   COMMIT, RESET, CHERRY_PICK or a delete of a protected
 *                branch (it changes only by merge or revert)
 * caller NULL is the store's own work (unmount, recovery): allowed.
 * Costs no database read while the domain's rules are cached.
 */
int mesh_access_check(mesh_store *store, const mesh_caller *caller,
		      const char *domain, const char *branch,
		      mesh_access_op op, const char *path);

/* Filters for listings (domain list, readdir, diff, status): whether the
 * caller sees the domain, may read path in it.  They leave out rather
 * than refuse, so they set no error and are no decision of record. */
bool mesh_access_sees(mesh_store *store, const mesh_caller *caller, const char *domain);
bool mesh_access_may_read(mesh_store *store, const mesh_caller *caller,
			  const char *domain, const char *path);

/* Root unless root squash; with it the owner of the store directory. */
bool mesh_access_is_admin(mesh_store *store, const mesh_caller *caller);

/* Whether branch of domain is protected (false on errors). */
bool mesh_access_branch_protected(mesh_store *store, const char *domain,
				  const char *branch);

/* Whether domain is restricted (false on errors): the mount lets the
 * kernel cache nothing of it. */
bool mesh_access_domain_restricted(mesh_store *store, const char *domain);

/* Adds "branch of domain is protected" to batch (a domain's creation). */
void mesh_access_protect_put(mesh_db_batch *batch, const char *domain,
			     const char *branch);

/* The store's policy protect-main-by-default (false when unset). */
bool mesh_access_policy_protect_main(mesh_store *store);

/* Tells the cache that rules changed (a domain record, a glob, a grant):
 * every decision after it reads them anew. */
void mesh_access_changed(mesh_store *store);

/* A glob of a sensitive path or a request: fnmatch(3) syntax without
 * FNM_PATHNAME ('*' spans '/'), relative, brackets closed.  MESH_EINVAL
 * naming the glob and what is wrong. */
int mesh_access_glob_check(const char *glob);

/* Whether path, or a directory above it, matches glob. */
bool mesh_access_glob_covers(const char *glob, const char *path);

/* "user" or "group" names and numbers for settings: the uid or gid.
 * MESH_EINVAL naming an unknown one. */
int mesh_access_user_id(const char *name, uint32_t *uid);
int mesh_access_group_id(const char *name, uint32_t *gid);

/* An ISO date (YYYY-MM-DD: through the end of that day, local time) or
 * date-time (YYYY-MM-DDTHH:MM[:SS][Z]) as seconds since the epoch.
 * MESH_EINVAL naming the text when it is neither. */
int mesh_access_parse_date(const char *text, int64_t *out);

/* 0 for the store's administrator, else MESH_EACCES "only the store's
 * administrator may WHAT": for store-wide commands (gc, fsck, policies),
 * whose answers and effects span every domain, restricted ones too. */
int mesh_access_need_admin(mesh_store *store, const mesh_caller *caller, const char *what);

/* 0 for the store's administrator and the members of the governance
 * group (`policy set governance-group G`, kept at a/p/governance-group),
 * else MESH_EACCES "only the store's administrator and the governance
 * group (G) may WHAT" (without a group, as mesh_access_need_admin): for
 * the store-wide policies the governance team owns (policy set
 * protect-main-by-default, policy require|unrequire).  Membership is
 * the caller's groups as the kernel gives them, as for every rule. */
int mesh_access_need_governance(mesh_store *store, const mesh_caller *caller,
				const char *what);

/* Who owns domain's directory and the roots of its views as its record
 * stands now (mesh_domain_root_owner), from the cache: a `domain set`
 * shows at once, and a getattr reads no database in the common case. */
int mesh_access_root_owner(mesh_store *store, const char *domain, uint32_t *uid,
			   uint32_t *gid);

/* The cache of rules a store handle keeps (store.c owns it). */
typedef struct mesh_access_cache mesh_access_cache;
int mesh_access_cache_new(mesh_access_cache **out);
void mesh_access_cache_free(mesh_access_cache *cache);

/* Commands: "domain show|restrict|unrestrict" and "domain set" of
 * owner, writers, readers and visibility (control.c's "domain" hands them
 * here), "branch protect|unprotect" (from "branch"). */
int mesh_access_cmd_domain(mesh_cmd *cmd);
int mesh_access_cmd_branch_protect(mesh_cmd *cmd);
/* The access settings of a domain record as members of an object:
 * writers, readers, visibility. */
void mesh_access_json_domain(mesh_json *j, const struct mesh_domain *d);
/* "sensitive" (glob, group) and "protected" (branch names) of domain as
 * members of an object. */
void mesh_access_json_rules(mesh_store *store, mesh_json *j, const char *domain);

extern const mesh_cmd_spec mesh_access_cmd_spec;   /* access request|pending|grant|deny|mine */
extern const mesh_cmd_spec mesh_policy_cmd_spec;   /* policy set|show */

#endif
