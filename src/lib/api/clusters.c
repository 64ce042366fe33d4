/* /v1/clusters, with their variables and networks. A cluster's removal and start
 * reach its containers (runtime/) and networks (net/); the rest is model/cluster.c. */
#include <stdio.h>
#include <string.h>

#include "api/api-internal.h"
#include "base/json.h"
#include "base/timeutil.h"
#include "cargo/cargo.h"
#include "model/cluster.h"
#include "model/name.h"
#include "net/netlink.h"
#include "net/service.h"
#include "runtime/container.h"

static json_t *cluster_json(const struct store_cluster *c)
{
  char created[32];
  nc_time_rfc3339(c->created_at, created, sizeof created);
  return json_pack("{s:s, s:s, s:s}", "name", c->name, "namespace", c->namespace_, "created_at",
                   created);
}

int api_cluster_list(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  const char *ns;
  struct store_cluster_list list;
  if (api_query_ns(req, &ns, err) < 0 || model_cluster_list(req->cfg->store, ns, &list, err) < 0)
    return -1;
  json_t *arr = json_array();
  for (size_t i = 0; i < list.len; i++)
    json_array_append_new(arr, cluster_json(&list.items[i]));
  store_cluster_list_free(&list);
  api_resp_json(resp, 200, arr);
  return 0;
}

int api_cluster_create(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  static const char *const fields[] = { "name", NULL };
  const char *ns, *name;
  json_t *body;
  struct store_cluster c;
  if (api_query_ns(req, &ns, err) < 0 || api_req_json_object(req, &body, err) < 0)
    return -1;
  int r = nc_json_check_fields(body, fields, err);
  if (r == 0)
    r = nc_json_get_string(body, "name", true, &name, err);
  if (r == 0)
    r = model_cluster_create(req->cfg->store, ns, name, &c, err);
  json_decref(body);
  if (r < 0)
    return -1;
  api_resp_json(resp, 201, cluster_json(&c));
  return 0;
}

/* The containers that joined cluster `name` of `ns`. */
static int cluster_containers(struct api_req *req, const char *ns, const char *name,
                              struct store_container_list *out, struct nc_err *err)
{
  struct store_tx *tx;
  if (store_begin(req->cfg->store, STORE_TX_READ, &tx, err) < 0)
    return -1;
  int r = store_container_list(tx, ns, out, err);
  store_commit(tx, &(struct nc_err)NC_ERR_INIT);
  if (r < 0)
    return -1;
  size_t k = 0;
  for (size_t i = 0; i < out->len; i++) {
    if (!strcmp(out->items[i].cluster, name))
      out->items[k++] = out->items[i];
    else
      store_container_free(&out->items[i]);
  }
  out->len = k;
  return 0;
}

int api_cluster_inspect(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  const char *ns, *name = req->params[0];
  struct store_cluster c;
  struct store_variable_list vars = { 0 };
  struct store_container_list ctrs = { 0 };
  struct store_attachment_list atts = { 0 };
  struct store_network_list nets = { 0 };
  struct store_tx *tx;
  if (api_query_ns(req, &ns, err) < 0 || model_cluster_get(req->cfg->store, ns, name, &c, err) < 0)
    return -1;
  if (model_variable_list(req->cfg->store, ns, name, &vars, err) < 0)
    return -1;
  int r = cluster_containers(req, ns, name, &ctrs, err);
  if (r == 0 && (r = store_begin(req->cfg->store, STORE_TX_READ, &tx, err)) == 0) {
    r = store_network_list(tx, ns, name, &nets, err);
    if (r == 0)
      r = store_attachment_list(tx, NULL, &atts, err);
    store_commit(tx, &(struct nc_err)NC_ERR_INIT);
  }
  json_t *out = NULL;
  if (r == 0) {
    out = cluster_json(&c);
    json_t *jv = json_object(), *jn = json_array(), *jc = json_array();
    for (size_t i = 0; i < vars.len; i++)
      json_object_set_new(jv, vars.items[i].name, json_string(vars.items[i].value));
    for (size_t i = 0; i < nets.len; i++)
      json_array_append_new(jn, net_network_json(&nets.items[i]));
    for (size_t i = 0; i < ctrs.len; i++) {
      const struct store_container *ct = &ctrs.items[i];
      json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "id", ct->id, "name", ct->name, "image",
                            ct->image, "state", ct->state);
      for (size_t a = 0; a < atts.len; a++) {
        if (strcmp(atts.items[a].container_id, ct->id))
          continue;
        char ip[16];
        ip4_format(atts.items[a].addr, ip);
        json_object_set_new(j, "ip", json_string(ip));
        for (size_t n = 0; n < nets.len; n++)
          if (!strcmp(nets.items[n].id, atts.items[a].network_id))
            json_object_set_new(j, "network", json_string(nets.items[n].name));
      }
      json_array_append_new(jc, j);
    }
    json_object_set_new(out, "variables", jv);
    json_object_set_new(out, "networks", jn);
    json_object_set_new(out, "containers", jc);
  }
  store_variable_list_free(&vars);
  store_container_list_free(&ctrs);
  store_attachment_list_free(&atts);
  store_network_list_free(&nets);
  if (r < 0)
    return -1;
  api_resp_json(resp, 200, out);
  return 0;
}

