/* IPv4 addresses and routes over rtnetlink, and the dump of the prefixes in use. */
#include "net/netlink-internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t mask_of(int prefix)
{
  return prefix <= 0 ? 0 : prefix >= 32 ? 0xffffffffu : 0xffffffffu << (32 - prefix);
}

int nl_addr_add_index(struct nl *nl, int index, const char *ifname, uint32_t addr, int prefix,
                      struct nc_err *err)
{
  char text[16];
  ip4_format(addr, text);
  if (prefix < 1 || prefix > 32)
    return nc_err_set(err, NC_ERR_INVALID, "address %s/%d: bad prefix length", text, prefix);
  char buf[NL_SEND_SIZE];
  struct ifaddrmsg *ifa;
  struct nlmsghdr *nlh =
    nl_msg(buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, (void **)&ifa, sizeof *ifa);
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = (unsigned char)prefix;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = (unsigned)index;
  mnl_attr_put_u32(nlh, IFA_LOCAL, htonl(addr));
  mnl_attr_put_u32(nlh, IFA_ADDRESS, htonl(addr));
  if (prefix < 31) /* a /31 or /32 has no broadcast address (RFC 3021) */
    mnl_attr_put_u32(nlh, IFA_BROADCAST, htonl(addr | ~mask_of(prefix)));
  int e = nl_request(nl, nlh, NULL, NULL);
  if (e == EEXIST) /* the kernel says so only for this very address and prefix */
    return 0;
  if (e) {
    char what[64];
    snprintf(what, sizeof what, "add address %s/%d to", text, prefix);
    return nl_fail(nl, err, e, what, ifname);
  }
  return 0;
}

int nl_addr_add(struct nl *nl, const char *ifname, uint32_t addr, int prefix, struct nc_err *err)
{
  int index = nl_link_index(nl, ifname, err);
  if (index < 0)
    return -1;
  if (index == 0)
    return nc_err_set(err, NC_ERR_NOT_FOUND, "add address to %s: no such interface", ifname);
  return nl_addr_add_index(nl, index, ifname, addr, prefix, err);
}

struct addr_find {
  int index;
  uint32_t addr;
  int prefix;
  bool found;
};

static int addr_local_cb(const struct nlattr *attr, void *data)
{
  const struct nlattr **local = data;
  int type = mnl_attr_get_type(attr);
  if ((type == IFA_LOCAL || type == IFA_ADDRESS) && mnl_attr_validate(attr, MNL_TYPE_U32) == 0 &&
      (type == IFA_LOCAL || !*local))
    *local = attr; /* IFA_LOCAL is ours; IFA_ADDRESS is the peer's on point-to-point */
  return MNL_CB_OK;
}

/* The interface address in an RTM_NEWADDR, host order; -1 if it has none. */
static int addr_of(const struct nlmsghdr *nlh, uint32_t *out)
{
  const struct nlattr *local = NULL;
  mnl_attr_parse(nlh, sizeof(struct ifaddrmsg), addr_local_cb, &local);
  if (!local)
    return -1;
  *out = ntohl(mnl_attr_get_u32(local));
  return 0;
}

static int addr_find_cb(const struct nlmsghdr *nlh, void *data)
{
  struct addr_find *f = data;
  const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
  uint32_t a;
  if (nlh->nlmsg_type == RTM_NEWADDR && ifa->ifa_family == AF_INET &&
      (int)ifa->ifa_index == f->index && ifa->ifa_prefixlen == f->prefix &&
      addr_of(nlh, &a) == 0 && a == f->addr)
    f->found = true;
  return MNL_CB_OK;
}

static struct nlmsghdr *dump_msg(void *buf, uint16_t type, size_t size)
{
  void *extra;
  struct nlmsghdr *nlh = nl_msg(buf, type, NLM_F_DUMP, &extra, size);
  *(unsigned char *)extra = AF_INET; /* the family is the first byte of all three */
  return nlh;
}

int nl_addr_has(struct nl *nl, const char *ifname, uint32_t addr, int prefix, struct nc_err *err)
{
  struct addr_find f = { .addr = addr, .prefix = prefix };
  f.index = nl_link_index(nl, ifname, err);
  if (f.index <= 0)
    return f.index;
  char buf[NL_SEND_SIZE];
  for (int tries = 0;; tries++) {
    f.found = false;
    int e = nl_request(nl, dump_msg(buf, RTM_GETADDR, sizeof(struct ifaddrmsg)), addr_find_cb, &f);
    if (e == EINTR && tries < 3)
      continue;
    if (e)
      return nl_fail(nl, err, e, "list addresses of", ifname);
    return f.found ? 1 : 0;
  }
}

int nl_route_add_default(struct nl *nl, uint32_t gateway, struct nc_err *err)
{
  char buf[NL_SEND_SIZE];
  struct rtmsg *rtm;
  struct nlmsghdr *nlh =
    nl_msg(buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, (void **)&rtm, sizeof *rtm);
  rtm->rtm_family = AF_INET;
  rtm->rtm_dst_len = 0;
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = RTPROT_STATIC;
  rtm->rtm_scope = RT_SCOPE_UNIVERSE;
  rtm->rtm_type = RTN_UNICAST;
  mnl_attr_put_u32(nlh, RTA_GATEWAY, htonl(gateway));
  int e = nl_request(nl, nlh, NULL, NULL);
  if (e == EEXIST)
    return 0;
  if (e) {
    char gw[16];
    ip4_format(gateway, gw);
    return nl_fail(nl, err, e, "add default route via", gw);
  }
  return 0;
}

