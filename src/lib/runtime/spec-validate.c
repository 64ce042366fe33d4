/* The container spec's rules (runtime_spec_validate), and the names it accepts:
 * capabilities, signals, binds. Pure but for stat() of bind sources. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/fs.h"
#include "base/json.h"
#include "base/parse.h"
#include "model/name.h"
#include "net/service.h"
#include "runtime/spec.h"

/* ---- capabilities ---- */

/* Index = capability number (linux/capability.h). */
static const char *const cap_names[] = {
  "CAP_CHOWN",          "CAP_DAC_OVERRIDE",   "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
  "CAP_FSETID",         "CAP_KILL",           "CAP_SETGID",          "CAP_SETUID",
  "CAP_SETPCAP",        "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
  "CAP_NET_ADMIN",      "CAP_NET_RAW",        "CAP_IPC_LOCK",        "CAP_IPC_OWNER",
  "CAP_SYS_MODULE",     "CAP_SYS_RAWIO",      "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT",      "CAP_SYS_ADMIN",      "CAP_SYS_BOOT",        "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE",   "CAP_SYS_TIME",       "CAP_SYS_TTY_CONFIG",  "CAP_MKNOD",
  "CAP_LEASE",          "CAP_AUDIT_WRITE",    "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE",   "CAP_MAC_ADMIN",      "CAP_SYSLOG",          "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND",  "CAP_AUDIT_READ",     "CAP_PERFMON",         "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE",
};
#define CAP_COUNT (sizeof cap_names / sizeof cap_names[0])

const char *runtime_capability_name(const char *name)
{
  if (!name)
    return NULL;
  const char *bare = strncasecmp(name, "CAP_", 4) == 0 ? name + 4 : name;
  for (size_t i = 0; i < CAP_COUNT; i++)
    if (strcasecmp(bare, cap_names[i] + 4) == 0)
      return cap_names[i];
  return NULL;
}

/* The kernel's last capability; the whole table when it cannot be read. */
static size_t cap_last(void)
{
  struct nc_err err = NC_ERR_INIT;
  char *text = NULL;
  uint64_t last = CAP_COUNT - 1;
  if (nc_read_file("/proc/sys/kernel/cap_last_cap", 32, &text, NULL, &err) == 0) {
    text[strcspn(text, "\n")] = '\0';
    if (nc_parse_u64(text, CAP_COUNT - 1, &last) < 0)
      last = CAP_COUNT - 1;
  }
  free(text);
  return (size_t)last;
}

size_t runtime_capabilities_all(const char **out, size_t max)
{
  size_t last = cap_last(), n = 0;
  for (size_t i = 0; i <= last && n < max; i++)
    out[n++] = cap_names[i];
  return n;
}

/* ---- signals (moby's pkg/signal for Linux: RTMIN is 34, RTMAX 64) ---- */

#define SIG_RTMIN 34
#define SIG_RTMAX 64

static const struct {
  const char *name;
  int sig;
} sig_names[] = {
  { "HUP", SIGHUP },       { "INT", SIGINT },       { "QUIT", SIGQUIT },     { "ILL", SIGILL },
  { "TRAP", SIGTRAP },     { "ABRT", SIGABRT },     { "IOT", SIGIOT },       { "BUS", SIGBUS },
  { "FPE", SIGFPE },       { "KILL", SIGKILL },     { "USR1", SIGUSR1 },     { "SEGV", SIGSEGV },
  { "USR2", SIGUSR2 },     { "PIPE", SIGPIPE },     { "ALRM", SIGALRM },     { "TERM", SIGTERM },
#ifdef SIGSTKFLT
  { "STKFLT", SIGSTKFLT },
#endif
  { "CHLD", SIGCHLD },     { "CLD", SIGCHLD },      { "CONT", SIGCONT },     { "STOP", SIGSTOP },
  { "TSTP", SIGTSTP },     { "TTIN", SIGTTIN },     { "TTOU", SIGTTOU },     { "URG", SIGURG },
  { "XCPU", SIGXCPU },     { "XFSZ", SIGXFSZ },     { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },
  { "WINCH", SIGWINCH },   { "IO", SIGIO },         { "POLL", SIGPOLL },     { "PWR", SIGPWR },
  { "SYS", SIGSYS },       { "RTMIN", SIG_RTMIN },  { "RTMAX", SIG_RTMAX },
};

