/*
 * serve.h - `meshfs serve`: a read-only catalog web page of a store on
 * loopback (domains, branches, tags, log, diff, a file browser).
 *
 * The data comes from the control commands, run as the CLI runs them
 * (ctlclient.h: the mount's control file when a mount serves the store,
 * the store itself otherwise, opened per request so a mount may start or
 * stop meanwhile), and files from the mount or from commit views
 * (view.h).  Every request must carry the random token printed at start.
 */
#ifndef MESHFS_SERVE_H
#define MESHFS_SERVE_H

#include <stdbool.h>

typedef struct meshfs_serve_opts {
	const char *store;      /* the store's path */
	const char *mount;      /* --mount: the mount to read through, or NULL */
	int log_level;
	int argc;               /* the words after "serve" */
	char **argv;
} meshfs_serve_opts;

/* Runs until SIGINT or SIGTERM.  Returns the process's exit status:
 * 0, 1 when the server could not start, 2 on bad arguments (a
 * non-loopback --listen among them). */
int meshfs_serve(const meshfs_serve_opts *opts);

#endif
