/* The nftables rules of nanocld's container networks, in one table it owns, written
 * from scratch as one atomic transaction (libnftables) every time networks or
 * published ports change: nothing to diff, nothing half-applied, and a restart of
 * nanocld simply writes the same table again.
 *
 * What the table does (family inet, so one table covers the hooks of IPv4 and IPv6):
 * - forward: established/related accepted; traffic between two ports of one network's
 *   bridge accepted; traffic from a network's bridge to another network's bridge dropped
 *   (isolation between networks, and so between clusters); traffic out of a network to
 *   anything else accepted; traffic into a network accepted only when it was DNATed
 *   (published ports) or is a reply.
 * - postrouting nat: a network's subnet leaving by another interface is masqueraded;
 *   traffic from 127.0.0.0/8 DNATed into a network is masqueraded (so the container
 *   can answer it); so is a container's connection to a published port of its own
 *   network through a host address (hairpin: else the answer would go straight back
 *   over the bridge, never un-NATed, unless br_netfilter happens to be loaded).
 * - prerouting and output nat: each published port DNATs to the container, from any
 *   local address when host_ip is 0, else only that one; output covers connections
 *   made from the host itself, 127.0.0.1 included.
 * Addresses are IPv4, host byte order (see netlink.h).
 *
 * Required of the caller, outside this table: net.ipv4.ip_forward=1, and
 * net.ipv4.conf.<bridge>.route_localnet=1 on every bridge, without which the kernel
 * will not route a connection from 127.0.0.1, DNATed by the output chain, out of the
 * bridge, so it never reaches the postrouting masquerade (checked in test-nft).
 *
 * Input is checked before any text is written, so nothing can inject a token: table
 * [a-z0-9_-]{1,32}, bridge names [a-zA-Z0-9_.-]{1,15} (NUL inside the array), no
 * bridge twice, prefix 1..32 with no host bits, proto "tcp"/"udp", ports 1..65535, a
 * non-zero container address; else NC_ERR_INVALID. nft_port.bridge is checked (when
 * set) but no rule uses it. Of two ports that match one packet, the first wins.
 * A failure of libnftables or the kernel is NC_ERR_INTERNAL with libnftables' first
 * error line (on EPERM libnftables 1.0.6 also prints a line to stderr by itself).
 * Each call is one whole transaction and the last one wins: callers serialise their
 * calls so that the last carries the latest state. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct nft_network {
  char bridge[16];
  uint32_t subnet; /* network address */
  int prefix;
  uint32_t gateway; /* the bridge's address (0: none) */
};

struct nft_port {
  uint32_t host_ip;   /* 0 = every local address */
  uint16_t host_port;
  char proto[4];      /* "tcp" or "udp" */
  uint32_t addr;      /* the container */
  uint16_t port;
  char bridge[16];    /* the container's network */
};

/* Replaces table `inet <table>` with the rules above, in one transaction.
 * forward_only_ours: also drop forwarded traffic that neither comes from nor goes to one
 * of the networks — for when nanocld turned IPv4 forwarding on itself, so the host does
 * not become a router between its other interfaces. */
int nft_apply(const char *table, const struct nft_network *nets, size_t nnets,
              const struct nft_port *ports, size_t nports, bool forward_only_ours,
              struct nc_err *err);
/* Deletes table `inet <table>`; no such table: 0. */
int nft_remove(const char *table, struct nc_err *err);
/* The script nft_apply would run (malloc'd, for tests and debug logs); NULL with
 * errno EINVAL when the input is refused, ENOMEM when out of memory. */
char *nft_script(const char *table, const struct nft_network *nets, size_t nnets,
                 const struct nft_port *ports, size_t nports, bool forward_only_ours);
