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
#include "oidset.h"

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
	/* Optional, for the garbage collector (NULL: nothing is ever
	 * removed).  list() calls cb for every stored object with its
	 * stored size and its file's ctime in nanoseconds (-1 when it has
	 * none); a non-zero return stops and is returned; remove() deletes one, 0 when it
	 * was already gone. */
	int (*list)(mesh_odb_backend *b, int (*cb)(void *ctx, const mesh_oid *oid,
						   uint64_t stored_bytes, int64_t ctime_ns),
		    void *ctx);
	int (*remove)(mesh_odb_backend *b, const mesh_oid *oid);
	/* Optional: the first up to len stored bytes into buf (*got of them),
	 * without reading the rest; MESH_ENOENT when absent. */
	int (*read_prefix)(mesh_odb_backend *b, const mesh_oid *oid, void *buf,
			   size_t len, size_t *got);
	/* Optional (NULL: cannot).  For fsck --repair: when this backend
	 * keeps a copy of oid and bad(ctx, bytes) says it is damaged, moves
	 * it into a new file in dir and removes it from the backend.  Returns
	 * the number of copies moved (0 none, or a good one), <0 on error;
	 * *where (may be NULL) gets the path of the last file made. */
	int (*quarantine)(mesh_odb_backend *b, const mesh_oid *oid, const char *dir,
			  bool (*bad)(void *ctx, const void *data, size_t len),
			  void *ctx, char where[4096]);
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

/* Reads, decompresses and verifies oid.  MESH_EIO, with a log line
 * naming the object, when it is missing (what is read by id was named by
 * something: its absence is damage; ask mesh_odb_exists whether an
 * object is stored), when the bytes do not hash to oid or when the type
 * differs from expected (unless MESH_OBJ_ANY).
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

/* The type in oid's stored header, reading no more than the header when
 * the backend can (not verified against the id: for choosing how to walk
 * an object of unknown type).  MESH_ENOENT (no error text) when absent,
 * MESH_EIO for a bad header. */
int mesh_odb_type(mesh_odb *odb, const mesh_oid *oid, mesh_otype *out);

/* 1 present, 0 absent, <0 error. */
int mesh_odb_exists(mesh_odb *odb, const mesh_oid *oid);

int mesh_odb_sync(mesh_odb *odb);

/*
 * Moves every stored copy of oid whose bytes do not verify (bad header,
 * payload that does not decompress, content that does not hash to oid)
 * into dir (which must exist), as <hex>.<backend>[.N], and removes it
 * from the store; a copy that verifies stays, so an object kept twice
 * can come out readable.  *moved gets the number of copies moved and
 * where (may be NULL) the last file made.  Each move is logged.
 */
int mesh_odb_quarantine(mesh_odb *odb, const mesh_oid *oid, const char *dir,
			size_t *moved, char where[4096]);

/* Counters since open; thread-safe snapshot. */
void mesh_odb_stats_get(mesh_odb *odb, mesh_odb_stats *out);

/*
 * ---- what the garbage collector (gc.h) needs from the store ----------
 *
 * A collection marks what is reachable, then removes the rest.  While
 * it runs, objects are written and referenced concurrently, so the odb
 * keeps, under its gc lock:
 *  - touched: every id written, found already stored, pinned or read by
 *    another thread since the collection began.  The collector walks
 *    them as extra roots before it removes anything, and never removes
 *    one.
 *  - pins: ids that in-memory state refers to without anything in the
 *    database doing so yet (the chunks of a file being written, the map
 *    of a file open for reading).  Counted; kept whether or not a
 *    collection runs.
 *  - sessions: an operation that writes or reads objects and then
 *    refers to them in the database (staging a closed file, commit,
 *    merge, cp) runs inside a session; a collection begins only between
 *    sessions, so none straddles its start.
 * Once sweeping, a read by another thread of an object that is neither
 * marked, touched nor pinned fails with MESH_ENOENT as if it were gone
 * already: nothing can pick up a reference to what is being removed.
 */

/* Sessions may nest only as readers do (a session inside a session on
 * the same thread is fine); never call mesh_odb_gc_begin inside one. */
void mesh_odb_session_begin(mesh_odb *odb);
void mesh_odb_session_end(mesh_odb *odb);

/* The caller is about to refer to oid without reading it (a tree found
 * in a cache, a tree entry's id copied): a running collection keeps it
 * (0), or, once sweeping, MESH_ENOENT when it is being removed. */
int mesh_odb_touch(mesh_odb *odb, const mesh_oid *oid);

/* Pins count: every pin needs one unpin. */
int mesh_odb_pin(mesh_odb *odb, const mesh_oid *oid);
void mesh_odb_unpin(mesh_odb *odb, const mesh_oid *oid);
/* Writes as mesh_odb_write does, pinning the id before the object is
 * stored (so no collection can miss it in between). */
int mesh_odb_write_pinned(mesh_odb *odb, mesh_otype type,
			  const void *data, size_t len, mesh_oid *out);

/* Whether the collector has marked id: called under the gc lock, from
 * other threads too once sweeping; must not call into the odb. */
typedef bool (*mesh_odb_marked_fn)(void *ctx, const mesh_oid *id);

/* Begins a collection run by the calling thread: waits for the running
 * sessions to end.  MESH_EBUSY when one runs already. */
int mesh_odb_gc_begin(mesh_odb *odb);
/* Calls cb, outside the lock, for each touched or pinned id that marked
 * does not know; *count gets how many.  MESH_ENOMEM when noting an id
 * failed since the collection began (then nothing may be removed). */
int mesh_odb_gc_unmarked(mesh_odb *odb, mesh_odb_marked_fn marked, void *mctx,
			 int (*cb)(void *ctx, const mesh_oid *id), void *ctx,
			 size_t *count);
/* Starts sweeping if every touched and pinned id is marked: 1 when it
 * did, 0 when new ones came meanwhile (walk them and try again).  With
 * enforce false (a dry run) reads are not refused. */
int mesh_odb_gc_sweep_begin(mesh_odb *odb, mesh_odb_marked_fn marked, void *mctx,
			    bool enforce);
/* Calls cb for every stored object in every backend. */
int mesh_odb_gc_list(mesh_odb *odb, int (*cb)(void *ctx, const mesh_oid *oid,
					     uint64_t stored_bytes, int64_t ctime_ns),
		     void *ctx);
/* Removes oid unless touched or pinned: 1 removed (or, with dry_run,
 * would be), 0 kept. */
int mesh_odb_gc_remove(mesh_odb *odb, const mesh_oid *oid, bool dry_run);
/* Whether oid is touched or pinned (under the gc lock). */
bool mesh_odb_gc_kept(mesh_odb *odb, const mesh_oid *oid);
/* Ends the collection (also after a failure). */
void mesh_odb_gc_end(mesh_odb *odb);

#endif
