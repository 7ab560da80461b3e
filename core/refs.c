/*
 * refs.c - the ref store and its RocksDB backend.
 *
 * The front end (mesh_ref_*) validates the names it writes and then
 * delegates to the backend, so every backend stores only well-formed
 * refs and the checks are written once.
 */
#include "refs.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

#define MESH_REF_NAME_MAX 255
#define MESH_REF_KEY_PREFIX "r/"

struct mesh_refdb {
	mesh_refdb_backend *backend;
};

/* ---- RocksDB backend ------------------------------------------------ */

typedef struct rocksdb_refdb {
	mesh_refdb_backend parent;   /* first, so the casts below hold */
	mesh_db *db;
} rocksdb_refdb;

/* Builds "r/" domain '\0' name into a malloc'd buffer (caller frees). */
static int ref_key(char **out, size_t *out_len, const char *domain,
		   const char *name)
{
	size_t plen = strlen(MESH_REF_KEY_PREFIX);
	size_t dlen = strlen(domain), nlen = strlen(name);
	size_t len = plen + dlen + 1 + nlen;
	char *key = malloc(len + 1);

	if (!key)
		return mesh_error_oom();
	memcpy(key, MESH_REF_KEY_PREFIX, plen);
	memcpy(key + plen, domain, dlen);
	key[plen + dlen] = '\0';
	memcpy(key + plen + dlen + 1, name, nlen + 1);
	*out = key;
	*out_len = len;
	return 0;
}

static int rocksdb_ref_get(mesh_refdb_backend *b, const char *domain,
			   const char *name, mesh_oid *out)
{
	rocksdb_refdb *rb = (rocksdb_refdb *)b;
	char *key;
	size_t klen, vlen;
	void *val;
	int rc = ref_key(&key, &klen, domain, name);

	if (rc < 0)
		return rc;
	rc = mesh_db_get(rb->db, key, klen, &val, &vlen);
	free(key);
	if (rc == MESH_ENOENT)
		return mesh_error_set(MESH_ENOENT, "ref %s not found in domain %s",
				      name, domain);
	if (rc < 0)
		return rc;
	if (vlen != MESH_OID_RAWSZ) {
		free(val);
		return mesh_error_set(MESH_EIO,
			"ref %s in domain %s is corrupt: %zu bytes instead of %d",
			name, domain, vlen, MESH_OID_RAWSZ);
	}
	memcpy(out->id, val, MESH_OID_RAWSZ);
	free(val);
	return 0;
}

static int rocksdb_ref_set(mesh_refdb_backend *b, const char *domain,
			   const char *name, const mesh_oid *oid,
			   mesh_db_batch *batch)
{
	rocksdb_refdb *rb = (rocksdb_refdb *)b;
	char *key;
	size_t klen;
	int rc = ref_key(&key, &klen, domain, name);

	if (rc < 0)
		return rc;
	if (batch && oid)
		mesh_db_batch_put(batch, key, klen, oid->id, MESH_OID_RAWSZ);
	else if (batch)
		mesh_db_batch_delete(batch, key, klen);
	else if (oid)
		rc = mesh_db_put(rb->db, key, klen, oid->id, MESH_OID_RAWSZ,
				 true);
	else
		rc = mesh_db_delete(rb->db, key, klen, true);
	free(key);
	return rc;
}

/* Hands one stored ref to the caller's callback. */
static int ref_list_one(const char *domain, size_t name_off,
			const void *key, size_t klen,
			const void *val, size_t vlen,
			mesh_ref_cb cb, void *ctx)
{
	size_t nlen = klen - name_off;
	char name[MESH_REF_NAME_MAX + 16];
	mesh_oid oid;

	/* Names longer than any valid ref were not written by this code. */
	if (nlen >= sizeof(name) || vlen != MESH_OID_RAWSZ)
		return mesh_error_set(MESH_EIO,
			"corrupt ref entry in domain %s (name %zu bytes, value %zu bytes)",
			domain, nlen, vlen);
	memcpy(name, (const char *)key + name_off, nlen);
	name[nlen] = '\0';
	memcpy(oid.id, val, MESH_OID_RAWSZ);
	return cb(ctx, name, &oid);
}

