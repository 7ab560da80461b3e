#include "history.h"
#include "error.h"
#include "refs.h"
#include "tree.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* New branch and tag names must never look like an abbreviation. */
_Static_assert(MESH_REF_HEX_MIN <= MESH_ABBREV_MIN, "hex-like ref names would shadow commit ids");

#define INDEX_PREFIX_MAX 300

static size_t index_prefix(char *buf, const char *domain)
{
	int n = snprintf(buf, INDEX_PREFIX_MAX, "c/%s", domain);

	return (size_t)n + 1;   /* keep the NUL as separator */
}

void mesh_history_index_put(mesh_db_batch *batch, const char *domain,
			    const mesh_oid *commit)
{
	char key[INDEX_PREFIX_MAX + MESH_OID_RAWSZ];
	size_t len = index_prefix(key, domain);

	memcpy(key + len, commit->id, MESH_OID_RAWSZ);
	mesh_db_batch_put(batch, key, len + MESH_OID_RAWSZ, "", 0);
}

#define INDEX_VALUE_VERSION 1
#define INDEX_VALUE_FIXED (1 + 8 + 1)

void mesh_history_index_put_commit(mesh_db_batch *batch, const char *domain,
				   const mesh_oid *id, const mesh_commit *commit)
{
	char key[INDEX_PREFIX_MAX + MESH_OID_RAWSZ];
	unsigned char val[INDEX_VALUE_FIXED + MESH_HISTORY_PARENTS_MAX * MESH_OID_RAWSZ];
	size_t len = index_prefix(key, domain);
	/* More parents than fit would be an octopus merge no command makes;
	 * the entry then says nothing rather than something partial. */
	size_t parents = commit->parent_count;
	uint64_t time = (uint64_t)commit->time;

	memcpy(key + len, id->id, MESH_OID_RAWSZ);
	if (parents > MESH_HISTORY_PARENTS_MAX) {
		mesh_db_batch_put(batch, key, len + MESH_OID_RAWSZ, "", 0);
		return;
	}
	val[0] = INDEX_VALUE_VERSION;
	for (int i = 0; i < 8; i++)
		val[1 + i] = (unsigned char)(time >> (8 * i));
	val[9] = (unsigned char)parents;
	for (size_t i = 0; i < parents; i++)
		memcpy(val + INDEX_VALUE_FIXED + i * MESH_OID_RAWSZ, commit->parents[i].id,
		       MESH_OID_RAWSZ);
	mesh_db_batch_put(batch, key, len + MESH_OID_RAWSZ, val,
			  INDEX_VALUE_FIXED + parents * MESH_OID_RAWSZ);
}

/* Fills out from an index value; false when it holds nothing usable. */
static bool index_decode(const unsigned char *val, size_t vlen, mesh_history_indexed *out)
{
	uint64_t time = 0;
	size_t parents;

	if (vlen < INDEX_VALUE_FIXED || val[0] != INDEX_VALUE_VERSION)
		return false;
	parents = val[9];
	if (parents > MESH_HISTORY_PARENTS_MAX ||
	    vlen != INDEX_VALUE_FIXED + parents * MESH_OID_RAWSZ)
		return false;
	for (int i = 7; i >= 0; i--)
		time = time << 8 | val[1 + i];
	out->time = (int64_t)time;
	out->parent_count = parents;
	for (size_t i = 0; i < parents; i++)
		memcpy(out->parents[i].id, val + INDEX_VALUE_FIXED + i * MESH_OID_RAWSZ,
		       MESH_OID_RAWSZ);
	out->known = true;
	return true;
}

/* Completes an entry the index says nothing about from its commit. */
static int index_complete(mesh_store *store, mesh_history_indexed *out)
{
	mesh_commit *commit;
	int error = mesh_commit_load(mesh_store_odb(store), &out->id, &commit);

	if (error == MESH_ENOMEM)
		return error;
	if (error < 0) {
		mesh_error_clear();
		return 0;
	}
	if (commit->parent_count <= MESH_HISTORY_PARENTS_MAX) {
		out->known = true;
		out->time = commit->time;
		out->parent_count = commit->parent_count;
		memcpy(out->parents, commit->parents,
		       commit->parent_count * sizeof(*commit->parents));
	}
	mesh_commit_free(commit);
	return 0;
}

static int index_fill(mesh_store *store, const mesh_oid *id, const void *val,
		      size_t vlen, mesh_history_indexed *out)
{
	memset(out, 0, sizeof(*out));
	out->id = *id;
	if (index_decode(val, vlen, out))
		return 0;
	return index_complete(store, out);
}

