/*
 * view.h - what a directory of the mount shows: a domain's branch (its
 * head tree overlaid with staged changes, read-write) or a commit
 * (read-only, immutable).  Every path operation of the FUSE daemon maps
 * onto one call here; no FUSE type appears.
 *
 * Paths are relative to the view's root, '/'-separated, no leading
 * slash; "" is the root.
 */
#ifndef MESH_VIEW_H
#define MESH_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "commit.h"
#include "store.h"
#include "tree.h"

typedef struct mesh_view mesh_view;

/* A resolved path. */
typedef struct mesh_view_entry {
	mesh_entry_kind kind;
	uint32_t mode;          /* permission bits */
	/* The owner: MESH_OWNER_LEGACY of old trees and staged entries is
	 * resolved to the store's legacy owner before it gets here. */
	uint32_t uid, gid;
	uint64_t rdev;          /* CHRDEV/BLKDEV */
	uint64_t size;
	int64_t mtime_ns;
	/* Staged entries keep their own; committed ones show mtime_ns. */
	int64_t atime_ns, ctime_ns;
	/* FILE/SYMLINK: the file map.  DIR: the tree under its listing when
	 * has_lower (a committed dir); a staged-only dir has none. */
	mesh_oid id;
	bool has_lower;
	bool staged;            /* comes from staging, not the commit */
	/* A file fsync'd while open for random writes: id is the base map
	 * and these writes lie over it (journal.h).  Whoever reads or refers
	 * to the content calls mesh_view_content first. */
	uint64_t journal_id;
	uint32_t journal_count;
} mesh_view_entry;

typedef struct mesh_view_dirent {
	char *name;
	mesh_view_entry entry;
} mesh_view_dirent;

/* A read-write view of a branch.  MESH_ENOENT when it does not exist. */
int mesh_view_open_branch(mesh_view **out, mesh_store *store,
			  const char *domain, const char *branch);
/* A read-only view of a commit. */
int mesh_view_open_commit(mesh_view **out, mesh_store *store,
			  const char *domain, const mesh_oid *commit);
void mesh_view_free(mesh_view *view);

bool mesh_view_is_branch(const mesh_view *view);
const char *mesh_view_domain(const mesh_view *view);
const char *mesh_view_branch(const mesh_view *view);   /* NULL if read-only */
/* The commit shown (a branch's current head). */
void mesh_view_commit_id(mesh_view *view, mesh_oid *out);

int mesh_view_lookup(mesh_view *view, const char *path, mesh_view_entry *out);

/* The merged, name-sorted listing of a directory; free with
 * mesh_view_dirents_free. */
int mesh_view_list(mesh_view *view, const char *dir,
		   mesh_view_dirent **out, size_t *count);
void mesh_view_dirents_free(mesh_view_dirent *dirents, size_t count);

/* The content of a file or symlink entry; free with mesh_file_map_free. */
int mesh_view_file_map(mesh_view *view, const mesh_view_entry *entry,
		       mesh_file_map **out);

/*
 * Changes.  All fail with MESH_EROFS on a read-only view.  Each is one
 * atomic RocksDB batch, in its log before the call returns.
 */

/* Stages a file or symlink whose content was stored as map_id.  With
 * durable the batch is synced (fsync); without it, it still survives a
 * kill of the process, as RocksDB's log is written before returning. */
int mesh_view_stage_content(mesh_view *view, const mesh_caller *caller,
			    const char *path, mesh_entry_kind kind,
			    uint32_t mode, uint64_t size, int64_t mtime_ns,
			    const mesh_oid *map_id, bool durable);
/* The same in one atomic write with what batch holds already (objects
 * of the content from mesh_odb_write_batched, which exist only once
 * batch is written): storing and staging a small file is one database
 * write.  The caller frees batch; on failure nothing of it is written. */
int mesh_view_stage_content_with(mesh_view *view, mesh_db_batch *batch,
				 const mesh_caller *caller, const char *path,
				 mesh_entry_kind kind, uint32_t mode, uint64_t size,
				 int64_t mtime_ns, const mesh_oid *map_id, bool durable);
