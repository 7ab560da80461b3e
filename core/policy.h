/*
 * policy.h - store-wide standard fields the governance team (the
 * store's administrator and the governance group) requires of every
 * product on its default branch: card fields that must be there and
 * non-empty, and a classification on every contract's schema property (README
 * "Standard fields").  Kept in the metadata db beside the other
 * policies:
 *   a/p/require-card-fields     "owner,description" (known fields, in
 *                               mesh_policy_card_fields order)
 *   a/p/require-classification  "true" | "false"
 * The `policy` command (core/access.c) calls the two functions below
 * for its require, unrequire and show words.
 */
#ifndef MESH_POLICY_H
#define MESH_POLICY_H

#include "cmd.h"
#include "json.h"
#include "oid.h"
#include "store.h"

/* The card fields a policy may require, "id, name, ...". */
const char *mesh_policy_card_fields(void);

/* "policy require card-field F[,F...]|classification" (require true) or
 * "policy unrequire ..." (false): the administrator and the governance
 * group only (mesh_access_need_governance), one synced write.
 * MESH_EINVAL naming an unknown field (and the known ones). */
int mesh_policy_require_cmd(mesh_cmd *cmd, bool require);

/* "require-card-fields": [...], "require-classification": bool members. */
int mesh_policy_json(mesh_store *store, mesh_json *j);

/*
 * 0 when candidate_tree, the next tree of domain/branch, meets the
 * policies; only the domain's default branch is held to them.
 * MESH_EINVAL otherwise, naming the policy, the file and the field or
 * property ("policy require card-field description: sales/main/
 * .mesh/product.yaml has no description"); details (may be NULL) gets
 * "gate": "policy" and "policy".
 */
int mesh_policy_gate(mesh_store *store, const char *domain, const char *branch,
		     const mesh_oid *candidate_tree, mesh_json *details);

#endif
