/*
 * store.h - a meshfs store: the directory that holds the metadata
 * database, the object store and scratch space, opened as one handle.
 *
 *   STORE/db/       RocksDB: domains, refs, staging
 *   STORE/objects/  content-addressed objects (loose backend)
 *   STORE/tmp/      files being written, temporary objects
 */
#ifndef MESH_STORE_H
#define MESH_STORE_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include "db.h"
#include "odb.h"
#include "refs.h"
#include "file.h"
#include "log.h"

/* Who asks: every operation that changes or reads data carries the
 * caller, so access rules and the audit log can be added in core/. */
typedef struct mesh_caller {
	uid_t uid;
	gid_t gid;
	pid_t pid;
} mesh_caller;

typedef struct mesh_store mesh_store;

/* $MESHFS_STORE, else $HOME/.local/share/meshfs.  *out is malloc'd. */
int mesh_store_default_path(char **out);

/* Creates the store's directories and database; harmless on an
 * existing store. */
int mesh_store_init(const char *path);

/* Opens an initialized store.  log is copied.  MESH_ENOENT when path is
 * not a store (with a hint to run `meshfs init`); MESH_EBUSY when another
 * process has it open. */
int mesh_store_open(mesh_store **out, const char *path, const mesh_log *log);
void mesh_store_close(mesh_store *store);

const char *mesh_store_path(const mesh_store *store);
const char *mesh_store_tmp_dir(const mesh_store *store);
mesh_db *mesh_store_db(mesh_store *store);
mesh_odb *mesh_store_odb(mesh_store *store);
mesh_refdb *mesh_store_refs(mesh_store *store);
mesh_chunk_cache *mesh_store_cache(mesh_store *store);
/* Parsed trees, shared by every view of the store. */
struct mesh_treecache *mesh_store_trees(mesh_store *store);
const mesh_log *mesh_store_log(const mesh_store *store);
/* When this handle opened the store, on the clock file timestamps use:
 * a file in tmp/ changed before it belongs to a process that is gone
 * (the store is open in one process at a time). */
struct timespec mesh_store_opened(const mesh_store *store);

/*
 * Staging and head changes of one branch are serialized: a commit must
 * see a stable set of staged entries and a stable head.  The lock is per
 * (domain, branch) and held only around metadata updates, never while
 * chunking or hashing file content.
 */
void mesh_store_branch_lock(mesh_store *store, const char *domain,
			    const char *branch);
void mesh_store_branch_unlock(mesh_store *store, const char *domain,
			      const char *branch);

#endif
