/* test_access.c - the permission table of README.md row by row, and the
 * commands that set the rules, with fake callers (uid, gid, groups). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "access.h"
#include "branch.h"
#include "control.h"
#include "file.h"
#include "domain.h"
#include "error.h"
#include "store.h"
#include "view.h"

#define OWNER_UID 5001
#define WRITER_UID 5002
#define READER_UID 5003
#define OTHER_UID 5004
#define WRITERS_GID 20     /* dialout: groups that exist, as settings need */
#define READERS_GID 24     /* cdrom */
#define PII_GID 25         /* floppy */

enum { ADMIN, OWNER, WRITER, READER, OTHER, NCALLERS };
static const char *const caller_names[NCALLERS] = { "admin", "owner", "writer", "reader", "other" };

typedef struct groups {
	const gid_t *gids;
	int count;
} groups;

static int fake_groups(const void *source, gid_t *out, int max)
{
	const groups *g = source;
	int n = g->count < max ? g->count : max;

	memcpy(out, g->gids, (size_t)n * sizeof(gid_t));
	return n;
}

static const gid_t writer_gids[] = { 100, WRITERS_GID };
static const gid_t reader_gids[] = { 100, READERS_GID };
static const gid_t no_gids[] = { 100 };
static const groups writer_groups = { writer_gids, 2 };
static const groups reader_groups = { reader_gids, 2 };
static const groups no_groups = { no_gids, 1 };

static mesh_caller callers[NCALLERS];
static char *tmp;
static mesh_store *store;
static mesh_control_env env;
static test_views table;

static mesh_caller fake_caller(uid_t uid, gid_t gid, const groups *g)
{
	mesh_caller c = { .uid = uid, .gid = gid, .pid = 1, .groups_of = fake_groups, .source = g };
	return c;
}

/* Runs line as caller; the code, and the answer in *answer (freed by the next call). */
static int run_as(int who, const char *line, char **answer)
{
	static char *last;

	free(last);
	last = NULL;
	int error = mesh_control_run(&env, &callers[who], line, &last);
	if (answer)
		*answer = last;
	return error;
}

static void ok_as(int who, const char *line)
{
	char *answer;
	int error = run_as(who, line, &answer);

	ck_assert_msg(error == 0, "%s: [%s] failed: %s", caller_names[who], line, answer);
}

static void fails_as(int who, const char *line, int code, const char *in_message)
{
	char *answer;
	int error = run_as(who, line, &answer);

	ck_assert_msg(error == code, "%s: [%s] gave %d, want %d: %s", caller_names[who], line,
		      error, code, answer);
	if (in_message)
		ck_assert_msg(strstr(answer, in_message), "%s: [%s] answer lacks [%s]: %s",
			      caller_names[who], line, in_message, answer);
}

/* sales: owner, writers and readers groups, main protected, a branch dev,
 * customers/pii/ (all below it) readable only by PII_GID, files committed. */
static void make_domain(bool restricted)
{
	mesh_domain_opts opts = { .description = "orders", .has_writers = true,
		.writers_gid = WRITERS_GID, .has_readers = true, .readers_gid = READERS_GID,
		.restricted = restricted, .protect_main = 1 };
	mesh_oid head;
	mesh_view *view;

	ck_assert_int_eq(mesh_domain_create_with(store, &callers[OWNER], "sales", &opts), 0);
	ck_assert_int_eq(mesh_view_open_branch(&view, store, "sales", "dev"), MESH_ENOENT);
	ck_assert_int_eq(mesh_branch_create(store, &callers[OWNER], "sales", "dev", "main", &head), 0);
	ck_assert_int_eq(mesh_view_open_branch(&view, store, "sales", "dev"), 0);
	ck_assert_int_eq(mesh_view_mkdir(view, &callers[OWNER], "customers", 0755), 0);
	ck_assert_int_eq(mesh_view_mkdir(view, &callers[OWNER], "customers/pii", 0755), 0);
	ck_assert_int_eq(mesh_view_mkdir(view, &callers[OWNER], "orders", 0755), 0);
	test_stage_file(store, view, &callers[OWNER], "a.csv", "id\n1\n", 5);
	test_stage_file(store, view, &callers[OWNER], "customers/pii/emails.csv", "x@y\n", 4);
	test_stage_file(store, view, &callers[OWNER], "orders/o.csv", "o\n", 2);
	test_commit(view, &callers[OWNER]);
	mesh_view_free(view);
	ok_as(OWNER, "domain restrict sales 'customers/pii/**' --group floppy");
}

