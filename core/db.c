/*
 * db.c - the metadata database over RocksDB's C API.
 *
 * RocksDB reports failures as malloc'd strings; every one is turned into
 * a mesh error here and released with rocksdb_free(), so no RocksDB type
 * or string escapes this file.
 */
#include "db.h"

#include <stdlib.h>
#include <string.h>
#include <rocksdb/c.h>

#include "error.h"

#define MESH_DB_CACHE_BYTES ((size_t)64 << 20)
/* RocksDB preallocates each write-ahead log by 1.1 memtables, capped at
 * max_total_wal_size: with its default 64 MiB memtable a store on a
 * small filesystem ran out of space on the first write.  8 MiB keeps
 * what a reopen or a flush needs small (see MESH_STORE_RESERVE_BYTES). */
#define MESH_DB_MEMTABLE_BYTES ((size_t)8 << 20)
#define MESH_DB_WAL_BYTES ((uint64_t)8 << 20)
/* RocksDB's default preallocates 4 MiB of MANIFEST; a store's MANIFEST
 * records a few hundred bytes per flush. */
#define MESH_DB_MANIFEST_PREALLOC ((size_t)256 << 10)
/* RocksDB's wal_recovery_mode values (rocksdb/options.h). */
#define MESH_DB_WAL_TOLERATE_TORN_TAIL 0
#define MESH_DB_WAL_POINT_IN_TIME 2
/* HEADER_LEVEL: RocksDB writes only the few header lines of an open
 * to its LOG file (no error or warning lines at run time). */
#define MESH_DB_INFO_LOG_HEADERS 5
#define MESH_DB_BLOOM_BITS 10
#define MESH_DB_MEMTABLE_BLOOM_RATIO 0.05
#define MESH_DB_DELETION_WINDOW 4096
#define MESH_DB_DELETION_TRIGGER 1024

struct mesh_db {
	rocksdb_t *rdb;
	rocksdb_cache_t *cache;
	rocksdb_readoptions_t *ropts;
	rocksdb_writeoptions_t *wopts_nosync;
	rocksdb_writeoptions_t *wopts_sync;
	char *path;
	void (*nospace_hook)(void *ctx);
	void *nospace_ctx;
};

struct mesh_db_batch {
	rocksdb_writebatch_t *wb;
};

struct mesh_db_iter {
	rocksdb_iterator_t *it;
	const char *db_path;   /* for messages; the db outlives the iterator */
	char *prefix;
	size_t plen;
	bool started;
	bool done;
};

/* RocksDB keeps errno only in its message text. */
static bool db_err_is_nospace(const char *err)
{
	return strstr(err, "No space left on device") != NULL;
}

/* Converts a RocksDB error string to a mesh error and frees it. */
static int db_fail(char *err, const char *what, const char *path)
{
	int code;

	if (db_err_is_nospace(err))
		code = mesh_error_set(MESH_ENOSPC,
			"metadata store %s is out of space (rocksdb %s: %s)", path, what, err);
	else
		code = mesh_error_set(MESH_EIO, "rocksdb %s failed on %s: %s",
				      what, path, err);
	rocksdb_free(err);
	return code;
}

/* A failed write: the store's hook hears of a full disk (it frees its
 * reserve so that RocksDB's recovery and a commit can finish). */
static int db_write_fail(mesh_db *db, char *err, const char *what)
{
	int code = db_fail(err, what, db->path);

	if (code == MESH_ENOSPC && db->nospace_hook)
		db->nospace_hook(db->nospace_ctx);
	return code;
}

/* RocksDB has no error code for a held LOCK file; its text is the only
 * signal: "While lock file" when another process holds the fcntl lock,
 * "lock hold by current process" on a second open inside this one.
 * Matching the bare word "lock" would also catch unrelated errors such
 * as "block checksum mismatch" or failing to create the LOCK file. */
static bool db_err_is_lock(const char *err)
{
	return strstr(err, "While lock file") ||
	       strstr(err, "lock hold by current process");
}

static rocksdb_options_t *db_options_new(rocksdb_cache_t *cache, int wal_mode);

/* A failed open is the write-ahead log's doing when the same database
 * opens read-only (changing nothing) with replay allowed to stop at the
 * damage. */
