#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"
#include "tree.h"
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

static mesh_tree_entry make_entry(const char *name, mesh_entry_kind kind,
				  unsigned char fill)
{
	mesh_tree_entry e;

	memset(&e, 0, sizeof(e));
	e.name = (char *)name;
	e.kind = kind;
	e.mode = kind == MESH_KIND_DIR ? 0755 : 0640;
	e.size = kind == MESH_KIND_DIR ? 0 : 1000u * fill + 1;
	e.mtime_ns = 1700000000123456789LL + fill;
	memset(e.id.id, fill, MESH_OID_RAWSZ);
	return e;
}

static bool same_oid(const mesh_oid *a, const mesh_oid *b)
{
	return memcmp(a->id, b->id, MESH_OID_RAWSZ) == 0;
}

START_TEST(roundtrip_keeps_every_field)
{
	mesh_tree_entry in[3] = {
		make_entry("data.csv", MESH_KIND_FILE, 1),
		make_entry("link", MESH_KIND_SYMLINK, 2),
		make_entry("sub", MESH_KIND_DIR, 3),
	};
	mesh_tree *tree;
	mesh_oid id;

	in[0].mtime_ns = -5;
	in[0].size = UINT64_MAX;
	in[0].mode = 07777;
	ck_assert_int_eq(mesh_tree_write(odb, in, 3, &id), 0);
	ck_assert_int_eq(mesh_tree_load(odb, &id, &tree), 0);
	ck_assert_uint_eq(tree->count, 3);
	for (size_t i = 0; i < 3; i++) {
		const mesh_tree_entry *e = &tree->entries[i];

		ck_assert_str_eq(e->name, in[i].name);
		ck_assert_int_eq(e->kind, in[i].kind);
		ck_assert_uint_eq(e->mode, in[i].mode);
		ck_assert_uint_eq(e->size, in[i].size);
		ck_assert_int_eq(e->mtime_ns, in[i].mtime_ns);
		ck_assert(same_oid(&e->id, &in[i].id));
	}
	mesh_tree_free(tree);
}
END_TEST

START_TEST(sorted_bytewise_regardless_of_input_order)
{
	/* Bytewise: 'B' < '_' < 'a' < 0xc3 (UTF-8 lead byte). */
	mesh_tree_entry in[5] = {
		make_entry("caf\xc3\xa9", MESH_KIND_FILE, 1),
		make_entry("a", MESH_KIND_FILE, 2),
		make_entry("_x", MESH_KIND_FILE, 3),
		make_entry("B", MESH_KIND_FILE, 4),
		make_entry("a-b", MESH_KIND_FILE, 5),
	};
	const char *order[5] = { "B", "_x", "a", "a-b", "caf\xc3\xa9" };
	mesh_tree_entry rev[5];
	mesh_tree *tree;
	mesh_oid id1, id2;

	for (size_t i = 0; i < 5; i++)
		rev[i] = in[4 - i];
	ck_assert_int_eq(mesh_tree_write(odb, in, 5, &id1), 0);
	ck_assert_int_eq(mesh_tree_write(odb, rev, 5, &id2), 0);
	ck_assert(same_oid(&id1, &id2));
	/* The caller's array is left as it was. */
	ck_assert_str_eq(in[0].name, "caf\xc3\xa9");
	ck_assert_int_eq(mesh_tree_load(odb, &id1, &tree), 0);
	for (size_t i = 0; i < 5; i++)
		ck_assert_str_eq(tree->entries[i].name, order[i]);
	mesh_tree_free(tree);
}
END_TEST

START_TEST(identical_trees_share_id_and_differences_do_not)
{
	mesh_tree_entry a = make_entry("f", MESH_KIND_FILE, 1);
	mesh_tree_entry b = make_entry("f", MESH_KIND_FILE, 1);
	mesh_oid ia, ib, ic;

	ck_assert_int_eq(mesh_tree_write(odb, &a, 1, &ia), 0);
	ck_assert_int_eq(mesh_tree_write(odb, &b, 1, &ib), 0);
	ck_assert(same_oid(&ia, &ib));
	b.mtime_ns++;
	ck_assert_int_eq(mesh_tree_write(odb, &b, 1, &ic), 0);
	ck_assert(!same_oid(&ia, &ic));
}
END_TEST

