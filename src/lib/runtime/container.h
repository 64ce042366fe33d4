/* The container service of nanocld: containers created from images, run by the
 * OCI runtime through one nanocl-shim each, watched, stopped, removed, and
 * re-adopted when nanocld restarts (they outlive it).
 *
 * On disk: STATE_DIR/containers/<id>/ holds config.json (the OCI bundle),
 * rootfs/ (the overlay, mounted while running), upper/ and work/ (the
 * container's own changes), hostname, hosts, resolv.conf, log (JSON lines),
 * exit (the shim's verdict), shim.pid, runtime (the path of the runtime that started it:
 * the one that knows it). RUN_DIR/runtime is the runtime's state. */
#pragma once

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "base/err.h"
#include "image/service.h"
#include "net/service.h"
#include "runtime/probe.h"
#include "runtime/sealed.h"
#include "store/store.h"

#define CONTAINER_WATCH_MAX 4096
#define CONTAINER_EXITS_KEPT 32

/* How a removed container ended (removal.c keeps the last ones a minute). */
struct container_exit {
  char id[65];
  char name[STORE_NAME_MAX];
  char namespace_[STORE_NAME_MAX];
  int exit_code;
  char exit_signal[16];
  bool oom_killed;
  char error[256];
  int64_t removed_at; /* time(NULL) */
};

typedef void (*container_exit_fn)(void *ctx, const char *id);

struct container_service {
  struct store *store;
  struct image_service *images;
  struct net_service *net;     /* addresses, namespaces and veths of containers on networks */
  struct runtime_info rt;
  struct runtime_sealed sealed; /* the runtime's executable, copied once (sealed.h) */
  char dir[PATH_MAX];          /* STATE_DIR/containers */
  char runtime_root[PATH_MAX]; /* RUN_DIR/runtime */
  char shim[PATH_MAX];         /* the nanocl-shim executable */
  /* Exits: a thread polls a pidfd per running shim. */
  pthread_t watcher;
  int epfd;
  int wake_fd;
  atomic_bool stopping;
  atomic_bool quitting; /* nanocld is shutting down: waits without a deadline end */
  pthread_mutex_t mu;   /* guards `changed`, and lifecycle steps of one container */
  pthread_cond_t changed; /* broadcast when a container starts, ends or is removed */
  void *watched;          /* the shims watched (watch.c), guarded by `mu` */
  /* removal.c, guarded by `mu`: ids being removed, ids not to auto-remove (a restart
   * in progress), and the exits of the last removed containers. */
  void *removing, *kept;
  struct container_exit exits[CONTAINER_EXITS_KEPT];
  int exits_next;
  sem_t starts;           /* bounds the starts in progress (runtime start-ups) */
  container_exit_fn on_exit;
  void *on_exit_ctx;
  /* Directories of removed containers, emptied by a low-priority thread (trash.c). */
  char trash[PATH_MAX]; /* STATE_DIR/trash */
  pthread_t janitor;
  bool janitor_running;
  pthread_mutex_t trash_mu;
  pthread_cond_t trash_cv;
  bool trash_pending, trash_stop;
};

/* Probes the runtime, re-adopts running containers, starts the watcher. */
int container_service_init(struct container_service *svc, struct store *store,
                           struct image_service *images, struct net_service *net,
                           const char *state_dir,
                           const char *run_dir, const char *runtime, const char *shim,
                           struct nc_err *err);
/* Stops watching. Containers keep running: their shims do not need nanocld. */
void container_service_destroy(struct container_service *svc);
/* nanocld is shutting down: every wait without a deadline (wait, log streams) ends now, so
 * that the HTTP server can stop; containers are not touched. */
void container_service_cancel(struct container_service *svc);

/* `body` is the API's create body: {"name", "image", …spec fields}. */
int container_create(struct container_service *svc, const char *ns, json_t *body, json_t **out,
                     struct nc_err *err);
/* A cargo's instance: the container row records whose it is. */
struct container_owner {
  const char *cargo;
  int64_t version;
  int instance;
};
int container_create_owned(struct container_service *svc, const char *ns, json_t *body,
                           const struct container_owner *owner, json_t **out,
                           struct nc_err *err);
/* Called by the watcher thread after a container ended and was recorded (the cargo
 * loop's wake-up); set before containers run, NULL for none. */
void container_on_exit(struct container_service *svc, container_exit_fn fn, void *ctx);
int container_start(struct container_service *svc, const char *ns, const char *key,
                    struct nc_err *err);
/* Stop signal, then SIGKILL after `timeout_s` (< 0: the container's own, default 10). */
int container_stop(struct container_service *svc, const char *ns, const char *key,
                   int timeout_s, struct nc_err *err);
int container_kill(struct container_service *svc, const char *ns, const char *key, int sig,
                   struct nc_err *err);
int container_remove(struct container_service *svc, const char *ns, const char *key, bool force,
                     struct nc_err *err);
int container_inspect(struct container_service *svc, const char *ns, const char *key,
                      json_t **out, struct nc_err *err);
/* ns NULL = all namespaces; `all` includes containers that are not running. */
int container_list(struct container_service *svc, const char *ns, bool all, json_t **out,
                   struct nc_err *err);
/* Blocks until the container is not running; *out = {"exit_code", …}. */
int container_wait(struct container_service *svc, const char *ns, const char *key, json_t **out,
                   struct nc_err *err);
/* Blocks until the container is removed (Docker's condition=removed), then *out as above.
 * A container removed in the last minute answers at once with how it ended. */
int container_wait_removed(struct container_service *svc, const char *ns, const char *key,
                           json_t **out, struct nc_err *err);
/* Stop, then start; an auto_remove container is kept through it (Docker's restart). */
int container_restart(struct container_service *svc, const char *ns, const char *key,
                      int timeout_s, struct nc_err *err);
/* The container's id and its log file path, for the log stream. */
int container_log_path(struct container_service *svc, const char *ns, const char *key,
                       char id[65], char *path, size_t size, struct nc_err *err);
bool container_is_running(struct container_service *svc, const char *id);
/* The state of `id` into out: created, running, exited; "" when it is gone. */
void container_state(struct container_service *svc, const char *id, char out[16]);
/* Waits (at most timeout_ms; < 0 forever) until `id` is not running; true when it is not. */
bool container_wait_stopped(struct container_service *svc, const char *id, int timeout_ms);
/* Waits (at most timeout_ms; < 0 forever) while `id` is in `state`; out: its state after,
 * "" when it is gone. */
void container_wait_while(struct container_service *svc, const char *id, const char *state,
                          int timeout_ms, char out[16]);

/* internal, shared by container*.c */
/* trash.c: STATE_DIR/trash and its thread; moving a container's directory there. */
int container_trash_init(struct container_service *svc, const char *state_dir,
                         struct nc_err *err);
void container_trash_destroy(struct container_service *svc);
int container_trash(struct container_service *svc, const char *id, struct nc_err *err);
int container_load(struct container_service *svc, const char *ns, const char *key,
                   struct store_container *out, struct nc_err *err);
/* The full id of the container `key` (name, id or id prefix) names in `ns`. */
int container_id_of(struct container_service *svc, const char *ns, const char *key, char id[65],
                    struct nc_err *err);
/* Writes the run-time state of c (a volatile transaction: store.h). */
int container_save(struct container_service *svc, const struct store_container *c,
                   struct nc_err *err);
void container_path(const struct container_service *svc, const char *id, const char *file,
                    char *out, size_t size);
int container_watch(struct container_service *svc, const char *id, pid_t shim_pid,
                    struct nc_err *err);
/* removal.c. Undoes c (not running): root fs, runtime state, network, directory, row.
 * `durable` false: the row's deletion is not fsync'd. Two removals of one container at
 * once: the second waits for the first and returns 0. */
int container_destroy(struct container_service *svc, const struct store_container *c,
                      bool durable, struct nc_err *err);
/* Does c's spec say auto_remove? */
bool container_spec_auto_remove(const struct store_container *c);
/* ... and is no restart keeping it? */
bool container_auto_removed(struct container_service *svc, const struct store_container *c);
/* The removal nanocld does itself when an auto_remove container ends; logged. */
void container_auto_remove(struct container_service *svc, const struct store_container *c);
void container_keep(struct container_service *svc, const char *id, bool keep);
json_t *container_exit_json(int code, const char *signal, bool oom, const char *error);
json_t *container_removed_exit(struct container_service *svc, const char *ns, const char *key);
void container_removal_destroy(struct container_service *svc);
/* The shim is gone: read its exit file, record it, unmount the root fs. */
void container_reap(struct container_service *svc, const char *id);
/* The path of the runtime that started container `id` (BUNDLE/runtime; nanocld's own
 * for a container started before that file existed). */
void container_runtime_of(struct container_service *svc, const char *id, char *path,
                          size_t size);
/* Runs that runtime with --root ROOT and `args`; its stderr becomes the error. */
int container_runtime(struct container_service *svc, const char *id, const char *const *args,
                      struct nc_err *err);
/* `runtime delete --force` when the runtime still has state for `id` (a crash
 * leftover); otherwise nothing, sparing a runtime start-up (10-20 ms for runc).
 * A shim that has ended leaves its `delete` to a child holding the container's
 * runtime.lock: with `wait` this waits for it (the id is about to be run again);
 * without, it leaves the runtime to that child. */
void container_runtime_forget(struct container_service *svc, const char *id, bool wait);
