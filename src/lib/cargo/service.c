/* The API side of cargoes: every operation writes the desired state in one store
 * transaction and wakes the loop (reconcile.c), which does the work. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/json.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "cargo/cargo.h"
#include "model/cluster.h"
#include "model/name.h"
#include "net/netlink.h"

/* Every cluster the cargo joined (or `extra_cluster`, about to) must have the variables
 * its env names: a template naming a missing one is refused now, not at rollout. */
static int check_templates(struct store_tx *tx, const char *ns, const char *cargo,
                           const json_t *spec, const char *extra_cluster, struct nc_err *err)
{
  struct store_join_list joins = { 0 };
  if (store_join_list(tx, ns, cargo, NULL, &joins, err) < 0)
    return -1;
  int r = 0;
  for (size_t i = 0; r == 0 && i <= joins.len; i++) {
    const char *cluster = i < joins.len ? joins.items[i].cluster : extra_cluster;
    if (!cluster)
      continue;
    struct store_variable_list vars = { 0 };
    json_t *body = NULL;
    r = store_variable_list(tx, ns, cluster, &vars, err);
    if (r == 0)
      r = cargo_instance_body(spec, ns, cluster, "x", cargo, 1, &vars, &body, err);
    json_decref(body);
    store_variable_list_free(&vars);
  }
  store_join_list_free(&joins);
  return r;
}

static json_t *cargo_json(const struct store_cargo *c)
{
  char created[32], updated[32];
  nc_time_rfc3339(c->created_at, created, sizeof created);
  nc_time_rfc3339(c->updated_at, updated, sizeof updated);
  json_t *spec = json_loads(c->spec, 0, NULL);
  return json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:o}", "name", c->name, "namespace",
                   c->namespace_, "version", (json_int_t)c->version, "rollout", c->rollout,
                   "created_at", created, "updated_at", updated, "spec",
                   spec ? spec : json_object());
}

int cargo_create(struct cargo_service *svc, const char *ns, json_t *body, json_t **out,
                 struct nc_err *err)
{
  const char *name = NULL;
  if (nc_json_get_string(body, "name", true, &name, err) < 0 ||
      nc_name_check("cargo", name, err) < 0)
    return -1;
  json_t *spec = json_deep_copy(body);
  json_object_del(spec, "name");
  struct store_cargo c = { .created_at = nc_time_now() };
  snprintf(c.namespace_, sizeof c.namespace_, "%s", ns);
  snprintf(c.name, sizeof c.name, "%s", name);
  c.updated_at = c.created_at;
  c.version = 1;
  int r = cargo_spec_validate(spec, err);
  c.spec = r == 0 ? json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(spec);
  if (r < 0)
    return -1;
  struct store_tx *tx;
  r = store_begin(svc->store, STORE_TX_WRITE, &tx, err);
  if (r == 0) {
    r = store_cargo_insert(tx, &c, err);
    if (r < 0)
      store_rollback(tx);
    else
      r = store_commit(tx, err);
  }
  if (r == 0 && out)
    *out = cargo_json(&c);
  free(c.spec);
  if (r == 0)
    cargo_wake(svc);
  return r;
}

int cargo_list(struct cargo_service *svc, const char *ns, json_t **out, struct nc_err *err)
{
  struct store_tx *tx;
  struct store_cargo_list list = { 0 };
  struct store_container_list ctrs = { 0 };
  if (store_begin(svc->store, STORE_TX_READ, &tx, err) < 0)
    return -1;
  int r = store_cargo_list(tx, ns, &list, err);
  if (r == 0)
    r = store_container_list(tx, ns, &ctrs, err);
  store_commit(tx, &(struct nc_err)NC_ERR_INIT);
  if (r < 0) {
    store_cargo_list_free(&list);
    return -1;
  }
  json_t *arr = json_array();
  for (size_t i = 0; i < list.len; i++) {
    json_t *j = cargo_json(&list.items[i]);
    int running = 0, total = 0;
    for (size_t k = 0; k < ctrs.len; k++)
      if (!strcmp(ctrs.items[k].cargo, list.items[i].name)) {
        total++;
        running += !strcmp(ctrs.items[k].state, "running");
      }
    json_object_set_new(j, "instances_running", json_integer(running));
    json_object_set_new(j, "instances", json_integer(total));
    json_array_append_new(arr, j);
  }
  store_cargo_list_free(&list);
  store_container_list_free(&ctrs);
  *out = arr;
  return 0;
}

