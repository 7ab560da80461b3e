/* test_view.c - the overlay: a branch's head tree with staged changes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "domain.h"
#include "error.h"
#include "file.h"
#include "stage.h"
#include "store.h"
#include "view.h"
#include "branch.h"

static char *tmp;
static mesh_store *store;
static mesh_view *view;         /* sales/main */
static mesh_caller caller;

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

/* --- helpers --------------------------------------------------------- */

static mesh_oid store_content(const char *content)
{
	mesh_oid id;

	ck_assert_int_eq(mesh_file_write_buf(mesh_store_odb(store), NULL, content,
					     strlen(content), &id), 0);
	return id;
}

static int stage_in(mesh_view *v, const char *path, const char *content)
{
	mesh_oid id = store_content(content);

	return mesh_view_stage_content(v, &caller, path, MESH_KIND_FILE, 0644,
				       strlen(content), 1000, &id, false);
}

static void stage(const char *path, const char *content)
{
	ck_assert_int_eq(stage_in(view, path, content), 0);
}

static void make_dir(const char *path)
{
	ck_assert_int_eq(mesh_view_mkdir(view, &caller, path, 0755), 0);
}

/* The content of a file as the view shows it (malloc'd). */
static char *read_in(mesh_view *v, const char *path)
{
	mesh_view_entry entry;
	mesh_file_map *map;
	size_t nread;
	char *buf;

	ck_assert_int_eq(mesh_view_lookup(v, path, &entry), 0);
	ck_assert_int_eq(entry.kind, MESH_KIND_FILE);
	ck_assert_int_eq(mesh_view_file_map(v, &entry, &map), 0);
	ck_assert_uint_eq(map->size, entry.size);
	buf = malloc(entry.size + 1);
	ck_assert_int_eq(mesh_file_read(mesh_store_odb(store), mesh_store_cache(store),
					map, buf, entry.size, 0, &nread), 0);
	ck_assert_uint_eq(nread, entry.size);
	buf[nread] = '\0';
	mesh_file_map_free(map);
	return buf;
}

static void assert_content_in(mesh_view *v, const char *path, const char *want)
{
	char *got = read_in(v, path);

	ck_assert_str_eq(got, want);
	free(got);
}

static void assert_content(const char *path, const char *want)
{
	assert_content_in(view, path, want);
}

static void assert_absent_in(mesh_view *v, const char *path)
{
	mesh_view_entry entry;

	ck_assert_int_eq(mesh_view_lookup(v, path, &entry), MESH_ENOENT);
}

static void assert_absent(const char *path)
{
	assert_absent_in(view, path);
}

static mesh_entry_kind kind_in(mesh_view *v, const char *path)
{
	mesh_view_entry entry;

	ck_assert_int_eq(mesh_view_lookup(v, path, &entry), 0);
	return entry.kind;
}

static mesh_entry_kind kind_of(const char *path)
{
	return kind_in(view, path);
}

/* The listing of dir as "name,name/,..." ("/" marks directories). */
static char *names_in(mesh_view *v, const char *dir)
{
	mesh_view_dirent *dirents;
	size_t count, len = 1;
	char *out;

	ck_assert_int_eq(mesh_view_list(v, dir, &dirents, &count), 0);
	for (size_t i = 0; i < count; i++)
		len += strlen(dirents[i].name) + 2;
	out = calloc(1, len);
	for (size_t i = 0; i < count; i++) {
		if (i)
			strcat(out, ",");
		strcat(out, dirents[i].name);
		if (dirents[i].entry.kind == MESH_KIND_DIR)
			strcat(out, "/");
	}
	mesh_view_dirents_free(dirents, count);
	return out;
}

static void assert_names_in(mesh_view *v, const char *dir, const char *want)
{
	char *got = names_in(v, dir);

	ck_assert_str_eq(got, want);
	free(got);
}

static void assert_names(const char *dir, const char *want)
{
	assert_names_in(view, dir, want);
}

static mesh_oid commit_all(const char *message)
{
	mesh_oid id;
	size_t changes;

	ck_assert_int_eq(mesh_view_commit(view, &caller, message, NULL, 0, &id,
					  &changes), 0);
	ck_assert_uint_gt(changes, 0);
	return id;
}

/* The status as "type kind path;..." in the order reported. */
static char *status_text(mesh_view *v)
{
	mesh_change *changes;
	size_t count, len = 1;
	char *out;

	ck_assert_int_eq(mesh_view_status(v, &changes, &count), 0);
	for (size_t i = 0; i < count; i++)
		len += strlen(changes[i].path) + 32;
	out = calloc(1, len);
	for (size_t i = 0; i < count; i++) {
		char line[64];
		snprintf(line, sizeof(line), "%s %s ",
			 mesh_change_type_name(changes[i].type),
			 mesh_entry_kind_name(changes[i].kind));
		strcat(out, line);
		strcat(out, changes[i].path);
		strcat(out, ";");
	}
	mesh_changes_free(changes, count);
	return out;
}

static void assert_status(const char *want)
{
	char *got = status_text(view);

	ck_assert_str_eq(got, want);
	free(got);
}

static mesh_view *open_commit(const mesh_oid *id)
{
	mesh_view *v;

	ck_assert_int_eq(mesh_view_open_commit(&v, store, "sales", id), 0);
	return v;
}

/* --- opening --------------------------------------------------------- */

START_TEST(open_unknown_branch_or_domain_is_enoent)
{
	mesh_view *v = (mesh_view *)1;

	ck_assert_int_eq(mesh_view_open_branch(&v, store, "sales", "nosuch"), MESH_ENOENT);
	ck_assert_ptr_null(v);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "nosuch"));
	ck_assert_int_eq(mesh_view_open_branch(&v, store, "nodomain", "main"), MESH_ENOENT);
	ck_assert_ptr_null(v);
}
END_TEST

START_TEST(new_branch_view_is_empty)
{
	mesh_view_entry root;

	ck_assert(mesh_view_is_branch(view));
	ck_assert_str_eq(mesh_view_domain(view), "sales");
	ck_assert_str_eq(mesh_view_branch(view), "main");
	ck_assert_int_eq(mesh_view_lookup(view, "", &root), 0);
	ck_assert_int_eq(root.kind, MESH_KIND_DIR);
	assert_names("", "");
	assert_status("");
}
END_TEST

/* --- staging and lookup ---------------------------------------------- */

START_TEST(staged_files_in_nested_dirs_are_visible)
{
	mesh_view_entry entry;

	make_dir("orders");
	make_dir("orders/2026");
	stage("orders/2026/b.csv", "id,amount\n2,7\n");
	stage("orders/2026/a.csv", "id,amount\n1,12\n");
	stage("orders/readme.txt", "orders by year\n");
	stage("top.txt", "top");

	ck_assert_int_eq(mesh_view_lookup(view, "orders/2026/a.csv", &entry), 0);
	ck_assert_int_eq(entry.kind, MESH_KIND_FILE);
	ck_assert_uint_eq(entry.size, strlen("id,amount\n1,12\n"));
	ck_assert_uint_eq(entry.mode, 0644);
	ck_assert_int_eq(entry.mtime_ns, 1000);
	ck_assert(entry.staged);
	assert_content("orders/2026/a.csv", "id,amount\n1,12\n");
	assert_content("orders/2026/b.csv", "id,amount\n2,7\n");
	assert_content("orders/readme.txt", "orders by year\n");
	assert_content("top.txt", "top");

	ck_assert_int_eq(kind_of("orders"), MESH_KIND_DIR);
	ck_assert_int_eq(kind_of("orders/2026"), MESH_KIND_DIR);
	assert_names("", "orders/,top.txt");
	assert_names("orders", "2026/,readme.txt");
	assert_names("orders/2026", "a.csv,b.csv");
}
END_TEST

START_TEST(lookup_errors_are_those_of_a_shell)
{
	mesh_view_entry entry;
	mesh_view_dirent *dirents;
	size_t count;

	stage("file.txt", "x");
	ck_assert_int_eq(mesh_view_lookup(view, "nosuch", &entry), MESH_ENOENT);
	ck_assert_int_eq(mesh_view_lookup(view, "nosuch/deeper", &entry), MESH_ENOENT);
	ck_assert_int_eq(mesh_view_lookup(view, "file.txt/x", &entry), MESH_ENOTDIR);
	ck_assert_int_eq(mesh_view_list(view, "file.txt", &dirents, &count), MESH_ENOTDIR);
	ck_assert_int_eq(mesh_view_list(view, "nosuch", &dirents, &count), MESH_ENOENT);
	ck_assert_int_eq(mesh_view_lookup(view, "/file.txt", &entry), MESH_EINVAL);
	ck_assert_int_eq(mesh_view_lookup(view, "a//b", &entry), MESH_EINVAL);
}
END_TEST

