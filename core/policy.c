#include "policy.h"
#include "access.h"
#include "contract.h"
#include "db.h"
#include "domain.h"
#include "error.h"
#include "product.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_CARD_FIELDS "a/p/require-card-fields"
#define KEY_CLASSIFICATION "a/p/require-classification"

enum card_field {
	F_ID, F_NAME, F_VERSION, F_STATUS, F_DESCRIPTION, F_OWNER, F_TEAM, F_CONTACTS,
	F_TAGS, F_OUTPUT_PORTS, F_INPUT_PORTS, F_COUNT
};
static const char *const field_names[F_COUNT] = {
	"id", "name", "version", "status", "description", "owner", "team", "contacts",
	"tags", "output_ports", "input_ports",
};

const char *mesh_policy_card_fields(void)
{
	return "id, name, version, status, description, owner, team, contacts, tags, "
	       "output_ports, input_ports";
}

typedef struct policies {
	unsigned fields;          /* bit per enum card_field */
	bool classification;
} policies;

static int field_index(const char *name, size_t len)
{
	for (int i = 0; i < F_COUNT; i++)
		if (strlen(field_names[i]) == len && !memcmp(field_names[i], name, len))
			return i;
	return -1;
}

/* A comma list into bits; MESH_EINVAL naming the first unknown name. */
static int parse_fields(const char *list, size_t len, unsigned *bits, bool strict)
{
	const char *p = list, *end = list + len;

	*bits = 0;
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t n = comma ? (size_t)(comma - p) : (size_t)(end - p);
		int i = field_index(p, n);
		if (i >= 0)
			*bits |= 1u << i;
		else if (strict)
			return mesh_error_set(MESH_EINVAL, "'%.*s' is not a card field (fields: %s)",
					      (int)n, p, mesh_policy_card_fields());
		p += n + 1;
	}
	return 0;
}

static int policies_read(mesh_store *store, policies *out)
{
	mesh_db *db = mesh_store_db(store);
	void *val;
	size_t vlen;
	int found;

	memset(out, 0, sizeof(*out));
	if ((found = mesh_db_find(db, KEY_CARD_FIELDS, strlen(KEY_CARD_FIELDS), &val, &vlen)) < 0)
		return found;
	if (found) {
		/* A name a later version knows is kept out, never refused. */
		parse_fields(val, vlen, &out->fields, false);
		free(val);
	}
	if ((found = mesh_db_find(db, KEY_CLASSIFICATION, strlen(KEY_CLASSIFICATION), &val,
				  &vlen)) < 0)
		return found;
	if (found) {
		out->classification = vlen == 4 && !memcmp(val, "true", 4);
		free(val);
	}
	return 0;
}

static int fields_write(mesh_store *store, unsigned bits)
{
	char list[256] = "";
	size_t len = 0;

	for (int i = 0; i < F_COUNT; i++)
		if (bits & (1u << i))
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
						len ? "," : "", field_names[i]);
	return mesh_db_put(mesh_store_db(store), KEY_CARD_FIELDS, strlen(KEY_CARD_FIELDS), list,
			   len, true);
}

int mesh_policy_require_cmd(mesh_cmd *cmd, bool require)
{
	mesh_store *store = cmd->env->store;
	const char *usage = require ? "policy require card-field FIELD[,FIELD...]|classification"
				    : "policy unrequire card-field FIELD[,FIELD...]|classification";
	policies now;
	unsigned bits = 0;
	int error;

	if (cmd->argc == 3 && !strcmp(cmd->argv[2], "classification")) {
		if ((error = mesh_access_need_governance(store, cmd->caller, "set policies")) < 0)
			return error;
		return mesh_db_put(mesh_store_db(store), KEY_CLASSIFICATION,
				   strlen(KEY_CLASSIFICATION), require ? "true" : "false",
				   require ? 4 : 5, true);
	}
	if (cmd->argc != 4 || strcmp(cmd->argv[2], "card-field") != 0)
		return mesh_error_set(MESH_EINVAL, "usage: %s", usage);
	if ((error = parse_fields(cmd->argv[3], strlen(cmd->argv[3]), &bits, true)) < 0)
		return error;
	if (!bits)
		return mesh_error_set(MESH_EINVAL, "usage: %s", usage);
	if ((error = mesh_access_need_governance(store, cmd->caller, "set policies")) < 0)
		return error;
	if ((error = policies_read(store, &now)) < 0)
		return error;
	return fields_write(store, require ? now.fields | bits : now.fields & ~bits);
}

