/* Health checks of cargo instances: the spec's health.cmd run in the container (as
 * `docker exec` would), healthy when it exits 0 within health.timeout. */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/timeutil.h"
#include "cargo/cargo.h"
#include "runtime/exec.h"

#define HEALTH_ARGS_MAX 64

int cargo_health_param(const json_t *spec, const char *key, int fallback)
{
  const json_t *v = json_object_get(json_object_get(spec, "health"), key);
  return json_is_integer(v) && json_integer_value(v) > 0 ? (int)json_integer_value(v) : fallback;
}

bool cargo_health_probe(struct container_service *svc, const char *ns, const char *id,
                        const json_t *spec)
{
  const json_t *cmd = json_object_get(json_object_get(spec, "health"), "cmd");
  const char *argv[HEALTH_ARGS_MAX + 1];
  size_t n = json_array_size(cmd);
  if (n == 0 || n > HEALTH_ARGS_MAX)
    return true;
  for (size_t i = 0; i < n; i++)
    argv[i] = json_string_value(json_array_get(cmd, i));
  argv[n] = NULL;
  struct exec_opts o = { .argv = argv };
  struct exec_proc p;
  int code = 0;
  struct nc_err err = NC_ERR_INIT;
  if (container_exec_start(svc, ns, id, &o, &p, &code, &err) < 0)
    return false;
  /* Its output is read and dropped, so a chatty check never blocks on a full pipe. */
  int timeout_ms = cargo_health_param(spec, "timeout", CARGO_HEALTH_TIMEOUT_S) * 1000;
  uint64_t deadline = nc_time_mono_ns() / 1000000 + (uint64_t)timeout_ms;
  bool ended = false;
  while (!ended) {
    uint64_t now = nc_time_mono_ns() / 1000000;
    if (now >= deadline)
      break;
    struct pollfd fds[3] = { { p.status_fd, POLLIN, 0 }, { p.stdout_fd, POLLIN, 0 },
                             { p.stderr_fd, POLLIN, 0 } };
    if (poll(fds, 3, (int)(deadline - now)) < 0)
      break;
    char buf[4096];
    for (int i = 1; i < 3; i++)
      if (fds[i].revents && read(fds[i].fd, buf, sizeof buf) <= 0)
        fds[i].fd = -1;
    ended = fds[0].revents != 0;
  }
  if (!ended)
    container_exec_kill(&p);
  code = container_exec_wait(&p);
  container_exec_close(&p);
  return ended && code == 0;
}
