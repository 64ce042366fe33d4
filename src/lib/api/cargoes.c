/* /v1/cargoes and POST /v1/clusters/{name}/join: the cargo service (cargo/cargo.h)
 * writes the desired state, its loop does the rest. */
#include <stdio.h>
#include <string.h>

#include "api/api-internal.h"
#include "base/json.h"
#include "base/parse.h"
#include "cargo/cargo.h"
#include "model/name.h"

/* ?wait=true waits at most this: a pull of a big image, or a rollout of many instances
 * (each proven for a second), may be part of it. */
#define CARGO_WAIT_MS 300000

int api_cargo_list(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  const char *ns;
  json_t *out;
  if (api_query_ns(req, &ns, err) < 0 || cargo_list(req->cfg->cargoes, ns, &out, err) < 0)
    return -1;
  api_resp_json(resp, 200, out);
  return 0;
}

int api_cargo_create(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  const char *ns;
  json_t *body, *out = NULL;
  if (api_query_ns(req, &ns, err) < 0 || api_req_json_object(req, &body, err) < 0)
    return -1;
  int r = cargo_create(req->cfg->cargoes, ns, body, &out, err);
  json_decref(body);
  if (r < 0)
    return -1;
  api_resp_json(resp, 201, out);
  return 0;
}

int api_cargo_inspect(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  const char *ns;
  json_t *out;
  if (api_query_ns(req, &ns, err) < 0 || nc_name_check("cargo", req->params[0], err) < 0 ||
      cargo_inspect(req->cfg->cargoes, ns, req->params[0], &out, err) < 0)
    return -1;
  api_resp_json(resp, 200, out);
  return 0;
}

int api_cargo_delete(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  const char *ns;
  if (api_query_ns(req, &ns, err) < 0 || nc_name_check("cargo", req->params[0], err) < 0 ||
      cargo_remove(req->cfg->cargoes, ns, req->params[0], err) < 0)
    return -1;
  resp->status = 204;
  return 0;
}

/* ?wait=true: the answer waits until the pass of the loop that makes the change (its
 * `ticket`) has ended, then is the cargo as it is then: instances started, rolled out,
 * or the rollout saying why not. Nothing to poll. */
static int answer(struct api_req *req, struct api_resp *resp, const char *ns, const char *cargo,
                  bool wait, uint64_t ticket, json_t *out, struct nc_err *err)
{
  if (wait) {
    json_decref(out);
    out = NULL;
    if (!cargo_wait_ticket(req->cfg->cargoes, ticket, CARGO_WAIT_MS))
      return atomic_load(&req->cfg->cargoes->stopping)
               ? nc_err_set(err, NC_ERR_UNAVAILABLE, "nanocld is shutting down; see nanocl "
                            "cargo inspect %s once it is back", cargo)
               : nc_err_set(err, NC_ERR_UNAVAILABLE, "cargo '%s' is still converging after "
                            "%d s; see nanocl cargo inspect %s", cargo, CARGO_WAIT_MS / 1000,
                            cargo);
    if (cargo_inspect(req->cfg->cargoes, ns, cargo, &out, err) < 0)
      return -1;
  }
  if (out)
    api_resp_json(resp, 200, out);
  else
    resp->status = 204;
  return 0;
}

int api_cargo_patch(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  const char *ns;
  json_t *body, *out = NULL;
  bool wait;
  uint64_t ticket = 0;
  if (api_query_ns(req, &ns, err) < 0 || nc_name_check("cargo", req->params[0], err) < 0 ||
      api_query_flag(req, "wait", &wait, err) < 0 || api_req_json_object(req, &body, err) < 0)
    return -1;
  int r = cargo_patch(req->cfg->cargoes, ns, req->params[0], body, &ticket, &out, err);
  json_decref(body);
  if (r < 0)
    return -1;
  return answer(req, resp, ns, req->params[0], wait, ticket, out, err);
}

