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

/*
 * Records of the metadata db made of strings, each ended by a NUL: join
 * packs count strings into *out (malloc'd, the caller frees); split
 * points fields (at most max) into buf and returns how many it found.
 */
int mesh_fields_join(const char *const *fields, size_t count, char **out, size_t *len);
size_t mesh_fields_split(const void *buf, size_t len, const char **fields, size_t max);

#endif