/* What the dumps gather: the interfaces' names first, then the prefixes. */
struct prefixes {
  struct { int index; char name[IFNAMSIZ]; } *links;
  size_t nlinks, linkcap;
  struct nl_prefix *v;
  size_t n, cap;
  bool nomem;
};

static int link_name_cb(const struct nlattr *attr, void *data)
{
  if (mnl_attr_get_type(attr) == IFLA_IFNAME && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
    *(const char **)data = mnl_attr_get_str(attr);
  return MNL_CB_OK;
}

static int links_cb(const struct nlmsghdr *nlh, void *data)
{
  struct prefixes *p = data;
  const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
  const char *name = NULL;
  if (nlh->nlmsg_type != RTM_NEWLINK)
    return MNL_CB_OK;
  mnl_attr_parse(nlh, sizeof *ifi, link_name_cb, &name);
  if (!name)
    return MNL_CB_OK;
  if (p->nlinks == p->linkcap) {
    size_t cap = p->linkcap ? p->linkcap * 2 : 16;
    void *links = realloc(p->links, cap * sizeof *p->links);
    if (!links) {
      p->nomem = true;
      return MNL_CB_OK;
    }
    p->links = links;
    p->linkcap = cap;
  }
  p->links[p->nlinks].index = ifi->ifi_index;
  snprintf(p->links[p->nlinks].name, IFNAMSIZ, "%s", name);
  p->nlinks++;
  return MNL_CB_OK;
}

static void prefix_add(struct prefixes *p, uint32_t addr, int len, int index)
{
  struct nl_prefix x = { .addr = addr & mask_of(len), .len = len };
  for (size_t i = 0; i < p->nlinks; i++)
    if (p->links[i].index == index)
      memcpy(x.ifname, p->links[i].name, sizeof x.ifname);
  /* A connected route and its interface's address name the same subnet: once. */
  for (size_t i = 0; i < p->n; i++)
    if (p->v[i].addr == x.addr && p->v[i].len == len && strcmp(p->v[i].ifname, x.ifname) == 0)
      return;
  if (p->n == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 16;
    struct nl_prefix *v = realloc(p->v, cap * sizeof *v);
    if (!v) {
      p->nomem = true;
      return;
    }
    p->v = v;
    p->cap = cap;
  }
  p->v[p->n++] = x;
}

struct route_attrs {
  uint32_t dst, table;
  int oif;
};

static int route_attr_cb(const struct nlattr *attr, void *data)
{
  struct route_attrs *r = data;
  int type = mnl_attr_get_type(attr);
  if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
    return MNL_CB_OK;
  if (type == RTA_DST)
    r->dst = ntohl(mnl_attr_get_u32(attr));
  else if (type == RTA_TABLE)
    r->table = mnl_attr_get_u32(attr);
  else if (type == RTA_OIF)
    r->oif = (int)mnl_attr_get_u32(attr);
  return MNL_CB_OK;
}

static int routes_cb(const struct nlmsghdr *nlh, void *data)
{
  const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
  if (nlh->nlmsg_type != RTM_NEWROUTE || rtm->rtm_family != AF_INET || rtm->rtm_dst_len == 0)
    return MNL_CB_OK;
  struct route_attrs r = { .table = rtm->rtm_table };
  mnl_attr_parse(nlh, sizeof *rtm, route_attr_cb, &r);
  if (r.table == RT_TABLE_MAIN)
    prefix_add(data, r.dst, rtm->rtm_dst_len, r.oif);
  return MNL_CB_OK;
}

static int addrs_cb(const struct nlmsghdr *nlh, void *data)
{
  const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
  uint32_t a;
  if (nlh->nlmsg_type == RTM_NEWADDR && ifa->ifa_family == AF_INET && ifa->ifa_prefixlen > 0 &&
      addr_of(nlh, &a) == 0)
    prefix_add(data, a, ifa->ifa_prefixlen, (int)ifa->ifa_index);
  return MNL_CB_OK;
}

/* The three dumps, once; EINTR when one of them changed while it was read. */
static int prefixes_dump(struct nl *nl, struct prefixes *p, const char **what)
{
  char buf[NL_SEND_SIZE];
  int e;
  *what = "list interfaces";
  e = nl_request(nl, dump_msg(buf, RTM_GETLINK, sizeof(struct ifinfomsg)), links_cb, p);
  if (e)
    return e;
  *what = "list routes";
  e = nl_request(nl, dump_msg(buf, RTM_GETROUTE, sizeof(struct rtmsg)), routes_cb, p);
  if (e)
    return e;
  *what = "list addresses";
  e = nl_request(nl, dump_msg(buf, RTM_GETADDR, sizeof(struct ifaddrmsg)), addrs_cb, p);
  if (e)
    return e;
  return p->nomem ? ENOMEM : 0;
}

int nl_prefixes(struct nl *nl, struct nl_prefix **out, size_t *n, struct nc_err *err)
{
  struct prefixes p = { 0 };
  const char *what = "";
  int e;
  for (int tries = 0;; tries++) {
    p.nlinks = p.n = 0;
    p.nomem = false;
    e = prefixes_dump(nl, &p, &what);
    if (e != EINTR || tries == 3)
      break;
  }
  free(p.links);
  if (e) {
    free(p.v);
    nc_err_sys(err, e, "%s", what);
    if (nl->ext[0]) {
      size_t len = strlen(err->msg);
      snprintf(err->msg + len, sizeof err->msg - len, " (%s)", nl->ext);
    }
    return -1;
  }
  *out = p.v;
  *n = p.n;
  return 0;
}
