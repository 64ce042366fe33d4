/* Running the OCI runtime (runc, crun):
 *   RUNTIME --root ROOT --log /proc/self/fd/N --log-format json run --detach
 *           --bundle BUNDLE --pid-file BUNDLE/container.pid ID
 *   RUNTIME --root ROOT --log /proc/self/fd/N … delete [--force] ID
 * N is BUNDLE/runtime.log, opened once by the shim: the last `delete` may run after
 * nanocld has removed the bundle (docs/shim.md, "Life"). A failed command's error is the
 * runtime's own message: the last error line it added to that log. The runtime gets the
 * shim's signal mask and dispositions back to their defaults, and the oom_score_adj the
 * shim had before it protected itself. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/parse.h"
#include "runtime/cgroup-view.h"
#include "shim.h"

/* The tail of runtime.log that is read for an error message. */
#define RUNTIME_LOG_TAIL (64 * 1024)

int shim_runtime_init(struct shim_runtime *rt, const struct shim_config *cfg, struct nc_err *err)
{
  rt->cfg = cfg;
  rt->oom_restore[0] = '\0';
  rt->log_fd = rt->lock_fd = -1;
  char log[4096], lock[4096];
  if (snprintf(log, sizeof log, "%s/runtime.log", cfg->bundle) >= (int)sizeof log ||
      snprintf(lock, sizeof lock, "%s/runtime.lock", cfg->bundle) >= (int)sizeof lock ||
      snprintf(rt->pid_path, sizeof rt->pid_path, "%s/container.pid", cfg->bundle) >=
        (int)sizeof rt->pid_path)
    return nc_err_set(err, NC_ERR_INVALID, "bundle path too long: '%s'", cfg->bundle);
  rt->log_fd = open(log, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (rt->log_fd < 0)
    return nc_err_sys(err, errno, "cannot open '%s'", log);
  rt->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (rt->lock_fd < 0)
    return nc_err_sys(err, errno, "cannot open '%s'", lock);
  return 0;
}

static off_t file_size(int fd)
{
  struct stat st;
  return fstat(fd, &st) == 0 ? st.st_size : 0;
}

/* The message of the last error (or fatal) line runtime.log got past `from`; "" if none. */
static void runtime_log_error(const struct shim_runtime *rt, off_t from, char *out, size_t size)
{
  out[0] = '\0';
  off_t end = file_size(rt->log_fd);
  if (end <= from)
    return;
  if (end - from > RUNTIME_LOG_TAIL)
    from = end - RUNTIME_LOG_TAIL;
  size_t len = (size_t)(end - from);
  _cleanup_free_ char *text = malloc(len + 1);
  if (!text)
    return;
  ssize_t n = pread(rt->log_fd, text, len, from);
  if (n <= 0)
    return;
  text[n] = '\0';
  char level[16];
  for (char *line = text; line < text + n;) {
    char *nl = memchr(line, '\n', (size_t)(text + n - line));
    size_t line_len = nl ? (size_t)(nl - line) : (size_t)(text + n - line);
    if (shim_json_get_string(line, line_len, "level", level, sizeof level) == 0 &&
        (!strcmp(level, "error") || !strcmp(level, "fatal")))
      shim_json_get_string(line, line_len, "msg", out, size);
    line += line_len + 1;
  }
}

/* Runs the runtime with `args` after its global options; returns its wait status, or
 * -1 when it could not be run at all. */
static int run(struct shim_runtime *rt, const char *const *args, int out_fd, int err_fd,
               struct nc_err *err)
{
  const struct shim_config *cfg = rt->cfg;
  /* "--log" is followed by /proc/self/fd/N, filled in by the child (N is its own). */
  const char *global[] = { cfg->runtime, "--root", cfg->runtime_root, "--log", "",
                          "--log-format", "json" };
  char *argv[16]; /* execv's type; nothing is written through it */
  size_t n = 0;
  for (size_t i = 0; i < sizeof global / sizeof *global; i++)
    argv[n++] = (char *)(uintptr_t)global[i];
  for (size_t i = 0; args[i] && n < sizeof argv / sizeof *argv - 1; i++)
    argv[n++] = (char *)(uintptr_t)args[i];
  argv[n] = NULL;

  _cleanup_close_ int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0)
    return nc_err_sys(err, errno, "cannot open /dev/null");
  /* The child reports a failed exec through this pipe; it is closed by a good one. */
  int report[2];
  if (pipe2(report, O_CLOEXEC) < 0)
    return nc_err_sys(err, errno, "cannot run %s %s", cfg->runtime, args[0]);
  if (out_fd < 0)
    out_fd = null;
  if (err_fd < 0)
    err_fd = null;

  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(report[0]);
    close(report[1]);
    return nc_err_sys(err, e, "cannot run %s %s", cfg->runtime, args[0]);
  }
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++)
      signal(sig, SIG_DFL); /* SIGPIPE, and any the shim's caller ignored */
    if (rt->oom_restore[0]) {
      int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
      if (fd >= 0) {
        ssize_t w = write(fd, rt->oom_restore, strlen(rt->oom_restore));
        (void)w;
        close(fd);
      }
    }
    /* dup2 onto itself would keep FD_CLOEXEC: move the sources out of 0..2 first. */
    int fds[3] = { null, out_fd, err_fd };
    for (int i = 0; i < 3; i++)
      if (fds[i] <= 2 && (fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3)) < 0)
        goto fail;
    for (int i = 0; i < 3; i++)
      if (dup2(fds[i], i) < 0)
        goto fail;
    /* The log as an inherited fd (F_DUPFD: not close-on-exec) named through /proc. */
    char log_arg[40];
    int log_fd = fcntl(rt->log_fd, F_DUPFD, 3);
    if (log_fd < 0)
      goto fail;
    snprintf(log_arg, sizeof log_arg, "/proc/self/fd/%d", log_fd);
    argv[4] = log_arg;
    if (cfg->hide_cgroup2 && runtime_hide_hybrid_cgroup2() < 0)
      goto fail;
    if (cfg->runtime_fd >= 0) /* argv[0] stays the path: the runtime's messages name it */
      fexecve(cfg->runtime_fd, argv, environ);
    execv(argv[0], argv);
