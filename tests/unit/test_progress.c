#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "error.h"
#include "progress.h"

static const mesh_caller alice = { .uid = 1001, .gid = 1001, .pid = 501 };
static const mesh_caller bob = { .uid = 1002, .gid = 1002, .pid = 502 };

typedef struct worker {
	mesh_progress_table *table;
	const mesh_caller *caller;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int step;             /* 1: registered and counted, 2: told to end */
} worker;

/* A command on its own thread: registers, counts, waits, ends. */
static void *run_command(void *arg)
{
	worker *w = arg;

	ck_assert_int_eq(mesh_progress_begin(w->table, w->caller, "gc", ""), 0);
	mesh_progress_set(w->table, "marking objects", "objects", 0, 0);
	mesh_progress_tick(w->table, 4096);
	pthread_mutex_lock(&w->lock);
	w->step = 1;
	pthread_cond_broadcast(&w->cond);
	while (w->step != 2)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
	mesh_progress_end(w->table);
	return NULL;
}

static void wait_step(worker *w, int step)
{
	pthread_mutex_lock(&w->lock);
	while (w->step != step)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
}

static size_t listed(mesh_progress_table *table, const mesh_caller *who, bool admin,
		     pid_t pid, mesh_progress_state *first)
{
	mesh_progress_state *states;
	size_t count;

	ck_assert_int_eq(mesh_progress_list(table, who, admin, pid, &states, &count), 0);
	if (count && first)
		*first = states[0];
	free(states);
	return count;
}

/* A user sees their own running commands, an administrator everyone's;
 * the entry goes with the command's end. */
START_TEST(commands_are_seen_by_their_user_and_the_administrator)
{
	mesh_progress_table *table;
	worker w = { .caller = &alice, .lock = PTHREAD_MUTEX_INITIALIZER,
		     .cond = PTHREAD_COND_INITIALIZER };
	mesh_progress_state s;
	pthread_t thread;

	ck_assert_int_eq(mesh_progress_table_new(&table), 0);
	w.table = table;
	ck_assert_int_eq(pthread_create(&thread, NULL, run_command, &w), 0);
	wait_step(&w, 1);
	ck_assert_uint_eq(listed(table, &alice, false, 0, &s), 1);
	ck_assert_str_eq(s.command, "gc");
	ck_assert_str_eq(s.phase, "marking objects");
	ck_assert_str_eq(s.unit, "objects");
	ck_assert_uint_eq(s.done, 4096);
	ck_assert_int_eq(s.pid, 501);
	ck_assert_uint_eq(listed(table, &bob, false, 0, NULL), 0);
	ck_assert_uint_eq(listed(table, &bob, true, 0, NULL), 1);
	ck_assert_uint_eq(listed(table, &alice, false, 501, NULL), 1);
	ck_assert_uint_eq(listed(table, &alice, false, 999, NULL), 0);
	/* This thread runs no command: its reports go nowhere. */
	mesh_progress_set(table, "elsewhere", "files", 1, 2);
	ck_assert_uint_eq(listed(table, &alice, false, 0, &s), 1);
	ck_assert_str_eq(s.phase, "marking objects");
	pthread_mutex_lock(&w.lock);
	w.step = 2;
	pthread_cond_broadcast(&w.cond);
	pthread_mutex_unlock(&w.lock);
	pthread_join(thread, NULL);
	ck_assert_uint_eq(listed(table, &alice, true, 0, NULL), 0);
	mesh_progress_table_free(table);
}
END_TEST

/* A new phase starts its byte counts afresh; a tick keeps the total. */
START_TEST(a_new_phase_resets_bytes_and_a_tick_keeps_the_total)
{
	mesh_progress_table *table;
	mesh_progress_state s;

	ck_assert_int_eq(mesh_progress_table_new(&table), 0);
	ck_assert_int_eq(mesh_progress_begin(table, &alice, "import", "d/main"), 0);
	mesh_progress_set(table, "importing files", "files", 3, 10);
	mesh_progress_set_bytes(table, 300, 1000);
	mesh_progress_tick(table, 4);
	ck_assert_uint_eq(listed(table, &alice, false, 0, &s), 1);
	ck_assert_str_eq(s.target, "d/main");
	ck_assert_uint_eq(s.done, 4);
	ck_assert_uint_eq(s.total, 10);
	ck_assert_uint_eq(s.bytes_done, 300);
	mesh_progress_set(table, "writing trees", "files", 0, 10);
	ck_assert_uint_eq(listed(table, &alice, false, 0, &s), 1);
	ck_assert_uint_eq(s.bytes_done, 0);
	ck_assert_uint_eq(s.bytes_total, 0);
	mesh_progress_end(table);
	ck_assert_uint_eq(listed(table, &alice, false, 0, NULL), 0);
	mesh_progress_table_free(table);
}
END_TEST

static Suite *progress_suite(void)
{
	Suite *s = suite_create("progress");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, commands_are_seen_by_their_user_and_the_administrator);
	tcase_add_test(tc, a_new_phase_resets_bytes_and_a_tick_keeps_the_total);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(progress_suite());
}
