/* nanocl-shim: options, detaching and the order of a container's life (docs/shim.md).
 *
 *   1. setsid, fork: the first process exits at once, the shim lives on re-parented
 *      (with --no-detach: setsid only; the caller reaps the shim, as nanocld does).
 *   2. subreaper, oom_score_adj -1000, --pid-file, pipes, `run --detach`.
 *   3. one line on --sync-fd: {"pid", "shim_pid"} or {"error"} (then exit 1).
 *   4. the loop (loop.c) until the container's init has exited and its output is drained.
 *   5. exit file; `delete` in a child holding BUNDLE/runtime.lock; exit 0. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/parse.h"
#include "shim.h"

#define DEFAULT_LOG_MAX (10 * 1024 * 1024)

/* The two line buffers are 16 KiB each: static and zero (bss, not data: an initialiser
 * would put them in the file and in memory), so untouched pages cost nothing. Their
 * names and fds are set by make_pipes. */
static struct shim_stream out_stream, err_stream;

static void usage(FILE *to)
{
  fputs("usage: nanocl-shim --id ID --bundle DIR --runtime PATH --runtime-root DIR\n"
        "                   --log FILE [--log-max BYTES] --exit-file FILE --pid-file FILE\n"
        "                   [--cgroup DIR] [--no-detach] [--runtime-fd N] [--hide-cgroup2]\n"
        "                   --sync-fd N\n"
        "Runs one container with an OCI runtime and stays beside it (docs/shim.md).\n",
        to);
}

static bool is_hex64(const char *s)
{
  size_t n = 0;
  for (; s[n]; n++)
    if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
      return false;
  return n == 64;
}

