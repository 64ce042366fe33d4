/* exec: one more process in a running container (exec.h). */
#include "runtime/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "runtime/exec-internal.h"
#include "runtime/failure.h"
#include "runtime/spec.h"

/* The files of one exec start, and the fds of nanocld's side while it starts. */
struct start {
  char dir[PATH_MAX];
  char process[PATH_MAX + 32], pid[PATH_MAX + 32], log[PATH_MAX + 32], sock[PATH_MAX + 32];
  int listen_fd, conn_fd, null_fd;
  int child_fds[4]; /* the helper's: stdio and the status pipe's write end */
  const char *cmd;  /* the program run, for a failure's message */
};

int container_exec_check(struct container_service *svc, const char *ns, const char *key,
                         char id[65], struct nc_err *err)
{
  struct store_container c;
  if (container_load(svc, ns, key, &c, err) < 0)
    return -1;
  int r = 0;
  if (strcmp(c.state, "running") != 0)
    r = nc_err_set(err, NC_ERR_CONFLICT, "container '%s' is not running", c.name);
  memcpy(id, c.id, 65);
  store_container_free(&c);
  return r;
}

static void closep(int *fd)
{
  nc_closep(fd);
}

void container_exec_close(struct exec_proc *p)
{
  closep(&p->stdin_fd);
  closep(&p->stdout_fd);
  closep(&p->stderr_fd);
}

static int write_new_file(const char *path, const char *text, struct nc_err *err)
{
  _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return nc_err_sys(err, errno, "cannot create '%s'", path);
  size_t len = strlen(text);
  while (len) {
    ssize_t w = write(fd, text, len);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return nc_err_sys(err, errno, "cannot write '%s'", path);
    text += w;
    len -= (size_t)w;
  }
  return 0;
}

/* RUN_DIR/exec/<16 hex>.{json,pid,log,sock}. RUN_DIR is the runtime root's parent. */
static int name_files(struct container_service *svc, struct start *s, struct nc_err *err)
{
  snprintf(s->dir, sizeof s->dir, "%s", svc->runtime_root);
  char *slash = strrchr(s->dir, '/');
  if (slash && slash != s->dir)
    *slash = '\0';
  size_t used = strlen(s->dir);
  snprintf(s->dir + used, sizeof s->dir - used, "/exec");
  if (nc_mkdir_p(s->dir, 0700, err) < 0)
    return -1;
  unsigned char raw[8];
  if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
    return nc_err_sys(err, errno, "cannot name the files of an exec");
  char name[17];
  for (int i = 0; i < 8; i++)
    snprintf(name + 2 * i, 3, "%02x", raw[i]);
  snprintf(s->process, sizeof s->process, "%s/%s.json", s->dir, name);
  snprintf(s->pid, sizeof s->pid, "%s/%s.pid", s->dir, name);
  snprintf(s->log, sizeof s->log, "%s/%s.log", s->dir, name);
  snprintf(s->sock, sizeof s->sock, "%s/%s.sock", s->dir, name);
  return 0;
}

static int listen_console(struct start *s, struct nc_err *err)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  if (strlen(s->sock) >= sizeof sa.sun_path)
    return nc_err_set(err, NC_ERR_INTERNAL,
                      "the console socket path '%s' is longer than a unix socket allows; "
                      "use a shorter --run-dir", s->sock);
  memcpy(sa.sun_path, s->sock, strlen(s->sock) + 1);
  s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
      listen(s->listen_fd, 1) < 0)
    return nc_err_sys(err, errno, "cannot listen on the console socket '%s'", s->sock);
  return 0;
}

/* The pty master the runtime sends (SCM_RIGHTS); -1 when it closed without one. */
static int recv_master(int conn)
{
  char data[256];
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int) * 4)];
  } ctl;
  struct iovec iov = { data, sizeof data };
  struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                      .msg_controllen = sizeof ctl.buf };
  ssize_t n;
  do
    n = recvmsg(conn, &m, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  int master = -1;
  for (struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&m) : NULL; c; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
      continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (master < 0)
        master = fd;
      else
        close(fd); /* only one was expected */
    }
  }
  return master;
}

