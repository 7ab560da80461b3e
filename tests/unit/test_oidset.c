#include <string.h>

#include "testutil.h"
#include "error.h"
#include "oidset.h"

static mesh_oid id_of(unsigned n)
{
	mesh_oid id;

	/* Ids whose first bytes collide on purpose: one probe run. */
	memset(&id, 0, sizeof(id));
	memcpy(id.id + 28, &n, sizeof(n));
	return id;
}

START_TEST(counts_ids_added_and_removed)
{
	mesh_oidset *set;
	mesh_oid a = id_of(1), b = id_of(2);

	ck_assert_int_eq(mesh_oidset_new(&set), 0);
	ck_assert_int_eq(mesh_oidset_add(set, &a), 1);
	ck_assert_int_eq(mesh_oidset_add(set, &a), 0);
	ck_assert_int_eq(mesh_oidset_add(set, &b), 1);
	ck_assert_uint_eq(mesh_oidset_count(set), 2);
	ck_assert(mesh_oidset_remove(set, &a));
	ck_assert(mesh_oidset_has(set, &a));        /* added twice */
	ck_assert(mesh_oidset_remove(set, &a));
	ck_assert(!mesh_oidset_has(set, &a));
	ck_assert(!mesh_oidset_remove(set, &a));
	ck_assert(mesh_oidset_has(set, &b));
	ck_assert_uint_eq(mesh_oidset_count(set), 1);
	mesh_oidset_free(set);
}
END_TEST

/* Removing from a run of colliding ids keeps every other one findable,
 * across growth of the table. */
START_TEST(removal_keeps_colliding_ids_findable)
{
	mesh_oidset *set;

	ck_assert_int_eq(mesh_oidset_new(&set), 0);
	for (unsigned n = 0; n < 5000; n++) {
		mesh_oid id = id_of(n);
		ck_assert_int_eq(mesh_oidset_add(set, &id), 1);
	}
	for (unsigned n = 0; n < 5000; n += 3) {
		mesh_oid id = id_of(n);
		ck_assert(mesh_oidset_remove(set, &id));
	}
	for (unsigned n = 0; n < 5000; n++) {
		mesh_oid id = id_of(n);
		ck_assert_msg(mesh_oidset_has(set, &id) == (n % 3 != 0), "id %u", n);
	}
	mesh_oidset_free(set);
}
END_TEST

START_TEST(values_put_and_read_back)
{
	mesh_oidset *set;
	mesh_oid a = id_of(7), b = id_of(8);
	uint32_t *v;

	ck_assert_int_eq(mesh_oidset_new(&set), 0);
	ck_assert_ptr_null(mesh_oidset_value(set, &a));
	ck_assert_int_eq(mesh_oidset_put(set, &a, 5, &v), 0);
	*v |= 8;
	ck_assert_int_eq(mesh_oidset_put(set, &b, 1, &v), 0);
	ck_assert_uint_eq(*mesh_oidset_value(set, &a), 13);
	ck_assert_uint_eq(*mesh_oidset_value(set, &b), 1);
	ck_assert_int_eq(mesh_oidset_put(set, &a, 2, &v), 0);   /* replaced */
	ck_assert_uint_eq(*mesh_oidset_value(set, &a), 2);
	ck_assert_uint_eq(mesh_oidset_count(set), 2);
	ck_assert_int_eq(mesh_oidset_put(set, &a, 0, &v), MESH_EINVAL);
	ck_assert_uint_eq(*mesh_oidset_value(set, &a), 2);
	mesh_oidset_free(set);
}
END_TEST

static Suite *oidset_suite(void)
{
	Suite *s = suite_create("oidset");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, counts_ids_added_and_removed);
	tcase_add_test(tc, removal_keeps_colliding_ids_findable);
	tcase_add_test(tc, values_put_and_read_back);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(oidset_suite());
}
