/* net/dns.c against the real dnsmasq. Everything happens in namespaces of the test's
 * own (network, mount, pid): the bridges, the addresses and every dnsmasq started are
 * invisible to the host. The tests run in pid 1 of the new pid namespace, and the kernel
 * kills all of that namespace when pid 1 ends, so no dnsmasq outlives the test, even if
 * a check crashes it (and PDEATHSIG ends pid 1 if meson kills the outer process). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/timeutil.h"
#include "net/dns.h"
#include "tap.h"

#define GW0 0x0afa0001u /* 10.250.0.1 on nc-t0 */
#define GW1 0x0afa0101u /* 10.250.1.1 on nc-t1 */
#define ADDR(d) (0x0afa0000u | (d))

static char dir[] = "/tmp/nanocl-test-dns-XXXXXX";
static struct nc_err err = NC_ERR_INIT;

/* A cleared error for the next call, so a message printed after it is its own. */
static struct nc_err *fresh(void)
{
  nc_err_clear(&err);
  return &err;
}

/* Skips a (possibly compressed) name at off; the offset after it, or -1. */
static int skip_name(const unsigned char *m, int len, int off)
{
  while (off < len) {
    if (m[off] == 0)
      return off + 1;
    if ((m[off] & 0xc0) == 0xc0)
      return off + 2 <= len ? off + 2 : -1;
    off += m[off] + 1;
  }
  return -1;
}

/* A stub resolver: one A query for `name` over UDP to server:53. Fills out[] with the
 * answer's A records (host byte order) and *rcode; returns their count, or -1 when no
 * answer came within 1 s. */
static int resolve(uint32_t server, const char *name, uint32_t *out, int max, int *rcode)
{
  unsigned char q[512], r[1500];
  int n = 12;
  uint16_t id = (uint16_t)rand();
  memset(q, 0, 12);
  q[0] = id >> 8, q[1] = id & 0xff, q[2] = 0x01, q[5] = 1; /* RD, one question */
  for (const char *p = name; *p;) {
    size_t l = strcspn(p, ".");
    q[n++] = (unsigned char)l;
    memcpy(q + n, p, l);
    n += (int)l;
    p += l + (p[l] == '.');
  }
  q[n++] = 0;
  q[n++] = 0, q[n++] = 1, q[n++] = 0, q[n++] = 1; /* A, IN */

  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(53),
                            .sin_addr.s_addr = htonl(server) };
  int got = -1;
  if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) < 0 || send(s, q, (size_t)n, 0) != n)
    goto out;
  struct pollfd p = { .fd = s, .events = POLLIN };
  if (poll(&p, 1, 1000) != 1)
    goto out;
  int len = (int)recv(s, r, sizeof r, 0);
  if (len < 12 || r[0] != q[0] || r[1] != q[1] || !(r[2] & 0x80))
    goto out;
  *rcode = r[3] & 0x0f;
  int qd = r[4] << 8 | r[5], an = r[6] << 8 | r[7], off = 12;
  for (int i = 0; i < qd && off >= 0; i++)
    off = skip_name(r, len, off) + 4;
  got = 0;
  for (int i = 0; i < an && off >= 0; i++) {
    off = skip_name(r, len, off);
    if (off < 0 || off + 10 > len)
      break;
    int type = r[off] << 8 | r[off + 1], rdlen = r[off + 8] << 8 | r[off + 9];
    off += 10;
    if (off + rdlen > len)
      break;
    if (type == 1 && rdlen == 4 && got < max)
      out[got++] = (uint32_t)r[off] << 24 | (uint32_t)r[off + 1] << 16 |
                   (uint32_t)r[off + 2] << 8 | r[off + 3];
    off += rdlen;
  }
out:
  if (s >= 0)
    close(s);
  return got;
}

/* The one A record of `name`, or 0 (NXDOMAIN, no answer, several). */
static uint32_t resolve1(uint32_t server, const char *name)
{
  uint32_t a[4];
  int rcode = -1;
  return resolve(server, name, a, 4, &rcode) == 1 ? a[0] : 0;
}

/* The address of `name` within 2 s (a SIGHUP is handled asynchronously), or 0. */
static uint32_t resolve_eventually(uint32_t server, const char *name, uint32_t want)
{
  uint32_t a = 0;
  for (int i = 0; i < 200 && (a = resolve1(server, name)) != want; i++)
    nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
  return a;
}

