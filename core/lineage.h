/*
 * lineage.h - where a domain's data came from.  A cp from another
 * domain (control.c's cmd_cp) stages a record of its source; the commit
 * that lands the copy keeps it, keyed by the destination path and that
 * commit, so lineage is versioned with the history it describes.
 *
 * Keys (fields ended by NUL, mesh_fields_join):
 *   g/p DOMAIN BRANCH PATH          a staged copy's source, until commit
 *   g/c DOMAIN PATH COMMIT          what COMMIT brought to PATH by cp
 *   g/u SOURCE CONSUMER             CONSUMER committed copies of SOURCE
 * Values: the source's domain, ref, commit (hex) and path, the copied
 * entry's id (hex) and the time (seconds); g/u: last commit and time.
 */
#ifndef MESH_LINEAGE_H
#define MESH_LINEAGE_H

#include "cmd.h"
#include "db.h"
#include "json.h"
#include "store.h"
#include "view.h"

/* Stages the source of a copy just made from src_path of src (seen as
 * src_ref) to dst_path of the branch view dst; nothing when both are the
 * same domain.  One synced write. */
int mesh_lineage_record_copy(mesh_store *store, mesh_view *dst, const char *dst_path,
			     mesh_view *src, const char *src_ref, const char *src_path);

/* Adds to batch (the one that moves domain/branch's head to commit, of
 * root tree) the lineage of the staged copies that tree still holds as
 * copied, and drops every staged record of the branch. */
int mesh_lineage_commit_put(mesh_store *store, mesh_db_batch *batch, const char *domain,
			    const char *branch, const mesh_oid *tree, const mesh_oid *commit);

/* Adds to batch the removal of every staged record of domain/branch
 * (the branch's deletion). */
int mesh_lineage_drop_staged(mesh_store *store, mesh_db_batch *batch, const char *domain,
			     const char *branch);

/* "consumers": the domains that committed copies of domain's data and
 * that caller sees, and "hidden_consumers", how many it does not. */
int mesh_lineage_consumers_json(mesh_store *store, const mesh_caller *caller,
				const char *domain, mesh_json *j);

/* "lineage DOMAIN/REF/PATH [--json]". */
extern const mesh_cmd_spec mesh_lineage_cmd_spec;

#endif
