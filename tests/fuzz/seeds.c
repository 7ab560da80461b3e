/*
 * seeds.c - writes the seed corpora of the fuzz targets from real
 * objects: the trees, commits and file maps of the scratch store's
 * history (fuzz_util.c), their stored form, and typical command lines and
 * ref expressions.  Run once: fuzz_seeds tests/fuzz/corpus.
 */
#include "fuzz_util.h"
#include "commit.h"
#include "error.h"
#include "file.h"
#include "history.h"
#include "tree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *root;

static void put(const char *target, const char *name, const void *data, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, target);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		fuzz_fail(__FILE__, __LINE__, "mkdir", "%s", path);
	snprintf(path, sizeof(path), "%s/%s/%s", root, target, name);
	if (!(f = fopen(path, "wb")) || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		fuzz_fail(__FILE__, __LINE__, "write", "%s", path);
}

static void put_line(const char *target, int n, const char *line)
{
	char name[32];

	snprintf(name, sizeof(name), "seed-%02d", n);
	put(target, name, line, strlen(line));
}

/* The payload of an object, and its stored form as the odb writes it. */
static void put_object(const char *target, const char *name, const mesh_oid *id)
{
	mesh_odb *mem = fuzz_mem_odb();
	mesh_otype type;
	const void *stored;
	mesh_oid again;
	char stored_name[64];
	void *data;
	size_t len, stored_len;

	if (mesh_odb_read(mesh_store_odb(fuzz_scratch_store()), id, MESH_OBJ_ANY, &data,
			  &len, &type) < 0)
		fuzz_fail(__FILE__, __LINE__, "read", "%s", mesh_error_message());
	put(target, name, data, len);
	if (mesh_odb_write(mem, type, data, len, &again) < 0 ||
	    !(stored = fuzz_mem_odb_stored(&again, &stored_len)))
		fuzz_fail(__FILE__, __LINE__, "store", "%s", mesh_error_message());
	snprintf(stored_name, sizeof(stored_name), "%s-%s", target, name);
	put("odb", stored_name, stored, stored_len);
	free(data);
}

/* Every tree and file map below tree, the first few of each. */
static void put_tree(const mesh_oid *id, int *trees, int *maps)
{
	mesh_store *store = fuzz_scratch_store();
	mesh_tree *tree;
	char name[32];

	snprintf(name, sizeof(name), "tree-%02d", (*trees)++);
	put_object("tree", name, id);
	if (mesh_tree_load(mesh_store_odb(store), id, &tree) < 0)
		fuzz_fail(__FILE__, __LINE__, "tree", "%s", mesh_error_message());
	for (size_t i = 0; i < tree->count; i++) {
		if (tree->entries[i].kind == MESH_KIND_DIR && *trees < 8) {
			put_tree(&tree->entries[i].id, trees, maps);
		} else if (tree->entries[i].kind == MESH_KIND_FILE && *maps < 4) {
			snprintf(name, sizeof(name), "map-%02d", (*maps)++);
			put_object("file_map", name, &tree->entries[i].id);
		}
	}
	mesh_tree_free(tree);
}

static void put_history(void)
{
	mesh_store *store = fuzz_scratch_store();
	mesh_commit *commit;
	mesh_rev rev;
	int trees = 0, maps = 0;
	char name[32];

	if (mesh_revparse(store, "sales", "main", &rev) < 0)
		fuzz_fail(__FILE__, __LINE__, "main", "%s", mesh_error_message());
	for (int n = 0; n < 6; n++) {
		snprintf(name, sizeof(name), "commit-%02d", n);
		put_object("commit", name, &rev.commit);
		if (mesh_commit_load(mesh_store_odb(store), &rev.commit, &commit) < 0)
			fuzz_fail(__FILE__, __LINE__, "commit", "%s", mesh_error_message());
		if (n == 0)
			put_tree(&commit->tree, &trees, &maps);
		if (commit->parent_count == 0) {
			mesh_commit_free(commit);
			break;
		}
		rev.commit = commit->parents[0];
		mesh_commit_free(commit);
	}
}

/* A compressible chunk, stored zstd-compressed: the odb's other path. */
static void put_compressed(void)
{
	mesh_odb *mem = fuzz_mem_odb();
	char text[16384], line[32];
	const void *stored;
	size_t stored_len;
	mesh_oid id;

	for (size_t i = 0; i + 16 <= sizeof(text); i += 16) {
		snprintf(line, sizeof(line), "%06zu,sales,%02zu\n", i / 16, i % 97);
		memcpy(text + i, line, 16);
	}
	if (mesh_odb_write(mem, MESH_OBJ_CHUNK, text, sizeof(text), &id) < 0 ||
	    !(stored = fuzz_mem_odb_stored(&id, &stored_len)))
		fuzz_fail(__FILE__, __LINE__, "store", "%s", mesh_error_message());
	FUZZ_ASSERT(((const unsigned char *)stored)[2] == 1, "the chunk was not compressed");
	put("odb", "chunk-zstd", stored, stored_len);
}

static const char *const commands[] = {
	"commit sales/main -m 'first load' --meta source=erp --meta owner=ops\n",
	"status sales/main",
	"log sales/main~1 -n 2 -- orders",
	"diff sales/main~2 main -- orders/2026",
	"branch create sales/feature --from v1",
	"branch delete sales/feature",
	"tag create sales/v2 main^",
	"merge sales/dev --into main --strategy source-wins -m \"merge \\\"dev\\\"\"",
	"revert sales/main main --parent 1",
	"cherry-pick sales/main dev",
	"reset sales/main -- orders",
	"cp sales/v1/orders marketing/main/v1",
	"domain create finance --description 'ledger and \"books\"'",
	"domain list",
	"branch list sales",
	"tag list sales",
};

static const char *const revs[] = {
	"main", "main~2^", "main^2", "main~", "v1^", "dev~1", "main^^2~1",
	"deadbeef", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	"main~99999999999999999999", "v1~0",
};

static const char *const splits[] = {
	"commit sales/main -m 'first load'",
	"  commit\tsales/main   -m x\r\n",
	"\"double \\\" escaped\" 'single \"kept\"' back\\ slash",
	"\"a\"'b'c '' \"\"",
	"'unterminated",
};

int main(int argc, char **argv)
{
	int n = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: fuzz_seeds CORPUS-DIR\n");
		return 2;
	}
	root = argv[1];
	put_history();
	put_compressed();
	for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++)
		put_line("control_run", n++, commands[i]);
	for (size_t i = 0; i < sizeof(revs) / sizeof(*revs); i++)
		put_line("revparse", (int)i, revs[i]);
	for (size_t i = 0; i < sizeof(splits) / sizeof(*splits); i++)
		put_line("control_split", (int)i, splits[i]);
	put_line("json", 0, "plain name");
	put_line("json", 1, "caf\xc3\xa9 \xff\xfe tab\there \"quoted\" back\\slash \xe2\x82\xac");
	put_line("json", 2, "\xed\xa0\x80 \xc0\xaf \xf4\x90\x80\x80 \xf0\x9f\x98\x80");
	put_line("json", 3, "{\"ok\":true,\"domains\":[{\"name\":\"odd\",\"description\":"
		 "\"caf\\u00e9 \\udcff\\ud83d\\ude00 \\\"q\\\"\",\"owner\":\"root\","
		 "\"owner_uid\":0,\"default_branch\":\"main\",\"created\":1764130000}],"
		 "\"n\":[1.5e3,-2,true,false,null]}");
	return 0;
}
