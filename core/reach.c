/*
 * reach.c - the reachability walk shared by fsck and gc.
 *
 * The set of ids seen is an open-addressing hash table keyed by the
 * first bytes of the id (SHA-256: already uniform).  Each entry also
 * says whether the object, or something below it, was found damaged,
 * and in which pass (one ref, one branch's staging, one extra root) it
 * was last walked: a later pass walks a damaged subtree again so that
 * every ref reaching damage gets it reported, and a clean one never.
 */
#include "reach.h"
#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "commit.h"
#include "domain.h"
#include "error.h"
#include "file.h"
#include "history.h"
#include "pathbuf.h"
#include "refs.h"
#include "oidset.h"
#include "stage.h"
#include "tree.h"

/* A seen id's value in the set: flags in the low bits, above them the
 * pass (one per ref walked) that last walked it. */
#define SEEN_USED 1u
#define SEEN_TAINTED 2u    /* the object or something below it is damaged */
#define SEEN_PASS_SHIFT 2

struct mesh_reach {
	mesh_store *store;
	mesh_odb *odb;
	unsigned flags;
	mesh_oidset *seen;         /* every id visited, about 36 bytes each */
	uint32_t pass;
	mesh_reach_stats stats;
	uint64_t visited;          /* objects, for the command's progress */
	/* The walk under way. */
	const mesh_reach_cbs *cbs;
	mesh_reach_where where;
	mesh_pathbuf path;
};

/* What a walk step says besides stopping: whether damage lies below. */
typedef struct step {
	bool tainted;
} step;

/* ---- the set of ids seen ----------------------------------------------- */

static uint32_t *seen_find(const mesh_reach *r, const mesh_oid *id)
{
	return mesh_oidset_value(r->seen, id);
}

static uint32_t pass_of(uint32_t seen)
{
	return seen >> SEEN_PASS_SHIFT;
}

static void set_pass(uint32_t *seen, uint32_t pass)
{
	*seen = (*seen & ((1u << SEEN_PASS_SHIFT) - 1)) | pass << SEEN_PASS_SHIFT;
}

/* The pointer is valid until the next insertion. */
static int seen_insert(mesh_reach *r, const mesh_oid *id, uint32_t **out)
{
	return mesh_oidset_put(r->seen, id, SEEN_USED | r->pass << SEEN_PASS_SHIFT, out);
}

bool mesh_reach_seen(const mesh_reach *r, const mesh_oid *id)
{
	return seen_find(r, id) != NULL;
}

static void mark_tainted(mesh_reach *r, const mesh_oid *id)
{
	uint32_t *e = seen_find(r, id);

	if (e)
		*e |= SEEN_TAINTED;
}

/*
 * Whether to walk id now: *walk is set the first time (after telling the
 * visitor) and when a damaged object is reached by a new pass; st says
 * whether damage is known below it.  Returns what stops the walk.
 */
static int visit(mesh_reach *r, mesh_otype type, const mesh_oid *id, bool *walk, step *st)
{
	uint32_t *e = seen_find(r, id);
	int error;

	*walk = false;
	if (e) {
		if (*e & SEEN_TAINTED) {
			st->tainted = true;
			if (pass_of(*e) != r->pass) {
				set_pass(e, r->pass);
				*walk = true;
			}
		}
		return 0;
	}
	if ((error = seen_insert(r, id, &e)) < 0)
		return error;
	r->stats.objects[type]++;
	if (++r->visited % 1024 == 0)
		mesh_progress_tick(mesh_store_progress(r->store), r->visited);
	*walk = true;
	if (r->cbs->object)
		return r->cbs->object(r->cbs->arg, &r->where, type, id);
	return 0;
}

/* ---- damage --------------------------------------------------------------- */

/*
 * Reports that id (NULL: a record) could not be read with error: a read
 * of a missing object says EIO like any other failure of a referenced
 * object, so absence is asked separately.  Running out of memory stops.
 */
static int damage(mesh_reach *r, mesh_otype type, const mesh_oid *id, int error, step *st)
{
	char message[1024];

	if (error == MESH_ENOMEM)
		return error;
	snprintf(message, sizeof(message), "%s", mesh_error_message());
	if (id && mesh_odb_exists(r->odb, id) == 0)
		error = MESH_ENOENT;
	mesh_error_clear();
	if (id)
		mark_tainted(r, id);
	st->tainted = true;
	r->stats.damaged++;
	if (r->cbs->damage)
		return r->cbs->damage(r->cbs->arg, &r->where, type, id, error, message);
	return 0;
}

static int set_path(mesh_reach *r, const char *path)
{
	int error = mesh_pathbuf_set(&r->path, path);

	r->where.path = r->path.path;
	return error;
}

/* ---- objects ---------------------------------------------------------------- */

