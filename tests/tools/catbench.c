/*
 * catbench.c - the data of bench/catalog.py and the time of the core's
 * search call, without a process start per query.
 *
 *   mesh_catbench STORE N QUERIES
 *
 * Makes sure the store (initialised) holds N products p00000... (each a
 * domain with a card, a contract of six columns and a CSV, committed
 * through core: the ones already there are kept), gives every 20th of
 * them readers in the audit log, then prints one JSON object: the
 * seconds the fill and the index build took, and for QUERIES queries
 * of 1 to 3 words (drawn like the products' words, so common words come
 * up often) the milliseconds of mesh_catalog_search: the first time
 * (the handle's caches cold: access rules, SQLite's pages), again (warm),
 * and again with a write to the metadata database before each (so every
 * search compares the indexed heads with the refs); the hits of each,
 * and the queries themselves for the CLI's timing.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "catalog.h"
#include "domain.h"
#include "error.h"
#include "file.h"
#include "store.h"
#include "view.h"

#define VOCAB 3000
#define COLUMNS 400

static const char *const syllables[] = {
	"ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "zen", "dar", "pel", "gor", "fin",
	"bra", "qui", "hol", "wes", "tan", "mor", "lix",
};
#define NSYL (sizeof(syllables) / sizeof(syllables[0]))

static unsigned long long rng_state = 88172645463325252ULL;

static unsigned long long rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Word i of the vocabulary: two or three syllables, the same each run. */
static void word(unsigned i, char *out, size_t cap)
{
	unsigned a = i % NSYL, b = (i / NSYL) % NSYL, c = i / (NSYL * NSYL);

	if (c == 0)
		snprintf(out, cap, "%s%s", syllables[a], syllables[b]);
	else
		snprintf(out, cap, "%s%s%s", syllables[a], syllables[b], syllables[(c - 1) % NSYL]);
}

/* A skewed pick: low indices (common words) come up far more often. */
static unsigned pick(unsigned n)
{
	double u = (double)(rng() % 1000000) / 1e6;

	return (unsigned)(n * u * u * u);
}

static void words(char *out, size_t cap, unsigned count, unsigned vocab, const char *sep)
{
	char w[32];

	out[0] = '\0';
	for (unsigned i = 0; i < count; i++) {
		word(pick(vocab), w, sizeof(w));
		snprintf(out + strlen(out), cap - strlen(out), "%s%s", i ? sep : "", w);
	}
}

static int stage(mesh_store *store, mesh_view *view, const mesh_caller *caller,
		 const char *path, const char *data)
{
	mesh_oid map;
	int error;

	if ((error = mesh_file_write_buf(mesh_store_odb(store), NULL, data, strlen(data),
					 &map)) < 0)
		return error;
	return mesh_view_stage_content(view, caller, path, MESH_KIND_FILE, 0644, strlen(data), 0,
				       &map, false);
}

static int make_product(mesh_store *store, const mesh_caller *caller, unsigned i)
{
	char name[32], card[2048], contract[2048], desc[512], tags[256], title[128], top[64];
	char cols[6][64], path[128], csv[512];
	mesh_view *view = NULL;
	mesh_oid commit;
	size_t changes;
	int error;

	snprintf(name, sizeof(name), "p%05u", i);
	words(title, sizeof(title), 2, VOCAB, " ");
	words(desc, sizeof(desc), 10, VOCAB, " ");
	words(tags, sizeof(tags), 3, VOCAB, ", ");
	for (int c = 0; c < 6; c++)
		words(cols[c], sizeof(cols[c]), 2, COLUMNS, "_");
	snprintf(card, sizeof(card), "id: urn:mesh:%s\nname: %s\nstatus: active\nowner: team%u\n"
		 "description: %s\ntags: [%s]\noutput_ports:\n  - path: data\n", name, title,
		 i % 50, desc, tags);
	snprintf(contract, sizeof(contract),
		 "apiVersion: v3.0.2\nkind: DataContract\nname: %s\nservers:\n  - server: lake\n"
		 "    type: local\n    path: data/*.csv\n    format: csv\nschema:\n  - name: %s\n"
		 "    properties:\n", name, name);
	csv[0] = '\0';
	for (int c = 0; c < 6; c++) {
		snprintf(contract + strlen(contract), sizeof(contract) - strlen(contract),
			 "      - name: %s%d\n", cols[c], c);
		snprintf(csv + strlen(csv), sizeof(csv) - strlen(csv), "%s%s%d", c ? "," : "",
			 cols[c], c);
	}
	snprintf(contract + strlen(contract), sizeof(contract) - strlen(contract),
		 "slaProperties:\n  - property: freshness\n    value: 1\n    unit: d\n");
	snprintf(csv + strlen(csv), sizeof(csv) - strlen(csv), "\n1,2,3,4,5,6\n");
	words(top, sizeof(top), 1, VOCAB, "");
	if ((error = mesh_domain_create(store, caller, name, "")) < 0 ||
	    (error = mesh_view_open_branch(&view, store, name, "main")) < 0)
		return error;
	if ((error = mesh_view_mkdir(view, caller, ".mesh", 0755)) == 0 &&
	    (error = mesh_view_mkdir(view, caller, ".mesh/contracts", 0755)) == 0 &&
	    (error = mesh_view_mkdir(view, caller, "data", 0755)) == 0 &&
	    (error = mesh_view_mkdir(view, caller, top, 0755)) == 0 &&
	    (error = stage(store, view, caller, ".mesh/product.yaml", card)) == 0 &&
	    (error = stage(store, view, caller, ".mesh/contracts/c.yaml", contract)) == 0) {
		snprintf(path, sizeof(path), "data/%s.csv", name);
		if ((error = stage(store, view, caller, path, csv)) == 0)
			error = mesh_view_commit(view, caller, "product", NULL, 0, &commit, &changes);
	}
	mesh_view_free(view);
	return error;
}