static void setup(void)
{
	mesh_caller self;

	tmp = test_tmpdir_new();
	store = test_store_new(tmp, &self, NULL);
	callers[ADMIN] = fake_caller(0, 0, &no_groups);
	callers[OWNER] = fake_caller(OWNER_UID, OWNER_UID, &no_groups);
	callers[WRITER] = fake_caller(WRITER_UID, 100, &writer_groups);
	callers[READER] = fake_caller(READER_UID, 100, &reader_groups);
	callers[OTHER] = fake_caller(OTHER_UID, 100, &no_groups);
	test_views_env(&table, store, &env);
}

static void teardown(void)
{
	test_views_free(&table);
	mesh_store_close(store);
	test_tmpdir_remove(tmp);
}

/* --- the permission table ------------------------------------------------- */

#define OK 0
#define NOENT MESH_ENOENT
#define ACCES MESH_EACCES
#define ROFS MESH_EROFS
#define PERM MESH_EPERM

typedef struct row {
	const char *what;
	mesh_access_op op;
	const char *branch;
	const char *path;
	int want[NCALLERS];     /* admin, owner, writer, reader, other */
} row;

/* README.md, "Who may do what": public domain. */
static const row public_table[] = {
	{ "see the domain", MESH_ACCESS_SEE, NULL, NULL, { OK, OK, OK, OK, OK } },
	{ "read a file", MESH_ACCESS_READ, NULL, "a.csv", { OK, OK, OK, OK, OK } },
	{ "read a sensitive path", MESH_ACCESS_READ, NULL, "customers/pii/emails.csv",
	  { OK, OK, ACCES, ACCES, ACCES } },
	{ "copy a dir holding a sensitive path", MESH_ACCESS_READ_TREE, NULL, "customers",
	  { OK, OK, ACCES, ACCES, ACCES } },
	{ "copy a dir without one", MESH_ACCESS_READ_TREE, NULL, "orders", { OK, OK, OK, OK, OK } },
	{ "write in a branch view", MESH_ACCESS_WRITE, "dev", "a.csv", { OK, OK, OK, ACCES, ACCES } },
	{ "write in a protected branch", MESH_ACCESS_WRITE, "main", "a.csv",
	  { ROFS, ROFS, ROFS, ACCES, ACCES } },
	{ "commit", MESH_ACCESS_COMMIT, "dev", NULL, { OK, OK, OK, ACCES, ACCES } },
	{ "commit a protected branch", MESH_ACCESS_COMMIT, "main", NULL,
	  { PERM, PERM, PERM, ACCES, ACCES } },
	{ "reset", MESH_ACCESS_RESET, "dev", NULL, { OK, OK, OK, ACCES, ACCES } },
	{ "reset a protected branch", MESH_ACCESS_RESET, "main", NULL,
	  { PERM, PERM, PERM, ACCES, ACCES } },
	{ "cherry-pick onto a protected branch", MESH_ACCESS_CHERRY_PICK, "main", NULL,
	  { PERM, PERM, PERM, ACCES, ACCES } },
	{ "merge into a protected branch", MESH_ACCESS_MERGE, "main", NULL,
	  { OK, OK, OK, ACCES, ACCES } },
	{ "revert on a protected branch", MESH_ACCESS_REVERT, "main", NULL,
	  { OK, OK, OK, ACCES, ACCES } },
	{ "create a branch", MESH_ACCESS_BRANCH, NULL, NULL, { OK, OK, OK, ACCES, ACCES } },
	{ "delete a branch", MESH_ACCESS_BRANCH, "dev", NULL, { OK, OK, OK, ACCES, ACCES } },
	{ "delete a protected branch", MESH_ACCESS_BRANCH, "main", NULL,
	  { PERM, PERM, PERM, ACCES, ACCES } },
	{ "create or delete a tag", MESH_ACCESS_TAG, NULL, NULL, { OK, OK, OK, ACCES, ACCES } },
	{ "repair a protected branch's head", MESH_ACCESS_REPAIR, "main", NULL,
	  { OK, OK, OK, ACCES, ACCES } },
	{ "change settings, protect", MESH_ACCESS_ADMIN, NULL, NULL,
	  { OK, OK, ACCES, ACCES, ACCES } },
};

#define ROWS (sizeof(public_table) / sizeof(public_table[0]))

static void check_table(bool restricted)
{
	make_domain(restricted);
	for (size_t i = 0; i < ROWS; i++) {
		const row *r = &public_table[i];
		for (int who = 0; who < NCALLERS; who++) {
			/* To others a restricted domain does not exist at all. */
			int want = restricted && who == OTHER ? NOENT : r->want[who];
			int got = mesh_access_check(store, &callers[who], "sales", r->branch, r->op,
						    r->path);
			ck_assert_msg(got == want, "%s domain, %s: %s gave %s, want %s (%s)",
				      restricted ? "restricted" : "public", r->what, caller_names[who],
				      mesh_error_name(got), mesh_error_name(want), mesh_error_message());
			if (got < 0)
				ck_assert_str_ne(mesh_error_message(), "");
		}
	}
}

