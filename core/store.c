#include "store.h"
#include "audit.h"
#include "treecache.h"
#include "access.h"
#include "catalog.h"
#include "progress.h"
#include "error.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

/* Striped locks: a fixed table hashed by branch, so locking needs no
 * allocation.  A stripe's mutex is held only to note which branches are
 * held: a branch held for long (its pre-commit hooks run) never blocks
 * another branch that shares its stripe. */
#define BRANCH_LOCK_STRIPES 64
#define BRANCH_LOCK_HELD_MAX 16

typedef struct branch_stripe {
	pthread_mutex_t mutex;
	pthread_cond_t released;
	uint64_t held[BRANCH_LOCK_HELD_MAX];   /* hashes of the held branches */
	size_t held_count;
} branch_stripe;

/* Decompressed chunks kept for repeated small reads. */
#define CHUNK_CACHE_BYTES (64u << 20)
/* Trees are immutable and shared by every view of the store. */
#define TREE_CACHE_TREES 16384

/* One per core of the machines meshfs targets: read-ahead verifies
 * chunks in parallel with the reader. */
#define PREFETCH_THREADS 6

/* Stored objects below this size go to the database, larger to files. */
#define SMALL_OBJECT_BYTES (16u << 10)

#define FORMAT_FILE "FORMAT"
#define FORMAT_PREFIX "meshfs store format "
#define RESERVE_FILE "reserve"
/* "<uid> <gid>": see mesh_store_legacy_owner. */
#define LEGACY_OWNER_KEY "m/legacy-owner"
/* What an open may write: the replayed log as one table file (a log is
 * capped at 8 MiB, see db.c), a new log, a MANIFEST. */
#define OPEN_NEEDS_BYTES (16u << 20)

struct mesh_store {
	char *path;
	char *reserve_path;
	/* Whether STORE/reserve holds its space: read without the lock on
	 * the write path; space_lock serializes releasing and re-creating
	 * it (an unlink, a statvfs, an fallocate), and guards nothing else. */
	atomic_bool reserve_held;
	pthread_mutex_t space_lock;
	char *tmp_dir;
	mesh_log log;
	mesh_db *db;
	mesh_odb *odb;
	mesh_refdb *refs;
	mesh_chunk_cache *cache;
	mesh_treecache *trees;
	mesh_audit *audit;
	mesh_progress_table *progress;
	branch_stripe branch_locks[BRANCH_LOCK_STRIPES];
	char *mountpoint;         /* set before threads share the handle */
	struct timespec opened;   /* the filesystems' clock (coarse) */
	struct mesh_access_cache *access;
	struct mesh_catalog *catalog;
	bool root_squash;         /* set before threads share the handle */
	uid_t admin_uid;
	uint32_t legacy_uid, legacy_gid;   /* set at open, then read-only */
};

static char *path_join(const char *dir, const char *name)
{
	size_t len = strlen(dir) + strlen(name) + 2;
	char *out = malloc(len);

	if (out)
		snprintf(out, len, "%s/%s", dir, name);
	return out;
}

int mesh_store_default_path(char **out)
{
	const char *env = getenv("MESHFS_STORE");
	const char *home = getenv("HOME");
	char buf[PATH_MAX];

	if (env && *env) {
		*out = strdup(env);
	} else {
		if (!home || !*home)
			return mesh_error_set(MESH_EINVAL,
				"no store given: set --store, MESHFS_STORE or HOME");
		snprintf(buf, sizeof(buf), "%s/.local/share/meshfs", home);
		*out = strdup(buf);
	}
	return *out ? 0 : mesh_error_oom();
}

static int make_dir(const char *path)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return mesh_error_os("cannot create directory", path);
	return 0;
}

/* mkdir -p, for the store's own parents (~/.local/share). */
static int make_dirs(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return mesh_error_set(MESH_ENAMETOOLONG, "store path too long: %s", path);
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int error = make_dir(buf);
		*p = '/';
		if (error < 0)
			return error;
	}
	return make_dir(buf);
}