/* Everything that joined the cluster is stopped and removed, then its networks, then
 * the cluster with its variables. A failure stops there: what is left can be removed
 * by trying again. */
int api_cluster_delete(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  const char *ns, *name = req->params[0];
  struct store_cluster c;
  struct store_container_list ctrs = { 0 };
  struct store_network_list nets = { 0 };
  struct store_tx *tx;
  if (api_query_ns(req, &ns, err) < 0 || model_cluster_get(req->cfg->store, ns, name, &c, err) < 0)
    return -1;
  /* Cargoes leave first, so their loop does not bring instances back meanwhile. */
  int r = cargo_leave_cluster(req->cfg->cargoes, ns, name, err);
  if (r == 0)
    r = cluster_containers(req, ns, name, &ctrs, err);
  for (size_t i = 0; r == 0 && i < ctrs.len; i++)
    if (container_remove(req->cfg->containers, ns, ctrs.items[i].id, true, err) < 0)
      r = nc_err_wrap(err, "removing container '%s'", ctrs.items[i].name);
  if (r == 0 && (r = store_begin(req->cfg->store, STORE_TX_READ, &tx, err)) == 0) {
    r = store_network_list(tx, ns, name, &nets, err);
    store_commit(tx, &(struct nc_err)NC_ERR_INIT);
  }
  for (size_t i = 0; r == 0 && i < nets.len; i++)
    r = net_network_remove(req->cfg->net, ns, name, nets.items[i].name, err);
  if (r == 0)
    r = model_cluster_delete(req->cfg->store, ns, name, err);
  store_container_list_free(&ctrs);
  store_network_list_free(&nets);
  if (r < 0)
    return -1;
  resp->status = 204;
  return 0;
}

/* Starts every container of the cluster that is not running. */
int api_cluster_start(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  const char *ns, *name = req->params[0];
  struct store_cluster c;
  struct store_container_list ctrs = { 0 };
  if (api_query_ns(req, &ns, err) < 0 || model_cluster_get(req->cfg->store, ns, name, &c, err) < 0 ||
      cluster_containers(req, ns, name, &ctrs, err) < 0)
    return -1;
  int r = 0;
  json_t *started = json_array();
  for (size_t i = 0; r == 0 && i < ctrs.len; i++) {
    if (!strcmp(ctrs.items[i].state, "running"))
      continue;
    if (container_start(req->cfg->containers, ns, ctrs.items[i].id, err) < 0)
      r = nc_err_wrap(err, "starting container '%s'", ctrs.items[i].name);
    else
      json_array_append_new(started, json_string(ctrs.items[i].name));
  }
  store_container_list_free(&ctrs);
  if (r < 0) {
    json_decref(started);
    return -1;
  }
  api_resp_json(resp, 200, json_pack("{s:o}", "started", started));
  return 0;
}

/* ---- variables ---- */

