#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"
#include "commit.h"
#include "diff.h"
#include "error.h"
#include "merge.h"

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

/* ---- trees -------------------------------------------------------------- */

/* Fake content ids: trees, diffs and merges never read file maps. */
#define file test_file_entry
#define dir test_dir_entry
#define TREE(...) TEST_TREE(odb, __VA_ARGS__)
#define tree(entries, count) test_tree_write(odb, (entries), (count))

static mesh_oid empty_tree(void)
{
	mesh_oid id;

	ck_assert_int_eq(mesh_tree_empty(odb, &id), 0);
	return id;
}

/* The fill of the file at path in root, 0 when absent, -1 for a dir. */
static int fill_at(const mesh_oid *root, const char *path)
{
	mesh_tree_entry e;
	int rc = mesh_tree_lookup_path(odb, root, path, &e);

	if (rc == MESH_ENOENT)
		return 0;
	ck_assert_int_eq(rc, 0);
	if (e.kind == MESH_KIND_DIR)
		return -1;
	return e.id.id[0];
}

static void assert_clean(const mesh_merge_result *r)
{
	ck_assert_msg(r->conflict_count == 0, "unexpected conflict at %s",
		      r->conflict_count ? r->conflicts[0].path : "");
	ck_assert_ptr_null(r->conflicts);
}

static void assert_conflict(const mesh_merge_result *r, size_t i,
			    const char *path, mesh_conflict_kind kind)
{
	ck_assert_uint_gt(r->conflict_count, i);
	ck_assert_str_eq(r->conflicts[i].path, path);
	ck_assert_str_eq(mesh_conflict_kind_name(r->conflicts[i].kind),
			 mesh_conflict_kind_name(kind));
}

START_TEST(clean_merge_takes_each_sides_changes)
{
	mesh_oid base = TREE(file("a", 1), file("b", 1), file("c", 1),
			     file("d", 1));
	mesh_oid ours = TREE(file("a", 2), file("b", 1), file("d", 1),
			     file("o", 1));
	mesh_oid theirs = TREE(file("a", 1), file("b", 3), file("c", 1),
			       file("t", 1));
	mesh_merge_result r;

	ck_assert_int_eq(mesh_merge_trees(odb, &base, &ours, &theirs,
					  MESH_MERGE_FAIL, &r), 0);
	assert_clean(&r);
	ck_assert_int_eq(fill_at(&r.tree, "a"), 2);   /* ours changed */
	ck_assert_int_eq(fill_at(&r.tree, "b"), 3);   /* theirs changed */
	ck_assert_int_eq(fill_at(&r.tree, "c"), 0);   /* ours deleted */
	ck_assert_int_eq(fill_at(&r.tree, "d"), 0);   /* theirs deleted */
	ck_assert_int_eq(fill_at(&r.tree, "o"), 1);   /* ours added */
	ck_assert_int_eq(fill_at(&r.tree, "t"), 1);   /* theirs added */
	/* Only theirs' edit, deletion and addition change ours. */
	ck_assert_uint_eq(r.changes, 3);
	ck_assert_uint_eq(r.resolved_count, 0);
	mesh_merge_result_free(&r);
}
END_TEST

START_TEST(one_sided_merges_take_that_side_whole)
{
	mesh_oid base = TREE(file("a", 1));
	mesh_oid changed = TREE(file("a", 2), file("b", 1));
	mesh_merge_result r;

	ck_assert_int_eq(mesh_merge_trees(odb, &base, &base, &changed,
					  MESH_MERGE_FAIL, &r), 0);
	assert_clean(&r);
	ck_assert_int_eq(mesh_oid_cmp(&r.tree, &changed), 0);
	ck_assert_uint_eq(r.changes, 2);
	mesh_merge_result_free(&r);

	ck_assert_int_eq(mesh_merge_trees(odb, &base, &changed, &base,
					  MESH_MERGE_FAIL, &r), 0);
	assert_clean(&r);
	ck_assert_int_eq(mesh_oid_cmp(&r.tree, &changed), 0);
	ck_assert_uint_eq(r.changes, 0);
	mesh_merge_result_free(&r);
}
END_TEST

