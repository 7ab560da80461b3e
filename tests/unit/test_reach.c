/* test_reach.c - the reachability walk: what it sees, what it reports as
 * damage, and the commit index it uses for extra roots. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "branch.h"
#include "domain.h"
#include "error.h"
#include "file.h"
#include "history.h"
#include "reach.h"
#include "store.h"
#include "view.h"

static char *tmp;
static mesh_store *store;
static mesh_caller caller;
/* sales/main: root <- c1 (big.bin: two loose chunks) <- c2 (+ d/small.csv) */
static mesh_oid root, c1, c2, big_map, small_map;
static unsigned char big[300 << 10];

static void setup(void)
{
	mesh_view *view;

	tmp = test_tmpdir_new();
	store = test_store_new(tmp, &caller, "sales");
	ck_assert_int_eq(mesh_history_branch_head(store, "sales", "main", &root), 0);
	ck_assert_int_eq(mesh_view_open_branch(&view, store, "sales", "main"), 0);
	test_fill_random(big, sizeof(big), 7);
	big_map = test_stage_file(store, view, &caller, "big.bin", big, sizeof(big));
	c1 = test_commit(view, &caller);
	ck_assert_int_eq(mesh_view_mkdir(view, &caller, "d", 0755), 0);
	small_map = test_stage_file(store, view, &caller, "d/small.csv", "a,b\n1,2\n", 8);
	c2 = test_commit(view, &caller);
	mesh_view_free(view);
}

static void teardown(void)
{
	mesh_store_close(store);
	test_tmpdir_remove(tmp);
}

/* ---- what a walk saw ------------------------------------------------------ */

#define SEEN_MAX 256
typedef struct record {
	mesh_oid ids[SEEN_MAX];
	mesh_otype types[SEEN_MAX];
	char paths[SEEN_MAX][64];
	char refs[SEEN_MAX][32];
	bool staged[SEEN_MAX];
	size_t count;
	/* damage */
	mesh_oid bad[SEEN_MAX];
	bool bad_has_id[SEEN_MAX];
	mesh_otype bad_types[SEEN_MAX];
	int bad_errors[SEEN_MAX];
	char bad_paths[SEEN_MAX][64];
	char bad_refs[SEEN_MAX][32];
	char bad_messages[SEEN_MAX][256];
	mesh_oid bad_commits[SEEN_MAX];
	bool bad_head[SEEN_MAX];
	size_t bad_count;
	size_t stop_at;    /* object callback returns 7 at this count (0: never) */
} record;

static int on_object(void *arg, const mesh_reach_where *where, mesh_otype type,
		     const mesh_oid *id)
{
	record *rec = arg;
	size_t i = rec->count;

	ck_assert_uint_lt(i, SEEN_MAX);
	ck_assert_str_eq(where->domain, "sales");
	rec->ids[i] = *id;
	rec->types[i] = type;
	snprintf(rec->paths[i], sizeof(rec->paths[i]), "%s", where->path ? where->path : "-");
	snprintf(rec->refs[i], sizeof(rec->refs[i]), "%s", where->ref ? where->ref : "-");
	rec->staged[i] = where->staged;
	rec->count++;
	return rec->stop_at && rec->count == rec->stop_at ? 7 : 0;
}

static int on_damage(void *arg, const mesh_reach_where *where, mesh_otype type,
		     const mesh_oid *id, int error, const char *message)
{
	record *rec = arg;
	size_t i = rec->bad_count;

	ck_assert_uint_lt(i, SEEN_MAX);
	rec->bad_has_id[i] = id != NULL;
	if (id)
		rec->bad[i] = *id;
	rec->bad_types[i] = type;
	rec->bad_errors[i] = error;
	snprintf(rec->bad_paths[i], sizeof(rec->bad_paths[i]), "%s", where->path ? where->path : "-");
	snprintf(rec->bad_refs[i], sizeof(rec->bad_refs[i]), "%s", where->ref ? where->ref : "-");
	snprintf(rec->bad_messages[i], sizeof(rec->bad_messages[i]), "%s", message);
	if (where->commit)
		rec->bad_commits[i] = *where->commit;
	else
		memset(&rec->bad_commits[i], 0, sizeof(mesh_oid));
	rec->bad_head[i] = where->head;
	rec->bad_count++;
	return 0;
}

