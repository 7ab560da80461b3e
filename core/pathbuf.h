/*
 * pathbuf.h - the '/'-separated path of a tree walk, grown as the walk
 * descends and cut back as it returns (diff, reach).
 */
#ifndef MESH_PATHBUF_H
#define MESH_PATHBUF_H

#include <stddef.h>

typedef struct mesh_pathbuf {
	char *path;     /* NUL-terminated once anything was pushed; free() it */
	size_t len;
	size_t cap;
} mesh_pathbuf;

/* Appends "/name" (just "name" at the root); *saved gets the length that
 * mesh_pathbuf_pop restores.  MESH_ENOMEM leaves the path as it was. */
int mesh_pathbuf_push(mesh_pathbuf *p, const char *name, size_t *saved);
void mesh_pathbuf_pop(mesh_pathbuf *p, size_t saved);
/* Replaces the whole path with path. */
int mesh_pathbuf_set(mesh_pathbuf *p, const char *path);
void mesh_pathbuf_dispose(mesh_pathbuf *p);

#endif
