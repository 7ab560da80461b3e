/*
 * refs.h - the ref store: branch heads and tags of each domain.
 *
 * A ref name is "heads/<branch>" or "tags/<tag>".  The store sits behind
 * a backend interface so that a PostgreSQL one (compare-and-swap of
 * heads) can replace the RocksDB one.  An update may ride in a caller's
 * mesh_db_batch, so that a commit moves the head and clears staging in
 * one atomic write.
 */
#ifndef MESH_REFS_H
#define MESH_REFS_H

#include "oid.h"
#include "db.h"

typedef int (*mesh_ref_cb)(void *ctx, const char *name, const mesh_oid *oid);
typedef int (*mesh_ref_all_cb)(void *ctx, const char *domain, const char *name,
			       const mesh_oid *oid);

typedef struct mesh_refdb_backend mesh_refdb_backend;
struct mesh_refdb_backend {
	int (*get)(mesh_refdb_backend *b, const char *domain,
		   const char *name, mesh_oid *out);
	/* Sets (oid != NULL) or deletes (oid == NULL) a ref.  With batch,
	 * the change is added to it and applied when the caller writes it;
	 * without, it is written at once, synced. */
	int (*set)(mesh_refdb_backend *b, const char *domain,
		   const char *name, const mesh_oid *oid, mesh_db_batch *batch);
	/* Calls cb for refs whose name starts with prefix, in name order;
	 * a non-zero return from cb stops and is returned. */
	int (*list)(mesh_refdb_backend *b, const char *domain,
		    const char *prefix, mesh_ref_cb cb, void *ctx);
	/* Calls cb for every ref of every domain, in (domain, name) order,
	 * in one pass: the catalog compares every domain's head with what
	 * it indexed (a point read per domain cost five times more). */
	int (*list_all)(mesh_refdb_backend *b, mesh_ref_all_cb cb, void *ctx);
	void (*free)(mesh_refdb_backend *b);
};

/* The RocksDB backend; db must outlive it.  Keys: "r/<domain>\0<name>". */
int mesh_refdb_backend_rocksdb(mesh_refdb_backend **out, mesh_db *db);

typedef struct mesh_refdb mesh_refdb;
/* Takes ownership of backend. */
int mesh_refdb_open(mesh_refdb **out, mesh_refdb_backend *backend);
void mesh_refdb_close(mesh_refdb *refs);

/* MESH_ENOENT, naming domain and ref, when absent. */
int mesh_ref_get(mesh_refdb *refs, const char *domain, const char *name,
		 mesh_oid *out);
int mesh_ref_set(mesh_refdb *refs, const char *domain, const char *name,
		 const mesh_oid *oid, mesh_db_batch *batch);
int mesh_ref_delete(mesh_refdb *refs, const char *domain, const char *name,
		    mesh_db_batch *batch);
int mesh_ref_list(mesh_refdb *refs, const char *domain, const char *prefix,
		  mesh_ref_cb cb, void *ctx);
/* Every ref of the store, by domain then name. */
int mesh_ref_list_all(mesh_refdb *refs, mesh_ref_all_cb cb, void *ctx);

/* Branch and tag names: [A-Za-z0-9_][A-Za-z0-9._-]*, at most 255 bytes,
 * not ending in ".lock", no "..".  MESH_EINVAL with a message that names
 * the allowed characters. */
int mesh_ref_name_check(const char *what, const char *name);

/* A name of at least this many hex digits and nothing else reads as a
 * commit id or its prefix (history.h's MESH_ABBREV_MIN). */
#define MESH_REF_HEX_MIN 8

/* The check for a new branch or tag: mesh_ref_name_check's rules, and not
 * MESH_REF_HEX_MIN or more hex digits only (it would shadow commit ids). */
int mesh_ref_new_name_check(const char *what, const char *name);

#endif
