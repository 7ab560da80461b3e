/*
 * diff.h - differences between two trees.
 *
 * Walks both trees together and skips every subtree whose id is the same
 * on both sides, so the cost grows with the number of changes, not with
 * the size of the data.
 */
#ifndef MESH_DIFF_H
#define MESH_DIFF_H

#include <stdbool.h>
#include "odb.h"
#include "tree.h"

typedef enum mesh_diff_type {
	MESH_DIFF_ADDED = 1,
	MESH_DIFF_REMOVED = 2,
	MESH_DIFF_CHANGED = 3,     /* same kind, other content or mode */
} mesh_diff_type;

/*
 * One difference.  old/new are NULL on the side where the path does not
 * exist.  A directory added or removed is reported once, as itself,
 * without its contents; a path that changes kind (file <-> dir) is
 * reported as REMOVED then ADDED.  A changed directory is not reported:
 * its changed descendants are.  Entry names in old/new are NULL; path is
 * the full path from the trees' roots.
 */
typedef int (*mesh_diff_cb)(void *ctx, const char *path, mesh_diff_type type,
			    const mesh_tree_entry *old, const mesh_tree_entry *new_);

/*
 * Calls cb for each difference from tree a to tree b (either may be NULL:
 * the empty tree), in path order.  prefix ("" or NULL = everything)
 * limits the walk to one path and what is below it.  A non-zero return
 * of cb stops the walk and is returned.
 */
int mesh_diff_trees(mesh_odb *odb, const mesh_oid *a, const mesh_oid *b,
		    const char *prefix, mesh_diff_cb cb, void *ctx);

/* Two entries hold the same thing: kind, content id and mode (mtime is
 * not compared). */
bool mesh_tree_entry_same(const mesh_tree_entry *a, const mesh_tree_entry *b);

const char *mesh_diff_type_name(mesh_diff_type type);

#endif