int cargo_inspect(struct cargo_service *svc, const char *ns, const char *name, json_t **out,
                  struct nc_err *err)
{
  struct store_tx *tx;
  struct store_cargo c = { 0 };
  struct store_join_list joins = { 0 };
  struct store_container_list ctrs = { 0 };
  struct store_attachment_list atts = { 0 };
  if (store_begin(svc->store, STORE_TX_READ, &tx, err) < 0)
    return -1;
  int r = store_cargo_get(tx, ns, name, &c, err);
  if (r == 0)
    r = store_join_list(tx, ns, name, NULL, &joins, err);
  if (r == 0)
    r = store_container_list(tx, ns, &ctrs, err);
  if (r == 0)
    r = store_attachment_list(tx, NULL, &atts, err);
  store_commit(tx, &(struct nc_err)NC_ERR_INIT);
  if (r == 0) {
    json_t *j = cargo_json(&c), *jj = json_array(), *ji = json_array();
    for (size_t i = 0; i < joins.len; i++)
      json_array_append_new(jj, json_pack("{s:s, s:s}", "cluster", joins.items[i].cluster,
                                          "network", joins.items[i].network));
    for (size_t i = 0; i < ctrs.len; i++) {
      const struct store_container *ct = &ctrs.items[i];
      if (strcmp(ct->cargo, name))
        continue;
      json_t *inst = NULL;
      if (container_inspect(svc->containers, ns, ct->id, &inst, &(struct nc_err)NC_ERR_INIT) < 0)
        continue;
      json_t *ns_ = json_object_get(inst, "network_settings");
      json_array_append_new(
        ji, json_pack("{s:s, s:s, s:s, s:i, s:I, s:s, s:O?, s:s?, s:O?}", "id", ct->id, "name",
                      ct->name, "cluster", ct->cluster, "instance", ct->instance, "version",
                      (json_int_t)ct->cargo_version, "image", ct->image, "state",
                      json_object_get(inst, "state"), "ip",
                      json_string_value(json_object_get(ns_, "ip")), "status",
                      json_object_get(inst, "status")));
      json_decref(inst);
    }
    json_object_set_new(j, "joins", jj);
    json_object_set_new(j, "instances", ji);
    *out = j;
  }
  store_cargo_free(&c);
  store_join_list_free(&joins);
  store_container_list_free(&ctrs);
  store_attachment_list_free(&atts);
  return r;
}

