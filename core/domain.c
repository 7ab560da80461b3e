#include "domain.h"
#include "array.h"
#include "commit.h"
#include "access.h"
#include "error.h"
#include "history.h"
#include "tree.h"

#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Record: "1\0" description \0 owner \0 uid \0 default-branch \0 created \0
 * [retention-days \0 [writers-gid \0 readers-gid \0 visibility \0]].
 * The later fields came later: a record without them has the default
 * retention, no groups and is public.  A gid field is "-" for none. */
#define DOMAIN_FIELDS 10
#define DOMAIN_FIELDS_MIN 6

static int domain_key(const char *name, char **key, size_t *klen)
{
	*klen = 2 + strlen(name);
	if (!(*key = malloc(*klen + 1)))
		return mesh_error_oom();
	snprintf(*key, *klen + 1, "d/%s", name);
	return 0;
}

int mesh_domain_name_check(const char *name)
{
	return mesh_ref_name_check("domain", name);
}

void mesh_user_name(uint32_t uid, char *out, size_t outlen)
{
	struct passwd pw, *found = NULL;
	char buf[1024];

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &found) == 0 && found)
		snprintf(out, outlen, "%s", found->pw_name);
	else
		snprintf(out, outlen, "uid%" PRIu32, uid);
}

void mesh_domain_root_owner(const mesh_domain *domain, uint32_t *uid, uint32_t *gid)
{
	struct passwd pw, *found = NULL;
	char buf[1024];

	*uid = domain->owner_uid;
	*gid = domain->owner_uid;
	if (domain->has_writers)
		*gid = domain->writers_gid;
	else if (getpwuid_r(domain->owner_uid, &pw, buf, sizeof(buf), &found) == 0 && found)
		*gid = found->pw_gid;
}

static void format_gid(char *out, size_t len, bool has, uint32_t gid)
{
	if (has)
		snprintf(out, len, "%" PRIu32, gid);
	else
		snprintf(out, len, "-");
}

static void parse_gid(const char *field, bool *has, uint32_t *gid)
{
	*has = strcmp(field, "-") != 0;
	*gid = *has ? (uint32_t)strtoul(field, NULL, 10) : 0;
}

static int encode_domain(const mesh_domain *d, char **out, size_t *len)
{
	char uid[16], created[24], retention[16], writers[16], readers[16];
	const char *fields[DOMAIN_FIELDS];

	snprintf(uid, sizeof(uid), "%" PRIu32, d->owner_uid);
	snprintf(created, sizeof(created), "%" PRId64, d->created);
	snprintf(retention, sizeof(retention), "%" PRIu32, d->retention_days);
	fields[0] = "1";
	fields[1] = d->description;
	fields[2] = d->owner;
	fields[3] = uid;
	fields[4] = d->default_branch;
	fields[5] = created;
	fields[6] = retention;
	format_gid(writers, sizeof(writers), d->has_writers, d->writers_gid);
	format_gid(readers, sizeof(readers), d->has_readers, d->readers_gid);
	fields[7] = writers;
	fields[8] = readers;
	fields[9] = d->restricted ? "restricted" : "public";
	return mesh_fields_join(fields, DOMAIN_FIELDS, out, len);
}

