/*
 * fuzz_commit.c - the commit decoder (core/commit.c).
 *
 * Properties: a failure is EIO; a decoded commit writes again to exactly
 * the bytes read (the parser accepts only the writer's spelling).
 */
#include "fuzz_util.h"
#include "commit.h"
#include "error.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mesh_odb *odb = fuzz_mem_odb();
	mesh_oid id = { { 0 } }, written;
	mesh_commit *commit;
	void *again;
	size_t len;
	int error = mesh_commit_parse(&id, data, size, &commit);

	if (error < 0) {
		FUZZ_ASSERT(error == MESH_EIO, "%d: %s", error, mesh_error_message());
		return 0;
	}
	error = mesh_commit_write(odb, commit, &written);
	FUZZ_ASSERT(error == 0, "a decoded commit does not write: %s", mesh_error_message());
	FUZZ_ASSERT(mesh_odb_read(odb, &written, MESH_OBJ_COMMIT, &again, &len, NULL) == 0,
		    "%s", mesh_error_message());
	FUZZ_ASSERT(len == size && memcmp(again, data, size) == 0,
		    "commit of %zu bytes re-encodes to %zu different bytes", size, len);
	free(again);
	mesh_commit_free(commit);
	return 0;
}
