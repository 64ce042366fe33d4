/* What only api/ sees: the request and response of a handler, the route table. */
#pragma once

#include <jansson.h>
#include <microhttpd.h>

#include "api/api.h"

#define API_PARAMS_MAX 4

struct api_req {
  struct MHD_Connection *conn;
  const char *method;
  const char *path;
  /* Values of the {placeholders} of the matched pattern, in order. */
  const char *params[API_PARAMS_MAX];
  const char *body; /* NUL-terminated; NULL when the request had none */
  size_t body_len;
  const struct api_config *cfg;
};

struct api_resp {
  unsigned status;
  json_t *json;     /* owned; sent as application/json */
  const char *text; /* static; sent as text/plain when json is NULL */
};

/* A handler fills `resp` and returns 0, or returns -1 with `err` set; the
 * router turns the error into its status and JSON body. */
typedef int (*api_handler_fn)(struct api_req *req, struct api_resp *resp, struct nc_err *err);

struct api_route {
  const char *method;
  const char *pattern; /* "/v1/namespaces/{name}" */
  api_handler_fn handler;
};

extern const struct api_route api_routes[];
extern const size_t api_routes_count;

/* Finds the route for method + path and runs it; fills `resp` in every case
 * (404, 405 with `allow` filled, or the handler's answer). */
void api_dispatch(struct api_req *req, struct api_resp *resp, char *allow, size_t allow_size);

/* response.c */
void api_resp_json(struct api_resp *resp, unsigned status, json_t *json);
void api_resp_error(struct api_resp *resp, const struct nc_err *err);
struct MHD_Response *api_resp_build(struct api_resp *resp);
/* The body a handler expects, parsed: a JSON object within the caps. */
int api_req_json_object(struct api_req *req, json_t **out, struct nc_err *err);

/* system.c */
int api_ping(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_version(struct api_req *req, struct api_resp *resp, struct nc_err *err);

/* namespaces.c */
int api_namespace_list(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_namespace_create(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_namespace_inspect(struct api_req *req, struct api_resp *resp, struct nc_err *err);
int api_namespace_delete(struct api_req *req, struct api_resp *resp, struct nc_err *err);
