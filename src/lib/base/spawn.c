/* posix_spawn, not fork: glibc's posix_spawn is clone(CLONE_VM | CLONE_VFORK), so the
 * calling thread neither copies the daemon's page tables nor pays, afterwards, a
 * copy-on-write fault for each page it writes that was shared with the child until its
 * exec. For nanocld (tens of MiB mapped, several threads) fork + exec of the shim cost
 * ~2 ms more than this (bench/containers). */
#include "base/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <unistd.h>

extern char **environ;

int nc_spawn(const char *const *argv, const int fds[3], const int *more, size_t nmore, pid_t *pid,
             struct nc_err *err)
{
  for (int i = 0; i < 3; i++)
    if (fds[i] >= 0 && fds[i] < 3 && fds[i] != i)
      return nc_err_set(err, NC_ERR_INTERNAL, "cannot start %s: fd %d would be overwritten",
                        argv[0], fds[i]);
  if (nmore > NC_SPAWN_MORE_MAX)
    return nc_err_set(err, NC_ERR_INTERNAL, "cannot start %s: too many fds", argv[0]);
  /* A source inside 3 .. 3+nmore-1 could be overwritten by an earlier dup2: such ones
   * are copied above that range first. */
  int src[NC_SPAWN_MORE_MAX], moved[NC_SPAWN_MORE_MAX];
  for (size_t i = 0; i < nmore; i++) {
    moved[i] = -1;
    src[i] = more[i];
    if (more[i] < 3)
      return nc_err_set(err, NC_ERR_INTERNAL, "cannot start %s: fd %d would be overwritten",
                        argv[0], more[i]);
    if ((size_t)more[i] < 3 + nmore && (size_t)more[i] != 3 + i) {
      if ((moved[i] = fcntl(more[i], F_DUPFD_CLOEXEC, (int)(3 + nmore))) < 0) {
        int e = errno;
        for (size_t k = 0; k < i; k++)
          if (moved[k] >= 0)
            close(moved[k]);
        return nc_err_sys(err, e, "cannot start %s", argv[0]);
      }
      src[i] = moved[i];
    }
  }
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  /* Handlers are reset by exec itself; only an ignored signal would stay ignored, and
   * SIGPIPE is the one nanocld ignores. */
  sigset_t none, ignored;
  sigemptyset(&none);
  sigemptyset(&ignored);
  sigaddset(&ignored, SIGPIPE);
  int e = posix_spawn_file_actions_init(&fa);
  if (!e && (e = posix_spawnattr_init(&attr)))
    posix_spawn_file_actions_destroy(&fa);
  if (!e) {
    /* dup2 onto itself clears close-on-exec (glibc >= 2.29, POSIX issue 411). */
    for (int i = 0; i < 3 && !e; i++)
      e = fds[i] >= 0 ? posix_spawn_file_actions_adddup2(&fa, fds[i], i)
                      : posix_spawn_file_actions_addopen(&fa, i, "/dev/null", O_RDWR, 0);
    for (size_t i = 0; i < nmore && !e; i++)
      e = posix_spawn_file_actions_adddup2(&fa, src[i], (int)(3 + i));
    if (!e)
      e = posix_spawnattr_setsigmask(&attr, &none);
    if (!e)
      e = posix_spawnattr_setsigdefault(&attr, &ignored);
    if (!e)
      e = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    /* posix_spawn's prototype predates const; the strings are not written. */
    if (!e)
      e = posix_spawn(pid, argv[0], &fa, &attr, (char *const *)(uintptr_t)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
  }
  for (size_t i = 0; i < nmore; i++)
    if (moved[i] >= 0)
      close(moved[i]);
  if (e)
    return nc_err_sys(err, e, "cannot start %s", argv[0]);
  return 0;
}

int nc_spawn_tidy_stdio(void)
{
  /* In order: open() takes the lowest free fd, which is then `fd` itself. */
  for (int fd = 0; fd < 3; fd++)
    if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0)
      return -1;
  return 0;
}
