/* test_file.c - file maps: storing, reading, dedup, holes, the cache. */
#include "testutil.h"
#include "error.h"
#include "file.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIB (1024 * 1024)

static char *tmp;
static mesh_odb *odb;

static const mesh_chunk_params small = {
	.min_size = 16 * 1024, .avg_size = 32 * 1024, .max_size = 64 * 1024,
};

static void setup(void)
{
	char objects[512], scratch[512];
	mesh_odb_backend *backend;

	tmp = test_tmpdir_new();
	snprintf(objects, sizeof(objects), "%s/objects", tmp);
	snprintf(scratch, sizeof(scratch), "%s/tmp", tmp);
	ck_assert_int_eq(mkdir(objects, 0755), 0);
	ck_assert_int_eq(mkdir(scratch, 0755), 0);
	ck_assert_int_eq(mesh_odb_backend_loose(&backend, objects, scratch), 0);
	ck_assert_int_eq(mesh_odb_open(&odb, backend, NULL), 0);
}

static void teardown(void)
{
	mesh_odb_close(odb);
	test_tmpdir_remove(tmp);
}


static void fill_text(unsigned char *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)("name,amount,region\nalice,12,eu\nbob,7,us\n"[(i + seed) % 39]);
}

/* A new file under tmp holding data; returns an fd open read-write. */
static int file_with(const char *name, const void *data, size_t len)
{
	char path[600];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	if (len)
		ck_assert_int_eq(pwrite(fd, data, len, 0), (ssize_t)len);
	return fd;
}

static uint64_t odb_writes(void)
{
	mesh_odb_stats stats;

	mesh_odb_stats_get(odb, &stats);
	return stats.writes;
}

static uint64_t odb_reads(void)
{
	mesh_odb_stats stats;

	mesh_odb_stats_get(odb, &stats);
	return stats.reads;
}

static void assert_map_sane(const mesh_file_map *map, size_t size,
			    const mesh_chunk_params *p)
{
	uint64_t offset = 0;

	ck_assert_uint_eq(map->size, size);
	for (size_t i = 0; i < map->count; i++) {
		ck_assert_uint_eq(map->chunks[i].offset, offset);
		ck_assert_uint_le(map->chunks[i].length, p->max_size);
		offset += map->chunks[i].length;
	}
	ck_assert_uint_eq(offset, size);
}

static void assert_reads_back(const mesh_file_map *map, mesh_chunk_cache *cache,
			      const unsigned char *expected, size_t size)
{
	unsigned char *buf = malloc(size + 100);
	size_t nread = 12345;

	ck_assert_int_eq(mesh_file_read(odb, cache, map, buf, size + 100, 0, &nread), 0);
	ck_assert_uint_eq(nread, size);
	if (size)
		ck_assert_mem_eq(buf, expected, size);
	free(buf);
}

static void round_trip(const unsigned char *data, size_t size, const char *name)
{
	mesh_oid buf_id, fd_id;
	mesh_file_map *map;
	mesh_chunk_cache *cache;
	uint64_t fd_size = 0;
	int fd = file_with(name, data, size);

	ck_assert_int_eq(mesh_file_write_buf(odb, NULL, data, size, &buf_id), 0);
	ck_assert_int_eq(lseek(fd, 7, SEEK_SET), 7);
	ck_assert_int_eq(mesh_file_write_fd(odb, NULL, fd, &fd_id, &fd_size), 0);
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 7);   /* position untouched */
	close(fd);
	ck_assert_uint_eq(fd_size, size);
	ck_assert_int_eq(mesh_oid_cmp(&buf_id, &fd_id), 0);
	ck_assert_int_eq(mesh_file_map_load(odb, &fd_id, &map), 0);
	assert_map_sane(map, size, &mesh_chunk_default_params);
	assert_reads_back(map, NULL, data, size);
	ck_assert_int_eq(mesh_chunk_cache_new(&cache, 8 * MIB), 0);
	assert_reads_back(map, cache, data, size);
	assert_reads_back(map, cache, data, size);
	mesh_chunk_cache_free(cache);
	mesh_file_map_free(map);
}

START_TEST(round_trip_sizes)
{
	const size_t sizes[] = { 0, 1, MIB + 1, 5 * MIB };
	unsigned char *data = malloc(5 * MIB);

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		test_fill_random(data, sizes[i], (unsigned)i + 1);
		round_trip(data, sizes[i], "random");
		fill_text(data, sizes[i], (unsigned)i);
		round_trip(data, sizes[i], "text");
	}
	free(data);
}
END_TEST

