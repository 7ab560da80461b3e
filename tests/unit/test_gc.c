/* test_gc.c - garbage collection: what it keeps (refs, staging, retention,
 * pins, objects touched while it runs), what it removes (files and
 * database values, index entries, tmp/ leftovers), dry runs and resuming. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "branch.h"
#include "domain.h"
#include "error.h"
#include "file.h"
#include "gc.h"
#include "history.h"
#include "reach.h"
#include "store.h"
#include "view.h"

static char *tmp;
static mesh_store *store;
static mesh_caller caller;
static unsigned char big[600 << 10];

static mesh_oid stage_file(mesh_view *view, const char *path, const void *data, size_t len)
{
	mesh_oid map;

	ck_assert_int_eq(mesh_file_write_buf(mesh_store_odb(store), NULL, data, len, &map), 0);
	ck_assert_int_eq(mesh_view_stage_content(view, &caller, path, MESH_KIND_FILE, 0644,
						 len, 0, &map, false), 0);
	return map;
}

static mesh_oid commit_view(mesh_view *view)
{
	mesh_oid id;
	size_t changes;

	ck_assert_int_eq(mesh_view_commit(view, &caller, "m", NULL, 0, &id, &changes), 0);
	return id;
}

static void setup(void)
{
	tmp = test_tmpdir_new();
	store = test_store_new(tmp, &caller, "sales");
	test_fill_random(big, sizeof(big), 11);
}

static void teardown(void)
{
	if (store)
		mesh_store_close(store);
	test_tmpdir_remove(tmp);
}

static mesh_gc_result gc(bool dry_run)
{
	mesh_gc_options o = { .dry_run = dry_run };
	mesh_gc_result r;

	ck_assert_msg(mesh_gc_run(store, &o, &r) == 0, "gc: %s", mesh_error_message());
	return r;
}

static bool stored(const mesh_oid *id)
{
	return mesh_odb_exists(mesh_store_odb(store), id) == 1;
}

/* Nothing a ref or staging reaches is damaged or missing. */
static void assert_intact(void)
{
	mesh_reach *r;
	mesh_reach_stats st;

	ck_assert_int_eq(mesh_reach_new(&r, store, MESH_REACH_CHUNKS_READ), 0);
	ck_assert_int_eq(mesh_reach_run(r, NULL, &(mesh_reach_cbs){ 0 }), 0);
	mesh_reach_stats_get(r, &st);
	ck_assert_uint_eq(st.damaged, 0);
	mesh_reach_free(r);
}

/* A branch "feat" with big.bin committed, then deleted: returns the
 * commit and the file map. */
static void deleted_branch(mesh_oid *commit, mesh_oid *map)
{
	mesh_view *view;

	mesh_oid head;

	ck_assert_int_eq(mesh_branch_create(store, &caller, "sales", "feat", "main", &head), 0);
	ck_assert_int_eq(mesh_view_open_branch(&view, store, "sales", "feat"), 0);
	*map = stage_file(view, "big.bin", big, sizeof(big));
	*commit = commit_view(view);
	mesh_view_free(view);
	ck_assert_int_eq(mesh_branch_delete(store, &caller, "sales", "feat"), 0);
}

START_TEST(nothing_to_collect_keeps_everything)
{
	mesh_view *view;
	mesh_oid map;
	mesh_gc_result r;

	ck_assert_int_eq(mesh_view_open_branch(&view, store, "sales", "main"), 0);
	map = stage_file(view, "big.bin", big, sizeof(big));
	commit_view(view);
	stage_file(view, "staged.csv", "a,b\n", 4);
	mesh_view_free(view);
	r = gc(false);
	ck_assert_uint_eq(r.removed_objects, 0);
	ck_assert_uint_gt(r.live_objects, 4);
	ck_assert(stored(&map));
	assert_intact();
}
END_TEST

