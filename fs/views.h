/*
 * views.h - the views the mount shows, shared and counted.
 *
 * Every node of one branch (or commit) shares one mesh_view and its
 * cached head.  A view lives while something holds it: the node of its
 * root (for as long as the kernel remembers that name) or a request
 * using it.  When the last hold goes, so does the view, so 20,000
 * branches looked at once cost nothing once the kernel forgets them.
 *
 * views->lock guards the table and every count; it is taken under the
 * node table's lock (a view node's hold and put), never the other way
 * round, and no I/O runs under it: views are opened outside it.
 */
#ifndef MESHFS_VIEWS_H
#define MESHFS_VIEWS_H

#include <pthread.h>
#include <stddef.h>
#include "store.h"
#include "view.h"

typedef struct fs_view_slot fs_view_slot;

typedef struct fs_views {
	mesh_store *store;
	pthread_mutex_t lock;
	fs_view_slot **buckets;
	size_t nbuckets, count;
} fs_views;

int fs_views_init(fs_views *views, mesh_store *store);
/* Frees every view, held or not: for the end of the mount. */
void fs_views_destroy(fs_views *views);

/* The view of a branch, opened on first use, with one hold for the
 * caller.  MESH_ENOENT when the branch does not exist. */
int fs_views_branch(fs_views *views, const char *domain, const char *branch,
		    mesh_view **out);
/* The read-only view of a commit, with one hold. */
int fs_views_commit(fs_views *views, const char *domain, const mesh_oid *commit,
		    mesh_view **out);

/* One more hold of a view the caller holds already. */
void fs_views_hold(fs_views *views, mesh_view *view);
/* Drops one hold; the last frees the view. */
void fs_views_put(fs_views *views, mesh_view *view);

#endif
