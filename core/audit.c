/*
 * audit.c - the audit log: the queue and its writer thread, the record
 * format and its chain, the indexes, usage counters, and the commands.
 */
#include "audit.h"
#include "access.h"
#include "domain.h"
#include "error.h"

#include <fnmatch.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <pwd.h>
#include <sys/resource.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HASH_LEN 32
#define RECORD_VERSION 1
/* Events waiting for the writer; a request waits while it is full. */
#define QUEUE_CAP 65536
/* Records per RocksDB write batch. */
#define BATCH_MAX 1024
/* How long the writer lets records gather before it writes them: one
 * write per record would queue every request's own database writes
 * behind the log's. */
#define GATHER_NS (5 * 1000000)
/* A command name read from /proc is trusted this long for its pid. */
#define COMM_TTL_NS (5LL * 1000000000)
#define COMM_SLOTS 256
#define COMM_LEN 16
#define STRING_MAX 65535
#define NS_PER_DAY (86400LL * 1000000000)
#define WRITE_RETRY_AT_CLOSE 10
#define WRITER_NICE 10

#define KEY_RECORD "l/r/"
#define KEY_HEAD "l/h"
#define KEY_BY_DOMAIN "l/x/d/"
#define KEY_BY_UID "l/x/u/"
#define KEY_BY_OP "l/x/o/"
#define KEY_USAGE "l/s/"

/* A queued event: the strings follow the struct in one allocation. */
typedef struct pending {
	int64_t time_ns;
	uint32_t uid, gid, pid;
	int32_t result;
	uint64_t bytes;
	char comm[COMM_LEN];
	char commit[MESH_OID_HEXSZ + 1];
	const char *op, *domain, *ref, *path, *detail;
} pending;

typedef struct comm_slot {
	pid_t pid;              /* as the kernel gave it: a thread's id */
	pid_t tgid;             /* its process */
	int64_t fetched_ns;
	char comm[COMM_LEN];
} comm_slot;

struct mesh_audit {
	mesh_db *db;
	const mesh_log *log;
	_Atomic bool enabled;
	pthread_t writer;
	bool writer_started;
	/* lock guards the queue, the counters, flushers, last_time_ns and
	 * stopping; nothing is read or written on disk while it is held. */
	pthread_mutex_t lock;
	pthread_cond_t nonempty, nonfull, written_cond;
	pending **queue;
	size_t head, count;
	uint64_t queued, written;
	unsigned flushers;         /* threads waiting in mesh_audit_flush */
	int64_t last_time_ns;      /* times never go back along the chain */
	bool stopping;
	/* comm_lock guards the cache of command names only. */
	pthread_mutex_t comm_lock;
	comm_slot comms[COMM_SLOTS];
	/* The writer thread's alone: where the chain stands. */
	uint64_t last_seq;
	unsigned char last_hash[HASH_LEN];
};

/* --- encoding ------------------------------------------------------------ */

static void put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static void put_be32(unsigned char *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static uint64_t get_be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint32_t get_be32(const unsigned char *p)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v = v << 8 | p[i];
	return v;
}

