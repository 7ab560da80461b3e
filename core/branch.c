#include "branch.h"
#include "hook.h"
#include "access.h"
#include "progress.h"
#include "domain.h"
#include "error.h"
#include "lineage.h"
#include "history.h"
#include "stage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ref_exists(mesh_store *store, const char *domain, const char *kind,
		      const char *name)
{
	char ref[300];
	mesh_oid oid;
	int error;

	snprintf(ref, sizeof(ref), "%s/%s", kind, name);
	error = mesh_ref_get(mesh_store_refs(store), domain, ref, &oid);
	if (error == MESH_ENOENT) {
		mesh_error_clear();
		return 0;
	}
	return error < 0 ? error : 1;
}

/* Branches and tags share one namespace, so a name means one thing. */
static int check_new_name(mesh_store *store, const char *domain, const char *what,
			  const char *name)
{
	mesh_domain *d;
	int error;

	if ((error = mesh_ref_new_name_check(what, name)) < 0 ||
	    (error = mesh_domain_get(store, domain, &d)) < 0)
		return error;
	mesh_domain_free(d);
	if ((error = ref_exists(store, domain, "heads", name)) != 0)
		return error < 0 ? error : mesh_error_set(MESH_EEXIST,
			"a branch named %s already exists in domain %s", name, domain);
	if ((error = ref_exists(store, domain, "tags", name)) != 0)
		return error < 0 ? error : mesh_error_set(MESH_EEXIST,
			"a tag named %s already exists in domain %s", name, domain);
	return 0;
}

/* pre-create-branch and pre-create-tag: MESH_BRANCH is the new name,
 * MESH_SOURCE the REF it is made from, the candidate its commit. */
static int new_ref_hooks(mesh_store *store, const mesh_caller *caller, const char *domain,
			 mesh_hook_event event, const char *name, const char *from,
			 const mesh_oid *commit)
{
	mesh_hook_job job = { .event = event, .domain = domain, .branch = name,
			      .source = from, .caller = caller, .commit = *commit };
	int error = mesh_hook_run_pre(store, &job);

	mesh_hook_job_dispose(&job);
	return error;
}

int mesh_branch_create(mesh_store *store, const mesh_caller *caller,
		       const char *domain, const char *name,
		       const char *from_ref, mesh_oid *out_head)
{
	char ref[300];
	mesh_rev rev;
	int error;

	(void)caller;
	if ((error = mesh_access_check(store, caller, domain, NULL, MESH_ACCESS_BRANCH, NULL)) < 0 ||
	    (error = check_new_name(store, domain, "branch", name)) < 0 ||
	    (error = mesh_revparse(store, domain, from_ref, &rev)) < 0)
		return error;
	if ((error = new_ref_hooks(store, caller, domain, MESH_HOOK_PRE_CREATE_BRANCH, name,
				   from_ref, &rev.commit)) < 0)
		return error;
	snprintf(ref, sizeof(ref), "heads/%s", name);
	if ((error = mesh_ref_set(mesh_store_refs(store), domain, ref, &rev.commit, NULL)) < 0)
		return error;
	*out_head = rev.commit;
	return 0;
}

/* The default branch is never deleted; an unknown one is ENOENT. */
static int check_deletable(mesh_store *store, const char *domain, const char *name)
{
	mesh_domain *d;
	mesh_oid head;
	int error;

	if ((error = mesh_domain_get(store, domain, &d)) < 0)
		return error;
	if (strcmp(d->default_branch, name) == 0)
		error = mesh_error_set(MESH_EPERM,
			"%s is the default branch of domain %s and cannot be deleted",
			name, domain);
	mesh_domain_free(d);
	if (error == 0)
		error = mesh_history_branch_head(store, domain, name, &head);
	return error;
}

/* The branch goes, with what it had staged; the caller checked the rules. */
static int delete_branch(mesh_store *store, const char *domain, const char *name)
{
	mesh_db_batch *batch = NULL;
	char ref[300];
	int error;

	snprintf(ref, sizeof(ref), "heads/%s", name);
	mesh_store_branch_lock(store, domain, name);
	if ((error = mesh_db_batch_new(&batch)) == 0 &&
	    (error = mesh_stage_clear_tree(mesh_store_db(store), batch, domain, name, "")) == 0 &&
	    (error = mesh_lineage_drop_staged(store, batch, domain, name)) == 0 &&
	    (error = mesh_ref_delete(mesh_store_refs(store), domain, ref, batch)) == 0)
		error = mesh_db_batch_write(mesh_store_db(store), batch, true);
	mesh_store_branch_unlock(store, domain, name);
	mesh_db_batch_free(batch);
	return error;
}

