#include "view.h"
#include "access.h"
#include "progress.h"
#include "array.h"
#include "domain.h"
#include "error.h"
#include "gate.h"
#include "hook.h"
#include "journal.h"
#include "history.h"
#include "lineage.h"
#include "stage.h"
#include "treecache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PATH_MAX_LEN 4096
#define NAME_MAX_LEN 255
#define STAGED_MEMO 4
#define STAGED_MEMO_PATH 256
#define CHANGE_MEMO_PUTS 4

/* A staged-entry lookup's answer, good while the database has taken no
 * write since it was read. */
typedef struct staged_memo {
	bool used;
	uint64_t seq;            /* mesh_db_sequence before the read */
	int found;
	mesh_stage_entry entry;
	char path[STAGED_MEMO_PATH];
} staged_memo;

#define NLINK_MEMO 16

typedef struct nlink_memo {
	bool used;
	uint64_t shape, generation;
	uint32_t nlink;
	char path[STAGED_MEMO_PATH];
} nlink_memo;

struct mesh_view {
	mesh_store *store;
	char *domain;
	char *branch;            /* NULL: read-only commit view */
	mesh_treecache *trees;   /* the store's, shared */
	pthread_mutex_t head_lock;
	mesh_oid head;           /* the commit shown */
	mesh_oid root;           /* its tree */
	int64_t head_time_ns;
	/* Set at open, then read-only: who owns the view's root (the
	 * domain's owner and group), and whom entries written before
	 * ownership was versioned show. */
	uint32_t root_uid, root_gid;
	uint32_t legacy_uid, legacy_gid;
	/* Bumped whenever what the view shows changes other than through its
	 * own path operations (reset, merge, revert...): cached content of
	 * open files is stale then. */
	atomic_uint_fast64_t generation;
	/* Creating a file asks about its directory three times (the kernel's
	 * getattr and lookup, then the create) with nothing written in
	 * between: the answers are kept for as long as that holds. */
	pthread_mutex_t memo_lock;
	staged_memo memo[STAGED_MEMO];
	unsigned memo_next;
	/* A staged directory's link count lists it (2 plus subdirectories),
	 * and the kernel asks after every create in it: counts are kept
	 * until a change that may add or remove a directory (any change but
	 * a file's content or creation) bumps dir_shape, or the head moves.
	 * nlink_memo is guarded by memo_lock. */
	atomic_uint_fast64_t dir_shape;
	nlink_memo nlinks[NLINK_MEMO];
	unsigned nlink_next;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int view_set_head(mesh_view *view, const mesh_oid *commit_id)
{
	mesh_commit *commit;
	int error = mesh_commit_load(mesh_store_odb(view->store), commit_id, &commit);

	if (error < 0)
		return error;
	pthread_mutex_lock(&view->head_lock);
	view->head = *commit_id;
	view->root = commit->tree;
	view->head_time_ns = commit->time * 1000000000;
	pthread_mutex_unlock(&view->head_lock);
	mesh_commit_free(commit);
	return 0;
}

static void view_owners(mesh_view *view)
{
	mesh_domain *domain;

	mesh_store_legacy_owner(view->store, &view->legacy_uid, &view->legacy_gid);
	view->root_uid = view->legacy_uid;
	view->root_gid = view->legacy_gid;
	/* A missing domain fails the open a moment later, naming it. */
	if (mesh_domain_get(view->store, view->domain, &domain) < 0) {
		mesh_error_clear();
		return;
	}
	mesh_domain_root_owner(domain, &view->root_uid, &view->root_gid);
	mesh_domain_free(domain);
}

static int view_new(mesh_view **out, mesh_store *store, const char *domain,
		    const char *branch)
{
	mesh_view *view = calloc(1, sizeof(*view));

	if (!view)
		return mesh_error_oom();
	pthread_mutex_init(&view->head_lock, NULL);
	pthread_mutex_init(&view->memo_lock, NULL);
	view->store = store;
	view->domain = strdup(domain);
	view->branch = branch ? strdup(branch) : NULL;
	if (!view->domain || (branch && !view->branch)) {
		mesh_view_free(view);
		return mesh_error_oom();
	}
	view->trees = mesh_store_trees(store);
	view_owners(view);
	*out = view;
	return 0;
}

int mesh_view_open_branch(mesh_view **out, mesh_store *store,
			  const char *domain, const char *branch)
{
	mesh_oid head;
	int error;

	*out = NULL;
	if ((error = mesh_history_branch_head(store, domain, branch, &head)) < 0 ||
	    (error = view_new(out, store, domain, branch)) < 0)
		return error;
	if ((error = view_set_head(*out, &head)) < 0) {
		mesh_view_free(*out);
		*out = NULL;
	}
	return error;
}

int mesh_view_open_commit(mesh_view **out, mesh_store *store,
			  const char *domain, const mesh_oid *commit)
{
	int error;

	*out = NULL;
	if ((error = view_new(out, store, domain, NULL)) < 0)
		return error;
	if ((error = view_set_head(*out, commit)) < 0) {
		mesh_view_free(*out);
		*out = NULL;
	}
	return error;
}

void mesh_view_free(mesh_view *view)
{
	if (!view)
		return;
	pthread_mutex_destroy(&view->head_lock);
	pthread_mutex_destroy(&view->memo_lock);
	free(view->domain);
	free(view->branch);
	free(view);
}

bool mesh_view_is_branch(const mesh_view *view) { return view->branch != NULL; }
const char *mesh_view_domain(const mesh_view *view) { return view->domain; }
const char *mesh_view_branch(const mesh_view *view) { return view->branch; }

void mesh_view_commit_id(mesh_view *view, mesh_oid *out)
{
	pthread_mutex_lock(&view->head_lock);
	*out = view->head;
	pthread_mutex_unlock(&view->head_lock);
}

static void root_entry(mesh_view *view, mesh_view_entry *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = MESH_KIND_DIR;
	/* Setgid: what team members create belongs to the domain's group. */
	out->mode = 02775;
	if (mesh_access_root_owner(view->store, view->domain, &out->uid, &out->gid) < 0) {
		/* A domain deleted under its view: what it showed last. */
		mesh_error_clear();
		out->uid = view->root_uid;
		out->gid = view->root_gid;
	}
	out->has_lower = true;
	pthread_mutex_lock(&view->head_lock);
	out->id = view->root;
	out->mtime_ns = view->head_time_ns;
	pthread_mutex_unlock(&view->head_lock);
	out->atime_ns = out->ctime_ns = out->mtime_ns;
}

static void resolve_owner(const mesh_view *view, uint32_t uid, uint32_t gid,
			  mesh_view_entry *out)
{
	out->uid = uid == MESH_OWNER_LEGACY ? view->legacy_uid : uid;
	out->gid = gid == MESH_OWNER_LEGACY ? view->legacy_gid : gid;
}

static void entry_from_tree(const mesh_view *view, const mesh_tree_entry *te,
			    mesh_view_entry *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = te->kind;
	out->mode = te->mode;
	resolve_owner(view, te->uid, te->gid, out);
	out->rdev = te->rdev;
	out->size = te->size;
	/* A commit keeps mtime alone. */
	out->mtime_ns = out->atime_ns = out->ctime_ns = te->mtime_ns;
	out->id = te->id;
	out->has_lower = te->kind == MESH_KIND_DIR;
}

/* The stage kinds of files, directories, symlinks and special files are
 * the entry kinds in another order (tombstones have none). */
static mesh_entry_kind kind_of_stage(mesh_stage_kind kind)
{
	switch (kind) {
	case MESH_STAGE_DIR: return MESH_KIND_DIR;
	case MESH_STAGE_SYMLINK: return MESH_KIND_SYMLINK;
	case MESH_STAGE_FIFO: return MESH_KIND_FIFO;
	case MESH_STAGE_SOCKET: return MESH_KIND_SOCKET;
	case MESH_STAGE_CHRDEV: return MESH_KIND_CHRDEV;
	case MESH_STAGE_BLKDEV: return MESH_KIND_BLKDEV;
	default: return MESH_KIND_FILE;
	}
}

static mesh_stage_kind stage_kind_of(mesh_entry_kind kind)
{
	switch (kind) {
	case MESH_KIND_DIR: return MESH_STAGE_DIR;
	case MESH_KIND_SYMLINK: return MESH_STAGE_SYMLINK;
	case MESH_KIND_FIFO: return MESH_STAGE_FIFO;
	case MESH_KIND_SOCKET: return MESH_STAGE_SOCKET;
	case MESH_KIND_CHRDEV: return MESH_STAGE_CHRDEV;
	case MESH_KIND_BLKDEV: return MESH_STAGE_BLKDEV;
	default: return MESH_STAGE_FILE;
	}
}

static void entry_from_stage(const mesh_view *view, const mesh_stage_entry *se,
			     mesh_view_entry *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = kind_of_stage(se->kind);
	out->mode = se->mode;
	resolve_owner(view, se->uid, se->gid, out);
	out->rdev = se->rdev;
	out->size = se->size;
	out->mtime_ns = se->mtime_ns;
	out->atime_ns = se->atime_ns;
	out->ctime_ns = se->ctime_ns;
	out->id = se->id;
	out->has_lower = se->kind == MESH_STAGE_DIR && se->has_lower;
	out->staged = true;
	out->journal_id = se->journal_id;
	out->journal_count = se->journal_count;
}

static void stage_from_entry(const mesh_view_entry *e, mesh_stage_entry *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = stage_kind_of(e->kind);
	out->mode = e->mode;
	out->uid = e->uid;
	out->gid = e->gid;
	out->rdev = e->rdev;
	out->size = e->size;
	out->mtime_ns = e->mtime_ns;
	out->atime_ns = e->atime_ns;
	out->ctime_ns = e->ctime_ns;
	out->id = e->id;
	out->has_lower = e->kind == MESH_KIND_DIR && e->has_lower;
	out->journal_id = e->journal_id;
	out->journal_count = e->journal_count;
}

/* Looks name up in the committed tree under a directory entry. */
static int lower_child(mesh_view *view, const mesh_view_entry *dir,
		       const char *name, mesh_view_entry *out)
{
	mesh_tree_ref *ref;
	const mesh_tree_entry *te;
	int error;

	if (!dir->has_lower)
		return MESH_ENOENT;
	if ((error = mesh_treecache_get(view->trees, &dir->id, &ref)) < 0)
		return error;
	te = mesh_tree_find(mesh_tree_ref_tree(ref), name);
	if (te)
		entry_from_tree(view, te, out);
	mesh_treecache_release(view->trees, ref);
	return te ? 0 : MESH_ENOENT;
}

/* The memo's answer for path at seq: 1 or 0 as staged_at, -1 when none. */
static int memo_get(mesh_view *view, uint64_t seq, const char *path,
		    mesh_stage_entry *out)
{
	int found = -1;

	pthread_mutex_lock(&view->memo_lock);
	for (unsigned i = 0; i < STAGED_MEMO && found < 0; i++) {
		staged_memo *m = &view->memo[i];
		if (m->used && m->seq == seq && strcmp(m->path, path) == 0) {
			found = m->found;
			*out = m->entry;
		}
	}
	pthread_mutex_unlock(&view->memo_lock);
	return found;
}

/* The slot path already has, so that it has one answer; else the oldest.
 * memo_lock held. */
static staged_memo *memo_slot(mesh_view *view, const char *path)
{
	for (unsigned i = 0; i < STAGED_MEMO; i++)
		if (view->memo[i].used && strcmp(view->memo[i].path, path) == 0)
			return &view->memo[i];
	return &view->memo[view->memo_next++ % STAGED_MEMO];
}

static void memo_put(mesh_view *view, uint64_t seq, const char *path, int found,
		     const mesh_stage_entry *entry)
{
	staged_memo *m;

	if (strlen(path) >= STAGED_MEMO_PATH)
		return;
	pthread_mutex_lock(&view->memo_lock);
	m = memo_slot(view, path);
	m->used = true;
	m->seq = seq;
	m->found = found;
	if (found)
		m->entry = *entry;
	strcpy(m->path, path);
	pthread_mutex_unlock(&view->memo_lock);
}

/* The staged entry at path; 1 found, 0 none (always 0 read-only). */
static int staged_at(mesh_view *view, const char *path, mesh_stage_entry *out)
{
	mesh_db *db = mesh_store_db(view->store);
	uint64_t seq;
	int found;

	if (!view->branch)
		return 0;
	/* Read before the entry: a write in between makes the memo stale at
	 * once, as the sequence has moved past it. */
	seq = mesh_db_sequence(db);
	if ((found = memo_get(view, seq, path, out)) >= 0)
		return found;
	found = mesh_stage_find(db, view->domain, view->branch, path, out);
	if (found >= 0)
		memo_put(view, seq, path, found, out);
	return found;
}

static int check_path(const char *path)
{
	size_t len = strlen(path);

	if (len >= PATH_MAX_LEN)
		return mesh_error_set(MESH_ENAMETOOLONG, "path too long: %.64s...", path);
	if (path[0] == '/' || (len && path[len - 1] == '/') || strstr(path, "//"))
		return mesh_error_set(MESH_EINVAL, "malformed path '%s'", path);
	/* Every path reaches here, from the mount and from commands (cp,
	 * reset, diff): a "." or ".." entry could be staged but never
	 * committed, and a name the kernel cannot look up never read. */
	for (const char *name = path; *name;) {
		size_t n = strcspn(name, "/");
		if ((n == 1 && name[0] == '.') || (n == 2 && name[0] == '.' && name[1] == '.'))
			return mesh_error_set(MESH_EINVAL,
				"path '%s' has a '%.*s' component", path, (int)n, name);
		if (n > NAME_MAX_LEN)
			return mesh_error_set(MESH_ENAMETOOLONG,
				"a name in path '%.64s...' is %zu bytes (at most %d)", path, n,
				NAME_MAX_LEN);
		name += n + (name[n] == '/');
	}
	return 0;
}

static int not_found(const mesh_view *view, const char *path)
{
	return mesh_error_set(MESH_ENOENT, "%s/%s: no such file or directory",
			      view->domain, path);
}

/*
 * The deepest staged entry at path or above it: stage.h's invariant (every
 * ancestor of a staged entry is staged) makes it the one that decides
 * what the rest of the path resolves against.  *consumed is the length of
 * the prefix it stands for (0 and the root when nothing is staged).
 * Costs one RocksDB get per level between path and that entry.
 */
static int deepest_staged(mesh_view *view, const char *path, mesh_view_entry *out,
			  size_t *consumed)
{
	char buf[PATH_MAX_LEN];
	mesh_stage_entry staged;
	size_t end = strlen(path);
	int error;

	memcpy(buf, path, end + 1);
	while (view->branch && end > 0) {
		buf[end] = '\0';
		if ((error = staged_at(view, buf, &staged)) < 0)
			return error;
		if (error == 1) {
			if (staged.kind == MESH_STAGE_TOMBSTONE)
				return not_found(view, path);
			entry_from_stage(view, &staged, out);
			*consumed = end;
			return 0;
		}
		while (end > 0 && buf[end - 1] != '/')
			end--;
		if (end > 0)
			end--;
	}
	root_entry(view, out);
	*consumed = 0;
	return 0;
}

int mesh_view_lookup(mesh_view *view, const char *path, mesh_view_entry *out)
{
	char buf[PATH_MAX_LEN];
	mesh_view_entry cur;
	size_t consumed = 0;
	char *name, *slash;
	int error;

	if ((error = check_path(path)) < 0 ||
	    (error = deepest_staged(view, path, &cur, &consumed)) < 0)
		return error;
	/* Below the deepest staged entry only the committed trees count. */
	snprintf(buf, sizeof(buf), "%s", path + consumed + (path[consumed] == '/'));
	for (name = buf; *buf && name; name = slash ? slash + 1 : NULL) {
		if (cur.kind != MESH_KIND_DIR)
			return mesh_error_set(MESH_ENOTDIR, "%s/%s: not a directory",
					      view->domain, path);
		if ((slash = strchr(name, '/')) != NULL)
			*slash = '\0';
		if ((error = lower_child(view, &cur, name, &cur)) < 0)
			return error == MESH_ENOENT ? not_found(view, path) : error;
	}
	*out = cur;
	return 0;
}

/* Splits path into its parent (in parent_buf) and its last name. */
static const char *split_parent(const char *path, char *parent_buf)
{
	const char *slash = strrchr(path, '/');

	if (!slash) {
		parent_buf[0] = '\0';
		return path;
	}
	memcpy(parent_buf, path, (size_t)(slash - path));
	parent_buf[slash - path] = '\0';
	return slash + 1;
}

/* Whether the committed layer under path's parent has path's name: a
 * removal there needs a tombstone, elsewhere just dropping the entry. */
static int lower_has(mesh_view *view, const char *path)
{
	char parent[PATH_MAX_LEN];
	const char *name = split_parent(path, parent);
	mesh_view_entry dir, child;
	int error;

	if ((error = mesh_view_lookup(view, parent, &dir)) < 0)
		return error;
	error = lower_child(view, &dir, name, &child);
	if (error == MESH_ENOENT)
		return 0;
	return error < 0 ? error : 1;
}

/* --- listing --------------------------------------------------------- */

typedef struct dirent_list {
	mesh_view_dirent *items;
	size_t count, cap;
} dirent_list;

static int list_push(dirent_list *list, const char *name,
		     const mesh_view_entry *entry)
{
	if (mesh_array_grow(&list->items, &list->cap, list->count, sizeof(*list->items)) < 0)
		return MESH_ENOMEM;
	if (!(list->items[list->count].name = strdup(name)))
		return mesh_error_oom();
	list->items[list->count].entry = *entry;
	list->count++;
	return 0;
}

typedef struct staged_children {
	dirent_list list;          /* tombstones kept, marked KIND_NONE */
	const mesh_view *view;
} staged_children;

static int collect_staged(void *ctx, const char *name, const mesh_stage_entry *se)
{
	staged_children *sc = ctx;
	mesh_view_entry entry;

	entry_from_stage(sc->view, se, &entry);
	if (se->kind == MESH_STAGE_TOMBSTONE)
		entry.kind = MESH_KIND_NONE;
	return list_push(&sc->list, name, &entry);
}

/* Called for each name of a merged directory: exactly one of lower and
 * staged is set (a staged entry hides the committed one). */
typedef int (*merge_fn)(void *ctx, const mesh_tree_entry *lower,
			const mesh_view_dirent *staged);

/* Walks the sorted committed entries and the sorted staged ones together;
 * tombstones drop their names. */
static int merge_walk(const mesh_tree *lower, const dirent_list *staged,
		      merge_fn fn, void *ctx)
{
	size_t i = 0, j = 0, lower_count = lower ? lower->count : 0;
	int error = 0;

	while (error == 0 && (i < lower_count || j < staged->count)) {
		int cmp = i == lower_count ? 1 : j == staged->count ? -1 :
			  strcmp(lower->entries[i].name, staged->items[j].name);
		if (cmp < 0) {
			error = fn(ctx, &lower->entries[i++], NULL);
			continue;
		}
		if (cmp == 0)
			i++;
		if (staged->items[j].entry.kind != MESH_KIND_NONE)
			error = fn(ctx, NULL, &staged->items[j]);
		j++;
	}
	return error;
}

typedef struct listing {
	dirent_list list;
	const mesh_view *view;
} listing;

static int push_listing(void *ctx, const mesh_tree_entry *lower,
			const mesh_view_dirent *staged)
{
	listing *l = ctx;
	mesh_view_entry entry;

	if (staged)
		return list_push(&l->list, staged->name, &staged->entry);
	entry_from_tree(l->view, lower, &entry);
	return list_push(&l->list, lower->name, &entry);
}

int mesh_view_list(mesh_view *view, const char *dir,
		   mesh_view_dirent **out, size_t *count)
{
	mesh_view_entry entry;
	staged_children staged = { { 0 }, view };
	listing result = { { 0 }, view };
	mesh_tree_ref *ref = NULL;
	int error;

	*out = NULL;
	*count = 0;
	if ((error = mesh_view_lookup(view, dir, &entry)) < 0)
		return error;
	if (entry.kind != MESH_KIND_DIR)
		return mesh_error_set(MESH_ENOTDIR, "%s/%s: not a directory",
				      view->domain, dir);
	if (entry.has_lower &&
	    (error = mesh_treecache_get(view->trees, &entry.id, &ref)) < 0)
		return error;
	if (view->branch)
		error = mesh_stage_list_dir(mesh_store_db(view->store), view->domain,
					    view->branch, dir, collect_staged, &staged);
	if (error == 0)
		error = merge_walk(ref ? mesh_tree_ref_tree(ref) : NULL,
				   &staged.list, push_listing, &result);
	mesh_treecache_release(view->trees, ref);
	mesh_view_dirents_free(staged.list.items, staged.list.count);
	if (error < 0) {
		mesh_view_dirents_free(result.list.items, result.list.count);
		return error;
	}
	*out = result.list.items;
	*count = result.list.count;
	return 0;
}

void mesh_view_dirents_free(mesh_view_dirent *dirents, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(dirents[i].name);
	free(dirents);
}

int mesh_view_content(mesh_view *view, mesh_view_entry *entry)
{
	int error;

	if (!entry->journal_id)
		return 0;
	if ((error = mesh_journal_content(view->store, &entry->id, entry->size,
					  entry->journal_id, entry->journal_count,
					  &entry->id)) < 0)
		return error;
	entry->journal_id = 0;
	entry->journal_count = 0;
	return 0;
}

int mesh_view_file_map(mesh_view *view, const mesh_view_entry *entry,
		       mesh_file_map **out)
{
	mesh_view_entry content = *entry;
	int error;

	if (entry->kind != MESH_KIND_FILE && entry->kind != MESH_KIND_SYMLINK)
		return mesh_error_set(MESH_EISDIR, "not a file");
	mesh_odb_session_begin(mesh_store_odb(view->store));
	if ((error = mesh_view_content(view, &content)) == 0)
		error = mesh_file_map_load(mesh_store_odb(view->store), &content.id, out);
	mesh_odb_session_end(mesh_store_odb(view->store));
	return error;
}

/* --- changes --------------------------------------------------------- */

/* One change of a branch: the lock, a batch, and the write. */
typedef struct change {
	mesh_view *view;
	mesh_db_batch *batch;
	bool own_batch;          /* else the caller's, which it frees */
	int64_t now;
	uint64_t seq;            /* mesh_db_sequence once locked */
	/* A change that only puts entries remembers them once written, and
	 * keeps what the memo knew of the rest (see change_end). */
	bool memo;
	unsigned put_count;
	staged_memo puts[CHANGE_MEMO_PUTS];
} change;

/*
 * After a change of only puts was written, still under the branch lock:
 * only this branch's changes write its staging, and only under its lock,
 * so what the memo knew when the change began still holds for every
 * path the change did not put, and those it did hold what it wrote;
 * until the next write of anything.  So the next file's getattr and
 * lookup of the same directory, and the close after a create, read
 * nothing.
 */
static void memo_written(change *ch)
{
	mesh_view *view = ch->view;
	uint64_t seq = mesh_db_sequence(mesh_store_db(view->store));

	pthread_mutex_lock(&view->memo_lock);
	for (unsigned i = 0; i < STAGED_MEMO; i++)
		if (view->memo[i].used && view->memo[i].seq == ch->seq)
			view->memo[i].seq = seq;
	pthread_mutex_unlock(&view->memo_lock);
	for (unsigned i = 0; i < ch->put_count; i++)
		memo_put(view, seq, ch->puts[i].path, 1, &ch->puts[i].entry);
}

/* With batch NULL the change makes its own; else it adds to batch and
 * writes it, leaving it to the caller to free. */
static int change_begin_lock(change *ch, mesh_view *view, mesh_db_batch *batch, bool wait)
{
	int error;

	if (!view->branch)
		return mesh_error_set(MESH_EROFS,
			"%s: this view is a commit and cannot change; write in a branch",
			view->domain);
	ch->own_batch = batch == NULL;
	ch->batch = batch;
	ch->memo = false;
	ch->put_count = 0;
	if (ch->own_batch && (error = mesh_db_batch_new(&ch->batch)) < 0)
		return error;
	ch->view = view;
	ch->now = now_ns();
	if (wait) {
		mesh_store_branch_lock(view->store, view->domain, view->branch);
	} else if (!mesh_store_branch_trylock(view->store, view->domain, view->branch)) {
		if (ch->own_batch)
			mesh_db_batch_free(ch->batch);
		return 1;
	}
	ch->seq = mesh_db_sequence(mesh_store_db(view->store));
	return 0;
}

static int change_begin_with(change *ch, mesh_view *view, mesh_db_batch *batch)
{
	return change_begin_lock(ch, view, batch, true);
}

static int change_end(change *ch, int error, bool durable)
{
	mesh_view *view = ch->view;

	if (error == 0 && mesh_db_batch_count(ch->batch) > 0)
		error = mesh_db_batch_write(mesh_store_db(view->store), ch->batch, durable);
	if (error == 0 && ch->memo)
		memo_written(ch);
	else if (error == 0)
		atomic_fetch_add(&view->dir_shape, 1);
	mesh_store_branch_unlock(view->store, view->domain, view->branch);
	if (ch->own_batch)
		mesh_db_batch_free(ch->batch);
	return error;
}

static int change_begin(change *ch, mesh_view *view)
{
	return change_begin_with(ch, view, NULL);
}

static void change_put(change *ch, const char *path, const mesh_stage_entry *se)
{
	staged_memo *put;

	mesh_stage_put(ch->batch, ch->view->domain, ch->view->branch, path, se);
	if (!ch->memo)
		return;
	if (ch->put_count == CHANGE_MEMO_PUTS || strlen(path) >= STAGED_MEMO_PATH) {
		ch->memo = false;      /* what it wrote is not all known */
		return;
	}
	put = &ch->puts[ch->put_count++];
	put->entry = *se;
	strcpy(put->path, path);
}

/*
 * Keeps stage.h's invariant: every ancestor of path is staged as a
 * directory (carrying its committed tree as lower), so a commit descends
 * only into staged directories.  With touch the parent's mtime and ctime
 * become now, as a directory's do when an entry is added or removed.  Walks up from the
 * parent and stops at the first staged ancestor: the invariant says all
 * above it are staged already.  Fails as a path lookup would when an
 * ancestor is missing or not a directory, so it also checks the parent.
 * *parent (may be NULL) gets what the parent now is.
 */
static int stage_ancestors_of(change *ch, const char *path, mesh_view_entry *parent,
			      bool touch)
{
	char prefix[PATH_MAX_LEN];
	size_t len = strlen(path);
	mesh_view_entry entry;
	mesh_stage_entry se;
	bool is_parent = true;
	int error;

	memcpy(prefix, path, len + 1);
	for (;; is_parent = false) {
		while (len > 0 && prefix[len - 1] != '/')
			len--;
		if (len == 0) {
			if (is_parent && parent)
				root_entry(ch->view, parent);
			return 0;          /* the root: never staged, always there */
		}
		prefix[--len] = '\0';
		if ((error = staged_at(ch->view, prefix, &se)) < 0)
			return error;
		if (error == 0) {
			if ((error = mesh_view_lookup(ch->view, prefix, &entry)) < 0)
				return error;
			stage_from_entry(&entry, &se);
		} else if (se.kind == MESH_STAGE_TOMBSTONE) {
			return not_found(ch->view, prefix);
		}
		if (se.kind != MESH_STAGE_DIR)
			return mesh_error_set(MESH_ENOTDIR, "%s/%s: not a directory",
					      ch->view->domain, prefix);
		if (is_parent && touch)
			se.mtime_ns = se.ctime_ns = ch->now;
		if (is_parent && parent)
			entry_from_stage(ch->view, &se, parent);
		if (error == 0 || (is_parent && touch))
			change_put(ch, prefix, &se);
		if (error == 1)
			return 0;
	}
}

static int stage_ancestors(change *ch, const char *path)
{
	return stage_ancestors_of(ch, path, NULL, true);
}

/* What a new entry's owner is (POSIX): the creator, with the parent's
 * group when the parent is setgid, where a new directory is setgid too
 * (the kernel has applied the umask to se->mode already). */
static void new_owner(const mesh_caller *caller, const mesh_view_entry *parent,
		      mesh_stage_entry *se)
{
	se->uid = caller->uid;
	se->gid = caller->gid;
	if (!(parent->mode & S_ISGID))
		return;
	se->gid = parent->gid;
	if (se->kind == MESH_STAGE_DIR)
		se->mode |= S_ISGID;
	else if ((se->mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP) &&
		 caller->uid != 0 && !mesh_caller_in_group(caller, se->gid))
		se->mode &= ~(uint32_t)S_ISGID;    /* as Linux's mode_strip_sgid */
}

/* Drops what is at path: a tombstone when the commit has it. */
static int stage_removal(change *ch, const char *path)
{
	mesh_stage_entry tomb = { .kind = MESH_STAGE_TOMBSTONE };
	int in_lower = lower_has(ch->view, path);

	if (in_lower < 0)
		return in_lower;
	if (in_lower)
		change_put(ch, path, &tomb);
	else
		mesh_stage_remove(ch->batch, ch->view->domain, ch->view->branch, path);
	return 0;
}


/* The domain's rules (access.h), before anything is done; a commit
 * view is read-only whoever asks. */
static int may_write(mesh_view *view, const mesh_caller *caller, const char *path)
{
	if (!view->branch)
		return mesh_error_set(MESH_EROFS,
			"%s: this view is a commit and cannot change; write in a branch",
			view->domain);
	if (caller->write_opened)
		return 0;
	return mesh_access_check(view->store, caller, view->domain, view->branch,
				 MESH_ACCESS_WRITE, path);
}

static int check_target(mesh_view *view, const char *path)
{
	int error = check_path(path);

	if (error == 0 && !*path)
		error = mesh_error_set(MESH_EPERM, "%s: the root of a view cannot change",
				       view->domain);
	return error;
}

int mesh_view_stage_content(mesh_view *view, const mesh_caller *caller,
			    const char *path, mesh_entry_kind kind,
			    uint32_t mode, uint64_t size, int64_t mtime_ns,
			    const mesh_oid *map_id, bool durable)
{
	return mesh_view_stage_content_with(view, NULL, caller, path, kind, mode,
					    size, mtime_ns, map_id, durable);
}

static int stage_content(mesh_view *view, mesh_db_batch *batch, const mesh_caller *caller,
			 const char *path, mesh_entry_kind kind, uint32_t mode, uint64_t size,
			 int64_t mtime_ns, const mesh_oid *map_id, const uint32_t *owner,
			 const uint64_t journal[2], bool durable);

int mesh_view_stage_content_with(mesh_view *view, mesh_db_batch *batch,
				 const mesh_caller *caller, const char *path,
				 mesh_entry_kind kind, uint32_t mode, uint64_t size,
				 int64_t mtime_ns, const mesh_oid *map_id, bool durable)
{
	return stage_content(view, batch, caller, path, kind, mode, size, mtime_ns, map_id,
			     NULL, NULL, durable);
}

int mesh_view_stage_journaled(mesh_view *view, mesh_db_batch *batch,
			      const mesh_caller *caller, const char *path, uint32_t mode,
			      uint64_t size, int64_t mtime_ns, const mesh_oid *base_map,
			      uint64_t journal_id, uint32_t journal_count)
{
	const uint64_t journal[2] = { journal_id, journal_count };

	return stage_content(view, batch, caller, path, MESH_KIND_FILE, mode, size, mtime_ns,
			     base_map, NULL, journal, true);
}

int mesh_view_stage_content_as(mesh_view *view, mesh_db_batch *batch,
			       const mesh_caller *caller, const char *path,
			       mesh_entry_kind kind, uint32_t mode, uint64_t size,
			       int64_t mtime_ns, const mesh_oid *map_id, uint32_t uid,
			       uint32_t gid)
{
	uint32_t owner[2] = { uid, gid };

	if (caller->uid != 0)
		return mesh_error_set(MESH_EPERM,
			"%s/%s: only root stages a file with an owner of its choice (uid %u is not root)",
			view->domain, path, (unsigned)caller->uid);
	return stage_content(view, batch, caller, path, kind, mode, size, mtime_ns, map_id,
			     owner, NULL, false);
}

static int stage_content(mesh_view *view, mesh_db_batch *batch, const mesh_caller *caller,
			 const char *path, mesh_entry_kind kind, uint32_t mode, uint64_t size,
			 int64_t mtime_ns, const mesh_oid *map_id, const uint32_t *owner,
			 const uint64_t journal[2], bool durable)
{
	mesh_stage_entry se = { 0 }, old;
	mesh_view_entry existing, parent;
	bool exists;
	change ch;
	int error;

	if ((error = may_write(view, caller, path)) < 0 ||
	    (error = check_target(view, path)) < 0 ||
	    (error = change_begin_with(&ch, view, batch)) < 0)
		return error;
	ch.memo = true;
	se.kind = kind == MESH_KIND_SYMLINK ? MESH_STAGE_SYMLINK : MESH_STAGE_FILE;
	se.mode = mode & 07777;
	se.size = size;
	se.mtime_ns = mtime_ns;
	se.atime_ns = se.ctime_ns = ch.now;
	se.id = *map_id;
	if (journal != NULL) {
		se.journal_id = journal[0];
		se.journal_count = (uint32_t)journal[1];
	}
	if ((error = staged_at(view, path, &old)) == 1 &&
	    (old.kind == MESH_STAGE_FILE || old.kind == MESH_STAGE_SYMLINK)) {
		/* New content for a staged file (a close after create): its
		 * ancestors are staged (stage.h's invariant), and its directory
		 * keeps its entries, so its mtime too. */
		error = 0;
		se.uid = old.uid;
		se.gid = old.gid;
		se.atime_ns = old.atime_ns;
	} else if (error >= 0) {
		/* New content of a file keeps its owner, and its directory's
		 * times: only a new name changes those. */
		exists = mesh_view_lookup(view, path, &existing) == 0 &&
			 existing.kind != MESH_KIND_DIR;
		mesh_error_clear();
		error = stage_ancestors_of(&ch, path, &parent, !exists);
		if (exists) {
			se.uid = existing.uid;
			se.gid = existing.gid;
			se.atime_ns = existing.atime_ns;
		} else {
			new_owner(caller, &parent, &se);
		}
	}
	if (owner) {
		se.uid = owner[0];
		se.gid = owner[1];
	}
	if (error == 0)
		change_put(&ch, path, &se);
	return change_end(&ch, error, durable);
}

/* Whether path names something in the view, given what its parent is. */
static int exists_under(mesh_view *view, const char *path, const mesh_view_entry *parent,
			bool *exists)
{
	mesh_stage_entry staged;
	mesh_view_entry child;
	const char *slash = strrchr(path, '/');
	int error = staged_at(view, path, &staged);

	if (error < 0)
		return error;
	if (error == 1) {
		*exists = staged.kind != MESH_STAGE_TOMBSTONE;
		return 0;
	}
	error = lower_child(view, parent, slash ? slash + 1 : path, &child);
	if (error < 0 && error != MESH_ENOENT)
		return error;
	*exists = error == 0;
	return 0;
}

/* Stages se as a new name (MESH_EEXIST when path exists, checked in the
 * same step), owned as POSIX says, and ends the change. */
static int stage_new_name(change *ch, const mesh_caller *caller, const char *path,
			  mesh_stage_entry *se)
{
	mesh_view_entry parent;
	bool exists = false;
	int error;

	if ((error = stage_ancestors_of(ch, path, &parent, true)) == 0 &&
	    (error = exists_under(ch->view, path, &parent, &exists)) == 0 && exists)
		error = mesh_error_set(MESH_EEXIST, "%s/%s: already exists",
				       ch->view->domain, path);
	if (error == 0) {
		new_owner(caller, &parent, se);
		change_put(ch, path, se);
	}
	return change_end(ch, error, false);
}

int mesh_view_create_file(mesh_view *view, const mesh_caller *caller,
			  const char *path, uint32_t mode, int64_t mtime_ns,
			  const mesh_oid *map_id)
{
	mesh_stage_entry se = { .kind = MESH_STAGE_FILE };
	change ch;
	int error;

	if ((error = may_write(view, caller, path)) < 0 ||
	    (error = check_target(view, path)) < 0 ||
	    (error = change_begin(&ch, view)) < 0)
		return error;
	ch.memo = true;
	se.mode = mode & 07777;
	se.mtime_ns = se.atime_ns = se.ctime_ns = mtime_ns;
	se.id = *map_id;
	return stage_new_name(&ch, caller, path, &se);
}

static int check_special(const mesh_caller *caller, mesh_entry_kind kind, uint64_t rdev)
{
	if (!mesh_kind_is_special(kind))
		return mesh_error_set(MESH_EINVAL, "mknod makes FIFOs, sockets and device nodes");
	if ((kind == MESH_KIND_CHRDEV || kind == MESH_KIND_BLKDEV) && caller->uid != 0)
		return mesh_error_set(MESH_EPERM, "only root makes device nodes (uid %u is not root)",
				      (unsigned)caller->uid);
	if (rdev && kind != MESH_KIND_CHRDEV && kind != MESH_KIND_BLKDEV)
		return mesh_error_set(MESH_EINVAL, "only device nodes have a device number");
	return 0;
}

int mesh_view_mknod(mesh_view *view, const mesh_caller *caller, const char *path,
		    mesh_entry_kind kind, uint32_t mode, uint64_t rdev)
{
	mesh_stage_entry se = { .kind = stage_kind_of(kind) };
	change ch;
	int error;

	if ((error = may_write(view, caller, path)) < 0 ||
	    (error = check_target(view, path)) < 0 ||
	    (error = check_special(caller, kind, rdev)) < 0 ||
	    (error = change_begin(&ch, view)) < 0)
		return error;
	se.mode = mode & 07777;
	se.rdev = rdev;
	se.mtime_ns = se.atime_ns = se.ctime_ns = ch.now;
	return stage_new_name(&ch, caller, path, &se);
}

int mesh_view_mkdir(mesh_view *view, const mesh_caller *caller,
		    const char *path, uint32_t mode)
{
	mesh_stage_entry se = { .kind = MESH_STAGE_DIR };
	mesh_view_entry existing, parent;
	change ch;
	int error;

	if ((error = may_write(view, caller, path)) < 0 ||
	    (error = check_target(view, path)) < 0 ||
	    (error = change_begin(&ch, view)) < 0)
		return error;
	se.mode = mode & 07777;
	se.mtime_ns = se.atime_ns = se.ctime_ns = ch.now;
	if ((error = stage_ancestors_of(&ch, path, &parent, true)) == 0) {
		if (mesh_view_lookup(view, path, &existing) == 0)
			error = mesh_error_set(MESH_EEXIST, "%s/%s: already exists",
					       view->domain, path);
		else
			mesh_error_clear();
	}
	if (error == 0) {
		new_owner(caller, &parent, &se);
		change_put(&ch, path, &se);
	}
	return change_end(&ch, error, false);
}

static int check_empty_dir(mesh_view *view, const char *path)
{
	mesh_view_dirent *dirents;
	size_t count;
	int error = mesh_view_list(view, path, &dirents, &count);

	if (error < 0)
		return error;
	mesh_view_dirents_free(dirents, count);
	if (count > 0)
		return mesh_error_set(MESH_ENOTEMPTY, "%s/%s: directory not empty",
				      view->domain, path);
	return 0;
}

/* unlink(2) and rmdir(2): dir says which of the two. */
static int remove_entry(mesh_view *view, const mesh_caller *caller, const char *path,
			bool dir)
{
	mesh_view_entry entry;
	change ch;
	int error;

	if ((error = may_write(view, caller, path)) < 0 ||
	    (error = check_target(view, path)) < 0 ||
	    (error = change_begin(&ch, view)) < 0)
		return error;
	if ((error = mesh_view_lookup(view, path, &entry)) == 0 &&
	    (entry.kind == MESH_KIND_DIR) != dir)
		error = dir ? mesh_error_set(MESH_ENOTDIR, "%s/%s: not a directory",
					     view->domain, path)
			    : mesh_error_set(MESH_EISDIR, "%s/%s: is a directory",
					     view->domain, path);
	if (error == 0 && dir)
		error = check_empty_dir(view, path);
	/* Tombstones of removed children are all that can be below it. */
	if (error == 0 && dir)
		error = mesh_stage_clear_tree(mesh_store_db(view->store), ch.batch,
					      view->domain, view->branch, path);
	if (error == 0 && (error = stage_ancestors(&ch, path)) == 0)
		error = stage_removal(&ch, path);
	return change_end(&ch, error, false);
}

int mesh_view_unlink(mesh_view *view, const mesh_caller *caller,
		     const char *path)
{
	return remove_entry(view, caller, path, false);
}

int mesh_view_rmdir(mesh_view *view, const mesh_caller *caller,
		    const char *path)
{
	return remove_entry(view, caller, path, true);
}

/* Checks rename(2)'s rules for replacing an existing target. */
static int check_rename_target(mesh_view *view, const mesh_view_entry *src,
			       const char *to, bool noreplace)
{
	mesh_view_entry dst;
	int error = mesh_view_lookup(view, to, &dst);

	if (error == MESH_ENOENT) {
		mesh_error_clear();
		return 0;
	}
	if (error < 0)
		return error;
	if (noreplace)
		return mesh_error_set(MESH_EEXIST, "%s/%s: already exists", view->domain, to);
	if (src->kind == MESH_KIND_DIR && dst.kind != MESH_KIND_DIR)
		return mesh_error_set(MESH_ENOTDIR, "%s/%s: not a directory", view->domain, to);
	if (src->kind != MESH_KIND_DIR && dst.kind == MESH_KIND_DIR)
		return mesh_error_set(MESH_EISDIR, "%s/%s: is a directory", view->domain, to);
	if (dst.kind == MESH_KIND_DIR)
		return check_empty_dir(view, to);
	return 0;
}

typedef struct rekey_ctx {
	change *ch;
	size_t from_len;
	const char *to;
} rekey_ctx;

static int rekey_one(void *ctx, const char *path, const mesh_stage_entry *se)
{
	rekey_ctx *rk = ctx;
	char moved[PATH_MAX_LEN];

	if ((size_t)snprintf(moved, sizeof(moved), "%s%s", rk->to,
			     path + rk->from_len) >= sizeof(moved))
		return mesh_error_set(MESH_ENAMETOOLONG, "path too long after rename");
	change_put(rk->ch, moved, se);
	mesh_stage_remove(rk->ch->batch, rk->ch->view->domain,
			  rk->ch->view->branch, path);
	return 0;
}

/* Moves a directory: its staged descendants are re-keyed, and the new
 * name shows the old committed tree.  No content is touched. */
static int move_dir(change *ch, const char *from, const char *to)
{
	mesh_view *view = ch->view;
	rekey_ctx rk = { ch, strlen(from), to };
	int error;

	if ((error = mesh_stage_clear_tree(mesh_store_db(view->store), ch->batch,
					   view->domain, view->branch, to)) < 0)
		return error;
	return mesh_stage_list_tree(mesh_store_db(view->store), view->domain,
				    view->branch, from, rekey_one, &rk);
}

/* Whether every entry below dir (path_len bytes of path, a buffer of
 * PATH_MAX_LEN) stays shorter than PATH_MAX_LEN when growth bytes longer:
 * MESH_ENAMETOOLONG naming the first that would not. */
static int check_fits(mesh_view *view, char *path, size_t path_len, size_t growth)
{
	mesh_view_dirent *dirents;
	size_t count;
	int error = mesh_view_list(view, path, &dirents, &count);

	for (size_t i = 0; error == 0 && i < count; i++) {
		size_t len = path_len + 1 + strlen(dirents[i].name);
		if (len + growth >= PATH_MAX_LEN) {
			error = mesh_error_set(MESH_ENAMETOOLONG,
				"a path below would be %zu bytes long after the rename or copy (at most %d): %s/%.80s...",
				len + growth, PATH_MAX_LEN - 1, view->domain, path);
		} else if (dirents[i].entry.kind == MESH_KIND_DIR) {
			snprintf(path + path_len, PATH_MAX_LEN - path_len, "/%s", dirents[i].name);
			error = check_fits(view, path, len, growth);
			path[path_len] = '\0';
		}
	}
	mesh_view_dirents_free(dirents, count);
	return error;
}

/* A directory moved or copied to a longer name makes every path below it
 * longer: one that no longer fits could be neither looked up nor
 * committed. */
static int check_move_fits(mesh_view *view, const mesh_view_entry *src,
			     const char *from, const char *to)
{
	size_t from_len = strlen(from), to_len = strlen(to);
	char path[PATH_MAX_LEN];

	if (src->kind != MESH_KIND_DIR || to_len <= from_len)
		return 0;
	snprintf(path, sizeof(path), "%s", from);
	return check_fits(view, path, from_len, to_len - from_len);
}

int mesh_view_rename(mesh_view *view, const mesh_caller *caller,
		     const char *from, const char *to, bool noreplace)
{
	mesh_view_entry src;
	mesh_stage_entry se;
	size_t from_len = strlen(from);
	change ch;
	int error;

	/* Moving a sensitive path out from under its glob would be reading
	 * it: the mover must be allowed to read all that moves. */
	if ((error = may_write(view, caller, from)) < 0 ||
	    (error = may_write(view, caller, to)) < 0 ||
	    (error = mesh_access_check(view->store, caller, view->domain, NULL,
				       MESH_ACCESS_READ_TREE, from)) < 0 ||
	    (error = check_target(view, from)) < 0 ||
	    (error = check_target(view, to)) < 0)
		return error;
	if (strcmp(from, to) == 0)
		return mesh_view_lookup(view, from, &src);
	if (strncmp(to, from, from_len) == 0 && to[from_len] == '/')
		return mesh_error_set(MESH_EINVAL, "%s: cannot move %s into itself",
				      view->domain, from);
	if ((error = mesh_view_lookup(view, from, &src)) < 0 ||
	    (error = check_move_fits(view, &src, from, to)) < 0)
		return error;
	if ((error = change_begin(&ch, view)) < 0)
		return error;
	if ((error = mesh_view_lookup(view, from, &src)) == 0 &&
	    (error = check_rename_target(view, &src, to, noreplace)) == 0 &&
	    (error = stage_ancestors(&ch, from)) == 0 &&
	    (error = stage_ancestors(&ch, to)) == 0 &&
	    (src.kind != MESH_KIND_DIR || (error = move_dir(&ch, from, to)) == 0)) {
		stage_from_entry(&src, &se);
		se.ctime_ns = ch.now;      /* as ext4 does for the moved inode */
		change_put(&ch, to, &se);
		error = stage_removal(&ch, from);
	}
	return change_end(&ch, error, false);
}

int mesh_view_setattr(mesh_view *view, const mesh_caller *caller,
		      const char *path, const uint32_t *mode,
		      const int64_t *mtime_ns)
{
	mesh_view_attr attr = { .mode = mode, .mtime_ns = mtime_ns };

	return mesh_view_change_attr(view, caller, path, &attr);
}

/* chown(2)'s rules (Linux's chown_ok and chgrp_ok). */
static int check_chown(const mesh_view *view, const mesh_caller *caller, const char *path,
		       const mesh_view_entry *e, const mesh_view_attr *attr)
{
	bool owner = caller->uid == e->uid;

	if (caller->uid == 0)
		return 0;
	if (attr->uid && !(owner && *attr->uid == e->uid))
		return mesh_error_set(MESH_EPERM,
			"%s/%s: only root may give it to another user (uid %u asks for uid %u)",
			view->domain, path, (unsigned)caller->uid, (unsigned)*attr->uid);
	if (attr->gid && !owner)
		return mesh_error_set(MESH_EPERM, "%s/%s: uid %u does not own it",
				      view->domain, path, (unsigned)caller->uid);
	if (attr->gid && *attr->gid != e->gid && !mesh_caller_in_group(caller, *attr->gid))
		return mesh_error_set(MESH_EPERM, "%s/%s: uid %u is not in group %u",
				      view->domain, path, (unsigned)caller->uid,
				      (unsigned)*attr->gid);
	return 0;
}

/* Applies attr to e, clearing the set-id bits as Linux does. */
static void apply_attr(const mesh_view_attr *attr, int64_t now, mesh_view_entry *e)
{
	bool owner_change = attr->uid || attr->gid;

	if (attr->mode)
		e->mode = *attr->mode & 07777;
	if (e->kind != MESH_KIND_DIR) {
		if (owner_change || attr->kill_suid)
			e->mode &= ~(uint32_t)S_ISUID;
		if ((owner_change || attr->kill_sgid) && (e->mode & S_IXGRP))
			e->mode &= ~(uint32_t)S_ISGID;
	}
	if (attr->uid)
		e->uid = *attr->uid;
	if (attr->gid)
		e->gid = *attr->gid;
	if (attr->atime_ns)
		e->atime_ns = *attr->atime_ns;
	if (attr->mtime_ns)
		e->mtime_ns = *attr->mtime_ns;
	e->ctime_ns = now;
}

int mesh_view_change_attr(mesh_view *view, const mesh_caller *caller,
			  const char *path, const mesh_view_attr *attr)
{
	mesh_view_entry entry;
	mesh_stage_entry se;
	change ch;
	int error;

	if ((error = may_write(view, caller, path)) < 0 ||
	    (error = check_target(view, path)) < 0 ||
	    (error = change_begin(&ch, view)) < 0)
		return error;
	/* An entry's own attributes are no change of its directory. */
	if ((error = mesh_view_lookup(view, path, &entry)) == 0 &&
	    (error = check_chown(view, caller, path, &entry, attr)) == 0 &&
	    (error = stage_ancestors_of(&ch, path, NULL, false)) == 0) {
		apply_attr(attr, ch.now, &entry);
		stage_from_entry(&entry, &se);
		change_put(&ch, path, &se);
	}
	return change_end(&ch, error, false);
}

#define DAY_NS (86400LL * 1000000000LL)

static bool relatime_due(const mesh_view_entry *e, int64_t now)
{
	return e->atime_ns <= e->mtime_ns || e->atime_ns <= e->ctime_ns ||
	       now - e->atime_ns >= DAY_NS;
}

int mesh_view_access(mesh_view *view, const mesh_caller *caller, const char *path,
		     int64_t now_ns, bool *changed)
{
	mesh_view_entry entry;
	mesh_stage_entry se;
	change ch;
	int error;

	(void)caller;
	*changed = false;
	/* Commit views are read-only, as a ro mount keeps atime; the root
	 * of a view has no entry to keep one in. */
	if (!view->branch || !*path)
		return 0;
	if ((error = mesh_view_lookup(view, path, &entry)) < 0)
		return error;
	if (!relatime_due(&entry, now_ns))
		return 0;
	/* A read never waits for the branch (its commit's hooks may run for
	 * long): atime is kept when the branch is free, as relatime keeps it
	 * only now and then anyway. */
	if ((error = change_begin_lock(&ch, view, NULL, false)) != 0)
		return error < 0 ? error : 0;
	if ((error = mesh_view_lookup(view, path, &entry)) == 0 && relatime_due(&entry, now_ns) &&
	    (error = stage_ancestors_of(&ch, path, NULL, false)) == 0) {
		entry.atime_ns = now_ns;
		stage_from_entry(&entry, &se);
		change_put(&ch, path, &se);
		*changed = true;
	}
	return change_end(&ch, error, false);
}

/* Read before the count is: a change that lands meanwhile has moved the
 * shape past what the memo keeps, so the count is never used again. */
static bool nlink_memo_get(mesh_view *view, const char *path, uint64_t shape,
			   uint64_t generation, uint32_t *nlink)
{
	bool found = false;

	pthread_mutex_lock(&view->memo_lock);
	for (unsigned i = 0; i < NLINK_MEMO && !found; i++) {
		nlink_memo *m = &view->nlinks[i];
		if (m->used && m->shape == shape && m->generation == generation &&
		    strcmp(m->path, path) == 0) {
			*nlink = m->nlink;
			found = true;
		}
	}
	pthread_mutex_unlock(&view->memo_lock);
	return found;
}

static void nlink_memo_put(mesh_view *view, const char *path, uint64_t shape,
			   uint64_t generation, uint32_t nlink)
{
	nlink_memo *m;

	if (strlen(path) >= STAGED_MEMO_PATH)
		return;
	pthread_mutex_lock(&view->memo_lock);
	m = &view->nlinks[view->nlink_next++ % NLINK_MEMO];
	m->used = true;
	m->shape = shape;
	m->generation = generation;
	m->nlink = nlink;
	strcpy(m->path, path);
	pthread_mutex_unlock(&view->memo_lock);
}

int mesh_view_dir_nlink(mesh_view *view, const char *path,
			const mesh_view_entry *entry, uint32_t *nlink)
{
	mesh_view_dirent *dirents;
	mesh_tree_ref *ref;
	const mesh_tree *tree;
	size_t count, dirs = 0;
	int error;

	*nlink = 1;
	if (entry->kind != MESH_KIND_DIR)
		return 0;
	/* Only staged directories (and a branch's root, never staged) can
	 * have staged children: the rest is the committed tree, cached. */
	if (!entry->staged && !(view->branch && !*path)) {
		*nlink = 2;
		if (!entry->has_lower)
			return 0;
		if ((error = mesh_treecache_get(view->trees, &entry->id, &ref)) < 0)
			return error;
		tree = mesh_tree_ref_tree(ref);
		for (size_t i = 0; i < tree->count; i++)
			dirs += tree->entries[i].kind == MESH_KIND_DIR;
		mesh_treecache_release(view->trees, ref);
	} else {
		uint64_t shape = atomic_load(&view->dir_shape);
		uint64_t generation = atomic_load(&view->generation);

		if (nlink_memo_get(view, path, shape, generation, nlink))
			return 0;
		if ((error = mesh_view_list(view, path, &dirents, &count)) < 0)
			return error;
		for (size_t i = 0; i < count; i++)
			dirs += dirents[i].entry.kind == MESH_KIND_DIR;
		mesh_view_dirents_free(dirents, count);
		*nlink = dirs + 2 > UINT32_MAX ? UINT32_MAX : (uint32_t)(dirs + 2);
		nlink_memo_put(view, path, shape, generation, *nlink);
		return 0;
	}
	*nlink = dirs + 2 > UINT32_MAX ? UINT32_MAX : (uint32_t)(dirs + 2);
	return 0;
}


/* --- status ---------------------------------------------------------- */

const char *mesh_change_type_name(mesh_change_type type)
{
	switch (type) {
	case MESH_CHANGE_ADDED: return "added";
	case MESH_CHANGE_MODIFIED: return "modified";
	case MESH_CHANGE_REMOVED: return "removed";
	}
	return "unknown";
}

const char *mesh_entry_kind_name(mesh_entry_kind kind)
{
	switch (kind) {
	case MESH_KIND_FILE: return "file";
	case MESH_KIND_DIR: return "dir";
	case MESH_KIND_SYMLINK: return "symlink";
	case MESH_KIND_FIFO: return "fifo";
	case MESH_KIND_SOCKET: return "socket";
	case MESH_KIND_CHRDEV: return "chardev";
	case MESH_KIND_BLKDEV: return "blockdev";
	default: return "none";
	}
}

typedef struct change_list {
	mesh_view *view;
	mesh_oid root;
	mesh_change *items;
	size_t count, cap;
} change_list;

static int change_list_push(change_list *cl, const char *path,
			    mesh_change_type type, mesh_entry_kind kind)
{
	if (mesh_array_grow(&cl->items, &cl->cap, cl->count, sizeof(*cl->items)) < 0)
		return MESH_ENOMEM;
	if (!(cl->items[cl->count].path = strdup(path)))
		return mesh_error_oom();
	cl->items[cl->count].type = type;
	cl->items[cl->count].kind = kind;
	cl->count++;
	return 0;
}

/* mesh_tree_lookup_path through the view's tree cache: status and
 * commit look up every staged path, mostly in the same few trees. */
static int cached_tree_lookup(mesh_view *view, const mesh_oid *root, const char *path,
			      mesh_tree_entry *out)
{
	mesh_view_entry dir = { .kind = MESH_KIND_DIR, .has_lower = true, .id = *root };
	char buf[PATH_MAX_LEN], *name = buf, *slash;
	int error;

	snprintf(buf, sizeof(buf), "%s", path);
	for (;;) {
		slash = strchr(name, '/');
		if (slash)
			*slash = '\0';
		if (dir.kind != MESH_KIND_DIR)
			return MESH_ENOTDIR;
		if ((error = lower_child(view, &dir, name, &dir)) < 0)
			return error;
		if (!slash)
			break;
		name = slash + 1;
	}
	memset(out, 0, sizeof(*out));
	out->kind = dir.kind;
	out->mode = dir.mode;
	out->uid = dir.uid;      /* resolved: compared with staged owners */
	out->gid = dir.gid;
	out->rdev = dir.rdev;
	out->size = dir.size;
	out->mtime_ns = dir.mtime_ns;
	out->id = dir.id;
	return 0;
}

/* Whether a staged entry shows what the head has at its path.  A staged
 * directory is the same when it lays its children over the head's very
 * tree: then it only carries changed children, which count themselves. */
static int same_as_head(change_list *cl, const mesh_tree_entry *head,
			const mesh_stage_entry *se, bool *out)
{
	mesh_view_entry staged;
	mesh_oid tree;
	int error;

	entry_from_stage(cl->view, se, &staged);
	if (head->uid != staged.uid || head->gid != staged.gid) {
		*out = false;
		return 0;
	}
	if (se->kind == MESH_STAGE_DIR) {
		if (head->kind != MESH_KIND_DIR || head->mode != se->mode) {
			*out = false;
			return 0;
		}
		if (se->has_lower)
			tree = se->id;
		else if ((error = mesh_tree_empty(mesh_store_odb(cl->view->store), &tree)) < 0)
			return error;
		*out = mesh_oid_cmp(&tree, &head->id) == 0;
		return 0;
	}
	*out = head->kind == staged.kind && head->mode == se->mode && head->rdev == se->rdev &&
	       !se->journal_id && mesh_oid_cmp(&head->id, &se->id) == 0;
	return 0;
}

/* Classifies one staged entry against the head. */
static int classify_staged(void *ctx, const char *path, const mesh_stage_entry *se)
{
	change_list *cl = ctx;
	mesh_tree_entry head;
	mesh_view_entry kind_of;
	bool same = false;
	int error = cached_tree_lookup(cl->view, &cl->root, path, &head);
	bool in_head = error == 0;

	if (error < 0 && error != MESH_ENOENT && error != MESH_ENOTDIR)
		return error;
	mesh_error_clear();
	if (se->kind == MESH_STAGE_TOMBSTONE)
		return in_head ? change_list_push(cl, path, MESH_CHANGE_REMOVED, head.kind) : 0;
	if (in_head && (error = same_as_head(cl, &head, se, &same)) < 0)
		return error;
	if (same)
		return 0;
	entry_from_stage(cl->view, se, &kind_of);
	return change_list_push(cl, path, in_head ? MESH_CHANGE_MODIFIED : MESH_CHANGE_ADDED,
				kind_of.kind);
}

static int collect_changes(mesh_view *view, change_list *cl)
{
	int error;

	memset(cl, 0, sizeof(*cl));
	cl->view = view;
	pthread_mutex_lock(&view->head_lock);
	cl->root = view->root;
	pthread_mutex_unlock(&view->head_lock);
	error = mesh_stage_list_tree(mesh_store_db(view->store), view->domain,
				     view->branch, "", classify_staged, cl);
	if (error < 0)
		mesh_changes_free(cl->items, cl->count);
	return error;
}

int mesh_view_status(mesh_view *view, mesh_change **out, size_t *count)
{
	change_list cl;
	int error;

	*out = NULL;
	*count = 0;
	if (!view->branch)
		return mesh_error_set(MESH_EINVAL, "%s: status needs a branch", view->domain);
	if ((error = collect_changes(view, &cl)) < 0)
		return error;
	*out = cl.items;
	*count = cl.count;
	return 0;
}

void mesh_changes_free(mesh_change *changes, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(changes[i].path);
	free(changes);
}

/* --- commit ---------------------------------------------------------- */

/* How far a commit's tree building has come, for `progress`. */
typedef struct build_progress {
	mesh_progress_table *table;
	uint64_t files, total;
} build_progress;

static int build_tree(mesh_view *view, build_progress *bp, const char *dir,
		      bool has_lower, const mesh_oid *lower, mesh_oid *out);

typedef struct tree_builder {
	mesh_tree_entry *entries;
	size_t count, cap;
} tree_builder;

static mesh_tree_entry *builder_push(tree_builder *tb, const char *name)
{
	if (mesh_array_grow(&tb->entries, &tb->cap, tb->count, sizeof(*tb->entries)) < 0)
		return NULL;
	memset(&tb->entries[tb->count], 0, sizeof(tb->entries[0]));
	if (!(tb->entries[tb->count].name = strdup(name)))
		return NULL;
	return &tb->entries[tb->count++];
}

/* The tree entry for a staged child; staged directories are built. */
static int staged_tree_entry(mesh_view *view, build_progress *bp, const char *dir,
			     const mesh_view_dirent *child, mesh_tree_entry *out)
{
	mesh_view_entry content = child->entry;
	char *path;
	int error;

	/* A commit takes an fsync'd file as its last fsync left it. */
	if ((error = mesh_view_content(view, &content)) < 0)
		return error;

	out->kind = child->entry.kind;
	out->mode = child->entry.mode;
	out->uid = child->entry.uid;
	out->gid = child->entry.gid;
	out->rdev = child->entry.rdev;
	out->mtime_ns = child->entry.mtime_ns;
	out->size = mesh_kind_has_content(child->entry.kind) ? child->entry.size : 0;
	out->id = content.id;
	if (child->entry.kind != MESH_KIND_DIR) {
		if (++bp->files % 256 == 0)
			mesh_progress_set(bp->table, "writing trees", "files", bp->files, bp->total);
		return 0;
	}
	/* On the heap: the recursion is as deep as the directories (2046
	 * levels fit in PATH_MAX), too deep for a path buffer per level. */
	if (asprintf(&path, "%s%s%s", dir, *dir ? "/" : "", child->name) < 0)
		return mesh_error_oom();
	error = build_tree(view, bp, path, child->entry.has_lower, &child->entry.id, &out->id);
	free(path);
	return error;
}

typedef struct build_ctx {
	mesh_view *view;
	build_progress *progress;
	const char *dir;
	const mesh_tree *lower;    /* the committed tree under dir, or NULL */
	tree_builder tb;
} build_ctx;

/* An entry of an old tree staged again (a chmod, a kept atime, a new
 * file in its directory) was shown with the legacy owner: while it still
 * has that owner it keeps MESH_OWNER_LEGACY, so that an unchanged entry
 * stays the same bytes and a diff shows no change of owner. */
static void keep_legacy_owner(const build_ctx *bc, mesh_tree_entry *slot)
{
	const mesh_tree_entry *old = bc->lower ? mesh_tree_find(bc->lower, slot->name) : NULL;

	if (!old)
		return;
	if (old->uid == MESH_OWNER_LEGACY && slot->uid == bc->view->legacy_uid)
		slot->uid = MESH_OWNER_LEGACY;
	if (old->gid == MESH_OWNER_LEGACY && slot->gid == bc->view->legacy_gid)
		slot->gid = MESH_OWNER_LEGACY;
}

static int push_tree_entry(void *ctx, const mesh_tree_entry *lower,
			   const mesh_view_dirent *staged)
{
	build_ctx *bc = ctx;
	mesh_tree_entry *slot = builder_push(&bc->tb, lower ? lower->name : staged->name);
	char *name;

	if (!slot)
		return mesh_error_oom();
	if (staged) {
		int error = staged_tree_entry(bc->view, bc->progress, bc->dir, staged, slot);
		keep_legacy_owner(bc, slot);
		return error;
	}
	name = slot->name;
	*slot = *lower;
	slot->name = name;
	return 0;
}

/* The tree of dir: its committed entries overlaid with its staged
 * children, descending only into staged directories. */
static int build_tree(mesh_view *view, build_progress *bp, const char *dir,
		      bool has_lower, const mesh_oid *lower, mesh_oid *out)
{
	staged_children staged = { { 0 }, view };
	build_ctx bc = { .view = view, .progress = bp, .dir = dir };
	mesh_tree_ref *ref = NULL;
	int error;

	if (has_lower && (error = mesh_treecache_get(view->trees, lower, &ref)) < 0)
		return error;
	error = mesh_stage_list_dir(mesh_store_db(view->store), view->domain,
				    view->branch, dir, collect_staged, &staged);
	bc.lower = ref ? mesh_tree_ref_tree(ref) : NULL;
	if (error == 0)
		error = merge_walk(bc.lower, &staged.list, push_tree_entry, &bc);
	if (error == 0)
		error = mesh_tree_write(mesh_store_odb(view->store), bc.tb.entries,
					bc.tb.count, out);
	mesh_treecache_release(view->trees, ref);
	mesh_view_dirents_free(staged.list.items, staged.list.count);
	for (size_t k = 0; k < bc.tb.count; k++)
		free(bc.tb.entries[k].name);
	free(bc.tb.entries);
	return error;
}

/* What a new head commit is made of. */
typedef struct head_change {
	const mesh_oid *tree;
	const mesh_oid *extra_parent;   /* second parent of a merge, or NULL */
	const char *message;
	const mesh_meta *meta;
	size_t meta_count;
} head_change;

/* The commit is built in *commit, whose parents point into parents and
 * whose author into author (the caller's storage), so that the caller
 * can index what it wrote. */
static int write_commit(mesh_view *view, const mesh_caller *caller,
			const head_change *hc, mesh_commit *commit,
			mesh_oid parents[2], char author[256], mesh_oid *out)
{
	memset(commit, 0, sizeof(*commit));
	mesh_user_name(caller->uid, author, 256);
	pthread_mutex_lock(&view->head_lock);
	parents[0] = view->head;
	pthread_mutex_unlock(&view->head_lock);
	if (hc->extra_parent)
		parents[1] = *hc->extra_parent;
	commit->parents = parents;
	commit->parent_count = hc->extra_parent ? 2 : 1;
	commit->tree = *hc->tree;
	commit->author = author;
	commit->uid = caller->uid;
	commit->time = (int64_t)time(NULL);
	commit->message = (char *)hc->message;
	commit->meta = (mesh_meta *)hc->meta;
	commit->meta_count = hc->meta_count;
	return mesh_commit_write(mesh_store_odb(view->store), commit, out);
}

/* The checks of mesh_gate_commit on tree against the head's. */
static int gate_locked(mesh_view *view, const mesh_caller *caller, const mesh_oid *tree)
{
	mesh_oid head_tree;

	pthread_mutex_lock(&view->head_lock);
	head_tree = view->root;
	pthread_mutex_unlock(&view->head_lock);
	return mesh_gate_commit(view->store, caller, view->domain, view->branch, &head_tree,
				tree, NULL);
}

/* The domain's pre-hooks on the candidate commit id, written and
 * durable but no head yet.  The branch lock stays held while they run,
 * so the branch takes no other change meanwhile; the caller runs on no
 * request thread of the mount (fs/ runs control commands on threads of
 * their own). */
static int run_pre_hooks(mesh_view *view, const head_change *hc, mesh_hook_job *hooks,
			 const mesh_oid *candidate)
{
	bool any;
	int error;

	hooks->commit = *candidate;
	hooks->has_trees = true;
	pthread_mutex_lock(&view->head_lock);
	hooks->old_tree = view->root;
	pthread_mutex_unlock(&view->head_lock);
	hooks->new_tree = *hc->tree;
	if ((error = mesh_hook_job_has(view->store, hooks, hooks->event, &any)) < 0 || !any)
		return error;
	mesh_progress_set(mesh_store_progress(view->store), "running hooks", "", 0, 0);
	return mesh_hook_run_pre(view->store, hooks);
}

/*
 * Makes a commit of hc on top of the head and moves the head to it: the
 * objects are made durable first, then the head, the commit index and
 * the clearing of staging land in one synced batch.  Branch lock held.
 */
static int move_head_locked(mesh_view *view, const mesh_caller *caller,
			    const head_change *hc, mesh_hook_job *hooks, mesh_oid *out)
{
	mesh_db *db = mesh_store_db(view->store);
	mesh_db_batch *batch = NULL;
	mesh_commit commit;
	mesh_oid parents[2];
	char ref[300], author[256];
	int error;

	snprintf(ref, sizeof(ref), "heads/%s", view->branch);
	if ((error = gate_locked(view, caller, hc->tree)) < 0 ||
	    (error = write_commit(view, caller, hc, &commit, parents, author, out)) < 0 ||
	    (error = mesh_odb_sync(mesh_store_odb(view->store))) < 0 ||
	    (error = run_pre_hooks(view, hc, hooks, out)) < 0 ||
	    (error = mesh_db_batch_new(&batch)) < 0 ||
	    (error = mesh_stage_clear_tree(db, batch, view->domain, view->branch, "")) < 0 ||
	    (error = mesh_ref_set(mesh_store_refs(view->store), view->domain, ref, out, batch)) < 0)
		goto done;
	mesh_history_index_put_commit(batch, view->domain, out, &commit);
	if ((error = mesh_lineage_commit_put(view->store, batch, view->domain, view->branch,
					     hc->tree, out)) == 0 &&
	    (error = mesh_db_batch_write(db, batch, true)) == 0)
		error = view_set_head(view, out);
done:
	mesh_db_batch_free(batch);
	return error;
}

static int commit_locked(mesh_view *view, const mesh_caller *caller,
			 const char *message, const mesh_meta *meta,
			 size_t meta_count, mesh_hook_job *hooks, mesh_oid *out,
			 size_t *changes)
{
	head_change hc = { NULL, NULL, message, meta, meta_count };
	build_progress bp = { mesh_store_progress(view->store), 0, 0 };
	change_list cl;
	mesh_oid root, tree;
	int error;

	/* Another view of this branch (one the mount dropped and opened
	 * again) may have moved the head: the commit builds on the ref. */
	if ((error = mesh_view_refresh(view)) < 0)
		return error;
	mesh_progress_set(bp.table, "collecting changes", "files", 0, 0);
	if ((error = collect_changes(view, &cl)) < 0)
		return error;
	*changes = bp.total = cl.count;
	mesh_changes_free(cl.items, cl.count);
	if (cl.count == 0)
		return mesh_error_set(MESH_EINVAL, "nothing to commit on %s/%s",
				      view->domain, view->branch);
	pthread_mutex_lock(&view->head_lock);
	root = view->root;
	pthread_mutex_unlock(&view->head_lock);
	mesh_progress_set(bp.table, "writing trees", "files", 0, bp.total);
	if ((error = build_tree(view, &bp, "", true, &root, &tree)) < 0)
		return error;
	mesh_progress_set(bp.table, "syncing", "files", bp.total, bp.total);
	hc.tree = &tree;
	return move_head_locked(view, caller, &hc, hooks, out);
}

int mesh_view_commit(mesh_view *view, const mesh_caller *caller,
		     const char *message, const mesh_meta *meta,
		     size_t meta_count, mesh_oid *out, size_t *changes)
{
	int error;

	if (!view->branch)
		return mesh_error_set(MESH_EROFS, "%s: cannot commit to a commit view",
				      view->domain);
	if ((error = mesh_access_check(view->store, caller, view->domain, view->branch,
				       MESH_ACCESS_COMMIT, NULL)) < 0)
		return error;
	mesh_hook_job hooks = { .event = MESH_HOOK_PRE_COMMIT, .domain = view->domain,
				.branch = view->branch, .caller = caller };
	mesh_store_branch_lock(view->store, view->domain, view->branch);
	error = commit_locked(view, caller, message, meta, meta_count, &hooks, out, changes);
	mesh_store_branch_unlock(view->store, view->domain, view->branch);
	/* Post-hooks hear of what landed, the branch open again. */
	if (error == 0)
		mesh_hook_run_post(view->store, &hooks, out);
	mesh_hook_job_dispose(&hooks);
	return error;
}

/* --- whole-branch changes -------------------------------------------- */

/* The ref is read again under head_lock before the cached head moves:
 * a refresh that read the ref just before another thread's commit wrote
 * it must not put back the head that commit replaced (a later merge
 * would then build on it and drop the commit). */
int mesh_view_refresh(mesh_view *view)
{
	mesh_oid head, again, shown;
	mesh_commit *commit;
	int error;
	bool same;

	if (!view->branch)
		return 0;
	for (;;) {
		if ((error = mesh_history_branch_head(view->store, view->domain,
						      view->branch, &head)) < 0)
			return error;
		mesh_view_commit_id(view, &shown);
		if (mesh_oid_cmp(&head, &shown) == 0)
			return 0;
		if ((error = mesh_commit_load(mesh_store_odb(view->store), &head, &commit)) < 0)
			return error;
		pthread_mutex_lock(&view->head_lock);
		error = mesh_history_branch_head(view->store, view->domain, view->branch, &again);
		same = error == 0 && mesh_oid_cmp(&head, &again) == 0;
		if (same) {
			view->head = head;
			view->root = commit->tree;
			view->head_time_ns = commit->time * 1000000000;
		}
		pthread_mutex_unlock(&view->head_lock);
		mesh_commit_free(commit);
		if (error < 0)
			return error;
		if (same) {
			atomic_fetch_add(&view->generation, 1);
			return 0;
		}
	}
}

uint64_t mesh_view_generation(mesh_view *view)
{
	return atomic_load(&view->generation);
}

void mesh_view_root_tree(mesh_view *view, mesh_oid *out)
{
	pthread_mutex_lock(&view->head_lock);
	*out = view->root;
	pthread_mutex_unlock(&view->head_lock);
}

/* Stops at the first staged change: entries that show what the head has
 * (an atime kept by a read, the directories above it) are none. */
static int first_change(void *ctx, const char *path, const mesh_stage_entry *se)
{
	change_list *cl = ctx;
	int error = classify_staged(ctx, path, se);

	return error < 0 ? error : cl->count > 0;
}

static int require_clean(mesh_view *view, const char *what)
{
	change_list cl;
	size_t staged;
	int error;

	memset(&cl, 0, sizeof(cl));
	cl.view = view;
	pthread_mutex_lock(&view->head_lock);
	cl.root = view->root;
	pthread_mutex_unlock(&view->head_lock);
	error = mesh_stage_list_tree(mesh_store_db(view->store), view->domain,
				     view->branch, "", first_change, &cl);
	staged = cl.count;
	mesh_changes_free(cl.items, cl.count);
	if (error < 0)
		return error;
	if (staged)
		return mesh_error_set(MESH_EBUSY,
			"%s/%s has staged changes: commit them or reset the branch before %s",
			view->domain, view->branch, what);
	return 0;
}

int mesh_view_apply(mesh_view *view, const mesh_caller *caller,
		    const mesh_oid *expected_head, const mesh_oid *tree,
		    const mesh_oid *extra_parent, const char *what, const char *source,
		    const char *message, const mesh_meta *meta, size_t meta_count,
		    mesh_oid *out)
{
	head_change hc = { tree, extra_parent, message, meta, meta_count };
	mesh_hook_job hooks = { .event = strcmp(what, "merge") ? MESH_HOOK_PRE_COMMIT :
				MESH_HOOK_PRE_MERGE, .domain = view->domain,
				.branch = view->branch, .source = source, .caller = caller };
	mesh_oid head;
	int error;

	if (!view->branch)
		return mesh_error_set(MESH_EROFS, "%s: a commit view cannot change", view->domain);
	mesh_store_branch_lock(view->store, view->domain, view->branch);
	if ((error = mesh_view_refresh(view)) < 0)
		goto unlock;
	mesh_view_commit_id(view, &head);
	if (expected_head && mesh_oid_cmp(&head, expected_head) != 0)
		error = mesh_error_set(MESH_EAGAIN, "%s/%s moved while %s ran: try again",
				       view->domain, view->branch, what);
	else if ((error = require_clean(view, what)) == 0 &&
		 (error = move_head_locked(view, caller, &hc, &hooks, out)) == 0)
		atomic_fetch_add(&view->generation, 1);
unlock:
	mesh_store_branch_unlock(view->store, view->domain, view->branch);
	if (error == 0)
		mesh_hook_run_post(view->store, &hooks, out);
	mesh_hook_job_dispose(&hooks);
	return error;
}

int mesh_view_check_clean(mesh_view *view, const char *what)
{
	int error;

	if (!view->branch)
		return mesh_error_set(MESH_EROFS, "%s: a commit view cannot change", view->domain);
	mesh_store_branch_lock(view->store, view->domain, view->branch);
	error = require_clean(view, what);
	mesh_store_branch_unlock(view->store, view->domain, view->branch);
	return error;
}

int mesh_view_reset(mesh_view *view, const mesh_caller *caller, const char *path,
		    mesh_change **changes, size_t *count)
{
	change ch;
	change_list cl;
	size_t kept = 0, plen = strlen(path);
	int error;

	*changes = NULL;
	*count = 0;
	if (view->branch && (error = mesh_access_check(view->store, caller, view->domain,
				view->branch, MESH_ACCESS_RESET, NULL)) < 0)
		return error;
	if ((error = check_path(path)) < 0 || (error = change_begin(&ch, view)) < 0)
		return error;
	if ((error = collect_changes(view, &cl)) < 0)
		return change_end(&ch, error, true);
	/* Report only the changes that the reset drops. */
	for (size_t i = 0; i < cl.count; i++) {
		const char *p = cl.items[i].path;
		if (plen == 0 || (strncmp(p, path, plen) == 0 && (p[plen] == '\0' || p[plen] == '/')))
			cl.items[kept++] = cl.items[i];
		else
			free(cl.items[i].path);
	}
	if (plen)
		mesh_stage_remove(ch.batch, view->domain, view->branch, path);
	error = mesh_stage_clear_tree(mesh_store_db(view->store), ch.batch,
				      view->domain, view->branch, path);
	if ((error = change_end(&ch, error, true)) < 0) {
		mesh_changes_free(cl.items, kept);
		return error;
	}
	atomic_fetch_add(&view->generation, 1);
	*changes = cl.items;
	*count = kept;
	return 0;
}

/* --- copies ---------------------------------------------------------- */

/* The committed form of a directory of any view: a branch's staged
 * changes under it are built into trees (cost: the staged entries). */
static int entry_tree(mesh_view *view, const char *path, const mesh_view_entry *entry,
		      mesh_oid *out)
{
	if (!view->branch || !entry->staged) {
		if (entry->has_lower) {
			*out = entry->id;
			return 0;
		}
		return mesh_tree_empty(mesh_store_odb(view->store), out);
	}
	build_progress bp = { mesh_store_progress(view->store), 0, 0 };

	return build_tree(view, &bp, path, entry->has_lower, &entry->id, out);
}

int mesh_view_copy(mesh_view *dst, const mesh_caller *caller, const char *dst_path,
		   mesh_view *src, const char *src_path)
{
	mesh_view_entry entry, existing;
	mesh_stage_entry se;
	change ch;
	int error;

	/* A copy by reference reads the source: never a way around a
	 * sensitive path's rule, at the path or anywhere below it. */
	if ((error = may_write(dst, caller, dst_path)) < 0 ||
	    (error = mesh_access_check(src->store, caller, src->domain, NULL,
				       MESH_ACCESS_READ_TREE, src_path)) < 0 ||
	    (error = check_target(dst, dst_path)) < 0 ||
	    (error = mesh_view_lookup(src, src_path, &entry)) < 0 ||
	    (error = check_move_fits(src, &entry, src_path, dst_path)) < 0)
		return error;
	if (entry.kind == MESH_KIND_DIR) {
		entry.has_lower = true;
		if ((error = entry_tree(src, src_path, &entry, &entry.id)) < 0)
			return error;
	} else if ((error = mesh_view_content(src, &entry)) < 0) {
		return error;  /* the copy must not share the source's journal */
	}
	/* Referred to without being read: a running gc must know. */
	if ((error = mesh_odb_touch(mesh_store_odb(dst->store), &entry.id)) < 0 ||
	    (error = change_begin(&ch, dst)) < 0)
		return error;
	if ((error = stage_ancestors(&ch, dst_path)) == 0) {
		if (mesh_view_lookup(dst, dst_path, &existing) < 0)
			mesh_error_clear();
		else if (existing.kind == MESH_KIND_DIR || entry.kind == MESH_KIND_DIR)
			error = mesh_error_set(MESH_EEXIST,
				"%s/%s already exists: a directory is neither replaced nor copied over",
				dst->domain, dst_path);
	}
	if (error == 0) {
		stage_from_entry(&entry, &se);
		change_put(&ch, dst_path, &se);
	}
	return change_end(&ch, error, true);
}
