/*
 * fuzz_json.c - JSON answers carry any bytes: a string written by
 * core/json.c is valid UTF-8 JSON, and the CLI's reader (tools/jsonread.c)
 * gives back exactly the bytes written; and the reader takes any text
 * without a crash.
 */
#include "fuzz_util.h"
#include "json.h"
#include "../../tools/jsonread.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *value = fuzz_cstring(data, size), *text;
	json_value *parsed;
	mesh_json j;

	json_free(json_parse(value));
	mesh_json_init(&j);
	mesh_json_object_begin(&j);
	mesh_json_field_string(&j, value, value);
	mesh_json_object_end(&j);
	FUZZ_ASSERT(mesh_json_take(&j, &text) == 0, "no text");
	FUZZ_ASSERT(fuzz_utf8_valid(text), "not UTF-8: %s", text);
	parsed = json_parse(text);
	FUZZ_ASSERT(parsed && parsed->count == 1, "does not parse: %s", text);
	FUZZ_ASSERT(strcmp(parsed->keys[0], value) == 0, "key changed: %s", text);
	FUZZ_ASSERT(strcmp(json_str(parsed, value, ""), value) == 0, "value changed: %s", text);
	json_free(parsed);
	free(text);
	free(value);
	return 0;
}