START_TEST(empty_file_has_no_chunks)
{
	mesh_oid id;
	mesh_file_map *map;
	char buf[8];
	size_t nread = 1;

	ck_assert_int_eq(mesh_file_write_buf(odb, NULL, NULL, 0, &id), 0);
	ck_assert_int_eq(mesh_file_map_load(odb, &id, &map), 0);
	ck_assert_uint_eq(map->size, 0);
	ck_assert_uint_eq(map->count, 0);
	ck_assert_int_eq(mesh_file_read(odb, NULL, map, buf, sizeof(buf), 0, &nread), 0);
	ck_assert_uint_eq(nread, 0);
	mesh_file_map_free(map);
}
END_TEST

static void check_random_reads(const mesh_file_map *map, mesh_chunk_cache *cache,
			       const unsigned char *data, size_t size)
{
	unsigned char *buf = malloc(300 * 1024);
	uint64_t x = 99;

	for (int i = 0; i < 300; i++) {
		size_t len, nread, want;
		uint64_t off;

		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		off = (x >> 20) % (size + 1000);
		len = (size_t)((x >> 8) % (300 * 1024));
		if (i % 10 == 0)
			off = map->chunks[(x >> 40) % map->count].offset - (i % 3);
		ck_assert_int_eq(mesh_file_read(odb, cache, map, buf, len, off, &nread), 0);
		want = off >= size ? 0 : (size - off < len ? size - off : len);
		ck_assert_uint_eq(nread, want);
		if (want)
			ck_assert_mem_eq(buf, data + off, want);
	}
	free(buf);
}

START_TEST(reads_at_any_offset)
{
	size_t size = 5 * MIB + 4321, nread = 1;
	unsigned char *data = malloc(size);
	mesh_chunk_cache *cache;
	mesh_file_map *map;
	mesh_oid id;
	char byte;

	test_fill_random(data, size, 11);
	fill_text(data + MIB, MIB, 0);
	ck_assert_int_eq(mesh_file_write_buf(odb, &small, data, size, &id), 0);
	ck_assert_int_eq(mesh_file_map_load(odb, &id, &map), 0);
	ck_assert_uint_gt(map->count, 50);
	assert_map_sane(map, size, &small);
	check_random_reads(map, NULL, data, size);
	ck_assert_int_eq(mesh_chunk_cache_new(&cache, 256 * 1024), 0);
	check_random_reads(map, cache, data, size);
	/* Past EOF: nothing, and no error. */
	ck_assert_int_eq(mesh_file_read(odb, cache, map, &byte, 1, size, &nread), 0);
	ck_assert_uint_eq(nread, 0);
	ck_assert_int_eq(mesh_file_read(odb, cache, map, &byte, 1, size + MIB, &nread), 0);
	ck_assert_uint_eq(nread, 0);
	mesh_chunk_cache_free(cache);
	mesh_file_map_free(map);
	free(data);
}
END_TEST

START_TEST(identical_content_is_stored_once)
{
	size_t size = 3 * MIB;
	unsigned char *data = malloc(size);
	mesh_oid a, b;
	uint64_t writes_after_a, size_b;
	int fd;

	test_fill_random(data, size, 21);
	ck_assert_int_eq(mesh_file_write_buf(odb, NULL, data, size, &a), 0);
	writes_after_a = odb_writes();
	ck_assert_uint_gt(writes_after_a, 3);
	fd = file_with("copy", data, size);
	ck_assert_int_eq(mesh_file_write_fd(odb, NULL, fd, &b, &size_b), 0);
	close(fd);
	ck_assert_int_eq(mesh_oid_cmp(&a, &b), 0);
	ck_assert_uint_eq(odb_writes(), writes_after_a);
	free(data);
}
END_TEST

