/*
 * ops.c - the low-level FUSE handlers: each maps an inode operation onto
 * core/'s view, control and store calls, and answers with one reply.
 */
#include "fs.h"
#include "access.h"
#include "dirty.h"
#include "prime.h"
#include "array.h"
#include "audit.h"
#include "control.h"
#include "domain.h"
#include "error.h"
#include "history.h"
#include "product.h"
#include "branch.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define VIEW_PATH_MAX 4096
/* The control file's reported size: above any command line, so that no
 * write to it is past its end (see reply_open_control). */
#define CONTROL_SIZE ((off_t)MESH_CONTROL_MAX_LINE * 2)
#define BRANCH_TIMEOUT 1.0
#define IMMUTABLE_TIMEOUT 86400.0
#define NAME_MAX_LEN 255
#define READ_AHEAD_BYTES (32u << 20)
/* Reads this small off the sequential path are random: the kernel reads
 * ahead in larger requests. */
#define RANDOM_READ_BYTES (64u << 10)
#define PREFERRED_IO_SIZE (1 << 20)

typedef struct fs_handle {
	fs_node *node;
	struct fs_handle *prev, *next;   /* in fs.handles, under handles_lock */
	mesh_file_map *map;        /* committed or staged content */
	mesh_oid map_id;           /* pinned in the odb while map is loaded, so
				    * a garbage collection keeps its chunks */
	bool map_pinned;
	uint64_t map_generation;   /* the view's generation when map was loaded */
	uint64_t map_version;      /* the node's content version then */
	pthread_rwlock_t map_lock;
	uint64_t next_offset;      /* where a sequential reader reads next */
	bool writes;               /* opened for writing (or truncating) */
	mesh_caller opener;        /* of a writing handle: who stages (staging_caller) */
	bool write_audited;        /* its close is in the audit log */
	bool created;              /* by create(2): that close is its record */
	bool accessed;             /* atime noted (first read), atomic */
	pthread_mutex_t lock;
	/* control file */
	char *answer;
	size_t answer_len;
	off_t answer_base;         /* file offset where the answer starts */
	bool answer_from_zero;     /* reads since the write began at 0 */
	char *pending;             /* a command line still being written */
	size_t pending_len;
} fs_handle;

typedef struct fs_dir_handle {
	fs_node *node;
	mesh_view_dirent *entries;
	size_t count;
} fs_dir_handle;

static fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* The kernel knows a request's supplementary groups only through
 * /proc, so they are read when a rule asks. */
static int request_groups(const void *source, gid_t *out, int max)
{
	int count = fuse_req_getgroups((fuse_req_t)source, max, out);

	return count > max ? max : count;
}

static void caller_of(fuse_req_t req, mesh_caller *out)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	memset(out, 0, sizeof(*out));
	out->uid = ctx->uid;
	out->gid = ctx->gid;
	out->pid = ctx->pid;
	out->groups_of = request_groups;
	out->source = req;
}

static fs_node *node_of(fuse_req_t req, fuse_ino_t ino)
{
	return fs_nodes_get(&fs_of(req)->nodes, ino);
}

/* Answers a failed request, logging errors that are the store's fault. */
static void reply_error(fuse_req_t req, int error)
{
	if (error == MESH_EIO)
		mesh_log_write(&fs_of(req)->log, MESH_LOG_ERROR, "%s", mesh_error_message());
	else
		mesh_log_write(&fs_of(req)->log, MESH_LOG_DEBUG, "%s: %s",
			       mesh_error_name(error), mesh_error_message());
	fuse_reply_err(req, error < 0 ? -error : EIO);
}

/*
 * Requests that may run a domain's hooks (a control command, mkdir of a
 * branch) are answered from a thread of their own: a hook may take up to
 * its time-out, and the request threads must keep serving meanwhile
 * (the hook itself reads its candidate through this mount).  libfuse
 * lets any thread reply; the request, and the handle or node it names,
 * stay valid until then (the kernel holds them for the request).
 */
typedef struct fs_job {
	fs *f;
	fuse_req_t req;
	void (*run)(struct fs_job *job);
	struct fs_handle *handle;
	fs_node *node;
	char *data;                /* a copy of the write, or the new name */
	size_t size;
	off_t off;
} fs_job;

static void jobs_add(fs *f, int delta)
{
	pthread_mutex_lock(&f->jobs_lock);
	f->jobs_running = (unsigned)((int)f->jobs_running + delta);
	if (f->jobs_running == 0)
		pthread_cond_broadcast(&f->jobs_idle);
	pthread_mutex_unlock(&f->jobs_lock);
}

void fs_jobs_wait(fs *f)
{
	pthread_mutex_lock(&f->jobs_lock);
	while (f->jobs_running > 0)
		pthread_cond_wait(&f->jobs_idle, &f->jobs_lock);
	pthread_mutex_unlock(&f->jobs_lock);
}

static void *job_main(void *arg)
{
	fs_job *job = arg;
	fs *f = job->f;

	job->run(job);
	free(job->data);
	free(job);
	jobs_add(f, -1);
	return NULL;
}

/* Runs job->run on a new thread (which inherits this request thread's
 * blocked signals), or here when no thread can be made. */
static void job_start(fs_job *job)
{
	pthread_attr_t attr;
	pthread_t thread;
	int started;

	jobs_add(job->f, 1);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	started = pthread_create(&thread, &attr, job_main, job) == 0;
	pthread_attr_destroy(&attr);
	if (!started)
		job_main(job);
}

/* A job of the request, with a copy of data (may be NULL). */
static fs_job *job_new(fuse_req_t req, const void *data, size_t size)
{
	fs_job *job = calloc(1, sizeof(*job));

	if (!job || (data && !(job->data = malloc(size + 1)))) {
		free(job);
		return NULL;
	}
	if (data) {
		memcpy(job->data, data, size);
		job->data[size] = '\0';
	}
	job->f = fs_of(req);
	job->req = req;
	job->size = size;
	return job;
}

static bool is_view_node(const fs_node *node)
{
	return node->type == FS_NODE_VIEW || node->type == FS_NODE_ENTRY;
}

static bool is_branch_node(const fs_node *node)
{
	return is_view_node(node) && mesh_view_is_branch(node->view);
}

static double timeout_of(const fs_node *node)
{
	return is_view_node(node) && !mesh_view_is_branch(node->view) ?
	       IMMUTABLE_TIMEOUT : BRANCH_TIMEOUT;
}

/* A commit view's content never changes, but only a commit id (or a
 * prefix of one) names it for good: "main~1" or a tag name points
 * elsewhere once main moves or the tag is made again. */
static double entry_timeout_of(const fs_node *node)
{
	if (node->type == FS_NODE_VIEW && !mesh_view_is_branch(node->view) &&
	    strspn(node->name, "0123456789abcdef") != strlen(node->name))
		return BRANCH_TIMEOUT;
	return timeout_of(node);
}

/* --- attributes ------------------------------------------------------ */

static struct timespec timespec_of(int64_t ns)
{
	struct timespec ts = { ns / 1000000000, ns % 1000000000 };

	return ts;
}

static void stat_times(struct stat *st, int64_t ns)
{
	st->st_mtim = timespec_of(ns);
	st->st_atim = st->st_ctim = st->st_mtim;
}

static mode_t file_type_of(mesh_entry_kind kind)
{
	switch (kind) {
	case MESH_KIND_DIR: return S_IFDIR;
	case MESH_KIND_SYMLINK: return S_IFLNK;
	case MESH_KIND_FIFO: return S_IFIFO;
	case MESH_KIND_SOCKET: return S_IFSOCK;
	case MESH_KIND_CHRDEV: return S_IFCHR;
	case MESH_KIND_BLKDEV: return S_IFBLK;
	default: return S_IFREG;
	}
}

/* A view entry's owner and times, over what stat_dir or stat_entry set. */
static void stat_owned(const mesh_view_entry *e, struct stat *st)
{
	st->st_uid = e->uid;
	st->st_gid = e->gid;
	st->st_mtim = timespec_of(e->mtime_ns);
	st->st_atim = timespec_of(e->atime_ns);
	st->st_ctim = timespec_of(e->ctime_ns);
}

static void stat_dir(fs *f, uint64_t ino, uint32_t mode, int64_t mtime_ns,
		     struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFDIR | mode;
	st->st_nlink = 2;
	st->st_uid = f->uid;
	st->st_gid = f->gid;
	st->st_blksize = 4096;
	stat_times(st, mtime_ns);
}

static void stat_entry(fs *f, const fs_node *node, const mesh_view_entry *e,
		       struct stat *st)
{
	/* Commit views show the modes as committed, as a read-only mount
	 * does; writes there fail with EROFS. */
	uint32_t mode = e->mode & 07777;

	if (e->kind == MESH_KIND_DIR) {
		stat_dir(f, node->ino, mode, e->mtime_ns, st);
		stat_owned(e, st);
		return;
	}
	memset(st, 0, sizeof(*st));
	st->st_ino = node->ino;
	st->st_mode = file_type_of(e->kind) | mode;
	st->st_nlink = 1;
	st->st_rdev = (dev_t)e->rdev;
	st->st_size = (off_t)e->size;
	st->st_blocks = (blkcnt_t)((e->size + 511) / 512);
	/* Tools size their buffers by it (cp, dd): fewer, larger requests. */
	st->st_blksize = PREFERRED_IO_SIZE;
	stat_owned(e, st);
}

/* A directory's link count, 2 plus its subdirectories, over st. */
static int stat_nlink(fs_node *node, const char *path, const mesh_view_entry *e,
		      struct stat *st)
{
	uint32_t nlink;
	int error;

	if (e->kind != MESH_KIND_DIR)
		return 0;
	if ((error = mesh_view_dir_nlink(node->view, path, e, &nlink)) == 0)
		st->st_nlink = nlink;
	return error;
}

static int node_path(fs *f, fs_node *node, char *buf)
{
	if (!fs_nodes_path(&f->nodes, node, buf, VIEW_PATH_MAX))
		return mesh_error_set(MESH_ENOENT, "file was removed");
	return 0;
}

