/*
 * error.h - the one error mechanism of libmeshcore.
 *
 * Every public function returns 0 or a negative MESH_E* code; the codes are
 * negative errno values so the FUSE daemon can hand them to the kernel as
 * they are.  A failing function records a human message with
 * mesh_error_set(); the caller reads it with mesh_error_message().  The
 * message lives in thread-local storage, like libgit2's giterr, so threads
 * serving different FUSE requests never see each other's errors.
 */
#ifndef MESH_ERROR_H
#define MESH_ERROR_H

#include <errno.h>

#define MESH_OK         0
#define MESH_ENOENT     (-ENOENT)    /* no such domain, ref, path or object */
#define MESH_EEXIST     (-EEXIST)
#define MESH_EINVAL     (-EINVAL)    /* bad input: names, commands, sizes */
#define MESH_EIO        (-EIO)       /* storage failure or corrupt object */
#define MESH_ENOMEM     (-ENOMEM)
#define MESH_EBUSY      (-EBUSY)     /* conflict, lock held */
#define MESH_EAGAIN     (-EAGAIN)
#define MESH_EPERM      (-EPERM)
#define MESH_EACCES     (-EACCES)
#define MESH_EROFS      (-EROFS)     /* write to an immutable view */
#define MESH_ENOTDIR    (-ENOTDIR)
#define MESH_EISDIR     (-EISDIR)
#define MESH_ENOTEMPTY  (-ENOTEMPTY)
#define MESH_ENAMETOOLONG (-ENAMETOOLONG)
#define MESH_ENOSPC     (-ENOSPC)

/* Records code and a printf-style message for this thread; returns code. */
int mesh_error_set(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Records an out-of-memory error; returns MESH_ENOMEM. */
int mesh_error_oom(void);

/* Records errno of a failed system call on path; returns -errno. */
int mesh_error_os(const char *what, const char *path);

/* The last message set on this thread, or "" when none. */
const char *mesh_error_message(void);

/* The code of the last error set on this thread, 0 when none. */
int mesh_error_code(void);

void mesh_error_clear(void);

/* A short name for a code: "ENOENT", "EINVAL", ... */
const char *mesh_error_name(int code);

#endif
