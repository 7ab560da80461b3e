/* test_json.c - the JSON writer of control answers and --json output. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "error.h"
#include "json.h"

static char *take(mesh_json *j)
{
	char *out;

	ck_assert_int_eq(mesh_json_take(j, &out), 0);
	ck_assert_ptr_nonnull(out);
	return out;
}

static void assert_json(mesh_json *j, const char *want)
{
	char *got = take(j);

	ck_assert_str_eq(got, want);
	free(got);
}

static void assert_string_encodes(const char *value, const char *want)
{
	mesh_json j;

	mesh_json_init(&j);
	mesh_json_string(&j, value);
	assert_json(&j, want);
}

START_TEST(plain_string)
{
	assert_string_encodes("sales/main", "\"sales/main\"");
	assert_string_encodes("", "\"\"");
	assert_string_encodes(NULL, "\"\"");
}
END_TEST

START_TEST(quotes_and_backslashes_are_escaped)
{
	assert_string_encodes("say \"hi\"", "\"say \\\"hi\\\"\"");
	assert_string_encodes("C:\\data\\x", "\"C:\\\\data\\\\x\"");
	assert_string_encodes("\\\"", "\"\\\\\\\"\"");
}
END_TEST

START_TEST(control_chars_are_escaped)
{
	assert_string_encodes("a\nb", "\"a\\u000ab\"");
	assert_string_encodes("\t\r", "\"\\u0009\\u000d\"");
	assert_string_encodes("\x01\x1f", "\"\\u0001\\u001f\"");
	/* Not control characters: kept as they are. */
	assert_string_encodes(" ~\x7f", "\" ~\x7f\"");
	assert_string_encodes("caf\xc3\xa9", "\"caf\xc3\xa9\"");
}
END_TEST

/* Bytes that are not UTF-8 become lone surrogates \udcXX, one per byte,
 * so that the text is valid JSON and the bytes can be restored. */
