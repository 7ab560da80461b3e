/*
 * treecache.h - a bounded, thread-safe cache of parsed trees.
 *
 * Path lookups load the same few directory trees over and over; parsing
 * and verifying them each time would dominate a `find`.  Entries are
 * reference-counted so a tree in use survives its eviction.
 */
#ifndef MESH_TREECACHE_H
#define MESH_TREECACHE_H

#include <stddef.h>
#include "odb.h"
#include "tree.h"

typedef struct mesh_treecache mesh_treecache;

int mesh_treecache_new(mesh_treecache **out, mesh_odb *odb, size_t max_trees);
void mesh_treecache_free(mesh_treecache *cache);

/* A reference to a cached tree, valid until released. */
typedef struct mesh_tree_ref mesh_tree_ref;
const mesh_tree *mesh_tree_ref_tree(const mesh_tree_ref *ref);

/* Loads (or finds) the tree; release it with mesh_treecache_release. */
int mesh_treecache_get(mesh_treecache *cache, const mesh_oid *id,
		       mesh_tree_ref **out);
void mesh_treecache_release(mesh_treecache *cache, mesh_tree_ref *ref);

#endif
