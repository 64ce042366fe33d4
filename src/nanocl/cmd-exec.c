/* nanocl container exec: a command in a running container, over the API's exec
 * connection (docs/api.md: 101 Switching Protocols, then frames both ways). With -t
 * and a terminal on stdin, that terminal is in raw mode while the command runs (every
 * key goes to the command, ^C included) and its size follows the window (SIGWINCH). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/frame.h"
#include "cli.h"
#include "model/name.h"

#define PIECE (32 * 1024)
#define SEND_HIGH (256 * 1024) /* frames not yet sent: stop reading stdin */

static const char exec_usage[] =
  "Usage: nanocl container exec [OPTIONS] CONTAINER [--] COMMAND [ARG...]\n"
  "\n"
  "Run a command in a running container and exit with its exit code (126: it cannot\n"
  "be run, 127: not found).\n"
  "\n"
  "Options:\n"
  "  -n, --namespace NS   namespace (default global)\n"
  "  -i, --interactive    send stdin to the command\n"
  "  -t, --tty            give the command a terminal (its stderr joins its stdout)\n"
  "  -e, --env K=V        environment variable (repeatable)\n"
  "  -u, --user USER      user[:group] by name or number\n"
  "  -w, --workdir DIR    working directory (absolute)\n";

struct exec_opts {
  const char *ns;
  bool interactive, tty;
  json_t *body;
};

static int exec_opt(int c, const char *arg, void *ctx)
{
  struct exec_opts *o = ctx;
  switch (c) {
  case 'n': o->ns = arg; break;
  case 'i': o->interactive = true; break;
  case 't': o->tty = true; break;
  case 'e': {
    json_t *env = json_object_get(o->body, "env");
    if (!env)
      json_object_set_new(o->body, "env", env = json_array());
    json_array_append_new(env, json_string(arg));
    break;
  }
  case 'u': json_object_set_new(o->body, "user", json_string(arg)); break;
  case 'w': json_object_set_new(o->body, "workdir", json_string(arg)); break;
  default: return CLI_USAGE;
  }
  return 0;
}

/* ---- the terminal: raw mode, size, signals ---- */

static int sig_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
  int saved = errno;
  char c = (char)sig;
  ssize_t w = write(sig_pipe[1], &c, 1);
  (void)w;
  errno = saved;
}

struct term {
  bool raw;
  struct termios saved;
  int size_fd; /* a terminal to ask for the window size, or -1 */
};

static void term_restore(struct term *t)
{
  if (t->raw)
    tcsetattr(STDIN_FILENO, TCSADRAIN, &t->saved);
  t->raw = false;
}

static bool term_size(const struct term *t, uint16_t *w, uint16_t *h)
{
  struct winsize ws;
  if (t->size_fd < 0 || ioctl(t->size_fd, TIOCGWINSZ, &ws) < 0 || !ws.ws_col || !ws.ws_row)
    return false;
  *w = ws.ws_col;
  *h = ws.ws_row;
  return true;
}

/* ---- the connection ---- */

struct session {
  int sock;
  bool tty, stdin_open;
  struct nc_buf in;  /* from nanocld, not yet taken apart */
  struct nc_buf out; /* frames for nanocld; out_pos of it sent */
  size_t out_pos;
  int code;          /* from the exit frame; -1 until then */
  bool error_seen;
};

static void queue(struct session *s, unsigned type, const void *data, size_t len)
{
  unsigned char h[NC_FRAME_HEAD];
  nc_frame_head(h, type, (uint32_t)len);
  nc_buf_append(&s->out, h, sizeof h);
  nc_buf_append(&s->out, data, len);
}

static void queue_resize(struct session *s, const struct term *t)
{
  uint16_t w, h;
  if (!term_size(t, &w, &h))
    return;
  unsigned char d[4] = { (unsigned char)(w >> 8), (unsigned char)w, (unsigned char)(h >> 8),
                         (unsigned char)h };
  queue(s, NC_FRAME_RESIZE, d, sizeof d);
}

