/* runtime_spec_build: the OCI runtime config of a container, after Docker (moby's
 * oci/defaults.go, daemon/oci_linux.go, container.CreateDaemonEnvironment):
 *   process  args = entrypoint + cmd with Docker's override rules, env merged by key,
 *            user resolved in the root fs, 14 default capabilities ± cap_add/cap_drop,
 *            RLIMIT_NOFILE capped by the host's hard limit
 *   mounts   Docker's defaults, the container's hostname/hosts/resolv.conf, binds
 *   linux    namespaces, masked and read-only paths, device rules, memory/cpu/pids. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

#include "base/cleanup.h"
#include "runtime/spec.h"

#define OCI_VERSION "1.0.2"

/* A field that is present and not null. */
static const json_t *get(const json_t *o, const char *key)
{
  const json_t *v = o ? json_object_get(o, key) : NULL;
  return v && !json_is_null(v) ? v : NULL;
}

static const char *get_str(const json_t *o, const char *key)
{
  return json_string_value(get(o, key));
}

/* json_object_set_new that records a failure (a NULL value is one: out of memory). */
static void put(json_t *o, const char *key, json_t *v, bool *oom)
{
  if (!v || json_object_set_new(o, key, v) < 0)
    *oom = true;
}

static void push(json_t *a, json_t *v, bool *oom)
{
  if (!v || json_array_append_new(a, v) < 0)
    *oom = true;
}

static json_t *strv(const char *const *v, size_t n, bool *oom)
{
  json_t *a = json_array();
  if (!a)
    *oom = true;
  for (size_t i = 0; a && i < n; i++)
    push(a, json_string(v[i]), oom);
  return a;
}

/* The image's config object ("config" of an OCI image config; "Config" of Docker's). */
static const json_t *image_cfg(const json_t *image_config)
{
  const json_t *c = get(image_config, "config");
  if (!c)
    c = get(image_config, "Config");
  return json_is_object(c) ? c : NULL;
}

/* The image's array of strings `key`, or NULL; anything else is refused. */
static int image_strings(const json_t *cfg, const char *key, const json_t **out, struct nc_err *err)
{
  const json_t *a = get(cfg, key);
  *out = NULL;
  if (!a)
    return 0;
  if (!json_is_array(a))
    return nc_err_set(err, NC_ERR_INVALID, "image config: %s must be an array of strings", key);
  for (size_t i = 0; i < json_array_size(a); i++)
    if (!json_is_string(json_array_get(a, i)))
      return nc_err_set(err, NC_ERR_INVALID, "image config: %s[%zu] must be a string", key, i);
  *out = a;
  return 0;
}

/* ---- process ---- */

/* entrypoint + cmd, Docker's merge: a spec entrypoint replaces the image's, [] (or
 * [""]) clears it; a spec cmd replaces the image's Cmd; a non-empty spec entrypoint
 * without a spec cmd drops the image's Cmd. */
static int build_args(const json_t *cfg, const json_t *spec, json_t **out, struct nc_err *err)
{
  const json_t *ep = get(spec, "entrypoint"), *cmd = get(spec, "cmd");
  bool ep_given = ep != NULL;
  if (ep && (json_array_size(ep) == 0 ||
             (json_array_size(ep) == 1 && !*json_string_value(json_array_get(ep, 0)))))
    ep = NULL;
  if (!ep_given && image_strings(cfg, "Entrypoint", &ep, err) < 0)
    return -1;
  if (!cmd && (!ep_given || !ep) && image_strings(cfg, "Cmd", &cmd, err) < 0)
    return -1;
  json_t *args = json_array();
  if (!args || (ep && json_array_extend(args, (json_t *)(uintptr_t)ep) < 0) ||
      (cmd && json_array_extend(args, (json_t *)(uintptr_t)cmd) < 0)) {
    json_decref(args);
    return nc_err_sys(err, ENOMEM, "cannot build process.args");
  }
  if (json_array_size(args) == 0) {
    json_decref(args);
    return nc_err_set(err, NC_ERR_INVALID, "no command specified");
  }
  if (json_string_value(json_array_get(args, 0))[0] == '\0') {
    json_decref(args);
    return nc_err_set(err, NC_ERR_INVALID, "%s: the command (first argument) is empty",
                      ep ? "entrypoint" : "cmd");
  }
  *out = args;
  return 0;
}

