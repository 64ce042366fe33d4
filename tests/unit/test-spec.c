/* The OCI config generator (runtime/spec.h): Docker's rules for args, env, cwd, user,
 * capabilities, mounts, resources, on a fake root fs in a temporary directory; the
 * validation errors name their field; users resolve inside the root fs only. */
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/spec.h"
#include "tap.h"

static char dir[] = "/tmp/nanocl-test-spec-XXXXXX";
static char rootfs[256], data[256], hostname_file[256], hosts_file[256], resolv_file[256];
static struct spec_host host;

static void write_file(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");
  if (!f) {
    printf("# cannot write %s\n", path);
    exit(99);
  }
  fputs(text, f);
  fclose(f);
}

/* A root fs at dir/name with etc/ (and etc/passwd, etc/group when given). */
static void make_root(char *out, size_t size, const char *name, const char *passwd,
                      const char *group)
{
  char path[512];
  snprintf(out, size, "%s/%s", dir, name);
  mkdir(out, 0755);
  snprintf(path, sizeof path, "%s/etc", out);
  mkdir(path, 0755);
  if (passwd) {
    snprintf(path, sizeof path, "%s/etc/passwd", out);
    write_file(path, passwd);
  }
  if (group) {
    snprintf(path, sizeof path, "%s/etc/group", out);
    write_file(path, group);
  }
}

static void setup(void)
{
  if (!mkdtemp(dir))
    exit(99);
  make_root(rootfs, sizeof rootfs, "root",
            "root:x:0:0:root:/root:/bin/sh\n"
            "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
            "broken line\n"
            "\n"
            "app:x:1000:1000:App:/home/app:/bin/sh\n"
            "  web:x:1001:1001::/srv/web:/bin/sh \r\n"
            "nohome:x:1002:1002::",
            "root:x:0:\nwheel:x:10:root\napp:x:1000:\nstaff:x:50:web,app\naudio:x:29:app\n"
            "dup:x:50:app\n");
  snprintf(data, sizeof data, "%s/data", dir);
  mkdir(data, 0755);
  snprintf(hostname_file, sizeof hostname_file, "%s/hostname", dir);
  snprintf(hosts_file, sizeof hosts_file, "%s/hosts", dir);
  snprintf(resolv_file, sizeof resolv_file, "%s/resolv.conf", dir);
  host = (struct spec_host){
    .rootfs = rootfs,
    .hostname_file = hostname_file,
    .hosts_file = hosts_file,
    .resolv_file = resolv_file,
    .cgroups_path = "/nanocl/abc",
    .nofile_hard = 20000,
    .swap_accounting = true,
  };
}

/* Builds from JSON texts; `spec` is a printf format (for paths). NULL on error. */
static json_t *build(const char *image, struct nc_err *err, const char *spec, ...)
  __attribute__((format(printf, 3, 4)));
static json_t *build(const char *image, struct nc_err *err, const char *spec, ...)
{
  char text[4096];
  va_list ap;
  va_start(ap, spec);
  vsnprintf(text, sizeof text, spec, ap);
  va_end(ap);
  json_t *img = image ? json_loads(image, 0, NULL) : NULL;
  json_t *s = json_loads(text, 0, NULL);
  if (!s || (image && !img)) {
    printf("# bad test JSON: %s\n", s ? image : text);
    exit(99);
  }
  json_t *out = NULL;
  nc_err_clear(err);
  if (runtime_spec_build(img, s, &host, &out, err) < 0)
    out = NULL;
  json_decref(img);
  json_decref(s);
  return out;
}

/* "process.user.uid", "linux.namespaces.4.path": objects by key, arrays by index. */
static json_t *at(json_t *j, const char *path)
{
  char buf[256];
  snprintf(buf, sizeof buf, "%s", path);
  char *save = NULL;
  for (char *k = strtok_r(buf, ".", &save); j && k; k = strtok_r(NULL, ".", &save))
    j = json_is_array(j) ? json_array_get(j, strtoul(k, NULL, 10)) : json_object_get(j, k);
  return j;
}

/* The strings of an array joined by ' '. */
static const char *joined(json_t *a)
{
  static char buf[4096];
  size_t n = 0;
  buf[0] = '\0';
  if (!json_is_array(a))
    return "(not an array)";
  for (size_t i = 0; i < json_array_size(a); i++)
    n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", i ? " " : "",
                          json_string_value(json_array_get(a, i)));
  return buf;
}

static const char *ints(json_t *a)
{
  static char buf[512];
  size_t n = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < json_array_size(a); i++)
    n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%lld", i ? " " : "",
                          (long long)json_integer_value(json_array_get(a, i)));
  return buf;
}

