#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"
#include "commit.h"
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

static mesh_oid oid_of(unsigned char fill)
{
	mesh_oid oid;

	memset(oid.id, fill, sizeof(oid.id));
	return oid;
}

static bool same_oid(const mesh_oid *a, const mesh_oid *b)
{
	return memcmp(a->id, b->id, MESH_OID_RAWSZ) == 0;
}

/* A commit with two parents and metadata; all strings are literals. */
static mesh_commit sample(mesh_oid *parents, mesh_meta *meta)
{
	mesh_commit c;

	memset(&c, 0, sizeof(c));
	c.tree = oid_of(0xab);
	parents[0] = oid_of(1);
	parents[1] = oid_of(2);
	c.parents = parents;
	c.parent_count = 2;
	c.author = "Ada Lovelace";
	c.uid = 4294967295u;
	c.time = 1767225600;
	meta[0].key = "source";
	meta[0].value = "etl=nightly";
	meta[1].key = "rows";
	meta[1].value = "";
	c.meta = meta;
	c.meta_count = 2;
	c.message = "Load orders\n\nmeta line: not metadata\nparent x\n";
	return c;
}

static void assert_same_commit(const mesh_commit *a, const mesh_commit *b)
{
	ck_assert(same_oid(&a->tree, &b->tree));
	ck_assert_uint_eq(a->parent_count, b->parent_count);
	for (size_t i = 0; i < a->parent_count; i++)
		ck_assert(same_oid(&a->parents[i], &b->parents[i]));
	ck_assert_str_eq(a->author, b->author);
	ck_assert_uint_eq(a->uid, b->uid);
	ck_assert_int_eq(a->time, b->time);
	ck_assert_uint_eq(a->meta_count, b->meta_count);
	for (size_t i = 0; i < a->meta_count; i++) {
		ck_assert_str_eq(a->meta[i].key, b->meta[i].key);
		ck_assert_str_eq(a->meta[i].value, b->meta[i].value);
	}
	ck_assert_str_eq(a->message, b->message);
}

START_TEST(roundtrip_with_parents_and_meta)
{
	mesh_oid parents[2], id;
	mesh_meta meta[2];
	mesh_commit in = sample(parents, meta), *out;

	ck_assert_int_eq(mesh_commit_write(odb, &in, &id), 0);
	ck_assert_int_eq(mesh_commit_load(odb, &id, &out), 0);
	assert_same_commit(&in, out);
	mesh_commit_free(out);
}
END_TEST

START_TEST(roundtrip_root_commit_edge_values)
{
	mesh_commit in, *out;
	mesh_oid id;

	memset(&in, 0, sizeof(in));
	in.tree = oid_of(0);
	in.author = "";
	in.uid = 0;
	in.time = INT64_MIN;
	in.message = NULL;
	ck_assert_int_eq(mesh_commit_write(odb, &in, &id), 0);
	ck_assert_int_eq(mesh_commit_load(odb, &id, &out), 0);
	ck_assert_uint_eq(out->parent_count, 0);
	ck_assert_uint_eq(out->meta_count, 0);
	ck_assert_str_eq(out->author, "");
	ck_assert_int_eq(out->time, INT64_MIN);
	ck_assert_str_eq(out->message, "");
	mesh_commit_free(out);

	in.author = "name with  spaces ";
	in.time = INT64_MAX;
	in.message = "no trailing newline";
	ck_assert_int_eq(mesh_commit_write(odb, &in, &id), 0);
	ck_assert_int_eq(mesh_commit_load(odb, &id, &out), 0);
	ck_assert_str_eq(out->author, "name with  spaces ");
	ck_assert_int_eq(out->time, INT64_MAX);
	ck_assert_str_eq(out->message, "no trailing newline");
	mesh_commit_free(out);
}
END_TEST

