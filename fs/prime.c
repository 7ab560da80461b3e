/*
 * prime.c - whole chunks into the kernel's page cache after random reads.
 */
#include "prime.h"

#include <stdlib.h>

#include "error.h"
#include "file.h"

/* Pinned chunks wait here; each may hold up to a maximum-size chunk. */
#define PRIME_QUEUE 16
#define PAGE_BYTES 4096u

typedef struct prime_job {
	fs_node *node;             /* pinned until the job is done */
	uint64_t offset;           /* page-aligned start in the file */
	size_t len;
	mesh_file_span chunk;      /* the pinned chunk; data starts at offset */
	uint64_t version, generation;
} prime_job;

struct fs_prime {
	fs *f;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;
	prime_job queue[PRIME_QUEUE];
	size_t head, count;
};

static void job_release(fs_prime *prime, prime_job *job)
{
	mesh_file_spans_release(mesh_store_cache(prime->f->store), &job->chunk, 1);
	fs_nodes_unpin(&prime->f->nodes, job->node);
}

static bool job_stale(fs_prime *prime, const prime_job *job)
{
	bool dirty;

	pthread_mutex_lock(&prime->f->nodes.lock);
	dirty = job->node->dirty != NULL || job->node->detached;
	pthread_mutex_unlock(&prime->f->nodes.lock);
	return dirty ||
	       __atomic_load_n(&job->node->content_version, __ATOMIC_ACQUIRE) != job->version ||
	       mesh_view_generation(job->node->view) != job->generation;
}

static void job_run(fs_prime *prime, prime_job *job)
{
	struct fuse_bufvec data = FUSE_BUFVEC_INIT(job->len);

	if (job_stale(prime, job))
		return;
	data.buf[0].mem = (void *)job->chunk.data;
	if (fuse_lowlevel_notify_store(prime->f->session, job->node->ino,
				       (off_t)job->offset, &data, 0) < 0)
		return;
	/* A write or merge that landed while the old bytes were on their
	 * way must not be shadowed by them. */
	if (job_stale(prime, job))
		fuse_lowlevel_notify_inval_inode(prime->f->session, job->node->ino,
						 (off_t)job->offset, (off_t)job->len);
}

static void *prime_main(void *arg)
{
	fs_prime *prime = arg;
	prime_job job;

	pthread_mutex_lock(&prime->lock);
	for (;;) {
		while (!prime->stopping && prime->count == 0)
			pthread_cond_wait(&prime->wake, &prime->lock);
		if (prime->count == 0)
			break;
		job = prime->queue[prime->head];
		prime->head = (prime->head + 1) % PRIME_QUEUE;
		prime->count--;
		pthread_mutex_unlock(&prime->lock);
		if (!prime->stopping)
			job_run(prime, &job);
		job_release(prime, &job);
		pthread_mutex_lock(&prime->lock);
	}
	pthread_mutex_unlock(&prime->lock);
	return NULL;
}

int fs_prime_start(fs_prime **out, fs *f)
{
	fs_prime *prime = calloc(1, sizeof(*prime));
	int error;

	if (!prime)
		return mesh_error_oom();
	prime->f = f;
	pthread_mutex_init(&prime->lock, NULL);
	pthread_cond_init(&prime->wake, NULL);
	if ((error = pthread_create(&prime->thread, NULL, prime_main, prime)) != 0) {
		pthread_cond_destroy(&prime->wake);
		pthread_mutex_destroy(&prime->lock);
		free(prime);
		return mesh_error_set(-error, "cannot start the page-cache priming thread");
	}
	*out = prime;
	return 0;
}

void fs_prime_stop(fs_prime *prime)
{
	if (!prime)
		return;
	pthread_mutex_lock(&prime->lock);
	prime->stopping = true;
	pthread_cond_signal(&prime->wake);
	pthread_mutex_unlock(&prime->lock);
	pthread_join(prime->thread, NULL);
	pthread_cond_destroy(&prime->wake);
	pthread_mutex_destroy(&prime->lock);
	free(prime);
}

/* The chunk holding offset: the last one starting at or before it. */
static const mesh_file_chunk *chunk_at(const mesh_file_map *map, uint64_t offset)
{
	size_t low = 0, high = map->count;

	while (high - low > 1) {
		size_t mid = low + (high - low) / 2;
		if (map->chunks[mid].offset <= offset)
			low = mid;
		else
			high = mid;
	}
	return map->count && offset < map->size ? &map->chunks[low] : NULL;
}

/* Whether the same pages are already queued: concurrent readers of one
 * chunk would otherwise store it once each. */
static bool queued_locked(const fs_prime *prime, uint64_t ino, uint64_t offset)
{
	for (size_t k = 0; k < prime->count; k++) {
		const prime_job *job = &prime->queue[(prime->head + k) % PRIME_QUEUE];
		if (job->node->ino == ino && job->offset == offset)
			return true;
	}
	return false;
}

/* Whole pages only (but the file's last page), since a partly stored
 * page is not marked up to date and would be read again anyway. */
static bool page_range(const mesh_file_map *map, const mesh_file_chunk *chunk,
		       uint64_t *start, uint64_t *end)
{
	uint64_t chunk_end = chunk->offset + chunk->length;

	*start = (chunk->offset + PAGE_BYTES - 1) / PAGE_BYTES * PAGE_BYTES;
	*end = chunk_end == map->size ? chunk_end : chunk_end / PAGE_BYTES * PAGE_BYTES;
	return *end > *start;
}

void fs_prime_chunk(fs_prime *prime, fs_node *node, const mesh_file_map *map,
		    uint64_t offset, uint64_t version, uint64_t generation)
{
	const mesh_file_chunk *chunk;
	prime_job job = { .node = node, .version = version, .generation = generation };
	uint64_t start, end;
	size_t count = 0, total = 0;
	bool queued;

	if (!prime || !(chunk = chunk_at(map, offset)) || !page_range(map, chunk, &start, &end))
		return;
	pthread_mutex_lock(&prime->lock);
	queued = prime->count == PRIME_QUEUE || queued_locked(prime, node->ino, start);
	pthread_mutex_unlock(&prime->lock);
	if (queued)
		return;
	/* The chunk was just read for this request: a cache hit. */
	if (mesh_file_read_spans(mesh_store_odb(prime->f->store), mesh_store_cache(prime->f->store),
				 map, (size_t)(end - start), start, &job.chunk, 1,
				 &count, &total) < 0 || count != 1)
		return;
	if (total != end - start) {
		mesh_file_spans_release(mesh_store_cache(prime->f->store), &job.chunk, count);
		return;
	}
	job.offset = start;
	job.len = (size_t)(end - start);
	fs_nodes_pin(&prime->f->nodes, node);
	pthread_mutex_lock(&prime->lock);
	if (prime->count < PRIME_QUEUE && !prime->stopping) {
		prime->queue[(prime->head + prime->count) % PRIME_QUEUE] = job;
		prime->count++;
		pthread_cond_signal(&prime->wake);
		job.node = NULL;
	}
	pthread_mutex_unlock(&prime->lock);
	if (job.node)
		job_release(prime, &job);
}