static int rocksdb_ref_list(mesh_refdb_backend *b, const char *domain,
			    const char *prefix, mesh_ref_cb cb, void *ctx)
{
	rocksdb_refdb *rb = (rocksdb_refdb *)b;
	mesh_db_iter *it;
	char *pkey;
	size_t plen, name_off;
	const void *key, *val;
	size_t klen, vlen;
	int rc = ref_key(&pkey, &plen, domain, prefix ? prefix : "");

	if (rc < 0)
		return rc;
	name_off = strlen(MESH_REF_KEY_PREFIX) + strlen(domain) + 1;
	rc = mesh_db_iter_new(&it, rb->db, pkey, plen);
	free(pkey);
	if (rc < 0)
		return rc;
	while ((rc = mesh_db_iter_next(it, &key, &klen, &val, &vlen)) > 0) {
		rc = ref_list_one(domain, name_off, key, klen, val, vlen,
				  cb, ctx);
		if (rc != 0)
			break;
	}
	mesh_db_iter_free(it);
	return rc;
}

static int rocksdb_ref_list_all(mesh_refdb_backend *b, mesh_ref_all_cb cb, void *ctx)
{
	rocksdb_refdb *rb = (rocksdb_refdb *)b;
	size_t plen = strlen(MESH_REF_KEY_PREFIX), klen, vlen;
	const void *key, *val;
	char buf[2 * (MESH_REF_NAME_MAX + 16)];
	mesh_db_iter *it;
	mesh_oid oid;
	int rc;

	if ((rc = mesh_db_iter_new(&it, rb->db, MESH_REF_KEY_PREFIX, plen)) < 0)
		return rc;
	while ((rc = mesh_db_iter_next(it, &key, &klen, &val, &vlen)) > 0) {
		const char *k = (const char *)key + plen, *nul;
		size_t rest = klen - plen;

		/* Keys this code did not write are skipped, as list does. */
		if (rest >= sizeof(buf) || vlen != MESH_OID_RAWSZ ||
		    !(nul = memchr(k, '\0', rest)))
			continue;
		memcpy(buf, k, rest);
		buf[rest] = '\0';
		memcpy(oid.id, val, MESH_OID_RAWSZ);
		if ((rc = cb(ctx, buf, buf + (nul - k) + 1, &oid)) != 0)
			break;
	}
	mesh_db_iter_free(it);
	return rc;
}

static void rocksdb_ref_free(mesh_refdb_backend *b)
{
	free(b);
}

int mesh_refdb_backend_rocksdb(mesh_refdb_backend **out, mesh_db *db)
{
	rocksdb_refdb *rb = calloc(1, sizeof(*rb));

	*out = NULL;
	if (!rb)
		return mesh_error_oom();
	rb->parent.get = rocksdb_ref_get;
	rb->parent.set = rocksdb_ref_set;
	rb->parent.list = rocksdb_ref_list;
	rb->parent.list_all = rocksdb_ref_list_all;
	rb->parent.free = rocksdb_ref_free;
	rb->db = db;
	*out = &rb->parent;
	return 0;
}

/* ---- front end ------------------------------------------------------- */

int mesh_refdb_open(mesh_refdb **out, mesh_refdb_backend *backend)
{
	mesh_refdb *refs;

	*out = NULL;
	refs = calloc(1, sizeof(*refs));
	if (!refs) {
		backend->free(backend);
		return mesh_error_oom();
	}
	refs->backend = backend;
	*out = refs;
	return 0;
}

void mesh_refdb_close(mesh_refdb *refs)
{
	if (!refs)
		return;
	refs->backend->free(refs->backend);
	free(refs);
}

static bool ref_char_ok(char c, bool first)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '_')
		return true;
	return !first && (c == '.' || c == '-');
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t slen = strlen(suffix);

	return len >= slen && memcmp(s + len - slen, suffix, slen) == 0;
}

