/*
 * daemon.c - the mount's life: open the store, mount, serve on several
 * threads, unmount and close the store; and the table of views.
 */
#include "fs.h"
#include "prime.h"
#include "dirty.h"
#include "journal.h"
#include "array.h"
#include "error.h"
#include "audit.h"

#include <fcntl.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define MAX_IDLE_THREADS 16

static void syslog_sink(void *ctx, int level, const char *line)
{
	static const int priorities[] = { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR };

	(void)ctx;
	syslog(priorities[level < 0 ? 0 : level > 3 ? 3 : level], "%s", line);
}

/* --- views ----------------------------------------------------------- */

int fs_branch_view(fs *f, const char *domain, const char *branch, mesh_view **out)
{
	return fs_views_branch(&f->views, domain, branch, out);
}

int fs_commit_view(fs *f, const char *domain, const mesh_oid *commit, mesh_view **out)
{
	return fs_views_commit(&f->views, domain, commit, out);
}

void fs_view_put(fs *f, mesh_view *view)
{
	fs_views_put(&f->views, view);
}

/* A view node holds its view for as long as the kernel remembers it. */
static void node_view_hold(void *ctx, mesh_view *view)
{
	fs_views_hold(ctx, view);
}

static void node_view_put(void *ctx, mesh_view *view)
{
	fs_views_put(ctx, view);
}

/* --- lifecycle ------------------------------------------------------- */

/* In the background the parent waits on a pipe for the child's word
 * that the mount is up, so `meshfs mount` fails visibly when it fails. */
static int daemonize(int *ready_fd)
{
	int fds[2];
	pid_t pid;
	char status = 1;

	if (pipe(fds) < 0)
		return -errno;
	if ((pid = fork()) < 0)
		return -errno;
	if (pid > 0) {
		close(fds[1]);
		if (read(fds[0], &status, 1) != 1)
			status = 1;
		close(fds[0]);
		_exit(status);
	}
	close(fds[0]);
	setsid();
	*ready_fd = fds[1];
	return 0;
}

static void report_ready(int *ready_fd, char status)
{
	int devnull;

	if (*ready_fd < 0)
		return;
	if (write(*ready_fd, &status, 1) != 1)
		status = 1;
	close(*ready_fd);
	*ready_fd = -1;
	if (status == 0 && (devnull = open("/dev/null", O_RDWR)) >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		dup2(devnull, STDERR_FILENO);
		if (devnull > STDERR_FILENO)
			close(devnull);
	}
}

/* meshfs's own -o options, taken out of what goes to FUSE: noaudit
 * (an administrator's choice: no audit records while mounted).  out
 * gets the others; true when noaudit was among them. */
static bool take_own_options(const char *fuse_opts, char *out, size_t cap)
{
	char *copy = strdup(fuse_opts ? fuse_opts : ""), *save = NULL;
	bool noaudit = false;
	size_t len = 0;

	out[0] = '\0';
	for (char *o = copy ? strtok_r(copy, ",", &save) : NULL; o; o = strtok_r(NULL, ",", &save)) {
		if (!strcmp(o, "noaudit"))
			noaudit = true;
		else if (len < cap)
			len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? "," : "", o);
	}
	free(copy);
	return noaudit;
}

static int build_args(const meshfs_mount_opts *opts, struct fuse_args *args)
{
	char options[8192], fuse_opts[4096];
	int n;

	take_own_options(opts->fuse_opts, fuse_opts, sizeof(fuse_opts));
	n = snprintf(options, sizeof(options),
		     "fsname=meshfs:%s,subtype=meshfs,default_permissions%s%s",
		     opts->store_path, *fuse_opts ? "," : "", fuse_opts);

	if (n < 0 || (size_t)n >= sizeof(options))
		return mesh_error_set(MESH_EINVAL, "mount options too long");
	if (fuse_opt_add_arg(args, "meshfs") < 0 ||
	    fuse_opt_add_arg(args, "-o") < 0 ||
	    fuse_opt_add_arg(args, options) < 0)
		return mesh_error_oom();
	return 0;
}

/* meshfs's own -o options, taken out of what FUSE is given. */
typedef struct mount_flags {
	int root_squash;
	int allow_other;
} mount_flags;

#define KEY_ALLOW_OTHER 1

static const struct fuse_opt mount_flag_opts[] = {
	{ "root_squash", offsetof(mount_flags, root_squash), 1 },
	FUSE_OPT_KEY("allow_other", KEY_ALLOW_OTHER),
	/* The user chose whom the mount serves: FUSE takes only one of them. */
	FUSE_OPT_KEY("allow_root", KEY_ALLOW_OTHER),
	FUSE_OPT_END
};

static int keep_option(void *data, const char *arg, int key, struct fuse_args *out)
{
	(void)arg;
	(void)out;
	if (key == KEY_ALLOW_OTHER)
		((mount_flags *)data)->allow_other = 1;
	return 1;
}

/* root_squash goes to the store handle; a daemon run by root serves
 * every user of the host (allow_other), as the access rules are there
 * to judge them. */
static int apply_mount_flags(fs *f, struct fuse_args *args)
{
	mount_flags flags = { 0 };
	int error;

	if (fuse_opt_parse(args, &flags, mount_flag_opts, keep_option) < 0)
		return mesh_error_set(MESH_EINVAL, "bad mount options");
	if ((error = mesh_store_set_root_squash(f->store, flags.root_squash != 0)) < 0)
		return error;
	if (!flags.allow_other && geteuid() == 0 && fuse_opt_add_arg(args, "-oallow_other") < 0)
		return mesh_error_oom();
	return 0;
}