/* We are pid 1: every dnsmasq that exits becomes our zombie. */
static void reap(void)
{
  while (waitpid(-1, NULL, WNOHANG) > 0)
    ;
}

static bool gone(pid_t pid)
{
  reap();
  return kill(pid, 0) < 0 && errno == ESRCH;
}

static bool exists(const char *name)
{
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return access(path, F_OK) == 0;
}

/* How many processes' command lines contain `needle`. */
static int count_procs(const char *needle)
{
  reap();
  int count = 0;
  DIR *d = opendir("/proc");
  for (struct dirent *e; d && (e = readdir(d));) {
    char path[300], buf[4096];
    if (e->d_name[0] < '0' || e->d_name[0] > '9')
      continue;
    snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
      close(fd);
    for (ssize_t i = 0; i < n; i++)
      if (buf[i] == '\0')
        buf[i] = ' ';
    buf[n > 0 ? n : 0] = '\0';
    count += strstr(buf, needle) != NULL;
  }
  if (d)
    closedir(d);
  return count;
}

static long vm_rss_kb(pid_t pid)
{
  char path[64], *text = NULL;
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  if (nc_read_file(path, 1 << 16, &text, NULL, fresh()) < 0)
    return -1;
  char *p = strstr(text, "VmRSS:");
  long kb = p ? strtol(p + 6, NULL, 10) : -1;
  free(text);
  return kb;
}

/* "read DIR/ID.hosts - N names" lines: one per (re)load of the hosts file. */
static int reloads(const char *id)
{
  char path[512], *text = NULL;
  snprintf(path, sizeof path, "%s/%s.log", dir, id);
  if (nc_read_file(path, 1 << 20, &text, NULL, fresh()) < 0)
    return -1;
  int n = 0;
  for (char *p = text; (p = strstr(p, ".hosts - ")); p++)
    n++;
  free(text);
  return n;
}

