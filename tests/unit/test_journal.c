/* test_journal.c - an fsync's journal: base + writes read back as the
 * file the writes made, a commit takes that content, and a mount after
 * a crash folds what a journal left into chunks. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "error.h"
#include "file.h"
#include "journal.h"
#include "stage.h"
#include "store.h"
#include "view.h"

static char *tmp;
static mesh_store *store;
static mesh_view *view;         /* sales/main */
static mesh_caller caller;

#define BASE_SIZE (3u << 20)

static void setup(void)
{
	tmp = test_tmpdir_new();
	store = test_store_new(tmp, &caller, "sales");
	ck_assert_int_eq(mesh_view_open_branch(&view, store, "sales", "main"), 0);
}

static void teardown(void)
{
	mesh_view_free(view);
	mesh_store_close(store);
	test_tmpdir_remove(tmp);
}

typedef struct file_model {
	unsigned char *bytes;
	size_t size;
	mesh_oid base;
	uint64_t journal;
	uint32_t count;
	mesh_db_batch *batch;
} file_model;

static void model_new(file_model *m)
{
	m->size = BASE_SIZE;
	m->bytes = malloc(BASE_SIZE);
	ck_assert_ptr_nonnull(m->bytes);
	test_fill_random(m->bytes, m->size, 5);
	ck_assert_int_eq(mesh_file_write_buf(mesh_store_odb(store), NULL, m->bytes, m->size,
					     &m->base), 0);
	ck_assert_int_eq(mesh_journal_new_id(&m->journal), 0);
	ck_assert_int_eq(mesh_db_batch_new(&m->batch), 0);
	m->count = 0;
}

/* A write, in the model and as the journal's next record. */
static void model_write(file_model *m, size_t offset, size_t len, unsigned seed)
{
	unsigned char *data = malloc(len);

	ck_assert_ptr_nonnull(data);
	test_fill_random(data, len, seed);
	if (offset + len > m->size) {
		m->bytes = realloc(m->bytes, offset + len);
		ck_assert_ptr_nonnull(m->bytes);
		memset(m->bytes + m->size, 0, offset + len - m->size);
		m->size = offset + len;
	}
	memcpy(m->bytes + offset, data, len);
	mesh_journal_add(m->batch, m->journal, m->count++, offset, data, len);
	free(data);
}

static void model_flush(file_model *m)
{
	ck_assert_int_eq(mesh_db_batch_write(mesh_store_db(store), m->batch, true), 0);
	mesh_db_batch_free(m->batch);
	ck_assert_int_eq(mesh_db_batch_new(&m->batch), 0);
}

static void model_free(file_model *m)
{
	mesh_db_batch_free(m->batch);
	free(m->bytes);
}

/* The content of map id equals want: byte for byte, and the same map a
 * whole-file pass over want makes. */
static void assert_map_holds(const mesh_oid *id, const unsigned char *want, size_t size)
{
	mesh_file_map *map;
	unsigned char *got = malloc(size + 1);
	size_t n = 0;
	mesh_oid whole;

	ck_assert_ptr_nonnull(got);
	ck_assert_int_eq(mesh_file_map_load(mesh_store_odb(store), id, &map), 0);
	ck_assert_uint_eq(map->size, size);
	ck_assert_int_eq(mesh_file_read(mesh_store_odb(store), NULL, map, got, size + 1, 0, &n), 0);
	ck_assert_uint_eq(n, size);
	ck_assert_msg(memcmp(got, want, size) == 0, "the content differs from the writes' result");
	ck_assert_int_eq(mesh_file_write_buf(mesh_store_odb(store), NULL, want, size, &whole), 0);
	ck_assert_msg(mesh_oid_cmp(&whole, id) == 0,
		      "the map differs from a whole-file pass over the same bytes");
	mesh_file_map_free(map);
	free(got);
}

START_TEST(writes_over_the_base_read_back_as_the_file)
{
	file_model m;
	mesh_oid content;

	model_new(&m);
	model_write(&m, 0, 4096, 1);
	model_write(&m, 1000000, 100, 2);
	model_write(&m, 999990, 4096, 3);          /* over the one before */
	model_write(&m, BASE_SIZE - 10, 30000, 4); /* past the end */
	model_write(&m, BASE_SIZE + 200000, 8, 5); /* a hole before it */
	model_flush(&m);
	ck_assert_int_eq(mesh_journal_content(store, &m.base, m.size, m.journal, m.count,
					      &content), 0);
	assert_map_holds(&content, m.bytes, m.size);
	model_free(&m);
}
END_TEST

START_TEST(only_the_counted_writes_apply)
{
	file_model m;
	unsigned char *at_two;
	size_t size_at_two;
	mesh_oid content;

	model_new(&m);
	model_write(&m, 50000, 5000, 1);
	model_write(&m, 2000000, 5000, 2);
	at_two = malloc(m.size);
	memcpy(at_two, m.bytes, m.size);
	size_at_two = m.size;
	model_write(&m, 60000, 5000, 3);    /* a later fsync's, not counted */
	model_flush(&m);
	ck_assert_int_eq(mesh_journal_content(store, &m.base, size_at_two, m.journal, 2,
					      &content), 0);
	assert_map_holds(&content, at_two, size_at_two);
	free(at_two);
	model_free(&m);
}
END_TEST

START_TEST(a_shorter_size_cuts_the_base)
{
	file_model m;
	mesh_oid content;

	model_new(&m);
	model_write(&m, 100, 100, 1);
	model_flush(&m);
	/* Truncated to 1 MiB after the write, then fsync'd: the size says so. */
	ck_assert_int_eq(mesh_journal_content(store, &m.base, 1u << 20, m.journal, m.count,
					      &content), 0);
	assert_map_holds(&content, m.bytes, 1u << 20);
	model_free(&m);
}
END_TEST

