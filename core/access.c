#include "access.h"
#include "audit.h"
#include "array.h"
#include "domain.h"
#include "error.h"
#include "history.h"
#include "refs.h"
#include "json.h"
#include "policy.h"

#include <fnmatch.h>
#include <grp.h>
#include <inttypes.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POLICY_PROTECT_MAIN "protect-main-by-default"
#define POLICY_GOVERNANCE "governance-group"
#define NEXT_ID_KEY "a/next"
#define REQUEST_FIELDS 11

/* --- rules of one domain, as cached ---------------------------------- */

typedef struct access_glob {
	char *glob;
	uint32_t gid;
} access_glob;

typedef struct access_grant {
	uint64_t id;
	uint32_t uid;
	bool write;
	char *glob;             /* "" when the grant names no path */
	int64_t until;          /* 0: no end */
} access_grant;

#define RULE_BUCKETS 4096

/* FNV-1a of a domain's name: its bucket in the cache. */
static size_t rule_bucket(const char *domain)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)domain; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % RULE_BUCKETS;
}

/* Immutable once built; shared by the decisions that hold a reference. */
typedef struct access_rules {
	char *domain;
	char *owner;
	uint32_t owner_uid;
	bool has_writers, has_readers, restricted;
	uint32_t writers_gid, readers_gid;
	uint32_t root_uid, root_gid;   /* mesh_domain_root_owner */
	access_glob *sensitive;
	size_t sensitive_count;
	char **protected_branches;
	size_t protected_count;
	access_grant *grants;
	size_t grant_count;
	unsigned refs;          /* under the cache's lock */
	struct access_rules *next;
} access_rules;

struct mesh_access_cache {
	/* Guards generation, rules, protect_main and every refs count.
	 * Held only for list and counter work: rules are read from the
	 * database, and groups of a caller looked up, without it. */
	pthread_mutex_t lock;
	uint64_t generation;    /* bumped by mesh_access_changed */
	/* The rules of this generation, chained per bucket of their
	 * domain's hash: every request asks, and a store may hold tens of
	 * thousands of domains (a list made a catalog search of 10,000
	 * products quadratic). */
	access_rules *rules[RULE_BUCKETS];
	int protect_main;       /* the policy; -1 until read */
	/* Serializes the allocation of request ids (a read and a write of
	 * a/next); no FUSE request thread waits on it but the control's. */
	pthread_mutex_t ids;
};

static void rules_free(access_rules *r)
{
	if (!r)
		return;
	free(r->domain);
	free(r->owner);
	for (size_t i = 0; i < r->sensitive_count; i++)
		free(r->sensitive[i].glob);
	free(r->sensitive);
	for (size_t i = 0; i < r->protected_count; i++)
		free(r->protected_branches[i]);
	free(r->protected_branches);
	for (size_t i = 0; i < r->grant_count; i++)
		free(r->grants[i].glob);
	free(r->grants);
	free(r);
}

int mesh_access_cache_new(mesh_access_cache **out)
{
	mesh_access_cache *c = calloc(1, sizeof(*c));

	if (!(*out = c))
		return mesh_error_oom();
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->ids, NULL);
	c->protect_main = -1;
	return 0;
}

void mesh_access_cache_free(mesh_access_cache *c)
{
	if (!c)
		return;
	for (size_t b = 0; b < RULE_BUCKETS; b++)
		for (access_rules *r = c->rules[b], *next; r; r = next) {
			next = r->next;
			rules_free(r);
		}
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->ids);
	free(c);
}

static void rules_put(mesh_store *store, access_rules *r)
{
	mesh_access_cache *c = mesh_store_access(store);
	bool last;

	pthread_mutex_lock(&c->lock);
	last = --r->refs == 0;
	pthread_mutex_unlock(&c->lock);
	if (last)
		rules_free(r);
}

void mesh_access_changed(mesh_store *store)
{
	mesh_access_cache *c = mesh_store_access(store);
	access_rules *old, *next, *dead = NULL;

	pthread_mutex_lock(&c->lock);
	c->generation++;
	c->protect_main = -1;
	for (size_t b = 0; b < RULE_BUCKETS; b++) {
		old = c->rules[b];
		c->rules[b] = NULL;
		for (; old; old = next) {
			next = old->next;
			if (--old->refs == 0) {
				old->next = dead;
				dead = old;
			}
		}
	}
	pthread_mutex_unlock(&c->lock);
	for (; dead; dead = next) {
		next = dead->next;
		rules_free(dead);
	}
}

/* --- keys ------------------------------------------------------------ */

static void rule_key(char *out, size_t len, const char *domain, char kind,
		     const char *name)
{
	snprintf(out, len, "a/d/%s/%c/%s", domain, kind, name);
}

static void request_key(char *out, size_t len, uint64_t id)
{
	snprintf(out, len, "a/r/%020" PRIu64, id);
}

static void grant_key(char *out, size_t len, const char *domain, uint64_t id)
{
	char name[24];

	snprintf(name, sizeof(name), "%020" PRIu64, id);
	rule_key(out, len, domain, 'g', name);
}

void mesh_access_protect_put(mesh_db_batch *batch, const char *domain,
			     const char *branch)
{
	char key[600];

	rule_key(key, sizeof(key), domain, 'b', branch);
	mesh_db_batch_put(batch, key, strlen(key), "1", 1);
}

/* --- grants' records ---------------------------------------------------- */

/* "uid \0 read|write \0 glob \0 until \0" */
static int encode_grant(const access_grant *g, char **out, size_t *len)
{
	char uid[16], until[24];
	const char *f[4] = { uid, g->write ? "write" : "read", g->glob, until };

	snprintf(uid, sizeof(uid), "%" PRIu32, g->uid);
	snprintf(until, sizeof(until), "%" PRId64, g->until);
	return mesh_fields_join(f, 4, out, len);
}

static int decode_grant(const char *domain, uint64_t id, const void *val, size_t vlen,
			access_grant *g)
{
	const char *f[4];

	if (mesh_fields_split(val, vlen, f, 4) != 4)
		return mesh_error_set(MESH_EIO, "grant %" PRIu64 " of domain %s is corrupt",
				      id, domain);
	g->id = id;
	g->uid = (uint32_t)strtoul(f[0], NULL, 10);
	g->write = strcmp(f[1], "write") == 0;
	g->until = strtoll(f[3], NULL, 10);
	return (g->glob = strdup(f[2])) ? 0 : mesh_error_oom();
}

/* --- loading rules ------------------------------------------------------ */

