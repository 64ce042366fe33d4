/* Digest strings checked for form. Apart from digest.c on purpose: checking a
 * reference needs no hashing, and keeping OpenSSL out of this file keeps
 * libcrypto out of the CLI (about 2 ms of every command's start-up). */
#include <string.h>

#include "image/digest.h"

bool nc_digest_valid(const char *d)
{
  if (!d || strncmp(d, "sha256:", 7) != 0 || strlen(d) != NC_DIGEST_LEN)
    return false;
  for (const char *p = d + 7; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
      return false;
  return true;
}

int nc_digest_check(const char *what, const char *d, struct nc_err *err)
{
  if (nc_digest_valid(d))
    return 0;
  return nc_err_set(err, NC_ERR_INVALID, "%s '%.100s' is not a sha256 digest (sha256:<64 hex>)",
                    what, d ? d : "");
}
