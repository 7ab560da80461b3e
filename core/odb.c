/*
 * odb.c - the object database and its local "loose" backend.
 *
 * The odb does everything that must be identical whatever the backend:
 * hashing, compression, the stored header and verification on read.  A
 * backend only keeps opaque bytes under an id.
 */
#include "odb.h"
#include "error.h"
#include "db.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define STORED_MAGIC 'M'
#define STORED_HEADER_LEN 11
#define ENCODING_RAW 0
#define ENCODING_ZSTD 1

/* Chunks are bulk data on the write path of every file, so they get
 * zstd's fastest level; metadata objects are small and level 3 is free. */
#define ZSTD_LEVEL_CHUNK 1
#define ZSTD_LEVEL_META 3
#define ZSTD_BLOCK_MAX (128u << 10)

/* Compression contexts kept between writes: setting one up costs more
 * than compressing a small object.  A few cover the threads that write
 * at once; more would only hold memory. */
#define CCTX_POOL 4

struct mesh_odb {
	mesh_odb_backend *backend;
	const mesh_log *log;
	atomic_uint_least64_t reads;
	atomic_uint_least64_t writes;
	atomic_uint_least64_t write_dups;
	pthread_mutex_t cctx_lock;
	ZSTD_CCtx *cctx[CCTX_POOL];
	size_t cctx_count;
	void (*nospace_hook)(void *ctx);   /* set once, before sharing */
	void *nospace_ctx;
	/* Collection state (see odb.h): gc_lock guards touched, pins,
	 * gc_thread, gc_marked and gc_note_failed; gc_phase is written under
	 * it and read without it first, so that with no collection running
	 * the write and read paths take no lock. */
	pthread_mutex_t gc_lock;
	atomic_int gc_phase;
	pthread_t gc_thread;
	mesh_oidset *touched;
	mesh_oidset *pins;
	mesh_odb_marked_fn gc_marked;
	void *gc_marked_ctx;
	bool gc_note_failed;
	/* Readers: sessions; the writer: a collection beginning. */
	pthread_rwlock_t sessions;
};

enum { GC_IDLE = 0, GC_MARK = 1, GC_SWEEP = 2, GC_SWEEP_DRY = 3 };

const char *mesh_otype_name(mesh_otype type)
{
	switch (type) {
	case MESH_OBJ_ANY: return "any";
	case MESH_OBJ_CHUNK: return "chunk";
	case MESH_OBJ_FILE: return "file";
	case MESH_OBJ_TREE: return "tree";
	case MESH_OBJ_COMMIT: return "commit";
	}
	return "unknown";
}

static bool otype_is_concrete(int type)
{
	return type >= MESH_OBJ_CHUNK && type <= MESH_OBJ_COMMIT;
}

/* ---- loose backend ---------------------------------------------------- */

/* Objects written since the last sync, fsync'd one by one when they are
 * few (a commit's trees); past that, one syncfs is cheaper. */
#define PENDING_MAX 64

typedef struct loose_backend {
	mesh_odb_backend base;   /* first, so the base pointer is the struct */
	char *objects_dir;
	char *tmp_dir;
	int objects_fd;          /* for *at() calls and syncfs */
	pthread_mutex_t pending_lock;
	char pending[PENDING_MAX][MESH_OID_HEXSZ + 2];
	size_t pending_count;
	bool pending_overflow;
	/* Held through a whole sync: a sync that finds nothing pending must
	 * not return while another is still making objects durable. */
	pthread_mutex_t sync_lock;
} loose_backend;

/* "xx/yyyy..." relative to the objects directory. */
static void loose_relpath(char out[MESH_OID_HEXSZ + 2], const mesh_oid *oid)
{
	char hex[MESH_OID_HEXSZ + 1];

	mesh_oid_fmt(hex, oid);
	out[0] = hex[0];
	out[1] = hex[1];
	out[2] = '/';
	memcpy(out + 3, hex + 2, MESH_OID_HEXSZ - 2 + 1);
}

static int read_all(int fd, void *buf, size_t len, const char *path)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return mesh_error_os("cannot read object", path);
		if (n == 0)
			return mesh_error_set(MESH_EIO,
					      "object file %s shrank while being read",
					      path);
		done += (size_t)n;
	}
	return 0;
}

static int write_all(int fd, const void *buf, size_t len, const char *path)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return mesh_error_os("cannot write object", path);
		done += (size_t)n;
	}
	return 0;
}

/*
 * Large objects (file chunks) are read around the page cache: the mount
 * keeps the file's content in its own page cache, so caching the object
 * files too would hold every byte twice and cost one more copy per read.
 * A filesystem without O_DIRECT gets plain reads.
 */
#define DIRECT_ALIGN 4096
#define DIRECT_MIN_BYTES (64u << 10)

/* Reads size bytes into buf (aligned, cap bytes) around the page cache. */
static bool read_direct(int fd, void *buf, size_t cap, size_t size)
{
	int flags = fcntl(fd, F_GETFL);
	ssize_t n;

	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_DIRECT) < 0)
		return false;
	do
		n = pread(fd, buf, cap, 0);
	while (n < 0 && errno == EINTR);
	fcntl(fd, F_SETFL, flags);
	return n >= 0 && (size_t)n == size;
}

/* The whole object file into a new buffer (*out, free()). */
static int read_object_file(int fd, size_t size, const char *rel, void **out)
{
	size_t aligned = (size + DIRECT_ALIGN - 1) / DIRECT_ALIGN * DIRECT_ALIGN;
	void *data = NULL;
	int error;

	if (size >= DIRECT_MIN_BYTES) {
		if (posix_memalign(&data, DIRECT_ALIGN, aligned) != 0)
			return mesh_error_oom();
		if (read_direct(fd, data, aligned, size)) {
			*out = data;
			return 0;
		}
	} else if (!(data = malloc(size > 0 ? size : 1))) {
		return mesh_error_oom();
	}
	if ((error = read_all(fd, data, size, rel)) < 0) {
		free(data);
		return error;
	}
	*out = data;
	return 0;
}

static int loose_read(mesh_odb_backend *b, const mesh_oid *oid,
		      void **out, size_t *out_len)
{
	loose_backend *lb = (loose_backend *)b;
	char rel[MESH_OID_HEXSZ + 2];
	struct stat st;
	void *data = NULL;
	int fd, error;

	loose_relpath(rel, oid);
	fd = openat(lb->objects_fd, rel, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return mesh_error_set(MESH_ENOENT, "object %.2s%s not found",
				      rel, rel + 3);
	if (fd < 0)
		return mesh_error_os("cannot open object", rel);
	if (fstat(fd, &st) < 0) {
		error = mesh_error_os("cannot stat object", rel);
		close(fd);
		return error;
	}
	error = read_object_file(fd, (size_t)st.st_size, rel, &data);
	close(fd);
	if (error < 0)
		return error;
	*out = data;
	*out_len = (size_t)st.st_size;
	return 0;
}

static int loose_exists(mesh_odb_backend *b, const mesh_oid *oid)
{
	loose_backend *lb = (loose_backend *)b;
	char rel[MESH_OID_HEXSZ + 2];
	struct stat st;

	loose_relpath(rel, oid);
	if (fstatat(lb->objects_fd, rel, &st, 0) == 0)
		return 1;
	if (errno == ENOENT)
		return 0;
	return mesh_error_os("cannot stat object", rel);
}

/* ---- quarantine (fsck --repair) ---------------------------------------- */

/* Opens a new file dir/<hex>.<tag>, or .1, .2... when taken (an earlier
 * repair of the same id keeps its file).  *path gets its name. */
static int quarantine_create(const char *dir, const mesh_oid *oid, const char *tag,
			     char path[4096])
{
	char hex[MESH_OID_HEXSZ + 1];

	mesh_oid_fmt(hex, oid);
	for (int n = 0; n < 100; n++) {
		int fd;
		if (n == 0)
			snprintf(path, 4096, "%s/%s.%s", dir, hex, tag);
		else
			snprintf(path, 4096, "%s/%s.%s.%d", dir, hex, tag, n);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
		if (fd >= 0 || errno != EEXIST)
			return fd >= 0 ? fd : mesh_error_os("cannot create quarantine file", path);
	}
	return mesh_error_set(MESH_EEXIST, "too many quarantined copies of %s in %s", hex, dir);
}

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int error = 0;

	if (fd < 0)
		return mesh_error_os("cannot open", dir);
	if (fsync(fd) < 0)
		error = mesh_error_os("cannot sync", dir);
	close(fd);
	return error;
}

