/* dnsmasq as the DNS server of one container network (dns.h says what and why).
 *
 * One server per network, started detached (double fork, its own session) so it keeps
 * answering while nanocld is away, found again through its pid file. Every signal goes
 * through a pidfd opened *before* the pid is checked against /proc/PID/cmdline, so a pid
 * recycled by another program is never signalled. Calls for one id are serialised by
 * the caller (net/service.c holds its mutex). */
#include "net/dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/parse.h"
#include "base/timeutil.h"

#define DNS_START_TIMEOUT_MS 2000
#define DNS_STOP_TIMEOUT_MS 2000
#define DNS_KILL_TIMEOUT_MS 1000
#define DNS_PROBE_STEP_MS 10

struct dns_files {
  char hosts[PATH_MAX];
  char pid[PATH_MAX];
  char log[PATH_MAX];
};

/* The id becomes part of file names: anything but [0-9a-z-] could leave `dir`. */
static int files_of(const char *dir, const char *id, struct dns_files *f, struct nc_err *err)
{
  size_t n = strlen(id);
  bool good = n > 0 && n <= 64;
  for (const char *p = id; good && *p; p++)
    good = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-';
  if (!good)
    return nc_err_set(err, NC_ERR_INVALID, "DNS server id '%.80s' is not 1 to 64 of [0-9a-z-]", id);
  if (snprintf(f->hosts, sizeof f->hosts, "%s/%s.hosts", dir, id) >= (int)sizeof f->hosts ||
      snprintf(f->pid, sizeof f->pid, "%s/%s.pid", dir, id) >= (int)sizeof f->pid ||
      snprintf(f->log, sizeof f->log, "%s/%s.log", dir, id) >= (int)sizeof f->log)
    return nc_err_set(err, NC_ERR_INVALID, "DNS directory path too long: '%.200s'", dir);
  return 0;
}