static bool has(json_t *a, const char *s)
{
  for (size_t i = 0; i < json_array_size(a); i++)
    if (strcmp(json_string_value(json_array_get(a, i)), s) == 0)
      return true;
  return false;
}

static json_t *mount_at(json_t *cfg, const char *dst)
{
  json_t *ms = json_object_get(cfg, "mounts");
  for (size_t i = 0; i < json_array_size(ms); i++)
    if (strcmp(json_string_value(at(json_array_get(ms, i), "destination")), dst) == 0)
      return json_array_get(ms, i);
  return NULL;
}

static ssize_t mount_index(json_t *cfg, const char *dst)
{
  json_t *ms = json_object_get(cfg, "mounts");
  for (size_t i = 0; i < json_array_size(ms); i++)
    if (strcmp(json_string_value(at(json_array_get(ms, i), "destination")), dst) == 0)
      return (ssize_t)i;
  return -1;
}

static const char *args_of(const char *image, const char *spec)
{
  static char buf[1100];
  struct nc_err err = NC_ERR_INIT;
  json_t *c = build(image, &err, "%s", spec);
  if (!c) {
    snprintf(buf, sizeof buf, "error: %s", err.msg);
    return buf;
  }
  snprintf(buf, sizeof buf, "%s", joined(at(c, "process.args")));
  json_decref(c);
  return buf;
}

static void test_args(void)
{
  const char *img = "{\"config\": {\"Entrypoint\": [\"/ep\", \"-x\"], \"Cmd\": [\"c1\", \"c2\"]}}";
  const char *cmd_only = "{\"config\": {\"Cmd\": [\"sh\"]}}";
  const char *ep_only = "{\"config\": {\"Entrypoint\": [\"/ep\"], \"Cmd\": null}}";
  is_str(args_of(img, "{}"), "/ep -x c1 c2", "args: image entrypoint + image cmd");
  is_str(args_of(img, "{\"cmd\": [\"x\"]}"), "/ep -x x", "args: spec cmd replaces image Cmd");
  is_str(args_of(img, "{\"entrypoint\": [\"/e2\"]}"), "/e2",
         "args: spec entrypoint without cmd drops the image Cmd");
  is_str(args_of(img, "{\"entrypoint\": [\"/e2\"], \"cmd\": [\"y\"]}"), "/e2 y",
         "args: spec entrypoint + spec cmd");
  is_str(args_of(img, "{\"entrypoint\": []}"), "c1 c2",
         "args: empty spec entrypoint clears it, the image Cmd stays (Docker's merge)");
  is_str(args_of(img, "{\"entrypoint\": [\"\"]}"), "c1 c2", "args: [\"\"] clears it too");
  is_str(args_of(img, "{\"entrypoint\": [], \"cmd\": [\"z\", \"1\"]}"), "z 1",
         "args: empty entrypoint + spec cmd");
  is_str(args_of(img, "{\"cmd\": []}"), "/ep -x", "args: empty spec cmd clears the image Cmd");
  is_str(args_of(cmd_only, "{}"), "sh", "args: image Cmd alone");
  is_str(args_of(cmd_only, "{\"cmd\": [\"ls\", \"-l\"]}"), "ls -l", "args: spec cmd alone");
  is_str(args_of(ep_only, "{}"), "/ep", "args: image Entrypoint alone, Cmd null");
  is_str(args_of(NULL, "{\"cmd\": [\"/bin/true\"]}"), "/bin/true", "args: no image config");
  is_str(args_of(NULL, "{}"), "error: no command specified", "args: nothing → no command");
  is_str(args_of(ep_only, "{\"entrypoint\": []}"), "error: no command specified",
         "args: entrypoint cleared and no Cmd → no command");
  is_str(args_of("{\"config\": {\"Cmd\": \"sh\"}}", "{}"),
         "error: image config: Cmd must be an array of strings", "args: a malformed image Cmd");
  is_str(args_of(NULL, "{\"cmd\": [\"\", \"x\"]}"),
         "error: cmd: the command (first argument) is empty", "args: an empty command");
}