START_TEST(deleted_branch_goes_after_its_retention)
{
	mesh_oid commit, map;
	mesh_gc_result r;
	mesh_domain *d;
	mesh_rev rev;
	char hex[MESH_OID_HEXSZ + 1];

	deleted_branch(&commit, &map);
	ck_assert_int_eq(mesh_domain_get(store, "sales", &d), 0);
	ck_assert_uint_eq(d->retention_days, MESH_DOMAIN_RETENTION_DEFAULT);
	mesh_domain_free(d);
	/* Within the default 7 days: kept, and its commit still resolves. */
	r = gc(false);
	ck_assert_uint_eq(r.removed_objects, 0);
	ck_assert_uint_ge(r.retained_commits, 1);
	ck_assert(stored(&commit) && stored(&map));

	ck_assert_int_eq(mesh_domain_set_retention(store, "sales", 0), 0);
	r = gc(false);
	/* The commit, its tree, the map and two chunks (600 KiB: >= 2). */
	ck_assert_uint_ge(r.removed_objects, 5);
	ck_assert_uint_ge(r.removed_bytes, sizeof(big) / 2);
	ck_assert_uint_ge(r.removed_db_objects, 3);
	ck_assert_uint_eq(r.index_entries_removed, 1);
	ck_assert_uint_eq(r.retained_commits, 0);
	ck_assert(!stored(&commit) && !stored(&map));
	mesh_oid_fmt(hex, &commit);
	ck_assert_int_eq(mesh_revparse(store, "sales", hex, &rev), MESH_ENOENT);
	assert_intact();
	/* A second run finds nothing more. */
	ck_assert_uint_eq(gc(false).removed_objects, 0);
}
END_TEST

START_TEST(retention_counts_from_the_commit_time)
{
	mesh_oid commit, map;
	mesh_gc_options o = { .now = (int64_t)time(NULL) + 8 * 86400 };
	mesh_gc_result r;

	deleted_branch(&commit, &map);
	/* Eight days later a 7-day retention has expired. */
	ck_assert_int_eq(mesh_gc_run(store, &o, &r), 0);
	ck_assert_uint_ge(r.removed_objects, 5);
	ck_assert(!stored(&commit));
}
END_TEST

START_TEST(bad_retention_is_refused)
{
	mesh_domain *d;

	ck_assert_int_eq(mesh_domain_set_retention(store, "sales", -1), MESH_EINVAL);
	ck_assert_int_eq(mesh_domain_set_retention(store, "sales", MESH_DOMAIN_RETENTION_MAX + 1),
			 MESH_EINVAL);
	ck_assert_int_eq(mesh_domain_set_retention(store, "nope", 3), MESH_ENOENT);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "nope"));
	ck_assert_int_eq(mesh_domain_set_retention(store, "sales", 30), 0);
	ck_assert_int_eq(mesh_domain_get(store, "sales", &d), 0);
	ck_assert_uint_eq(d->retention_days, 30);
	mesh_domain_free(d);
}
END_TEST

/* Records written before retention existed have six fields. */
START_TEST(an_older_domain_record_has_the_default_retention)
{
	static const char old[] = "1\0card\0root\0" "0\0main\0" "1764130000";
	mesh_domain *d;

	ck_assert_int_eq(mesh_db_put(mesh_store_db(store), "d/old", 5, old, sizeof(old), true), 0);
	ck_assert_int_eq(mesh_domain_get(store, "old", &d), 0);
	ck_assert_uint_eq(d->retention_days, MESH_DOMAIN_RETENTION_DEFAULT);
	ck_assert_str_eq(d->description, "card");
	ck_assert_int_eq(d->created, 1764130000);
	mesh_domain_free(d);
	ck_assert_int_eq(mesh_domain_set_retention(store, "old", 2), 0);
	ck_assert_int_eq(mesh_domain_get(store, "old", &d), 0);
	ck_assert_uint_eq(d->retention_days, 2);
	ck_assert_str_eq(d->description, "card");
	mesh_domain_free(d);
}
END_TEST

START_TEST(dry_run_counts_the_same_and_removes_nothing)
{
	mesh_oid commit, map;
	mesh_gc_result dry, real;

	deleted_branch(&commit, &map);
	ck_assert_int_eq(mesh_domain_set_retention(store, "sales", 0), 0);
	dry = gc(true);
	ck_assert(dry.dry_run);
	ck_assert_uint_ge(dry.removed_objects, 5);
	ck_assert(stored(&commit) && stored(&map));
	real = gc(false);
	ck_assert_uint_eq(real.removed_objects, dry.removed_objects);
	ck_assert_uint_eq(real.removed_bytes, dry.removed_bytes);
	ck_assert_uint_eq(real.index_entries_removed, dry.index_entries_removed);
	ck_assert(!stored(&map));
}
END_TEST

