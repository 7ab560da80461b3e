/*
 * history.h - a domain's commit graph: the index of its commits, ref
 * expressions (revparse) and log walks.
 *
 * Every commit made in a domain is indexed under "c/<domain>\0<raw id>",
 * written in the same batch that moves a head to it, so abbreviated ids
 * resolve within the domain with one prefix scan.
 */
#ifndef MESH_HISTORY_H
#define MESH_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include "commit.h"
#include "store.h"

/* Shortest accepted abbreviation of a commit id, in hex digits. */
#define MESH_ABBREV_MIN 8

/* Indexes commit id with nothing known about it (its time and parents
 * are read from the commit when asked). */
void mesh_history_index_put(mesh_db_batch *batch, const char *domain,
			    const mesh_oid *commit);
/* Indexes commit id with its time and parents, so that the index knows
 * the history even when the commit object is lost (fsck, branch
 * reset-head) and gc can tell a commit's age without reading it.
 * Value: version 1, int64 time, uint8 parent count, raw parent ids. */
void mesh_history_index_put_commit(mesh_db_batch *batch, const char *domain,
				   const mesh_oid *id, const mesh_commit *commit);

/* What the index says about one commit of a domain. */
#define MESH_HISTORY_PARENTS_MAX 8
typedef struct mesh_history_indexed {
	mesh_oid id;
	/* false when neither the index entry (written before it kept time
	 * and parents) nor the commit object (unreadable) could say; then
	 * time and parents are unset. */
	bool known;
	int64_t time;
	size_t parent_count;
	mesh_oid parents[MESH_HISTORY_PARENTS_MAX];
} mesh_history_indexed;

/* The index entry of commit id in domain: MESH_ENOENT (no error text)
 * when it is not indexed there.  An entry without time and parents is
 * completed from the commit object when it can be read. */
int mesh_history_index_get(mesh_store *store, const char *domain,
			   const mesh_oid *id, mesh_history_indexed *out);

/* Calls cb for every commit indexed in domain, in id order, completed
 * as by mesh_history_index_get; a non-zero return from cb stops and is
 * returned.  Errors reading the database stop it; an unreadable commit
 * does not (it comes with known false). */
typedef int (*mesh_history_index_cb)(void *ctx, const mesh_history_indexed *commit);
int mesh_history_index_list(mesh_store *store, const char *domain,
			    mesh_history_index_cb cb, void *ctx);

/* What a ref expression named. */
typedef struct mesh_rev {
	mesh_oid commit;
	bool is_branch;         /* spec was exactly a branch name */
	char branch[256];       /* the branch, when is_branch */
} mesh_rev;

/*
 * Resolves spec in domain: a branch, a tag, a full commit id or a unique
 * prefix of at least MESH_ABBREV_MIN hex digits, each followed by any
 * number of "~N", "~" or "^" / "^N" (N-th parent).  MESH_ENOENT naming the
 * spec when nothing matches, MESH_EINVAL when it is malformed or an
 * abbreviation is ambiguous.
 */
int mesh_revparse(mesh_store *store, const char *domain, const char *spec,
		  mesh_rev *out);

/* The head commit of a branch; MESH_ENOENT naming domain and branch. */
int mesh_history_branch_head(mesh_store *store, const char *domain,
			     const char *branch, mesh_oid *out);

/* Calls cb for up to max commits (0 = all) along first parents from
 * start, newest first. */
typedef int (*mesh_history_cb)(void *ctx, const mesh_oid *id,
			       const mesh_commit *commit);
int mesh_history_walk(mesh_store *store, const mesh_oid *start, size_t max,
		      mesh_history_cb cb, void *ctx);

/* Whether commit changed path against its first parent (a root commit
 * changes what it has).  Costs two path lookups. */
int mesh_history_touches(mesh_store *store, const mesh_commit *commit,
			 const char *path, bool *out);

#endif
