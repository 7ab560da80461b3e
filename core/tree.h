/*
 * tree.h - trees: sorted directory listings, content-addressed.
 *
 * Serialized tree: "MTREE2\n", uint32 entry count, then per entry:
 *   uint8 kind, uint32 mode, uint32 uid, uint32 gid, uint64 rdev,
 *   uint64 size, int64 mtime_ns, 32-byte id, uint16 name length,
 *   name bytes (no NUL)
 * all little-endian, entries sorted by name (bytewise).
 * A file's or symlink's id is its file map (a symlink's content is its
 * target); a directory's id is its tree; FIFOs, sockets and device nodes
 * have no content (id all zero) and only devices a non-zero rdev.
 *
 * Trees written before ownership was versioned are "MTREE1\n": the same
 * without uid, gid and rdev, and only files, directories and symlinks.
 * They stay readable as they are (their ids must not change); their
 * entries decode with uid and gid MESH_OWNER_LEGACY, which the view shows
 * as the store's legacy owner (mesh_store_legacy_owner).  An MTREE2 entry
 * may carry MESH_OWNER_LEGACY too: one copied unchanged from an MTREE1
 * tree into a rewritten parent.
 */
#ifndef MESH_TREE_H
#define MESH_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "odb.h"

typedef enum mesh_entry_kind {
	MESH_KIND_NONE = 0,
	MESH_KIND_FILE = 1,
	MESH_KIND_DIR = 2,
	MESH_KIND_SYMLINK = 3,
	MESH_KIND_FIFO = 4,
	MESH_KIND_SOCKET = 5,
	MESH_KIND_CHRDEV = 6,
	MESH_KIND_BLKDEV = 7,
} mesh_entry_kind;

/* The uid and gid of an entry of a tree written before ownership was
 * versioned ((uid_t)-1 is no user's: chown(2) reads it as "unchanged"). */
#define MESH_OWNER_LEGACY UINT32_MAX

/* Files and symlinks have a file map; directories a tree; the special
 * kinds (FIFO, socket, devices) nothing. */
bool mesh_kind_has_content(mesh_entry_kind kind);
bool mesh_kind_is_special(mesh_entry_kind kind);

typedef struct mesh_tree_entry {
	char *name;
	mesh_entry_kind kind;
	uint32_t mode;        /* permission bits only (07777) */
	uint32_t uid, gid;    /* MESH_OWNER_LEGACY: see above */
	uint64_t rdev;        /* device number of a CHRDEV/BLKDEV, else 0 */
	uint64_t size;        /* file size; target length for a symlink; 0 dir */
	int64_t mtime_ns;
	mesh_oid id;
} mesh_tree_entry;

typedef struct mesh_tree {
	size_t count;
	mesh_tree_entry *entries;   /* sorted by name */
} mesh_tree;

/* Sorts a copy of entries and stores the tree.  MESH_EINVAL on an empty,
 * "." or "..", slash-containing or duplicate name. */
int mesh_tree_write(mesh_odb *odb, const mesh_tree_entry *entries,
		    size_t count, mesh_oid *out);

int mesh_tree_load(mesh_odb *odb, const mesh_oid *id, mesh_tree **out);
/* Decodes a tree's payload (what mesh_tree_load reads, already verified
 * against id; id only names the tree in errors).  MESH_EIO when the bytes
 * are not a well-formed tree.  Free with mesh_tree_free. */
int mesh_tree_parse(const mesh_oid *id, const void *data, size_t len,
		    mesh_tree **out);
void mesh_tree_free(mesh_tree *tree);

/* Binary search; NULL when absent. */
const mesh_tree_entry *mesh_tree_find(const mesh_tree *tree, const char *name);

/* Copies the entry at a '/'-separated path below root (no leading slash;
 * "" is the root itself, reported as a DIR with id root).  out->name is
 * NULL.  MESH_ENOENT / MESH_ENOTDIR as a shell would say. */
int mesh_tree_lookup_path(mesh_odb *odb, const mesh_oid *root,
			  const char *path, mesh_tree_entry *out);

/* The id of the empty tree (stored on first use). */
int mesh_tree_empty(mesh_odb *odb, mesh_oid *out);

#endif
