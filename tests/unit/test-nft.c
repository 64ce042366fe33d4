/* net/nft.c: the script's text, the refusal of bad input, and, inside a network
 * namespace of its own (never the host's ruleset), the table in the kernel and real
 * traffic through it: isolation between networks, published ports from outside, from
 * another network and from the host's 127.0.0.1, and masquerade on the way out. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "net/nft.h"
#include "tap.h"

#define T "nctest"
#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

static struct nft_network net(const char *bridge, uint32_t subnet, int prefix)
{
  struct nft_network n = { .subnet = subnet, .prefix = prefix };
  snprintf(n.bridge, sizeof n.bridge, "%s", bridge);
  return n;
}

static struct nft_port port(uint32_t host_ip, uint16_t host_port, const char *proto,
                            uint32_t addr, uint16_t cport, const char *bridge)
{
  struct nft_port p = { .host_ip = host_ip, .host_port = host_port, .addr = addr, .port = cport };
  snprintf(p.proto, sizeof p.proto, "%s", proto);
  snprintf(p.bridge, sizeof p.bridge, "%s", bridge);
  return p;
}

static int count(const char *hay, const char *needle)
{
  int n = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
    n++;
  return n;
}

static void check_scripts(void)
{
  char *s = nft_script(T, NULL, 0, NULL, 0, false);
  const char *head = "table inet " T " {}\ndelete table inet " T "\ntable inet " T " {\n";
  ok(s && strncmp(s, head, strlen(head)) == 0, "0 networks: create, delete, create in one script");
  ok(s && strstr(s, "ct state established,related accept"), "0 networks: established rule");
  ok(s && !strstr(s, "iifname") && !strstr(s, "masquerade") && !strstr(s, "dnat"),
     "0 networks: no other rule");
  free(s);

  struct nft_network one[] = { net("nc-aaaa", IP(10, 1, 0, 0), 24) };
  s = nft_script(T, one, 1, NULL, 0, false);
  ok(s && strstr(s, "iifname \"nc-aaaa\" oifname \"nc-aaaa\" accept\n"), "1 network: inside");
  ok(s && strstr(s, "ct status dnat oifname \"nc-aaaa\" accept\n"), "1 network: published");
  ok(s && strstr(s, "oifname \"nc-aaaa\" drop\n"), "1 network: nothing else in");
  ok(s && strstr(s, "ip saddr 10.1.0.0/24 oifname != \"nc-aaaa\" masquerade\n"),
     "1 network: masquerade out");
  ok(s && strstr(s, "ip saddr 127.0.0.0/8 oifname \"nc-aaaa\" masquerade\n"),
     "1 network: masquerade of loopback in");
  free(s);

  struct nft_network two[] = { net("nc-aaaa", IP(10, 1, 0, 0), 24),
                               net("nc-bbbb", IP(10, 2, 0, 0), 16) };
  struct nft_port ports[] = { port(IP(192, 168, 1, 5), 8080, "tcp", IP(10, 1, 0, 2), 80, "nc-aaaa"),
                              port(0, 53, "udp", IP(10, 2, 0, 3), 5353, "nc-bbbb") };
  s = nft_script(T, two, 2, ports, 2, false);
  const char *any = "{ \"nc-aaaa\", \"nc-bbbb\" }";
  char want[200];
  ok(s && count(s, any) == 6, "2 networks: the set of bridges in 5 rules (one twice)");
  snprintf(want, sizeof want, "iifname %s oifname %s drop\n", any, any);
  ok(s && strstr(s, want), "2 networks: drop between networks");
  ok(s && strstr(s, "iifname \"nc-bbbb\" oifname \"nc-bbbb\" accept\n"), "2 networks: inside 2nd");
  ok(s && strstr(s, "ip saddr 10.2.0.0/16 oifname != \"nc-bbbb\" masquerade\n"),
     "2 networks: /16 masquerade");
  ok(s && count(s, "ip daddr 192.168.1.5 tcp dport 8080 dnat ip to 10.1.0.2:80\n") == 2,
     "port on one host address, in prerouting and output");
  ok(s && count(s, "fib daddr type local udp dport 53 dnat ip to 10.2.0.3:5353\n") == 2,
     "port on every local address, in prerouting and output");
  ok(s && strstr(s, "type nat hook output priority -100;"), "output chain at dstnat's number");
  free(s);
}

static void refused(const char *table, const struct nft_network *nets, size_t nnets,
                    const struct nft_port *ports, size_t nports, const char *what)
{
  struct nc_err err = NC_ERR_INIT;
  char *s = nft_script(table, nets, nnets, ports, nports, false);
  int rc = nft_apply(table, nets, nnets, ports, nports, false, &err);
  ok(!s && rc == -1 && err.kind == NC_ERR_INVALID, "refused: %s (%s)", what, err.msg);
  free(s);
}

static void check_refusals(void)
{
  struct nft_network good = net("nc-aaaa", IP(10, 1, 0, 0), 24);
  struct nft_port gp = port(0, 80, "tcp", IP(10, 1, 0, 2), 80, "nc-aaaa");
  static const char *const tables[] = { "", "A", "a b", "a;b", "a}", "a\n",
                                        "abcdefghijklmnopqrstuvwxyz0123456" /* 33 */ };
  for (size_t i = 0; i < sizeof tables / sizeof *tables; i++)
    refused(tables[i], &good, 1, &gp, 1, "table name");
  refused(NULL, NULL, 0, NULL, 0, "NULL table name");

  static const char *const bridges[] = { "", "nc a", "nc\"a", "nc-a}", "nc;a", "nc/a" };
  for (size_t i = 0; i < sizeof bridges / sizeof *bridges; i++) {
    struct nft_network n = net(bridges[i], IP(10, 1, 0, 0), 24);
    refused(T, &n, 1, NULL, 0, "bridge name");
  }
  struct nft_network n = good;
  memset(n.bridge, 'a', sizeof n.bridge); /* 16 bytes, no NUL */
  refused(T, &n, 1, NULL, 0, "bridge name without its NUL");
  n = net("nc-aaaa", IP(10, 1, 0, 0), 0);
  refused(T, &n, 1, NULL, 0, "prefix 0");
  n = net("nc-aaaa", IP(10, 1, 0, 0), 33);
  refused(T, &n, 1, NULL, 0, "prefix 33");
  n = net("nc-aaaa", IP(10, 1, 0, 1), 24);
  refused(T, &n, 1, NULL, 0, "host bits set");
  struct nft_network dup[] = { good, good };
  refused(T, dup, 2, NULL, 0, "one bridge twice");

  struct nft_port p = gp;
  static const char *const protos[] = { "", "TCP", "icm", "tc" };
  for (size_t i = 0; i < sizeof protos / sizeof *protos; i++) {
    p = port(0, 80, protos[i], IP(10, 1, 0, 2), 80, "nc-aaaa");
    refused(T, &good, 1, &p, 1, "protocol");
  }
  p = gp;
  memcpy(p.proto, "tcpx", 4); /* no NUL */
  refused(T, &good, 1, &p, 1, "protocol without its NUL");
  p = port(0, 0, "tcp", IP(10, 1, 0, 2), 80, "nc-aaaa");
  refused(T, &good, 1, &p, 1, "host port 0");
  p = port(0, 80, "tcp", IP(10, 1, 0, 2), 0, "nc-aaaa");
  refused(T, &good, 1, &p, 1, "container port 0");
  p = port(0, 80, "tcp", 0, 80, "nc-aaaa");
  refused(T, &good, 1, &p, 1, "no container address");
  p = port(0, 80, "tcp", IP(10, 1, 0, 2), 80, "nc a");
  refused(T, &good, 1, &p, 1, "port's bridge name");

  struct nc_err err = NC_ERR_INIT;
  ok(nft_remove("a;b", &err) == -1 && err.kind == NC_ERR_INVALID, "remove: bad table refused");
}

