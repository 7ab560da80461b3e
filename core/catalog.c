/*
 * catalog.c - the catalog of data products: an SQLite FTS5 index of
 * the domains' cards, kept up to date by comparing the heads it was
 * built from with the refs, ranked by bm25 and by usage; and the
 * comments and ratings of a card, kept in the metadata database.
 *
 * Why SQLite FTS5: bm25 ranking with weights per field, prefix queries
 * through a prefix index, Unicode case and diacritics folding, and rows
 * replaced one at a time, in a library Debian ships and every tool
 * reads; an inverted index of our own would redo all of it.
 */
#include "catalog.h"
#include "access.h"
#include "array.h"
#include "audit.h"
#include "commit.h"
#include "contract.h"
#include "domain.h"
#include "error.h"
#include "lineage.h"
#include "product.h"
#include "tree.h"
#include "treecache.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Bumped when the index's tables change: an index of another layout is
 * dropped and rebuilt (it is a cache). */
#define SCHEMA_VERSION "1"

/* What the index holds of one domain: the head it was built from. */
typedef struct indexed {
	char *domain, *branch;    /* the domain and its default branch */
	mesh_oid head;
	sqlite3_int64 rowid;
} indexed;

struct mesh_catalog {
	/* Guards everything below.  Taken by catalog commands only (no
	 * FUSE request that serves data waits on it), never while a
	 * branch lock is held. */
	pthread_mutex_t lock;
	char *path;               /* STORE/catalog.sqlite */
	sqlite3 *db;
	indexed *items;           /* sorted by domain */
	size_t count, cap;
	bool checked;             /* the heads were compared at checked_seq */
	uint64_t checked_seq;
	/* Serializes the read of a domain's next comment id with its write. */
	pthread_mutex_t comment_lock;
};

/* --- the index file ------------------------------------------------------ */

/* The columns searched, and their bm25 weights: a word in a product's
 * name or domain counts most, in a free key/value least. */
static const struct { const char *name; double weight; } columns[] = {
	{ "domain", 8 }, { "name", 10 }, { "id", 4 }, { "description", 3 }, { "tags", 6 },
	{ "owner", 2 }, { "ports", 2 }, { "custom", 1 }, { "contracts", 3 }, { "paths", 2 },
};
#define COLUMN_COUNT (sizeof(columns) / sizeof(columns[0]))

static int sql_error(sqlite3 *db, const char *what)
{
	return mesh_error_set(MESH_EIO, "catalog index: %s: %s", what,
			      db ? sqlite3_errmsg(db) : "out of memory");
}

static int exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		int error = mesh_error_set(MESH_EIO, "catalog index: %s", msg ? msg : "failed");
		sqlite3_free(msg);
		return error;
	}
	return 0;
}

static int create_tables(sqlite3 *db)
{
	char sql[1024];
	size_t n;
	int error;

	if ((error = exec(db,
		"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
		"CREATE TABLE IF NOT EXISTS product(rowid INTEGER PRIMARY KEY, domain TEXT UNIQUE"
		" NOT NULL, head BLOB NOT NULL, branch TEXT, commit_time INTEGER, name TEXT,"
		" pid TEXT, status TEXT, owner TEXT, description TEXT, tags TEXT, card_error TEXT,"
		" freshness INTEGER, contracts INTEGER, contract_status TEXT,"
		" contract_detail TEXT);")) < 0)
		return error;
	n = (size_t)snprintf(sql, sizeof(sql), "CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(");
	for (size_t i = 0; i < COLUMN_COUNT; i++)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s, ", columns[i].name);
	snprintf(sql + n, sizeof(sql) - n,
		 "tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');"
		 "INSERT OR REPLACE INTO meta VALUES('schema', '" SCHEMA_VERSION "');");
	return exec(db, sql);
}

/* The schema version the file records, or "" (a new or foreign file). */
static void schema_of(sqlite3 *db, char *out, size_t cap)
{
	sqlite3_stmt *st = NULL;

	out[0] = '\0';
	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema'", -1, &st,
			       NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_text(st, 0))
		snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

static int items_load(mesh_catalog *cat)
{
	sqlite3_stmt *st = NULL;
	int rc, error = 0;

	if (sqlite3_prepare_v2(cat->db, "SELECT rowid, domain, head, branch FROM product"
			       " ORDER BY domain", -1, &st, NULL) != SQLITE_OK)
		return sql_error(cat->db, "reading the products");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *domain = (const char *)sqlite3_column_text(st, 1);
		const char *branch = (const char *)sqlite3_column_text(st, 3);
		indexed *it;

		if (!domain || !branch || sqlite3_column_bytes(st, 2) != MESH_OID_RAWSZ)
			continue;
		if ((error = mesh_array_grow(&cat->items, &cat->cap, cat->count,
					     sizeof(*cat->items))) < 0)
			break;
		it = &cat->items[cat->count];
		it->domain = strdup(domain);
		it->branch = strdup(branch);
		if (!it->domain || !it->branch) {
			free(it->domain);
			free(it->branch);
			error = mesh_error_oom();
			break;
		}
		memcpy(it->head.id, sqlite3_column_blob(st, 2), MESH_OID_RAWSZ);
		it->rowid = sqlite3_column_int64(st, 0);
		cat->count++;
	}
	if (error == 0 && rc != SQLITE_DONE)
		error = sql_error(cat->db, "reading the products");
	sqlite3_finalize(st);
	return error;
}

static void items_clear(mesh_catalog *cat)
{
	for (size_t i = 0; i < cat->count; i++) {
		free(cat->items[i].domain);
		free(cat->items[i].branch);
	}
	cat->count = 0;
	cat->checked = false;
}

/* Opens the index, building its tables; one of another layout, or that
 * does not open as SQLite, is removed and made anew (it is a cache). */