/* A new version from `spec` (validated, templates checked) when it differs. */
static int new_version(struct cargo_service *svc, const char *ns, const char *name,
                       json_t *(*change)(struct store_tx *tx, const json_t *cur, void *arg,
                                         struct nc_err *err),
                       void *arg, const char *note, uint64_t *ticket, json_t **out,
                       struct nc_err *err)
{
  struct store_tx *tx;
  struct store_cargo c = { 0 };
  if (store_begin(svc->store, STORE_TX_WRITE, &tx, err) < 0)
    return -1;
  int r = store_cargo_get(tx, ns, name, &c, err);
  json_t *cur = r == 0 ? json_loads(c.spec, 0, NULL) : NULL;
  json_t *next = r == 0 ? change(tx, cur, arg, err) : NULL;
  if (r == 0 && !next)
    r = -1;
  if (r == 0)
    r = cargo_spec_validate(next, err);
  if (r == 0)
    r = check_templates(tx, ns, name, next, NULL, err);
  char *text = r == 0 ? json_dumps(next, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  int64_t version = c.version;
  if (r == 0 && strcmp(text, c.spec) != 0)
    r = store_cargo_new_version(tx, ns, name, text, note, &version, err);
  if (r < 0)
    store_rollback(tx);
  else
    r = store_commit(tx, err);
  free(text);
  json_decref(cur);
  json_decref(next);
  store_cargo_free(&c);
  if (r < 0)
    return -1;
  nc_log(NC_LOG_INFO, "cargo %s/%s: version %lld (%s)", ns, name, (long long)version, note);
  uint64_t t = cargo_wake(svc);
  if (ticket)
    *ticket = t;
  return out ? cargo_inspect(svc, ns, name, out, err) : 0;
}

/* env entries replace by key; null removes a field; anything else replaces it. */
static json_t *merge(struct store_tx *tx, const json_t *cur, void *arg, struct nc_err *err)
{
  json_t *changes = arg, *next = json_deep_copy(cur);
  const char *key;
  json_t *v;
  json_object_foreach (changes, key, v) {
    if (json_is_null(v)) {
      json_object_del(next, key);
    } else if (!strcmp(key, "env") && json_is_array(v)) {
      json_t *env = json_deep_copy(json_object_get(next, "env"));
      if (!env)
        env = json_array();
      for (size_t i = 0; i < json_array_size(v); i++) {
        const char *kv = json_string_value(json_array_get(v, i));
        const char *eq = kv ? strchr(kv, '=') : NULL;
        if (!eq) {
          json_decref(env);
          json_decref(next);
          nc_err_set(err, NC_ERR_INVALID, "env: entries are K=V");
          return NULL;
        }
        size_t klen = (size_t)(eq - kv) + 1, k;
        for (k = 0; k < json_array_size(env); k++)
          if (!strncmp(json_string_value(json_array_get(env, k)), kv, klen))
            break;
        if (k < json_array_size(env))
          json_array_set_new(env, k, json_string(kv));
        else
          json_array_append_new(env, json_string(kv));
      }
      json_object_set_new(next, "env", env);
    } else {
      json_object_set(next, key, v);
    }
  }
  return next;
}

int cargo_patch(struct cargo_service *svc, const char *ns, const char *name, json_t *changes,
                uint64_t *ticket, json_t **out, struct nc_err *err)
{
  if (!json_is_object(changes))
    return nc_err_set(err, NC_ERR_INVALID, "patch: must be an object of spec fields");
  return new_version(svc, ns, name, merge, changes, "patched", ticket, out, err);
}

static json_t *set_replicas(struct store_tx *tx, const json_t *cur, void *arg,
                            struct nc_err *err)
{
  json_t *next = json_deep_copy(cur);
  json_object_set_new(next, "replicas", json_integer(*(int *)arg));
  return next;
}

int cargo_scale(struct cargo_service *svc, const char *ns, const char *name, int replicas,
                uint64_t *ticket, json_t **out, struct nc_err *err)
{
  if (replicas < 0 || replicas > CARGO_REPLICAS_MAX)
    return nc_err_set(err, NC_ERR_INVALID, "replicas: must be 0-%d", CARGO_REPLICAS_MAX);
  return new_version(svc, ns, name, set_replicas, &replicas, "scaled", ticket, out, err);
}

struct revert_arg {
  const char *ns, *name;
  int64_t version;
};

static json_t *old_spec(struct store_tx *tx, const json_t *cur, void *arg, struct nc_err *err)
{
  struct revert_arg *a = arg;
  struct store_cargo_version_list h = { 0 };
  json_t *spec = NULL;
  if (store_cargo_history(tx, a->ns, a->name, &h, err) < 0)
    return NULL;
  for (size_t i = 0; i < h.len && !spec; i++)
    if (h.items[i].version == a->version)
      spec = json_loads(h.items[i].spec, 0, NULL);
  if (!spec)
    nc_err_set(err, NC_ERR_NOT_FOUND, "cargo '%s' has no version %lld", a->name,
               (long long)a->version);
  store_cargo_version_list_free(&h);
  return spec;
}

int cargo_revert(struct cargo_service *svc, const char *ns, const char *name, int64_t version,
                 uint64_t *ticket, json_t **out, struct nc_err *err)
{
  struct revert_arg a = { ns, name, version };
  char note[64];
  snprintf(note, sizeof note, "reverted to %lld", (long long)version);
  return new_version(svc, ns, name, old_spec, &a, note, ticket, out, err);
}

int cargo_history(struct cargo_service *svc, const char *ns, const char *name, json_t **out,
                  struct nc_err *err)
{
  struct store_tx *tx;
  struct store_cargo c = { 0 };
  struct store_cargo_version_list h = { 0 };
  if (store_begin(svc->store, STORE_TX_READ, &tx, err) < 0)
    return -1;
  int r = store_cargo_get(tx, ns, name, &c, err);
  if (r == 0)
    r = store_cargo_history(tx, ns, name, &h, err);
  store_commit(tx, &(struct nc_err)NC_ERR_INIT);
  if (r == 0) {
    json_t *arr = json_array();
    for (size_t i = 0; i < h.len; i++) {
      char created[32];
      nc_time_rfc3339(h.items[i].created_at, created, sizeof created);
      json_t *spec = json_loads(h.items[i].spec, 0, NULL);
      json_array_append_new(
        arr, json_pack("{s:I, s:s, s:s, s:b, s:o}", "version", (json_int_t)h.items[i].version,
                       "created_at", created, "note", h.items[i].note, "current",
                       h.items[i].version == c.version, "spec", spec ? spec : json_object()));
    }
    *out = arr;
  }
  store_cargo_free(&c);
  store_cargo_version_list_free(&h);
  return r;
}

/* How many containers are instances of `cargo` (NULL: of any cargo) in `cluster` (NULL:
 * in any cluster); -1 on error. */
static int count_instances(struct cargo_service *svc, const char *ns, const char *cargo,
                           const char *cluster)
{
  struct store_tx *tx;
  struct store_container_list ctrs = { 0 };
  struct nc_err err = NC_ERR_INIT;
  if (store_begin(svc->store, STORE_TX_READ, &tx, &err) < 0)
    return -1;
  int r = store_container_list(tx, ns, &ctrs, &err);
  store_commit(tx, &err);
  int n = 0;
  for (size_t i = 0; r == 0 && i < ctrs.len; i++)
    n += ctrs.items[i].cargo[0] && (!cargo || !strcmp(ctrs.items[i].cargo, cargo)) &&
         (!cluster || !strcmp(ctrs.items[i].cluster, cluster));
  store_container_list_free(&ctrs);
  return r == 0 ? n : -1;
}

/* The loop removes instances whose cargo or join is gone; this waits for it (a minute
 * at most), so the caller answers with nothing left. */
static int wait_gone(struct cargo_service *svc, const char *ns, const char *cargo,
                     const char *cluster, struct nc_err *err)
{
  for (int i = 0; i < 600; i++) {
    int n = count_instances(svc, ns, cargo, cluster);
    if (n == 0)
      return 0;
    cargo_wait_pass(svc, 100);
  }
  return nc_err_set(err, NC_ERR_TIMEOUT, "instances of %s '%s' are still being removed",
                    cargo ? "cargo" : "cluster", cargo ? cargo : cluster);
}

int cargo_remove(struct cargo_service *svc, const char *ns, const char *name,
                 struct nc_err *err)
{
  struct store_tx *tx;
  if (store_begin(svc->store, STORE_TX_WRITE, &tx, err) < 0)
    return -1;
  if (store_cargo_delete(tx, ns, name, err) < 0) {
    store_rollback(tx);
    return -1;
  }
  if (store_commit(tx, err) < 0)
    return -1;
  return wait_gone(svc, ns, name, NULL, err);
}

int cargo_join(struct cargo_service *svc, const char *ns, const char *cluster,
               const char *network, const char *cargo, uint64_t *ticket, struct nc_err *err)
{
  struct store_tx *tx;
  struct store_cargo c = { 0 };
  struct store_network n;
  struct store_join j = { 0 };
  if (nc_name_check("cluster", cluster, err) < 0 || nc_name_check("network", network, err) < 0 ||
      nc_name_check("cargo", cargo, err) < 0)
    return -1;
  snprintf(j.namespace_, sizeof j.namespace_, "%s", ns);
  snprintf(j.cargo, sizeof j.cargo, "%s", cargo);
  snprintf(j.cluster, sizeof j.cluster, "%s", cluster);
  snprintf(j.network, sizeof j.network, "%s", network);
  if (store_begin(svc->store, STORE_TX_WRITE, &tx, err) < 0)
    return -1;
  struct store_cluster cl;
  int r = store_cluster_get(tx, ns, cluster, &cl, err);
  if (r == 0)
    r = store_network_get(tx, ns, cluster, network, &n, err);
  if (r == 0)
    r = store_cargo_get(tx, ns, cargo, &c, err);
  json_t *spec = r == 0 ? json_loads(c.spec, 0, NULL) : NULL;
  if (r == 0)
    r = check_templates(tx, ns, cargo, spec, cluster, err);
  if (r == 0)
    r = store_join_put(tx, &j, err);
  if (r < 0)
    store_rollback(tx);
  else
    r = store_commit(tx, err);
  json_decref(spec);
  store_cargo_free(&c);
  if (r == 0) {
    nc_log(NC_LOG_INFO, "cargo %s/%s joined cluster %s on network %s", ns, cargo, cluster,
           network);
    uint64_t t = cargo_wake(svc);
    if (ticket)
      *ticket = t;
  }
  return r;
}

int cargo_leave_cluster(struct cargo_service *svc, const char *ns, const char *cluster,
                        struct nc_err *err)
{
  struct store_tx *tx;
  if (store_begin(svc->store, STORE_TX_WRITE, &tx, err) < 0)
    return -1;
  if (store_join_delete_cluster(tx, ns, cluster, err) < 0) {
    store_rollback(tx);
    return -1;
  }
  if (store_commit(tx, err) < 0)
    return -1;
  return wait_gone(svc, ns, NULL, cluster, err);
}

/* Whether `spec` names {{vars.NAME}} (spaces allowed inside the braces). */
static bool uses_variable(const char *spec, const char *name)
{
  size_t len = strlen(name);
  for (const char *p = strstr(spec, "vars."); p; p = strstr(p + 1, "vars.")) {
    const char *q = p + 5;
    if (strncmp(q, name, len) != 0)
      continue;
    char next = q[len];
    if (!((next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z') ||
          (next >= '0' && next <= '9') || next == '_'))
      return true;
  }
  return false;
}

/* The cargoes joined to `cluster` whose spec names variable `name`, into *out. */
static int users_of(struct store_tx *tx, const char *ns, const char *cluster, const char *name,
                    struct store_cargo_list *out, struct nc_err *err)
{
  struct store_join_list joins = { 0 };
  struct store_cargo_list all = { 0 };
  int r = store_join_list(tx, ns, NULL, cluster, &joins, err);
  if (r == 0)
    r = store_cargo_list(tx, ns, &all, err);
  size_t k = 0;
  for (size_t i = 0; r == 0 && i < all.len; i++) {
    bool keep = false;
    for (size_t j = 0; j < joins.len && !keep; j++)
      keep = !strcmp(joins.items[j].cargo, all.items[i].name) &&
             uses_variable(all.items[i].spec, name);
    if (keep)
      all.items[k++] = all.items[i];
    else
      store_cargo_free(&all.items[i]);
  }
  all.len = r == 0 ? k : all.len;
  store_join_list_free(&joins);
  if (r < 0) {
    store_cargo_list_free(&all);
    return -1;
  }
  *out = all;
  return 0;
}

int cargo_variable_changed(struct cargo_service *svc, const char *ns, const char *cluster,
                           const char *name, struct nc_err *err)
{
  struct store_tx *tx;
  struct store_cargo_list users = { 0 };
  if (store_begin(svc->store, STORE_TX_WRITE, &tx, err) < 0)
    return -1;
  int r = users_of(tx, ns, cluster, name, &users, err);
  char note[128];
  snprintf(note, sizeof note, "variable %.40s of %.40s changed", name, cluster);
  /* The same spec as a new version: the loop rolls its instances, one at a time. */
  for (size_t i = 0; r == 0 && i < users.len; i++) {
    int64_t v;
    r = store_cargo_new_version(tx, ns, users.items[i].name, users.items[i].spec, note, &v, err);
  }
  if (r < 0)
    store_rollback(tx);
  else
    r = store_commit(tx, err);
  if (r == 0 && users.len) {
    nc_log(NC_LOG_INFO, "%s: rolling %zu cargo%s", note, users.len, users.len == 1 ? "" : "es");
    cargo_wake(svc);
  }
  store_cargo_list_free(&users);
  return r;
}

int cargo_variable_check_unused(struct cargo_service *svc, const char *ns, const char *cluster,
                                const char *name, struct nc_err *err)
{
  struct store_tx *tx;
  struct store_cargo_list users = { 0 };
  if (store_begin(svc->store, STORE_TX_READ, &tx, err) < 0)
    return -1;
  int r = users_of(tx, ns, cluster, name, &users, err);
  store_commit(tx, &(struct nc_err)NC_ERR_INIT);
  if (r == 0 && users.len)
    r = nc_err_set(err, NC_ERR_CONFLICT,
                   "variable %s is used by cargo '%s' in cluster '%s'; change the cargo first",
                   name, users.items[0].name, cluster);
  store_cargo_list_free(&users);
  return r;
}

/* Running instances of `cargo` (-1 on error). */
static int count_running(struct cargo_service *svc, const char *ns, const char *cargo)
{
  struct store_tx *tx;
  struct store_container_list ctrs = { 0 };
  struct nc_err err = NC_ERR_INIT;
  if (store_begin(svc->store, STORE_TX_READ, &tx, &err) < 0)
    return -1;
  int r = store_container_list(tx, ns, &ctrs, &err);
  store_commit(tx, &err);
  int n = 0;
  for (size_t i = 0; r == 0 && i < ctrs.len; i++)
    n += !strcmp(ctrs.items[i].cargo, cargo) && !strcmp(ctrs.items[i].state, "running");
  store_container_list_free(&ctrs);
  return r == 0 ? n : -1;
}

int cargo_set_stopped(struct cargo_service *svc, const char *ns, const char *name, bool stopped,
                      struct nc_err *err)
{
  struct store_tx *tx;
  if (nc_name_check("cargo", name, err) < 0 ||
      store_begin(svc->store, STORE_TX_WRITE, &tx, err) < 0)
    return -1;
  if (store_cargo_set_stopped(tx, ns, name, stopped, err) < 0) {
    store_rollback(tx);
    return -1;
  }
  if (store_commit(tx, err) < 0)
    return -1;
  cargo_wake(svc);
  if (!stopped)
    return 0;
  /* `stop` answers once the instances are stopped (each after its stop timeout). */
  for (int i = 0; i < 1200 && count_running(svc, ns, name) > 0; i++)
    cargo_wait_pass(svc, 100);
  return count_running(svc, ns, name) == 0
           ? 0
           : nc_err_set(err, NC_ERR_TIMEOUT, "instances of cargo '%s' are still stopping", name);
}
