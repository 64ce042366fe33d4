/* Knowing when containers end: one pidfd per running shim, polled by a thread.
 * When a shim exits, its exit file says how the container ended. At start-up
 * the shims of running containers are re-adopted; those that died while
 * nanocld was away are reaped from their exit files. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "runtime/container.h"
#include "runtime/rootfs.h"

struct watched {
  char id[65];
  int pidfd;
  struct watched *next;
};

static void unlink_watched(struct container_service *svc, struct watched *w)
{
  pthread_mutex_lock(&svc->mu);
  for (struct watched **p = (struct watched **)&svc->watched; *p; p = &(*p)->next)
    if (*p == w) {
      *p = w->next;
      break;
    }
  pthread_mutex_unlock(&svc->mu);
}

static int pidfd_open_(pid_t pid)
{
  return (int)syscall(SYS_pidfd_open, pid, 0);
}

int container_watch(struct container_service *svc, const char *id, pid_t shim_pid,
                    struct nc_err *err)
{
  struct watched *w = calloc(1, sizeof *w);
  if (!w)
    return nc_err_set(err, NC_ERR_INTERNAL, "out of memory");
  snprintf(w->id, sizeof w->id, "%s", id);
  w->pidfd = pidfd_open_(shim_pid);
  if (w->pidfd < 0) {
    free(w);
    if (errno == ESRCH) { /* gone already: reap it now */
      container_reap(svc, id);
      return 0;
    }
    return nc_err_sys(err, errno, "cannot watch the shim of %.12s", id);
  }
  fcntl(w->pidfd, F_SETFD, FD_CLOEXEC);
  /* On the list before epoll can report it: from epoll_ctl on, the watcher thread may
   * take it off and free it at once (a shim that has already ended). */
  pthread_mutex_lock(&svc->mu);
  w->next = svc->watched;
  svc->watched = w;
  pthread_mutex_unlock(&svc->mu);
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = w };
  if (epoll_ctl(svc->epfd, EPOLL_CTL_ADD, w->pidfd, &ev) < 0) {
    int e = errno;
    unlink_watched(svc, w);
    close(w->pidfd);
    free(w);
    return nc_err_sys(err, e, "cannot watch the shim of %.12s", id);
  }
  return 0;
}

/* The exit file: {"exit_code", "signal", "oom_killed", "finished_at"}. */
static bool read_exit(struct container_service *svc, struct store_container *c)
{
  char path[PATH_MAX], *text = NULL;
  size_t len;
  struct nc_err err = NC_ERR_INIT;
  container_path(svc, c->id, "exit", path, sizeof path);
  if (nc_read_file(path, 64 * 1024, &text, &len, &err) < 0)
    return false;
  json_t *j = json_loadb(text, len, 0, NULL);
  free(text);
  if (!json_is_object(j)) {
    json_decref(j);
    return false;
  }
  c->exit_code = (int)json_integer_value(json_object_get(j, "exit_code"));
  snprintf(c->exit_signal, sizeof c->exit_signal, "%s",
           json_string_value(json_object_get(j, "signal")) ?: "");
  c->oom_killed = json_is_true(json_object_get(j, "oom_killed"));
  json_decref(j);
  return true;
}

void container_reap(struct container_service *svc, const char *id)
{
  struct store_container c;
  struct nc_err err = NC_ERR_INIT;
  if (container_load(svc, "global", id, &c, &err) < 0)
    return;
  if (!read_exit(svc, &c)) {
    c.exit_code = 255;
    snprintf(c.error, sizeof c.error, "unknown exit status: the shim was lost");
  }
  snprintf(c.state, sizeof c.state, "exited");
  c.pid = c.shim_pid = 0;
  c.finished_at = nc_time_now();
  char rootfs[PATH_MAX];
  container_path(svc, c.id, "rootfs", rootfs, sizeof rootfs);
  if (rootfs_umount(rootfs, &err) < 0)
    nc_log(NC_LOG_WARN, "container %.12s: %s", c.id, err.msg);
  pthread_mutex_lock(&svc->mu);
  if (container_save(svc, &c, &err) < 0)
    nc_log(NC_LOG_ERROR, "container %.12s: %s", c.id, err.msg);
  pthread_cond_broadcast(&svc->changed);
  pthread_mutex_unlock(&svc->mu);
  nc_log(NC_LOG_INFO, "container %s (%.12s) exited with %d%s%s", c.name, c.id, c.exit_code,
         c.oom_killed ? " (OOM killed)" : "", c.error[0] ? " (shim lost)" : "");
  if (svc->on_exit)
    svc->on_exit(svc->on_exit_ctx, c.id);
  if (container_auto_removed(svc, &c))
    container_auto_remove(svc, &c);
  store_container_free(&c);
}