START_TEST(append_adds_few_chunks)
{
	size_t size = 20 * MIB, extra = size / 100;
	unsigned char *data = malloc(size + extra);
	mesh_file_map *before, *after;
	mesh_oid id1, id2;
	uint64_t writes, new_size;
	int fd;

	test_fill_random(data, size + extra, 31);
	fd = file_with("grow", data, size);
	ck_assert_int_eq(mesh_file_write_fd(odb, NULL, fd, &id1, NULL), 0);
	writes = odb_writes();
	ck_assert_int_eq(pwrite(fd, data + size, extra, size), (ssize_t)extra);
	ck_assert_int_eq(mesh_file_write_fd(odb, NULL, fd, &id2, &new_size), 0);
	close(fd);
	ck_assert_uint_eq(new_size, size + extra);
	ck_assert_int_ne(mesh_oid_cmp(&id1, &id2), 0);
	ck_assert_int_eq(mesh_file_map_load(odb, &id1, &before), 0);
	ck_assert_int_eq(mesh_file_map_load(odb, &id2, &after), 0);
	ck_assert_uint_gt(before->count, 40);
	/* New objects: the old tail chunk recut, the appended chunk(s), the map. */
	ck_assert_uint_le(odb_writes() - writes, 4);
	assert_reads_back(after, NULL, data, size + extra);
	mesh_file_map_free(before);
	mesh_file_map_free(after);
	free(data);
}
END_TEST

/* Objects stored or found stored: every chunk hashed counts once. */
static uint64_t odb_stores(void)
{
	mesh_odb_stats stats;

	mesh_odb_stats_get(odb, &stats);
	return stats.writes + stats.write_dups;
}

/* As fs/dirty.c marks them: the chunks a write (or, with len
 * UINT64_MAX - off, a truncate to off) overlaps. */
static void mark(const mesh_file_map *map, bool *stale, uint64_t off, uint64_t len)
{
	for (size_t i = 0; i < map->count; i++)
		if (map->chunks[i].offset < off + len &&
		    map->chunks[i].offset + map->chunks[i].length > off)
			stale[i] = true;
}

/* Stores fd's changes against *base and checks the result is the map a
 * whole-file pass makes of model, at a cost of at most max_stores. */
static void store_and_check(int fd, mesh_file_map **base, bool **stale,
			    const unsigned char *model, size_t size, uint64_t max_stores)
{
	mesh_oid id, whole;
	mesh_file_map *next;
	uint64_t stores = odb_stores(), reads = odb_reads();

	ck_assert_int_eq(mesh_file_store_changes(odb, NULL, &small, fd, *base, *stale,
						 &id, &next), 0);
	ck_assert_uint_le(odb_stores() - stores, max_stores);
	ck_assert_uint_eq(odb_reads(), reads);      /* clean chunks are not read */
	assert_map_sane(next, size, &small);
	assert_reads_back(next, NULL, model, size);
	ck_assert_int_eq(mesh_file_write_buf(odb, &small, model, size, &whole), 0);
	ck_assert_int_eq(mesh_oid_cmp(&id, &whole), 0);   /* the same cuts */
	mesh_file_map_free(*base);
	free(*stale);
	*base = next;
	*stale = calloc(next->count + 1, sizeof(**stale));
}

START_TEST(store_changes_reads_only_written_chunks)
{
	size_t size = 2 * MIB, cap = 3 * MIB;
	unsigned char *model = calloc(1, cap), patch[3000];
	mesh_file_map *base = NULL;
	bool *stale = NULL;
	int fd;

	test_fill_random(model, size, 77);
	test_fill_random(patch, sizeof(patch), 78);
	fd = file_with("edited", model, size);
	/* No base: everything is cut, as a whole-file pass does. */
	store_and_check(fd, &base, &stale, model, size, 200);
	ck_assert_uint_gt(base->count, 30);

	/* Nothing written: only the map is stored (found, in fact). */
	store_and_check(fd, &base, &stale, model, size, 1);

	/* 100 bytes in the middle, then across a cut, then at offset 0:
	 * the chunks around them and the map, not the file. */
	uint64_t offs[] = { size / 2, base->chunks[10].offset - 50, 0 };
	for (size_t k = 0; k < 3; k++) {
		memcpy(model + offs[k], patch, 100);
		ck_assert_int_eq(pwrite(fd, patch, 100, (off_t)offs[k]), 100);
		mark(base, stale, offs[k], 100);
		store_and_check(fd, &base, &stale, model, size, 6);
	}

	/* Appending: the old last chunk is cut again with what follows. */
	memcpy(model + size, patch, sizeof(patch));
	ck_assert_int_eq(pwrite(fd, patch, sizeof(patch), (off_t)size), (ssize_t)sizeof(patch));
	size += sizeof(patch);
	store_and_check(fd, &base, &stale, model, size, 6);

	/* Shorter, then longer again (zeros), then a write past the end. */
	size = 3 * MIB / 2;
	ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
	mark(base, stale, size, UINT64_MAX - size);
	store_and_check(fd, &base, &stale, model, size, 6);
	ck_assert_int_eq(ftruncate(fd, (off_t)(size + 200000)), 0);
	memset(model + size, 0, 200000);
	mark(base, stale, size, UINT64_MAX - size);
	size += 200000;
	store_and_check(fd, &base, &stale, model, size, 12);
	memset(model + size, 0, 5000);
	memcpy(model + size + 5000, patch, 100);
	ck_assert_int_eq(pwrite(fd, patch, 100, (off_t)(size + 5000)), 100);
	mark(base, stale, size, 5100);
	size += 5100;
	store_and_check(fd, &base, &stale, model, size, 6);

	/* Truncated to nothing. */
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	mark(base, stale, 0, UINT64_MAX);
	store_and_check(fd, &base, &stale, model, 0, 1);
	close(fd);
	mesh_file_map_free(base);
	free(stale);
	free(model);
}
END_TEST

