/* Network namespaces kept by a bind mount on a file, and a container's attachment to
 * a network: veth pair, address, routes. No ip(8), no fork: a handful of syscalls. */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "net/netlink-internal.h"

bool netns_exists(const char *path)
{
  struct statfs sfs;
  /* statfs first: it opens nothing, so a FIFO or device at `path` cannot block us. */
  if (statfs(path, &sfs) < 0 || sfs.f_type != NSFS_MAGIC)
    return false;
  _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
  return fd >= 0 && ioctl(fd, NS_GET_NSTYPE) == CLONE_NEWNET;
}

struct create_job {
  const char *path;
  struct nc_err *err;
  int result;
};

/* The mount point: a new empty file, or one a crash left behind (reused, and then
 * not ours to unlink). Sets *made when this call created it. */
static int mount_point(const char *path, bool *made, struct nc_err *err)
{
  int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0);
  if (fd >= 0) {
    close(fd);
    *made = true;
    return 0;
  }
  if (errno != EEXIST)
    return nc_err_sys(err, errno, "create %s", path);
  struct stat st;
  struct statfs sfs;
  if (lstat(path, &st) < 0)
    return nc_err_sys(err, errno, "stat %s", path);
  if (!S_ISREG(st.st_mode) || (statfs(path, &sfs) == 0 && sfs.f_type == NSFS_MAGIC))
    return nc_err_set(err, NC_ERR_CONFLICT, "%s exists and is not a network namespace", path);
  *made = false;
  return 0;
}

/* Runs in a thread of its own: unshare(CLONE_NEWNET) moves only the calling thread,
 * and this one ends right after, so no thread of the daemon ever changes namespace. */
static void *create_thread(void *arg)
{
  struct create_job *job = arg;
  struct nc_err *err = job->err;
  bool made = false;
  job->result = -1;
  if (mount_point(job->path, &made, err) < 0)
    return NULL;
  if (unshare(CLONE_NEWNET) < 0) {
    nc_err_sys(err, errno, "new network namespace");
    goto fail;
  }
  if (mount("/proc/thread-self/ns/net", job->path, NULL, MS_BIND, NULL) < 0) {
    nc_err_sys(err, errno, "bind mount network namespace on %s", job->path);
    goto fail;
  }
  /* This thread is in the new namespace, so a socket opened here talks to it. */
  struct nl *nl = NULL;
  int r = nl_open(&nl, -1, err);
  if (r == 0)
    r = nl_link_up(nl, "lo", err);
  nl_close(nl);
  if (r < 0) {
    umount2(job->path, MNT_DETACH);
    goto fail;
  }
  job->result = 0;
  return NULL;
fail:
  if (made)
    unlink(job->path);
  return NULL;
}

int netns_create(const char *path, struct nc_err *err)
{
  if (netns_exists(path))
    return 0;
  struct create_job job = { .path = path, .err = err, .result = -1 };
  pthread_t t;
  int e = pthread_create(&t, NULL, create_thread, &job);
  if (e)
    return nc_err_sys(err, e, "create network namespace %s: start thread", path);
  pthread_join(t, NULL);
  if (job.result < 0)
    return nc_err_wrap(err, "create network namespace %s", path);
  return 0;
}

int netns_remove(const char *path, struct nc_err *err)
{
  /* EINVAL: not a mount point (a crash between create and mount); ENOENT: gone. */
  if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
    return nc_err_sys(err, errno, "unmount network namespace %s", path);
  if (unlink(path) < 0 && errno != ENOENT)
    return nc_err_sys(err, errno, "remove %s", path);
  return 0;
}

