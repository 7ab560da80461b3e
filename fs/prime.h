/*
 * prime.h - hands the kernel's page cache the whole chunk that a random
 * read had to load and verify anyway.
 *
 * A 4 KiB read at a random offset costs meshfs a whole chunk (read,
 * decompressed, hash-checked).  Returning only the 4 KiB asked for would
 * throw the rest away; storing the chunk's pages in the kernel's cache
 * (FUSE_NOTIFY_STORE) makes the next reads that land in it cache hits.
 *
 * The store runs on its own thread: the kernel locks each page it
 * stores, and a page under a pending read stays locked until that read
 * is answered, so a request thread must never wait for it.
 */
#ifndef MESHFS_PRIME_H
#define MESHFS_PRIME_H

#include "fs.h"

typedef struct fs_prime fs_prime;

/* Starts the priming thread; stop it with fs_prime_stop before the
 * session is destroyed. */
int fs_prime_start(fs_prime **out, fs *f);
/* Stops the thread; queued chunks are dropped unsent.  NULL is fine. */
void fs_prime_stop(fs_prime *prime);

/*
 * Queues the pages of the chunk of map holding offset for node (a clean
 * file: no dirty state).  version and generation are the node's content
 * version and its view's generation that map was loaded at: if either
 * moved by the time the pages are stored, they are dropped from the
 * kernel's cache again.  A full queue drops the request.
 */
void fs_prime_chunk(fs_prime *prime, fs_node *node, const mesh_file_map *map,
		    uint64_t offset, uint64_t version, uint64_t generation);

#endif