static int add_rule(access_rules *r, const char *rest, const void *val, size_t vlen,
		    size_t *scap, size_t *pcap, size_t *gcap)
{
	const char *name = rest + 2;
	int error;

	if (rest[0] == 's' && rest[1] == '/') {
		char gid[16];
		if ((error = mesh_array_grow(&r->sensitive, scap, r->sensitive_count,
					     sizeof(*r->sensitive))) < 0)
			return error;
		snprintf(gid, sizeof(gid), "%.*s", (int)(vlen < 15 ? vlen : 15), (const char *)val);
		r->sensitive[r->sensitive_count].gid = (uint32_t)strtoul(gid, NULL, 10);
		if (!(r->sensitive[r->sensitive_count].glob = strdup(name)))
			return mesh_error_oom();
		r->sensitive_count++;
	} else if (rest[0] == 'b' && rest[1] == '/') {
		if ((error = mesh_array_grow(&r->protected_branches, pcap, r->protected_count,
					     sizeof(char *))) < 0)
			return error;
		if (!(r->protected_branches[r->protected_count] = strdup(name)))
			return mesh_error_oom();
		r->protected_count++;
	} else if (rest[0] == 'g' && rest[1] == '/') {
		if ((error = mesh_array_grow(&r->grants, gcap, r->grant_count,
					     sizeof(*r->grants))) < 0)
			return error;
		if ((error = decode_grant(r->domain, strtoull(name, NULL, 10), val, vlen,
					  &r->grants[r->grant_count])) < 0)
			return error;
		r->grant_count++;
	}
	return 0;
}

static int rules_load(mesh_store *store, const char *domain, access_rules **out)
{
	size_t scap = 0, pcap = 0, gcap = 0, plen, klen, vlen;
	const void *key, *val;
	access_rules *r;
	mesh_domain *d;
	mesh_db_iter *it;
	char prefix[300];
	int error, more;

	if ((error = mesh_domain_get(store, domain, &d)) < 0)
		return error;
	if (!(r = calloc(1, sizeof(*r)))) {
		mesh_domain_free(d);
		return mesh_error_oom();
	}
	r->domain = strdup(domain);
	r->owner = strdup(d->owner);
	r->owner_uid = d->owner_uid;
	r->has_writers = d->has_writers;
	r->writers_gid = d->writers_gid;
	mesh_domain_root_owner(d, &r->root_uid, &r->root_gid);
	r->has_readers = d->has_readers;
	r->readers_gid = d->readers_gid;
	r->restricted = d->restricted;
	mesh_domain_free(d);
	if (!r->domain || !r->owner) {
		rules_free(r);
		return mesh_error_oom();
	}
	plen = (size_t)snprintf(prefix, sizeof(prefix), "a/d/%s/", domain);
	if ((error = mesh_db_iter_new(&it, mesh_store_db(store), prefix, plen)) < 0) {
		rules_free(r);
		return error;
	}
	while ((more = mesh_db_iter_next(it, &key, &klen, &val, &vlen)) > 0) {
		char rest[600];
		if (klen - plen < 3 || klen - plen >= sizeof(rest))
			continue;
		memcpy(rest, (const char *)key + plen, klen - plen);
		rest[klen - plen] = '\0';
		if ((more = add_rule(r, rest, val, vlen, &scap, &pcap, &gcap)) < 0)
			break;
	}
	mesh_db_iter_free(it);
	if (more < 0) {
		rules_free(r);
		return more;
	}
	*out = r;
	return 0;
}

/* The rules of domain, from the cache or read into it; give them back
 * with rules_put.  MESH_ENOENT when the domain does not exist. */
static int rules_get(mesh_store *store, const char *domain, access_rules **out)
{
	mesh_access_cache *c = mesh_store_access(store);
	access_rules *r;
	uint64_t generation;
	size_t b = rule_bucket(domain);
	int error;

	pthread_mutex_lock(&c->lock);
	for (r = c->rules[b]; r; r = r->next)
		if (strcmp(r->domain, domain) == 0)
			break;
	if (r)
		r->refs++;
	generation = c->generation;
	pthread_mutex_unlock(&c->lock);
	if ((*out = r))
		return 0;
	if ((error = rules_load(store, domain, &r)) < 0)
		return error;
	pthread_mutex_lock(&c->lock);
	r->refs = 1;
	/* Rules read while they changed are used once, never cached. */
	if (generation == c->generation) {
		r->refs++;
		r->next = c->rules[b];
		c->rules[b] = r;
	}
	pthread_mutex_unlock(&c->lock);
	*out = r;
	return 0;
}

/* --- names, globs, dates -------------------------------------------------- */

static void group_name(uint32_t gid, char *out, size_t len)
{
	struct group gr, *found = NULL;
	char buf[4096];

	if (getgrgid_r(gid, &gr, buf, sizeof(buf), &found) == 0 && found)
		snprintf(out, len, "%s", found->gr_name);
	else
		snprintf(out, len, "%" PRIu32, gid);
}

static bool all_digits(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s) && strlen(s) < 10;
}

int mesh_access_user_id(const char *name, uint32_t *uid)
{
	struct passwd pw, *found = NULL;
	char buf[4096];

	if (getpwnam_r(name, &pw, buf, sizeof(buf), &found) == 0 && found) {
		*uid = found->pw_uid;
		return 0;
	}
	if (all_digits(name) &&
	    getpwuid_r((uid_t)strtoul(name, NULL, 10), &pw, buf, sizeof(buf), &found) == 0 && found) {
		*uid = found->pw_uid;
		return 0;
	}
	return mesh_error_set(MESH_EINVAL, "unknown user '%s'", name);
}

int mesh_access_group_id(const char *name, uint32_t *gid)
{
	struct group gr, *found = NULL;
	char buf[4096];

	if (getgrnam_r(name, &gr, buf, sizeof(buf), &found) == 0 && found) {
		*gid = found->gr_gid;
		return 0;
	}
	if (all_digits(name) &&
	    getgrgid_r((gid_t)strtoul(name, NULL, 10), &gr, buf, sizeof(buf), &found) == 0 && found) {
		*gid = found->gr_gid;
		return 0;
	}
	return mesh_error_set(MESH_EINVAL, "unknown group '%s'", name);
}

int mesh_access_glob_check(const char *glob)
{
	size_t len = strlen(glob);
	int rc;

	if (len == 0)
		return mesh_error_set(MESH_EINVAL, "empty glob");
	if (len > 500)
		return mesh_error_set(MESH_EINVAL, "glob longer than 500 bytes");
	if (glob[0] == '/')
		return mesh_error_set(MESH_EINVAL,
			"glob '%s' starts with '/': globs are relative to the domain's views", glob);
	for (size_t i = 0; i < len; i++) {
		if (glob[i] == '\\') {
			if (++i == len)
				return mesh_error_set(MESH_EINVAL, "glob '%s' ends in a lone '\\'", glob);
		} else if (glob[i] == '[') {
			/* A class: '!' or '^' may open it, and a ']' right after
			 * the opening is a member, not its end. */
			size_t j = i + 1;
			if (j < len && (glob[j] == '!' || glob[j] == '^'))
				j++;
			if (j < len && glob[j] == ']')
				j++;
			while (j < len && glob[j] != ']')
				j++;
			if (j == len)
				return mesh_error_set(MESH_EINVAL,
					"glob '%s' does not parse: '[' at %zu is never closed", glob, i + 1);
			i = j;
		} else if ((unsigned char)glob[i] < 0x20) {
			return mesh_error_set(MESH_EINVAL, "glob '%s' holds a control character", glob);
		}
	}
	rc = fnmatch(glob, "", 0);
	if (rc != 0 && rc != FNM_NOMATCH)
		return mesh_error_set(MESH_EINVAL, "glob '%s' does not parse", glob);
	return 0;
}

