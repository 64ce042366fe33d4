#include "image/blobstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "image/unpack.h"

/* Removes every entry of `dir` whose name starts with `prefix` ("" = all). */
static void remove_leftovers(const char *dir, const char *prefix)
{
  DIR *d = opendir(dir);
  if (!d)
    return;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
        strncmp(de->d_name, prefix, strlen(prefix)) != 0)
      continue;
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    struct nc_err err = NC_ERR_INIT;
    if (image_remove_tree(path, &err) < 0)
      nc_log(NC_LOG_WARN, "cannot remove leftover %s: %s", path, err.msg);
    else
      nc_log(NC_LOG_INFO, "removed leftover %s", path);
  }
  closedir(d);
}

int blob_store_init(struct blob_store *bs, const char *images_dir, struct nc_err *err)
{
  snprintf(bs->root, sizeof bs->root, "%s", images_dir);
  if (snprintf(bs->blobs, sizeof bs->blobs, "%s/blobs/sha256", images_dir) >=
        (int)sizeof bs->blobs ||
      snprintf(bs->layers, sizeof bs->layers, "%s/layers", images_dir) >= (int)sizeof bs->layers ||
      snprintf(bs->tmp, sizeof bs->tmp, "%s/tmp", images_dir) >= (int)sizeof bs->tmp)
    return nc_err_set(err, NC_ERR_INVALID, "state dir path too long: '%s'", images_dir);
  if (nc_mkdir_p(bs->blobs, 0700, err) < 0 || nc_mkdir_p(bs->layers, 0700, err) < 0 ||
      nc_mkdir_p(bs->tmp, 0700, err) < 0)
    return -1;
  remove_leftovers(bs->tmp, "");
  remove_leftovers(bs->layers, ".tmp-");
  return 0;
}

void blob_store_blob_path(const struct blob_store *bs, const char *digest, char *out, size_t size)
{
  snprintf(out, size, "%s/%s", bs->blobs, nc_digest_hex(digest));
}

void blob_store_layer_path(const struct blob_store *bs, const char *chain_id, char *out,
                           size_t size)
{
  snprintf(out, size, "%s/%s", bs->layers, nc_digest_hex(chain_id));
}

bool blob_store_has(const struct blob_store *bs, const char *digest, uint64_t *size)
{
  char path[PATH_MAX + 80];
  struct stat st;
  blob_store_blob_path(bs, digest, path, sizeof path);
  if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
    return false;
  if (size)
    *size = (uint64_t)st.st_size;
  return true;
}

bool blob_store_has_layer(const struct blob_store *bs, const char *chain_id)
{
  char path[PATH_MAX + 80];
  struct stat st;
  blob_store_layer_path(bs, chain_id, path, sizeof path);
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int blob_writer_open(const struct blob_store *bs, struct blob_writer *w, uint64_t limit,
                     struct nc_err *err)
{
  w->fd = -1;
  w->written = 0;
  w->limit = limit;
  w->hash.ctx = NULL;
  if (snprintf(w->tmp_path, sizeof w->tmp_path, "%s/blob-XXXXXX", bs->tmp) >=
      (int)sizeof w->tmp_path)
    return nc_err_set(err, NC_ERR_INVALID, "state dir path too long: '%s'", bs->tmp);
  w->fd = mkostemp(w->tmp_path, O_CLOEXEC);
  if (w->fd < 0)
    return nc_err_sys(err, errno, "cannot create a temporary blob in '%s'", bs->tmp);
  if (nc_sha256_init(&w->hash, err) < 0) {
    blob_writer_abort(w);
    return -1;
  }
  return 0;
}

int blob_writer_write(struct blob_writer *w, const void *data, size_t len, struct nc_err *err)
{
  if (w->limit && (len > w->limit || w->written > w->limit - len))
    return nc_err_set(err, NC_ERR_TOO_LARGE, "blob is larger than %llu bytes",
                      (unsigned long long)w->limit);
  const char *p = data;
  size_t left = len;
  while (left) {
    ssize_t n = write(w->fd, p, left);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return nc_err_sys(err, errno, "cannot write '%s'", w->tmp_path);
    }
    p += n;
    left -= (size_t)n;
  }
  nc_sha256_update(&w->hash, data, len);
  w->written += len;
  return 0;
}

void blob_writer_abort(struct blob_writer *w)
{
  if (w->fd >= 0) {
    close(w->fd);
    w->fd = -1;
  }
  if (w->tmp_path[0]) {
    unlink(w->tmp_path);
    w->tmp_path[0] = '\0';
  }
  nc_sha256_abort(&w->hash);
}

int blob_writer_commit(const struct blob_store *bs, struct blob_writer *w,
                       const char *expected_digest, int64_t expected_size,
                       char digest[NC_DIGEST_SIZE], struct nc_err *err)
{
  char computed[NC_DIGEST_SIZE];
  nc_sha256_final(&w->hash, computed);
  if (expected_size >= 0 && w->written != (uint64_t)expected_size) {
    nc_err_set(err, NC_ERR_INVALID, "blob %s has %llu bytes, expected %lld",
               expected_digest ? expected_digest : computed, (unsigned long long)w->written,
               (long long)expected_size);
    blob_writer_abort(w);
    return -1;
  }
  if (expected_digest && strcmp(expected_digest, computed) != 0) {
    nc_err_set(err, NC_ERR_INVALID, "blob %s does not match its digest (got %s)",
               expected_digest, computed);
    blob_writer_abort(w);
    return -1;
  }
  if (fsync(w->fd) < 0) {
    nc_err_sys(err, errno, "cannot write '%s'", w->tmp_path);
    blob_writer_abort(w);
    return -1;
  }
  char path[PATH_MAX + 80];
  blob_store_blob_path(bs, computed, path, sizeof path);
  /* Blobs are read-only once in place: nothing should ever change them. */
  fchmod(w->fd, 0400);
  if (rename(w->tmp_path, path) < 0) {
    nc_err_sys(err, errno, "cannot move blob into '%s'", path);
    blob_writer_abort(w);
    return -1;
  }
  w->tmp_path[0] = '\0';
  close(w->fd);
  w->fd = -1;
  if (digest)
    memcpy(digest, computed, NC_DIGEST_SIZE);
  return 0;
}

int blob_store_put(const struct blob_store *bs, const void *data, size_t len,
                   const char *expected_digest, char digest[NC_DIGEST_SIZE], struct nc_err *err)
{
  struct blob_writer w;
  if (blob_writer_open(bs, &w, 0, err) < 0)
    return -1;
  if (blob_writer_write(&w, data, len, err) < 0) {
    blob_writer_abort(&w);
    return -1;
  }
  return blob_writer_commit(bs, &w, expected_digest, -1, digest, err);
}

int blob_store_read(const struct blob_store *bs, const char *digest, size_t limit, char **out,
                    size_t *len, struct nc_err *err)
{
  char path[PATH_MAX + 80];
  blob_store_blob_path(bs, digest, path, sizeof path);
  if (nc_read_file(path, limit, out, len, err) < 0)
    return -1;
  char got[NC_DIGEST_SIZE];
  nc_sha256_of(*out, *len, got);
  if (strcmp(got, digest) != 0) {
    free(*out);
    *out = NULL;
    return nc_err_set(err, NC_ERR_INTERNAL, "blob %s on disk is corrupt (its content is %s)",
                      digest, got);
  }
  return 0;
}
