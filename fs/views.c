#include "views.h"
#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VIEWS_MIN_BUCKETS 256
#define VIEW_KEY_MAX 600

struct fs_view_slot {
	char *key;             /* "domain/branch" or "domain@commit-id" */
	mesh_view *view;
	unsigned holds;
	fs_view_slot *next;
};

static size_t key_hash(const char *key)
{
	uint64_t h = 1469598103934665603ull;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return (size_t)h;
}

static void branch_key(char *key, const char *domain, const char *branch)
{
	snprintf(key, VIEW_KEY_MAX, "%s/%s", domain, branch);
}

static void commit_key(char *key, const char *domain, const mesh_oid *commit)
{
	char hex[MESH_OID_HEXSZ + 1];

	mesh_oid_fmt(hex, commit);
	snprintf(key, VIEW_KEY_MAX, "%s@%s", domain, hex);
}

/* A view's key, rebuilt from what it shows. */
static void view_key(char *key, mesh_view *view)
{
	mesh_oid commit;

	if (mesh_view_is_branch(view)) {
		branch_key(key, mesh_view_domain(view), mesh_view_branch(view));
		return;
	}
	mesh_view_commit_id(view, &commit);
	commit_key(key, mesh_view_domain(view), &commit);
}

int fs_views_init(fs_views *views, mesh_store *store)
{
	memset(views, 0, sizeof(*views));
	views->store = store;
	views->nbuckets = VIEWS_MIN_BUCKETS;
	if (!(views->buckets = calloc(views->nbuckets, sizeof(*views->buckets))))
		return mesh_error_oom();
	pthread_mutex_init(&views->lock, NULL);
	return 0;
}

static void slot_free(fs_view_slot *slot)
{
	mesh_view_free(slot->view);
	free(slot->key);
	free(slot);
}

void fs_views_destroy(fs_views *views)
{
	if (!views->buckets)
		return;
	for (size_t b = 0; b < views->nbuckets; b++)
		for (fs_view_slot *s = views->buckets[b], *next; s; s = next) {
			next = s->next;
			slot_free(s);
		}
	free(views->buckets);
	pthread_mutex_destroy(&views->lock);
	memset(views, 0, sizeof(*views));
}

/* Lock held. */
static fs_view_slot **slot_link(fs_views *views, const char *key)
{
	fs_view_slot **p = &views->buckets[key_hash(key) % views->nbuckets];

	while (*p && strcmp((*p)->key, key) != 0)
		p = &(*p)->next;
	return p;
}

/* Doubles the table when it is full, so lookups stay O(1) with any
 * number of views; a failed allocation keeps the smaller table.  Lock
 * held. */
static void maybe_grow(fs_views *views)
{
	size_t n = views->nbuckets * 2;
	fs_view_slot **buckets;

	if (views->count < views->nbuckets || !(buckets = calloc(n, sizeof(*buckets))))
		return;
	for (size_t b = 0; b < views->nbuckets; b++)
		for (fs_view_slot *s = views->buckets[b], *next; s; s = next) {
			size_t to = key_hash(s->key) % n;
			next = s->next;
			s->next = buckets[to];
			buckets[to] = s;
		}
	free(views->buckets);
	views->buckets = buckets;
	views->nbuckets = n;
}

/* The held view under key, or NULL.  Lock held. */
static mesh_view *hold_locked(fs_views *views, const char *key)
{
	fs_view_slot *slot = *slot_link(views, key);

	if (!slot)
		return NULL;
	slot->holds++;
	return slot->view;
}

/* Adds a view opened outside the lock, unless another request was
 * first: then the caller gets that one and its own is freed. */
static int insert(fs_views *views, const char *key, mesh_view *view, mesh_view **out)
{
	fs_view_slot *slot;

	pthread_mutex_lock(&views->lock);
	if ((*out = hold_locked(views, key)) != NULL) {
		pthread_mutex_unlock(&views->lock);
		mesh_view_free(view);
		return 0;
	}
	if (!(slot = calloc(1, sizeof(*slot))) || !(slot->key = strdup(key))) {
		pthread_mutex_unlock(&views->lock);
		free(slot);
		mesh_view_free(view);
		return mesh_error_oom();
	}
	slot->view = view;
	slot->holds = 1;
	maybe_grow(views);
	slot->next = views->buckets[key_hash(key) % views->nbuckets];
	views->buckets[key_hash(key) % views->nbuckets] = slot;
	views->count++;
	pthread_mutex_unlock(&views->lock);
	*out = view;
	return 0;
}

static mesh_view *find(fs_views *views, const char *key)
{
	mesh_view *view;

	pthread_mutex_lock(&views->lock);
	view = hold_locked(views, key);
	pthread_mutex_unlock(&views->lock);
	return view;
}

/* The held view under key, opened by open_view when nobody has it. */
static int get(fs_views *views, const char *key, mesh_view **out,
	       int (*open_view)(fs_views *views, const void *what, mesh_view **view),
	       const void *what)
{
	mesh_view *view;
	int error;

	if ((*out = find(views, key)) != NULL)
		return 0;
	if ((error = open_view(views, what, &view)) < 0)
		return error;
	return insert(views, key, view, out);
}

typedef struct view_name {
	const char *domain;
	const char *branch;
	const mesh_oid *commit;
} view_name;

static int open_branch(fs_views *views, const void *what, mesh_view **view)
{
	const view_name *n = what;

	return mesh_view_open_branch(view, views->store, n->domain, n->branch);
}

static int open_commit(fs_views *views, const void *what, mesh_view **view)
{
	const view_name *n = what;

	return mesh_view_open_commit(view, views->store, n->domain, n->commit);
}

int fs_views_branch(fs_views *views, const char *domain, const char *branch,
		    mesh_view **out)
{
	view_name name = { domain, branch, NULL };
	char key[VIEW_KEY_MAX];

	branch_key(key, domain, branch);
	return get(views, key, out, open_branch, &name);
}

int fs_views_commit(fs_views *views, const char *domain, const mesh_oid *commit,
		    mesh_view **out)
{
	view_name name = { domain, NULL, commit };
	char key[VIEW_KEY_MAX];

	commit_key(key, domain, commit);
	return get(views, key, out, open_commit, &name);
}

void fs_views_hold(fs_views *views, mesh_view *view)
{
	char key[VIEW_KEY_MAX];

	view_key(key, view);
	pthread_mutex_lock(&views->lock);
	hold_locked(views, key);
	pthread_mutex_unlock(&views->lock);
}

void fs_views_put(fs_views *views, mesh_view *view)
{
	char key[VIEW_KEY_MAX];
	fs_view_slot **link, *slot = NULL;

	if (!view)
		return;
	view_key(key, view);
	pthread_mutex_lock(&views->lock);
	link = slot_link(views, key);
	if (*link && (*link)->view == view && --(*link)->holds == 0) {
		slot = *link;
		*link = slot->next;
		views->count--;
	}
	pthread_mutex_unlock(&views->lock);
	/* Freeing is memory only: this runs under the node table's lock
	 * (a view node's put), where nothing may write a log or do I/O. */
	if (slot)
		slot_free(slot);
}
