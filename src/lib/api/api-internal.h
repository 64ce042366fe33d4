/* What only api/ sees: the request and response of a handler, the route table. */
#pragma once

#include <jansson.h>
#include <microhttpd.h>

#include "api/api.h"

#define API_PARAMS_MAX 4
#define PATH_MAX_LEN 1024

struct api_stream;

struct api_req {
  struct MHD_Connection *conn;
  const char *method;
  const char *path;
  /* Values of the {placeholders} of the matched pattern, in order. */
  const char *params[API_PARAMS_MAX];
  const char *body; /* NUL-terminated; NULL when the request had none */
  size_t body_len;
  /* API_ROUTE_UPLOAD: the spooled body. A handler that keeps the file takes
   * the path (sets *upload_path to NULL); otherwise it is removed. */
  char **upload_path;
  const struct api_config *cfg;
};

/* A switch of protocols: the answer is `101 Switching Protocols` with `Upgrade:
 * protocol`, then `run` owns the connection in a thread of its own: `fd` is the
 * connected socket (do not close it), `extra` the bytes the client sent past the
 * request (valid during the call). The server closes the connection when `run`
 * returns, ends it early on shutdown (shutdown(2) of the socket: `run` sees EOF),
 * and calls `drop` exactly once, after `run` or when the switch did not happen. */
struct api_upgrade {
  const char *protocol; /* static */
  void (*run)(void *ctx, int fd, const char *extra, size_t extra_len);
  void (*drop)(void *ctx);
  void *ctx;
};

struct api_resp {
  unsigned status;
  json_t *json;     /* owned; sent as application/json */
  const char *text; /* static; sent as text/plain when json is NULL */
  struct api_stream *stream; /* owned; sent as application/x-ndjson as it is written */
  struct api_upgrade upgrade; /* run set: switch protocols (status 101) */
};

/* A handler fills `resp` and returns 0, or returns -1 with `err` set; the
 * router turns the error into its status and JSON body. */
typedef int (*api_handler_fn)(struct api_req *req, struct api_resp *resp, struct nc_err *err);

enum api_route_flags {
  API_ROUTE_UPLOAD = 1, /* the body is an upload spooled to a file (req->upload_fd) */
};

struct api_route {
  const char *method;
  const char *pattern; /* "/v1/namespaces/{name}", "/v1/images/{ref*}/history" */
  api_handler_fn handler;
  unsigned flags;
};

extern const struct api_route api_routes[];
extern const size_t api_routes_count;

/* Finds the route for method + path and runs it; fills `resp` in every case
 * (404, 405 with `allow` filled, or the handler's answer). */
void api_dispatch(struct api_req *req, struct api_resp *resp, char *allow, size_t allow_size);
/* The route for method + path, its params pointing into `work` (PATH_MAX_LEN bytes). */
const struct api_route *api_route_find(const char *method, const char *path, char *work,
                                       const char *params[API_PARAMS_MAX]);

/* upgrade.c: connections that switched protocols (api_upgrade), from the 101 on. */
struct api_upgrades;
struct upgrade_conn;
struct api_upgrades *api_upgrades_new(void);
/* Queues the 101 for `up` on `conn`; *pending is set until the switch happens (then
 * NULL), and a request that ends with it still set hands it to api_upgrade_abandon.
 * On failure up->drop is called and MHD_NO returned. */
enum MHD_Result api_upgrade_queue(struct api_upgrades *ups, struct MHD_Connection *conn,
                                  const struct api_upgrade *up, struct upgrade_conn **pending);
void api_upgrade_abandon(struct upgrade_conn *u);
/* Ends every upgraded connection (shutdown(2) of its socket: its `run` sees EOF) and
 * waits up to about `timeout_ms` until libmicrohttpd was told of all their closes.
 * False when some did not end (then nothing of the server may be freed). */
bool api_upgrades_close(struct api_upgrades *ups, unsigned timeout_ms);
void api_upgrades_free(struct api_upgrades *ups);

/* response.c */
void api_resp_json(struct api_resp *resp, unsigned status, json_t *json);
void api_resp_error(struct api_resp *resp, const struct nc_err *err);
struct MHD_Response *api_resp_build(struct api_resp *resp);
/* The body a handler expects, parsed: a JSON object within the caps. */
int api_req_json_object(struct api_req *req, json_t **out, struct nc_err *err);
/* ?namespace=, default global, checked by the one name rule. */
int api_query_ns(struct api_req *req, const char **ns, struct nc_err *err);
/* ?NAME=true|1|false|0 (absent or empty: false); anything else is a 400. */
int api_query_flag(struct api_req *req, const char *name, bool *out, struct nc_err *err);

/* system.c */
int api_ping(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_version(struct api_req *req, struct api_resp *resp, struct nc_err *err);

/* images.c */
int api_image_pull(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_image_import(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_image_list(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_image_inspect(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_image_history(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_image_tag(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_image_delete(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_system_df(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_login(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_logout(struct api_req *req, struct api_resp *resp, struct nc_err *err);

/* containers.c */
int api_container_list(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_container_create(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_container_inspect(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_container_delete(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_container_start(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_container_stop(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_container_restart(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_container_kill(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_container_wait(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_container_logs(struct api_req *req, struct api_resp *resp, struct nc_err *err);

/* exec.c */
int api_container_exec(struct api_req *req, struct api_resp *resp, struct nc_err *err);
/* exec-bridge.c: the connection after the 101 (non-blocking from then on) */
struct exec_proc;
/* Bridges the process and the client until the process has ended (then the exit frame
 * is sent) or the client is gone (then the process is killed). Closes p's fds. */
void api_exec_bridge(int sock, struct exec_proc *p, const char *extra, size_t extra_len);
/* An error frame with `msg`, then the exit frame with `code`. */
void api_exec_fail(int sock, const char *msg, int code);

/* clusters.c: clusters, their variables and networks */
int api_cluster_list(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_cluster_create(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_cluster_inspect(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_cluster_delete(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_cluster_start(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_variable_list(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_variable_create(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_variable_inspect(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_variable_delete(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_network_list(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_network_create(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_network_inspect(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_network_delete(struct api_req *req, struct api_resp *resp, struct nc_err *err);

/* cargoes.c */
int api_cargo_list(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_cargo_create(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_cargo_inspect(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_cargo_delete(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_cargo_patch(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_cargo_scale(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_cargo_revert(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_cargo_history(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_cluster_join(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_cargo_action(struct api_req *req, struct api_resp *resp, struct nc_err *err);

/* namespaces.c */
int api_namespace_list(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_namespace_create(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_namespace_inspect(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_namespace_delete(struct api_req *req, struct api_resp *resp, struct nc_err *err);
