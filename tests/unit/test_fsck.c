/* test_fsck.c - fsck on a store built here: what it finds, what repair
 * moves, what reading damaged data says, and branch reset-head. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "domain.h"
#include "error.h"
#include "file.h"
#include "control.h"
#include "fsck.h"
#include "history.h"
#include "store.h"
#include "view.h"

typedef struct captured_log {
	int errors;
	char lines[8][512];
	size_t count;
} captured_log;

static char *tmp;
static mesh_store *store;
static mesh_caller caller;
static captured_log captured;
/* sales/main: root <- c1 (big.bin: loose chunks) <- c2 (+ small.csv) */
static mesh_oid root, c1, c2, big_map, small_map;
static unsigned char big[300 << 10];

static void capture(void *ctx, int level, const char *line)
{
	captured_log *c = ctx;

	if (level >= MESH_LOG_ERROR)
		c->errors++;
	snprintf(c->lines[c->count % 8], sizeof(c->lines[0]), "%s", line);
	c->count++;
}

static bool logged(const char *a, const char *b)
{
	for (size_t i = 0; i < captured.count && i < 8; i++)
		if (strstr(captured.lines[i], a) && (!b || strstr(captured.lines[i], b)))
			return true;
	return false;
}

static void setup(void)
{
	mesh_log log = { .level = MESH_LOG_DEBUG, .sink = capture, .ctx = &captured };
	mesh_view *view;

	memset(&captured, 0, sizeof(captured));
	tmp = test_tmpdir_new();
	caller.uid = getuid();
	caller.gid = getgid();
	caller.pid = getpid();
	ck_assert_int_eq(mesh_store_init(tmp), 0);
	ck_assert_int_eq(mesh_store_open(&store, tmp, &log), 0);
	ck_assert_int_eq(mesh_domain_create(store, &caller, "sales", ""), 0);
	ck_assert_int_eq(mesh_domain_create(store, &caller, "marketing", ""), 0);
	ck_assert_int_eq(mesh_history_branch_head(store, "sales", "main", &root), 0);
	ck_assert_int_eq(mesh_view_open_branch(&view, store, "sales", "main"), 0);
	test_fill_random(big, sizeof(big), 11);
	big_map = test_stage_file(store, view, &caller, "big.bin", big, sizeof(big));
	c1 = test_commit(view, &caller);
	small_map = test_stage_file(store, view, &caller, "small.csv", "id,v\n1,2\n", 9);
	c2 = test_commit(view, &caller);
	mesh_view_free(view);
}

static void teardown(void)
{
	mesh_store_close(store);
	test_tmpdir_remove(tmp);
}

static mesh_file_map *load_map(const mesh_oid *id)
{
	mesh_file_map *map;

	ck_assert_int_eq(mesh_file_map_load(mesh_store_odb(store), id, &map), 0);
	return map;
}

static void fsck(bool quick, bool repair, const char *domain, mesh_fsck_report *out)
{
	mesh_fsck_opts opts = { domain, quick, repair };
	int error = mesh_fsck_run(store, &opts, out);

	ck_assert_msg(error == 0, "fsck: %d %s", error, mesh_error_message());
}

/* Reads path in the branch view: 0 and the bytes, or the error. */
static int read_file(const char *path, void *buf, size_t len)
{
	mesh_view *view;
	mesh_view_entry entry;
	mesh_file_map *map = NULL;
	size_t nread;
	int error;

	ck_assert_int_eq(mesh_view_open_branch(&view, store, "sales", "main"), 0);
	if ((error = mesh_view_lookup(view, path, &entry)) == 0 &&
	    (error = mesh_view_file_map(view, &entry, &map)) == 0)
		error = mesh_file_read(mesh_store_odb(store), NULL, map, buf, len, 0, &nread);
	mesh_file_map_free(map);
	mesh_view_free(view);
	return error;
}