START_TEST(bytes_outside_utf8_are_escaped)
{
	assert_string_encodes("\xff", "\"\\udcff\"");
	assert_string_encodes("a\x80" "b\xfe", "\"a\\udc80b\\udcfe\"");
	/* Valid sequences of every length stay as they are. */
	assert_string_encodes("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
			      "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
	/* Overlong forms, encoded surrogates, past U+10FFFF, truncated
	 * sequences: each byte on its own. */
	assert_string_encodes("\xc0\xaf", "\"\\udcc0\\udcaf\"");
	assert_string_encodes("\xe0\x80\xaf", "\"\\udce0\\udc80\\udcaf\"");
	assert_string_encodes("\xed\xa0\x80", "\"\\udced\\udca0\\udc80\"");
	assert_string_encodes("\xf4\x90\x80\x80", "\"\\udcf4\\udc90\\udc80\\udc80\"");
	assert_string_encodes("\xe2\x82", "\"\\udce2\\udc82\"");
	assert_string_encodes("\xe2\x82x", "\"\\udce2\\udc82x\"");
}
END_TEST

START_TEST(keys_are_escaped_too)
{
	mesh_json j;

	mesh_json_init(&j);
	mesh_json_object_begin(&j);
	mesh_json_key(&j, "k\"\n");
	mesh_json_int(&j, 1);
	mesh_json_object_end(&j);
	assert_json(&j, "{\"k\\\"\\u000a\":1}");
}
END_TEST

START_TEST(scalars)
{
	mesh_json j;

	mesh_json_init(&j);
	mesh_json_array_begin(&j);
	mesh_json_int(&j, 0);
	mesh_json_int(&j, -42);
	mesh_json_int(&j, INT64_MAX);
	mesh_json_int(&j, INT64_MIN);
	mesh_json_bool(&j, true);
	mesh_json_bool(&j, false);
	mesh_json_array_end(&j);
	assert_json(&j, "[0,-42,9223372036854775807,-9223372036854775808,true,false]");
}
END_TEST

START_TEST(empty_containers)
{
	mesh_json j;

	mesh_json_init(&j);
	mesh_json_object_begin(&j);
	mesh_json_key(&j, "a");
	mesh_json_array_begin(&j);
	mesh_json_array_end(&j);
	mesh_json_key(&j, "o");
	mesh_json_object_begin(&j);
	mesh_json_object_end(&j);
	mesh_json_object_end(&j);
	assert_json(&j, "{\"a\":[],\"o\":{}}");
}
END_TEST

START_TEST(nesting_places_commas)
{
	mesh_json j;

	mesh_json_init(&j);
	mesh_json_object_begin(&j);
	mesh_json_key(&j, "ok");
	mesh_json_bool(&j, true);
	mesh_json_key(&j, "commits");
	mesh_json_array_begin(&j);
	for (int i = 0; i < 2; i++) {
		mesh_json_object_begin(&j);
		mesh_json_key(&j, "id");
		mesh_json_int(&j, i);
		mesh_json_key(&j, "parents");
		mesh_json_array_begin(&j);
		mesh_json_string(&j, "p1");
		mesh_json_string(&j, "p2");
		mesh_json_array_end(&j);
		mesh_json_key(&j, "meta");
		mesh_json_object_begin(&j);
		mesh_json_key(&j, "k");
		mesh_json_string(&j, "v");
		mesh_json_object_end(&j);
		mesh_json_object_end(&j);
	}
	mesh_json_array_end(&j);
	mesh_json_key(&j, "n");
	mesh_json_int(&j, 2);
	mesh_json_object_end(&j);
	assert_json(&j,
		"{\"ok\":true,\"commits\":["
		"{\"id\":0,\"parents\":[\"p1\",\"p2\"],\"meta\":{\"k\":\"v\"}},"
		"{\"id\":1,\"parents\":[\"p1\",\"p2\"],\"meta\":{\"k\":\"v\"}}"
		"],\"n\":2}");
}
END_TEST

START_TEST(arrays_of_arrays)
{
	mesh_json j;

	mesh_json_init(&j);
	mesh_json_array_begin(&j);
	mesh_json_array_begin(&j);
	mesh_json_array_end(&j);
	mesh_json_array_begin(&j);
	mesh_json_int(&j, 1);
	mesh_json_array_end(&j);
	mesh_json_string(&j, "x");
	mesh_json_array_end(&j);
	assert_json(&j, "[[],[1],\"x\"]");
}
END_TEST

START_TEST(long_output_grows)
{
	mesh_json j;
	char *out;
	size_t len;

	mesh_json_init(&j);
	mesh_json_array_begin(&j);
	for (int i = 0; i < 10000; i++)
		mesh_json_string(&j, "0123456789");
	mesh_json_array_end(&j);
	out = take(&j);
	len = strlen(out);
	/* "[" + 10000 * 12 quoted chars + 9999 commas + "]" */
	ck_assert_uint_eq(len, 2 + 10000 * 12 + 9999);
	ck_assert_int_eq(out[0], '[');
	ck_assert_int_eq(out[len - 1], ']');
	ck_assert(strncmp(out, "[\"0123456789\",\"0123456789\",", 27) == 0);
	free(out);
}
END_TEST

START_TEST(take_hands_over_and_resets)
{
	mesh_json j;
	char *first;

	mesh_json_init(&j);
	mesh_json_int(&j, 7);
	first = take(&j);
	ck_assert_str_eq(first, "7");
	ck_assert_ptr_null(j.buf);
	free(first);
	mesh_json_dispose(&j);
}
END_TEST

START_TEST(dispose_frees_unfinished_output)
{
	mesh_json j;

	mesh_json_init(&j);
	mesh_json_object_begin(&j);
	mesh_json_key(&j, "half");
	mesh_json_dispose(&j);
	ck_assert_ptr_null(j.buf);
	ck_assert_uint_eq(j.len, 0);
}
END_TEST

START_TEST(failed_writer_reports_enomem)
{
	mesh_json j;
	char *out = (char *)1;

	mesh_json_init(&j);
	mesh_json_string(&j, "x");
	j.failed = true;   /* as after a failed realloc */
	ck_assert_int_eq(mesh_json_take(&j, &out), MESH_ENOMEM);
	ck_assert_ptr_null(out);
	ck_assert_ptr_null(j.buf);
}
END_TEST

static Suite *json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, plain_string);
	tcase_add_test(tc, quotes_and_backslashes_are_escaped);
	tcase_add_test(tc, control_chars_are_escaped);
	tcase_add_test(tc, bytes_outside_utf8_are_escaped);
	tcase_add_test(tc, keys_are_escaped_too);
	tcase_add_test(tc, scalars);
	tcase_add_test(tc, empty_containers);
	tcase_add_test(tc, nesting_places_commas);
	tcase_add_test(tc, arrays_of_arrays);
	tcase_add_test(tc, long_output_grows);
	tcase_add_test(tc, take_hands_over_and_resets);
	tcase_add_test(tc, dispose_frees_unfinished_output);
	tcase_add_test(tc, failed_writer_reports_enomem);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(json_suite());
}
