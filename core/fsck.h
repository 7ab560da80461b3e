/*
 * fsck.h - checking a store, quarantining corrupt objects, and moving a
 * branch off a broken head.
 *
 * fsck walks everything reachable (reach.h): every ref, the history
 * behind it, every tree, file map and chunk, and every staged entry.
 * Trees, file maps and commits are read, so hashed and parsed; chunks
 * are read and hashed too, unless quick, when only their presence is
 * checked.  Each problem is reported with its domain, ref, commit and
 * path.  With repair, every object whose stored bytes are corrupt is
 * moved to STORE/quarantine/ and removed from the store (missing objects
 * cannot be repaired; an object of the wrong type or malformed though
 * its bytes hash right is left where it is: what names it is wrong).
 */
#ifndef MESH_FSCK_H
#define MESH_FSCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cmd.h"
#include "reach.h"
#include "store.h"

/* At most this many problems are listed; all are counted. */
#define MESH_FSCK_DAMAGE_MAX 1000

typedef struct mesh_fsck_opts {
	const char *domain;     /* NULL: every domain */
	bool quick;             /* chunks: presence only, not re-hashed */
	bool repair;            /* quarantine corrupt objects */
} mesh_fsck_opts;

typedef enum mesh_fsck_problem {
	MESH_FSCK_MISSING = 1,      /* named but not stored */
	MESH_FSCK_CORRUPT = 2,      /* stored bytes do not verify, or wrong type, or malformed */
	MESH_FSCK_UNREADABLE = 3,   /* reading failed otherwise (permissions, I/O) */
} mesh_fsck_problem;

const char *mesh_fsck_problem_name(mesh_fsck_problem problem);

typedef struct mesh_fsck_damage {
	char *domain;
	char *ref;              /* "heads/main"; NULL for an extra root */
	bool has_commit;
	mesh_oid commit;        /* the commit whose tree holds it, or itself */
	char *path;             /* in that tree or the staging; NULL for a commit */
	bool staged;
	bool has_id;            /* false: a ref or staged record is damaged */
	mesh_oid id;
	mesh_otype type;
	mesh_fsck_problem problem;
	char *message;
	char *quarantined;      /* the file its corrupt bytes were moved to, or NULL */
} mesh_fsck_damage;

/* A branch whose head commit or one of its trees cannot be read: it does
 * not list whole; `branch reset-head` moves it back. */
typedef struct mesh_fsck_broken_head {
	char *domain;
	char *branch;
	mesh_oid commit;
} mesh_fsck_broken_head;

typedef struct mesh_fsck_report {
	mesh_reach_stats stats;
	uint64_t domains;
	mesh_fsck_damage *damage;       /* the first MESH_FSCK_DAMAGE_MAX */
	size_t damage_count;
	uint64_t damage_total;
	mesh_fsck_broken_head *broken_heads;
	size_t broken_count;
	uint64_t quarantined;           /* copies moved by repair */
	double seconds;
} mesh_fsck_report;

/*
 * Checks the store (or one domain) into *out, which the caller frees with
 * mesh_fsck_report_free, also after a failure.  Returns 0 whether or not
 * damage was found (see out->damage_total); <0 when the check could not
 * run: an unknown domain (MESH_ENOENT), out of memory, the database
 * failing to list domains, refs or staging, a quarantine that fails.
 */
int mesh_fsck_run(mesh_store *store, const mesh_fsck_opts *opts, mesh_fsck_report *out);
void mesh_fsck_report_free(mesh_fsck_report *report);

/*
 * Points branch back at the newest ancestor of its head, along first
 * parents, whose commit and trees can all be read (file contents are not
 * judged: a damaged file is fsck's report, not a reason to drop
 * commits).  Parents of an unreadable commit come from the commit index
 * (history.h).  Staged changes stay staged.  MESH_EINVAL, with a message,
 * when the head is intact; MESH_EIO when no intact ancestor can be found;
 * MESH_EAGAIN when the head moved meanwhile.  The caller is logged.
 */
int mesh_fsck_reset_head(mesh_store *store, const mesh_caller *caller,
			 const char *domain, const char *branch,
			 mesh_oid *old_head, mesh_oid *new_head);

/* The control command "fsck [--domain D] [--quick] [--repair]": the
 * report as JSON; damage found makes it fail with MESH_EIO, the report
 * then in the failure's answer. */
extern const mesh_cmd_spec mesh_fsck_cmd_spec;

/* "branch reset-head DOMAIN/BRANCH" (control.c's branch command hands
 * it over): old and new head, the caller. */
int mesh_fsck_cmd_reset_head(mesh_cmd *cmd);

#endif
