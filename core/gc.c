/*
 * gc.c - mark (core/reach.c) and sweep, alongside everything else.
 *
 * The order of a run:
 *   1. begin: the odb notes every id touched from now on (odb.h);
 *   2. mark: refs, staging, commits within retention (reach.c);
 *   3. close: walk the touched and pinned ids not marked yet, until a
 *      check finds none left; in the same hold of the odb's gc lock the
 *      sweep begins, after which reads of unmarked objects are refused;
 *   4. sweep: commit index entries first, then objects (each removed
 *      under the gc lock unless touched or pinned meanwhile), then
 *      leftovers in tmp/;
 *   5. record the run as finished.
 * A "running" record written at 1 and replaced at 5 tells the next run
 * that this one was killed; rerunning is all a resume needs, as every
 * step is idempotent.
 */
#include "gc.h"
#include "access.h"
#include "progress.h"
#include "domain.h"
#include "error.h"
#include "reach.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STATE_KEY "m/gc"
#define SECONDS_PER_DAY 86400
#define INDEX_DELETE_BATCH 1024
#define COMPACT_MIN_BYTES (16u << 20)

typedef struct gc_run {
	mesh_store *store;
	mesh_odb *odb;
	mesh_reach *reach;
	bool dry_run;
	uint64_t stop_after;
	int64_t start;          /* seconds: retention is counted from it */
	int64_t begun_ns;       /* object files changed since are kept */
	mesh_gc_result *res;
	uint64_t listed;        /* objects the sweep looked at: progress */
	uint64_t damaged;
	char first_damage[512];
} gc_run;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the state record ------------------------------------------------ */

static int state_read(gc_run *run)
{
	void *val;
	size_t vlen;
	int found = mesh_db_find(mesh_store_db(run->store), STATE_KEY, strlen(STATE_KEY),
				 &val, &vlen);

	if (found <= 0)
		return found;
	run->res->resumed = vlen >= 7 && memcmp(val, "running", 7) == 0;
	free(val);
	return 0;
}

/* Synced: the sync also makes the run's unsynced deletes durable. */
static int state_write(gc_run *run, bool running)
{
	char text[256];
	const mesh_gc_result *r = run->res;
	int n = running ?
		snprintf(text, sizeof(text), "running %" PRId64, run->start) :
		snprintf(text, sizeof(text), "done %" PRId64 " %" PRIu64 " %" PRIu64,
			 run->start, r->removed_objects, r->removed_bytes);

	return mesh_db_put(mesh_store_db(run->store), STATE_KEY, strlen(STATE_KEY),
			   text, (size_t)n, true);
}

/* ---- mark -------------------------------------------------------------- */

static int on_damage(void *arg, const mesh_reach_where *where, mesh_otype type,
		     const mesh_oid *id, int error, const char *message)
{
	gc_run *run = arg;

	(void)where;
	(void)type;
	(void)id;
	(void)error;
	if (run->damaged++ == 0)
		snprintf(run->first_damage, sizeof(run->first_damage), "%s", message);
	return 0;
}

static bool marked(void *ctx, const mesh_oid *id)
{
	return mesh_reach_seen(ctx, id);
}

static int mark_retained(gc_run *run, const mesh_reach_cbs *cbs)
{
	mesh_domain **domains;
	mesh_reach_stats before, after;
	size_t count;
	int error;

	if ((error = mesh_domain_list(run->store, &domains, &count)) < 0)
		return error;
	mesh_reach_stats_get(run->reach, &before);
	for (size_t i = 0; error == 0 && i < count; i++) {
		uint32_t days = domains[i]->retention_days;
		/* Retention 0 keeps nothing that no ref reaches. */
		if (days > 0)
			error = mesh_reach_recent(run->reach, domains[i]->name,
						  run->start - (int64_t)days * SECONDS_PER_DAY, cbs);
	}
	mesh_reach_stats_get(run->reach, &after);
	run->res->retained_commits = after.objects[MESH_OBJ_COMMIT] - before.objects[MESH_OBJ_COMMIT];
	mesh_domain_list_free(domains, count);
	return error;
}

typedef struct walk_ctx {
	gc_run *run;
	const mesh_reach_cbs *cbs;
} walk_ctx;

static int walk_touched(void *ctx, const mesh_oid *id)
{
	walk_ctx *w = ctx;
	int error = mesh_reach_object(w->run->reach, id, w->cbs);

	/* Touched ids include ones never stored (a failed write, an
	 * existence check that found nothing): not damage. */
	return error == MESH_ENOENT ? 0 : error;
}

