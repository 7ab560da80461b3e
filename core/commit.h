/*
 * commit.h - commits: a root tree, parents, author, time, message and
 * key=value metadata; content-addressed and immutable.
 *
 * Serialized commit (text, git-like):
 *   tree <hex>\n
 *   parent <hex>\n            (zero or more)
 *   author <name> <uid>\n
 *   time <unix seconds>\n
 *   meta <key>=<value>\n      (zero or more; key and value without \n)
 *   \n
 *   <message>
 */
#ifndef MESH_COMMIT_H
#define MESH_COMMIT_H

#include <stddef.h>
#include <stdint.h>
#include "odb.h"

typedef struct mesh_meta {
	char *key;
	char *value;
} mesh_meta;

typedef struct mesh_commit {
	mesh_oid tree;
	size_t parent_count;
	mesh_oid *parents;
	char *author;
	uint32_t uid;
	int64_t time;         /* seconds since the epoch */
	char *message;
	size_t meta_count;
	mesh_meta *meta;
} mesh_commit;

/* MESH_EINVAL when the author, a key or a value holds a newline, a key
 * holds '=' or is empty. */
int mesh_commit_write(mesh_odb *odb, const mesh_commit *commit,
		      mesh_oid *out);

int mesh_commit_load(mesh_odb *odb, const mesh_oid *id, mesh_commit **out);
/* Decodes a commit's payload (id only names it in errors): MESH_EIO when
 * the bytes are not a commit in its one accepted spelling.  Free with
 * mesh_commit_free. */
int mesh_commit_parse(const mesh_oid *id, const void *data, size_t len,
		      mesh_commit **out);
void mesh_commit_free(mesh_commit *commit);

#endif
