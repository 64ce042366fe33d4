/* rtnetlink plumbing and links: the socket, one request/answer exchange, bridges,
 * veth pairs, link up/delete/lookup. Addresses and routes are in netlink-addr.c. */
#include "net/netlink-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/cleanup.h"

static int open_here(struct nl **out, struct nc_err *err)
{
  struct nl *nl = calloc(1, sizeof *nl);
  if (!nl)
    return nc_err_sys(err, ENOMEM, "netlink socket");
  nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  if (!nl->sock || mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
    int e = errno;
    if (nl->sock)
      mnl_socket_close(nl->sock);
    free(nl);
    return nc_err_sys(err, e, "netlink socket");
  }
  /* Acks without our request echoed back, and with the kernel's reason in words
   * ("Unknown device type"); kernels without these still answer, just less. */
  int one = 1;
  setsockopt(mnl_socket_get_fd(nl->sock), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  setsockopt(mnl_socket_get_fd(nl->sock), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  nl->portid = mnl_socket_get_portid(nl->sock);
  nl->seq = (unsigned)getpid() << 8; /* any start; only our own answers matter */
  *out = nl;
  return 0;
}

int nl_open(struct nl **out, int netns_fd, struct nc_err *err)
{
  if (netns_fd < 0)
    return open_here(out, err);
  /* A netlink socket belongs to the namespace it was created in, so this thread steps
   * in just for socket(2) and back out; the daemon's other threads never move. */
  _cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0)
    return nc_err_sys(err, errno, "open /proc/thread-self/ns/net");
  if (setns(netns_fd, CLONE_NEWNET) < 0)
    return nc_err_sys(err, errno, "enter network namespace");
  int r = open_here(out, err);
  if (setns(self, CLONE_NEWNET) < 0) {
    /* Cannot fail in practice (we were just allowed to leave it); if it does, this
     * thread is in the wrong namespace, which the caller must know above all. */
    int e = errno;
    if (r == 0)
      nl_close(steal_ptr(out));
    return nc_err_sys(err, e, "return to own network namespace");
  }
  return r;
}

void nl_close(struct nl *nl)
{
  if (!nl)
    return;
  mnl_socket_close(nl->sock);
  free(nl);
}

struct nlmsghdr *nl_msg(void *buf, uint16_t type, uint16_t flags, void **extra, size_t size)
{
  memset(buf, 0, NL_SEND_SIZE);
  struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST | flags;
  *extra = mnl_nlmsg_put_extra_header(nlh, size);
  return nlh;
}

static int ext_attr_cb(const struct nlattr *attr, void *data)
{
  struct nl *nl = data;
  if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
    snprintf(nl->ext, sizeof nl->ext, "%s", mnl_attr_get_str(attr));
  return MNL_CB_OK;
}

/* The errno an NLMSG_ERROR carries (0: the ack), keeping the kernel's message. */
static int ack_errno(struct nl *nl, const struct nlmsghdr *nlh)
{
  if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct nlmsgerr)))
    return EBADMSG;
  const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
  if (e->error == 0)
    return 0;
  if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
    /* The attributes follow the request's header, or the whole request if uncapped. */
    size_t off = sizeof *e;
    if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
      off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
    if (mnl_nlmsg_size(off) <= nlh->nlmsg_len)
      mnl_attr_parse(nlh, (unsigned)off, ext_attr_cb, nl);
  }
  return -e->error;
}

/* Our own loop rather than mnl_cb_run: it stops at the first answer of another
 * sequence number or at an interrupted dump, leaving the rest in the socket for the
 * next request to trip on. Here every answer up to the last one is read. */