START_TEST(same_change_on_both_sides_is_clean)
{
	mesh_oid base = TREE(file("a", 1), file("b", 1), file("gone", 1));
	mesh_oid ours = TREE(file("a", 5), file("b", 1), file("new", 4));
	mesh_oid theirs = TREE(file("a", 5), file("b", 2), file("new", 4));
	mesh_merge_result r;

	ck_assert_int_eq(mesh_merge_trees(odb, &base, &ours, &theirs,
					  MESH_MERGE_FAIL, &r), 0);
	assert_clean(&r);
	ck_assert_int_eq(fill_at(&r.tree, "a"), 5);
	ck_assert_int_eq(fill_at(&r.tree, "b"), 2);
	ck_assert_int_eq(fill_at(&r.tree, "gone"), 0);
	ck_assert_int_eq(fill_at(&r.tree, "new"), 4);
	ck_assert_uint_eq(r.changes, 1);
	mesh_merge_result_free(&r);
}
END_TEST

START_TEST(nested_directories_merge_file_by_file)
{
	mesh_oid leaf0 = TREE(file("x", 1), file("y", 1));
	mesh_oid leaf1 = TREE(file("x", 2), file("y", 1));
	mesh_oid leaf2 = TREE(file("x", 1), file("y", 3), file("z", 3));
	mesh_oid base = TREE(dir("d", TREE(dir("e", leaf0))), file("f", 1));
	mesh_oid ours = TREE(dir("d", TREE(dir("e", leaf1))), file("f", 1));
	mesh_oid theirs = TREE(dir("d", TREE(dir("e", leaf2))), file("f", 2));
	mesh_merge_result r;

	ck_assert_int_eq(mesh_merge_trees(odb, &base, &ours, &theirs,
					  MESH_MERGE_FAIL, &r), 0);
	assert_clean(&r);
	ck_assert_int_eq(fill_at(&r.tree, "d/e/x"), 2);
	ck_assert_int_eq(fill_at(&r.tree, "d/e/y"), 3);
	ck_assert_int_eq(fill_at(&r.tree, "d/e/z"), 3);
	ck_assert_int_eq(fill_at(&r.tree, "f"), 2);
	ck_assert_uint_eq(r.changes, 3);
	mesh_merge_result_free(&r);
}
END_TEST

/* One tree pair per conflict kind, the paths chosen so that the
 * conflicts come out in a known order. */
typedef struct conflict_case {
	mesh_oid base, ours, theirs;
} conflict_case;

static conflict_case all_conflicts(void)
{
	conflict_case c;
	mesh_oid sub = TREE(file("inside", 1));
	mesh_oid sub_changed = TREE(file("inside", 2));

	c.base = TREE(file("both", 1), file("cd", 1), file("dc", 1),
		      file("fd", 1), dir("sub", sub));
	c.ours = TREE(file("added", 7), file("both", 2), file("cd", 2),
		      dir("fd", sub), dir("sub", sub_changed));
	c.theirs = TREE(file("added", 8), file("both", 3), file("dc", 3),
			file("fd", 4));
	return c;
}

START_TEST(every_conflict_kind_is_reported)
{
	conflict_case c = all_conflicts();
	mesh_merge_result r;

	ck_assert_int_eq(mesh_merge_trees(odb, &c.base, &c.ours, &c.theirs,
					  MESH_MERGE_FAIL, &r), 0);
	ck_assert_uint_eq(r.conflict_count, 6);
	assert_conflict(&r, 0, "added", MESH_CONFLICT_BOTH_CHANGED);
	assert_conflict(&r, 1, "both", MESH_CONFLICT_BOTH_CHANGED);
	assert_conflict(&r, 2, "cd", MESH_CONFLICT_CHANGE_DELETE);
	assert_conflict(&r, 3, "dc", MESH_CONFLICT_DELETE_CHANGE);
	assert_conflict(&r, 4, "fd", MESH_CONFLICT_FILE_DIR);
	/* A directory changed on one side and deleted on the other. */
	assert_conflict(&r, 5, "sub", MESH_CONFLICT_CHANGE_DELETE);
	ck_assert_uint_eq(r.resolved_count, 0);
	mesh_merge_result_free(&r);
	ck_assert_uint_eq(r.conflict_count, 0);
	ck_assert_ptr_null(r.conflicts);
}
END_TEST

