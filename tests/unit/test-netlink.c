/* net/netlink*.c, net/netns.c, net/ip4.c: the IPv4 text rules, then, inside a network
 * and mount namespace of the test's own (never the host's interfaces or mounts), real
 * bridges, veth pairs, namespaces and a TCP connection from the host side into an
 * attached namespace; finally the time an attach takes. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "net/netlink.h"
#include "tap.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))
#define BR "nctest0"

/* `call` returns 0; when it does not, the line says why (from `err` in scope). */
#define is_ok(call, what)                                                                          \
  do {                                                                                             \
    int r_ = (call);                                                                               \
    ok(r_ == 0, "%s%s%s", what, r_ ? ": " : "", r_ ? err.msg : "");                                \
  } while (0)

static void test_ip4(void)
{
  static const char *const bad[] = {
    "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4 ", " 1.2.3.4", "1..3.4",
    "1.2.3.", "a.b.c.d", "1.2.3.-4", "1234.1.1.1", "1.2.3.4/24",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    uint32_t a = 7;
    ok(ip4_parse(bad[i], &a) == -1 && a == 7, "ip4_parse refuses '%s'", bad[i]);
  }
  uint32_t a = 0;
  is_int(ip4_parse("10.1.2.3", &a), 0, "ip4_parse 10.1.2.3");
  is_int(a, IP(10, 1, 2, 3), "in host order");
  ok(ip4_parse("0.0.0.0", &a) == 0 && a == 0, "0.0.0.0");
  ok(ip4_parse("255.255.255.255", &a) == 0 && a == 0xffffffffu, "255.255.255.255");
  char text[16];
  ip4_format(IP(192, 168, 100, 254), text);
  is_str(text, "192.168.100.254", "ip4_format");
  ip4_format(0xffffffffu, text);
  is_str(text, "255.255.255.255", "ip4_format of the longest");

  uint32_t net = 0;
  int prefix = 0;
  ok(ip4_cidr_parse("10.1.2.0/24", &net, &prefix) == 0 && net == IP(10, 1, 2, 0) && prefix == 24,
     "cidr 10.1.2.0/24");
  ok(ip4_cidr_parse("10.0.0.0/8", &net, &prefix) == 0 && prefix == 8, "cidr /8");
  ok(ip4_cidr_parse("10.1.2.4/30", &net, &prefix) == 0 && prefix == 30, "cidr /30");
  static const char *const bad_cidr[] = {
    "10.1.2.1/24", "10.0.0.0/7", "10.1.2.0/31", "10.1.2.0/32", "10.1.2.0", "10.1.2.0/",
    "10.1.2.0/024", "10.1.2.0/24x", "10.1.2.0/-1", "/24", "10.1.2/24", "10.1.2.0/100",
  };
  for (size_t i = 0; i < sizeof bad_cidr / sizeof *bad_cidr; i++)
    ok(ip4_cidr_parse(bad_cidr[i], &net, &prefix) == -1, "cidr refuses '%s'", bad_cidr[i]);

  ok(ip4_overlap(IP(10, 0, 0, 0), 8, IP(10, 1, 2, 0), 24), "10/8 holds 10.1.2/24");
  ok(ip4_overlap(IP(10, 1, 2, 0), 24, IP(10, 0, 0, 0), 8), "and the other way round");
  ok(!ip4_overlap(IP(10, 1, 2, 0), 24, IP(10, 1, 3, 0), 24), "neighbours do not overlap");
  ok(ip4_overlap(IP(10, 1, 2, 0), 24, IP(10, 1, 2, 0), 24), "a prefix overlaps itself");
  ok(ip4_overlap(0, 0, IP(172, 16, 0, 0), 12), "/0 overlaps everything");
  ok(!ip4_overlap(IP(10, 1, 2, 0), 25, IP(10, 1, 2, 128), 25), "two halves of a /24");
  ok(ip4_overlap(IP(10, 1, 2, 7), 32, IP(10, 1, 2, 0), 24), "a /32 inside a /24");
}

static bool has_prefix(const struct nl_prefix *v, size_t n, uint32_t addr, int len,
                       const char *ifname)
{
  for (size_t i = 0; i < n; i++)
    if (v[i].addr == addr && v[i].len == len && strcmp(v[i].ifname, ifname) == 0)
      return true;
  return false;
}

/* A TCP listener on addr:port inside the namespace at `path` (the socket stays there). */
static int listen_in(const char *path, uint32_t addr, uint16_t port)
{
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int ns = open(path, O_RDONLY | O_CLOEXEC);
  int fd = -1;
  if (self >= 0 && ns >= 0 && setns(ns, CLONE_NEWNET) == 0) {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
                              .sin_addr.s_addr = htonl(addr) };
    if (fd >= 0 && (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 4) < 0)) {
      close(fd);
      fd = -1;
    }
    if (setns(self, CLONE_NEWNET) < 0)
      abort(); /* the rest of the test would run in the wrong place */
  }
  if (self >= 0)
    close(self);
  if (ns >= 0)
    close(ns);
  return fd;
}