/* The runtime's own message (its JSON log's last error), for a start that failed. */
static void runtime_message(struct container_service *svc, const struct start *s, int status,
                            int *code, struct nc_err *err)
{
  char *text = NULL;
  size_t len;
  struct nc_err ignore = NC_ERR_INIT;
  char msg[NC_ERR_MSG_MAX] = "";
  if (nc_read_file(s->log, 1024 * 1024, &text, &len, &ignore) == 0) {
    for (char *line = text, *next; line && *line; line = next) {
      next = strchr(line, '\n');
      if (next)
        *next++ = '\0';
      json_t *j = json_loads(line, 0, NULL);
      const char *level = json_string_value(json_object_get(j, "level"));
      const char *m = json_string_value(json_object_get(j, "msg"));
      if (m && level && (!strcmp(level, "error") || !strcmp(level, "fatal")))
        snprintf(msg, sizeof msg, "%s", m);
      json_decref(j);
    }
  }
  free(text);
  if (!msg[0])
    snprintf(msg, sizeof msg, "%s exec %s %d", svc->rt.name,
             WIFEXITED(status) ? "exited with status" : "was killed by signal",
             WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
  char said[NC_ERR_MSG_MAX];
  int c = runtime_exec_failure(msg, s->cmd, said, sizeof said);
  *code = c ? c : 126;
  nc_err_set(err, NC_ERR_INVALID, "%s", said);
}

/* Waits for the helper's first report (and the pty master with a tty). */
static int await_start(struct container_service *svc, struct start *s, struct exec_proc *p,
                       int *code, struct nc_err *err)
{
  uint64_t deadline = nc_time_mono_ns() + (uint64_t)EXEC_START_TIMEOUT_MS * 1000000u;
  bool started = false;
  for (;;) {
    if (started && (!p->tty || p->stdout_fd >= 0))
      return 0;
    struct pollfd pf[2] = { { .fd = p->status_fd, .events = POLLIN },
                            { .fd = -1, .events = POLLIN } };
    if (p->tty && p->stdout_fd < 0)
      pf[1].fd = s->conn_fd >= 0 ? s->conn_fd : s->listen_fd;
    uint64_t now = nc_time_mono_ns();
    int left = now >= deadline ? 0 : (int)((deadline - now) / 1000000u);
    int n = poll(pf, 2, left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      container_exec_kill(p);
      return nc_err_set(err, NC_ERR_INTERNAL, "%s did not start the process within %d s",
                        svc->rt.name, EXEC_START_TIMEOUT_MS / 1000);
    }
    if (pf[1].revents && s->conn_fd < 0) {
      s->conn_fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    } else if (pf[1].revents) {
      p->stdout_fd = recv_master(s->conn_fd);
      closep(&s->conn_fd);
      if (p->stdout_fd < 0 && started)
        return nc_err_set(err, NC_ERR_INTERNAL, "%s sent no terminal", svc->rt.name);
    }
    if (!pf[0].revents)
      continue;
    int32_t msg[2];
    ssize_t r = read(p->status_fd, msg, sizeof msg);
    if (r < 0 && errno == EINTR)
      continue;
    if (r != (ssize_t)sizeof msg)
      return nc_err_set(err, NC_ERR_INTERNAL, "the exec helper of %s ended early",
                        svc->rt.name);
    if (msg[0] == EXEC_MSG_STARTED) {
      started = true;
      p->pid = msg[1];
    } else if (msg[0] == EXEC_MSG_FAILED) {
      runtime_message(svc, s, msg[1], code, err);
      return -1;
    } else {
      return nc_err_sys(err, msg[1], "the exec helper of %s failed", svc->rt.name);
    }
  }
}

/* Pipes (or /dev/null) for the runtime's stdio; our ends non-blocking. */
static int make_stdio(struct start *s, const struct exec_opts *o, struct exec_proc *p,
                      struct nc_err *err)
{
  s->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (s->null_fd < 0)
    return nc_err_sys(err, errno, "cannot open /dev/null");
  int pipes[3][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 } };
  bool want[3] = { !o->tty && o->open_stdin, !o->tty, !o->tty };
  for (int i = 0; i < 3; i++) {
    if (!want[i]) {
      s->child_fds[i] = fcntl(s->null_fd, F_DUPFD_CLOEXEC, 3);
      if (s->child_fds[i] < 0)
        return nc_err_sys(err, errno, "cannot set up the stdio of an exec");
      continue;
    }
    if (pipe2(pipes[i], O_CLOEXEC) < 0)
      return nc_err_sys(err, errno, "cannot set up the stdio of an exec");
    int ours = i == 0 ? pipes[i][1] : pipes[i][0];
    s->child_fds[i] = i == 0 ? pipes[i][0] : pipes[i][1];
    fcntl(ours, F_SETFL, fcntl(ours, F_GETFL) | O_NONBLOCK);
    if (i == 0)
      p->stdin_fd = ours;
    else if (i == 1)
      p->stdout_fd = ours;
    else
      p->stderr_fd = ours;
  }
  return 0;
}

static void start_cleanup(struct start *s)
{
  closep(&s->listen_fd);
  closep(&s->conn_fd);
  closep(&s->null_fd);
  for (int i = 0; i < 4; i++)
    closep(&s->child_fds[i]);
  unlink(s->process);
  unlink(s->pid);
  unlink(s->log);
  unlink(s->sock);
}