/* Writes data durably into a new quarantine file. */
static int quarantine_write(const char *dir, const mesh_oid *oid, const char *tag,
			    const void *data, size_t len, char path[4096])
{
	int fd = quarantine_create(dir, oid, tag, path), error;

	if (fd < 0)
		return fd;
	error = write_all(fd, data, len, path);
	if (error == 0 && fsync(fd) < 0)
		error = mesh_error_os("cannot sync", path);
	close(fd);
	if (error == 0)
		error = sync_dir(dir);
	if (error < 0)
		unlink(path);
	return error;
}

static int loose_quarantine(mesh_odb_backend *b, const mesh_oid *oid, const char *dir,
			    bool (*bad)(void *ctx, const void *data, size_t len),
			    void *ctx, char where[4096])
{
	loose_backend *lb = (loose_backend *)b;
	char rel[MESH_OID_HEXSZ + 2], path[4096];
	void *data;
	size_t len;
	int error = loose_read(b, oid, &data, &len);

	if (error == MESH_ENOENT) {
		mesh_error_clear();
		return 0;
	}
	if (error < 0)
		return error;
	/* The bytes are copied, not the file linked: the quarantine may be
	 * on another filesystem, and a copy is as good for a post-mortem. */
	error = bad(ctx, data, len) ? quarantine_write(dir, oid, "loose", data, len, path) : 1;
	free(data);
	if (error != 0)
		return error < 0 ? error : 0;
	loose_relpath(rel, oid);
	if (unlinkat(lb->objects_fd, rel, 0) < 0 && errno != ENOENT)
		return mesh_error_os("cannot remove corrupt object", rel);
	if (where)
		snprintf(where, 4096, "%s", path);
	return 1;
}

/* Writes data to a fresh temp file; *tmp_path is malloc'd. */
static int loose_write_tmp(loose_backend *lb, const void *data, size_t len,
			   char **tmp_path)
{
	size_t path_len = strlen(lb->tmp_dir) + sizeof("/obj-XXXXXX");
	char *path = malloc(path_len);
	int fd, error;

	if (!path)
		return mesh_error_oom();
	snprintf(path, path_len, "%s/obj-XXXXXX", lb->tmp_dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0) {
		error = mesh_error_os("cannot create temporary object in",
				      lb->tmp_dir);
		free(path);
		return error;
	}
	error = write_all(fd, data, len, path);
	/* Objects are immutable; read-only files guard against accidents. */
	if (error == 0 && fchmod(fd, 0444) < 0)
		error = mesh_error_os("cannot chmod", path);
	if (close(fd) < 0 && error == 0)
		error = mesh_error_os("cannot close", path);
	if (error < 0) {
		unlink(path);
		free(path);
		return error;
	}
	*tmp_path = path;
	return 0;
}

/*
 * Writes the object as an unnamed file in its fan-out directory and links
 * it in whole (O_TMPFILE): readers see no object or all of it, a crash
 * leaves nothing behind, and writers of different objects share no lock
 * (a rename out of tmp/ locks both directories and the filesystem's
 * rename lock, and two store workers queue on them).  0 written, 1 when
 * the filesystem cannot (the caller goes through tmp/), <0 on error.
 */
static int loose_write_unnamed(loose_backend *lb, const char *rel, const char *fanout,
			       const void *data, size_t len)
{
	char fd_path[64];
	int fd, error;

	fd = openat(lb->objects_fd, fanout, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0444);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL))
		return 1;
	if (fd < 0)
		return mesh_error_os("cannot create object in", fanout);
	error = write_all(fd, data, len, rel);
	snprintf(fd_path, sizeof(fd_path), "/proc/self/fd/%d", fd);
	/* EEXIST: a concurrent writer of the same id linked identical bytes. */
	if (error == 0 &&
	    linkat(AT_FDCWD, fd_path, lb->objects_fd, rel, AT_SYMLINK_FOLLOW) < 0 &&
	    errno != EEXIST)
		error = errno == ENOENT ? 1 : mesh_error_os("cannot link object into place", rel);
	close(fd);
	return error;
}

static void pending_add(loose_backend *lb, const char *rel)
{
	pthread_mutex_lock(&lb->pending_lock);
	if (lb->pending_count < PENDING_MAX)
		memcpy(lb->pending[lb->pending_count++], rel, MESH_OID_HEXSZ + 2);
	else
		lb->pending_overflow = true;
	pthread_mutex_unlock(&lb->pending_lock);
}

static int loose_write(mesh_odb_backend *b, const mesh_oid *oid,
		       const void *data, size_t len)
{
	loose_backend *lb = (loose_backend *)b;
	char rel[MESH_OID_HEXSZ + 2];
	char fanout[3];
	char *tmp_path = NULL;
	int error;

	/* No existence check here: mesh_odb_write made it just before, and
	 * renaming identical bytes over an object is harmless anyway. */
	loose_relpath(rel, oid);
	memcpy(fanout, rel, 2);
	fanout[2] = '\0';
	if (mkdirat(lb->objects_fd, fanout, 0755) < 0 && errno != EEXIST)
		return mesh_error_os("cannot create object directory", fanout);
	if ((error = loose_write_unnamed(lb, rel, fanout, data, len)) <= 0) {
		if (error == 0)
			pending_add(lb, rel);
		return error;
	}
	if ((error = loose_write_tmp(lb, data, len, &tmp_path)) < 0)
		return error;
	/* rename(2) is atomic: a reader sees no object or the whole one.  A
	 * concurrent writer of the same id renames identical bytes over it. */
	if (renameat(AT_FDCWD, tmp_path, lb->objects_fd, rel) < 0)
		error = mesh_error_os("cannot move object into place", rel);
	else
		pending_add(lb, rel);
	if (error < 0)
		unlink(tmp_path);
	free(tmp_path);
	return error;
}

static int fsync_at(int dir_fd, const char *rel)
{
	int fd = openat(dir_fd, rel, O_RDONLY | O_CLOEXEC);
	int error = 0;

	if (fd < 0)
		return mesh_error_os("cannot open object to sync", rel);
	if (fsync(fd) < 0)
		error = mesh_error_os("cannot sync object", rel);
	close(fd);
	return error;
}

/* The pending objects, their fan-out directories and the objects
 * directory (which may have gained a fan-out directory). */
