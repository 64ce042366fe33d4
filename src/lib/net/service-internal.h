/* Shared by net/service.c, net/network.c and net/attach.c. Callers hold svc->mu. */
#pragma once

#include "net/service.h"

/* The bridge of `n` exists, has the gateway address, is up (*created: it was made now). */
int net_bridge_ensure(struct net_service *svc, const struct store_network *n, bool *created,
                      struct nc_err *err);
/* Writes the nftables table from the store. */
int net_rules_sync(struct net_service *svc, struct nc_err *err);
/* Rewrites the DNS hosts file of `n` (starting its server when needed). */
int net_dns_sync(struct net_service *svc, const struct store_network *n, struct nc_err *err);
/* Puts the veths of n's containers back on its bridge (after the bridge was made again). */
void net_reattach_veths(struct net_service *svc, const struct store_network *n);
