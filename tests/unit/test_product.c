/* test_product.c - product cards: parsing, each kind of invalid card with
 * its line and field, and the commit gate that refuses them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "testutil.h"
#include "error.h"
#include "gate.h"
#include "history.h"
#include "product.h"
#include "view.h"

#define FILE_LABEL "sales/main/.mesh/product.yaml"

static const char valid_card[] =
	"# the orders product\n"
	"id: urn:mesh:sales:orders\n"
	"name: Orders\n"
	"version: 1.2.0\n"
	"status: active\n"
	"description: >\n"
	"  every order,\n"
	"  one row each\n"
	"owner: alice\n"
	"team: sales-eng\n"
	"contacts:\n"
	"  - name: Alice\n"
	"    email: alice@example.com\n"
	"  - url: https://wiki/orders\n"
	"    role: docs\n"
	"tags: [orders, sales]\n"
	"output_ports:\n"
	"  - name: daily\n"
	"    path: daily/\n"
	"    contract: contracts/daily.yaml\n"
	"input_ports:\n"
	"  - product: customers\n"
	"    ref: v2\n"
	"    path: export\n"
	"custom:\n"
	"  cost_center: \"4711\"\n"
	"  sla: 99.9\n";

static mesh_product *parse_ok(const char *text)
{
	mesh_product *p = NULL;
	int rc = mesh_product_parse(FILE_LABEL, text, strlen(text), &p);

	ck_assert_msg(rc == 0, "parse failed: %s", mesh_error_message());
	return p;
}

/* The card is refused with exactly "FILE line N: field F: ..." */
static void parse_fails(const char *text, unsigned line, const char *field, const char *what)
{
	mesh_product *p = (mesh_product *)1;
	char want[512];

	ck_assert_int_eq(mesh_product_parse(FILE_LABEL, text, strlen(text), &p), MESH_EINVAL);
	ck_assert_ptr_null(p);
	snprintf(want, sizeof(want), FILE_LABEL " line %u: field %s: ", line, field);
	ck_assert_msg(strncmp(mesh_error_message(), want, strlen(want)) == 0,
		      "message '%s' does not start with '%s'", mesh_error_message(), want);
	ck_assert_msg(strstr(mesh_error_message(), what), "message '%s' does not say '%s'",
		      mesh_error_message(), what);
}

START_TEST(valid_card_parses)
{
	mesh_product *p = parse_ok(valid_card);

	ck_assert_str_eq(p->id, "urn:mesh:sales:orders");
	ck_assert_str_eq(p->name, "Orders");
	ck_assert_str_eq(p->version, "1.2.0");
	ck_assert_str_eq(p->status, "active");
	ck_assert_str_eq(p->description, "every order, one row each\n");
	ck_assert_str_eq(p->owner, "alice");
	ck_assert_str_eq(p->team, "sales-eng");
	ck_assert_uint_eq(p->contact_count, 2);
	ck_assert_str_eq(p->contacts[0].email, "alice@example.com");
	ck_assert_str_eq(p->contacts[1].role, "docs");
	ck_assert_ptr_null(p->contacts[1].name);
	ck_assert_uint_eq(p->tag_count, 2);
	ck_assert_str_eq(p->tags[1], "sales");
	ck_assert_uint_eq(p->output_count, 1);
	ck_assert_str_eq(p->outputs[0].path, "daily/");
	ck_assert_str_eq(p->outputs[0].contract, "contracts/daily.yaml");
	ck_assert_uint_eq(p->outputs[0].line, 19);
	ck_assert_uint_eq(p->input_count, 1);
	ck_assert_str_eq(p->inputs[0].product, "customers");
	ck_assert_str_eq(p->inputs[0].ref, "v2");
	ck_assert_uint_eq(p->custom_count, 2);
	ck_assert_str_eq(p->custom[0].key, "cost_center");
	ck_assert_str_eq(p->custom[1].value, "99.9");
	mesh_product_free(p);
}
END_TEST

START_TEST(card_as_json)
{
	mesh_product *p = parse_ok("id: x\nname: \"a \\\"b\\\"\"\nowner: o\nstatus: retired\n");
	mesh_json j;
	char *text = NULL;

	mesh_json_init(&j);
	mesh_product_json(&j, p);
	ck_assert_int_eq(mesh_json_take(&j, &text), 0);
	ck_assert_str_eq(text, "{\"id\":\"x\",\"name\":\"a \\\"b\\\"\",\"status\":\"retired\","
			 "\"owner\":\"o\",\"contacts\":[],\"tags\":[],\"output_ports\":[],"
			 "\"input_ports\":[],\"custom\":{}}");
	free(text);
	mesh_product_free(p);
}
END_TEST

#define BASE "id: x\nname: y\nowner: o\nstatus: active\n"

