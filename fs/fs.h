/*
 * fs.h - the meshfs FUSE daemon: state shared by its handlers.
 */
#ifndef MESHFS_FS_H
#define MESHFS_FS_H

#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "nodes.h"
#include "views.h"
#include "store.h"
#include "view.h"

typedef struct meshfs_mount_opts {
	const char *mountpoint;
	const char *store_path;
	const char *fuse_opts;     /* extra -o options, or NULL */
	bool foreground;
	int log_level;
} meshfs_mount_opts;

/* Mounts, serves until unmounted or signalled, and closes the store.
 * Without foreground it returns in the parent once the mount is up
 * (0) or failed (non-zero), and the child serves in the background. */
int meshfs_fs_main(const meshfs_mount_opts *opts);

typedef struct fs {
	mesh_store *store;
	mesh_log log;
	fs_nodes nodes;
	fs_views views;
	mesh_oid empty_file;       /* the file map of empty content */
	int64_t started_ns;        /* mtime shown for the root and domains */
	uid_t uid;                 /* owner shown for the root and .control */
	gid_t gid;
	struct fuse_session *session;
	struct fs_prime *prime;    /* page-cache priming, or NULL */
	/* Open file handles, so that those the kernel never released (an
	 * unmount racing the last releases) are freed at the end. */
	pthread_mutex_t handles_lock;
	struct fs_handle *handles;
	/* Requests answered from threads of their own (control commands,
	 * mkdir of a branch: they may run hooks), so that no request
	 * thread waits on a hook; the session ends only once they are. */
	pthread_mutex_t jobs_lock;
	pthread_cond_t jobs_idle;
	unsigned jobs_running;
} fs;

/* The branch view, opened on first use, held for the caller (release
 * it with fs_view_put).  MESH_ENOENT when the branch does not exist. */
int fs_branch_view(fs *f, const char *domain, const char *branch, mesh_view **out);
/* The read-only view of a commit, held likewise. */
int fs_commit_view(fs *f, const char *domain, const mesh_oid *commit,
		   mesh_view **out);
void fs_view_put(fs *f, mesh_view *view);

extern const struct fuse_lowlevel_ops meshfs_ops;

/* Returns once no request is being answered from a thread of its own. */
void fs_jobs_wait(fs *f);

/* Frees the file handles still open when the session ended. */
void fs_handles_free_all(fs *f);

/* Wall-clock time in nanoseconds, as mtimes are kept. */
static inline int64_t fs_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif
