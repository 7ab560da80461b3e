#include "dirty.h"
#include "error.h"
#include "journal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define VIEW_PATH_MAX 4096
#define COPY_BLOCK (1u << 20)
#define PAGE_SHIFT 12
#define NO_TAIL UINT64_MAX


/* changed is written under the file's lock and read under the node
 * table's (whether a clean state may be let go of), hence atomic. */
static void set_changed(fs_dirty *dirty, bool changed)
{
	__atomic_store_n(&dirty->changed, changed, __ATOMIC_RELEASE);
}

bool fs_dirty_clean(fs_dirty *dirty)
{
	return !__atomic_load_n(&dirty->changed, __ATOMIC_ACQUIRE) &&
	       !__atomic_load_n(&dirty->journal_id, __ATOMIC_ACQUIRE);
}

/* journal_id is written under the file's lock, read under the node
 * table's (fs_dirty_clean). */
static void set_journal(fs_dirty *dirty, uint64_t id, uint32_t count, uint64_t bytes)
{
	__atomic_store_n(&dirty->journal_id, id, __ATOMIC_RELEASE);
	dirty->journal_count = count;
	dirty->journal_bytes = bytes;
}

/* Lock held: the pages of [offset, offset + len) were written.  A page
 * the bitmap cannot grow to hold is noted by lowering fresh_tail, which
 * costs journal bytes, never correctness. */
static void mark_fresh(fs_dirty *dirty, uint64_t offset, uint64_t len)
{
	uint64_t first = offset >> PAGE_SHIFT, last = (offset + len - 1) >> PAGE_SHIFT;
	size_t words = (size_t)(last / 64 + 1);

	if (len == 0 || offset >= dirty->fresh_tail)
		return;
	if (words > dirty->fresh_words) {
		size_t want = words < 2 * dirty->fresh_words ? 2 * dirty->fresh_words : words;
		uint64_t *grown = realloc(dirty->fresh, want * sizeof(*grown));

		if (!grown) {
			dirty->fresh_tail = first << PAGE_SHIFT;
			return;
		}
		memset(grown + dirty->fresh_words, 0,
		       (want - dirty->fresh_words) * sizeof(*grown));
		dirty->fresh = grown;
		dirty->fresh_words = want;
	}
	for (uint64_t page = first; page <= last; page++)
		dirty->fresh[page / 64] |= 1ull << (page % 64);
}

static uint64_t scratch_size(const fs_dirty *dirty)
{
	struct stat st;

	return fstat(dirty->fd, &st) < 0 ? 0 : (uint64_t)st.st_size;
}

/* Lock held: a write to the scratch file.  A write past the end also
 * writes the hole before it: what the journal's base holds there (a
 * file cut shorter at an earlier fsync) is no longer the content. */
static void mark_written(fs_dirty *dirty, uint64_t offset, uint64_t len)
{
	uint64_t size = scratch_size(dirty);

	if (offset > size)
		mark_fresh(dirty, size, offset - size);
	mark_fresh(dirty, offset, len);
}

/* Lock held: a truncate to size.  Every byte from the smaller of the
 * two ends on is new: cut away, or a hole that reads as zeros. */
static void mark_cut(fs_dirty *dirty, uint64_t size)
{
	uint64_t old = scratch_size(dirty);
	uint64_t from = size < old ? size : old;

	if (from < dirty->fresh_tail)
		dirty->fresh_tail = from;
}

static void fresh_clear(fs_dirty *dirty)
{
	if (dirty->fresh)
		memset(dirty->fresh, 0, dirty->fresh_words * sizeof(*dirty->fresh));
	dirty->fresh_tail = NO_TAIL;
}

static bool page_fresh(const fs_dirty *dirty, uint64_t page)
{
	if (((page + 1) << PAGE_SHIFT) > dirty->fresh_tail)
		return true;
	return page / 64 < dirty->fresh_words && (dirty->fresh[page / 64] >> (page % 64)) & 1;
}

/* The next run of written bytes at or after *pos below size: false when
 * there is none. */
