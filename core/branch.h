/*
 * branch.h - what is done to branches and tags as wholes: creating and
 * deleting them, merging, reverting and cherry-picking.
 *
 * A branch or tag is one ref: creating one costs the same whatever the
 * size of the data.  Merge, revert and cherry-pick compute a three-way
 * merge of trees (merge.h) and move the branch head with
 * mesh_view_apply, so they are atomic and refuse a branch with staged
 * changes.
 */
#ifndef MESH_BRANCH_H
#define MESH_BRANCH_H

#include <stdbool.h>
#include "merge.h"
#include "store.h"
#include "view.h"

/* Creates branch name at from_ref (a REF expression).  MESH_EEXIST when
 * a branch or a tag has that name. */
int mesh_branch_create(mesh_store *store, const mesh_caller *caller,
		       const char *domain, const char *name,
		       const char *from_ref, mesh_oid *out_head);

/* Deletes a branch and its staged changes in one batch.  MESH_EPERM for
 * the domain's default branch. */
int mesh_branch_delete(mesh_store *store, const mesh_caller *caller,
		       const char *domain, const char *name);

/* Deletes the branch of view only when the view shows nothing (rmdir of
 * a branch directory): MESH_ENOTEMPTY otherwise; the default branch is
 * MESH_EPERM whether empty or not. */
int mesh_branch_delete_empty(mesh_store *store, const mesh_caller *caller,
			     mesh_view *view);

/* Tags never move: MESH_EEXIST when the tag (or a branch) exists. */
int mesh_tag_create(mesh_store *store, const mesh_caller *caller,
		    const char *domain, const char *tag, const char *ref,
		    mesh_oid *out);
int mesh_tag_delete(mesh_store *store, const mesh_caller *caller,
		    const char *domain, const char *tag);

/* The outcome of merge, revert and cherry-pick. */
typedef struct mesh_branch_outcome {
	mesh_merge_result merge;   /* conflicts, changes; free with _free */
	mesh_oid old_head;
	mesh_oid commit;           /* the new head; old_head when nothing to do */
	bool up_to_date;           /* nothing to merge */
} mesh_branch_outcome;

void mesh_branch_outcome_free(mesh_branch_outcome *outcome);

/*
 * Merges src_ref into the branch of dest (a branch view), making a merge
 * commit with two parents.  Conflicts make it fail with MESH_EBUSY and
 * outcome->merge listing them, changing nothing.
 */
int mesh_branch_merge(mesh_store *store, mesh_view *dest, const mesh_caller *caller,
		      const char *src_ref, mesh_merge_strategy strategy,
		      const char *message, mesh_branch_outcome *outcome);

/* Commits the inverse of commit_ref on the branch of view; for a merge
 * commit, parent (1-based) names the side to go back to. */
int mesh_branch_revert(mesh_store *store, mesh_view *view, const mesh_caller *caller,
		       const char *commit_ref, unsigned parent,
		       mesh_branch_outcome *outcome);

/* Commits the change that commit_ref made (against its first parent) on
 * the branch of view. */
int mesh_branch_cherry_pick(mesh_store *store, mesh_view *view,
			    const mesh_caller *caller, const char *commit_ref,
			    mesh_branch_outcome *outcome);

#endif
