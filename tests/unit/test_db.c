#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/wait.h>

#include "testutil.h"
#include "db.h"
#include "error.h"

static char *tmp;
static mesh_db *db;

static void setup(void)
{
	tmp = test_tmpdir_new();
	ck_assert_int_eq(mesh_db_open(&db, tmp), 0);
}

static void teardown(void)
{
	mesh_db_close(db);
	db = NULL;
	test_tmpdir_remove(tmp);
}

static void assert_value(const char *key, const char *expected)
{
	void *val;
	size_t vlen;

	ck_assert_int_eq(mesh_db_get(db, key, strlen(key), &val, &vlen), 0);
	ck_assert_uint_eq(vlen, strlen(expected));
	ck_assert(memcmp(val, expected, vlen) == 0);
	free(val);
}

static void assert_absent(const char *key)
{
	void *val = (void *)1;
	size_t vlen;

	ck_assert_int_eq(mesh_db_get(db, key, strlen(key), &val, &vlen),
			 MESH_ENOENT);
	ck_assert_ptr_null(val);
}

START_TEST(find_tells_absent_without_error)
{
	void *val = (void *)1;
	size_t vlen = 7;

	mesh_error_clear();
	ck_assert_int_eq(mesh_db_find(db, "nope", 4, &val, &vlen), 0);
	ck_assert_ptr_null(val);
	ck_assert_uint_eq(vlen, 0);
	ck_assert_str_eq(mesh_error_message(), "");
	ck_assert_int_eq(mesh_db_has(db, "nope", 4), 0);
	ck_assert_int_eq(mesh_db_put(db, "k", 1, "", 0, false), 0);
	/* An empty value is still a value. */
	ck_assert_int_eq(mesh_db_find(db, "k", 1, &val, &vlen), 1);
	ck_assert_uint_eq(vlen, 0);
	free(val);
	ck_assert_int_eq(mesh_db_has(db, "k", 1), 1);
	ck_assert_int_eq(mesh_db_put(db, "k", 1, "v2", 2, false), 0);
	ck_assert_int_eq(mesh_db_find(db, "k", 1, &val, &vlen), 1);
	ck_assert_uint_eq(vlen, 2);
	ck_assert(memcmp(val, "v2", 2) == 0);
	free(val);
}
END_TEST

START_TEST(sequence_moves_with_every_write)
{
	mesh_db_batch *b;
	uint64_t s0 = mesh_db_sequence(db), s1, s2;
	void *val;
	size_t vlen;

	ck_assert_int_eq(mesh_db_get(db, "k", 1, &val, &vlen), MESH_ENOENT);
	ck_assert_uint_eq(mesh_db_sequence(db), s0);   /* reads do not */
	ck_assert_int_eq(mesh_db_put(db, "k", 1, "v", 1, false), 0);
	s1 = mesh_db_sequence(db);
	ck_assert_uint_gt(s1, s0);
	ck_assert_int_eq(mesh_db_batch_new(&b), 0);
	mesh_db_batch_delete(b, "k", 1);
	ck_assert_int_eq(mesh_db_batch_write(db, b, false), 0);
	mesh_db_batch_free(b);
	s2 = mesh_db_sequence(db);
	ck_assert_uint_gt(s2, s1);
	ck_assert_int_eq(mesh_db_delete(db, "k", 1, false), 0);
	ck_assert_uint_gt(mesh_db_sequence(db), s2);
}
END_TEST

START_TEST(put_get_delete)
{
	ck_assert_int_eq(mesh_db_put(db, "k1", 2, "v1", 2, false), 0);
	ck_assert_int_eq(mesh_db_put(db, "k2", 2, "value2", 6, true), 0);
	assert_value("k1", "v1");
	assert_value("k2", "value2");
	ck_assert_int_eq(mesh_db_put(db, "k1", 2, "new", 3, false), 0);
	assert_value("k1", "new");
	ck_assert_int_eq(mesh_db_delete(db, "k1", 2, true), 0);
	assert_absent("k1");
	assert_value("k2", "value2");
}
END_TEST

START_TEST(missing_is_enoent)
{
	assert_absent("nope");
	ck_assert_int_eq(mesh_error_code(), MESH_ENOENT);
}
END_TEST

START_TEST(empty_value_is_not_absent)
{
	void *val;
	size_t vlen = 99;

	ck_assert_int_eq(mesh_db_put(db, "e", 1, "", 0, false), 0);
	ck_assert_int_eq(mesh_db_get(db, "e", 1, &val, &vlen), 0);
	ck_assert_uint_eq(vlen, 0);
	free(val);
}
END_TEST

