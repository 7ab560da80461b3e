#include "lineage.h"
#include "access.h"
#include "array.h"
#include "commit.h"
#include "error.h"
#include "history.h"
#include "merge.h"
#include "tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A chain longer than this is a cycle or a mistake: the walk stops. */
#define MAX_HOPS 32
#define LINEAGE_USAGE "lineage DOMAIN/REF/PATH [--json]"

enum { SRC_DOMAIN, SRC_REF, SRC_COMMIT, SRC_PATH, COPIED_ID, COPIED_KIND, REC_TIME, REC_FIELDS };

static int key_of(const char *const *fields, size_t count, char **key, size_t *klen)
{
	return mesh_fields_join(fields, count, key, klen);
}

int mesh_lineage_record_copy(mesh_store *store, mesh_view *dst, const char *dst_path,
			     mesh_view *src, const char *src_ref, const char *src_path)
{
	mesh_view_entry e;
	mesh_oid src_commit;
	char commit_hex[MESH_OID_HEXSZ + 1], id_hex[MESH_OID_HEXSZ + 1], now[32];
	char *key = NULL, *val = NULL;
	size_t klen, vlen;
	int error;

	if (!strcmp(mesh_view_domain(dst), mesh_view_domain(src)))
		return 0;
	if ((error = mesh_view_lookup(dst, dst_path, &e)) < 0)
		return error;
	mesh_view_commit_id(src, &src_commit);
	mesh_oid_fmt(commit_hex, &src_commit);
	mesh_oid_fmt(id_hex, &e.id);
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	const char *kf[] = { "g/p", mesh_view_domain(dst), mesh_view_branch(dst), dst_path };
	const char *vf[REC_FIELDS] = { mesh_view_domain(src), src_ref, commit_hex, src_path,
				       id_hex, e.kind == MESH_KIND_DIR ? "d" : "f", now };
	if ((error = key_of(kf, 4, &key, &klen)) == 0 &&
	    (error = mesh_fields_join(vf, REC_FIELDS, &val, &vlen)) == 0)
		error = mesh_db_put(mesh_store_db(store), key, klen, val, vlen, true);
	free(key);
	free(val);
	return error;
}

/* Whether the committed tree still has at path what the copy staged: a
 * file its very content, a directory a directory (what was added in it
 * since is still of the copy). */
static bool still_copied(mesh_store *store, const mesh_oid *tree, const char *path,
			 const char *const *rec)
{
	mesh_tree_entry e;
	char hex[MESH_OID_HEXSZ + 1];

	if (mesh_tree_lookup_path(mesh_store_odb(store), tree, path, &e) < 0) {
		mesh_error_clear();
		return false;
	}
	if (rec[COPIED_KIND][0] == 'd')
		return e.kind == MESH_KIND_DIR;
	mesh_oid_fmt(hex, &e.id);
	return e.kind != MESH_KIND_DIR && !strcmp(hex, rec[COPIED_ID]);
}

static int put_committed(mesh_db_batch *batch, const char *domain, const char *path,
			 const char *commit_hex, const void *val, size_t vlen,
			 const char *source, const char *now)
{
	char *key = NULL, *uval = NULL;
	size_t klen, ulen;
	const char *kf[] = { "g/c", domain, path, commit_hex };
	const char *uf[] = { "g/u", source, domain };
	const char *vf[] = { commit_hex, now };
	int error;

	if ((error = key_of(kf, 4, &key, &klen)) < 0)
		return error;
	mesh_db_batch_put(batch, key, klen, val, vlen);
	free(key);
	if ((error = key_of(uf, 3, &key, &klen)) < 0)
		return error;
	if ((error = mesh_fields_join(vf, 2, &uval, &ulen)) == 0)
		mesh_db_batch_put(batch, key, klen, uval, ulen);
	free(key);
	free(uval);
	return error;
}

