#pragma once

#include <stddef.h>
#include <stdint.h>

/* Seconds since the epoch as RFC 3339 UTC ("2026-11-22T15:07:00Z"). */
void nc_time_rfc3339(int64_t unix_seconds, char *out, size_t size);
int64_t nc_time_now(void);
/* Monotonic clock in nanoseconds, for durations. */
uint64_t nc_time_mono_ns(void);