START_TEST(clean_store_is_clean)
{
	mesh_fsck_report r;
	mesh_file_map *map = load_map(&big_map);

	fsck(false, false, NULL, &r);
	ck_assert_uint_eq(r.damage_total, 0);
	ck_assert_uint_eq(r.damage_count, 0);
	ck_assert_uint_eq(r.broken_count, 0);
	ck_assert_uint_eq(r.domains, 2);
	ck_assert_uint_eq(r.stats.objects[MESH_OBJ_COMMIT], 4);
	ck_assert_uint_eq(r.stats.objects[MESH_OBJ_CHUNK], map->count + 1);
	ck_assert_uint_eq(r.stats.chunk_bytes, sizeof(big) + 9);
	mesh_fsck_report_free(&r);
	mesh_file_map_free(map);
}
END_TEST

START_TEST(flipped_chunk_byte_found_and_quarantined)
{
	mesh_file_map *map = load_map(&big_map);
	char path[800], hex[MESH_OID_HEXSZ + 1], qpath[900];
	mesh_fsck_report r;
	struct stat st;

	test_flip_loose(tmp, &map->chunks[0].id, 5000);
	fsck(true, false, NULL, &r);
	ck_assert_uint_eq(r.damage_total, 0);   /* quick does not re-hash chunks */
	mesh_fsck_report_free(&r);
	fsck(false, false, NULL, &r);
	ck_assert_uint_eq(r.damage_total, 1);
	ck_assert_int_eq(r.damage[0].problem, MESH_FSCK_CORRUPT);
	ck_assert_int_eq(r.damage[0].type, MESH_OBJ_CHUNK);
	ck_assert_str_eq(r.damage[0].domain, "sales");
	ck_assert_str_eq(r.damage[0].ref, "heads/main");
	ck_assert_str_eq(r.damage[0].path, "big.bin");
	ck_assert(r.damage[0].has_commit && mesh_oid_cmp(&r.damage[0].commit, &c2) == 0);
	ck_assert_ptr_null(r.damage[0].quarantined);
	ck_assert_uint_eq(r.broken_count, 0);   /* a damaged file does not break the head */
	mesh_fsck_report_free(&r);

	fsck(false, true, NULL, &r);
	ck_assert_uint_eq(r.quarantined, 1);
	mesh_oid_fmt(hex, &map->chunks[0].id);
	snprintf(qpath, sizeof(qpath), "%s/quarantine/%s.loose", tmp, hex);
	ck_assert_ptr_nonnull(r.damage[0].quarantined);
	ck_assert_str_eq(r.damage[0].quarantined, qpath);
	ck_assert_int_eq(stat(qpath, &st), 0);
	test_loose_path(tmp, &map->chunks[0].id, path, sizeof(path));
	ck_assert_int_eq(stat(path, &st), -1);
	mesh_fsck_report_free(&r);
	/* Afterwards it is missing, and reported so. */
	fsck(true, false, NULL, &r);
	ck_assert_uint_eq(r.damage_total, 1);
	ck_assert_int_eq(r.damage[0].problem, MESH_FSCK_MISSING);
	mesh_fsck_report_free(&r);
	mesh_file_map_free(map);
}
END_TEST

START_TEST(corrupt_object_in_the_database_quarantined)
{
	mesh_file_map *map = load_map(&small_map);
	char hex[MESH_OID_HEXSZ + 1], qpath[900], buf[16];
	mesh_fsck_report r;
	struct stat st;

	ck_assert(test_in_db(store, &map->chunks[0].id));
	test_flip_db(store, &map->chunks[0].id);
	ck_assert_int_eq(read_file("small.csv", buf, sizeof(buf)), MESH_EIO);
	fsck(false, true, "sales", &r);
	ck_assert_uint_eq(r.damage_total, 1);
	ck_assert_int_eq(r.damage[0].problem, MESH_FSCK_CORRUPT);
	ck_assert_str_eq(r.damage[0].path, "small.csv");
	ck_assert_uint_eq(r.quarantined, 1);
	mesh_oid_fmt(hex, &map->chunks[0].id);
	snprintf(qpath, sizeof(qpath), "%s/quarantine/%s.db", tmp, hex);
	ck_assert_int_eq(stat(qpath, &st), 0);
	ck_assert(!test_in_db(store, &map->chunks[0].id));
	mesh_fsck_report_free(&r);
	mesh_file_map_free(map);
}
END_TEST

