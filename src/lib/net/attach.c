/* A container's place on a network: its address and ports (reserved in the store with
 * the container), its network namespace and veth (made at start, removed with it). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <pthread.h>

#include "base/log.h"
#include "base/parse.h"
#include "base/timeutil.h"
#include "net/netlink.h"
#include "net/service-internal.h"

static int port_number(const char *text, size_t len, const char *what, const char *all,
                       uint16_t *out, struct nc_err *err)
{
  char buf[8];
  uint64_t v;
  if (len == 0 || len >= sizeof buf)
    return nc_err_set(err, NC_ERR_INVALID, "publish '%.64s': %s port missing or not a number",
                      all, what);
  memcpy(buf, text, len);
  buf[len] = '\0';
  if (nc_parse_u64(buf, 65535, &v) < 0 || v == 0)
    return nc_err_set(err, NC_ERR_INVALID, "publish '%.64s': %s port must be 1-65535", all,
                      what);
  *out = (uint16_t)v;
  return 0;
}

int net_port_parse(const char *text, struct store_port *out, struct nc_err *err)
{
  memset(out, 0, sizeof *out);
  snprintf(out->proto, sizeof out->proto, "tcp");
  const char *slash = strchr(text, '/');
  size_t len = slash ? (size_t)(slash - text) : strlen(text);
  if (slash) {
    if (strcmp(slash + 1, "tcp") && strcmp(slash + 1, "udp"))
      return nc_err_set(err, NC_ERR_INVALID,
                        "publish '%.64s': the protocol must be tcp or udp", text);
    snprintf(out->proto, sizeof out->proto, "%s", slash + 1);
  }
  /* [HOST_IP:]HOST_PORT:CONTAINER_PORT */
  const char *last = memrchr(text, ':', len);
  if (!last)
    return nc_err_set(err, NC_ERR_INVALID,
                      "publish '%.64s': expected [HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp]",
                      text);
  const char *first = memchr(text, ':', len);
  const char *hp = text;
  if (first != last) {
    char ip[16];
    size_t iplen = (size_t)(first - text);
    if (iplen >= sizeof ip)
      return nc_err_set(err, NC_ERR_INVALID, "publish '%.64s': host address is not IPv4", text);
    memcpy(ip, text, iplen);
    ip[iplen] = '\0';
    if (ip4_parse(ip, &out->host_ip) < 0)
      return nc_err_set(err, NC_ERR_INVALID, "publish '%.64s': host address is not IPv4", text);
    hp = first + 1;
  }
  if (port_number(hp, (size_t)(last - hp), "the host", text, &out->host_port, err) < 0 ||
      port_number(last + 1, len - (size_t)(last + 1 - text), "the container", text, &out->port,
                  err) < 0)
    return -1;
  return 0;
}

int net_port_check_host(const struct store_port *p, struct nc_err *err)
{
  bool udp = !strcmp(p->proto, "udp");
  int fd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return nc_err_sys(err, errno, "cannot check port %u/%s", p->host_port, p->proto);
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(p->host_port),
                            .sin_addr.s_addr = htonl(p->host_ip) };
  int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
  int e = errno;
  close(fd);
  if (r == 0)
    return 0;
  if (e == EADDRINUSE)
    return nc_err_set(err, NC_ERR_CONFLICT, "port %u/%s is in use on this host", p->host_port,
                      p->proto);
  if (e == EADDRNOTAVAIL)
    return nc_err_set(err, NC_ERR_INVALID, "publish: the host has no address %u.%u.%u.%u",
                      p->host_ip >> 24, (p->host_ip >> 16) & 255, (p->host_ip >> 8) & 255,
                      p->host_ip & 255);
  return nc_err_sys(err, e, "cannot check port %u/%s", p->host_port, p->proto);
}

int net_container_reserve(struct store_tx *tx, const char *ns, const char *cluster,
                          const char *network, const char *container_id,
                          const struct store_port *ports, size_t nports,
                          struct store_network *net_out, uint32_t *addr, struct nc_err *err)
{
  if (store_network_get(tx, ns, cluster, network, net_out, err) < 0 ||
      store_attachment_add(tx, net_out, container_id, addr, err) < 0)
    return -1;
  for (size_t i = 0; i < nports; i++) {
    struct store_port p = ports[i];
    snprintf(p.container_id, sizeof p.container_id, "%s", container_id);
    if (store_port_insert(tx, &p, err) < 0)
      return -1;
  }
  return 0;
}

/* The container's namespace file and host-side veth name (<= 15 bytes). */
static void names(struct net_service *svc, const char *id, char *netns, size_t size,
                  char veth[16])
{
  if (snprintf(netns, size, "%s/%.64s", svc->netns_dir, id) >= (int)size)
    netns[0] = '\0'; /* netns_dir is checked short at init */
  snprintf(veth, 16, "nv%.12s", id);
}

