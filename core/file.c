/*
 * file.c - file content as chunks plus a file map, and reading it back.
 */
#include "file.h"
#include "array.h"
#include "db.h"
#include "error.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAP_HEADER_LEN 12               /* uint64 size, uint32 count */
#define MAP_ENTRY_LEN (4 + MESH_OID_RAWSZ)
#define WRITE_BLOCK (4u * 1024 * 1024)

/* ---- building and storing a map --------------------------------------- */

typedef struct map_builder {
	mesh_file_chunk *chunks;
	size_t count;
	size_t alloc;
	uint64_t size;
} map_builder;

/* Stores an object; into batch (mesh_odb_write_batched) when not NULL,
 * unchecked when known_new. */
static int store_object(mesh_odb *odb, mesh_db_batch *batch, bool known_new,
			mesh_otype type, const void *data, size_t len, mesh_oid *out)
{
	if (!batch)
		return mesh_odb_write(odb, type, data, len, out);
	if (known_new)
		return mesh_odb_write_new_batched(odb, batch, type, data, len, out);
	return mesh_odb_write_batched(odb, batch, type, data, len, out);
}

static int builder_add(map_builder *b, mesh_odb *odb, mesh_db_batch *batch,
		       const unsigned char *data, size_t len)
{
	mesh_file_chunk *chunk;
	int error;

	if (mesh_array_grow(&b->chunks, &b->alloc, b->count, sizeof(*b->chunks)) < 0)
		return MESH_ENOMEM;
	chunk = &b->chunks[b->count];
	if ((error = store_object(odb, batch, false, MESH_OBJ_CHUNK, data, len, &chunk->id)) < 0)
		return error;
	chunk->offset = b->size;
	chunk->length = (uint32_t)len;
	b->count++;
	b->size += len;
	return 0;
}

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const unsigned char *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static int builder_store(map_builder *b, mesh_odb *odb, mesh_db_batch *batch,
			 bool known_new, mesh_oid *out_id)
{
	size_t len;
	unsigned char *buf, *p;
	int error;

	if (b->count > UINT32_MAX)
		return mesh_error_set(MESH_EINVAL, "file has too many chunks (%zu)",
				      b->count);
	len = MAP_HEADER_LEN + b->count * MAP_ENTRY_LEN;
	buf = malloc(len);
	if (!buf)
		return mesh_error_oom();
	put_le64(buf, b->size);
	put_le32(buf + 8, (uint32_t)b->count);
	p = buf + MAP_HEADER_LEN;
	for (size_t i = 0; i < b->count; i++, p += MAP_ENTRY_LEN) {
		put_le32(p, b->chunks[i].length);
		memcpy(p + 4, b->chunks[i].id.id, MESH_OID_RAWSZ);
	}
	error = store_object(odb, batch, known_new, MESH_OBJ_FILE, buf, len, out_id);
	free(buf);
	return error;
}

/* Chunk lengths are uint32 in the stored map. */
static int params_resolve(const mesh_chunk_params **params)
{
	int error;

	if (!*params)
		*params = &mesh_chunk_default_params;
	if ((error = mesh_chunk_params_check(*params)) < 0)
		return error;
	if ((*params)->max_size > UINT32_MAX)
		return mesh_error_set(MESH_EINVAL,
				      "maximum chunk size %zu does not fit a file map",
				      (*params)->max_size);
	return 0;
}

/* Cuts and stores the chunks of buf; returns bytes consumed.  Stops short
 * of the end when the chunker needs more data than buf holds. */
static int chunk_span(map_builder *b, mesh_odb *odb, mesh_db_batch *batch,
		      const mesh_chunk_params *params,
		      const unsigned char *buf, size_t len, bool at_eof,
		      size_t *consumed)
{
	size_t pos = 0;
	int error;

	while (pos < len) {
		size_t cut = mesh_chunk_next(params, buf + pos, len - pos, at_eof);

		if (cut == 0)
			break;
		if ((error = builder_add(b, odb, batch, buf + pos, cut)) < 0)
			return error;
		pos += cut;
	}
	*consumed = pos;
	return 0;
}

int mesh_file_write_buf(mesh_odb *odb, const mesh_chunk_params *params,
			const void *data, size_t len, mesh_oid *out_id)
{
	map_builder b = {0};
	size_t consumed;
	int error;

	if (len && !data)
		return mesh_error_set(MESH_EINVAL, "file data missing");
	if ((error = params_resolve(&params)) < 0)
		return error;
	error = chunk_span(&b, odb, NULL, params, data, len, true, &consumed);
	if (error == 0)
		error = builder_store(&b, odb, NULL, false, out_id);
	free(b.chunks);
	return error;
}

static int fd_read(void *ctx, void *buf, size_t len, uint64_t offset, size_t *got)
{
	const int *fd = ctx;
	ssize_t n;

	do
		n = pread(*fd, buf, len, (off_t)offset);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return mesh_error_os("cannot read file to store", NULL);
	*got = (size_t)n;
	return 0;
}

/* Fills buf[*have..cap) from src at *file_off; sets *eof at its end. */
static int fill_block(const mesh_file_source *src, unsigned char *buf, size_t cap,
		      size_t *have, uint64_t *file_off, bool *eof)
{
	while (*have < cap) {
		size_t want = cap - *have, n = 0;
		int error;

		if (*file_off >= src->size) {
			*eof = true;
			return 0;
		}
		if (want > src->size - *file_off)
			want = (size_t)(src->size - *file_off);
		if ((error = src->read(src->ctx, buf + *have, want, *file_off, &n)) < 0)
			return error;
		if (n == 0) {
			*eof = true;
			return 0;
		}
		*have += n;
		*file_off += n;
	}
	return 0;
}

static int fd_source(int *fd, mesh_file_source *out)
{
	struct stat st;

	if (fstat(*fd, &st) < 0)
		return mesh_error_os("cannot stat file to store", NULL);
	out->read = fd_read;
	out->ctx = fd;
	out->size = (uint64_t)st.st_size;
	return 0;
}

