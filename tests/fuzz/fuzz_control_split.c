/*
 * fuzz_control_split.c - the control-line word splitter.
 *
 * Properties: a split never yields more than MESH_CONTROL_MAX_ARGS words,
 * and the words, quoted again in single quotes and joined, split back
 * into the same words (the grammar round-trips).
 */
#include "fuzz_util.h"
#include "error.h"

#include <stdlib.h>
#include <string.h>

/* 'word' with each ' written as '\'' (closing, escaped, reopening). */
static char *requote(char **words, size_t count)
{
	size_t cap = 1, len = 0;
	char *line;

	for (size_t i = 0; i < count; i++)
		cap += strlen(words[i]) * 4 + 3;
	if (!(line = malloc(cap)))
		abort();
	for (size_t i = 0; i < count; i++) {
		if (i)
			line[len++] = ' ';
		line[len++] = '\'';
		for (const char *p = words[i]; *p; p++) {
			if (*p == '\'') {
				memcpy(line + len, "'\\''", 4);
				len += 4;
			} else {
				line[len++] = *p;
			}
		}
		line[len++] = '\'';
	}
	line[len] = '\0';
	return line;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = fuzz_cstring(data, size), *again;
	char **words, **words2;
	size_t count, count2;
	int error = mesh_control_split(line, &words, &count);

	if (error < 0) {
		FUZZ_ASSERT(error == MESH_EINVAL, "split failed with %d: %s", error,
			    mesh_error_message());
		FUZZ_ASSERT(words == NULL && count == 0, "failed split left %zu words", count);
		free(line);
		return 0;
	}
	FUZZ_ASSERT(count <= MESH_CONTROL_MAX_ARGS, "%zu words", count);
	again = requote(words, count);
	error = mesh_control_split(again, &words2, &count2);
	FUZZ_ASSERT(error == 0, "re-quoted line did not split: %s", mesh_error_message());
	FUZZ_ASSERT(count2 == count, "%zu words became %zu", count, count2);
	for (size_t i = 0; i < count; i++)
		FUZZ_ASSERT(strcmp(words[i], words2[i]) == 0, "word %zu [%s] became [%s]",
			    i, words[i], words2[i]);
	mesh_control_words_free(words, count);
	mesh_control_words_free(words2, count2);
	free(again);
	free(line);
	return 0;
}