/* Every option is read first, so that a bad one can still be reported on --sync-fd. */
static int parse_options(int argc, char **argv, struct shim_config *cfg, struct nc_err *err)
{
  enum { OPT_ID = 256, OPT_BUNDLE, OPT_RUNTIME, OPT_ROOT, OPT_LOG, OPT_LOG_MAX, OPT_EXIT,
         OPT_PID, OPT_CGROUP, OPT_SYNC, OPT_RUNTIME_FD, OPT_HIDE_CGROUP2, OPT_NO_DETACH,
         OPT_HELP };
  static const struct option longopts[] = {
    { "id", required_argument, NULL, OPT_ID },
    { "bundle", required_argument, NULL, OPT_BUNDLE },
    { "runtime", required_argument, NULL, OPT_RUNTIME },
    { "runtime-root", required_argument, NULL, OPT_ROOT },
    { "log", required_argument, NULL, OPT_LOG },
    { "log-max", required_argument, NULL, OPT_LOG_MAX },
    { "exit-file", required_argument, NULL, OPT_EXIT },
    { "pid-file", required_argument, NULL, OPT_PID },
    { "cgroup", required_argument, NULL, OPT_CGROUP },
    { "sync-fd", required_argument, NULL, OPT_SYNC },
    { "runtime-fd", required_argument, NULL, OPT_RUNTIME_FD },
    { "hide-cgroup2", no_argument, NULL, OPT_HIDE_CGROUP2 },
    { "no-detach", no_argument, NULL, OPT_NO_DETACH },
    { "help", no_argument, NULL, OPT_HELP },
    { NULL, 0, NULL, 0 },
  };
  const char *log_max = NULL, *sync = NULL, *runtime_fd = NULL;
  char bad[256] = "";
  int opt;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (opt) {
    case OPT_ID: cfg->id = optarg; break;
    case OPT_BUNDLE: cfg->bundle = optarg; break;
    case OPT_RUNTIME: cfg->runtime = optarg; break;
    case OPT_ROOT: cfg->runtime_root = optarg; break;
    case OPT_LOG: cfg->log_path = optarg; break;
    case OPT_LOG_MAX: log_max = optarg; break;
    case OPT_EXIT: cfg->exit_file = optarg; break;
    case OPT_PID: cfg->pid_file = optarg; break;
    case OPT_CGROUP: cfg->cgroup = optarg; break;
    case OPT_SYNC: sync = optarg; break;
    case OPT_RUNTIME_FD: runtime_fd = optarg; break;
    case OPT_HIDE_CGROUP2: cfg->hide_cgroup2 = true; break;
    case OPT_NO_DETACH: cfg->no_detach = true; break;
    case OPT_HELP: usage(stdout); exit(0);
    default:
      if (!bad[0])
        snprintf(bad, sizeof bad,
                 optopt ? "option '%.200s' needs a value" : "unknown option '%.200s'",
                 argv[optind - 1]);
    }
  }
  uint64_t v;
  if (sync) {
    if (nc_parse_u64(sync, INT_MAX, &v) < 0 || v <= 2 || fcntl((int)v, F_GETFD) < 0)
      return nc_err_set(err, NC_ERR_INVALID, "--sync-fd '%s' is not an open fd above 2", sync);
    cfg->sync_fd = (int)v;
  }
  if (bad[0])
    return nc_err_set(err, NC_ERR_INVALID, "%s", bad);
  if (runtime_fd) {
    if (nc_parse_u64(runtime_fd, INT_MAX, &v) < 0 || v <= 2 || (int)v == cfg->sync_fd ||
        fcntl((int)v, F_GETFD) < 0)
      return nc_err_set(err, NC_ERR_INVALID, "--runtime-fd '%s' is not an open fd above 2",
                        runtime_fd);
    cfg->runtime_fd = (int)v;
  }
  if (optind < argc)
    return nc_err_set(err, NC_ERR_INVALID, "unexpected argument '%s'", argv[optind]);
  const struct {
    const char *name, *value;
  } paths[] = { { "--bundle", cfg->bundle },       { "--runtime", cfg->runtime },
                { "--runtime-root", cfg->runtime_root }, { "--log", cfg->log_path },
                { "--exit-file", cfg->exit_file }, { "--pid-file", cfg->pid_file },
                { "--cgroup", cfg->cgroup } };
  if (!cfg->id)
    return nc_err_set(err, NC_ERR_INVALID, "--id is required");
  if (!is_hex64(cfg->id))
    return nc_err_set(err, NC_ERR_INVALID, "--id '%.100s' is not 64 lowercase hex digits",
                      cfg->id);
  for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
    if (!paths[i].value && strcmp(paths[i].name, "--cgroup") != 0)
      return nc_err_set(err, NC_ERR_INVALID, "%s is required", paths[i].name);
    if (paths[i].value && paths[i].value[0] != '/')
      return nc_err_set(err, NC_ERR_INVALID, "%s '%.200s' is not an absolute path",
                        paths[i].name, paths[i].value);
  }
  if (!sync)
    return nc_err_set(err, NC_ERR_INVALID, "--sync-fd is required");
  cfg->log_max = DEFAULT_LOG_MAX;
  if (log_max) {
    if (nc_parse_u64(log_max, UINT64_MAX / 2, &v) < 0 || v == 0)
      return nc_err_set(err, NC_ERR_INVALID, "--log-max '%s' is not a positive number of bytes",
                        log_max);
    cfg->log_max = v;
  }
  return 0;
}

/* The one line on --sync-fd, then the fd is closed. */
static void sync_send(struct shim_config *cfg, const char *line, size_t len)
{
  if (cfg->sync_fd < 0)
    return;
  for (size_t off = 0; off < len;) {
    ssize_t w = write(cfg->sync_fd, line + off, len - off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0) {
      nc_log(NC_LOG_WARN, "cannot write to --sync-fd %d: %s", cfg->sync_fd, strerror(errno));
      break;
    }
    off += (size_t)w;
  }
  close(cfg->sync_fd);
  cfg->sync_fd = -1;
}

static void sync_error(struct shim_config *cfg, const struct nc_err *err)
{
  static char line[16 + 6 * NC_ERR_MSG_MAX];
  size_t n = 0;
  memcpy(line, "{\"error\": \"", 11);
  n = 11;
  n += shim_json_escape(line + n, err->msg, strlen(err->msg));
  memcpy(line + n, "\"}\n", 3);
  sync_send(cfg, line, n + 3);
}

/* fds 0-2 open (to /dev/null if they were closed), every other inherited fd but the two
 * kept (-1: none) closed; those made close-on-exec. */