static void test_env_cwd(void)
{
  struct nc_err err = NC_ERR_INIT;
  const char *img = "{\"config\": {\"Env\": [\"A=1\", \"PATH=/img/bin\", \"B=2\", \"GONE\"], "
                    "\"WorkingDir\": \"/img\", \"User\": \"app\"}}";
  json_t *c = build(img, &err, "{\"cmd\": [\"x\"], \"env\": [\"B=3\", \"C=4=5\", \"A=\"], "
                               "\"hostname\": \"h1\"}");
  ok(c != NULL, "build with env: %s", err.msg);
  is_str(joined(at(c, "process.env")),
         "PATH=/img/bin HOSTNAME=h1 A= B=3 C=4=5 HOME=/home/app",
         "env: image PATH replaces the default in place, spec overrides by key, HOME of the user");
  ok(!has(at(c, "process.env"), "TERM=xterm"), "env: no TERM without a tty");
  is_str(json_string_value(at(c, "process.cwd")), "/img", "cwd: the image WorkingDir");
  is_int(json_integer_value(at(c, "process.user.uid")), 1000, "user: the image User");
  json_decref(c);

  c = build(NULL, &err, "{\"cmd\": [\"x\"], \"env\": [\"HOME=/mine\"], \"workdir\": \"/w\"}");
  is_str(joined(at(c, "process.env")),
         "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/mine",
         "env: default PATH, no HOSTNAME without a hostname, HOME given is kept");
  is_str(json_string_value(at(c, "process.cwd")), "/w", "cwd: spec workdir");
  json_decref(c);

  c = build("{\"config\": {\"WorkingDir\": \"rel/dir\"}}", &err,
            "{\"cmd\": [\"x\"], \"user\": \"4242\"}");
  is_str(json_string_value(at(c, "process.cwd")), "/rel/dir", "cwd: a relative image dir");
  ok(has(at(c, "process.env"), "HOME=/"), "env: HOME=/ for a uid without a passwd entry");
  json_decref(c);

  c = build("{\"config\": {}}", &err, "{\"cmd\": [\"x\"], \"workdir\": \"/w\", "
                                      "\"user\": \"nohome\"}");
  is_str(json_string_value(at(c, "process.cwd")), "/w", "cwd: spec over nothing");
  ok(has(at(c, "process.env"), "HOME=/"), "env: HOME=/ for an empty passwd home");
  json_decref(c);
  c = build(NULL, &err, "{\"cmd\": [\"x\"]}");
  is_str(json_string_value(at(c, "process.cwd")), "/", "cwd: / by default");
  ok(has(at(c, "process.env"), "HOME=/root"), "env: HOME of root");
  json_decref(c);
}

/* process.user of `user` as "uid gid | additionalGids", or the error. */
static const char *user_of(const char *user)
{
  static char buf[1100];
  struct nc_err err = NC_ERR_INIT;
  json_t *c = build(NULL, &err, "{\"cmd\": [\"x\"], \"user\": \"%s\"}", user);
  if (!c) {
    snprintf(buf, sizeof buf, "error: %s", err.msg);
    return buf;
  }
  snprintf(buf, sizeof buf, "%lld %lld |", (long long)json_integer_value(at(c, "process.user.uid")),
           (long long)json_integer_value(at(c, "process.user.gid")));
  size_t n = strlen(buf);
  snprintf(buf + n, sizeof buf - n, " %s", ints(at(c, "process.user.additionalGids")));
  json_decref(c);
  return buf;
}

