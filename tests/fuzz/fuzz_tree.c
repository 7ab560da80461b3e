/*
 * fuzz_tree.c - the tree decoder (core/tree.c).
 *
 * Properties: a failure is EIO; a decoded tree is strictly sorted, every
 * entry is found by name, and writing it again gives back exactly the
 * bytes read (the format is canonical, so ids stay stable).  An MTREE1
 * tree (written before ownership was versioned) is written as MTREE2: its
 * entries decode the same from it, and that encoding is canonical.
 */
#include "fuzz_util.h"
#include "error.h"
#include "tree.h"

#include <stdlib.h>
#include <string.h>

static bool same_entry(const mesh_tree_entry *a, const mesh_tree_entry *b)
{
	return strcmp(a->name, b->name) == 0 && a->kind == b->kind && a->mode == b->mode &&
	       a->size == b->size && a->mtime_ns == b->mtime_ns && a->uid == b->uid &&
	       a->gid == b->gid && a->rdev == b->rdev && mesh_oid_cmp(&a->id, &b->id) == 0;
}

/* old: an MTREE1 tree as decoded; bytes: what writing it stored. */
static void check_upgraded(mesh_odb *odb, const mesh_tree *old, const void *bytes, size_t len)
{
	mesh_oid id = { { 0 } }, rewritten;
	mesh_tree *upgraded;
	void *again;
	size_t again_len;

	FUZZ_ASSERT(len >= 7 && memcmp(bytes, "MTREE2\n", 7) == 0, "an MTREE1 tree is not written as MTREE2");
	FUZZ_ASSERT(mesh_tree_parse(&id, bytes, len, &upgraded) == 0, "%s", mesh_error_message());
	FUZZ_ASSERT(upgraded->count == old->count, "entries lost in the upgrade");
	for (size_t i = 0; i < old->count; i++)
		FUZZ_ASSERT(same_entry(&old->entries[i], &upgraded->entries[i]),
			    "entry %zu changed in the upgrade", i);
	FUZZ_ASSERT(mesh_tree_write(odb, upgraded->entries, upgraded->count, &rewritten) == 0,
		    "%s", mesh_error_message());
	FUZZ_ASSERT(mesh_odb_read(odb, &rewritten, MESH_OBJ_TREE, &again, &again_len, NULL) == 0,
		    "%s", mesh_error_message());
	FUZZ_ASSERT(again_len == len && memcmp(again, bytes, len) == 0,
		    "an upgraded tree re-encodes to other bytes");
	free(again);
	mesh_tree_free(upgraded);
}

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
	if (size >= 7 && memcmp(data, "MTREE1\n", 7) == 0)
		check_upgraded(odb, tree, again, len);
	else
		FUZZ_ASSERT(len == size && memcmp(again, data, size) == 0,
			    "tree of %zu bytes re-encodes to %zu different bytes", size, len);
	free(again);
	mesh_tree_free(tree);
	return 0;
}