START_TEST(stage_needs_an_existing_parent_dir)
{
	ck_assert_int_eq(stage_in(view, "nodir/a.csv", "x"), MESH_ENOENT);
	stage("file.txt", "x");
	ck_assert_int_eq(stage_in(view, "file.txt/a.csv", "x"), MESH_ENOTDIR);
	assert_names("", "file.txt");
}
END_TEST

START_TEST(restaging_replaces_content)
{
	stage("a.csv", "old");
	stage("a.csv", "new content");
	assert_content("a.csv", "new content");
	assert_names("", "a.csv");
}
END_TEST

START_TEST(listing_merges_committed_and_staged_in_order)
{
	stage("a", "1");
	stage("c", "3");
	make_dir("e");
	commit_all("first");
	stage("b", "2");
	stage("d", "4");
	stage("c", "33");
	assert_names("", "a,b,c,d,e/");
	assert_content("c", "33");
	assert_content("a", "1");
}
END_TEST

START_TEST(symlink_is_staged_as_symlink)
{
	mesh_oid id = store_content("orders/2026");
	mesh_view_entry entry;

	ck_assert_int_eq(mesh_view_stage_content(view, &caller, "link", MESH_KIND_SYMLINK,
						 0777, 11, 5, &id, true), 0);
	ck_assert_int_eq(mesh_view_lookup(view, "link", &entry), 0);
	ck_assert_int_eq(entry.kind, MESH_KIND_SYMLINK);
	ck_assert_uint_eq(entry.size, 11);
	ck_assert_int_eq(mesh_oid_cmp(&entry.id, &id), 0);
}
END_TEST

/* --- mkdir, unlink, rmdir -------------------------------------------- */

START_TEST(mkdir_existing_is_eexist)
{
	mesh_view_entry entry;

	ck_assert_int_eq(mesh_view_mkdir(view, &caller, "d", 0750), 0);
	ck_assert_int_eq(mesh_view_lookup(view, "d", &entry), 0);
	ck_assert_int_eq(entry.kind, MESH_KIND_DIR);
	/* The view's root is setgid (02775): a new directory in it is too. */
	ck_assert_uint_eq(entry.mode, 02750);
	stage("f", "x");
	ck_assert_int_eq(mesh_view_mkdir(view, &caller, "d", 0755), MESH_EEXIST);
	ck_assert_int_eq(mesh_view_mkdir(view, &caller, "f", 0755), MESH_EEXIST);
	commit_all("c");
	ck_assert_int_eq(mesh_view_mkdir(view, &caller, "d", 0755), MESH_EEXIST);
	ck_assert_int_eq(mesh_view_mkdir(view, &caller, "f", 0755), MESH_EEXIST);
	ck_assert_int_eq(mesh_view_mkdir(view, &caller, "", 0755), MESH_EPERM);
	ck_assert_int_eq(mesh_view_mkdir(view, &caller, "x/y", 0755), MESH_ENOENT);
	ck_assert_int_eq(kind_of("f"), MESH_KIND_FILE);
	assert_status("");
}
END_TEST

START_TEST(unlink_staged_and_committed_files)
{
	make_dir("d");
	stage("d/committed.csv", "c");
	stage("keep.csv", "k");
	commit_all("c");
	stage("d/staged.csv", "s");

	ck_assert_int_eq(mesh_view_unlink(view, &caller, "d/staged.csv"), 0);
	ck_assert_int_eq(mesh_view_unlink(view, &caller, "d/committed.csv"), 0);
	assert_absent("d/staged.csv");
	assert_absent("d/committed.csv");
	assert_names("d", "");
	assert_names("", "d/,keep.csv");
	ck_assert_int_eq(mesh_view_unlink(view, &caller, "d/committed.csv"), MESH_ENOENT);
	ck_assert_int_eq(mesh_view_unlink(view, &caller, "d"), MESH_EISDIR);
	ck_assert_int_eq(kind_of("d"), MESH_KIND_DIR);
}
END_TEST

START_TEST(rmdir_rules)
{
	make_dir("full");
	stage("full/a", "a");
	make_dir("committed");
	stage("committed/b", "b");
	stage("file", "f");
	commit_all("c");
	make_dir("staged_full");
	stage("staged_full/x", "x");
	make_dir("empty");

	ck_assert_int_eq(mesh_view_rmdir(view, &caller, "full"), MESH_ENOTEMPTY);
	ck_assert_int_eq(mesh_view_rmdir(view, &caller, "staged_full"), MESH_ENOTEMPTY);
	ck_assert_int_eq(mesh_view_rmdir(view, &caller, "file"), MESH_ENOTDIR);
	ck_assert_int_eq(mesh_view_rmdir(view, &caller, "nosuch"), MESH_ENOENT);
	ck_assert_int_eq(mesh_view_rmdir(view, &caller, ""), MESH_EPERM);
	assert_content("full/a", "a");

	ck_assert_int_eq(mesh_view_rmdir(view, &caller, "empty"), 0);
	assert_absent("empty");
	ck_assert_int_eq(mesh_view_unlink(view, &caller, "committed/b"), 0);
	ck_assert_int_eq(mesh_view_rmdir(view, &caller, "committed"), 0);
	assert_absent("committed");
	assert_absent("committed/b");
	assert_names("", "file,full/,staged_full/");
	/* A new directory of the same name starts empty. */
	make_dir("committed");
	assert_names("committed", "");
}
END_TEST

/* --- rename ---------------------------------------------------------- */

START_TEST(rename_file_over_existing_file)
{
	stage("old.csv", "old target");
	stage("src.csv", "source");
	commit_all("c");

	ck_assert_int_eq(mesh_view_rename(view, &caller, "src.csv", "old.csv", false), 0);
	assert_content("old.csv", "source");
	assert_absent("src.csv");
	assert_names("", "old.csv");

	/* Staged over staged. */
	stage("s1", "one");
	stage("s2", "two");
	ck_assert_int_eq(mesh_view_rename(view, &caller, "s1", "s2", false), 0);
	assert_content("s2", "one");
	assert_absent("s1");
}
END_TEST

START_TEST(rename_noreplace_and_kind_mismatch)
{
	stage("a", "A");
	stage("b", "B");
	make_dir("d");
	make_dir("full");
	stage("full/x", "x");
	make_dir("empty");

	ck_assert_int_eq(mesh_view_rename(view, &caller, "a", "b", true), MESH_EEXIST);
	ck_assert_int_eq(mesh_view_rename(view, &caller, "a", "d", false), MESH_EISDIR);
	ck_assert_int_eq(mesh_view_rename(view, &caller, "d", "a", false), MESH_ENOTDIR);
	ck_assert_int_eq(mesh_view_rename(view, &caller, "d", "full", false), MESH_ENOTEMPTY);
	ck_assert_int_eq(mesh_view_rename(view, &caller, "nosuch", "z", false), MESH_ENOENT);
	ck_assert_int_eq(mesh_view_rename(view, &caller, "a", "nodir/a", false), MESH_ENOENT);
	assert_content("a", "A");
	assert_content("b", "B");
	assert_names("", "a,b,d/,empty/,full/");

	ck_assert_int_eq(mesh_view_rename(view, &caller, "full", "empty", false), 0);
	assert_content("empty/x", "x");
	assert_absent("full");
	ck_assert_int_eq(mesh_view_rename(view, &caller, "a", "d/a", false), 0);
	assert_content("d/a", "A");
	assert_absent("a");
}
END_TEST

START_TEST(rename_into_own_subdir_is_einval)
{
	make_dir("a");
	make_dir("a/b");
	stage("a/b/f", "f");
	ck_assert_int_eq(mesh_view_rename(view, &caller, "a", "a/c", false), MESH_EINVAL);
	ck_assert_int_eq(mesh_view_rename(view, &caller, "a", "a/b/c", false), MESH_EINVAL);
	assert_names("", "a/");
	assert_names("a", "b/");
	assert_content("a/b/f", "f");
	/* A sibling sharing the prefix is not inside. */
	ck_assert_int_eq(mesh_view_rename(view, &caller, "a", "ab", false), 0);
	assert_content("ab/b/f", "f");
}
END_TEST

/* Makes "d/<200 x a>/<200 x b>/..." directories, len bytes of path, with
 * a file "f" at the bottom; returns the deepest directory's path. */
