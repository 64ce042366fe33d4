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

int nc_spawn(const char *const *argv, const int fds[3], int fd3, pid_t *pid, struct nc_err *err)
{
  for (int i = 0; i < 3; i++)
    if (fds[i] >= 0 && fds[i] < 3 && fds[i] != i)
      return nc_err_set(err, NC_ERR_INTERNAL, "cannot start %s: fd %d would be overwritten",
                        argv[0], fds[i]);
  if (fd3 >= 0 && fd3 < 3)
    return nc_err_set(err, NC_ERR_INTERNAL, "cannot start %s: fd %d would be overwritten",
                      argv[0], fd3);
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  /* Handlers are reset by exec itself; only an ignored signal would stay ignored, and
   * SIGPIPE is the one nanocld ignores. */
  sigset_t none, ignored;
  sigemptyset(&none);
  sigemptyset(&ignored);
  sigaddset(&ignored, SIGPIPE);
  int e = posix_spawn_file_actions_init(&fa);
  if (e)
    return nc_err_sys(err, e, "cannot start %s", argv[0]);
  if ((e = posix_spawnattr_init(&attr))) {
    posix_spawn_file_actions_destroy(&fa);
    return nc_err_sys(err, e, "cannot start %s", argv[0]);
  }
  /* dup2 onto itself clears close-on-exec (glibc >= 2.29, POSIX issue 411). */
  for (int i = 0; i < 3 && !e; i++)
    e = fds[i] >= 0 ? posix_spawn_file_actions_adddup2(&fa, fds[i], i)
                    : posix_spawn_file_actions_addopen(&fa, i, "/dev/null", O_RDWR, 0);
  if (!e && fd3 >= 0)
    e = posix_spawn_file_actions_adddup2(&fa, fd3, 3);
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
