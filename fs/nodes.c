#include "fs.h"
#include "nodes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NODE_BUCKETS 65536

static size_t ino_bucket(const fs_nodes *nodes, uint64_t ino)
{
	return (size_t)(ino * 0x9E3779B97F4A7C15ull >> 16) % nodes->nbuckets;
}

static size_t name_bucket(const fs_nodes *nodes, const fs_node *parent,
			  const char *name)
{
	uint64_t h = 1469598103934665603ull ^ parent->ino;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return (size_t)(h % nodes->nbuckets);
}

static void link_ino(fs_nodes *nodes, fs_node *node)
{
	size_t b = ino_bucket(nodes, node->ino);

	node->ino_next = nodes->by_ino[b];
	nodes->by_ino[b] = node;
}

int fs_nodes_init(fs_nodes *nodes)
{
	memset(nodes, 0, sizeof(*nodes));
	nodes->nbuckets = NODE_BUCKETS;
	nodes->by_ino = calloc(nodes->nbuckets, sizeof(fs_node *));
	nodes->by_name = calloc(nodes->nbuckets, sizeof(fs_node *));
	nodes->root = calloc(1, sizeof(fs_node));
	if (!nodes->by_ino || !nodes->by_name || !nodes->root) {
		fs_nodes_destroy(nodes);
		return -ENOMEM;
	}
	pthread_mutex_init(&nodes->lock, NULL);
	nodes->root->ino = FUSE_ROOT_ID;
	nodes->root->type = FS_NODE_ROOT;
	nodes->root->lookups = 1;
	nodes->next_ino = FUSE_ROOT_ID + 1;
	link_ino(nodes, nodes->root);
	return 0;
}

static void node_free(fs_node *node)
{
	free(node->name);
	free(node);
}

/* Lock held. */
static void node_release(fs_nodes *nodes, fs_node *node)
{
	if (node->type == FS_NODE_VIEW && nodes->view_put)
		nodes->view_put(nodes->view_ctx, node->view);
	node_free(node);
}

void fs_nodes_destroy(fs_nodes *nodes)
{
	if (nodes->by_ino) {
		for (size_t b = 0; b < nodes->nbuckets; b++) {
			for (fs_node *n = nodes->by_ino[b], *next; n; n = next) {
				next = n->ino_next;
				node_free(n);
			}
		}
		pthread_mutex_destroy(&nodes->lock);
	} else {
		free(nodes->root);
	}
	free(nodes->by_ino);
	free(nodes->by_name);
	memset(nodes, 0, sizeof(*nodes));
}

fs_node *fs_nodes_get(fs_nodes *nodes, uint64_t ino)
{
	fs_node *n;

	pthread_mutex_lock(&nodes->lock);
	for (n = nodes->by_ino[ino_bucket(nodes, ino)]; n; n = n->ino_next)
		if (n->ino == ino)
			break;
	pthread_mutex_unlock(&nodes->lock);
	return n;
}

fs_node *fs_nodes_find_locked(fs_nodes *nodes, fs_node *parent, const char *name)
{
	for (fs_node *n = nodes->by_name[name_bucket(nodes, parent, name)]; n; n = n->name_next)
		if (n->parent == parent && strcmp(n->name, name) == 0)
			return n;
	return NULL;
}

static void unlink_name(fs_nodes *nodes, fs_node *node)
{
	fs_node **p = &nodes->by_name[name_bucket(nodes, node->parent, node->name)];

	while (*p && *p != node)
		p = &(*p)->name_next;
	if (*p)
		*p = node->name_next;
	node->name_next = NULL;
}

static void link_name(fs_nodes *nodes, fs_node *node)
{
	size_t b = name_bucket(nodes, node->parent, node->name);

	node->name_next = nodes->by_name[b];
	nodes->by_name[b] = node;
}

static void detach_locked(fs_nodes *nodes, fs_node *node)
{
	if (node->detached)
		return;
	unlink_name(nodes, node);
	node->detached = true;
}

fs_node *fs_nodes_lookup(fs_nodes *nodes, fs_node *parent, const char *name,
			 fs_node_type type, mesh_view *view)
{
	fs_node *node;

	pthread_mutex_lock(&nodes->lock);
	node = fs_nodes_find_locked(nodes, parent, name);
	if (node && (node->view != view || node->type != type)) {
		detach_locked(nodes, node);
		node = NULL;
	}
	if (!node && (node = calloc(1, sizeof(*node))) != NULL) {
		if (!(node->name = strdup(name))) {
			free(node);
			node = NULL;
		} else {
			node->ino = nodes->next_ino++;
			node->type = type;
			node->parent = parent;
			node->view = view;
			if (type == FS_NODE_VIEW && nodes->view_hold)
				nodes->view_hold(nodes->view_ctx, view);
			/* A child keeps its parent alive, so its path stays whole. */
			parent->lookups++;
			link_ino(nodes, node);
			link_name(nodes, node);
			nodes->count++;
		}
	}
	if (node)
		node->lookups++;
	pthread_mutex_unlock(&nodes->lock);
	return node;
}