void container_on_exit(struct container_service *svc, container_exit_fn fn, void *ctx)
{
  svc->on_exit_ctx = ctx;
  svc->on_exit = fn;
}

static void *watcher(void *arg)
{
  struct container_service *svc = arg;
  struct epoll_event evs[32];
  while (!atomic_load(&svc->stopping)) {
    int n = epoll_wait(svc->epfd, evs, 32, -1);
    for (int i = 0; i < n; i++) {
      struct watched *w = evs[i].data.ptr;
      if (!w)
        continue; /* the wake-up eventfd */
      epoll_ctl(svc->epfd, EPOLL_CTL_DEL, w->pidfd, NULL);
      /* Ours to reap when we started it (--no-detach); a shim re-adopted from an
       * earlier nanocld is init's child: ECHILD. */
      siginfo_t si;
      waitid(P_PIDFD, (id_t)w->pidfd, &si, WEXITED | WNOHANG);
      close(w->pidfd);
      unlink_watched(svc, w);
      container_reap(svc, w->id);
      free(w);
    }
  }
  return NULL;
}

/* Is `pid` the shim of container `id`? (pids are reused) */
static bool is_our_shim(pid_t pid, const char *id)
{
  char path[64], cmd[4096];
  snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  ssize_t n = read(fd, cmd, sizeof cmd - 1);
  close(fd);
  if (n <= 0)
    return false;
  for (ssize_t i = 0; i < n; i++)
    if (cmd[i] == '\0')
      cmd[i] = ' ';
  cmd[n] = '\0';
  return strstr(cmd, "nanocl-shim") && strstr(cmd, id);
}

static bool is_container_id(const char *s)
{
  size_t n = 0;
  for (; s[n]; n++)
    if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
      return false;
  return n == 64;
}

/* Is `id` in `list` (only among the items `only` marks, when given)? */
static bool listed(const struct store_container_list *list, const bool *only, const char *id)
{
  for (size_t i = 0; i < list->len; i++)
    if ((!only || only[i]) && !strcmp(list->items[i].id, id))
      return true;
  return false;
}

/* Calls `fn` for each entry of `path` named as a container id that is not `listed`;
 * returns how many `fn` took (it returns true). */
static int sweep(struct container_service *svc, const char *path,
                 const struct store_container_list *list, const bool *only,
                 bool (*fn)(struct container_service *svc, const char *id))
{
  DIR *dir = opendir(path);
  if (!dir)
    return 0;
  int swept = 0;
  for (struct dirent *e; (e = readdir(dir));)
    if (is_container_id(e->d_name) && !listed(list, only, e->d_name))
      swept += fn(svc, e->d_name);
  closedir(dir);
  return swept;
}

/* What the runtime still knows of a container that is not running: a shim killed before
 * its `delete`, or a container removed meanwhile. */
static bool forget_runtime(struct container_service *svc, const char *id)
{
  container_runtime_forget(svc, id, false);
  return true;
}

/* The directory of a container the store does not know (a crash between the directory
 * and the row, or a row lost with a power loss): to the trash. */
static bool trash_stray(struct container_service *svc, const char *id)
{
  char rootfs[PATH_MAX];
  struct nc_err err = NC_ERR_INIT;
  container_path(svc, id, "rootfs", rootfs, sizeof rootfs);
  if (rootfs_umount(rootfs, &err) < 0 || container_trash(svc, id, &err) < 0) {
    nc_log(NC_LOG_WARN, "container directory %.12s: %s", id, err.msg);
    return false;
  }
  return true;
}

static void readopt(struct container_service *svc)
{
  struct store_tx *tx;
  struct store_container_list list = { 0 };
  struct nc_err err = NC_ERR_INIT;
  if (store_begin(svc->store, STORE_TX_READ, &tx, &err) < 0)
    return;
  if (store_container_list(tx, NULL, &list, &err) < 0) {
    store_rollback(tx);
    nc_log(NC_LOG_ERROR, "re-adopting containers: %s", err.msg);
    return;
  }
  store_commit(tx, &err);
  int adopted = 0, reaped = 0;
  bool *watched = calloc(list.len ? list.len : 1, sizeof *watched);
  for (size_t i = 0; watched && i < list.len; i++) {
    struct store_container *c = &list.items[i];
    /* Ended while nanocld was away (or a power loss brought its row back): removed now,
     * as Docker's daemon does with AutoRemove containers at start. */
    if (!strcmp(c->state, "exited") && container_auto_removed(svc, c)) {
      container_auto_remove(svc, c);
      continue;
    }
    if (strcmp(c->state, "running") != 0)
      continue;
    pid_t shim = (pid_t)c->shim_pid;
    if (shim > 0 && is_our_shim(shim, c->id) && container_watch(svc, c->id, shim, &err) == 0) {
      watched[i] = true;
      adopted++;
    } else {
      container_reap(svc, c->id);
      reaped++;
    }
  }
  if (adopted || reaped)
    nc_log(NC_LOG_INFO, "containers: %d running re-adopted, %d ended while nanocld was away",
           adopted, reaped);
  /* `watched` marks the running ones: the runtime forgets the others. */
  int n = watched ? sweep(svc, svc->runtime_root, &list, watched, forget_runtime) : 0;
  if (n)
    nc_log(NC_LOG_INFO, "runtime: %d container(s) it still knew forgotten", n);
  n = sweep(svc, svc->dir, &list, NULL, trash_stray);
  if (n)
    nc_log(NC_LOG_INFO, "containers: %d directory(ies) the store does not know moved to the trash",
           n);
  free(watched);
  store_container_list_free(&list);
}