static int walk_chunk(mesh_reach *r, const mesh_file_chunk *chunk, step *st)
{
	char hex[MESH_OID_HEXSZ + 1];
	mesh_odb_buf buf;
	bool walk, fresh = !seen_find(r, &chunk->id);
	int error, found;

	if ((error = visit(r, MESH_OBJ_CHUNK, &chunk->id, &walk, st)) != 0 || !walk)
		return error;
	if (fresh)
		r->stats.chunk_bytes += chunk->length;
	switch (r->flags & 3u) {
	case MESH_REACH_CHUNKS_EXIST:
		if ((found = mesh_odb_exists(r->odb, &chunk->id)) > 0)
			return 0;
		mesh_oid_fmt(hex, &chunk->id);
		if (found == 0)
			mesh_error_set(MESH_ENOENT, "object %s (chunk) is missing from the store", hex);
		return damage(r, MESH_OBJ_CHUNK, &chunk->id, found == 0 ? MESH_ENOENT : found, st);
	case MESH_REACH_CHUNKS_READ:
		if ((error = mesh_odb_read_buf(r->odb, &chunk->id, MESH_OBJ_CHUNK, &buf, NULL)) < 0)
			return damage(r, MESH_OBJ_CHUNK, &chunk->id, error, st);
		error = buf.len == chunk->length ? 0 : MESH_EIO;
		if (error < 0) {
			mesh_oid_fmt(hex, &chunk->id);
			mesh_error_set(MESH_EIO, "chunk %s holds %zu bytes, its file map says %u",
				       hex, buf.len, (unsigned)chunk->length);
		}
		mesh_odb_buf_free(&buf);
		return error < 0 ? damage(r, MESH_OBJ_CHUNK, &chunk->id, error, st) : 0;
	default:
		return 0;
	}
}

/* A file map and its chunks (a symlink's target is a file map too). */
static int walk_file(mesh_reach *r, const mesh_oid *id, step *st)
{
	mesh_file_map *map;
	step below = { false };
	bool walk;
	int error;

	if ((error = visit(r, MESH_OBJ_FILE, id, &walk, st)) != 0 || !walk)
		return error;
	if ((error = mesh_file_map_load(r->odb, id, &map)) < 0)
		return damage(r, MESH_OBJ_FILE, id, error, st);
	for (size_t i = 0; i < map->count && error == 0; i++)
		error = walk_chunk(r, &map->chunks[i], &below);
	mesh_file_map_free(map);
	if (below.tainted) {
		mark_tainted(r, id);
		st->tainted = true;
	}
	return error;
}

static int walk_tree(mesh_reach *r, const mesh_oid *id, step *st)
{
	mesh_tree *tree;
	step below = { false };
	bool walk;
	int error;

	if ((error = visit(r, MESH_OBJ_TREE, id, &walk, st)) != 0 || !walk)
		return error;
	if ((error = mesh_tree_load(r->odb, id, &tree)) < 0)
		return damage(r, MESH_OBJ_TREE, id, error, st);
	for (size_t i = 0; i < tree->count && error == 0; i++) {
		const mesh_tree_entry *e = &tree->entries[i];
		size_t old;
		if ((error = mesh_pathbuf_push(&r->path, e->name, &old)) < 0)
			break;
		r->where.path = r->path.path;
		/* Special files (FIFOs, sockets, devices) refer to nothing. */
		error = e->kind == MESH_KIND_DIR ? walk_tree(r, &e->id, &below) :
			mesh_kind_has_content(e->kind) ? walk_file(r, &e->id, &below) : 0;
		mesh_pathbuf_pop(&r->path, old);
	}
	mesh_tree_free(tree);
	if (below.tainted) {
		mark_tainted(r, id);
		st->tainted = true;
	}
	return error;
}

/* One commit and its tree; *commit_out (caller frees) when it was walked
 * and could be read, so that the caller follows its parents. */
static int walk_commit(mesh_reach *r, const mesh_oid *id, bool head, mesh_commit **commit_out)
{
	mesh_commit *commit;
	step st = { false }, below = { false };
	bool walk;
	int error;

	*commit_out = NULL;
	r->where.commit = id;
	r->where.path = NULL;
	r->where.head = head;
	if ((error = visit(r, MESH_OBJ_COMMIT, id, &walk, &st)) != 0 || !walk)
		return error;
	if ((error = mesh_commit_load(r->odb, id, &commit)) < 0)
		return damage(r, MESH_OBJ_COMMIT, id, error, &st);
	r->where.head = false;
	if ((error = set_path(r, "")) == 0)
		error = walk_tree(r, &commit->tree, &below);
	if (below.tainted)
		mark_tainted(r, id);
	if (error != 0) {
		mesh_commit_free(commit);
		return error;
	}
	*commit_out = commit;
	return 0;
}

