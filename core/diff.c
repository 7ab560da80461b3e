/*
 * diff.c - differences between two trees.
 *
 * Both trees are walked together in name order and a subtree is entered
 * only when it is a directory on both sides with different ids, so the
 * objects read grow with the changes times the depth, never with the
 * size of the trees.  "Path order" is the order of that walk: paths
 * compared component by component, which is what a reader of a listing
 * expects ("a/x" before "a.b", since "a" sorts before "a.b").
 */
#include "diff.h"
#include "pathbuf.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

typedef struct diff_walk {
	mesh_odb *odb;
	mesh_diff_cb cb;
	void *ctx;
	mesh_pathbuf path;   /* the current path, grown as the walk descends */
} diff_walk;

bool mesh_tree_entry_same(const mesh_tree_entry *a, const mesh_tree_entry *b)
{
	return a->kind == b->kind && a->mode == b->mode && a->uid == b->uid &&
	       a->gid == b->gid && a->rdev == b->rdev &&
	       mesh_oid_cmp(&a->id, &b->id) == 0;
}

const char *mesh_diff_type_name(mesh_diff_type type)
{
	switch (type) {
	case MESH_DIFF_ADDED:
		return "added";
	case MESH_DIFF_REMOVED:
		return "removed";
	case MESH_DIFF_CHANGED:
		return "changed";
	}
	return "unknown";
}

/* The callback sees entries without names: the path says where they are. */
static int report(diff_walk *w, mesh_diff_type type,
		  const mesh_tree_entry *old, const mesh_tree_entry *new_)
{
	mesh_tree_entry o, n;

	if (old) {
		o = *old;
		o.name = NULL;
	}
	if (new_) {
		n = *new_;
		n.name = NULL;
	}
	return w->cb(w->ctx, w->path.path, type, old ? &o : NULL, new_ ? &n : NULL);
}

static int diff_dirs(diff_walk *w, const mesh_oid *a, const mesh_oid *b);

/* Diffs what sits at w->path on each side (NULL: nothing). */
static int diff_entries(diff_walk *w, const mesh_tree_entry *old,
			const mesh_tree_entry *new_)
{
	int rc;

	if (!old && !new_)
		return 0;
	if (!old)
		return report(w, MESH_DIFF_ADDED, NULL, new_);
	if (!new_)
		return report(w, MESH_DIFF_REMOVED, old, NULL);
	if (old->kind != new_->kind) {
		rc = report(w, MESH_DIFF_REMOVED, old, NULL);
		return rc ? rc : report(w, MESH_DIFF_ADDED, NULL, new_);
	}
	if (old->kind != MESH_KIND_DIR)
		return mesh_tree_entry_same(old, new_) ? 0 :
			report(w, MESH_DIFF_CHANGED, old, new_);
	/* A chmod of a directory changes nothing below it and would be
	 * invisible if only descendants were reported. */
	if ((old->mode != new_->mode || old->uid != new_->uid || old->gid != new_->gid) &&
	    (rc = report(w, MESH_DIFF_CHANGED, old, new_)) != 0)
		return rc;
	if (mesh_oid_cmp(&old->id, &new_->id) == 0)
		return 0;
	return diff_dirs(w, &old->id, &new_->id);
}

static int load_or_empty(mesh_odb *odb, const mesh_oid *id, mesh_tree **out,
			 mesh_tree *empty)
{
	if (!id) {
		*out = empty;
		return 0;
	}
	return mesh_tree_load(odb, id, out);
}

static int diff_children(diff_walk *w, const mesh_tree *ta,
			 const mesh_tree *tb)
{
	size_t i = 0, j = 0;
	int rc = 0;

	while (rc == 0 && (i < ta->count || j < tb->count)) {
		const mesh_tree_entry *ea = i < ta->count ? &ta->entries[i] : NULL;
		const mesh_tree_entry *eb = j < tb->count ? &tb->entries[j] : NULL;
		int c = !ea ? 1 : !eb ? -1 : strcmp(ea->name, eb->name);
		size_t saved = 0;

		if (c > 0)
			ea = NULL;
		else if (c < 0)
			eb = NULL;
		rc = mesh_pathbuf_push(&w->path, ea ? ea->name : eb->name, &saved);
		if (rc < 0)
			break;
		rc = diff_entries(w, ea, eb);
		mesh_pathbuf_pop(&w->path, saved);
		i += ea != NULL;
		j += eb != NULL;
	}
	return rc;
}

