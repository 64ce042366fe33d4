/* A minimal ustar writer for `container-image import DIR`: an OCI image layout
 * directory holds only directories and regular files (index.json, oci-layout,
 * blobs/sha256/<hex>), so that is all it writes. Linking libarchive into the
 * CLI would cost every command its load time. */
#pragma once

/* Writes a tar of the tree under `dir` (paths relative to it) to `fd`, then
 * closes `fd`. Returns 0, or -1 with errno (ENOTSUP for a symlink or special
 * file, ENAMETOOLONG for a path over 100 bytes). */
int tar_write_dir(const char *dir, int fd);