int runtime_signal_parse(const char *name)
{
  uint64_t n;
  if (!name || !*name)
    return -1;
  if (nc_parse_u64(name, SIG_RTMAX, &n) == 0)
    return n >= 1 ? (int)n : -1;
  char up[24];
  size_t len = strlen(name);
  if (len >= sizeof up)
    return -1;
  for (size_t i = 0; i <= len; i++)
    up[i] = (char)toupper((unsigned char)name[i]);
  const char *s = strncmp(up, "SIG", 3) == 0 ? up + 3 : up;
  for (size_t i = 0; i < sizeof sig_names / sizeof sig_names[0]; i++)
    if (strcmp(s, sig_names[i].name) == 0)
      return sig_names[i].sig;
  /* RTMIN+n, RTMAX-n */
  bool plus = strncmp(s, "RTMIN+", 6) == 0, minus = strncmp(s, "RTMAX-", 6) == 0;
  if ((plus || minus) && nc_parse_u64(s + 6, SIG_RTMAX - SIG_RTMIN, &n) == 0 && n > 0)
    return plus ? SIG_RTMIN + (int)n : SIG_RTMAX - (int)n;
  return -1;
}

/* ---- binds ---- */

/* Copies absolute `p` (len bytes) cleaned into out[PATH_MAX]: "//" and a trailing "/"
 * dropped; "." and ".." refused. */
static int clean_path(const char *p, size_t len, char *out, const char *field, const char *what,
                      struct nc_err *err)
{
  if (len == 0 || p[0] != '/')
    return nc_err_set(err, NC_ERR_INVALID, "%s: the %s path must be absolute, got '%.*s'", field,
                      what, (int)(len > 256 ? 256 : len), p);
  if (len >= PATH_MAX)
    return nc_err_set(err, NC_ERR_INVALID, "%s: the %s path is longer than %d bytes", field, what,
                      PATH_MAX - 1);
  size_t o = 0;
  for (size_t i = 0; i < len;) {
    while (i < len && p[i] == '/')
      i++;
    size_t start = i;
    while (i < len && p[i] != '/')
      i++;
    size_t seg = i - start;
    if (seg == 0)
      break;
    if ((seg == 1 && p[start] == '.') || (seg == 2 && p[start] == '.' && p[start + 1] == '.'))
      return nc_err_set(err, NC_ERR_INVALID, "%s: the %s path '%.*s' has a '.' or '..' segment",
                        field, what, (int)len, p);
    out[o++] = '/';
    memcpy(out + o, p + start, seg);
    o += seg;
  }
  if (o == 0)
    out[o++] = '/';
  out[o] = '\0';
  return 0;
}

int runtime_bind_parse(const char *bind, const char *field, char *src, char *dst, bool *ro,
                       struct nc_err *err)
{
  const char *c1 = strchr(bind, ':');
  if (!c1)
    return nc_err_set(err, NC_ERR_INVALID,
                      "%s: '%.256s' is not of the form /host:/container[:ro|:rw]", field, bind);
  const char *c2 = strchr(c1 + 1, ':');
  const char *mode = c2 ? c2 + 1 : "rw";
  if (c2 && strchr(mode, ':'))
    return nc_err_set(err, NC_ERR_INVALID,
                      "%s: '%.256s' has too many ':' (paths cannot contain ':')", field, bind);
  if (strcmp(mode, "ro") != 0 && strcmp(mode, "rw") != 0)
    return nc_err_set(err, NC_ERR_INVALID, "%s: unknown mode '%.32s' (expected ro or rw)", field,
                      mode);
  if (clean_path(bind, (size_t)(c1 - bind), src, field, "host", err) < 0)
    return -1;
  size_t dlen = c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1);
  if (clean_path(c1 + 1, dlen, dst, field, "container", err) < 0)
    return -1;
  if (strcmp(dst, "/") == 0)
    return nc_err_set(err, NC_ERR_INVALID, "%s: cannot mount over the container's '/'", field);
  *ro = strcmp(mode, "ro") == 0;
  return 0;
}

/* ---- the spec ---- */

static const char *const spec_fields[] = {
  "cmd",    "entrypoint", "env",       "workdir",  "user",    "hostname",    "domainname",
  "binds",  "memory",     "cpus",      "pids_limit", "read_only", "cap_add", "cap_drop",
  "labels", "stop_signal", "stop_timeout", "name",  "image",   "cluster",  "network",
  "publish", "auto_remove", NULL,
};

/* A JSON string without an embedded NUL. */
static int check_string(const json_t *v, const char *field, struct nc_err *err)
{
  if (!json_is_string(v))
    return nc_err_set(err, NC_ERR_INVALID, "%s: must be a string", field);
  if (strlen(json_string_value(v)) != json_string_length(v))
    return nc_err_set(err, NC_ERR_INVALID, "%s: contains a NUL character", field);
  return 0;
}

