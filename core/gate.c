#include "gate.h"
#include "error.h"
#include "product.h"
#include "tree.h"

#include <string.h>

/* Whether path holds the same entry in both trees: a card that did not
 * change passed the gate when it came (or predates it) and is not read
 * again on every commit. */
static bool unchanged(mesh_store *store, const mesh_oid *head_tree,
		      const mesh_oid *candidate_tree, const char *path)
{
	mesh_tree_entry a, b;
	bool same;

	if (!head_tree)
		return false;
	if (mesh_tree_lookup_path(mesh_store_odb(store), head_tree, path, &a) < 0) {
		mesh_error_clear();
		memset(&a, 0, sizeof(a));
	}
	if (mesh_tree_lookup_path(mesh_store_odb(store), candidate_tree, path, &b) < 0) {
		mesh_error_clear();
		memset(&b, 0, sizeof(b));
	}
	same = a.kind == b.kind && mesh_oid_cmp(&a.id, &b.id) == 0;
	return same;
}

/* The product card of the candidate, when it has one, parses and holds. */
static int check_product_card(mesh_store *store, const char *domain, const char *branch,
			      const mesh_oid *head_tree, const mesh_oid *candidate_tree,
			      mesh_json *details)
{
	mesh_product *p = NULL;
	int error;

	if (unchanged(store, head_tree, candidate_tree, MESH_PRODUCT_PATH))
		return 0;
	error = mesh_product_load(store, domain, branch, candidate_tree, &p);
	mesh_product_free(p);
	if (error == MESH_ENOENT && !mesh_error_message()[0])
		return 0;
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
	return 0;
}