/* Either id may be NULL: the empty tree. */
static int diff_dirs(diff_walk *w, const mesh_oid *a, const mesh_oid *b)
{
	mesh_tree empty = { 0, NULL }, *ta = NULL, *tb = NULL;
	int rc;

	if ((rc = load_or_empty(w->odb, a, &ta, &empty)) < 0)
		return rc;
	if ((rc = load_or_empty(w->odb, b, &tb, &empty)) < 0) {
		if (ta != &empty)
			mesh_tree_free(ta);
		return rc;
	}
	rc = diff_children(w, ta, tb);
	if (ta != &empty)
		mesh_tree_free(ta);
	if (tb != &empty)
		mesh_tree_free(tb);
	return rc;
}

/* The entry at path below root; *found false when there is none. */
static int lookup_side(mesh_odb *odb, const mesh_oid *root, const char *path,
		       mesh_tree_entry *out, bool *found)
{
	int rc;

	*found = false;
	if (!root)
		return 0;
	rc = mesh_tree_lookup_path(odb, root, path, out);
	if (rc == MESH_ENOENT || rc == MESH_ENOTDIR) {
		mesh_error_clear();
		return 0;
	}
	if (rc < 0)
		return rc;
	*found = true;
	return 0;
}

/* Copies prefix without empty components, so reported paths are
 * canonical ("/a//b/" -> "a/b"). */
static int prefix_normalize(const char *prefix, diff_walk *w)
{
	size_t plen = strlen(prefix), start = 0;
	char *name = malloc(plen + 1);
	int rc = 0;

	if (!name)
		return mesh_error_oom();
	while (rc == 0 && start < plen) {
		size_t end = start, saved = 0;

		while (end < plen && prefix[end] != '/')
			end++;
		if (end > start) {
			memcpy(name, prefix + start, end - start);
			name[end - start] = '\0';
			rc = mesh_pathbuf_push(&w->path, name, &saved);
		}
		start = end + 1;
	}
	free(name);
	return rc;
}

static int diff_prefix(diff_walk *w, const mesh_oid *a, const mesh_oid *b,
		       const char *prefix)
{
	mesh_tree_entry ea, eb;
	bool has_a, has_b;
	int rc;

	if ((rc = lookup_side(w->odb, a, prefix, &ea, &has_a)) < 0 ||
	    (rc = lookup_side(w->odb, b, prefix, &eb, &has_b)) < 0)
		return rc;
	if ((rc = prefix_normalize(prefix, w)) < 0)
		return rc;
	if (w->path.len == 0) /* "/" and the like: the whole tree */
		return diff_dirs(w, a, b);
	return diff_entries(w, has_a ? &ea : NULL, has_b ? &eb : NULL);
}

int mesh_diff_trees(mesh_odb *odb, const mesh_oid *a, const mesh_oid *b,
		    const char *prefix, mesh_diff_cb cb, void *ctx)
{
	diff_walk w = { odb, cb, ctx, { NULL, 0, 0 } };
	size_t saved;
	int rc;

	if (!odb || !cb)
		return mesh_error_set(MESH_EINVAL,
				      "diff needs an object store and a callback");
	if ((rc = mesh_pathbuf_push(&w.path, "", &saved)) < 0)
		return rc;
	if (a && b && mesh_oid_cmp(a, b) == 0)
		rc = 0;
	else if (prefix && *prefix)
		rc = diff_prefix(&w, a, b, prefix);
	else
		rc = diff_dirs(&w, a, b);
	mesh_pathbuf_dispose(&w.path);
	return rc;
}
