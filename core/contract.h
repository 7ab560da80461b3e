/*
 * contract.h - data contracts: .mesh/contracts/NAME.yaml in a domain's
 * tree, a subset of the Open Data Contract Standard (ODCS) v3, checked
 * against the datasets they describe.
 *
 * A contract names one dataset (its server's path pattern and format:
 * csv, json lines or parquet), the dataset's columns (schema properties)
 * with their rules, quality rules, file rules (customProperties
 * meshfs.allowedExtensions, meshfs.maxFileSize, meshfs.requiredFiles) and
 * a freshness (slaProperties freshness).  The same YAML is what `contract
 * import` reads and `contract export` writes, so a contract is standard
 * ODCS throughout; what the subset cannot express is refused by name.
 */
#ifndef MESH_CONTRACT_H
#define MESH_CONTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cmd.h"
#include "file.h"
#include "json.h"
#include "odb.h"
#include "store.h"

/* Where contracts live in a tree. */
#define MESH_CONTRACT_DIR ".mesh/contracts"
/* Offending values shown per file, column and rule. */
#define MESH_CONTRACT_EXAMPLES 5

typedef struct mesh_contract mesh_contract;

/* Parses one contract's YAML (name: its NAME, for messages).  Errors are
 * MESH_EINVAL naming the line and the field.  Free with mesh_contract_free. */
int mesh_contract_parse(const char *name, const char *yaml, size_t len,
			mesh_contract **out);
void mesh_contract_free(mesh_contract *contract);
const char *mesh_contract_name(const mesh_contract *contract);
/* The dataset's path pattern (fnmatch, '*' crosses '/'). */
const char *mesh_contract_pattern(const mesh_contract *contract);
/* The first schema property without a (non-empty) classification, NULL
 * when every one has it: what `policy require classification` asks. */
const char *mesh_contract_unclassified(const mesh_contract *contract);

/* Hands fn each word a catalog indexes of the contract (catalog.h):
 * its name, the schema object's name, physicalName, businessName and
 * description, and each property's name, physicalName, businessName and
 * description. */
typedef void (*mesh_contract_word_fn)(void *ctx, const char *word);
void mesh_contract_words(const mesh_contract *contract, mesh_contract_word_fn fn, void *ctx);
/* The freshness the contract promises (slaProperties freshness), in
 * seconds; 0 when it promises none. */
int64_t mesh_contract_freshness(const mesh_contract *contract);

/* Writes the contract as ODCS v3 YAML (malloc'd, NUL-terminated,
 * caller frees). */
int mesh_contract_emit(const mesh_contract *contract, char **yaml, size_t *len);

/* The contracts of a tree (MESH_CONTRACT_DIR/ *.yaml), sorted by name;
 * none is no error.  Free with mesh_contract_list_free. */
int mesh_contract_load_tree(mesh_odb *odb, const mesh_oid *tree,
			    mesh_contract ***out, size_t *count);
void mesh_contract_list_free(mesh_contract **list, size_t count);

/* One failed rule: file, column ("" for a file rule), rule, the first
 * offending values with their rows (row 0: the file as a whole) and how
 * many values broke it. */
typedef struct mesh_contract_failure {
	char *contract, *file, *column, *rule, *detail;
	size_t example_count;
	char *values[MESH_CONTRACT_EXAMPLES];
	uint64_t rows[MESH_CONTRACT_EXAMPLES];
	uint64_t count;
} mesh_contract_failure;

typedef struct mesh_contract_report {
	mesh_contract_failure *failures;
	size_t count, cap;
	size_t files_checked;
	uint64_t bytes_checked;
} mesh_contract_report;

void mesh_contract_report_init(mesh_contract_report *r);
void mesh_contract_report_dispose(mesh_contract_report *r);
/* "failures": [...] members for an answer's details. */
void mesh_contract_report_json(const mesh_contract_report *r, mesh_json *j);
/* MESH_EINVAL with a message naming the first failures (0 when none). */
int mesh_contract_report_error(const mesh_contract_report *r, const char *what);

/* Checks one file's content (file map id, size) at path against every
 * contract whose pattern matches it, reading it once; cache (may be
 * NULL) reads ahead with its threads. */
int mesh_contract_check_file(mesh_odb *odb, mesh_chunk_cache *cache,
			     mesh_contract *const *contracts, size_t count,
			     const char *path, const mesh_oid *map_id, uint64_t size,
			     mesh_contract_report *report);

/*
 * The gate of a commit or merge: the files that differ between
 * head_tree (the target's head) and candidate_tree are checked against
 * the contracts of head_tree, never the candidate's own edit of them.
 * A candidate's contract that does not parse is refused (its line and
 * field named); a head contract that does not parse refuses every
 * change but one of .mesh/ alone (the repair).
 * 0 when all hold; MESH_EINVAL naming file, column, rule and the first
 * offending values, with "failures" added to details (may be NULL).
 * domain only names the target in the message.
 */
int mesh_contract_gate(mesh_store *store, const char *domain, const mesh_oid *head_tree,
		       const mesh_oid *candidate_tree, mesh_json *details);

/* Every dataset of commit's tree against the tree's contracts, with
 * the freshness rules measured from commit at now (seconds).  A dataset
 * caller may not read (a restricted path of domain) refuses the check
 * with mesh_access_check's error: its values would be shown; caller NULL
 * is the store's own work. */
int mesh_contract_check_tree(mesh_store *store, const mesh_caller *caller, const char *domain,
			     const mesh_oid *commit, int64_t now, mesh_contract_report *report,
			     size_t *contracts);

extern const mesh_cmd_spec mesh_contract_cmd_spec;

#endif
