/* test_catalog.c - the catalog: products found by their card, contract
 * columns and paths; the index following a card's change and a domain's
 * creation, also across store handles; ranking by readers; restricted
 * products hidden from outsiders; comments, ratings and who removes them. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "audit.h"
#include "branch.h"
#include "catalog.h"
#include "control.h"
#include "domain.h"
#include "error.h"
#include "product.h"
#include "store.h"
#include "view.h"

#define OWNER_UID 5001
#define READER_UID 5003
#define OTHER_UID 5004
#define READERS_GID 24     /* cdrom: a group that exists, as settings need */

static const gid_t reader_gids[] = { 100, READERS_GID };
static const gid_t no_gids[] = { 100 };

typedef struct groups {
	const gid_t *gids;
	int count;
} groups;

static const groups reader_groups = { reader_gids, 2 };
static const groups no_groups = { no_gids, 1 };

static int fake_groups(const void *source, gid_t *out, int max)
{
	const groups *g = source;
	int n = g->count < max ? g->count : max;

	memcpy(out, g->gids, (size_t)n * sizeof(gid_t));
	return n;
}

static char *tmp;
static mesh_store *store;
static mesh_caller admin, owner, reader, other;
static mesh_control_env env;
static test_views views;

static mesh_caller fake_caller(uid_t uid, const groups *g)
{
	mesh_caller c = { .uid = uid, .gid = 100, .pid = 1, .groups_of = fake_groups, .source = g };
	return c;
}

static void setup(void)
{
	tmp = test_tmpdir_new();
	store = test_store_new(tmp, &admin, NULL);
	owner = fake_caller(OWNER_UID, &no_groups);
	reader = fake_caller(READER_UID, &reader_groups);
	other = fake_caller(OTHER_UID, &no_groups);
	test_views_env(&views, store, &env);
}

static void teardown(void)
{
	test_views_free(&views);
	mesh_store_close(store);
	test_tmpdir_remove(tmp);
}

static void make_domain(const char *name, bool restricted, const char *description)
{
	mesh_domain_opts opts = { .description = description, .protect_main = 0,
		.has_readers = restricted, .readers_gid = READERS_GID, .restricted = restricted };

	ck_assert_int_eq(mesh_domain_create_with(store, &owner, name, &opts), 0);
}

/* Stages files (path, content pairs, NULL-ended) on DOMAIN/main and commits. */
static void commit_files(const char *domain, ...)
{
	mesh_view *view;
	const char *path;
	va_list ap;

	ck_assert_int_eq(mesh_view_open_branch(&view, store, domain, "main"), 0);
	va_start(ap, domain);
	while ((path = va_arg(ap, const char *))) {
		const char *content = va_arg(ap, const char *);
		char dir[256];
		const char *slash = path;
		while ((slash = strchr(slash, '/'))) {
			snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
			int rc = mesh_view_mkdir(view, &owner, dir, 0755);
			ck_assert(rc == 0 || rc == MESH_EEXIST);
			slash++;
		}
		test_stage_file(store, view, &owner, path, content, strlen(content));
	}
	va_end(ap);
	test_commit(view, &owner);
	mesh_view_free(view);
}

static char card_buf[4][1024];

/* A card of name with a description; at most four live at a time. */
static const char *card(const char *id, const char *name, const char *description)
{
	static unsigned next;
	char *buf = card_buf[next++ % 4];

	snprintf(buf, sizeof(card_buf[0]), "id: %s\nname: %s\nstatus: active\nowner: alice\n"
		 "description: %s\ntags: [sales, daily]\n", id, name, description);
	return buf;
}

static const char contract[] =
	"apiVersion: v3.0.2\nkind: DataContract\nname: shipments\n"
	"servers:\n  - server: lake\n    type: local\n    path: data/*.csv\n    format: csv\n"
	"schema:\n  - name: shipments\n    properties:\n"
	"      - name: parcel_weight_grams\n        description: what the scale said\n"
	"      - name: carrier\n        required: true\n"
	"slaProperties:\n  - property: freshness\n    value: 2\n    unit: h\n";

