/* test_odb.c - object ids, the object store and its loose backend, errors
 * and logging. */
#include "testutil.h"
#include "error.h"
#include "log.h"
#include "odb.h"
#include "db.h"
#include "oid.h"

#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Per-test fixture (each test runs in its own forked process). */
static char *tmp;
static char objects_dir[512];
static mesh_odb *odb;

typedef struct captured_log {
	int count;
	int last_level;
	char last_line[2048];
} captured_log;

static captured_log captured;

static void capture_sink(void *ctx, int level, const char *line)
{
	captured_log *c = ctx;

	c->count++;
	c->last_level = level;
	snprintf(c->last_line, sizeof(c->last_line), "%s", line);
}

static const mesh_log test_log = {
	.level = MESH_LOG_DEBUG, .sink = capture_sink, .ctx = &captured,
};

static void setup(void)
{
	char tmp_dir[512];
	mesh_odb_backend *backend;

	tmp = test_tmpdir_new();
	snprintf(objects_dir, sizeof(objects_dir), "%s/objects", tmp);
	snprintf(tmp_dir, sizeof(tmp_dir), "%s/tmp", tmp);
	ck_assert_int_eq(mkdir(objects_dir, 0755), 0);
	ck_assert_int_eq(mkdir(tmp_dir, 0755), 0);
	ck_assert_int_eq(mesh_odb_backend_loose(&backend, objects_dir, tmp_dir), 0);
	ck_assert_int_eq(mesh_odb_open(&odb, backend, &test_log), 0);
	memset(&captured, 0, sizeof(captured));
}

static void teardown(void)
{
	mesh_odb_close(odb);
	odb = NULL;
	test_tmpdir_remove(tmp);
	tmp = NULL;
}


static void object_path(char *out, size_t size, const mesh_oid *oid)
{
	char hex[MESH_OID_HEXSZ + 1];

	mesh_oid_fmt(hex, oid);
	snprintf(out, size, "%s/%.2s/%s", objects_dir, hex, hex + 2);
}

static off_t stored_size(const mesh_oid *oid)
{
	char path[1024];
	struct stat st;

	object_path(path, sizeof(path), oid);
	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_size;
}

static int file_count;

static int count_file(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)path; (void)st; (void)ftw;
	if (flag == FTW_F)
		file_count++;
	return 0;
}

static int count_objects(void)
{
	file_count = 0;
	ck_assert_int_eq(nftw(objects_dir, count_file, 16, FTW_PHYS), 0);
	return file_count;
}

/* Flips one byte of an object's file at offset (negative: from the end). */
static void corrupt_byte(const mesh_oid *oid, off_t offset)
{
	char path[1024];
	unsigned char byte;
	int fd;

	object_path(path, sizeof(path), oid);
	ck_assert_int_eq(chmod(path, 0644), 0);
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	if (offset < 0)
		offset += lseek(fd, 0, SEEK_END);
	ck_assert_int_eq(pread(fd, &byte, 1, offset), 1);
	byte ^= 0x40;
	ck_assert_int_eq(pwrite(fd, &byte, 1, offset), 1);
	close(fd);
}

/* ---- oid -------------------------------------------------------------- */

START_TEST(oid_hash_matches_git_style_header)
{
	mesh_oid oid;
	char hex[MESH_OID_HEXSZ + 1];

	/* printf 'chunk 5\0hello' | sha256sum */
	ck_assert_int_eq(mesh_oid_hash(&oid, "chunk", "hello", 5), 0);
	mesh_oid_fmt(hex, &oid);
	ck_assert_str_eq(hex, "20629df502827a87bf37bd7c50cb33b72158871fdb4f2f3b37da3fbb755ddd5e");
	/* printf 'file 0\0' | sha256sum */
	ck_assert_int_eq(mesh_oid_hash(&oid, "file", NULL, 0), 0);
	mesh_oid_fmt(hex, &oid);
	ck_assert_str_eq(hex, "fba941a95a9a6ad74087b7acb8627e07d41d7a601513502fc21ba0df21f69f16");
}
END_TEST

