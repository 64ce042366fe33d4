/* One connection to nanocld: connect with a timeout, send without SIGPIPE,
 * receive into a buffer with a timeout between bytes. The fd is non-blocking
 * once connected, so every wait goes through poll() and can be bounded. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/timeutil.h"
#include "client/http.h"

static int64_t now_ms(void)
{
  return (int64_t)(nc_time_mono_ns() / 1000000u);
}

/* poll() one fd; EINTR restarts it with the time left, so a signal neither
 * ends the wait early nor stretches it. Returns revents, 0 on timeout, -1. */
static int wait_fd(int fd, short events, int timeout_ms)
{
  int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
  for (;;) {
    struct pollfd p = { .fd = fd, .events = events };
    int left = -1;
    if (deadline >= 0) {
      int64_t l = deadline - now_ms();
      left = l < 0 ? 0 : (int)l;
    }
    int n = poll(&p, 1, left);
    if (n > 0)
      return p.revents;
    if (n == 0)
      return 0;
    if (errno != EINTR)
      return -1;
  }
}

void nc_conn_init(struct nc_conn *c, const char *peer)
{
  c->fd = -1;
  c->timeout_ms = -1;
  c->peer = peer;
  c->rpos = c->rlen = 0;
}

void nc_conn_close(struct nc_conn *c)
{
  nc_closep(&c->fd);
  c->rpos = c->rlen = 0;
}

static int unreachable(struct nc_conn *c, const char *why, int sys_errno, struct nc_err *err)
{
  /* The integration tests and users rely on this exact wording. */
  nc_err_set(err, NC_ERR_UNAVAILABLE,
             "cannot reach nanocld at %s (%s); is it running? Start it with 'make up' or "
             "'nanocld'.",
             c->peer, why);
  err->sys_errno = sys_errno;
  return -1;
}

/* Returns 0 with *out connected (non-blocking), or an errno. */
static int open_unix(const char *path, int *out)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  size_t len = strlen(path);
  if (len >= sizeof sa.sun_path)
    return ENAMETOOLONG;
  memcpy(sa.sun_path, path, len + 1);
  _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return errno;
  /* A unix connect waits only while the listener's backlog is full, and a
   * non-blocking one would fail with EAGAIN then rather than complete later.
   * So connect blocking: Linux bounds that wait by the send timeout. */
  struct timeval tv = { .tv_sec = NC_HTTP_CONNECT_TIMEOUT_MS / 1000 };
  (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int r;
  do
    r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return errno == EAGAIN ? ETIMEDOUT : errno;
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
    return errno;
  *out = steal_fd(&fd);
  return 0;
}

static int connect_one(const struct addrinfo *ai, int budget_ms, int *out)
{
  _cleanup_close_ int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
                                  ai->ai_protocol);
  if (fd < 0)
    return errno;
  if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
    /* EINTR: the connection still goes on in the background, as EINPROGRESS. */
    if (errno != EINPROGRESS && errno != EINTR)
      return errno;
    int ev = wait_fd(fd, POLLOUT, budget_ms);
    if (ev < 0)
      return errno;
    if (ev == 0)
      return ETIMEDOUT;
    int soerr = 0;
    socklen_t l = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &l) < 0)
      return errno;
    if (soerr)
      return soerr;
  }
  /* Requests are written in one go and answered at once: Nagle would only
   * hold back the last segment of a request waiting for an ACK. */
  int one = 1;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  *out = steal_fd(&fd);
  return 0;
}

