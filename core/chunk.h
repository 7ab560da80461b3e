/*
 * chunk.h - content-defined chunking (FastCDC with a gear hash).
 *
 * Boundaries depend only on the bytes near them, so inserting or
 * appending data moves only the chunks around the change, and identical
 * content cuts identically wherever it appears.
 */
#ifndef MESH_CHUNK_H
#define MESH_CHUNK_H

#include <stddef.h>
#include <stdbool.h>

typedef struct mesh_chunk_params {
	size_t min_size;
	size_t avg_size;   /* a power of two */
	size_t max_size;
} mesh_chunk_params;

/* 64 KiB min, 256 KiB average, 1 MiB max. */
extern const mesh_chunk_params mesh_chunk_default_params;

/* MESH_EINVAL unless 0 < min <= avg <= max and avg is a power of two. */
int mesh_chunk_params_check(const mesh_chunk_params *params);

/*
 * Length of the first chunk of buf[0..len).  When len < max_size and
 * !at_eof and no boundary is found, returns 0: the caller must supply
 * more data.  At eof, returns len when no boundary is found (the tail).
 * Never returns more than max_size or len.
 */
size_t mesh_chunk_next(const mesh_chunk_params *params,
		       const unsigned char *buf, size_t len, bool at_eof);

#endif