START_TEST(oid_parse_fmt_round_trip)
{
	const char *hex = "20629DF502827a87bf37bd7c50cb33b72158871fdb4f2f3b37da3fbb755ddd5e";
	mesh_oid a, b;
	char out[MESH_OID_HEXSZ + 1];

	ck_assert_int_eq(mesh_oid_parse(&a, hex), 0);
	mesh_oid_fmt(out, &a);
	ck_assert_str_eq(out, "20629df502827a87bf37bd7c50cb33b72158871fdb4f2f3b37da3fbb755ddd5e");
	ck_assert_int_eq(mesh_oid_parse(&b, out), 0);
	ck_assert_int_eq(mesh_oid_cmp(&a, &b), 0);
	ck_assert(!mesh_oid_is_zero(&a));
	memset(&b, 0, sizeof(b));
	ck_assert(mesh_oid_is_zero(&b));
	ck_assert_int_gt(mesh_oid_cmp(&a, &b), 0);
}
END_TEST

START_TEST(oid_parse_rejects_bad_hex)
{
	mesh_oid oid;

	ck_assert_int_eq(mesh_oid_parse(&oid, "abc"), MESH_EINVAL);
	ck_assert_int_eq(mesh_oid_parse(&oid,
		"20629df502827a87bf37bd7c50cb33b72158871fdb4f2f3b37da3fbb755ddd5"), MESH_EINVAL);
	ck_assert_int_eq(mesh_oid_parse(&oid,
		"20629df502827a87bf37bd7c50cb33b72158871fdb4f2f3b37da3fbb755ddd5e0"), MESH_EINVAL);
	ck_assert_int_eq(mesh_oid_parse(&oid,
		"g0629df502827a87bf37bd7c50cb33b72158871fdb4f2f3b37da3fbb755ddd5e"), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "g0629df5"));
	ck_assert_int_eq(mesh_oid_parse(&oid, NULL), MESH_EINVAL);
}
END_TEST

/* ---- odb -------------------------------------------------------------- */

START_TEST(round_trip_each_type)
{
	static const mesh_otype types[] = {
		MESH_OBJ_CHUNK, MESH_OBJ_FILE, MESH_OBJ_TREE, MESH_OBJ_COMMIT,
	};
	const char *text = "tree 0123 some object body\n";

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		mesh_oid oid;
		mesh_otype type;
		void *data;
		size_t len;

		ck_assert_int_eq(mesh_odb_write(odb, types[i], text, strlen(text), &oid), 0);
		ck_assert_int_eq(mesh_odb_exists(odb, &oid), 1);
		ck_assert_int_eq(mesh_odb_read(odb, &oid, types[i], &data, &len, &type), 0);
		ck_assert_uint_eq(len, strlen(text));
		ck_assert_mem_eq(data, text, len);
		ck_assert_int_eq(type, types[i]);
		free(data);
	}
	/* Same bytes, different types: four distinct objects. */
	ck_assert_int_eq(count_objects(), 4);
}
END_TEST

START_TEST(round_trip_empty_and_large)
{
	size_t big = 3 * 1024 * 1024 + 17;
	unsigned char *buf = malloc(big);
	mesh_oid empty_id, big_id;
	void *data;
	size_t len;

	test_fill_random(buf, big, 7);
	memset(buf, 'x', big / 2);   /* half compressible */
	ck_assert_int_eq(mesh_odb_write(odb, MESH_OBJ_FILE, NULL, 0, &empty_id), 0);
	ck_assert_int_eq(mesh_odb_write(odb, MESH_OBJ_CHUNK, buf, big, &big_id), 0);
	ck_assert_int_eq(mesh_odb_read(odb, &empty_id, MESH_OBJ_FILE, &data, &len, NULL), 0);
	ck_assert_uint_eq(len, 0);
	free(data);
	ck_assert_int_eq(mesh_odb_read(odb, &big_id, MESH_OBJ_ANY, &data, &len, NULL), 0);
	ck_assert_uint_eq(len, big);
	ck_assert_mem_eq(data, buf, big);
	ck_assert_int_lt(stored_size(&big_id), (off_t)(big * 3 / 4));
	free(data);
	free(buf);
}
END_TEST

START_TEST(dedup_stores_once)
{
	const char *text = "identical content";
	mesh_oid a, b;
	mesh_odb_stats stats;

	ck_assert_int_eq(mesh_odb_write(odb, MESH_OBJ_CHUNK, text, strlen(text), &a), 0);
	ck_assert_int_eq(mesh_odb_write(odb, MESH_OBJ_CHUNK, text, strlen(text), &b), 0);
	ck_assert_int_eq(mesh_oid_cmp(&a, &b), 0);
	ck_assert_int_eq(count_objects(), 1);
	mesh_odb_stats_get(odb, &stats);
	ck_assert_uint_eq(stats.writes, 1);
	ck_assert_uint_eq(stats.write_dups, 1);
	ck_assert_uint_eq(stats.reads, 0);
}
END_TEST