static int run(void)
{
  const char *hosts1 = "10.250.0.5 web\n10.250.0.6 api\n10.250.0.7 api\n";
  const char *hosts2 = "10.250.0.5 web\n10.250.0.8 db\n";
  struct dns_config c1 = { .dir = dir, .id = "nt1", .bridge = "nc-t0", .listen_addr = GW0 };
  struct dns_config c2 = { .dir = dir, .id = "nt2", .bridge = "nc-t1", .listen_addr = GW1 };

  uint64_t t0 = nc_time_mono_ns();
  is_int(dns_ensure(&c1, hosts1, fresh()), 0, "dns_ensure starts dnsmasq for nt1 %s", err.msg);
  printf("# started and answering after %.1f ms\n", (double)(nc_time_mono_ns() - t0) / 1e6);
  pid_t pid1 = dns_pid(dir, "nt1");
  ok(pid1 > 0, "dns_pid finds it (%d)", (int)pid1);
  printf("# VmRSS of dnsmasq: %ld kB\n", vm_rss_kb(pid1));

  is_int(resolve1(GW0, "web"), ADDR(5), "web → 10.250.0.5");
  uint32_t a[4] = { 0 };
  int rcode = -1;
  int n = resolve(GW0, "api", a, 4, &rcode);
  ok(n == 2 && ((a[0] == ADDR(6) && a[1] == ADDR(7)) || (a[0] == ADDR(7) && a[1] == ADDR(6))),
     "api → both of its addresses (%d records)", n);
  n = resolve(GW0, "nothere", a, 4, &rcode);
  ok(n == 0 && rcode == 3, "an unknown one-label name is NXDOMAIN, not forwarded (rcode %d)",
     rcode);

  char path[512], *text = NULL;
  struct stat st;
  snprintf(path, sizeof path, "%s/nt1.hosts", dir);
  ok(nc_read_file(path, 4096, &text, NULL, fresh()) == 0 && strcmp(text, hosts1) == 0,
     "the hosts file holds the text given");
  free(text);
  ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644,
     "it is 0644 (dnsmasq reads it as nobody)");

  /* A change: written, SIGHUP, the new name answers, the old one is gone; same server. */
  int before = reloads("nt1");
  is_int(dns_ensure(&c1, hosts2, fresh()), 0, "dns_ensure with changed hosts %s", err.msg);
  is_int(dns_pid(dir, "nt1"), pid1, "the same server (no restart)");
  is_int(resolve_eventually(GW0, "db", ADDR(8)), ADDR(8), "db → 10.250.0.8 after the SIGHUP");
  is_int(resolve1(GW0, "api"), 0, "api is gone");
  ok(reloads("nt1") == before + 1, "the hosts file was re-read once (%d → %d)", before,
     reloads("nt1"));

  /* No change: nothing happens. */
  before = reloads("nt1");
  is_int(dns_ensure(&c1, hosts2, fresh()), 0, "dns_ensure with the same hosts %s", err.msg);
  nanosleep(&(struct timespec){ 0, 100000000 }, NULL);
  is_int(dns_pid(dir, "nt1"), pid1, "same pid");
  is_int(reloads("nt1"), before, "no reload");

  /* A second network beside it, on its own address and names. */
  is_int(dns_ensure(&c2, "10.250.1.5 other\n", fresh()), 0, "a second server for nt2 %s", err.msg);
  pid_t pid2 = dns_pid(dir, "nt2");
  ok(pid2 > 0 && pid2 != pid1, "with a pid of its own (%d)", (int)pid2);
  is_int(resolve1(GW1, "other"), ADDR(0x105), "other → 10.250.1.5 on 10.250.1.1");
  is_int(resolve1(GW0, "other"), 0, "but not on nt1's server");
  is_int(resolve1(GW0, "web"), ADDR(5), "nt1 still answers");

  /* A pid file naming someone else is not adopted: us, or nt1's dnsmasq. */
  char pidtext[32];
  snprintf(path, sizeof path, "%s/nt3.pid", dir);
  snprintf(pidtext, sizeof pidtext, "%d\n", (int)getpid());
  nc_write_file_atomic(path, pidtext, strlen(pidtext), 0644, fresh());
  is_int(dns_pid(dir, "nt3"), 0, "a pid file with a pid that is not dnsmasq: 0");
  snprintf(pidtext, sizeof pidtext, "%d\n", (int)pid1);
  nc_write_file_atomic(path, pidtext, strlen(pidtext), 0644, fresh());
  is_int(dns_pid(dir, "nt3"), 0, "a pid file with another network's dnsmasq: 0");

  /* The server died behind our back: dns_ensure starts another, even with no change. */
  kill(pid1, SIGKILL);
  for (int i = 0; i < 200 && !gone(pid1); i++)
    nanosleep(&(struct timespec){ 0, 5000000 }, NULL);
  is_int(dns_pid(dir, "nt1"), 0, "a killed server: dns_pid is 0");
  is_int(dns_ensure(&c1, hosts2, fresh()), 0, "dns_ensure starts it again %s", err.msg);
  pid1 = dns_pid(dir, "nt1");
  ok(pid1 > 0, "new pid %d", (int)pid1);
  is_int(resolve1(GW0, "db"), ADDR(8), "db answers again");

  /* Failures: clear, and nothing left running. */
  struct dns_config bad = { .dir = dir, .id = "nt3", .bridge = "nc-t0",
                            .listen_addr = ADDR(0x901) };
  is_int(dns_ensure(&bad, "", fresh()), -1, "an address on no interface fails");
  ok(err.kind == NC_ERR_INTERNAL && strstr(err.msg, "10.250.9.1") &&
       strstr(err.msg, "Cannot assign requested address"),
     "saying why: %s", err.msg);
  is_int(dns_pid(dir, "nt3"), 0, "no server for nt3");
  is_int(count_procs("nt3.pid"), 0, "no dnsmasq process left for nt3");
  struct dns_config taken = { .dir = dir, .id = "nt4", .bridge = "nc-t0", .listen_addr = GW0 };
  is_int(dns_ensure(&taken, "", fresh()), -1, "an address another dnsmasq has fails");
  ok(strstr(err.msg, "Address already in use") != NULL, "saying why: %s", err.msg);
  is_int(count_procs("nt4.pid"), 0, "no dnsmasq process left for nt4");
  struct dns_config noexe = { .dir = dir, .id = "nt5", .bridge = "nc-t0", .listen_addr = GW0,
                              .dnsmasq = "/nonexistent/dnsmasq" };
  is_int(dns_ensure(&noexe, "", fresh()), -1, "a missing executable fails: %s", err.msg);
  struct dns_config badid = { .dir = dir, .id = "../x", .bridge = "nc-t0", .listen_addr = GW0 };
  is_int(dns_ensure(&badid, "", fresh()), -1, "an id with '/' is refused");
  is_int(err.kind, NC_ERR_INVALID, "as invalid: %s", err.msg);

  /* Stop: process and files gone; again is fine. */
  is_int(dns_stop(dir, "nt1", fresh()), 0, "dns_stop nt1 %s", err.msg);
  ok(gone(pid1), "its process is gone");
  ok(!exists("nt1.hosts") && !exists("nt1.pid") && !exists("nt1.log"), "its files are gone");
  is_int(dns_pid(dir, "nt1"), 0, "dns_pid is 0");
  is_int(dns_stop(dir, "nt1", fresh()), 0, "dns_stop again is fine %s", err.msg);
  is_int(resolve1(GW1, "other"), ADDR(0x105), "nt2 still answers");
  is_int(dns_stop(dir, "nt2", fresh()), 0, "dns_stop nt2 %s", err.msg);
  ok(gone(pid2), "its process is gone");

  /* A hosts file dnsmasq cannot read once it is nobody: refused, not silently empty. */
  char priv[300];
  snprintf(priv, sizeof priv, "%s/priv", dir);
  mkdir(priv, 0700);
  struct dns_config hidden = { .dir = priv, .id = "nt6", .bridge = "nc-t1", .listen_addr = GW1 };
  is_int(dns_ensure(&hidden, "10.250.1.5 other\n", fresh()), -1, "an unreadable hosts file fails");
  ok(strstr(err.msg, "Permission denied") != NULL, "saying why: %s", err.msg);
  is_int(count_procs("nt6.pid"), 0, "no dnsmasq process left for nt6");
  dns_stop(priv, "nt6", fresh());
  rmdir(priv);
  for (int i = 3; i <= 5; i++) {
    char id[16];
    snprintf(id, sizeof id, "nt%d", i);
    dns_stop(dir, id, fresh());
  }
  is_int(count_procs("dnsmasq"), 0, "no dnsmasq left at all");
  return tap_done();
}