START_TEST(conflicts_deep_in_the_tree_carry_full_paths)
{
	mesh_oid base = TREE(dir("a", TREE(dir("b", TREE(file("c", 1))))),
			     dir("z", TREE(file("q", 1))));
	mesh_oid ours = TREE(dir("a", TREE(dir("b", TREE(file("c", 2))))),
			     dir("z", TREE(file("q", 2))));
	mesh_oid theirs = TREE(dir("a", TREE(dir("b", TREE(file("c", 3))))),
			       dir("z", TREE(file("q", 3))));
	mesh_merge_result r;

	ck_assert_int_eq(mesh_merge_trees(odb, &base, &ours, &theirs,
					  MESH_MERGE_FAIL, &r), 0);
	ck_assert_uint_eq(r.conflict_count, 2);
	assert_conflict(&r, 0, "a/b/c", MESH_CONFLICT_BOTH_CHANGED);
	assert_conflict(&r, 1, "z/q", MESH_CONFLICT_BOTH_CHANGED);
	mesh_merge_result_free(&r);
}
END_TEST

START_TEST(dest_wins_keeps_ours)
{
	conflict_case c = all_conflicts();
	mesh_merge_result r;

	ck_assert_int_eq(mesh_merge_trees(odb, &c.base, &c.ours, &c.theirs,
					  MESH_MERGE_DEST_WINS, &r), 0);
	assert_clean(&r);
	ck_assert_uint_eq(r.resolved_count, 6);
	ck_assert_int_eq(mesh_oid_cmp(&r.tree, &c.ours), 0);
	ck_assert_uint_eq(r.changes, 0);
	mesh_merge_result_free(&r);
}
END_TEST

START_TEST(source_wins_takes_theirs)
{
	conflict_case c = all_conflicts();
	mesh_merge_result r;

	ck_assert_int_eq(mesh_merge_trees(odb, &c.base, &c.ours, &c.theirs,
					  MESH_MERGE_SOURCE_WINS, &r), 0);
	assert_clean(&r);
	ck_assert_uint_eq(r.resolved_count, 6);
	ck_assert_int_eq(fill_at(&r.tree, "added"), 8);
	ck_assert_int_eq(fill_at(&r.tree, "both"), 3);
	ck_assert_int_eq(fill_at(&r.tree, "cd"), 0);   /* the delete wins */
	ck_assert_int_eq(fill_at(&r.tree, "dc"), 3);
	ck_assert_int_eq(fill_at(&r.tree, "fd"), 4);
	ck_assert_int_eq(fill_at(&r.tree, "sub"), 0);
	ck_assert_int_eq(mesh_oid_cmp(&r.tree, &c.theirs), 0);
	/* added, both, cd, dc, sub; fd counts once though it changes kind */
	ck_assert_uint_eq(r.changes, 6);
	mesh_merge_result_free(&r);
}
END_TEST

START_TEST(strategy_resolves_only_conflicts)
{
	mesh_oid base = TREE(file("a", 1), file("b", 1));
	mesh_oid ours = TREE(file("a", 2), file("b", 1), file("o", 1));
	mesh_oid theirs = TREE(file("a", 3), file("b", 4));
	mesh_merge_result r;

	ck_assert_int_eq(mesh_merge_trees(odb, &base, &ours, &theirs,
					  MESH_MERGE_DEST_WINS, &r), 0);
	assert_clean(&r);
	ck_assert_uint_eq(r.resolved_count, 1);
	ck_assert_int_eq(fill_at(&r.tree, "a"), 2);
	ck_assert_int_eq(fill_at(&r.tree, "b"), 4);
	ck_assert_int_eq(fill_at(&r.tree, "o"), 1);
	ck_assert_uint_eq(r.changes, 1);
	mesh_merge_result_free(&r);
}
END_TEST

