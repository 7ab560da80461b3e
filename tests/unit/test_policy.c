/* test_policy.c - the standard fields of `policy require`: what the
 * command stores and shows, who may set it, and the gate holding the
 * default branch (and only it) to it on commit and merge. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "branch.h"
#include "control.h"
#include "error.h"
#include "gate.h"
#include "history.h"
#include "store.h"
#include "view.h"

static char *tmp;
static mesh_store *store;
static mesh_control_env env;
static mesh_caller admin, other;
static test_views table;

static mesh_view *view_of(const char *branch)
{
	mesh_view *v = NULL;

	ck_assert_int_eq(test_views_get(&table, "sales", branch, &v), 0);
	return v;
}

static void setup(void)
{
	tmp = test_tmpdir_new();
	store = test_store_new(tmp, &admin, "sales");
	other = admin;
	other.uid = 5004;
	other.gid = 100;
	test_views_env(&table, store, &env);
}

static void teardown(void)
{
	test_views_free(&table);
	mesh_store_close(store);
	test_tmpdir_remove(tmp);
}

static int run(const mesh_caller *who, const char *line, char **answer)
{
	return test_views_run(&table, &env, who, line, answer);
}

static void ok(const char *line)
{
	char *answer;
	int error = run(&admin, line, &answer);

	ck_assert_msg(error == 0, "[%s] failed: %s", line, answer);
}

static void shows(const char *part)
{
	char *answer;

	ck_assert_int_eq(run(&other, "policy show", &answer), 0);
	ck_assert_msg(strstr(answer, part), "policy show lacks [%s]: %s", part, answer);
}

static void stage_text(const char *branch, const char *path, const char *text)
{
	test_stage_file(store, view_of(branch), &admin, path, text, strlen(text));
}

static int commit(const char *branch)
{
	mesh_oid out;
	size_t changes = 0;

	return mesh_view_commit(view_of(branch), &admin, "c", NULL, 0, &out, &changes);
}

static void head(const char *branch, mesh_oid *out)
{
	ck_assert_int_eq(mesh_history_branch_head(store, "sales", branch, out), 0);
}

#define CARD "id: x\nname: y\nowner: o\nstatus: active\n"

START_TEST(require_unrequire_show)
{
	char *answer;

	shows("\"require-card-fields\":[],\"require-classification\":false");
	ok("policy require card-field description,owner");
	shows("\"require-card-fields\":[\"description\",\"owner\"]");
	ok("policy require card-field tags");
	ok("policy require classification");
	shows("\"require-card-fields\":[\"description\",\"owner\",\"tags\"],"
	      "\"require-classification\":true");
	ok("policy unrequire card-field owner,tags");
	ok("policy unrequire classification");
	shows("\"require-card-fields\":[\"description\"],\"require-classification\":false");
	/* The other policy is still there beside them. */
	shows("\"protect-main-by-default\":false");

	ck_assert_int_eq(run(&other, "policy require card-field owner", &answer), MESH_EACCES);
	ck_assert_ptr_nonnull(strstr(answer, "administrator"));
	ck_assert_int_eq(run(&other, "policy unrequire card-field description", &answer),
			 MESH_EACCES);
	ck_assert_int_eq(run(&other, "policy require classification", &answer), MESH_EACCES);
	ck_assert_int_eq(run(&admin, "policy require card-field owner,colour", &answer),
			 MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(answer, "'colour' is not a card field (fields: id, name, "
					     "version, status, description, owner, team, "
					     "contacts, tags, output_ports, input_ports)"));
	ck_assert_int_eq(run(&admin, "policy require card-field", &answer), MESH_EINVAL);
	ck_assert_int_eq(run(&admin, "policy require colour", &answer), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(answer, "usage: policy require card-field"));
	/* Refusals changed nothing. */
	shows("\"require-card-fields\":[\"description\"],\"require-classification\":false");
}
END_TEST

START_TEST(card_fields_hold_main_only)
{
	mesh_oid before, after;

	ck_assert_int_eq(mesh_view_mkdir(view_of("main"), &admin, ".mesh", 0755), 0);
	stage_text("main", ".mesh/product.yaml", CARD);
	ck_assert_int_eq(commit("main"), 0);
	mesh_oid dev_head;
	ck_assert_int_eq(mesh_branch_create(store, &admin, "sales", "dev", "main", &dev_head), 0);
	ok("policy require card-field description");

	/* main: refused, the head stays. */
	head("main", &before);
	stage_text("main", "a.txt", "a\n");
	ck_assert_int_eq(commit("main"), MESH_EINVAL);
	ck_assert_str_eq(mesh_error_message(), "policy require card-field description: "
			 "sales/main/.mesh/product.yaml has no description");
	head("main", &after);
	ck_assert_int_eq(mesh_oid_cmp(&before, &after), 0);

	/* dev: not held to it. */
	stage_text("dev", "b.txt", "b\n");
	ck_assert_int_eq(commit("dev"), 0);

	/* A merge into main is refused until dev's card is fixed (main's
	 * refused change dropped, out of the merge's way). */
	mesh_change *dropped = NULL;
	size_t dropped_count = 0;
	ck_assert_int_eq(mesh_view_reset(view_of("main"), &admin, "", &dropped, &dropped_count), 0);
	mesh_changes_free(dropped, dropped_count);
	char *answer;
	ck_assert_int_eq(run(&admin, "merge sales/dev --into main", &answer), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(answer, "policy require card-field description"));
	head("main", &after);
	ck_assert_int_eq(mesh_oid_cmp(&before, &after), 0);
	stage_text("dev", ".mesh/product.yaml", CARD "description: daily orders\n");
	ck_assert_int_eq(commit("dev"), 0);
	ok("merge sales/dev --into main");
	head("main", &after);
	ck_assert_int_ne(mesh_oid_cmp(&before, &after), 0);

	/* A card that is gone from main is refused too. */
	ok("policy require card-field owner");
	mesh_oid empty;
	ck_assert_int_eq(mesh_tree_empty(mesh_store_odb(store), &empty), 0);
	ck_assert_int_eq(mesh_gate_commit(store, &admin, "sales", "main", NULL, &empty, NULL),
			 MESH_EINVAL);
	ck_assert_str_eq(mesh_error_message(), "policy require card-field description: "
			 "sales/main/.mesh/product.yaml is missing (it must give description)");
	ck_assert_int_eq(mesh_gate_commit(store, &admin, "sales", "dev", NULL, &empty, NULL), 0);
	ok("policy unrequire card-field owner,description");
	ck_assert_int_eq(mesh_gate_commit(store, &admin, "sales", "main", NULL, &empty, NULL), 0);
}
END_TEST