/* `nft list table inet T` through the CLI; NULL when it fails (no such table). */
static char *list_table(void)
{
  FILE *f = popen("/usr/sbin/nft list table inet " T " 2>/dev/null", "r");
  if (!f)
    return NULL;
  static char out[1 << 16];
  size_t n = fread(out, 1, sizeof out - 1, f);
  out[n] = '\0';
  return pclose(f) == 0 ? out : NULL;
}

static double now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void check_kernel(void)
{
  struct nc_err err = NC_ERR_INIT;
  struct nft_network two[] = { net("nc-aaaa", IP(10, 1, 0, 0), 24),
                               net("nc-bbbb", IP(10, 2, 0, 0), 24) };
  struct nft_port ports[] = { port(0, 8080, "tcp", IP(10, 1, 0, 2), 80, "nc-aaaa"),
                              port(IP(10, 2, 0, 1), 53, "udp", IP(10, 2, 0, 3), 53, "nc-bbbb") };
  is_int(nft_apply(T, two, 2, ports, 2, false, &err), 0, "apply to a namespace with no table %s", err.msg);
  char *l = list_table();
  ok(l && strstr(l, "nc-aaaa") && strstr(l, "nc-bbbb"), "listed: both bridges");
  ok(l && strstr(l, "ct status dnat oifname"), "listed: ct status dnat in inet forward");
  ok(l && strstr(l, "ip saddr 10.2.0.0/24 oifname != \"nc-bbbb\" masquerade"),
     "listed: masquerade");
  ok(l && count(l, "fib daddr type local tcp dport 8080 dnat ip to 10.1.0.2:80") == 2,
     "listed: port in prerouting and output");
  ok(l && count(l, "ip daddr 10.2.0.1 udp dport 53 dnat ip to 10.2.0.3:53") == 2,
     "listed: port on one address");
  if (!l || !strstr(l, "nc-aaaa"))
    printf("# listing:\n%s\n", l ? l : "(none)");

  is_int(nft_apply(T, two, 1, ports, 1, false, &err), 0, "apply again, one network %s", err.msg);
  l = list_table();
  ok(l && strstr(l, "nc-aaaa") && !strstr(l, "nc-bbbb") && !strstr(l, "udp"),
     "replaced: the old network and port are gone");
  is_int(nft_apply(T, NULL, 0, NULL, 0, false, &err), 0, "apply with nothing %s", err.msg);
  l = list_table();
  ok(l && !strstr(l, "nc-aaaa") && strstr(l, "chain output"), "empty table, chains kept");

  is_int(nft_remove(T, &err), 0, "remove %s", err.msg);
  ok(!list_table(), "table gone");
  is_int(nft_remove(T, &err), 0, "remove again: nothing to do");

  /* An error from the kernel: the same call without the right to change rules. */
  int pfd[2];
  if (pipe(pfd) == 0) {
    pid_t pid = fork();
    if (pid == 0) {
      close(pfd[0]);
      /* libnftables 1.0.6 prints "(you must be root)" to stderr itself. */
      int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
      if (null >= 0)
        dup2(null, 2);
      struct nc_err e = NC_ERR_INIT;
      int rc = setuid(65534) == 0 ? nft_apply(T, two, 2, ports, 2, false, &e) : 0;
      dprintf(pfd[1], "%d %d %s", rc, (int)e.kind, e.msg);
      _exit(0);
    }
    close(pfd[1]);
    char msg[1200] = "";
    ssize_t n = read(pfd[0], msg, sizeof msg - 1);
    msg[n > 0 ? n : 0] = '\0';
    close(pfd[0]);
    waitpid(pid, NULL, 0);
    char want[32];
    snprintf(want, sizeof want, "-1 %d ", NC_ERR_INTERNAL);
    ok(strncmp(msg, want, strlen(want)) == 0 && !strchr(msg, '\n') && strstr(msg, "nctest"),
       "refused by the kernel: internal, one line: %s", msg);
  }

  /* How long a whole replacement takes. */
  enum { NN = 50, NP = 200, ROUNDS = 20 };
  static struct nft_network many[NN];
  static struct nft_port mports[NP];
  for (int i = 0; i < NN; i++) {
    char b[16];
    snprintf(b, sizeof b, "nc-%08x", 0x1a2b3c00u + (unsigned)i);
    many[i] = net(b, IP(10, 100, i, 0), 24);
  }
  for (int i = 0; i < NP; i++)
    mports[i] = port(i % 3 ? 0 : IP(192, 168, 0, 1), (uint16_t)(20000 + i), i % 2 ? "udp" : "tcp",
                     IP(10, 100, i % NN, 2 + i / NN), 80, many[i % NN].bridge);
  int fails = 0;
  double t0 = now_ms();
  for (int i = 0; i < ROUNDS; i++)
    fails += nft_apply(T, many, 1, NULL, 0, false, &err) < 0;
  double t1 = now_ms();
  for (int i = 0; i < ROUNDS; i++)
    fails += nft_apply(T, many, NN, mports, NP, false, &err) < 0;
  double t2 = now_ms();
  is_int(fails, 0, "timed applies all succeed %s", err.msg);
  printf("# nft_apply, 1 network 0 ports: %.2f ms; %d networks %d ports: %.2f ms (mean of %d)\n",
         (t1 - t0) / ROUNDS, NN, NP, (t2 - t1) / ROUNDS, ROUNDS);
  l = list_table();
  ok(l && count(l, "dnat ip to") == 2 * NP, "big table: %d DNAT rules listed", 2 * NP);
  nft_remove(T, &err);
}

