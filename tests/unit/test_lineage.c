/* test_lineage.c - where data came from: a cp across domains is kept
 * with the commit that lands it, and `lineage` follows it back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "testutil.h"
#include "control.h"
#include "array.h"
#include "db.h"
#include "error.h"
#include "history.h"
#include "lineage.h"
#include "view.h"

static char *tmp;
static mesh_store *store;
static mesh_caller caller;
static test_views table;
static mesh_control_env env;

static void setup(void)
{
	tmp = test_tmpdir_new();
	store = test_store_new(tmp, &caller, NULL);
	test_views_env(&table, store, &env);
}

static void teardown(void)
{
	test_views_free(&table);
	mesh_store_close(store);
	test_tmpdir_remove(tmp);
}

static char *run_expect(const char *line, int code)
{
	char *answer = NULL;
	int error = mesh_control_run(&env, &caller, line, &answer);

	ck_assert_msg(error == code, "[%s] returned %d, want %d; answer %s", line, error, code,
		      answer ? answer : "(null)");
	return answer;
}

static void run_ok(const char *line)
{
	free(run_expect(line, 0));
}

static mesh_view *branch(const char *domain, const char *name)
{
	mesh_view *v = NULL;

	ck_assert_int_eq(test_views_get(&table, domain, name, &v), 0);
	return v;
}

static void put(const char *domain, const char *path, const char *text)
{
	test_stage_file(store, branch(domain, "main"), &caller, path, text, strlen(text));
}

static void head_hex(const char *domain, const char *name, char out[MESH_OID_HEXSZ + 1])
{
	mesh_oid id;

	ck_assert_int_eq(mesh_history_branch_head(store, domain, name, &id), 0);
	mesh_oid_fmt(out, &id);
}

static void commit(const char *target, char out[MESH_OID_HEXSZ + 1])
{
	char line[300], domain[64];

	snprintf(line, sizeof(line), "commit %s -m step", target);
	run_ok(line);
	snprintf(domain, sizeof(domain), "%.*s", (int)(strchr(target, '/') - target), target);
	head_hex(domain, strchr(target, '/') + 1, out);
}

/* The answer of `lineage target`, which the caller frees. */
static char *lineage(const char *target)
{
	char line[300];

	snprintf(line, sizeof(line), "lineage %s", target);
	return run_expect(line, 0);
}

static void assert_has(const char *text, const char *part)
{
	ck_assert_msg(strstr(text, part), "'%s' not in %s", part, text);
}

START_TEST(two_hops_down_to_the_source_commit)
{
	char a1[65], b1[65], c1[65], want[600];
	char *ans;

	run_ok("domain create a");
	run_ok("domain create b");
	run_ok("domain create c");
	ck_assert_int_eq(mesh_view_mkdir(branch("a", "main"), &caller, "data", 0755), 0);
	put("a", "data/orders.csv", "1,2\n");
	commit("a/main", a1);
	run_ok("cp a/main/data/orders.csv b/main/orders.csv");
	commit("b/main", b1);
	run_ok("cp b/main/orders.csv c/main/copy.csv");
	commit("c/main", c1);

	ans = lineage("c/main/copy.csv");
	snprintf(want, sizeof(want), "\"chain\":[{\"domain\":\"c\",\"ref\":\"main\",\"commit\":\"%s\","
		 "\"path\":\"copy.csv\",\"copied_in_by\":\"%s\",\"modified_since\":false},", c1, c1);
	assert_has(ans, want);
	snprintf(want, sizeof(want), "{\"domain\":\"b\",\"ref\":\"main\",\"commit\":\"%s\","
		 "\"path\":\"orders.csv\",\"copied_in_by\":\"%s\",\"modified_since\":false},", b1, b1);
	assert_has(ans, want);
	snprintf(want, sizeof(want), "{\"domain\":\"a\",\"ref\":\"main\",\"commit\":\"%s\","
		 "\"path\":\"data/orders.csv\",\"origin\":true}],\"hops\":2", a1);
	assert_has(ans, want);
	free(ans);

	/* Consumers: the reverse index. */
	mesh_json j;
	char *text = NULL;
	mesh_json_init(&j);
	mesh_json_object_begin(&j);
	ck_assert_int_eq(mesh_lineage_consumers_json(store, &caller, "a", &j), 0);
	mesh_json_object_end(&j);
	ck_assert_int_eq(mesh_json_take(&j, &text), 0);
	snprintf(want, sizeof(want), "{\"consumers\":[{\"domain\":\"b\",\"last_commit\":\"%s\",", b1);
	assert_has(text, want);
	assert_has(text, "\"hidden_consumers\":0}");
	free(text);
}
END_TEST

