#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "refs.h"
#include "error.h"

static char *tmp;
static mesh_db *db;
static mesh_refdb *refs;

static void setup(void)
{
	mesh_refdb_backend *backend;

	tmp = test_tmpdir_new();
	ck_assert_int_eq(mesh_db_open(&db, tmp), 0);
	ck_assert_int_eq(mesh_refdb_backend_rocksdb(&backend, db), 0);
	ck_assert_int_eq(mesh_refdb_open(&refs, backend), 0);
}

static void teardown(void)
{
	mesh_refdb_close(refs);
	mesh_db_close(db);
	test_tmpdir_remove(tmp);
}

static mesh_oid oid_of(unsigned char fill)
{
	mesh_oid oid;

	memset(oid.id, fill, sizeof(oid.id));
	oid.id[0] = 0xa5;   /* never all-zero */
	return oid;
}

static void assert_ref(const char *domain, const char *name,
		       unsigned char fill)
{
	mesh_oid got, want = oid_of(fill);

	ck_assert_int_eq(mesh_ref_get(refs, domain, name, &got), 0);
	ck_assert(memcmp(got.id, want.id, MESH_OID_RAWSZ) == 0);
}

START_TEST(set_get_overwrite)
{
	mesh_oid a = oid_of(1), b = oid_of(2);

	ck_assert_int_eq(mesh_ref_set(refs, "sales", "heads/main", &a, NULL), 0);
	assert_ref("sales", "heads/main", 1);
	ck_assert_int_eq(mesh_ref_set(refs, "sales", "heads/main", &b, NULL), 0);
	assert_ref("sales", "heads/main", 2);
}
END_TEST

START_TEST(missing_ref_names_domain_and_ref)
{
	mesh_oid out;

	ck_assert_int_eq(mesh_ref_get(refs, "sales", "heads/foo", &out),
			 MESH_ENOENT);
	ck_assert_str_eq(mesh_error_message(),
			 "ref heads/foo not found in domain sales");
}
END_TEST

START_TEST(domains_are_separate)
{
	mesh_oid a = oid_of(1), b = oid_of(2), out;

	ck_assert_int_eq(mesh_ref_set(refs, "sales", "heads/main", &a, NULL), 0);
	ck_assert_int_eq(mesh_ref_set(refs, "sales2", "heads/main", &b, NULL), 0);
	assert_ref("sales", "heads/main", 1);
	assert_ref("sales2", "heads/main", 2);
	ck_assert_int_eq(mesh_ref_get(refs, "sale", "heads/main", &out),
			 MESH_ENOENT);
}
END_TEST

START_TEST(delete_removes_only_that_ref)
{
	mesh_oid a = oid_of(1), out;

	ck_assert_int_eq(mesh_ref_set(refs, "d", "heads/main", &a, NULL), 0);
	ck_assert_int_eq(mesh_ref_set(refs, "d", "heads/dev", &a, NULL), 0);
	ck_assert_int_eq(mesh_ref_delete(refs, "d", "heads/dev", NULL), 0);
	ck_assert_int_eq(mesh_ref_get(refs, "d", "heads/dev", &out),
			 MESH_ENOENT);
	assert_ref("d", "heads/main", 1);
	/* Deleting what is not there is reported. */
	ck_assert_int_eq(mesh_ref_delete(refs, "d", "heads/dev", NULL),
			 MESH_ENOENT);
}
END_TEST

START_TEST(batched_set_visible_only_after_write)
{
	mesh_oid a = oid_of(1), b = oid_of(2), out;
	mesh_db_batch *batch;

	ck_assert_int_eq(mesh_ref_set(refs, "d", "heads/old", &a, NULL), 0);
	ck_assert_int_eq(mesh_db_batch_new(&batch), 0);
	ck_assert_int_eq(mesh_ref_set(refs, "d", "heads/main", &b, batch), 0);
	ck_assert_int_eq(mesh_ref_delete(refs, "d", "heads/old", batch), 0);

	ck_assert_int_eq(mesh_ref_get(refs, "d", "heads/main", &out),
			 MESH_ENOENT);
	assert_ref("d", "heads/old", 1);

	ck_assert_int_eq(mesh_db_batch_write(db, batch, true), 0);
	assert_ref("d", "heads/main", 2);
	ck_assert_int_eq(mesh_ref_get(refs, "d", "heads/old", &out),
			 MESH_ENOENT);
	mesh_db_batch_free(batch);
}
END_TEST