static char *deep_dirs(size_t len)
{
	char *path = calloc(1, 4096 + 256);
	char name[201];

	strcpy(path, "d");
	make_dir(path);
	for (char c = 'a'; strlen(path) + 1 < len; c++) {
		size_t n = len - strlen(path) - 1;
		memset(name, c, n < 200 ? n : 200);
		name[n < 200 ? n : 200] = '\0';
		strcat(path, "/");
		strcat(path, name);
		make_dir(path);
	}
	strcat(path, "/f");
	stage(path, "bottom");
	path[strlen(path) - 2] = '\0';
	return path;
}

/* A rename that would push an entry below the moved directory past
 * PATH_MAX is ENAMETOOLONG and changes nothing: staged entries and, after
 * a commit, committed ones. */
START_TEST(rename_past_path_max_is_enametoolong)
{
	char *deep = deep_dirs(3900), bottom[4400];
	size_t room = 4095 - (strlen(deep) + 2);   /* bytes the path may grow */
	char to[300];

	snprintf(bottom, sizeof(bottom), "%s/f", deep);
	for (int committed = 0; committed < 2; committed++) {
		memset(to, 'r', room + 2);
		to[room + 2] = '\0';
		to[0] = 'd';                          /* "d" grows by room + 1 */
		ck_assert_int_eq(mesh_view_rename(view, &caller, "d", to, false),
				 MESH_ENAMETOOLONG);
		ck_assert_msg(strstr(mesh_error_message(), "after the rename"), "%s",
			      mesh_error_message());
		assert_content(bottom, "bottom");
		assert_absent(to);
		to[room + 1] = '\0';                        /* exactly fits */
		ck_assert_int_eq(mesh_view_rename(view, &caller, "d", to, false), 0);
		ck_assert_int_eq(mesh_view_rename(view, &caller, to, "d", false), 0);
		assert_content(bottom, "bottom");
		if (!committed)
			commit_all("deep");
	}
	free(deep);
}
END_TEST

/* "." and ".." are never names: no path holding one is staged (it could
 * never be committed), and a name over 255 bytes is ENAMETOOLONG. */
START_TEST(dot_and_dotdot_paths_are_einval)
{
	static const char *bad[] = { ".", "..", "a/.", "a/..", "./x", "a/../b", "a/./b" };
	mesh_view_entry entry;
	char name[300];

	make_dir("a");
	stage("a/f", "f");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(stage_in(view, bad[i], "x"), MESH_EINVAL);
		ck_assert_int_eq(mesh_view_mkdir(view, &caller, bad[i], 0755), MESH_EINVAL);
		ck_assert_int_eq(mesh_view_copy(view, &caller, bad[i], view, "a/f"), MESH_EINVAL);
		ck_assert_int_eq(mesh_view_rename(view, &caller, "a/f", bad[i], false),
				 MESH_EINVAL);
		ck_assert_int_eq(mesh_view_lookup(view, bad[i], &entry), MESH_EINVAL);
	}
	memset(name, 'n', 256);
	name[256] = '\0';
	ck_assert_int_eq(stage_in(view, name, "x"), MESH_ENAMETOOLONG);
	name[255] = '\0';
	ck_assert_int_eq(stage_in(view, name, "x"), 0);
	assert_content("a/f", "f");
	commit_all("names are fine");
}
END_TEST

START_TEST(rename_staged_dir_moves_its_staged_tree)
{
	make_dir("src");
	make_dir("src/sub");
	stage("src/sub/deep.csv", "deep");
	stage("src/top.csv", "top");
	ck_assert_int_eq(mesh_view_rename(view, &caller, "src", "dst", false), 0);
	assert_absent("src");
	assert_names("", "dst/");
	assert_names("dst", "sub/,top.csv");
	assert_content("dst/sub/deep.csv", "deep");
	assert_content("dst/top.csv", "top");
}
END_TEST

#define BIG_FILES 1000

START_TEST(rename_big_committed_dir_touches_no_content)
{
	mesh_oid ids[BIG_FILES], big_tree;
	mesh_odb_stats before, after;
	mesh_view_entry entry;
	mesh_view *fresh, *after_commit;
	uint64_t staged;
	char path[64], content[64];

	make_dir("big");
	for (int i = 0; i < BIG_FILES; i++) {
		snprintf(path, sizeof(path), "big/f%04d.csv", i);
		snprintf(content, sizeof(content), "row %d\n", i);
		stage(path, content);
	}
	stage("other.csv", "other");
	commit_all("1000 files");
	ck_assert_int_eq(mesh_view_lookup(view, "big", &entry), 0);
	big_tree = entry.id;
	for (int i = 0; i < BIG_FILES; i++) {
		snprintf(path, sizeof(path), "big/f%04d.csv", i);
		ck_assert_int_eq(mesh_view_lookup(view, path, &entry), 0);
		ids[i] = entry.id;
	}

	/* A view with a cold tree cache, as after a remount. */
	ck_assert_int_eq(mesh_view_open_branch(&fresh, store, "sales", "main"), 0);
	mesh_odb_stats_get(mesh_store_odb(store), &before);
	ck_assert_int_eq(mesh_view_rename(fresh, &caller, "big", "moved", false), 0);
	mesh_odb_stats_get(mesh_store_odb(store), &after);
	ck_assert_uint_eq(after.writes, before.writes);
	ck_assert_uint_eq(after.write_dups, before.write_dups);
	ck_assert_uint_lt(after.reads - before.reads, 20);
	ck_assert_int_eq(mesh_stage_count(mesh_store_db(store), "sales", "main", &staged), 0);
	ck_assert_uint_lt(staged, 10);

	assert_absent_in(fresh, "big");
	assert_absent_in(fresh, "big/f0000.csv");
	assert_names_in(fresh, "", "moved/,other.csv");
	{
		mesh_view_dirent *dirents;
		size_t count;
		ck_assert_int_eq(mesh_view_list(fresh, "moved", &dirents, &count), 0);
		ck_assert_uint_eq(count, BIG_FILES);
		mesh_view_dirents_free(dirents, count);
	}
	for (int i = 0; i < BIG_FILES; i++) {
		snprintf(path, sizeof(path), "moved/f%04d.csv", i);
		snprintf(content, sizeof(content), "row %d\n", i);
		ck_assert_int_eq(mesh_view_lookup(fresh, path, &entry), 0);
		ck_assert_int_eq(mesh_oid_cmp(&entry.id, &ids[i]), 0);
		assert_content_in(fresh, path, content);
	}

	/* Committed, the new name holds the very same tree. */
	{
		mesh_oid id;
		size_t changes;
		ck_assert_int_eq(mesh_view_commit(fresh, &caller, "move", NULL, 0, &id,
						  &changes), 0);
		after_commit = open_commit(&id);
	}
	ck_assert_int_eq(mesh_view_lookup(after_commit, "moved", &entry), 0);
	ck_assert_int_eq(mesh_oid_cmp(&entry.id, &big_tree), 0);
	assert_absent_in(after_commit, "big");
	assert_content_in(after_commit, "moved/f0999.csv", "row 999\n");
	mesh_view_free(after_commit);
	mesh_view_free(fresh);
}
END_TEST

/* --- setattr --------------------------------------------------------- */

START_TEST(setattr_mode_and_mtime)
{
	mesh_view_entry entry;
	uint32_t mode = 0600;
	int64_t mtime = 1234567890123456789LL;

	stage("f", "content");
	make_dir("d");
	ck_assert_int_eq(mesh_view_setattr(view, &caller, "f", &mode, NULL), 0);
	ck_assert_int_eq(mesh_view_lookup(view, "f", &entry), 0);
	ck_assert_uint_eq(entry.mode, 0600);
	ck_assert_int_eq(entry.mtime_ns, 1000);
	ck_assert_int_eq(mesh_view_setattr(view, &caller, "f", NULL, &mtime), 0);
	ck_assert_int_eq(mesh_view_lookup(view, "f", &entry), 0);
	ck_assert_uint_eq(entry.mode, 0600);
	ck_assert_int_eq(entry.mtime_ns, mtime);
	assert_content("f", "content");

	mode = 0700;
	ck_assert_int_eq(mesh_view_setattr(view, &caller, "d", &mode, &mtime), 0);
	ck_assert_int_eq(mesh_view_lookup(view, "d", &entry), 0);
	ck_assert_int_eq(entry.kind, MESH_KIND_DIR);
	ck_assert_uint_eq(entry.mode, 0700);
	ck_assert_int_eq(entry.mtime_ns, mtime);
	ck_assert_int_eq(mesh_view_setattr(view, &caller, "nosuch", &mode, NULL), MESH_ENOENT);
}
END_TEST

