/*
 * merge.c - three-way merges of trees and merge bases of commits.
 *
 * The tree merge decides each path from its three versions (base, ours,
 * theirs) and descends only into directories that changed on both
 * sides; a subtree equal on two sides is settled by its id alone, so a
 * merge reads objects in proportion to the changes, not to the data.
 *
 * Conflicts come out in the order of the walk, the same path order as
 * mesh_diff_trees: by path, compared component by component.
 *
 * The merge base walks the whole history of both commits rather than
 * stopping early by commit time as git does: commit times here come from
 * the clocks of many writers and may be skewed, and a walk that trusts
 * them can return an ancestor that is not a best one.
 */
#include "merge.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "commit.h"
#include "diff.h"
#include "error.h"

/* ---- names ------------------------------------------------------------ */

int mesh_merge_strategy_parse(const char *name, mesh_merge_strategy *out)
{
	if (name && strcmp(name, "dest-wins") == 0) {
		*out = MESH_MERGE_DEST_WINS;
		return 0;
	}
	if (name && strcmp(name, "source-wins") == 0) {
		*out = MESH_MERGE_SOURCE_WINS;
		return 0;
	}
	return mesh_error_set(MESH_EINVAL,
		"unknown merge strategy '%s': choose dest-wins or source-wins",
		name ? name : "");
}

const char *mesh_conflict_kind_name(mesh_conflict_kind kind)
{
	switch (kind) {
	case MESH_CONFLICT_BOTH_CHANGED:
		return "both-changed";
	case MESH_CONFLICT_CHANGE_DELETE:
		return "change-delete";
	case MESH_CONFLICT_DELETE_CHANGE:
		return "delete-change";
	case MESH_CONFLICT_FILE_DIR:
		return "file-dir";
	}
	return "unknown";
}

/* ---- tree merge ------------------------------------------------------- */

typedef struct merge_ctx {
	mesh_odb *odb;
	mesh_merge_strategy strategy;
	mesh_merge_result *result;
	size_t conflict_cap;
} merge_ctx;

/* The three versions of one path; NULL where it does not exist. */
typedef struct triple {
	const mesh_tree_entry *base;
	const mesh_tree_entry *ours;
	const mesh_tree_entry *theirs;
} triple;

static bool same_side(const mesh_tree_entry *a, const mesh_tree_entry *b)
{
	if (!a || !b)
		return a == b;
	return mesh_tree_entry_same(a, b);
}

static bool is_dir(const mesh_tree_entry *e)
{
	return e && e->kind == MESH_KIND_DIR;
}

static char *path_join(const char *dir, const char *name)
{
	size_t dlen = strlen(dir), nlen = strlen(name);
	char *p = malloc(dlen + 1 + nlen + 1);

	if (!p)
		return NULL;
	memcpy(p, dir, dlen);
	if (dlen)
		p[dlen++] = '/';
	memcpy(p + dlen, name, nlen + 1);
	return p;
}

static int conflict_add(merge_ctx *m, const char *path, mesh_conflict_kind kind)
{
	mesh_merge_result *r = m->result;
	char *copy = strdup(path);

	if (!copy)
		return mesh_error_oom();
	if (r->conflict_count == m->conflict_cap) {
		size_t cap = m->conflict_cap ? 2 * m->conflict_cap : 8;
		mesh_conflict *grown = realloc(r->conflicts, cap * sizeof(*grown));

		if (!grown) {
			free(copy);
			return mesh_error_oom();
		}
		r->conflicts = grown;
		m->conflict_cap = cap;
	}
	r->conflicts[r->conflict_count].path = copy;
	r->conflicts[r->conflict_count].kind = kind;
	r->conflict_count++;
	return 0;
}

static mesh_conflict_kind conflict_kind(const triple *t)
{
	if (t->ours && t->theirs)
		return is_dir(t->ours) != is_dir(t->theirs) ?
			MESH_CONFLICT_FILE_DIR : MESH_CONFLICT_BOTH_CHANGED;
	return t->ours ? MESH_CONFLICT_CHANGE_DELETE :
		MESH_CONFLICT_DELETE_CHANGE;
}

/* A growing list of the merged entries of one directory; names are
 * borrowed from the loaded trees. */
typedef struct entry_list {
	mesh_tree_entry *items;
	size_t count;
	size_t cap;
} entry_list;

static int entry_list_add(entry_list *l, const mesh_tree_entry *e)
{
	if (l->count == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		mesh_tree_entry *grown = realloc(l->items, cap * sizeof(*grown));

		if (!grown)
			return mesh_error_oom();
		l->items = grown;
		l->cap = cap;
	}
	l->items[l->count++] = *e;
	return 0;
}