START_TEST(public_domain_table)
{
	check_table(false);
}
END_TEST

START_TEST(restricted_domain_table)
{
	check_table(true);
}
END_TEST

START_TEST(sensitive_group_member_reads_in_every_view)
{
	static const gid_t pii_gids[] = { PII_GID };
	static const groups pii = { pii_gids, 1 };
	mesh_caller member = fake_caller(OTHER_UID, 100, &pii);

	make_domain(false);
	ck_assert_int_eq(mesh_access_check(store, &member, "sales", NULL, MESH_ACCESS_READ,
					   "customers/pii/emails.csv"), 0);
	ck_assert_int_eq(mesh_access_check(store, &member, "sales", NULL, MESH_ACCESS_READ_TREE,
					   "customers"), 0);
	/* The rule as it stands now, whatever view (branch, tag, commit) asks:
	 * views name no commit, only a path of the domain. */
	ck_assert_int_eq(mesh_access_check(store, &callers[READER], "sales", NULL, MESH_ACCESS_READ,
					   "customers/pii/emails.csv"), MESH_EACCES);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "customers/pii/**"));
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "floppy"));
}
END_TEST

START_TEST(invisible_domain_reads_like_an_absent_one)
{
	char absent[256];

	make_domain(true);
	ck_assert_int_eq(mesh_access_check(store, &callers[OTHER], "nosuch", NULL, MESH_ACCESS_SEE,
					   NULL), MESH_ENOENT);
	snprintf(absent, sizeof(absent), "%s", mesh_error_message());
	ck_assert_str_eq(absent, "domain nosuch does not exist");
	ck_assert_int_eq(mesh_access_check(store, &callers[OTHER], "sales", NULL, MESH_ACCESS_WRITE,
					   "x"), MESH_ENOENT);
	ck_assert_str_eq(mesh_error_message(), "domain sales does not exist");
	fails_as(OTHER, "log sales/main", MESH_ENOENT, "\"message\":\"domain sales does not exist\"");
	fails_as(OTHER, "branch list sales", MESH_ENOENT, "domain sales does not exist");
	fails_as(OTHER, "domain show sales", MESH_ENOENT, "domain sales does not exist");
	fails_as(OTHER, "access request sales read --reason x", MESH_ENOENT, "does not exist");
	char *answer;
	ck_assert_int_eq(run_as(OTHER, "domain list", &answer), 0);
	ck_assert_ptr_null(strstr(answer, "sales"));
	ck_assert_int_eq(run_as(READER, "domain list", &answer), 0);
	ck_assert_ptr_nonnull(strstr(answer, "\"name\":\"sales\""));
	ck_assert_ptr_nonnull(strstr(answer, "\"visibility\":\"restricted\""));
}
END_TEST

START_TEST(domain_root_belongs_to_the_writers_group)
{
	mesh_domain *d;
	uint32_t uid, gid;

	make_domain(false);
	ck_assert_int_eq(mesh_domain_get(store, "sales", &d), 0);
	mesh_domain_root_owner(d, &uid, &gid);
	ck_assert_uint_eq(uid, OWNER_UID);
	ck_assert_uint_eq(gid, WRITERS_GID);
	mesh_domain_free(d);
	ok_as(OWNER, "domain set sales writers none");
	ck_assert_int_eq(mesh_domain_get(store, "sales", &d), 0);
	ck_assert(!d->has_writers);
	mesh_domain_root_owner(d, &uid, &gid);
	ck_assert_uint_ne(gid, WRITERS_GID);
	mesh_domain_free(d);
}
END_TEST

START_TEST(records_from_before_access_rules_are_public)
{
	static const char record[] = "1\0old card\0bob\0" "5001\0main\0" "1700000000\0" "7";
	mesh_domain *d;

	ck_assert_int_eq(mesh_db_put(mesh_store_db(store), "d/old", 5, record, sizeof(record), true), 0);
	ck_assert_int_eq(mesh_domain_get(store, "old", &d), 0);
	ck_assert(!d->has_writers && !d->has_readers && !d->restricted);
	ck_assert_str_eq(d->owner, "bob");
	mesh_domain_free(d);
	ck_assert_int_eq(mesh_access_check(store, &callers[OTHER], "old", NULL, MESH_ACCESS_READ,
					   "x"), 0);
	ck_assert_int_eq(mesh_access_check(store, &callers[OTHER], "old", NULL, MESH_ACCESS_TAG,
					   NULL), MESH_EACCES);
	ck_assert_int_eq(mesh_access_check(store, &callers[OWNER], "old", NULL, MESH_ACCESS_TAG,
					   NULL), 0);
}
END_TEST