/* An array of at most `max` strings; adds their sizes (NULs included) to *bytes. */
static int check_string_array(const json_t *spec, const char *key, size_t max, size_t *bytes,
                              struct nc_err *err)
{
  const json_t *a = json_object_get(spec, key);
  if (!a || json_is_null(a))
    return 0;
  if (!json_is_array(a))
    return nc_err_set(err, NC_ERR_INVALID, "%s: must be an array of strings", key);
  if (json_array_size(a) > max)
    return nc_err_set(err, NC_ERR_INVALID, "%s: more than %zu entries", key, max);
  for (size_t i = 0; i < json_array_size(a); i++) {
    char field[64];
    snprintf(field, sizeof field, "%s[%zu]", key, i);
    if (check_string(json_array_get(a, i), field, err) < 0)
      return -1;
    *bytes += json_string_length(json_array_get(a, i)) + 1;
    if (*bytes > SPEC_ARGS_BYTES_MAX)
      return nc_err_set(err, NC_ERR_INVALID,
                        "%s: entrypoint, cmd and env together exceed %d bytes", key,
                        SPEC_ARGS_BYTES_MAX);
  }
  return 0;
}

static int check_args_env(const json_t *spec, struct nc_err *err)
{
  size_t bytes = 0;
  if (check_string_array(spec, "entrypoint", SIZE_MAX, &bytes, err) < 0 ||
      check_string_array(spec, "cmd", SIZE_MAX, &bytes, err) < 0 ||
      check_string_array(spec, "env", SPEC_ENV_MAX, &bytes, err) < 0)
    return -1;
  const json_t *env = json_object_get(spec, "env");
  for (size_t i = 0; json_is_array(env) && i < json_array_size(env); i++) {
    const char *kv = json_string_value(json_array_get(env, i));
    const char *eq = strchr(kv, '=');
    if (!eq)
      return nc_err_set(err, NC_ERR_INVALID, "env[%zu]: '%.128s' is not of the form KEY=VALUE",
                        i, kv);
    if (eq == kv)
      return nc_err_set(err, NC_ERR_INVALID, "env[%zu]: '%.128s' has an empty key", i, kv);
  }
  return 0;
}

/* hostname/domainname: letters, digits, '-', '_', '.', at most 64 bytes (the kernel's). */
static int check_host_name(const json_t *spec, const char *key, struct nc_err *err)
{
  const json_t *v = json_object_get(spec, key);
  if (!v || json_is_null(v))
    return 0;
  if (check_string(v, key, err) < 0)
    return -1;
  const char *s = json_string_value(v);
  size_t len = strlen(s);
  if (len == 0 || len > 64)
    return nc_err_set(err, NC_ERR_INVALID, "%s: must be 1 to 64 characters", key);
  for (size_t i = 0; i < len; i++)
    if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
      return nc_err_set(err, NC_ERR_INVALID, "%s: '%.64s' has a character other than letters, "
                        "digits, '-', '_' and '.'", key, s);
  if (s[0] == '-' || s[0] == '.')
    return nc_err_set(err, NC_ERR_INVALID, "%s: '%.64s' must start with a letter or digit", key, s);
  return 0;
}

