/* The HTTP API of nanocld: listening sockets and the server behind them.
 *
 *   api_listener_open()  binds one --host (before the store is opened, so a
 *                        socket in use is reported before anything is touched)
 *   api_server_start()   serves the routes on the listeners (one thread per
 *                        connection, so a slow handler never blocks another)
 *   api_server_stop()    stops accepting, lets requests in flight finish
 *                        (bounded), closes and removes the sockets
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/hosturl.h"
#include "store/store.h"

#define API_DEFAULT_MAX_BODY (1024 * 1024)
#define API_DEFAULT_MAX_UPLOAD (16ULL << 30)
#define API_DEFAULT_MAX_HEADER (32 * 1024)
#define API_DEFAULT_IDLE_TIMEOUT_S 30
#define API_DEFAULT_REQUEST_TIMEOUT_S 60
#define API_DEFAULT_DRAIN_TIMEOUT_MS 10000

struct api_listener {
  int fd;
  struct nc_host_url url;
};

struct image_service;
struct container_service;
struct net_service;
struct cargo_service;

struct api_config {
  struct store *store;
  struct image_service *images;
  struct container_service *containers;
  struct net_service *net;
  struct cargo_service *cargoes;
  size_t max_body;         /* bytes; larger bodies → 413 */
  uint64_t max_upload;     /* bytes of an upload (image import) */
  const char *upload_dir;  /* where uploads are spooled; NULL: uploads refused */
  size_t max_header;       /* bytes of request line + headers */
  unsigned idle_timeout_s; /* a connection silent this long is closed */
  unsigned request_timeout_s; /* a body still arriving after this long → 408 */
  unsigned drain_timeout_ms;  /* how long stop waits for requests in flight */
};

void api_config_defaults(struct api_config *cfg);

/* Binds `url`. A unix socket path where another process listens is an error
 * naming it; a stale socket file (nobody listening) is replaced; a path that
 * exists and is not a socket is refused. */
int api_listener_open(const struct nc_host_url *url, struct api_listener *out,
                      struct nc_err *err);
/* Closes the fd and removes a unix socket's file. */
void api_listener_close(struct api_listener *l);

struct api_server;

/* Takes ownership of the listeners (they are closed by api_server_stop). */
int api_server_start(const struct api_config *cfg, struct api_listener *listeners, size_t n,
                     struct api_server **out, struct nc_err *err);
void api_server_stop(struct api_server *srv);