static void test_user(void)
{
  is_str(user_of(""), "0 0 | 0 10", "user '': root, with its groups");
  is_str(user_of("app"), "1000 1000 | 1000 50 29", "user name: gid and member groups, no repeat");
  is_str(user_of("1000"), "1000 1000 | 1000 50 29", "user uid with an entry: same as the name");
  is_str(user_of("web"), "1001 1001 | 1001 50", "user: a line with blanks and CR");
  is_str(user_of("app:staff"), "1000 50 | 50", "user:group — no supplementary groups");
  is_str(user_of("app:29"), "1000 29 | 29", "user:gid of an entry");
  is_str(user_of("app:777"), "1000 777 | 777", "user:gid without an entry");
  is_str(user_of("4242"), "4242 0 | 0", "uid without an entry: gid 0");
  is_str(user_of("4242:4343"), "4242 4343 | 4343", "uid:gid without entries");
  is_str(user_of("nobody"),
         "error: user: unable to find user nobody: no matching entries in passwd file",
         "unknown user name: Docker's wording");
  is_str(user_of("app:nogroup"),
         "error: user: unable to find group nogroup: no matching entries in group file",
         "unknown group name");
  is_str(user_of("3000000000"),
         "error: user: unable to find user 3000000000: no matching entries in passwd file",
         "uid out of range");

  /* Resolution stays inside the root fs. */
  char r[256], link[512], home[64];
  uint32_t uid = 1, gid = 1, *groups = NULL;
  size_t n = 9;
  struct nc_err err = NC_ERR_INIT;
  make_root(r, sizeof r, "abs-link", NULL, NULL);
  snprintf(link, sizeof link, "%s/etc/passwd", r);
  ok(symlink("/etc/passwd", link) == 0, "etc/passwd -> /etc/passwd");
  is_int(runtime_resolve_user(r, "daemon", &uid, &gid, &groups, &n, home, sizeof home, &err), -1,
         "the host's passwd is not read through an absolute symlink");
  is_str(err.msg, "unable to find user daemon: no matching entries in passwd file", "message");
  is_int(err.kind, NC_ERR_INVALID, "kind invalid");
  is_int(runtime_resolve_user(r, NULL, &uid, &gid, &groups, &n, home, sizeof home, &err), 0,
         "root still resolves (defaults)");
  ok(uid == 0 && gid == 0 && n == 0 && groups == NULL, "uid 0 gid 0, no groups");
  is_str(home, "/", "home /");

  make_root(r, sizeof r, "rel-link", NULL, NULL);
  snprintf(link, sizeof link, "%s/etc/passwd", r);
  ok(symlink("../../../../../../../../etc/passwd", link) == 0, "etc/passwd -> ../../…/etc/passwd");
  is_int(runtime_resolve_user(r, "daemon", &uid, &gid, &groups, &n, home, sizeof home, &err), -1,
         "nor through a relative one climbing out");

  make_root(r, sizeof r, "in-link", NULL, "inside:x:77:inside\n");
  snprintf(link, sizeof link, "%s/etc/passwd.real", r);
  write_file(link, "inside:x:4242:4343::/in:/bin/sh\n");
  snprintf(link, sizeof link, "%s/etc/passwd", r);
  ok(symlink("/etc/passwd.real", link) == 0, "etc/passwd -> /etc/passwd.real (inside)");
  is_int(runtime_resolve_user(r, "inside", &uid, &gid, &groups, &n, home, sizeof home, &err), 0,
         "an absolute symlink resolves inside the root fs: %s", err.msg);
  ok(uid == 4242 && gid == 4343 && n == 1 && groups && groups[0] == 77, "uid/gid/groups inside");
  is_str(home, "/in", "home inside");
  free(groups);

  char small[4];
  is_int(runtime_resolve_user(rootfs, "app", &uid, &gid, &groups, &n, small, sizeof small, &err),
         -1, "a home that does not fit the buffer is an error, not a truncation");
  free(groups);
}

static void test_caps(void)
{
  struct nc_err err = NC_ERR_INIT;
  json_t *c = build(NULL, &err, "{\"cmd\": [\"x\"]}");
  json_t *bounding = at(c, "process.capabilities.bounding");
  is_int(json_array_size(bounding), 14, "caps: Docker's 14 by default");
  ok(has(bounding, "CAP_AUDIT_WRITE") && has(bounding, "CAP_NET_RAW") &&
       !has(bounding, "CAP_SYS_ADMIN"), "caps: the right ones");
  is_str(joined(at(c, "process.capabilities.effective")), joined(bounding), "caps: effective");
  is_str(joined(at(c, "process.capabilities.permitted")), joined(bounding), "caps: permitted");
  ok(!at(c, "process.capabilities.inheritable") && !at(c, "process.capabilities.ambient"),
     "caps: no inheritable or ambient");
  ok(json_is_false(at(c, "process.noNewPrivileges")), "noNewPrivileges false");
  json_decref(c);

  c = build(NULL, &err, "{\"cmd\": [\"x\"], \"cap_add\": [\"NET_ADMIN\", \"cap_sys_time\", "
                        "\"CAP_NET_ADMIN\"], \"cap_drop\": [\"CAP_MKNOD\", \"net_raw\"]}");
  bounding = at(c, "process.capabilities.bounding");
  ok(has(bounding, "CAP_NET_ADMIN") && has(bounding, "CAP_SYS_TIME") &&
       !has(bounding, "CAP_MKNOD") && !has(bounding, "CAP_NET_RAW"),
     "caps: add and drop, any spelling");
  is_int(json_array_size(bounding), 14, "caps: 14 - 2 + 2, no repeat");
  json_decref(c);

  const char *all[64];
  size_t nall = runtime_capabilities_all(all, 64);
  ok(nall >= 38 && strcmp(all[0], "CAP_CHOWN") == 0, "caps: %zu known by this kernel", nall);
  c = build(NULL, &err,
            "{\"cmd\": [\"x\"], \"cap_add\": [\"ALL\"], \"cap_drop\": [\"SYS_ADMIN\"]}");
  bounding = at(c, "process.capabilities.bounding");
  is_int(json_array_size(bounding), nall - 1, "caps: ALL but SYS_ADMIN");
  ok(!has(bounding, "CAP_SYS_ADMIN") && has(bounding, "CAP_SYS_MODULE"), "caps: which");
  json_decref(c);

  c = build(NULL, &err, "{\"cmd\": [\"x\"], \"cap_add\": [\"chown\"], \"cap_drop\": [\"all\"]}");
  is_str(joined(at(c, "process.capabilities.bounding")), "CAP_CHOWN", "caps: drop ALL + add one");
  json_decref(c);
  c = build(NULL, &err, "{\"cmd\": [\"x\"], \"cap_drop\": [\"ALL\"]}");
  is_int(json_array_size(at(c, "process.capabilities.permitted")), 0, "caps: drop ALL → none");
  json_decref(c);
  is_str(runtime_capability_name("net_admin"), "CAP_NET_ADMIN", "capability name normalised");
  ok(runtime_capability_name("CAP_NOPE") == NULL, "unknown capability");
}