START_TEST(compresses_only_when_it_pays)
{
	size_t len = 1024 * 1024;
	unsigned char *buf = malloc(len);
	mesh_oid text_id, random_id;
	void *data;
	size_t out_len;

	for (size_t i = 0; i < len; i++)
		buf[i] = "the quick brown fox jumps over the lazy dog\n"[i % 44];
	ck_assert_int_eq(mesh_odb_write(odb, MESH_OBJ_CHUNK, buf, len, &text_id), 0);
	ck_assert_int_lt(stored_size(&text_id), (off_t)(len / 50));
	test_fill_random(buf, len, 1);
	ck_assert_int_eq(mesh_odb_write(odb, MESH_OBJ_CHUNK, buf, len, &random_id), 0);
	/* Raw payload plus the 11-byte header: zstd would have grown it. */
	ck_assert_int_eq(stored_size(&random_id), (off_t)(len + 11));
	ck_assert_int_eq(mesh_odb_read(odb, &random_id, MESH_OBJ_CHUNK, &data, &out_len, NULL), 0);
	ck_assert_mem_eq(data, buf, len);
	free(data);
	free(buf);
}
END_TEST

static void assert_corrupt_read(const mesh_oid *oid)
{
	char hex[MESH_OID_HEXSZ + 1];
	void *data = NULL;
	size_t len;

	mesh_oid_fmt(hex, oid);
	captured.count = 0;
	ck_assert_int_eq(mesh_odb_read(odb, oid, MESH_OBJ_CHUNK, &data, &len, NULL), MESH_EIO);
	ck_assert_ptr_null(data);
	ck_assert_int_eq(mesh_error_code(), MESH_EIO);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), hex));
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "corrupt"));
	ck_assert_int_eq(captured.count, 1);
	ck_assert_int_eq(captured.last_level, MESH_LOG_ERROR);
	ck_assert_ptr_nonnull(strstr(captured.last_line, hex));
}

START_TEST(corrupt_raw_payload_is_eio)
{
	unsigned char buf[4096];
	mesh_oid oid;

	test_fill_random(buf, sizeof(buf), 3);
	ck_assert_int_eq(mesh_odb_write(odb, MESH_OBJ_CHUNK, buf, sizeof(buf), &oid), 0);
	corrupt_byte(&oid, 11 + 100);
	assert_corrupt_read(&oid);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "content hashes to"));
}
END_TEST

START_TEST(corrupt_compressed_payload_is_eio)
{
	char buf[8192];
	mesh_oid oid;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)('a' + i % 7);
	ck_assert_int_eq(mesh_odb_write(odb, MESH_OBJ_CHUNK, buf, sizeof(buf), &oid), 0);
	ck_assert_int_lt(stored_size(&oid), (off_t)sizeof(buf));
	corrupt_byte(&oid, -3);
	assert_corrupt_read(&oid);
}
END_TEST

START_TEST(corrupt_header_is_eio)
{
	mesh_oid oid;

	ck_assert_int_eq(mesh_odb_write(odb, MESH_OBJ_CHUNK, "abc", 3, &oid), 0);
	corrupt_byte(&oid, 0);    /* magic */
	assert_corrupt_read(&oid);
}
END_TEST

/* A stored zstd object whose header and frame both claim a terabyte:
 * EIO, and nothing that size is allocated. */
START_TEST(lying_compressed_length_is_eio)
{
	static const unsigned char frame[] = {
		0x28, 0xb5, 0x2f, 0xfd,                 /* zstd magic */
		0xe0,                                   /* single segment, 8-byte size */
		0, 0, 0, 0, 0, 1, 0, 0,                 /* content size 1 << 40 */
		0x09, 0x00, 0x00, 'x',                  /* last block, raw, 1 byte */
	};
	unsigned char stored[11 + sizeof(frame)] = { 'M', MESH_OBJ_CHUNK, 1 };
	char path[1024];
	mesh_oid oid;
	int fd;

	stored[3 + 5] = 1;                              /* header length 1 << 40 */
	memcpy(stored + 11, frame, sizeof(frame));
	ck_assert_int_eq(mesh_odb_write(odb, MESH_OBJ_CHUNK, "abc", 3, &oid), 0);
	object_path(path, sizeof(path), &oid);
	ck_assert_int_eq(chmod(path, 0644), 0);
	fd = open(path, O_WRONLY | O_TRUNC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, stored, sizeof(stored)), (ssize_t)sizeof(stored));
	close(fd);
	assert_corrupt_read(&oid);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "more than the compressed payload"));
}
END_TEST