bool mesh_db_wal_damaged(const char *path)
{
	rocksdb_cache_t *cache = rocksdb_cache_create_lru(1 << 20);
	rocksdb_options_t *opts = cache ? db_options_new(cache, MESH_DB_WAL_POINT_IN_TIME) : NULL;
	rocksdb_t *rdb = NULL;
	char *err = NULL;

	if (opts) {
		rocksdb_options_set_create_if_missing(opts, 0);
		rdb = rocksdb_open_for_read_only(opts, path, 0, &err);
		rocksdb_options_destroy(opts);
	}
	if (rdb)
		rocksdb_close(rdb);
	rocksdb_free(err);
	if (cache)
		rocksdb_cache_destroy(cache);
	return rdb != NULL;
}

static int db_open_fail(char *err, const char *path)
{
	int code;

	if (strstr(err, "Corruption") && mesh_db_wal_damaged(path)) {
		code = mesh_error_set(MESH_EIO,
			"metadata store %s: its write-ahead log is corrupt, a record in it is damaged "
			"(%s), not merely cut short as a crash leaves it; the store was not opened, "
			"since opening it would drop that record and every change written after it",
			path, err);
		rocksdb_free(err);
		return code;
	}
	if (!db_err_is_lock(err))
		return db_fail(err, "open", path);
	code = mesh_error_set(MESH_EBUSY,
		"metadata store %s is in use by another meshfs process (%s)",
		path, err);
	rocksdb_free(err);
	return code;
}

/* The default mode refuses a log with a damaged record; point-in-time
 * recovery opens it, without the damaged record and all after it.  */
static rocksdb_options_t *db_options_new(rocksdb_cache_t *cache, int wal_mode)
{
	rocksdb_options_t *opts = rocksdb_options_create();
	rocksdb_block_based_table_options_t *table;

	if (!opts)
		return NULL;
	table = rocksdb_block_based_options_create();
	if (!table) {
		rocksdb_options_destroy(opts);
		return NULL;
	}
	/* The table options take ownership of the filter policy. */
	rocksdb_block_based_options_set_filter_policy(table,
		rocksdb_filterpolicy_create_bloom(MESH_DB_BLOOM_BITS));
	rocksdb_block_based_options_set_block_cache(table, cache);
	/* The factory copies the table options. */
	rocksdb_options_set_block_based_table_factory(opts, table);
	rocksdb_block_based_options_destroy(table);

	rocksdb_options_set_create_if_missing(opts, 1);
	/* Metadata values are tiny; compression would cost CPU for little. */
	rocksdb_options_set_compression(opts, rocksdb_no_compression);
	/* Most gets while writing miss (a name being created, an object not
	 * stored yet): a bloom filter over the memtable's keys answers those
	 * without walking its skip list. */
	rocksdb_options_set_memtable_prefix_bloom_size_ratio(opts, MESH_DB_MEMTABLE_BLOOM_RATIO);
	rocksdb_options_set_memtable_whole_key_filtering(opts, 1);
	rocksdb_options_increase_parallelism(opts, 2);
	rocksdb_options_set_write_buffer_size(opts, MESH_DB_MEMTABLE_BYTES);
	rocksdb_options_set_max_total_wal_size(opts, MESH_DB_WAL_BYTES);
	rocksdb_options_set_manifest_preallocation_size(opts, MESH_DB_MANIFEST_PREALLOC);
	/* A torn (incomplete) last record is what a crash leaves and is
	 * dropped; a damaged record fails the open (RocksDB's default,
	 * point-in-time recovery, silently stops replaying there). */
	rocksdb_options_set_wal_recovery_mode(opts, wal_mode);
	/* Debian's RocksDB 7.8 keeps its assertions, and its LOG writer
	 * asserts (aborting the daemon) on the first line logged after a
	 * line failed with ENOSPC.  meshfs reports RocksDB's errors itself. */
	rocksdb_options_set_info_log_level(opts, MESH_DB_INFO_LOG_HEADERS);
	rocksdb_options_set_keep_log_file_num(opts, 1);
	/* Staging is cleared by point deletes (a commit, a branch delete):
	 * a table file dense with tombstones is compacted soon, so scans of
	 * a branch's staging do not step over them for long. */
	rocksdb_options_add_compact_on_deletion_collector_factory(opts,
		MESH_DB_DELETION_WINDOW, MESH_DB_DELETION_TRIGGER);
	return opts;
}