static void sha256(const void *data, size_t len, unsigned char out[HASH_LEN])
{
	unsigned int n = HASH_LEN;

	EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

typedef struct buf {
	unsigned char *p;
	size_t len, cap;
	bool failed;
} buf;

static void buf_add(buf *b, const void *data, size_t len)
{
	if (b->failed)
		return;
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		while (cap < b->len + len)
			cap *= 2;
		unsigned char *p = realloc(b->p, cap);
		if (!p) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

static void buf_be64(buf *b, uint64_t v)
{
	unsigned char t[8];

	put_be64(t, v);
	buf_add(b, t, 8);
}

static void buf_be32(buf *b, uint32_t v)
{
	unsigned char t[4];

	put_be32(t, v);
	buf_add(b, t, 4);
}

static void buf_str(buf *b, const char *s)
{
	size_t len = s ? strlen(s) : 0;
	unsigned char t[2];

	if (len > STRING_MAX)
		len = STRING_MAX;
	t[0] = (unsigned char)(len >> 8);
	t[1] = (unsigned char)len;
	buf_add(b, t, 2);
	buf_add(b, s ? s : "", len);
}

void mesh_audit_record_key(uint64_t seq, unsigned char *key)
{
	memcpy(key, KEY_RECORD, 4);
	put_be64(key + 4, seq);
}

/* Body: version, previous hash, the numbers, the strings; then the
 * body's own hash. */
static int encode_record(const pending *e, uint64_t seq, const unsigned char *prev,
			 buf *out)
{
	unsigned char version = RECORD_VERSION, own[HASH_LEN];

	out->len = 0;
	buf_add(out, &version, 1);
	buf_add(out, prev, HASH_LEN);
	buf_be64(out, seq);
	buf_be64(out, (uint64_t)e->time_ns);
	buf_be32(out, e->uid);
	buf_be32(out, e->gid);
	buf_be32(out, e->pid);
	buf_be32(out, (uint32_t)e->result);
	buf_be64(out, e->bytes);
	buf_str(out, e->op);
	buf_str(out, e->comm);
	buf_str(out, e->domain);
	buf_str(out, e->ref);
	buf_str(out, e->commit);
	buf_str(out, e->path);
	buf_str(out, e->detail);
	if (out->failed)
		return mesh_error_oom();
	sha256(out->p, out->len, own);
	buf_add(out, own, HASH_LEN);
	return out->failed ? mesh_error_oom() : 0;
}

#define BODY_FIXED (1 + HASH_LEN + 8 + 8 + 4 * 4 + 8)

static int take_str(const unsigned char **p, const unsigned char *end, char **out)
{
	size_t len;

	if (end - *p < 2)
		return -1;
	len = (size_t)(*p)[0] << 8 | (*p)[1];
	*p += 2;
	if ((size_t)(end - *p) < len)
		return -1;
	if (!(*out = strndup((const char *)*p, len)))
		return -1;
	*p += len;
	return 0;
}

void mesh_audit_rec_clear(mesh_audit_rec *rec)
{
	free(rec->op);
	free(rec->comm);
	free(rec->domain);
	free(rec->ref);
	free(rec->commit);
	free(rec->path);
	free(rec->detail);
	memset(rec, 0, sizeof(*rec));
}

/* 0, or -1 when the value is not a well-formed record.  prev (may be
 * NULL) gets the previous record's hash the body names; *intact whether
 * the body matches its own hash. */
static int decode_record(const unsigned char *v, size_t len, mesh_audit_rec *rec,
			 unsigned char *prev, bool *intact)
{
	const unsigned char *p = v, *end;
	unsigned char own[HASH_LEN];
	char **strings[] = { &rec->op, &rec->comm, &rec->domain, &rec->ref, &rec->commit,
			     &rec->path, &rec->detail };

	memset(rec, 0, sizeof(*rec));
	if (len < BODY_FIXED + HASH_LEN || v[0] != RECORD_VERSION)
		return -1;
	end = v + len - HASH_LEN;
	sha256(v, len - HASH_LEN, own);
	if (intact)
		*intact = memcmp(own, end, HASH_LEN) == 0;
	if (prev)
		memcpy(prev, v + 1, HASH_LEN);
	p = v + 1 + HASH_LEN;
	rec->seq = get_be64(p);
	rec->time_ns = (int64_t)get_be64(p + 8);
	rec->uid = get_be32(p + 16);
	rec->gid = get_be32(p + 20);
	rec->pid = get_be32(p + 24);
	rec->result = (int32_t)get_be32(p + 28);
	rec->bytes = get_be64(p + 32);
	p += 40;
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		if (take_str(&p, end, strings[i]) < 0) {
			mesh_audit_rec_clear(rec);
			return -1;
		}
	}
	if (p != end) {
		mesh_audit_rec_clear(rec);
		return -1;
	}
	return 0;
}

int mesh_audit_get(mesh_db *db, uint64_t seq, mesh_audit_rec *out)
{
	unsigned char key[MESH_AUDIT_KEY_LEN];
	void *val;
	size_t len;
	int error;

	mesh_audit_record_key(seq, key);
	if ((error = mesh_db_get(db, key, sizeof(key), &val, &len)) < 0)
		return error == MESH_ENOENT ?
			mesh_error_set(MESH_ENOENT, "no audit record %" PRIu64, seq) : error;
	error = decode_record(val, len, out, NULL, NULL) < 0 ?
		mesh_error_set(MESH_EIO, "audit record %" PRIu64 " is damaged "
			       "(`meshfs audit verify` tells more)", seq) : 0;
	free(val);
	return error;
}

/* The head: the last seq written and the hash of its value (0: none). */
static int head_read(mesh_db *db, uint64_t *seq, unsigned char *hash)
{
	void *head;
	size_t len;
	int found;

	*seq = 0;
	if ((found = mesh_db_find(db, KEY_HEAD, strlen(KEY_HEAD), &head, &len)) <= 0)
		return found;
	if (len == 8 + HASH_LEN) {
		*seq = get_be64(head);
		memcpy(hash, (unsigned char *)head + 8, HASH_LEN);
	}
	free(head);
	if (len != 8 + HASH_LEN)
		return mesh_error_set(MESH_EIO, "the audit log's head is damaged");
	return 0;
}

/* --- keys ------------------------------------------------------------------ */

/* prefix, then name and a NUL when name is not NULL. */
static void key_start(buf *k, const char *prefix, const char *name)
{
	k->len = 0;
	buf_add(k, prefix, strlen(prefix));
	if (name)
		buf_add(k, name, strlen(name) + 1);
}

/*
 * One index key per (index, value) per batch, not per record: its value
 * lists the (time, seq) of the batch's records with that value, and its
 * key ends with the last of them, so that a seek to a time finds the
 * first list holding records from then on.
 */
typedef struct posting {
	buf key;                 /* prefix and value */
	buf entries;             /* time seq, 16 bytes each */
	int64_t last_time;
	uint64_t last_seq;
} posting;

typedef struct postings {
	posting *lists;
	size_t count, cap;
	bool failed;
} postings;

static void posting_add(postings *ps, const buf *key, const pending *e, uint64_t seq)
{
	posting *p = NULL;

	for (size_t i = 0; i < ps->count && !p; i++)
		if (ps->lists[i].key.len == key->len && !memcmp(ps->lists[i].key.p, key->p, key->len))
			p = &ps->lists[i];
	if (!p) {
		if (ps->count == ps->cap) {
			size_t cap = ps->cap ? ps->cap * 2 : 16;
			posting *grown = realloc(ps->lists, cap * sizeof(*grown));
			if (!grown) {
				ps->failed = true;
				return;
			}
			ps->lists = grown;
			ps->cap = cap;
		}
		p = &ps->lists[ps->count++];
		memset(p, 0, sizeof(*p));
		buf_add(&p->key, key->p, key->len);
	}
	buf_be64(&p->entries, (uint64_t)e->time_ns);
	buf_be64(&p->entries, seq);
	p->last_time = e->time_ns;
	p->last_seq = seq;
	ps->failed |= p->key.failed || p->entries.failed;
}

static void postings_add(postings *ps, buf *k, const pending *e, uint64_t seq)
{
	if (*e->domain) {
		key_start(k, KEY_BY_DOMAIN, e->domain);
		posting_add(ps, k, e, seq);
	}
	key_start(k, KEY_BY_UID, NULL);
	buf_be32(k, e->uid);
	posting_add(ps, k, e, seq);
	key_start(k, KEY_BY_OP, e->op);
	posting_add(ps, k, e, seq);
	ps->failed |= k->failed;
}

static void postings_put(mesh_db_batch *b, postings *ps)
{
	for (size_t i = 0; i < ps->count; i++) {
		posting *p = &ps->lists[i];
		buf_be64(&p->key, (uint64_t)p->last_time);
		buf_be64(&p->key, p->last_seq);
		if (!p->key.failed)
			mesh_db_batch_put(b, p->key.p, p->key.len, p->entries.p, p->entries.len);
	}
}

static void postings_free(postings *ps)
{
	for (size_t i = 0; i < ps->count; i++) {
		free(ps->lists[i].key.p);
		free(ps->lists[i].entries.p);
	}
	free(ps->lists);
}

/* --- usage counters ----------------------------------------------------------- */

#define USAGE_VALUE_LEN 24

typedef struct usage_delta {
	unsigned char *key;
	size_t klen;
	uint64_t opens, bytes;
	int64_t last_ns;
} usage_delta;

/* "orders" of "orders/2026/part-0.parquet". */
static size_t top_len(const char *path)
{
	const char *slash = strchr(path, '/');

	return slash ? (size_t)(slash - path) : strlen(path);
}

static int usage_key(buf *k, const char *domain, int64_t time_ns, uint32_t uid,
		     const char *top, size_t tlen)
{
	key_start(k, KEY_USAGE, domain);
	buf_be32(k, (uint32_t)(time_ns / NS_PER_DAY));
	buf_be32(k, uid);
	buf_add(k, top, tlen);
	buf_add(k, "", 1);
	return k->failed ? mesh_error_oom() : 0;
}

static int usage_add(usage_delta *deltas, size_t *count, const pending *e, buf *k)
{
	size_t i;
	int error;

	if ((error = usage_key(k, e->domain, e->time_ns, e->uid, e->path, top_len(e->path))) < 0)
		return error;
	for (i = 0; i < *count; i++)
		if (deltas[i].klen == k->len && !memcmp(deltas[i].key, k->p, k->len))
			break;
	if (i == *count) {
		if (!(deltas[i].key = malloc(k->len)))
			return mesh_error_oom();
		memcpy(deltas[i].key, k->p, k->len);
		deltas[i].klen = k->len;
		deltas[i].opens = deltas[i].bytes = 0;
		deltas[i].last_ns = 0;
		(*count)++;
	}
	deltas[i].opens++;
	deltas[i].bytes += e->bytes;
	if (e->time_ns > deltas[i].last_ns)
		deltas[i].last_ns = e->time_ns;
	return 0;
}

/* Adds the batch's reads to the counters stored (only the writer
 * thread writes them, so read-modify-write is safe). */
static int usage_put(mesh_db *db, mesh_db_batch *b, const usage_delta *d)
{
	unsigned char value[USAGE_VALUE_LEN];
	uint64_t opens = d->opens, bytes = d->bytes;
	int64_t last = d->last_ns;
	void *old;
	size_t olen;
	int found;

	if ((found = mesh_db_find(db, d->key, d->klen, &old, &olen)) < 0)
		return found;
	if (found && olen == USAGE_VALUE_LEN) {
		opens += get_be64(old);
		bytes += get_be64((unsigned char *)old + 8);
		if ((int64_t)get_be64((unsigned char *)old + 16) > last)
			last = (int64_t)get_be64((unsigned char *)old + 16);
	}
	if (found)
		free(old);
	put_be64(value, opens);
	put_be64(value + 8, bytes);
	put_be64(value + 16, (uint64_t)last);
	mesh_db_batch_put(b, d->key, d->klen, value, sizeof(value));
	return 0;
}

static bool counts_as_read(const pending *e)
{
	return e->result == 0 && *e->domain && !strcmp(e->op, "read");
}

/* --- the writer ----------------------------------------------------------------- */

static int write_batch(mesh_audit *a, pending **items, size_t n)
{
	unsigned char key[MESH_AUDIT_KEY_LEN], head[8 + HASH_LEN];
	uint64_t seq = a->last_seq;
	unsigned char hash[HASH_LEN];
	usage_delta *deltas = calloc(n, sizeof(*deltas));
	size_t ndeltas = 0;
	postings ps = { 0 };
	mesh_db_batch *b = NULL;
	buf value = { 0 }, k = { 0 };
	int error;

	memcpy(hash, a->last_hash, HASH_LEN);
	if (!deltas)
		return mesh_error_oom();
	if ((error = mesh_db_batch_new(&b)) < 0)
		goto done;
	for (size_t i = 0; i < n && error == 0; i++) {
		if ((error = encode_record(items[i], ++seq, hash, &value)) < 0)
			break;
		mesh_audit_record_key(seq, key);
		mesh_db_batch_put(b, key, sizeof(key), value.p, value.len);
		sha256(value.p, value.len, hash);
		postings_add(&ps, &k, items[i], seq);
		if (counts_as_read(items[i]))
			error = usage_add(deltas, &ndeltas, items[i], &k);
	}
	for (size_t i = 0; i < ndeltas && error == 0; i++)
		error = usage_put(a->db, b, &deltas[i]);
	if (error == 0 && (k.failed || ps.failed))
		error = mesh_error_oom();
	if (error == 0)
		postings_put(b, &ps);
	if (error == 0) {
		put_be64(head, seq);
		memcpy(head + 8, hash, HASH_LEN);
		mesh_db_batch_put(b, KEY_HEAD, strlen(KEY_HEAD), head, sizeof(head));
		error = mesh_db_batch_write(a->db, b, false);
	}
	if (error == 0) {
		a->last_seq = seq;
		memcpy(a->last_hash, hash, HASH_LEN);
	}
done:
	for (size_t i = 0; i < ndeltas; i++)
		free(deltas[i].key);
	free(deltas);
	postings_free(&ps);
	free(value.p);
	free(k.p);
	mesh_db_batch_free(b);
	return error;
}

/* A batch that cannot be written (a full disk) is tried again until it
 * is: records are never dropped while the log is open.  At close, after
 * some tries, they are (and said so in the log). */
static void write_until_done(mesh_audit *a, pending **items, size_t n)
{
	for (int tries = 0;; tries++) {
		if (write_batch(a, items, n) == 0)
			return;
		mesh_log_write(a->log, MESH_LOG_ERROR, "audit log: cannot write %zu record(s): %s",
			       n, mesh_error_message());
		pthread_mutex_lock(&a->lock);
		bool stopping = a->stopping;
		pthread_mutex_unlock(&a->lock);
		if (stopping && tries >= WRITE_RETRY_AT_CLOSE) {
			mesh_log_write(a->log, MESH_LOG_ERROR,
				       "audit log: %zu record(s) lost at close", n);
			return;
		}
		sleep(1);
	}
}

/* Waits (lock held) until a batch is full, GATHER_NS have passed, or
 * someone waits for the records to be written. */
static void gather(mesh_audit *a)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_nsec += GATHER_NS;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	while (a->count < BATCH_MAX && !a->stopping && !a->flushers)
		if (pthread_cond_timedwait(&a->nonempty, &a->lock, &deadline) != 0)
			break;
}

