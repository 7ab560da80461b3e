#include "jsonread.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
	const char *p;
	int depth;
} parser;

static json_value *parse_value(parser *ps);

static void skip_ws(parser *ps)
{
	while (isspace((unsigned char)*ps->p))
		ps->p++;
}

static json_value *new_value(json_type type)
{
	json_value *v = calloc(1, sizeof(*v));

	if (v)
		v->type = type;
	return v;
}

static void append_utf8(char *out, size_t *len, unsigned code)
{
	if (code < 0x80) {
		out[(*len)++] = (char)code;
	} else if (code < 0x800) {
		out[(*len)++] = (char)(0xC0 | code >> 6);
		out[(*len)++] = (char)(0x80 | (code & 0x3F));
	} else if (code < 0x10000) {
		out[(*len)++] = (char)(0xE0 | code >> 12);
		out[(*len)++] = (char)(0x80 | ((code >> 6) & 0x3F));
		out[(*len)++] = (char)(0x80 | (code & 0x3F));
	} else {
		out[(*len)++] = (char)(0xF0 | code >> 18);
		out[(*len)++] = (char)(0x80 | ((code >> 12) & 0x3F));
		out[(*len)++] = (char)(0x80 | ((code >> 6) & 0x3F));
		out[(*len)++] = (char)(0x80 | (code & 0x3F));
	}
}

