/* The HTTP server: libmicrohttpd, one daemon per listener, one thread per
 * connection (handlers may block on the store; later on long operations such
 * as pulls and `apply`, which must not stall other clients).
 *
 * A request is collected here (body within its cap, time within its limit),
 * handed to the router, and answered; every error answer is JSON. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/api-internal.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/parse.h"
#include "base/timeutil.h"

#define CONNECTION_LIMIT 512
#define THREAD_STACK_SIZE (512 * 1024)

struct api_server {
  struct api_config cfg;
  atomic_bool stopping;
  atomic_int inflight;
  size_t n;
  struct api_listener *listeners;
  struct MHD_Daemon **daemons;
  struct api_upgrades *upgrades; /* connections that switched protocols (upgrade.c) */
};

/* Per request, from its first header to its completion. */
struct req_state {
  uint64_t start_ns;
  char method[16];
  char path[256];
  struct nc_buf body;
  unsigned status;
  bool responded;
  bool too_large; /* body passed the cap while arriving: answer 413 at its end */
  int upload_fd;  /* API_ROUTE_UPLOAD: the body goes to this file */
  char *upload_path;
  uint64_t uploaded;
  int upload_errno;
  struct upgrade_conn *upgrade; /* a 101 queued and not yet sent */
};

void api_config_defaults(struct api_config *cfg)
{
  *cfg = (struct api_config){
    .max_body = API_DEFAULT_MAX_BODY,
    .max_upload = API_DEFAULT_MAX_UPLOAD,
    .max_header = API_DEFAULT_MAX_HEADER,
    .idle_timeout_s = API_DEFAULT_IDLE_TIMEOUT_S,
    .request_timeout_s = API_DEFAULT_REQUEST_TIMEOUT_S,
    .drain_timeout_ms = API_DEFAULT_DRAIN_TIMEOUT_MS,
  };
}

static enum MHD_Result send_resp(struct MHD_Connection *conn, struct req_state *rs,
                                 struct api_resp *resp, const char *allow)
{
  struct MHD_Response *r = api_resp_build(resp);
  json_decref(resp->json);
  resp->json = NULL;
  if (!r)
    return MHD_NO;
  if (allow && allow[0])
    MHD_add_response_header(r, "Allow", allow);
  rs->status = resp->status;
  rs->responded = true;
  enum MHD_Result ret = MHD_queue_response(conn, resp->status, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *conn, struct req_state *rs,
                                  const struct nc_err *err)
{
  struct api_resp resp = { 0 };
  api_resp_error(&resp, err);
  return send_resp(conn, rs, &resp, NULL);
}

/* A switch of protocols (api_upgrade): the 101, then upgrade.c takes the connection. */
static enum MHD_Result send_upgrade(struct api_server *srv, struct MHD_Connection *conn,
                                    struct req_state *rs, const char *version,
                                    struct api_resp *resp)
{
  if (strcmp(version, MHD_HTTP_VERSION_1_1) != 0) {
    resp->upgrade.drop(resp->upgrade.ctx);
    struct nc_err err = NC_ERR_INIT;
    nc_err_set(&err, NC_ERR_BAD_REQUEST, "switching protocols needs HTTP/1.1, not %.20s",
               version);
    return send_error(conn, rs, &err);
  }
  rs->status = 101;
  rs->responded = true;
  return api_upgrade_queue(srv->upgrades, conn, &resp->upgrade, &rs->upgrade);
}

static int open_upload(struct api_server *srv, struct req_state *rs, struct nc_err *err)
{
  if (!srv->cfg.upload_dir)
    return nc_err_set(err, NC_ERR_INTERNAL, "uploads are not possible here");
  size_t n = strlen(srv->cfg.upload_dir) + 32;
  rs->upload_path = malloc(n);
  if (!rs->upload_path)
    return nc_err_set(err, NC_ERR_INTERNAL, "out of memory");
  snprintf(rs->upload_path, n, "%s/upload-XXXXXX", srv->cfg.upload_dir);
  rs->upload_fd = mkostemp(rs->upload_path, O_CLOEXEC);
  if (rs->upload_fd < 0) {
    int e = errno;
    free(rs->upload_path);
    rs->upload_path = NULL;
    return nc_err_sys(err, e, "cannot spool the upload in '%s'", srv->cfg.upload_dir);
  }
  return 0;
}

/* Appends a piece of an upload to its file; errors are kept for the answer. */
static void write_upload(struct api_server *srv, struct req_state *rs, const char *data,
                         size_t len)
{
  if (rs->upload_errno || rs->too_large)
    return;
  if (rs->uploaded + len > srv->cfg.max_upload) {
    rs->too_large = true;
    return;
  }
  while (len) {
    ssize_t w = write(rs->upload_fd, data, len);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      rs->upload_errno = errno;
      return;
    }
    data += w;
    len -= (size_t)w;
    rs->uploaded += (uint64_t)w;
  }
}

