#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "commit.h"
#include "contract.h"
#include "error.h"
#include "file.h"
#include "history.h"
#include "json.h"

static char *tmp;
static mesh_store *store;
static mesh_odb *odb;
static mesh_caller me;

static void setup(void)
{
	tmp = test_tmpdir_new();
	store = test_store_new(tmp, &me, "sales");
	odb = mesh_store_odb(store);
}

static void teardown(void)
{
	mesh_store_close(store);
	test_tmpdir_remove(tmp);
}

static const char *orders_contract =
	"apiVersion: v3.0.2\n"
	"kind: DataContract\n"
	"id: orders-1\n"
	"version: 1.0.0\n"
	"status: active\n"
	"name: orders\n"
	"servers:\n"
	"  - server: lake\n"
	"    type: local\n"
	"    path: data/orders*.csv\n"
	"    format: csv\n"
	"schema:\n"
	"  - name: orders\n"
	"    physicalType: table\n"
	"    properties:\n"
	"      - name: id\n"
	"        logicalType: integer\n"
	"        primaryKey: true\n"
	"      - name: status\n"
	"        logicalType: string\n"
	"        required: true\n"
	"        quality:\n"
	"          - metric: invalidValues\n"
	"            mustBe: 0\n"
	"            arguments:\n"
	"              validValues: [open, shipped]\n"
	"      - name: amount\n"
	"        logicalType: number\n"
	"        classification: internal\n"
	"        logicalTypeOptions:\n"
	"          minimum: 0\n"
	"          maximum: 1000\n"
	"    quality:\n"
	"      - metric: rowCount\n"
	"        mustBeLessOrEqualTo: 100\n"
	"customProperties:\n"
	"  - property: meshfs.allowedExtensions\n"
	"    value: [csv]\n"
	"  - property: meshfs.maxFileSize\n"
	"    value: 200\n";

/* The same contract with every rule dropped. */
static const char *loose_contract =
	"apiVersion: v3.0.2\n"
	"kind: DataContract\n"
	"name: orders\n"
	"servers:\n"
	"  - server: lake\n"
	"    path: data/orders*.csv\n"
	"    format: csv\n"
	"schema:\n"
	"  - name: orders\n"
	"    properties:\n"
	"      - name: id\n";

static mesh_tree_entry blob(const char *name, const char *text)
{
	mesh_tree_entry e = { .name = (char *)name, .kind = MESH_KIND_FILE, .mode = 0644,
			      .size = strlen(text) };

	ck_assert_int_eq(mesh_file_write_buf(odb, NULL, text, strlen(text), &e.id), 0);
	return e;
}

static mesh_tree_entry subdir(const char *name, mesh_oid id)
{
	return test_dir_entry(name, id);
}

/* { .mesh/contracts/orders.yaml (if contract), data/NAME (if csv) } */
static mesh_oid make_tree(const char *contract, const char *name, const char *csv)
{
	mesh_tree_entry top[2], data;
	size_t n = 0;

	if (contract) {
		mesh_tree_entry c = blob("orders.yaml", contract);
		mesh_oid contracts = test_tree_write(odb, &c, 1);
		mesh_tree_entry d = subdir("contracts", contracts);
		top[n++] = subdir(".mesh", test_tree_write(odb, &d, 1));
	}
	if (csv) {
		data = blob(name, csv);
		top[n++] = subdir("data", test_tree_write(odb, &data, 1));
	}
	return test_tree_write(odb, top, n);
}

static const char *good_csv = "id,status,amount\n1,open,10\n2,shipped,20.5\n";

/* The gate of a change from base to the candidate: its code and message. */
static int gate(const mesh_oid *head, const mesh_oid *candidate, char *msg, size_t cap,
		char **details)
{
	mesh_json j;
	int error;

	mesh_json_init(&j);
	mesh_json_object_begin(&j);
	mesh_error_clear();
	error = mesh_contract_gate(store, "sales", head, candidate, &j);
	snprintf(msg, cap, "%s", mesh_error_message());
	mesh_json_object_end(&j);
	ck_assert_int_eq(mesh_json_take(&j, details), 0);
	return error;
}

