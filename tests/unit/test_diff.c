#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"
#include "diff.h"
#include "error.h"

static char *tmp;
static mesh_odb *odb;

static void setup(void)
{
	tmp = test_tmpdir_new();
	odb = test_odb_new(tmp);
}

static void teardown(void)
{
	mesh_odb_close(odb);
	test_tmpdir_remove(tmp);
}

/* Fake content ids: trees, diffs and merges never read file maps. */
#define file test_file_entry
#define dir test_dir_entry
#define TREE(...) TEST_TREE(odb, __VA_ARGS__)
#define tree(entries, count) test_tree_write(odb, (entries), (count))

/* Every event as "<+|-|~> path", joined by spaces. */
typedef struct events {
	char text[4096];
	int count;
	int stop_after;      /* non-zero: return 7 at that event */
} events;

static int record(void *ctx, const char *path, mesh_diff_type type,
		  const mesh_tree_entry *old, const mesh_tree_entry *new_)
{
	events *ev = ctx;
	const char *sign = type == MESH_DIFF_ADDED ? "+" :
			   type == MESH_DIFF_REMOVED ? "-" : "~";

	/* The documented shape of each event. */
	ck_assert(type != MESH_DIFF_ADDED || (!old && new_));
	ck_assert(type != MESH_DIFF_REMOVED || (old && !new_));
	ck_assert(type != MESH_DIFF_CHANGED || (old && new_));
	ck_assert(!old || !old->name);
	ck_assert(!new_ || !new_->name);
	snprintf(ev->text + strlen(ev->text), sizeof(ev->text) - strlen(ev->text),
		 "%s%s%s", ev->count ? " " : "", sign, path);
	ev->count++;
	if (ev->stop_after && ev->count == ev->stop_after)
		return 7;
	return 0;
}

static void assert_diff(const mesh_oid *a, const mesh_oid *b,
			const char *prefix, const char *expected)
{
	events ev;

	memset(&ev, 0, sizeof(ev));
	ck_assert_int_eq(mesh_diff_trees(odb, a, b, prefix, record, &ev), 0);
	ck_assert_str_eq(ev.text, expected);
}

START_TEST(files_added_removed_changed)
{
	mesh_tree_entry moved = file("mode", 4);
	mesh_tree_entry touched = file("touched", 5);
	mesh_oid a, b;

	moved.mode = 0600;
	touched.mtime_ns += 99;
	a = TREE(file("changed", 1), file("gone", 2), file("mode", 4),
		 file("same", 3), file("touched", 5));
	b = TREE(file("changed", 9), moved, file("new", 6), file("same", 3),
		 touched);
	/* mtime alone is not a change; mode is. */
	assert_diff(&a, &b, NULL, "~changed -gone ~mode +new");
	assert_diff(&b, &a, "", "~changed +gone ~mode -new");
}
END_TEST

START_TEST(nested_change_reports_full_path_only)
{
	mesh_oid deep1 = TREE(file("x.csv", 1), file("y.csv", 2));
	mesh_oid deep2 = TREE(file("x.csv", 1), file("y.csv", 3));
	mesh_oid mid1 = TREE(dir("deep", deep1), file("m", 1));
	mesh_oid mid2 = TREE(dir("deep", deep2), file("m", 1));
	mesh_oid a = TREE(dir("a", mid1), file("top", 1));
	mesh_oid b = TREE(dir("a", mid2), file("top", 1));

	assert_diff(&a, &b, NULL, "~a/deep/y.csv");
}
END_TEST

START_TEST(directory_added_or_removed_once)
{
	mesh_oid sub = TREE(file("1", 1), file("2", 2), file("3", 3));
	mesh_oid a = TREE(file("keep", 1));
	mesh_oid b = TREE(file("keep", 1), dir("sub", sub));
	events ev;

	assert_diff(&a, &b, NULL, "+sub");
	assert_diff(&b, &a, NULL, "-sub");
	memset(&ev, 0, sizeof(ev));
	ck_assert_int_eq(mesh_diff_trees(odb, NULL, &b, NULL, record, &ev), 0);
	ck_assert_str_eq(ev.text, "+keep +sub");
}
END_TEST