static int decode_domain(const char *name, const char *buf, size_t len,
			 mesh_domain **out)
{
	const char *fields[DOMAIN_FIELDS];
	size_t nfields = mesh_fields_split(buf, len, fields, DOMAIN_FIELDS);
	mesh_domain *d;

	/* A field without its NUL is cut off: the record is damaged. */
	if (nfields < DOMAIN_FIELDS && len > 0 && buf[len - 1] != '\0')
		return mesh_error_set(MESH_EIO, "domain record of %s is corrupt", name);
	if (nfields < DOMAIN_FIELDS_MIN)
		return mesh_error_set(MESH_EIO, "domain record of %s is corrupt", name);
	if (strcmp(fields[0], "1") != 0)
		return mesh_error_set(MESH_EIO, "domain record of %s has unknown version %s",
				      name, fields[0]);
	if (!(d = calloc(1, sizeof(*d))))
		return mesh_error_oom();
	d->name = strdup(name);
	d->description = strdup(fields[1]);
	d->owner = strdup(fields[2]);
	d->owner_uid = (uint32_t)strtoul(fields[3], NULL, 10);
	d->default_branch = strdup(fields[4]);
	d->created = strtoll(fields[5], NULL, 10);
	d->retention_days = nfields > 6 ? (uint32_t)strtoul(fields[6], NULL, 10)
					 : MESH_DOMAIN_RETENTION_DEFAULT;
	if (nfields > 9) {
		parse_gid(fields[7], &d->has_writers, &d->writers_gid);
		parse_gid(fields[8], &d->has_readers, &d->readers_gid);
		d->restricted = strcmp(fields[9], "restricted") == 0;
	}
	if (!d->name || !d->description || !d->owner || !d->default_branch) {
		mesh_domain_free(d);
		return mesh_error_oom();
	}
	*out = d;
	return 0;
}

void mesh_domain_free(mesh_domain *d)
{
	if (!d)
		return;
	free(d->name);
	free(d->description);
	free(d->owner);
	free(d->default_branch);
	free(d);
}

int mesh_domain_get(mesh_store *store, const char *name, mesh_domain **out)
{
	char *key;
	size_t klen, vlen;
	void *val;
	int error;

	*out = NULL;
	if ((error = domain_key(name, &key, &klen)) < 0)
		return error;
	error = mesh_db_get(mesh_store_db(store), key, klen, &val, &vlen);
	free(key);
	if (error == MESH_ENOENT)
		return mesh_error_set(MESH_ENOENT, "domain %s does not exist", name);
	if (error < 0)
		return error;
	error = decode_domain(name, val, vlen, out);
	free(val);
	return error;
}

static int initial_commit(mesh_store *store, const mesh_domain *d, mesh_oid *out)
{
	mesh_commit commit = { 0 };
	char message[300];
	int error;

	if ((error = mesh_tree_empty(mesh_store_odb(store), &commit.tree)) < 0)
		return error;
	snprintf(message, sizeof(message), "Create domain %s", d->name);
	commit.author = d->owner;
	commit.uid = d->owner_uid;
	commit.time = d->created;
	commit.message = message;
	return mesh_commit_write(mesh_store_odb(store), &commit, out);
}

int mesh_domain_create(mesh_store *store, const mesh_caller *caller,
		       const char *name, const char *description)
{
	mesh_domain_opts opts = { .description = description, .protect_main = -1 };

	return mesh_domain_create_with(store, caller, name, &opts);
}