static int fsync_pending(loose_backend *lb, char (*pending)[MESH_OID_HEXSZ + 2],
			 size_t count)
{
	int error = 0;

	for (size_t i = 0; i < count && error == 0; i++)
		error = fsync_at(lb->objects_fd, pending[i]);
	for (size_t i = 0; i < count && error == 0; i++) {
		bool seen = false;
		char fanout[3] = { pending[i][0], pending[i][1], '\0' };
		for (size_t k = 0; k < i && !seen; k++)
			seen = memcmp(pending[k], pending[i], 2) == 0;
		if (!seen)
			error = fsync_at(lb->objects_fd, fanout);
	}
	if (error == 0 && count > 0 && fsync(lb->objects_fd) < 0)
		error = mesh_error_os("cannot sync object store", lb->objects_dir);
	return error;
}

/*
 * Makes every object written so far durable before a synced RocksDB batch
 * refers to them: a few are fsync'd one by one, many with one syncfs
 * (which also flushes whatever else the filesystem has dirty).
 */
static int loose_sync(mesh_odb_backend *b)
{
	loose_backend *lb = (loose_backend *)b;
	char (*pending)[MESH_OID_HEXSZ + 2] = malloc(sizeof(lb->pending));
	size_t count;
	bool overflow;
	int error = 0;

	if (!pending)
		return mesh_error_oom();
	pthread_mutex_lock(&lb->sync_lock);
	pthread_mutex_lock(&lb->pending_lock);
	count = lb->pending_count;
	overflow = lb->pending_overflow;
	memcpy(pending, lb->pending, count * sizeof(lb->pending[0]));
	lb->pending_count = 0;
	lb->pending_overflow = false;
	pthread_mutex_unlock(&lb->pending_lock);
	if (overflow && syncfs(lb->objects_fd) < 0)
		error = mesh_error_os("cannot sync object store", lb->objects_dir);
	else if (!overflow)
		error = fsync_pending(lb, pending, count);
	pthread_mutex_unlock(&lb->sync_lock);
	free(pending);
	return error;
}

/* The 62 hex digits after a fan-out directory name back into an id. */
static bool loose_name_parse(const char fanout[2], const char *name, mesh_oid *out)
{
	char hex[MESH_OID_HEXSZ + 1];

	if (strlen(name) != MESH_OID_HEXSZ - 2)
		return false;
	memcpy(hex, fanout, 2);
	memcpy(hex + 2, name, MESH_OID_HEXSZ - 2 + 1);
	return mesh_oid_parse(out, hex) == 0;
}

