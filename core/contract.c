/*
 * contract.c - data contracts (ODCS v3 subset): parsing with libyaml,
 * writing back as ODCS, and checking datasets in one streaming pass:
 * CSV through libcsv, JSON lines through jansson, Parquet by its footer.
 */
#include "contract.h"
#include "access.h"
#include "diff.h"
#include "error.h"
#include "file.h"
#include "history.h"
#include "import.h"
#include "tree.h"
#include "view.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

/* A contract file is text a person writes: far below this. */
#define CONTRACT_MAX_BYTES (1u << 20)

/* --- the contract ------------------------------------------------------ */

/* Informative string fields, kept only so that export gives them back. */
typedef struct info {
	char *key, *value;
} info;

typedef struct infos {
	info *items;
	size_t count;
} infos;

enum op { OP_NONE, OP_EQ, OP_NE, OP_GT, OP_GE, OP_LT, OP_LE, OP_BETWEEN, OP_NOT_BETWEEN };
static const char *const op_names[] = {
	NULL, "mustBe", "mustNotBe", "mustBeGreaterThan", "mustBeGreaterOrEqualTo",
	"mustBeLessThan", "mustBeLessOrEqualTo", "mustBeBetween", "mustNotBeBetween",
};
static const char *const op_symbols[] = {
	NULL, "=", "!=", ">", ">=", "<", "<=", "between", "not between",
};
#define OP_COUNT (sizeof(op_names) / sizeof(op_names[0]))

enum metric { METRIC_ROWS, METRIC_NULLS, METRIC_DUPLICATES, METRIC_INVALID };

typedef struct quality {
	char *metric_key;      /* "metric" (v3.1) or "rule" (v3.0) */
	char *metric;          /* rowCount, nullValues, duplicateValues, invalidValues */
	enum metric kind;
	size_t *valid_len;     /* of each valid value (0 for null) */
	enum op op;
	double a, b;
	char **valid;          /* invalidValues' arguments.validValues; NULL = null */
	size_t valid_count;
	bool has_valid;
	infos info;
	int line;
} quality;

/* -1: not given (export leaves it out). */
typedef struct property {
	char *name, *logical_type;
	int required, unique, primary_key;
	bool has_min, has_max;
	double min, max;
	quality *quality;
	size_t quality_count;
	infos info;
	int line;
} property;

struct mesh_contract {
	char *name;
	infos top, server, schema;
	char *path, *format;
	property *props;
	size_t prop_count;
	quality *table_quality;
	size_t table_quality_count;
	char **extensions;
	size_t extension_count;
	bool has_extensions, has_max_size, has_required_files, has_freshness;
	uint64_t max_size;
	char **required_files;
	size_t required_count;
	double freshness_value;
	char *freshness_unit, *freshness_property, *freshness_element;
	int64_t freshness_seconds;
};

enum format { FORMAT_CSV, FORMAT_JSONL, FORMAT_PARQUET };

static enum format contract_format(const mesh_contract *c)
{
	if (!strcmp(c->format, "parquet"))
		return FORMAT_PARQUET;
	if (!strcmp(c->format, "csv"))
		return FORMAT_CSV;
	return FORMAT_JSONL;
}

static void infos_free(infos *in)
{
	for (size_t i = 0; i < in->count; i++) {
		free(in->items[i].key);
		free(in->items[i].value);
	}
	free(in->items);
}

static void strings_free(char **list, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(list[i]);
	free(list);
}

static void quality_free(quality *q, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		free(q[i].metric_key);
		free(q[i].metric);
		strings_free(q[i].valid, q[i].valid_count);
		free(q[i].valid_len);
		infos_free(&q[i].info);
	}
	free(q);
}

void mesh_contract_free(mesh_contract *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->prop_count; i++) {
		free(c->props[i].name);
		free(c->props[i].logical_type);
		quality_free(c->props[i].quality, c->props[i].quality_count);
		infos_free(&c->props[i].info);
	}
	free(c->props);
	quality_free(c->table_quality, c->table_quality_count);
	infos_free(&c->top);
	infos_free(&c->server);
	infos_free(&c->schema);
	free(c->name);
	free(c->path);
	free(c->format);
	strings_free(c->extensions, c->extension_count);
	strings_free(c->required_files, c->required_count);
	free(c->freshness_unit);
	free(c->freshness_property);
	free(c->freshness_element);
	free(c);
}

const char *mesh_contract_name(const mesh_contract *c)
{
	return c->name;
}

const char *mesh_contract_pattern(const mesh_contract *c)
{
	return c->path;
}

const char *mesh_contract_unclassified(const mesh_contract *c)
{
	for (size_t i = 0; i < c->prop_count; i++) {
		const infos *in = &c->props[i].info;
		bool classified = false;
		for (size_t j = 0; j < in->count && !classified; j++)
			classified = !strcmp(in->items[j].key, "classification") &&
				     in->items[j].value && *in->items[j].value;
		if (!classified)
			return c->props[i].name;
	}
	return NULL;
}

/* The catalog's words: what a reader would search a dataset by. */
static const char *const text_keys[] = { "name", "physicalName", "businessName", "description" };

static void text_infos(const infos *in, mesh_contract_word_fn fn, void *ctx)
{
	for (size_t i = 0; i < in->count; i++)
		for (size_t k = 0; k < sizeof(text_keys) / sizeof(text_keys[0]); k++)
			if (!strcmp(in->items[i].key, text_keys[k]) && in->items[i].value)
				fn(ctx, in->items[i].value);
}

void mesh_contract_words(const mesh_contract *c, mesh_contract_word_fn fn, void *ctx)
{
	fn(ctx, c->name);
	text_infos(&c->schema, fn, ctx);
	for (size_t i = 0; i < c->prop_count; i++) {
		fn(ctx, c->props[i].name);
		text_infos(&c->props[i].info, fn, ctx);
	}
}

int64_t mesh_contract_freshness(const mesh_contract *c)
{
	return c->has_freshness ? c->freshness_seconds : 0;
}

/* --- parsing ------------------------------------------------------------ */

typedef struct parser {
	yaml_document_t doc;
	const char *name;
} parser;

static int bad(parser *p, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(parser *p, const yaml_node_t *n, const char *fmt, ...)
{
	char text[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return mesh_error_set(MESH_EINVAL, "contract %s, line %zu: %s", p->name,
			      n ? n->start_mark.line + 1 : 0, text);
}

static yaml_node_t *node_at(parser *p, int index)
{
	return yaml_document_get_node(&p->doc, index);
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static bool is_null_scalar(const yaml_node_t *n)
{
	const char *s = scalar(n);

	return s && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (!*s || !strcmp(s, "null") || !strcmp(s, "~"));
}

static int get_string(parser *p, const yaml_node_t *n, const char *key, char **out)
{
	const char *s = scalar(n);

	if (!s)
		return bad(p, n, "'%s' must be a text", key);
	free(*out);
	if (!(*out = strdup(s)))
		return mesh_error_oom();
	return 0;
}

static int get_number(parser *p, const yaml_node_t *n, const char *key, double *out)
{
	const char *s = scalar(n);
	char *end;

	if (!s || !*s)
		return bad(p, n, "'%s' must be a number", key);
	errno = 0;
	*out = strtod(s, &end);
	if (*end || errno || !isfinite(*out))
		return bad(p, n, "'%s' must be a number, not '%s'", key, s);
	return 0;
}

static int get_bool(parser *p, const yaml_node_t *n, const char *key, int *out)
{
	const char *s = scalar(n);

	if (s && !strcmp(s, "true"))
		*out = 1;
	else if (s && !strcmp(s, "false"))
		*out = 0;
	else
		return bad(p, n, "'%s' must be true or false", key);
	return 0;
}

static int info_add(infos *in, const char *key, const char *value)
{
	info *grown = realloc(in->items, (in->count + 1) * sizeof(*grown));

	if (!grown)
		return mesh_error_oom();
	in->items = grown;
	grown[in->count].key = strdup(key);
	grown[in->count].value = strdup(value);
	if (!grown[in->count].key || !grown[in->count].value) {
		free(grown[in->count].key);
		free(grown[in->count].value);
		return mesh_error_oom();
	}
	in->count++;
	return 0;
}

static bool in_list(const char *word, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(word, *list))
			return true;
	return false;
}

/* A key kept as information, when it is one of keys and a text. */
static int maybe_info(parser *p, infos *in, const char *key, const yaml_node_t *v,
		      const char *const *keys, const char *where, bool *taken)
{
	*taken = false;
	if (!in_list(key, keys))
		return 0;
	if (!scalar(v))
		return bad(p, v, "%s '%s' must be a text", where, key);
	*taken = true;
	return info_add(in, key, scalar(v));
}

static int not_in_subset(parser *p, const yaml_node_t *k, const char *where)
{
	return bad(p, k, "%s field '%s' is not in meshfs's ODCS subset", where, scalar(k));
}

typedef int (*pair_fn)(parser *p, void *obj, const char *key, yaml_node_t *k, yaml_node_t *v);

static int each_pair(parser *p, yaml_node_t *map, const char *what, pair_fn fn, void *obj)
{
	int error;

	if (!map || map->type != YAML_MAPPING_NODE)
		return bad(p, map, "%s must be a mapping", what);
	for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = node_at(p, pair->key), *v = node_at(p, pair->value);
		if (!scalar(k))
			return bad(p, k, "%s has a key that is not a text", what);
		if ((error = fn(p, obj, scalar(k), k, v)) < 0)
			return error;
	}
	return 0;
}

static int seq_items(parser *p, yaml_node_t *seq, const char *what, yaml_node_item_t **start,
		     size_t *count)
{
	if (!seq || seq->type != YAML_SEQUENCE_NODE)
		return bad(p, seq, "%s must be a list", what);
	*start = seq->data.sequence.items.start;
	*count = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
	return 0;
}

/* A list of texts (null entries allowed when nulls). */
static int get_strings(parser *p, yaml_node_t *seq, const char *what, bool nulls,
		       char ***out, size_t *count)
{
	yaml_node_item_t *items = NULL;
	size_t n = 0;
	int error;

	if ((error = seq_items(p, seq, what, &items, &n)) < 0)
		return error;
	if (!(*out = calloc(n ? n : 1, sizeof(char *))))
		return mesh_error_oom();
	*count = n;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = node_at(p, items[i]);
		if (nulls && is_null_scalar(item))
			continue;
		if (!scalar(item))
			return bad(p, item, "%s must hold texts", what);
		if (!((*out)[i] = strdup(scalar(item))))
			return mesh_error_oom();
	}
	return 0;
}

static const char *const quality_infos[] = {
	"description", "dimension", "severity", "businessImpact", "name", "unit", "type", NULL,
};

static int quality_arg_pair(parser *p, void *obj, const char *key, yaml_node_t *k, yaml_node_t *v)
{
	quality *q = obj;

	if (strcmp(key, "validValues"))
		return not_in_subset(p, k, "quality arguments");
	q->has_valid = true;
	return get_strings(p, v, "validValues", true, &q->valid, &q->valid_count);
}

static int quality_pair(parser *p, void *obj, const char *key, yaml_node_t *k, yaml_node_t *v)
{
	quality *q = obj;
	bool taken;
	int error;

	if ((error = maybe_info(p, &q->info, key, v, quality_infos, "quality", &taken)) < 0 || taken)
		return error;
	if (!strcmp(key, "metric") || !strcmp(key, "rule")) {
		if ((error = get_string(p, v, key, &q->metric)) < 0)
			return error;
		free(q->metric_key);
		return (q->metric_key = strdup(key)) ? 0 : mesh_error_oom();
	}
	if (!strcmp(key, "arguments"))
		return each_pair(p, v, "quality arguments", quality_arg_pair, q);
	for (size_t i = 1; i < OP_COUNT; i++) {
		if (strcmp(key, op_names[i]))
			continue;
		if (q->op)
			return bad(p, k, "a quality rule has one operator, not '%s' and '%s'",
				   op_names[q->op], key);
		q->op = (enum op)i;
		if (i == OP_BETWEEN || i == OP_NOT_BETWEEN) {
			yaml_node_item_t *items = NULL;
			size_t n = 0;
			if ((error = seq_items(p, v, key, &items, &n)) < 0)
				return error;
			if (n != 2)
				return bad(p, v, "'%s' takes two numbers", key);
			if ((error = get_number(p, node_at(p, items[0]), key, &q->a)) < 0 ||
			    (error = get_number(p, node_at(p, items[1]), key, &q->b)) < 0)
				return error;
			return 0;
		}
		return get_number(p, v, key, &q->a);
	}
	return not_in_subset(p, k, "quality");
}

static int parse_quality(parser *p, yaml_node_t *seq, bool table, quality **out, size_t *count)
{
	static const char *const column_metrics[] = {
		"nullValues", "duplicateValues", "invalidValues", NULL,
	};
	yaml_node_item_t *items = NULL;
	size_t n = 0;
	int error;

	if ((error = seq_items(p, seq, "quality", &items, &n)) < 0)
		return error;
	if (!(*out = calloc(n ? n : 1, sizeof(quality))))
		return mesh_error_oom();
	*count = n;
	for (size_t i = 0; i < n; i++) {
		quality *q = &(*out)[i];
		yaml_node_t *item = node_at(p, items[i]);
		const char *type;
		q->line = (int)item->start_mark.line + 1;
		if ((error = each_pair(p, item, "a quality rule", quality_pair, q)) < 0)
			return error;
		if (!q->metric)
			return bad(p, item, "a quality rule needs a metric");
		if (table ? strcmp(q->metric, "rowCount") : !in_list(q->metric, column_metrics))
			return bad(p, item, "quality metric '%s' is not in meshfs's ODCS subset %s",
				   q->metric, table ? "for a schema object (rowCount)"
				   : "for a property (nullValues, duplicateValues, invalidValues)");
		if (!q->op)
			return bad(p, item, "quality rule '%s' needs an operator (mustBe, "
				   "mustBeLessOrEqualTo, ...)", q->metric);
		if (!strcmp(q->metric, "invalidValues") && !q->has_valid)
			return bad(p, item, "invalidValues needs arguments: validValues");
		q->kind = !strcmp(q->metric, "nullValues") ? METRIC_NULLS :
			  !strcmp(q->metric, "duplicateValues") ? METRIC_DUPLICATES :
			  !strcmp(q->metric, "invalidValues") ? METRIC_INVALID : METRIC_ROWS;
		if (!(q->valid_len = calloc(q->valid_count ? q->valid_count : 1, sizeof(size_t))))
			return mesh_error_oom();
		for (size_t j = 0; j < q->valid_count; j++)
			q->valid_len[j] = q->valid[j] ? strlen(q->valid[j]) : 0;
		for (size_t j = 0; j < q->info.count; j++) {
			type = q->info.items[j].value;
			if (!strcmp(q->info.items[j].key, "type") && strcmp(type, "library"))
				return bad(p, item, "quality type '%s' is not in meshfs's ODCS subset "
					   "(library)", type);
			if (!strcmp(q->info.items[j].key, "unit") && strcmp(type, "rows"))
				return bad(p, item, "quality unit '%s' is not in meshfs's ODCS subset "
					   "(rows)", type);
		}
	}
	return 0;
}