static void release_locked(fs_nodes *nodes, fs_node *node)
{
	while (node && node->type != FS_NODE_ROOT && node->lookups == 0 &&
	       node->opens == 0 && node->pins == 0 && !node->dirty) {
		fs_node *parent = node->parent;
		fs_node **p = &nodes->by_ino[ino_bucket(nodes, node->ino)];

		while (*p != node)
			p = &(*p)->ino_next;
		*p = node->ino_next;
		if (!node->detached)
			unlink_name(nodes, node);
		node_release(nodes, node);
		nodes->count--;
		parent->lookups--;
		node = parent;
	}
}

void fs_nodes_forget(fs_nodes *nodes, fs_node *node, uint64_t n)
{
	pthread_mutex_lock(&nodes->lock);
	node->lookups = node->lookups > n ? node->lookups - n : 0;
	release_locked(nodes, node);
	pthread_mutex_unlock(&nodes->lock);
}

void fs_nodes_open(fs_nodes *nodes, fs_node *node)
{
	pthread_mutex_lock(&nodes->lock);
	node->opens++;
	pthread_mutex_unlock(&nodes->lock);
}

void fs_nodes_close_then(fs_nodes *nodes, fs_node *node,
			 void (*on_last)(void *ctx, fs_node *node), void *ctx)
{
	pthread_mutex_lock(&nodes->lock);
	if (--node->opens == 0 && on_last)
		on_last(ctx, node);
	release_locked(nodes, node);
	pthread_mutex_unlock(&nodes->lock);
}

void fs_nodes_close(fs_nodes *nodes, fs_node *node)
{
	fs_nodes_close_then(nodes, node, NULL, NULL);
}

void fs_nodes_pin(fs_nodes *nodes, fs_node *node)
{
	pthread_mutex_lock(&nodes->lock);
	node->pins++;
	pthread_mutex_unlock(&nodes->lock);
}

void fs_nodes_unpin(fs_nodes *nodes, fs_node *node)
{
	pthread_mutex_lock(&nodes->lock);
	node->pins--;
	release_locked(nodes, node);
	pthread_mutex_unlock(&nodes->lock);
}

void fs_nodes_detach(fs_nodes *nodes, fs_node *parent, const char *name)
{
	fs_node *node;

	pthread_mutex_lock(&nodes->lock);
	if ((node = fs_nodes_find_locked(nodes, parent, name)) != NULL)
		detach_locked(nodes, node);
	pthread_mutex_unlock(&nodes->lock);
}

void fs_nodes_rename(fs_nodes *nodes, fs_node *parent, const char *name,
		     fs_node *new_parent, const char *new_name)
{
	fs_node *node, *victim;
	char *copy = strdup(new_name);

	pthread_mutex_lock(&nodes->lock);
	if ((victim = fs_nodes_find_locked(nodes, new_parent, new_name)) != NULL)
		detach_locked(nodes, victim);
	node = fs_nodes_find_locked(nodes, parent, name);
	if (node && copy) {
		unlink_name(nodes, node);
		free(node->name);
		node->name = copy;
		copy = NULL;
		fs_node *old_parent = node->parent;
		node->parent = new_parent;
		link_name(nodes, node);
		if (old_parent != new_parent) {
			new_parent->lookups++;
			old_parent->lookups--;
			release_locked(nodes, old_parent);
		}
	} else if (node) {
		detach_locked(nodes, node);
	}
	pthread_mutex_unlock(&nodes->lock);
	free(copy);
}

bool fs_nodes_path(fs_nodes *nodes, fs_node *node, char *buf, size_t len)
{
	size_t total = 0, pos;
	bool ok = len > 0;

	pthread_mutex_lock(&nodes->lock);
	/* Measured first and filled from the end: depth is bounded only by
	 * the length of the path, never by a count of its parts. */
	for (fs_node *n = node; ok && n && n->type == FS_NODE_ENTRY; n = n->parent) {
		if (n->detached)
			ok = false;
		total += strlen(n->name) + (total ? 1 : 0);
	}
	if (ok && total + 1 > len)
		ok = false;
	if (ok) {
		buf[pos = total] = '\0';
		for (fs_node *n = node; n && n->type == FS_NODE_ENTRY; n = n->parent) {
			size_t k = strlen(n->name);
			if (pos < total)
				buf[--pos] = '/';
			pos -= k;
			memcpy(buf + pos, n->name, k);
		}
	} else if (len) {
		buf[0] = '\0';
	}
	pthread_mutex_unlock(&nodes->lock);
	return ok;
}
