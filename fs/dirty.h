/*
 * dirty.h - content being written in a branch view.
 *
 * A file opened for writing gets a scratch file under STORE/tmp holding
 * its whole content (a copy of the committed bytes unless truncated);
 * close and fsync store it as chunks and stage it.  A node holds one
 * reference to its scratch file; every request that uses it takes one
 * more, so detaching it (after a zero-copy copy replaced the content)
 * never pulls the file from under a running read or write.
 */
#ifndef MESHFS_DIRTY_H
#define MESHFS_DIRTY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include "fs.h"

typedef struct fs_dirty {
	int fd;
	bool changed;              /* written since last staged */
	mesh_entry_kind kind;
	uint32_t mode;
	unsigned refs;             /* under the node table's lock */
	pthread_mutex_t lock;      /* one stager at a time */
} fs_dirty;

/* The node's scratch file with a reference, or NULL when it has none. */
fs_dirty *fs_dirty_get(fs *f, fs_node *node);
void fs_dirty_put(fs *f, fs_dirty *dirty);

/* The node's scratch file with a reference, made from the file's current
 * content (or empty, with truncate) when it has none. */
int fs_dirty_open(fs *f, fs_node *node, bool truncate, fs_dirty **out);

/* The node lets go of its scratch file. */
void fs_dirty_detach(fs *f, fs_node *node);

/* Stores the scratch file's content and stages it at the node's path;
 * durable syncs objects and the staging batch (fsync). */
int fs_dirty_stage(fs *f, fs_node *node, const mesh_caller *caller, bool durable);

/* Size, time and mode of a file being written, over st. */
int fs_dirty_attr(fs *f, fs_node *node, struct stat *st);

#endif
