/* test_history.c - ref expressions and log walks of a domain. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "domain.h"
#include "error.h"
#include "file.h"
#include "history.h"
#include "store.h"
#include "view.h"

static char *tmp;
static mesh_store *store;
static mesh_caller caller;
/* sales/main: root <- c1 <- c2 <- c3 (head) */
static mesh_oid root, c1, c2, c3;

static mesh_oid commit_file(mesh_view *view, const char *path, const char *content)
{
	mesh_oid map, id;
	size_t changes;

	ck_assert_int_eq(mesh_file_write_buf(mesh_store_odb(store), NULL, content,
					     strlen(content), &map), 0);
	ck_assert_int_eq(mesh_view_stage_content(view, &caller, path, MESH_KIND_FILE,
						 0644, strlen(content), 0, &map,
						 false), 0);
	ck_assert_int_eq(mesh_view_commit(view, &caller, path, NULL, 0, &id,
					  &changes), 0);
	return id;
}

static void setup(void)
{
	mesh_view *view;

	tmp = test_tmpdir_new();
	store = test_store_new(tmp, &caller, "sales");
	ck_assert_int_eq(mesh_history_branch_head(store, "sales", "main", &root), 0);
	ck_assert_int_eq(mesh_view_open_branch(&view, store, "sales", "main"), 0);
	c1 = commit_file(view, "one", "1");
	c2 = commit_file(view, "two", "2");
	c3 = commit_file(view, "three", "3");
	mesh_view_free(view);
}

static void teardown(void)
{
	mesh_store_close(store);
	test_tmpdir_remove(tmp);
}

static void hex_of(const mesh_oid *id, char out[MESH_OID_HEXSZ + 1])
{
	mesh_oid_fmt(out, id);
}

static void assert_resolves(const char *spec, const mesh_oid *want)
{
	mesh_rev rev;
	int error = mesh_revparse(store, "sales", spec, &rev);

	ck_assert_msg(error == 0, "revparse %s: %d %s", spec, error, mesh_error_message());
	ck_assert_msg(mesh_oid_cmp(&rev.commit, want) == 0, "%s resolved elsewhere", spec);
}

static void assert_fails(const char *spec, int code)
{
	mesh_rev rev;
	int error = mesh_revparse(store, "sales", spec, &rev);

	ck_assert_msg(error == code, "revparse '%s' gave %d (%s), want %d",
		      spec, error, mesh_error_message(), code);
}

START_TEST(branch_head)
{
	mesh_oid head;
	mesh_rev rev;

	ck_assert_int_eq(mesh_history_branch_head(store, "sales", "main", &head), 0);
	ck_assert_int_eq(mesh_oid_cmp(&head, &c3), 0);
	ck_assert_int_eq(mesh_revparse(store, "sales", "main", &rev), 0);
	ck_assert_int_eq(mesh_oid_cmp(&rev.commit, &c3), 0);
	ck_assert(rev.is_branch);
	ck_assert_str_eq(rev.branch, "main");
}
END_TEST

START_TEST(missing_branch_names_domain_and_branch)
{
	mesh_oid head;

	ck_assert_int_eq(mesh_history_branch_head(store, "sales", "dev", &head), MESH_ENOENT);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "dev"));
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "sales"));
	ck_assert_int_eq(mesh_history_branch_head(store, "nodomain", "main", &head),
			 MESH_ENOENT);
}
END_TEST

START_TEST(full_id_and_abbreviations)
{
	char hex[MESH_OID_HEXSZ + 1], prefix[16];
	mesh_rev rev;

	hex_of(&c2, hex);
	ck_assert_int_eq(mesh_revparse(store, "sales", hex, &rev), 0);
	ck_assert_int_eq(mesh_oid_cmp(&rev.commit, &c2), 0);
	ck_assert(!rev.is_branch);

	snprintf(prefix, sizeof(prefix), "%.8s", hex);
	assert_resolves(prefix, &c2);
	snprintf(prefix, sizeof(prefix), "%.9s", hex);   /* odd length */
	assert_resolves(prefix, &c2);
	snprintf(prefix, sizeof(prefix), "%.12s", hex);
	assert_resolves(prefix, &c2);
	hex_of(&root, hex);
	snprintf(prefix, sizeof(prefix), "%.8s", hex);
	assert_resolves(prefix, &root);
}
END_TEST

START_TEST(abbreviation_shorter_than_8_is_an_error)
{
	char hex[MESH_OID_HEXSZ + 1], prefix[16];
	mesh_rev rev;

	hex_of(&c2, hex);
	snprintf(prefix, sizeof(prefix), "%.7s", hex);
	ck_assert_int_lt(mesh_revparse(store, "sales", prefix, &rev), 0);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), prefix));
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "8"));
}
END_TEST