/* 0, or -1 when nanocld is gone. */
static int send_some(struct session *s)
{
  while (s->out_pos < s->out.len) {
    ssize_t n = send(s->sock, s->out.data + s->out_pos, s->out.len - s->out_pos, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return 0;
    if (n < 0)
      return -1;
    s->out_pos += (size_t)n;
  }
  nc_buf_reset(&s->out);
  s->out_pos = 0;
  return 0;
}

static int write_all(int fd, const char *p, size_t len)
{
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN) { /* a stdout someone made non-blocking */
      struct pollfd pf = { .fd = fd, .events = POLLOUT };
      (void)poll(&pf, 1, -1);
      continue;
    }
    if (n < 0)
      return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* The complete frames from nanocld. Returns 0, or an exit code to stop with. */
static int take_frames(struct session *s, struct term *t)
{
  size_t pos = 0;
  int ret = 0;
  while (ret == 0 && s->code < 0 && s->in.len - pos >= NC_FRAME_HEAD) {
    const unsigned char *h = (const unsigned char *)s->in.data + pos;
    uint32_t len = nc_frame_len(h);
    if (len > NC_FRAME_MAX) {
      term_restore(t);
      fprintf(stderr, "nanocl: exec: nanocld sent a frame of %u bytes\n", (unsigned)len);
      return CLI_ERROR;
    }
    if (s->in.len - pos - NC_FRAME_HEAD < len)
      break;
    const char *data = (const char *)h + NC_FRAME_HEAD;
    pos += NC_FRAME_HEAD + len;
    switch (h[0]) {
    case NC_FRAME_STDOUT:
    case NC_FRAME_STDERR:
      if (write_all(h[0] == NC_FRAME_STDOUT ? STDOUT_FILENO : STDERR_FILENO, data, len) < 0 &&
          errno == EPIPE)
        ret = 128 + SIGPIPE; /* as the shell says of a writer whose reader went away */
      break;
    case NC_FRAME_EXIT: {
      char text[16];
      snprintf(text, sizeof text, "%.*s", (int)(len < 15 ? len : 15), data);
      char *end;
      long code = strtol(text, &end, 10);
      s->code = *end || end == text || code < 0 || code > 255 ? CLI_ERROR : (int)code;
      break;
    }
    case NC_FRAME_ERROR:
      term_restore(t);
      fprintf(stderr, "nanocl: %.*s\n", (int)len, data);
      s->error_seen = true;
      break;
    default:
      break; /* a newer nanocld's: skipped */
    }
  }
  if (pos) {
    memmove(s->in.data, s->in.data + pos, s->in.len - pos);
    s->in.len -= pos;
  }
  return ret;
}

/* Pumps stdin, the socket and the signals until the exit frame. */
static int pump(struct session *s, struct term *t)
{
  char buf[PIECE];
  int ret = take_frames(s, t);
  while (ret == 0 && s->code < 0) {
    bool room = s->out.len - s->out_pos < SEND_HIGH;
    struct pollfd pf[3] = {
      { .fd = s->sock, .events = (short)(POLLIN | (s->out_pos < s->out.len ? POLLOUT : 0)) },
      { .fd = s->stdin_open && room ? STDIN_FILENO : -1, .events = POLLIN },
      { .fd = sig_pipe[0], .events = POLLIN },
    };
    if (poll(pf, 3, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (pf[2].revents) {
      char sigs[16];
      ssize_t n = read(sig_pipe[0], sigs, sizeof sigs);
      for (ssize_t i = 0; i < n && ret == 0; i++) {
        if (sigs[i] == SIGWINCH)
          queue_resize(s, t);
        else
          ret = 128 + sigs[i];
      }
    }
    if (pf[1].revents) {
      ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
      if (n > 0) {
        queue(s, NC_FRAME_STDIN, buf, (size_t)n);
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        queue(s, NC_FRAME_STDIN_CLOSE, NULL, 0);
        s->stdin_open = false;
      }
    }
    if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = recv(s->sock, buf, sizeof buf, 0);
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
        term_restore(t);
        fprintf(stderr, "nanocl: exec: nanocld closed the connection before the command ended\n");
        return CLI_ERROR;
      }
      if (n > 0 && nc_buf_append(&s->in, buf, (size_t)n) == 0)
        ret = take_frames(s, t);
    }
    if (ret == 0 && send_some(s) < 0) {
      term_restore(t);
      fprintf(stderr, "nanocl: exec: nanocld closed the connection: %s\n", strerror(errno));
      return CLI_ERROR;
    }
  }
  return ret ? ret : s->code;
}

/* A container's name, id or id prefix: nothing else goes into the path. */
static bool container_key_ok(const char *key)
{
  size_t len = strlen(key);
  return nc_name_valid(key) || (len >= 4 && len <= 64 && strspn(key, "0123456789abcdef") == len);
}

static void install_signals(bool terminal)
{
  if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
    return;
  struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
  sigemptyset(&sa.sa_mask);
  sigaction(SIGWINCH, &sa, NULL);
  if (terminal) { /* leave the terminal as it was found, whatever ends us */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGQUIT, &sa, NULL);
  }
}

