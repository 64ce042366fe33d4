/* Binding the sockets of --host before anything else is touched. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "api/api.h"
#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"

#define LISTEN_BACKLOG 128

/* Is somebody accepting connections on the unix socket at `sa`? */
static bool unix_socket_alive(const struct sockaddr_un *sa)
{
  _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  return connect(fd, (const struct sockaddr *)sa, sizeof *sa) == 0;
}

static int listen_unix(const struct nc_host_url *url, const char *text, struct nc_err *err)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  memcpy(sa.sun_path, url->path, sizeof url->path);

  struct stat st;
  if (lstat(url->path, &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return nc_err_set(err, NC_ERR_CONFLICT,
                        "%s: '%s' exists and is not a socket; remove it or choose another --host",
                        text, url->path);
    if (unix_socket_alive(&sa))
      return nc_err_set(err, NC_ERR_CONFLICT,
                        "%s is in use: another process (another nanocld?) listens on it", text);
    /* Nobody listens: a leftover of a daemon that did not stop cleanly. */
    if (unlink(url->path) < 0 && errno != ENOENT)
      return nc_err_sys(err, errno, "cannot remove stale socket '%s'", url->path);
    nc_log(NC_LOG_INFO, "removed stale socket %s", url->path);
  }

  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", url->path);
  if (nc_mkdir_p(dirname(dir), 0755, err) < 0)
    return -1;

  _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return nc_err_sys(err, errno, "cannot create a socket for %s", text);
  /* Owner and group only, like the Docker socket: whoever can connect is root
   * in all but name. The umask makes the mode right from the first instant. */
  mode_t old = umask(0117);
  int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
  int e = errno;
  umask(old);
  if (r < 0) {
    if (e == EADDRINUSE)
      return nc_err_set(err, NC_ERR_CONFLICT, "%s is in use by another process", text);
    return nc_err_sys(err, e, "cannot bind %s", text);
  }
  if (listen(fd, LISTEN_BACKLOG) < 0) {
    e = errno;
    unlink(url->path);
    return nc_err_sys(err, e, "cannot listen on %s", text);
  }
  return steal_fd(&fd);
}

static int listen_tcp(const struct nc_host_url *url, const char *text, struct nc_err *err)
{
  char port[8];
  snprintf(port, sizeof port, "%u", url->port);
  struct addrinfo hints = { .ai_family = AF_UNSPEC,
                            .ai_socktype = SOCK_STREAM,
                            .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
  struct addrinfo *res;
  int gai = getaddrinfo(url->host, port, &hints, &res);
  if (gai != 0)
    return nc_err_set(err, NC_ERR_INVALID, "cannot resolve %s: %s", text, gai_strerror(gai));

  int fd = -1, e = 0;
  for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      e = errno;
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
      e = errno;
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  if (fd < 0) {
    if (e == EADDRINUSE)
      return nc_err_set(err, NC_ERR_CONFLICT, "%s is in use by another process", text);
    return nc_err_sys(err, e, "cannot listen on %s", text);
  }
  return fd;
}

int api_listener_open(const struct nc_host_url *url, struct api_listener *out,
                      struct nc_err *err)
{
  char text[400];
  nc_host_url_format(url, text, sizeof text);
  int fd = url->kind == NC_HOST_UNIX ? listen_unix(url, text, err) : listen_tcp(url, text, err);
  if (fd < 0)
    return -1;
  out->fd = fd;
  out->url = *url;
  return 0;
}

void api_listener_close(struct api_listener *l)
{
  if (l->fd < 0)
    return;
  close(l->fd);
  l->fd = -1;
  if (l->url.kind == NC_HOST_UNIX)
    unlink(l->url.path);
}
