/*
 * oidset.h - a set of object ids with a 32-bit value per id: a count
 * (add/remove: a multiset, for the ids the garbage collector must keep,
 * written while it runs or pinned by open files), or what its owner
 * puts there (the reachability walk's flags).
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
/* The value kept with id, or NULL when id is absent; the pointer is
 * valid until the set next gains or loses an id. */
uint32_t *mesh_oidset_value(const mesh_oidset *set, const mesh_oid *id);
/* Keeps id with value (never 0, which marks an empty slot), replacing
 * its value if present; *out as for mesh_oidset_value. */
int mesh_oidset_put(mesh_oidset *set, const mesh_oid *id, uint32_t value,
		    uint32_t **out);
/* Drops every id (keeps the allocation). */
void mesh_oidset_clear(mesh_oidset *set);

/* Calls cb for each distinct id, in no order; a non-zero return stops
 * and is returned.  cb must not change the set. */
typedef int (*mesh_oidset_cb)(void *ctx, const mesh_oid *id);
int mesh_oidset_foreach(const mesh_oidset *set, mesh_oidset_cb cb, void *ctx);

#endif