/* Index of the entry of `env` whose key is the part of `kv` before '=' (or all of it). */
static ssize_t env_find(const json_t *env, const char *kv)
{
  size_t klen = strcspn(kv, "=");
  for (size_t i = 0; i < json_array_size(env); i++) {
    const char *e = json_string_value(json_array_get(env, i));
    if (strncmp(e, kv, klen) == 0 && e[klen] == '=')
      return (ssize_t)i;
  }
  return -1;
}

/* Docker's ReplaceOrAppendEnvValues: "K=V" replaces K or is appended; a bare "K" removes K. */
static void env_merge(json_t *env, const json_t *add, bool *oom)
{
  for (size_t i = 0; i < json_array_size(add); i++) {
    const char *kv = json_string_value(json_array_get(add, i));
    ssize_t at = env_find(env, kv);
    if (!strchr(kv, '=')) {
      if (at >= 0)
        json_array_remove(env, (size_t)at);
    } else if (at >= 0) {
      if (json_array_set_new(env, (size_t)at, json_string(kv)) < 0)
        *oom = true;
    } else if (kv[0] != '=') {
      push(env, json_string(kv), oom);
    }
  }
}

static int build_env(const json_t *cfg, const json_t *spec, const char *home, json_t **out,
                     struct nc_err *err)
{
  const json_t *image_env;
  if (image_strings(cfg, "Env", &image_env, err) < 0)
    return -1;
  bool oom = false;
  json_t *env = json_array();
  if (!env)
    return nc_err_sys(err, ENOMEM, "cannot build process.env");
  push(env, json_string("PATH=" SPEC_DEFAULT_PATH), &oom);
  const char *hostname = get_str(spec, "hostname");
  if (hostname)
    push(env, json_pack("s++", "HOSTNAME", "=", hostname), &oom);
  env_merge(env, image_env, &oom);
  env_merge(env, get(spec, "env"), &oom);
  if (env_find(env, "HOME") < 0)
    push(env, json_pack("s+", "HOME=", home), &oom);
  if (oom) {
    json_decref(env);
    return nc_err_sys(err, ENOMEM, "cannot build process.env");
  }
  *out = env;
  return 0;
}

/* process.user, and the user's home for HOME. Supplementary groups start with the
 * primary group, as Docker and containerd do. */
static int build_user(const json_t *cfg, const json_t *spec, const struct spec_host *host,
                      char *home, size_t home_size, json_t **out, struct nc_err *err)
{
  const char *user = get_str(spec, "user");
  if (!user)
    user = get_str(cfg, "User");
  uint32_t uid, gid;
  _cleanup_free_ uint32_t *groups = NULL;
  size_t n;
  if (runtime_resolve_user(host->rootfs, user, &uid, &gid, &groups, &n, home, home_size, err) < 0)
    return nc_err_wrap(err, "user");
  bool oom = false;
  json_t *gids = json_array();
  if (!gids)
    return nc_err_sys(err, ENOMEM, "cannot build process.user");
  push(gids, json_integer(gid), &oom);
  for (size_t i = 0; i < n; i++)
    if (groups[i] != gid)
      push(gids, json_integer(groups[i]), &oom);
  *out = json_pack("{s:I,s:I,s:o}", "uid", (json_int_t)uid, "gid", (json_int_t)gid,
                   "additionalGids", gids);
  if (!*out || oom) {
    json_decref(*out);
    return nc_err_sys(err, ENOMEM, "cannot build process.user");
  }
  return 0;
}