static void *writer_main(void *arg)
{
	mesh_audit *a = arg;
	pending *items[BATCH_MAX];
	size_t n;

	/* Behind the requests for the CPU: the queue absorbs the delay, and
	 * once it is full the requests wait for this thread anyway. */
	setpriority(PRIO_PROCESS, (id_t)gettid(), WRITER_NICE);

	for (;;) {
		pthread_mutex_lock(&a->lock);
		while (a->count == 0 && !a->stopping)
			pthread_cond_wait(&a->nonempty, &a->lock);
		if (a->count == 0) {
			pthread_mutex_unlock(&a->lock);
			return NULL;
		}
		gather(a);
		for (n = 0; n < BATCH_MAX && a->count > 0; n++) {
			items[n] = a->queue[a->head];
			a->head = (a->head + 1) % QUEUE_CAP;
			a->count--;
		}
		pthread_cond_broadcast(&a->nonfull);
		pthread_mutex_unlock(&a->lock);
		write_until_done(a, items, n);
		for (size_t i = 0; i < n; i++)
			free(items[i]);
		pthread_mutex_lock(&a->lock);
		a->written += n;
		pthread_cond_broadcast(&a->written_cond);
		pthread_mutex_unlock(&a->lock);
	}
}

/* Without a (readable) head the chain goes on after the last record
 * stored: the log is never restarted at seq 1 over records it holds. */
static int head_from_records(mesh_audit *a)
{
	mesh_db_iter *it;
	const void *key, *val;
	size_t klen, vlen;
	int more, error;

	if ((error = mesh_db_iter_new(&it, a->db, KEY_RECORD, strlen(KEY_RECORD))) < 0)
		return error;
	while ((more = mesh_db_iter_next(it, &key, &klen, &val, &vlen)) > 0) {
		if (klen != MESH_AUDIT_KEY_LEN)
			continue;
		a->last_seq = get_be64((const unsigned char *)key + 4);
		sha256(val, vlen, a->last_hash);
	}
	mesh_db_iter_free(it);
	if (more == 0 && a->last_seq)
		mesh_log_write(a->log, MESH_LOG_ERROR, "audit log: its head is missing or damaged; "
			       "going on after record %" PRIu64 " (`meshfs audit verify` checks "
			       "what is there)", a->last_seq);
	return more;
}

static int load_head(mesh_audit *a)
{
	mesh_audit_rec last;
	int error;

	if ((error = head_read(a->db, &a->last_seq, a->last_hash)) < 0 || a->last_seq == 0) {
		mesh_error_clear();
		memset(a->last_hash, 0, HASH_LEN);
		a->last_seq = 0;
		if ((error = head_from_records(a)) < 0)
			return error;
	}
	if (a->last_seq && mesh_audit_get(a->db, a->last_seq, &last) == 0) {
		a->last_time_ns = last.time_ns;
		mesh_audit_rec_clear(&last);
	}
	mesh_error_clear();
	return 0;
}

int mesh_audit_open(mesh_audit **out, mesh_db *db, const mesh_log *log)
{
	mesh_audit *a = calloc(1, sizeof(*a));
	int error;

	*out = NULL;
	if (!a || !(a->queue = calloc(QUEUE_CAP, sizeof(*a->queue)))) {
		free(a);
		return mesh_error_oom();
	}
	a->db = db;
	a->log = log;
	a->enabled = true;
	pthread_mutex_init(&a->lock, NULL);
	pthread_mutex_init(&a->comm_lock, NULL);
	pthread_cond_init(&a->nonempty, NULL);
	pthread_cond_init(&a->nonfull, NULL);
	pthread_cond_init(&a->written_cond, NULL);
	if ((error = load_head(a)) < 0) {
		mesh_audit_close(a);
		return error;
	}
	if (pthread_create(&a->writer, NULL, writer_main, a) != 0) {
		mesh_audit_close(a);
		return mesh_error_set(MESH_ENOMEM, "cannot start the audit log's writer");
	}
	a->writer_started = true;
	pthread_setname_np(a->writer, "meshfs-audit");   /* for top -H, perf */
	*out = a;
	return 0;
}

void mesh_audit_close(mesh_audit *a)
{
	if (!a)
		return;
	if (a->writer_started) {
		pthread_mutex_lock(&a->lock);
		a->stopping = true;
		pthread_cond_broadcast(&a->nonempty);
		pthread_mutex_unlock(&a->lock);
		pthread_join(a->writer, NULL);
	}
	for (size_t i = 0; i < a->count; i++)
		free(a->queue[(a->head + i) % QUEUE_CAP]);
	pthread_cond_destroy(&a->nonempty);
	pthread_cond_destroy(&a->nonfull);
	pthread_cond_destroy(&a->written_cond);
	pthread_mutex_destroy(&a->comm_lock);
	pthread_mutex_destroy(&a->lock);
	free(a->queue);
	free(a);
}

void mesh_audit_set_enabled(mesh_audit *a, bool enabled)
{
	a->enabled = enabled;
}

bool mesh_audit_enabled(const mesh_audit *a)
{
	return a->enabled;
}

