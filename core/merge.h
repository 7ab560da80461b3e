/*
 * merge.h - merge bases and three-way merges of trees.
 *
 * Merges are at file granularity: a path changed on one side only takes
 * that side; changed identically on both, either; changed differently,
 * it is a conflict unless a strategy picks a side.  Subtrees equal on
 * two of the three sides are decided by id without descending.  Merge,
 * revert and cherry-pick are all this one operation with different
 * (base, ours, theirs).
 */
#ifndef MESH_MERGE_H
#define MESH_MERGE_H

#include <stddef.h>
#include "odb.h"
#include "tree.h"

typedef enum mesh_merge_strategy {
	MESH_MERGE_FAIL = 0,        /* conflicts are reported, nothing changes */
	MESH_MERGE_DEST_WINS = 1,   /* "ours": the branch merged into */
	MESH_MERGE_SOURCE_WINS = 2, /* "theirs" */
} mesh_merge_strategy;

/* "dest-wins" / "source-wins" -> strategy; MESH_EINVAL naming the choices. */
int mesh_merge_strategy_parse(const char *name, mesh_merge_strategy *out);

typedef enum mesh_conflict_kind {
	MESH_CONFLICT_BOTH_CHANGED = 1,   /* changed differently (or added differently) */
	MESH_CONFLICT_CHANGE_DELETE = 2,  /* ours changed, theirs deleted */
	MESH_CONFLICT_DELETE_CHANGE = 3,  /* ours deleted, theirs changed */
	MESH_CONFLICT_FILE_DIR = 4,       /* a file on one side, a directory on the other */
} mesh_conflict_kind;

const char *mesh_conflict_kind_name(mesh_conflict_kind kind);

typedef struct mesh_conflict {
	char *path;
	mesh_conflict_kind kind;
} mesh_conflict;

typedef struct mesh_merge_result {
	mesh_oid tree;               /* valid when conflict_count == 0 */
	size_t conflict_count;       /* unresolved conflicts, path-sorted */
	mesh_conflict *conflicts;
	size_t resolved_count;       /* conflicts a strategy decided */
	size_t changes;              /* paths whose result differs from ours */
} mesh_merge_result;

/*
 * Merges theirs into ours against base (base may be NULL: no common
 * ancestor, every path is new on both sides).  Returns 0 also when there
 * are conflicts: look at result->conflict_count; then result->tree is
 * not set.  Free with mesh_merge_result_free.
 */
int mesh_merge_trees(mesh_odb *odb, const mesh_oid *base, const mesh_oid *ours,
		     const mesh_oid *theirs, mesh_merge_strategy strategy,
		     mesh_merge_result *result);
void mesh_merge_result_free(mesh_merge_result *result);

/*
 * The merge base of two commits: a best common ancestor (one that is not
 * an ancestor of another common ancestor).  When several are best (a
 * criss-cross history) the one with the latest commit time is chosen,
 * ties broken by the smaller id, so the choice is deterministic.
 * MESH_ENOENT when the commits share no history.
 */
int mesh_merge_base(mesh_odb *odb, const mesh_oid *a, const mesh_oid *b,
		    mesh_oid *out);

/* 1 when ancestor is a (not necessarily proper) ancestor of commit. */
int mesh_merge_is_ancestor(mesh_odb *odb, const mesh_oid *ancestor,
			   const mesh_oid *commit);

#endif
