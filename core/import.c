/*
 * import.c - bulk import of a directory tree into a branch and export of
 * a commit's tree (import.h).
 *
 * Both walk first, on the calling thread, and hand the files to worker
 * threads that take the next one from a shared counter; the calling
 * thread reports progress while they run.  Workers share only the job's
 * counters (atomics) and its first error (guarded by error_lock).
 */
#include "import.h"
#include "access.h"
#include "progress.h"
#include "array.h"
#include "error.h"
#include "file.h"
#include "history.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define XFER_BUF (1u << 20)
#define XFER_MAX_JOBS 64
#define PROGRESS_EVERY_NS 250000000LL

typedef struct xfer_item {
	char *rel;                 /* below the source (import) or view dir */
	mesh_entry_kind kind;
	uint32_t mode;
	uint32_t uid, gid;         /* import: lstat's (root) or the caller's */
	uint64_t rdev;             /* device nodes */
	uint64_t size;
	int64_t mtime_ns;
	mesh_oid id;               /* export: the file map */
	bool skip;                 /* import: the branch shows it already */
} xfer_item;

typedef struct xfer_list {
	xfer_item *items;
	size_t count, cap;
} xfer_list;

typedef struct xfer_job {
	mesh_store *store;
	mesh_view *view;
	const mesh_caller *caller;
	const char *root;          /* the source or destination directory */
	const char *prefix;        /* import: the path in the branch */
	xfer_list *list;
	size_t *files;             /* indices into list of files and symlinks */
	size_t file_count;
	atomic_size_t next;
	atomic_uint_fast64_t files_done, bytes_done;
	atomic_uint finished;
	atomic_bool stop;
	pthread_mutex_t error_lock;
	int error;                 /* the first worker error, with its message */
	char message[512];
	int (*one)(struct xfer_job *job, xfer_item *item, char *buf);
} xfer_job;

static void list_free(xfer_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->items[i].rel);
	free(list->items);
}

static int list_add(xfer_list *list, const char *rel, xfer_item **out)
{
	int error = mesh_array_grow(&list->items, &list->cap, list->count,
				    sizeof(*list->items));
	xfer_item *item;

	if (error < 0)
		return error;
	item = &list->items[list->count];
	memset(item, 0, sizeof(*item));
	if (!(item->rel = strdup(rel)))
		return mesh_error_oom();
	list->count++;
	*out = item;
	return 0;
}

static int64_t ns_of(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ns_of(&ts);
}

static int join_path(char *out, size_t cap, const char *a, const char *b)
{
	int n = snprintf(out, cap, "%s%s%s", a, *a && *b ? "/" : "", b);

	if (n < 0 || (size_t)n >= cap)
		return mesh_error_set(MESH_ENAMETOOLONG, "%s/%s: path too long", a, b);
	return 0;
}

/* --- workers ---------------------------------------------------------- */

static void job_fail(xfer_job *job, int error)
{
	pthread_mutex_lock(&job->error_lock);
	if (!job->error) {
		job->error = error;
		snprintf(job->message, sizeof(job->message), "%s", mesh_error_message());
	}
	pthread_mutex_unlock(&job->error_lock);
	atomic_store(&job->stop, true);
}

static void *worker(void *arg)
{
	xfer_job *job = arg;
	char *buf = malloc(XFER_BUF);
	size_t i;
	int error;

	if (!buf)
		job_fail(job, mesh_error_oom());
	while (buf && !atomic_load(&job->stop) &&
	       (i = atomic_fetch_add(&job->next, 1)) < job->file_count) {
		if ((error = job->one(job, &job->list->items[job->files[i]], buf)) < 0)
			job_fail(job, error);
		else
			atomic_fetch_add(&job->files_done, 1);
	}
	free(buf);
	atomic_fetch_add(&job->finished, 1);
	return NULL;
}

static void job_progress(xfer_job *job, mesh_xfer_progress *p, uint64_t skipped,
			 bool finished)
{
	p->files_done = atomic_load(&job->files_done) + skipped;
	p->bytes_done = atomic_load(&job->bytes_done);
	p->files_skipped = skipped;
	p->finished = finished;
}

/* Runs job->one over the files with jobs threads, reporting progress
 * from this thread; the first worker error is returned, message too. */
static int job_run(xfer_job *job, unsigned jobs, mesh_xfer_progress *p, uint64_t skipped,
		   mesh_xfer_progress_fn progress, void *ctx)
{
	pthread_t threads[XFER_MAX_JOBS];
	unsigned started = 0;
	int64_t last = now_ns();

	if (jobs == 0) {
		long cores = sysconf(_SC_NPROCESSORS_ONLN);
		jobs = cores > 0 ? (unsigned)cores : 1;
	}
	if (jobs > XFER_MAX_JOBS)
		jobs = XFER_MAX_JOBS;
	for (; started < jobs; started++)
		if (pthread_create(&threads[started], NULL, worker, job) != 0)
			break;
	if (started == 0)
		return mesh_error_set(MESH_ENOMEM, "cannot start a worker thread");
	while (atomic_load(&job->finished) < started) {
		struct timespec nap = { 0, 50000000 };
		nanosleep(&nap, NULL);
		if (progress && now_ns() - last >= PROGRESS_EVERY_NS) {
			last = now_ns();
			job_progress(job, p, skipped, false);
			progress(ctx, p);
		}
	}
	for (unsigned t = 0; t < started; t++)
		pthread_join(threads[t], NULL);
	job_progress(job, p, skipped, true);
	if (job->error)
		return mesh_error_set(job->error, "%s", job->message);
	return 0;
}

