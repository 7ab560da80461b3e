/*
 * commit.c - commits as git-like text objects.
 *
 * The writer emits exactly one spelling of each commit (lowercase hex,
 * no leading zeros, no "-0"), and the parser accepts only that spelling,
 * so a loaded commit always re-serializes to the bytes it was read from
 * and ids stay stable.
 */
#include "commit.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

/* ---- writing --------------------------------------------------------- */

static int commit_check(const mesh_commit *c)
{
	if (c->parent_count && !c->parents)
		return mesh_error_set(MESH_EINVAL, "commit parents missing");
	if (!c->author)
		return mesh_error_set(MESH_EINVAL, "commit author missing");
	if (strchr(c->author, '\n'))
		return mesh_error_set(MESH_EINVAL,
				      "commit author contains a newline");
	if (c->meta_count && !c->meta)
		return mesh_error_set(MESH_EINVAL, "commit metadata missing");
	for (size_t i = 0; i < c->meta_count; i++) {
		const mesh_meta *m = &c->meta[i];

		if (!m->key || !*m->key)
			return mesh_error_set(MESH_EINVAL,
					      "commit metadata key is empty");
		if (strchr(m->key, '=') || strchr(m->key, '\n'))
			return mesh_error_set(MESH_EINVAL,
				"commit metadata key '%s' contains '=' or a newline",
				m->key);
		if (!m->value)
			return mesh_error_set(MESH_EINVAL,
				"commit metadata '%s' has no value", m->key);
		if (strchr(m->value, '\n'))
			return mesh_error_set(MESH_EINVAL,
				"commit metadata value of '%s' contains a newline",
				m->key);
	}
	return 0;
}

static void put_oid_line(FILE *f, const char *field, const mesh_oid *oid)
{
	char hex[MESH_OID_HEXSZ + 1];

	mesh_oid_fmt(hex, oid);
	fprintf(f, "%s %s\n", field, hex);
}

static void commit_format(FILE *f, const mesh_commit *c)
{
	put_oid_line(f, "tree", &c->tree);
	for (size_t i = 0; i < c->parent_count; i++)
		put_oid_line(f, "parent", &c->parents[i]);
	fprintf(f, "author %s %" PRIu32 "\n", c->author, c->uid);
	fprintf(f, "time %" PRId64 "\n", c->time);
	for (size_t i = 0; i < c->meta_count; i++)
		fprintf(f, "meta %s=%s\n", c->meta[i].key, c->meta[i].value);
	fprintf(f, "\n%s", c->message ? c->message : "");
}

int mesh_commit_write(mesh_odb *odb, const mesh_commit *commit,
		      mesh_oid *out)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int rc = commit_check(commit);

	if (rc < 0)
		return rc;
	f = open_memstream(&buf, &len);
	if (!f)
		return mesh_error_oom();
	commit_format(f, commit);
	if (ferror(f)) {
		fclose(f);
		free(buf);
		return mesh_error_oom();
	}
	if (fclose(f) != 0) {
		free(buf);
		return mesh_error_oom();
	}
	rc = mesh_odb_write(odb, MESH_OBJ_COMMIT, buf, len, out);
	free(buf);
	return rc;
}

/* ---- parsing --------------------------------------------------------- */

typedef struct parser {
	const mesh_oid *id;
	const char *data;
	size_t len;
	size_t pos;
	const char *line;    /* current line, without its '\n' */
	size_t line_len;
} parser;

static int corrupt(const parser *p, const char *why)
{
	char hex[MESH_OID_HEXSZ + 1];

	mesh_oid_fmt(hex, p->id);
	return mesh_error_set(MESH_EIO, "commit %s is corrupt: %s", hex, why);
}

/* Loads the next line into p->line; MESH_EIO when there is none. */
static int next_line(parser *p, const char *expecting)
{
	const char *nl;

	if (p->pos >= p->len)
		return corrupt(p, expecting);
	nl = memchr(p->data + p->pos, '\n', p->len - p->pos);
	if (!nl)
		return corrupt(p, expecting);
	p->line = p->data + p->pos;
	p->line_len = (size_t)(nl - p->line);
	p->pos += p->line_len + 1;
	return 0;
}

/* When the current line is "<field> <rest>", points *rest past it. */
static bool line_field(const parser *p, const char *field,
		       const char **rest, size_t *rest_len)
{
	size_t flen = strlen(field);

	if (p->line_len <= flen || memcmp(p->line, field, flen) != 0 ||
	    p->line[flen] != ' ')
		return false;
	*rest = p->line + flen + 1;
	*rest_len = p->line_len - flen - 1;
	return true;
}

static int parse_hex(const parser *p, const char *s, size_t len,
		     mesh_oid *out)
{
	char hex[MESH_OID_HEXSZ + 1];

	if (len != MESH_OID_HEXSZ)
		return corrupt(p, "object id is not 64 hex digits");
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return corrupt(p, "object id is not lowercase hex");
	memcpy(hex, s, len);
	hex[len] = '\0';
	if (mesh_oid_parse(out, hex) < 0)
		return corrupt(p, "object id does not parse");
	return 0;
}