START_TEST(invalid_cards_name_line_and_field)
{
	parse_fails("id: x\nname: y\nowner: o\nstatus: shipped\n", 4, "status",
		    "'shipped' is not a status (one of proposed, development, active, "
		    "deprecated, retired)");
	parse_fails("id: x\nname: y\nowner: o\n", 1, "status", "required field missing");
	parse_fails("name: y\nowner: o\nstatus: active\n", 1, "id", "required field missing");
	parse_fails("id: x\nname: y\nstatus: active\n", 1, "owner", "required field missing");
	parse_fails(BASE "colour: red\n", 5, "colour", "unknown field");
	parse_fails(BASE "tags: orders\n", 5, "tags", "expected a list of strings, found a scalar");
	parse_fails(BASE "tags:\n  - a\n  - [b]\n", 7, "tags[1]", "expected a string, found a list");
	parse_fails(BASE "output_ports:\n  path: x\n", 6, "output_ports",
		    "expected a list of mappings, found a mapping");
	parse_fails(BASE "output_ports:\n  - x\n", 6, "output_ports[0]", "expected a mapping");
	parse_fails(BASE "output_ports:\n  - name: n\n", 6, "output_ports[0]", "needs a path");
	parse_fails(BASE "output_ports:\n  - path: /abs\n", 6, "output_ports[0].path",
		    "must be relative");
	parse_fails(BASE "output_ports:\n  - path: a/../b\n", 6, "output_ports[0].path",
		    "'.' or '..'");
	parse_fails(BASE "output_ports:\n  - path: a\n    size: 3\n", 7, "output_ports[0].size",
		    "unknown field");
	parse_fails(BASE "input_ports:\n  - path: a\n", 6, "input_ports[0]", "needs a product");
	parse_fails(BASE "input_ports:\n  - product: no/such\n", 6, "input_ports[0].product",
		    "not a domain name");
	parse_fails(BASE "contacts:\n  - phone: 1\n", 6, "contacts[0].phone", "unknown field");
	parse_fails(BASE "custom:\n  a: [1]\n", 6, "custom.a", "expected a string");
	parse_fails(BASE "custom: 3\n", 5, "custom", "expected a mapping of strings");
	parse_fails("id: x\nid: z\nname: y\nowner: o\nstatus: active\n", 2, "id", "appears twice");
	parse_fails(BASE "custom:\n  a_rather_long_key_of_more_than_sixty_four_bytes_in_all_for_sure_x: 1\n"
		    "  a_rather_long_key_of_more_than_sixty_four_bytes_in_all_for_sure_x: 2\n", 7,
		    "custom.a_rather_long_key_of_more_than_sixty_four_bytes_in_all_for_sure_x",
		    "appears twice");
	parse_fails(BASE "? [a]\n: b\n", 5, "(top level)", "a key must be a string");
	parse_fails("id: &i x\nname: *i\nowner: o\nstatus: active\n", 2, "(alias)",
		    "YAML aliases are not allowed");
	parse_fails(BASE "tags: &t [a, b]\ncustom: {k: v}\nx: *t\n", 7, "(alias)",
		    "YAML aliases are not allowed");
	parse_fails("id: \"\"\nname: y\nowner: o\nstatus: active\n", 1, "id", "must not be empty");
	parse_fails("- id: x\n", 1, "(top level)", "expected a mapping of fields, found a list");
	parse_fails("", 1, "id", "the card is empty");
	parse_fails(BASE "---\nid: again\n", 6, "(document)", "a second one starts here");
	parse_fails("id: [x\nname: y\n", 2, "(syntax)", "flow sequence");
	parse_fails(BASE "custom:\n  a: b\n  - c\n", 7, "(syntax)", "");
	parse_fails("id: x\nname: \"\\0\"\nowner: o\nstatus: active\n", 2, "name", "NUL byte");
}
END_TEST

START_TEST(oversized_card_is_not_parsed)
{
	size_t len = MESH_PRODUCT_MAX_BYTES + 1;
	char *big = malloc(len);
	mesh_product *p = NULL;

	ck_assert_ptr_nonnull(big);
	memset(big, '#', len);
	ck_assert_int_eq(mesh_product_parse(FILE_LABEL, big, len, &p), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "over the limit of 1048576"));
	free(big);
}
END_TEST

/* --- the gate, on a real store ------------------------------------------- */

static char *tmp;
static mesh_store *store;
static mesh_view *view;
static mesh_caller caller;

static void store_setup(void)
{
	tmp = test_tmpdir_new();
	store = test_store_new(tmp, &caller, "sales");
	ck_assert_int_eq(mesh_view_open_branch(&view, store, "sales", "main"), 0);
}

static void store_teardown(void)
{
	mesh_view_free(view);
	mesh_store_close(store);
	test_tmpdir_remove(tmp);
}

static void stage_text(const char *path, const char *text)
{
	test_stage_file(store, view, &caller, path, text, strlen(text));
}

static void head_of_main(mesh_oid *out)
{
	ck_assert_int_eq(mesh_history_branch_head(store, "sales", "main", out), 0);
}

