#include "treecache.h"
#include "error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct mesh_tree_ref {
	mesh_oid id;
	mesh_tree *tree;
	unsigned refs;
	int evicted;
	struct mesh_tree_ref *hash_next;
	struct mesh_tree_ref *lru_prev, *lru_next;   /* most recent first */
};
typedef struct mesh_tree_ref cached_tree;

struct mesh_treecache {
	mesh_odb *odb;
	pthread_mutex_t lock;
	size_t max_trees, count, nbuckets;
	cached_tree **buckets;
	cached_tree *lru_head, *lru_tail;
	/* Trees still referenced after eviction, found again on release. */
	cached_tree *orphans;
};

static size_t bucket_of(const mesh_treecache *c, const mesh_oid *id)
{
	size_t h;

	memcpy(&h, id->id, sizeof(h));
	return h % c->nbuckets;
}

int mesh_treecache_new(mesh_treecache **out, mesh_odb *odb, size_t max_trees)
{
	mesh_treecache *c = calloc(1, sizeof(*c));

	if (!c)
		return mesh_error_oom();
	c->odb = odb;
	c->max_trees = max_trees ? max_trees : 1;
	c->nbuckets = c->max_trees * 2 + 1;
	if (!(c->buckets = calloc(c->nbuckets, sizeof(*c->buckets)))) {
		free(c);
		return mesh_error_oom();
	}
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	return 0;
}

static void free_entry(cached_tree *e)
{
	mesh_tree_free(e->tree);
	free(e);
}

void mesh_treecache_free(mesh_treecache *c)
{
	if (!c)
		return;
	for (cached_tree *e = c->lru_head, *next; e; e = next) {
		next = e->lru_next;
		free_entry(e);
	}
	for (cached_tree *e = c->orphans, *next; e; e = next) {
		next = e->hash_next;
		free_entry(e);
	}
	pthread_mutex_destroy(&c->lock);
	free(c->buckets);
	free(c);
}

static void lru_unlink(mesh_treecache *c, cached_tree *e)
{
	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	else
		c->lru_head = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		c->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void lru_push_front(mesh_treecache *c, cached_tree *e)
{
	e->lru_next = c->lru_head;
	e->lru_prev = NULL;
	if (c->lru_head)
		c->lru_head->lru_prev = e;
	c->lru_head = e;
	if (!c->lru_tail)
		c->lru_tail = e;
}

static void hash_unlink(mesh_treecache *c, cached_tree *e)
{
	cached_tree **p = &c->buckets[bucket_of(c, &e->id)];

	while (*p && *p != e)
		p = &(*p)->hash_next;
	if (*p)
		*p = e->hash_next;
	e->hash_next = NULL;
}

static void evict_one(mesh_treecache *c)
{
	cached_tree *victim = c->lru_tail;

	lru_unlink(c, victim);
	hash_unlink(c, victim);
	c->count--;
	if (victim->refs == 0) {
		free_entry(victim);
		return;
	}
	victim->evicted = 1;
	victim->hash_next = c->orphans;
	c->orphans = victim;
}

static cached_tree *find_locked(mesh_treecache *c, const mesh_oid *id)
{
	for (cached_tree *e = c->buckets[bucket_of(c, id)]; e; e = e->hash_next)
		if (mesh_oid_cmp(&e->id, id) == 0)
			return e;
	return NULL;
}

const mesh_tree *mesh_tree_ref_tree(const mesh_tree_ref *ref)
{
	return ref->tree;
}

int mesh_treecache_get(mesh_treecache *c, const mesh_oid *id,
		       mesh_tree_ref **out)
{
	cached_tree *e;
	mesh_tree *tree;
	int error;

	/* A hit reads nothing: told to a running garbage collection as a
	 * read would be. */
	if ((error = mesh_odb_touch(c->odb, id)) < 0)
		return error;
	pthread_mutex_lock(&c->lock);
	if ((e = find_locked(c, id)) != NULL) {
		e->refs++;
		lru_unlink(c, e);
		lru_push_front(c, e);
		*out = e;
		pthread_mutex_unlock(&c->lock);
		return 0;
	}
	pthread_mutex_unlock(&c->lock);

	/* Load outside the lock: parsing must not stall other lookups. */
	if ((error = mesh_tree_load(c->odb, id, &tree)) < 0)
		return error;
	if (!(e = calloc(1, sizeof(*e)))) {
		mesh_tree_free(tree);
		return mesh_error_oom();
	}
	e->id = *id;
	e->tree = tree;
	e->refs = 1;

	pthread_mutex_lock(&c->lock);
	cached_tree *raced = find_locked(c, id);
	if (raced) {
		raced->refs++;
		*out = raced;
		pthread_mutex_unlock(&c->lock);
		free_entry(e);
		return 0;
	}
	while (c->count >= c->max_trees && c->lru_tail)
		evict_one(c);
	size_t b = bucket_of(c, id);
	e->hash_next = c->buckets[b];
	c->buckets[b] = e;
	lru_push_front(c, e);
	c->count++;
	*out = e;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

void mesh_treecache_release(mesh_treecache *c, mesh_tree_ref *e)
{
	cached_tree **p;

	if (!e)
		return;
	pthread_mutex_lock(&c->lock);
	if (--e->refs == 0 && e->evicted) {
		for (p = &c->orphans; *p != e; p = &(*p)->hash_next)
			;
		*p = e->hash_next;
		free_entry(e);
	}
	pthread_mutex_unlock(&c->lock);
}
