/*
 * odb.h - the content-addressed object store.
 *
 * Objects (chunks, file maps, trees, commits) are stored once for the
 * whole mesh under their SHA-256 id.  The store sits behind a small
 * backend interface, as libgit2's odb does, so that an S3 backend can
 * replace the local "loose" one: a backend only moves opaque stored
 * bytes; compression, hashing and verification happen here.
 *
 * Stored form of an object (what a backend keeps):
 *   byte 0      'M' (format magic)
 *   byte 1      object type (enum mesh_otype)
 *   byte 2      encoding: 0 raw, 1 zstd
 *   bytes 3..10 uncompressed length, little-endian uint64
 *   rest        payload
 * A payload is zstd only when that makes it smaller.
 */
#ifndef MESH_ODB_H
#define MESH_ODB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "oid.h"
#include "log.h"

typedef enum mesh_otype {
	MESH_OBJ_ANY = 0,     /* only as the expected type of a read */
	MESH_OBJ_CHUNK = 1,   /* a piece of file content */
	MESH_OBJ_FILE = 2,    /* a file map: size and list of chunks */
	MESH_OBJ_TREE = 3,
	MESH_OBJ_COMMIT = 4,
} mesh_otype;

const char *mesh_otype_name(mesh_otype type);

struct mesh_db_batch;
typedef struct mesh_odb_backend mesh_odb_backend;
struct mesh_odb_backend {
	/* Reads the stored bytes of oid into *out (malloc'd, caller frees).
	 * MESH_ENOENT when absent. */
	int (*read)(mesh_odb_backend *b, const mesh_oid *oid,
		    void **out, size_t *out_len);
	/* Stores bytes under oid atomically (readers never see a partial
	 * object); storing an existing oid is a no-op returning 0. */
	int (*write)(mesh_odb_backend *b, const mesh_oid *oid,
		     const void *data, size_t len);
	/* 1 when present, 0 when absent, <0 on error. */
	int (*exists)(mesh_odb_backend *b, const mesh_oid *oid);
	/* Makes every object written so far durable. */
	int (*sync)(mesh_odb_backend *b);
	void (*free)(mesh_odb_backend *b);
	/* Optional (NULL: never).  When this backend keeps these bytes in
	 * the metadata database: 2 if check and oid is stored there already,
	 * else adds their storing to batch and returns 1 (the object exists
	 * once batch is written).  0 when it keeps them elsewhere: the caller
	 * checks exists() and writes them with write(). */
	int (*write_batched)(mesh_odb_backend *b, struct mesh_db_batch *batch,
			     const mesh_oid *oid, const void *data, size_t len,
			     bool check);
};

/* The local backend: objects/<2 hex>/<62 hex>, written via tmp_dir and
 * rename(2).  Both directories must exist.  Freed by mesh_odb_close()
 * once given to mesh_odb_open(), else by b->free(b). */
int mesh_odb_backend_loose(mesh_odb_backend **out,
			   const char *objects_dir, const char *tmp_dir);

/*
 * A backend keeping objects as values in the metadata database, under
 * "o/" + raw id.  Their durability rides on the next synced batch (its
 * log sync covers every earlier write), so its sync() does nothing.
 */
struct mesh_db;
int mesh_odb_backend_db(mesh_odb_backend **out, struct mesh_db *db);

/*
 * Routes objects by stored size: below threshold bytes to small (trees,
 * commits, file maps, small files: no file and no fsync of their own),
 * the rest to large.  Takes ownership of both.
 */
int mesh_odb_backend_tiered(mesh_odb_backend **out, mesh_odb_backend *small,
			    mesh_odb_backend *large, size_t threshold);

typedef struct mesh_odb mesh_odb;

typedef struct mesh_odb_stats {
	uint64_t reads;        /* objects read from the backend */
	uint64_t writes;       /* objects newly stored */
	uint64_t write_dups;   /* writes of objects already present */
} mesh_odb_stats;

/* Takes ownership of backend.  log may be NULL; it must outlive the odb. */
int mesh_odb_open(mesh_odb **out, mesh_odb_backend *backend,
		  const mesh_log *log);
void mesh_odb_close(mesh_odb *odb);

/* Writes of objects that fail with MESH_ENOSPC call hook(ctx), with no
 * lock of the odb held.  Set once, before the odb is shared. */
void mesh_odb_set_nospace_hook(mesh_odb *odb, void (*hook)(void *ctx), void *ctx);

/* Hashes, compresses when it pays, and stores data; *out gets the id. */
int mesh_odb_write(mesh_odb *odb, mesh_otype type,
		   const void *data, size_t len, mesh_oid *out);

/*
 * The same, but an object that the backend keeps in the metadata
 * database is only added to batch: it is stored by the same atomic write
 * as the rest of batch (the staging entry naming it), which saves a
 * database write per object.  Others are written at once, as by
 * mesh_odb_write.  Until batch is written the object does not exist.
 */
int mesh_odb_write_batched(mesh_odb *odb, struct mesh_db_batch *batch,
			   mesh_otype type, const void *data, size_t len,
			   mesh_oid *out);
/* The same for an object the caller knows is not stored, such as a file
 * map naming a chunk that it has just added to batch: nothing is read to
 * check. */
int mesh_odb_write_new_batched(mesh_odb *odb, struct mesh_db_batch *batch,
			       mesh_otype type, const void *data, size_t len,
			       mesh_oid *out);

/* Reads, decompresses and verifies oid.  MESH_ENOENT when absent;
 * MESH_EIO, with a log line naming the object, when the bytes do not
 * hash to oid or the type differs from expected (unless MESH_OBJ_ANY).
 * *out is malloc'd (caller frees); *out_type may be NULL. */
int mesh_odb_read(mesh_odb *odb, const mesh_oid *oid, mesh_otype expected,
		  void **out, size_t *out_len, mesh_otype *out_type);

/* The same without moving the content: out->data points into out->base,
 * which mesh_odb_buf_free releases.  For bulk reads (file chunks). */
typedef struct mesh_odb_buf {
	void *base;
	const void *data;
	size_t len;
} mesh_odb_buf;
int mesh_odb_read_buf(mesh_odb *odb, const mesh_oid *oid, mesh_otype expected,
		      mesh_odb_buf *out, mesh_otype *out_type);
void mesh_odb_buf_free(mesh_odb_buf *buf);

/* 1 present, 0 absent, <0 error. */
int mesh_odb_exists(mesh_odb *odb, const mesh_oid *oid);

int mesh_odb_sync(mesh_odb *odb);

/* Counters since open; thread-safe snapshot. */
void mesh_odb_stats_get(mesh_odb *odb, mesh_odb_stats *out);

#endif