static int merge_dirs(merge_ctx *m, const mesh_oid *base,
		      const mesh_oid *ours, const mesh_oid *theirs,
		      const char *path, mesh_oid *out);

/* A directory's own mode merges like a file would, but a clash keeps
 * ours: a permission disagreement is not worth stopping a merge for. */
static uint32_t merged_dir_mode(const triple *t)
{
	if (t->ours->mode == t->theirs->mode)
		return t->ours->mode;
	if (is_dir(t->base) && t->base->mode == t->ours->mode)
		return t->theirs->mode;
	return t->ours->mode;
}

/* A directory's owner merges as its mode does: theirs only when ours
 * kept the base's. */
static void merged_dir_owner(const triple *t, mesh_tree_entry *out)
{
	if (is_dir(t->base) && t->base->uid == t->ours->uid && t->base->gid == t->ours->gid) {
		out->uid = t->theirs->uid;
		out->gid = t->theirs->gid;
	}
}

/* Both sides hold a directory that changed: merge their contents.  A
 * base that was a file counts as absent: both sides replaced it with a
 * directory, and their files are each new. */
static int merge_subdirs(merge_ctx *m, const triple *t, const char *path,
			 mesh_tree_entry *out)
{
	const mesh_oid *base = is_dir(t->base) ? &t->base->id : NULL;

	*out = *t->ours;
	out->mode = merged_dir_mode(t);
	merged_dir_owner(t, out);
	return merge_dirs(m, base, &t->ours->id, &t->theirs->id, path,
			  &out->id);
}

/* Decides one path; *out gets the merged entry, or NULL for none. */
static int merge_path(merge_ctx *m, const triple *t, const char *path,
		      mesh_tree_entry *buf, const mesh_tree_entry **out)
{
	const mesh_tree_entry *winner;
	int rc;

	*out = NULL;
	if (same_side(t->ours, t->theirs) || same_side(t->base, t->theirs)) {
		*out = t->ours;
		return 0;
	}
	if (same_side(t->base, t->ours)) {
		*out = t->theirs;
		return 0;
	}
	if (is_dir(t->ours) && is_dir(t->theirs)) {
		if ((rc = merge_subdirs(m, t, path, buf)) < 0)
			return rc;
		*out = buf;
		return 0;
	}
	if (m->strategy == MESH_MERGE_FAIL)
		return conflict_add(m, path, conflict_kind(t));
	winner = m->strategy == MESH_MERGE_DEST_WINS ? t->ours : t->theirs;
	m->result->resolved_count++;
	*out = winner;
	return 0;
}

static const mesh_tree_entry *take_if(const mesh_tree *tree, size_t *i,
				      const char *name)
{
	if (!tree || *i >= tree->count || strcmp(tree->entries[*i].name, name))
		return NULL;
	return &tree->entries[(*i)++];
}

/* The smallest name not yet visited in any of the trees, or NULL. */
static const char *next_name(const mesh_tree *const trees[3],
			     const size_t idx[3])
{
	const char *min = NULL;

	for (int k = 0; k < 3; k++) {
		const mesh_tree *tr = trees[k];

		if (tr && idx[k] < tr->count &&
		    (!min || strcmp(tr->entries[idx[k]].name, min) < 0))
			min = tr->entries[idx[k]].name;
	}
	return min;
}

static int merge_children(merge_ctx *m, const mesh_tree *const trees[3],
			  const char *path, entry_list *merged)
{
	size_t idx[3] = { 0, 0, 0 };
	const char *name;
	int rc = 0;

	while (rc == 0 && (name = next_name(trees, idx)) != NULL) {
		triple t;
		mesh_tree_entry buf;
		const mesh_tree_entry *out;
		char *child = path_join(path, name);

		if (!child)
			return mesh_error_oom();
		t.base = take_if(trees[0], &idx[0], name);
		t.ours = take_if(trees[1], &idx[1], name);
		t.theirs = take_if(trees[2], &idx[2], name);
		rc = merge_path(m, &t, child, &buf, &out);
		free(child);
		if (rc == 0 && out)
			rc = entry_list_add(merged, out);
	}
	return rc;
}

static void free_trees(mesh_tree *trees[3])
{
	for (int k = 0; k < 3; k++)
		mesh_tree_free(trees[k]);
}