int mesh_policy_json(mesh_store *store, mesh_json *j)
{
	policies p;
	int error;

	if ((error = policies_read(store, &p)) < 0)
		return error;
	mesh_json_key(j, "require-card-fields");
	mesh_json_array_begin(j);
	for (int i = 0; i < F_COUNT; i++)
		if (p.fields & (1u << i))
			mesh_json_string(j, field_names[i]);
	mesh_json_array_end(j);
	mesh_json_field_bool(j, "require-classification", p.classification);
	return 0;
}

static bool text_given(const char *s)
{
	return s && *s;
}

static bool card_has(const mesh_product *p, int field)
{
	switch (field) {
	case F_ID: return text_given(p->id);
	case F_NAME: return text_given(p->name);
	case F_VERSION: return text_given(p->version);
	case F_STATUS: return text_given(p->status);
	case F_DESCRIPTION: return text_given(p->description);
	case F_OWNER: return text_given(p->owner);
	case F_TEAM: return text_given(p->team);
	case F_CONTACTS: return p->contact_count > 0;
	case F_TAGS: return p->tag_count > 0;
	case F_OUTPUT_PORTS: return p->output_count > 0;
	default: return p->input_count > 0;
	}
}

static int refuse(mesh_json *details, const char *policy, const char *fmt_what,
		  const char *a, const char *b)
{
	char what[1024];

	snprintf(what, sizeof(what), fmt_what, a, b);
	if (details) {
		mesh_json_field_string(details, "gate", "policy");
		mesh_json_field_string(details, "policy", policy);
	}
	return mesh_error_set(MESH_EINVAL, "policy require %s: %s", policy, what);
}

static int check_card(mesh_store *store, const char *domain, const char *branch,
		      const mesh_oid *tree, unsigned fields, mesh_json *details)
{
	mesh_product *p = NULL;
	char file[600], policy[64];
	int error;

	if ((error = mesh_product_load(store, domain, branch, tree, &p)) < 0)
		return error;
	snprintf(file, sizeof(file), "%s/%s/%s", domain, branch, MESH_PRODUCT_PATH);
	for (int i = 0; i < F_COUNT && error == 0; i++) {
		if (!(fields & (1u << i)) || (p && card_has(p, i)))
			continue;
		snprintf(policy, sizeof(policy), "card-field %s", field_names[i]);
		error = p ? refuse(details, policy, "%s has no %s", file, field_names[i])
			  : refuse(details, policy, "%s is missing (it must give %s)", file,
				   field_names[i]);
	}
	mesh_product_free(p);
	return error;
}

static int check_classification(mesh_store *store, const char *domain, const char *branch,
				const mesh_oid *tree, mesh_json *details)
{
	mesh_contract **cs = NULL;
	size_t n = 0;
	char file[600];
	int error;

	if ((error = mesh_contract_load_tree(mesh_store_odb(store), tree, &cs, &n)) < 0)
		return error;
	for (size_t i = 0; i < n && error == 0; i++) {
		const char *prop = mesh_contract_unclassified(cs[i]);
		if (!prop)
			continue;
		snprintf(file, sizeof(file), "%s/%s/%s/%s.yaml", domain, branch, MESH_CONTRACT_DIR,
			 mesh_contract_name(cs[i]));
		error = refuse(details, "classification", "%s: property '%s' has no classification",
			       file, prop);
	}
	mesh_contract_list_free(cs, n);
	return error;
}

int mesh_policy_gate(mesh_store *store, const char *domain, const char *branch,
		     const mesh_oid *candidate_tree, mesh_json *details)
{
	mesh_domain *d = NULL;
	policies p;
	bool held;
	int error;

	if ((error = policies_read(store, &p)) < 0)
		return error;
	if (!p.fields && !p.classification)
		return 0;
	if ((error = mesh_domain_get(store, domain, &d)) < 0)
		return error;
	held = !strcmp(d->default_branch, branch);
	mesh_domain_free(d);
	if (!held)
		return 0;
	if (p.fields &&
	    (error = check_card(store, domain, branch, candidate_tree, p.fields, details)) < 0)
		return error;
	if (p.classification &&
	    (error = check_classification(store, domain, branch, candidate_tree, details)) < 0)
		return error;
	return 0;
}