/* Joins a parent node's path and a child name. */
static int child_path(fs *f, fs_node *parent, const char *name, char *buf)
{
	char dir[VIEW_PATH_MAX];
	int error;

	if (strlen(name) > NAME_MAX_LEN)
		return mesh_error_set(MESH_ENAMETOOLONG, "name too long: %.32s...", name);
	if (strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return mesh_error_set(MESH_EINVAL, "bad name '%s'", name);
	if ((error = node_path(f, parent, dir)) < 0)
		return error;
	if ((size_t)snprintf(buf, VIEW_PATH_MAX, "%s%s%s", dir, *dir ? "/" : "", name)
	    >= VIEW_PATH_MAX)
		return mesh_error_set(MESH_ENAMETOOLONG, "path too long");
	return 0;
}

/* --- audit ------------------------------------------------------------- */

/* One audit record of what the request did (or was refused) on
 * node/name (name NULL: node itself), with a detail and, for a read
 * open, the file's size.  Queued only: no disk on this thread. */
static void audit_note(fuse_req_t req, fs_node *node, const char *name, const char *op,
		       int result, const char *detail, uint64_t bytes)
{
	fs *f = fs_of(req);
	char path[2 * VIEW_PATH_MAX] = "", dir[VIEW_PATH_MAX];
	mesh_audit_event e = { .op = op, .result = result, .detail = detail, .bytes = bytes };
	mesh_caller caller;
	mesh_oid commit;

	if (!mesh_audit_enabled(mesh_store_audit(f->store)))
		return;
	if (node && is_view_node(node)) {
		e.domain = mesh_view_domain(node->view);
		e.ref = mesh_view_branch(node->view);
		mesh_view_commit_id(node->view, &commit);
		e.commit = &commit;
		/* An unlinked file has no path any more: its records have none. */
		if (!fs_nodes_path(&f->nodes, node, dir, sizeof(dir)))
			dir[0] = '\0';
		snprintf(path, sizeof(path), "%s%s%s", dir, *dir && name ? "/" : "", name ? name : "");
	} else if (node && node->type == FS_NODE_DOMAIN) {
		e.domain = node->name;
		e.ref = name;
	} else if (node && node->type == FS_NODE_ROOT) {
		e.domain = name;
	}
	e.path = path;
	caller_of(req, &caller);
	mesh_audit_record(mesh_store_audit(f->store), &caller, &e);
}

static void audit_op(fuse_req_t req, fs_node *node, const char *name, const char *op,
		     int result)
{
	audit_note(req, node, name, op, result, NULL, 0);
}

static int view_root_attr(fs *f, fs_node *node, struct stat *st)
{
	mesh_view_entry root;
	int error = mesh_view_lookup(node->view, "", &root);

	if (error == 0) {
		stat_entry(f, node, &root, st);
		error = stat_nlink(node, "", &root, st);
	}
	return error;
}

/* A domain's directory: its owner and group, setgid (mesh_domain_root_owner). */
static int domain_attr(fs *f, fs_node *node, struct stat *st)
{
	uint32_t uid, gid;
	int error;

	stat_dir(f, node->ino, 02775, f->started_ns, st);
	if ((error = mesh_access_root_owner(f->store, node->name, &uid, &gid)) < 0)
		return error;
	st->st_uid = uid;
	st->st_gid = gid;
	return 0;
}

/* DOMAIN/.product.json (product.h): made anew for each getattr and
 * open, as the default branch may have moved; the kernel keeps neither
 * its attributes nor its pages (direct_io). */
static int product_attr(fs *f, fs_node *node, struct stat *st)
{
	char *text = NULL;
	size_t len = 0;
	int error = mesh_product_file(f->store, NULL, node->parent->name, &text, &len);

	free(text);
	if (error < 0)
		return error;
	memset(st, 0, sizeof(*st));
	st->st_ino = node->ino;
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	st->st_size = (off_t)len;
	st->st_uid = f->uid;
	st->st_gid = f->gid;
	st->st_mtim = st->st_ctim = st->st_atim = timespec_of(f->started_ns);
	return 0;
}

static int node_attr(fs *f, fs_node *node, struct stat *st)
{
	char path[VIEW_PATH_MAX];
	mesh_view_entry entry;
	int error;

	switch (node->type) {
	case FS_NODE_ROOT:
		stat_dir(f, node->ino, 0755, f->started_ns, st);
		return 0;
	case FS_NODE_DOMAIN:
		return domain_attr(f, node, st);
	case FS_NODE_CONTROL:
		memset(st, 0, sizeof(*st));
		st->st_ino = node->ino;
		st->st_mode = S_IFREG | 0666;
		st->st_nlink = 1;
		st->st_size = CONTROL_SIZE;
		st->st_uid = f->uid;
		st->st_gid = f->gid;
		return 0;
	case FS_NODE_VIEW:
		return view_root_attr(f, node, st);
	case FS_NODE_PRODUCT:
		return product_attr(f, node, st);
	case FS_NODE_ENTRY:
		break;
	}
	if (!fs_nodes_path(&f->nodes, node, path, sizeof(path))) {
		if (!fs_nodes_last_attr(&f->nodes, node, st))
			return mesh_error_set(MESH_ENOENT, "file was removed");
		st->st_nlink = 0;
		return fs_dirty_attr(f, node, st);
	}
	if ((error = mesh_view_lookup(node->view, path, &entry)) < 0)
		return error;
	stat_entry(f, node, &entry, st);
	if ((error = stat_nlink(node, path, &entry, st)) == 0 &&
	    (error = fs_dirty_attr(f, node, st)) == 0)
		fs_nodes_set_attr(&f->nodes, node, st);
	return error;
}

/* A restricted domain's entry is never cached by the kernel: each path
 * through it comes back to lookup, where the caller is judged (the
 * kernel shares one dentry between all users). */
static void domain_entry_timeouts(fs *f, const fs_node *node, struct fuse_entry_param *e)
{
	if ((node->type == FS_NODE_DOMAIN && mesh_access_domain_restricted(f->store, node->name)) ||
	    node->type == FS_NODE_PRODUCT)
		e->attr_timeout = e->entry_timeout = 0;
}

static void reply_entry(fuse_req_t req, fs_node *node)
{
	struct fuse_entry_param e;
	int error;

	memset(&e, 0, sizeof(e));
	if ((error = node_attr(fs_of(req), node, &e.attr)) < 0) {
		fs_nodes_forget(&fs_of(req)->nodes, node, 1);
		reply_error(req, error);
		return;
	}
	e.ino = node->ino;
	e.attr_timeout = timeout_of(node);
	e.entry_timeout = entry_timeout_of(node);
	domain_entry_timeouts(fs_of(req), node, &e);
	fuse_reply_entry(req, &e);
}

/* --- lookup ---------------------------------------------------------- */

static int lookup_in_root(fs *f, const mesh_caller *caller, const char *name, fs_node **out)
{
	int error;

	if (strcmp(name, ".control") == 0) {
		*out = fs_nodes_lookup(&f->nodes, f->nodes.root, name, FS_NODE_CONTROL, NULL);
		return *out ? 0 : mesh_error_oom();
	}
	/* A restricted domain does not exist for those outside it. */
	if ((error = mesh_access_check(f->store, caller, name, NULL, MESH_ACCESS_SEE, NULL)) < 0)
		return error;
	*out = fs_nodes_lookup(&f->nodes, f->nodes.root, name, FS_NODE_DOMAIN, NULL);
	return *out ? 0 : mesh_error_oom();
}

static int lookup_in_domain(fs *f, const mesh_caller *caller, fs_node *domain,
			    const char *name, fs_node **out)
{
	mesh_view *view;
	mesh_rev rev;
	int error;

	if (strcmp(name, ".product.json") == 0) {
		char *text = NULL;
		size_t len;
		error = mesh_product_file(f->store, caller, domain->name, &text, &len);
		free(text);
		if (error < 0)
			return error;
		*out = fs_nodes_lookup(&f->nodes, domain, name, FS_NODE_PRODUCT, NULL);
		return *out ? 0 : mesh_error_oom();
	}

	if ((error = mesh_revparse(f->store, domain->name, name, &rev)) < 0)
		return error;
	if (rev.is_branch)
		error = fs_branch_view(f, domain->name, rev.branch, &view);
	else
		error = fs_commit_view(f, domain->name, &rev.commit, &view);
	if (error < 0)
		return error;
	/* The node holds the view on its own. */
	*out = fs_nodes_lookup(&f->nodes, domain, name, FS_NODE_VIEW, view);
	fs_view_put(f, view);
	return *out ? 0 : mesh_error_oom();
}

static int lookup_in_view(fs *f, fs_node *parent, const char *name, fs_node **out)
{
	char path[VIEW_PATH_MAX];
	mesh_view_entry entry;
	int error;

	if ((error = child_path(f, parent, name, path)) < 0 ||
	    (error = mesh_view_lookup(parent->view, path, &entry)) < 0)
		return error;
	*out = fs_nodes_lookup(&f->nodes, parent, name, FS_NODE_ENTRY, parent->view);
	return *out ? 0 : mesh_error_oom();
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent_ino, const char *name)
{
	fs *f = fs_of(req);
	fs_node *parent = node_of(req, parent_ino), *node = NULL;
	mesh_caller caller;
	int error;

	if (!parent)
		return (void)fuse_reply_err(req, ENOENT);
	if (strlen(name) > NAME_MAX_LEN)
		return (void)fuse_reply_err(req, ENAMETOOLONG);
	switch (parent->type) {
	case FS_NODE_ROOT:
		caller_of(req, &caller);
		error = lookup_in_root(f, &caller, name, &node);
		break;
	case FS_NODE_DOMAIN:
		caller_of(req, &caller);
		error = lookup_in_domain(f, &caller, parent, name, &node);
		break;
	case FS_NODE_VIEW:
	case FS_NODE_ENTRY:
		error = lookup_in_view(f, parent, name, &node);
		break;
	default:
		error = MESH_ENOTDIR;
	}
	if (error < 0) {
		/* A negative entry: the kernel may remember the absence. */
		if (error == MESH_ENOENT && is_branch_node(parent)) {
			struct fuse_entry_param e = { .entry_timeout = BRANCH_TIMEOUT };
			fuse_reply_entry(req, &e);
			return;
		}
		return reply_error(req, error);
	}
	reply_entry(req, node);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fs_node *node = node_of(req, ino);

	if (node)
		fs_nodes_forget(&fs_of(req)->nodes, node, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++) {
		fs_node *node = node_of(req, forgets[i].ino);
		if (node)
			fs_nodes_forget(&fs_of(req)->nodes, node, forgets[i].nlookup);
	}
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_node *node = node_of(req, ino);
	struct stat st;
	int error;

	(void)fi;
	if (!node)
		return (void)fuse_reply_err(req, ENOENT);
	if (node->type == FS_NODE_DOMAIN || node->type == FS_NODE_PRODUCT) {
		mesh_caller caller;
		caller_of(req, &caller);
		if ((error = node->type == FS_NODE_DOMAIN ?
			     mesh_access_check(fs_of(req)->store, &caller, node->name, NULL,
					       MESH_ACCESS_SEE, NULL) :
			     mesh_access_check(fs_of(req)->store, &caller, node->parent->name,
					       NULL, MESH_ACCESS_READ, MESH_PRODUCT_PATH)) < 0)
			return reply_error(req, error);
	}
	if ((error = node_attr(fs_of(req), node, &st)) < 0)
		return reply_error(req, error);
	fuse_reply_attr(req, &st, node->type == FS_NODE_PRODUCT ||
			(node->type == FS_NODE_DOMAIN &&
			 mesh_access_domain_restricted(fs_of(req)->store, node->name)) ?
			0 : timeout_of(node));
}

/* --- setattr --------------------------------------------------------- */


/* The domain's rules for op on a view node's path (access.h). */
static int node_may(fs *f, fs_node *node, const mesh_caller *caller, mesh_access_op op)
{
	char path[VIEW_PATH_MAX];
	int error;

	if (!is_view_node(node))
		return 0;
	if ((error = node_path(f, node, path)) < 0)
		return error;
	return mesh_access_check(f->store, caller, mesh_view_domain(node->view),
				 mesh_view_branch(node->view), op, path);
}

static int truncate_node(fs *f, fs_node *node, off_t size, const mesh_caller *caller)
{
	fs_dirty *dirty = fs_dirty_get(f, node);
	bool temporary = dirty == NULL;
	int error = 0;

	if (size < 0)
		error = mesh_error_set(MESH_EINVAL, "negative size");
	else if ((error = node_may(f, node, caller, MESH_ACCESS_WRITE)) < 0)
		;
	else if (!dirty)
		error = fs_dirty_open(f, node, false, &dirty);
	if (error == 0)
		error = fs_dirty_truncate(f, dirty, size);
	fs_dirty_put(f, dirty);
	if (error < 0 || !temporary)
		return error;
	/* truncate(2) of a file nobody has open: stage it now. */
	error = fs_dirty_stage(f, node, caller, false);
	pthread_mutex_lock(&f->nodes.lock);
	temporary = node->opens == 0;
	pthread_mutex_unlock(&f->nodes.lock);
	if (error == 0 && temporary)
		fs_dirty_detach(f, node);
	return error;
}

static int64_t ns_of(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

#define SETATTR_META (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID | \
		      FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME | \
		      FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME | FUSE_SET_ATTR_KILL_SUID | \
		      FUSE_SET_ATTR_KILL_SGID)

/* chmod, chown, utimens (and a bare ctime change: chown(f, -1, -1)). */
static int setattr_meta(fs *f, fs_node *node, const struct stat *attr, int to_set,
			const mesh_caller *caller)
{
	char path[VIEW_PATH_MAX];
	uint32_t mode = attr->st_mode & 07777, uid = attr->st_uid, gid = attr->st_gid;
	int64_t now = fs_now_ns(), mtime, atime;
	mesh_view_attr va = { 0 };
	mesh_view_entry entry;
	fs_dirty *dirty;
	int error;

	/* No field at all is what chown(f, -1, -1) sends: ctime moves. */
	if (!(to_set & SETATTR_META) && (to_set & ~FUSE_SET_ATTR_FILE & ~FUSE_SET_ATTR_FORCE))
		return 0;
	mtime = (to_set & FUSE_SET_ATTR_MTIME_NOW) ? now : ns_of(&attr->st_mtim);
	atime = (to_set & FUSE_SET_ATTR_ATIME_NOW) ? now : ns_of(&attr->st_atim);
	va.mode = (to_set & FUSE_SET_ATTR_MODE) ? &mode : NULL;
	va.uid = (to_set & FUSE_SET_ATTR_UID) ? &uid : NULL;
	va.gid = (to_set & FUSE_SET_ATTR_GID) ? &gid : NULL;
	va.mtime_ns = (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)) ? &mtime : NULL;
	va.atime_ns = (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW)) ? &atime : NULL;
	va.kill_suid = (to_set & FUSE_SET_ATTR_KILL_SUID) != 0;
	va.kill_sgid = (to_set & FUSE_SET_ATTR_KILL_SGID) != 0;
	if ((error = node_path(f, node, path)) < 0 ||
	    (error = mesh_view_change_attr(node->view, caller, path, &va)) < 0)
		return error;
	/* What a file being written stages at close: the mode as changed
	 * here (a chown clears set-id bits), and the mtime. */
	if ((dirty = fs_dirty_get(f, node)) != NULL) {
		if ((error = mesh_view_lookup(node->view, path, &entry)) == 0)
			fs_dirty_set_meta(dirty, &entry.mode, va.mtime_ns);
		fs_dirty_put(f, dirty);
	}
	return error;
}

