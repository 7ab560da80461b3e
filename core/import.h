/*
 * import.h - bulk import of a directory tree into a branch, and export of
 * a commit's tree into a directory, without going through the mount.
 *
 * Import walks the source first (lstat only) and refuses the whole job
 * before staging anything when an entry is missing, not a directory, or
 * unreadable for the caller; then worker threads chunk, hash, compress
 * and store file contents (objects already stored are deduplicated by
 * id) and stage each file with its last objects in one unsynced database
 * batch, and mesh_view_commit makes it all durable and commits.  A rerun
 * after an interruption skips every file the branch shows already with
 * the same kind, size, mtime, mode and owner, so nothing is done twice.
 * Modes (07777), mtimes, symlink targets and special files are kept;
 * owners too when root imports (anyone else's import is theirs), and
 * root's export writes them back.
 */
#ifndef MESH_IMPORT_H
#define MESH_IMPORT_H

#include <stdbool.h>
#include <stdint.h>
#include "cmd.h"
#include "store.h"
#include "view.h"

typedef struct mesh_xfer_progress {
	uint64_t files_done, files_total;
	uint64_t bytes_done, bytes_total;
	uint64_t files_skipped;       /* import: already staged or committed */
	bool finished;
} mesh_xfer_progress;

/* Called from the thread that started the job a few times a second, and
 * once with finished set. */
typedef void (*mesh_xfer_progress_fn)(void *ctx, const mesh_xfer_progress *p);

typedef struct mesh_import_opts {
	const char *src_dir;
	const char *path;          /* under the branch root, "" = the root */
	const char *message;       /* NULL: "import SRC_DIR" */
	unsigned jobs;             /* 0: one per core */
	mesh_xfer_progress_fn progress;   /* may be NULL */
	void *progress_ctx;
} mesh_import_opts;

typedef struct mesh_import_result {
	mesh_xfer_progress totals;
	uint64_t dirs;
	bool committed;            /* false: the branch showed it all already */
	mesh_oid commit;
	size_t changes;
} mesh_import_result;

/* Imports into the branch view and commits (caller's uid is checked
 * against what it may read, see README).  Leaves what it staged when it
 * fails midway, so that a rerun resumes. */
int mesh_import_run(mesh_store *store, mesh_view *view, const mesh_caller *caller,
		    const mesh_import_opts *opts, mesh_import_result *out);

typedef struct mesh_export_opts {
	const char *path;          /* under the view root, "" = the root */
	const char *dest_dir;
	bool force;                /* write into a non-empty dest_dir */
	unsigned jobs;
	mesh_xfer_progress_fn progress;
	void *progress_ctx;
} mesh_export_opts;

/* Writes the directory at opts->path of view (a commit view) into
 * dest_dir, every chunk verified as it is read. */
int mesh_export_run(mesh_store *store, mesh_view *view, const mesh_caller *caller,
		    const mesh_export_opts *opts, mesh_xfer_progress *out);

extern const mesh_cmd_spec mesh_import_cmd_spec;
extern const mesh_cmd_spec mesh_export_cmd_spec;

/* What the caller may do to an inode by its mode bits (want: 4 read,
 * 2 write, 1 search), for commands whose daemon reads or writes a local
 * file on another user's behalf (contract import/export). */
struct stat;
bool mesh_import_caller_may(const struct stat *st, const mesh_caller *caller, unsigned want);

#endif