static void tidy_fds(int keep_a, int keep_b)
{
  for (int fd = 0; fd < 3; fd++)
    if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
      _exit(1);
  int lo = keep_a < keep_b ? keep_a : keep_b, hi = keep_a < keep_b ? keep_b : keep_a;
  unsigned from = 3;
  /* close_range(2) through syscall(): musl has no wrapper for it. */
  for (int keep = lo < 0 ? hi : lo; keep >= 0; keep = keep == hi ? -1 : hi) {
    if ((unsigned)keep > from)
      syscall(SYS_close_range, from, (unsigned)keep - 1, 0U);
    from = (unsigned)keep + 1;
    fcntl(keep, F_SETFD, FD_CLOEXEC);
  }
  syscall(SYS_close_range, from, ~0U, 0U);
}

/* setsid, then fork: the first process exits at once and its caller reaps it. A process
 * group leader (started from a shell) cannot setsid: its child does it instead.
 * --no-detach: setsid only. The caller that reaps its shims (nanocld, through a pidfd)
 * spares a fork, and the wait for the new process to be scheduled, per container. */
static int detach(const struct shim_config *cfg, struct nc_err *err)
{
  if (cfg->no_detach)
    return setsid() < 0 && getsid(0) != getpid() ? nc_err_sys(err, errno, "setsid") : 0;
  bool later = setsid() < 0 && getsid(0) != getpid();
  pid_t pid = fork();
  if (pid < 0)
    return nc_err_sys(err, errno, "fork");
  if (pid > 0)
    _exit(0);
  if (later && setsid() < 0)
    return nc_err_sys(err, errno, "setsid");
  return 0;
}

/* oom_score_adj -1000 for the shim; what it was is kept for the runtime it runs. */
static void protect_from_oom(struct shim_runtime *rt)
{
  char old[16] = "";
  _cleanup_close_ int fd = open("/proc/self/oom_score_adj", O_RDWR | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read(fd, old, sizeof old - 1) : -1;
  if (n > 0 && lseek(fd, 0, SEEK_SET) == 0 && write(fd, "-1000", 5) == 5) {
    old[n] = '\0';
    old[strcspn(old, "\n")] = '\0';
    snprintf(rt->oom_restore, sizeof rt->oom_restore, "%s", old);
    return;
  }
  /* Debug, not warn: where root lacks CAP_SYS_RESOURCE (some VMs) it fails for
   * every container the same way, and nothing is wrong with the container. */
  nc_log(NC_LOG_DEBUG, "cannot set the shim's oom_score_adj to -1000: %s", strerror(errno));
}

/* The pipes for the container's stdout and stderr: read ends non-blocking and kept,
 * write ends (CLOEXEC too: the runtime gets them by dup2 only) returned. */
static int make_pipes(int write_ends[2], struct nc_err *err)
{
  struct shim_stream *streams[2] = { &out_stream, &err_stream };
  out_stream.name = "stdout";
  err_stream.name = "stderr";
  for (int i = 0; i < 2; i++) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
      return nc_err_sys(err, errno, "cannot make the %s pipe", streams[i]->name);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    streams[i]->fd = p[0];
    write_ends[i] = p[1];
  }
  return 0;
}

/* SIGCHLD and the signals sent on to the container, read from a signalfd. Whatever the
 * caller left (a blocked or ignored signal: an ignored one would never reach the
 * signalfd, an ignored SIGCHLD would lose the exit status) is undone first. */
static int make_signalfd(struct nc_err *err)
{
  sigset_t set;
  sigemptyset(&set);
  const int sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2 };
  for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
    signal(sigs[i], SIG_DFL);
    sigaddset(&set, sigs[i]);
  }
  if (sigprocmask(SIG_SETMASK, &set, NULL) < 0)
    return nc_err_sys(err, errno, "sigprocmask");
  int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd < 0)
    return nc_err_sys(err, errno, "signalfd");
  return fd;
}

