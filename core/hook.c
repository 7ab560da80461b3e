#include "hook.h"
#include "access.h"
#include "audit.h"
#include "diff.h"
#include "domain.h"
#include "error.h"
#include "history.h"
#include "import.h"
#include "log.h"
#include "view.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <stdarg.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KEY_PREFIX "h/"
#define KEY_MAX (2 + 256 + 32 + 4096 + 4)
#define HOOK_GROUPS_MAX 256

static const char *const event_names[MESH_HOOK_EVENT_COUNT] = {
	"pre-commit", "post-commit", "pre-merge", "post-merge",
	"pre-create-branch", "pre-create-tag",
};

const char *mesh_hook_event_name(mesh_hook_event event)
{
	return (unsigned)event < MESH_HOOK_EVENT_COUNT ? event_names[event] : "?";
}

int mesh_hook_event_parse(const char *name, mesh_hook_event *out)
{
	for (int i = 0; i < MESH_HOOK_EVENT_COUNT; i++) {
		if (!strcmp(name, event_names[i])) {
			*out = (mesh_hook_event)i;
			return 0;
		}
	}
	return mesh_error_set(MESH_EINVAL, "'%s' is not a hook event (events: pre-commit, "
			      "pre-merge, post-commit, post-merge, pre-create-branch, "
			      "pre-create-tag)", name);
}

/* snprintf for texts that may be cut: messages, variables. */
static void textf(char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void textf(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, len, fmt, ap);
	va_end(ap);
}

/* --- records ----------------------------------------------------------- */

/* "h/" domain \0 [event \0 [program]]: the key, or a prefix of it. */
static size_t hook_key(char *key, const char *domain, const char *event, const char *program)
{
	size_t len = (size_t)snprintf(key, KEY_MAX, KEY_PREFIX "%s", domain) + 1;

	if (event) {
		len += (size_t)snprintf(key + len, KEY_MAX - len, "%s", event) + 1;
		if (program)
			len += (size_t)snprintf(key + len, KEY_MAX - len, "%s", program);
	}
	return len;
}

