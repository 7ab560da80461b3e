/* test_store.c - the store directory: format version, migration, reserve. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "domain.h"
#include "error.h"
#include "store.h"

static char *tmp;
static mesh_caller caller;

static void setup(void)
{
	tmp = test_tmpdir_new();
	ck_assert_int_eq(mesh_store_init(tmp), 0);
	caller.uid = getuid();
	caller.gid = getgid();
	caller.pid = getpid();
}

static void teardown(void)
{
	test_tmpdir_remove(tmp);
}

static char *store_file(const char *name)
{
	static char path[4096];

	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	return path;
}

static void write_text(const char *name, const char *text)
{
	FILE *f = fopen(store_file(name), "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static char *read_text(const char *name)
{
	static char buf[256];
	FILE *f = fopen(store_file(name), "r");
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* A store as meshfs made them before the version was recorded. */
static void make_version_1(void)
{
	ck_assert_int_eq(unlink(store_file("FORMAT")), 0);
	ck_assert_int_eq(unlink(store_file("reserve")), 0);
}

static void add_domain(const char *name)
{
	mesh_store *store;

	ck_assert_int_eq(mesh_store_open(&store, tmp, NULL), 0);
	ck_assert_int_eq(mesh_domain_create(store, &caller, name, "d"), 0);
	mesh_store_close(store);
}

static bool has_domain(const char *name)
{
	mesh_store *store;
	mesh_domain *d = NULL;
	int error;

	ck_assert_int_eq(mesh_store_open(&store, tmp, NULL), 0);
	error = mesh_domain_get(store, name, &d);
	mesh_domain_free(d);
	mesh_store_close(store);
	return error == 0;
}

START_TEST(init_records_the_current_format)
{
	int version;

	ck_assert_int_eq(mesh_store_format(tmp, &version), 0);
	ck_assert_int_eq(version, MESH_STORE_FORMAT);
	ck_assert_int_eq(MESH_STORE_FORMAT, 3);
	ck_assert_str_eq(read_text("FORMAT"), "meshfs store format 3\n");
}
END_TEST

START_TEST(store_without_format_file_is_version_1_and_refused)
{
	mesh_store *store = (mesh_store *)1;
	int version;

	add_domain("sales");
	make_version_1();
	ck_assert_int_eq(mesh_store_format(tmp, &version), 0);
	ck_assert_int_eq(version, 1);
	ck_assert_int_eq(mesh_store_open(&store, tmp, NULL), MESH_EINVAL);
	ck_assert_ptr_null(store);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "format version 1"));
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "version 3"));
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "meshfs migrate --store"));
	/* Refusing changed nothing. */
	ck_assert_int_eq(access(store_file("FORMAT"), F_OK), -1);
}
END_TEST

START_TEST(migrate_brings_version_1_to_3_keeping_data)
{
	int from, version;
	struct stat st;

	add_domain("sales");
	make_version_1();
	ck_assert_int_eq(mesh_store_migrate(tmp, &from), 0);
	ck_assert_int_eq(from, 1);
	ck_assert_int_eq(mesh_store_format(tmp, &version), 0);
	ck_assert_int_eq(version, 3);
	ck_assert_int_eq(stat(store_file("reserve"), &st), 0);
	ck_assert_int_ge((long long)st.st_blocks * 512, MESH_STORE_RESERVE_BYTES);
	ck_assert(has_domain("sales"));
	/* Once more: nothing to do. */
	ck_assert_int_eq(mesh_store_migrate(tmp, &from), 0);
	ck_assert_int_eq(from, 3);
}
END_TEST

START_TEST(newer_format_is_refused_naming_both_versions)
{
	mesh_store *store;
	int from;

	write_text("FORMAT", "meshfs store format 7\n");
	ck_assert_int_eq(mesh_store_open(&store, tmp, NULL), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "format version 7"));
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "version 3"));
	ck_assert_int_eq(mesh_store_migrate(tmp, &from), MESH_EINVAL);
	ck_assert_int_eq(mesh_store_init(tmp), MESH_EINVAL);
	ck_assert_str_eq(read_text("FORMAT"), "meshfs store format 7\n");
}
END_TEST

START_TEST(unreadable_format_is_refused)
{
	mesh_store *store;

	write_text("FORMAT", "something else\n");
	ck_assert_int_eq(mesh_store_open(&store, tmp, NULL), MESH_EIO);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "FORMAT"));
}
END_TEST