static record *rec_new(void)
{
	record *rec = calloc(1, sizeof(*rec));

	ck_assert_ptr_nonnull(rec);
	return rec;
}

static int walk(unsigned flags, const char *domain, record *rec, mesh_reach **keep)
{
	mesh_reach_cbs cbs = { on_object, on_damage, rec };
	mesh_reach *r;
	int error;

	ck_assert_int_eq(mesh_reach_new(&r, store, flags), 0);
	error = mesh_reach_run(r, domain, &cbs);
	if (keep)
		*keep = r;
	else
		mesh_reach_free(r);
	return error;
}

/* Index of id in what was seen, or -1. */
static int seen_at(const record *rec, const mesh_oid *id)
{
	for (size_t i = 0; i < rec->count; i++)
		if (mesh_oid_cmp(&rec->ids[i], id) == 0)
			return (int)i;
	return -1;
}

static size_t count_type(const record *rec, mesh_otype type)
{
	size_t n = 0;

	for (size_t i = 0; i < rec->count; i++)
		n += rec->types[i] == type;
	return n;
}

static void assert_each_once(const record *rec)
{
	for (size_t i = 0; i < rec->count; i++)
		for (size_t k = i + 1; k < rec->count; k++)
			ck_assert_msg(mesh_oid_cmp(&rec->ids[i], &rec->ids[k]) != 0,
				      "object %zu reported twice", i);
}

static mesh_file_map *load_map(const mesh_oid *id)
{
	mesh_file_map *map;

	ck_assert_int_eq(mesh_file_map_load(mesh_store_odb(store), id, &map), 0);
	return map;
}

/* ---- tests ---------------------------------------------------------------- */

START_TEST(sees_every_object_once_with_its_place)
{
	record *rec = rec_new();
	mesh_file_map *map = load_map(&big_map);
	mesh_reach *r;
	mesh_reach_stats st;
	int at;

	ck_assert_int_ge(map->count, 2);
	ck_assert_int_eq(walk(MESH_REACH_CHUNKS_READ, NULL, rec, &r), 0);
	ck_assert_uint_eq(rec->bad_count, 0);
	assert_each_once(rec);
	ck_assert_uint_eq(count_type(rec, MESH_OBJ_COMMIT), 3);
	/* empty root tree; c1's root; c2's root and d */
	ck_assert_uint_eq(count_type(rec, MESH_OBJ_TREE), 4);
	ck_assert_uint_eq(count_type(rec, MESH_OBJ_FILE), 2);
	ck_assert_uint_eq(count_type(rec, MESH_OBJ_CHUNK), map->count + 1);
	for (size_t i = 0; i < map->count; i++) {
		ck_assert(mesh_reach_seen(r, &map->chunks[i].id));
		at = seen_at(rec, &map->chunks[i].id);
		ck_assert_int_ge(at, 0);
		ck_assert_str_eq(rec->paths[at], "big.bin");
	}
	ck_assert(mesh_reach_seen(r, &c1) && mesh_reach_seen(r, &root));
	at = seen_at(rec, &small_map);
	ck_assert_int_ge(at, 0);
	ck_assert_str_eq(rec->paths[at], "d/small.csv");
	ck_assert_str_eq(rec->refs[at], "heads/main");
	ck_assert(!rec->staged[at]);
	at = seen_at(rec, &c2);
	ck_assert_str_eq(rec->paths[at], "-");
	mesh_reach_stats_get(r, &st);
	ck_assert_uint_eq(st.objects[MESH_OBJ_CHUNK], map->count + 1);
	ck_assert_uint_eq(st.chunk_bytes, sizeof(big) + 8);
	ck_assert_uint_eq(st.refs, 1);
	ck_assert_uint_eq(st.damaged, 0);
	mesh_reach_free(r);
	mesh_file_map_free(map);
	free(rec);
}
END_TEST