/* A commit and, unless NO_HISTORY, everything it descends from. */
static int walk_history(mesh_reach *r, const mesh_oid *start)
{
	mesh_oid *stack = NULL;
	size_t count = 0, cap = 0;
	bool head = true;
	int error = 0;

	if ((error = mesh_array_grow(&stack, &cap, count, sizeof(*stack))) < 0)
		return error;
	stack[count++] = *start;
	while (count > 0 && error == 0) {
		mesh_oid id = stack[--count];
		mesh_commit *commit;

		error = walk_commit(r, &id, head, &commit);
		head = false;
		if (error != 0 || !commit)
			continue;
		for (size_t i = commit->parent_count; i-- > 0 && error == 0;) {
			if (r->flags & MESH_REACH_NO_HISTORY)
				break;
			if ((error = mesh_array_grow(&stack, &cap, count, sizeof(*stack))) == 0)
				stack[count++] = commit->parents[i];
		}
		mesh_commit_free(commit);
	}
	free(stack);
	r->where.commit = NULL;
	r->where.head = false;
	return error;
}

/* ---- staging ----------------------------------------------------------------- */

typedef struct staged_walk {
	mesh_reach *r;
	int stop;
	const mesh_oid *head;    /* the branch's head commit */
	int tree_state;          /* 0 not loaded, 1 tree valid, -1 unreadable */
	mesh_oid tree;
} staged_walk;

/*
 * A staged entry that only repeats what the head has at the same path (a
 * kept atime, the directories above a change) adds no damage of its own:
 * damage the head's pass (the one just before) found is reported once,
 * there.  Only asked for what that pass walked, damaged objects: a clean
 * one is never walked twice anyway.
 */
static bool repeats_head(staged_walk *sw, const char *path, const mesh_stage_entry *se)
{
	mesh_reach *r = sw->r;
	uint32_t *seen = seen_find(r, &se->id);
	mesh_tree_entry e;
	mesh_commit *commit;

	if (!seen || pass_of(*seen) != r->pass - 1)
		return false;
	if (sw->tree_state == 0) {
		sw->tree_state = -1;
		if (mesh_commit_load(r->odb, sw->head, &commit) == 0) {
			sw->tree = commit->tree;
			sw->tree_state = 1;
			mesh_commit_free(commit);
		}
	}
	if (sw->tree_state < 0 || mesh_tree_lookup_path(r->odb, &sw->tree, path, &e) < 0) {
		mesh_error_clear();
		return false;
	}
	return mesh_oid_cmp(&e.id, &se->id) == 0;
}

static int walk_staged_one(void *ctx, const char *path, const mesh_stage_entry *se)
{
	staged_walk *sw = ctx;
	mesh_reach *r = sw->r;
	step st = { false };
	int error;

	r->stats.staged++;
	if ((error = set_path(r, path)) < 0)
		return sw->stop = error;
	if (repeats_head(sw, path, se))
		return 0;
	if (se->kind == MESH_STAGE_FILE || se->kind == MESH_STAGE_SYMLINK)
		error = walk_file(r, &se->id, &st);
	else if (se->kind == MESH_STAGE_DIR && se->has_lower)
		error = walk_tree(r, &se->id, &st);
	return sw->stop = error;
}

static int walk_staging(mesh_reach *r, const char *branch, const mesh_oid *head)
{
	staged_walk sw = { r, 0, head, 0, { { 0 } } };
	step st = { false };
	int error;

	r->where.staged = true;
	r->where.commit = NULL;
	error = mesh_stage_list_tree(mesh_store_db(r->store), r->where.domain, branch, "",
				     walk_staged_one, &sw);
	if (sw.stop == 0 && error == MESH_EIO) {
		r->where.path = NULL;
		error = damage(r, MESH_OBJ_ANY, NULL, error, &st);
	}
	r->where.staged = false;
	r->where.path = NULL;
	return sw.stop != 0 ? sw.stop : error;
}

/* ---- refs and domains ------------------------------------------------------------ */

typedef struct ref_item {
	char name[300];
	mesh_oid target;
} ref_item;

typedef struct ref_list {
	ref_item *items;
	size_t count, cap;
} ref_list;

static int collect_ref(void *ctx, const char *name, const mesh_oid *oid)
{
	ref_list *l = ctx;
	int error = mesh_array_grow(&l->items, &l->cap, l->count, sizeof(*l->items));

	if (error < 0)
		return error;
	snprintf(l->items[l->count].name, sizeof(l->items[0].name), "%s", name);
	l->items[l->count++].target = *oid;
	return 0;
}

