/*
 * fsck.c - the store check, its repair and branch reset-head.
 */
#include "fsck.h"
#include "access.h"
#include "access.h"
#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "array.h"
#include "cmd.h"
#include "commit.h"
#include "domain.h"
#include "error.h"
#include "history.h"
#include "refs.h"

const char *mesh_fsck_problem_name(mesh_fsck_problem problem)
{
	switch (problem) {
	case MESH_FSCK_MISSING: return "missing";
	case MESH_FSCK_CORRUPT: return "corrupt";
	case MESH_FSCK_UNREADABLE: return "unreadable";
	}
	return "unknown";
}

static mesh_fsck_problem problem_of(int error)
{
	if (error == MESH_ENOENT)
		return MESH_FSCK_MISSING;
	if (error == MESH_EIO)
		return MESH_FSCK_CORRUPT;
	return MESH_FSCK_UNREADABLE;
}

typedef struct fsck_walk {
	mesh_store *store;
	mesh_fsck_report *report;
	size_t damage_cap, broken_cap;
	/* Every corrupt object, listed or not: what repair moves. */
	mesh_oid *corrupt;
	size_t corrupt_count, corrupt_cap;
} fsck_walk;

static char *dup_or_null(const char *s, bool *oom)
{
	char *d;

	if (!s)
		return NULL;
	if (!(d = strdup(s)))
		*oom = true;
	return d;
}

static int list_damage(fsck_walk *w, const mesh_reach_where *where, mesh_otype type,
		       const mesh_oid *id, int error, const char *message)
{
	mesh_fsck_report *r = w->report;
	mesh_fsck_damage *d;
	bool oom = false;

	if (r->damage_count >= MESH_FSCK_DAMAGE_MAX)
		return 0;
	if (mesh_array_grow(&r->damage, &w->damage_cap, r->damage_count, sizeof(*r->damage)) < 0)
		return MESH_ENOMEM;
	d = &r->damage[r->damage_count];
	memset(d, 0, sizeof(*d));
	d->domain = dup_or_null(where->domain, &oom);
	d->ref = dup_or_null(where->ref, &oom);
	d->path = dup_or_null(where->path, &oom);
	d->message = dup_or_null(message, &oom);
	r->damage_count++;   /* counted first, so that _free frees it all */
	if (oom)
		return mesh_error_oom();
	if ((d->has_commit = where->commit != NULL))
		d->commit = *where->commit;
	if ((d->has_id = id != NULL))
		d->id = *id;
	d->staged = where->staged;
	d->type = type;
	d->problem = problem_of(error);
	return 0;
}

/* Damage to a commit or tree of a branch's own head commit means that
 * the branch does not list: each such branch is named once. */
static int note_broken_head(fsck_walk *w, const mesh_reach_where *where)
{
	mesh_fsck_report *r = w->report;
	const char *branch = where->ref + 6;
	mesh_fsck_broken_head *b;
	mesh_oid target;

	for (size_t k = 0; k < r->broken_count; k++)
		if (!strcmp(r->broken_heads[k].domain, where->domain) &&
		    !strcmp(r->broken_heads[k].branch, branch))
			return 0;
	if (mesh_ref_get(mesh_store_refs(w->store), where->domain, where->ref, &target) < 0) {
		mesh_error_clear();
		return 0;
	}
	if (mesh_oid_cmp(&target, where->commit) != 0)
		return 0;
	if (mesh_array_grow(&r->broken_heads, &w->broken_cap, r->broken_count, sizeof(*b)) < 0)
		return MESH_ENOMEM;
	b = &r->broken_heads[r->broken_count++];
	b->domain = strdup(where->domain);
	b->branch = strdup(branch);
	b->commit = target;
	return b->domain && b->branch ? 0 : mesh_error_oom();
}

static int on_damage(void *arg, const mesh_reach_where *where, mesh_otype type,
		     const mesh_oid *id, int error, const char *message)
{
	fsck_walk *w = arg;
	int rc;

	w->report->damage_total++;
	if ((rc = list_damage(w, where, type, id, error, message)) < 0)
		return rc;
	if (id && error == MESH_EIO) {
		if (mesh_array_grow(&w->corrupt, &w->corrupt_cap, w->corrupt_count,
				    sizeof(*w->corrupt)) < 0)
			return MESH_ENOMEM;
		w->corrupt[w->corrupt_count++] = *id;
	}
	if (where->commit && where->ref && !strncmp(where->ref, "heads/", 6) &&
	    (type == MESH_OBJ_COMMIT || type == MESH_OBJ_TREE))
		return note_broken_head(w, where);
	return 0;
}