static int fs_open(fs *f, const meshfs_mount_opts *opts)
{
	int error;

	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->handles_lock, NULL);
	pthread_mutex_init(&f->jobs_lock, NULL);
	pthread_cond_init(&f->jobs_idle, NULL);
	f->log.level = opts->log_level;
	f->log.sink = opts->foreground ? NULL : syslog_sink;
	f->started_ns = (int64_t)time(NULL) * 1000000000;
	f->uid = getuid();
	f->gid = getgid();
	if ((error = fs_nodes_init(&f->nodes)) < 0)
		return mesh_error_set(error, "cannot allocate the inode table");
	if ((error = mesh_store_open(&f->store, opts->store_path, &f->log)) < 0 ||
	    (error = fs_views_init(&f->views, f->store)) < 0)
		return error;
	if (take_own_options(opts->fuse_opts, (char[4096]){ 0 }, 4096)) {
		mesh_audit_set_enabled(mesh_store_audit(f->store), false);
		mesh_log_write(&f->log, MESH_LOG_WARN, "mounted with -o noaudit: "
			       "nothing done through this mount is in the audit log");
	}
	/* What fsyncs staged as journals before a crash becomes chunks
	 * before any request can read it. */
	size_t recovered;
	if ((error = mesh_journal_recover(f->store, &recovered)) < 0)
		return error;
	if (recovered)
		mesh_log_write(&f->log, MESH_LOG_INFO,
			       "folded %zu file(s) fsync'd before a crash into their chunks",
			       recovered);
	f->nodes.view_hold = node_view_hold;
	f->nodes.view_put = node_view_put;
	f->nodes.view_ctx = &f->views;
	if ((error = mesh_file_write_buf(mesh_store_odb(f->store), NULL, "", 0,
					 &f->empty_file)) < 0)
		return error;
	/* Every create names this map without storing it again: pinned for
	 * the mount's life, or a garbage collection that finds no empty file
	 * anywhere would take it. */
	return mesh_odb_pin(mesh_store_odb(f->store), &f->empty_file);
}

static void fs_close(fs *f)
{
	if (f->store)
		fs_dirty_stage_all(f);
	fs_handles_free_all(f);
	pthread_mutex_destroy(&f->handles_lock);
	pthread_mutex_destroy(&f->jobs_lock);
	pthread_cond_destroy(&f->jobs_idle);
	fs_nodes_destroy(&f->nodes);
	fs_views_destroy(&f->views);
	mesh_store_close(f->store);
}

static int set_mountpoint(fs *f, const char *mountpoint)
{
	char *real = realpath(mountpoint, NULL);
	int error = mesh_store_set_mountpoint(f->store, real ? real : mountpoint);

	free(real);
	return error;
}

static int serve(fs *f, const meshfs_mount_opts *opts, int *ready_fd)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config *loop;
	int error;

	if ((error = build_args(opts, &args)) < 0 ||
	    (error = apply_mount_flags(f, &args)) < 0)
		goto out;
	f->session = fuse_session_new(&args, &meshfs_ops, sizeof(meshfs_ops), f);
	if (!f->session) {
		error = mesh_error_set(MESH_EINVAL, "bad FUSE options: %s",
				       opts->fuse_opts ? opts->fuse_opts : "");
		goto out;
	}
	/* Hooks see their candidate as a commit view of this mount.  Resolved
	 * before mounting: afterwards the lookup would ask this very daemon. */
	if ((error = set_mountpoint(f, opts->mountpoint)) < 0)
		goto destroy;
	if (fuse_set_signal_handlers(f->session) != 0 ||
	    fuse_session_mount(f->session, opts->mountpoint) != 0) {
		error = mesh_error_set(MESH_EIO, "cannot mount on %s", opts->mountpoint);
		goto destroy;
	}
	mesh_log_write(&f->log, MESH_LOG_INFO, "mounted %s on %s",
		       mesh_store_path(f->store), opts->mountpoint);
	/* Without priming, random reads are only slower. */
	if (fs_prime_start(&f->prime, f) < 0)
		mesh_log_write(&f->log, MESH_LOG_WARN, "%s", mesh_error_message());
	report_ready(ready_fd, 0);
	loop = fuse_loop_cfg_create();
	fuse_loop_cfg_set_max_threads(loop, 64);
	fuse_loop_cfg_set_idle_threads(loop, MAX_IDLE_THREADS);
	error = fuse_session_loop_mt(f->session, loop) == 0 ? 0 : MESH_EIO;
	fuse_loop_cfg_destroy(loop);
	/* Their replies need the session. */
	fs_jobs_wait(f);
	fuse_session_unmount(f->session);
	fs_prime_stop(f->prime);
	f->prime = NULL;
	mesh_log_write(&f->log, MESH_LOG_INFO, "unmounted %s", opts->mountpoint);
destroy:
	fuse_remove_signal_handlers(f->session);
	fuse_session_destroy(f->session);
out:
	fuse_opt_free_args(&args);
	return error;
}

int meshfs_fs_main(const meshfs_mount_opts *opts)
{
	fs f;
	int ready_fd = -1, error;

	if (!opts->foreground) {
		openlog("meshfs", LOG_PID, LOG_DAEMON);
		if ((error = daemonize(&ready_fd)) < 0)
			return mesh_error_set(error, "cannot start the daemon");
	}
	if ((error = fs_open(&f, opts)) == 0)
		error = serve(&f, opts, &ready_fd);
	if (error < 0) {
		fprintf(stderr, "meshfs: %s\n", mesh_error_message());
		mesh_log_write(&f.log, MESH_LOG_ERROR, "%s", mesh_error_message());
	}
	report_ready(&ready_fd, error ? 1 : 0);
	fs_close(&f);
	return error;
}