static int walk_domain(mesh_reach *r, const char *domain)
{
	ref_list refs = { 0 };
	step st = { false };
	int error;

	memset(&r->where, 0, sizeof(r->where));
	r->where.domain = domain;
	error = mesh_ref_list(mesh_store_refs(r->store), domain, "", collect_ref, &refs);
	/* A corrupt ref record ends the listing; the refs before it are walked. */
	if (error == MESH_EIO)
		error = damage(r, MESH_OBJ_ANY, NULL, error, &st);
	for (size_t i = 0; i < refs.count && error == 0; i++) {
		const ref_item *ref = &refs.items[i];

		r->pass++;
		r->stats.refs++;
		r->where.ref = ref->name;
		error = walk_history(r, &ref->target);
		if (error == 0 && strncmp(ref->name, "heads/", 6) == 0) {
			r->pass++;
			error = walk_staging(r, ref->name + 6, &ref->target);
		}
	}
	free(refs.items);
	memset(&r->where, 0, sizeof(r->where));
	return error;
}

/* ---- public ---------------------------------------------------------------------- */

int mesh_reach_new(mesh_reach **out, mesh_store *store, unsigned flags)
{
	mesh_reach *r;

	if ((flags & 3u) == 3u || (flags & ~(3u | MESH_REACH_NO_HISTORY)))
		return mesh_error_set(MESH_EINVAL, "bad reachability walk flags %#x", flags);
	if (!(r = calloc(1, sizeof(*r))))
		return mesh_error_oom();
	if (mesh_oidset_new(&r->seen) < 0) {
		free(r);
		return MESH_ENOMEM;
	}
	r->store = store;
	r->odb = mesh_store_odb(store);
	r->flags = flags;
	*out = r;
	return 0;
}

void mesh_reach_free(mesh_reach *r)
{
	if (!r)
		return;
	mesh_oidset_free(r->seen);
	mesh_pathbuf_dispose(&r->path);
	free(r);
}

int mesh_reach_run(mesh_reach *r, const char *domain, const mesh_reach_cbs *cbs)
{
	mesh_domain **domains = NULL, *one;
	size_t count = 0;
	int error;

	r->cbs = cbs;
	if (domain) {
		if ((error = mesh_domain_get(r->store, domain, &one)) < 0)
			return error;
		mesh_domain_free(one);
		return walk_domain(r, domain);
	}
	if ((error = mesh_domain_list(r->store, &domains, &count)) < 0)
		return error;
	for (size_t i = 0; i < count && error == 0; i++)
		error = walk_domain(r, domains[i]->name);
	mesh_domain_list_free(domains, count);
	return error;
}

int mesh_reach_commit(mesh_reach *r, const char *domain, const mesh_oid *commit,
		      const mesh_reach_cbs *cbs)
{
	int error;

	r->cbs = cbs;
	memset(&r->where, 0, sizeof(r->where));
	r->where.domain = domain;
	r->pass++;
	error = walk_history(r, commit);
	memset(&r->where, 0, sizeof(r->where));
	return error;
}

int mesh_reach_object(mesh_reach *r, const mesh_oid *id, const mesh_reach_cbs *cbs)
{
	mesh_file_chunk chunk = { .id = *id };
	step st = { false };
	mesh_otype type;
	int error;

	if (mesh_reach_seen(r, id))
		return 0;
	if ((error = mesh_odb_type(r->odb, id, &type)) < 0)
		return error;
	if (type == MESH_OBJ_COMMIT)
		return mesh_reach_commit(r, NULL, id, cbs);
	r->cbs = cbs;
	memset(&r->where, 0, sizeof(r->where));
	r->pass++;
	if ((error = set_path(r, "")) == 0) {
		if (type == MESH_OBJ_TREE)
			error = walk_tree(r, id, &st);
		else if (type == MESH_OBJ_FILE)
			error = walk_file(r, id, &st);
		else
			error = walk_chunk(r, &chunk, &st);
	}
	memset(&r->where, 0, sizeof(r->where));
	return error;
}

typedef struct recent_list {
	int64_t since;
	mesh_oid *ids;
	size_t count, cap;
} recent_list;

static int collect_recent(void *ctx, const mesh_history_indexed *c)
{
	recent_list *l = ctx;
	int error;

	if (c->known && c->time < l->since)
		return 0;
	if ((error = mesh_array_grow(&l->ids, &l->cap, l->count, sizeof(*l->ids))) < 0)
		return error;
	l->ids[l->count++] = c->id;
	return 0;
}

int mesh_reach_recent(mesh_reach *r, const char *domain, int64_t since,
		      const mesh_reach_cbs *cbs)
{
	recent_list l = { since, NULL, 0, 0 };
	int error = mesh_history_index_list(r->store, domain, collect_recent, &l);

	for (size_t i = 0; i < l.count && error == 0; i++)
		error = mesh_reach_commit(r, domain, &l.ids[i], cbs);
	free(l.ids);
	return error;
}

void mesh_reach_stats_get(const mesh_reach *r, mesh_reach_stats *out)
{
	*out = r->stats;
}
