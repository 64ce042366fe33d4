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

struct api_resp {
  unsigned status;
  json_t *json;     /* owned; sent as application/json */
  const char *text; /* static; sent as text/plain when json is NULL */
  struct api_stream *stream; /* owned; sent as application/x-ndjson as it is written */
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

/* response.c */
void api_resp_json(struct api_resp *resp, unsigned status, json_t *json);
void api_resp_error(struct api_resp *resp, const struct nc_err *err);
struct MHD_Response *api_resp_build(struct api_resp *resp);
/* The body a handler expects, parsed: a JSON object within the caps. */
int api_req_json_object(struct api_req *req, json_t **out, struct nc_err *err);

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

/* namespaces.c */
int api_namespace_list(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_namespace_create(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_namespace_inspect(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_namespace_delete(struct api_req *req, struct api_resp *resp, struct nc_err *err);
