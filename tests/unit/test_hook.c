/* test_hook.c - a domain's hooks: what hook add, list and remove accept
 * and who may use them; running one program (exit status, stderr and
 * stdout, stdin, a cleared environment, the time-out killing its whole
 * process group); and the hooks of a commit: a refusal keeps the head,
 * a failing post-commit hook does not, the changed paths on stdin. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "control.h"
#include "error.h"
#include "history.h"
#include "hook.h"
#include "store.h"
#include "view.h"

static char *tmp;
static mesh_store *store;
static mesh_control_env env;
static mesh_caller owner, other;
static test_views table;
static char dir[1024];      /* scripts, readable and runnable by anyone */
static char outdir[1024];   /* where scripts may write, whoever they run as */

static void setup(void)
{
	tmp = test_tmpdir_new();
	store = test_store_new(tmp, &owner, "sales");
	other = owner;
	other.uid = 5004;
	other.gid = 100;
	test_views_env(&table, store, &env);
	/* A hook of a domain root owns runs as nobody: it must reach them. */
	ck_assert_int_eq(chmod(tmp, 0755), 0);
	snprintf(dir, sizeof(dir), "%s/hooks", tmp);
	snprintf(outdir, sizeof(outdir), "%s/out", tmp);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	ck_assert_int_eq(mkdir(outdir, 0777), 0);
	ck_assert_int_eq(chmod(outdir, 0777), 0);
}

static void teardown(void)
{
	test_views_free(&table);
	mesh_store_close(store);
	test_tmpdir_remove(tmp);
}

static int run(const mesh_caller *who, const char *line, char **answer)
{
	return test_views_run(&table, &env, who, line, answer);
}

/* A shell script NAME in dir with body; its path (static buffer per call
 * site: copy when two are needed). */
static const char *script(const char *name, const char *body, mode_t mode)
{
	static char path[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	ck_assert_int_eq(chmod(path, mode), 0);
	return path;
}

static char *slurp(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* --- add, list, remove -------------------------------------------------- */

START_TEST(test_events)
{
	mesh_hook_event e;

	for (int i = 0; i < MESH_HOOK_EVENT_COUNT; i++) {
		ck_assert_int_eq(mesh_hook_event_parse(mesh_hook_event_name((mesh_hook_event)i), &e), 0);
		ck_assert_int_eq(e, i);
	}
	ck_assert_int_eq(mesh_hook_event_parse("pre-push", &e), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "'pre-push' is not a hook event"));
}
END_TEST

START_TEST(test_add_validates)
{
	char line[8400], *answer;
	const char *ok = script("ok.sh", "exit 0", 0755);
	char okp[4200];

	snprintf(okp, sizeof(okp), "%s", ok);
	ck_assert_int_eq(run(&owner, "hook add sales pre-commit ok.sh", NULL), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "not an absolute path"));
	snprintf(line, sizeof(line), "hook add sales pre-commit %s/missing.sh", dir);
	ck_assert_int_eq(run(&owner, line, NULL), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "No such file"));
	snprintf(line, sizeof(line), "hook add sales pre-commit %s", script("plain.sh", "", 0644));
	ck_assert_int_eq(run(&owner, line, NULL), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "is not executable"));
	snprintf(line, sizeof(line), "hook add sales pre-commit %s", dir);
	ck_assert_int_eq(run(&owner, line, NULL), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "not a regular file"));
	snprintf(line, sizeof(line), "hook add sales pre-push %s", okp);
	ck_assert_int_eq(run(&owner, line, NULL), MESH_EINVAL);
	snprintf(line, sizeof(line), "hook add sales pre-commit %s --timeout 0", okp);
	ck_assert_int_eq(run(&owner, line, NULL), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "1 to 3600 seconds"));
	snprintf(line, sizeof(line), "hook add sales pre-commit %s --timeout 3601", okp);
	ck_assert_int_eq(run(&owner, line, NULL), MESH_EINVAL);
	snprintf(line, sizeof(line), "hook add sales pre-commit %s --timeout 5s", okp);
	ck_assert_int_eq(run(&owner, line, NULL), MESH_EINVAL);
	snprintf(line, sizeof(line), "hook add nope pre-commit %s", okp);
	ck_assert_int_eq(run(&owner, line, NULL), MESH_ENOENT);
	/* Only the owner and the administrator. */
	snprintf(line, sizeof(line), "hook add sales pre-commit %s", okp);
	ck_assert_int_eq(run(&other, line, NULL), MESH_EACCES);
	ck_assert_int_eq(run(&owner, "hook list sales", &answer), 0);
	ck_assert_ptr_nonnull(strstr(answer, "\"hooks\":[]"));
	ck_assert_int_eq(run(&owner, "hook", NULL), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "usage: hook add DOMAIN"));
}
END_TEST