int mesh_history_index_get(mesh_store *store, const char *domain,
			   const mesh_oid *id, mesh_history_indexed *out)
{
	char key[INDEX_PREFIX_MAX + MESH_OID_RAWSZ];
	size_t len = index_prefix(key, domain), vlen;
	void *val;
	int found;

	memcpy(key + len, id->id, MESH_OID_RAWSZ);
	found = mesh_db_find(mesh_store_db(store), key, len + MESH_OID_RAWSZ, &val, &vlen);
	if (found <= 0)
		return found < 0 ? found : MESH_ENOENT;
	found = index_fill(store, id, val, vlen, out);
	free(val);
	return found;
}

int mesh_history_index_list(mesh_store *store, const char *domain,
			    mesh_history_index_cb cb, void *ctx)
{
	char key[INDEX_PREFIX_MAX + MESH_OID_RAWSZ];
	size_t plen = index_prefix(key, domain);
	mesh_history_indexed entry;
	mesh_db_iter *it;
	const void *k, *v;
	size_t klen, vlen;
	int more = 0, error;

	if ((error = mesh_db_iter_new(&it, mesh_store_db(store), key, plen)) < 0)
		return error;
	while (error == 0 && (more = mesh_db_iter_next(it, &k, &klen, &v, &vlen)) > 0) {
		mesh_oid id;
		if (klen != plen + MESH_OID_RAWSZ)
			continue;
		memcpy(id.id, (const char *)k + plen, MESH_OID_RAWSZ);
		if ((error = index_fill(store, &id, v, vlen, &entry)) == 0)
			error = cb(ctx, &entry);
	}
	mesh_db_iter_free(it);
	return error != 0 ? error : more < 0 ? more : 0;
}

int mesh_history_branch_head(mesh_store *store, const char *domain,
			     const char *branch, mesh_oid *out)
{
	char name[300];
	int error;

	snprintf(name, sizeof(name), "heads/%s", branch);
	error = mesh_ref_get(mesh_store_refs(store), domain, name, out);
	if (error == MESH_ENOENT)
		return mesh_error_set(MESH_ENOENT, "branch %s does not exist in domain %s",
				      branch, domain);
	return error;
}

static int hex_value(int c)
{
	return isdigit(c) ? c - '0' : c - 'a' + 10;
}

static bool is_hex_prefix(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return false;
	return len >= MESH_ABBREV_MIN && len <= MESH_OID_HEXSZ;
}

/* Finds the one indexed commit of domain whose id starts with hex. */
static int resolve_abbrev(mesh_store *store, const char *domain,
			  const char *hex, size_t hexlen, mesh_oid *out)
{
	char key[INDEX_PREFIX_MAX + MESH_OID_RAWSZ];
	size_t plen = index_prefix(key, domain), full = hexlen / 2;
	mesh_db_iter *it;
	const void *k, *v;
	size_t klen, vlen;
	int more, matches = 0, error;

	for (size_t i = 0; i < full; i++)
		key[plen + i] = (char)(hex_value(hex[2 * i]) << 4 | hex_value(hex[2 * i + 1]));
	if ((error = mesh_db_iter_new(&it, mesh_store_db(store), key, plen + full)) < 0)
		return error;
	while ((more = mesh_db_iter_next(it, &k, &klen, &v, &vlen)) > 0) {
		const unsigned char *raw = (const unsigned char *)k + plen;
		if (klen != plen + MESH_OID_RAWSZ)
			continue;
		if (hexlen % 2 && (raw[full] >> 4) != hex_value(hex[hexlen - 1]))
			continue;
		if (++matches > 1)
			break;
		memcpy(out->id, raw, MESH_OID_RAWSZ);
	}
	mesh_db_iter_free(it);
	if (more < 0)
		return more;
	if (matches > 1)
		return mesh_error_set(MESH_EINVAL,
			"commit id %.*s is ambiguous in domain %s: give more digits",
			(int)hexlen, hex, domain);
	if (matches == 0)
		return mesh_error_set(MESH_ENOENT, "no commit %.*s in domain %s",
				      (int)hexlen, hex, domain);
	return 0;
}

/* A branch, a tag or a commit id: the base of an expression. */
static int resolve_base(mesh_store *store, const char *domain, const char *base,
			mesh_rev *out)
{
	char name[300];
	size_t len = strlen(base);
	int error;

	if (len >= 256)
		return mesh_error_set(MESH_EINVAL, "ref name too long in domain %s", domain);
	snprintf(name, sizeof(name), "heads/%s", base);
	error = mesh_ref_get(mesh_store_refs(store), domain, name, &out->commit);
	if (error == 0) {
		out->is_branch = true;
		snprintf(out->branch, sizeof(out->branch), "%s", base);
		return 0;
	}
	if (error != MESH_ENOENT)
		return error;
	snprintf(name, sizeof(name), "tags/%s", base);
	error = mesh_ref_get(mesh_store_refs(store), domain, name, &out->commit);
	if (error != MESH_ENOENT)
		return error;
	mesh_error_clear();
	if (is_hex_prefix(base, len))
		return resolve_abbrev(store, domain, base, len, &out->commit);
	return mesh_error_set(MESH_ENOENT,
		"ref %s not found in domain %s (not a branch, tag or commit id of at least %d hex digits)",
		base, domain, MESH_ABBREV_MIN);
}

