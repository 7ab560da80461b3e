/*
 * jsonread.h - a small JSON reader, enough for the CLI to print the
 * control file's answers for people.
 */
#ifndef MESHFS_JSONREAD_H
#define MESHFS_JSONREAD_H

#include <stddef.h>

typedef enum json_type {
	JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT
} json_type;

typedef struct json_value {
	json_type type;
	char *string;               /* STRING; also the text of a NUMBER */
	double number;
	int boolean;
	size_t count;               /* ARRAY and OBJECT */
	char **keys;                /* OBJECT */
	struct json_value **items;
} json_value;

/* NULL when text is not valid JSON.  Free with json_free. */
json_value *json_parse(const char *text);
void json_free(json_value *value);

/* Member of an object, or NULL. */
const json_value *json_get(const json_value *object, const char *key);
/* The string of a member, or def. */
const char *json_str(const json_value *object, const char *key, const char *def);
double json_num(const json_value *object, const char *key, double def);

#endif