START_TEST(chmod_of_committed_file_is_a_modification)
{
	uint32_t mode = 0600;
	mesh_view_entry entry;
	mesh_oid id;

	stage("f", "content");
	id = commit_all("c");
	ck_assert_int_eq(mesh_view_setattr(view, &caller, "f", &mode, NULL), 0);
	assert_status("modified file f;");
	id = commit_all("chmod");
	{
		mesh_view *v = open_commit(&id);
		ck_assert_int_eq(mesh_view_lookup(v, "f", &entry), 0);
		ck_assert_uint_eq(entry.mode, 0600);
		assert_content_in(v, "f", "content");
		mesh_view_free(v);
	}
}
END_TEST

/* --- status and commit ----------------------------------------------- */

START_TEST(status_lists_added_modified_removed)
{
	make_dir("d");
	stage("d/x", "x");
	stage("keep", "k");
	stage("mod", "old");
	stage("del", "gone soon");
	commit_all("base");
	assert_status("");

	stage("new", "n");
	stage("mod", "changed");
	ck_assert_int_eq(mesh_view_unlink(view, &caller, "del"), 0);
	stage("d/y", "y");
	make_dir("nd");
	stage("keep", "k");   /* same content again: no change */
	/* Parents come before children; siblings in name order. */
	assert_status("removed file del;modified file mod;added dir nd;"
		      "added file new;added file d/y;");
}
END_TEST

START_TEST(status_of_a_file_added_then_removed_is_empty)
{
	stage("tmp", "x");
	ck_assert_int_eq(mesh_view_unlink(view, &caller, "tmp"), 0);
	assert_status("");
	ck_assert_int_eq(mesh_view_commit(view, &caller, "m", NULL, 0,
					  &(mesh_oid){ { 0 } }, &(size_t){ 0 }),
			 MESH_EINVAL);
}
END_TEST

START_TEST(commit_moves_head_and_keeps_old_commit_intact)
{
	mesh_oid first, second, shown;
	mesh_commit *commit;
	mesh_view *old_view, *new_view;
	size_t changes;

	stage("a.csv", "version 1");
	first = commit_all("first");
	mesh_view_commit_id(view, &shown);
	ck_assert_int_eq(mesh_oid_cmp(&shown, &first), 0);
	assert_status("");

	stage("a.csv", "version 2");
	stage("b.csv", "new file");
	ck_assert_int_eq(mesh_view_commit(view, &caller, "second", NULL, 0, &second,
					  &changes), 0);
	ck_assert_uint_eq(changes, 2);
	mesh_view_commit_id(view, &shown);
	ck_assert_int_eq(mesh_oid_cmp(&shown, &second), 0);
	ck_assert_int_ne(mesh_oid_cmp(&first, &second), 0);
	assert_status("");
	ck_assert_int_eq(mesh_ref_get(mesh_store_refs(store), "sales", "heads/main", &shown), 0);
	ck_assert_int_eq(mesh_oid_cmp(&shown, &second), 0);

	ck_assert_int_eq(mesh_commit_load(mesh_store_odb(store), &second, &commit), 0);
	ck_assert_uint_eq(commit->parent_count, 1);
	ck_assert_int_eq(mesh_oid_cmp(&commit->parents[0], &first), 0);
	ck_assert_str_eq(commit->message, "second");
	ck_assert_uint_eq(commit->uid, caller.uid);
	mesh_commit_free(commit);

	old_view = open_commit(&first);
	new_view = open_commit(&second);
	ck_assert(!mesh_view_is_branch(old_view));
	ck_assert_ptr_null(mesh_view_branch(old_view));
	assert_content_in(old_view, "a.csv", "version 1");
	assert_absent_in(old_view, "b.csv");
	assert_names_in(old_view, "", "a.csv");
	assert_content_in(new_view, "a.csv", "version 2");
	assert_content_in(new_view, "b.csv", "new file");
	assert_names_in(new_view, "", "a.csv,b.csv");
	/* The branch keeps showing the same after its commit. */
	assert_content("a.csv", "version 2");
	assert_names("", "a.csv,b.csv");
	mesh_view_free(old_view);
	mesh_view_free(new_view);
}
END_TEST

START_TEST(commit_keeps_meta)
{
	mesh_meta meta[2] = { { "source", "crm" }, { "ticket", "DATA-7" } };
	mesh_commit *commit;
	mesh_oid id;
	size_t changes;

	stage("a", "a");
	ck_assert_int_eq(mesh_view_commit(view, &caller, "m", meta, 2, &id, &changes), 0);
	ck_assert_int_eq(mesh_commit_load(mesh_store_odb(store), &id, &commit), 0);
	ck_assert_uint_eq(commit->meta_count, 2);
	ck_assert_str_eq(commit->meta[0].key, "source");
	ck_assert_str_eq(commit->meta[1].value, "DATA-7");
	mesh_commit_free(commit);
}
END_TEST

START_TEST(empty_dirs_survive_commit)
{
	mesh_view *v;
	mesh_oid id;

	make_dir("empty");
	make_dir("empty/nested");
	id = commit_all("dirs");
	v = open_commit(&id);
	ck_assert_int_eq(kind_in(v, "empty"), MESH_KIND_DIR);
	ck_assert_int_eq(kind_in(v, "empty/nested"), MESH_KIND_DIR);
	assert_names_in(v, "", "empty/");
	assert_names_in(v, "empty", "nested/");
	assert_names_in(v, "empty/nested", "");
	assert_names("empty", "nested/");
	mesh_view_free(v);
}
END_TEST

START_TEST(nothing_to_commit_is_einval)
{
	mesh_oid before, after, id;
	size_t changes;

	mesh_view_commit_id(view, &before);
	ck_assert_int_eq(mesh_view_commit(view, &caller, "m", NULL, 0, &id, &changes),
			 MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "nothing to commit"));
	stage("a", "a");
	commit_all("c");
	ck_assert_int_eq(mesh_view_commit(view, &caller, "m", NULL, 0, &id, &changes),
			 MESH_EINVAL);
	mesh_view_commit_id(view, &after);
	ck_assert_int_ne(mesh_oid_cmp(&before, &after), 0);
	ck_assert_int_eq(mesh_ref_get(mesh_store_refs(store), "sales", "heads/main", &id), 0);
	ck_assert_int_eq(mesh_oid_cmp(&id, &after), 0);
}
END_TEST

START_TEST(commit_of_deleted_file_and_removed_dir)
{
	mesh_view *v;
	mesh_oid id;

	make_dir("keep");
	stage("keep/a", "a");
	stage("keep/b", "b");
	make_dir("gone");
	make_dir("gone/sub");
	stage("gone/sub/x", "x");
	stage("top", "t");
	commit_all("base");

	ck_assert_int_eq(mesh_view_unlink(view, &caller, "keep/b"), 0);
	ck_assert_int_eq(mesh_view_unlink(view, &caller, "gone/sub/x"), 0);
	ck_assert_int_eq(mesh_view_rmdir(view, &caller, "gone/sub"), 0);
	ck_assert_int_eq(mesh_view_rmdir(view, &caller, "gone"), 0);
	assert_status("removed dir gone;removed file keep/b;");
	id = commit_all("cleanup");
	assert_status("");

	v = open_commit(&id);
	assert_names_in(v, "", "keep/,top");
	assert_names_in(v, "keep", "a");
	assert_absent_in(v, "gone");
	assert_content_in(v, "keep/a", "a");
	mesh_view_free(v);
	assert_names("", "keep/,top");
	assert_names("keep", "a");
}
END_TEST

/*
 * rm -r d && mkdir d: the view shows an empty d while the head's d has
 * files, so the commit must record the removal.
 */
START_TEST(recreated_dir_commits_the_removal_of_its_files)
{
	mesh_view *v;
	mesh_oid id;
	size_t changes;

	make_dir("d");
	stage("d/f", "data");
	commit_all("base");

	ck_assert_int_eq(mesh_view_unlink(view, &caller, "d/f"), 0);
	ck_assert_int_eq(mesh_view_rmdir(view, &caller, "d"), 0);
	make_dir("d");
	assert_names("d", "");

	{
		char *status = status_text(view);
		bool empty = *status == '\0';
		free(status);
		ck_assert_msg(!empty, "status is empty though d/f was removed from the view");
	}
	ck_assert_int_eq(mesh_view_commit(view, &caller, "recreate", NULL, 0, &id,
					  &changes), 0);
	v = open_commit(&id);
	assert_names_in(v, "d", "");
	mesh_view_free(v);
}
END_TEST

/* mv a b over an empty committed b: b now holds a's files, and status
 * must say so (same root cause as above: a staged dir is compared by
 * kind and mode only, not by what it lays its children over). */
