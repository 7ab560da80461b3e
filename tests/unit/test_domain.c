#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "commit.h"
#include "domain.h"
#include "error.h"
#include "store.h"
#include "tree.h"

static char *tmp;
static mesh_store *store;
static mesh_caller caller;

static void setup(void)
{
	tmp = test_tmpdir_new();
	ck_assert_int_eq(mesh_store_init(tmp), 0);
	ck_assert_int_eq(mesh_store_open(&store, tmp, NULL), 0);
	caller.uid = getuid();
	caller.gid = getgid();
	caller.pid = getpid();
}

static void teardown(void)
{
	mesh_store_close(store);
	test_tmpdir_remove(tmp);
}

START_TEST(init_twice_keeps_domains)
{
	mesh_domain *d;

	ck_assert_int_eq(mesh_domain_create(store, &caller, "sales", "orders"), 0);
	mesh_store_close(store);
	store = NULL;
	ck_assert_int_eq(mesh_store_init(tmp), 0);
	ck_assert_int_eq(mesh_store_open(&store, tmp, NULL), 0);
	ck_assert_int_eq(mesh_domain_get(store, "sales", &d), 0);
	ck_assert_str_eq(d->description, "orders");
	mesh_domain_free(d);
}
END_TEST

START_TEST(create_then_get_shows_the_card)
{
	int64_t before = (int64_t)time(NULL);
	mesh_domain *d;

	ck_assert_int_eq(mesh_domain_create(store, &caller, "sales", "Orders of all shops"), 0);
	ck_assert_int_eq(mesh_domain_get(store, "sales", &d), 0);
	ck_assert_str_eq(d->name, "sales");
	ck_assert_str_eq(d->description, "Orders of all shops");
	ck_assert_str_eq(d->default_branch, "main");
	ck_assert_uint_eq(d->owner_uid, caller.uid);
	ck_assert_uint_gt(strlen(d->owner), 0);
	ck_assert_int_ge(d->created, before);
	ck_assert_int_le(d->created, (int64_t)time(NULL));
	mesh_domain_free(d);
}
END_TEST

START_TEST(null_description_is_empty)
{
	mesh_domain *d;

	ck_assert_int_eq(mesh_domain_create(store, &caller, "hr", NULL), 0);
	ck_assert_int_eq(mesh_domain_get(store, "hr", &d), 0);
	ck_assert_str_eq(d->description, "");
	mesh_domain_free(d);
}
END_TEST

START_TEST(get_missing_names_domain)
{
	mesh_domain *d = (mesh_domain *)1;

	ck_assert_int_eq(mesh_domain_get(store, "nosuch", &d), MESH_ENOENT);
	ck_assert_ptr_null(d);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "nosuch"));
}
END_TEST

START_TEST(list_is_sorted_by_name)
{
	static const char *names[] = { "zeta", "alpha", "Mid", "beta", "alpha2" };
	static const char *sorted[] = { "Mid", "alpha", "alpha2", "beta", "zeta" };
	mesh_domain **list;
	size_t count;

	ck_assert_int_eq(mesh_domain_list(store, &list, &count), 0);
	ck_assert_uint_eq(count, 0);
	mesh_domain_list_free(list, count);

	for (size_t i = 0; i < 5; i++)
		ck_assert_int_eq(mesh_domain_create(store, &caller, names[i], names[i]), 0);
	ck_assert_int_eq(mesh_domain_list(store, &list, &count), 0);
	ck_assert_uint_eq(count, 5);
	for (size_t i = 0; i < 5; i++) {
		ck_assert_str_eq(list[i]->name, sorted[i]);
		ck_assert_str_eq(list[i]->description, sorted[i]);
	}
	mesh_domain_list_free(list, count);
}
END_TEST

START_TEST(duplicate_is_eexist_and_keeps_original)
{
	mesh_domain *d;

	ck_assert_int_eq(mesh_domain_create(store, &caller, "sales", "first"), 0);
	ck_assert_int_eq(mesh_domain_create(store, &caller, "sales", "second"),
			 MESH_EEXIST);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "sales"));
	ck_assert_int_eq(mesh_domain_get(store, "sales", &d), 0);
	ck_assert_str_eq(d->description, "first");
	mesh_domain_free(d);
}
END_TEST

START_TEST(bad_names_are_einval_naming_allowed_chars)
{
	static const char *bad[] = { "", "-x", "a b", "a/b", ".hidden", "a..b",
				     "x.lock", "tab\tname" };
	mesh_domain **list;
	size_t count;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(mesh_domain_create(store, &caller, bad[i], "x"),
				 MESH_EINVAL);
		ck_assert_msg(strstr(mesh_error_message(), "A-Za-z0-9") != NULL,
			      "message for '%s' does not name allowed characters: %s",
			      bad[i], mesh_error_message());
	}
	ck_assert_int_eq(mesh_domain_list(store, &list, &count), 0);
	ck_assert_uint_eq(count, 0);
	mesh_domain_list_free(list, count);
}
END_TEST