START_TEST(truncated_object_is_eio)
{
	char path[1024];
	mesh_oid oid;

	ck_assert_int_eq(mesh_odb_write(odb, MESH_OBJ_CHUNK, "abcdef", 6, &oid), 0);
	object_path(path, sizeof(path), &oid);
	ck_assert_int_eq(chmod(path, 0644), 0);
	ck_assert_int_eq(truncate(path, 5), 0);
	assert_corrupt_read(&oid);
	ck_assert_int_eq(truncate(path, 14), 0);   /* header + half the data */
	assert_corrupt_read(&oid);
}
END_TEST

/* A read by id means something named the object: its absence is damage,
 * EIO and a log line naming it, like a corrupt object; exists() tells. */
START_TEST(missing_is_eio_and_logged)
{
	char hex[MESH_OID_HEXSZ + 1];
	mesh_oid oid;
	void *data = NULL;
	size_t len;

	ck_assert_int_eq(mesh_oid_hash(&oid, "chunk", "never stored", 12), 0);
	ck_assert_int_eq(mesh_odb_exists(odb, &oid), 0);
	ck_assert_int_eq(mesh_odb_read(odb, &oid, MESH_OBJ_ANY, &data, &len, NULL), MESH_EIO);
	ck_assert_ptr_null(data);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "missing"));
	ck_assert_int_eq(captured.count, 1);
	ck_assert_int_eq(captured.last_level, MESH_LOG_ERROR);
	mesh_oid_fmt(hex, &oid);
	ck_assert_ptr_nonnull(strstr(captured.last_line, hex));
	ck_assert_ptr_nonnull(strstr(captured.last_line, "missing"));
}
END_TEST

START_TEST(type_mismatch_is_eio)
{
	mesh_oid oid;
	mesh_otype type;
	void *data = NULL;
	size_t len;
	char hex[MESH_OID_HEXSZ + 1];

	ck_assert_int_eq(mesh_odb_write(odb, MESH_OBJ_TREE, "entries", 7, &oid), 0);
	mesh_oid_fmt(hex, &oid);
	ck_assert_int_eq(mesh_odb_read(odb, &oid, MESH_OBJ_COMMIT, &data, &len, NULL), MESH_EIO);
	ck_assert_ptr_null(data);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), hex));
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "tree"));
	ck_assert_int_eq(captured.last_level, MESH_LOG_ERROR);
	ck_assert_int_eq(mesh_odb_read(odb, &oid, MESH_OBJ_ANY, &data, &len, &type), 0);
	ck_assert_int_eq(type, MESH_OBJ_TREE);
	free(data);
}
END_TEST

START_TEST(write_rejects_bad_type)
{
	mesh_oid oid;

	ck_assert_int_eq(mesh_odb_write(odb, MESH_OBJ_ANY, "x", 1, &oid), MESH_EINVAL);
	ck_assert_int_eq(mesh_odb_write(odb, (mesh_otype)9, "x", 1, &oid), MESH_EINVAL);
	ck_assert_int_eq(count_objects(), 0);
	ck_assert_str_eq(mesh_otype_name(MESH_OBJ_COMMIT), "commit");
}
END_TEST

START_TEST(sync_and_no_temp_leftovers)
{
	char tmp_dir[600];
	mesh_oid oid;

	ck_assert_int_eq(mesh_odb_write(odb, MESH_OBJ_CHUNK, "data", 4, &oid), 0);
	ck_assert_int_eq(mesh_odb_sync(odb), 0);
	snprintf(tmp_dir, sizeof(tmp_dir), "%s/tmp", tmp);
	ck_assert_int_eq(rmdir(tmp_dir), 0);   /* fails unless empty */
}
END_TEST

START_TEST(loose_requires_directories)
{
	mesh_odb_backend *backend = NULL;
	char missing[600];

	snprintf(missing, sizeof(missing), "%s/nope", tmp);
	ck_assert_int_eq(mesh_odb_backend_loose(&backend, missing, objects_dir), MESH_ENOENT);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), missing));
	ck_assert_int_eq(mesh_odb_backend_loose(&backend, objects_dir, missing), MESH_ENOENT);
	ck_assert_ptr_null(backend);
}
END_TEST

