#include "pathbuf.h"
#include "error.h"

#include <stdlib.h>
#include <string.h>

#define PATHBUF_FIRST_CAP 256

int mesh_pathbuf_push(mesh_pathbuf *p, const char *name, size_t *saved)
{
	size_t nlen = strlen(name), need = p->len + 1 + nlen + 1;

	if (need > p->cap) {
		size_t cap = p->cap ? p->cap : PATHBUF_FIRST_CAP;
		char *grown;

		while (cap < need)
			cap *= 2;
		if (!(grown = realloc(p->path, cap)))
			return mesh_error_oom();
		p->path = grown;
		p->cap = cap;
	}
	*saved = p->len;
	if (p->len)
		p->path[p->len++] = '/';
	memcpy(p->path + p->len, name, nlen + 1);
	p->len += nlen;
	return 0;
}

void mesh_pathbuf_pop(mesh_pathbuf *p, size_t saved)
{
	p->len = saved;
	p->path[saved] = '\0';
}

int mesh_pathbuf_set(mesh_pathbuf *p, const char *path)
{
	size_t saved;

	p->len = 0;
	return mesh_pathbuf_push(p, path, &saved);
}

void mesh_pathbuf_dispose(mesh_pathbuf *p)
{
	free(p->path);
	*p = (mesh_pathbuf){ NULL, 0, 0 };
}
