/* The layer unpacker on tars built here with libarchive's writer, in a temporary
 * directory: entry types and metadata, whiteouts, lower layers, compression, the
 * diff_id, refused names and escapes, caps, the concurrent winner, clean-up. Needs
 * root (chown, mknod, trusted.* xattrs). */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "image/unpack.h"
#include "tap.h"

static char root[] = "/tmp/nanocl-test-unpack-XXXXXX";
static char layers[256], outside[256];

/* ---- building tars ---- */

struct ent {
  const char *name;
  mode_t type; /* AE_IFREG when 0 */
  mode_t perm;
  int64_t uid, gid;
  time_t mtime;
  const char *data;    /* regular file content */
  size_t size;         /* when data is NULL: that many 'z' bytes */
  const char *link;    /* symlink target */
  const char *hardlink;
  const char *xattr, *xattr_value;
  unsigned major, minor;
};

static char *tar_buf;
static size_t tar_cap = 8u << 20, tar_len;

/* Padded: tar's 10240-byte records, whose tail the tar reader never reads (the
   diff_id must cover it); else ending right after the end-of-archive blocks. */
static struct archive *tar_begin_padded(bool padded)
{
  struct archive *a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_set_bytes_in_last_block(a, padded ? 0 : 1);
  archive_write_open_memory(a, tar_buf, tar_cap, &tar_len);
  return a;
}

static struct archive *tar_begin(void)
{
  return tar_begin_padded(false);
}

static void tar_add(struct archive *a, struct ent e)
{
  struct archive_entry *en = archive_entry_new();
  archive_entry_set_pathname(en, e.name);
  archive_entry_set_filetype(en, e.type ? e.type : AE_IFREG);
  archive_entry_set_perm(en, e.perm ? e.perm : 0644);
  archive_entry_set_uid(en, e.uid);
  archive_entry_set_gid(en, e.gid);
  archive_entry_set_mtime(en, e.mtime ? e.mtime : 1700000000, 0);
  if (e.link)
    archive_entry_set_symlink(en, e.link);
  if (e.hardlink)
    archive_entry_set_hardlink(en, e.hardlink);
  if (e.xattr)
    archive_entry_xattr_add_entry(en, e.xattr, e.xattr_value, strlen(e.xattr_value));
  if (e.type == AE_IFCHR || e.type == AE_IFBLK) {
    archive_entry_set_rdevmajor(en, e.major);
    archive_entry_set_rdevminor(en, e.minor);
  }
  size_t size = 0;
  if ((!e.type || e.type == AE_IFREG) && !e.hardlink)
    size = e.data ? strlen(e.data) : e.size;
  archive_entry_set_size(en, (la_int64_t)size);
  archive_write_header(a, en);
  if (e.data)
    archive_write_data(a, e.data, size);
  else if (size) {
    char *z = malloc(size);
    memset(z, 'z', size);
    archive_write_data(a, z, size);
    free(z);
  }
  archive_entry_free(en);
}

static void tar_end(struct archive *a)
{
  archive_write_close(a);
  archive_write_free(a);
}

/* Writes the tar built last to `path`, compressed with `filter` (ARCHIVE_FILTER_*). */
static void write_blob(const char *name, int filter)
{
  char path[512];
  snprintf(path, sizeof path, "%s/%s", root, name);
  if (filter == ARCHIVE_FILTER_NONE) {
    FILE *f = fopen(path, "wb");
    fwrite(tar_buf, 1, tar_len, f);
    fclose(f);
    return;
  }
  struct archive *a = archive_write_new();
  archive_write_add_filter(a, filter);
  archive_write_set_format_raw(a);
  archive_write_open_filename(a, path);
  struct archive_entry *en = archive_entry_new();
  archive_entry_set_pathname(en, "data");
  archive_entry_set_filetype(en, AE_IFREG);
  archive_entry_set_size(en, (la_int64_t)tar_len);
  archive_write_header(a, en);
  archive_write_data(a, tar_buf, tar_len);
  archive_entry_free(en);
  archive_write_close(a);
  archive_write_free(a);
}

static void tar_digest(char out[72])
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_Digest(tar_buf, tar_len, md, &n, EVP_sha256(), NULL);
  memcpy(out, "sha256:", 7);
  for (unsigned i = 0; i < n; i++)
    snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