/* --- format version --------------------------------------------------- */

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int not_a_store(const char *path)
{
	return mesh_error_set(MESH_ENOENT,
		"%s is not a meshfs store (run `meshfs init --store %s`)", path, path);
}

int mesh_store_format(const char *path, int *version)
{
	char *file = path_join(path, FORMAT_FILE), *db = path_join(path, "db");
	char line[64] = "";
	FILE *f;
	int error = 0;

	*version = 0;
	if (!file || !db) {
		error = mesh_error_oom();
	} else if ((f = fopen(file, "r"))) {
		if (!fgets(line, sizeof(line), f) ||
		    strncmp(line, FORMAT_PREFIX, strlen(FORMAT_PREFIX)) != 0 ||
		    sscanf(line + strlen(FORMAT_PREFIX), "%d", version) != 1 || *version < 1)
			error = mesh_error_set(MESH_EIO,
				"%s does not name a store format version (it reads \"%.40s\")",
				file, line);
		fclose(f);
	} else if (errno != ENOENT) {
		error = mesh_error_os("cannot read", file);
	} else if (is_dir(db)) {
		*version = 1;   /* stores made before the version was recorded */
	} else {
		error = not_a_store(path);
	}
	free(file);
	free(db);
	return error;
}

/* Written whole or not at all: a crash leaves the old file or none. */
static int write_format(const char *path)
{
	char tmp[PATH_MAX], file[PATH_MAX], text[64];
	int fd, n, error = 0;

	snprintf(tmp, sizeof(tmp), "%s/%s.tmp", path, FORMAT_FILE);
	snprintf(file, sizeof(file), "%s/%s", path, FORMAT_FILE);
	n = snprintf(text, sizeof(text), FORMAT_PREFIX "%d\n", MESH_STORE_FORMAT);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return mesh_error_os("cannot create", tmp);
	if (write(fd, text, (size_t)n) != n || fsync(fd) < 0)
		error = mesh_error_os("cannot write", tmp);
	if (close(fd) < 0 && error == 0)
		error = mesh_error_os("cannot write", tmp);
	if (error == 0 && rename(tmp, file) < 0)
		error = mesh_error_os("cannot create", file);
	if (error < 0) {
		unlink(tmp);
		return error;
	}
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		if (fsync(fd) < 0)
			error = mesh_error_os("cannot sync", path);
		close(fd);
	}
	return error;
}

static int format_refused(const char *path, int version)
{
	if (version > MESH_STORE_FORMAT)
		return mesh_error_set(MESH_EINVAL,
			"store %s has format version %d, newer than this meshfs knows "
			"(version %d): use a newer meshfs", path, version, MESH_STORE_FORMAT);
	return mesh_error_set(MESH_EINVAL,
		"store %s has format version %d and this meshfs uses version %d: "
		"run `meshfs migrate --store %s` to migrate it (older meshfs versions "
		"cannot open it afterwards)", path, version, MESH_STORE_FORMAT, path);
}

/* --- the reserve --------------------------------------------------------- */

static uint64_t free_bytes(const char *path)
{
	struct statvfs sv;

	if (statvfs(path, &sv) < 0)
		return UINT64_MAX;    /* unknown: let the writes tell */
	return (uint64_t)sv.f_bavail * sv.f_frsize;
}

/* Allocated blocks, not a sparse file: the space must really be there
 * when it is handed back. */
static int reserve_create(const char *file)
{
	int fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	int rc;

	if (fd < 0)
		return mesh_error_os("cannot create", file);
	rc = posix_fallocate(fd, 0, (off_t)MESH_STORE_RESERVE_BYTES);
	close(fd);
	if (rc != 0) {
		unlink(file);
		errno = rc;
		return mesh_error_os("cannot allocate the space reserve", file);
	}
	return 0;
}

static bool reserve_present(const char *file)
{
	struct stat st;

	return stat(file, &st) == 0 &&
	       (uint64_t)st.st_blocks * 512 >= MESH_STORE_RESERVE_BYTES;
}

