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

/* Runs a suite and returns the process exit status. */
int test_run_suite(Suite *suite);

#endif