/* Steps 2 and 3: everything marked and the sweep begun. */
static int mark(gc_run *run)
{
	mesh_reach_cbs cbs = { NULL, on_damage, run };
	walk_ctx w = { run, &cbs };
	size_t count;
	int error, swept;

	mesh_progress_set(mesh_store_progress(run->store), "marking objects", "objects", 0, 0);
	if ((error = mesh_reach_run(run->reach, NULL, &cbs)) < 0 ||
	    (error = mark_retained(run, &cbs)) < 0)
		return error;
	do {
		if ((error = mesh_odb_gc_unmarked(run->odb, marked, run->reach, walk_touched,
						  &w, &count)) < 0)
			return error;
		if (run->damaged)
			return mesh_error_set(MESH_EIO,
				"gc found %" PRIu64 " damaged object(s), so it removed nothing "
				"(run meshfs fsck); first: %s", run->damaged, run->first_damage);
		swept = mesh_odb_gc_sweep_begin(run->odb, marked, run->reach, !run->dry_run);
	} while (swept == 0);
	return swept < 0 ? swept : 0;
}

/* ---- sweep ------------------------------------------------------------- */

/* The commit index: key "c/" domain NUL raw-id. */
static int sweep_index(gc_run *run)
{
	mesh_db *db = mesh_store_db(run->store);
	mesh_db_batch *batch = NULL;
	mesh_db_iter *it;
	const void *key, *val;
	size_t klen, vlen;
	int more, error;

	if ((error = mesh_db_iter_new(&it, db, "c/", 2)) < 0)
		return error;
	if ((error = mesh_db_batch_new(&batch)) < 0) {
		mesh_db_iter_free(it);
		return error;
	}
	while ((more = mesh_db_iter_next(it, &key, &klen, &val, &vlen)) > 0) {
		const char *k = key;
		const char *nul = memchr(k + 2, '\0', klen - 2);
		mesh_oid id;

		if (!nul || (size_t)(k + klen - (nul + 1)) != MESH_OID_RAWSZ)
			continue;
		memcpy(id.id, nul + 1, MESH_OID_RAWSZ);
		if (mesh_reach_seen(run->reach, &id) || mesh_odb_gc_kept(run->odb, &id))
			continue;
		run->res->index_entries_removed++;
		if (run->dry_run)
			continue;
		mesh_db_batch_delete(batch, key, klen);
		if (mesh_db_batch_count(batch) >= INDEX_DELETE_BATCH) {
			/* Synced: an index entry must be gone before its commit. */
			if ((error = mesh_db_batch_write(db, batch, true)) < 0)
				break;
			mesh_db_batch_free(batch);
			batch = NULL;
			if ((error = mesh_db_batch_new(&batch)) < 0)
				break;
		}
	}
	mesh_db_iter_free(it);
	if (error == 0 && more < 0)
		error = more;
	if (error == 0 && batch && mesh_db_batch_count(batch) > 0)
		error = mesh_db_batch_write(db, batch, true);
	mesh_db_batch_free(batch);
	return error;
}

static int sweep_object(void *ctx, const mesh_oid *id, uint64_t bytes, int64_t ctime_ns)
{
	gc_run *run = ctx;
	mesh_gc_result *r = run->res;
	int removed;

	if (++run->listed % 1024 == 0)
		mesh_progress_tick(mesh_store_progress(run->store), run->listed);
	if (mesh_reach_seen(run->reach, id)) {
		r->live_objects++;
		return 0;
	}
	/* An object file changed since the run began is new, whatever
	 * the marks say (ctime < 0: a database value, covered by the
	 * touched set alone). */
	if (ctime_ns >= run->begun_ns) {
		r->kept_new_objects++;
		return 0;
	}
	if ((removed = mesh_odb_gc_remove(run->odb, id, run->dry_run)) < 0)
		return removed;
	if (removed == 0) {
		r->kept_new_objects++;
		return 0;
	}
	r->removed_objects++;
	r->removed_bytes += bytes;
	if (ctime_ns < 0) {
		r->removed_db_objects++;
		r->removed_db_bytes += bytes;
	}
	if (run->stop_after && r->removed_objects >= run->stop_after)
		return mesh_error_set(MESH_EAGAIN, "gc stopped after removing %" PRIu64
				      " objects: run it again to go on", r->removed_objects);
	return 0;
}

static bool changed_before(const struct stat *st, struct timespec t)
{
	return st->st_ctim.tv_sec < t.tv_sec ||
	       (st->st_ctim.tv_sec == t.tv_sec && st->st_ctim.tv_nsec < t.tv_nsec);
}

/* Files in tmp/ changed before this process opened the store belong to
 * a process that died (scratch copies, objects half written). */
static int sweep_tmp(gc_run *run)
{
	const char *tmp = mesh_store_tmp_dir(run->store);
	struct timespec opened = mesh_store_opened(run->store);
	struct dirent *de;
	DIR *dir = opendir(tmp);
	int error = 0;

	if (!dir)
		return errno == ENOENT ? 0 : mesh_error_os("cannot list", tmp);
	while ((de = readdir(dir))) {
		struct stat st;

		if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) || !changed_before(&st, opened))
			continue;
		if (!run->dry_run && unlinkat(dirfd(dir), de->d_name, 0) < 0) {
			if (errno == ENOENT)
				continue;
			error = mesh_error_os("cannot remove leftover", de->d_name);
			break;
		}
		run->res->tmp_files_removed++;
		run->res->tmp_bytes_removed += (uint64_t)st.st_size;
	}
	closedir(dir);
	return error;
}