/* A job over list's files; root is the directory read or written. */
static int job_init(xfer_job *job, xfer_list *list, mesh_store *store, mesh_view *view,
		    const mesh_caller *caller, const char *root,
		    int (*one)(xfer_job *job, xfer_item *item, char *buf))
{
	memset(job, 0, sizeof(*job));
	job->list = list;
	job->store = store;
	job->view = view;
	job->caller = caller;
	job->root = root;
	job->one = one;
	if (list->count && !(job->files = malloc(list->count * sizeof(*job->files))))
		return mesh_error_oom();
	pthread_mutex_init(&job->error_lock, NULL);
	return 0;
}

static void job_free(xfer_job *job)
{
	free(job->files);
	pthread_mutex_destroy(&job->error_lock);
}

/* --- import ----------------------------------------------------------- */

/* What the caller may do to an inode by its mode bits (want: 4 read,
 * 1 search): the daemon reads as its own user, on behalf of another. */
static bool caller_may(const struct stat *st, const mesh_caller *caller, unsigned want)
{
	unsigned bits;

	if (caller->uid == 0)
		return true;
	if (st->st_uid == caller->uid)
		bits = (st->st_mode >> 6) & 7;
	else if (st->st_gid == caller->gid)
		bits = (st->st_mode >> 3) & 7;
	else
		bits = st->st_mode & 7;
	return (bits & want) == want;
}

bool mesh_import_caller_may(const struct stat *st, const mesh_caller *caller, unsigned want)
{
	return caller_may(st, caller, want);
}

typedef struct walk_ctx {
	const char *src;
	const mesh_caller *caller;
	xfer_list *list;
	uint64_t bytes;
} walk_ctx;

static mesh_entry_kind kind_of_mode(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR: return MESH_KIND_DIR;
	case S_IFLNK: return MESH_KIND_SYMLINK;
	case S_IFIFO: return MESH_KIND_FIFO;
	case S_IFSOCK: return MESH_KIND_SOCKET;
	case S_IFCHR: return MESH_KIND_CHRDEV;
	case S_IFBLK: return MESH_KIND_BLKDEV;
	default: return MESH_KIND_FILE;
	}
}

static int walk_add(walk_ctx *w, const char *rel, const struct stat *st, const char *full)
{
	xfer_item *item = NULL;
	int error;

	if (S_ISDIR(st->st_mode)) {
		if (!caller_may(st, w->caller, 5))
			return mesh_error_set(MESH_EACCES, "%s: directory not readable by uid %u",
					      full, (unsigned)w->caller->uid);
	} else if (S_ISREG(st->st_mode)) {
		if (!caller_may(st, w->caller, 4) || faccessat(AT_FDCWD, full, R_OK, AT_EACCESS) < 0)
			return mesh_error_set(MESH_EACCES, "%s: file not readable by uid %u",
					      full, (unsigned)w->caller->uid);
	} else if ((S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) && w->caller->uid != 0) {
		return mesh_error_set(MESH_EPERM,
			"%s: a device node; only root imports device nodes (uid %u is not root)",
			full, (unsigned)w->caller->uid);
	}
	if ((error = list_add(w->list, rel, &item)) < 0)
		return error;
	item->kind = kind_of_mode(st->st_mode);
	item->mode = st->st_mode & 07777;
	/* Ownership is kept when root imports; anyone else's import is
	 * theirs, as what they create through the mount is. */
	item->uid = w->caller->uid == 0 ? (uint32_t)st->st_uid : w->caller->uid;
	item->gid = w->caller->uid == 0 ? (uint32_t)st->st_gid : w->caller->gid;
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		item->rdev = (uint64_t)st->st_rdev;
	item->size = mesh_kind_has_content(item->kind) ? (uint64_t)st->st_size : 0;
	item->mtime_ns = ns_of(&st->st_mtim);
	if (!S_ISDIR(st->st_mode))
		w->bytes += item->size;
	return 0;
}

/* Lists rel (a directory already added) into the list, parents before
 * children, children in name order. */
