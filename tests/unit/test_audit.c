/* test_audit.c - the audit log: records in order with their fields, the
 * chain across reopening, filters from the indexes, verify finding an
 * altered, removed or inserted record, usage counters, time and user
 * words, what control commands record and who may read it. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "audit.h"
#include "control.h"
#include "domain.h"
#include "error.h"
#include "store.h"

static char *tmp;
static mesh_store *store;
static mesh_caller caller;

static void setup(void)
{
	tmp = test_tmpdir_new();
	store = test_store_new(tmp, &caller, "sales");
	ck_assert_int_eq(mesh_domain_create(store, &caller, "hr", ""), 0);
}

static void teardown(void)
{
	mesh_store_close(store);
	test_tmpdir_remove(tmp);
}

static mesh_audit *audit(void)
{
	return mesh_store_audit(store);
}

static void record(const char *op, const char *domain, const char *path, int result,
		   uint64_t bytes)
{
	mesh_audit_event e = { .op = op, .domain = domain, .ref = "main", .path = path,
			       .result = result, .bytes = bytes };

	ck_assert_int_eq(mesh_audit_record(audit(), &caller, &e), 0);
}

typedef struct collected {
	mesh_audit_rec recs[64];
	size_t count;
} collected;

static int collect(void *ctx, const mesh_audit_rec *r)
{
	collected *c = ctx;
	mesh_audit_rec *out = &c->recs[c->count++];

	ck_assert_uint_lt(c->count, 64);
	*out = *r;
	out->op = strdup(r->op);
	out->comm = strdup(r->comm);
	out->domain = strdup(r->domain);
	out->ref = strdup(r->ref);
	out->commit = strdup(r->commit);
	out->path = strdup(r->path);
	out->detail = strdup(r->detail);
	return 0;
}

static void collected_free(collected *c)
{
	for (size_t i = 0; i < c->count; i++)
		mesh_audit_rec_clear(&c->recs[i]);
	c->count = 0;
}

/* The seqs a query answers, as "1,3,4". */
static char *query_seqs(const mesh_audit_query *q)
{
	static char text[512];
	collected c = { .count = 0 };
	size_t len = 0;

	mesh_audit_flush(audit());
	ck_assert_int_eq(mesh_audit_query_run(mesh_store_db(store), q, collect, &c), 0);
	text[0] = '\0';
	for (size_t i = 0; i < c.count; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%llu", i ? "," : "",
					(unsigned long long)c.recs[i].seq);
	collected_free(&c);
	return text;
}

/* Counts records, checking they come in seq order. */
static int count_seqs(void *ctx, const mesh_audit_rec *r)
{
	static uint64_t last;
	size_t *n = ctx;

	if (*n == 0)
		last = 0;
	ck_assert_uint_gt(r->seq, last);
	last = r->seq;
	(*n)++;
	return 0;
}

static void verify_ok(uint64_t want_count)
{
	uint64_t count, bad;
	const char *problem;

	mesh_audit_flush(audit());
	ck_assert_msg(mesh_audit_verify(mesh_store_db(store), &count, &bad, &problem) == 0,
		      "verify: %s", mesh_error_message());
	ck_assert_uint_eq(count, want_count);
}

static void verify_fails(uint64_t want_bad, const char *want_problem)
{
	uint64_t count, bad;
	const char *problem;

	ck_assert_int_eq(mesh_audit_verify(mesh_store_db(store), &count, &bad, &problem), MESH_EIO);
	ck_assert_msg(bad == want_bad && problem && !strcmp(problem, want_problem),
		      "verify named %llu %s, want %llu %s (%s)", (unsigned long long)bad,
		      problem ? problem : "-", (unsigned long long)want_bad, want_problem,
		      mesh_error_message());
}

static void five_records(void)
{
	record("read", "sales", "orders/2026/a.csv", 0, 100);
	record("write", "sales", "orders/2026/b.csv", 0, 0);
	record("read", "hr", "people.csv", 0, 7);
	record("unlink", "sales", "customers.csv", MESH_EACCES, 0);
	record("read", "sales", "orders/2026/a.csv", 0, 100);
	mesh_audit_flush(audit());
}

static void *record_value(uint64_t seq, size_t *len)
{
	unsigned char key[MESH_AUDIT_KEY_LEN];
	void *val;

	mesh_audit_record_key(seq, key);
	ck_assert_int_eq(mesh_db_get(mesh_store_db(store), key, sizeof(key), &val, len), 0);
	return val;
}

