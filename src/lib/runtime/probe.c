#include "runtime/probe.h"

#include <stdio.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "runtime/cgroup-view.h"

const char *cgroup_layout_name(enum cgroup_layout l)
{
  return l == CGROUP_V2 ? "v2 (unified)" : l == CGROUP_HYBRID ? "hybrid (v1 + v2)" : "v1";
}

/* From /proc/self/mountinfo: the filesystem type mounted at /sys/fs/cgroup, and
 * whether any cgroup (v1) or cgroup2 mount exists. */
enum cgroup_layout cgroup_detect(void)
{
  FILE *f = fopen("/proc/self/mountinfo", "re");
  bool v1 = false, v2 = false, root_v2 = false;
  char line[4096];
  while (f && fgets(line, sizeof line, f)) {
    /* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS" */
    char mnt[1024] = "", fstype[64] = "";
    const char *dash = strstr(line, " - ");
    if (!dash || sscanf(line, "%*s %*s %*s %*s %1023s", mnt) != 1 ||
        sscanf(dash + 3, "%63s", fstype) != 1)
      continue;
    if (!strcmp(fstype, "cgroup2")) {
      v2 = true;
      root_v2 |= !strcmp(mnt, "/sys/fs/cgroup");
    } else if (!strcmp(fstype, "cgroup")) {
      v1 = true;
    }
  }
  if (f)
    fclose(f);
  if (root_v2 || (v2 && !v1))
    return CGROUP_V2;
  return v1 && v2 ? CGROUP_HYBRID : CGROUP_V1;
}

static bool find_in_path(const char *name, char *out, size_t size)
{
  static const char *const dirs[] = { "/usr/local/sbin", "/usr/local/bin", "/usr/sbin",
                                      "/usr/bin",        "/sbin",          "/bin" };
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
    snprintf(out, size, "%s/%s", dirs[i], name);
    if (access(out, X_OK) == 0)
      return true;
  }
  return false;
}

/* crun refuses a hybrid host whose cgroup2 hierarchy (at the path it looks at) holds
 * a controller; with none there it works as on v1 and needs no help. */
static bool hybrid_cgroup2_has_controllers(void)
{
  struct statfs fs;
  if (statfs(RUNTIME_CGROUP2_HYBRID_PATH, &fs) < 0 || fs.f_type != CGROUP2_SUPER_MAGIC)
    return false;
  char buf[256] = "";
  FILE *f = fopen(RUNTIME_CGROUP2_HYBRID_PATH "/cgroup.controllers", "re");
  bool any = f && fgets(buf, sizeof buf, f) && buf[0] != '\n' && buf[0] != '\0';
  if (f)
    fclose(f);
  return any;
}

int runtime_probe(const char *want, struct runtime_info *out, struct nc_err *err)
{
  memset(out, 0, sizeof *out);
  out->layout = cgroup_detect();
  struct rlimit rl;
  out->nofile_hard = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (uint64_t)rl.rlim_max : 1024;

  if (out->layout == CGROUP_V2) {
    snprintf(out->memory_cgroup, sizeof out->memory_cgroup, "/sys/fs/cgroup");
    out->swap_accounting = access("/sys/fs/cgroup/cgroup.controllers", R_OK) == 0;
  } else {
    snprintf(out->memory_cgroup, sizeof out->memory_cgroup, "/sys/fs/cgroup/memory");
    out->swap_accounting = access("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", F_OK) == 0;
  }

  if (want && want[0] == '/') {
    if (access(want, X_OK) < 0)
      return nc_err_sys(err, errno, "runtime '%s' cannot be run", want);
    snprintf(out->path, sizeof out->path, "%s", want);
    const char *base = strrchr(want, '/');
    snprintf(out->name, sizeof out->name, "%s", base + 1);
  } else if (want && *want) {
    if (strcmp(want, "runc") && strcmp(want, "crun"))
      return nc_err_set(err, NC_ERR_INVALID,
                        "unknown runtime '%s': give runc, crun or an absolute path", want);
    if (!find_in_path(want, out->path, sizeof out->path))
      return nc_err_set(err, NC_ERR_NOT_FOUND, "runtime %s is not installed", want);
    snprintf(out->name, sizeof out->name, "%s", want);
  } else if (find_in_path("crun", out->path, sizeof out->path)) {
    snprintf(out->name, sizeof out->name, "crun");
  } else if (find_in_path("runc", out->path, sizeof out->path)) {
    snprintf(out->name, sizeof out->name, "runc");
  } else {
    return nc_err_set(err, NC_ERR_NOT_FOUND,
                      "no OCI runtime found: install runc or crun (apt-get install runc)");
  }
  out->cgroup2_busy = out->layout == CGROUP_HYBRID && hybrid_cgroup2_has_controllers();
  out->hide_cgroup2 = runtime_hides_cgroup2(out, out->path);
  return 0;
}

bool runtime_hides_cgroup2(const struct runtime_info *rt, const char *path)
{
  const char *base = strrchr(path, '/');
  return rt->cgroup2_busy && !strncmp(base ? base + 1 : path, "crun", 4);
}