/* ---- traffic ----
 * A "box" stands for a container: a child in a network namespace of its own, driven
 * by one-line commands on a pipe ("sh CMD", "listen PORT", "connect IP PORT"). It
 * answers every TCP connection to its listening port with the address the connection
 * came from, so the other end learns what NAT did. */
struct box {
  pid_t pid;
  int cmd, reply;
};

static int read_line(int fd, char *out, size_t size, int timeout_ms)
{
  size_t n = 0;
  while (n + 1 < size) {
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, timeout_ms) <= 0)
      return -1;
    char c;
    if (read(fd, &c, 1) != 1)
      return -1;
    if (c == '\n')
      break;
    out[n++] = c;
  }
  out[n] = '\0';
  return 0;
}

/* Connects with a short timeout (a dropped SYN is a failure, not a hang) and reads
 * the peer's one line: the source address the server saw. */
static int try_connect(const char *ip, unsigned port, char *seen, size_t size)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
  if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
    return -1;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
  if (rc < 0 && errno == EINPROGRESS) {
    struct pollfd p = { .fd = fd, .events = POLLOUT };
    int e = 0;
    socklen_t len = sizeof e;
    rc = poll(&p, 1, 1500) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) == 0 && !e
           ? 0
           : -1;
  }
  if (rc == 0)
    rc = read_line(fd, seen, size, 1500);
  close(fd);
  return rc;
}