/* The domains of a search's hits, comma-separated, and the total. */
static const char *search(const mesh_caller *who, const char *words, size_t *total)
{
	static char out[512];
	const char *w[8];
	char copy[256], *save = NULL;
	size_t n = 0, count = 0, all = 0;
	mesh_catalog_hit *hits = NULL;

	snprintf(copy, sizeof(copy), "%s", words);
	for (char *t = strtok_r(copy, " ", &save); t && n < 8; t = strtok_r(NULL, " ", &save))
		w[n++] = t;
	ck_assert_msg(mesh_catalog_search(store, who, w, n, 20, &hits, &count, &all) == 0,
		      "search '%s': %s", words, mesh_error_message());
	out[0] = '\0';
	for (size_t i = 0; i < count; i++)
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", i ? "," : "",
			 hits[i].domain);
	mesh_catalog_hits_free(hits, count);
	if (total)
		*total = all;
	return out;
}

static int run_as(const mesh_caller *who, const char *line, char **answer)
{
	return test_views_run(&views, &env, who, line, answer);
}

static const char *ok_as(const mesh_caller *who, const char *line)
{
	char *answer;
	int error = run_as(who, line, &answer);

	ck_assert_msg(error == 0, "[%s] failed: %s", line, answer);
	return answer;
}

static void fails_as(const mesh_caller *who, const char *line, int code, const char *in_message)
{
	char *answer;
	int error = run_as(who, line, &answer);

	ck_assert_msg(error == code, "[%s] gave %d, want %d: %s", line, error, code, answer);
	ck_assert_msg(strstr(answer, in_message), "[%s] answer lacks [%s]: %s", line, in_message,
		      answer);
}

START_TEST(finds_by_card_contract_column_and_path)
{
	size_t total;

	make_domain("logistics", false, "");
	make_domain("sales", false, "");
	make_domain("plain", false, "raw feeds from the warehouse robots");
	commit_files("logistics", ".mesh/product.yaml", card("urn:l", "Shipments", "parcels sent"),
		     ".mesh/contracts/shipments.yaml", contract,
		     "data/s.csv", "parcel_weight_grams,carrier\n120,dhl\n",
		     "manifests/m.txt", "x", NULL);
	commit_files("sales", ".mesh/product.yaml", card("urn:s", "Orders", "every order"), NULL);

	/* A contract's column, a word of a column's description, a prefix. */
	ck_assert_str_eq(search(&admin, "parcel_weight_grams", &total), "logistics");
	ck_assert_uint_eq(total, 1);
	ck_assert_str_eq(search(&admin, "scale", NULL), "logistics");
	ck_assert_str_eq(search(&admin, "weig", NULL), "logistics");
	/* A top-level path, the card's name folded in case, its tags. */
	ck_assert_str_eq(search(&admin, "manifests", NULL), "logistics");
	ck_assert_str_eq(search(&admin, "ORDERS", NULL), "sales");
	ck_assert(strstr(search(&admin, "daily", &total), "logistics"));
	ck_assert_uint_eq(total, 2);
	/* Every word must be there. */
	ck_assert_str_eq(search(&admin, "daily carrier", NULL), "logistics");
	ck_assert_str_eq(search(&admin, "daily nowhere", &total), "");
	ck_assert_uint_eq(total, 0);
	/* A domain without a card: found by its record's description. */
	ck_assert_str_eq(search(&admin, "robots", NULL), "plain");
	/* Words that are FTS5 syntax are words. */
	ck_assert_str_eq(search(&admin, "NOT", NULL), "");
	ck_assert_str_eq(search(&admin, "\"orders", NULL), "sales");

	const char *answer = ok_as(&admin, "catalog search parcel --json");
	ck_assert_ptr_nonnull(strstr(answer, "\"contracts\":1,\"contract_status\":\"held\""));
	ck_assert_ptr_nonnull(strstr(answer, "\"freshness_seconds\":7200,\"freshness\":\"fresh\""));
	ck_assert_ptr_nonnull(strstr(answer, "\"owner\":\"alice\""));
	ck_assert_ptr_nonnull(strstr(answer, "\"tags\":[\"sales\",\"daily\"]"));
	fails_as(&admin, "catalog search ---", MESH_EINVAL, "unknown argument");
	fails_as(&admin, "catalog search", MESH_EINVAL, "usage: catalog search");
	fails_as(&admin, "catalog search x --limit 0", MESH_EINVAL, "--limit");
	fails_as(&admin, "catalog find x", MESH_EINVAL, "usage: catalog search");
}
END_TEST