static int options_pair(parser *p, void *obj, const char *key, yaml_node_t *k, yaml_node_t *v)
{
	property *pr = obj;

	if (!strcmp(key, "minimum")) {
		pr->has_min = true;
		return get_number(p, v, key, &pr->min);
	}
	if (!strcmp(key, "maximum")) {
		pr->has_max = true;
		return get_number(p, v, key, &pr->max);
	}
	return not_in_subset(p, k, "logicalTypeOptions");
}

static const char *const property_infos[] = {
	"physicalType", "physicalName", "classification", "description", "businessName", NULL,
};
static const char *const logical_types[] = {
	"string", "date", "timestamp", "time", "number", "integer", "boolean", "object",
	"array", NULL,
};

static int property_pair(parser *p, void *obj, const char *key, yaml_node_t *k, yaml_node_t *v)
{
	property *pr = obj;
	bool taken;
	int error;

	if ((error = maybe_info(p, &pr->info, key, v, property_infos, "property", &taken)) < 0 ||
	    taken)
		return error;
	if (!strcmp(key, "name"))
		return get_string(p, v, key, &pr->name);
	if (!strcmp(key, "logicalType")) {
		if ((error = get_string(p, v, key, &pr->logical_type)) < 0)
			return error;
		if (!in_list(pr->logical_type, logical_types))
			return bad(p, v, "logicalType '%s' is not an ODCS logical type",
				   pr->logical_type);
		return 0;
	}
	if (!strcmp(key, "required"))
		return get_bool(p, v, key, &pr->required);
	if (!strcmp(key, "unique"))
		return get_bool(p, v, key, &pr->unique);
	if (!strcmp(key, "primaryKey"))
		return get_bool(p, v, key, &pr->primary_key);
	if (!strcmp(key, "logicalTypeOptions"))
		return each_pair(p, v, "logicalTypeOptions", options_pair, pr);
	if (!strcmp(key, "quality"))
		return parse_quality(p, v, false, &pr->quality, &pr->quality_count);
	return not_in_subset(p, k, "property");
}

static int parse_properties(parser *p, mesh_contract *c, yaml_node_t *seq)
{
	yaml_node_item_t *items = NULL;
	size_t n = 0;
	int error;

	if ((error = seq_items(p, seq, "properties", &items, &n)) < 0)
		return error;
	if (!(c->props = calloc(n ? n : 1, sizeof(property))))
		return mesh_error_oom();
	c->prop_count = n;
	for (size_t i = 0; i < n; i++) {
		property *pr = &c->props[i];
		yaml_node_t *item = node_at(p, items[i]);
		pr->required = pr->unique = pr->primary_key = -1;
		pr->line = (int)item->start_mark.line + 1;
		if ((error = each_pair(p, item, "a property", property_pair, pr)) < 0)
			return error;
		if (!pr->name)
			return bad(p, item, "a property needs a name");
		for (size_t j = 0; j < i; j++)
			if (!strcmp(c->props[j].name, pr->name))
				return bad(p, item, "property '%s' is there twice", pr->name);
	}
	return 0;
}

static const char *const schema_infos[] = {
	"name", "physicalName", "physicalType", "description", "businessName",
	"dataGranularityDescription", NULL,
};

static int schema_pair(parser *p, void *obj, const char *key, yaml_node_t *k, yaml_node_t *v)
{
	mesh_contract *c = obj;
	bool taken;
	int error;

	if ((error = maybe_info(p, &c->schema, key, v, schema_infos, "schema", &taken)) < 0 ||
	    taken)
		return error;
	if (!strcmp(key, "logicalType")) {
		if (!scalar(v) || strcmp(scalar(v), "object"))
			return bad(p, v, "a schema object's logicalType is 'object'");
		return info_add(&c->schema, key, scalar(v));
	}
	if (!strcmp(key, "properties"))
		return parse_properties(p, c, v);
	if (!strcmp(key, "quality"))
		return parse_quality(p, v, true, &c->table_quality, &c->table_quality_count);
	return not_in_subset(p, k, "schema");
}

static const char *const server_infos[] = {
	"server", "type", "description", "environment", NULL,
};

static int server_pair(parser *p, void *obj, const char *key, yaml_node_t *k, yaml_node_t *v)
{
	mesh_contract *c = obj;
	bool taken;
	int error;

	if ((error = maybe_info(p, &c->server, key, v, server_infos, "server", &taken)) < 0 ||
	    taken)
		return error;
	if (!strcmp(key, "path"))
		return get_string(p, v, key, &c->path);
	if (!strcmp(key, "format")) {
		static const char *const formats[] = { "csv", "json", "jsonl", "parquet", NULL };
		if ((error = get_string(p, v, key, &c->format)) < 0)
			return error;
		if (!in_list(c->format, formats))
			return bad(p, v, "format '%s' is not one meshfs checks (csv, json, jsonl, "
				   "parquet)", c->format);
		return 0;
	}
	return not_in_subset(p, k, "server");
}

/* The one element of a list the subset allows one of. */
static int only_item(parser *p, yaml_node_t *seq, const char *what, yaml_node_t **out)
{
	yaml_node_item_t *items = NULL;
	size_t n = 0;
	int error;

	if ((error = seq_items(p, seq, what, &items, &n)) < 0)
		return error;
	if (n != 1)
		return bad(p, seq, "meshfs's ODCS subset has exactly one entry in '%s' (one dataset "
			   "per contract), not %zu", what, n);
	*out = node_at(p, items[0]);
	return 0;
}

typedef struct custom {
	char *property;
	yaml_node_t *value, *at;
} custom;

static int custom_pair(parser *p, void *obj, const char *key, yaml_node_t *k, yaml_node_t *v)
{
	custom *cu = obj;

	if (!strcmp(key, "property"))
		return get_string(p, v, key, &cu->property);
	if (!strcmp(key, "value")) {
		cu->value = v;
		return 0;
	}
	return not_in_subset(p, k, "customProperties");
}

static int parse_custom(parser *p, mesh_contract *c, yaml_node_t *seq)
{
	yaml_node_item_t *items = NULL;
	size_t n = 0;
	int error = 0;

	if ((error = seq_items(p, seq, "customProperties", &items, &n)) < 0)
		return error;
	for (size_t i = 0; i < n && !error; i++) {
		custom cu = { .at = node_at(p, items[i]) };
		if ((error = each_pair(p, cu.at, "a custom property", custom_pair, &cu)) < 0)
			break;
		if (!cu.property || !cu.value)
			error = bad(p, cu.at, "a custom property needs property and value");
		else if (!strcmp(cu.property, "meshfs.allowedExtensions"))
			error = (c->has_extensions = true,
				 get_strings(p, cu.value, cu.property, false, &c->extensions,
					     &c->extension_count));
		else if (!strcmp(cu.property, "meshfs.requiredFiles"))
			error = (c->has_required_files = true,
				 get_strings(p, cu.value, cu.property, false, &c->required_files,
					     &c->required_count));
		else if (!strcmp(cu.property, "meshfs.maxFileSize")) {
			double size;
			if ((error = get_number(p, cu.value, cu.property, &size)) == 0 &&
			    (size < 0 || size != floor(size)))
				error = bad(p, cu.value, "meshfs.maxFileSize is a number of bytes");
			c->has_max_size = true;
			c->max_size = (uint64_t)size;
		} else
			error = bad(p, cu.at, "custom property '%s' is not one meshfs knows "
				    "(meshfs.allowedExtensions, meshfs.maxFileSize, "
				    "meshfs.requiredFiles)", cu.property);
		free(cu.property);
	}
	return error;
}

typedef struct sla {
	char *property, *unit, *element;
	bool has_value;
	double value;
} sla;

static int sla_pair(parser *p, void *obj, const char *key, yaml_node_t *k, yaml_node_t *v)
{
	sla *s = obj;

	if (!strcmp(key, "property"))
		return get_string(p, v, key, &s->property);
	if (!strcmp(key, "unit"))
		return get_string(p, v, key, &s->unit);
	if (!strcmp(key, "element"))
		return get_string(p, v, key, &s->element);
	if (!strcmp(key, "value")) {
		s->has_value = true;
		return get_number(p, v, key, &s->value);
	}
	return not_in_subset(p, k, "slaProperties");
}

static int64_t unit_seconds(const char *unit)
{
	static const struct { const char *name; int64_t seconds; } units[] = {
		{ "s", 1 }, { "second", 1 }, { "seconds", 1 },
		{ "minute", 60 }, { "minutes", 60 },   /* not "m": month or minute? */
		{ "h", 3600 }, { "hour", 3600 }, { "hours", 3600 },
		{ "d", 86400 }, { "day", 86400 }, { "days", 86400 },
	};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(unit, units[i].name))
			return units[i].seconds;
	return 0;
}

static int parse_sla(parser *p, mesh_contract *c, yaml_node_t *seq)
{
	yaml_node_t *item = NULL;
	sla s = { 0 };
	int error;

	if ((error = only_item(p, seq, "slaProperties", &item)) < 0)
		return error;
	if ((error = each_pair(p, item, "an SLA property", sla_pair, &s)) < 0)
		goto done;
	if (!s.property || (strcmp(s.property, "freshness") && strcmp(s.property, "latency")))
		error = bad(p, item, "meshfs's ODCS subset knows one SLA property: freshness "
			    "(or its ODCS name latency)");
	else if (!s.has_value || s.value <= 0)
		error = bad(p, item, "freshness needs a positive value");
	else if (s.unit && !unit_seconds(s.unit))
		error = bad(p, item, "freshness unit '%s' is not one of s, minutes, h, d", s.unit);
	if (error)
		goto done;
	c->has_freshness = true;
	c->freshness_value = s.value;
	c->freshness_seconds = (int64_t)(s.value * (double)(s.unit ? unit_seconds(s.unit) : 86400));
	c->freshness_unit = s.unit;
	c->freshness_property = s.property;
	c->freshness_element = s.element;
	s.unit = s.property = s.element = NULL;
done:
	free(s.property);
	free(s.unit);
	free(s.element);
	return error;
}

static const char *const top_infos[] = {
	"apiVersion", "kind", "id", "version", "status", "name", "domain", "dataProduct",
	"tenant", "contractCreatedTs", NULL,
};

static int top_pair(parser *p, void *obj, const char *key, yaml_node_t *k, yaml_node_t *v)
{
	mesh_contract *c = obj;
	yaml_node_t *item = NULL;
	bool taken;
	int error;

	if ((error = maybe_info(p, &c->top, key, v, top_infos, "contract", &taken)) < 0 || taken)
		return error;
	if (!strcmp(key, "servers"))
		return (error = only_item(p, v, key, &item)) < 0 ? error :
		       each_pair(p, item, "a server", server_pair, c);
	if (!strcmp(key, "schema"))
		return (error = only_item(p, v, key, &item)) < 0 ? error :
		       each_pair(p, item, "a schema object", schema_pair, c);
	if (!strcmp(key, "customProperties"))
		return parse_custom(p, c, v);
	if (!strcmp(key, "slaProperties"))
		return parse_sla(p, c, v);
	return not_in_subset(p, k, "contract");
}

static const char *info_get(const infos *in, const char *key)
{
	for (size_t i = 0; i < in->count; i++)
		if (!strcmp(in->items[i].key, key))
			return in->items[i].value;
	return NULL;
}

static int validate(parser *p, mesh_contract *c, yaml_node_t *root)
{
	const char *api = info_get(&c->top, "apiVersion"), *kind = info_get(&c->top, "kind");

	if (!api || strncmp(api, "v3.", 3))
		return bad(p, root, "apiVersion must be an ODCS v3 version (v3.0.0 ...), not '%s'",
			   api ? api : "(none)");
	if (!kind || strcmp(kind, "DataContract"))
		return bad(p, root, "kind must be DataContract");
	if (!c->path || !c->format)
		return bad(p, root, "the server needs the dataset's path (a pattern) and format");
	if (!*c->path)
		return bad(p, root, "the server's path is empty");
	return 0;
}

int mesh_contract_parse(const char *name, const char *yaml, size_t len, mesh_contract **out)
{
	yaml_parser_t yp;
	parser p = { .name = name };
	mesh_contract *c;
	yaml_node_t *root;
	int error;

	*out = NULL;
	if (!(c = calloc(1, sizeof(*c))) || !(c->name = strdup(name))) {
		free(c);
		return mesh_error_oom();
	}
	if (!yaml_parser_initialize(&yp)) {
		mesh_contract_free(c);
		return mesh_error_oom();
	}
	yaml_parser_set_input_string(&yp, (const unsigned char *)yaml, len);
	if (!yaml_parser_load(&yp, &p.doc)) {
		error = mesh_error_set(MESH_EINVAL, "contract %s, line %zu: %s", name,
				       yp.problem_mark.line + 1,
				       yp.problem ? yp.problem : "not YAML");
		yaml_parser_delete(&yp);
		mesh_contract_free(c);
		return error;
	}
	yaml_parser_delete(&yp);
	root = yaml_document_get_root_node(&p.doc);
	if (!root)
		error = mesh_error_set(MESH_EINVAL, "contract %s is empty", name);
	else if ((error = each_pair(&p, root, "a contract", top_pair, c)) == 0)
		error = validate(&p, c, root);
	yaml_document_delete(&p.doc);
	if (error < 0) {
		mesh_contract_free(c);
		return error;
	}
	*out = c;
	return 0;
}