static int index_open(mesh_catalog *cat)
{
	char version[32];
	int error;

	for (int attempt = 0; attempt < 2; attempt++) {
		if (sqlite3_open_v2(cat->path, &cat->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				    SQLITE_OPEN_NOMUTEX, NULL) == SQLITE_OK &&
		    exec(cat->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;") == 0) {
			schema_of(cat->db, version, sizeof(version));
			if (!strcmp(version, SCHEMA_VERSION) ||
			    (!version[0] && exec(cat->db, "DROP TABLE IF EXISTS product;"
						 "DROP TABLE IF EXISTS fts;") == 0)) {
				if ((error = create_tables(cat->db)) == 0 &&
				    (error = items_load(cat)) == 0)
					return 0;
			}
		}
		mesh_error_clear();
		sqlite3_close(cat->db);
		cat->db = NULL;
		items_clear(cat);
		char side[4200];
		unlink(cat->path);
		snprintf(side, sizeof(side), "%s-wal", cat->path);
		unlink(side);
		snprintf(side, sizeof(side), "%s-shm", cat->path);
		unlink(side);
	}
	return mesh_error_set(MESH_EIO, "catalog index %s cannot be opened or made", cat->path);
}

int mesh_catalog_new(mesh_catalog **out, const char *store_path)
{
	mesh_catalog *cat = calloc(1, sizeof(*cat));
	size_t len = strlen(store_path) + sizeof(MESH_CATALOG_FILE) + 2;

	*out = NULL;
	if (!cat || !(cat->path = malloc(len))) {
		free(cat);
		return mesh_error_oom();
	}
	snprintf(cat->path, len, "%s/%s", store_path, MESH_CATALOG_FILE);
	pthread_mutex_init(&cat->lock, NULL);
	pthread_mutex_init(&cat->comment_lock, NULL);
	*out = cat;
	return 0;
}

void mesh_catalog_free(mesh_catalog *cat)
{
	if (!cat)
		return;
	sqlite3_close(cat->db);
	items_clear(cat);
	free(cat->items);
	pthread_mutex_destroy(&cat->lock);
	pthread_mutex_destroy(&cat->comment_lock);
	free(cat->path);
	free(cat);
}

/* --- indexing one domain ------------------------------------------------- */

/* A growing text of words, one field per line. */
typedef struct text {
	char *p;
	size_t len, cap;
	bool failed;
} text;

static void text_add(text *t, const char *word)
{
	size_t n = word ? strlen(word) : 0;

	if (!n || t->failed)
		return;
	if (t->len + n + 2 > t->cap) {
		size_t want = (t->len + n + 2) * 2;
		char *grown = realloc(t->p, want);
		if (!grown) {
			t->failed = true;
			return;
		}
		t->p = grown;
		t->cap = want;
	}
	memcpy(t->p + t->len, word, n);
	t->len += n;
	t->p[t->len++] = '\n';
	t->p[t->len] = '\0';
}

static void text_word(void *ctx, const char *word)
{
	text_add(ctx, word);
}

static const char *text_str(const text *t)
{
	return t->p ? t->p : "";
}

/* What one domain's head says, as the index keeps it. */
typedef struct entry {
	const mesh_domain *d;
	mesh_oid head;
	int64_t commit_time;
	mesh_product *card;
	char *card_error;
	text fields[COLUMN_COUNT];
	text tags;                /* the card's tags, one per line */
	int64_t freshness;
	size_t contracts;
	const char *contract_status;
	char contract_detail[512];
} entry;

enum { COL_DOMAIN, COL_NAME, COL_ID, COL_DESCRIPTION, COL_TAGS, COL_OWNER, COL_PORTS,
       COL_CUSTOM, COL_CONTRACTS, COL_PATHS };

static void entry_dispose(entry *e)
{
	mesh_product_free(e->card);
	free(e->card_error);
	for (size_t i = 0; i < COLUMN_COUNT; i++)
		free(e->fields[i].p);
	free(e->tags.p);
}

static void card_text(entry *e)
{
	const mesh_product *p = e->card;
	text *f = e->fields;

	text_add(&f[COL_NAME], p->name);
	text_add(&f[COL_ID], p->id);
	text_add(&f[COL_DESCRIPTION], p->description);
	text_add(&f[COL_OWNER], p->owner);
	text_add(&f[COL_OWNER], p->team);
	for (size_t i = 0; i < p->contact_count; i++)
		text_add(&f[COL_OWNER], p->contacts[i].name);
	for (size_t i = 0; i < p->tag_count; i++) {
		text_add(&f[COL_TAGS], p->tags[i]);
		text_add(&e->tags, p->tags[i]);
	}
	for (size_t i = 0; i < p->output_count; i++) {
		text_add(&f[COL_PORTS], p->outputs[i].name);
		text_add(&f[COL_PORTS], p->outputs[i].path);
		text_add(&f[COL_PORTS], p->outputs[i].contract);
	}
	for (size_t i = 0; i < p->input_count; i++) {
		text_add(&f[COL_PORTS], p->inputs[i].name);
		text_add(&f[COL_PORTS], p->inputs[i].product);
		text_add(&f[COL_PORTS], p->inputs[i].path);
	}
	for (size_t i = 0; i < p->custom_count; i++) {
		text_add(&f[COL_CUSTOM], p->custom[i].key);
		text_add(&f[COL_CUSTOM], p->custom[i].value);
	}
}

/* The names at the top of the tree, but the dot files (.mesh). */
static int paths_text(mesh_store *store, const mesh_oid *tree, text *out)
{
	mesh_treecache *cache = mesh_store_trees(store);
	mesh_tree_ref *ref = NULL;
	const mesh_tree *t;
	int error;

	if ((error = mesh_treecache_get(cache, tree, &ref)) < 0)
		return error;
	t = mesh_tree_ref_tree(ref);
	for (size_t i = 0; i < t->count; i++)
		if (t->entries[i].name[0] != '.')
			text_add(out, t->entries[i].name);
	mesh_treecache_release(cache, ref);
	return 0;
}

/* The contracts' words and promise, and whether the head holds them:
 * checked once per head (a query only reads the result).  Freshness is
 * left out of the status: it changes with time, and a hit measures it
 * against the head's age when it is shown. */
static void contracts_of(mesh_store *store, entry *e, const mesh_oid *tree)
{
	mesh_contract **cs = NULL;
	mesh_contract_report r;
	size_t n = 0, broken = 0, checked = 0;
	const mesh_contract_failure *first = NULL;

	if (mesh_contract_load_tree(mesh_store_odb(store), tree, &cs, &n) < 0) {
		e->contract_status = "invalid";
		snprintf(e->contract_detail, sizeof(e->contract_detail), "%s", mesh_error_message());
		mesh_error_clear();
		return;
	}
	e->contracts = n;
	e->contract_status = n ? "held" : "none";
	for (size_t i = 0; i < n; i++) {
		int64_t promise = mesh_contract_freshness(cs[i]);
		mesh_contract_words(cs[i], text_word, &e->fields[COL_CONTRACTS]);
		if (promise && (!e->freshness || promise < e->freshness))
			e->freshness = promise;
	}
	mesh_contract_list_free(cs, n);
	if (!n)
		return;
	mesh_contract_report_init(&r);
	if (mesh_contract_check_tree(store, NULL, e->d->name, &e->head, (int64_t)time(NULL), &r,
				     &checked) < 0 && mesh_error_code() != MESH_EINVAL) {
		e->contract_status = "unchecked";
		snprintf(e->contract_detail, sizeof(e->contract_detail), "%s", mesh_error_message());
	} else {
		for (size_t i = 0; i < r.count; i++) {
			if (!strcmp(r.failures[i].rule, "freshness"))
				continue;
			if (!broken++)
				first = &r.failures[i];
		}
		if (broken) {
			/* Names, no values: the values may be a sensitive
			 * path's, and the hit is shown to every reader. */
			e->contract_status = "broken";
			snprintf(e->contract_detail, sizeof(e->contract_detail),
				 "%zu rule(s) broken; first: contract %s, %s%s%s: %s", broken,
				 first->contract, first->file, first->column[0] ? " column " : "",
				 first->column, first->rule);
		}
	}
	mesh_error_clear();
	mesh_contract_report_dispose(&r);
}

static int entry_build(mesh_store *store, const mesh_domain *d, const mesh_oid *head, entry *e)
{
	mesh_commit *commit = NULL;
	int error;

	memset(e, 0, sizeof(*e));
	e->d = d;
	e->head = *head;
	if ((error = mesh_commit_load(mesh_store_odb(store), head, &commit)) < 0)
		return error;
	e->commit_time = commit->time;
	text_add(&e->fields[COL_DOMAIN], d->name);
	text_add(&e->fields[COL_DESCRIPTION], d->description);
	if (mesh_product_load(store, d->name, d->default_branch, &commit->tree, &e->card) < 0) {
		/* A card committed before the gate: found by its domain,
		 * shown with its fault. */
		if (!(e->card_error = strdup(mesh_error_message())))
			error = mesh_error_oom();
		mesh_error_clear();
	}
	if (e->card)
		card_text(e);
	if (error == 0)
		error = paths_text(store, &commit->tree, &e->fields[COL_PATHS]);
	if (error == 0)
		contracts_of(store, e, &commit->tree);
	mesh_commit_free(commit);
	for (size_t i = 0; error == 0 && i < COLUMN_COUNT; i++)
		if (e->fields[i].failed || e->tags.failed)
			error = mesh_error_oom();
	return error;
}

static void bind_opt(sqlite3_stmt *st, int at, const char *value)
{
	if (value)
		sqlite3_bind_text(st, at, value, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, at);
}

/* Writes e's row and its text; *rowid is kept for a domain indexed
 * before (0: a new one, whose rowid is set). */
static int entry_store(mesh_catalog *cat, const entry *e, sqlite3_int64 *rowid)
{
	static const char *const upsert =
		"INSERT INTO product(rowid, domain, head, branch, commit_time, name, pid, status,"
		" owner, description, tags, card_error, freshness, contracts, contract_status,"
		" contract_detail) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
		" ?14, ?15, ?16) ON CONFLICT(rowid) DO UPDATE SET head = ?3, branch = ?4,"
		" commit_time = ?5, name = ?6, pid = ?7, status = ?8, owner = ?9,"
		" description = ?10, tags = ?11, card_error = ?12, freshness = ?13,"
		" contracts = ?14, contract_status = ?15, contract_detail = ?16";
	const mesh_product *p = e->card;
	sqlite3_stmt *st = NULL;
	char sql[256];
	size_t n;
	int rc;

	if (sqlite3_prepare_v2(cat->db, upsert, -1, &st, NULL) != SQLITE_OK)
		return sql_error(cat->db, "preparing a product");
	if (*rowid)
		sqlite3_bind_int64(st, 1, *rowid);
	sqlite3_bind_text(st, 2, e->d->name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 3, e->head.id, MESH_OID_RAWSZ, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, e->d->default_branch, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, e->commit_time);
	bind_opt(st, 6, p ? p->name : NULL);
	bind_opt(st, 7, p ? p->id : NULL);
	bind_opt(st, 8, p ? p->status : NULL);
	bind_opt(st, 9, p ? p->owner : NULL);
	bind_opt(st, 10, p && p->description ? p->description : e->d->description);
	bind_opt(st, 11, e->tags.p);
	bind_opt(st, 12, e->card_error);
	sqlite3_bind_int64(st, 13, e->freshness);
	sqlite3_bind_int64(st, 14, (sqlite3_int64)e->contracts);
	bind_opt(st, 15, e->contract_status);
	bind_opt(st, 16, e->contract_detail[0] ? e->contract_detail : NULL);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return sql_error(cat->db, "writing a product");
	if (!*rowid)
		*rowid = sqlite3_last_insert_rowid(cat->db);

	snprintf(sql, sizeof(sql), "DELETE FROM fts WHERE rowid = %lld", (long long)*rowid);
	if ((rc = exec(cat->db, sql)) < 0)
		return rc;
	n = (size_t)snprintf(sql, sizeof(sql), "INSERT INTO fts(rowid");
	for (size_t i = 0; i < COLUMN_COUNT; i++)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, ", %s", columns[i].name);
	n += (size_t)snprintf(sql + n, sizeof(sql) - n, ") VALUES(?");
	for (size_t i = 0; i < COLUMN_COUNT; i++)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, ", ?");
	snprintf(sql + n, sizeof(sql) - n, ")");
	if (sqlite3_prepare_v2(cat->db, sql, -1, &st, NULL) != SQLITE_OK)
		return sql_error(cat->db, "preparing a product's words");
	sqlite3_bind_int64(st, 1, *rowid);
	for (size_t i = 0; i < COLUMN_COUNT; i++)
		sqlite3_bind_text(st, (int)i + 2, text_str(&e->fields[i]), -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : sql_error(cat->db, "writing a product's words");
}