int mesh_domain_create_with(mesh_store *store, const mesh_caller *caller,
			    const char *name, const mesh_domain_opts *opts)
{
	const char *description = opts->description;
	bool protect;
	char owner[256];
	mesh_domain d = { 0 }, *existing;
	mesh_db_batch *batch = NULL;
	mesh_oid head;
	char *key = NULL, *record = NULL;
	size_t klen = 0, rlen = 0;
	int error;

	if ((error = mesh_domain_name_check(name)) < 0)
		return error;
	if (mesh_domain_get(store, name, &existing) == 0) {
		mesh_domain_free(existing);
		return mesh_error_set(MESH_EEXIST, "domain %s already exists", name);
	}
	mesh_user_name(caller->uid, owner, sizeof(owner));
	d.name = (char *)name;
	d.description = (char *)(description ? description : "");
	d.owner = owner;
	d.owner_uid = caller->uid;
	d.default_branch = "main";
	d.created = (int64_t)time(NULL);
	d.retention_days = MESH_DOMAIN_RETENTION_DEFAULT;
	d.has_writers = opts->has_writers;
	d.writers_gid = opts->writers_gid;
	d.has_readers = opts->has_readers;
	d.readers_gid = opts->readers_gid;
	d.restricted = opts->restricted;
	protect = opts->protect_main >= 0 ? opts->protect_main == 1 :
		  mesh_access_policy_protect_main(store);

	if ((error = initial_commit(store, &d, &head)) < 0 ||
	    (error = mesh_odb_sync(mesh_store_odb(store))) < 0 ||
	    (error = domain_key(name, &key, &klen)) < 0 ||
	    (error = encode_domain(&d, &record, &rlen)) < 0 ||
	    (error = mesh_db_batch_new(&batch)) < 0)
		goto done;
	mesh_db_batch_put(batch, key, klen, record, rlen);
	if ((error = mesh_ref_set(mesh_store_refs(store), name, "heads/main",
				  &head, batch)) < 0)
		goto done;
	/* The initial commit has no parents and the domain's creation time. */
	mesh_history_index_put_commit(batch, name, &head, &(mesh_commit){ .time = d.created });
	if (protect)
		mesh_access_protect_put(batch, name, "main");
	if ((error = mesh_db_batch_write(mesh_store_db(store), batch, true)) == 0)
		mesh_access_changed(store);
done:
	mesh_db_batch_free(batch);
	free(key);
	free(record);
	return error;
}

int mesh_domain_set_retention(mesh_store *store, const char *name, int64_t days)
{
	mesh_domain *d;
	int error;

	if (days < 0 || days > MESH_DOMAIN_RETENTION_MAX)
		return mesh_error_set(MESH_EINVAL,
			"retention of domain %s must be 0 to %d days, not %" PRId64,
			name, MESH_DOMAIN_RETENTION_MAX, days);
	if ((error = mesh_domain_get(store, name, &d)) < 0)
		return error;
	d->retention_days = (uint32_t)days;
	error = mesh_domain_update(store, d);
	mesh_domain_free(d);
	return error;
}

int mesh_domain_update(mesh_store *store, const mesh_domain *d)
{
	mesh_domain *existing;
	char *key = NULL, *record = NULL;
	size_t klen, rlen;
	int error;

	if ((error = mesh_domain_get(store, d->name, &existing)) < 0)
		return error;
	mesh_domain_free(existing);
	if ((error = domain_key(d->name, &key, &klen)) == 0 &&
	    (error = encode_domain(d, &record, &rlen)) == 0 &&
	    (error = mesh_db_put(mesh_store_db(store), key, klen, record, rlen, true)) == 0)
		mesh_access_changed(store);
	free(key);
	free(record);
	return error;
}

int mesh_domain_list(mesh_store *store, mesh_domain ***out, size_t *count)
{
	mesh_db_iter *it;
	mesh_domain **list = NULL;
	const void *key, *val;
	size_t klen, vlen, n = 0, cap = 0;
	int error, more;

	*out = NULL;
	*count = 0;
	if ((error = mesh_db_iter_new(&it, mesh_store_db(store), "d/", 2)) < 0)
		return error;
	while ((more = mesh_db_iter_next(it, &key, &klen, &val, &vlen)) > 0) {
		char name[300];
		if (klen - 2 >= sizeof(name))
			continue;
		memcpy(name, (const char *)key + 2, klen - 2);
		name[klen - 2] = '\0';
		if ((more = mesh_array_grow(&list, &cap, n, sizeof(*list))) < 0)
			break;
		if ((more = decode_domain(name, val, vlen, &list[n])) < 0)
			break;
		n++;
	}
	mesh_db_iter_free(it);
	if (more < 0) {
		mesh_domain_list_free(list, n);
		return more;
	}
	*out = list;
	*count = n;
	return 0;
}

void mesh_domain_list_free(mesh_domain **domains, size_t count)
{
	for (size_t i = 0; i < count; i++)
		mesh_domain_free(domains[i]);
	free(domains);
}
