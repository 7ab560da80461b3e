/*
 * ops.c - the low-level FUSE handlers: each maps an inode operation onto
 * core/'s view, control and store calls, and answers with one reply.
 */
#include "fs.h"
#include "control.h"
#include "domain.h"
#include "error.h"
#include "history.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define VIEW_PATH_MAX 4096
#define BRANCH_TIMEOUT 1.0
#define IMMUTABLE_TIMEOUT 86400.0
#define NAME_MAX_LEN 255

/* Content being written: a scratch file under STORE/tmp that holds the
 * whole file until close or fsync stages it. */
typedef struct fs_dirty {
	int fd;
	bool changed;              /* written since last staged */
	mesh_entry_kind kind;
	uint32_t mode;
	pthread_mutex_t lock;      /* one stager at a time */
} fs_dirty;

typedef struct fs_handle {
	fs_node *node;
	mesh_file_map *map;        /* committed or staged content */
	pthread_mutex_t lock;
	/* control file */
	char *answer;
	size_t answer_len;
	off_t answer_base;         /* file offset where the answer starts */
	bool answer_from_zero;     /* reads since the write began at 0 */
} fs_handle;

typedef struct fs_dir_handle {
	mesh_view_dirent *entries;
	size_t count;
} fs_dir_handle;

static fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void caller_of(fuse_req_t req, mesh_caller *out)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	out->uid = ctx->uid;
	out->gid = ctx->gid;
	out->pid = ctx->pid;
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

/* --- attributes ------------------------------------------------------ */

static void stat_times(struct stat *st, int64_t ns)
{
	st->st_mtim.tv_sec = ns / 1000000000;
	st->st_mtim.tv_nsec = ns % 1000000000;
	st->st_atim = st->st_ctim = st->st_mtim;
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
	uint32_t mode = e->mode & 07777;

	if (!mesh_view_is_branch(node->view))
		mode &= ~0222u;
	if (e->kind == MESH_KIND_DIR) {
		stat_dir(f, node->ino, mode, e->mtime_ns, st);
		return;
	}
	memset(st, 0, sizeof(*st));
	st->st_ino = node->ino;
	st->st_mode = (e->kind == MESH_KIND_SYMLINK ? S_IFLNK : S_IFREG) | mode;
	st->st_nlink = 1;
	st->st_uid = f->uid;
	st->st_gid = f->gid;
	st->st_size = (off_t)e->size;
	st->st_blocks = (blkcnt_t)((e->size + 511) / 512);
	st->st_blksize = 4096;
	stat_times(st, e->mtime_ns);
}