/* ---- writing as data arrives ------------------------------------------ */

/* The unchunked tail waits in buf; when it fills, whole chunks are cut
 * and stored, so memory stays bounded whatever the file's size. */
#define WRITER_QUEUE 8
#define WRITER_WORKERS 2

/* The buffer appended data lands in.  Cut chunks are stored straight
 * from it, so it lives until the last of its chunks is stored. */
typedef struct write_block {
	unsigned refs;               /* under the writer's lock */
	unsigned char data[];
} write_block;

typedef struct store_job {
	write_block *block;
	const unsigned char *data;   /* inside block */
	size_t len;
	size_t slot;                 /* its entry in b.chunks */
} store_job;

struct mesh_file_writer {
	mesh_odb *odb;
	const mesh_chunk_params *params;
	map_builder b;               /* ids filled in by the workers, under lock */
	write_block *block;          /* holds one reference; NULL until data comes */
	size_t have, cap, max_cap;   /* of block->data */
	/* Chunks cut while appending are hashed, compressed and stored by
	 * worker threads, so the next data of a sequential writer arrives
	 * while the last is stored.  Hashing is the bulk of the work, so two
	 * workers share it.  The queue is short so that memory stays bounded. */
	pthread_mutex_t lock;
	pthread_cond_t changed;
	store_job queue[WRITER_QUEUE];
	size_t queue_head, queue_len, in_flight;
	pthread_t workers[WRITER_WORKERS];
	unsigned workers_started;
	bool stopping;
	/* A chunk whose store failed (a full disk) keeps its block and waits
	 * here to be stored again: nothing acknowledged is dropped, and the
	 * writer carries on once space is back.  worker_error stays set while
	 * any wait. */
	store_job failed[WRITER_QUEUE + WRITER_WORKERS];
	size_t failed_count;
	int worker_error;
	char worker_message[256];
	/* Chunks the workers stored, pinned (mesh_odb_pin) until the writer
	 * is freed: until a staged map names them, nothing in the database
	 * does, and a garbage collection must not take them.  Under lock. */
	mesh_oid *pinned;
	size_t pinned_count, pinned_cap;
};

#define WRITER_FIRST_CAP (64u * 1024)

/* The unchunked tail (NULL before the first append). */
static unsigned char *writer_tail(const mesh_file_writer *w)
{
	return w->block ? w->block->data : NULL;
}

/* Drops one reference.  Lock held, or no worker left. */
static void block_release_locked(write_block *block)
{
	if (block && --block->refs == 0)
		free(block);
}

/* Records a chunk mesh_odb_write_pinned stored: its id in the map, its
 * pin in the list, its block released.  Lock held. */
static int chunk_stored_locked(mesh_file_writer *w, const store_job *job, const mesh_oid *id)
{
	int error = mesh_array_grow(&w->pinned, &w->pinned_cap, w->pinned_count,
				    sizeof(*w->pinned));

	if (error < 0) {
		mesh_odb_unpin(w->odb, id);
		return error;
	}
	w->pinned[w->pinned_count++] = *id;
	w->b.chunks[job->slot].id = *id;
	block_release_locked(job->block);
	return 0;
}

/* Keeps a chunk whose store failed, block and all, for a retry.  Room is
 * certain: no chunk is queued while one is failed.  Lock held. */
static void chunk_failed_locked(mesh_file_writer *w, const store_job *job, int error)
{
	w->failed[w->failed_count++] = *job;
	if (w->worker_error == 0) {
		w->worker_error = error;
		snprintf(w->worker_message, sizeof(w->worker_message), "%s",
			 mesh_error_message());
	}
}

static void *store_worker(void *arg)
{
	mesh_file_writer *w = arg;
	store_job job;
	mesh_oid id;
	int error;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->stopping && w->queue_len == 0)
			pthread_cond_wait(&w->changed, &w->lock);
		if (w->queue_len == 0)
			break;
		job = w->queue[w->queue_head];
		w->queue_head = (w->queue_head + 1) % WRITER_QUEUE;
		w->queue_len--;
		w->in_flight++;
		pthread_mutex_unlock(&w->lock);
		error = mesh_odb_write_pinned(w->odb, MESH_OBJ_CHUNK, job.data, job.len, &id);
		pthread_mutex_lock(&w->lock);
		if (error == 0)
			error = chunk_stored_locked(w, &job, &id);
		if (error < 0)
			chunk_failed_locked(w, &job, error);
		w->in_flight--;
		pthread_cond_broadcast(&w->changed);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/*
 * After a failed store: waits until the workers are idle, then stores
 * the failed chunks again on this thread.  0 when all are stored now
 * (the writer is whole again), else the error.  Lock held.
 */
static int writer_retry_locked(mesh_file_writer *w)
{
	int error = 0;

	while (w->queue_len > 0 || w->in_flight > 0)
		pthread_cond_wait(&w->changed, &w->lock);
	while (error == 0 && w->failed_count > 0) {
		store_job job = w->failed[w->failed_count - 1];
		mesh_oid id;

		pthread_mutex_unlock(&w->lock);
		error = mesh_odb_write_pinned(w->odb, MESH_OBJ_CHUNK, job.data, job.len, &id);
		pthread_mutex_lock(&w->lock);
		if (error == 0)
			error = chunk_stored_locked(w, &job, &id);
		if (error < 0) {
			snprintf(w->worker_message, sizeof(w->worker_message), "%s",
				 mesh_error_message());
			w->worker_error = error;
			break;
		}
		w->failed_count--;
	}
	if (w->failed_count == 0)
		w->worker_error = 0;
	return w->worker_error ? mesh_error_set(w->worker_error, "%s", w->worker_message) : 0;
}

/* Hands one cut chunk of the current block to the workers; waits while
 * the queue is full. */
