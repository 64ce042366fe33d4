/* Networks of a cluster: create (a subnet from the pool or given, a bridge), list,
 * inspect, remove. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/json.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "model/name.h"
#include "net/dns.h"
#include "net/netlink.h"
#include "net/service-internal.h"

json_t *net_network_json(const struct store_network *n)
{
  char subnet[16], gateway[16], cidr[24], created[32];
  ip4_format(n->subnet, subnet);
  ip4_format(n->gateway, gateway);
  snprintf(cidr, sizeof cidr, "%s/%d", subnet, n->prefix);
  nc_time_rfc3339(n->created_at, created, sizeof created);
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", n->id, "name", n->name,
                   "cluster", n->cluster, "namespace", n->namespace_, "bridge", n->bridge,
                   "subnet", cidr, "gateway", gateway, "created_at", created);
}

static bool bridge_name_ok(const char *name)
{
  size_t len = strlen(name);
  if (len == 0 || len > 15)
    return false;
  for (const char *p = name; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '-' || *p == '_' || *p == '.'))
      return false;
  return true;
}

/* A prefix of the host (a route or an address not on one of our bridges) that
 * overlaps subnet/prefix, or NULL. */
static const struct nl_prefix *host_overlap(const struct nl_prefix *host, size_t nhost,
                                            uint32_t subnet, int prefix)
{
  for (size_t i = 0; i < nhost; i++)
    if (host[i].len > 0 && ip4_overlap(host[i].addr, host[i].len, subnet, prefix))
      return &host[i];
  return NULL;
}

static bool stored_overlap(const struct store_network_list *nets, uint32_t subnet, int prefix)
{
  for (size_t i = 0; i < nets->len; i++)
    if (ip4_overlap(nets->items[i].subnet, nets->items[i].prefix, subnet, prefix))
      return true;
  return false;
}

/* The subnet of a new network: the one asked for, checked against the host's routes
 * and addresses, or the first /24 of the pool that overlaps nothing. */
static int choose_subnet(struct net_service *svc, const char *asked, struct store_network *n,
                         struct nc_err *err)
{
  struct nl_prefix *host = NULL;
  size_t nhost = 0;
  struct store_network_list nets = { 0 };
  struct store_tx *tx;
  if (nl_prefixes(svc->nl, &host, &nhost, err) < 0)
    return -1;
  /* Our own bridges' routes are networks of the store: those are checked there, with a
   * message naming the network. */
  int r = store_begin(svc->store, STORE_TX_READ, &tx, err);
  if (r == 0) {
    r = store_network_list(tx, NULL, NULL, &nets, err);
    store_commit(tx, &(struct nc_err)NC_ERR_INIT);
  }
  for (size_t i = 0; r == 0 && i < nhost; i++)
    for (size_t j = 0; j < nets.len; j++)
      if (!strcmp(host[i].ifname, nets.items[j].bridge))
        host[i].len = 0;
  if (r == 0 && asked) {
    const struct nl_prefix *h;
    if (ip4_cidr_parse(asked, &n->subnet, &n->prefix) < 0)
      r = nc_err_set(err, NC_ERR_INVALID,
                     "subnet '%.64s' is not an IPv4 network address with a prefix of /8 to /30 "
                     "(e.g. 10.20.0.0/24)",
                     asked);
    else if ((h = host_overlap(host, nhost, n->subnet, n->prefix)))
      r = nc_err_set(err, NC_ERR_CONFLICT, "subnet %s overlaps a route of this host (on %s)",
                     asked, h->ifname[0] ? h->ifname : "?");
  } else if (r == 0) {
    uint32_t step = 1u << (32 - NET_SUBNET_PREFIX);
    uint64_t end = (uint64_t)svc->pool + (1ull << (32 - svc->pool_prefix));
    bool found = false;
    for (uint64_t s = svc->pool; !found && s < end; s += step)
      if (!stored_overlap(&nets, (uint32_t)s, NET_SUBNET_PREFIX) &&
          !host_overlap(host, nhost, (uint32_t)s, NET_SUBNET_PREFIX)) {
        n->subnet = (uint32_t)s;
        n->prefix = NET_SUBNET_PREFIX;
        found = true;
      }
    if (!found) {
      char pool[16];
      ip4_format(svc->pool, pool);
      r = nc_err_set(err, NC_ERR_CONFLICT,
                     "the network pool %s/%d has no free /%d left; remove a network or start "
                     "nanocld with a larger --network-pool",
                     pool, svc->pool_prefix, NET_SUBNET_PREFIX);
    }
  }
  free(host);
  store_network_list_free(&nets);
  n->gateway = n->subnet + 1;
  return r;
}