/* A file being written shows its scratch file's size and time. */
static int dirty_attr(fs_node *node, struct stat *st)
{
	struct stat tmp;
	fs_dirty *dirty = node->dirty;

	if (!dirty)
		return 0;
	if (fstat(dirty->fd, &tmp) < 0)
		return -errno;
	st->st_size = tmp.st_size;
	st->st_blocks = tmp.st_blocks;
	st->st_mtim = tmp.st_mtim;
	st->st_ctim = tmp.st_mtim;
	st->st_mode = (st->st_mode & S_IFMT) | dirty->mode;
	return 0;
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

static int view_root_attr(fs *f, fs_node *node, struct stat *st)
{
	mesh_view_entry root;
	int error = mesh_view_lookup(node->view, "", &root);

	if (error == 0)
		stat_entry(f, node, &root, st);
	return error;
}

static int node_attr(fs *f, fs_node *node, struct stat *st)
{
	char path[VIEW_PATH_MAX];
	mesh_view_entry entry;
	int error;

	switch (node->type) {
	case FS_NODE_ROOT:
	case FS_NODE_DOMAIN:
		stat_dir(f, node->ino, 0755, f->started_ns, st);
		return 0;
	case FS_NODE_CONTROL:
		memset(st, 0, sizeof(*st));
		st->st_ino = node->ino;
		st->st_mode = S_IFREG | 0666;
		st->st_nlink = 1;
		st->st_uid = f->uid;
		st->st_gid = f->gid;
		return 0;
	case FS_NODE_VIEW:
		return view_root_attr(f, node, st);
	case FS_NODE_ENTRY:
		break;
	}
	if ((error = node_path(f, node, path)) < 0 ||
	    (error = mesh_view_lookup(node->view, path, &entry)) < 0)
		return error;
	stat_entry(f, node, &entry, st);
	return dirty_attr(node, st);
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
	e.attr_timeout = e.entry_timeout = timeout_of(node);
	fuse_reply_entry(req, &e);
}

/* --- lookup ---------------------------------------------------------- */

static int lookup_in_root(fs *f, const char *name, fs_node **out)
{
	mesh_domain *domain;
	int error;

	if (strcmp(name, ".control") == 0) {
		*out = fs_nodes_lookup(&f->nodes, f->nodes.root, name, FS_NODE_CONTROL, NULL);
		return *out ? 0 : mesh_error_oom();
	}
	if ((error = mesh_domain_get(f->store, name, &domain)) < 0)
		return error;
	mesh_domain_free(domain);
	*out = fs_nodes_lookup(&f->nodes, f->nodes.root, name, FS_NODE_DOMAIN, NULL);
	return *out ? 0 : mesh_error_oom();
}

static int lookup_in_domain(fs *f, fs_node *domain, const char *name, fs_node **out)
{
	mesh_view *view;
	mesh_rev rev;
	int error;

	if ((error = mesh_revparse(f->store, domain->name, name, &rev)) < 0)
		return error;
	if (rev.is_branch)
		error = fs_branch_view(f, domain->name, rev.branch, &view);
	else
		error = fs_commit_view(f, domain->name, &rev.commit, &view);
	if (error < 0)
		return error;
	*out = fs_nodes_lookup(&f->nodes, domain, name, FS_NODE_VIEW, view);
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
	int error;

	if (!parent)
		return (void)fuse_reply_err(req, ENOENT);
	if (strlen(name) > NAME_MAX_LEN)
		return (void)fuse_reply_err(req, ENAMETOOLONG);
	switch (parent->type) {
	case FS_NODE_ROOT:
		error = lookup_in_root(f, name, &node);
		break;
	case FS_NODE_DOMAIN:
		error = lookup_in_domain(f, parent, name, &node);
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
	if ((error = node_attr(fs_of(req), node, &st)) < 0)
		return reply_error(req, error);
	fuse_reply_attr(req, &st, timeout_of(node));
}

/* --- content being written ------------------------------------------ */

static int dirty_new(fs *f, mesh_entry_kind kind, uint32_t mode, fs_dirty **out)
{
	fs_dirty *dirty = calloc(1, sizeof(*dirty));

	if (!dirty)
		return mesh_error_oom();
	dirty->fd = open(mesh_store_tmp_dir(f->store), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (dirty->fd < 0) {
		free(dirty);
		return mesh_error_os("cannot create a scratch file in", mesh_store_tmp_dir(f->store));
	}
	pthread_mutex_init(&dirty->lock, NULL);
	dirty->kind = kind;
	dirty->mode = mode & 07777;
	*out = dirty;
	return 0;
}

static void dirty_free(fs_dirty *dirty)
{
	if (!dirty)
		return;
	close(dirty->fd);
	pthread_mutex_destroy(&dirty->lock);
	free(dirty);
}

/* Copies the file's current content into a new scratch file (copy on
 * write), keeping its mtime so an open that writes nothing changes
 * nothing. */
static int dirty_from_entry(fs *f, fs_node *node, const mesh_view_entry *entry,
			    bool truncate, fs_dirty **out)
{
	mesh_file_map *map = NULL;
	struct timespec times[2];
	int error;

	if ((error = dirty_new(f, entry->kind, entry->mode, out)) < 0)
		return error;
	if (!truncate) {
		if ((error = mesh_view_file_map(node->view, entry, &map)) == 0)
			error = mesh_file_materialize(mesh_store_odb(f->store),
						      mesh_store_cache(f->store), map, (*out)->fd);
		mesh_file_map_free(map);
	}
	if (error < 0) {
		dirty_free(*out);
		*out = NULL;
		return error;
	}
	times[0].tv_sec = times[1].tv_sec = entry->mtime_ns / 1000000000;
	times[0].tv_nsec = times[1].tv_nsec = entry->mtime_ns % 1000000000;
	futimens((*out)->fd, times);
	(*out)->changed = truncate && entry->size > 0;
	return 0;
}

/* The node's scratch file, made from its content when it has none. */
static int node_dirty(fs *f, fs_node *node, bool truncate, fs_dirty **out)
{
	char path[VIEW_PATH_MAX];
	mesh_view_entry entry;
	fs_dirty *dirty;
	int error;

	pthread_mutex_lock(&f->nodes.lock);
	dirty = node->dirty;
	pthread_mutex_unlock(&f->nodes.lock);
	if (dirty) {
		if (truncate && ftruncate(dirty->fd, 0) == 0)
			dirty->changed = true;
		*out = dirty;
		return 0;
	}
	if ((error = node_path(f, node, path)) < 0 ||
	    (error = mesh_view_lookup(node->view, path, &entry)) < 0)
		return error;
	if (entry.kind != MESH_KIND_FILE)
		return mesh_error_set(MESH_EISDIR, "%s is not a regular file", path);
	if ((error = dirty_from_entry(f, node, &entry, truncate, &dirty)) < 0)
		return error;
	pthread_mutex_lock(&f->nodes.lock);
	if (node->dirty) {             /* another opener won the race */
		dirty_free(dirty);
		dirty = node->dirty;
	} else {
		node->dirty = dirty;
	}
	pthread_mutex_unlock(&f->nodes.lock);
	*out = dirty;
	return 0;
}

/*
 * Stores the scratch file's content and stages it at the node's current
 * path.  Hashing and compressing run here, on the calling request's
 * thread, with no lock that other requests wait on.
 */
static int stage_dirty(fs *f, fs_node *node, const mesh_caller *caller, bool durable)
{
	fs_dirty *dirty = node->dirty;
	char path[VIEW_PATH_MAX];
	mesh_oid map;
	uint64_t size;
	struct stat st;
	int error = 0;

	if (!dirty)
		return 0;
	pthread_mutex_lock(&dirty->lock);
	if (!dirty->changed)
		goto done;
	if (!fs_nodes_path(&f->nodes, node, path, sizeof(path))) {
		dirty->changed = false;    /* unlinked: nothing to keep */
		goto done;
	}
	dirty->changed = false;
	if ((error = mesh_file_write_fd(mesh_store_odb(f->store), NULL, dirty->fd,
					&map, &size)) < 0 ||
	    (fstat(dirty->fd, &st) < 0 && (error = -errno) < 0) ||
	    (durable && (error = mesh_odb_sync(mesh_store_odb(f->store))) < 0) ||
	    (error = mesh_view_stage_content(node->view, caller, path, dirty->kind,
					     dirty->mode, size,
					     (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
					     &map, durable)) < 0)
		dirty->changed = true;     /* keep it for the next close */
done:
	pthread_mutex_unlock(&dirty->lock);
	return error;
}

/* --- setattr --------------------------------------------------------- */

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int truncate_node(fs *f, fs_node *node, off_t size, const mesh_caller *caller)
{
	fs_dirty *dirty;
	bool temporary;
	int error;

	if (size < 0)
		return mesh_error_set(MESH_EINVAL, "negative size");
	pthread_mutex_lock(&f->nodes.lock);
	temporary = node->dirty == NULL;
	pthread_mutex_unlock(&f->nodes.lock);
	if ((error = node_dirty(f, node, false, &dirty)) < 0)
		return error;
	if (ftruncate(dirty->fd, size) < 0)
		return mesh_error_os("cannot truncate scratch file for", node->name);
	dirty->changed = true;
	if (!temporary)
		return 0;
	/* truncate(2) on a file nobody has open: stage it now. */
	error = stage_dirty(f, node, caller, false);
	pthread_mutex_lock(&f->nodes.lock);
	if (node->opens == 0 && node->dirty == dirty) {
		node->dirty = NULL;
		pthread_mutex_unlock(&f->nodes.lock);
		dirty_free(dirty);
	} else {
		pthread_mutex_unlock(&f->nodes.lock);
	}
	return error;
}

static int setattr_meta(fs *f, fs_node *node, const struct stat *attr, int to_set,
			const mesh_caller *caller)
{
	char path[VIEW_PATH_MAX];
	uint32_t mode = attr->st_mode & 07777;
	int64_t mtime;
	fs_dirty *dirty = node->dirty;
	int error;

	if (!(to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)))
		return 0;
	mtime = (to_set & FUSE_SET_ATTR_MTIME_NOW) ? now_ns() :
		(int64_t)attr->st_mtim.tv_sec * 1000000000 + attr->st_mtim.tv_nsec;
	if ((error = node_path(f, node, path)) < 0)
		return error;
	if (dirty) {
		struct timespec times[2] = { { 0, UTIME_OMIT }, { mtime / 1000000000, mtime % 1000000000 } };
		if (to_set & FUSE_SET_ATTR_MODE)
			dirty->mode = mode;
		if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW))
			futimens(dirty->fd, times);
	}
	return mesh_view_setattr(node->view, caller, path,
				 (to_set & FUSE_SET_ATTR_MODE) ? &mode : NULL,
				 (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)) ? &mtime : NULL);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
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
	if (node->type == FS_NODE_CONTROL)
		goto reply;
	if (node->type != FS_NODE_ENTRY)
		return (void)fuse_reply_err(req, is_view_node(node) && !is_branch_node(node) ? EROFS : EPERM);
	if (!mesh_view_is_branch(node->view))
		return (void)fuse_reply_err(req, EROFS);
	/* Ownership is not versioned: every file shows the mount's owner,
	 * and chown is accepted so that cp -a and tar do not fail. */
	if (to_set & FUSE_SET_ATTR_SIZE)
		error = truncate_node(f, node, attr->st_size, &caller);
	if (error == 0)
		error = setattr_meta(f, node, attr, to_set, &caller);
	if (error < 0)
		return reply_error(req, error);
reply:
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

static void op_mkdir(fuse_req_t req, fuse_ino_t parent_ino, const char *name, mode_t mode)
{
	fs *f = fs_of(req);
	char path[VIEW_PATH_MAX];
	fs_node *parent;
	mesh_caller caller;
	int error;

	caller_of(req, &caller);
	if ((error = writable_parent(req, parent_ino, &parent)) < 0 ||
	    (error = child_path(f, parent, name, path)) < 0 ||
	    (error = mesh_view_mkdir(parent->view, &caller, path, mode)) < 0)
		return reply_error(req, error);
	reply_new_entry(req, parent, name);
}

static int stage_new_file(fs *f, fs_node *parent, const char *name, mode_t mode,
			  const mesh_caller *caller, char *path)
{
	mesh_view_entry existing;
	int error;

	if ((error = child_path(f, parent, name, path)) < 0)
		return error;
	if (mesh_view_lookup(parent->view, path, &existing) == 0)
		return mesh_error_set(MESH_EEXIST, "%s already exists", path);
	mesh_error_clear();
	return mesh_view_stage_content(parent->view, caller, path, MESH_KIND_FILE,
				       mode, 0, now_ns(), &f->empty_file, false);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent_ino, const char *name,
		     mode_t mode, dev_t rdev)
{
	fs *f = fs_of(req);
	char path[VIEW_PATH_MAX];
	fs_node *parent;
	mesh_caller caller;
	int error;

	(void)rdev;
	caller_of(req, &caller);
	if (!S_ISREG(mode))
		return (void)fuse_reply_err(req, EPERM);
	if ((error = writable_parent(req, parent_ino, &parent)) < 0 ||
	    (error = stage_new_file(f, parent, name, mode, &caller, path)) < 0)
		return reply_error(req, error);
	reply_new_entry(req, parent, name);
}

static void op_symlink(fuse_req_t req, const char *target, fuse_ino_t parent_ino,
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
	    (error = child_path(f, parent, name, path)) < 0)
		return reply_error(req, error);
	if (mesh_view_lookup(parent->view, path, &existing) == 0)
		return (void)fuse_reply_err(req, EEXIST);
	if ((error = mesh_file_write_buf(mesh_store_odb(f->store), NULL, target,
					 strlen(target), &map)) < 0 ||
	    (error = mesh_view_stage_content(parent->view, &caller, path, MESH_KIND_SYMLINK,
					     0777, strlen(target), now_ns(), &map, false)) < 0)
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
	size_t len = 0;
	int error;

	if (!node || node->type != FS_NODE_ENTRY)
		return (void)fuse_reply_err(req, EINVAL);
	if ((error = node_path(f, node, path)) == 0 &&
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

static void op_unlink(fuse_req_t req, fuse_ino_t parent_ino, const char *name)
{
	fs *f = fs_of(req);
	char path[VIEW_PATH_MAX];
	fs_node *parent;
	mesh_caller caller;
	int error;

	caller_of(req, &caller);
	if ((error = writable_parent(req, parent_ino, &parent)) < 0 ||
	    (error = child_path(f, parent, name, path)) < 0 ||
	    (error = mesh_view_unlink(parent->view, &caller, path)) < 0)
		return reply_error(req, error);
	fs_nodes_detach(&f->nodes, parent, name);
	fuse_reply_err(req, 0);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent_ino, const char *name)
{
	fs *f = fs_of(req);
	char path[VIEW_PATH_MAX];
	fs_node *parent;
	mesh_caller caller;
	int error;

	caller_of(req, &caller);
	if ((error = writable_parent(req, parent_ino, &parent)) < 0 ||
	    (error = child_path(f, parent, name, path)) < 0 ||
	    (error = mesh_view_rmdir(parent->view, &caller, path)) < 0)
		return reply_error(req, error);
	fs_nodes_detach(&f->nodes, parent, name);
	fuse_reply_err(req, 0);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent_ino, const char *name,
		      fuse_ino_t new_parent_ino, const char *new_name, unsigned int flags)
{
	fs *f = fs_of(req);
	char from[VIEW_PATH_MAX], to[VIEW_PATH_MAX];
	fs_node *parent, *new_parent;
	mesh_caller caller;
	int error;

	caller_of(req, &caller);
	if (flags & ~RENAME_NOREPLACE)
		return (void)fuse_reply_err(req, EINVAL);
	if ((error = writable_parent(req, parent_ino, &parent)) < 0 ||
	    (error = writable_parent(req, new_parent_ino, &new_parent)) < 0)
		return reply_error(req, error);
	if (parent->view != new_parent->view)
		return (void)fuse_reply_err(req, EXDEV);
	if ((error = child_path(f, parent, name, from)) < 0 ||
	    (error = child_path(f, new_parent, new_name, to)) < 0 ||
	    (error = mesh_view_rename(parent->view, &caller, from, to,
				      flags & RENAME_NOREPLACE)) < 0)
		return reply_error(req, error);
	fs_nodes_rename(&f->nodes, parent, name, new_parent, new_name);
	fuse_reply_err(req, 0);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent, const char *name)
{
	(void)ino; (void)parent; (void)name;
	/* A versioned file has one path; hard links would need two. */
	fuse_reply_err(req, EPERM);
}

/* --- files ----------------------------------------------------------- */

static fs_handle *handle_new(fs *f, fs_node *node)
{
	fs_handle *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	pthread_mutex_init(&h->lock, NULL);
	h->node = node;
	fs_nodes_open(&f->nodes, node);
	return h;
}

static fs_handle *handle_of(struct fuse_file_info *fi)
{
	return (fs_handle *)(uintptr_t)fi->fh;
}

static int open_entry(fs *f, fs_node *node, struct fuse_file_info *fi)
{
	int accmode = fi->flags & O_ACCMODE;
	bool writes = accmode != O_RDONLY || (fi->flags & O_TRUNC);
	fs_dirty *dirty;

	if (!mesh_view_is_branch(node->view)) {
		if (writes)
			return mesh_error_set(MESH_EROFS, "%s: commit views are read-only",
					      mesh_view_domain(node->view));
		/* Immutable content: the kernel may keep its pages forever. */
		fi->keep_cache = 1;
		return 0;
	}
	if (writes)
		return node_dirty(f, node, (fi->flags & O_TRUNC) != 0, &dirty);
	return 0;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs *f = fs_of(req);
	fs_node *node = node_of(req, ino);
	fs_handle *h;
	int error = 0;

	if (!node)
		return (void)fuse_reply_err(req, ENOENT);
	if (node->type == FS_NODE_CONTROL)
		fi->direct_io = 1;
	else if (node->type != FS_NODE_ENTRY)
		return (void)fuse_reply_err(req, EISDIR);
	else if ((error = open_entry(f, node, fi)) < 0)
		return reply_error(req, error);
	if (!(h = handle_new(f, node)))
		return (void)fuse_reply_err(req, ENOMEM);
	fi->fh = (uintptr_t)h;
	if (fuse_reply_open(req, fi) == -ENOENT) {
		fs_nodes_close(&f->nodes, node);
		free(h);
	}
}

static void op_create(fuse_req_t req, fuse_ino_t parent_ino, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	fs *f = fs_of(req);
	struct fuse_entry_param e;
	char path[VIEW_PATH_MAX];
	fs_node *parent, *node;
	fs_dirty *dirty;
	fs_handle *h;
	mesh_caller caller;
	int error;

	caller_of(req, &caller);
	if ((error = writable_parent(req, parent_ino, &parent)) < 0 ||
	    (error = stage_new_file(f, parent, name, mode, &caller, path)) < 0)
		return reply_error(req, error);
	node = fs_nodes_lookup(&f->nodes, parent, name, FS_NODE_ENTRY, parent->view);
	if (!node)
		return (void)fuse_reply_err(req, ENOMEM);
	if ((error = node_dirty(f, node, true, &dirty)) < 0 ||
	    !(h = handle_new(f, node))) {
		fs_nodes_forget(&f->nodes, node, 1);
		return reply_error(req, error < 0 ? error : MESH_ENOMEM);
	}
	memset(&e, 0, sizeof(e));
	node_attr(f, node, &e.attr);
	e.ino = node->ino;
	e.attr_timeout = e.entry_timeout = BRANCH_TIMEOUT;
	fi->fh = (uintptr_t)h;
	fuse_reply_create(req, &e, fi);
}

static int read_clean(fs *f, fs_handle *h, char *buf, size_t size, off_t off,
		      size_t *got)
{
	char path[VIEW_PATH_MAX];
	mesh_view_entry entry;
	int error = 0;

	pthread_mutex_lock(&h->lock);
	if (!h->map &&
	    (error = node_path(f, h->node, path)) == 0 &&
	    (error = mesh_view_lookup(h->node->view, path, &entry)) == 0)
		error = mesh_view_file_map(h->node->view, &entry, &h->map);
	pthread_mutex_unlock(&h->lock);
	if (error < 0)
		return error;
	return mesh_file_read(mesh_store_odb(f->store), mesh_store_cache(f->store),
			      h->map, buf, size, (uint64_t)off, got);
}

static void control_read(fuse_req_t req, fs_handle *h, size_t size, off_t off)
{
	size_t start;

	pthread_mutex_lock(&h->lock);
	/* Both a read after the write (the fd's offset is past the command)
	 * and preads from 0 see the answer from its start: the first read
	 * after a write tells which of the two the caller does. */
	if (off < h->answer_base)
		h->answer_from_zero = true;
	start = (size_t)(h->answer_from_zero ? off : off - h->answer_base);
	if (!h->answer || start >= h->answer_len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, h->answer + start,
			       size < h->answer_len - start ? size : h->answer_len - start);
	pthread_mutex_unlock(&h->lock);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	fs *f = fs_of(req);
	fs_handle *h = handle_of(fi);
	fs_dirty *dirty;
	size_t got = 0;
	ssize_t n;
	char *buf;
	int error = 0;

	(void)ino;
	if (h->node->type == FS_NODE_CONTROL)
		return control_read(req, h, size, off);
	if (!(buf = malloc(size ? size : 1)))
		return (void)fuse_reply_err(req, ENOMEM);
	pthread_mutex_lock(&f->nodes.lock);
	dirty = h->node->dirty;
	pthread_mutex_unlock(&f->nodes.lock);
	if (dirty) {
		if ((n = pread(dirty->fd, buf, size, off)) < 0)
			error = -errno;
		else
			got = (size_t)n;
	} else {
		error = read_clean(f, h, buf, size, off, &got);
	}
	if (error < 0)
		reply_error(req, error);
	else
		fuse_reply_buf(req, buf, got);
	free(buf);
}

static void control_write(fuse_req_t req, fs_handle *h, const char *buf,
			  size_t size, off_t off)
{
	fs *f = fs_of(req);
	mesh_control_env env = { f->store, (mesh_control_branch_view)fs_branch_view, f };
	mesh_caller caller;
	char *line, *answer = NULL;
	int error;

	caller_of(req, &caller);
	if (!(line = strndup(buf, size)))
		return (void)fuse_reply_err(req, ENOMEM);
	error = mesh_control_run(&env, &caller, line, &answer);
	mesh_log_write(&f->log, error ? MESH_LOG_WARN : MESH_LOG_INFO,
		       "control (uid %u): %.200s -> %s", (unsigned)caller.uid,
		       strtok(line, "\n"), error ? mesh_error_message() : "ok");
	free(line);
	pthread_mutex_lock(&h->lock);
	free(h->answer);
	h->answer = answer;
	h->answer_len = answer ? strlen(answer) : 0;
	h->answer_base = off + (off_t)size;
	h->answer_from_zero = false;
	pthread_mutex_unlock(&h->lock);
	if (error < 0)
		fuse_reply_err(req, -error);
	else
		fuse_reply_write(req, size);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		     off_t off, struct fuse_file_info *fi)
{
	fs *f = fs_of(req);
	fs_handle *h = handle_of(fi);
	fs_dirty *dirty;
	ssize_t n;
	int error;

	(void)ino;
	if (h->node->type == FS_NODE_CONTROL)
		return control_write(req, h, buf, size, off);
	if ((error = node_dirty(f, h->node, false, &dirty)) < 0)
		return reply_error(req, error);
	if ((n = pwrite(dirty->fd, buf, size, off)) < 0)
		return (void)fuse_reply_err(req, errno);
	dirty->changed = true;
	fuse_reply_write(req, (size_t)n);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_handle *h = handle_of(fi);
	mesh_caller caller;
	int error;

	(void)ino;
	caller_of(req, &caller);
	if (h->node->type != FS_NODE_ENTRY)
		return (void)fuse_reply_err(req, 0);
	/* close(2) stages what was written, so a commit includes it. */
	if ((error = stage_dirty(fs_of(req), h->node, &caller, false)) < 0)
		return reply_error(req, error);
	fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	fs_handle *h = handle_of(fi);
	mesh_caller caller;
	int error;

	(void)ino;
	(void)datasync;
	caller_of(req, &caller);
	if (h->node->type != FS_NODE_ENTRY)
		return (void)fuse_reply_err(req, 0);
	if ((error = stage_dirty(fs_of(req), h->node, &caller, true)) < 0)
		return reply_error(req, error);
	fuse_reply_err(req, 0);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs *f = fs_of(req);
	fs_handle *h = handle_of(fi);
	fs_node *node = h->node;
	fs_dirty *dirty = NULL;
	mesh_caller caller;

	(void)ino;
	caller_of(req, &caller);
	if (node->type == FS_NODE_ENTRY)
		stage_dirty(f, node, &caller, false);
	pthread_mutex_lock(&f->nodes.lock);
	if (node->opens == 1 && node->dirty && !node->dirty->changed) {
		dirty = node->dirty;
		node->dirty = NULL;
	}
	pthread_mutex_unlock(&f->nodes.lock);
	dirty_free(dirty);
	fs_nodes_close(&f->nodes, node);
	mesh_file_map_free(h->map);
	free(h->answer);
	pthread_mutex_destroy(&h->lock);
	free(h);
	fuse_reply_err(req, 0);
}

/* --- directories ----------------------------------------------------- */

static int dir_add(fs_dir_handle *d, size_t *cap, const char *name, mesh_entry_kind kind)
{
	if (d->count == *cap) {
		size_t grown_cap = *cap ? *cap * 2 : 16;
		mesh_view_dirent *grown = realloc(d->entries, grown_cap * sizeof(*grown));
		if (!grown)
			return mesh_error_oom();
		d->entries = grown;
		*cap = grown_cap;
	}
	memset(&d->entries[d->count], 0, sizeof(d->entries[0]));
	if (!(d->entries[d->count].name = strdup(name)))
		return mesh_error_oom();
	d->entries[d->count++].entry.kind = kind;
	return 0;
}

static int list_root(fs *f, fs_dir_handle *d)
{
	mesh_domain **domains;
	size_t count, cap = 0;
	int error = mesh_domain_list(f->store, &domains, &count);

	if (error < 0)
		return error;
	error = dir_add(d, &cap, ".control", MESH_KIND_FILE);
	for (size_t i = 0; i < count && error == 0; i++)
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

static int list_domain(fs *f, fs_node *node, fs_dir_handle *d)
{
	branch_list bl = { d, 0 };

	return mesh_ref_list(mesh_store_refs(f->store), node->name, "heads/", add_branch, &bl);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs *f = fs_of(req);
	fs_node *node = node_of(req, ino);
	char path[VIEW_PATH_MAX];
	fs_dir_handle *d;
	int error;

	if (!node)
		return (void)fuse_reply_err(req, ENOENT);
	if (!(d = calloc(1, sizeof(*d))))
		return (void)fuse_reply_err(req, ENOMEM);
	switch (node->type) {
	case FS_NODE_ROOT:
		error = list_root(f, d);
		break;
	case FS_NODE_DOMAIN:
		error = list_domain(f, node, d);
		break;
	case FS_NODE_VIEW:
	case FS_NODE_ENTRY:
		if ((error = node_path(f, node, path)) == 0)
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
	fi->fh = (uintptr_t)d;
	if (is_view_node(node) && !mesh_view_is_branch(node->view))
		fi->cache_readdir = 1;
	fuse_reply_open(req, fi);
}

static mode_t dirent_type(mesh_entry_kind kind)
{
	return kind == MESH_KIND_DIR ? S_IFDIR : kind == MESH_KIND_SYMLINK ? S_IFLNK : S_IFREG;
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

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_dir_handle *d = (fs_dir_handle *)(uintptr_t)fi->fh;

	(void)ino;
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
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.statfs = op_statfs,
	.create = op_create,
};
