/*
 * stage.c - staged changes of a branch in RocksDB.
 *
 * Key:   "s/" domain \0 branch \0 parent \0 name
 * Value: version byte (2), then little-endian kind u8, has_lower u8,
 *        mode u32, size u64, mtime_ns i64, 32-byte id, uid u32, gid u32,
 *        rdev u64, atime_ns i64, ctime_ns i64 (87 bytes).
 *        Version 1 (written before ownership and times were kept) is the
 *        first 55 bytes of that; it still decodes.  Version 3 is a file
 *        with writes laid over it (journal.h): version 2's bytes, then
 *        journal id u64 and its count of writes u32 (99 bytes).
 *
 * Because '\0' sorts before '/', an entry "P/N" (key P \0 N) always sorts
 * before its descendants (keys starting P/N \0 or P/N/...), so a plain
 * key-order scan yields parents before children; list_tree relies on it.
 */
#include "stage.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "tree.h"

#define STAGE_VALUE_VERSION 2
#define STAGE_VALUE_LEN_V1 (1 + 1 + 1 + 4 + 8 + 8 + MESH_OID_RAWSZ)
#define STAGE_VALUE_LEN (STAGE_VALUE_LEN_V1 + 4 + 4 + 8 + 8 + 8)
#define STAGE_VALUE_VERSION_JOURNAL 3
#define STAGE_VALUE_LEN_V3 (STAGE_VALUE_LEN + 8 + 4)
#define STAGE_KIND_MAX_V1 MESH_STAGE_TOMBSTONE

/* Builds "s/" domain \0 branch \0 followed by tail_len bytes of tail.
 * The key is malloc'd (caller frees). */
static int stage_key(char **out, size_t *out_len, const char *domain,
		     const char *branch, const char *tail, size_t tail_len)
{
	size_t dlen = strlen(domain), blen = strlen(branch);
	size_t len = 2 + dlen + 1 + blen + 1 + tail_len;
	char *key = malloc(len ? len : 1), *p = key;

	if (!key)
		return mesh_error_oom();
	memcpy(p, "s/", 2);
	p += 2;
	memcpy(p, domain, dlen + 1);
	p += dlen + 1;
	memcpy(p, branch, blen + 1);
	p += blen + 1;
	if (tail_len)
		memcpy(p, tail, tail_len);
	*out = key;
	*out_len = len;
	return 0;
}

/* The key of one path: its parent and name are separated by '\0', so
 * "a/b.csv" becomes "a\0b.csv" and a top-level "x" becomes "\0x". */
static int stage_entry_key(char **out, size_t *out_len, const char *domain,
			   const char *branch, const char *path)
{
	size_t plen = strlen(path);
	const char *slash = strrchr(path, '/');
	char *tail = malloc(plen + 1);
	int rc;

	if (!tail)
		return mesh_error_oom();
	if (slash) {
		memcpy(tail, path, plen);
		tail[slash - path] = '\0';
		rc = stage_key(out, out_len, domain, branch, tail, plen);
	} else {
		tail[0] = '\0';
		memcpy(tail + 1, path, plen);
		rc = stage_key(out, out_len, domain, branch, tail, plen + 1);
	}
	free(tail);
	return rc;
}