static void test_mounts(void)
{
  struct nc_err err = NC_ERR_INIT;
  json_t *c = build(NULL, &err,
                    "{\"cmd\": [\"x\"], \"binds\": [\"%s/:/data/sub\", \"%s:/data:ro\", "
                    "\"%s:/etc/hosts:ro\", \"%s://srv//x/\"], \"read_only\": true}",
                    data, data, data, data);
  ok(c != NULL, "build with binds: %s", err.msg);
  static const char *const defaults[] = { "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue",
                                          "/sys", "/sys/fs/cgroup" };
  for (size_t i = 0; i < 7; i++)
    is_int(mount_index(c, defaults[i]), (long long)i, "mount %zu is %s", i, defaults[i]);
  is_str(joined(at(mount_at(c, "/dev/shm"), "options")),
         "nosuid noexec nodev mode=1777 size=65536k", "/dev/shm options");
  is_str(joined(at(mount_at(c, "/sys"), "options")), "nosuid noexec nodev ro", "/sys read-only");
  is_str(joined(at(mount_at(c, "/dev/pts"), "options")),
         "nosuid noexec newinstance ptmxmode=0666 mode=0620 gid=5", "/dev/pts options");
  json_t *m = mount_at(c, "/etc/hostname");
  is_str(json_string_value(at(m, "source")), hostname_file, "/etc/hostname from the host file");
  is_str(joined(at(m, "options")), "bind rprivate ro", "read-only bind");
  is_str(json_string_value(at(mount_at(c, "/etc/resolv.conf"), "source")), resolv_file,
         "/etc/resolv.conf");
  m = mount_at(c, "/etc/hosts");
  is_str(json_string_value(at(m, "source")), data, "a bind on /etc/hosts replaces ours");
  is_int(json_array_size(json_object_get(c, "mounts")), 7 + 2 + 4, "7 + 2 + 4 mounts");
  m = mount_at(c, "/data");
  is_str(joined(at(m, "options")), "rbind rprivate ro", "bind :ro");
  is_str(json_string_value(at(m, "type")), "bind", "type bind");
  is_str(joined(at(mount_at(c, "/data/sub"), "options")), "rbind rprivate rw", "bind rw");
  is_str(json_string_value(at(mount_at(c, "/data/sub"), "source")), data, "source cleaned");
  ok(mount_index(c, "/data") < mount_index(c, "/data/sub"), "parents before children");
  ok(mount_at(c, "/srv/x") != NULL, "destination cleaned of repeated and trailing slashes");
  ok(json_is_true(at(c, "root.readonly")), "root read-only");
  is_str(json_string_value(at(c, "root.path")), rootfs, "root path");
  json_decref(c);

  c = build(NULL, &err, "{\"cmd\": [\"x\"], \"binds\": [\"%s:/dev/shm\"]}", data);
  is_str(json_string_value(at(mount_at(c, "/dev/shm"), "type")), "bind",
         "a bind on /dev/shm replaces the default");
  ok(json_is_false(at(c, "root.readonly")), "root writable by default");
  json_decref(c);

  c = build(NULL, &err, "{\"cmd\": [\"x\"], \"binds\": [\"%s:/z/y\", \"%s:/b\", \"%s:/a\"]}",
            data, data, data);
  ok(mount_index(c, "/b") == 10 && mount_index(c, "/a") == 11 && mount_index(c, "/z/y") == 12,
     "binds by depth, in the spec's order at one depth");
  json_decref(c);

  struct spec_host saved = host;
  host.hostname_file = host.hosts_file = host.resolv_file = NULL;
  c = build(NULL, &err, "{\"cmd\": [\"x\"]}");
  is_int(json_array_size(json_object_get(c, "mounts")), 7, "no files given: only defaults");
  json_decref(c);
  host = saved;
}

