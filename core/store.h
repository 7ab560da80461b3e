/*
 * store.h - a meshfs store: the directory that holds the metadata
 * database, the object store and scratch space, opened as one handle.
 *
 *   STORE/db/       RocksDB: domains, refs, staging, the audit log
 *   STORE/objects/  content-addressed objects (loose backend)
 *   STORE/tmp/      files being written, temporary objects
 *   STORE/FORMAT    "meshfs store format N": the layout's version
 *   STORE/reserve   space held back for commits and reopening
 *
 * The format version lives in a file of its own, not in the database: it
 * describes this directory's local layout (RocksDB's options and key
 * layout included), must be read before RocksDB touches db/ (an open
 * replays and rewrites its log), and stays local when the shared
 * metadata moves to another database, which will carry its own schema
 * version.
 */
#ifndef MESH_STORE_H
#define MESH_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include "db.h"
#include "odb.h"
#include "refs.h"
#include "file.h"
#include "log.h"

/* The most supplementary groups of a caller that rules look at. */
#define MESH_CALLER_GROUPS_MAX 64

/* Who asks: every operation that changes or reads data carries the
 * caller, so access rules and the audit log are applied in core/.
 * Identity always comes from the kernel (the FUSE request, or the CLI's
 * own process), never from a command's words. */
typedef struct mesh_caller {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	/* Supplementary groups cost a read of /proc per request, so they
	 * are looked up only when a rule needs them: groups_of fills out
	 * (at most max) and returns the count, or -1.  NULL: the caller has
	 * only its primary group. */
	int (*groups_of)(const void *source, gid_t *out, int max);
	const void *source;
	/* Set by the mount only, for what a handle opened for writing
	 * stages (its close, fsync, release, or the unmount's last flush):
	 * the open checked the right to write, and as in POSIX a descriptor
	 * keeps it, whoever closes it. */
	bool write_opened;
} mesh_caller;

/* Whether the caller is in group gid (primary or supplementary). */
bool mesh_caller_in_group(const mesh_caller *caller, gid_t gid);
/* The caller of this process (the CLI on a store): its uid, gid, pid and
 * groups from getgroups(2). */
void mesh_caller_self(mesh_caller *out);

typedef struct mesh_store mesh_store;

/* $MESHFS_STORE, else $HOME/.local/share/meshfs.  *out is malloc'd. */
int mesh_store_default_path(char **out);

/* The layout this meshfs reads and writes.  1: stores made before the
 * version was recorded (no FORMAT file); 2: FORMAT, the space reserve,
 * and a write-ahead log whose damage is refused at open; 3: ownership,
 * special files and times are versioned (MTREE2 trees, staged entries
 * of version 2), and the database records the legacy owner that
 * MTREE1 trees and older staged entries are shown with. */
#define MESH_STORE_FORMAT 3

/* Space kept in STORE/reserve and released when the filesystem runs
 * full, so that RocksDB's recovery (it wants its two 8 MiB memtables'
 * worth free), a commit and a reopen can finish.  New file data is
 * accepted again once MESH_STORE_RESUME_BYTES are free, which leaves
 * the re-created reserve with room around it. */
#define MESH_STORE_RESERVE_BYTES (24u << 20)
#define MESH_STORE_RESUME_BYTES (32u << 20)

/* Creates the store's directories, database, FORMAT and reserve;
 * harmless on an existing store of this format.  A store of another
 * format is refused (MESH_EINVAL) and left as it is. */
int mesh_store_init(const char *path);

/* The store's format version: FORMAT's, or 1 for a store with db/ and
 * no FORMAT.  MESH_ENOENT when path is not a store. */
int mesh_store_format(const char *path, int *version);

/* Brings an older store to MESH_STORE_FORMAT; *from is the version it
 * had (== MESH_STORE_FORMAT: nothing to do).  MESH_EBUSY while mounted;
 * a newer store is refused.  2 -> 3 rewrites no tree: it records the
 * legacy owner (who owns the store directory, whom the mount showed as
 * every file's owner before) in the database. */
int mesh_store_migrate(const char *path, int *from);

/* Opens the store's database accepting the loss of a damaged
 * write-ahead log's records from the damage on (mesh_db_recover_wal);
 * *was_damaged false: the log was intact and nothing changed. */
int mesh_store_recover_wal(const char *path, bool *was_damaged);

