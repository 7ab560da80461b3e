/*
 * fuzz_odb.c - decoding stored objects (core/odb.c): the header, zstd
 * and the hash check, on whatever bytes a backend hands back.
 *
 * Properties: a read of bytes that are not the object asked for fails
 * with EIO (never wrong bytes, never a crash); the bytes of a real object
 * read back as written.
 */
#include "fuzz_util.h"
#include "error.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mesh_odb *odb = fuzz_mem_odb();
	mesh_oid asked = { { 0 } }, real;
	mesh_odb_buf buf;
	mesh_otype type;
	void *out;
	size_t len;
	int error;

	/* Bytes from the backend under an id they do not hash to. */
	fuzz_mem_odb_answer(data, size);
	error = mesh_odb_read(odb, &asked, MESH_OBJ_ANY, &out, &len, &type);
	FUZZ_ASSERT(error == MESH_EIO, "read of junk: %d %s", error, mesh_error_message());
	error = mesh_odb_read_buf(odb, &asked, MESH_OBJ_TREE, &buf, &type);
	FUZZ_ASSERT(error == MESH_EIO, "read_buf of junk: %d %s", error, mesh_error_message());
	fuzz_mem_odb_answer(NULL, 0);

	/* The same bytes as the content of an object: stored and read back. */
	FUZZ_ASSERT(mesh_odb_write(odb, MESH_OBJ_CHUNK, data, size, &real) == 0, "%s",
		    mesh_error_message());
	FUZZ_ASSERT(mesh_odb_read(odb, &real, MESH_OBJ_CHUNK, &out, &len, &type) == 0,
		    "%s", mesh_error_message());
	FUZZ_ASSERT(len == size && memcmp(out, data, size) == 0 && type == MESH_OBJ_CHUNK,
		    "object read back differs");
	free(out);
	return 0;
}