START_TEST(status_shows_dir_replaced_by_rename)
{
	char *status;
	bool mentions_a, mentions_b;

	make_dir("a");
	stage("a/f", "f");
	make_dir("b");
	commit_all("base");
	ck_assert_int_eq(mesh_view_rename(view, &caller, "a", "b", false), 0);
	assert_content("b/f", "f");
	status = status_text(view);
	mentions_a = strstr(status, "removed dir a;") != NULL;
	mentions_b = strstr(status, "dir b;") != NULL;
	free(status);
	ck_assert(mentions_a);
	ck_assert_msg(mentions_b, "status does not list b, which now holds a's files");
}
END_TEST

START_TEST(read_only_view_rejects_every_change)
{
	mesh_view *ro;
	mesh_oid head, id = store_content("x");
	mesh_view_entry entry;
	uint32_t mode = 0600;
	size_t changes;

	make_dir("d");
	stage("f", "f");
	head = commit_all("c");
	ro = open_commit(&head);

	ck_assert_int_eq(mesh_view_stage_content(ro, &caller, "new", MESH_KIND_FILE, 0644,
						 1, 0, &id, false), MESH_EROFS);
	ck_assert_int_eq(mesh_view_stage_content(ro, &caller, "f", MESH_KIND_FILE, 0644,
						 1, 0, &id, true), MESH_EROFS);
	ck_assert_int_eq(mesh_view_mkdir(ro, &caller, "nd", 0755), MESH_EROFS);
	ck_assert_int_eq(mesh_view_unlink(ro, &caller, "f"), MESH_EROFS);
	ck_assert_int_eq(mesh_view_rmdir(ro, &caller, "d"), MESH_EROFS);
	ck_assert_int_eq(mesh_view_rename(ro, &caller, "f", "g", false), MESH_EROFS);
	ck_assert_int_eq(mesh_view_setattr(ro, &caller, "f", &mode, NULL), MESH_EROFS);
	ck_assert_int_eq(mesh_view_commit(ro, &caller, "m", NULL, 0, &id, &changes),
			 MESH_EROFS);

	assert_names_in(ro, "", "d/,f");
	ck_assert_int_eq(mesh_view_lookup(ro, "f", &entry), 0);
	ck_assert_uint_eq(entry.mode, 0644);
	assert_content_in(ro, "f", "f");
	/* Nothing leaked into the branch either. */
	assert_status("");
	assert_names("", "d/,f");
	mesh_view_free(ro);
}
END_TEST

START_TEST(read_only_view_ignores_branch_staging)
{
	mesh_view *ro;
	mesh_oid head;

	stage("f", "committed");
	head = commit_all("c");
	stage("f", "staged");
	stage("g", "staged only");
	ro = open_commit(&head);
	assert_content_in(ro, "f", "committed");
	assert_names_in(ro, "", "f");
	mesh_view_free(ro);
}
END_TEST

START_TEST(second_view_after_commit_sees_committed_data)
{
	mesh_view *second;

	make_dir("d");
	stage("d/a", "committed a");
	commit_all("c");
	ck_assert_int_eq(mesh_view_open_branch(&second, store, "sales", "main"), 0);
	assert_content_in(second, "d/a", "committed a");
	assert_names_in(second, "", "d/");
	/* Staging is shared by the branch: a change made in one view shows in
	 * the other. */
	ck_assert_int_eq(stage_in(second, "d/b", "staged b"), 0);
	assert_content("d/b", "staged b");
	mesh_view_free(second);
}
END_TEST

/* Two views of one branch alive at once (the mount reopens a view it
 * dropped): a commit through the one that missed the other's commit
 * builds on the branch's head, not on what that view last saw. */
START_TEST(commit_through_a_second_view_keeps_the_first_ones_commit)
{
	mesh_view *second, *fresh;
	mesh_oid id;
	size_t changes;

	ck_assert_int_eq(mesh_view_open_branch(&second, store, "sales", "main"), 0);
	stage("first", "1");
	commit_all("through the first view");
	ck_assert_int_eq(stage_in(second, "second", "2"), 0);
	ck_assert_int_eq(mesh_view_commit(second, &caller, "through the second", NULL, 0,
					  &id, &changes), 0);
	ck_assert_uint_eq(changes, 1);
	ck_assert_int_eq(mesh_view_open_branch(&fresh, store, "sales", "main"), 0);
	assert_content_in(fresh, "first", "1");
	assert_content_in(fresh, "second", "2");
	mesh_view_free(fresh);
	mesh_view_free(second);
}
END_TEST

START_TEST(branches_do_not_see_each_others_staging)
{
	mesh_view *other;
	mesh_oid head;

	stage("base", "b");
	head = commit_all("c");
	ck_assert_int_eq(mesh_ref_set(mesh_store_refs(store), "sales", "heads/dev",
				      &head, NULL), 0);
	ck_assert_int_eq(mesh_view_open_branch(&other, store, "sales", "dev"), 0);
	stage("main-only", "m");
	ck_assert_int_eq(stage_in(other, "dev-only", "d"), 0);
	assert_names("", "base,main-only");
	assert_names_in(other, "", "base,dev-only");
	mesh_view_free(other);
}
END_TEST

START_TEST(staged_changes_survive_reopen)
{
	make_dir("d");
	stage("d/staged.csv", "not yet committed");
	stage("committed", "c");
	commit_all("c");
	stage("d/staged.csv", "changed after commit");
	ck_assert_int_eq(mesh_view_unlink(view, &caller, "committed"), 0);
	mesh_view_free(view);
	mesh_store_close(store);

	ck_assert_int_eq(mesh_store_open(&store, tmp, NULL), 0);
	ck_assert_int_eq(mesh_view_open_branch(&view, store, "sales", "main"), 0);
	assert_content("d/staged.csv", "changed after commit");
	assert_absent("committed");
	assert_status("removed file committed;modified file d/staged.csv;");
}
END_TEST

/* --- creating and storing files --------------------------------------- */

START_TEST(create_file_fails_on_anything_there)
{
	mesh_oid empty = store_content("");
	mesh_view_entry entry;

	make_dir("d");
	stage("d/committed", "c");
	commit_all("c");
	stage("d/staged", "s");
	ck_assert_int_eq(mesh_view_create_file(view, &caller, "d/new", 0640, 77, &empty), 0);
	ck_assert_int_eq(mesh_view_lookup(view, "d/new", &entry), 0);
	ck_assert_int_eq(entry.kind, MESH_KIND_FILE);
	ck_assert_uint_eq(entry.mode, 0640);
	ck_assert_int_eq(entry.mtime_ns, 77);
	ck_assert_uint_eq(entry.size, 0);
	ck_assert_int_eq(mesh_view_create_file(view, &caller, "d/new", 0644, 1, &empty),
			 MESH_EEXIST);
	ck_assert_int_eq(mesh_view_create_file(view, &caller, "d/staged", 0644, 1, &empty),
			 MESH_EEXIST);
	ck_assert_int_eq(mesh_view_create_file(view, &caller, "d/committed", 0644, 1, &empty),
			 MESH_EEXIST);
	ck_assert_int_eq(mesh_view_create_file(view, &caller, "d", 0644, 1, &empty),
			 MESH_EEXIST);
	assert_content("d/committed", "c");
	/* Removed, the name is free again, committed or not. */
	ck_assert_int_eq(mesh_view_unlink(view, &caller, "d/committed"), 0);
	ck_assert_int_eq(mesh_view_create_file(view, &caller, "d/committed", 0644, 1, &empty), 0);
	assert_content("d/committed", "");
	ck_assert_int_eq(mesh_view_create_file(view, &caller, "nodir/f", 0644, 1, &empty),
			 MESH_ENOENT);
	ck_assert_int_eq(mesh_view_create_file(view, &caller, "d/new/f", 0644, 1, &empty),
			 MESH_ENOTDIR);
	assert_names("d", "committed,new,staged");
}
END_TEST

START_TEST(create_file_stages_committed_ancestors)
{
	mesh_oid empty = store_content("");

	make_dir("a");
	make_dir("a/b");
	stage("a/b/old", "o");
	commit_all("c");
	ck_assert_int_eq(mesh_view_create_file(view, &caller, "a/b/new", 0644, 1, &empty), 0);
	assert_names("a/b", "new,old");
	assert_status("added file a/b/new;");
	commit_all("c2");
	assert_names("a/b", "new,old");
	assert_status("");
}
END_TEST

START_TEST(new_content_keeps_the_directory_mtime)
{
	mesh_oid empty = store_content(""), id = store_content("content");
	mesh_view_entry dir, file;
	int64_t created;

	make_dir("d");
	ck_assert_int_eq(mesh_view_create_file(view, &caller, "d/f", 0644, 1, &empty), 0);
	ck_assert_int_eq(mesh_view_lookup(view, "d", &dir), 0);
	created = dir.mtime_ns;
	ck_assert_int_eq(mesh_view_stage_content(view, &caller, "d/f", MESH_KIND_FILE, 0644,
						 7, 5, &id, false), 0);
	ck_assert_int_eq(mesh_view_lookup(view, "d", &dir), 0);
	ck_assert_int_eq(dir.mtime_ns, created);
	ck_assert_int_eq(mesh_view_lookup(view, "d/f", &file), 0);
	ck_assert_int_eq(file.mtime_ns, 5);
	assert_content("d/f", "content");
}
END_TEST