START_TEST(no_base_means_everything_is_new)
{
	mesh_oid ours = TREE(file("both", 1), file("o", 1), file("same", 5),
			     dir("d", TREE(file("x", 1))));
	mesh_oid theirs = TREE(file("both", 2), file("t", 1), file("same", 5),
			       dir("d", TREE(file("y", 1))));
	mesh_oid only = TREE(file("o", 1));
	mesh_merge_result r;

	ck_assert_int_eq(mesh_merge_trees(odb, NULL, &ours, &theirs,
					  MESH_MERGE_FAIL, &r), 0);
	ck_assert_uint_eq(r.conflict_count, 1);
	assert_conflict(&r, 0, "both", MESH_CONFLICT_BOTH_CHANGED);
	mesh_merge_result_free(&r);

	ck_assert_int_eq(mesh_merge_trees(odb, NULL, &ours, &theirs,
					  MESH_MERGE_SOURCE_WINS, &r), 0);
	assert_clean(&r);
	ck_assert_int_eq(fill_at(&r.tree, "both"), 2);
	ck_assert_int_eq(fill_at(&r.tree, "o"), 1);
	ck_assert_int_eq(fill_at(&r.tree, "t"), 1);
	ck_assert_int_eq(fill_at(&r.tree, "d/x"), 1);
	ck_assert_int_eq(fill_at(&r.tree, "d/y"), 1);
	ck_assert_uint_eq(r.changes, 3);
	mesh_merge_result_free(&r);

	/* Equal sides need no base; into an empty tree, theirs whole. */
	ck_assert_int_eq(mesh_merge_trees(odb, NULL, &only, &only,
					  MESH_MERGE_FAIL, &r), 0);
	ck_assert_int_eq(mesh_oid_cmp(&r.tree, &only), 0);
	mesh_merge_result_free(&r);
	{
		mesh_oid empty = empty_tree();

		ck_assert_int_eq(mesh_merge_trees(odb, NULL, &empty, &only,
						  MESH_MERGE_FAIL, &r), 0);
		assert_clean(&r);
		ck_assert_int_eq(mesh_oid_cmp(&r.tree, &only), 0);
		ck_assert_uint_eq(r.changes, 1);
		mesh_merge_result_free(&r);
	}
}
END_TEST

START_TEST(bad_arguments_are_rejected)
{
	mesh_oid t = empty_tree();
	mesh_merge_result r;

	ck_assert_int_eq(mesh_merge_trees(odb, NULL, &t, NULL,
					  MESH_MERGE_FAIL, &r), MESH_EINVAL);
	ck_assert_int_eq(mesh_merge_trees(odb, NULL, &t, &t,
					  (mesh_merge_strategy)9, &r),
			 MESH_EINVAL);
}
END_TEST

START_TEST(names_and_strategies)
{
	mesh_merge_strategy s = MESH_MERGE_FAIL;

	ck_assert_int_eq(mesh_merge_strategy_parse("dest-wins", &s), 0);
	ck_assert_int_eq(s, MESH_MERGE_DEST_WINS);
	ck_assert_int_eq(mesh_merge_strategy_parse("source-wins", &s), 0);
	ck_assert_int_eq(s, MESH_MERGE_SOURCE_WINS);
	ck_assert_int_eq(mesh_merge_strategy_parse("ours", &s), MESH_EINVAL);
	ck_assert(strstr(mesh_error_message(), "dest-wins"));
	ck_assert(strstr(mesh_error_message(), "source-wins"));
	ck_assert(strstr(mesh_error_message(), "ours"));
	ck_assert_int_eq(mesh_merge_strategy_parse("", &s), MESH_EINVAL);
	ck_assert_str_eq(mesh_conflict_kind_name(MESH_CONFLICT_BOTH_CHANGED),
			 "both-changed");
	ck_assert_str_eq(mesh_conflict_kind_name(MESH_CONFLICT_CHANGE_DELETE),
			 "change-delete");
	ck_assert_str_eq(mesh_conflict_kind_name(MESH_CONFLICT_DELETE_CHANGE),
			 "delete-change");
	ck_assert_str_eq(mesh_conflict_kind_name(MESH_CONFLICT_FILE_DIR),
			 "file-dir");
}
END_TEST

/* ---- commits ------------------------------------------------------------ */

static mesh_oid commit_at(const char *msg, int64_t time, size_t nparents,
			  const mesh_oid *p1, const mesh_oid *p2)
{
	mesh_oid parents[2], id;
	mesh_commit c;

	memset(&c, 0, sizeof(c));
	if (p1)
		parents[0] = *p1;
	if (p2)
		parents[1] = *p2;
	c.tree = empty_tree();
	c.parents = parents;
	c.parent_count = nparents;
	c.author = "tester";
	c.time = time;
	c.message = (char *)msg;
	ck_assert_int_eq(mesh_commit_write(odb, &c, &id), 0);
	return id;
}

