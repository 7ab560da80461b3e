/* test_chunk.c - content-defined chunking. */
#include "testutil.h"
#include "chunk.h"
#include "error.h"
#include "oid.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const mesh_chunk_params small = {
	.min_size = 1024, .avg_size = 4096, .max_size = 16384,
};


/* Chunk lengths of a whole buffer; caller frees. */
static size_t *cut_all(const mesh_chunk_params *p, const unsigned char *buf,
		       size_t len, size_t *count)
{
	size_t *lens = malloc((len / p->min_size + 2) * sizeof(*lens));
	size_t pos = 0, n = 0;

	ck_assert_ptr_nonnull(lens);
	while (pos < len) {
		size_t cut = mesh_chunk_next(p, buf + pos, len - pos, true);

		ck_assert_uint_gt(cut, 0);
		lens[n++] = cut;
		pos += cut;
	}
	*count = n;
	return lens;
}

static void assert_bounds(const mesh_chunk_params *p, const size_t *lens,
			  size_t count, size_t total)
{
	size_t sum = 0;

	for (size_t i = 0; i < count; i++) {
		ck_assert_uint_le(lens[i], p->max_size);
		if (i + 1 < count)
			ck_assert_uint_ge(lens[i], p->min_size);
		sum += lens[i];
	}
	ck_assert_uint_eq(sum, total);
}

START_TEST(deterministic)
{
	size_t len = 2 * 1024 * 1024, n1, n2;
	unsigned char *buf = malloc(len);
	unsigned char *copy = malloc(len);
	size_t *a, *b;

	test_fill_random(buf, len, 1);
	memcpy(copy, buf, len);
	a = cut_all(&mesh_chunk_default_params, buf, len, &n1);
	b = cut_all(&mesh_chunk_default_params, copy, len, &n2);
	ck_assert_uint_eq(n1, n2);
	ck_assert_mem_eq(a, b, n1 * sizeof(*a));
	ck_assert_uint_gt(n1, 2);   /* it really cut, not just max-size slices */
	free(a); free(b); free(buf); free(copy);
}
END_TEST

START_TEST(bounds_respected)
{
	size_t len = 8 * 1024 * 1024, n;
	unsigned char *buf = malloc(len);
	size_t *lens;

	test_fill_random(buf, len, 2);
	lens = cut_all(&mesh_chunk_default_params, buf, len, &n);
	assert_bounds(&mesh_chunk_default_params, lens, n, len);
	free(lens);
	lens = cut_all(&small, buf, len, &n);
	assert_bounds(&small, lens, n, len);
	free(lens);
	/* Constant data never matches a cut: every chunk is max-sized. */
	memset(buf, 0, len);
	lens = cut_all(&mesh_chunk_default_params, buf, len, &n);
	ck_assert_uint_eq(n, len / mesh_chunk_default_params.max_size);
	for (size_t i = 0; i < n; i++)
		ck_assert_uint_eq(lens[i], mesh_chunk_default_params.max_size);
	free(lens);
	free(buf);
}
END_TEST

START_TEST(average_near_target)
{
	size_t len = 16 * 1024 * 1024, n;
	unsigned char *buf = malloc(len);
	size_t *lens;

	test_fill_random(buf, len, 3);
	lens = cut_all(&small, buf, len, &n);
	/* Normalized chunking keeps the mean close to avg_size. */
	ck_assert_uint_gt(len / n, small.avg_size / 2);
	ck_assert_uint_lt(len / n, small.avg_size * 2);
	free(lens);
	lens = cut_all(&mesh_chunk_default_params, buf, len, &n);
	ck_assert_uint_gt(len / n, mesh_chunk_default_params.avg_size / 2);
	ck_assert_uint_lt(len / n, mesh_chunk_default_params.avg_size * 2);
	free(lens);
	free(buf);
}
END_TEST

/* Feeding data in pieces (at_eof false until the end) cuts exactly as
 * the whole buffer does. */
START_TEST(streaming_matches_whole_buffer)
{
	size_t len = 3 * 1024 * 1024 + 333, n, pos = 0, avail = 0, i = 0;
	unsigned char *buf = malloc(len);
	size_t *lens;
	uint64_t step = 12345;

	test_fill_random(buf, len, 4);
	lens = cut_all(&small, buf, len, &n);
	while (pos < len) {
		size_t cut;

		step = step * 6364136223846793005ULL + 1442695040888963407ULL;
		avail += (step >> 33) % 20000;
		if (avail > len)
			avail = len;
		while ((cut = mesh_chunk_next(&small, buf + pos, avail - pos,
					      avail == len)) > 0) {
			ck_assert_uint_lt(i, n);
			ck_assert_uint_eq(cut, lens[i]);
			i++;
			pos += cut;
		}
	}
	ck_assert_uint_eq(i, n);
	free(lens);
	free(buf);
}
END_TEST

