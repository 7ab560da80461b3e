/* testutil.h - helpers shared by the Check unit tests. */
#ifndef MESH_TESTUTIL_H
#define MESH_TESTUTIL_H

#include <check.h>
#include <stddef.h>

/* Creates a fresh temporary directory; caller frees and removes it with
 * test_tmpdir_remove(). */
char *test_tmpdir_new(void);
void test_tmpdir_remove(char *dir);

#include "odb.h"
#include "tree.h"

/* An object store with the loose backend in dir/objects and dir/tmp
 * (created); close it with mesh_odb_close. */
mesh_odb *test_odb_new(const char *dir);

/* Tree entries for tests of trees, diffs and merges: a file whose content
 * id is fake (every byte = fill), and a directory. */
mesh_tree_entry test_file_entry(const char *name, unsigned fill);
mesh_tree_entry test_dir_entry(const char *name, mesh_oid id);

/* Stores a tree of the given entries; fails the test on error. */
mesh_oid test_tree_write(mesh_odb *odb, const mesh_tree_entry *entries, size_t count);

/* TEST_TREE(odb, entry, entry...): the id of a tree of those entries. */
#define TEST_TREE(odb, ...) test_tree_write((odb), (mesh_tree_entry[]){ __VA_ARGS__ }, \
	sizeof((mesh_tree_entry[]){ __VA_ARGS__ }) / sizeof(mesh_tree_entry))

/* Deterministic incompressible bytes (xorshift), different per seed. */
void test_fill_random(unsigned char *buf, size_t len, unsigned seed);

#include <stdbool.h>
#include <sys/types.h>
#include "store.h"
#include "view.h"

/* A store initialised and opened in dir, with domain created (unless
 * NULL) by *caller, which is set to this process's identity. */
mesh_store *test_store_new(const char *dir, mesh_caller *caller, const char *domain);

/* Stores data as a file and stages it at path in view; its map id. */
mesh_oid test_stage_file(mesh_store *store, mesh_view *view, const mesh_caller *caller,
			 const char *path, const void *data, size_t len);
/* Commits what view has staged; the new head. */
mesh_oid test_commit(mesh_view *view, const mesh_caller *caller);

/* Damage for fsck and reach tests.  The loose file of object id in the
 * store at dir, into out. */
void test_loose_path(const char *dir, const mesh_oid *id, char *out, size_t len);
/* Flips a bit of byte at of a loose object. */
void test_flip_loose(const char *dir, const mesh_oid *id, off_t at);
/* Flips a bit of the last byte of an object kept in RocksDB; removes one;
 * whether one is kept there. */
void test_flip_db(mesh_store *store, const mesh_oid *id);
void test_remove_db(mesh_store *store, const mesh_oid *id);
bool test_in_db(mesh_store *store, const mesh_oid *id);

#include "cmd.h"

/* Branch views kept one per branch, as the mount keeps them, for the
 * control commands of a test (test_views_env); calls counts the asks. */
#define TEST_VIEWS_MAX 16
typedef struct test_views {
	mesh_store *store;
	mesh_view *views[TEST_VIEWS_MAX];
	size_t count;
	unsigned calls;
	char *answer;              /* of the last test_views_run */
} test_views;

/* A mesh_control_branch_view over a test_views (ctx). */
int test_views_get(void *ctx, const char *domain, const char *branch, mesh_view **out);
/* env runs commands on store with its branch views in views. */
void test_views_env(test_views *views, mesh_store *store, mesh_control_env *env);
void test_views_free(test_views *views);
/* Runs line as who on env; *answer (when asked) is the answer, kept in
 * views until the next run or test_views_free. */
int test_views_run(test_views *views, const mesh_control_env *env, const mesh_caller *who,
		   const char *line, char **answer);

/* Runs a suite and returns the process exit status. */
int test_run_suite(Suite *suite);

#endif