int mesh_lineage_commit_put(mesh_store *store, mesh_db_batch *batch, const char *domain,
			    const char *branch, const mesh_oid *tree, const mesh_oid *commit)
{
	const char *pf[] = { "g/p", domain, branch };
	char *prefix = NULL, commit_hex[MESH_OID_HEXSZ + 1], now[32];
	mesh_db_iter *it = NULL;
	const void *k, *v;
	size_t plen, klen, vlen;
	int error, more;

	if (commit)
		mesh_oid_fmt(commit_hex, commit);
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	if ((error = key_of(pf, 3, &prefix, &plen)) < 0 ||
	    (error = mesh_db_iter_new(&it, mesh_store_db(store), prefix, plen)) < 0)
		goto done;
	while ((more = mesh_db_iter_next(it, &k, &klen, &v, &vlen)) == 1) {
		const char *kf[4], *rec[REC_FIELDS];

		if (tree && mesh_fields_split(k, klen, kf, 4) == 4 &&
		    mesh_fields_split(v, vlen, rec, REC_FIELDS) == REC_FIELDS &&
		    still_copied(store, tree, kf[3], rec) &&
		    (error = put_committed(batch, domain, kf[3], commit_hex, v, vlen,
					   rec[SRC_DOMAIN], now)) < 0)
			break;
		mesh_db_batch_delete(batch, k, klen);
	}
	if (more < 0)
		error = more;
done:
	mesh_db_iter_free(it);
	free(prefix);
	return error;
}

int mesh_lineage_drop_staged(mesh_store *store, mesh_db_batch *batch, const char *domain,
			     const char *branch)
{
	return mesh_lineage_commit_put(store, batch, domain, branch, NULL, NULL);
}

/* --- consumers ------------------------------------------------------------ */

int mesh_lineage_consumers_json(mesh_store *store, const mesh_caller *caller,
				const char *domain, mesh_json *j)
{
	const char *pf[] = { "g/u", domain };
	char *prefix = NULL;
	mesh_db_iter *it = NULL;
	const void *k, *v;
	size_t plen, klen, vlen, hidden = 0;
	int error, more = 0;

	if ((error = key_of(pf, 2, &prefix, &plen)) < 0 ||
	    (error = mesh_db_iter_new(&it, mesh_store_db(store), prefix, plen)) < 0) {
		free(prefix);
		return error;
	}
	mesh_json_key(j, "consumers");
	mesh_json_array_begin(j);
	while ((more = mesh_db_iter_next(it, &k, &klen, &v, &vlen)) == 1) {
		const char *kf[3], *vf[2];

		if (mesh_fields_split(k, klen, kf, 3) != 3 || mesh_fields_split(v, vlen, vf, 2) != 2)
			continue;
		if (!mesh_access_sees(store, caller, kf[2])) {
			hidden++;
			continue;
		}
		mesh_json_object_begin(j);
		mesh_json_field_string(j, "domain", kf[2]);
		mesh_json_field_string(j, "last_commit", vf[0]);
		mesh_json_field_int(j, "last_time", strtoll(vf[1], NULL, 10));
		mesh_json_object_end(j);
	}
	mesh_json_array_end(j);
	mesh_json_field_int(j, "hidden_consumers", (int64_t)hidden);
	mesh_db_iter_free(it);
	free(prefix);
	return more < 0 ? more : 0;
}

/* --- lineage ------------------------------------------------------------ */

typedef struct hop {
	bool found;
	int64_t time;
	size_t prefix_len;       /* of the path the record is for */
	mesh_oid brought_by;     /* the commit that landed the copy */
	char *rec;               /* the record's value, fields below point in */
	const char *fields[REC_FIELDS];
} hop;

static void hop_clear(hop *h)
{
	free(h->rec);
	memset(h, 0, sizeof(*h));
}

/* Asked without reading it: a missing object read is logged as damage. */
static bool commit_exists(mesh_store *store, const mesh_oid *id)
{
	int rc = mesh_odb_exists(mesh_store_odb(store), id);

	mesh_error_clear();
	return rc == 1;
}

/* Takes the record at key/val when its commit is in at's history and it
 * is newer than what h holds (a longer path wins a tie: a file copied
 * into a copied directory). */
static int consider(mesh_store *store, const mesh_oid *at, const void *k, size_t klen,
		    const void *v, size_t vlen, size_t prefix_len, hop *h)
{
	const char *kf[4], *rec[REC_FIELDS];
	mesh_oid commit;
	int64_t t;
	int rc;

	if (mesh_fields_split(k, klen, kf, 4) != 4 ||
	    mesh_fields_split(v, vlen, rec, REC_FIELDS) != REC_FIELDS ||
	    mesh_oid_parse(&commit, kf[3]) < 0) {
		mesh_error_clear();
		return 0;
	}
	t = strtoll(rec[REC_TIME], NULL, 10);
	if (h->found && (t < h->time || (t == h->time && prefix_len < h->prefix_len)))
		return 0;
	/* The commit of a deleted branch's copy, collected since: no ancestor. */
	if (!commit_exists(store, &commit))
		return 0;
	if ((rc = mesh_merge_is_ancestor(mesh_store_odb(store), &commit, at)) <= 0)
		return rc;
	/* Times are seconds: in a tie the later commit of the two wins. */
	if (h->found && t == h->time && prefix_len == h->prefix_len &&
	    (rc = mesh_merge_is_ancestor(mesh_store_odb(store), &h->brought_by, &commit)) <= 0)
		return rc;
	hop_clear(h);
	if (!(h->rec = malloc(vlen)))
		return mesh_error_oom();
	memcpy(h->rec, v, vlen);
	mesh_fields_split(h->rec, vlen, h->fields, REC_FIELDS);
	h->found = true;
	h->time = t;
	h->prefix_len = prefix_len;
	h->brought_by = commit;
	return 0;
}

