/*
 * ctlclient.h - running a control command the way the CLI does: through
 * the control file of the mount serving a store when there is one, on
 * the store directly otherwise.  Shared by the CLI and `meshfs serve`.
 */
#ifndef MESHFS_CTLCLIENT_H
#define MESHFS_CTLCLIENT_H

/*
 * The meshfs mount serving store, or the one at mountpoint (store NULL):
 * fills mount_out and store_out (PATH_MAX bytes each).  0 found, -1 none.
 */
int mesh_ctl_find_mount(const char *store, const char *mountpoint,
			char *mount_out, char *store_out);

/* The words quoted into one command line (malloc'd, caller frees); NULL
 * with the error set when it would pass MESH_CONTROL_MAX_LINE. */
char *mesh_ctl_command_line(int argc, char *const *argv);

/* Sends line through MOUNT/.control: *answer (malloc'd, caller frees)
 * and *code, the command's result (0 or -errno).  Returns 0, or a
 * negative MESH_E* code when the control file could not be used. */
int mesh_ctl_run_via_mount(const char *mount, const char *line, char **answer, int *code);

/* Runs line on the store at store_path, opened for this one command
 * and closed again; *answer and *code as above. */
int mesh_ctl_run_on_store(const char *store_path, int log_level, const char *line,
			  char **answer, int *code);

/* Told a few times a second how far the command has come (state NULL
 * once when it is over; never called when nothing is running long
 * enough to be listed). */
struct mesh_progress_state;
typedef void (*mesh_ctl_progress_fn)(void *ctx, const struct mesh_progress_state *state);

/* The same as mesh_ctl_run_via_mount and mesh_ctl_run_on_store, with fn
 * (NULL: none) told the command's progress from a second thread. */
int mesh_ctl_run_via_mount_progress(const char *mount, const char *line,
				    mesh_ctl_progress_fn fn, void *ctx,
				    char **answer, int *code);
int mesh_ctl_run_on_store_progress(const char *store_path, int log_level, const char *line,
				   mesh_ctl_progress_fn fn, void *ctx,
				   char **answer, int *code);

#endif