/* First call for a request: headers are in, the body (if any) is not. */
static enum MHD_Result on_headers(struct api_server *srv, struct MHD_Connection *conn,
                                  struct req_state *rs)
{
  struct nc_err err = NC_ERR_INIT;
  if (atomic_load(&srv->stopping)) {
    nc_err_set(&err, NC_ERR_UNAVAILABLE, "nanocld is shutting down");
    return send_error(conn, rs, &err);
  }
  /* An upload route spools its body to a file, with a cap of its own. */
  char work[PATH_MAX_LEN];
  const char *params[API_PARAMS_MAX];
  const struct api_route *route = api_route_find(rs->method, rs->path, work, params);
  uint64_t cap = srv->cfg.max_body;
  if (route && (route->flags & API_ROUTE_UPLOAD)) {
    cap = srv->cfg.max_upload;
    if (open_upload(srv, rs, &err) < 0)
      return send_error(conn, rs, &err);
  }
  /* Refuse an announced oversized body before reading a byte of it. */
  const char *cl =
    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  uint64_t len;
  if (cl && nc_parse_u64(cl, UINT64_MAX, &len) == 0 && len > cap) {
    nc_err_set(&err, NC_ERR_TOO_LARGE,
               "request body of %llu bytes is larger than the limit of %llu bytes",
               (unsigned long long)len, (unsigned long long)cap);
    return send_error(conn, rs, &err);
  }
  return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
  struct api_server *srv = cls;
  struct req_state *rs = *con_cls;

  if (!rs) {
    rs = calloc(1, sizeof *rs);
    if (!rs)
      return MHD_NO;
    rs->start_ns = nc_time_mono_ns();
    rs->upload_fd = -1;
    snprintf(rs->method, sizeof rs->method, "%s", method);
    snprintf(rs->path, sizeof rs->path, "%s", url);
    nc_buf_init(&rs->body, srv->cfg.max_body);
    *con_cls = rs;
    atomic_fetch_add(&srv->inflight, 1);
    return on_headers(srv, conn, rs);
  }