START_TEST(refusal_names_the_rule)
{
	make_domain(false);
	ck_assert_int_eq(mesh_access_check(store, &callers[READER], "sales", "dev", MESH_ACCESS_COMMIT,
					   NULL), MESH_EACCES);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "writers group (dialout)"));
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "commit in domain sales"));
	ck_assert_int_eq(mesh_access_check(store, &callers[WRITER], "sales", "main", MESH_ACCESS_WRITE,
					   "a"), MESH_EROFS);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "protected"));
	fails_as(WRITER, "branch delete sales/main", MESH_EPERM, "cannot be deleted");
}
END_TEST

/* --- the mount's and commands' checks ------------------------------------ */

START_TEST(views_refuse_and_change_nothing)
{
	mesh_view *dev, *main_view, *mine;
	mesh_change *changes;
	size_t count;
	mesh_oid map;
	mesh_domain_opts own = { .protect_main = 0 };

	make_domain(false);
	ck_assert_int_eq(mesh_view_open_branch(&dev, store, "sales", "dev"), 0);
	ck_assert_int_eq(mesh_view_open_branch(&main_view, store, "sales", "main"), 0);
	ck_assert_int_eq(mesh_file_write_buf(mesh_store_odb(store), NULL, "z", 1, &map), 0);
	ck_assert_int_eq(mesh_view_stage_content(dev, &callers[READER], "r.csv", MESH_KIND_FILE,
						 0644, 1, 0, &map, false), MESH_EACCES);
	ck_assert_int_eq(mesh_view_mkdir(dev, &callers[OTHER], "d", 0755), MESH_EACCES);
	ck_assert_int_eq(mesh_view_unlink(dev, &callers[READER], "a.csv"), MESH_EACCES);
	ck_assert_int_eq(mesh_view_stage_content(main_view, &callers[WRITER], "w.csv",
						 MESH_KIND_FILE, 0644, 1, 0, &map, false), MESH_EROFS);
	ck_assert_int_eq(mesh_view_status(dev, &changes, &count), 0);
	ck_assert_uint_eq(count, 0);
	mesh_changes_free(changes, count);
	/* A writer writes, a colleague in the same group overwrites. */
	static const gid_t colleague_gids[] = { WRITERS_GID };
	static const groups colleague_groups = { colleague_gids, 1 };
	mesh_caller colleague = fake_caller(5009, 100, &colleague_groups);
	ck_assert_int_eq(mesh_view_stage_content(dev, &callers[WRITER], "w.csv", MESH_KIND_FILE,
						 0664, 1, 0, &map, false), 0);
	ck_assert_int_eq(mesh_view_stage_content(dev, &colleague, "w.csv", MESH_KIND_FILE,
						 0664, 1, 0, &map, false), 0);
	/* Nor is a rename out from under the glob, by a writer outside its group. */
	ck_assert_int_eq(mesh_view_rename(dev, &callers[WRITER], "customers/pii/emails.csv",
					  "open.csv", false), MESH_EACCES);
	ck_assert_int_eq(mesh_view_rename(dev, &callers[WRITER], "customers", "c2", false),
			 MESH_EACCES);
	ck_assert_int_eq(mesh_view_status(dev, &changes, &count), 0);
	ck_assert_uint_eq(count, 1);   /* w.csv */
	mesh_changes_free(changes, count);
	/* A zero-copy copy is no way around a sensitive path. */
	ck_assert_int_eq(mesh_domain_create_with(store, &callers[READER], "mine", &own), 0);
	ck_assert_int_eq(mesh_view_open_branch(&mine, store, "mine", "main"), 0);
	ck_assert_int_eq(mesh_view_copy(mine, &callers[READER], "stolen", dev,
					"customers/pii/emails.csv"), MESH_EACCES);
	ck_assert_int_eq(mesh_view_copy(mine, &callers[READER], "stolen", dev, "customers"),
			 MESH_EACCES);
	ck_assert_int_eq(mesh_view_copy(mine, &callers[READER], "all", dev, ""), MESH_EACCES);
	ck_assert_int_eq(mesh_view_copy(mine, &callers[READER], "orders", dev, "orders"), 0);
	ck_assert_int_eq(mesh_view_status(mine, &changes, &count), 0);
	ck_assert_uint_eq(count, 1);
	ck_assert_str_eq(changes[0].path, "orders");
	mesh_changes_free(changes, count);
	mesh_view_free(mine);
	mesh_view_free(dev);
	mesh_view_free(main_view);
}
END_TEST

