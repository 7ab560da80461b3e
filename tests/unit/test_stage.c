#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "stage.h"
#include "tree.h"
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
	test_tmpdir_remove(tmp);
}

static mesh_stage_entry entry_of(mesh_stage_kind kind, uint64_t size)
{
	mesh_stage_entry e;

	memset(&e, 0, sizeof(e));
	e.kind = kind;
	e.mode = kind == MESH_STAGE_DIR ? 0755 : 0644;
	e.size = size;
	e.mtime_ns = -1234567890123LL;   /* before the epoch still round-trips */
	memset(e.id.id, (int)(size & 0xff), MESH_OID_RAWSZ);
	e.has_lower = kind == MESH_STAGE_DIR && size % 2;
	return e;
}

/* Stages each path in one synced batch: a trailing '/' marks a DIR. */
static void stage_paths(const char *domain, const char *branch,
			const char **paths, size_t n)
{
	mesh_db_batch *b;

	ck_assert_int_eq(mesh_db_batch_new(&b), 0);
	for (size_t i = 0; i < n; i++) {
		char path[256];
		size_t len = strlen(paths[i]);
		bool dir = paths[i][len - 1] == '/';
		mesh_stage_entry e = entry_of(dir ? MESH_STAGE_DIR :
					      MESH_STAGE_FILE, i + 1);

		memcpy(path, paths[i], len + 1);
		if (dir)
			path[len - 1] = '\0';
		mesh_stage_put(b, domain, branch, path, &e);
	}
	ck_assert_int_eq(mesh_db_batch_write(db, b, true), 0);
	mesh_db_batch_free(b);
}

/* The tricky neighbourhood: "a-x" sorts between "a\0..." and "a/...". */
static const char *tricky[] = {
	"a/", "a-x/", "a/b/", "ab", "a/b/c", "a/z", "a-x/in", "a/b/d/",
	"a/b/d/e", "a.txt", "b"
};
#define NTRICKY (sizeof(tricky) / sizeof(tricky[0]))

typedef struct seen {
	char names[32][128];
	mesh_stage_entry entries[32];
	int n;
} seen;

static int collect(void *ctx, const char *name, const mesh_stage_entry *e)
{
	seen *s = ctx;

	ck_assert_int_lt(s->n, 32);
	ck_assert_uint_lt(strlen(name), 128);
	strcpy(s->names[s->n], name);
	s->entries[s->n] = *e;
	s->n++;
	return 0;
}

static int index_of(const seen *s, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return i;
	return -1;
}

START_TEST(put_get_roundtrip)
{
	mesh_db_batch *b;
	mesh_stage_entry in = entry_of(MESH_STAGE_DIR, 3), out;

	in.size = UINT64_MAX - 1;
	in.mode = 01777;
	ck_assert_int_eq(mesh_db_batch_new(&b), 0);
	mesh_stage_put(b, "sales", "main", "x/y.csv", &in);
	/* Not visible before the batch is written. */
	ck_assert_int_eq(mesh_stage_get(db, "sales", "main", "x/y.csv", &out),
			 MESH_ENOENT);
	ck_assert_int_eq(mesh_db_batch_write(db, b, false), 0);
	mesh_db_batch_free(b);

	ck_assert_int_eq(mesh_stage_get(db, "sales", "main", "x/y.csv", &out), 0);
	ck_assert_int_eq(out.kind, MESH_STAGE_DIR);
	ck_assert_uint_eq(out.mode, 01777);
	ck_assert_uint_eq(out.size, UINT64_MAX - 1);
	ck_assert_int_eq(out.mtime_ns, -1234567890123LL);
	ck_assert(out.has_lower);
	ck_assert(memcmp(out.id.id, in.id.id, MESH_OID_RAWSZ) == 0);
}
END_TEST

START_TEST(find_answers_without_error)
{
	const char *paths[] = { "d/", "d/f" };
	mesh_stage_entry e, want = entry_of(MESH_STAGE_FILE, 2);

	mesh_error_clear();
	ck_assert_int_eq(mesh_stage_find(db, "sales", "main", "d/f", &e), 0);
	ck_assert_str_eq(mesh_error_message(), "");
	stage_paths("sales", "main", paths, 2);
	ck_assert_int_eq(mesh_stage_find(db, "sales", "main", "d/f", &e), 1);
	ck_assert_int_eq(e.kind, MESH_STAGE_FILE);
	ck_assert_uint_eq(e.size, want.size);
	ck_assert(memcmp(e.id.id, want.id.id, MESH_OID_RAWSZ) == 0);
	ck_assert_int_eq(mesh_stage_find(db, "sales", "dev", "d/f", &e), 0);
	ck_assert_int_eq(mesh_stage_find(db, "sales", "main", "d", &e), 1);
	ck_assert_int_eq(e.kind, MESH_STAGE_DIR);
}
END_TEST

