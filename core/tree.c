/*
 * tree.c - serialized, content-addressed directory listings.
 *
 * The format is fixed little-endian and canonical (sorted, validated), so
 * two equal directories always hash to the same id and a commit reuses
 * every unchanged subtree.  The loader trusts nothing: the odb has
 * verified the hash, but a well-hashed object can still be malformed.
 */
#include "tree.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

#define TREE_MAGIC_V1 "MTREE1\n"
#define TREE_MAGIC "MTREE2\n"
#define TREE_MAGIC_LEN 7
#define TREE_HEADER_LEN (TREE_MAGIC_LEN + 4)
/* MTREE1: kind, mode, size, mtime, id, name length */
#define TREE_ENTRY_FIXED_V1 (1 + 4 + 8 + 8 + MESH_OID_RAWSZ + 2)
/* MTREE2: kind, mode, uid, gid, rdev, size, mtime, id, name length */
#define TREE_ENTRY_FIXED (1 + 4 + 4 + 4 + 8 + 8 + 8 + MESH_OID_RAWSZ + 2)
/* Where the fields after the kind start in an entry of each version. */
typedef struct entry_layout {
	size_t fixed, mode, uid, gid, rdev, size, mtime, id, nlen;
	bool owned;            /* has uid, gid and rdev */
} entry_layout;

static const entry_layout layout_v1 = {
	TREE_ENTRY_FIXED_V1, 1, 0, 0, 0, 5, 13, 21, 21 + MESH_OID_RAWSZ, false
};
static const entry_layout layout_v2 = {
	TREE_ENTRY_FIXED, 1, 5, 9, 13, 21, 29, 37, 37 + MESH_OID_RAWSZ, true
};
#define TREE_NAME_MAX 255
#define TREE_MODE_BITS 07777u

