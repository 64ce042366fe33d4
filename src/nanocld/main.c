/* nanocld: parse options, take the state dir's lock, bind the sockets, open the
 * store, serve the API until SIGTERM/SIGINT, then shut down in reverse order.
 *
 * Order matters: the lock and the sockets are taken before the store is
 * opened, so a second daemon on the same state dir or socket fails before it
 * touches anything of the first one. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/spawn.h"
#include "cargo/cargo.h"
#include "config.h"
#include "image/service.h"
#include "runtime/container.h"
#include "options.h"
#include "store/store.h"
#include "version.h"

#define PID_FILE_NAME "nanocld.pid"
#define LOCK_FILE_NAME "nanocld.lock"

/* Holds STATE_DIR/nanocld.lock for the life of the process (released by the
 * kernel when it exits, however it exits). Returns the lock fd. */
static int lock_state_dir(const char *state_dir, struct nc_err *err)
{
  char path[PATH_MAX + 32];
  snprintf(path, sizeof path, "%s/" LOCK_FILE_NAME, state_dir);
  _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return nc_err_sys(err, errno, "cannot open lock file '%s'", path);
  if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
    if (errno != EWOULDBLOCK)
      return nc_err_sys(err, errno, "cannot lock '%s'", path);
    char pid[32] = "";
    ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
    pid[n > 0 ? n : 0] = '\0';
    pid[strcspn(pid, "\n")] = '\0';
    return nc_err_set(err, NC_ERR_CONFLICT,
                      "another nanocld%s%s%s is already running on state dir '%s' (it holds "
                      "'%s'); stop it first or use another --state-dir",
                      pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "", state_dir, path);
  }
  char pid[32];
  int len = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
  if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len)
    return nc_err_sys(err, errno, "cannot write lock file '%s'", path);
  return steal_fd(&fd);
}

static int write_pid_file(const char *run_dir, struct nc_err *err)
{
  char path[PATH_MAX + 32], pid[32];
  snprintf(path, sizeof path, "%s/" PID_FILE_NAME, run_dir);
  int len = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
  return nc_write_file_atomic(path, pid, (size_t)len, 0644, err);
}

static void remove_pid_file(const char *run_dir)
{
  char path[PATH_MAX + 32];
  snprintf(path, sizeof path, "%s/" PID_FILE_NAME, run_dir);
  unlink(path);
}

/* Blocks until SIGTERM or SIGINT (blocked in every thread, so only this
 * sigwaitinfo sees them). Returns the signal. */
static int wait_for_stop(const sigset_t *set)
{
  for (;;) {
    siginfo_t si;
    int sig = sigwaitinfo(set, &si);
    if (sig == SIGTERM || sig == SIGINT)
      return sig;
  }
}

