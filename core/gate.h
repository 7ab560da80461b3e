/*
 * gate.h - the checks a branch's new tree must pass before its head
 * moves there (commit, merge, revert, cherry-pick): view.c calls the one
 * function below under the branch lock, before anything is written but
 * the new objects.  Each check is one line of it.
 */
#ifndef MESH_GATE_H
#define MESH_GATE_H

#include "json.h"
#include "oid.h"
#include "store.h"

/*
 * 0 when candidate_tree may become the head of domain/branch (now at
 * head_tree, NULL for a first commit).  Otherwise the check's error,
 * MESH_EINVAL naming the file, line and field at fault; details (may be
 * NULL) gets members for the failure's answer.  The head stays.
 */
int mesh_gate_commit(mesh_store *store, const mesh_caller *caller, const char *domain,
		     const char *branch, const mesh_oid *head_tree,
		     const mesh_oid *candidate_tree, mesh_json *details);

#endif
