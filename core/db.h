/*
 * db.h - the metadata database: a thin wrapper over RocksDB's C API.
 *
 * One keyspace; each module owns a key prefix:
 *   "d/"  domains (domain.h)      "r/"  refs (refs.h)
 *   "s/"  staging (stage.h)       "m/"  store metadata
 *   "a/"  access rules (access.h)      "l/"  the audit log (audit.h)
 *   "g/"  lineage (lineage.h)     "n/"  catalog comments (catalog.h)
 * Changes that must land together go through one mesh_db_batch, written
 * with sync=true when they must survive a crash.
 */
#ifndef MESH_DB_H
#define MESH_DB_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct mesh_db mesh_db;
typedef struct mesh_db_batch mesh_db_batch;
typedef struct mesh_db_iter mesh_db_iter;

/* Opens (create_if_missing) the RocksDB at path.  MESH_EBUSY when another
 * process holds it.  A write-ahead log with a damaged record (not merely
 * cut short at its end, as a crash leaves it) is MESH_EIO with a message
 * naming it: replaying around the damage would lose that record and
 * every change after it. */
int mesh_db_open(mesh_db **out, const char *path);
void mesh_db_close(mesh_db *db);

/* Whether the database at path fails to open because of a damaged
 * write-ahead log (the MESH_EIO of mesh_db_open above); changes nothing. */
bool mesh_db_wal_damaged(const char *path);

/* Opens the database at path accepting the loss mesh_db_open refuses:
 * the log is replayed up to its first damaged record, the rest dropped,
 * and the result written out, so the next mesh_db_open succeeds.  Only
 * for a user who chose to (meshfs recover). */
int mesh_db_recover_wal(const char *path);

/* Writes that fail with MESH_ENOSPC call hook(ctx) after setting the
 * error, with no lock of the database held.  Set once, before the
 * database is shared between threads. */
void mesh_db_set_nospace_hook(mesh_db *db, void (*hook)(void *ctx), void *ctx);

/* *val is malloc'd (caller frees).  MESH_ENOENT when the key is absent. */
int mesh_db_get(mesh_db *db, const void *key, size_t klen,
		void **val, size_t *vlen);
/* For lookups that expect to miss: 1 and *val (malloc'd, caller frees)
 * when found, 0 when the key is absent (no error set), <0 on error. */
int mesh_db_find(mesh_db *db, const void *key, size_t klen,
		 void **val, size_t *vlen);
/* 1 when the key is present, 0 when absent, <0 on error; no copy made. */
int mesh_db_has(mesh_db *db, const void *key, size_t klen);

/* Grows with every write: two equal readings mean nothing was written in
 * between, so what was read after the first still holds. */
uint64_t mesh_db_sequence(mesh_db *db);

/* Writes fail with MESH_ENOSPC when the filesystem is full; the
 * database stays open, and once space is free RocksDB resumes by itself
 * within seconds (its background error recovery). */
int mesh_db_put(mesh_db *db, const void *key, size_t klen,
		const void *val, size_t vlen, bool sync);
int mesh_db_delete(mesh_db *db, const void *key, size_t klen, bool sync);

/* Compacts the keys in [start, end) now, so that the space of what was
 * deleted there is given back (a deleted value only goes at compaction).
 * Other reads and writes go on meanwhile. */
void mesh_db_compact_range(mesh_db *db, const void *start, size_t slen,
			   const void *end, size_t elen);

int mesh_db_batch_new(mesh_db_batch **out);
void mesh_db_batch_put(mesh_db_batch *b, const void *key, size_t klen,
		       const void *val, size_t vlen);
void mesh_db_batch_delete(mesh_db_batch *b, const void *key, size_t klen);
size_t mesh_db_batch_count(const mesh_db_batch *b);
/* Applies every change of the batch atomically; sync makes it durable
 * (WAL fsync'd) before returning. */
int mesh_db_batch_write(mesh_db *db, mesh_db_batch *b, bool sync);
void mesh_db_batch_free(mesh_db_batch *b);

/* Iterates keys starting with prefix, in key order. */
int mesh_db_iter_new(mesh_db_iter **out, mesh_db *db,
		     const void *prefix, size_t plen);
/* 1 and the current pair (valid until the next call), 0 at the end,
 * <0 on error.  Pointers stay owned by the iterator. */
int mesh_db_iter_next(mesh_db_iter *it, const void **key, size_t *klen,
		      const void **val, size_t *vlen);
/* Moves to the first key >= key (still within the prefix): a range scan
 * starts there.  Call before the first mesh_db_iter_next or after any. */
int mesh_db_iter_seek(mesh_db_iter *it, const void *key, size_t klen);
void mesh_db_iter_free(mesh_db_iter *it);

#endif