#define CONTRACT(CLASS) \
	"apiVersion: v3.0.2\nkind: DataContract\nname: orders\nservers:\n" \
	"  - server: lake\n    path: data/orders*.csv\n    format: csv\nschema:\n" \
	"  - name: orders\n    properties:\n      - name: id\n" \
	"        logicalType: integer\n        classification: public\n" \
	"      - name: email\n        logicalType: string\n" CLASS

START_TEST(classification_required)
{
	ck_assert_int_eq(mesh_view_mkdir(view_of("main"), &admin, ".mesh", 0755), 0);
	ck_assert_int_eq(mesh_view_mkdir(view_of("main"), &admin, ".mesh/contracts", 0755), 0);
	stage_text("main", ".mesh/contracts/orders.yaml", CONTRACT(""));
	ck_assert_int_eq(commit("main"), 0);
	ok("policy require classification");

	stage_text("main", "a.txt", "a\n");
	ck_assert_int_eq(commit("main"), MESH_EINVAL);
	ck_assert_str_eq(mesh_error_message(), "policy require classification: sales/main/"
			 ".mesh/contracts/orders.yaml: property 'email' has no classification");
	stage_text("main", ".mesh/contracts/orders.yaml",
		   CONTRACT("        classification: restricted\n"));
	ck_assert_int_eq(commit("main"), 0);
}
END_TEST

/* The groups of a caller in users (gid 100) by a supplementary group. */
static int users_group(const void *source, gid_t *out, int max)
{
	(void)source;
	if (max < 1)
		return 0;
	out[0] = 100;
	return 1;
}

/* The governance group's members set the standards beside the
 * administrator; only the administrator names the group. */
START_TEST(governance_group)
{
	mesh_caller member = { .uid = 5006, .gid = 4242, .pid = 1, .groups_of = users_group };
	mesh_caller outsider = { .uid = 5007, .gid = 4343, .pid = 1 };
	char *answer;

	shows("\"governance-group\":\"none\"");
	ck_assert_int_eq(run(&member, "policy require card-field owner", &answer), MESH_EACCES);
	ck_assert_ptr_nonnull(strstr(answer, "only the store's administrator may set policies"));

	ck_assert_int_eq(run(&member, "policy set governance-group users", &answer), MESH_EACCES);
	ck_assert_ptr_nonnull(strstr(answer, "only the store's administrator may set the "
					     "governance group"));
	ck_assert_int_eq(run(&admin, "policy set governance-group no-such-group-x", &answer),
			 MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(answer, "policy set governance-group: unknown group "
					     "'no-such-group-x'"));
	shows("\"governance-group\":\"none\"");
	ok("policy set governance-group users");
	shows("\"governance-group\":\"users\"");

	/* A member (by a supplementary group) sets every standard. */
	ck_assert_int_eq(run(&member, "policy require card-field owner,description", &answer), 0);
	ck_assert_int_eq(run(&member, "policy require classification", &answer), 0);
	ck_assert_int_eq(run(&member, "policy unrequire card-field description", &answer), 0);
	ck_assert_int_eq(run(&member, "policy set protect-main-by-default true", &answer), 0);
	shows("\"protect-main-by-default\":true,\"governance-group\":\"users\","
	      "\"require-card-fields\":[\"owner\"],\"require-classification\":true");
	/* Not the group itself, nor what is the administrator's alone. */
	ck_assert_int_eq(run(&member, "policy set governance-group none", &answer), MESH_EACCES);
	ck_assert_int_eq(run(&member, "gc", &answer), MESH_EACCES);

	ck_assert_int_eq(run(&outsider, "policy unrequire classification", &answer), MESH_EACCES);
	ck_assert_ptr_nonnull(strstr(answer, "only the store's administrator and the governance "
					     "group (users) may set policies"));
	ck_assert_int_eq(run(&outsider, "policy set protect-main-by-default false", &answer),
			 MESH_EACCES);
	shows("\"protect-main-by-default\":true,\"governance-group\":\"users\"");

	/* The administrator changes the group: the member is out. */
	ok("policy set governance-group none");
	shows("\"governance-group\":\"none\"");
	ck_assert_int_eq(run(&member, "policy unrequire classification", &answer), MESH_EACCES);
	ck_assert_ptr_nonnull(strstr(answer, "only the store's administrator may set policies"));
	shows("\"require-classification\":true");
}
END_TEST

static Suite *policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *t = tcase_create("policy");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, require_unrequire_show);
	tcase_add_test(t, card_fields_hold_main_only);
	tcase_add_test(t, classification_required);
	tcase_add_test(t, governance_group);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return test_run_suite(policy_suite());
}