/* --- writing ODCS --------------------------------------------------------- */

typedef struct outbuf {
	char *data;
	size_t len, cap;
	bool failed;
} outbuf;

static int out_write(void *ctx, unsigned char *buffer, size_t size)
{
	outbuf *o = ctx;

	if (o->len + size + 1 > o->cap) {
		size_t cap = (o->len + size + 1) * 2;
		char *grown = realloc(o->data, cap);
		if (!grown) {
			o->failed = true;
			return 0;
		}
		o->data = grown;
		o->cap = cap;
	}
	memcpy(o->data + o->len, buffer, size);
	o->len += size;
	o->data[o->len] = '\0';
	return 1;
}

typedef struct emitter {
	yaml_emitter_t e;
	bool failed;
} emitter;

static void emit_event(emitter *em, yaml_event_t *ev, int made)
{
	if (em->failed || !made || !yaml_emitter_emit(&em->e, ev))
		em->failed = true;
}

/* Texts YAML would read as another type go quoted. */
static bool needs_quotes(const char *s)
{
	static const char *const words[] = {
		"", "null", "Null", "NULL", "~", "true", "True", "TRUE", "false", "False", "FALSE",
		"yes", "Yes", "no", "No", "on", "On", "off", "Off", NULL,
	};
	char *end;

	if (in_list(s, words))
		return true;
	(void)strtod(s, &end);
	return end != s && !*end;
}

static void emit_scalar(emitter *em, const char *s, yaml_scalar_style_t style)
{
	yaml_event_t ev;

	emit_event(em, &ev, yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s,
							 (int)strlen(s), 1, 1, style));
}

static void emit_text(emitter *em, const char *s)
{
	emit_scalar(em, s, needs_quotes(s) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
}

static void emit_number(emitter *em, double v)
{
	char text[64];

	if (v == floor(v) && fabs(v) < 1e15)
		snprintf(text, sizeof(text), "%.0f", v);
	else
		snprintf(text, sizeof(text), "%.17g", v);
	emit_scalar(em, text, YAML_PLAIN_SCALAR_STYLE);
}

static void emit_map(emitter *em, bool begin)
{
	yaml_event_t ev;

	if (begin)
		emit_event(em, &ev, yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
									YAML_BLOCK_MAPPING_STYLE));
	else
		emit_event(em, &ev, yaml_mapping_end_event_initialize(&ev));
}

static void emit_seq(emitter *em, bool begin, bool flow)
{
	yaml_event_t ev;

	if (begin)
		emit_event(em, &ev, yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
			flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE));
	else
		emit_event(em, &ev, yaml_sequence_end_event_initialize(&ev));
}

static void emit_infos(emitter *em, const infos *in)
{
	for (size_t i = 0; i < in->count; i++) {
		emit_text(em, in->items[i].key);
		emit_text(em, in->items[i].value);
	}
}

static void emit_strings(emitter *em, char *const *list, size_t count)
{
	emit_seq(em, true, true);
	for (size_t i = 0; i < count; i++) {
		if (list[i])
			emit_text(em, list[i]);
		else
			emit_scalar(em, "null", YAML_PLAIN_SCALAR_STYLE);
	}
	emit_seq(em, false, true);
}

static void emit_quality(emitter *em, const quality *q, size_t count)
{
	emit_text(em, "quality");
	emit_seq(em, true, false);
	for (size_t i = 0; i < count; i++) {
		emit_map(em, true);
		emit_text(em, q[i].metric_key);
		emit_text(em, q[i].metric);
		emit_text(em, op_names[q[i].op]);
		if (q[i].op == OP_BETWEEN || q[i].op == OP_NOT_BETWEEN) {
			emit_seq(em, true, true);
			emit_number(em, q[i].a);
			emit_number(em, q[i].b);
			emit_seq(em, false, true);
		} else {
			emit_number(em, q[i].a);
		}
		if (q[i].has_valid) {
			emit_text(em, "arguments");
			emit_map(em, true);
			emit_text(em, "validValues");
			emit_strings(em, q[i].valid, q[i].valid_count);
			emit_map(em, false);
		}
		emit_infos(em, &q[i].info);
		emit_map(em, false);
	}
	emit_seq(em, false, false);
}

static void emit_bool(emitter *em, const char *key, int value)
{
	if (value < 0)
		return;
	emit_text(em, key);
	emit_scalar(em, value ? "true" : "false", YAML_PLAIN_SCALAR_STYLE);
}

static void emit_property(emitter *em, const property *pr)
{
	emit_map(em, true);
	emit_text(em, "name");
	emit_text(em, pr->name);
	if (pr->logical_type) {
		emit_text(em, "logicalType");
		emit_text(em, pr->logical_type);
	}
	emit_bool(em, "required", pr->required);
	emit_bool(em, "unique", pr->unique);
	emit_bool(em, "primaryKey", pr->primary_key);
	emit_infos(em, &pr->info);
	if (pr->has_min || pr->has_max) {
		emit_text(em, "logicalTypeOptions");
		emit_map(em, true);
		if (pr->has_min) {
			emit_text(em, "minimum");
			emit_number(em, pr->min);
		}
		if (pr->has_max) {
			emit_text(em, "maximum");
			emit_number(em, pr->max);
		}
		emit_map(em, false);
	}
	if (pr->quality_count)
		emit_quality(em, pr->quality, pr->quality_count);
	emit_map(em, false);
}

static void emit_custom(emitter *em, const mesh_contract *c)
{
	if (!c->has_extensions && !c->has_max_size && !c->has_required_files)
		return;
	emit_text(em, "customProperties");
	emit_seq(em, true, false);
	if (c->has_extensions) {
		emit_map(em, true);
		emit_text(em, "property");
		emit_text(em, "meshfs.allowedExtensions");
		emit_text(em, "value");
		emit_strings(em, c->extensions, c->extension_count);
		emit_map(em, false);
	}
	if (c->has_max_size) {
		emit_map(em, true);
		emit_text(em, "property");
		emit_text(em, "meshfs.maxFileSize");
		emit_text(em, "value");
		emit_number(em, (double)c->max_size);
		emit_map(em, false);
	}
	if (c->has_required_files) {
		emit_map(em, true);
		emit_text(em, "property");
		emit_text(em, "meshfs.requiredFiles");
		emit_text(em, "value");
		emit_strings(em, c->required_files, c->required_count);
		emit_map(em, false);
	}
	emit_seq(em, false, false);
}

static void emit_contract(emitter *em, const mesh_contract *c)
{
	emit_map(em, true);
	emit_infos(em, &c->top);
	emit_text(em, "servers");
	emit_seq(em, true, false);
	emit_map(em, true);
	emit_infos(em, &c->server);
	emit_text(em, "path");
	emit_text(em, c->path);
	emit_text(em, "format");
	emit_text(em, c->format);
	emit_map(em, false);
	emit_seq(em, false, false);
	emit_text(em, "schema");
	emit_seq(em, true, false);
	emit_map(em, true);
	emit_infos(em, &c->schema);
	emit_text(em, "properties");
	emit_seq(em, true, false);
	for (size_t i = 0; i < c->prop_count; i++)
		emit_property(em, &c->props[i]);
	emit_seq(em, false, false);
	if (c->table_quality_count)
		emit_quality(em, c->table_quality, c->table_quality_count);
	emit_map(em, false);
	emit_seq(em, false, false);
	emit_custom(em, c);
	if (c->has_freshness) {
		emit_text(em, "slaProperties");
		emit_seq(em, true, false);
		emit_map(em, true);
		emit_text(em, "property");
		emit_text(em, c->freshness_property);
		emit_text(em, "value");
		emit_number(em, c->freshness_value);
		if (c->freshness_unit) {
			emit_text(em, "unit");
			emit_text(em, c->freshness_unit);
		}
		if (c->freshness_element) {
			emit_text(em, "element");
			emit_text(em, c->freshness_element);
		}
		emit_map(em, false);
		emit_seq(em, false, false);
	}
	emit_map(em, false);
}

int mesh_contract_emit(const mesh_contract *c, char **yaml, size_t *len)
{
	outbuf o = { 0 };
	emitter em = { 0 };
	yaml_event_t ev;

	*yaml = NULL;
	if (!yaml_emitter_initialize(&em.e))
		return mesh_error_oom();
	yaml_emitter_set_output(&em.e, out_write, &o);
	yaml_emitter_set_unicode(&em.e, 1);
	yaml_emitter_set_width(&em.e, 100);
	emit_event(&em, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
	emit_event(&em, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1));
	emit_contract(&em, c);
	emit_event(&em, &ev, yaml_document_end_event_initialize(&ev, 1));
	emit_event(&em, &ev, yaml_stream_end_event_initialize(&ev));
	yaml_emitter_delete(&em.e);
	if (em.failed || o.failed || !o.data) {
		free(o.data);
		return mesh_error_set(MESH_ENOMEM, "contract %s: cannot write its YAML", c->name);
	}
	*yaml = o.data;
	*len = o.len;
	return 0;
}

/* --- loading from a tree ---------------------------------------------------- */

void mesh_contract_list_free(mesh_contract **list, size_t count)
{
	for (size_t i = 0; i < count; i++)
		mesh_contract_free(list[i]);
	free(list);
}

/* The whole of a small file (NUL-terminated, caller frees). */
static int read_small(mesh_odb *odb, const mesh_oid *map_id, uint64_t size, const char *path,
		      char **out)
{
	mesh_file_map *map = NULL;
	size_t n = 0;
	char *buf;
	int error;

	*out = NULL;
	if (size > CONTRACT_MAX_BYTES)
		return mesh_error_set(MESH_EINVAL, "%s: %llu bytes, a contract has at most %u", path,
				      (unsigned long long)size, CONTRACT_MAX_BYTES);
	if (!(buf = malloc(size + 1)))
		return mesh_error_oom();
	if ((error = mesh_file_map_load(odb, map_id, &map)) == 0)
		error = mesh_file_read(odb, NULL, map, buf, size, 0, &n);
	mesh_file_map_free(map);
	if (error < 0) {
		free(buf);
		return error;
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
}

int mesh_contract_load_tree(mesh_odb *odb, const mesh_oid *tree, mesh_contract ***out,
			    size_t *count)
{
	mesh_tree_entry dir;
	mesh_tree *t = NULL;
	mesh_contract **list = NULL;
	size_t n = 0;
	int error;

	*out = NULL;
	*count = 0;
	if ((error = mesh_tree_lookup_path(odb, tree, MESH_CONTRACT_DIR, &dir)) < 0)
		return error == MESH_ENOENT || error == MESH_ENOTDIR ? (mesh_error_clear(), 0) : error;
	if (dir.kind != MESH_KIND_DIR || (error = mesh_tree_load(odb, &dir.id, &t)) < 0)
		return dir.kind != MESH_KIND_DIR ? 0 : error;
	if (!(list = calloc(t->count ? t->count : 1, sizeof(*list)))) {
		mesh_tree_free(t);
		return mesh_error_oom();
	}
	for (size_t i = 0; i < t->count && !error; i++) {
		const mesh_tree_entry *e = &t->entries[i];
		size_t nlen = strlen(e->name);
		char path[512], name[256], *text;
		if (e->kind != MESH_KIND_FILE || nlen <= 5 || nlen - 5 >= sizeof(name) ||
		    strcmp(e->name + nlen - 5, ".yaml"))
			continue;
		memcpy(name, e->name, nlen - 5);
		name[nlen - 5] = '\0';
		snprintf(path, sizeof(path), "%s/%s", MESH_CONTRACT_DIR, e->name);
		if ((error = read_small(odb, &e->id, e->size, path, &text)) == 0) {
			error = mesh_contract_parse(name, text, strlen(text), &list[n]);
			free(text);
			n += error == 0;
		}
	}
	mesh_tree_free(t);
	if (error < 0) {
		mesh_contract_list_free(list, n);
		return error;
	}
	*out = list;
	*count = n;
	return 0;
}

/* --- reports ------------------------------------------------------------------ */

void mesh_contract_report_init(mesh_contract_report *r)
{
	memset(r, 0, sizeof(*r));
}

void mesh_contract_report_dispose(mesh_contract_report *r)
{
	for (size_t i = 0; i < r->count; i++) {
		mesh_contract_failure *f = &r->failures[i];
		free(f->contract);
		free(f->file);
		free(f->column);
		free(f->rule);
		free(f->detail);
		for (size_t j = 0; j < f->example_count; j++)
			free(f->values[j]);
	}
	free(r->failures);
	memset(r, 0, sizeof(*r));
}

/* An offending value, or what stands for it. */
typedef struct example {
	char *value;
	uint64_t row;
} example;

static int report_add(mesh_contract_report *r, const char *contract, const char *file,
		      const char *column, const char *rule, const char *detail,
		      example *examples, size_t nex, uint64_t count)
{
	mesh_contract_failure *f;

	if (r->count == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 8;
		mesh_contract_failure *grown = realloc(r->failures, cap * sizeof(*grown));
		if (!grown)
			return mesh_error_oom();
		r->failures = grown;
		r->cap = cap;
	}
	f = &r->failures[r->count];
	memset(f, 0, sizeof(*f));
	f->contract = strdup(contract);
	f->file = strdup(file);
	f->column = strdup(column ? column : "");
	f->rule = strdup(rule);
	f->detail = strdup(detail ? detail : "");
	f->count = count;
	r->count++;
	for (size_t i = 0; i < nex && i < MESH_CONTRACT_EXAMPLES; i++) {
		f->values[i] = examples[i].value;
		f->rows[i] = examples[i].row;
		examples[i].value = NULL;
		f->example_count++;
	}
	if (!f->contract || !f->file || !f->column || !f->rule || !f->detail)
		return mesh_error_oom();
	return 0;
}

/* A file rule's failure: one value, for the file as a whole. */
static int report_file(mesh_contract_report *r, const mesh_contract *c, const char *file,
		       const char *rule, const char *value, const char *detail)
{
	example ex = { strdup(value), 0 };

	if (!ex.value)
		return mesh_error_oom();
	return report_add(r, c->name, file, "", rule, detail, &ex, 1, 1);
}

void mesh_contract_report_json(const mesh_contract_report *r, mesh_json *j)
{
	mesh_json_key(j, "failures");
	mesh_json_array_begin(j);
	for (size_t i = 0; i < r->count; i++) {
		const mesh_contract_failure *f = &r->failures[i];
		mesh_json_object_begin(j);
		mesh_json_field_string(j, "contract", f->contract);
		mesh_json_field_string(j, "file", f->file);
		mesh_json_field_string(j, "column", f->column);
		mesh_json_field_string(j, "rule", f->rule);
		mesh_json_field_string(j, "detail", f->detail);
		mesh_json_field_int(j, "count", (int64_t)f->count);
		mesh_json_key(j, "values");
		mesh_json_array_begin(j);
		for (size_t k = 0; k < f->example_count; k++) {
			mesh_json_object_begin(j);
			mesh_json_field_int(j, "row", (int64_t)f->rows[k]);
			mesh_json_field_string(j, "value", f->values[k]);
			mesh_json_object_end(j);
		}
		mesh_json_array_end(j);
		mesh_json_object_end(j);
	}
	mesh_json_array_end(j);
}

int mesh_contract_report_error(const mesh_contract_report *r, const char *what)
{
	char msg[960];
	size_t pos = 0;

	if (r->count == 0)
		return 0;
#define APPEND(...) do { \
		if (pos < sizeof(msg)) \
			pos += (size_t)snprintf(msg + pos, sizeof(msg) - pos, __VA_ARGS__); \
	} while (0)
	APPEND("%s: %zu contract rule%s broken:", what, r->count, r->count == 1 ? "" : "s");
	for (size_t i = 0; i < r->count && i < 4; i++) {
		const mesh_contract_failure *f = &r->failures[i];
		APPEND("%s %s", i ? ";" : "", f->file);
		if (*f->column)
			APPEND(" column '%s'", f->column);
		APPEND(" rule %s (contract %s)", f->rule, f->contract);
		if (*f->detail)
			APPEND(": %s", f->detail);
		for (size_t k = 0; k < f->example_count && k < 3; k++) {
			if (f->rows[k])
				APPEND("%s value '%.40s' (row %llu)", k ? "," : ":", f->values[k],
				       (unsigned long long)f->rows[k]);
			else
				APPEND("%s %.60s", k ? "," : ":", f->values[k]);
		}
		if (f->count > f->example_count && f->example_count)
			APPEND(" (%llu in all)", (unsigned long long)f->count);
	}
	if (r->count > 4)
		APPEND("; and %zu more", r->count - 4);
#undef APPEND
	return mesh_error_set(MESH_EINVAL, "%s", msg);
}

