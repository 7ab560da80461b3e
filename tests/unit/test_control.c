/* test_control.c - command lines in, JSON answers out. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "control.h"
#include "domain.h"
#include "error.h"
#include "file.h"
#include "history.h"
#include "store.h"
#include "view.h"

/* --- splitting ------------------------------------------------------- */

typedef struct split_result {
	char **words;
	size_t count;
} split_result;

static split_result split_ok(const char *line)
{
	split_result r;

	ck_assert_msg(mesh_control_split(line, &r.words, &r.count) == 0,
		      "split of [%s] failed: %s", line, mesh_error_message());
	return r;
}

static void assert_words(const char *line, size_t n, const char *const *want)
{
	split_result r = split_ok(line);

	ck_assert_uint_eq(r.count, n);
	for (size_t i = 0; i < n; i++)
		ck_assert_str_eq(r.words[i], want[i]);
	mesh_control_words_free(r.words, r.count);
}

START_TEST(split_plain_words)
{
	static const char *const want[] = { "commit", "sales/main", "-m", "x" };

	assert_words("commit sales/main -m x", 4, want);
	assert_words("  commit\tsales/main   -m x\n", 4, want);
	assert_words("commit sales/main -m x\r\n", 4, want);
	assert_words("", 0, NULL);
	assert_words(" \t\n", 0, NULL);
}
END_TEST

START_TEST(split_single_quotes_are_literal)
{
	static const char *const a[] = { "-m", "first load" };
	static const char *const b[] = { "say \"hi\" \\n $x" };
	static const char *const c[] = { "a", "", "b" };

	assert_words("-m 'first load'", 2, a);
	assert_words("'say \"hi\" \\n $x'", 1, b);
	assert_words("a '' b", 3, c);
}
END_TEST

START_TEST(split_double_quotes_with_escapes)
{
	static const char *const a[] = { "double \" escaped" };
	static const char *const b[] = { "back\\slash" };
	static const char *const c[] = { "keep \\n and it's" };
	static const char *const d[] = { "", "x" };

	assert_words("\"double \\\" escaped\"", 1, a);
	assert_words("\"back\\\\slash\"", 1, b);
	/* Inside double quotes only \" and \\ are escapes. */
	assert_words("\"keep \\n and it's\"", 1, c);
	assert_words("\"\" x", 2, d);
}
END_TEST

START_TEST(split_backslash_outside_quotes)
{
	static const char *const a[] = { "a b", "c" };
	static const char *const b[] = { "'x'", "\"y" };
	static const char *const c[] = { "end\\" };

	assert_words("a\\ b c", 2, a);
	assert_words("\\'x\\' \\\"y", 2, b);
	/* A backslash at the very end has nothing to escape. */
	assert_words("end\\", 1, c);
}
END_TEST

START_TEST(split_adjacent_quoted_parts_join)
{
	static const char *const a[] = { "premidpost", "z" };

	assert_words("pre'mid'\"post\" z", 2, a);
}
END_TEST

START_TEST(split_unterminated_quote_is_einval)
{
	char **words = (char **)1;
	size_t count = 99;

	ck_assert_int_eq(mesh_control_split("commit -m 'oops", &words, &count), MESH_EINVAL);
	ck_assert_ptr_null(words);
	ck_assert_uint_eq(count, 0);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "quote"));
	ck_assert_int_eq(mesh_control_split("commit -m \"oops", &words, &count), MESH_EINVAL);
	ck_assert_int_eq(mesh_control_split("\"escaped at end\\\"", &words, &count),
			 MESH_EINVAL);
}
END_TEST

START_TEST(split_word_limit)
{
	char line[MESH_CONTROL_MAX_ARGS * 2 + 8] = "";
	split_result r;
	char **words;
	size_t count;

	for (int i = 0; i < MESH_CONTROL_MAX_ARGS; i++)
		strcat(line, "w ");
	r = split_ok(line);
	ck_assert_uint_eq(r.count, MESH_CONTROL_MAX_ARGS);
	mesh_control_words_free(r.words, r.count);
	strcat(line, "w");
	ck_assert_int_eq(mesh_control_split(line, &words, &count), MESH_EINVAL);
}
END_TEST

/* --- running commands ------------------------------------------------ */

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