static int check_workdir_user(const json_t *spec, struct nc_err *err)
{
  const json_t *v = json_object_get(spec, "workdir");
  if (v && !json_is_null(v)) {
    if (check_string(v, "workdir", err) < 0)
      return -1;
    const char *w = json_string_value(v);
    if (w[0] != '/')
      return nc_err_set(err, NC_ERR_INVALID, "workdir: '%.256s' must be an absolute path", w);
    if (strlen(w) >= PATH_MAX)
      return nc_err_set(err, NC_ERR_INVALID, "workdir: longer than %d bytes", PATH_MAX - 1);
  }
  v = json_object_get(spec, "user");
  if (!v || json_is_null(v))
    return 0;
  if (check_string(v, "user", err) < 0)
    return -1;
  const char *u = json_string_value(v);
  if (strlen(u) > 256)
    return nc_err_set(err, NC_ERR_INVALID, "user: longer than 256 bytes");
  for (const char *p = u; *p; p++)
    if (*p == '/' || isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
      return nc_err_set(err, NC_ERR_INVALID, "user: '%.64s' has a '/', space or control "
                        "character", u);
  const char *colon = strchr(u, ':');
  if (colon && (colon == u || colon[1] == '\0' || strchr(colon + 1, ':')))
    return nc_err_set(err, NC_ERR_INVALID, "user: '%.64s' is not of the form "
                      "name|uid[:group|gid]", u);
  return 0;
}

static int check_binds(const json_t *spec, struct nc_err *err)
{
  const json_t *a = json_object_get(spec, "binds");
  if (!a || json_is_null(a))
    return 0;
  if (!json_is_array(a))
    return nc_err_set(err, NC_ERR_INVALID, "binds: must be an array of strings");
  size_t n = json_array_size(a);
  if (n > SPEC_BINDS_MAX)
    return nc_err_set(err, NC_ERR_INVALID, "binds: more than %d entries", SPEC_BINDS_MAX);
  char src[PATH_MAX], dst[PATH_MAX], field[32];
  for (size_t i = 0; i < n; i++) {
    snprintf(field, sizeof field, "binds[%zu]", i);
    const json_t *v = json_array_get(a, i);
    bool ro;
    if (check_string(v, field, err) < 0 ||
        runtime_bind_parse(json_string_value(v), field, src, dst, &ro, err) < 0)
      return -1;
    struct stat st;
    if (stat(src, &st) < 0)
      return nc_err_set(err, NC_ERR_INVALID, "%s: host path '%.256s': %s", field, src,
                        strerror(errno));
    for (size_t j = 0; j < i; j++) {
      char other[PATH_MAX], osrc[PATH_MAX];
      bool oro;
      if (runtime_bind_parse(json_string_value(json_array_get(a, j)), field, osrc, other, &oro,
                             err) == 0 &&
          strcmp(other, dst) == 0)
        return nc_err_set(err, NC_ERR_INVALID, "%s: duplicate mount point '%.256s'", field, dst);
    }
  }
  return 0;
}

static int check_caps(const json_t *spec, const char *key, struct nc_err *err)
{
  const json_t *a = json_object_get(spec, key);
  if (!a || json_is_null(a))
    return 0;
  if (!json_is_array(a))
    return nc_err_set(err, NC_ERR_INVALID, "%s: must be an array of capability names", key);
  if (json_array_size(a) > 256)
    return nc_err_set(err, NC_ERR_INVALID, "%s: more than 256 entries", key);
  for (size_t i = 0; i < json_array_size(a); i++) {
    char field[48];
    snprintf(field, sizeof field, "%s[%zu]", key, i);
    const json_t *v = json_array_get(a, i);
    if (check_string(v, field, err) < 0)
      return -1;
    const char *name = json_string_value(v);
    if (strcasecmp(name, "ALL") != 0 && !runtime_capability_name(name))
      return nc_err_set(err, NC_ERR_INVALID, "%s: unknown capability '%.64s'", field, name);
  }
  return 0;
}

/* An integer field in [min, max]; `what` describes the range in the error. */
static int check_int(const json_t *spec, const char *key, json_int_t min, json_int_t max,
                     const char *what, struct nc_err *err)
{
  const json_t *v = json_object_get(spec, key);
  if (!v || json_is_null(v))
    return 0;
  if (!json_is_integer(v))
    return nc_err_set(err, NC_ERR_INVALID, "%s: must be an integer (%s)", key, what);
  json_int_t n = json_integer_value(v);
  if (n < min || n > max)
    return nc_err_set(err, NC_ERR_INVALID, "%s: must be %s, got %lld", key, what, (long long)n);
  return 0;
}

static int check_resources(const json_t *spec, struct nc_err *err)
{
  const json_t *v = json_object_get(spec, "memory");
  if (check_int(spec, "memory", 0, INT64_MAX, "0 (no limit) or at least 6 MiB (6291456)", err) < 0)
    return -1;
  if (json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) < SPEC_MEMORY_MIN)
    return nc_err_set(err, NC_ERR_INVALID, "memory: must be 0 (no limit) or at least 6 MiB "
                      "(6291456), got %lld", (long long)json_integer_value(v));
  v = json_object_get(spec, "cpus");
  if (v && !json_is_null(v)) {
    if (!json_is_number(v))
      return nc_err_set(err, NC_ERR_INVALID, "cpus: must be a number");
    double c = json_number_value(v);
    if (!(c >= SPEC_CPUS_MIN && c <= SPEC_CPUS_MAX))
      return nc_err_set(err, NC_ERR_INVALID, "cpus: must be from %.2f to %.0f, got %g",
                        SPEC_CPUS_MIN, SPEC_CPUS_MAX, c);
  }
  if (check_int(spec, "pids_limit", -1, INT64_MAX, "-1 or 0 (no limit) or a positive number",
                err) < 0 ||
      check_int(spec, "stop_timeout", -1, INT32_MAX, "-1 (no SIGKILL: wait for the exit) or seconds >= 0", err) < 0)
    return -1;
  static const char *const flags[] = { "read_only", "auto_remove" };
  for (size_t i = 0; i < sizeof flags / sizeof *flags; i++) {
    v = json_object_get(spec, flags[i]);
    if (v && !json_is_null(v) && !json_is_boolean(v))
      return nc_err_set(err, NC_ERR_INVALID, "%s: must be true or false", flags[i]);
  }
  v = json_object_get(spec, "stop_signal");
  if (v && !json_is_null(v)) {
    if (check_string(v, "stop_signal", err) < 0)
      return -1;
    if (runtime_signal_parse(json_string_value(v)) < 0)
      return nc_err_set(err, NC_ERR_INVALID, "stop_signal: unknown signal '%.32s'",
                        json_string_value(v));
  }
  return 0;
}