void mesh_audit_flush(mesh_audit *a)
{
	pthread_mutex_lock(&a->lock);
	uint64_t target = a->queued;
	a->flushers++;
	pthread_cond_signal(&a->nonempty);
	while (a->written < target)
		pthread_cond_wait(&a->written_cond, &a->lock);
	a->flushers--;
	pthread_mutex_unlock(&a->lock);
}

/* --- recording ------------------------------------------------------------------ */

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A request names the thread that made it: the process is its thread
 * group (Tgid in /proc/TID/status), whose name is the command's. */
static pid_t read_tgid(pid_t pid)
{
	char path[64], line[128];
	pid_t tgid = pid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "re")))
		return pid;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return tgid > 0 ? tgid : pid;
}

static void read_comm(pid_t pid, char *out)
{
	char path[64];
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if (pid <= 0 || !(f = fopen(path, "re")))
		return;
	if (fgets(out, COMM_LEN, f))
		out[strcspn(out, "\n")] = '\0';
	else
		out[0] = '\0';
	fclose(f);
}

/* The process and command name of a request's pid, read from /proc at
 * most every COMM_TTL_NS per pid (a pid can be reused, a process
 * renamed). */
static pid_t process_of(mesh_audit *a, pid_t pid, int64_t now, char *comm)
{
	comm_slot *slot = &a->comms[(unsigned)pid % COMM_SLOTS];
	pid_t tgid = pid;
	bool hit;

	if (pid <= 0) {
		comm[0] = '\0';
		return pid;
	}
	pthread_mutex_lock(&a->comm_lock);
	hit = slot->pid == pid && now - slot->fetched_ns < COMM_TTL_NS;
	if (hit) {
		memcpy(comm, slot->comm, COMM_LEN);
		tgid = slot->tgid;
	}
	pthread_mutex_unlock(&a->comm_lock);
	if (hit)
		return tgid;
	tgid = read_tgid(pid);
	read_comm(tgid, comm);
	pthread_mutex_lock(&a->comm_lock);
	slot->pid = pid;
	slot->tgid = tgid;
	slot->fetched_ns = now;
	memcpy(slot->comm, comm, COMM_LEN);
	pthread_mutex_unlock(&a->comm_lock);
	return tgid;
}

static char *copy_str(char **at, const char *s)
{
	char *start = *at;
	size_t len = s ? strnlen(s, STRING_MAX) : 0;

	memcpy(start, s ? s : "", len);
	start[len] = '\0';
	*at += len + 1;
	return start;
}

static pending *pending_new(const mesh_audit_event *e)
{
	const char *s[] = { e->op, e->domain, e->ref, e->path, e->detail };
	size_t len = sizeof(pending);
	pending *p;
	char *at;

	for (size_t i = 0; i < 5; i++)
		len += (s[i] ? strnlen(s[i], STRING_MAX) : 0) + 1;
	if (!(p = malloc(len)))
		return NULL;
	at = (char *)(p + 1);
	p->op = copy_str(&at, e->op);
	p->domain = copy_str(&at, e->domain);
	p->ref = copy_str(&at, e->ref);
	p->path = copy_str(&at, e->path);
	p->detail = copy_str(&at, e->detail);
	p->result = e->result;
	p->bytes = e->bytes;
	p->commit[0] = '\0';
	if (e->commit && !mesh_oid_is_zero(e->commit))
		mesh_oid_fmt(p->commit, e->commit);
	return p;
}

int mesh_audit_record(mesh_audit *a, const mesh_caller *caller, const mesh_audit_event *e)
{
	pending *p;
	int64_t now;

	if (!a || !a->enabled)
		return 0;
	if (!(p = pending_new(e)))
		return mesh_error_oom();
	p->uid = caller ? caller->uid : 0;
	p->gid = caller ? caller->gid : 0;
	now = now_ns();
	p->pid = (uint32_t)process_of(a, caller ? caller->pid : 0, now, p->comm);
	pthread_mutex_lock(&a->lock);
	while (a->count == QUEUE_CAP)
		pthread_cond_wait(&a->nonfull, &a->lock);
	/* Taken in queue order, so that time order is seq order and the
	 * time indexes list records as the chain does. */
	now = now_ns();
	p->time_ns = now > a->last_time_ns ? now : a->last_time_ns;
	a->last_time_ns = p->time_ns;
	a->queue[(a->head + a->count) % QUEUE_CAP] = p;
	a->count++;
	a->queued++;
	/* The writer sleeps while the queue is empty, and gathers until a
	 * batch is full. */
	if (a->count == 1 || a->count == BATCH_MAX)
		pthread_cond_signal(&a->nonempty);
	pthread_mutex_unlock(&a->lock);
	return 0;
}

/* --- queries -------------------------------------------------------------------- */

static bool rec_matches(const mesh_audit_rec *r, const mesh_audit_query *q)
{
	if (q->domain && strcmp(r->domain, q->domain) != 0)
		return false;
	if (q->by_uid && r->uid != q->uid)
		return false;
	if (q->op && strcmp(r->op, q->op) != 0)
		return false;
	if (q->since_ns && r->time_ns < q->since_ns)
		return false;
	if (q->until_ns && r->time_ns > q->until_ns)
		return false;
	return !q->path_glob || fnmatch(q->path_glob, r->path, 0) == 0;
}

/* The index that answers q: the first of domain, user and op given. */
static void query_prefix(const mesh_audit_query *q, buf *k)
{
	if (q->domain) {
		key_start(k, KEY_BY_DOMAIN, q->domain);
	} else if (q->by_uid) {
		key_start(k, KEY_BY_UID, NULL);
		buf_be32(k, q->uid);
	} else {
		key_start(k, KEY_BY_OP, q->op);
	}
}

/* The time of the first record at seq or after (INT64_MAX: none). */
static int time_from(mesh_db_iter *it, uint64_t seq, int64_t *time_ns)
{
	unsigned char key[MESH_AUDIT_KEY_LEN];
	const void *k, *v;
	size_t klen, vlen;
	int more;

	*time_ns = INT64_MAX;
	mesh_audit_record_key(seq, key);
	mesh_db_iter_seek(it, key, sizeof(key));
	if ((more = mesh_db_iter_next(it, &k, &klen, &v, &vlen)) <= 0)
		return more;
	if (vlen >= BODY_FIXED)
		*time_ns = (int64_t)get_be64((const unsigned char *)v + 1 + HASH_LEN + 8);
	return 0;
}

/* Records go in time order (times never go back along the chain), so
 * the records themselves are the time index: the first at or after
 * since is found by bisection over the seqs. */
static int first_seq_since(mesh_db *db, int64_t since, uint64_t *out)
{
	unsigned char hash[HASH_LEN];
	uint64_t lo = 1, hi;
	mesh_db_iter *it;
	int64_t t;
	int error;

	*out = 1;
	if (!since)
		return 0;
	if ((error = head_read(db, &hi, hash)) < 0 ||
	    (error = mesh_db_iter_new(&it, db, KEY_RECORD, strlen(KEY_RECORD))) < 0)
		return error;
	hi++;
	while (lo < hi && error == 0) {
		uint64_t mid = lo + (hi - lo) / 2;
		if ((error = time_from(it, mid, &t)) < 0)
			break;
		if (t >= since)
			hi = mid;
		else
			lo = mid + 1;
	}
	mesh_db_iter_free(it);
	*out = lo;
	return error;
}