/* An fsync of a file being appended to cuts only what came since its
 * last cut: the chunks the buffered tail holds are kept, not hashed at
 * every snapshot (a database's log, fsync'd after each commit). */
START_TEST(writer_snapshots_do_not_rehash_the_tail)
{
	size_t step = 4096, steps = 300;
	unsigned char *data = malloc(step * steps);
	mesh_file_writer *w;
	mesh_oid id, whole;
	uint64_t stores = 0;

	test_fill_random(data, step * steps, 91);
	ck_assert_int_eq(mesh_file_writer_new(&w, odb, &small), 0);
	for (size_t k = 0; k < steps; k++) {
		uint64_t before = odb_stores();

		ck_assert_int_eq(mesh_file_writer_append(w, data + k * step, step), 0);
		ck_assert_int_eq(mesh_file_writer_snapshot(w, &id, NULL), 0);
		stores += odb_stores() - before;
	}
	ck_assert_int_eq(mesh_file_write_buf(odb, &small, data, step * steps, &whole), 0);
	ck_assert_int_eq(mesh_oid_cmp(&id, &whole), 0);
	/* Each snapshot: its tail (at most two chunks) and its map; the whole
	 * buffered tail (up to 4 MiB) hashed each time would be far more. */
	ck_assert_uint_le(stores, steps * 4);
	mesh_file_writer_free(w);
	free(data);
}
END_TEST

static void assert_same_content(int fd_a, int fd_b, off_t size)
{
	unsigned char *a = malloc(MIB), *b = malloc(MIB);

	for (off_t off = 0; off < size; off += MIB) {
		ssize_t na = pread(fd_a, a, MIB, off), nb = pread(fd_b, b, MIB, off);

		ck_assert_int_eq(na, nb);
		ck_assert_int_gt(na, 0);
		ck_assert_mem_eq(a, b, (size_t)na);
	}
	free(a);
	free(b);
}

START_TEST(sparse_file_materializes_with_holes)
{
	off_t size = 64 * MIB;
	unsigned char head[4096], mid[4096];
	mesh_file_map *map;
	mesh_chunk_cache *cache;
	struct stat st;
	mesh_oid id;
	uint64_t writes;
	int src, dst;

	test_fill_random(head, sizeof(head), 41);
	test_fill_random(mid, sizeof(mid), 42);
	src = file_with("sparse", head, sizeof(head));
	ck_assert_int_eq(ftruncate(src, size), 0);
	ck_assert_int_eq(pwrite(src, mid, sizeof(mid), 32 * MIB + 5), (ssize_t)sizeof(mid));
	writes = odb_writes();
	ck_assert_int_eq(mesh_file_write_fd(odb, NULL, src, &id, NULL), 0);
	/* 64 MiB of mostly zeros: a handful of distinct objects. */
	ck_assert_uint_le(odb_writes() - writes, 8);
	ck_assert_int_eq(mesh_file_map_load(odb, &id, &map), 0);
	ck_assert_uint_eq(map->size, (uint64_t)size);
	ck_assert_int_eq(mesh_chunk_cache_new(&cache, 4 * MIB), 0);

	/* Old garbage in the target must not survive where holes go. */
	dst = file_with("restored", mid, sizeof(mid));
	ck_assert_int_eq(pwrite(dst, mid, sizeof(mid), 10 * MIB), (ssize_t)sizeof(mid));
	ck_assert_int_eq(mesh_file_materialize(odb, cache, map, dst), 0);
	ck_assert_int_eq(fstat(dst, &st), 0);
	ck_assert_int_eq(st.st_size, size);
	ck_assert_int_lt((long long)st.st_blocks * 512, 8 * MIB);
	assert_same_content(src, dst, size);
	close(src);
	close(dst);
	mesh_chunk_cache_free(cache);
	mesh_file_map_free(map);
}
END_TEST