/* Merges three directories (base may be NULL) into a new tree *out. */
static int merge_dirs(merge_ctx *m, const mesh_oid *base,
		      const mesh_oid *ours, const mesh_oid *theirs,
		      const char *path, mesh_oid *out)
{
	mesh_tree *trees[3] = { NULL, NULL, NULL };
	const mesh_oid *ids[3] = { base, ours, theirs };
	entry_list merged = { NULL, 0, 0 };
	int rc = 0;

	for (int k = 0; k < 3 && rc == 0; k++)
		if (ids[k])
			rc = mesh_tree_load(m->odb, ids[k], &trees[k]);
	if (rc == 0)
		rc = merge_children(m, (const mesh_tree *const *)trees, path,
				    &merged);
	/* With a conflict the merge produces nothing, so writing trees
	 * would only leave garbage; the walk goes on to find the rest. */
	if (rc == 0 && m->result->conflict_count == 0)
		rc = mesh_tree_write(m->odb, merged.items, merged.count, out);
	free(merged.items);
	free_trees(trees);
	return rc;
}

typedef struct change_count {
	size_t count;
	char *last_removed;
} change_count;

/* Counts paths, so a kind change (removed, then added at the same path)
 * is one change. */
static int count_change(void *ctx, const char *path, mesh_diff_type type,
			const mesh_tree_entry *old, const mesh_tree_entry *new_)
{
	change_count *cc = ctx;

	(void)old; (void)new_;
	if (type == MESH_DIFF_ADDED && cc->last_removed &&
	    strcmp(cc->last_removed, path) == 0)
		return 0;
	cc->count++;
	if (type == MESH_DIFF_REMOVED) {
		free(cc->last_removed);
		if (!(cc->last_removed = strdup(path)))
			return mesh_error_oom();
	}
	return 0;
}

static int count_changes(mesh_odb *odb, const mesh_oid *ours,
			 mesh_merge_result *r)
{
	change_count cc = { 0, NULL };
	int rc = mesh_diff_trees(odb, ours, &r->tree, NULL, count_change, &cc);

	free(cc.last_removed);
	r->changes = cc.count;
	return rc;
}

static int merge_roots(merge_ctx *m, const mesh_oid *base,
		       const mesh_oid *ours, const mesh_oid *theirs)
{
	mesh_merge_result *r = m->result;

	if (mesh_oid_cmp(ours, theirs) == 0 ||
	    (base && mesh_oid_cmp(base, theirs) == 0)) {
		r->tree = *ours;
		return 0;
	}
	if (base && mesh_oid_cmp(base, ours) == 0) {
		r->tree = *theirs;
		return 0;
	}
	return merge_dirs(m, base, ours, theirs, "", &r->tree);
}

int mesh_merge_trees(mesh_odb *odb, const mesh_oid *base, const mesh_oid *ours,
		     const mesh_oid *theirs, mesh_merge_strategy strategy,
		     mesh_merge_result *result)
{
	merge_ctx m = { odb, strategy, result, 0 };
	int rc;

	if (!result)
		return mesh_error_set(MESH_EINVAL, "merge needs a result to fill");
	memset(result, 0, sizeof(*result));
	if (!odb || !ours || !theirs)
		return mesh_error_set(MESH_EINVAL,
				      "merge needs an object store and both trees");
	if (strategy != MESH_MERGE_FAIL && strategy != MESH_MERGE_DEST_WINS &&
	    strategy != MESH_MERGE_SOURCE_WINS)
		return mesh_error_set(MESH_EINVAL, "unknown merge strategy %d",
				      (int)strategy);
	rc = merge_roots(&m, base, ours, theirs);
	if (rc == 0 && result->conflict_count == 0)
		rc = count_changes(odb, ours, result);
	if (rc < 0)
		mesh_merge_result_free(result);
	return rc;
}

void mesh_merge_result_free(mesh_merge_result *result)
{
	if (!result)
		return;
	for (size_t i = 0; i < result->conflict_count; i++)
		free(result->conflicts[i].path);
	free(result->conflicts);
	memset(result, 0, sizeof(*result));
}

/* ---- commit graph ----------------------------------------------------- */

#define FROM_A 1u
#define FROM_B 2u
#define STALE 4u
#define NO_NODE SIZE_MAX

typedef struct graph_node {
	mesh_oid id;
	int64_t time;
	size_t parent_count;
	size_t *parents;     /* node indexes, filled by graph_link() */
	mesh_oid *parent_ids;
	unsigned flags;
} graph_node;

/* The commits loaded so far, found by id through an open-addressing
 * table of node indexes. */