/* Chunks of a file being written are in no map yet; its writer pins them.
 * Freed without staging (what a crash leaves), they are garbage. */
START_TEST(a_file_being_written_keeps_its_chunks)
{
	mesh_file_writer *w;
	mesh_oid map;
	uint64_t size;
	mesh_gc_result r;

	ck_assert_int_eq(mesh_file_writer_new(&w, mesh_store_odb(store), NULL), 0);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(mesh_file_writer_append(w, big, sizeof(big)), 0);
	/* Wait for the workers: a snapshot drains them. */
	ck_assert_int_eq(mesh_file_writer_snapshot(w, &map, &size), 0);
	r = gc(false);
	/* Only the map and tail chunks of the snapshot, staged nowhere. */
	ck_assert_uint_le(r.removed_bytes, 2u << 20);
	mesh_file_writer_free(w);
	r = gc(false);
	/* The eight copies cut into the same chunks but at the seams. */
	ck_assert_uint_ge(r.removed_bytes, sizeof(big));
	assert_intact();
}
END_TEST

/* ---- objects written while a collection runs -------------------------- */

typedef struct writer_arg {
	mesh_oid id;
	int error;
	bool read;
} writer_arg;

static void *write_other_thread(void *p)
{
	writer_arg *a = p;
	void *data;
	size_t len;

	if (a->read) {
		a->error = mesh_odb_read(mesh_store_odb(store), &a->id, MESH_OBJ_ANY, &data, &len, NULL);
		if (a->error == 0)
			free(data);
		return NULL;
	}
	a->error = mesh_odb_write(mesh_store_odb(store), MESH_OBJ_CHUNK, big, 100000, &a->id);
	return NULL;
}

static void in_thread(writer_arg *a)
{
	pthread_t t;

	ck_assert_int_eq(pthread_create(&t, NULL, write_other_thread, a), 0);
	pthread_join(t, NULL);
}

/* A collector's marks: the ids it walked. */
typedef struct marks {
	mesh_oid ids[8];
	size_t count;
} marks;

static bool marked_in(void *ctx, const mesh_oid *id)
{
	marks *m = ctx;

	for (size_t i = 0; i < m->count; i++)
		if (mesh_oid_cmp(&m->ids[i], id) == 0)
			return true;
	return false;
}

static int walk_into(void *ctx, const mesh_oid *id)
{
	marks *m = ctx;

	ck_assert_uint_lt(m->count, 8);
	m->ids[m->count++] = *id;
	return 0;
}

START_TEST(odb_keeps_what_is_written_during_a_collection)
{
	mesh_odb *odb = mesh_store_odb(store);
	writer_arg old = { 0 }, fresh = { 0 }, late = { 0 }, reader;
	marks m = { .count = 0 };
	size_t count;

	in_thread(&old);                      /* garbage from before */
	ck_assert_int_eq(mesh_odb_gc_begin(odb), 0);
	ck_assert_int_eq(mesh_odb_gc_begin(odb), MESH_EBUSY);
	fresh.id = old.id;
	big[0] ^= 1;
	in_thread(&fresh);                    /* a new object, while marking */
	ck_assert_int_eq(mesh_odb_gc_unmarked(odb, marked_in, &m, walk_into, &m, &count), 0);
	ck_assert_uint_eq(count, 1);
	ck_assert(mesh_oid_cmp(&m.ids[0], &fresh.id) == 0);
	ck_assert_int_eq(mesh_odb_gc_sweep_begin(odb, marked_in, &m, true), 1);
	/* Walked now, so nothing is left to walk. */
	ck_assert_int_eq(mesh_odb_gc_unmarked(odb, marked_in, &m, walk_into, &m, &count), 0);
	ck_assert_uint_eq(count, 0);
	big[0] ^= 2;
	in_thread(&late);                     /* and one while sweeping */
	/* A read of garbage while sweeping is refused: nothing may pick up a
	 * reference to what is being removed. */
	reader = (writer_arg){ .id = old.id, .read = true };
	in_thread(&reader);
	ck_assert_int_eq(reader.error, MESH_ENOENT);
	ck_assert_int_eq(mesh_odb_gc_remove(odb, &fresh.id, false), 0);
	ck_assert_int_eq(mesh_odb_gc_remove(odb, &late.id, false), 0);
	ck_assert_int_eq(mesh_odb_gc_remove(odb, &old.id, true), 1);
	ck_assert(stored(&old.id));
	ck_assert_int_eq(mesh_odb_gc_remove(odb, &old.id, false), 1);
	mesh_odb_gc_end(odb);
	ck_assert(!stored(&old.id));
	ck_assert(stored(&fresh.id) && stored(&late.id));
	big[0] ^= 3;
}
END_TEST