/* A query without domain, user or op: the records from since on. */
static int query_by_time(mesh_db *db, const mesh_audit_query *q,
			 int (*fn)(void *ctx, const mesh_audit_rec *rec), void *ctx)
{
	unsigned char key[MESH_AUDIT_KEY_LEN];
	mesh_db_iter *it;
	const void *k, *v;
	size_t klen, vlen;
	uint64_t first;
	int error, more;

	if ((error = first_seq_since(db, q->since_ns, &first)) < 0 ||
	    (error = mesh_db_iter_new(&it, db, KEY_RECORD, strlen(KEY_RECORD))) < 0)
		return error;
	mesh_audit_record_key(first, key);
	mesh_db_iter_seek(it, key, sizeof(key));
	while ((more = mesh_db_iter_next(it, &k, &klen, &v, &vlen)) > 0) {
		mesh_audit_rec rec;
		if (decode_record(v, vlen, &rec, NULL, NULL) < 0) {
			error = mesh_error_set(MESH_EIO, "audit record %" PRIu64 " is damaged "
					       "(`meshfs audit verify` tells more)",
					       klen == MESH_AUDIT_KEY_LEN ?
					       get_be64((const unsigned char *)k + 4) : 0);
			break;
		}
		if (q->until_ns && rec.time_ns > q->until_ns) {
			mesh_audit_rec_clear(&rec);
			break;
		}
		error = rec_matches(&rec, q) ? fn(ctx, &rec) : 0;
		mesh_audit_rec_clear(&rec);
		if (error != 0)
			break;
	}
	if (more < 0)
		error = more;
	mesh_db_iter_free(it);
	return error < 0 ? error : 0;
}

static int query_with_index(mesh_db *db, const mesh_audit_query *q,
			    int (*fn)(void *ctx, const mesh_audit_rec *rec), void *ctx);

int mesh_audit_query_run(mesh_db *db, const mesh_audit_query *q,
			 int (*fn)(void *ctx, const mesh_audit_rec *rec), void *ctx)
{
	if (!q->domain && !q->by_uid && !q->op)
		return query_by_time(db, q, fn, ctx);
	return query_with_index(db, q, fn, ctx);
}

/* The records of one index list in the query's time range: 1 once past
 * until (nothing later can match), 0 to go on, <0 on error. */
static int query_posting(mesh_db *db, const mesh_audit_query *q, const unsigned char *v,
			 size_t vlen, int (*fn)(void *ctx, const mesh_audit_rec *rec), void *ctx)
{
	int error = 0;

	for (size_t at = 0; at + 16 <= vlen && error == 0; at += 16) {
		int64_t time_ns = (int64_t)get_be64(v + at);
		mesh_audit_rec rec;
		if (q->since_ns && time_ns < q->since_ns)
			continue;
		if (q->until_ns && time_ns > q->until_ns)
			return 1;
		if ((error = mesh_audit_get(db, get_be64(v + at + 8), &rec)) < 0)
			return error;
		error = rec_matches(&rec, q) ? fn(ctx, &rec) : 0;
		mesh_audit_rec_clear(&rec);
	}
	return error;
}

static int query_with_index(mesh_db *db, const mesh_audit_query *q,
			    int (*fn)(void *ctx, const mesh_audit_rec *rec), void *ctx)
{
	buf k = { 0 };
	mesh_db_iter *it = NULL;
	const void *key, *val;
	size_t klen, vlen, plen;
	int error, more = 0;

	query_prefix(q, &k);
	plen = k.len;
	if (k.failed)
		return mesh_error_oom();
	if ((error = mesh_db_iter_new(&it, db, k.p, plen)) < 0)
		goto done;
	if (q->since_ns) {
		buf_be64(&k, (uint64_t)q->since_ns);
		if ((error = k.failed ? mesh_error_oom() : mesh_db_iter_seek(it, k.p, k.len)) < 0)
			goto done;
	}
	while (error == 0 && (more = mesh_db_iter_next(it, &key, &klen, &val, &vlen)) > 0) {
		if (klen < plen + 16)
			continue;
		error = query_posting(db, q, val, vlen, fn, ctx);
	}
	if (more < 0)
		error = more;
done:
	mesh_db_iter_free(it);
	free(k.p);
	return error < 0 ? error : 0;
}

/* --- verify --------------------------------------------------------------------- */

typedef struct walk {
	uint64_t expect, count, bad;
	const char *problem;
	unsigned char prev[HASH_LEN];
} walk;

static bool walk_bad(walk *w, uint64_t seq, const char *problem)
{
	w->bad = seq;
	w->problem = problem;
	return false;
}

/* One record of the walk: false when it is bad. */
static bool walk_one(walk *w, const unsigned char *key, size_t klen,
		     const unsigned char *val, size_t vlen, uint64_t head_seq,
		     const unsigned char *head_hash)
{
	unsigned char named_prev[HASH_LEN], hash[HASH_LEN];
	mesh_audit_rec rec;
	uint64_t seq, stored_seq;
	bool intact;

	if (klen != MESH_AUDIT_KEY_LEN)
		return walk_bad(w, w->expect, "inserted");
	seq = get_be64(key + 4);
	if (seq > w->expect)
		return walk_bad(w, w->expect, "missing");
	if (decode_record(val, vlen, &rec, named_prev, &intact) < 0)
		return walk_bad(w, seq, "altered");
	stored_seq = rec.seq;
	mesh_audit_rec_clear(&rec);
	if (!intact || stored_seq != seq)
		return walk_bad(w, seq, "altered");
	if (memcmp(named_prev, w->prev, HASH_LEN) != 0)
		return walk_bad(w, seq, "inserted");
	sha256(val, vlen, hash);
	if (seq == head_seq && memcmp(hash, head_hash, HASH_LEN) != 0)
		return walk_bad(w, seq, "altered");
	memcpy(w->prev, hash, HASH_LEN);
	w->expect = seq + 1;
	w->count++;
	return true;
}

int mesh_audit_verify(mesh_db *db, uint64_t *count, uint64_t *bad_seq, const char **problem)
{
	unsigned char head_hash[HASH_LEN] = { 0 };
	uint64_t head_seq = 0;
	walk w = { .expect = 1 };
	mesh_db_iter *it;
	const void *key, *val;
	size_t klen, vlen;
	int more, error;

	*count = *bad_seq = 0;
	*problem = NULL;
	/* The head first: the walk must reach at least it. */
	if ((error = head_read(db, &head_seq, head_hash)) < 0)
		return error;
	if ((error = mesh_db_iter_new(&it, db, KEY_RECORD, strlen(KEY_RECORD))) < 0)
		return error;
	while ((more = mesh_db_iter_next(it, &key, &klen, &val, &vlen)) > 0)
		if (!walk_one(&w, key, klen, val, vlen, head_seq, head_hash))
			break;
	mesh_db_iter_free(it);
	if (more < 0)
		return more;
	if (!w.problem && w.expect <= head_seq)
		walk_bad(&w, w.expect, "missing");
	/* The head again: records and head are written in one batch, so
	 * every record the walk saw is at most the head now. */
	if (!w.problem && (error = head_read(db, &head_seq, head_hash)) < 0)
		return error;
	if (!w.problem && w.expect - 1 > head_seq)
		walk_bad(&w, head_seq + 1, "inserted");
	*count = w.count;
	if (!w.problem)
		return 0;
	*bad_seq = w.bad;
	*problem = w.problem;
	return mesh_error_set(MESH_EIO, "audit log: record %" PRIu64 " %s; %" PRIu64
			      " record(s) before it are intact", w.bad,
			      !strcmp(w.problem, "missing") ? "is missing (removed)" :
			      !strcmp(w.problem, "altered") ? "was altered" :
			      "was inserted (it does not follow the record before it)", w.count);
}

/* --- usage ---------------------------------------------------------------------- */

void mesh_audit_usage_free(mesh_audit_usage *usage, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(usage[i].top);
	free(usage);
}

static int usage_cmp(const void *x, const void *y)
{
	const mesh_audit_usage *a = x, *b = y;

	if (a->uid != b->uid)
		return a->uid < b->uid ? -1 : 1;
	return strcmp(a->top, b->top);
}

