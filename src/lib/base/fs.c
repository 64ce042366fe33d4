#include "base/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"

int nc_mkdir_p(const char *path, mode_t mode, struct nc_err *err)
{
  char tmp[PATH_MAX];
  if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
    return nc_err_set(err, NC_ERR_INVALID, "path too long: '%s'", path);

  for (char *p = tmp + 1;; p++) {
    if (*p != '/' && *p != '\0')
      continue;
    char saved = *p;
    *p = '\0';
    if (mkdir(tmp, mode) < 0 && errno != EEXIST)
      return nc_err_sys(err, errno, "cannot create directory '%s'", tmp);
    *p = saved;
    if (saved == '\0')
      break;
  }
  struct stat st;
  if (stat(path, &st) < 0)
    return nc_err_sys(err, errno, "cannot stat '%s'", path);
  if (!S_ISDIR(st.st_mode))
    return nc_err_set(err, NC_ERR_INVALID, "'%s' exists and is not a directory", path);
  return 0;
}

static int write_all(int fd, const char *data, size_t len)
{
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

static int write_replace(const char *path, const void *data, size_t len, mode_t mode,
                         bool durable, struct nc_err *err)
{
  char tmp[PATH_MAX];
  if (snprintf(tmp, sizeof tmp, "%s.tmp-%d", path, (int)getpid()) >= (int)sizeof tmp)
    return nc_err_set(err, NC_ERR_INVALID, "path too long: '%s'", path);

  _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0)
    return nc_err_sys(err, errno, "cannot create '%s'", tmp);
  if (write_all(fd, data, len) < 0 || (durable && fsync(fd) < 0)) {
    int e = errno;
    unlink(tmp);
    return nc_err_sys(err, e, "cannot write '%s'", tmp);
  }
  if (rename(tmp, path) < 0) {
    int e = errno;
    unlink(tmp);
    return nc_err_sys(err, e, "cannot rename '%s' to '%s'", tmp, path);
  }
  if (!durable)
    return 0;
  /* The rename is durable only once the directory entry is. */
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", path);
  _cleanup_close_ int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0)
    fsync(dfd);
  return 0;
}

int nc_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         struct nc_err *err)
{
  return write_replace(path, data, len, mode, true, err);
}

int nc_write_file_replace(const char *path, const void *data, size_t len, mode_t mode,
                          struct nc_err *err)
{
  return write_replace(path, data, len, mode, false, err);
}

int nc_read_file(const char *path, size_t limit, char **out, size_t *len, struct nc_err *err)
{
  _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    nc_err_sys(err, e, "cannot open '%s'", path);
    if (e == ENOENT)
      err->kind = NC_ERR_NOT_FOUND;
    return -1;
  }
  _cleanup_free_ char *data = malloc(limit + 1);
  if (!data)
    return nc_err_sys(err, ENOMEM, "cannot read '%s'", path);
  size_t used = 0;
  for (;;) {
    ssize_t n = read(fd, data + used, limit + 1 - used);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return nc_err_sys(err, errno, "cannot read '%s'", path);
    }
    if (n == 0)
      break;
    used += (size_t)n;
    if (used > limit)
      return nc_err_set(err, NC_ERR_TOO_LARGE, "'%s' is larger than %zu bytes", path, limit);
  }
  data[used] = '\0';
  *out = steal_ptr(&data);
  if (len)
    *len = used;
  return 0;
}
