/* testutil.h - helpers shared by the Check unit tests. */
#ifndef MESH_TESTUTIL_H
#define MESH_TESTUTIL_H

#include <check.h>

/* Creates a fresh temporary directory; caller frees and removes it with
 * test_tmpdir_remove(). */
char *test_tmpdir_new(void);
void test_tmpdir_remove(char *dir);

/* Runs a suite and returns the process exit status. */
int test_run_suite(Suite *suite);

#endif