/* What a setattr is called in the audit log (the first that applies). */
static const char *setattr_op(int to_set)
{
	if (to_set & FUSE_SET_ATTR_MODE)
		return "chmod";
	if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))
		return "chown";
	if (to_set & FUSE_SET_ATTR_SIZE)
		return "truncate";
	return "utimens";
}

static void setattr_refused(fuse_req_t req, fs_node *node, int to_set, int error)
{
	audit_op(req, node, NULL, setattr_op(to_set), error);
	fuse_reply_err(req, -error);
}

static void setattr_now(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			int to_set, struct fuse_file_info *fi)
{
	fs *f = fs_of(req);
	fs_node *node = node_of(req, ino);
	mesh_caller caller;
	struct stat st;
	int error = 0;

	(void)fi;
	caller_of(req, &caller);
	if (!node)
		return (void)fuse_reply_err(req, ENOENT);
	/* The control file is not data: a chmod, chown, utimens or truncate
	 * that pretended to work would mislead. */
	if (node->type == FS_NODE_CONTROL)
		return setattr_refused(req, node, to_set, MESH_EPERM);
	if (node->type != FS_NODE_ENTRY)
		return setattr_refused(req, node, to_set,
				       is_view_node(node) && !is_branch_node(node) ? MESH_EROFS : MESH_EPERM);
	if (!mesh_view_is_branch(node->view))
		return setattr_refused(req, node, to_set, MESH_EROFS);
	if (to_set & FUSE_SET_ATTR_SIZE)
		error = truncate_node(f, node, attr->st_size, &caller);
	if (error == 0)
		error = setattr_meta(f, node, attr, to_set, &caller);
	audit_op(req, node, NULL, setattr_op(to_set), error);
	if (error < 0)
		return reply_error(req, error);
	if ((error = node_attr(f, node, &st)) < 0)
		return reply_error(req, error);
	fuse_reply_attr(req, &st, timeout_of(node));
}

/* --- namespace changes ---------------------------------------------- */

/* The parent must be a directory of a branch view. */
static int writable_parent(fuse_req_t req, fuse_ino_t ino, fs_node **out)
{
	fs_node *parent = node_of(req, ino);

	if (!parent)
		return mesh_error_set(MESH_ENOENT, "no such directory");
	if (!is_view_node(parent))
		return mesh_error_set(MESH_EPERM,
			"only branch views hold files; branches are made with `meshfs branch create`");
	if (!mesh_view_is_branch(parent->view))
		return mesh_error_set(MESH_EROFS, "%s: commit views are read-only",
				      mesh_view_domain(parent->view));
	*out = parent;
	return 0;
}

static void reply_new_entry(fuse_req_t req, fs_node *parent, const char *name)
{
	fs_node *node = fs_nodes_lookup(&fs_of(req)->nodes, parent, name,
					FS_NODE_ENTRY, parent->view);

	if (!node)
		return (void)fuse_reply_err(req, ENOMEM);
	reply_entry(req, node);
}

/* mkdir in a domain: a branch from the head of the default branch
 * (on a job's thread: pre-create-branch hooks may run). */
static void mkdir_branch_run(fs_job *job)
{
	fuse_req_t req = job->req;
	fs_node *domain_node = job->node;
	const char *name = job->data;
	fs *f = fs_of(req);
	mesh_domain *domain;
	mesh_caller caller;
	mesh_oid head;
	fs_node *node;
	int error;

	caller_of(req, &caller);
	if ((error = mesh_domain_get(f->store, domain_node->name, &domain)) == 0) {
		error = mesh_branch_create(f->store, &caller, domain_node->name, name,
					   domain->default_branch, &head);
		mesh_domain_free(domain);
	}
	audit_op(req, domain_node, name, "mkdir", error);
	if (error < 0 || (error = lookup_in_domain(f, &caller, domain_node, name, &node)) < 0)
		return reply_error(req, error);
	reply_entry(req, node);
}

static void mkdir_branch(fuse_req_t req, fs_node *domain_node, const char *name)
{
	fs_job *job = job_new(req, name, strlen(name));

	if (!job)
		return (void)fuse_reply_err(req, ENOMEM);
	job->node = domain_node;
	job->run = mkdir_branch_run;
	job_start(job);
}

/* rmdir of a branch view deletes the branch, only when it shows nothing. */
static int rmdir_branch(fs *f, const mesh_caller *caller, fs_node *domain_node,
			const char *name)
{
	mesh_view *view;
	mesh_rev rev;
	int error;

	if ((error = mesh_revparse(f->store, domain_node->name, name, &rev)) < 0)
		return error;
	if (!rev.is_branch)
		return mesh_error_set(MESH_EPERM, "%s/%s is not a branch: tags and commits stay",
				      domain_node->name, name);
	if ((error = fs_branch_view(f, domain_node->name, rev.branch, &view)) < 0)
		return error;
	if ((error = mesh_view_refresh(view)) == 0)
		error = mesh_branch_delete_empty(f->store, caller, view);
	fs_view_put(f, view);
	return error;
}

static void mkdir_now(fuse_req_t req, fuse_ino_t parent_ino, const char *name, mode_t mode)
{
	fs *f = fs_of(req);
	char path[VIEW_PATH_MAX];
	fs_node *parent = node_of(req, parent_ino);
	mesh_caller caller;
	int error;

	if (parent && parent->type == FS_NODE_DOMAIN)
		return mkdir_branch(req, parent, name);
	caller_of(req, &caller);
	if ((error = writable_parent(req, parent_ino, &parent)) < 0 ||
	    (error = child_path(f, parent, name, path)) < 0 ||
	    (error = mesh_view_mkdir(parent->view, &caller, path, mode)) < 0) {
		audit_op(req, node_of(req, parent_ino), name, "mkdir", error);
		return reply_error(req, error);
	}
	audit_op(req, parent, name, "mkdir", 0);
	reply_new_entry(req, parent, name);
}

/* Stages an empty file at parent/name; *created is what it now is. */
static int stage_new_file(fs *f, fs_node *parent, const char *name, mode_t mode,
			  const mesh_caller *caller, mesh_view_entry *created)
{
	char path[VIEW_PATH_MAX];
	int error;

	if ((error = child_path(f, parent, name, path)) < 0)
		return error;
	memset(created, 0, sizeof(*created));
	created->kind = MESH_KIND_FILE;
	created->mode = mode & 07777;
	created->mtime_ns = fs_now_ns();
	created->id = f->empty_file;
	created->staged = true;
	if ((error = mesh_view_create_file(parent->view, caller, path, created->mode,
					   created->mtime_ns, &f->empty_file)) < 0)
		return error;
	/* The owner and mode as staged (a setgid parent gives its group). */
	return mesh_view_lookup(parent->view, path, created);
}

/* FIFOs, sockets and (root's) device nodes are versioned entries. */
static int stage_special(fs *f, fs_node *parent, const char *name, mode_t mode,
			 dev_t rdev, const mesh_caller *caller)
{
	char path[VIEW_PATH_MAX];
	mesh_entry_kind kind;
	int error;

	switch (mode & S_IFMT) {
	case S_IFIFO: kind = MESH_KIND_FIFO; break;
	case S_IFSOCK: kind = MESH_KIND_SOCKET; break;
	case S_IFCHR: kind = MESH_KIND_CHRDEV; break;
	case S_IFBLK: kind = MESH_KIND_BLKDEV; break;
	default:
		return mesh_error_set(MESH_EINVAL, "mknod of file type %o", (unsigned)(mode & S_IFMT));
	}
	if ((error = child_path(f, parent, name, path)) < 0)
		return error;
	return mesh_view_mknod(parent->view, caller, path, kind, mode & 07777,
			       kind == MESH_KIND_CHRDEV || kind == MESH_KIND_BLKDEV ? rdev : 0);
}