typedef struct graph {
	mesh_odb *odb;
	graph_node *nodes;
	size_t count;
	size_t cap;
	size_t *slots;       /* NO_NODE = empty */
	size_t slot_count;   /* a power of two */
} graph;

static size_t oid_hash(const mesh_oid *id)
{
	size_t h;

	/* The ids are SHA-256: any of their bytes are already uniform. */
	memcpy(&h, id->id, sizeof(h));
	return h;
}

static size_t graph_find(const graph *g, const mesh_oid *id)
{
	size_t mask = g->slot_count - 1;

	for (size_t s = oid_hash(id) & mask;; s = (s + 1) & mask) {
		size_t n = g->slots[s];

		if (n == NO_NODE || mesh_oid_cmp(&g->nodes[n].id, id) == 0)
			return n;
	}
}

static int graph_rehash(graph *g, size_t slot_count)
{
	size_t *slots = malloc(slot_count * sizeof(*slots));
	size_t mask = slot_count - 1;

	if (!slots)
		return mesh_error_oom();
	for (size_t s = 0; s < slot_count; s++)
		slots[s] = NO_NODE;
	for (size_t n = 0; n < g->count; n++) {
		size_t s = oid_hash(&g->nodes[n].id) & mask;

		while (slots[s] != NO_NODE)
			s = (s + 1) & mask;
		slots[s] = n;
	}
	free(g->slots);
	g->slots = slots;
	g->slot_count = slot_count;
	return 0;
}

static int graph_init(graph *g, mesh_odb *odb)
{
	memset(g, 0, sizeof(*g));
	g->odb = odb;
	return graph_rehash(g, 64);
}

static void graph_free(graph *g)
{
	for (size_t n = 0; n < g->count; n++) {
		free(g->nodes[n].parents);
		free(g->nodes[n].parent_ids);
	}
	free(g->nodes);
	free(g->slots);
}

/* Makes room for one more node, keeping the table at most half full. */
static int graph_reserve(graph *g)
{
	int rc;

	if (g->count == g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 32;
		graph_node *grown = realloc(g->nodes, cap * sizeof(*grown));

		if (!grown)
			return mesh_error_oom();
		g->nodes = grown;
		g->cap = cap;
	}
	if (2 * (g->count + 1) > g->slot_count &&
	    (rc = graph_rehash(g, 2 * g->slot_count)) < 0)
		return rc;
	return 0;
}

/* Loads commit id unless known; *out gets its node index. */
static int graph_add(graph *g, const mesh_oid *id, size_t *out)
{
	mesh_commit *c;
	graph_node *node;
	size_t mask;
	int rc;

	if ((*out = graph_find(g, id)) != NO_NODE)
		return 0;
	if ((rc = graph_reserve(g)) < 0)
		return rc;
	if ((rc = mesh_commit_load(g->odb, id, &c)) < 0)
		return rc;
	node = &g->nodes[g->count];
	memset(node, 0, sizeof(*node));
	node->id = *id;
	node->time = c->time;
	node->parent_count = c->parent_count;
	node->parent_ids = c->parents;
	c->parents = NULL;
	mesh_commit_free(c);
	node->parents = malloc((node->parent_count ? node->parent_count : 1) *
			       sizeof(*node->parents));
	if (!node->parents) {
		free(node->parent_ids);
		return mesh_error_oom();
	}
	mask = g->slot_count - 1;
	for (size_t s = oid_hash(id) & mask;; s = (s + 1) & mask) {
		if (g->slots[s] == NO_NODE) {
			g->slots[s] = g->count;
			break;
		}
	}
	*out = g->count++;
	return 0;
}

typedef struct node_stack {
	size_t *items;
	size_t depth;
	size_t cap;
} node_stack;

static int stack_push(node_stack *st, size_t n)
{
	if (st->depth == st->cap) {
		size_t cap = st->cap ? 2 * st->cap : 64;
		size_t *grown = realloc(st->items, cap * sizeof(*grown));

		if (!grown)
			return mesh_error_oom();
		st->items = grown;
		st->cap = cap;
	}
	st->items[st->depth++] = n;
	return 0;
}

/* Loads the parents of node n, links them, and flags and pushes those
 * not flagged yet. */
static int paint_parents(graph *g, size_t n, unsigned flag, node_stack *st)
{
	for (size_t p = 0; p < g->nodes[n].parent_count; p++) {
		size_t pn;
		int rc;

		/* graph_add may move g->nodes: index afresh each time. */
		if ((rc = graph_add(g, &g->nodes[n].parent_ids[p], &pn)) < 0)
			return rc;
		g->nodes[n].parents[p] = pn;
		if (g->nodes[pn].flags & flag)
			continue;
		g->nodes[pn].flags |= flag;
		if ((rc = stack_push(st, pn)) < 0)
			return rc;
	}
	return 0;
}

