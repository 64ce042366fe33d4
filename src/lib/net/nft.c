/* nanocld's nftables table, written whole as text and run by libnftables in one
 * transaction. Every name and number that goes into the text is checked first
 * against a strict character set, so no input can add a token of its own. */
#include "net/nft.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nftables/libnftables.h>

#include "base/buf.h"

#define TABLE_MAX 32

static bool table_name_ok(const char *s)
{
  size_t n = strnlen(s, TABLE_MAX + 1);
  if (n == 0 || n > TABLE_MAX)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  }
  return true;
}

/* `s` is a char[16] of the caller's struct: it must end within it (IFNAMSIZ). */
static bool bridge_name_ok(const char *s)
{
  size_t n = strnlen(s, 16);
  if (n == 0 || n > 15)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '_' || c == '.' || c == '-'))
      return false;
  }
  return true;
}

/* 10.0.0.1 from 0x0a000001; `out` holds at least 16 bytes. */
static const char *ip4(uint32_t a, char out[16])
{
  snprintf(out, 16, "%u.%u.%u.%u", (unsigned)(a >> 24), (unsigned)(a >> 16) & 0xff,
           (unsigned)(a >> 8) & 0xff, (unsigned)a & 0xff);
  return out;
}

/* A refused bridge name made safe to quote in an error message. */
static const char *shown(const char *s, char out[20])
{
  size_t i = 0;
  for (; i < 15 && s[i]; i++)
    out[i] = (s[i] > ' ' && s[i] < 0x7f) ? s[i] : '?';
  out[i] = '\0';
  return out;
}

static int check_network(const struct nft_network *n, size_t i, struct nc_err *err)
{
  char s[20], a[16];
  if (!bridge_name_ok(n->bridge))
    return nc_err_set(err, NC_ERR_INVALID, "network %zu: bad bridge name '%s'", i,
                      shown(n->bridge, s));
  if (n->prefix < 1 || n->prefix > 32)
    return nc_err_set(err, NC_ERR_INVALID, "network %s: prefix length %d not in 1..32",
                      n->bridge, n->prefix);
  uint32_t host_mask = n->prefix == 32 ? 0 : 0xffffffffu >> n->prefix;
  if (n->subnet & host_mask)
    return nc_err_set(err, NC_ERR_INVALID, "network %s: %s/%d has host bits set", n->bridge,
                      ip4(n->subnet, a), n->prefix);
  return 0;
}

static int check_port(const struct nft_port *p, size_t i, struct nc_err *err)
{
  char s[20];
  if (strnlen(p->proto, sizeof p->proto) == sizeof p->proto ||
      (strcmp(p->proto, "tcp") != 0 && strcmp(p->proto, "udp") != 0))
    return nc_err_set(err, NC_ERR_INVALID, "port %zu: protocol must be tcp or udp", i);
  if (p->host_port == 0 || p->port == 0)
    return nc_err_set(err, NC_ERR_INVALID, "port %zu: port numbers must be in 1..65535", i);
  if (p->addr == 0)
    return nc_err_set(err, NC_ERR_INVALID, "port %zu: no container address", i);
  /* Not used in a rule, but a name that is there must still be a name. */
  if (p->bridge[0] && !bridge_name_ok(p->bridge))
    return nc_err_set(err, NC_ERR_INVALID, "port %zu: bad bridge name '%s'", i,
                      shown(p->bridge, s));
  return 0;
}

static int check_input(const char *table, const struct nft_network *nets, size_t nnets,
                       const struct nft_port *ports, size_t nports, struct nc_err *err)
{
  if (!table || !table_name_ok(table))
    return nc_err_set(err, NC_ERR_INVALID, "bad nftables table name (want [a-z0-9_-]{1,32})");
  if ((nnets && !nets) || (nports && !ports))
    return nc_err_set(err, NC_ERR_INVALID, "nftables: NULL array with a count");
  for (size_t i = 0; i < nnets; i++) {
    if (check_network(&nets[i], i, err) < 0)
      return -1;
    /* A name twice would be two rules for one bridge: the caller's bookkeeping is off. */
    for (size_t j = 0; j < i; j++)
      if (strcmp(nets[i].bridge, nets[j].bridge) == 0)
        return nc_err_set(err, NC_ERR_INVALID, "bridge %s given twice", nets[i].bridge);
  }
  for (size_t i = 0; i < nports; i++)
    if (check_port(&ports[i], i, err) < 0)
      return -1;
  return 0;
}

/* The script being written. nc_buf_printf fails only on ENOMEM; one failure spoils
 * the whole text, so it is remembered and checked once at the end. */
struct script {
  struct nc_buf b;
  bool oom;
};

#define emit(s, ...) ((s)->oom |= nc_buf_printf(&(s)->b, __VA_ARGS__) < 0)