static int walk_dir(walk_ctx *w, const char *rel)
{
	char full[PATH_MAX], child_rel[PATH_MAX], child_full[PATH_MAX];
	struct dirent **names = NULL;
	int n, error = 0;

	if ((error = join_path(full, sizeof(full), w->src, rel)) < 0)
		return error;
	if ((n = scandir(full, &names, NULL, alphasort)) < 0)
		return mesh_error_os("cannot read directory", full);
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		struct stat st;

		if (error < 0 || !strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		if ((error = join_path(child_rel, sizeof(child_rel), rel, name)) < 0 ||
		    (error = join_path(child_full, sizeof(child_full), w->src, child_rel)) < 0)
			continue;
		if (lstat(child_full, &st) < 0)
			error = mesh_error_os("cannot stat", child_full);
		else if ((error = walk_add(w, child_rel, &st, child_full)) == 0 &&
			 S_ISDIR(st.st_mode))
			error = walk_dir(w, child_rel);
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return error;
}

static int import_walk(const mesh_import_opts *opts, const mesh_caller *caller,
		       xfer_list *list, uint64_t *bytes)
{
	walk_ctx w = { opts->src_dir, caller, list, 0 };
	struct stat st;
	int error;

	if (stat(opts->src_dir, &st) < 0)
		return mesh_error_os("cannot import", opts->src_dir);
	if (!S_ISDIR(st.st_mode))
		return mesh_error_set(MESH_ENOTDIR, "%s: not a directory", opts->src_dir);
	if (caller->uid != 0 && st.st_uid != caller->uid)
		return mesh_error_set(MESH_EACCES,
			"%s: owned by uid %u, not by the caller (uid %u): import reads only a caller's own tree",
			opts->src_dir, (unsigned)st.st_uid, (unsigned)caller->uid);
	if ((error = walk_add(&w, "", &st, opts->src_dir)) < 0 ||
	    (error = walk_dir(&w, "")) < 0)
		return error;
	*bytes = w.bytes;
	return 0;
}

/* Whether the branch's entry has the owner the import gives: lstat's
 * for root; for anyone else the uid (the group follows the branch's
 * setgid directories). */
static bool owner_kept(const mesh_caller *caller, const mesh_view_entry *e,
		       const xfer_item *item)
{
	if (caller->uid != 0)
		return e->uid == item->uid;
	return e->uid == item->uid && e->gid == item->gid;
}

/* Marks what the branch shows already as it would be imported, and
 * refuses (before anything is staged) a directory where the branch has
 * a file or the other way round. */
static int import_plan(xfer_job *job, const mesh_import_opts *opts, uint64_t *skipped,
		       uint64_t *skipped_bytes)
{
	char dest[PATH_MAX];
	int error;

	for (size_t i = 0; i < job->list->count; i++) {
		xfer_item *item = &job->list->items[i];
		mesh_view_entry e;

		if ((error = join_path(dest, sizeof(dest), opts->path, item->rel)) < 0)
			return error;
		error = mesh_view_lookup(job->view, dest, &e);
		if (error == MESH_ENOENT || error == MESH_ENOTDIR) {
			/* ENOTDIR: an ancestor is a file, found at that ancestor. */
			error = 0;
		} else if (error < 0) {
			return error;
		} else if ((e.kind == MESH_KIND_DIR) != (item->kind == MESH_KIND_DIR)) {
			return mesh_error_set(MESH_EEXIST,
				"%s/%s: the branch has a %s there and the source a %s; import does not replace one by the other",
				mesh_view_domain(job->view), *dest ? dest : "(root)",
				mesh_entry_kind_name(e.kind), mesh_entry_kind_name(item->kind));
		} else if (item->kind != MESH_KIND_DIR && e.kind == item->kind &&
			   e.size == item->size && e.mtime_ns == item->mtime_ns &&
			   e.mode == item->mode && e.rdev == item->rdev &&
			   owner_kept(job->caller, &e, item)) {
			item->skip = true;
			(*skipped)++;
			*skipped_bytes += item->size;
		}
		if (mesh_kind_has_content(item->kind) && !item->skip)
			job->files[job->file_count++] = i;
	}
	return 0;
}

/* Stores one file or symlink and stages it with its last objects in one
 * batch: an entry is staged whole or not at all. */
static int import_one(xfer_job *job, xfer_item *item, char *buf)
{
	char full[PATH_MAX], dest[PATH_MAX];
	mesh_file_writer *w = NULL;
	mesh_db_batch *batch = NULL;
	struct stat st;
	mesh_oid map;
	uint64_t size;
	int fd = -1, error;

	if ((error = join_path(full, sizeof(full), job->root, item->rel)) < 0 ||
	    (error = join_path(dest, sizeof(dest), job->prefix, item->rel)) < 0 ||
	    (error = mesh_file_writer_new(&w, mesh_store_odb(job->store), NULL)) < 0)
		return error;
	if (item->kind == MESH_KIND_SYMLINK) {
		ssize_t n = readlink(full, buf, XFER_BUF);
		if (n < 0 || lstat(full, &st) < 0)
			error = mesh_error_os("cannot read symlink", full);
		else
			error = mesh_file_writer_append(w, buf, (size_t)n);
	} else if ((fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
		   fstat(fd, &st) < 0) {
		error = mesh_error_os("cannot read", full);
	} else {
		ssize_t n;
		while (error == 0 && (n = read(fd, buf, XFER_BUF)) != 0) {
			if (n < 0)
				error = mesh_error_os("cannot read", full);
			else if ((error = mesh_file_writer_append(w, buf, (size_t)n)) == 0)
				atomic_fetch_add(&job->bytes_done, (uint64_t)n);
		}
	}
	if (error == 0 && (error = mesh_db_batch_new(&batch)) == 0 &&
	    (error = mesh_file_writer_snapshot_batched(w, batch, &map, &size)) == 0) {
		if (job->caller->uid == 0)
			error = mesh_view_stage_content_as(job->view, batch, job->caller, dest,
							   item->kind, st.st_mode & 07777, size,
							   ns_of(&st.st_mtim), &map,
							   (uint32_t)st.st_uid, (uint32_t)st.st_gid);
		else
			error = mesh_view_stage_content_with(job->view, batch, job->caller, dest,
							     item->kind, st.st_mode & 07777, size,
							     ns_of(&st.st_mtim), &map, false);
	}
	if (fd >= 0)
		close(fd);
	mesh_db_batch_free(batch);
	mesh_file_writer_free(w);
	return error;
}

/* The directories above PATH that the branch lacks, as mkdir -p. */
static int import_mkdir_parents(xfer_job *job, const char *path)
{
	char dest[PATH_MAX];
	int error = 0;

	snprintf(dest, sizeof(dest), "%s", path);
	for (char *slash = strchr(dest, '/'); error == 0 && slash; slash = strchr(slash + 1, '/')) {
		mesh_view_entry e;
		*slash = '\0';
		if ((error = mesh_view_lookup(job->view, dest, &e)) == MESH_ENOENT)
			error = mesh_view_mkdir(job->view, job->caller, dest, 0755);
		else if (error == 0 && e.kind != MESH_KIND_DIR)
			error = mesh_error_set(MESH_ENOTDIR, "%s/%s: not a directory",
					       mesh_view_domain(job->view), dest);
		*slash = '/';
	}
	return error;
}

/*
 * A source directory in the branch: before the files, made when missing
 * (with its mode, so that its files go into it); after them, given its
 * mode and mtime, children first, as staging a child sets its
 * directory's mtime to now.  The branch root keeps its own.
 */
static int set_attrs(xfer_job *job, const char *dest, const xfer_item *item);

static int import_dir(xfer_job *job, const char *prefix, const xfer_item *item, bool after)
{
	char dest[PATH_MAX];
	mesh_view_entry e;
	int error;

	if ((error = join_path(dest, sizeof(dest), prefix, item->rel)) < 0 || !*dest)
		return error;
	error = mesh_view_lookup(job->view, dest, &e);
	if (!after && error == MESH_ENOENT)
		return mesh_view_mkdir(job->view, job->caller, dest, item->mode);
	if (error == 0 && after && (e.mode != item->mode || e.mtime_ns != item->mtime_ns ||
				    !owner_kept(job->caller, &e, item)))
		error = set_attrs(job, dest, item);
	return error;
}

/* Mode, mtime and, for root, the owner of what was staged at dest. */
static int set_attrs(xfer_job *job, const char *dest, const xfer_item *item)
{
	mesh_view_attr attr = { .mode = &item->mode, .mtime_ns = &item->mtime_ns };

	if (job->caller->uid == 0) {
		attr.uid = &item->uid;
		attr.gid = &item->gid;
	}
	return mesh_view_change_attr(job->view, job->caller, dest, &attr);
}

/* FIFOs, sockets and (root's) device nodes: made again when they differ. */
static int import_specials(xfer_job *job, const mesh_import_opts *opts)
{
	char dest[PATH_MAX];
	int error = 0;

	for (size_t i = 0; error == 0 && i < job->list->count; i++) {
		const xfer_item *item = &job->list->items[i];
		mesh_view_entry e;

		if (!mesh_kind_is_special(item->kind) || item->skip)
			continue;
		if ((error = join_path(dest, sizeof(dest), opts->path, item->rel)) < 0)
			break;
		if (mesh_view_lookup(job->view, dest, &e) == 0)
			error = mesh_view_unlink(job->view, job->caller, dest);
		mesh_error_clear();
		if (error == 0)
			error = mesh_view_mknod(job->view, job->caller, dest, item->kind,
						item->mode, item->rdev);
		if (error == 0)
			error = set_attrs(job, dest, item);
	}
	return error;
}

static int import_dirs(xfer_job *job, const mesh_import_opts *opts, bool after)
{
	size_t n = job->list->count;
	int error = after ? 0 : import_mkdir_parents(job, opts->path);

	for (size_t i = 0; error == 0 && i < n; i++) {
		const xfer_item *item = &job->list->items[after ? n - 1 - i : i];
		if (item->kind == MESH_KIND_DIR)
			error = import_dir(job, opts->path, item, after);
	}
	return error;
}

static int count_changes(mesh_view *view, uint64_t *count)
{
	mesh_change *changes;
	size_t n;
	int error = mesh_view_status(view, &changes, &n);

	if (error == 0)
		mesh_changes_free(changes, n);
	*count = error == 0 ? n : 0;
	return error;
}

int mesh_import_run(mesh_store *store, mesh_view *view, const mesh_caller *caller,
		    const mesh_import_opts *opts, mesh_import_result *out)
{
	xfer_list list = { 0 };
	xfer_job job;
	uint64_t staged = 0, skipped = 0, skipped_bytes = 0;
	char message[PATH_MAX + 16];
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = import_walk(opts, caller, &list, &out->totals.bytes_total)) < 0) {
		list_free(&list);
		return error;
	}
	if ((error = job_init(&job, &list, store, view, caller, opts->src_dir, import_one)) < 0) {
		list_free(&list);
		return error;
	}
	job.prefix = opts->path;
	if ((error = import_plan(&job, opts, &skipped, &skipped_bytes)) == 0) {
		out->totals.files_total = job.file_count + skipped;
		out->dirs = list.count - out->totals.files_total;
		atomic_store(&job.bytes_done, skipped_bytes);
		error = import_dirs(&job, opts, false);
	}
	if (error == 0)
		error = job_run(&job, opts->jobs, &out->totals, skipped, opts->progress,
				opts->progress_ctx);
	if (error == 0)
		error = import_specials(&job, opts);
	if (error == 0)
		error = import_dirs(&job, opts, true);
	/* Changes, not staged entries: a kept atime (a read) is none. */
	if (error == 0)
		error = count_changes(view, &staged);
	if (error == 0 && staged > 0) {
		snprintf(message, sizeof(message), "import %s", opts->src_dir);
		error = mesh_view_commit(view, caller, opts->message ? opts->message : message,
					 NULL, 0, &out->commit, &out->changes);
		out->committed = error == 0;
	} else if (error == 0) {
		mesh_view_commit_id(view, &out->commit);
	}
	if (opts->progress && error == 0)
		opts->progress(opts->progress_ctx, &out->totals);
	job_free(&job);
	list_free(&list);
	return error;
}