static void mknod_now(fuse_req_t req, fuse_ino_t parent_ino, const char *name,
		      mode_t mode, dev_t rdev)
{
	fs *f = fs_of(req);
	mesh_view_entry created;
	fs_node *parent;
	mesh_caller caller;
	int error;

	caller_of(req, &caller);
	if ((error = writable_parent(req, parent_ino, &parent)) == 0)
		error = S_ISREG(mode) ? stage_new_file(f, parent, name, mode, &caller, &created)
				      : stage_special(f, parent, name, mode, rdev, &caller);
	audit_op(req, node_of(req, parent_ino), name, "mknod", error);
	if (error < 0)
		return reply_error(req, error);
	reply_new_entry(req, parent, name);
}

static void symlink_now(fuse_req_t req, const char *target, fuse_ino_t parent_ino,
		       const char *name)
{
	fs *f = fs_of(req);
	char path[VIEW_PATH_MAX];
	mesh_view_entry existing;
	fs_node *parent;
	mesh_caller caller;
	mesh_oid map;
	int error;

	caller_of(req, &caller);
	if ((error = writable_parent(req, parent_ino, &parent)) < 0 ||
	    (error = child_path(f, parent, name, path)) < 0) {
		audit_op(req, node_of(req, parent_ino), name, "symlink", error);
		return reply_error(req, error);
	}
	if (mesh_view_lookup(parent->view, path, &existing) == 0) {
		audit_op(req, parent, name, "symlink", MESH_EEXIST);
		return (void)fuse_reply_err(req, EEXIST);
	}
	/* Storing the target and staging it: one session (odb.h). */
	mesh_odb_session_begin(mesh_store_odb(f->store));
	if ((error = mesh_file_write_buf(mesh_store_odb(f->store), NULL, target,
					 strlen(target), &map)) == 0)
		error = mesh_view_stage_content(parent->view, &caller, path, MESH_KIND_SYMLINK,
						0777, strlen(target), fs_now_ns(), &map, false);
	mesh_odb_session_end(mesh_store_odb(f->store));
	audit_note(req, parent, name, "symlink", error, target, 0);
	if (error < 0)
		return reply_error(req, error);
	reply_new_entry(req, parent, name);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	fs *f = fs_of(req);
	fs_node *node = node_of(req, ino);
	char path[VIEW_PATH_MAX], target[PATH_MAX + 1];
	mesh_view_entry entry;
	mesh_file_map *map = NULL;
	mesh_caller caller;
	size_t len = 0;
	int error;

	if (!node || node->type != FS_NODE_ENTRY)
		return (void)fuse_reply_err(req, EINVAL);
	caller_of(req, &caller);
	if ((error = node_may(f, node, &caller, MESH_ACCESS_READ)) == 0 &&
	    (error = node_path(f, node, path)) == 0 &&
	    (error = mesh_view_lookup(node->view, path, &entry)) == 0 &&
	    (error = mesh_view_file_map(node->view, &entry, &map)) == 0)
		error = mesh_file_read(mesh_store_odb(f->store), mesh_store_cache(f->store),
				       map, target, PATH_MAX, 0, &len);
	mesh_file_map_free(map);
	if (error < 0)
		return reply_error(req, error);
	target[len] = '\0';
	fuse_reply_readlink(req, target);
}

static void unlink_now(fuse_req_t req, fuse_ino_t parent_ino, const char *name)
{
	fs *f = fs_of(req);
	char path[VIEW_PATH_MAX];
	fs_node *parent;
	mesh_caller caller;
	int error;

	caller_of(req, &caller);
	if ((error = writable_parent(req, parent_ino, &parent)) < 0 ||
	    (error = child_path(f, parent, name, path)) < 0 ||
	    (error = mesh_view_unlink(parent->view, &caller, path)) < 0) {
		audit_op(req, node_of(req, parent_ino), name, "unlink", error);
		return reply_error(req, error);
	}
	audit_op(req, parent, name, "unlink", 0);
	fs_nodes_detach(&f->nodes, parent, name);
	fuse_reply_err(req, 0);
}

static void rmdir_now(fuse_req_t req, fuse_ino_t parent_ino, const char *name)
{
	fs *f = fs_of(req);
	char path[VIEW_PATH_MAX];
	fs_node *parent = node_of(req, parent_ino);
	mesh_caller caller;
	int error;

	caller_of(req, &caller);
	if (parent && parent->type == FS_NODE_DOMAIN) {
		error = rmdir_branch(f, &caller, parent, name);
		audit_op(req, parent, name, "rmdir", error);
		if (error < 0)
			return reply_error(req, error);
		fs_nodes_detach(&f->nodes, parent, name);
		return (void)fuse_reply_err(req, 0);
	}
	if ((error = writable_parent(req, parent_ino, &parent)) < 0 ||
	    (error = child_path(f, parent, name, path)) < 0 ||
	    (error = mesh_view_rmdir(parent->view, &caller, path)) < 0) {
		audit_op(req, node_of(req, parent_ino), name, "rmdir", error);
		return reply_error(req, error);
	}
	audit_op(req, parent, name, "rmdir", 0);
	fs_nodes_detach(&f->nodes, parent, name);
	fuse_reply_err(req, 0);
}

/* A refused rename's record names the new name only: its path may be
 * what was refused. */
static void rename_refused(fuse_req_t req, fuse_ino_t parent_ino, const char *name,
			   const char *new_name, int error)
{
	audit_note(req, node_of(req, parent_ino), name, "rename", error, new_name, 0);
	reply_error(req, error);
}

static void rename_now(fuse_req_t req, fuse_ino_t parent_ino, const char *name,
		       fuse_ino_t new_parent_ino, const char *new_name, unsigned int flags)
{
	fs *f = fs_of(req);
	char from[VIEW_PATH_MAX], to[VIEW_PATH_MAX];
	fs_node *parent, *new_parent;
	mesh_caller caller;
	int error;

	caller_of(req, &caller);
	if (flags & ~RENAME_NOREPLACE)
		return rename_refused(req, parent_ino, name, new_name, MESH_EINVAL);
	if ((error = writable_parent(req, parent_ino, &parent)) < 0 ||
	    (error = writable_parent(req, new_parent_ino, &new_parent)) < 0)
		return rename_refused(req, parent_ino, name, new_name, error);
	if (parent->view != new_parent->view)
		return rename_refused(req, parent_ino, name, new_name, -EXDEV);
	if ((error = child_path(f, parent, name, from)) < 0 ||
	    (error = child_path(f, new_parent, new_name, to)) < 0 ||
	    (error = mesh_view_rename(parent->view, &caller, from, to,
				      flags & RENAME_NOREPLACE)) < 0)
		return rename_refused(req, parent_ino, name, new_name, error);
	audit_note(req, parent, name, "rename", 0, to, 0);
	fs_nodes_rename(&f->nodes, parent, name, new_parent, new_name);
	fuse_reply_err(req, 0);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent_ino, const char *name)
{
	fs *f = fs_of(req);
	char path[VIEW_PATH_MAX];
	mesh_view_entry existing;
	fs_node *parent;
	int error;

	(void)ino;
	/* A versioned file has one path; hard links would need two.  But
	 * POSIX checks the new name first: an existing one is EEXIST. */
	if ((error = writable_parent(req, parent_ino, &parent)) < 0 ||
	    (error = child_path(f, parent, name, path)) < 0)
		return reply_error(req, error);
	if (mesh_view_lookup(parent->view, path, &existing) == 0)
		return (void)fuse_reply_err(req, EEXIST);
	mesh_error_clear();
	fuse_reply_err(req, EPERM);
}

/* --- files ----------------------------------------------------------- */

static bool opens_for_writing(const struct fuse_file_info *fi)
{
	return (fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC);
}

static fs_handle *handle_new(fs *f, fs_node *node, const struct fuse_file_info *fi)
{
	fs_handle *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->writes = opens_for_writing(fi);
	pthread_mutex_init(&h->lock, NULL);
	pthread_rwlock_init(&h->map_lock, NULL);
	h->node = node;
	fs_nodes_open(&f->nodes, node);
	pthread_mutex_lock(&f->handles_lock);
	h->next = f->handles;
	if (h->next)
		h->next->prev = h;
	f->handles = h;
	pthread_mutex_unlock(&f->handles_lock);
	return h;
}

static void handle_unpin(fs *f, fs_handle *h)
{
	if (h->map_pinned)
		mesh_odb_unpin(mesh_store_odb(f->store), &h->map_id);
	h->map_pinned = false;
}

/* Drops the handle's open of its node (unless the caller took the node
 * off it) and frees it. */
static void handle_dispose(fs *f, fs_handle *h)
{
	mesh_file_map_free(h->map);
	handle_unpin(f, h);
	free(h->answer);
	free(h->pending);
	pthread_mutex_destroy(&h->lock);
	pthread_rwlock_destroy(&h->map_lock);
	free(h);
}

static void handle_free(fs *f, fs_handle *h)
{
	if (h->node)
		fs_nodes_close(&f->nodes, h->node);
	pthread_mutex_lock(&f->handles_lock);
	if (h->prev)
		h->prev->next = h->next;
	else
		f->handles = h->next;
	if (h->next)
		h->next->prev = h->prev;
	pthread_mutex_unlock(&f->handles_lock);
	handle_dispose(f, h);
}

void fs_handles_free_all(fs *f)
{
	pthread_mutex_lock(&f->handles_lock);
	for (fs_handle *h = f->handles, *next; h; h = next) {
		next = h->next;
		handle_dispose(f, h);
	}
	f->handles = NULL;
	pthread_mutex_unlock(&f->handles_lock);
}

static fs_handle *handle_of(struct fuse_file_info *fi)
{
	return (fs_handle *)(uintptr_t)fi->fh;
}

/* Reading checks the sensitive paths, in every view; writing checks
 * the domain's writers and protected branches, before anything is done. */
static int open_allowed(fs *f, fuse_req_t req, fs_node *node, const struct fuse_file_info *fi)
{
	mesh_caller caller;
	int error = 0;

	caller_of(req, &caller);
	if ((fi->flags & O_ACCMODE) != O_WRONLY)
		error = node_may(f, node, &caller, MESH_ACCESS_READ);
	if (error == 0 && opens_for_writing(fi) && mesh_view_is_branch(node->view))
		error = node_may(f, node, &caller, MESH_ACCESS_WRITE);
	return error;
}

static int open_entry(fs *f, fs_node *node, struct fuse_file_info *fi)
{
	bool writes = opens_for_writing(fi);
	fs_dirty *dirty;
	int error;

	if (!mesh_view_is_branch(node->view)) {
		if (writes)
			return mesh_error_set(MESH_EROFS, "%s: commit views are read-only",
					      mesh_view_domain(node->view));
		/* Immutable content: the kernel may keep its pages forever. */
		fi->keep_cache = 1;
		return 0;
	}
	/* A branch file's content changes only through this mount: writes
	 * pass the page cache, and reset, merge and copies invalidate the
	 * inode (fs_changed), so its pages stay valid across opens. */
	fi->keep_cache = 1;
	if (!writes)
		return 0;
	if ((error = fs_dirty_open(f, node, (fi->flags & O_TRUNC) != 0, &dirty)) == 0)
		fs_dirty_put(f, dirty);
	return error;
}

static int reload_map(fs *f, fs_handle *h, uint64_t generation, uint64_t version);