/* --- one pass over a file ------------------------------------------------------- */

/* The values of a key column seen so far, the bytes in an arena
 * (duplicates need the values, not only hashes), each as a 4-byte length
 * and the bytes.  A key column mostly comes in ascending order (ids,
 * times): a value above every one before it cannot be a duplicate, so
 * it only joins the run, a sorted list of entries, at the cost of one
 * comparison with the last.  The others go to open addressing over
 * hashes; with millions of keys nearly every probe misses the cache, so
 * they are added in batches whose slots are prefetched first, and each
 * is also looked up in the run (a binary search).  The slots never hold
 * a run's value: each hashed value was below the run's last when it
 * came, and the run only grows upwards. */
#define STRSET_BATCH 32

typedef struct strset_slot {
	uint64_t hash;         /* 0: empty */
	const char *entry;     /* in the arena: uint32 length, bytes */
} strset_slot;

typedef struct strset_pending {
	uint64_t hash;
	const char *entry;
	uint64_t row;
} strset_pending;

typedef struct strset {
	strset_slot *slots;
	size_t cap, count;
	char **blocks, *cur;
	size_t block_count, block_used, block_size;
	strset_pending pending[STRSET_BATCH];
	size_t npending;
	/* The run: ascending values in blocks of RUN_BLOCK, front-coded
	 * (varint shared prefix, varint length of the rest, the rest);
	 * run_index holds where each block starts. */
	unsigned char *run;
	size_t run_used, run_cap, run_count;
	size_t *run_index;
	size_t run_blocks, run_index_cap;
	char *run_last, *run_scratch;   /* the last value; room to decode one */
	size_t run_last_len, run_last_cap, run_scratch_cap;
	uint64_t hashed;       /* values that went the hash's way */
} strset;

#define RUN_BLOCK 16

/* Arena blocks grow from the first to the last size: a small file
 * takes little, a big one few blocks on huge pages. */
#define ARENA_BLOCK_FIRST (1u << 20)
#define ARENA_BLOCK_LAST (32u << 20)
#define HUGE_PAGE (2u << 20)

/* Eight bytes a step, then a final mix (a key column holds millions). */
static uint64_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ len, w;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, s + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 29;
	}
	if (i < len) {
		w = 0;
		memcpy(&w, s + i, len - i);
		h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	}
	h ^= h >> 32;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 29;
	return h | 1;
}

static void strset_free(strset *s)
{
	for (size_t i = 0; i < s->block_count; i++)
		free(s->blocks[i]);
	free(s->blocks);
	free(s->slots);
	free(s->run);
	free(s->run_index);
	free(s->run_last);
	free(s->run_scratch);
}

static size_t slot_of(uint64_t hash, size_t cap)
{
	return (size_t)(hash >> 1) & (cap - 1);
}

/* Memory for free(); a big piece on huge pages: random probes would
 * otherwise miss the TLB as well as the cache, and in a virtual machine
 * each 4 KiB page's first touch is a costly fault. */
static void *big_alloc(size_t bytes)
{
	void *p;

	if (bytes < HUGE_PAGE)
		return malloc(bytes ? bytes : 1);
	if (posix_memalign(&p, HUGE_PAGE, bytes) != 0)
		return NULL;
	(void)madvise(p, bytes, MADV_HUGEPAGE);
	return p;
}

static strset_slot *slots_new(size_t cap)
{
	size_t bytes = cap * sizeof(strset_slot);
	void *p = big_alloc(bytes);

	if (p)
		memset(p, 0, bytes);
	return p;
}

/* Rehashes into at least want slots (a power of two). */
static int strset_resize(strset *s, size_t want)
{
	size_t cap = 1024;
	strset_slot *slots;

	while (cap < want)
		cap *= 2;
	if (cap <= s->cap)
		return 0;
	if (!(slots = slots_new(cap)))
		return mesh_error_oom();

	for (size_t i = 0; i < s->cap; i++) {
		if (!s->slots[i].hash)
			continue;
		size_t j = slot_of(s->slots[i].hash, cap);
		while (slots[j].hash)
			j = (j + 1) & (cap - 1);
		slots[j] = s->slots[i];
	}
	free(s->slots);
	s->slots = slots;
	s->cap = cap;
	return 0;
}

/* The value as an arena entry (length, bytes). */
static const char *arena_copy(strset *s, const char *text, uint32_t len)
{
	size_t need = sizeof(len) + len;
	bool own = need > ARENA_BLOCK_FIRST / 4;   /* a huge value gets a block of its own */
	char *dst;

	if (own || !s->cur || s->block_used + need > s->block_size) {
		size_t size = !s->block_size ? ARENA_BLOCK_FIRST :
			      s->block_size < ARENA_BLOCK_LAST ? s->block_size * 2 : s->block_size;
		char **grown = realloc(s->blocks, (s->block_count + 1) * sizeof(char *));
		if (!grown)
			return NULL;
		s->blocks = grown;
		if (!(dst = own ? malloc(need) : big_alloc(size)))
			return NULL;
		s->blocks[s->block_count++] = dst;
		if (!own) {
			s->cur = dst;
			s->block_used = 0;
			s->block_size = size;
		}
	}
	if (!own) {
		dst = s->cur + s->block_used;
		s->block_used += need;
	}
	memcpy(dst, &len, sizeof(len));
	memcpy(dst + sizeof(len), text, len);
	return dst;
}

static uint32_t entry_len(const char *entry)
{
	uint32_t len;

	memcpy(&len, entry, sizeof(len));
	return len;
}

/* *seen: an equal value was there already. */
static int strset_insert(strset *s, uint64_t h, const char *entry, bool *seen)
{
	uint32_t len = entry_len(entry);
	size_t j;
	int error;

	*seen = false;
	/* At most 3/4 full: linear probing stays short. */
	if ((s->count + 1) * 4 > s->cap * 3 && (error = strset_resize(s, s->cap * 2)) < 0)
		return error;
	for (j = slot_of(h, s->cap); s->slots[j].hash; j = (j + 1) & (s->cap - 1)) {
		if (s->slots[j].hash == h && entry_len(s->slots[j].entry) == len &&
		    !memcmp(s->slots[j].entry + sizeof(len), entry + sizeof(len), len)) {
			*seen = true;
			return 0;
		}
	}
	s->slots[j].hash = h;
	s->slots[j].entry = entry;
	s->count++;
	return 0;
}

/* Byte order, a prefix first: <0, 0, >0 as a is below, equal to or
 * above b. */
static int bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	return c ? c : (alen > blen) - (alen < blen);
}

static size_t varint_put(unsigned char *p, uint64_t v)
{
	size_t n = 0;

	for (; v >= 0x80; v >>= 7)
		p[n++] = (unsigned char)(v | 0x80);
	p[n++] = (unsigned char)v;
	return n;
}

static uint64_t varint_get(const unsigned char **p)
{
	uint64_t v = 0;
	int shift = 0;

	for (; **p & 0x80; (*p)++, shift += 7)
		v |= (uint64_t)(**p & 0x7f) << shift;
	v |= (uint64_t)*(*p)++ << shift;
	return v;
}

/* Decodes the entries of one block of the run, from its start, until
 * one is at or above text: whether it equals it. */
static bool run_block_has(const strset *s, size_t block, const char *text, size_t len)
{
	const unsigned char *p = s->run + s->run_index[block];
	const unsigned char *end = block + 1 < s->run_blocks ? s->run + s->run_index[block + 1]
							     : s->run + s->run_used;
	char *value = s->run_scratch;
	size_t vlen = 0;

	while (p < end) {
		size_t shared = (size_t)varint_get(&p), rest = (size_t)varint_get(&p);
		memcpy(value + shared, p, rest);
		p += rest;
		vlen = shared + rest;
		int c = bytes_cmp(value, vlen, text, len);
		if (c >= 0)
			return c == 0;
	}
	return false;
}

static bool run_has(const strset *s, const char *text, size_t len)
{
	size_t lo = 0, hi = s->run_blocks;

	if (!s->run_count || bytes_cmp(s->run_last, s->run_last_len, text, len) < 0)
		return false;
	/* The last block whose first value is at or below text. */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		const unsigned char *p = s->run + s->run_index[mid];
		size_t shared = (size_t)varint_get(&p), first = (size_t)varint_get(&p);
		(void)shared;   /* 0: a block starts with a whole value */
		if (bytes_cmp((const char *)p, first, text, len) <= 0)
			lo = mid;
		else
			hi = mid;
	}
	return run_block_has(s, lo, text, len);
}

/* Room for need more bytes (of the run, its index, the last value). */
static int grow(void **buf, size_t *cap, size_t used, size_t need, size_t unit)
{
	size_t want = *cap ? *cap : 1024;
	void *grown;

	if (used + need <= *cap)
		return 0;
	while (want < used + need)
		want *= 2;
	if (!(grown = big_alloc(want * unit)))
		return mesh_error_oom();
	if (used)
		memcpy(grown, *buf, used * unit);
	free(*buf);
	*buf = grown;
	*cap = want;
	return 0;
}

/* Appends a value above all in the run: the first of a block whole,
 * the others after the prefix they share with the one before. */
static int run_append(strset *s, const char *text, size_t len)
{
	bool first = s->run_count % RUN_BLOCK == 0;
	size_t shared = 0;
	int error;

	if (!first)
		while (shared < len && shared < s->run_last_len && s->run_last[shared] == text[shared])
			shared++;
	if ((error = grow((void **)&s->run, &s->run_cap, s->run_used, len - shared + 20, 1)) < 0 ||
	    (first && (error = grow((void **)&s->run_index, &s->run_index_cap, s->run_blocks, 1,
				    sizeof(*s->run_index))) < 0) ||
	    (error = grow((void **)&s->run_last, &s->run_last_cap, s->run_last_len,
			  len > s->run_last_len ? len - s->run_last_len : 0, 1)) < 0 ||
	    (error = grow((void **)&s->run_scratch, &s->run_scratch_cap, 0, len, 1)) < 0)
		return error;
	if (first)
		s->run_index[s->run_blocks++] = s->run_used;
	s->run_used += varint_put(s->run + s->run_used, shared);
	s->run_used += varint_put(s->run + s->run_used, len - shared);
	memcpy(s->run + s->run_used, text + shared, len - shared);
	s->run_used += len - shared;
	memcpy(s->run_last + shared, text + shared, len - shared);
	s->run_last_len = len;
	s->run_count++;
	return 0;
}

/* Adds a value (its row for the report): to the run when it is above
 * all before it, else to the batch of the hash, whose caller flushes it
 * when full. */
static int strset_push(strset *s, const char *text, size_t len, uint64_t row)
{
	const char *entry;
	uint64_t h;

	if (len > UINT32_MAX)
		len = UINT32_MAX;   /* compared by its first 4 GiB */
	if (!s->run_count || bytes_cmp(s->run_last, s->run_last_len, text, len) < 0)
		return run_append(s, text, len);
	if (!(entry = arena_copy(s, text, (uint32_t)len)))
		return mesh_error_oom();
	h = hash_bytes(text, len);
	if (s->cap)
		__builtin_prefetch(&s->slots[slot_of(h, s->cap)]);
	s->pending[s->npending++] = (strset_pending){ h, entry, row };
	s->hashed++;
	return 0;
}