static const char *const default_caps[] = {
  "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",  "CAP_FOWNER",           "CAP_MKNOD",
  "CAP_NET_RAW", "CAP_SETGID",      "CAP_SETUID",  "CAP_SETFCAP",          "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
};
#define CAPS_MAX 64

static bool caps_has(const json_t *list, const char *cap)
{
  for (size_t i = 0; i < json_array_size(list); i++) {
    const char *s = json_string_value(json_array_get(list, i));
    if (strcasecmp(s, "ALL") == 0 ? strcmp(cap, "ALL") == 0 : runtime_capability_name(s) == cap)
      return true;
  }
  return false;
}

static void caps_add(const char **caps, size_t *n, const char *cap)
{
  for (size_t i = 0; i < *n; i++)
    if (caps[i] == cap)
      return;
  if (*n < CAPS_MAX)
    caps[(*n)++] = cap;
}

/* Docker's TweakCapabilities: "ALL" in cap_add is every capability but cap_drop's; "ALL"
 * in cap_drop leaves only cap_add's; else defaults - cap_drop + cap_add. */
static json_t *build_caps(const json_t *spec, bool *oom)
{
  const json_t *add = get(spec, "cap_add"), *drop = get(spec, "cap_drop");
  const char *all[CAPS_MAX], *caps[CAPS_MAX];
  size_t nall = runtime_capabilities_all(all, CAPS_MAX), n = 0;
  if (caps_has(add, "ALL")) {
    for (size_t i = 0; i < nall; i++)
      if (!caps_has(drop, all[i]))
        caps_add(caps, &n, all[i]);
  } else {
    if (!caps_has(drop, "ALL"))
      for (size_t i = 0; i < sizeof default_caps / sizeof default_caps[0]; i++)
        if (!caps_has(drop, runtime_capability_name(default_caps[i])))
          caps_add(caps, &n, runtime_capability_name(default_caps[i]));
    for (size_t i = 0; i < json_array_size(add); i++)
      caps_add(caps, &n, runtime_capability_name(json_string_value(json_array_get(add, i))));
  }
  json_t *c = json_object();
  if (!c) {
    *oom = true;
    return NULL;
  }
  put(c, "bounding", strv(caps, n, oom), oom);
  put(c, "effective", strv(caps, n, oom), oom);
  put(c, "permitted", strv(caps, n, oom), oom);
  return c;
}

static json_t *build_rlimits(const struct spec_host *host, bool *oom)
{
  uint64_t hard = host->nofile_hard;
  struct rlimit rl;
  if (hard == 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0)
    hard = rl.rlim_max == RLIM_INFINITY ? SPEC_NOFILE_MAX : (uint64_t)rl.rlim_max;
  if (hard == 0 || hard > SPEC_NOFILE_MAX)
    hard = SPEC_NOFILE_MAX;
  json_t *r = json_pack("[{s:s,s:I,s:I}]", "type", "RLIMIT_NOFILE", "hard", (json_int_t)hard,
                        "soft", (json_int_t)hard);
  if (!r)
    *oom = true;
  return r;
}