static void put_record(uint64_t seq, const void *val, size_t len)
{
	unsigned char key[MESH_AUDIT_KEY_LEN];

	mesh_audit_record_key(seq, key);
	ck_assert_int_eq(mesh_db_put(mesh_store_db(store), key, sizeof(key), val, len, false), 0);
}

/* A well-formed record at seq (own hash right) that names prev as the
 * record before it: what a forger who knows the format writes. */
static void forge_record(uint64_t seq, const unsigned char *prev)
{
	size_t len;
	unsigned char *val = record_value(1, &len);
	unsigned int n = 32;

	memcpy(val + 1, prev, 32);
	for (int i = 0; i < 8; i++)
		val[33 + i] = (unsigned char)(seq >> (56 - 8 * i));
	EVP_Digest(val, len - 32, val + len - 32, &n, EVP_sha256(), NULL);
	put_record(seq, val, len);
	free(val);
}

/* --- tests --------------------------------------------------------------- */

START_TEST(records_keep_their_fields_in_order)
{
	mesh_audit_query all = { 0 };
	collected c = { .count = 0 };
	mesh_oid commit;
	mesh_audit_event e = { .op = "commit", .domain = "sales", .ref = "main",
			       .commit = &commit, .detail = "commit sales/main -m x" };
	char hex[MESH_OID_HEXSZ + 1], comm[32] = "";
	FILE *f = fopen("/proc/self/comm", "r");

	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(comm, sizeof(comm), f));
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	memset(commit.id, 0xab, sizeof(commit.id));
	mesh_oid_fmt(hex, &commit);
	five_records();
	ck_assert_int_eq(mesh_audit_record(audit(), &caller, &e), 0);
	mesh_audit_flush(audit());
	ck_assert_int_eq(mesh_audit_query_run(mesh_store_db(store), &all, collect, &c), 0);
	ck_assert_uint_eq(c.count, 6);
	for (size_t i = 0; i < c.count; i++) {
		ck_assert_uint_eq(c.recs[i].seq, i + 1);
		ck_assert_uint_eq(c.recs[i].uid, caller.uid);
		ck_assert_uint_eq(c.recs[i].pid, (uint32_t)getpid());
		ck_assert_str_eq(c.recs[i].comm, comm);
		if (i)
			ck_assert_int_ge(c.recs[i].time_ns, c.recs[i - 1].time_ns);
	}
	ck_assert_str_eq(c.recs[0].op, "read");
	ck_assert_str_eq(c.recs[0].path, "orders/2026/a.csv");
	ck_assert_uint_eq(c.recs[0].bytes, 100);
	ck_assert_int_eq(c.recs[3].result, MESH_EACCES);
	ck_assert_str_eq(c.recs[5].commit, hex);
	ck_assert_str_eq(c.recs[5].detail, "commit sales/main -m x");
	ck_assert_str_eq(c.recs[4].commit, "");
	collected_free(&c);
	verify_ok(6);
}
END_TEST

START_TEST(the_chain_goes_on_after_reopening)
{
	five_records();
	mesh_store_close(store);
	ck_assert_int_eq(mesh_store_open(&store, tmp, NULL), 0);
	record("mkdir", "sales", "new", 0, 0);
	verify_ok(6);
	ck_assert_str_eq(query_seqs(&(mesh_audit_query){ .op = "mkdir" }), "6");
}
END_TEST

START_TEST(a_lost_head_does_not_restart_the_chain)
{
	five_records();
	ck_assert_int_eq(mesh_db_delete(mesh_store_db(store), "l/h", 3, false), 0);
	mesh_store_close(store);
	ck_assert_int_eq(mesh_store_open(&store, tmp, NULL), 0);
	record("mkdir", "sales", "new", 0, 0);
	verify_ok(6);
	ck_assert_int_eq(mesh_db_put(mesh_store_db(store), "l/h", 3, "short", 5, false), 0);
	mesh_store_close(store);
	ck_assert_int_eq(mesh_store_open(&store, tmp, NULL), 0);
	record("mkdir", "sales", "newer", 0, 0);
	verify_ok(7);
	ck_assert_str_eq(query_seqs(&(mesh_audit_query){ .op = "mkdir" }), "6,7");
}
END_TEST