/* The newest copy, in at's history, that brought path or a directory
 * above it into domain. */
static int find_hop(mesh_store *store, const char *domain, const mesh_oid *at,
		    const char *path, hop *h)
{
	size_t len = strlen(path);
	char *prefix_path = strdup(path);
	int error = 0;

	if (!prefix_path)
		return mesh_error_oom();
	while (error == 0 && len > 0) {
		const char *pf[] = { "g/c", domain, prefix_path };
		char *prefix = NULL;
		mesh_db_iter *it = NULL;
		const void *k, *v;
		size_t plen, klen, vlen;
		int more = 0;

		prefix_path[len] = '\0';
		if ((error = key_of(pf, 3, &prefix, &plen)) == 0 &&
		    (error = mesh_db_iter_new(&it, mesh_store_db(store), prefix, plen)) == 0)
			while (error == 0 && (more = mesh_db_iter_next(it, &k, &klen, &v, &vlen)) == 1)
				error = consider(store, at, k, klen, v, vlen, len, h);
		if (more < 0)
			error = more;
		mesh_db_iter_free(it);
		free(prefix);
		while (len > 0 && prefix_path[len - 1] != '/')
			len--;
		if (len > 0)
			len--;
	}
	free(prefix_path);
	return error;
}

/* The entry at path in commit's tree; false when there is none. */
static bool entry_at(mesh_store *store, const mesh_oid *commit, const char *path,
		     mesh_tree_entry *out)
{
	mesh_commit *c = NULL;
	bool found = mesh_commit_load(mesh_store_odb(store), commit, &c) == 0 &&
		     mesh_tree_lookup_path(mesh_store_odb(store), &c->tree, path, out) == 0;

	mesh_error_clear();
	mesh_commit_free(c);
	return found;
}

/* Whether what is at path of commit at differs from what the copy
 * brought: the copied entry for a file copied as such, the source's
 * entry (at its commit, below the copied directory) otherwise. */
static bool modified_since(mesh_store *store, const mesh_oid *at, const char *path,
			   const hop *h, const mesh_oid *src_commit, const char *src_path)
{
	mesh_tree_entry now, then;
	char hex[MESH_OID_HEXSZ + 1];

	if (!entry_at(store, at, path, &now))
		return true;
	if (h->prefix_len == strlen(path) && h->fields[COPIED_KIND][0] == 'f') {
		mesh_oid_fmt(hex, &now.id);
		return strcmp(hex, h->fields[COPIED_ID]) != 0;
	}
	if (!commit_exists(store, src_commit))
		return false;   /* not known any more */
	return !entry_at(store, src_commit, src_path, &then) ||
	       mesh_oid_cmp(&now.id, &then.id) != 0;
}

static int check_path_at(mesh_store *store, const mesh_oid *at, const char *path)
{
	mesh_commit *c = NULL;
	mesh_tree_entry e;
	int error;

	if ((error = mesh_commit_load(mesh_store_odb(store), at, &c)) == 0)
		error = mesh_tree_lookup_path(mesh_store_odb(store), &c->tree, path, &e);
	mesh_commit_free(c);
	return error;
}