static bool fresh_next(const fs_dirty *dirty, uint64_t size, uint64_t *pos, uint64_t *len)
{
	/* Runs are reported whole pages at a time, but a run ends at size:
	 * a *pos inside a page means that page was reported already. */
	uint64_t page = (*pos + (1u << PAGE_SHIFT) - 1) >> PAGE_SHIFT, end;

	while ((page << PAGE_SHIFT) < size && !page_fresh(dirty, page)) {
		/* A clean word of 64 pages is skipped at once. */
		if (page % 64 == 0 && page / 64 < dirty->fresh_words &&
		    dirty->fresh[page / 64] == 0 && ((page + 64) << PAGE_SHIFT) <= dirty->fresh_tail)
			page += 64;
		else
			page++;
	}
	if ((page << PAGE_SHIFT) >= size)
		return false;
	*pos = page << PAGE_SHIFT;
	while ((page << PAGE_SHIFT) < size && page_fresh(dirty, page))
		page++;
	end = page << PAGE_SHIFT;
	*len = (end < size ? end : size) - *pos;
	return true;
}

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

static void base_drop(fs_dirty *dirty)
{
	if (dirty->base)
		mesh_odb_unpin(dirty->odb, &dirty->base_id);
	mesh_file_map_free(dirty->base);
	free(dirty->stale);
	dirty->base = NULL;
	dirty->stale = NULL;
}

/* map (id) becomes what the scratch file is compared with: true when
 * it was taken over.  When it cannot be pinned, nothing is (the caller
 * keeps map) and the next stage stores the whole file.  Inside an odb
 * session, so that no collection starts before the pin. */
static bool base_set(fs_dirty *dirty, mesh_file_map *map, const mesh_oid *id)
{
	bool *stale = calloc(map->count ? map->count : 1, sizeof(*stale));

	base_drop(dirty);
	if (!stale || mesh_odb_pin(dirty->odb, id) < 0) {
		free(stale);
		return false;
	}
	dirty->base = map;
	dirty->base_id = *id;
	dirty->stale = stale;
	return true;
}

/* Lock held: the chunks of base that [offset, offset + len) overlaps. */
static void mark_stale(fs_dirty *dirty, uint64_t offset, uint64_t len)
{
	const mesh_file_chunk *c;

	if (!dirty->base || len == 0 || !(c = mesh_file_map_chunk_at(dirty->base, offset)))
		return;
	for (size_t i = (size_t)(c - dirty->base->chunks);
	     i < dirty->base->count && dirty->base->chunks[i].offset < offset + len; i++)
		dirty->stale[i] = true;
}

