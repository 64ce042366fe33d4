/* Checked number parsing: the whole string must be a number within range
 * (git's banned.h forbids atoi; strtoul alone accepts "12abc" and "-1"). */
#pragma once

#include <stdint.h>

/* Decimal, no sign, no spaces, <= max. Returns 0, or -1 with errno EINVAL/ERANGE. */
int nc_parse_u64(const char *s, uint64_t max, uint64_t *out);