START_TEST(find_hits_and_misses)
{
	mesh_tree_entry in[4] = {
		make_entry("d", MESH_KIND_FILE, 4),
		make_entry("b", MESH_KIND_FILE, 2),
		make_entry("a", MESH_KIND_FILE, 1),
		make_entry("c", MESH_KIND_DIR, 3),
	};
	mesh_tree *tree;
	mesh_oid id;
	const char *names[] = { "a", "b", "c", "d" };

	ck_assert_int_eq(mesh_tree_write(odb, in, 4, &id), 0);
	ck_assert_int_eq(mesh_tree_load(odb, &id, &tree), 0);
	for (size_t i = 0; i < 4; i++) {
		const mesh_tree_entry *e = mesh_tree_find(tree, names[i]);

		ck_assert_ptr_nonnull(e);
		ck_assert_str_eq(e->name, names[i]);
		ck_assert_uint_eq(e->id.id[0], i + 1);
	}
	ck_assert_ptr_null(mesh_tree_find(tree, ""));
	ck_assert_ptr_null(mesh_tree_find(tree, "0"));
	ck_assert_ptr_null(mesh_tree_find(tree, "bb"));
	ck_assert_ptr_null(mesh_tree_find(tree, "e"));
	mesh_tree_free(tree);
}
END_TEST

START_TEST(empty_tree)
{
	mesh_oid id, again;
	mesh_tree *tree;

	ck_assert_int_eq(mesh_tree_empty(odb, &id), 0);
	ck_assert_int_eq(mesh_tree_empty(odb, &again), 0);
	ck_assert(same_oid(&id, &again));
	ck_assert_int_eq(mesh_tree_load(odb, &id, &tree), 0);
	ck_assert_uint_eq(tree->count, 0);
	ck_assert_ptr_null(mesh_tree_find(tree, "x"));
	mesh_tree_free(tree);
}
END_TEST

/* root/ { top.txt, a/ { b/ { deep.bin } , note } } */
static void build_nested(mesh_oid *root)
{
	mesh_tree_entry deep = make_entry("deep.bin", MESH_KIND_FILE, 9);
	mesh_tree_entry a_items[2], top[2];
	mesh_oid b_id, a_id;

	ck_assert_int_eq(mesh_tree_write(odb, &deep, 1, &b_id), 0);
	a_items[0] = make_entry("note", MESH_KIND_FILE, 7);
	a_items[1] = make_entry("b", MESH_KIND_DIR, 0);
	a_items[1].id = b_id;
	ck_assert_int_eq(mesh_tree_write(odb, a_items, 2, &a_id), 0);
	top[0] = make_entry("top.txt", MESH_KIND_FILE, 5);
	top[1] = make_entry("a", MESH_KIND_DIR, 0);
	top[1].id = a_id;
	ck_assert_int_eq(mesh_tree_write(odb, top, 2, root), 0);
}

START_TEST(lookup_nested_paths)
{
	mesh_oid root;
	mesh_tree_entry e;

	build_nested(&root);
	ck_assert_int_eq(mesh_tree_lookup_path(odb, &root, "a/b/deep.bin", &e),
			 0);
	ck_assert_int_eq(e.kind, MESH_KIND_FILE);
	ck_assert_uint_eq(e.id.id[0], 9);
	ck_assert_ptr_null(e.name);

	ck_assert_int_eq(mesh_tree_lookup_path(odb, &root, "a/b", &e), 0);
	ck_assert_int_eq(e.kind, MESH_KIND_DIR);

	ck_assert_int_eq(mesh_tree_lookup_path(odb, &root, "top.txt", &e), 0);
	ck_assert_uint_eq(e.size, 5001);

	ck_assert_int_eq(mesh_tree_lookup_path(odb, &root, "", &e), 0);
	ck_assert_int_eq(e.kind, MESH_KIND_DIR);
	ck_assert(same_oid(&e.id, &root));
}
END_TEST

START_TEST(lookup_missing_is_enoent)
{
	mesh_oid root;
	mesh_tree_entry e;

	build_nested(&root);
	ck_assert_int_eq(mesh_tree_lookup_path(odb, &root, "nope", &e),
			 MESH_ENOENT);
	ck_assert_int_eq(mesh_tree_lookup_path(odb, &root, "a/b/nope", &e),
			 MESH_ENOENT);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "a/b/nope"));
	ck_assert_int_eq(mesh_tree_lookup_path(odb, &root, "a/nope/deep.bin",
					       &e), MESH_ENOENT);
}
END_TEST