static void test_linux(void)
{
  struct nc_err err = NC_ERR_INIT;
  json_t *c = build(NULL, &err, "{\"cmd\": [\"x\"], \"memory\": 67108864, \"cpus\": 1.5, "
                                "\"pids_limit\": 100, \"hostname\": \"h\", \"domainname\": "
                                "\"example.org\", \"labels\": {\"a\": \"1\", \"b.c\": \"\"}}");
  ok(c != NULL, "build with resources: %s", err.msg);
  is_str(json_string_value(at(c, "ociVersion")), "1.0.2", "ociVersion");
  ok(json_is_false(at(c, "process.terminal")), "terminal false");
  is_int(json_integer_value(at(c, "linux.resources.memory.limit")), 67108864, "memory.limit");
  is_int(json_integer_value(at(c, "linux.resources.memory.swap")), 67108864, "swap = limit");
  is_int(json_integer_value(at(c, "linux.resources.cpu.quota")), 150000, "cpu quota");
  is_int(json_integer_value(at(c, "linux.resources.cpu.period")), 100000, "cpu period");
  is_int(json_integer_value(at(c, "linux.resources.pids.limit")), 100, "pids.limit");
  is_str(json_string_value(at(c, "hostname")), "h", "hostname");
  is_str(json_string_value(at(c, "domainname")), "example.org", "domainname");
  is_str(json_string_value(at(c, "annotations.a")), "1", "annotations from labels");
  ok(at(c, "annotations.b") == NULL && json_object_get(at(c, "annotations"), "b.c"), "label b.c");
  is_str(json_string_value(at(c, "linux.cgroupsPath")), "/nanocl/abc", "cgroupsPath");
  json_t *ns = at(c, "linux.namespaces");
  is_int(json_array_size(ns), 5, "five namespaces on v1/hybrid (no cgroup ns)");
  is_str(json_string_value(at(ns, "4.type")), "network", "a network namespace");
  ok(at(ns, "4.path") == NULL, "of its own");
  ok(has(at(c, "linux.maskedPaths"), "/proc/kcore") &&
       has(at(c, "linux.maskedPaths"), "/sys/devices/virtual/powercap"), "maskedPaths");
  is_int(json_array_size(at(c, "linux.maskedPaths")), 11, "11 masked paths");
  is_str(joined(at(c, "linux.readonlyPaths")),
         "/proc/bus /proc/fs /proc/irq /proc/sys /proc/sysrq-trigger", "readonlyPaths");
  json_t *dev = at(c, "linux.resources.devices");
  ok(json_is_false(at(dev, "0.allow")) && !at(dev, "0.type") &&
       strcmp(json_string_value(at(dev, "0.access")), "rwm") == 0, "devices: deny all first");
  is_int(json_array_size(dev), 10, "then 9 allowed");
  ok(json_integer_value(at(dev, "9.major")) == 136 && !at(dev, "9.minor"), "pts: any minor");
  is_str(json_string_value(at(c, "process.rlimits.0.type")), "RLIMIT_NOFILE", "rlimit NOFILE");
  is_int(json_integer_value(at(c, "process.rlimits.0.hard")), 20000, "hard = the host's hard");
  is_int(json_integer_value(at(c, "process.rlimits.0.soft")), 20000, "soft = hard");
  is_int(json_array_size(at(c, "process.rlimits")), 1, "no RLIMIT_NPROC");
  json_decref(c);

  host.netns_path = "/run/netns/n1";
  host.cgroup_v2 = true;
  host.swap_accounting = false;
  host.nofile_hard = 4000000;
  c = build(NULL, &err, "{\"cmd\": [\"x\"], \"memory\": 67108864, \"pids_limit\": 0}");
  ns = at(c, "linux.namespaces");
  is_str(json_string_value(at(ns, "4.path")), "/run/netns/n1", "joins the given netns");
  is_str(json_string_value(at(ns, "5.type")), "cgroup", "cgroup namespace on v2");
  ok(at(c, "linux.resources.memory.limit") && !at(c, "linux.resources.memory.swap"),
     "no swap without swap accounting");
  ok(!at(c, "linux.resources.pids") && !at(c, "linux.resources.cpu"), "pids 0: unlimited");
  is_int(json_integer_value(at(c, "process.rlimits.0.hard")), 1048576, "NOFILE capped at 1 Mi");
  ok(!at(c, "hostname") && !at(c, "annotations"), "no hostname, no annotations");
  json_decref(c);
  host.netns_path = NULL;
  host.cgroup_v2 = false;
  host.swap_accounting = true;
  host.nofile_hard = 20000;

  c = build(NULL, &err, "{\"cmd\": [\"x\"], \"pids_limit\": -1}");
  ok(!at(c, "linux.resources.pids") && !at(c, "linux.resources.memory"), "pids -1, no memory");
  json_decref(c);
}

