#include "base/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int current_level = NC_LOG_INFO;

static const char *const level_names[NC_LOG_LEVEL_MAX] = { "error", "warn", "info", "debug" };

void nc_log_set_level(enum nc_log_level level)
{
  atomic_store(&current_level, (int)level);
}

bool nc_log_enabled(enum nc_log_level level)
{
  return (int)level <= atomic_load(&current_level);
}

int nc_log_parse_level(const char *name)
{
  for (int i = 0; i < NC_LOG_LEVEL_MAX; i++)
    if (strcmp(name, level_names[i]) == 0)
      return i;
  return -1;
}

void nc_log(enum nc_log_level level, const char *fmt, ...)
{
  if (!nc_log_enabled(level))
    return;

  char line[2048];
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
  n += (size_t)snprintf(line + n, sizeof line - n, ".%03ldZ %-5s ", ts.tv_nsec / 1000000,
                        level_names[level]);

  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
  va_end(ap);
  if (m < 0)
    m = 0;
  n += (size_t)m;
  if (n > sizeof line - 2)
    n = sizeof line - 2; /* truncated: keep the newline */
  line[n++] = '\n';
  /* stderr is unbuffered, but one write keeps the line whole across threads. */
  ssize_t w = write(STDERR_FILENO, line, n);
  (void)w;
}