/* Whether a TCP connection to addr:port from here completes within a second. */
static bool connects(uint32_t addr, uint16_t port)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(addr) };
  bool done = false;
  if (fd < 0)
    return false;
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
    done = true;
  } else if (errno == EINPROGRESS) {
    struct pollfd p = { .fd = fd, .events = POLLOUT };
    int soerr = -1;
    socklen_t len = sizeof soerr;
    done = poll(&p, 1, 1000) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 &&
           soerr == 0;
  }
  close(fd);
  return done;
}

/* The output of `cmd`, for a cross-check with ip(8); "" when it cannot run. */
static void run(const char *cmd, char *out, size_t size)
{
  out[0] = '\0';
  FILE *f = popen(cmd, "r");
  if (!f)
    return;
  size_t n = fread(out, 1, size - 1, f);
  out[n] = '\0';
  pclose(f);
  for (char *c = out; *c; c++) /* one TAP line */
    if (*c == '\n')
      *c = n && c == out + n - 1 ? '\0' : ';';
}

static double now_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void test_links(struct nl *nl)
{
  struct nc_err err = NC_ERR_INIT;
  ok(nl_link_index(nl, "lo", &err) > 0, "lo has an index");
  is_int(nl_link_index(nl, "nope0", &err), 0, "no such interface: 0");
  is_ok(nl_bridge_create(nl, BR, &err), "bridge created");
  is_int(nl_bridge_create(nl, BR, &err), -1, "bridge created twice");
  is_int(err.kind, NC_ERR_CONFLICT, "is a conflict");
  is_str(err.msg, "interface " BR " already exists", "which says so");
  is_int(nl_bridge_create(nl, "abcdefghijklmnop", &err), -1, "a 16-byte name");
  is_int(err.kind, NC_ERR_INVALID, "is invalid");
  is_ok(nl_link_up(nl, BR, &err), "bridge up");
  is_int(nl_link_up(nl, "nope0", &err), -1, "up on a missing interface");
  is_int(err.kind, NC_ERR_NOT_FOUND, "is not found");
  ok(nl_link_index(nl, BR, &err) > 0, "the bridge has an index");
  is_ok(nl_addr_add(nl, BR, IP(10, 77, 0, 1), 24, &err), "gateway address");
  is_int(nl_addr_add(nl, BR, IP(10, 77, 0, 1), 24, &err), 0, "the same again: 0");
  is_int(nl_addr_has(nl, BR, IP(10, 77, 0, 1), 24, &err), 1, "the bridge has it");
  is_int(nl_addr_has(nl, BR, IP(10, 77, 0, 1), 16, &err), 0, "not with another prefix");
  is_int(nl_addr_has(nl, "nope0", IP(10, 77, 0, 1), 24, &err), 0, "nor a missing interface");
  is_int(nl_addr_add(nl, "nope0", IP(10, 78, 0, 1), 24, &err), -1, "address on nothing");
  is_int(err.kind, NC_ERR_NOT_FOUND, "is not found");

  /* The kernel's refusal reaches the message: a peer "namespace" that is a file. */
  int notns = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  is_int(nl_veth_create(nl, "nc-bad0", BR, "eth0", notns, NULL, &err), -1, "veth into a non-ns");
  ok(err.kind == NC_ERR_INTERNAL && strstr(err.msg, "create veth nc-bad0: "), "says what: %s",
     err.msg);
  close(notns);
  is_int(nl_link_index(nl, "nc-bad0", &err), 0, "and left nothing");

  struct nl_prefix *v = NULL;
  size_t n = 0;
  is_ok(nl_prefixes(nl, &v, &n, &err), "prefixes dumped");
  ok(has_prefix(v, n, IP(10, 77, 0, 0), 24, BR), "the bridge's subnet is among %zu", n);
  ok(has_prefix(v, n, IP(127, 0, 0, 0), 8, "lo"), "and lo's");
  bool zero = false;
  for (size_t i = 0; i < n; i++)
    zero |= v[i].len == 0;
  ok(!zero, "no default route in the list");
  free(v);
}