static void dirty_free(fs_dirty *dirty)
{
	base_drop(dirty);
	free(dirty->fresh);
	if (dirty->fd >= 0)
		close(dirty->fd);
	mesh_file_writer_free(dirty->stream);
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

/* Whoever sees the disk full hands the store's reserve back to it, so
 * that commits and RocksDB's recovery can finish. */
static int note_nospace(fs *f, int error)
{
	if (error == MESH_ENOSPC)
		mesh_store_space_release(f->store);
	return error;
}

static int open_scratch(fs *f, int *fd)
{
	const char *tmp = mesh_store_tmp_dir(f->store);

	/* O_TMPFILE: a crash leaves no scratch file behind to clean up. */
	*fd = open(tmp, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (*fd < 0)
		return mesh_error_os("cannot create a scratch file in", tmp);
	return 0;
}

static int dirty_new(fs *f, const mesh_view_entry *entry, bool stream, fs_dirty **out)
{
	fs_dirty *dirty = calloc(1, sizeof(*dirty));
	int error;

	if (!dirty)
		return mesh_error_oom();
	dirty->fd = -1;
	error = stream ? mesh_file_writer_new(&dirty->stream, mesh_store_odb(f->store), NULL)
		       : open_scratch(f, &dirty->fd);
	if (error < 0) {
		free(dirty);
		return error;
	}
	pthread_mutex_init(&dirty->lock, NULL);
	dirty->fresh_tail = NO_TAIL;
	dirty->odb = mesh_store_odb(f->store);
	dirty->kind = entry->kind;
	dirty->mode = entry->mode & 07777;
	/* A file just created keeps the mtime it was created with. */
	dirty->mtime_ns = stream && entry->size > 0 ? fs_now_ns() : entry->mtime_ns;
	dirty->refs = 1;
	*out = dirty;
	return 0;
}

static void set_fd_mtime(int fd, int64_t mtime_ns)
{
	struct timespec times[2] = {
		{ 0, UTIME_OMIT },
		{ mtime_ns / 1000000000, mtime_ns % 1000000000 },
	};

	futimens(fd, times);
}

/*
 * A truncated file starts streaming, empty.  Otherwise copy on write:
 * the scratch file starts as the file's content, with its mtime, so an
 * open that writes nothing changes nothing.
 */
static int dirty_from_entry(fs *f, fs_node *node, const mesh_view_entry *entry,
			    bool truncate, fs_dirty **out)
{
	mesh_file_map *map = NULL;
	bool kept = false;
	int error;

	if ((error = dirty_new(f, entry, truncate, out)) < 0)
		return error;
	/* O_TRUNC marks mtime and ctime for update even when the file was
	 * empty already (POSIX, and ext4 does). */
	if (truncate) {
		(*out)->mtime_ns = fs_now_ns();
		set_changed(*out, true);
		return 0;
	}
	if ((error = mesh_store_space_check(f->store)) == 0) {
		mesh_odb_session_begin(mesh_store_odb(f->store));
		if ((error = mesh_view_file_map(node->view, entry, &map)) == 0 &&
		    base_set(*out, map, &entry->id))
			kept = true;
		mesh_odb_session_end(mesh_store_odb(f->store));
	}
	if (error == 0)
		error = mesh_file_materialize(mesh_store_odb(f->store),
					      mesh_store_cache(f->store), map, (*out)->fd);
	if (!kept)
		mesh_file_map_free(map);
	if (error < 0) {
		dirty_free(*out);
		*out = NULL;
		return error;
	}
	set_fd_mtime((*out)->fd, entry->mtime_ns);
	return 0;
}

/* Makes dirty the node's, unless another opener was first: then the
 * caller gets that one.  Either way with a reference for the caller. */
static void attach(fs *f, fs_node *node, fs_dirty *dirty, fs_dirty **out)
{
	fs_dirty *existing;

	pthread_mutex_lock(&f->nodes.lock);
	existing = node->dirty;
	if (existing) {
		existing->refs++;
	} else {
		node->dirty = dirty;
		dirty->refs++;         /* the node's and the caller's */
	}
	pthread_mutex_unlock(&f->nodes.lock);
	if (existing)
		dirty_free(dirty);
	*out = existing ? existing : dirty;
}

int fs_dirty_open(fs *f, fs_node *node, bool truncate, fs_dirty **out)
{
	char path[VIEW_PATH_MAX];
	mesh_view_entry entry;
	fs_dirty *dirty = fs_dirty_get(f, node);
	int error;

	if (dirty) {
		if (truncate && (error = fs_dirty_truncate(f, dirty, 0)) < 0) {
			fs_dirty_put(f, dirty);
			return error;
		}
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
		return note_nospace(f, error);
	attach(f, node, dirty, out);
	return 0;
}

int fs_dirty_create(fs *f, fs_node *node, const mesh_view_entry *entry, fs_dirty **out)
{
	fs_dirty *dirty = NULL;
	int error;

	if ((error = dirty_new(f, entry, true, &dirty)) < 0)
		return error;
	attach(f, node, dirty, out);
	return 0;
}

/* *done: the bytes written, also when it fails part way (a full disk). */
static int pwrite_some(int fd, const void *buf, size_t len, uint64_t offset, size_t *done)
{
	const unsigned char *p = buf;

	*done = 0;
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return mesh_error_os("cannot write scratch file", NULL);
		p += n;
		len -= (size_t)n;
		offset += (uint64_t)n;
		*done += (size_t)n;
	}
	return 0;
}

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t offset)
{
	size_t done;

	return pwrite_some(fd, buf, len, offset, &done);
}


/* The map of what was streamed becomes the scratch file's base, so the
 * chunks stored while streaming are not stored again.  Only the tail is
 * cut now; without a base (a full disk) the next stage stores it all. */
static void base_from_stream(fs *f, fs_dirty *dirty)
{
	mesh_odb *odb = mesh_store_odb(f->store);
	mesh_file_map *map = NULL;
	mesh_oid id;

	/* The writer's pins keep its chunks until the map's pin does. */
	mesh_odb_session_begin(odb);
	if (mesh_file_writer_snapshot(dirty->stream, &id, NULL) == 0 &&
	    mesh_file_map_load(odb, &id, &map) == 0 && !base_set(dirty, map, &id))
		mesh_file_map_free(map);
	mesh_odb_session_end(odb);
}

/* Leaves streaming for a scratch file holding what was streamed.  Lock
 * held. */
static int unstream_locked(fs *f, fs_dirty *dirty)
{
	uint64_t size, pos = 0;
	unsigned char *block;
	size_t got;
	int fd, error;

	if (!dirty->stream)
		return 0;
	if ((error = open_scratch(f, &fd)) < 0)
		return error;
	if (!(block = malloc(COPY_BLOCK))) {
		close(fd);
		return mesh_error_oom();
	}
	size = mesh_file_writer_size(dirty->stream);
	while (error == 0 && pos < size) {
		error = mesh_file_writer_read(dirty->stream, mesh_store_cache(f->store),
					      block, COPY_BLOCK, pos, &got);
		if (error == 0)
			error = pwrite_all(fd, block, got, pos);
		pos += got;
	}
	free(block);
	if (error < 0) {
		close(fd);
		return error;
	}
	set_fd_mtime(fd, dirty->mtime_ns);
	base_from_stream(f, dirty);
	mesh_file_writer_free(dirty->stream);
	dirty->stream = NULL;
	dirty->fd = fd;
	return 0;
}

/*
 * A write the disk could take only part of is a short write of what was
 * taken (the caller writes the rest and gets ENOSPC): the file never
 * shows a byte that was not acknowledged.
 */
int fs_dirty_write(fs *f, fs_dirty *dirty, const void *buf, size_t size,
		   off_t offset, size_t *written)
{
	uint64_t before;
	size_t done = 0;
	int error;

	if ((error = mesh_store_space_check(f->store)) < 0)
		return error;
	pthread_mutex_lock(&dirty->lock);
	if (dirty->stream && (uint64_t)offset == mesh_file_writer_size(dirty->stream)) {
		before = mesh_file_writer_size(dirty->stream);
		error = mesh_file_writer_append(dirty->stream, buf, size);
		done = (size_t)(mesh_file_writer_size(dirty->stream) - before);
	} else if ((error = unstream_locked(f, dirty)) == 0) {
		mark_stale(dirty, (uint64_t)offset, size);
		mark_written(dirty, (uint64_t)offset, size);
		error = pwrite_some(dirty->fd, buf, size, (uint64_t)offset, &done);
	}
	if (done > 0) {
		set_changed(dirty, true);
		if (dirty->stream)
			dirty->mtime_ns = fs_now_ns();
		*written = done;
		error = 0;
	}
	pthread_mutex_unlock(&dirty->lock);
	return note_nospace(f, error);
}

int fs_dirty_read(fs *f, fs_dirty *dirty, void *buf, size_t size, off_t offset,
		  size_t *got)
{
	ssize_t n;
	int error = 0;

	pthread_mutex_lock(&dirty->lock);
	if (dirty->stream) {
		error = mesh_file_writer_read(dirty->stream, mesh_store_cache(f->store),
					      buf, size, (uint64_t)offset, got);
	} else if ((n = pread(dirty->fd, buf, size, offset)) < 0) {
		error = mesh_error_os("cannot read scratch file", NULL);
	} else {
		*got = (size_t)n;
	}
	pthread_mutex_unlock(&dirty->lock);
	return error;
}

int fs_dirty_truncate(fs *f, fs_dirty *dirty, off_t size)
{
	mesh_file_writer *fresh;
	int error = 0;

	pthread_mutex_lock(&dirty->lock);
	if (dirty->stream && size == 0) {
		/* Starting over keeps streaming: O_TRUNC of a file being written. */
		if ((error = mesh_file_writer_new(&fresh, mesh_store_odb(f->store), NULL)) == 0) {
			mesh_file_writer_free(dirty->stream);
			dirty->stream = fresh;
		}
	} else if ((error = unstream_locked(f, dirty)) == 0) {
		mark_stale(dirty, (uint64_t)size, UINT64_MAX - (uint64_t)size);
		mark_cut(dirty, (uint64_t)size);
		if (ftruncate(dirty->fd, size) < 0)
			error = mesh_error_os("cannot truncate scratch file", NULL);
	}
	if (error == 0) {
		set_changed(dirty, true);
		dirty->mtime_ns = fs_now_ns();
	}
	pthread_mutex_unlock(&dirty->lock);
	return error;
}

void fs_dirty_set_meta(fs_dirty *dirty, const uint32_t *mode, const int64_t *mtime_ns)
{
	pthread_mutex_lock(&dirty->lock);
	if (mode)
		dirty->mode = *mode & 07777;
	if (mtime_ns) {
		dirty->mtime_ns = *mtime_ns;
		if (dirty->fd >= 0)
			set_fd_mtime(dirty->fd, *mtime_ns);
	}
	pthread_mutex_unlock(&dirty->lock);
}

/* Lock held. */
static int content_stat(fs_dirty *dirty, uint64_t *size, int64_t *mtime_ns,
			blkcnt_t *blocks)
{
	struct stat st;

	if (dirty->stream) {
		*size = mesh_file_writer_size(dirty->stream);
		*mtime_ns = dirty->mtime_ns;
		*blocks = (blkcnt_t)((*size + 511) / 512);
		return 0;
	}
	if (fstat(dirty->fd, &st) < 0)
		return mesh_error_os("cannot stat scratch file", NULL);
	*size = (uint64_t)st.st_size;
	*mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	*blocks = st.st_blocks;
	return 0;
}

static uint64_t fs_dirty_size_locked(fs_dirty *dirty)
{
	uint64_t size = 0;
	int64_t mtime;
	blkcnt_t blocks;

	return content_stat(dirty, &size, &mtime, &blocks) < 0 ? 0 : size;
}

uint64_t fs_dirty_size(fs_dirty *dirty)
{
	uint64_t size = 0;
	int64_t mtime;
	blkcnt_t blocks;

	pthread_mutex_lock(&dirty->lock);
	if (content_stat(dirty, &size, &mtime, &blocks) < 0)
		size = UINT64_MAX;
	pthread_mutex_unlock(&dirty->lock);
	return size;
}

/* Lock held.  The last objects go into batch, to be written with the
 * staging entry: a small file costs one database write.  A scratch
 * file's new map comes back in *stored, to be its next base. */
static int store_locked(fs *f, fs_dirty *dirty, mesh_db_batch *batch,
			mesh_oid *map, uint64_t *size, mesh_file_map **stored)
{
	int error;

	*stored = NULL;
	if (dirty->stream)
		return mesh_file_writer_snapshot_batched(dirty->stream, batch, map, size);
	error = mesh_file_store_changes(mesh_store_odb(f->store), batch, NULL, dirty->fd,
					dirty->base, dirty->stale, map, stored);
	if (error == 0)
		*size = (*stored)->size;
	return error;
}

/* Lock held.  Adds to batch the writes since the last fsync, as the
 * journal's next records: *count and *bytes get the journal's new
 * totals. */
static int journal_fresh(fs_dirty *dirty, mesh_db_batch *batch, uint64_t size,
			 uint32_t *count, uint64_t *bytes)
{
	unsigned char *block = NULL;
	uint64_t pos = 0, len;
	int error = 0;

	*count = dirty->journal_count;
	*bytes = dirty->journal_bytes;
	while (error == 0 && fresh_next(dirty, size, &pos, &len)) {
		size_t piece = len < MESH_JOURNAL_RECORD_MAX ? (size_t)len : MESH_JOURNAL_RECORD_MAX;
		ssize_t n;

		if (!block && !(block = malloc(MESH_JOURNAL_RECORD_MAX)))
			return mesh_error_oom();
		do
			n = pread(dirty->fd, block, piece, (off_t)pos);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			error = mesh_error_os("cannot read scratch file", NULL);
		else if ((size_t)n != piece)
			error = mesh_error_set(MESH_EIO, "scratch file shrank while it was staged");
		else {
			mesh_journal_add(batch, dirty->journal_id, (*count)++, pos, block, piece);
			*bytes += piece;
			pos += piece;
		}
	}
	free(block);
	return error;
}

/* Whether this fsync may stage a journal: a scratch file with a base,
 * whose journal stays small.  A large one is folded into chunks. */
static bool journal_fits(const fs_dirty *dirty, uint64_t size)
{
	uint64_t pos = 0, len, fresh = 0;
	uint64_t bound = size > MESH_JOURNAL_MAX_BYTES ? size : MESH_JOURNAL_MAX_BYTES;

	if (dirty->stream || !dirty->base)
		return false;
	while (fresh_next(dirty, size, &pos, &len) && dirty->journal_bytes + fresh <= bound) {
		fresh += len;
		pos += len;
	}
	return dirty->journal_bytes + fresh <= bound;
}

/* Lock held: an fsync's state staged as the base with the journal's
 * writes over it, in one synced write (journal.h). */
static int stage_journal_locked(fs *f, fs_node *node, fs_dirty *dirty, mesh_db_batch *batch,
				const mesh_caller *caller, const char *path)
{
	uint64_t size = 0, bytes, id = dirty->journal_id;
	int64_t mtime_ns = 0;
	blkcnt_t blocks;
	uint32_t count;
	int error;

	if ((error = content_stat(dirty, &size, &mtime_ns, &blocks)) < 0 ||
	    (!id && (error = mesh_journal_new_id(&id)) < 0))
		return error;
	if (!dirty->journal_id) {
		mesh_journal_note(batch, id, mesh_view_domain(node->view), mesh_view_branch(node->view));
		set_journal(dirty, id, 0, 0);
	}
	/* The base's objects may come from a close, which does not sync. */
	if ((error = journal_fresh(dirty, batch, size, &count, &bytes)) == 0 &&
	    (error = mesh_odb_sync(mesh_store_odb(f->store))) == 0 &&
	    (error = mesh_view_stage_journaled(node->view, batch, caller, path, dirty->mode,
					       size, mtime_ns, &dirty->base_id, id, count)) == 0) {
		set_journal(dirty, id, count, bytes);
		fresh_clear(dirty);
	} else if (dirty->journal_count == 0) {
		set_journal(dirty, 0, 0, 0);   /* nothing of it was written */
	}
	return error;
}

/* Lock held: content stored as chunks, staged with the map; a journal
 * goes in the same write. */
static int stage_chunks_locked(fs *f, fs_node *node, fs_dirty *dirty, mesh_db_batch *batch,
			       const mesh_caller *caller, const char *path, bool durable)
{
	mesh_file_map *stored = NULL;
	uint64_t size, stat_size;
	int64_t mtime_ns = 0;
	blkcnt_t blocks;
	mesh_oid map;
	int error;

	if ((error = store_locked(f, dirty, batch, &map, &size, &stored)) < 0 ||
	    (error = content_stat(dirty, &stat_size, &mtime_ns, &blocks)) < 0 ||
	    (dirty->journal_id &&
	     (error = mesh_journal_drop(mesh_store_db(f->store), batch, dirty->journal_id)) < 0) ||
	    (durable && (error = mesh_odb_sync(mesh_store_odb(f->store))) < 0) ||
	    (error = mesh_view_stage_content_with(node->view, batch, caller, path,
						  dirty->kind, dirty->mode, size,
						  mtime_ns, &map, durable)) < 0) {
		mesh_file_map_free(stored);
		return error;
	}
	set_journal(dirty, 0, 0, 0);
	fresh_clear(dirty);
	if (stored && base_set(dirty, stored, &map))
		stored = NULL;
	mesh_file_map_free(stored);
	return 0;
}

/* Lock held: the journal of a file with nothing new since its fsync.
 * While the staged entry still names it, the close stores chunks (the
 * content is the fsync's); when a commit or reset took the entry away,
 * the journal just goes. */
static int journal_still_staged(fs_node *node, const fs_dirty *dirty, const char *path,
				bool *staged)
{
	mesh_view_entry entry;
	int error = mesh_view_lookup(node->view, path, &entry);

	if (error == MESH_ENOENT || error == MESH_ENOTDIR) {
		mesh_error_clear();
		*staged = false;
		return 0;
	}
	*staged = error == 0 && entry.journal_id == dirty->journal_id;
	return error;
}

static int journal_forget(fs *f, fs_dirty *dirty)
{
	mesh_db_batch *batch;
	int error;

	if ((error = mesh_db_batch_new(&batch)) < 0)
		return error;
	if ((error = mesh_journal_drop(mesh_store_db(f->store), batch, dirty->journal_id)) == 0 &&
	    (error = mesh_db_batch_write(mesh_store_db(f->store), batch, false)) == 0)
		set_journal(dirty, 0, 0, 0);
	mesh_db_batch_free(batch);
	return error;
}

static int stage_locked(fs *f, fs_node *node, fs_dirty *dirty,
			const mesh_caller *caller, bool durable, bool may_journal)
{
	char path[VIEW_PATH_MAX];
	mesh_db_batch *batch = NULL;
	bool changed = __atomic_load_n(&dirty->changed, __ATOMIC_ACQUIRE);
	bool staged = true;
	int error;

	if (fs_dirty_clean(dirty))
		return 0;
	if (!fs_nodes_path(&f->nodes, node, path, sizeof(path))) {
		set_changed(dirty, false);
		return dirty->journal_id ? journal_forget(f, dirty) : 0;  /* unlinked */
	}
	if (!changed) {
		if (may_journal)
			return 0;              /* the journal holds this state already */
		if ((error = journal_still_staged(node, dirty, path, &staged)) < 0)
			return error;
		if (!staged)
			return journal_forget(f, dirty);
	}
	/* A small file streamed so far and fsync'd (a database's log, which
	 * fsyncs at every commit) becomes a scratch file once, so that its
	 * next fsyncs journal what they add instead of storing the growing
	 * tail chunk again each time.  A large one keeps streaming: the tail
	 * is small against it.  Failing that (a full disk), it streams on. */
	if (may_journal && dirty->stream &&
	    mesh_file_writer_size(dirty->stream) <= MESH_JOURNAL_MAX_BYTES &&
	    unstream_locked(f, dirty) < 0)
		mesh_error_clear();
	if ((error = mesh_db_batch_new(&batch)) < 0)
		return error;
	set_changed(dirty, false);
	/* One session from storing the content to staging its map: a
	 * garbage collection starts before or after, never between. */
	mesh_odb_session_begin(mesh_store_odb(f->store));
	if (may_journal && journal_fits(dirty, fs_dirty_size_locked(dirty))) {
		error = stage_journal_locked(f, node, dirty, batch, caller, path);
	} else {
		if (may_journal)
			mesh_log_write(&f->log, MESH_LOG_DEBUG,
				"fsync of %s stores chunks (%s, journal of %llu bytes)", path,
				dirty->stream ? "streaming" : dirty->base ? "journal full" : "no base",
				(unsigned long long)dirty->journal_bytes);
		error = stage_chunks_locked(f, node, dirty, batch, caller, path, durable);
	}
	if (error < 0)
		set_changed(dirty, true);  /* kept for the next close */
	mesh_odb_session_end(mesh_store_odb(f->store));
	mesh_db_batch_free(batch);
	return error;
}

static int stage(fs *f, fs_node *node, const mesh_caller *caller, bool durable,
		 bool may_journal, bool only_if_last)
{
	fs_dirty *dirty = fs_dirty_get(f, node);
	bool last = true;
	int error = 0;

	if (!dirty)
		return 0;
	mesh_store_space_refresh(f->store);
	/* Hashing and compressing run here, on the calling request's thread,
	 * holding only this file's lock.  An open counts before it truncates,
	 * and truncates under this lock: so "last" read under it holds until
	 * the content is stored. */
	pthread_mutex_lock(&dirty->lock);
	if (only_if_last) {
		pthread_mutex_lock(&f->nodes.lock);
		last = node->opens <= 1;
		pthread_mutex_unlock(&f->nodes.lock);
	}
	if (last)
		error = stage_locked(f, node, dirty, caller, durable, may_journal);
	pthread_mutex_unlock(&dirty->lock);
	fs_dirty_put(f, dirty);
	return note_nospace(f, error);
}

int fs_dirty_stage(fs *f, fs_node *node, const mesh_caller *caller, bool durable)
{
	return stage(f, node, caller, durable, false, false);
}

int fs_dirty_fsync(fs *f, fs_node *node, const mesh_caller *caller)
{
	return stage(f, node, caller, true, true, false);
}

int fs_dirty_stage_if_last(fs *f, fs_node *node, const mesh_caller *caller)
{
	return stage(f, node, caller, false, false, true);
}

int fs_dirty_attr(fs *f, fs_node *node, struct stat *st)
{
	fs_dirty *dirty = fs_dirty_get(f, node);
	uint64_t size;
	int64_t mtime_ns = 0;
	blkcnt_t blocks;
	int error;

	if (!dirty)
		return 0;
	pthread_mutex_lock(&dirty->lock);
	if ((error = content_stat(dirty, &size, &mtime_ns, &blocks)) == 0) {
		st->st_size = (off_t)size;
		st->st_blocks = blocks;
		st->st_mtim.tv_sec = mtime_ns / 1000000000;
		st->st_mtim.tv_nsec = mtime_ns % 1000000000;
		/* A write changes ctime with mtime; a staged chmod or chown
		 * after it is later still. */
		if (st->st_ctim.tv_sec < st->st_mtim.tv_sec ||
		    (st->st_ctim.tv_sec == st->st_mtim.tv_sec &&
		     st->st_ctim.tv_nsec < st->st_mtim.tv_nsec))
			st->st_ctim = st->st_mtim;
		st->st_mode = (st->st_mode & S_IFMT) | dirty->mode;
	}
	pthread_mutex_unlock(&dirty->lock);
	fs_dirty_put(f, dirty);
	return error;
}

/*
 * At unmount: a file whose staging failed (a full disk at its close) is
 * staged once more, durably, before its content goes; whatever still
 * fails is logged by path.  No request thread runs any more, so the
 * table is walked without its lock (staging takes it as it needs it).
 */
void fs_dirty_stage_all(fs *f)
{
	mesh_caller caller = { .uid = f->uid, .gid = f->gid, .pid = getpid(),
			       .write_opened = true };
	char path[VIEW_PATH_MAX];

	for (size_t b = 0; b < f->nodes.nbuckets; b++) {
		for (fs_node *n = f->nodes.by_ino[b]; n; n = n->ino_next) {
			if (!n->dirty)
				continue;
			if (fs_dirty_stage(f, n, &caller, true) < 0)
				mesh_log_write(&f->log, MESH_LOG_ERROR,
					"unmount: data written to %s could not be staged and is lost: %s",
					fs_nodes_path(&f->nodes, n, path, sizeof(path)) ? path : "(removed)",
					mesh_error_message());
			fs_dirty_detach(f, n);
		}
	}
}