static int usage_merge(mesh_audit_usage **out, size_t *count, size_t *cap, uint32_t uid,
		       const char *top, const unsigned char *v)
{
	mesh_audit_usage *u = NULL;
	int64_t last = (int64_t)get_be64(v + 16);

	for (size_t i = 0; i < *count && !u; i++)
		if ((*out)[i].uid == uid && !strcmp((*out)[i].top, top))
			u = &(*out)[i];
	if (!u) {
		if (*count == *cap) {
			size_t ncap = *cap ? *cap * 2 : 16;
			mesh_audit_usage *grown = realloc(*out, ncap * sizeof(**out));
			if (!grown)
				return mesh_error_oom();
			*out = grown;
			*cap = ncap;
		}
		u = &(*out)[(*count)++];
		memset(u, 0, sizeof(*u));
		u->uid = uid;
		if (!(u->top = strdup(top))) {
			(*count)--;
			return mesh_error_oom();
		}
	}
	u->read_opens += get_be64(v);
	u->bytes_opened += get_be64(v + 8);
	if (last > u->last_read_ns)
		u->last_read_ns = last;
	return 0;
}

int mesh_audit_usage_get(mesh_db *db, const char *domain, unsigned days, int64_t now,
			 mesh_audit_usage **out, size_t *count)
{
	int64_t today = now / NS_PER_DAY, first = today - (int64_t)days + 1;
	buf k = { 0 };
	mesh_db_iter *it = NULL;
	const void *key, *val;
	size_t klen, vlen, plen, cap = 0;
	int error = 0, more = 0;

	*out = NULL;
	*count = 0;
	key_start(&k, KEY_USAGE, domain);
	plen = k.len;
	buf_be32(&k, (uint32_t)(first < 0 ? 0 : first));
	if (k.failed)
		return mesh_error_oom();
	if ((error = mesh_db_iter_new(&it, db, k.p, plen)) == 0 &&
	    (error = mesh_db_iter_seek(it, k.p, k.len)) == 0) {
		while ((more = mesh_db_iter_next(it, &key, &klen, &val, &vlen)) > 0) {
			const unsigned char *p = (const unsigned char *)key + plen;
			if (klen < plen + 9 || vlen != USAGE_VALUE_LEN ||
			    ((const char *)key)[klen - 1] != '\0')
				continue;
			if ((error = usage_merge(out, count, &cap, get_be32(p + 4),
						 (const char *)p + 8, val)) < 0)
				break;
		}
	}
	if (more < 0)
		error = more;
	mesh_db_iter_free(it);
	free(k.p);
	if (error < 0) {
		mesh_audit_usage_free(*out, *count);
		*out = NULL;
		*count = 0;
		return error;
	}
	if (*count)
		qsort(*out, *count, sizeof(**out), usage_cmp);
	return 0;
}

/* Distinct uids among the first n of uids (n is small: a domain's readers). */
static uint32_t distinct(uint32_t *uids, size_t n)
{
	uint32_t count = 0;

	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		while (k < i && uids[k] != uids[i])
			k++;
		count += k == i;
	}
	return count;
}

int mesh_audit_usage_totals(mesh_db *db, const char *const *domains, size_t count,
			    unsigned days, int64_t now, uint32_t *readers, uint64_t *opens)
{
	int64_t today = now / NS_PER_DAY, first = today - (int64_t)days + 1;
	uint32_t *uids = NULL;
	size_t nuids = 0, ucap = 0;
	mesh_db_iter *it = NULL;
	buf k = { 0 };
	int error, more = 0;

	if ((error = mesh_db_iter_new(&it, db, KEY_USAGE, strlen(KEY_USAGE))) < 0)
		return error;
	for (size_t d = 0; d < count && more >= 0; d++) {
		const void *key, *val;
		size_t klen, vlen, plen;

		readers[d] = 0;
		opens[d] = 0;
		nuids = 0;
		key_start(&k, KEY_USAGE, domains[d]);
		plen = k.len;
		buf_be32(&k, (uint32_t)(first < 0 ? 0 : first));
		if (k.failed) {
			more = mesh_error_oom();
			break;
		}
		if ((more = mesh_db_iter_seek(it, k.p, k.len)) < 0)
			break;
		while ((more = mesh_db_iter_next(it, &key, &klen, &val, &vlen)) > 0) {
			if (klen < plen || memcmp(key, k.p, plen))
				break;
			if (klen < plen + 9 || vlen != USAGE_VALUE_LEN)
				continue;
			if (nuids == ucap) {
				size_t ncap = ucap ? ucap * 2 : 16;
				uint32_t *grown = realloc(uids, ncap * sizeof(*uids));
				if (!grown) {
					more = mesh_error_oom();
					break;
				}
				uids = grown;
				ucap = ncap;
			}
			if (!get_be64(val))
				continue;
			uids[nuids++] = get_be32((const unsigned char *)key + plen + 4);
			opens[d] += get_be64(val);
		}
		readers[d] = distinct(uids, nuids);
	}
	mesh_db_iter_free(it);
	free(uids);
	free(k.p);
	return more < 0 ? more : 0;
}

/* --- parsing -------------------------------------------------------------------- */

static int parse_span(const char *text, int64_t now, int64_t *out)
{
	static const struct { char unit; int64_t secs; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 604800 },
	};
	char *end;
	long long n;

	errno = 0;
	n = strtoll(text, &end, 10);
	if (end == text || errno || n < 0 || end[0] == '\0' || end[1] != '\0')
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (units[i].unit != *end)
			continue;
		if (n > INT64_MAX / 1000000000 / units[i].secs)
			return -1;
		*out = now - (int64_t)n * units[i].secs * 1000000000;
		return 0;
	}
	return -1;
}

int mesh_audit_parse_time(const char *text, int64_t now, bool end_of_day, int64_t *out)
{
	static const char *const formats[] = {
		"%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M",
		"%Y-%m-%d",
	};

	if (parse_span(text, now, out) == 0)
		return 0;
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		struct tm tm;
		const char *end;
		memset(&tm, 0, sizeof(tm));
		if (!(end = strptime(text, formats[i], &tm)))
			continue;
		int64_t frac = 0, scale = 100000000;
		bool with_seconds = i == 0 || i == 2;
		/* A record's own time: seconds with a fraction. */
		if (with_seconds && *end == '.' && end[1] >= '0' && end[1] <= '9')
			for (end++; *end >= '0' && *end <= '9'; end++, scale /= 10)
				frac += (*end - '0') * scale;
		if (*end == 'Z')
			end++;
		if (*end)
			continue;
		time_t t = timegm(&tm);
		bool date_only = i == sizeof(formats) / sizeof(formats[0]) - 1;
		*out = (int64_t)t * 1000000000 + frac;
		if (date_only && end_of_day)
			*out += NS_PER_DAY - 1;
		return 0;
	}
	return mesh_error_set(MESH_EINVAL, "'%s' is not a time: give a date (2026-12-03), "
			      "a UTC date and time (2026-12-03T10:00:00) or a span back from "
			      "now (30s, 15m, 1h, 7d, 2w)", text);
}

int mesh_audit_parse_user(const char *text, uint32_t *uid)
{
	struct passwd pw, *found = NULL;
	char bufpw[1024], *end;
	unsigned long n;

	if (*text >= '0' && *text <= '9') {
		errno = 0;
		n = strtoul(text, &end, 10);
		if (!*end && !errno && n <= UINT32_MAX) {
			*uid = (uint32_t)n;
			return 0;
		}
	}
	if (getpwnam_r(text, &pw, bufpw, sizeof(bufpw), &found) == 0 && found) {
		*uid = pw.pw_uid;
		return 0;
	}
	return mesh_error_set(MESH_EINVAL, "--user '%s': no such user (give a user name or a uid)",
			      text);
}

/* --- the commands ----------------------------------------------------------------- */