START_TEST(get_missing_names_path)
{
	mesh_stage_entry out;

	ck_assert_int_eq(mesh_stage_get(db, "sales", "main", "no/such", &out),
			 MESH_ENOENT);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "no/such"));
}
END_TEST

START_TEST(remove_and_tombstone)
{
	const char *paths[] = { "gone", "hidden" };
	mesh_stage_entry tomb = entry_of(MESH_STAGE_TOMBSTONE, 0), out;
	mesh_db_batch *b;

	stage_paths("d", "main", paths, 2);
	ck_assert_int_eq(mesh_db_batch_new(&b), 0);
	mesh_stage_remove(b, "d", "main", "gone");
	mesh_stage_put(b, "d", "main", "hidden", &tomb);
	ck_assert_int_eq(mesh_db_batch_write(db, b, true), 0);
	mesh_db_batch_free(b);

	ck_assert_int_eq(mesh_stage_get(db, "d", "main", "gone", &out),
			 MESH_ENOENT);
	ck_assert_int_eq(mesh_stage_get(db, "d", "main", "hidden", &out), 0);
	ck_assert_int_eq(out.kind, MESH_STAGE_TOMBSTONE);
}
END_TEST

START_TEST(list_dir_only_direct_children)
{
	seen s = { 0 };

	stage_paths("d", "main", tricky, NTRICKY);
	ck_assert_int_eq(mesh_stage_list_dir(db, "d", "main", "a", collect, &s),
			 0);
	ck_assert_int_eq(s.n, 2);
	ck_assert_str_eq(s.names[0], "b");
	ck_assert_int_eq(s.entries[0].kind, MESH_STAGE_DIR);
	ck_assert_str_eq(s.names[1], "z");
	ck_assert_int_eq(s.entries[1].kind, MESH_STAGE_FILE);
}
END_TEST

START_TEST(list_dir_top_level)
{
	seen s = { 0 };

	stage_paths("d", "main", tricky, NTRICKY);
	ck_assert_int_eq(mesh_stage_list_dir(db, "d", "main", "", collect, &s),
			 0);
	ck_assert_int_eq(s.n, 5);
	ck_assert_str_eq(s.names[0], "a");
	ck_assert_str_eq(s.names[1], "a-x");
	ck_assert_str_eq(s.names[2], "a.txt");
	ck_assert_str_eq(s.names[3], "ab");
	ck_assert_str_eq(s.names[4], "b");
}
END_TEST

START_TEST(list_dir_of_unstaged_dir_is_empty)
{
	seen s = { 0 };

	stage_paths("d", "main", tricky, NTRICKY);
	ck_assert_int_eq(mesh_stage_list_dir(db, "d", "main", "a/b/c", collect,
					     &s), 0);
	ck_assert_int_eq(s.n, 0);
}
END_TEST

static void assert_parents_first(const seen *s)
{
	for (int i = 0; i < s->n; i++) {
		char parent[128];
		char *slash;

		strcpy(parent, s->names[i]);
		while ((slash = strrchr(parent, '/'))) {
			int p;

			*slash = '\0';
			p = index_of(s, parent);
			if (p >= 0)
				ck_assert_msg(p < i, "%s listed after %s",
					      parent, s->names[i]);
		}
	}
}

START_TEST(list_tree_descendants_parents_first)
{
	seen s = { 0 };

	stage_paths("d", "main", tricky, NTRICKY);
	ck_assert_int_eq(mesh_stage_list_tree(db, "d", "main", "a", collect,
					      &s), 0);
	ck_assert_int_eq(s.n, 5);
	ck_assert_int_ge(index_of(&s, "a/b"), 0);
	ck_assert_int_ge(index_of(&s, "a/z"), 0);
	ck_assert_int_ge(index_of(&s, "a/b/c"), 0);
	ck_assert_int_ge(index_of(&s, "a/b/d"), 0);
	ck_assert_int_ge(index_of(&s, "a/b/d/e"), 0);
	/* Not "a" itself, nothing of its look-alike siblings. */
	ck_assert_int_lt(index_of(&s, "a"), 0);
	ck_assert_int_lt(index_of(&s, "a-x/in"), 0);
	assert_parents_first(&s);
}
END_TEST

START_TEST(list_tree_whole_branch)
{
	seen s = { 0 };

	stage_paths("d", "main", tricky, NTRICKY);
	stage_paths("d", "other", tricky, 2);
	ck_assert_int_eq(mesh_stage_list_tree(db, "d", "main", "", collect, &s),
			 0);
	ck_assert_int_eq(s.n, (int)NTRICKY);
	ck_assert_int_ge(index_of(&s, "a-x/in"), 0);
	ck_assert_int_ge(index_of(&s, "a/b/d/e"), 0);
	assert_parents_first(&s);
}
END_TEST