typedef struct worker_arg {
	int id;
	int failures;
} worker_arg;

/* Every thread writes the same set plus its own objects and reads all. */
static void *worker(void *p)
{
	worker_arg *arg = p;
	unsigned char buf[20000];

	for (unsigned i = 0; i < 40; i++) {
		unsigned seed = i % 2 ? i : 1000 * (unsigned)arg->id + i;
		mesh_oid oid;
		void *data;
		size_t len;

		test_fill_random(buf, sizeof(buf), seed);
		memset(buf, 0, i * 400);
		if (mesh_odb_write(odb, MESH_OBJ_CHUNK, buf, sizeof(buf), &oid) < 0 ||
		    mesh_odb_read(odb, &oid, MESH_OBJ_CHUNK, &data, &len, NULL) < 0) {
			arg->failures++;
			continue;
		}
		if (len != sizeof(buf) || memcmp(data, buf, len) != 0)
			arg->failures++;
		free(data);
	}
	return NULL;
}

START_TEST(concurrent_writers_and_readers)
{
	pthread_t threads[6];
	worker_arg args[6];
	mesh_odb_stats stats;

	for (int i = 0; i < 6; i++) {
		args[i] = (worker_arg){ .id = i };
		ck_assert_int_eq(pthread_create(&threads[i], NULL, worker, &args[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(threads[i], NULL);
		ck_assert_int_eq(args[i].failures, 0);
	}
	/* 20 shared objects + 6 * 20 private ones. */
	ck_assert_int_eq(count_objects(), 20 + 6 * 20);
	mesh_odb_stats_get(odb, &stats);
	ck_assert_uint_eq(stats.reads, 6 * 40);
	ck_assert_uint_eq(stats.writes + stats.write_dups, 6 * 40);
}
END_TEST

/* ---- error and log ---------------------------------------------------- */

START_TEST(error_set_formats_and_returns_code)
{
	char big[3000];

	mesh_error_clear();
	ck_assert_int_eq(mesh_error_code(), 0);
	ck_assert_str_eq(mesh_error_message(), "");
	ck_assert_int_eq(mesh_error_set(MESH_EBUSY, "branch %s is locked by %d", "main", 42),
			 MESH_EBUSY);
	ck_assert_str_eq(mesh_error_message(), "branch main is locked by 42");
	ck_assert_int_eq(mesh_error_code(), MESH_EBUSY);
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	mesh_error_set(MESH_EINVAL, "%s", big);   /* truncated, not overflowed */
	ck_assert_uint_gt(strlen(mesh_error_message()), 500);
	ck_assert_uint_lt(strlen(mesh_error_message()), sizeof(big) - 1);
	ck_assert_int_eq(mesh_error_oom(), MESH_ENOMEM);
	ck_assert_str_eq(mesh_error_name(mesh_error_code()), "ENOMEM");
}
END_TEST

START_TEST(error_os_uses_errno)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/does-not-exist", tmp);
	ck_assert_int_lt(open(path, O_RDONLY), 0);
	ck_assert_int_eq(mesh_error_os("cannot open", path), MESH_ENOENT);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "cannot open"));
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), path));
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "No such file"));
	errno = EACCES;
	ck_assert_int_eq(mesh_error_os("cannot write", NULL), MESH_EACCES);
}
END_TEST

START_TEST(error_names)
{
	ck_assert_str_eq(mesh_error_name(MESH_ENOENT), "ENOENT");
	ck_assert_str_eq(mesh_error_name(MESH_EINVAL), "EINVAL");
	ck_assert_str_eq(mesh_error_name(MESH_EIO), "EIO");
	ck_assert_str_eq(mesh_error_name(MESH_EROFS), "EROFS");
	ck_assert_str_eq(mesh_error_name(MESH_ENOTEMPTY), "ENOTEMPTY");
	ck_assert_str_eq(mesh_error_name(MESH_ENAMETOOLONG), "ENAMETOOLONG");
}
END_TEST

static void *other_thread(void *p)
{
	char *seen = p;

	snprintf(seen, 64, "%s|%d", mesh_error_message(), mesh_error_code());
	mesh_error_set(MESH_EPERM, "other thread's error");
	return NULL;
}

