/* Layer unpacking: the blob is read once through two libarchive readers stacked on
 * each other. The outer one only decompresses (format "raw"), and every
 * decompressed byte passes through inner_read(), which hashes and counts it before
 * handing it to the inner tar reader. So the diff_id (sha256 of the uncompressed
 * tar) comes with the unpack, without decompressing twice.
 *
 * The outer reader knows gzip, zstd, xz and bzip2 (the compressions layers use), not
 * archive_read_support_filter_all(): that one also decodes uuencode, rpm, compress,
 * lzip, lz4, lzop, lrzip and grzip, the last ones only by running external programs;
 * none is a layer compression, and each is one more decoder fed by registry blobs. */
#include "image/unpack.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "image/digest.h"
#include "image/unpack-internal.h"

#define PROGRESS_EVERY (1u << 20)

struct unpack_stream {
  const struct image_unpack_opts *opts;
  struct archive *outer;
  struct nc_sha256 sha;
  uint64_t bytes, max_bytes, progress_at;
  struct nc_err err; /* why inner_read failed */
};

/* I/O trouble is ours (NC_ERR_INTERNAL); anything else libarchive reports is a bad blob. */
static int archive_error(struct archive *a, const char *blob, struct nc_err *err)
{
  int e = archive_errno(a);
  const char *msg = archive_error_string(a);
  if (!msg)
    msg = "unknown libarchive error";
  if (e == EIO || e == ENOMEM || e == ENOSPC || e == EBADF || e == EACCES)
    return nc_err_sys(err, e, "cannot read layer blob '%s' (%s)", blob, msg);
  return nc_err_set(err, NC_ERR_INVALID, "layer blob '%s' is corrupt: %s", blob, msg);
}

int unpack_archive_fail(const struct unpack_ctx *c, struct archive *a, struct nc_err *err)
{
  if (c->stream_err->kind != NC_ERR_NONE) {
    *err = *c->stream_err;
    return -1;
  }
  return archive_error(a, c->blob, err);
}

static void report_progress(struct unpack_stream *s)
{
  if (s->opts->progress)
    s->opts->progress(s->opts->progress_ctx, (uint64_t)archive_filter_bytes(s->outer, -1),
                      s->bytes);
}

/* The next block of decompressed bytes, hashed and counted: its size, 0 at the end. */
static ssize_t stream_pull(struct unpack_stream *s, const void **buf)
{
  for (;;) {
    size_t size;
    la_int64_t off;
    int r = archive_read_data_block(s->outer, buf, &size, &off);
    if (r == ARCHIVE_EOF) {
      *buf = NULL;
      return 0;
    }
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
      return archive_error(s->outer, s->opts->blob_path, &s->err);
    if (off < 0 || (uint64_t)off != s->bytes)
      return nc_err_set(&s->err, NC_ERR_INVALID, "layer blob '%s' decompresses with a gap",
                        s->opts->blob_path);
    if (size == 0)
      continue; /* to the inner reader, 0 would mean the end */
    s->bytes += size;
    if (s->bytes > s->max_bytes)
      return nc_err_set(&s->err, NC_ERR_TOO_LARGE,
                        "layer blob '%s' is over the limit of %llu uncompressed bytes",
                        s->opts->blob_path, (unsigned long long)s->max_bytes);
    nc_sha256_update(&s->sha, *buf, size);
    if (s->bytes - s->progress_at >= PROGRESS_EVERY) {
      s->progress_at = s->bytes;
      report_progress(s);
    }
    return (ssize_t)size;
  }
}

/* The inner reader's read callback; the block stays valid until the next call, as
   libarchive requires, since only this callback reads the outer reader. */
static la_ssize_t inner_read(struct archive *a, void *data, const void **buf)
{
  struct unpack_stream *s = data;
  ssize_t n = stream_pull(s, buf);
  if (n < 0)
    archive_set_error(a, -1 /* ARCHIVE_ERRNO_MISC, not in the public header */, "%s", s->err.msg);
  return n;
}

static int stream_open(struct unpack_stream *s, int fd, struct nc_err *err)
{
  const char *blob = s->opts->blob_path;
  s->outer = archive_read_new();
  if (!s->outer)
    return nc_err_sys(err, ENOMEM, "cannot read layer blob '%s'", blob);
  /* ARCHIVE_WARN: this libarchive lacks the library and runs the decompressor program
     (zstd, xz, bzip2) instead: slower, but the same format, so accepted. */
  if (archive_read_support_filter_gzip(s->outer) < ARCHIVE_WARN ||
      archive_read_support_filter_zstd(s->outer) < ARCHIVE_WARN ||
      archive_read_support_filter_xz(s->outer) < ARCHIVE_WARN ||
      archive_read_support_filter_bzip2(s->outer) < ARCHIVE_WARN ||
      archive_read_support_format_raw(s->outer) != ARCHIVE_OK)
    return archive_error(s->outer, blob, err);
  if (archive_read_open_fd(s->outer, fd, UNPACK_BUF_SIZE) != ARCHIVE_OK)
    return archive_error(s->outer, blob, err);
  struct archive_entry *e;
  int r = archive_read_next_header(s->outer, &e);
  if (r == ARCHIVE_EOF)
    return nc_err_set(err, NC_ERR_INVALID, "layer blob '%s' is empty", blob);
  if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
    return archive_error(s->outer, blob, err);
  return 0;
}

