/*
 * log.c - formatting log lines for a caller-chosen sink.
 */
#include "log.h"
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MESH_LOG_LINE_MAX 2048

static const char *const level_names[] = {
	[MESH_LOG_DEBUG] = "debug",
	[MESH_LOG_INFO] = "info",
	[MESH_LOG_WARN] = "warn",
	[MESH_LOG_ERROR] = "error",
};

static const char *level_label(int level)
{
	static const char *const labels[] = {
		[MESH_LOG_DEBUG] = "DEBUG",
		[MESH_LOG_INFO] = "INFO",
		[MESH_LOG_WARN] = "WARN",
		[MESH_LOG_ERROR] = "ERROR",
	};

	if (level < MESH_LOG_DEBUG)
		return labels[MESH_LOG_DEBUG];
	if (level > MESH_LOG_ERROR)
		return labels[MESH_LOG_ERROR];
	return labels[level];
}

void mesh_log_write(const mesh_log *log, int level, const char *fmt, ...)
{
	char line[MESH_LOG_LINE_MAX];
	va_list ap;

	if (!log || level < log->level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log->sink) {
		log->sink(log->ctx, level, line);
		return;
	}
	/* One fprintf call so that lines from concurrent threads do not
	 * interleave mid-line (stdio locks the stream per call). */
	fprintf(stderr, "meshfs: %s: %s\n", level_label(level), line);
}

int mesh_log_level_parse(const char *name, int *out)
{
	if (!name)
		return mesh_error_set(MESH_EINVAL, "log level missing");
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (int)i;
			return 0;
		}
	}
	return mesh_error_set(MESH_EINVAL,
			      "unknown log level '%s' (expected debug, info, warn or error)",
			      name);
}
