#include "dirty.h"
#include "error.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VIEW_PATH_MAX 4096

fs_dirty *fs_dirty_get(fs *f, fs_node *node)
{
	fs_dirty *dirty;

	pthread_mutex_lock(&f->nodes.lock);
	dirty = node->dirty;
	if (dirty)
		dirty->refs++;
	pthread_mutex_unlock(&f->nodes.lock);
	return dirty;
}

static void dirty_free(fs_dirty *dirty)
{
	close(dirty->fd);
	pthread_mutex_destroy(&dirty->lock);
	free(dirty);
}

void fs_dirty_put(fs *f, fs_dirty *dirty)
{
	bool last;

	if (!dirty)
		return;
	pthread_mutex_lock(&f->nodes.lock);
	last = --dirty->refs == 0;
	pthread_mutex_unlock(&f->nodes.lock);
	if (last)
		dirty_free(dirty);
}

void fs_dirty_detach(fs *f, fs_node *node)
{
	fs_dirty *dirty;

	pthread_mutex_lock(&f->nodes.lock);
	dirty = node->dirty;
	node->dirty = NULL;
	pthread_mutex_unlock(&f->nodes.lock);
	fs_dirty_put(f, dirty);
}

static int dirty_new(fs *f, mesh_entry_kind kind, uint32_t mode, fs_dirty **out)
{
	fs_dirty *dirty = calloc(1, sizeof(*dirty));
	const char *tmp = mesh_store_tmp_dir(f->store);

	if (!dirty)
		return mesh_error_oom();
	/* O_TMPFILE: a crash leaves no scratch file behind to clean up. */
	dirty->fd = open(tmp, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (dirty->fd < 0) {
		free(dirty);
		return mesh_error_os("cannot create a scratch file in", tmp);
	}
	pthread_mutex_init(&dirty->lock, NULL);
	dirty->kind = kind;
	dirty->mode = mode & 07777;
	dirty->refs = 1;
	*out = dirty;
	return 0;
}

/* Copy on write: the scratch file starts as the file's content, with its
 * mtime, so an open that writes nothing changes nothing. */
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

int fs_dirty_open(fs *f, fs_node *node, bool truncate, fs_dirty **out)
{
	char path[VIEW_PATH_MAX];
	mesh_view_entry entry;
	fs_dirty *dirty = fs_dirty_get(f, node);
	int error;

	if (dirty) {
		if (truncate && ftruncate(dirty->fd, 0) == 0)
			dirty->changed = true;
		*out = dirty;
		return 0;
	}
	if (!fs_nodes_path(&f->nodes, node, path, sizeof(path)))
		return mesh_error_set(MESH_ENOENT, "file was removed");
	if ((error = mesh_view_lookup(node->view, path, &entry)) < 0)
		return error;
	if (entry.kind != MESH_KIND_FILE)
		return mesh_error_set(MESH_EISDIR, "%s is not a regular file", path);
	if ((error = dirty_from_entry(f, node, &entry, truncate, &dirty)) < 0)
		return error;
	pthread_mutex_lock(&f->nodes.lock);
	if (node->dirty) {             /* another opener won the race */
		pthread_mutex_unlock(&f->nodes.lock);
		dirty_free(dirty);
		return fs_dirty_open(f, node, truncate, out);
	}
	node->dirty = dirty;
	dirty->refs++;                 /* the node's and the caller's */
	pthread_mutex_unlock(&f->nodes.lock);
	*out = dirty;
	return 0;
}

static int stage_locked(fs *f, fs_node *node, fs_dirty *dirty,
			const mesh_caller *caller, bool durable)
{
	char path[VIEW_PATH_MAX];
	struct stat st;
	uint64_t size;
	mesh_oid map;
	int error;

	if (!dirty->changed)
		return 0;
	dirty->changed = false;
	if (!fs_nodes_path(&f->nodes, node, path, sizeof(path)))
		return 0;                  /* unlinked: nothing to keep */
	if ((error = mesh_file_write_fd(mesh_store_odb(f->store), NULL, dirty->fd,
					&map, &size)) < 0)
		goto failed;
	if (fstat(dirty->fd, &st) < 0) {
		error = mesh_error_os("cannot stat scratch file of", path);
		goto failed;
	}
	if ((durable && (error = mesh_odb_sync(mesh_store_odb(f->store))) < 0) ||
	    (error = mesh_view_stage_content(node->view, caller, path, dirty->kind,
					     dirty->mode, size,
					     (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
					     &map, durable)) < 0)
		goto failed;
	return 0;
failed:
	dirty->changed = true;             /* kept for the next close */
	return error;
}

int fs_dirty_stage(fs *f, fs_node *node, const mesh_caller *caller, bool durable)
{
	fs_dirty *dirty = fs_dirty_get(f, node);
	int error;

	if (!dirty)
		return 0;
	/* Hashing and compressing run here, on the calling request's thread,
	 * holding only this file's lock. */
	pthread_mutex_lock(&dirty->lock);
	error = stage_locked(f, node, dirty, caller, durable);
	pthread_mutex_unlock(&dirty->lock);
	fs_dirty_put(f, dirty);
	return error;
}

int fs_dirty_attr(fs *f, fs_node *node, struct stat *st)
{
	fs_dirty *dirty = fs_dirty_get(f, node);
	struct stat tmp;
	int error = 0;

	if (!dirty)
		return 0;
	if (fstat(dirty->fd, &tmp) < 0) {
		error = mesh_error_os("cannot stat scratch file of", node->name);
	} else {
		st->st_size = tmp.st_size;
		st->st_blocks = tmp.st_blocks;
		st->st_mtim = tmp.st_mtim;
		st->st_ctim = tmp.st_mtim;
		st->st_mode = (st->st_mode & S_IFMT) | dirty->mode;
	}
	fs_dirty_put(f, dirty);
	return error;
}