START_TEST(content_and_its_objects_land_in_one_write)
{
	mesh_db_batch *batch;
	mesh_file_writer *w;
	mesh_oid map;
	uint64_t size;

	make_dir("d");
	ck_assert_int_eq(mesh_file_writer_new(&w, mesh_store_odb(store), NULL), 0);
	ck_assert_int_eq(mesh_file_writer_append(w, "small file", 10), 0);
	ck_assert_int_eq(mesh_db_batch_new(&batch), 0);
	ck_assert_int_eq(mesh_file_writer_snapshot_batched(w, batch, &map, &size), 0);
	ck_assert_uint_eq(size, 10);
	/* The map and its chunk wait in the batch. */
	ck_assert_int_eq(mesh_odb_exists(mesh_store_odb(store), &map), 0);
	ck_assert_int_eq(mesh_view_stage_content_with(view, batch, &caller, "d/f",
						      MESH_KIND_FILE, 0644, size, 1, &map,
						      false), 0);
	mesh_db_batch_free(batch);
	ck_assert_int_eq(mesh_odb_exists(mesh_store_odb(store), &map), 1);
	assert_content("d/f", "small file");

	/* A failed staging writes none of the objects. */
	ck_assert_int_eq(mesh_file_writer_append(w, " grown", 6), 0);
	ck_assert_int_eq(mesh_db_batch_new(&batch), 0);
	ck_assert_int_eq(mesh_file_writer_snapshot_batched(w, batch, &map, &size), 0);
	ck_assert_int_eq(mesh_view_stage_content_with(view, batch, &caller, "nodir/f",
						      MESH_KIND_FILE, 0644, size, 1, &map,
						      false), MESH_ENOENT);
	mesh_db_batch_free(batch);
	ck_assert_int_eq(mesh_odb_exists(mesh_store_odb(store), &map), 0);
	assert_content("d/f", "small file");
	mesh_file_writer_free(w);
}
END_TEST

/* Lookups remember answers until anything is written: a change made
 * through another view, a reset or a commit must show at once. */
START_TEST(lookups_see_every_change_at_once)
{
	mesh_view *second;
	mesh_oid empty = store_content("");
	mesh_change *dropped;
	size_t count;

	make_dir("d");
	ck_assert_int_eq(mesh_view_open_branch(&second, store, "sales", "main"), 0);
	assert_absent("d/f");
	assert_absent_in(second, "d/f");
	ck_assert_int_eq(mesh_view_create_file(second, &caller, "d/f", 0644, 1, &empty), 0);
	ck_assert_int_eq(kind_of("d/f"), MESH_KIND_FILE);
	stage("d/f", "one");
	assert_content_in(second, "d/f", "one");
	ck_assert_int_eq(stage_in(second, "d/f", "two"), 0);
	assert_content("d/f", "two");
	ck_assert_int_eq(mesh_view_unlink(second, &caller, "d/f"), 0);
	assert_absent("d/f");
	ck_assert_int_eq(mesh_view_create_file(view, &caller, "d/f", 0644, 1, &empty), 0);
	ck_assert_int_eq(mesh_view_reset(second, &caller, "", &dropped, &count), 0);
	mesh_changes_free(dropped, count);
	assert_absent("d/f");
	assert_absent("d");
	make_dir("d");
	stage("d/f", "committed");
	commit_all("c");
	/* Committed, d/f is no longer staged: only the new head has it. */
	ck_assert_int_eq(mesh_view_refresh(second), 0);
	assert_content_in(second, "d/f", "committed");
	ck_assert_int_eq(mesh_view_create_file(second, &caller, "d/f", 0644, 1, &empty),
			 MESH_EEXIST);
	mesh_view_free(second);
}
END_TEST

/* --- ownership, special files, times ---------------------------------- */

/* alice and bob are in the domain's writers group (TEAM_GID), beside
 * their own primary groups. */
#define TEAM_GID 4000

static int team_groups(const void *source, gid_t *out, int max)
{
	(void)source;
	if (max < 1)
		return 0;
	out[0] = TEAM_GID;
	return 1;
}

static mesh_caller alice = { .uid = 1001, .gid = 2001, .groups_of = team_groups };
static mesh_caller bob = { .uid = 1002, .gid = 2002, .groups_of = team_groups };
static mesh_caller root = { .uid = 0, .gid = 0 };

/* Makes TEAM_GID the writers of sales, so alice and bob may write. */
static void team_writes(void)
{
	mesh_domain *d;

	ck_assert_int_eq(mesh_domain_get(store, "sales", &d), 0);
	d->has_writers = true;
	d->writers_gid = TEAM_GID;
	ck_assert_int_eq(mesh_domain_update(store, d), 0);
	mesh_domain_free(d);
}

static mesh_view_entry entry_at(mesh_view *v, const char *path)
{
	mesh_view_entry e;

	ck_assert_int_eq(mesh_view_lookup(v, path, &e), 0);
	return e;
}

static int chown_as(const mesh_caller *who, const char *path, const uint32_t *uid,
		    const uint32_t *gid)
{
	mesh_view_attr attr = { .uid = uid, .gid = gid };

	return mesh_view_change_attr(view, who, path, &attr);
}

static void set_mode(const char *path, uint32_t mode)
{
	ck_assert_int_eq(mesh_view_setattr(view, &root, path, &mode, NULL), 0);
}

/* A directory without the root's setgid bit, writable by anyone. */
static void plain_dir(const char *path)
{
	ck_assert_int_eq(mesh_view_mkdir(view, &root, path, 0777), 0);
	set_mode(path, 0777);
}

START_TEST(new_entries_belong_to_their_creator)
{
	mesh_view_entry e, root_entry = entry_at(view, "");
	mesh_oid empty = store_content("");

	team_writes();
	root_entry = entry_at(view, "");

	/* The view's root is setgid: a top-level directory gets its group
	 * and the bit. */
	ck_assert_uint_eq(root_entry.mode, 02775);
	ck_assert_int_eq(mesh_view_mkdir(view, &alice, "a", 0755), 0);
	e = entry_at(view, "a");
	ck_assert_uint_eq(e.uid, 1001);
	ck_assert_uint_eq(e.gid, root_entry.gid);
	ck_assert_uint_eq(e.mode, 02755);
	/* Elsewhere the creator's own group. */
	plain_dir("plain");
	ck_assert_int_eq(mesh_view_create_file(view, &alice, "plain/f", 0640, 5, &empty), 0);
	e = entry_at(view, "plain/f");
	ck_assert_uint_eq(e.uid, 1001);
	ck_assert_uint_eq(e.gid, 2001);
	ck_assert_int_eq(e.atime_ns, 5);
	ck_assert_int_eq(e.ctime_ns, 5);
	/* New content by someone else (a close by another writer) keeps it. */
	ck_assert_int_eq(mesh_view_stage_content(view, &bob, "plain/f", MESH_KIND_FILE, 0640, 0,
						 9, &empty, false), 0);
	ck_assert_uint_eq(entry_at(view, "plain/f").uid, 1001);
	/* A setgid directory gives its group; a non-member's set-gid file
	 * loses the bit, as Linux strips it. */
	ck_assert_int_eq(chown_as(&root, "a", NULL, &(uint32_t){ 3000 }), 0);
	ck_assert_int_eq(mesh_view_create_file(view, &bob, "a/b", 02775, 5, &empty), 0);
	e = entry_at(view, "a/b");
	ck_assert_uint_eq(e.gid, 3000);
	ck_assert_uint_eq(e.mode, 0775);
	ck_assert_int_eq(mesh_view_mkdir(view, &bob, "a/sub", 0700), 0);
	ck_assert_uint_eq(entry_at(view, "a/sub").mode, 02700);
	ck_assert_uint_eq(entry_at(view, "a/sub").gid, 3000);
}
END_TEST

