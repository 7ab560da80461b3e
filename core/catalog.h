/*
 * catalog.h - the searchable catalog of data products, and the comments
 * and ratings consumers leave on a product's card.
 *
 * The search index is a derived, local cache: STORE/catalog.sqlite, an
 * SQLite FTS5 table of what each domain's default branch says of itself
 * at its head (the card's fields, its contracts' column names and
 * descriptions, the top-level paths of the tree), rebuilt from the
 * store whenever it is missing or of another layout.  Shared truth stays
 * in the metadata database: the index records, per domain, the head it
 * was built from, and every search first compares those with the heads
 * of the refs (one pass over the refs, skipped while the database has
 * not been written since the last comparison), and reindexes only the
 * domains whose head moved (reading their records then).
 * So a head moved by any process or path is seen by the next search,
 * and no head move waits on SQLite.
 *
 * Comments live in the metadata database (db.h), prefix "n/":
 *   "n/c" \0 domain \0 ID   one comment: fields "1", uid, user, time,
 *                           rating (0: none), text (mesh_fields_join);
 *                           ID is 16 decimal digits, so keys sort by id
 *   "n/i" \0 domain \0      the domain's next comment id
 */
#ifndef MESH_CATALOG_H
#define MESH_CATALOG_H

#include <stddef.h>
#include <stdint.h>
#include "cmd.h"
#include "json.h"
#include "store.h"

/* The index file in the store directory. */
#define MESH_CATALOG_FILE "catalog.sqlite"
/* Days of reads that weigh a product (the audit log's usage counters). */
#define MESH_CATALOG_USAGE_DAYS 30
/* Hits answered by default, and at most. */
#define MESH_CATALOG_LIMIT 20
#define MESH_CATALOG_LIMIT_MAX 1000
/* The longest comment, in bytes. */
#define MESH_CATALOG_COMMENT_MAX 4000

typedef struct mesh_catalog mesh_catalog;

/* The catalog of the store at store_path; the index is opened (or built)
 * at the first search.  Each store handle has one (mesh_store_catalog). */
int mesh_catalog_new(mesh_catalog **out, const char *store_path);
void mesh_catalog_free(mesh_catalog *catalog);

/* One product found.  Strings are malloc'd (NULL when the card has no
 * such field); freed with mesh_catalog_hits_free. */
typedef struct mesh_catalog_hit {
	char *domain, *branch;
	char *name, *id, *status, *owner, *description;
	char **tags;
	size_t tag_count;
	char *card_error;         /* the card is there but invalid */
	mesh_oid commit;          /* the default branch's head */
	int64_t commit_time;
	int64_t freshness;        /* seconds the contracts promise (the least); 0: none */
	uint32_t contracts;
	char *contract_status;    /* "none", "held", "broken", "invalid", "unchecked" */
	char *contract_detail;    /* the first broken rule, or why unchecked; may be NULL */
	uint32_t readers;         /* distinct readers over MESH_CATALOG_USAGE_DAYS */
	uint64_t read_opens;
	double relevance;         /* -bm25: higher is better */
	double usage;             /* readers * ln(1 + read_opens) */
	double score;             /* relevance * (1 + usage) */
} mesh_catalog_hit;

/*
 * The products caller may read (mesh_access_may_read of the card's path)
 * whose indexed text holds every word (a prefix of a token, case and
 * diacritics folded), best score first, at most limit of them; *total
 * counts them all.  The index is brought up to date first.  MESH_EINVAL
 * when no word holds a letter or digit.
 */
int mesh_catalog_search(mesh_store *store, const mesh_caller *caller,
			const char *const *words, size_t nwords, size_t limit,
			mesh_catalog_hit **hits, size_t *count, size_t *total);
void mesh_catalog_hits_free(mesh_catalog_hit *hits, size_t count);

/* Brings the index up to the heads of the store now; *reindexed (may be
 * NULL) counts the domains (re)indexed or dropped. */
int mesh_catalog_refresh(mesh_store *store, size_t *reindexed);

typedef struct mesh_catalog_comment {
	uint64_t id;
	uint32_t uid;
	char *user;
	int64_t time;
	int rating;               /* 1 to 5, 0: none */
	char *text;               /* "" for a rating alone */
} mesh_catalog_comment;

/* A comment (text, may be empty when rating is 1 to 5; rating 0: none)
 * by caller on domain, who must be allowed to read it; *id its number.
 * One synced write. */
int mesh_catalog_comment_add(mesh_store *store, const mesh_caller *caller, const char *domain,
			     const char *text, int rating, uint64_t *id);
/* The comments of domain, oldest first (no access check: the caller's
 * command made it).  Free with mesh_catalog_comments_free. */
int mesh_catalog_comment_list(mesh_store *store, const char *domain,
			      mesh_catalog_comment **out, size_t *count);
void mesh_catalog_comments_free(mesh_catalog_comment *comments, size_t count);
/* Removes comment id of domain: its author, the domain's owner and the
 * store's administrator may; others MESH_EACCES naming the rule. */
int mesh_catalog_comment_remove(mesh_store *store, const mesh_caller *caller,
				const char *domain, uint64_t id);
/* "comments": [...] and "rating": {"count": N, "average": X} of domain,
 * for a card's answer (product show, .product.json). */
int mesh_catalog_comments_json(mesh_store *store, const char *domain, mesh_json *j);

/* "catalog search|comment|comments|uncomment ...". */
extern const mesh_cmd_spec mesh_catalog_cmd_spec;

#endif