fail:;
    int e = errno;
    ssize_t w = write(report[1], &e, sizeof e);
    (void)w;
    _exit(127);
  }
  close(report[1]);
  int exec_errno = 0;
  ssize_t got;
  while ((got = read(report[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR)
    ;
  close(report[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR)
      return nc_err_sys(err, errno, "cannot wait for %s %s", cfg->runtime, args[0]);
  }
  if (got == (ssize_t)sizeof exec_errno)
    return nc_err_sys(err, exec_errno, "cannot execute the runtime '%s'", cfg->runtime);
  return status;
}

/* Runs a runtime command; a failure's message is the runtime's own. */
static int command(struct shim_runtime *rt, const char *const *args, int out_fd, int err_fd,
                   struct nc_err *err)
{
  off_t from = file_size(rt->log_fd);
  int status = run(rt, args, out_fd, err_fd, err);
  if (status < 0)
    return -1;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return 0;
  char msg[NC_ERR_MSG_MAX];
  runtime_log_error(rt, from, msg, sizeof msg);
  if (msg[0])
    return nc_err_set(err, NC_ERR_INVALID, "%s", msg);
  if (WIFEXITED(status))
    return nc_err_set(err, NC_ERR_INTERNAL, "%s %s failed with exit status %d", rt->cfg->runtime,
                      args[0], WEXITSTATUS(status));
  return nc_err_set(err, NC_ERR_INTERNAL, "%s %s was killed by signal %d", rt->cfg->runtime,
                    args[0], WTERMSIG(status));
}

static int read_container_pid(struct shim_runtime *rt, pid_t *pid, struct nc_err *err)
{
  _cleanup_free_ char *text = NULL;
  size_t len;
  if (nc_read_file(rt->pid_path, 64, &text, &len, err) < 0)
    return nc_err_wrap(err, "the runtime wrote no container pid");
  while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
    text[--len] = '\0';
  uint64_t v;
  if (nc_parse_u64(text, INT_MAX, &v) < 0 || v < 2)
    return nc_err_set(err, NC_ERR_INTERNAL, "'%s' holds no pid: '%.32s'", rt->pid_path, text);
  *pid = (pid_t)v;
  return 0;
}

int shim_runtime_create(struct shim_runtime *rt, int out_fd, int err_fd, pid_t *pid,
                        struct nc_err *err)
{
  const struct shim_config *cfg = rt->cfg;
  unlink(rt->pid_path); /* a leftover must not be taken for this container's pid */
  /* One `run --detach` rather than `create` then `start`: each runtime process
   * costs its start-up (15 ms for runc here, bench/containers), and nothing
   * happens between the two that the shim needs. */
  const char *args[] = { "run", "--detach", "--bundle", cfg->bundle, "--pid-file", rt->pid_path,
                         cfg->id, NULL };
  if (command(rt, args, out_fd, err_fd, err) < 0)
    return -1;
  return read_container_pid(rt, pid, err);
}

int shim_runtime_delete(struct shim_runtime *rt, bool force, struct nc_err *err)
{
  const char *plain[] = { "delete", rt->cfg->id, NULL };
  const char *forced[] = { "delete", "--force", rt->cfg->id, NULL };
  return command(rt, force ? forced : plain, -1, -1, err);
}

void shim_runtime_delete_detached(struct shim_runtime *rt)
{
  /* The lock is taken here, before this process ends, so that nanocld, once it has seen
   * the end, finds it held until the runtime has forgotten the container. */
  if (flock(rt->lock_fd, LOCK_EX) < 0)
    nc_log(NC_LOG_WARN, "nanocl-shim %.12s: cannot lock the runtime: %s", rt->cfg->id,
           strerror(errno));
  pid_t pid = fork();
  if (pid > 0)
    return; /* the child holds the lock (the same open file) until it exits */
  /* Cleaning up is background work: the CPU goes first to what somebody waits for
   * (nanocld recording the exit, the client's next request, other containers starting);
   * the runtime's start-up is ~15 ms of CPU for runc. SCHED_IDLE: any other task that
   * wakes up preempts it at once (nice 19 still gets its slice); through syscall(), as
   * musl's sched_setscheduler always fails. Nice 19 where SCHED_IDLE is refused. */
  struct sched_param none = { 0 };
  if (pid == 0 && syscall(SYS_sched_setscheduler, 0, SCHED_IDLE, &none) < 0 &&
      setpriority(PRIO_PROCESS, 0, 19) < 0)
    nc_log(NC_LOG_DEBUG, "nanocl-shim %.12s: cannot lower the delete's priority: %s",
           rt->cfg->id, strerror(errno));
  struct nc_err err = NC_ERR_INIT;
  if (shim_runtime_delete(rt, false, &err) < 0) {
    nc_log(NC_LOG_WARN, "nanocl-shim %.12s: delete: %s; trying --force", rt->cfg->id, err.msg);
    if (shim_runtime_delete(rt, true, &err) < 0)
      nc_log(NC_LOG_ERROR, "nanocl-shim %.12s: delete --force: %s", rt->cfg->id, err.msg);
  }
  if (pid == 0)
    _exit(0);
}
