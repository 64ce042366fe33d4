/* One logging function for every program: a line per event on stderr, written
 * with one write(2) so lines from several threads never interleave. */
#pragma once

#include <stdbool.h>

enum nc_log_level {
  NC_LOG_ERROR = 0,
  NC_LOG_WARN,
  NC_LOG_INFO,
  NC_LOG_DEBUG,
  NC_LOG_LEVEL_MAX,
};

void nc_log_set_level(enum nc_log_level level);
bool nc_log_enabled(enum nc_log_level level);
/* "error", "warn", "info", "debug" → level; -1 when unknown. */
int nc_log_parse_level(const char *name);
void nc_log(enum nc_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
