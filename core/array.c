#include "array.h"
#include "error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_FIRST_CAP 16

int mesh_array_grow(void *items, size_t *cap, size_t count, size_t elem_size)
{
	void **slot = items;   /* items is the address of the array pointer */
	size_t grown_cap;
	void *grown;

	if (count < *cap)
		return 0;
	grown_cap = *cap ? *cap * 2 : ARRAY_FIRST_CAP;
	if (grown_cap > SIZE_MAX / elem_size)
		return mesh_error_oom();
	if (!(grown = realloc(*slot, grown_cap * elem_size)))
		return mesh_error_oom();
	*slot = grown;
	*cap = grown_cap;
	return 0;
}

int mesh_fields_join(const char *const *fields, size_t count, char **out, size_t *len)
{
	size_t total = 0;
	char *p;

	for (size_t i = 0; i < count; i++)
		total += strlen(fields[i]) + 1;
	if (!(p = *out = malloc(total ? total : 1)))
		return mesh_error_oom();
	for (size_t i = 0; i < count; i++) {
		size_t n = strlen(fields[i]) + 1;
		memcpy(p, fields[i], n);
		p += n;
	}
	*len = total;
	return 0;
}

size_t mesh_fields_split(const void *buf, size_t len, const char **fields, size_t max)
{
	const char *p = buf, *end = p + len;
	size_t n = 0;

	while (n < max && p < end) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));
		if (!nul)
			break;
		fields[n++] = p;
		p = nul + 1;
	}
	return n;
}