int mesh_ref_name_check(const char *what, const char *name)
{
	size_t len, i;

	if (!what)
		what = "name";
	if (!name || !*name)
		return mesh_error_set(MESH_EINVAL,
			"%s name is empty; allowed: [A-Za-z0-9_][A-Za-z0-9._-]*",
			what);
	len = strlen(name);
	if (len > MESH_REF_NAME_MAX)
		return mesh_error_set(MESH_EINVAL,
			"%s name is %zu bytes long; allowed: [A-Za-z0-9_][A-Za-z0-9._-]*, at most %d bytes",
			what, len, MESH_REF_NAME_MAX);
	for (i = 0; i < len; i++)
		if (!ref_char_ok(name[i], i == 0))
			return mesh_error_set(MESH_EINVAL,
				"invalid %s name '%s': allowed characters are [A-Za-z0-9_][A-Za-z0-9._-]*",
				what, name);
	if (strstr(name, ".."))
		return mesh_error_set(MESH_EINVAL,
			"invalid %s name '%s': must not contain '..' (allowed: [A-Za-z0-9_][A-Za-z0-9._-]*)",
			what, name);
	if (ends_with(name, len, ".lock"))
		return mesh_error_set(MESH_EINVAL,
			"invalid %s name '%s': must not end in '.lock' (allowed: [A-Za-z0-9_][A-Za-z0-9._-]*)",
			what, name);
	return 0;
}

int mesh_ref_new_name_check(const char *what, const char *name)
{
	size_t len;
	int error = mesh_ref_name_check(what, name);

	if (error < 0)
		return error;
	len = strlen(name);
	/* MOUNT/DOMAIN/<hex>/ and every REF argument try commit ids and
	 * their prefixes: a branch or tag spelled like one would hide it. */
	if (len >= MESH_REF_HEX_MIN && strspn(name, "0123456789abcdefABCDEF") == len)
		return mesh_error_set(MESH_EINVAL,
			"invalid %s name '%s': %d or more hex digits and nothing else could be a commit id",
			what ? what : "name", name, MESH_REF_HEX_MIN);
	return 0;
}

/* A full ref is "heads/<branch>" or "tags/<tag>" with a valid short name. */
static int ref_full_name_check(const char *domain, const char *name)
{
	if (!domain || !*domain)
		return mesh_error_set(MESH_EINVAL, "domain name is empty");
	if (!name)
		return mesh_error_set(MESH_EINVAL, "ref name is missing");
	if (strncmp(name, "heads/", 6) == 0)
		return mesh_ref_name_check("branch", name + 6);
	if (strncmp(name, "tags/", 5) == 0)
		return mesh_ref_name_check("tag", name + 5);
	return mesh_error_set(MESH_EINVAL,
		"invalid ref '%s' in domain %s: must be heads/<branch> or tags/<tag>",
		name, domain);
}

/* Lookups do not validate the name: whatever a user typed as a path or
 * rev, a name that could never have been stored is simply not found. */
int mesh_ref_get(mesh_refdb *refs, const char *domain, const char *name,
		 mesh_oid *out)
{
	if (!domain || !*domain)
		return mesh_error_set(MESH_EINVAL, "domain name is empty");
	if (!name || !*name)
		return mesh_error_set(MESH_EINVAL, "ref name is empty");
	return refs->backend->get(refs->backend, domain, name, out);
}

int mesh_ref_set(mesh_refdb *refs, const char *domain, const char *name,
		 const mesh_oid *oid, mesh_db_batch *batch)
{
	int rc = ref_full_name_check(domain, name);

	if (rc < 0)
		return rc;
	if (!oid)
		return mesh_error_set(MESH_EINVAL,
			"no commit id given for ref %s in domain %s",
			name, domain);
	return refs->backend->set(refs->backend, domain, name, oid, batch);
}

/* Deleting a ref that does not exist is reported, as `git branch -d`
 * does, rather than silently succeeding. */
int mesh_ref_delete(mesh_refdb *refs, const char *domain, const char *name,
		    mesh_db_batch *batch)
{
	mesh_oid cur;
	int rc = mesh_ref_get(refs, domain, name, &cur);

	if (rc < 0)
		return rc;
	return refs->backend->set(refs->backend, domain, name, NULL, batch);
}

int mesh_ref_list(mesh_refdb *refs, const char *domain, const char *prefix,
		  mesh_ref_cb cb, void *ctx)
{
	if (!domain || !*domain)
		return mesh_error_set(MESH_EINVAL, "domain name is empty");
	return refs->backend->list(refs->backend, domain, prefix ? prefix : "",
				   cb, ctx);
}

int mesh_ref_list_all(mesh_refdb *refs, mesh_ref_all_cb cb, void *ctx)
{
	return refs->backend->list_all(refs->backend, cb, ctx);
}
