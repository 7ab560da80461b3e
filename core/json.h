/*
 * json.h - a small JSON writer for the control file's answers and the
 * CLI's --json output.  Commas are placed automatically.
 */
#ifndef MESH_JSON_H
#define MESH_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mesh_json {
	char *buf;
	size_t len, cap;
	bool need_comma;
	bool failed;        /* out of memory: mesh_json_take reports it */
} mesh_json;

/* The length of the well-formed UTF-8 sequence at p (RFC 3629: no
 * overlong forms, no surrogates, nothing past U+10FFFF), 0 if none.  p
 * is NUL-terminated: a sequence cut short by the NUL is none. */
size_t mesh_json_utf8_sequence(const unsigned char *p);

void mesh_json_init(mesh_json *j);
void mesh_json_object_begin(mesh_json *j);
void mesh_json_object_end(mesh_json *j);
void mesh_json_array_begin(mesh_json *j);
void mesh_json_array_end(mesh_json *j);
/* A key inside an object; the value call follows. */
void mesh_json_key(mesh_json *j, const char *key);
void mesh_json_string(mesh_json *j, const char *value);
void mesh_json_int(mesh_json *j, int64_t value);
void mesh_json_bool(mesh_json *j, bool value);
/* A number with 6 significant digits (NaN and infinities: 0). */
void mesh_json_double(mesh_json *j, double value);

/* A member with its value: key then value, for the common case. */
void mesh_json_field_string(mesh_json *j, const char *key, const char *value);
void mesh_json_field_int(mesh_json *j, const char *key, int64_t value);
void mesh_json_field_bool(mesh_json *j, const char *key, bool value);
void mesh_json_field_double(mesh_json *j, const char *key, double value);

/* Appends members written into another writer (keys and values, no
 * braces) inside the current object. */
void mesh_json_members(mesh_json *j, const mesh_json *members);

/* Hands over the text (malloc'd, NUL-terminated, caller frees);
 * MESH_ENOMEM when any append failed. */
int mesh_json_take(mesh_json *j, char **out);
void mesh_json_dispose(mesh_json *j);

#endif