START_TEST(keys_with_nul_bytes)
{
	void *val;
	size_t vlen;

	ck_assert_int_eq(mesh_db_put(db, "a\0b", 3, "1", 1, false), 0);
	ck_assert_int_eq(mesh_db_get(db, "a\0c", 3, &val, &vlen), MESH_ENOENT);
	ck_assert_int_eq(mesh_db_get(db, "a", 1, &val, &vlen), MESH_ENOENT);
	ck_assert_int_eq(mesh_db_get(db, "a\0b", 3, &val, &vlen), 0);
	free(val);
}
END_TEST

START_TEST(batch_applies_all_at_write)
{
	mesh_db_batch *b;

	ck_assert_int_eq(mesh_db_put(db, "gone", 4, "x", 1, false), 0);
	ck_assert_int_eq(mesh_db_batch_new(&b), 0);
	mesh_db_batch_put(b, "b1", 2, "one", 3);
	mesh_db_batch_put(b, "b2", 2, "two", 3);
	mesh_db_batch_delete(b, "gone", 4);
	ck_assert_uint_eq(mesh_db_batch_count(b), 3);

	/* Nothing is visible before the write... */
	assert_absent("b1");
	assert_absent("b2");
	assert_value("gone", "x");

	ck_assert_int_eq(mesh_db_batch_write(db, b, true), 0);
	/* ...and everything after it. */
	assert_value("b1", "one");
	assert_value("b2", "two");
	assert_absent("gone");
	mesh_db_batch_free(b);
}
END_TEST

START_TEST(batch_free_without_write_changes_nothing)
{
	mesh_db_batch *b;

	ck_assert_int_eq(mesh_db_batch_new(&b), 0);
	mesh_db_batch_put(b, "b1", 2, "one", 3);
	mesh_db_batch_free(b);
	assert_absent("b1");
}
END_TEST

static void put_str(const char *k, size_t klen, const char *v)
{
	ck_assert_int_eq(mesh_db_put(db, k, klen, v, strlen(v), false), 0);
}

START_TEST(iter_stays_inside_prefix)
{
	mesh_db_iter *it;
	const void *k, *v;
	size_t klen, vlen;
	const char *expect[] = { "p/", "p/a", "p/b", "p/b/c" };
	size_t n = 0;

	put_str("p", 1, "before");
	put_str("p.", 2, "sibling");     /* '.' < '/' */
	put_str("p/b", 3, "2");
	put_str("p/a", 3, "1");
	put_str("p/b/c", 5, "3");
	put_str("p/", 2, "0");
	put_str("p0", 2, "after");       /* '0' > '/' */
	put_str("q/a", 3, "other");

	ck_assert_int_eq(mesh_db_iter_new(&it, db, "p/", 2), 0);
	while (mesh_db_iter_next(it, &k, &klen, &v, &vlen) == 1) {
		ck_assert_uint_lt(n, 4);
		ck_assert_uint_eq(klen, strlen(expect[n]));
		ck_assert(memcmp(k, expect[n], klen) == 0);
		n++;
	}
	ck_assert_uint_eq(n, 4);
	/* The end is sticky. */
	ck_assert_int_eq(mesh_db_iter_next(it, &k, &klen, &v, &vlen), 0);
	mesh_db_iter_free(it);
}
END_TEST

START_TEST(iter_seek_starts_a_range_inside_the_prefix)
{
	mesh_db_iter *it;
	const void *k, *v;
	size_t klen, vlen;

	put_str("p/a", 3, "1");
	put_str("p/b", 3, "2");
	put_str("p/c", 3, "3");
	put_str("q/a", 3, "other");
	ck_assert_int_eq(mesh_db_iter_new(&it, db, "p/", 2), 0);
	ck_assert_int_eq(mesh_db_iter_seek(it, "p/b", 3), 0);
	ck_assert_int_eq(mesh_db_iter_next(it, &k, &klen, &v, &vlen), 1);
	ck_assert(klen == 3 && memcmp(k, "p/b", 3) == 0);
	ck_assert_int_eq(mesh_db_iter_next(it, &k, &klen, &v, &vlen), 1);
	ck_assert(klen == 3 && memcmp(k, "p/c", 3) == 0);
	ck_assert_int_eq(mesh_db_iter_next(it, &k, &klen, &v, &vlen), 0);
	/* After the end, a seek back goes on from there; past the prefix
	 * there is nothing, not the next prefix's keys. */
	ck_assert_int_eq(mesh_db_iter_seek(it, "p/a", 3), 0);
	ck_assert_int_eq(mesh_db_iter_next(it, &k, &klen, &v, &vlen), 1);
	ck_assert(klen == 3 && memcmp(k, "p/a", 3) == 0);
	ck_assert_int_eq(mesh_db_iter_seek(it, "p/bb", 4), 0);
	ck_assert_int_eq(mesh_db_iter_next(it, &k, &klen, &v, &vlen), 1);
	ck_assert(klen == 3 && memcmp(k, "p/c", 3) == 0);
	ck_assert_int_eq(mesh_db_iter_seek(it, "p/z", 3), 0);
	ck_assert_int_eq(mesh_db_iter_next(it, &k, &klen, &v, &vlen), 0);
	mesh_db_iter_free(it);
}
END_TEST

