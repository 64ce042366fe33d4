/* The exec connection after its 101: frames from the client to the process's stdin
 * (and tty size), the process's output to the client, then its exit code. One thread
 * per exec, every fd non-blocking, one poll() loop; the client's slowness holds back the
 * reading of the output (never more than OUT_HIGH waits), the process's slowness the
 * reading of the client. The client gone (EOF, error, a malformed frame, or the server
 * shutting the socket down): the process is killed. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/api-internal.h"
#include "base/buf.h"
#include "base/frame.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "runtime/exec.h"

#define PIECE (32 * 1024)
#define OUT_HIGH (256 * 1024)  /* output waiting for the client: stop reading the process */
#define DRAIN_IDLE_MS 200      /* after the exit: output still coming from its children */
#define DRAIN_MAX_MS 2000
#define FLUSH_TIMEOUT_MS 30000 /* the last frames to a client that does not read */

struct bridge {
  int sock;
  struct exec_proc *p;
  struct nc_buf in;   /* from the client, not yet taken apart */
  struct nc_buf out;  /* frames for the client; out_pos of it sent */
  size_t out_pos;
  struct nc_buf pend; /* stdin not yet written; pend_pos of it written */
  size_t pend_pos;
  bool stdin_eof;     /* close stdin once pend is written */
  bool gone;          /* the client went away, or broke the protocol */
  bool exited;
  int code;
  uint64_t exit_ns, last_out_ns;
};

static uint64_t ms_since(uint64_t t)
{
  return (nc_time_mono_ns() - t) / 1000000u;
}

static void add_frame(struct nc_buf *out, unsigned type, const void *data, size_t len)
{
  unsigned char h[NC_FRAME_HEAD];
  nc_frame_head(h, type, (uint32_t)len);
  if (nc_buf_append(out, h, sizeof h) < 0 || nc_buf_append(out, data, len) < 0)
    nc_log(NC_LOG_WARN, "exec: out of memory for a frame of %zu bytes", len);
}

static void add_exit(struct nc_buf *out, int code)
{
  char text[16];
  int n = snprintf(text, sizeof text, "%d", code);
  add_frame(out, NC_FRAME_EXIT, text, (size_t)n);
}

