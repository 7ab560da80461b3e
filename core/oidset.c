#include "oidset.h"
#include "error.h"

#include <stdlib.h>
#include <string.h>

#define FIRST_SLOTS 64

typedef struct slot {
	mesh_oid id;
	uint32_t count;         /* 0: empty */
} slot;

struct mesh_oidset {
	slot *slots;
	size_t nslots;          /* a power of two */
	size_t used;
};

static size_t home_of(const mesh_oid *id, size_t nslots)
{
	uint64_t h;

	memcpy(&h, id->id, sizeof(h));
	return (size_t)h & (nslots - 1);
}

int mesh_oidset_new(mesh_oidset **out)
{
	mesh_oidset *set = calloc(1, sizeof(*set));

	if (!set || !(set->slots = calloc(FIRST_SLOTS, sizeof(slot)))) {
		free(set);
		return mesh_error_oom();
	}
	set->nslots = FIRST_SLOTS;
	*out = set;
	return 0;
}

void mesh_oidset_free(mesh_oidset *set)
{
	if (!set)
		return;
	free(set->slots);
	free(set);
}

static slot *find(const mesh_oidset *set, const mesh_oid *id)
{
	size_t mask = set->nslots - 1;

	for (size_t i = home_of(id, set->nslots);; i = (i + 1) & mask) {
		slot *s = &set->slots[i];
		if (s->count == 0 || memcmp(s->id.id, id->id, MESH_OID_RAWSZ) == 0)
			return s;
	}
}

static int grow(mesh_oidset *set)
{
	size_t nslots = set->nslots * 2;
	slot *old = set->slots, *fresh = calloc(nslots, sizeof(slot));

	if (!fresh)
		return mesh_error_oom();
	set->slots = fresh;
	set->nslots = nslots;
	for (size_t i = 0; i < nslots / 2; i++)
		if (old[i].count)
			*find(set, &old[i].id) = old[i];
	free(old);
	return 0;
}

int mesh_oidset_add(mesh_oidset *set, const mesh_oid *id)
{
	slot *s;
	int error;

	/* At most half full keeps probe runs short. */
	if ((set->used + 1) * 2 > set->nslots && (error = grow(set)) < 0)
		return error;
	s = find(set, id);
	if (s->count) {
		if (s->count < UINT32_MAX)
			s->count++;
		return 0;
	}
	s->id = *id;
	s->count = 1;
	set->used++;
	return 1;
}

uint32_t *mesh_oidset_value(const mesh_oidset *set, const mesh_oid *id)
{
	slot *s = find(set, id);

	return s->count ? &s->count : NULL;
}

int mesh_oidset_put(mesh_oidset *set, const mesh_oid *id, uint32_t value,
		    uint32_t **out)
{
	slot *s;
	int error;

	if (value == 0)
		return mesh_error_set(MESH_EINVAL, "an object id set keeps no zero value");
	if ((set->used + 1) * 2 > set->nslots && (error = grow(set)) < 0)
		return error;
	s = find(set, id);
	if (!s->count) {
		s->id = *id;
		set->used++;
	}
	s->count = value;
	*out = &s->count;
	return 0;
}

/* Linear probing without tombstones: the slots after a freed one move
 * back when their home is at or before the hole. */
static void close_hole(mesh_oidset *set, size_t hole)
{
	size_t mask = set->nslots - 1;

	for (size_t i = (hole + 1) & mask; set->slots[i].count; i = (i + 1) & mask) {
		size_t home = home_of(&set->slots[i].id, set->nslots);
		bool movable = hole <= i ? (home <= hole || home > i)
					 : (home <= hole && home > i);
		if (movable) {
			set->slots[hole] = set->slots[i];
			set->slots[i].count = 0;
			hole = i;
		}
	}
}

bool mesh_oidset_remove(mesh_oidset *set, const mesh_oid *id)
{
	slot *s = find(set, id);

	if (s->count == 0)
		return false;
	if (--s->count == 0) {
		set->used--;
		close_hole(set, (size_t)(s - set->slots));
	}
	return true;
}

bool mesh_oidset_has(const mesh_oidset *set, const mesh_oid *id)
{
	return find(set, id)->count != 0;
}

size_t mesh_oidset_count(const mesh_oidset *set)
{
	return set->used;
}

void mesh_oidset_clear(mesh_oidset *set)
{
	memset(set->slots, 0, set->nslots * sizeof(slot));
	set->used = 0;
}

int mesh_oidset_foreach(const mesh_oidset *set, mesh_oidset_cb cb, void *ctx)
{
	for (size_t i = 0; i < set->nslots; i++) {
		int stop;
		if (set->slots[i].count && (stop = cb(ctx, &set->slots[i].id)) != 0)
			return stop;
	}
	return 0;
}
