/*
 * nodes.h - the daemon's inode table.
 *
 * FUSE speaks in inode numbers; meshfs resolves paths.  A node records
 * its parent and name, so its path is rebuilt by walking up, and a
 * rename only relinks the node.  Nodes live while the kernel remembers
 * them (lookup count), a handle is open on them or a pin holds them.
 */
#ifndef MESHFS_NODES_H
#define MESHFS_NODES_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include "view.h"

typedef enum fs_node_type {
	FS_NODE_ROOT = 1,     /* the mount's root: domains and .control */
	FS_NODE_CONTROL,      /* the control file */
	FS_NODE_DOMAIN,       /* a domain: its branches (and any ref) */
	FS_NODE_VIEW,         /* the root of a branch or commit view */
	FS_NODE_ENTRY,        /* a path inside a view */
	FS_NODE_PRODUCT,      /* DOMAIN/.product.json: the card, read-only */
} fs_node_type;

struct fs_dirty;

typedef struct fs_node {
	uint64_t ino;
	fs_node_type type;
	struct fs_node *parent;     /* NULL for the root */
	char *name;
	mesh_view *view;            /* VIEW: held (fs_nodes.view_hold); ENTRY:
				     * its view root's, which it keeps alive */
	uint64_t lookups;           /* the kernel's lookup count */
	unsigned opens;             /* open handles */
	unsigned pins;              /* background work on it (page-cache priming) */
	bool detached;              /* unlinked or replaced: no longer named */
	struct fs_dirty *dirty;     /* content being written, or NULL */
	uint64_t content_version;   /* bumped when content changes behind open handles */
	struct stat last_attr;      /* what getattr last said: answers for an
				     * unlinked file still open (under lock) */
	struct fs_node *ino_next, *name_next;
} fs_node;

typedef struct fs_nodes {
	pthread_mutex_t lock;
	uint64_t next_ino;
	size_t count, nbuckets;
	fs_node **by_ino;
	fs_node **by_name;
	fs_node *root;
	/* A VIEW node holds its view from creation to free (called with
	 * lock held); NULL hooks: nothing to count. */
	void (*view_hold)(void *ctx, mesh_view *view);
	void (*view_put)(void *ctx, mesh_view *view);
	void *view_ctx;
} fs_nodes;

int fs_nodes_init(fs_nodes *nodes);
void fs_nodes_destroy(fs_nodes *nodes);

/* All below take nodes->lock themselves unless named _locked. */

/* The node for ino, or NULL. */
fs_node *fs_nodes_get(fs_nodes *nodes, uint64_t ino);

/*
 * The child named name under parent, created when absent, with one more
 * kernel lookup counted.  A child whose view differs from view (a ref
 * that now names another commit) is detached and replaced.
 */
fs_node *fs_nodes_lookup(fs_nodes *nodes, fs_node *parent, const char *name,
			 fs_node_type type, mesh_view *view);

/* Drops n kernel lookups; frees the node when nothing holds it. */
void fs_nodes_forget(fs_nodes *nodes, fs_node *node, uint64_t n);

void fs_nodes_open(fs_nodes *nodes, fs_node *node);
/* Drops one open; frees the node when nothing holds it. */
void fs_nodes_close(fs_nodes *nodes, fs_node *node);
/* The same; when that was the last open, on_last runs first, under the
 * lock (it may take node->dirty off the node). */
void fs_nodes_close_then(fs_nodes *nodes, fs_node *node,
			 void (*on_last)(void *ctx, fs_node *node), void *ctx);

/* Keeps the node alive without counting as an open handle (which
 * decides when a file's writes are finished). */
void fs_nodes_pin(fs_nodes *nodes, fs_node *node);
/* Drops the pin; frees the node when nothing holds it. */
void fs_nodes_unpin(fs_nodes *nodes, fs_node *node);
/* The existing child, or NULL. */
fs_node *fs_nodes_find_locked(fs_nodes *nodes, fs_node *parent, const char *name);

/* Marks the child named name (if any) as no longer reachable. */
void fs_nodes_detach(fs_nodes *nodes, fs_node *parent, const char *name);

/* Moves the child named name to new_parent/new_name, detaching whatever
 * had the new name. */
void fs_nodes_rename(fs_nodes *nodes, fs_node *parent, const char *name,
		     fs_node *new_parent, const char *new_name);

/* What getattr last answered for the node, kept for when it has no
 * path any more; false when nothing was kept. */
void fs_nodes_set_attr(fs_nodes *nodes, fs_node *node, const struct stat *st);
bool fs_nodes_last_attr(fs_nodes *nodes, fs_node *node, struct stat *st);

/* The node's path inside its view ("" for a view root) into buf;
 * false when it is detached or too long. */
bool fs_nodes_path(fs_nodes *nodes, fs_node *node, char *buf, size_t len);

#endif