static int new_id(struct store_network *n, struct nc_err *err)
{
  unsigned char raw[32];
  if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
    return nc_err_sys(err, errno, "cannot make a network id");
  for (int i = 0; i < 32; i++)
    snprintf(n->id + 2 * i, 3, "%02x", raw[i]);
  return 0;
}

static int insert(struct net_service *svc, const struct store_network *n, struct nc_err *err)
{
  struct store_tx *tx;
  struct store_cluster c;
  if (store_begin(svc->store, STORE_TX_WRITE, &tx, err) < 0)
    return -1;
  if (store_cluster_get(tx, n->namespace_, n->cluster, &c, err) < 0 ||
      store_network_insert(tx, n, err) < 0) {
    store_rollback(tx);
    return -1;
  }
  return store_commit(tx, err);
}

static int delete_row(struct net_service *svc, const char *id, struct nc_err *err)
{
  struct store_tx *tx;
  if (store_begin(svc->store, STORE_TX_WRITE, &tx, err) < 0)
    return -1;
  if (store_network_delete(tx, id, err) < 0) {
    store_rollback(tx);
    return -1;
  }
  return store_commit(tx, err);
}

int net_network_create(struct net_service *svc, const char *ns, const char *cluster,
                       json_t *body, json_t **out, struct nc_err *err)
{
  static const char *const fields[] = { "name", "subnet", "bridge", NULL };
  const char *name = NULL, *subnet = NULL, *bridge = NULL;
  if (nc_json_check_fields(body, fields, err) < 0 ||
      nc_json_get_string(body, "name", true, &name, err) < 0 ||
      nc_json_get_string(body, "subnet", false, &subnet, err) < 0 ||
      nc_json_get_string(body, "bridge", false, &bridge, err) < 0 ||
      nc_name_check("network", name, err) < 0)
    return -1;
  if (bridge && !bridge_name_ok(bridge))
    return nc_err_set(err, NC_ERR_INVALID,
                      "bridge '%.64s': an interface name is 1 to 15 letters, digits, '-', '_' "
                      "or '.'",
                      bridge);
  struct store_network n = { .created_at = nc_time_now() };
  snprintf(n.namespace_, sizeof n.namespace_, "%s", ns);
  snprintf(n.cluster, sizeof n.cluster, "%s", cluster);
  snprintf(n.name, sizeof n.name, "%s", name);

  pthread_mutex_lock(&svc->mu);
  int r = choose_subnet(svc, subnet, &n, err);
  /* A generated bridge name that some interface of the host already has: another id. */
  for (int tries = 0; r == 0 && tries < 8; tries++) {
    r = new_id(&n, err);
    if (r < 0)
      break;
    if (bridge)
      snprintf(n.bridge, sizeof n.bridge, "%s", bridge);
    else
      snprintf(n.bridge, sizeof n.bridge, "nc-%.8s", n.id);
    int idx = nl_link_index(svc->nl, n.bridge, err);
    if (idx < 0)
      r = -1;
    else if (idx > 0 && bridge)
      r = nc_err_set(err, NC_ERR_CONFLICT, "interface '%s' already exists on this host",
                     bridge);
    else if (idx == 0)
      break;
  }
  if (r == 0)
    r = insert(svc, &n, err);
  bool inserted = r == 0;
  if (r == 0)
    r = net_bridge_ensure(svc, &n, NULL, err);
  if (r == 0)
    r = net_rules_sync(svc, err);
  if (r == 0)
    r = net_dns_sync(svc, &n, err);
  if (r < 0 && inserted) {
    /* Undo in reverse: nothing of a refused network stays. */
    struct nc_err ignore = NC_ERR_INIT;
    char id[13];
    snprintf(id, sizeof id, "%.12s", n.id);
    dns_stop(svc->dns_dir, id, &ignore);
    nl_link_delete(svc->nl, n.bridge, &ignore);
    delete_row(svc, n.id, &ignore);
    net_rules_sync(svc, &ignore);
  }
  pthread_mutex_unlock(&svc->mu);
  if (r < 0)
    return -1;
  char ip[16];
  ip4_format(n.subnet, ip);
  nc_log(NC_LOG_INFO, "net: network '%s' of cluster '%s': bridge %s, %s/%d", n.name, cluster,
         n.bridge, ip, n.prefix);
  *out = net_network_json(&n);
  return 0;
}

