/* Containers: create, read, list, remove; the JSON of the API. */
#include "runtime/container.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "image/unpack.h"
#include "model/name.h"
#include "net/netlink.h"
#include "runtime/rootfs.h"
#include "runtime/spec.h"

void container_path(const struct container_service *svc, const char *id, const char *file,
                    char *out, size_t size)
{
  snprintf(out, size, "%s/%s%s%s", svc->dir, id, file ? "/" : "", file ? file : "");
}

int container_load(struct container_service *svc, const char *ns, const char *key,
                   struct store_container *out, struct nc_err *err)
{
  struct store_tx *tx;
  if (store_begin(svc->store, STORE_TX_READ, &tx, err) < 0)
    return -1;
  if (store_container_get(tx, ns, key, out, err) < 0) {
    store_rollback(tx);
    return -1;
  }
  return store_commit(tx, err);
}

int container_id_of(struct container_service *svc, const char *ns, const char *key, char id[65],
                    struct nc_err *err)
{
  struct store_container c;
  if (container_load(svc, ns, key, &c, err) < 0)
    return -1;
  memcpy(id, c.id, 65);
  store_container_free(&c);
  return 0;
}

int container_save(struct container_service *svc, const struct store_container *c,
                   struct nc_err *err)
{
  /* Only the run-time state changes here (started, ended, pids): volatile. */
  struct store_tx *tx;
  if (store_begin(svc->store, STORE_TX_WRITE_VOLATILE, &tx, err) < 0)
    return -1;
  if (store_container_update(tx, c, err) < 0) {
    store_rollback(tx);
    return -1;
  }
  return store_commit(tx, err);
}

static void status_text(const struct store_container *c, char *out, size_t size)
{
  int64_t now = nc_time_now();
  char ago[48];
  int64_t since = !strcmp(c->state, "running") ? now - c->started_at : now - c->finished_at;
  if (since < 60)
    snprintf(ago, sizeof ago, "%lld second%s", (long long)since, since == 1 ? "" : "s");
  else if (since < 3600)
    snprintf(ago, sizeof ago, "%lld minute%s", (long long)since / 60, since < 120 ? "" : "s");
  else if (since < 86400)
    snprintf(ago, sizeof ago, "%lld hour%s", (long long)since / 3600, since < 7200 ? "" : "s");
  else
    snprintf(ago, sizeof ago, "%lld day%s", (long long)since / 86400,
             since < 2 * 86400 ? "" : "s");
  if (!strcmp(c->state, "running"))
    snprintf(out, size, "Up %s", ago);
  else if (!strcmp(c->state, "exited"))
    snprintf(out, size, "Exited (%d) %s ago", c->exit_code, ago);
  else if (!strcmp(c->state, "created"))
    snprintf(out, size, "Created");
  else
    snprintf(out, size, "Removing");
}

static json_t *to_json(const struct store_container *c)
{
  char created[32], started[32] = "", finished[32] = "", status[80];
  nc_time_rfc3339(c->created_at, created, sizeof created);
  if (c->started_at)
    nc_time_rfc3339(c->started_at, started, sizeof started);
  if (c->finished_at)
    nc_time_rfc3339(c->finished_at, finished, sizeof finished);
  status_text(c, status, sizeof status);
  json_t *spec = json_loads(c->spec, 0, NULL);
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:i, s:s?, s:b, s:s?, s:s, s:s?, "
                   "s:s?, s:o}",
                   "id", c->id, "name", c->name, "namespace", c->namespace_, "image", c->image,
                   "image_id", c->image_id, "state", c->state, "status", status, "pid",
                   (json_int_t)c->pid, "exit_code", c->exit_code, "exit_signal",
                   c->exit_signal[0] ? c->exit_signal : NULL, "oom_killed", c->oom_killed,
                   "error", c->error[0] ? c->error : NULL, "created_at", created, "started_at",
                   started[0] ? started : NULL, "finished_at", finished[0] ? finished : NULL,
                   "spec", spec ? spec : json_object());
}

int container_inspect(struct container_service *svc, const char *ns, const char *key,
                      json_t **out, struct nc_err *err)
{
  struct store_container c;
  if (container_load(svc, ns, key, &c, err) < 0)
    return -1;
  *out = to_json(&c);
  /* Where it is on its network, if it has one (Docker's NetworkSettings). */
  struct store_tx *tx;
  struct store_attachment a;
  struct store_network n;
  struct store_port_list ports = { 0 };
  struct nc_err none = NC_ERR_INIT;
  if (store_begin(svc->store, STORE_TX_READ, &tx, &none) == 0) {
    if (store_attachment_get(tx, c.id, &a, &none) == 0 &&
        store_network_get_id(tx, a.network_id, &n, &none) == 0 &&
        store_port_list(tx, c.id, &ports, &none) == 0) {
      char ip[16], gw[16];
      ip4_format(a.addr, ip);
      ip4_format(n.gateway, gw);
      json_t *jp = json_array();
      for (size_t i = 0; i < ports.len; i++) {
        char hip[16], text[48];
        ip4_format(ports.items[i].host_ip, hip);
        snprintf(text, sizeof text, "%s%s%u:%u/%s", ports.items[i].host_ip ? hip : "",
                 ports.items[i].host_ip ? ":" : "", ports.items[i].host_port,
                 ports.items[i].port, ports.items[i].proto);
        json_array_append_new(jp, json_string(text));
      }
      json_object_set_new(*out, "network_settings",
                          json_pack("{s:s, s:s, s:s, s:i, s:s, s:o}", "network", n.name,
                                    "bridge", n.bridge, "ip", ip, "prefix", n.prefix,
                                    "gateway", gw, "ports", jp));
    }
    store_commit(tx, &none);
  }
  store_port_list_free(&ports);
  store_container_free(&c);
  return 0;
}

