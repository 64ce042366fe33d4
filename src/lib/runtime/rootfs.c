#include "runtime/rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/buf.h"

/* The new mount API takes each lower dir on its own ("lowerdir+", Linux 6.8),
 * so the number of layers is not bounded by the one-page option string. */
static int mount_new_api(const char *const *lowers, size_t n, const char *upper, const char *work,
                         bool volatile_, const char *target)
{
  int fs = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
  if (fs < 0)
    return -1;
  int r = 0;
  for (size_t i = 0; r == 0 && i < n; i++)
    r = (int)syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "lowerdir+", lowers[i], 0);
  if (r == 0)
    r = (int)syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "upperdir", upper, 0);
  if (r == 0)
    r = (int)syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "workdir", work, 0);
  if (r == 0 && volatile_)
    r = (int)syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, "volatile", NULL, 0);
  if (r == 0)
    r = (int)syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
  int mnt = r == 0 ? (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0) : -1;
  int e = errno;
  close(fs);
  if (mnt < 0) {
    errno = e;
    return -1;
  }
  r = (int)syscall(SYS_move_mount, mnt, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH);
  e = errno;
  close(mnt);
  errno = e;
  return r;
}

static int mount_classic(const char *const *lowers, size_t n, const char *upper, const char *work,
                         bool volatile_, const char *target)
{
  struct nc_buf opts;
  nc_buf_init(&opts, 0);
  nc_buf_printf(&opts, "lowerdir=");
  for (size_t i = 0; i < n; i++)
    nc_buf_printf(&opts, "%s%s", i ? ":" : "", lowers[i]);
  nc_buf_printf(&opts, ",upperdir=%s,workdir=%s%s", upper, work, volatile_ ? ",volatile" : "");
  int r = mount("overlay", target, "overlay", 0, opts.data);
  int e = errno;
  nc_buf_free(&opts);
  errno = e;
  return r;
}

int rootfs_mount(const char *const *lowers, size_t n, const char *upper, const char *work,
                 bool volatile_, const char *target, struct nc_err *err)
{
  if (n == 0)
    return nc_err_set(err, NC_ERR_INVALID, "an image without layers cannot be a root fs");
  /* Without "volatile" on the second round: a kernel older than 5.10 refuses it. */
  for (int round = 0; round < (volatile_ ? 2 : 1); round++) {
    bool v = volatile_ && round == 0;
    if (mount_new_api(lowers, n, upper, work, v, target) == 0 ||
        mount_classic(lowers, n, upper, work, v, target) == 0)
      return 0;
  }
  return nc_err_sys(err, errno, "cannot mount the overlay root fs at '%s' (%zu layers)", target,
                    n);
}

int rootfs_umount(const char *target, struct nc_err *err)
{
  if (umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
    return 1;
  if (errno == EINVAL || errno == ENOENT)
    return 0; /* not a mount point (any more) */
  return nc_err_sys(err, errno, "cannot unmount '%s'", target);
}