static int build_process(const json_t *cfg, const json_t *spec, const struct spec_host *host,
                         json_t **out, struct nc_err *err)
{
  json_t *args = NULL, *env = NULL, *user = NULL;
  char home[PATH_MAX];
  if (build_args(cfg, spec, &args, err) < 0)
    return -1;
  if (build_user(cfg, spec, host, home, sizeof home, &user, err) < 0 ||
      build_env(cfg, spec, home, &env, err) < 0) {
    json_decref(args);
    json_decref(user);
    return -1;
  }
  char cwd[PATH_MAX] = "/";
  const char *wd = get_str(spec, "workdir");
  if (!wd)
    wd = get_str(cfg, "WorkingDir");
  if (wd && *wd)
    snprintf(cwd, sizeof cwd, "%s%s", wd[0] == '/' ? "" : "/", wd);

  bool oom = false;
  json_t *p = json_object();
  if (!p) {
    json_decref(user);
    json_decref(args);
    json_decref(env);
    return nc_err_sys(err, ENOMEM, "cannot build process");
  }
  {
    put(p, "terminal", json_false(), &oom);
    put(p, "user", user, &oom);
    put(p, "args", args, &oom);
    put(p, "env", env, &oom);
    put(p, "cwd", json_string(cwd), &oom);
    put(p, "capabilities", build_caps(spec, &oom), &oom);
    put(p, "rlimits", build_rlimits(host, &oom), &oom);
    put(p, "noNewPrivileges", json_false(), &oom);
  }
  if (oom) {
    json_decref(p);
    return nc_err_sys(err, ENOMEM, "cannot build process");
  }
  *out = p;
  return 0;
}

/* ---- mounts ---- */

struct mount_def {
  const char *dst, *type, *src;
  const char *opts[8];
};

static const struct mount_def default_mounts[] = {
  { "/proc", "proc", "proc", { "nosuid", "noexec", "nodev" } },
  { "/dev", "tmpfs", "tmpfs", { "nosuid", "strictatime", "mode=755", "size=65536k" } },
  { "/dev/pts", "devpts", "devpts",
    { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5" } },
  { "/dev/shm", "tmpfs", "shm", { "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" } },
  { "/dev/mqueue", "mqueue", "mqueue", { "nosuid", "noexec", "nodev" } },
  { "/sys", "sysfs", "sysfs", { "nosuid", "noexec", "nodev", "ro" } },
  { "/sys/fs/cgroup", "cgroup", "cgroup", { "nosuid", "noexec", "nodev", "relatime", "ro" } },
};

static json_t *mount_json(const char *dst, const char *type, const char *src,
                          const char *const *opts, bool *oom)
{
  size_t n = 0;
  while (n < 8 && opts[n])
    n++;
  json_t *m = json_pack("{s:s,s:s,s:s}", "destination", dst, "type", type, "source", src);
  if (!m) {
    *oom = true;
    return NULL;
  }
  put(m, "options", strv(opts, n, oom), oom);
  return m;
}

struct bind {
  char src[PATH_MAX], dst[PATH_MAX];
  bool ro;
  size_t depth; /* segments of dst: parents are mounted before what they contain */
  size_t index; /* place in the spec: keeps the sort stable */
};

/* True when a bind of the spec takes the mount point `dst`: Docker drops its own then. */
static bool bind_takes(const struct bind *b, size_t n, const char *dst)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp(b[i].dst, dst) == 0)
      return true;
  return false;
}