START_TEST(gate_refuses_and_the_head_stays)
{
	mesh_oid before, after, out;
	size_t changes = 0;

	ck_assert_int_eq(mesh_view_mkdir(view, &caller, ".mesh", 0755), 0);
	stage_text(".mesh/product.yaml", "id: x\nname: y\nowner: o\nstatus: active\n");
	test_commit(view, &caller);
	head_of_main(&before);

	stage_text(".mesh/product.yaml", "id: x\nname: y\nowner: o\nstatus: gone\n");
	ck_assert_int_eq(mesh_view_commit(view, &caller, "bad", NULL, 0, &out, &changes),
			 MESH_EINVAL);
	ck_assert_str_eq(mesh_error_message(), "sales/main/.mesh/product.yaml line 4: field "
			 "status: 'gone' is not a status (one of proposed, development, active, "
			 "deprecated, retired)");
	head_of_main(&after);
	ck_assert_int_eq(mesh_oid_cmp(&before, &after), 0);

	/* A port on a path the tree lacks: refused until the path comes. */
	stage_text(".mesh/product.yaml", BASE "output_ports:\n  - path: daily\n");
	ck_assert_int_eq(mesh_view_commit(view, &caller, "port", NULL, 0, &out, &changes),
			 MESH_EINVAL);
	ck_assert_str_eq(mesh_error_message(), "sales/main/.mesh/product.yaml line 6: field "
			 "output_ports[0].path: 'daily' does not exist in the branch");
	head_of_main(&after);
	ck_assert_int_eq(mesh_oid_cmp(&before, &after), 0);
	ck_assert_int_eq(mesh_view_mkdir(view, &caller, "daily", 0755), 0);
	stage_text("daily/x.csv", "a\n");
	ck_assert_int_eq(mesh_view_commit(view, &caller, "port", NULL, 0, &out, &changes), 0);

	/* The apply path (merge, revert) is gated too: removing the port's
	 * path under the card is refused. */
	mesh_oid root, empty;
	mesh_view_root_tree(view, &root);
	ck_assert_int_eq(mesh_tree_empty(mesh_store_odb(store), &empty), 0);
	head_of_main(&before);
	ck_assert_int_eq(mesh_view_apply(view, &caller, NULL, &root, NULL, "merge", NULL, "same", NULL, 0,
					 &out), 0);
	mesh_tree_entry e;
	ck_assert_int_eq(mesh_tree_lookup_path(mesh_store_odb(store), &root, ".mesh", &e), 0);
	mesh_oid only_card = TEST_TREE(mesh_store_odb(store), test_dir_entry(".mesh", e.id));
	head_of_main(&before);
	ck_assert_int_eq(mesh_view_apply(view, &caller, NULL, &only_card, NULL, "merge", NULL, "drop",
					 NULL, 0, &out), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "output_ports[0].path"));
	head_of_main(&after);
	ck_assert_int_eq(mesh_oid_cmp(&before, &after), 0);
	/* No card at all is fine. */
	ck_assert_int_eq(mesh_gate_commit(store, &caller, "sales", "main", &root, &empty, NULL), 0);
}
END_TEST

START_TEST(card_at_a_tree)
{
	mesh_product *p = NULL;
	mesh_oid root;

	mesh_view_root_tree(view, &root);
	p = (mesh_product *)1;
	ck_assert_int_eq(mesh_product_load(store, "sales", "main", &root, &p), 0);
	ck_assert_ptr_null(p);
	char *none = NULL;
	size_t none_len;
	ck_assert_int_eq(mesh_product_file(store, &caller, "sales", &none, &none_len), MESH_ENOENT);
	ck_assert_str_eq(mesh_error_message(), "sales has no product card on main");
	ck_assert_ptr_null(none);
	ck_assert_int_eq(mesh_view_mkdir(view, &caller, ".mesh", 0755), 0);
	stage_text(".mesh/product.yaml", valid_card);
	ck_assert_int_eq(mesh_view_mkdir(view, &caller, "daily", 0755), 0);
	stage_text("daily/x.csv", "a\n");
	test_commit(view, &caller);
	mesh_view_root_tree(view, &root);
	ck_assert_int_eq(mesh_product_load(store, "sales", "main", &root, &p), 0);
	ck_assert_str_eq(p->name, "Orders");
	mesh_product_free(p);

	char *text = NULL;
	size_t len = 0;
	ck_assert_int_eq(mesh_product_file(store, &caller, "sales", &text, &len), 0);
	ck_assert_uint_eq(len, strlen(text));
	ck_assert(text[len - 1] == '\n');
	ck_assert_ptr_nonnull(strstr(text, "\"domain\":\"sales\",\"branch\":\"main\",\"commit\":"));
	free(text);
}
END_TEST

static Suite *product_suite(void)
{
	Suite *s = suite_create("product");
	TCase *parse = tcase_create("parse");
	TCase *gate = tcase_create("gate");

	tcase_add_test(parse, valid_card_parses);
	tcase_add_test(parse, card_as_json);
	tcase_add_test(parse, invalid_cards_name_line_and_field);
	tcase_add_test(parse, oversized_card_is_not_parsed);
	suite_add_tcase(s, parse);
	tcase_add_checked_fixture(gate, store_setup, store_teardown);
	tcase_add_test(gate, gate_refuses_and_the_head_stays);
	tcase_add_test(gate, card_at_a_tree);
	suite_add_tcase(s, gate);
	return s;
}

int main(void)
{
	return test_run_suite(product_suite());
}