START_TEST(lookup_through_file_is_enotdir)
{
	mesh_oid root;
	mesh_tree_entry e;

	build_nested(&root);
	ck_assert_int_eq(mesh_tree_lookup_path(odb, &root, "top.txt/x", &e),
			 MESH_ENOTDIR);
	ck_assert_int_eq(mesh_tree_lookup_path(odb, &root, "a/note/x/y", &e),
			 MESH_ENOTDIR);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "a/note"));
	ck_assert_int_eq(mesh_tree_lookup_path(odb, &root, "top.txt/", &e),
			 MESH_ENOTDIR);
}
END_TEST

START_TEST(invalid_names_rejected)
{
	const char *bad[] = { "", ".", "..", "a/b", "/" };
	char toolong[300];
	mesh_oid id;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mesh_tree_entry e = make_entry(bad[i], MESH_KIND_FILE, 1);

		ck_assert_msg(mesh_tree_write(odb, &e, 1, &id) == MESH_EINVAL,
			      "accepted '%s'", bad[i]);
	}
	memset(toolong, 'n', sizeof(toolong) - 1);
	toolong[sizeof(toolong) - 1] = '\0';
	{
		mesh_tree_entry e = make_entry(toolong, MESH_KIND_FILE, 1);

		ck_assert_int_lt(mesh_tree_write(odb, &e, 1, &id), 0);
	}
}
END_TEST

START_TEST(duplicates_and_bad_fields_rejected)
{
	mesh_tree_entry dup[3] = {
		make_entry("x", MESH_KIND_FILE, 1),
		make_entry("y", MESH_KIND_FILE, 2),
		make_entry("x", MESH_KIND_DIR, 3),
	};
	mesh_tree_entry e = make_entry("f", MESH_KIND_FILE, 1);
	mesh_odb_stats stats;
	mesh_oid id;

	ck_assert_int_eq(mesh_tree_write(odb, dup, 3, &id), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "'x'"));
	e.kind = MESH_KIND_NONE;
	ck_assert_int_eq(mesh_tree_write(odb, &e, 1, &id), MESH_EINVAL);
	e.kind = MESH_KIND_FILE;
	e.mode = 0100644;   /* type bits are not part of a tree entry */
	ck_assert_int_eq(mesh_tree_write(odb, &e, 1, &id), MESH_EINVAL);
	/* Nothing reached the store. */
	mesh_odb_stats_get(odb, &stats);
	ck_assert_uint_eq(stats.writes, 0);
}
END_TEST

static void assert_corrupt(const void *data, size_t len)
{
	char hex[MESH_OID_HEXSZ + 1];
	mesh_tree *tree = (mesh_tree *)1;
	mesh_oid id;

	ck_assert_int_eq(mesh_odb_write(odb, MESH_OBJ_TREE, data, len, &id), 0);
	ck_assert_int_eq(mesh_tree_load(odb, &id, &tree), MESH_EIO);
	ck_assert_ptr_null(tree);
	mesh_oid_fmt(hex, &id);
	ck_assert_msg(strstr(mesh_error_message(), hex) != NULL,
		      "message does not name the tree: %s",
		      mesh_error_message());
}

/* A valid serialized tree with two entries, to damage in the tests. */
static unsigned char *valid_bytes(size_t *len)
{
	mesh_tree_entry in[2] = {
		make_entry("aa", MESH_KIND_FILE, 1),
		make_entry("bb", MESH_KIND_FILE, 2),
	};
	mesh_oid id;
	void *data;

	ck_assert_int_eq(mesh_tree_write(odb, in, 2, &id), 0);
	ck_assert_int_eq(mesh_odb_read(odb, &id, MESH_OBJ_TREE, &data, len,
				       NULL), 0);
	return data;
}