START_TEST(kind_change_is_removed_then_added)
{
	mesh_oid sub = TREE(file("inner", 1));
	mesh_tree_entry link = file("x", 1);
	mesh_oid a, b, c;

	link.kind = MESH_KIND_SYMLINK;
	a = TREE(file("x", 1));
	b = TREE(dir("x", sub));
	c = TREE(link);
	assert_diff(&a, &b, NULL, "-x +x");
	assert_diff(&b, &a, NULL, "-x +x");
	/* Same id, other kind: still a kind change. */
	assert_diff(&a, &c, NULL, "-x +x");
}
END_TEST

START_TEST(walk_is_in_path_order)
{
	mesh_oid s1 = TREE(file("b", 1), file("d", 1));
	mesh_oid s2 = TREE(file("a", 1), file("b", 2), file("c", 1));
	mesh_oid a = TREE(file("a", 1), dir("m", s1), file("z", 1));
	mesh_oid b = TREE(file("a", 2), dir("m", s2), file("m.txt", 1),
			  file("z", 2));

	assert_diff(&a, &b, NULL, "~a +m/a ~m/b +m/c -m/d +m.txt ~z");
}
END_TEST

START_TEST(directory_mode_change_is_reported)
{
	mesh_oid sub = TREE(file("f", 1));
	mesh_tree_entry locked = dir("d", sub);
	mesh_oid a, b;

	locked.mode = 0700;
	a = TREE(dir("d", sub));
	b = TREE(locked);
	assert_diff(&a, &b, NULL, "~d");
}
END_TEST

START_TEST(prefix_limits_the_walk)
{
	mesh_oid in1 = TREE(file("f", 1), file("g", 1));
	mesh_oid in2 = TREE(file("f", 2), file("g", 1));
	mesh_oid a = TREE(file("before", 1), dir("d", in1), file("x", 1));
	mesh_oid b = TREE(file("before", 2), dir("d", in2), file("x", 2),
			  dir("y", in1));

	assert_diff(&a, &b, "d", "~d/f");
	assert_diff(&a, &b, "/d//", "~d/f");
	assert_diff(&a, &b, "d/f", "~d/f");
	assert_diff(&a, &b, "d/g", "");
	assert_diff(&a, &b, "x", "~x");
	/* A prefix absent on one side is the whole subtree added. */
	assert_diff(&a, &b, "y", "+y");
	assert_diff(&a, &b, "y/f", "+y/f");
	assert_diff(&b, &a, "y", "-y");
	/* Absent on both sides, or below a file: nothing to report. */
	assert_diff(&a, &b, "nothere", "");
	assert_diff(&a, &b, "x/under", "");
	assert_diff(&a, &b, "/", "~before ~d/f ~x +y");
	assert_diff(NULL, &b, "d", "+d");
}
END_TEST

START_TEST(identical_trees_report_nothing_and_read_nothing)
{
	mesh_oid sub = TREE(file("f", 1));
	mesh_oid a = TREE(dir("d", sub), file("g", 2));
	mesh_oid b = TREE(file("g", 2), dir("d", sub));
	mesh_odb_stats before, after;

	ck_assert_int_eq(mesh_oid_cmp(&a, &b), 0);
	mesh_odb_stats_get(odb, &before);
	assert_diff(&a, &b, NULL, "");
	mesh_odb_stats_get(odb, &after);
	ck_assert_uint_eq(after.reads, before.reads);
	assert_diff(NULL, NULL, NULL, "");
}
END_TEST

START_TEST(callback_result_stops_the_walk)
{
	mesh_oid a = TREE(file("a", 1), file("b", 1), file("c", 1));
	mesh_oid b = TREE(file("a", 2), file("b", 2), file("c", 2));
	events ev;

	memset(&ev, 0, sizeof(ev));
	ev.stop_after = 2;
	ck_assert_int_eq(mesh_diff_trees(odb, &a, &b, NULL, record, &ev), 7);
	ck_assert_str_eq(ev.text, "~a ~b");
}
END_TEST