static int pidfd_open_(pid_t pid)
{
  return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int pidfd_signal(int pidfd, int sig)
{
  return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* True once the process of `pidfd` has exited (a pidfd polls readable then, child of ours
 * or not), false after timeout_ms. */
static bool pidfd_wait(int pidfd, int timeout_ms)
{
  uint64_t end = nc_time_mono_ns() + (uint64_t)timeout_ms * 1000000u;
  for (;;) {
    uint64_t now = nc_time_mono_ns();
    int left = now >= end ? 0 : (int)((end - now + 999999u) / 1000000u);
    struct pollfd p = { .fd = pidfd, .events = POLLIN };
    int k = poll(&p, 1, left);
    if (k > 0)
      return true;
    if (k == 0 || errno != EINTR)
      return false;
  }
}

/* Whether PID runs dnsmasq with --pid-file=PIDFILE (and --listen-address=LISTEN when
 * `listen` is set). A pid file outlives its process and the pid may be another
 * program's by now; a zombie has an empty cmdline and never matches. */
static bool is_our_server(pid_t pid, const char *pidfile, const char *listen)
{
  char path[64], buf[3 * PATH_MAX + 1024];
  snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
  _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  size_t len = 0;
  for (;;) {
    ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    len += (size_t)n;
    if (len == sizeof buf - 1)
      break;
  }
  buf[len] = '\0';
  const char *base = strrchr(buf, '/');
  if (len == 0 || !strstr(base ? base + 1 : buf, "dnsmasq"))
    return false;
  bool pid_ok = false, listen_ok = listen == NULL;
  for (const char *a = buf + strlen(buf) + 1; a < buf + len; a += strlen(a) + 1) {
    if (strncmp(a, "--pid-file=", 11) == 0 && strcmp(a + 11, pidfile) == 0)
      pid_ok = true;
    if (listen && strncmp(a, "--listen-address=", 17) == 0 && strcmp(a + 17, listen) == 0)
      listen_ok = true;
  }
  return pid_ok && listen_ok;
}

static pid_t read_pid_file(const char *path)
{
  char *text = NULL;
  struct nc_err ignore = NC_ERR_INIT;
  if (nc_read_file(path, 32, &text, NULL, &ignore) < 0)
    return 0;
  text[strcspn(text, "\n")] = '\0';
  uint64_t v = 0;
  int r = nc_parse_u64(text, INT_MAX, &v);
  free(text);
  return r == 0 && v > 1 ? (pid_t)v : 0;
}

/* The running server of `f` as a pidfd (opened before the check, so it cannot name a
 * recycled pid afterwards) with its pid, or -1. */
static int open_server(const struct dns_files *f, pid_t *pid)
{
  pid_t p = read_pid_file(f->pid);
  int pidfd = p > 0 ? pidfd_open_(p) : -1;
  if (pidfd < 0)
    return -1;
  if (!is_our_server(p, f->pid, NULL)) {
    close(pidfd);
    return -1;
  }
  *pid = p;
  return pidfd;
}

/* SIGTERM, 2 s, SIGKILL: dnsmasq exits at once on SIGTERM; SIGKILL is for one stuck. */
static int terminate(int pidfd, pid_t pid, const char *id, struct nc_err *err)
{
  if (pidfd_signal(pidfd, SIGTERM) < 0 && errno != ESRCH)
    return nc_err_sys(err, errno, "cannot stop dnsmasq %d for network %s", (int)pid, id);
  if (pidfd_wait(pidfd, DNS_STOP_TIMEOUT_MS))
    return 0;
  nc_log(NC_LOG_WARN, "dnsmasq %d for network %s still runs %d ms after SIGTERM; killing it",
         (int)pid, id, DNS_STOP_TIMEOUT_MS);
  if (pidfd_signal(pidfd, SIGKILL) < 0 && errno != ESRCH)
    return nc_err_sys(err, errno, "cannot kill dnsmasq %d for network %s", (int)pid, id);
  if (pidfd_wait(pidfd, DNS_KILL_TIMEOUT_MS))
    return 0;
  return nc_err_set(err, NC_ERR_INTERNAL, "dnsmasq %d for network %s does not exit after SIGKILL",
                    (int)pid, id);
}

/* The last 4 KiB of the log: enough for the line that says why dnsmasq stopped. */
static void read_log_tail(const char *path, char *buf, size_t size)
{
  buf[0] = '\0';
  _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0)
    return;
  off_t want = (off_t)size - 1;
  ssize_t n = pread(fd, buf, size - 1, st.st_size > want ? st.st_size - want : 0);
  buf[n > 0 ? n : 0] = '\0';
}

/* One line of the log tail, the first containing `needle` or else the last non-empty
 * one, without dnsmasq's "Nov 22 10:00:00 dnsmasq[42]: " or "dnsmasq: " prefix.
 * Cuts `tail` in place. */
static const char *log_line(char *tail, const char *needle)
{
  char *line = needle ? strstr(tail, needle) : NULL;
  if (line) {
    while (line > tail && line[-1] != '\n')
      line--;
    line[strcspn(line, "\n")] = '\0';
  } else {
    size_t n = strlen(tail);
    while (n > 0 && (tail[n - 1] == '\n' || tail[n - 1] == ' '))
      tail[--n] = '\0';
    line = strrchr(tail, '\n');
    line = line ? line + 1 : tail;
  }
  for (char *tag = line; (tag = strstr(tag, "dnsmasq")) != NULL; tag += 7)
    if (tag[7] == ':' || tag[7] == '[') {
      char *colon = strstr(tag, ": ");
      if (colon)
        return colon + 2;
    }
  return line;
}

static int find_dnsmasq(const char *given, char *out, size_t size, struct nc_err *err)
{
  if (given) {
    if (access(given, X_OK) < 0)
      return nc_err_sys(err, errno, "cannot execute dnsmasq '%s'", given);
    snprintf(out, size, "%s", given);
    return 0;
  }
  static const char *const fixed[] = { "/usr/sbin/dnsmasq", "/usr/bin/dnsmasq" };
  for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
    if (access(fixed[i], X_OK) == 0) {
      snprintf(out, size, "%s", fixed[i]);
      return 0;
    }
  for (const char *p = getenv("PATH"); p && *p;) {
    size_t len = strcspn(p, ":");
    if (len > 0 && snprintf(out, size, "%.*s/dnsmasq", (int)len, p) < (int)size &&
        access(out, X_OK) == 0)
      return 0;
    p += len + (p[len] == ':');
  }
  return nc_err_set(err, NC_ERR_INTERNAL,
                    "dnsmasq not found in /usr/sbin, /usr/bin or PATH "
                    "(Debian/Ubuntu: apt-get install dnsmasq-base)");
}

/* What the spawning children tell the parent on the sync pipe: 'p' the server's pid,
 * 'e' an errno (fork, setsid or execv failed). One write each, atomic on a pipe. */
struct spawn_msg {
  char tag;
  int value;
};

/* fds 0-2 are about to be overwritten in the child; ours must not be among them
 * (nanocld may run with a closed stdin). */
static int above_stdio(int *fd)
{
  if (*fd < 0 || *fd > 2)
    return 0;
  int moved = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
  if (moved < 0)
    return -1;
  close(*fd);
  *fd = moved;
  return 0;
}

/* The grandchild: stdio, nothing else of nanocld's open, default signals, exec.
 * Only async-signal-safe calls: nanocld is multi-threaded. */
static void __attribute__((noreturn))
exec_server(char *const argv[], int null_fd, int log_fd, int sync_fd)
{
  int out = sync_fd;
  if (dup2(null_fd, 0) < 0 || dup2(null_fd, 1) < 0 || dup2(log_fd, 2) < 0 || dup2(sync_fd, 3) < 0)
    goto fail;
  out = 3;
  /* fd 3 stays open until execv succeeds, to report its failure. */
  fcntl(3, F_SETFD, FD_CLOEXEC);
  if (close_range(4, ~0U, 0) < 0) {
    struct rlimit rl = { 1024, 1024 };
    getrlimit(RLIMIT_NOFILE, &rl);
    for (rlim_t fd = 4; fd < rl.rlim_cur && fd < 1u << 20; fd++)
      close((int)fd);
  }
  /* An ignored signal and the blocked mask survive execv: undo nanocld's. */
  struct sigaction dfl = { .sa_handler = SIG_DFL };
  for (int s = 1; s < NSIG; s++)
    sigaction(s, &dfl, NULL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  execv(argv[0], argv);
fail:;
  struct spawn_msg m = { 'e', errno };
  ssize_t w = write(out, &m, sizeof m);
  (void)w;
  _exit(127);
}

/* Double fork: the child makes a session and forks the server, tells its pid and exits
 * at once; we reap the child, and the server (re-parented to init, or to the nearest
 * subreaper) is never our zombie.
 * Returns the server's pid once execv has succeeded. */
static int spawn(char *const argv[], const struct dns_files *f, pid_t *pid, struct nc_err *err)
{
  _cleanup_close_ int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0 || above_stdio(&null_fd) < 0)
    return nc_err_sys(err, errno, "cannot open /dev/null");
  /* O_APPEND: dnsmasq opens the same file with O_APPEND for --log-facility; errors
   * from before that (a socket it cannot bind) come on stderr. O_TRUNC: one log per
   * server, so what wait_ready() looks for in it is this server's. */
  _cleanup_close_ int log_fd =
    open(f->log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
  if (log_fd < 0 || above_stdio(&log_fd) < 0)
    return nc_err_sys(err, errno, "cannot create '%s'", f->log);
  int sync[2];
  if (pipe2(sync, O_CLOEXEC) < 0)
    return nc_err_sys(err, errno, "cannot create a pipe");
  _cleanup_close_ int rd = sync[0], wr = sync[1];
  if (above_stdio(&rd) < 0 || above_stdio(&wr) < 0)
    return nc_err_sys(err, errno, "cannot create a pipe");

  /* No signal handler of nanocld may run in the children before the defaults are back. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t child = fork();
  if (child == 0) {
    pid_t server = setsid() < 0 ? -1 : fork();
    if (server == 0)
      exec_server(argv, null_fd, log_fd, wr);
    struct spawn_msg m = { server > 0 ? 'p' : 'e', server > 0 ? (int)server : errno };
    ssize_t w = write(wr, &m, sizeof m);
    (void)w;
    _exit(0);
  }
  int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  nc_closep(&wr);
  if (child < 0)
    return nc_err_sys(err, fork_errno, "cannot fork");
  while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
    ;

  /* Until EOF: the server's copy of the pipe closes when execv succeeds. */
  pid_t server = 0;
  int failed = 0;
  uint64_t end = nc_time_mono_ns() + (uint64_t)DNS_START_TIMEOUT_MS * 1000000u;
  for (;;) {
    uint64_t now = nc_time_mono_ns();
    struct pollfd p = { .fd = rd, .events = POLLIN };
    int k = poll(&p, 1, now >= end ? 0 : (int)((end - now) / 1000000u) + 1);
    if (k < 0 && errno == EINTR)
      continue;
    struct spawn_msg m;
    if (k <= 0 || read(rd, &m, sizeof m) != (ssize_t)sizeof m)
      break;
    if (m.tag == 'p')
      server = (pid_t)m.value;
    else
      failed = m.value;
  }
  if (failed)
    return nc_err_sys(err, failed, "cannot execute '%s'", argv[0]);
  if (server <= 0)
    return nc_err_set(err, NC_ERR_INTERNAL, "cannot start '%s': no pid from the child", argv[0]);
  *pid = server;
  return 0;
}

enum probe { PROBE_READY, PROBE_DIED, PROBE_TIMEOUT };

/* Whether the log names the hosts file: dnsmasq logs "read FILE - N names" (or "failed
 * to load names from FILE") when it has loaded it. */
static bool hosts_loaded(const struct dns_files *f)
{
  char tail[4096];
  read_log_tail(f->log, tail, sizeof tail);
  return strstr(tail, f->hosts) != NULL;
}

/* Ready means, in this order: the pid file holds our pid (dnsmasq writes it only after
 * binding its sockets; before that, another server on the address could answer for it),
 * the hosts file is loaded (so its names answer as soon as we return), and a query for
 * "localhost" A to addr:53 is answered. dnsmasq answers that name itself (one label,
 * and --domain-needed forwards none), so readiness never depends on upstream servers.
 * Checked every 10 ms until the server exits or timeout_ms pass. */
static enum probe wait_ready(int pidfd, pid_t pid, const struct dns_files *f, uint32_t addr,
                             int timeout_ms)
{
  uint16_t id = (uint16_t)(nc_time_mono_ns() >> 10);
  const unsigned char q[] = { id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
                              9, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't', 0, 0, 1, 0, 1 };
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(53),
                            .sin_addr.s_addr = htonl(addr) };
  _cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  bool usable = s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof sa) == 0;
  bool bound = false, loaded = false;
  uint64_t end = nc_time_mono_ns() + (uint64_t)timeout_ms * 1000000u;
  for (;;) {
    uint64_t slot_end = nc_time_mono_ns() + DNS_PROBE_STEP_MS * 1000000u;
    bound = bound || read_pid_file(f->pid) == pid;
    loaded = loaded || (bound && hosts_loaded(f));
    bool sent = loaded && usable && send(s, q, sizeof q, MSG_NOSIGNAL) == (ssize_t)sizeof q;
    struct pollfd p[2] = { { .fd = pidfd, .events = POLLIN }, { .fd = s, .events = POLLIN } };
    for (;;) {
      uint64_t now = nc_time_mono_ns();
      if (now >= slot_end)
        break;
      int k = poll(p, sent ? 2 : 1, (int)((slot_end - now) / 1000000u) + 1);
      if (k < 0 && errno != EINTR)
        break;
      if (k > 0 && p[0].revents)
        return PROBE_DIED;
      if (k > 0 && sent && p[1].revents) {
        unsigned char r[512];
        ssize_t n = recv(s, r, sizeof r, 0);
        if (n >= 12 && r[0] == q[0] && r[1] == q[1] && (r[2] & 0x80))
          return PROBE_READY;
        if (n < 0 && errno != EAGAIN)
          sent = false; /* refused (ICMP): only the pidfd until the slot ends */
      }
    }
    if (nc_time_mono_ns() >= end)
      return pidfd_wait(pidfd, 0) ? PROBE_DIED : PROBE_TIMEOUT;
  }
}