START_TEST(filters_answer_from_the_indexes)
{
	mesh_caller other = caller;
	mesh_audit_event e = { .op = "read", .domain = "sales", .path = "orders/x.csv" };
	int64_t middle;

	five_records();
	other.uid = 4242;
	ck_assert_int_eq(mesh_audit_record(audit(), &other, &e), 0);
	ck_assert_str_eq(query_seqs(&(mesh_audit_query){ .domain = "sales" }), "1,2,4,5,6");
	ck_assert_str_eq(query_seqs(&(mesh_audit_query){ .domain = "hr" }), "3");
	ck_assert_str_eq(query_seqs(&(mesh_audit_query){ .op = "read" }), "1,3,5,6");
	ck_assert_str_eq(query_seqs(&(mesh_audit_query){ .by_uid = true, .uid = 4242 }), "6");
	ck_assert_str_eq(query_seqs(&(mesh_audit_query){ .by_uid = true, .uid = caller.uid,
							 .op = "read" }), "1,3,5");
	/* No FNM_PATHNAME: * crosses slashes. */
	ck_assert_str_eq(query_seqs(&(mesh_audit_query){ .domain = "sales",
							 .path_glob = "orders/*.csv" }), "1,2,5,6");
	ck_assert_str_eq(query_seqs(&(mesh_audit_query){ .path_glob = "*customers*" }), "4");
	ck_assert_str_eq(query_seqs(&(mesh_audit_query){ .domain = "nowhere" }), "");
	/* A time range: records after the first five. */
	{
		collected c = { .count = 0 };
		mesh_audit_query q = { .op = "read" };
		ck_assert_int_eq(mesh_audit_query_run(mesh_store_db(store), &q, collect, &c), 0);
		middle = c.recs[2].time_ns;     /* seq 5 */
		collected_free(&c);
	}
	ck_assert_str_eq(query_seqs(&(mesh_audit_query){ .since_ns = middle }), "5,6");
	ck_assert_str_eq(query_seqs(&(mesh_audit_query){ .domain = "sales", .since_ns = middle,
							 .until_ns = middle }), "5");
	ck_assert_str_eq(query_seqs(&(mesh_audit_query){ .until_ns = middle - 1, .op = "read" }),
			 "1,3");
}
END_TEST

START_TEST(verify_names_an_altered_record)
{
	size_t len;
	unsigned char *val;

	five_records();
	verify_ok(5);
	val = record_value(3, &len);
	val[len / 2] ^= 0x20;
	put_record(3, val, len);
	verify_fails(3, "altered");
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "record 3 was altered"));
	val[len / 2] ^= 0x20;
	put_record(3, val, len);
	verify_ok(5);
	/* A record copied over another: intact in itself, at the wrong seq. */
	free(val);
	val = record_value(2, &len);
	put_record(4, val, len);
	verify_fails(4, "altered");
	free(val);
}
END_TEST

START_TEST(verify_names_a_removed_record)
{
	unsigned char key[MESH_AUDIT_KEY_LEN];

	five_records();
	mesh_audit_record_key(2, key);
	ck_assert_int_eq(mesh_db_delete(mesh_store_db(store), key, sizeof(key), false), 0);
	verify_fails(2, "missing");
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "record 2 is missing"));
}
END_TEST

START_TEST(verify_names_records_cut_off_the_end)
{
	unsigned char key[MESH_AUDIT_KEY_LEN];

	five_records();
	mesh_audit_record_key(5, key);
	ck_assert_int_eq(mesh_db_delete(mesh_store_db(store), key, sizeof(key), false), 0);
	mesh_audit_record_key(4, key);
	ck_assert_int_eq(mesh_db_delete(mesh_store_db(store), key, sizeof(key), false), 0);
	verify_fails(4, "missing");
}
END_TEST

START_TEST(verify_names_an_inserted_record)
{
	unsigned char zero[32] = { 0 }, five[32], key[MESH_AUDIT_KEY_LEN];
	size_t len;
	unsigned char *val;
	unsigned int n = 32;

	five_records();
	val = record_value(5, &len);
	EVP_Digest(val, len, five, &n, EVP_sha256(), NULL);
	free(val);
	/* After the head: chained to nothing, or chained right but never
	 * written by the log (the head does not know it). */
	forge_record(6, zero);
	verify_fails(6, "inserted");
	forge_record(6, five);
	verify_fails(6, "inserted");
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "record 6 was inserted"));
	mesh_audit_record_key(6, key);
	ck_assert_int_eq(mesh_db_delete(mesh_store_db(store), key, sizeof(key), false), 0);
	verify_ok(5);
	/* In place of record 3. */
	forge_record(3, zero);
	verify_fails(3, "inserted");
}
END_TEST