/* Runs line, expecting code; returns the answer (caller frees). */
static char *run_expect(const char *line, int code)
{
	char *answer = NULL;
	int error = mesh_control_run(&env, &caller, line, &answer);

	ck_assert_msg(error == code, "[%s] returned %d, want %d; answer %s",
		      line, error, code, answer ? answer : "(null)");
	ck_assert_ptr_nonnull(answer);
	ck_assert_int_eq(answer[0], '{');
	ck_assert_int_eq(answer[strlen(answer) - 1], '}');
	return answer;
}

static char *run_ok(const char *line)
{
	char *answer = run_expect(line, 0);

	ck_assert_msg(strncmp(answer, "{\"ok\":true", 10) == 0, "answer %s", answer);
	return answer;
}

static void assert_has(const char *answer, const char *part)
{
	ck_assert_msg(strstr(answer, part) != NULL, "[%s] not in answer %s", part, answer);
}

/* A failure's answer: ok false, the code's name and a message. */
static void assert_fails(const char *line, int code, const char *in_message)
{
	char *answer = run_expect(line, code);
	char name[64];

	assert_has(answer, "\"ok\":false");
	snprintf(name, sizeof(name), "\"error\":\"%s\"", mesh_error_name(code));
	assert_has(answer, name);
	assert_has(answer, "\"message\":\"");
	if (in_message)
		assert_has(answer, in_message);
	free(answer);
}

/* The 64-hex-digit value of the first "key":"..." in answer. */
static void hex_after(const char *answer, const char *key, char out[MESH_OID_HEXSZ + 1])
{
	char pattern[64];
	const char *p;

	snprintf(pattern, sizeof(pattern), "\"%s\":\"", key);
	p = strstr(answer, pattern);
	ck_assert_msg(p != NULL, "no %s in %s", key, answer);
	p += strlen(pattern);
	for (int i = 0; i < MESH_OID_HEXSZ; i++)
		ck_assert_msg(isxdigit((unsigned char)p[i]) && !isupper((unsigned char)p[i]),
			      "%s is not 64 lowercase hex digits in %s", key, answer);
	ck_assert_int_eq(p[MESH_OID_HEXSZ], '"');
	memcpy(out, p, MESH_OID_HEXSZ);
	out[MESH_OID_HEXSZ] = '\0';
}

static size_t occurrences(const char *s, const char *part)
{
	size_t n = 0;

	for (const char *p = strstr(s, part); p; p = strstr(p + 1, part))
		n++;
	return n;
}

static void create_domain(const char *name)
{
	ck_assert_int_eq(mesh_domain_create(store, &caller, name, ""), 0);
}

/* Stages a file in the branch view the control commands use. */
static void stage(const char *domain, const char *path, const char *content)
{
	mesh_view *view;
	mesh_oid id;

	ck_assert_int_eq(test_views_get(&table, domain, "main", &view), 0);
	ck_assert_int_eq(mesh_file_write_buf(mesh_store_odb(store), NULL, content,
					     strlen(content), &id), 0);
	ck_assert_int_eq(mesh_view_stage_content(view, &caller, path, MESH_KIND_FILE,
						 0644, strlen(content), 0, &id,
						 false), 0);
}

START_TEST(domain_create_answers_the_card)
{
	char *answer = run_ok("domain create sales --description 'Orders of all shops'");
	mesh_domain *d;

	assert_has(answer, "\"domain\":{\"name\":\"sales\"");
	assert_has(answer, "\"description\":\"Orders of all shops\"");
	assert_has(answer, "\"default_branch\":\"main\"");
	free(answer);
	ck_assert_int_eq(mesh_domain_get(store, "sales", &d), 0);
	ck_assert_str_eq(d->description, "Orders of all shops");
	mesh_domain_free(d);
}
END_TEST

START_TEST(domain_list_in_name_order)
{
	char *answer;

	answer = run_ok("domain list");
	assert_has(answer, "\"domains\":[]");
	free(answer);
	free(run_ok("domain create zeta"));
	free(run_ok("domain create alpha --description \"say \\\"hi\\\"\""));
	answer = run_ok("domain list");
	assert_has(answer, "\"domains\":[{\"name\":\"alpha\"");
	assert_has(answer, "},{\"name\":\"zeta\"");
	assert_has(answer, "\"description\":\"say \\\"hi\\\"\"");
	ck_assert_uint_eq(occurrences(answer, "\"name\":"), 2);
	free(answer);
}
END_TEST

