/* Private to runtime/exec*.c: the helper process of an exec (see exec.h). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "base/err.h"

struct container_service;
struct exec_opts;

/* The helper's reports on its status pipe: two int32_t, kind and value, each one
 * write(2) (atomic on a pipe). */
enum exec_msg {
  EXEC_MSG_STARTED = 1, /* value: the process's pid (read from the runtime's pid file) */
  EXEC_MSG_FAILED = 2,  /* value: the runtime's wait status; it did not start the process */
  EXEC_MSG_EXITED = 3,  /* value: the process's exit code (128 + N for signal N) */
  EXEC_MSG_ERROR = 4,   /* value: an errno of the helper's own (fork, pid file) */
};

struct exec_helper_args {
  const char *runtime;  /* the runtime's path */
  int runtime_fd;       /* its sealed copy (runtime/sealed.h) to run instead, or -1 */
  bool hide_cgroup2;    /* run it without the hybrid cgroup2 in sight (cgroup-view.h) */
  char *const *argv;    /* its arguments, argv[0] included */
  const char *pid_file; /* where the runtime writes the process's pid */
  int stdio[3];         /* the runtime's stdin, stdout, stderr (inherited by the process
                           without a tty) */
  int status_fd;        /* the write end of the status pipe */
  pid_t parent;         /* nanocld: the helper gives up if it is gone already */
  bool tty;             /* the process makes its own session and process group */
};

/* Runs in a child forked by a thread of nanocld: async-signal-safe calls only (no
 * malloc, no stdio, no locks). Never returns. */
void exec_helper_main(const struct exec_helper_args *a) __attribute__((noreturn));

/* exec-process.c: the container's OCI process made the exec's (*out: a new reference). */
int exec_build_process(struct container_service *svc, const char *id,
                       const struct exec_opts *o, json_t **out, struct nc_err *err);
