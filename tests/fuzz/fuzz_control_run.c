/*
 * fuzz_control_run.c - whole control commands on a scratch store with a
 * small history (fuzz_util.c).
 *
 * Properties: every command gets an answer that the CLI's JSON reader
 * takes, that is valid UTF-8 whatever bytes the command held, and whose
 * "ok" agrees with the return code.
 */
#include "fuzz_util.h"
#include "error.h"
#include "../../tools/jsonread.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const mesh_control_env *env = fuzz_control_env();
	char *line, *answer = NULL;
	json_value *parsed;
	const json_value *ok;
	int error;

	/* Longer lines are refused before anything runs (unit-tested). */
	if (size > 4096)
		return 0;
	line = fuzz_cstring(data, size);
	error = mesh_control_run(env, fuzz_caller(), line, &answer);
	FUZZ_ASSERT(answer != NULL, "no answer to [%s] (%d)", line, error);
	FUZZ_ASSERT(fuzz_utf8_valid(answer), "answer to [%s] is not UTF-8: %s", line, answer);
	parsed = json_parse(answer);
	FUZZ_ASSERT(parsed != NULL, "answer to [%s] does not parse: %s", line, answer);
	ok = json_get(parsed, "ok");
	FUZZ_ASSERT(ok && ok->type == JSON_BOOL && ok->boolean == (error == 0),
		    "[%s] returned %d but answered %s", line, error, answer);
	if (error < 0)
		FUZZ_ASSERT(strcmp(json_str(parsed, "error", ""), mesh_error_name(error)) == 0,
			    "[%s] returned %d but answered %s", line, error, answer);
	json_free(parsed);
	free(answer);
	free(line);
	return 0;
}