static int quarantine_dir(mesh_store *store, char *out, size_t len)
{
	snprintf(out, len, "%s/quarantine", mesh_store_path(store));
	if (mkdir(out, 0700) < 0 && errno != EEXIST)
		return mesh_error_os("cannot create quarantine directory", out);
	return 0;
}

static int oid_order(const void *a, const void *b)
{
	return mesh_oid_cmp(a, b);
}

/* Quarantines each corrupt id once (sorted, so repeats are neighbours);
 * the listed problems get the file their object went to. */
static int repair(mesh_store *store, fsck_walk *w)
{
	mesh_fsck_report *r = w->report;
	char dir[4096], where[4096];
	char **paths;
	size_t unique = 0;
	int error;

	if (w->corrupt_count == 0)
		return 0;
	if ((error = quarantine_dir(store, dir, sizeof(dir))) < 0)
		return error;
	qsort(w->corrupt, w->corrupt_count, sizeof(*w->corrupt), oid_order);
	for (size_t i = 0; i < w->corrupt_count; i++)
		if (i == 0 || mesh_oid_cmp(&w->corrupt[i], &w->corrupt[unique - 1]) != 0)
			w->corrupt[unique++] = w->corrupt[i];
	if (!(paths = calloc(unique, sizeof(*paths))))
		return mesh_error_oom();
	for (size_t i = 0; i < unique && error == 0; i++) {
		size_t moved;
		if ((error = mesh_odb_quarantine(mesh_store_odb(store), &w->corrupt[i], dir,
						 &moved, where)) < 0)
			break;
		r->quarantined += moved;
		if (moved && !(paths[i] = strdup(where)))
			error = mesh_error_oom();
	}
	for (size_t k = 0; k < r->damage_count && error == 0; k++) {
		mesh_fsck_damage *d = &r->damage[k];
		const mesh_oid *hit = d->has_id ? bsearch(&d->id, w->corrupt, unique,
							  sizeof(*w->corrupt), oid_order) : NULL;
		const char *path = hit ? paths[hit - w->corrupt] : NULL;
		if (path && !(d->quarantined = strdup(path)))
			error = mesh_error_oom();
	}
	for (size_t i = 0; i < unique; i++)
		free(paths[i]);
	free(paths);
	return error;
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int check_domains(mesh_store *store, const mesh_fsck_opts *opts, mesh_reach *reach,
			 const mesh_reach_cbs *cbs, uint64_t *domains)
{
	mesh_domain **list = NULL;
	size_t count = 0;
	int error;

	if (opts->domain) {
		if ((error = mesh_reach_run(reach, opts->domain, cbs)) == 0)
			*domains = 1;
		return error;
	}
	if ((error = mesh_domain_list(store, &list, &count)) < 0)
		return error;
	for (size_t i = 0; i < count && error == 0; i++)
		error = mesh_reach_run(reach, list[i]->name, cbs);
	mesh_domain_list_free(list, count);
	*domains = count;
	return error;
}

int mesh_fsck_run(mesh_store *store, const mesh_fsck_opts *opts, mesh_fsck_report *out)
{
	fsck_walk w = { .store = store, .report = out };
	mesh_reach_cbs cbs = { NULL, on_damage, &w };
	mesh_reach *reach = NULL;
	double start = now_seconds();
	int error;

	memset(out, 0, sizeof(*out));
	error = mesh_reach_new(&reach, store, opts->quick ? MESH_REACH_CHUNKS_EXIST
							  : MESH_REACH_CHUNKS_READ);
	mesh_progress_set(mesh_store_progress(store), "checking objects", "objects", 0, 0);
	if (error == 0)
		error = check_domains(store, opts, reach, &cbs, &out->domains);
	if (error == 0 && opts->repair)
		error = repair(store, &w);
	if (reach)
		mesh_reach_stats_get(reach, &out->stats);
	out->seconds = now_seconds() - start;
	mesh_reach_free(reach);
	free(w.corrupt);
	return error;
}

void mesh_fsck_report_free(mesh_fsck_report *r)
{
	for (size_t i = 0; i < r->damage_count; i++) {
		free(r->damage[i].domain);
		free(r->damage[i].ref);
		free(r->damage[i].path);
		free(r->damage[i].message);
		free(r->damage[i].quarantined);
	}
	free(r->damage);
	for (size_t i = 0; i < r->broken_count; i++) {
		free(r->broken_heads[i].domain);
		free(r->broken_heads[i].branch);
	}
	free(r->broken_heads);
	memset(r, 0, sizeof(*r));
}

/* ---- branch reset-head ---------------------------------------------------- */

typedef struct intact_check {
	size_t broken;
	char why[512];
} intact_check;

/* Only what keeps a branch from listing counts: its commit and trees. */
static int count_structure_damage(void *arg, const mesh_reach_where *where, mesh_otype type,
				  const mesh_oid *id, int error, const char *message)
{
	intact_check *c = arg;

	(void)where; (void)id; (void)error;
	if (type != MESH_OBJ_COMMIT && type != MESH_OBJ_TREE)
		return 0;
	if (c->broken++ == 0)
		snprintf(c->why, sizeof(c->why), "%s", message);
	return 0;
}

static int commit_intact(mesh_store *store, const char *domain, const mesh_oid *id,
			 bool *intact, char *why, size_t why_len)
{
	intact_check check = { 0, "" };
	mesh_reach_cbs cbs = { NULL, count_structure_damage, &check };
	mesh_reach *reach;
	int error = mesh_reach_new(&reach, store, MESH_REACH_CHUNKS_LIST | MESH_REACH_NO_HISTORY);

	if (error < 0)
		return error;
	error = mesh_reach_commit(reach, domain, id, &cbs);
	mesh_reach_free(reach);
	*intact = check.broken == 0;
	if (why)
		snprintf(why, why_len, "%s", check.why);
	return error;
}

/* The first parent of id, from the commit or else from the index: 1 and
 * *out, 0 for a root commit; MESH_EIO when neither can tell. */
static int first_parent(mesh_store *store, const char *domain, const mesh_oid *id,
			mesh_oid *out)
{
	char hex[MESH_OID_HEXSZ + 1];
	mesh_history_indexed indexed;
	mesh_commit *commit;
	int error;

	if (mesh_commit_load(mesh_store_odb(store), id, &commit) == 0) {
		error = commit->parent_count > 0;
		if (error)
			*out = commit->parents[0];
		mesh_commit_free(commit);
		return error;
	}
	mesh_error_clear();
	error = mesh_history_index_get(store, domain, id, &indexed);
	if (error < 0 && error != MESH_ENOENT)
		return error;
	mesh_oid_fmt(hex, id);
	if (error == MESH_ENOENT || !indexed.known)
		return mesh_error_set(MESH_EIO,
			"commit %s of domain %s cannot be read and the commit index does not know its parents",
			hex, domain);
	if (indexed.parent_count == 0)
		return 0;
	*out = indexed.parents[0];
	return 1;
}

/* Commits walked back at most, so that a corrupt index cannot loop. */
#define RESET_HEAD_MAX_STEPS 100000

static int find_intact_ancestor(mesh_store *store, const char *domain, const mesh_oid *head,
				mesh_oid *out)
{
	char hex[MESH_OID_HEXSZ + 1];
	mesh_oid cur = *head, parent;
	bool intact = false;
	int error;

	for (size_t step = 0; step < RESET_HEAD_MAX_STEPS; step++) {
		if ((error = first_parent(store, domain, &cur, &parent)) < 0)
			return error;
		if (error == 0) {
			mesh_oid_fmt(hex, &cur);
			return mesh_error_set(MESH_EIO,
				"no intact ancestor: %s is the first commit of domain %s", hex, domain);
		}
		if ((error = commit_intact(store, domain, &parent, &intact, NULL, 0)) < 0)
			return error;
		if (intact) {
			*out = parent;
			return 0;
		}
		cur = parent;
	}
	return mesh_error_set(MESH_EIO, "no intact ancestor within %d commits", RESET_HEAD_MAX_STEPS);
}

int mesh_fsck_reset_head(mesh_store *store, const mesh_caller *caller,
			 const char *domain, const char *branch,
			 mesh_oid *old_head, mesh_oid *new_head)
{
	char ref[300], why[512], old_hex[MESH_OID_HEXSZ + 1], new_hex[MESH_OID_HEXSZ + 1];
	mesh_domain *d;
	mesh_oid now;
	bool intact;
	int error;

	if ((error = mesh_ref_name_check("branch", branch)) < 0 ||
	    (error = mesh_domain_get(store, domain, &d)) < 0)
		return error;
	mesh_domain_free(d);
	if ((error = mesh_history_branch_head(store, domain, branch, old_head)) < 0 ||
	    (error = commit_intact(store, domain, old_head, &intact, why, sizeof(why))) < 0)
		return error;
	mesh_oid_fmt(old_hex, old_head);
	if (intact)
		return mesh_error_set(MESH_EINVAL,
			"the head %s of %s/%s is intact (its commit and trees read): nothing to reset",
			old_hex, domain, branch);
	if ((error = find_intact_ancestor(store, domain, old_head, new_head)) < 0)
		return error;
	snprintf(ref, sizeof(ref), "heads/%s", branch);
	/* The walk ran unlocked; the head must not have moved since. */
	mesh_store_branch_lock(store, domain, branch);
	error = mesh_history_branch_head(store, domain, branch, &now);
	if (error == 0 && mesh_oid_cmp(&now, old_head) != 0)
		error = mesh_error_set(MESH_EAGAIN, "%s/%s moved while reset-head ran: try again",
				       domain, branch);
	if (error == 0)
		error = mesh_ref_set(mesh_store_refs(store), domain, ref, new_head, NULL);
	mesh_store_branch_unlock(store, domain, branch);
	if (error < 0)
		return error;
	mesh_oid_fmt(new_hex, new_head);
	mesh_log_write(mesh_store_log(store), MESH_LOG_WARN,
		       "branch reset-head %s/%s by uid %u (pid %d): head %s (%s) -> %s",
		       domain, branch, (unsigned)caller->uid, (int)caller->pid, old_hex, why,
		       new_hex);
	return 0;
}

/* ---- the commands ------------------------------------------------------------ */

static void json_damage(mesh_json *j, const mesh_fsck_damage *d)
{
	mesh_json_object_begin(j);
	mesh_json_field_string(j, "domain", d->domain ? d->domain : "");
	if (d->ref)
		mesh_json_field_string(j, "ref", d->ref);
	if (d->has_commit)
		mesh_cmd_json_oid(j, "commit", &d->commit);
	if (d->path)
		mesh_json_field_string(j, "path", d->path);
	mesh_json_field_bool(j, "staged", d->staged);
	if (d->has_id)
		mesh_cmd_json_oid(j, "object", &d->id);
	mesh_json_field_string(j, "type", d->has_id ? mesh_otype_name(d->type) : "record");
	mesh_json_field_string(j, "problem", mesh_fsck_problem_name(d->problem));
	mesh_json_field_string(j, "message", d->message ? d->message : "");
	if (d->quarantined)
		mesh_json_field_string(j, "quarantined", d->quarantined);
	mesh_json_object_end(j);
}

static void json_report(mesh_json *j, const mesh_fsck_opts *opts, const mesh_fsck_report *r)
{
	mesh_json_field_bool(j, "clean", r->damage_total == 0);
	mesh_json_field_bool(j, "quick", opts->quick);
	mesh_json_field_bool(j, "repair", opts->repair);
	mesh_json_field_int(j, "domains", (int64_t)r->domains);
	mesh_json_field_int(j, "refs", (int64_t)r->stats.refs);
	mesh_json_field_int(j, "commits", (int64_t)r->stats.objects[MESH_OBJ_COMMIT]);
	mesh_json_field_int(j, "trees", (int64_t)r->stats.objects[MESH_OBJ_TREE]);
	mesh_json_field_int(j, "files", (int64_t)r->stats.objects[MESH_OBJ_FILE]);
	mesh_json_field_int(j, "chunks", (int64_t)r->stats.objects[MESH_OBJ_CHUNK]);
	mesh_json_field_int(j, "chunk_bytes", (int64_t)r->stats.chunk_bytes);
	mesh_json_field_int(j, "staged", (int64_t)r->stats.staged);
	mesh_json_field_int(j, "milliseconds", (int64_t)(r->seconds * 1000));
	mesh_json_field_int(j, "damage_total", (int64_t)r->damage_total);
	mesh_json_key(j, "damage");
	mesh_json_array_begin(j);
	for (size_t i = 0; i < r->damage_count; i++)
		json_damage(j, &r->damage[i]);
	mesh_json_array_end(j);
	mesh_json_key(j, "broken_heads");
	mesh_json_array_begin(j);
	for (size_t i = 0; i < r->broken_count; i++) {
		mesh_json_object_begin(j);
		mesh_json_field_string(j, "domain", r->broken_heads[i].domain);
		mesh_json_field_string(j, "branch", r->broken_heads[i].branch);
		mesh_cmd_json_oid(j, "commit", &r->broken_heads[i].commit);
		mesh_json_object_end(j);
	}
	mesh_json_array_end(j);
	mesh_json_field_int(j, "quarantined", (int64_t)r->quarantined);
}

static int cmd_fsck(mesh_cmd *cmd)
{
	mesh_fsck_opts opts = { NULL, false, false };
	mesh_cmd_opt specs[] = { { "--domain", NULL, &opts.domain, NULL },
				 { "--quick", NULL, NULL, &opts.quick },
				 { "--repair", NULL, NULL, &opts.repair } };
	mesh_fsck_report report;
	size_t npos;
	int error;

	if ((error = mesh_cmd_parse_opts(cmd, 1, specs, 3, NULL, 0, &npos, NULL)) < 0 ||
	    (error = mesh_access_need_admin(cmd->env->store, cmd->caller,
					    "check the store (its report names every domain)")) < 0)
		return error;
	if ((error = mesh_fsck_run(cmd->env->store, &opts, &report)) < 0) {
		mesh_fsck_report_free(&report);
		return error;
	}
	json_report(report.damage_total ? &cmd->details : &cmd->json, &opts, &report);
	if (report.damage_total) {
		char broken[128] = "", moved[64] = "";
		if (report.broken_count)
			snprintf(broken, sizeof(broken),
				 "; %zu branch(es) do not list (branch reset-head moves them back)",
				 report.broken_count);
		if (opts.repair)
			snprintf(moved, sizeof(moved), "; %llu corrupt cop%s quarantined",
				 (unsigned long long)report.quarantined,
				 report.quarantined == 1 ? "y" : "ies");
		error = mesh_error_set(MESH_EIO, "fsck found %llu problem(s)%s%s",
				       (unsigned long long)report.damage_total, broken, moved);
	}
	mesh_fsck_report_free(&report);
	return error;
}

const mesh_cmd_spec mesh_fsck_cmd_spec = {
	"fsck", cmd_fsck, "fsck [--domain D] [--quick] [--repair]",
	"verify every reachable object; --repair quarantines corrupt ones",
};

int mesh_fsck_cmd_reset_head(mesh_cmd *cmd)
{
	const char *branch = NULL;
	char domain[256];
	mesh_oid old_head, new_head;
	mesh_view *view;
	int error;

	if (cmd->argc != 3)
		return mesh_error_set(MESH_EINVAL, "usage: branch reset-head DOMAIN/BRANCH");
	if ((error = mesh_cmd_parse_target(cmd, cmd->argv[2], domain, sizeof(domain), &branch)) < 0 ||
	    (error = mesh_access_check(cmd->env->store, cmd->caller, domain, branch,
				       MESH_ACCESS_REPAIR, NULL)) < 0 ||
	    (error = mesh_fsck_reset_head(cmd->env->store, cmd->caller, domain, branch,
					  &old_head, &new_head)) < 0)
		return error;
	/* The mount's view of the branch shows the new head from now on, and
	 * the kernel forgets what it cached of the old one. */
	if ((error = mesh_cmd_branch_view(cmd, cmd->argv[2], domain, sizeof(domain), &view)) < 0)
		return error;
	mesh_cmd_notify_changed(cmd, domain, branch, NULL, 0);
	mesh_json_field_string(&cmd->json, "domain", domain);
	mesh_json_field_string(&cmd->json, "branch", branch);
	mesh_cmd_json_oid(&cmd->json, "old_head", &old_head);
	mesh_cmd_json_oid(&cmd->json, "commit", &new_head);
	mesh_json_field_int(&cmd->json, "uid", cmd->caller->uid);
	return 0;
}