START_TEST(index_lists_span_many_batches)
{
	mesh_audit_query q = { .domain = "hr" };
	int64_t since, until;
	size_t n = 0;

	for (int i = 0; i < 3000; i++)
		record("read", i % 3 == 0 ? "hr" : "sales", "x", 0, 1);
	mesh_audit_flush(audit());
	/* The times of seqs 1501 and 2500 (both hr: 1 mod 3). */
	{
		mesh_audit_rec r;
		ck_assert_int_eq(mesh_audit_get(mesh_store_db(store), 1501, &r), 0);
		since = r.time_ns;
		ck_assert_str_eq(r.domain, "hr");
		mesh_audit_rec_clear(&r);
		ck_assert_int_eq(mesh_audit_get(mesh_store_db(store), 2500, &r), 0);
		until = r.time_ns;
		mesh_audit_rec_clear(&r);
	}
	q.since_ns = since;
	q.until_ns = until;
	ck_assert_int_eq(mesh_audit_query_run(mesh_store_db(store), &q, count_seqs, &n), 0);
	ck_assert_uint_eq(n, 334);    /* 1501, 1504, ..., 2500 */
	q.domain = NULL;
	n = 0;
	ck_assert_int_eq(mesh_audit_query_run(mesh_store_db(store), &q, count_seqs, &n), 0);
	ck_assert_uint_eq(n, 1000);
	verify_ok(3000);
}
END_TEST

START_TEST(no_record_is_dropped_when_the_queue_is_full)
{
	const size_t n = 70000;   /* more than the queue holds */

	for (size_t i = 0; i < n; i++)
		record("read", "sales", "big/x", 0, 1);
	verify_ok(n);
}
END_TEST

START_TEST(a_disabled_log_records_nothing)
{
	mesh_audit_set_enabled(audit(), false);
	five_records();
	mesh_audit_set_enabled(audit(), true);
	record("read", "sales", "a", 0, 1);
	verify_ok(1);
}
END_TEST

START_TEST(usage_counts_read_opens_by_user_and_top_level_path)
{
	mesh_caller other = caller;
	mesh_audit_event e = { .op = "read", .domain = "sales", .path = "orders/y.csv",
			       .bytes = 5 };
	mesh_audit_usage *u;
	size_t count;
	int64_t now = (int64_t)time(NULL) * 1000000000;

	other.uid = 4242;
	five_records();
	ck_assert_int_eq(mesh_audit_record(audit(), &other, &e), 0);
	mesh_audit_flush(audit());
	ck_assert_int_eq(mesh_audit_usage_get(mesh_store_db(store), "sales", 30, now, &u, &count), 0);
	ck_assert_uint_eq(count, 2);
	ck_assert_uint_eq(u[0].uid, caller.uid);
	ck_assert_str_eq(u[0].top, "orders");
	ck_assert_uint_eq(u[0].read_opens, 2);    /* the write and the refusal do not count */
	ck_assert_uint_eq(u[0].bytes_opened, 200);
	ck_assert_uint_eq(u[1].uid, 4242);
	ck_assert_uint_eq(u[1].read_opens, 1);
	ck_assert_uint_eq(u[1].bytes_opened, 5);
	ck_assert_int_gt(u[1].last_read_ns, now - 60LL * 1000000000);
	mesh_audit_usage_free(u, count);
	/* Another batch adds to what is stored. */
	record("read", "sales", "orders/z.csv", 0, 1);
	mesh_audit_flush(audit());
	ck_assert_int_eq(mesh_audit_usage_get(mesh_store_db(store), "sales", 1, now, &u, &count), 0);
	ck_assert_uint_eq(u[0].read_opens, 3);
	ck_assert_uint_eq(u[0].bytes_opened, 201);
	mesh_audit_usage_free(u, count);
	/* Seen from three days on, a one-day window holds nothing. */
	ck_assert_int_eq(mesh_audit_usage_get(mesh_store_db(store), "sales", 1,
					      now + 3 * 86400LL * 1000000000, &u, &count), 0);
	ck_assert_uint_eq(count, 0);
	mesh_audit_usage_free(u, count);
	ck_assert_int_eq(mesh_audit_usage_get(mesh_store_db(store), "hr", 30, now, &u, &count), 0);
	ck_assert_uint_eq(count, 1);
	ck_assert_str_eq(u[0].top, "people.csv");
	mesh_audit_usage_free(u, count);
}
END_TEST

