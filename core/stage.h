/*
 * stage.h - staged changes of a branch, kept in RocksDB.
 *
 * A branch view is its head tree overlaid with these entries.  Paths are
 * relative, '/'-separated, without a leading slash ("a/b.csv").
 * Key: "s/" domain \0 branch \0 parent-path \0 name, so one directory's
 * staged children are one prefix scan: listing costs O(its children).
 *
 * Invariant kept by the view layer: every ancestor directory of a staged
 * entry is itself staged as a MESH_STAGE_DIR, so a commit only descends
 * into staged directories and reuses every other subtree by id.
 */
#ifndef MESH_STAGE_H
#define MESH_STAGE_H

#include <stdbool.h>
#include <stdint.h>
#include "oid.h"
#include "db.h"

typedef enum mesh_stage_kind {
	MESH_STAGE_FILE = 1,
	MESH_STAGE_DIR = 2,
	MESH_STAGE_SYMLINK = 3,
	MESH_STAGE_TOMBSTONE = 4,   /* deleted: hides the head's entry */
	MESH_STAGE_FIFO = 5,
	MESH_STAGE_SOCKET = 6,
	MESH_STAGE_CHRDEV = 7,
	MESH_STAGE_BLKDEV = 8,
} mesh_stage_kind;

typedef struct mesh_stage_entry {
	mesh_stage_kind kind;
	uint32_t mode;
	/* MESH_OWNER_LEGACY (tree.h) in entries staged before ownership was
	 * versioned: they showed the store's legacy owner then too. */
	uint32_t uid, gid;
	uint64_t rdev;          /* CHRDEV/BLKDEV */
	uint64_t size;
	int64_t mtime_ns;
	/* Kept while staged; a commit keeps only mtime.  Entries staged
	 * before times were kept decode with both equal to mtime_ns. */
	int64_t atime_ns, ctime_ns;
	/* FILE/SYMLINK: the file map.  DIR: the tree its children are laid
	 * over ("lower"), valid when has_lower; a DIR without lower shows
	 * only its staged children (created, or replaced what was there). */
	mesh_oid id;
	bool has_lower;
	/* FILE: journal_count writes (journal.h) laid over the map id, when
	 * journal_id is not 0: what an fsync of a file open for random
	 * writes stages, so that it costs the bytes written, not a copy of
	 * each chunk they touched.  Content readers go through
	 * mesh_journal_content. */
	uint64_t journal_id;
	uint32_t journal_count;
} mesh_stage_entry;

/* MESH_ENOENT when nothing is staged at path. */
int mesh_stage_get(mesh_db *db, const char *domain, const char *branch,
		   const char *path, mesh_stage_entry *out);
/* For lookups that expect to miss: 1 and *out when something is staged
 * at path, 0 when nothing is (no error set), <0 on error. */
int mesh_stage_find(mesh_db *db, const char *domain, const char *branch,
		    const char *path, mesh_stage_entry *out);

void mesh_stage_put(mesh_db_batch *batch, const char *domain,
		    const char *branch, const char *path,
		    const mesh_stage_entry *entry);
void mesh_stage_remove(mesh_db_batch *batch, const char *domain,
		       const char *branch, const char *path);

/* cb gets each staged child of dir (name only, not the full path); a
 * non-zero return stops and is returned. */
typedef int (*mesh_stage_cb)(void *ctx, const char *path_or_name,
			     const mesh_stage_entry *entry);
int mesh_stage_list_dir(mesh_db *db, const char *domain, const char *branch,
			const char *dir, mesh_stage_cb cb, void *ctx);

/* cb gets every staged entry strictly below dir ("" = whole branch) with
 * its full path, parents before children. */
int mesh_stage_list_tree(mesh_db *db, const char *domain, const char *branch,
			 const char *dir, mesh_stage_cb cb, void *ctx);

/* Adds to batch the removal of every entry strictly below dir. */
int mesh_stage_clear_tree(mesh_db *db, mesh_db_batch *batch,
			  const char *domain, const char *branch,
			  const char *dir);

/* Number of staged entries of a branch (for status). */
int mesh_stage_count(mesh_db *db, const char *domain, const char *branch,
		     uint64_t *out);

#endif