START_TEST(test_add_list_remove)
{
	char a[4200], b[4200], line[8400], *answer;
	mesh_hook *hooks;
	size_t count;

	snprintf(b, sizeof(b), "%s", script("b.sh", "exit 0", 0755));
	snprintf(a, sizeof(a), "%s", script("a.sh", "exit 0", 0755));
	snprintf(line, sizeof(line), "hook add sales pre-commit %s", b);
	ck_assert_int_eq(run(&owner, line, &answer), 0);
	ck_assert_ptr_nonnull(strstr(answer, "\"timeout\":30"));
	snprintf(line, sizeof(line), "hook add sales pre-commit %s --timeout 7", a);
	ck_assert_int_eq(run(&owner, line, NULL), 0);
	snprintf(line, sizeof(line), "hook add sales post-merge %s", a);
	ck_assert_int_eq(run(&owner, line, NULL), 0);
	/* Again: its time-out changes, no second record. */
	snprintf(line, sizeof(line), "hook add sales pre-commit %s --timeout 9", a);
	ck_assert_int_eq(run(&owner, line, NULL), 0);
	ck_assert_int_eq(mesh_hook_list(store, "sales", &hooks, &count), 0);
	ck_assert_uint_eq(count, 3);
	ck_assert_int_eq(hooks[0].event, MESH_HOOK_PRE_COMMIT);
	ck_assert_str_eq(hooks[0].program, a);
	ck_assert_uint_eq(hooks[0].timeout, 9);
	ck_assert_str_eq(hooks[1].program, b);
	ck_assert_int_eq(hooks[2].event, MESH_HOOK_POST_MERGE);
	mesh_hook_list_free(hooks, count);
	/* Anyone who sees the domain lists them. */
	ck_assert_int_eq(run(&other, "hook list sales", &answer), 0);
	ck_assert_ptr_nonnull(strstr(answer, "\"event\":\"post-merge\""));
	snprintf(line, sizeof(line), "hook remove sales pre-commit %s", a);
	ck_assert_int_eq(run(&other, line, NULL), MESH_EACCES);
	ck_assert_int_eq(run(&owner, line, &answer), 0);
	ck_assert_ptr_nonnull(strstr(answer, "\"removed\":{\"event\":\"pre-commit\""));
	ck_assert_int_eq(run(&owner, line, NULL), MESH_ENOENT);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "has no pre-commit hook"));
	ck_assert_int_eq(mesh_hook_list(store, "sales", &hooks, &count), 0);
	ck_assert_uint_eq(count, 2);
	mesh_hook_list_free(hooks, count);
	/* Another domain's hooks are its own. */
	ck_assert_int_eq(run(&owner, "domain create sales2", NULL), 0);
	ck_assert_int_eq(mesh_hook_list(store, "sales2", &hooks, &count), 0);
	ck_assert_uint_eq(count, 0);
	mesh_hook_list_free(hooks, count);
}
END_TEST

/* --- running one program ------------------------------------------------ */

static mesh_hook_proc proc_of(const char *program, unsigned timeout)
{
	static const char *const env0[] = { "PATH=/usr/bin:/bin", "MESH_EVENT=pre-commit", NULL };
	mesh_hook_proc p = { .program = program, .timeout = timeout, .env = env0 };

	return p;
}