START_TEST(shared_history_is_walked_once)
{
	record *one = rec_new(), *two = rec_new();
	mesh_oid head;

	ck_assert_int_eq(walk(MESH_REACH_CHUNKS_LIST, "sales", one, NULL), 0);
	ck_assert_int_eq(mesh_branch_create(store, &caller, "sales", "dev", "main", &head), 0);
	ck_assert_int_eq(mesh_tag_create(store, &caller, "sales", "v1", "main~1", &head), 0);
	ck_assert_int_eq(walk(MESH_REACH_CHUNKS_LIST, "sales", two, NULL), 0);
	ck_assert_uint_eq(two->count, one->count);
	assert_each_once(two);
	/* Branches walk first, in name order: dev reached everything. */
	ck_assert_str_eq(two->refs[0], "heads/dev");
	ck_assert_str_eq(two->refs[two->count - 1], "heads/dev");
	free(one);
	free(two);
}
END_TEST

START_TEST(staged_entries_are_reached)
{
	record *rec = rec_new();
	mesh_view *view;
	mesh_oid staged_map;
	mesh_reach *r;
	int at;

	ck_assert_int_eq(mesh_view_open_branch(&view, store, "sales", "main"), 0);
	staged_map = test_stage_file(store, view, &caller, "d/new.csv", "staged only\n", 12);
	/* A renamed committed directory is staged with its old tree as lower. */
	ck_assert_int_eq(mesh_view_rename(view, &caller, "d", "e", false), 0);
	mesh_view_free(view);
	ck_assert_int_eq(walk(MESH_REACH_CHUNKS_EXIST, "sales", rec, &r), 0);
	ck_assert_uint_eq(rec->bad_count, 0);
	ck_assert(mesh_reach_seen(r, &staged_map));
	at = seen_at(rec, &staged_map);
	ck_assert(rec->staged[at]);
	ck_assert_str_eq(rec->refs[at], "heads/main");
	ck_assert_str_eq(rec->paths[at], "e/new.csv");
	mesh_reach_free(r);
	free(rec);
}
END_TEST

START_TEST(missing_chunk_is_damage_and_the_walk_goes_on)
{
	record *rec = rec_new(), *listed = rec_new();
	mesh_file_map *map = load_map(&big_map);
	char path[800], hex[MESH_OID_HEXSZ + 1];
	mesh_reach *r;

	test_loose_path(tmp, &map->chunks[0].id, path, sizeof(path));
	ck_assert_int_eq(unlink(path), 0);
	/* Listing only: nothing is read, nothing reported. */
	ck_assert_int_eq(walk(MESH_REACH_CHUNKS_LIST, NULL, listed, NULL), 0);
	ck_assert_uint_eq(listed->bad_count, 0);
	ck_assert_int_eq(walk(MESH_REACH_CHUNKS_EXIST, NULL, rec, &r), 0);
	ck_assert_uint_eq(rec->bad_count, 1);
	ck_assert_int_eq(rec->bad_errors[0], MESH_ENOENT);
	ck_assert_int_eq(rec->bad_types[0], MESH_OBJ_CHUNK);
	ck_assert(mesh_oid_cmp(&rec->bad[0], &map->chunks[0].id) == 0);
	ck_assert_str_eq(rec->bad_paths[0], "big.bin");
	ck_assert_str_eq(rec->bad_refs[0], "heads/main");
	/* Reached first from the head, which still has big.bin. */
	ck_assert(mesh_oid_cmp(&rec->bad_commits[0], &c2) == 0);
	mesh_oid_fmt(hex, &map->chunks[0].id);
	ck_assert_ptr_nonnull(strstr(rec->bad_messages[0], hex));
	/* Everything else was still walked. */
	ck_assert_uint_eq(rec->count, listed->count);
	ck_assert(mesh_reach_seen(r, &map->chunks[1].id));
	mesh_reach_free(r);
	free(rec);
	free(listed);
	/* Read mode says the same of a missing chunk. */
	rec = rec_new();
	ck_assert_int_eq(walk(MESH_REACH_CHUNKS_READ, NULL, rec, NULL), 0);
	ck_assert_uint_eq(rec->bad_count, 1);
	ck_assert_int_eq(rec->bad_errors[0], MESH_ENOENT);
	free(rec);
	mesh_file_map_free(map);
}
END_TEST

