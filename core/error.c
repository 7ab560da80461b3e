/*
 * error.c - thread-local error code and message.
 *
 * This is the one piece of mutable global state libmeshcore allows: each
 * thread has its own slot, so concurrent FUSE requests never clobber each
 * other's messages.
 */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MESH_ERROR_MSG_MAX 1024

static _Thread_local int last_code;
static _Thread_local char last_message[MESH_ERROR_MSG_MAX];

int mesh_error_set(int code, const char *fmt, ...)
{
	va_list ap;

	last_code = code;
	va_start(ap, fmt);
	vsnprintf(last_message, sizeof(last_message), fmt, ap);
	va_end(ap);
	return code;
}

int mesh_error_oom(void)
{
	return mesh_error_set(MESH_ENOMEM, "out of memory");
}

int mesh_error_os(const char *what, const char *path)
{
	int err = errno;
	char buf[256];

	/* A caller that lost errno still gets a failure, never success. */
	if (err <= 0)
		err = EIO;
	/* strerror_r (GNU flavour under _GNU_SOURCE) is thread-safe. */
	const char *text = strerror_r(err, buf, sizeof(buf));

	if (path)
		return mesh_error_set(-err, "%s %s: %s", what, path, text);
	return mesh_error_set(-err, "%s: %s", what, text);
}

const char *mesh_error_message(void)
{
	return last_message;
}

int mesh_error_code(void)
{
	return last_code;
}

void mesh_error_clear(void)
{
	last_code = 0;
	last_message[0] = '\0';
}

const char *mesh_error_name(int code)
{
	switch (code) {
	case MESH_OK: return "OK";
	case MESH_ENOENT: return "ENOENT";
	case MESH_EEXIST: return "EEXIST";
	case MESH_EINVAL: return "EINVAL";
	case MESH_EIO: return "EIO";
	case MESH_ENOMEM: return "ENOMEM";
	case MESH_EBUSY: return "EBUSY";
	case MESH_EAGAIN: return "EAGAIN";
	case MESH_EPERM: return "EPERM";
	case MESH_EACCES: return "EACCES";
	case MESH_EROFS: return "EROFS";
	case MESH_ENOTDIR: return "ENOTDIR";
	case MESH_EISDIR: return "EISDIR";
	case MESH_ENOTEMPTY: return "ENOTEMPTY";
	case MESH_ENAMETOOLONG: return "ENAMETOOLONG";
	case MESH_ENOSPC: return "ENOSPC";
	default: return "EUNKNOWN";
	}
}