/*
 * Without FOPEN_PARALLEL_DIRECT_WRITES the kernel holds the control
 * file's inode lock across each write(2), that is across each command:
 * one gc or fsck would stall every other user's commits, and nobody
 * could ask how far it has come.  libfuse 3.14 has no field for the
 * flag, so the open's answer is written out here (the kernel's
 * fuse_open_out, as fuse_reply_open sends it).  The kernel still takes
 * the lock for a write past the file's size: the control file reports
 * a size no command line reaches (stat_control).
 */
static int reply_open_control(fuse_req_t req, const struct fuse_file_info *fi)
{
	struct fuse_open_out out;

	memset(&out, 0, sizeof(out));
	out.fh = fi->fh;
	out.open_flags = FOPEN_DIRECT_IO | FOPEN_PARALLEL_DIRECT_WRITES;
	return fuse_reply_buf(req, (const char *)&out, sizeof(out));
}

/*
 * Who stages what a writing handle wrote: its opener, whose right to write
 * the open checked.  The closer may be another process that inherited the
 * descriptor, and a release carries no identity of its own (under
 * root_squash a refused staging there would lose the data).
 */
static void staging_caller(fuse_req_t req, const fs_handle *h, mesh_caller *out)
{
	if (h->writes && h->opener.write_opened) {
		*out = h->opener;
		return;
	}
	caller_of(req, out);
}

static void note_opener(fuse_req_t req, fs_handle *h)
{
	if (!h->writes)
		return;
	caller_of(req, &h->opener);
	/* The request (groups_of's source) is gone when the handle stages. */
	h->opener.groups_of = NULL;
	h->opener.source = NULL;
	h->opener.write_opened = true;
}

/* The card's text is made once per open (h->answer), so that a reader
 * sees one whole card even while the default branch moves. */
static void open_product(fuse_req_t req, fs_node *node, struct fuse_file_info *fi)
{
	fs *f = fs_of(req);
	mesh_caller caller;
	fs_handle *h;
	char *text = NULL;
	size_t len = 0;
	int error;

	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
		return (void)fuse_reply_err(req, EROFS);
	caller_of(req, &caller);
	if ((error = mesh_product_file(f->store, &caller, node->parent->name, &text, &len)) < 0)
		return reply_error(req, error);
	if (!(h = handle_new(f, node, fi))) {
		free(text);
		return (void)fuse_reply_err(req, ENOMEM);
	}
	h->answer = text;
	h->answer_len = len;
	fi->direct_io = 1;
	fi->fh = (uintptr_t)h;
	if (fuse_reply_open(req, fi) == -ENOENT)
		handle_free(f, h);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs *f = fs_of(req);
	fs_node *node = node_of(req, ino);
	fs_handle *h;
	int error = 0;

	if (!node)
		return (void)fuse_reply_err(req, ENOENT);
	if (node->type == FS_NODE_PRODUCT)
		return open_product(req, node, fi);
	if (node->type != FS_NODE_CONTROL && node->type != FS_NODE_ENTRY)
		return (void)fuse_reply_err(req, EISDIR);
	if (node->type == FS_NODE_ENTRY && (error = open_allowed(f, req, node, fi)) < 0)
		return reply_error(req, error);
	/* The open counts before an O_TRUNC empties the shared content: a
	 * release of an earlier handle racing with it then knows it is not
	 * the last, and leaves that empty middle state unstaged. */
	if (!(h = handle_new(f, node, fi)))
		return (void)fuse_reply_err(req, ENOMEM);
	note_opener(req, h);
	if (node->type == FS_NODE_CONTROL)
		fi->direct_io = 1;
	else if ((error = open_entry(f, node, fi)) < 0) {
		audit_op(req, node, NULL, h->writes ? "write" : "read", error);
		handle_free(f, h);
		return reply_error(req, error);
	}
	/* The content as of open, so that an unlink cannot take it away. */
	if (node->type == FS_NODE_ENTRY && (fi->flags & O_ACCMODE) == O_RDONLY &&
	    !(fi->flags & O_TRUNC)) {
		reload_map(f, h, mesh_view_generation(node->view),
			   __atomic_load_n(&node->content_version, __ATOMIC_ACQUIRE));
		/* One record per open, never per read. */
		audit_note(req, node, NULL, "read", 0, NULL, h->map ? h->map->size : 0);
	}
	fi->fh = (uintptr_t)h;
	if ((node->type == FS_NODE_CONTROL ? reply_open_control(req, fi)
					   : fuse_reply_open(req, fi)) == -ENOENT)
		handle_free(f, h);
}

static void create_now(fuse_req_t req, fuse_ino_t parent_ino, const char *name,
		       mode_t mode, struct fuse_file_info *fi)
{
	fs *f = fs_of(req);
	struct fuse_entry_param e;
	mesh_view_entry created;
	fs_node *parent, *node;
	fs_dirty *dirty;
	fs_handle *h;
	mesh_caller caller;
	int error;

	caller_of(req, &caller);
	if ((error = writable_parent(req, parent_ino, &parent)) < 0 ||
	    (error = stage_new_file(f, parent, name, mode, &caller, &created)) < 0) {
		audit_op(req, node_of(req, parent_ino), name, "create", error);
		return reply_error(req, error);
	}
	node = fs_nodes_lookup(&f->nodes, parent, name, FS_NODE_ENTRY, parent->view);
	if (!node)
		return (void)fuse_reply_err(req, ENOMEM);
	if ((error = fs_dirty_create(f, node, &created, &dirty)) == 0)
		fs_dirty_put(f, dirty);
	if (error < 0 || !(h = handle_new(f, node, fi))) {
		audit_op(req, parent, name, "create", error < 0 ? error : MESH_ENOMEM);
		fs_nodes_forget(&f->nodes, node, 1);
		return reply_error(req, error < 0 ? error : MESH_ENOMEM);
	}
	note_opener(req, h);
	/* One record for create and write: at the first close. */
	h->created = true;
	/* The attributes of what was just staged: no lookup needed. */
	memset(&e, 0, sizeof(e));
	stat_entry(f, node, &created, &e.attr);
	fs_nodes_set_attr(&f->nodes, node, &e.attr);
	e.ino = node->ino;
	e.attr_timeout = e.entry_timeout = BRANCH_TIMEOUT;
	fi->fh = (uintptr_t)h;
	fuse_reply_create(req, &e, fi);
}

/* --- changes in a branch whose commit runs its pre-hooks -------------- */

/*
 * A namespace change or setattr waits for its branch's lock, which a
 * commit holds while its pre-hooks run: then the request is kept here
 * and answered from a job's thread, as a close or fsync is
 * (stage_maybe_later), so that the request threads go on serving.
 */
typedef enum {
	NS_SETATTR, NS_MKDIR, NS_MKNOD, NS_SYMLINK, NS_UNLINK, NS_RMDIR,
	NS_RENAME, NS_CREATE
} ns_kind;

typedef struct {
	ns_kind kind;
	fuse_ino_t ino;            /* the node set, or the parent changed */
	fuse_ino_t new_parent;     /* rename's */
	char *name;
	char *other;               /* rename's new name, symlink's target */
	mode_t mode;
	dev_t rdev;
	unsigned int flags;
	int to_set;
	struct stat attr;
	struct fuse_file_info fi;
} ns_call;

static bool branch_busy(fuse_req_t req, fuse_ino_t ino)
{
	fs_node *node = node_of(req, ino);

	return node && is_branch_node(node) &&
	       mesh_store_branch_held(fs_of(req)->store, mesh_view_domain(node->view),
				      mesh_view_branch(node->view));
}

static void ns_call_now(fuse_req_t req, ns_call *c)
{
	switch (c->kind) {
	case NS_SETATTR: return setattr_now(req, c->ino, &c->attr, c->to_set, NULL);
	case NS_MKDIR: return mkdir_now(req, c->ino, c->name, c->mode);
	case NS_MKNOD: return mknod_now(req, c->ino, c->name, c->mode, c->rdev);
	case NS_SYMLINK: return symlink_now(req, c->other, c->ino, c->name);
	case NS_UNLINK: return unlink_now(req, c->ino, c->name);
	case NS_RMDIR: return rmdir_now(req, c->ino, c->name);
	case NS_RENAME:
		return rename_now(req, c->ino, c->name, c->new_parent, c->other, c->flags);
	case NS_CREATE: return create_now(req, c->ino, c->name, c->mode, &c->fi);
	}
}

static void ns_job_run(fs_job *job)
{
	ns_call_now(job->req, (ns_call *)job->data);
}

/* A copy of c with its names in the same block (freed with the job). */
static ns_call *ns_call_copy(const ns_call *c)
{
	size_t name_len = c->name ? strlen(c->name) + 1 : 0;
	size_t other_len = c->other ? strlen(c->other) + 1 : 0;
	ns_call *copy = malloc(sizeof(*copy) + name_len + other_len);
	char *names;

	if (!copy)
		return NULL;
	*copy = *c;
	names = (char *)(copy + 1);
	if (c->name)
		copy->name = memcpy(names, c->name, name_len);
	if (c->other)
		copy->other = memcpy(names + name_len, c->other, other_len);
	return copy;
}

static void ns_run(fuse_req_t req, ns_call *c)
{
	fs_job *job;

	if (!branch_busy(req, c->ino) || !(job = job_new(req, NULL, 0)))
		return ns_call_now(req, c);
	if (!(job->data = (char *)ns_call_copy(c))) {
		free(job);
		return ns_call_now(req, c);
	}
	job->run = ns_job_run;
	job_start(job);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	ns_call c = { .kind = NS_SETATTR, .ino = ino, .attr = *attr, .to_set = to_set };

	(void)fi;
	ns_run(req, &c);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent_ino, const char *name, mode_t mode)
{
	ns_call c = { .kind = NS_MKDIR, .ino = parent_ino, .name = (char *)name, .mode = mode };

	ns_run(req, &c);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent_ino, const char *name,
		     mode_t mode, dev_t rdev)
{
	ns_call c = { .kind = NS_MKNOD, .ino = parent_ino, .name = (char *)name,
		      .mode = mode, .rdev = rdev };

	ns_run(req, &c);
}

static void op_symlink(fuse_req_t req, const char *target, fuse_ino_t parent_ino,
		       const char *name)
{
	ns_call c = { .kind = NS_SYMLINK, .ino = parent_ino, .name = (char *)name,
		      .other = (char *)target };

	ns_run(req, &c);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent_ino, const char *name)
{
	ns_call c = { .kind = NS_UNLINK, .ino = parent_ino, .name = (char *)name };

	ns_run(req, &c);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent_ino, const char *name)
{
	ns_call c = { .kind = NS_RMDIR, .ino = parent_ino, .name = (char *)name };

	ns_run(req, &c);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent_ino, const char *name,
		      fuse_ino_t new_parent_ino, const char *new_name, unsigned int flags)
{
	ns_call c = { .kind = NS_RENAME, .ino = parent_ino, .name = (char *)name,
		      .new_parent = new_parent_ino, .other = (char *)new_name, .flags = flags };

	ns_run(req, &c);
}

static void op_create(fuse_req_t req, fuse_ino_t parent_ino, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	ns_call c = { .kind = NS_CREATE, .ino = parent_ino, .name = (char *)name,
		      .mode = mode, .fi = *fi };

	ns_run(req, &c);
}

static bool map_fresh(const fs_handle *h, uint64_t generation, uint64_t version)
{
	return h->map && h->map_generation == generation && h->map_version == version;
}