static int stop_at_second(void *ctx, const char *name,
			  const mesh_stage_entry *e)
{
	int *n = ctx;

	(void)name; (void)e;
	return ++*n == 2 ? 7 : 0;
}

START_TEST(callback_result_stops_listing)
{
	int n = 0;

	stage_paths("d", "main", tricky, NTRICKY);
	ck_assert_int_eq(mesh_stage_list_tree(db, "d", "main", "", stop_at_second,
					      &n), 7);
	ck_assert_int_eq(n, 2);
	n = 0;
	ck_assert_int_eq(mesh_stage_list_dir(db, "d", "main", "", stop_at_second,
					     &n), 7);
	ck_assert_int_eq(n, 2);
}
END_TEST

START_TEST(clear_tree_keeps_dir_and_siblings)
{
	mesh_db_batch *b;
	seen s = { 0 };
	mesh_stage_entry out;

	stage_paths("d", "main", tricky, NTRICKY);
	ck_assert_int_eq(mesh_db_batch_new(&b), 0);
	ck_assert_int_eq(mesh_stage_clear_tree(db, b, "d", "main", "a"), 0);
	ck_assert_uint_eq(mesh_db_batch_count(b), 5);
	ck_assert_int_eq(mesh_db_batch_write(db, b, true), 0);
	mesh_db_batch_free(b);

	ck_assert_int_eq(mesh_stage_list_tree(db, "d", "main", "", collect, &s),
			 0);
	ck_assert_int_eq(s.n, (int)NTRICKY - 5);
	ck_assert_int_eq(mesh_stage_get(db, "d", "main", "a", &out), 0);
	ck_assert_int_eq(mesh_stage_get(db, "d", "main", "a-x/in", &out), 0);
	ck_assert_int_eq(mesh_stage_get(db, "d", "main", "a/b/c", &out),
			 MESH_ENOENT);
}
END_TEST

