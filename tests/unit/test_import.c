/* test_import.c - import of a directory into a branch and export of a
 * commit: round trip, resuming, refusals that stage nothing, verified
 * reads. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "testutil.h"
#include "domain.h"
#include "error.h"
#include "file.h"
#include "history.h"
#include "import.h"
#include "stage.h"
#include "store.h"
#include "view.h"

static char *tmp;
static char src[512], store_dir[512];
static mesh_store *store;
static mesh_view *view;
static mesh_caller caller;
static unsigned char big[600 << 10];

static void put_file(const char *rel, const void *data, size_t len, mode_t mode)
{
	char p[1024];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", src, rel);
	ck_assert_int_ge(fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600), 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

static void setup(void)
{
	mesh_log log = { .level = MESH_LOG_WARN };
	char p[1024];

	tmp = test_tmpdir_new();
	mesh_caller_self(&caller);
	snprintf(src, sizeof(src), "%s/src", tmp);
	snprintf(store_dir, sizeof(store_dir), "%s/store", tmp);
	ck_assert_int_eq(mkdir(src, 0755), 0);
	snprintf(p, sizeof(p), "%s/sub", src);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	test_fill_random(big, sizeof(big), 5);
	put_file("big.bin", big, sizeof(big), 0644);
	put_file("sub/a.csv", "id\n1\n", 5, 0600);
	put_file("empty", "", 0, 0755);
	snprintf(p, sizeof(p), "%s/link", src);
	ck_assert_int_eq(symlink("sub/a.csv", p), 0);
	ck_assert_int_eq(mesh_store_init(store_dir), 0);
	ck_assert_int_eq(mesh_store_open(&store, store_dir, &log), 0);
	ck_assert_int_eq(mesh_domain_create(store, &caller, "d", ""), 0);
	ck_assert_int_eq(mesh_view_open_branch(&view, store, "d", "main"), 0);
}

static void teardown(void)
{
	mesh_view_free(view);
	mesh_store_close(store);
	test_tmpdir_remove(tmp);
}

static int import(const char *path, mesh_import_result *r)
{
	mesh_import_opts o = { .src_dir = src, .path = path, .jobs = 2 };

	return mesh_import_run(store, view, &caller, &o, r);
}

static uint64_t staged_count(void)
{
	uint64_t n;

	ck_assert_int_eq(mesh_stage_count(mesh_store_db(store), "d", "main", &n), 0);
	return n;
}

START_TEST(import_commits_the_tree_with_modes_and_links)
{
	mesh_import_result r;
	mesh_view_entry e;
	struct stat st;
	char p[1024];

	ck_assert_int_eq(import("in", &r), 0);
	ck_assert(r.committed);
	ck_assert_uint_eq(r.totals.files_total, 4);
	ck_assert_uint_eq(r.totals.bytes_total, sizeof(big) + 5 + 0 + 9);
	ck_assert_uint_eq(staged_count(), 0);
	ck_assert_int_eq(mesh_view_lookup(view, "in/sub/a.csv", &e), 0);
	ck_assert_uint_eq(e.mode, 0600);
	ck_assert_uint_eq(e.size, 5);
	ck_assert_int_eq(mesh_view_lookup(view, "in/sub", &e), 0);
	ck_assert_uint_eq(e.mode, 0700);
	snprintf(p, sizeof(p), "%s/sub", src);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(e.mtime_ns, (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec);
	ck_assert_int_eq(mesh_view_lookup(view, "in/link", &e), 0);
	ck_assert_int_eq(e.kind, MESH_KIND_SYMLINK);
	ck_assert_int_eq(mesh_view_lookup(view, "in/empty", &e), 0);
	ck_assert_uint_eq(e.mode, 0755);
}
END_TEST

START_TEST(rerun_skips_what_is_there_and_takes_what_changed)
{
	mesh_import_result r;
	mesh_oid head;

	ck_assert_int_eq(import("", &r), 0);
	mesh_view_commit_id(view, &head);
	ck_assert_int_eq(import("", &r), 0);
	ck_assert(!r.committed);
	ck_assert_uint_eq(r.totals.files_skipped, 4);
	ck_assert_int_eq(mesh_oid_cmp(&r.commit, &head), 0);
	put_file("sub/a.csv", "id\n1\n2\n", 7, 0600);
	ck_assert_int_eq(import("", &r), 0);
	ck_assert(r.committed);
	ck_assert_uint_eq(r.totals.files_skipped, 3);
	ck_assert_uint_eq(r.changes >= 1, 1);
}
END_TEST

START_TEST(refusals_stage_nothing)
{
	mesh_import_result r;
	mesh_import_opts o = { .path = "" };
	mesh_caller other = { .uid = 4242, .gid = 4242, .pid = 1 };
	char p[1024];

	o.src_dir = "/nonexistent/dir";
	ck_assert_int_eq(mesh_import_run(store, view, &caller, &o, &r), MESH_ENOENT);
	snprintf(p, sizeof(p), "%s/big.bin", src);
	o.src_dir = p;
	ck_assert_int_eq(mesh_import_run(store, view, &caller, &o, &r), MESH_ENOTDIR);
	if (getuid() == 0) {
		/* another uid: not its tree */
		o.src_dir = src;
		ck_assert_int_eq(mesh_import_run(store, view, &other, &o, &r), MESH_EACCES);
		ck_assert(strstr(mesh_error_message(), "not by the caller"));
		/* its tree, but a file in it it may not read */
		ck_assert_int_eq(chown(src, 4242, 4242), 0);
		ck_assert_int_eq(mesh_import_run(store, view, &other, &o, &r), MESH_EACCES);
		ck_assert(strstr(mesh_error_message(), "not readable by uid 4242"));
	}
	/* a file in the branch where the source has a directory */
	test_stage_file(store, view, &caller, "sub", "x", 1);
	ck_assert_uint_eq(staged_count(), 1);
	ck_assert_int_eq(import("", &r), MESH_EEXIST);
	ck_assert_uint_eq(staged_count(), 1);
}
END_TEST