/* The command line, option by option:
 * --keep-in-foreground   the process we start is the server (no fork of its own): we know
 *                        its pid without waiting for the pid file and detach it ourselves.
 * --conf-file=/dev/null  not /etc/dnsmasq.conf: a host dnsmasq's settings (DHCP, other
 *                        interfaces, conf-dir) are none of this network's business.
 * --no-hosts             nor the host's /etc/hosts: only names nanocld writes answer.
 * --addn-hosts=ID.hosts  those names, re-read on SIGHUP.
 * --listen-address=GW --bind-interfaces
 *                        binds GW:53 itself, not 0.0.0.0:53, so a server per network
 *                        shares port 53 with the others and with the host's resolver
 *                        (127.0.0.53, a host dnsmasq). With only --listen-address, loopback
 *                        is not added (so no --except-interface=lo). Not --interface=BRIDGE:
 *                        it would also bind the bridge's IPv6 link-local address. Not
 *                        --bind-dynamic: GW is on the bridge before we start and stays.
 *                        An address on no interface fails at once: "failed to create
 *                        listening socket for GW: Cannot assign requested address".
 * --cache-size=0         no cache: an answer is the hosts file as of the last SIGHUP or
 *                        fresh from upstream (like Docker's embedded DNS; the host's
 *                        resolver caches if it wants). Hosts entries are not cache entries
 *                        and still answer; --no-negcache would change nothing.
 * --domain-needed        a one-label name not in the hosts file (a container that is gone)
 *                        is NXDOMAIN here instead of leaking to the host's resolvers.
 * --user=nobody          root only to bind port 53; the hosts file is 0644 in a directory
 *                        others may traverse. Spelt out: the built-in default differs
 *                        between distributions.
 * --pid-file, --log-facility=ID.log
 *                        adoption by a restarted nanocld; a log with timestamps.
 * Upstream: dnsmasq's default, the servers of /etc/resolv.conf, re-read when it changes.
 * TTL of hosts answers: dnsmasq's default 0 (--local-ttl), so clients cache nothing. */
