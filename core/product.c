#include "product.h"
#include "access.h"
#include "audit.h"
#include "catalog.h"
#include "domain.h"
#include "error.h"
#include "file.h"
#include "history.h"
#include "lineage.h"
#include "tree.h"
#include "treecache.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yaml.h>

static const char *const statuses[] = {
	"proposed", "development", "active", "deprecated", "retired",
};
#define STATUS_COUNT (sizeof(statuses) / sizeof(statuses[0]))

const char *mesh_product_statuses(void)
{
	return "proposed, development, active, deprecated, retired";
}

/* --- parsing ------------------------------------------------------------ */

typedef struct card_parser {
	const char *file;
	yaml_document_t *doc;
	mesh_product *p;
} card_parser;

static unsigned line_of(const yaml_node_t *node)
{
	return (unsigned)node->start_mark.line + 1;
}

static int fail_at(const card_parser *cp, const yaml_node_t *node, const char *field,
		   const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return mesh_error_set(MESH_EINVAL, "%s line %u: field %s: %s", cp->file,
			      line_of(node), field, what);
}

/* A field's name for messages ("output_ports[0].path"); a name too
 * long for buf is cut, which only shortens a message. */
__attribute__((format(printf, 3, 4)))
static void field_name(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
}

static const char *node_kind(const yaml_node_t *node)
{
	switch (node->type) {
	case YAML_SCALAR_NODE: return "a scalar";
	case YAML_SEQUENCE_NODE: return "a list";
	case YAML_MAPPING_NODE: return "a mapping";
	default: return "nothing";
	}
}

static int get_string(const card_parser *cp, const yaml_node_t *node, const char *field,
		      char **out)
{
	const char *value = (const char *)node->data.scalar.value;
	size_t len = node->data.scalar.length;

	if (node->type != YAML_SCALAR_NODE)
		return fail_at(cp, node, field, "expected a string, found %s", node_kind(node));
	if (memchr(value, '\0', len))
		return fail_at(cp, node, field, "holds a NUL byte");
	if (!(*out = strndup(value, len)))
		return mesh_error_oom();
	return 0;
}

static int get_nonempty(const card_parser *cp, const yaml_node_t *node, const char *field,
			char **out)
{
	int error = get_string(cp, node, field, out);

	if (error == 0 && (*out)[0] == '\0')
		return fail_at(cp, node, field, "must not be empty");
	return error;
}

static int need_kind(const card_parser *cp, const yaml_node_t *node, const char *field,
		     yaml_node_type_t type, const char *what)
{
	if (node->type != type)
		return fail_at(cp, node, field, "expected %s, found %s", what, node_kind(node));
	return 0;
}

/* A port's path: inside the domain, relative, no "." or ".." step. */
static int check_port_path(const card_parser *cp, const yaml_node_t *node,
			   const char *field, const char *path)
{
	const char *p = path;

	if (path[0] == '/')
		return fail_at(cp, node, field, "'%s' must be relative to the branch's root", path);
	while (*p) {
		size_t n = strcspn(p, "/");
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return fail_at(cp, node, field, "'%s' has a '.' or '..' component", path);
		p += n;
		p += *p == '/';
	}
	return 0;
}

static int get_port_path(const card_parser *cp, const yaml_node_t *v, const char *field,
			 mesh_product_port *port)
{
	int error;

	if ((error = get_nonempty(cp, v, field, &port->path)) < 0)
		return error;
	port->line = line_of(v);
	return check_port_path(cp, v, field, port->path);
}

/* The key/value pairs of a mapping node, each handed to one_pair. */
typedef int (*pair_cb)(card_parser *cp, void *target, const char *key,
		       const yaml_node_t *key_node, const yaml_node_t *value,
		       const char *field);

/* A mapping holds at most this many fields: duplicates are looked for
 * among the earlier ones, and a 1 MiB card could hold a great many. */
#define MAX_PAIRS 1024

static bool same_key(const yaml_node_t *a, const yaml_node_t *b)
{
	return a->type == YAML_SCALAR_NODE && a->data.scalar.length == b->data.scalar.length &&
	       memcmp(a->data.scalar.value, b->data.scalar.value, a->data.scalar.length) == 0;
}