START_TEST(flipped_chunk_byte_needs_a_reading_walk)
{
	record *quick = rec_new(), *full = rec_new();
	mesh_file_map *map = load_map(&big_map);

	test_flip_loose(tmp, &map->chunks[1].id, 100);
	ck_assert_int_eq(walk(MESH_REACH_CHUNKS_EXIST, NULL, quick, NULL), 0);
	ck_assert_uint_eq(quick->bad_count, 0);
	ck_assert_int_eq(walk(MESH_REACH_CHUNKS_READ, NULL, full, NULL), 0);
	ck_assert_uint_eq(full->bad_count, 1);
	ck_assert_int_eq(full->bad_errors[0], MESH_EIO);
	ck_assert(mesh_oid_cmp(&full->bad[0], &map->chunks[1].id) == 0);
	ck_assert_ptr_nonnull(strstr(full->bad_messages[0], "corrupt"));
	free(quick);
	free(full);
	mesh_file_map_free(map);
}
END_TEST

START_TEST(corrupt_object_in_the_database_is_damage)
{
	record *rec = rec_new();
	mesh_reach *r;

	/* The small file map lives in RocksDB; flipping it hides its chunk. */
	test_flip_db(store, &small_map);
	ck_assert_int_eq(walk(MESH_REACH_CHUNKS_READ, "sales", rec, &r), 0);
	ck_assert_uint_eq(rec->bad_count, 1);
	ck_assert_int_eq(rec->bad_errors[0], MESH_EIO);
	ck_assert_int_eq(rec->bad_types[0], MESH_OBJ_FILE);
	ck_assert_str_eq(rec->bad_paths[0], "d/small.csv");
	ck_assert(mesh_reach_seen(r, &small_map));
	mesh_reach_free(r);
	free(rec);
}
END_TEST

START_TEST(unreadable_head_is_reported_as_the_head)
{
	record *rec = rec_new();

	test_remove_db(store, &c2);
	ck_assert_int_eq(walk(MESH_REACH_CHUNKS_READ, "sales", rec, NULL), 0);
	ck_assert_uint_eq(rec->bad_count, 1);
	ck_assert_int_eq(rec->bad_errors[0], MESH_ENOENT);
	ck_assert_int_eq(rec->bad_types[0], MESH_OBJ_COMMIT);
	ck_assert(rec->bad_head[0]);
	ck_assert(mesh_oid_cmp(&rec->bad_commits[0], &c2) == 0);
	/* Its parents are unknown: nothing below it is walked. */
	ck_assert_int_eq(seen_at(rec, &c1), -1);
	free(rec);
}
END_TEST

START_TEST(damage_is_reported_for_each_ref_reaching_it)
{
	record *rec = rec_new();
	mesh_oid head;
	mesh_view *view;

	ck_assert_int_eq(mesh_branch_create(store, &caller, "sales", "dev", "main", &head), 0);
	/* The staged copy of a file shares its map with the head. */
	ck_assert_int_eq(mesh_view_open_branch(&view, store, "sales", "dev"), 0);
	ck_assert_int_eq(mesh_view_rename(view, &caller, "d", "e", false), 0);
	mesh_view_free(view);
	test_flip_db(store, &small_map);
	ck_assert_int_eq(walk(MESH_REACH_CHUNKS_READ, "sales", rec, NULL), 0);
	/* dev's history, dev's staging (as e/small.csv), main's history. */
	ck_assert_uint_eq(rec->bad_count, 3);
	ck_assert_str_eq(rec->bad_refs[0], "heads/dev");
	ck_assert_str_eq(rec->bad_paths[0], "d/small.csv");
	ck_assert_str_eq(rec->bad_refs[1], "heads/dev");
	ck_assert_str_eq(rec->bad_paths[1], "e/small.csv");
	ck_assert_str_eq(rec->bad_refs[2], "heads/main");
	for (size_t i = 0; i < 3; i++)
		ck_assert(mesh_oid_cmp(&rec->bad[i], &small_map) == 0);
	free(rec);
}
END_TEST

/* A read keeps the file's atime in staging: the staged entry repeats the
 * head's, and its damage is reported once, under the head. */
