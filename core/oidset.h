/*
 * oidset.h - a set of object ids with a count per id (a multiset), for
 * the object ids the garbage collector must keep: those written while
 * it runs and those pinned by files being written or read.
 *
 * Open addressing over the ids' own bytes (already uniform: SHA-256);
 * about 40 bytes per id at most half full.  Not thread-safe: its owner
 * locks.
 */
#ifndef MESH_OIDSET_H
#define MESH_OIDSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "oid.h"

typedef struct mesh_oidset mesh_oidset;

/* Free with mesh_oidset_free. */
int mesh_oidset_new(mesh_oidset **out);
void mesh_oidset_free(mesh_oidset *set);

/* Counts id once more: 1 when it was not in the set, 0 when it was,
 * MESH_ENOMEM (the set unchanged) when it cannot grow. */
int mesh_oidset_add(mesh_oidset *set, const mesh_oid *id);
/* Counts id once less, dropping it at zero; false when it was absent. */
bool mesh_oidset_remove(mesh_oidset *set, const mesh_oid *id);
bool mesh_oidset_has(const mesh_oidset *set, const mesh_oid *id);
size_t mesh_oidset_count(const mesh_oidset *set);
/* Drops every id (keeps the allocation). */
void mesh_oidset_clear(mesh_oidset *set);

/* Calls cb for each distinct id, in no order; a non-zero return stops
 * and is returned.  cb must not change the set. */
typedef int (*mesh_oidset_cb)(void *ctx, const mesh_oid *id);
int mesh_oidset_foreach(const mesh_oidset *set, mesh_oidset_cb cb, void *ctx);

#endif