START_TEST(time_words)
{
	int64_t now = 1796300000LL * 1000000000, t;

	ck_assert_int_eq(mesh_audit_parse_time("2026-12-03", now, false, &t), 0);
	ck_assert_int_eq(t, 1796256000LL * 1000000000);
	ck_assert_int_eq(mesh_audit_parse_time("2026-12-03", now, true, &t), 0);
	ck_assert_int_eq(t, (1796256000LL + 86400) * 1000000000 - 1);
	ck_assert_int_eq(mesh_audit_parse_time("2026-12-03T10:00:30Z", now, true, &t), 0);
	ck_assert_int_eq(t, (1796256000LL + 36030) * 1000000000);
	ck_assert_int_eq(mesh_audit_parse_time("2026-12-03T10:00:30.000000250Z", now, false, &t), 0);
	ck_assert_int_eq(t, (1796256000LL + 36030) * 1000000000 + 250);
	ck_assert_int_eq(mesh_audit_parse_time("2026-12-03 10:00:30.5", now, false, &t), 0);
	ck_assert_int_eq(t, (1796256000LL + 36030) * 1000000000 + 500000000);
	ck_assert_int_eq(mesh_audit_parse_time("2026-12-03T10:00.5", now, false, &t), MESH_EINVAL);
	ck_assert_int_eq(mesh_audit_parse_time("2026-12-03T10:00", now, false, &t), 0);
	ck_assert_int_eq(t, (1796256000LL + 36000) * 1000000000);
	ck_assert_int_eq(mesh_audit_parse_time("1h", now, false, &t), 0);
	ck_assert_int_eq(t, now - 3600LL * 1000000000);
	ck_assert_int_eq(mesh_audit_parse_time("7d", now, false, &t), 0);
	ck_assert_int_eq(t, now - 7 * 86400LL * 1000000000);
	ck_assert_int_eq(mesh_audit_parse_time("tomorrow", now, false, &t), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "'tomorrow' is not a time"));
	ck_assert_int_eq(mesh_audit_parse_time("1y", now, false, &t), MESH_EINVAL);
	ck_assert_int_eq(mesh_audit_parse_time("2026-13-40", now, false, &t), MESH_EINVAL);
	ck_assert_int_eq(mesh_audit_parse_time("2026-12-03x", now, false, &t), MESH_EINVAL);
}
END_TEST

START_TEST(user_words)
{
	uint32_t uid = 7;

	ck_assert_int_eq(mesh_audit_parse_user("root", &uid), 0);
	ck_assert_uint_eq(uid, 0);
	ck_assert_int_eq(mesh_audit_parse_user("12345", &uid), 0);
	ck_assert_uint_eq(uid, 12345);
	ck_assert_int_eq(mesh_audit_parse_user("no_such_user_here", &uid), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "no such user"));
}
END_TEST

/* --- through the control commands ---------------------------------------- */

static char *control(const mesh_caller *who, const char *line, int want)
{
	mesh_control_env env = { .store = store };
	char *answer = NULL;
	int error = mesh_control_run(&env, who, line, &answer);

	ck_assert_msg(error == want, "[%s] returned %d, want %d: %s", line, error, want,
		      answer ? answer : "");
	return answer;
}

START_TEST(commands_record_changes_and_refusals_only)
{
	mesh_caller stranger = caller;

	stranger.uid = 4242;
	free(control(&caller, "domain create ops", 0));
	free(control(&caller, "domain list", 0));                 /* reads: no record */
	free(control(&caller, "frobnicate x/y", MESH_EINVAL));
	free(control(&caller, "domain set ops retention 3", 0));
	free(control(&stranger, "audit", MESH_EACCES));
	free(control(&stranger, "audit --domain sales", MESH_EACCES));
	free(control(&stranger, "audit verify", MESH_EACCES));
	free(control(&stranger, "audit export --since 1d", MESH_EACCES));
	free(control(&caller, "audit --since nonsense", MESH_EINVAL));
	ck_assert_str_eq(query_seqs(&(mesh_audit_query){ 0 }), "1,2,3,4,5,6,7,8");
	ck_assert_str_eq(query_seqs(&(mesh_audit_query){ .domain = "ops" }), "1,3");
	ck_assert_str_eq(query_seqs(&(mesh_audit_query){ .op = "frobnicate", .domain = "x" }), "2");
	ck_assert_str_eq(query_seqs(&(mesh_audit_query){ .by_uid = true, .uid = 4242 }), "4,5,6,7");
	{
		mesh_audit_rec r;
		ck_assert_int_eq(mesh_audit_get(mesh_store_db(store), 4, &r), 0);
		ck_assert_str_eq(r.op, "audit");
		ck_assert_int_eq(r.result, MESH_EACCES);
		mesh_audit_rec_clear(&r);
	}
	/* The answer of a refused command still says why. */
	char *answer = control(&stranger, "audit --domain sales", MESH_EACCES);
	ck_assert_ptr_nonnull(strstr(answer, "only root and the domain's owner"));
	free(answer);
}
END_TEST