static int enqueue_chunk(mesh_file_writer *w, const unsigned char *data, size_t len)
{
	int error = 0;

	pthread_mutex_lock(&w->lock);
	/* One worker is needed; a second only speeds things up. */
	while (error == 0 && w->workers_started < WRITER_WORKERS) {
		if (pthread_create(&w->workers[w->workers_started], NULL, store_worker, w) == 0)
			w->workers_started++;
		else if (w->workers_started == 0)
			error = mesh_error_set(MESH_ENOMEM, "cannot start a chunk store thread");
		else
			break;
	}
	while (error == 0 && w->queue_len == WRITER_QUEUE && w->worker_error == 0)
		pthread_cond_wait(&w->changed, &w->lock);
	if (error == 0 && w->worker_error)
		error = writer_retry_locked(w);
	if (error == 0 &&
	    (error = mesh_array_grow(&w->b.chunks, &w->b.alloc, w->b.count,
				     sizeof(*w->b.chunks))) == 0) {
		size_t slot = w->b.count++;
		w->b.chunks[slot].offset = w->b.size;
		w->b.chunks[slot].length = (uint32_t)len;
		w->b.size += len;
		w->queue[(w->queue_head + w->queue_len) % WRITER_QUEUE] =
			(store_job){ w->block, data, len, slot };
		w->queue_len++;
		w->block->refs++;
		pthread_cond_broadcast(&w->changed);
	}
	pthread_mutex_unlock(&w->lock);
	return error;
}

/* Waits until every queued chunk is stored; its first failure, if any. */
static int writer_drain(mesh_file_writer *w)
{
	int error = 0;

	pthread_mutex_lock(&w->lock);
	while (w->queue_len > 0 || w->in_flight > 0)
		pthread_cond_wait(&w->changed, &w->lock);
	if (w->worker_error)
		error = writer_retry_locked(w);
	pthread_mutex_unlock(&w->lock);
	return error;
}

int mesh_file_writer_new(mesh_file_writer **out, mesh_odb *odb,
			 const mesh_chunk_params *params)
{
	mesh_file_writer *w = NULL;
	int error;

	if ((error = params_resolve(&params)) < 0)
		return error;
	if (!(w = calloc(1, sizeof(*w))))
		return mesh_error_oom();
	w->odb = odb;
	w->params = params;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->changed, NULL);
	/* The buffer must hold a whole maximal chunk, or the chunker could
	 * ask for more data forever. */
	w->max_cap = params->max_size > WRITE_BLOCK ? params->max_size : WRITE_BLOCK;
	*out = w;
	return 0;
}

void mesh_file_writer_free(mesh_file_writer *w)
{
	if (!w)
		return;
	if (w->workers_started) {
		pthread_mutex_lock(&w->lock);
		w->stopping = true;
		pthread_cond_broadcast(&w->changed);
		pthread_mutex_unlock(&w->lock);
		for (unsigned k = 0; k < w->workers_started; k++)
			pthread_join(w->workers[k], NULL);
	}
	for (size_t k = 0; k < w->failed_count; k++)
		block_release_locked(w->failed[k].block);
	block_release_locked(w->block);
	for (size_t i = 0; i < w->pinned_count; i++)
		mesh_odb_unpin(w->odb, &w->pinned[i]);
	free(w->pinned);
	pthread_cond_destroy(&w->changed);
	pthread_mutex_destroy(&w->lock);
	free(w->b.chunks);
	free(w);
}

uint64_t mesh_file_writer_size(const mesh_file_writer *w)
{
	return w->b.size + w->have;
}

/* Moves the uncut tail (from consumed on) into a fresh block; the old
 * one goes when its queued chunks are stored. */
static int writer_new_block(mesh_file_writer *w, size_t consumed)
{
	write_block *fresh = malloc(sizeof(*fresh) + w->cap);

	if (!fresh)
		return mesh_error_oom();
	fresh->refs = 1;
	memcpy(fresh->data, w->block->data + consumed, w->have - consumed);
	pthread_mutex_lock(&w->lock);
	block_release_locked(w->block);
	pthread_mutex_unlock(&w->lock);
	w->block = fresh;
	w->have -= consumed;
	return 0;
}

/* Room for at least one more byte, growing small buffers first. */
/* Hands the tail's whole chunks to the workers; the rest of it moves to
 * a fresh block. */
static int writer_cut_tail(mesh_file_writer *w)
{
	size_t consumed = 0;
	int error = 0, moved;

	while (consumed < w->have) {
		size_t cut = mesh_chunk_next(w->params, writer_tail(w) + consumed,
					     w->have - consumed, false);
		if (cut == 0)
			break;
		if ((error = enqueue_chunk(w, writer_tail(w) + consumed, cut)) < 0)
			break;
		consumed += cut;
	}
	if (consumed == 0)
		return error;
	/* Chunks handed over leave the tail even when a later one could not
	 * be: the writer's size counts every byte once. */
	moved = writer_new_block(w, consumed);
	return error < 0 ? error : moved;
}

static int writer_make_room(mesh_file_writer *w)
{
	if (w->have < w->cap)
		return 0;
	/* Growing happens before any chunk is cut: no job holds the block. */
	if (w->cap < w->max_cap) {
		size_t cap = w->cap ? w->cap * 4 : WRITER_FIRST_CAP;
		write_block *grown;

		cap = cap < w->max_cap ? cap : w->max_cap;
		if (!(grown = realloc(w->block, sizeof(*grown) + cap)))
			return mesh_error_oom();
		grown->refs = 1;
		w->block = grown;
		w->cap = cap;
		return 0;
	}
	/* A full block holds at least one chunk of the largest size. */
	return writer_cut_tail(w);
}

int mesh_file_writer_append(mesh_file_writer *w, const void *data, size_t len)
{
	const unsigned char *p = data;
	int error;

	while (len > 0) {
		size_t n;

		if ((error = writer_make_room(w)) < 0)
			return error;
		n = w->cap - w->have < len ? w->cap - w->have : len;
		memcpy(writer_tail(w) + w->have, p, n);
		w->have += n;
		p += n;
		len -= n;
	}
	return 0;
}