START_TEST(domain_errors)
{
	create_domain("sales");
	assert_fails("domain create sales", MESH_EEXIST, "sales");
	assert_fails("domain create 'bad name'", MESH_EINVAL, "A-Za-z0-9");
	assert_fails("domain create", MESH_EINVAL, "usage");
	assert_fails("domain create x --owner me", MESH_EINVAL, "--owner");
	assert_fails("domain create x --description", MESH_EINVAL, "--description");
	assert_fails("domain list extra", MESH_EINVAL, NULL);
	assert_fails("domain", MESH_EINVAL, NULL);
	assert_fails("domain frob", MESH_EINVAL, NULL);
}
END_TEST

START_TEST(status_lists_staged_changes)
{
	char *answer;
	char head[MESH_OID_HEXSZ + 1], want[MESH_OID_HEXSZ + 1];
	mesh_oid id;

	create_domain("sales");
	answer = run_ok("status sales/main");
	assert_has(answer, "\"domain\":\"sales\"");
	assert_has(answer, "\"branch\":\"main\"");
	assert_has(answer, "\"changes\":[]");
	hex_after(answer, "head", head);
	ck_assert_int_eq(mesh_history_branch_head(store, "sales", "main", &id), 0);
	mesh_oid_fmt(want, &id);
	ck_assert_str_eq(head, want);
	free(answer);

	stage("sales", "a.csv", "a");
	stage("sales", "b.csv", "b");
	answer = run_ok("status sales/main");
	assert_has(answer, "\"changes\":[{\"path\":\"a.csv\",\"change\":\"added\",\"kind\":\"file\"},"
			   "{\"path\":\"b.csv\",\"change\":\"added\",\"kind\":\"file\"}]");
	free(answer);
}
END_TEST

START_TEST(commit_then_log)
{
	char commit_id[MESH_OID_HEXSZ + 1], parent[MESH_OID_HEXSZ + 1];
	char root[MESH_OID_HEXSZ + 1], logged[MESH_OID_HEXSZ + 1];
	char *answer;
	mesh_oid id;

	create_domain("sales");
	ck_assert_int_eq(mesh_history_branch_head(store, "sales", "main", &id), 0);
	mesh_oid_fmt(root, &id);
	stage("sales", "orders.csv", "id,amount\n1,12\n");

	answer = run_ok("commit sales/main -m 'first load' --meta source=crm --meta ticket=DATA-7");
	assert_has(answer, "\"domain\":\"sales\"");
	assert_has(answer, "\"branch\":\"main\"");
	assert_has(answer, "\"changes\":1");
	hex_after(answer, "commit", commit_id);
	hex_after(answer, "parent", parent);
	ck_assert_str_eq(parent, root);
	free(answer);

	/* The head moved, and the view the mount shows moved with it. */
	ck_assert_int_eq(mesh_history_branch_head(store, "sales", "main", &id), 0);
	mesh_oid_fmt(logged, &id);
	ck_assert_str_eq(logged, commit_id);
	mesh_view_commit_id(table.views[0], &id);
	mesh_oid_fmt(logged, &id);
	ck_assert_str_eq(logged, commit_id);
	answer = run_ok("status sales/main");
	assert_has(answer, "\"changes\":[]");
	free(answer);

	answer = run_ok("log sales/main");
	assert_has(answer, "\"commits\":[");
	hex_after(answer, "id", logged);
	ck_assert_str_eq(logged, commit_id);
	assert_has(answer, "\"message\":\"first load\"");
	assert_has(answer, "\"meta\":{\"source\":\"crm\",\"ticket\":\"DATA-7\"}");
	assert_has(answer, "\"message\":\"Create domain sales\"");
	ck_assert_uint_eq(occurrences(answer, "\"id\":"), 2);
	{
		char parents[MESH_OID_HEXSZ + 32];
		snprintf(parents, sizeof(parents), "\"parents\":[\"%s\"]", root);
		assert_has(answer, parents);
		assert_has(answer, "\"parents\":[]");
	}
	free(answer);

	answer = run_ok("log sales/main -n 1");
	ck_assert_uint_eq(occurrences(answer, "\"id\":"), 1);
	hex_after(answer, "id", logged);
	ck_assert_str_eq(logged, commit_id);
	free(answer);

	answer = run_ok("log sales/main~1");
	hex_after(answer, "id", logged);
	ck_assert_str_eq(logged, root);
	free(answer);

	{
		char line[128];
		snprintf(line, sizeof(line), "log sales/%.8s", commit_id);
		answer = run_ok(line);
		hex_after(answer, "id", logged);
		ck_assert_str_eq(logged, commit_id);
		free(answer);
	}
}
END_TEST