START_TEST(test_exec_status_output_stdin_env)
{
	mesh_hook_proc p = proc_of(script("say.sh",
		"echo out; echo err >&2; read a; read b; echo \"in:$a,$b\" >&2; "
		"env | sort >&2; exit 4", 0755), 5);
	mesh_hook_outcome o;

	p.input = "x.csv\ndir/y.csv\n";
	p.input_len = strlen(p.input);
	ck_assert_int_eq(mesh_hook_exec(&p, &o), 0);
	ck_assert_int_eq(o.status, 4);
	ck_assert(!o.timed_out);
	ck_assert_str_eq(o.out, "out\n");
	ck_assert_ptr_nonnull(strstr(o.err, "err\nin:x.csv,dir/y.csv\n"));
	/* Nothing of this process's environment but what was given (the
	 * shell adds PWD). */
	ck_assert_ptr_nonnull(strstr(o.err, "MESH_EVENT=pre-commit\n"));
	ck_assert_ptr_nonnull(strstr(o.err, "PATH=/usr/bin:/bin\n"));
	ck_assert_ptr_null(strstr(o.err, "HOME="));
	ck_assert_ptr_null(strstr(o.err, "CK_"));
	mesh_hook_outcome_dispose(&o);

	p = proc_of(script("ok.sh", "exit 0", 0755), 5);
	ck_assert_int_eq(mesh_hook_exec(&p, &o), 0);
	ck_assert_int_eq(o.status, 0);
	ck_assert_uint_eq(o.err_len, 0);
	mesh_hook_outcome_dispose(&o);

	/* Output past the bound is read and dropped: the hook never stalls. */
	p = proc_of(script("loud.sh", "head -c 300000 /dev/zero | tr '\\0' x; exit 0", 0755), 5);
	ck_assert_int_eq(mesh_hook_exec(&p, &o), 0);
	ck_assert_int_eq(o.status, 0);
	ck_assert_uint_eq(o.out_len, MESH_HOOK_OUTPUT_MAX);
	mesh_hook_outcome_dispose(&o);
}
END_TEST

static bool process_gone(pid_t pid)
{
	char path[64], *stat;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	/* Gone, or a zombie waiting for whoever adopted it. */
	for (int i = 0; i < 100; i++) {
		if (!(stat = slurp(path)))
			return true;
		if (strstr(stat, ") Z "))
			return true;
		struct timespec ts = { 0, 20 * 1000000 };
		nanosleep(&ts, NULL);
	}
	return false;
}