START_TEST(special_files_are_entries)
{
	mesh_view_entry e;

	team_writes();

	plain_dir("p");
	ck_assert_int_eq(mesh_view_mknod(view, &alice, "p/fifo", MESH_KIND_FIFO, 0640, 0), 0);
	ck_assert_int_eq(mesh_view_mknod(view, &alice, "p/sock", MESH_KIND_SOCKET, 0755, 0), 0);
	ck_assert_int_eq(mesh_view_mknod(view, &alice, "p/dev", MESH_KIND_CHRDEV, 0600, 259),
			 MESH_EPERM);
	ck_assert_int_eq(mesh_view_mknod(view, &root, "p/dev", MESH_KIND_CHRDEV, 0600, 259), 0);
	ck_assert_int_eq(mesh_view_mknod(view, &root, "p/dev", MESH_KIND_BLKDEV, 0600, 1),
			 MESH_EEXIST);
	ck_assert_int_eq(mesh_view_mknod(view, &root, "p/f2", MESH_KIND_FIFO, 0600, 7),
			 MESH_EINVAL);
	commit_all("specials");
	e = entry_at(view, "p/fifo");
	ck_assert_int_eq(e.kind, MESH_KIND_FIFO);
	ck_assert_uint_eq(e.uid, 1001);
	ck_assert_uint_eq(e.mode, 0640);
	ck_assert_int_eq(kind_of("p/sock"), MESH_KIND_SOCKET);
	e = entry_at(view, "p/dev");
	ck_assert_int_eq(e.kind, MESH_KIND_CHRDEV);
	ck_assert_uint_eq(e.rdev, 259);
	ck_assert_uint_eq(e.uid, 0);
	ck_assert_int_eq(mesh_view_unlink(view, &root, "p/fifo"), 0);
	assert_absent("p/fifo");
}
END_TEST

START_TEST(chown_follows_posix)
{
	mesh_oid empty = store_content("");
	uint32_t to_bob = 1002, other_group = 3000, own_group = 2001;
	mesh_view_attr kill = { .kill_suid = true };

	team_writes();

	plain_dir("d");
	ck_assert_int_eq(mesh_view_create_file(view, &alice, "d/f", 0755, 1, &empty), 0);
	set_mode("d/f", 06755);
	ck_assert_int_eq(chown_as(&alice, "d/f", &to_bob, NULL), MESH_EPERM);
	ck_assert_int_eq(chown_as(&alice, "d/f", NULL, &other_group), MESH_EPERM);
	ck_assert_int_eq(chown_as(&bob, "d/f", NULL, &own_group), MESH_EPERM);
	ck_assert_uint_eq(entry_at(view, "d/f").mode, 06755);   /* refusals change nothing */
	/* The owner may keep their uid and pick a group of theirs; the
	 * set-id bits go (S_ISGID as group-execute is set). */
	ck_assert_int_eq(chown_as(&alice, "d/f", &(uint32_t){ 1001 }, &own_group), 0);
	ck_assert_uint_eq(entry_at(view, "d/f").mode, 0755);
	/* Without group-execute S_ISGID stays (it marks locking). */
	set_mode("d/f", 06745);
	ck_assert_int_eq(chown_as(&root, "d/f", &to_bob, &other_group), 0);
	ck_assert_uint_eq(entry_at(view, "d/f").mode, 02745);
	ck_assert_uint_eq(entry_at(view, "d/f").uid, 1002);
	ck_assert_uint_eq(entry_at(view, "d/f").gid, 3000);
	/* A directory keeps its bits. */
	set_mode("d", 02775);
	ck_assert_int_eq(chown_as(&root, "d", &to_bob, NULL), 0);
	ck_assert_uint_eq(entry_at(view, "d").mode, 02775);
	/* The kernel's ATTR_KILL_SUID. */
	set_mode("d/f", 04755);
	ck_assert_int_eq(mesh_view_change_attr(view, &bob, "d/f", &kill), 0);
	ck_assert_uint_eq(entry_at(view, "d/f").mode, 0755);
}
END_TEST

START_TEST(ownership_survives_commit_and_merge)
{
	uint32_t uid = 1001, gid = 2001, to_bob = 1002;
	mesh_view *commit_view, *feat;
	mesh_branch_outcome outcome;
	mesh_change *changes;
	mesh_view_entry e;
	mesh_oid head;
	size_t count;

	team_writes();

	stage("x", "data");
	ck_assert_int_eq(chown_as(&root, "x", &uid, &gid), 0);
	head = commit_all("owned");
	ck_assert_int_eq(mesh_view_open_commit(&commit_view, store, "sales", &head), 0);
	e = entry_at(commit_view, "x");
	ck_assert_uint_eq(e.uid, 1001);
	ck_assert_uint_eq(e.gid, 2001);
	/* A commit keeps mtime alone. */
	ck_assert_int_eq(e.atime_ns, e.mtime_ns);
	ck_assert_int_eq(e.ctime_ns, e.mtime_ns);
	mesh_view_free(commit_view);
	ck_assert_uint_eq(entry_at(view, "x").uid, 1001);
	/* A chown is a change of its own: status shows it, merge carries it. */
	ck_assert_int_eq(mesh_branch_create(store, &caller, "sales", "feat", "main", &head), 0);
	ck_assert_int_eq(mesh_view_open_branch(&feat, store, "sales", "feat"), 0);
	ck_assert_int_eq(mesh_view_change_attr(feat, &root, "x",
					       &(mesh_view_attr){ .uid = &to_bob }), 0);
	ck_assert_int_eq(mesh_view_status(feat, &changes, &count), 0);
	ck_assert_uint_eq(count, 1);
	ck_assert_int_eq(changes[0].type, MESH_CHANGE_MODIFIED);
	mesh_changes_free(changes, count);
	test_commit(feat, &caller);
	mesh_view_free(feat);
	ck_assert_int_eq(mesh_branch_merge(store, view, &caller, "feat", MESH_MERGE_FAIL, "m",
					   &outcome), 0);
	mesh_branch_outcome_free(&outcome);
	ck_assert_uint_eq(entry_at(view, "x").uid, 1002);
	ck_assert_uint_eq(entry_at(view, "x").gid, 2001);
}
END_TEST

/* A tree of one file written as meshfs did before ownership was
 * versioned (MTREE1), committed on the branch. */
static void commit_v1_tree(const mesh_oid *file)
{
	unsigned char buf[11 + 55 + 4];
	unsigned char *p = buf + 11;
	mesh_oid tree, out;

	memset(buf, 0, sizeof(buf));
	memcpy(buf, "MTREE1\n", 7);
	buf[7] = 1;
	p[0] = MESH_KIND_FILE;
	p[1] = 0xa4; p[2] = 0x01;                  /* 0644 */
	p[5] = 4;                                  /* size */
	p[13] = 1;                                 /* mtime */
	memcpy(p + 21, file->id, MESH_OID_RAWSZ);
	p[53] = 4;                                 /* name length */
	memcpy(p + 55, "old1", 4);
	ck_assert_int_eq(mesh_odb_write(mesh_store_odb(store), MESH_OBJ_TREE, buf,
					sizeof(buf), &tree), 0);
	ck_assert_int_eq(mesh_view_apply(view, &caller, NULL, &tree, NULL, "test", NULL, "v1",
					 NULL, 0, &out), 0);
}

/* The uid in the head's tree of a top-level entry. */
static uint32_t committed_uid(const char *name)
{
	mesh_oid root_tree;
	mesh_tree *tree;
	uint32_t uid;

	mesh_view_root_tree(view, &root_tree);
	ck_assert_int_eq(mesh_tree_load(mesh_store_odb(store), &root_tree, &tree), 0);
	ck_assert_ptr_nonnull(mesh_tree_find(tree, name));
	uid = mesh_tree_find(tree, name)->uid;
	mesh_tree_free(tree);
	return uid;
}

START_TEST(old_trees_show_the_legacy_owner)
{
	uint32_t legacy_uid, legacy_gid, mode = 0600;
	bool changed;
	mesh_oid file = store_content("old!");
	mesh_change *changes;
	mesh_view_entry e;
	size_t count;

	team_writes();

	mesh_store_legacy_owner(store, &legacy_uid, &legacy_gid);
	commit_v1_tree(&file);
	e = entry_at(view, "old1");
	ck_assert_uint_eq(e.uid, legacy_uid);
	ck_assert_uint_eq(e.gid, legacy_gid);
	ck_assert_uint_eq(e.mode, 0644);
	assert_content("old1", "old!");
	/* A chmod stages it with its owner resolved: no owner change. */
	ck_assert_int_eq(mesh_view_setattr(view, &root, "old1", &mode, NULL), 0);
	ck_assert_int_eq(mesh_view_status(view, &changes, &count), 0);
	ck_assert_uint_eq(count, 1);
	mesh_changes_free(changes, count);
	commit_all("chmod");
	e = entry_at(view, "old1");
	ck_assert_uint_eq(e.uid, legacy_uid);
	ck_assert_uint_eq(e.mode, 0600);
	/* The tree keeps the legacy marker while the owner is the legacy
	 * one, so a kept atime and a new file beside it change no byte of
	 * old1's entry. */
	ck_assert_uint_eq(committed_uid("old1"), MESH_OWNER_LEGACY);
	ck_assert_int_eq(mesh_view_access(view, &caller, "old1", e.mtime_ns + 1, &changed), 0);
	ck_assert(changed);
	stage("beside", "b");
	commit_all("beside");
	ck_assert_uint_eq(committed_uid("old1"), MESH_OWNER_LEGACY);
	/* A real chown writes the owner. */
	ck_assert_int_eq(chown_as(&root, "old1", &(uint32_t){ 1001 }, NULL), 0);
	commit_all("chown");
	ck_assert_uint_eq(committed_uid("old1"), 1001);
}
END_TEST