START_TEST(an_owner_reads_their_domain_and_root_everything)
{
	mesh_caller owner = caller;
	char *answer;

	owner.uid = 4242;
	ck_assert_int_eq(mesh_domain_create(store, &owner, "theirs", ""), 0);
	free(control(&owner, "domain set theirs retention 9", 0));
	record("read", "sales", "a.csv", 0, 3);
	answer = control(&owner, "audit --domain theirs", 0);
	ck_assert_ptr_nonnull(strstr(answer, "\"count\":1"));
	ck_assert_ptr_nonnull(strstr(answer, "\"detail\":\"domain set theirs retention 9\""));
	free(answer);
	answer = control(&owner, "domain stats theirs --days 7", 0);
	ck_assert_ptr_nonnull(strstr(answer, "\"consumers\":[]"));
	free(answer);
	free(control(&owner, "domain stats sales", MESH_EACCES));
	answer = control(&caller, "domain stats sales --json", 0);
	ck_assert_ptr_nonnull(strstr(answer, "\"path\":\"a.csv\",\"read_opens\":1,\"bytes_opened\":3"));
	free(answer);
	answer = control(&caller, "audit --op read --path '*.csv'", 0);
	ck_assert_ptr_nonnull(strstr(answer, "\"count\":1"));
	free(answer);
	answer = control(&caller, "audit verify", 0);
	ck_assert_ptr_nonnull(strstr(answer, "\"verified\":"));
	free(answer);
	answer = control(&caller, "audit export --since 1h", 0);
	ck_assert_ptr_nonnull(strstr(answer, "\"records\":[{\"seq\":1,"));
	free(answer);
	free(control(&caller, "audit export", MESH_EINVAL));
	free(control(&caller, "audit --user nobody_here_xyz", MESH_EINVAL));
	free(control(&caller, "domain stats nowhere", MESH_ENOENT));
	free(control(&caller, "domain stats sales --days x", MESH_EINVAL));
}
END_TEST

START_TEST(verify_through_the_control_file_names_the_record)
{
	size_t len;
	unsigned char *val;
	char *answer;

	five_records();
	val = record_value(2, &len);
	val[len - 1] ^= 1;
	put_record(2, val, len);
	free(val);
	answer = control(&caller, "audit verify", MESH_EIO);
	ck_assert_ptr_nonnull(strstr(answer, "\"bad_seq\":2,\"problem\":\"altered\""));
	ck_assert_ptr_nonnull(strstr(answer, "record 2 was altered"));
	free(answer);
}
END_TEST

static Suite *audit_suite(void)
{
	Suite *s = suite_create("audit");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, records_keep_their_fields_in_order);
	tcase_add_test(tc, the_chain_goes_on_after_reopening);
	tcase_add_test(tc, a_lost_head_does_not_restart_the_chain);
	tcase_add_test(tc, filters_answer_from_the_indexes);
	tcase_add_test(tc, verify_names_an_altered_record);
	tcase_add_test(tc, verify_names_a_removed_record);
	tcase_add_test(tc, verify_names_records_cut_off_the_end);
	tcase_add_test(tc, verify_names_an_inserted_record);
	tcase_add_test(tc, index_lists_span_many_batches);
	tcase_add_test(tc, no_record_is_dropped_when_the_queue_is_full);
	tcase_add_test(tc, a_disabled_log_records_nothing);
	tcase_add_test(tc, usage_counts_read_opens_by_user_and_top_level_path);
	tcase_add_test(tc, time_words);
	tcase_add_test(tc, user_words);
	tcase_add_test(tc, commands_record_changes_and_refusals_only);
	tcase_add_test(tc, an_owner_reads_their_domain_and_root_everything);
	tcase_add_test(tc, verify_through_the_control_file_names_the_record);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(audit_suite());
}