START_TEST(broken_contract_shows_in_the_hit)
{
	make_domain("logistics", false, "");
	/* carrier is required: a null in it breaks the contract.  The gate
	 * checks against the head's contracts, so the contract comes first. */
	commit_files("logistics", ".mesh/contracts/shipments.yaml", contract, NULL);
	char *answer;
	commit_files("logistics", "data/s.csv", "parcel_weight_grams,carrier\n120,dhl\n", NULL);
	answer = (char *)ok_as(&admin, "catalog search carrier");
	ck_assert_ptr_nonnull(strstr(answer, "\"contract_status\":\"held\""));
	/* A contract made stricter after the data was committed. */
	const char *strict = "apiVersion: v3.0.2\nkind: DataContract\nname: shipments\n"
		"servers:\n  - server: lake\n    type: local\n    path: data/*.csv\n"
		"    format: csv\nschema:\n  - name: shipments\n    properties:\n"
		"      - name: carrier\n        logicalType: integer\n";
	commit_files("logistics", ".mesh/contracts/shipments.yaml", strict, NULL);
	answer = (char *)ok_as(&admin, "catalog search carrier");
	ck_assert_msg(strstr(answer, "\"contract_status\":\"broken\""), "%s", answer);
	ck_assert_msg(strstr(answer, "column carrier: logicalType"), "%s", answer);
}
END_TEST

START_TEST(index_follows_card_changes_and_new_domains)
{
	size_t changed;

	make_domain("alpha", false, "");
	commit_files("alpha", ".mesh/product.yaml", card("urn:a", "Alpha", "tulips"), NULL);
	ck_assert_str_eq(search(&admin, "tulips", NULL), "alpha");
	ck_assert_int_eq(mesh_catalog_refresh(store, &changed), 0);
	ck_assert_uint_eq(changed, 0);

	/* The card changes on the default branch: the next search sees it,
	 * and only that domain is indexed again. */
	make_domain("beta", false, "");
	commit_files("alpha", ".mesh/product.yaml", card("urn:a", "Alpha", "roses"), NULL);
	ck_assert_int_eq(mesh_catalog_refresh(store, &changed), 0);
	ck_assert_uint_eq(changed, 2);
	ck_assert_str_eq(search(&admin, "roses", NULL), "alpha");
	ck_assert_str_eq(search(&admin, "tulips", NULL), "");

	/* A change on another branch is not the product's. */
	mesh_oid head;
	mesh_view *view;
	ck_assert_int_eq(mesh_branch_create(store, &owner, "alpha", "dev", "main", &head), 0);
	ck_assert_int_eq(mesh_view_open_branch(&view, store, "alpha", "dev"), 0);
	const char *c = card("urn:a", "Alpha", "daisies");
	test_stage_file(store, view, &owner, ".mesh/product.yaml", c, strlen(c));
	test_commit(view, &owner);
	mesh_view_free(view);
	ck_assert_str_eq(search(&admin, "daisies", NULL), "");

	/* Another handle (the CLI after the daemon, say) moves a head: the
	 * index file remembers what it indexed and sees the move. */
	test_views_free(&views);
	mesh_store_close(store);
	ck_assert_int_eq(mesh_store_open(&store, tmp, NULL), 0);
	test_views_env(&views, store, &env);
	commit_files("alpha", ".mesh/product.yaml", card("urn:a", "Alpha", "lilies"), NULL);
	test_views_free(&views);
	mesh_store_close(store);
	ck_assert_int_eq(mesh_store_open(&store, tmp, NULL), 0);
	test_views_env(&views, store, &env);
	ck_assert_int_eq(mesh_catalog_refresh(store, &changed), 0);
	ck_assert_uint_eq(changed, 1);
	ck_assert_str_eq(search(&admin, "lilies", NULL), "alpha");
	ck_assert_str_eq(search(&admin, "roses", NULL), "");

	/* A domain gone from the refs (there is no domain delete yet; its
	 * refs are what a removal would take) leaves the index. */
	mesh_refdb *refs = mesh_store_refs(store);
	ck_assert_int_eq(mesh_ref_delete(refs, "alpha", "heads/main", NULL), 0);
	ck_assert_int_eq(mesh_ref_delete(refs, "alpha", "heads/dev", NULL), 0);
	ck_assert_str_eq(search(&admin, "lilies", NULL), "");
	ck_assert_int_eq(mesh_catalog_refresh(store, &changed), 0);
	ck_assert_uint_eq(changed, 0);
}
END_TEST

