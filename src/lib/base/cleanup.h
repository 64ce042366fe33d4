/* Scope-bound ownership (after crun's cleanup_* and lxc's __do_*): a variable
 * marked _cleanup_free_ is freed when it leaves scope; steal_ptr()/steal_fd()
 * hand ownership out of the scope. */
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static inline void nc_freep(void *p)
{
  free(*(void **)p);
}

/* Never retry close() on EINTR: the fd is gone either way, and in a threaded
 * daemon a retry could close another thread's new fd. Keeps errno. */
static inline void nc_closep(int *fd)
{
  if (*fd >= 0) {
    int saved = errno;
    close(*fd);
    errno = saved;
    *fd = -1;
  }
}

#define _cleanup_free_ __attribute__((cleanup(nc_freep)))
#define _cleanup_close_ __attribute__((cleanup(nc_closep)))

#define steal_ptr(pp)                                                                              \
  ({                                                                                               \
    __typeof__(*(pp)) _p = *(pp);                                                                  \
    *(pp) = NULL;                                                                                  \
    _p;                                                                                            \
  })

static inline int steal_fd(int *fd)
{
  int r = *fd;
  *fd = -1;
  return r;
}