static int load(struct net_service *svc, const char *ns, const char *cluster, const char *name,
                struct store_network *n, struct store_attachment_list *atts, struct nc_err *err)
{
  struct store_tx *tx;
  struct store_cluster c;
  if (store_begin(svc->store, STORE_TX_READ, &tx, err) < 0)
    return -1;
  int r = store_cluster_get(tx, ns, cluster, &c, err);
  if (r == 0)
    r = store_network_get(tx, ns, cluster, name, n, err);
  if (r == 0 && atts)
    r = store_attachment_list(tx, n->id, atts, err);
  store_commit(tx, &(struct nc_err)NC_ERR_INIT);
  return r;
}

int net_network_list(struct net_service *svc, const char *ns, const char *cluster, json_t **out,
                     struct nc_err *err)
{
  struct store_tx *tx;
  struct store_cluster c;
  struct store_network_list nets = { 0 };
  if (store_begin(svc->store, STORE_TX_READ, &tx, err) < 0)
    return -1;
  int r = store_cluster_get(tx, ns, cluster, &c, err);
  if (r == 0)
    r = store_network_list(tx, ns, cluster, &nets, err);
  store_commit(tx, &(struct nc_err)NC_ERR_INIT);
  if (r < 0)
    return -1;
  json_t *arr = json_array();
  for (size_t i = 0; i < nets.len; i++)
    json_array_append_new(arr, net_network_json(&nets.items[i]));
  store_network_list_free(&nets);
  *out = arr;
  return 0;
}

int net_network_inspect(struct net_service *svc, const char *ns, const char *cluster,
                        const char *name, json_t **out, struct nc_err *err)
{
  struct store_network n;
  struct store_attachment_list atts = { 0 };
  if (load(svc, ns, cluster, name, &n, &atts, err) < 0)
    return -1;
  json_t *j = net_network_json(&n), *arr = json_array();
  for (size_t i = 0; i < atts.len; i++) {
    char ip[16];
    ip4_format(atts.items[i].addr, ip);
    json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "id", atts.items[i].container_id,
                                         "name", atts.items[i].container_name, "ip", ip));
  }
  store_attachment_list_free(&atts);
  json_object_set_new(j, "containers", arr);
  *out = j;
  return 0;
}

int net_network_remove(struct net_service *svc, const char *ns, const char *cluster,
                       const char *name, struct nc_err *err)
{
  struct store_network n = { 0 };
  struct store_attachment_list atts = { 0 };
  pthread_mutex_lock(&svc->mu);
  int r = load(svc, ns, cluster, name, &n, &atts, err);
  if (r == 0 && atts.len)
    r = nc_err_set(err, NC_ERR_CONFLICT,
                   "network '%s' has %zu container%s attached (%s%s); remove them first", name,
                   atts.len, atts.len == 1 ? "" : "s", atts.items[0].container_name,
                   atts.len > 1 ? ", …" : "");
  store_attachment_list_free(&atts);
  /* The kernel first, the row last: a crash in between leaves a row whose bridge
   * nanocld makes again at start, never a bridge nobody knows. */
  char id[13];
  snprintf(id, sizeof id, "%.12s", n.id);
  if (r == 0)
    r = dns_stop(svc->dns_dir, id, err);
  if (r == 0)
    r = nl_link_delete(svc->nl, n.bridge, err);
  if (r == 0)
    r = delete_row(svc, n.id, err);
  if (r == 0)
    r = net_rules_sync(svc, err);
  pthread_mutex_unlock(&svc->mu);
  if (r == 0)
    nc_log(NC_LOG_INFO, "net: removed network '%s' of cluster '%s' (bridge %s)", name, cluster,
           n.bridge);
  return r;
}