static int db_alloc_handles(mesh_db *db, const char *path)
{
	db->path = strdup(path);
	db->cache = rocksdb_cache_create_lru(MESH_DB_CACHE_BYTES);
	db->ropts = rocksdb_readoptions_create();
	db->wopts_nosync = rocksdb_writeoptions_create();
	db->wopts_sync = rocksdb_writeoptions_create();
	if (!db->path || !db->cache || !db->ropts || !db->wopts_nosync ||
	    !db->wopts_sync)
		return mesh_error_oom();
	rocksdb_writeoptions_set_sync(db->wopts_nosync, 0);
	rocksdb_writeoptions_set_sync(db->wopts_sync, 1);
	return 0;
}

static int db_open_mode(mesh_db **out, const char *path, int wal_mode)
{
	mesh_db *db;
	rocksdb_options_t *opts;
	char *err = NULL;
	int rc;

	*out = NULL;
	if (!path || !*path)
		return mesh_error_set(MESH_EINVAL, "metadata store path is empty");
	db = calloc(1, sizeof(*db));
	if (!db)
		return mesh_error_oom();
	rc = db_alloc_handles(db, path);
	if (rc < 0) {
		mesh_db_close(db);
		return rc;
	}
	opts = db_options_new(db->cache, wal_mode);
	if (!opts) {
		mesh_db_close(db);
		return mesh_error_oom();
	}
	db->rdb = rocksdb_open(opts, path, &err);
	rocksdb_options_destroy(opts);
	if (err) {
		rc = db_open_fail(err, path);
		mesh_db_close(db);
		return rc;
	}
	*out = db;
	return 0;
}

int mesh_db_open(mesh_db **out, const char *path)
{
	return db_open_mode(out, path, MESH_DB_WAL_TOLERATE_TORN_TAIL);
}

int mesh_db_recover_wal(const char *path)
{
	mesh_db *db;
	int error = db_open_mode(&db, path, MESH_DB_WAL_POINT_IN_TIME);

	mesh_db_close(db);
	return error;
}

void mesh_db_set_nospace_hook(mesh_db *db, void (*hook)(void *ctx), void *ctx)
{
	db->nospace_hook = hook;
	db->nospace_ctx = ctx;
}

void mesh_db_close(mesh_db *db)
{
	if (!db)
		return;
	if (db->rdb)
		rocksdb_close(db->rdb);
	if (db->wopts_sync)
		rocksdb_writeoptions_destroy(db->wopts_sync);
	if (db->wopts_nosync)
		rocksdb_writeoptions_destroy(db->wopts_nosync);
	if (db->ropts)
		rocksdb_readoptions_destroy(db->ropts);
	if (db->cache)
		rocksdb_cache_destroy(db->cache);
	free(db->path);
	free(db);
}

static const rocksdb_writeoptions_t *db_wopts(mesh_db *db, bool sync)
{
	return sync ? db->wopts_sync : db->wopts_nosync;
}

int mesh_db_find(mesh_db *db, const void *key, size_t klen,
		 void **val, size_t *vlen)
{
	rocksdb_pinnableslice_t *slice;
	const char *data;
	size_t len;
	char *err = NULL;
	void *copy;

	*val = NULL;
	*vlen = 0;
	/* The pinned form tells "absent" from "empty value", which
	 * rocksdb_get's NULL return does not. */
	slice = rocksdb_get_pinned(db->rdb, db->ropts, key, klen, &err);
	if (err)
		return db_fail(err, "get", db->path);
	if (!slice)
		return 0;
	data = rocksdb_pinnableslice_value(slice, &len);
	copy = malloc(len ? len : 1);
	if (!copy) {
		rocksdb_pinnableslice_destroy(slice);
		return mesh_error_oom();
	}
	if (len)
		memcpy(copy, data, len);
	rocksdb_pinnableslice_destroy(slice);
	*val = copy;
	*vlen = len;
	return 1;
}

int mesh_db_get(mesh_db *db, const void *key, size_t klen,
		void **val, size_t *vlen)
{
	int found = mesh_db_find(db, key, klen, val, vlen);

	if (found == 0)
		return mesh_error_set(MESH_ENOENT, "key not found in %s", db->path);
	return found < 0 ? found : 0;
}

int mesh_db_has(mesh_db *db, const void *key, size_t klen)
{
	rocksdb_pinnableslice_t *slice;
	char *err = NULL;

	slice = rocksdb_get_pinned(db->rdb, db->ropts, key, klen, &err);
	if (err)
		return db_fail(err, "get", db->path);
	if (!slice)
		return 0;
	rocksdb_pinnableslice_destroy(slice);
	return 1;
}