/* ---- checking the result ---- */

static char *at(const char *dir, const char *rel)
{
  static char bufs[4][1024];
  static int i;
  char *b = bufs[i++ % 4];
  snprintf(b, sizeof bufs[0], "%s/%s/%s", layers, dir, rel);
  return b;
}

static int lst(const char *path, struct stat *st)
{
  memset(st, 0, sizeof *st);
  return lstat(path, st);
}

static char *slurp(const char *path)
{
  static char b[256];
  memset(b, 0, sizeof b);
  int fd = open(path, O_RDONLY);
  if (fd < 0)
    return NULL;
  ssize_t n = read(fd, b, sizeof b - 1);
  close(fd);
  return n >= 0 ? b : NULL;
}

static char *xattr_of(const char *path, const char *key)
{
  static char v[128];
  memset(v, 0, sizeof v);
  return lgetxattr(path, key, v, sizeof v - 1) >= 0 ? v : NULL;
}

/* Entries of `dir` whose names start with `prefix`. */
static int count_prefixed(const char *dir, const char *prefix)
{
  DIR *d = opendir(dir);
  if (!d)
    return -1;
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)))
    n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
  closedir(d);
  return n;
}

static int unpack(const char *blob, const char *dest, const char *const *lowers,
                  const char *expected, uint64_t max_entries, char diff_id[72], uint64_t *size,
                  struct nc_err *err)
{
  char blob_path[512], dest_path[512];
  snprintf(blob_path, sizeof blob_path, "%s/%s", root, blob);
  snprintf(dest_path, sizeof dest_path, "%s/%s", layers, dest);
  struct image_unpack_opts o = {
    .blob_path = blob_path,
    .dest = dest_path,
    .lower_dirs = lowers,
    .expected_diff_id = expected,
    .max_entries = max_entries,
  };
  nc_err_clear(err);
  int r = image_unpack_layer(&o, diff_id, size, err);
  if (r < 0)
    printf("# unpack %s: %s\n", dest, err->msg);
  return r;
}

