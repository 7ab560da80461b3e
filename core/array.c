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