/* The tar: every entry, then the rest of the stream (the end-of-archive blocks and
   record padding the tar reader leaves unread), so the hash covers all of it. */
static int stream_unpack(struct unpack_ctx *c, struct unpack_stream *s, uint64_t max_entries,
                         struct nc_err *err)
{
  struct archive *in = archive_read_new();
  if (!in)
    return nc_err_sys(err, ENOMEM, "cannot read layer blob '%s'", c->blob);
  int ret = -1;
  /* "tar" reads ustar, pax and GNU tar alike (gnutar is an alias of it). */
  archive_read_support_format_tar(in);
  if (archive_read_open(in, s, NULL, inner_read, NULL) != ARCHIVE_OK) {
    unpack_archive_fail(c, in, err);
    nc_err_wrap(err, "layer blob '%s' is not a tar archive", c->blob);
    goto out;
  }
  for (uint64_t n = 0;; n++) {
    struct archive_entry *e;
    int r = archive_read_next_header(in, &e);
    if (r == ARCHIVE_EOF)
      break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      unpack_archive_fail(c, in, err);
      goto out;
    }
    if (n >= max_entries) {
      nc_err_set(err, NC_ERR_TOO_LARGE, "layer blob '%s' has more than the limit of %llu entries",
                 c->blob, (unsigned long long)max_entries);
      goto out;
    }
    if (unpack_entry(c, in, e, err) < 0)
      goto out;
  }
  const void *buf;
  ssize_t got;
  while ((got = stream_pull(s, &buf)) > 0)
    ;
  if (got < 0) {
    *err = s->err;
    goto out;
  }
  ret = 0;
out:
  archive_read_free(in);
  return ret;
}

/* Reads the blob into the open temporary root: entries, directory times, root mode. */
static int unpack_into(const struct image_unpack_opts *o, int root_fd, char digest[NC_DIGEST_SIZE],
                       uint64_t *size, struct nc_err *err)
{
  _cleanup_close_ int fd = open(o->blob_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return nc_err_sys(err, errno, "cannot open layer blob '%s'", o->blob_path);
  struct unpack_stream s = { .opts = o, .err = NC_ERR_INIT };
  s.max_bytes = o->max_bytes ? o->max_bytes : IMAGE_UNPACK_DEFAULT_MAX_BYTES;
  struct unpack_ctx c = { .blob = o->blob_path, .stream_err = &s.err };
  if (nc_sha256_init(&s.sha, err) < 0)
    return -1;
  int r = -1;
  if (unpack_ctx_init(&c, root_fd, o->lower_dirs, err) < 0 || stream_open(&s, fd, err) < 0 ||
      stream_unpack(&c, &s, o->max_entries ? o->max_entries : IMAGE_UNPACK_DEFAULT_MAX_ENTRIES,
                    err) < 0 ||
      unpack_apply_dir_times(&c, err) < 0)
    goto out;
  if (!c.root_meta_set && fchmod(root_fd, 0755) < 0) {
    nc_err_sys(err, errno, "cannot set the mode of the layer directory");
    goto out;
  }
  report_progress(&s);
  *size = s.bytes;
  r = 0;
out:
  if (r == 0)
    nc_sha256_final(&s.sha, digest);
  else
    nc_sha256_abort(&s.sha);
  if (s.outer)
    archive_read_free(s.outer);
  unpack_ctx_free(&c);
  return r;
}

/* "<parent>/.tmp-<base>-<16 hex>": next to dest, so the final rename stays on one file system. */
static int temp_name(const char *dest, char *out, size_t out_size, struct nc_err *err)
{
  const char *slash = strrchr(dest, '/');
  const char *base = slash ? slash + 1 : dest;
  if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
    return nc_err_set(err, NC_ERR_INVALID, "layer directory '%s' is not a valid path", dest);
  unsigned char rnd[8];
  if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
    return nc_err_sys(err, errno, "cannot name a temporary directory for '%s'", dest);
  int n = snprintf(out, out_size, "%.*s.tmp-%s-%02x%02x%02x%02x%02x%02x%02x%02x",
                   slash ? (int)(slash - dest + 1) : 0, dest, base, rnd[0], rnd[1], rnd[2],
                   rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
  if (n < 0 || (size_t)n >= out_size)
    return nc_err_set(err, NC_ERR_INVALID, "layer directory path '%s' is too long", dest);
  return 0;
}

/* Puts the finished `tmp` at `dest`; when dest is there already (a concurrent unpack
   of the same layer won), `tmp` is dropped and the caller's unpack still succeeded. */
static int publish(const char *tmp, const char *dest, bool *lost, struct nc_err *err)
{
  *lost = false;
  if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dest, RENAME_NOREPLACE) < 0) {
    struct stat st;
    if (errno != EEXIST)
      return nc_err_sys(err, errno, "cannot rename '%s' to '%s'", tmp, dest);
    if (lstat(dest, &st) < 0 || !S_ISDIR(st.st_mode))
      return nc_err_set(err, NC_ERR_CONFLICT, "'%s' exists and is not a layer directory", dest);
    *lost = true;
    return 0;
  }
  /* The rename is durable only once the parent's entry is. */
  char parent[PATH_MAX] = ".";
  const char *slash = strrchr(dest, '/');
  if (slash)
    snprintf(parent, sizeof parent, "%.*s", slash == dest ? 1 : (int)(slash - dest), dest);
  _cleanup_close_ int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (pfd < 0 || fsync(pfd) < 0)
    return nc_err_sys(err, errno, "cannot sync directory '%s'", parent);
  return 0;
}