/* Loads every ancestor of start (itself included) into the graph and
 * sets flag on them, linking each painted node to its parents. */
static int graph_paint(graph *g, const mesh_oid *start, unsigned flag)
{
	node_stack st = { NULL, 0, 0 };
	size_t first;
	int rc = graph_add(g, start, &first);

	if (rc < 0 || (g->nodes[first].flags & flag))
		return rc;
	g->nodes[first].flags |= flag;
	rc = stack_push(&st, first);
	while (rc == 0 && st.depth)
		rc = paint_parents(g, st.items[--st.depth], flag, &st);
	free(st.items);
	return rc;
}

/* Marks STALE every proper ancestor of a common ancestor: those are
 * never best.  Both paints have linked every parent index already. */
static int mark_stale(graph *g)
{
	size_t *stack = malloc((g->count ? g->count : 1) * sizeof(*stack));
	size_t depth = 0;

	if (!stack)
		return mesh_error_oom();
	for (size_t n = 0; n < g->count; n++) {
		graph_node *node = &g->nodes[n];

		if ((node->flags & (FROM_A | FROM_B)) != (FROM_A | FROM_B))
			continue;
		for (size_t p = 0; p < node->parent_count; p++) {
			size_t pn = node->parents[p];

			if (!(g->nodes[pn].flags & STALE)) {
				g->nodes[pn].flags |= STALE;
				stack[depth++] = pn;
			}
		}
	}
	while (depth) {
		graph_node *node = &g->nodes[stack[--depth]];

		for (size_t p = 0; p < node->parent_count; p++) {
			size_t pn = node->parents[p];

			if (!(g->nodes[pn].flags & STALE)) {
				g->nodes[pn].flags |= STALE;
				stack[depth++] = pn;
			}
		}
	}
	free(stack);
	return 0;
}

static bool better_base(const graph_node *x, const graph_node *y)
{
	if (x->time != y->time)
		return x->time > y->time;
	return mesh_oid_cmp(&x->id, &y->id) < 0;
}

static int pick_base(const graph *g, const mesh_oid *a, const mesh_oid *b,
		     mesh_oid *out)
{
	const graph_node *best = NULL;
	char ha[MESH_OID_HEXSZ + 1], hb[MESH_OID_HEXSZ + 1];

	for (size_t n = 0; n < g->count; n++) {
		const graph_node *node = &g->nodes[n];

		if ((node->flags & (FROM_A | FROM_B | STALE)) !=
		    (FROM_A | FROM_B))
			continue;
		if (!best || better_base(node, best))
			best = node;
	}
	if (best) {
		*out = best->id;
		return 0;
	}
	mesh_oid_fmt(ha, a);
	mesh_oid_fmt(hb, b);
	return mesh_error_set(MESH_ENOENT,
			      "commits %.12s and %.12s share no history", ha, hb);
}

int mesh_merge_base(mesh_odb *odb, const mesh_oid *a, const mesh_oid *b,
		    mesh_oid *out)
{
	graph g;
	int rc;

	if (!odb || !a || !b || !out)
		return mesh_error_set(MESH_EINVAL,
				      "merge base needs a store and two commits");
	if ((rc = graph_init(&g, odb)) < 0)
		return rc;
	if ((rc = graph_paint(&g, a, FROM_A)) == 0 &&
	    (rc = graph_paint(&g, b, FROM_B)) == 0 &&
	    (rc = mark_stale(&g)) == 0)
		rc = pick_base(&g, a, b, out);
	graph_free(&g);
	return rc;
}

int mesh_merge_is_ancestor(mesh_odb *odb, const mesh_oid *ancestor,
			   const mesh_oid *commit)
{
	graph g;
	size_t n;
	int rc;

	if (!odb || !ancestor || !commit)
		return mesh_error_set(MESH_EINVAL,
				      "is-ancestor needs a store and two commits");
	if ((rc = graph_init(&g, odb)) < 0)
		return rc;
	/* Loading the ancestor first makes an unknown id an error rather
	 * than a quiet "no". */
	if ((rc = graph_add(&g, ancestor, &n)) == 0 &&
	    (rc = graph_paint(&g, commit, FROM_A)) == 0)
		rc = (g.nodes[n].flags & FROM_A) ? 1 : 0;
	graph_free(&g);
	return rc;
}