/* Opens an initialized store.  log is copied.  MESH_ENOENT when path is
 * not a store (with a hint to run `meshfs init`); MESH_EBUSY when another
 * process has it open; MESH_EINVAL for another format version (naming
 * both, and `meshfs migrate` for an older one); MESH_EIO for a damaged
 * write-ahead log (naming it, and `meshfs recover`). */
int mesh_store_open(mesh_store **out, const char *path, const mesh_log *log);
void mesh_store_close(mesh_store *store);

/* For writes of new file data: 0 while the reserve is held; once it was
 * released, MESH_ENOSPC until enough space is free again, when the
 * reserve is re-created.  Commits and other metadata changes do not
 * ask: they may use the reserve. */
int mesh_store_space_check(mesh_store *store);
/* The same for callers that write no file data (a close, an fsync):
 * re-creates a released reserve when there is room, never fails, so the
 * reserve is back before the disk can fill again. */
void mesh_store_space_refresh(mesh_store *store);
/* Hands the reserve's space back to the filesystem; called by whoever
 * saw a write fail with ENOSPC.  Safe from any thread. */
void mesh_store_space_release(mesh_store *store);

/* Who owns what was written before ownership was versioned (entries
 * whose uid and gid are MESH_OWNER_LEGACY): recorded in the database
 * ("m/legacy-owner") by init and migrate, read at open. */
void mesh_store_legacy_owner(const mesh_store *store, uint32_t *uid, uint32_t *gid);

const char *mesh_store_path(const mesh_store *store);
const char *mesh_store_tmp_dir(const mesh_store *store);
mesh_db *mesh_store_db(mesh_store *store);
mesh_odb *mesh_store_odb(mesh_store *store);
mesh_refdb *mesh_store_refs(mesh_store *store);
mesh_chunk_cache *mesh_store_cache(mesh_store *store);
/* Parsed trees, shared by every view of the store. */
struct mesh_treecache *mesh_store_trees(mesh_store *store);
const mesh_log *mesh_store_log(const mesh_store *store);
/* The audit log (audit.h): written by its own thread, flushed and
 * closed with the store. */
struct mesh_audit *mesh_store_audit(mesh_store *store);
/* The access rules' cache of this handle (access.h). */
struct mesh_access_cache *mesh_store_access(mesh_store *store);
/* The catalog of data products: its local index and comments (catalog.h). */
struct mesh_catalog *mesh_store_catalog(mesh_store *store);

/* Root squash (the mount's -o root_squash, for shared hosts): root is an
 * ordinary user for the access rules, and the store's administrator is
 * the uid that owns the store directory (looked up now).  Set before the
 * handle is shared between threads. */
int mesh_store_set_root_squash(mesh_store *store, bool on);
/* The uid with the administrator's rights: 0, or with root squash the
 * store directory's owner. */
uid_t mesh_store_admin_uid(const mesh_store *store);
bool mesh_store_root_squashed(const mesh_store *store);
/* The long commands running on this handle (progress.h). */
struct mesh_progress_table *mesh_store_progress(mesh_store *store);
/* When this handle opened the store, on the clock file timestamps use:
 * a file in tmp/ changed before it belongs to a process that is gone
 * (the store is open in one process at a time). */
struct timespec mesh_store_opened(const mesh_store *store);

/*
 * Staging and head changes of one branch are serialized: a commit must
 * see a stable set of staged entries and a stable head.  The lock is per
 * (domain, branch) and held only around metadata updates, never while
 * chunking or hashing file content, and while a commit's or merge's
 * pre-hooks run (hook.h): so the branch takes no other change meanwhile.
 * Branches never wait for each other.
 */
void mesh_store_branch_lock(mesh_store *store, const char *domain,
			    const char *branch);
void mesh_store_branch_unlock(mesh_store *store, const char *domain,
			      const char *branch);
/* Whether someone holds the branch's lock now (a hint: it may change at
 * once), so the mount can answer a close that would wait from a thread
 * of its own. */
bool mesh_store_branch_held(mesh_store *store, const char *domain, const char *branch);
/* Takes the branch's lock only when it is free: whether it did. */
bool mesh_store_branch_trylock(mesh_store *store, const char *domain, const char *branch);

/* Where this handle's store is mounted (the daemon sets it before the
 * handle is shared), so that a hook is shown its candidate as a commit
 * view of the mount; NULL without a mount. */
int mesh_store_set_mountpoint(mesh_store *store, const char *path);
const char *mesh_store_mountpoint(const mesh_store *store);

#endif