START_TEST(test_exec_timeout_kills_group)
{
	char body[8400], pidfile[4200];
	mesh_hook_proc p;
	mesh_hook_outcome o;
	struct timespec t0, t1;
	char *text;
	long child;

	snprintf(pidfile, sizeof(pidfile), "%s/sleeper.pid", outdir);
	snprintf(body, sizeof(body), "sleep 60 & echo $! > %s; echo waiting >&2; wait", pidfile);
	p = proc_of(script("slow.sh", body, 0755), 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(mesh_hook_exec(&p, &o), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert(o.timed_out);
	ck_assert_int_eq(o.status, -1);
	ck_assert_str_eq(o.err, "waiting\n");
	ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 1 + MESH_HOOK_GRACE_MS / 1000 + 3);
	mesh_hook_outcome_dispose(&o);
	ck_assert_ptr_nonnull(text = slurp(pidfile));
	child = strtol(text, NULL, 10);
	ck_assert_int_gt(child, 0);
	ck_assert(process_gone((pid_t)child));

	/* SIGTERM ignored: SIGKILL after the grace. */
	p = proc_of(script("stubborn.sh", "trap '' TERM; sleep 60; sleep 60", 0755), 1);
	ck_assert_int_eq(mesh_hook_exec(&p, &o), 0);
	ck_assert(o.timed_out);
	mesh_hook_outcome_dispose(&o);

	/* What a hook leaves running in its group goes when it exits. */
	snprintf(body, sizeof(body), "sleep 60 >/dev/null 2>&1 & echo $! > %s; exit 0", pidfile);
	p = proc_of(script("leaves.sh", body, 0755), 5);
	ck_assert_int_eq(mesh_hook_exec(&p, &o), 0);
	ck_assert(!o.timed_out);
	ck_assert_int_eq(o.status, 0);
	mesh_hook_outcome_dispose(&o);
	child = strtol(slurp(pidfile), NULL, 10);
	ck_assert(process_gone((pid_t)child));
}
END_TEST

START_TEST(test_exec_cannot_start)
{
	mesh_hook_proc p = proc_of(script("bad.sh", "", 0755), 5);
	mesh_hook_outcome o;
	FILE *f;

	/* An interpreter that does not exist: exit 126 naming the failure. */
	ck_assert_ptr_nonnull(f = fopen(p.program, "w"));
	fputs("#!/nonexistent/shell\n", f);
	fclose(f);
	ck_assert_int_eq(mesh_hook_exec(&p, &o), 0);
	ck_assert_int_eq(o.status, 126);
	ck_assert_ptr_nonnull(strstr(o.err, "cannot start the hook: exec"));
	mesh_hook_outcome_dispose(&o);
}
END_TEST

/* --- the hooks of a commit ------------------------------------------------ */

static mesh_view *main_view(void)
{
	mesh_view *v = NULL;

	ck_assert_int_eq(test_views_get(&table, "sales", "main", &v), 0);
	return v;
}

static void add_hook(const char *event, const char *program, unsigned timeout)
{
	char line[8400];

	snprintf(line, sizeof(line), "hook add sales %s %s --timeout %u", event, program, timeout);
	ck_assert_int_eq(run(&owner, line, NULL), 0);
}

START_TEST(test_pre_commit_refuses)
{
	mesh_view *view = main_view();
	char body[8400], copy[4200];
	mesh_oid before, after, id;
	size_t changes;

	snprintf(body, sizeof(body),
		 "cat > %s/stdin; env > %s/env; id -u > %s/uid; "
		 "echo 'orders.csv: column id: rule unique: value 7' >&2; exit 2",
		 outdir, outdir, outdir);
	snprintf(copy, sizeof(copy), "%s", script("refuse.sh", body, 0755));
	add_hook("pre-commit", copy, 5);
	test_stage_file(store, view, &owner, "orders.csv", "id\n7\n7\n", 7);
	ck_assert_int_eq(mesh_view_mkdir(view, &owner, "d", 0755), 0);
	test_stage_file(store, view, &owner, "d/readme", "r", 1);
	ck_assert_int_eq(mesh_history_branch_head(store, "sales", "main", &before), 0);
	ck_assert_int_eq(mesh_view_commit(view, &owner, "m", NULL, 0, &id, &changes), MESH_EPERM);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "pre-commit hook "));
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "refused sales/main (exit status 2): "
				     "orders.csv: column id: rule unique: value 7"));
	ck_assert_int_eq(mesh_history_branch_head(store, "sales", "main", &after), 0);
	ck_assert_int_eq(mesh_oid_cmp(&before, &after), 0);
	/* The changed paths on stdin; the MESH_ variables; its user. */
	ck_assert_str_eq(slurp(strcat(strcpy(body, outdir), "/stdin")), "d\norders.csv\n");
	char *e = slurp(strcat(strcpy(body, outdir), "/env"));
	ck_assert_ptr_nonnull(strstr(e, "MESH_EVENT=pre-commit\n"));
	ck_assert_ptr_nonnull(strstr(e, "MESH_DOMAIN=sales\n"));
	ck_assert_ptr_nonnull(strstr(e, "MESH_BRANCH=main\n"));
	ck_assert_ptr_nonnull(strstr(e, "MESH_SOURCE=\n"));
	ck_assert_ptr_nonnull(strstr(e, "MESH_CANDIDATE=/tmp/meshfs-hook-"));
	char hex[MESH_OID_HEXSZ + 1], want[100];
	mesh_oid_fmt(hex, &id);
	snprintf(want, sizeof(want), "MESH_COMMIT=%s\n", hex);
	ck_assert_ptr_nonnull(strstr(e, want));
	ck_assert_int_eq((int)strtol(slurp(strcat(strcpy(body, outdir), "/uid")), NULL, 10),
			 geteuid() == 0 ? MESH_HOOK_NOBODY : (int)geteuid());
	/* Staged changes stay staged; once the hook passes, the commit lands. */
	snprintf(body, sizeof(body), "exit 0");
	script("refuse.sh", body, 0755);
	ck_assert_int_eq(mesh_view_commit(view, &owner, "m", NULL, 0, &id, &changes), 0);
	ck_assert_uint_eq(changes, 3);
	ck_assert_int_eq(mesh_history_branch_head(store, "sales", "main", &after), 0);
	ck_assert_int_eq(mesh_oid_cmp(&id, &after), 0);
}
END_TEST