bool mesh_access_glob_covers(const char *glob, const char *path)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return fnmatch(glob, path, 0) == 0;
	memcpy(buf, path, len + 1);
	/* path itself, then each directory above it. */
	for (;;) {
		if (*buf && fnmatch(glob, buf, 0) == 0)
			return true;
		char *slash = strrchr(buf, '/');
		if (!slash)
			return false;
		*slash = '\0';
	}
}

/* Whether glob may match something strictly below path: judged from
 * its literal start, so it may say yes for a directory that holds no
 * match (a copy of it is refused; its files one by one are not). */
static bool glob_may_match_below(const char *glob, const char *path)
{
	size_t lit = strcspn(glob, "*?[\\"), plen = strlen(path);

	if (plen == 0)
		return true;
	/* glob's literal start runs through path and on below it. */
	if (lit > plen)
		return strncmp(glob, path, plen) == 0 && glob[plen] == '/';
	/* A wildcard within path's length may reach below it when what
	 * comes before the wildcard agrees with path. */
	return glob[lit] != '\0' && strncmp(glob, path, lit) == 0;
}

int mesh_access_parse_date(const char *text, int64_t *out)
{
	static const char *const formats[] = {
		"%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S",
		"%Y-%m-%d %H:%M", "%Y-%m-%d",
	};

	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		struct tm tm;
		const char *end;
		bool utc = false;
		time_t t;

		memset(&tm, 0, sizeof(tm));
		if (!(end = strptime(text, formats[i], &tm)))
			continue;
		if (*end == 'Z' && i < 4) {
			utc = true;
			end++;
		}
		if (*end)
			continue;
		if (i == 4) {
			/* A date alone: the grant holds through that day. */
			tm.tm_hour = 23;
			tm.tm_min = 59;
			tm.tm_sec = 59;
		}
		tm.tm_isdst = -1;
		t = utc ? timegm(&tm) : mktime(&tm);
		if (t == (time_t)-1)
			break;
		*out = (int64_t)t;
		return 0;
	}
	return mesh_error_set(MESH_EINVAL,
		"'%s' is not a date: give YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][Z]", text);
}

/* --- deciding ------------------------------------------------------------ */

/* A caller with its groups, looked up once and only when a rule asks. */
typedef struct who {
	const mesh_caller *caller;
	gid_t groups[MESH_CALLER_GROUPS_MAX];
	int count;              /* -1 until looked up */
	int64_t now;
} who;

static void who_init(who *w, const mesh_caller *caller)
{
	w->caller = caller;
	w->count = -1;
	w->now = (int64_t)time(NULL);
}

static bool who_in(who *w, uint32_t gid)
{
	if (w->caller->gid == gid)
		return true;
	if (w->count < 0) {
		w->count = w->caller->groups_of ?
			w->caller->groups_of(w->caller->source, w->groups, MESH_CALLER_GROUPS_MAX) : 0;
		if (w->count < 0)
			w->count = 0;
	}
	for (int i = 0; i < w->count; i++)
		if (w->groups[i] == gid)
			return true;
	return false;
}

bool mesh_access_is_admin(mesh_store *store, const mesh_caller *caller)
{
	return caller->uid == mesh_store_admin_uid(store);
}

/* An active grant of the caller: write, or read (of glob when not NULL:
 * one whose path covers it, or that names this very glob). */
static bool has_grant(const access_rules *r, const who *w, bool write,
		      const char *path, const char *glob)
{
	for (size_t i = 0; i < r->grant_count; i++) {
		const access_grant *g = &r->grants[i];
		if (g->uid != w->caller->uid || g->write != write)
			continue;
		/* A lapsed grant is ignored on use: no timer takes it away. */
		if (g->until && g->until <= w->now)
			continue;
		if (!path && !glob)
			return true;
		if (*g->glob && ((glob && strcmp(g->glob, glob) == 0) ||
				 (path && mesh_access_glob_covers(g->glob, path))))
			return true;
	}
	return false;
}

/* What the caller is to a domain.  Group lookups cost a read of /proc
 * for a FUSE request, so writer and member are found only when asked. */
typedef struct roles {
	bool admin, owner;
	int writer, member;     /* -1 until found */
	mesh_store *store;
	const access_rules *rules;
	who *who;
} roles;

static void roles_init(roles *ro, mesh_store *store, const access_rules *r, who *w)
{
	ro->admin = mesh_access_is_admin(store, w->caller);
	ro->owner = w->caller->uid == r->owner_uid;
	ro->writer = ro->member = -1;
	ro->store = store;
	ro->rules = r;
	ro->who = w;
}

static bool is_writer(roles *ro)
{
	const access_rules *r = ro->rules;

	if (ro->writer < 0)
		ro->writer = ro->admin || ro->owner ||
			     (r->has_writers && who_in(ro->who, r->writers_gid)) ||
			     has_grant(r, ro->who, true, NULL, NULL);
	return ro->writer;
}

static bool is_member(roles *ro)
{
	const access_rules *r = ro->rules;

	if (ro->member < 0)
		ro->member = !r->restricted || is_writer(ro) ||
			     (r->has_readers && who_in(ro->who, r->readers_gid)) ||
			     has_grant(r, ro->who, false, NULL, NULL);
	return ro->member;
}

static bool protected_branch(const access_rules *r, const char *branch)
{
	for (size_t i = 0; branch && i < r->protected_count; i++)
		if (strcmp(r->protected_branches[i], branch) == 0)
			return true;
	return false;
}

static const char *op_words(mesh_access_op op)
{
	switch (op) {
	case MESH_ACCESS_WRITE: return "write";
	case MESH_ACCESS_COMMIT: return "commit";
	case MESH_ACCESS_RESET: return "reset";
	case MESH_ACCESS_CHERRY_PICK: return "cherry-pick";
	case MESH_ACCESS_MERGE: return "merge";
	case MESH_ACCESS_REVERT: return "revert";
	case MESH_ACCESS_BRANCH: return "create or delete branches";
	case MESH_ACCESS_TAG: return "create or delete tags";
	case MESH_ACCESS_REPAIR: return "repair branches";
	default: return "change";
	}
}

static int refuse_sensitive(const access_rules *r, const access_glob *g, const char *path)
{
	char group[256];

	group_name(g->gid, group, sizeof(group));
	return mesh_error_set(MESH_EACCES,
		"%s/%s is a sensitive path (%s): only members of group %s and the owner %s may read it",
		r->domain, path, g->glob, group, r->owner);
}

static int decide_read(const access_rules *r, who *w, roles *ro,
		       mesh_access_op op, const char *path)
{
	if (!path || ro->admin || ro->owner)
		return 0;
	for (size_t i = 0; i < r->sensitive_count; i++) {
		const access_glob *g = &r->sensitive[i];
		bool hit = mesh_access_glob_covers(g->glob, path);
		if (!hit && op == MESH_ACCESS_READ_TREE && glob_may_match_below(g->glob, path))
			hit = true;
		if (!hit || who_in(w, g->gid) || has_grant(r, w, false, path, g->glob))
			continue;
		return refuse_sensitive(r, g, *path ? path : ".");
	}
	return 0;
}