static void assert_refused_by(const char *contract, const char *csv, const char *name,
			      const char *const *words)
{
	mesh_oid head = make_tree(contract, "orders.csv", good_csv);
	mesh_oid cand = make_tree(contract, name, csv);
	char msg[1024], *details;

	ck_assert_int_eq(gate(&head, &cand, msg, sizeof(msg), &details), MESH_EINVAL);
	for (; *words; words++) {
		if (!strstr(msg, *words))
			ck_abort_msg("'%s' not in: %s", *words, msg);
	}
	ck_assert_ptr_nonnull(strstr(details, "\"failures\":["));
	free(details);
}

static void assert_refused(const char *csv, const char *name, const char *const *words)
{
	assert_refused_by(orders_contract, csv, name, words);
}

START_TEST(good_data_passes_the_gate)
{
	mesh_oid head = make_tree(orders_contract, "orders.csv", good_csv);
	mesh_oid cand = make_tree(orders_contract, "orders.csv",
				  "id,status,amount,extra\n1,open,10,x\n2,shipped,20.5,y\n3,open,,z\n");
	char msg[1024], *details;

	ck_assert_int_eq(gate(&head, &cand, msg, sizeof(msg), &details), 0);
	free(details);
	/* No contract at the head: nothing to hold. */
	mesh_oid bare = make_tree(NULL, NULL, NULL);
	cand = make_tree(NULL, "orders.csv", "garbage");
	ck_assert_int_eq(gate(&bare, &cand, msg, sizeof(msg), &details), 0);
	free(details);
}
END_TEST

START_TEST(missing_required_column)
{
	assert_refused("id,amount\n1,10\n", "orders.csv",
		       (const char *const[]){ "data/orders.csv", "'status'", "required",
					      "missing column", NULL });
}
END_TEST

START_TEST(nulls_where_none_are_allowed)
{
	assert_refused("id,status,amount\n1,open,1\n2,,2\n3,,3\n", "orders.csv",
		       (const char *const[]){ "data/orders.csv", "'status'", "rule required",
					      "(null)' (row 2)", "(row 3)", NULL });
}
END_TEST

START_TEST(duplicate_key)
{
	assert_refused("id,status,amount\n1,open,1\n2,open,2\n1,open,3\n", "orders.csv",
		       (const char *const[]){ "data/orders.csv", "'id'", "primaryKey",
					      "value '1' (row 3)", NULL });
}
END_TEST

/* Keys are added in batches: a duplicate far from its first. */
START_TEST(duplicate_key_across_batches)
{
	char csv[4096];
	size_t pos = (size_t)snprintf(csv, sizeof(csv), "id,status,amount\n");

	for (int i = 1; i <= 99; i++)
		pos += (size_t)snprintf(csv + pos, sizeof(csv) - pos, "%d,open,%d.25\n",
					i == 70 ? 5 : i, i);
	mesh_oid head = make_tree(orders_contract, "orders.csv", good_csv);
	char *wide = strdup(orders_contract);
	memcpy(strstr(wide, "    value: 200\n"), "    value: 9999", 15);
	mesh_oid h2 = make_tree(wide, "orders.csv", good_csv);
	mesh_oid cand = make_tree(wide, "orders.csv", csv);
	char msg[1024], *details;

	(void)head;
	ck_assert_int_eq(gate(&h2, &cand, msg, sizeof(msg), &details), MESH_EINVAL);
	if (!strstr(msg, "rule primaryKey (contract orders): a duplicate: value '5' (row 70)"))
		ck_abort_msg("%s", msg);
	ck_assert_ptr_null(strstr(msg, "rule maximum"));
	free(details);
	free(wide);
}
END_TEST

/* Keys that mostly ascend take the sorted run, the others the hash; a
 * duplicate of either, in any block of the run (its first value, its
 * last, one decoded after a shared prefix), is found, and only those:
 * the count is a brute force's. */
