/* Starting and stopping containers: root fs, bundle, shim; signals through the runtime. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/spawn.h"
#include "base/timeutil.h"
#include "image/unpack.h"
#include "runtime/container.h"
#include "runtime/failure.h"
#include "runtime/rootfs.h"
#include "runtime/sealed.h"
#include "runtime/spec.h"

#define SHIM_SYNC_TIMEOUT_MS 30000
#define DEFAULT_STOP_TIMEOUT 10

void container_runtime_of(struct container_service *svc, const char *id, char *path,
                          size_t size)
{
  char file[PATH_MAX];
  container_path(svc, id, "runtime", file, sizeof file);
  _cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read(fd, path, size - 1) : -1;
  if (n > 1 && path[0] == '/')
    path[n] = '\0';
  else
    snprintf(path, size, "%s", svc->rt.path); /* started before nanocld wrote it */
}

/* Runs the runtime that started container `id` with --root and `args`; its stderr
 * becomes the error. */
int container_runtime(struct container_service *svc, const char *id, const char *const *args,
                      struct nc_err *err)
{
  char runtime[PATH_MAX];
  container_runtime_of(svc, id, runtime, sizeof runtime);
  const char *argv[16];
  size_t n = 0;
  argv[n++] = runtime;
  argv[n++] = "--root";
  argv[n++] = svc->runtime_root;
  for (size_t i = 0; args[i] && n < 15; i++)
    argv[n++] = args[i];
  argv[n] = NULL;
  int errpipe[2];
  if (pipe2(errpipe, O_CLOEXEC) < 0)
    return nc_err_sys(err, errno, "cannot run %s", svc->rt.name);
  pid_t pid;
  const int fds[3] = { -1, -1, errpipe[1] };
  if (nc_spawn(argv, fds, NULL, 0, &pid, err) < 0) {
    close(errpipe[0]);
    close(errpipe[1]);
    return -1;
  }
  close(errpipe[1]);
  char msg[512] = "";
  size_t used = 0;
  ssize_t k;
  while ((k = read(errpipe[0], msg + used, sizeof msg - 1 - used)) > 0)
    used += (size_t)k;
  msg[used] = '\0';
  close(errpipe[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return 0;
  msg[strcspn(msg, "\n")] = '\0';
  const char *base = strrchr(runtime, '/');
  return nc_err_set(err, NC_ERR_INTERNAL, "%s %s: %s", base ? base + 1 : runtime, args[0],
                    msg[0] ? msg : "failed");
}

void container_runtime_forget(struct container_service *svc, const char *id, bool wait)
{
  char lock[PATH_MAX], state[PATH_MAX + 80];
  container_path(svc, id, "runtime.lock", lock, sizeof lock);
  _cleanup_close_ int fd = open(lock, O_RDWR | O_CLOEXEC);
  if (fd >= 0 && flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) < 0)
    return; /* the shim's child is deleting it */
  snprintf(state, sizeof state, "%s/%s", svc->runtime_root, id);
  if (access(state, F_OK) < 0)
    return; /* runc and crun keep one directory per container under --root */
  const char *args[] = { "delete", "--force", id, NULL };
  struct nc_err ignored = NC_ERR_INIT;
  container_runtime(svc, id, args, &ignored);
}

/* hostname, hosts and resolv.conf of the container: files nanocld owns. On a network,
 * its name resolves to its address and names go to the network's DNS server (on the
 * gateway); without one it has only lo and resolves nothing. */
static int write_etc_files(struct container_service *svc, const struct store_container *c,
                           const char *hostname, const struct net_container *net,
                           struct nc_err *err)
{
  char path[PATH_MAX], text[1024];
  container_path(svc, c->id, "hostname", path, sizeof path);
  int n = snprintf(text, sizeof text, "%s\n", hostname);
  if (nc_write_file_replace(path, text, (size_t)n, 0644, err) < 0)
    return -1;
  container_path(svc, c->id, "hosts", path, sizeof path);
  bool same = !strcmp(hostname, c->name);
  n = snprintf(text, sizeof text,
               "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
               "%s\t%s%s%s\n",
               net->attached ? net->ip : "127.0.1.1", hostname, same ? "" : " ",
               same ? "" : c->name);
  if (nc_write_file_replace(path, text, (size_t)n, 0644, err) < 0)
    return -1;
  container_path(svc, c->id, "resolv.conf", path, sizeof path);
  if (net->attached)
    n = snprintf(text, sizeof text, "# nanocl: the DNS server of network %s\nnameserver %s\n",
                 net->network, net->gateway);
  else
    n = snprintf(text, sizeof text, "# nanocl: no network attached\n");
  return nc_write_file_replace(path, text, (size_t)n, 0644, err);
}

/* Mounts the image's layers (topmost first) under rootfs/. */
static int mount_rootfs(struct container_service *svc, const struct store_container *c,
                        const char *layers_json, bool volatile_, struct nc_err *err)
{
  char upper[PATH_MAX], work[PATH_MAX], rootfs[PATH_MAX];
  container_path(svc, c->id, "upper", upper, sizeof upper);
  container_path(svc, c->id, "work", work, sizeof work);
  container_path(svc, c->id, "rootfs", rootfs, sizeof rootfs);
  if ((mkdir(upper, 0755) < 0 && errno != EEXIST) || (mkdir(work, 0700) < 0 && errno != EEXIST) ||
      (mkdir(rootfs, 0755) < 0 && errno != EEXIST))
    return nc_err_sys(err, errno, "cannot create the root fs dirs of %s", c->id);
  if (rootfs_umount(rootfs, err) < 0)
    return -1;
  if (volatile_) {
    /* A volatile overlay leaves work/incompat/volatile behind and refuses to mount
     * again while it is there (after a crash the upper dir may be incomplete). Here it
     * was just unmounted by us (a restart): nothing was lost, the marker can go. */
    char marker[PATH_MAX + 32];
    snprintf(marker, sizeof marker, "%s/work/incompat", work);
    struct nc_err ignore = NC_ERR_INIT;
    if (access(marker, F_OK) == 0)
      image_remove_tree(marker, &ignore); /* incompat/volatile/dirty */
  }
  json_t *layers = json_loads(layers_json, 0, NULL);
  size_t n = json_array_size(layers);
  char(*paths)[PATH_MAX] = calloc(n ? n : 1, sizeof *paths);
  const char **ptrs = calloc(n ? n : 1, sizeof *ptrs);
  int r = paths && ptrs ? 0 : nc_err_set(err, NC_ERR_INTERNAL, "out of memory");
  for (size_t i = 0; r == 0 && i < n; i++) {
    const char *chain = json_string_value(json_object_get(json_array_get(layers, n - 1 - i),
                                                          "chain_id"));
    if (!chain || !blob_store_has_layer(&svc->images->blobs, chain))
      r = nc_err_set(err, NC_ERR_CONFLICT, "a layer of image %s is missing; pull it again",
                     c->image);
    else
      blob_store_layer_path(&svc->images->blobs, chain, paths[i], sizeof paths[i]);
    ptrs[i] = paths[i];
  }
  if (r == 0)
    r = rootfs_mount(ptrs, n, upper, work, volatile_, rootfs, err);
  free(paths);
  free(ptrs);
  json_decref(layers);
  return r;
}

static int write_bundle(struct container_service *svc, const struct store_container *c,
                        const char *image_config, struct nc_err *err)
{
  char rootfs[PATH_MAX], hostname_f[PATH_MAX], hosts_f[PATH_MAX], resolv_f[PATH_MAX],
    cgroup[128], path[PATH_MAX];
  container_path(svc, c->id, "rootfs", rootfs, sizeof rootfs);
  container_path(svc, c->id, "hostname", hostname_f, sizeof hostname_f);
  container_path(svc, c->id, "hosts", hosts_f, sizeof hosts_f);
  container_path(svc, c->id, "resolv.conf", resolv_f, sizeof resolv_f);
  snprintf(cgroup, sizeof cgroup, "/nanocl/%s", c->id);

  json_t *spec = json_loads(c->spec, 0, NULL);
  json_t *img = json_loads(image_config, 0, NULL);
  if (!json_object_get(spec, "hostname")) {
    char shortid[13];
    snprintf(shortid, sizeof shortid, "%.12s", c->id);
    json_object_set_new(spec, "hostname", json_string(shortid));
  }
  const char *hostname = json_string_value(json_object_get(spec, "hostname"));
  struct spec_host host = {
    .rootfs = rootfs,
    .hostname_file = hostname_f,
    .hosts_file = hosts_f,
    .resolv_file = resolv_f,
    .cgroups_path = cgroup,
    .netns_path = NULL,
    .nofile_hard = svc->rt.nofile_hard,
    .cgroup_v2 = svc->rt.layout == CGROUP_V2,
    .swap_accounting = svc->rt.swap_accounting,
  };
  json_t *config = NULL;
  struct net_container net;
  int r = net_container_attach(svc->net, c->id, &net, err);
  if (r == 0 && net.attached)
    host.netns_path = net.netns_path;
  if (r == 0)
    r = write_etc_files(svc, c, hostname, &net, err);
  if (r == 0)
    r = runtime_spec_build(img, spec, &host, &config, err);
  char *text = r == 0 ? json_dumps(config, JSON_INDENT(2)) : NULL;
  container_path(svc, c->id, "config.json", path, sizeof path);
  if (r == 0)
    r = text ? nc_write_file_replace(path, text, strlen(text), 0600, err)
             : nc_err_set(err, NC_ERR_INTERNAL, "out of memory");
  free(text);
  json_decref(config);
  json_decref(spec);
  json_decref(img);
  return r;
}

/* Starts the shim and reads its one sync line: {"pid", "shim_pid"} or {"error"}. */
static int spawn_shim(struct container_service *svc, const struct store_container *c,
                      pid_t *pid, pid_t *shim_pid, struct nc_err *err)
{
  char bundle[PATH_MAX], log[PATH_MAX], exitf[PATH_MAX], pidf[PATH_MAX], cg[PATH_MAX + 80];
  container_path(svc, c->id, NULL, bundle, sizeof bundle);
  container_path(svc, c->id, "log", log, sizeof log);
  container_path(svc, c->id, "exit", exitf, sizeof exitf);
  container_path(svc, c->id, "shim.pid", pidf, sizeof pidf);
  snprintf(cg, sizeof cg, "%s/nanocl/%s", svc->rt.memory_cgroup, c->id);
  unlink(exitf);
  /* Which runtime knows this container, for the kills, deletes and execs to come: a
   * later nanocld may have been given another one. */
  char rtfile[PATH_MAX];
  container_path(svc, c->id, "runtime", rtfile, sizeof rtfile);
  if (nc_write_file_replace(rtfile, svc->rt.path, strlen(svc->rt.path), 0644, err) < 0)
    return -1;
  int sync[2];
  if (pipe2(sync, O_CLOEXEC) < 0)
    return nc_err_sys(err, errno, "cannot start the shim");
  /* fd 3 is the sync pipe, fd 4 the runtime's sealed copy; everything else of
   * nanocld's is CLOEXEC. */
  int more[2] = { sync[1], runtime_sealed_get(&svc->sealed, svc->rt.path) };
  const char *argv[] = { svc->shim, "--id", c->id, "--bundle", bundle, "--runtime",
                         svc->rt.path, "--runtime-root", svc->runtime_root, "--log", log,
                         "--exit-file", exitf, "--pid-file", pidf, "--cgroup", cg,
                         "--no-detach", "--sync-fd", "3", NULL, NULL, NULL, NULL };
  size_t end = 0;
  while (argv[end])
    end++;
  if (svc->rt.hide_cgroup2)
    argv[end++] = "--hide-cgroup2";
  if (more[1] >= 0) {
    argv[end++] = "--runtime-fd";
    argv[end++] = "4";
  }
  const int fds[3] = { -1, -1, 2 };
  pid_t child;
  int r = nc_spawn(argv, fds, more, more[1] >= 0 ? 2 : 1, &child, err);
  close(sync[1]);
  if (more[1] >= 0)
    close(more[1]);
  if (r < 0) {
    close(sync[0]);
    return -1;
  }
  /* The shim stays our child, in a session of its own: the watcher reaps it when it
   * ends (container_watch); here only when it says nothing good and ends at once. */
  struct nc_buf line;
  nc_buf_init(&line, 64 * 1024);
  struct pollfd pfd = { .fd = sync[0], .events = POLLIN };
  char buf[4096];
  bool silent = false; /* no word for SHIM_SYNC_TIMEOUT_MS */
  for (;;) {
    int k = poll(&pfd, 1, SHIM_SYNC_TIMEOUT_MS);
    if (k <= 0) {
      silent = k == 0;
      break;
    }
    ssize_t n = read(sync[0], buf, sizeof buf);
    if (n <= 0 || nc_buf_append(&line, buf, (size_t)n) < 0)
      break;
  }
  close(sync[0]);
  json_t *j = line.len ? json_loadb(line.data, line.len, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
  nc_buf_free(&line);
  const char *error = json_string_value(json_object_get(j, "error"));
  int status = 0;
  if (error || !json_integer_value(json_object_get(j, "pid"))) {
    if (silent) /* stuck: it must not stay, and nothing is waiting for its container */
      kill(child, SIGKILL);
    while (waitpid(child, &status, 0) < 0 && errno == EINTR)
      ;
  }
  if (error)
    r = nc_err_set(err, NC_ERR_INVALID, "%s", error);
  else if (!json_integer_value(json_object_get(j, "pid")))
    r = nc_err_set(err, NC_ERR_INTERNAL, "the shim of %s said nothing (exit status %d)", c->name,
                   WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  *pid = (pid_t)json_integer_value(json_object_get(j, "pid"));
  *shim_pid = (pid_t)json_integer_value(json_object_get(j, "shim_pid"));
  json_decref(j);
  return r;
}

/* A start that failed: its message (in one wording for a program that is missing or
 * cannot be run, whichever runtime said it) goes to the container's log too, as Docker
 * shows "exec: … no such file" there, and the exit code says what kind. */
static void record_start_failure(struct container_service *svc, struct store_container *c,
                                 struct nc_err *why)
{
  char log[PATH_MAX], now[40], said[NC_ERR_MSG_MAX];
  container_path(svc, c->id, "config.json", log, sizeof log);
  json_t *config = json_load_file(log, 0, NULL); /* ours: the bundle written for this start */
  const char *cmd = json_string_value(
    json_array_get(json_object_get(json_object_get(config, "process"), "args"), 0));
  int code = runtime_exec_failure(why->msg, cmd, said, sizeof said);
  json_decref(config);
  snprintf(why->msg, sizeof why->msg, "%s", said);
  container_path(svc, c->id, "log", log, sizeof log);
  nc_time_rfc3339(nc_time_now(), now, sizeof now);
  json_t *line = json_pack("{s:s, s:s, s:s+}", "time", now, "stream", "stderr", "log", why->msg,
                           "\n");
  char *text = json_dumps(line, JSON_COMPACT);
  int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd >= 0 && text) {
    ssize_t w = write(fd, text, strlen(text));
    w += write(fd, "\n", 1);
    (void)w;
  }
  if (fd >= 0)
    close(fd);
  free(text);
  json_decref(line);
  snprintf(c->state, sizeof c->state, "exited");
  c->exit_code = code ? code : 128;
  c->pid = c->shim_pid = 0;
  c->finished_at = nc_time_now();
  snprintf(c->error, sizeof c->error, "%.500s", why->msg);
}

int container_start(struct container_service *svc, const char *ns, const char *key,
                    struct nc_err *err)
{
  struct store_container c;
  if (container_load(svc, ns, key, &c, err) < 0)
    return -1;
  int r = 0;
  if (!strcmp(c.state, "running"))
    r = nc_err_set(err, NC_ERR_CONFLICT, "container '%s' is already running", c.name);
  struct store_image img = { 0 };
  struct store_tx *tx;
  if (r == 0 && store_begin(svc->store, STORE_TX_READ, &tx, err) == 0) {
    r = store_image_get(tx, c.image_id, &img, err);
    store_commit(tx, err);
  }
  char rootfs[PATH_MAX];
  container_path(svc, c.id, "rootfs", rootfs, sizeof rootfs);
  /* Removed when it ends: its changes are nobody's, its overlay need not sync them. */
  bool auto_remove = container_spec_auto_remove(&c);
  if (r == 0)
    r = mount_rootfs(svc, &c, img.layers, auto_remove, err);
  if (r == 0)
    r = write_bundle(svc, &c, img.config, err);
  pid_t pid = 0, shim_pid = 0;
  if (r == 0) {
    /* A leftover of a crash, or the delete of the last run still going on. */
    container_runtime_forget(svc, c.id, true);
    /* Runtime start-ups are CPU-bound: more at once than CPUs only makes every
     * caller wait longer (bench/containers: 100 at once, median 6.9 s each). */
    sem_wait(&svc->starts);
    r = spawn_shim(svc, &c, &pid, &shim_pid, err);
    sem_post(&svc->starts);
    if (r < 0) {
      struct nc_err ignore = NC_ERR_INIT;
      rootfs_umount(rootfs, &ignore);
      record_start_failure(svc, &c, err);
      container_save(svc, &c, &ignore);
    }
  } else {
    struct nc_err ignore = NC_ERR_INIT;
    rootfs_umount(rootfs, &ignore);
  }
  if (r == 0) {
    snprintf(c.state, sizeof c.state, "running");
    c.pid = pid;
    c.shim_pid = shim_pid;
    c.exit_code = 0;
    c.exit_signal[0] = c.error[0] = '\0';
    c.oom_killed = false;
    c.started_at = nc_time_now();
    c.finished_at = 0;
    pthread_mutex_lock(&svc->mu);
    r = container_save(svc, &c, err);
    pthread_cond_broadcast(&svc->changed); /* a log stream waiting for the start */
    pthread_mutex_unlock(&svc->mu);
    if (r == 0)
      r = container_watch(svc, c.id, shim_pid, err);
    if (r == 0)
      nc_log(NC_LOG_INFO, "container %s (%.12s) started, pid %d", c.name, c.id, (int)pid);
  } else if (container_auto_removed(svc, &c) && strcmp(c.state, "running") != 0) {
    /* Docker removes an auto-remove container whose start failed, too. */
    struct nc_err ignore = NC_ERR_INIT;
    if (container_destroy(svc, &c, false, &ignore) < 0)
      nc_log(NC_LOG_WARN, "container %s: cannot remove it: %s", c.name, ignore.msg);
  } else {
    pthread_mutex_lock(&svc->mu);
    pthread_cond_broadcast(&svc->changed); /* it failed: a log stream waiting may end */
    pthread_mutex_unlock(&svc->mu);
  }
  store_image_free(&img);
  store_container_free(&c);
  return r;
}

void container_state(struct container_service *svc, const char *id, char out[16])
{
  struct store_container c;
  struct nc_err err = NC_ERR_INIT;
  out[0] = '\0';
  if (container_load(svc, "global", id, &c, &err) < 0)
    return;
  snprintf(out, 16, "%s", c.state);
  store_container_free(&c);
}

bool container_is_running(struct container_service *svc, const char *id)
{
  char state[16];
  container_state(svc, id, state);
  return !strcmp(state, "running");
}

void container_wait_while(struct container_service *svc, const char *id, const char *state,
                          int timeout_ms, char out[16])
{
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  if (timeout_ms >= 0) {
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
      deadline.tv_sec++;
      deadline.tv_nsec -= 1000000000;
    }
  }
  pthread_mutex_lock(&svc->mu);
  for (;;) {
    container_state(svc, id, out);
    if (strcmp(out, state) != 0 || (timeout_ms < 0 && atomic_load(&svc->quitting)))
      break;
    int r = timeout_ms < 0 ? pthread_cond_wait(&svc->changed, &svc->mu)
                           : pthread_cond_timedwait(&svc->changed, &svc->mu, &deadline);
    if (r == ETIMEDOUT) {
      container_state(svc, id, out);
      break;
    }
  }
  pthread_mutex_unlock(&svc->mu);
}

bool container_wait_stopped(struct container_service *svc, const char *id, int timeout_ms)
{
  char state[16];
  container_wait_while(svc, id, "running", timeout_ms, state);
  return strcmp(state, "running") != 0;
}

int container_kill(struct container_service *svc, const char *ns, const char *key, int sig,
                   struct nc_err *err)
{
  struct store_container c;
  if (container_load(svc, ns, key, &c, err) < 0)
    return -1;
  int r = 0;
  if (strcmp(c.state, "running") != 0) {
    r = nc_err_set(err, NC_ERR_CONFLICT, "container '%s' is not running", c.name);
  } else {
    char num[16];
    snprintf(num, sizeof num, "%d", sig);
    const char *args[] = { "kill", c.id, num, NULL };
    r = container_runtime(svc, c.id, args, err);
  }
  store_container_free(&c);
  return r;
}

int container_stop(struct container_service *svc, const char *ns, const char *key,
                   int timeout_s, struct nc_err *err)
{
  struct store_container c;
  if (container_load(svc, ns, key, &c, err) < 0)
    return -1;
  char id[65];
  memcpy(id, c.id, sizeof id);
  json_t *spec = json_loads(c.spec, 0, NULL);
  bool running = !strcmp(c.state, "running");
  store_container_free(&c);
  if (!running) {
    json_decref(spec);
    return 0; /* stopping a stopped container is done already (Docker agrees) */
  }
  const char *signame = json_string_value(json_object_get(spec, "stop_signal"));
  int sig = signame ? runtime_signal_parse(signame) : SIGTERM;
  if (timeout_s < 0)
    timeout_s = json_is_integer(json_object_get(spec, "stop_timeout"))
                  ? (int)json_integer_value(json_object_get(spec, "stop_timeout"))
                  : DEFAULT_STOP_TIMEOUT;
  json_decref(spec);

  /* timeout 0: SIGKILL at once; < 0 (a stop_timeout of -1): no SIGKILL, wait for as long
   * as it takes (Docker's), which only nanocld's shutdown cuts short. */
  struct nc_err ignore = NC_ERR_INIT;
  if (timeout_s != 0 && container_kill(svc, ns, id, sig > 0 ? sig : SIGTERM, &ignore) == 0) {
    if (container_wait_stopped(svc, id, timeout_s > 0 ? timeout_s * 1000 : -1))
      return 0;
    if (timeout_s < 0)
      return nc_err_set(err, NC_ERR_UNAVAILABLE,
                        "nanocld is shutting down; container %.12s is still stopping", id);
  }
  if (container_kill(svc, ns, id, SIGKILL, &ignore) < 0 && container_is_running(svc, id)) {
    *err = ignore;
    return -1;
  }
  if (!container_wait_stopped(svc, id, 10000))
    return nc_err_set(err, NC_ERR_INTERNAL, "container %.12s did not stop after SIGKILL", id);
  return 0;
}

int container_restart(struct container_service *svc, const char *ns, const char *key,
                      int timeout_s, struct nc_err *err)
{
  char id[65];
  if (container_id_of(svc, ns, key, id, err) < 0)
    return -1;
  container_keep(svc, id, true); /* the stop's exit must not remove an auto_remove one */
  int r = container_stop(svc, ns, id, timeout_s, err);
  if (r == 0)
    r = container_start(svc, ns, id, err);
  container_keep(svc, id, false);
  /* Not running after all: an auto_remove container goes, as it would have. */
  struct store_container c;
  if (r < 0 && container_load(svc, "global", id, &c, &(struct nc_err)NC_ERR_INIT) == 0) {
    if (strcmp(c.state, "running") != 0 && container_auto_removed(svc, &c))
      container_auto_remove(svc, &c);
    store_container_free(&c);
  }
  return r;
}

int container_wait(struct container_service *svc, const char *ns, const char *key, json_t **out,
                   struct nc_err *err)
{
  char id[65];
  if (container_id_of(svc, ns, key, id, err) < 0)
    return -1;
  if (!container_wait_stopped(svc, id, -1))
    return nc_err_set(err, NC_ERR_UNAVAILABLE, "nanocld is shutting down; wait again later");
  struct store_container c;
  if (container_load(svc, ns, id, &c, err) < 0)
    return -1;
  *out = container_exit_json(c.exit_code, c.exit_signal, c.oom_killed, c.error);
  store_container_free(&c);
  return 0;
}