static double secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void readers(mesh_store *store, unsigned n)
{
	char name[32];

	for (unsigned i = 0; i < n; i += 20) {
		snprintf(name, sizeof(name), "p%05u", i);
		for (unsigned u = 0; u <= i % 7; u++) {
			mesh_caller c = { .uid = 20000 + u, .gid = 100, .pid = getpid() };
			mesh_audit_event e = { .op = "read", .domain = name, .ref = "main",
					       .path = "data/x.csv", .bytes = 100 };
			for (unsigned k = 0; k < 3; k++)
				mesh_audit_record(mesh_store_audit(store), &c, &e);
		}
	}
	mesh_audit_flush(mesh_store_audit(store));
}

static int search_ms(mesh_store *store, const mesh_caller *caller, char *query, double *ms,
		     size_t *total)
{
	const char *w[4];
	char copy[256], *save = NULL;
	size_t n = 0, count;
	mesh_catalog_hit *hits;
	double t0;
	int error;

	snprintf(copy, sizeof(copy), "%s", query);
	for (char *t = strtok_r(copy, " ", &save); t && n < 4; t = strtok_r(NULL, " ", &save))
		w[n++] = t;
	t0 = secs();
	error = mesh_catalog_search(store, caller, w, n, MESH_CATALOG_LIMIT, &hits, &count, total);
	*ms = (secs() - t0) * 1000;
	if (error == 0)
		mesh_catalog_hits_free(hits, count);
	return error;
}

int main(int argc, char **argv)
{
	mesh_store *store = NULL;
	mesh_caller caller;
	mesh_domain *d = NULL;
	unsigned n, nq, made = 0;
	double t0, fill, build;
	size_t changed = 0;
	char (*queries)[128];

	if (argc != 4 || (n = (unsigned)atoi(argv[2])) == 0 || (nq = (unsigned)atoi(argv[3])) == 0) {
		fprintf(stderr, "usage: mesh_catbench STORE N QUERIES\n");
		return 2;
	}
	mesh_caller_self(&caller);
	if (mesh_store_open(&store, argv[1], NULL) < 0) {
		fprintf(stderr, "mesh_catbench: %s\n", mesh_error_message());
		return 1;
	}
	t0 = secs();
	for (unsigned i = 0; i < n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "p%05u", i);
		/* The products' words do not depend on which were made before. */
		rng_state = 88172645463325252ULL + i * 7919ULL;
		if (mesh_domain_get(store, name, &d) == 0) {
			mesh_domain_free(d);
			continue;
		}
		mesh_error_clear();
		if (make_product(store, &caller, i) < 0) {
			fprintf(stderr, "mesh_catbench: product %u: %s\n", i, mesh_error_message());
			return 1;
		}
		made++;
		if (made % 1000 == 0)
			fprintf(stderr, "mesh_catbench: %u products made\n", made);
	}
	if (made)
		readers(store, n);
	fill = secs() - t0;
	t0 = secs();
	if (mesh_catalog_refresh(store, &changed) < 0) {
		fprintf(stderr, "mesh_catbench: %s\n", mesh_error_message());
		return 1;
	}
	build = secs() - t0;

	rng_state = 2463534242ULL;
	queries = calloc(nq, sizeof(*queries));
	printf("{\"products\":%u,\"made\":%u,\"fill_seconds\":%.2f,\"index_seconds\":%.2f,"
	       "\"reindexed\":%zu,\"queries\":[", n, made, fill, build, changed);
	for (unsigned q = 0; q < nq; q++) {
		words(queries[q], sizeof(queries[q]), 1 + (unsigned)(rng() % 3), VOCAB / 16, " ");
		printf("%s\"%s\"", q ? "," : "", queries[q]);
	}
	static const char *const passes[] = { "first_ms", "warm_ms", "compare_ms" };
	for (int pass = 0; pass < 3; pass++) {
		printf("],\"%s\":[", passes[pass]);
		for (unsigned q = 0; q < nq; q++) {
			double ms;
			size_t total;
			/* Any write moves the database's sequence: the search
			 * then compares every indexed head with its ref. */
			if (pass == 2 && mesh_db_put(mesh_store_db(store), "m/catbench", 10, "x", 1,
						false) < 0)
				return 1;
			if (search_ms(store, &caller, queries[q], &ms, &total) < 0) {
				fprintf(stderr, "mesh_catbench: '%s': %s\n", queries[q],
					mesh_error_message());
				return 1;
			}
			printf("%s%.3f", q ? "," : "", ms);
			if (pass == 1)
				fprintf(stderr, "query '%s': %zu hits, %.2f ms\n", queries[q], total,
					ms);
		}
	}
	printf("],\"totals\":[");
	for (unsigned q = 0; q < nq; q++) {
		double ms;
		size_t total = 0;
		search_ms(store, &caller, queries[q], &ms, &total);
		printf("%s%zu", q ? "," : "", total);
	}
	printf("]}\n");
	free(queries);
	mesh_db_delete(mesh_store_db(store), "m/catbench", 10, false);
	mesh_store_close(store);
	return 0;
}