void mesh_store_space_release(mesh_store *store)
{
	bool released = false;

	if (!atomic_load(&store->reserve_held))
		return;
	pthread_mutex_lock(&store->space_lock);
	if (atomic_load(&store->reserve_held)) {
		released = unlink(store->reserve_path) == 0 || errno == ENOENT;
		atomic_store(&store->reserve_held, !released);
	}
	pthread_mutex_unlock(&store->space_lock);
	if (released)
		mesh_log_write(&store->log, MESH_LOG_WARN,
			"store %s is out of space: released its %u MiB reserve so that commits "
			"and a reopen can finish; new file data is refused until %u MiB are free",
			store->path, MESH_STORE_RESERVE_BYTES >> 20, MESH_STORE_RESUME_BYTES >> 20);
}

static void space_release_hook(void *ctx)
{
	mesh_store_space_release(ctx);
}

int mesh_store_space_check(mesh_store *store)
{
	uint64_t avail;
	int error = 0;

	if (atomic_load(&store->reserve_held))
		return 0;
	pthread_mutex_lock(&store->space_lock);
	if (!atomic_load(&store->reserve_held)) {
		avail = free_bytes(store->path);
		if (avail >= MESH_STORE_RESUME_BYTES && reserve_create(store->reserve_path) == 0) {
			atomic_store(&store->reserve_held, true);
			mesh_log_write(&store->log, MESH_LOG_INFO,
				"store %s has space again: reserve re-created, writes resume",
				store->path);
		} else {
			error = mesh_error_set(MESH_ENOSPC,
				"store %s is out of space: %" PRIu64 " MiB free, new file data needs "
				"%u MiB free (meshfs keeps %u MiB for commits and reopening); "
				"free space on that filesystem and write again",
				store->path, avail >> 20, MESH_STORE_RESUME_BYTES >> 20,
				MESH_STORE_RESERVE_BYTES >> 20);
		}
	}
	pthread_mutex_unlock(&store->space_lock);
	return error;
}

void mesh_store_space_refresh(mesh_store *store)
{
	if (atomic_load(&store->reserve_held))
		return;
	mesh_store_space_check(store);
	mesh_error_clear();
}

/* At open: a full disk gets the reserve back first, so that RocksDB can
 * replay its log; a missing reserve is made when there is room. */
static void reserve_at_open(mesh_store *store)
{
	bool present = reserve_present(store->reserve_path);

	atomic_store(&store->reserve_held, present);
	if (present && free_bytes(store->path) < OPEN_NEEDS_BYTES)
		mesh_store_space_release(store);
}

/* The store directory's owner: the user the daemon ran as, whom the
 * mount showed as every file's owner before ownership was versioned. */
static int directory_owner(const char *path, uint32_t *uid, uint32_t *gid)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return mesh_error_os("cannot stat", path);
	*uid = (uint32_t)st.st_uid;
	*gid = (uint32_t)st.st_gid;
	return 0;
}

static int legacy_owner_read(mesh_db *db, const char *path, uint32_t *uid, uint32_t *gid)
{
	char text[64];
	unsigned long u, g;
	size_t len;
	void *val;
	int found = mesh_db_find(db, LEGACY_OWNER_KEY, strlen(LEGACY_OWNER_KEY), &val, &len);

	if (found < 0)
		return found;
	if (found == 0)   /* an init cut short before it recorded one */
		return directory_owner(path, uid, gid);
	snprintf(text, sizeof(text), "%.*s", (int)(len < 63 ? len : 63), (char *)val);
	free(val);
	if (sscanf(text, "%lu %lu", &u, &g) != 2 || u > UINT32_MAX || g > UINT32_MAX)
		return mesh_error_set(MESH_EIO,
			"store %s: its legacy owner record reads \"%s\", not \"<uid> <gid>\"",
			path, text);
	*uid = (uint32_t)u;
	*gid = (uint32_t)g;
	return 0;
}