START_TEST(commit_message_is_escaped_in_log)
{
	char *answer;

	create_domain("sales");
	stage("sales", "a", "a");
	free(run_ok("commit sales/main -m \"say \\\"hi\\\" \\\\ bye\""));
	answer = run_ok("log sales/main -n 1");
	assert_has(answer, "\"message\":\"say \\\"hi\\\" \\\\ bye\"");
	free(answer);
}
END_TEST

START_TEST(commands_reuse_the_mounts_view)
{
	create_domain("sales");
	stage("sales", "a", "a");
	free(run_ok("status sales/main"));
	free(run_ok("commit sales/main -m one"));
	stage("sales", "b", "b");
	free(run_ok("commit sales/main -m two"));
	ck_assert_uint_eq(table.count, 1);
	ck_assert_uint_ge(table.calls, 5);
}
END_TEST

START_TEST(unknown_command_is_einval)
{
	assert_fails("frobnicate sales/main", MESH_EINVAL, "frobnicate");
	assert_fails("", MESH_EINVAL, NULL);
	assert_fails("   \n", MESH_EINVAL, NULL);
	assert_fails("commit sales/main -m 'unterminated", MESH_EINVAL, "quote");
}
END_TEST

START_TEST(unknown_domain_or_ref_is_enoent)
{
	create_domain("sales");
	assert_fails("status nosuch/main", MESH_ENOENT, "nosuch");
	assert_fails("log nosuch/main", MESH_ENOENT, "nosuch");
	assert_fails("commit nosuch/main -m x", MESH_ENOENT, "nosuch");
	assert_fails("log sales/nosuchref", MESH_ENOENT, "nosuchref");
	assert_fails("status sales/dev", MESH_ENOENT, "dev");
	ck_assert_uint_eq(table.count, 0);
}
END_TEST

START_TEST(bad_targets_are_einval)
{
	create_domain("sales");
	assert_fails("status sales", MESH_EINVAL, "DOMAIN/BRANCH");
	assert_fails("status /main", MESH_EINVAL, NULL);
	assert_fails("status sales/", MESH_EINVAL, NULL);
	assert_fails("status 'sales/bad name'", MESH_EINVAL, "A-Za-z0-9");
	assert_fails("status", MESH_EINVAL, "usage");
	assert_fails("status sales/main extra", MESH_EINVAL, NULL);
}
END_TEST

START_TEST(commit_errors)
{
	char *answer;

	create_domain("sales");
	stage("sales", "a", "a");
	assert_fails("commit sales/main", MESH_EINVAL, "-m");
	assert_fails("commit sales/main -m", MESH_EINVAL, "-m");
	assert_fails("commit sales/main -m ''", MESH_EINVAL, "message");
	assert_fails("commit sales/main -m x --meta novalue", MESH_EINVAL, "novalue");
	assert_fails("commit sales/main -m x --meta =v", MESH_EINVAL, NULL);
	assert_fails("commit sales/main -m x --bogus", MESH_EINVAL, "--bogus");
	assert_fails("commit", MESH_EINVAL, "usage");
	/* None of those committed anything. */
	answer = run_ok("status sales/main");
	assert_has(answer, "\"path\":\"a\"");
	free(answer);
	free(run_ok("commit sales/main -m ok"));
	assert_fails("commit sales/main -m again", MESH_EINVAL, "nothing to commit");
}
END_TEST

START_TEST(log_errors)
{
	create_domain("sales");
	stage("sales", "a", "a");
	free(run_ok("commit sales/main -m one"));
	assert_fails("log sales/main -n 0", MESH_EINVAL, "-n");
	assert_fails("log sales/main -n -3", MESH_EINVAL, "-n");
	assert_fails("log sales/main -n 2x", MESH_EINVAL, "2x");
	assert_fails("log sales/main -n", MESH_EINVAL, "-n");
	assert_fails("log sales/main --all", MESH_EINVAL, "--all");
	assert_fails("log sales/main~x", MESH_EINVAL, NULL);
	assert_fails("log sales/main~2", MESH_ENOENT, NULL);
	assert_fails("log", MESH_EINVAL, "usage");
}
END_TEST