START_TEST(export_round_trip_force_and_damage)
{
	mesh_import_result r;
	mesh_export_opts o = { .path = "", .jobs = 2 };
	mesh_xfer_progress p;
	mesh_view *cv;
	mesh_file_map *map;
	mesh_view_entry e;
	char dest[1024], f[1100], link[64];
	unsigned char back[sizeof(big)];
	struct stat st;
	int fd;

	ck_assert_int_eq(import("", &r), 0);
	ck_assert_int_eq(mesh_view_open_commit(&cv, store, "d", &r.commit), 0);
	snprintf(dest, sizeof(dest), "%s/out", tmp);
	o.dest_dir = dest;
	ck_assert_int_eq(mesh_export_run(store, cv, &caller, &o, &p), 0);
	ck_assert_uint_eq(p.files_total, 4);
	snprintf(f, sizeof(f), "%s/big.bin", dest);
	ck_assert_int_ge(fd = open(f, O_RDONLY), 0);
	ck_assert_int_eq(read(fd, back, sizeof(back)), (ssize_t)sizeof(back));
	close(fd);
	ck_assert_int_eq(memcmp(back, big, sizeof(big)), 0);
	snprintf(f, sizeof(f), "%s/sub", dest);
	ck_assert_int_eq(stat(f, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	snprintf(f, sizeof(f), "%s/link", dest);
	ck_assert_int_eq(readlink(f, link, sizeof(link)), 9);
	ck_assert_int_eq(memcmp(link, "sub/a.csv", 9), 0);

	ck_assert_int_eq(mesh_export_run(store, cv, &caller, &o, &p), MESH_ENOTEMPTY);
	o.force = true;
	ck_assert_int_eq(mesh_export_run(store, cv, &caller, &o, &p), 0);

	/* a damaged chunk: export fails naming it, as every read verifies */
	ck_assert_int_eq(mesh_view_lookup(cv, "big.bin", &e), 0);
	ck_assert_int_eq(mesh_file_map_load(mesh_store_odb(store), &e.id, &map), 0);
	test_flip_loose(store_dir, &map->chunks[0].id, 40);
	mesh_file_map_free(map);
	ck_assert_int_eq(mesh_export_run(store, cv, &caller, &o, &p), MESH_EIO);
	mesh_view_free(cv);
}
END_TEST

START_TEST(owners_and_special_files_round_trip)
{
	mesh_import_result r;
	mesh_export_opts o = { .path = "", .jobs = 2 };
	mesh_import_opts io = { .path = "devs", .jobs = 1 };
	mesh_caller other = { .uid = 4242, .gid = 4242, .pid = 1 };
	mesh_xfer_progress p;
	mesh_view_entry e;
	mesh_view *cv;
	char path[1100], dest[1024], devs[1024];
	struct stat st;

	ck_assert_int_eq(getuid(), 0);    /* owners of others: root's import */
	snprintf(path, sizeof(path), "%s/sub/a.csv", src);
	ck_assert_int_eq(chown(path, 4242, 4343), 0);
	snprintf(path, sizeof(path), "%s/big.bin", src);
	ck_assert_int_eq(chmod(path, 04755), 0);
	snprintf(path, sizeof(path), "%s/fifo", src);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(chmod(path, 0620), 0);      /* past the umask */
	ck_assert_int_eq(import("", &r), 0);
	ck_assert_int_eq(mesh_view_lookup(view, "sub/a.csv", &e), 0);
	ck_assert_uint_eq(e.uid, 4242);
	ck_assert_uint_eq(e.gid, 4343);
	ck_assert_int_eq(mesh_view_lookup(view, "big.bin", &e), 0);
	ck_assert_uint_eq(e.mode, 04755);          /* set-id bits kept by root */
	ck_assert_int_eq(mesh_view_lookup(view, "fifo", &e), 0);
	ck_assert_int_eq(e.kind, MESH_KIND_FIFO);
	ck_assert_uint_eq(e.mode, 0620);
	/* A rerun finds everything there, owners included. */
	ck_assert_int_eq(import("", &r), 0);
	ck_assert(!r.committed);

	ck_assert_int_eq(mesh_view_open_commit(&cv, store, "d", &r.commit), 0);
	snprintf(dest, sizeof(dest), "%s/out", tmp);
	o.dest_dir = dest;
	ck_assert_int_eq(mesh_export_run(store, cv, &caller, &o, &p), 0);
	mesh_view_free(cv);
	snprintf(path, sizeof(path), "%s/sub/a.csv", dest);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert_uint_eq(st.st_uid, 4242);
	ck_assert_uint_eq(st.st_gid, 4343);
	snprintf(path, sizeof(path), "%s/big.bin", dest);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 04755);
	snprintf(path, sizeof(path), "%s/fifo", dest);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISFIFO(st.st_mode));

	/* Anyone else's tree with a device node in it is refused. */
	snprintf(devs, sizeof(devs), "%s/devs", tmp);
	ck_assert_int_eq(mkdir(devs, 0755), 0);
	snprintf(path, sizeof(path), "%s/null", devs);
	ck_assert_int_eq(mknod(path, S_IFCHR | 0600, makedev(1, 3)), 0);
	ck_assert_int_eq(chown(devs, 4242, 4242), 0);
	ck_assert_int_eq(chown(path, 4242, 4242), 0);
	io.src_dir = devs;
	ck_assert_int_eq(mesh_import_run(store, view, &other, &io, &r), MESH_EPERM);
	ck_assert(strstr(mesh_error_message(), "only root imports device nodes"));
	io.path = "devs";
	ck_assert_int_eq(mesh_import_run(store, view, &caller, &io, &r), 0);
	ck_assert_int_eq(mesh_view_lookup(view, "devs/null", &e), 0);
	ck_assert_int_eq(e.kind, MESH_KIND_CHRDEV);
	ck_assert_uint_eq(e.rdev, makedev(1, 3));
	ck_assert_uint_eq(e.uid, 4242);
}
END_TEST

static Suite *import_suite(void)
{
	Suite *s = suite_create("import");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, import_commits_the_tree_with_modes_and_links);
	tcase_add_test(tc, rerun_skips_what_is_there_and_takes_what_changed);
	tcase_add_test(tc, refusals_stage_nothing);
	tcase_add_test(tc, export_round_trip_force_and_damage);
	tcase_add_test(tc, owners_and_special_files_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(import_suite());
}