static int row_delete(mesh_catalog *cat, sqlite3_int64 rowid)
{
	char sql[128];
	int error;

	snprintf(sql, sizeof(sql), "DELETE FROM fts WHERE rowid = %lld", (long long)rowid);
	if ((error = exec(cat->db, sql)) < 0)
		return error;
	snprintf(sql, sizeof(sql), "DELETE FROM product WHERE rowid = %lld", (long long)rowid);
	return exec(cat->db, sql);
}

/* --- keeping the index up to date ---------------------------------------- */

static int item_cmp(const void *a, const void *b)
{
	return strcmp(((const indexed *)a)->domain, ((const indexed *)b)->domain);
}

/* Among the first sorted items (those added since lie past them). */
static indexed *item_find(mesh_catalog *cat, size_t sorted, const char *domain)
{
	indexed key = { .domain = (char *)domain };

	return sorted ? bsearch(&key, cat->items, sorted, sizeof(*cat->items), item_cmp) : NULL;
}

/* One domain whose head is not the one indexed: (re)indexed in place. */
static int reindex_one(mesh_catalog *cat, mesh_store *store, const mesh_domain *d,
		       const mesh_oid *head, indexed *known)
{
	sqlite3_int64 rowid = known ? known->rowid : 0;
	entry e;
	int error;

	if ((error = entry_build(store, d, head, &e)) == 0)
		error = entry_store(cat, &e, &rowid);
	entry_dispose(&e);
	if (error < 0)
		return error;
	if (known) {
		known->head = *head;
		return 0;
	}
	if ((error = mesh_array_grow(&cat->items, &cat->cap, cat->count, sizeof(*cat->items))) < 0)
		return error;
	indexed *it = &cat->items[cat->count];
	it->domain = strdup(d->name);
	it->branch = strdup(d->default_branch);
	if (!it->domain || !it->branch) {
		free(it->domain);
		free(it->branch);
		return mesh_error_oom();
	}
	it->head = *head;
	it->rowid = rowid;
	cat->count++;
	return 0;
}