int mesh_branch_delete_empty(mesh_store *store, const mesh_caller *caller,
			     mesh_view *view)
{
	const char *domain = mesh_view_domain(view), *name = mesh_view_branch(view);
	mesh_view_dirent *entries;
	size_t count;
	int error;

	if (!name)
		return mesh_error_set(MESH_EPERM, "%s: tags and commits are not branches",
				      domain);
	if ((error = mesh_access_check(store, caller, domain, name, MESH_ACCESS_BRANCH, NULL)) < 0 ||
	    (error = check_deletable(store, domain, name)) < 0 ||
	    (error = mesh_view_list(view, "", &entries, &count)) < 0)
		return error;
	mesh_view_dirents_free(entries, count);
	if (count > 0)
		return mesh_error_set(MESH_ENOTEMPTY,
			"branch %s/%s is not empty: delete it with `meshfs branch delete`",
			domain, name);
	return delete_branch(store, domain, name);
}

int mesh_branch_delete(mesh_store *store, const mesh_caller *caller,
		       const char *domain, const char *name)
{
	int error;

	(void)caller;
	if ((error = mesh_access_check(store, caller, domain, name, MESH_ACCESS_BRANCH, NULL)) < 0 ||
	    (error = check_deletable(store, domain, name)) < 0)
		return error;
	return delete_branch(store, domain, name);
}

int mesh_tag_create(mesh_store *store, const mesh_caller *caller,
		    const char *domain, const char *tag, const char *ref,
		    mesh_oid *out)
{
	char name[300];
	mesh_rev rev;
	int error;

	(void)caller;
	if ((error = mesh_access_check(store, caller, domain, NULL, MESH_ACCESS_TAG, NULL)) < 0 ||
	    (error = check_new_name(store, domain, "tag", tag)) < 0 ||
	    (error = mesh_revparse(store, domain, ref, &rev)) < 0)
		return error;
	if ((error = new_ref_hooks(store, caller, domain, MESH_HOOK_PRE_CREATE_TAG, tag, ref,
				   &rev.commit)) < 0)
		return error;
	snprintf(name, sizeof(name), "tags/%s", tag);
	if ((error = mesh_ref_set(mesh_store_refs(store), domain, name, &rev.commit, NULL)) < 0)
		return error;
	*out = rev.commit;
	return 0;
}

int mesh_tag_delete(mesh_store *store, const mesh_caller *caller,
		    const char *domain, const char *tag)
{
	char name[300];
	int error;

	(void)caller;
	if ((error = mesh_access_check(store, caller, domain, NULL, MESH_ACCESS_TAG, NULL)) < 0)
		return error;
	snprintf(name, sizeof(name), "tags/%s", tag);
	error = mesh_ref_delete(mesh_store_refs(store), domain, name, NULL);
	if (error == MESH_ENOENT)
		return mesh_error_set(MESH_ENOENT, "no tag %s in domain %s", tag, domain);
	return error;
}

void mesh_branch_outcome_free(mesh_branch_outcome *outcome)
{
	mesh_merge_result_free(&outcome->merge);
}

static int commit_tree(mesh_store *store, const mesh_oid *commit_id, mesh_oid *tree,
		       mesh_commit **out)
{
	mesh_commit *commit;
	int error = mesh_commit_load(mesh_store_odb(store), commit_id, &commit);

	if (error < 0)
		return error;
	*tree = commit->tree;
	if (out)
		*out = commit;
	else
		mesh_commit_free(commit);
	return 0;
}

/* The shared tail of merge, revert and cherry-pick: three-way merge of
 * trees, then an atomic move of the head. */
typedef struct three_way {
	const mesh_oid *base;      /* tree, or NULL */
	mesh_oid theirs;           /* tree */
	const mesh_oid *extra_parent;
	const char *what;
	const char *source;        /* the ref merged, reverted or picked (hooks see it) */
	const char *message;
	mesh_merge_strategy strategy;
} three_way;

static int run_three_way(mesh_store *store, mesh_view *view, const mesh_caller *caller,
			 const three_way *tw, mesh_branch_outcome *outcome)
{
	mesh_oid ours;
	int error;

	/* The merge starts from the ref: a view the mount opened again may
	 * have missed a head move (the apply refuses a head that moves later). */
	if ((error = mesh_view_refresh(view)) < 0 ||
	    (error = mesh_view_check_clean(view, tw->what)) < 0)
		return error;
	mesh_view_commit_id(view, &outcome->old_head);
	outcome->commit = outcome->old_head;
	mesh_view_root_tree(view, &ours);
	mesh_progress_set(mesh_store_progress(store), "merging trees", "", 0, 0);
	if ((error = mesh_merge_trees(mesh_store_odb(store), tw->base, &ours, &tw->theirs,
				      tw->strategy, &outcome->merge)) < 0)
		return error;
	if (outcome->merge.conflict_count > 0)
		return mesh_error_set(MESH_EBUSY,
			"%s of %s/%s stopped: %zu conflict(s), nothing changed; resolve them "
			"or choose --strategy dest-wins or source-wins",
			tw->what, mesh_view_domain(view), mesh_view_branch(view),
			outcome->merge.conflict_count);
	mesh_progress_set(mesh_store_progress(store), "committing", "", 0, 0);
	return mesh_view_apply(view, caller, &outcome->old_head, &outcome->merge.tree,
			       tw->extra_parent, tw->what, tw->source, tw->message, NULL, 0,
			       &outcome->commit);
}

