/* Starting a program from a threaded daemon without fork(). */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "base/err.h"

#define NC_SPAWN_MORE_MAX 4

/* Runs argv[0] (a path) with argv. Its fds 0-2 are fds[0..2] (-1: /dev/null) and its
 * fds 3, 4, … are more[0], more[1], … (at most NC_SPAWN_MORE_MAX, none below 3); nothing
 * else is inherited, as every fd of ours is close-on-exec. The child starts with no
 * signal blocked and SIGPIPE (which nanocld ignores) at its default. fds[] must not be
 * below 3 unless they are already where they go (a daemon keeps 0-2 open:
 * nc_spawn_tidy_stdio). On success *pid is the child, to be waited for. */
int nc_spawn(const char *const *argv, const int fds[3], const int *more, size_t nmore, pid_t *pid,
             struct nc_err *err);

/* Opens /dev/null on whichever of fds 0-2 is closed, so that no later descriptor lands
 * there. Returns -1 (errno set) when it cannot. */
int nc_spawn_tidy_stdio(void);