static int each_pair(card_parser *cp, const yaml_node_t *map, const char *where,
		     void *target, pair_cb cb)
{
	yaml_node_pair_t *start = map->data.mapping.pairs.start;
	char field[600];
	int error = 0;

	if (map->data.mapping.pairs.top - start > MAX_PAIRS)
		return fail_at(cp, map, where[0] ? where : "(top level)",
			       "more than %d fields", MAX_PAIRS);
	for (yaml_node_pair_t *pair = start; error == 0 && pair < map->data.mapping.pairs.top;
	     pair++) {
		yaml_node_t *k = yaml_document_get_node(cp->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(cp->doc, pair->value);
		const char *key = (const char *)k->data.scalar.value;

		if (k->type != YAML_SCALAR_NODE || k->data.scalar.length == 0 ||
		    strlen(key) != k->data.scalar.length || k->data.scalar.length > 255)
			return fail_at(cp, k, where[0] ? where : "(top level)",
				       "a key must be a string of 1 to 255 bytes");
		field_name(field, sizeof(field), "%s%s%s", where, where[0] ? "." : "", key);
		for (yaml_node_pair_t *prev = start; prev < pair; prev++)
			if (same_key(yaml_document_get_node(cp->doc, prev->key), k))
				return fail_at(cp, k, field, "appears twice");
		error = cb(cp, target, key, k, v, field);
	}
	return error;
}

static int contact_pair(card_parser *cp, void *target, const char *key,
			const yaml_node_t *kn, const yaml_node_t *v, const char *field)
{
	mesh_product_contact *c = target;
	char **slot = !strcmp(key, "name") ? &c->name : !strcmp(key, "email") ? &c->email :
		      !strcmp(key, "url") ? &c->url : !strcmp(key, "role") ? &c->role : NULL;

	if (!slot)
		return fail_at(cp, kn, field, "unknown field (a contact has name, email, url, role)");
	return get_string(cp, v, field, slot);
}

static int output_pair(card_parser *cp, void *target, const char *key,
		       const yaml_node_t *kn, const yaml_node_t *v, const char *field)
{
	mesh_product_port *port = target;

	if (!strcmp(key, "name"))
		return get_string(cp, v, field, &port->name);
	if (!strcmp(key, "contract"))
		return get_nonempty(cp, v, field, &port->contract);
	if (!strcmp(key, "path"))
		return get_port_path(cp, v, field, port);
	return fail_at(cp, kn, field, "unknown field (an output port has name, path, contract)");
}

static int input_pair(card_parser *cp, void *target, const char *key,
		      const yaml_node_t *kn, const yaml_node_t *v, const char *field)
{
	mesh_product_port *port = target;
	int error;

	if (!strcmp(key, "name"))
		return get_string(cp, v, field, &port->name);
	if (!strcmp(key, "ref"))
		return get_nonempty(cp, v, field, &port->ref);
	if (!strcmp(key, "path"))
		return get_port_path(cp, v, field, port);
	if (!strcmp(key, "product")) {
		if ((error = get_nonempty(cp, v, field, &port->product)) < 0)
			return error;
		if (mesh_domain_name_check(port->product) < 0) {
			mesh_error_clear();
			return fail_at(cp, v, field, "'%s' is not a domain name", port->product);
		}
		return 0;
	}
	return fail_at(cp, kn, field, "unknown field (an input port has name, product, ref, path)");
}

static int custom_pair(card_parser *cp, void *target, const char *key,
		       const yaml_node_t *kn, const yaml_node_t *v, const char *field)
{
	mesh_product *p = target;
	mesh_product_kv *kv;

	(void)kn;
	if (!(kv = realloc(p->custom, (p->custom_count + 1) * sizeof(*kv))))
		return mesh_error_oom();
	p->custom = kv;
	kv += p->custom_count;
	memset(kv, 0, sizeof(*kv));
	p->custom_count++;
	if (!(kv->key = strdup(key)))
		return mesh_error_oom();
	return get_string(cp, v, field, &kv->value);
}

/* A list of mappings, each parsed by cb into an element of elem_size. */
static int map_list(card_parser *cp, const yaml_node_t *list, const char *field,
		    void **items, size_t *count, size_t elem_size, pair_cb cb)
{
	size_t n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
	char where[300];
	int error;

	if ((error = need_kind(cp, list, field, YAML_SEQUENCE_NODE, "a list of mappings")) < 0)
		return error;
	if (n && !(*items = calloc(n, elem_size)))
		return mesh_error_oom();
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = yaml_document_get_node(cp->doc,
							   list->data.sequence.items.start[i]);
		char *elem = (char *)*items + i * elem_size;

		*count = i + 1;
		field_name(where, sizeof(where), "%s[%zu]", field, i);
		if ((error = need_kind(cp, item, where, YAML_MAPPING_NODE, "a mapping")) < 0 ||
		    (error = each_pair(cp, item, where, elem, cb)) < 0)
			return error;
		if (cb == output_pair || cb == input_pair) {
			mesh_product_port *port = (mesh_product_port *)elem;
			if (!port->line)
				port->line = line_of(item);
			if (cb == output_pair && !port->path)
				return fail_at(cp, item, where, "an output port needs a path");
			if (cb == input_pair && !port->product)
				return fail_at(cp, item, where, "an input port needs a product");
		}
	}
	return 0;
}

