#include "base/parse.h"

#include <errno.h>

int nc_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
  uint64_t v = 0;
  if (!s || !*s) {
    errno = EINVAL;
    return -1;
  }
  for (; *s; s++) {
    if (*s < '0' || *s > '9') {
      errno = EINVAL;
      return -1;
    }
    unsigned d = (unsigned)(*s - '0');
    if (v > (max - d) / 10) {
      errno = ERANGE;
      return -1;
    }
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}