static bool find_shim(const char *given, char *out, size_t size)
{
  if (given && *given) {
    snprintf(out, size, "%s", given);
    return access(out, X_OK) == 0;
  }
  /* Beside nanocld (installed: libexec), or in the build tree. */
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0)
    return false;
  self[n] = '\0';
  char *slash = strrchr(self, '/');
  if (slash)
    *slash = '\0';
  static const char *const rel[] = { "/nanocl-shim", "/../nanocl-shim/nanocl-shim",
                                     "/../libexec/nanocl/nanocl-shim" };
  for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
    snprintf(out, size, "%s%s", self, rel[i]);
    if (access(out, X_OK) == 0)
      return true;
  }
  return false;
}

int container_service_init(struct container_service *svc, struct store *store,
                           struct image_service *images, struct net_service *net,
                           const char *state_dir,
                           const char *run_dir, const char *runtime, const char *shim,
                           struct nc_err *err)
{
  memset(svc, 0, sizeof *svc);
  svc->store = store;
  svc->images = images;
  svc->net = net;
  svc->epfd = svc->wake_fd = -1;
  runtime_sealed_init(&svc->sealed);
  if (runtime_probe(runtime, &svc->rt, err) < 0)
    return -1;
  if (!find_shim(shim, svc->shim, sizeof svc->shim))
    return nc_err_set(err, NC_ERR_NOT_FOUND, "nanocl-shim not found%s%s (give --shim PATH)",
                      shim ? " at " : "", shim ? shim : "");
  snprintf(svc->dir, sizeof svc->dir, "%s/containers", state_dir);
  snprintf(svc->runtime_root, sizeof svc->runtime_root, "%s/runtime", run_dir);
  if (nc_mkdir_p(svc->dir, 0700, err) < 0 || nc_mkdir_p(svc->runtime_root, 0700, err) < 0 ||
      container_trash_init(svc, state_dir, err) < 0)
    return -1;
  nc_log(NC_LOG_INFO, "runtime: %s (%s), cgroups %s%s, shim %s", svc->rt.name, svc->rt.path,
         cgroup_layout_name(svc->rt.layout),
         svc->rt.hide_cgroup2 ? " (run without the cgroup2 hierarchy in sight)" : "", svc->shim);
  pthread_mutex_init(&svc->mu, NULL);
  pthread_cond_init(&svc->changed, NULL);
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  sem_init(&svc->starts, 0, (unsigned)(cpus > 0 ? cpus * 2 : 2));
  svc->epfd = epoll_create1(EPOLL_CLOEXEC);
  svc->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
  if (svc->epfd < 0 || svc->wake_fd < 0 ||
      epoll_ctl(svc->epfd, EPOLL_CTL_ADD, svc->wake_fd, &ev) < 0)
    return nc_err_sys(err, errno, "cannot set up the container watcher");
  readopt(svc);
  if (pthread_create(&svc->watcher, NULL, watcher, svc) != 0)
    return nc_err_set(err, NC_ERR_INTERNAL, "cannot start the container watcher");
  return 0;
}

void container_service_cancel(struct container_service *svc)
{
  if (svc->epfd < 0)
    return;
  pthread_mutex_lock(&svc->mu);
  atomic_store(&svc->quitting, true);
  pthread_cond_broadcast(&svc->changed);
  pthread_mutex_unlock(&svc->mu);
}

void container_service_destroy(struct container_service *svc)
{
  if (svc->epfd < 0)
    return;
  atomic_store(&svc->stopping, true);
  container_trash_destroy(svc);
  container_removal_destroy(svc);
  uint64_t one = 1;
  ssize_t n = write(svc->wake_fd, &one, sizeof one);
  (void)n;
  pthread_join(svc->watcher, NULL);
  /* The containers go on; only our watching of them ends. */
  for (struct watched *w = svc->watched, *next; w; w = next) {
    next = w->next;
    close(w->pidfd);
    free(w);
  }
  svc->watched = NULL;
  close(svc->epfd);
  close(svc->wake_fd);
  svc->epfd = -1;
  runtime_sealed_destroy(&svc->sealed);
}