START_TEST(serialized_text_is_as_documented)
{
	mesh_commit c;
	mesh_oid id, parent = oid_of(0x11);
	mesh_meta meta = { "k", "v=w" };
	void *data;
	size_t len;
	char expect[512];

	memset(&c, 0, sizeof(c));
	c.tree = oid_of(0xab);
	c.parents = &parent;
	c.parent_count = 1;
	c.author = "bob";
	c.uid = 1000;
	c.time = -12;
	c.meta = &meta;
	c.meta_count = 1;
	c.message = "msg\n";
	ck_assert_int_eq(mesh_commit_write(odb, &c, &id), 0);
	ck_assert_int_eq(mesh_odb_read(odb, &id, MESH_OBJ_COMMIT, &data, &len,
				       NULL), 0);
	snprintf(expect, sizeof(expect),
		 "tree %s\nparent %s\nauthor bob 1000\ntime -12\nmeta k=v=w\n\nmsg\n",
		 "abababababababababababababababababababababababababababababababab",
		 "1111111111111111111111111111111111111111111111111111111111111111");
	ck_assert_uint_eq(len, strlen(expect));
	ck_assert(memcmp(data, expect, len) == 0);
	free(data);
}
END_TEST

START_TEST(id_is_stable_and_content_sensitive)
{
	mesh_oid parents[2], a, b, c;
	mesh_meta meta[2];
	mesh_commit in = sample(parents, meta);

	ck_assert_int_eq(mesh_commit_write(odb, &in, &a), 0);
	ck_assert_int_eq(mesh_commit_write(odb, &in, &b), 0);
	ck_assert(same_oid(&a, &b));
	in.time++;
	ck_assert_int_eq(mesh_commit_write(odb, &in, &c), 0);
	ck_assert(!same_oid(&a, &c));
	in.time--;
	in.parents[0] = oid_of(2);
	in.parents[1] = oid_of(1);
	ck_assert_int_eq(mesh_commit_write(odb, &in, &c), 0);
	ck_assert(!same_oid(&a, &c));
}
END_TEST

static int write_with(const char *author, const char *key, const char *value)
{
	mesh_commit c;
	mesh_meta m = { (char *)key, (char *)value };
	mesh_oid id;

	memset(&c, 0, sizeof(c));
	c.author = (char *)author;
	c.meta = &m;
	c.meta_count = 1;
	c.message = "m";
	return mesh_commit_write(odb, &c, &id);
}

START_TEST(invalid_fields_rejected)
{
	mesh_odb_stats stats;

	ck_assert_int_eq(write_with("ok", "k", "v"), 0);
	ck_assert_int_eq(write_with("two\nlines", "k", "v"), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "author"));
	ck_assert_int_eq(write_with(NULL, "k", "v"), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "author"));
	ck_assert_int_eq(write_with("ok", "", "v"), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "key"));
	ck_assert_int_eq(write_with("ok", "a=b", "v"), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "a=b"));
	ck_assert_int_eq(write_with("ok", "a\nb", "v"), MESH_EINVAL);
	ck_assert_int_eq(write_with("ok", "k", "x\ny"), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "value"));
	ck_assert_int_eq(write_with("ok", "k", NULL), MESH_EINVAL);
	mesh_odb_stats_get(odb, &stats);
	ck_assert_uint_eq(stats.writes, 1);
}
END_TEST

#define HEX_A "abababababababababababababababababababababababababababababababab"

static void assert_rejected(const char *text)
{
	char hex[MESH_OID_HEXSZ + 1];
	mesh_commit *c = (mesh_commit *)1;
	mesh_oid id;

	ck_assert_int_eq(mesh_odb_write(odb, MESH_OBJ_COMMIT, text,
					strlen(text), &id), 0);
	ck_assert_msg(mesh_commit_load(odb, &id, &c) == MESH_EIO,
		      "accepted: %s", text);
	ck_assert_ptr_null(c);
	mesh_oid_fmt(hex, &id);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), hex));
}