/* Moves *id to its nth parent (1-based). */
static int nth_parent(mesh_store *store, const char *domain, const char *spec,
		      mesh_oid *id, unsigned long nth)
{
	mesh_commit *commit;
	int error = mesh_commit_load(mesh_store_odb(store), id, &commit);

	if (error < 0)
		return error;
	if (nth == 0 || nth > commit->parent_count)
		error = mesh_error_set(MESH_ENOENT, "%s: no such ancestor in domain %s",
				       spec, domain);
	else
		*id = commit->parents[nth - 1];
	mesh_commit_free(commit);
	return error;
}

/* "~", "~N", "^", "^N" repeated: checked whole before any walking, so a
 * malformed expression is EINVAL wherever the history ends. */
static int check_suffixes(const char *spec, const char *p)
{
	while (*p) {
		if (*p != '~' && *p != '^')
			return mesh_error_set(MESH_EINVAL, "malformed ref expression '%s'", spec);
		for (p++; isdigit((unsigned char)*p); p++)
			;
	}
	return 0;
}

static int apply_suffixes(mesh_store *store, const char *domain, const char *spec,
			  const char *p, mesh_oid *id)
{
	int error = check_suffixes(spec, p);

	while (*p && error == 0) {
		char op = *p++;
		char *end;
		unsigned long n = 1;

		if (op != '~' && op != '^')
			return mesh_error_set(MESH_EINVAL, "malformed ref expression '%s'", spec);
		if (isdigit((unsigned char)*p)) {
			n = strtoul(p, &end, 10);
			p = end;
		}
		if (op == '^') {
			if (n > 0)
				error = nth_parent(store, domain, spec, id, n);
			continue;
		}
		for (unsigned long i = 0; i < n && error == 0; i++)
			error = nth_parent(store, domain, spec, id, 1);
	}
	return error;
}

int mesh_revparse(mesh_store *store, const char *domain, const char *spec,
		  mesh_rev *out)
{
	char base[300];
	size_t base_len = strcspn(spec, "~^");
	int error;

	memset(out, 0, sizeof(*out));
	if (base_len == 0 || base_len >= sizeof(base))
		return mesh_error_set(MESH_EINVAL, "malformed ref expression '%s'", spec);
	memcpy(base, spec, base_len);
	base[base_len] = '\0';
	if ((error = resolve_base(store, domain, base, out)) < 0)
		return error;
	if (spec[base_len]) {
		out->is_branch = false;
		out->branch[0] = '\0';
		error = apply_suffixes(store, domain, spec, spec + base_len, &out->commit);
	}
	return error;
}

int mesh_history_walk(mesh_store *store, const mesh_oid *start, size_t max,
		      mesh_history_cb cb, void *ctx)
{
	mesh_oid id = *start;
	size_t seen = 0;
	int error = 0;

	while (error == 0 && (max == 0 || seen < max)) {
		mesh_commit *commit;
		if ((error = mesh_commit_load(mesh_store_odb(store), &id, &commit)) < 0)
			break;
		error = cb(ctx, &id, commit);
		seen++;
		bool more = commit->parent_count > 0;
		if (more)
			id = commit->parents[0];
		mesh_commit_free(commit);
		if (!more)
			break;
	}
	return error;
}

/* The entry at path, or kind NONE when absent. */
static int entry_at(mesh_store *store, const mesh_oid *commit_id, const mesh_oid *tree,
		    const char *path, mesh_tree_entry *out)
{
	mesh_commit *commit;
	mesh_oid root;
	int error;

	if (tree) {
		root = *tree;
	} else {
		if ((error = mesh_commit_load(mesh_store_odb(store), commit_id, &commit)) < 0)
			return error;
		root = commit->tree;
		mesh_commit_free(commit);
	}
	error = mesh_tree_lookup_path(mesh_store_odb(store), &root, path, out);
	if (error == MESH_ENOENT || error == MESH_ENOTDIR) {
		mesh_error_clear();
		memset(out, 0, sizeof(*out));
		return 0;
	}
	return error;
}

int mesh_history_touches(mesh_store *store, const mesh_commit *commit,
			 const char *path, bool *out)
{
	mesh_tree_entry mine, before = { 0 };
	int error;

	if ((error = entry_at(store, NULL, &commit->tree, path, &mine)) < 0)
		return error;
	if (commit->parent_count > 0 &&
	    (error = entry_at(store, &commit->parents[0], NULL, path, &before)) < 0)
		return error;
	*out = mine.kind != before.kind || mine.mode != before.mode ||
	       mesh_oid_cmp(&mine.id, &before.id) != 0;
	return 0;
}