START_TEST(duplicate_keys_of_the_run_and_the_hash)
{
	static const char *contract =
		"apiVersion: v3.0.2\nkind: DataContract\nname: keys\nservers:\n"
		"  - server: lake\n    path: data/k.csv\n    format: csv\n"
		"schema:\n  - name: k\n    properties:\n      - name: id\n        unique: true\n";
	enum { ROWS = 3000 };
	static char ids[ROWS][16];
	size_t cap = ROWS * 24, pos = 0;
	char *csv = malloc(cap), msg[1024], *details, want[64];
	unsigned seed = 7;
	int dups = 0;

	pos += (size_t)snprintf(csv + pos, cap - pos, "id\n");
	for (int i = 0; i < ROWS; i++) {
		seed = seed * 1103515245u + 12345u;
		unsigned r = (seed >> 16) % 100;
		if (i < 40 || r < 70)            /* ascending: "k0000040", a shared prefix */
			snprintf(ids[i], sizeof(ids[i]), "k%07d", i * 2);
		else if (r < 80)                 /* an odd one below: new, to the hash */
			snprintf(ids[i], sizeof(ids[i]), "k%07d", (int)(seed % (unsigned)(i * 2)) | 1);
		else if (r < 85)                 /* an early value of the run */
			snprintf(ids[i], sizeof(ids[i]), "k%07d", (int)(seed % 20) * 32);
		else                             /* any earlier value */
			memcpy(ids[i], ids[seed % (unsigned)i], sizeof(ids[i])); /* index < i */
		for (int j = 0; j < i; j++) {
			if (!strcmp(ids[j], ids[i])) {
				dups++;
				break;
			}
		}
		pos += (size_t)snprintf(csv + pos, cap - pos, "%s\n", ids[i]);
	}
	ck_assert_int_gt(dups, 100);
	mesh_tree_entry c = blob("keys.yaml", contract), d = blob("k.csv", csv);
	mesh_tree_entry contracts = subdir("contracts", test_tree_write(odb, &c, 1));
	mesh_tree_entry top[2] = {
		subdir(".mesh", test_tree_write(odb, &contracts, 1)),
		subdir("data", test_tree_write(odb, &d, 1)),
	};
	mesh_oid head = test_tree_write(odb, top, 1);
	mesh_oid cand = test_tree_write(odb, top, 2);
	ck_assert_int_eq(gate(&head, &cand, msg, sizeof(msg), &details), MESH_EINVAL);
	snprintf(want, sizeof(want), "\"rule\":\"unique\",\"detail\":\"a duplicate\",\"count\":%d,",
		 dups);
	if (!strstr(details, want))
		ck_abort_msg("'%s' not in: %s", want, details);
	free(details);
	free(csv);
}
END_TEST

START_TEST(value_outside_valid_values)
{
	assert_refused("id,status,amount\n1,open,1\n2,lost,2\n", "orders.csv",
		       (const char *const[]){ "data/orders.csv", "'status'", "validValues",
					      "value 'lost' (row 2)", NULL });
}
END_TEST

START_TEST(file_over_the_size_rule)
{
	char big[512];
	size_t pos = (size_t)snprintf(big, sizeof(big), "id,status,amount\n");

	for (int i = 1; pos < 300; i++)
		pos += (size_t)snprintf(big + pos, sizeof(big) - pos, "%d,open,%d\n", i, i);
	assert_refused(big, "orders.csv",
		       (const char *const[]){ "data/orders.csv", "maxFileSize", "bytes", NULL });
}
END_TEST

START_TEST(minimum_maximum_type_extension_rowcount)
{
	assert_refused("id,status,amount\n1,open,-1\n", "orders.csv",
		       (const char *const[]){ "'amount'", "minimum", "value '-1' (row 1)", NULL });
	assert_refused("id,status,amount\n1,open,1001\n", "orders.csv",
		       (const char *const[]){ "'amount'", "maximum", "'1001'", NULL });
	assert_refused("id,status,amount\n1,open,1000.01\n", "orders.csv",
		       (const char *const[]){ "'amount'", "maximum", "'1000.01'", NULL });
	assert_refused("id,status,amount\n1,open,-0.5\n", "orders.csv",
		       (const char *const[]){ "'amount'", "minimum", "'-0.5'", NULL });
	assert_refused("id,status,amount\n1,open,1.2.3\n", "orders.csv",
		       (const char *const[]){ "'amount'", "logicalType", "'1.2.3'", NULL });
	assert_refused("id,status,amount\nx,open,1\n", "orders.csv",
		       (const char *const[]){ "'id'", "logicalType", "'x'", NULL });
	char *wide = strdup(orders_contract);
	memcpy(strstr(wide, "orders*.csv"), "orders*    ", 11);
	assert_refused_by(wide, "id,status,amount\n1,open,1\n", "orders1.txt",
			  (const char *const[]){ "data/orders1.txt", "allowedExtensions", NULL });
	free(wide);
	assert_refused("id,status,amount\n1,\"open\n", "orders.csv",
		       (const char *const[]){ "rule csv", NULL });
}
END_TEST

