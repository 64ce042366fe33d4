/* One DNS server per container network: Debian's dnsmasq, started by nanocld bound to
 * the network's gateway address only, answering the names in a hosts file nanocld
 * writes (containers, and cargoes with all their instances), forwarding everything
 * else to the host's resolvers (/etc/resolv.conf, re-read when it changes).
 *
 * dnsmasq runs detached from nanocld (its own session, a pid file), so names keep
 * resolving while nanocld is stopped or restarted; a restarted nanocld adopts the
 * running one (pid file + /proc/PID/cmdline check) instead of starting another.
 * Files live in `dir` (RUN_DIR/dns): <id>.hosts, <id>.pid, <id>.log. dnsmasq drops root
 * for `nobody` once port 53 is bound and reads <id>.hosts as that user, so `dir` and its
 * parents must be searchable by others (RUN_DIR 0711, dns/ 0755); a start that cannot
 * read it fails with dnsmasq's "Permission denied". Calls for one id must not overlap
 * (the caller serialises them). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"

struct dns_config {
  const char *dir;       /* RUN_DIR/dns, created if missing */
  const char *id;        /* the network's id (file names), [0-9a-z-]+ */
  const char *bridge;    /* interface the gateway address is on */
  uint32_t listen_addr;  /* the gateway, host byte order */
  const char *dnsmasq;   /* executable; NULL: "dnsmasq" looked up in /usr/sbin, /usr/bin, PATH */
  /* Where other names go: "IP[:PORT],…" (at most DNS_UPSTREAM_MAX); NULL or "": the
   * host's resolvers from /etc/resolv.conf. */
  const char *upstream;
};

#define DNS_UPSTREAM_MAX 8

/* Checks an upstream list ("IP[:PORT],…"): 0, or NC_ERR_INVALID naming the bad entry. */
int dns_upstream_check(const char *list, struct nc_err *err);

/* Writes the hosts file (atomically; `hosts` is its text: "IP name [name…]\n" lines),
 * then: dnsmasq not running → start it and wait until it answers on listen_addr:53
 * (bounded, ~2 s; a failure says why, from its log); running and the file changed →
 * SIGHUP (it re-reads the hosts file); unchanged → nothing. */
int dns_ensure(const struct dns_config *c, const char *hosts, struct nc_err *err);
/* Stops the server of `id` (SIGTERM, then SIGKILL after 2 s) and removes its files. */
int dns_stop(const char *dir, const char *id, struct nc_err *err);
/* The pid of the running server of `id`, or 0. */
pid_t dns_pid(const char *dir, const char *id);
