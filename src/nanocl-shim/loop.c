/* The shim's event loop: poll(2) on a signalfd and the container's two pipes.
 * SIGCHLD reaps everything re-parented to the shim (it is a child subreaper); the
 * container's init ending starts the drain: the pipes are read to their end, for at
 * most SHIM_DRAIN_MS. The other signals the shim takes are sent on to the container. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "shim.h"

struct loop {
  pid_t container;
  bool exited;
  struct shim_exit *exit_info;
  struct timespec deadline; /* of the drain, CLOCK_MONOTONIC */
};

/* Our own table: sigabbrev_np is glibc's only (the shim also builds with musl). */
static const char *const signal_abbrevs[] = {
  [SIGHUP] = "HUP",     [SIGINT] = "INT",       [SIGQUIT] = "QUIT",   [SIGILL] = "ILL",
  [SIGTRAP] = "TRAP",   [SIGABRT] = "ABRT",     [SIGBUS] = "BUS",     [SIGFPE] = "FPE",
  [SIGKILL] = "KILL",   [SIGUSR1] = "USR1",     [SIGSEGV] = "SEGV",   [SIGUSR2] = "USR2",
  [SIGPIPE] = "PIPE",   [SIGALRM] = "ALRM",     [SIGTERM] = "TERM",   [SIGSTKFLT] = "STKFLT",
  [SIGCHLD] = "CHLD",   [SIGCONT] = "CONT",     [SIGSTOP] = "STOP",   [SIGTSTP] = "TSTP",
  [SIGTTIN] = "TTIN",   [SIGTTOU] = "TTOU",     [SIGURG] = "URG",     [SIGXCPU] = "XCPU",
  [SIGXFSZ] = "XFSZ",   [SIGVTALRM] = "VTALRM", [SIGPROF] = "PROF",   [SIGWINCH] = "WINCH",
  [SIGIO] = "IO",       [SIGPWR] = "PWR",       [SIGSYS] = "SYS",
};

static const char *signal_name(int sig, char *buf, size_t size)
{
  const char *abbrev = sig > 0 && (size_t)sig < sizeof signal_abbrevs / sizeof *signal_abbrevs
                         ? signal_abbrevs[sig]
                         : NULL;
  if (abbrev)
    snprintf(buf, size, "SIG%s", abbrev);
  else if (sig >= SIGRTMIN && sig <= SIGRTMAX)
    snprintf(buf, size, "SIGRTMIN+%d", sig - SIGRTMIN);
  else
    snprintf(buf, size, "SIG%d", sig);
  return buf;
}

static void reap(struct loop *l)
{
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno == EINTR)
      continue;
    if (pid <= 0)
      return;
    if (pid != l->container || l->exited)
      continue;
    l->exited = true;
    l->exit_info->status = status;
    clock_gettime(CLOCK_REALTIME, &l->exit_info->finished_at);
    clock_gettime(CLOCK_MONOTONIC, &l->deadline);
    l->deadline.tv_sec += SHIM_DRAIN_MS / 1000;
    l->deadline.tv_nsec += (SHIM_DRAIN_MS % 1000) * 1000000L;
    if (l->deadline.tv_nsec >= 1000000000L) {
      l->deadline.tv_sec++;
      l->deadline.tv_nsec -= 1000000000L;
    }
    char name[32];
    if (WIFSIGNALED(status))
      nc_log(NC_LOG_INFO, "container init %d was killed by %s", (int)pid,
             signal_name(WTERMSIG(status), name, sizeof name));
    else
      nc_log(NC_LOG_INFO, "container init %d exited with %d", (int)pid, WEXITSTATUS(status));
  }
}

static int handle_signals(int sigfd, struct loop *l, struct nc_err *err)
{
  struct signalfd_siginfo si[8];
  for (;;) {
    ssize_t n = read(sigfd, si, sizeof si);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      return 0;
    if (n <= 0)
      return nc_err_sys(err, n < 0 ? errno : EIO, "cannot read the signalfd");
    for (size_t i = 0; i < (size_t)n / sizeof *si; i++) {
      int sig = (int)si[i].ssi_signo;
      if (sig == SIGCHLD) {
        reap(l);
        continue;
      }
      char name[32];
      signal_name(sig, name, sizeof name);
      if (l->exited) {
        nc_log(NC_LOG_INFO, "%s received after the container's end: ignored", name);
        continue;
      }
      /* The init is not reaped yet, so its pid cannot have been reused. */
      if (kill(l->container, sig) < 0)
        nc_log(NC_LOG_WARN, "cannot send %s to the container (pid %d): %s", name,
               (int)l->container, strerror(errno));
      else
        nc_log(NC_LOG_INFO, "%s sent to the container (pid %d)", name, (int)l->container);
    }
  }
}