typedef struct listing {
	char names[8][64];
	unsigned char first_byte[8];
	int n;
	int stop_after;
} listing;

static int collect(void *ctx, const char *name, const mesh_oid *oid)
{
	listing *l = ctx;

	ck_assert_int_lt(l->n, 8);
	strcpy(l->names[l->n], name);
	l->first_byte[l->n] = oid->id[1];
	l->n++;
	return l->stop_after && l->n == l->stop_after ? 42 : 0;
}

static void set_all(void)
{
	mesh_oid a = oid_of(1), b = oid_of(2), c = oid_of(3);

	ck_assert_int_eq(mesh_ref_set(refs, "d", "tags/v1", &c, NULL), 0);
	ck_assert_int_eq(mesh_ref_set(refs, "d", "heads/main", &a, NULL), 0);
	ck_assert_int_eq(mesh_ref_set(refs, "d", "heads/dev", &b, NULL), 0);
	ck_assert_int_eq(mesh_ref_set(refs, "d2", "heads/zzz", &c, NULL), 0);
	ck_assert_int_eq(mesh_ref_set(refs, "c", "heads/aaa", &c, NULL), 0);
}

START_TEST(list_by_prefix_in_name_order)
{
	listing l = { 0 };

	set_all();
	ck_assert_int_eq(mesh_ref_list(refs, "d", "heads/", collect, &l), 0);
	ck_assert_int_eq(l.n, 2);
	ck_assert_str_eq(l.names[0], "heads/dev");
	ck_assert_int_eq(l.first_byte[0], 2);
	ck_assert_str_eq(l.names[1], "heads/main");
	ck_assert_int_eq(l.first_byte[1], 1);
}
END_TEST

START_TEST(list_whole_domain)
{
	listing l = { 0 };

	set_all();
	ck_assert_int_eq(mesh_ref_list(refs, "d", "", collect, &l), 0);
	ck_assert_int_eq(l.n, 3);
	ck_assert_str_eq(l.names[0], "heads/dev");
	ck_assert_str_eq(l.names[1], "heads/main");
	ck_assert_str_eq(l.names[2], "tags/v1");
}
END_TEST

START_TEST(list_stops_on_callback_result)
{
	listing l = { .stop_after = 1 };

	set_all();
	ck_assert_int_eq(mesh_ref_list(refs, "d", "", collect, &l), 42);
	ck_assert_int_eq(l.n, 1);
}
END_TEST

static int collect_all(void *ctx, const char *domain, const char *name, const mesh_oid *oid)
{
	char both[128];

	snprintf(both, sizeof(both), "%s:%s", domain, name);
	return collect(ctx, both, oid);
}

START_TEST(list_all_by_domain_then_name)
{
	listing l = { 0 };

	set_all();
	/* "d" sorts before "d2", as its key's NUL before '2'. */
	ck_assert_int_eq(mesh_ref_list_all(refs, collect_all, &l), 0);
	ck_assert_int_eq(l.n, 5);
	ck_assert_str_eq(l.names[0], "c:heads/aaa");
	ck_assert_str_eq(l.names[1], "d:heads/dev");
	ck_assert_int_eq(l.first_byte[1], 2);
	ck_assert_str_eq(l.names[2], "d:heads/main");
	ck_assert_str_eq(l.names[3], "d:tags/v1");
	ck_assert_str_eq(l.names[4], "d2:heads/zzz");
	l = (listing){ .stop_after = 2 };
	ck_assert_int_eq(mesh_ref_list_all(refs, collect_all, &l), 42);
	ck_assert_int_eq(l.n, 2);
}
END_TEST

START_TEST(refs_survive_reopen)
{
	mesh_oid a = oid_of(7);
	mesh_refdb_backend *backend;

	ck_assert_int_eq(mesh_ref_set(refs, "d", "heads/main", &a, NULL), 0);
	mesh_refdb_close(refs);
	mesh_db_close(db);
	ck_assert_int_eq(mesh_db_open(&db, tmp), 0);
	ck_assert_int_eq(mesh_refdb_backend_rocksdb(&backend, db), 0);
	ck_assert_int_eq(mesh_refdb_open(&refs, backend), 0);
	assert_ref("d", "heads/main", 7);
}
END_TEST