#define ROOT(msg, t) commit_at(msg, t, 0, NULL, NULL)
#define CHILD(msg, t, p) commit_at(msg, t, 1, &(p), NULL)
#define MERGE(msg, t, p, q) commit_at(msg, t, 2, &(p), &(q))

static void assert_base(const mesh_oid *a, const mesh_oid *b,
			const mesh_oid *expected)
{
	mesh_oid got;

	ck_assert_int_eq(mesh_merge_base(odb, a, b, &got), 0);
	ck_assert_int_eq(mesh_oid_cmp(&got, expected), 0);
	/* The answer must not depend on the order of the question. */
	ck_assert_int_eq(mesh_merge_base(odb, b, a, &got), 0);
	ck_assert_int_eq(mesh_oid_cmp(&got, expected), 0);
}

START_TEST(base_on_linear_history)
{
	mesh_oid c1 = ROOT("c1", 100);
	mesh_oid c2 = CHILD("c2", 200, c1);
	mesh_oid c3 = CHILD("c3", 300, c2);

	assert_base(&c3, &c1, &c1);
	assert_base(&c3, &c2, &c2);
	assert_base(&c3, &c3, &c3);
}
END_TEST

START_TEST(base_of_a_fork)
{
	mesh_oid r = ROOT("r", 100);
	mesh_oid a1 = CHILD("a1", 200, r);
	mesh_oid a2 = CHILD("a2", 300, a1);
	mesh_oid b1 = CHILD("b1", 250, r);

	assert_base(&a2, &b1, &r);
}
END_TEST

START_TEST(base_ignores_older_ancestors_even_with_skewed_clocks)
{
	/* r claims a later time than its child x: the best base is still x,
	 * the one that is not an ancestor of another common ancestor. */
	mesh_oid r = ROOT("r", 9000);
	mesh_oid x = CHILD("x", 100, r);
	mesh_oid a = CHILD("a", 200, x);
	mesh_oid b = CHILD("b", 300, x);

	assert_base(&a, &b, &x);
}
END_TEST

START_TEST(criss_cross_picks_the_latest_best_base)
{
	mesh_oid r = ROOT("r", 100);
	mesh_oid a1 = CHILD("a1", 200, r);
	mesh_oid b1 = CHILD("b1", 250, r);
	mesh_oid a2 = MERGE("a2", 300, a1, b1);
	mesh_oid b2 = MERGE("b2", 310, b1, a1);
	mesh_oid a3 = CHILD("a3", 400, a2);

	/* a1 and b1 are both best; b1 is newer. */
	assert_base(&a2, &b2, &b1);
	assert_base(&a3, &b2, &b1);
}
END_TEST

START_TEST(criss_cross_tie_goes_to_the_smaller_id)
{
	mesh_oid r = ROOT("r", 100);
	mesh_oid a1 = CHILD("a1", 200, r);
	mesh_oid b1 = CHILD("b1", 200, r);
	mesh_oid a2 = MERGE("a2", 300, a1, b1);
	mesh_oid b2 = MERGE("b2", 300, b1, a1);
	const mesh_oid *smaller = mesh_oid_cmp(&a1, &b1) < 0 ? &a1 : &b1;

	assert_base(&a2, &b2, smaller);
}
END_TEST

START_TEST(base_with_a_merge_commit_on_one_side)
{
	mesh_oid r = ROOT("r", 100);
	mesh_oid m1 = CHILD("m1", 200, r);
	mesh_oid f1 = CHILD("f1", 210, r);
	mesh_oid m2 = MERGE("m2 merges f1", 300, m1, f1);
	mesh_oid f2 = CHILD("f2", 310, f1);
	mesh_oid m3 = CHILD("m3", 320, m2);

	/* f1 is reachable from m2 only through its second parent. */
	assert_base(&m2, &f2, &f1);
	assert_base(&m3, &f2, &f1);
	assert_base(&m3, &f1, &f1);
}
END_TEST

START_TEST(unrelated_histories_have_no_base)
{
	mesh_oid x = ROOT("x", 100);
	mesh_oid y = CHILD("y", 200, x);
	mesh_oid z = ROOT("z", 150);
	mesh_oid out;

	ck_assert_int_eq(mesh_merge_base(odb, &y, &z, &out), MESH_ENOENT);
	ck_assert(strlen(mesh_error_message()) > 0);
}
END_TEST

