/*
 * journal.c - fsync'd writes of an open file, kept until they are cut
 * into chunks (journal.h).
 */
#include "journal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "error.h"
#include "file.h"
#include "stage.h"
#include "array.h"

#define RECORD_KEY_LEN (2 + 8 + 4)
#define NOTE_KEY_LEN (2 + 8)

static void put_be(unsigned char *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
}

static uint64_t get_be(const unsigned char *p, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++)
		v = v << 8 | p[i];
	return v;
}

static void record_key(unsigned char key[RECORD_KEY_LEN], uint64_t id, uint32_t seq)
{
	memcpy(key, "j/", 2);
	put_be(key + 2, id, 8);
	put_be(key + 10, seq, 4);
}

static void note_key(unsigned char key[NOTE_KEY_LEN], uint64_t id)
{
	memcpy(key, "J/", 2);
	put_be(key + 2, id, 8);
}

int mesh_journal_new_id(uint64_t *out)
{
	uint64_t id = 0;

	while (id == 0) {
		ssize_t n = getrandom(&id, sizeof(id), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(id))
			return mesh_error_os("cannot draw a journal id", NULL);
	}
	*out = id;
	return 0;
}

void mesh_journal_add(mesh_db_batch *batch, uint64_t id, uint32_t seq, uint64_t offset,
		      const void *data, size_t len)
{
	unsigned char key[RECORD_KEY_LEN];
	unsigned char *val = malloc(8 + len);

	/* As rocksdb_writebatch_put itself does on bad_alloc: a write the
	 * batch silently lacked would lose data at the next crash. */
	if (!val)
		abort();
	record_key(key, id, seq);
	for (int i = 0; i < 8; i++)
		val[i] = (unsigned char)(offset >> (8 * i));
	memcpy(val + 8, data, len);
	mesh_db_batch_put(batch, key, sizeof(key), val, 8 + len);
	free(val);
}

void mesh_journal_note(mesh_db_batch *batch, uint64_t id, const char *domain,
		       const char *branch)
{
	unsigned char key[NOTE_KEY_LEN];
	size_t dlen = strlen(domain), blen = strlen(branch);
	char *val = malloc(dlen + blen + 2);

	if (!val)
		abort();
	note_key(key, id);
	memcpy(val, domain, dlen + 1);
	memcpy(val + dlen + 1, branch, blen + 1);
	mesh_db_batch_put(batch, key, sizeof(key), val, dlen + blen + 2);
	free(val);
}

int mesh_journal_drop(mesh_db *db, mesh_db_batch *batch, uint64_t id)
{
	unsigned char prefix[RECORD_KEY_LEN], note[NOTE_KEY_LEN];
	const void *key, *val;
	size_t klen, vlen;
	mesh_db_iter *it;
	int rc;

	record_key(prefix, id, 0);      /* its first 10 bytes: "j/" id */
	if ((rc = mesh_db_iter_new(&it, db, prefix, NOTE_KEY_LEN)) < 0)
		return rc;
	while ((rc = mesh_db_iter_next(it, &key, &klen, &val, &vlen)) == 1)
		mesh_db_batch_delete(batch, key, klen);
	mesh_db_iter_free(it);
	note_key(note, id);
	mesh_db_batch_delete(batch, note, sizeof(note));
	return rc;
}

/* ---- base + writes as one content ------------------------------------ */

/* Where a write lies; its bytes stay in the database until a read of
 * the content needs them, so a journal of any size costs 24 bytes per
 * write in memory. */
typedef struct journal_write {
	uint64_t offset;
	size_t len;
	uint32_t seq;
} journal_write;

typedef struct overlay {
	mesh_store *store;
	const mesh_file_map *base;
	uint64_t id;
	journal_write *writes;     /* by offset, then seq */
	size_t count;
	journal_write **hits;      /* scratch for one read: the writes over it */
	size_t hits_cap;
} overlay;

