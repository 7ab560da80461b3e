/*
 * file.h - file content as a file map: its size and the list of chunks
 * that make it up, stored as a MESH_OBJ_FILE object.
 *
 * Serialized file map (little-endian):
 *   uint64 size, uint32 chunk count, then per chunk: uint32 length,
 *   32-byte chunk id.  Chunk offsets are the running sum of lengths.
 * A sparse hole is stored as the chunks of its zeros; zstd makes those
 * nearly free and identical zero chunks are stored once.
 */
#ifndef MESH_FILE_H
#define MESH_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "odb.h"
#include "chunk.h"

typedef struct mesh_file_chunk {
	mesh_oid id;
	uint64_t offset;
	uint32_t length;
} mesh_file_chunk;

typedef struct mesh_file_map {
	uint64_t size;
	size_t count;
	mesh_file_chunk *chunks;   /* sorted by offset */
} mesh_file_map;

/* Chunks, stores and maps the content of fd from offset 0 to EOF (read
 * with pread; the fd's position is untouched).  params NULL = default. */
int mesh_file_write_fd(mesh_odb *odb, const mesh_chunk_params *params,
		       int fd, mesh_oid *out_id, uint64_t *out_size);

/*
 * Stores the content of fd (0 to EOF) as mesh_file_write_fd does, given
 * base, a map of what fd held before, and stale[i] true for each of its
 * chunks written since (a truncate counts as writing every chunk past
 * the new end).  Clean chunks are reused without being read; the rest is
 * cut again from the last reused boundary, and reuse resumes where a new
 * cut falls on an old one (a cut depends only on the bytes since the one
 * before), so reading, hashing and new objects are O(stale chunks) and
 * the cuts are those a whole-file pass makes.  base NULL, or mostly
 * stale: the whole file.  Objects small enough for the database go into
 * batch when it is not NULL (as mesh_file_writer_snapshot_batched).
 * *out_map gets the new map (free with mesh_file_map_free).
 */
int mesh_file_store_changes(mesh_odb *odb, struct mesh_db_batch *batch,
			    const mesh_chunk_params *params, int fd,
			    const mesh_file_map *base, const bool *stale,
			    mesh_oid *out_id, mesh_file_map **out_map);

/* Content read through a function: the fd of a scratch file, or a map
 * with later writes laid over it (journal.h).  read gets len bytes at
 * offset, with offset + len <= size; *got < len means the content ended. */
typedef struct mesh_file_source {
	int (*read)(void *ctx, void *buf, size_t len, uint64_t offset, size_t *got);
	void *ctx;
	uint64_t size;
} mesh_file_source;

/* mesh_file_store_changes for content read from src. */
int mesh_file_store_changes_from(mesh_odb *odb, struct mesh_db_batch *batch,
				 const mesh_chunk_params *params, const mesh_file_source *src,
				 const mesh_file_map *base, const bool *stale,
				 mesh_oid *out_id, mesh_file_map **out_map);

/* The same for a buffer in memory. */
int mesh_file_write_buf(mesh_odb *odb, const mesh_chunk_params *params,
			const void *data, size_t len,
			mesh_oid *out_id);

/*
 * A file written as its data arrives: chunks are cut and stored while
 * appending, so closing a large file only stores its last chunks.
 * Free with mesh_file_writer_free.
 */
typedef struct mesh_file_writer mesh_file_writer;
typedef struct mesh_chunk_cache mesh_chunk_cache;
int mesh_file_writer_new(mesh_file_writer **out, mesh_odb *odb,
			 const mesh_chunk_params *params);
int mesh_file_writer_append(mesh_file_writer *w, const void *data, size_t len);
uint64_t mesh_file_writer_size(const mesh_file_writer *w);
/* Stores the map of everything appended so far; appending may go on. */
int mesh_file_writer_snapshot(mesh_file_writer *w, mesh_oid *out_id,
			      uint64_t *out_size);
/* The same, with the objects not stored yet that the store keeps in its
 * database (the last chunks of a file, its map) added to batch
 * (mesh_odb_write_batched): they exist once batch is written. */
int mesh_file_writer_snapshot_batched(mesh_file_writer *w, struct mesh_db_batch *batch,
				      mesh_oid *out_id, uint64_t *out_size);
/* Reads back what was appended, as mesh_file_read does. */
int mesh_file_writer_read(mesh_file_writer *w, mesh_chunk_cache *cache, void *buf,
			  size_t len, uint64_t offset, size_t *nread);
void mesh_file_writer_free(mesh_file_writer *w);

/* Loads a file map; free with mesh_file_map_free(). */
int mesh_file_map_load(mesh_odb *odb, const mesh_oid *id,
		       mesh_file_map **out);
void mesh_file_map_free(mesh_file_map *map);
/* Decodes a file map's payload (id only names it in errors): MESH_EIO
 * when the bytes are not a well-formed map.  Free with mesh_file_map_free. */
int mesh_file_map_parse(const mesh_oid *id, const void *data, size_t len,
			mesh_file_map **out);
/* The chunk holding offset, or NULL at or past the end. */
const mesh_file_chunk *mesh_file_map_chunk_at(const mesh_file_map *map, uint64_t offset);

/*
 * A bounded, thread-safe LRU cache of decompressed, verified chunks, so
 * that small reads of a large file do not decompress a chunk per read.
 */
int mesh_chunk_cache_new(mesh_chunk_cache **out, size_t max_bytes);
void mesh_chunk_cache_free(mesh_chunk_cache *cache);

/* Starts threads that read ahead for mesh_file_prefetch (stopped by
 * mesh_chunk_cache_free); odb must outlive the cache. */
int mesh_chunk_cache_start_prefetch(mesh_chunk_cache *cache, mesh_odb *odb,
				    unsigned threads);

/* Asks the read-ahead threads to load the chunks of [offset, offset+len)
 * into the cache; chunks already there or queued are skipped, and a full
 * queue drops the rest.  For sequential readers. */
void mesh_file_prefetch(mesh_chunk_cache *cache, const mesh_file_map *map,
			uint64_t offset, uint64_t len);

/* Reads up to len bytes at offset into buf; *nread < len only at end of
 * file.  cache may be NULL. */
int mesh_file_read(mesh_odb *odb, mesh_chunk_cache *cache,
		   const mesh_file_map *map, void *buf, size_t len,
		   uint64_t offset, size_t *nread);

/*
 * The same without copying: up to max_spans pieces of cached chunks that
 * hold [offset, offset+len), each pinned until mesh_file_spans_release,
 * so a FUSE reply can be sent straight from the cache.  *total may fall
 * short of len at the end of the file or when max_spans pieces are used.
 */
typedef struct mesh_file_span {
	const void *data;
	size_t len;
	void *pin;
} mesh_file_span;

int mesh_file_read_spans(mesh_odb *odb, mesh_chunk_cache *cache,
			 const mesh_file_map *map, size_t len, uint64_t offset,
			 mesh_file_span *spans, size_t max_spans, size_t *count,
			 size_t *total);
void mesh_file_spans_release(mesh_chunk_cache *cache, mesh_file_span *spans,
			     size_t count);

/* Writes the whole content into fd from offset 0 (for copy-on-write
 * opens).  Holes stay holes where a chunk is all zeros. */
int mesh_file_materialize(mesh_odb *odb, mesh_chunk_cache *cache,
			  const mesh_file_map *map, int fd);

#endif