/*
 * The cuts the tail holds already fall there whatever is appended next:
 * they are handed to the workers for good, so a snapshot (an fsync of a
 * file being appended to, as a database's log is) cuts and hashes only
 * what came after the last of them, not the whole buffered tail again.
 */
int mesh_file_writer_snapshot_batched(mesh_file_writer *w, mesh_db_batch *batch,
				      mesh_oid *out_id, uint64_t *out_size)
{
	map_builder snap;
	size_t consumed, batched = batch ? mesh_db_batch_count(batch) : 0;
	int error;

	if ((error = writer_cut_tail(w)) < 0 || (error = writer_drain(w)) < 0)
		return error;
	snap = w->b;

	/* The tail is cut as the end of the file; appending more later only
	 * leaves those tail chunks unreferenced. */
	snap.chunks = malloc((w->b.alloc ? w->b.alloc : 1) * sizeof(*snap.chunks));
	if (!snap.chunks)
		return mesh_error_oom();
	if (w->b.count)
		memcpy(snap.chunks, w->b.chunks, w->b.count * sizeof(*snap.chunks));
	error = chunk_span(&snap, w->odb, batch, w->params, writer_tail(w), w->have, true,
			   &consumed);
	/* A map naming a chunk that was not stored cannot be stored either:
	 * objects are stored before, or with, what names them. */
	if (error == 0)
		error = builder_store(&snap, w->odb, batch,
				      batch && mesh_db_batch_count(batch) > batched, out_id);
	if (error == 0 && out_size)
		*out_size = snap.size;
	free(snap.chunks);
	return error;
}

int mesh_file_writer_snapshot(mesh_file_writer *w, mesh_oid *out_id,
			      uint64_t *out_size)
{
	return mesh_file_writer_snapshot_batched(w, NULL, out_id, out_size);
}

int mesh_file_writer_read(mesh_file_writer *w, mesh_chunk_cache *cache, void *buf,
			  size_t len, uint64_t offset, size_t *nread)
{
	mesh_file_map stored = { w->b.size, w->b.count, w->b.chunks };
	size_t got = 0, tail;
	int error;

	*nread = 0;
	if ((error = writer_drain(w)) < 0)
		return error;
	if (offset < stored.size &&
	    (error = mesh_file_read(w->odb, cache, &stored, buf, len, offset, &got)) < 0)
		return error;
	if (got < len && offset + got >= stored.size) {
		uint64_t in_tail = offset + got - stored.size;
		tail = in_tail < w->have ? w->have - (size_t)in_tail : 0;
		if (tail > len - got)
			tail = len - got;
		if (tail)
			memcpy((unsigned char *)buf + got, writer_tail(w) + in_tail, tail);
		got += tail;
	}
	*nread = got;
	return 0;
}

static int write_source(mesh_odb *odb, const mesh_chunk_params *params,
			const mesh_file_source *src, mesh_oid *out_id, uint64_t *out_size)
{
	mesh_file_writer *w = NULL;
	unsigned char *block;
	uint64_t file_off = 0;
	size_t have;
	bool eof = false;
	int error;

	if ((error = mesh_file_writer_new(&w, odb, params)) < 0)
		return error;
	if (!(block = malloc(WRITE_BLOCK))) {
		mesh_file_writer_free(w);
		return mesh_error_oom();
	}
	while (!eof && error == 0) {
		have = 0;
		if ((error = fill_block(src, block, WRITE_BLOCK, &have, &file_off, &eof)) == 0)
			error = mesh_file_writer_append(w, block, have);
	}
	free(block);
	if (error == 0)
		error = mesh_file_writer_snapshot(w, out_id, out_size);
	mesh_file_writer_free(w);
	return error;
}

int mesh_file_write_fd(mesh_odb *odb, const mesh_chunk_params *params,
		       int fd, mesh_oid *out_id, uint64_t *out_size)
{
	mesh_file_source src;
	int error = fd_source(&fd, &src);

	/* Read to EOF as it is when read, not as fstat saw it. */
	src.size = UINT64_MAX;
	return error < 0 ? error : write_source(odb, params, &src, out_id, out_size);
}

/* ---- storing only what changed ----------------------------------------- */

/* A chunk of base whose bytes fd still holds at the same offset: not
 * written since (stale), inside the file, and not base's last chunk when
 * the size changed (that one ended at the old end of file, not at a
 * content-defined cut, so a longer file would cut elsewhere). */
static bool chunk_reusable(const mesh_file_map *base, const bool *stale, size_t i,
			   uint64_t size)
{
	const mesh_file_chunk *c = &base->chunks[i];
	uint64_t end = c->offset + c->length;

	return !stale[i] && end <= size && (end < base->size || size == base->size);
}

static int builder_reuse(map_builder *b, const mesh_file_chunk *c)
{
	if (mesh_array_grow(&b->chunks, &b->alloc, b->count, sizeof(*b->chunks)) < 0)
		return MESH_ENOMEM;
	b->chunks[b->count] = *c;
	b->chunks[b->count].offset = b->size;
	b->count++;
	b->size += c->length;
	return 0;
}

/* Cuts, at pos, the next chunk of fd (size bytes) and stores it; buf
 * (max_size bytes) holds *have bytes read from pos on already. */
static int rechunk_one(map_builder *b, mesh_odb *odb, mesh_db_batch *batch,
		       const mesh_chunk_params *params, const mesh_file_source *src, uint64_t size,
		       unsigned char *buf, size_t *have, uint64_t *pos)
{
	uint64_t left = size - *pos, file_off = *pos + *have;
	size_t want = left < params->max_size ? (size_t)left : params->max_size, cut;
	bool eof = false;
	int error;

	if ((error = fill_block(src, buf, want, have, &file_off, &eof)) < 0)
		return error;
	if (*have == 0)
		return mesh_error_set(MESH_EIO, "file shrank while it was stored");
	cut = mesh_chunk_next(params, buf, *have, eof || *have == left);
	if ((error = builder_add(b, odb, batch, buf, cut)) < 0)
		return error;
	memmove(buf, buf + cut, *have - cut);
	*have -= cut;
	*pos += cut;
	return 0;
}