START_TEST(row_count)
{
	mesh_contract **cs;
	size_t n;
	mesh_oid head = make_tree(orders_contract, "orders.csv", good_csv);
	mesh_contract_report r;
	char *csv = malloc(4096), *text;
	size_t pos = (size_t)snprintf(csv, 4096, "id,status\n");
	mesh_oid id;

	for (int i = 1; i <= 101; i++)
		pos += (size_t)snprintf(csv + pos, 4096 - pos, "%d,open\n", i);
	ck_assert_int_eq(mesh_file_write_buf(odb, NULL, csv, pos, &id), 0);
	ck_assert_int_eq(mesh_contract_load_tree(odb, &head, &cs, &n), 0);
	ck_assert_uint_eq(n, 1);
	mesh_contract_report_init(&r);
	/* The size rule is the gate's: a direct check of a big file sees both. */
	ck_assert_int_eq(mesh_contract_check_file(odb, NULL, cs, n, "data/orders.csv", &id, pos, &r), 0);
	ck_assert_int_eq(mesh_contract_report_error(&r, "check"), MESH_EINVAL);
	text = strdup(mesh_error_message());
	ck_assert_ptr_nonnull(strstr(text, "rowCount"));
	ck_assert_ptr_nonnull(strstr(text, "101 rows"));
	free(text);
	mesh_contract_report_dispose(&r);
	mesh_contract_list_free(cs, n);
	free(csv);
}
END_TEST

START_TEST(loosened_contract_still_judged_by_the_old)
{
	mesh_oid head = make_tree(orders_contract, "orders.csv", good_csv);
	const char *bad = "id,amount\n1,10\n1,5000\n";
	mesh_oid cand = make_tree(loose_contract, "orders.csv", bad);
	mesh_oid loose_head = make_tree(loose_contract, "orders.csv", good_csv);
	char msg[1024], *details;

	ck_assert_int_eq(gate(&head, &cand, msg, sizeof(msg), &details), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(msg, "primaryKey"));
	ck_assert_ptr_nonnull(strstr(msg, "'status'"));
	free(details);
	/* Once the loose contract is the head's, it judges. */
	ck_assert_int_eq(gate(&loose_head, &cand, msg, sizeof(msg), &details), 0);
	free(details);
}
END_TEST

START_TEST(gate_and_broken_contracts)
{
	mesh_oid head = make_tree(orders_contract, "orders.csv", good_csv);
	mesh_oid broken = make_tree("apiVersion: v3.0.0\nkind: DataContract\ntags: [x]\n",
				    "orders.csv", good_csv);
	mesh_oid broken_bad_data = make_tree("apiVersion: v3.0.0\nkind: DataContract\ntags: [x]\n",
					     "orders.csv", "id\n1\n1\n");
	char msg[1024], *details;

	/* A contract that does not parse does not land. */
	ck_assert_int_eq(gate(&head, &broken, msg, sizeof(msg), &details), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(msg, "contract orders, line 3: contract field 'tags'"));
	free(details);
	/* A broken head contract (from before the gate) refuses data... */
	ck_assert_int_eq(gate(&broken, &broken_bad_data, msg, sizeof(msg), &details), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(msg, "'tags'"));
	free(details);
	/* ...but lets its repair land. */
	ck_assert_int_eq(gate(&broken, &head, msg, sizeof(msg), &details), 0);
	free(details);
}
END_TEST

START_TEST(parse_errors_name_line_and_field)
{
	mesh_contract *c;
	char *text = malloc(strlen(orders_contract) + 64);

	sprintf(text, "%s", orders_contract);
	strcpy(strstr(text, "        classification: internal\n"),
	       "        tags: [a]\n");
	ck_assert_int_eq(mesh_contract_parse("orders", text, strlen(text), &c), MESH_EINVAL);
	if (!strstr(mesh_error_message(), "line 29"))
		ck_abort_msg("%s", mesh_error_message());
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "'tags'"));
	free(text);
	ck_assert_int_eq(mesh_contract_parse("x", "apiVersion: v2.2.0\nkind: DataContract\n", 37, &c),
			 MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "apiVersion"));
	ck_assert_int_eq(mesh_contract_parse("x", "a: [", 4, &c), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "contract x, line 2: "));
	const char *two_ops =
		"apiVersion: v3.0.0\nkind: DataContract\nservers: [{path: a, format: csv}]\n"
		"schema:\n  - name: t\n    properties:\n      - name: a\n        quality:\n"
		"          - metric: nullValues\n            mustBe: 0\n            mustBeLessThan: 2\n";
	ck_assert_int_eq(mesh_contract_parse("x", two_ops, strlen(two_ops), &c), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "one operator"));
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "line 11"));
	const char *fmt = "apiVersion: v3.0.0\nkind: DataContract\nservers: [{path: a, format: avro}]\n";
	ck_assert_int_eq(mesh_contract_parse("x", fmt, strlen(fmt), &c), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "avro"));
}
END_TEST