START_TEST(a_missing_write_is_eio_naming_the_journal)
{
	file_model m;
	mesh_oid content;

	model_new(&m);
	model_write(&m, 100, 100, 1);
	model_flush(&m);
	ck_assert_int_eq(mesh_journal_content(store, &m.base, m.size, m.journal, 2, &content),
			 MESH_EIO);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "journal"));
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "missing"));
	model_free(&m);
}
END_TEST

/* The staged entry an fsync leaves, as the mount writes it. */
static void stage_journaled(file_model *m)
{
	mesh_journal_note(m->batch, m->journal, "sales", "main");
	ck_assert_int_eq(mesh_view_stage_journaled(view, m->batch, &caller, "db.bin", 0644,
						   m->size, 1000, &m->base, m->journal,
						   m->count), 0);
	mesh_db_batch_free(m->batch);
	ck_assert_int_eq(mesh_db_batch_new(&m->batch), 0);
}

static void assert_branch_file(mesh_view *v, const char *path, const unsigned char *want,
			       size_t size)
{
	mesh_view_entry entry;
	mesh_file_map *map;
	unsigned char *got = malloc(size + 1);
	size_t n = 0;

	ck_assert_int_eq(mesh_view_lookup(v, path, &entry), 0);
	ck_assert_uint_eq(entry.size, size);
	ck_assert_int_eq(mesh_view_file_map(v, &entry, &map), 0);
	ck_assert_int_eq(mesh_file_read(mesh_store_odb(store), NULL, map, got, size + 1, 0, &n), 0);
	ck_assert_uint_eq(n, size);
	ck_assert_msg(memcmp(got, want, size) == 0, "%s does not hold the fsync'd writes", path);
	mesh_file_map_free(map);
	free(got);
}

START_TEST(a_commit_takes_the_journaled_state)
{
	file_model m;
	mesh_view *commit_view;
	mesh_oid head;

	model_new(&m);
	model_write(&m, 123456, 7000, 1);
	stage_journaled(&m);
	assert_branch_file(view, "db.bin", m.bytes, m.size);
	head = test_commit(view, &caller);
	ck_assert_int_eq(mesh_view_open_commit(&commit_view, store, "sales", &head), 0);
	assert_branch_file(commit_view, "db.bin", m.bytes, m.size);
	mesh_view_free(commit_view);
	model_free(&m);
}
END_TEST

START_TEST(a_journal_the_base_equals_is_still_a_change)
{
	file_model m;
	mesh_oid id;
	size_t changes;

	model_new(&m);
	test_stage_file(store, view, &caller, "db.bin", m.bytes, m.size);
	test_commit(view, &caller);
	/* The base is the committed map itself, the writes are the change. */
	model_write(&m, 10, 10, 1);
	stage_journaled(&m);
	ck_assert_int_eq(mesh_view_commit(view, &caller, "the write", NULL, 0, &id, &changes), 0);
	ck_assert_uint_eq(changes, 1);
	model_free(&m);
}
END_TEST

START_TEST(recovery_folds_the_journal_and_drops_it)
{
	file_model m;
	mesh_stage_entry entry;
	size_t recovered = 0;
	mesh_oid content;

	model_new(&m);
	model_write(&m, 77777, 4096, 1);
	model_write(&m, 2500000, 4096, 2);
	stage_journaled(&m);
	ck_assert_int_eq(mesh_journal_recover(store, &recovered), 0);
	ck_assert_uint_eq(recovered, 1);
	ck_assert_int_eq(mesh_stage_get(mesh_store_db(store), "sales", "main", "db.bin", &entry), 0);
	ck_assert_uint_eq(entry.journal_id, 0);
	ck_assert_uint_eq(entry.size, m.size);
	assert_map_holds(&entry.id, m.bytes, m.size);
	/* Its writes are gone: the journal cannot be read any more. */
	ck_assert_int_eq(mesh_journal_content(store, &m.base, m.size, m.journal, 1, &content),
			 MESH_EIO);
	ck_assert_int_eq(mesh_journal_recover(store, &recovered), 0);
	ck_assert_uint_eq(recovered, 0);
	model_free(&m);
}
END_TEST

START_TEST(recovery_drops_a_journal_nothing_names)
{
	file_model m;
	size_t recovered = 1;
	mesh_oid content;

	model_new(&m);
	model_write(&m, 0, 10, 1);
	mesh_journal_note(m.batch, m.journal, "sales", "main");
	model_flush(&m);
	ck_assert_int_eq(mesh_journal_recover(store, &recovered), 0);
	ck_assert_uint_eq(recovered, 0);
	ck_assert_int_eq(mesh_journal_content(store, &m.base, m.size, m.journal, 1, &content),
			 MESH_EIO);
	model_free(&m);
}
END_TEST

static Suite *journal_suite(void)
{
	Suite *s = suite_create("journal");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, writes_over_the_base_read_back_as_the_file);
	tcase_add_test(tc, only_the_counted_writes_apply);
	tcase_add_test(tc, a_shorter_size_cuts_the_base);
	tcase_add_test(tc, a_missing_write_is_eio_naming_the_journal);
	tcase_add_test(tc, a_commit_takes_the_journaled_state);
	tcase_add_test(tc, a_journal_the_base_equals_is_still_a_change);
	tcase_add_test(tc, recovery_folds_the_journal_and_drops_it);
	tcase_add_test(tc, recovery_drops_a_journal_nothing_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(journal_suite());
}
