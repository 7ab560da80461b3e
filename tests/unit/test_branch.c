/* test_branch.c - branches, tags, merge, revert and cherry-pick of a
 * domain, and what they cost on a domain of 100,000 files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "branch.h"
#include "commit.h"
#include "diff.h"
#include "domain.h"
#include "error.h"
#include "file.h"
#include "history.h"
#include "store.h"
#include "view.h"

static char *tmp;
static mesh_store *store;
static mesh_caller caller;

static void setup(void)
{
	tmp = test_tmpdir_new();
	store = test_store_new(tmp, &caller, "sales");
}

static void teardown(void)
{
	mesh_store_close(store);
	test_tmpdir_remove(tmp);
}

/* ---- helpers ------------------------------------------------------------ */

static mesh_view *open_branch(const char *branch)
{
	mesh_view *view;
	int error = mesh_view_open_branch(&view, store, "sales", branch);

	ck_assert_msg(error == 0, "open sales/%s: %d %s", branch, error, mesh_error_message());
	return view;
}

static void stage(mesh_view *view, const char *path, const char *content)
{
	mesh_oid map;
	int error;

	ck_assert_int_eq(mesh_file_write_buf(mesh_store_odb(store), NULL, content,
					     strlen(content), &map), 0);
	error = mesh_view_stage_content(view, &caller, path, MESH_KIND_FILE, 0644,
					strlen(content), 0, &map, false);
	ck_assert_msg(error == 0, "stage %s: %d %s", path, error, mesh_error_message());
}

static void unstage_file(mesh_view *view, const char *path)
{
	ck_assert_int_eq(mesh_view_unlink(view, &caller, path), 0);
}

static mesh_oid commit(mesh_view *view, const char *message)
{
	mesh_oid id;
	size_t changes;
	int error = mesh_view_commit(view, &caller, message, NULL, 0, &id, &changes);

	ck_assert_msg(error == 0, "commit %s: %d %s", message, error, mesh_error_message());
	return id;
}

/* Stages one file on a branch and commits it. */
static mesh_oid commit_file(const char *branch, const char *path, const char *content)
{
	mesh_view *view = open_branch(branch);
	mesh_oid id;

	stage(view, path, content);
	id = commit(view, path);
	mesh_view_free(view);
	return id;
}

static mesh_oid head_of(const char *branch)
{
	mesh_oid head;

	ck_assert_int_eq(mesh_history_branch_head(store, "sales", branch, &head), 0);
	return head;
}

static mesh_oid resolve(const char *spec)
{
	mesh_rev rev;
	int error = mesh_revparse(store, "sales", spec, &rev);

	ck_assert_msg(error == 0, "revparse %s: %d %s", spec, error, mesh_error_message());
	return rev.commit;
}

static void assert_oid_eq(const mesh_oid *a, const mesh_oid *b, const char *what)
{
	char ha[MESH_OID_HEXSZ + 1], hb[MESH_OID_HEXSZ + 1];

	mesh_oid_fmt(ha, a);
	mesh_oid_fmt(hb, b);
	ck_assert_msg(mesh_oid_cmp(a, b) == 0, "%s: %s != %s", what, ha, hb);
}