static void test_basic(void)
{
  struct archive *a = tar_begin_padded(true);
  tar_add(a, (struct ent){ .name = "etc/", .type = AE_IFDIR, .perm = 0750, .mtime = 1000000 });
  tar_add(a, (struct ent){ .name = "etc/passwd", .data = "root:x:0:0", .perm = 0644 });
  tar_add(a, (struct ent){ .name = "./usr/bin/su", .data = "su", .perm = 04755, .gid = 42 });
  tar_add(a, (struct ent){ .name = "home/u/f", .data = "mine", .perm = 0600, .uid = 1000,
                           .gid = 1001, .mtime = 1234567890 });
  tar_add(a, (struct ent){ .name = "tmp", .type = AE_IFDIR, .perm = 01777 });
  tar_add(a, (struct ent){ .name = "link", .type = AE_IFLNK, .link = "etc/passwd", .uid = 5,
                           .mtime = 1111111111 });
  tar_add(a, (struct ent){ .name = "hard", .hardlink = "etc/passwd" });
  tar_add(a, (struct ent){ .name = "fifo", .type = AE_IFIFO, .perm = 0640 });
  tar_add(a, (struct ent){ .name = "null", .type = AE_IFCHR, .perm = 0666, .major = 1, .minor = 3 });
  tar_add(a, (struct ent){ .name = "x", .data = "x", .xattr = "user.test", .xattr_value = "hello" });
  tar_add(a, (struct ent){ .name = "big", .size = 3u << 20 });
  tar_add(a, (struct ent){ .name = "h\xc3\xa9llo", .data = "utf8" });
  tar_end(a);
  write_blob("l1.tar", ARCHIVE_FILTER_NONE);
  char want[72], got[72] = "";
  tar_digest(want);

  struct nc_err err = NC_ERR_INIT;
  uint64_t size = 0;
  is_int(unpack("l1.tar", "l1", NULL, NULL, 0, got, &size, &err), 0, "a plain tar unpacks");
  is_str(got, want, "diff_id is the sha256 of the tar");
  is_int(size, tar_len, "size is the tar's length");

  struct stat st;
  ok(lst(at("l1", ""), &st) == 0 && (st.st_mode & 07777) == 0755, "layer root is 0755");
  ok(lst(at("l1", "etc"), &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0750,
     "dir mode");
  is_int(st.st_mtime, 1000000, "dir mtime set after its children were written");
  is_str(slurp(at("l1", "etc/passwd")), "root:x:0:0", "file content");
  ok(lst(at("l1", "usr/bin/su"), &st) == 0 && (st.st_mode & 07777) == 04755, "setuid bit kept");
  is_int(st.st_gid, 42, "gid");
  ok(lst(at("l1", "usr/bin"), &st) == 0 && (st.st_mode & 07777) == 0755 && st.st_uid == 0,
     "missing parent made 0755 root");
  ok(lst(at("l1", "home/u/f"), &st) == 0 && st.st_uid == 1000 && st.st_gid == 1001 &&
       (st.st_mode & 07777) == 0600, "owner and mode");
  is_int(st.st_mtime, 1234567890, "file mtime");
  ok(lst(at("l1", "tmp"), &st) == 0 && (st.st_mode & 07777) == 01777, "sticky dir");
  char target[64] = "";
  ok(readlink(at("l1", "link"), target, sizeof target - 1) > 0 && strcmp(target, "etc/passwd") == 0,
     "symlink target");
  ok(lst(at("l1", "link"), &st) == 0 && st.st_uid == 5 && st.st_mtime == 1111111111,
     "symlink owner and mtime");
  struct stat st2;
  ok(lst(at("l1", "hard"), &st) == 0 && lst(at("l1", "etc/passwd"), &st2) == 0 &&
       st.st_ino == st2.st_ino && st.st_nlink == 2, "hard link within the layer");
  ok(lst(at("l1", "fifo"), &st) == 0 && S_ISFIFO(st.st_mode) && (st.st_mode & 07777) == 0640,
     "fifo");
  ok(lst(at("l1", "null"), &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3) &&
       (st.st_mode & 07777) == 0666, "char device 1:3");
  is_str(xattr_of(at("l1", "x"), "user.test"), "hello", "user.* xattr round trip");
  ok(lst(at("l1", "big"), &st) == 0 && st.st_size == (3 << 20), "3 MiB file");
  ok(tar_len % 10240 == 0, "the tar had record padding (%zu bytes)", tar_len);
  is_str(slurp(at("l1", "h\xc3\xa9llo")), "utf8", "UTF-8 name kept byte for byte");
  is_int(count_prefixed(layers, ".tmp-"), 0, "no temporary directory left");
}

static void test_lower(void)
{
  struct archive *a = tar_begin();
  tar_add(a, (struct ent){ .name = "tmp/new", .data = "n" });
  tar_add(a, (struct ent){ .name = "h2", .hardlink = "home/u/f" });
  tar_add(a, (struct ent){ .name = "etc/.wh.passwd" });
  tar_add(a, (struct ent){ .name = "home/.wh..wh..opq" });
  tar_add(a, (struct ent){ .name = "gone/file", .data = "g" });
  tar_add(a, (struct ent){ .name = ".wh.gone" });
  tar_end(a);
  write_blob("l2.tar.gz", ARCHIVE_FILTER_GZIP);
  char want[72], got[72] = "";
  tar_digest(want);

  char l1[512];
  snprintf(l1, sizeof l1, "%s/l1", layers);
  const char *lowers[] = { l1, NULL };
  struct nc_err err = NC_ERR_INIT;
  uint64_t size = 0;
  is_int(unpack("l2.tar.gz", "l2", lowers, want, 0, got, &size, &err), 0,
         "a gzip layer over l1 unpacks, expected diff_id matches");
  is_str(got, want, "diff_id of the uncompressed stream");
  is_int(size, tar_len, "size is the uncompressed length");

  struct stat st;
  ok(lst(at("l2", "tmp"), &st) == 0 && (st.st_mode & 07777) == 01777,
     "missing parent copies the lower's mode (1777)");
  ok(lst(at("l2", "h2"), &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 1000 &&
       st.st_gid == 1001 && (st.st_mode & 07777) == 0600 && st.st_mtime == 1234567890,
     "hard link to a lower file: copied with its metadata");
  is_str(slurp(at("l2", "h2")), "mine", "and its content");
  ok(lst(at("l2", "etc/passwd"), &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == 0,
     "whiteout file becomes char device 0:0");
  ok(lst(at("l2", "etc"), &st) == 0 && (st.st_mode & 07777) == 0750, "its parent copies the lower's");
  is_str(xattr_of(at("l2", "home"), "trusted.overlay.opaque"), "y", "opaque dir marked");
  ok(lst(at("l2", "home/.wh..wh..opq"), &st) < 0, "no marker file left");
  ok(lst(at("l2", "gone"), &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == 0,
     "whiteout replaces a directory of the same layer");

  /* A hard link to nothing anywhere. */
  a = tar_begin();
  tar_add(a, (struct ent){ .name = "h3", .hardlink = "no/such" });
  tar_end(a);
  write_blob("l3.tar", ARCHIVE_FILTER_NONE);
  is_int(unpack("l3.tar", "l3", lowers, NULL, 0, got, &size, &err), -1,
         "hard link to a missing file refused");
  ok(strstr(err.msg, "neither in this layer nor in a layer below") != NULL, "%s", err.msg);
  /* A hard link to a lower file behind a whiteout in a higher lower layer. */
  char l2[512];
  snprintf(l2, sizeof l2, "%s/l2", layers);
  const char *both[] = { l2, l1, NULL };
  a = tar_begin();
  tar_add(a, (struct ent){ .name = "h4", .hardlink = "etc/passwd" });
  tar_end(a);
  write_blob("l4.tar", ARCHIVE_FILTER_NONE);
  is_int(unpack("l4.tar", "l4", both, NULL, 0, got, &size, &err), -1,
         "hard link to a whited-out lower file refused");
  a = tar_begin();
  tar_add(a, (struct ent){ .name = "h5", .hardlink = "home/u/f" });
  tar_end(a);
  write_blob("l5.tar", ARCHIVE_FILTER_NONE);
  is_int(unpack("l5.tar", "l5", both, NULL, 0, got, &size, &err), -1,
         "hard link to a lower file below an opaque dir refused");
  is_int(unpack("l5.tar", "l5", lowers, NULL, 0, got, &size, &err), 0,
         "but found without the opaque layer");
}

static void test_zstd_and_digest(void)
{
  struct archive *a = tar_begin();
  tar_add(a, (struct ent){ .name = "./", .type = AE_IFDIR, .perm = 0711, .mtime = 1500000000 });
  tar_add(a, (struct ent){ .name = "z", .data = "zstd" });
  tar_end(a);
  write_blob("z.tar.zst", ARCHIVE_FILTER_ZSTD);
  char want[72], got[72] = "";
  tar_digest(want);
  struct nc_err err = NC_ERR_INIT;
  uint64_t size = 0;
  is_int(unpack("z.tar.zst", "z", NULL, NULL, 0, got, &size, &err), 0, "zstd layer unpacks");
  is_str(got, want, "zstd diff_id");
  is_str(slurp(at("z", "z")), "zstd", "zstd content");
  struct stat st;
  ok(lst(at("z", ""), &st) == 0 && (st.st_mode & 07777) == 0711 && st.st_mtime == 1500000000,
     "a './' entry gives the root its mode and mtime");

  const char *wrong = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
  is_int(unpack("z.tar.zst", "zbad", NULL, wrong, 0, got, &size, &err), -1,
         "wrong expected diff_id fails");
  is_int(err.kind, NC_ERR_INVALID, "as invalid");
  ok(strstr(err.msg, want) && strstr(err.msg, wrong), "message has both: %s", err.msg);
  ok(lst(at("zbad", ""), &st) < 0, "no dest left");
  is_int(count_prefixed(layers, ".tmp-"), 0, "no temporary directory left");

  /* The concurrent winner: dest is there when this unpack finishes. */
  mkdir(at("zwin", ""), 0755);
  close(open(at("zwin", "winner"), O_CREAT | O_WRONLY, 0644));
  is_int(unpack("z.tar.zst", "zwin", NULL, want, 0, got, &size, &err), 0,
         "dest already there: success");
  is_str(got, want, "with the diff_id");
  ok(lst(at("zwin", "winner"), &st) == 0 && lst(at("zwin", "z"), &st) < 0, "the winner's copy stays");
  is_int(count_prefixed(layers, ".tmp-"), 0, "ours is discarded");

  char path[512];
  snprintf(path, sizeof path, "%s/corrupt.tar.gz", root);
  write_blob("corrupt.tar.gz", ARCHIVE_FILTER_GZIP);
  ok(truncate(path, 40) == 0, "blob truncated");
  is_int(unpack("corrupt.tar.gz", "corrupt", NULL, NULL, 0, got, &size, &err), -1,
         "truncated gzip refused");
  is_int(err.kind, NC_ERR_INVALID, "as invalid");
  is_int(count_prefixed(layers, ".tmp-"), 0, "nothing left");
}

static void refused(const char *what, struct ent e1, struct ent e2, const char *msg)
{
  struct archive *a = tar_begin();
  tar_add(a, e1);
  if (e2.name)
    tar_add(a, e2);
  tar_end(a);
  write_blob("bad.tar", ARCHIVE_FILTER_NONE);
  char got[72];
  uint64_t size;
  struct nc_err err = NC_ERR_INIT;
  is_int(unpack("bad.tar", "bad", NULL, NULL, 0, got, &size, &err), -1, "%s refused", what);
  ok(strstr(err.msg, msg) != NULL, "message: %s", err.msg);
  struct stat st;
  ok(lst(at("bad", ""), &st) < 0 && count_prefixed(layers, ".tmp-") == 0, "nothing left");
}

static void test_refused(void)
{
  refused("'../x'", (struct ent){ .name = "../x", .data = "x" }, (struct ent){ 0 },
          "layer entry '../x' escapes the layer directory");
  refused("'a/../../x'", (struct ent){ .name = "a/../../x", .data = "x" }, (struct ent){ 0 },
          "escapes the layer directory");
  refused("'/abs'", (struct ent){ .name = "/abs", .data = "x" }, (struct ent){ 0 },
          "layer entry '/abs' escapes the layer directory");
  refused("a symlink parent (absolute)",
          (struct ent){ .name = "l", .type = AE_IFLNK, .link = outside },
          (struct ent){ .name = "l/pwned", .data = "x" },
          "layer entry 'l/pwned' goes through the symlink 'l'");
  refused("a symlink parent (relative)",
          (struct ent){ .name = "d/l", .type = AE_IFLNK, .link = "../../../../../../.." },
          (struct ent){ .name = "d/l/tmp/pwned", .type = AE_IFDIR },
          "goes through the symlink 'd/l'");
  refused("a hard link out", (struct ent){ .name = "h", .hardlink = "../../etc/passwd" },
          (struct ent){ 0 }, "escapes the layer directory");
  refused("a bad whiteout", (struct ent){ .name = "a/.wh..." }, (struct ent){ 0 },
          "not a valid whiteout");
  is_int(count_prefixed(outside, ""), 2, "nothing was created outside (only . and ..)");
  struct stat st;
  ok(lstat("/tmp/pwned", &st) < 0, "nor in /tmp");
}

static void test_caps(void)
{
  struct archive *a = tar_begin();
  tar_add(a, (struct ent){ .name = "1", .data = "1" });
  tar_add(a, (struct ent){ .name = "2", .data = "2" });
  tar_add(a, (struct ent){ .name = "3", .data = "3" });
  tar_end(a);
  write_blob("caps.tar", ARCHIVE_FILTER_NONE);
  char got[72];
  uint64_t size;
  struct nc_err err = NC_ERR_INIT;
  is_int(unpack("caps.tar", "caps", NULL, NULL, 2, got, &size, &err), -1, "max_entries");
  is_int(err.kind, NC_ERR_TOO_LARGE, "as too large");
  ok(strstr(err.msg, "limit of 2 entries") != NULL, "names the limit: %s", err.msg);
  is_int(unpack("caps.tar", "caps", NULL, NULL, 3, got, &size, &err), 0, "exactly max_entries is fine");

  char blob[512], dest[512];
  snprintf(blob, sizeof blob, "%s/caps.tar", root);
  snprintf(dest, sizeof dest, "%s/capb", layers);
  struct image_unpack_opts o = { .blob_path = blob, .dest = dest, .max_bytes = 2048 };
  is_int(image_unpack_layer(&o, got, &size, &err), -1, "max_bytes");
  is_int(err.kind, NC_ERR_TOO_LARGE, "as too large");
  ok(strstr(err.msg, "limit of 2048 uncompressed bytes") != NULL, "names the limit: %s", err.msg);
  is_int(count_prefixed(layers, ".tmp-"), 0, "nothing left");
}

static void test_sparse(void)
{
  struct archive *a = tar_begin();
  struct archive_entry *en = archive_entry_new();
  archive_entry_set_pathname(en, "sparse");
  archive_entry_set_filetype(en, AE_IFREG);
  archive_entry_set_perm(en, 0644);
  archive_entry_set_size(en, 64 << 20);
  archive_entry_sparse_add_entry(en, 0, 4);
  archive_entry_sparse_add_entry(en, 32 << 20, 4);
  archive_entry_sparse_add_entry(en, 64 << 20, 0);
  archive_write_header(a, en);
  /* The writer takes the whole content and leaves out what the map calls holes. */
  char *zero = calloc(1, 1 << 20);
  for (int mib = 0; mib < 64; mib++) {
    memcpy(zero, mib == 0 ? "AAAA" : mib == 32 ? "BBBB" : "\0\0\0\0", 4);
    archive_write_data(a, zero, 1 << 20);
  }
  free(zero);
  archive_entry_free(en);
  tar_end(a);
  write_blob("sparse.tar", ARCHIVE_FILTER_NONE);
  char got[72];
  uint64_t size;
  struct nc_err err = NC_ERR_INIT;
  is_int(unpack("sparse.tar", "sparse", NULL, NULL, 0, got, &size, &err), 0, "sparse entry");
  struct stat st;
  ok(lst(at("sparse", "sparse"), &st) == 0 && st.st_size == (64 << 20), "logical size");
  ok(st.st_blocks * 512 < (1 << 20), "holes stay holes (%lld blocks)", (long long)st.st_blocks);
  char b[4] = "";
  int fd = open(at("sparse", "sparse"), O_RDONLY);
  ok(fd >= 0 && pread(fd, b, 4, 32 << 20) == 4 && memcmp(b, "BBBB", 4) == 0, "data at its offset");
  if (fd >= 0)
    close(fd);
}

/* Docker's empty layer: 1024 zero bytes, gzipped, with a well-known diff_id. */
static void test_empty_layer(void)
{
  struct archive *a = tar_begin();
  tar_end(a);
  is_int(tar_len, 1024, "an empty tar is two zero blocks");
  write_blob("empty.tar.gz", ARCHIVE_FILTER_GZIP);
  char got[72];
  uint64_t size = 0;
  struct nc_err err = NC_ERR_INIT;
  is_int(unpack("empty.tar.gz", "empty", NULL,
                "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef", 0, got,
                &size, &err), 0, "the empty layer unpacks with its known diff_id");
  is_int(count_prefixed(at("empty", ""), ""), 2, "into an empty directory");
}

struct racer {
  char diff_id[72];
  int r;
};

static void *race(void *arg)
{
  struct racer *rc = arg;
  struct nc_err err = NC_ERR_INIT;
  uint64_t size;
  rc->r = unpack("l1.tar", "race", NULL, NULL, 0, rc->diff_id, &size, &err);
  return NULL;
}

static void test_concurrent(void)
{
  struct racer rc[4];
  pthread_t t[4];
  for (int i = 0; i < 4; i++)
    pthread_create(&t[i], NULL, race, &rc[i]);
  for (int i = 0; i < 4; i++)
    pthread_join(t[i], NULL);
  int good = 0;
  for (int i = 0; i < 4; i++)
    good += rc[i].r == 0 && strcmp(rc[i].diff_id, rc[0].diff_id) == 0;
  is_int(good, 4, "four concurrent unpacks of one layer all succeed, same diff_id");
  is_str(slurp(at("race", "etc/passwd")), "root:x:0:0", "one of them is in place");
  is_int(count_prefixed(layers, ".tmp-"), 0, "the others are discarded");
}

static void on_progress(void *ctx, uint64_t compressed, uint64_t uncompressed)
{
  uint64_t *calls = ctx;
  calls[0]++;
  calls[1] = compressed;
  calls[2] = uncompressed;
}

static void test_progress(void)
{
  char blob[512], dest[512], got[72];
  snprintf(blob, sizeof blob, "%s/l1.tar", root);
  snprintf(dest, sizeof dest, "%s/prog", layers);
  uint64_t calls[3] = { 0 }, size = 0;
  struct image_unpack_opts o = { .blob_path = blob, .dest = dest, .progress = on_progress,
                                 .progress_ctx = calls };
  struct nc_err err = NC_ERR_INIT;
  is_int(image_unpack_layer(&o, got, &size, &err), 0, "unpack with progress");
  ok(calls[0] >= 3 && calls[0] <= 6, "progress called about once per MiB (%llu)",
     (unsigned long long)calls[0]);
  ok(calls[2] == size && calls[1] == size, "last call reports all bytes");
}

static void mkfile(const char *path)
{
  close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
}

static void test_cleanup_and_remove(void)
{
  char p[1024];
  snprintf(p, sizeof p, "%s/.tmp-l9-0123", layers);
  mkdir(p, 0700);
  snprintf(p, sizeof p, "%s/.tmp-l9-0123/sub", layers);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/.tmp-l9-0123/sub/f", layers);
  mkfile(p);
  snprintf(p, sizeof p, "%s/.tmp-l9-0123/sub", layers);
  chmod(p, 0555);
  struct nc_err err = NC_ERR_INIT;
  is_int(image_unpack_cleanup(layers, &err), 0, "cleanup");
  is_int(count_prefixed(layers, ".tmp-"), 0, "removes .tmp-* leftovers");
  struct stat st;
  ok(lst(at("l1", "etc/passwd"), &st) == 0, "and nothing else");
  snprintf(p, sizeof p, "%s/nope", root);
  is_int(image_unpack_cleanup(p, &err), 0, "a missing layers dir is fine");

  /* A tree with a read-only dir and a symlink to a file outside it. */
  char tree[512], keep[512];
  snprintf(tree, sizeof tree, "%s/tree", root);
  snprintf(keep, sizeof keep, "%s/keep", outside);
  mkfile(keep);
  mkdir(tree, 0755);
  snprintf(p, sizeof p, "%s/ro", tree);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/ro/f", tree);
  mkfile(p);
  snprintf(p, sizeof p, "%s/ro/out", tree);
  ok(symlink(outside, p) == 0, "symlink to outside made");
  snprintf(p, sizeof p, "%s/ro", tree);
  chmod(p, 0500);
  is_int(image_remove_tree(tree, &err), 0, "remove a tree with a read-only dir");
  ok(lstat(tree, &st) < 0, "it is gone");
  ok(lstat(keep, &st) == 0, "the symlink's target is untouched");
  is_int(image_remove_tree(tree, &err), 0, "removing a missing tree is fine");

  /* Deeper than the fds we may hold: one directory fd at a time. */
  mkdir(tree, 0755);
  int fd = open(tree, O_RDONLY | O_DIRECTORY);
  for (int i = 0; i < 1500 && fd >= 0; i++) {
    mkdirat(fd, "d", 0755);
    int next = openat(fd, "d", O_RDONLY | O_DIRECTORY);
    close(fd);
    fd = next;
  }
  if (fd >= 0)
    close(fd);
  struct rlimit old, low = { 64, 64 };
  getrlimit(RLIMIT_NOFILE, &old);
  low.rlim_max = old.rlim_max;
  setrlimit(RLIMIT_NOFILE, &low);
  is_int(image_remove_tree(tree, &err), 0, "remove a 1500-deep tree with 64 fds: %s", err.msg);
  setrlimit(RLIMIT_NOFILE, &old);
  ok(lstat(tree, &st) < 0, "it is gone");
}

int main(void)
{
  if (geteuid() != 0) {
    printf("1..0 # SKIP needs root (chown, mknod, trusted.* xattrs)\n");
    return 0;
  }
  if (!mkdtemp(root) || !(tar_buf = malloc(tar_cap)))
    return 99;
  snprintf(layers, sizeof layers, "%s/layers", root);
  snprintf(outside, sizeof outside, "%s/outside", root);
  mkdir(layers, 0700);
  mkdir(outside, 0755);

  test_basic();
  test_lower();
  test_zstd_and_digest();
  test_refused();
  test_caps();
  test_sparse();
  test_empty_layer();
  test_concurrent();
  test_progress();
  test_cleanup_and_remove();

  struct nc_err err = NC_ERR_INIT;
  if (!getenv("KEEP"))
    is_int(image_remove_tree(root, &err), 0, "test directory removed");
  free(tar_buf);
  return tap_done();
}