static int decide_change(const access_rules *r, roles *ro, const char *branch,
			 mesh_access_op op)
{
	if (!is_writer(ro)) {
		char group[256] = "none";
		if (r->has_writers)
			group_name(r->writers_gid, group, sizeof(group));
		return mesh_error_set(MESH_EACCES,
			"only the owner (%s), the writers group (%s) and the store's administrator "
			"may %s in domain %s", r->owner, group, op_words(op), r->domain);
	}
	if (!protected_branch(r, branch))
		return 0;
	switch (op) {
	case MESH_ACCESS_WRITE:
		return mesh_error_set(MESH_EROFS,
			"branch %s/%s is protected: it changes only by merge or revert",
			r->domain, branch);
	case MESH_ACCESS_COMMIT:
	case MESH_ACCESS_RESET:
	case MESH_ACCESS_CHERRY_PICK:
		return mesh_error_set(MESH_EPERM,
			"branch %s/%s is protected: no %s, it changes only by merge or revert",
			r->domain, branch, op_words(op));
	case MESH_ACCESS_BRANCH:
		return mesh_error_set(MESH_EPERM,
			"branch %s/%s is protected: it cannot be deleted (meshfs branch unprotect first)",
			r->domain, branch);
	default:
		return 0;
	}
}

static int decide(mesh_store *store, const access_rules *r, who *w, const char *branch,
		  mesh_access_op op, const char *path)
{
	roles ro;

	roles_init(&ro, store, r, w);
	/* To anyone else a restricted domain does not exist. */
	if (!is_member(&ro))
		return mesh_error_set(MESH_ENOENT, "domain %s does not exist", r->domain);
	switch (op) {
	case MESH_ACCESS_SEE:
		return 0;
	case MESH_ACCESS_READ:
	case MESH_ACCESS_READ_TREE:
		return decide_read(r, w, &ro, op, path);
	case MESH_ACCESS_ADMIN:
		if (ro.admin || ro.owner)
			return 0;
		return mesh_error_set(MESH_EACCES,
			"only the owner of domain %s (%s) and the store's administrator may "
			"change its settings", r->domain, r->owner);
	default:
		return decide_change(r, &ro, branch, op);
	}
}

/* Decides without an outcome: for filters of listings, which leave out
 * what the caller may not see rather than refuse. */
static int decide_quietly(mesh_store *store, const mesh_caller *caller,
			  const char *domain, const char *branch,
			  mesh_access_op op, const char *path)
{
	access_rules *r;
	who w;
	int error;

	if (!caller)
		return 0;
	if ((error = rules_get(store, domain, &r)) < 0)
		return error;
	who_init(&w, caller);
	error = decide(store, r, &w, branch, op, path);
	rules_put(store, r);
	return error;
}

int mesh_access_check(mesh_store *store, const mesh_caller *caller,
		      const char *domain, const char *branch,
		      mesh_access_op op, const char *path)
{
	/* A refusal's audit record is the refused operation's own (the
	 * command's, or the mount's), with this error: one per refusal. */
	return decide_quietly(store, caller, domain, branch, op, path);
}

bool mesh_access_sees(mesh_store *store, const mesh_caller *caller, const char *domain)
{
	int error = decide_quietly(store, caller, domain, NULL, MESH_ACCESS_SEE, NULL);

	if (error < 0)
		mesh_error_clear();
	return error == 0;
}

bool mesh_access_may_read(mesh_store *store, const mesh_caller *caller,
			  const char *domain, const char *path)
{
	int error = decide_quietly(store, caller, domain, NULL, MESH_ACCESS_READ, path);

	if (error < 0)
		mesh_error_clear();
	return error == 0;
}

bool mesh_access_branch_protected(mesh_store *store, const char *domain,
				  const char *branch)
{
	access_rules *r;
	bool on = false;

	if (rules_get(store, domain, &r) < 0) {
		mesh_error_clear();
		return false;
	}
	on = protected_branch(r, branch);
	rules_put(store, r);
	return on;
}

bool mesh_access_domain_restricted(mesh_store *store, const char *domain)
{
	access_rules *r;
	bool on = false;

	if (rules_get(store, domain, &r) < 0) {
		mesh_error_clear();
		return false;
	}
	on = r->restricted;
	rules_put(store, r);
	return on;
}

/* --- policies ------------------------------------------------------------ */

static int policy_read(mesh_store *store, const char *name, bool *on)
{
	char key[128];
	void *val;
	size_t vlen;
	int found;

	snprintf(key, sizeof(key), "a/p/%s", name);
	if ((found = mesh_db_find(mesh_store_db(store), key, strlen(key), &val, &vlen)) < 0)
		return found;
	*on = found && vlen == 4 && memcmp(val, "true", 4) == 0;
	if (found)
		free(val);
	return 0;
}

bool mesh_access_policy_protect_main(mesh_store *store)
{
	mesh_access_cache *c = mesh_store_access(store);
	int cached;
	bool on = false;

	uint64_t generation;

	pthread_mutex_lock(&c->lock);
	cached = c->protect_main;
	generation = c->generation;
	pthread_mutex_unlock(&c->lock);
	if (cached >= 0)
		return cached == 1;
	if (policy_read(store, POLICY_PROTECT_MAIN, &on) < 0) {
		mesh_error_clear();
		return false;
	}
	pthread_mutex_lock(&c->lock);
	if (generation == c->generation)
		c->protect_main = on ? 1 : 0;
	pthread_mutex_unlock(&c->lock);
	return on;
}

static int parse_bool(const char *text, bool *out)
{
	if (!strcmp(text, "true")) {
		*out = true;
		return 0;
	}
	if (!strcmp(text, "false")) {
		*out = false;
		return 0;
	}
	return mesh_error_set(MESH_EINVAL, "'%s' is neither true nor false", text);
}

/* The governance group's gid (*has false: none is set). */
static int governance_read(mesh_store *store, bool *has, uint32_t *gid)
{
	const char *key = "a/p/" POLICY_GOVERNANCE;
	void *val;
	size_t vlen;
	int found;

	*has = false;
	*gid = 0;
	if ((found = mesh_db_find(mesh_store_db(store), key, strlen(key), &val, &vlen)) <= 0)
		return found;
	/* A decimal gid; anything else (a later version's) reads as none. */
	if (vlen && vlen < 11) {
		char text[12];
		memcpy(text, val, vlen);
		text[vlen] = '\0';
		if (strspn(text, "0123456789") == vlen) {
			*gid = (uint32_t)strtoul(text, NULL, 10);
			*has = true;
		}
	}
	free(val);
	return 0;
}

int mesh_access_need_governance(mesh_store *store, const mesh_caller *caller, const char *what)
{
	char group[256];
	uint32_t gid;
	bool has;
	who w;
	int error;

	if (mesh_access_is_admin(store, caller))
		return 0;
	if ((error = governance_read(store, &has, &gid)) < 0)
		return error;
	if (!has)
		return mesh_access_need_admin(store, caller, what);
	who_init(&w, caller);
	if (who_in(&w, gid))
		return 0;
	group_name(gid, group, sizeof(group));
	return mesh_error_set(MESH_EACCES, "only the store's administrator and the governance "
			      "group (%s) may %s", group, what);
}

/* "policy set governance-group GROUP|none": the administrator only, as
 * the group's members may set every other policy. */