/* What one rule saw: how many values broke it, the first few. */
typedef struct tally {
	uint64_t count;
	size_t nex;
	example ex[MESH_CONTRACT_EXAMPLES];
} tally;

static int tally_add(tally *t, const char *value, size_t len, uint64_t row)
{
	t->count++;
	if (t->nex == MESH_CONTRACT_EXAMPLES)
		return 0;
	if (len > 200)
		len = 200;
	if (!(t->ex[t->nex].value = value ? strndup(value, len) : strdup("(null)")))
		return mesh_error_oom();
	t->ex[t->nex++].row = row;
	return 0;
}

static void tally_free(tally *t)
{
	for (size_t i = 0; i < t->nex; i++)
		free(t->ex[i].value);
}

enum kind { KIND_TEXT, KIND_NUMBER, KIND_INTEGER, KIND_BOOLEAN };

typedef struct column {
	const property *p;
	enum kind kind;
	bool present, keyed, need_set;
	uint64_t last_row;
	tally required, unique, type, minimum, maximum;
	tally *quality;        /* one per p->quality */
	strset seen;
} column;

typedef struct checker {
	const mesh_contract *c;
	const char *path;
	mesh_contract_report *report;
	column *cols;
	column **by_field;     /* CSV field index -> column, or NULL */
	size_t field_count;
	char **header;
	size_t header_count, header_cap;
	uint64_t row;          /* data rows so far */
	size_t field;
	bool header_done, broken;
	int error;
	struct csv_parser csv;
	bool csv_ready;
	char *line;            /* JSON lines: a line cut by a chunk's end */
	size_t line_len, line_cap;
	json_error_t jerr;
	tally syntax;
} checker;

static bool is_key(const property *p)
{
	return p->unique == 1 || p->primary_key == 1;
}

static bool is_required(const property *p)
{
	return p->required == 1 || p->primary_key == 1;
}

static enum kind kind_of(const property *p)
{
	if (!p->logical_type)
		return KIND_TEXT;
	if (!strcmp(p->logical_type, "number"))
		return KIND_NUMBER;
	if (!strcmp(p->logical_type, "integer"))
		return KIND_INTEGER;
	if (!strcmp(p->logical_type, "boolean"))
		return KIND_BOOLEAN;
	return KIND_TEXT;
}

static bool valid_value(const quality *q, const char *v, size_t len)
{
	for (size_t i = 0; i < q->valid_count; i++) {
		if (!v ? !q->valid[i] || !*q->valid[i]
		       : q->valid[i] && q->valid_len[i] == len && (!len || q->valid[i][0] == v[0]) &&
			 !memcmp(q->valid[i], v, len))
			return true;
	}
	return false;
}

/* A number as strtod reads it (out NULL: only whether it is one); plain
 * integers and decimals (nearly every value of a CSV) without its cost. */
static bool parse_number(const char *v, size_t len, enum kind kind, double *out)
{
	char num[64], *end;
	size_t i = v[0] == '-' || v[0] == '+';
	int64_t n = 0;

	if (len > i && len - i <= 16) {
		size_t digits = 0, frac = 0;
		bool dot = false;
		for (; i < len; i++) {
			if (v[i] >= '0' && v[i] <= '9') {
				n = n * 10 + (v[i] - '0');
				digits++;
				frac += dot;
			} else if (v[i] == '.' && !dot && kind == KIND_NUMBER) {
				dot = true;
			} else {
				break;
			}
		}
		/* At most 15 digits: n and 10^frac are exact doubles and one
		 * division rounds correctly, as strtod would. */
		if (i == len && digits && digits <= 15) {
			static const double pow10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
							1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15 };
			double d;
			if (!out)
				return true;   /* only whether it is a number */
			d = (double)n / pow10[frac];
			*out = v[0] == '-' ? -d : d;
			return true;
		}
	}
	double d;

	if (!len || len >= sizeof(num))
		return false;
	memcpy(num, v, len);
	num[len] = '\0';
	errno = 0;
	d = strtod(num, &end);
	if (out)
		*out = d;
	return !*end && !errno && isfinite(d) && (kind != KIND_INTEGER || d == floor(d));
}

/* Adds the queued values of a key column, tallying the duplicates. */
static int column_flush(column *k)
{
	strset *set = &k->seen;
	int error = 0;
	bool seen;

	for (size_t i = 0; i < set->npending && !error; i++) {
		const strset_pending *q = &set->pending[i];
		const char *text = q->entry + sizeof(uint32_t);
		uint32_t len = entry_len(q->entry);
		seen = run_has(set, text, len);
		if (!seen && (error = strset_insert(set, q->hash, q->entry, &seen)) < 0)
			break;
		if (!seen)
			continue;
		if (k->keyed && (error = tally_add(&k->unique, text, len, q->row)) < 0)
			break;
		for (size_t j = 0; j < k->p->quality_count && !error; j++)
			if (k->p->quality[j].kind == METRIC_DUPLICATES)
				error = tally_add(&k->quality[j], text, len, q->row);
	}
	set->npending = 0;
	return error;
}

/* One value of a column (v NULL: null) at a data row. */
static int column_value(column *k, const char *v, size_t len, uint64_t row)
{
	const property *p = k->p;
	int error;

	k->last_row = row;
	for (size_t i = 0; i < p->quality_count; i++) {
		const quality *q = &p->quality[i];
		if ((q->kind == METRIC_NULLS ? !v :
		     q->kind == METRIC_INVALID && !valid_value(q, v, len)) &&
		    (error = tally_add(&k->quality[i], v, len, row)) < 0)
			return error;
	}
	if (!v)
		return is_required(p) ? tally_add(&k->required, NULL, 0, row) : 0;
	if (k->kind != KIND_TEXT) {
		double d = 0;
		bool ok = k->kind == KIND_BOOLEAN ?
			  (len == 4 && !memcmp(v, "true", 4)) || (len == 5 && !memcmp(v, "false", 5)) :
			  parse_number(v, len, k->kind, p->has_min || p->has_max ? &d : NULL);
		if (!ok && (error = tally_add(&k->type, v, len, row)) < 0)
			return error;
		if (ok && p->has_min && d < p->min && (error = tally_add(&k->minimum, v, len, row)) < 0)
			return error;
		if (ok && p->has_max && d > p->max && (error = tally_add(&k->maximum, v, len, row)) < 0)
			return error;
	}
	if (k->need_set) {
		if ((error = strset_push(&k->seen, v, len, row)) < 0)
			return error;
		if (k->seen.npending == STRSET_BATCH)
			return column_flush(k);
	}
	return 0;
}

static int checker_init(checker *ch, const mesh_contract *c, const char *path,
			mesh_contract_report *report)
{
	memset(ch, 0, sizeof(*ch));
	ch->c = c;
	ch->path = path;
	ch->report = report;
	if (!(ch->cols = calloc(c->prop_count ? c->prop_count : 1, sizeof(column))))
		return mesh_error_oom();
	for (size_t i = 0; i < c->prop_count; i++) {
		column *k = &ch->cols[i];
		k->p = &c->props[i];
		k->kind = kind_of(k->p);
		k->keyed = is_key(k->p);
		k->need_set = k->keyed;
		for (size_t j = 0; j < k->p->quality_count; j++)
			if (!strcmp(k->p->quality[j].metric, "duplicateValues"))
				k->need_set = true;
		if (k->p->quality_count &&
		    !(k->quality = calloc(k->p->quality_count, sizeof(tally))))
			return mesh_error_oom();
	}
	return 0;
}

static void checker_dispose(checker *ch)
{
	for (size_t i = 0; ch->cols && i < ch->c->prop_count; i++) {
		column *k = &ch->cols[i];
		tally_free(&k->required);
		tally_free(&k->unique);
		tally_free(&k->type);
		tally_free(&k->minimum);
		tally_free(&k->maximum);
		for (size_t j = 0; j < k->p->quality_count; j++)
			tally_free(&k->quality[j]);
		free(k->quality);
		strset_free(&k->seen);
	}
	free(ch->cols);
	free(ch->by_field);
	strings_free(ch->header, ch->header_count);
	if (ch->csv_ready)
		csv_free(&ch->csv);
	free(ch->line);
	tally_free(&ch->syntax);
}

static bool op_holds(const quality *q, double v)
{
	switch (q->op) {
	case OP_EQ: return v == q->a;
	case OP_NE: return v != q->a;
	case OP_GT: return v > q->a;
	case OP_GE: return v >= q->a;
	case OP_LT: return v < q->a;
	case OP_LE: return v <= q->a;
	case OP_BETWEEN: return v >= q->a && v <= q->b;
	case OP_NOT_BETWEEN: return v < q->a || v > q->b;
	default: return true;
	}
}

static void op_text(const quality *q, char *out, size_t cap)
{
	if (q->op == OP_BETWEEN || q->op == OP_NOT_BETWEEN)
		snprintf(out, cap, "%s %g and %g", op_symbols[q->op], q->a, q->b);
	else
		snprintf(out, cap, "%s %g", op_symbols[q->op], q->a);
}

static int flush_tally(checker *ch, const char *column, const char *rule, const char *detail,
		       tally *t)
{
	if (!t->count)
		return 0;
	int error = report_add(ch->report, ch->c->name, ch->path, column, rule, detail, t->ex,
			       t->nex, t->count);
	t->nex = 0;
	return error;
}

/* The rules that need the whole file: counts against their operators. */
static int checker_finish(checker *ch)
{
	char detail[160], op[64];
	int error = 0;

	if (ch->syntax.count)
		return flush_tally(ch, "", ch->c->format, "the file is not well-formed", &ch->syntax);
	for (size_t i = 0; i < ch->c->prop_count && !error; i++)
		error = column_flush(&ch->cols[i]);
	for (size_t i = 0; i < ch->c->prop_count && !error; i++) {
		column *k = &ch->cols[i];
		const property *p = k->p;
		const char *key = p->primary_key == 1 ? "primaryKey" : "unique";
		snprintf(detail, sizeof(detail), "logicalType %s", p->logical_type ? p->logical_type : "");
		if ((error = flush_tally(ch, p->name, "required", "a null", &k->required)) < 0 ||
		    (error = flush_tally(ch, p->name, key, "a duplicate", &k->unique)) < 0 ||
		    (error = flush_tally(ch, p->name, "logicalType", detail, &k->type)) < 0)
			break;
		snprintf(detail, sizeof(detail), "below minimum %g", p->min);
		if ((error = flush_tally(ch, p->name, "minimum", detail, &k->minimum)) < 0)
			break;
		snprintf(detail, sizeof(detail), "above maximum %g", p->max);
		if ((error = flush_tally(ch, p->name, "maximum", detail, &k->maximum)) < 0)
			break;
		for (size_t j = 0; j < p->quality_count && !error; j++) {
			const quality *q = &p->quality[j];
			if (op_holds(q, (double)k->quality[j].count))
				continue;
			op_text(q, op, sizeof(op));
			snprintf(detail, sizeof(detail), "%llu %s, must be %s",
				 (unsigned long long)k->quality[j].count,
				 !strcmp(q->metric, "nullValues") ? "nulls" :
				 !strcmp(q->metric, "duplicateValues") ? "duplicates" :
				 "values outside validValues", op);
			tally *t = &k->quality[j];
			if (!t->count)
				t->count = 1;   /* "0 nulls, must be > 0" still fails */
			error = report_add(ch->report, ch->c->name, ch->path, p->name,
					   !strcmp(q->metric, "invalidValues") ? "validValues" : q->metric,
					   detail, t->ex, t->nex, t->count);
			t->nex = 0;
		}
	}
	for (size_t j = 0; j < ch->c->table_quality_count && !error; j++) {
		const quality *q = &ch->c->table_quality[j];
		char rows[32];
		if (op_holds(q, (double)ch->row))
			continue;
		op_text(q, op, sizeof(op));
		snprintf(detail, sizeof(detail), "must be %s", op);
		snprintf(rows, sizeof(rows), "%llu rows", (unsigned long long)ch->row);
		error = report_file(ch->report, ch->c, ch->path, "rowCount", rows, detail);
	}
	return error;
}

/* Missing columns: required ones fail at the header (row 0). */
static int columns_present(checker *ch)
{
	for (size_t i = 0; i < ch->c->prop_count; i++) {
		column *k = &ch->cols[i];
		if (!k->present && is_required(k->p)) {
			int error = report_add(ch->report, ch->c->name, ch->path, k->p->name,
					       "required", "the column is missing",
					       &(example){ strdup("(missing column)"), 0 }, 1, 1);
			if (error < 0)
				return error;
		}
	}
	return 0;
}

/* -- CSV -- */

static void csv_field(void *data, size_t len, void *ctx)
{
	checker *ch = ctx;
	column *k;

	if (ch->error)
		return;
	if (!ch->header_done) {
		if (ch->header_count == ch->header_cap) {
			size_t cap = ch->header_cap ? ch->header_cap * 2 : 16;
			char **grown = realloc(ch->header, cap * sizeof(char *));
			if (!grown) {
				ch->error = mesh_error_oom();
				return;
			}
			ch->header = grown;
			ch->header_cap = cap;
		}
		if (!(ch->header[ch->header_count] = data ? strndup(data, len) : strdup(""))) {
			ch->error = mesh_error_oom();
			return;
		}
		ch->header_count++;
		return;
	}
	if (ch->field < ch->field_count && (k = ch->by_field[ch->field]))
		ch->error = column_value(k, data, len, ch->row + 1);
	ch->field++;
}

