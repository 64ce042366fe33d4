/* The layer unpacker: one OCI layer blob → one overlayfs lower directory.
 *
 * The blob is read once: the decompressed stream is hashed (its diff_id) while the
 * tar inside it is written out, entry by entry, with *at() calls confined to a
 * temporary directory next to the destination; the finished directory is renamed
 * into place, so a layer directory is either complete or absent. OCI whiteouts
 * become overlayfs ones (char device 0:0, trusted.overlay.opaque=y). */
#pragma once

#include <stdint.h>

#include "base/err.h"

struct image_unpack_opts {
  const char *blob_path;         /* the layer blob: tar, or tar compressed with gzip, zstd, xz, bzip2 (detected from content) */
  const char *dest;              /* the final layer directory; must not exist yet */
  const char *const *lower_dirs; /* the unpacked directories of the layers below, topmost first, NULL-terminated; may be NULL */
  const char *expected_diff_id;  /* "sha256:<hex>": the sha256 of the UNCOMPRESSED tar must match, else error; NULL = don't check */
  uint64_t max_bytes;            /* cap on uncompressed bytes (0 = 64 GiB) */
  uint64_t max_entries;          /* cap on entries (0 = 1,000,000) */
  void (*progress)(void *ctx, uint64_t compressed_bytes_read, uint64_t uncompressed_bytes); /* may be NULL; called at most every ~1 MiB */
  void *progress_ctx;
};

#define IMAGE_UNPACK_DEFAULT_MAX_BYTES (64ULL << 30)
#define IMAGE_UNPACK_DEFAULT_MAX_ENTRIES 1000000ULL

/* Unpacks a layer into opts->dest as an overlayfs lower directory. On success fills
   diff_id ("sha256:<64 hex>", buffer of 72) and *size (uncompressed tar bytes). On any
   failure nothing is left: not dest, not the temporary directory.
   When dest exists by the time the unpack is done (a concurrent unpack of the same
   layer won), the new copy is discarded and the call still succeeds. */
int image_unpack_layer(const struct image_unpack_opts *opts, char diff_id[72], uint64_t *size,
                       struct nc_err *err);

/* Removes leftovers "<dir>/.tmp-*" of unpacks interrupted by a crash (called at daemon start).
   A missing layers_dir is not an error. */
int image_unpack_cleanup(const char *layers_dir, struct nc_err *err);

/* rm -rf that never follows symlinks and works on read-only dirs and immutable-free trees; used for temp dirs and by GC.
   A missing path is not an error; a mount point inside the tree is (nothing below it is touched). */
int image_remove_tree(const char *path, struct nc_err *err);