int cmd_container_exec(struct cli *cli, int argc, char **argv)
{
  static const struct option opts[] = {
    { "namespace", required_argument, NULL, 'n' }, { "interactive", no_argument, NULL, 'i' },
    { "tty", no_argument, NULL, 't' },             { "env", required_argument, NULL, 'e' },
    { "user", required_argument, NULL, 'u' },      { "workdir", required_argument, NULL, 'w' },
    { NULL, 0, NULL, 0 },
  };
  struct exec_opts o = { .body = json_object() };
  bool done;
  /* '+': options stop at the container; what follows is the command's. */
  int r = cli_parse(cli, "container exec", argc, argv, "+n:ite:u:w:", opts, exec_usage, exec_opt,
                    &o, &done);
  json_t *cmd = done ? NULL : cli_command(argc, argv, optind + 1);
  if (!done && !cmd)
    r = cli_usage_error("container exec", "expected CONTAINER and COMMAND"), done = true;
  struct nc_err err = NC_ERR_INIT;
  if (!done && (!container_key_ok(argv[optind]) ||
                (o.ns && nc_name_check("namespace", o.ns, &err) < 0))) {
    if (!err.msg[0])
      nc_err_set(&err, NC_ERR_INVALID, "invalid container name '%.100s'", argv[optind]);
    r = cli_fail(&err), done = true;
  }
  if (done) {
    json_decref(cmd);
    json_decref(o.body);
    return r;
  }
  json_object_set_new(o.body, "cmd", cmd);
  return cli_exec(cli, o.ns, argv[optind], o.body, o.interactive, o.tty);
}

int cli_exec(struct cli *cli, const char *ns, const char *container, json_t *body,
             bool interactive, bool tty)
{
  struct nc_err err = NC_ERR_INIT;
  int r;
  json_object_set_new(body, "tty", json_boolean(tty));
  json_object_set_new(body, "stdin", json_boolean(interactive));

  struct term t = { .size_fd = -1 };
  bool terminal = tty && isatty(STDIN_FILENO);
  if (tty)
    t.size_fd = isatty(STDIN_FILENO) ? STDIN_FILENO : isatty(STDOUT_FILENO) ? STDOUT_FILENO : -1;
  uint16_t w, h;
  if (term_size(&t, &w, &h)) {
    json_object_set_new(body, "width", json_integer(w));
    json_object_set_new(body, "height", json_integer(h));
  }
  char path[512];
  snprintf(path, sizeof path, "/v1/containers/%s/exec?namespace=%s", container,
           ns ? ns : "global");
  struct session s = { .sock = -1, .tty = tty, .stdin_open = interactive, .code = -1 };
  char *extra = NULL;
  size_t extra_len = 0;
  if (!cli->client && nc_client_new(cli->host, &cli->client, &err) < 0)
    r = -1;
  else
    r = nc_client_upgrade(cli->client, path, body, NC_EXEC_PROTOCOL, &s.sock, &extra,
                          &extra_len, &err);
  json_decref(body);
  if (r < 0)
    return cli_fail(&err);

  nc_buf_init(&s.in, NC_FRAME_MAX + NC_FRAME_HEAD + PIECE);
  nc_buf_init(&s.out, 0);
  if (extra_len)
    nc_buf_append(&s.in, extra, extra_len);
  free(extra);
  install_signals(terminal);
  if (terminal && tcgetattr(STDIN_FILENO, &t.saved) == 0) {
    struct termios raw = t.saved;
    cfmakeraw(&raw);
    t.raw = tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) == 0;
  }
  if (tty)
    queue_resize(&s, &t); /* the window may have changed since the request */
  int code = pump(&s, &t);
  term_restore(&t);
  close(s.sock);
  nc_buf_free(&s.in);
  nc_buf_free(&s.out);
  return code;
}