START_TEST(staged_atime_adds_no_damage_report)
{
	record *rec = rec_new();
	mesh_view *view;
	bool changed;

	ck_assert_int_eq(mesh_view_open_branch(&view, store, "sales", "main"), 0);
	ck_assert_int_eq(mesh_view_access(view, &caller, "d/small.csv", INT64_MAX / 2, &changed), 0);
	ck_assert(changed);
	mesh_view_free(view);
	test_flip_db(store, &small_map);
	ck_assert_int_eq(walk(MESH_REACH_CHUNKS_READ, "sales", rec, NULL), 0);
	ck_assert_uint_eq(rec->bad_count, 1);
	ck_assert_str_eq(rec->bad_refs[0], "heads/main");
	ck_assert(!rec->staged[seen_at(rec, &small_map)]);
	free(rec);
}
END_TEST

START_TEST(corrupt_staged_record_is_damage)
{
	record *rec = rec_new();
	char key[] = "s/sales\0main\0\0junk";

	ck_assert_int_eq(mesh_db_put(mesh_store_db(store), key, sizeof(key) - 1, "x", 1, true), 0);
	ck_assert_int_eq(walk(MESH_REACH_CHUNKS_LIST, "sales", rec, NULL), 0);
	ck_assert_uint_eq(rec->bad_count, 1);
	ck_assert(!rec->bad_has_id[0]);
	ck_assert_int_eq(rec->bad_errors[0], MESH_EIO);
	ck_assert_ptr_nonnull(strstr(rec->bad_messages[0], "staged entry"));
	ck_assert_str_eq(rec->bad_refs[0], "heads/main");
	free(rec);
}
END_TEST

START_TEST(callback_stops_the_walk)
{
	record *rec = rec_new();

	rec->stop_at = 3;
	ck_assert_int_eq(walk(MESH_REACH_CHUNKS_LIST, NULL, rec, NULL), 7);
	ck_assert_uint_eq(rec->count, 3);
	free(rec);
}
END_TEST

START_TEST(unknown_domain_and_bad_flags)
{
	record *rec = rec_new();
	mesh_reach *r;

	ck_assert_int_eq(walk(MESH_REACH_CHUNKS_LIST, "nosuch", rec, NULL), MESH_ENOENT);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "nosuch"));
	ck_assert_int_eq(mesh_reach_new(&r, store, 3), MESH_EINVAL);
	ck_assert_int_eq(mesh_reach_new(&r, store, 64), MESH_EINVAL);
	free(rec);
}
END_TEST

/* A commit no ref reaches any more: walked as a recent root or not. */
START_TEST(recent_commits_are_extra_roots)
{
	mesh_reach_cbs cbs;
	record *rec = rec_new();
	mesh_oid head, lost;
	mesh_view *view;
	mesh_reach *r;

	ck_assert_int_eq(mesh_branch_create(store, &caller, "sales", "tmp", "main", &head), 0);
	ck_assert_int_eq(mesh_view_open_branch(&view, store, "sales", "tmp"), 0);
	test_stage_file(store, view, &caller, "lost.csv", "lost\n", 5);
	lost = test_commit(view, &caller);
	mesh_view_free(view);
	ck_assert_int_eq(mesh_branch_delete(store, &caller, "sales", "tmp"), 0);

	ck_assert_int_eq(walk(MESH_REACH_CHUNKS_LIST, NULL, rec, &r), 0);
	ck_assert(!mesh_reach_seen(r, &lost));
	cbs = (mesh_reach_cbs){ on_object, on_damage, rec };
	/* Too old for a window starting in an hour. */
	ck_assert_int_eq(mesh_reach_recent(r, "sales", (int64_t)time(NULL) + 3600, &cbs), 0);
	ck_assert(!mesh_reach_seen(r, &lost));
	ck_assert_int_eq(mesh_reach_recent(r, "sales", (int64_t)time(NULL) - 3600, &cbs), 0);
	ck_assert(mesh_reach_seen(r, &lost));
	ck_assert_str_eq(rec->refs[seen_at(rec, &lost)], "-");
	ck_assert_uint_eq(rec->bad_count, 0);
	mesh_reach_free(r);
	free(rec);
}
END_TEST

START_TEST(no_history_walks_the_named_commit_only)
{
	mesh_reach_cbs cbs;
	record *rec = rec_new();
	mesh_reach *r;

	cbs = (mesh_reach_cbs){ on_object, on_damage, rec };
	ck_assert_int_eq(mesh_reach_new(&r, store, MESH_REACH_NO_HISTORY), 0);
	ck_assert_int_eq(mesh_reach_commit(r, "sales", &c1, &cbs), 0);
	ck_assert(mesh_reach_seen(r, &c1) && mesh_reach_seen(r, &big_map));
	ck_assert(!mesh_reach_seen(r, &root) && !mesh_reach_seen(r, &c2));
	mesh_reach_free(r);
	free(rec);
}
END_TEST