/* "IP[:PORT],…" → "--server=IP#PORT" options; how many. Entries were checked by
 * dns_upstream_check (bad ones are skipped here). */
static size_t upstream_args(const char *list, char out[DNS_UPSTREAM_MAX][64])
{
  size_t n = 0;
  for (const char *p = list; p && *p && n < DNS_UPSTREAM_MAX;) {
    size_t len = strcspn(p, ",");
    char entry[40], ip[16];
    if (len > 0 && len < sizeof entry) {
      memcpy(entry, p, len);
      entry[len] = '\0';
      char *colon = strchr(entry, ':');
      if (colon)
        *colon = '\0';
      uint32_t a;
      snprintf(ip, sizeof ip, "%.15s", entry);
      if (inet_pton(AF_INET, ip, &a) == 1)
        snprintf(out[n++], 64, "--server=%s%s%s", ip, colon ? "#" : "", colon ? colon + 1 : "");
    }
    p += len + (p[len] == ',');
  }
  return n;
}

int dns_upstream_check(const char *list, struct nc_err *err)
{
  size_t n = 0;
  for (const char *p = list; p && *p; n++) {
    size_t len = strcspn(p, ",");
    char entry[40];
    if (n == DNS_UPSTREAM_MAX)
      return nc_err_set(err, NC_ERR_INVALID, "DNS upstream: at most %d servers",
                        DNS_UPSTREAM_MAX);
    if (len == 0 || len >= sizeof entry)
      return nc_err_set(err, NC_ERR_INVALID, "DNS upstream '%.64s': expected IP[:PORT],…", list);
    memcpy(entry, p, len);
    entry[len] = '\0';
    char *colon = strchr(entry, ':');
    uint64_t port = 53;
    if (colon)
      *colon = '\0';
    struct in_addr a;
    if (inet_pton(AF_INET, entry, &a) != 1 ||
        (colon && (nc_parse_u64(colon + 1, 65535, &port) < 0 || port == 0)))
      return nc_err_set(err, NC_ERR_INVALID, "DNS upstream '%.40s': expected IPv4[:PORT]",
                        entry);
    p += len + (p[len] == ',');
  }
  return 0;
}

