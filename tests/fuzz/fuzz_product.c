/*
 * fuzz_product.c - product cards are written by users: any bytes either
 * parse, or are refused with EINVAL naming the file and a line; a card
 * that parses writes JSON the CLI reads back.
 */
#include "fuzz_util.h"
#include "error.h"
#include "json.h"
#include "product.h"
#include "../../tools/jsonread.h"

#include <stdlib.h>
#include <string.h>

#define LABEL "d/main/.mesh/product.yaml line "

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mesh_product *p = NULL;
	json_value *parsed;
	mesh_json j;
	char *text;
	int rc = mesh_product_parse("d/main/.mesh/product.yaml", data, size, &p);

	if (rc < 0) {
		FUZZ_ASSERT(rc == MESH_EINVAL && !p, "parse returned %d", rc);
		FUZZ_ASSERT(strncmp(mesh_error_message(), LABEL, strlen(LABEL)) == 0,
			    "message without file and line: %s", mesh_error_message());
		return 0;
	}
	FUZZ_ASSERT(p->id && p->name && p->owner && p->status, "a required field is missing");
	mesh_json_init(&j);
	mesh_product_json(&j, p);
	FUZZ_ASSERT(mesh_json_take(&j, &text) == 0, "no text");
	FUZZ_ASSERT(fuzz_utf8_valid(text), "not UTF-8: %s", text);
	parsed = json_parse(text);
	FUZZ_ASSERT(parsed, "does not parse: %s", text);
	FUZZ_ASSERT(strcmp(json_str(parsed, "id", ""), p->id) == 0, "id changed: %s", text);
	json_free(parsed);
	free(text);
	mesh_product_free(p);
	return 0;
}