uint64_t mesh_db_sequence(mesh_db *db)
{
	return rocksdb_get_latest_sequence_number(db->rdb);
}

int mesh_db_put(mesh_db *db, const void *key, size_t klen,
		const void *val, size_t vlen, bool sync)
{
	char *err = NULL;

	rocksdb_put(db->rdb, db_wopts(db, sync), key, klen, val, vlen, &err);
	if (err)
		return db_write_fail(db, err, "put");
	return 0;
}

int mesh_db_delete(mesh_db *db, const void *key, size_t klen, bool sync)
{
	char *err = NULL;

	rocksdb_delete(db->rdb, db_wopts(db, sync), key, klen, &err);
	if (err)
		return db_write_fail(db, err, "delete");
	return 0;
}

void mesh_db_compact_range(mesh_db *db, const void *start, size_t slen,
			   const void *end, size_t elen)
{
	rocksdb_compact_range(db->rdb, start, slen, end, elen);
}

int mesh_db_batch_new(mesh_db_batch **out)
{
	mesh_db_batch *b = calloc(1, sizeof(*b));

	*out = NULL;
	if (!b)
		return mesh_error_oom();
	b->wb = rocksdb_writebatch_create();
	if (!b->wb) {
		free(b);
		return mesh_error_oom();
	}
	*out = b;
	return 0;
}

void mesh_db_batch_put(mesh_db_batch *b, const void *key, size_t klen,
		       const void *val, size_t vlen)
{
	rocksdb_writebatch_put(b->wb, key, klen, val, vlen);
}

void mesh_db_batch_delete(mesh_db_batch *b, const void *key, size_t klen)
{
	rocksdb_writebatch_delete(b->wb, key, klen);
}

size_t mesh_db_batch_count(const mesh_db_batch *b)
{
	int n = rocksdb_writebatch_count(b->wb);

	return n > 0 ? (size_t)n : 0;
}

int mesh_db_batch_write(mesh_db *db, mesh_db_batch *b, bool sync)
{
	char *err = NULL;

	rocksdb_write(db->rdb, db_wopts(db, sync), b->wb, &err);
	if (err)
		return db_write_fail(db, err, "batch write");
	return 0;
}

void mesh_db_batch_free(mesh_db_batch *b)
{
	if (!b)
		return;
	rocksdb_writebatch_destroy(b->wb);
	free(b);
}

int mesh_db_iter_new(mesh_db_iter **out, mesh_db *db,
		     const void *prefix, size_t plen)
{
	mesh_db_iter *it = calloc(1, sizeof(*it));

	*out = NULL;
	if (!it)
		return mesh_error_oom();
	it->prefix = malloc(plen ? plen : 1);
	if (!it->prefix) {
		mesh_db_iter_free(it);
		return mesh_error_oom();
	}
	if (plen)
		memcpy(it->prefix, prefix, plen);
	it->plen = plen;
	it->db_path = db->path;
	it->it = rocksdb_create_iterator(db->rdb, db->ropts);
	if (!it->it) {
		mesh_db_iter_free(it);
		return mesh_error_oom();
	}
	rocksdb_iter_seek(it->it, it->prefix, plen);
	*out = it;
	return 0;
}

int mesh_db_iter_next(mesh_db_iter *it, const void **key, size_t *klen,
		      const void **val, size_t *vlen)
{
	const char *k;
	size_t kl;
	char *err = NULL;

	if (it->done)
		return 0;
	/* The first call reports the position seek() found. */
	if (it->started)
		rocksdb_iter_next(it->it);
	it->started = true;
	if (!rocksdb_iter_valid(it->it)) {
		it->done = true;
		rocksdb_iter_get_error(it->it, &err);
		if (err)
			return db_fail(err, "iteration", it->db_path);
		return 0;
	}
	k = rocksdb_iter_key(it->it, &kl);
	if (kl < it->plen || memcmp(k, it->prefix, it->plen) != 0) {
		it->done = true;
		return 0;
	}
	*key = k;
	*klen = kl;
	*val = rocksdb_iter_value(it->it, vlen);
	return 1;
}

int mesh_db_iter_seek(mesh_db_iter *it, const void *key, size_t klen)
{
	rocksdb_iter_seek(it->it, key, klen);
	it->started = false;
	it->done = false;
	return 0;
}

void mesh_db_iter_free(mesh_db_iter *it)
{
	if (!it)
		return;
	if (it->it)
		rocksdb_iter_destroy(it->it);
	free(it->prefix);
	free(it);
}
