#include "testutil.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ftw.h>
#include <sys/stat.h>

char *test_tmpdir_new(void)
{
	char tmpl[] = "/tmp/meshtest.XXXXXX";
	char *dir = mkdtemp(tmpl);

	ck_assert_ptr_nonnull(dir);
	return strdup(dir);
}

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

void test_tmpdir_remove(char *dir)
{
	if (!dir)
		return;
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

int test_run_suite(Suite *suite)
{
	SRunner *runner = srunner_create(suite);
	int failed;

	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

mesh_odb *test_odb_new(const char *dir)
{
	char objects[4096], scratch[4096];
	mesh_odb_backend *backend;
	mesh_odb *odb;

	snprintf(objects, sizeof(objects), "%s/objects", dir);
	snprintf(scratch, sizeof(scratch), "%s/tmp", dir);
	ck_assert_int_eq(mkdir(objects, 0700), 0);
	ck_assert_int_eq(mkdir(scratch, 0700), 0);
	ck_assert_int_eq(mesh_odb_backend_loose(&backend, objects, scratch), 0);
	ck_assert_int_eq(mesh_odb_open(&odb, backend, NULL), 0);
	return odb;
}

mesh_tree_entry test_file_entry(const char *name, unsigned fill)
{
	mesh_tree_entry e;

	memset(&e, 0, sizeof(e));
	e.name = (char *)name;
	e.kind = MESH_KIND_FILE;
	e.mode = 0644;
	e.size = fill;
	e.mtime_ns = 1700000000000000000LL;
	memset(e.id.id, (int)fill, MESH_OID_RAWSZ);
	return e;
}

mesh_tree_entry test_dir_entry(const char *name, mesh_oid id)
{
	mesh_tree_entry e;

	memset(&e, 0, sizeof(e));
	e.name = (char *)name;
	e.kind = MESH_KIND_DIR;
	e.mode = 0755;
	e.mtime_ns = 1700000000000000000LL;
	e.id = id;
	return e;
}

mesh_oid test_tree_write(mesh_odb *odb, const mesh_tree_entry *entries, size_t count)
{
	mesh_oid id;

	ck_assert_int_eq(mesh_tree_write(odb, entries, count, &id), 0);
	return id;
}

void test_fill_random(unsigned char *buf, size_t len, unsigned seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (unsigned char)(x >> 24);
	}
}