START_TEST(missing_commit_is_an_error)
{
	mesh_oid x = ROOT("x", 100), missing;

	memset(missing.id, 0x42, MESH_OID_RAWSZ);
	ck_assert_int_eq(mesh_merge_base(odb, &x, &missing, &missing),
			 MESH_EIO);
	ck_assert_int_eq(mesh_merge_is_ancestor(odb, &missing, &x),
			 MESH_EIO);
}
END_TEST

START_TEST(is_ancestor_follows_every_parent)
{
	mesh_oid r = ROOT("r", 100);
	mesh_oid m1 = CHILD("m1", 200, r);
	mesh_oid f1 = CHILD("f1", 210, r);
	mesh_oid m2 = MERGE("m2", 300, m1, f1);
	mesh_oid f2 = CHILD("f2", 310, f1);

	ck_assert_int_eq(mesh_merge_is_ancestor(odb, &r, &m2), 1);
	ck_assert_int_eq(mesh_merge_is_ancestor(odb, &f1, &m2), 1);
	ck_assert_int_eq(mesh_merge_is_ancestor(odb, &m2, &m2), 1);
	ck_assert_int_eq(mesh_merge_is_ancestor(odb, &m2, &m1), 0);
	ck_assert_int_eq(mesh_merge_is_ancestor(odb, &f2, &m2), 0);
	ck_assert_int_eq(mesh_merge_is_ancestor(odb, &m1, &f2), 0);
}
END_TEST

/* ---- scale -------------------------------------------------------------- */

#define BIG_DIRS 1000
#define BIG_FILES 100

typedef struct big_tree {
	char names[BIG_DIRS][8];
	mesh_tree_entry files[BIG_FILES];
	mesh_tree_entry dirs[BIG_DIRS];
} big_tree;

/* Directory d, with file f changed to version v when f >= 0. */
static mesh_oid big_dir(big_tree *t, int d, int f_changed, unsigned char v)
{
	for (int f = 0; f < BIG_FILES; f++) {
		t->files[f] = file(t->names[f], 1);
		memcpy(t->files[f].id.id + 4, &d, sizeof(d));
		memcpy(t->files[f].id.id + 12, &f, sizeof(f));
		if (f == f_changed)
			t->files[f].id.id[0] = v;
	}
	return tree(t->files, BIG_FILES);
}

static mesh_oid commit_tree(const mesh_oid *tree_id, const char *msg,
			    const mesh_oid *parent)
{
	mesh_commit c;
	mesh_oid id;

	memset(&c, 0, sizeof(c));
	c.tree = *tree_id;
	c.parents = (mesh_oid *)parent;
	c.parent_count = parent ? 1 : 0;
	c.author = "tester";
	c.time = 1000;
	c.message = (char *)msg;
	ck_assert_int_eq(mesh_commit_write(odb, &c, &id), 0);
	return id;
}

static mesh_oid tree_of(const mesh_oid *commit_id)
{
	mesh_commit *c;
	mesh_oid id;

	ck_assert_int_eq(mesh_commit_load(odb, commit_id, &c), 0);
	id = c->tree;
	mesh_commit_free(c);
	return id;
}