START_TEST(emit_parses_back_the_same)
{
	mesh_contract *c, *again;
	char *one, *two;
	size_t l1, l2;

	ck_assert_int_eq(mesh_contract_parse("orders", orders_contract, strlen(orders_contract), &c), 0);
	ck_assert_str_eq(mesh_contract_pattern(c), "data/orders*.csv");
	ck_assert_int_eq(mesh_contract_emit(c, &one, &l1), 0);
	ck_assert_int_eq(mesh_contract_parse("orders", one, l1, &again), 0);
	ck_assert_int_eq(mesh_contract_emit(again, &two, &l2), 0);
	ck_assert_str_eq(one, two);
	ck_assert_ptr_nonnull(strstr(one, "validValues: [open, shipped]"));
	ck_assert_ptr_nonnull(strstr(one, "mustBeLessOrEqualTo: 100"));
	ck_assert_ptr_nonnull(strstr(one, "classification: internal"));
	free(one);
	free(two);
	mesh_contract_free(c);
	mesh_contract_free(again);
}
END_TEST

static const char *events_contract =
	"apiVersion: v3.0.0\nkind: DataContract\nname: events\n"
	"servers:\n  - server: lake\n    path: \"*.jsonl\"\n    format: jsonl\n"
	"schema:\n  - name: events\n    properties:\n"
	"      - name: id\n        logicalType: integer\n        unique: true\n"
	"      - name: kind\n        required: true\n        quality:\n"
	"          - metric: invalidValues\n            mustBe: 0\n"
	"            arguments:\n              validValues: [click, view]\n"
	"      - name: note\n        quality:\n"
	"          - metric: nullValues\n            mustBeLessOrEqualTo: 1\n";

static char *last_json;

static int check_text(const char *contract, const char *path, const char *text, char **msg)
{
	mesh_json j;
	mesh_contract *c;
	mesh_contract_report r;
	mesh_oid id;
	int error;

	ck_assert_int_eq(mesh_contract_parse("events", contract, strlen(contract), &c), 0);
	ck_assert_int_eq(mesh_file_write_buf(odb, NULL, text, strlen(text), &id), 0);
	mesh_contract_report_init(&r);
	ck_assert_int_eq(mesh_contract_check_file(odb, NULL, &c, 1, path, &id, strlen(text), &r), 0);
	error = mesh_contract_report_error(&r, path);
	*msg = strdup(mesh_error_message());
	mesh_json_init(&j);
	mesh_json_object_begin(&j);
	mesh_contract_report_json(&r, &j);
	mesh_json_object_end(&j);
	free(last_json);
	ck_assert_int_eq(mesh_json_take(&j, &last_json), 0);
	mesh_contract_report_dispose(&r);
	mesh_contract_free(c);
	return error;
}

START_TEST(json_lines)
{
	char *msg;

	if (check_text(events_contract, "a/e.jsonl",
		       "{\"id\":1,\"kind\":\"click\",\"note\":\"x\"}\n{\"id\":2,\"kind\":\"view\"}\n",
		       &msg) != 0)
		ck_abort_msg("%s", msg);
	free(msg);
	ck_assert_int_eq(check_text(events_contract, "a/e.jsonl",
		"{\"id\":1,\"kind\":\"click\"}\n{\"id\":1,\"kind\":null}\n"
		"{\"id\":\"3\",\"kind\":\"buy\"}\n", &msg), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(msg, "a/e.jsonl column 'id' rule unique"));
	ck_assert_ptr_nonnull(strstr(msg, "value '1' (row 2)"));
	ck_assert_ptr_nonnull(strstr(msg, "column 'kind' rule required"));
	ck_assert_ptr_nonnull(strstr(msg, "'buy' (row 3)"));
	ck_assert_ptr_nonnull(strstr(msg, "column 'id' rule logicalType"));
	ck_assert_ptr_nonnull(strstr(msg, "and 1 more"));
	ck_assert_ptr_nonnull(strstr(last_json, "\"column\":\"note\",\"rule\":\"nullValues\","
				     "\"detail\":\"3 nulls, must be <= 1\""));
	free(msg);
	ck_assert_int_eq(check_text(events_contract, "e.jsonl", "{\"id\":1,\n", &msg), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(msg, "rule jsonl"));
	free(msg);
}
END_TEST