/* The error of validating `spec`, "" when valid. */
static const char *invalid(const char *spec, ...) __attribute__((format(printf, 1, 2)));
static const char *invalid(const char *spec, ...)
{
  static struct nc_err err;
  char text[4096];
  va_list ap;
  va_start(ap, spec);
  vsnprintf(text, sizeof text, spec, ap);
  va_end(ap);
  json_t *s = json_loads(text, JSON_ALLOW_NUL, NULL);
  if (!s) {
    printf("# bad test JSON: %s\n", text);
    exit(99);
  }
  nc_err_clear(&err);
  int r = runtime_spec_validate(s, &err);
  json_decref(s);
  if (r == 0)
    return "";
  if (err.kind != NC_ERR_INVALID)
    return "(not NC_ERR_INVALID)";
  return err.msg;
}

#define starts(s, prefix, what)                                                                    \
  do {                                                                                             \
    const char *s_ = (s);                                                                          \
    ok(strncmp(s_, prefix, strlen(prefix)) == 0, "%s: %s", what, s_);                              \
  } while (0)

static void test_validate(void)
{
  is_str(invalid("{\"name\": \"n\", \"image\": \"busybox\", \"cmd\": [\"x\"], \"memory\": 0, "
                 "\"cpus\": 1024, \"pids_limit\": -1, \"stop_signal\": \"SIGINT\", "
                 "\"stop_timeout\": 5, \"read_only\": false, \"user\": \"a:b\", \"binds\": "
                 "[\"%s:/d:rw\"], \"env\": [\"K=\"], \"cap_add\": [\"ALL\"]}", data),
         "", "a valid spec (name and image accepted)");
  starts(invalid("{\"memory\": -1}"), "memory:", "negative memory");
  starts(invalid("{\"memory\": 1000}"), "memory:", "memory under 6 MiB");
  starts(invalid("{\"memory\": \"1g\"}"), "memory:", "memory not a number");
  starts(invalid("{\"cpus\": 0}"), "cpus:", "cpus 0");
  starts(invalid("{\"cpus\": 0.001}"), "cpus:", "cpus too small for a quota");
  starts(invalid("{\"cpus\": 1025}"), "cpus:", "cpus over 1024");
  starts(invalid("{\"cpus\": \"2\"}"), "cpus:", "cpus a string");
  starts(invalid("{\"pids_limit\": -2}"), "pids_limit:", "pids_limit -2");
  starts(invalid("{\"binds\": [\"relative:/x\"]}"), "binds[0]:", "relative host path");
  starts(invalid("{\"binds\": [\"%s:x\"]}", data), "binds[0]:", "relative container path");
  starts(invalid("{\"binds\": [\"%s/missing-nanocl:/x\"]}", dir), "binds[0]: host path",
         "missing host path");
  starts(invalid("{\"binds\": [\"%s:/\"]}", data), "binds[0]:", "over /");
  starts(invalid("{\"binds\": [\"%s:/x:rx\"]}", data), "binds[0]: unknown mode", "bad mode");
  starts(invalid("{\"binds\": [\"%s:/x:ro:z\"]}", data), "binds[0]:", "':' tricks");
  starts(invalid("{\"binds\": [\"%s:/x:\"]}", data), "binds[0]:", "empty mode");
  starts(invalid("{\"binds\": [\"%s\"]}", data), "binds[0]:", "no destination");
  starts(invalid("{\"binds\": [\"%s:/a/../etc\"]}", data), "binds[0]:", "'..' in destination");
  starts(invalid("{\"binds\": [\"%s/..:/a\"]}", data), "binds[0]:", "'..' in source");
  starts(invalid("{\"binds\": [\"%s:/a\", \"%s:/a/\"]}", data, data), "binds[1]: duplicate",
         "duplicate destination");
  starts(invalid("{\"binds\": \"/a:/b\"}"), "binds:", "binds not an array");
  starts(invalid("{\"cap_add\": [\"NOT_A_CAP\"]}"), "cap_add[0]: unknown capability",
         "unknown capability");
  starts(invalid("{\"cap_drop\": [\"CHOWN\", 3]}"), "cap_drop[1]:", "capability not a string");
  starts(invalid("{\"env\": [\"NOEQ\"]}"), "env[0]:", "env without '='");
  starts(invalid("{\"env\": [\"A=1\", \"=v\"]}"), "env[1]:", "env with an empty key");
  starts(invalid("{\"env\": [\"A\\u0000B=1\"]}"), "env[0]: contains a NUL", "NUL in env");
  starts(invalid("{\"cmd\": \"ls\"}"), "cmd:", "cmd not an array");
  starts(invalid("{\"entrypoint\": [1]}"), "entrypoint[0]:", "entrypoint not strings");
  starts(invalid("{\"workdir\": \"rel\"}"), "workdir:", "relative workdir");
  starts(invalid("{\"user\": \"a:b:c\"}"), "user:", "user with two ':'");
  starts(invalid("{\"user\": \"../x\"}"), "user:", "user with '/'");
  starts(invalid("{\"hostname\": \"bad host\"}"), "hostname:", "hostname with a space");
  starts(invalid("{\"hostname\": \"%065d\"}", 0), "hostname:", "hostname too long");
  starts(invalid("{\"domainname\": \"-x\"}"), "domainname:", "domainname with a leading '-'");
  starts(invalid("{\"labels\": {\"a\": 1}}"), "labels.a:", "label not a string");
  starts(invalid("{\"labels\": []}"), "labels:", "labels not an object");
  starts(invalid("{\"read_only\": \"yes\"}"), "read_only:", "read_only not a boolean");
  starts(invalid("{\"stop_signal\": \"SIGFOO\"}"), "stop_signal:", "unknown stop signal");
  starts(invalid("{\"stop_timeout\": -5}"), "stop_timeout:", "negative stop timeout");
  starts(invalid("{\"foo\": 1}"), "unknown field 'foo'", "unknown field");

  json_t *s = json_pack("{s:[]}", "env");
  for (int i = 0; i <= SPEC_ENV_MAX; i++)
    json_array_append_new(json_object_get(s, "env"), json_sprintf("K%d=v", i));
  struct nc_err err = NC_ERR_INIT;
  is_int(runtime_spec_validate(s, &err), -1, "4097 env entries refused");
  starts(err.msg, "env:", "names env");
  json_decref(s);
  char *big = malloc(SPEC_ARGS_BYTES_MAX);
  memset(big, 'a', SPEC_ARGS_BYTES_MAX - 1);
  big[SPEC_ARGS_BYTES_MAX - 1] = '\0';
  s = json_pack("{s:[s,s]}", "cmd", "x", big);
  is_int(runtime_spec_validate(s, &err), -1, "args over 1 MiB refused");
  starts(err.msg, "cmd:", "names cmd");
  json_decref(s);
  free(big);

  /* Through build: the same errors, and nothing is built. */
  json_t *c = build(NULL, &err, "{\"cmd\": [\"x\"], \"memory\": -5}");
  ok(c == NULL && strncmp(err.msg, "memory:", 7) == 0, "build validates: %s", err.msg);
}

