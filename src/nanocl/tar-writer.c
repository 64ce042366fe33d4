#include "tar-writer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const void *buf, size_t len)
{
  const char *p = buf;
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* One 512-byte ustar header. */
static int header(int fd, const char *name, const struct stat *st, char type)
{
  char h[512];
  memset(h, 0, sizeof h);
  if (strlen(name) > 99) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(h, name, strlen(name));
  snprintf(h + 100, 8, "%07o", (unsigned)(st->st_mode & 07777));
  snprintf(h + 108, 8, "%07o", 0u);
  snprintf(h + 116, 8, "%07o", 0u);
  snprintf(h + 124, 12, "%011llo", type == '0' ? (unsigned long long)st->st_size : 0ULL);
  snprintf(h + 136, 12, "%011llo", (unsigned long long)st->st_mtime);
  h[156] = type;
  memcpy(h + 257, "ustar", 6);
  memcpy(h + 263, "00", 2);
  memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (int i = 0; i < 512; i++)
    sum += (unsigned char)h[i];
  snprintf(h + 148, 8, "%06o", sum);
  return write_all(fd, h, sizeof h);
}

static int copy_file(int fd, int src, off_t size)
{
  static char buf[256 * 1024];
  off_t left = size;
  while (left > 0) {
    ssize_t n = read(src, buf, left < (off_t)sizeof buf ? (size_t)left : sizeof buf);
    if (n <= 0) {
      if (n < 0 && errno == EINTR)
        continue;
      if (n == 0)
        errno = EIO; /* the file shrank under us */
      return -1;
    }
    if (write_all(fd, buf, (size_t)n) < 0)
      return -1;
    left -= n;
  }
  static const char zeros[512];
  size_t pad = (size_t)((512 - size % 512) % 512);
  return write_all(fd, zeros, pad);
}

static int walk(int fd, int dirfd, const char *prefix)
{
  DIR *d = fdopendir(dirfd);
  if (!d) {
    close(dirfd);
    return -1;
  }
  int r = 0;
  struct dirent *de;
  while (r == 0 && (de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
      continue;
    char name[512];
    snprintf(name, sizeof name, "%s%s", prefix, de->d_name);
    struct stat st;
    if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      r = -1;
    } else if (S_ISDIR(st.st_mode)) {
      char sub[sizeof name + 1];
      snprintf(sub, sizeof sub, "%s/", name);
      int subfd = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      r = subfd < 0 || header(fd, sub, &st, '5') < 0 ? -1 : walk(fd, subfd, sub);
    } else if (S_ISREG(st.st_mode)) {
      int src = openat(dirfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      r = src < 0 || header(fd, name, &st, '0') < 0 || copy_file(fd, src, st.st_size) < 0 ? -1
                                                                                           : 0;
      if (src >= 0)
        close(src);
    } else {
      errno = ENOTSUP;
      r = -1;
    }
  }
  closedir(d);
  return r;
}

int tar_write_dir(const char *dir, int fd)
{
  int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int r = dirfd < 0 ? -1 : walk(fd, dirfd, "");
  static const char end[1024];
  if (r == 0)
    r = write_all(fd, end, sizeof end); /* two zero blocks end a tar */
  int saved = errno;
  close(fd);
  errno = saved;
  return r;
}
