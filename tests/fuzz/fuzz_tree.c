/*
 * fuzz_tree.c - the tree decoder (core/tree.c).
 *
 * Properties: a failure is EIO; a decoded tree is strictly sorted, every
 * entry is found by name, and writing it again gives back exactly the
 * bytes read (the format is canonical, so ids stay stable).
 */
#include "fuzz_util.h"
#include "error.h"
#include "tree.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mesh_odb *odb = fuzz_mem_odb();
	mesh_oid id = { { 0 } }, written;
	mesh_tree *tree;
	void *again;
	size_t len;
	int error = mesh_tree_parse(&id, data, size, &tree);

	if (error < 0) {
		FUZZ_ASSERT(error == MESH_EIO, "%d: %s", error, mesh_error_message());
		return 0;
	}
	for (size_t i = 0; i < tree->count; i++) {
		FUZZ_ASSERT(i == 0 || strcmp(tree->entries[i - 1].name, tree->entries[i].name) < 0,
			    "entry %zu out of order", i);
		FUZZ_ASSERT(mesh_tree_find(tree, tree->entries[i].name) == &tree->entries[i],
			    "entry %zu not found by name", i);
	}
	error = mesh_tree_write(odb, tree->entries, tree->count, &written);
	FUZZ_ASSERT(error == 0, "a decoded tree does not write: %s", mesh_error_message());
	FUZZ_ASSERT(mesh_odb_read(odb, &written, MESH_OBJ_TREE, &again, &len, NULL) == 0,
		    "%s", mesh_error_message());
	FUZZ_ASSERT(len == size && memcmp(again, data, size) == 0,
		    "tree of %zu bytes re-encodes to %zu different bytes", size, len);
	free(again);
	mesh_tree_free(tree);
	return 0;
}