static int store_changes(map_builder *b, mesh_odb *odb, mesh_db_batch *batch,
			 const mesh_chunk_params *params, const mesh_file_source *src, uint64_t size,
			 const mesh_file_map *base, const bool *stale)
{
	unsigned char *buf = malloc(params->max_size);
	uint64_t pos = 0;
	size_t i = 0, have = 0;
	int error = 0;

	if (!buf)
		return mesh_error_oom();
	while (error == 0 && pos < size) {
		while (i < base->count && base->chunks[i].offset < pos)
			i++;
		if (i < base->count && base->chunks[i].offset == pos &&
		    chunk_reusable(base, stale, i, size)) {
			error = builder_reuse(b, &base->chunks[i]);
			pos += base->chunks[i++].length;
			have = 0;
		} else {
			error = rechunk_one(b, odb, batch, params, src, size, buf, &have, &pos);
		}
	}
	free(buf);
	return error;
}

#define WHOLE_FILE_MIN (8u * 1024 * 1024)

int mesh_file_store_changes_from(mesh_odb *odb, mesh_db_batch *batch,
				 const mesh_chunk_params *params, const mesh_file_source *src,
				 const mesh_file_map *base, const bool *stale,
				 mesh_oid *out_id, mesh_file_map **out_map)
{
	map_builder b = {0};
	static const mesh_file_map no_base = { 0, 0, NULL };
	mesh_file_map *map;
	size_t reusable = 0;
	int error;

	*out_map = NULL;
	if ((error = params_resolve(&params)) < 0)
		return error;
	for (size_t i = 0; base && i < base->count; i++)
		reusable += chunk_reusable(base, stale, i, src->size);
	/* A large file mostly rewritten: the streaming writer hashes on two
	 * threads. */
	if ((!base || reusable * 2 < base->count) && src->size > WHOLE_FILE_MIN) {
		if ((error = write_source(odb, params, src, out_id, NULL)) == 0)
			error = mesh_file_map_load(odb, out_id, out_map);
		return error;
	}
	if (!base)
		base = &no_base;
	if (!(map = calloc(1, sizeof(*map))))
		return mesh_error_oom();
	if ((error = store_changes(&b, odb, batch, params, src, src->size, base, stale)) == 0)
		error = builder_store(&b, odb, batch, false, out_id);
	if (error < 0) {
		free(b.chunks);
		free(map);
		return error;
	}
	map->size = b.size;
	map->count = b.count;
	map->chunks = b.chunks ? b.chunks : malloc(1);
	if (!map->chunks) {
		free(map);
		return mesh_error_oom();
	}
	*out_map = map;
	return 0;
}

int mesh_file_store_changes(mesh_odb *odb, mesh_db_batch *batch,
			    const mesh_chunk_params *params, int fd,
			    const mesh_file_map *base, const bool *stale,
			    mesh_oid *out_id, mesh_file_map **out_map)
{
	mesh_file_source src;
	int error = fd_source(&fd, &src);

	*out_map = NULL;
	return error < 0 ? error : mesh_file_store_changes_from(odb, batch, params, &src, base,
								 stale, out_id, out_map);
}

/* ---- loading a map ---------------------------------------------------- */

static int map_corrupt(const mesh_oid *id, const char *why)
{
	char hex[MESH_OID_HEXSZ + 1];

	mesh_oid_fmt(hex, id);
	return mesh_error_set(MESH_EIO, "file map %s is corrupt: %s", hex, why);
}

static int map_parse(const mesh_oid *id, const unsigned char *buf, size_t len,
		     mesh_file_map *map)
{
	const unsigned char *p = buf + MAP_HEADER_LEN;
	uint64_t offset = 0;
	size_t count;

	if (len < MAP_HEADER_LEN)
		return map_corrupt(id, "too short");
	map->size = get_le64(buf);
	count = get_le32(buf + 8);
	if ((len - MAP_HEADER_LEN) / MAP_ENTRY_LEN != count ||
	    (len - MAP_HEADER_LEN) % MAP_ENTRY_LEN != 0)
		return map_corrupt(id, "chunk count does not match length");
	map->chunks = malloc(count ? count * sizeof(*map->chunks) : 1);
	if (!map->chunks)
		return mesh_error_oom();
	for (size_t i = 0; i < count; i++, p += MAP_ENTRY_LEN) {
		map->chunks[i].length = get_le32(p);
		map->chunks[i].offset = offset;
		memcpy(map->chunks[i].id.id, p + 4, MESH_OID_RAWSZ);
		/* Zero-length chunks would make the offset search ambiguous. */
		if (map->chunks[i].length == 0)
			return map_corrupt(id, "empty chunk");
		offset += map->chunks[i].length;
	}
	map->count = count;
	if (offset != map->size)
		return map_corrupt(id, "chunk lengths do not add up to the size");
	return 0;
}

int mesh_file_map_parse(const mesh_oid *id, const void *data, size_t len,
			mesh_file_map **out)
{
	mesh_file_map *map = calloc(1, sizeof(*map));
	int error;

	*out = NULL;
	if (!map)
		return mesh_error_oom();
	if ((error = map_parse(id, data, len, map)) < 0) {
		mesh_file_map_free(map);
		return error;
	}
	*out = map;
	return 0;
}

int mesh_file_map_load(mesh_odb *odb, const mesh_oid *id,
		       mesh_file_map **out)
{
	void *buf;
	size_t len;
	int error;

	*out = NULL;
	error = mesh_odb_read(odb, id, MESH_OBJ_FILE, &buf, &len, NULL);
	if (error < 0)
		return error;
	error = mesh_file_map_parse(id, buf, len, out);
	free(buf);
	return error;
}