/* {"<key>": integer} of a small body. */
static int body_int(struct api_req *req, const char *key, int64_t max, int64_t *out,
                    struct nc_err *err)
{
  const char *fields[] = { key, NULL };
  json_t *body;
  if (api_req_json_object(req, &body, err) < 0)
    return -1;
  json_t *v = json_object_get(body, key);
  int r = nc_json_check_fields(body, fields, err);
  if (r == 0 && (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max))
    r = nc_err_set(err, NC_ERR_INVALID, "%s: must be a number 0-%lld", key, (long long)max);
  if (r == 0)
    *out = json_integer_value(v);
  json_decref(body);
  return r;
}

int api_cargo_scale(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  const char *ns;
  int64_t n = 0;
  json_t *out = NULL;
  bool wait;
  uint64_t ticket = 0;
  if (api_query_ns(req, &ns, err) < 0 || nc_name_check("cargo", req->params[0], err) < 0 ||
      api_query_flag(req, "wait", &wait, err) < 0 ||
      body_int(req, "replicas", CARGO_REPLICAS_MAX, &n, err) < 0 ||
      cargo_scale(req->cfg->cargoes, ns, req->params[0], (int)n, &ticket, &out, err) < 0)
    return -1;
  return answer(req, resp, ns, req->params[0], wait, ticket, out, err);
}

int api_cargo_revert(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  const char *ns;
  int64_t v = 0;
  json_t *out = NULL;
  bool wait;
  uint64_t ticket = 0;
  if (api_query_ns(req, &ns, err) < 0 || nc_name_check("cargo", req->params[0], err) < 0 ||
      api_query_flag(req, "wait", &wait, err) < 0 ||
      body_int(req, "version", INT32_MAX, &v, err) < 0 ||
      cargo_revert(req->cfg->cargoes, ns, req->params[0], v, &ticket, &out, err) < 0)
    return -1;
  return answer(req, resp, ns, req->params[0], wait, ticket, out, err);
}

int api_cargo_history(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  const char *ns;
  json_t *out;
  if (api_query_ns(req, &ns, err) < 0 || nc_name_check("cargo", req->params[0], err) < 0 ||
      cargo_history(req->cfg->cargoes, ns, req->params[0], &out, err) < 0)
    return -1;
  api_resp_json(resp, 200, out);
  return 0;
}

int api_cluster_join(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  static const char *const fields[] = { "network", "cargo", NULL };
  const char *ns, *network, *cargo;
  json_t *body;
  bool wait;
  uint64_t ticket = 0;
  if (api_query_ns(req, &ns, err) < 0 || api_query_flag(req, "wait", &wait, err) < 0 ||
      api_req_json_object(req, &body, err) < 0)
    return -1;
  int r = nc_json_check_fields(body, fields, err);
  if (r == 0)
    r = nc_json_get_string(body, "network", true, &network, err);
  if (r == 0)
    r = nc_json_get_string(body, "cargo", true, &cargo, err);
  if (r == 0)
    r = cargo_join(req->cfg->cargoes, ns, req->params[0], network, cargo, &ticket, err);
  if (r == 0)
    r = answer(req, resp, ns, cargo, wait, ticket, NULL, err);
  json_decref(body);
  return r;
}

/* start, stop, restart: the action is the last segment of the path. */
int api_cargo_action(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  const char *ns;
  const char *action = strrchr(req->path, '/') + 1;
  if (api_query_ns(req, &ns, err) < 0)
    return -1;
  struct cargo_service *svc = req->cfg->cargoes;
  int r;
  if (!strcmp(action, "start"))
    r = cargo_set_stopped(svc, ns, req->params[0], false, err);
  else if (!strcmp(action, "stop"))
    r = cargo_set_stopped(svc, ns, req->params[0], true, err);
  else
    r = cargo_set_stopped(svc, ns, req->params[0], true, err) < 0
          ? -1
          : cargo_set_stopped(svc, ns, req->params[0], false, err);
  if (r < 0)
    return -1;
  resp->status = 204;
  return 0;
}