/* The four hex digits at p, or -1. */
static long hex4(const char *p)
{
	long v = 0;

	for (int i = 0; i < 4; i++) {
		int c = (unsigned char)p[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/*
 * The escape after "\u" at *pp.  A lone \udc80..\udcff is a byte of a
 * name that was not UTF-8 (core/json.c writes each such byte so) and
 * becomes that byte again; a surrogate pair is its character; any other
 * lone surrogate is U+FFFD.
 */
static int unescape_u(const char **pp, char *out, size_t *len)
{
	long code = hex4(*pp), low;

	if (code < 0)
		return -1;
	*pp += 4;
	if (code >= 0xD800 && code <= 0xDBFF && (*pp)[0] == '\\' && (*pp)[1] == 'u' &&
	    (low = hex4(*pp + 2)) >= 0xDC00 && low <= 0xDFFF) {
		*pp += 6;
		append_utf8(out, len, (unsigned)(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)));
	} else if (code >= 0xDC80 && code <= 0xDCFF) {
		out[(*len)++] = (char)(code - 0xDC00);
	} else if (code >= 0xD800 && code <= 0xDFFF) {
		append_utf8(out, len, 0xFFFD);
	} else {
		append_utf8(out, len, (unsigned)code);
	}
	return 0;
}

/* Bytes up to the closing quote: the unescaped string is never longer. */
static size_t quoted_span(const char *p)
{
	const char *q = p;

	while (*q && *q != '"')
		q += q[0] == '\\' && q[1] ? 2 : 1;
	return (size_t)(q - p);
}

static char *parse_string(parser *ps)
{
	const char *start = ++ps->p;
	char *out = malloc(quoted_span(start) + 1);
	size_t len = 0;

	if (!out)
		return NULL;
	while (*ps->p && *ps->p != '"') {
		char c = *ps->p++;
		if (c != '\\') {
			out[len++] = c;
			continue;
		}
		/* Never past the terminating NUL: the text ends there. */
		if ((c = *ps->p) != '\0')
			ps->p++;
		switch (c) {
		case 'n': out[len++] = '\n'; break;
		case 't': out[len++] = '\t'; break;
		case 'r': out[len++] = '\r'; break;
		case 'b': out[len++] = '\b'; break;
		case 'f': out[len++] = '\f'; break;
		case 'u':
			if (unescape_u(&ps->p, out, &len) < 0)
				goto fail;
			break;
		case '\0':
			goto fail;
		default:
			out[len++] = c;
		}
	}
	if (*ps->p != '"')
		goto fail;
	ps->p++;
	out[len] = '\0';
	return out;
fail:
	free(out);
	return NULL;
}

static int push_item(json_value *v, char *key, json_value *item)
{
	json_value **items = realloc(v->items, (v->count + 1) * sizeof(*items));
	char **keys = v->type == JSON_OBJECT ?
		      realloc(v->keys, (v->count + 1) * sizeof(*keys)) : NULL;

	if (items)
		v->items = items;
	if (keys)
		v->keys = keys;
	if (!items || (v->type == JSON_OBJECT && !keys))
		return -1;
	if (keys)
		v->keys[v->count] = key;
	v->items[v->count++] = item;
	return 0;
}

static json_value *parse_container(parser *ps, json_type type, char close)
{
	json_value *v = new_value(type);

	if (!v || ++ps->depth > 64)
		goto fail;
	ps->p++;
	skip_ws(ps);
	if (*ps->p == close) {
		ps->p++;
		ps->depth--;
		return v;
	}
	for (;;) {
		char *key = NULL;
		json_value *item;
		skip_ws(ps);
		if (type == JSON_OBJECT) {
			if (*ps->p != '"' || !(key = parse_string(ps)))
				goto fail;
			skip_ws(ps);
			if (*ps->p != ':') {
				free(key);
				goto fail;
			}
			ps->p++;
		}
		if (!(item = parse_value(ps)) || push_item(v, key, item) < 0) {
			free(key);
			json_free(item);
			goto fail;
		}
		skip_ws(ps);
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p != close)
			goto fail;
		ps->p++;
		ps->depth--;
		return v;
	}
fail:
	json_free(v);
	return NULL;
}

static json_value *parse_literal(parser *ps)
{
	json_value *v;
	char *end;

	if (!strncmp(ps->p, "true", 4) || !strncmp(ps->p, "false", 5)) {
		if ((v = new_value(JSON_BOOL))) {
			v->boolean = *ps->p == 't';
			ps->p += v->boolean ? 4 : 5;
		}
		return v;
	}
	if (!strncmp(ps->p, "null", 4)) {
		ps->p += 4;
		return new_value(JSON_NULL);
	}
	if (!(v = new_value(JSON_NUMBER)))
		return NULL;
	v->number = strtod(ps->p, &end);
	if (end == ps->p || !(v->string = strndup(ps->p, (size_t)(end - ps->p)))) {
		json_free(v);
		return NULL;
	}
	ps->p = end;
	return v;
}

static json_value *parse_value(parser *ps)
{
	json_value *v;

	skip_ws(ps);
	switch (*ps->p) {
	case '{':
		return parse_container(ps, JSON_OBJECT, '}');
	case '[':
		return parse_container(ps, JSON_ARRAY, ']');
	case '"':
		if (!(v = new_value(JSON_STRING)))
			return NULL;
		if (!(v->string = parse_string(ps))) {
			free(v);
			return NULL;
		}
		return v;
	default:
		return parse_literal(ps);
	}
}

json_value *json_parse(const char *text)
{
	parser ps = { text, 0 };
	json_value *v = parse_value(&ps);

	if (!v)
		return NULL;
	skip_ws(&ps);
	if (*ps.p) {
		json_free(v);
		return NULL;
	}
	return v;
}

void json_free(json_value *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->count; i++) {
		json_free(v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->string);
	free(v);
}

const json_value *json_get(const json_value *object, const char *key)
{
	if (!object || object->type != JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < object->count; i++)
		if (strcmp(object->keys[i], key) == 0)
			return object->items[i];
	return NULL;
}

const char *json_str(const json_value *object, const char *key, const char *def)
{
	const json_value *v = json_get(object, key);

	return v && (v->type == JSON_STRING || v->type == JSON_NUMBER) ? v->string : def;
}

double json_num(const json_value *object, const char *key, double def)
{
	const json_value *v = json_get(object, key);

	return v && v->type == JSON_NUMBER ? v->number : def;
}