START_TEST(diff_and_log_obey_sensitive_paths)
{
	char *answer;

	mesh_view *dev;

	make_domain(false);
	ck_assert_int_eq(mesh_view_open_branch(&dev, store, "sales", "dev"), 0);
	test_stage_file(store, dev, &callers[OWNER], "a.csv", "id\n2\n", 5);
	test_stage_file(store, dev, &callers[OWNER], "customers/pii/emails.csv", "z@y\n", 4);
	test_commit(dev, &callers[OWNER]);
	mesh_view_free(dev);
	ck_assert_int_eq(run_as(READER, "diff sales/dev~1 dev", &answer), 0);
	ck_assert_ptr_nonnull(strstr(answer, "a.csv"));
	ck_assert_ptr_null(strstr(answer, "emails"));
	ck_assert_int_eq(run_as(OWNER, "diff sales/dev~1 dev", &answer), 0);
	ck_assert_ptr_nonnull(strstr(answer, "customers/pii/emails.csv"));
	/* Staged changes at a sensitive path are left out of others' status. */
	ck_assert_int_eq(mesh_view_open_branch(&dev, store, "sales", "dev"), 0);
	test_stage_file(store, dev, &callers[OWNER], "customers/pii/emails.csv", "w@y\n", 4);
	test_stage_file(store, dev, &callers[OWNER], "orders/o.csv", "p\n", 2);
	mesh_view_free(dev);
	ck_assert_int_eq(run_as(READER, "status sales/dev", &answer), 0);
	ck_assert_ptr_nonnull(strstr(answer, "orders/o.csv"));
	ck_assert_ptr_null(strstr(answer, "emails"));
	ck_assert_int_eq(run_as(OWNER, "status sales/dev", &answer), 0);
	ck_assert_ptr_nonnull(strstr(answer, "customers/pii/emails.csv"));
	fails_as(READER, "log sales/dev -- customers/pii/emails.csv", MESH_EACCES, "sensitive");
	ok_as(READER, "log sales/dev -- orders");
	fails_as(READER, "cp sales/dev/customers/pii/emails.csv sales/dev/x", MESH_EACCES, NULL);
	fails_as(READER, "export sales/dev /tmp/nowhere-meshfs-test", MESH_EACCES, "sensitive");
}
END_TEST

START_TEST(commands_of_readers_change_nothing)
{
	make_domain(false);
	fails_as(READER, "branch create sales/x", MESH_EACCES, "writers group");
	fails_as(READER, "tag create sales/v1 main", MESH_EACCES, NULL);
	fails_as(READER, "merge sales/dev --into main", MESH_EACCES, NULL);
	fails_as(OTHER, "commit sales/dev -m x", MESH_EACCES, NULL);
	fails_as(READER, "reset sales/dev", MESH_EACCES, NULL);
	fails_as(READER, "revert sales/dev main", MESH_EACCES, NULL);
	fails_as(WRITER, "reset sales/main", MESH_EPERM, "protected");
	ok_as(WRITER, "branch create sales/x");
	ok_as(WRITER, "tag create sales/v1 dev");
	ok_as(WRITER, "merge sales/dev --into main");
	char *answer;
	ck_assert_int_eq(run_as(READER, "branch list sales", &answer), 0);
	ck_assert_ptr_nonnull(strstr(answer, "\"name\":\"x\""));
}
END_TEST

