/*
 * gc.h - garbage collection: removes the objects that nothing keeps.
 *
 * Kept is everything reachable (core/reach.h) from
 *   - every ref (branches, tags) of every domain, with all its history;
 *   - every branch's staged entries;
 *   - every commit of a domain (its commit index) younger than the
 *     domain's retention (mesh_domain.retention_days, counted from the
 *     commit's time): deleted branches' history stays that long;
 *   - the objects in-memory state holds (odb pins: the chunks of files
 *     being written, the maps of files open for reading);
 *   - every object written, found stored, pinned or read while the
 *     collection runs (the odb's touched set), and every object file
 *     changed since it began.
 * Everything else goes: objects in files and in the database, the
 * commit index entries of removed commits, and files in tmp/ left by a
 * process that is gone.  With any damage found on the way (a missing or
 * corrupt object), nothing is removed.
 *
 * Concurrency: the collection runs alongside writes, commits, merges and
 * cp (see odb.h for how); it pauses nothing but the start of sessions
 * while it begins.  Memory: the set of live ids (36-72 bytes each)
 * plus what is touched while it runs; never the history or the garbage.
 * A collection killed at any point leaves a consistent store (commit
 * index entries go before their commits; what is left is garbage the
 * next run removes) and the next run says it resumed.
 */
#ifndef MESH_GC_H
#define MESH_GC_H

#include <stdbool.h>
#include <stdint.h>
#include "cmd.h"
#include "store.h"

typedef struct mesh_gc_options {
	bool dry_run;           /* count what would go, remove nothing */
	int64_t now;            /* seconds since the epoch; 0: the clock */
	/* Stops like a killed run (MESH_EAGAIN, "running" left recorded)
	 * after removing this many objects; 0: no limit.  For tests of
	 * resuming, and for collecting a huge store in slices. */
	uint64_t stop_after;
} mesh_gc_options;

typedef struct mesh_gc_result {
	bool dry_run;
	bool resumed;                  /* the previous collection was interrupted */
	uint64_t live_objects;         /* reachable or otherwise kept, as stored */
	uint64_t retained_commits;     /* commits kept only by a retention window */
	uint64_t removed_objects;      /* (or, dry run: would be) */
	uint64_t removed_bytes;        /* stored bytes (files' sizes, db values) */
	uint64_t removed_db_objects;   /* of removed_objects, those in the database */
	uint64_t removed_db_bytes;
	uint64_t kept_new_objects;     /* unreachable, but written, read or pinned
					 * while it ran (or a file changed since) */
	uint64_t index_entries_removed;
	uint64_t tmp_files_removed;
	uint64_t tmp_bytes_removed;
	uint64_t milliseconds;
} mesh_gc_result;

/* Runs one collection.  MESH_EBUSY when one runs already; MESH_EIO
 * naming the first damage found (nothing removed then). */
int mesh_gc_run(mesh_store *store, const mesh_gc_options *opts, mesh_gc_result *out);

/* "gc [--dry-run]" for the control file and the CLI. */
extern const mesh_cmd_spec mesh_gc_cmd_spec;

#endif