int container_list(struct container_service *svc, const char *ns, bool all, json_t **out,
                   struct nc_err *err)
{
  struct store_tx *tx;
  struct store_container_list list;
  if (store_begin(svc->store, STORE_TX_READ, &tx, err) < 0)
    return -1;
  if (store_container_list(tx, ns, &list, err) < 0) {
    store_rollback(tx);
    return -1;
  }
  store_commit(tx, err);
  json_t *arr = json_array();
  for (size_t i = 0; i < list.len; i++)
    if (all || !strcmp(list.items[i].state, "running"))
      json_array_append_new(arr, to_json(&list.items[i]));
  store_container_list_free(&list);
  *out = arr;
  return 0;
}

static int new_id(char id[65], struct nc_err *err)
{
  unsigned char raw[32];
  if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
    return nc_err_sys(err, errno, "cannot make a container id");
  for (int i = 0; i < 32; i++)
    snprintf(id + 2 * i, 3, "%02x", raw[i]);
  return 0;
}

/* Where a new container goes: a cluster, a network of it, published ports. */
struct placement {
  char cluster[STORE_NAME_MAX];
  char network[STORE_NAME_MAX];
  struct store_port ports[SPEC_PUBLISH_MAX];
  size_t nports;
};

/* The spec was validated: this only copies, and asks the host whether ports are free. */
static int placement_parse(json_t *spec, struct placement *pl, struct nc_err *err)
{
  memset(pl, 0, sizeof *pl);
  const char *cluster = json_string_value(json_object_get(spec, "cluster"));
  const char *network = json_string_value(json_object_get(spec, "network"));
  snprintf(pl->cluster, sizeof pl->cluster, "%s", cluster ? cluster : "");
  snprintf(pl->network, sizeof pl->network, "%s", network ? network : "");
  json_t *publish = json_object_get(spec, "publish");
  for (size_t i = 0; i < json_array_size(publish) && i < SPEC_PUBLISH_MAX; i++) {
    if (net_port_parse(json_string_value(json_array_get(publish, i)), &pl->ports[i], err) < 0 ||
        net_port_check_host(&pl->ports[i], err) < 0)
      return -1;
    pl->nports++;
  }
  return 0;
}

/* The container's row, its cluster checked, its address and ports: one transaction.
 * Written without an fsync when a power loss loses nothing by it: a cargo's instance is
 * derived state (the reconcile loop makes it again from the cargo), an auto_remove
 * container would not outlive a reboot anyway (nanocld's start removes what is left). */
static int insert_placed(struct container_service *svc, const struct store_container *c,
                         const struct placement *pl, struct store_network *net,
                         struct nc_err *err)
{
  struct store_tx *tx;
  struct store_cluster cl;
  uint32_t addr;
  bool durable = !c->cargo[0] && !container_spec_auto_remove(c);
  if (store_begin(svc->store, durable ? STORE_TX_WRITE : STORE_TX_WRITE_VOLATILE, &tx, err) < 0)
    return -1;
  int r = 0;
  if (pl->cluster[0])
    r = store_cluster_get(tx, c->namespace_, pl->cluster, &cl, err);
  if (r == 0)
    r = store_container_insert(tx, c, err);
  if (r == 0 && pl->network[0])
    r = net_container_reserve(tx, c->namespace_, pl->cluster, pl->network, c->id, pl->ports,
                              pl->nports, net, &addr, err);
  if (r < 0) {
    store_rollback(tx);
    return -1;
  }
  return store_commit(tx, err);
}

int container_create(struct container_service *svc, const char *ns, json_t *body, json_t **out,
                     struct nc_err *err)
{
  return container_create_owned(svc, ns, body, NULL, out, err);
}

