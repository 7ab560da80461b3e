/*
 * log.h - where libmeshcore's log lines go.
 *
 * A mesh_log is owned by whoever opens a store and passed down to the
 * modules that log; there is no process-wide logger.  With no sink set,
 * lines at or above the level go to stderr.
 */
#ifndef MESH_LOG_H
#define MESH_LOG_H

enum mesh_log_level {
	MESH_LOG_DEBUG = 0,
	MESH_LOG_INFO = 1,
	MESH_LOG_WARN = 2,
	MESH_LOG_ERROR = 3,
};

typedef void (*mesh_log_sink)(void *ctx, int level, const char *line);

typedef struct mesh_log {
	int level;            /* lines below this level are dropped */
	mesh_log_sink sink;   /* NULL: stderr */
	void *ctx;
} mesh_log;

/* log may be NULL: then nothing is written. */
void mesh_log_write(const mesh_log *log, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "debug", "info", "warn", "error" -> level; MESH_EINVAL otherwise. */
int mesh_log_level_parse(const char *name, int *out);

#endif