START_TEST(removed_chunk_reads_as_eio_naming_it)
{
	mesh_file_map *map = load_map(&big_map);
	char path[800], hex[MESH_OID_HEXSZ + 1];
	static char buf[sizeof(big)];
	mesh_fsck_report r;

	test_loose_path(tmp, &map->chunks[1].id, path, sizeof(path));
	ck_assert_int_eq(unlink(path), 0);
	captured.count = 0;
	ck_assert_int_eq(read_file("big.bin", buf, sizeof(buf)), MESH_EIO);
	mesh_oid_fmt(hex, &map->chunks[1].id);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), hex));
	ck_assert(logged(hex, "missing"));
	fsck(true, true, NULL, &r);
	ck_assert_uint_eq(r.damage_total, 1);
	ck_assert_int_eq(r.damage[0].problem, MESH_FSCK_MISSING);
	ck_assert_uint_eq(r.quarantined, 0);     /* nothing there to move */
	mesh_fsck_report_free(&r);
	mesh_file_map_free(map);
}
END_TEST

/* A missing tree used to read as ENOENT: its directory looked absent (and
 * the kernel would have cached that) instead of damaged. */
START_TEST(missing_tree_is_eio_not_an_absent_path)
{
	mesh_view *view;
	mesh_view_entry entry;
	mesh_oid head;

	ck_assert_int_eq(mesh_view_open_branch(&view, store, "sales", "main"), 0);
	ck_assert_int_eq(mesh_view_mkdir(view, &caller, "d", 0755), 0);
	test_stage_file(store, view, &caller, "d/f.csv", "x\n", 2);
	head = test_commit(view, &caller);
	mesh_view_free(view);
	ck_assert_int_eq(mesh_view_open_commit(&view, store, "sales", &head), 0);
	ck_assert_int_eq(mesh_view_lookup(view, "d", &entry), 0);
	mesh_view_free(view);
	test_remove_db(store, &entry.id);
	ck_assert_int_eq(mesh_view_open_commit(&view, store, "sales", &head), 0);
	ck_assert_int_eq(mesh_view_lookup(view, "d/f.csv", &entry), MESH_EIO);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "missing"));
	mesh_view_free(view);
}
END_TEST

START_TEST(corrupt_head_is_a_broken_head_and_reset_head_recovers)
{
	mesh_fsck_report r;
	mesh_oid old_head, new_head;
	mesh_view *view;
	mesh_view_dirent *dirents;
	size_t count;
	char buf[16] = "";

	test_flip_db(store, &c2);
	ck_assert_int_eq(mesh_view_open_branch(&view, store, "sales", "main"), MESH_EIO);
	fsck(false, true, NULL, &r);
	ck_assert_uint_eq(r.damage_total, 1);
	ck_assert_int_eq(r.damage[0].type, MESH_OBJ_COMMIT);
	ck_assert_uint_eq(r.broken_count, 1);
	ck_assert_str_eq(r.broken_heads[0].domain, "sales");
	ck_assert_str_eq(r.broken_heads[0].branch, "main");
	ck_assert(mesh_oid_cmp(&r.broken_heads[0].commit, &c2) == 0);
	ck_assert_uint_eq(r.quarantined, 1);
	mesh_fsck_report_free(&r);

	captured.count = 0;
	caller.uid = 4321;
	ck_assert_int_eq(mesh_fsck_reset_head(store, &caller, "sales", "main", &old_head,
					      &new_head), 0);
	ck_assert(mesh_oid_cmp(&old_head, &c2) == 0);
	ck_assert(mesh_oid_cmp(&new_head, &c1) == 0);
	ck_assert(logged("reset-head sales/main", "uid 4321"));
	ck_assert_int_eq(mesh_view_open_branch(&view, store, "sales", "main"), 0);
	ck_assert_int_eq(mesh_view_list(view, "", &dirents, &count), 0);
	ck_assert_uint_eq(count, 1);
	ck_assert_str_eq(dirents[0].name, "big.bin");
	mesh_view_dirents_free(dirents, count);
	mesh_view_free(view);
	ck_assert_int_eq(read_file("big.bin", buf, 8), 0);
	ck_assert(memcmp(buf, big, 8) == 0);
	/* Now intact: refused, and nothing moves. */
	ck_assert_int_eq(mesh_fsck_reset_head(store, &caller, "sales", "main", &old_head,
					      &new_head), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "intact"));
	ck_assert_int_eq(mesh_history_branch_head(store, "sales", "main", &old_head), 0);
	ck_assert(mesh_oid_cmp(&old_head, &c1) == 0);
	fsck(false, false, NULL, &r);
	ck_assert_uint_eq(r.damage_total, 0);
	mesh_fsck_report_free(&r);
}
END_TEST

