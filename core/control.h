/*
 * control.h - the control commands: one line in, one JSON answer out.
 *
 * The same code serves the mount's .control file and the CLI when no
 * mount is running.  Grammar: words separated by blanks, quoted as a
 * shell does ('single' literal, "double" with \" \\ escapes, a backslash
 * escapes the next character outside quotes).  Commands:
 *
 *   commit DOMAIN/BRANCH -m MESSAGE [--meta KEY=VALUE]...
 *   status DOMAIN/BRANCH
 *   log DOMAIN/REF [-n N]
 *   domain create NAME [--description TEXT]
 *   domain list
 *   branch create DOMAIN/NAME [--from REF] | branch delete DOMAIN/NAME
 *   branch list DOMAIN
 *   tag create DOMAIN/TAG REF | tag delete DOMAIN/TAG | tag list DOMAIN
 *   diff DOMAIN/REF1 REF2 [-- PATH]
 *   merge DOMAIN/SRC --into BRANCH [-m MSG] [--strategy dest-wins|source-wins]
 *   revert DOMAIN/BRANCH COMMIT [--parent N]
 *   cherry-pick DOMAIN/BRANCH COMMIT
 *   reset DOMAIN/BRANCH [-- PATH]
 *   cp DOMAIN/REF/PATH DOMAIN2/BRANCH/PATH
 */
#ifndef MESH_CONTROL_H
#define MESH_CONTROL_H

#include "store.h"
#include "view.h"

#define MESH_CONTROL_MAX_LINE 65536
#define MESH_CONTROL_MAX_ARGS 128

/* Where commands find the branch views, so that a commit updates the
 * very view the mount shows.  The view is borrowed. */
typedef int (*mesh_control_branch_view)(void *ctx, const char *domain,
					const char *branch, mesh_view **out);

/* Told after a command changed what a branch shows (changes lists the
 * paths), or created or deleted a branch (changes NULL), so that the
 * mount can drop exactly those entries from the kernel's caches. */
typedef void (*mesh_control_changed)(void *ctx, const char *domain,
				     const char *branch,
				     const mesh_change *changes, size_t count);

typedef struct mesh_control_env {
	mesh_store *store;
	mesh_control_branch_view branch_view;
	mesh_control_changed changed;   /* may be NULL */
	void *ctx;
} mesh_control_env;

/* Splits a command line into words; free with mesh_control_words_free.
 * MESH_EINVAL on an unterminated quote or too many words. */
int mesh_control_split(const char *line, char ***words, size_t *count);
void mesh_control_words_free(char **words, size_t count);

/*
 * Runs one command.  Returns 0 or a negative MESH_E* code; *answer is
 * always set (malloc'd JSON, caller frees), describing the error when
 * the command failed, except on out-of-memory where it may be NULL.
 */
int mesh_control_run(const mesh_control_env *env, const mesh_caller *caller,
		     const char *line, char **answer);

#endif
