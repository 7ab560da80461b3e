/*
 * auditpoke.c - tampers with the audit log in RocksDB, for the
 * integration test of `meshfs audit verify` (the database cannot be
 * edited by hand).
 *
 *   mesh_auditpoke STORE flip SEQ     flips a bit in the middle of record SEQ's value
 *   mesh_auditpoke STORE delete SEQ   removes record SEQ
 *
 * The store must not be mounted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "db.h"
#include "error.h"

int main(int argc, char **argv)
{
	unsigned char key[MESH_AUDIT_KEY_LEN];
	char path[4096], *end;
	unsigned char *val;
	unsigned long long seq;
	size_t vlen;
	mesh_db *db;
	int error;

	if (argc != 4 || (strcmp(argv[2], "flip") && strcmp(argv[2], "delete")) ||
	    (seq = strtoull(argv[3], &end, 10)) == 0 || *end) {
		fprintf(stderr, "usage: mesh_auditpoke STORE flip|delete SEQ\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/db", argv[1]);
	if (mesh_db_open(&db, path) < 0) {
		fprintf(stderr, "mesh_auditpoke: %s\n", mesh_error_message());
		return 2;
	}
	mesh_audit_record_key(seq, key);
	if (!strcmp(argv[2], "delete")) {
		error = mesh_db_delete(db, key, sizeof(key), true);
	} else if ((error = mesh_db_get(db, key, sizeof(key), (void **)&val, &vlen)) == 0) {
		val[vlen / 2] ^= 0x01;
		error = mesh_db_put(db, key, sizeof(key), val, vlen, true);
		free(val);
	}
	if (error < 0)
		fprintf(stderr, "mesh_auditpoke: %s\n", mesh_error_message());
	mesh_db_close(db);
	return error < 0 ? 1 : 0;
}