/* Root reads everything; a domain's owner that domain's records. */
static int may_read_domain(mesh_cmd *cmd, const char *domain, const char *what)
{
	mesh_store *store = cmd->env->store;
	mesh_domain *d;
	bool owner;
	int error;

	if (mesh_access_is_admin(store, cmd->caller))
		return 0;
	if (!domain)
		return mesh_error_set(MESH_EACCES, "%s: only root reads every domain's records; "
				      "the owner of a domain gives --domain DOMAIN", what);
	if ((error = mesh_domain_get(store, domain, &d)) < 0)
		return error;
	owner = d->owner_uid == cmd->caller->uid;
	mesh_domain_free(d);
	if (!owner)
		return mesh_error_set(MESH_EACCES, "%s of domain %s: only root and the domain's "
				      "owner read them", what, domain);
	return 0;
}

static void json_time(mesh_json *j, const char *key, int64_t ns)
{
	char text[40];
	time_t secs = (time_t)(ns / 1000000000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	size_t n = strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &tm);
	/* Nanoseconds, so that a record's time given back to --since or
	 * --until names it exactly. */
	snprintf(text + n, sizeof(text) - n, ".%09dZ", (int)(ns % 1000000000));
	mesh_json_field_string(j, key, text);
}

#define NAME_CACHE 16

/* User names looked up for an answer: a lookup reads the password
 * database, and a log holds few users. */
typedef struct name_cache {
	uint32_t uid[NAME_CACHE];
	char name[NAME_CACHE][64];
	size_t count, next;
} name_cache;

static const char *name_of(name_cache *c, uint32_t uid)
{
	size_t slot;

	for (size_t i = 0; i < c->count; i++)
		if (c->uid[i] == uid)
			return c->name[i];
	slot = c->count < NAME_CACHE ? c->count++ : c->next++ % NAME_CACHE;
	c->uid[slot] = uid;
	mesh_user_name(uid, c->name[slot], sizeof(c->name[slot]));
	return c->name[slot];
}

typedef struct rec_out {
	mesh_json *json;
	name_cache names;
	size_t count;
} rec_out;

static const char *result_name(int32_t result)
{
	const char *name;

	if (result == 0)
		return "ok";
	name = strerrorname_np(-result);
	return name ? name : "EUNKNOWN";
}

static int json_record(void *ctx, const mesh_audit_rec *r)
{
	rec_out *o = ctx;
	mesh_json *j = o->json;

	mesh_json_object_begin(j);
	mesh_json_field_int(j, "seq", (int64_t)r->seq);
	json_time(j, "time", r->time_ns);
	mesh_json_field_int(j, "time_ns", r->time_ns);
	mesh_json_field_int(j, "uid", r->uid);
	mesh_json_field_string(j, "user", name_of(&o->names, r->uid));
	mesh_json_field_int(j, "gid", r->gid);
	mesh_json_field_int(j, "pid", r->pid);
	mesh_json_field_string(j, "comm", r->comm);
	mesh_json_field_string(j, "op", r->op);
	mesh_json_field_string(j, "domain", r->domain);
	mesh_json_field_string(j, "ref", r->ref);
	mesh_json_field_string(j, "commit", r->commit);
	mesh_json_field_string(j, "path", r->path);
	mesh_json_field_string(j, "result", result_name(r->result));
	mesh_json_field_int(j, "errno", -r->result);
	mesh_json_field_string(j, "detail", r->detail);
	mesh_json_field_int(j, "bytes", (int64_t)r->bytes);
	mesh_json_object_end(j);
	o->count++;
	return 0;
}

static int run_query(mesh_cmd *cmd, const mesh_audit_query *q)
{
	rec_out o = { .json = &cmd->json };
	int error;

	mesh_json_key(&cmd->json, "records");
	mesh_json_array_begin(&cmd->json);
	error = mesh_audit_query_run(mesh_store_db(cmd->env->store), q, json_record, &o);
	mesh_json_array_end(&cmd->json);
	mesh_json_field_int(&cmd->json, "count", (int64_t)o.count);
	return error;
}

static int parse_times(const char *since, const char *until, mesh_audit_query *q)
{
	int64_t now = now_ns();
	int error;

	if ((since && (error = mesh_audit_parse_time(since, now, false, &q->since_ns)) < 0) ||
	    (until && (error = mesh_audit_parse_time(until, now, true, &q->until_ns)) < 0))
		return error;
	if (q->since_ns && q->until_ns && q->since_ns > q->until_ns)
		return mesh_error_set(MESH_EINVAL, "--since %s is after --until %s", since, until);
	return 0;
}

static int audit_search(mesh_cmd *cmd)
{
	const char *domain = NULL, *user = NULL, *op = NULL, *glob = NULL;
	const char *since = NULL, *until = NULL;
	bool json = false;
	mesh_cmd_opt opts[] = {
		{ "--domain", NULL, &domain, NULL }, { "--user", NULL, &user, NULL },
		{ "--op", NULL, &op, NULL }, { "--path", NULL, &glob, NULL },
		{ "--since", NULL, &since, NULL }, { "--until", NULL, &until, NULL },
		{ "--json", NULL, NULL, &json },
	};
	mesh_audit_query q = { 0 };
	size_t npos;
	int error;

	if ((error = mesh_cmd_parse_opts(cmd, 1, opts, sizeof(opts) / sizeof(opts[0]), NULL, 0,
					 &npos, NULL)) < 0 ||
	    (error = parse_times(since, until, &q)) < 0 ||
	    (user && (error = mesh_audit_parse_user(user, &q.uid)) < 0) ||
	    (error = may_read_domain(cmd, domain, "audit records")) < 0)
		return error;
	q.by_uid = user != NULL;
	q.domain = domain;
	q.op = op;
	q.path_glob = glob;
	mesh_audit_flush(mesh_store_audit(cmd->env->store));
	return run_query(cmd, &q);
}

static int audit_verify(mesh_cmd *cmd)
{
	mesh_store *store = cmd->env->store;
	uint64_t count, bad;
	const char *problem;
	int error;

	if (cmd->argc != 2)
		return mesh_error_set(MESH_EINVAL, "usage: audit verify");
	if (!mesh_access_is_admin(store, cmd->caller))
		return mesh_error_set(MESH_EACCES, "audit verify: only root checks the whole log");
	mesh_audit_flush(mesh_store_audit(store));
	error = mesh_audit_verify(mesh_store_db(store), &count, &bad, &problem);
	if (error < 0 && problem) {
		mesh_json_field_int(&cmd->details, "bad_seq", (int64_t)bad);
		mesh_json_field_string(&cmd->details, "problem", problem);
		mesh_json_field_int(&cmd->details, "verified", (int64_t)count);
	}
	if (error < 0)
		return error;
	mesh_json_field_int(&cmd->json, "verified", (int64_t)count);
	return 0;
}

static int audit_export(mesh_cmd *cmd)
{
	const char *since = NULL, *until = NULL;
	mesh_cmd_opt opts[] = { { "--since", NULL, &since, NULL }, { "--until", NULL, &until, NULL } };
	mesh_audit_query q = { 0 };
	size_t npos;
	int error;

	if ((error = mesh_cmd_parse_opts(cmd, 2, opts, 2, NULL, 0, &npos, NULL)) < 0)
		return error;
	if (!since)
		return mesh_error_set(MESH_EINVAL, "usage: audit export --since T [--until T]");
	if ((error = parse_times(since, until, &q)) < 0)
		return error;
	if (!mesh_access_is_admin(cmd->env->store, cmd->caller))
		return mesh_error_set(MESH_EACCES, "audit export: only root exports the log");
	mesh_audit_flush(mesh_store_audit(cmd->env->store));
	return run_query(cmd, &q);
}

static int cmd_audit(mesh_cmd *cmd)
{
	if (cmd->argc >= 2 && !strcmp(cmd->argv[1], "verify"))
		return audit_verify(cmd);
	if (cmd->argc >= 2 && !strcmp(cmd->argv[1], "export"))
		return audit_export(cmd);
	return audit_search(cmd);
}

const mesh_cmd_spec mesh_audit_cmd_spec = {
	"audit", cmd_audit,
	"audit [--domain D] [--user U] [--op OP] [--path GLOB] [--since T] [--until T] [--json]"
	" | audit verify | audit export --since T [--until T]",
	"who did what: the hash-chained audit log, its check, its export as JSON lines",
};