START_TEST(unknown_refs_are_enoent)
{
	char hex[MESH_OID_HEXSZ + 1];
	mesh_rev rev;

	assert_fails("nosuch", MESH_ENOENT);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "nosuch"));
	/* A well-formed id that no commit of the domain has. */
	hex_of(&c2, hex);
	hex[0] = hex[0] == '0' ? '1' : '0';
	hex[1] = hex[1] == '0' ? '1' : '0';
	hex[2] = hex[2] == '0' ? '1' : '0';
	hex[8] = '\0';
	ck_assert_int_eq(mesh_revparse(store, "sales", hex, &rev), MESH_ENOENT);
	ck_assert_int_eq(mesh_revparse(store, "nodomain", "main", &rev), MESH_ENOENT);
}
END_TEST

START_TEST(ids_resolve_only_in_their_domain)
{
	char hex[MESH_OID_HEXSZ + 1], prefix[16];
	mesh_rev rev;

	ck_assert_int_eq(mesh_domain_create(store, &caller, "marketing", ""), 0);
	hex_of(&c2, hex);
	snprintf(prefix, sizeof(prefix), "%.8s", hex);
	ck_assert_int_eq(mesh_revparse(store, "marketing", hex, &rev), MESH_ENOENT);
	ck_assert_int_eq(mesh_revparse(store, "marketing", prefix, &rev), MESH_ENOENT);
}
END_TEST

START_TEST(ancestors)
{
	assert_resolves("main~0", &c3);
	assert_resolves("main^0", &c3);
	assert_resolves("main~1", &c2);
	assert_resolves("main~", &c2);
	assert_resolves("main^", &c2);
	assert_resolves("main^1", &c2);
	assert_resolves("main~2", &c1);
	assert_resolves("main^^", &c1);
	assert_resolves("main~1^", &c1);
	assert_resolves("main~3", &root);
	assert_resolves("main~1~2", &root);
	{
		char hex[MESH_OID_HEXSZ + 1], spec[32];
		hex_of(&c3, hex);
		snprintf(spec, sizeof(spec), "%.10s~2", hex);
		assert_resolves(spec, &c1);
	}
}
END_TEST

START_TEST(ancestor_expression_is_not_a_branch)
{
	mesh_rev rev;

	ck_assert_int_eq(mesh_revparse(store, "sales", "main~1", &rev), 0);
	ck_assert(!rev.is_branch);
	ck_assert_str_eq(rev.branch, "");
}
END_TEST

START_TEST(beyond_root_is_enoent)
{
	assert_fails("main~4", MESH_ENOENT);
	assert_fails("main~5", MESH_ENOENT);
	assert_fails("main^^^^", MESH_ENOENT);
	assert_fails("main^2", MESH_ENOENT);   /* no merge parent */
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "main^2"));
}
END_TEST

START_TEST(malformed_is_einval)
{
	assert_fails("main~x", MESH_EINVAL);
	assert_fails("main~1x", MESH_EINVAL);
	assert_fails("main^-1", MESH_EINVAL);
	assert_fails("~1", MESH_EINVAL);
	assert_fails("^", MESH_EINVAL);
	assert_fails("", MESH_EINVAL);
}
END_TEST

/* Malformed is malformed wherever the walk would stop: a user typing
 * "main~x" in a new domain must hear that the expression is wrong, not
 * that an ancestor is missing. */
START_TEST(malformed_is_einval_at_the_root_too)
{
	mesh_rev rev;

	ck_assert_int_eq(mesh_domain_create(store, &caller, "fresh", ""), 0);
	ck_assert_int_eq(mesh_revparse(store, "fresh", "main~x", &rev), MESH_EINVAL);
	ck_assert_int_eq(mesh_revparse(store, "fresh", "main~1x", &rev), MESH_EINVAL);
}
END_TEST

START_TEST(tags_resolve)
{
	mesh_rev rev;

	ck_assert_int_eq(mesh_ref_set(mesh_store_refs(store), "sales", "tags/v1", &c1, NULL), 0);
	ck_assert_int_eq(mesh_revparse(store, "sales", "v1", &rev), 0);
	ck_assert_int_eq(mesh_oid_cmp(&rev.commit, &c1), 0);
	ck_assert(!rev.is_branch);
	assert_resolves("v1~1", &root);
}
END_TEST