/* Loads the handle's file map again when a reset, merge or copy changed
 * the file under it.  Write lock held. */
static int reload_map(fs *f, fs_handle *h, uint64_t generation, uint64_t version)
{
	char path[VIEW_PATH_MAX];
	mesh_view_entry entry;
	int error;

	if (map_fresh(h, generation, version))
		return 0;
	/* An unlinked file stays readable through its open handles. */
	if (h->map && h->node->detached) {
		h->map_generation = generation;
		h->map_version = version;
		return 0;
	}
	mesh_file_map_free(h->map);
	h->map = NULL;
	handle_unpin(f, h);
	if ((error = node_path(f, h->node, path)) < 0 ||
	    (error = mesh_view_lookup(h->node->view, path, &entry)) < 0)
		return error;
	/* Pinned before it is loaded: a collection starting in between
	 * cannot miss it (nor the chunks a journaled file's content needs). */
	mesh_odb_session_begin(mesh_store_odb(f->store));
	if ((error = mesh_view_content(h->node->view, &entry)) == 0)
		error = mesh_odb_pin(mesh_store_odb(f->store), &entry.id);
	mesh_odb_session_end(mesh_store_odb(f->store));
	if (error < 0)
		return error;
	h->map_id = entry.id;
	h->map_pinned = true;
	if ((error = mesh_view_file_map(h->node->view, &entry, &h->map)) < 0) {
		handle_unpin(f, h);
		return error;
	}
	h->map_generation = generation;
	h->map_version = version;
	return 0;
}

#define REPLY_SPANS 32

/*
 * Answers a read of committed or staged content straight from the chunk
 * cache: the reply's iovecs point into the cached chunks, so the bytes
 * are copied once, by the kernel.  A read needing more pieces than
 * REPLY_SPANS (tiny chunks) is answered short, which only the last read
 * of a file may be, so then it is copied whole instead.
 */
static int reply_clean(fuse_req_t req, fs *f, fs_handle *h, size_t size, off_t off)
{
	uint64_t generation = mesh_view_generation(h->node->view);
	uint64_t version = __atomic_load_n(&h->node->content_version, __ATOMIC_ACQUIRE);
	mesh_chunk_cache *cache = mesh_store_cache(f->store);
	mesh_file_span spans[REPLY_SPANS];
	struct iovec iov[REPLY_SPANS];
	size_t count = 0, got = 0;
	bool short_read;
	int error = 0;

	/* Reads share the map; only a reload excludes them. */
	pthread_rwlock_rdlock(&h->map_lock);
	while (!map_fresh(h, generation, version)) {
		pthread_rwlock_unlock(&h->map_lock);
		pthread_rwlock_wrlock(&h->map_lock);
		error = reload_map(f, h, generation, version);
		pthread_rwlock_unlock(&h->map_lock);
		if (error < 0)
			return error;
		pthread_rwlock_rdlock(&h->map_lock);
	}
	error = mesh_file_read_spans(mesh_store_odb(f->store), cache, h->map, size,
				     (uint64_t)off, spans, REPLY_SPANS, &count, &got);
	short_read = error == 0 && got < size && (uint64_t)off + got < h->map->size;
	/* Sequential readers get the next chunks read and verified ahead. */
	if (error == 0 && (uint64_t)off == __atomic_load_n(&h->next_offset, __ATOMIC_RELAXED))
		mesh_file_prefetch(cache, h->map, (uint64_t)off + size, READ_AHEAD_BYTES);
	else if (error == 0 && size <= RANDOM_READ_BYTES)
		fs_prime_chunk(f->prime, h->node, h->map, (uint64_t)off, version, generation);
	__atomic_store_n(&h->next_offset, (uint64_t)off + got, __ATOMIC_RELAXED);
	if (short_read) {
		char *buf = malloc(size);
		mesh_file_spans_release(cache, spans, count);
		error = buf ? mesh_file_read(mesh_store_odb(f->store), cache, h->map, buf, size,
					     (uint64_t)off, &got) : mesh_error_oom();
		pthread_rwlock_unlock(&h->map_lock);
		if (error == 0)
			fuse_reply_buf(req, buf, got);
		free(buf);
		return error;
	}
	pthread_rwlock_unlock(&h->map_lock);
	if (error < 0)
		return error;
	for (size_t k = 0; k < count; k++) {
		iov[k].iov_base = (void *)spans[k].data;
		iov[k].iov_len = spans[k].len;
	}
	fuse_reply_iov(req, iov, (int)count);
	mesh_file_spans_release(cache, spans, count);
	return 0;
}

static void control_read(fuse_req_t req, fs_handle *h, size_t size, off_t off)
{
	size_t start, len = 0;
	char *copy = NULL;

	pthread_mutex_lock(&h->lock);
	/* Both a read after the write (the fd's offset is past the command)
	 * and preads from 0 see the answer from its start: the first read
	 * after a write tells which of the two the caller does. */
	if (off < h->answer_base)
		h->answer_from_zero = true;
	start = (size_t)(h->answer_from_zero ? off : off - h->answer_base);
	if (h->answer && start < h->answer_len) {
		len = size < h->answer_len - start ? size : h->answer_len - start;
		copy = malloc(len);
		if (copy)
			memcpy(copy, h->answer + start, len);
	}
	pthread_mutex_unlock(&h->lock);
	/* Once the reply is out the caller may close the descriptor, and
	 * the release that frees h may run before this thread goes on: so
	 * h (and its lock) is never touched after replying. */
	if (len && !copy)
		return (void)fuse_reply_err(req, ENOMEM);
	fuse_reply_buf(req, copy, len);
	free(copy);
}

/*
 * A read moves atime as relatime does (the kernel keeps none for FUSE
 * files).  Before the reply, so that a stat after the read sees it; the
 * kernel's cached attributes go (offset -1: attributes only, no page is
 * touched, so the running read cannot deadlock on it).  A failure to
 * keep atime fails no read.
 */
static void note_access(fuse_req_t req, fs_node *node)
{
	fs *f = fs_of(req);
	char path[VIEW_PATH_MAX];
	mesh_caller caller;
	bool changed = false;

	if (!is_branch_node(node))
		return;
	caller_of(req, &caller);
	if (node_path(f, node, path) < 0 ||
	    mesh_view_access(node->view, &caller, path, fs_now_ns(), &changed) < 0) {
		mesh_log_write(&f->log, MESH_LOG_DEBUG, "atime not kept: %s", mesh_error_message());
		mesh_error_clear();
	}
	if (changed)
		fuse_lowlevel_notify_inval_inode(f->session, node->ino, -1, 0);
}

/*
 * Replies from a copy, as control_read does: once the kernel has the
 * reply, a close may release the handle and free its answer while this
 * thread is still in writev (a readahead's reply ends the last request
 * that keeps the file open).
 */
static void product_read(fuse_req_t req, fs_handle *h, size_t size, off_t off)
{
	size_t from = (size_t)off < h->answer_len ? (size_t)off : h->answer_len;
	size_t n = h->answer_len - from < size ? h->answer_len - from : size;
	char *copy = malloc(n ? n : 1);

	if (!copy)
		return (void)fuse_reply_err(req, ENOMEM);
	memcpy(copy, h->answer + from, n);
	fuse_reply_buf(req, copy, n);
	free(copy);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	fs *f = fs_of(req);
	fs_handle *h = handle_of(fi);
	fs_dirty *dirty;
	size_t got = 0;
	char *buf = NULL;
	int error = 0;

	(void)ino;
	if (h->node->type == FS_NODE_CONTROL)
		return control_read(req, h, size, off);
	if (h->node->type == FS_NODE_PRODUCT)
		return product_read(req, h, size, off);
	if (!__atomic_exchange_n(&h->accessed, true, __ATOMIC_ACQ_REL))
		note_access(req, h->node);
	if ((dirty = fs_dirty_get(f, h->node)) == NULL) {
		if ((error = reply_clean(req, f, h, size, off)) < 0)
			reply_error(req, error);
		return;
	}
	if ((buf = malloc(size ? size : 1)) != NULL)
		error = fs_dirty_read(f, dirty, buf, size, off, &got);
	else
		error = mesh_error_oom();
	fs_dirty_put(f, dirty);
	if (error < 0)
		reply_error(req, error);
	else
		fuse_reply_buf(req, buf, got);
	free(buf);
}

/* --- keeping the kernel's caches true ------------------------------- */

#define INVAL_MAX 4096

typedef struct inval_list {
	fs_dirty *dropped[INVAL_MAX];      /* clean dirty states let go of */
	size_t dropped_count;
	fuse_ino_t parents[INVAL_MAX];
	char *names[INVAL_MAX];
	size_t entries;
	fuse_ino_t inodes[INVAL_MAX];
	size_t inode_count;
} inval_list;

static void inval_add(inval_list *l, fs_node *parent, const char *name, fs_node *node)
{
	if (parent && name && l->entries < INVAL_MAX && (l->names[l->entries] = strdup(name)))
		l->parents[l->entries++] = parent->ino;
	if (node && l->inode_count < INVAL_MAX) {
		__atomic_add_fetch(&node->content_version, 1, __ATOMIC_RELEASE);
		l->inodes[l->inode_count++] = node->ino;
	}
}

/* Collects the cached entries and inodes of one changed path. */
static void inval_path_locked(fs *f, fs_node *view_root, const char *path, inval_list *l)
{
	char buf[VIEW_PATH_MAX], *name, *slash;
	fs_node *parent = view_root, *node;

	snprintf(buf, sizeof(buf), "%s", path);
	for (name = buf; (slash = strchr(name, '/')) != NULL; name = slash + 1) {
		*slash = '\0';
		if (!(parent = fs_nodes_find_locked(&f->nodes, parent, name)))
			return;
	}
	node = fs_nodes_find_locked(&f->nodes, parent, name);
	/* A file open for writing but holding nothing unstaged must show the
	 * new content: its scratch copy of the old one goes.  Unstaged
	 * writes stay, to be staged at close as always. */
	if (node && node->dirty && fs_dirty_clean(node->dirty) && l->dropped_count < INVAL_MAX) {
		l->dropped[l->dropped_count++] = node->dirty;
		node->dirty = NULL;
	}
	inval_add(l, parent, name, node);
	inval_add(l, NULL, NULL, parent);
}

/*
 * Told by a control command what it changed in a branch: drops exactly
 * those names and inodes from the kernel's caches (no lock held while
 * the kernel is told, as it may call back into the daemon).
 */
static void fs_changed(void *ctx, const char *domain, const char *branch,
		       const mesh_change *changes, size_t count)
{
	fs *f = ctx;
	inval_list *l = calloc(1, sizeof(*l));
	fs_node *domain_node, *view_root;

	if (!l)
		return;
	pthread_mutex_lock(&f->nodes.lock);
	domain_node = fs_nodes_find_locked(&f->nodes, f->nodes.root, domain);
	view_root = domain_node ? fs_nodes_find_locked(&f->nodes, domain_node, branch) : NULL;
	if (domain_node && !changes)
		inval_add(l, domain_node, branch, view_root);
	for (size_t i = 0; view_root && changes && i < count; i++)
		inval_path_locked(f, view_root, changes[i].path, l);
	pthread_mutex_unlock(&f->nodes.lock);
	for (size_t i = 0; i < l->entries; i++) {
		fuse_lowlevel_notify_inval_entry(f->session, l->parents[i], l->names[i],
						 strlen(l->names[i]));
		free(l->names[i]);
	}
	for (size_t i = 0; i < l->inode_count; i++)
		fuse_lowlevel_notify_inval_inode(f->session, l->inodes[i], 0, 0);
	for (size_t i = 0; i < l->dropped_count; i++)
		fs_dirty_put(f, l->dropped[i]);
	free(l);
}

