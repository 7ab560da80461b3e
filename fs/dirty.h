/*
 * dirty.h - content being written in a branch view.
 *
 * A new or truncated file that is written from start to end (the way
 * cp, pandas and Spark write) streams: its chunks are cut, hashed and
 * stored as the writes arrive, so close only stores the last ones.  Any
 * other pattern (a write elsewhere, a truncate) turns it into a scratch
 * file under STORE/tmp holding the whole content, and a file opened for
 * writing that already has content starts as one (copy on write).  Close
 * and fsync stage what was written; for a scratch file, only the chunks
 * written since it was last staged are read and stored again.
 *
 * A node holds one reference to its dirty state; every request that
 * uses it takes one more, so detaching it never pulls it from under a
 * running read or write.
 */
#ifndef MESHFS_DIRTY_H
#define MESHFS_DIRTY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include "fs.h"

typedef struct fs_dirty {
	pthread_mutex_t lock;      /* content and the fields below */
	mesh_file_writer *stream;  /* streaming, or NULL */
	int fd;                    /* the scratch file when not streaming */
	/* Of a scratch file: the map of what it held when it was last
	 * staged or copied in (pinned, so its chunks stay stored) and, per
	 * chunk of it, whether it was written since.  Staging reads and
	 * stores only those (mesh_file_store_changes): an fsync costs the
	 * chunks written, not the file.  NULL when not known (all stale). */
	mesh_file_map *base;
	mesh_oid base_id;
	bool *stale;
	mesh_odb *odb;             /* holds the pin */
	/* Of a scratch file with a base: an fsync stages the bytes written
	 * since the base, as the writes of a journal laid over it
	 * (journal.h), not the chunks they touched.  fresh has a bit per
	 * 4 KiB page written since the last fsync, and every byte from
	 * fresh_tail on counts as written (a truncate).  The journal lives
	 * until a close or a larger fsync stores chunks again. */
	uint64_t *fresh;
	size_t fresh_words;
	uint64_t fresh_tail;
	uint64_t journal_id;       /* 0: none */
	uint32_t journal_count;
	uint64_t journal_bytes;
	bool changed;              /* written since last staged (atomic) */
	mesh_entry_kind kind;
	uint32_t mode;
	int64_t mtime_ns;          /* of a streaming file */
	unsigned refs;             /* under the node table's lock */
} fs_dirty;

/* The node's dirty state with a reference, or NULL when it has none. */
fs_dirty *fs_dirty_get(fs *f, fs_node *node);
void fs_dirty_put(fs *f, fs_dirty *dirty);

/* The node's dirty state with a reference, made from the file's current
 * content (or empty, with truncate) when it has none. */
int fs_dirty_open(fs *f, fs_node *node, bool truncate, fs_dirty **out);

/* The same for a file just created as entry (empty): it streams, and no
 * lookup is needed. */
int fs_dirty_create(fs *f, fs_node *node, const mesh_view_entry *entry, fs_dirty **out);

/* Nothing written since it was last staged, and no journal that only
 * a close folds into chunks: the node may let it go. */
bool fs_dirty_clean(fs_dirty *dirty);

/* The node lets go of its dirty state. */
void fs_dirty_detach(fs *f, fs_node *node);

int fs_dirty_write(fs *f, fs_dirty *dirty, const void *buf, size_t size,
		   off_t offset, size_t *written);
int fs_dirty_read(fs *f, fs_dirty *dirty, void *buf, size_t size, off_t offset,
		  size_t *got);
int fs_dirty_truncate(fs *f, fs_dirty *dirty, off_t size);
/* mode and mtime may be NULL. */
void fs_dirty_set_meta(fs_dirty *dirty, const uint32_t *mode, const int64_t *mtime_ns);
uint64_t fs_dirty_size(fs_dirty *dirty);

/* Stores what was written and stages it at the node's path; durable
 * syncs objects and the staging batch (fsync). */
int fs_dirty_stage(fs *f, fs_node *node, const mesh_caller *caller, bool durable);

/* fsync(2): the same, durably; a scratch file stages the bytes written
 * since the last fsync as a journal (journal.h) instead of chunks. */
int fs_dirty_fsync(fs *f, fs_node *node, const mesh_caller *caller);

/* The same, without durable, unless another handle has the file open:
 * for a release, which the kernel sends after close(2) returned, when a
 * new open may already have truncated the shared content. */
int fs_dirty_stage_if_last(fs *f, fs_node *node, const mesh_caller *caller);

/* Size, time and mode of a file being written, over st. */
int fs_dirty_attr(fs *f, fs_node *node, struct stat *st);

/* At unmount, with no request running: stages what staging failed to
 * keep before (a full disk), logs what still fails, frees every file's
 * content. */
void fs_dirty_stage_all(fs *f);

#endif