START_TEST(error_is_per_thread)
{
	pthread_t thread;
	char seen[64] = "";

	mesh_error_set(MESH_EIO, "main thread's error");
	ck_assert_int_eq(pthread_create(&thread, NULL, other_thread, seen), 0);
	pthread_join(thread, NULL);
	ck_assert_str_eq(seen, "|0");
	ck_assert_str_eq(mesh_error_message(), "main thread's error");
	ck_assert_int_eq(mesh_error_code(), MESH_EIO);
}
END_TEST

START_TEST(log_levels_and_sink)
{
	mesh_log log = { .level = MESH_LOG_WARN, .sink = capture_sink, .ctx = &captured };
	int level;

	mesh_log_write(&log, MESH_LOG_INFO, "dropped %d", 1);
	ck_assert_int_eq(captured.count, 0);
	mesh_log_write(&log, MESH_LOG_WARN, "kept %d", 2);
	ck_assert_int_eq(captured.count, 1);
	ck_assert_str_eq(captured.last_line, "kept 2");
	ck_assert_int_eq(captured.last_level, MESH_LOG_WARN);
	mesh_log_write(NULL, MESH_LOG_ERROR, "nowhere");
	ck_assert_int_eq(mesh_log_level_parse("debug", &level), 0);
	ck_assert_int_eq(level, MESH_LOG_DEBUG);
	ck_assert_int_eq(mesh_log_level_parse("error", &level), 0);
	ck_assert_int_eq(level, MESH_LOG_ERROR);
	ck_assert_int_eq(mesh_log_level_parse("loud", &level), MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "loud"));
}
END_TEST

START_TEST(log_without_sink_goes_to_stderr)
{
	mesh_log log = { .level = MESH_LOG_INFO };
	char path[600], line[256] = "";
	FILE *f;
	int fd, saved;

	snprintf(path, sizeof(path), "%s/stderr.txt", tmp);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	mesh_log_write(&log, MESH_LOG_DEBUG, "too quiet");
	mesh_log_write(&log, MESH_LOG_WARN, "disk %d%% full", 91);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fd);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	ck_assert_str_eq(line, "meshfs: WARN: disk 91% full\n");
	ck_assert_ptr_null(fgets(line, sizeof(line), f));
	fclose(f);
}
END_TEST

/* Counts regular files below objects_dir. */
static int count_object_files(const char *dir)
{
	char cmd[700];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "find '%s' -type f | wc -l", dir);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(fscanf(p, "%d", &n), 1);
	pclose(p);
	return n;
}

START_TEST(tiered_keeps_small_objects_in_the_database)
{
	char db_path[600], tmp_dir[600], objects2[600];
	mesh_odb_backend *small, *large, *tiered;
	mesh_odb *t_odb;
	mesh_db *db;
	unsigned char *big = malloc(64 * 1024);
	mesh_oid small_id, big_id;
	void *data;
	size_t len;

	test_fill_random(big, 64 * 1024, 7);
	snprintf(db_path, sizeof(db_path), "%s/db", tmp);
	snprintf(tmp_dir, sizeof(tmp_dir), "%s/tmp", tmp);
	snprintf(objects2, sizeof(objects2), "%s/objects2", tmp);
	ck_assert_int_eq(mkdir(objects2, 0755), 0);
	ck_assert_int_eq(mesh_db_open(&db, db_path), 0);
	ck_assert_int_eq(mesh_odb_backend_db(&small, db), 0);
	ck_assert_int_eq(mesh_odb_backend_loose(&large, objects2, tmp_dir), 0);
	ck_assert_int_eq(mesh_odb_backend_tiered(&tiered, small, large, 16 * 1024), 0);
	ck_assert_int_eq(mesh_odb_open(&t_odb, tiered, &test_log), 0);

	ck_assert_int_eq(mesh_odb_write(t_odb, MESH_OBJ_TREE, "small tree", 10, &small_id), 0);
	ck_assert_int_eq(mesh_odb_write(t_odb, MESH_OBJ_CHUNK, big, 64 * 1024, &big_id), 0);
	/* Only the large, incompressible chunk became a file. */
	ck_assert_int_eq(count_object_files(objects2), 1);
	ck_assert_int_eq(mesh_odb_exists(t_odb, &small_id), 1);
	ck_assert_int_eq(mesh_odb_exists(t_odb, &big_id), 1);
	ck_assert_int_eq(mesh_odb_read(t_odb, &small_id, MESH_OBJ_TREE, &data, &len, NULL), 0);
	ck_assert_uint_eq(len, 10);
	ck_assert_int_eq(memcmp(data, "small tree", 10), 0);
	free(data);
	ck_assert_int_eq(mesh_odb_read(t_odb, &big_id, MESH_OBJ_CHUNK, &data, &len, NULL), 0);
	ck_assert_int_eq(memcmp(data, big, 64 * 1024), 0);
	free(data);

	/* A damaged value in the database is caught like a damaged file. */
	unsigned char key[2 + MESH_OID_RAWSZ] = { 'o', '/' };
	void *stored;
	size_t stored_len;
	memcpy(key + 2, small_id.id, MESH_OID_RAWSZ);
	ck_assert_int_eq(mesh_db_get(db, key, sizeof(key), &stored, &stored_len), 0);
	((unsigned char *)stored)[stored_len - 1] ^= 0xff;
	ck_assert_int_eq(mesh_db_put(db, key, sizeof(key), stored, stored_len, false), 0);
	free(stored);
	ck_assert_int_eq(mesh_odb_read(t_odb, &small_id, MESH_OBJ_TREE, &data, &len, NULL), MESH_EIO);
	ck_assert_ptr_nonnull(strstr(mesh_error_message(), "corrupt"));

	mesh_odb_close(t_odb);
	mesh_db_close(db);
	free(big);
}
END_TEST

