#include "json.h"
#include "error.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mesh_json_init(mesh_json *j)
{
	memset(j, 0, sizeof(*j));
}

static void append(mesh_json *j, const char *s, size_t n)
{
	if (j->failed)
		return;
	if (j->len + n + 1 > j->cap) {
		size_t cap = j->cap ? j->cap : 256;
		while (cap < j->len + n + 1)
			cap *= 2;
		char *grown = realloc(j->buf, cap);
		if (!grown) {
			j->failed = true;
			return;
		}
		j->buf = grown;
		j->cap = cap;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

static void value_start(mesh_json *j)
{
	if (j->need_comma)
		append(j, ",", 1);
	j->need_comma = true;
}

void mesh_json_object_begin(mesh_json *j)
{
	value_start(j);
	append(j, "{", 1);
	j->need_comma = false;
}

void mesh_json_object_end(mesh_json *j)
{
	append(j, "}", 1);
	j->need_comma = true;
}

void mesh_json_array_begin(mesh_json *j)
{
	value_start(j);
	append(j, "[", 1);
	j->need_comma = false;
}

void mesh_json_array_end(mesh_json *j)
{
	append(j, "]", 1);
	j->need_comma = true;
}

size_t mesh_json_utf8_sequence(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xBF;
	size_t n;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xC2 && p[0] <= 0xDF)
		n = 2;
	else if (p[0] >= 0xE0 && p[0] <= 0xEF)
		n = 3;
	else if (p[0] >= 0xF0 && p[0] <= 0xF4)
		n = 4;
	else
		return 0;
	if (p[0] == 0xE0)
		lo = 0xA0;
	else if (p[0] == 0xED)
		hi = 0x9F;
	else if (p[0] == 0xF0)
		lo = 0x90;
	else if (p[0] == 0xF4)
		hi = 0x8F;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return n;
}

/*
 * Names, messages and descriptions are bytes, not always UTF-8.  Valid
 * UTF-8 is copied as it is; each byte that is not part of it is written
 * as the lone surrogate \udcXX (U+DC80..U+DCFF, Python's
 * "surrogateescape"): valid UTF-8 never yields such a code point, so the
 * byte can be told apart and restored.
 */
static void quoted(mesh_json *j, const char *s)
{
	char esc[8];

	append(j, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t n = mesh_json_utf8_sequence(p);
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			append(j, esc, 2);
		} else if (*p < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			append(j, esc, 6);
		} else if (n == 0) {
			snprintf(esc, sizeof(esc), "\\udc%02x", *p);
			append(j, esc, 6);
			n = 1;
		} else {
			append(j, (const char *)p, n);
		}
		p += n;
	}
	append(j, "\"", 1);
}

void mesh_json_key(mesh_json *j, const char *key)
{
	value_start(j);
	quoted(j, key);
	append(j, ":", 1);
	j->need_comma = false;
}

void mesh_json_string(mesh_json *j, const char *value)
{
	value_start(j);
	quoted(j, value ? value : "");
}

void mesh_json_int(mesh_json *j, int64_t value)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRId64, value);

	value_start(j);
	append(j, num, (size_t)n);
}

void mesh_json_double(mesh_json *j, double value)
{
	char num[48];
	int n;

	if (!isfinite(value))
		value = 0;
	n = snprintf(num, sizeof(num), "%.6g", value);
	value_start(j);
	append(j, num, (size_t)n);
}

void mesh_json_bool(mesh_json *j, bool value)
{
	value_start(j);
	append(j, value ? "true" : "false", value ? 4 : 5);
}

void mesh_json_field_string(mesh_json *j, const char *key, const char *value)
{
	mesh_json_key(j, key);
	mesh_json_string(j, value);
}

void mesh_json_field_int(mesh_json *j, const char *key, int64_t value)
{
	mesh_json_key(j, key);
	mesh_json_int(j, value);
}

void mesh_json_field_bool(mesh_json *j, const char *key, bool value)
{
	mesh_json_key(j, key);
	mesh_json_bool(j, value);
}

void mesh_json_field_double(mesh_json *j, const char *key, double value)
{
	mesh_json_key(j, key);
	mesh_json_double(j, value);
}

void mesh_json_members(mesh_json *j, const mesh_json *members)
{
	if (!members->buf || members->len == 0)
		return;
	value_start(j);
	append(j, members->buf, members->len);
	if (members->failed)
		j->failed = true;
}

int mesh_json_take(mesh_json *j, char **out)
{
	*out = NULL;
	if (j->failed || !j->buf) {
		mesh_json_dispose(j);
		return mesh_error_oom();
	}
	*out = j->buf;
	j->buf = NULL;
	j->len = j->cap = 0;
	return 0;
}

void mesh_json_dispose(mesh_json *j)
{
	free(j->buf);
	mesh_json_init(j);
}