static int loose_list_dir(loose_backend *lb, const char fanout[3],
			  int (*cb)(void *, const mesh_oid *, uint64_t, int64_t), void *ctx)
{
	int fd = openat(lb->objects_fd, fanout, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *dir;
	int stop = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : mesh_error_os("cannot open object directory", fanout);
	if (!(dir = fdopendir(fd))) {
		close(fd);
		return mesh_error_os("cannot list object directory", fanout);
	}
	while (stop == 0 && (de = readdir(dir))) {
		struct stat st;
		mesh_oid oid;

		if (!loose_name_parse(fanout, de->d_name, &oid))
			continue;
		if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			stop = mesh_error_os("cannot stat object", de->d_name);
			break;
		}
		stop = cb(ctx, &oid, (uint64_t)st.st_size,
			 (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec);
	}
	closedir(dir);
	return stop;
}

static int loose_list(mesh_odb_backend *b,
		      int (*cb)(void *, const mesh_oid *, uint64_t, int64_t), void *ctx)
{
	loose_backend *lb = (loose_backend *)b;
	static const char digits[] = "0123456789abcdef";
	int stop = 0;

	for (int i = 0; i < 256 && stop == 0; i++) {
		char fanout[3] = { digits[i >> 4], digits[i & 15], '\0' };
		stop = loose_list_dir(lb, fanout, cb, ctx);
	}
	return stop;
}

static int loose_read_prefix(mesh_odb_backend *b, const mesh_oid *oid, void *buf,
			     size_t len, size_t *got)
{
	loose_backend *lb = (loose_backend *)b;
	char rel[MESH_OID_HEXSZ + 2];
	ssize_t n;
	int fd;

	loose_relpath(rel, oid);
	if ((fd = openat(lb->objects_fd, rel, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? MESH_ENOENT : mesh_error_os("cannot open object", rel);
	do
		n = pread(fd, buf, len, 0);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0)
		return mesh_error_os("cannot read object", rel);
	*got = (size_t)n;
	return 0;
}

static int loose_remove(mesh_odb_backend *b, const mesh_oid *oid)
{
	loose_backend *lb = (loose_backend *)b;
	char rel[MESH_OID_HEXSZ + 2];

	loose_relpath(rel, oid);
	if (unlinkat(lb->objects_fd, rel, 0) == 0 || errno == ENOENT)
		return 0;
	return mesh_error_os("cannot remove object", rel);
}

static void loose_free(mesh_odb_backend *b)
{
	loose_backend *lb = (loose_backend *)b;

	if (!lb)
		return;
	if (lb->objects_fd >= 0)
		close(lb->objects_fd);
	pthread_mutex_destroy(&lb->pending_lock);
	pthread_mutex_destroy(&lb->sync_lock);
	free(lb->objects_dir);
	free(lb->tmp_dir);
	free(lb);
}

static int dir_check(const char *path, const char *role)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return mesh_error_os(role, path);
	if (!S_ISDIR(st.st_mode))
		return mesh_error_set(MESH_ENOTDIR, "%s %s: not a directory",
				      role, path);
	return 0;
}

/* ---- objects in the metadata database ---------------------------------- */

typedef struct db_backend {
	mesh_odb_backend base;
	mesh_db *db;
} db_backend;

static void db_key(unsigned char key[2 + MESH_OID_RAWSZ], const mesh_oid *oid)
{
	key[0] = 'o';
	key[1] = '/';
	memcpy(key + 2, oid->id, MESH_OID_RAWSZ);
}

static int db_read(mesh_odb_backend *b, const mesh_oid *oid, void **out, size_t *out_len)
{
	unsigned char key[2 + MESH_OID_RAWSZ];

	db_key(key, oid);
	return mesh_db_get(((db_backend *)b)->db, key, sizeof(key), out, out_len);
}

static int db_write(mesh_odb_backend *b, const mesh_oid *oid, const void *data, size_t len)
{
	unsigned char key[2 + MESH_OID_RAWSZ];

	db_key(key, oid);
	return mesh_db_put(((db_backend *)b)->db, key, sizeof(key), data, len, false);
}

static int db_write_batched(mesh_odb_backend *b, mesh_db_batch *batch,
			    const mesh_oid *oid, const void *data, size_t len,
			    bool check)
{
	unsigned char key[2 + MESH_OID_RAWSZ];
	int found;

	db_key(key, oid);
	if (check && (found = mesh_db_has(((db_backend *)b)->db, key, sizeof(key))) != 0)
		return found < 0 ? found : 2;
	mesh_db_batch_put(batch, key, sizeof(key), data, len);
	return 1;
}

static int db_exists(mesh_odb_backend *b, const mesh_oid *oid)
{
	unsigned char key[2 + MESH_OID_RAWSZ];

	db_key(key, oid);
	return mesh_db_has(((db_backend *)b)->db, key, sizeof(key));
}

static int db_quarantine(mesh_odb_backend *b, const mesh_oid *oid, const char *dir,
			  bool (*bad)(void *ctx, const void *data, size_t len),
			  void *ctx, char where[4096])
{
	unsigned char key[2 + MESH_OID_RAWSZ];
	char path[4096];
	void *data;
	size_t len;
	int found, error;

	db_key(key, oid);
	found = mesh_db_find(((db_backend *)b)->db, key, sizeof(key), &data, &len);
	if (found <= 0)
		return found;
	error = bad(ctx, data, len) ? quarantine_write(dir, oid, "db", data, len, path) : 1;
	free(data);
	if (error != 0)
		return error < 0 ? error : 0;
	/* Synced: once fsck says it moved the object, it is gone for good. */
	if ((error = mesh_db_delete(((db_backend *)b)->db, key, sizeof(key), true)) < 0)
		return error;
	if (where)
		snprintf(where, 4096, "%s", path);
	return 1;
}

static int db_sync(mesh_odb_backend *b)
{
	(void)b;
	return 0;
}

static int db_list(mesh_odb_backend *b,
		   int (*cb)(void *, const mesh_oid *, uint64_t, int64_t), void *ctx)
{
	mesh_db_iter *it;
	const void *key, *val;
	size_t klen, vlen;
	int more, stop = 0, error;

	if ((error = mesh_db_iter_new(&it, ((db_backend *)b)->db, "o/", 2)) < 0)
		return error;
	while (stop == 0 && (more = mesh_db_iter_next(it, &key, &klen, &val, &vlen)) > 0) {
		mesh_oid oid;

		if (klen != 2 + MESH_OID_RAWSZ)
			continue;
		memcpy(oid.id, (const unsigned char *)key + 2, MESH_OID_RAWSZ);
		/* A value has no time of its own: the touched set covers
		 * what is written while a collection runs. */
		stop = cb(ctx, &oid, (uint64_t)(klen + vlen), -1);
	}
	mesh_db_iter_free(it);
	return stop ? stop : more;
}

static int db_remove(mesh_odb_backend *b, const mesh_oid *oid)
{
	unsigned char key[2 + MESH_OID_RAWSZ];

	db_key(key, oid);
	/* Not synced: a delete lost in a crash only leaves garbage for the
	 * next collection. */
	return mesh_db_delete(((db_backend *)b)->db, key, sizeof(key), false);
}

static void db_free(mesh_odb_backend *b)
{
	free(b);
}

int mesh_odb_backend_db(mesh_odb_backend **out, mesh_db *db)
{
	db_backend *b = calloc(1, sizeof(*b));

	if (!b)
		return mesh_error_oom();
	b->base.read = db_read;
	b->base.write = db_write;
	b->base.write_batched = db_write_batched;
	b->base.exists = db_exists;
	b->base.sync = db_sync;
	b->base.free = db_free;
	b->base.list = db_list;
	b->base.remove = db_remove;
	b->base.quarantine = db_quarantine;
	b->db = db;
	*out = &b->base;
	return 0;
}

/* ---- small objects here, large ones there -------------------------------- */

typedef struct tiered_backend {
	mesh_odb_backend base;
	mesh_odb_backend *small, *large;
	size_t threshold;
} tiered_backend;

static int tiered_read(mesh_odb_backend *b, const mesh_oid *oid, void **out, size_t *out_len)
{
	tiered_backend *t = (tiered_backend *)b;
	int error = t->small->read(t->small, oid, out, out_len);

	if (error != MESH_ENOENT)
		return error;
	mesh_error_clear();
	return t->large->read(t->large, oid, out, out_len);
}

static int tiered_write(mesh_odb_backend *b, const mesh_oid *oid, const void *data, size_t len)
{
	tiered_backend *t = (tiered_backend *)b;
	mesh_odb_backend *to = len < t->threshold ? t->small : t->large;

	return to->write(to, oid, data, len);
}

static int tiered_write_batched(mesh_odb_backend *b, mesh_db_batch *batch,
				const mesh_oid *oid, const void *data, size_t len,
				bool check)
{
	tiered_backend *t = (tiered_backend *)b;
	mesh_odb_backend *to = len < t->threshold ? t->small : t->large;

	return to->write_batched ? to->write_batched(to, batch, oid, data, len, check) : 0;
}

static int tiered_exists(mesh_odb_backend *b, const mesh_oid *oid)
{
	tiered_backend *t = (tiered_backend *)b;
	int found = t->small->exists(t->small, oid);

	return found != 0 ? found : t->large->exists(t->large, oid);
}

static int tiered_sync(mesh_odb_backend *b)
{
	tiered_backend *t = (tiered_backend *)b;
	int error = t->large->sync(t->large);

	return error < 0 ? error : t->small->sync(t->small);
}

static int tiered_list(mesh_odb_backend *b,
		       int (*cb)(void *, const mesh_oid *, uint64_t, int64_t), void *ctx)
{
	tiered_backend *t = (tiered_backend *)b;
	int stop = t->small->list ? t->small->list(t->small, cb, ctx) : 0;

	return stop == 0 && t->large->list ? t->large->list(t->large, cb, ctx) : stop;
}

/* From both tiers: an older layout may have put a copy in either. */
static int tiered_read_prefix(mesh_odb_backend *b, const mesh_oid *oid, void *buf,
			      size_t len, size_t *got)
{
	tiered_backend *t = (tiered_backend *)b;
	void *data;
	size_t dlen;
	int error = t->small->read(t->small, oid, &data, &dlen);

	if (error == 0) {
		*got = dlen < len ? dlen : len;
		memcpy(buf, data, *got);
		free(data);
		return 0;
	}
	if (error != MESH_ENOENT)
		return error;
	mesh_error_clear();
	if (t->large->read_prefix)
		return t->large->read_prefix(t->large, oid, buf, len, got);
	return MESH_ENOENT;
}

static int tiered_remove(mesh_odb_backend *b, const mesh_oid *oid)
{
	tiered_backend *t = (tiered_backend *)b;
	int error = t->small->remove ? t->small->remove(t->small, oid) : 0;

	return error == 0 && t->large->remove ? t->large->remove(t->large, oid) : error;
}

static int tiered_quarantine(mesh_odb_backend *b, const mesh_oid *oid, const char *dir,
			     bool (*bad)(void *ctx, const void *data, size_t len),
			     void *ctx, char where[4096])
{
	tiered_backend *t = (tiered_backend *)b;
	mesh_odb_backend *tiers[2] = { t->small, t->large };
	int moved = 0;

	for (int i = 0; i < 2; i++) {
		int n = tiers[i]->quarantine ?
			tiers[i]->quarantine(tiers[i], oid, dir, bad, ctx, where) : 0;
		if (n < 0)
			return n;
		moved += n;
	}
	return moved;
}

static void tiered_free(mesh_odb_backend *b)
{
	tiered_backend *t = (tiered_backend *)b;

	if (!t)
		return;
	t->small->free(t->small);
	t->large->free(t->large);
	free(t);
}

int mesh_odb_backend_tiered(mesh_odb_backend **out, mesh_odb_backend *small,
			    mesh_odb_backend *large, size_t threshold)
{
	tiered_backend *t = calloc(1, sizeof(*t));

	if (!t) {
		small->free(small);
		large->free(large);
		return mesh_error_oom();
	}
	t->base.read = tiered_read;
	t->base.write = tiered_write;
	t->base.write_batched = tiered_write_batched;
	t->base.exists = tiered_exists;
	t->base.sync = tiered_sync;
	t->base.free = tiered_free;
	t->base.list = tiered_list;
	t->base.remove = tiered_remove;
	t->base.read_prefix = tiered_read_prefix;
	t->base.quarantine = tiered_quarantine;
	t->small = small;
	t->large = large;
	t->threshold = threshold;
	*out = &t->base;
	return 0;
}

int mesh_odb_backend_loose(mesh_odb_backend **out,
			   const char *objects_dir, const char *tmp_dir)
{
	loose_backend *lb;
	int error;

	if (!objects_dir || !tmp_dir)
		return mesh_error_set(MESH_EINVAL, "object store directories missing");
	if ((error = dir_check(tmp_dir, "temporary directory")) < 0)
		return error;
	lb = calloc(1, sizeof(*lb));
	if (!lb)
		return mesh_error_oom();
	lb->objects_fd = -1;
	pthread_mutex_init(&lb->pending_lock, NULL);
	pthread_mutex_init(&lb->sync_lock, NULL);
	lb->objects_dir = strdup(objects_dir);
	lb->tmp_dir = strdup(tmp_dir);
	if (!lb->objects_dir || !lb->tmp_dir) {
		loose_free(&lb->base);
		return mesh_error_oom();
	}
	lb->objects_fd = open(objects_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lb->objects_fd < 0) {
		error = mesh_error_os("cannot open objects directory", objects_dir);
		loose_free(&lb->base);
		return error;
	}
	lb->base.read = loose_read;
	lb->base.write = loose_write;
	lb->base.exists = loose_exists;
	lb->base.sync = loose_sync;
	lb->base.free = loose_free;
	lb->base.list = loose_list;
	lb->base.remove = loose_remove;
	lb->base.read_prefix = loose_read_prefix;
	lb->base.quarantine = loose_quarantine;
	*out = &lb->base;
	return 0;
}

/* ---- collection hooks on the write and read paths ----------------------- */

static bool gc_running(mesh_odb *odb)
{
	return atomic_load_explicit(&odb->gc_phase, memory_order_acquire) != GC_IDLE;
}

/* Gc lock held.  Whether this thread is the collector's own. */
static bool gc_own_thread(const mesh_odb *odb)
{
	return pthread_equal(odb->gc_thread, pthread_self());
}

/* Gc lock held. */
static void touched_add_locked(mesh_odb *odb, const mesh_oid *oid)
{
	if (odb->touched && mesh_oidset_add(odb->touched, oid) < 0)
		odb->gc_note_failed = true;
}

/*
 * Called before oid is written, found stored, or read (while marking):
 * whatever the caller goes on to do with it, the running collection
 * keeps it.  Before, not after: a collector that removed it first makes
 * the caller's check or read find nothing.
 */
static void gc_note(mesh_odb *odb, const mesh_oid *oid)
{
	if (!gc_running(odb))
		return;
	pthread_mutex_lock(&odb->gc_lock);
	if (gc_running(odb) && !gc_own_thread(odb))
		touched_add_locked(odb, oid);
	pthread_mutex_unlock(&odb->gc_lock);
}

/* Gc lock held. */
static bool gc_keeps_locked(mesh_odb *odb, const mesh_oid *oid)
{
	return mesh_oidset_has(odb->pins, oid) ||
	       (odb->touched && mesh_oidset_has(odb->touched, oid)) ||
	       (odb->gc_marked && odb->gc_marked(odb->gc_marked_ctx, oid));
}

/* Before a read: 0 to go on, MESH_ENOENT for an object being removed. */
static int gc_before_read(mesh_odb *odb, const mesh_oid *oid)
{
	char hex[MESH_OID_HEXSZ + 1];
	bool refused = false;

	if (!gc_running(odb))
		return 0;
	pthread_mutex_lock(&odb->gc_lock);
	if (!gc_own_thread(odb)) {
		int phase = atomic_load_explicit(&odb->gc_phase, memory_order_relaxed);
		if (phase == GC_MARK || phase == GC_SWEEP_DRY)
			touched_add_locked(odb, oid);
		else if (phase == GC_SWEEP)
			refused = !gc_keeps_locked(odb, oid);
	}
	pthread_mutex_unlock(&odb->gc_lock);
	if (!refused)
		return 0;
	mesh_oid_fmt(hex, oid);
	return mesh_error_set(MESH_ENOENT, "object %s not found (garbage being collected)",
			      hex);
}

/* ---- odb -------------------------------------------------------------- */

int mesh_odb_open(mesh_odb **out, mesh_odb_backend *backend,
		  const mesh_log *log)
{
	mesh_odb *odb;

	if (!backend)
		return mesh_error_set(MESH_EINVAL, "object store backend missing");
	odb = calloc(1, sizeof(*odb));
	if (!odb)
		return mesh_error_oom();
	odb->backend = backend;
	odb->log = log;
	atomic_init(&odb->reads, 0);
	atomic_init(&odb->writes, 0);
	atomic_init(&odb->write_dups, 0);
	pthread_mutex_init(&odb->cctx_lock, NULL);
	pthread_mutex_init(&odb->gc_lock, NULL);
	pthread_rwlock_init(&odb->sessions, NULL);
	atomic_init(&odb->gc_phase, GC_IDLE);
	if (mesh_oidset_new(&odb->pins) < 0) {
		mesh_odb_close(odb);
		return MESH_ENOMEM;
	}
	*out = odb;
	return 0;
}

void mesh_odb_close(mesh_odb *odb)
{
	if (!odb)
		return;
	if (odb->backend && odb->backend->free)
		odb->backend->free(odb->backend);
	while (odb->cctx_count > 0)
		ZSTD_freeCCtx(odb->cctx[--odb->cctx_count]);
	pthread_mutex_destroy(&odb->cctx_lock);
	pthread_mutex_destroy(&odb->gc_lock);
	pthread_rwlock_destroy(&odb->sessions);
	mesh_oidset_free(odb->touched);
	mesh_oidset_free(odb->pins);
	free(odb);
}

static void put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* A pooled compression context, or a new one (NULL when out of memory). */
static ZSTD_CCtx *cctx_take(mesh_odb *odb)
{
	ZSTD_CCtx *cctx = NULL;

	pthread_mutex_lock(&odb->cctx_lock);
	if (odb->cctx_count > 0)
		cctx = odb->cctx[--odb->cctx_count];
	pthread_mutex_unlock(&odb->cctx_lock);
	return cctx ? cctx : ZSTD_createCCtx();
}

static void cctx_give(mesh_odb *odb, ZSTD_CCtx *cctx)
{
	pthread_mutex_lock(&odb->cctx_lock);
	if (odb->cctx_count < CCTX_POOL) {
		odb->cctx[odb->cctx_count++] = cctx;
		cctx = NULL;
	}
	pthread_mutex_unlock(&odb->cctx_lock);
	ZSTD_freeCCtx(cctx);
}

/* Builds the stored form in a malloc'd buffer: zstd when it is smaller. */
static int encode_object(mesh_odb *odb, mesh_otype type, const void *data, size_t len,
			 unsigned char **out, size_t *out_len)
{
	size_t bound = ZSTD_compressBound(len);
	size_t cap = STORED_HEADER_LEN + (bound > len ? bound : len);
	unsigned char *buf = malloc(cap);
	int level = type == MESH_OBJ_CHUNK ? ZSTD_LEVEL_CHUNK : ZSTD_LEVEL_META;
	ZSTD_CCtx *cctx = buf ? cctx_take(odb) : NULL;
	size_t payload;

	if (!cctx) {
		free(buf);
		return mesh_error_oom();
	}
	buf[0] = STORED_MAGIC;
	buf[1] = (unsigned char)type;
	put_le64(buf + 3, len);
	payload = ZSTD_compressCCtx(cctx, buf + STORED_HEADER_LEN, bound, data, len, level);
	cctx_give(odb, cctx);
	if (!ZSTD_isError(payload) && payload < len) {
		buf[2] = ENCODING_ZSTD;
	} else {
		buf[2] = ENCODING_RAW;
		if (len)
			memcpy(buf + STORED_HEADER_LEN, data, len);
		payload = len;
	}
	*out = buf;
	*out_len = STORED_HEADER_LEN + payload;
	return 0;
}

/* Stores encoded bytes unless the backend has oid: 1 stored, 2 present. */
static int store_unless_present(mesh_odb *odb, const mesh_oid *oid,
				const void *stored, size_t len)
{
	int result = odb->backend->exists(odb->backend, oid);

	if (result != 0)
		return result < 0 ? result : 2;
	result = odb->backend->write(odb->backend, oid, stored, len);
	return result < 0 ? result : 1;
}

/* The existence check comes first, so a duplicate is never compressed.
 * 1 stored, 2 present. */
static int store_now(mesh_odb *odb, mesh_otype type, const mesh_oid *oid,
		     const void *data, size_t len)
{
	unsigned char *stored;
	size_t stored_len;
	int result = odb->backend->exists(odb->backend, oid);

	if (result != 0)
		return result < 0 ? result : 2;
	if ((result = encode_object(odb, type, data, len, &stored, &stored_len)) < 0)
		return result;
	result = odb->backend->write(odb->backend, oid, stored, stored_len);
	free(stored);
	return result < 0 ? result : 1;
}

/* Encoded first: the stored size says whether the backend keeps the
 * object in the database, and then only that is checked, if at all (an
 * object this small is nowhere else; one that an older layout put
 * elsewhere only costs a second copy).  1 stored, 2 present. */
static int store_into(mesh_odb *odb, mesh_db_batch *batch, bool check, mesh_otype type,
		      const mesh_oid *oid, const void *data, size_t len)
{
	mesh_odb_backend *b = odb->backend;
	unsigned char *stored;
	size_t stored_len;
	int result = encode_object(odb, type, data, len, &stored, &stored_len);

	if (result < 0)
		return result;
	result = b->write_batched ?
		 b->write_batched(b, batch, oid, stored, stored_len, check) : 0;
	if (result == 0)
		result = store_unless_present(odb, oid, stored, stored_len);
	free(stored);
	return result;
}

static int odb_store(mesh_odb *odb, mesh_db_batch *batch, bool check, bool pin,
		     mesh_otype type, const void *data, size_t len, mesh_oid *out)
{
	mesh_oid oid;
	int result;

	if (!otype_is_concrete(type))
		return mesh_error_set(MESH_EINVAL, "cannot write an object of type %d",
				      (int)type);
	if (len && !data)
		return mesh_error_set(MESH_EINVAL, "object data missing");
	if ((result = mesh_oid_hash(&oid, mesh_otype_name(type), data, len)) < 0)
		return result;
	if (pin && (result = mesh_odb_pin(odb, &oid)) < 0)
		return result;
	gc_note(odb, &oid);
	result = batch ? store_into(odb, batch, check, type, &oid, data, len)
		       : store_now(odb, type, &oid, data, len);
	if (result == MESH_ENOSPC && odb->nospace_hook)
		odb->nospace_hook(odb->nospace_ctx);
	if (result < 0) {
		if (pin)
			mesh_odb_unpin(odb, &oid);
		return result;
	}
	atomic_fetch_add_explicit(result == 1 ? &odb->writes : &odb->write_dups, 1,
				  memory_order_relaxed);
	*out = oid;
	return 0;
}

void mesh_odb_set_nospace_hook(mesh_odb *odb, void (*hook)(void *ctx), void *ctx)
{
	odb->nospace_hook = hook;
	odb->nospace_ctx = ctx;
}

int mesh_odb_write(mesh_odb *odb, mesh_otype type,
		   const void *data, size_t len, mesh_oid *out)
{
	return odb_store(odb, NULL, true, false, type, data, len, out);
}

int mesh_odb_write_batched(mesh_odb *odb, mesh_db_batch *batch, mesh_otype type,
			   const void *data, size_t len, mesh_oid *out)
{
	if (!batch)
		return mesh_error_set(MESH_EINVAL, "no batch to store objects into");
	return odb_store(odb, batch, true, false, type, data, len, out);
}

int mesh_odb_write_new_batched(mesh_odb *odb, mesh_db_batch *batch, mesh_otype type,
			       const void *data, size_t len, mesh_oid *out)
{
	if (!batch)
		return mesh_error_set(MESH_EINVAL, "no batch to store objects into");
	return odb_store(odb, batch, false, false, type, data, len, out);
}

/* Sets and logs the error of a corrupt object; returns MESH_EIO. */
static int corrupt(mesh_odb *odb, const mesh_oid *oid, const char *why)
{
	char hex[MESH_OID_HEXSZ + 1];

	mesh_oid_fmt(hex, oid);
	mesh_log_write(odb->log, MESH_LOG_ERROR, "object %s is corrupt: %s",
		       hex, why);
	return mesh_error_set(MESH_EIO, "object %s is corrupt: %s", hex, why);
}

/*
 * Checks the stored header and yields the content into out.  A raw
 * payload is used where it lies, inside stored (out->base = stored); a
 * compressed one is decompressed into a new buffer and stored is freed.
 * On failure stored is freed.
 */
/* What is wrong with the stored bytes' header, or NULL. */
static const char *header_problem(const unsigned char *stored, size_t stored_len)
{
	const unsigned char *payload = stored + STORED_HEADER_LEN;
	size_t payload_len;
	uint64_t len;

	if (stored_len < STORED_HEADER_LEN || stored[0] != STORED_MAGIC)
		return "bad header";
	if (!otype_is_concrete(stored[1]))
		return "unknown object type";
	payload_len = stored_len - STORED_HEADER_LEN;
	len = get_le64(stored + 3);
	if (stored[2] == ENCODING_RAW && len != payload_len)
		return "length does not match header";
	if (stored[2] == ENCODING_ZSTD && ZSTD_getFrameContentSize(payload, payload_len) != len)
		return "compressed length does not match header";
	/* A zstd block yields at most 128 KiB and takes at least 4 bytes
	 * (RFC 8878), so a header claiming more than the payload can hold
	 * lies: refused before the length is allocated. */
	if (stored[2] == ENCODING_ZSTD && len / ZSTD_BLOCK_MAX > payload_len / 4)
		return "length is more than the compressed payload can hold";
	if (stored[2] != ENCODING_RAW && stored[2] != ENCODING_ZSTD)
		return "unknown encoding";
	if (len > SIZE_MAX - 1)
		return "length out of range";
	return NULL;
}

static int decode_object(mesh_odb *odb, const mesh_oid *oid,
			 unsigned char *stored, size_t stored_len,
			 mesh_otype *type, mesh_odb_buf *out)
{
	const unsigned char *payload = stored + STORED_HEADER_LEN;
	const char *problem = header_problem(stored, stored_len);
	size_t len, n;
	void *data;

	if (problem) {
		free(stored);
		return corrupt(odb, oid, problem);
	}
	*type = (mesh_otype)stored[1];
	len = (size_t)get_le64(stored + 3);
	if (stored[2] == ENCODING_RAW) {
		*out = (mesh_odb_buf){ stored, payload, len };
		return 0;
	}
	if (!(data = malloc(len ? len : 1))) {
		free(stored);
		return mesh_error_oom();
	}
	n = ZSTD_decompress(data, len, payload, stored_len - STORED_HEADER_LEN);
	free(stored);
	if (ZSTD_isError(n) || n != len) {
		free(data);
		return corrupt(odb, oid, "payload does not decompress");
	}
	*out = (mesh_odb_buf){ data, data, len };
	return 0;
}

static int verify_object(mesh_odb *odb, const mesh_oid *oid, mesh_otype type,
			 const void *data, size_t len)
{
	char actual_hex[MESH_OID_HEXSZ + 1];
	char why[MESH_OID_HEXSZ + 32];
	mesh_oid actual;
	int error;

	if ((error = mesh_oid_hash(&actual, mesh_otype_name(type), data, len)) < 0)
		return error;
	if (mesh_oid_cmp(&actual, oid) == 0)
		return 0;
	mesh_oid_fmt(actual_hex, &actual);
	snprintf(why, sizeof(why), "content hashes to %s", actual_hex);
	return corrupt(odb, oid, why);
}

/*
 * Something named this object (a ref, a tree, a file map), so its absence
 * is damage like a corrupt one: EIO and a log line naming it, never the
 * ENOENT of a path that does not exist.  Whether an object is stored at
 * all is mesh_odb_exists's question.
 */
static int missing(mesh_odb *odb, const mesh_oid *oid, mesh_otype expected)
{
	char hex[MESH_OID_HEXSZ + 1];
	const char *what = expected == MESH_OBJ_ANY ? "object" : mesh_otype_name(expected);

	mesh_oid_fmt(hex, oid);
	mesh_log_write(odb->log, MESH_LOG_ERROR, "object %s (%s) is missing from the store",
		       hex, what);
	mesh_error_set(MESH_EIO, "object %s (%s) is missing from the store", hex, what);
	return MESH_EIO;
}

static int check_type(mesh_odb *odb, const mesh_oid *oid, mesh_otype actual,
		      mesh_otype expected)
{
	char hex[MESH_OID_HEXSZ + 1];

	if (expected == MESH_OBJ_ANY || actual == expected)
		return 0;
	mesh_oid_fmt(hex, oid);
	mesh_log_write(odb->log, MESH_LOG_ERROR, "object %s is a %s, expected a %s",
		       hex, mesh_otype_name(actual), mesh_otype_name(expected));
	return mesh_error_set(MESH_EIO, "object %s is a %s, expected a %s", hex,
			      mesh_otype_name(actual), mesh_otype_name(expected));
}

int mesh_odb_read_buf(mesh_odb *odb, const mesh_oid *oid, mesh_otype expected,
		      mesh_odb_buf *out, mesh_otype *out_type)
{
	mesh_odb_buf content;
	void *stored;
	size_t stored_len;
	mesh_otype type = MESH_OBJ_ANY;
	int error;

	if ((error = gc_before_read(odb, oid)) < 0)
		return error;
	error = odb->backend->read(odb->backend, oid, &stored, &stored_len);
	if (error == MESH_ENOENT)
		return missing(odb, oid, expected);
	if (error < 0)
		return error;
	atomic_fetch_add_explicit(&odb->reads, 1, memory_order_relaxed);
	if ((error = decode_object(odb, oid, stored, stored_len, &type, &content)) < 0)
		return error;
	if ((error = verify_object(odb, oid, type, content.data, content.len)) < 0 ||
	    (error = check_type(odb, oid, type, expected)) < 0) {
		mesh_odb_buf_free(&content);
		return error;
	}
	*out = content;
	if (out_type)
		*out_type = type;
	return 0;
}

void mesh_odb_buf_free(mesh_odb_buf *buf)
{
	free(buf->base);
	*buf = (mesh_odb_buf){ NULL, NULL, 0 };
}

int mesh_odb_read(mesh_odb *odb, const mesh_oid *oid, mesh_otype expected,
		  void **out, size_t *out_len, mesh_otype *out_type)
{
	mesh_odb_buf content;
	int error;

	if ((error = mesh_odb_read_buf(odb, oid, expected, &content, out_type)) < 0)
		return error;
	/* Small objects: moving the payload to the front is cheaper than a
	 * second allocation. */
	if (content.data != content.base)
		memmove(content.base, content.data, content.len);
	*out = content.base;
	*out_len = content.len;
	return 0;
}

int mesh_odb_type(mesh_odb *odb, const mesh_oid *oid, mesh_otype *out)
{
	mesh_odb_backend *b = odb->backend;
	unsigned char header[STORED_HEADER_LEN];
	size_t got = 0;
	void *data = NULL;
	int error;

	if (b->read_prefix) {
		error = b->read_prefix(b, oid, header, sizeof(header), &got);
	} else if ((error = b->read(b, oid, &data, &got)) == 0) {
		got = got < sizeof(header) ? got : sizeof(header);
		memcpy(header, data, got);
		free(data);
	}
	if (error == MESH_ENOENT) {
		mesh_error_clear();
		return MESH_ENOENT;
	}
	if (error < 0)
		return error;
	if (got < STORED_HEADER_LEN || header[0] != STORED_MAGIC || !otype_is_concrete(header[1]))
		return corrupt(odb, oid, "bad header");
	*out = (mesh_otype)header[1];
	return 0;
}

typedef struct copy_check {
	mesh_odb *odb;
	const mesh_oid *oid;
} copy_check;

/* Whether stored bytes fail to yield the object they are stored as.  Out
 * of memory is not damage: the copy stays. */
static bool copy_is_bad(void *ctx, const void *data, size_t len)
{
	copy_check *c = ctx;
	unsigned char *copy = malloc(len ? len : 1);
	mesh_otype type;
	mesh_odb_buf content;
	int error;

	if (!copy)
		return false;
	memcpy(copy, data, len);
	if ((error = decode_object(c->odb, c->oid, copy, len, &type, &content)) < 0)
		return error != MESH_ENOMEM;
	error = verify_object(c->odb, c->oid, type, content.data, content.len);
	mesh_odb_buf_free(&content);
	return error < 0 && error != MESH_ENOMEM;
}

int mesh_odb_quarantine(mesh_odb *odb, const mesh_oid *oid, const char *dir,
			size_t *moved, char where[4096])
{
	copy_check check = { odb, oid };
	char hex[MESH_OID_HEXSZ + 1], last[4096] = "";
	int n;

	*moved = 0;
	if (!odb->backend->quarantine)
		return mesh_error_set(MESH_EINVAL, "this object store cannot quarantine objects");
	n = odb->backend->quarantine(odb->backend, oid, dir, copy_is_bad, &check, last);
	if (n < 0)
		return n;
	/* What copy_is_bad found is the caller's report already. */
	mesh_error_clear();
	*moved = (size_t)n;
	if (where)
		snprintf(where, 4096, "%s", last);
	if (n > 0) {
		mesh_oid_fmt(hex, oid);
		mesh_log_write(odb->log, MESH_LOG_WARN, "object %s: %d corrupt copy moved to %s",
			       hex, n, last);
	}
	return 0;
}

int mesh_odb_exists(mesh_odb *odb, const mesh_oid *oid)
{
	/* A caller that finds an object stored goes on to refer to it. */
	gc_note(odb, oid);
	return odb->backend->exists(odb->backend, oid);
}

int mesh_odb_sync(mesh_odb *odb)
{
	return odb->backend->sync(odb->backend);
}

void mesh_odb_stats_get(mesh_odb *odb, mesh_odb_stats *out)
{
	out->reads = atomic_load_explicit(&odb->reads, memory_order_relaxed);
	out->writes = atomic_load_explicit(&odb->writes, memory_order_relaxed);
	out->write_dups = atomic_load_explicit(&odb->write_dups,
					       memory_order_relaxed);
}

/* ---- collection ---------------------------------------------------------- */

int mesh_odb_write_pinned(mesh_odb *odb, mesh_otype type,
			  const void *data, size_t len, mesh_oid *out)
{
	return odb_store(odb, NULL, true, true, type, data, len, out);
}

int mesh_odb_touch(mesh_odb *odb, const mesh_oid *oid)
{
	return gc_before_read(odb, oid);
}

void mesh_odb_session_begin(mesh_odb *odb)
{
	pthread_rwlock_rdlock(&odb->sessions);
}

void mesh_odb_session_end(mesh_odb *odb)
{
	pthread_rwlock_unlock(&odb->sessions);
}

int mesh_odb_pin(mesh_odb *odb, const mesh_oid *oid)
{
	int error;

	pthread_mutex_lock(&odb->gc_lock);
	error = mesh_oidset_add(odb->pins, oid);
	if (error >= 0 && gc_running(odb))
		touched_add_locked(odb, oid);
	pthread_mutex_unlock(&odb->gc_lock);
	return error < 0 ? error : 0;
}

void mesh_odb_unpin(mesh_odb *odb, const mesh_oid *oid)
{
	pthread_mutex_lock(&odb->gc_lock);
	mesh_oidset_remove(odb->pins, oid);
	pthread_mutex_unlock(&odb->gc_lock);
}

int mesh_odb_gc_begin(mesh_odb *odb)
{
	mesh_oidset *touched;
	int error = 0;

	if ((error = mesh_oidset_new(&touched)) < 0)
		return error;
	/* Waits for the sessions running now; new ones wait meanwhile. */
	pthread_rwlock_wrlock(&odb->sessions);
	pthread_mutex_lock(&odb->gc_lock);
	if (gc_running(odb)) {
		error = mesh_error_set(MESH_EBUSY, "a garbage collection is running already");
	} else {
		odb->touched = touched;
		touched = NULL;
		odb->gc_thread = pthread_self();
		odb->gc_note_failed = false;
		odb->gc_marked = NULL;
		atomic_store_explicit(&odb->gc_phase, GC_MARK, memory_order_release);
	}
	pthread_mutex_unlock(&odb->gc_lock);
	pthread_rwlock_unlock(&odb->sessions);
	mesh_oidset_free(touched);
	return error;
}

typedef struct unmarked_ctx {
	mesh_odb_marked_fn marked;
	void *mctx;
	mesh_oid *ids;
	size_t count, cap;
} unmarked_ctx;

static int collect_unmarked(void *ctx, const mesh_oid *id)
{
	unmarked_ctx *u = ctx;

	/* An id both touched and pinned comes twice: walking it again
	 * costs nothing. */
	if (u->marked(u->mctx, id))
		return 0;
	if (u->count == u->cap) {
		size_t cap = u->cap ? u->cap * 2 : 64;
		mesh_oid *grown = realloc(u->ids, cap * sizeof(*grown));
		if (!grown)
			return mesh_error_oom();
		u->ids = grown;
		u->cap = cap;
	}
	u->ids[u->count++] = *id;
	return 0;
}

/* Gc lock held.  The touched and pinned ids that marked does not know. */
static int unmarked_locked(mesh_odb *odb, unmarked_ctx *u)
{
	int error;

	if (odb->gc_note_failed)
		return mesh_error_set(MESH_ENOMEM,
			"out of memory noting objects written during the collection");
	if ((error = mesh_oidset_foreach(odb->touched, collect_unmarked, u)) != 0)
		return error;
	return mesh_oidset_foreach(odb->pins, collect_unmarked, u);
}

int mesh_odb_gc_unmarked(mesh_odb *odb, mesh_odb_marked_fn marked, void *mctx,
			 int (*cb)(void *ctx, const mesh_oid *id), void *ctx,
			 size_t *count)
{
	unmarked_ctx u = { marked, mctx, NULL, 0, 0 };
	int error;

	pthread_mutex_lock(&odb->gc_lock);
	error = unmarked_locked(odb, &u);
	pthread_mutex_unlock(&odb->gc_lock);
	/* Walked outside the lock: the walk reads objects. */
	for (size_t i = 0; error == 0 && i < u.count; i++)
		error = cb(ctx, &u.ids[i]);
	*count = u.count;
	free(u.ids);
	return error;
}

int mesh_odb_gc_sweep_begin(mesh_odb *odb, mesh_odb_marked_fn marked, void *mctx,
			    bool enforce)
{
	unmarked_ctx u = { marked, mctx, NULL, 0, 0 };
	int error;

	pthread_mutex_lock(&odb->gc_lock);
	/* Checked and switched in one hold of the lock: an id touched
	 * after the check is refused or kept by the sweep's rules. */
	if ((error = unmarked_locked(odb, &u)) == 0 && u.count == 0) {
		odb->gc_marked = marked;
		odb->gc_marked_ctx = mctx;
		atomic_store_explicit(&odb->gc_phase, enforce ? GC_SWEEP : GC_SWEEP_DRY,
				      memory_order_release);
		error = 1;
	}
	pthread_mutex_unlock(&odb->gc_lock);
	free(u.ids);
	return error;
}

int mesh_odb_gc_list(mesh_odb *odb, int (*cb)(void *ctx, const mesh_oid *oid,
					     uint64_t stored_bytes, int64_t ctime_ns),
		     void *ctx)
{
	mesh_odb_backend *b = odb->backend;

	return b->list ? b->list(b, cb, ctx) : 0;
}

int mesh_odb_gc_remove(mesh_odb *odb, const mesh_oid *oid, bool dry_run)
{
	mesh_odb_backend *b = odb->backend;
	int result = 0;

	pthread_mutex_lock(&odb->gc_lock);
	if (!gc_running(odb) || !gc_own_thread(odb))
		result = mesh_error_set(MESH_EINVAL, "no collection runs on this thread");
	else if (odb->gc_note_failed)
		result = mesh_error_set(MESH_ENOMEM,
			"out of memory noting objects written during the collection");
	else if (gc_keeps_locked(odb, oid))
		result = 0;
	else if (dry_run)
		result = 1;
	else if (b->remove && (result = b->remove(b, oid)) == 0)
		result = 1;
	pthread_mutex_unlock(&odb->gc_lock);
	return result;
}

bool mesh_odb_gc_kept(mesh_odb *odb, const mesh_oid *oid)
{
	bool kept;

	pthread_mutex_lock(&odb->gc_lock);
	kept = mesh_oidset_has(odb->pins, oid) ||
	       (odb->touched && mesh_oidset_has(odb->touched, oid));
	pthread_mutex_unlock(&odb->gc_lock);
	return kept;
}

void mesh_odb_gc_end(mesh_odb *odb)
{
	mesh_oidset *touched;

	pthread_mutex_lock(&odb->gc_lock);
	touched = odb->touched;
	odb->touched = NULL;
	odb->gc_marked = NULL;
	atomic_store_explicit(&odb->gc_phase, GC_IDLE, memory_order_release);
	pthread_mutex_unlock(&odb->gc_lock);
	mesh_oidset_free(touched);
}