/* A tiered store as meshfs opens one: objects under 16 KiB in db. */
static void open_tiered(const char *name, mesh_db **db, mesh_odb **t_odb)
{
	char db_path[600], tmp_dir[600], objects[600];
	mesh_odb_backend *small, *large, *tiered;

	snprintf(db_path, sizeof(db_path), "%s/%s-db", tmp, name);
	snprintf(tmp_dir, sizeof(tmp_dir), "%s/tmp", tmp);
	snprintf(objects, sizeof(objects), "%s/%s-objects", tmp, name);
	ck_assert_int_eq(mkdir(objects, 0755), 0);
	ck_assert_int_eq(mesh_db_open(db, db_path), 0);
	ck_assert_int_eq(mesh_odb_backend_db(&small, *db), 0);
	ck_assert_int_eq(mesh_odb_backend_loose(&large, objects, tmp_dir), 0);
	ck_assert_int_eq(mesh_odb_backend_tiered(&tiered, small, large, 16 * 1024), 0);
	ck_assert_int_eq(mesh_odb_open(t_odb, tiered, &test_log), 0);
}

START_TEST(batched_objects_exist_once_the_batch_is_written)
{
	char objects[600];
	unsigned char *big = malloc(64 * 1024);
	mesh_db *db;
	mesh_odb *t_odb;
	mesh_db_batch *batch;
	mesh_odb_stats stats;
	mesh_oid small_id, big_id, again;
	void *data;
	size_t len;

	test_fill_random(big, 64 * 1024, 11);
	open_tiered("b", &db, &t_odb);
	snprintf(objects, sizeof(objects), "%s/b-objects", tmp);
	ck_assert_int_eq(mesh_db_batch_new(&batch), 0);
	ck_assert_int_eq(mesh_odb_write_batched(t_odb, batch, MESH_OBJ_TREE, "small tree", 10,
						&small_id), 0);
	ck_assert_int_eq(mesh_odb_write_batched(t_odb, batch, MESH_OBJ_CHUNK, big, 64 * 1024,
						&big_id), 0);
	/* The large object is a file at once; the small one waits for the batch. */
	ck_assert_uint_eq(mesh_db_batch_count(batch), 1);
	ck_assert_int_eq(count_object_files(objects), 1);
	ck_assert_int_eq(mesh_odb_exists(t_odb, &big_id), 1);
	ck_assert_int_eq(mesh_odb_exists(t_odb, &small_id), 0);
	ck_assert_int_eq(mesh_db_batch_write(db, batch, false), 0);
	mesh_db_batch_free(batch);
	ck_assert_int_eq(mesh_odb_read(t_odb, &small_id, MESH_OBJ_TREE, &data, &len, NULL), 0);
	ck_assert_uint_eq(len, 10);
	ck_assert_int_eq(memcmp(data, "small tree", 10), 0);
	free(data);

	/* Stored already: nothing is added, and it counts as a duplicate. */
	ck_assert_int_eq(mesh_db_batch_new(&batch), 0);
	ck_assert_int_eq(mesh_odb_write_batched(t_odb, batch, MESH_OBJ_TREE, "small tree", 10,
						&again), 0);
	ck_assert_int_eq(mesh_oid_cmp(&again, &small_id), 0);
	ck_assert_uint_eq(mesh_db_batch_count(batch), 0);
	mesh_odb_stats_get(t_odb, &stats);
	ck_assert_uint_eq(stats.writes, 2);
	ck_assert_uint_eq(stats.write_dups, 1);
	/* Declared new, it is added unchecked: storing it again is harmless. */
	ck_assert_int_eq(mesh_odb_write_new_batched(t_odb, batch, MESH_OBJ_TREE, "small tree", 10,
						    &again), 0);
	ck_assert_int_eq(mesh_oid_cmp(&again, &small_id), 0);
	ck_assert_uint_eq(mesh_db_batch_count(batch), 1);
	ck_assert_int_eq(mesh_db_batch_write(db, batch, false), 0);
	mesh_db_batch_free(batch);
	ck_assert_int_eq(mesh_odb_read(t_odb, &small_id, MESH_OBJ_TREE, &data, &len, NULL), 0);
	free(data);
	ck_assert_int_eq(mesh_odb_write_batched(t_odb, NULL, MESH_OBJ_TREE, "x", 1, &again),
			 MESH_EINVAL);

	mesh_odb_close(t_odb);
	mesh_db_close(db);
	free(big);
}
END_TEST