START_TEST(domain_settings)
{
	char *answer;
	mesh_domain *d;

	make_domain(false);
	fails_as(WRITER, "domain set sales visibility restricted", MESH_EACCES, "owner");
	fails_as(READER, "domain set sales retention 3", MESH_EACCES, NULL);
	fails_as(OWNER, "domain set sales owner no-such-user-xyz", MESH_EINVAL, "unknown user");
	fails_as(OWNER, "domain set sales writers no-such-group-xyz", MESH_EINVAL, "unknown group");
	fails_as(OWNER, "domain set sales visibility secret", MESH_EINVAL, "public or restricted");
	fails_as(OWNER, "domain set sales colour red", MESH_EINVAL, "unknown setting");
	fails_as(OWNER, "domain restrict sales 'a/[b' --group floppy", MESH_EINVAL, "does not parse");
	fails_as(OWNER, "domain restrict sales 'a/**' --group no-such-group-xyz", MESH_EINVAL,
		 "unknown group");
	fails_as(OWNER, "domain restrict sales 'a/**'", MESH_EINVAL, "--group");
	fails_as(OWNER, "domain unrestrict sales 'never/**'", MESH_ENOENT, NULL);
	ck_assert_int_eq(mesh_domain_get(store, "sales", &d), 0);
	ck_assert(!d->restricted);
	ck_assert_uint_eq(d->writers_gid, WRITERS_GID);
	mesh_domain_free(d);

	/* Settings take effect on the next decision: the cache is told. */
	ck_assert_int_eq(mesh_access_check(store, &callers[OTHER], "sales", "dev", MESH_ACCESS_COMMIT,
					   NULL), MESH_EACCES);
	ok_as(OWNER, "domain set sales writers 100");
	ck_assert_int_eq(mesh_access_check(store, &callers[OTHER], "sales", "dev", MESH_ACCESS_COMMIT,
					   NULL), 0);
	ok_as(OWNER, "domain set sales visibility restricted");
	ok_as(OWNER, "domain set sales writers none");
	ck_assert_int_eq(mesh_access_check(store, &callers[OTHER], "sales", NULL, MESH_ACCESS_SEE,
					   NULL), MESH_ENOENT);
	ok_as(OWNER, "domain unrestrict sales 'customers/pii/**'");
	ck_assert_int_eq(mesh_access_check(store, &callers[READER], "sales", NULL, MESH_ACCESS_READ,
					   "customers/pii/emails.csv"), 0);
	ck_assert_int_eq(run_as(READER, "domain show sales --json", &answer), 0);
	ck_assert_ptr_nonnull(strstr(answer, "\"sensitive\":[]"));
	ck_assert_ptr_nonnull(strstr(answer, "\"protected\":[\"main\"]"));
	ck_assert_ptr_nonnull(strstr(answer, "\"writers\":\"none\""));
	/* The owner gives the domain away: from then on, not theirs to set,
	 * and in a restricted domain where they are no member, not there. */
	ok_as(OWNER, "domain set sales readers users");
	ok_as(OWNER, "domain set sales owner 0");
	fails_as(OWNER, "domain set sales visibility public", MESH_EACCES, "owner of domain sales (root)");
	ok_as(ADMIN, "domain set sales readers everyone");
	fails_as(OWNER, "domain set sales visibility public", MESH_ENOENT, "does not exist");
	ok_as(ADMIN, "domain set sales visibility public");
}
END_TEST

START_TEST(protect_and_policy)
{
	mesh_domain_opts opts = { .protect_main = -1 };

	make_domain(false);
	fails_as(WRITER, "branch protect sales/dev", MESH_EACCES, "owner");
	fails_as(OWNER, "branch protect sales/nosuch", MESH_ENOENT, NULL);
	ok_as(OWNER, "branch protect sales/dev");
	ck_assert(mesh_access_branch_protected(store, "sales", "dev"));
	fails_as(WRITER, "branch delete sales/dev", MESH_EPERM, "protected");
	ok_as(OWNER, "branch unprotect sales/dev");
	ok_as(WRITER, "branch delete sales/dev");

	fails_as(OWNER, "policy set protect-main-by-default true", MESH_EACCES, "administrator");
	/* Store-wide commands: their reports and effects span every domain. */
	fails_as(OWNER, "gc --dry-run", MESH_EACCES, "administrator");
	fails_as(WRITER, "fsck --quick", MESH_EACCES, "administrator");
	ok_as(ADMIN, "gc --dry-run");
	ok_as(ADMIN, "fsck --quick");
	fails_as(ADMIN, "policy set protect-main-by-default maybe", MESH_EINVAL, NULL);
	fails_as(ADMIN, "policy set colour true", MESH_EINVAL, "unknown policy");
	ck_assert_int_eq(mesh_domain_create_with(store, &callers[OWNER], "plain", &opts), 0);
	ck_assert(!mesh_access_branch_protected(store, "plain", "main"));
	ok_as(ADMIN, "policy set protect-main-by-default true");
	ck_assert_int_eq(mesh_domain_create_with(store, &callers[OWNER], "guarded", &opts), 0);
	ck_assert(mesh_access_branch_protected(store, "guarded", "main"));
	char *answer;
	ck_assert_int_eq(run_as(OTHER, "policy show", &answer), 0);
	ck_assert_ptr_nonnull(strstr(answer, "\"protect-main-by-default\":true"));
	ok_as(OWNER, "domain create open --protect-main");
	ck_assert(mesh_access_branch_protected(store, "open", "main"));

	/* The governance rows: the group's members (here the readers
	 * group's) set the standards, and nothing else store-wide. */
	fails_as(OWNER, "policy set governance-group cdrom", MESH_EACCES, "administrator");
	ok_as(ADMIN, "policy set governance-group cdrom");
	ok_as(READER, "policy set protect-main-by-default false");
	ok_as(READER, "policy require card-field owner");
	ok_as(READER, "policy unrequire card-field owner");
	fails_as(OWNER, "policy set protect-main-by-default true", MESH_EACCES, "governance group");
	fails_as(WRITER, "policy require classification", MESH_EACCES, "governance group");
	fails_as(OTHER, "policy unrequire classification", MESH_EACCES, "governance group");
	fails_as(READER, "policy set governance-group none", MESH_EACCES, "administrator");
	fails_as(READER, "gc --dry-run", MESH_EACCES, "administrator");
	fails_as(READER, "fsck --quick", MESH_EACCES, "administrator");
	ok_as(ADMIN, "policy set governance-group none");
	fails_as(READER, "policy set protect-main-by-default true", MESH_EACCES, "administrator");
}
END_TEST

