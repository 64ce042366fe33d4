#include "base/hosturl.h"

#include <stdio.h>
#include <string.h>

#include "base/parse.h"

static int parse_tcp(const char *url, const char *rest, struct nc_host_url *out,
                     struct nc_err *err)
{
  const char *colon;
  size_t hostlen;

  if (*rest == '[') {
    const char *close = strchr(rest, ']');
    if (!close || close[1] != ':')
      return nc_err_set(err, NC_ERR_INVALID, "invalid host '%s': expected tcp://[IPV6]:PORT",
                        url);
    rest++;
    hostlen = (size_t)(close - rest);
    colon = close + 1;
  } else {
    colon = strrchr(rest, ':');
    if (!colon)
      return nc_err_set(err, NC_ERR_INVALID, "invalid host '%s': expected tcp://HOST:PORT", url);
    hostlen = (size_t)(colon - rest);
    if (memchr(rest, ':', hostlen))
      return nc_err_set(err, NC_ERR_INVALID,
                        "invalid host '%s': put an IPv6 address in brackets, tcp://[::1]:PORT",
                        url);
  }
  if (hostlen == 0 || hostlen >= sizeof out->host)
    return nc_err_set(err, NC_ERR_INVALID, "invalid host '%s': missing or too long host name",
                      url);
  for (size_t i = 0; i < hostlen; i++) {
    char c = rest[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '.' || c == '-' || c == ':' || c == '%'))
      return nc_err_set(err, NC_ERR_INVALID, "invalid host '%s': bad character in host name",
                        url);
  }
  uint64_t port;
  if (nc_parse_u64(colon + 1, 65535, &port) < 0 || port == 0)
    return nc_err_set(err, NC_ERR_INVALID, "invalid host '%s': port must be 1-65535", url);

  out->kind = NC_HOST_TCP;
  memcpy(out->host, rest, hostlen);
  out->host[hostlen] = '\0';
  out->port = (uint16_t)port;
  return 0;
}

int nc_host_url_parse(const char *url, struct nc_host_url *out, struct nc_err *err)
{
  memset(out, 0, sizeof *out);
  if (strncmp(url, "unix://", 7) == 0) {
    const char *path = url + 7;
    if (path[0] != '/')
      return nc_err_set(err, NC_ERR_INVALID,
                        "invalid host '%s': a unix socket path must be absolute "
                        "(unix:///run/nanocl/nanocl.sock)",
                        url);
    if (strlen(path) >= sizeof out->path)
      return nc_err_set(err, NC_ERR_INVALID,
                        "invalid host '%s': socket path longer than %zu bytes", url,
                        sizeof out->path - 1);
    out->kind = NC_HOST_UNIX;
    strncpy(out->path, path, sizeof out->path - 1);
    return 0;
  }
  if (strncmp(url, "tcp://", 6) == 0)
    return parse_tcp(url, url + 6, out, err);
  return nc_err_set(err, NC_ERR_INVALID,
                    "invalid host '%s': expected unix:///PATH or tcp://HOST:PORT", url);
}

void nc_host_url_format(const struct nc_host_url *h, char *out, unsigned size)
{
  if (h->kind == NC_HOST_UNIX)
    snprintf(out, size, "unix://%s", h->path);
  else if (strchr(h->host, ':'))
    snprintf(out, size, "tcp://[%s]:%u", h->host, h->port);
  else
    snprintf(out, size, "tcp://%s:%u", h->host, h->port);
}