void mesh_file_map_free(mesh_file_map *map)
{
	if (!map)
		return;
	free(map->chunks);
	free(map);
}

/* ---- the chunk cache -------------------------------------------------- */

/*
 * Entries are reference counted so a reader can copy out of a chunk
 * without holding the lock while another thread evicts it: an evicted
 * entry leaves the table and the LRU list at once but is freed only when
 * its last reader releases it.
 */
typedef struct cache_entry {
	mesh_oid id;
	mesh_odb_buf content;              /* the chunk's bytes */
	unsigned refs;
	bool cached;                       /* in the table and LRU list */
	struct cache_entry *hash_next;
	struct cache_entry *lru_prev, *lru_next;
} cache_entry;

#define LOADING_SLOTS 64
#define PREFETCH_QUEUE 128
#define PREFETCH_THREADS_MAX 8

struct mesh_chunk_cache {
	pthread_mutex_t lock;
	/* Chunks being read right now: a second reader waits for the first
	 * instead of reading and verifying the same chunk again. */
	mesh_oid loading[LOADING_SLOTS];
	bool loading_used[LOADING_SLOTS];
	pthread_cond_t loaded;
	/* Read-ahead: chunks that sequential readers will want next, read
	 * and verified by worker threads while the reader copies. */
	mesh_odb *prefetch_odb;
	mesh_file_chunk queue[PREFETCH_QUEUE];
	size_t queue_head, queue_len;
	pthread_cond_t queued;
	pthread_t workers[PREFETCH_THREADS_MAX];
	unsigned worker_count;
	bool stopping;
	size_t max_bytes;
	size_t bytes;                      /* sum of len over cached entries */
	size_t count;
	size_t nbuckets;                   /* a power of two */
	cache_entry **buckets;
	cache_entry *lru_head, *lru_tail;  /* head = most recently used */
};

int mesh_chunk_cache_new(mesh_chunk_cache **out, size_t max_bytes)
{
	mesh_chunk_cache *cache = calloc(1, sizeof(*cache));

	if (!cache)
		return mesh_error_oom();
	cache->max_bytes = max_bytes;
	cache->nbuckets = 64;
	cache->buckets = calloc(cache->nbuckets, sizeof(*cache->buckets));
	if (!cache->buckets) {
		free(cache);
		return mesh_error_oom();
	}
	if (pthread_mutex_init(&cache->lock, NULL) != 0) {
		free(cache->buckets);
		free(cache);
		return mesh_error_set(MESH_ENOMEM, "cannot create chunk cache lock");
	}
	pthread_cond_init(&cache->loaded, NULL);
	pthread_cond_init(&cache->queued, NULL);
	*out = cache;
	return 0;
}

static void stop_prefetch(mesh_chunk_cache *cache)
{
	pthread_mutex_lock(&cache->lock);
	cache->stopping = true;
	pthread_cond_broadcast(&cache->queued);
	pthread_mutex_unlock(&cache->lock);
	for (unsigned i = 0; i < cache->worker_count; i++)
		pthread_join(cache->workers[i], NULL);
	cache->worker_count = 0;
}

void mesh_chunk_cache_free(mesh_chunk_cache *cache)
{
	cache_entry *e, *next;

	if (!cache)
		return;
	stop_prefetch(cache);
	for (e = cache->lru_head; e; e = next) {
		next = e->lru_next;
		mesh_odb_buf_free(&e->content);
		free(e);
	}
	pthread_cond_destroy(&cache->loaded);
	pthread_cond_destroy(&cache->queued);
	pthread_mutex_destroy(&cache->lock);
	free(cache->buckets);
	free(cache);
}

/* Ids are SHA-256: any of their bytes is already a uniform hash. */
static size_t bucket_of(const mesh_chunk_cache *cache, const mesh_oid *id)
{
	uint64_t h;

	memcpy(&h, id->id, sizeof(h));
	return (size_t)(h & (cache->nbuckets - 1));
}

static cache_entry **bucket_slot(mesh_chunk_cache *cache, const mesh_oid *id)
{
	cache_entry **slot = &cache->buckets[bucket_of(cache, id)];

	while (*slot && mesh_oid_cmp(&(*slot)->id, id) != 0)
		slot = &(*slot)->hash_next;
	return slot;
}