START_TEST(root_squash_makes_root_ordinary)
{
	make_domain(true);
	ck_assert_int_eq(chown(tmp, 7777, 7777), 0);
	ck_assert_int_eq(mesh_store_set_root_squash(store, true), 0);
	ck_assert_int_eq(mesh_access_check(store, &callers[ADMIN], "sales", NULL, MESH_ACCESS_SEE,
					   NULL), MESH_ENOENT);
	fails_as(ADMIN, "policy set protect-main-by-default true", MESH_EACCES, NULL);
	mesh_caller admin = fake_caller(7777, 7777, &no_groups);
	ck_assert_int_eq(mesh_access_check(store, &admin, "sales", NULL, MESH_ACCESS_ADMIN, NULL), 0);
	ck_assert_int_eq(mesh_access_check(store, &admin, "sales", NULL, MESH_ACCESS_READ,
					   "customers/pii/emails.csv"), 0);
	ck_assert_int_eq(mesh_store_set_root_squash(store, false), 0);
	ck_assert_int_eq(mesh_access_check(store, &callers[ADMIN], "sales", NULL, MESH_ACCESS_SEE,
					   NULL), 0);
}
END_TEST

/* --- access requests ------------------------------------------------------ */

START_TEST(request_grant_and_lapse)
{
	char *answer, line[256], until[64];
	time_t soon = time(NULL) + 2;
	struct tm tm;

	make_domain(false);
	fails_as(READER, "access request sales read --path 'customers/pii/**'", MESH_EINVAL, "--reason");
	fails_as(READER, "access request sales sudo --reason x", MESH_EINVAL, "read or write");
	fails_as(READER, "access request sales read --path '[x' --reason x", MESH_EINVAL, "parse");
	ok_as(READER, "access request sales read --path 'customers/pii/**' --reason 'churn study'");
	ok_as(OTHER, "access request sales write --reason 'fix a typo'");
	ck_assert_int_eq(run_as(OWNER, "access pending", &answer), 0);
	ck_assert_ptr_nonnull(strstr(answer, "\"id\":1"));
	ck_assert_ptr_nonnull(strstr(answer, "churn study"));
	ck_assert_ptr_nonnull(strstr(answer, "\"id\":2"));
	ck_assert_int_eq(run_as(WRITER, "access pending", &answer), 0);
	ck_assert_ptr_nonnull(strstr(answer, "\"requests\":[]"));
	fails_as(WRITER, "access grant 1", MESH_EACCES, NULL);
	fails_as(OWNER, "access grant 1 --until 2001-01-01", MESH_EINVAL, "in the past");
	fails_as(OWNER, "access grant 1 --until tomorrow", MESH_EINVAL, "not a date");
	fails_as(OWNER, "access grant 99", MESH_ENOENT, NULL);
	fails_as(OWNER, "access deny 2 --until 2099-01-01", MESH_EINVAL, NULL);
	ck_assert_int_eq(mesh_access_check(store, &callers[READER], "sales", NULL, MESH_ACCESS_READ,
					   "customers/pii/emails.csv"), MESH_EACCES);
	gmtime_r(&soon, &tm);
	strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(line, sizeof(line), "access grant 1 --until %s", until);
	ok_as(OWNER, line);
	ok_as(OWNER, "access deny 2");
	fails_as(OWNER, "access grant 2", MESH_EINVAL, "already denied");
	ck_assert_int_eq(mesh_access_check(store, &callers[READER], "sales", NULL, MESH_ACCESS_READ,
					   "customers/pii/emails.csv"), 0);
	ck_assert_int_eq(mesh_access_check(store, &callers[OTHER], "sales", "dev", MESH_ACCESS_COMMIT,
					   NULL), MESH_EACCES);
	ck_assert_int_eq(run_as(READER, "access mine", &answer), 0);
	ck_assert_ptr_nonnull(strstr(answer, "\"state\":\"granted\""));
	ck_assert_ptr_null(strstr(answer, "fix a typo"));
	ck_assert_int_eq(run_as(OTHER, "access mine", &answer), 0);
	ck_assert_ptr_nonnull(strstr(answer, "\"state\":\"denied\""));
	/* The grant lapses by itself, checked on use. */
	while (time(NULL) <= soon)
		usleep(100000);
	ck_assert_int_eq(mesh_access_check(store, &callers[READER], "sales", NULL, MESH_ACCESS_READ,
					   "customers/pii/emails.csv"), MESH_EACCES);
	ck_assert_int_eq(run_as(READER, "access mine", &answer), 0);
	ck_assert_ptr_nonnull(strstr(answer, "\"state\":\"lapsed\""));
}
END_TEST