START_TEST(ambiguous_abbreviation_is_einval)
{
	mesh_db_batch *batch;
	mesh_oid a = c1, b = c1;
	char hex[MESH_OID_HEXSZ + 1], prefix[16];

	/* Two indexed ids sharing their first 10 hex digits, and their first
	 * 8 with c1. */
	a.id[4] ^= 0xff;
	memset(a.id + 5, 0x11, MESH_OID_RAWSZ - 5);
	b = a;
	memset(b.id + 5, 0x22, MESH_OID_RAWSZ - 5);
	ck_assert_int_eq(mesh_db_batch_new(&batch), 0);
	mesh_history_index_put(batch, "sales", &a);
	mesh_history_index_put(batch, "sales", &b);
	ck_assert_int_eq(mesh_db_batch_write(mesh_store_db(store), batch, false), 0);
	mesh_db_batch_free(batch);

	hex_of(&a, hex);
	snprintf(prefix, sizeof(prefix), "%.8s", hex);
	assert_fails(prefix, MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "ambiguous"));
	snprintf(prefix, sizeof(prefix), "%.11s", hex);   /* 0x1 vs 0x2 */
	assert_resolves(prefix, &a);
}
END_TEST

typedef struct walk_log {
	mesh_oid ids[16];
	char messages[16][32];
	size_t count;
	size_t stop_after;      /* 0: never */
} walk_log;

static int record(void *ctx, const mesh_oid *id, const mesh_commit *commit)
{
	walk_log *log = ctx;

	log->ids[log->count] = *id;
	snprintf(log->messages[log->count], sizeof(log->messages[0]), "%s", commit->message);
	log->count++;
	return log->stop_after && log->count == log->stop_after ? 42 : 0;
}

START_TEST(walk_is_newest_first)
{
	walk_log log = { 0 };

	ck_assert_int_eq(mesh_history_walk(store, &c3, 0, record, &log), 0);
	ck_assert_uint_eq(log.count, 4);
	ck_assert_int_eq(mesh_oid_cmp(&log.ids[0], &c3), 0);
	ck_assert_int_eq(mesh_oid_cmp(&log.ids[1], &c2), 0);
	ck_assert_int_eq(mesh_oid_cmp(&log.ids[2], &c1), 0);
	ck_assert_int_eq(mesh_oid_cmp(&log.ids[3], &root), 0);
	ck_assert_str_eq(log.messages[0], "three");
	ck_assert_str_eq(log.messages[3], "Create domain sales");
}
END_TEST

START_TEST(walk_max_limits)
{
	walk_log log = { 0 };

	ck_assert_int_eq(mesh_history_walk(store, &c3, 2, record, &log), 0);
	ck_assert_uint_eq(log.count, 2);
	ck_assert_int_eq(mesh_oid_cmp(&log.ids[1], &c2), 0);

	memset(&log, 0, sizeof(log));
	ck_assert_int_eq(mesh_history_walk(store, &c2, 1, record, &log), 0);
	ck_assert_uint_eq(log.count, 1);
	ck_assert_int_eq(mesh_oid_cmp(&log.ids[0], &c2), 0);

	memset(&log, 0, sizeof(log));
	ck_assert_int_eq(mesh_history_walk(store, &c1, 10, record, &log), 0);
	ck_assert_uint_eq(log.count, 2);
}
END_TEST

START_TEST(walk_stops_when_callback_says_so)
{
	walk_log log = { .stop_after = 2 };

	ck_assert_int_eq(mesh_history_walk(store, &c3, 0, record, &log), 42);
	ck_assert_uint_eq(log.count, 2);
}
END_TEST

START_TEST(walk_of_missing_commit_is_eio)
{
	walk_log log = { 0 };
	mesh_oid bogus;

	memset(bogus.id, 0x5a, sizeof(bogus.id));
	ck_assert_int_eq(mesh_history_walk(store, &bogus, 0, record, &log), MESH_EIO);
	ck_assert_uint_eq(log.count, 0);
}
END_TEST

static Suite *history_suite(void)
{
	Suite *s = suite_create("history");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, branch_head);
	tcase_add_test(tc, missing_branch_names_domain_and_branch);
	tcase_add_test(tc, full_id_and_abbreviations);
	tcase_add_test(tc, abbreviation_shorter_than_8_is_an_error);
	tcase_add_test(tc, unknown_refs_are_enoent);
	tcase_add_test(tc, ids_resolve_only_in_their_domain);
	tcase_add_test(tc, ancestors);
	tcase_add_test(tc, ancestor_expression_is_not_a_branch);
	tcase_add_test(tc, beyond_root_is_enoent);
	tcase_add_test(tc, malformed_is_einval);
	tcase_add_test(tc, malformed_is_einval_at_the_root_too);
	tcase_add_test(tc, tags_resolve);
	tcase_add_test(tc, ambiguous_abbreviation_is_einval);
	tcase_add_test(tc, walk_is_newest_first);
	tcase_add_test(tc, walk_max_limits);
	tcase_add_test(tc, walk_stops_when_callback_says_so);
	tcase_add_test(tc, walk_of_missing_commit_is_eio);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(history_suite());
}