START_TEST(corrupt_data_is_eio)
{
	size_t len;
	unsigned char *good = valid_bytes(&len);
	unsigned char *bad = malloc(len + 1);

	ck_assert_uint_eq(len, 7 + 4 + 2 * (1 + 4 + 4 + 4 + 8 + 8 + 8 + 32 + 2 + 2));
	assert_corrupt("garbage", 7);
	assert_corrupt("", 0);
	assert_corrupt(good, len - 1);                 /* truncated name */
	assert_corrupt(good, 7 + 4 + 20);              /* truncated entry */

	memcpy(bad, good, len);
	bad[len] = 'x';
	assert_corrupt(bad, len + 1);                  /* trailing byte */

	memcpy(bad, good, len);
	bad[7] = 0xff; bad[8] = 0xff; bad[9] = 0xff; bad[10] = 0xff;
	assert_corrupt(bad, len);                      /* lying count */

	memcpy(bad, good, len);
	bad[len - 1] = 'a';
	bad[len - 2] = 'a';                            /* duplicate "aa" */
	assert_corrupt(bad, len);

	memcpy(bad, good, len);
	bad[11] = 9;                                   /* unknown kind */
	assert_corrupt(bad, len);

	memcpy(bad, good, len);
	bad[len - 1] = '/';                            /* "b/" */
	assert_corrupt(bad, len);

	memcpy(bad, good, len);
	bad[11 + 69] = 0xff;                           /* name length */
	assert_corrupt(bad, len);

	/* Found by fuzz_tree: the writer refuses these, so must the reader. */
	memcpy(bad, good, len);
	bad[11 + 1 + 3] = 0x80;                        /* mode 0x80000000|0644 */
	assert_corrupt(bad, len);
	memcpy(bad, good, len);
	bad[11 + 1] = 0xa4; bad[11 + 2] = 0x81;        /* mode 0100644 */
	assert_corrupt(bad, len);
	free(bad);
	free(good);
}
END_TEST

/* A name of 256 bytes: the writer refuses it (ENAMETOOLONG), so a stored
 * tree holding one is corrupt. */
START_TEST(overlong_name_is_eio)
{
	size_t fixed = 1 + 4 + 8 + 8 + 32 + 2, len = 7 + 4 + fixed + 256;
	unsigned char *bad = calloc(1, len);

	memcpy(bad, "MTREE1\n", 7);
	bad[7] = 1;                                    /* one entry */
	bad[11] = MESH_KIND_FILE;
	bad[12] = 0xa4; bad[13] = 0x01;                /* 0644 */
	bad[11 + fixed - 2] = 0x00; bad[11 + fixed - 1] = 0x01; /* 256 */
	memset(bad + 11 + fixed, 'n', 256);
	assert_corrupt(bad, len);
	free(bad);
}
END_TEST

START_TEST(missing_tree_is_eio)
{
	mesh_oid id;
	mesh_tree *tree;

	memset(id.id, 0x42, sizeof(id.id));
	ck_assert_int_eq(mesh_tree_load(odb, &id, &tree), MESH_EIO);
}
END_TEST

/* --- ownership and special files (MTREE2), MTREE1 trees ------------- */

START_TEST(owner_rdev_and_special_kinds_roundtrip)
{
	mesh_tree_entry in[3] = {
		make_entry("dev", MESH_KIND_CHRDEV, 0),
		make_entry("fifo", MESH_KIND_FIFO, 0),
		make_entry("file", MESH_KIND_FILE, 3),
	};
	mesh_tree *tree;
	mesh_oid id;

	in[0].uid = 0;
	in[0].gid = 6;
	in[0].rdev = (1u << 8) | 3;
	in[0].mode = 0660;
	in[1].uid = 1234;
	in[1].gid = 5678;
	in[2].uid = MESH_OWNER_LEGACY;
	in[2].gid = 70000;
	in[2].mode = 04755;
	ck_assert_int_eq(mesh_tree_write(odb, in, 3, &id), 0);
	ck_assert_int_eq(mesh_tree_load(odb, &id, &tree), 0);
	ck_assert_uint_eq(tree->count, 3);
	ck_assert_int_eq(tree->entries[0].kind, MESH_KIND_CHRDEV);
	ck_assert_uint_eq(tree->entries[0].rdev, (1u << 8) | 3);
	ck_assert_uint_eq(tree->entries[0].gid, 6);
	ck_assert_int_eq(tree->entries[1].kind, MESH_KIND_FIFO);
	ck_assert_uint_eq(tree->entries[1].uid, 1234);
	ck_assert_uint_eq(tree->entries[1].gid, 5678);
	ck_assert_uint_eq(tree->entries[1].rdev, 0);
	ck_assert_uint_eq(tree->entries[2].uid, MESH_OWNER_LEGACY);
	ck_assert_uint_eq(tree->entries[2].gid, 70000);
	ck_assert_uint_eq(tree->entries[2].mode, 04755);
	mesh_tree_free(tree);
	/* The owner is part of the content: a chown makes another tree. */
	in[1].uid = 1235;
	{
		mesh_oid other;
		ck_assert_int_eq(mesh_tree_write(odb, in, 3, &other), 0);
		ck_assert(!same_oid(&id, &other));
	}
	/* A device number belongs to devices only. */
	in[1].rdev = 5;
	ck_assert_int_eq(mesh_tree_write(odb, in, 3, &id), MESH_EINVAL);
}
END_TEST

