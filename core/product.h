/*
 * product.h - a domain's data-product card: BRANCH/.mesh/product.yaml,
 * with the fields of the Open Data Product Standard / Data Product
 * Descriptor that a mesh needs (README "Product cards").  Parsed with
 * libyaml's document API; every error names the file, the line and the
 * field at fault.
 */
#ifndef MESH_PRODUCT_H
#define MESH_PRODUCT_H

#include <stddef.h>
#include "cmd.h"
#include "json.h"
#include "store.h"

/* Where a card lives in a branch's tree. */
#define MESH_PRODUCT_PATH ".mesh/product.yaml"
/* The largest card read: bigger ones are refused, never parsed. */
#define MESH_PRODUCT_MAX_BYTES (1024 * 1024)

typedef struct mesh_product_contact {
	char *name, *email, *url, *role;
} mesh_product_contact;

/* An output port: a path of the domain and the contract governing it
 * (a path too, or NULL).  An input port: the product (domain) consumed,
 * optionally a ref and a path in it. */
typedef struct mesh_product_port {
	char *name;
	char *path;
	char *contract;
	char *product;
	char *ref;
	unsigned line;
} mesh_product_port;

typedef struct mesh_product_kv {
	char *key, *value;
} mesh_product_kv;

typedef struct mesh_product {
	char *id, *name, *version, *status, *description, *owner, *team;
	mesh_product_contact *contacts;
	size_t contact_count;
	char **tags;
	size_t tag_count;
	mesh_product_port *outputs;
	size_t output_count;
	mesh_product_port *inputs;
	size_t input_count;
	mesh_product_kv *custom;   /* free key/values, in the card's order */
	size_t custom_count;
} mesh_product;

/*
 * Parses a card of len bytes.  file names it in errors ("sales/main/
 * .mesh/product.yaml").  MESH_EINVAL with "FILE line N: field X: what"
 * on a YAML syntax error, an unknown field, a missing required one (id,
 * name, owner, status), a wrong type, a status outside
 * mesh_product_statuses or a card over MESH_PRODUCT_MAX_BYTES.  Free
 * *out with mesh_product_free.
 */
int mesh_product_parse(const char *file, const void *data, size_t len,
		       mesh_product **out);
void mesh_product_free(mesh_product *product);

/* The statuses a card may have, "proposed, development, ...". */
const char *mesh_product_statuses(void);

/*
 * The card in tree (a root tree of domain's branch) into *out, NULL when
 * the tree has none (0 returned).  label names the branch or ref in
 * errors; a card that is there but invalid fails as mesh_product_parse.
 */
int mesh_product_load(mesh_store *store, const char *domain, const char *label,
		      const mesh_oid *tree, mesh_product **out);

/* What the card says of tree (the root tree it is in): every output
 * port's path exists.  MESH_EINVAL "FILE line N: field
 * output_ports[I].path: ..." otherwise. */
int mesh_product_check_tree(mesh_store *store, const char *file, const mesh_product *p,
			    const mesh_oid *tree);

/* The card as one JSON object. */
void mesh_product_json(mesh_json *j, const mesh_product *product);

/*
 * What MOUNT/DOMAIN/.product.json holds: the card at the head of the
 * domain's default branch as JSON with "domain", "branch" and "commit",
 * and a newline; *out malloc'd (caller frees).  MESH_ENOENT when the
 * domain has no card or caller may not read it.
 */
int mesh_product_file(mesh_store *store, const mesh_caller *caller, const char *domain,
		      char **out, size_t *len);

/* "product show DOMAIN [--ref REF] [--json]". */
extern const mesh_cmd_spec mesh_product_cmd_spec;

#endif