int net_container_attach(struct net_service *svc, const char *container_id,
                         struct net_container *out, struct nc_err *err)
{
  memset(out, 0, sizeof *out);
  struct store_tx *tx;
  struct store_attachment a;
  struct store_network n;
  if (store_begin(svc->store, STORE_TX_READ, &tx, err) < 0)
    return -1;
  struct nc_err none = NC_ERR_INIT;
  int r = store_attachment_get(tx, container_id, &a, &none);
  if (r == 0)
    r = store_network_get_id(tx, a.network_id, &n, err);
  store_commit(tx, &(struct nc_err)NC_ERR_INIT);
  if (r < 0)
    return none.kind == NC_ERR_NOT_FOUND ? 0 : -1; /* on no network: only lo */
  char veth[16];
  names(svc, container_id, out->netns_path, sizeof out->netns_path, veth);
  struct netns_attach at = { .netns_path = out->netns_path, .bridge = n.bridge,
                             .host_veth = veth, .addr = a.addr, .prefix = n.prefix,
                             .gateway = n.gateway };
  uint64_t t0 = nc_time_mono_ns();
  pthread_mutex_lock(&svc->mu);
  /* The bridge may be gone (removed by hand): make it again rather than fail. When it
   * is there it was configured at its creation or at nanocld's start. */
  r = nl_link_index(svc->nl, n.bridge, err);
  if (r == 0 && (r = net_bridge_ensure(svc, &n, NULL, err)) == 0)
    net_reattach_veths(svc, &n);
  r = r < 0 ? -1 : 0;
  if (r == 0)
    r = netns_attach(svc->nl, &at, err);
  pthread_mutex_unlock(&svc->mu);
  if (r < 0)
    return nc_err_wrap(err, "network '%s'", n.name);
  out->attached = true;
  ip4_format(a.addr, out->ip);
  /* bench/networks reads this line: the kernel side of a container's network. */
  nc_log(NC_LOG_DEBUG, "net: container %.12s on network %s at %s: set up in %.3f ms",
         container_id, n.name, out->ip, (double)(nc_time_mono_ns() - t0) / 1e6);
  ip4_format(n.gateway, out->gateway);
  snprintf(out->network, sizeof out->network, "%s", n.name);
  return 0;
}

static void *delete_veth(void *arg)
{
  struct nl *nl;
  struct nc_err err = NC_ERR_INIT;
  if (nl_open(&nl, -1, &err) == 0) {
    nl_link_delete(nl, arg, &err);
    nl_close(nl);
  }
  free(arg);
  return NULL;
}

/* A bridge made again (by hand, or at start after it was deleted) has lost its ports:
 * the veths of the containers already on it are put back. */
void net_reattach_veths(struct net_service *svc, const struct store_network *n)
{
  struct store_tx *tx;
  struct store_attachment_list atts = { 0 };
  struct nc_err err = NC_ERR_INIT;
  if (store_begin(svc->store, STORE_TX_READ, &tx, &err) < 0)
    return;
  if (store_attachment_list(tx, n->id, &atts, &err) < 0)
    atts.len = 0;
  store_commit(tx, &err);
  for (size_t i = 0; i < atts.len; i++) {
    char netns[PATH_MAX], veth[16];
    names(svc, atts.items[i].container_id, netns, sizeof netns, veth);
    if (nl_link_set_master(svc->nl, veth, n->bridge, &err) < 0)
      nc_log(NC_LOG_WARN, "net: %s", err.msg);
  }
  store_attachment_list_free(&atts);
}

int net_container_detach(struct net_service *svc, const char *container_id, struct nc_err *err)
{
  char netns[PATH_MAX], veth[16];
  names(svc, container_id, netns, sizeof netns, veth);
  bool had = netns_exists(netns);
  uint64_t t0 = nc_time_mono_ns();
  /* Only the namespace's mount goes: with the container's processes gone it was the
   * last reference, and the kernel destroys the namespace in the background, eth0 and
   * so its veth peer with it. Deleting the veth ourselves waits for the kernel's RCU
   * grace periods, 25-30 ms per container; the name is never reused (it comes from the
   * container's id) and a leftover found by a later attach is deleted there. */
  pthread_mutex_lock(&svc->mu);
  int r = netns_remove(netns, err);
  pthread_mutex_unlock(&svc->mu);
  /* …and in case something still holds the namespace (an nsenter, an open fd), the
   * veth is deleted too, off this thread: its old address must not answer ARP from the
   * bridge when the address goes to the next container. */
  char *name = r == 0 && had ? strdup(veth) : NULL;
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  if (name && pthread_create(&t, &attr, delete_veth, name) != 0)
    free(name);
  pthread_attr_destroy(&attr);
  if (r == 0 && had)
    nc_log(NC_LOG_DEBUG, "net: container %.12s: network torn down in %.3f ms", container_id,
           (double)(nc_time_mono_ns() - t0) / 1e6);
  return r;
}