/* An MTREE1 tree as meshfs wrote it before ownership was versioned:
 * kind, mode, size, mtime, id, name length, name. */
static size_t v1_tree(unsigned char *buf, unsigned char kind)
{
	unsigned char *p = buf + 11;

	memcpy(buf, "MTREE1\n", 7);
	buf[7] = 1; buf[8] = buf[9] = buf[10] = 0;
	memset(p, 0, 56);
	p[0] = kind;
	p[1] = 0xa4; p[2] = 0x01;                 /* mode 0644 */
	p[5] = 42;                                /* size 42 */
	p[13] = 7;                                /* mtime 7 ns */
	memset(p + 21, 0xab, MESH_OID_RAWSZ);
	p[21 + MESH_OID_RAWSZ] = 1;               /* name length 1 */
	p[55] = 'x';
	return 11 + 56;
}

START_TEST(mtree1_decodes_with_the_legacy_owner)
{
	unsigned char buf[128];
	size_t len = v1_tree(buf, MESH_KIND_FILE);
	mesh_tree *tree;
	mesh_oid id, again;

	/* Stored as it is: its id stays what it was. */
	ck_assert_int_eq(mesh_odb_write(odb, MESH_OBJ_TREE, buf, len, &id), 0);
	ck_assert_int_eq(mesh_tree_load(odb, &id, &tree), 0);
	ck_assert_uint_eq(tree->count, 1);
	ck_assert_str_eq(tree->entries[0].name, "x");
	ck_assert_int_eq(tree->entries[0].kind, MESH_KIND_FILE);
	ck_assert_uint_eq(tree->entries[0].mode, 0644);
	ck_assert_uint_eq(tree->entries[0].size, 42);
	ck_assert_int_eq(tree->entries[0].mtime_ns, 7);
	ck_assert_uint_eq(tree->entries[0].uid, MESH_OWNER_LEGACY);
	ck_assert_uint_eq(tree->entries[0].gid, MESH_OWNER_LEGACY);
	ck_assert_uint_eq(tree->entries[0].rdev, 0);
	/* Written again it is an MTREE2 tree, another object. */
	ck_assert_int_eq(mesh_tree_write(odb, tree->entries, 1, &again), 0);
	ck_assert(!same_oid(&id, &again));
	mesh_tree_free(tree);
	/* MTREE1 had no special files: such a kind there is damage. */
	len = v1_tree(buf, MESH_KIND_FIFO);
	ck_assert_int_eq(mesh_tree_parse(&id, buf, len, &tree), MESH_EIO);
	ck_assert_ptr_null(tree);
}
END_TEST

START_TEST(device_number_on_a_file_is_eio)
{
	mesh_tree_entry in[1] = { make_entry("f", MESH_KIND_FILE, 1) };
	unsigned char *data;
	mesh_tree *tree;
	size_t len;
	mesh_oid id;

	ck_assert_int_eq(mesh_tree_write(odb, in, 1, &id), 0);
	ck_assert_int_eq(mesh_odb_read(odb, &id, MESH_OBJ_TREE, (void **)&data, &len, NULL), 0);
	data[11 + 13] = 1;                        /* rdev's low byte */
	ck_assert_int_eq(mesh_tree_parse(&id, data, len, &tree), MESH_EIO);
	free(data);
}
END_TEST

static Suite *tree_suite(void)
{
	Suite *s = suite_create("tree");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, roundtrip_keeps_every_field);
	tcase_add_test(tc, sorted_bytewise_regardless_of_input_order);
	tcase_add_test(tc, identical_trees_share_id_and_differences_do_not);
	tcase_add_test(tc, find_hits_and_misses);
	tcase_add_test(tc, empty_tree);
	tcase_add_test(tc, lookup_nested_paths);
	tcase_add_test(tc, lookup_missing_is_enoent);
	tcase_add_test(tc, lookup_through_file_is_enotdir);
	tcase_add_test(tc, invalid_names_rejected);
	tcase_add_test(tc, duplicates_and_bad_fields_rejected);
	tcase_add_test(tc, corrupt_data_is_eio);
	tcase_add_test(tc, overlong_name_is_eio);
	tcase_add_test(tc, missing_tree_is_eio);
	tcase_add_test(tc, owner_rdev_and_special_kinds_roundtrip);
	tcase_add_test(tc, mtree1_decodes_with_the_legacy_owner);
	tcase_add_test(tc, device_number_on_a_file_is_eio);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(tree_suite());
}