/* Sends what it can of b->out; false when the client is gone. */
static bool send_some(struct bridge *b)
{
  while (b->out_pos < b->out.len) {
    ssize_t n = send(b->sock, b->out.data + b->out_pos, b->out.len - b->out_pos, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return true;
    if (n < 0)
      return false;
    b->out_pos += (size_t)n;
  }
  nc_buf_reset(&b->out);
  b->out_pos = 0;
  return true;
}

/* The last frames: sent within FLUSH_TIMEOUT_MS, or dropped with the client. */
static void flush_all(struct bridge *b)
{
  uint64_t start = nc_time_mono_ns();
  while (b->out_pos < b->out.len && send_some(b) && b->out_pos < b->out.len) {
    uint64_t spent = ms_since(start);
    if (spent >= FLUSH_TIMEOUT_MS)
      return;
    struct pollfd pf = { .fd = b->sock, .events = POLLOUT };
    if (poll(&pf, 1, (int)(FLUSH_TIMEOUT_MS - spent)) < 0 && errno != EINTR)
      return;
  }
}

/* Where stdin frames go: -1 when the exec has no stdin (they are dropped). */
static int stdin_fd(const struct bridge *b)
{
  if (!b->p->open_stdin)
    return -1;
  return b->p->tty ? b->p->stdout_fd : b->p->stdin_fd;
}

static void close_stdin(struct bridge *b)
{
  if (!b->p->tty && b->p->stdin_fd >= 0) {
    close(b->p->stdin_fd);
    b->p->stdin_fd = -1;
  }
  nc_buf_reset(&b->pend);
  b->pend_pos = 0;
}

static void write_stdin(struct bridge *b)
{
  int fd = stdin_fd(b);
  while (fd >= 0 && b->pend_pos < b->pend.len) {
    ssize_t n = write(fd, b->pend.data + b->pend_pos, b->pend.len - b->pend_pos);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return;
    if (n < 0) { /* the process closed its stdin, or is gone: nobody reads any more */
      close_stdin(b);
      return;
    }
    b->pend_pos += (size_t)n;
  }
  nc_buf_reset(&b->pend);
  b->pend_pos = 0;
  if (b->stdin_eof)
    close_stdin(b);
}

static bool protocol_error(struct bridge *b, const char *what)
{
  nc_log(NC_LOG_WARN, "exec (pid %d): %s; closing the connection", (int)b->p->pid, what);
  b->gone = true;
  return false;
}

/* One frame from the client; false when there is no complete frame (or an error). */
static bool take_frame(struct bridge *b, size_t *pos)
{
  if (b->in.len - *pos < NC_FRAME_HEAD)
    return false;
  const unsigned char *h = (const unsigned char *)b->in.data + *pos;
  uint32_t len = nc_frame_len(h);
  if (len > NC_FRAME_MAX)
    return protocol_error(b, "a frame larger than 1 MiB");
  if (b->in.len - *pos - NC_FRAME_HEAD < len)
    return false;
  const char *data = (const char *)h + NC_FRAME_HEAD;
  *pos += NC_FRAME_HEAD + len;
  switch (h[0]) {
  case NC_FRAME_STDIN:
    if (stdin_fd(b) >= 0 && !b->stdin_eof && nc_buf_append(&b->pend, data, len) < 0)
      return protocol_error(b, "out of memory for stdin");
    break;
  case NC_FRAME_STDIN_CLOSE:
    /* A terminal has no end of input: it gets what ^D gives at a line's start. */
    if (b->p->tty && stdin_fd(b) >= 0 && !b->stdin_eof)
      nc_buf_append(&b->pend, "\004", 1);
    b->stdin_eof = true;
    break;
  case NC_FRAME_RESIZE: {
    if (len != 4)
      return protocol_error(b, "a resize frame without its 4 bytes");
    struct nc_err err = NC_ERR_INIT;
    const unsigned char *d = (const unsigned char *)data;
    if (container_exec_resize(b->p, nc_be16(d), nc_be16(d + 2), &err) < 0)
      nc_log(NC_LOG_DEBUG, "exec: %s", err.msg);
    break;
  }
  default:
    return protocol_error(b, "a frame of an unknown type");
  }
  return true;
}

/* Takes the complete frames apart while stdin can take more. */
static void take_frames(struct bridge *b)
{
  size_t pos = 0;
  while (!b->gone && b->pend.len == 0 && take_frame(b, &pos))
    write_stdin(b);
  if (pos) {
    memmove(b->in.data, b->in.data + pos, b->in.len - pos);
    b->in.len -= pos;
  }
  if (b->pend.len == 0 && b->stdin_eof)
    close_stdin(b);
}

static void read_client(struct bridge *b)
{
  char buf[PIECE];
  ssize_t n = recv(b->sock, buf, sizeof buf, 0);
  if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
    return;
  if (n <= 0 || nc_buf_append(&b->in, buf, (size_t)n) < 0) {
    b->gone = true;
    return;
  }
  take_frames(b);
}

/* Output of the process → a frame; EOF (EIO on a pty whose slave closed) closes it. */
static void read_output(struct bridge *b, int *fd, unsigned type)
{
  char buf[PIECE];
  ssize_t n = read(*fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
    return;
  if (n <= 0) {
    close(*fd);
    *fd = -1;
    return;
  }
  add_frame(&b->out, type, buf, (size_t)n);
  b->last_out_ns = nc_time_mono_ns();
}

static bool done(struct bridge *b)
{
  if (b->gone || !b->exited)
    return b->gone;
  bool open = b->p->stdout_fd >= 0 || b->p->stderr_fd >= 0;
  return !open || ms_since(b->last_out_ns) >= DRAIN_IDLE_MS ||
         ms_since(b->exit_ns) >= DRAIN_MAX_MS;
}

static void step(struct bridge *b)
{
  struct pollfd pf[5];
  int nfd = 0;
  bool room = b->out.len - b->out_pos < OUT_HIGH;
  pf[nfd++] = (struct pollfd){ .fd = b->sock,
                               .events = (short)(POLLRDHUP | (b->pend.len ? 0 : POLLIN) |
                                                 (b->out_pos < b->out.len ? POLLOUT : 0)) };
  pf[nfd++] = (struct pollfd){ .fd = room ? b->p->stdout_fd : -1, .events = POLLIN };
  if (b->p->tty && b->pend.len)
    pf[nfd - 1] = (struct pollfd){ .fd = b->p->stdout_fd,
                                   .events = (short)((room ? POLLIN : 0) | POLLOUT) };
  pf[nfd++] = (struct pollfd){ .fd = room ? b->p->stderr_fd : -1, .events = POLLIN };
  pf[nfd++] = (struct pollfd){ .fd = !b->p->tty && b->pend.len ? b->p->stdin_fd : -1,
                               .events = POLLOUT };
  pf[nfd++] = (struct pollfd){ .fd = b->p->status_fd, .events = POLLIN };
  int timeout = b->exited ? DRAIN_IDLE_MS / 4 : -1;
  if (poll(pf, (nfds_t)nfd, timeout) < 0)
    return; /* EINTR */

  if (pf[0].revents & (POLLERR | POLLHUP | POLLRDHUP) && !(pf[0].revents & POLLIN)) {
    b->gone = true;
    return;
  }
  if (pf[0].revents & POLLIN)
    read_client(b);
  if (pf[0].revents & POLLOUT && !send_some(b))
    b->gone = true;
  if (pf[1].revents & POLLOUT || pf[3].revents)
    write_stdin(b);
  if (b->pend.len == 0)
    take_frames(b); /* frames held back while stdin was full */
  if (pf[1].revents & (POLLIN | POLLHUP | POLLERR) && b->p->stdout_fd >= 0)
    read_output(b, &b->p->stdout_fd, NC_FRAME_STDOUT);
  if (pf[2].revents && b->p->stderr_fd >= 0)
    read_output(b, &b->p->stderr_fd, NC_FRAME_STDERR);
  if (pf[4].revents && !b->exited) {
    b->code = container_exec_wait(b->p);
    b->exited = true;
    b->exit_ns = b->last_out_ns = nc_time_mono_ns();
  }
  if (b->out_pos < b->out.len && !send_some(b))
    b->gone = true;
}

void api_exec_bridge(int sock, struct exec_proc *p, const char *extra, size_t extra_len)
{
  struct bridge b = { .sock = sock, .p = p };
  nc_buf_init(&b.in, NC_FRAME_MAX + NC_FRAME_HEAD + PIECE);
  nc_buf_init(&b.out, 0);
  nc_buf_init(&b.pend, 0);
  fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) | O_NONBLOCK);
  int one = 1; /* keystrokes and echoes go at once (fails harmlessly on a unix socket) */
  (void)setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (extra_len && nc_buf_append(&b.in, extra, extra_len) < 0)
    b.gone = true;
  take_frames(&b);
  while (!done(&b))
    step(&b);
  if (b.gone) {
    if (!b.exited) {
      container_exec_kill(p);
      b.code = container_exec_wait(p);
    }
    nc_log(NC_LOG_DEBUG, "exec (pid %d): the client went away; exit code %d", (int)p->pid,
           b.code);
  } else {
    add_exit(&b.out, b.code);
    flush_all(&b);
  }
  container_exec_close(p);
  nc_buf_free(&b.in);
  nc_buf_free(&b.out);
  nc_buf_free(&b.pend);
}

void api_exec_fail(int sock, const char *msg, int code)
{
  struct exec_proc none = { .helper = -1, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1,
                            .status_fd = -1 };
  struct bridge b = { .sock = sock, .p = &none };
  nc_buf_init(&b.out, 0);
  fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) | O_NONBLOCK);
  add_frame(&b.out, NC_FRAME_ERROR, msg, strlen(msg));
  add_exit(&b.out, code);
  flush_all(&b);
  nc_buf_free(&b.out);
}