  if (*upload_data_size) {
    /* libmicrohttpd only lets us answer before the body or after all of it;
     * a body that never ends is cut off by dropping the connection. */
    uint64_t elapsed_s = (nc_time_mono_ns() - rs->start_ns) / 1000000000u;
    if (elapsed_s >= srv->cfg.request_timeout_s) {
      nc_log(NC_LOG_WARN, "%s %s: body still arriving after %us, closing the connection",
             rs->method, rs->path, srv->cfg.request_timeout_s);
      return MHD_NO;
    }
    if (rs->upload_path) {
      if (!rs->responded)
        write_upload(srv, rs, upload_data, *upload_data_size);
    } else if (!rs->responded && !rs->too_large &&
               nc_buf_append(&rs->body, upload_data, *upload_data_size) < 0) {
      rs->too_large = true;
      nc_buf_free(&rs->body);
    }
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (rs->responded)
    return MHD_YES;

  if (rs->too_large) {
    struct nc_err err = NC_ERR_INIT;
    nc_err_set(&err, NC_ERR_TOO_LARGE, "request body is larger than the limit of %llu bytes",
               (unsigned long long)(rs->upload_path ? srv->cfg.max_upload : srv->cfg.max_body));
    return send_error(conn, rs, &err);
  }
  if (rs->upload_errno) {
    struct nc_err err = NC_ERR_INIT;
    nc_err_sys(&err, rs->upload_errno, "cannot spool the upload");
    return send_error(conn, rs, &err);
  }

  struct api_req req = {
    .conn = conn,
    .method = method,
    .path = url,
    .body = rs->body.data,
    .body_len = rs->body.len,
    .upload_path = &rs->upload_path,
    .cfg = &srv->cfg,
  };
  if (rs->upload_path) {
    close(rs->upload_fd);
    rs->upload_fd = -1;
  }
  struct api_resp resp = { 0 };
  char allow[128];
  api_dispatch(&req, &resp, allow, sizeof allow);
  if (resp.upgrade.run)
    return send_upgrade(srv, conn, rs, version, &resp);
  if (resp.status >= 500 && resp.json)
    nc_log(NC_LOG_ERROR, "%s %s: %s", method, url,
           json_string_value(json_object_get(resp.json, "error")));
  return send_resp(conn, rs, &resp, allow);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
  struct api_server *srv = cls;
  struct req_state *rs = *con_cls;
  if (!rs)
    return;
  if (nc_log_enabled(NC_LOG_DEBUG)) {
    double ms = (double)(nc_time_mono_ns() - rs->start_ns) / 1e6;
    nc_log(NC_LOG_DEBUG, "%s %s %u %.2fms%s", rs->method, rs->path, rs->status, ms,
           toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection closed early)");
  }
  nc_buf_free(&rs->body);
  if (rs->upgrade) /* the 101 never went out */
    api_upgrade_abandon(rs->upgrade);
  if (rs->upload_fd >= 0)
    close(rs->upload_fd);
  if (rs->upload_path) { /* not taken by a handler: a failed or refused upload */
    unlink(rs->upload_path);
    free(rs->upload_path);
  }
  free(rs);
  *con_cls = NULL;
  atomic_fetch_sub(&srv->inflight, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  size_t len = strlen(msg);
  while (len && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
    msg[--len] = '\0';
  nc_log(NC_LOG_DEBUG, "http: %s", msg);
}

static struct MHD_Daemon *start_daemon(struct api_server *srv, int fd)
{
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                   MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_ALLOW_UPGRADE;
  /* The logger comes first, or libmicrohttpd logs the other options' errors itself. */
  return MHD_start_daemon(
    flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
    MHD_OPTION_LISTEN_SOCKET, fd,
    MHD_OPTION_CONNECTION_MEMORY_LIMIT, srv->cfg.max_header, MHD_OPTION_CONNECTION_TIMEOUT,
    srv->cfg.idle_timeout_s, MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
    MHD_OPTION_THREAD_STACK_SIZE, (size_t)THREAD_STACK_SIZE, MHD_OPTION_NOTIFY_COMPLETED,
    on_completed, srv, MHD_OPTION_END);
}

int api_server_start(const struct api_config *cfg, struct api_listener *listeners, size_t n,
                     struct api_server **out, struct nc_err *err)
{
  struct api_server *srv = calloc(1, sizeof *srv);
  if (srv) {
    srv->listeners = calloc(n, sizeof *srv->listeners);
    srv->daemons = calloc(n, sizeof *srv->daemons);
  }
  if (srv)
    srv->upgrades = api_upgrades_new();
  if (!srv || !srv->listeners || !srv->daemons || !srv->upgrades) {
    if (srv) {
      free(srv->listeners);
      free(srv->daemons);
      api_upgrades_free(srv->upgrades);
      free(srv);
    }
    return nc_err_set(err, NC_ERR_INTERNAL, "starting the API: out of memory");
  }
  srv->cfg = *cfg;
  srv->n = n;
  memcpy(srv->listeners, listeners, n * sizeof *listeners);
  for (size_t i = 0; i < n; i++)
    listeners[i].fd = -1; /* ours now */

  for (size_t i = 0; i < n; i++) {
    srv->daemons[i] = start_daemon(srv, srv->listeners[i].fd);
    if (!srv->daemons[i]) {
      char text[400];
      nc_host_url_format(&srv->listeners[i].url, text, sizeof text);
      nc_err_set(err, NC_ERR_INTERNAL, "cannot start the HTTP server on %s", text);
      api_server_stop(srv);
      return -1;
    }
  }
  *out = srv;
  return 0;
}

void api_server_stop(struct api_server *srv)
{
  if (!srv)
    return;
  atomic_store(&srv->stopping, true);

  /* Stop accepting: take each listening socket back and close it. */
  for (size_t i = 0; i < srv->n; i++) {
    if (srv->daemons[i]) {
      MHD_socket fd = MHD_quiesce_daemon(srv->daemons[i]);
      /* If quiescing failed, MHD_stop_daemon closes the fd; we only unlink. */
      srv->listeners[i].fd = fd >= 0 ? fd : -1;
      if (fd < 0 && srv->listeners[i].url.kind == NC_HOST_UNIX)
        unlink(srv->listeners[i].url.path);
    }
    api_listener_close(&srv->listeners[i]);
  }

  /* Let the requests in flight finish, for a bounded time. */
  uint64_t deadline = nc_time_mono_ns() + (uint64_t)srv->cfg.drain_timeout_ms * 1000000u;
  while (atomic_load(&srv->inflight) > 0 && nc_time_mono_ns() < deadline) {
    struct timespec ts = { 0, 5 * 1000000 };
    nanosleep(&ts, NULL);
  }
  int left = atomic_load(&srv->inflight);
  if (left > 0)
    nc_log(NC_LOG_WARN, "%d request(s) still in flight after %ums; closing them", left,
           srv->cfg.drain_timeout_ms);
  /* libmicrohttpd must not stop while an upgraded connection is open. */
  if (!api_upgrades_close(srv->upgrades, srv->cfg.drain_timeout_ms))
    return; /* their threads still use it all: left to the process's exit */

  for (size_t i = 0; i < srv->n; i++)
    if (srv->daemons[i])
      MHD_stop_daemon(srv->daemons[i]);
  api_upgrades_free(srv->upgrades);
  free(srv->daemons);
  free(srv->listeners);
  free(srv);
}