static void box_main(int cmd, int reply)
{
  if (unshare(CLONE_NEWNET) < 0)
    _exit(1);
  dprintf(reply, "ready\n");
  int lfd = -1;
  char line[512], ip[32], seen[64];
  unsigned p;
  for (;;) {
    struct pollfd pf[2] = { { .fd = cmd, .events = POLLIN }, { .fd = lfd, .events = POLLIN } };
    if (poll(pf, lfd >= 0 ? 2 : 1, -1) < 0)
      continue;
    if (lfd >= 0 && pf[1].revents) {
      struct sockaddr_in sa;
      socklen_t len = sizeof sa;
      int c = accept(lfd, (struct sockaddr *)&sa, &len);
      if (c >= 0) {
        dprintf(c, "%s\n", inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof ip));
        close(c);
      }
    }
    if (!pf[0].revents)
      continue;
    if (read_line(cmd, line, sizeof line, -1) < 0)
      _exit(0);
    if (strncmp(line, "sh ", 3) == 0) {
      dprintf(reply, "%d\n", system(line + 3));
    } else if (sscanf(line, "listen %u", &p) == 1) {
      struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)p) };
      lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      int ok_ = lfd >= 0 && bind(lfd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
                listen(lfd, 8) == 0;
      dprintf(reply, "%d\n", ok_ ? 0 : -1);
    } else if (sscanf(line, "connect %31s %u", ip, &p) == 2) {
      if (try_connect(ip, p, seen, sizeof seen) == 0)
        dprintf(reply, "ok %s\n", seen);
      else
        dprintf(reply, "fail\n");
    } else {
      dprintf(reply, "?\n");
    }
  }
}