static int governance_set(mesh_cmd *cmd)
{
	mesh_store *store = cmd->env->store;
	const char *key = "a/p/" POLICY_GOVERNANCE;
	char text[16];
	uint32_t gid = 0;
	int error;

	if (strcmp(cmd->argv[3], "none") != 0 && mesh_access_group_id(cmd->argv[3], &gid) < 0)
		return mesh_error_set(MESH_EINVAL, "policy set %s: unknown group '%s' (give a "
				      "group's name or gid, or none)", POLICY_GOVERNANCE, cmd->argv[3]);
	if ((error = mesh_access_need_admin(store, cmd->caller, "set the governance group")) < 0)
		return error;
	if (!strcmp(cmd->argv[3], "none"))
		return mesh_db_delete(mesh_store_db(store), key, strlen(key), true);
	snprintf(text, sizeof(text), "%" PRIu32, gid);
	return mesh_db_put(mesh_store_db(store), key, strlen(key), text, strlen(text), true);
}

static int policy_set(mesh_cmd *cmd)
{
	mesh_store *store = cmd->env->store;
	char key[128];
	bool on = false;
	int error;

	if (cmd->argc != 4)
		return mesh_error_set(MESH_EINVAL, "usage: policy set %s true|false | policy set %s "
				      "GROUP|none", POLICY_PROTECT_MAIN, POLICY_GOVERNANCE);
	if (!strcmp(cmd->argv[2], POLICY_GOVERNANCE))
		return governance_set(cmd);
	if (strcmp(cmd->argv[2], POLICY_PROTECT_MAIN) != 0)
		return mesh_error_set(MESH_EINVAL, "unknown policy '%s' (policies: %s, %s)",
				      cmd->argv[2], POLICY_PROTECT_MAIN, POLICY_GOVERNANCE);
	if ((error = parse_bool(cmd->argv[3], &on)) < 0)
		return error;
	if ((error = mesh_access_need_governance(store, cmd->caller, "set policies")) < 0)
		return error;
	snprintf(key, sizeof(key), "a/p/%s", cmd->argv[2]);
	if ((error = mesh_db_put(mesh_store_db(store), key, strlen(key), on ? "true" : "false",
				 on ? 4 : 5, true)) < 0)
		return error;
	mesh_access_changed(store);
	return 0;
}

/* "governance-group": its name (or gid, when the group is gone), or "none". */
static int governance_json(mesh_store *store, mesh_json *j)
{
	char group[256] = "none";
	uint32_t gid;
	bool has;
	int error;

	if ((error = governance_read(store, &has, &gid)) < 0)
		return error;
	if (has)
		group_name(gid, group, sizeof(group));
	mesh_json_field_string(j, POLICY_GOVERNANCE, group);
	return 0;
}

static int cmd_policy(mesh_cmd *cmd)
{
	const char *sub = cmd->argc >= 2 ? cmd->argv[1] : "";
	int error = 0;

	if (!strcmp(sub, "set"))
		error = policy_set(cmd);
	else if (!strcmp(sub, "require") || !strcmp(sub, "unrequire"))
		error = mesh_policy_require_cmd(cmd, !strcmp(sub, "require"));
	else if (strcmp(sub, "show") != 0 || cmd->argc != 2)
		return mesh_error_set(MESH_EINVAL, "usage: %s", mesh_policy_cmd_spec.usage);
	if (error < 0)
		return error;
	mesh_json_key(&cmd->json, "policies");
	mesh_json_object_begin(&cmd->json);
	mesh_json_field_bool(&cmd->json, POLICY_PROTECT_MAIN,
			     mesh_access_policy_protect_main(cmd->env->store));
	if ((error = governance_json(cmd->env->store, &cmd->json)) == 0)
		error = mesh_policy_json(cmd->env->store, &cmd->json);
	mesh_json_object_end(&cmd->json);
	return error;
}

const mesh_cmd_spec mesh_policy_cmd_spec = {
	"policy", cmd_policy,
	"policy set " POLICY_PROTECT_MAIN " true|false | policy set " POLICY_GOVERNANCE
	" GROUP|none | policy require|unrequire card-field FIELD[,FIELD...]|classification | "
	"policy show",
	"store-wide policies (set, require, unrequire: the store's administrator and the "
	"governance group; the governance group itself: the administrator only)",
};

/* --- domain settings ----------------------------------------------------- */

void mesh_access_json_domain(mesh_json *j, const mesh_domain *d)
{
	char group[256];

	mesh_json_key(j, "writers");
	if (d->has_writers) {
		group_name(d->writers_gid, group, sizeof(group));
		mesh_json_string(j, group);
	} else {
		mesh_json_string(j, "none");
	}
	mesh_json_key(j, "readers");
	if (d->has_readers) {
		group_name(d->readers_gid, group, sizeof(group));
		mesh_json_string(j, group);
	} else {
		mesh_json_string(j, "everyone");
	}
	mesh_json_field_string(j, "visibility", d->restricted ? "restricted" : "public");
}

void mesh_access_json_rules(mesh_store *store, mesh_json *j, const char *domain)
{
	access_rules *r;
	char group[256];

	mesh_json_key(j, "sensitive");
	mesh_json_array_begin(j);
	if (rules_get(store, domain, &r) < 0) {
		mesh_error_clear();
		mesh_json_array_end(j);
		return;
	}
	for (size_t i = 0; i < r->sensitive_count; i++) {
		mesh_json_object_begin(j);
		mesh_json_field_string(j, "glob", r->sensitive[i].glob);
		group_name(r->sensitive[i].gid, group, sizeof(group));
		mesh_json_field_string(j, "group", group);
		mesh_json_object_end(j);
	}
	mesh_json_array_end(j);
	mesh_json_key(j, "protected");
	mesh_json_array_begin(j);
	for (size_t i = 0; i < r->protected_count; i++)
		mesh_json_string(j, r->protected_branches[i]);
	mesh_json_array_end(j);
	rules_put(store, r);
}

static int set_group(const char *value, const char *none, bool *has, uint32_t *gid)
{
	if (!strcmp(value, none)) {
		*has = false;
		*gid = 0;
		return 0;
	}
	*has = true;
	return mesh_access_group_id(value, gid);
}

static int domain_set_access(mesh_cmd *cmd, mesh_domain *d)
{
	const char *what = cmd->argv[3], *value = cmd->argv[4];
	char owner[256];
	int error;

	if (!strcmp(what, "owner")) {
		if ((error = mesh_access_user_id(value, &d->owner_uid)) < 0)
			return error;
		mesh_user_name(d->owner_uid, owner, sizeof(owner));
		free(d->owner);
		if (!(d->owner = strdup(owner)))
			return mesh_error_oom();
	} else if (!strcmp(what, "writers")) {
		if ((error = set_group(value, "none", &d->has_writers, &d->writers_gid)) < 0)
			return error;
	} else if (!strcmp(what, "readers")) {
		if ((error = set_group(value, "everyone", &d->has_readers, &d->readers_gid)) < 0)
			return error;
	} else if (!strcmp(what, "visibility")) {
		if (strcmp(value, "public") != 0 && strcmp(value, "restricted") != 0)
			return mesh_error_set(MESH_EINVAL,
				"visibility is public or restricted, not '%s'", value);
		d->restricted = !strcmp(value, "restricted");
	} else {
		return mesh_error_set(MESH_EINVAL,
			"domain set: unknown setting '%s' (settings: retention, owner, writers, "
			"readers, visibility)", what);
	}
	return mesh_domain_update(cmd->env->store, d);
}