static int tag_list(card_parser *cp, const yaml_node_t *list, const char *field)
{
	size_t n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
	char where[300];
	int error;

	if ((error = need_kind(cp, list, field, YAML_SEQUENCE_NODE, "a list of strings")) < 0)
		return error;
	if (n && !(cp->p->tags = calloc(n, sizeof(char *))))
		return mesh_error_oom();
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = yaml_document_get_node(cp->doc,
							   list->data.sequence.items.start[i]);
		field_name(where, sizeof(where), "%s[%zu]", field, i);
		cp->p->tag_count = i + 1;
		if ((error = get_nonempty(cp, item, where, &cp->p->tags[i])) < 0)
			return error;
	}
	return 0;
}

static int top_pair(card_parser *cp, void *target, const char *key,
		    const yaml_node_t *kn, const yaml_node_t *v, const char *field)
{
	mesh_product *p = target;
	struct { const char *name; char **slot; } strings[] = {
		{ "id", &p->id }, { "name", &p->name }, { "version", &p->version },
		{ "status", &p->status }, { "description", &p->description },
		{ "owner", &p->owner }, { "team", &p->team },
	};
	int error;

	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		if (strcmp(key, strings[i].name))
			continue;
		if ((error = get_nonempty(cp, v, field, strings[i].slot)) < 0)
			return error;
		if (strings[i].slot == &p->status) {
			for (size_t s = 0; s < STATUS_COUNT; s++)
				if (!strcmp(p->status, statuses[s]))
					return 0;
			return fail_at(cp, v, field, "'%s' is not a status (one of %s)",
				       p->status, mesh_product_statuses());
		}
		return 0;
	}
	if (!strcmp(key, "tags"))
		return tag_list(cp, v, field);
	if (!strcmp(key, "contacts"))
		return map_list(cp, v, field, (void **)&p->contacts, &p->contact_count,
				sizeof(*p->contacts), contact_pair);
	if (!strcmp(key, "output_ports"))
		return map_list(cp, v, field, (void **)&p->outputs, &p->output_count,
				sizeof(*p->outputs), output_pair);
	if (!strcmp(key, "input_ports"))
		return map_list(cp, v, field, (void **)&p->inputs, &p->input_count,
				sizeof(*p->inputs), input_pair);
	if (!strcmp(key, "custom")) {
		if ((error = need_kind(cp, v, field, YAML_MAPPING_NODE, "a mapping of strings")) < 0)
			return error;
		return each_pair(cp, v, field, p, custom_pair);
	}
	return fail_at(cp, kn, field, "unknown field (fields: id, name, version, status, "
		       "description, owner, team, contacts, tags, output_ports, input_ports, "
		       "custom)");
}

/* Aliases are refused: a card needs none, and a node reached many times
 * over would make a 1 MiB card cost far more than its size to check.  A
 * loaded document keeps no alias node: an alias is a second reference. */