/* Records the legacy owner unless the database has one (a repeated init
 * or migrate keeps the first). */
static int legacy_owner_record(mesh_db *db, const char *path)
{
	uint32_t uid = 0, gid = 0;
	char text[32];
	int error = mesh_db_has(db, LEGACY_OWNER_KEY, strlen(LEGACY_OWNER_KEY));

	if (error != 0)
		return error < 0 ? error : 0;
	if ((error = directory_owner(path, &uid, &gid)) < 0)
		return error;
	snprintf(text, sizeof(text), "%" PRIu32 " %" PRIu32, uid, gid);
	return mesh_db_put(db, LEGACY_OWNER_KEY, strlen(LEGACY_OWNER_KEY), text,
			   strlen(text), true);
}

static int create_db(const char *path)
{
	char *sub = path_join(path, "db");
	mesh_db *db;
	int error;

	if (!sub)
		return mesh_error_oom();
	error = mesh_db_open(&db, sub);
	free(sub);
	if (error == 0) {
		error = legacy_owner_record(db, path);
		mesh_db_close(db);
	}
	return error;
}

static int store_reserve_create(const char *path)
{
	char *file = path_join(path, RESERVE_FILE);
	int error;

	if (!file)
		return mesh_error_oom();
	error = reserve_present(file) ? 0 : reserve_create(file);
	free(file);
	return error;
}

static bool store_exists(const char *path)
{
	char *db = path_join(path, "db"), *format = path_join(path, FORMAT_FILE);
	bool exists = (db && is_dir(db)) || (format && access(format, F_OK) == 0);

	free(db);
	free(format);
	return exists;
}

int mesh_store_init(const char *path)
{
	static const char *subdirs[] = { "objects", "tmp" };
	char *sub;
	int version, error;

	/* An existing store is left as it is; one of another version is
	 * refused, never converted by a repeated init. */
	if (store_exists(path)) {
		if ((error = mesh_store_format(path, &version)) < 0)
			return error;
		if (version != MESH_STORE_FORMAT)
			return format_refused(path, version);
	}
	error = make_dirs(path);
	for (size_t i = 0; error == 0 && i < 2; i++) {
		if (!(sub = path_join(path, subdirs[i])))
			return mesh_error_oom();
		error = make_dir(sub);
		free(sub);
	}
	/* The version first: a store whose init was cut short is then
	 * finished by the next init, not mistaken for version 1. */
	if (error == 0)
		error = write_format(path);
	if (error == 0)
		error = create_db(path);
	if (error == 0)
		error = store_reserve_create(path);
	return error;
}

int mesh_store_migrate(const char *path, int *from)
{
	int error;

	if ((error = mesh_store_format(path, from)) < 0)
		return error;
	if (*from == MESH_STORE_FORMAT)
		return 0;
	if (*from > MESH_STORE_FORMAT)
		return format_refused(path, *from);
	/* 1 -> 2: the database must open as it is (which also takes its lock:
	 * a mounted store is EBUSY), then the reserve, then the version.
	 * 2 -> 3: the legacy owner is recorded as the database opens; trees
	 * and staged entries of before stay as they are and decode as such. */
	if ((error = create_db(path)) < 0 || (error = store_reserve_create(path)) < 0)
		return error;
	return write_format(path);
}

int mesh_store_recover_wal(const char *path, bool *was_damaged)
{
	char *db = path_join(path, "db");
	mesh_db *intact = NULL;
	int version, error;

	*was_damaged = false;
	if (!db)
		return mesh_error_oom();
	if ((error = mesh_store_format(path, &version)) == 0) {
		error = mesh_db_open(&intact, db);
		mesh_db_close(intact);
		if (error == MESH_EIO && mesh_db_wal_damaged(db)) {
			*was_damaged = true;
			error = mesh_db_recover_wal(db);
		}
	}
	free(db);
	return error;
}