static int domain_set(mesh_cmd *cmd)
{
	mesh_domain *d;
	int error;

	if (cmd->argc != 5)
		return mesh_error_set(MESH_EINVAL,
			"usage: domain set NAME owner|writers|readers|visibility|retention VALUE");
	if ((error = mesh_access_check(cmd->env->store, cmd->caller, cmd->argv[2], NULL,
				       MESH_ACCESS_ADMIN, NULL)) < 0 ||
	    (error = mesh_domain_get(cmd->env->store, cmd->argv[2], &d)) < 0)
		return error;
	error = domain_set_access(cmd, d);
	mesh_domain_free(d);
	return error;
}

static int domain_restrict(mesh_cmd *cmd, bool on)
{
	const char *group = NULL, *pos[2] = { NULL, NULL };
	mesh_cmd_opt specs[] = { { "--group", NULL, &group, NULL } };
	mesh_store *store = cmd->env->store;
	char key[700], value[16];
	uint32_t gid = 0;
	size_t npos;
	int error, found;

	if ((error = mesh_cmd_parse_opts(cmd, 2, specs, on ? 1 : 0, pos, 2, &npos, NULL)) < 0 ||
	    (error = mesh_cmd_need_positional(cmd, npos, 2, on ?
		"domain restrict DOMAIN GLOB --group GROUP" : "domain unrestrict DOMAIN GLOB")) < 0)
		return error;
	if (on && !group)
		return mesh_error_set(MESH_EINVAL, "domain restrict needs --group GROUP");
	if ((error = mesh_access_check(store, cmd->caller, pos[0], NULL,
				       MESH_ACCESS_ADMIN, NULL)) < 0 ||
	    (error = mesh_access_glob_check(pos[1])) < 0 ||
	    (on && (error = mesh_access_group_id(group, &gid)) < 0))
		return error;
	rule_key(key, sizeof(key), pos[0], 's', pos[1]);
	if (on) {
		snprintf(value, sizeof(value), "%" PRIu32, gid);
		error = mesh_db_put(mesh_store_db(store), key, strlen(key), value,
				    strlen(value), true);
	} else if ((found = mesh_db_has(mesh_store_db(store), key, strlen(key))) <= 0) {
		return found < 0 ? found : mesh_error_set(MESH_ENOENT,
			"domain %s has no sensitive path '%s'", pos[0], pos[1]);
	} else {
		error = mesh_db_delete(mesh_store_db(store), key, strlen(key), true);
	}
	if (error == 0)
		mesh_access_changed(store);
	return error;
}

int mesh_access_cmd_domain(mesh_cmd *cmd)
{
	const char *sub = cmd->argv[1];

	if (!strcmp(sub, "set"))
		return domain_set(cmd);
	if (!strcmp(sub, "restrict"))
		return domain_restrict(cmd, true);
	if (!strcmp(sub, "unrestrict"))
		return domain_restrict(cmd, false);
	/* show */
	if (cmd->argc != 3 && !(cmd->argc == 4 && !strcmp(cmd->argv[3], "--json")))
		return mesh_error_set(MESH_EINVAL, "usage: domain show DOMAIN [--json]");
	return mesh_access_check(cmd->env->store, cmd->caller, cmd->argv[2], NULL,
				 MESH_ACCESS_SEE, NULL);
}

/* --- protected branches -------------------------------------------------- */

int mesh_access_cmd_branch_protect(mesh_cmd *cmd)
{
	bool on = !strcmp(cmd->argv[1], "protect");
	mesh_store *store = cmd->env->store;
	const char *branch;
	char domain[256], key[600];
	mesh_oid head;
	int error;

	if (cmd->argc != 3)
		return mesh_error_set(MESH_EINVAL, "usage: branch %s DOMAIN/BRANCH", cmd->argv[1]);
	if ((error = mesh_cmd_parse_target(cmd, cmd->argv[2], domain, sizeof(domain), &branch)) < 0 ||
	    (error = mesh_access_check(store, cmd->caller, domain, NULL,
				       MESH_ACCESS_ADMIN, NULL)) < 0 ||
	    (error = mesh_ref_name_check("branch", branch)) < 0 ||
	    (error = mesh_history_branch_head(store, domain, branch, &head)) < 0)
		return error;
	rule_key(key, sizeof(key), domain, 'b', branch);
	error = on ? mesh_db_put(mesh_store_db(store), key, strlen(key), "1", 1, true)
		   : mesh_db_delete(mesh_store_db(store), key, strlen(key), true);
	if (error < 0)
		return error;
	mesh_access_changed(store);
	mesh_json_field_string(&cmd->json, "domain", domain);
	mesh_json_field_string(&cmd->json, "branch", branch);
	mesh_json_field_bool(&cmd->json, "protected", on);
	return 0;
}

/* --- access requests ----------------------------------------------------- */

typedef struct access_request {
	uint64_t id;
	char *domain;
	uint32_t uid;
	bool write;
	char *glob;             /* "" for the whole domain */
	char *reason;
	int64_t created;
	char *state;            /* pending, granted, denied, revoked */
	int64_t until;          /* of a grant; 0: no end */
	uint32_t decided_by;
	int64_t decided_at;
} access_request;

static void request_free(access_request *q)
{
	if (!q)
		return;
	free(q->domain);
	free(q->glob);
	free(q->reason);
	free(q->state);
	memset(q, 0, sizeof(*q));
}

/* "1 \0 domain \0 uid \0 read|write \0 glob \0 reason \0 created \0 state \0
 * until \0 decided-by \0 decided-at \0" */
static int encode_request(const access_request *q, char **out, size_t *len)
{
	char uid[16], created[24], until[24], by[16], at[24];
	const char *f[REQUEST_FIELDS];

	snprintf(uid, sizeof(uid), "%" PRIu32, q->uid);
	snprintf(created, sizeof(created), "%" PRId64, q->created);
	snprintf(until, sizeof(until), "%" PRId64, q->until);
	snprintf(by, sizeof(by), "%" PRIu32, q->decided_by);
	snprintf(at, sizeof(at), "%" PRId64, q->decided_at);
	f[0] = "1"; f[1] = q->domain; f[2] = uid; f[3] = q->write ? "write" : "read";
	f[4] = q->glob; f[5] = q->reason; f[6] = created; f[7] = q->state;
	f[8] = until; f[9] = by; f[10] = at;
	return mesh_fields_join(f, REQUEST_FIELDS, out, len);
}

