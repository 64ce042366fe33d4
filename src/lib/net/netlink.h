/* Kernel network plumbing over rtnetlink (libmnl): bridges, veth pairs, addresses,
 * routes, and network namespaces kept alive by a bind mount on a file. No fork of
 * ip(8): a container's whole network setup is a handful of netlink round trips.
 *
 * Addresses are IPv4 in host byte order (uint32_t, 10.0.0.1 = 0x0a000001).
 * A `struct nl` is one NETLINK_ROUTE socket; it talks to the network namespace it was
 * opened in, whichever thread uses it later. Not thread-safe: one user at a time. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct nl;

/* Opens a socket in the current network namespace (netns_fd < 0) or in the namespace
 * `netns_fd` refers to (the calling thread enters it, opens the socket, and returns
 * to its own namespace before this returns). */
int nl_open(struct nl **out, int netns_fd, struct nc_err *err);
void nl_close(struct nl *nl);

/* The interface index of `name`, 0 when there is no such interface, -1 on error. */
int nl_link_index(struct nl *nl, const char *name, struct nc_err *err);
/* A new Linux bridge, down. An interface of that name already there: NC_ERR_CONFLICT
 * "interface NAME already exists". Names longer than 15 bytes: NC_ERR_INVALID. */
int nl_bridge_create(struct nl *nl, const char *name, struct nc_err *err);
/* Deletes an interface (a bridge, or a veth with its peer); none of that name: 0. */
int nl_link_delete(struct nl *nl, const char *name, struct nc_err *err);
int nl_link_up(struct nl *nl, const char *name, struct nc_err *err);
/* Puts interface `name` on bridge `master` and up; either missing: 0, nothing done. */
int nl_link_set_master(struct nl *nl, const char *name, const char *master,
                       struct nc_err *err);
/* Adds addr/prefix to `ifname` (broadcast set); the same address already there: 0. */
int nl_addr_add(struct nl *nl, const char *ifname, uint32_t addr, int prefix,
                struct nc_err *err);
/* 1 when `ifname` has exactly addr/prefix, 0 when not or when there is no such
 * interface, -1 on error. */
int nl_addr_has(struct nl *nl, const char *ifname, uint32_t addr, int prefix,
                struct nc_err *err);
/* A veth pair: `host_name` here, enslaved to bridge `master` (NULL: none) and up;
 * `peer_name` created directly inside the namespace `peer_netns_fd` (down), with
 * hardware address `peer_mac` (NULL: the kernel's random one). */
int nl_veth_create(struct nl *nl, const char *host_name, const char *master,
                   const char *peer_name, int peer_netns_fd, const uint8_t peer_mac[6],
                   struct nc_err *err);
/* The default route via `gateway`; one already there: 0. */
int nl_route_add_default(struct nl *nl, uint32_t gateway, struct nc_err *err);

/* An IPv4 prefix in use on this host: a route's destination, or an address's subnet. */
struct nl_prefix {
  uint32_t addr; /* network address */
  int len;       /* prefix length; 0 = the default route */
  char ifname[16];
};
/* Every IPv4 route of the main table and every interface address's subnet (default
 * routes left out), malloc'd array in *out (caller frees). */
int nl_prefixes(struct nl *nl, struct nl_prefix **out, size_t *n, struct nc_err *err);

/* A new network namespace, kept by a bind mount of it on `path` (a file created for it;
 * its directory must exist). `lo` is brought up inside. `path` already a namespace
 * mount: 0 and nothing changed (idempotent, for re-adoption). */
int netns_create(const char *path, struct nc_err *err);
/* Detaches the bind mount and unlinks `path`; nothing there: 0. */
int netns_remove(const char *path, struct nc_err *err);
/* Whether `path` is a network namespace (a bind mount of nsfs). */
bool netns_exists(const char *path);

/* What a container on a network gets. */
struct netns_attach {
  const char *netns_path; /* created if missing (netns_create) */
  const char *bridge;     /* the network's bridge, already up */
  const char *host_veth;  /* host-side name, <= 15 bytes */
  uint32_t addr;          /* the container's address */
  int prefix;             /* the subnet's prefix length */
  uint32_t gateway;       /* default route */
};
/* netns + veth (host side on the bridge, up) + eth0 inside with `addr`/prefix and a
 * MAC derived from it (02:6e and the address's 4 bytes, so a reused address keeps its
 * MAC and peers' ARP caches stay right; see netns.c), eth0 and lo up, default
 * route via `gateway`. Idempotent: an existing netns whose eth0 has `addr` is left as
 * it is. On failure nothing it created is left (veth, netns mount, file). */
int netns_attach(struct nl *host, const struct netns_attach *a, struct nc_err *err);
/* Removes the host veth (its peer goes with it) and the netns; missing parts are fine. */
int netns_detach(struct nl *host, const char *netns_path, const char *host_veth,
                 struct nc_err *err);

/* "10.1.2.3" ↔ host order; parse returns -1 on anything but a dotted quad. */
int ip4_parse(const char *text, uint32_t *out);
void ip4_format(uint32_t addr, char out[16]);
/* "10.1.2.0/24" → network and prefix; host bits set or a prefix outside 8..30: -1. */
int ip4_cidr_parse(const char *text, uint32_t *net, int *prefix);
bool ip4_overlap(uint32_t a, int alen, uint32_t b, int blen);