static int box_start(struct box *b)
{
  int c[2], r[2];
  if (pipe2(c, O_CLOEXEC) < 0 || pipe2(r, O_CLOEXEC) < 0)
    return -1;
  b->pid = fork();
  if (b->pid == 0) {
    close(c[1]);
    close(r[0]);
    box_main(c[0], r[1]);
  }
  close(c[0]);
  close(r[1]);
  b->cmd = c[1];
  b->reply = r[0];
  char line[64];
  return b->pid > 0 && read_line(b->reply, line, sizeof line, 5000) == 0 ? 0 : -1;
}

/* Sends one command, returns its one-line answer in `out`. */
static const char *box_ask(struct box *b, char *out, size_t size, const char *fmt, ...)
  __attribute__((format(printf, 4, 5)));
static const char *box_ask(struct box *b, char *out, size_t size, const char *fmt, ...)
{
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (dprintf(b->cmd, "%s\n", line) < 0 || read_line(b->reply, out, size, 10000) < 0)
    snprintf(out, size, "(no answer)");
  return out;
}

static void box_stop(struct box *b)
{
  if (b->pid > 0) {
    kill(b->pid, SIGKILL);
    waitpid(b->pid, NULL, 0);
  }
  close(b->cmd);
  close(b->reply);
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
  char cmd[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  int rc = system(cmd);
  if (rc != 0)
    printf("# '%s' failed: %d\n", cmd, rc);
  return rc;
}

/* Host side of a box: its eth0 is the peer of `host_if`, in the box's namespace. */
static int box_wire(struct box *b, const char *host_if, const char *bridge, const char *addr,
                    const char *gw, const char *route)
{
  char a[64];
  int rc = sh("ip link add %s type veth peer name eth0 netns %d", host_if, (int)b->pid);
  rc |= bridge ? sh("ip link set %s master %s up", host_if, bridge)
                : sh("ip link set %s up", host_if);
  rc |= strcmp(box_ask(b, a, sizeof a, "sh ip link set lo up && ip addr add %s dev eth0 && "
                                       "ip link set eth0 up && ip route add %s via %s",
                       addr, route, gw), "0") != 0;
  return rc;
}

struct world {
  struct box c1, c2, c3, out;
};

static void traffic_checks(struct world *w, const char *how)
{
  char a[64];
  is_str(box_ask(&w->c2, a, sizeof a, "connect 10.99.1.2 80"), "fail",
         "network 2 cannot reach network 1%s", how);
  is_str(box_ask(&w->c1, a, sizeof a, "connect 10.99.2.2 80"), "fail",
         "network 1 cannot reach network 2%s", how);
  is_str(box_ask(&w->out, a, sizeof a, "connect 10.99.1.2 80"), "fail",
         "outside cannot reach a container directly%s", how);
  is_str(box_ask(&w->out, a, sizeof a, "connect 10.99.9.1 8080"), "ok 10.99.9.2",
         "outside reaches the published port, its address kept%s", how);
  ok(strncmp(box_ask(&w->c2, a, sizeof a, "connect 10.99.2.1 8080"), "ok ", 3) == 0,
     "network 2 reaches network 1's published port through the host%s (%s)", how, a);
  is_str(box_ask(&w->c3, a, sizeof a, "connect 10.99.1.2 80"), "ok 10.99.1.3",
         "a container reaches another of its network directly%s", how);
  /* c3 -> host -> c1 and back: c1's answer must go through the host to be un-NATed. */
  is_str(box_ask(&w->c3, a, sizeof a, "connect 10.99.1.1 8080"), "ok 10.99.1.1",
         "a container reaches a published port of its own network through the host%s", how);
  is_str(box_ask(&w->c1, a, sizeof a, "connect 10.99.9.2 80"), "ok 10.99.9.1",
         "a container reaches outside, masqueraded%s", how);
  char seen[64] = "";
  int r = try_connect("127.0.0.1", 8080, seen, sizeof seen);
  ok(r == 0 && strcmp(seen, "10.99.1.1") == 0, "the host's 127.0.0.1:8080 reaches it, "
     "masqueraded to the bridge's address%s (%s)", how, seen);
  r = try_connect("10.99.9.1", 8080, seen, sizeof seen);
  ok(r == 0, "the host's own address reaches it too%s (%s)", how, seen);
}

static void check_traffic(void)
{
  struct world w = { { -1, -1, -1 }, { -1, -1, -1 }, { -1, -1, -1 }, { -1, -1, -1 } };
  char a[64];
  int rc = box_start(&w.c1) | box_start(&w.c2) | box_start(&w.c3) | box_start(&w.out);
  rc |= sh("ip link set lo up && echo 1 > /proc/sys/net/ipv4/ip_forward");
  for (int i = 1; i <= 2; i++)
    rc |= sh("ip link add nc-t%d type bridge && ip addr add 10.99.%d.1/24 dev nc-t%d && "
             "ip link set nc-t%d up && echo 1 > /proc/sys/net/ipv4/conf/nc-t%d/route_localnet",
             i, i, i, i, i);
  rc |= box_wire(&w.c1, "vh1", "nc-t1", "10.99.1.2/24", "10.99.1.1", "default");
  rc |= box_wire(&w.c3, "vh3", "nc-t1", "10.99.1.3/24", "10.99.1.1", "default");
  rc |= box_wire(&w.c2, "vh2", "nc-t2", "10.99.2.2/24", "10.99.2.1", "default");
  rc |= box_wire(&w.out, "vo", NULL, "10.99.9.2/24", "10.99.9.1", "10.99.0.0/16");
  rc |= sh("ip addr add 10.99.9.1/24 dev vo");
  struct box *servers[] = { &w.c1, &w.c2, &w.out };
  for (size_t i = 0; i < sizeof servers / sizeof *servers; i++)
    rc |= strcmp(box_ask(servers[i], a, sizeof a, "listen 80"), "0") != 0;
  ok(rc == 0, "two networks (two containers in one), and an outside namespace");

  struct nc_err err = NC_ERR_INIT;
  struct nft_network nets[] = { net("nc-t1", IP(10, 99, 1, 0), 24),
                                net("nc-t2", IP(10, 99, 2, 0), 24) };
  struct nft_port ports[] = { port(0, 8080, "tcp", IP(10, 99, 1, 2), 80, "nc-t1") };
  is_int(nft_apply(T, nets, 2, ports, 1, false, &err), 0, "apply %s", err.msg);

  /* Bridged traffic goes through the inet hooks too when br_netfilter is on (it often
   * is, loaded for Docker or Kubernetes); the rules must hold either way. */
  static const char *const nf_call = "/proc/sys/net/bridge/bridge-nf-call-iptables";
  if (access(nf_call, W_OK) == 0) {
    sh("echo 0 > %s", nf_call);
    traffic_checks(&w, " (br_netfilter off)");
    sh("echo 1 > %s", nf_call);
    traffic_checks(&w, " (br_netfilter on)");
  } else {
    traffic_checks(&w, "");
  }
  char seen[64];
  sh("echo 0 > /proc/sys/net/ipv4/conf/nc-t1/route_localnet");
  ok(try_connect("127.0.0.1", 8080, seen, sizeof seen) < 0,
     "without route_localnet on the bridge, 127.0.0.1 does not get through");

  nft_remove(T, &err);
  box_stop(&w.c1);
  box_stop(&w.c2);
  box_stop(&w.c3);
  box_stop(&w.out);
}

int main(void)
{
  signal(SIGPIPE, SIG_IGN);
  check_scripts();
  check_refusals();
  if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0) {
    ok(1, "# SKIP needs root and a network namespace of its own (%s)", strerror(errno));
    return tap_done();
  }
  check_kernel();
  check_traffic();
  return tap_done();
}
