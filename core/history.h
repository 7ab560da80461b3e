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

void mesh_history_index_put(mesh_db_batch *batch, const char *domain,
			    const mesh_oid *commit);

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