static int by_offset(const void *a, const void *b)
{
	const journal_write *x = a, *y = b;

	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int by_seq(const void *a, const void *b)
{
	const journal_write *const *x = a, *const *y = b;

	return (*x)->seq < (*y)->seq ? -1 : (*x)->seq > (*y)->seq;
}

static int journal_corrupt(uint64_t id, uint32_t seq, const char *why)
{
	return mesh_error_set(MESH_EIO, "journal %016llx is corrupt at write %u: %s",
			      (unsigned long long)id, (unsigned)seq, why);
}

/* Write seq's value: offset, then its bytes. */
static int write_get(mesh_db *db, uint64_t id, uint32_t seq, unsigned char **val,
		     size_t *vlen)
{
	unsigned char key[RECORD_KEY_LEN];
	void *v;
	int error;

	record_key(key, id, seq);
	if ((error = mesh_db_get(db, key, sizeof(key), &v, vlen)) == MESH_ENOENT)
		return journal_corrupt(id, seq, "the write is missing");
	if (error < 0)
		return error;
	if (*vlen < 8) {
		free(v);
		return journal_corrupt(id, seq, "too short");
	}
	*val = v;
	return 0;
}

static uint64_t write_offset(const unsigned char *val)
{
	uint64_t offset = 0;

	for (int i = 0; i < 8; i++)
		offset |= (uint64_t)val[i] << (8 * i);
	return offset;
}

static int overlay_read(void *ctx, void *buf, size_t len, uint64_t offset, size_t *got)
{
	overlay *o = ctx;
	mesh_db *db = mesh_store_db(o->store);
	size_t from_base = 0, nhits = 0, lo = 0, hi = o->count;
	int error;

	if (offset < o->base->size &&
	    (error = mesh_file_read(mesh_store_odb(o->store), mesh_store_cache(o->store),
				    o->base, buf, len, offset, &from_base)) < 0)
		return error;
	/* Past the base's end (a file grown, or cut and grown again) only
	 * written bytes show; the rest is a hole. */
	memset((unsigned char *)buf + from_base, 0, len - from_base);
	/* No write is longer than a record: those that reach offset start
	 * at most that far before it. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (o->writes[mid].offset + MESH_JOURNAL_RECORD_MAX <= offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < o->count && o->writes[i].offset < offset + len; i++) {
		if (o->writes[i].offset + o->writes[i].len <= offset)
			continue;
		if (mesh_array_grow(&o->hits, &o->hits_cap, nhits, sizeof(*o->hits)) < 0)
			return MESH_ENOMEM;
		o->hits[nhits++] = &o->writes[i];
	}
	qsort(o->hits, nhits, sizeof(*o->hits), by_seq);
	for (size_t i = 0; i < nhits; i++) {
		const journal_write *w = o->hits[i];
		uint64_t start = w->offset > offset ? w->offset : offset;
		uint64_t end = w->offset + w->len < offset + len ? w->offset + w->len : offset + len;
		unsigned char *val = NULL;
		size_t vlen;

		if ((error = write_get(db, o->id, w->seq, &val, &vlen)) < 0)
			return error;
		memcpy((unsigned char *)buf + (start - offset), val + 8 + (start - w->offset),
		       (size_t)(end - start));
		free(val);
	}
	*got = len;
	return 0;
}

/* Where the first count writes of journal id lie, by offset. */
static int writes_load(mesh_db *db, uint64_t id, uint32_t count, journal_write **out)
{
	journal_write *writes = calloc(count ? count : 1, sizeof(*writes));
	unsigned char prefix[RECORD_KEY_LEN];
	const void *key, *val;
	size_t klen, vlen;
	uint32_t found = 0;
	mesh_db_iter *it;
	int rc;

	if (!writes)
		return mesh_error_oom();
	record_key(prefix, id, 0);
	if ((rc = mesh_db_iter_new(&it, db, prefix, NOTE_KEY_LEN)) < 0) {
		free(writes);
		return rc;
	}
	while (found < count && (rc = mesh_db_iter_next(it, &key, &klen, &val, &vlen)) == 1) {
		uint32_t seq = klen == RECORD_KEY_LEN ? (uint32_t)get_be((const unsigned char *)key + 10, 4)
						      : UINT32_MAX;

		if (seq != found) {
			rc = journal_corrupt(id, found, seq < found ? "a write is doubled"
								    : "the write is missing");
			break;
		}
		if (vlen < 8 || vlen - 8 > MESH_JOURNAL_RECORD_MAX) {
			rc = journal_corrupt(id, seq, vlen < 8 ? "too short" : "too long");
			break;
		}
		writes[found].offset = write_offset(val);
		writes[found].len = vlen - 8;
		writes[found].seq = seq;
		found++;
	}
	mesh_db_iter_free(it);
	if (rc >= 0 && found < count)
		rc = journal_corrupt(id, found, "the write is missing");
	if (rc < 0) {
		free(writes);
		return rc;
	}
	qsort(writes, count, sizeof(*writes), by_offset);
	*out = writes;
	return 0;
}

/* stale[i] for each chunk of base a write overlaps. */
static int stale_of(const mesh_file_map *base, const journal_write *writes, size_t count,
		    bool **out)
{
	bool *stale = calloc(base->count ? base->count : 1, sizeof(*stale));

	if (!stale)
		return mesh_error_oom();
	for (size_t w = 0; w < count; w++) {
		const mesh_file_chunk *c = mesh_file_map_chunk_at(base, writes[w].offset);

		for (size_t i = c ? (size_t)(c - base->chunks) : base->count;
		     i < base->count &&
		     base->chunks[i].offset < writes[w].offset + writes[w].len; i++)
			stale[i] = true;
	}
	*out = stale;
	return 0;
}

int mesh_journal_content(mesh_store *store, const mesh_oid *base_id, uint64_t size,
			 uint64_t id, uint32_t count, mesh_oid *out)
{
	mesh_odb *odb = mesh_store_odb(store);
	mesh_file_map *base = NULL, *stored = NULL;
	journal_write *writes = NULL;
	bool *stale = NULL;
	int error;

	if ((error = mesh_file_map_load(odb, base_id, &base)) < 0)
		return error;
	if ((error = writes_load(mesh_store_db(store), id, count, &writes)) == 0 &&
	    (error = stale_of(base, writes, count, &stale)) == 0) {
		overlay o = { store, base, id, writes, count, NULL, 0 };
		mesh_file_source src = { overlay_read, &o, size };

		error = mesh_file_store_changes_from(odb, NULL, NULL, &src, base, stale, out,
						     &stored);
		free(o.hits);
	}
	mesh_file_map_free(stored);
	free(stale);
	free(writes);
	mesh_file_map_free(base);
	return error;
}

/* ---- after a crash --------------------------------------------------- */

typedef struct fold {
	mesh_store *store;
	const char *domain, *branch;
	uint64_t id;
	mesh_db_batch *batch;
	size_t folded;
} fold;

static int fold_entry(void *ctx, const char *path, const mesh_stage_entry *entry)
{
	fold *f = ctx;
	mesh_stage_entry folded = *entry;
	int error;

	if (entry->kind != MESH_STAGE_FILE || entry->journal_id != f->id)
		return 0;
	if ((error = mesh_journal_content(f->store, &entry->id, entry->size, f->id,
					  entry->journal_count, &folded.id)) < 0)
		return error;
	folded.journal_id = 0;
	folded.journal_count = 0;
	mesh_stage_put(f->batch, f->domain, f->branch, path, &folded);
	f->folded++;
	return 0;
}

static int recover_one(mesh_store *store, uint64_t id, const char *domain,
		       const char *branch, size_t *recovered)
{
	mesh_db *db = mesh_store_db(store);
	fold f = { store, domain, branch, id, NULL, 0 };
	int error;

	if ((error = mesh_db_batch_new(&f.batch)) < 0)
		return error;
	mesh_store_branch_lock(store, domain, branch);
	error = mesh_stage_list_tree(db, domain, branch, "", fold_entry, &f);
	if (error == 0 && (error = mesh_odb_sync(mesh_store_odb(store))) == 0 &&
	    (error = mesh_journal_drop(db, f.batch, id)) == 0)
		error = mesh_db_batch_write(db, f.batch, true);
	mesh_store_branch_unlock(store, domain, branch);
	mesh_db_batch_free(f.batch);
	if (error == 0)
		*recovered += f.folded;
	return error;
}

typedef struct left_journal {
	uint64_t id;
	char *domain, *branch;
} left_journal;

/* The notes are read first, then folded: no iterator stays open over
 * keys the folding deletes. */
static int notes_load(mesh_db *db, left_journal **out, size_t *count)
{
	const void *key, *val;
	size_t klen, vlen, cap = 0;
	mesh_db_iter *it;
	int rc;

	*out = NULL;
	*count = 0;
	if ((rc = mesh_db_iter_new(&it, db, "J/", 2)) < 0)
		return rc;
	while ((rc = mesh_db_iter_next(it, &key, &klen, &val, &vlen)) == 1) {
		const char *domain = val, *branch;
		size_t dlen = strnlen(domain, vlen);

		if (klen != NOTE_KEY_LEN || dlen + 1 >= vlen)
			continue;  /* not ours to judge: fsck reports strange keys */
		branch = domain + dlen + 1;
		if (strnlen(branch, vlen - dlen - 1) == vlen - dlen - 1 ||
		    mesh_array_grow(out, &cap, *count, sizeof(**out)) < 0)
			continue;
		(*out)[*count].id = get_be((const unsigned char *)key + 2, 8);
		(*out)[*count].domain = strdup(domain);
		(*out)[*count].branch = strdup(branch);
		(*count)++;
	}
	mesh_db_iter_free(it);
	return rc < 0 ? rc : 0;
}

int mesh_journal_recover(mesh_store *store, size_t *recovered)
{
	left_journal *left;
	size_t count;
	int error = notes_load(mesh_store_db(store), &left, &count);

	*recovered = 0;
	for (size_t i = 0; i < count; i++) {
		if (error == 0 && left[i].domain && left[i].branch)
			error = recover_one(store, left[i].id, left[i].domain, left[i].branch,
					    recovered);
		free(left[i].domain);
		free(left[i].branch);
	}
	free(left);
	return error;
}