/* Reads a whole chunk i of map through cache. */
static void read_chunk(const mesh_file_map *map, mesh_chunk_cache *cache, size_t i)
{
	unsigned char buf[64 * 1024];
	size_t nread;

	ck_assert_int_eq(mesh_file_read(odb, cache, map, buf, map->chunks[i].length,
					map->chunks[i].offset, &nread), 0);
	ck_assert_uint_eq(nread, map->chunks[i].length);
}

START_TEST(cache_serves_repeat_reads)
{
	size_t size = 2 * MIB;
	unsigned char *data = malloc(size), buf[4096];
	mesh_chunk_cache *cache;
	mesh_file_map *map;
	mesh_oid id;
	uint64_t reads;
	size_t nread;

	test_fill_random(data, size, 51);
	ck_assert_int_eq(mesh_file_write_buf(odb, &small, data, size, &id), 0);
	ck_assert_int_eq(mesh_file_map_load(odb, &id, &map), 0);
	ck_assert_int_eq(mesh_chunk_cache_new(&cache, 16 * MIB), 0);
	reads = odb_reads();
	/* 4 KiB reads: each chunk is fetched once, not once per read. */
	for (uint64_t off = 0; off < size; off += sizeof(buf)) {
		ck_assert_int_eq(mesh_file_read(odb, cache, map, buf, sizeof(buf), off, &nread), 0);
		ck_assert_mem_eq(buf, data + off, nread);
	}
	ck_assert_uint_eq(odb_reads() - reads, map->count);
	for (size_t i = 0; i < map->count; i++)
		read_chunk(map, cache, i);
	ck_assert_uint_eq(odb_reads() - reads, map->count);
	mesh_chunk_cache_free(cache);
	mesh_file_map_free(map);
	free(data);
}
END_TEST

START_TEST(cache_bound_respected)
{
	size_t size = 2 * MIB, fit = 0, held = 0;
	unsigned char *data = malloc(size);
	mesh_chunk_cache *cache, *tiny;
	mesh_file_map *map;
	mesh_oid id;
	uint64_t reads;

	test_fill_random(data, size, 61);
	ck_assert_int_eq(mesh_file_write_buf(odb, &small, data, size, &id), 0);
	ck_assert_int_eq(mesh_file_map_load(odb, &id, &map), 0);
	ck_assert_int_eq(mesh_chunk_cache_new(&cache, 256 * 1024), 0);
	/* The chunks that fit the bound stay cached... */
	while (held + map->chunks[fit].length <= 256 * 1024)
		held += map->chunks[fit++].length;
	for (size_t i = 0; i < fit; i++)
		read_chunk(map, cache, i);
	reads = odb_reads();
	for (size_t i = 0; i < fit; i++)
		read_chunk(map, cache, i);
	ck_assert_uint_eq(odb_reads(), reads);
	/* ...one more evicts the least recently used, chunk 0... */
	read_chunk(map, cache, fit);
	reads = odb_reads();
	read_chunk(map, cache, 0);
	ck_assert_uint_eq(odb_reads(), reads + 1);
	/* ...and a whole pass over the file is too big to keep. */
	for (size_t i = 0; i < map->count; i++)
		read_chunk(map, cache, i);
	reads = odb_reads();
	for (size_t i = 0; i < map->count; i++)
		read_chunk(map, cache, i);
	ck_assert_uint_eq(odb_reads() - reads, map->count);
	/* A chunk bigger than the bound is never cached. */
	ck_assert_int_eq(mesh_chunk_cache_new(&tiny, 1024), 0);
	reads = odb_reads();
	read_chunk(map, tiny, 0);
	read_chunk(map, tiny, 0);
	ck_assert_uint_eq(odb_reads(), reads + 2);
	mesh_chunk_cache_free(tiny);
	mesh_chunk_cache_free(cache);
	mesh_file_map_free(map);
	free(data);
}
END_TEST