/* ---- the commit index ------------------------------------------------------- */

typedef struct index_log {
	mesh_history_indexed items[16];
	size_t count;
} index_log;

static int on_indexed(void *ctx, const mesh_history_indexed *c)
{
	index_log *log = ctx;

	ck_assert_uint_lt(log->count, 16);
	log->items[log->count++] = *c;
	return 0;
}

START_TEST(index_keeps_time_and_parents)
{
	mesh_history_indexed e;
	mesh_commit *commit;
	index_log log = { .count = 0 };

	ck_assert_int_eq(mesh_history_index_get(store, "sales", &c2, &e), 0);
	ck_assert(e.known);
	ck_assert_uint_eq(e.parent_count, 1);
	ck_assert(mesh_oid_cmp(&e.parents[0], &c1) == 0);
	ck_assert_int_eq(mesh_commit_load(mesh_store_odb(store), &c2, &commit), 0);
	ck_assert_int_eq(e.time, commit->time);
	mesh_commit_free(commit);
	ck_assert_int_eq(mesh_history_index_get(store, "sales", &root, &e), 0);
	ck_assert(e.known);
	ck_assert_uint_eq(e.parent_count, 0);
	/* The index still knows a commit whose object is gone. */
	test_remove_db(store, &c2);
	ck_assert_int_eq(mesh_history_index_get(store, "sales", &c2, &e), 0);
	ck_assert(e.known);
	ck_assert(mesh_oid_cmp(&e.parents[0], &c1) == 0);
	ck_assert_int_eq(mesh_history_index_get(store, "marketing", &c2, &e), MESH_ENOENT);
	ck_assert_int_eq(mesh_history_index_list(store, "sales", on_indexed, &log), 0);
	ck_assert_uint_eq(log.count, 3);
}
END_TEST

START_TEST(old_index_entries_are_completed_from_the_commit)
{
	mesh_history_indexed e;
	mesh_db_batch *batch;

	/* Entries written before the index kept time and parents. */
	ck_assert_int_eq(mesh_db_batch_new(&batch), 0);
	mesh_history_index_put(batch, "sales", &c2);
	mesh_history_index_put(batch, "sales", &c1);
	ck_assert_int_eq(mesh_db_batch_write(mesh_store_db(store), batch, true), 0);
	mesh_db_batch_free(batch);
	ck_assert_int_eq(mesh_history_index_get(store, "sales", &c1, &e), 0);
	ck_assert(e.known);
	ck_assert(mesh_oid_cmp(&e.parents[0], &root) == 0);
	test_remove_db(store, &c2);
	ck_assert_int_eq(mesh_history_index_get(store, "sales", &c2, &e), 0);
	ck_assert(!e.known);
}
END_TEST

static Suite *reach_suite(void)
{
	Suite *s = suite_create("reach");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, sees_every_object_once_with_its_place);
	tcase_add_test(tc, shared_history_is_walked_once);
	tcase_add_test(tc, staged_entries_are_reached);
	tcase_add_test(tc, missing_chunk_is_damage_and_the_walk_goes_on);
	tcase_add_test(tc, flipped_chunk_byte_needs_a_reading_walk);
	tcase_add_test(tc, corrupt_object_in_the_database_is_damage);
	tcase_add_test(tc, unreadable_head_is_reported_as_the_head);
	tcase_add_test(tc, damage_is_reported_for_each_ref_reaching_it);
	tcase_add_test(tc, staged_atime_adds_no_damage_report);
	tcase_add_test(tc, corrupt_staged_record_is_damage);
	tcase_add_test(tc, callback_stops_the_walk);
	tcase_add_test(tc, unknown_domain_and_bad_flags);
	tcase_add_test(tc, recent_commits_are_extra_roots);
	tcase_add_test(tc, no_history_walks_the_named_commit_only);
	tcase_add_test(tc, index_keeps_time_and_parents);
	tcase_add_test(tc, old_index_entries_are_completed_from_the_commit);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(reach_suite());
}