/* Steps 2 and 3: on success the container runs and the sync line is sent. */
static int start_container(struct shim_config *cfg, struct shim_runtime *rt, struct shim_log *log,
                           pid_t *container, struct nc_err *err)
{
  char pid[24];
  int len = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
  if (nc_write_file_replace(cfg->pid_file, pid, (size_t)len, 0644, err) < 0)
    return nc_err_wrap(err, "cannot write the pid file");
  if (shim_log_open(log, cfg->log_path, cfg->log_max, err) < 0)
    return -1;
  int w[2] = { -1, -1 };
  if (make_pipes(w, err) < 0) {
    if (w[0] >= 0)
      close(w[0]);
    return -1;
  }
  int r = shim_runtime_create(rt, w[0], w[1], container, err);
  close(w[0]); /* the container holds them now */
  close(w[1]);
  if (cfg->runtime_fd >= 0) { /* only a start runs the runtime's init: the path will do */
    close(cfg->runtime_fd);
    cfg->runtime_fd = -1;
  }
  if (r < 0) {
    struct nc_err ignored = NC_ERR_INIT;
    shim_runtime_delete(rt, true, &ignored); /* "does not exist" after a failed create */
  }
  return r;
}

int main(int argc, char **argv)
{
  struct shim_config cfg = { .sync_fd = -1, .runtime_fd = -1 };
  struct shim_runtime rt;
  struct shim_log log = { .fd = -1 };
  struct nc_err err = NC_ERR_INIT;

  signal(SIGPIPE, SIG_IGN);
  if (parse_options(argc, argv, &cfg, &err) < 0) {
    nc_log(NC_LOG_ERROR, "nanocl-shim: %s", err.msg);
    if (cfg.sync_fd < 0)
      usage(stderr);
    sync_error(&cfg, &err);
    return 1;
  }
  tidy_fds(cfg.sync_fd, cfg.runtime_fd);
  /* Signals are blocked before detaching: a SIGTERM from now on is for the container. */
  int sigfd = make_signalfd(&err);
  if (sigfd < 0 || shim_runtime_init(&rt, &cfg, &err) < 0 || detach(&cfg, &err) < 0) {
    nc_log(NC_LOG_ERROR, "nanocl-shim %.12s: %s", cfg.id, err.msg);
    sync_error(&cfg, &err);
    return 1;
  }

  /* The detached shim. */
  pid_t container = 0;
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
    nc_err_sys(&err, errno, "cannot become a child subreaper");
    goto failed;
  }
  protect_from_oom(&rt);
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0) {
    nc_err_sys(&err, errno, "cannot open /dev/null");
    goto failed;
  }
  close(null);
  if (chdir("/") < 0) {
    nc_err_sys(&err, errno, "chdir /");
    goto failed;
  }
  if (start_container(&cfg, &rt, &log, &container, &err) < 0)
    goto failed;

  char line[96];
  int len = snprintf(line, sizeof line, "{\"pid\": %d, \"shim_pid\": %d}\n", (int)container,
                     (int)getpid());
  sync_send(&cfg, line, (size_t)len);
  nc_log(NC_LOG_INFO, "nanocl-shim %.12s: container running, pid %d", cfg.id, (int)container);

  struct shim_exit exit_info;
  int status = 0;
  if (shim_loop_run(sigfd, container, &out_stream, &err_stream, &log, &exit_info, &err) < 0) {
    /* Cannot watch the container any longer: it is ended rather than left unwatched. */
    nc_log(NC_LOG_ERROR, "nanocl-shim %.12s: %s", cfg.id, err.msg);
    shim_runtime_delete(&rt, true, &err);
    shim_log_close(&log);
    return 1;
  }
  shim_log_close(&log);
  if (shim_exit_file_write(cfg.exit_file, &exit_info, cfg.cgroup, &err) < 0) {
    nc_log(NC_LOG_ERROR, "nanocl-shim %.12s: %s", cfg.id, err.msg);
    status = 1;
  }
  /* The exit is recorded: nanocld learns of it when this process ends, without waiting
   * for the runtime's `delete` (one more runtime start-up, ~15 ms for runc). */
  shim_runtime_delete_detached(&rt);
  return status;

failed:
  nc_log(NC_LOG_ERROR, "nanocl-shim %.12s: %s", cfg.id, err.msg);
  sync_error(&cfg, &err);
  shim_log_close(&log);
  return 1;
}