typedef struct reader_arg {
	const mesh_file_map *map;
	mesh_chunk_cache *cache;
	const unsigned char *data;
	size_t size;
} reader_arg;

static void *reader(void *p)
{
	reader_arg *arg = p;

	check_random_reads(arg->map, arg->cache, arg->data, arg->size);
	return NULL;
}

START_TEST(concurrent_reads_share_cache)
{
	size_t size = 3 * MIB;
	unsigned char *data = malloc(size);
	mesh_chunk_cache *cache;
	mesh_file_map *map;
	pthread_t threads[4];
	reader_arg arg;
	mesh_oid id;

	test_fill_random(data, size, 71);
	ck_assert_int_eq(mesh_file_write_buf(odb, &small, data, size, &id), 0);
	ck_assert_int_eq(mesh_file_map_load(odb, &id, &map), 0);
	/* A small cache forces evictions while other threads hold chunks. */
	ck_assert_int_eq(mesh_chunk_cache_new(&cache, 200 * 1024), 0);
	arg = (reader_arg){ .map = map, .cache = cache, .data = data, .size = size };
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&threads[i], NULL, reader, &arg), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(threads[i], NULL);
	mesh_chunk_cache_free(cache);
	mesh_file_map_free(map);
	free(data);
}
END_TEST

START_TEST(corrupt_or_wrong_objects_are_errors)
{
	unsigned char data[100000], buf[100];
	mesh_file_map *map = NULL;
	mesh_oid id, chunk_id;
	char hex[MESH_OID_HEXSZ + 1], path[800];
	size_t nread;
	int fd;

	test_fill_random(data, sizeof(data), 81);
	ck_assert_int_eq(mesh_file_write_buf(odb, &small, data, sizeof(data), &id), 0);
	/* A chunk is not a file map. */
	ck_assert_int_eq(mesh_odb_write(odb, MESH_OBJ_CHUNK, data, 10, &chunk_id), 0);
	ck_assert_int_eq(mesh_file_map_load(odb, &chunk_id, &map), MESH_EIO);
	ck_assert_ptr_null(map);
	ck_assert_int_eq(mesh_oid_hash(&chunk_id, "file", "x", 1), 0);
	ck_assert_int_eq(mesh_file_map_load(odb, &chunk_id, &map), MESH_EIO);
	/* A file map whose lengths do not add up. */
	memset(buf, 0, 12);
	buf[0] = 5;
	ck_assert_int_eq(mesh_odb_write(odb, MESH_OBJ_FILE, buf, 12, &chunk_id), 0);
	ck_assert_int_eq(mesh_file_map_load(odb, &chunk_id, &map), MESH_EIO);
	/* A damaged chunk fails the read that needs it. */
	ck_assert_int_eq(mesh_file_map_load(odb, &id, &map), 0);
	mesh_oid_fmt(hex, &map->chunks[1].id);
	snprintf(path, sizeof(path), "%s/objects/%.2s/%s", tmp, hex, hex + 2);
	ck_assert_int_eq(chmod(path, 0644), 0);   /* objects are read-only */
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "!", 1, 20), 1);
	close(fd);
	ck_assert_int_eq(mesh_file_read(odb, NULL, map, buf, sizeof(buf), 0, &nread), 0);
	ck_assert_int_eq(mesh_file_read(odb, NULL, map, buf, sizeof(buf),
					map->chunks[1].offset, &nread), MESH_EIO);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), hex));
	mesh_file_map_free(map);
}
END_TEST

START_TEST(bad_arguments)
{
	mesh_chunk_params bad = { .min_size = 10, .avg_size = 100, .max_size = 1000 };
	mesh_oid id;
	uint64_t size;

	ck_assert_int_eq(mesh_file_write_buf(odb, &bad, "abc", 3, &id), MESH_EINVAL);
	ck_assert_int_eq(mesh_file_write_fd(odb, NULL, -1, &id, &size), -EBADF);
	ck_assert_int_eq(odb_writes(), 0);
}
END_TEST


/* A disk that fills up: writes fail with ENOSPC while full is set. */
typedef struct full_backend {
	mesh_odb_backend base;
	mesh_odb_backend *inner;
	atomic_int full;
} full_backend;

static int full_read(mesh_odb_backend *b, const mesh_oid *oid, void **out, size_t *len)
{
	return ((full_backend *)b)->inner->read(((full_backend *)b)->inner, oid, out, len);
}