/* Inside the namespace: eth0's address and state, lo, the default route. */
static int configure_inside(struct nl *in, const struct netns_attach *a, bool lo,
                            struct nc_err *err)
{
  int index = nl_link_index(in, "eth0", err);
  if (index < 0)
    return -1;
  if (index == 0)
    return nc_err_set(err, NC_ERR_INTERNAL, "eth0 missing after its creation");
  if (nl_addr_add_index(in, index, "eth0", a->addr, a->prefix, err) < 0 ||
      nl_link_up_index(in, index, "eth0", err) < 0)
    return -1;
  if (lo && nl_link_up(in, "lo", err) < 0)
    return -1;
  return nl_route_add_default(in, a->gateway, err);
}

/* With the namespace open: done already, or make the veth and configure eth0. */
static int attach_in(struct nl *host, struct nl *in, int nsfd, const struct netns_attach *a,
                     bool created, bool *veth_made, struct nc_err *err)
{
  if (!created) {
    int has = nl_addr_has(in, "eth0", a->addr, a->prefix, err);
    if (has != 0)
      return has < 0 ? -1 : 0;
    /* An eth0 without our address is a half-done attach, or an older one: redo it. */
    if (nl_link_delete(in, "eth0", err) < 0)
      return -1;
  }
  /* The same address, the same MAC: a peer that still has the address in its ARP
   * cache from a container before this one reaches the right one anyway. */
  const uint8_t mac[6] = { 0x02, 0x6e, (uint8_t)(a->addr >> 24), (uint8_t)(a->addr >> 16),
                           (uint8_t)(a->addr >> 8), (uint8_t)a->addr };
  struct nc_err first = NC_ERR_INIT;
  if (nl_veth_create(host, a->host_veth, a->bridge, "eth0", nsfd, mac, &first) < 0) {
    /* A host end left by a crash (its namespace was just cleared of eth0, or is
     * another one): it carries the same name only because it is ours. */
    if (first.kind != NC_ERR_CONFLICT) {
      *err = first;
      return -1;
    }
    if (nl_link_delete(host, a->host_veth, err) < 0 ||
        nl_veth_create(host, a->host_veth, a->bridge, "eth0", nsfd, mac, err) < 0)
      return -1;
  }
  *veth_made = true;
  return configure_inside(in, a, !created, err);
}

int netns_attach(struct nl *host, const struct netns_attach *a, struct nc_err *err)
{
  char addr[16];
  ip4_format(a->addr, addr);
  /* Checked before anything is made, so a bad request leaves the host untouched. */
  if (!a->netns_path || !a->netns_path[0] || !a->bridge || a->prefix < 1 || a->prefix > 30)
    return nc_err_set(err, NC_ERR_INVALID, "attach %s: namespace path, bridge and a prefix "
                      "length of 1 to 30 are needed", addr);
  if (nl_ifname_check(a->host_veth, err) < 0)
    return nc_err_wrap(err, "attach %s", addr);
  bool created = false, veth_made = false;
  if (!netns_exists(a->netns_path)) {
    if (netns_create(a->netns_path, err) < 0)
      return nc_err_wrap(err, "attach %s", addr);
    created = true;
  }
  _cleanup_close_ int nsfd = open(a->netns_path, O_RDONLY | O_CLOEXEC);
  struct nl *in = NULL;
  int r;
  if (nsfd < 0)
    r = nc_err_sys(err, errno, "open %s", a->netns_path);
  else
    r = nl_open(&in, nsfd, err);
  if (r == 0)
    r = attach_in(host, in, nsfd, a, created, &veth_made, err);
  nl_close(in);
  if (r == 0)
    return 0;
  struct nc_err ignored = NC_ERR_INIT;
  if (veth_made)
    nl_link_delete(host, a->host_veth, &ignored); /* takes eth0 with it */
  if (created)
    netns_remove(a->netns_path, &ignored);
  return nc_err_wrap(err, "attach %s on %s", addr, a->bridge);
}

int netns_detach(struct nl *host, const char *netns_path, const char *host_veth,
                 struct nc_err *err)
{
  if (nl_link_delete(host, host_veth, err) < 0)
    return -1;
  return netns_remove(netns_path, err);
}