/* Drops the domains indexed before (the first known items) that the
 * store no longer lists. */
static int drop_gone(mesh_catalog *cat, size_t known, const bool *seen, size_t *changed)
{
	size_t kept = 0;
	int error = 0;

	for (size_t i = 0; i < cat->count; i++) {
		if (i >= known || seen[i] || error < 0) {
			cat->items[kept++] = cat->items[i];
			continue;
		}
		if ((error = row_delete(cat, cat->items[i].rowid)) < 0) {
			cat->items[kept++] = cat->items[i];
			continue;
		}
		free(cat->items[i].domain);
		free(cat->items[i].branch);
		(*changed)++;
	}
	cat->count = kept;
	return error;
}

/* Every branch head of the store, from one pass over the refs. */
typedef struct head {
	char *domain, *branch;
	mesh_oid oid;
} head;

typedef struct heads {
	head *items;
	size_t count, cap;
} heads;

static int head_take(void *ctx, const char *domain, const char *name, const mesh_oid *oid)
{
	heads *h = ctx;
	int error;

	if (strncmp(name, "heads/", 6))
		return 0;
	if ((error = mesh_array_grow(&h->items, &h->cap, h->count, sizeof(*h->items))) < 0)
		return error;
	head *it = &h->items[h->count];
	if (!(it->domain = strdup(domain)) || !(it->branch = strdup(name + 6))) {
		free(it->domain);
		return mesh_error_oom();
	}
	it->oid = *oid;
	h->count++;
	return 0;
}

static void heads_free(heads *h)
{
	for (size_t i = 0; i < h->count; i++) {
		free(h->items[i].domain);
		free(h->items[i].branch);
	}
	free(h->items);
}

static int head_cmp(const void *a, const void *b)
{
	const head *x = a, *y = b;
	int c = strcmp(x->domain, y->domain);

	return c ? c : strcmp(x->branch, y->branch);
}

/* The head of domain's branch; NULL when it has none (the refs come
 * sorted by domain, then name, as their keys). */
static const head *head_find(const heads *h, const char *domain, const char *branch)
{
	head key = { (char *)domain, (char *)branch, { { 0 } } };

	return h->count ? bsearch(&key, h->items, h->count, sizeof(*h->items), head_cmp) : NULL;
}

/* Domain name (whose first ref is in heads) indexed again when its
 * default branch's head is not the one indexed (known: its item, or
 * NULL for a domain new to the index).  The record is read only then. */
static int refresh_domain(mesh_catalog *cat, mesh_store *store, const heads *all,
			  const char *name, indexed *known, size_t *changed)
{
	const head *h;
	mesh_domain *d = NULL;
	int error;

	/* The default branch never changes: the item's is the record's. */
	if (known && (h = head_find(all, name, known->branch)) &&
	    mesh_oid_cmp(&known->head, &h->oid) == 0)
		return 0;
	if ((error = mesh_domain_get(store, name, &d)) < 0) {
		/* Refs without a record: nothing of a product to show. */
		mesh_error_clear();
		return 0;
	}
	/* A domain whose default branch is gone cannot be indexed (nor is
	 * it dropped: what it said last still stands). */
	if ((h = head_find(all, name, d->default_branch)) &&
	    (error = reindex_one(cat, store, d, &h->oid, known)) == 0)
		(*changed)++;
	mesh_domain_free(d);
	return error;
}

/* The comparison itself, in one SQLite transaction: every domain that
 * has refs is looked at once, the indexed ones without any dropped. */
static int compare_heads(mesh_catalog *cat, mesh_store *store, const heads *all,
			 size_t *changed)
{
	size_t known = cat->count;
	bool *seen = calloc(known + 1, sizeof(*seen));
	int error;

	if (!seen)
		return mesh_error_oom();
	if ((error = exec(cat->db, "BEGIN")) < 0) {
		free(seen);
		return error;
	}
	for (size_t i = 0; i < all->count && error == 0; i++) {
		const char *name = all->items[i].domain;
		indexed *it;

		if (i && !strcmp(name, all->items[i - 1].domain))
			continue;
		if ((it = item_find(cat, known, name)))
			seen[it - cat->items] = true;
		error = refresh_domain(cat, store, all, name, it, changed);
	}
	if (error == 0)
		error = drop_gone(cat, known, seen, changed);
	free(seen);
	if (error == 0)
		return exec(cat->db, "COMMIT");
	exec(cat->db, "ROLLBACK");
	return error;
}

static int refresh_locked(mesh_catalog *cat, mesh_store *store, size_t *changed)
{
	uint64_t seq = mesh_db_sequence(mesh_store_db(store));
	heads all = { 0 };
	int error;

	*changed = 0;
	if (!cat->db && (error = index_open(cat)) < 0)
		return error;
	/* Nothing written since the last comparison: no head moved. */
	if (cat->checked && seq == cat->checked_seq)
		return 0;
	if ((error = mesh_ref_list_all(mesh_store_refs(store), head_take, &all)) == 0)
		error = compare_heads(cat, store, &all, changed);
	heads_free(&all);
	if (cat->count)
		qsort(cat->items, cat->count, sizeof(*cat->items), item_cmp);
	if (error == 0) {
		cat->checked = true;
		cat->checked_seq = seq;
		return 0;
	}
	/* The rows rolled back: read what the file holds again. */
	char message[512];
	snprintf(message, sizeof(message), "%s", mesh_error_message());
	items_clear(cat);
	items_load(cat);
	return mesh_error_set(error, "%s", message);
}

int mesh_catalog_refresh(mesh_store *store, size_t *reindexed)
{
	mesh_catalog *cat = mesh_store_catalog(store);
	size_t changed = 0;
	int error;

	pthread_mutex_lock(&cat->lock);
	error = refresh_locked(cat, store, &changed);
	pthread_mutex_unlock(&cat->lock);
	if (reindexed)
		*reindexed = changed;
	return error;
}

/* --- searching ----------------------------------------------------------- */

/* FTS5's query: each word as a quoted string (so no word is syntax),
 * prefix-matched, all of them required. */