/*
 * A control write is one command, but a write(2) may arrive in pieces:
 * stdio (bash's echo, fwrite) cuts a long line into writes of whole
 * 4096-byte blocks, and the kernel cuts one larger than a request.  So a
 * write of whole 4096-byte blocks that does not end the line is held,
 * and the writes that go on from it are added until one ends the line
 * (or is not whole blocks): the command runs once, whole, and its errno
 * is the last write's.  The kernel's pieces are larger than
 * MESH_CONTROL_MAX_LINE, so the first is refused and the kernel sends no
 * more.  Until the line ends, the answer says it is incomplete.
 */
#define CONTROL_BLOCK 4096

static bool control_piece_goes_on(const char *buf, size_t size)
{
	return size > 0 && size % CONTROL_BLOCK == 0 && buf[size - 1] != '\n';
}

/* Adds the write to the held line (h->lock held): 0 and *line the whole
 * command to run, 1 while it goes on (the answer's message set), or an
 * error, with nothing held.  A write elsewhere than where the held part
 * ended starts a new line. */
static int control_collect(fs_handle *h, const char *buf, size_t size, off_t off,
			   char **line)
{
	size_t held = h->pending && off == h->answer_base ? h->pending_len : 0;
	char *grown = NULL;
	int error = 0;

	*line = NULL;
	if (memchr(buf, '\0', size))
		error = mesh_error_set(MESH_EINVAL, "command holds a NUL byte");
	else if (held + size > MESH_CONTROL_MAX_LINE)
		error = mesh_error_set(MESH_EINVAL,
			"command line too long: %zu bytes or more (at most %d)",
			held + size, MESH_CONTROL_MAX_LINE);
	else if (!(grown = malloc(held + size + 1)))
		error = mesh_error_oom();
	if (error == 0) {
		if (held)
			memcpy(grown, h->pending, held);
		memcpy(grown + held, buf, size);
		grown[held + size] = '\0';
	}
	free(h->pending);
	h->pending = NULL;
	h->pending_len = 0;
	if (error < 0)
		return error;
	if (control_piece_goes_on(buf, size)) {
		h->pending = grown;
		h->pending_len = held + size;
		mesh_error_set(MESH_EINVAL,
			"incomplete command: %zu bytes so far without a newline, in writes of "
			"whole %d-byte blocks; end the command with a newline",
			h->pending_len, CONTROL_BLOCK);
		return 1;
	}
	*line = grown;
	return 0;
}

static void control_write_run(fs_job *job)
{
	fuse_req_t req = job->req;
	fs_handle *h = job->handle;
	const char *buf = job->data;
	size_t size = job->size;
	off_t off = job->off;
	fs *f = fs_of(req);
	mesh_control_env env = { f->store, (mesh_control_branch_view)fs_branch_view,
				 (mesh_control_view_done)fs_view_put, fs_changed, f };
	mesh_caller caller;
	char *line = NULL, *answer = NULL;
	int collected, error;

	caller_of(req, &caller);
	mesh_error_clear();
	pthread_mutex_lock(&h->lock);
	collected = control_collect(h, buf, size, off, &line);
	pthread_mutex_unlock(&h->lock);
	if (collected != 0)
		error = mesh_control_refusal(collected < 0 ? collected : MESH_EINVAL, &answer);
	else
		error = mesh_control_run(&env, &caller, line, &answer);
	mesh_log_write(&f->log, error ? MESH_LOG_WARN : MESH_LOG_INFO,
		       "control (uid %u): %.*s -> %s", (unsigned)caller.uid,
		       line ? (int)(strcspn(line, "\n") < 200 ? strcspn(line, "\n") : 200) : 9,
		       line ? line : "(not run)", error ? mesh_error_message() : "ok");
	free(line);
	pthread_mutex_lock(&h->lock);
	free(h->answer);
	h->answer = answer;
	h->answer_len = answer ? strlen(answer) : 0;
	h->answer_base = off + (off_t)size;
	h->answer_from_zero = false;
	pthread_mutex_unlock(&h->lock);
	if (error < 0 && collected != 1)
		fuse_reply_err(req, -error);
	else
		fuse_reply_write(req, size);
}

/* A command runs on a job's thread: it may wait on a hook, or on a
 * branch whose hooks run. */
static void control_write(fuse_req_t req, fs_handle *h, const char *buf,
			  size_t size, off_t off)
{
	fs_job *job = job_new(req, buf, size);

	if (!job)
		return (void)fuse_reply_err(req, ENOMEM);
	job->handle = h;
	job->off = off;
	job->run = control_write_run;
	job_start(job);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		     off_t off, struct fuse_file_info *fi)
{
	fs *f = fs_of(req);
	fs_handle *h = handle_of(fi);
	fs_dirty *dirty;
	size_t written = 0;
	int error;

	(void)ino;
	if (h->node->type == FS_NODE_CONTROL)
		return control_write(req, h, buf, size, off);
	if ((error = fs_dirty_open(f, h->node, false, &dirty)) < 0)
		return reply_error(req, error);
	error = fs_dirty_write(f, dirty, buf, size, off, &written);
	fs_dirty_put(f, dirty);
	if (error < 0)
		return reply_error(req, error);
	fuse_reply_write(req, written);
}

/* The first close of a handle that wrote or created its file is its
 * record (a flush runs as the process that closed; a release may not),
 * and so is every close whose staging failed. */
static void audit_close(fuse_req_t req, fs_handle *h, int error)
{
	bool first;

	if (h->node->type != FS_NODE_ENTRY || !(h->writes || h->created))
		return;
	first = !__atomic_exchange_n(&h->write_audited, true, __ATOMIC_RELAXED);
	if (first || error < 0)
		audit_op(req, h->node, NULL, h->created && first ? "create" : "write", error);
}

/* Stages what a writer's close (or any fsync) leaves, and answers. */
static void stage_and_reply(fuse_req_t req, fs_handle *h, bool fsync)
{
	mesh_caller caller;
	int error;

	staging_caller(req, h, &caller);
	error = fsync ? fs_dirty_fsync(fs_of(req), h->node, &caller)
		      : fs_dirty_stage(fs_of(req), h->node, &caller, false);
	if (!fsync)
		audit_close(req, h, error);
	if (error < 0)
		return reply_error(req, error);
	fuse_reply_err(req, 0);
}

static void stage_job_run(fs_job *job)
{
	stage_and_reply(job->req, job->handle, job->size != 0);
}

/* Staging waits for the branch's lock, which a commit holds while its
 * pre-hooks run: then the close or fsync is answered from a thread of
 * its own, and the request thread goes on serving.  (A hint: a branch
 * taken just after it is asked waits the commit out here.) */
static void stage_maybe_later(fuse_req_t req, fs_handle *h, bool fsync)
{
	mesh_view *view = h->node->view;
	fs_job *job;

	if (!mesh_store_branch_held(fs_of(req)->store, mesh_view_domain(view),
				    mesh_view_branch(view)) ||
	    !(job = job_new(req, NULL, 0)))
		return stage_and_reply(req, h, fsync);
	job->handle = h;
	job->size = fsync;
	job->run = stage_job_run;
	job_start(job);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_handle *h = handle_of(fi);

	(void)ino;
	/* A reader's close stages nothing: what a writer still has open is
	 * not a state any close or fsync produced. */
	if (h->node->type != FS_NODE_ENTRY || !h->writes) {
		audit_close(req, h, 0);
		return (void)fuse_reply_err(req, 0);
	}
	/* close(2) stages what was written, so a commit includes it. */
	stage_maybe_later(req, h, false);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	fs_handle *h = handle_of(fi);

	(void)ino;
	(void)datasync;
	if (h->node->type != FS_NODE_ENTRY)
		return (void)fuse_reply_err(req, 0);
	stage_maybe_later(req, h, true);
}

/* When a node's last handle goes (node table's lock held): a clean
 * dirty state is taken off it, as staged content is read from the store
 * again; a scratch file whose staging failed stays, so nothing written is
 * lost.  Deciding under the lock that counts the opens means two releases
 * racing cannot both think the other one is last. */
static void take_clean_dirty(void *ctx, fs_node *node)
{
	fs_dirty **dropped = ctx;

	if (node->dirty && fs_dirty_clean(node->dirty)) {
		*dropped = node->dirty;
		node->dirty = NULL;
	}
}

static void release_now(fuse_req_t req, fs_handle *h)
{
	fs *f = fs_of(req);
	fs_node *node = h->node;
	fs_dirty *dropped = NULL;
	mesh_caller caller;

	staging_caller(req, h, &caller);
	/* close(2) staged already (flush); this catches writes that came
	 * after it (mmap write-back).  Another open, even one that truncated
	 * the file and has not written yet, may share the content by now:
	 * only the last handle stages, or a commit could take that middle. */
	if (node->type == FS_NODE_ENTRY)
		fs_dirty_stage_if_last(f, node, &caller);
	h->node = NULL;
	handle_free(f, h);
	fs_nodes_close_then(&f->nodes, node, take_clean_dirty, &dropped);
	fs_dirty_put(f, dropped);
	fuse_reply_err(req, 0);
}

static void release_job_run(fs_job *job)
{
	release_now(job->req, job->handle);
}

/* The last release stages what came after the close (mmap write-back),
 * waiting for the branch's lock: from a job's thread while a commit
 * holds it for its pre-hooks, as stage_maybe_later does. */
static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_handle *h = handle_of(fi);
	fs_job *job;

	if (h->node->type != FS_NODE_ENTRY || !branch_busy(req, ino) ||
	    !(job = job_new(req, NULL, 0)))
		return release_now(req, h);
	job->handle = h;
	job->run = release_job_run;
	job_start(job);
}

/*
 * A whole-file copy inside the mount stages the destination as a
 * reference to the source's chunks: no byte is read or written, whatever
 * the size.  Anything else is left to the kernel's splice fallback.
 */