static int open_tcp(struct nc_conn *c, const struct nc_host_url *url, struct nc_err *err)
{
  char port[8];
  snprintf(port, sizeof port, "%u", (unsigned)url->port);
  /* No AI_ADDRCONFIG: it hides 127.0.0.1 in a network namespace with only lo. */
  struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                            .ai_flags = AI_NUMERICSERV };
  struct addrinfo *res = NULL;
  int g = getaddrinfo(url->host, port, &hints, &res);
  if (g != 0) {
    int e = g == EAI_SYSTEM ? errno : 0;
    return unreachable(c, e ? strerror(e) : gai_strerror(g), e, err);
  }
  int left = 0;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
    left++;
  int64_t deadline = now_ms() + NC_HTTP_CONNECT_TIMEOUT_MS;
  int last = ETIMEDOUT;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next, left--) {
    int64_t rem = deadline - now_ms();
    if (rem <= 0) {
      last = ETIMEDOUT;
      break;
    }
    /* Share the time among the addresses left, so one that drops packets (a
     * dead IPv6 route listed first) cannot use it all. */
    last = connect_one(ai, (int)(rem / left), &c->fd);
    if (last == 0)
      break;
  }
  freeaddrinfo(res);
  if (last != 0)
    return unreachable(c, strerror(last), last, err);
  return 0;
}

int nc_conn_open(struct nc_conn *c, const struct nc_host_url *url, struct nc_err *err)
{
  nc_conn_close(c);
  if (url->kind == NC_HOST_TCP)
    return open_tcp(c, url, err);
  int e = open_unix(url->path, &c->fd);
  if (e != 0)
    return unreachable(c, strerror(e), e, err);
  return 0;
}

bool nc_conn_idle_ok(struct nc_conn *c)
{
  if (c->fd < 0 || c->rpos != c->rlen)
    return false;
  /* Between answers the server has nothing to say: readable means it closed
   * (idle timeout), reset, or sent bytes nobody asked for. */
  struct pollfd p = { .fd = c->fd, .events = POLLIN };
  int n;
  do
    n = poll(&p, 1, 0);
  while (n < 0 && errno == EINTR);
  return n == 0;
}

bool nc_conn_peer_gone(int sys_errno)
{
  return sys_errno == EPIPE || sys_errno == ECONNRESET || sys_errno == ENOTCONN ||
         sys_errno == ECONNABORTED || sys_errno == ESHUTDOWN;
}

static int send_error(struct nc_conn *c, int e, struct nc_err *err)
{
  nc_err_set(err, NC_ERR_UNAVAILABLE, "talking to nanocld at %s: sending the request: %s",
             c->peer, strerror(e));
  err->sys_errno = e;
  return -1;
}

static int timeout_error(struct nc_conn *c, struct nc_err *err)
{
  return nc_err_set(err, NC_ERR_TIMEOUT, "talking to nanocld at %s: nothing moved for %d s",
                    c->peer, c->timeout_ms / 1000);
}

/* The socket is full. Watch for input too: a server refusing the request
 * (413) answers and stops reading, and waiting only for room to write would
 * then wait forever. */
static int wait_writable(struct nc_conn *c, struct nc_err *err)
{
  int ev = wait_fd(c->fd, POLLOUT | POLLIN, c->timeout_ms);
  if (ev < 0)
    return send_error(c, errno, err);
  if (ev == 0)
    return timeout_error(c, err);
  if (ev & (POLLIN | POLLHUP))
    return 1;
  return 0; /* POLLOUT, or POLLERR that the next send reports */
}

int nc_conn_sendv(struct nc_conn *c, struct iovec *iov, int iovcnt, struct nc_err *err)
{
  while (iovcnt > 0) {
    if (iov->iov_len == 0) {
      iov++;
      iovcnt--;
      continue;
    }
    struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)iovcnt };
    /* MSG_NOSIGNAL: a server gone away is an error to report, not SIGPIPE. */
    ssize_t n = sendmsg(c->fd, &m, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        return send_error(c, errno, err);
      int r = wait_writable(c, err);
      if (r != 0)
        return r;
      continue;
    }
    size_t done = (size_t)n;
    while (iovcnt > 0 && done >= iov->iov_len) {
      done -= iov->iov_len;
      iov++;
      iovcnt--;
    }
    if (iovcnt > 0) {
      iov->iov_base = (char *)iov->iov_base + done;
      iov->iov_len -= done;
    }
  }
  return 0;
}