START_TEST(iter_empty_prefix_range)
{
	mesh_db_iter *it;
	const void *k, *v;
	size_t klen, vlen;

	put_str("a", 1, "1");
	put_str("c", 1, "3");
	ck_assert_int_eq(mesh_db_iter_new(&it, db, "b", 1), 0);
	ck_assert_int_eq(mesh_db_iter_next(it, &k, &klen, &v, &vlen), 0);
	mesh_db_iter_free(it);
}
END_TEST

START_TEST(iter_values_match_keys)
{
	mesh_db_iter *it;
	const void *k, *v;
	size_t klen, vlen;
	int n = 0;

	put_str("x/1", 3, "one");
	put_str("x/2", 3, "two");
	ck_assert_int_eq(mesh_db_iter_new(&it, db, "x/", 2), 0);
	while (mesh_db_iter_next(it, &k, &klen, &v, &vlen) == 1) {
		const char *want = n == 0 ? "one" : "two";

		ck_assert_uint_eq(vlen, strlen(want));
		ck_assert(memcmp(v, want, vlen) == 0);
		n++;
	}
	ck_assert_int_eq(n, 2);
	mesh_db_iter_free(it);
}
END_TEST

START_TEST(reopen_keeps_data)
{
	mesh_db_batch *b;

	ck_assert_int_eq(mesh_db_put(db, "plain", 5, "p", 1, false), 0);
	ck_assert_int_eq(mesh_db_batch_new(&b), 0);
	mesh_db_batch_put(b, "synced", 6, "s", 1);
	ck_assert_int_eq(mesh_db_batch_write(db, b, true), 0);
	mesh_db_batch_free(b);

	mesh_db_close(db);
	ck_assert_int_eq(mesh_db_open(&db, tmp), 0);
	assert_value("plain", "p");
	assert_value("synced", "s");
}
END_TEST

START_TEST(second_open_is_busy)
{
	mesh_db *other = (mesh_db *)1;

	ck_assert_int_eq(mesh_db_open(&other, tmp), MESH_EBUSY);
	ck_assert_ptr_null(other);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "in use"));
	/* The first handle still works. */
	ck_assert_int_eq(mesh_db_put(db, "k", 1, "v", 1, false), 0);
}
END_TEST

/* The other process is a fresh one (this program again, see main): a
 * fork's child of a process with RocksDB's threads may inherit a lock
 * one of them held, and hang. */
START_TEST(open_from_other_process_is_busy)
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		setenv("TEST_DB_OPEN_OTHER", tmp, 1);
		execl("/proc/self/exe", "test_db", (char *)NULL);
		_exit(2);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

/* The other process of open_from_other_process_is_busy: 0 when the
 * store is refused as another meshfs process's. */
static int open_other(const char *dir)
{
	mesh_db *other = NULL;
	int rc = mesh_db_open(&other, dir);

	if (rc == 0)
		mesh_db_close(other);
	return rc == MESH_EBUSY && strstr(mesh_error_message(), "another meshfs process") ? 0 : 1;
}

START_TEST(open_bad_path_is_eio)
{
	mesh_db *other = NULL;
	char path[4096];
	FILE *f;

	/* A regular file where the directory should be. */
	snprintf(path, sizeof(path), "%s/file", tmp);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(mesh_db_open(&other, path), MESH_EIO);
	ck_assert_ptr_null(other);
	ck_assert_str_ne(mesh_error_message(), "");
}
END_TEST

static Suite *db_suite(void)
{
	Suite *s = suite_create("db");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, put_get_delete);
	tcase_add_test(tc, iter_seek_starts_a_range_inside_the_prefix);
	tcase_add_test(tc, missing_is_enoent);
	tcase_add_test(tc, empty_value_is_not_absent);
	tcase_add_test(tc, keys_with_nul_bytes);
	tcase_add_test(tc, batch_applies_all_at_write);
	tcase_add_test(tc, batch_free_without_write_changes_nothing);
	tcase_add_test(tc, iter_stays_inside_prefix);
	tcase_add_test(tc, iter_empty_prefix_range);
	tcase_add_test(tc, iter_values_match_keys);
	tcase_add_test(tc, reopen_keeps_data);
	tcase_add_test(tc, find_tells_absent_without_error);
	tcase_add_test(tc, sequence_moves_with_every_write);
	tcase_add_test(tc, second_open_is_busy);
	tcase_add_test(tc, open_from_other_process_is_busy);
	tcase_add_test(tc, open_bad_path_is_eio);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	const char *other = getenv("TEST_DB_OPEN_OTHER");

	if (other)
		return open_other(other);
	return test_run_suite(db_suite());
}
