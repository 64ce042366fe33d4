#include "image/digest.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

int nc_sha256_init(struct nc_sha256 *h, struct nc_err *err)
{
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
    EVP_MD_CTX_free(ctx);
    h->ctx = NULL;
    return nc_err_set(err, NC_ERR_INTERNAL, "sha256: cannot initialise OpenSSL digest");
  }
  h->ctx = ctx;
  return 0;
}

void nc_sha256_update(struct nc_sha256 *h, const void *data, size_t len)
{
  EVP_DigestUpdate(h->ctx, data, len);
}

static void to_digest(const unsigned char *md, char out[NC_DIGEST_SIZE])
{
  static const char hex[] = "0123456789abcdef";
  memcpy(out, "sha256:", 7);
  for (int i = 0; i < 32; i++) {
    out[7 + 2 * i] = hex[md[i] >> 4];
    out[8 + 2 * i] = hex[md[i] & 15];
  }
  out[NC_DIGEST_LEN] = '\0';
}

void nc_sha256_final(struct nc_sha256 *h, char out[NC_DIGEST_SIZE])
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_DigestFinal_ex(h->ctx, md, &len);
  EVP_MD_CTX_free(h->ctx);
  h->ctx = NULL;
  to_digest(md, out);
}

void nc_sha256_abort(struct nc_sha256 *h)
{
  EVP_MD_CTX_free(h->ctx);
  h->ctx = NULL;
}

void nc_sha256_of(const void *data, size_t len, char out[NC_DIGEST_SIZE])
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned mdlen = 0;
  EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
  to_digest(md, out);
}