static void put_le(unsigned char *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Returns the length written. */
static size_t stage_encode(unsigned char out[STAGE_VALUE_LEN_V3],
			   const mesh_stage_entry *e)
{
	out[0] = e->journal_id ? STAGE_VALUE_VERSION_JOURNAL : STAGE_VALUE_VERSION;
	out[1] = (unsigned char)e->kind;
	out[2] = e->has_lower ? 1 : 0;
	put_le(out + 3, e->mode, 4);
	put_le(out + 7, e->size, 8);
	put_le(out + 15, (uint64_t)e->mtime_ns, 8);
	memcpy(out + 23, e->id.id, MESH_OID_RAWSZ);
	put_le(out + STAGE_VALUE_LEN_V1, e->uid, 4);
	put_le(out + STAGE_VALUE_LEN_V1 + 4, e->gid, 4);
	put_le(out + STAGE_VALUE_LEN_V1 + 8, e->rdev, 8);
	put_le(out + STAGE_VALUE_LEN_V1 + 16, (uint64_t)e->atime_ns, 8);
	put_le(out + STAGE_VALUE_LEN_V1 + 24, (uint64_t)e->ctime_ns, 8);
	if (!e->journal_id)
		return STAGE_VALUE_LEN;
	put_le(out + STAGE_VALUE_LEN, e->journal_id, 8);
	put_le(out + STAGE_VALUE_LEN + 8, e->journal_count, 4);
	return STAGE_VALUE_LEN_V3;
}

static bool stage_value_valid(const unsigned char *p, size_t vlen)
{
	if (vlen == STAGE_VALUE_LEN_V3 && p[0] == STAGE_VALUE_VERSION_JOURNAL)
		return p[1] == MESH_STAGE_FILE && p[2] == 0;
	if (vlen == STAGE_VALUE_LEN && p[0] == STAGE_VALUE_VERSION)
		return p[1] >= MESH_STAGE_FILE && p[1] <= MESH_STAGE_BLKDEV && p[2] <= 1;
	if (vlen == STAGE_VALUE_LEN_V1 && p[0] == 1)
		return p[1] >= MESH_STAGE_FILE && p[1] <= STAGE_KIND_MAX_V1 && p[2] <= 1;
	return false;
}

static int stage_decode(mesh_stage_entry *e, const void *val, size_t vlen,
			const char *domain, const char *branch,
			const char *path)
{
	const unsigned char *p = val;

	if (!stage_value_valid(p, vlen))
		return mesh_error_set(MESH_EIO,
			"staged entry '%s' of %s/%s is corrupt (%zu bytes, version %u)",
			path, domain, branch, vlen, vlen ? p[0] : 0u);
	memset(e, 0, sizeof(*e));
	e->kind = (mesh_stage_kind)p[1];
	e->has_lower = p[2] == 1;
	e->mode = (uint32_t)get_le(p + 3, 4);
	e->size = get_le(p + 7, 8);
	e->mtime_ns = (int64_t)get_le(p + 15, 8);
	memcpy(e->id.id, p + 23, MESH_OID_RAWSZ);
	if (vlen == STAGE_VALUE_LEN_V1) {
		e->uid = e->gid = MESH_OWNER_LEGACY;
		e->atime_ns = e->ctime_ns = e->mtime_ns;
		return 0;
	}
	e->uid = (uint32_t)get_le(p + STAGE_VALUE_LEN_V1, 4);
	e->gid = (uint32_t)get_le(p + STAGE_VALUE_LEN_V1 + 4, 4);
	e->rdev = get_le(p + STAGE_VALUE_LEN_V1 + 8, 8);
	e->atime_ns = (int64_t)get_le(p + STAGE_VALUE_LEN_V1 + 16, 8);
	e->ctime_ns = (int64_t)get_le(p + STAGE_VALUE_LEN_V1 + 24, 8);
	if (vlen == STAGE_VALUE_LEN_V3) {
		e->journal_id = get_le(p + STAGE_VALUE_LEN, 8);
		e->journal_count = (uint32_t)get_le(p + STAGE_VALUE_LEN + 8, 4);
	}
	return 0;
}

int mesh_stage_find(mesh_db *db, const char *domain, const char *branch,
		    const char *path, mesh_stage_entry *out)
{
	char *key;
	size_t klen, vlen;
	void *val;
	int rc = stage_entry_key(&key, &klen, domain, branch, path);

	if (rc < 0)
		return rc;
	rc = mesh_db_find(db, key, klen, &val, &vlen);
	free(key);
	if (rc <= 0)
		return rc;
	rc = stage_decode(out, val, vlen, domain, branch, path);
	free(val);
	return rc < 0 ? rc : 1;
}

int mesh_stage_get(mesh_db *db, const char *domain, const char *branch,
		   const char *path, mesh_stage_entry *out)
{
	int found = mesh_stage_find(db, domain, branch, path, out);

	if (found == 0)
		return mesh_error_set(MESH_ENOENT,
			"nothing staged at '%s' in %s/%s", path, domain, branch);
	return found < 0 ? found : 0;
}

/* put/remove return nothing, so an allocation failure cannot be
 * reported; like rocksdb_writebatch_put itself (which terminates on
 * bad_alloc) we stop rather than silently drop a staged change. */
static void stage_key_or_abort(char **key, size_t *klen, const char *domain,
			       const char *branch, const char *path)
{
	if (stage_entry_key(key, klen, domain, branch, path) < 0)
		abort();
}

void mesh_stage_put(mesh_db_batch *batch, const char *domain,
		    const char *branch, const char *path,
		    const mesh_stage_entry *entry)
{
	unsigned char val[STAGE_VALUE_LEN_V3];
	char *key;
	size_t klen, vlen;

	stage_key_or_abort(&key, &klen, domain, branch, path);
	vlen = stage_encode(val, entry);
	mesh_db_batch_put(batch, key, klen, val, vlen);
	free(key);
}

void mesh_stage_remove(mesh_db_batch *batch, const char *domain,
		       const char *branch, const char *path)
{
	char *key;
	size_t klen;

	stage_key_or_abort(&key, &klen, domain, branch, path);
	mesh_db_batch_delete(batch, key, klen);
	free(key);
}

/* ---- scans ----------------------------------------------------------- */

typedef struct stage_scan {
	mesh_db *db;
	const char *domain;
	const char *branch;
	size_t tail_off;        /* where parent \0 name starts in a key */
	char *path;             /* scratch for the current full path */
	size_t path_cap;
} stage_scan;

typedef int (*stage_scan_fn)(stage_scan *s, void *ctx, const char *key,
			     size_t klen, const void *val, size_t vlen);

static void stage_scan_init(stage_scan *s, mesh_db *db, const char *domain,
			    const char *branch)
{
	memset(s, 0, sizeof(*s));
	s->db = db;
	s->domain = domain;
	s->branch = branch;
	s->tail_off = 2 + strlen(domain) + 1 + strlen(branch) + 1;
}

/* Calls fn for every key starting with "s/" domain \0 branch \0 tail. */
static int stage_scan_run(stage_scan *s, const char *tail, size_t tail_len,
			  stage_scan_fn fn, void *ctx)
{
	mesh_db_iter *it;
	const void *key, *val;
	size_t klen, vlen;
	char *prefix = NULL;
	size_t plen = 0;
	int rc = stage_key(&prefix, &plen, s->domain, s->branch, tail,
			   tail_len);

	if (rc < 0)
		return rc;
	rc = mesh_db_iter_new(&it, s->db, prefix, plen);
	free(prefix);
	if (rc < 0)
		return rc;
	while ((rc = mesh_db_iter_next(it, &key, &klen, &val, &vlen)) > 0) {
		rc = fn(s, ctx, key, klen, val, vlen);
		if (rc != 0)
			break;
	}
	mesh_db_iter_free(it);
	return rc;
}

static int stage_path_reserve(stage_scan *s, size_t len)
{
	char *p;

	if (len + 1 <= s->path_cap)
		return 0;
	p = realloc(s->path, len + 1);
	if (!p)
		return mesh_error_oom();
	s->path = p;
	s->path_cap = len + 1;
	return 0;
}

/* Rebuilds the full path "parent/name" (or "name") of a key into s->path. */
static int stage_key_path(stage_scan *s, const char *key, size_t klen)
{
	const char *tail = key + s->tail_off;
	size_t tlen = klen - s->tail_off;
	const char *sep = memchr(tail, '\0', tlen);
	size_t parent_len, name_len;
	int rc;

	if (!sep)
		return mesh_error_set(MESH_EIO,
			"corrupt staging key in %s/%s: no parent separator",
			s->domain, s->branch);
	parent_len = (size_t)(sep - tail);
	name_len = tlen - parent_len - 1;
	rc = stage_path_reserve(s, tlen);
	if (rc < 0)
		return rc;
	if (parent_len) {
		memcpy(s->path, tail, parent_len);
		s->path[parent_len] = '/';
		memcpy(s->path + parent_len + 1, sep + 1, name_len);
		s->path[tlen] = '\0';
	} else {
		memcpy(s->path, sep + 1, name_len);
		s->path[name_len] = '\0';
	}
	return 0;
}

typedef struct stage_cb_ctx {
	mesh_stage_cb cb;
	void *ctx;
	size_t name_off;   /* list_dir: where the child name starts */
} stage_cb_ctx;

static int stage_list_dir_one(stage_scan *s, void *ctx, const char *key,
			      size_t klen, const void *val, size_t vlen)
{
	stage_cb_ctx *c = ctx;
	size_t name_len = klen - c->name_off;
	mesh_stage_entry e;
	int rc = stage_path_reserve(s, name_len);

	if (rc < 0)
		return rc;
	memcpy(s->path, key + c->name_off, name_len);
	s->path[name_len] = '\0';
	rc = stage_decode(&e, val, vlen, s->domain, s->branch, s->path);
	if (rc < 0)
		return rc;
	return c->cb(c->ctx, s->path, &e);
}

int mesh_stage_list_dir(mesh_db *db, const char *domain, const char *branch,
			const char *dir, mesh_stage_cb cb, void *ctx)
{
	stage_scan s;
	stage_cb_ctx c = { cb, ctx, 0 };
	size_t dlen = strlen(dir);
	int rc;

	stage_scan_init(&s, db, domain, branch);
	c.name_off = s.tail_off + dlen + 1;
	/* dir's own NUL terminator is the parent/name separator. */
	rc = stage_scan_run(&s, dir, dlen + 1, stage_list_dir_one, &c);
	free(s.path);
	return rc;
}

static int stage_list_tree_one(stage_scan *s, void *ctx, const char *key,
			       size_t klen, const void *val, size_t vlen)
{
	stage_cb_ctx *c = ctx;
	mesh_stage_entry e;
	int rc = stage_key_path(s, key, klen);

	if (rc < 0)
		return rc;
	rc = stage_decode(&e, val, vlen, s->domain, s->branch, s->path);
	if (rc < 0)
		return rc;
	return c->cb(c->ctx, s->path, &e);
}

/* Runs fn over every entry strictly below dir.  Keys with parent == dir
 * ("dir\0...") and those deeper ("dir/...") are not contiguous (a sibling
 * "dir-x\0..." sorts between them), hence two scans; the first holds
 * dir's children, which are the parents of everything in the second. */
static int stage_scan_tree(mesh_db *db, const char *domain,
			   const char *branch, const char *dir,
			   stage_scan_fn fn, void *ctx)
{
	stage_scan s;
	size_t dlen = strlen(dir);
	char *deeper;
	int rc;

	stage_scan_init(&s, db, domain, branch);
	if (dlen == 0) {
		rc = stage_scan_run(&s, "", 0, fn, ctx);
		free(s.path);
		return rc;
	}
	rc = stage_scan_run(&s, dir, dlen + 1, fn, ctx);
	if (rc == 0) {
		deeper = malloc(dlen + 1);
		if (!deeper) {
			rc = mesh_error_oom();
		} else {
			memcpy(deeper, dir, dlen);
			deeper[dlen] = '/';
			rc = stage_scan_run(&s, deeper, dlen + 1, fn, ctx);
			free(deeper);
		}
	}
	free(s.path);
	return rc;
}

int mesh_stage_list_tree(mesh_db *db, const char *domain, const char *branch,
			 const char *dir, mesh_stage_cb cb, void *ctx)
{
	stage_cb_ctx c = { cb, ctx, 0 };

	return stage_scan_tree(db, domain, branch, dir, stage_list_tree_one,
			       &c);
}

static int stage_clear_one(stage_scan *s, void *ctx, const char *key,
			   size_t klen, const void *val, size_t vlen)
{
	(void)s; (void)val; (void)vlen;
	mesh_db_batch_delete(ctx, key, klen);
	return 0;
}

int mesh_stage_clear_tree(mesh_db *db, mesh_db_batch *batch,
			  const char *domain, const char *branch,
			  const char *dir)
{
	/* Point deletes, never a range tombstone: Debian's RocksDB 7.8
	 * rebuilds a memtable's fragmented range tombstones on every read
	 * after one is added (20,000 branch deletes took 192 s) and crashed
	 * in that code under concurrent reads.  The point tombstones of a
	 * large commit are compacted away by the deletion-triggered
	 * compaction db.c sets up. */
	return stage_scan_tree(db, domain, branch, dir, stage_clear_one, batch);
}

static int stage_count_one(stage_scan *s, void *ctx, const char *key,
			   size_t klen, const void *val, size_t vlen)
{
	(void)s; (void)key; (void)klen; (void)val; (void)vlen;
	(*(uint64_t *)ctx)++;
	return 0;
}

int mesh_stage_count(mesh_db *db, const char *domain, const char *branch,
		     uint64_t *out)
{
	stage_scan s;
	uint64_t n = 0;
	int rc;

	*out = 0;
	stage_scan_init(&s, db, domain, branch);
	rc = stage_scan_run(&s, "", 0, stage_count_one, &n);
	free(s.path);
	if (rc == 0)
		*out = n;
	return rc;
}
