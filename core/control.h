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
 *   fsck [--domain D] [--quick] [--repair]          (fsck.h)
 *   branch reset-head DOMAIN/BRANCH                  (fsck.h)
 */
#ifndef MESH_CONTROL_H
#define MESH_CONTROL_H

#include "cmd.h"
#include "store.h"
#include "view.h"

/* The limits of one command (README "Names and limits"); one more is
 * MESH_EINVAL with a message naming the limit. */
#define MESH_CONTROL_MAX_LINE 65536   /* bytes, a trailing newline included */
#define MESH_CONTROL_MAX_ARGS 256     /* words, the command's name included */
#define MESH_CONTROL_MAX_META 64      /* --meta pairs of a commit */

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

/* The answer of a command refused before it ran (the line as a whole:
 * too long, written in pieces...): code with the message set on this
 * thread.  Returns code; *answer as for mesh_control_run. */
int mesh_control_refusal(int code, char **answer);

/* Every command, in the order help lists them; the array is static. */
void mesh_control_commands(const mesh_cmd_spec *const **specs, size_t *count);

#endif
