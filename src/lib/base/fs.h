/* Small file-system helpers. Every fd is O_CLOEXEC; every file that must never be
 * seen half-written goes through a temporary name, fsync and rename. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "base/err.h"

/* mkdir -p: creates the missing parents with `mode`; existing directories are left as they are. */
int nc_mkdir_p(const char *path, mode_t mode, struct nc_err *err);

/* Writes `path` atomically: PATH.tmp-PID, fsync, rename, fsync of the directory. */
int nc_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         struct nc_err *err);

/* Replaces `path` atomically (temp name + rename: readers see the old or the new file,
 * never half of one) without fsync: for files that are rebuilt at every start or only
 * matter while the machine is up (a container's /etc files and config.json, a shim's pid
 * and exit files). A process crash loses nothing (the page cache stays); after a power
 * loss they are rebuilt or meaningless. Saves 2 fsyncs, 1-30 ms each on slow disks. */
int nc_write_file_replace(const char *path, const void *data, size_t len, mode_t mode,
                          struct nc_err *err);

/* Reads at most `limit` bytes of a file into a NUL-terminated buffer the caller frees.
 * A longer file is an NC_ERR_TOO_LARGE error. */
int nc_read_file(const char *path, size_t limit, char **out, size_t *len, struct nc_err *err);