/* The same for the state an fsync leaves of a file open for random
 * writes: base_map with the first journal_count writes of journal_id laid
 * over it (journal.h), the writes already in batch. */
int mesh_view_stage_journaled(mesh_view *view, mesh_db_batch *batch,
			      const mesh_caller *caller, const char *path, uint32_t mode,
			      uint64_t size, int64_t mtime_ns, const mesh_oid *base_map,
			      uint64_t journal_id, uint32_t journal_count);
/* Makes entry->id the map of the content it shows: a journaled file's
 * touched chunks are cut and stored (journal.h), and its journal fields
 * cleared; any other entry is left as it is.  Inside an odb session, so
 * that the caller refers to the new map before a collection can start. */
int mesh_view_content(mesh_view *view, mesh_view_entry *entry);
/* The same with the owner given, as a restore by root does (import):
 * mode is kept as given, set-id bits included.  MESH_EPERM unless the
 * caller is root. */
int mesh_view_stage_content_as(mesh_view *view, mesh_db_batch *batch,
			       const mesh_caller *caller, const char *path,
			       mesh_entry_kind kind, uint32_t mode, uint64_t size,
			       int64_t mtime_ns, const mesh_oid *map_id, uint32_t uid,
			       uint32_t gid);
/* Stages a new file of content map_id (empty, for open(O_CREAT)):
 * MESH_EEXIST when path exists, checked in the same step, so of two
 * creators only one succeeds. */
int mesh_view_create_file(mesh_view *view, const mesh_caller *caller,
			  const char *path, uint32_t mode, int64_t mtime_ns,
			  const mesh_oid *map_id);
/* MESH_EEXIST when path exists. */
int mesh_view_mkdir(mesh_view *view, const mesh_caller *caller,
		    const char *path, uint32_t mode);
/* Files and symlinks; MESH_EISDIR for a directory. */
int mesh_view_unlink(mesh_view *view, const mesh_caller *caller,
		     const char *path);
/* MESH_ENOTEMPTY unless empty; MESH_ENOTDIR for a file. */
int mesh_view_rmdir(mesh_view *view, const mesh_caller *caller,
		    const char *path);
/* rename(2) semantics, also over an existing target; a directory moves
 * by re-keying its staged entries and pointing the new name at the old
 * tree: no file content is read or copied.  noreplace: MESH_EEXIST when
 * the target exists. */
int mesh_view_rename(mesh_view *view, const mesh_caller *caller,
		     const char *from, const char *to, bool noreplace);
/* chmod / utimens: mode or mtime may be left alone with NULL. */
int mesh_view_setattr(mesh_view *view, const mesh_caller *caller,
		      const char *path, const uint32_t *mode,
		      const int64_t *mtime_ns);

/*
 * Ownership, special files and times (POSIX semantics; the kernel checks
 * modes, with default_permissions, before a request gets here).
 */

/* What a setattr changes; NULL fields stay.  A change of uid or gid
 * follows chown(2): root may give anything, the owner may change the
 * group to one of their groups (MESH_EPERM otherwise, also for a uid
 * change by anyone but root); on a non-directory it clears S_ISUID, and
 * S_ISGID when group-execute is set, as Linux does.  kill_suid and
 * kill_sgid clear the same bits (the kernel's ATTR_KILL_SUID/SGID).
 * Every change moves ctime to now. */
typedef struct mesh_view_attr {
	const uint32_t *mode;
	const uint32_t *uid;
	const uint32_t *gid;
	const int64_t *atime_ns;
	const int64_t *mtime_ns;
	bool kill_suid, kill_sgid;
} mesh_view_attr;
int mesh_view_change_attr(mesh_view *view, const mesh_caller *caller,
			  const char *path, const mesh_view_attr *attr);

/* Stages a FIFO, socket or device node (mknod(2)) owned by the caller
 * (the group by the parent's setgid bit, as for files); MESH_EEXIST when
 * path exists, MESH_EPERM for a device node made by anyone but root. */