START_TEST(damaged_index_is_rebuilt)
{
	char path[4096];
	FILE *f;

	make_domain("alpha", false, "");
	commit_files("alpha", ".mesh/product.yaml", card("urn:a", "Alpha", "tulips"), NULL);
	ck_assert_str_eq(search(&admin, "tulips", NULL), "alpha");
	test_views_free(&views);
	mesh_store_close(store);
	snprintf(path, sizeof(path), "%s/" MESH_CATALOG_FILE, tmp);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs("not a database at all, just some bytes that are not SQLite's header", f);
	fclose(f);
	ck_assert_int_eq(mesh_store_open(&store, tmp, NULL), 0);
	test_views_env(&views, store, &env);
	ck_assert_str_eq(search(&admin, "tulips", NULL), "alpha");
}
END_TEST

static void read_by(uid_t uid, const char *domain, int opens)
{
	mesh_caller c = fake_caller(uid, &no_groups);
	mesh_audit_event e = { .op = "read", .domain = domain, .ref = "main",
			       .path = "data/x.csv", .bytes = 10 };

	for (int i = 0; i < opens; i++)
		ck_assert_int_eq(mesh_audit_record(mesh_store_audit(store), &c, &e), 0);
}

START_TEST(readers_rank_a_product_first)
{
	/* Worded alike, names of one length: bm25 cannot tell them apart. */
	make_domain("prodx", false, "");
	make_domain("prody", false, "");
	commit_files("prodx", ".mesh/product.yaml", card("urn:x", "Weather", "rain and sun"), NULL);
	commit_files("prody", ".mesh/product.yaml", card("urn:y", "Weather", "rain and sun"), NULL);
	ck_assert_str_eq(search(&admin, "rain", NULL), "prodx,prody");

	read_by(6001, "prody", 1);
	read_by(6002, "prody", 2);
	ck_assert_str_eq(search(&admin, "rain", NULL), "prody,prodx");
	const char *answer = ok_as(&admin, "catalog search rain");
	ck_assert_msg(strstr(answer, "\"domain\":\"prody\""), "%s", answer);
	ck_assert_ptr_nonnull(strstr(answer, "\"readers\":2,\"read_opens\":3"));

	/* A stronger match still needs readers to beat one that has them:
	 * one reader of prodx, once, is less than two readers of prody. */
	read_by(6003, "prodx", 1);
	ck_assert_str_eq(search(&admin, "rain", NULL), "prody,prodx");
	/* Many more opens of prodx by a second reader overtake prody. */
	read_by(6004, "prodx", 30);
	ck_assert_str_eq(search(&admin, "rain", NULL), "prodx,prody");
}
END_TEST

START_TEST(restricted_products_stay_hidden)
{
	size_t total;

	make_domain("hr", true, "salaries of everyone");
	make_domain("pub", false, "salaries, averaged");
	commit_files("hr", ".mesh/product.yaml", card("urn:hr", "Payroll", "salaries"), NULL);

	ck_assert_str_eq(search(&other, "salaries", &total), "pub");
	ck_assert_uint_eq(total, 1);
	ck_assert_str_eq(search(&other, "payroll", &total), "");
	ck_assert_uint_eq(total, 0);
	ck_assert_str_eq(search(&reader, "payroll", &total), "hr");
	ck_assert(strstr(search(&owner, "salaries", &total), "hr"));
	ck_assert_uint_eq(total, 2);
	ck_assert(strstr(search(&admin, "salaries", &total), "hr"));
	ck_assert_uint_eq(total, 2);
	char *answer = (char *)ok_as(&other, "catalog search salaries");
	ck_assert_msg(!strstr(answer, "hr") && strstr(answer, "\"total\":1"), "%s", answer);

	/* Nor are its comments anyone else's business. */
	ok_as(&reader, "catalog comment hr 'fine'");
	fails_as(&other, "catalog comment hr 'let me in'", MESH_ENOENT, "domain hr does not exist");
	fails_as(&other, "catalog comments hr", MESH_ENOENT, "domain hr does not exist");
	fails_as(&other, "catalog uncomment hr 1", MESH_ENOENT, "domain hr does not exist");
}
END_TEST