static int copy_whole_file(fs *f, fs_node *src, fs_node *dst, size_t len,
			   const mesh_caller *caller, uint64_t *copied)
{
	char src_path[VIEW_PATH_MAX], dst_path[VIEW_PATH_MAX];
	mesh_view_entry entry, dst_entry;
	fs_dirty *dirty;
	uint32_t mode;
	int error;

	if (src->type != FS_NODE_ENTRY || dst->type != FS_NODE_ENTRY ||
	    !mesh_view_is_branch(dst->view))
		return MESH_EPERM;
	if ((dirty = fs_dirty_get(f, src)) != NULL) {
		fs_dirty_put(f, dirty);
		return MESH_EPERM;      /* the source's bytes are not stored yet */
	}
	if ((error = node_path(f, src, src_path)) < 0 ||
	    (error = node_path(f, dst, dst_path)) < 0 ||
	    (error = mesh_view_lookup(src->view, src_path, &entry)) < 0 ||
	    (error = mesh_view_lookup(dst->view, dst_path, &dst_entry)) < 0)
		return error;
	if (entry.kind != MESH_KIND_FILE || len < entry.size || entry.journal_id)
		return MESH_EPERM;
	mode = dst_entry.mode;
	if ((dirty = fs_dirty_get(f, dst)) != NULL) {
		bool empty = fs_dirty_size(dirty) == 0;
		mode = dirty->mode;
		fs_dirty_put(f, dirty);
		if (!empty)
			return MESH_EPERM;
	} else if (dst_entry.size != 0) {
		return MESH_EPERM;
	}
	/* The map is referred to without being read: a running gc must
	 * know, and the two steps are one session (odb.h). */
	mesh_odb_session_begin(mesh_store_odb(f->store));
	if ((error = mesh_odb_touch(mesh_store_odb(f->store), &entry.id)) == 0)
		error = mesh_view_stage_content(dst->view, caller, dst_path, MESH_KIND_FILE,
						mode, entry.size, fs_now_ns(), &entry.id, false);
	mesh_odb_session_end(mesh_store_odb(f->store));
	if (error < 0)
		return error;
	fs_dirty_detach(f, dst);
	__atomic_add_fetch(&dst->content_version, 1, __ATOMIC_RELEASE);
	*copied = entry.size;
	return 0;
}

static void op_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			       struct fuse_file_info *fi_in, fuse_ino_t ino_out,
			       off_t off_out, struct fuse_file_info *fi_out,
			       size_t len, int flags)
{
	fs_handle *in = handle_of(fi_in), *out = handle_of(fi_out);
	mesh_caller caller;
	uint64_t copied = 0;
	int error = MESH_EPERM;

	(void)ino_in;
	(void)ino_out;
	caller_of(req, &caller);
	if (flags == 0 && off_in == 0 && off_out == 0)
		error = copy_whole_file(fs_of(req), in->node, out->node, len, &caller, &copied);
	if (error == MESH_EPERM)
		return (void)fuse_reply_err(req, EOPNOTSUPP);
	if (error < 0)
		return reply_error(req, error);
	fuse_reply_write(req, (size_t)copied);
}

/* --- directories ----------------------------------------------------- */

static int dir_add(fs_dir_handle *d, size_t *cap, const char *name, mesh_entry_kind kind)
{
	if (mesh_array_grow(&d->entries, cap, d->count, sizeof(*d->entries)) < 0)
		return MESH_ENOMEM;
	memset(&d->entries[d->count], 0, sizeof(d->entries[0]));
	if (!(d->entries[d->count].name = strdup(name)))
		return mesh_error_oom();
	d->entries[d->count++].entry.kind = kind;
	return 0;
}

static int list_root(fs *f, const mesh_caller *caller, fs_dir_handle *d)
{
	mesh_domain **domains;
	size_t count, cap = 0;
	int error = mesh_domain_list(f->store, &domains, &count);

	if (error < 0)
		return error;
	error = dir_add(d, &cap, ".control", MESH_KIND_FILE);
	for (size_t i = 0; i < count && error == 0; i++)
		if (mesh_access_sees(f->store, caller, domains[i]->name))
			error = dir_add(d, &cap, domains[i]->name, MESH_KIND_DIR);
	mesh_domain_list_free(domains, count);
	return error;
}

typedef struct branch_list {
	fs_dir_handle *d;
	size_t cap;
} branch_list;

static int add_branch(void *ctx, const char *name, const mesh_oid *oid)
{
	branch_list *bl = ctx;

	(void)oid;
	return dir_add(bl->d, &bl->cap, name + strlen("heads/"), MESH_KIND_DIR);
}

static int list_domain(fs *f, const mesh_caller *caller, fs_node *node, fs_dir_handle *d)
{
	branch_list bl = { d, 0 };
	char *card = NULL;
	size_t len;
	int error = mesh_ref_list(mesh_store_refs(f->store), node->name, "heads/", add_branch, &bl);

	if (error < 0)
		return error;
	/* Listed only where a lookup would find it. */
	if (mesh_product_file(f->store, caller, node->name, &card, &len) == 0)
		error = dir_add(d, &bl.cap, ".product.json", MESH_KIND_FILE);
	else
		mesh_error_clear();
	free(card);
	return error;
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs *f = fs_of(req);
	fs_node *node = node_of(req, ino);
	char path[VIEW_PATH_MAX];
	mesh_caller caller;
	fs_dir_handle *d;
	int error;

	if (!node)
		return (void)fuse_reply_err(req, ENOENT);
	if (!(d = calloc(1, sizeof(*d))))
		return (void)fuse_reply_err(req, ENOMEM);
	caller_of(req, &caller);
	switch (node->type) {
	case FS_NODE_ROOT:
		error = list_root(f, &caller, d);
		break;
	case FS_NODE_DOMAIN:
		if ((error = mesh_access_check(f->store, &caller, node->name, NULL,
					       MESH_ACCESS_SEE, NULL)) == 0)
			error = list_domain(f, &caller, node, d);
		break;
	case FS_NODE_VIEW:
	case FS_NODE_ENTRY:
		if ((error = node_path(f, node, path)) == 0 &&
		    (error = node_may(f, node, &caller, MESH_ACCESS_READ)) == 0)
			error = mesh_view_list(node->view, path, &d->entries, &d->count);
		break;
	default:
		error = MESH_ENOTDIR;
	}
	if (error < 0) {
		mesh_view_dirents_free(d->entries, d->count);
		free(d);
		return reply_error(req, error);
	}
	d->node = node;
	fs_nodes_open(&f->nodes, node);
	fi->fh = (uintptr_t)d;
	/* A commit's listings never change: the kernel keeps them across
	 * opens, so a warm `find` sends no readdir at all. */
	if (is_view_node(node) && !mesh_view_is_branch(node->view)) {
		fi->cache_readdir = 1;
		fi->keep_cache = 1;
	}
	fuse_reply_open(req, fi);
}

static mode_t dirent_type(mesh_entry_kind kind)
{
	return file_type_of(kind);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	fs_dir_handle *d = (fs_dir_handle *)(uintptr_t)fi->fh;
	char *buf = malloc(size);
	size_t used = 0;
	struct stat st;

	if (!buf)
		return (void)fuse_reply_err(req, ENOMEM);
	if (off == 0 && d->node)
		note_access(req, d->node);      /* getdents reads the directory */
	memset(&st, 0, sizeof(st));
	/* Offsets 0 and 1 are "." and ".."; entry i is at i + 2. */
	for (off_t i = off; ; i++) {
		const char *name;
		size_t n;
		if (i == 0 || i == 1) {
			name = i == 0 ? "." : "..";
			st.st_ino = i == 0 ? ino : FUSE_ROOT_ID;
			st.st_mode = S_IFDIR;
		} else if ((size_t)(i - 2) < d->count) {
			name = d->entries[i - 2].name;
			st.st_ino = (ino_t)-1;
			st.st_mode = dirent_type(d->entries[i - 2].entry.kind);
		} else {
			break;
		}
		n = fuse_add_direntry(req, buf + used, size - used, name, &st, i + 1);
		if (n > size - used)
			break;
		used += n;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

/* The entry of one listed name, looked up as lookup() would (one more
 * kernel reference); view entries come with their attributes. */
static int plus_entry(fs *f, const mesh_caller *caller, fs_dir_handle *d,
		      const mesh_view_dirent *dirent, struct fuse_entry_param *e, fs_node **out)
{
	fs_node *dir = d->node, *node;
	int error;

	memset(e, 0, sizeof(*e));
	if (!is_view_node(dir)) {
		error = dir->type == FS_NODE_ROOT ? lookup_in_root(f, caller, dirent->name, &node)
						  : lookup_in_domain(f, caller, dir, dirent->name, &node);
		if (error == 0 && (error = node_attr(f, node, &e->attr)) < 0)
			fs_nodes_forget(&f->nodes, node, 1);
	} else {
		node = fs_nodes_lookup(&f->nodes, dir, dirent->name, FS_NODE_ENTRY, dir->view);
		error = node ? 0 : mesh_error_oom();
		if (error == 0) {
			char path[VIEW_PATH_MAX];
			stat_entry(f, node, &dirent->entry, &e->attr);
			if (dirent->entry.kind == MESH_KIND_DIR &&
			    (error = node_path(f, node, path)) == 0)
				error = stat_nlink(node, path, &dirent->entry, &e->attr);
			if (error == 0 && (error = fs_dirty_attr(f, node, &e->attr)) == 0)
				fs_nodes_set_attr(&f->nodes, node, &e->attr);
			else
				fs_nodes_forget(&f->nodes, node, 1);
		}
	}
	if (error < 0)
		return error;
	e->ino = node->ino;
	e->attr_timeout = timeout_of(node);
	e->entry_timeout = entry_timeout_of(node);
	domain_entry_timeouts(f, node, e);
	*out = node;
	return 0;
}

/* readdir with the attributes: `find`, `ls -l` and `du` need no lookup
 * per name. */
static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	fs *f = fs_of(req);
	fs_dir_handle *d = (fs_dir_handle *)(uintptr_t)fi->fh;
	char *buf = malloc(size);
	size_t used = 0;
	mesh_caller caller;
	int error = 0;

	if (!buf)
		return (void)fuse_reply_err(req, ENOMEM);
	caller_of(req, &caller);
	if (off == 0 && d->node)
		note_access(req, d->node);
	for (off_t i = off; error == 0; i++) {
		struct fuse_entry_param e;
		fs_node *node = NULL;
		const char *name;
		size_t n;

		if (i == 0 || i == 1) {
			/* "." and ".." carry no entry: the kernel skips their lookup. */
			memset(&e, 0, sizeof(e));
			e.attr.st_ino = i == 0 ? ino : FUSE_ROOT_ID;
			e.attr.st_mode = S_IFDIR;
			name = i == 0 ? "." : "..";
		} else if ((size_t)(i - 2) < d->count) {
			name = d->entries[i - 2].name;
			if ((error = plus_entry(f, &caller, d, &d->entries[i - 2], &e, &node)) < 0)
				break;
		} else {
			break;
		}
		n = fuse_add_direntry_plus(req, buf + used, size - used, name, &e, i + 1);
		if (n > size - used) {
			if (node)
				fs_nodes_forget(&f->nodes, node, 1);
			break;
		}
		used += n;
	}
	if (error < 0 && used == 0)
		reply_error(req, error);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_dir_handle *d = (fs_dir_handle *)(uintptr_t)fi->fh;

	(void)ino;
	fs_nodes_close(&fs_of(req)->nodes, d->node);
	mesh_view_dirents_free(d->entries, d->count);
	free(d);
	fuse_reply_err(req, 0);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	(void)ino; (void)datasync; (void)fi;
	fuse_reply_err(req, 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs st;

	(void)ino;
	if (statvfs(mesh_store_path(fs_of(req)->store), &st) < 0)
		return (void)fuse_reply_err(req, errno);
	st.f_namemax = NAME_MAX_LEN;
	fuse_reply_statfs(req, &st);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* O_TRUNC arrives with open, so it is one copy-on-write step. */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	conn->max_write = 1u << 20;
	conn->max_readahead = 1u << 20;
}

const struct fuse_lowlevel_ops meshfs_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.statfs = op_statfs,
	.create = op_create,
	.copy_file_range = op_copy_file_range,
};
