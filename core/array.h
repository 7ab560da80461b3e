/*
 * array.h - growing arrays, the one way libmeshcore and the daemon grow
 * their lists.
 */
#ifndef MESH_ARRAY_H
#define MESH_ARRAY_H

#include <stddef.h>

/*
 * Makes room for one more element in *items (count used, *cap
 * allocated, elements of elem_size bytes), doubling the allocation.
 * MESH_ENOMEM leaves *items and *cap as they were.
 */
int mesh_array_grow(void *items, size_t *cap, size_t count, size_t elem_size);

#endif
