/* crun on a hybrid cgroup host.
 *
 * A hybrid host has the v1 controllers under /sys/fs/cgroup/<controller> and a cgroup2
 * hierarchy at /sys/fs/cgroup/unified. crun (1.x) refuses to create a container there as
 * soon as that cgroup2 hierarchy holds a controller ("cgroups in hybrid mode not
 * supported, drop all controllers from cgroupv2"); it finds the hierarchy by that path
 * alone. Run in a mount namespace of its own where the path is not mounted, crun sees a
 * v1 host and works as it does on one: the container gets a cgroup in every v1
 * controller (limits, devices, OOM, stats as with runc) and stays, on the cgroup2 side,
 * where its shim is, which is also where runc leaves it.
 *
 * Header-only: used by nanocl-shim (which links none of libnanocl's runtime code) and
 * by nanocld's exec helper. */
#pragma once

#include <sched.h>
#include <stdbool.h>
#include <sys/mount.h>
#include <unistd.h>

#define RUNTIME_CGROUP2_HYBRID_PATH "/sys/fs/cgroup/unified"

/* For a single-threaded child about to exec the runtime (async-signal-safe calls
 * only): a mount namespace of its own, every mount a slave of the host's (nothing done
 * here reaches the host, the host's new mounts still arrive), and no cgroup2 hierarchy
 * at the path crun looks at. The container's own mount namespace is made from this one
 * by the runtime; nothing of the host's mounts is left in it after its pivot_root.
 * Returns 0, or -1 with errno set. */
static inline int runtime_hide_hybrid_cgroup2(void)
{
  if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
    return -1;
  return umount2(RUNTIME_CGROUP2_HYBRID_PATH, MNT_DETACH);
}