int image_unpack_layer(const struct image_unpack_opts *opts, char diff_id[72], uint64_t *size,
                       struct nc_err *err)
{
  if (!opts || !opts->blob_path || !opts->dest || !*opts->dest)
    return nc_err_set(err, NC_ERR_INVALID, "unpack: blob_path and dest are required");
  if (opts->expected_diff_id && nc_digest_check("expected diff_id", opts->expected_diff_id, err) < 0)
    return -1;
  char tmp[PATH_MAX];
  if (temp_name(opts->dest, tmp, sizeof tmp, err) < 0)
    return -1;
  if (mkdir(tmp, 0700) < 0)
    return nc_err_sys(err, errno, "cannot create directory '%s'", tmp);

  char digest[NC_DIGEST_SIZE];
  uint64_t total = 0;
  bool lost = false;
  int r = -1;
  int root_fd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (root_fd < 0) {
    nc_err_sys(err, errno, "cannot open directory '%s'", tmp);
    goto out;
  }
  if (unpack_into(opts, root_fd, digest, &total, err) < 0)
    goto out;
  if (opts->expected_diff_id && strcmp(digest, opts->expected_diff_id) != 0) {
    nc_err_set(err, NC_ERR_INVALID, "layer %s has diff_id %s, the image says %s", opts->blob_path,
               digest, opts->expected_diff_id);
    goto out;
  }
  /* One sync for the whole layer instead of one per file. */
  if (syncfs(root_fd) < 0) {
    nc_err_sys(err, errno, "cannot sync layer directory '%s'", tmp);
    goto out;
  }
  r = publish(tmp, opts->dest, &lost, err);
out:
  if (root_fd >= 0)
    close(root_fd);
  if (r < 0 || lost) {
    struct nc_err ignored = NC_ERR_INIT;
    if (image_remove_tree(tmp, &ignored) < 0)
      nc_log(NC_LOG_DEBUG, "unpack: leftover '%s': %s", tmp, ignored.msg);
  }
  if (r < 0)
    return -1;
  if (lost)
    nc_log(NC_LOG_DEBUG, "unpack: '%s' appeared meanwhile; this copy discarded", opts->dest);
  memcpy(diff_id, digest, NC_DIGEST_SIZE);
  if (size)
    *size = total;
  return 0;
}

int image_unpack_cleanup(const char *layers_dir, struct nc_err *err)
{
  int fd = open(layers_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT)
    return 0;
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (!d) {
    int e = errno;
    if (fd >= 0)
      close(fd);
    return nc_err_sys(err, e, "cannot list layer directory '%s'", layers_dir);
  }
  int r = 0;
  struct dirent *de;
  while (r == 0 && (de = readdir(d))) {
    if (strncmp(de->d_name, ".tmp-", 5) != 0)
      continue;
    char what[PATH_MAX];
    snprintf(what, sizeof what, "%s/%s", layers_dir, de->d_name);
    nc_log(NC_LOG_DEBUG, "unpack: removing leftover '%s'", what);
    r = unpack_remove_at(fd, de->d_name, what, err);
  }
  closedir(d);
  return r;
}