START_TEST(clear_whole_branch)
{
	mesh_db_batch *b;
	uint64_t n = 99;

	stage_paths("d", "main", tricky, NTRICKY);
	stage_paths("d", "dev", tricky, 3);
	ck_assert_int_eq(mesh_db_batch_new(&b), 0);
	ck_assert_int_eq(mesh_stage_clear_tree(db, b, "d", "main", ""), 0);
	ck_assert_int_eq(mesh_db_batch_write(db, b, true), 0);
	mesh_db_batch_free(b);
	ck_assert_int_eq(mesh_stage_count(db, "d", "main", &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(mesh_stage_count(db, "d", "dev", &n), 0);
	ck_assert_uint_eq(n, 3);
}
END_TEST

START_TEST(branches_and_domains_isolated)
{
	const char *one[] = { "f" };
	const char *two[] = { "g", "h" };
	mesh_stage_entry out;
	uint64_t n;
	seen s = { 0 };

	stage_paths("d", "main", one, 1);
	stage_paths("d", "main2", two, 2);
	stage_paths("d2", "main", two, 2);
	stage_paths("dx", "main", tricky, NTRICKY);

	ck_assert_int_eq(mesh_stage_count(db, "d", "main", &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(mesh_stage_count(db, "d", "mai", &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(mesh_stage_count(db, "d", "main2", &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(mesh_stage_get(db, "d2", "main", "f", &out),
			 MESH_ENOENT);
	ck_assert_int_eq(mesh_stage_get(db, "d", "main", "g", &out),
			 MESH_ENOENT);
	ck_assert_int_eq(mesh_stage_list_tree(db, "d", "main", "", collect, &s),
			 0);
	ck_assert_int_eq(s.n, 1);
	ck_assert_str_eq(s.names[0], "f");
}
END_TEST

START_TEST(staging_survives_reopen)
{
	mesh_stage_entry out;
	uint64_t n;

	stage_paths("d", "main", tricky, NTRICKY);
	mesh_db_close(db);
	ck_assert_int_eq(mesh_db_open(&db, tmp), 0);
	ck_assert_int_eq(mesh_stage_count(db, "d", "main", &n), 0);
	ck_assert_uint_eq(n, NTRICKY);
	ck_assert_int_eq(mesh_stage_get(db, "d", "main", "a/b/d/e", &out), 0);
	ck_assert_int_eq(out.kind, MESH_STAGE_FILE);
	ck_assert_uint_eq(out.size, 9);
}
END_TEST

START_TEST(corrupt_value_is_eio)
{
	mesh_stage_entry out;
	seen s = { 0 };
	const char key[] = "s/d\0main\0\0bad";

	ck_assert_int_eq(mesh_db_put(db, key, sizeof(key) - 1, "xx", 2, false),
			 0);
	ck_assert_int_eq(mesh_stage_get(db, "d", "main", "bad", &out), MESH_EIO);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "bad"));
	ck_assert_int_eq(mesh_stage_list_dir(db, "d", "main", "", collect, &s),
			 MESH_EIO);
}
END_TEST

START_TEST(owner_times_and_rdev_roundtrip)
{
	mesh_stage_entry e = entry_of(MESH_STAGE_CHRDEV, 0), out;
	mesh_db_batch *b;

	e.uid = 1234;
	e.gid = 4000000000u;
	e.rdev = (1u << 8) | 3;
	e.atime_ns = 1700000000000000001LL;
	e.ctime_ns = -5;
	ck_assert_int_eq(mesh_db_batch_new(&b), 0);
	mesh_stage_put(b, "d", "main", "dev/null", &e);
	ck_assert_int_eq(mesh_db_batch_write(db, b, true), 0);
	mesh_db_batch_free(b);
	ck_assert_int_eq(mesh_stage_get(db, "d", "main", "dev/null", &out), 0);
	ck_assert_int_eq(out.kind, MESH_STAGE_CHRDEV);
	ck_assert_uint_eq(out.uid, 1234);
	ck_assert_uint_eq(out.gid, 4000000000u);
	ck_assert_uint_eq(out.rdev, (1u << 8) | 3);
	ck_assert_int_eq(out.atime_ns, 1700000000000000001LL);
	ck_assert_int_eq(out.ctime_ns, -5);
	ck_assert_int_eq(out.mtime_ns, e.mtime_ns);
}
END_TEST

/* A value of version 1, as staged before ownership and times were kept:
 * version, kind, has_lower, mode, size, mtime, id. */
START_TEST(version_1_values_still_decode)
{
	static const char key[] = "s/d\0main\0\0old.csv";
	unsigned char val[55] = { 1, MESH_STAGE_FILE, 0, 0xa4, 0x01 };
	mesh_stage_entry out;

	val[7] = 9;                        /* size 9 */
	val[15] = 100;                     /* mtime 100 ns */
	memset(val + 23, 0x5a, MESH_OID_RAWSZ);
	ck_assert_int_eq(mesh_db_put(db, key, sizeof(key) - 1, val, sizeof(val), true), 0);
	ck_assert_int_eq(mesh_stage_get(db, "d", "main", "old.csv", &out), 0);
	ck_assert_int_eq(out.kind, MESH_STAGE_FILE);
	ck_assert_uint_eq(out.mode, 0644);
	ck_assert_uint_eq(out.size, 9);
	ck_assert_uint_eq(out.uid, MESH_OWNER_LEGACY);
	ck_assert_uint_eq(out.gid, MESH_OWNER_LEGACY);
	ck_assert_int_eq(out.atime_ns, 100);
	ck_assert_int_eq(out.ctime_ns, 100);
	/* Version 1 knew no special files; a longer value of version 1 or
	 * an unknown version is damage. */
	val[1] = MESH_STAGE_FIFO;
	ck_assert_int_eq(mesh_db_put(db, key, sizeof(key) - 1, val, sizeof(val), true), 0);
	ck_assert_int_eq(mesh_stage_get(db, "d", "main", "old.csv", &out), MESH_EIO);
	val[0] = 3;
	val[1] = MESH_STAGE_FILE;
	ck_assert_int_eq(mesh_db_put(db, key, sizeof(key) - 1, val, sizeof(val), true), 0);
	ck_assert_int_eq(mesh_stage_get(db, "d", "main", "old.csv", &out), MESH_EIO);
}
END_TEST

static Suite *stage_suite(void)
{
	Suite *s = suite_create("stage");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, put_get_roundtrip);
	tcase_add_test(tc, get_missing_names_path);
	tcase_add_test(tc, find_answers_without_error);
	tcase_add_test(tc, remove_and_tombstone);
	tcase_add_test(tc, list_dir_only_direct_children);
	tcase_add_test(tc, list_dir_top_level);
	tcase_add_test(tc, list_dir_of_unstaged_dir_is_empty);
	tcase_add_test(tc, list_tree_descendants_parents_first);
	tcase_add_test(tc, list_tree_whole_branch);
	tcase_add_test(tc, callback_result_stops_listing);
	tcase_add_test(tc, clear_tree_keeps_dir_and_siblings);
	tcase_add_test(tc, clear_whole_branch);
	tcase_add_test(tc, branches_and_domains_isolated);
	tcase_add_test(tc, staging_survives_reopen);
	tcase_add_test(tc, corrupt_value_is_eio);
	tcase_add_test(tc, owner_times_and_rdev_roundtrip);
	tcase_add_test(tc, version_1_values_still_decode);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(stage_suite());
}
