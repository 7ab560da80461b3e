/*
 * domain.h - domains: one versioned repository each, with a data-product
 * card (description, owner).  Key "d/<name>".
 */
#ifndef MESH_DOMAIN_H
#define MESH_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "store.h"

typedef struct mesh_domain {
	char *name;
	char *description;
	char *owner;            /* user name of the creator */
	uint32_t owner_uid;
	char *default_branch;   /* "main" */
	int64_t created;        /* seconds since the epoch */
	/* Days a commit that no ref reaches (a deleted branch's) is kept
	 * by garbage collection, counted from its commit time. */
	uint32_t retention_days;
	/* Access (access.h): a writers group, a readers group (none: everyone
	 * reads a public domain, and nobody beyond owner and writers a
	 * restricted one), and whether the domain is hidden from all others. */
	bool has_writers;
	uint32_t writers_gid;
	bool has_readers;
	uint32_t readers_gid;
	bool restricted;
} mesh_domain;

/* What a domain keeps when nobody set its retention (lakeFS's default). */
#define MESH_DOMAIN_RETENTION_DEFAULT 7
/* The longest retention accepted: 100 years. */
#define MESH_DOMAIN_RETENTION_MAX 36500

/* Same rule as branch names: [A-Za-z0-9_][A-Za-z0-9._-]*. */
int mesh_domain_name_check(const char *name);

/* Creates the domain with branch main at an initial commit of the empty
 * tree, all in one synced batch.  MESH_EEXIST when it exists. */
int mesh_domain_create(mesh_store *store, const mesh_caller *caller,
		       const char *name, const char *description);

/* What a new domain starts with besides its card. */
typedef struct mesh_domain_opts {
	const char *description;    /* or NULL */
	bool has_writers;
	uint32_t writers_gid;
	bool has_readers;
	uint32_t readers_gid;
	bool restricted;
	/* -1: as the store's policy protect-main-by-default says; 0 or 1. */
	int protect_main;
} mesh_domain_opts;

/* mesh_domain_create with access settings; main is protected in the same
 * batch when opts (or the policy) say so. */
int mesh_domain_create_with(mesh_store *store, const mesh_caller *caller,
			    const char *name, const mesh_domain_opts *opts);

/* Writes d's record as it stands (owner, groups, visibility...) in one
 * synced write, and tells the access rules' cache.  MESH_ENOENT when the
 * domain does not exist. */
int mesh_domain_update(mesh_store *store, const mesh_domain *d);

/* MESH_ENOENT naming the domain when absent.  Free with mesh_domain_free. */
int mesh_domain_get(mesh_store *store, const char *name, mesh_domain **out);
void mesh_domain_free(mesh_domain *domain);

/* Sets the domain's retention (0 to MESH_DOMAIN_RETENTION_MAX days),
 * in one synced write.  MESH_ENOENT naming an unknown domain,
 * MESH_EINVAL naming a value out of range. */
int mesh_domain_set_retention(mesh_store *store, const char *name, int64_t days);

/* All domains in name order; free with mesh_domain_list_free. */
int mesh_domain_list(mesh_store *store, mesh_domain ***out, size_t *count);
void mesh_domain_list_free(mesh_domain **domains, size_t count);

/* Who owns the domain's directory and the root of each of its views
 * (shown with mode 02775, so what team members create belongs to the
 * team's group): the owner, and the writers group (the owner's primary
 * group while the domain has none). */
void mesh_domain_root_owner(const mesh_domain *domain, uint32_t *uid, uint32_t *gid);

/* The user name for a uid ("uid1234" when it has none). */
void mesh_user_name(uint32_t uid, char *out, size_t outlen);

#endif