static int spawn_helper(struct container_service *svc, const char *id, struct start *s,
                        struct exec_proc *p, struct nc_err *err)
{
  char runtime[PATH_MAX];
  container_runtime_of(svc, id, runtime, sizeof runtime);
  bool ours = !strcmp(runtime, svc->rt.path); /* else a runtime of a former nanocld */
  const char *argv[] = { runtime, "--root", svc->runtime_root, "--log", s->log,
                         "--log-format", "json", "exec", "--process", s->process, "--detach",
                         "--pid-file", s->pid, p->tty ? "--console-socket" : id,
                         p->tty ? s->sock : NULL, p->tty ? id : NULL, NULL };
  int status[2];
  if (pipe2(status, O_CLOEXEC) < 0)
    return nc_err_sys(err, errno, "cannot start an exec");
  p->status_fd = status[0];
  s->child_fds[3] = status[1];
  struct exec_helper_args a = {
    .runtime = runtime,
    .runtime_fd = ours ? runtime_sealed_get(&svc->sealed, runtime) : -1,
    .hide_cgroup2 = runtime_hides_cgroup2(&svc->rt, runtime),
    .argv = (char *const *)(uintptr_t)argv, /* execv predates const; not written */
    .pid_file = s->pid,
    .stdio = { s->child_fds[0], s->child_fds[1], s->child_fds[2] },
    .status_fd = status[1],
    .parent = getpid(),
    .tty = p->tty,
  };
  p->helper = fork();
  if (p->helper == 0)
    exec_helper_main(&a);
  if (a.runtime_fd >= 0)
    close(a.runtime_fd);
  if (p->helper < 0)
    return nc_err_sys(err, errno, "cannot start an exec");
  for (int i = 0; i < 4; i++)
    closep(&s->child_fds[i]); /* the helper has them; EOF must come from it alone */
  return 0;
}

int container_exec_start(struct container_service *svc, const char *ns, const char *id,
                         const struct exec_opts *o, struct exec_proc *p, int *code,
                         struct nc_err *err)
{
  *code = 126;
  *p = (struct exec_proc){ .helper = -1, .tty = o->tty, .open_stdin = o->open_stdin,
                           .stdin_fd = -1, .stdout_fd = -1,
                           .stderr_fd = -1, .status_fd = -1 };
  struct start s = { .listen_fd = -1, .conn_fd = -1, .null_fd = -1,
                     .child_fds = { -1, -1, -1, -1 }, .cmd = o->argv[0] };
  char cid[65];
  json_t *proc = NULL;
  if (container_exec_check(svc, ns, id, cid, err) < 0 || exec_build_process(svc, cid, o, &proc, err) < 0)
    return -1;
  char *text = json_dumps(proc, JSON_COMPACT);
  json_decref(proc);
  int r = text ? 0 : nc_err_set(err, NC_ERR_INTERNAL, "out of memory");
  if (r == 0)
    r = name_files(svc, &s, err);
  if (r == 0)
    r = write_new_file(s.process, text, err);
  free(text);
  if (r == 0 && o->tty)
    r = listen_console(&s, err);
  if (r == 0)
    r = make_stdio(&s, o, p, err);
  if (r == 0)
    r = spawn_helper(svc, cid, &s, p, err);
  if (r == 0)
    r = await_start(svc, &s, p, code, err);
  if (r == 0 && p->tty && o->width && o->height) {
    struct nc_err ignore = NC_ERR_INIT;
    container_exec_resize(p, o->width, o->height, &ignore);
  }
  start_cleanup(&s);
  if (r < 0) {
    if (p->helper > 0) {
      container_exec_kill(p); /* it may run already: a terminal that never came */
      container_exec_wait(p);
    }
    container_exec_close(p);
    closep(&p->status_fd);
    return -1;
  }
  nc_log(NC_LOG_DEBUG, "exec in %.12s: pid %d, %s", cid, (int)p->pid, o->argv[0]);
  return 0;
}

int container_exec_wait(struct exec_proc *p)
{
  int code = -1;
  while (p->status_fd >= 0) {
    int32_t msg[2];
    ssize_t n = read(p->status_fd, msg, sizeof msg);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN) {
      struct pollfd pf = { .fd = p->status_fd, .events = POLLIN };
      (void)poll(&pf, 1, -1);
      continue;
    }
    if (n != (ssize_t)sizeof msg)
      break;
    if (msg[0] == EXEC_MSG_EXITED) {
      code = msg[1];
      break;
    }
  }
  closep(&p->status_fd);
  int status = 0;
  while (p->helper > 0 && waitpid(p->helper, &status, 0) < 0 && errno == EINTR)
    ;
  if (code < 0 && p->helper > 0)
    code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255;
  p->helper = -1;
  return code < 0 ? 255 : code;
}

void container_exec_kill(struct exec_proc *p)
{
  /* The helper is our child, not reaped yet: its pid is still its own. */
  if (p->helper > 0)
    kill(p->helper, SIGTERM);
}

int container_exec_resize(struct exec_proc *p, uint16_t width, uint16_t height,
                          struct nc_err *err)
{
  if (!p->tty || p->stdout_fd < 0)
    return 0;
  struct winsize ws = { .ws_row = height, .ws_col = width };
  if (ioctl(p->stdout_fd, TIOCSWINSZ, &ws) < 0)
    return nc_err_sys(err, errno, "cannot resize the terminal of the exec");
  return 0;
}
