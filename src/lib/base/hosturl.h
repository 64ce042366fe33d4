/* The addresses nanocld listens on and nanocl talks to:
 *   unix:///absolute/path.sock      a unix stream socket
 *   tcp://HOST:PORT                 IPv4 address, [IPv6] address or host name */
#pragma once

#include <stdint.h>

#include "base/err.h"

#define NC_DEFAULT_HOST "unix:///run/nanocl/nanocl.sock"

enum nc_host_kind {
  NC_HOST_UNIX,
  NC_HOST_TCP,
};

struct nc_host_url {
  enum nc_host_kind kind;
  char path[108]; /* unix: sizeof(sun_path) */
  char host[256]; /* tcp: without brackets */
  uint16_t port;
};

/* Errors are NC_ERR_INVALID and quote the URL. */
int nc_host_url_parse(const char *url, struct nc_host_url *out, struct nc_err *err);
/* Back to text ("unix:///x.sock", "tcp://[::1]:8585"). */
void nc_host_url_format(const struct nc_host_url *h, char *out, unsigned size);