/* Canonical unsigned decimal: digits only, no leading zero, <= max. */
static bool parse_udec(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || (len > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return false;
		d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static bool parse_i64(const char *s, size_t len, int64_t *out)
{
	uint64_t mag;

	if (len > 0 && s[0] == '-') {
		/* -0 is not the canonical spelling of 0. */
		if (!parse_udec(s + 1, len - 1, (uint64_t)INT64_MAX + 1, &mag) ||
		    mag == 0)
			return false;
		*out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN :
			-(int64_t)mag;
		return true;
	}
	if (!parse_udec(s, len, INT64_MAX, &mag))
		return false;
	*out = (int64_t)mag;
	return true;
}

static char *dup_range(const char *s, size_t len)
{
	char *d = malloc(len + 1);

	if (d) {
		memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

static int parse_tree_and_parents(parser *p, mesh_commit *c)
{
	const char *rest;
	size_t rlen;
	int rc;

	if ((rc = next_line(p, "missing tree line")) < 0)
		return rc;
	if (!line_field(p, "tree", &rest, &rlen))
		return corrupt(p, "first line is not 'tree <id>'");
	if ((rc = parse_hex(p, rest, rlen, &c->tree)) < 0)
		return rc;
	for (;;) {
		mesh_oid *grown;

		if ((rc = next_line(p, "missing author line")) < 0)
			return rc;
		if (!line_field(p, "parent", &rest, &rlen))
			return 0;
		grown = realloc(c->parents,
				(c->parent_count + 1) * sizeof(*grown));
		if (!grown)
			return mesh_error_oom();
		c->parents = grown;
		rc = parse_hex(p, rest, rlen, &c->parents[c->parent_count]);
		if (rc < 0)
			return rc;
		c->parent_count++;
	}
}

/* "author <name> <uid>": the uid is after the last space, so names may
 * contain spaces. */
static int parse_author(parser *p, mesh_commit *c)
{
	const char *rest, *sp;
	size_t rlen, nlen;
	uint64_t uid;

	if (!line_field(p, "author", &rest, &rlen))
		return corrupt(p, "missing 'author <name> <uid>' line");
	sp = rest + rlen;
	while (sp > rest && sp[-1] != ' ')
		sp--;
	if (sp == rest)
		return corrupt(p, "author line has no uid");
	nlen = (size_t)(sp - 1 - rest);
	if (!parse_udec(sp, rlen - nlen - 1, UINT32_MAX, &uid))
		return corrupt(p, "author uid is not a 32-bit decimal number");
	if (memchr(rest, '\0', nlen))
		return corrupt(p, "author contains a NUL byte");
	c->author = dup_range(rest, nlen);
	if (!c->author)
		return mesh_error_oom();
	c->uid = (uint32_t)uid;
	return 0;
}

static int parse_time(parser *p, mesh_commit *c)
{
	const char *rest;
	size_t rlen;
	int rc;

	if ((rc = next_line(p, "missing time line")) < 0)
		return rc;
	if (!line_field(p, "time", &rest, &rlen) ||
	    !parse_i64(rest, rlen, &c->time))
		return corrupt(p, "missing or bad 'time <seconds>' line");
	return 0;
}

static int add_meta(parser *p, mesh_commit *c, const char *s, size_t len)
{
	const char *eq = memchr(s, '=', len);
	mesh_meta *grown, *m;

	if (!eq || eq == s)
		return corrupt(p, "meta line is not 'meta <key>=<value>'");
	if (memchr(s, '\0', len))
		return corrupt(p, "meta line contains a NUL byte");
	grown = realloc(c->meta, (c->meta_count + 1) * sizeof(*grown));
	if (!grown)
		return mesh_error_oom();
	c->meta = grown;
	m = &c->meta[c->meta_count];
	m->key = dup_range(s, (size_t)(eq - s));
	m->value = dup_range(eq + 1, len - (size_t)(eq - s) - 1);
	c->meta_count++;
	if (!m->key || !m->value)
		return mesh_error_oom();
	return 0;
}

static int parse_meta_and_message(parser *p, mesh_commit *c)
{
	const char *rest;
	size_t rlen;
	int rc;

	for (;;) {
		if ((rc = next_line(p, "missing blank line before message")) < 0)
			return rc;
		if (p->line_len == 0)
			break;
		if (!line_field(p, "meta", &rest, &rlen))
			return corrupt(p, "unexpected header line");
		if ((rc = add_meta(p, c, rest, rlen)) < 0)
			return rc;
	}
	if (memchr(p->data + p->pos, '\0', p->len - p->pos))
		return corrupt(p, "message contains a NUL byte");
	c->message = dup_range(p->data + p->pos, p->len - p->pos);
	if (!c->message)
		return mesh_error_oom();
	return 0;
}

static int commit_parse(parser *p, mesh_commit *c)
{
	int rc;

	if ((rc = parse_tree_and_parents(p, c)) < 0 ||
	    (rc = parse_author(p, c)) < 0 ||
	    (rc = parse_time(p, c)) < 0 ||
	    (rc = parse_meta_and_message(p, c)) < 0)
		return rc;
	return 0;
}

int mesh_commit_parse(const mesh_oid *id, const void *data, size_t len,
		      mesh_commit **out)
{
	mesh_commit *c = calloc(1, sizeof(*c));
	parser p;
	int rc;

	*out = NULL;
	if (!c)
		return mesh_error_oom();
	memset(&p, 0, sizeof(p));
	p.id = id;
	p.data = data;
	p.len = len;
	rc = commit_parse(&p, c);
	if (rc < 0) {
		mesh_commit_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int mesh_commit_load(mesh_odb *odb, const mesh_oid *id, mesh_commit **out)
{
	void *data;
	size_t len;
	int rc;

	*out = NULL;
	rc = mesh_odb_read(odb, id, MESH_OBJ_COMMIT, &data, &len, NULL);
	if (rc < 0)
		return rc;
	rc = mesh_commit_parse(id, data, len, out);
	free(data);
	return rc;
}

void mesh_commit_free(mesh_commit *commit)
{
	if (!commit)
		return;
	free(commit->parents);
	free(commit->author);
	free(commit->message);
	for (size_t i = 0; i < commit->meta_count; i++) {
		free(commit->meta[i].key);
		free(commit->meta[i].value);
	}
	free(commit->meta);
	free(commit);
}
