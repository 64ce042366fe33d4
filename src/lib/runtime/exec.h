/* One more process in a running container (`docker exec`).
 *
 * The runtime runs it: `RUNTIME --root R --log L --log-format json exec --process P
 * --detach --pid-file F [--console-socket S] ID`, where P is the container's own OCI
 * process (its config.json) with the command, env, user, cwd, terminal and console size
 * of the exec. --process rather than --tty/--env/--user/--cwd flags because only the
 * process file carries consoleSize, which the runtime sets on the pty before the
 * command runs (setting it afterwards races with the command reading it); runc 1.1
 * takes --console-socket only with --detach.
 *
 * As the runtime detaches, a helper process (forked by nanocld, a child subreaper)
 * runs it and inherits the process when the runtime exits: the helper reaps it and
 * reports its exit code, and kills it (its process group) when asked (SIGTERM, also
 * sent by the kernel when nanocld's thread that started it dies).
 *
 * Without a tty the process's stdin is a pipe (with open_stdin) or /dev/null, its
 * stdout and stderr pipes; with a tty all three are the pty, whose master the runtime
 * passes over the console socket (SCM_RIGHTS).
 *
 * Files live in RUN_DIR/exec (0700) only while the process starts. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"
#include "runtime/container.h"

#define EXEC_START_TIMEOUT_MS 30000
#define EXEC_ARGS_MAX 4096 /* command words, and env entries */

struct exec_opts {
  const char *const *argv; /* the command, NULL-terminated, at least one word */
  const char *const *env;  /* "K=V" added to (replacing) the container's; NULL = none */
  const char *user;        /* "name|uid[:group|gid]"; NULL or "": the container's user */
  const char *workdir;     /* absolute; NULL or "": the container's */
  bool tty;
  bool open_stdin;
  uint16_t width, height;  /* the tty's size; 0 = the runtime's default */
};

struct exec_proc {
  pid_t helper;  /* our child; reaped by container_exec_wait */
  pid_t pid;     /* the process, on the host */
  bool tty;
  bool open_stdin; /* input is wanted: stdin_fd, or with a tty the pty's master */
  int stdin_fd;  /* without a tty: the write end of its stdin (open_stdin), else -1 */
  int stdout_fd; /* its stdout (a pipe's read end), or the pty's master */
  int stderr_fd; /* its stderr (a pipe's read end); -1 with a tty */
  int status_fd; /* readable when the process has ended (then call container_exec_wait) */
};

/* The container's id, when it exists (NC_ERR_NOT_FOUND) and runs (NC_ERR_CONFLICT). */
int container_exec_check(struct container_service *svc, const char *ns, const char *key,
                         char id[65], struct nc_err *err);

/* Starts the command in the running container `id`. Returns 0 with `p` filled once the
 * process runs. Returns -1 when it could not be started, with the reason in `err` (the
 * runtime's own message when the runtime refused) and in *code what `docker exec`
 * reports for it: 127 when the command was not found, 126 when it cannot be run (or
 * anything else went wrong). */
int container_exec_start(struct container_service *svc, const char *ns, const char *id,
                         const struct exec_opts *o, struct exec_proc *p, int *code,
                         struct nc_err *err);

/* Waits for the end of the process; returns its exit code (128 + N when signal N killed
 * it). Reaps the helper and closes status_fd; the stdio fds stay for the caller. */
int container_exec_wait(struct exec_proc *p);

/* Kills the process and its process group (SIGKILL, through the helper). */
void container_exec_kill(struct exec_proc *p);

/* A new size of the tty (no-op without a tty). */
int container_exec_resize(struct exec_proc *p, uint16_t width, uint16_t height,
                          struct nc_err *err);

/* Closes the stdio fds that are still open. */
void container_exec_close(struct exec_proc *p);