static int run(const struct nanocld_options *o)
{
  struct nc_err err = NC_ERR_INIT;
  struct api_listener listeners[NANOCLD_MAX_HOSTS];
  size_t nlisteners = 0;
  struct store *store = NULL;
  struct api_server *server = NULL;
  struct image_service images;
  struct container_service containers;
  struct net_service net;
  struct cargo_service cargoes;
  bool images_up = false, containers_up = false, net_up = false, cargoes_up = false,
       pid_written = false;
  int status = 1;

  nc_log(NC_LOG_INFO, "nanocld %s (commit %s) starting: state dir %s, run dir %s, config dir %s",
         NC_VERSION, NC_GIT_COMMIT, o->state_dir, o->run_dir, o->config_dir);

  if (nc_mkdir_p(o->state_dir, 0711, &err) < 0 || nc_mkdir_p(o->run_dir, 0711, &err) < 0) {
    nc_log(NC_LOG_ERROR, "%s", err.msg);
    return 1;
  }
  _cleanup_close_ int lock_fd = lock_state_dir(o->state_dir, &err);
  if (lock_fd < 0) {
    nc_log(NC_LOG_ERROR, "%s", err.msg);
    return 1;
  }

  for (size_t i = 0; i < o->nhosts; i++) {
    if (api_listener_open(&o->hosts[i], &listeners[nlisteners], &err) < 0)
      goto out;
    nlisteners++;
  }

  char db[PATH_MAX + 32];
  snprintf(db, sizeof db, "sqlite://%s/state.db", o->state_dir);
  if (store_open(db, &store, &err) < 0)
    goto out;
  nc_log(NC_LOG_INFO, "store: %s, schema version %d, %s", store_backend_name(store),
         store_schema_version(store), db + 9);

  if (image_service_init(&images, store, o->state_dir, &o->images, &err) < 0)
    goto out;
  images_up = true;
  struct net_options netopt = { .pool = o->network_pool, .table = o->nft_table,
                                .dns_upstream = o->dns_upstream[0] ? o->dns_upstream : NULL };
  if (net_service_init(&net, store, o->run_dir, &netopt, &err) < 0)
    goto out;
  net_up = true;
  if (container_service_init(&containers, store, &images, &net, o->state_dir, o->run_dir,
                             o->runtime, o->shim, &err) < 0)
    goto out;
  containers_up = true;
  if (cargo_service_init(&cargoes, store, &containers, &err) < 0)
    goto out;
  cargoes_up = true;

  struct api_config cfg;
  api_config_defaults(&cfg);
  cfg.store = store;
  cfg.images = &images;
  cfg.containers = &containers;
  cfg.net = &net;
  cfg.cargoes = &cargoes;
  cfg.upload_dir = images.blobs.tmp;
  /* The pid file is there before the first answer: whoever sees /_ping answer
   * can read it (scripts/down, the tests). */
  if (write_pid_file(o->run_dir, &err) < 0)
    goto out;
  pid_written = true;
  if (api_server_start(&cfg, listeners, nlisteners, &server, &err) < 0)
    goto out;
  nlisteners = 0; /* the server owns them now */
  for (size_t i = 0; i < o->nhosts; i++) {
    char text[400];
    nc_host_url_format(&o->hosts[i], text, sizeof text);
    nc_log(NC_LOG_INFO, "listening on %s", text);
  }
  nc_log(NC_LOG_INFO, "ready");

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = wait_for_stop(&set);
  nc_log(NC_LOG_INFO, "received %s, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  status = 0;

out:
  if (status != 0)
    nc_log(NC_LOG_ERROR, "%s", err.msg);
  /* Running pulls stop first, and requests that wait without a deadline (container wait,
   * log streams, ?wait of cargoes) end, so the HTTP drain is quick. */
  if (images_up)
    image_service_cancel(&images);
  if (cargoes_up)
    cargo_service_cancel(&cargoes);
  if (containers_up)
    container_service_cancel(&containers);
  api_server_stop(server);
  if (cargoes_up)
    cargo_service_destroy(&cargoes); /* before the containers: it uses them */
  if (containers_up)
    container_service_destroy(&containers); /* the containers go on running */
  if (images_up)
    image_service_destroy(&images, 10000);
  if (net_up)
    net_service_destroy(&net); /* bridges, rules and DNS servers stay for the containers */
  for (size_t i = 0; i < nlisteners; i++)
    api_listener_close(&listeners[i]);
  store_close(store);
  if (pid_written)
    remove_pid_file(o->run_dir);
  if (status == 0)
    nc_log(NC_LOG_INFO, "stopped");
  return status;
}

int main(int argc, char **argv)
{
  struct nanocld_options opts;
  int r = nanocld_options_parse(argc, argv, &opts);
  if (r == 1)
    return 0;
  if (r != 0)
    return r;
  nc_log_set_level((enum nc_log_level)opts.log_level);

  /* Block the stop signals before any thread exists, so every thread inherits
   * the mask and only wait_for_stop() receives them. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);
  /* Programs are started with nc_spawn, which maps fds onto 0-2: ours must be taken. */
  if (nc_spawn_tidy_stdio() < 0)
    return 1;

  return run(&opts);
}