static int decode_request(uint64_t id, const void *val, size_t vlen, access_request *q)
{
	const char *f[REQUEST_FIELDS];

	memset(q, 0, sizeof(*q));
	if (mesh_fields_split(val, vlen, f, REQUEST_FIELDS) != REQUEST_FIELDS || strcmp(f[0], "1"))
		return mesh_error_set(MESH_EIO, "access request %" PRIu64 " is corrupt", id);
	q->id = id;
	q->uid = (uint32_t)strtoul(f[2], NULL, 10);
	q->write = !strcmp(f[3], "write");
	q->created = strtoll(f[6], NULL, 10);
	q->until = strtoll(f[8], NULL, 10);
	q->decided_by = (uint32_t)strtoul(f[9], NULL, 10);
	q->decided_at = strtoll(f[10], NULL, 10);
	q->domain = strdup(f[1]);
	q->glob = strdup(f[4]);
	q->reason = strdup(f[5]);
	q->state = strdup(f[7]);
	if (!q->domain || !q->glob || !q->reason || !q->state) {
		request_free(q);
		return mesh_error_oom();
	}
	return 0;
}

static int request_get(mesh_store *store, uint64_t id, access_request *q)
{
	char key[64];
	void *val;
	size_t vlen;
	int found;

	request_key(key, sizeof(key), id);
	if ((found = mesh_db_find(mesh_store_db(store), key, strlen(key), &val, &vlen)) < 0)
		return found;
	if (!found)
		return mesh_error_set(MESH_ENOENT, "no access request %" PRIu64, id);
	found = decode_request(id, val, vlen, q);
	free(val);
	return found;
}

static void request_put(mesh_db_batch *batch, const access_request *q,
			const char *record, size_t len)
{
	char key[64];

	request_key(key, sizeof(key), q->id);
	mesh_db_batch_put(batch, key, strlen(key), record, len);
}

/* What a user sees of a request: a grant past its end has lapsed. */
static const char *request_state(const access_request *q, int64_t now)
{
	if (!strcmp(q->state, "granted") && q->until && q->until <= now)
		return "lapsed";
	return q->state;
}

static void json_request(mesh_json *j, const access_request *q, int64_t now)
{
	char user[256];

	mesh_json_object_begin(j);
	mesh_json_field_int(j, "id", (int64_t)q->id);
	mesh_json_field_string(j, "domain", q->domain);
	mesh_user_name(q->uid, user, sizeof(user));
	mesh_json_field_string(j, "user", user);
	mesh_json_field_int(j, "uid", q->uid);
	mesh_json_field_string(j, "access", q->write ? "write" : "read");
	if (*q->glob)
		mesh_json_field_string(j, "path", q->glob);
	mesh_json_field_string(j, "reason", q->reason);
	mesh_json_field_int(j, "created", q->created);
	mesh_json_field_string(j, "state", request_state(q, now));
	if (q->until)
		mesh_json_field_int(j, "until", q->until);
	if (q->decided_at) {
		mesh_user_name(q->decided_by, user, sizeof(user));
		mesh_json_field_string(j, "decided_by", user);
		mesh_json_field_int(j, "decided_at", q->decided_at);
	}
	mesh_json_object_end(j);
}

/*
 * Where each step of a request happens (requested, granted, denied):
 * the one place for its audit record.
 */
/* Each step of a request (made, granted, denied, revoked) is a record of
 * its own beside the command's: it names the request, the requester,
 * the access and the end date the command line does not carry. */
static void access_step(mesh_store *store, const mesh_caller *caller,
			const char *step, const access_request *q)
{
	char op[32], detail[160];
	mesh_audit_event e = { .op = op, .domain = q->domain, .path = q->glob,
			       .detail = detail };

	int n;

	snprintf(op, sizeof(op), "access-%s", step);
	n = snprintf(detail, sizeof(detail), "request %" PRIu64 " of uid %" PRIu32 " to %s",
		     q->id, q->uid, q->write ? "write" : "read");
	if (q->until && n > 0 && (size_t)n < sizeof(detail))
		snprintf(detail + n, sizeof(detail) - (size_t)n, " until %" PRId64, q->until);
	mesh_audit_record(mesh_store_audit(store), caller, &e);
}

static int next_request_id(mesh_store *store, uint64_t *id)
{
	void *val;
	size_t vlen;
	int found;

	if ((found = mesh_db_find(mesh_store_db(store), NEXT_ID_KEY, strlen(NEXT_ID_KEY),
				  &val, &vlen)) < 0)
		return found;
	*id = 1;
	if (found) {
		char buf[24];
		snprintf(buf, sizeof(buf), "%.*s", (int)(vlen < 23 ? vlen : 23), (char *)val);
		*id = strtoull(buf, NULL, 10);
		free(val);
	}
	return 0;
}

static int request_store_new(mesh_store *store, access_request *q)
{
	mesh_access_cache *c = mesh_store_access(store);
	mesh_db_batch *batch = NULL;
	char *record = NULL, next[24];
	size_t len;
	int error;

	pthread_mutex_lock(&c->ids);
	if ((error = next_request_id(store, &q->id)) == 0 &&
	    (error = encode_request(q, &record, &len)) == 0 &&
	    (error = mesh_db_batch_new(&batch)) == 0) {
		request_put(batch, q, record, len);
		snprintf(next, sizeof(next), "%" PRIu64, q->id + 1);
		mesh_db_batch_put(batch, NEXT_ID_KEY, strlen(NEXT_ID_KEY), next, strlen(next));
		error = mesh_db_batch_write(mesh_store_db(store), batch, true);
	}
	pthread_mutex_unlock(&c->ids);
	mesh_db_batch_free(batch);
	free(record);
	return error;
}

static int access_request_cmd(mesh_cmd *cmd)
{
	const char *path = NULL, *reason = NULL, *pos[2] = { NULL, NULL };
	mesh_cmd_opt specs[] = { { "--path", NULL, &path, NULL },
				 { "--reason", NULL, &reason, NULL } };
	mesh_store *store = cmd->env->store;
	access_request q = { 0 };
	size_t npos;
	int error;

	if ((error = mesh_cmd_parse_opts(cmd, 2, specs, 2, pos, 2, &npos, NULL)) < 0 ||
	    (error = mesh_cmd_need_positional(cmd, npos, 2,
		"access request DOMAIN read|write [--path GLOB] --reason TEXT")) < 0)
		return error;
	if (strcmp(pos[1], "read") != 0 && strcmp(pos[1], "write") != 0)
		return mesh_error_set(MESH_EINVAL, "access is read or write, not '%s'", pos[1]);
	if (!reason || !*reason)
		return mesh_error_set(MESH_EINVAL, "access request needs --reason TEXT");
	if (path && !strcmp(pos[1], "write"))
		return mesh_error_set(MESH_EINVAL, "--path is for read requests (of sensitive paths)");
	if ((path && (error = mesh_access_glob_check(path)) < 0) ||
	    (error = mesh_access_check(store, cmd->caller, pos[0], NULL,
				       MESH_ACCESS_SEE, NULL)) < 0)
		return error;
	q.domain = (char *)pos[0];
	q.uid = cmd->caller->uid;
	q.write = !strcmp(pos[1], "write");
	q.glob = (char *)(path ? path : "");
	q.reason = (char *)reason;
	q.created = (int64_t)time(NULL);
	q.state = "pending";
	if ((error = request_store_new(store, &q)) < 0)
		return error;
	access_step(store, cmd->caller, "request", &q);
	mesh_json_key(&cmd->json, "request");
	json_request(&cmd->json, &q, q.created);
	return 0;
}

typedef bool (*request_filter)(mesh_cmd *cmd, const access_request *q);

