/*
 * fuzz_file_map.c - the file-map decoder (core/file.c).
 *
 * Properties: a failure is EIO; in a decoded map the chunks tile
 * [0, size) without gaps, and the chunk lookup finds each chunk at its
 * first and last byte and nothing at the end.
 */
#include "fuzz_util.h"
#include "error.h"
#include "file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mesh_oid id = { { 0 } };
	mesh_file_map *map;
	uint64_t offset = 0;
	int error = mesh_file_map_parse(&id, data, size, &map);

	if (error < 0) {
		FUZZ_ASSERT(error == MESH_EIO, "%d: %s", error, mesh_error_message());
		return 0;
	}
	for (size_t i = 0; i < map->count; i++) {
		const mesh_file_chunk *c = &map->chunks[i];
		FUZZ_ASSERT(c->offset == offset && c->length > 0, "chunk %zu misplaced", i);
		FUZZ_ASSERT(mesh_file_map_chunk_at(map, c->offset) == c, "chunk %zu start", i);
		FUZZ_ASSERT(mesh_file_map_chunk_at(map, c->offset + c->length - 1) == c,
			    "chunk %zu end", i);
		offset += c->length;
	}
	FUZZ_ASSERT(offset == map->size, "chunks end at %llu, size %llu",
		    (unsigned long long)offset, (unsigned long long)map->size);
	FUZZ_ASSERT(mesh_file_map_chunk_at(map, map->size) == NULL, "a chunk past the end");
	mesh_file_map_free(map);
	return 0;
}