START_TEST(a_read_moves_atime_and_stages_no_change)
{
	mesh_view_entry before, after;
	mesh_change *changes;
	bool changed;
	size_t count;

	team_writes();

	make_dir("dir");
	stage("dir/r.csv", "read me");
	commit_all("r");
	before = entry_at(view, "dir/r.csv");
	ck_assert_int_eq(mesh_view_access(view, &caller, "dir/r.csv", before.mtime_ns + 10,
					  &changed), 0);
	ck_assert(changed);
	after = entry_at(view, "dir/r.csv");
	ck_assert_int_eq(after.atime_ns, before.mtime_ns + 10);
	ck_assert_int_eq(after.ctime_ns, before.ctime_ns);
	ck_assert_int_eq(after.mtime_ns, before.mtime_ns);
	/* relatime: no second update while atime is after mtime and ctime. */
	ck_assert_int_eq(mesh_view_access(view, &caller, "dir/r.csv", before.mtime_ns + 20,
					  &changed), 0);
	ck_assert(!changed);
	/* ...but a day later. */
	ck_assert_int_eq(mesh_view_access(view, &caller, "dir/r.csv",
					  before.mtime_ns + 10 + 86400LL * 1000000000LL, &changed), 0);
	ck_assert(changed);
	/* A kept atime is no change: status is empty, merges may run. */
	ck_assert_int_eq(mesh_view_status(view, &changes, &count), 0);
	ck_assert_uint_eq(count, 0);
	mesh_changes_free(changes, count);
	ck_assert_int_eq(mesh_view_check_clean(view, "merge"), 0);
}
END_TEST

START_TEST(directory_nlink_counts_subdirectories)
{
	mesh_view_entry e;
	uint32_t nlink;

	team_writes();

	make_dir("d");
	make_dir("d/a");
	make_dir("d/b");
	stage("d/f", "file");
	e = entry_at(view, "d");
	ck_assert_int_eq(mesh_view_dir_nlink(view, "d", &e, &nlink), 0);
	ck_assert_uint_eq(nlink, 4);
	e = entry_at(view, "");
	ck_assert_int_eq(mesh_view_dir_nlink(view, "", &e, &nlink), 0);
	ck_assert_uint_eq(nlink, 3);
	commit_all("dirs");
	e = entry_at(view, "d");
	ck_assert(!e.staged);
	ck_assert_int_eq(mesh_view_dir_nlink(view, "d", &e, &nlink), 0);
	ck_assert_uint_eq(nlink, 4);
	e = entry_at(view, "d/f");
	ck_assert_int_eq(mesh_view_dir_nlink(view, "d/f", &e, &nlink), 0);
	ck_assert_uint_eq(nlink, 1);
}
END_TEST

static uint32_t nlink_of(const char *path)
{
	mesh_view_entry e = entry_at(view, path);
	uint32_t nlink;

	ck_assert_int_eq(mesh_view_dir_nlink(view, path, &e, &nlink), 0);
	return nlink;
}

/* A staged directory's count is kept between asks (the kernel asks after
 * every create in it) and never outlives a change of its directories. */
START_TEST(a_kept_nlink_follows_every_directory_change)
{
	mesh_caller *me = &caller;

	make_dir("d");
	ck_assert_uint_eq(nlink_of("d"), 2);
	stage("d/f", "a file changes no count");
	ck_assert_uint_eq(nlink_of("d"), 2);
	make_dir("d/a");
	ck_assert_uint_eq(nlink_of("d"), 3);
	stage("d/g", "asked again after a create");
	ck_assert_uint_eq(nlink_of("d"), 3);
	make_dir("d/b");
	ck_assert_uint_eq(nlink_of("d"), 4);
	ck_assert_int_eq(mesh_view_rename(view, me, "d/b", "d/c", false), 0);
	ck_assert_uint_eq(nlink_of("d"), 4);
	ck_assert_int_eq(mesh_view_rename(view, me, "d/c", "moved", false), 0);
	ck_assert_uint_eq(nlink_of("d"), 3);
	ck_assert_int_eq(mesh_view_rmdir(view, me, "d/a"), 0);
	ck_assert_uint_eq(nlink_of("d"), 2);
	make_dir("d/z");
	ck_assert_uint_eq(nlink_of("d"), 3);
	mesh_change *dropped;
	size_t count;
	ck_assert_int_eq(mesh_view_reset(view, me, "d/z", &dropped, &count), 0);
	mesh_changes_free(dropped, count);
	ck_assert_uint_eq(nlink_of("d"), 2);
}
END_TEST

static Suite *view_suite(void)
{
	Suite *s = suite_create("view");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, open_unknown_branch_or_domain_is_enoent);
	tcase_add_test(tc, new_branch_view_is_empty);
	tcase_add_test(tc, staged_files_in_nested_dirs_are_visible);
	tcase_add_test(tc, lookup_errors_are_those_of_a_shell);
	tcase_add_test(tc, stage_needs_an_existing_parent_dir);
	tcase_add_test(tc, create_file_fails_on_anything_there);
	tcase_add_test(tc, create_file_stages_committed_ancestors);
	tcase_add_test(tc, new_content_keeps_the_directory_mtime);
	tcase_add_test(tc, content_and_its_objects_land_in_one_write);
	tcase_add_test(tc, lookups_see_every_change_at_once);
	tcase_add_test(tc, restaging_replaces_content);
	tcase_add_test(tc, listing_merges_committed_and_staged_in_order);
	tcase_add_test(tc, symlink_is_staged_as_symlink);
	tcase_add_test(tc, mkdir_existing_is_eexist);
	tcase_add_test(tc, unlink_staged_and_committed_files);
	tcase_add_test(tc, rmdir_rules);
	tcase_add_test(tc, rename_file_over_existing_file);
	tcase_add_test(tc, rename_noreplace_and_kind_mismatch);
	tcase_add_test(tc, rename_into_own_subdir_is_einval);
	tcase_add_test(tc, rename_staged_dir_moves_its_staged_tree);
	tcase_add_test(tc, rename_past_path_max_is_enametoolong);
	tcase_add_test(tc, dot_and_dotdot_paths_are_einval);
	tcase_add_test(tc, rename_big_committed_dir_touches_no_content);
	tcase_add_test(tc, setattr_mode_and_mtime);
	tcase_add_test(tc, chmod_of_committed_file_is_a_modification);
	tcase_add_test(tc, status_lists_added_modified_removed);
	tcase_add_test(tc, status_of_a_file_added_then_removed_is_empty);
	tcase_add_test(tc, commit_moves_head_and_keeps_old_commit_intact);
	tcase_add_test(tc, commit_keeps_meta);
	tcase_add_test(tc, empty_dirs_survive_commit);
	tcase_add_test(tc, nothing_to_commit_is_einval);
	tcase_add_test(tc, commit_of_deleted_file_and_removed_dir);
	tcase_add_test(tc, recreated_dir_commits_the_removal_of_its_files);
	tcase_add_test(tc, status_shows_dir_replaced_by_rename);
	tcase_add_test(tc, read_only_view_rejects_every_change);
	tcase_add_test(tc, read_only_view_ignores_branch_staging);
	tcase_add_test(tc, second_view_after_commit_sees_committed_data);
	tcase_add_test(tc, commit_through_a_second_view_keeps_the_first_ones_commit);
	tcase_add_test(tc, branches_do_not_see_each_others_staging);
	tcase_add_test(tc, staged_changes_survive_reopen);
	tcase_add_test(tc, new_entries_belong_to_their_creator);
	tcase_add_test(tc, special_files_are_entries);
	tcase_add_test(tc, chown_follows_posix);
	tcase_add_test(tc, ownership_survives_commit_and_merge);
	tcase_add_test(tc, old_trees_show_the_legacy_owner);
	tcase_add_test(tc, a_read_moves_atime_and_stages_no_change);
	tcase_add_test(tc, directory_nlink_counts_subdirectories);
	tcase_add_test(tc, a_kept_nlink_follows_every_directory_change);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(view_suite());
}