/* Milliseconds until the drain's deadline (0 when passed), or -1 (no deadline yet). */
static int poll_timeout(const struct loop *l)
{
  if (!l->exited)
    return -1;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  long long ms = (long long)(l->deadline.tv_sec - now.tv_sec) * 1000 +
                 (l->deadline.tv_nsec - now.tv_nsec) / 1000000;
  return ms > 0 ? (int)ms : 0;
}

int shim_loop_run(int sigfd, pid_t container, struct shim_stream *out, struct shim_stream *errs,
                  struct shim_log *log, struct shim_exit *exit_info, struct nc_err *err)
{
  struct loop l = { .container = container, .exit_info = exit_info };
  struct shim_stream *streams[2] = { out, errs };
  reap(&l); /* an init that ended before the loop began */
  for (;;) {
    bool open_streams = out->fd >= 0 || errs->fd >= 0;
    if (l.exited && !open_streams)
      break;
    int timeout = poll_timeout(&l);
    if (l.exited && timeout == 0) {
      nc_log(NC_LOG_WARN, "the container's output is still open %d ms after its end: "
             "not waiting for more", SHIM_DRAIN_MS);
      break;
    }
    struct pollfd pfd[3] = { { .fd = sigfd, .events = POLLIN },
                             { .fd = out->fd, .events = POLLIN },
                             { .fd = errs->fd, .events = POLLIN } };
    int n = poll(pfd, 3, timeout); /* a negative fd is skipped by poll */
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return nc_err_sys(err, errno, "poll");
    }
    for (int i = 0; i < 2; i++)
      if (pfd[i + 1].revents)
        shim_stream_read(streams[i], log);
    if (pfd[0].revents && handle_signals(sigfd, &l, err) < 0)
      return -1;
  }
  for (int i = 0; i < 2; i++) {
    shim_stream_flush(streams[i], log);
    if (streams[i]->fd >= 0) {
      close(streams[i]->fd);
      streams[i]->fd = -1;
    }
  }
  return 0;
}

/* The "oom_kill N" count of memory.events (v2) or memory.oom_control (v1). */
int shim_cgroup_oom_killed(const char *cgroup)
{
  static const char *const files[] = { "memory.events", "memory.oom_control" };
  for (size_t i = 0; i < 2; i++) {
    char path[4096], text[1024];
    snprintf(path, sizeof path, "%s/%s", cgroup, files[i]);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      continue;
    ssize_t n = read(fd, text, sizeof text - 1);
    if (n <= 0)
      continue;
    text[n] = '\0';
    for (char *line = text; line;) {
      if (strncmp(line, "oom_kill ", 9) == 0)
        return line[9] != '0' ? 1 : 0;
      line = strchr(line, '\n');
      line = line ? line + 1 : NULL;
    }
    return 0; /* an older kernel without the count */
  }
  return -1;
}

int shim_exit_file_write(const char *path, const struct shim_exit *e, const char *cgroup,
                         struct nc_err *err)
{
  int code, sig = 0;
  if (WIFSIGNALED(e->status)) {
    sig = WTERMSIG(e->status);
    code = 128 + sig;
  } else {
    code = WEXITSTATUS(e->status);
  }
  bool oom = false;
  if (cgroup) {
    int r = shim_cgroup_oom_killed(cgroup);
    if (r < 0)
      nc_log(NC_LOG_WARN, "cannot read the OOM count of cgroup '%s'", cgroup);
    oom = r > 0;
  }
  char when[64], name[32], signal_json[48], text[256];
  shim_time_format(&e->finished_at, when, sizeof when);
  if (sig)
    snprintf(signal_json, sizeof signal_json, "\"%s\"", signal_name(sig, name, sizeof name));
  else
    snprintf(signal_json, sizeof signal_json, "null");
  int len = snprintf(text, sizeof text,
                     "{\"exit_code\": %d, \"signal\": %s, \"oom_killed\": %s, "
                     "\"finished_at\": \"%s\"}\n",
                     code, signal_json, oom ? "true" : "false", when);
  if (nc_write_file_replace(path, text, (size_t)len, 0644, err) < 0)
    return nc_err_wrap(err, "cannot write the exit file");
  return 0;
}