static int parse_days(const char *text, unsigned *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(text, &end, 10);
	if (!*text || *end || errno || n < 1 || n > 36500)
		return mesh_error_set(MESH_EINVAL, "--days needs a number of days from 1 to 36500, "
				      "not '%s'", text);
	*out = (unsigned)n;
	return 0;
}

int mesh_audit_domain_stats(mesh_cmd *cmd)
{
	const char *days_text = NULL, *pos[1] = { NULL };
	bool json = false;
	mesh_cmd_opt opts[] = { { "--days", NULL, &days_text, NULL },
				{ "--json", NULL, NULL, &json } };
	mesh_store *store = cmd->env->store;
	mesh_audit_usage *usage;
	mesh_domain *d;
	unsigned days = 30;
	size_t npos, count;
	char name[64];
	int error;

	if ((error = mesh_cmd_parse_opts(cmd, 2, opts, 2, pos, 1, &npos, NULL)) < 0 ||
	    (error = mesh_cmd_need_positional(cmd, npos, 1, MESH_AUDIT_STATS_USAGE)) < 0 ||
	    (days_text && (error = parse_days(days_text, &days)) < 0) ||
	    (error = mesh_domain_get(store, pos[0], &d)) < 0)
		return error;
	mesh_domain_free(d);
	if ((error = may_read_domain(cmd, pos[0], "usage")) < 0)
		return error;
	mesh_audit_flush(mesh_store_audit(store));
	if ((error = mesh_audit_usage_get(mesh_store_db(store), pos[0], days, now_ns(),
					  &usage, &count)) < 0)
		return error;
	mesh_json_field_string(&cmd->json, "domain", pos[0]);
	mesh_json_field_int(&cmd->json, "days", days);
	mesh_json_key(&cmd->json, "consumers");
	mesh_json_array_begin(&cmd->json);
	for (size_t i = 0; i < count; i++) {
		mesh_user_name(usage[i].uid, name, sizeof(name));
		mesh_json_object_begin(&cmd->json);
		mesh_json_field_string(&cmd->json, "user", name);
		mesh_json_field_int(&cmd->json, "uid", usage[i].uid);
		mesh_json_field_string(&cmd->json, "path", usage[i].top);
		mesh_json_field_int(&cmd->json, "read_opens", (int64_t)usage[i].read_opens);
		mesh_json_field_int(&cmd->json, "bytes_opened", (int64_t)usage[i].bytes_opened);
		json_time(&cmd->json, "last_read", usage[i].last_read_ns);
		mesh_json_object_end(&cmd->json);
	}
	mesh_json_array_end(&cmd->json);
	mesh_audit_usage_free(usage, count);
	return 0;
}

/* --- what control commands record -------------------------------------------------- */

static bool word_is(char *const *argv, size_t argc, size_t i, const char *word)
{
	return i < argc && !strcmp(argv[i], word);
}

static bool has_word(char *const *argv, size_t argc, const char *word)
{
	for (size_t i = 1; i < argc; i++)
		if (!strcmp(argv[i], word))
			return true;
	return false;
}

/* Commands that change nothing: recorded only when refused. */
static bool read_only(char *const *argv, size_t argc)
{
	static const char *const readers[] = { "status", "log", "diff", "audit", "progress",
					       "product", "lineage" };
	const char *name = argv[0];

	for (size_t i = 0; i < sizeof(readers) / sizeof(readers[0]); i++)
		if (!strcmp(name, readers[i]))
			return true;
	if ((!strcmp(name, "domain") || !strcmp(name, "branch") || !strcmp(name, "tag") ||
	     !strcmp(name, "hook")) && word_is(argv, argc, 1, "list"))
		return true;
	if (!strcmp(name, "domain") &&
	    (word_is(argv, argc, 1, "stats") || word_is(argv, argc, 1, "show")))
		return true;
	if (!strcmp(name, "access") &&
	    (word_is(argv, argc, 1, "pending") || word_is(argv, argc, 1, "mine")))
		return true;
	if (!strcmp(name, "policy") && word_is(argv, argc, 1, "show"))
		return true;
	if (!strcmp(name, "catalog") &&
	    (word_is(argv, argc, 1, "search") || word_is(argv, argc, 1, "comments")))
		return true;
	if (!strcmp(name, "fsck"))
		return !has_word(argv, argc, "--repair");
	if (!strcmp(name, "gc"))
		return has_word(argv, argc, "--dry-run");
	return false;
}

/* The word naming what the command works on: "DOMAIN[/REF[/PATH]]". */
static const char *target_word(char *const *argv, size_t argc)
{
	const char *name = argv[0];
	size_t at = 1;

	if (!strcmp(name, "domain") || !strcmp(name, "branch") || !strcmp(name, "tag") ||
	    !strcmp(name, "import") || !strcmp(name, "cp") || !strcmp(name, "hook"))
		at = 2;
	if (!strcmp(name, "gc") || !strcmp(name, "fsck") || !strcmp(name, "control") ||
	    !strcmp(name, "audit") || !strcmp(name, "policy") || !strcmp(name, "progress"))
		return NULL;
	/* access request DOMAIN ...; the other steps name a request id (the
	 * step's own record names its domain). */
	if (!strcmp(name, "access"))
		return argc > 2 && !strcmp(argv[1], "request") ? argv[2] : NULL;
	/* catalog comment|comments|uncomment DOMAIN ...; a search's words
	 * name no domain. */
	if (!strcmp(name, "catalog"))
		return argc > 2 && strcmp(argv[1], "search") ? argv[2] : NULL;
	return at < argc && argv[at][0] != '-' ? argv[at] : NULL;
}

static const char *option_value(char *const *argv, size_t argc, const char *flag)
{
	for (size_t i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], flag))
			return argv[i + 1];
	return NULL;
}

/* The command line again, for the record's detail. */
static void join_words(char *const *argv, size_t argc, char *out, size_t cap)
{
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < argc && len + 1 < cap; i++)
		len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? " " : "", argv[i]);
}

void mesh_audit_command(mesh_store *store, const mesh_caller *caller, char *const *argv,
			size_t argc, int result)
{
	char domain[256] = "", ref[256] = "", line[1024];
	const char *target, *path = "", *into;
	mesh_audit_event e = { 0 };
	int saved = mesh_error_code();
	char message[1024];

	if (argc == 0 || (result == 0 && read_only(argv, argc)))
		return;
	if ((target = target_word(argv, argc))) {
		const char *slash = strchr(target, '/');
		size_t dlen = slash ? (size_t)(slash - target) : strlen(target);
		snprintf(domain, sizeof(domain), "%.*s", (int)dlen, target);
		if (slash) {
			const char *rest = slash + 1, *end = strchr(rest, '/');
			size_t rlen = end ? (size_t)(end - rest) : strlen(rest);
			snprintf(ref, sizeof(ref), "%.*s", (int)rlen, rest);
			path = end ? end + 1 : "";
		}
	}
	if (!strcmp(argv[0], "merge") && (into = option_value(argv, argc, "--into")))
		snprintf(ref, sizeof(ref), "%s", into);
	if ((!strcmp(argv[0], "fsck") || !strcmp(argv[0], "audit")) &&
	    (into = option_value(argv, argc, "--domain")))
		snprintf(domain, sizeof(domain), "%s", into);
	join_words(argv, argc, line, sizeof(line));
	e.op = argv[0];
	e.domain = domain;
	e.ref = ref;
	e.path = path;
	e.result = result;
	e.detail = line;
	/* The command's error message is its answer's: recording must not
	 * replace it. */
	snprintf(message, sizeof(message), "%s", mesh_error_message());
	mesh_audit_record(mesh_store_audit(store), caller, &e);
	if (saved)
		mesh_error_set(saved, "%s", message);
}
