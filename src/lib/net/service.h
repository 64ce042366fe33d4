/* The network service of nanocld: the networks of clusters made real in the kernel
 * (a Linux bridge each, with the gateway address), the nftables table that isolates
 * them, NATs them and publishes ports (nft.h), one DNS server per network (dns.h),
 * and each container's place on its network (netns + veth, netlink.h).
 *
 * The store is the truth; the kernel is made to match it. Creating writes the store
 * first and then the kernel (undoing the row if the kernel refuses); removing undoes
 * the kernel first and then the row. A crash in between leaves a row whose kernel
 * objects are missing, which net_service_init makes again: a restarted nanocld
 * re-adopts what exists (bridges, namespaces of running containers, dnsmasq) and
 * recreates what is missing. Kernel changes are serialised by `mu`. */
#pragma once

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "store/store.h"

#define NET_DEFAULT_POOL "10.210.0.0/16"
#define NET_DEFAULT_TABLE "nanocl"
#define NET_SUBNET_PREFIX 24 /* the pool is cut into /24s */

struct nl;

struct net_options {
  const char *pool;    /* CIDR the subnets of new networks come from (NULL: default) */
  const char *table;   /* the nftables table nanocld owns (NULL: "nanocl") */
  const char *dnsmasq; /* dnsmasq executable (NULL: looked up) */
  const char *dns_upstream; /* "IP[:PORT],…" for names the networks do not know (NULL:
                             * the host's resolvers, /etc/resolv.conf) */
};

struct net_service {
  struct store *store;
  char netns_dir[PATH_MAX]; /* RUN_DIR/netns: one bind-mounted namespace per container */
  char dns_dir[PATH_MAX];   /* RUN_DIR/dns */
  char table[33];
  char dnsmasq[PATH_MAX];
  char dns_upstream[400];
  uint32_t pool;
  int pool_prefix;
  pthread_mutex_t mu;
  struct nl *nl;        /* rtnetlink in nanocld's own network namespace */
  bool forwarding;      /* net.ipv4.ip_forward checked (and set if need be) */
  bool forward_was_off; /* we turned it on: forward only our networks' traffic */
  char forward_mark[PATH_MAX]; /* RUN_DIR/ip_forward.ours: that, across restarts */
};

/* Opens netlink, and makes the kernel match the store: bridges, addresses, the
 * nftables table, the DNS servers. */
int net_service_init(struct net_service *svc, struct store *store, const char *run_dir,
                     const struct net_options *opt, struct nc_err *err);
void net_service_destroy(struct net_service *svc);

/* Networks of a cluster. body: {"name", "subnet"?: "CIDR", "bridge"?: "ifname"}. */
int net_network_create(struct net_service *svc, const char *ns, const char *cluster,
                       json_t *body, json_t **out, struct nc_err *err);
int net_network_list(struct net_service *svc, const char *ns, const char *cluster,
                     json_t **out, struct nc_err *err);
int net_network_inspect(struct net_service *svc, const char *ns, const char *cluster,
                        const char *name, json_t **out, struct nc_err *err);
/* 409 while containers are attached. */
int net_network_remove(struct net_service *svc, const char *ns, const char *cluster,
                       const char *name, struct nc_err *err);
/* {"id", "name", "cluster", "namespace", "bridge", "subnet", "gateway", "created_at"}. */
json_t *net_network_json(const struct store_network *n);

/* Published ports of a container spec: "[HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp]". */
int net_port_parse(const char *text, struct store_port *out, struct nc_err *err);
/* Whether a host port can still be bound here (nothing of the host's listens on it):
 * NC_ERR_CONFLICT "port P/PROTO is in use on this host" otherwise. */
int net_port_check_host(const struct store_port *p, struct nc_err *err);

/* In the caller's write transaction, for a new container: its address on network
 * `network` of `cluster` (*addr) and its published ports. */
int net_container_reserve(struct store_tx *tx, const char *ns, const char *cluster,
                          const char *network, const char *container_id,
                          const struct store_port *ports, size_t nports,
                          struct store_network *net_out, uint32_t *addr, struct nc_err *err);

/* What a container on a network needs to start. */
struct net_container {
  bool attached;                 /* false: no network, the container gets only lo */
  char netns_path[PATH_MAX];
  char ip[16], gateway[16];
  char network[STORE_NAME_MAX];
};
/* Looks up the container's network (none: attached = false) and makes its namespace,
 * veth and addresses if they do not exist yet (idempotent). */
int net_container_attach(struct net_service *svc, const char *container_id,
                         struct net_container *out, struct nc_err *err);
/* Removes the container's namespace and veth (the store rows go with the container). */
int net_container_detach(struct net_service *svc, const char *container_id,
                         struct nc_err *err);
/* After containers came or went on networks: rewrites the DNS hosts file of each
 * network (network_id NULL: all) and, when ports changed, the nftables table. */
int net_refresh(struct net_service *svc, const char *network_id, bool ports,
                struct nc_err *err);