START_TEST(init_does_not_convert_an_old_store)
{
	int version;

	add_domain("sales");
	make_version_1();
	ck_assert_int_eq(mesh_store_init(tmp), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "meshfs migrate"));
	ck_assert_int_eq(mesh_store_format(tmp, &version), 0);
	ck_assert_int_eq(version, 1);
}
END_TEST

START_TEST(migrate_of_an_open_store_is_ebusy)
{
	mesh_store *store;
	int from;

	ck_assert_int_eq(mesh_store_open(&store, tmp, NULL), 0);
	make_version_1();
	ck_assert_int_eq(mesh_store_migrate(tmp, &from), MESH_EBUSY);
	mesh_store_close(store);
}
END_TEST

START_TEST(not_a_store_is_enoent)
{
	char *plain = test_tmpdir_new();
	int version, from;

	ck_assert_int_eq(mesh_store_format(plain, &version), MESH_ENOENT);
	ck_assert_int_eq(mesh_store_migrate(plain, &from), MESH_ENOENT);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "meshfs init"));
	test_tmpdir_remove(plain);
}
END_TEST

START_TEST(reserve_is_released_and_made_again)
{
	mesh_store *store;

	ck_assert_int_eq(mesh_store_open(&store, tmp, NULL), 0);
	ck_assert_int_eq(access(store_file("reserve"), F_OK), 0);
	mesh_store_space_release(store);
	ck_assert_int_eq(access(store_file("reserve"), F_OK), -1);
	/* The temporary directory's filesystem has room: writes resume and
	 * the reserve is back. */
	ck_assert_int_eq(mesh_store_space_check(store), 0);
	ck_assert_int_eq(access(store_file("reserve"), F_OK), 0);
	mesh_store_close(store);

	/* A store opened without its reserve makes it. */
	ck_assert_int_eq(unlink(store_file("reserve")), 0);
	ck_assert_int_eq(mesh_store_open(&store, tmp, NULL), 0);
	ck_assert_int_eq(access(store_file("reserve"), F_OK), 0);
	mesh_store_close(store);
}
END_TEST

START_TEST(migrate_2_to_3_records_the_legacy_owner)
{
	char db_path[4096];
	mesh_store *store;
	mesh_db *db;
	uint32_t uid, gid;
	int from;

	add_domain("sales");
	/* A store as format 2 left it: no legacy owner record. */
	snprintf(db_path, sizeof(db_path), "%s/db", tmp);
	ck_assert_int_eq(mesh_db_open(&db, db_path), 0);
	ck_assert_int_eq(mesh_db_delete(db, "m/legacy-owner", 14, true), 0);
	mesh_db_close(db);
	write_text("FORMAT", "meshfs store format 2\n");
	ck_assert_int_eq(chown(tmp, 4321, 8765), 0);
	ck_assert_int_eq(mesh_store_open(&store, tmp, NULL), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "format version 2"));
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "meshfs migrate --store"));
	ck_assert_int_eq(mesh_store_migrate(tmp, &from), 0);
	ck_assert_int_eq(from, 2);
	ck_assert_str_eq(read_text("FORMAT"), "meshfs store format 3\n");
	/* Recorded, not looked up again: whoever owns the directory later. */
	ck_assert_int_eq(chown(tmp, 0, 0), 0);
	ck_assert_int_eq(mesh_store_open(&store, tmp, NULL), 0);
	mesh_store_legacy_owner(store, &uid, &gid);
	ck_assert_uint_eq(uid, 4321);
	ck_assert_uint_eq(gid, 8765);
	mesh_store_close(store);
	ck_assert(has_domain("sales"));
}
END_TEST

static Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, init_records_the_current_format);
	tcase_add_test(tc, store_without_format_file_is_version_1_and_refused);
	tcase_add_test(tc, migrate_brings_version_1_to_3_keeping_data);
	tcase_add_test(tc, newer_format_is_refused_naming_both_versions);
	tcase_add_test(tc, unreadable_format_is_refused);
	tcase_add_test(tc, init_does_not_convert_an_old_store);
	tcase_add_test(tc, migrate_of_an_open_store_is_ebusy);
	tcase_add_test(tc, not_a_store_is_enoent);
	tcase_add_test(tc, reserve_is_released_and_made_again);
	tcase_add_test(tc, migrate_2_to_3_records_the_legacy_owner);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(store_suite());
}
