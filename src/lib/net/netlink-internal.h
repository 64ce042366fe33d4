/* What netlink.c shares with netlink-addr.c and netns.c: the socket, one
 * request/answer exchange, and the error message built from the kernel's answer. */
#pragma once

#include <libmnl/libmnl.h>

#include "net/netlink.h"

/* A dump answer comes in multi-part datagrams of up to 32 KiB (the kernel sizes them
 * after our receive buffer, capped there), bigger than MNL_SOCKET_BUFFER_SIZE. */
#define NL_RECV_SIZE 65536u
/* Every request we send is a header, a struct and a few short attributes. */
#define NL_SEND_SIZE 1024u

struct nl {
  struct mnl_socket *sock;
  unsigned portid;
  unsigned seq;
  char ext[128]; /* the kernel's extended-ack message of the last failure, or "" */
  char buf[NL_RECV_SIZE];
};

/* Sends `nlh` (sequence number and NLM_F_ACK set here) and reads every answer up to
 * the ack or the end of the dump, handing each data message to `cb` (may be NULL).
 * Returns 0, or the errno of the failure (the kernel's, or the socket's); `cb` never
 * stops the exchange early, so the socket is always left with nothing pending. */
int nl_request(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data);

/* nc_err_sys with "OP NAME: strerror" and the kernel's own words when it gave some;
 * EEXIST becomes NC_ERR_CONFLICT "interface NAME already exists". Returns -1. */
int nl_fail(struct nl *nl, struct nc_err *err, int errnum, const char *op, const char *name);

/* Interface names the kernel takes: 1..15 bytes, no '/', no blank. */
int nl_ifname_check(const char *name, struct nc_err *err);

/* A new message of `type` with `flags` and a zeroed struct of `size` after the header,
 * in `buf` (NL_SEND_SIZE bytes). */
struct nlmsghdr *nl_msg(void *buf, uint16_t type, uint16_t flags, void **extra, size_t size);

/* Sets `up` on interface `index`. */
int nl_link_up_index(struct nl *nl, int index, const char *name, struct nc_err *err);
int nl_addr_add_index(struct nl *nl, int index, const char *ifname, uint32_t addr, int prefix,
                      struct nc_err *err);
