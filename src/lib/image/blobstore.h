/* Content-addressed blobs under STATE_DIR/images:
 *   blobs/sha256/<hex>   verified on write: temp file in tmp/, sha256 while
 *                        streaming, fsync, rename; a blob that is there is whole
 *   layers/<hex>/        unpacked layers, by chain id (image/unpack.h)
 *   tmp/                 work in progress; emptied at start-up (crash leftovers)
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "image/digest.h"

struct blob_store {
  char root[PATH_MAX];   /* STATE_DIR/images */
  char blobs[PATH_MAX];  /* root/blobs/sha256 */
  char layers[PATH_MAX]; /* root/layers */
  char tmp[PATH_MAX];    /* root/tmp */
};

/* Creates the folders and removes what an interrupted run left in tmp/ and layers/. */
int blob_store_init(struct blob_store *bs, const char *images_dir, struct nc_err *err);

void blob_store_blob_path(const struct blob_store *bs, const char *digest, char *out, size_t size);
void blob_store_layer_path(const struct blob_store *bs, const char *chain_id, char *out,
                           size_t size);
/* True when the blob is there; *size (may be NULL) gets its length. */
bool blob_store_has(const struct blob_store *bs, const char *digest, uint64_t *size);
bool blob_store_has_layer(const struct blob_store *bs, const char *chain_id);

struct blob_writer {
  int fd;
  char tmp_path[PATH_MAX];
  struct nc_sha256 hash;
  uint64_t written;
  uint64_t limit; /* bytes; writing more is NC_ERR_TOO_LARGE */
};

int blob_writer_open(const struct blob_store *bs, struct blob_writer *w, uint64_t limit,
                     struct nc_err *err);
int blob_writer_write(struct blob_writer *w, const void *data, size_t len, struct nc_err *err);
/* Checks the digest (and the size when expected_size >= 0) and moves the blob into
 * place; with expected_digest NULL the computed one is used. On a mismatch the
 * temporary file is removed and the error names both digests. Always ends the writer. */
int blob_writer_commit(const struct blob_store *bs, struct blob_writer *w,
                       const char *expected_digest, int64_t expected_size,
                       char digest[NC_DIGEST_SIZE], struct nc_err *err);
/* Removes the temporary file. Safe to call on an ended writer. */
void blob_writer_abort(struct blob_writer *w);

/* A small blob (manifest, config) from memory. */
int blob_store_put(const struct blob_store *bs, const void *data, size_t len,
                   const char *expected_digest, char digest[NC_DIGEST_SIZE], struct nc_err *err);
/* Reads a small blob, at most `limit` bytes, checking its digest. */
int blob_store_read(const struct blob_store *bs, const char *digest, size_t limit, char **out,
                    size_t *len, struct nc_err *err);
