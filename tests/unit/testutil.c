#include "testutil.h"
#include "domain.h"
#include "control.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ftw.h>
#include <sys/stat.h>
#include <fcntl.h>

#include "file.h"

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

mesh_store *test_store_new(const char *dir, mesh_caller *caller, const char *domain)
{
	mesh_store *store;

	caller->uid = getuid();
	caller->gid = getgid();
	caller->pid = getpid();
	ck_assert_int_eq(mesh_store_init(dir), 0);
	ck_assert_int_eq(mesh_store_open(&store, dir, NULL), 0);
	if (domain)
		ck_assert_int_eq(mesh_domain_create(store, caller, domain, ""), 0);
	return store;
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

mesh_oid test_stage_file(mesh_store *store, mesh_view *view, const mesh_caller *caller,
			 const char *path, const void *data, size_t len)
{
	mesh_oid map;

	ck_assert_int_eq(mesh_file_write_buf(mesh_store_odb(store), NULL, data, len, &map), 0);
	ck_assert_int_eq(mesh_view_stage_content(view, caller, path, MESH_KIND_FILE, 0644,
						 len, 0, &map, false), 0);
	return map;
}

mesh_oid test_commit(mesh_view *view, const mesh_caller *caller)
{
	mesh_oid id;
	size_t changes;

	ck_assert_int_eq(mesh_view_commit(view, caller, "m", NULL, 0, &id, &changes), 0);
	return id;
}

void test_loose_path(const char *dir, const mesh_oid *id, char *out, size_t len)
{
	char hex[MESH_OID_HEXSZ + 1];

	mesh_oid_fmt(hex, id);
	snprintf(out, len, "%s/objects/%.2s/%s", dir, hex, hex + 2);
}

void test_flip_loose(const char *dir, const mesh_oid *id, off_t at)
{
	char path[4096];
	unsigned char byte;
	int fd;

	test_loose_path(dir, id, path, sizeof(path));
	ck_assert_int_eq(chmod(path, 0644), 0);
	ck_assert_int_ge(fd = open(path, O_RDWR), 0);
	ck_assert_int_eq(pread(fd, &byte, 1, at), 1);
	byte ^= 0x20;
	ck_assert_int_eq(pwrite(fd, &byte, 1, at), 1);
	close(fd);
}

/* The key odb.c's database backend keeps an object under. */
static void object_key(const mesh_oid *id, unsigned char key[2 + MESH_OID_RAWSZ])
{
	key[0] = 'o';
	key[1] = '/';
	memcpy(key + 2, id->id, MESH_OID_RAWSZ);
}

void test_flip_db(mesh_store *store, const mesh_oid *id)
{
	unsigned char key[2 + MESH_OID_RAWSZ], *val;
	size_t vlen;

	object_key(id, key);
	ck_assert_int_eq(mesh_db_get(mesh_store_db(store), key, sizeof(key), (void **)&val, &vlen), 0);
	val[vlen - 1] ^= 0x01;
	ck_assert_int_eq(mesh_db_put(mesh_store_db(store), key, sizeof(key), val, vlen, true), 0);
	free(val);
}

void test_remove_db(mesh_store *store, const mesh_oid *id)
{
	unsigned char key[2 + MESH_OID_RAWSZ];

	object_key(id, key);
	ck_assert_int_eq(mesh_db_delete(mesh_store_db(store), key, sizeof(key), true), 0);
}

bool test_in_db(mesh_store *store, const mesh_oid *id)
{
	unsigned char key[2 + MESH_OID_RAWSZ];

	object_key(id, key);
	return mesh_db_has(mesh_store_db(store), key, sizeof(key)) == 1;
}

int test_views_get(void *ctx, const char *domain, const char *branch, mesh_view **out)
{
	test_views *t = ctx;
	int error;

	t->calls++;
	for (size_t i = 0; i < t->count; i++) {
		if (!strcmp(mesh_view_domain(t->views[i]), domain) &&
		    !strcmp(mesh_view_branch(t->views[i]), branch)) {
			*out = t->views[i];
			return 0;
		}
	}
	ck_assert_uint_lt(t->count, TEST_VIEWS_MAX);
	if ((error = mesh_view_open_branch(out, t->store, domain, branch)) < 0)
		return error;
	t->views[t->count++] = *out;
	return 0;
}

void test_views_env(test_views *views, mesh_store *store, mesh_control_env *env)
{
	memset(views, 0, sizeof(*views));
	views->store = store;
	memset(env, 0, sizeof(*env));
	env->store = store;
	env->branch_view = test_views_get;
	env->ctx = views;
}

void test_views_free(test_views *views)
{
	for (size_t i = 0; i < views->count; i++)
		mesh_view_free(views->views[i]);
	views->count = 0;
	free(views->answer);
	views->answer = NULL;
}

int test_views_run(test_views *views, const mesh_control_env *env, const mesh_caller *who,
		   const char *line, char **answer)
{
	int error;

	free(views->answer);
	views->answer = NULL;
	error = mesh_control_run(env, who, line, &views->answer);
	if (answer)
		*answer = views->answer;
	return error;
}
