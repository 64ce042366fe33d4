#include "runtime/sealed.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/log.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U /* Linux 6.3: executable on hosts where memfds default to noexec */
#endif

/* The seals runc and crun look for (RUNC_MEMFD_SEALS): exactly these, or they copy. */
#define RUNTIME_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

/* Larger than any runtime binary (runc is 9 MB, crun 0.5 MB). */
#define SEALED_MAX ((off_t)64 << 20)

void runtime_sealed_init(struct runtime_sealed *s)
{
  *s = (struct runtime_sealed){ .fd = -1 };
  pthread_mutex_init(&s->mu, NULL);
}

void runtime_sealed_destroy(struct runtime_sealed *s)
{
  if (s->fd >= 0)
    close(s->fd);
  s->fd = -1;
  pthread_mutex_destroy(&s->mu);
}

static bool same_file(const struct stat *a, const struct stat *b)
{
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
         a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Copies `path` into a new sealed memfd. Returns it, or -1 with the reason in `why`
 * (`permanent`: no use trying again for this file). */
static int make_copy(const char *path, struct stat *of, const char **why, bool *permanent)
{
  *permanent = true;
  _cleanup_close_ int src = open(path, O_RDONLY | O_CLOEXEC);
  if (src < 0 || fstat(src, of) < 0) {
    *why = strerror(errno);
    *permanent = false;
    return -1;
  }
  char magic[4];
  if (!S_ISREG(of->st_mode) || of->st_size > SEALED_MAX ||
      pread(src, magic, sizeof magic, 0) != (ssize_t)sizeof magic || memcmp(magic, "\177ELF", 4)) {
    *why = "not an ELF executable"; /* a script cannot be run through a descriptor */
    return -1;
  }
  const char *base = strrchr(path, '/');
  int fd = memfd_create(base ? base + 1 : path, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (fd < 0 && errno == EINVAL) /* before Linux 6.3 */
    fd = memfd_create(base ? base + 1 : path, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) {
    *why = strerror(errno);
    return -1;
  }
  off_t done = 0;
  while (done < of->st_size) {
    ssize_t n = sendfile(fd, src, NULL, (size_t)(of->st_size - done));
    if (n <= 0) {
      *why = n < 0 ? strerror(errno) : "the file shrank while it was copied";
      *permanent = false;
      close(fd);
      return -1;
    }
    done += n;
  }
  if (fcntl(fd, F_ADD_SEALS, RUNTIME_SEALS) < 0 || fcntl(fd, F_GET_SEALS) != RUNTIME_SEALS) {
    /* Other seals (F_SEAL_EXEC…) would make the runtime copy itself anyway. */
    *why = "the kernel does not seal it as the runtime expects";
    close(fd);
    return -1;
  }
  return fd;
}

int runtime_sealed_get(struct runtime_sealed *s, const char *path)
{
  struct stat now;
  if (stat(path, &now) < 0)
    return -1; /* running the path will say what is wrong */
  pthread_mutex_lock(&s->mu);
  if ((s->fd >= 0 || s->off) && !same_file(&now, &s->of)) { /* upgraded, or replaced */
    if (s->fd >= 0)
      close(s->fd);
    s->fd = -1;
    s->off = false;
  }
  if (s->fd < 0 && !s->off) {
    const char *why = "";
    bool permanent;
    s->fd = make_copy(path, &s->of, &why, &permanent);
    if (s->fd >= 0)
      nc_log(NC_LOG_DEBUG, "runtime %s: runs from a sealed copy in memory (%lld bytes)", path,
             (long long)s->of.st_size);
    else
      nc_log(NC_LOG_INFO, "runtime %s: run from its file, no sealed copy (%s)", path, why);
    s->off = s->fd < 0 && permanent; /* s->of is that file's */
  }
  int fd = s->fd >= 0 ? fcntl(s->fd, F_DUPFD_CLOEXEC, 3) : -1;
  pthread_mutex_unlock(&s->mu);
  return fd;
}