START_TEST(corrupt_value_is_eio)
{
	mesh_oid out;
	const char key[] = "r/d\0heads/main";

	ck_assert_int_eq(mesh_db_put(db, key, sizeof(key) - 1, "short", 5,
				     false), 0);
	ck_assert_int_eq(mesh_ref_get(refs, "d", "heads/main", &out), MESH_EIO);
}
END_TEST

START_TEST(name_check_accepts)
{
	const char *ok[] = { "main", "feature-x", "v1.2", "_x", "A_b-9.z",
			     "x.lockfile", "0" };
	char longest[256];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		ck_assert_msg(mesh_ref_name_check("branch", ok[i]) == 0,
			      "rejected %s: %s", ok[i], mesh_error_message());
	memset(longest, 'a', 255);
	longest[255] = '\0';
	ck_assert_int_eq(mesh_ref_name_check("branch", longest), 0);
}
END_TEST

START_TEST(name_check_rejects)
{
	const char *bad[] = { "", "-x", ".x", "a/b", "a..b", "x.lock", "a b",
			      "tab\there", "caf\xc3\xa9", "a:b", "a~1", "a^" };
	char toolong[301];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(mesh_ref_name_check("branch", bad[i]) == MESH_EINVAL,
			      "accepted '%s'", bad[i]);
		ck_assert_ptr_nonnull(strstr(mesh_error_message(),
					     "[A-Za-z0-9_][A-Za-z0-9._-]*"));
	}
	memset(toolong, 'a', 300);
	toolong[300] = '\0';
	ck_assert_int_eq(mesh_ref_name_check("branch", toolong), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "branch"));
	ck_assert_int_eq(mesh_ref_name_check("tag", NULL), MESH_EINVAL);
}
END_TEST

START_TEST(set_rejects_bad_ref_names)
{
	mesh_oid a = oid_of(1);
	listing l = { 0 };

	ck_assert_int_eq(mesh_ref_set(refs, "d", "main", &a, NULL), MESH_EINVAL);
	ck_assert_int_eq(mesh_ref_set(refs, "d", "heads/a b", &a, NULL),
			 MESH_EINVAL);
	ck_assert_int_eq(mesh_ref_set(refs, "d", "tags/x.lock", &a, NULL),
			 MESH_EINVAL);
	ck_assert_int_eq(mesh_ref_set(refs, "", "heads/main", &a, NULL),
			 MESH_EINVAL);
	ck_assert_int_eq(mesh_ref_list(refs, "d", "", collect, &l), 0);
	ck_assert_int_eq(l.n, 0);
}
END_TEST

START_TEST(get_of_impossible_name_is_not_found)
{
	mesh_oid out;

	/* A user typing a bad name into a path gets "no such", not EINVAL. */
	ck_assert_int_eq(mesh_ref_get(refs, "d", "heads/a b", &out),
			 MESH_ENOENT);
	ck_assert_int_eq(mesh_ref_delete(refs, "d", "heads/a b", NULL),
			 MESH_ENOENT);
}
END_TEST

static Suite *refs_suite(void)
{
	Suite *s = suite_create("refs");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, set_get_overwrite);
	tcase_add_test(tc, missing_ref_names_domain_and_ref);
	tcase_add_test(tc, domains_are_separate);
	tcase_add_test(tc, delete_removes_only_that_ref);
	tcase_add_test(tc, batched_set_visible_only_after_write);
	tcase_add_test(tc, list_by_prefix_in_name_order);
	tcase_add_test(tc, list_whole_domain);
	tcase_add_test(tc, list_stops_on_callback_result);
	tcase_add_test(tc, list_all_by_domain_then_name);
	tcase_add_test(tc, refs_survive_reopen);
	tcase_add_test(tc, corrupt_value_is_eio);
	tcase_add_test(tc, name_check_accepts);
	tcase_add_test(tc, name_check_rejects);
	tcase_add_test(tc, set_rejects_bad_ref_names);
	tcase_add_test(tc, get_of_impossible_name_is_not_found);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(refs_suite());
}
