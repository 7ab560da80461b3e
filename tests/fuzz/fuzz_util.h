/*
 * fuzz_util.h - what the libFuzzer targets share: an in-memory object
 * store, a scratch store with a small history, and the view table the
 * mount would keep.  Everything lives for the whole fuzzing process.
 */
#ifndef MESH_FUZZ_UTIL_H
#define MESH_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control.h"
#include "odb.h"
#include "store.h"

/* Aborts (a crash the fuzzer reports) with a message when cond is false:
 * a property of the code under test that does not hold. */
#define FUZZ_ASSERT(cond, ...) \
	do { if (!(cond)) fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); } while (0)
void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 4, 5)));

/*
 * An object store that keeps objects in memory.  While an answer is set
 * (fuzz_mem_odb_answer), every read returns those stored bytes whatever
 * the id, so the decoding of arbitrary stored bytes can be driven.
 */
mesh_odb *fuzz_mem_odb(void);
void fuzz_mem_odb_answer(const void *stored, size_t len);   /* NULL: off */
/* The stored bytes last written for oid (NULL when none). */
const void *fuzz_mem_odb_stored(const mesh_oid *oid, size_t *len);

/*
 * A store in a temporary directory (removed at exit) holding domain
 * "sales": main with five commits (files under orders/, a merge of
 * branch dev), branch dev, tag v1 at main~2; and domain "marketing".
 */
mesh_store *fuzz_scratch_store(void);
/* The control environment over it (views opened once, kept). */
const mesh_control_env *fuzz_control_env(void);
const mesh_caller *fuzz_caller(void);

/* Whether s is valid UTF-8. */
bool fuzz_utf8_valid(const char *s);

/* A NUL-terminated copy of the fuzzer's bytes (caller frees). */
char *fuzz_cstring(const uint8_t *data, size_t size);

#endif