static int check_is_store(const char *path)
{
	struct stat st;
	char *db = path_join(path, "db");
	int ok, version, error;

	if (!db)
		return mesh_error_oom();
	ok = stat(db, &st) == 0 && S_ISDIR(st.st_mode);
	free(db);
	if (!ok)
		return not_a_store(path);
	if ((error = mesh_store_format(path, &version)) < 0)
		return error;
	return version == MESH_STORE_FORMAT ? 0 : format_refused(path, version);
}

/*
 * Small objects (trees, commits, file maps, small files) live in the
 * database: no file each, and the synced batch of a commit makes them
 * durable with no fsync of their own.  Chunks of large files are files.
 */
static int open_object_backend(mesh_store *store, const char *objects,
			       mesh_odb_backend **out)
{
	mesh_odb_backend *small, *large;
	int error;

	if ((error = mesh_odb_backend_db(&small, store->db)) < 0)
		return error;
	if ((error = mesh_odb_backend_loose(&large, objects, store->tmp_dir)) < 0) {
		small->free(small);
		return error;
	}
	return mesh_odb_backend_tiered(out, small, large, SMALL_OBJECT_BYTES);
}

static int wal_damaged_hint(const char *path)
{
	char why[1024];

	snprintf(why, sizeof(why), "%s", mesh_error_message());
	return mesh_error_set(MESH_EIO,
		"%s. Restore %s from a backup, or run `meshfs recover --accept-wal-loss "
		"--store %s` to open it without the damaged record and everything written "
		"after it", why, path, path);
}

static int open_parts(mesh_store *store)
{
	mesh_odb_backend *backend;
	mesh_refdb_backend *ref_backend;
	char *db_path = path_join(store->path, "db");
	char *objects = path_join(store->path, "objects");
	int error = MESH_ENOMEM;

	if (!db_path || !objects || !store->tmp_dir) {
		error = mesh_error_oom();
		goto done;
	}
	if ((error = mesh_db_open(&store->db, db_path)) < 0) {
		if (error == MESH_EIO && mesh_db_wal_damaged(db_path))
			error = wal_damaged_hint(store->path);
		goto done;
	}
	mesh_db_set_nospace_hook(store->db, space_release_hook, store);
	if ((error = legacy_owner_read(store->db, store->path, &store->legacy_uid,
				       &store->legacy_gid)) < 0)
		goto done;
	if ((error = open_object_backend(store, objects, &backend)) < 0 ||
	    (error = mesh_odb_open(&store->odb, backend, &store->log)) < 0)
		goto done;
	mesh_odb_set_nospace_hook(store->odb, space_release_hook, store);
	if ((error = mesh_refdb_backend_rocksdb(&ref_backend, store->db)) < 0 ||
	    (error = mesh_refdb_open(&store->refs, ref_backend)) < 0)
		goto done;
	if ((error = mesh_treecache_new(&store->trees, store->odb, TREE_CACHE_TREES)) < 0 ||
	    (error = mesh_audit_open(&store->audit, store->db, &store->log)) < 0)
		goto done;
	if ((error = mesh_chunk_cache_new(&store->cache, CHUNK_CACHE_BYTES)) == 0)
		error = mesh_chunk_cache_start_prefetch(store->cache, store->odb,
							PREFETCH_THREADS);
done:
	free(db_path);
	free(objects);
	return error;
}

