/* The network service: start-up (make the kernel match the store), the nftables table
 * and the DNS hosts files kept in step with the store. */
#include "net/service.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fs.h"
#include "base/log.h"
#include "model/cluster.h"
#include "net/dns.h"
#include "net/netlink.h"
#include "net/nft.h"
#include "net/service-internal.h"

static int write_sysctl(const char *path, const char *value, struct nc_err *err)
{
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return nc_err_sys(err, errno, "cannot open %s", path);
  ssize_t n = write(fd, value, strlen(value));
  int saved = errno;
  close(fd);
  if (n < 0)
    return nc_err_sys(err, saved, "cannot write %s", path);
  return 0;
}

/* Containers on a network reach out through the host: IPv4 forwarding must be on.
 * It is a setting of the whole (network namespace of the) host, so nanocld turns it
 * on only once a network exists, and says so. */
static int enable_forwarding(struct net_service *svc, struct nc_err *err)
{
  if (svc->forwarding)
    return 0;
  char cur[4] = "";
  int fd = open("/proc/sys/net/ipv4/ip_forward", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = read(fd, cur, sizeof cur - 1);
    cur[n > 0 ? n : 0] = '\0';
    close(fd);
  }
  if (cur[0] != '1' || access(svc->forward_mark, F_OK) == 0) {
    /* Remembered in the run dir: a restarted nanocld finds forwarding on, but it was
     * ours to turn on, and the guard against routing the host's other traffic stays. */
    svc->forward_was_off = true;
    int mark = open(svc->forward_mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (mark >= 0)
      close(mark);
  }
  if (cur[0] != '1') {
    if (write_sysctl("/proc/sys/net/ipv4/ip_forward", "1", err) < 0)
      return -1;
    nc_log(NC_LOG_INFO, "net: enabled IPv4 forwarding (net.ipv4.ip_forward=1) for the "
                        "container networks");
  }
  svc->forwarding = true;
  return 0;
}

int net_bridge_ensure(struct net_service *svc, const struct store_network *n, bool *created,
                      struct nc_err *err)
{
  int idx = nl_link_index(svc->nl, n->bridge, err);
  if (idx < 0)
    return -1;
  if (created)
    *created = idx == 0;
  if (idx == 0 && nl_bridge_create(svc->nl, n->bridge, err) < 0)
    return -1;
  char path[128];
  snprintf(path, sizeof path, "/proc/sys/net/ipv4/conf/%s/route_localnet", n->bridge);
  /* route_localnet: connections to a published port on 127.0.0.1 are DNATed to the
   * container and leave by the bridge with source 127.0.0.1 (masqueraded on the way,
   * see nft.h); without it the kernel drops them as martians. */
  if (nl_addr_add(svc->nl, n->bridge, n->gateway, n->prefix, err) < 0 ||
      nl_link_up(svc->nl, n->bridge, err) < 0 || write_sysctl(path, "1", err) < 0 ||
      enable_forwarding(svc, err) < 0) {
    if (idx == 0)
      nl_link_delete(svc->nl, n->bridge, &(struct nc_err)NC_ERR_INIT);
    return -1;
  }
  return 0;
}

/* The whole table from the store: every network, every published port. */
int net_rules_sync(struct net_service *svc, struct nc_err *err)
{
  struct store_tx *tx;
  struct store_network_list nets = { 0 };
  struct store_port_list ports = { 0 };
  struct store_attachment_list atts = { 0 };
  if (store_begin(svc->store, STORE_TX_READ, &tx, err) < 0)
    return -1;
  int r = store_network_list(tx, NULL, NULL, &nets, err);
  if (r == 0)
    r = store_port_list(tx, NULL, &ports, err);
  if (r == 0)
    r = store_attachment_list(tx, NULL, &atts, err);
  store_commit(tx, &(struct nc_err)NC_ERR_INIT);
  struct nft_network *nn = calloc(nets.len + 1, sizeof *nn);
  struct nft_port *np = calloc(ports.len + 1, sizeof *np);
  if (r == 0 && (!nn || !np))
    r = nc_err_set(err, NC_ERR_INTERNAL, "out of memory");
  size_t k = 0;
  for (size_t i = 0; r == 0 && i < nets.len; i++) {
    snprintf(nn[i].bridge, sizeof nn[i].bridge, "%s", nets.items[i].bridge);
    nn[i].subnet = nets.items[i].subnet;
    nn[i].prefix = nets.items[i].prefix;
    nn[i].gateway = nets.items[i].gateway;
  }
  for (size_t i = 0; r == 0 && i < ports.len; i++) {
    const struct store_port *p = &ports.items[i];
    const struct store_attachment *a = NULL;
    for (size_t j = 0; j < atts.len && !a; j++)
      if (!strcmp(atts.items[j].container_id, p->container_id))
        a = &atts.items[j];
    const struct store_network *n = NULL;
    for (size_t j = 0; a && j < nets.len && !n; j++)
      if (!strcmp(nets.items[j].id, a->network_id))
        n = &nets.items[j];
    if (!n)
      continue; /* ports need a network: the API refuses them without one */
    np[k] = (struct nft_port){ .host_ip = p->host_ip, .host_port = p->host_port,
                               .addr = a->addr, .port = p->port };
    snprintf(np[k].proto, sizeof np[k].proto, "%s", p->proto);
    snprintf(np[k].bridge, sizeof np[k].bridge, "%s", n->bridge);
    k++;
  }
  /* No network, no table: a host that never made one keeps its ruleset untouched. */
  if (r == 0)
    r = nets.len ? nft_apply(svc->table, nn, nets.len, np, k, svc->forward_was_off, err)
                 : nft_remove(svc->table, err);
  free(nn);
  free(np);
  store_network_list_free(&nets);
  store_port_list_free(&ports);
  store_attachment_list_free(&atts);
  return r;
}

/* The dns_entry ("IP:DOMAIN", {{vars.…}} rendered with the cluster's variables) of each
 * cargo joined on network `n`: DOMAIN answers IP there. A cargo whose entry cannot be
 * rendered is skipped (its rollout says why). */
static int dns_entries(struct net_service *svc, const struct store_network *n, struct nc_buf *hosts,
                       struct nc_err *err)
{
  struct store_tx *tx;
  struct store_join_list joins = { 0 };
  struct store_variable_list vars = { 0 };
  if (store_begin(svc->store, STORE_TX_READ, &tx, err) < 0)
    return -1;
  int r = store_join_list(tx, n->namespace_, NULL, n->cluster, &joins, err);
  if (r == 0)
    r = store_variable_list(tx, n->namespace_, n->cluster, &vars, err);
  for (size_t i = 0; r == 0 && i < joins.len; i++) {
    struct store_cargo c = { 0 };
    if (strcmp(joins.items[i].network, n->name) ||
        store_cargo_get(tx, n->namespace_, joins.items[i].cargo, &c, err) < 0)
      continue;
    json_t *spec = json_loads(c.spec, 0, NULL);
    const char *entry = json_string_value(json_object_get(spec, "dns_entry"));
    char *text = NULL;
    struct nc_err ignore = NC_ERR_INIT;
    if (entry && model_variables_render(&vars, n->cluster, entry, &text, &ignore) == 0) {
      char *colon = strchr(text, ':');
      uint32_t a;
      if (colon) {
        *colon = '\0';
        if (ip4_parse(text, &a) == 0 && nc_buf_printf(hosts, "%s %s\n", text, colon + 1) < 0)
          r = nc_err_set(err, NC_ERR_INTERNAL, "out of memory");
      }
    }
    free(text);
    json_decref(spec);
    store_cargo_free(&c);
  }
  store_commit(tx, &(struct nc_err)NC_ERR_INIT);
  store_join_list_free(&joins);
  store_variable_list_free(&vars);
  return r;
}

/* The hosts file of one network's DNS server: each attached container's name. */
int net_dns_sync(struct net_service *svc, const struct store_network *n, struct nc_err *err)
{
  struct store_tx *tx;
  struct store_attachment_list atts = { 0 };
  if (store_begin(svc->store, STORE_TX_READ, &tx, err) < 0)
    return -1;
  int r = store_attachment_list(tx, n->id, &atts, err);
  store_commit(tx, &(struct nc_err)NC_ERR_INIT);
  struct nc_buf hosts;
  nc_buf_init(&hosts, 16u << 20);
  for (size_t i = 0; r == 0 && i < atts.len; i++) {
    char ip[16], line[200];
    ip4_format(atts.items[i].addr, ip);
    /* A cargo's name answers with every instance on this network (dnsmasq rotates
     * the order of several addresses of one name: round robin). */
    const char *cargo = atts.items[i].cargo;
    int len = snprintf(line, sizeof line, "%s %s%s%s\n", ip, atts.items[i].container_name,
                       cargo[0] ? " " : "", cargo);
    if (nc_buf_append(&hosts, line, (size_t)len) < 0)
      r = nc_err_set(err, NC_ERR_INTERNAL, "out of memory");
  }
  store_attachment_list_free(&atts);
  if (r == 0)
    r = dns_entries(svc, n, &hosts, err);
  if (r == 0 && nc_buf_append(&hosts, "", 1) < 0)
    r = nc_err_set(err, NC_ERR_INTERNAL, "out of memory");
  if (r == 0) {
    char id[13];
    snprintf(id, sizeof id, "%.12s", n->id);
    struct dns_config c = { .dir = svc->dns_dir, .id = id, .bridge = n->bridge,
                            .listen_addr = n->gateway,
                            .dnsmasq = svc->dnsmasq[0] ? svc->dnsmasq : NULL,
                            .upstream = svc->dns_upstream };
    r = dns_ensure(&c, hosts.data, err);
    if (r < 0 && strstr(err->msg, "Permission denied"))
      nc_err_wrap(err, "DNS server of network '%s' (dnsmasq reads %s as nobody: every "
                       "directory above it must be searchable by others, chmod o+x)",
                  n->name, svc->dns_dir);
    else if (r < 0)
      nc_err_wrap(err, "DNS server of network '%s'", n->name);
  }
  nc_buf_free(&hosts);
  return r;
}

int net_refresh(struct net_service *svc, const char *network_id, bool ports, struct nc_err *err)
{
  pthread_mutex_lock(&svc->mu);
  int r = 0;
  if (network_id) {
    struct store_tx *tx;
    struct store_network n;
    r = store_begin(svc->store, STORE_TX_READ, &tx, err);
    if (r == 0) {
      r = store_network_get_id(tx, network_id, &n, err);
      store_commit(tx, &(struct nc_err)NC_ERR_INIT);
    }
    if (r == 0)
      r = net_dns_sync(svc, &n, err);
  }
  /* The rules even when the DNS server failed: a stale DNAT would send a removed
   * container's port to whoever gets its address next. */
  if (ports) {
    struct nc_err e = NC_ERR_INIT;
    if (net_rules_sync(svc, r == 0 ? err : &e) < 0)
      r = -1;
  }
  pthread_mutex_unlock(&svc->mu);
  return r;
}

static int parse_pool(struct net_service *svc, const char *pool, struct nc_err *err)
{
  if (ip4_cidr_parse(pool, &svc->pool, &svc->pool_prefix) < 0 ||
      svc->pool_prefix > NET_SUBNET_PREFIX)
    return nc_err_set(err, NC_ERR_INVALID,
                      "network pool '%s' is not an IPv4 network of /8 to /%d (e.g. %s)", pool,
                      NET_SUBNET_PREFIX, NET_DEFAULT_POOL);
  return 0;
}

int net_service_init(struct net_service *svc, struct store *store, const char *run_dir,
                     const struct net_options *opt, struct nc_err *err)
{
  memset(svc, 0, sizeof *svc);
  svc->store = store;
  pthread_mutex_init(&svc->mu, NULL);
  snprintf(svc->netns_dir, sizeof svc->netns_dir, "%s/netns", run_dir);
  snprintf(svc->dns_dir, sizeof svc->dns_dir, "%s/dns", run_dir);
  snprintf(svc->forward_mark, sizeof svc->forward_mark, "%s/ip_forward.ours", run_dir);
  snprintf(svc->table, sizeof svc->table, "%s", opt && opt->table ? opt->table : NET_DEFAULT_TABLE);
  if (opt && opt->dnsmasq)
    snprintf(svc->dnsmasq, sizeof svc->dnsmasq, "%s", opt->dnsmasq);
  if (opt && opt->dns_upstream) {
    if (dns_upstream_check(opt->dns_upstream, err) < 0)
      return -1;
    snprintf(svc->dns_upstream, sizeof svc->dns_upstream, "%s", opt->dns_upstream);
  }
  if (parse_pool(svc, opt && opt->pool ? opt->pool : NET_DEFAULT_POOL, err) < 0 ||
      nc_mkdir_p(svc->netns_dir, 0700, err) < 0 || nc_mkdir_p(svc->dns_dir, 0755, err) < 0 ||
      nl_open(&svc->nl, -1, err) < 0) {
    pthread_mutex_destroy(&svc->mu);
    return -1;
  }

  struct store_tx *tx;
  struct store_network_list nets = { 0 };
  int r = store_begin(store, STORE_TX_READ, &tx, err);
  if (r == 0) {
    r = store_network_list(tx, NULL, NULL, &nets, err);
    store_commit(tx, &(struct nc_err)NC_ERR_INIT);
  }
  /* One broken network (its DNS server cannot start, say) must not keep nanocld, and
   * so every other network, image and container, from coming up: it is logged, and
   * the network stays as it is until it is fixed or removed. */
  size_t broken = 0;
  for (size_t i = 0; r == 0 && i < nets.len; i++) {
    bool created = false;
    struct nc_err e = NC_ERR_INIT;
    int k = net_bridge_ensure(svc, &nets.items[i], &created, &e);
    if (k == 0 && created) {
      nc_log(NC_LOG_INFO, "net: made bridge %s of network '%s' again", nets.items[i].bridge,
             nets.items[i].name);
      net_reattach_veths(svc, &nets.items[i]);
    }
    if (k == 0)
      k = net_dns_sync(svc, &nets.items[i], &e);
    if (k < 0) {
      broken++;
      nc_log(NC_LOG_ERROR, "net: network '%s' of cluster '%s': %s", nets.items[i].name,
             nets.items[i].cluster, e.msg);
    }
  }
  if (r == 0) {
    struct nc_err e = NC_ERR_INIT;
    if (net_rules_sync(svc, &e) < 0)
      nc_log(NC_LOG_ERROR, "net: nftables: %s (networks are not isolated nor NATed)", e.msg);
  }
  if (r == 0 && broken)
    nc_log(NC_LOG_WARN, "net: %zu of %zu networks are not fully working", broken, nets.len);
  if (r == 0 && nets.len)
    nc_log(NC_LOG_INFO, "net: %zu network%s ready, nftables table inet %s", nets.len,
           nets.len == 1 ? "" : "s", svc->table);
  store_network_list_free(&nets);
  if (r < 0) {
    nc_err_wrap(err, "networks");
    net_service_destroy(svc);
  }
  return r;
}

void net_service_destroy(struct net_service *svc)
{
  /* Bridges, rules, namespaces and DNS servers stay: running containers use them. */
  if (svc->nl)
    nl_close(svc->nl);
  svc->nl = NULL;
  pthread_mutex_destroy(&svc->mu);
}