static int list_requests(mesh_cmd *cmd, request_filter keep)
{
	mesh_store *store = cmd->env->store;
	int64_t now = (int64_t)time(NULL);
	const void *key, *val;
	size_t klen, vlen;
	mesh_db_iter *it;
	int error, more;

	if (cmd->argc != 2)
		return mesh_error_set(MESH_EINVAL, "usage: access %s", cmd->argv[1]);
	if ((error = mesh_db_iter_new(&it, mesh_store_db(store), "a/r/", 4)) < 0)
		return error;
	mesh_json_key(&cmd->json, "requests");
	mesh_json_array_begin(&cmd->json);
	while ((more = mesh_db_iter_next(it, &key, &klen, &val, &vlen)) > 0) {
		char id[32];
		access_request q;
		snprintf(id, sizeof(id), "%.*s", (int)(klen - 4 < 31 ? klen - 4 : 31),
			 (const char *)key + 4);
		if ((more = decode_request(strtoull(id, NULL, 10), val, vlen, &q)) < 0)
			break;
		if (keep(cmd, &q))
			json_request(&cmd->json, &q, now);
		request_free(&q);
	}
	mesh_json_array_end(&cmd->json);
	mesh_db_iter_free(it);
	return more < 0 ? more : 0;
}

static bool pending_for_me(mesh_cmd *cmd, const access_request *q)
{
	int error;

	if (strcmp(q->state, "pending") != 0)
		return false;
	error = decide_quietly(cmd->env->store, cmd->caller, q->domain, NULL,
			       MESH_ACCESS_ADMIN, NULL);
	mesh_error_clear();
	return error == 0;
}

static bool mine(mesh_cmd *cmd, const access_request *q)
{
	return q->uid == cmd->caller->uid;
}

static int parse_id(const char *text, uint64_t *out)
{
	char *end;

	if (!*text || strspn(text, "0123456789") != strlen(text) || strlen(text) > 18)
		return mesh_error_set(MESH_EINVAL, "'%s' is not a request id", text);
	*out = strtoull(text, &end, 10);
	return 0;
}

/* The request's new state ("granted", "denied", "revoked") and its
 * grant's record, written together. */
static int decide_request(mesh_cmd *cmd, access_request *q, const char *state, int64_t until)
{
	mesh_store *store = cmd->env->store;
	bool grant = !strcmp(state, "granted");
	access_grant g = { q->id, q->uid, q->write, q->glob, until };
	mesh_db_batch *batch = NULL;
	char *record = NULL, *grec = NULL, key[600];
	size_t len, glen;
	int error;

	free(q->state);
	if (!(q->state = strdup(state)))
		return mesh_error_oom();
	if (grant)
		q->until = until;
	q->decided_by = cmd->caller->uid;
	q->decided_at = (int64_t)time(NULL);
	grant_key(key, sizeof(key), q->domain, q->id);
	if ((error = encode_request(q, &record, &len)) == 0 &&
	    (!grant || (error = encode_grant(&g, &grec, &glen)) == 0) &&
	    (error = mesh_db_batch_new(&batch)) == 0) {
		request_put(batch, q, record, len);
		if (grant)
			mesh_db_batch_put(batch, key, strlen(key), grec, glen);
		else if (!strcmp(state, "revoked"))
			mesh_db_batch_delete(batch, key, strlen(key));
		error = mesh_db_batch_write(mesh_store_db(store), batch, true);
	}
	mesh_db_batch_free(batch);
	free(record);
	free(grec);
	if (error == 0)
		mesh_access_changed(store);
	return error;
}

/* grant, deny (of a pending request) and revoke (of a grant). */
static int access_answer_cmd(mesh_cmd *cmd)
{
	const char *sub = cmd->argv[1];
	bool grant = !strcmp(sub, "grant"), revoke = !strcmp(sub, "revoke");
	const char *until_text = NULL, *pos[1] = { NULL };
	const char *state = grant ? "granted" : revoke ? "revoked" : "denied";
	mesh_cmd_opt specs[] = { { "--until", NULL, &until_text, NULL } };
	mesh_store *store = cmd->env->store;
	access_request q = { 0 };
	int64_t until = 0;
	uint64_t id = 0;
	size_t npos;
	int error;

	if ((error = mesh_cmd_parse_opts(cmd, 2, specs, grant ? 1 : 0, pos, 1, &npos, NULL)) < 0 ||
	    (error = mesh_cmd_need_positional(cmd, npos, 1, grant ?
		"access grant ID [--until DATE]" : revoke ? "access revoke ID" : "access deny ID")) < 0 ||
	    (error = parse_id(pos[0], &id)) < 0)
		return error;
	if (until_text) {
		if ((error = mesh_access_parse_date(until_text, &until)) < 0)
			return error;
		if (until <= (int64_t)time(NULL))
			return mesh_error_set(MESH_EINVAL, "--until %s is in the past", until_text);
	}
	if ((error = request_get(store, id, &q)) < 0)
		return error;
	if ((error = mesh_access_check(store, cmd->caller, q.domain, NULL,
				       MESH_ACCESS_ADMIN, NULL)) == 0 &&
	    strcmp(q.state, revoke ? "granted" : "pending") != 0)
		error = mesh_error_set(MESH_EINVAL, revoke ?
			"access request %" PRIu64 " is %s, not granted: nothing to revoke" :
			"access request %" PRIu64 " is already %s", id, q.state);
	if (error == 0 && (error = decide_request(cmd, &q, state, until)) == 0) {
		access_step(store, cmd->caller, sub, &q);
		mesh_json_key(&cmd->json, "request");
		json_request(&cmd->json, &q, (int64_t)time(NULL));
	}
	request_free(&q);
	return error;
}

static int cmd_access(mesh_cmd *cmd)
{
	const char *sub = cmd->argc >= 2 ? cmd->argv[1] : "";

	if (!strcmp(sub, "request"))
		return access_request_cmd(cmd);
	if (!strcmp(sub, "pending"))
		return list_requests(cmd, pending_for_me);
	if (!strcmp(sub, "mine"))
		return list_requests(cmd, mine);
	if (!strcmp(sub, "grant") || !strcmp(sub, "deny") || !strcmp(sub, "revoke"))
		return access_answer_cmd(cmd);
	return mesh_error_set(MESH_EINVAL, "usage: %s", mesh_access_cmd_spec.usage);
}

const mesh_cmd_spec mesh_access_cmd_spec = {
	"access", cmd_access,
	"access request DOMAIN read|write [--path GLOB] --reason TEXT | access pending | "
	"access grant ID [--until DATE] | access deny ID | access revoke ID | access mine",
	"ask for access to a domain; its owner grants or denies",
};

int mesh_access_root_owner(mesh_store *store, const char *domain, uint32_t *uid,
			   uint32_t *gid)
{
	access_rules *r;
	int error;

	if ((error = rules_get(store, domain, &r)) < 0)
		return error;
	*uid = r->root_uid;
	*gid = r->root_gid;
	rules_put(store, r);
	return 0;
}

int mesh_access_need_admin(mesh_store *store, const mesh_caller *caller, const char *what)
{
	if (mesh_access_is_admin(store, caller))
		return 0;
	return mesh_error_set(MESH_EACCES, "only the store's administrator may %s", what);
}