/* `"a"` for one bridge, `{ "a", "b" }` for more: "any of our bridges". */
static void bridge_set(struct script *s, const struct nft_network *nets, size_t nnets)
{
  if (nnets == 1) {
    emit(s, "\"%s\"", nets[0].bridge);
    return;
  }
  emit(s, "{ ");
  for (size_t i = 0; i < nnets; i++)
    emit(s, "%s\"%s\"", i ? ", " : "", nets[i].bridge);
  emit(s, " }");
}

static void forward_chain(struct script *s, const struct nft_network *nets, size_t nnets,
                          bool only_ours)
{
  emit(s, "  chain forward {\n"
          "    type filter hook forward priority filter; policy accept;\n"
          "    ct state established,related accept\n");
  if (nnets == 0) {
    emit(s, "  }\n");
    return;
  }
  for (size_t i = 0; i < nnets; i++)
    emit(s, "    iifname \"%s\" oifname \"%s\" accept\n", nets[i].bridge, nets[i].bridge);
  /* Published ports: DNATed by prerouting, so allowed in from anywhere, even from
   * another network (through the host's address, as from outside). */
  emit(s, "    ct status dnat oifname ");
  bridge_set(s, nets, nnets);
  emit(s, " accept\n    iifname ");
  bridge_set(s, nets, nnets);
  emit(s, " oifname ");
  bridge_set(s, nets, nnets);
  emit(s, " drop\n    oifname ");
  bridge_set(s, nets, nnets);
  emit(s, " drop\n    iifname ");
  bridge_set(s, nets, nnets);
  emit(s, " accept\n");
  /* Forwarding was off before nanocld: what is not ours is not forwarded now either
   * (replies to our own traffic were accepted above). */
  if (only_ours)
    emit(s, "    drop\n");
  emit(s, "  }\n");
}

static void postrouting_chain(struct script *s, const struct nft_network *nets, size_t nnets)
{
  char a[16];
  emit(s, "  chain postrouting {\n"
          "    type nat hook postrouting priority srcnat; policy accept;\n");
  for (size_t i = 0; i < nnets; i++)
    emit(s, "    ip saddr %s/%d oifname != \"%s\" masquerade\n", ip4(nets[i].subnet, a),
         nets[i].prefix, nets[i].bridge);
  /* Hairpin: a container reaching a published port of its own network through a host
   * address. Without this the answer would go straight back over the bridge, from an
   * address the client never spoke to. */
  for (size_t i = 0; i < nnets; i++)
    emit(s, "    ip saddr %s/%d oifname \"%s\" ct status dnat masquerade\n",
         ip4(nets[i].subnet, a), nets[i].prefix, nets[i].bridge);
  /* Loopback sources DNATed into a network (output chain): the container could not
   * answer 127.0.0.1. The kernel routes them there only with route_localnet. */
  for (size_t i = 0; i < nnets; i++)
    emit(s, "    ip saddr 127.0.0.0/8 oifname \"%s\" masquerade\n", nets[i].bridge);
  emit(s, "  }\n");
}

/* The anonymous set of every network's gateway, or "" when none has one. */
static bool gateway_set(struct script *s, const struct nft_network *nets, size_t nnets)
{
  char a[16];
  size_t n = 0;
  for (size_t i = 0; i < nnets; i++)
    n += nets[i].gateway != 0;
  if (n == 0)
    return false;
  emit(s, "{ ");
  for (size_t i = 0, k = 0; i < nnets; i++)
    if (nets[i].gateway)
      emit(s, "%s%s", k++ ? ", " : "", ip4(nets[i].gateway, a));
  emit(s, " }");
  return true;
}

static void guard_chain(struct script *s, const struct nft_network *nets, size_t nnets)
{
  char a[16];
  emit(s, "  chain guard {\n    type filter hook prerouting priority raw; policy accept;\n");
  if (nnets) {
    emit(s, "    iifname ");
    bridge_set(s, nets, nnets);
    emit(s, " ip daddr 127.0.0.0/8 drop\n");
  }
  for (size_t i = 0; i < nnets; i++) {
    if (!nets[i].gateway)
      continue;
    emit(s, "    iifname \"%s\" ip daddr != %s ip daddr ", nets[i].bridge,
         ip4(nets[i].gateway, a));
    gateway_set(s, nets, nnets);
    emit(s, " drop\n");
  }
  emit(s, "  }\n");
}

/* prerouting and output hold the same DNAT rules. The name `dstnat` is valid only in
 * prerouting, so output says -100, the number it stands for. */