static int start_server(const struct dns_config *c, const struct dns_files *f,
                        const char *listen, struct nc_err *err)
{
  char exe[PATH_MAX], o_hosts[PATH_MAX + 16], o_listen[40], o_pid[PATH_MAX + 16],
    o_log[PATH_MAX + 16];
  if (find_dnsmasq(c->dnsmasq, exe, sizeof exe, err) < 0)
    return -1;
  snprintf(o_hosts, sizeof o_hosts, "--addn-hosts=%s", f->hosts);
  snprintf(o_listen, sizeof o_listen, "--listen-address=%s", listen);
  snprintf(o_pid, sizeof o_pid, "--pid-file=%s", f->pid);
  snprintf(o_log, sizeof o_log, "--log-facility=%s", f->log);
  const char *argv[16 + DNS_UPSTREAM_MAX] = {
    exe, "--keep-in-foreground", "--conf-file=/dev/null", "--no-hosts", o_hosts, o_listen,
    "--bind-interfaces", "--cache-size=0", "--domain-needed", "--user=nobody", o_pid, o_log,
  };
  size_t argc = 12;
  char servers[DNS_UPSTREAM_MAX][64];
  size_t nservers = upstream_args(c->upstream, servers);
  if (nservers)
    argv[argc++] = "--no-resolv"; /* only the servers given */
  for (size_t i = 0; i < nservers; i++)
    argv[argc++] = servers[i];
  argv[argc] = NULL;
  const char *where = c->bridge ? c->bridge : "?";

  uint64_t t0 = nc_time_mono_ns();
  pid_t pid = 0;
  if (spawn((char *const *)(uintptr_t)argv, f, &pid, err) < 0)
    return nc_err_wrap(err, "dnsmasq for network %s", c->id);
  _cleanup_close_ int pidfd = pidfd_open_(pid);
  if (pidfd < 0 && errno != ESRCH)
    return nc_err_sys(err, errno, "cannot watch dnsmasq %d for network %s", (int)pid, c->id);
  enum probe r =
    pidfd < 0 ? PROBE_DIED : wait_ready(pidfd, pid, f, c->listen_addr, DNS_START_TIMEOUT_MS);

  char tail[4096];
  read_log_tail(f->log, tail, sizeof tail);
  /* Names it could not read (a directory nobody cannot traverse) would fail silently. */
  const char *unread = r == PROBE_READY ? strstr(tail, "failed to load names") : NULL;
  if (r == PROBE_READY && !unread) {
    nc_log(NC_LOG_DEBUG, "dnsmasq %d for network %s answers on %s:53 after %llu ms", (int)pid,
           c->id, listen, (unsigned long long)((nc_time_mono_ns() - t0) / 1000000u));
    return 0;
  }
  /* Nothing may be left behind: stop it and forget it. */
  struct nc_err ignore = NC_ERR_INIT;
  if (r != PROBE_DIED)
    terminate(pidfd, pid, c->id, &ignore);
  unlink(f->pid);
  const char *why = log_line(tail, unread ? "failed to load names" : NULL);
  if (!*why)
    why = r == PROBE_DIED ? "exited, nothing in its log" : "nothing in its log";
  if (r == PROBE_TIMEOUT)
    return nc_err_set(err, NC_ERR_INTERNAL,
                      "dnsmasq for network %s (%s on %s) did not answer within %d ms: %s", c->id,
                      listen, where, DNS_START_TIMEOUT_MS, why);
  return nc_err_set(err, NC_ERR_INTERNAL, "dnsmasq for network %s (%s on %s): %s", c->id, listen,
                    where, why);
}