static void test_signals(void)
{
  is_int(runtime_signal_parse("SIGTERM"), 15, "SIGTERM");
  is_int(runtime_signal_parse("TERM"), 15, "TERM");
  is_int(runtime_signal_parse("term"), 15, "term");
  is_int(runtime_signal_parse("15"), 15, "15");
  is_int(runtime_signal_parse("SIGKILL"), 9, "SIGKILL");
  is_int(runtime_signal_parse("sigusr1"), 10, "sigusr1");
  is_int(runtime_signal_parse("SIGQUIT"), 3, "SIGQUIT");
  is_int(runtime_signal_parse("SIGRTMIN+3"), 37, "SIGRTMIN+3");
  is_int(runtime_signal_parse("RTMAX-1"), 63, "RTMAX-1");
  is_int(runtime_signal_parse("64"), 64, "64");
  is_int(runtime_signal_parse("0"), -1, "0 refused");
  is_int(runtime_signal_parse("65"), -1, "65 refused");
  is_int(runtime_signal_parse("-9"), -1, "-9 refused");
  is_int(runtime_signal_parse("SIGFOO"), -1, "SIGFOO refused");
  is_int(runtime_signal_parse(""), -1, "empty refused");
  is_int(runtime_signal_parse("SIG"), -1, "SIG refused");
  is_int(runtime_signal_parse("RTMIN+31"), -1, "RTMIN+31 refused");
}

int main(void)
{
  setup();
  test_args();
  test_env_cwd();
  test_user();
  test_caps();
  test_mounts();
  test_linux();
  test_validate();
  test_signals();
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    printf("# could not remove %s\n", dir);
  return tap_done();
}