static void dnat_chain(struct script *s, const char *hook, const char *prio,
                       const struct nft_network *nets, size_t nnets,
                       const struct nft_port *ports, size_t nports)
{
  char h[16], a[16];
  emit(s, "  chain %s {\n    type nat hook %s priority %s; policy accept;\n", hook, hook, prio);
  for (size_t i = 0; i < nports; i++) {
    const struct nft_port *p = &ports[i];
    if (p->host_ip)
      emit(s, "    ip daddr %s", ip4(p->host_ip, h));
    else {
      /* Every local address but the gateways: a published port 53 must not take the
       * networks' DNS servers. */
      emit(s, "    fib daddr type local");
      bool any = false;
      for (size_t k = 0; k < nnets; k++)
        any |= nets[k].gateway != 0;
      if (any) {
        emit(s, " ip daddr != ");
        gateway_set(s, nets, nnets);
      }
    }
    emit(s, " %s dport %u dnat ip to %s:%u\n", p->proto, (unsigned)p->host_port, ip4(p->addr, a),
         (unsigned)p->port);
  }
  emit(s, "  }\n");
}

/* Inputs already checked. NULL only when out of memory. */
static char *build(const char *table, const struct nft_network *nets, size_t nnets,
                   const struct nft_port *ports, size_t nports, bool only_ours)
{
  struct script s = { .oom = false };
  nc_buf_init(&s.b, 0);
  /* Create-if-missing, delete, create: one transaction that replaces the table
   * whether it was there or not (`destroy table` needs nft 1.0.8 and Linux 6.3). */
  emit(&s, "table inet %s {}\ndelete table inet %s\ntable inet %s {\n", table, table, table);
  forward_chain(&s, nets, nnets, only_ours);
  postrouting_chain(&s, nets, nnets);
  guard_chain(&s, nets, nnets);
  dnat_chain(&s, "prerouting", "dstnat", nets, nnets, ports, nports);
  dnat_chain(&s, "output", "-100", nets, nnets, ports, nports);
  emit(&s, "}\n");
  if (s.oom) {
    nc_buf_free(&s.b);
    errno = ENOMEM;
    return NULL;
  }
  return nc_buf_steal(&s.b);
}

char *nft_script(const char *table, const struct nft_network *nets, size_t nnets,
                 const struct nft_port *ports, size_t nports, bool forward_only_ours)
{
  struct nc_err err = NC_ERR_INIT;
  if (check_input(table, nets, nnets, ports, nports, &err) < 0) {
    errno = EINVAL;
    return NULL;
  }
  return build(table, nets, nnets, ports, nports, forward_only_ours);
}

/* The first line of libnftables' error text ("Error: ..."), trimmed. The lines under
 * it should quote the script and point at the fault, but for a buffer libnftables
 * 1.0.6 quotes the wrong line of the script, so they are left out. */
static void error_line(const char *ebuf, char *out, size_t size)
{
  const char *p = ebuf ? ebuf + strspn(ebuf, " \t\r\n") : "";
  size_t len = strcspn(p, "\n");
  while (len && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\r'))
    len--;
  if (len)
    snprintf(out, size, "%.*s", (int)len, p);
  else
    snprintf(out, size, "failed, and libnftables said nothing");
}

/* One context per call: creating one costs ~0.05 ms against ~0.5 ms for the smallest
 * run (its netlink round trips), and no state lingers between calls. */
static int run(const char *script, const char *what, const char *table, struct nc_err *err)
{
  struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (!ctx)
    return nc_err_set(err, NC_ERR_INTERNAL, "%s table inet %s: cannot create nftables context",
                      what, table);
  /* Buffered, so libnftables' messages come to us, not to our stdout/stderr. */
  if (nft_ctx_buffer_output(ctx) != 0 || nft_ctx_buffer_error(ctx) != 0) {
    nft_ctx_free(ctx);
    return nc_err_set(err, NC_ERR_INTERNAL, "%s table inet %s: out of memory", what, table);
  }
  int rc = nft_run_cmd_from_buffer(ctx, script);
  if (rc != 0) {
    char line[768];
    error_line(nft_ctx_get_error_buffer(ctx), line, sizeof line);
    nft_ctx_free(ctx);
    return nc_err_set(err, NC_ERR_INTERNAL, "%s table inet %s: %s", what, table, line);
  }
  nft_ctx_free(ctx);
  return 0;
}

int nft_apply(const char *table, const struct nft_network *nets, size_t nnets,
              const struct nft_port *ports, size_t nports, bool forward_only_ours,
              struct nc_err *err)
{
  if (check_input(table, nets, nnets, ports, nports, err) < 0)
    return -1;
  char *script = build(table, nets, nnets, ports, nports, forward_only_ours);
  if (!script)
    return nc_err_sys(err, ENOMEM, "building nftables table %s", table);
  int rc = run(script, "writing", table, err);
  free(script);
  return rc;
}

int nft_remove(const char *table, struct nc_err *err)
{
  if (!table || !table_name_ok(table))
    return nc_err_set(err, NC_ERR_INVALID, "bad nftables table name (want [a-z0-9_-]{1,32})");
  /* Create-if-missing then delete, in one transaction: no "No such file" to tell
   * apart from real errors, and no window between a look and the delete. */
  char script[2 * TABLE_MAX + 64];
  snprintf(script, sizeof script, "table inet %s {}\ndelete table inet %s\n", table, table);
  return run(script, "removing", table, err);
}
