/*
 * journal.h - what an fsync of a file open for random writes stages.
 *
 * Storing the chunks an fsync's writes touched costs a chunk (256 KiB on
 * average) per 4 KiB written, in time and in store growth.  Instead the
 * mount keeps, per open file, a journal: the byte ranges written since
 * the file's content was last stored as chunks (its base map), copied
 * at each fsync into the database, in the same synced write as a staged
 * entry that names the base map, the journal and how many of its writes
 * count (stage.h).  The chunks are cut when the last descriptor closes,
 * when the journal grows past its bound (below), at a commit (which
 * reads base + journal, not the file as it is being written now), and at
 * the next mount after a crash.
 *
 * Keys: "j/" id (8 bytes, big-endian) seq (4, big-endian) -> offset (u64
 * little-endian) and the bytes written there, in the order they apply;
 * "J/" id -> domain \0 branch \0, so that a mount finds the journals a
 * crash left.  Journals are local to the store and never committed.
 */
#ifndef MESH_JOURNAL_H
#define MESH_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "oid.h"
#include "store.h"

/* Past this many journaled bytes, or the file's size when that is more,
 * an fsync stores chunks again: random writes spread over a file touch
 * nearly every chunk by then, so that fsync costs a pass over the file,
 * once per a file's worth of writes. */
#define MESH_JOURNAL_MAX_BYTES (64u << 20)
/* One journal write holds at most this much. */
#define MESH_JOURNAL_RECORD_MAX (1u << 20)

/* A fresh id, never 0. */
int mesh_journal_new_id(uint64_t *out);

/* Adds to batch write seq of journal id: len bytes at offset. */
void mesh_journal_add(mesh_db_batch *batch, uint64_t id, uint32_t seq, uint64_t offset,
		      const void *data, size_t len);

/* Adds to batch the note of which branch journal id belongs to. */
void mesh_journal_note(mesh_db_batch *batch, uint64_t id, const char *domain,
		       const char *branch);

/* Adds to batch the removal of every write of journal id and its note. */
int mesh_journal_drop(mesh_db *db, mesh_db_batch *batch, uint64_t id);

/*
 * The content of a file staged as base (a map id) with the first count
 * writes of journal id laid over it, size bytes long: the chunks the
 * writes touched are cut again and stored (objects go to the odb, not
 * to a batch), the others reused; *out gets the map's id.  Costs the
 * chunks touched, not the file.
 */
int mesh_journal_content(mesh_store *store, const mesh_oid *base, uint64_t size,
			 uint64_t id, uint32_t count, mesh_oid *out);

/* At mount, before any request: each journal a crash left is folded
 * into the staged entry that names it (stored as chunks, durably) and
 * dropped.  *recovered gets how many entries were folded. */
int mesh_journal_recover(mesh_store *store, size_t *recovered);

#endif
