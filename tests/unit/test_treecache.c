/* test_treecache.c - the bounded, reference-counted cache of trees. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"
#include "error.h"
#include "odb.h"
#include "tree.h"
#include "treecache.h"

#define TREES 8

static char *tmp;
static mesh_odb *odb;
static mesh_oid ids[TREES];    /* tree i holds one file named "file<i>" */

static void setup(void)
{
	char objects[512], scratch[512];
	mesh_odb_backend *backend;

	tmp = test_tmpdir_new();
	snprintf(objects, sizeof(objects), "%s/objects", tmp);
	snprintf(scratch, sizeof(scratch), "%s/tmp", tmp);
	ck_assert_int_eq(mkdir(objects, 0755), 0);
	ck_assert_int_eq(mkdir(scratch, 0755), 0);
	ck_assert_int_eq(mesh_odb_backend_loose(&backend, objects, scratch), 0);
	ck_assert_int_eq(mesh_odb_open(&odb, backend, NULL), 0);
	for (int i = 0; i < TREES; i++) {
		char name[16];
		mesh_tree_entry entry = { .name = name, .kind = MESH_KIND_FILE,
					  .mode = 0644, .size = (uint64_t)i };
		snprintf(name, sizeof(name), "file%d", i);
		memset(entry.id.id, i + 1, sizeof(entry.id.id));
		ck_assert_int_eq(mesh_tree_write(odb, &entry, 1, &ids[i]), 0);
	}
}

static void teardown(void)
{
	mesh_odb_close(odb);
	test_tmpdir_remove(tmp);
}

static uint64_t reads(void)
{
	mesh_odb_stats stats;

	mesh_odb_stats_get(odb, &stats);
	return stats.reads;
}

/* The tree behind ref is tree i, intact. */
static void assert_is_tree(const mesh_tree_ref *ref, int i)
{
	const mesh_tree *tree = mesh_tree_ref_tree(ref);
	char name[16];

	snprintf(name, sizeof(name), "file%d", i);
	ck_assert_uint_eq(tree->count, 1);
	ck_assert_str_eq(tree->entries[0].name, name);
	ck_assert_uint_eq(tree->entries[0].size, (uint64_t)i);
	ck_assert_int_eq(tree->entries[0].id.id[31], i + 1);
}

START_TEST(same_id_gives_same_tree_without_reloading)
{
	mesh_treecache *cache;
	mesh_tree_ref *a, *b;
	uint64_t before;

	ck_assert_int_eq(mesh_treecache_new(&cache, odb, 16), 0);
	before = reads();
	ck_assert_int_eq(mesh_treecache_get(cache, &ids[3], &a), 0);
	ck_assert_uint_eq(reads(), before + 1);
	ck_assert_int_eq(mesh_treecache_get(cache, &ids[3], &b), 0);
	ck_assert_uint_eq(reads(), before + 1);
	ck_assert_ptr_eq(mesh_tree_ref_tree(a), mesh_tree_ref_tree(b));
	assert_is_tree(a, 3);
	mesh_treecache_release(cache, a);
	mesh_treecache_release(cache, b);

	/* Released, it stays cached. */
	ck_assert_int_eq(mesh_treecache_get(cache, &ids[3], &a), 0);
	ck_assert_uint_eq(reads(), before + 1);
	assert_is_tree(a, 3);
	mesh_treecache_release(cache, a);
	mesh_treecache_free(cache);
}
END_TEST

START_TEST(different_ids_give_their_own_trees)
{
	mesh_treecache *cache;
	mesh_tree_ref *refs[TREES];

	ck_assert_int_eq(mesh_treecache_new(&cache, odb, 16), 0);
	for (int i = 0; i < TREES; i++)
		ck_assert_int_eq(mesh_treecache_get(cache, &ids[i], &refs[i]), 0);
	for (int i = 0; i < TREES; i++)
		assert_is_tree(refs[i], i);
	for (int i = 0; i < TREES; i++)
		mesh_treecache_release(cache, refs[i]);
	mesh_treecache_free(cache);
}
END_TEST

START_TEST(missing_tree_is_enoent)
{
	mesh_treecache *cache;
	mesh_tree_ref *ref;
	mesh_oid bogus;

	memset(bogus.id, 0x77, sizeof(bogus.id));
	ck_assert_int_eq(mesh_treecache_new(&cache, odb, 4), 0);
	ck_assert_int_eq(mesh_treecache_get(cache, &bogus, &ref), MESH_EIO);
	mesh_treecache_free(cache);
}
END_TEST