static void lru_unlink(mesh_chunk_cache *cache, cache_entry *e)
{
	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	else
		cache->lru_head = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		cache->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void lru_push_front(mesh_chunk_cache *cache, cache_entry *e)
{
	e->lru_prev = NULL;
	e->lru_next = cache->lru_head;
	if (cache->lru_head)
		cache->lru_head->lru_prev = e;
	else
		cache->lru_tail = e;
	cache->lru_head = e;
}

/* Growing is best effort: a full table is only slower. */
static void table_grow(mesh_chunk_cache *cache)
{
	size_t n = cache->nbuckets * 2;
	cache_entry **buckets = calloc(n, sizeof(*buckets));

	if (!buckets)
		return;
	free(cache->buckets);
	cache->buckets = buckets;
	cache->nbuckets = n;
	for (cache_entry *e = cache->lru_head; e; e = e->lru_next) {
		size_t b = bucket_of(cache, &e->id);

		e->hash_next = buckets[b];
		buckets[b] = e;
	}
}

static void entry_free(cache_entry *e)
{
	mesh_odb_buf_free(&e->content);
	free(e);
}

/* Drops e from the table and list; frees it unless a reader holds it. */
static void cache_evict(mesh_chunk_cache *cache, cache_entry *e)
{
	*bucket_slot(cache, &e->id) = e->hash_next;
	lru_unlink(cache, e);
	e->cached = false;
	cache->bytes -= e->content.len;
	cache->count--;
	if (e->refs == 0)
		entry_free(e);
}

/* Inserts a new held entry (taking e), or returns the held entry another
 * thread inserted first (freeing e).  Entries over the bound stay out. */
static cache_entry *cache_put(mesh_chunk_cache *cache, cache_entry *e)
{
	cache_entry **slot;

	e->refs = 1;
	e->cached = false;
	if (e->content.len > cache->max_bytes)
		return e;
	pthread_mutex_lock(&cache->lock);
	slot = bucket_slot(cache, &e->id);
	if (*slot) {
		cache_entry *existing = *slot;

		existing->refs++;
		pthread_mutex_unlock(&cache->lock);
		entry_free(e);
		return existing;
	}
	e->hash_next = NULL;
	*slot = e;
	e->cached = true;
	lru_push_front(cache, e);
	cache->bytes += e->content.len;
	cache->count++;
	while (cache->bytes > cache->max_bytes && cache->lru_tail != e)
		cache_evict(cache, cache->lru_tail);
	if (cache->count > cache->nbuckets)
		table_grow(cache);
	pthread_mutex_unlock(&cache->lock);
	return e;
}

static void cache_release(mesh_chunk_cache *cache, cache_entry *e)
{
	bool dead;

	if (!cache) {
		entry_free(e);
		return;
	}
	pthread_mutex_lock(&cache->lock);
	dead = --e->refs == 0 && !e->cached;
	pthread_mutex_unlock(&cache->lock);
	if (dead)
		entry_free(e);
}

/* ---- reading ---------------------------------------------------------- */

/* Reads and checks one chunk into a fresh, unshared entry. */
static int chunk_load(mesh_odb *odb, const mesh_file_chunk *chunk,
		      cache_entry **out)
{
	cache_entry *e = calloc(1, sizeof(*e));
	int error;

	if (!e)
		return mesh_error_oom();
	error = mesh_odb_read_buf(odb, &chunk->id, MESH_OBJ_CHUNK, &e->content, NULL);
	if (error < 0) {
		free(e);
		return error;
	}
	if (e->content.len != chunk->length) {
		char hex[MESH_OID_HEXSZ + 1];

		mesh_oid_fmt(hex, &chunk->id);
		error = mesh_error_set(MESH_EIO,
				       "chunk %s holds %zu bytes, its file map says %u",
				       hex, e->content.len, (unsigned)chunk->length);
		mesh_odb_buf_free(&e->content);
		free(e);
		return error;
	}
	e->id = chunk->id;
	*out = e;
	return 0;
}

/* Slot of id among the chunks being loaded, or -1.  Lock held. */
static int loading_slot(const mesh_chunk_cache *cache, const mesh_oid *id)
{
	for (int i = 0; i < LOADING_SLOTS; i++)
		if (cache->loading_used[i] && mesh_oid_cmp(&cache->loading[i], id) == 0)
			return i;
	return -1;
}

/*
 * The cached entry for id (held), or NULL after claiming the load of id
 * (*slot >= 0 when claimed; -1 when every slot is busy and the caller
 * just loads).  Waits while another thread loads id.
 */
static cache_entry *cache_get_or_claim(mesh_chunk_cache *cache, const mesh_oid *id,
				       int *slot)
{
	cache_entry *e;

	pthread_mutex_lock(&cache->lock);
	for (;;) {
		if ((e = *bucket_slot(cache, id)) != NULL) {
			e->refs++;
			lru_unlink(cache, e);
			lru_push_front(cache, e);
			break;
		}
		if (loading_slot(cache, id) < 0)
			break;
		pthread_cond_wait(&cache->loaded, &cache->lock);
	}
	*slot = -1;
	for (int i = 0; !e && i < LOADING_SLOTS; i++) {
		if (!cache->loading_used[i]) {
			cache->loading_used[i] = true;
			cache->loading[i] = *id;
			*slot = i;
			break;
		}
	}
	pthread_mutex_unlock(&cache->lock);
	return e;
}

static void loading_done(mesh_chunk_cache *cache, int slot)
{
	if (slot < 0)
		return;
	pthread_mutex_lock(&cache->lock);
	cache->loading_used[slot] = false;
	pthread_cond_broadcast(&cache->loaded);
	pthread_mutex_unlock(&cache->lock);
}

/* Index of the chunk holding offset (offset < map->size). */
static size_t chunk_index(const mesh_file_map *map, uint64_t offset)
{
	size_t lo = 0, hi = map->count;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (map->chunks[mid].offset <= offset)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

const mesh_file_chunk *mesh_file_map_chunk_at(const mesh_file_map *map, uint64_t offset)
{
	return offset < map->size && map->count ? &map->chunks[chunk_index(map, offset)] : NULL;
}

/* A held entry with the chunk's bytes; release with cache_release(). */
static int chunk_acquire(mesh_odb *odb, mesh_chunk_cache *cache,
			 const mesh_file_chunk *chunk, cache_entry **out)
{
	cache_entry *e = NULL;
	int slot = -1, error;

	if (cache && (e = cache_get_or_claim(cache, &chunk->id, &slot)) != NULL) {
		if (e->content.len == chunk->length) {
			*out = e;
			return 0;
		}
		/* Same id, other length: the map is wrong; load to report it. */
		cache_release(cache, e);
	}
	error = chunk_load(odb, chunk, &e);
	if (error == 0 && cache)
		e = cache_put(cache, e);
	if (cache)
		loading_done(cache, slot);
	if (error < 0)
		return error;
	*out = e;
	return 0;
}

/* ---- read-ahead ------------------------------------------------------- */

static void *prefetch_worker(void *arg)
{
	mesh_chunk_cache *cache = arg;
	mesh_file_chunk chunk;
	cache_entry *e;

	pthread_mutex_lock(&cache->lock);
	while (!cache->stopping) {
		if (cache->queue_len == 0) {
			pthread_cond_wait(&cache->queued, &cache->lock);
			continue;
		}
		chunk = cache->queue[cache->queue_head];
		cache->queue_head = (cache->queue_head + 1) % PREFETCH_QUEUE;
		cache->queue_len--;
		pthread_mutex_unlock(&cache->lock);
		/* A failed read-ahead is not an error: the reader will see it. */
		if (chunk_acquire(cache->prefetch_odb, cache, &chunk, &e) == 0)
			cache_release(cache, e);
		else
			mesh_error_clear();
		pthread_mutex_lock(&cache->lock);
	}
	pthread_mutex_unlock(&cache->lock);
	return NULL;
}

int mesh_chunk_cache_start_prefetch(mesh_chunk_cache *cache, mesh_odb *odb,
				    unsigned threads)
{
	if (threads > PREFETCH_THREADS_MAX)
		threads = PREFETCH_THREADS_MAX;
	cache->prefetch_odb = odb;
	while (cache->worker_count < threads) {
		if (pthread_create(&cache->workers[cache->worker_count], NULL,
				   prefetch_worker, cache) != 0)
			return mesh_error_set(MESH_ENOMEM, "cannot start read-ahead threads");
		cache->worker_count++;
	}
	return 0;
}

void mesh_file_prefetch(mesh_chunk_cache *cache, const mesh_file_map *map,
			uint64_t offset, uint64_t len)
{
	if (!cache || cache->worker_count == 0 || offset >= map->size || len == 0)
		return;
	pthread_mutex_lock(&cache->lock);
	for (size_t i = chunk_index(map, offset);
	     i < map->count && map->chunks[i].offset < offset + len; i++) {
		const mesh_file_chunk *chunk = &map->chunks[i];
		if (cache->queue_len == PREFETCH_QUEUE)
			break;
		if (*bucket_slot(cache, &chunk->id) || loading_slot(cache, &chunk->id) >= 0)
			continue;
		cache->queue[(cache->queue_head + cache->queue_len) % PREFETCH_QUEUE] = *chunk;
		cache->queue_len++;
	}
	pthread_cond_broadcast(&cache->queued);
	pthread_mutex_unlock(&cache->lock);
}

int mesh_file_read_spans(mesh_odb *odb, mesh_chunk_cache *cache,
			 const mesh_file_map *map, size_t len, uint64_t offset,
			 mesh_file_span *spans, size_t max_spans, size_t *count,
			 size_t *total)
{
	uint64_t end, pos = offset;
	size_t i;
	int error;

	*count = 0;
	*total = 0;
	if (offset >= map->size || len == 0)
		return 0;
	end = map->size - offset < len ? map->size : offset + len;
	for (i = chunk_index(map, offset); pos < end && *count < max_spans; i++) {
		const mesh_file_chunk *chunk = &map->chunks[i];
		uint64_t in_chunk = pos - chunk->offset;
		uint64_t n = chunk->length - in_chunk;
		cache_entry *e;

		if (n > end - pos)
			n = end - pos;
		if ((error = chunk_acquire(odb, cache, chunk, &e)) < 0) {
			mesh_file_spans_release(cache, spans, *count);
			*count = 0;
			return error;
		}
		spans[(*count)++] = (mesh_file_span){
			(const unsigned char *)e->content.data + in_chunk, (size_t)n, e };
		pos += n;
	}
	*total = (size_t)(pos - offset);
	return 0;
}

void mesh_file_spans_release(mesh_chunk_cache *cache, mesh_file_span *spans,
			     size_t count)
{
	for (size_t i = 0; i < count; i++)
		cache_release(cache, spans[i].pin);
}

#define READ_SPANS 16

int mesh_file_read(mesh_odb *odb, mesh_chunk_cache *cache,
		   const mesh_file_map *map, void *buf, size_t len,
		   uint64_t offset, size_t *nread)
{
	mesh_file_span spans[READ_SPANS];
	size_t done = 0, count, got;
	int error;

	*nread = 0;
	while (done < len) {
		if ((error = mesh_file_read_spans(odb, cache, map, len - done, offset + done,
						  spans, READ_SPANS, &count, &got)) < 0)
			return error;
		if (got == 0)
			break;
		for (size_t i = 0; i < count; i++) {
			memcpy((unsigned char *)buf + done, spans[i].data, spans[i].len);
			done += spans[i].len;
		}
		mesh_file_spans_release(cache, spans, count);
	}
	*nread = done;
	return 0;
}

static bool all_zero(const unsigned char *p, size_t len)
{
	return len == 0 || (p[0] == 0 && memcmp(p, p + 1, len - 1) == 0);
}

static int pwrite_all(int fd, const unsigned char *buf, size_t len,
		      uint64_t offset)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, buf, len, (off_t)offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return mesh_error_os("cannot write materialized file", NULL);
		buf += n;
		len -= (size_t)n;
		offset += (uint64_t)n;
	}
	return 0;
}

int mesh_file_materialize(mesh_odb *odb, mesh_chunk_cache *cache,
			  const mesh_file_map *map, int fd)
{
	mesh_oid zero_id;
	bool know_zero = false;
	int error;

	/* Truncating to 0 first drops old bytes that a skipped zero chunk
	 * would otherwise leave behind; growing again leaves holes. */
	if (ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t)map->size) < 0)
		return mesh_error_os("cannot size materialized file", NULL);
	for (size_t i = 0; i < map->count; i++) {
		const mesh_file_chunk *chunk = &map->chunks[i];
		cache_entry *e;

		/* Runs of zeros are one repeated chunk id: skip the reread. */
		if (know_zero && mesh_oid_cmp(&chunk->id, &zero_id) == 0)
			continue;
		if ((error = chunk_acquire(odb, cache, chunk, &e)) < 0)
			return error;
		if (all_zero(e->content.data, e->content.len)) {
			zero_id = chunk->id;
			know_zero = true;
			error = 0;
		} else {
			error = pwrite_all(fd, e->content.data, e->content.len, chunk->offset);
		}
		cache_release(cache, e);
		if (error < 0)
			return error;
	}
	return 0;
}