/* The content of path in view (malloc'd), or NULL when it is absent. */
static char *view_content(mesh_view *view, const char *path)
{
	mesh_view_entry entry;
	mesh_file_map *map;
	size_t nread;
	char *buf;
	int error = mesh_view_lookup(view, path, &entry);

	if (error == MESH_ENOENT)
		return NULL;
	ck_assert_int_eq(error, 0);
	ck_assert_int_eq(mesh_view_file_map(view, &entry, &map), 0);
	buf = calloc(1, map->size + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(mesh_file_read(mesh_store_odb(store), NULL, map, buf,
					 map->size, 0, &nread), 0);
	ck_assert_uint_eq(nread, map->size);
	mesh_file_map_free(map);
	return buf;
}

/* The content of path at a commit, "" standing for absent. */
static void assert_at(const mesh_oid *commit_id, const char *path, const char *want)
{
	mesh_view *view;
	char *got;

	ck_assert_int_eq(mesh_view_open_commit(&view, store, "sales", commit_id), 0);
	got = view_content(view, path);
	ck_assert_msg(strcmp(got ? got : "", want) == 0, "%s: want [%s], got [%s]",
		      path, want, got ? got : "(absent)");
	free(got);
	mesh_view_free(view);
}

/* The content of path on a branch (staged changes included). */
static void assert_on(const char *branch, const char *path, const char *want)
{
	mesh_view *view = open_branch(branch);
	char *got = view_content(view, path);

	ck_assert_msg(strcmp(got ? got : "", want) == 0, "%s:%s: want [%s], got [%s]",
		      branch, path, want, got ? got : "(absent)");
	free(got);
	mesh_view_free(view);
}

static void assert_message_has(const char *needle)
{
	ck_assert_msg(strstr(mesh_error_message(), needle) != NULL,
		      "error message [%s] does not name [%s]", mesh_error_message(), needle);
}

static mesh_commit *load_commit(const mesh_oid *id)
{
	mesh_commit *c;

	ck_assert_int_eq(mesh_commit_load(mesh_store_odb(store), id, &c), 0);
	return c;
}

static mesh_oid create_branch(const char *name, const char *from)
{
	mesh_oid head;
	int error = mesh_branch_create(store, &caller, "sales", name, from, &head);

	ck_assert_msg(error == 0, "branch create %s --from %s: %d %s", name, from, error,
		      mesh_error_message());
	return head;
}

static mesh_oid create_tag(const char *name, const char *ref)
{
	mesh_oid id;
	int error = mesh_tag_create(store, &caller, "sales", name, ref, &id);

	ck_assert_msg(error == 0, "tag create %s %s: %d %s", name, ref, error,
		      mesh_error_message());
	return id;
}

/* Merges src into dest, expecting success; the outcome is freed. */
static mesh_oid merge(const char *src, const char *dest, mesh_merge_strategy strategy,
		      size_t *resolved)
{
	mesh_view *view = open_branch(dest);
	mesh_branch_outcome out;
	mesh_oid id;
	int error = mesh_branch_merge(store, view, &caller, src, strategy, NULL, &out);

	ck_assert_msg(error == 0, "merge %s into %s: %d %s", src, dest, error,
		      mesh_error_message());
	ck_assert(!out.up_to_date);
	if (resolved)
		*resolved = out.merge.resolved_count;
	id = out.commit;
	mesh_branch_outcome_free(&out);
	mesh_view_free(view);
	return id;
}

/* ---- branches ----------------------------------------------------------- */

START_TEST(branch_create_from_branch_tag_and_ancestor)
{
	mesh_oid c1 = commit_file("main", "a", "1");
	mesh_oid c2 = commit_file("main", "a", "2");
	mesh_oid head;

	create_tag("v1", "main~1");
	head = create_branch("f_main", "main");
	assert_oid_eq(&head, &c2, "branch from main");
	assert_oid_eq((mesh_oid[]){ head_of("f_main") }, &c2, "stored head of f_main");
	head = create_branch("f_tag", "v1");
	assert_oid_eq(&head, &c1, "branch from tag v1");
	head = create_branch("f_anc", "main~1");
	assert_oid_eq(&head, &c1, "branch from main~1");
	head = create_branch("f_branch", "f_main^");
	assert_oid_eq(&head, &c1, "branch from f_main^");
	head = create_branch("f_other", "f_tag");
	assert_oid_eq(&head, &c1, "branch from branch f_tag");

	assert_on("f_main", "a", "2");
	assert_on("f_tag", "a", "1");
	assert_on("f_anc", "a", "1");
	/* A branch moves on its own: main does not follow. */
	commit_file("f_main", "a", "3");
	assert_on("main", "a", "2");
	assert_on("f_main", "a", "3");
}
END_TEST

START_TEST(branch_create_from_unknown_ref_names_it)
{
	mesh_oid head;

	ck_assert_int_eq(mesh_branch_create(store, &caller, "sales", "dev", "nosuchref",
					    &head), MESH_ENOENT);
	assert_message_has("nosuchref");
	ck_assert_int_eq(mesh_history_branch_head(store, "sales", "dev", &head), MESH_ENOENT);
	ck_assert_int_lt(mesh_branch_create(store, &caller, "nodomain", "dev", "main",
					    &head), 0);
	assert_message_has("nodomain");
}
END_TEST

/* Two indexed commit ids sharing their first 8 hex digits: an
 * abbreviation of 8 digits names neither. */
START_TEST(branch_create_from_ambiguous_abbreviation_is_einval)
{
	mesh_db_batch *batch;
	mesh_oid a, b, head;

	memset(&a, 0, sizeof(a));
	memset(a.id, 0xab, 4);
	b = a;
	a.id[4] = 0x01;
	b.id[4] = 0x02;
	ck_assert_int_eq(mesh_db_batch_new(&batch), 0);
	mesh_history_index_put(batch, "sales", &a);
	mesh_history_index_put(batch, "sales", &b);
	ck_assert_int_eq(mesh_db_batch_write(mesh_store_db(store), batch, true), 0);
	mesh_db_batch_free(batch);

	ck_assert_int_eq(mesh_branch_create(store, &caller, "sales", "dev", "abababab",
					    &head), MESH_EINVAL);
	assert_message_has("abababab");
	assert_message_has("ambiguous");
	ck_assert_int_eq(mesh_tag_create(store, &caller, "sales", "t", "abababab~1", &head),
			 MESH_EINVAL);
	assert_message_has("ambiguous");
	ck_assert_int_eq(mesh_history_branch_head(store, "sales", "dev", &head), MESH_ENOENT);
}
END_TEST

START_TEST(branch_and_tag_names_collide)
{
	mesh_oid head;

	create_branch("dev", "main");
	create_tag("v1", "main");
	ck_assert_int_eq(mesh_branch_create(store, &caller, "sales", "dev", "main", &head),
			 MESH_EEXIST);
	assert_message_has("dev");
	ck_assert_int_eq(mesh_branch_create(store, &caller, "sales", "main", "dev", &head),
			 MESH_EEXIST);
	ck_assert_int_eq(mesh_branch_create(store, &caller, "sales", "v1", "main", &head),
			 MESH_EEXIST);
	assert_message_has("tag");
	assert_message_has("v1");
	ck_assert_int_eq(mesh_tag_create(store, &caller, "sales", "dev", "main", &head),
			 MESH_EEXIST);
	assert_message_has("branch");
	ck_assert_int_eq(mesh_tag_create(store, &caller, "sales", "main", "main", &head),
			 MESH_EEXIST);
	/* The failed tag did not shadow the branch. */
	ck_assert(mesh_revparse(store, "sales", "dev",
				&(mesh_rev){ 0 }) == 0);
}
END_TEST

START_TEST(bad_branch_and_tag_names_are_einval)
{
	static const char *bad[] = { "", "a b", "a/b", "-x", ".hidden", "x..y",
				     "x.lock", "a~1", "a^", "a:b", "tab\tname" };
	char longname[300];
	mesh_oid head;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(mesh_branch_create(store, &caller, "sales", bad[i], "main",
						 &head) == MESH_EINVAL,
			      "branch name [%s] was accepted", bad[i]);
		ck_assert_msg(mesh_tag_create(store, &caller, "sales", bad[i], "main",
					      &head) == MESH_EINVAL,
			      "tag name [%s] was accepted", bad[i]);
	}
	memset(longname, 'x', 299);
	longname[299] = '\0';
	ck_assert_int_eq(mesh_branch_create(store, &caller, "sales", longname, "main", &head),
			 MESH_EINVAL);
	/* Names allowed by the rule are accepted. */
	create_branch("Feature_1.2-b", "main");
	create_tag("v1.0.0", "main");
}
END_TEST