START_TEST(malformed_objects_rejected)
{
	mesh_commit *c;
	mesh_oid id;
	const char *good = "tree " HEX_A "\nauthor a 1\ntime 5\n\nm";

	/* The baseline parses, so each rejection below is about its flaw. */
	ck_assert_int_eq(mesh_odb_write(odb, MESH_OBJ_COMMIT, good,
					strlen(good), &id), 0);
	ck_assert_int_eq(mesh_commit_load(odb, &id, &c), 0);
	mesh_commit_free(c);

	assert_rejected("");
	assert_rejected("garbage");
	assert_rejected("tree " HEX_A "\nauthor a 1\ntime 5\n");        /* no blank */
	assert_rejected("tree " HEX_A "\nauthor a 1\ntime 5");
	assert_rejected("tree abc\nauthor a 1\ntime 5\n\nm");
	assert_rejected("tree " HEX_A "0\nauthor a 1\ntime 5\n\nm");
	assert_rejected("tree ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB"
			"\nauthor a 1\ntime 5\n\nm");
	assert_rejected("tree " HEX_A "\nparent zz\nauthor a 1\ntime 5\n\nm");
	assert_rejected("tree " HEX_A "\ntime 5\nauthor a 1\n\nm");      /* order */
	assert_rejected("tree " HEX_A "\nauthor a\ntime 5\n\nm");        /* no uid */
	assert_rejected("tree " HEX_A "\nauthor a -1\ntime 5\n\nm");
	assert_rejected("tree " HEX_A "\nauthor a 4294967296\ntime 5\n\nm");
	assert_rejected("tree " HEX_A "\nauthor a 01\ntime 5\n\nm");
	assert_rejected("tree " HEX_A "\nauthor a 1\ntime 5x\n\nm");
	assert_rejected("tree " HEX_A "\nauthor a 1\ntime \n\nm");
	assert_rejected("tree " HEX_A "\nauthor a 1\ntime -0\n\nm");
	assert_rejected("tree " HEX_A "\nauthor a 1\ntime 9223372036854775808\n\nm");
	assert_rejected("tree " HEX_A "\nauthor a 1\ntime 5\nmeta novalue\n\nm");
	assert_rejected("tree " HEX_A "\nauthor a 1\ntime 5\nmeta =v\n\nm");
	assert_rejected("tree " HEX_A "\nauthor a 1\ntime 5\nextra x\n\nm");
	assert_rejected("tree " HEX_A "\nauthor a 1\ntime 5\nparent " HEX_A "\n\nm");
}
END_TEST

START_TEST(message_with_nul_rejected)
{
	static const char text[] = "tree " HEX_A "\nauthor a 1\ntime 5\n\nm\0x";
	mesh_commit *c;
	mesh_oid id;

	ck_assert_int_eq(mesh_odb_write(odb, MESH_OBJ_COMMIT, text,
					sizeof(text) - 1, &id), 0);
	ck_assert_int_eq(mesh_commit_load(odb, &id, &c), MESH_EIO);
}
END_TEST

START_TEST(missing_or_wrong_type_object)
{
	mesh_commit *c;
	mesh_oid id = oid_of(0x77);

	ck_assert_int_eq(mesh_commit_load(odb, &id, &c), MESH_EIO);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "missing"));
	ck_assert_int_eq(mesh_odb_write(odb, MESH_OBJ_TREE, "x", 1, &id), 0);
	ck_assert_int_eq(mesh_commit_load(odb, &id, &c), MESH_EIO);
}
END_TEST

static Suite *commit_suite(void)
{
	Suite *s = suite_create("commit");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, roundtrip_with_parents_and_meta);
	tcase_add_test(tc, roundtrip_root_commit_edge_values);
	tcase_add_test(tc, serialized_text_is_as_documented);
	tcase_add_test(tc, id_is_stable_and_content_sensitive);
	tcase_add_test(tc, invalid_fields_rejected);
	tcase_add_test(tc, malformed_objects_rejected);
	tcase_add_test(tc, message_with_nul_rejected);
	tcase_add_test(tc, missing_or_wrong_type_object);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(commit_suite());
}