START_TEST(good_names_are_accepted)
{
	static const char *good[] = { "a", "_x", "9lives", "Sales.EU-1_b" };

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_int_eq(mesh_domain_name_check(good[i]), 0);
	ck_assert_int_eq(mesh_domain_create(store, &caller, "Sales.EU-1_b", ""), 0);
}
END_TEST

START_TEST(new_domain_main_is_an_empty_root_commit)
{
	mesh_oid head, empty;
	mesh_commit *commit;
	mesh_tree *tree;

	ck_assert_int_eq(mesh_domain_create(store, &caller, "sales", ""), 0);
	ck_assert_int_eq(mesh_ref_get(mesh_store_refs(store), "sales", "heads/main", &head), 0);
	ck_assert_int_eq(mesh_commit_load(mesh_store_odb(store), &head, &commit), 0);
	ck_assert_uint_eq(commit->parent_count, 0);
	ck_assert_uint_eq(commit->uid, caller.uid);
	ck_assert_int_eq(mesh_tree_empty(mesh_store_odb(store), &empty), 0);
	ck_assert_int_eq(mesh_oid_cmp(&commit->tree, &empty), 0);
	ck_assert_int_eq(mesh_tree_load(mesh_store_odb(store), &commit->tree, &tree), 0);
	ck_assert_uint_eq(tree->count, 0);
	mesh_tree_free(tree);
	mesh_commit_free(commit);
}
END_TEST

START_TEST(domains_have_separate_heads)
{
	mesh_oid a, b;

	ck_assert_int_eq(mesh_domain_create(store, &caller, "sales", ""), 0);
	ck_assert_int_eq(mesh_domain_create(store, &caller, "marketing", ""), 0);
	ck_assert_int_eq(mesh_ref_get(mesh_store_refs(store), "sales", "heads/main", &a), 0);
	ck_assert_int_eq(mesh_ref_get(mesh_store_refs(store), "marketing", "heads/main", &b), 0);
	/* The initial commit's message names the domain, so they differ. */
	ck_assert_int_ne(mesh_oid_cmp(&a, &b), 0);
}
END_TEST

START_TEST(open_non_store_is_enoent_with_hint)
{
	char *plain = test_tmpdir_new();
	mesh_store *other = (mesh_store *)1;

	ck_assert_int_eq(mesh_store_open(&other, plain, NULL), MESH_ENOENT);
	ck_assert_ptr_null(other);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "meshfs init"));
	test_tmpdir_remove(plain);
}
END_TEST

START_TEST(open_missing_dir_is_enoent)
{
	char *path = malloc(strlen(tmp) + 16);
	mesh_store *other;

	strcpy(path, tmp);
	strcat(path, "/does/not/exist");
	ck_assert_int_eq(mesh_store_open(&other, path, NULL), MESH_ENOENT);
	free(path);
}
END_TEST

START_TEST(domain_survives_reopen)
{
	mesh_domain **list;
	size_t count;

	ck_assert_int_eq(mesh_domain_create(store, &caller, "sales", "d"), 0);
	mesh_store_close(store);
	ck_assert_int_eq(mesh_store_open(&store, tmp, NULL), 0);
	ck_assert_int_eq(mesh_domain_list(store, &list, &count), 0);
	ck_assert_uint_eq(count, 1);
	ck_assert_str_eq(list[0]->name, "sales");
	mesh_domain_list_free(list, count);
}
END_TEST

START_TEST(user_name_falls_back_to_uid)
{
	char name[64];

	mesh_user_name(0, name, sizeof(name));
	ck_assert_str_eq(name, "root");
	mesh_user_name(3999999999u, name, sizeof(name));
	ck_assert_str_eq(name, "uid3999999999");
}
END_TEST

static Suite *domain_suite(void)
{
	Suite *s = suite_create("domain");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, init_twice_keeps_domains);
	tcase_add_test(tc, create_then_get_shows_the_card);
	tcase_add_test(tc, null_description_is_empty);
	tcase_add_test(tc, get_missing_names_domain);
	tcase_add_test(tc, list_is_sorted_by_name);
	tcase_add_test(tc, duplicate_is_eexist_and_keeps_original);
	tcase_add_test(tc, bad_names_are_einval_naming_allowed_chars);
	tcase_add_test(tc, good_names_are_accepted);
	tcase_add_test(tc, new_domain_main_is_an_empty_root_commit);
	tcase_add_test(tc, domains_have_separate_heads);
	tcase_add_test(tc, open_non_store_is_enoent_with_hint);
	tcase_add_test(tc, open_missing_dir_is_enoent);
	tcase_add_test(tc, domain_survives_reopen);
	tcase_add_test(tc, user_name_falls_back_to_uid);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(domain_suite());
}
