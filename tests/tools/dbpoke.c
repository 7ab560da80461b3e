/*
 * dbpoke.c - damages an object that the store keeps in RocksDB, for the
 * integration tests of fsck (the database cannot be edited by hand).
 *
 *   mesh_dbpoke STORE flip HEX     flips a bit of the value's last byte
 *   mesh_dbpoke STORE delete HEX   removes the object
 *   mesh_dbpoke STORE has HEX      exit 0 when the database holds it, 1 if not
 *
 * The store must not be mounted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "error.h"
#include "oid.h"

int main(int argc, char **argv)
{
	unsigned char key[2 + MESH_OID_RAWSZ];
	char path[4096];
	unsigned char *val;
	size_t vlen;
	mesh_oid oid;
	mesh_db *db;
	int error;

	if (argc != 4 || mesh_oid_parse(&oid, argv[3]) < 0) {
		fprintf(stderr, "usage: mesh_dbpoke STORE flip|delete|has OBJECT-ID\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/db", argv[1]);
	if (mesh_db_open(&db, path) < 0) {
		fprintf(stderr, "mesh_dbpoke: %s\n", mesh_error_message());
		return 2;
	}
	key[0] = 'o';
	key[1] = '/';
	memcpy(key + 2, oid.id, MESH_OID_RAWSZ);
	if (!strcmp(argv[2], "has")) {
		error = mesh_db_has(db, key, sizeof(key));
		mesh_db_close(db);
		return error == 1 ? 0 : 1;
	}
	if (!strcmp(argv[2], "delete")) {
		error = mesh_db_delete(db, key, sizeof(key), true);
	} else if ((error = mesh_db_get(db, key, sizeof(key), (void **)&val, &vlen)) == 0) {
		val[vlen - 1] ^= 0x01;
		error = mesh_db_put(db, key, sizeof(key), val, vlen, true);
		free(val);
	}
	if (error < 0)
		fprintf(stderr, "mesh_dbpoke: %s\n", mesh_error_message());
	mesh_db_close(db);
	return error < 0 ? 1 : 0;
}