static int check_no_alias(card_parser *cp)
{
	yaml_node_t *start = cp->doc->nodes.start, *top = cp->doc->nodes.top;
	size_t count = (size_t)(top - start);
	unsigned char *refs = calloc(count ? count : 1, 1);
	int error = 0;

	if (!refs)
		return mesh_error_oom();
	for (yaml_node_t *n = start; n < top && error == 0; n++) {
		int ids[2];
		size_t nids = 0;

		if (n->type == YAML_SEQUENCE_NODE) {
			for (yaml_node_item_t *it = n->data.sequence.items.start;
			     it < n->data.sequence.items.top && error == 0; it++)
				if (refs[*it - 1]++)
					error = fail_at(cp, n, "(alias)",
							"YAML aliases are not allowed in a card");
			continue;
		}
		if (n->type != YAML_MAPPING_NODE)
			continue;
		for (yaml_node_pair_t *pr = n->data.mapping.pairs.start;
		     pr < n->data.mapping.pairs.top && error == 0; pr++) {
			ids[0] = pr->key;
			ids[1] = pr->value;
			/* The key's line: where the alias stands (an alias
			 * node has no mark of its own in a loaded document). */
			for (nids = 0; nids < 2 && error == 0; nids++)
				if (refs[ids[nids] - 1]++)
					error = fail_at(cp, &start[pr->key - 1], "(alias)",
							"YAML aliases are not allowed in a card");
		}
	}
	free(refs);
	return error;
}

static int parse_root(card_parser *cp, yaml_node_t *root)
{
	const struct { const char *name; char *const *slot; } required[] = {
		{ "id", &cp->p->id }, { "name", &cp->p->name },
		{ "owner", &cp->p->owner }, { "status", &cp->p->status },
	};
	int error;

	if (!root)
		return mesh_error_set(MESH_EINVAL, "%s line 1: field id: the card is empty",
				      cp->file);
	if ((error = check_no_alias(cp)) < 0 ||
	    (error = need_kind(cp, root, "(top level)", YAML_MAPPING_NODE,
			       "a mapping of fields")) < 0 ||
	    (error = each_pair(cp, root, "", cp->p, top_pair)) < 0)
		return error;
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!*required[i].slot)
			return fail_at(cp, root, required[i].name, "required field missing");
	return 0;
}

