/*
 * prime.c - whole chunks into the kernel's page cache after random reads.
 */
#include "prime.h"

#include <stdlib.h>

#include "error.h"
#include "file.h"

#define PRIME_QUEUE 16
#define PAGE_BYTES 4096u

/* The request path only notes which chunk to hand over; the prime
 * thread pins its bytes (a cache hit, as the read just loaded it). */
typedef struct prime_job {
	fs_node *node;             /* pinned until the job is done */
	mesh_file_chunk chunk;
	uint64_t start, end;       /* the pages to store: whole ones, in the file */
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

/* The job's pages out of the chunk cache, through a map of the one chunk. */
static bool job_pin(fs_prime *prime, const prime_job *job, mesh_file_span *span)
{
	mesh_file_chunk alone = { job->chunk.id, 0, job->chunk.length };
	mesh_file_map map = { job->chunk.length, 1, &alone };
	size_t count = 0, total = 0, len = (size_t)(job->end - job->start);
	mesh_chunk_cache *cache = mesh_store_cache(prime->f->store);

	if (mesh_file_read_spans(mesh_store_odb(prime->f->store), cache, &map, len,
				 job->start - job->chunk.offset, span, 1, &count, &total) < 0) {
		mesh_error_clear();
		return false;
	}
	if (count == 1 && total == len)
		return true;
	mesh_file_spans_release(cache, span, count);
	return false;
}

static void job_run(fs_prime *prime, prime_job *job)
{
	struct fuse_bufvec data = FUSE_BUFVEC_INIT((size_t)(job->end - job->start));
	mesh_file_span span;
	int error;

	if (job_stale(prime, job) || !job_pin(prime, job, &span))
		return;
	data.buf[0].mem = (void *)span.data;
	error = fuse_lowlevel_notify_store(prime->f->session, job->node->ino,
					   (off_t)job->start, &data, 0);
	mesh_file_spans_release(mesh_store_cache(prime->f->store), &span, 1);
	/* A write or merge that landed while the old bytes were on their
	 * way must not be shadowed by them. */
	if (error == 0 && job_stale(prime, job))
		fuse_lowlevel_notify_inval_inode(prime->f->session, job->node->ino,
						 (off_t)job->start,
						 (off_t)(job->end - job->start));
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
		fs_nodes_unpin(&prime->f->nodes, job.node);
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

/* Whether the same pages are already queued: concurrent readers of one
 * chunk would otherwise store it once each. */
static bool queued_locked(const fs_prime *prime, uint64_t ino, uint64_t start)
{
	for (size_t k = 0; k < prime->count; k++) {
		const prime_job *job = &prime->queue[(prime->head + k) % PRIME_QUEUE];
		if (job->node->ino == ino && job->start == start)
			return true;
	}
	return false;
}

/* Whole pages only (but the file's last page), since a partly stored
 * page is not marked up to date and would be read again anyway. */
static bool page_range(const mesh_file_map *map, prime_job *job)
{
	uint64_t chunk_end = job->chunk.offset + job->chunk.length;

	job->start = (job->chunk.offset + PAGE_BYTES - 1) / PAGE_BYTES * PAGE_BYTES;
	job->end = chunk_end == map->size ? chunk_end : chunk_end / PAGE_BYTES * PAGE_BYTES;
	return job->end > job->start;
}

void fs_prime_chunk(fs_prime *prime, fs_node *node, const mesh_file_map *map,
		    uint64_t offset, uint64_t version, uint64_t generation)
{
	prime_job job = { .node = node, .version = version, .generation = generation };
	const mesh_file_chunk *chunk;

	if (!prime || !(chunk = mesh_file_map_chunk_at(map, offset)))
		return;
	job.chunk = *chunk;
	if (!page_range(map, &job))
		return;
	pthread_mutex_lock(&prime->lock);
	if (prime->count < PRIME_QUEUE && !prime->stopping &&
	    !queued_locked(prime, node->ino, job.start)) {
		fs_nodes_pin(&prime->f->nodes, node);
		prime->queue[(prime->head + prime->count) % PRIME_QUEUE] = job;
		prime->count++;
		pthread_cond_signal(&prime->wake);
	}
	pthread_mutex_unlock(&prime->lock);
}
