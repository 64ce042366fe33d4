/* What this host offers containers: the OCI runtime to use and the cgroup layout.
 * Detected at start-up, logged, never assumed. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"

enum cgroup_layout {
  CGROUP_V1,     /* only v1 hierarchies */
  CGROUP_HYBRID, /* v1 controllers plus a cgroup2 mount (systemd's "hybrid") */
  CGROUP_V2,     /* unified: /sys/fs/cgroup is cgroup2 */
};

struct runtime_info {
  char path[PATH_MAX]; /* the runtime's executable */
  char name[16];       /* "runc", "crun", or the file name of a given path */
  enum cgroup_layout layout;
  uint64_t nofile_hard;       /* RLIMIT_NOFILE hard limit of this host */
  bool swap_accounting;       /* memory.memsw (v1) / memory.swap.max (v2) exist */
  char memory_cgroup[PATH_MAX]; /* root of the memory controller: for OOM checks */
  bool cgroup2_busy;  /* a hybrid host whose cgroup2 holds controllers, which crun refuses */
  bool hide_cgroup2;  /* this runtime is crun on such a host: it runs with that hierarchy
                         out of its sight (runtime/cgroup-view.h) */
};

/* Whether the runtime at `path` (this one, or one a former nanocld used) is crun on a
 * host where it must not see the cgroup2 hierarchy. */
bool runtime_hides_cgroup2(const struct runtime_info *rt, const char *path);

const char *cgroup_layout_name(enum cgroup_layout l);
enum cgroup_layout cgroup_detect(void);

/* `want`: NULL or "" (choose), "runc", "crun", or an absolute path. Choosing
 * prefers crun (a C program: a tenth of runc's start-up cost), then runc. */
int runtime_probe(const char *want, struct runtime_info *out, struct nc_err *err);