/* --- export ----------------------------------------------------------- */

static int export_walk(mesh_view *view, const char *dir, const char *rel, xfer_list *list)
{
	char path[PATH_MAX], child_rel[PATH_MAX];
	mesh_view_dirent *d = NULL;
	size_t n = 0;
	int error = mesh_view_list(view, dir, &d, &n);

	for (size_t i = 0; error == 0 && i < n; i++) {
		xfer_item *item = NULL;
		if ((error = join_path(path, sizeof(path), dir, d[i].name)) < 0 ||
		    (error = join_path(child_rel, sizeof(child_rel), rel, d[i].name)) < 0 ||
		    (error = list_add(list, child_rel, &item)) < 0)
			break;
		item->kind = d[i].entry.kind;
		item->mode = d[i].entry.mode;
		item->uid = d[i].entry.uid;
		item->gid = d[i].entry.gid;
		item->rdev = d[i].entry.rdev;
		item->size = d[i].entry.size;
		item->mtime_ns = d[i].entry.mtime_ns;
		item->id = d[i].entry.id;
		if (item->kind == MESH_KIND_DIR)
			error = export_walk(view, path, child_rel, list);
	}
	mesh_view_dirents_free(d, n);
	return error;
}

static int read_all(xfer_job *job, const xfer_item *item, mesh_file_map **map)
{
	mesh_view_entry e = { .kind = item->kind, .id = item->id, .size = item->size };

	return mesh_view_file_map(job->view, &e, map);
}