static int bind_cmp(const void *a, const void *b)
{
  const struct bind *x = a, *y = b;
  if (x->depth != y->depth)
    return x->depth < y->depth ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

/* The spec's binds, parsed and sorted by depth (stable). */
static int parse_binds(const json_t *spec, struct bind **out, size_t *n, struct nc_err *err)
{
  const json_t *a = get(spec, "binds");
  *out = NULL;
  *n = json_array_size(a);
  if (*n == 0)
    return 0;
  struct bind *b = calloc(*n, sizeof *b);
  if (!b)
    return nc_err_sys(err, ENOMEM, "cannot parse binds");
  for (size_t i = 0; i < *n; i++) {
    char field[32];
    snprintf(field, sizeof field, "binds[%zu]", i);
    if (runtime_bind_parse(json_string_value(json_array_get(a, i)), field, b[i].src, b[i].dst,
                           &b[i].ro, err) < 0) {
      free(b);
      return -1;
    }
    b[i].index = i;
    for (const char *p = b[i].dst; *p; p++)
      b[i].depth += *p == '/';
  }
  qsort(b, *n, sizeof *b, bind_cmp);
  *out = b;
  return 0;
}

static json_t *build_mounts(const struct spec_host *host, const struct bind *b, size_t nb,
                            bool *oom)
{
  json_t *ms = json_array();
  if (!ms) {
    *oom = true;
    return NULL;
  }
  for (size_t i = 0; i < sizeof default_mounts / sizeof default_mounts[0]; i++) {
    const struct mount_def *d = &default_mounts[i];
    if (!bind_takes(b, nb, d->dst))
      push(ms, mount_json(d->dst, d->type, d->src, d->opts, oom), oom);
  }
  static const char *const file_opts[] = { "bind", "rprivate", "ro", NULL };
  const struct {
    const char *dst, *src;
  } files[] = {
    { "/etc/hostname", host->hostname_file },
    { "/etc/hosts", host->hosts_file },
    { "/etc/resolv.conf", host->resolv_file },
  };
  for (size_t i = 0; i < 3; i++)
    if (files[i].src && !bind_takes(b, nb, files[i].dst))
      push(ms, mount_json(files[i].dst, "bind", files[i].src, file_opts, oom), oom);
  for (size_t i = 0; i < nb; i++) {
    const char *opts[] = { "rbind", "rprivate", b[i].ro ? "ro" : "rw", NULL };
    push(ms, mount_json(b[i].dst, "bind", b[i].src, opts, oom), oom);
  }
  return ms;
}

/* ---- linux ---- */

static const char *const masked_paths[] = {
  "/proc/asound",     "/proc/acpi",        "/proc/kcore",       "/proc/keys",
  "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
  "/proc/scsi",       "/sys/firmware",     "/sys/devices/virtual/powercap",
};
static const char *const readonly_paths[] = {
  "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

/* Deny every device, then allow Docker's defaults (minor -1: any). */
static json_t *build_devices(bool *oom)
{
  static const struct {
    int major, minor;
  } allow[] = {
    { 1, 3 }, { 1, 5 }, { 1, 7 }, { 1, 8 }, { 1, 9 }, /* null zero full random urandom */
    { 5, 0 }, { 5, 1 }, { 5, 2 }, { 136, -1 },        /* tty console ptmx, pts (any) */
  };
  json_t *d = json_pack("[{s:b,s:s}]", "allow", 0, "access", "rwm");
  if (!d) {
    *oom = true;
    return NULL;
  }
  for (size_t i = 0; i < sizeof allow / sizeof allow[0]; i++) {
    json_t *r = json_pack("{s:b,s:s,s:i,s:s}", "allow", 1, "type", "c", "major", allow[i].major,
                          "access", "rwm");
    if (r && allow[i].minor >= 0)
      put(r, "minor", json_integer(allow[i].minor), oom);
    push(d, r, oom);
  }
  return d;
}

static json_t *build_resources(const json_t *spec, const struct spec_host *host, bool *oom)
{
  json_t *r = json_object();
  if (!r) {
    *oom = true;
    return NULL;
  }
  put(r, "devices", build_devices(oom), oom);
  json_int_t mem = json_integer_value(get(spec, "memory"));
  if (mem > 0) {
    /* swap = limit: no swap. Only where swap is accounted (v1 memsw, v2 swap.max),
     * else the runtime fails to write a file that is not there. */
    json_t *m = json_pack("{s:I}", "limit", mem);
    if (m && host->swap_accounting)
      put(m, "swap", json_integer(mem), oom);
    put(r, "memory", m, oom);
  }
  const json_t *cpus = get(spec, "cpus");
  if (cpus) {
    json_int_t quota = (json_int_t)(json_number_value(cpus) * SPEC_CPU_PERIOD + 0.5);
    put(r, "cpu", json_pack("{s:I,s:I}", "quota", quota, "period", (json_int_t)SPEC_CPU_PERIOD),
        oom);
  }
  json_int_t pids = json_integer_value(get(spec, "pids_limit"));
  if (pids > 0)
    put(r, "pids", json_pack("{s:I}", "limit", pids), oom);
  return r;
}

static json_t *build_linux(const json_t *spec, const struct spec_host *host, bool *oom)
{
  json_t *l = json_object(), *ns = json_array();
  if (!l || !ns) {
    json_decref(l);
    json_decref(ns);
    *oom = true;
    return NULL;
  }
  static const char *const types[] = { "pid", "ipc", "uts", "mount" };
  for (size_t i = 0; i < 4; i++)
    push(ns, json_pack("{s:s}", "type", types[i]), oom);
  if (host->netns_path)
    push(ns, json_pack("{s:s,s:s}", "type", "network", "path", host->netns_path), oom);
  else
    push(ns, json_pack("{s:s}", "type", "network"), oom);
  if (host->cgroup_v2)
    push(ns, json_pack("{s:s}", "type", "cgroup"), oom);
  put(l, "namespaces", ns, oom);
  put(l, "maskedPaths",
      strv(masked_paths, sizeof masked_paths / sizeof masked_paths[0], oom), oom);
  put(l, "readonlyPaths",
      strv(readonly_paths, sizeof readonly_paths / sizeof readonly_paths[0], oom), oom);
  put(l, "resources", build_resources(spec, host, oom), oom);
  if (host->cgroups_path)
    put(l, "cgroupsPath", json_string(host->cgroups_path), oom);
  return l;
}

/* ---- the whole ---- */

static int check_host(const struct spec_host *host, struct nc_err *err)
{
  if (!host || !host->rootfs || host->rootfs[0] != '/')
    return nc_err_set(err, NC_ERR_INTERNAL, "spec: the root fs path must be absolute");
  if (host->netns_path && host->netns_path[0] != '/')
    return nc_err_set(err, NC_ERR_INTERNAL, "spec: the network namespace path must be absolute");
  if (host->cgroups_path && host->cgroups_path[0] != '/')
    return nc_err_set(err, NC_ERR_INTERNAL, "spec: the cgroups path must be absolute");
  return 0;
}

int runtime_spec_build(const json_t *image_config, const json_t *spec, const struct spec_host *host,
                       json_t **out, struct nc_err *err)
{
  *out = NULL;
  if (runtime_spec_validate(spec, err) < 0 || check_host(host, err) < 0)
    return -1;
  const json_t *cfg = image_cfg(image_config);
  json_t *process = NULL;
  if (build_process(cfg, spec, host, &process, err) < 0)
    return -1;
  _cleanup_free_ struct bind *binds = NULL;
  size_t nbinds;
  if (parse_binds(spec, &binds, &nbinds, err) < 0) {
    json_decref(process);
    return -1;
  }
  bool oom = false;
  json_t *c = json_object();
  if (!c) {
    json_decref(process);
    return nc_err_sys(err, ENOMEM, "cannot build the OCI config");
  }
  put(c, "ociVersion", json_string(OCI_VERSION), &oom);
  put(c, "process", process, &oom);
  put(c, "root", json_pack("{s:s,s:b}", "path", host->rootfs, "readonly",
                           json_is_true(get(spec, "read_only"))), &oom);
  if (get_str(spec, "hostname"))
    put(c, "hostname", json_string(get_str(spec, "hostname")), &oom);
  if (get_str(spec, "domainname"))
    put(c, "domainname", json_string(get_str(spec, "domainname")), &oom);
  put(c, "mounts", build_mounts(host, binds, nbinds, &oom), &oom);
  put(c, "linux", build_linux(spec, host, &oom), &oom);
  const json_t *labels = get(spec, "labels");
  if (labels && json_object_size(labels))
    put(c, "annotations", json_deep_copy(labels), &oom);
  if (oom) {
    json_decref(c);
    return nc_err_sys(err, ENOMEM, "cannot build the OCI config");
  }
  *out = c;
  return 0;
}