static int check_program(const char *program)
{
	struct stat st;

	if (program[0] != '/')
		return mesh_error_set(MESH_EINVAL, "hook program '%s' is not an absolute path",
				      program);
	if (strlen(program) >= 4096)
		return mesh_error_set(MESH_ENAMETOOLONG, "hook program path is too long");
	if (stat(program, &st) < 0)
		return mesh_error_set(MESH_EINVAL, "hook program %s: %s", program, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return mesh_error_set(MESH_EINVAL, "hook program %s is not a regular file", program);
	if (!(st.st_mode & 0111))
		return mesh_error_set(MESH_EINVAL, "hook program %s is not executable (mode %04o)",
				      program, (unsigned)(st.st_mode & 07777));
	return 0;
}

int mesh_hook_add(mesh_store *store, const mesh_caller *caller, const char *domain,
		  mesh_hook_event event, const char *program, unsigned timeout)
{
	char key[KEY_MAX], value[16];
	size_t klen;
	int error;

	if ((error = mesh_access_check(store, caller, domain, NULL, MESH_ACCESS_ADMIN, NULL)) < 0 ||
	    (error = check_program(program)) < 0)
		return error;
	if (timeout < 1 || timeout > MESH_HOOK_TIMEOUT_MAX)
		return mesh_error_set(MESH_EINVAL, "--timeout %u: a hook's time-out is 1 to %d seconds",
				      timeout, MESH_HOOK_TIMEOUT_MAX);
	klen = hook_key(key, domain, mesh_hook_event_name(event), program);
	snprintf(value, sizeof(value), "%u", timeout);
	return mesh_db_put(mesh_store_db(store), key, klen, value, strlen(value), true);
}

int mesh_hook_remove(mesh_store *store, const mesh_caller *caller, const char *domain,
		     mesh_hook_event event, const char *program)
{
	char key[KEY_MAX];
	size_t klen;
	int error;

	if ((error = mesh_access_check(store, caller, domain, NULL, MESH_ACCESS_ADMIN, NULL)) < 0)
		return error;
	klen = hook_key(key, domain, mesh_hook_event_name(event), program);
	if ((error = mesh_db_has(mesh_store_db(store), key, klen)) < 0)
		return error;
	if (error == 0)
		return mesh_error_set(MESH_ENOENT, "domain %s has no %s hook %s", domain,
				      mesh_hook_event_name(event), program);
	return mesh_db_delete(mesh_store_db(store), key, klen, true);
}

void mesh_hook_list_free(mesh_hook *hooks, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(hooks[i].program);
	free(hooks);
}

static int push_hook(mesh_hook **hooks, size_t *count, const char *rest, size_t rlen,
		     const char *val, size_t vlen)
{
	const char *nul = memchr(rest, '\0', rlen);
	char event[32], timeout[16];
	mesh_hook *grown, *h;

	if (!nul || (size_t)(nul - rest) >= sizeof(event) || vlen >= sizeof(timeout))
		return 0;   /* not a record of this version: skipped */
	memcpy(event, rest, (size_t)(nul - rest));
	event[nul - rest] = '\0';
	memcpy(timeout, val, vlen);
	timeout[vlen] = '\0';
	if (!(grown = realloc(*hooks, (*count + 1) * sizeof(**hooks))))
		return mesh_error_oom();
	*hooks = grown;
	h = &grown[*count];
	if (mesh_hook_event_parse(event, &h->event) < 0) {
		mesh_error_clear();
		return 0;
	}
	h->timeout = (unsigned)strtoul(timeout, NULL, 10);
	if (!(h->program = strndup(nul + 1, rlen - (size_t)(nul - rest) - 1)))
		return mesh_error_oom();
	(*count)++;
	return 0;
}

static int by_event_then_program(const void *a, const void *b)
{
	const mesh_hook *x = a, *y = b;

	if (x->event != y->event)
		return (int)x->event - (int)y->event;
	return strcmp(x->program, y->program);
}

int mesh_hook_list(mesh_store *store, const char *domain, mesh_hook **out, size_t *count)
{
	char prefix[KEY_MAX];
	size_t plen = hook_key(prefix, domain, NULL, NULL), klen, vlen;
	const void *k, *v;
	mesh_db_iter *it;
	int more, error = 0;

	*out = NULL;
	*count = 0;
	if ((error = mesh_db_iter_new(&it, mesh_store_db(store), prefix, plen)) < 0)
		return error;
	while (error == 0 && (more = mesh_db_iter_next(it, &k, &klen, &v, &vlen)) > 0)
		error = push_hook(out, count, (const char *)k + plen, klen - plen, v, vlen);
	mesh_db_iter_free(it);
	if (error == 0 && more < 0)
		error = more;
	if (error < 0) {
		mesh_hook_list_free(*out, *count);
		*out = NULL;
		*count = 0;
		return error;
	}
	if (*count > 1)
		qsort(*out, *count, sizeof(**out), by_event_then_program);
	return 0;
}

/* --- the commands ------------------------------------------------------- */

static void json_hook(mesh_json *j, const char *key, mesh_hook_event event,
		      const char *program, unsigned timeout)
{
	if (key)
		mesh_json_key(j, key);
	mesh_json_object_begin(j);
	mesh_json_field_string(j, "event", mesh_hook_event_name(event));
	mesh_json_field_string(j, "program", program);
	if (timeout)
		mesh_json_field_int(j, "timeout", timeout);
	mesh_json_object_end(j);
}

static int parse_timeout(const char *text, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(text, &end, 10);
	if (!*text || *end || errno || text[0] < '0' || text[0] > '9' || v < 1 ||
	    v > MESH_HOOK_TIMEOUT_MAX)
		return mesh_error_set(MESH_EINVAL, "--timeout '%s': a hook's time-out is 1 to %d "
				      "seconds", text, MESH_HOOK_TIMEOUT_MAX);
	*out = (unsigned)v;
	return 0;
}

/* "runs_as": whom the domain's hooks run as, so that a root-owned
 * domain's "nobody" is said when the hook is added. */
static int json_runs_as(mesh_cmd *cmd, const char *domain)
{
	mesh_domain *d;
	int error;

	if ((error = mesh_domain_get(cmd->env->store, domain, &d)) < 0)
		return error;
	mesh_json_field_string(&cmd->json, "runs_as", d->owner_uid ? d->owner : "nobody");
	mesh_domain_free(d);
	return 0;
}

static int hook_add_cmd(mesh_cmd *cmd)
{
	const char *pos[3] = { NULL }, *timeout_text = NULL;
	mesh_cmd_opt opts[] = { { "--timeout", NULL, &timeout_text, NULL } };
	unsigned timeout = MESH_HOOK_TIMEOUT_DEFAULT;
	mesh_hook_event event = MESH_HOOK_PRE_COMMIT;
	size_t npos;
	int error;

	if ((error = mesh_cmd_parse_opts(cmd, 2, opts, 1, pos, 3, &npos, NULL)) < 0 ||
	    (error = mesh_cmd_need_positional(cmd, npos, 3,
		"hook add DOMAIN EVENT PROGRAM [--timeout S]")) < 0 ||
	    (timeout_text && (error = parse_timeout(timeout_text, &timeout)) < 0) ||
	    (error = mesh_hook_event_parse(pos[1], &event)) < 0 ||
	    (error = mesh_hook_add(cmd->env->store, cmd->caller, pos[0], event, pos[2],
				   timeout)) < 0)
		return error;
	mesh_json_field_string(&cmd->json, "domain", pos[0]);
	json_hook(&cmd->json, "hook", event, pos[2], timeout);
	return json_runs_as(cmd, pos[0]);
}

static int hook_remove_cmd(mesh_cmd *cmd)
{
	mesh_hook_event event = MESH_HOOK_PRE_COMMIT;
	int error;

	if (cmd->argc != 5)
		return mesh_error_set(MESH_EINVAL, "usage: hook remove DOMAIN EVENT PROGRAM");
	if ((error = mesh_hook_event_parse(cmd->argv[3], &event)) < 0 ||
	    (error = mesh_hook_remove(cmd->env->store, cmd->caller, cmd->argv[2], event,
				      cmd->argv[4])) < 0)
		return error;
	mesh_json_field_string(&cmd->json, "domain", cmd->argv[2]);
	json_hook(&cmd->json, "removed", event, cmd->argv[4], 0);
	return 0;
}

static int hook_list_cmd(mesh_cmd *cmd)
{
	mesh_hook *hooks;
	size_t count;
	int error;

	if (cmd->argc != 3)
		return mesh_error_set(MESH_EINVAL, "usage: hook list DOMAIN");
	if ((error = mesh_access_check(cmd->env->store, cmd->caller, cmd->argv[2], NULL,
				       MESH_ACCESS_SEE, NULL)) < 0 ||
	    (error = mesh_hook_list(cmd->env->store, cmd->argv[2], &hooks, &count)) < 0)
		return error;
	mesh_json_field_string(&cmd->json, "domain", cmd->argv[2]);
	mesh_json_key(&cmd->json, "hooks");
	mesh_json_array_begin(&cmd->json);
	for (size_t i = 0; i < count; i++)
		json_hook(&cmd->json, NULL, hooks[i].event, hooks[i].program, hooks[i].timeout);
	mesh_json_array_end(&cmd->json);
	mesh_hook_list_free(hooks, count);
	return 0;
}

static int cmd_hook(mesh_cmd *cmd)
{
	const char *sub = cmd->argc >= 2 ? cmd->argv[1] : "";

	if (!strcmp(sub, "add"))
		return hook_add_cmd(cmd);
	if (!strcmp(sub, "remove"))
		return hook_remove_cmd(cmd);
	if (!strcmp(sub, "list"))
		return hook_list_cmd(cmd);
	return mesh_error_set(MESH_EINVAL, "usage: %s", mesh_hook_cmd_spec.usage);
}

const mesh_cmd_spec mesh_hook_cmd_spec = {
	"hook", cmd_hook,
	"hook add DOMAIN pre-commit|pre-merge|post-commit|post-merge|pre-create-branch|"
	"pre-create-tag PROGRAM [--timeout S] | hook list DOMAIN | hook remove DOMAIN EVENT PROGRAM",
	"programs that judge commits, merges and new branches and tags before they land",
};

/* --- running one program ------------------------------------------------ */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* In the child between fork and exec: only async-signal-safe calls. */
static void child_fail(const char *what)
{
	ssize_t ignored;

	ignored = write(2, "meshfs: cannot start the hook: ", 31);
	ignored = write(2, what, strlen(what));
	ignored = write(2, "\n", 1);
	(void)ignored;
	_exit(126);
}

static void child_run(const mesh_hook_proc *p, int in_fd, int out_fd, int err_fd)
{
	char *const argv[] = { (char *)p->program, NULL };
	struct sigaction dfl;
	sigset_t none;

	setpgid(0, 0);
	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
		_exit(126);
	closefrom(3);
	/* The daemon's threads block every signal and it ignores SIGPIPE:
	 * a hook starts as any program does. */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			sigaction(s, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (p->switch_user) {
		if (setgroups(p->group_count, p->groups) < 0)
			child_fail("setgroups failed");
		if (setgid(p->gid) < 0)
			child_fail("setgid failed");
		if (setuid(p->uid) < 0 || (p->uid != 0 && setuid(0) == 0))
			child_fail("setuid failed");
	}
	if (chdir(p->cwd ? p->cwd : "/") < 0 && chdir("/") < 0)
		child_fail("chdir failed");
	execve(p->program, argv, (char *const *)p->env);
	child_fail(errno == EACCES ? "exec: permission denied" :
		   errno == ENOENT ? "exec: no such file (or its interpreter)" :
		   errno == ENOEXEC ? "exec: not an executable format" : "exec failed");
}

typedef struct capture {
	int fd;
	char *buf;
	size_t len;
} capture;

/* Reads what is there; 1 at end of file (the fd is closed then). */
static int drain(capture *c)
{
	char chunk[4096];
	ssize_t n;

	while ((n = read(c->fd, chunk, sizeof(chunk))) > 0) {
		size_t keep = MESH_HOOK_OUTPUT_MAX - c->len;
		if ((size_t)n < keep)
			keep = (size_t)n;
		memcpy(c->buf + c->len, chunk, keep);
		c->len += keep;
	}
	if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		close(c->fd);
		c->fd = -1;
		return 1;
	}
	return 0;
}

static int stdin_fd(const mesh_hook_proc *p)
{
	int fd = memfd_create("meshfs-hook-stdin", MFD_CLOEXEC);
	size_t done = 0;

	if (fd < 0)
		return mesh_error_os("cannot make the hook's stdin", "memfd");
	while (done < p->input_len) {
		ssize_t n = write(fd, p->input + done, p->input_len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return mesh_error_os("cannot write the hook's stdin", "memfd");
		}
		done += (size_t)n;
	}
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* Waits for the child and its pipes, killing its group at the time-out. */
static void supervise(pid_t pid, unsigned timeout, capture cap[2], mesh_hook_outcome *out)
{
	int64_t deadline = now_ms() + (int64_t)timeout * 1000, term_at = 0, drain_until = 0;
	bool reaped = false;
	int status = 0;

	while (!reaped || cap[0].fd >= 0 || cap[1].fd >= 0) {
		struct pollfd fds[2];
		int64_t now = now_ms(), wait = 50;
		nfds_t n = 0;

		if (!reaped && !out->timed_out && now >= deadline) {
			out->timed_out = true;
			term_at = now;
			kill(-pid, SIGTERM);
		}
		if (out->timed_out && !reaped && now >= term_at + MESH_HOOK_GRACE_MS)
			kill(-pid, SIGKILL);
		if (reaped && now >= drain_until)
			break;   /* something left the group and keeps the pipes */
		for (int i = 0; i < 2; i++) {
			if (cap[i].fd >= 0) {
				fds[n].fd = cap[i].fd;
				fds[n].events = POLLIN;
				fds[n++].revents = 0;
			}
		}
		if (n && poll(fds, n, (int)wait) > 0) {
			for (int i = 0; i < 2; i++)
				if (cap[i].fd >= 0)
					drain(&cap[i]);
		} else if (!n) {
			struct timespec ts = { 0, 20 * 1000000 };
			nanosleep(&ts, NULL);
		}
		if (!reaped && waitpid(pid, &status, WNOHANG) == pid) {
			reaped = true;
			/* Whatever it left running in its group goes with it. */
			kill(-pid, SIGKILL);
			drain_until = now_ms() + 1000;
		}
	}
	for (int i = 0; i < 2; i++)
		if (cap[i].fd >= 0)
			close(cap[i].fd);
	if (WIFEXITED(status) && !out->timed_out) {
		out->status = WEXITSTATUS(status);
	} else {
		out->status = -1;
		out->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	}
}

int mesh_hook_exec(const mesh_hook_proc *p, mesh_hook_outcome *out)
{
	capture cap[2] = { { -1, NULL, 0 }, { -1, NULL, 0 } };
	int opipe[2] = { -1, -1 }, epipe[2] = { -1, -1 }, in_fd;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	if (!(cap[0].buf = malloc(MESH_HOOK_OUTPUT_MAX + 1)) ||
	    !(cap[1].buf = malloc(MESH_HOOK_OUTPUT_MAX + 1))) {
		free(cap[0].buf);
		return mesh_error_oom();
	}
	if ((in_fd = stdin_fd(p)) < 0) {
		free(cap[0].buf);
		free(cap[1].buf);
		return in_fd;
	}
	if (pipe2(opipe, O_CLOEXEC) < 0 || pipe2(epipe, O_CLOEXEC) < 0 ||
	    (pid = fork()) < 0) {
		int error = mesh_error_os("cannot start the hook", p->program);
		int fds[] = { opipe[0], opipe[1], epipe[0], epipe[1], in_fd };
		for (size_t i = 0; i < 5; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		free(cap[0].buf);
		free(cap[1].buf);
		return error;
	}
	if (pid == 0)
		child_run(p, in_fd, opipe[1], epipe[1]);
	/* Both sides set the group, so a kill right after fork finds it. */
	setpgid(pid, pid);
	close(in_fd);
	close(opipe[1]);
	close(epipe[1]);
	cap[0].fd = opipe[0];
	cap[1].fd = epipe[0];
	fcntl(cap[0].fd, F_SETFL, O_NONBLOCK);
	fcntl(cap[1].fd, F_SETFL, O_NONBLOCK);
	supervise(pid, p->timeout, cap, out);
	cap[0].buf[cap[0].len] = '\0';
	cap[1].buf[cap[1].len] = '\0';
	out->out = cap[0].buf;
	out->out_len = cap[0].len;
	out->err = cap[1].buf;
	out->err_len = cap[1].len;
	return 0;
}

void mesh_hook_outcome_dispose(mesh_hook_outcome *out)
{
	free(out->out);
	free(out->err);
	memset(out, 0, sizeof(*out));
}

/* --- a domain's hooks for one change ---------------------------------- */

int mesh_hook_job_has(mesh_store *store, mesh_hook_job *job, mesh_hook_event event,
		      bool *out)
{
	int error;

	*out = false;
	if (!job->hooks && !job->count &&
	    (error = mesh_hook_list(store, job->domain, &job->hooks, &job->count)) < 0)
		return error;
	for (size_t i = 0; i < job->count; i++)
		if (job->hooks[i].event == event)
			*out = true;
	return 0;
}

static int collect_path(void *ctx, const char *path, mesh_diff_type type,
			const mesh_tree_entry *old, const mesh_tree_entry *new_)
{
	mesh_hook_job *job = ctx;
	size_t len = strlen(path);
	char *grown = realloc(job->changed, job->changed_len + len + 2);

	(void)type;
	(void)old;
	(void)new_;
	if (!grown)
		return mesh_error_oom();
	memcpy(grown + job->changed_len, path, len);
	grown[job->changed_len + len] = '\n';
	grown[job->changed_len + len + 1] = '\0';
	job->changed = grown;
	job->changed_len += len + 1;
	return 0;
}

static int changed_paths(mesh_store *store, mesh_hook_job *job)
{
	if (job->diffed || !job->has_trees)
		return 0;
	job->diffed = true;
	return mesh_diff_trees(mesh_store_odb(store), &job->old_tree, &job->new_tree, "",
			       collect_path, job);
}

/* Who a hook of domain runs as: its owner, nobody for root; without
 * root, this process when it is that user. */
static int hook_identity(mesh_store *store, const char *domain, mesh_hook_proc *p,
			 gid_t *groups, char *user, size_t ulen)
{
	struct passwd pw, *found = NULL;
	mesh_domain *d;
	char buf[4096];
	uid_t target;
	int n = HOOK_GROUPS_MAX, error;

	if ((error = mesh_domain_get(store, domain, &d)) < 0)
		return error;
	target = d->owner_uid ? d->owner_uid : MESH_HOOK_NOBODY;
	snprintf(user, ulen, "%s", d->owner_uid ? d->owner : "nobody");
	mesh_domain_free(d);
	p->uid = target;
	if (geteuid() != 0) {
		if (geteuid() != target)
			return mesh_error_set(MESH_EACCES,
				"hooks of domain %s run as %s (uid %u), and this meshfs runs as "
				"uid %u, which cannot switch users: run it as root or as %s",
				domain, user, (unsigned)target, (unsigned)geteuid(), user);
		p->switch_user = false;
		p->gid = getegid();
		return 0;
	}
	p->switch_user = true;
	if (getpwuid_r(target, &pw, buf, sizeof(buf), &found) == 0 && found) {
		p->gid = pw.pw_gid;
		if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0)
			n = HOOK_GROUPS_MAX;
	} else {
		p->gid = target == MESH_HOOK_NOBODY ? MESH_HOOK_NOBODY : (gid_t)target;
		groups[0] = p->gid;
		n = 1;
	}
	p->groups = groups;
	p->group_count = (size_t)n;
	return 0;
}

static int make_private(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (flag == FTW_SL)
		return 0;
	/* Root's export restored the owners: the hook's user may own some,
	 * so they go to root, without write bits, readable by all. */
	if (geteuid() == 0 && lchown(path, 0, 0) < 0)
		return -1;
	if (flag == FTW_D || flag == FTW_DP)
		return chmod(path, 0555);
	if (S_ISREG(st->st_mode))
		return chmod(path, st->st_mode & 0111 ? 0555 : 0444);
	return 0;
}

static int make_writable(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_D)
		chmod(path, 0700);
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static void remove_export(char *dir)
{
	if (!dir)
		return;
	nftw(dir, make_writable, 16, FTW_PHYS);
	nftw(dir, remove_one, 16, FTW_PHYS | FTW_DEPTH);
}

/* Without a mount the candidate is exported into a private directory
 * that nobody but root (or the hook's own user, without root) may
 * write in. */
static int export_candidate(mesh_store *store, mesh_hook_job *job)
{
	mesh_export_opts opts = { .path = "" };
	mesh_xfer_progress progress;
	mesh_caller self;
	mesh_view *view;
	char dir[] = "/tmp/meshfs-hook-XXXXXX";
	int error;

	if (!mkdtemp(dir))
		return mesh_error_os("cannot make a directory for the hook's candidate", "/tmp");
	if (!(job->export_dir = strdup(dir))) {
		rmdir(dir);
		return mesh_error_oom();
	}
	mesh_caller_self(&self);
	opts.dest_dir = dir;
	opts.jobs = 2;
	if ((error = mesh_view_open_commit(&view, store, job->domain, &job->commit)) < 0)
		return error;
	error = mesh_export_run(store, view, &self, &opts, &progress);
	mesh_view_free(view);
	if (error == 0 && nftw(dir, make_private, 16, FTW_PHYS | FTW_DEPTH) != 0)
		error = mesh_error_os("cannot make the hook's candidate read-only", dir);
	return error;
}

/* MESH_CANDIDATE: through the mount, the commit's read-only view (its id
 * indexed first, so that it resolves); else an export. */
static int candidate_dir(mesh_store *store, mesh_hook_job *job, char *out, size_t len)
{
	const char *mount = mesh_store_mountpoint(store);
	char hex[MESH_OID_HEXSZ + 1];
	int error;

	mesh_oid_fmt(hex, &job->commit);
	if (mount) {
		if (job->event == MESH_HOOK_PRE_COMMIT || job->event == MESH_HOOK_PRE_MERGE) {
			mesh_db_batch *batch;
			if ((error = mesh_db_batch_new(&batch)) < 0)
				return error;
			mesh_history_index_put(batch, job->domain, &job->commit);
			error = mesh_db_batch_write(mesh_store_db(store), batch, false);
			mesh_db_batch_free(batch);
			if (error < 0)
				return error;
		}
		textf(out, len, "%s/%s/%s", mount, job->domain, hex);
		return 0;
	}
	if (!job->export_dir && (error = export_candidate(store, job)) < 0)
		return error;
	snprintf(out, len, "%s", job->export_dir);
	return 0;
}

/* The first lines of a hook's stderr (or stdout), for a message. */
static void trimmed_output(const mesh_hook_outcome *o, char *out, size_t len)
{
	const char *text = o->err_len ? o->err : o->out;
	size_t n = o->err_len ? o->err_len : o->out_len;

	while (n && (text[n - 1] == '\n' || text[n - 1] == ' ' || text[n - 1] == '\r'))
		n--;
	if (n >= len)
		n = len - 1;
	memcpy(out, text, n);
	out[n] = '\0';
}

static void describe(const mesh_hook *h, const mesh_hook_outcome *o, char *out, size_t len)
{
	if (o->timed_out)
		snprintf(out, len, "timed out after %u s and was killed", h->timeout);
	else if (o->status >= 0)
		snprintf(out, len, "exit status %d", o->status);
	else
		snprintf(out, len, "killed by signal %d", o->signal);
}

typedef struct env_buf {
	char vars[9][4400];
	const char *env[10];
} env_buf;

static void build_env(env_buf *e, const mesh_hook_job *job, mesh_hook_event event,
		      const mesh_oid *commit, const char *candidate)
{
	char hex[MESH_OID_HEXSZ + 1], user[256];
	size_t n = 0;

	mesh_oid_fmt(hex, commit);
	mesh_user_name(job->caller ? job->caller->uid : geteuid(), user, sizeof(user));
	textf(e->vars[n++], sizeof(e->vars[0]), "PATH=/usr/local/bin:/usr/bin:/bin");
	textf(e->vars[n++], sizeof(e->vars[0]), "MESH_EVENT=%s", mesh_hook_event_name(event));
	textf(e->vars[n++], sizeof(e->vars[0]), "MESH_DOMAIN=%s", job->domain);
	textf(e->vars[n++], sizeof(e->vars[0]), "MESH_BRANCH=%s", job->branch);
	textf(e->vars[n++], sizeof(e->vars[0]), "MESH_SOURCE=%s", job->source ? job->source : "");
	textf(e->vars[n++], sizeof(e->vars[0]), "MESH_COMMIT=%s", hex);
	textf(e->vars[n++], sizeof(e->vars[0]), "MESH_USER=%s", user);
	textf(e->vars[n++], sizeof(e->vars[0]), "MESH_UID=%u",
		 (unsigned)(job->caller ? job->caller->uid : geteuid()));
	textf(e->vars[n++], sizeof(e->vars[0]), "MESH_CANDIDATE=%s", candidate);
	for (size_t i = 0; i < n; i++)
		e->env[i] = e->vars[i];
	e->env[n] = NULL;
}

/* Runs the hooks of event; *refusal gets the first failure's message
 * (the rest do not run when stop is set).  0, or an error starting one. */
static int run_event(mesh_store *store, mesh_hook_job *job, mesh_hook_event event,
		     const mesh_oid *commit, bool stop, char *refusal, size_t rlen)
{
	gid_t groups[HOOK_GROUPS_MAX];
	char candidate[4400], user[256], how[128], said[700];
	mesh_hook_proc proc = { 0 };
	env_buf *env;
	bool any;
	int error;

	refusal[0] = '\0';
	if ((error = mesh_hook_job_has(store, job, event, &any)) < 0 || !any)
		return error;
	if ((error = changed_paths(store, job)) < 0 ||
	    (error = hook_identity(store, job->domain, &proc, groups, user, sizeof(user))) < 0 ||
	    (error = candidate_dir(store, job, candidate, sizeof(candidate))) < 0)
		return error;
	if (!(env = malloc(sizeof(*env))))
		return mesh_error_oom();
	build_env(env, job, event, commit, candidate);
	proc.env = env->env;
	proc.input = job->changed ? job->changed : "";
	proc.input_len = job->changed_len;
	for (size_t i = 0; i < job->count && error == 0; i++) {
		mesh_hook *h = &job->hooks[i];
		mesh_hook_outcome o;
		if (h->event != event)
			continue;
		proc.program = h->program;
		proc.timeout = h->timeout;
		if ((error = mesh_hook_exec(&proc, &o)) < 0)
			break;
		if (o.status != 0) {
			describe(h, &o, how, sizeof(how));
			trimmed_output(&o, said, sizeof(said));
			textf(refusal, rlen, "%s hook %s (run as %s) of domain %s %s %s/%s "
				 "(%s)%s%s", mesh_hook_event_name(event), h->program, user,
				 job->domain, stop ? "refused" : "failed after", job->domain,
				 job->branch, how, said[0] ? ": " : "", said);
			if (!stop) {
				mesh_hook_outcome_dispose(&o);
				mesh_log_write(mesh_store_log(store), MESH_LOG_WARN, "%s", refusal);
				mesh_audit_event e = { .op = "hook", .domain = job->domain,
						       .ref = job->branch, .commit = commit,
						       .result = MESH_EPERM, .detail = refusal };
				mesh_audit_record(mesh_store_audit(store), job->caller, &e);
				refusal[0] = '\0';
				continue;
			}
		}
		mesh_hook_outcome_dispose(&o);
		if (refusal[0])
			break;
	}
	free(env);
	return error;
}

int mesh_hook_run_pre(mesh_store *store, mesh_hook_job *job)
{
	char refusal[1024];
	int error;

	if ((error = run_event(store, job, job->event, &job->commit, true, refusal,
			       sizeof(refusal))) < 0)
		return error;
	if (refusal[0])
		return mesh_error_set(MESH_EPERM, "%s", refusal);
	return 0;
}

void mesh_hook_run_post(mesh_store *store, mesh_hook_job *job, const mesh_oid *commit)
{
	mesh_hook_event post = job->event == MESH_HOOK_PRE_MERGE ? MESH_HOOK_POST_MERGE :
			       MESH_HOOK_POST_COMMIT;
	char refusal[1024];
	mesh_hook_event pre = job->event;

	if (job->event != MESH_HOOK_PRE_COMMIT && job->event != MESH_HOOK_PRE_MERGE)
		return;
	job->commit = *commit;
	job->event = post;
	/* The change has landed: a hook that cannot run is as good as one that
	 * failed, and like it changes nothing. */
	if (run_event(store, job, post, commit, false, refusal, sizeof(refusal)) < 0) {
		char text[1024];
		textf(text, sizeof(text), "%s hooks of domain %s did not run: %s",
			 mesh_hook_event_name(post), job->domain, mesh_error_message());
		mesh_log_write(mesh_store_log(store), MESH_LOG_WARN, "%s", text);
		mesh_audit_event e = { .op = "hook", .domain = job->domain, .ref = job->branch,
				       .commit = commit, .result = mesh_error_code(), .detail = text };
		mesh_audit_record(mesh_store_audit(store), job->caller, &e);
		mesh_error_clear();
	}
	job->event = pre;
}

void mesh_hook_job_dispose(mesh_hook_job *job)
{
	mesh_hook_list_free(job->hooks, job->count);
	job->hooks = NULL;
	job->count = 0;
	free(job->changed);
	job->changed = NULL;
	job->changed_len = 0;
	remove_export(job->export_dir);
	free(job->export_dir);
	job->export_dir = NULL;
}