/* Each documented limit holds at N and is a clear EINVAL at N + 1. */
START_TEST(line_limit_is_the_documented_one)
{
	size_t head = strlen("commit sales/main -m '"), tail = strlen("'\n");
	char *line = malloc(MESH_CONTROL_MAX_LINE + 2);

	create_domain("sales");
	stage("sales", "a.csv", "x\n");
	memcpy(line, "commit sales/main -m '", head);
	memset(line + head, 'm', MESH_CONTROL_MAX_LINE - head - tail);
	memcpy(line + MESH_CONTROL_MAX_LINE - tail, "'\n", tail + 1);
	ck_assert_uint_eq(strlen(line), MESH_CONTROL_MAX_LINE);
	free(run_ok(line));

	memset(line, 'x', MESH_CONTROL_MAX_LINE + 1);
	line[MESH_CONTROL_MAX_LINE + 1] = '\0';
	assert_fails(line, MESH_EINVAL, "command line too long: 65537 bytes (at most 65536)");
	free(line);
}
END_TEST

/* "commit sales/main -m x" and pairs of "--meta k=v" words up to n words. */
static char *commit_with_words(size_t pairs, size_t extra)
{
	char *line = malloc(64 + pairs * 16 + extra * 2);

	strcpy(line, "commit sales/main -m x");
	for (size_t i = 0; i < pairs; i++)
		sprintf(line + strlen(line), " --meta k%zu=v", i);
	for (size_t i = 0; i < extra; i++)
		strcat(line, " w");
	return line;
}

START_TEST(meta_and_word_limits_are_the_documented_ones)
{
	char *line;

	create_domain("sales");
	stage("sales", "a.csv", "x\n");
	line = commit_with_words(MESH_CONTROL_MAX_META, 0);
	free(run_ok(line));
	free(line);
	stage("sales", "b.csv", "y\n");
	line = commit_with_words(MESH_CONTROL_MAX_META + 1, 0);
	assert_fails(line, MESH_EINVAL, "at most 64 --meta pairs");
	free(line);

	/* MAX_ARGS words get past the splitter (to the command's own
	 * complaint); one more is refused by it. */
	line = commit_with_words(0, MESH_CONTROL_MAX_ARGS - 4);
	assert_fails(line, MESH_EINVAL, "unknown argument 'w'");
	free(line);
	line = commit_with_words(0, MESH_CONTROL_MAX_ARGS - 3);
	assert_fails(line, MESH_EINVAL, "command has more than 256 words");
	free(line);
}
END_TEST

START_TEST(error_message_is_json_escaped)
{
	/* The message quotes the bad word, which holds a quote. */
	assert_fails("'fro\"b'", MESH_EINVAL, "fro\\\"b");
}
END_TEST

static Suite *control_suite(void)
{
	Suite *s = suite_create("control");
	TCase *split = tcase_create("split");
	TCase *run = tcase_create("run");

	tcase_add_test(split, split_plain_words);
	tcase_add_test(split, split_single_quotes_are_literal);
	tcase_add_test(split, split_double_quotes_with_escapes);
	tcase_add_test(split, split_backslash_outside_quotes);
	tcase_add_test(split, split_adjacent_quoted_parts_join);
	tcase_add_test(split, split_unterminated_quote_is_einval);
	tcase_add_test(split, split_word_limit);
	suite_add_tcase(s, split);

	tcase_add_checked_fixture(run, setup, teardown);
	tcase_add_test(run, domain_create_answers_the_card);
	tcase_add_test(run, domain_list_in_name_order);
	tcase_add_test(run, domain_errors);
	tcase_add_test(run, status_lists_staged_changes);
	tcase_add_test(run, commit_then_log);
	tcase_add_test(run, commit_message_is_escaped_in_log);
	tcase_add_test(run, commands_reuse_the_mounts_view);
	tcase_add_test(run, unknown_command_is_einval);
	tcase_add_test(run, unknown_domain_or_ref_is_enoent);
	tcase_add_test(run, bad_targets_are_einval);
	tcase_add_test(run, commit_errors);
	tcase_add_test(run, log_errors);
	tcase_add_test(run, line_limit_is_the_documented_one);
	tcase_add_test(run, meta_and_word_limits_are_the_documented_ones);
	tcase_add_test(run, error_message_is_json_escaped);
	suite_add_tcase(s, run);
	return s;
}

int main(void)
{
	return test_run_suite(control_suite());
}