/* MOUNT/sales/<8+ hex>/ must always mean that commit: a branch or tag
 * spelled like an id or a prefix of one is refused, naming why. */
START_TEST(hex_like_branch_and_tag_names_are_einval)
{
	static const char *hexlike[] = { "deadbeef", "DEADBEEF", "0123456789",
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" };
	char full[MESH_OID_HEXSZ + 1];
	mesh_oid head = head_of("main"), got;

	mesh_oid_fmt(full, &head);
	for (size_t i = 0; i < sizeof(hexlike) / sizeof(hexlike[0]); i++) {
		ck_assert_int_eq(mesh_branch_create(store, &caller, "sales", hexlike[i], "main",
						    &got), MESH_EINVAL);
		assert_message_has("could be a commit id");
		ck_assert_int_eq(mesh_tag_create(store, &caller, "sales", hexlike[i], "main",
						 &got), MESH_EINVAL);
	}
	full[8] = '\0';
	ck_assert_int_eq(mesh_branch_create(store, &caller, "sales", full, "main", &got),
			 MESH_EINVAL);
	/* Fewer digits, or anything but hex digits, is a name like others. */
	create_branch("deadbee", "main");
	create_branch("deadbeef-fix", "main");
	create_tag("cafe1234x", "main");
}
END_TEST

START_TEST(branch_delete_drops_staged_changes)
{
	mesh_view *view;
	mesh_change *changes;
	size_t count;
	mesh_oid head;

	commit_file("main", "base", "b");
	create_branch("tmp", "main");
	view = open_branch("tmp");
	stage(view, "staged.txt", "s");
	unstage_file(view, "base");
	mesh_view_free(view);

	ck_assert_int_eq(mesh_branch_delete(store, &caller, "sales", "tmp"), 0);
	ck_assert_int_eq(mesh_history_branch_head(store, "sales", "tmp", &head), MESH_ENOENT);
	ck_assert_int_eq(mesh_view_open_branch(&view, store, "sales", "tmp"), MESH_ENOENT);

	/* The same name again starts clean: nothing of the old staging. */
	create_branch("tmp", "main");
	view = open_branch("tmp");
	ck_assert_int_eq(mesh_view_status(view, &changes, &count), 0);
	ck_assert_msg(count == 0, "recreated branch has %zu staged change(s), first %s",
		      count, count ? changes[0].path : "");
	mesh_changes_free(changes, count);
	mesh_view_free(view);
	assert_on("tmp", "staged.txt", "");
	assert_on("tmp", "base", "b");
}
END_TEST

START_TEST(default_branch_cannot_be_deleted)
{
	mesh_oid before = head_of("main");

	ck_assert_int_eq(mesh_branch_delete(store, &caller, "sales", "main"), MESH_EPERM);
	assert_message_has("main");
	assert_message_has("sales");
	assert_oid_eq((mesh_oid[]){ head_of("main") }, &before, "main after refused delete");
	ck_assert_int_eq(mesh_branch_delete(store, &caller, "sales", "nosuch"), MESH_ENOENT);
	assert_message_has("nosuch");
}
END_TEST

/* ---- tags --------------------------------------------------------------- */

START_TEST(tags_never_move)
{
	mesh_oid c1 = commit_file("main", "a", "1");
	mesh_oid c2, id;

	create_tag("v1", "main");
	c2 = commit_file("main", "a", "2");
	ck_assert_int_eq(mesh_tag_create(store, &caller, "sales", "v1", "main", &id),
			 MESH_EEXIST);
	assert_message_has("v1");
	assert_oid_eq((mesh_oid[]){ resolve("v1") }, &c1, "v1 after a second create");
	ck_assert_int_eq(mesh_oid_cmp(&c1, &c2) != 0, 1);

	/* A tag is not a branch: no branch view of it. */
	ck_assert_int_eq(mesh_view_open_branch(&(mesh_view *){ NULL }, store, "sales", "v1"),
			 MESH_ENOENT);
}
END_TEST

START_TEST(tag_delete)
{
	mesh_oid c1 = commit_file("main", "a", "1");
	mesh_oid c2;
	mesh_rev rev;

	create_tag("v1", "main");
	c2 = commit_file("main", "a", "2");
	ck_assert_int_eq(mesh_tag_delete(store, &caller, "sales", "v1"), 0);
	ck_assert_int_eq(mesh_revparse(store, "sales", "v1", &rev), MESH_ENOENT);
	ck_assert_int_eq(mesh_tag_delete(store, &caller, "sales", "v1"), MESH_ENOENT);
	assert_message_has("v1");
	/* Deleting a tag keeps its commit; the name is free again. */
	assert_at(&c1, "a", "1");
	create_tag("v1", "main");
	assert_oid_eq((mesh_oid[]){ resolve("v1") }, &c2, "v1 re-created at main");
	/* tag delete does not delete a branch of that name. */
	create_branch("dev", "main");
	ck_assert_int_lt(mesh_tag_delete(store, &caller, "sales", "dev"), 0);
	head_of("dev");
}
END_TEST

/* ---- merge -------------------------------------------------------------- */

/* main: a=base, b=base, c=base, d/x=base; feat branches from there. */
static mesh_oid fork_feat(void)
{
	mesh_view *view = open_branch("main");
	mesh_oid base;

	stage(view, "a", "base-a");
	stage(view, "b", "base-b");
	stage(view, "c", "base-c");
	ck_assert_int_eq(mesh_view_mkdir(view, &caller, "d", 0755), 0);
	stage(view, "d/x", "base-x");
	base = commit(view, "base");
	mesh_view_free(view);
	create_branch("feat", "main");
	return base;
}

START_TEST(clean_merge_has_two_parents_and_both_sides)
{
	mesh_oid base = fork_feat();
	mesh_oid main_head, feat_head, merged;
	mesh_view *view;
	mesh_commit *c;

	view = open_branch("feat");
	stage(view, "a", "feat-a");
	stage(view, "d/new", "feat-new");
	unstage_file(view, "c");
	feat_head = commit(view, "feat work");
	mesh_view_free(view);
	main_head = commit_file("main", "b", "main-b");

	merged = merge("feat", "main", MESH_MERGE_FAIL, NULL);
	assert_oid_eq((mesh_oid[]){ head_of("main") }, &merged, "main head after merge");
	c = load_commit(&merged);
	ck_assert_uint_eq(c->parent_count, 2);
	assert_oid_eq(&c->parents[0], &main_head, "first parent");
	assert_oid_eq(&c->parents[1], &feat_head, "second parent");
	ck_assert_ptr_nonnull(strstr(c->message, "feat"));
	mesh_commit_free(c);
	assert_at(&merged, "a", "feat-a");
	assert_at(&merged, "b", "main-b");
	assert_at(&merged, "c", "");
	assert_at(&merged, "d/x", "base-x");
	assert_at(&merged, "d/new", "feat-new");
	/* The source branch is untouched. */
	assert_oid_eq((mesh_oid[]){ head_of("feat") }, &feat_head, "feat head");
	assert_at(&base, "a", "base-a");
	/* And the merge commit is what main~0 and main^2 name. */
	assert_oid_eq((mesh_oid[]){ resolve("main^2") }, &feat_head, "main^2");
	assert_oid_eq((mesh_oid[]){ resolve("main^1") }, &main_head, "main^1");
}
END_TEST

/* The mount drops a view nobody holds and opens it again, so two views of
 * one branch can be alive at once: a merge through the one that did not
 * see the other's merge must still keep it. */
START_TEST(merge_through_a_stale_view_keeps_what_landed_meanwhile)
{
	mesh_view *stale;
	mesh_branch_outcome out;

	commit_file("main", "base", "b");
	create_branch("one", "main");
	create_branch("two", "main");
	commit_file("one", "from-one", "1");
	commit_file("two", "from-two", "2");
	stale = open_branch("main");
	merge("one", "main", MESH_MERGE_FAIL, NULL);
	ck_assert_int_eq(mesh_branch_merge(store, stale, &caller, "two", MESH_MERGE_FAIL,
					   NULL, &out), 0);
	mesh_branch_outcome_free(&out);
	mesh_view_free(stale);
	assert_on("main", "from-one", "1");
	assert_on("main", "from-two", "2");
}
END_TEST

START_TEST(merge_message_is_kept)
{
	mesh_view *view;
	mesh_branch_outcome out;
	mesh_commit *c;

	fork_feat();
	commit_file("feat", "a", "feat-a");
	commit_file("main", "b", "main-b");
	view = open_branch("main");
	ck_assert_int_eq(mesh_branch_merge(store, view, &caller, "feat", MESH_MERGE_FAIL,
					   "bring in feat", &out), 0);
	c = load_commit(&out.commit);
	ck_assert_str_eq(c->message, "bring in feat");
	mesh_commit_free(c);
	mesh_branch_outcome_free(&out);
	mesh_view_free(view);
}
END_TEST

/* Both sides change a differently; main changes c, feat deletes it. */
static void make_conflicts(void)
{
	mesh_view *view;

	fork_feat();
	view = open_branch("feat");
	stage(view, "a", "feat-a");
	unstage_file(view, "c");
	stage(view, "d/x", "same-x");
	stage(view, "only-feat", "f");
	commit(view, "feat side");
	mesh_view_free(view);
	view = open_branch("main");
	stage(view, "a", "main-a");
	stage(view, "c", "main-c");
	stage(view, "d/x", "same-x");
	commit(view, "main side");
	mesh_view_free(view);
}

START_TEST(conflicts_are_listed_and_change_nothing)
{
	mesh_view *view;
	mesh_branch_outcome out;
	mesh_oid before;
	int error;

	make_conflicts();
	before = head_of("main");
	view = open_branch("main");
	error = mesh_branch_merge(store, view, &caller, "feat", MESH_MERGE_FAIL, NULL, &out);
	ck_assert_int_eq(error, MESH_EBUSY);
	assert_message_has("conflict");
	assert_message_has("sales/main");
	ck_assert_uint_eq(out.merge.conflict_count, 2);
	ck_assert_str_eq(out.merge.conflicts[0].path, "a");
	ck_assert_int_eq(out.merge.conflicts[0].kind, MESH_CONFLICT_BOTH_CHANGED);
	ck_assert_str_eq(out.merge.conflicts[1].path, "c");
	ck_assert_int_eq(out.merge.conflicts[1].kind, MESH_CONFLICT_CHANGE_DELETE);
	mesh_branch_outcome_free(&out);
	mesh_view_free(view);

	assert_oid_eq((mesh_oid[]){ head_of("main") }, &before, "main head after conflict");
	assert_on("main", "a", "main-a");
	assert_on("main", "only-feat", "");
	view = open_branch("main");
	ck_assert_int_eq(mesh_view_check_clean(view, "test"), 0);   /* nothing staged either */
	mesh_view_free(view);
}
END_TEST

START_TEST(delete_against_change_conflict_the_other_way)
{
	mesh_view *view;
	mesh_branch_outcome out;

	make_conflicts();
	/* Into feat: ours (feat) deleted c, theirs (main) changed it. */
	view = open_branch("feat");
	ck_assert_int_eq(mesh_branch_merge(store, view, &caller, "main", MESH_MERGE_FAIL,
					   NULL, &out), MESH_EBUSY);
	ck_assert_uint_eq(out.merge.conflict_count, 2);
	ck_assert_str_eq(out.merge.conflicts[1].path, "c");
	ck_assert_int_eq(out.merge.conflicts[1].kind, MESH_CONFLICT_DELETE_CHANGE);
	mesh_branch_outcome_free(&out);
	mesh_view_free(view);
}
END_TEST

START_TEST(dest_wins)
{
	mesh_oid merged;
	mesh_commit *c;
	size_t resolved = 0;

	make_conflicts();
	merged = merge("feat", "main", MESH_MERGE_DEST_WINS, &resolved);
	ck_assert_uint_eq(resolved, 2);
	assert_at(&merged, "a", "main-a");
	assert_at(&merged, "c", "main-c");
	assert_at(&merged, "d/x", "same-x");
	assert_at(&merged, "only-feat", "f");    /* the clean part is merged too */
	c = load_commit(&merged);
	ck_assert_uint_eq(c->parent_count, 2);
	mesh_commit_free(c);
}
END_TEST

START_TEST(source_wins)
{
	mesh_oid merged;
	mesh_commit *c;
	size_t resolved = 0;

	make_conflicts();
	merged = merge("feat", "main", MESH_MERGE_SOURCE_WINS, &resolved);
	ck_assert_uint_eq(resolved, 2);
	assert_at(&merged, "a", "feat-a");
	assert_at(&merged, "c", "");
	assert_at(&merged, "d/x", "same-x");
	assert_at(&merged, "only-feat", "f");
	c = load_commit(&merged);
	ck_assert_uint_eq(c->parent_count, 2);
	mesh_commit_free(c);
}
END_TEST

START_TEST(merge_into_branch_with_staged_changes_is_refused)
{
	mesh_view *view;
	mesh_branch_outcome out;
	mesh_oid before;

	fork_feat();
	commit_file("feat", "a", "feat-a");
	before = head_of("main");
	view = open_branch("main");
	stage(view, "wip", "w");
	ck_assert_int_eq(mesh_branch_merge(store, view, &caller, "feat", MESH_MERGE_FAIL,
					   NULL, &out), MESH_EBUSY);
	assert_message_has("staged");
	assert_message_has("sales/main");
	mesh_branch_outcome_free(&out);
	mesh_view_free(view);
	assert_oid_eq((mesh_oid[]){ head_of("main") }, &before, "main head after refusal");
	assert_on("main", "wip", "w");      /* the staged change is kept */
	assert_on("main", "a", "base-a");
}
END_TEST

START_TEST(already_up_to_date)
{
	mesh_view *view;
	mesh_branch_outcome out;
	mesh_oid feat_head, main_head;

	fork_feat();
	feat_head = commit_file("feat", "a", "feat-a");
	main_head = head_of("main");

	/* main is an ancestor of feat: nothing to bring into feat. */
	view = open_branch("feat");
	ck_assert_int_eq(mesh_branch_merge(store, view, &caller, "main", MESH_MERGE_FAIL,
					   NULL, &out), 0);
	ck_assert(out.up_to_date);
	assert_oid_eq(&out.commit, &feat_head, "outcome commit when up to date");
	mesh_branch_outcome_free(&out);
	mesh_view_free(view);
	assert_oid_eq((mesh_oid[]){ head_of("feat") }, &feat_head, "feat head");

	/* A merge done once is up to date the second time. */
	merge("feat", "main", MESH_MERGE_FAIL, NULL);
	main_head = head_of("main");
	view = open_branch("main");
	ck_assert_int_eq(mesh_branch_merge(store, view, &caller, "feat", MESH_MERGE_FAIL,
					   NULL, &out), 0);
	ck_assert(out.up_to_date);
	mesh_branch_outcome_free(&out);
	mesh_view_free(view);
	assert_oid_eq((mesh_oid[]){ head_of("main") }, &main_head, "main head");
}
END_TEST

START_TEST(merge_of_unknown_ref_names_it)
{
	mesh_view *view = open_branch("main");
	mesh_branch_outcome out;

	ck_assert_int_eq(mesh_branch_merge(store, view, &caller, "nosuch", MESH_MERGE_FAIL,
					   NULL, &out), MESH_ENOENT);
	assert_message_has("nosuch");
	mesh_branch_outcome_free(&out);
	mesh_view_free(view);
}
END_TEST

/* ---- revert and cherry-pick --------------------------------------------- */

START_TEST(revert_restores_content)
{
	mesh_view *view;
	mesh_branch_outcome out;
	mesh_oid c_later;
	mesh_commit *c;

	commit_file("main", "a", "1");
	commit_file("main", "a", "2");
	c_later = commit_file("main", "b", "later");
	view = open_branch("main");
	ck_assert_int_eq(mesh_branch_revert(store, view, &caller, "main~1", 0, &out), 0);
	ck_assert(!out.up_to_date);
	assert_oid_eq(&out.old_head, &c_later, "old head");
	c = load_commit(&out.commit);
	ck_assert_uint_eq(c->parent_count, 1);
	assert_oid_eq(&c->parents[0], &c_later, "revert commit's parent");
	ck_assert_ptr_nonnull(strstr(c->message, "Revert"));
	mesh_commit_free(c);
	assert_oid_eq((mesh_oid[]){ head_of("main") }, &out.commit, "main head");
	mesh_branch_outcome_free(&out);
	mesh_view_free(view);
	assert_on("main", "a", "1");
	assert_on("main", "b", "later");
}
END_TEST

START_TEST(revert_of_an_added_file_removes_it)
{
	mesh_view *view;
	mesh_branch_outcome out;
	commit_file("main", "a", "1");
	commit_file("main", "new", "n");
	commit_file("main", "a", "2");
	view = open_branch("main");
	ck_assert_int_eq(mesh_branch_revert(store, view, &caller, "main~1", 0, &out), 0);
	mesh_branch_outcome_free(&out);
	mesh_view_free(view);
	assert_on("main", "new", "");
	assert_on("main", "a", "2");
}
END_TEST

START_TEST(revert_of_merge_commit_needs_a_parent)
{
	mesh_view *view;
	mesh_branch_outcome out;
	mesh_oid merged, before;

	fork_feat();
	commit_file("feat", "a", "feat-a");
	commit_file("main", "b", "main-b");
	merged = merge("feat", "main", MESH_MERGE_FAIL, NULL);
	commit_file("main", "after", "x");
	before = head_of("main");

	view = open_branch("main");
	ck_assert_int_eq(mesh_branch_revert(store, view, &caller, "main~1", 0, &out),
			 MESH_EINVAL);
	assert_message_has("--parent");
	mesh_branch_outcome_free(&out);
	ck_assert_int_eq(mesh_branch_revert(store, view, &caller, "main~1", 3, &out),
			 MESH_EINVAL);
	mesh_branch_outcome_free(&out);
	assert_oid_eq((mesh_oid[]){ head_of("main") }, &before, "main head after refusals");

	/* --parent 1: back to main's side, undoing what feat brought. */
	ck_assert_int_eq(mesh_branch_revert(store, view, &caller, "main~1", 1, &out), 0);
	mesh_branch_outcome_free(&out);
	mesh_view_free(view);
	assert_on("main", "a", "base-a");
	assert_on("main", "b", "main-b");
	assert_on("main", "after", "x");
	assert_at(&merged, "a", "feat-a");
}
END_TEST

START_TEST(revert_with_parent_2_undoes_mains_side)
{
	mesh_view *view;
	mesh_branch_outcome out;

	fork_feat();
	commit_file("feat", "a", "feat-a");
	commit_file("main", "b", "main-b");
	merge("feat", "main", MESH_MERGE_FAIL, NULL);
	view = open_branch("main");
	ck_assert_int_eq(mesh_branch_revert(store, view, &caller, "main", 2, &out), 0);
	mesh_branch_outcome_free(&out);
	mesh_view_free(view);
	assert_on("main", "a", "feat-a");
	assert_on("main", "b", "base-b");
}
END_TEST

START_TEST(revert_refuses_staged_changes)
{
	mesh_view *view;
	mesh_branch_outcome out;

	commit_file("main", "a", "1");
	commit_file("main", "a", "2");
	view = open_branch("main");
	stage(view, "wip", "w");
	ck_assert_int_eq(mesh_branch_revert(store, view, &caller, "main", 0, &out), MESH_EBUSY);
	assert_message_has("staged");
	mesh_branch_outcome_free(&out);
	mesh_view_free(view);
	assert_on("main", "a", "2");
}
END_TEST

START_TEST(cherry_pick_applies_one_change)
{
	mesh_view *view;
	mesh_branch_outcome out;
	mesh_oid picked, main_before;
	char hex[MESH_OID_HEXSZ + 1];
	mesh_commit *c;

	fork_feat();
	commit_file("feat", "first", "not picked");
	picked = commit_file("feat", "d/x", "picked-x");
	commit_file("feat", "third", "not picked");
	main_before = commit_file("main", "b", "main-b");

	mesh_oid_fmt(hex, &picked);
	hex[12] = '\0';             /* by abbreviated id */
	view = open_branch("main");
	ck_assert_int_eq(mesh_branch_cherry_pick(store, view, &caller, hex, &out), 0);
	c = load_commit(&out.commit);
	ck_assert_uint_eq(c->parent_count, 1);
	assert_oid_eq(&c->parents[0], &main_before, "cherry-pick commit's parent");
	ck_assert_str_eq(c->message, "d/x");
	mesh_commit_free(c);
	mesh_branch_outcome_free(&out);
	mesh_view_free(view);
	assert_on("main", "d/x", "picked-x");
	assert_on("main", "b", "main-b");
	assert_on("main", "first", "");
	assert_on("main", "third", "");
	/* By ref expression as well. */
	view = open_branch("main");
	ck_assert_int_eq(mesh_branch_cherry_pick(store, view, &caller, "feat", &out), 0);
	mesh_branch_outcome_free(&out);
	mesh_view_free(view);
	assert_on("main", "third", "not picked");
	assert_on("main", "first", "");
}
END_TEST

START_TEST(cherry_pick_conflict_is_ebusy)
{
	mesh_view *view;
	mesh_branch_outcome out;
	mesh_oid before;

	fork_feat();
	commit_file("feat", "a", "feat-a");
	before = commit_file("main", "a", "main-a");
	view = open_branch("main");
	ck_assert_int_eq(mesh_branch_cherry_pick(store, view, &caller, "feat", &out),
			 MESH_EBUSY);
	ck_assert_uint_eq(out.merge.conflict_count, 1);
	ck_assert_str_eq(out.merge.conflicts[0].path, "a");
	mesh_branch_outcome_free(&out);
	mesh_view_free(view);
	assert_oid_eq((mesh_oid[]){ head_of("main") }, &before, "main head after conflict");
	assert_on("main", "a", "main-a");
}
END_TEST

START_TEST(cherry_pick_of_merge_commit_is_einval)
{
	mesh_view *view;
	mesh_branch_outcome out;

	fork_feat();
	commit_file("feat", "a", "feat-a");
	commit_file("main", "b", "main-b");
	merge("feat", "main", MESH_MERGE_FAIL, NULL);
	create_branch("other", "main~1");
	view = open_branch("other");
	ck_assert_int_eq(mesh_branch_cherry_pick(store, view, &caller, "main", &out),
			 MESH_EINVAL);
	mesh_branch_outcome_free(&out);
	mesh_view_free(view);
}
END_TEST

/* ---- scale -------------------------------------------------------------- */

#define SCALE_DIRS 1000
#define SCALE_PER_DIR 100
#define SCALE_CHANGED 10

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static int count_diff(void *ctx, const char *path, mesh_diff_type type,
		      const mesh_tree_entry *old, const mesh_tree_entry *new_)
{
	size_t *n = ctx;

	(void)path; (void)old; (void)new_;
	ck_assert_int_eq(type, MESH_DIFF_CHANGED);
	(*n)++;
	return 0;
}

/* The path of changed file i: one per directory, spread over the tree. */
static void changed_path(char *out, size_t len, int i)
{
	snprintf(out, len, "d%04d/f%03d", i * (SCALE_DIRS / SCALE_CHANGED) + 7, i * 3 + 1);
}

START_TEST(scale_100k_files_branch_diff_merge_touch_few_objects)
{
	mesh_odb *odb = mesh_store_odb(store);
	mesh_odb_stats s0, s1;
	mesh_oid shared, changed[SCALE_CHANGED], main_commit, feat_commit, head, t_main, t_feat;
	mesh_view *view;
	mesh_branch_outcome out;
	mesh_commit *c;
	struct timespec t0;
	char path[64], content[32];
	size_t diffs = 0, changes = 0;
	const char *shared_content = "the same bytes in 100,000 files\n";

	/* One stored file map shared by every file, distinct ones for the
	 * files that will change: staging costs metadata only. */
	ck_assert_int_eq(mesh_file_write_buf(odb, NULL, shared_content, strlen(shared_content),
					     &shared), 0);
	for (int i = 0; i < SCALE_CHANGED; i++) {
		snprintf(content, sizeof(content), "changed %d\n", i);
		ck_assert_int_eq(mesh_file_write_buf(odb, NULL, content, strlen(content),
						     &changed[i]), 0);
	}

	clock_gettime(CLOCK_MONOTONIC, &t0);
	view = open_branch("main");
	for (int d = 0; d < SCALE_DIRS; d++) {
		snprintf(path, sizeof(path), "d%04d", d);
		ck_assert_int_eq(mesh_view_mkdir(view, &caller, path, 0755), 0);
		for (int f = 0; f < SCALE_PER_DIR; f++) {
			snprintf(path, sizeof(path), "d%04d/f%03d", d, f);
			ck_assert_int_eq(mesh_view_stage_content(view, &caller, path,
				MESH_KIND_FILE, 0644, strlen(shared_content), 0, &shared,
				false), 0);
		}
	}
	fprintf(stderr, "scale: staged %d files in %d dirs in %.1f s\n",
		SCALE_DIRS * SCALE_PER_DIR, SCALE_DIRS, seconds_since(&t0));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(mesh_view_commit(view, &caller, "100k files", NULL, 0,
					  &main_commit, &changes), 0);
	fprintf(stderr, "scale: committed %zu changes in %.1f s\n", changes, seconds_since(&t0));
	mesh_view_free(view);

	/* Branch creation: a ref, whatever the size of the data. */
	mesh_odb_stats_get(odb, &s0);
	head = create_branch("feat", "main");
	mesh_odb_stats_get(odb, &s1);
	assert_oid_eq(&head, &main_commit, "feat head");
	ck_assert_msg(s1.reads == s0.reads, "branch create read %llu objects",
		      (unsigned long long)(s1.reads - s0.reads));
	ck_assert_msg(s1.writes == s0.writes && s1.write_dups == s0.write_dups,
		      "branch create wrote %llu objects (%llu dups)",
		      (unsigned long long)(s1.writes - s0.writes),
		      (unsigned long long)(s1.write_dups - s0.write_dups));

	/* Ten files changed on feat, in ten directories. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	view = open_branch("feat");
	for (int i = 0; i < SCALE_CHANGED; i++) {
		changed_path(path, sizeof(path), i);
		ck_assert_int_eq(mesh_view_stage_content(view, &caller, path, MESH_KIND_FILE,
							 0644, 10, 0, &changed[i], false), 0);
	}
	ck_assert_int_eq(mesh_view_commit(view, &caller, "ten changes", NULL, 0,
					  &feat_commit, &changes), 0);
	ck_assert_uint_eq(changes, SCALE_CHANGED);
	mesh_view_free(view);
	fprintf(stderr, "scale: 10-file commit on feat in %.2f s\n", seconds_since(&t0));

	/* Diff of the two commits: bounded by the changes, not the data. */
	c = load_commit(&main_commit);
	t_main = c->tree;
	mesh_commit_free(c);
	c = load_commit(&feat_commit);
	t_feat = c->tree;
	mesh_commit_free(c);
	mesh_odb_stats_get(odb, &s0);
	ck_assert_int_eq(mesh_diff_trees(odb, &t_main, &t_feat, "", count_diff, &diffs), 0);
	mesh_odb_stats_get(odb, &s1);
	ck_assert_uint_eq(diffs, SCALE_CHANGED);
	fprintf(stderr, "scale: diff read %llu objects\n",
		(unsigned long long)(s1.reads - s0.reads));
	ck_assert_msg(s1.reads - s0.reads < 100, "diff of 10 changes read %llu objects",
		      (unsigned long long)(s1.reads - s0.reads));

	/* Something on main too, so the merge is a real three-way merge. */
	view = open_branch("main");
	ck_assert_int_eq(mesh_view_stage_content(view, &caller, "d0500/f050", MESH_KIND_FILE,
						 0644, 10, 0, &changed[0], false), 0);
	commit(view, "one change on main");

	mesh_odb_stats_get(odb, &s0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(mesh_branch_merge(store, view, &caller, "feat", MESH_MERGE_FAIL,
					   NULL, &out), 0);
	mesh_odb_stats_get(odb, &s1);
	fprintf(stderr, "scale: merge read %llu objects, wrote %llu, in %.2f s\n",
		(unsigned long long)(s1.reads - s0.reads),
		(unsigned long long)(s1.writes - s0.writes), seconds_since(&t0));
	ck_assert_msg(s1.reads - s0.reads < 200, "merge of 10 changes read %llu objects",
		      (unsigned long long)(s1.reads - s0.reads));
	ck_assert_uint_eq(out.merge.changes, SCALE_CHANGED);
	mesh_branch_outcome_free(&out);
	mesh_view_free(view);
	changed_path(path, sizeof(path), 3);
	assert_on("main", path, "changed 3\n");
	assert_on("main", "d0500/f050", "changed 0\n");
	assert_on("main", "d0999/f099", shared_content);
}
END_TEST

static Suite *branch_suite(void)
{
	Suite *s = suite_create("branch");
	TCase *tc = tcase_create("branch");
	TCase *scale = tcase_create("scale");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, branch_create_from_branch_tag_and_ancestor);
	tcase_add_test(tc, branch_create_from_unknown_ref_names_it);
	tcase_add_test(tc, branch_create_from_ambiguous_abbreviation_is_einval);
	tcase_add_test(tc, branch_and_tag_names_collide);
	tcase_add_test(tc, bad_branch_and_tag_names_are_einval);
	tcase_add_test(tc, hex_like_branch_and_tag_names_are_einval);
	tcase_add_test(tc, branch_delete_drops_staged_changes);
	tcase_add_test(tc, default_branch_cannot_be_deleted);
	tcase_add_test(tc, tags_never_move);
	tcase_add_test(tc, tag_delete);
	tcase_add_test(tc, clean_merge_has_two_parents_and_both_sides);
	tcase_add_test(tc, merge_message_is_kept);
	tcase_add_test(tc, merge_through_a_stale_view_keeps_what_landed_meanwhile);
	tcase_add_test(tc, conflicts_are_listed_and_change_nothing);
	tcase_add_test(tc, delete_against_change_conflict_the_other_way);
	tcase_add_test(tc, dest_wins);
	tcase_add_test(tc, source_wins);
	tcase_add_test(tc, merge_into_branch_with_staged_changes_is_refused);
	tcase_add_test(tc, already_up_to_date);
	tcase_add_test(tc, merge_of_unknown_ref_names_it);
	tcase_add_test(tc, revert_restores_content);
	tcase_add_test(tc, revert_of_an_added_file_removes_it);
	tcase_add_test(tc, revert_of_merge_commit_needs_a_parent);
	tcase_add_test(tc, revert_with_parent_2_undoes_mains_side);
	tcase_add_test(tc, revert_refuses_staged_changes);
	tcase_add_test(tc, cherry_pick_applies_one_change);
	tcase_add_test(tc, cherry_pick_conflict_is_ebusy);
	tcase_add_test(tc, cherry_pick_of_merge_commit_is_einval);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(scale, setup, teardown);
	tcase_set_timeout(scale, 240);
	tcase_add_test(scale, scale_100k_files_branch_diff_merge_touch_few_objects);
	suite_add_tcase(s, scale);
	return s;
}

int main(void)
{
	return test_run_suite(branch_suite());
}