static int shrank(uint64_t len, struct nc_err *err)
{
  return nc_err_set(err, NC_ERR_INTERNAL,
                    "the file being uploaded ended %llu bytes before its announced size",
                    (unsigned long long)len);
}

/* sendfile() has no MSG_NOSIGNAL: writing to a peer that closed raises
 * SIGPIPE, which would kill the CLI. So SIGPIPE is blocked in this thread
 * while it runs, and the one our EPIPE left pending is taken back, unless one
 * was pending already (after libpq's pq_block_sigpipe). */
struct sigpipe_guard {
  sigset_t old;
  bool was_pending;
};

static void sigpipe_block(struct sigpipe_guard *g)
{
  sigset_t s, pending;
  sigemptyset(&s);
  sigaddset(&s, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &s, &g->old);
  g->was_pending = sigismember(&g->old, SIGPIPE) && sigpending(&pending) == 0 &&
                   sigismember(&pending, SIGPIPE);
}

static void sigpipe_restore(struct sigpipe_guard *g)
{
  sigset_t s, pending;
  sigemptyset(&s);
  sigaddset(&s, SIGPIPE);
  if (!g->was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
    struct timespec zero = { 0, 0 };
    (void)sigtimedwait(&s, NULL, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

static int sendfile_all(struct nc_conn *c, int fd, off_t *off, uint64_t len,
                        struct nc_err *err)
{
  _cleanup_free_ char *buf = NULL;
  while (len > 0) {
    size_t piece = len < NC_HTTP_PIECE ? (size_t)len : NC_HTTP_PIECE;
    if (!buf) {
      ssize_t n = sendfile(c->fd, fd, off, piece);
      if (n > 0) {
        len -= (uint64_t)n;
        continue;
      }
      if (n == 0)
        return shrank(len, err);
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        int r = wait_writable(c, err);
        if (r != 0)
          return r;
        continue;
      }
      if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
        return send_error(c, errno, err);
      /* This file cannot be sendfile()d (some file systems): copy it. */
      buf = malloc(NC_HTTP_PIECE);
      if (!buf)
        return nc_err_sys(err, ENOMEM, "uploading");
    }
    ssize_t n = pread(fd, buf, piece, *off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return nc_err_sys(err, errno, "reading the file to upload");
    if (n == 0)
      return shrank(len, err);
    struct iovec v = { .iov_base = buf, .iov_len = (size_t)n };
    int r = nc_conn_sendv(c, &v, 1, err);
    if (r != 0)
      return r;
    *off += n;
    len -= (uint64_t)n;
  }
  return 0;
}

int nc_conn_sendfile(struct nc_conn *c, int fd, off_t *off, uint64_t len, struct nc_err *err)
{
  struct sigpipe_guard g;
  sigpipe_block(&g);
  int r = sendfile_all(c, fd, off, len, err);
  sigpipe_restore(&g);
  return r;
}

ssize_t nc_conn_fill(struct nc_conn *c, struct nc_err *err)
{
  if (c->rpos == c->rlen) {
    c->rpos = c->rlen = 0;
  } else if (c->rlen == sizeof c->rbuf) {
    memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
    c->rlen -= c->rpos;
    c->rpos = 0;
  }
  if (c->rlen == sizeof c->rbuf)
    return nc_err_set(err, NC_ERR_INTERNAL, "client receive buffer full");
  for (;;) {
    ssize_t n = recv(c->fd, c->rbuf + c->rlen, sizeof c->rbuf - c->rlen, 0);
    if (n >= 0) {
      c->rlen += (size_t)n;
      return n;
    }
    int e = errno;
    if (e == EINTR)
      continue;
    if (e == EAGAIN || e == EWOULDBLOCK) {
      int ev = wait_fd(c->fd, POLLIN, c->timeout_ms);
      if (ev == 0)
        return timeout_error(c, err);
      if (ev > 0)
        continue;
      e = errno;
    }
    nc_err_set(err, NC_ERR_UNAVAILABLE, "talking to nanocld at %s: %s", c->peer, strerror(e));
    err->sys_errno = e;
    return -1;
  }
}