static int build_query(const char *const *words, size_t nwords, char **out)
{
	text q = { 0 };
	size_t usable = 0;

	for (size_t i = 0; i < nwords; i++) {
		bool has_alnum = false;
		for (const unsigned char *c = (const unsigned char *)words[i]; *c; c++)
			has_alnum |= (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') ||
				     (*c >= 'A' && *c <= 'Z') || *c >= 0x80;
		if (!has_alnum)
			continue;
		size_t len = strlen(words[i]), at = 0;
		char *quoted = malloc(2 * len + 5);
		if (!quoted) {
			free(q.p);
			return mesh_error_oom();
		}
		quoted[at++] = '"';
		for (size_t k = 0; k < len; k++) {
			if (words[i][k] == '"')
				quoted[at++] = '"';
			quoted[at++] = words[i][k];
		}
		memcpy(quoted + at, "\"* ", 4);
		text_add(&q, quoted);
		free(quoted);
		usable++;
	}
	if (q.failed) {
		free(q.p);
		return mesh_error_oom();
	}
	if (!usable) {
		free(q.p);
		return mesh_error_set(MESH_EINVAL, "catalog search: no word with a letter or digit "
				      "to look for");
	}
	*out = q.p;
	return 0;
}

/* A match before it is ranked. */
typedef struct candidate {
	sqlite3_int64 rowid;
	char *domain;
	double relevance, usage, score;
	uint32_t readers;
	uint64_t opens;
} candidate;

static int candidate_cmp(const void *a, const void *b)
{
	const candidate *x = a, *y = b;

	if (x->score != y->score)
		return x->score < y->score ? 1 : -1;
	return strcmp(x->domain, y->domain);
}

static int candidate_domain_cmp(const void *a, const void *b)
{
	return strcmp(((const candidate *)a)->domain, ((const candidate *)b)->domain);
}

/* Readers, opens, usage and score of every candidate, in one pass over
 * the usage counters (in domain order, as they are keyed). */
static int weigh(mesh_store *store, candidate *c, size_t n)
{
	const char **domains = NULL;
	uint32_t *readers = NULL;
	uint64_t *opens = NULL;
	struct timespec ts;
	int error;

	if (!n)
		return 0;
	qsort(c, n, sizeof(*c), candidate_domain_cmp);
	if (!(domains = malloc(n * sizeof(*domains))) ||
	    !(readers = malloc(n * sizeof(*readers))) || !(opens = malloc(n * sizeof(*opens)))) {
		error = mesh_error_oom();
		goto done;
	}
	for (size_t i = 0; i < n; i++)
		domains[i] = c[i].domain;
	clock_gettime(CLOCK_REALTIME, &ts);
	if ((error = mesh_audit_usage_totals(mesh_store_db(store), domains, n,
					     MESH_CATALOG_USAGE_DAYS,
					     (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec,
					     readers, opens)) < 0)
		goto done;
	for (size_t i = 0; i < n; i++) {
		c[i].readers = readers[i];
		c[i].opens = opens[i];
		c[i].usage = readers[i] * log(1.0 + (double)opens[i]);
		c[i].score = c[i].relevance * (1.0 + c[i].usage);
	}
done:
	free(domains);
	free(readers);
	free(opens);
	return error;
}

static int match_all(mesh_catalog *cat, mesh_store *store, const mesh_caller *caller,
		     const char *query, candidate **out, size_t *count)
{
	char sql[512];
	size_t n, cap = 0;
	sqlite3_stmt *st = NULL;
	int rc, error = 0;

	*out = NULL;
	*count = 0;
	n = (size_t)snprintf(sql, sizeof(sql), "SELECT p.rowid, p.domain, bm25(fts");
	for (size_t i = 0; i < COLUMN_COUNT; i++)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, ", %g", columns[i].weight);
	snprintf(sql + n, sizeof(sql) - n, ") FROM fts JOIN product p ON p.rowid = fts.rowid"
		 " WHERE fts MATCH ?1");
	if (sqlite3_prepare_v2(cat->db, sql, -1, &st, NULL) != SQLITE_OK)
		return sql_error(cat->db, "preparing the search");
	sqlite3_bind_text(st, 1, query, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *domain = (const char *)sqlite3_column_text(st, 1);
		candidate *c;

		/* Restricted products never reach an outsider's answer,
		 * not even its count. */
		if (!domain || !mesh_access_may_read(store, caller, domain, MESH_PRODUCT_PATH))
			continue;
		if ((error = mesh_array_grow(out, &cap, *count, sizeof(**out))) < 0)
			break;
		c = &(*out)[*count];
		memset(c, 0, sizeof(*c));
		if (!(c->domain = strdup(domain))) {
			error = mesh_error_oom();
			break;
		}
		(*count)++;
		c->rowid = sqlite3_column_int64(st, 0);
		c->relevance = -sqlite3_column_double(st, 2);
	}
	if (error == 0 && rc != SQLITE_DONE)
		error = rc == SQLITE_ERROR ?
			mesh_error_set(MESH_EINVAL, "catalog search: %s", sqlite3_errmsg(cat->db)) :
			sql_error(cat->db, "searching");
	sqlite3_finalize(st);
	return error ? error : weigh(store, *out, *count);
}

static char *column_dup(sqlite3_stmt *st, int at)
{
	const unsigned char *v = sqlite3_column_text(st, at);

	return v ? strdup((const char *)v) : NULL;
}

static int split_lines(const char *textv, char ***out, size_t *count)
{
	size_t cap = 0;

	*out = NULL;
	*count = 0;
	for (const char *p = textv; p && *p;) {
		size_t n = strcspn(p, "\n");
		if (n) {
			if (mesh_array_grow(out, &cap, *count, sizeof(**out)) < 0 ||
			    !((*out)[*count] = strndup(p, n)))
				return mesh_error_oom();
			(*count)++;
		}
		p += n + (p[n] == '\n');
	}
	return 0;
}

/* The row of a ranked match, into hit. */
static int hit_fill(mesh_catalog *cat, const candidate *c, mesh_catalog_hit *hit)
{
	sqlite3_stmt *st = NULL;
	int error = 0;

	if (sqlite3_prepare_v2(cat->db, "SELECT domain, head, branch, commit_time, name, pid,"
			       " status, owner, description, tags, card_error, freshness, contracts,"
			       " contract_status, contract_detail FROM product WHERE rowid = ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return sql_error(cat->db, "preparing a hit");
	sqlite3_bind_int64(st, 1, c->rowid);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return sql_error(cat->db, "reading a hit");
	}
	hit->domain = column_dup(st, 0);
	if (sqlite3_column_bytes(st, 1) == MESH_OID_RAWSZ)
		memcpy(hit->commit.id, sqlite3_column_blob(st, 1), MESH_OID_RAWSZ);
	hit->branch = column_dup(st, 2);
	hit->commit_time = sqlite3_column_int64(st, 3);
	hit->name = column_dup(st, 4);
	hit->id = column_dup(st, 5);
	hit->status = column_dup(st, 6);
	hit->owner = column_dup(st, 7);
	hit->description = column_dup(st, 8);
	error = split_lines((const char *)sqlite3_column_text(st, 9), &hit->tags, &hit->tag_count);
	hit->card_error = column_dup(st, 10);
	hit->freshness = sqlite3_column_int64(st, 11);
	hit->contracts = (uint32_t)sqlite3_column_int64(st, 12);
	hit->contract_status = column_dup(st, 13);
	hit->contract_detail = column_dup(st, 14);
	sqlite3_finalize(st);
	hit->readers = c->readers;
	hit->read_opens = c->opens;
	hit->relevance = c->relevance;
	hit->usage = c->usage;
	hit->score = c->score;
	if (error == 0 && (!hit->domain || !hit->branch || !hit->contract_status))
		error = mesh_error_oom();
	return error;
}

static void candidates_free(candidate *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(c[i].domain);
	free(c);
}

int mesh_catalog_search(mesh_store *store, const mesh_caller *caller,
			const char *const *words, size_t nwords, size_t limit,
			mesh_catalog_hit **hits, size_t *count, size_t *total)
{
	mesh_catalog *cat = mesh_store_catalog(store);
	candidate *cands = NULL;
	size_t ncands = 0, changed;
	char *query = NULL;
	int error;

	*hits = NULL;
	*count = 0;
	*total = 0;
	if ((error = build_query(words, nwords, &query)) < 0)
		return error;
	/* The reads just made through this handle count. */
	mesh_audit_flush(mesh_store_audit(store));
	pthread_mutex_lock(&cat->lock);
	if ((error = refresh_locked(cat, store, &changed)) == 0 &&
	    (error = match_all(cat, store, caller, query, &cands, &ncands)) == 0) {
		if (ncands)
			qsort(cands, ncands, sizeof(*cands), candidate_cmp);
		*total = ncands;
		size_t n = ncands < limit ? ncands : limit;
		if (n && !(*hits = calloc(n, sizeof(**hits))))
			error = mesh_error_oom();
		for (size_t i = 0; i < n && error == 0; i++) {
			error = hit_fill(cat, &cands[i], &(*hits)[i]);
			*count = i + 1;
		}
	}
	pthread_mutex_unlock(&cat->lock);
	candidates_free(cands, ncands);
	free(query);
	if (error < 0) {
		mesh_catalog_hits_free(*hits, *count);
		*hits = NULL;
		*count = 0;
		*total = 0;
	}
	return error;
}

void mesh_catalog_hits_free(mesh_catalog_hit *hits, size_t count)
{
	for (size_t i = 0; hits && i < count; i++) {
		mesh_catalog_hit *h = &hits[i];
		free(h->domain);
		free(h->branch);
		free(h->name);
		free(h->id);
		free(h->status);
		free(h->owner);
		free(h->description);
		for (size_t k = 0; k < h->tag_count; k++)
			free(h->tags[k]);
		free(h->tags);
		free(h->card_error);
		free(h->contract_status);
		free(h->contract_detail);
	}
	free(hits);
}

/* --- comments ------------------------------------------------------------ */

#define COMMENT_PREFIX "n/c"
#define NEXT_PREFIX "n/i"

static int comment_key(const char *domain, uint64_t id, char **key, size_t *klen)
{
	char num[24];
	const char *fields[3] = { COMMENT_PREFIX, domain, num };

	snprintf(num, sizeof(num), "%016" PRIu64, id);
	return mesh_fields_join(fields, id ? 3 : 2, key, klen);
}

static int next_id(mesh_store *store, const char *domain, uint64_t *id)
{
	const char *fields[2] = { NEXT_PREFIX, domain };
	char *key = NULL, buf[24];
	void *val = NULL;
	size_t klen, vlen;
	int found;

	*id = 1;
	if ((found = mesh_fields_join(fields, 2, &key, &klen)) < 0)
		return found;
	found = mesh_db_find(mesh_store_db(store), key, klen, &val, &vlen);
	free(key);
	if (found < 0)
		return found;
	if (found) {
		snprintf(buf, sizeof(buf), "%.*s", (int)(vlen < 23 ? vlen : 23), (char *)val);
		*id = strtoull(buf, NULL, 10);
		free(val);
	}
	return 0;
}

static int check_comment(const char *text, int rating)
{
	if (rating < 0 || rating > 5)
		return mesh_error_set(MESH_EINVAL, "a rating is a whole number from 1 to 5, not %d",
				      rating);
	if (!text[0] && !rating)
		return mesh_error_set(MESH_EINVAL, "a comment needs a text or a --rating (1 to 5)");
	if (strlen(text) > MESH_CATALOG_COMMENT_MAX)
		return mesh_error_set(MESH_EINVAL, "a comment is at most %d bytes, this one is %zu",
				      MESH_CATALOG_COMMENT_MAX, strlen(text));
	return 0;
}

int mesh_catalog_comment_add(mesh_store *store, const mesh_caller *caller, const char *domain,
			     const char *textv, int rating, uint64_t *id)
{
	mesh_catalog *cat = mesh_store_catalog(store);
	const char *next_fields[2] = { NEXT_PREFIX, domain };
	char uid[16], when[24], stars[4], next[24], user[256];
	char *key = NULL, *nkey = NULL, *record = NULL;
	size_t klen, nklen, rlen;
	mesh_db_batch *batch = NULL;
	int error;

	*id = 0;
	if ((error = check_comment(textv, rating)) < 0 ||
	    (error = mesh_access_check(store, caller, domain, NULL, MESH_ACCESS_READ,
				       MESH_PRODUCT_PATH)) < 0)
		return error;
	mesh_user_name(caller ? caller->uid : 0, user, sizeof(user));
	snprintf(uid, sizeof(uid), "%u", caller ? (unsigned)caller->uid : 0u);
	snprintf(when, sizeof(when), "%lld", (long long)time(NULL));
	snprintf(stars, sizeof(stars), "%d", rating);
	const char *fields[6] = { "1", uid, user, when, stars, textv };

	pthread_mutex_lock(&cat->comment_lock);
	if ((error = next_id(store, domain, id)) == 0 &&
	    (error = comment_key(domain, *id, &key, &klen)) == 0 &&
	    (error = mesh_fields_join(next_fields, 2, &nkey, &nklen)) == 0 &&
	    (error = mesh_fields_join(fields, 6, &record, &rlen)) == 0 &&
	    (error = mesh_db_batch_new(&batch)) == 0) {
		snprintf(next, sizeof(next), "%" PRIu64, *id + 1);
		mesh_db_batch_put(batch, key, klen, record, rlen);
		mesh_db_batch_put(batch, nkey, nklen, next, strlen(next));
		error = mesh_db_batch_write(mesh_store_db(store), batch, true);
	}
	pthread_mutex_unlock(&cat->comment_lock);
	mesh_db_batch_free(batch);
	free(key);
	free(nkey);
	free(record);
	if (error < 0)
		*id = 0;
	return error;
}

static int comment_decode(const void *key, size_t klen, const void *val, size_t vlen,
			  mesh_catalog_comment *c)
{
	const char *kf[3], *vf[6];

	memset(c, 0, sizeof(*c));
	if (mesh_fields_split(key, klen, kf, 3) != 3 || mesh_fields_split(val, vlen, vf, 6) != 6 ||
	    strcmp(vf[0], "1"))
		return 0;
	c->id = strtoull(kf[2], NULL, 10);
	c->uid = (uint32_t)strtoul(vf[1], NULL, 10);
	c->time = strtoll(vf[3], NULL, 10);
	c->rating = atoi(vf[4]);
	if (!(c->user = strdup(vf[2])) || !(c->text = strdup(vf[5]))) {
		free(c->user);
		return mesh_error_oom();
	}
	return 1;
}

int mesh_catalog_comment_list(mesh_store *store, const char *domain,
			      mesh_catalog_comment **out, size_t *count)
{
	mesh_db_iter *it = NULL;
	const void *k, *v;
	char *prefix = NULL;
	size_t plen, klen, vlen, cap = 0;
	int error, more = 0;

	*out = NULL;
	*count = 0;
	if ((error = comment_key(domain, 0, &prefix, &plen)) < 0)
		return error;
	if ((error = mesh_db_iter_new(&it, mesh_store_db(store), prefix, plen)) < 0) {
		free(prefix);
		return error;
	}
	while ((more = mesh_db_iter_next(it, &k, &klen, &v, &vlen)) == 1) {
		if ((more = mesh_array_grow(out, &cap, *count, sizeof(**out))) < 0)
			break;
		if ((more = comment_decode(k, klen, v, vlen, &(*out)[*count])) < 0)
			break;
		*count += (size_t)more;
	}
	mesh_db_iter_free(it);
	free(prefix);
	if (more < 0) {
		mesh_catalog_comments_free(*out, *count);
		*out = NULL;
		*count = 0;
		return more;
	}
	return 0;
}

void mesh_catalog_comments_free(mesh_catalog_comment *comments, size_t count)
{
	for (size_t i = 0; comments && i < count; i++) {
		free(comments[i].user);
		free(comments[i].text);
	}
	free(comments);
}

int mesh_catalog_comment_remove(mesh_store *store, const mesh_caller *caller,
				const char *domain, uint64_t id)
{
	mesh_domain *d = NULL;
	mesh_catalog_comment c;
	char *key = NULL, author[256];
	void *val = NULL;
	size_t klen, vlen;
	int error, found;

	if ((error = mesh_access_check(store, caller, domain, NULL, MESH_ACCESS_SEE, NULL)) < 0 ||
	    (error = mesh_domain_get(store, domain, &d)) < 0)
		return error;
	if ((error = comment_key(domain, id, &key, &klen)) < 0 ||
	    (found = mesh_db_find(mesh_store_db(store), key, klen, &val, &vlen)) < 0) {
		error = error < 0 ? error : found;
		goto done;
	}
	if (!found || (found = comment_decode(key, klen, val, vlen, &c)) <= 0) {
		error = found < 0 ? found : mesh_error_set(MESH_ENOENT, "domain %s has no comment %"
							   PRIu64, domain, id);
		goto done;
	}
	snprintf(author, sizeof(author), "%s", c.user);
	bool mine = caller && caller->uid == c.uid;
	free(c.user);
	free(c.text);
	/* The owner and the administrator: whoever may change the domain. */
	if (!mine && mesh_access_check(store, caller, domain, NULL, MESH_ACCESS_ADMIN, NULL) < 0) {
		error = mesh_error_set(MESH_EACCES, "only the comment's author (%s), the owner of "
				       "domain %s (%s) and the store's administrator may remove "
				       "comment %" PRIu64, author, domain, d->owner, id);
		goto done;
	}
	mesh_error_clear();
	error = mesh_db_delete(mesh_store_db(store), key, klen, true);
done:
	free(val);
	free(key);
	mesh_domain_free(d);
	return error;
}

static void comment_json(mesh_json *j, const mesh_catalog_comment *c)
{
	mesh_json_object_begin(j);
	mesh_json_field_int(j, "id", (int64_t)c->id);
	mesh_json_field_string(j, "user", c->user);
	mesh_json_field_int(j, "uid", c->uid);
	mesh_json_field_int(j, "time", c->time);
	if (c->rating)
		mesh_json_field_int(j, "rating", c->rating);
	mesh_json_field_string(j, "text", c->text);
	mesh_json_object_end(j);
}

/* "rating": {"count": N, "average": X}; average 0 when nobody rated. */
static void rating_json(mesh_json *j, const mesh_catalog_comment *c, size_t n)
{
	size_t rated = 0, sum = 0;

	for (size_t i = 0; i < n; i++)
		if (c[i].rating) {
			rated++;
			sum += (size_t)c[i].rating;
		}
	mesh_json_key(j, "rating");
	mesh_json_object_begin(j);
	mesh_json_field_int(j, "count", (int64_t)rated);
	mesh_json_field_double(j, "average", rated ? (double)sum / (double)rated : 0);
	mesh_json_object_end(j);
}

int mesh_catalog_comments_json(mesh_store *store, const char *domain, mesh_json *j)
{
	mesh_catalog_comment *c = NULL;
	size_t n = 0;
	int error;

	if ((error = mesh_catalog_comment_list(store, domain, &c, &n)) < 0)
		return error;
	mesh_json_key(j, "comments");
	mesh_json_array_begin(j);
	for (size_t i = 0; i < n; i++)
		comment_json(j, &c[i]);
	mesh_json_array_end(j);
	rating_json(j, c, n);
	mesh_catalog_comments_free(c, n);
	return 0;
}

/* --- the commands -------------------------------------------------------- */

#define SEARCH_USAGE "catalog search WORD... [--limit N] [--json]"
#define COMMENT_USAGE "catalog comment DOMAIN [TEXT] [--rating 1-5]"
#define CATALOG_USAGE SEARCH_USAGE " | " COMMENT_USAGE " | catalog comments DOMAIN" \
	" | catalog uncomment DOMAIN ID"

static int parse_count(const char *what, const char *textv, uint64_t min, uint64_t max,
		       uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(textv, &end, 10);
	if (!*textv || *end || errno || *textv < '0' || *textv > '9' || *out < min || *out > max)
		return mesh_error_set(MESH_EINVAL, "%s '%s' is not a whole number from %" PRIu64
				      " to %" PRIu64, what, textv, min, max);
	return 0;
}

static void hit_json(mesh_cmd *cmd, const mesh_catalog_hit *h, int64_t now)
{
	mesh_json *j = &cmd->json;
	mesh_domain *d = NULL;
	int64_t age = now - h->commit_time;

	mesh_json_object_begin(j);
	mesh_json_field_string(j, "domain", h->domain);
	if (h->name)
		mesh_json_field_string(j, "name", h->name);
	if (h->id)
		mesh_json_field_string(j, "id", h->id);
	if (h->status)
		mesh_json_field_string(j, "status", h->status);
	/* A domain without a card is its record's: owner from there. */
	if (h->owner)
		mesh_json_field_string(j, "owner", h->owner);
	else if (mesh_domain_get(cmd->env->store, h->domain, &d) == 0)
		mesh_json_field_string(j, "owner", d->owner);
	mesh_error_clear();
	mesh_domain_free(d);
	mesh_json_field_string(j, "description", h->description ? h->description : "");
	mesh_json_key(j, "tags");
	mesh_json_array_begin(j);
	for (size_t i = 0; i < h->tag_count; i++)
		mesh_json_string(j, h->tags[i]);
	mesh_json_array_end(j);
	if (h->card_error)
		mesh_json_field_string(j, "card_error", h->card_error);
	mesh_json_field_string(j, "branch", h->branch);
	mesh_cmd_json_oid(j, "commit", &h->commit);
	mesh_json_field_int(j, "commit_time", h->commit_time);
	mesh_json_field_int(j, "age_seconds", age);
	mesh_json_field_int(j, "freshness_seconds", h->freshness);
	mesh_json_field_string(j, "freshness", !h->freshness ? "none" :
			       age <= h->freshness ? "fresh" : "stale");
	mesh_json_field_int(j, "contracts", h->contracts);
	mesh_json_field_string(j, "contract_status", h->contract_status);
	if (h->contract_detail)
		mesh_json_field_string(j, "contract_detail", h->contract_detail);
	mesh_lineage_consumers_json(cmd->env->store, cmd->caller, h->domain, j);
	mesh_json_field_int(j, "readers", h->readers);
	mesh_json_field_int(j, "read_opens", (int64_t)h->read_opens);
	/* The order tells the score; its numbers are not shown: bm25's
	 * statistics cover every product indexed, hidden ones too. */
	mesh_json_field_double(j, "usage", h->usage);
	mesh_catalog_comments_json(cmd->env->store, h->domain, j);
	mesh_error_clear();
	mesh_json_object_end(j);
}

static int catalog_search(mesh_cmd *cmd)
{
	const char *pos[64], *limit_text = NULL;
	bool json = false;
	size_t npos = 0, count = 0, total = 0;
	uint64_t limit = MESH_CATALOG_LIMIT;
	mesh_cmd_opt opts[] = {
		{ "--limit", NULL, &limit_text, NULL },
		{ "--json", NULL, NULL, &json },
	};
	mesh_catalog_hit *hits = NULL;
	int error;

	if ((error = mesh_cmd_parse_opts(cmd, 2, opts, 2, pos, 64, &npos, NULL)) < 0)
		return error;
	if (npos == 0)
		return mesh_error_set(MESH_EINVAL, "usage: %s", SEARCH_USAGE);
	if (limit_text && (error = parse_count("--limit", limit_text, 1, MESH_CATALOG_LIMIT_MAX,
					       &limit)) < 0)
		return error;
	if ((error = mesh_catalog_search(cmd->env->store, cmd->caller, pos, npos, (size_t)limit,
					 &hits, &count, &total)) < 0)
		return error;
	int64_t now = (int64_t)time(NULL);
	mesh_json_key(&cmd->json, "query");
	mesh_json_array_begin(&cmd->json);
	for (size_t i = 0; i < npos; i++)
		mesh_json_string(&cmd->json, pos[i]);
	mesh_json_array_end(&cmd->json);
	mesh_json_field_int(&cmd->json, "total", (int64_t)total);
	mesh_json_field_int(&cmd->json, "usage_days", MESH_CATALOG_USAGE_DAYS);
	mesh_json_key(&cmd->json, "hits");
	mesh_json_array_begin(&cmd->json);
	for (size_t i = 0; i < count; i++)
		hit_json(cmd, &hits[i], now);
	mesh_json_array_end(&cmd->json);
	mesh_catalog_hits_free(hits, count);
	return 0;
}

static int catalog_comment(mesh_cmd *cmd)
{
	const char *pos[2], *rating_text = NULL;
	size_t npos = 0;
	uint64_t rating = 0, id;
	mesh_cmd_opt opts[] = { { "--rating", NULL, &rating_text, NULL } };
	int error;

	if ((error = mesh_cmd_parse_opts(cmd, 2, opts, 1, pos, 2, &npos, NULL)) < 0)
		return error;
	if (npos < 1 || (npos == 1 && !rating_text))
		return mesh_error_set(MESH_EINVAL, "usage: %s (a text, a rating or both)",
				      COMMENT_USAGE);
	if (rating_text && (error = parse_count("rating", rating_text, 1, 5, &rating)) < 0)
		return error;
	if ((error = mesh_catalog_comment_add(cmd->env->store, cmd->caller, pos[0],
					      npos > 1 ? pos[1] : "", (int)rating, &id)) < 0)
		return error;
	mesh_json_field_string(&cmd->json, "domain", pos[0]);
	mesh_json_field_int(&cmd->json, "id", (int64_t)id);
	return mesh_catalog_comments_json(cmd->env->store, pos[0], &cmd->json);
}

static int catalog_comments(mesh_cmd *cmd)
{
	const char *pos[1];
	size_t npos = 0;
	int error;

	if ((error = mesh_cmd_parse_opts(cmd, 2, NULL, 0, pos, 1, &npos, NULL)) < 0 ||
	    (error = mesh_cmd_need_positional(cmd, npos, 1, "catalog comments DOMAIN")) < 0 ||
	    (error = mesh_access_check(cmd->env->store, cmd->caller, pos[0], NULL,
				       MESH_ACCESS_READ, MESH_PRODUCT_PATH)) < 0)
		return error;
	mesh_json_field_string(&cmd->json, "domain", pos[0]);
	return mesh_catalog_comments_json(cmd->env->store, pos[0], &cmd->json);
}

static int catalog_uncomment(mesh_cmd *cmd)
{
	const char *pos[2];
	size_t npos = 0;
	uint64_t id;
	int error;

	if ((error = mesh_cmd_parse_opts(cmd, 2, NULL, 0, pos, 2, &npos, NULL)) < 0 ||
	    (error = mesh_cmd_need_positional(cmd, npos, 2, "catalog uncomment DOMAIN ID")) < 0 ||
	    (error = parse_count("comment id", pos[1], 1, UINT64_MAX, &id)) < 0 ||
	    (error = mesh_catalog_comment_remove(cmd->env->store, cmd->caller, pos[0], id)) < 0)
		return error;
	mesh_json_field_string(&cmd->json, "domain", pos[0]);
	mesh_json_field_int(&cmd->json, "removed", (int64_t)id);
	return mesh_catalog_comments_json(cmd->env->store, pos[0], &cmd->json);
}

static int cmd_catalog(mesh_cmd *cmd)
{
	const char *sub = cmd->argc >= 2 ? cmd->argv[1] : "";

	if (!strcmp(sub, "search"))
		return catalog_search(cmd);
	if (!strcmp(sub, "comment"))
		return catalog_comment(cmd);
	if (!strcmp(sub, "comments"))
		return catalog_comments(cmd);
	if (!strcmp(sub, "uncomment"))
		return catalog_uncomment(cmd);
	return mesh_error_set(MESH_EINVAL, "usage: %s", CATALOG_USAGE);
}

const mesh_cmd_spec mesh_catalog_cmd_spec = {
	"catalog", cmd_catalog, CATALOG_USAGE,
	"search the data products; comment on and rate a product's card",
};