int mesh_view_mknod(mesh_view *view, const mesh_caller *caller, const char *path,
		    mesh_entry_kind kind, uint32_t mode, uint64_t rdev);

/* A read of path at now_ns, as relatime counts it: atime moves to now
 * when it is not after mtime or ctime, or is a day old; otherwise (and
 * in commit views) nothing is written.  *changed tells which. */
int mesh_view_access(mesh_view *view, const mesh_caller *caller, const char *path,
		     int64_t now_ns, bool *changed);

/* A directory's link count: 2 plus its subdirectories.  Counted in the
 * committed tree (cached) when nothing is staged under it, else in its
 * merged listing. */
int mesh_view_dir_nlink(mesh_view *view, const char *path,
			const mesh_view_entry *entry, uint32_t *nlink);

/* What is staged, against the head. */
typedef enum mesh_change_type {
	MESH_CHANGE_ADDED = 1,
	MESH_CHANGE_MODIFIED = 2,
	MESH_CHANGE_REMOVED = 3,
} mesh_change_type;

typedef struct mesh_change {
	char *path;
	mesh_change_type type;
	mesh_entry_kind kind;
} mesh_change;

int mesh_view_status(mesh_view *view, mesh_change **out, size_t *count);
void mesh_changes_free(mesh_change *changes, size_t count);
const char *mesh_change_type_name(mesh_change_type type);
const char *mesh_entry_kind_name(mesh_entry_kind kind);

/*
 * Commits everything staged: builds the new trees, then moves the head,
 * indexes the commit and clears the committed staging entries in one
 * synced batch, after making the new objects durable.  MESH_EINVAL
 * ("nothing to commit") when nothing is staged.  The domain's pre-commit
 * hooks judge the new commit before the head moves (the branch locked
 * meanwhile), its post-commit hooks run after (hook.h).
 */
int mesh_view_commit(mesh_view *view, const mesh_caller *caller,
		     const char *message, const mesh_meta *meta,
		     size_t meta_count, mesh_oid *out, size_t *changes);

/*
 * Whole-branch changes, for reset, merge, revert and cherry-pick.
 */

/* Re-reads a branch's head (another handle may have moved it).
 * MESH_ENOENT when the branch is gone. */
int mesh_view_refresh(mesh_view *view);

/* Changes whenever the view's content changes other than by its own path
 * operations: caches of file content compare it. */
uint64_t mesh_view_generation(mesh_view *view);

/* The root tree shown (the head's, not counting staged changes). */
void mesh_view_root_tree(mesh_view *view, mesh_oid *out);

/* MESH_EBUSY, naming the branch and what, when anything is staged. */
int mesh_view_check_clean(mesh_view *view, const char *what);

/*
 * Commits tree on top of the head (a second parent with extra_parent)
 * and moves the head there, as one synced batch.  MESH_EBUSY when the
 * branch has staged changes; MESH_EAGAIN when the head is no longer
 * expected_head (NULL: no check).  what names the operation in errors;
 * "merge" runs the domain's pre-merge and post-merge hooks, anything
 * else its commit hooks, with source (may be NULL) as their MESH_SOURCE.
 */
int mesh_view_apply(mesh_view *view, const mesh_caller *caller,
		    const mesh_oid *expected_head, const mesh_oid *tree,
		    const mesh_oid *extra_parent, const char *what, const char *source,
		    const char *message, const mesh_meta *meta, size_t meta_count,
		    mesh_oid *out);

/* Drops staged changes at and below path ("" = all); *changes lists what
 * was dropped (free with mesh_changes_free). */
int mesh_view_reset(mesh_view *view, const mesh_caller *caller, const char *path,
		    mesh_change **changes, size_t *count);

/*
 * Stages at dst_path a copy of src_path of src (any view, any domain) by
 * reference: the same file maps and trees, no content read or written.
 * A file may replace a file; directories are never replaced
 * (MESH_EEXIST).
 */
int mesh_view_copy(mesh_view *dst, const mesh_caller *caller, const char *dst_path,
		   mesh_view *src, const char *src_path);

#endif