/* A backend without batching (the loose one) writes at once. */
START_TEST(batched_write_without_database_is_immediate)
{
	mesh_db *db;
	mesh_db_batch *batch;
	mesh_oid id;
	void *data;
	size_t len;
	char db_path[600];

	snprintf(db_path, sizeof(db_path), "%s/db", tmp);
	ck_assert_int_eq(mesh_db_open(&db, db_path), 0);
	ck_assert_int_eq(mesh_db_batch_new(&batch), 0);
	ck_assert_int_eq(mesh_odb_write_batched(odb, batch, MESH_OBJ_TREE, "tree", 4, &id), 0);
	ck_assert_uint_eq(mesh_db_batch_count(batch), 0);
	ck_assert_int_eq(mesh_odb_read(odb, &id, MESH_OBJ_TREE, &data, &len, NULL), 0);
	ck_assert_uint_eq(len, 4);
	free(data);
	mesh_db_batch_free(batch);
	mesh_db_close(db);
}
END_TEST

static Suite *odb_suite(void)
{
	Suite *s = suite_create("odb");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, oid_hash_matches_git_style_header);
	tcase_add_test(tc, tiered_keeps_small_objects_in_the_database);
	tcase_add_test(tc, batched_objects_exist_once_the_batch_is_written);
	tcase_add_test(tc, batched_write_without_database_is_immediate);
	tcase_add_test(tc, oid_parse_fmt_round_trip);
	tcase_add_test(tc, oid_parse_rejects_bad_hex);
	tcase_add_test(tc, round_trip_each_type);
	tcase_add_test(tc, round_trip_empty_and_large);
	tcase_add_test(tc, dedup_stores_once);
	tcase_add_test(tc, compresses_only_when_it_pays);
	tcase_add_test(tc, corrupt_raw_payload_is_eio);
	tcase_add_test(tc, corrupt_compressed_payload_is_eio);
	tcase_add_test(tc, corrupt_header_is_eio);
	tcase_add_test(tc, truncated_object_is_eio);
	tcase_add_test(tc, lying_compressed_length_is_eio);
	tcase_add_test(tc, missing_is_eio_and_logged);
	tcase_add_test(tc, type_mismatch_is_eio);
	tcase_add_test(tc, write_rejects_bad_type);
	tcase_add_test(tc, sync_and_no_temp_leftovers);
	tcase_add_test(tc, loose_requires_directories);
	tcase_add_test(tc, concurrent_writers_and_readers);
	tcase_add_test(tc, error_set_formats_and_returns_code);
	tcase_add_test(tc, error_os_uses_errno);
	tcase_add_test(tc, error_names);
	tcase_add_test(tc, error_is_per_thread);
	tcase_add_test(tc, log_levels_and_sink);
	tcase_add_test(tc, log_without_sink_goes_to_stderr);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(odb_suite());
}
