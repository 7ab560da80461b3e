/*
 * progress.h - how far the long commands of a store have come.
 *
 * A command that can take over a second (commit of many files, merge,
 * gc, fsck, import, export) reports its phase and counts here; the
 * `progress` control command reads them, so a CLI on a terminal draws a
 * bar whether the command runs in a mount's daemon or in the CLI itself:
 * it asks from a second descriptor (or thread) while the first one waits
 * for the command's answer.
 *
 * The table belongs to the store handle.  A running command is found by
 * the thread that runs it, so work deep in core/ (a tree walk, a sweep)
 * reports without a progress argument threaded through every call.
 * Locks: the table's mutex guards the list and every entry's counters;
 * it is held only to copy a few words, never across work or I/O.
 */
#ifndef MESH_PROGRESS_H
#define MESH_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "cmd.h"

typedef struct mesh_progress_table mesh_progress_table;

typedef struct mesh_progress_state {
	char command[32];       /* "commit", "gc" */
	char target[128];       /* "sales/main", or "" */
	char phase[32];         /* "writing trees", "sweeping objects" */
	char unit[16];          /* what done and total count: "files" */
	uint64_t done, total;   /* total 0: not known (yet) */
	uint64_t bytes_done, bytes_total;   /* 0 when the phase counts no bytes */
	uid_t uid;
	pid_t pid;
	int64_t elapsed_ms;
} mesh_progress_state;

/* Free with mesh_progress_table_free (no command may still be running). */
int mesh_progress_table_new(mesh_progress_table **out);
void mesh_progress_table_free(mesh_progress_table *table);

/* Registers the calling thread's command until mesh_progress_end. */
int mesh_progress_begin(mesh_progress_table *table, const mesh_caller *caller,
			const char *command, const char *target);
void mesh_progress_end(mesh_progress_table *table);

/* Sets the calling thread's phase and counts; nothing when the thread
 * runs no registered command.  Cheap enough for every few hundred items. */
void mesh_progress_set(mesh_progress_table *table, const char *phase, const char *unit,
		       uint64_t done, uint64_t total);
/* Sets only the count done, keeping phase, unit and total: for walks
 * shared by several commands (gc's marking, fsck's checking). */
void mesh_progress_tick(mesh_progress_table *table, uint64_t done);
void mesh_progress_set_bytes(mesh_progress_table *table, uint64_t done, uint64_t total);

/* The commands running for caller (all of them for an administrator),
 * only those of process pid when pid > 0.  *out is malloc'd (caller
 * frees), *count may be 0. */
int mesh_progress_list(mesh_progress_table *table, const mesh_caller *caller, bool admin,
		       pid_t pid, mesh_progress_state **out, size_t *count);

/* "progress [--pid PID]" */
extern const mesh_cmd_spec mesh_progress_cmd_spec;

#endif