static int trace(mesh_cmd *cmd, const char *domain, const char *ref, const mesh_oid *start,
		 const char *start_path)
{
	mesh_store *store = cmd->env->store;
	mesh_json *j = &cmd->json;
	char cur_domain[256], cur_ref[256], *cur_path = strdup(start_path);
	mesh_oid at = *start;
	size_t hops = 0;
	int error = 0;

	if (!cur_path)
		return mesh_error_oom();
	snprintf(cur_domain, sizeof(cur_domain), "%s", domain);
	snprintf(cur_ref, sizeof(cur_ref), "%s", ref);
	mesh_json_key(j, "chain");
	mesh_json_array_begin(j);
	for (;;) {
		hop h = { 0 };

		mesh_json_object_begin(j);
		if (hops > 0 && (!mesh_access_sees(store, cmd->caller, cur_domain) ||
				 !mesh_access_may_read(store, cmd->caller, cur_domain, cur_path))) {
			mesh_json_field_bool(j, "hidden", true);
			mesh_json_object_end(j);
			break;
		}
		mesh_json_field_string(j, "domain", cur_domain);
		mesh_json_field_string(j, "ref", cur_ref);
		mesh_cmd_json_oid(j, "commit", &at);
		mesh_json_field_string(j, "path", cur_path);
		/* A source commit that garbage collection took (its branch
		 * deleted long ago) ends the chain; it is no error. */
		if (hops > 0 && !commit_exists(store, &at)) {
			mesh_json_field_bool(j, "gone", true);
			mesh_json_object_end(j);
			break;
		}
		if ((error = find_hop(store, cur_domain, &at, cur_path, &h)) < 0) {
			mesh_json_object_end(j);
			break;
		}
		if (!h.found || hops == MAX_HOPS) {
			mesh_json_field_bool(j, "origin", !h.found);
			mesh_json_object_end(j);
			hop_clear(&h);
			break;
		}
		/* The source path of what lies below the copied directory. */
		size_t srclen = strlen(h.fields[SRC_PATH]);
		const char *tail = cur_path + h.prefix_len;
		char *next = malloc(srclen + strlen(tail) + 1);
		mesh_oid src_commit;
		if (!next || mesh_oid_parse(&src_commit, h.fields[SRC_COMMIT]) < 0) {
			mesh_json_object_end(j);
			free(next);
			hop_clear(&h);
			error = next ? mesh_error_set(MESH_EIO, "a lineage record of %s is damaged",
						      cur_domain) : mesh_error_oom();
			break;
		}
		memcpy(next, h.fields[SRC_PATH], srclen);
		strcpy(next + srclen, tail);
		mesh_cmd_json_oid(j, "copied_in_by", &h.brought_by);
		mesh_json_field_bool(j, "modified_since",
				     modified_since(store, &at, cur_path, &h, &src_commit, next));
		mesh_json_object_end(j);
		at = src_commit;
		free(cur_path);
		cur_path = next;
		snprintf(cur_domain, sizeof(cur_domain), "%s", h.fields[SRC_DOMAIN]);
		snprintf(cur_ref, sizeof(cur_ref), "%s", h.fields[SRC_REF]);
		hop_clear(&h);
		hops++;
	}
	mesh_json_array_end(j);
	mesh_json_field_int(j, "hops", (int64_t)hops);
	free(cur_path);
	return error;
}

static int cmd_lineage(mesh_cmd *cmd)
{
	const char *pos[1], *rest = NULL, *slash;
	bool json = false;
	size_t npos = 0;
	mesh_cmd_opt opts[] = { { "--json", NULL, NULL, &json } };
	char domain[256], ref[256], *path = NULL;
	mesh_rev rev;
	int error;

	if ((error = mesh_cmd_parse_opts(cmd, 1, opts, 1, pos, 1, &npos, NULL)) < 0 ||
	    (error = mesh_cmd_need_positional(cmd, npos, 1, LINEAGE_USAGE)) < 0 ||
	    (error = mesh_cmd_parse_target(cmd, pos[0], domain, sizeof(domain), &rest)) < 0)
		return error;
	slash = strchr(rest, '/');
	if (!slash || (size_t)(slash - rest) >= sizeof(ref) || !slash[1])
		return mesh_error_set(MESH_EINVAL, "'%s' is not of the form DOMAIN/REF/PATH", pos[0]);
	memcpy(ref, rest, (size_t)(slash - rest));
	ref[slash - rest] = '\0';
	if (!(path = strdup(slash + 1)))
		return mesh_error_oom();
	const char *p = mesh_cmd_trim_path(path);
	if ((error = mesh_access_check(cmd->env->store, cmd->caller, domain, NULL,
				       MESH_ACCESS_READ, p)) == 0 &&
	    (error = mesh_revparse(cmd->env->store, domain, ref, &rev)) == 0 &&
	    (error = check_path_at(cmd->env->store, &rev.commit, p)) == 0) {
		mesh_json_field_string(&cmd->json, "target", pos[0]);
		error = trace(cmd, domain, ref, &rev.commit, p);
	}
	free(path);
	return error;
}

const mesh_cmd_spec mesh_lineage_cmd_spec = {
	"lineage", cmd_lineage, LINEAGE_USAGE,
	"where a file's data came from: its upstream products down to their source commits",
};
