/* A container's root file system: an overlay of the image's layers (read-only
 * lower dirs, topmost first) with the container's own upper and work dirs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

/* `volatile_`: the overlay skips every sync of the upper dir (overlayfs "volatile",
 * Linux 5.10): for containers removed when they end, whose changes nobody keeps. Their
 * unmount is then ~20x cheaper (no syncfs of the upper file system); fsync inside the
 * container is a no-op. Older kernels: mounted without it. */
int rootfs_mount(const char *const *lowers, size_t n, const char *upper, const char *work,
                 bool volatile_, const char *target, struct nc_err *err);
/* Unmounts `target` if it is mounted (lazily, so a stray process inside cannot
 * keep it busy); 0 when it was not mounted. */
int rootfs_umount(const char *target, struct nc_err *err);