static void put_le(unsigned char *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

bool mesh_kind_has_content(mesh_entry_kind kind)
{
	return kind == MESH_KIND_FILE || kind == MESH_KIND_SYMLINK;
}

bool mesh_kind_is_special(mesh_entry_kind kind)
{
	return kind == MESH_KIND_FIFO || kind == MESH_KIND_SOCKET ||
	       kind == MESH_KIND_CHRDEV || kind == MESH_KIND_BLKDEV;
}

static bool kind_valid(int kind, bool owned)
{
	if (kind == MESH_KIND_FILE || kind == MESH_KIND_DIR || kind == MESH_KIND_SYMLINK)
		return true;
	/* MTREE1 knew no special files: such a byte there is damage. */
	return owned && mesh_kind_is_special((mesh_entry_kind)kind);
}

static bool is_device(int kind)
{
	return kind == MESH_KIND_CHRDEV || kind == MESH_KIND_BLKDEV;
}

/* NULL when name is acceptable, else why not. */
static const char *name_problem(const char *name, size_t len)
{
	if (len == 0)
		return "empty name";
	if ((len == 1 && name[0] == '.') ||
	    (len == 2 && name[0] == '.' && name[1] == '.'))
		return "'.' and '..' are not entry names";
	if (memchr(name, '/', len))
		return "name contains '/'";
	if (memchr(name, '\0', len))
		return "name contains a NUL byte";
	return NULL;
}

static int entry_check(const mesh_tree_entry *e)
{
	const char *why;
	size_t len;

	if (!e->name)
		return mesh_error_set(MESH_EINVAL, "tree entry without a name");
	len = strlen(e->name);
	why = name_problem(e->name, len);
	if (why)
		return mesh_error_set(MESH_EINVAL, "invalid tree entry '%s': %s",
				      e->name, why);
	if (len > TREE_NAME_MAX)
		return mesh_error_set(MESH_ENAMETOOLONG,
			"tree entry name is %zu bytes; at most %d allowed",
			len, TREE_NAME_MAX);
	if (!kind_valid(e->kind, true))
		return mesh_error_set(MESH_EINVAL,
			"tree entry '%s' has invalid kind %d", e->name,
			(int)e->kind);
	if (e->rdev && !is_device(e->kind))
		return mesh_error_set(MESH_EINVAL,
			"tree entry '%s' has a device number but is no device node",
			e->name);
	if (e->mode & ~TREE_MODE_BITS)
		return mesh_error_set(MESH_EINVAL,
			"tree entry '%s' has mode %o; only permission bits (07777) are stored",
			e->name, e->mode);
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	const mesh_tree_entry *x = a, *y = b;

	/* strcmp compares as unsigned char: the bytewise order. */
	return strcmp(x->name, y->name);
}

static size_t tree_size(const mesh_tree_entry *sorted, size_t count)
{
	size_t size = TREE_HEADER_LEN;

	for (size_t i = 0; i < count; i++)
		size += TREE_ENTRY_FIXED + strlen(sorted[i].name);
	return size;
}

static void tree_encode(unsigned char *buf, const mesh_tree_entry *sorted,
			size_t count)
{
	unsigned char *p = buf + TREE_HEADER_LEN;

	memcpy(buf, TREE_MAGIC, TREE_MAGIC_LEN);
	put_le(buf + TREE_MAGIC_LEN, count, 4);
	for (size_t i = 0; i < count; i++) {
		const mesh_tree_entry *e = &sorted[i];
		size_t nlen = strlen(e->name);

		p[0] = (unsigned char)e->kind;
		put_le(p + layout_v2.mode, e->mode, 4);
		put_le(p + layout_v2.uid, e->uid, 4);
		put_le(p + layout_v2.gid, e->gid, 4);
		put_le(p + layout_v2.rdev, e->rdev, 8);
		put_le(p + layout_v2.size, e->size, 8);
		put_le(p + layout_v2.mtime, (uint64_t)e->mtime_ns, 8);
		memcpy(p + layout_v2.id, e->id.id, MESH_OID_RAWSZ);
		put_le(p + layout_v2.nlen, nlen, 2);
		memcpy(p + TREE_ENTRY_FIXED, e->name, nlen);
		p += TREE_ENTRY_FIXED + nlen;
	}
}

/* Validates entries and returns a sorted shallow copy (caller frees). */
static int tree_sorted_copy(const mesh_tree_entry *entries, size_t count,
			    mesh_tree_entry **out)
{
	mesh_tree_entry *sorted;
	int rc;

	*out = NULL;
	if (count > UINT32_MAX)
		return mesh_error_set(MESH_EINVAL,
				      "tree with %zu entries is too large", count);
	if (count && !entries)
		return mesh_error_set(MESH_EINVAL, "tree entries missing");
	for (size_t i = 0; i < count; i++)
		if ((rc = entry_check(&entries[i])) < 0)
			return rc;
	sorted = malloc(count ? count * sizeof(*sorted) : 1);
	if (!sorted)
		return mesh_error_oom();
	if (count)
		memcpy(sorted, entries, count * sizeof(*sorted));
	qsort(sorted, count, sizeof(*sorted), entry_cmp);
	for (size_t i = 1; i < count; i++) {
		if (strcmp(sorted[i - 1].name, sorted[i].name) == 0) {
			rc = mesh_error_set(MESH_EINVAL,
					    "duplicate tree entry '%s'",
					    sorted[i].name);
			free(sorted);
			return rc;
		}
	}
	*out = sorted;
	return 0;
}

int mesh_tree_write(mesh_odb *odb, const mesh_tree_entry *entries,
		    size_t count, mesh_oid *out)
{
	mesh_tree_entry *sorted;
	unsigned char *buf;
	size_t size;
	int rc = tree_sorted_copy(entries, count, &sorted);

	if (rc < 0)
		return rc;
	size = tree_size(sorted, count);
	buf = malloc(size);
	if (!buf) {
		free(sorted);
		return mesh_error_oom();
	}
	tree_encode(buf, sorted, count);
	free(sorted);
	rc = mesh_odb_write(odb, MESH_OBJ_TREE, buf, size, out);
	free(buf);
	return rc;
}

#define NO_ENTRY SIZE_MAX

static int tree_corrupt(const mesh_oid *id, const char *why, size_t index)
{
	char hex[MESH_OID_HEXSZ + 1];

	mesh_oid_fmt(hex, id);
	if (index == NO_ENTRY)
		return mesh_error_set(MESH_EIO, "tree %s is corrupt: %s",
				      hex, why);
	return mesh_error_set(MESH_EIO, "tree %s is corrupt: %s (entry %zu)",
			      hex, why, index);
}

/* Parses entry i at *pos; advances *pos past it. */
static int tree_parse_entry(const mesh_oid *id, const entry_layout *lay,
			    const unsigned char *data, size_t len, size_t *pos,
			    size_t i, mesh_tree_entry *e)
{
	const unsigned char *p = data + *pos;
	size_t nlen;
	const char *why;

	if (len - *pos < lay->fixed)
		return tree_corrupt(id, "truncated entry", i);
	nlen = (size_t)get_le(p + lay->nlen, 2);
	if (len - *pos - lay->fixed < nlen)
		return tree_corrupt(id, "truncated name", i);
	why = name_problem((const char *)p + lay->fixed, nlen);
	if (why)
		return tree_corrupt(id, why, i);
	if (nlen > TREE_NAME_MAX)
		return tree_corrupt(id, "name longer than 255 bytes", i);
	if (!kind_valid(p[0], lay->owned))
		return tree_corrupt(id, "unknown entry kind", i);
	e->kind = (mesh_entry_kind)p[0];
	e->mode = (uint32_t)get_le(p + lay->mode, 4);
	/* File type bits would reach st_mode and change what the kernel
	 * thinks the entry is; the writer never stores them. */
	if (e->mode & ~TREE_MODE_BITS)
		return tree_corrupt(id, "mode has bits beyond 07777", i);
	if (lay->owned) {
		e->uid = (uint32_t)get_le(p + lay->uid, 4);
		e->gid = (uint32_t)get_le(p + lay->gid, 4);
		e->rdev = get_le(p + lay->rdev, 8);
		if (e->rdev && !is_device(e->kind))
			return tree_corrupt(id, "device number on an entry that is no device", i);
	} else {
		e->uid = e->gid = MESH_OWNER_LEGACY;
		e->rdev = 0;
	}
	e->size = get_le(p + lay->size, 8);
	e->mtime_ns = (int64_t)get_le(p + lay->mtime, 8);
	memcpy(e->id.id, p + lay->id, MESH_OID_RAWSZ);
	e->name = malloc(nlen + 1);
	if (!e->name)
		return mesh_error_oom();
	memcpy(e->name, p + lay->fixed, nlen);
	e->name[nlen] = '\0';
	*pos += lay->fixed + nlen;
	return 0;
}

static int tree_parse(const mesh_oid *id, const unsigned char *data,
		      size_t len, mesh_tree *tree)
{
	size_t pos = TREE_HEADER_LEN;
	const entry_layout *lay;
	uint64_t count;
	int rc;

	if (len < TREE_HEADER_LEN)
		return tree_corrupt(id, "bad header", NO_ENTRY);
	if (memcmp(data, TREE_MAGIC, TREE_MAGIC_LEN) == 0)
		lay = &layout_v2;
	else if (memcmp(data, TREE_MAGIC_V1, TREE_MAGIC_LEN) == 0)
		lay = &layout_v1;
	else
		return tree_corrupt(id, "bad header", NO_ENTRY);
	count = get_le(data + TREE_MAGIC_LEN, 4);
	/* Every entry takes at least its fixed part; checking first keeps a
	 * lying count from causing a huge allocation. */
	if (count > (len - TREE_HEADER_LEN) / lay->fixed)
		return tree_corrupt(id, "entry count exceeds the data",
				    NO_ENTRY);
	tree->entries = calloc(count ? (size_t)count : 1,
			       sizeof(*tree->entries));
	if (!tree->entries)
		return mesh_error_oom();
	for (size_t i = 0; i < count; i++) {
		rc = tree_parse_entry(id, lay, data, len, &pos, i, &tree->entries[i]);
		if (rc < 0)
			return rc;
		tree->count = i + 1;
		if (i > 0 && strcmp(tree->entries[i - 1].name,
				    tree->entries[i].name) >= 0)
			return tree_corrupt(id, "entries not sorted or duplicate",
					    i);
	}
	if (pos != len)
		return tree_corrupt(id, "trailing bytes after the last entry",
				    NO_ENTRY);
	return 0;
}

int mesh_tree_parse(const mesh_oid *id, const void *data, size_t len,
		    mesh_tree **out)
{
	mesh_tree *tree = calloc(1, sizeof(*tree));
	int rc;

	*out = NULL;
	if (!tree)
		return mesh_error_oom();
	rc = tree_parse(id, data, len, tree);
	if (rc < 0) {
		mesh_tree_free(tree);
		return rc;
	}
	*out = tree;
	return 0;
}

int mesh_tree_load(mesh_odb *odb, const mesh_oid *id, mesh_tree **out)
{
	void *data;
	size_t len;
	int rc;

	*out = NULL;
	rc = mesh_odb_read(odb, id, MESH_OBJ_TREE, &data, &len, NULL);
	if (rc < 0)
		return rc;
	rc = mesh_tree_parse(id, data, len, out);
	free(data);
	return rc;
}

void mesh_tree_free(mesh_tree *tree)
{
	if (!tree)
		return;
	for (size_t i = 0; i < tree->count; i++)
		free(tree->entries[i].name);
	free(tree->entries);
	free(tree);
}

const mesh_tree_entry *mesh_tree_find(const mesh_tree *tree, const char *name)
{
	size_t lo = 0, hi = tree->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, tree->entries[mid].name);

		if (c == 0)
			return &tree->entries[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Replaces *cur (a directory) with its child called name. */
static int lookup_step(mesh_odb *odb, mesh_tree_entry *cur, const char *name,
		       const char *path, size_t upto)
{
	const mesh_tree_entry *found;
	mesh_tree *tree;
	int rc;

	if (cur->kind != MESH_KIND_DIR)
		return mesh_error_set(MESH_ENOTDIR,
			"cannot look up '%s': '%.*s' is not a directory",
			path, (int)upto, path);
	rc = mesh_tree_load(odb, &cur->id, &tree);
	if (rc < 0)
		return rc;
	found = mesh_tree_find(tree, name);
	if (!found) {
		mesh_tree_free(tree);
		return mesh_error_set(MESH_ENOENT,
			"'%s': no such file or directory ('%s' not found)",
			path, name);
	}
	*cur = *found;
	cur->name = NULL;
	mesh_tree_free(tree);
	return 0;
}

int mesh_tree_lookup_path(mesh_odb *odb, const mesh_oid *root,
			  const char *path, mesh_tree_entry *out)
{
	mesh_tree_entry cur;
	size_t plen = strlen(path), start = 0;
	char *comp = malloc(plen + 1);
	int rc = 0;

	if (!comp)
		return mesh_error_oom();
	/* The root has no entry of its own to copy mode or mtime from. */
	memset(&cur, 0, sizeof(cur));
	cur.kind = MESH_KIND_DIR;
	cur.mode = 0755;
	cur.uid = cur.gid = MESH_OWNER_LEGACY;
	cur.id = *root;
	/* Empty components ("a//b", a trailing '/') are skipped, as a shell
	 * would; only a trailing '/' after a non-directory is an error. */
	while (rc == 0 && start < plen) {
		size_t end = start;

		while (end < plen && path[end] != '/')
			end++;
		if (end > start) {
			memcpy(comp, path + start, end - start);
			comp[end - start] = '\0';
			rc = lookup_step(odb, &cur, comp, path,
					 start ? start - 1 : 0);
		}
		start = end + 1;
	}
	free(comp);
	if (rc == 0 && plen && path[plen - 1] == '/' &&
	    cur.kind != MESH_KIND_DIR)
		rc = mesh_error_set(MESH_ENOTDIR, "'%s' is not a directory",
				    path);
	if (rc == 0)
		*out = cur;
	return rc;
}

int mesh_tree_empty(mesh_odb *odb, mesh_oid *out)
{
	return mesh_tree_write(odb, NULL, 0, out);
}
