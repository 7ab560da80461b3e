#include "gate.h"
#include "contract.h"
#include "error.h"
#include "policy.h"
#include "product.h"
#include "tree.h"

#include <stdio.h>
#include <string.h>

/* The product card of the candidate, when it has one, parses and holds. */
static int check_product_card(mesh_store *store, const char *domain, const char *branch,
			      const mesh_oid *head_tree, const mesh_oid *candidate_tree,
			      mesh_json *details)
{
	mesh_product *p = NULL;
	char file[600];
	int error;

	/* Read even when the card did not change: what it says of the tree
	 * (its output ports) may have. */
	(void)head_tree;
	error = mesh_product_load(store, domain, branch, candidate_tree, &p);
	if (error == 0 && p) {
		snprintf(file, sizeof(file), "%s/%s/%s", domain, branch, MESH_PRODUCT_PATH);
		error = mesh_product_check_tree(store, file, p, candidate_tree);
	}
	mesh_product_free(p);
	if (error < 0 && details) {
		mesh_json_field_string(details, "gate", "product card");
		mesh_json_field_string(details, "file", MESH_PRODUCT_PATH);
	}
	return error;
}

int mesh_gate_commit(mesh_store *store, const mesh_caller *caller, const char *domain,
		     const char *branch, const mesh_oid *head_tree,
		     const mesh_oid *candidate_tree, mesh_json *details)
{
	int error;

	(void)caller;
	if ((error = check_product_card(store, domain, branch, head_tree, candidate_tree,
					details)) < 0)
		return error;
	if ((error = mesh_policy_gate(store, domain, branch, candidate_tree, details)) < 0)
		return error;
	/* The changed datasets, judged by the contracts as they stand on the
	 * head: never by the candidate's own edit of them.  A first commit
	 * (no head) has no contracts to judge by. */
	if (head_tree &&
	    (error = mesh_contract_gate(store, domain, head_tree, candidate_tree, details)) < 0)
		return error;
	return 0;
}