START_TEST(write_grant_makes_a_writer_and_opens_a_restricted_domain)
{
	make_domain(true);
	ck_assert_int_eq(mesh_store_set_root_squash(store, false), 0);
	/* Others cannot ask for what they cannot see; a reader asks for write. */
	ok_as(READER, "access request sales write --reason 'load the daily file'");
	ok_as(OWNER, "access grant 1");
	ck_assert_int_eq(mesh_access_check(store, &callers[READER], "sales", "dev", MESH_ACCESS_COMMIT,
					   NULL), 0);
	/* A grant without an end is taken back by a revoke. */
	fails_as(WRITER, "access revoke 1", MESH_EACCES, NULL);
	ok_as(OWNER, "access revoke 1");
	ck_assert_int_eq(mesh_access_check(store, &callers[READER], "sales", "dev", MESH_ACCESS_COMMIT,
					   NULL), MESH_EACCES);
	fails_as(OWNER, "access revoke 1", MESH_EINVAL, "nothing to revoke");
	ok_as(READER, "access request sales write --reason again");
	fails_as(OWNER, "access revoke 2", MESH_EINVAL, "is pending");
	char *answer;
	ck_assert_int_eq(run_as(READER, "access mine", &answer), 0);
	ck_assert_ptr_nonnull(strstr(answer, "\"state\":\"revoked\""));
}
END_TEST

/* --- globs and dates ------------------------------------------------------ */

START_TEST(globs)
{
	static const char *const bad[] = { "", "/abs/**", "a/[bc", "a\\", "[!", "x[]" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(mesh_access_glob_check(bad[i]) == MESH_EINVAL, "glob [%s] passed", bad[i]);
	ck_assert_int_eq(mesh_access_glob_check("customers/pii/**"), 0);
	ck_assert_int_eq(mesh_access_glob_check("a/[]x]/*.csv"), 0);
	ck_assert(mesh_access_glob_covers("customers/pii/**", "customers/pii/a/b.csv"));
	ck_assert(!mesh_access_glob_covers("customers/pii/**", "customers/pii"));
	ck_assert(mesh_access_glob_covers("customers/pii", "customers/pii/a/b.csv"));
	ck_assert(mesh_access_glob_covers("*.key", "deep/dir/x.key"));
	ck_assert(!mesh_access_glob_covers("customers/pii/**", "customers/piirate"));
}
END_TEST

START_TEST(dates)
{
	int64_t t;

	ck_assert_int_eq(mesh_access_parse_date("2030-01-02T03:04:05Z", &t), 0);
	ck_assert_int_eq(t, 1893553445);
	ck_assert_int_eq(mesh_access_parse_date("2030-01-02T03:04Z", &t), 0);
	ck_assert_int_eq(t, 1893553440);
	ck_assert_int_eq(mesh_access_parse_date("2030-01-02", &t), 0);
	ck_assert_int_eq(mesh_access_parse_date("2030-01-02 03:04:05", &t), 0);
	ck_assert_int_eq(mesh_access_parse_date("2030-13-02", &t), MESH_EINVAL);
	ck_assert_int_eq(mesh_access_parse_date("2030-01-02T03:04:05Zjunk", &t), MESH_EINVAL);
	ck_assert_int_eq(mesh_access_parse_date("next week", &t), MESH_EINVAL);
}
END_TEST

static Suite *access_suite(void)
{
	Suite *s = suite_create("access");
	TCase *t = tcase_create("access");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 30);
	tcase_add_test(t, public_domain_table);
	tcase_add_test(t, restricted_domain_table);
	tcase_add_test(t, sensitive_group_member_reads_in_every_view);
	tcase_add_test(t, invisible_domain_reads_like_an_absent_one);
	tcase_add_test(t, refusal_names_the_rule);
	tcase_add_test(t, records_from_before_access_rules_are_public);
	tcase_add_test(t, domain_root_belongs_to_the_writers_group);
	tcase_add_test(t, views_refuse_and_change_nothing);
	tcase_add_test(t, diff_and_log_obey_sensitive_paths);
	tcase_add_test(t, commands_of_readers_change_nothing);
	tcase_add_test(t, domain_settings);
	tcase_add_test(t, protect_and_policy);
	tcase_add_test(t, root_squash_makes_root_ordinary);
	tcase_add_test(t, request_grant_and_lapse);
	tcase_add_test(t, write_grant_makes_a_writer_and_opens_a_restricted_domain);
	tcase_add_test(t, globs);
	tcase_add_test(t, dates);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return test_run_suite(access_suite());
}