static int csv_header_done(checker *ch)
{
	ch->header_done = true;
	ch->field_count = ch->header_count;
	if (!(ch->by_field = calloc(ch->field_count ? ch->field_count : 1, sizeof(column *))))
		return mesh_error_oom();
	for (size_t i = 0; i < ch->c->prop_count; i++) {
		for (size_t f = 0; f < ch->header_count; f++) {
			if (!strcmp(ch->header[f], ch->cols[i].p->name) && !ch->by_field[f]) {
				ch->by_field[f] = &ch->cols[i];
				ch->cols[i].present = true;
				break;
			}
		}
	}
	return columns_present(ch);
}

static void csv_record(int end, void *ctx)
{
	checker *ch = ctx;

	(void)end;
	if (ch->error)
		return;
	if (!ch->header_done) {
		ch->error = csv_header_done(ch);
		return;
	}
	ch->row++;
	/* A short row: its missing fields are nulls. */
	if (ch->field < ch->field_count) {
		for (size_t i = 0; i < ch->c->prop_count && !ch->error; i++)
			if (ch->cols[i].present && ch->cols[i].last_row != ch->row)
				ch->error = column_value(&ch->cols[i], NULL, 0, ch->row);
	}
	ch->field = 0;
}

static int csv_feed(checker *ch, const char *data, size_t len, bool last)
{
	if (ch->broken)
		return 0;
	if (!ch->csv_ready) {
		if (csv_init(&ch->csv, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL | CSV_EMPTY_IS_NULL) != 0)
			return mesh_error_oom();
		ch->csv_ready = true;
	}
	if (len && csv_parse(&ch->csv, data, len, csv_field, csv_record, ch) != len) {
		ch->broken = true;
		return tally_add(&ch->syntax, csv_strerror(csv_error(&ch->csv)),
				 strlen(csv_strerror(csv_error(&ch->csv))), ch->row + 2);
	}
	if (last && !ch->error && csv_fini(&ch->csv, csv_field, csv_record, ch) != 0) {
		ch->broken = true;
		return tally_add(&ch->syntax, csv_strerror(csv_error(&ch->csv)),
				 strlen(csv_strerror(csv_error(&ch->csv))), ch->row + 2);
	}
	if (last && !ch->error && !ch->header_done)
		ch->error = csv_header_done(ch);
	return ch->error;
}

/* -- JSON lines -- */

static int json_line(checker *ch, const char *line, size_t len)
{
	json_t *obj;
	char num[64];
	int error = 0;

	while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (!len)
		return 0;
	ch->row++;
	if (!(obj = json_loadb(line, len, JSON_DECODE_ANY, &ch->jerr)) || !json_is_object(obj)) {
		json_decref(obj);
		return tally_add(&ch->syntax, obj ? "not a JSON object" : ch->jerr.text,
				 strlen(obj ? "not a JSON object" : ch->jerr.text), ch->row);
	}
	for (size_t i = 0; i < ch->c->prop_count && !error; i++) {
		column *k = &ch->cols[i];
		json_t *v = json_object_get(obj, k->p->name);
		char *dumped = NULL;
		const char *text = NULL;
		size_t tlen = 0;
		k->present = true;
		if (!v || json_is_null(v)) {
			text = NULL;
		} else if (json_is_string(v)) {
			text = json_string_value(v);
			tlen = json_string_length(v);
		} else if (json_is_integer(v)) {
			tlen = (size_t)snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
						json_integer_value(v));
			text = num;
		} else if (json_is_real(v)) {
			tlen = (size_t)snprintf(num, sizeof(num), "%.17g", json_real_value(v));
			text = num;
		} else if (json_is_boolean(v)) {
			text = json_is_true(v) ? "true" : "false";
			tlen = strlen(text);
		} else {
			if (!(dumped = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY))) {
				error = mesh_error_oom();
				break;
			}
			text = dumped;
			tlen = strlen(dumped);
		}
		/* A JSON text holding digits is still a text, not a number. */
		if (text && json_is_string(v) && k->kind != KIND_TEXT) {
			error = tally_add(&k->type, text, tlen, ch->row);
			if (!error)
				k->last_row = ch->row;
		} else {
			error = column_value(k, text, tlen, ch->row);
		}
		free(dumped);
	}
	json_decref(obj);
	return error;
}

/* Keeps the part of a line a chunk's end cut off. */
static int line_append(checker *ch, const char *p, size_t n)
{
	if (ch->line_len + n > ch->line_cap) {
		size_t cap = (ch->line_len + n) * 2;
		char *grown = realloc(ch->line, cap);
		if (!grown)
			return mesh_error_oom();
		ch->line = grown;
		ch->line_cap = cap;
	}
	memcpy(ch->line + ch->line_len, p, n);
	ch->line_len += n;
	return 0;
}

static int jsonl_feed(checker *ch, const char *data, size_t len, bool last)
{
	const char *p = data, *end = data + len, *nl;
	int error = 0;

	while (!error && p < end && (nl = memchr(p, '\n', (size_t)(end - p)))) {
		if (ch->line_len) {
			if ((error = line_append(ch, p, (size_t)(nl - p))) == 0)
				error = json_line(ch, ch->line, ch->line_len);
			ch->line_len = 0;
		} else {
			error = json_line(ch, p, (size_t)(nl - p));
		}
		p = nl + 1;
	}
	if (!error && p < end)
		error = line_append(ch, p, (size_t)(end - p));
	if (!error && last && ch->line_len) {
		error = json_line(ch, ch->line, ch->line_len);
		ch->line_len = 0;
	}
	if (!error && last && ch->row && !ch->syntax.count) {
		for (size_t i = 0; i < ch->c->prop_count; i++)
			ch->cols[i].present = true;
	}
	return error;
}

/* -- Parquet: the footer only --
 *
 * No Debian 12 package reads Parquet (neither Arrow nor parquet-cpp is
 * packaged), so the footer's Thrift compact protocol is read here, and
 * only what a contract needs: FileMetaData's schema (names, physical
 * types) and num_rows; everything else is skipped by type. */

typedef struct thrift {
	const uint8_t *p, *end;
	bool bad;
	int depth;
} thrift;

static uint64_t tc_varint(thrift *t)
{
	uint64_t v = 0;

	for (int shift = 0; shift < 64; shift += 7) {
		if (t->p >= t->end) {
			t->bad = true;
			return 0;
		}
		uint8_t b = *t->p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	t->bad = true;
	return 0;
}

static int64_t tc_zigzag(thrift *t)
{
	uint64_t v = tc_varint(t);

	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static void tc_skip(thrift *t, int type);

static void tc_skip_struct(thrift *t)
{
	if (++t->depth > 32) {
		t->bad = true;
		return;
	}
	while (!t->bad && t->p < t->end) {
		uint8_t b = *t->p++;
		if (!b) {
			t->depth--;
			return;
		}
		if (!(b >> 4))
			(void)tc_zigzag(t);
		tc_skip(t, b & 0x0f);
	}
	t->bad = true;
}

static void tc_skip(thrift *t, int type)
{
	uint64_t n;

	switch (type) {
	case 1: case 2:
		return;
	case 3:
		t->p < t->end ? (void)t->p++ : (void)(t->bad = true);
		return;
	case 4: case 5: case 6:
		(void)tc_varint(t);
		return;
	case 7:
		if (t->end - t->p < 8)
			t->bad = true;
		else
			t->p += 8;
		return;
	case 8:
		n = tc_varint(t);
		if (n > (uint64_t)(t->end - t->p))
			t->bad = true;
		else
			t->p += n;
		return;
	case 9: case 10: {
		if (t->p >= t->end) {
			t->bad = true;
			return;
		}
		uint8_t b = *t->p++;
		n = b >> 4 == 15 ? tc_varint(t) : (uint64_t)(b >> 4);
		if (n > (uint64_t)(t->end - t->p) + 1) {
			t->bad = true;
			return;
		}
		for (uint64_t i = 0; i < n && !t->bad; i++)
			tc_skip(t, b & 0x0f);
		return;
	}
	case 11: {
		n = tc_varint(t);
		if (!n)
			return;
		if (t->p >= t->end || n > (uint64_t)(t->end - t->p)) {
			t->bad = true;
			return;
		}
		uint8_t kv = *t->p++;
		for (uint64_t i = 0; i < n && !t->bad; i++) {
			tc_skip(t, kv >> 4);
			tc_skip(t, kv & 0x0f);
		}
		return;
	}
	case 12:
		tc_skip_struct(t);
		return;
	default:
		t->bad = true;
	}
}

typedef struct pq_column {
	char *name;
	int type;              /* physical type, -1 for a group */
	int children;
} pq_column;

static const char *pq_type_name(int type)
{
	static const char *const names[] = {
		"BOOLEAN", "INT32", "INT64", "INT96", "FLOAT", "DOUBLE", "BYTE_ARRAY",
		"FIXED_LEN_BYTE_ARRAY",
	};

	return type >= 0 && type < 8 ? names[type] : "group";
}

static void pq_element(thrift *t, pq_column *out)
{
	int16_t last = 0;

	out->type = -1;
	while (!t->bad && t->p < t->end) {
		uint8_t b = *t->p++;
		if (!b)
			return;
		int16_t id = b >> 4 ? (int16_t)(last + (b >> 4)) : (int16_t)tc_zigzag(t);
		int type = b & 0x0f;
		last = id;
		if (id == 1 && type == 5) {
			out->type = (int)tc_zigzag(t);
		} else if (id == 5 && type == 5) {
			out->children = (int)tc_zigzag(t);
		} else if (id == 4 && type == 8) {
			uint64_t n = tc_varint(t);
			if (t->bad || n > (uint64_t)(t->end - t->p)) {
				t->bad = true;
				return;
			}
			free(out->name);
			if (!(out->name = strndup((const char *)t->p, n))) {
				t->bad = true;
				return;
			}
			t->p += n;
		} else {
			tc_skip(t, type);
		}
	}
	t->bad = true;
}

typedef struct pq_footer {
	pq_column *cols;
	size_t count;
	int64_t rows;
} pq_footer;

static void pq_footer_free(pq_footer *f)
{
	for (size_t i = 0; i < f->count; i++)
		free(f->cols[i].name);
	free(f->cols);
}

/* FileMetaData: 2 schema (list<SchemaElement>), 3 num_rows. */
static bool pq_parse(const uint8_t *data, size_t len, pq_footer *out)
{
	thrift t = { data, data + len, false, 0 };
	int16_t last = 0;

	memset(out, 0, sizeof(*out));
	while (!t.bad && t.p < t.end) {
		uint8_t b = *t.p++;
		if (!b)
			return out->count > 0;
		int16_t id = b >> 4 ? (int16_t)(last + (b >> 4)) : (int16_t)tc_zigzag(&t);
		int type = b & 0x0f;
		last = id;
		if (id == 2 && type == 9 && !out->cols) {
			if (t.p >= t.end)
				return false;
			uint8_t lh = *t.p++;
			uint64_t n = lh >> 4 == 15 ? tc_varint(&t) : (uint64_t)(lh >> 4);
			if ((lh & 0x0f) != 12 || n > len || !(out->cols = calloc(n ? n : 1, sizeof(pq_column))))
				return false;
			for (uint64_t i = 0; i < n && !t.bad; i++, out->count++)
				pq_element(&t, &out->cols[i]);
		} else if (id == 3 && type == 6) {
			out->rows = tc_zigzag(&t);
		} else {
			tc_skip(&t, type);
		}
	}
	return false;
}

static bool pq_type_fits(const char *logical, int type)
{
	if (!logical)
		return true;
	if (!strcmp(logical, "integer"))
		return type == 1 || type == 2;
	if (!strcmp(logical, "number"))
		return type == 1 || type == 2 || type == 4 || type == 5 || type == 7;
	if (!strcmp(logical, "boolean"))
		return type == 0;
	if (!strcmp(logical, "string"))
		return type == 6 || type == 7;
	if (!strcmp(logical, "date"))
		return type == 1;
	if (!strcmp(logical, "timestamp"))
		return type == 2 || type == 3;
	if (!strcmp(logical, "object") || !strcmp(logical, "array"))
		return type == -1;
	return true;
}

/* The top-level columns of the schema (element 0 is the root). */
static int parquet_check(checker *ch, const pq_footer *f)
{
	size_t i = 1;
	int error;

	ch->row = f->rows > 0 ? (uint64_t)f->rows : 0;
	while (i < f->count) {
		const pq_column *col = &f->cols[i];
		for (size_t j = 0; j < ch->c->prop_count; j++) {
			column *k = &ch->cols[j];
			if (!col->name || strcmp(col->name, k->p->name))
				continue;
			k->present = true;
			if (!pq_type_fits(k->p->logical_type, col->type) &&
			    (error = tally_add(&k->type, pq_type_name(col->type),
					       strlen(pq_type_name(col->type)), 0)) < 0)
				return error;
		}
		/* Skips a group's descendants. */
		size_t skip = 1, pending = (size_t)(col->children > 0 ? col->children : 0);
		while (pending && i + skip < f->count) {
			int c = f->cols[i + skip].children;
			pending += (size_t)(c > 0 ? c : 0);
			pending--;
			skip++;
		}
		i += skip;
	}
	return columns_present(ch);
}

static int parquet_read(mesh_odb *odb, const mesh_file_map *map, checker **chs, size_t n)
{
	uint8_t tail[8];
	size_t got;
	uint32_t flen;
	uint8_t *footer;
	pq_footer f;
	int error;

	if (map->size < 12 ||
	    (error = mesh_file_read(odb, NULL, map, tail, 8, map->size - 8, &got)) < 0 ||
	    memcmp(tail + 4, "PAR1", 4))
		goto not_parquet;
	flen = (uint32_t)tail[0] | (uint32_t)tail[1] << 8 | (uint32_t)tail[2] << 16 |
	       (uint32_t)tail[3] << 24;
	if ((uint64_t)flen + 12 > map->size || flen > (64u << 20))
		goto not_parquet;
	if (!(footer = malloc(flen)))
		return mesh_error_oom();
	if ((error = mesh_file_read(odb, NULL, map, footer, flen, map->size - 8 - flen, &got)) < 0) {
		free(footer);
		return error;
	}
	bool ok = got == flen && pq_parse(footer, flen, &f);
	free(footer);
	if (!ok) {
		pq_footer_free(&f);
		goto not_parquet;
	}
	error = 0;
	for (size_t i = 0; i < n && !error; i++)
		error = parquet_check(chs[i], &f);
	pq_footer_free(&f);
	return error;
not_parquet:
	for (size_t i = 0; i < n; i++)
		if ((error = tally_add(&chs[i]->syntax, "no Parquet footer", 17, 0)) < 0)
			return error;
	return 0;
}

/* -- the file rules and the pass -- */

static bool extension_allowed(const mesh_contract *c, const char *path)
{
	const char *base = strrchr(path, '/'), *dot;

	base = base ? base + 1 : path;
	if (!(dot = strrchr(base, '.')) || dot == base)
		return false;
	for (size_t i = 0; i < c->extension_count; i++) {
		const char *ext = c->extensions[i];
		if (!strcasecmp(dot + 1, ext[0] == '.' ? ext + 1 : ext))
			return true;
	}
	return false;
}

static int file_rules(const mesh_contract *c, const char *path, uint64_t size,
		      mesh_contract_report *r)
{
	char value[64], detail[96];
	int error;

	if (c->has_extensions && !extension_allowed(c, path) &&
	    (error = report_file(r, c, path, "allowedExtensions", path,
				 "the file's extension is not allowed")) < 0)
		return error;
	if (c->has_max_size && size > c->max_size) {
		snprintf(value, sizeof(value), "%llu bytes", (unsigned long long)size);
		snprintf(detail, sizeof(detail), "larger than maxFileSize %llu bytes",
			 (unsigned long long)c->max_size);
		if ((error = report_file(r, c, path, "maxFileSize", value, detail)) < 0)
			return error;
	}
	return 0;
}

static bool contract_matches(const mesh_contract *c, const char *path)
{
	return fnmatch(c->path, path, 0) == 0;
}

/* How far ahead of the parser the store's threads read and verify. */
#define READ_AHEAD_BYTES (16u << 20)

/* Sizes the key sets for the whole file from the rows of its first
 * chunk (the run and the hash each by the share of values it took), so
 * that millions of keys are not rehashed and copied again and again. */
static int reserve_keys(checker *ch, size_t fed, uint64_t size)
{
	double rows;
	int error;

	if (!ch->row || !fed)
		return 0;
	rows = (double)ch->row * ((double)size / (double)fed) * 1.1;
	/* Not past 12 million (a 256 MiB table): a first chunk of short rows
	 * must not reserve what the file may never need. */
	if (rows > 12e6)
		rows = 12e6;
	for (size_t i = 0; i < ch->c->prop_count; i++) {
		strset *s = &ch->cols[i].seen;
		double share;
		if (!ch->cols[i].need_set)
			continue;
		share = (double)s->hashed / (double)ch->row;
		if (s->hashed && (error = strset_resize(s, (size_t)(rows * share * 4 / 3) + 1)) < 0)
			return error;
		share = (double)s->run_used / (double)ch->row;
		if (s->run_used && (error = grow((void **)&s->run, &s->run_cap, s->run_used,
						 (size_t)(rows * share), 1)) < 0)
			return error;
	}
	return 0;
}

int mesh_contract_check_file(mesh_odb *odb, mesh_chunk_cache *cache,
			     mesh_contract *const *contracts, size_t count,
			     const char *path, const mesh_oid *map_id, uint64_t size,
			     mesh_contract_report *report)
{
	checker *chs = NULL, **parquet = NULL;
	mesh_file_map *map = NULL;
	size_t n = 0, npq = 0;
	int error = 0;

	for (size_t i = 0; i < count; i++)
		n += contract_matches(contracts[i], path);
	if (!n)
		return 0;
	if (!(chs = calloc(n, sizeof(*chs))) || !(parquet = calloc(n, sizeof(*parquet)))) {
		free(chs);
		return mesh_error_oom();
	}
	n = 0;
	for (size_t i = 0; i < count && !error; i++) {
		if (!contract_matches(contracts[i], path))
			continue;
		if ((error = file_rules(contracts[i], path, size, report)) < 0 ||
		    (error = checker_init(&chs[n], contracts[i], path, report)) < 0) {
			n += error != 0 && chs[n].cols;
			break;
		}
		if (contract_format(contracts[i]) == FORMAT_PARQUET)
			parquet[npq++] = &chs[n];
		n++;
	}
	if (error)
		goto done;
	report->files_checked++;
	if ((error = mesh_file_map_load(odb, map_id, &map)) < 0)
		goto done;
	if (npq && (error = parquet_read(odb, map, parquet, npq)) < 0)
		goto done;
	if (npq < n) {
		/* Read once, chunk by chunk, straight from the chunk cache; every
		 * contract's parser gets each piece. */
		report->bytes_checked += map->size;
		for (size_t i = 0; i <= map->count && !error; i++) {
			mesh_file_span span = { "", 0, NULL };
			size_t spans = 0, got = 0;
			bool last = i == map->count;
			if (!last && cache)
				mesh_file_prefetch(cache, map, map->chunks[i].offset, READ_AHEAD_BYTES);
			if (!last && (error = mesh_file_read_spans(odb, cache, map, map->chunks[i].length,
								   map->chunks[i].offset, &span, 1,
								   &spans, &got)) < 0)
				break;
			for (size_t j = 0; j < n && !error; j++) {
				enum format fmt = contract_format(chs[j].c);
				if (fmt == FORMAT_CSV)
					error = csv_feed(&chs[j], span.data, got, last);
				else if (fmt == FORMAT_JSONL)
					error = jsonl_feed(&chs[j], span.data, got, last);
				if (!error && i == 0 && !last && fmt != FORMAT_PARQUET)
					error = reserve_keys(&chs[j], got, map->size);
			}
			mesh_file_spans_release(cache, &span, spans);
		}
		for (size_t j = 0; j < n && !error; j++)
			if (contract_format(chs[j].c) == FORMAT_JSONL && chs[j].row == 0)
				error = columns_present(&chs[j]);
	}
	for (size_t j = 0; j < n && !error; j++)
		error = checker_finish(&chs[j]);
done:
	for (size_t j = 0; j < n; j++)
		checker_dispose(&chs[j]);
	free(chs);
	free(parquet);
	mesh_file_map_free(map);
	return error;
}

/* --- trees: the gate and the check ----------------------------------------------- */

typedef struct dataset {
	char *path;
	mesh_oid id;
	uint64_t size;
} dataset;

typedef struct dataset_list {
	dataset *items;
	size_t count, cap;
	char **gone;           /* paths removed */
	size_t gone_count, gone_cap;
	bool contracts_changed;
} dataset_list;

static void dataset_list_free(dataset_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->items[i].path);
	free(l->items);
	strings_free(l->gone, l->gone_count);
}

static int dataset_add(dataset_list *l, const char *path, const mesh_tree_entry *e)
{
	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		dataset *grown = realloc(l->items, cap * sizeof(*grown));
		if (!grown)
			return mesh_error_oom();
		l->items = grown;
		l->cap = cap;
	}
	if (!(l->items[l->count].path = strdup(path)))
		return mesh_error_oom();
	l->items[l->count].id = e->id;
	l->items[l->count].size = e->size;
	l->count++;
	return 0;
}