int api_variable_list(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  const char *ns;
  struct store_variable_list vars;
  if (api_query_ns(req, &ns, err) < 0 ||
      model_variable_list(req->cfg->store, ns, req->params[0], &vars, err) < 0)
    return -1;
  json_t *arr = json_array();
  for (size_t i = 0; i < vars.len; i++)
    json_array_append_new(arr, json_pack("{s:s, s:s}", "name", vars.items[i].name, "value",
                                         vars.items[i].value));
  store_variable_list_free(&vars);
  api_resp_json(resp, 200, arr);
  return 0;
}

int api_variable_create(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  static const char *const fields[] = { "name", "value", NULL };
  const char *ns, *name, *value;
  json_t *body;
  if (api_query_ns(req, &ns, err) < 0 || api_req_json_object(req, &body, err) < 0)
    return -1;
  int r = nc_json_check_fields(body, fields, err);
  if (r == 0)
    r = nc_json_get_string(body, "name", true, &name, err);
  if (r == 0)
    r = nc_json_get_string(body, "value", true, &value, err);
  /* Setting a variable to the value it has rolls nothing. */
  bool same = false;
  struct store_variable_list vars = { 0 };
  if (r == 0 && model_variable_list(req->cfg->store, ns, req->params[0], &vars, err) == 0)
    for (size_t i = 0; i < vars.len; i++)
      same |= !strcmp(vars.items[i].name, name) && !strcmp(vars.items[i].value, value);
  store_variable_list_free(&vars);
  if (r == 0)
    r = model_variable_set(req->cfg->store, ns, req->params[0], name, value, err);
  if (r == 0 && !same)
    r = cargo_variable_changed(req->cfg->cargoes, ns, req->params[0], name, err);
  if (r == 0)
    api_resp_json(resp, 201, json_pack("{s:s, s:s}", "name", name, "value", value));
  json_decref(body);
  return r;
}

int api_variable_inspect(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  const char *ns;
  struct store_variable_list vars;
  if (api_query_ns(req, &ns, err) < 0 ||
      model_variable_list(req->cfg->store, ns, req->params[0], &vars, err) < 0)
    return -1;
  json_t *out = NULL;
  for (size_t i = 0; i < vars.len && !out; i++)
    if (!strcmp(vars.items[i].name, req->params[1]))
      out = json_pack("{s:s, s:s}", "name", vars.items[i].name, "value", vars.items[i].value);
  store_variable_list_free(&vars);
  if (!out)
    return nc_err_set(err, NC_ERR_NOT_FOUND, "variable '%.64s' does not exist in cluster '%s'",
                      req->params[1], req->params[0]);
  api_resp_json(resp, 200, out);
  return 0;
}

int api_variable_delete(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  const char *ns;
  if (api_query_ns(req, &ns, err) < 0 ||
      cargo_variable_check_unused(req->cfg->cargoes, ns, req->params[0], req->params[1], err) < 0 ||
      model_variable_delete(req->cfg->store, ns, req->params[0], req->params[1], err) < 0)
    return -1;
  resp->status = 204;
  return 0;
}

/* ---- networks ---- */

int api_network_list(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  const char *ns;
  json_t *out;
  if (api_query_ns(req, &ns, err) < 0 ||
      net_network_list(req->cfg->net, ns, req->params[0], &out, err) < 0)
    return -1;
  api_resp_json(resp, 200, out);
  return 0;
}

int api_network_create(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  const char *ns;
  json_t *body, *out;
  if (api_query_ns(req, &ns, err) < 0 || nc_name_check("cluster", req->params[0], err) < 0 ||
      api_req_json_object(req, &body, err) < 0)
    return -1;
  int r = net_network_create(req->cfg->net, ns, req->params[0], body, &out, err);
  json_decref(body);
  if (r < 0)
    return -1;
  api_resp_json(resp, 201, out);
  return 0;
}

int api_network_inspect(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  const char *ns;
  json_t *out;
  if (api_query_ns(req, &ns, err) < 0 ||
      net_network_inspect(req->cfg->net, ns, req->params[0], req->params[1], &out, err) < 0)
    return -1;
  api_resp_json(resp, 200, out);
  return 0;
}

int api_network_delete(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  const char *ns;
  if (api_query_ns(req, &ns, err) < 0 ||
      net_network_remove(req->cfg->net, ns, req->params[0], req->params[1], err) < 0)
    return -1;
  resp->status = 204;
  return 0;
}