/* The head and its parent are both unreadable: the index knows the way. */
START_TEST(reset_head_skips_every_broken_ancestor)
{
	mesh_oid old_head, new_head, tree_of_c1;
	mesh_commit *commit;

	ck_assert_int_eq(mesh_commit_load(mesh_store_odb(store), &c1, &commit), 0);
	tree_of_c1 = commit->tree;
	mesh_commit_free(commit);
	test_remove_db(store, &c2);
	test_flip_db(store, &tree_of_c1);   /* c1 reads, its tree does not */
	ck_assert_int_eq(mesh_fsck_reset_head(store, &caller, "sales", "main", &old_head,
					      &new_head), 0);
	ck_assert(mesh_oid_cmp(&new_head, &root) == 0);
}
END_TEST

START_TEST(reset_head_bad_input_changes_nothing)
{
	mesh_oid old_head, new_head;

	ck_assert_int_eq(mesh_fsck_reset_head(store, &caller, "nosuch", "main", &old_head,
					      &new_head), MESH_ENOENT);
	ck_assert_int_eq(mesh_fsck_reset_head(store, &caller, "sales", "nobranch", &old_head,
					      &new_head), MESH_ENOENT);
	ck_assert_int_eq(mesh_fsck_reset_head(store, &caller, "sales", "../x", &old_head,
					      &new_head), MESH_EINVAL);
	/* The first commit of a domain has nothing to go back to. */
	ck_assert_int_eq(mesh_history_branch_head(store, "marketing", "main", &old_head), 0);
	test_flip_db(store, &old_head);
	ck_assert_int_eq(mesh_fsck_reset_head(store, &caller, "marketing", "main", &old_head,
					      &new_head), MESH_EIO);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "first commit"));
}
END_TEST

/* An object kept in both tiers, its database copy corrupt: repair moves
 * that copy only, and the object reads again from the other. */
START_TEST(quarantine_keeps_a_good_second_copy)
{
	mesh_odb *odb = mesh_store_odb(store);
	unsigned char key[2 + MESH_OID_RAWSZ];
	char path[800], dir[800], where[4096];
	void *stored, *data;
	size_t stored_len, len, moved;
	mesh_oid id;
	FILE *f;

	ck_assert_int_eq(mesh_odb_write(odb, MESH_OBJ_CHUNK, "twice stored", 12, &id), 0);
	key[0] = 'o';
	key[1] = '/';
	memcpy(key + 2, id.id, MESH_OID_RAWSZ);
	ck_assert_int_eq(mesh_db_get(mesh_store_db(store), key, sizeof(key), &stored,
				     &stored_len), 0);
	test_loose_path(tmp, &id, path, sizeof(path));
	snprintf(dir, sizeof(dir), "%.*s", (int)(strrchr(path, '/') - path), path);
	mkdir(dir, 0755);
	ck_assert_ptr_nonnull(f = fopen(path, "wb"));
	ck_assert_uint_eq(fwrite(stored, 1, stored_len, f), stored_len);
	fclose(f);
	free(stored);
	test_flip_db(store, &id);
	ck_assert_int_eq(mesh_odb_read(odb, &id, MESH_OBJ_CHUNK, &data, &len, NULL), MESH_EIO);

	snprintf(dir, sizeof(dir), "%s/q", tmp);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_eq(mesh_odb_quarantine(odb, &id, dir, &moved, where), 0);
	ck_assert_uint_eq(moved, 1);
	ck_assert_ptr_nonnull(strstr(where, ".db"));
	ck_assert(!test_in_db(store, &id));
	ck_assert_int_eq(mesh_odb_read(odb, &id, MESH_OBJ_CHUNK, &data, &len, NULL), 0);
	ck_assert_uint_eq(len, 12);
	ck_assert(memcmp(data, "twice stored", 12) == 0);
	free(data);
	/* Nothing corrupt is left: a second repair moves nothing. */
	ck_assert_int_eq(mesh_odb_quarantine(odb, &id, dir, &moved, where), 0);
	ck_assert_uint_eq(moved, 0);
}
END_TEST