START_TEST(comments_ratings_and_their_rights)
{
	char *answer, *file = NULL;
	size_t len;

	make_domain("sales", false, "");
	commit_files("sales", ".mesh/product.yaml", card("urn:s", "Orders", "every order"), NULL);

	answer = (char *)ok_as(&reader, "catalog comment sales 'clean and complete' --rating 5");
	ck_assert_msg(strstr(answer, "\"id\":1"), "%s", answer);
	ok_as(&other, "catalog comment sales --rating 2");
	ok_as(&other, "catalog comment sales 'where is 2025?'");
	answer = (char *)ok_as(&other, "catalog comments sales");
	ck_assert_msg(strstr(answer, "\"rating\":{\"count\":2,\"average\":3.5}"), "%s", answer);
	ck_assert_ptr_nonnull(strstr(answer, "\"id\":3,\"user\":\"uid5004\",\"uid\":5004"));
	ck_assert_ptr_nonnull(strstr(answer, "\"text\":\"clean and complete\""));

	/* Bad input changes nothing. */
	fails_as(&other, "catalog comment sales 'x' --rating 6", MESH_EINVAL, "1 to 5");
	fails_as(&other, "catalog comment sales 'x' --rating 0", MESH_EINVAL, "1 to 5");
	fails_as(&other, "catalog comment sales 'x' --rating 4.5", MESH_EINVAL, "1 to 5");
	fails_as(&other, "catalog comment sales ''", MESH_EINVAL, "a text or a --rating");
	fails_as(&other, "catalog comment sales", MESH_EINVAL, "usage: catalog comment");
	fails_as(&other, "catalog comment nowhere 'hi'", MESH_ENOENT, "domain nowhere does not exist");
	fails_as(&other, "catalog uncomment sales 99", MESH_ENOENT, "no comment 99");
	fails_as(&other, "catalog uncomment sales x", MESH_EINVAL, "comment id");
	char big[MESH_CATALOG_COMMENT_MAX + 64];
	memset(big, 'a', sizeof(big));
	memcpy(big, "catalog comment sales ", 22);
	big[sizeof(big) - 1] = '\0';
	fails_as(&other, big, MESH_EINVAL, "at most");
	answer = (char *)ok_as(&other, "catalog comments sales");
	ck_assert_msg(strstr(answer, "\"count\":2,\"average\":3.5") && !strstr(answer, "\"id\":4"),
		      "%s", answer);

	/* The card shows them: product show and .product.json. */
	answer = (char *)ok_as(&other, "product show sales");
	ck_assert_msg(strstr(answer, "\"comments\":[{\"id\":1,") &&
		      strstr(answer, "\"rating\":{\"count\":2,\"average\":3.5}"), "%s", answer);
	ck_assert_int_eq(mesh_product_file(store, &other, "sales", &file, &len), 0);
	ck_assert_msg(strstr(file, "\"text\":\"where is 2025?\""), "%s", file);
	free(file);

	/* Removed by its author, the owner, the administrator; not another. */
	fails_as(&other, "catalog uncomment sales 1", MESH_EACCES,
		 "only the comment's author (uid5003), the owner of domain sales");
	ok_as(&reader, "catalog uncomment sales 1");
	ok_as(&owner, "catalog uncomment sales 2");
	answer = (char *)ok_as(&admin, "catalog uncomment sales 3");
	ck_assert_msg(strstr(answer, "\"comments\":[]") &&
		      strstr(answer, "\"rating\":{\"count\":0,\"average\":0}"), "%s", answer);
	/* Ids are never given again. */
	answer = (char *)ok_as(&other, "catalog comment sales 'again'");
	ck_assert_msg(strstr(answer, "\"id\":4"), "%s", answer);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("catalog");
	TCase *tc = tcase_create("catalog");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, finds_by_card_contract_column_and_path);
	tcase_add_test(tc, broken_contract_shows_in_the_hit);
	tcase_add_test(tc, index_follows_card_changes_and_new_domains);
	tcase_add_test(tc, damaged_index_is_rebuilt);
	tcase_add_test(tc, readers_rank_a_product_first);
	tcase_add_test(tc, restricted_products_stay_hidden);
	tcase_add_test(tc, comments_ratings_and_their_rights);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
