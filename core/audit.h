/*
 * audit.h - the audit log: one hash-chained record per change, refusal
 * and read open, and the usage counters of reads.
 *
 * Keys (all through db.h, so the chain moves with the shared metadata):
 *   "l/r/" seq                       a record (seq: 8 bytes big-endian)
 *   "l/h"                            the head: last seq and its hash
 *   "l/x/d/" domain \0 time seq      index list by domain
 *   "l/x/u/" uid time seq            index list by uid (4 bytes big-endian)
 *   "l/x/o/" op \0 time seq          index list by operation
 *   "l/s/" domain \0 day uid top \0  usage of reads: opens, bytes, last read
 *
 * An index list is written once per writer batch and value: it lists the
 * (time, seq) of the batch's records with that value, and its key ends
 * with the last of them (time: 8 bytes, ns).  Times never go back along
 * the chain, so the records themselves are the index by time (found by
 * bisection over the seqs).
 *
 * A record's value is its body followed by the SHA-256 of that body; the
 * body carries the SHA-256 of the previous record's whole value, so a
 * record changed, removed or slipped in breaks the chain where it is.
 *
 * Recording never touches the disk on the caller's thread: events go
 * into a bounded queue that one writer thread drains, a batch at a
 * time, into one RocksDB write batch (records, index keys, counters and
 * the head together).  When the queue is full the caller waits for
 * room: records are never dropped.
 */
#ifndef MESH_AUDIT_H
#define MESH_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cmd.h"
#include "db.h"
#include "log.h"
#include "oid.h"
#include "store.h"

typedef struct mesh_audit mesh_audit;

/* What happened; strings are copied by mesh_audit_record.  NULL
 * strings are recorded as empty. */
typedef struct mesh_audit_event {
	const char *op;          /* "read", "write", "unlink", "commit", ... */
	const char *domain;
	const char *ref;         /* the branch or ref the path was seen through */
	const mesh_oid *commit;  /* the commit it resolved to, or NULL */
	const char *path;        /* inside the domain's tree */
	int result;              /* 0, or a negative MESH_E* / -errno */
	const char *detail;      /* free text: a command line, a rename's target */
	uint64_t bytes;          /* a read open: the file's size then */
} mesh_audit_event;

/* One record as stored (strings owned by the record). */
typedef struct mesh_audit_rec {
	uint64_t seq;
	int64_t time_ns;
	uint32_t uid, gid, pid;
	int32_t result;
	uint64_t bytes;
	char *op, *comm, *domain, *ref, *commit, *path, *detail;
} mesh_audit_rec;

/* Opens the log on db and starts its writer thread.  log is borrowed
 * for the handle's life (write errors are reported there). */
int mesh_audit_open(mesh_audit **out, mesh_db *db, const mesh_log *log);
/* Writes everything queued and stops the writer. */
void mesh_audit_close(mesh_audit *audit);

/* An administrator's choice (the mount's -o noaudit): while off,
 * mesh_audit_record records nothing.  On by default. */
void mesh_audit_set_enabled(mesh_audit *audit, bool enabled);
bool mesh_audit_enabled(const mesh_audit *audit);

/* Queues one record of what caller did, with the time now and the
 * process of caller->pid (the thread group of a request's thread) and
 * its command name, from /proc at most every few seconds per pid.
 * Never reads or writes the database; waits only while the queue is
 * full.  0, or MESH_ENOMEM. */
int mesh_audit_record(mesh_audit *audit, const mesh_caller *caller,
		      const mesh_audit_event *event);

/* Returns once everything queued before the call is written. */
void mesh_audit_flush(mesh_audit *audit);

/* --- reading ---------------------------------------------------------- */

typedef struct mesh_audit_query {
	const char *domain;      /* NULL: any */
	bool by_uid;
	uint32_t uid;
	const char *op;          /* NULL: any */
	const char *path_glob;   /* fnmatch(3) without FNM_PATHNAME, or NULL */
	int64_t since_ns, until_ns;   /* [since, until]; 0: open */
} mesh_audit_query;

/* Calls fn for every record that matches, in seq order; fn returning
 * non-zero stops (and is returned when negative).  Answers from the
 * index of the first of domain, uid and op given, else from the records
 * at since on: a scan of the whole log only when nothing narrows it. */
int mesh_audit_query_run(mesh_db *db, const mesh_audit_query *q,
			 int (*fn)(void *ctx, const mesh_audit_rec *rec), void *ctx);

/* Walks the chain.  *count: records checked.  0 when intact; MESH_EIO
 * naming the first bad record (*bad_seq) and what is wrong with it
 * (*problem: "altered", "missing", "inserted"), else 0 in *bad_seq. */
int mesh_audit_verify(mesh_db *db, uint64_t *count, uint64_t *bad_seq,
		      const char **problem);

/* Usage of one (user, top-level path) of a domain over some days. */
typedef struct mesh_audit_usage {
	uint32_t uid;
	char *top;               /* the first component of the paths read */
	uint64_t read_opens, bytes_opened;
	int64_t last_read_ns;
} mesh_audit_usage;

/* The usage of domain over the days [now - days + 1, today] (UTC), by
 * uid then path; free with mesh_audit_usage_free. */
int mesh_audit_usage_get(mesh_db *db, const char *domain, unsigned days, int64_t now_ns,
			 mesh_audit_usage **out, size_t *count);
void mesh_audit_usage_free(mesh_audit_usage *usage, size_t count);
/* For each of count domains, its distinct readers and read opens over
 * the same days, in one pass of one iterator (the catalog weighs every
 * match by them).  readers and opens hold count entries. */
int mesh_audit_usage_totals(mesh_db *db, const char *const *domains, size_t count,
			    unsigned days, int64_t now_ns, uint32_t *readers, uint64_t *opens);

/* --- parsing of the commands' words ------------------------------------ */

/* "2026-12-03", "2026-12-03T10:00[:00][Z]" (UTC), or a span back from
 * now: "30s", "15m", "1h", "7d", "2w".  A date alone is its first
 * instant, or with end_of_day its last (for --until).  MESH_EINVAL
 * naming the text. */
int mesh_audit_parse_time(const char *text, int64_t now_ns, bool end_of_day,
			  int64_t *out_ns);
/* A user name or a number.  MESH_EINVAL naming an unknown user. */
int mesh_audit_parse_user(const char *text, uint32_t *uid);

/* The record at seq (free with mesh_audit_rec_clear); MESH_ENOENT. */
int mesh_audit_get(mesh_db *db, uint64_t seq, mesh_audit_rec *out);
void mesh_audit_rec_clear(mesh_audit_rec *rec);

/* Key of the record at seq (MESH_AUDIT_KEY_LEN bytes), for tools that
 * must find one (tests/tools/auditpoke.c). */
#define MESH_AUDIT_KEY_LEN 12
void mesh_audit_record_key(uint64_t seq, unsigned char *key);

/* The commands: "audit [...]", "audit verify", "audit export", and
 * "domain stats" (called by control.c's domain command). */
extern const mesh_cmd_spec mesh_audit_cmd_spec;
int mesh_audit_domain_stats(mesh_cmd *cmd);
#define MESH_AUDIT_STATS_USAGE "domain stats DOMAIN [--days N] [--json]"

/* Records what a control command did (control.c calls it for every
 * command that changes something or was refused). */
void mesh_audit_command(mesh_store *store, const mesh_caller *caller,
			char *const *argv, size_t argc, int result);

#endif