/* pid 1 of the new namespaces: /proc of our pid namespace, two bridges, a 0755 dir. */
static int setup(void)
{
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
      mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
    printf("1..0 # SKIP cannot mount /proc in a new mount namespace: %s\n", strerror(errno));
    return -1;
  }
  if (system("ip link add nc-t0 type bridge && ip addr add 10.250.0.1/24 dev nc-t0 && "
             "ip link set nc-t0 up && ip link add nc-t1 type bridge && "
             "ip addr add 10.250.1.1/24 dev nc-t1 && ip link set nc-t1 up && "
             "ip link set lo up") != 0) {
    printf("1..0 # SKIP cannot create bridges with ip(8)\n");
    return -1;
  }
  /* dnsmasq reads the hosts file as nobody: the directory must be traversable. */
  if (!mkdtemp(dir) || chmod(dir, 0755) < 0) {
    printf("1..0 # SKIP cannot create %s: %s\n", dir, strerror(errno));
    return -1;
  }
  return 0;
}

int main(void)
{
  if (geteuid() != 0) {
    printf("1..0 # SKIP needs root (network namespaces, dnsmasq binds port 53)\n");
    return 0;
  }
  if (access("/usr/sbin/dnsmasq", X_OK) < 0 && access("/usr/bin/dnsmasq", X_OK) < 0) {
    printf("1..0 # SKIP dnsmasq is not installed (dnsmasq-base)\n");
    return 0;
  }
  if (unshare(CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWPID) < 0) {
    printf("1..0 # SKIP cannot unshare namespaces: %s\n", strerror(errno));
    return 0;
  }
  fflush(stdout);
  pid_t inner = fork();
  if (inner == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (setup() < 0)
      _exit(0);
    int r = run();
    fflush(stdout);
    for (int i = 1; i <= 5; i++) {
      char id[16];
      snprintf(id, sizeof id, "nt%d", i);
      dns_stop(dir, id, fresh());
    }
    rmdir(dir);
    exit(r); /* exit, not _exit: LeakSanitizer checks here */
  }
  if (inner < 0) {
    printf("1..0 # SKIP cannot fork: %s\n", strerror(errno));
    return 0;
  }
  int status;
  while (waitpid(inner, &status, 0) < 0 && errno == EINTR)
    ;
  /* _exit: our pid namespace died with `inner`, so no thread can be created any more
   * (LeakSanitizer would try one at exit and fail); this process allocated nothing. */
  fflush(stdout);
  _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}