START_TEST(fsck_of_one_domain)
{
	mesh_fsck_report r;
	mesh_fsck_opts opts = { "nosuch", false, false };

	test_flip_db(store, &small_map);
	fsck(false, false, "marketing", &r);
	ck_assert_uint_eq(r.damage_total, 0);
	ck_assert_uint_eq(r.domains, 1);
	mesh_fsck_report_free(&r);
	ck_assert_int_eq(mesh_fsck_run(store, &opts, &r), MESH_ENOENT);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "nosuch"));
	mesh_fsck_report_free(&r);
}
END_TEST

/* ---- the commands ------------------------------------------------------ */

static int open_view(void *ctx, const char *domain, const char *branch, mesh_view **out)
{
	return mesh_view_open_branch(out, ctx, domain, branch);
}

static void close_view(void *ctx, mesh_view *view)
{
	(void)ctx;
	mesh_view_free(view);
}

/* Runs line, expecting code, and checks that the answer holds want. */
static void run_line(const char *line, int code, const char *want)
{
	mesh_control_env env = { store, open_view, close_view, NULL, store };
	char *answer = NULL;
	int error = mesh_control_run(&env, &caller, line, &answer);

	ck_assert_ptr_nonnull(answer);
	ck_assert_msg(error == code, "%s: %d, want %d: %s", line, error, code, answer);
	ck_assert_msg(strstr(answer, want), "%s: no %s in %s", line, want, answer);
	free(answer);
}

START_TEST(fsck_and_reset_head_commands)
{
	mesh_file_map *map = load_map(&small_map);

	run_line("fsck", 0, "\"clean\":true");
	run_line("fsck --quick --domain sales", 0, "\"quick\":true");
	run_line("fsck --bogus", MESH_EINVAL, "--bogus");
	run_line("fsck extra", MESH_EINVAL, "extra");
	run_line("fsck --domain", MESH_EINVAL, "--domain");
	run_line("fsck --domain nosuch", MESH_ENOENT, "nosuch");
	run_line("branch reset-head sales/main", MESH_EINVAL, "intact");
	run_line("branch reset-head sales", MESH_EINVAL, "DOMAIN/BRANCH");
	test_flip_db(store, &map->chunks[0].id);
	run_line("fsck", MESH_EIO, "\"clean\":false");
	run_line("fsck", MESH_EIO, "\"path\":\"small.csv\",\"staged\":false");
	run_line("fsck --repair", MESH_EIO, "\"quarantined\":1}");
	mesh_file_map_free(map);
}
END_TEST

static Suite *fsck_suite(void)
{
	Suite *s = suite_create("fsck");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, clean_store_is_clean);
	tcase_add_test(tc, flipped_chunk_byte_found_and_quarantined);
	tcase_add_test(tc, corrupt_object_in_the_database_quarantined);
	tcase_add_test(tc, removed_chunk_reads_as_eio_naming_it);
	tcase_add_test(tc, missing_tree_is_eio_not_an_absent_path);
	tcase_add_test(tc, corrupt_head_is_a_broken_head_and_reset_head_recovers);
	tcase_add_test(tc, reset_head_skips_every_broken_ancestor);
	tcase_add_test(tc, reset_head_bad_input_changes_nothing);
	tcase_add_test(tc, quarantine_keeps_a_good_second_copy);
	tcase_add_test(tc, fsck_of_one_domain);
	tcase_add_test(tc, fsck_and_reset_head_commands);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(fsck_suite());
}
