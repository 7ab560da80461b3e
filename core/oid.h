/*
 * oid.h - object ids: SHA-256 (OpenSSL EVP) over "<type> <len>\0" + data,
 * as git hashes its objects, so two objects of different types never
 * share an id.
 */
#ifndef MESH_OID_H
#define MESH_OID_H

#include <stddef.h>
#include <stdbool.h>

#define MESH_OID_RAWSZ 32
#define MESH_OID_HEXSZ 64

typedef struct mesh_oid {
	unsigned char id[MESH_OID_RAWSZ];
} mesh_oid;

/* Hashes an object of type_name ("chunk", "file", "tree", "commit"). */
int mesh_oid_hash(mesh_oid *out, const char *type_name,
		  const void *data, size_t len);

/* Writes 64 lowercase hex digits and a NUL into out. */
void mesh_oid_fmt(char out[MESH_OID_HEXSZ + 1], const mesh_oid *oid);

/* Parses exactly 64 hex digits; MESH_EINVAL otherwise. */
int mesh_oid_parse(mesh_oid *out, const char *hex);

int mesh_oid_cmp(const mesh_oid *a, const mesh_oid *b);
bool mesh_oid_is_zero(const mesh_oid *oid);

#endif