int mesh_product_parse(const char *file, const void *data, size_t len,
		       mesh_product **out)
{
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	card_parser cp = { file, &doc, NULL };
	int error;

	*out = NULL;
	if (len > MESH_PRODUCT_MAX_BYTES)
		return mesh_error_set(MESH_EINVAL, "%s line 1: field (file): the card is %zu "
				      "bytes, over the limit of %d", file, len,
				      MESH_PRODUCT_MAX_BYTES);
	if (!(cp.p = calloc(1, sizeof(*cp.p))) || !yaml_parser_initialize(&parser)) {
		free(cp.p);
		return mesh_error_oom();
	}
	yaml_parser_set_input_string(&parser, data, len);
	if (!yaml_parser_load(&parser, &doc)) {
		error = mesh_error_set(MESH_EINVAL, "%s line %zu: field (syntax): %s%s%s", file,
				       parser.problem_mark.line + 1,
				       parser.problem ? parser.problem : "not YAML",
				       parser.context ? " " : "",
				       parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		mesh_product_free(cp.p);
		return error;
	}
	error = parse_root(&cp, yaml_document_get_root_node(&doc));
	if (error == 0) {
		/* A second document would be ignored: refuse it instead. */
		if (!yaml_parser_load(&parser, &extra))
			error = mesh_error_set(MESH_EINVAL, "%s line %zu: field (syntax): %s", file,
					       parser.problem_mark.line + 1,
					       parser.problem ? parser.problem : "not YAML");
		else {
			yaml_node_t *more = yaml_document_get_root_node(&extra);
			if (more)
				error = fail_at(&cp, more, "(document)",
						"the card is one YAML document, a second one starts here");
			yaml_document_delete(&extra);
		}
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (error < 0) {
		mesh_product_free(cp.p);
		return error;
	}
	*out = cp.p;
	return 0;
}

static void port_free(mesh_product_port *port)
{
	free(port->name);
	free(port->path);
	free(port->contract);
	free(port->product);
	free(port->ref);
}

void mesh_product_free(mesh_product *p)
{
	if (!p)
		return;
	free(p->id);
	free(p->name);
	free(p->version);
	free(p->status);
	free(p->description);
	free(p->owner);
	free(p->team);
	for (size_t i = 0; i < p->contact_count; i++) {
		free(p->contacts[i].name);
		free(p->contacts[i].email);
		free(p->contacts[i].url);
		free(p->contacts[i].role);
	}
	free(p->contacts);
	for (size_t i = 0; i < p->tag_count; i++)
		free(p->tags[i]);
	free(p->tags);
	for (size_t i = 0; i < p->output_count; i++)
		port_free(&p->outputs[i]);
	free(p->outputs);
	for (size_t i = 0; i < p->input_count; i++)
		port_free(&p->inputs[i]);
	free(p->inputs);
	for (size_t i = 0; i < p->custom_count; i++) {
		free(p->custom[i].key);
		free(p->custom[i].value);
	}
	free(p->custom);
	free(p);
}

/* --- loading ------------------------------------------------------------ */

/* The card's entry in tree, through the store's tree cache: every head
 * move asks, and the trees on the way are the ones a commit just built
 * or the mount shows.  1 when found, 0 when absent. */
static int card_entry(mesh_store *store, const mesh_oid *tree, mesh_tree_entry *out)
{
	static const char *const steps[] = { ".mesh", "product.yaml" };
	mesh_treecache *cache = mesh_store_trees(store);
	mesh_oid at = *tree;
	int error;

	for (size_t i = 0; i < 2; i++) {
		mesh_tree_ref *ref = NULL;
		const mesh_tree_entry *e;

		if ((error = mesh_treecache_get(cache, &at, &ref)) < 0)
			return error;
		e = mesh_tree_find(mesh_tree_ref_tree(ref), steps[i]);
		if (e && (i == 1 || e->kind == MESH_KIND_DIR)) {
			*out = *e;
			out->name = NULL;
			at = e->id;
		}
		mesh_treecache_release(cache, ref);
		if (!e || (i == 0 && out->kind != MESH_KIND_DIR))
			return 0;
	}
	return 1;
}

int mesh_product_load(mesh_store *store, const char *domain, const char *label,
		      const mesh_oid *tree, mesh_product **out)
{
	mesh_odb *odb = mesh_store_odb(store);
	mesh_tree_entry e;
	mesh_file_map *map = NULL;
	char file[600];
	char *buf = NULL;
	size_t nread = 0;
	int error;

	*out = NULL;
	snprintf(file, sizeof(file), "%s/%s/%s", domain, label, MESH_PRODUCT_PATH);
	if ((error = card_entry(store, tree, &e)) <= 0)
		return error;
	if (e.kind != MESH_KIND_FILE)
		return mesh_error_set(MESH_EINVAL, "%s line 1: field (file): not a regular file",
				      file);
	if (e.size > MESH_PRODUCT_MAX_BYTES)
		return mesh_error_set(MESH_EINVAL, "%s line 1: field (file): the card is %llu "
				      "bytes, over the limit of %d", file,
				      (unsigned long long)e.size, MESH_PRODUCT_MAX_BYTES);
	if ((error = mesh_file_map_load(odb, &e.id, &map)) < 0)
		return error;
	if (!(buf = malloc(map->size + 1)))
		error = mesh_error_oom();
	else
		error = mesh_file_read(odb, NULL, map, buf, map->size, 0, &nread);
	if (error == 0)
		error = mesh_product_parse(file, buf, nread, out);
	free(buf);
	mesh_file_map_free(map);
	return error;
}

int mesh_product_check_tree(mesh_store *store, const char *file, const mesh_product *p,
			    const mesh_oid *tree)
{
	mesh_tree_entry e;
	int error;

	for (size_t i = 0; i < p->output_count; i++) {
		if ((error = mesh_tree_lookup_path(mesh_store_odb(store), tree, p->outputs[i].path,
						   &e)) == 0)
			continue;
		if (error != MESH_ENOENT && error != MESH_ENOTDIR)
			return error;
		return mesh_error_set(MESH_EINVAL, "%s line %u: field output_ports[%zu].path: "
				      "'%s' does not exist in the branch", file, p->outputs[i].line,
				      i, p->outputs[i].path);
	}
	return 0;
}

/* --- JSON --------------------------------------------------------------- */

static void field_opt(mesh_json *j, const char *key, const char *value)
{
	if (value)
		mesh_json_field_string(j, key, value);
}

static void ports_json(mesh_json *j, const char *key, const mesh_product_port *ports,
		       size_t count)
{
	mesh_json_key(j, key);
	mesh_json_array_begin(j);
	for (size_t i = 0; i < count; i++) {
		mesh_json_object_begin(j);
		field_opt(j, "name", ports[i].name);
		field_opt(j, "product", ports[i].product);
		field_opt(j, "ref", ports[i].ref);
		field_opt(j, "path", ports[i].path);
		field_opt(j, "contract", ports[i].contract);
		mesh_json_object_end(j);
	}
	mesh_json_array_end(j);
}

static void card_members(mesh_json *j, const mesh_product *p)
{
	mesh_json_field_string(j, "id", p->id);
	mesh_json_field_string(j, "name", p->name);
	field_opt(j, "version", p->version);
	mesh_json_field_string(j, "status", p->status);
	field_opt(j, "description", p->description);
	mesh_json_field_string(j, "owner", p->owner);
	field_opt(j, "team", p->team);
	mesh_json_key(j, "contacts");
	mesh_json_array_begin(j);
	for (size_t i = 0; i < p->contact_count; i++) {
		mesh_json_object_begin(j);
		field_opt(j, "name", p->contacts[i].name);
		field_opt(j, "email", p->contacts[i].email);
		field_opt(j, "url", p->contacts[i].url);
		field_opt(j, "role", p->contacts[i].role);
		mesh_json_object_end(j);
	}
	mesh_json_array_end(j);
	mesh_json_key(j, "tags");
	mesh_json_array_begin(j);
	for (size_t i = 0; i < p->tag_count; i++)
		mesh_json_string(j, p->tags[i]);
	mesh_json_array_end(j);
	ports_json(j, "output_ports", p->outputs, p->output_count);
	ports_json(j, "input_ports", p->inputs, p->input_count);
	mesh_json_key(j, "custom");
	mesh_json_object_begin(j);
	for (size_t i = 0; i < p->custom_count; i++)
		mesh_json_field_string(j, p->custom[i].key, p->custom[i].value);
	mesh_json_object_end(j);
}

void mesh_product_json(mesh_json *j, const mesh_product *p)
{
	mesh_json_object_begin(j);
	card_members(j, p);
	mesh_json_object_end(j);
}

/* The card at rev of domain: the tree of its commit. */
static int load_at(mesh_store *store, const char *domain, const char *ref,
		   mesh_oid *commit_id, mesh_product **out)
{
	mesh_rev rev;
	mesh_commit *commit = NULL;
	int error;

	if ((error = mesh_revparse(store, domain, ref, &rev)) < 0 ||
	    (error = mesh_commit_load(mesh_store_odb(store), &rev.commit, &commit)) < 0)
		return error;
	*commit_id = rev.commit;
	error = mesh_product_load(store, domain, ref, &commit->tree, out);
	mesh_commit_free(commit);
	return error;
}

int mesh_product_file(mesh_store *store, const mesh_caller *caller, const char *domain,
		      char **out, size_t *len)
{
	mesh_domain *d = NULL;
	mesh_product *p = NULL;
	mesh_oid commit;
	mesh_json j;
	int error;

	*out = NULL;
	if ((error = mesh_access_check(store, caller, domain, NULL, MESH_ACCESS_READ,
				       MESH_PRODUCT_PATH)) < 0 ||
	    (error = mesh_domain_get(store, domain, &d)) < 0)
		return error;
	if ((error = load_at(store, domain, d->default_branch, &commit, &p)) == 0 && !p)
		error = mesh_error_set(MESH_ENOENT, "%s has no product card on %s", domain,
				       d->default_branch);
	if (error == 0) {
		mesh_json_init(&j);
		mesh_json_object_begin(&j);
		mesh_json_field_string(&j, "domain", domain);
		mesh_json_field_string(&j, "branch", d->default_branch);
		mesh_cmd_json_oid(&j, "commit", &commit);
		card_members(&j, p);
		if ((error = mesh_catalog_comments_json(store, domain, &j)) < 0)
			mesh_json_dispose(&j);
	}
	if (error == 0) {
		mesh_json_object_end(&j);
		if ((error = mesh_json_take(&j, out)) == 0) {
			*len = strlen(*out);
			char *grown = realloc(*out, *len + 2);
			if (!grown) {
				free(*out);
				*out = NULL;
				error = mesh_error_oom();
			} else {
				*out = grown;
				memcpy(*out + (*len)++, "\n", 2);
			}
		}
	}
	mesh_product_free(p);
	mesh_domain_free(d);
	return error;
}

/* --- product show ------------------------------------------------------- */

#define PRODUCT_USAGE "product show DOMAIN [--ref REF] [--json]"
#define READER_DAYS 30

static int readers_json(mesh_cmd *cmd, const char *domain)
{
	mesh_audit_usage *usage = NULL;
	size_t count = 0;
	char name[256];
	int error;

	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	mesh_audit_flush(mesh_store_audit(cmd->env->store));
	if ((error = mesh_audit_usage_get(mesh_store_db(cmd->env->store), domain, READER_DAYS,
					  (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec,
					  &usage, &count)) < 0)
		return error;
	mesh_json_field_int(&cmd->json, "reader_days", READER_DAYS);
	mesh_json_key(&cmd->json, "readers");
	mesh_json_array_begin(&cmd->json);
	for (size_t i = 0; i < count; i++) {
		/* Usage comes by uid then path: one reader per uid. */
		if (i && usage[i].uid == usage[i - 1].uid)
			continue;
		uint64_t opens = 0;
		for (size_t k = i; k < count && usage[k].uid == usage[i].uid; k++)
			opens += usage[k].read_opens;
		mesh_user_name(usage[i].uid, name, sizeof(name));
		mesh_json_object_begin(&cmd->json);
		mesh_json_field_string(&cmd->json, "user", name);
		mesh_json_field_int(&cmd->json, "uid", usage[i].uid);
		mesh_json_field_int(&cmd->json, "read_opens", (int64_t)opens);
		mesh_json_object_end(&cmd->json);
	}
	mesh_json_array_end(&cmd->json);
	mesh_audit_usage_free(usage, count);
	return 0;
}

static int cmd_product(mesh_cmd *cmd)
{
	const char *ref = NULL, *pos[2];
	bool json = false;
	size_t npos = 0;
	mesh_cmd_opt opts[] = {
		{ "--ref", NULL, &ref, NULL },
		{ "--json", NULL, NULL, &json },
	};
	mesh_store *store = cmd->env->store;
	mesh_domain *d = NULL;
	mesh_product *p = NULL;
	mesh_oid commit;
	int error;

	if ((error = mesh_cmd_parse_opts(cmd, 1, opts, 2, pos, 2, &npos, NULL)) < 0 ||
	    (error = mesh_cmd_need_positional(cmd, npos, 2, PRODUCT_USAGE)) < 0)
		return error;
	if (strcmp(pos[0], "show"))
		return mesh_error_set(MESH_EINVAL, "unknown product command '%s' (usage: %s)",
				      pos[0], PRODUCT_USAGE);
	if ((error = mesh_access_check(store, cmd->caller, pos[1], NULL, MESH_ACCESS_READ,
				       MESH_PRODUCT_PATH)) < 0 ||
	    (error = mesh_domain_get(store, pos[1], &d)) < 0)
		return error;
	if (!ref)
		ref = d->default_branch;
	if ((error = load_at(store, pos[1], ref, &commit, &p)) == 0 && !p)
		error = mesh_error_set(MESH_ENOENT, "%s has no product card at %s (%s/%s/%s)",
				       pos[1], ref, pos[1], ref, MESH_PRODUCT_PATH);
	if (error == 0) {
		mesh_json_field_string(&cmd->json, "domain", pos[1]);
		mesh_json_field_string(&cmd->json, "ref", ref);
		mesh_cmd_json_oid(&cmd->json, "commit", &commit);
		mesh_json_key(&cmd->json, "card");
		mesh_product_json(&cmd->json, p);
		if ((error = mesh_lineage_consumers_json(store, cmd->caller, pos[1],
							 &cmd->json)) == 0 &&
		    (error = readers_json(cmd, pos[1])) == 0)
			error = mesh_catalog_comments_json(store, pos[1], &cmd->json);
	}
	mesh_product_free(p);
	mesh_domain_free(d);
	return error;
}

const mesh_cmd_spec mesh_product_cmd_spec = {
	"product", cmd_product, PRODUCT_USAGE,
	"a domain's data-product card, its consumers and readers",
};
