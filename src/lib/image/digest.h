/* sha256 digests as OCI writes them: "sha256:<64 lower-case hex>". */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define NC_DIGEST_LEN 71 /* "sha256:" + 64 hex */
#define NC_DIGEST_SIZE 72

struct nc_sha256 {
  void *ctx; /* EVP_MD_CTX */
};

int nc_sha256_init(struct nc_sha256 *h, struct nc_err *err);
void nc_sha256_update(struct nc_sha256 *h, const void *data, size_t len);
/* Writes "sha256:<hex>" into out (NC_DIGEST_SIZE bytes) and frees the context. */
void nc_sha256_final(struct nc_sha256 *h, char out[NC_DIGEST_SIZE]);
/* Frees a context that will not be finalised (an error path). */
void nc_sha256_abort(struct nc_sha256 *h);

/* sha256 of a buffer, as "sha256:<hex>". */
void nc_sha256_of(const void *data, size_t len, char out[NC_DIGEST_SIZE]);

/* Is `d` "sha256:" followed by exactly 64 lower-case hex digits? */
bool nc_digest_valid(const char *d);
/* The hex part of a valid digest. */
static inline const char *nc_digest_hex(const char *d)
{
  return d + 7;
}
/* NC_ERR_INVALID naming `what` when `d` is not a valid sha256 digest. */
int nc_digest_check(const char *what, const char *d, struct nc_err *err);
