/*
 * ctlclient.c - a control command through a mount's control file or on
 * the store directly (ctlclient.h).
 */
#include "ctlclient.h"
#include "control.h"
#include "error.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int mesh_ctl_run_on_store(const char *store_path, int log_level, const char *line,
			  char **answer, int *code)
{
	return mesh_ctl_run_on_store_progress(store_path, log_level, line, NULL, NULL,
					      answer, code);
}

int mesh_ctl_run_on_store_progress(const char *store_path, int log_level, const char *line,
				   void (*progress)(void *ctx, const struct mesh_xfer_progress *p),
				   void *progress_ctx, char **answer, int *code)
{
	mesh_log log = { .level = log_level };
	local_views lv = { 0 };
	mesh_control_env env = { NULL, local_branch_view, NULL, NULL, &lv,
				 progress, progress_ctx };
	mesh_caller caller;
	int error;

	mesh_caller_self(&caller);
	error = mesh_store_open(&lv.store, store_path, &log);

	if (error < 0)
		return error;
	env.store = lv.store;
	*code = mesh_control_run(&env, &caller, line, answer);
	for (size_t i = 0; i < lv.count; i++)
		mesh_view_free(lv.views[i]);
	mesh_store_close(lv.store);
	return *answer ? 0 : mesh_error_oom();
}