/* Lines and CSV records cut by chunk ends are put back together. */
START_TEST(rows_across_chunks)
{
	size_t cap = 6 << 20, pos = 0;
	char *text = malloc(cap), *msg;

	for (int i = 1; pos < cap - 200; i++)
		pos += (size_t)snprintf(text + pos, cap - pos,
					"{\"id\":%d,\"kind\":\"%s\",\"note\":\"n%d\"}\n",
					i == 120000 ? 7 : i, i == 110000 ? "buy" : "view", i);
	text[pos] = '\0';
	ck_assert_int_eq(check_text(events_contract, "big.jsonl", text, &msg), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(msg, "column 'id' rule unique (contract events): a duplicate: "
				     "value '7' (row 120000)"));
	ck_assert_ptr_nonnull(strstr(msg, "value 'buy' (row 110000)"));
	ck_assert_ptr_null(strstr(msg, "rule jsonl"));
	ck_assert_ptr_null(strstr(msg, "nullValues"));
	free(msg);
	free(text);
}
END_TEST

/* tests/unit/data/simple.parquet: pandas' test file (written by
 * parquet-cpp/pyarrow; Debian's python3-pandas ships it). */
static char *read_fixture(const char *name, size_t *len)
{
	char path[4096];
	FILE *f;
	char *buf = malloc(1 << 16);

	snprintf(path, sizeof(path), "%s/tests/unit/data/%s", MESH_SOURCE_DIR, name);
	ck_assert_ptr_nonnull(f = fopen(path, "rb"));
	*len = fread(buf, 1, 1 << 16, f);
	fclose(f);
	return buf;
}

static char *parquet_contract(const char *props)
{
	char *text = malloc(2048);

	snprintf(text, 2048,
		 "apiVersion: v3.0.0\nkind: DataContract\n"
		 "servers:\n  - server: lake\n    path: \"*.parquet\"\n    format: parquet\n"
		 "schema:\n  - name: t\n    properties:\n%s"
		 "    quality:\n      - metric: rowCount\n        mustBeGreaterThan: 0\n", props);
	return text;
}

START_TEST(parquet_footer)
{
	size_t len;
	char *data = read_fixture("simple.parquet", &len), *msg;
	mesh_contract *c;
	mesh_contract_report r;
	mesh_oid id;
	int error;

	ck_assert_int_eq(mesh_file_write_buf(odb, NULL, data, len, &id), 0);
	char *good = parquet_contract(
		"      - name: A\n        logicalType: integer\n        required: true\n"
		"      - name: B\n        logicalType: string\n");
	char *bad = parquet_contract(
		"      - name: A\n        logicalType: string\n"
		"      - name: missing\n        required: true\n");
	for (int round = 0; round < 2; round++) {
		const char *text = round ? bad : good;
		ck_assert_int_eq(mesh_contract_parse("t", text, strlen(text), &c), 0);
		mesh_contract_report_init(&r);
		ck_assert_int_eq(mesh_contract_check_file(odb, NULL, &c, 1, "x.parquet", &id, len, &r), 0);
		error = mesh_contract_report_error(&r, "x.parquet");
		msg = strdup(mesh_error_message());
		if (round == 0) {
			if (error)
				ck_abort_msg("%s", msg);
		} else {
			ck_assert_int_eq(error, MESH_EINVAL);
			ck_assert_ptr_nonnull(strstr(msg, "column 'A' rule logicalType"));
			ck_assert_ptr_nonnull(strstr(msg, "INT64"));
			ck_assert_ptr_nonnull(strstr(msg, "column 'missing' rule required"));
		}
		free(msg);
		mesh_contract_report_dispose(&r);
		mesh_contract_free(c);
	}
	/* Not Parquet at all. */
	ck_assert_int_eq(mesh_file_write_buf(odb, NULL, "PAR1 nothing", 12, &id), 0);
	ck_assert_int_eq(mesh_contract_parse("t", good, strlen(good), &c), 0);
	mesh_contract_report_init(&r);
	ck_assert_int_eq(mesh_contract_check_file(odb, NULL, &c, 1, "y.parquet", &id, 12, &r), 0);
	ck_assert_int_eq(mesh_contract_report_error(&r, "y"), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "no Parquet footer"));
	mesh_contract_report_dispose(&r);
	mesh_contract_free(c);
	free(data);
	free(good);
	free(bad);
}
END_TEST