START_TEST(test_candidate_read_only)
{
	mesh_view *view = main_view();
	char body[8400], copy[4200];
	mesh_oid id;
	size_t changes;

	/* The candidate holds the new file; writing in it fails. */
	snprintf(body, sizeof(body),
		 "cat \"$MESH_CANDIDATE/a.csv\" > %s/seen; "
		 "if echo x > \"$MESH_CANDIDATE/a.csv\" || touch \"$MESH_CANDIDATE/new\"; "
		 "then echo wrote > %s/wrote; fi; exit 0", outdir, outdir);
	snprintf(copy, sizeof(copy), "%s", script("look.sh", body, 0755));
	add_hook("pre-commit", copy, 5);
	test_stage_file(store, view, &owner, "a.csv", "a\n1\n", 4);
	ck_assert_int_eq(mesh_view_commit(view, &owner, "m", NULL, 0, &id, &changes), 0);
	ck_assert_str_eq(slurp(strcat(strcpy(body, outdir), "/seen")), "a\n1\n");
	if (geteuid() == 0)   /* without root the hook is this user, who owns it all */
		ck_assert_ptr_null(slurp(strcat(strcpy(body, outdir), "/wrote")));
}
END_TEST

START_TEST(test_post_commit_failure_keeps_commit)
{
	mesh_view *view = main_view();
	char body[8400], copy[4200];
	mesh_oid id, head;
	size_t changes;

	snprintf(body, sizeof(body), "echo \"$MESH_EVENT $MESH_COMMIT\" > %s/post; "
		 "echo 'cannot notify' >&2; exit 1", outdir);
	snprintf(copy, sizeof(copy), "%s", script("post.sh", body, 0755));
	add_hook("post-commit", copy, 5);
	test_stage_file(store, view, &owner, "a.csv", "a\n", 2);
	ck_assert_int_eq(mesh_view_commit(view, &owner, "m", NULL, 0, &id, &changes), 0);
	ck_assert_int_eq(mesh_history_branch_head(store, "sales", "main", &head), 0);
	ck_assert_int_eq(mesh_oid_cmp(&id, &head), 0);
	char hex[MESH_OID_HEXSZ + 1], want[100];
	mesh_oid_fmt(hex, &id);
	snprintf(want, sizeof(want), "post-commit %s\n", hex);
	ck_assert_str_eq(slurp(strcat(strcpy(body, outdir), "/post")), want);
}
END_TEST

START_TEST(test_pre_create_refuses)
{
	char body[8400], copy[4200], *answer;

	snprintf(body, sizeof(body), "echo \"$MESH_EVENT $MESH_BRANCH from $MESH_SOURCE\" >&2; "
		 "[ \"$MESH_BRANCH\" != bad ]");
	snprintf(copy, sizeof(copy), "%s", script("names.sh", body, 0755));
	add_hook("pre-create-branch", copy, 5);
	add_hook("pre-create-tag", copy, 5);
	ck_assert_int_eq(run(&owner, "branch create sales/bad --from main", &answer), MESH_EPERM);
	ck_assert_ptr_nonnull(strstr(answer, "pre-create-branch bad from main"));
	ck_assert_int_eq(run(&owner, "branch create sales/good", NULL), 0);
	ck_assert_int_eq(run(&owner, "tag create sales/bad main", &answer), MESH_EPERM);
	ck_assert_ptr_nonnull(strstr(answer, "pre-create-tag bad from main"));
	ck_assert_int_eq(run(&owner, "tag create sales/v1 main", NULL), 0);
	ck_assert_int_eq(run(&owner, "branch list sales", &answer), 0);
	ck_assert_ptr_null(strstr(answer, "\"bad\""));
	ck_assert_ptr_nonnull(strstr(answer, "\"good\""));
}
END_TEST

static Suite *hook_suite(void)
{
	Suite *s = suite_create("hook");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_events);
	tcase_add_test(tc, test_add_validates);
	tcase_add_test(tc, test_add_list_remove);
	tcase_add_test(tc, test_exec_status_output_stdin_env);
	tcase_add_test(tc, test_exec_timeout_kills_group);
	tcase_add_test(tc, test_exec_cannot_start);
	tcase_add_test(tc, test_pre_commit_refuses);
	tcase_add_test(tc, test_candidate_read_only);
	tcase_add_test(tc, test_post_commit_failure_keeps_commit);
	tcase_add_test(tc, test_pre_create_refuses);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(hook_suite());
}