int container_create_owned(struct container_service *svc, const char *ns, json_t *body,
                           const struct container_owner *owner, json_t **out,
                           struct nc_err *err)
{
  const char *name = NULL, *image = NULL;
  if (nc_json_get_string(body, "name", false, &name, err) < 0 ||
      nc_json_get_string(body, "image", true, &image, err) < 0)
    return -1;
  if (name && nc_name_check("container", name, err) < 0)
    return -1;
  json_t *spec = json_deep_copy(body);
  json_object_del(spec, "name");
  json_object_del(spec, "image");
  int r = runtime_spec_validate(spec, err);
  json_t *img = NULL;
  if (r == 0 && image_inspect(svc->images, image, &img, err) < 0) {
    if (err->kind == NC_ERR_NOT_FOUND)
      nc_err_set(err, NC_ERR_NOT_FOUND,
                 "image '%.200s' is not here; pull it first: nanocl container-image create %.200s",
                 image, image);
    r = -1;
  }
  struct store_container c = { 0 };
  if (r == 0)
    r = new_id(c.id, err);
  if (r < 0) {
    json_decref(spec);
    json_decref(img);
    return -1;
  }
  snprintf(c.name, sizeof c.name, "%.63s", name ? name : c.id);
  c.name[name ? sizeof c.name - 1 : 12] = '\0';
  snprintf(c.namespace_, sizeof c.namespace_, "%s", ns);
  snprintf(c.image, sizeof c.image, "%s", image);
  snprintf(c.image_id, sizeof c.image_id, "%s", json_string_value(json_object_get(img, "id")));
  snprintf(c.state, sizeof c.state, "created");
  c.created_at = nc_time_now();
  c.spec = json_dumps(spec, JSON_COMPACT);
  struct placement pl;
  r = c.spec ? placement_parse(spec, &pl, err)
             : nc_err_set(err, NC_ERR_INTERNAL, "out of memory");
  json_decref(spec);
  json_decref(img);

  snprintf(c.cluster, sizeof c.cluster, "%s", r == 0 ? pl.cluster : "");
  if (owner) {
    snprintf(c.cargo, sizeof c.cargo, "%s", owner->cargo);
    c.cargo_version = owner->version;
    c.instance = owner->instance;
  }
  char dir[PATH_MAX], log[PATH_MAX];
  container_path(svc, c.id, NULL, dir, sizeof dir);
  container_path(svc, c.id, "log", log, sizeof log);
  if (r == 0 && mkdir(dir, 0700) < 0)
    r = nc_err_sys(err, errno, "cannot create '%s'", dir);
  if (r == 0) {
    /* The log exists from now on (the shim appends to it): a log stream opened before
     * the start keeps reading it even if the directory goes to the trash at the end. */
    int fd = open(log, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
      r = nc_err_sys(err, errno, "cannot create '%s'", log);
    else
      close(fd);
    if (r < 0)
      rmdir(dir);
  }
  struct store_network net = { 0 };
  if (r == 0) {
    /* Under the network service's lock: a network being removed cannot get this
     * container's address between its check and its removal. */
    pthread_mutex_lock(&svc->net->mu);
    r = insert_placed(svc, &c, &pl, &net, err);
    pthread_mutex_unlock(&svc->net->mu);
    if (r < 0) { /* nothing half-made stays */
      unlink(log);
      rmdir(dir);
    }
  }
  if (r == 0 && pl.network[0]) {
    struct nc_err dns = NC_ERR_INIT;
    if (net_refresh(svc->net, net.id, pl.nports > 0, &dns) < 0)
      nc_log(NC_LOG_WARN, "container %s: %s", c.name, dns.msg);
  }
  if (r == 0 && out)
    *out = to_json(&c);
  store_container_free(&c);
  return r;
}

int container_remove(struct container_service *svc, const char *ns, const char *key, bool force,
                     struct nc_err *err)
{
  struct store_container c;
  if (container_load(svc, ns, key, &c, err) < 0)
    return -1;
  int r = 0;
  if (!strcmp(c.state, "running")) {
    if (!force)
      r = nc_err_set(err, NC_ERR_CONFLICT,
                     "container '%s' is running: stop it first, or force the removal", c.name);
    else
      r = container_stop(svc, ns, c.id, 0, err);
    if (r < 0 && err->kind == NC_ERR_NOT_FOUND && container_spec_auto_remove(&c)) {
      store_container_free(&c); /* its auto-removal was quicker than the stop's answer */
      nc_err_clear(err);
      return 0;
    }
    /* Again, with how it ended; gone already if it was auto_remove. */
    char id[65];
    memcpy(id, c.id, sizeof id);
    store_container_free(&c);
    struct nc_err gone = NC_ERR_INIT;
    if (r == 0 && container_load(svc, ns, id, &c, &gone) < 0)
      return gone.kind == NC_ERR_NOT_FOUND ? 0 : (*err = gone, -1);
    if (r < 0)
      return -1;
  }
  if (r == 0)
    r = container_destroy(svc, &c, true, err);
  store_container_free(&c);
  return r;
}

int container_log_path(struct container_service *svc, const char *ns, const char *key,
                       char id[65], char *path, size_t size, struct nc_err *err)
{
  struct store_container c;
  if (container_load(svc, ns, key, &c, err) < 0)
    return -1;
  memcpy(id, c.id, 65);
  container_path(svc, c.id, "log", path, size);
  store_container_free(&c);
  return 0;
}