START_TEST(killed_half_way_a_rerun_finishes)
{
	mesh_oid commit, map;
	mesh_gc_result r;
	int status;
	pid_t pid;

	deleted_branch(&commit, &map);
	ck_assert_int_eq(mesh_domain_set_retention(store, "sales", 0), 0);
	mesh_store_close(store);
	store = NULL;
	/* A fresh process (this program again: a forked child of a process
	 * with threads may not start its own under TSan) collects, and kills
	 * itself with SIGKILL after two removals: nothing closes its store. */
	if ((pid = fork()) == 0) {
		execl("/proc/self/exe", "test_gc", "--collect-and-die", tmp, (char *)NULL);
		_exit(4);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	ck_assert_int_eq(mesh_store_open(&store, tmp, NULL), 0);
	assert_intact();
	r = gc(false);
	ck_assert(r.resumed);
	ck_assert_uint_ge(r.removed_objects, 3);
	ck_assert(!stored(&map) && !stored(&commit));
	ck_assert(!gc(false).resumed);
	assert_intact();
}
END_TEST

START_TEST(leftovers_in_tmp_of_a_dead_process_go)
{
	char path[4096];
	int fd;
	mesh_gc_result r;

	snprintf(path, sizeof(path), "%s/tmp/obj-left", tmp);
	mesh_store_close(store);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, big, 5000), 5000);
	close(fd);
	usleep(20000);  /* past the coarse clock's tick */
	ck_assert_int_eq(mesh_store_open(&store, tmp, NULL), 0);
	snprintf(path, sizeof(path), "%s/tmp/mine", tmp);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	r = gc(false);
	ck_assert_uint_eq(r.tmp_files_removed, 1);
	ck_assert_uint_eq(r.tmp_bytes_removed, 5000);
	snprintf(path, sizeof(path), "%s/tmp/obj-left", tmp);
	ck_assert_int_eq(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/tmp/mine", tmp);
	ck_assert_int_eq(access(path, F_OK), 0);
}
END_TEST

static Suite *gc_suite(void)
{
	Suite *s = suite_create("gc");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, nothing_to_collect_keeps_everything);
	tcase_add_test(tc, deleted_branch_goes_after_its_retention);
	tcase_add_test(tc, retention_counts_from_the_commit_time);
	tcase_add_test(tc, bad_retention_is_refused);
	tcase_add_test(tc, an_older_domain_record_has_the_default_retention);
	tcase_add_test(tc, dry_run_counts_the_same_and_removes_nothing);
	tcase_add_test(tc, a_file_being_written_keeps_its_chunks);
	tcase_add_test(tc, odb_keeps_what_is_written_during_a_collection);
	tcase_add_test(tc, killed_half_way_a_rerun_finishes);
	tcase_add_test(tc, leftovers_in_tmp_of_a_dead_process_go);
	suite_add_tcase(s, tc);
	return s;
}

/* The child of killed_half_way_a_rerun_finishes. */
static int collect_and_die(const char *dir)
{
	mesh_gc_options o = { .stop_after = 2 };
	mesh_gc_result r;
	mesh_store *s;

	if (mesh_store_open(&s, dir, NULL) == 0 && mesh_gc_run(s, &o, &r) == MESH_EAGAIN &&
	    r.removed_objects == 2)
		kill(getpid(), SIGKILL);
	return 3;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--collect-and-die") == 0)
		return collect_and_die(argv[2]);
	return test_run_suite(gc_suite());
}