static int gone_add(dataset_list *l, const char *path)
{
	if (l->gone_count == l->gone_cap) {
		size_t cap = l->gone_cap ? l->gone_cap * 2 : 16;
		char **grown = realloc(l->gone, cap * sizeof(char *));
		if (!grown)
			return mesh_error_oom();
		l->gone = grown;
		l->gone_cap = cap;
	}
	if (!(l->gone[l->gone_count] = strdup(path)))
		return mesh_error_oom();
	l->gone_count++;
	return 0;
}

static bool in_contract_dir(const char *path)
{
	return !strncmp(path, ".mesh/", 6);
}

/* Every file below a tree (prefix: its path). */
static int walk_files(mesh_odb *odb, const mesh_oid *tree, const char *prefix, dataset_list *l)
{
	mesh_tree *t;
	int error;

	if ((error = mesh_tree_load(odb, tree, &t)) < 0)
		return error;
	for (size_t i = 0; i < t->count && !error; i++) {
		const mesh_tree_entry *e = &t->entries[i];
		char *path;
		if (asprintf(&path, "%s%s%s", prefix, *prefix ? "/" : "", e->name) < 0) {
			error = mesh_error_oom();
			break;
		}
		if (in_contract_dir(path))
			;
		else if (e->kind == MESH_KIND_DIR)
			error = walk_files(odb, &e->id, path, l);
		else if (e->kind == MESH_KIND_FILE)
			error = dataset_add(l, path, e);
		free(path);
	}
	mesh_tree_free(t);
	return error;
}

typedef struct diff_ctx {
	mesh_odb *odb;
	dataset_list *list;
} diff_ctx;

static int diff_one(void *ctx, const char *path, mesh_diff_type type,
		    const mesh_tree_entry *old, const mesh_tree_entry *new_)
{
	diff_ctx *d = ctx;

	(void)old;
	if (in_contract_dir(path) || !strcmp(path, ".mesh")) {
		d->list->contracts_changed |= !strcmp(path, ".mesh") ||
			!strncmp(path, MESH_CONTRACT_DIR, strlen(MESH_CONTRACT_DIR));
		return 0;
	}
	if (type == MESH_DIFF_REMOVED)
		return gone_add(d->list, path);
	if (new_->kind == MESH_KIND_DIR)
		return walk_files(d->odb, &new_->id, path, d->list);
	if (new_->kind == MESH_KIND_FILE)
		return dataset_add(d->list, path, new_);
	return 0;
}

static bool contract_touched(const mesh_contract *c, const dataset_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		if (contract_matches(c, l->items[i].path))
			return true;
	for (size_t i = 0; i < l->gone_count; i++) {
		if (contract_matches(c, l->gone[i]))
			return true;
		for (size_t j = 0; j < c->required_count; j++)
			if (!strcmp(c->required_files[j], l->gone[i]))
				return true;
	}
	return false;
}

static int required_files(mesh_odb *odb, const mesh_contract *c, const mesh_oid *tree,
			  mesh_contract_report *r)
{
	for (size_t j = 0; j < c->required_count; j++) {
		mesh_tree_entry e;
		int error = mesh_tree_lookup_path(odb, tree, c->required_files[j], &e);
		if (error == 0 && e.kind != MESH_KIND_DIR)
			continue;
		if (error < 0 && error != MESH_ENOENT && error != MESH_ENOTDIR)
			return error;
		mesh_error_clear();
		if ((error = report_file(r, c, c->required_files[j], "requiredFiles", "(missing)",
					 "a required file is missing")) < 0)
			return error;
	}
	return 0;
}

static int check_datasets(mesh_store *store, mesh_contract **cs, size_t n,
			  const dataset_list *l, const mesh_oid *tree, bool all,
			  mesh_contract_report *r)
{
	mesh_odb *odb = mesh_store_odb(store);
	int error = 0;

	for (size_t i = 0; i < l->count && !error; i++)
		error = mesh_contract_check_file(odb, mesh_store_cache(store), cs, n, l->items[i].path,
						 &l->items[i].id, l->items[i].size, r);
	for (size_t i = 0; i < n && !error; i++)
		if (all || contract_touched(cs[i], l))
			error = required_files(odb, cs[i], tree, r);
	return error;
}

int mesh_contract_gate(mesh_store *store, const char *domain, const mesh_oid *head_tree,
		       const mesh_oid *candidate_tree, mesh_json *details)
{
	mesh_odb *odb = mesh_store_odb(store);
	mesh_contract **cs = NULL;
	mesh_contract_report r;
	dataset_list l = { 0 };
	diff_ctx d = { odb, &l };
	size_t n = 0;
	char what[320];
	int error;

	if (!head_tree || !candidate_tree)
		return 0;
	if ((error = mesh_diff_trees(odb, head_tree, candidate_tree, NULL, diff_one, &d)) < 0)
		goto done;
	/* A contract that does not parse never lands. */
	if (l.contracts_changed) {
		if ((error = mesh_contract_load_tree(odb, candidate_tree, &cs, &n)) < 0)
			goto done;
		mesh_contract_list_free(cs, n);
		cs = NULL;
		n = 0;
	}
	/* The head's contracts: a candidate cannot loosen what judges it.  A
	 * change of nothing but .mesh/ may repair a head contract that does
	 * not parse (written before the gate), else nothing could land. */
	if ((error = mesh_contract_load_tree(odb, head_tree, &cs, &n)) < 0) {
		if (error == MESH_EINVAL && !l.count && !l.gone_count) {
			mesh_error_clear();
			error = 0;
		}
		goto done;
	}
	if (n == 0)
		goto done;
	mesh_contract_report_init(&r);
	if ((error = check_datasets(store, cs, n, &l, candidate_tree, false, &r)) == 0 && r.count) {
		if (details)
			mesh_contract_report_json(&r, details);
		snprintf(what, sizeof(what), "refused by the contracts of %s", domain);
		error = mesh_contract_report_error(&r, what);
	}
	mesh_contract_report_dispose(&r);
done:
	dataset_list_free(&l);
	mesh_contract_list_free(cs, n);
	return error;
}

/* -- freshness -- */

typedef struct fresh_ctx {
	mesh_store *store;
	const mesh_contract *c;
	const dataset_list *files;
	int64_t time;
	mesh_oid commit;
	bool found;
} fresh_ctx;

static int fresh_visit(void *ctx, const mesh_oid *id, const mesh_commit *commit)
{
	fresh_ctx *f = ctx;
	int error;

	for (size_t i = 0; i < f->files->count; i++) {
		bool touches = false;
		if (!contract_matches(f->c, f->files->items[i].path))
			continue;
		if ((error = mesh_history_touches(f->store, commit, f->files->items[i].path,
						  &touches)) < 0)
			return error;
		if (touches) {
			f->found = true;
			f->time = commit->time;
			f->commit = *id;
			return 1;
		}
	}
	return 0;
}