START_TEST(eof_and_short_input)
{
	unsigned char buf[64] = {0};
	unsigned char *big = malloc(small.max_size * 3);

	ck_assert_uint_eq(mesh_chunk_next(&small, buf, 0, true), 0);
	ck_assert_uint_eq(mesh_chunk_next(&small, buf, sizeof(buf), false), 0);
	ck_assert_uint_eq(mesh_chunk_next(&small, buf, sizeof(buf), true), sizeof(buf));
	memset(big, 0, small.max_size * 3);   /* zeros never cut */
	ck_assert_uint_eq(mesh_chunk_next(&small, big, small.max_size - 1, false), 0);
	ck_assert_uint_eq(mesh_chunk_next(&small, big, small.max_size * 3, false),
			  small.max_size);
	free(big);
}
END_TEST

/* Chunk ids of a buffer, sorted, for set comparison. */
static int oid_cmp_qsort(const void *a, const void *b)
{
	return mesh_oid_cmp(a, b);
}

static mesh_oid *chunk_ids(const unsigned char *buf, size_t len, size_t *count)
{
	size_t *lens = cut_all(&mesh_chunk_default_params, buf, len, count);
	mesh_oid *ids = malloc(*count * sizeof(*ids));
	size_t pos = 0;

	for (size_t i = 0; i < *count; i++) {
		ck_assert_int_eq(mesh_oid_hash(&ids[i], "chunk", buf + pos, lens[i]), 0);
		pos += lens[i];
	}
	free(lens);
	qsort(ids, *count, sizeof(*ids), oid_cmp_qsort);
	return ids;
}

static size_t shared_ids(const mesh_oid *a, size_t na, const mesh_oid *b, size_t nb)
{
	size_t i = 0, j = 0, shared = 0;

	while (i < na && j < nb) {
		int c = mesh_oid_cmp(&a[i], &b[j]);

		if (c == 0)
			shared++;
		if (c <= 0)
			i++;
		if (c >= 0)
			j++;
	}
	return shared;
}

START_TEST(insertion_moves_few_boundaries)
{
	size_t len = 8 * 1024 * 1024, insert = 100, na, nb, nc;
	unsigned char *orig = malloc(len);
	unsigned char *front = malloc(len + insert);
	unsigned char *middle = malloc(len + insert);
	mesh_oid *a, *b, *c;

	test_fill_random(orig, len, 5);
	test_fill_random(front, insert, 6);
	memcpy(front + insert, orig, len);
	memcpy(middle, orig, len / 2);
	test_fill_random(middle + len / 2, insert, 7);
	memcpy(middle + len / 2 + insert, orig + len / 2, len / 2);
	a = chunk_ids(orig, len, &na);
	b = chunk_ids(front, len + insert, &nb);
	c = chunk_ids(middle, len + insert, &nc);
	ck_assert_uint_ge(na, 16);
	/* Only the chunks around the edit change. */
	ck_assert_uint_ge(shared_ids(a, na, b, nb), na - 2);
	ck_assert_uint_ge(shared_ids(a, na, c, nc), na - 3);
	free(a); free(b); free(c);
	free(orig); free(front); free(middle);
}
END_TEST

START_TEST(params_check)
{
	mesh_chunk_params p = small;

	ck_assert_int_eq(mesh_chunk_params_check(&mesh_chunk_default_params), 0);
	ck_assert_uint_eq(mesh_chunk_default_params.min_size, 64 * 1024);
	ck_assert_uint_eq(mesh_chunk_default_params.avg_size, 256 * 1024);
	ck_assert_uint_eq(mesh_chunk_default_params.max_size, 1024 * 1024);
	ck_assert_int_eq(mesh_chunk_params_check(&p), 0);
	p.min_size = 0;
	ck_assert_int_eq(mesh_chunk_params_check(&p), MESH_EINVAL);
	p = small;
	p.min_size = p.avg_size + 1;
	ck_assert_int_eq(mesh_chunk_params_check(&p), MESH_EINVAL);
	p = small;
	p.max_size = p.avg_size - 1;
	ck_assert_int_eq(mesh_chunk_params_check(&p), MESH_EINVAL);
	p = small;
	p.avg_size = 5000;
	ck_assert_int_eq(mesh_chunk_params_check(&p), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "5000"));
	p = (mesh_chunk_params){ .min_size = 8, .avg_size = 8, .max_size = 8 };
	ck_assert_int_eq(mesh_chunk_params_check(&p), 0);
	ck_assert_int_eq(mesh_chunk_params_check(NULL), MESH_EINVAL);
}
END_TEST

static Suite *chunk_suite(void)
{
	Suite *s = suite_create("chunk");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, deterministic);
	tcase_add_test(tc, bounds_respected);
	tcase_add_test(tc, average_near_target);
	tcase_add_test(tc, streaming_matches_whole_buffer);
	tcase_add_test(tc, eof_and_short_input);
	tcase_add_test(tc, insertion_moves_few_boundaries);
	tcase_add_test(tc, params_check);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(chunk_suite());
}
