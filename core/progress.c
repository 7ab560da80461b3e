#include "progress.h"
#include "access.h"
#include "error.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct running {
	struct running *next;
	pthread_t thread;
	int64_t started_ms;
	mesh_progress_state state;
} running;

struct mesh_progress_table {
	pthread_mutex_t lock;   /* guards commands and their states */
	running *commands;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void copy_word(char *out, size_t cap, const char *word)
{
	snprintf(out, cap, "%s", word ? word : "");
}

int mesh_progress_table_new(mesh_progress_table **out)
{
	mesh_progress_table *table = calloc(1, sizeof(*table));

	if (!table)
		return mesh_error_oom();
	pthread_mutex_init(&table->lock, NULL);
	*out = table;
	return 0;
}

void mesh_progress_table_free(mesh_progress_table *table)
{
	if (!table)
		return;
	while (table->commands) {
		running *next = table->commands->next;
		free(table->commands);
		table->commands = next;
	}
	pthread_mutex_destroy(&table->lock);
	free(table);
}

/* The calling thread's command; table->lock held. */
static running *find_mine(mesh_progress_table *table)
{
	pthread_t self = pthread_self();

	for (running *r = table->commands; r; r = r->next)
		if (pthread_equal(r->thread, self))
			return r;
	return NULL;
}

int mesh_progress_begin(mesh_progress_table *table, const mesh_caller *caller,
			const char *command, const char *target)
{
	running *r = calloc(1, sizeof(*r));

	if (!r)
		return mesh_error_oom();
	r->thread = pthread_self();
	r->started_ms = now_ms();
	copy_word(r->state.command, sizeof(r->state.command), command);
	copy_word(r->state.target, sizeof(r->state.target), target);
	r->state.uid = caller->uid;
	r->state.pid = caller->pid;
	pthread_mutex_lock(&table->lock);
	r->next = table->commands;
	table->commands = r;
	pthread_mutex_unlock(&table->lock);
	return 0;
}

void mesh_progress_end(mesh_progress_table *table)
{
	pthread_t self = pthread_self();
	running *gone = NULL;

	pthread_mutex_lock(&table->lock);
	for (running **p = &table->commands; *p; p = &(*p)->next) {
		if (pthread_equal((*p)->thread, self)) {
			gone = *p;
			*p = gone->next;
			break;
		}
	}
	pthread_mutex_unlock(&table->lock);
	free(gone);
}

void mesh_progress_set(mesh_progress_table *table, const char *phase, const char *unit,
		       uint64_t done, uint64_t total)
{
	running *r;

	if (!table)
		return;
	pthread_mutex_lock(&table->lock);
	if ((r = find_mine(table))) {
		if (strcmp(r->state.phase, phase ? phase : "")) {
			copy_word(r->state.phase, sizeof(r->state.phase), phase);
			r->state.bytes_done = r->state.bytes_total = 0;
		}
		copy_word(r->state.unit, sizeof(r->state.unit), unit);
		r->state.done = done;
		r->state.total = total;
	}
	pthread_mutex_unlock(&table->lock);
}

void mesh_progress_tick(mesh_progress_table *table, uint64_t done)
{
	running *r;

	if (!table)
		return;
	pthread_mutex_lock(&table->lock);
	if ((r = find_mine(table)))
		r->state.done = done;
	pthread_mutex_unlock(&table->lock);
}

void mesh_progress_set_bytes(mesh_progress_table *table, uint64_t done, uint64_t total)
{
	running *r;

	if (!table)
		return;
	pthread_mutex_lock(&table->lock);
	if ((r = find_mine(table))) {
		r->state.bytes_done = done;
		r->state.bytes_total = total;
	}
	pthread_mutex_unlock(&table->lock);
}

int mesh_progress_list(mesh_progress_table *table, const mesh_caller *caller, bool admin,
		       pid_t pid, mesh_progress_state **out, size_t *count)
{
	size_t n = 0, cap = 0;
	mesh_progress_state *states = NULL;
	int64_t now = now_ms();
	int error = 0;

	pthread_mutex_lock(&table->lock);
	for (running *r = table->commands; r; r = r->next) {
		if ((!admin && r->state.uid != caller->uid) || (pid > 0 && r->state.pid != pid))
			continue;
		if (n == cap) {
			size_t grown = cap ? cap * 2 : 4;
			mesh_progress_state *more = realloc(states, grown * sizeof(*more));
			if (!more) {
				error = mesh_error_oom();
				break;
			}
			states = more;
			cap = grown;
		}
		states[n] = r->state;
		states[n++].elapsed_ms = now - r->started_ms;
	}
	pthread_mutex_unlock(&table->lock);
	if (error < 0) {
		free(states);
		return error;
	}
	*out = states;
	*count = n;
	return 0;
}

static void json_state(mesh_json *j, const mesh_progress_state *s)
{
	mesh_json_object_begin(j);
	mesh_json_field_string(j, "command", s->command);
	mesh_json_field_string(j, "target", s->target);
	mesh_json_field_string(j, "phase", s->phase);
	mesh_json_field_string(j, "unit", s->unit);
	mesh_json_field_int(j, "done", (int64_t)s->done);
	mesh_json_field_int(j, "total", (int64_t)s->total);
	mesh_json_field_int(j, "bytes_done", (int64_t)s->bytes_done);
	mesh_json_field_int(j, "bytes_total", (int64_t)s->bytes_total);
	mesh_json_field_int(j, "uid", s->uid);
	mesh_json_field_int(j, "pid", s->pid);
	mesh_json_field_int(j, "elapsed_ms", s->elapsed_ms);
	mesh_json_object_end(j);
}

static int cmd_progress(mesh_cmd *cmd)
{
	const char *pid_word = NULL, *positional[1];
	mesh_cmd_opt opts[] = { { "--pid", NULL, &pid_word, NULL } };
	mesh_progress_state *states;
	size_t npos, count;
	long pid = 0;
	char *end;
	int error;

	if ((error = mesh_cmd_parse_opts(cmd, 1, opts, 1, positional, 1, &npos, NULL)) < 0 ||
	    (error = mesh_cmd_need_positional(cmd, npos, 0, mesh_progress_cmd_spec.usage)) < 0)
		return error;
	if (pid_word) {
		pid = strtol(pid_word, &end, 10);
		if (*end || end == pid_word || pid <= 0)
			return mesh_error_set(MESH_EINVAL, "--pid needs a process id, not '%s'",
					      pid_word);
	}
	error = mesh_progress_list(mesh_store_progress(cmd->env->store), cmd->caller,
				   mesh_access_is_admin(cmd->env->store, cmd->caller), (pid_t)pid, &states, &count);
	if (error < 0)
		return error;
	mesh_json_key(&cmd->json, "running");
	mesh_json_array_begin(&cmd->json);
	for (size_t i = 0; i < count; i++)
		json_state(&cmd->json, &states[i]);
	mesh_json_array_end(&cmd->json);
	free(states);
	return 0;
}

const mesh_cmd_spec mesh_progress_cmd_spec = {
	"progress", cmd_progress, "progress [--pid PID]",
	"how far the caller's running commands (commit, merge, gc, fsck, import, export) have come",
};