int nl_request(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
  nlh->nlmsg_flags |= NLM_F_ACK;
  nlh->nlmsg_seq = ++nl->seq;
  nl->ext[0] = '\0';
  if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
    return errno;
  bool dump = nlh->nlmsg_flags & NLM_F_DUMP;
  int result = 0;
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(nl->sock, nl->buf, sizeof nl->buf);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return errno; /* ENOBUFS (answers lost): the caller sees a failure, not a gap */
    }
    int len = (int)n;
    for (const struct nlmsghdr *m = (const void *)nl->buf; mnl_nlmsg_ok(m, len);
         m = mnl_nlmsg_next(m, &len)) {
      if (m->nlmsg_seq != nl->seq || (m->nlmsg_pid && m->nlmsg_pid != nl->portid))
        continue; /* a leftover from an exchange that failed half-way */
      if (m->nlmsg_flags & NLM_F_DUMP_INTR)
        result = result ? result : EINTR; /* changed while dumped: the caller retries */
      if (m->nlmsg_type == NLMSG_ERROR) {
        int e = ack_errno(nl, m);
        return e ? e : result;
      }
      if (m->nlmsg_type == NLMSG_DONE) {
        /* A dump's end carries its error, if any, as an int after the header. */
        int e = 0;
        if (m->nlmsg_len >= mnl_nlmsg_size(sizeof(int)))
          memcpy(&e, mnl_nlmsg_get_payload(m), sizeof e);
        if (e < 0)
          return -e;
        if (dump)
          return result;
        continue;
      }
      if (m->nlmsg_type == NLMSG_OVERRUN)
        result = result ? result : ENOBUFS;
      else if (m->nlmsg_type >= NLMSG_MIN_TYPE && cb && cb(m, data) < MNL_CB_STOP)
        result = result ? result : EBADMSG;
    }
  }
}

int nl_fail(struct nl *nl, struct nc_err *err, int errnum, const char *op, const char *name)
{
  if (errnum == EEXIST)
    return nc_err_set(err, NC_ERR_CONFLICT, "interface %s already exists", name);
  nc_err_sys(err, errnum, "%s %s", op, name);
  if (nl->ext[0]) {
    size_t len = strlen(err->msg);
    snprintf(err->msg + len, sizeof err->msg - len, " (%s)", nl->ext);
  }
  return -1;
}

int nl_ifname_check(const char *name, struct nc_err *err)
{
  size_t len = name ? strlen(name) : 0;
  if (len == 0 || len >= IFNAMSIZ || strpbrk(name, "/: \t\n"))
    return nc_err_set(err, NC_ERR_INVALID, "bad interface name '%.32s' (1 to %d bytes)",
                      name ? name : "", IFNAMSIZ - 1);
  return 0;
}

static int link_index_cb(const struct nlmsghdr *nlh, void *data)
{
  if (nlh->nlmsg_type == RTM_NEWLINK) {
    const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
    *(int *)data = ifi->ifi_index;
  }
  return MNL_CB_OK;
}