START_TEST(merge_cost_follows_changes_not_size)
{
	big_tree *t = calloc(1, sizeof(*t));
	mesh_oid base_tree, ours_tree, theirs_tree, base, ours, theirs, mb;
	mesh_oid bt, ot, tt;
	mesh_odb_stats before, after;
	mesh_merge_result r;
	char path[32];

	ck_assert_ptr_nonnull(t);
	for (int i = 0; i < BIG_DIRS; i++)
		snprintf(t->names[i], sizeof(t->names[i]), "n%05d", i);
	for (int d = 0; d < BIG_DIRS; d++)
		t->dirs[d] = dir(t->names[d], big_dir(t, d, -1, 0));
	base_tree = tree(t->dirs, BIG_DIRS);
	/* Ours edits 5 files, theirs 5 others; two share a directory. */
	for (int k = 0; k < 5; k++)
		t->dirs[k * 100].id = big_dir(t, k * 100, k, 2);
	ours_tree = tree(t->dirs, BIG_DIRS);
	for (int k = 0; k < 5; k++)
		t->dirs[k * 100].id = big_dir(t, k * 100, -1, 0);
	t->dirs[0].id = big_dir(t, 0, 50, 3);
	for (int k = 1; k < 5; k++)
		t->dirs[k * 100 + 1].id = big_dir(t, k * 100 + 1, k, 3);
	theirs_tree = tree(t->dirs, BIG_DIRS);
	base = commit_tree(&base_tree, "base", NULL);
	ours = commit_tree(&ours_tree, "ours", &base);
	theirs = commit_tree(&theirs_tree, "theirs", &base);

	mesh_odb_stats_get(odb, &before);
	ck_assert_int_eq(mesh_merge_base(odb, &ours, &theirs, &mb), 0);
	ck_assert_int_eq(mesh_oid_cmp(&mb, &base), 0);
	bt = tree_of(&mb);
	ot = tree_of(&ours);
	tt = tree_of(&theirs);
	ck_assert_int_eq(mesh_merge_trees(odb, &bt, &ot, &tt, MESH_MERGE_FAIL,
					  &r), 0);
	mesh_odb_stats_get(odb, &after);
	assert_clean(&r);
	ck_assert_uint_eq(r.changes, 5);
	ck_assert_uint_lt(after.reads - before.reads, 100);
	ck_assert_int_eq(fill_at(&r.tree, "n00000/n00000"), 2);
	ck_assert_int_eq(fill_at(&r.tree, "n00000/n00050"), 3);
	snprintf(path, sizeof(path), "%s/%s", t->names[401], t->names[4]);
	ck_assert_int_eq(fill_at(&r.tree, path), 3);
	snprintf(path, sizeof(path), "%s/%s", t->names[400], t->names[4]);
	ck_assert_int_eq(fill_at(&r.tree, path), 2);
	snprintf(path, sizeof(path), "%s/%s", t->names[999], t->names[99]);
	ck_assert_int_eq(fill_at(&r.tree, path), 1);
	mesh_merge_result_free(&r);
	free(t);
}
END_TEST

static Suite *merge_suite(void)
{
	Suite *s = suite_create("merge");
	TCase *trees = tcase_create("trees");
	TCase *bases = tcase_create("bases");
	TCase *big = tcase_create("scale");

	tcase_add_checked_fixture(trees, setup, teardown);
	tcase_add_test(trees, clean_merge_takes_each_sides_changes);
	tcase_add_test(trees, one_sided_merges_take_that_side_whole);
	tcase_add_test(trees, same_change_on_both_sides_is_clean);
	tcase_add_test(trees, nested_directories_merge_file_by_file);
	tcase_add_test(trees, every_conflict_kind_is_reported);
	tcase_add_test(trees, conflicts_deep_in_the_tree_carry_full_paths);
	tcase_add_test(trees, dest_wins_keeps_ours);
	tcase_add_test(trees, source_wins_takes_theirs);
	tcase_add_test(trees, strategy_resolves_only_conflicts);
	tcase_add_test(trees, no_base_means_everything_is_new);
	tcase_add_test(trees, bad_arguments_are_rejected);
	tcase_add_test(trees, names_and_strategies);
	suite_add_tcase(s, trees);

	tcase_add_checked_fixture(bases, setup, teardown);
	tcase_add_test(bases, base_on_linear_history);
	tcase_add_test(bases, base_of_a_fork);
	tcase_add_test(bases, base_ignores_older_ancestors_even_with_skewed_clocks);
	tcase_add_test(bases, criss_cross_picks_the_latest_best_base);
	tcase_add_test(bases, criss_cross_tie_goes_to_the_smaller_id);
	tcase_add_test(bases, base_with_a_merge_commit_on_one_side);
	tcase_add_test(bases, unrelated_histories_have_no_base);
	tcase_add_test(bases, missing_commit_is_an_error);
	tcase_add_test(bases, is_ancestor_follows_every_parent);
	suite_add_tcase(s, bases);

	tcase_add_checked_fixture(big, setup, teardown);
	tcase_set_timeout(big, 240);
	tcase_add_test(big, merge_cost_follows_changes_not_size);
	suite_add_tcase(s, big);
	return s;
}

int main(void)
{
	return test_run_suite(merge_suite());
}
