/*
 * reach.h - everything reachable in a store, each object visited once.
 *
 * A walk starts, per domain, from every ref (branches, then tags, in
 * name order): the commits reachable from it along all parents, their
 * trees recursively, file maps and chunks; after each branch's history,
 * its staged entries (staged file maps, and the committed trees that
 * staged directories lay their children over).  Extra roots (a commit
 * that no ref reaches, such as one gc keeps for its age) are walked with
 * mesh_reach_commit.  fsck reports what it finds; gc keeps what was seen.
 *
 * Each object is told to the visitor once, with the first place it was
 * reached.  A set of the ids seen (core/oidset.h; memory: 36-72 bytes per distinct
 * object, however long the history) keeps shared subtrees and commits
 * from being walked twice.
 *
 * Damage (an object missing, corrupt, of the wrong type or malformed, a
 * corrupt ref or staging record) goes to the damage callback and the
 * walk goes on: fsck wants all of it, gc treats any as "remove nothing".
 * A damaged object is reported again, once, for each further ref (or
 * staging, or extra root) that reaches it through trees: shared subtrees
 * holding damage are walked again for that.  History shared by several
 * refs is walked once, so damage in an old commit shared by two branches
 * is reported under the first.
 *
 * What stops a walk: a non-zero return from a callback (returned as it
 * is), running out of memory, and failing to list domains, refs or
 * staged entries from the database.  Nothing else.
 *
 * A mesh_reach is used by one thread at a time.  The store must not be
 * changed by gc while a walk runs; other changes only add objects and
 * may or may not be seen.
 */
#ifndef MESH_REACH_H
#define MESH_REACH_H

#include <stdbool.h>
#include <stdint.h>
#include "odb.h"
#include "store.h"

typedef struct mesh_reach mesh_reach;

/* Where an object was reached.  Everything in it is valid only during
 * the callback. */
typedef struct mesh_reach_where {
	const char *domain;
	/* "heads/main", "tags/v1"; NULL for an extra root. */
	const char *ref;
	/* The commit whose tree holds the object, or the commit itself;
	 * NULL for what was reached through staging or a ref that cannot be
	 * read. */
	const mesh_oid *commit;
	/* '/'-separated path in that tree or in the staging ("" for a root
	 * tree); NULL for a commit. */
	const char *path;
	bool staged;            /* reached through the branch's staged entries */
	bool head;              /* the object is the ref's own commit */
} mesh_reach_where;

/* What a walk does with chunks, the bulk of the data.  Trees, file maps
 * and commits are always read, so always verified against their ids. */
enum {
	MESH_REACH_CHUNKS_LIST = 0,     /* only tell their ids */
	MESH_REACH_CHUNKS_EXIST = 1,    /* check each is stored */
	MESH_REACH_CHUNKS_READ = 2,     /* read each: hash and length checked */
	/* Follow no parents: walk the commits named and their trees only. */
	MESH_REACH_NO_HISTORY = 4,
};

typedef struct mesh_reach_cbs {
	/* Each object when it is first reached, before it is read.  May be
	 * NULL.  A non-zero return stops the walk and is returned. */
	int (*object)(void *arg, const mesh_reach_where *where, mesh_otype type,
		      const mesh_oid *id);
	/*
	 * Damage.  error is MESH_ENOENT for a missing object, MESH_EIO for
	 * a corrupt, mistyped or malformed one, another code when reading it
	 * failed otherwise (permissions, I/O); message says what, naming the
	 * object.  id and type are those of the damaged object; id is NULL
	 * for a ref or staged record that cannot be read.  May be NULL.
	 * A non-zero return stops the walk and is returned.
	 */
	int (*damage)(void *arg, const mesh_reach_where *where, mesh_otype type,
		      const mesh_oid *id, int error, const char *message);
	void *arg;
} mesh_reach_cbs;

typedef struct mesh_reach_stats {
	uint64_t objects[5];    /* distinct objects seen, by mesh_otype */
	uint64_t chunk_bytes;   /* content bytes of the distinct chunks seen */
	uint64_t refs;          /* refs walked */
	uint64_t staged;        /* staged entries walked */
	uint64_t damaged;       /* damage reports made */
} mesh_reach_stats;

/* flags: one MESH_REACH_CHUNKS_* value, optionally | MESH_REACH_NO_HISTORY.
 * store must outlive the walker.  Free with mesh_reach_free. */
int mesh_reach_new(mesh_reach **out, mesh_store *store, unsigned flags);
void mesh_reach_free(mesh_reach *reach);

/* Walks the refs and staging of domain, or of every domain when domain
 * is NULL.  An unknown domain is MESH_ENOENT naming it.  The set of ids
 * seen carries over between calls on one walker. */
int mesh_reach_run(mesh_reach *reach, const char *domain, const mesh_reach_cbs *cbs);

/* Walks one extra root: commit (and its history, unless NO_HISTORY) of
 * domain, reported with ref NULL. */
int mesh_reach_commit(mesh_reach *reach, const char *domain, const mesh_oid *commit,
		      const mesh_reach_cbs *cbs);

/* Walks, as extra roots, the commits indexed in domain whose time is at
 * or after since (seconds since the epoch), and those whose time cannot
 * be told (their damage is then reported).  For gc's retention window. */
int mesh_reach_recent(mesh_reach *reach, const char *domain, int64_t since,
		      const mesh_reach_cbs *cbs);

/* Walks one extra root of any type (its type read from its stored
 * header): a commit with its history as mesh_reach_commit, a tree, a file
 * map, or a chunk (only seen).  MESH_ENOENT, with no damage reported,
 * when id is not stored: gc's roots include ids that never were. */
int mesh_reach_object(mesh_reach *reach, const mesh_oid *id, const mesh_reach_cbs *cbs);

/* Whether id was reached by the walks so far, damaged or not. */
bool mesh_reach_seen(const mesh_reach *reach, const mesh_oid *id);

void mesh_reach_stats_get(const mesh_reach *reach, mesh_reach_stats *out);

#endif