static int sweep(gc_run *run)
{
	int error;

	mesh_progress_set(mesh_store_progress(run->store), "sweeping objects", "objects", 0, 0);
	if ((error = sweep_index(run)) < 0 ||
	    (error = mesh_odb_gc_list(run->odb, sweep_object, run)) < 0)
		return error;
	/* A deleted value's space comes back only when its range is
	 * compacted ('0' follows '/').  That rewrites every small object, so
	 * only when it gives back enough; RocksDB gets to the rest itself. */
	if (!run->dry_run && run->res->removed_db_bytes >= COMPACT_MIN_BYTES)
		mesh_db_compact_range(mesh_store_db(run->store), "o/", 2, "o0", 2);
	return sweep_tmp(run);
}

/* ---- a run --------------------------------------------------------------- */

int mesh_gc_run(mesh_store *store, const mesh_gc_options *opts, mesh_gc_result *out)
{
	gc_run run = { .store = store, .odb = mesh_store_odb(store), .res = out };
	int64_t started = now_ms();
	struct timespec ts;
	int error;

	memset(out, 0, sizeof(*out));
	run.dry_run = opts && opts->dry_run;
	run.stop_after = opts ? opts->stop_after : 0;
	run.start = opts && opts->now ? opts->now : (int64_t)time(NULL);
	out->dry_run = run.dry_run;
	if ((error = state_read(&run)) < 0 ||
	    (error = mesh_reach_new(&run.reach, store, MESH_REACH_CHUNKS_LIST)) < 0)
		return error;
	/* Taken before the collection begins: a file changed after this
	 * instant is kept (a second guard; the touched set is the first:
	 * file times may lag the clock by a tick, never lead it). */
	clock_gettime(CLOCK_REALTIME, &ts);
	run.begun_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	if ((error = mesh_odb_gc_begin(run.odb)) < 0) {
		mesh_reach_free(run.reach);
		return error;
	}
	if (!run.dry_run)
		error = state_write(&run, true);
	if (error == 0 && (error = mark(&run)) == 0)
		error = sweep(&run);
	mesh_odb_gc_end(run.odb);
	mesh_reach_free(run.reach);
	/* A failed run leaves "running": the next says it resumed. */
	if (error == 0 && !run.dry_run)
		error = state_write(&run, false);
	out->milliseconds = (uint64_t)(now_ms() - started);
	return error;
}

/* ---- the command ----------------------------------------------------------- */

static int cmd_gc(mesh_cmd *cmd)
{
	bool dry_run = false;
	mesh_cmd_opt opts[] = { { "--dry-run", NULL, NULL, &dry_run } };
	mesh_gc_options o = { 0 };
	mesh_gc_result r;
	const char *pos[1];
	size_t npos = 0;
	int error;

	if ((error = mesh_cmd_parse_opts(cmd, 1, opts, 1, pos, 0, &npos, NULL)) < 0 ||
	    (error = mesh_cmd_need_positional(cmd, npos, 0, mesh_gc_cmd_spec.usage)) < 0 ||
	    (error = mesh_access_need_admin(cmd->env->store, cmd->caller,
					    "collect garbage")) < 0)
		return error;
	o.dry_run = dry_run;
	if ((error = mesh_gc_run(cmd->env->store, &o, &r)) < 0)
		return error;
	mesh_json_field_bool(&cmd->json, "dry_run", r.dry_run);
	mesh_json_field_bool(&cmd->json, "resumed", r.resumed);
	mesh_json_field_int(&cmd->json, "live_objects", (int64_t)r.live_objects);
	mesh_json_field_int(&cmd->json, "retained_commits", (int64_t)r.retained_commits);
	mesh_json_field_int(&cmd->json, "removed_objects", (int64_t)r.removed_objects);
	mesh_json_field_int(&cmd->json, "removed_bytes", (int64_t)r.removed_bytes);
	mesh_json_field_int(&cmd->json, "removed_db_objects", (int64_t)r.removed_db_objects);
	mesh_json_field_int(&cmd->json, "removed_db_bytes", (int64_t)r.removed_db_bytes);
	mesh_json_field_int(&cmd->json, "kept_new_objects", (int64_t)r.kept_new_objects);
	mesh_json_field_int(&cmd->json, "index_entries_removed", (int64_t)r.index_entries_removed);
	mesh_json_field_int(&cmd->json, "tmp_files_removed", (int64_t)r.tmp_files_removed);
	mesh_json_field_int(&cmd->json, "tmp_bytes_removed", (int64_t)r.tmp_bytes_removed);
	mesh_json_field_int(&cmd->json, "milliseconds", (int64_t)r.milliseconds);
	return 0;
}

const mesh_cmd_spec mesh_gc_cmd_spec = {
	"gc", cmd_gc, "gc [--dry-run]",
	"remove objects nothing keeps (refs, staging, retention, open files)",
};
