/*
 * ctlclient.c - a control command through a mount's control file or on
 * the store directly (ctlclient.h).
 */
#include "ctlclient.h"
#include "control.h"
#include "error.h"
#include "jsonread.h"
#include "progress.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ANSWER_MAX (64u << 20)

/* --- finding the mount ----------------------------------------------- */

/* Undoes /proc/self/mounts' octal escapes (\040 for a space). */
static void unescape_mount_field(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] && s[3]) {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/*
 * The meshfs mount serving store, or the one at mountpoint (store NULL):
 * fills mount_out and store_out.  0 found, -1 none.
 */
int mesh_ctl_find_mount(const char *store, const char *mountpoint,
		      char *mount_out, char *store_out)
{
	char line[3 * PATH_MAX], real_store[PATH_MAX], real_mount[PATH_MAX];
	FILE *mounts = fopen("/proc/self/mounts", "r");
	int found = -1;

	if (!mounts)
		return -1;
	if (store && !realpath(store, real_store))
		snprintf(real_store, sizeof(real_store), "%s", store);
	if (mountpoint && !realpath(mountpoint, real_mount))
		snprintf(real_mount, sizeof(real_mount), "%s", mountpoint);
	while (found < 0 && fgets(line, sizeof(line), mounts)) {
		char *fsname = strtok(line, " "), *dir = strtok(NULL, " "), *type = strtok(NULL, " ");
		if (!fsname || !dir || !type || strcmp(type, "fuse.meshfs") != 0 ||
		    strncmp(fsname, "meshfs:", 7) != 0)
			continue;
		unescape_mount_field(fsname);
		unescape_mount_field(dir);
		if (store && strcmp(fsname + 7, real_store) != 0 && strcmp(fsname + 7, store) != 0)
			continue;
		if (mountpoint && strcmp(dir, real_mount) != 0)
			continue;
		snprintf(mount_out, PATH_MAX, "%s", dir);
		snprintf(store_out, PATH_MAX, "%s", fsname + 7);
		found = 0;
	}
	fclose(mounts);
	return found;
}

/* --- running a control command --------------------------------------- */

static int append_quoted(char *line, size_t cap, size_t *len, const char *word)
{
	size_t need = (*len ? 1 : 0) + 2 + strlen(word);

	for (const char *p = strchr(word, '\''); p; p = strchr(p + 1, '\''))
		need += 3;
	if (*len + need + 1 > cap)
		return -1;
	if (*len)
		line[(*len)++] = ' ';
	line[(*len)++] = '\'';
	for (const char *p = word; *p; p++) {
		if (*p == '\'') {
			memcpy(line + *len, "'\\''", 4);
			*len += 4;
		} else {
			line[(*len)++] = *p;
		}
	}
	line[(*len)++] = '\'';
	line[*len] = '\0';
	return 0;
}

char *mesh_ctl_command_line(int argc, char *const *argv)
{
	size_t cap = MESH_CONTROL_MAX_LINE + 1, len = 0;
	char *line = malloc(cap);

	if (!line)
		return NULL;
	line[0] = '\0';
	for (int i = 0; i < argc; i++) {
		if (append_quoted(line, cap, &len, argv[i]) < 0) {
			free(line);
			mesh_error_set(MESH_EINVAL,
				"command line too long: more than %d bytes once quoted",
				MESH_CONTROL_MAX_LINE);
			return NULL;
		}
	}
	return line;
}

/* Sends line through MOUNT/.control; the answer comes back on the fd. */
int mesh_ctl_run_via_mount(const char *mount, const char *line, char **answer, int *code)
{
	char path[PATH_MAX + 16];
	char *buf = malloc(ANSWER_MAX);
	ssize_t n;
	size_t got = 0;
	int fd;

	*answer = NULL;
	if (!buf)
		return mesh_error_oom();
	snprintf(path, sizeof(path), "%s/.control", mount);
	if ((fd = open(path, O_RDWR)) < 0) {
		free(buf);
		return mesh_error_os("cannot open the control file", path);
	}
	*code = write(fd, line, strlen(line)) < 0 ? -errno : 0;
	while ((n = pread(fd, buf + got, ANSWER_MAX - 1 - got, (off_t)got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	*answer = buf;
	return 0;
}

typedef struct local_views {
	mesh_store *store;
	mesh_view *views[16];
	size_t count;
} local_views;

static int local_branch_view(void *ctx, const char *domain, const char *branch,
			     mesh_view **out)
{
	local_views *lv = ctx;
	int error;

	if (lv->count == 16)
		return mesh_error_set(MESH_EINVAL, "too many branches in one command");
	if ((error = mesh_view_open_branch(out, lv->store, domain, branch)) == 0)
		lv->views[lv->count++] = *out;
	return error;
}

/* --- watching a command's progress ------------------------------------ */

/*
 * While the command runs on one thread (the CLI's main thread, whose pid
 * the daemon sees), a watcher thread asks every WATCH_EVERY_MS how far it
 * has come: through a second descriptor of the control file, or in the
 * same store handle's table.
 */
#define WATCH_EVERY_MS 100

typedef struct watcher {
	pthread_t thread;
	pthread_mutex_t lock;   /* guards stop */
	pthread_cond_t wake;
	bool stop;
	const char *mount;      /* through this mount, or */
	mesh_store *store;      /* in this store's table */
	pid_t pid;
	mesh_ctl_progress_fn fn;
	void *ctx;
} watcher;

static void state_word(char *out, size_t cap, const json_value *obj, const char *key)
{
	snprintf(out, cap, "%s", json_str(obj, key, ""));
}

static int poll_mount(watcher *w, mesh_progress_state *out)
{
	char line[64], *answer = NULL;
	const json_value *running, *s;
	json_value *a;
	int code, found = 0;

	snprintf(line, sizeof(line), "progress --pid %ld", (long)w->pid);
	if (mesh_ctl_run_via_mount(w->mount, line, &answer, &code) < 0 || code < 0) {
		free(answer);
		return 0;
	}
	a = json_parse(answer);
	free(answer);
	running = a ? json_get(a, "running") : NULL;
	if (running && running->count > 0) {
		s = running->items[0];
		state_word(out->command, sizeof(out->command), s, "command");
		state_word(out->target, sizeof(out->target), s, "target");
		state_word(out->phase, sizeof(out->phase), s, "phase");
		state_word(out->unit, sizeof(out->unit), s, "unit");
		out->done = (uint64_t)json_num(s, "done", 0);
		out->total = (uint64_t)json_num(s, "total", 0);
		out->bytes_done = (uint64_t)json_num(s, "bytes_done", 0);
		out->bytes_total = (uint64_t)json_num(s, "bytes_total", 0);
		out->elapsed_ms = (int64_t)json_num(s, "elapsed_ms", 0);
		found = 1;
	}
	json_free(a);
	return found;
}

static int poll_store(watcher *w, mesh_progress_state *out)
{
	mesh_progress_state *states = NULL;
	mesh_caller self;
	size_t count = 0;
	int found = 0;

	mesh_caller_self(&self);
	if (mesh_progress_list(mesh_store_progress(w->store), &self, false, w->pid,
			       &states, &count) == 0 && count > 0) {
		*out = states[0];
		found = 1;
	}
	free(states);
	return found;
}

static void *watch(void *arg)
{
	watcher *w = arg;
	mesh_progress_state state;
	struct timespec until;

	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		pthread_mutex_unlock(&w->lock);
		memset(&state, 0, sizeof(state));
		if (w->store ? poll_store(w, &state) : poll_mount(w, &state))
			w->fn(w->ctx, &state);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += WATCH_EVERY_MS * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		pthread_mutex_lock(&w->lock);
		if (!w->stop)
			pthread_cond_timedwait(&w->wake, &w->lock, &until);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static bool watch_start(watcher *w)
{
	w->pid = getpid();
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	if (pthread_create(&w->thread, NULL, watch, w) == 0)
		return true;
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	return false;
}

/* Stops the watcher and tells fn that the command is over (state NULL). */
static void watch_stop(watcher *w)
{
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	w->fn(w->ctx, NULL);
}

int mesh_ctl_run_via_mount_progress(const char *mount, const char *line,
				    mesh_ctl_progress_fn fn, void *ctx,
				    char **answer, int *code)
{
	watcher w = { .mount = mount, .fn = fn, .ctx = ctx };
	bool watching = fn && watch_start(&w);
	int error = mesh_ctl_run_via_mount(mount, line, answer, code);

	if (watching)
		watch_stop(&w);
	return error;
}

int mesh_ctl_run_on_store(const char *store_path, int log_level, const char *line,
			  char **answer, int *code)
{
	return mesh_ctl_run_on_store_progress(store_path, log_level, line, NULL, NULL,
					      answer, code);
}

int mesh_ctl_run_on_store_progress(const char *store_path, int log_level, const char *line,
				   mesh_ctl_progress_fn fn, void *ctx,
				   char **answer, int *code)
{
	mesh_log log = { .level = log_level };
	local_views lv = { 0 };
	mesh_control_env env = { NULL, local_branch_view, NULL, NULL, &lv };
	mesh_caller caller;
	watcher w = { .fn = fn, .ctx = ctx };
	bool watching;
	int error;

	mesh_caller_self(&caller);
	if ((error = mesh_store_open(&lv.store, store_path, &log)) < 0)
		return error;
	env.store = w.store = lv.store;
	watching = fn && watch_start(&w);
	*code = mesh_control_run(&env, &caller, line, answer);
	if (watching)
		watch_stop(&w);
	for (size_t i = 0; i < lv.count; i++)
		mesh_view_free(lv.views[i]);
	mesh_store_close(lv.store);
	return *answer ? 0 : mesh_error_oom();
}