static int full_write(mesh_odb_backend *b, const mesh_oid *oid, const void *data, size_t len)
{
	full_backend *fb = (full_backend *)b;

	if (atomic_load(&fb->full))
		return mesh_error_set(MESH_ENOSPC, "no space left (test)");
	return fb->inner->write(fb->inner, oid, data, len);
}

static int full_exists(mesh_odb_backend *b, const mesh_oid *oid)
{
	return ((full_backend *)b)->inner->exists(((full_backend *)b)->inner, oid);
}

static int full_sync(mesh_odb_backend *b)
{
	return ((full_backend *)b)->inner->sync(((full_backend *)b)->inner);
}

static void full_free(mesh_odb_backend *b)
{
	((full_backend *)b)->inner->free(((full_backend *)b)->inner);
}

START_TEST(writer_keeps_what_it_accepted_on_a_full_disk)
{
	char objects[512], scratch[512];
	full_backend fb = { .base = { full_read, full_write, full_exists, full_sync, full_free, NULL } };
	size_t total = 24 * MIB, piece = 256 * 1024, accepted = 0;
	unsigned char *data = malloc(total), *back = malloc(total);
	mesh_file_writer *w;
	mesh_file_map *map;
	mesh_odb *full_odb;
	mesh_oid id;
	uint64_t size;
	size_t got;
	int error = 0;

	snprintf(objects, sizeof(objects), "%s/objects", tmp);
	snprintf(scratch, sizeof(scratch), "%s/tmp", tmp);
	ck_assert_int_eq(mesh_odb_backend_loose(&fb.inner, objects, scratch), 0);
	ck_assert_int_eq(mesh_odb_open(&full_odb, &fb.base, NULL), 0);
	test_fill_random(data, total, 77);
	ck_assert_int_eq(mesh_file_writer_new(&w, full_odb, &small), 0);
	ck_assert_int_eq(mesh_file_writer_append(w, data, 5 * MIB), 0);
	accepted = 5 * MIB;
	atomic_store(&fb.full, 1);
	while (accepted < total && error == 0) {
		uint64_t before = mesh_file_writer_size(w);
		error = mesh_file_writer_append(w, data + accepted, piece);
		accepted += (size_t)(mesh_file_writer_size(w) - before);
	}
	ck_assert_int_eq(error, MESH_ENOSPC);
	/* The size counts what was accepted, each byte once. */
	ck_assert_uint_eq(mesh_file_writer_size(w), accepted);
	ck_assert_int_eq(mesh_file_writer_snapshot(w, &id, &size), MESH_ENOSPC);

	/* Space is back: the same writer stores everything it accepted. */
	atomic_store(&fb.full, 0);
	ck_assert_int_eq(mesh_file_writer_append(w, data + accepted, piece), 0);
	accepted += piece;
	ck_assert_int_eq(mesh_file_writer_snapshot(w, &id, &size), 0);
	ck_assert_uint_eq(size, accepted);
	ck_assert_int_eq(mesh_file_map_load(full_odb, &id, &map), 0);
	ck_assert_int_eq(mesh_file_read(full_odb, NULL, map, back, total, 0, &got), 0);
	ck_assert_uint_eq(got, accepted);
	ck_assert_int_eq(memcmp(back, data, accepted), 0);
	mesh_file_map_free(map);
	mesh_file_writer_free(w);
	mesh_odb_close(full_odb);
	free(data);
	free(back);
}
END_TEST

static Suite *file_suite(void)
{
	Suite *s = suite_create("file");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, round_trip_sizes);
	tcase_add_test(tc, empty_file_has_no_chunks);
	tcase_add_test(tc, reads_at_any_offset);
	tcase_add_test(tc, identical_content_is_stored_once);
	tcase_add_test(tc, append_adds_few_chunks);
	tcase_add_test(tc, store_changes_reads_only_written_chunks);
	tcase_add_test(tc, writer_snapshots_do_not_rehash_the_tail);
	tcase_add_test(tc, sparse_file_materializes_with_holes);
	tcase_add_test(tc, cache_serves_repeat_reads);
	tcase_add_test(tc, cache_bound_respected);
	tcase_add_test(tc, concurrent_reads_share_cache);
	tcase_add_test(tc, corrupt_or_wrong_objects_are_errors);
	tcase_add_test(tc, bad_arguments);
	tcase_add_test(tc, writer_keeps_what_it_accepted_on_a_full_disk);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(file_suite());
}