int mesh_store_open(mesh_store **out, const char *path, const mesh_log *log)
{
	mesh_store *store;
	int error;

	*out = NULL;
	if ((error = check_is_store(path)) < 0)
		return error;
	if (!(store = calloc(1, sizeof(*store))))
		return mesh_error_oom();
	for (int i = 0; i < BRANCH_LOCK_STRIPES; i++) {
		pthread_mutex_init(&store->branch_locks[i].mutex, NULL);
		pthread_cond_init(&store->branch_locks[i].released, NULL);
	}
	pthread_mutex_init(&store->space_lock, NULL);
	if (log)
		store->log = *log;
	else
		store->log.level = MESH_LOG_WARN;
	/* The coarse clock is the one file timestamps are taken from. */
	clock_gettime(CLOCK_REALTIME_COARSE, &store->opened);
	store->path = strdup(path);
	store->tmp_dir = store->path ? path_join(path, "tmp") : NULL;
	store->reserve_path = store->path ? path_join(path, RESERVE_FILE) : NULL;
	if (store->reserve_path)
		reserve_at_open(store);
	if (!store->reserve_path || (error = mesh_access_cache_new(&store->access)) < 0 ||
	    (error = mesh_catalog_new(&store->catalog, store->path)) < 0 ||
	    (error = mesh_progress_table_new(&store->progress)) < 0 ||
	    (error = open_parts(store)) < 0) {
		if (!store->reserve_path)
			error = mesh_error_oom();
		mesh_store_close(store);
		return error;
	}
	mesh_store_space_check(store);     /* re-creates a missing reserve */
	mesh_error_clear();
	*out = store;
	return 0;
}

void mesh_store_close(mesh_store *store)
{
	if (!store)
		return;
	/* First: its writer thread writes to the database. */
	mesh_audit_close(store->audit);
	mesh_access_cache_free(store->access);
	mesh_catalog_free(store->catalog);
	mesh_chunk_cache_free(store->cache);
	mesh_treecache_free(store->trees);
	mesh_progress_table_free(store->progress);
	mesh_refdb_close(store->refs);
	mesh_odb_close(store->odb);
	mesh_db_close(store->db);
	for (int i = 0; i < BRANCH_LOCK_STRIPES; i++) {
		pthread_mutex_destroy(&store->branch_locks[i].mutex);
		pthread_cond_destroy(&store->branch_locks[i].released);
	}
	free(store->mountpoint);
	pthread_mutex_destroy(&store->space_lock);
	free(store->reserve_path);
	free(store->tmp_dir);
	free(store->path);
	free(store);
}

void mesh_store_legacy_owner(const mesh_store *store, uint32_t *uid, uint32_t *gid)
{
	*uid = store->legacy_uid;
	*gid = store->legacy_gid;
}

const char *mesh_store_path(const mesh_store *store) { return store->path; }
const char *mesh_store_tmp_dir(const mesh_store *store) { return store->tmp_dir; }
mesh_db *mesh_store_db(mesh_store *store) { return store->db; }
mesh_odb *mesh_store_odb(mesh_store *store) { return store->odb; }
mesh_refdb *mesh_store_refs(mesh_store *store) { return store->refs; }
mesh_chunk_cache *mesh_store_cache(mesh_store *store) { return store->cache; }
mesh_treecache *mesh_store_trees(mesh_store *store) { return store->trees; }
mesh_progress_table *mesh_store_progress(mesh_store *store) { return store->progress; }
const mesh_log *mesh_store_log(const mesh_store *store) { return &store->log; }
mesh_audit *mesh_store_audit(mesh_store *store) { return store->audit; }
struct timespec mesh_store_opened(const mesh_store *store) { return store->opened; }
struct mesh_access_cache *mesh_store_access(mesh_store *store) { return store->access; }
struct mesh_catalog *mesh_store_catalog(mesh_store *store) { return store->catalog; }
uid_t mesh_store_admin_uid(const mesh_store *store) { return store->admin_uid; }
bool mesh_store_root_squashed(const mesh_store *store) { return store->root_squash; }

int mesh_store_set_root_squash(mesh_store *store, bool on)
{
	struct stat st;

	if (!on) {
		store->root_squash = false;
		store->admin_uid = 0;
		return 0;
	}
	if (stat(store->path, &st) < 0)
		return mesh_error_os("cannot stat the store", store->path);
	store->root_squash = true;
	store->admin_uid = st.st_uid;
	return 0;
}

/* FNV-1a of "domain/branch", 64 bits: two branches with one hash would
 * only be serialized, never mixed up. */
