/* /v1/namespaces */
#include "api/api-internal.h"
#include "base/json.h"
#include "base/timeutil.h"
#include "model/namespace.h"

static json_t *namespace_json(const struct store_namespace *ns)
{
  char created[32];
  nc_time_rfc3339(ns->created_at, created, sizeof created);
  return json_pack("{s:s, s:s}", "name", ns->name, "created_at", created);
}

int api_namespace_list(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  struct store_namespace_list list;
  if (model_namespace_list(req->cfg->store, &list, err) < 0)
    return -1;
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < list.len; i++)
    json_array_append_new(arr, namespace_json(&list.items[i]));
  store_namespace_list_free(&list);
  if (!arr)
    return nc_err_set(err, NC_ERR_INTERNAL, "listing namespaces: out of memory");
  api_resp_json(resp, 200, arr);
  return 0;
}

int api_namespace_create(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  static const char *const fields[] = { "name", NULL };
  json_t *body;
  const char *name;
  struct store_namespace ns;

  if (api_req_json_object(req, &body, err) < 0)
    return -1;
  int r = nc_json_check_fields(body, fields, err);
  if (r == 0)
    r = nc_json_get_string(body, "name", true, &name, err);
  if (r == 0)
    r = model_namespace_create(req->cfg->store, name, &ns, err);
  json_decref(body);
  if (r < 0)
    return -1;
  api_resp_json(resp, 201, namespace_json(&ns));
  return 0;
}

int api_namespace_inspect(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  struct store_namespace ns;
  if (model_namespace_get(req->cfg->store, req->params[0], &ns, err) < 0)
    return -1;
  api_resp_json(resp, 200, namespace_json(&ns));
  return 0;
}

int api_namespace_delete(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  if (model_namespace_delete(req->cfg->store, req->params[0], err) < 0)
    return -1;
  resp->status = 204;
  return 0;
}
