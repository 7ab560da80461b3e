#include "store.h"
#include "treecache.h"
#include "error.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Striped locks: a fixed table hashed by branch, so locking needs no
 * allocation and two branches rarely share a stripe. */
#define BRANCH_LOCK_STRIPES 64

/* Decompressed chunks kept for repeated small reads. */
#define CHUNK_CACHE_BYTES (64u << 20)
/* Trees are immutable and shared by every view of the store. */
#define TREE_CACHE_TREES 16384

/* One per core of the machines meshfs targets: read-ahead verifies
 * chunks in parallel with the reader. */
#define PREFETCH_THREADS 6

/* Stored objects below this size go to the database, larger to files. */
#define SMALL_OBJECT_BYTES (16u << 10)

struct mesh_store {
	char *path;
	char *tmp_dir;
	mesh_log log;
	mesh_db *db;
	mesh_odb *odb;
	mesh_refdb *refs;
	mesh_chunk_cache *cache;
	mesh_treecache *trees;
	pthread_mutex_t branch_locks[BRANCH_LOCK_STRIPES];
	struct timespec opened;   /* the filesystems' clock (coarse) */
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

int mesh_store_init(const char *path)
{
	static const char *subdirs[] = { "objects", "tmp" };
	char *sub;
	mesh_db *db;
	int error = make_dirs(path);

	for (size_t i = 0; error == 0 && i < 2; i++) {
		if (!(sub = path_join(path, subdirs[i])))
			return mesh_error_oom();
		error = make_dir(sub);
		free(sub);
	}
	if (error < 0)
		return error;
	if (!(sub = path_join(path, "db")))
		return mesh_error_oom();
	error = mesh_db_open(&db, sub);
	free(sub);
	if (error == 0)
		mesh_db_close(db);
	return error;
}

static int check_is_store(const char *path)
{
	struct stat st;
	char *db = path_join(path, "db");
	int ok;

	if (!db)
		return mesh_error_oom();
	ok = stat(db, &st) == 0 && S_ISDIR(st.st_mode);
	free(db);
	if (!ok)
		return mesh_error_set(MESH_ENOENT,
			"%s is not a meshfs store (run `meshfs init --store %s`)",
			path, path);
	return 0;
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
	if ((error = mesh_db_open(&store->db, db_path)) < 0 ||
	    (error = open_object_backend(store, objects, &backend)) < 0 ||
	    (error = mesh_odb_open(&store->odb, backend, &store->log)) < 0 ||
	    (error = mesh_refdb_backend_rocksdb(&ref_backend, store->db)) < 0 ||
	    (error = mesh_refdb_open(&store->refs, ref_backend)) < 0)
		goto done;
	if ((error = mesh_treecache_new(&store->trees, store->odb, TREE_CACHE_TREES)) < 0)
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
	for (int i = 0; i < BRANCH_LOCK_STRIPES; i++)
		pthread_mutex_init(&store->branch_locks[i], NULL);
	if (log)
		store->log = *log;
	else
		store->log.level = MESH_LOG_WARN;
	/* The coarse clock is the one file timestamps are taken from. */
	clock_gettime(CLOCK_REALTIME_COARSE, &store->opened);
	store->path = strdup(path);
	store->tmp_dir = store->path ? path_join(path, "tmp") : NULL;
	if ((error = open_parts(store)) < 0) {
		mesh_store_close(store);
		return error;
	}
	*out = store;
	return 0;
}

void mesh_store_close(mesh_store *store)
{
	if (!store)
		return;
	mesh_chunk_cache_free(store->cache);
	mesh_treecache_free(store->trees);
	mesh_refdb_close(store->refs);
	mesh_odb_close(store->odb);
	mesh_db_close(store->db);
	for (int i = 0; i < BRANCH_LOCK_STRIPES; i++)
		pthread_mutex_destroy(&store->branch_locks[i]);
	free(store->tmp_dir);
	free(store->path);
	free(store);
}

const char *mesh_store_path(const mesh_store *store) { return store->path; }
const char *mesh_store_tmp_dir(const mesh_store *store) { return store->tmp_dir; }
mesh_db *mesh_store_db(mesh_store *store) { return store->db; }
mesh_odb *mesh_store_odb(mesh_store *store) { return store->odb; }
mesh_refdb *mesh_store_refs(mesh_store *store) { return store->refs; }
mesh_chunk_cache *mesh_store_cache(mesh_store *store) { return store->cache; }
mesh_treecache *mesh_store_trees(mesh_store *store) { return store->trees; }
const mesh_log *mesh_store_log(const mesh_store *store) { return &store->log; }
struct timespec mesh_store_opened(const mesh_store *store) { return store->opened; }

static pthread_mutex_t *branch_stripe(mesh_store *store, const char *domain,
				      const char *branch)
{
	uint32_t hash = 2166136261u;   /* FNV-1a */

	for (const char *p = domain; *p; p++)
		hash = (hash ^ (unsigned char)*p) * 16777619u;
	hash = (hash ^ '/') * 16777619u;
	for (const char *p = branch; *p; p++)
		hash = (hash ^ (unsigned char)*p) * 16777619u;
	return &store->branch_locks[hash % BRANCH_LOCK_STRIPES];
}

void mesh_store_branch_lock(mesh_store *store, const char *domain,
			    const char *branch)
{
	pthread_mutex_lock(branch_stripe(store, domain, branch));
}

void mesh_store_branch_unlock(mesh_store *store, const char *domain,
			      const char *branch)
{
	pthread_mutex_unlock(branch_stripe(store, domain, branch));
}