static uint64_t branch_hash(const char *domain, const char *branch)
{
	uint64_t hash = 14695981039346656037ull;

	for (const char *p = domain; *p; p++)
		hash = (hash ^ (unsigned char)*p) * 1099511628211ull;
	hash = (hash ^ '/') * 1099511628211ull;
	for (const char *p = branch; *p; p++)
		hash = (hash ^ (unsigned char)*p) * 1099511628211ull;
	return hash;
}

static bool stripe_holds(const branch_stripe *s, uint64_t hash)
{
	for (size_t i = 0; i < s->held_count; i++)
		if (s->held[i] == hash)
			return true;
	return false;
}

void mesh_store_branch_lock(mesh_store *store, const char *domain,
			    const char *branch)
{
	uint64_t hash = branch_hash(domain, branch);
	branch_stripe *s = &store->branch_locks[hash % BRANCH_LOCK_STRIPES];

	pthread_mutex_lock(&s->mutex);
	while (stripe_holds(s, hash) || s->held_count == BRANCH_LOCK_HELD_MAX)
		pthread_cond_wait(&s->released, &s->mutex);
	s->held[s->held_count++] = hash;
	pthread_mutex_unlock(&s->mutex);
}

bool mesh_store_branch_held(mesh_store *store, const char *domain, const char *branch)
{
	uint64_t hash = branch_hash(domain, branch);
	branch_stripe *s = &store->branch_locks[hash % BRANCH_LOCK_STRIPES];
	bool held;

	pthread_mutex_lock(&s->mutex);
	held = stripe_holds(s, hash);
	pthread_mutex_unlock(&s->mutex);
	return held;
}

bool mesh_store_branch_trylock(mesh_store *store, const char *domain, const char *branch)
{
	uint64_t hash = branch_hash(domain, branch);
	branch_stripe *s = &store->branch_locks[hash % BRANCH_LOCK_STRIPES];
	bool taken = false;

	pthread_mutex_lock(&s->mutex);
	if (!stripe_holds(s, hash) && s->held_count < BRANCH_LOCK_HELD_MAX) {
		s->held[s->held_count++] = hash;
		taken = true;
	}
	pthread_mutex_unlock(&s->mutex);
	return taken;
}

void mesh_store_branch_unlock(mesh_store *store, const char *domain,
			      const char *branch)
{
	uint64_t hash = branch_hash(domain, branch);
	branch_stripe *s = &store->branch_locks[hash % BRANCH_LOCK_STRIPES];

	pthread_mutex_lock(&s->mutex);
	for (size_t i = 0; i < s->held_count; i++) {
		if (s->held[i] == hash) {
			s->held[i] = s->held[--s->held_count];
			break;
		}
	}
	pthread_cond_broadcast(&s->released);
	pthread_mutex_unlock(&s->mutex);
}

int mesh_store_set_mountpoint(mesh_store *store, const char *path)
{
	char *copy = path ? strdup(path) : NULL;

	if (path && !copy)
		return mesh_error_oom();
	free(store->mountpoint);
	store->mountpoint = copy;
	return 0;
}

const char *mesh_store_mountpoint(const mesh_store *store) { return store->mountpoint; }

static int self_groups(const void *source, gid_t *out, int max)
{
	(void)source;
	return getgroups(max, out);
}

void mesh_caller_self(mesh_caller *out)
{
	memset(out, 0, sizeof(*out));
	out->uid = getuid();
	out->gid = getgid();
	out->pid = getpid();
	out->groups_of = self_groups;
}

bool mesh_caller_in_group(const mesh_caller *caller, gid_t gid)
{
	gid_t groups[MESH_CALLER_GROUPS_MAX];
	int count;

	if (caller->gid == gid)
		return true;
	if (!caller->groups_of)
		return false;
	count = caller->groups_of(caller->source, groups, MESH_CALLER_GROUPS_MAX);
	for (int i = 0; i < count; i++)
		if (groups[i] == gid)
			return true;
	return false;
}