START_TEST(only_what_a_commit_lands_as_copied)
{
	char a1[65], b1[65];
	char *ans;

	run_ok("domain create a");
	run_ok("domain create b");
	put("a", "x.csv", "x\n");
	put("a", "y.csv", "y\n");
	commit("a/main", a1);
	/* Reset before the commit: nothing. */
	run_ok("cp a/main/x.csv b/main/x.csv");
	run_ok("reset b/main");
	put("b", "x.csv", "mine\n");
	/* Overwritten before the commit: nothing either. */
	run_ok("cp a/main/y.csv b/main/y.csv");
	put("b", "y.csv", "other\n");
	commit("b/main", b1);
	ans = lineage("b/main/x.csv");
	assert_has(ans, "\"origin\":true}],\"hops\":0");
	free(ans);
	ans = lineage("b/main/y.csv");
	assert_has(ans, "\"hops\":0");
	free(ans);
	/* Copied twice to one path within a second: the later copy counts,
	 * whichever order the records sort in. */
	char b2[65], b3[65], want[300];
	put("a", "w.csv", "w\n");
	commit("a/main", a1);
	run_ok("cp a/main/x.csv b/main/twice.csv");
	commit("b/main", b2);
	run_ok("cp a/main/w.csv b/main/twice.csv");
	commit("b/main", b3);
	ans = lineage("b/main/twice.csv");
	snprintf(want, sizeof(want), "\"copied_in_by\":\"%s\"", b3);
	assert_has(ans, want);
	assert_has(ans, "\"path\":\"w.csv\",\"origin\":true");
	free(ans);
	/* ... and the commit before it still shows the first copy. */
	snprintf(want, sizeof(want), "lineage b/%s/twice.csv", b2);
	ans = run_expect(want, 0);
	assert_has(ans, "\"path\":\"x.csv\",\"origin\":true");
	free(ans);
	/* A deleted branch's staged copy is gone with it: the same content
	 * written anew on a branch of that name is no copy. */
	run_ok("branch create b/feat");
	run_ok("cp a/main/x.csv b/feat/x2.csv");
	run_ok("branch delete b/feat");
	run_ok("branch create b/feat");
	test_stage_file(store, branch("b", "feat"), &caller, "x2.csv", "x\n", 2);
	commit("b/feat", b1);
	ans = lineage("b/feat/x2.csv");
	assert_has(ans, "\"hops\":0");
	free(ans);
	/* Within one domain: no lineage. */
	run_ok("cp a/main/x.csv a/main/z.csv");
	commit("a/main", a1);
	ans = lineage("a/main/z.csv");
	assert_has(ans, "\"hops\":0");
	free(ans);
	/* Not there at REF: ENOENT. */
	free(run_expect("lineage b/main/nothing", MESH_ENOENT));
	free(run_expect("lineage b/main", MESH_EINVAL));
}
END_TEST

START_TEST(directories_and_merges)
{
	char a1[65], f1[65], m1[65], want[600];
	char *ans;

	run_ok("domain create a");
	run_ok("domain create b");
	ck_assert_int_eq(mesh_view_mkdir(branch("a", "main"), &caller, "raw", 0755), 0);
	put("a", "raw/one.csv", "1\n");
	commit("a/main", a1);
	/* The copy lands on a branch, which is then merged into main. */
	run_ok("branch create b/feat");
	run_ok("cp a/main/raw b/feat/in");
	commit("b/feat", f1);
	run_ok("merge b/feat --into main");
	head_hex("b", "main", m1);
	ans = lineage("b/main/in/one.csv");
	snprintf(want, sizeof(want), "\"commit\":\"%s\",\"path\":\"in/one.csv\",\"copied_in_by\":"
		 "\"%s\",\"modified_since\":false", m1, f1);
	assert_has(ans, want);
	snprintf(want, sizeof(want), "{\"domain\":\"a\",\"ref\":\"main\",\"commit\":\"%s\","
		 "\"path\":\"raw/one.csv\",\"origin\":true}],\"hops\":1", a1);
	assert_has(ans, want);
	free(ans);
	/* A file rewritten below the copied directory is flagged. */
	put("b", "in/one.csv", "changed\n");
	commit("b/main", m1);
	ans = lineage("b/main/in/one.csv");
	assert_has(ans, "\"modified_since\":true");
	free(ans);
}
END_TEST

/* A record as a commit would leave it, with the given commits. */
static void put_record(const char *domain, const char *path, const char *commit_hex,
		       const char *src_domain, const char *src_commit_hex, const char *src_path)
{
	const char *kf[] = { "g/c", domain, path, commit_hex };
	const char *vf[] = { src_domain, "main", src_commit_hex, src_path,
			     "0000000000000000000000000000000000000000000000000000000000000000",
			     "d", "1" };
	char *key, *val;
	size_t klen, vlen;

	ck_assert_int_eq(mesh_fields_join(kf, 4, &key, &klen), 0);
	ck_assert_int_eq(mesh_fields_join(vf, 7, &val, &vlen), 0);
	ck_assert_int_eq(mesh_db_put(mesh_store_db(store), key, klen, val, vlen, true), 0);
	free(key);
	free(val);
}

START_TEST(commits_taken_by_gc)
{
	static const char gone[] =
		"1111111111111111111111111111111111111111111111111111111111111111";
	char b1[65];
	char *ans;

	run_ok("domain create a");
	run_ok("domain create b");
	put("b", "f.csv", "f\n");
	commit("b/main", b1);
	/* The record of a copy whose own commit is gone: no ancestor. */
	put_record("b", "f.csv", gone, "a", gone, "f.csv");
	ans = lineage("b/main/f.csv");
	assert_has(ans, "\"origin\":true}],\"hops\":0");
	free(ans);
	/* A copy whose source commit is gone: the chain ends there. */
	put_record("b", "f.csv", b1, "a", gone, "src.csv");
	ans = lineage("b/main/f.csv");
	assert_has(ans, "{\"domain\":\"a\",\"ref\":\"main\",\"commit\":\"1111");
	assert_has(ans, "\"path\":\"src.csv\",\"gone\":true}],\"hops\":1");
	free(ans);
}
END_TEST

static Suite *lineage_suite(void)
{
	Suite *s = suite_create("lineage");
	TCase *tc = tcase_create("lineage");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, two_hops_down_to_the_source_commit);
	tcase_add_test(tc, only_what_a_commit_lands_as_copied);
	tcase_add_test(tc, directories_and_merges);
	tcase_add_test(tc, commits_taken_by_gc);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(lineage_suite());
}