START_TEST(size_is_bounded_least_recent_evicted)
{
	mesh_treecache *cache;
	mesh_tree_ref *ref;
	uint64_t before;

	ck_assert_int_eq(mesh_treecache_new(&cache, odb, 2), 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(mesh_treecache_get(cache, &ids[i], &ref), 0);
		mesh_treecache_release(cache, ref);
	}
	/* Holds 1 and 2: both found without a read; 0 was evicted. */
	before = reads();
	ck_assert_int_eq(mesh_treecache_get(cache, &ids[2], &ref), 0);
	mesh_treecache_release(cache, ref);
	ck_assert_int_eq(mesh_treecache_get(cache, &ids[1], &ref), 0);
	mesh_treecache_release(cache, ref);
	ck_assert_uint_eq(reads(), before);
	ck_assert_int_eq(mesh_treecache_get(cache, &ids[0], &ref), 0);
	ck_assert_uint_eq(reads(), before + 1);
	assert_is_tree(ref, 0);
	mesh_treecache_release(cache, ref);
	/* Using 1 made 2 the least recent: loading 0 evicted 2, kept 1. */
	ck_assert_int_eq(mesh_treecache_get(cache, &ids[1], &ref), 0);
	mesh_treecache_release(cache, ref);
	ck_assert_uint_eq(reads(), before + 1);
	ck_assert_int_eq(mesh_treecache_get(cache, &ids[2], &ref), 0);
	mesh_treecache_release(cache, ref);
	ck_assert_uint_eq(reads(), before + 2);
	mesh_treecache_free(cache);
}
END_TEST

START_TEST(evicted_trees_stay_valid_while_held)
{
	mesh_treecache *cache;
	mesh_tree_ref *held[TREES], *again;

	/* Room for one: every get evicts the tree before, still held. */
	ck_assert_int_eq(mesh_treecache_new(&cache, odb, 1), 0);
	for (int i = 0; i < TREES; i++)
		ck_assert_int_eq(mesh_treecache_get(cache, &ids[i], &held[i]), 0);
	for (int i = 0; i < TREES; i++)
		assert_is_tree(held[i], i);

	/* An evicted id loads afresh; the old reference is still good. */
	ck_assert_int_eq(mesh_treecache_get(cache, &ids[0], &again), 0);
	assert_is_tree(again, 0);
	assert_is_tree(held[0], 0);

	/* Release in an order unlike the order of eviction. */
	for (int i = TREES - 1; i >= 0; i -= 2)
		mesh_treecache_release(cache, held[i]);
	for (int i = 0; i < TREES; i += 2)
		assert_is_tree(held[i], i);
	for (int i = 0; i < TREES; i += 2)
		mesh_treecache_release(cache, held[i]);
	assert_is_tree(again, 0);
	mesh_treecache_release(cache, again);
	mesh_treecache_free(cache);
}
END_TEST

START_TEST(orphan_is_freed_on_its_last_release)
{
	mesh_treecache *cache;
	mesh_tree_ref *a, *b, *c;

	ck_assert_int_eq(mesh_treecache_new(&cache, odb, 2), 0);
	ck_assert_int_eq(mesh_treecache_get(cache, &ids[0], &a), 0);
	ck_assert_int_eq(mesh_treecache_get(cache, &ids[1], &b), 0);
	ck_assert_int_eq(mesh_treecache_get(cache, &ids[2], &c), 0);   /* evicts 0 */
	mesh_treecache_release(cache, b);
	mesh_treecache_release(cache, c);
	assert_is_tree(a, 0);
	mesh_treecache_release(cache, a);   /* the orphan goes now */
	mesh_treecache_release(cache, NULL);
	mesh_treecache_free(cache);
}
END_TEST

typedef struct worker {
	mesh_treecache *cache;
	int seed;
	int failures;
} worker;

static void *hammer(void *arg)
{
	worker *w = arg;
	mesh_tree_ref *held[4] = { 0 };
	unsigned x = (unsigned)w->seed * 2654435761u + 1;

	for (int n = 0; n < 2000; n++) {
		int slot = n % 4;
		int i;
		x = x * 1103515245u + 12345u;
		i = (int)((x >> 16) % TREES);
		if (held[slot])
			mesh_treecache_release(w->cache, held[slot]);
		held[slot] = NULL;
		if (mesh_treecache_get(w->cache, &ids[i], &held[slot]) < 0) {
			w->failures++;
			continue;
		}
		const mesh_tree *tree = mesh_tree_ref_tree(held[slot]);
		if (tree->count != 1 || tree->entries[0].size != (uint64_t)i)
			w->failures++;
	}
	for (int s = 0; s < 4; s++)
		mesh_treecache_release(w->cache, held[s]);
	return NULL;
}

START_TEST(concurrent_use_with_eviction)
{
	mesh_treecache *cache;
	pthread_t threads[4];
	worker workers[4];

	ck_assert_int_eq(mesh_treecache_new(&cache, odb, 3), 0);
	for (int t = 0; t < 4; t++) {
		workers[t] = (worker){ cache, t, 0 };
		ck_assert_int_eq(pthread_create(&threads[t], NULL, hammer, &workers[t]), 0);
	}
	for (int t = 0; t < 4; t++) {
		pthread_join(threads[t], NULL);
		ck_assert_int_eq(workers[t].failures, 0);
	}
	mesh_treecache_free(cache);
}
END_TEST

static Suite *treecache_suite(void)
{
	Suite *s = suite_create("treecache");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, same_id_gives_same_tree_without_reloading);
	tcase_add_test(tc, different_ids_give_their_own_trees);
	tcase_add_test(tc, missing_tree_is_enoent);
	tcase_add_test(tc, size_is_bounded_least_recent_evicted);
	tcase_add_test(tc, evicted_trees_stay_valid_while_held);
	tcase_add_test(tc, orphan_is_freed_on_its_last_release);
	tcase_add_test(tc, concurrent_use_with_eviction);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(treecache_suite());
}