static void test_netns(const char *dir)
{
  struct nc_err err = NC_ERR_INIT;
  char path[256], other[256];
  snprintf(path, sizeof path, "%s/ns1", dir);
  snprintf(other, sizeof other, "%s/plain", dir);
  ok(!netns_exists(path), "no namespace yet");
  is_ok(netns_create(path, &err), "netns_create");
  ok(netns_exists(path), "now there is");
  is_int(netns_create(path, &err), 0, "created twice: nothing changed");
  ok(netns_exists(path), "still there");
  ok(!netns_exists(dir), "a directory is none");
  ok(!netns_exists("/proc/self/ns/mnt"), "nor a mount namespace");
  int fd = open(other, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  close(fd);
  ok(!netns_exists(other), "nor a plain file");
  is_ok(netns_create(other, &err), "a leftover plain file becomes one");
  ok(netns_exists(other), "and is one");

  int ns = open(path, O_RDONLY | O_CLOEXEC);
  struct nl *in = NULL;
  is_ok(nl_open(&in, ns, &err), "nl_open inside");
  close(ns);
  if (in) {
    is_int(nl_addr_has(in, "lo", IP(127, 0, 0, 1), 8, &err), 1, "lo is up inside (127.0.0.1)");
    is_int(nl_link_index(in, BR, &err), 0, "the host's bridge is not seen there");
  }
  nl_close(in);

  is_int(netns_remove(path, &err), 0, "netns_remove");
  ok(access(path, F_OK) < 0 && errno == ENOENT, "the file is gone");
  is_int(netns_remove(path, &err), 0, "removed twice: 0");
  is_int(netns_remove(other, &err), 0, "the other removed");
}

static void test_attach(struct nl *host, const char *dir)
{
  struct nc_err err = NC_ERR_INIT;
  char path[256], cmd[512], out[4096];
  snprintf(path, sizeof path, "%s/c1", dir);
  struct netns_attach a = { .netns_path = path, .bridge = BR, .host_veth = "nc-veth1",
                            .addr = IP(10, 77, 0, 2), .prefix = 24, .gateway = IP(10, 77, 0, 1) };
  is_ok(netns_attach(host, &a, &err), "netns_attach");
  ok(netns_exists(path), "the namespace is there");
  int veth = nl_link_index(host, "nc-veth1", &err);
  ok(veth > 0, "the host end is there");

  int ns = open(path, O_RDONLY | O_CLOEXEC);
  struct nl *in = NULL;
  is_ok(nl_open(&in, ns, &err), "nl_open inside");
  close(ns);
  if (in) {
    ok(nl_link_index(in, "eth0", &err) > 0, "eth0 inside");
    is_int(nl_addr_has(in, "eth0", a.addr, 24, &err), 1, "with 10.77.0.2/24");
    struct nl_prefix *v = NULL;
    size_t n = 0;
    is_ok(nl_prefixes(in, &v, &n, &err), "prefixes inside");
    ok(has_prefix(v, n, IP(10, 77, 0, 0), 24, "eth0"), "the subnet on eth0");
    free(v);
  }
  snprintf(cmd, sizeof cmd, "nsenter --net=%s ip -4 route 2>/dev/null", path);
  run(cmd, out, sizeof out);
  ok(!out[0] || strstr(out, "default via 10.77.0.1 dev eth0"), "ip: the default route: %s", out);
  snprintf(cmd, sizeof cmd, "nsenter --net=%s ip link show eth0 2>/dev/null", path);
  run(cmd, out, sizeof out);
  ok(!out[0] || (strstr(out, "02:6e:0a:4d:00:02") && strstr(out, ",UP")),
     "ip: eth0 up with the MAC of its address: %s", out);

  int lfd = listen_in(path, a.addr, 8080);
  ok(lfd >= 0, "a listener inside");
  ok(connects(a.addr, 8080), "the host reaches it through the bridge");
  if (lfd >= 0)
    close(lfd);

  is_ok(netns_attach(host, &a, &err), "attached twice");
  is_int(nl_link_index(host, "nc-veth1", &err), veth, "the same veth, untouched");

  /* A half-done attach (eth0 gone, say) is redone. */
  if (in) {
    is_int(nl_link_delete(in, "eth0", &err), 0, "eth0 deleted inside");
    is_int(nl_link_index(host, "nc-veth1", &err), 0, "its host end went with it");
    is_ok(netns_attach(host, &a, &err), "attach redone");
    is_int(nl_addr_has(in, "eth0", a.addr, 24, &err), 1, "eth0 has its address again");
  }
  nl_close(in);

  /* A host end left over from a crash, with the name this attach wants. */
  char path2[256];
  snprintf(path2, sizeof path2, "%s/c2", dir);
  is_int(nl_veth_create(host, "nc-veth2", NULL, "nc-stale2", -1, NULL, &err), 0, "stale veth");
  struct netns_attach b = a;
  b.netns_path = path2;
  b.host_veth = "nc-veth2";
  b.addr = IP(10, 77, 0, 3);
  is_ok(netns_attach(host, &b, &err), "attach over a stale host end");
  is_int(nl_link_index(host, "nc-stale2", &err), 0, "the stale pair is gone");
  ok(nl_link_index(host, "nc-veth2", &err) > 0, "the new host end is there");

  struct netns_attach bad = a;
  bad.host_veth = "nc-veth-far-too-long";
  is_int(netns_attach(host, &bad, &err), -1, "a 20-byte veth name");
  ok(err.kind == NC_ERR_INVALID && access(bad.netns_path, F_OK) == 0, "is invalid, and the "
     "namespace there is left alone: %s", err.msg);
  bad = a;
  bad.prefix = 31;
  is_int(netns_attach(host, &bad, &err), -1, "a /31");
  is_int(err.kind, NC_ERR_INVALID, "is invalid");

  /* A failure leaves nothing. */
  char path3[256];
  snprintf(path3, sizeof path3, "%s/c3", dir);
  struct netns_attach c = a;
  c.netns_path = path3;
  c.host_veth = "nc-veth3";
  c.bridge = "nope0";
  is_int(netns_attach(host, &c, &err), -1, "attach to a missing bridge");
  ok(err.kind == NC_ERR_NOT_FOUND && strstr(err.msg, "nope0"), "not found: %s", err.msg);
  ok(access(path3, F_OK) < 0 && errno == ENOENT, "no namespace file left");
  is_int(nl_link_index(host, "nc-veth3", &err), 0, "no veth left");

  is_ok(netns_detach(host, path, "nc-veth1", &err), "detach");
  is_int(nl_link_index(host, "nc-veth1", &err), 0, "the veth is gone");
  ok(access(path, F_OK) < 0 && errno == ENOENT, "and the namespace file");
  is_int(netns_detach(host, path, "nc-veth1", &err), 0, "detached twice: 0");
  is_int(netns_detach(host, path2, "nc-veth2", &err), 0, "the other detached");
}

/* The median of 50 attach/detach cycles (each a new namespace), and of re-attaches. */
static void test_timing(struct nl *host, const char *dir)
{
  enum { N = 50 };
  double attach[N], again[N], detach[N];
  struct nc_err err = NC_ERR_INIT;
  int failed = 0;
  for (int i = 0; i < N; i++) {
    char path[256], veth[16];
    snprintf(path, sizeof path, "%s/t%d", dir, i);
    snprintf(veth, sizeof veth, "nc-t%d", i);
    struct netns_attach a = { .netns_path = path, .bridge = BR, .host_veth = veth,
                              .addr = IP(10, 77, 1, i + 1), .prefix = 16,
                              .gateway = IP(10, 77, 0, 1) };
    double t0 = now_us();
    failed += netns_attach(host, &a, &err) < 0;
    double t1 = now_us();
    failed += netns_attach(host, &a, &err) < 0;
    double t2 = now_us();
    failed += netns_detach(host, path, veth, &err) < 0;
    double t3 = now_us();
    attach[i] = t1 - t0;
    again[i] = t2 - t1;
    detach[i] = t3 - t2;
  }
  is_int(failed, 0, "%d attach/detach cycles: %s", N, failed ? err.msg : "all fine");
  qsort(attach, N, sizeof *attach, cmp_double);
  qsort(again, N, sizeof *again, cmp_double);
  qsort(detach, N, sizeof *detach, cmp_double);
  printf("# attach: median %.0f us (min %.0f, max %.0f); re-attach (no-op): median %.0f us; "
         "detach: median %.0f us\n",
         attach[N / 2], attach[0], attach[N - 1], again[N / 2], detach[N / 2]);
}

int main(void)
{
  test_ip4();

  /* Everything else in namespaces of our own: the host's links and mounts stay as
   * they are whatever happens here, and all of it vanishes when the test exits. */
  if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0 ||
      mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
    printf("ok %d # SKIP netlink tests need root (unshare: %s)\n", ++tap_n, strerror(errno));
    return tap_done();
  }
  char dir[] = "/tmp/nc-netlink-XXXXXX";
  if (!mkdtemp(dir)) {
    ok(0, "mkdtemp: %s", strerror(errno));
    return tap_done();
  }
  struct nc_err err = NC_ERR_INIT;
  struct nl *nl = NULL;
  is_ok(nl_open(&nl, -1, &err), "nl_open");
  if (nl) {
    nl_link_up(nl, "lo", &err);
    test_links(nl);
    test_netns(dir);
    test_attach(nl, dir);
    test_timing(nl, dir);
    is_ok(nl_link_delete(nl, BR, &err), "bridge deleted");
    is_int(nl_link_index(nl, BR, &err), 0, "and gone");
    is_int(nl_link_delete(nl, BR, &err), 0, "deleted twice: 0");
    nl_close(nl);
  }
  int r = rmdir(dir);
  ok(r == 0, "the temporary directory is left empty%s%s", r ? ": " : "", r ? strerror(errno) : "");
  return tap_done();
}