/* Whether `path` holds exactly `data`: read at most len bytes, a longer file differs. */
static bool file_equals(const char *path, const char *data, size_t len)
{
  char *text = NULL;
  size_t n = 0;
  struct nc_err ignore = NC_ERR_INIT;
  if (nc_read_file(path, len, &text, &n, &ignore) < 0)
    return false;
  bool same = n == len && memcmp(text, data, len) == 0;
  free(text);
  return same;
}

int dns_ensure(const struct dns_config *c, const char *hosts, struct nc_err *err)
{
  struct dns_files f;
  if (files_of(c->dir, c->id, &f, err) < 0 || nc_mkdir_p(c->dir, 0755, err) < 0)
    return -1;
  size_t len = strlen(hosts);
  bool changed = !file_equals(f.hosts, hosts, len);
  /* Rebuilt from the store whenever it matters: replaced atomically, not fsync'd (an
   * fsync per container created, under the network lock, serialised parallel starts). */
  if (changed && nc_write_file_replace(f.hosts, hosts, len, 0644, err) < 0)
    return -1;
  /* Whatever nanocld's umask: dnsmasq reads the file as nobody. */
  if (changed && chmod(f.hosts, 0644) < 0)
    return nc_err_sys(err, errno, "cannot chmod '%s'", f.hosts);

  char listen[INET_ADDRSTRLEN];
  struct in_addr a = { .s_addr = htonl(c->listen_addr) };
  inet_ntop(AF_INET, &a, listen, sizeof listen);
  pid_t pid = 0;
  _cleanup_close_ int pidfd = open_server(&f, &pid);
  if (pidfd >= 0 && !is_our_server(pid, f.pid, listen)) {
    nc_log(NC_LOG_INFO, "dnsmasq %d for network %s listens on another address; restarting it on %s",
           (int)pid, c->id, listen);
    if (terminate(pidfd, pid, c->id, err) < 0)
      return -1;
    nc_closep(&pidfd);
  }
  if (pidfd >= 0) {
    if (!changed)
      return 0;
    if (pidfd_signal(pidfd, SIGHUP) == 0)
      return 0;
    if (errno != ESRCH)
      return nc_err_sys(err, errno, "cannot signal dnsmasq %d for network %s", (int)pid, c->id);
    /* It exited just now: start another. */
  }
  return start_server(c, &f, listen, err);
}

int dns_stop(const char *dir, const char *id, struct nc_err *err)
{
  struct dns_files f;
  if (files_of(dir, id, &f, err) < 0)
    return -1;
  pid_t pid = 0;
  _cleanup_close_ int pidfd = open_server(&f, &pid);
  if (pidfd >= 0 && terminate(pidfd, pid, id, err) < 0)
    return -1;
  const char *const paths[] = { f.hosts, f.pid, f.log };
  for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
    if (unlink(paths[i]) < 0 && errno != ENOENT)
      return nc_err_sys(err, errno, "cannot remove '%s'", paths[i]);
  return 0;
}

pid_t dns_pid(const char *dir, const char *id)
{
  struct dns_files f;
  struct nc_err ignore = NC_ERR_INIT;
  pid_t pid = 0;
  if (files_of(dir, id, &f, &ignore) < 0)
    return 0;
  _cleanup_close_ int pidfd = open_server(&f, &pid);
  return pidfd >= 0 ? pid : 0;
}
