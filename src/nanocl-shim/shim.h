/* nanocl-shim: one per running container, beside it for its whole life (docs/shim.md).
 *
 *   main.c     options, detaching, the order of the life, the sync line
 *   runtime.c  running the OCI runtime (create, start, delete) and reading its errors
 *   log.c      the container's log: JSON lines, partial lines, rotation
 *   json.c     a JSON string escaper and a tiny reader for the runtime's log lines
 *   loop.c     the event loop: output, signals, reaping; the exit file and OOM
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "base/err.h"

/* Most bytes of output one log record holds; longer lines are split (docs/shim.md). */
#define SHIM_LINE_MAX (16 * 1024)
/* After the container's init has exited, how long its pipes may stay open (held by
 * something that outlived it) before the shim stops waiting for their end. */
#define SHIM_DRAIN_MS 2000

struct shim_config {
  const char *id;
  const char *bundle;
  const char *runtime;
  const char *runtime_root;
  const char *log_path;
  uint64_t log_max;
  const char *exit_file;
  const char *pid_file;
  const char *cgroup; /* NULL: no OOM detection */
  int sync_fd;        /* -1 until parsed */
  int runtime_fd;     /* a sealed copy of the runtime to run (runtime/sealed.h), or -1 */
  bool hide_cgroup2;  /* run the runtime without the hybrid host's cgroup2 in sight
                         (runtime/cgroup-view.h: crun on such hosts) */
  bool no_detach;     /* stay the caller's child (it reaps us) */
};

/* ---- json.c */
struct nc_buf;
/* Appends `s` (len bytes) as the inside of a JSON string: quotes, backslashes and
 * control characters escaped, invalid UTF-8 replaced by U+FFFD. `out` must have room
 * for 6 * len bytes; returns the bytes written. */
size_t shim_json_escape(char *out, const char *s, size_t len);
/* The string value of top-level `key` in the JSON object `line` (len bytes), decoded into
 * `out` (NUL-terminated, cut to fit). Returns 0, or -1 when the key is absent, not a
 * string, or the line is not an object. */
int shim_json_get_string(const char *line, size_t len, const char *key, char *out, size_t size);
/* "2026-11-22T15:07:00.123456789Z" (RFC 3339, UTC, trailing zeros of the fraction dropped). */
void shim_time_format(const struct timespec *ts, char *out, size_t size);

/* ---- log.c */
struct shim_log {
  int fd;
  const char *path;
  char *rotated; /* PATH.1 */
  uint64_t size;
  uint64_t max;
  bool warned; /* a write or rotation failed: said once */
};

struct shim_stream {
  const char *name; /* "stdout" / "stderr" */
  int fd;           /* read end of the pipe; -1 once at its end */
  size_t len;
  char buf[SHIM_LINE_MAX];
};

int shim_log_open(struct shim_log *log, const char *path, uint64_t max, struct nc_err *err);
void shim_log_close(struct shim_log *log);
/* One record; never fails (a write error is reported once on stderr, the record lost). */
void shim_log_record(struct shim_log *log, const char *stream, const char *data, size_t len,
                     bool partial);
/* Reads what the pipe holds and logs every complete line (and 16 KiB pieces of longer
 * ones). Returns 1 after reading, 0 at the end of the pipe (the fd is then closed and the
 * rest flushed), -1 when nothing is there now (EAGAIN). */
int shim_stream_read(struct shim_stream *s, struct shim_log *log);
/* Logs what is left in the buffer: the unterminated end of the output. */
void shim_stream_flush(struct shim_stream *s, struct shim_log *log);

/* ---- runtime.c */
struct shim_runtime {
  const struct shim_config *cfg;
  int log_fd;            /* BUNDLE/runtime.log, read and appended */
  int lock_fd;           /* BUNDLE/runtime.lock: held while the runtime deletes */
  char pid_path[4096];   /* BUNDLE/container.pid */
  char oom_restore[16];  /* oom_score_adj the runtime's children get back, "" = leave */
};

int shim_runtime_init(struct shim_runtime *rt, const struct shim_config *cfg, struct nc_err *err);
/* `run --detach` with stdin /dev/null and the given stdout/stderr (write ends of the pipes),
 * then reads BUNDLE/container.pid. On failure `err` holds the runtime's own message. */
int shim_runtime_create(struct shim_runtime *rt, int out_fd, int err_fd, pid_t *pid,
                        struct nc_err *err);
/* `delete` (with --force when `force`); errors only logged unless `err` is wanted. */
int shim_runtime_delete(struct shim_runtime *rt, bool force, struct nc_err *err);
/* `delete` (then `delete --force` if it failed) in a child that holds BUNDLE/runtime.lock
 * (taken before the fork) until it is done; inline when fork fails. Returns in the shim
 * at once. */
void shim_runtime_delete_detached(struct shim_runtime *rt);

/* ---- loop.c */
struct shim_exit {
  int status; /* as from waitpid */
  struct timespec finished_at;
};

/* Copies output to the log, forwards signals, reaps; returns when the container's init
 * has exited and its pipes are drained (or SHIM_DRAIN_MS passed). `sigfd` is a
 * signalfd for the blocked signals; both streams' fds are non-blocking. */
int shim_loop_run(int sigfd, pid_t container, struct shim_stream *out, struct shim_stream *errs,
                  struct shim_log *log, struct shim_exit *exit_info, struct nc_err *err);
/* Writes the exit file atomically (oom_killed read from `cgroup` when given). */
int shim_exit_file_write(const char *path, const struct shim_exit *e, const char *cgroup,
                         struct nc_err *err);
/* Has the cgroup (v2 dir or v1 memory cgroup) seen an OOM kill? -1 when unreadable. */
int shim_cgroup_oom_killed(const char *cgroup);
