/*
 * fuzz_revparse.c - ref expressions (main~2^, v1^2, prefixes...) against
 * the scratch store's history.
 *
 * Properties: a failure is ENOENT or EINVAL with a message; a success
 * names a commit that loads, and its full id resolves to it again.
 */
#include "fuzz_util.h"
#include "commit.h"
#include "error.h"
#include "history.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mesh_store *store = fuzz_scratch_store();
	char *spec = fuzz_cstring(data, size), hex[MESH_OID_HEXSZ + 1];
	mesh_commit *commit;
	mesh_rev rev, again;
	int error = mesh_revparse(store, "sales", spec, &rev);

	if (error < 0) {
		FUZZ_ASSERT(error == MESH_ENOENT || error == MESH_EINVAL,
			    "[%s]: %d %s", spec, error, mesh_error_message());
		FUZZ_ASSERT(*mesh_error_message(), "[%s] failed without a message", spec);
		free(spec);
		return 0;
	}
	FUZZ_ASSERT(mesh_commit_load(mesh_store_odb(store), &rev.commit, &commit) == 0,
		    "[%s] resolved to a commit that does not load: %s", spec,
		    mesh_error_message());
	mesh_commit_free(commit);
	mesh_oid_fmt(hex, &rev.commit);
	FUZZ_ASSERT(mesh_revparse(store, "sales", hex, &again) == 0 &&
		    mesh_oid_cmp(&again.commit, &rev.commit) == 0,
		    "[%s] -> %s does not resolve back", spec, hex);
	if (rev.is_branch)
		FUZZ_ASSERT(strcmp(rev.branch, spec) == 0, "[%s] is branch %s", spec, rev.branch);
	free(spec);
	return 0;
}
