/* The helper of an exec: forked by nanocld, it runs the runtime's `exec --detach`,
 * becomes the parent of the process when the runtime exits (it is a child subreaper),
 * reports the process's pid and exit code on a pipe, and kills it on SIGTERM.
 *
 * nanocld has threads, so between fork() and _exit() only async-signal-safe calls are
 * made here: no malloc, no stdio, no locks. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/cgroup-view.h"
#include "runtime/exec-internal.h"

#define STATUS_FD 3
#define RUNTIME_FD 4 /* the runtime's sealed copy, when there is one */

static void report(int32_t kind, int32_t value)
{
  int32_t msg[2] = { kind, value };
  ssize_t w;
  do
    w = write(STATUS_FD, msg, sizeof msg);
  while (w < 0 && errno == EINTR);
}

/* Closes every fd from `low` on: nanocld's sockets, files and its lock must not stay
 * open in a process that outlives their use (the helper never execs, so close-on-exec
 * does not help here). */
static void close_from(int low)
{
#ifdef SYS_close_range
  if (syscall(SYS_close_range, (unsigned)low, ~0u, 0u) == 0)
    return;
#endif
  struct rlimit rl;
  long max = 65536;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)max)
    max = (long)rl.rlim_cur;
  for (long fd = low; fd < max; fd++)
    close((int)fd);
}

/* The pid the runtime wrote, or -1. */
static pid_t read_pid(const char *path)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  char buf[32];
  ssize_t n;
  do
    n = read(fd, buf, sizeof buf);
  while (n < 0 && errno == EINTR);
  close(fd);
  int64_t v = 0;
  for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++) {
    v = v * 10 + (buf[i] - '0');
    if (v > INT32_MAX)
      return -1;
  }
  return v > 0 ? (pid_t)v : -1;
}

/* Puts the four fds at 0, 1, 2 and STATUS_FD, and the runtime's copy at RUNTIME_FD,
 * whatever numbers they had. */
static int place_fds(const struct exec_helper_args *a)
{
  int src[5] = { a->stdio[0], a->stdio[1], a->stdio[2], a->status_fd, a->runtime_fd };
  int n = a->runtime_fd >= 0 ? 5 : 4;
  int tmp[5];
  for (int i = 0; i < n; i++) {
    tmp[i] = fcntl(src[i], F_DUPFD, 16);
    if (tmp[i] < 0)
      return -1;
  }
  for (int i = 0; i < n; i++)
    if (dup2(tmp[i], i) < 0)
      return -1;
  if (n == 5 && fcntl(RUNTIME_FD, F_SETFD, FD_CLOEXEC) < 0)
    return -1;
  close_from(n);
  return 0;
}

static void run_runtime(const struct exec_helper_args *a)
{
  setpgid(0, 0); /* its own group: the process (without a tty) stays in it */
  close(STATUS_FD);
  /* The runtime, and through it the process, start with no signal blocked or
   * ignored (nanocld blocks its stop signals and ignores SIGPIPE). */
  struct sigaction dfl = { .sa_handler = SIG_DFL };
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP)
      sigaction(sig, &dfl, NULL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  if (a->hide_cgroup2 && runtime_hide_hybrid_cgroup2() < 0)
    _exit(127);
  if (a->runtime_fd >= 0)
    fexecve(RUNTIME_FD, a->argv, environ);
  execv(a->runtime, a->argv);
  _exit(127);
}

/* Kills what runs: the runtime's group while it starts the process, then the
 * process's group (its own with a tty, the runtime's without). */
static void kill_all(pid_t runtime, bool runtime_done, pid_t pid, bool tty)
{
  if (!runtime_done) {
    kill(-runtime, SIGKILL);
    return;
  }
  if (pid > 0) {
    kill(pid, SIGKILL);
    kill(tty ? -pid : -runtime, SIGKILL);
  }
}

/* Kills and reaps every child of the helper. As a subreaper it inherits what the
 * runtime started when the runtime dies; killed mid-start (nanocld gone while
 * `exec --detach` was still exiting) the process may have no pid file yet and
 * sit outside the runtime's group, and must not outlive us. */
static void kill_children(void)
{
  /* Only async-signal-safe calls here: a forked child of a threaded nanocld. */
  char path[64] = "/proc/self/task/", digits[16], buf[4096];
  int nd = 0;
  for (pid_t v = getpid(); v > 0 && nd < (int)sizeof digits; v /= 10)
    digits[nd++] = (char)('0' + v % 10);
  size_t len = 16; /* strlen("/proc/self/task/") */
  while (nd > 0)
    path[len++] = digits[--nd];
  memcpy(path + len, "/children", 10);
  for (int round = 0; round < 10; round++) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
      close(fd);
    if (n <= 0)
      break;
    long child = 0;
    for (ssize_t i = 0; i <= n; i++) {
      if (i < n && buf[i] >= '0' && buf[i] <= '9') {
        child = child * 10 + (buf[i] - '0');
      } else {
        if (child > 1)
          kill((pid_t)child, SIGKILL);
        child = 0;
      }
    }
    while (waitpid(-1, NULL, 0) > 0)
      ;
  }
}

void exec_helper_main(const struct exec_helper_args *a)
{
  if (place_fds(a) < 0)
    _exit(1);
  setpgid(0, 0);
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  /* nanocld's thread gone (nanocld killed): kill the process too. */
  prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
  if (getppid() != a->parent)
    _exit(1);
  struct sigaction dfl = { .sa_handler = SIG_DFL };
  sigaction(SIGCHLD, &dfl, NULL);
  sigset_t waitset;
  sigemptyset(&waitset);
  sigaddset(&waitset, SIGTERM);
  sigaddset(&waitset, SIGCHLD);
  sigprocmask(SIG_SETMASK, &waitset, NULL);

  pid_t runtime = fork();
  if (runtime == 0)
    run_runtime(a);
  if (runtime < 0) {
    report(EXEC_MSG_ERROR, errno);
    _exit(0);
  }
  /* The helper keeps none of the process's stdio: those end when the process's do. */
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int i = 0; i < 3 && null >= 0; i++)
    dup2(null, i);

  bool runtime_done = false, killed = false;
  pid_t pid = -1;
  for (;;) {
    int st;
    pid_t w = 0;
    /* First the runtime alone: the process becomes our child only when it exits,
     * and must not be reaped before its pid is known. */
    while (!runtime_done && (w = waitpid(runtime, &st, WNOHANG)) == runtime) {
      runtime_done = true;
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        pid = read_pid(a->pid_file); /* started before the runtime was killed? */
        if (pid > 0)
          kill_all(runtime, true, pid, a->tty);
        kill_children();
        report(EXEC_MSG_FAILED, st);
        _exit(0);
      }
      pid = read_pid(a->pid_file);
      if (pid <= 0) {
        kill_children();
        report(EXEC_MSG_ERROR, ENOENT);
        _exit(0);
      }
      report(EXEC_MSG_STARTED, pid);
      if (killed)
        kill_all(runtime, true, pid, a->tty);
    }
    while (runtime_done && (w = waitpid(-1, &st, WNOHANG)) > 0) {
      if (w != pid)
        continue; /* something the runtime left */
      report(EXEC_MSG_EXITED, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
      _exit(0);
    }
    if (runtime_done && w < 0 && errno == ECHILD) {
      report(EXEC_MSG_EXITED, 255); /* not ours after all: cannot happen */
      _exit(0);
    }
    int sig = sigwaitinfo(&waitset, NULL);
    if (sig == SIGTERM) {
      killed = true;
      kill_all(runtime, runtime_done, pid, a->tty);
    }
  }
}
