/* A container's root file system: an overlay of the image's layers (read-only
 * lower dirs, topmost first) with the container's own upper and work dirs. */
#pragma once

#include <stddef.h>

#include "base/err.h"

int rootfs_mount(const char *const *lowers, size_t n, const char *upper, const char *work,
                 const char *target, struct nc_err *err);
/* Unmounts `target` if it is mounted (lazily, so a stray process inside cannot
 * keep it busy); 0 when it was not mounted. */
int rootfs_umount(const char *target, struct nc_err *err);