START_TEST(freshness_and_required_files)
{
	const char *fresh =
		"apiVersion: v3.0.0\nkind: DataContract\n"
		"servers:\n  - server: lake\n    path: data/*.csv\n    format: csv\n"
		"schema:\n  - name: t\n    properties:\n      - name: id\n"
		"customProperties:\n  - property: meshfs.requiredFiles\n    value: [data/README]\n"
		"slaProperties:\n  - property: freshness\n    value: 2\n    unit: h\n";
	mesh_view *view;
	mesh_contract_report r;
	mesh_commit *cm;
	mesh_oid commit;
	size_t n;
	char *msg;

	ck_assert_int_eq(mesh_view_open_branch(&view, store, "sales", "main"), 0);
	ck_assert_int_eq(mesh_view_mkdir(view, &me, ".mesh", 0755), 0);
	ck_assert_int_eq(mesh_view_mkdir(view, &me, ".mesh/contracts", 0755), 0);
	ck_assert_int_eq(mesh_view_mkdir(view, &me, "data", 0755), 0);
	test_stage_file(store, view, &me, ".mesh/contracts/f.yaml", fresh, strlen(fresh));
	test_stage_file(store, view, &me, "data/a.csv", "id\n1\n", 5);
	commit = test_commit(view, &me);
	ck_assert_int_eq(mesh_commit_load(odb, &commit, &cm), 0);
	/* An hour later: fresh, but the required file is missing. */
	mesh_contract_report_init(&r);
	ck_assert_int_eq(mesh_contract_check_tree(store, NULL, "sales", &commit, cm->time + 3600, &r, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(r.files_checked, 1);
	ck_assert_int_eq(mesh_contract_report_error(&r, "t"), MESH_EINVAL);
	msg = strdup(mesh_error_message());
	ck_assert_ptr_nonnull(strstr(msg, "data/README rule requiredFiles"));
	ck_assert_ptr_null(strstr(msg, "freshness"));
	free(msg);
	mesh_contract_report_dispose(&r);
	/* Three hours later: stale. */
	mesh_contract_report_init(&r);
	ck_assert_int_eq(mesh_contract_check_tree(store, NULL, "sales", &commit, cm->time + 3 * 3600, &r, &n), 0);
	ck_assert_int_eq(mesh_contract_report_error(&r, "t"), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "rule freshness"));
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "older than 7200 s"));
	mesh_contract_report_dispose(&r);
	mesh_commit_free(cm);
	mesh_view_free(view);
}
END_TEST

static Suite *contract_suite(void)
{
	Suite *s = suite_create("contract");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	/* rows_across_chunks checks 6 MiB under ASan: beyond Check's 4 s
	 * default on a loaded machine. */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, good_data_passes_the_gate);
	tcase_add_test(tc, missing_required_column);
	tcase_add_test(tc, nulls_where_none_are_allowed);
	tcase_add_test(tc, duplicate_key);
	tcase_add_test(tc, duplicate_key_across_batches);
	tcase_add_test(tc, duplicate_keys_of_the_run_and_the_hash);
	tcase_add_test(tc, value_outside_valid_values);
	tcase_add_test(tc, file_over_the_size_rule);
	tcase_add_test(tc, minimum_maximum_type_extension_rowcount);
	tcase_add_test(tc, row_count);
	tcase_add_test(tc, loosened_contract_still_judged_by_the_old);
	tcase_add_test(tc, gate_and_broken_contracts);
	tcase_add_test(tc, parse_errors_name_line_and_field);
	tcase_add_test(tc, emit_parses_back_the_same);
	tcase_add_test(tc, json_lines);
	tcase_add_test(tc, rows_across_chunks);
	tcase_add_test(tc, parquet_footer);
	tcase_add_test(tc, freshness_and_required_files);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(contract_suite());
}