static int freshness(mesh_store *store, const mesh_contract *c, const mesh_oid *commit,
		     const dataset_list *files, int64_t now, mesh_contract_report *r)
{
	fresh_ctx f = { store, c, files, 0, { { 0 } }, false };
	char value[160], detail[96], hex[MESH_OID_HEXSZ + 1];
	int error;

	if (!c->has_freshness)
		return 0;
	if ((error = mesh_history_walk(store, commit, 0, fresh_visit, &f)) < 0)
		return error;
	if (!f.found)
		return report_file(r, c, c->path, "freshness", "(no file matches)",
				   "no commit touched the dataset");
	if (now - f.time <= c->freshness_seconds)
		return 0;
	mesh_oid_fmt(hex, &f.commit);
	snprintf(value, sizeof(value), "last changed %lld s ago by commit %.12s",
		 (long long)(now - f.time), hex);
	snprintf(detail, sizeof(detail), "older than %lld s", (long long)c->freshness_seconds);
	return report_file(r, c, c->path, "freshness", value, detail);
}

/* The caller may read every dataset it would see the values of. */
static int may_read_datasets(mesh_store *store, const mesh_caller *caller, const char *domain,
			     mesh_contract **cs, size_t n, const dataset_list *l)
{
	for (size_t i = 0; caller && i < l->count; i++) {
		for (size_t j = 0; j < n; j++) {
			if (!contract_matches(cs[j], l->items[i].path))
				continue;
			int error = mesh_access_check(store, caller, domain, NULL, MESH_ACCESS_READ,
						      l->items[i].path);
			if (error < 0)
				return error;
			break;
		}
	}
	return 0;
}

int mesh_contract_check_tree(mesh_store *store, const mesh_caller *caller, const char *domain,
			     const mesh_oid *commit, int64_t now, mesh_contract_report *report,
			     size_t *contracts)
{
	mesh_odb *odb = mesh_store_odb(store);
	mesh_commit *cm = NULL;
	mesh_contract **cs = NULL;
	dataset_list l = { 0 };
	size_t n = 0;
	int error;

	*contracts = 0;
	if ((error = mesh_commit_load(odb, commit, &cm)) < 0)
		return error;
	if ((error = mesh_contract_load_tree(odb, &cm->tree, &cs, &n)) == 0 && n &&
	    (error = walk_files(odb, &cm->tree, "", &l)) == 0 &&
	    (error = may_read_datasets(store, caller, domain, cs, n, &l)) == 0 &&
	    (error = check_datasets(store, cs, n, &l, &cm->tree, true, report)) == 0) {
		for (size_t i = 0; i < n && !error; i++)
			error = freshness(store, cs[i], commit, &l, now, report);
	}
	*contracts = n;
	dataset_list_free(&l);
	mesh_contract_list_free(cs, n);
	mesh_commit_free(cm);
	return error;
}

/* --- commands ---------------------------------------------------------------------- */

static int contract_check_cmd(mesh_cmd *cmd)
{
	const char *pos[1], *ref;
	char domain[256];
	mesh_contract_report r;
	mesh_rev rev;
	size_t npos, n = 0;
	int error;

	if ((error = mesh_cmd_parse_opts(cmd, 2, NULL, 0, pos, 1, &npos, NULL)) < 0 ||
	    (error = mesh_cmd_need_positional(cmd, npos, 1, "contract check DOMAIN/REF")) < 0 ||
	    (error = mesh_cmd_parse_target(cmd, pos[0], domain, sizeof(domain), &ref)) < 0 ||
	    (error = mesh_access_check(cmd->env->store, cmd->caller, domain, NULL,
				       MESH_ACCESS_READ, "")) < 0 ||
	    (error = mesh_revparse(cmd->env->store, domain, ref, &rev)) < 0)
		return error;
	mesh_contract_report_init(&r);
	error = mesh_contract_check_tree(cmd->env->store, cmd->caller, domain, &rev.commit,
					 (int64_t)time(NULL), &r, &n);
	if (error == 0) {
		mesh_json *j = r.count ? &cmd->details : &cmd->json;
		mesh_json_field_string(j, "domain", domain);
		mesh_cmd_json_oid(j, "commit", &rev.commit);
		mesh_json_field_int(j, "contracts", (int64_t)n);
		mesh_json_field_int(j, "files", (int64_t)r.files_checked);
		mesh_json_field_int(j, "bytes", (int64_t)r.bytes_checked);
		mesh_contract_report_json(&r, j);
		error = mesh_contract_report_error(&r, pos[0]);
	}
	mesh_contract_report_dispose(&r);
	return error;
}

static bool valid_name(const char *name)
{
	if (!*name || *name == '.' || strlen(name) > 200)
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.'))
			return false;
	return true;
}

/* The contract's NAME: its ODCS name, else the file's name. */
static void import_name(const char *file, const mesh_contract *c, char *out, size_t cap)
{
	const char *name = info_get(&c->top, "name"), *base = strrchr(file, '/');
	char *dot;

	if (name && valid_name(name)) {
		snprintf(out, cap, "%s", name);
		return;
	}
	snprintf(out, cap, "%s", base ? base + 1 : file);
	if ((dot = strstr(out, ".odcs.yaml")) || (dot = strstr(out, ".yaml")) ||
	    (dot = strstr(out, ".yml")))
		*dot = '\0';
}

/* The daemon reads the file for the caller: the caller's rights count. */
static int read_local(const mesh_cmd *cmd, const char *file, char **out, size_t *len)
{
	struct stat st;
	ssize_t got;
	int fd;

	if (file[0] != '/')
		return mesh_error_set(MESH_EINVAL, "FILE '%s' must be an absolute path", file);
	if ((fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return mesh_error_os("open", file);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > CONTRACT_MAX_BYTES ||
	    !mesh_import_caller_may(&st, cmd->caller, 4)) {
		close(fd);
		return !S_ISREG(st.st_mode) ? mesh_error_set(MESH_EINVAL, "%s is not a file", file)
		       : st.st_size > CONTRACT_MAX_BYTES ?
		       mesh_error_set(MESH_EINVAL, "%s: a contract has at most %u bytes", file,
				      CONTRACT_MAX_BYTES)
		       : mesh_error_set(MESH_EACCES, "%s: not readable by uid %u", file,
					(unsigned)cmd->caller->uid);
	}
	if (!(*out = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return mesh_error_oom();
	}
	got = read(fd, *out, (size_t)st.st_size);
	close(fd);
	if (got < 0) {
		free(*out);
		return mesh_error_os("read", file);
	}
	(*out)[got] = '\0';
	*len = (size_t)got;
	return 0;
}

static int ensure_dir(mesh_view *view, const mesh_caller *caller, const char *path)
{
	mesh_view_entry e;
	int error = mesh_view_lookup(view, path, &e);

	if (error == 0)
		return 0;
	if (error != MESH_ENOENT)
		return error;
	mesh_error_clear();
	return mesh_view_mkdir(view, caller, path, 0755);
}

static int contract_import_cmd(mesh_cmd *cmd)
{
	const char *pos[2];
	char *text = NULL, *yaml = NULL, name[256], path[300], domain[256];
	mesh_contract *c = NULL;
	mesh_view *view;
	mesh_change change = { 0 };
	mesh_oid id;
	size_t npos, len = 0, ylen;
	struct timespec ts;
	int error;

	if ((error = mesh_cmd_parse_opts(cmd, 2, NULL, 0, pos, 2, &npos, NULL)) < 0 ||
	    (error = mesh_cmd_need_positional(cmd, npos, 2, "contract import FILE DOMAIN/BRANCH")) < 0 ||
	    (error = read_local(cmd, pos[0], &text, &len)) < 0)
		return error;
	{
		const char *base = strrchr(pos[0], '/');
		error = mesh_contract_parse(base ? base + 1 : pos[0], text, len, &c);
	}
	free(text);
	if (error < 0)
		return error;
	import_name(pos[0], c, name, sizeof(name));
	if (!valid_name(name)) {
		error = mesh_error_set(MESH_EINVAL, "'%s' is no contract name (letters, digits, "
				       "'_', '-', '.')", name);
		goto done;
	}
	snprintf(path, sizeof(path), "%s/%s.yaml", MESH_CONTRACT_DIR, name);
	clock_gettime(CLOCK_REALTIME, &ts);
	if ((error = mesh_contract_emit(c, &yaml, &ylen)) < 0 ||
	    (error = mesh_cmd_branch_view(cmd, pos[1], domain, sizeof(domain), &view)) < 0 ||
	    (error = ensure_dir(view, cmd->caller, ".mesh")) < 0 ||
	    (error = ensure_dir(view, cmd->caller, MESH_CONTRACT_DIR)) < 0 ||
	    (error = mesh_file_write_buf(mesh_store_odb(cmd->env->store), NULL, yaml, ylen, &id)) < 0 ||
	    (error = mesh_view_stage_content(view, cmd->caller, path, MESH_KIND_FILE, 0644, ylen,
					     (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec, &id,
					     true)) < 0)
		goto done;
	change.path = path;
	change.type = MESH_CHANGE_ADDED;
	change.kind = MESH_KIND_FILE;
	mesh_cmd_notify_changed(cmd, domain, mesh_view_branch(view), &change, 1);
	mesh_json_field_string(&cmd->json, "domain", domain);
	mesh_json_field_string(&cmd->json, "branch", mesh_view_branch(view));
	mesh_json_field_string(&cmd->json, "contract", name);
	mesh_json_field_string(&cmd->json, "path", path);
	mesh_json_field_string(&cmd->json, "dataset", c->path);
done:
	free(yaml);
	mesh_contract_free(c);
	return error;
}

/* Creates file for the caller: the directory's bits decide, the caller owns it. */
static int write_local(const mesh_cmd *cmd, const char *file, const char *data, size_t len)
{
	char *dir;
	const char *slash = strrchr(file, '/');
	struct stat st;
	int dfd, fd, error = 0;

	if (file[0] != '/' || !slash[1])
		return mesh_error_set(MESH_EINVAL, "FILE '%s' must be an absolute path", file);
	if (!(dir = strndup(file, slash == file ? 1 : (size_t)(slash - file))))
		return mesh_error_oom();
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		error = mesh_error_os("open", dir);
		free(dir);
		return error;
	}
	if (fstat(dfd, &st) < 0 || !mesh_import_caller_may(&st, cmd->caller, 3)) {
		error = mesh_error_set(MESH_EACCES, "%s: not writable by uid %u", dir,
				       (unsigned)cmd->caller->uid);
		goto done;
	}
	if ((fd = openat(dfd, slash + 1, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			 0644)) < 0) {
		error = errno == EEXIST ? mesh_error_set(MESH_EEXIST, "%s exists (export writes a "
							 "new file)", file)
			: mesh_error_os("create", file);
		goto done;
	}
	if (cmd->caller->uid != 0 && fchown(fd, cmd->caller->uid, cmd->caller->gid) < 0)
		error = mesh_error_os("chown", file);
	for (size_t off = 0; !error && off < len;) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0)
			error = mesh_error_os("write", file);
		else
			off += (size_t)n;
	}
	if (close(fd) < 0 && !error)
		error = mesh_error_os("close", file);
	if (error)
		unlinkat(dfd, slash + 1, 0);
done:
	close(dfd);
	free(dir);
	return error;
}

static int contract_export_cmd(mesh_cmd *cmd)
{
	const char *pos[3], *ref;
	char domain[256], *yaml = NULL;
	mesh_contract **cs = NULL;
	mesh_commit *cm = NULL;
	mesh_rev rev;
	size_t npos, n = 0, len;
	int error;

	if ((error = mesh_cmd_parse_opts(cmd, 2, NULL, 0, pos, 3, &npos, NULL)) < 0 ||
	    (error = mesh_cmd_need_positional(cmd, npos, 3, "contract export DOMAIN/REF NAME FILE")) < 0 ||
	    (error = mesh_cmd_parse_target(cmd, pos[0], domain, sizeof(domain), &ref)) < 0 ||
	    (error = mesh_access_check(cmd->env->store, cmd->caller, domain, NULL,
				       MESH_ACCESS_READ, MESH_CONTRACT_DIR)) < 0 ||
	    (error = mesh_revparse(cmd->env->store, domain, ref, &rev)) < 0 ||
	    (error = mesh_commit_load(mesh_store_odb(cmd->env->store), &rev.commit, &cm)) < 0 ||
	    (error = mesh_contract_load_tree(mesh_store_odb(cmd->env->store), &cm->tree, &cs, &n)) < 0)
		goto done;
	error = mesh_error_set(MESH_ENOENT, "%s has no contract '%s'", pos[0], pos[1]);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(cs[i]->name, pos[1]))
			continue;
		mesh_error_clear();
		if ((error = mesh_contract_emit(cs[i], &yaml, &len)) == 0 &&
		    (error = write_local(cmd, pos[2], yaml, len)) == 0) {
			mesh_json_field_string(&cmd->json, "domain", domain);
			mesh_cmd_json_oid(&cmd->json, "commit", &rev.commit);
			mesh_json_field_string(&cmd->json, "contract", pos[1]);
			mesh_json_field_string(&cmd->json, "file", pos[2]);
		}
		break;
	}
done:
	free(yaml);
	mesh_contract_list_free(cs, n);
	mesh_commit_free(cm);
	return error;
}

static int contract_cmd(mesh_cmd *cmd)
{
	const char *sub = cmd->argc > 1 ? cmd->argv[1] : "";

	if (!strcmp(sub, "check"))
		return contract_check_cmd(cmd);
	if (!strcmp(sub, "import"))
		return contract_import_cmd(cmd);
	if (!strcmp(sub, "export"))
		return contract_export_cmd(cmd);
	return mesh_error_set(MESH_EINVAL, "usage: %s", mesh_contract_cmd_spec.usage);
}

const mesh_cmd_spec mesh_contract_cmd_spec = {
	"contract", contract_cmd,
	"contract check DOMAIN/REF | contract import FILE DOMAIN/BRANCH"
	" | contract export DOMAIN/REF NAME FILE",
	"check datasets against their data contracts (ODCS v3); import or export a contract",
};