int nl_link_index(struct nl *nl, const char *name, struct nc_err *err)
{
  if (nl_ifname_check(name, err) < 0)
    return -1;
  char buf[NL_SEND_SIZE];
  struct ifinfomsg *ifi;
  struct nlmsghdr *nlh = nl_msg(buf, RTM_GETLINK, 0, (void **)&ifi, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
  /* Only the header is wanted, not the statistics and the rest. */
  mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  int index = 0;
  int e = nl_request(nl, nlh, link_index_cb, &index);
  if (e == ENODEV)
    return 0;
  if (e)
    return nl_fail(nl, err, e, "look up interface", name);
  return index;
}

int nl_bridge_create(struct nl *nl, const char *name, struct nc_err *err)
{
  if (nl_ifname_check(name, err) < 0)
    return -1;
  char buf[NL_SEND_SIZE];
  struct ifinfomsg *ifi;
  struct nlmsghdr *nlh =
    nl_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, (void **)&ifi, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
  struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
  mnl_attr_nest_end(nlh, info);
  int e = nl_request(nl, nlh, NULL, NULL);
  return e ? nl_fail(nl, err, e, "create bridge", name) : 0;
}

int nl_link_delete(struct nl *nl, const char *name, struct nc_err *err)
{
  if (nl_ifname_check(name, err) < 0)
    return -1;
  char buf[NL_SEND_SIZE];
  struct ifinfomsg *ifi;
  struct nlmsghdr *nlh = nl_msg(buf, RTM_DELLINK, 0, (void **)&ifi, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
  int e = nl_request(nl, nlh, NULL, NULL);
  if (e == ENODEV)
    return 0;
  return e ? nl_fail(nl, err, e, "delete interface", name) : 0;
}

int nl_link_up_index(struct nl *nl, int index, const char *name, struct nc_err *err)
{
  char buf[NL_SEND_SIZE];
  struct ifinfomsg *ifi;
  struct nlmsghdr *nlh = nl_msg(buf, RTM_NEWLINK, 0, (void **)&ifi, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  int e = nl_request(nl, nlh, NULL, NULL);
  return e ? nl_fail(nl, err, e, "set up interface", name) : 0;
}

int nl_link_set_master(struct nl *nl, const char *name, const char *master,
                       struct nc_err *err)
{
  int index = nl_link_index(nl, name, err), mindex = nl_link_index(nl, master, err);
  if (index < 0 || mindex < 0)
    return -1;
  if (index == 0 || mindex == 0)
    return 0;
  char buf[NL_SEND_SIZE];
  struct ifinfomsg *ifi;
  struct nlmsghdr *nlh = nl_msg(buf, RTM_NEWLINK, 0, (void **)&ifi, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)mindex);
  int e = nl_request(nl, nlh, NULL, NULL);
  return e ? nl_fail(nl, err, e, "attach to bridge", name) : 0;
}

int nl_link_up(struct nl *nl, const char *name, struct nc_err *err)
{
  int index = nl_link_index(nl, name, err);
  if (index < 0)
    return -1;
  if (index == 0)
    return nc_err_set(err, NC_ERR_NOT_FOUND, "set up interface %s: no such interface", name);
  return nl_link_up_index(nl, index, name, err);
}

int nl_veth_create(struct nl *nl, const char *host_name, const char *master,
                   const char *peer_name, int peer_netns_fd, const uint8_t peer_mac[6],
                   struct nc_err *err)
{
  if (nl_ifname_check(host_name, err) < 0 || nl_ifname_check(peer_name, err) < 0)
    return -1;
  int master_index = 0;
  if (master) {
    master_index = nl_link_index(nl, master, err);
    if (master_index < 0)
      return -1;
    if (master_index == 0)
      return nc_err_set(err, NC_ERR_NOT_FOUND, "create veth %s: no bridge %s", host_name,
                        master);
  }
  char buf[NL_SEND_SIZE];
  struct ifinfomsg *ifi;
  struct nlmsghdr *nlh =
    nl_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, (void **)&ifi, sizeof *ifi);
  /* Host side created up and enslaved in the same message: one round trip. */
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, host_name);
  if (master_index)
    mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master_index);
  if (peer_mac) {
    /* A bridge without an address of its own takes the lowest of its ports'; with
     * 0xfe in front, a host end never undercuts the bridge's (the gateway's) MAC, so
     * containers' ARP caches stay right as ports come and go (lxc does the same). */
    uint8_t host_mac[6];
    memcpy(host_mac, peer_mac, sizeof host_mac);
    host_mac[0] = 0xfe;
    mnl_attr_put(nlh, IFLA_ADDRESS, sizeof host_mac, host_mac);
  }
  struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
  struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
  struct nlattr *peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
  /* The peer's attributes follow an ifinfomsg of its own inside the nest. */
  struct ifinfomsg *pifi = mnl_nlmsg_get_payload_tail(nlh);
  nlh->nlmsg_len += MNL_ALIGN(sizeof *pifi);
  memset(pifi, 0, sizeof *pifi);
  pifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, peer_name);
  if (peer_netns_fd >= 0)
    mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)peer_netns_fd);
  if (peer_mac)
    mnl_attr_put(nlh, IFLA_ADDRESS, 6, peer_mac);
  mnl_attr_nest_end(nlh, peer);
  mnl_attr_nest_end(nlh, data);
  mnl_attr_nest_end(nlh, info);
  int e = nl_request(nl, nlh, NULL, NULL);
  if (e == EEXIST)
    return nc_err_set(err, NC_ERR_CONFLICT, "interface %s or its peer %s already exists",
                      host_name, peer_name);
  return e ? nl_fail(nl, err, e, "create veth", host_name) : 0;
}