START_TEST(missing_tree_is_an_error)
{
	mesh_oid a = TREE(file("a", 1));
	mesh_oid missing;
	events ev;

	memset(&ev, 0, sizeof(ev));
	memset(missing.id, 0x5a, MESH_OID_RAWSZ);
	ck_assert_int_eq(mesh_diff_trees(odb, &a, &missing, NULL, record, &ev),
			 MESH_EIO);
	ck_assert_int_eq(ev.count, 0);
}
END_TEST

START_TEST(type_names)
{
	ck_assert_str_eq(mesh_diff_type_name(MESH_DIFF_ADDED), "added");
	ck_assert_str_eq(mesh_diff_type_name(MESH_DIFF_REMOVED), "removed");
	ck_assert_str_eq(mesh_diff_type_name(MESH_DIFF_CHANGED), "changed");
}
END_TEST

/* ---- scale ------------------------------------------------------------ */

#define BIG_DIRS 1000
#define BIG_FILES 100

typedef struct big_tree {
	char names[BIG_DIRS > BIG_FILES ? BIG_DIRS : BIG_FILES][8];
	mesh_tree_entry files[BIG_FILES];
	mesh_tree_entry dirs[BIG_DIRS];
} big_tree;

static void big_init(big_tree *t)
{
	for (int i = 0; i < BIG_DIRS || i < BIG_FILES; i++)
		snprintf(t->names[i], sizeof(t->names[i]), "n%05d", i);
}

/* Directory d of the big tree; file f gets fill `bump` instead of its
 * usual content when f == bump_file. */
static mesh_oid big_dir(big_tree *t, int d, int bump_file)
{
	for (int f = 0; f < BIG_FILES; f++) {
		t->files[f] = file(t->names[f], 0);
		memcpy(t->files[f].id.id, &d, sizeof(d));
		memcpy(t->files[f].id.id + 8, &f, sizeof(f));
		if (f == bump_file)
			t->files[f].id.id[20] = 1;
	}
	return tree(t->files, BIG_FILES);
}

START_TEST(diff_cost_follows_changes_not_size)
{
	big_tree *t = calloc(1, sizeof(*t));
	mesh_odb_stats before, after;
	mesh_oid a, b;
	events ev;

	ck_assert_ptr_nonnull(t);
	big_init(t);
	for (int d = 0; d < BIG_DIRS; d++)
		t->dirs[d] = dir(t->names[d], big_dir(t, d, -1));
	a = tree(t->dirs, BIG_DIRS);
	for (int k = 0; k < 10; k++) {
		int d = k * 97 + 3;

		t->dirs[d].id = big_dir(t, d, k * 7);
	}
	b = tree(t->dirs, BIG_DIRS);
	mesh_odb_stats_get(odb, &before);
	memset(&ev, 0, sizeof(ev));
	ck_assert_int_eq(mesh_diff_trees(odb, &a, &b, NULL, record, &ev), 0);
	mesh_odb_stats_get(odb, &after);
	ck_assert_int_eq(ev.count, 10);
	ck_assert(strstr(ev.text, "~n00003/n00000"));
	ck_assert(strstr(ev.text, "~n00876/n00063"));
	ck_assert_uint_lt(after.reads - before.reads, 100);
	free(t);
}
END_TEST

static Suite *diff_suite(void)
{
	Suite *s = suite_create("diff");
	TCase *tc = tcase_create("core");
	TCase *big = tcase_create("scale");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, files_added_removed_changed);
	tcase_add_test(tc, nested_change_reports_full_path_only);
	tcase_add_test(tc, directory_added_or_removed_once);
	tcase_add_test(tc, kind_change_is_removed_then_added);
	tcase_add_test(tc, walk_is_in_path_order);
	tcase_add_test(tc, directory_mode_change_is_reported);
	tcase_add_test(tc, prefix_limits_the_walk);
	tcase_add_test(tc, identical_trees_report_nothing_and_read_nothing);
	tcase_add_test(tc, callback_result_stops_the_walk);
	tcase_add_test(tc, missing_tree_is_an_error);
	tcase_add_test(tc, type_names);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(big, setup, teardown);
	tcase_set_timeout(big, 240);
	tcase_add_test(big, diff_cost_follows_changes_not_size);
	suite_add_tcase(s, big);
	return s;
}

int main(void)
{
	return test_run_suite(diff_suite());
}