/* Only root's export gives files away: anyone else's would let them
 * make files of others' (set-uid ones among them). */
static bool restores_owner(const mesh_caller *caller)
{
	return caller->uid == 0 && geteuid() == 0;
}

/* One chunk per read: each is decompressed and verified once. */
static int export_one(xfer_job *job, xfer_item *item, char *buf)
{
	char full[PATH_MAX];
	mesh_file_map *map = NULL;
	mesh_odb *odb = mesh_store_odb(job->store);
	struct timespec times[2];
	int fd = -1, error;

	if ((error = join_path(full, sizeof(full), job->root, item->rel)) < 0 ||
	    (error = read_all(job, item, &map)) < 0)
		return error;
	if ((fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		error = mesh_error_os("cannot create", full);
	for (size_t c = 0; error == 0 && c < map->count; c++) {
		const mesh_file_chunk *ch = &map->chunks[c];
		char *at = buf, *big = NULL;
		size_t got;

		if (ch->length > XFER_BUF && !(at = big = malloc(ch->length)))
			error = mesh_error_oom();
		if (error == 0 &&
		    (error = mesh_file_read(odb, NULL, map, at, ch->length, ch->offset, &got)) == 0 &&
		    pwrite(fd, at, got, (off_t)ch->offset) != (ssize_t)got)
			error = mesh_error_os("cannot write", full);
		if (error == 0)
			atomic_fetch_add(&job->bytes_done, got);
		free(big);
	}
	times[0].tv_sec = times[1].tv_sec = item->mtime_ns / 1000000000LL;
	times[0].tv_nsec = times[1].tv_nsec = item->mtime_ns % 1000000000LL;
	/* chown before chmod: a chown clears the set-id bits. */
	if (error == 0 && (ftruncate(fd, (off_t)map->size) < 0 ||
			   (restores_owner(job->caller) && fchown(fd, item->uid, item->gid) < 0) ||
			   fchmod(fd, item->mode) < 0 || futimens(fd, times) < 0))
		error = mesh_error_os("cannot set attributes of", full);
	if (fd >= 0 && close(fd) < 0 && error == 0)
		error = mesh_error_os("cannot write", full);
	mesh_file_map_free(map);
	return error;
}

static int export_symlink(xfer_job *job, const xfer_item *item, const char *full)
{
	mesh_file_map *map = NULL;
	struct timespec times[2];
	char target[PATH_MAX];
	size_t got = 0;
	int error;

	if (item->size >= sizeof(target))
		return mesh_error_set(MESH_ENAMETOOLONG, "%s: symlink target too long", full);
	if ((error = read_all(job, item, &map)) < 0 ||
	    (error = mesh_file_read(mesh_store_odb(job->store), NULL, map, target,
				    sizeof(target) - 1, 0, &got)) < 0) {
		mesh_file_map_free(map);
		return error;
	}
	mesh_file_map_free(map);
	target[got] = '\0';
	unlink(full);   /* --force: what was there goes */
	times[0].tv_sec = times[1].tv_sec = item->mtime_ns / 1000000000LL;
	times[0].tv_nsec = times[1].tv_nsec = item->mtime_ns % 1000000000LL;
	if (symlink(target, full) < 0 ||
	    (restores_owner(job->caller) && lchown(full, item->uid, item->gid) < 0) ||
	    utimensat(AT_FDCWD, full, times, AT_SYMLINK_NOFOLLOW) < 0)
		return mesh_error_os("cannot create symlink", full);
	return 0;
}

/* FIFOs, sockets and device nodes (root's export only), as tar restores them. */
static int export_special(xfer_job *job, const xfer_item *item, const char *full)
{
	struct timespec times[2];
	mode_t type = item->kind == MESH_KIND_FIFO ? S_IFIFO :
		      item->kind == MESH_KIND_SOCKET ? S_IFSOCK :
		      item->kind == MESH_KIND_CHRDEV ? S_IFCHR : S_IFBLK;
	bool device = type == S_IFCHR || type == S_IFBLK;

	if (device && !restores_owner(job->caller))
		return mesh_error_set(MESH_EPERM, "%s: a device node; only root exports device nodes",
				      full);
	unlink(full);   /* --force: what was there goes */
	times[0].tv_sec = times[1].tv_sec = item->mtime_ns / 1000000000LL;
	times[0].tv_nsec = times[1].tv_nsec = item->mtime_ns % 1000000000LL;
	if (mknod(full, type | 0600, device ? (dev_t)item->rdev : 0) < 0)
		return mesh_error_os("cannot create", full);
	if ((restores_owner(job->caller) && lchown(full, item->uid, item->gid) < 0) ||
	    chmod(full, item->mode) < 0 || utimensat(AT_FDCWD, full, times, 0) < 0)
		return mesh_error_os("cannot set attributes of", full);
	return 0;
}

static int export_dest(const mesh_export_opts *opts, const mesh_caller *caller, bool *created)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	bool empty = true;

	*created = false;
	if (caller->uid != geteuid() && geteuid() != 0)
		return mesh_error_set(MESH_EACCES,
			"export writes as uid %u, not the caller's uid %u: run it as that user or without a mount",
			(unsigned)geteuid(), (unsigned)caller->uid);
	if (stat(opts->dest_dir, &st) < 0) {
		if (errno != ENOENT)
			return mesh_error_os("cannot export into", opts->dest_dir);
		if (mkdir(opts->dest_dir, 0700) < 0)
			return mesh_error_os("cannot create", opts->dest_dir);
		*created = true;
		return 0;
	}
	if (!S_ISDIR(st.st_mode))
		return mesh_error_set(MESH_ENOTDIR, "%s: not a directory", opts->dest_dir);
	if (caller->uid != 0 && st.st_uid != caller->uid)
		return mesh_error_set(MESH_EACCES, "%s: owned by uid %u, not by the caller (uid %u)",
				      opts->dest_dir, (unsigned)st.st_uid, (unsigned)caller->uid);
	if (!(d = opendir(opts->dest_dir)))
		return mesh_error_os("cannot read directory", opts->dest_dir);
	while (empty && (de = readdir(d)))
		empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
	closedir(d);
	if (!empty && !opts->force)
		return mesh_error_set(MESH_ENOTEMPTY,
			"%s: not empty; --force writes into it, replacing files of the same names",
			opts->dest_dir);
	return 0;
}

static int set_dir_attrs(const mesh_caller *caller, const char *full, uint32_t mode,
			 uint32_t uid, uint32_t gid, int64_t mtime_ns)
{
	struct timespec times[2];

	times[0].tv_sec = times[1].tv_sec = mtime_ns / 1000000000LL;
	times[0].tv_nsec = times[1].tv_nsec = mtime_ns % 1000000000LL;
	if ((restores_owner(caller) && chown(full, uid, gid) < 0) ||
	    chmod(full, mode) < 0 || utimensat(AT_FDCWD, full, times, 0) < 0)
		return mesh_error_os("cannot set attributes of", full);
	return 0;
}

/* Directories are made writable for the export and get their modes and
 * mtimes last, children first (writing into one changes its mtime). */
static int export_tree(xfer_job *job, const mesh_export_opts *opts, mesh_xfer_progress *out)
{
	char full[PATH_MAX];
	int error = 0;

	for (size_t i = 0; error == 0 && i < job->list->count; i++) {
		xfer_item *item = &job->list->items[i];
		struct stat st;

		if ((error = join_path(full, sizeof(full), opts->dest_dir, item->rel)) < 0)
			break;
		if (item->kind == MESH_KIND_DIR) {
			if (mkdir(full, 0700) < 0 &&
			    (errno != EEXIST || lstat(full, &st) < 0 || !S_ISDIR(st.st_mode)))
				error = mesh_error_os("cannot create directory", full);
		} else if (item->kind == MESH_KIND_SYMLINK) {
			if ((error = export_symlink(job, item, full)) == 0)
				atomic_fetch_add(&job->files_done, 1);
		} else if (mesh_kind_is_special(item->kind)) {
			if ((error = export_special(job, item, full)) == 0)
				atomic_fetch_add(&job->files_done, 1);
		} else {
			job->files[job->file_count++] = i;
		}
		if (item->kind != MESH_KIND_DIR)
			out->files_total++;
		if (item->kind == MESH_KIND_FILE)
			out->bytes_total += item->size;
	}
	if (error == 0)
		error = job_run(job, opts->jobs, out, 0, opts->progress, opts->progress_ctx);
	for (size_t i = job->list->count; error == 0 && i-- > 0;) {
		xfer_item *item = &job->list->items[i];
		if (item->kind == MESH_KIND_DIR &&
		    (error = join_path(full, sizeof(full), opts->dest_dir, item->rel)) == 0)
			error = set_dir_attrs(job->caller, full, item->mode, item->uid, item->gid,
					      item->mtime_ns);
	}
	return error;
}

int mesh_export_run(mesh_store *store, mesh_view *view, const mesh_caller *caller,
		    const mesh_export_opts *opts, mesh_xfer_progress *out)
{
	xfer_list list = { 0 };
	xfer_job job;
	mesh_view_entry root;
	bool created;
	int error;

	memset(out, 0, sizeof(*out));
	/* An export reads everything below its path: sensitive paths too. */
	if ((error = mesh_access_check(store, caller, mesh_view_domain(view), NULL,
				       MESH_ACCESS_READ_TREE, opts->path)) < 0 ||
	    (error = mesh_view_lookup(view, opts->path, &root)) < 0)
		return error;
	if (root.kind != MESH_KIND_DIR)
		return mesh_error_set(MESH_ENOTDIR, "%s/%s: not a directory; export writes a directory",
				      mesh_view_domain(view), opts->path);
	if ((error = export_dest(opts, caller, &created)) < 0)
		return error;
	if ((error = export_walk(view, opts->path, "", &list)) < 0 ||
	    (error = job_init(&job, &list, store, view, caller, opts->dest_dir, export_one)) < 0) {
		list_free(&list);
		return error;
	}
	error = export_tree(&job, opts, out);
	if (error == 0 && created)
		error = set_dir_attrs(caller, opts->dest_dir, root.mode, root.uid, root.gid,
				      root.mtime_ns);
	if (opts->progress && error == 0)
		opts->progress(opts->progress_ctx, out);
	job_free(&job);
	list_free(&list);
	return error;
}

/* --- control commands ------------------------------------------------- */

static int parse_jobs(const char *text, unsigned *out)
{
	char *end;
	long v;

	*out = 0;
	if (!text)
		return 0;
	v = strtol(text, &end, 10);
	if (*end || end == text || v < 1 || v > XFER_MAX_JOBS)
		return mesh_error_set(MESH_EINVAL, "--jobs %s: not a number from 1 to %d",
				      text, XFER_MAX_JOBS);
	*out = (unsigned)v;
	return 0;
}

static int need_absolute(const char *what, const char *path)
{
	if (path[0] != '/')
		return mesh_error_set(MESH_EINVAL, "%s '%s' must be an absolute path", what, path);
	return 0;
}

static void json_totals(mesh_json *j, const mesh_xfer_progress *p, int64_t started)
{
	mesh_json_field_int(j, "files", (int64_t)p->files_total);
	mesh_json_field_int(j, "bytes", (int64_t)p->bytes_total);
	mesh_json_field_int(j, "milliseconds", (now_ns() - started) / 1000000);
}

/* The job's counts, for the `progress` command (ctx: the table). */
static void xfer_progress(void *ctx, const char *phase, const mesh_xfer_progress *p)
{
	mesh_progress_set(ctx, phase, "files", p->files_done, p->files_total);
	mesh_progress_set_bytes(ctx, p->bytes_done, p->bytes_total);
}

static void import_progress(void *ctx, const mesh_xfer_progress *p)
{
	xfer_progress(ctx, "importing files", p);
}

static void export_progress(void *ctx, const mesh_xfer_progress *p)
{
	xfer_progress(ctx, "exporting files", p);
}

static int cmd_import(mesh_cmd *cmd)
{
	const char *message = NULL, *jobs = NULL, *pos[2];
	mesh_cmd_opt opts[] = {
		{ "-m", "--message", &message, NULL },
		{ "--jobs", "-j", &jobs, NULL },
	};
	mesh_import_opts o = { 0 };
	mesh_import_result r;
	char domain[256], target[PATH_MAX], *slash;
	mesh_view *view;
	size_t npos;
	int64_t started = now_ns();
	int error;

	if ((error = mesh_cmd_parse_opts(cmd, 1, opts, 2, pos, 2, &npos, NULL)) < 0 ||
	    (error = mesh_cmd_need_positional(cmd, npos, 2, mesh_import_cmd_spec.usage)) < 0 ||
	    (error = parse_jobs(jobs, &o.jobs)) < 0 ||
	    (error = need_absolute("SRC_DIR", pos[0])) < 0)
		return error;
	snprintf(target, sizeof(target), "%s", pos[1]);
	o.path = "";
	if ((slash = strchr(target, '/')) && (slash = strchr(slash + 1, '/'))) {
		*slash = '\0';
		o.path = mesh_cmd_trim_path(slash + 1);
	}
	if ((error = mesh_cmd_branch_view(cmd, target, domain, sizeof(domain), &view)) < 0)
		return error;
	o.src_dir = pos[0];
	o.message = message;
	o.progress = import_progress;
	o.progress_ctx = mesh_store_progress(cmd->env->store);
	if ((error = mesh_import_run(cmd->env->store, view, cmd->caller, &o, &r)) < 0)
		return error;
	mesh_cmd_notify_changed(cmd, domain, mesh_view_branch(view), NULL, 0);
	mesh_json_field_string(&cmd->json, "domain", domain);
	mesh_json_field_string(&cmd->json, "branch", mesh_view_branch(view));
	mesh_json_field_string(&cmd->json, "path", o.path);
	json_totals(&cmd->json, &r.totals, started);
	mesh_json_field_int(&cmd->json, "dirs", (int64_t)r.dirs);
	mesh_json_field_int(&cmd->json, "skipped", (int64_t)r.totals.files_skipped);
	mesh_json_field_bool(&cmd->json, "committed", r.committed);
	mesh_cmd_json_oid(&cmd->json, "commit", &r.commit);
	mesh_json_field_int(&cmd->json, "changes", (int64_t)r.changes);
	return 0;
}

static int cmd_export(mesh_cmd *cmd)
{
	const char *jobs = NULL, *pos[2];
	bool force = false;
	mesh_cmd_opt opts[] = {
		{ "--force", "-f", NULL, &force },
		{ "--jobs", "-j", &jobs, NULL },
	};
	mesh_export_opts o = { 0 };
	mesh_xfer_progress p;
	char domain[256], spec[PATH_MAX], *slash;
	const char *rest;
	mesh_view *view = NULL;
	mesh_rev rev;
	size_t npos;
	int64_t started = now_ns();
	int error;

	if ((error = mesh_cmd_parse_opts(cmd, 1, opts, 2, pos, 2, &npos, NULL)) < 0 ||
	    (error = mesh_cmd_need_positional(cmd, npos, 2, mesh_export_cmd_spec.usage)) < 0 ||
	    (error = parse_jobs(jobs, &o.jobs)) < 0 ||
	    (error = need_absolute("DEST_DIR", pos[1])) < 0 ||
	    (error = mesh_cmd_parse_target(cmd, pos[0], domain, sizeof(domain), &rest)) < 0)
		return error;
	snprintf(spec, sizeof(spec), "%s", rest);
	o.path = "";
	if ((slash = strchr(spec, '/'))) {
		*slash = '\0';
		o.path = mesh_cmd_trim_path(slash + 1);
	}
	if ((error = mesh_revparse(cmd->env->store, domain, spec, &rev)) < 0 ||
	    (error = mesh_view_open_commit(&view, cmd->env->store, domain, &rev.commit)) < 0)
		return error;
	o.dest_dir = pos[1];
	o.force = force;
	o.progress = export_progress;
	o.progress_ctx = mesh_store_progress(cmd->env->store);
	error = mesh_export_run(cmd->env->store, view, cmd->caller, &o, &p);
	mesh_view_free(view);
	if (error < 0)
		return error;
	mesh_json_field_string(&cmd->json, "domain", domain);
	mesh_cmd_json_oid(&cmd->json, "commit", &rev.commit);
	mesh_json_field_string(&cmd->json, "path", o.path);
	mesh_json_field_string(&cmd->json, "dest", o.dest_dir);
	json_totals(&cmd->json, &p, started);
	return 0;
}

const mesh_cmd_spec mesh_import_cmd_spec = {
	"import", cmd_import,
	"import SRC_DIR DOMAIN/BRANCH[/PATH] [-m MESSAGE] [--jobs N]",
	"store a directory tree into a branch and commit it (a rerun resumes)",
};

const mesh_cmd_spec mesh_export_cmd_spec = {
	"export", cmd_export,
	"export DOMAIN/REF[/PATH] DEST_DIR [--force] [--jobs N]",
	"write a commit's tree into a directory, every chunk verified",
};