static int check_labels(const json_t *spec, struct nc_err *err)
{
  const json_t *o = json_object_get(spec, "labels");
  if (!o || json_is_null(o))
    return 0;
  if (!json_is_object(o))
    return nc_err_set(err, NC_ERR_INVALID, "labels: must be an object of strings");
  const char *key;
  json_t *v;
  json_object_foreach ((json_t *)(uintptr_t)o, key, v) {
    char field[96];
    snprintf(field, sizeof field, "labels.%.64s", key);
    if (key[0] == '\0')
      return nc_err_set(err, NC_ERR_INVALID, "labels: a key is empty");
    if (check_string(v, field, err) < 0)
      return -1;
  }
  return 0;
}

/* cluster, network (needs a cluster) and publish (needs a network: ports are DNATed
 * to the container's address on it). */
static int check_network(const json_t *spec, struct nc_err *err)
{
  const json_t *cluster = json_object_get(spec, "cluster");
  const json_t *network = json_object_get(spec, "network");
  const json_t *publish = json_object_get(spec, "publish");
  if (cluster && (check_string(cluster, "cluster", err) < 0 ||
                  nc_name_check("cluster", json_string_value(cluster), err) < 0))
    return -1;
  if (network && (check_string(network, "network", err) < 0 ||
                  nc_name_check("network", json_string_value(network), err) < 0))
    return -1;
  if (network && !cluster)
    return nc_err_set(err, NC_ERR_INVALID, "network: a network belongs to a cluster; give the "
                                           "cluster too (--cluster)");
  if (!publish || json_is_null(publish))
    return 0;
  if (!json_is_array(publish) || json_array_size(publish) > SPEC_PUBLISH_MAX)
    return nc_err_set(err, NC_ERR_INVALID, "publish: must be an array of at most %d strings",
                      SPEC_PUBLISH_MAX);
  if (json_array_size(publish) && !network)
    return nc_err_set(err, NC_ERR_INVALID, "publish: ports are published from a network; give "
                                           "--cluster and --network too");
  struct store_port ports[SPEC_PUBLISH_MAX];
  for (size_t i = 0; i < json_array_size(publish); i++) {
    const json_t *v = json_array_get(publish, i);
    if (check_string(v, "publish", err) < 0 || net_port_parse(json_string_value(v), &ports[i], err) < 0)
      return -1;
    for (size_t j = 0; j < i; j++)
      if (ports[j].host_port == ports[i].host_port && !strcmp(ports[j].proto, ports[i].proto) &&
          (ports[j].host_ip == ports[i].host_ip || !ports[j].host_ip || !ports[i].host_ip))
        return nc_err_set(err, NC_ERR_INVALID, "publish: host port %u/%s is given twice",
                          ports[i].host_port, ports[i].proto);
  }
  return 0;
}

int runtime_spec_validate(const json_t *spec, struct nc_err *err)
{
  if (!spec || json_is_null(spec))
    return 0;
  if (!json_is_object(spec))
    return nc_err_set(err, NC_ERR_INVALID, "spec: must be an object");
  if (nc_json_check_fields((json_t *)(uintptr_t)spec, spec_fields, err) < 0 ||
      check_args_env(spec, err) < 0 || check_workdir_user(spec, err) < 0 ||
      check_host_name(spec, "hostname", err) < 0 || check_host_name(spec, "domainname", err) < 0 ||
      check_binds(spec, err) < 0 || check_resources(spec, err) < 0 ||
      check_caps(spec, "cap_add", err) < 0 || check_caps(spec, "cap_drop", err) < 0 ||
      check_labels(spec, err) < 0 || check_network(spec, err) < 0)
    return -1;
  return 0;
}