int mesh_branch_merge(mesh_store *store, mesh_view *dest, const mesh_caller *caller,
		      const char *src_ref, mesh_merge_strategy strategy,
		      const char *message, mesh_branch_outcome *outcome)
{
	const char *domain = mesh_view_domain(dest);
	three_way tw = { .what = "merge", .source = src_ref, .strategy = strategy };
	char default_message[600];
	mesh_oid head, base_commit, base_tree;
	mesh_rev src;
	int error;

	memset(outcome, 0, sizeof(*outcome));
	if ((error = mesh_access_check(store, caller, domain, mesh_view_branch(dest),
				       MESH_ACCESS_MERGE, NULL)) < 0 ||
	    (error = mesh_view_check_clean(dest, "merge")) < 0 ||
	    (error = mesh_revparse(store, domain, src_ref, &src)) < 0)
		return error;
	mesh_view_commit_id(dest, &head);
	mesh_progress_set(mesh_store_progress(store), "finding the merge base", "", 0, 0);
	if ((error = mesh_merge_base(mesh_store_odb(store), &src.commit, &head, &base_commit)) < 0)
		return error;
	if (mesh_oid_cmp(&base_commit, &src.commit) == 0) {
		outcome->old_head = outcome->commit = head;
		outcome->up_to_date = true;
		return 0;
	}
	if ((error = commit_tree(store, &base_commit, &base_tree, NULL)) < 0 ||
	    (error = commit_tree(store, &src.commit, &tw.theirs, NULL)) < 0)
		return error;
	snprintf(default_message, sizeof(default_message), "Merge %s into %s",
		 src_ref, mesh_view_branch(dest));
	tw.base = &base_tree;
	tw.extra_parent = &src.commit;
	tw.message = message && *message ? message : default_message;
	return run_three_way(store, dest, caller, &tw, outcome);
}

int mesh_branch_revert(mesh_store *store, mesh_view *view, const mesh_caller *caller,
		       const char *commit_ref, unsigned parent,
		       mesh_branch_outcome *outcome)
{
	three_way tw = { .what = "revert", .source = commit_ref, .strategy = MESH_MERGE_FAIL };
	mesh_commit *commit = NULL;
	char message[1200];
	mesh_oid tree;
	mesh_rev rev;
	int error;

	memset(outcome, 0, sizeof(*outcome));
	if ((error = mesh_access_check(store, caller, mesh_view_domain(view), mesh_view_branch(view),
				       MESH_ACCESS_REVERT, NULL)) < 0 ||
	    (error = mesh_revparse(store, mesh_view_domain(view), commit_ref, &rev)) < 0 ||
	    (error = commit_tree(store, &rev.commit, &tree, &commit)) < 0)
		return error;
	if (commit->parent_count == 0)
		error = mesh_error_set(MESH_EINVAL, "%s is the first commit: nothing to revert to",
				       commit_ref);
	else if (commit->parent_count > 1 && parent == 0)
		error = mesh_error_set(MESH_EINVAL,
			"%s is a merge commit: say which parent to go back to with --parent N",
			commit_ref);
	else if (parent > commit->parent_count)
		error = mesh_error_set(MESH_EINVAL, "%s has no parent %u", commit_ref, parent);
	if (error == 0)
		error = commit_tree(store, &commit->parents[parent ? parent - 1 : 0],
				    &tw.theirs, NULL);
	if (error == 0) {
		snprintf(message, sizeof(message), "Revert \"%.1000s\"", commit->message);
		tw.base = &tree;
		tw.message = message;
		error = run_three_way(store, view, caller, &tw, outcome);
	}
	mesh_commit_free(commit);
	return error;
}

int mesh_branch_cherry_pick(mesh_store *store, mesh_view *view,
			    const mesh_caller *caller, const char *commit_ref,
			    mesh_branch_outcome *outcome)
{
	three_way tw = { .what = "cherry-pick", .source = commit_ref, .strategy = MESH_MERGE_FAIL };
	mesh_commit *commit = NULL;
	mesh_oid parent_tree;
	mesh_rev rev;
	int error;

	memset(outcome, 0, sizeof(*outcome));
	if ((error = mesh_access_check(store, caller, mesh_view_domain(view), mesh_view_branch(view),
				       MESH_ACCESS_CHERRY_PICK, NULL)) < 0 ||
	    (error = mesh_revparse(store, mesh_view_domain(view), commit_ref, &rev)) < 0 ||
	    (error = commit_tree(store, &rev.commit, &tw.theirs, &commit)) < 0)
		return error;
	if (commit->parent_count != 1)
		error = mesh_error_set(MESH_EINVAL,
			"%s has %zu parents: only a commit with one parent can be cherry-picked",
			commit_ref, commit->parent_count);
	if (error == 0)
		error = commit_tree(store, &commit->parents[0], &parent_tree, NULL);
	if (error == 0) {
		tw.base = &parent_tree;
		tw.message = commit->message;
		error = run_three_way(store, view, caller, &tw, outcome);
	}
	mesh_commit_free(commit);
	return error;
}
